"""Windowed aggregations in the DSL: ``grouped.windowed_by(windows)`` (Kafka's ``TimeWindowedKStreamImpl``,
``SlidingWindowedKStreamImpl``, ``SessionWindowedKStreamImpl`` and their store materializers).

How it works. :meth:`KGroupedStream.windowed_by <kafkalab.streams.dsl.KGroupedStream.windowed_by>` returns a
:class:`TimeWindowedKStream` (for ``TimeWindows`` and ``SlidingWindows``) or a :class:`SessionWindowedKStream`,
whose ``count``/``reduce``/``aggregate`` add the aggregation processor and its store with Kafka's names (the same
``KSTREAM-AGGREGATE-``/``KSTREAM-REDUCE-`` prefixes as an unwindowed aggregation, the store name drawn first), going
through a repartition topic first when the key changed. The store keeps windows for its *retention*: by default
size + grace (time windows), 2 x time difference + grace (sliding), gap + grace (sessions), as Kafka's materializers
set it; a ``retention_ms`` smaller than that is refused with Kafka's message. The result is a windowed
:class:`~kafkalab.streams.dsl.KTable` whose keys are :class:`~kafkalab.streams.windows.Windowed` and whose key serde
is the windowed serde around the grouping's key serde.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.streams import window_processors as wp
from kafkalab.streams.dsl import KGroupedStream, KTable, _check_fn, _opt, _repartition
from kafkalab.streams.serdes import Serde, serde
from kafkalab.streams.topology import StoreDef
from kafkalab.streams.windows import SessionWindows, SlidingWindows, TimeWindows, windowed_serde

__all__ = ["TimeWindowedKStream", "SessionWindowedKStream"]


def _retention(given: Any, minimum: int, store: str, what: str, detail: str) -> int:
    if given is None:
        return minimum
    if isinstance(given, bool) or not isinstance(given, int):
        raise TypeError(f"retention_ms must be an int of milliseconds, got {type(given).__name__} {given!r}")
    if given < minimum:
        raise ValueError(f"The retention period of the {what} store {store} must be no smaller than {detail}, "
                         f"got retention=[{given}] (at least {minimum})")
    return given


class _Windowed:
    def __init__(self, grouped: KGroupedStream) -> None:
        self.grouped = grouped

    def _build(self, prefix: str, materialized: str | None, value_serde: Serde | None,
               make: Callable[[str, KTable], Any], store_def: Callable[[str], StoreDef], session: bool,
               size_ms: int, grace_ms: int) -> KTable:
        g = self.grouped
        b = g.stream.builder
        store = materialized if materialized is not None else b.names.store(prefix)
        name = b.names.processor(prefix)
        parent = g.stream.name
        if g.repartition_required:
            parent = _repartition(b, parent, store, g.key_serde, g.value_serde, None)
        key_serde = windowed_serde(g.key_serde, session=session, size_ms=size_ms)
        table = KTable(b, name, key_serde, value_serde, store_name=store, source_nodes=(parent,))
        table._windowed = True
        table._grace_ms = grace_ms
        sd = store_def(store)
        sd.key_serde, sd.value_serde = g.key_serde, value_serde
        b.topology.add_processor(name, lambda: make(store, table), parent)
        b.topology.add_state_store(sd, name)
        table._materialized = True
        return table


class TimeWindowedKStream(_Windowed):
    """A grouped stream in time or sliding windows (Kafka's ``TimeWindowedKStream``)."""

    def __init__(self, grouped: KGroupedStream, windows: TimeWindows | SlidingWindows) -> None:
        super().__init__(grouped)
        self.windows = windows

    def _agg(self, prefix: str, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any],
             value_serde: Serde | None, materialized: str | None, retention_ms: Any) -> KTable:
        w = self.windows
        if isinstance(w, TimeWindows):
            size = w.size_ms

            def store_def(store: str) -> StoreDef:
                keep = _retention(retention_ms, w.size_ms + w.grace_ms, store, "window",
                                  f"its window size plus the grace period (size=[{w.size_ms}], "
                                  f"grace=[{w.grace_ms}])")
                return StoreDef(store, kind="window", window_size_ms=w.size_ms, retention_ms=keep)

            def make(store: str, table: KTable) -> Any:
                return wp.WindowAggregate(store, w, initializer, aggregator, table._send_old)
        else:
            size = w.time_difference_ms

            def store_def(store: str) -> StoreDef:
                keep = _retention(retention_ms, 2 * w.time_difference_ms + w.grace_ms, store, "window",
                                  f"2 * time difference plus the grace period (time difference="
                                  f"[{w.time_difference_ms}], grace=[{w.grace_ms}])")
                return StoreDef(store, kind="window", window_size_ms=w.time_difference_ms, retention_ms=keep)

            def make(store: str, table: KTable) -> Any:
                return wp.SlidingWindowAggregate(store, w, initializer, aggregator, table._send_old)
        return self._build(prefix, materialized, value_serde, make, store_def, False, size, w.grace_ms)

    def count(self, *, materialized: str | None = None, retention_ms: Any = None) -> KTable:
        """Records per key and window (``long`` values)."""
        return self._agg("KSTREAM-AGGREGATE-", lambda: 0, lambda k, v, a: a + 1, serde("long"), materialized,
                         retention_ms)

    def reduce(self, reducer: Callable[[Any, Any], Any], *, materialized: str | None = None,
               retention_ms: Any = None) -> KTable:
        """``reducer(aggregate, value)`` per key and window; a window's first value is its aggregate."""
        _check_fn(reducer, "reducer", "(aggregate, value)")
        return self._agg("KSTREAM-REDUCE-", lambda: None, lambda k, v, a: v if a is None else reducer(a, v),
                         self.grouped.value_serde, materialized, retention_ms)

    def aggregate(self, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any], *,
                  value_serde: Any = None, materialized: str | None = None, retention_ms: Any = None) -> KTable:
        """``aggregator(key, value, aggregate)`` per key and window, from ``initializer()``."""
        _check_fn(initializer, "initializer", "()")
        _check_fn(aggregator, "aggregator", "(key, value, aggregate)")
        return self._agg("KSTREAM-AGGREGATE-", initializer, aggregator, _opt(value_serde, "value_serde"),
                         materialized, retention_ms)


class SessionWindowedKStream(_Windowed):
    """A grouped stream in session windows (Kafka's ``SessionWindowedKStream``)."""

    def __init__(self, grouped: KGroupedStream, windows: SessionWindows) -> None:
        super().__init__(grouped)
        self.windows = windows

    def _agg(self, prefix: str, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any],
             merger: Callable[[Any, Any, Any], Any], value_serde: Serde | None, materialized: str | None,
             retention_ms: Any) -> KTable:
        w = self.windows

        def store_def(store: str) -> StoreDef:
            keep = _retention(retention_ms, w.inactivity_gap_ms + w.grace_ms, store, "session",
                              f"the session inactivity gap plus the grace period (gap=[{w.inactivity_gap_ms}], "
                              f"grace=[{w.grace_ms}])")
            return StoreDef(store, kind="session", retention_ms=keep)

        def make(store: str, table: KTable) -> Any:
            return wp.SessionWindowAggregate(store, w, initializer, aggregator, merger, table._send_old)
        return self._build(prefix, materialized, value_serde, make, store_def, True, 0,
                           w.grace_ms + w.inactivity_gap_ms)

    def count(self, *, materialized: str | None = None, retention_ms: Any = None) -> KTable:
        """Records per key and session."""
        return self._agg("KSTREAM-AGGREGATE-", lambda: 0, lambda k, v, a: a + 1, lambda k, a, b: a + b,
                         serde("long"), materialized, retention_ms)

    def reduce(self, reducer: Callable[[Any, Any], Any], *, materialized: str | None = None,
               retention_ms: Any = None) -> KTable:
        """``reducer(aggregate, value)`` per session; merged sessions are reduced together."""
        _check_fn(reducer, "reducer", "(aggregate, value)")

        def merge(k: Any, a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else reducer(a, b)
        return self._agg("KSTREAM-REDUCE-", lambda: None, lambda k, v, a: v if a is None else reducer(a, v),
                         merge, self.grouped.value_serde, materialized, retention_ms)

    def aggregate(self, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any],
                  merger: Callable[[Any, Any, Any], Any], *, value_serde: Any = None,
                  materialized: str | None = None, retention_ms: Any = None) -> KTable:
        """``aggregator(key, value, aggregate)`` per session; ``merger(key, agg1, agg2)`` when sessions merge."""
        _check_fn(initializer, "initializer", "()")
        _check_fn(aggregator, "aggregator", "(key, value, aggregate)")
        _check_fn(merger, "merger", "(key, aggregate1, aggregate2)")
        return self._agg("KSTREAM-AGGREGATE-", initializer, aggregator, merger, _opt(value_serde, "value_serde"),
                         materialized, retention_ms)

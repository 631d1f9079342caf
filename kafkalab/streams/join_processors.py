"""The processors of a stream-stream join (Kafka's ``KStreamJoinWindow``, ``KStreamKStreamJoin`` with its
``LeftSide``/``RightSide``, ``KStreamImplJoin.TimeTracker`` and the outer-join store, a ``ListValueStore``).

How it works. Each side's records pass a *windowed* node (:class:`JoinWindowNode`) that forwards the record and then
puts it into that side's window store (retaining duplicates, kept for before + after + grace). The join node of
each side (:class:`StreamStreamJoin`) looks up the *other* side's store for the same key within
``[t - before, t + after]`` (the right side uses the windows mirrored) and emits ``joiner(left, right)`` for every
match, stamped with the later of the two timestamps.

Left and outer joins (KIP-633's spurious-result fix, as Kafka 4 always runs it): a record without a match is not
emitted at once with ``None`` but parked in a shared *outer-join store*, keyed by (timestamp, side, key) in Kafka's
byte order. A later match on the other side deletes it. When a record advances the task's stream time, parked
records whose join window has closed (timestamp + the window on their side + grace < stream time) are emitted as
``joiner(left, None)`` (or ``joiner(None, right)`` for an outer join's right side), oldest first, and deleted; this
happens at most once per ``__emit.interval.ms.kstreams.outer.join.spurious.results.fix__`` of wall-clock time
(Kafka's internal config, 1000 ms by default). Both sides of a task share one :class:`TimeTracker`: stream time,
the oldest parked timestamp and the next emit time.

Records with a null key or value are dropped and counted, except that a left/outer join emits a null-key record
of its outer side at once, joined with ``None``. A record too old for its own window store (beyond retention) is
dropped and counted, as the store's expired-record sensor counts it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.streams.dsl_processors import DroppedCounter
from kafkalab.streams.processor import ProcessorContext, Record
from kafkalab.streams.windows import JoinWindows

__all__ = ["JoinWindowNode", "StreamStreamJoin", "TimeTracker", "EMIT_INTERVAL_CONFIG"]

EMIT_INTERVAL_CONFIG = "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__"
_LONG_MAX = (1 << 63) - 1


def _long(x: int) -> int:
    """Java ``long`` arithmetic: wrap to 64 bits (Kafka's check adds to ``Long.MAX_VALUE`` and relies on it)."""
    return ((x + (1 << 63)) % (1 << 64)) - (1 << 63)


class TimeTracker:
    """The join's shared time of one task (``KStreamImplJoin.TimeTracker``)."""

    def __init__(self, emit_interval_ms: int) -> None:
        self.emit_interval_ms = emit_interval_ms
        self.stream_time = -1
        self.min_time = _LONG_MAX
        self.next_time_to_emit = 0


class JoinWindowNode(DroppedCounter):
    """``KStreamJoinWindow``: forward, then remember the record in this side's window store."""

    def __init__(self, store: str) -> None:
        self.store_name = store

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store: Any = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        self.context.forward(record)
        if record.key is not None and not self.store.put_window(record.key, record.value, record.timestamp,
                                                                 record.timestamp):
            self._drop()            # expired for the store: Kafka's expired-record sensor counts it as dropped


class StreamStreamJoin(DroppedCounter):
    """One side of a windowed stream-stream join. ``joiner(left, right)`` is the user's joiner on both sides."""

    def __init__(self, other_store: str, windows: JoinWindows, joiner: Callable[[Any, Any], Any], *,
                 left_side: bool, outer: bool, outer_store: str | None, tracker_key: str) -> None:
        self.other_store_name, self.windows, self.joiner = other_store, windows, joiner
        self.left_side, self.outer, self.outer_store_name, self.tracker_key = \
            left_side, outer, outer_store, tracker_key
        self.join_before = windows.before_ms if left_side else windows.after_ms
        self.join_after = windows.after_ms if left_side else windows.before_ms

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.other: Any = context.get_state_store(self.other_store_name)
        self.outer_store: Any = None if self.outer_store_name is None else \
            context.get_state_store(self.outer_store_name)
        interval = int(getattr(context, "app_config", lambda k, d: d)(EMIT_INTERVAL_CONFIG, 1000))
        shared = getattr(context, "task_local", None)
        self.tracker: TimeTracker = shared(self.tracker_key, lambda: TimeTracker(interval)) if shared else \
            TimeTracker(interval)

    def _result(self, this: Any, other: Any) -> Any:
        return self.joiner(this, other) if self.left_side else self.joiner(other, this)

    def process(self, record: Record) -> None:
        ts = record.timestamp
        tracker = self.tracker
        tracker.stream_time = max(tracker.stream_time, ts)
        if self.outer and record.key is None and record.value is not None:
            self.context.forward(record.with_value(self._result(record.value, None)))
            return
        if record.key is None or record.value is None:
            self._drop()
            return
        if ts == tracker.stream_time and self.outer_store is not None:
            self._emit_non_joined(record)
        time_from = max(0, ts - self.join_before)
        time_to = max(0, ts + self.join_after)
        matches = self.other.fetch_range(record.key, time_from, time_to)
        for other_ts, other_value in matches:
            if self.outer_store is not None:        # ListValueStore.putIfAbsent(key, null): delete if present
                other_key = (other_ts, not self.left_side, record.key)
                if self.outer_store.get(other_key) is not None:
                    self.outer_store.put(other_key, None, other_ts)
            self.context.forward(Record(record.key, self._result(record.value, other_value), max(ts, other_ts),
                                        record.headers))
        if self.outer and not matches:
            if self.outer_store is None or time_to < tracker.stream_time:
                self.context.forward(record.with_value(self._result(record.value, None)))
            else:
                tracker.min_time = min(tracker.min_time, ts)
                key = (ts, self.left_side, record.key)
                parked = self.outer_store.get(key) or []
                self.outer_store.put(key, [*parked, (self.left_side, record.value)], ts)

    def _window_open(self, ts: int, left: bool) -> bool:
        look = self.windows.after_ms if left else self.windows.before_ms
        return ts + look + self.windows.grace_ms >= self.tracker.stream_time

    def _emit_non_joined(self, record: Record) -> None:
        tracker = self.tracker
        if _long(tracker.min_time + self.join_after + self.windows.grace_ms) >= tracker.stream_time:
            return
        now = self.context.current_system_time_ms()
        if now < tracker.next_time_to_emit:
            return
        tracker.next_time_to_emit = now + tracker.emit_interval_ms
        tracker.min_time = _LONG_MAX
        left_open = right_open = False
        for key, values in list(self.outer_store.all()):
            ts, left, k = key
            tracker.min_time = ts
            if left_open and right_open:
                break
            if self._window_open(ts, left):
                if left:
                    left_open = True
                else:
                    right_open = True
                continue
            for side_left, value in values:
                result = self.joiner(value, None) if side_left else self.joiner(None, value)
                self.context.forward(Record(k, result, ts, record.headers))
            self.outer_store.put(key, None, ts)

    def close(self) -> None:
        drop = getattr(self.context, "task_local_drop", None)
        if drop is not None:
            drop(self.tracker_key)

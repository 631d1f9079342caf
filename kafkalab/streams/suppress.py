"""``KTable.suppress``: hold a table's updates back and emit only the last one per key (Kafka's ``Suppressed``,
``BufferConfig``, ``KTableSuppressProcessorSupplier`` and ``InMemoryTimeOrderedKeyValueChangeBuffer``).

How it works. The suppress processor puts every update into a *buffer*, a logged store keyed by record key: a key
seen again keeps its place (its buffer time) and its prior value, and takes the newest value and record context
(Kafka's non-resetting semantics). The buffer time of a key is the end of its window
(:meth:`Suppressed.until_window_closes`, *final results*) or the record's timestamp
(:meth:`Suppressed.until_time_limit`). After each record the processor advances its observed stream time and emits,
oldest buffer time first, every key whose buffer time is at or before stream time - the suppression duration (the
windows' grace period for final results; the time limit otherwise), as ``Change(new, prior)`` with the timestamp
of the last record of that key. Final results drop tombstones of keys (they were never emitted).

A :class:`BufferConfig` bounds the buffer by records and bytes: when it is over capacity it either emits the oldest
keys early (``emit_early_when_full``, the default of ``max_records``/``max_bytes``) or fails the task
(``shut_down_when_full``, the only strategy ``until_window_closes`` accepts besides ``unbounded``). The buffer's
changelog (``<application.id>-<store>-changelog``) lets a moved task restore what it was holding.

Simplification: a record's buffered size is its serialized key and buffer value plus a fixed 24-byte overhead
(Kafka counts its record context too).
"""
from __future__ import annotations

import heapq
import struct
from dataclasses import dataclass, replace
from typing import Any

from kafkalab.streams.dsl_processors import DroppedCounter
from kafkalab.streams.errors import StreamsException
from kafkalab.streams.processor import Change, ProcessorContext, Record
from kafkalab.streams.serdes import Serde
from kafkalab.streams.state import KeyValueStore, LogWriter
from kafkalab.streams.windows import Windowed, duration_ms

__all__ = ["Suppressed", "BufferConfig", "SuppressBuffer", "SuppressProcessor", "buffer_value_serde"]

_LONG_MAX = (1 << 63) - 1
_HDR = struct.Struct(">qqBI")
_OVERHEAD_BYTES = 24
EMIT, SHUT_DOWN = "emit", "shut_down"


@dataclass(frozen=True, slots=True)
class BufferConfig:
    """How much a suppression may hold (Kafka's ``BufferConfig``): records, bytes, and what to do when full."""

    records_limit: int = _LONG_MAX
    bytes_limit: int = _LONG_MAX
    strategy: str = SHUT_DOWN

    @classmethod
    def unbounded(cls) -> BufferConfig:
        """No limit (memory permitting); a strict config."""
        return cls(_LONG_MAX, _LONG_MAX, SHUT_DOWN)

    @classmethod
    def max_records(cls, records: int) -> BufferConfig:
        """At most ``records`` keys; emits early when full unless told to shut down."""
        return cls(_count(records, "records"), _LONG_MAX, EMIT)

    @classmethod
    def max_bytes(cls, size_bytes: int) -> BufferConfig:
        """At most ``size_bytes`` buffered; emits early when full unless told to shut down."""
        return cls(_LONG_MAX, _count(size_bytes, "size_bytes"), EMIT)

    def with_max_records(self, records: int) -> BufferConfig:
        return replace(self, records_limit=_count(records, "records"))

    def with_max_bytes(self, size_bytes: int) -> BufferConfig:
        return replace(self, bytes_limit=_count(size_bytes, "size_bytes"))

    def emit_early_when_full(self) -> BufferConfig:
        """When full, emit the oldest keys before their time (results may not be final)."""
        return replace(self, strategy=EMIT)

    def shut_down_when_full(self) -> BufferConfig:
        """When full, fail the task (results stay final)."""
        return replace(self, strategy=SHUT_DOWN)


def _count(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be an int >= 0, got {n!r}")
    return n


@dataclass(frozen=True, slots=True)
class Suppressed:
    """What to suppress (Kafka's ``Suppressed``): build with :meth:`until_window_closes` or
    :meth:`until_time_limit`; ``name`` names the processor (and ``<name>-store`` its buffer)."""

    final_results: bool
    time_limit_ms: int
    buffer: BufferConfig
    name: str | None = None

    @classmethod
    def until_window_closes(cls, buffer: BufferConfig | None = None) -> Suppressed:
        """Only each window's final result, once stream time passes its end plus grace."""
        config = BufferConfig.unbounded() if buffer is None else buffer
        if not isinstance(config, BufferConfig):
            raise TypeError(f"buffer must be a BufferConfig, got {type(buffer).__name__}")
        if config.strategy != SHUT_DOWN:
            raise ValueError("until_window_closes needs a strict buffer config: BufferConfig.unbounded() or "
                             "a bounded one with .shut_down_when_full() (emitting early would not be final)")
        return cls(True, 0, config)

    @classmethod
    def until_time_limit(cls, time_limit: Any, buffer: BufferConfig | None = None) -> Suppressed:
        """Each key's latest update, ``time_limit`` of stream time after the key was first buffered."""
        config = BufferConfig.unbounded() if buffer is None else buffer
        if not isinstance(config, BufferConfig):
            raise TypeError(f"buffer must be a BufferConfig, got {type(buffer).__name__}")
        return cls(False, duration_ms(time_limit, "time_limit"), config)

    def with_name(self, name: str) -> Suppressed:
        return replace(self, name=name)


def buffer_value_serde(value_serde: Serde) -> Serde:
    """A buffered entry ``(buffer_time, new, prior, record_timestamp)``: two longs, flags, the new value's length,
    the new value, the prior value."""
    def to_bytes(entry: Any) -> bytes:
        time, new, prior, ts = entry
        nb, pb = value_serde.serialize(new), value_serde.serialize(prior)
        flags = (1 if nb is not None else 0) | (2 if pb is not None else 0)
        return _HDR.pack(time, ts, flags, len(nb or b"")) + (nb or b"") + (pb or b"")

    def from_bytes(b: bytes) -> Any:
        time, ts, flags, n = _HDR.unpack_from(b, 0)
        body = b[_HDR.size:]
        new = value_serde.deserialize(body[:n]) if flags & 1 else None
        prior = value_serde.deserialize(body[n:]) if flags & 2 else None
        return time, new, prior, ts
    return Serde(f"suppress-buffer({value_serde.name})", to_bytes, from_bytes)


class SuppressBuffer(KeyValueStore):
    """The time-ordered buffer of one task's suppression (a logged store, never cached)."""

    def __init__(self, name: str, key_serde: Serde, value_serde: Serde, *, log: LogWriter | None = None) -> None:
        super().__init__(name, key_serde, buffer_value_serde(value_serde), log=log, cache=None)
        self._heap: list[tuple[int, bytes, Any]] = []
        self.size_bytes = 0

    def _size(self, key: Any, entry: Any) -> int:
        return _OVERHEAD_BYTES + len(self.key_serde.serialize(key) or b"") + len(self.value_serde.serialize(entry)
                                                                                  or b"")

    def buffer(self, key: Any, time: int, change: Change, timestamp: int) -> None:
        """Buffer ``change`` of ``key`` (a key already buffered keeps its time and prior value)."""
        existing = self.get(key)
        if existing is not None:
            entry = (existing[0], change.new, existing[2], timestamp)
            self.size_bytes -= self._size(key, existing)
        else:
            entry = (time, change.new, change.old, timestamp)
            heapq.heappush(self._heap, (time, self.key_serde.serialize(key) or b"", key))
        self.size_bytes += self._size(key, entry)
        self.put(key, entry, timestamp)

    def min_time(self) -> int:
        """The oldest buffer time (``Long.MAX_VALUE`` when empty)."""
        heap = self._heap
        while heap:
            time, _kb, key = heap[0]
            entry = self.get(key)
            if entry is not None and entry[0] == time:
                return time
            heapq.heappop(heap)
        return _LONG_MAX

    def evict_oldest(self) -> tuple[Any, Any]:
        """Remove and return the (key, entry) with the oldest buffer time."""
        self.min_time()
        _time, _kb, key = heapq.heappop(self._heap)
        entry = self.get(key)
        self.size_bytes -= self._size(key, entry)
        self.put(key, None, entry[3])
        return key, entry

    def num_records(self) -> int:
        return len(self._data)

    def _rebuild(self) -> None:
        self._heap = [(e[0], self.key_serde.serialize(k) or b"", k) for k, e in self._data.items()]
        heapq.heapify(self._heap)
        self.size_bytes = sum(self._size(k, e) for k, e in self._data.items())

    def load(self, data: dict[Any, Any]) -> None:
        super().load(data)
        self._rebuild()

    def restore(self, key_bytes: bytes | None, value_bytes: bytes | None) -> None:
        super().restore(key_bytes, value_bytes)
        self._rebuild()


class SuppressProcessor(DroppedCounter):
    """``KTableSuppressProcessor``: buffer, then emit what the suppression lets through."""

    def __init__(self, store: str, suppressed: Suppressed, grace_ms: int) -> None:
        self.store_name, self.suppressed = store, suppressed
        self.duration_ms = grace_ms if suppressed.final_results else suppressed.time_limit_ms
        self.observed_stream_time = -1

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.buffer: SuppressBuffer = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        self.observed_stream_time = max(self.observed_stream_time, record.timestamp)
        if self.suppressed.final_results:
            key = record.key
            if not isinstance(key, Windowed):
                raise StreamsException(f"suppress(until_window_closes) got a key that is not Windowed: {key!r}")
            time = key.window.end
        else:
            time = record.timestamp
        self.buffer.buffer(record.key, time, record.value, record.timestamp)
        self._enforce()

    def _enforce(self) -> None:
        expiry = self.observed_stream_time - self.duration_ms
        buf = self.buffer
        while buf.num_records() and buf.min_time() <= expiry:
            self._emit(*buf.evict_oldest())
        cfg = self.suppressed.buffer
        if buf.num_records() > cfg.records_limit or buf.size_bytes > cfg.bytes_limit:
            if cfg.strategy == EMIT:
                while buf.num_records() and (buf.num_records() > cfg.records_limit
                                             or buf.size_bytes > cfg.bytes_limit):
                    self._emit(*buf.evict_oldest())
                return
            node = getattr(getattr(self.context, "_node", None), "name", "suppress")
            raise StreamsException(f"{node} buffer exceeded its max capacity. Currently [{buf.num_records()}/"
                                   f"{cfg.records_limit}] records and [{buf.size_bytes}/{cfg.bytes_limit}] bytes.")

    def _emit(self, key: Any, entry: Any) -> None:
        _time, new, prior, ts = entry
        if new is None and self.suppressed.final_results:
            return          # safe to drop: a final result that is a deletion was never emitted
        self.context.forward(Record(key, Change(new, prior), ts))

"""Window and session stores (Kafka's ``InMemoryWindowStore``, ``InMemorySessionStore``, with
``ChangeLoggingWindowBytesStore``/``ChangeLoggingSessionBytesStore`` and the caching layers in front of them).

How it works. Both are :class:`~kafkalab.streams.state.KeyValueStore` s over a composite key, so they share its
record cache, changelog writer, restoration and checkpoints:

- a :class:`WindowStore` keys ``(key, window_start, seqnum)``, serialized as Kafka's ``WindowKeySchema`` store key
  (key bytes, 8-byte start, 4-byte sequence number: the number is 0 unless the store *retains duplicates*, as the
  stores of a stream-stream join do, where every put gets a new one). A *timestamped* window store (the DSL's
  aggregations) keeps ``(value, timestamp)`` and writes it as ``ValueAndTimestampSerializer`` does (8-byte timestamp,
  then the value), because sliding windows and output timestamps need each window's largest record timestamp.
- a :class:`SessionStore` keys ``(key, start, end)``, serialized as ``SessionKeySchema`` (key bytes, 8-byte end,
  8-byte start).

Retention as in the in-memory stores: the store tracks its *observed stream time* (the largest window start put, or
session end); a put at or before ``observed - retention`` is skipped and counted (``expired``), and entries that old
are dropped from the store (not from the changelog: its ``retention.ms`` is the store's retention plus
``windowstore.changelog.additional.retention.ms``, with ``cleanup.policy=compact,delete``). Fetches iterate a per-key
index in time order.

:func:`make_store` builds the store a :class:`~kafkalab.streams.topology.StoreDef` describes (key-value, window or
session), for active tasks and standbys alike.
"""
from __future__ import annotations

import heapq
import struct
from collections.abc import Iterator
from typing import Any

from kafkalab.streams.serdes import Serde
from kafkalab.streams.state import KeyValueStore, LogWriter, ThreadCache
from kafkalab.streams.windows import Window, Windowed

__all__ = ["WindowStore", "SessionStore", "ReadOnlyWindowStore", "ReadOnlySessionStore", "make_store",
           "read_only_store"]

_TS = struct.Struct(">q")
_SEQ = struct.Struct(">i")


def _window_key_serde(inner: Serde) -> Serde:
    def to_bytes(ck: Any) -> bytes:
        return (inner.serialize(ck[0]) or b"") + _TS.pack(ck[1]) + _SEQ.pack(ck[2])

    def from_bytes(b: bytes) -> Any:
        return inner.deserialize(b[:-12]), _TS.unpack_from(b, len(b) - 12)[0], _SEQ.unpack_from(b, len(b) - 4)[0]
    return Serde(f"window-key({inner.name})", to_bytes, from_bytes)


def _session_key_serde(inner: Serde) -> Serde:
    def to_bytes(ck: Any) -> bytes:
        return (inner.serialize(ck[0]) or b"") + _TS.pack(ck[2]) + _TS.pack(ck[1])

    def from_bytes(b: bytes) -> Any:
        end, start = _TS.unpack_from(b, len(b) - 16)[0], _TS.unpack_from(b, len(b) - 8)[0]
        return inner.deserialize(b[:-16]), start, end
    return Serde(f"session-key({inner.name})", to_bytes, from_bytes)


def _timestamped_serde(inner: Serde) -> Serde:
    def to_bytes(vt: Any) -> bytes:
        return _TS.pack(vt[1]) + (inner.serialize(vt[0]) or b"")

    def from_bytes(b: bytes) -> Any:
        return inner.deserialize(b[8:]), _TS.unpack_from(b, 0)[0]
    return Serde(f"timestamped({inner.name})", to_bytes, from_bytes)


class _TimeIndexedStore(KeyValueStore):
    """A key-value store of composite keys ``(key, a, b)`` with a per-key index and time-based expiry."""

    def __init__(self, name: str, key_serde: Serde, value_serde: Serde, retention_ms: int, *,
                 log: LogWriter | None, cache: ThreadCache | None) -> None:
        super().__init__(name, key_serde, value_serde, log=log, cache=cache)
        self.retention_ms = int(retention_ms)
        self.observed_stream_time = -1
        self.expired = 0
        self._index: dict[Any, dict[tuple[int, int], None]] = {}
        self._heap: list[tuple[int, int, tuple[int, int], Any]] = []     # (time, tiebreak, index key, key)
        self._tiebreak = 0

    @staticmethod
    def _time_of(ck: Any) -> int:
        raise NotImplementedError

    def _cutoff(self) -> int:
        return self.observed_stream_time - self.retention_ms

    def _index_put(self, ck: Any, live: bool) -> None:
        key, rest = ck[0], (ck[1], ck[2])
        if live:
            entries = self._index.setdefault(key, {})
            if rest in entries:
                return
            entries[rest] = None
            self._tiebreak += 1
            heapq.heappush(self._heap, (self._time_of(ck), self._tiebreak, rest, key))
        else:
            found = self._index.get(key)
            if found is not None:
                found.pop(rest, None)
                if not found:
                    del self._index[key]

    def _rebuild_index(self) -> None:
        self._index, self._heap = {}, []
        for ck in self._merged():
            self._index_put(ck, True)

    def _advance(self, time: int) -> None:
        if time > self.observed_stream_time:
            self.observed_stream_time = time
            self._expire()

    def _expire(self) -> None:
        """Drop what is past retention from the store (dirty cache entries stay: they are still flushed, and
        forwarded, at the next commit, as Kafka's caching layer forwards them)."""
        cutoff = self._cutoff()
        heap = self._heap
        while heap and heap[0][0] <= cutoff:
            _t, _n, rest, key = heapq.heappop(heap)
            ck = (key, *rest)
            entries = self._index.get(key)
            if entries is not None and rest in entries:
                del entries[rest]
                if not entries:
                    del self._index[key]
            self._data.pop(ck, None)

    def _write(self, key: Any, value: Any, timestamp: int) -> None:
        if self._time_of(key) <= self._cutoff():      # expired in the store: only the changelog sees the write
            self._data.pop(key, None)
            if self._log is not None:
                self._log(key, value, timestamp)
            return
        super()._write(key, value, timestamp)

    def _indexed(self, key: Any) -> list[tuple[int, int]]:
        return sorted(self._index.get(key, ()))

    def drop_cache(self) -> None:
        super().drop_cache()
        self._rebuild_index()

    def load(self, data: dict[Any, Any]) -> None:
        super().load(data)
        if data:
            self.observed_stream_time = max(self.observed_stream_time, max(self._time_of(ck) for ck in data))
        self._rebuild_index()
        self._expire()

    def restore(self, key_bytes: bytes | None, value_bytes: bytes | None) -> None:
        if key_bytes is None:
            return
        ck = self.key_serde.deserialize(key_bytes)
        super().restore(key_bytes, value_bytes)
        self._index_put(ck, value_bytes is not None)
        self._advance(self._time_of(ck))


class WindowStore(_TimeIndexedStore):
    """One task's window store: values per (key, window start); ``put_window``, ``fetch``, ``fetch_range``."""

    def __init__(self, name: str, key_serde: Serde, value_serde: Serde, *, window_size_ms: int, retention_ms: int,
                 retain_duplicates: bool = False, timestamped: bool = True, log: LogWriter | None = None,
                 cache: ThreadCache | None = None) -> None:
        super().__init__(name, _window_key_serde(key_serde),
                         _timestamped_serde(value_serde) if timestamped else value_serde, retention_ms,
                         log=log, cache=cache)
        self.inner_key_serde, self.inner_value_serde = key_serde, value_serde
        self.window_size_ms = int(window_size_ms)
        self.retain_duplicates = retain_duplicates
        self.timestamped = timestamped
        self._seq = 0

    @staticmethod
    def _time_of(ck: Any) -> int:
        return int(ck[1])

    def put_window(self, key: Any, value: Any, window_start: int, timestamp: int) -> bool:
        """Store ``value`` (``(value, timestamp)`` when timestamped) for the window of ``key`` starting at
        ``window_start``; False when that window has already expired (the put is skipped, as Kafka skips it)."""
        self._advance(int(window_start))
        if window_start <= self._cutoff():
            self.expired += 1
            return False
        if self.retain_duplicates:
            if value is None:
                return False
            self._seq = (self._seq + 1) & 0x7FFFFFFF
        ck = (key, int(window_start), self._seq if self.retain_duplicates else 0)
        self.put(ck, value, timestamp)
        self._index_put(ck, value is not None)
        return True

    def fetch(self, key: Any, window_start: int) -> Any:
        """The stored value of one window (None when absent or expired)."""
        if window_start <= self._cutoff():
            return None
        return self.get((key, int(window_start), 0))

    def fetch_range(self, key: Any, time_from: int, time_to: int) -> list[tuple[int, Any]]:
        """(window start, stored value) of ``key`` with ``time_from <= start <= time_to``, in time order (and in
        put order for duplicates)."""
        lo = max(time_from, self._cutoff() + 1)
        out = []
        for start, seq in self._indexed(key):
            if lo <= start <= time_to:
                value = self.get((key, start, seq))
                if value is not None:
                    out.append((start, value))
        return out

    def windowed(self, ck: Any) -> Windowed:
        """The :class:`Windowed` key of a composite store key."""
        return Windowed(ck[0], Window(ck[1], ck[1] + self.window_size_ms))

    def windows(self) -> Iterator[tuple[Windowed, Any]]:
        """Every (Windowed key, value), values without their timestamps."""
        for ck, v in self.all():
            yield self.windowed(ck), (v[0] if self.timestamped else v)


class SessionStore(_TimeIndexedStore):
    """One task's session store: aggregates per (key, session start, session end)."""

    def __init__(self, name: str, key_serde: Serde, value_serde: Serde, *, retention_ms: int,
                 log: LogWriter | None = None, cache: ThreadCache | None = None) -> None:
        super().__init__(name, _session_key_serde(key_serde), value_serde, retention_ms, log=log, cache=cache)
        self.inner_key_serde, self.inner_value_serde = key_serde, value_serde

    @staticmethod
    def _time_of(ck: Any) -> int:
        return int(ck[2])

    def put_session(self, key: Any, window: Window, value: Any, timestamp: int) -> bool:
        """Store (``value=None``: remove) the session ``window`` of ``key``; False when it has expired."""
        self._advance(window.end)
        if window.end <= self._cutoff():
            self.expired += 1
            return False
        ck = (key, window.start, window.end)
        self.put(ck, value, timestamp)
        self._index_put(ck, value is not None)
        return True

    def find_sessions(self, key: Any, earliest_end: int, latest_start: int) -> list[tuple[Window, Any]]:
        """Sessions of ``key`` that end at or after ``earliest_end`` and start at or before ``latest_start``,
        ordered by end then start (Kafka's ``findSessions``)."""
        out = []
        for start, end in sorted(self._index.get(key, ()), key=lambda se: (se[1], se[0])):
            if end >= earliest_end and start <= latest_start and end > self._cutoff():
                value = self.get((key, start, end))
                if value is not None:
                    out.append((Window(start, end), value))
        return out

    def fetch_session(self, key: Any, window: Window) -> Any:
        return self.get((key, window.start, window.end))

    def windowed(self, ck: Any) -> Windowed:
        return Windowed(ck[0], Window(ck[1], ck[2]))

    def windows(self) -> Iterator[tuple[Windowed, Any]]:
        for ck, v in self.all():
            yield self.windowed(ck), v


class ReadOnlyWindowStore:
    """An interactive query over every local part of a window store (Kafka's ``ReadOnlyWindowStore``)."""

    def __init__(self, name: str, parts: list[WindowStore]) -> None:
        self.name, self._parts = name, parts

    def fetch(self, key: Any, time_from: int, time_to: int) -> list[tuple[int, Any]]:
        """(window start, value) of ``key`` for windows starting in ``[time_from, time_to]``."""
        for part in self._parts:
            found = part.fetch_range(key, time_from, time_to)
            if found:
                return [(s, v[0] if part.timestamped else v) for s, v in found]
        return []

    def all(self) -> list[tuple[Windowed, Any]]:
        out = [kv for part in self._parts for kv in part.windows()]
        out.sort(key=lambda kv: (kv[0].window.start, str(kv[0].key)))
        return out

    def to_dict(self) -> dict[Windowed, Any]:
        return dict(self.all())

    def approximate_num_entries(self) -> int:
        return sum(p.approximate_num_entries() for p in self._parts)

    def __repr__(self) -> str:
        return f"ReadOnlyWindowStore({self.name!r}, {len(self._parts)} partitions)"


class ReadOnlySessionStore:
    """An interactive query over every local part of a session store (Kafka's ``ReadOnlySessionStore``)."""

    def __init__(self, name: str, parts: list[SessionStore]) -> None:
        self.name, self._parts = name, parts

    def fetch(self, key: Any) -> list[tuple[Windowed, Any]]:
        """Every session of ``key``, by end time."""
        for part in self._parts:
            found = part.find_sessions(key, 0, 1 << 62)
            if found:
                return [(Windowed(key, w), v) for w, v in found]
        return []

    def all(self) -> list[tuple[Windowed, Any]]:
        out = [kv for part in self._parts for kv in part.windows()]
        out.sort(key=lambda kv: (kv[0].window.end, kv[0].window.start, str(kv[0].key)))
        return out

    def to_dict(self) -> dict[Windowed, Any]:
        return dict(self.all())

    def approximate_num_entries(self) -> int:
        return sum(p.approximate_num_entries() for p in self._parts)

    def __repr__(self) -> str:
        return f"ReadOnlySessionStore({self.name!r}, {len(self._parts)} partitions)"


def _outer_key_serde(inner: Serde) -> Serde:
    """``TimestampedKeyAndJoinSideSerializer``: 8-byte timestamp, a side byte (1 = left), the key."""
    def to_bytes(k: Any) -> bytes:
        return _TS.pack(k[0]) + (b"\x01" if k[1] else b"\x00") + (inner.serialize(k[2]) or b"")

    def from_bytes(b: bytes) -> Any:
        return _TS.unpack_from(b, 0)[0], b[8] == 1, inner.deserialize(b[9:])
    return Serde(f"timestamped-key-and-join-side({inner.name})", to_bytes, from_bytes)


def _left_or_right_list_serde(left: Serde, right: Serde) -> Serde:
    """A ``ListValueStore`` value of ``LeftOrRightValue`` s: per entry a 4-byte length, a side byte, the value."""
    def to_bytes(entries: Any) -> bytes:
        out = []
        for is_left, v in entries:
            body = (b"\x01" if is_left else b"\x00") + ((left if is_left else right).serialize(v) or b"")
            out.append(_SEQ.pack(len(body)) + body)
        return b"".join(out)

    def from_bytes(b: bytes) -> Any:
        entries, i = [], 0
        while i < len(b):
            n = _SEQ.unpack_from(b, i)[0]
            body = b[i + 4:i + 4 + n]
            is_left = body[0] == 1
            entries.append((is_left, (left if is_left else right).deserialize(body[1:])))
            i += 4 + n
        return entries
    return Serde(f"left-or-right-list({left.name},{right.name})", to_bytes, from_bytes)


def make_store(defn: Any, key_serde: Serde, value_serde: Serde, *, log: LogWriter | None = None,
               cache: ThreadCache | None = None, default_value_serde: Serde | None = None) -> KeyValueStore:
    """The store a :class:`~kafkalab.streams.topology.StoreDef` describes (``default_value_serde``: for the other
    side of an outer-join store when it has none)."""
    use_cache = cache if defn.cached else None
    if defn.kind == "suppress":
        from kafkalab.streams.suppress import SuppressBuffer
        return SuppressBuffer(defn.name, key_serde, value_serde, log=log)
    if defn.kind == "outer-join":
        other = defn.other_value_serde or default_value_serde
        if other is None:
            raise TypeError(f"store {defn.name}: no value serde for the join's other side; set "
                            f"'default.value.serde'")
        return KeyValueStore(defn.name, _outer_key_serde(key_serde), _left_or_right_list_serde(value_serde, other),
                             log=log, cache=None)
    if defn.kind == "window":
        return WindowStore(defn.name, key_serde, value_serde, window_size_ms=defn.window_size_ms,
                           retention_ms=defn.retention_ms, retain_duplicates=defn.retain_duplicates,
                           timestamped=defn.timestamped, log=log, cache=use_cache)
    if defn.kind == "session":
        return SessionStore(defn.name, key_serde, value_serde, retention_ms=defn.retention_ms, log=log,
                            cache=use_cache)
    return KeyValueStore(defn.name, key_serde, value_serde, log=log, cache=use_cache)


def read_only_store(name: str, kind: str, parts: list[Any]) -> Any:
    """The interactive-query view of a store's local parts, by kind."""
    from kafkalab.streams.state import ReadOnlyKeyValueStore
    if kind == "window":
        return ReadOnlyWindowStore(name, parts)
    if kind == "session":
        return ReadOnlySessionStore(name, parts)
    return ReadOnlyKeyValueStore(name, parts)


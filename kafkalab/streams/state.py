"""State stores: key-value stores with a changelog and a record cache (Kafka's ``InMemoryKeyValueStore``,
``ChangeLoggingKeyValueBytesStore``, ``CachingKeyValueStore`` and ``ThreadCache``).

How it works. A :class:`KeyValueStore` holds one task's part of a store (the keys of one input partition) as Python
objects; iteration (``all``, ``range``) is in the order of the serialized keys, as Kafka's byte-ordered stores
iterate. When the store is *logged*, every write also goes to the task's changelog writer (``log(key, value,
timestamp)``), which sends it to partition ``p`` of ``<application.id>-<store>-changelog``; restoring replays that
topic into an empty store with :meth:`KeyValueStore.restore` (no logging). A *cached* store (the DSL's default,
``statestore.cache.max.bytes`` > 0) keeps dirty entries in a :class:`ThreadCache` budget shared by every store of the
stream thread: reads see the cache first, writes of one key fold together, and only on ``flush`` (at commit, or
when the thread's cache is over budget and evicts a store's oldest dirty entries) do they reach the store, the
changelog and the ``flush_listener``, which forwards ``Change(new, old)`` downstream. That is why, with the cache on,
a count's output shows one update per key per commit interval instead of one per input record.

Simplifications: sizes are the serialized key and value lengths plus a fixed 64-byte entry overhead; eviction flushes
the evicting store's oldest dirty entries (Kafka evicts per named cache in LRU order). Window and session stores
(:mod:`kafkalab.streams.window_state`) are key-value stores of composite keys on top of this one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kafkalab.streams.serdes import Serde

__all__ = ["KeyValueStore", "ThreadCache", "ReadOnlyKeyValueStore"]

_ENTRY_OVERHEAD_BYTES = 64
LogWriter = Callable[[Any, Any, int], None]
FlushListener = Callable[[Any, Any, Any, int], None]


class ThreadCache:
    """The record-cache budget of one stream thread (``statestore.cache.max.bytes`` / threads)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self.evictions = 0


class KeyValueStore:
    """One task's key-value store. ``get``/``put``/``delete``/``put_if_absent``/``all``/``range``."""

    def __init__(self, name: str, key_serde: Serde, value_serde: Serde, *, log: LogWriter | None = None,
                 cache: ThreadCache | None = None) -> None:
        self.name = name
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._data: dict[Any, Any] = {}
        self._log = log
        self.cache = cache if cache is not None and cache.max_bytes > 0 else None
        self._dirty: dict[Any, tuple[Any, Any, int, int]] = {}     # key -> (new, old, timestamp, size)
        self.flush_listener: FlushListener | None = None
        self.writes = 0
        self.open = True

    # -- reads ------------------------------------------------------------------------------------------------------
    def get(self, key: Any) -> Any:
        """The value of ``key`` (None when absent)."""
        if self._dirty:
            entry = self._dirty.get(key)
            if entry is not None:
                return entry[0]
        return self._data.get(key)

    def _merged(self) -> dict[Any, Any]:
        if not self._dirty:
            return self._data
        merged = dict(self._data)
        for k, (new, _old, _ts, _size) in self._dirty.items():
            if new is None:
                merged.pop(k, None)
            else:
                merged[k] = new
        return merged

    def all(self) -> Iterator[tuple[Any, Any]]:
        """Every (key, value), in the order of the serialized keys."""
        merged = self._merged()
        ser = self.key_serde.serialize
        for k in sorted(merged, key=lambda k: ser(k) or b""):
            yield k, merged[k]

    def range(self, lo: Any, hi: Any) -> Iterator[tuple[Any, Any]]:
        """(key, value) with ``lo <= key <= hi`` by serialized key (Kafka's inclusive ``range``)."""
        ser = self.key_serde.serialize
        lo_b, hi_b = ser(lo) or b"", ser(hi) or b""
        for k, v in self.all():
            kb = ser(k) or b""
            if lo_b <= kb <= hi_b:
                yield k, v

    def prefix_scan(self, prefix: bytes) -> Iterator[tuple[Any, Any]]:
        """(key, value) whose serialized key starts with ``prefix``, in serialized-key order (Kafka's
        ``prefixScan``): only the matches are sorted."""
        merged = self._merged()
        ser = self.key_serde.serialize
        hits = [(kb, k) for k in merged if (kb := ser(k) or b"").startswith(prefix)]
        hits.sort(key=lambda h: h[0])
        for _kb, k in hits:
            yield k, merged[k]

    def approximate_num_entries(self) -> int:
        return len(self._merged())

    # -- writes -----------------------------------------------------------------------------------------------------
    def put(self, key: Any, value: Any, timestamp: int = 0) -> None:
        """Write ``key`` (``value=None`` deletes it)."""
        if key is None:
            raise ValueError(f"store {self.name!r}: a key must not be None")
        self.writes += 1
        if self.cache is not None:
            self._cache_put(key, value, timestamp)
            return
        old = self._data.get(key)
        self._write(key, value, timestamp)
        if self.flush_listener is not None:
            self.flush_listener(key, value, old, timestamp)

    def put_if_absent(self, key: Any, value: Any, timestamp: int = 0) -> Any:
        current = self.get(key)
        if current is None:
            self.put(key, value, timestamp)
        return current

    def delete(self, key: Any, timestamp: int = 0) -> Any:
        old = self.get(key)
        self.put(key, None, timestamp)
        return old

    def _write(self, key: Any, value: Any, timestamp: int) -> None:
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
        if self._log is not None:
            self._log(key, value, timestamp)

    # -- the cache ----------------------------------------------------------------------------------------------------
    def _cache_put(self, key: Any, value: Any, timestamp: int) -> None:
        cache = self.cache
        assert cache is not None
        entry = self._dirty.pop(key, None)
        if entry is not None:
            old = entry[1]
            cache.size_bytes -= entry[3]
        else:
            old = self._data.get(key)
        size = _ENTRY_OVERHEAD_BYTES + len(self.key_serde.serialize(key) or b"") + \
            (0 if value is None else len(self.value_serde.serialize(value) or b""))
        self._dirty[key] = (value, old, timestamp, size)        # re-inserted: the newest entry is last
        cache.size_bytes += size
        while cache.size_bytes > cache.max_bytes and self._dirty:
            cache.evictions += 1
            self._flush_one(next(iter(self._dirty)))

    def _flush_one(self, key: Any) -> None:
        new, old, ts, size = self._dirty.pop(key)
        assert self.cache is not None
        self.cache.size_bytes -= size
        self._write(key, new, ts)
        if self.flush_listener is not None and not (new is None and old is None):
            self.flush_listener(key, new, old, ts)

    def flush(self) -> None:
        """Write every dirty cache entry through (store, changelog, downstream), oldest first (at commit)."""
        while self._dirty:
            self._flush_one(next(iter(self._dirty)))

    def drop_cache(self) -> None:
        """Forget dirty entries without writing them (a task closed dirty: they are re-processed)."""
        if self.cache is not None:
            self.cache.size_bytes -= sum(e[3] for e in self._dirty.values())
        self._dirty.clear()

    # -- restoration --------------------------------------------------------------------------------------------------
    def restore(self, key_bytes: bytes | None, value_bytes: bytes | None) -> None:
        """Apply one changelog record (no logging, no cache)."""
        if key_bytes is None:
            return
        key = self.key_serde.deserialize(key_bytes)
        if value_bytes is None:
            self._data.pop(key, None)
        else:
            self._data[key] = self.value_serde.deserialize(value_bytes)

    def snapshot(self) -> dict[Any, Any]:
        """The store's flushed content (what a checkpoint on disk holds)."""
        return dict(self._data)

    def load(self, data: dict[Any, Any]) -> None:
        self._data = dict(data)

    def __len__(self) -> int:
        return self.approximate_num_entries()

    def __repr__(self) -> str:
        return f"KeyValueStore({self.name!r}, {self.approximate_num_entries()} entries)"


class ReadOnlyKeyValueStore:
    """An interactive query over every local part of a store (Kafka's ``CompositeReadOnlyKeyValueStore``)."""

    def __init__(self, name: str, parts: list[KeyValueStore]) -> None:
        self.name = name
        self._parts = parts

    def get(self, key: Any) -> Any:
        for part in self._parts:
            value = part.get(key)
            if value is not None:
                return value
        return None

    def all(self) -> list[tuple[Any, Any]]:
        out: list[tuple[Any, Any]] = []
        for part in self._parts:
            out.extend(part.all())
        if self._parts:
            ser = self._parts[0].key_serde.serialize
            out.sort(key=lambda kv: ser(kv[0]) or b"")
        return out

    def range(self, lo: Any, hi: Any) -> list[tuple[Any, Any]]:
        out: list[tuple[Any, Any]] = []
        for part in self._parts:
            out.extend(part.range(lo, hi))
        if self._parts:
            ser = self._parts[0].key_serde.serialize
            out.sort(key=lambda kv: ser(kv[0]) or b"")
        return out

    def approximate_num_entries(self) -> int:
        return sum(p.approximate_num_entries() for p in self._parts)

    def to_dict(self) -> dict[Any, Any]:
        return dict(self.all())

    def __repr__(self) -> str:
        return f"ReadOnlyKeyValueStore({self.name!r}, {len(self._parts)} partitions)"

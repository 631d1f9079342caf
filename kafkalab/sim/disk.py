"""Per-node storage with a page cache: what a process crash keeps and a power loss drops.

How it works. A :class:`Disk` holds named values (a node's epoch and vote files, checkpoints) and attached logs. A write
goes to the page cache: readable at once, durable only once flushed. ``fsync(callback)`` takes a snapshot of what is
dirty *now* and makes it durable ``fsync_latency_ms`` later, then calls back; a crash of the node before then cancels
both (the fsync never completed). ``fsync_now()`` makes everything durable at once, for callers that account for the
latency themselves. The OS also writes dirty pages back on its own: every ``writeback_interval_ms`` after the first dirty
write (Linux's ``dirty_expire_centisecs`` is 30 s), or never when None.

- ``process_crash()`` (kill -9): the page cache survives, so nothing is lost.
- ``power_loss()``: values revert to their last durable version; attached logs drop everything past their flushed offset
  (``PartitionLog.drop_unflushed()``).

Kafka itself does not fsync per write (``log.flush.interval.messages`` is Long.MAX_VALUE): durability comes from
replication, and this model is what makes a power loss lose data where Kafka would (KAFKA.md section 3). KRaft flushes
its log before it acknowledges, which its node does through ``fsync``.

Values must be immutable (bytes, tuples, frozen dataclasses): the durable copy is the same object.
Simplification: a flushed log offset is a high-water mark; a log truncated and rewritten between an fsync's start and
completion counts as flushed up to the captured offset.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kafkalab.ports import FlushableLog
from kafkalab.sim.kernel import Kernel, Owner, Timer

__all__ = ["Disk", "FlushableLog"]

_MISSING = object()


class Disk:
    """Durable storage of one node: values and logs, a page cache in front, power loss behind."""

    def __init__(self, kernel: Kernel, node: Any, *, fsync_latency_ms: float = 1.0,
                 writeback_interval_ms: float | None = 30_000.0) -> None:
        if fsync_latency_ms < 0:
            raise ValueError(f"fsync_latency_ms must be >= 0, got {fsync_latency_ms}")
        if writeback_interval_ms is not None and writeback_interval_ms <= 0:
            raise ValueError(f"writeback_interval_ms must be > 0 or None, got {writeback_interval_ms}")
        self.kernel = kernel
        self.node = node
        self.fsync_latency_ms = fsync_latency_ms
        self.writeback_interval_ms = writeback_interval_ms
        self._values: dict[str, Any] = {}       # what reads see (page cache)
        self._durable: dict[str, Any] = {}      # what survives a power loss
        self._dirty: dict[str, None] = {}       # ordered set of keys written since their last flush
        self._logs: dict[str, FlushableLog] = {}
        self._writeback: Timer | None = None
        self.owner: Owner | None = None         # the node's incarnation; set by whoever runs the node
        self.fsyncs = 0
        self.power_losses = 0

    # -- values -------------------------------------------------------------------------------------------------
    def write(self, key: str, value: Any) -> None:
        """Write ``value`` under ``key`` into the page cache (volatile until flushed)."""
        self._values[key] = value
        self._dirty[key] = None
        self._arm_writeback()

    def read(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._dirty[key] = None
        self._arm_writeback()

    def keys(self) -> list[str]:
        return list(self._values)

    def durable(self, key: str, default: Any = None) -> Any:
        """The value a power loss would leave under ``key``."""
        return self._durable.get(key, default)

    # -- logs ---------------------------------------------------------------------------------------------------
    def attach_log(self, name: str, log: FlushableLog) -> None:
        """Keep ``log`` on this disk: fsync flushes it, a power loss drops its unflushed suffix."""
        self._logs[name] = log

    def log(self, name: str) -> Any:
        """The attached log ``name`` or None."""
        return self._logs.get(name)

    def detach_log(self, name: str) -> None:
        self._logs.pop(name, None)

    @property
    def logs(self) -> dict[str, FlushableLog]:
        return dict(self._logs)

    # -- flushing -----------------------------------------------------------------------------------------------
    def _snapshot(self, files: Iterable[str] | None = None) -> tuple[dict[str, Any], dict[str, int]]:
        # Keys stay dirty until an fsync that captured their current version completes: an fsync cut short by a
        # crash must not make a later fsync skip them.
        if files is None:
            values = {k: self._values.get(k, _MISSING) for k in self._dirty}
            logs: Iterable[tuple[str, FlushableLog]] = self._logs.items()
        else:
            wanted = list(files)
            values = {k: self._values.get(k, _MISSING) for k in wanted if k in self._dirty}
            logs = [(name, self._logs[name]) for name in wanted if name in self._logs]
        offsets = {name: log.log_end_offset for name, log in logs if log.flushed_offset < log.log_end_offset}
        return values, offsets

    def _commit(self, values: dict[str, Any], offsets: dict[str, int]) -> None:
        for key, value in values.items():
            if value is _MISSING:
                self._durable.pop(key, None)
            else:
                self._durable[key] = value
            if self._values.get(key, _MISSING) is value:
                self._dirty.pop(key, None)
        for name, offset in offsets.items():
            log = self._logs.get(name)
            if log is not None:
                log.flush(min(offset, log.log_end_offset))
        self.fsyncs += 1

    def fsync(self, callback: Callable[[], Any] | None = None, *, name: str = "fsync",
              files: Iterable[str] | None = None) -> Timer:
        """Make everything written so far durable after ``fsync_latency_ms``, then call ``callback()``.

        ``files``: sync only these values and logs, by name (``FileChannel.force`` on one file); None syncs all.
        """
        values, offsets = self._snapshot(files)

        def done() -> None:
            self._commit(values, offsets)
            if callback is not None:
                callback()

        return self.kernel.schedule(self.fsync_latency_ms, done, owner=self.owner, name=f"{self.node}:{name}")

    def fsync_now(self) -> None:
        """Make everything written so far durable immediately."""
        self._commit(*self._snapshot())

    def _arm_writeback(self) -> None:
        if self.writeback_interval_ms is None or self._writeback is not None:
            return
        self._writeback = self.kernel.schedule(self.writeback_interval_ms, self._on_writeback,
                                               name=f"{self.node}:writeback")

    def _on_writeback(self) -> None:
        self._writeback = None
        self.fsync_now()

    def arm_log_writeback(self) -> None:
        """Tell the disk an attached log got new unflushed data (so the OS writeback will flush it)."""
        self._arm_writeback()

    # -- failures -----------------------------------------------------------------------------------------------
    def process_crash(self) -> None:
        """kill -9: the page cache survives; nothing is lost. Pending fsync callbacks die with the process owner."""

    def power_loss(self) -> None:
        """Power loss: values revert to their durable versions and logs lose their unflushed suffix."""
        self._values = dict(self._durable)
        self._dirty = {}
        for log in self._logs.values():
            log.drop_unflushed()
        if self._writeback is not None:
            self._writeback.cancel()
            self._writeback = None
        self.power_losses += 1

"""Background log maintenance on a virtual clock: Kafka's ``LogManager`` retention task and ``LogCleaner`` loop.

Kafka runs retention every ``log.retention.check.interval.ms`` (default 300000) over every log, and the cleaner
thread picks the dirtiest compacted log whose dirty ratio is strictly above ``min.cleanable.dirty.ratio``, backing off
``log.cleaner.backoff.ms`` (default 15000) when there is nothing to clean. Here both are timers on a kernel (anything
with ``schedule(delay_ms, callback)`` and ``now``), so a notebook or a broker gets them without polling logs itself.
One simplification: each cleaner tick cleans every eligible log, not just the dirtiest one.

The optional ``high_watermark`` callable bounds retention and cleaning, as a broker does with each partition's HW.
This is the standalone version for notebooks and log-level experiments; brokers run
:mod:`kafkalab.broker.log_maintenance`, which follows Kafka's schedule without events when nothing can expire.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kafkalab.log.cleaner import CleanerStats
from kafkalab.log.partition_log import PartitionLog

__all__ = ["LogManager"]


class _Scheduler(Protocol):
    @property
    def now(self) -> float: ...

    def schedule(self, delay_ms: float, callback: Callable[..., Any], *args: Any, name: str | None = None) -> Any: ...


class LogManager:
    """Owns named logs and runs retention and cleaning passes, directly or on a kernel's timers."""

    def __init__(self, *, retention_check_interval_ms: float = 300_000, cleaner_backoff_ms: float = 15_000,
                 high_watermark: Callable[[str], int | None] | None = None) -> None:
        self.logs: dict[str, PartitionLog] = {}
        self.retention_check_interval_ms = retention_check_interval_ms
        self.cleaner_backoff_ms = cleaner_backoff_ms
        self._high_watermark = high_watermark
        self._timers: list[Any] = []
        self.segments_deleted = 0
        self.cleaner_runs: list[tuple[float, str, CleanerStats]] = []

    def add(self, name: str, log: PartitionLog) -> PartitionLog:
        if name in self.logs:
            raise ValueError(f"log {name!r} already exists")
        self.logs[name] = log
        return log

    def _hw(self, name: str) -> int | None:
        return self._high_watermark(name) if self._high_watermark is not None else None

    def check_retention(self, now_ms: float) -> int:
        """One retention pass over every log; returns the number of segments deleted."""
        deleted = 0
        for name, log in self.logs.items():
            deleted += log.delete_old_segments(now_ms, self._hw(name))
        self.segments_deleted += deleted
        return deleted

    def clean(self, now_ms: float) -> list[CleanerStats]:
        """One cleaner pass: every compacted log strictly above its ``min.cleanable.dirty.ratio``."""
        done = []
        for name, log in self.logs.items():
            stats = log.compact(now_ms, self._hw(name), respect_dirty_ratio=True)
            if stats is not None:
                self.cleaner_runs.append((now_ms, name, stats))
                done.append(stats)
        return done

    def start(self, kernel: _Scheduler) -> None:
        """Run retention and the cleaner periodically on ``kernel`` until :meth:`stop`."""
        def retention_tick() -> None:
            self.check_retention(kernel.now)
            self._timers[0] = kernel.schedule(self.retention_check_interval_ms, retention_tick,
                                              name="log-retention")

        def cleaner_tick() -> None:
            self.clean(kernel.now)
            self._timers[1] = kernel.schedule(self.cleaner_backoff_ms, cleaner_tick, name="log-cleaner")

        self.stop()
        self._timers = [kernel.schedule(self.retention_check_interval_ms, retention_tick, name="log-retention"),
                        kernel.schedule(self.cleaner_backoff_ms, cleaner_tick, name="log-cleaner")]

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers = []

"""Log retention and log cleaning on a broker: Kafka's ``LogManager`` retention task and ``LogCleaner`` thread, run
over every replica the broker hosts (leaders and followers alike).

How it works. Two named timers of the replica manager's port:

- ``log-retention`` is Kafka's ``kafka-log-retention`` task, a fixed-rate schedule that first runs
  ``InitialTaskDelayMs`` (30 s) after the broker starts and then every ``log.retention.check.interval.ms``. A tick
  runs ``UnifiedLog.deleteOldSegments`` (:meth:`PartitionLog.delete_old_segments`) on every log without ``compact``
  in its policy, in topic-partition order, bounded by the replica's high watermark: segments past ``retention.ms``
  or beyond ``retention.bytes``, only from the oldest, only below the HW. Deleting segments moves the log start
  offset to the first remaining segment (``maybeIncrementLogStartOffset``); fetch and ListOffsets answers carry it,
  and the follower fetch sessions replicating the log send it on their next answer.
- ``log-cleaner`` is the cleaner thread (``log.cleaner.enable``): it tries to clean, and sleeps
  ``log.cleaner.backoff.ms`` when it found nothing, so with cleaning taking no virtual time its attempts fall on the
  grid ``start + k * backoff``. A tick cleans every compacted log whose dirty ratio is strictly above
  ``min.cleanable.dirty.ratio`` (:meth:`PartitionLog.compact`, bounded by the HW, never the active segment; Kafka
  cleans the filthiest log first and loops, which ends in the same state) and then runs ``deleteOldSegments`` on the
  compacted logs (Kafka's ``deletableLogs``: ``compact,delete`` topics are deleted by the cleaner thread, so with the
  cleaner disabled they are never deleted, as in Kafka).

Ticks with nothing to do are elided, so an idle or young cluster has no maintenance events at all: each replica's
log calls back (``PartitionLog.on_new_segment``) when a segment gets its first batch or the log is truncated, and only
then is its next possible deletion time computed: the oldest segment's largest timestamp plus ``retention.ms``
(``retention.bytes`` set: the next tick), or, for a compacted log with a dirty inactive segment, the next cleaner
tick. The timer is armed for the first tick of the schedule after that time, so every tick that does run falls on
Kafka's schedule and every elided tick would have deleted or cleaned nothing. After a tick the next one is computed
over all hosted replicas; a tick that found work blocked (by the HW, ``min.compaction.lag.ms`` or a dirty ratio
below the threshold that the HW is still holding back) keeps the schedule running. A compacted log with
``max.compaction.lag.ms`` set (KIP-354) whose dirty data is below the ratio arms the first tick after its oldest dirty
inactive segment's first batch timestamp plus the lag, when Kafka's cleaner would find it overdue and clean it
whatever its dirty ratio; such logs also roll their active segment after ``max.compaction.lag.ms``
(``LogConfig.max_segment_ms``), so the data can become cleanable at all.

Simplifications: one cleaner thread's worth of work per tick over all eligible logs (``log.cleaner.threads`` is not
modelled); ``log.cleaner.backoff.ms = 0`` sleeps 1 ms; the producer state of deleted segments is not kept (Kafka
keeps producer snapshots until ``producer.id.expiration.ms``), so a new leader forgets producers whose batches were
all deleted and accepts their next sequence as it accepts an unknown producer's.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kafkalab.broker.fetch_sessions import FetchSessions
from kafkalab.broker.partition import Partition
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.log.cleaner import CleanerStats

if TYPE_CHECKING:       # the replica manager builds this module's scheduler
    from kafkalab.broker.replica_manager import ReplicaManagerPort

__all__ = ["LOG_CLEANER", "LOG_RETENTION", "INITIAL_TASK_DELAY_MS", "LogMaintenance"]

LOG_RETENTION = "log-retention"
LOG_CLEANER = "log-cleaner"
#: Kafka's ``log.initial.task.delay.ms`` default: the first retention check runs this long after startup
INITIAL_TASK_DELAY_MS = 30_000.0


def _next_tick(first: float, interval: float, after: float) -> float:
    """The first tick of ``first + k * interval`` (k >= 0) strictly after ``after``."""
    if after < first:
        return first
    k = int((after - first) // interval) + 1
    tick = first + k * interval
    while tick <= after:       # float rounding
        tick += interval
    return tick


class LogMaintenance:
    """Retention and cleaning over the replicas of one replica manager, on its port's timers."""

    def __init__(self, port: ReplicaManagerPort, partitions: Mapping[TopicPartition, Partition],
                 config: Mapping[str, Any], start_ms: float) -> None:
        self.port = port
        self.partitions = partitions
        self.retention_interval_ms = float(config["log.retention.check.interval.ms"])
        self.cleaner_enabled = bool(config["log.cleaner.enable"])
        self.cleaner_backoff_ms = max(1.0, float(config["log.cleaner.backoff.ms"]))
        self.retention_first_ms = start_ms + INITIAL_TASK_DELAY_MS
        self.cleaner_first_ms = start_ms
        self.retention_at: float | None = None
        self.cleaner_at: float | None = None
        #: replicas whose log got a new segment or was truncated since the last look
        self.pending: dict[TopicPartition, None] = {}
        # what was done, for metrics and tests
        self.retention_runs = 0
        self.cleaner_ticks = 0
        self.segments_deleted = 0
        self.cleaner_runs: list[tuple[float, TopicPartition, CleanerStats]] = []

    # ---- replicas come and go -------------------------------------------------------------------------------------
    def register(self, p: Partition) -> None:
        """Watch ``p``'s log (a replica created on, or reopened by, this broker)."""
        pending = self.pending
        tp = p.tp

        def touched() -> None:
            pending[tp] = None
        p.log.on_new_segment = touched
        pending[tp] = None

    def unregister(self, p: Partition) -> None:
        """Stop watching ``p``'s log (the replica left this broker)."""
        p.log.on_new_segment = None
        self.pending.pop(p.tp, None)

    def touch(self, tp: TopicPartition) -> None:
        """Look at ``tp`` again (its log config changed)."""
        self.pending[tp] = None

    # ---- arming ---------------------------------------------------------------------------------------------------
    def retention_due(self, p: Partition, now_ms: float) -> float | None:
        """The earliest time a retention pass could delete from ``p``'s log (None: not before it changes)."""
        log = p.log
        config = log.config
        if not config.delete or log.size_bytes == 0:
            return None
        if config.retention_bytes >= 0:
            return now_ms
        if config.retention_ms >= 0:
            oldest = log.segments[0]
            if oldest.batches:
                return oldest.retention_timestamp_ms() + config.retention_ms
        return None

    def _retention_tick_for(self, p: Partition, now_ms: float) -> float | None:
        if p.log.config.compact:
            return None          # the cleaner thread deletes compacted logs' segments
        due = self.retention_due(p, now_ms)
        return None if due is None else _next_tick(self.retention_first_ms, self.retention_interval_ms,
                                                   max(due, now_ms))

    def _cleaner_tick_for(self, p: Partition, now_ms: float) -> float | None:
        log = p.log
        if not self.cleaner_enabled or not log.config.compact:
            return None
        due = now_ms if log.has_dirty_segments() else self.retention_due(p, now_ms)
        return None if due is None else _next_tick(self.cleaner_first_ms, self.cleaner_backoff_ms, max(due, now_ms))

    def _arm_retention(self, at_ms: float) -> None:
        if self.retention_at is None or at_ms < self.retention_at:
            self.retention_at = at_ms
            self.port.set_timer(LOG_RETENTION, at_ms)

    def _arm_cleaner(self, at_ms: float) -> None:
        if self.cleaner_at is None or at_ms < self.cleaner_at:
            self.cleaner_at = at_ms
            self.port.set_timer(LOG_CLEANER, at_ms)

    def poke(self, now_ms: float) -> None:
        """Arm the timers for the replicas whose logs changed (called after appends and metadata changes)."""
        pending = self.pending
        if not pending:
            return
        todo = list(pending)
        pending.clear()         # the same dict: the logs' callbacks hold it
        partitions = self.partitions
        for tp in todo:
            p = partitions.get(tp)
            if p is None:
                continue
            at = self._retention_tick_for(p, now_ms)
            if at is not None:
                self._arm_retention(at)
            at = self._cleaner_tick_for(p, now_ms)
            if at is not None:
                self._arm_cleaner(at)

    # ---- ticks ----------------------------------------------------------------------------------------------------
    def _in_order(self) -> list[Partition]:
        return [self.partitions[tp] for tp in sorted(self.partitions)]

    def on_retention(self, now_ms: float) -> int:
        """The retention task: delete old segments of every non-compacted log; returns the segments deleted."""
        self.retention_at = None
        self.retention_runs += 1
        deleted = 0
        next_at: float | None = None
        for p in self._in_order():
            if p.log.config.compact:
                continue
            start = p.log.log_start_offset
            deleted += p.log.delete_old_segments(now_ms, p.high_watermark)
            if p.log.log_start_offset != start:
                FetchSessions.log_start_moved(p)
            at = self._retention_tick_for(p, now_ms)
            if at is not None and (next_at is None or at < next_at):
                next_at = at
        self.segments_deleted += deleted
        if next_at is not None:
            self._arm_retention(next_at)
        return deleted

    def on_cleaner(self, now_ms: float) -> int:
        """The cleaner thread's attempt: clean every eligible compacted log, then delete their old segments;
        returns the number of logs cleaned."""
        self.cleaner_at = None
        self.cleaner_ticks += 1
        cleaned = 0
        again = False
        for p in self._in_order():
            log = p.log
            if not log.config.compact:
                continue
            hw = p.high_watermark
            stats = log.compact(now_ms, hw, respect_dirty_ratio=True)
            if stats is not None:
                cleaned += 1
                self.cleaner_runs.append((now_ms, p.tp, stats))
            start = log.log_start_offset
            self.segments_deleted += log.delete_old_segments(now_ms, hw)
            if log.log_start_offset != start:
                FetchSessions.log_start_moved(p)
            if log.has_dirty_segments():
                if log.first_uncleanable_offset(now_ms, hw) < log.segments[-1].base_offset:
                    again = True       # held back by the HW or min.compaction.lag.ms: look again next time
                overdue = log.compaction_overdue_at()
                if overdue is not None:   # max.compaction.lag.ms: the first tick that finds the dirty data overdue
                    self._arm_cleaner(_next_tick(self.cleaner_first_ms, self.cleaner_backoff_ms,
                                                 max(overdue, now_ms)))
            due = self.retention_due(p, now_ms) if log.config.delete else None
            if due is not None:
                at = _next_tick(self.cleaner_first_ms, self.cleaner_backoff_ms, max(due, now_ms))
                self._arm_cleaner(at)
        if again:
            self._arm_cleaner(_next_tick(self.cleaner_first_ms, self.cleaner_backoff_ms, now_ms))
        return cleaned

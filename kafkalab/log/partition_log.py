"""One partition's replica log (Kafka's ``UnifiedLog`` over ``LocalLog``): offsets, segments, epochs, cleanup.

How it works. The log is a list of :class:`LogSegment` s; the last one is active. Appends go to the active segment,
rolled first when the batch would overflow ``segment.bytes`` or the segment spans more than ``segment.ms`` of record
time (``LogSegment.shouldRoll``; for a compacted log ``max.compaction.lag.ms`` if smaller, ``maxSegmentMs``). Finding an offset is two bisects: segment base offsets, then batch base offsets.

* Leader path (:meth:`append_as_leader`): records or an offsetless batch come in; the log assigns the next offsets and
  stamps the leader epoch, checks ``max.message.bytes`` (MESSAGE_TOO_LARGE) and, on a compacted log, that every
  record has a key (INVALID_RECORD; a counted batch, :class:`~kafkalab.common.records.CountedRecords`, has none to
  check and is refused there the same way), and returns the stored batch.
* Follower path (:meth:`append_as_follower`): the leader's batch object itself is stored (zero copy, no per-record
  work). It must start at the log end offset; only a compacted log may have gaps (the leader's cleaner drops emptied
  batches that are no producer's last), never overlaps.
* :meth:`read` returns stored batch objects from one segment, as ``LocalLog.read`` does, always including the first
  batch even when it is larger than ``max_bytes`` (``minOneMessage``).
* The leader epoch cache (:class:`LeaderEpochCache`) is updated from every appended batch and fixed on truncation.
* Retention (:meth:`delete_old_segments`) follows ``UnifiedLog.deleteOldSegments``: for ``delete`` policies,
  segments older than ``retention.ms`` or beyond ``retention.bytes``, then segments wholly below the log start offset;
  only from the oldest, only below the high watermark. When every segment is deletable, Kafka first rolls a new empty
  active segment, so the segment deleted is never the active one; this does the same.
* ``on_new_segment`` (optional, no arguments) is called when a segment gets its first batch or the log is
  truncated: the moments the earliest possible retention or cleaning time of the log can change. A broker's log
  maintenance uses it to arm its timers only when there may be work.
* Compaction (:meth:`compact`) cleans ``[log start, first uncleanable offset)``: never the active segment, nothing at
  or above the high watermark, nothing newer than ``min.compaction.lag.ms``; each producer's last batch survives,
  empty if need be (see :mod:`kafkalab.log.cleaner`). The cleaner thread picks a log when its dirty ratio is above
  ``min.cleanable.dirty.ratio`` or its oldest dirty segment is past ``max.compaction.lag.ms`` (KIP-354,
  :meth:`max_compaction_delay`).
* Disk model: ``flushed_offset`` is Kafka's recovery point. :meth:`flush` advances it; a segment roll flushes the
  rolled segments (Kafka schedules that flush at roll); ``flush.messages`` forces a flush.
  :meth:`drop_unflushed` is power loss: the unflushed suffix is gone.

* Transactions (:mod:`kafkalab.log.txn_index`): once a transactional batch is appended the log keeps a
  :class:`~kafkalab.log.txn_index.TxnTracker` (ongoing transactions, the last stable offset, the aborted index per
  segment), fed per transactional batch on both paths and rebuilt on truncation. A log that never saw one pays
  one attribute test per batch.

Deliberate simplifications: idempotence bookkeeping (sequences, epochs) is the broker's, not here; the
epoch cache and log start offset survive a power loss with the log (Kafka checkpoints them); a truncation offset inside
a batch removes that whole batch, so the log end may land below the requested offset.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence

from kafkalab.common.records import NO_OFFSET, Record, RecordBatch, is_counted
from kafkalab.errors import InvalidRecordError, MessageTooLargeError, OffsetOutOfRangeError
from kafkalab.log.cleaner import CleanerStats, clean_segments, last_batches_of_producers
from kafkalab.log.epoch_cache import LeaderEpochCache
from kafkalab.log.log_config import LONG_MAX, LogConfig
from kafkalab.log.segment import LogSegment
from kafkalab.log.txn_index import AbortedTxn, TxnTracker

__all__ = ["PartitionLog", "UnexpectedAppendOffsetError"]


class UnexpectedAppendOffsetError(ValueError):
    """A follower append does not continue the log (Kafka's ``UnexpectedAppendOffsetException``)."""

    def __init__(self, message: str, first_offset: int, log_end_offset: int) -> None:
        super().__init__(message)
        self.first_offset = first_offset
        self.log_end_offset = log_end_offset


class PartitionLog:
    """A partition replica's log. ``name`` (e.g. ``"orders-0"``) only appears in error messages."""

    def __init__(self, config: LogConfig | None = None, *, name: str = "log", log_start_offset: int = 0,
                 now_ms: float = 0) -> None:
        if log_start_offset < 0:
            raise ValueError(f"log_start_offset must be >= 0, got {log_start_offset}")
        self.config = config if config is not None else LogConfig()
        self.name = name
        self.epoch_cache = LeaderEpochCache()
        self._segments: list[LogSegment] = [LogSegment(log_start_offset, now_ms)]
        self._segment_bases: list[int] = [log_start_offset]
        self._log_start_offset = log_start_offset
        self._log_end_offset = log_start_offset
        self._flushed_offset = log_start_offset
        self._size_bytes = 0
        self._first_dirty_offset = log_start_offset
        self._txn: TxnTracker | None = None
        #: called (no arguments) when a segment gets its first batch or the log is truncated: what a broker's log
        #: maintenance watches to know when retention or the cleaner may have work (None: nobody watches)
        self.on_new_segment: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return (f"PartitionLog({self.name!r}, start={self._log_start_offset}, end={self._log_end_offset}, "
                f"segments={len(self._segments)}, size_bytes={self._size_bytes})")

    # ---- state --------------------------------------------------------------------------------------------------
    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self._log_end_offset

    @property
    def flushed_offset(self) -> int:
        """Kafka's recovery point: every offset below it survives a power loss."""
        return self._flushed_offset

    @property
    def size_bytes(self) -> int:
        return self._size_bytes

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        """Segments oldest first; the last one is active. Read-only view: do not mutate them."""
        return tuple(self._segments)

    @property
    def active_segment(self) -> LogSegment:
        return self._segments[-1]

    @property
    def latest_epoch(self) -> int | None:
        return self.epoch_cache.latest_epoch

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """``(epoch, end offset)`` as Kafka's ``LeaderEpochFileCache.endOffsetFor``."""
        return self.epoch_cache.end_offset_for(epoch, self._log_end_offset)

    def batches(self) -> list[RecordBatch]:
        """All stored batches, oldest first (O(n); for tests and plots)."""
        return [b for s in self._segments for b in s.batches]

    # ---- append ---------------------------------------------------------------------------------------------------
    def append(self, data: RecordBatch | Sequence[Record], leader_epoch: int | None = None,
               now_ms: float = 0) -> RecordBatch:
        """Leader path when ``leader_epoch`` is given, follower path for a batch that already has offsets."""
        if leader_epoch is not None:
            return self.append_as_leader(data, leader_epoch, now_ms)
        if isinstance(data, RecordBatch) and data.base_offset != NO_OFFSET:
            self.append_as_follower(data, now_ms)
            return data
        raise ValueError("append: records without offsets need the leader_epoch (leader path); "
                         "a batch with offsets is appended as a follower")

    def append_as_leader(self, data: RecordBatch | Sequence[Record], leader_epoch: int,
                         now_ms: float = 0) -> RecordBatch:
        """Assign offsets from the log end and stamp ``leader_epoch``; returns the stored batch."""
        if isinstance(data, RecordBatch):
            if data.base_offset != NO_OFFSET:
                raise ValueError(f"append_as_leader: batch already has base offset {data.base_offset}; "
                                 f"use append_as_follower for replicated batches")
            batch = data
        else:
            batch = RecordBatch(tuple(data))
        if not batch.rows:
            raise ValueError("append_as_leader: empty batch")
        latest = self.epoch_cache.latest_epoch
        if leader_epoch < 0 or (latest is not None and leader_epoch < latest):
            raise ValueError(f"append_as_leader: leader epoch {leader_epoch} is older than the log's latest "
                             f"epoch {latest} on {self.name}")
        if batch.size_bytes > self.config.max_message_bytes:
            raise MessageTooLargeError(
                f"The batch of {batch.size_bytes} bytes to {self.name} is larger than max.message.bytes "
                f"({self.config.max_message_bytes})")
        if self.config.compact and is_counted(batch):
            raise InvalidRecordError(
                f"Compacted topic cannot accept counted records (counts and sizes, without keys) in topic partition "
                f"{self.name}.")
        if self.config.compact and any(row[0] is None for row in batch.rows):
            raise InvalidRecordError(
                f"Compacted topic cannot accept message without key in topic partition {self.name}.")
        stored = batch.with_offset(self._log_end_offset, leader_epoch)
        self._append(stored, now_ms)
        return stored

    def append_as_follower(self, batch: RecordBatch, now_ms: float = 0) -> None:
        """Store the leader's batch object itself. It must start at the log end (a compacted log may skip ahead).

        An empty log whose end falls inside the batch restarts at the batch's base offset (the leader's log start
        was moved into the middle of a batch by deleteRecords).
        """
        first = batch.base_offset
        end = self._log_end_offset
        if first < end == self._log_start_offset and batch.last_offset >= end:
            # The leader's log start is inside this batch (deleteRecords) and it is the follower's first fetch:
            # start the log at the batch's base offset, as Kafka's Partition.appendRecordsToFollowerOrFutureReplica.
            self.truncate_fully_and_start_at(first, now_ms)
            end = first
        if first != end and not (first > end and self.config.compact):
            if first == NO_OFFSET:
                message = f"append_as_follower: batch has no offsets on {self.name}; the leader assigns them"
            elif first < end:
                message = (f"append_as_follower: batch starting at offset {first} overlaps the log end offset "
                           f"{end} on {self.name}; truncate the log first")
            else:
                message = (f"append_as_follower: batch starting at offset {first} leaves a gap after the log end "
                           f"offset {end} on {self.name}")
            raise UnexpectedAppendOffsetError(message, first, end)
        self._append(batch, now_ms)

    def _append(self, batch: RecordBatch, now_ms: float) -> None:
        segment = self._segments[-1]
        if segment.should_roll(batch, now_ms, self.config.segment_bytes,
                               self.config.max_segment_ms - self.config.segment_jitter_ms):
            segment = self._roll(now_ms, batch.base_offset)
        fresh = not segment.batches
        segment.append(batch, now_ms)
        if batch.is_transactional:
            txn = self._txn
            if txn is None:
                txn = self._txn = TxnTracker()
            txn.on_append(batch, segment)
        self._size_bytes += batch.size_bytes
        self._log_end_offset = batch.next_offset
        epoch = batch.partition_leader_epoch
        if epoch >= 0:
            self.epoch_cache.assign(epoch, batch.base_offset)
        if self.config.flush_messages != LONG_MAX and \
                self._log_end_offset - self._flushed_offset >= self.config.flush_messages:
            self._flushed_offset = self._log_end_offset
        if fresh and self.on_new_segment is not None:
            self.on_new_segment()

    def roll(self, now_ms: float = 0) -> LogSegment:
        """Start a new active segment at the log end (unless the active one is empty)."""
        if not self._segments[-1].batches:
            return self._segments[-1]
        return self._roll(now_ms, self._log_end_offset)

    def _roll(self, now_ms: float, base_offset: int) -> LogSegment:
        if not self._segments[-1].batches:
            # Nothing to roll away from: re-base the empty active segment (e.g. a follower skipping a gap).
            self._segments[-1].base_offset = base_offset
            self._segment_bases[-1] = base_offset
            self._segments[-1].created_ms = now_ms
            return self._segments[-1]
        segment = LogSegment(base_offset, now_ms)
        self._segments.append(segment)
        self._segment_bases.append(base_offset)
        # Kafka schedules a flush of everything before the new segment when it rolls.
        self._flushed_offset = max(self._flushed_offset, min(base_offset, self._log_end_offset))
        return segment

    # ---- read -----------------------------------------------------------------------------------------------------
    def read(self, offset: int, max_bytes: int = LONG_MAX, *, max_offset: int | None = None,
             min_one: bool = True) -> list[RecordBatch]:
        """Stored batches from the one holding ``offset``, up to ``max_bytes``, from a single segment.

        The first batch is returned even if larger than ``max_bytes`` when ``min_one``. ``max_offset`` (e.g. the high
        watermark) excludes batches with records at or above it. An offset outside [log start, log end] raises
        OFFSET_OUT_OF_RANGE; the log end itself returns ``[]``.
        """
        if offset < self._log_start_offset or offset > self._log_end_offset:
            raise OffsetOutOfRangeError(
                f"Received request for offset {offset} for partition {self.name}, but we only have log segments "
                f"from offset {self._log_start_offset} up to {self._log_end_offset}.")
        limit = self._log_end_offset if max_offset is None else min(max_offset, self._log_end_offset)
        if offset >= limit:
            return []
        si = max(0, bisect_right(self._segment_bases, offset) - 1)
        segments = self._segments
        while si < len(segments):
            segment = segments[si]
            bi = segment.index_for(offset)
            if bi < len(segment.batches):
                return self._collect(segment.batches, bi, max_bytes, limit, min_one)
            si += 1
        return []

    @staticmethod
    def _collect(batches: list[RecordBatch], start: int, max_bytes: int, limit: int,
                 min_one: bool) -> list[RecordBatch]:
        out: list[RecordBatch] = []
        total = 0
        for i in range(start, len(batches)):
            batch = batches[i]
            if batch.last_offset >= limit:
                break
            total += batch.size_bytes
            if total > max_bytes and (out or not min_one):
                break
            out.append(batch)
        return out

    # ---- transactions ---------------------------------------------------------------------------------------------
    @property
    def has_transactions(self) -> bool:
        """Whether a transactional batch was ever appended (since the last full truncation)."""
        return self._txn is not None

    @property
    def txn(self) -> TxnTracker | None:
        """The transaction tracker (None until the first transactional batch)."""
        return self._txn

    def last_stable_offset(self, high_watermark: int) -> int:
        """The LSO: ``min(first offset of the earliest ongoing or unreplicated transaction, high_watermark)``."""
        txn = self._txn
        return high_watermark if txn is None else txn.last_stable_offset(min(high_watermark, self._log_end_offset))

    def aborted_transactions(self, start_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """Aborted transactions overlapping ``[start_offset, upper_bound)`` (what a read_committed fetch carries)."""
        if self._txn is None:
            return []
        si = max(0, bisect_right(self._segment_bases, start_offset) - 1)
        return TxnTracker.collect_aborted(self._segments[si:], start_offset, upper_bound)

    # ---- truncation -----------------------------------------------------------------------------------------------
    def truncate_to(self, offset: int) -> int:
        """Remove everything at or above ``offset``; returns the new log end offset (Kafka's ``truncateTo``).

        At or beyond the log end only the epoch cache is trimmed to the log end, as Kafka's ``UnifiedLog.truncateTo``
        does: a deposed leader may have assigned its epoch's start offset without appending anything, and that entry
        would otherwise make every later fetch look divergent. Below the first segment the log is emptied and
        restarts at ``offset``.
        """
        if offset < 0:
            raise ValueError(f"truncate_to: offset must be >= 0, got {offset}")
        if offset >= self._log_end_offset:
            self.epoch_cache.truncate_from_end(self._log_end_offset)
            return self._log_end_offset
        if offset < self._segment_bases[0]:
            self.truncate_fully_and_start_at(offset)
            return offset
        keep = bisect_right(self._segment_bases, offset)
        for segment in self._segments[keep:]:
            self._size_bytes -= segment.size_bytes
        del self._segments[keep:]
        del self._segment_bases[keep:]
        active = self._segments[-1]
        before = active.size_bytes
        new_end = active.truncate_to(offset)
        self._size_bytes -= before - active.size_bytes
        self._after_truncation(new_end)
        self._log_start_offset = min(self._log_start_offset, new_end)
        if self._txn is not None:
            self._txn.rebuild(self._segments)
        if self.on_new_segment is not None:
            self.on_new_segment()
        return new_end

    def truncate_fully_and_start_at(self, offset: int, now_ms: float = 0) -> None:
        """Delete every segment and restart the log empty at ``offset`` (``truncateFullyAndStartAt``)."""
        if offset < 0:
            raise ValueError(f"truncate_fully_and_start_at: offset must be >= 0, got {offset}")
        self._segments = [LogSegment(offset, now_ms)]
        self._segment_bases = [offset]
        self._size_bytes = 0
        self._log_start_offset = offset
        self._first_dirty_offset = offset
        self._flushed_offset = offset
        self._log_end_offset = offset
        self.epoch_cache.clear()
        if self._txn is not None:
            self._txn = TxnTracker()

    def _after_truncation(self, new_end: int) -> None:
        self._log_end_offset = new_end
        self.epoch_cache.truncate_from_end(new_end)
        self._flushed_offset = min(self._flushed_offset, new_end)
        self._first_dirty_offset = min(self._first_dirty_offset, new_end)

    # ---- disk model -----------------------------------------------------------------------------------------------
    def flush(self, up_to_offset: int | None = None) -> int:
        """Make offsets below ``up_to_offset`` (default: the log end) durable; returns the flushed offset."""
        target = self._log_end_offset if up_to_offset is None else min(up_to_offset, self._log_end_offset)
        self._flushed_offset = max(self._flushed_offset, target)
        return self._flushed_offset

    def drop_unflushed(self) -> int:
        """Power loss: everything at or above the flushed offset is gone. Returns the new log end offset.

        When everything was flushed nothing changes (not even the epoch cache, which ``truncate_to`` at the log end
        would trim)."""
        if self._flushed_offset >= self._log_end_offset:
            return self._log_end_offset
        return self.truncate_to(self._flushed_offset)

    # ---- log start, retention -------------------------------------------------------------------------------------
    def advance_log_start(self, offset: int, high_watermark: int | None = None) -> bool:
        """deleteRecords: move the log start offset up (never down); whole segments below it are deleted.

        ``offset`` may not pass the high watermark (default: the log end): OFFSET_OUT_OF_RANGE, as in Kafka.
        Returns whether the log start moved.
        """
        bound = self._log_end_offset if high_watermark is None else min(high_watermark, self._log_end_offset)
        if offset > bound:
            raise OffsetOutOfRangeError(
                f"Cannot increment the log start offset to {offset} of partition {self.name} since it is larger "
                f"than the high watermark {bound}")
        if offset <= self._log_start_offset:
            return False
        self._set_log_start(offset)
        self._delete_leading(self._count_deletable(self._below_log_start, bound))
        return True

    def _set_log_start(self, offset: int) -> None:
        self._log_start_offset = offset
        self.epoch_cache.truncate_from_start(offset)
        self._flushed_offset = max(self._flushed_offset, offset)
        self._first_dirty_offset = max(self._first_dirty_offset, offset)

    def _below_log_start(self, i: int) -> bool:
        # deleteLogStartOffsetBreachedSegments: the next segment starts at or below the log start offset.
        return i + 1 < len(self._segments) and self._segment_bases[i + 1] <= self._log_start_offset

    def _upper(self, i: int) -> int:
        """Offset after segment ``i``: the next segment's base, or the log end for the active one."""
        return self._segment_bases[i + 1] if i + 1 < len(self._segments) else self._log_end_offset

    def _count_deletable(self, predicate: Callable[[int], bool], high_watermark: int) -> int:
        # Kafka's deletableSegments: from the oldest, while below the high watermark and the predicate holds; an
        # empty active segment is never deletable.
        n = 0
        for i, segment in enumerate(self._segments):
            last_and_empty = i == len(self._segments) - 1 and not segment.batches
            if high_watermark >= self._upper(i) and not last_and_empty and predicate(i):
                n += 1
            else:
                break
        return n

    def _delete_leading(self, count: int, now_ms: float = 0) -> None:
        if count <= 0:
            return
        if count == len(self._segments):
            self._roll(now_ms, self._log_end_offset)
        for segment in self._segments[:count]:
            self._size_bytes -= segment.size_bytes
        del self._segments[:count]
        del self._segment_bases[:count]
        if self._segment_bases[0] > self._log_start_offset:
            self._set_log_start(self._segment_bases[0])

    def delete_old_segments(self, now_ms: float, high_watermark: int | None = None) -> int:
        """One retention pass (``deleteOldSegments``); returns how many segments were deleted."""
        hw = self._log_end_offset if high_watermark is None else min(high_watermark, self._log_end_offset)
        deleted = 0
        config = self.config
        if config.delete:
            if config.retention_ms >= 0:
                def breached_ms(i: int) -> bool:
                    return now_ms - self._segments[i].retention_timestamp_ms() > config.retention_ms
                n = self._count_deletable(breached_ms, hw)
                self._delete_leading(n, now_ms)
                deleted += n
            if config.retention_bytes >= 0 and self._size_bytes >= config.retention_bytes:
                excess = [self._size_bytes - config.retention_bytes]

                def breached_bytes(i: int) -> bool:
                    size = self._segments[i].size_bytes
                    if excess[0] - size >= 0:
                        excess[0] -= size
                        return True
                    return False
                n = self._count_deletable(breached_bytes, hw)
                self._delete_leading(n, now_ms)
                deleted += n
        n = self._count_deletable(self._below_log_start, hw)
        self._delete_leading(n, now_ms)
        return deleted + n

    # ---- compaction -----------------------------------------------------------------------------------------------
    def first_uncleanable_offset(self, now_ms: float, high_watermark: int | None = None) -> int:
        """End of the cleanable range, as Kafka's ``LogCleanerManager.cleanableOffsets``: the active segment, the last
        stable offset (so the high watermark, and the first offset of a transaction still open: its records must stay
        until its marker decides them), ``min.compaction.lag.ms``."""
        bound = self._segment_bases[-1]
        if high_watermark is not None:
            bound = min(bound, high_watermark)
        if self._txn is not None:
            bound = min(bound, self.last_stable_offset(self._log_end_offset if high_watermark is None
                                                        else high_watermark))
        lag = self.config.min_compaction_lag_ms
        if lag > 0:
            for i, segment in enumerate(self._segments[:-1]):
                if segment.largest_timestamp_ms > now_ms - lag:
                    bound = min(bound, self._segment_bases[i])
                    break
        return bound

    def _cleanable_count(self, end_offset: int) -> int:
        # Whole segments only: those that end at or below the first uncleanable offset.
        n = 0
        while n < len(self._segments) - 1 and self._segment_bases[n + 1] <= end_offset:
            n += 1
        return n

    @property
    def first_dirty_offset(self) -> int:
        """The cleaner checkpoint: offsets below it were cleaned by the last pass (or are below the log start)."""
        return self._first_dirty_offset

    def has_dirty_segments(self) -> bool:
        """Whether some segment other than the active one holds data the cleaner has not seen."""
        return len(self._segments) > 1 and self._first_dirty_offset < self._segment_bases[-1]

    def dirty_ratio(self, now_ms: float, high_watermark: int | None = None) -> float:
        """Bytes not yet cleaned / cleanable bytes (what ``min.cleanable.dirty.ratio`` is compared with)."""
        n = self._cleanable_count(self.first_uncleanable_offset(now_ms, high_watermark))
        total = dirty = 0
        for i in range(n):
            size = self._segments[i].size_bytes
            total += size
            if self._upper(i) > self._first_dirty_offset:
                dirty += size
        return dirty / total if total else 0.0

    def earliest_dirty_timestamp(self) -> float | None:
        """The first batch timestamp (its max timestamp, as ``LogSegment.getFirstBatchTimestamp``) of the oldest
        inactive segment holding offsets at or past the cleaner checkpoint; None when there is none (or none > 0)."""
        first_dirty = self._first_dirty_offset
        earliest: float | None = None
        for i in range(len(self._segments) - 1):
            if self._upper(i) <= first_dirty:
                continue
            ts = self._segments[i].rolling_timestamp_ms
            if ts > 0 and (earliest is None or ts < earliest):
                earliest = ts
        return earliest

    def max_compaction_delay(self, now_ms: float) -> float:
        """``LogCleanerManager.maxCompactionDelay``: how long past ``max.compaction.lag.ms`` the oldest dirty inactive
        segment is (0 when none is overdue). Positive means the cleaner must clean this log now (KIP-354)."""
        lag = self.config.max_compaction_lag_ms
        if lag >= LONG_MAX:
            return 0.0
        earliest = self.earliest_dirty_timestamp()
        clean_until = now_ms - lag
        return clean_until - earliest if earliest is not None and earliest < clean_until else 0.0

    def compaction_overdue_at(self) -> float | None:
        """The first time :meth:`max_compaction_delay` turns positive for the data the log holds now (None: never)."""
        lag = self.config.max_compaction_lag_ms
        earliest = self.earliest_dirty_timestamp() if lag < LONG_MAX else None
        return None if earliest is None else earliest + lag

    def compact(self, now_ms: float, high_watermark: int | None = None, *,
                respect_dirty_ratio: bool = False) -> CleanerStats | None:
        """One cleaning pass when the policy includes ``compact``; None when there was nothing to clean.

        With ``respect_dirty_ratio`` the pass runs only as Kafka's ``LogCleanerManager.grabFilthiestCompactedLog``
        chooses logs: when the dirty ratio is strictly above ``min.cleanable.dirty.ratio`` (so a ratio of 1.0 never
        cleans by itself), or when a dirty inactive segment is older than ``max.compaction.lag.ms`` and there are
        cleanable bytes (KIP-354).
        """
        if not self.config.compact:
            return None
        end = self.first_uncleanable_offset(now_ms, high_watermark)
        n = self._cleanable_count(end)
        if n == 0:
            return None
        if respect_dirty_ratio and self.dirty_ratio(now_ms, high_watermark) <= self.config.min_cleanable_dirty_ratio:
            overdue = self.max_compaction_delay(now_ms) > 0
            if not overdue or all(self._upper(i) <= self._first_dirty_offset for i in range(n)):
                return None
        end = self._segment_bases[n]
        aborted = [] if self._txn is None else TxnTracker.collect_aborted(self._segments, self._log_start_offset, end)
        cleaned, stats = clean_segments(self._segments[:n], end, now_ms, self.config,
                                        last_batches_of_producers(self._segments, include_markers=True), aborted)
        self._segments[:n] = cleaned
        self._segment_bases[:n] = [s.base_offset for s in cleaned]
        self._size_bytes += stats.bytes_after - stats.bytes_before
        self._first_dirty_offset = max(self._first_dirty_offset, end)
        return stats

"""Log compaction for ``cleanup.policy=compact`` (Kafka's ``LogCleaner``; tombstone horizon after KIP-534).

One cleaning pass over the cleanable range ``[log start, first uncleanable offset)``:
1. build the offset map ``key -> latest offset`` over the range, skipping aborted transactions' batches (Kafka builds
   it over the dirty part; over the whole range the result is the one a Kafka cleaner converges to);
2. group the range's segments so each group's current size fits in ``segment.bytes`` (``groupSegmentsBySize``) and
   rewrite each group into one segment, keeping a record only if it is the latest for its key. Records keep their
   offsets; a batch nothing was removed from is kept as the very same object;
3. a tombstone (null value) survives its first pass, which stamps its batch with a delete horizon
   ``now + delete.retention.ms``; a later pass at or after the horizon drops it. Records without a key are dropped
   (Kafka counts them as invalid), and so are counted records (:class:`~kafkalab.common.records.CountedRecords`,
   which only a topic made compacted after they were written can hold: they have no keys to keep).
3a. transactions (Kafka's ``CleanedTransactionMetadata``): the aborted transactions overlapping the range (from the
   aborted-transaction index, sorted by first offset) are walked along with the batches. A transactional data batch
   of a producer whose aborted transaction has begun is aborted: all its records go (``onBatchRead``). A marker
   (control batch) is kept while any batch of its transaction was read in this pass; once its transaction is empty
   it is stamped with a delete horizon like a tombstone and dropped by a pass at or after it (``onControlBatchRead``
   with the batch's ``deleteHorizonMs``). The rewritten segments' aborted-transaction index holds exactly the entries
   whose ABORT marker was kept with data still in its transaction (Kafka's ``cleanedIndex``).
4. the last data batch of each producer (over the whole log, :func:`last_batches_of_producers`) is never removed: when
   cleaning removes all its records it is kept as an empty batch with its offsets, producer epoch and sequences
   (Kafka's ``BatchRetention.RETAIN_EMPTY`` for ``isBatchLastRecordOfProducer``), so producer state rebuilt from the log
   (a new leader, a restart) still knows the producer's last sequence and accepts its next batch. A producer whose
   latest entry is a transaction marker of a newer epoch has no last data batch (Kafka's ``lastDataOffset`` is empty
   then; the marker, kept here anyway, carries the epoch).

Simplifications: a marker kept as a producer's last entry (its epoch bumped past its last data batch) keeps its
record (Kafka keeps it as an empty control batch); every producer
is active (no ``producer.id.expiration.ms``), so each producer's last batch is kept for ever; a batch emptied by cleaning
that is not a producer's last is dropped (Kafka also keeps the last batch of a cleaning round); the offset map has no
memory bound.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from kafkalab.common.records import ABORT_MARKER, RecordBatch, control_type, is_counted
from kafkalab.log.log_config import LogConfig
from kafkalab.log.segment import LogSegment
from kafkalab.log.txn_index import AbortedTxn

__all__ = ["CleanerStats", "build_offset_map", "clean_segments", "group_segments_by_size", "last_batches_of_producers"]


@dataclass(frozen=True, slots=True)
class CleanerStats:
    """What one cleaning pass did. ``end_offset`` is the first uncleanable offset (the new cleaner checkpoint)."""

    start_offset: int
    end_offset: int
    segments_before: int
    segments_after: int
    records_read: int
    records_removed: int
    tombstones_removed: int
    bytes_before: int
    bytes_after: int
    aborted_records_removed: int = 0
    markers_removed: int = 0


def build_offset_map(segments: list[LogSegment], aborted: Sequence[AbortedTxn] = ()) -> dict[Any, int]:
    """``key -> offset of its latest record`` over ``segments`` (null keys, control batches and the batches of the
    ``aborted`` transactions skipped, as Kafka's ``buildOffsetMapForSegment`` skips aborted batches)."""
    latest: dict[Any, int] = {}
    txns = _CleanedTxns(aborted) if aborted else None
    for segment in segments:
        for batch in segment.batches:
            if batch.is_control:
                if txns is not None:
                    txns.on_control_read(batch)
                continue
            if txns is not None and txns.on_batch_read(batch):
                continue
            if is_counted(batch):
                continue                   # counted records have no keys (see clean_segments)
            for offset, row in zip(batch.offsets(), batch.rows, strict=True):
                if row[0] is not None:
                    latest[row[0]] = offset
    return latest


def last_batches_of_producers(segments: Sequence[LogSegment], *, include_markers: bool = False) -> dict[int, int]:
    """``producer id -> last offset of its last data batch`` over ``segments`` (the whole log), as Kafka's
    ``UnifiedLog.lastRecordsOfActiveProducers``: a control batch of a newer epoch than the producer's last data batch
    leaves it with none (absent here; with ``include_markers`` the offset of that newest-epoch marker instead, the
    control batch Kafka's cleaner keeps for such a producer)."""
    last: dict[int, tuple[int, int]] = {}      # producer id -> (epoch, last data offset or -1)
    for segment in segments:
        for batch in segment.batches:
            pid = batch.producer_id
            if pid < 0:
                continue
            if not batch.is_control:
                last[pid] = (batch.producer_epoch, batch.last_offset)
            else:
                entry = last.get(pid)
                if entry is None or entry[0] != batch.producer_epoch or (include_markers and entry[1] < -1):
                    last[pid] = (batch.producer_epoch, -2 - batch.last_offset if include_markers else -1)
    if include_markers:
        return {pid: offset if offset >= 0 else -2 - offset for pid, (_, offset) in last.items() if offset != -1}
    return {pid: offset for pid, (_, offset) in last.items() if offset >= 0}


def group_segments_by_size(segments: list[LogSegment], max_size_bytes: int) -> list[list[LogSegment]]:
    """Consecutive groups whose summed size is at most ``max_size_bytes`` (at least one segment per group)."""
    groups: list[list[LogSegment]] = []
    for segment in segments:
        if groups and sum(s.size_bytes for s in groups[-1]) + segment.size_bytes <= max_size_bytes:
            groups[-1].append(segment)
        else:
            groups.append([segment])
    return groups


class _CleanedTxns:
    """The transactions one cleaning pass walks through (Kafka's ``CleanedTransactionMetadata``)."""

    __slots__ = ("pending", "next", "aborted", "committed")

    def __init__(self, aborted: Sequence[AbortedTxn]) -> None:
        #: aborted transactions not yet reached, by first offset
        self.pending = sorted(set(aborted), key=lambda t: (t.first_offset, t.producer_id, t.last_offset))
        self.next = 0
        #: producer id -> [its aborted transaction under way, whether a batch of it was read]
        self.aborted: dict[int, list[Any]] = {}
        #: producers whose transaction under way (not aborted) had a batch read
        self.committed: set[int] = set()

    def _reach(self, offset: int) -> None:
        pending = self.pending
        while self.next < len(pending) and pending[self.next].first_offset <= offset:
            txn = pending[self.next]
            self.next += 1
            self.aborted.setdefault(txn.producer_id, [txn, False])

    def on_batch_read(self, batch: RecordBatch) -> bool:
        """A data batch was read; True when it belongs to an aborted transaction (all its records go)."""
        self._reach(batch.last_offset)
        if not batch.is_transactional:
            return False
        entry = self.aborted.get(batch.producer_id)
        if entry is not None:
            entry[1] = True
            return True
        self.committed.add(batch.producer_id)
        return False

    def on_control_read(self, batch: RecordBatch) -> tuple[bool, AbortedTxn | None]:
        """A marker was read: (its transaction is empty so it may go after the delete horizon, the index entry to
        keep for the rewritten segment)."""
        self._reach(batch.last_offset)
        pid = batch.producer_id
        if not batch.rows:
            return True, None
        key = batch.rows[0][0]
        if type(key) is not bytes or len(key) < 4:
            return False, None          # not a COMMIT or ABORT marker: kept (Kafka's unknown control type)
        if control_type(batch) == ABORT_MARKER:
            entry = self.aborted.pop(pid, None)
            if entry is not None and entry[1]:
                return False, entry[0]
            return True, None
        if pid in self.committed:
            self.committed.discard(pid)
            return False, None
        return True, None


def _emptied(batch: RecordBatch) -> RecordBatch:
    # The producer's last batch: kept empty, with its offsets, epoch and sequences (RETAIN_EMPTY).
    return batch if not batch.rows else replace(batch, rows=(), offset_deltas=(),
                                                original_last_offset_delta=batch.last_offset_delta)


def _clean_marker(batch: RecordBatch, now_ms: float, config: LogConfig, counts: list[int],
                  producers_last: dict[int, int], txns: _CleanedTxns,
                  index: list[AbortedTxn]) -> RecordBatch | None:
    empty_txn, entry = txns.on_control_read(batch)
    if entry is not None:
        index.append(entry)
    if not empty_txn:
        return batch
    horizon = batch.delete_horizon_ms
    if horizon is None:
        return replace(batch, delete_horizon_ms=int(now_ms) + config.delete_retention_ms)
    if now_ms < horizon or producers_last.get(batch.producer_id) == batch.last_offset:
        return batch
    counts[4] += 1
    return None


def _clean_batch(batch: RecordBatch, latest: dict[Any, int], now_ms: float, config: LogConfig,
                 counts: list[int], producers_last: dict[int, int], txns: _CleanedTxns) -> RecordBatch | None:
    if txns.on_batch_read(batch):
        counts[0] += len(batch.rows)
        counts[1] += len(batch.rows)
        counts[3] += len(batch.rows)
        if producers_last.get(batch.producer_id) != batch.last_offset:
            return None
        return _emptied(batch)
    if is_counted(batch):
        # Counted records (written before the topic became compacted) have no keys: removed, as Kafka's cleaner
        # removes records without a key (a producer's last batch is kept empty, as any).
        counts[0] += len(batch.rows)
        counts[1] += len(batch.rows)
        if batch.producer_id < 0 or producers_last.get(batch.producer_id) != batch.last_offset:
            return None
        return _emptied(batch)
    kept_records = []
    kept_deltas = []
    has_tombstone = False
    horizon = batch.delete_horizon_ms
    base = batch.base_offset
    for offset, record in zip(batch.offsets(), batch.rows, strict=True):
        counts[0] += 1
        if record[0] is None or latest.get(record[0]) != offset:
            counts[1] += 1
            continue
        if record[1] is None:
            if horizon is not None and now_ms >= horizon:
                counts[1] += 1
                counts[2] += 1
                continue
            has_tombstone = True
        kept_records.append(record)
        kept_deltas.append(offset - base)
    if not kept_records:
        if batch.producer_id < 0 or producers_last.get(batch.producer_id) != batch.last_offset:
            return None
        return _emptied(batch)
    needs_horizon = has_tombstone and horizon is None
    if len(kept_records) == len(batch.rows) and not needs_horizon:
        return batch
    return replace(
        batch,
        rows=tuple(kept_records),
        offset_deltas=tuple(kept_deltas),
        delete_horizon_ms=int(now_ms) + config.delete_retention_ms if needs_horizon else horizon,
        original_last_offset_delta=batch.last_offset_delta,
    )


def clean_segments(segments: list[LogSegment], end_offset: int, now_ms: float, config: LogConfig,
                   producers_last: dict[int, int] | None = None,
                   aborted: Sequence[AbortedTxn] | None = None) -> tuple[list[LogSegment], CleanerStats]:
    """Clean ``segments`` (the cleanable range, ending at ``end_offset``); returns new segments and stats.

    ``producers_last`` (see :func:`last_batches_of_producers` with ``include_markers``, computed over the whole log)
    names the batches kept even when cleaning empties them; None computes it over ``segments``. ``aborted`` are the
    aborted transactions overlapping the range (their index entries may sit in later segments, where their markers
    are); None takes those in ``segments``' own indexes."""
    if aborted is None:
        aborted = [entry for segment in segments for entry in segment.aborted]
    aborted = [t for t in aborted if t.first_offset < end_offset]
    latest = build_offset_map(segments, aborted)
    if producers_last is None:
        producers_last = last_batches_of_producers(segments, include_markers=True)
    txns = _CleanedTxns(aborted)
    # records read, records removed, tombstones removed, aborted records removed, markers removed
    counts = [0, 0, 0, 0, 0]
    bytes_before = sum(s.size_bytes for s in segments)
    cleaned: list[LogSegment] = []
    for group in group_segments_by_size(segments, config.segment_bytes):
        out = LogSegment(group[0].base_offset, group[0].created_ms)
        batches: list[RecordBatch] = []
        index: list[AbortedTxn] = []
        for segment in group:
            for batch in segment.batches:
                if batch.is_control:
                    kept = _clean_marker(batch, now_ms, config, counts, producers_last, txns, index)
                else:
                    kept = _clean_batch(batch, latest, now_ms, config, counts, producers_last, txns)
                if kept is not None:
                    batches.append(kept)
        out.replace_batches(batches)
        out.aborted = index
        out.last_modified_ms = max(s.last_modified_ms for s in group)
        cleaned.append(out)
    stats = CleanerStats(
        start_offset=segments[0].base_offset if segments else end_offset,
        end_offset=end_offset,
        segments_before=len(segments),
        segments_after=len(cleaned),
        records_read=counts[0],
        records_removed=counts[1],
        tombstones_removed=counts[2],
        bytes_before=bytes_before,
        bytes_after=sum(s.size_bytes for s in cleaned),
        aborted_records_removed=counts[3],
        markers_removed=counts[4],
    )
    return cleaned, stats

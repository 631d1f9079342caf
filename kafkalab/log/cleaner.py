"""Log compaction for ``cleanup.policy=compact`` (Kafka's ``LogCleaner``; tombstone horizon after KIP-534).

One cleaning pass over the cleanable range ``[log start, first uncleanable offset)``:
1. build the offset map ``key -> latest offset`` over the range (Kafka builds it over the dirty part; over the whole
   range the result is the one a Kafka cleaner converges to);
2. group the range's segments so each group's current size fits in ``segment.bytes`` (``groupSegmentsBySize``) and
   rewrite each group into one segment, keeping a record only if it is the latest for its key. Records keep their
   offsets; a batch nothing was removed from is kept as the very same object;
3. a tombstone (null value) survives its first pass, which stamps its batch with a delete horizon
   ``now + delete.retention.ms``; a later pass at or after the horizon drops it. Records without a key are dropped
   (Kafka counts them as invalid). Control batches are kept as they are.
4. the last data batch of each producer (over the whole log, :func:`last_batches_of_producers`) is never removed: when
   cleaning removes all its records it is kept as an empty batch with its offsets, producer epoch and sequences
   (Kafka's ``BatchRetention.RETAIN_EMPTY`` for ``isBatchLastRecordOfProducer``), so producer state rebuilt from the log
   (a new leader, a restart) still knows the producer's last sequence and accepts its next batch. A producer whose
   latest entry is a transaction marker of a newer epoch has no last data batch (Kafka's ``lastDataOffset`` is empty
   then; the marker, kept here anyway, carries the epoch).

Simplifications: aborted transactional data is not removed (Kafka's cleaner drops it and, later, the markers);
markers are kept for ever and the aborted-transaction index of the rewritten segments is carried over; every producer
is active (no ``producer.id.expiration.ms``), so each producer's last batch is kept for ever; a batch emptied by cleaning
that is not a producer's last is dropped (Kafka also keeps the last batch of a cleaning round); the offset map has no
memory bound.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from kafkalab.common.records import RecordBatch
from kafkalab.log.log_config import LogConfig
from kafkalab.log.segment import LogSegment

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


def build_offset_map(segments: list[LogSegment]) -> dict[Any, int]:
    """``key -> offset of its latest record`` over ``segments`` (null keys and control batches skipped)."""
    latest: dict[Any, int] = {}
    for segment in segments:
        for batch in segment.batches:
            if batch.is_control:
                continue
            for offset, row in zip(batch.offsets(), batch.rows, strict=True):
                if row[0] is not None:
                    latest[row[0]] = offset
    return latest


def last_batches_of_producers(segments: Sequence[LogSegment]) -> dict[int, int]:
    """``producer id -> last offset of its last data batch`` over ``segments`` (the whole log), as Kafka's
    ``UnifiedLog.lastRecordsOfActiveProducers``: a control batch of a newer epoch than the producer's last data batch
    leaves it with none (absent here)."""
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
                if entry is None or entry[0] != batch.producer_epoch:
                    last[pid] = (batch.producer_epoch, -1)
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


def _clean_batch(batch: RecordBatch, latest: dict[Any, int], now_ms: float, config: LogConfig,
                 counts: list[int], producers_last: dict[int, int]) -> RecordBatch | None:
    if batch.is_control:
        return batch
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
        if not batch.rows:
            return batch                 # kept empty by an earlier pass
        # The producer's last batch: kept empty, with its offsets, epoch and sequences (RETAIN_EMPTY).
        return replace(batch, rows=(), offset_deltas=(), original_last_offset_delta=batch.last_offset_delta)
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
                   producers_last: dict[int, int] | None = None) -> tuple[list[LogSegment], CleanerStats]:
    """Clean ``segments`` (the cleanable range, ending at ``end_offset``); returns new segments and stats.

    ``producers_last`` (see :func:`last_batches_of_producers`, computed over the whole log) names the batches kept even
    when cleaning empties them; None computes it over ``segments``."""
    latest = build_offset_map(segments)
    if producers_last is None:
        producers_last = last_batches_of_producers(segments)
    counts = [0, 0, 0]  # records read, records removed, tombstones removed
    bytes_before = sum(s.size_bytes for s in segments)
    cleaned: list[LogSegment] = []
    for group in group_segments_by_size(segments, config.segment_bytes):
        out = LogSegment(group[0].base_offset, group[0].created_ms)
        batches: list[RecordBatch] = []
        for segment in group:
            for batch in segment.batches:
                kept = _clean_batch(batch, latest, now_ms, config, counts, producers_last)
                if kept is not None:
                    batches.append(kept)
        out.replace_batches(batches)
        out.aborted = [entry for segment in group for entry in segment.aborted]
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
    )
    return cleaned, stats

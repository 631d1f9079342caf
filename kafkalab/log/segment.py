"""A log segment: a run of batches starting at ``base_offset`` (Kafka's ``LogSegment``, one .log file plus indexes).

Batches are kept in a list beside a list of their base offsets, so finding the batch holding an offset is a bisect
(the offset index's job in Kafka). The time index is reduced to what rolling and retention read: the first batch's max
timestamp (``rollingBasedTimestamp``) and the largest timestamp so far. ``aborted`` is the segment's aborted-transaction
index (Kafka's ``.txnindex``; :mod:`kafkalab.log.txn_index` fills it).
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Any

from kafkalab.common.records import RecordBatch

__all__ = ["LogSegment"]


class LogSegment:
    """Mutable while active; rolled segments change only by truncation, cleaning or deletion."""

    __slots__ = ("base_offset", "batches", "bases", "size_bytes", "created_ms", "rolling_timestamp_ms",
                 "largest_timestamp_ms", "last_modified_ms", "aborted")

    def __init__(self, base_offset: int, created_ms: float) -> None:
        self.base_offset = base_offset
        self.batches: list[RecordBatch] = []
        self.bases: list[int] = []
        self.size_bytes = 0
        self.created_ms = created_ms
        self.rolling_timestamp_ms = -1
        self.largest_timestamp_ms = -1
        self.last_modified_ms = created_ms
        self.aborted: list[Any] = []        # AbortedTxn entries whose marker is in this segment

    def __repr__(self) -> str:
        return (f"LogSegment(base_offset={self.base_offset}, batches={len(self.batches)}, "
                f"size_bytes={self.size_bytes})")

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def record_count(self) -> int:
        return sum(len(b.rows) for b in self.batches)

    @property
    def next_offset(self) -> int | None:
        """Offset after the segment's last batch, or None when empty."""
        return self.batches[-1].next_offset if self.batches else None

    def append(self, batch: RecordBatch, now_ms: float) -> None:
        if not self.batches:
            self.rolling_timestamp_ms = batch.max_timestamp_ms
        self.batches.append(batch)
        self.bases.append(batch.base_offset)
        self.size_bytes += batch.size_bytes
        if batch.max_timestamp_ms > self.largest_timestamp_ms:
            self.largest_timestamp_ms = batch.max_timestamp_ms
        self.last_modified_ms = now_ms

    def retention_timestamp_ms(self) -> float:
        """What time-based retention compares (``largestTimestamp``: max record timestamp, else last modified)."""
        return self.largest_timestamp_ms if self.largest_timestamp_ms >= 0 else self.last_modified_ms

    def should_roll(self, batch: RecordBatch, now_ms: float, segment_bytes: int, segment_ms: int) -> bool:
        """``LogSegment.shouldRoll``: the batch would overflow ``segment.bytes``, or the segment is older than
        ``segment.ms`` measured in record time (incoming max timestamp minus the first batch's), else wall time."""
        if self.size_bytes > segment_bytes - batch.size_bytes:
            return True
        if not self.batches:
            return False
        waited: float
        if self.rolling_timestamp_ms >= 0:
            waited = batch.max_timestamp_ms - self.rolling_timestamp_ms
        else:
            waited = now_ms - self.created_ms
        return waited > segment_ms

    def index_for(self, offset: int) -> int:
        """Index of the first batch whose last offset is >= ``offset`` (== len(batches) if none)."""
        i = bisect_right(self.bases, offset) - 1
        if i < 0:
            return 0
        if self.batches[i].last_offset < offset:
            i += 1
        return i

    def truncate_to(self, offset: int) -> int:
        """Remove batches from the first one holding an offset >= ``offset``; returns the new next offset.

        A batch straddling ``offset`` is removed whole (Kafka truncates files at batch boundaries), so the returned
        offset may be below ``offset``.
        """
        i = self.index_for(offset)
        removed = self.batches[i:]
        if removed:
            del self.batches[i:]
            del self.bases[i:]
            self.size_bytes -= sum(b.size_bytes for b in removed)
            self._recompute_timestamps()
            return min(offset, removed[0].base_offset)
        return offset

    def _recompute_timestamps(self) -> None:
        self.rolling_timestamp_ms = self.batches[0].max_timestamp_ms if self.batches else -1
        self.largest_timestamp_ms = max((b.max_timestamp_ms for b in self.batches), default=-1)

    def replace_batches(self, batches: list[RecordBatch]) -> None:
        """Swap in cleaned batches (same or fewer offsets, in order)."""
        self.batches = batches
        self.bases = [b.base_offset for b in batches]
        self.size_bytes = sum(b.size_bytes for b in batches)
        self._recompute_timestamps()

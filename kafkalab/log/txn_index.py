"""Transactions in a partition log: ongoing transactions, the last stable offset and the aborted-transaction index
(the transactional half of Kafka's ``ProducerStateManager``, with ``TransactionIndex``/``AbortedTxn`` of
``storage.internals.log``; KIP-98).

How it works. A log that has seen a transactional batch keeps a :class:`TxnTracker`. Every transactional batch that
is appended (leader or follower alike, so a follower that becomes leader has the same state) is fed to
:meth:`TxnTracker.on_append`, per batch, never per record:

- a data batch of a producer with no ongoing transaction opens one at the batch's base offset (Kafka's
  ``currentTxnFirstOffset``);
- a control batch (a COMMIT or ABORT marker, :func:`~kafkalab.common.records.control_batch`) completes the
  producer's transaction (first offset .. marker offset). The completed transaction stays *unreplicated* until the
  high watermark passes the marker (``unreplicatedTxns``). An ABORT also goes into the aborted-transaction index of
  the segment the marker landed in (Kafka appends it to the active segment's ``.txnindex``), as an
  :class:`AbortedTxn` (producer id, first offset, last offset = the marker, the last stable offset then).

The *first unstable offset* is the smallest first offset over ongoing and unreplicated transactions; the *last stable
offset* (LSO) is ``min(first unstable offset, high watermark)`` (``UnifiedLog.lastStableOffset``). A
``read_committed`` fetch reads below the LSO and gets the aborted transactions that overlap what it read
(:meth:`TxnTracker.collect_aborted`, Kafka's ``collectAbortedTransactions``: entries whose last offset is at or after
the fetch offset and whose first offset is below the upper bound).

Truncation and power loss rebuild the tracker from the remaining batches (a rare event; Kafka reloads its producer
state snapshot and replays the log). Simplifications (named): the tracker is rebuilt by scanning the whole log, not
from snapshots; a transaction whose first offset is deleted by retention keeps the LSO where it is until its marker
(Kafka does the same until ``producer.id.expiration.ms``; expiration is not modelled).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafkalab.common.records import ABORT_MARKER, RecordBatch, control_type

__all__ = ["AbortedTxn", "TxnTracker"]


@dataclass(frozen=True, slots=True)
class AbortedTxn:
    """One entry of a segment's aborted-transaction index (Kafka's ``AbortedTxn``)."""

    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int


class TxnTracker:
    """Ongoing and unreplicated transactions of one log; the aborted index lives on its segments (``aborted``)."""

    __slots__ = ("ongoing", "unreplicated")

    def __init__(self) -> None:
        #: producer id -> first offset of its ongoing transaction
        self.ongoing: dict[int, int] = {}
        #: completed transactions whose marker the high watermark has not passed: (first offset, marker offset)
        self.unreplicated: list[tuple[int, int]] = []

    def on_append(self, batch: RecordBatch, segment: Any) -> None:
        """A transactional batch (with offsets) was appended to ``segment``."""
        pid = batch.producer_id
        if batch.is_control and not batch.rows:
            return      # an empty marker: its transaction was cleaned away (ProducerAppendInfo appends nothing)
        if not batch.is_control:
            if pid not in self.ongoing:
                self.ongoing[pid] = batch.base_offset
            return
        marker = batch.base_offset
        first = self.ongoing.pop(pid, marker)
        self.unreplicated.append((first, marker))
        if control_type(batch) == ABORT_MARKER:
            # ProducerStateManager.lastStableOffset(completedTxn): the earliest other open transaction, else the
            # offset after the marker
            lso = min(self.ongoing.values(), default=marker + 1)
            segment.aborted.append(AbortedTxn(pid, first, marker, lso))

    def first_unstable_offset(self, high_watermark: int | None = None) -> int | None:
        """The smallest first offset of an ongoing or unreplicated transaction (None: none). With
        ``high_watermark``, completed transactions whose marker is below it are forgotten first."""
        if high_watermark is not None and self.unreplicated:
            self.unreplicated = [t for t in self.unreplicated if t[1] >= high_watermark]
        low: int | None = None
        for first in self.ongoing.values():
            if low is None or first < low:
                low = first
        for first, _ in self.unreplicated:
            if low is None or first < low:
                low = first
        return low

    def last_stable_offset(self, high_watermark: int) -> int:
        """``min(first unstable offset, high watermark)``."""
        first = self.first_unstable_offset(high_watermark)
        return high_watermark if first is None or first > high_watermark else first

    def rebuild(self, segments: Iterable[Any]) -> None:
        """Forget everything and replay the transactional batches of ``segments`` (their indexes are rebuilt too)."""
        self.ongoing = {}
        self.unreplicated = []
        for segment in segments:
            segment.aborted = []
            for batch in segment.batches:
                if batch.is_transactional:
                    self.on_append(batch, segment)

    @staticmethod
    def collect_aborted(segments: Iterable[Any], start_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """Aborted transactions overlapping ``[start_offset, upper_bound)`` (``collectAbortedTransactions``);
        ``segments`` from the one holding ``start_offset`` on."""
        out: list[AbortedTxn] = []
        for segment in segments:
            for entry in segment.aborted:
                if entry.last_offset >= start_offset and entry.first_offset < upper_bound:
                    out.append(entry)
        return out

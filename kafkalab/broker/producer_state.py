"""Idempotent producer state of one partition (Kafka's ``ProducerStateManager`` and ``ProducerAppendInfo``).

How it works. Every batch of an idempotent producer carries ``(producer_id, producer_epoch, base_sequence)``; its last
sequence is ``base_sequence + last_offset_delta`` (wrapping after ``Integer.MAX_VALUE`` to 0, as
``DefaultRecordBatch.incrementSequence``). The leader keeps, per producer id, the epoch and the metadata of the last
five batches it appended (``ProducerStateEntry.NUM_BATCHES_TO_RETAIN``; the producer keeps at most five in flight).
:meth:`ProducerStateManager.check` runs before an append, in Kafka's order:

1. a batch equal (same epoch, first and last sequence) to one of the retained five is a *duplicate*: it is not
   appended again and is answered with the original offsets (``findDuplicateBatch``);
2. an epoch older than the producer's is INVALID_PRODUCER_EPOCH (``checkProducerEpoch``);
3. a newer epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
4. the same epoch must continue at ``last sequence + 1``, else OUT_OF_ORDER_SEQUENCE_NUMBER (``checkSequence``);
   an entry of that epoch with no batch retained (a transaction marker moved the producer to it, KIP-890) has last
   sequence -1, so the batch must start at 0, as Kafka's ``currentLastSeq = NO_SEQUENCE``.
   A producer id the partition has no state for accepts any sequence (its state may have been removed by retention).

:meth:`update` records the appended batch. The state is rebuilt from the log's batches (per batch, never per record)
when a replica becomes leader (:meth:`rebuild`), which is what Kafka's snapshots plus log recovery give.

Transactions (KIP-98): a transaction marker (a control batch written by the transaction coordinator) is checked by
:meth:`ProducerStateManager.check_marker` (its epoch may not be older than the producer's: INVALID_PRODUCER_EPOCH, as
``ProducerAppendInfo.checkProducerEpoch`` for markers; then a coordinator epoch older than the last marker's of the
producer is TRANSACTION_COORDINATOR_FENCED, ``checkCoordinatorEpoch``: a deposed coordinator's marker) and moves the
producer to the marker's epoch and coordinator epoch without a batch (``appendEndTxnMarker``; the coordinator epoch
is read from the marker's ``EndTransactionMarker`` value, so a rebuild from the log knows it); under transaction
version 2 that epoch is the bumped one, so the next transaction starts at sequence 0. The ongoing transactions, the
last stable offset and the aborted index are the log's
(:mod:`kafkalab.log.txn_index`). KIP-890's verification guard (:meth:`ProducerStateManager.start_verification`): before a
producer's first transactional batch of a transaction is appended, the leader asks the transaction coordinator; a
marker written meanwhile clears the guard, so a verified append that lost the race is refused (INVALID_TXN_STATE).
The guard also keeps the lowest sequence of the batches verified with it (Kafka's ``VerificationStateEntry``): until
the producer's first transactional batch here is appended, a batch above that sequence is OUT_OF_ORDER_SEQUENCE_NUMBER,
so a batch verified sooner cannot overtake the transaction's first one (the producer resends it behind).

Simplifications: no producer id expiration (``producer.id.expiration.ms``), no snapshot files (the rebuild scans the
log).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from kafkalab.common.records import NO_PRODUCER_EPOCH, RecordBatch
from kafkalab.protocol.produce import NUM_BATCHES_TO_RETAIN

__all__ = ["BatchMetadata", "ProducerStateEntry", "ProducerStateManager", "VerificationState", "marker_coordinator_epoch"]

_INT_MAX = 2**31 - 1
NONE = "NONE"
OUT_OF_ORDER_SEQUENCE_NUMBER = "OUT_OF_ORDER_SEQUENCE_NUMBER"
INVALID_PRODUCER_EPOCH = "INVALID_PRODUCER_EPOCH"
TRANSACTION_COORDINATOR_FENCED = "TRANSACTION_COORDINATOR_FENCED"


def _last_sequence(base_sequence: int, delta: int) -> int:
    if base_sequence > _INT_MAX - delta:
        return base_sequence + delta - _INT_MAX - 1
    return base_sequence + delta


def marker_coordinator_epoch(batch: RecordBatch) -> int:
    """The coordinator epoch in a marker's ``EndTransactionMarker`` value (version int16, epoch int32; -1 if absent)."""
    value = batch.rows[0][1] if batch.rows else None
    if not isinstance(value, bytes) or len(value) < 6:
        return -1
    return int.from_bytes(value[2:6], "big", signed=True)


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _INT_MAX)


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    """What the leader remembers of one appended batch of a producer."""

    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp_ms: int


class VerificationState:
    """A producer's KIP-890 verification guard on one partition (Kafka's ``VerificationStateEntry``): the object a
    verified append must present, with the lowest sequence and the epoch of the batches verified with it."""

    __slots__ = ("lowest_sequence", "epoch", "appended")

    def __init__(self, sequence: int, epoch: int) -> None:
        self.lowest_sequence = sequence
        self.epoch = epoch
        #: a transactional batch of the producer was appended since (Kafka drops the entry then)
        self.appended = False

    def update(self, sequence: int, epoch: int) -> None:
        """``maybeUpdateLowestSequenceAndEpoch``: a lower sequence of the same epoch, or any of a newer epoch."""
        if epoch == self.epoch and sequence < self.lowest_sequence:
            self.lowest_sequence = sequence
        if epoch > self.epoch:
            self.epoch = epoch
            self.lowest_sequence = sequence


@dataclass(slots=True)
class ProducerStateEntry:
    producer_id: int
    producer_epoch: int
    #: the coordinator epoch of the producer's last transaction marker (-1: none yet)
    coordinator_epoch: int = -1
    batches: deque[BatchMetadata] = field(default_factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1

    def find_duplicate(self, batch: RecordBatch) -> BatchMetadata | None:
        if batch.producer_epoch != self.producer_epoch:
            return None
        first = batch.base_sequence
        last = _last_sequence(first, batch.last_offset_delta)
        for meta in self.batches:
            if meta.first_seq == first and meta.last_seq == last:
                return meta
        return None


class ProducerStateManager:
    """Producer id -> :class:`ProducerStateEntry` for one partition."""

    __slots__ = ("producers", "verification")

    def __init__(self) -> None:
        self.producers: dict[int, ProducerStateEntry] = {}
        #: producer id -> its verification guard while a KIP-890 verification is pending or done
        self.verification: dict[int, VerificationState] = {}

    def check(self, batch: RecordBatch) -> tuple[str, BatchMetadata | None]:
        """Validate an idempotent batch before a leader append: ``(error name, duplicate or None)``."""
        entry = self.producers.get(batch.producer_id)
        duplicate = None if entry is None else entry.find_duplicate(batch)
        if duplicate is not None:
            return NONE, duplicate
        guard = self.verification.get(batch.producer_id)
        if guard is not None and not guard.appended and batch.base_sequence > guard.lowest_sequence:
            return OUT_OF_ORDER_SEQUENCE_NUMBER, None      # a batch verified with it, lower, goes first
        if entry is None:
            return NONE, None
        epoch = batch.producer_epoch
        if epoch < entry.producer_epoch:
            return INVALID_PRODUCER_EPOCH, None
        if epoch > entry.producer_epoch:
            if batch.base_sequence != 0 and entry.producer_epoch != NO_PRODUCER_EPOCH:
                return OUT_OF_ORDER_SEQUENCE_NUMBER, None
            return NONE, None
        # An entry without batches (only a marker of this epoch so far) has last sequence -1: the next must be 0.
        if entry.producer_epoch != NO_PRODUCER_EPOCH and not _in_sequence(entry.last_seq, batch.base_sequence):
            return OUT_OF_ORDER_SEQUENCE_NUMBER, None
        return NONE, None

    def check_marker(self, producer_id: int, producer_epoch: int, coordinator_epoch: int = -1) -> str:
        """Validate a transaction marker before a leader append: ``checkProducerEpoch`` (INVALID_PRODUCER_EPOCH),
        then ``checkCoordinatorEpoch`` (TRANSACTION_COORDINATOR_FENCED for a coordinator epoch below the last one
        seen for the producer)."""
        entry = self.producers.get(producer_id)
        if entry is None:
            return NONE
        if producer_epoch < entry.producer_epoch:
            return INVALID_PRODUCER_EPOCH
        if coordinator_epoch < entry.coordinator_epoch:
            return TRANSACTION_COORDINATOR_FENCED
        return NONE

    def start_verification(self, producer_id: int, sequence: int = -1, epoch: int = -1) -> VerificationState:
        """The verification guard of ``producer_id`` (Kafka's ``VerificationGuard`` in its
        ``VerificationStateEntry``): a new one, or the pending one when a verification of the producer is already
        under way (``maybeCreateVerificationStateEntry`` keeps the entry, so requests verified together share it),
        its lowest sequence updated with the batch's ``sequence`` and ``epoch`` (-1: not tracked). The append that
        follows the coordinator's answer must present this very object."""
        guard = self.verification.get(producer_id)
        if guard is None:
            guard = self.verification[producer_id] = VerificationState(
                sequence if sequence >= 0 else _INT_MAX, epoch)
        elif sequence >= 0:
            guard.update(sequence, epoch)
        return guard

    def verified(self, producer_id: int, guard: object) -> bool:
        """Whether ``guard`` is still the producer's (no marker came in between)."""
        return self.verification.get(producer_id) is guard

    def update(self, batch: RecordBatch) -> None:
        """Remember an appended batch (it has its offsets)."""
        pid = batch.producer_id
        if pid < 0:
            return
        if batch.is_control:
            self.verification.pop(pid, None)
            entry = self.producers.get(pid)
            if entry is None or entry.producer_epoch != batch.producer_epoch:
                entry = self.producers[pid] = ProducerStateEntry(pid, batch.producer_epoch)
            entry.coordinator_epoch = marker_coordinator_epoch(batch)
            return
        if batch.is_transactional:
            guard = self.verification.get(pid)
            if guard is not None:
                guard.appended = True
        entry = self.producers.get(pid)
        if entry is None or entry.producer_epoch != batch.producer_epoch:
            entry = ProducerStateEntry(pid, batch.producer_epoch, -1 if entry is None else entry.coordinator_epoch)
            self.producers[pid] = entry
        first = batch.base_sequence
        entry.batches.append(BatchMetadata(first, _last_sequence(first, batch.last_offset_delta), batch.base_offset,
                                           batch.last_offset, batch.max_timestamp_ms))

    def rebuild(self, batches: Iterable[RecordBatch]) -> None:
        """Forget everything and replay the log's batches (per batch)."""
        self.producers = {}
        self.verification = {}
        update = self.update
        for batch in batches:
            if batch.producer_id >= 0:
                update(batch)

    def last_sequence(self, producer_id: int) -> int | None:
        entry = self.producers.get(producer_id)
        return None if entry is None else entry.last_seq

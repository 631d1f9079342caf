"""A transactional id's state at its coordinator (Kafka's ``TransactionMetadata``, ``TransactionState`` and the
``__transaction_state`` record of ``TransactionLog``).

How it works. :class:`TransactionState` has Kafka's eight states; :data:`VALID_PREVIOUS_STATES` is Kafka's table of
legal previous states, and :meth:`TransactionMetadata.prepare` is the one checked transition: it refuses (raising
:class:`~kafkalab.errors.InvariantViolation`, the state unchanged) a move the table does not allow. As in Kafka a
transition is two steps: ``prepare`` sets ``pending`` to the target (a :class:`TxnTransit`, the record to write) and
:meth:`TransactionMetadata.complete` applies it once the record is committed in ``__transaction_state``; a failed
write clears ``pending`` and changes nothing. While ``pending`` is set, requests get CONCURRENT_TRANSACTIONS.

States (``action`` / ``transition``, as Kafka documents them):

- Empty: no transaction; ``InitProducerId`` bumps the epoch here; AddPartitionsToTxn -> Ongoing.
- Ongoing: partitions were added; EndTxn -> PrepareCommit or PrepareAbort; a new producer or the timeout ->
  PrepareEpochFence (never written) -> PrepareAbort.
- PrepareCommit / PrepareAbort: the decision is written; markers go to every partition, then -> CompleteCommit /
  CompleteAbort.
- CompleteCommit / CompleteAbort: done; the next transaction (Ongoing) or InitProducerId (Empty) may follow.
- Dead: an idle transactional id (Empty, CompleteCommit or CompleteAbort, no pending transition, last updated
  ``transactional.id.expiration.ms`` ago) being expired: :meth:`TransactionMetadata.prepare_dead` sets it pending
  while its tombstone is written, and the coordinator then forgets the id. As in Kafka, Dead is only ever pending:
  :meth:`TransactionMetadata.complete` refuses to apply it.

Transaction version 2 (KIP-890): ``prepare_abort_or_commit`` bumps the epoch, so markers and the next transaction use
the new one; version 1 keeps it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvariantViolation

__all__ = ["TransactionState", "VALID_PREVIOUS_STATES", "TransactionMetadata", "TxnTransit", "TxnLogValue",
           "TXN_KEY_TAG", "txn_key", "parse_txn_key", "MAX_EPOCH", "EXPIRABLE_STATES"]

#: ``Short.MaxValue - 1``: an epoch past this is exhausted and the producer id rotates
MAX_EPOCH = 32766


class TransactionState(enum.Enum):
    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    PREPARE_EPOCH_FENCE = "PrepareEpochFence"
    DEAD = "Dead"


S = TransactionState

#: Kafka's ``TransactionState.validPreviousStates``
VALID_PREVIOUS_STATES: dict[TransactionState, frozenset[TransactionState]] = {
    S.EMPTY: frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.ONGOING: frozenset({S.ONGOING, S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.PREPARE_COMMIT: frozenset({S.ONGOING}),
    S.PREPARE_ABORT: frozenset({S.ONGOING, S.PREPARE_EPOCH_FENCE}),
    S.COMPLETE_COMMIT: frozenset({S.PREPARE_COMMIT}),
    S.COMPLETE_ABORT: frozenset({S.PREPARE_ABORT}),
    S.PREPARE_EPOCH_FENCE: frozenset({S.ONGOING}),
    S.DEAD: frozenset({S.EMPTY, S.COMPLETE_ABORT, S.COMPLETE_COMMIT}),
}

#: states in which an idle transactional id may expire (Kafka's ``TransactionState.isExpirationAllowed``)
EXPIRABLE_STATES: frozenset[TransactionState] = frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT})

#: first byte of a ``__transaction_state`` key
TXN_KEY_TAG = b"T"


def txn_key(transactional_id: str) -> bytes:
    return TXN_KEY_TAG + transactional_id.encode("utf-8")


def parse_txn_key(key: bytes) -> str:
    return key[1:].decode("utf-8")


@dataclass(frozen=True, slots=True)
class TxnLogValue:
    """The value of a ``__transaction_state`` record (``TransactionLogValue``): the state after a transition."""

    producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    timeout_ms: int
    state: str
    partitions: tuple[TopicPartition, ...]
    txn_start_ms: float
    last_update_ms: float
    transaction_version: int

    def serialized_size(self) -> int:
        # version, producer id, epochs, timeout, state, timestamps, TV: ~40 bytes; per partition ~ topic + 8
        return 40 + sum(len(tp.topic) + 8 for tp in self.partitions)


@dataclass(frozen=True, slots=True)
class TxnTransit:
    """A prepared transition (Kafka's ``TxnTransitMetadata``): what the record says and what the state becomes."""

    state: TransactionState
    producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    timeout_ms: int
    partitions: frozenset[TopicPartition]
    txn_start_ms: float
    last_update_ms: float
    transaction_version: int

    def value(self) -> TxnLogValue:
        return TxnLogValue(self.producer_id, self.producer_epoch, self.last_producer_epoch, self.timeout_ms,
                           self.state.value, tuple(sorted(self.partitions)), self.txn_start_ms, self.last_update_ms,
                           self.transaction_version)


@dataclass(slots=True)
class TransactionMetadata:
    """One transactional id at its coordinator."""

    transactional_id: str
    producer_id: int
    producer_epoch: int = -1
    last_producer_epoch: int = -1
    timeout_ms: int = 60_000
    state: TransactionState = TransactionState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    txn_start_ms: float = -1
    last_update_ms: float = 0
    transaction_version: int = 0
    pending: TxnTransit | None = None
    #: the group ids of AddOffsetsToTxn in this transaction (their __consumer_offsets partitions are in partitions)
    history: list[tuple[float, str]] = field(default_factory=list)

    @classmethod
    def from_value(cls, transactional_id: str, value: TxnLogValue) -> TransactionMetadata:
        return cls(transactional_id, value.producer_id, value.producer_epoch, value.last_producer_epoch,
                   value.timeout_ms, TransactionState(value.state), set(value.partitions), value.txn_start_ms,
                   value.last_update_ms, value.transaction_version)

    # ---- the checked transition -----------------------------------------------------------------------------------
    def prepare(self, state: TransactionState, *, producer_id: int | None = None, producer_epoch: int | None = None,
                last_producer_epoch: int | None = None, timeout_ms: int | None = None,
                partitions: frozenset[TopicPartition] | None = None, txn_start_ms: float | None = None,
                now_ms: float, transaction_version: int | None = None) -> TxnTransit:
        """Check ``state`` against the table and set ``pending`` (``prepareTransitionTo``)."""
        if self.pending is not None:
            raise InvariantViolation(f"transactional id {self.transactional_id!r}: a transition to "
                                     f"{self.pending.state.value} is already pending; cannot prepare {state.value}")
        if self.state not in VALID_PREVIOUS_STATES[state]:
            allowed = ", ".join(sorted(s.value for s in VALID_PREVIOUS_STATES[state]))
            raise InvariantViolation(f"transactional id {self.transactional_id!r}: illegal transition "
                                     f"{self.state.value} -> {state.value} (allowed from: {allowed})")
        transit = TxnTransit(
            state, self.producer_id if producer_id is None else producer_id,
            self.producer_epoch if producer_epoch is None else producer_epoch,
            self.last_producer_epoch if last_producer_epoch is None else last_producer_epoch,
            self.timeout_ms if timeout_ms is None else timeout_ms,
            frozenset(self.partitions) if partitions is None else partitions,
            self.txn_start_ms if txn_start_ms is None else txn_start_ms, now_ms,
            self.transaction_version if transaction_version is None else transaction_version)
        self.pending = transit
        return transit

    def complete(self, transit: TxnTransit) -> None:
        """The transit's record is committed: apply it (``completeTransitionTo``)."""
        if self.pending is not transit:
            raise InvariantViolation(f"transactional id {self.transactional_id!r}: completing {transit.state.value} "
                                     f"which is not the pending transition")
        if transit.state is S.DEAD:
            raise InvariantViolation(f"transactional id {self.transactional_id!r}: Dead is never completed; an "
                                     f"expired id is removed from its coordinator once its tombstone is written")
        self.pending = None
        self.apply(transit)

    def apply(self, transit: TxnTransit) -> None:
        self.state = transit.state
        self.producer_id = transit.producer_id
        self.producer_epoch = transit.producer_epoch
        self.last_producer_epoch = transit.last_producer_epoch
        self.timeout_ms = transit.timeout_ms
        self.partitions = set(transit.partitions)
        self.txn_start_ms = transit.txn_start_ms
        self.last_update_ms = transit.last_update_ms
        self.transaction_version = transit.transaction_version
        self.history.append((transit.last_update_ms, transit.state.value))

    def abort_pending(self) -> None:
        """The write failed: nothing changes."""
        self.pending = None

    # ---- Kafka's prepare* helpers ---------------------------------------------------------------------------------
    @property
    def epoch_exhausted(self) -> bool:
        return self.producer_epoch >= MAX_EPOCH - 1

    def prepare_increment_epoch(self, timeout_ms: int, now_ms: float, transaction_version: int) -> TxnTransit:
        """InitProducerId on Empty/Complete*: a new epoch, no partitions (``prepareIncrementProducerEpoch``)."""
        return self.prepare(S.EMPTY, producer_epoch=self.producer_epoch + 1, last_producer_epoch=self.producer_epoch,
                            timeout_ms=timeout_ms, partitions=frozenset(), txn_start_ms=-1, now_ms=now_ms,
                            transaction_version=transaction_version)

    def prepare_rotate(self, producer_id: int, timeout_ms: int, now_ms: float,
                       transaction_version: int) -> TxnTransit:
        """The epoch is exhausted: a new producer id at epoch 0 (``prepareProducerIdRotation``)."""
        return self.prepare(S.EMPTY, producer_id=producer_id, producer_epoch=0, last_producer_epoch=-1,
                            timeout_ms=timeout_ms, partitions=frozenset(), txn_start_ms=-1, now_ms=now_ms,
                            transaction_version=transaction_version)

    def prepare_add_partitions(self, added: frozenset[TopicPartition], now_ms: float,
                               transaction_version: int) -> TxnTransit:
        start = now_ms if self.state in (S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT) else self.txn_start_ms
        return self.prepare(S.ONGOING, partitions=frozenset(self.partitions) | added, txn_start_ms=start,
                            now_ms=now_ms, transaction_version=transaction_version)

    def prepare_fence(self, now_ms: float) -> TxnTransit:
        """A new producer (or the timeout) fences the ongoing transaction: epoch + 1, never written
        (``prepareFenceProducerEpoch``); the abort that follows is."""
        return self.prepare(S.PREPARE_EPOCH_FENCE, producer_epoch=min(self.producer_epoch + 1, MAX_EPOCH + 1),
                            last_producer_epoch=self.producer_epoch, now_ms=now_ms)

    def prepare_abort_or_commit(self, commit: bool, now_ms: float, transaction_version: int) -> TxnTransit:
        """PrepareCommit / PrepareAbort; transaction version 2 bumps the epoch (KIP-890)."""
        epoch, last = self.producer_epoch, self.last_producer_epoch
        if transaction_version >= 2:
            epoch, last = self.producer_epoch + 1, self.producer_epoch
        return self.prepare(S.PREPARE_COMMIT if commit else S.PREPARE_ABORT, producer_epoch=epoch,
                            last_producer_epoch=last, now_ms=now_ms, transaction_version=transaction_version)

    def prepare_dead(self) -> TxnTransit:
        """An idle id expires: Dead, no partitions, the last update time kept (``prepareDead``)."""
        return self.prepare(S.DEAD, partitions=frozenset(), now_ms=self.last_update_ms)

    def prepare_complete(self, now_ms: float) -> TxnTransit:
        state = S.COMPLETE_COMMIT if self.state is S.PREPARE_COMMIT else S.COMPLETE_ABORT
        return self.prepare(state, partitions=frozenset(), now_ms=now_ms)

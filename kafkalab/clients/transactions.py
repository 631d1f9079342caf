"""The transactional producer's state machine (the transaction half of Kafka's ``TransactionManager``; KIP-98,
KIP-447, KIP-890).

How it works. A producer with ``transactional.id`` gets a :class:`TransactionManager` on its core. Its states are
Kafka's (``UNINITIALIZED``, ``INITIALIZING``, ``READY``, ``IN_TRANSACTION``, ``COMMITTING_TRANSACTION``,
``ABORTING_TRANSACTION``, ``ABORTABLE_ERROR``, ``FATAL_ERROR``) with Kafka's legal transitions
(:data:`VALID_TRANSITIONS`); a call out of order raises :class:`~kafkalab.errors.InvalidTxnStateError` with Kafka's
text ("TransactionalId tx-1: Invalid transition attempted from state READY to state COMMITTING_TRANSACTION").

Requests to the coordinator (found with FindCoordinator, key type 1) are :class:`_Call` s: sent, and sent again after
``retry.backoff.ms`` on CONCURRENT_TRANSACTIONS, COORDINATOR_LOAD_IN_PROGRESS, a lost coordinator
(NOT_COORDINATOR/COORDINATOR_NOT_AVAILABLE: found again) or a lost connection, until a final answer.

- ``init_transactions``: InitProducerId with the transactional id and ``transaction.timeout.ms``; the answer gives
  the id, the epoch and (a stand-in for ApiVersions' finalized features) whether transaction version 2 is in force.
- Under version 1 the sender adds each partition with AddPartitionsToTxn before its first batch of the transaction
  (batches of a partition not yet added wait); under version 2 the partition leader adds it (KIP-890).
- ``commit``/``abort``: every batch of the transaction completes first (an abort fails those never sent); a failed
  batch makes the transaction abortable (``commit`` then raises TransactionAbortableError); EndTxn follows if
  anything was sent or offsets were added. Version 2 takes the new epoch from EndTxn's answer; either way the
  partitions' sequences start again when the epoch changes.
- Fatal errors (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING, TRANSACTIONAL_ID_AUTHORIZATION
  ...) make every later call raise that error.
- A ``commit_transaction``/``abort_transaction`` that times out in the application (KafkaTimeoutError) leaves its
  :class:`PendingEnd` (Kafka's ``pendingTransition``): calling the same method again resumes it (the flush, then the
  same EndTxn, never a second one); any other transactional call is refused until then, with Kafka's "Cannot attempt
  operation `beginTransaction` because the previous call to `commitTransaction` timed out and must be retried".

Simplification (named): an abort whose batches may have been written under the current epoch does not bump the
epoch by itself (Kafka's client bumps it with InitProducerId under KIP-360); under version 2 EndTxn bumps it anyway.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.errors import (
    InvalidTxnStateError,
    KafkaError,
    TransactionAbortableError,
    error_for_name,
)
from kafkalab.protocol.group import FindCoordinatorRequest, FindCoordinatorResponse
from kafkalab.protocol.txn import (
    COORDINATOR_GROUP,
    COORDINATOR_TRANSACTION,
    AddOffsetsToTxnRequest,
    AddPartitionsToTxnRequest,
    EndTxnRequest,
    InitProducerIdRequest,
    TxnOffsetCommitRequest,
)

if TYPE_CHECKING:
    from kafkalab.clients.sender import ProducerCore

__all__ = ["TransactionManager", "TxnState", "VALID_TRANSITIONS", "GroupMetadata", "PendingEnd"]


class TxnState(enum.Enum):
    UNINITIALIZED = "UNINITIALIZED"
    INITIALIZING = "INITIALIZING"
    READY = "READY"
    IN_TRANSACTION = "IN_TRANSACTION"
    COMMITTING_TRANSACTION = "COMMITTING_TRANSACTION"
    ABORTING_TRANSACTION = "ABORTING_TRANSACTION"
    ABORTABLE_ERROR = "ABORTABLE_ERROR"
    FATAL_ERROR = "FATAL_ERROR"


T = TxnState
#: Kafka's ``TransactionManager.State.isTransitionValid``: target -> legal sources
VALID_TRANSITIONS: dict[TxnState, frozenset[TxnState]] = {
    T.UNINITIALIZED: frozenset(),
    T.INITIALIZING: frozenset({T.UNINITIALIZED, T.ABORTING_TRANSACTION}),
    T.READY: frozenset({T.INITIALIZING, T.COMMITTING_TRANSACTION, T.ABORTING_TRANSACTION}),
    T.IN_TRANSACTION: frozenset({T.READY}),
    T.COMMITTING_TRANSACTION: frozenset({T.IN_TRANSACTION}),
    T.ABORTING_TRANSACTION: frozenset({T.IN_TRANSACTION, T.ABORTABLE_ERROR}),
    T.ABORTABLE_ERROR: frozenset({T.IN_TRANSACTION, T.COMMITTING_TRANSACTION, T.ABORTABLE_ERROR}),
    T.FATAL_ERROR: frozenset(TxnState),
}

#: errors after which the producer can do nothing more (Kafka's fatal errors)
FATAL = frozenset({"PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "INVALID_PRODUCER_ID_MAPPING",
                   "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "INVALID_TRANSACTION_TIMEOUT", "UNSUPPORTED_VERSION",
                   "TRANSACTION_COORDINATOR_FENCED"})
_RETRY = frozenset({"CONCURRENT_TRANSACTIONS", "COORDINATOR_LOAD_IN_PROGRESS", "NOT_COORDINATOR",
                    "COORDINATOR_NOT_AVAILABLE", "REQUEST_TIMED_OUT", "NETWORK_EXCEPTION", "UNKNOWN_TOPIC_OR_PARTITION",
                    "NOT_ENOUGH_REPLICAS", "NOT_LEADER_OR_FOLLOWER"})
_LOST_COORDINATOR = frozenset({"NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE"})


class GroupMetadata:
    """``consumer.group_metadata()`` (Kafka's ``ConsumerGroupMetadata``): what TxnOffsetCommit fences with."""

    __slots__ = ("group_id", "generation_id", "member_id", "group_instance_id")

    def __init__(self, group_id: str, generation_id: int = -1, member_id: str = "",
                 group_instance_id: str | None = None) -> None:
        self.group_id = group_id
        self.generation_id = generation_id
        self.member_id = member_id
        self.group_instance_id = group_instance_id

    def __repr__(self) -> str:
        return (f"GroupMetadata(group_id={self.group_id!r}, generation_id={self.generation_id}, "
                f"member_id={self.member_id!r}, group_instance_id={self.group_instance_id!r})")


class _Call:
    """One request to a coordinator, retried until a final answer; ``done``/``error``/``response`` then."""

    def __init__(self, tm: TransactionManager, key: str, key_type: int, build: Callable[[int], Any],
                 error_of: Callable[[Any], str]) -> None:
        self.tm = tm
        self.key = key
        self.key_type = key_type
        self.build = build
        self.error_of = error_of
        self.done = False
        self.error: str | None = None
        self.response: Any = None
        self.attempts = 0
        self._go()

    def _go(self) -> None:
        tm = self.tm
        node = tm.coordinators.get((self.key_type, self.key))
        core = tm.core
        if node is None:
            nodes = list(core.metadata.brokers.values()) or core.bootstrap
            target = core.network.least_loaded(nodes, core.port.now, core._rng)
            if target is None:
                self._later()
                return
            core.network.send(target, lambda cid: FindCoordinatorRequest(self.key, self.key_type, cid), self._found)
            return
        core.network.send(node, self.build, self._answer)

    def _found(self, response: Any, error: str | None) -> None:
        if error is None and isinstance(response, FindCoordinatorResponse) and response.error == "NONE":
            self.tm.coordinators[(self.key_type, self.key)] = self.tm.core.metadata._broker_node(response.node_id)
            self._go()
        else:
            self._later()

    def _later(self) -> None:
        self.attempts += 1
        core = self.tm.core
        core.port.set_timer(core._backoff_ms(self.attempts), self._go, name="txn-retry")

    def _answer(self, response: Any, error: str | None) -> None:
        err = error if error is not None else self.error_of(response)
        if err in _RETRY or error is not None:
            self.tm.core.port.record("producer.txn_retry", 1, error=err, request=self.key_type)
            if err in _LOST_COORDINATOR or error is not None:
                self.tm.coordinators.pop((self.key_type, self.key), None)
            self._later()
            return
        self.done = True
        self.error = None if err == "NONE" else err
        self.response = response
        self.tm.core.wakeup()


class PendingEnd:
    """A commit or abort under way (Kafka's ``PendingStateTransition``): ``requested`` once its records are flushed
    and its EndTxn ``call`` (None when the transaction never reached the coordinator) is made."""

    __slots__ = ("commit", "operation", "call", "requested")

    def __init__(self, commit: bool, operation: str) -> None:
        self.commit = commit
        self.operation = operation
        self.call: _Call | None = None
        self.requested = False


class TransactionManager:
    """The transaction state of one producer incarnation."""

    def __init__(self, core: ProducerCore, transactional_id: str, timeout_ms: int) -> None:
        self.core = core
        self.transactional_id = transactional_id
        self.timeout_ms = timeout_ms
        self.state = T.UNINITIALIZED
        self.coordinators: dict[tuple[int, str], Any] = {}
        self.transaction_version = 2
        self.added: set[TopicPartition] = set()
        self.adding: _Call | None = None
        self._on_added: Callable[[], None] | None = None
        self.to_add: set[TopicPartition] = set()
        self.started = False
        self.last_error: KafkaError | None = None
        self.history_op = -1
        self.writes: list[tuple[str, int, int, Any, Any]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.group_id: str | None = None
        #: a commit or abort that timed out in the application, resumed by calling the same method again
        self.pending_end: PendingEnd | None = None

    # ---- the state table -------------------------------------------------------------------------------------
    def transition(self, target: TxnState) -> None:
        if self.state is T.FATAL_ERROR and target is not T.FATAL_ERROR:
            raise self._fatal()
        if self.state not in VALID_TRANSITIONS[target]:
            if self.state is T.ABORTABLE_ERROR and self.last_error is not None:
                raise TransactionAbortableError(
                    f"TransactionalId {self.transactional_id}: Cannot attempt operation because the transaction "
                    f"hit an abortable error ({self.last_error.error_name}); abort_transaction() first")
            raise InvalidTxnStateError(f"TransactionalId {self.transactional_id}: Invalid transition attempted from "
                                       f"state {self.state.value} to state {target.value}")
        self.state = target

    def _fatal(self) -> KafkaError:
        error = self.last_error or KafkaError("fatal error")
        return type(error)(f"TransactionalId {self.transactional_id}: the producer is in a fatal state "
                           f"({error.error_name}): {error.message}; close it")

    def fail_fatal(self, name: str, message: str | None = None) -> KafkaError:
        error = error_for_name(name)(message or _FATAL_TEXT.get(name, name))
        self.last_error = error
        self.state = T.FATAL_ERROR
        return error

    def abortable(self, error: KafkaError) -> None:
        """A batch or offset commit of the transaction failed: only an abort may follow."""
        if error.error_name in FATAL:
            self.fail_fatal(error.error_name, error.message)
            return
        if self.state in (T.IN_TRANSACTION, T.COMMITTING_TRANSACTION, T.ABORTABLE_ERROR):
            self.last_error = error
            self.state = T.ABORTABLE_ERROR

    # ---- commit and abort, resumable after a timeout (``handleCachedTransactionRequestResult``) ------------------
    def check_not_pending(self, operation: str) -> None:
        """Kafka's ``throwIfPendingState``: nothing else while a timed-out commit or abort waits to be retried."""
        pending = self.pending_end
        if pending is not None:
            raise InvalidTxnStateError(f"Cannot attempt operation `{operation}` because the previous call to "
                                       f"`{pending.operation}` timed out and must be retried")

    def pending_for(self, commit: bool) -> PendingEnd | None:
        """The timed-out call of the same kind to resume, or None; a pending call of the other kind refuses."""
        pending = self.pending_end
        if pending is not None and pending.commit != commit:
            self.check_not_pending("commitTransaction" if commit else "abortTransaction")
        return pending

    def start_end(self, commit: bool) -> PendingEnd:
        self.pending_end = PendingEnd(commit, "commitTransaction" if commit else "abortTransaction")
        return self.pending_end

    # ---- checks the facade makes -------------------------------------------------------------------------------
    def check_send(self) -> None:
        """Kafka's ``failIfNotReadyForSend``."""
        if self.state is T.FATAL_ERROR:
            raise self._fatal()
        if self.state is T.ABORTABLE_ERROR:
            raise TransactionAbortableError(
                "Cannot perform send because at least one previous transactional or idempotent request has failed "
                f"with errors: {self.last_error}")
        if self.core.producer_id < 0 or self.state in (T.UNINITIALIZED, T.INITIALIZING):
            raise InvalidTxnStateError("Cannot perform a 'send' before completing a call to initTransactions when "
                                       "transactions are enabled.")
        if self.state is not T.IN_TRANSACTION:
            raise InvalidTxnStateError(f"Cannot call send in state {self.state.value}")

    # ---- the sender's side -------------------------------------------------------------------------------------
    def may_send(self, tp: TopicPartition) -> bool:
        """Version 1: a partition's batches go only once AddPartitionsToTxn added it."""
        self.started = True
        if self.transaction_version >= 2 or tp in self.added:
            return True
        self.to_add.add(tp)
        if self.adding is None:
            self._add_partitions()
        return False

    def _add_partitions(self) -> None:
        parts = tuple(sorted(self.to_add))
        core = self.core
        pid, epoch = core.producer_id, core.producer_epoch

        def error_of(r: Any) -> str:
            errors = [e for e in r.errors.values() if e != "NONE"]
            return errors[0] if errors else "NONE"

        call = _Call(self, self.transactional_id, COORDINATOR_TRANSACTION,
                     lambda cid: AddPartitionsToTxnRequest(self.transactional_id, pid, epoch, parts,
                                                           correlation_id=cid), error_of)
        self.adding = call

        def check() -> None:
            if not call.done:
                return
            self.adding = None
            if call.error is None:
                self.added.update(parts)
                self.to_add.difference_update(parts)
                if self.to_add:
                    self._add_partitions()
            else:
                self._batches_fail(call.error)
            core.wakeup()
        self._on_added = check

    def _batches_fail(self, error: str) -> None:
        cls = error_for_name(error)
        self.abortable(cls(_FATAL_TEXT.get(error, error)))
        core = self.core
        for tp in sorted(self.to_add):
            for batch in list(core.accumulator.queues.get(tp, ())):
                if not batch.done:
                    core.accumulator.queues[tp].remove(batch)
                    core._fail(batch, cls(f"AddPartitionsToTxn failed: {error}"), core.port.now)
        self.to_add.clear()

    def on_wakeup(self) -> None:
        """The sender woke: progress of the AddPartitionsToTxn in flight."""
        if self.adding is not None and self.adding.done and self._on_added is not None:
            hook, self._on_added = self._on_added, None
            hook()

    def record_write(self, topic: str, partition: int, base_offset: int, rows: Any) -> None:
        if self.state in (T.IN_TRANSACTION, T.COMMITTING_TRANSACTION, T.ABORTABLE_ERROR, T.ABORTING_TRANSACTION):
            for i, row in enumerate(rows):
                self.writes.append((topic, partition, base_offset + i, row[0], row[1]))

    # ---- blocking operations (the facade waits on the call's ``done``) -----------------------------------------
    def init_call(self) -> _Call:
        core = self.core
        pid, epoch = (core.producer_id, core.producer_epoch) if core.producer_id >= 0 else (-1, -1)
        return _Call(self, self.transactional_id, COORDINATOR_TRANSACTION,
                     lambda cid: InitProducerIdRequest(self.transactional_id, self.timeout_ms, pid, epoch, cid),
                     lambda r: str(r.error))

    def on_initialized(self, call: _Call) -> None:
        core = self.core
        if call.error is not None:
            if call.error in FATAL:
                raise self.fail_fatal(call.error)
            self.state = T.UNINITIALIZED
            raise error_for_name(call.error)(f"InitProducerId failed: {call.error}")
        r = call.response
        core.producer_id, core.producer_epoch = r.producer_id, r.producer_epoch
        self.transaction_version = 1 if 0 <= r.transaction_version < 2 else 2
        core._reset_sequences()
        core.port.record("producer.producer_id", core.producer_id, epoch=core.producer_epoch)
        self.state = T.READY
        core.wakeup()

    def begin(self) -> None:
        self.check_not_pending("beginTransaction")
        self.transition(T.IN_TRANSACTION)
        self.added = set()
        self.to_add = set()
        self.started = False
        self.writes = []
        self.offsets = {}
        self.group_id = None
        history = self.core.history
        if history is not None:
            self.history_op = history.invoke_txn(self.core.port.now, self.core.node_id, self.transactional_id)

    def add_offsets_call(self, group_id: str) -> _Call:
        core = self.core
        pid, epoch = core.producer_id, core.producer_epoch
        self.started = True
        return _Call(self, self.transactional_id, COORDINATOR_TRANSACTION,
                     lambda cid: AddOffsetsToTxnRequest(self.transactional_id, pid, epoch, group_id, cid),
                     lambda r: str(r.error))

    def txn_offset_commit_call(self, offsets: Mapping[TopicPartition, OffsetAndMetadata],
                               meta: GroupMetadata) -> _Call:
        core = self.core
        pid, epoch = core.producer_id, core.producer_epoch

        def error_of(r: Any) -> str:
            errors = [e for e in r.errors.values() if e != "NONE"]
            return errors[0] if errors else "NONE"
        return _Call(self, meta.group_id, COORDINATOR_GROUP,
                     lambda cid: TxnOffsetCommitRequest(self.transactional_id, meta.group_id, pid, epoch,
                                                        dict(offsets), meta.generation_id, meta.member_id,
                                                        meta.group_instance_id, cid), error_of)

    def end_call(self, commit: bool) -> _Call | None:
        """EndTxn, or None when the transaction never reached the coordinator."""
        if not self.started:
            return None
        core = self.core
        pid, epoch = core.producer_id, core.producer_epoch
        return _Call(self, self.transactional_id, COORDINATOR_TRANSACTION,
                     lambda cid: EndTxnRequest(self.transactional_id, pid, epoch, commit, cid), lambda r: str(r.error))

    def on_ended(self, call: _Call | None, commit: bool) -> None:
        core = self.core
        if call is not None and call.error is not None:
            if call.error in FATAL:
                self._complete_history("info", call.error)
                raise self.fail_fatal(call.error)
            raise error_for_name(call.error)(f"EndTxn failed: {call.error}")
        if call is not None and self.transaction_version >= 2 and call.response.producer_epoch >= 0:
            if (call.response.producer_id, call.response.producer_epoch) != (core.producer_id, core.producer_epoch):
                core.producer_id, core.producer_epoch = call.response.producer_id, call.response.producer_epoch
                core._reset_sequences()
        self._complete_history("ok" if commit else "fail", None if commit else
                               (self.last_error.error_name if self.last_error is not None else "TRANSACTION_ABORTED"))
        self.last_error = None
        self.state = T.READY
        core.wakeup()

    def _complete_history(self, type_: str, error: str | None) -> None:
        history = self.core.history
        if history is not None and self.history_op >= 0:
            history.complete_txn(self.history_op, self.core.port.now, type_, self.writes, self.offsets,
                                 self.group_id, error)
            self.history_op = -1

    def abandon(self) -> None:
        """The producer crashed: the transaction's outcome is unknown."""
        self._complete_history("info", None)


_FATAL_TEXT = {
    "PRODUCER_FENCED": "There is a newer producer with the same transactionalId which fences the current one.",
    "INVALID_PRODUCER_EPOCH": "Producer attempted to produce with an old epoch.",
    "INVALID_PRODUCER_ID_MAPPING": "The producer attempted to use a producer id which is not currently assigned to "
                                   "its transactional id.",
    "TRANSACTION_ABORTABLE": "The server encountered an error with the transaction. The client can abort the "
                             "transaction to continue using this transactional ID.",
    "INVALID_TXN_STATE": "The producer attempted a transactional operation in an invalid state.",
}

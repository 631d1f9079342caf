"""``processing.guarantee=exactly_once_v2``: the commit path of a stream thread under KIP-447 (Kafka's
``StreamsProducer`` in EOS-v2 mode and ``TaskExecutor.commitOffsetsOrTransaction``).

How it works. Each stream thread has one transactional producer (``transactional.id`` =
``<application.id>-<instance>-<thread index>``, so a restarted instance fences its previous incarnation's producer
and aborts its open transaction with ``InitProducerId``). The thread's consumers read ``read_committed``. A
transaction begins before the first record of a commit interval is sent (sinks, repartition topics and changelogs
alike: :meth:`ExactlyOnceV2Commit.before_send`). A commit (every ``commit.interval.ms``, 100 ms by default under
EOS) flushes the record caches and the producer, then adds the consumed offsets to the transaction
(AddOffsetsToTxn, then TxnOffsetCommit with the consumer's group metadata: the group coordinator refuses a member of
an older generation, which fences a zombie thread whose tasks moved) and commits it (EndTxn). Output, changelog
writes and input offsets become visible together or not at all.

These steps are requests the thread drives without blocking its node: :meth:`poll` moves the commit from one step
to the next as answers arrive, and the thread processes nothing meanwhile (Kafka's commit blocks the thread too).

Failure (a record that failed to send, a refused offset commit, a fenced producer): the transaction is aborted
(queued records failed, EndTxn(abort)) or, when the producer itself is fenced or broken, the producer is
initialized again (a new epoch aborts the old transaction); :attr:`migrated` then tells the thread to close every
task dirty, throw its in-memory state away (the state directory keeps the checkpoint of the last commit) and rejoin
the group, as Kafka's ``TaskMigratedException`` does. A rebalance that revokes tasks aborts the open transaction the
same way.

Simplification: Kafka commits the open transaction when tasks are revoked in a rebalance; here they are aborted and
their records since the last commit processed again (by whoever owns them next): exactly once all the same, with a
little more work.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.clients.transactions import FATAL, GroupMetadata, TxnState
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.errors import KafkaError, TransactionAbortedError

__all__ = ["ExactlyOnceV2Commit"]


class ExactlyOnceV2Commit:
    """The EOS-v2 commit path of one stream thread (see the module docstring)."""

    name = "exactly_once_v2"

    def __init__(self, producer: Any, port: Any) -> None:
        self.producer = producer
        self.port = port
        self.phase: str | None = None
        self.call: Any = None
        self.offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        self.meta: GroupMetadata | None = None
        self.done_cb: Callable[[Any], None] | None = None
        self.migrated: str | None = None            # why the tasks must be re-initialized (None: they need not)
        self._flushed: Callable[[], bool] | None = None
        self.commits = 0
        self.aborts = 0
        self._init()

    @property
    def txn(self) -> Any:
        return self.producer.txn

    # -- the thread's calls -------------------------------------------------------------------------------------------
    def busy(self) -> bool:
        """Whether a commit, an abort or an initialization is under way (the thread must not process)."""
        return self.phase is not None

    def ready_to_process(self) -> bool:
        return self.phase is None and self.txn.state in (TxnState.READY, TxnState.IN_TRANSACTION)

    def before_send(self) -> None:
        """Open the transaction before the first record of a commit interval."""
        if self.txn.state is TxnState.READY:
            self.txn.begin()

    def start_commit(self, collector: Any) -> None:
        collector.begin_flush()

    def ready(self, collector: Any) -> bool:
        if collector.error is not None:
            self.fail(collector.error)
            return False
        return bool(collector.flushed())

    def commit(self, group: Any, offsets: dict[TopicPartition, int], deadline_ms: float,
               done: Callable[[Any], None]) -> None:
        """Add ``offsets`` to the transaction and commit it; ``done(None)`` when committed."""
        if self.phase is not None:          # failed meanwhile (an abort is running)
            return
        if self.txn.state is TxnState.READY:
            if not offsets:
                done(None)
                return
            self.txn.begin()
        if self.txn.state is not TxnState.IN_TRANSACTION:
            self.fail(KafkaError(f"cannot commit in transaction state {self.txn.state.value}"))
            return
        self.offsets = {tp: OffsetAndMetadata(o) for tp, o in sorted(offsets.items())}
        self.meta = GroupMetadata(group.group_id, int(group.generation), str(group.member_id), group.instance_id)
        self.done_cb = done
        if self.offsets:
            self.phase, self.call = "add-offsets", self.txn.add_offsets_call(group.group_id)
        else:
            self._end()
        self.poll()

    def poll(self) -> None:
        """Move the commit, abort or initialization on as far as the answers allow."""
        for _ in range(4):
            if self.phase is None or not self._step():
                return

    def fail(self, error: BaseException) -> None:
        """Abort the open transaction (or initialize the producer again) and have the tasks re-initialized."""
        name = getattr(error, "error_name", type(error).__name__)
        self.port.record("streams.txn_aborted", 1, error=name)
        self.aborts += 1
        self.migrated = name
        cb, self.done_cb = self.done_cb, None
        if cb is not None:
            cb(error)
        txn = self.txn
        if name in FATAL or txn.state is TxnState.FATAL_ERROR:
            self._init()
            return
        if txn.state in (TxnState.IN_TRANSACTION, TxnState.ABORTABLE_ERROR, TxnState.COMMITTING_TRANSACTION):
            if txn.state is TxnState.COMMITTING_TRANSACTION:
                txn.state = TxnState.ABORTABLE_ERROR
            txn.transition(TxnState.ABORTING_TRANSACTION)
            core = self.producer
            for dq in list(core.accumulator.queues.values()):
                for batch in list(dq):
                    if not batch.done and not batch.in_flight and batch.base_sequence < 0:
                        dq.remove(batch)
                        core._fail(batch, TransactionAbortedError("Failing batch since transaction was aborted"),
                                   core.port.now)
            self._flushed = core.begin_flush()
            self.phase, self.call = "abort-flush", None
        elif txn.state is TxnState.ABORTING_TRANSACTION:
            pass                            # an abort is already running
        else:
            self.phase = None

    def abort_open(self, reason: str) -> None:
        """Tasks were revoked: abort what they wrote since the last commit."""
        if self.txn.state in (TxnState.IN_TRANSACTION, TxnState.ABORTABLE_ERROR) and self.phase is None:
            self.fail(KafkaError(reason))
            self.migrated = None            # the rebalance re-initializes the tasks already

    # -- the steps ---------------------------------------------------------------------------------------------------
    def _init(self) -> None:
        txn, core = self.txn, self.producer
        core.producer_id, core.producer_epoch = -1, -1
        txn.state, txn.last_error = TxnState.UNINITIALIZED, None
        txn.transition(TxnState.INITIALIZING)
        self.phase, self.call = "init", txn.init_call()

    def _end(self) -> None:
        self.txn.transition(TxnState.COMMITTING_TRANSACTION)
        self.phase, self.call = "end", self.txn.end_call(True)

    def _step(self) -> bool:
        phase, call, txn = self.phase, self.call, self.txn
        if phase == "abort-flush":
            assert self._flushed is not None
            if not self._flushed():
                return False
            self.producer.end_flush()
            self.phase, self.call = "abort-end", txn.end_call(False)
            return True
        if call is not None and not call.done:
            return False
        if phase == "init":
            try:
                txn.on_initialized(call)
            except KafkaError as exc:
                self.port.record("streams.txn_init_failed", 1, error=exc.error_name)
                self._init()
                return False
            self.phase = None
            return False
        if phase == "abort-end":
            try:
                txn.on_ended(call, False)
            except KafkaError:
                self._init()
                return False
            self.phase = None
            return False
        if call is not None and call.error is not None:
            self.phase = None
            txn.abortable(_error(call.error))
            self.fail(_error(call.error))
            return False
        if phase == "add-offsets":
            assert self.meta is not None
            self.phase, self.call = "offsets", txn.txn_offset_commit_call(self.offsets, self.meta)
            return True
        if phase == "offsets":
            txn.group_id = self.meta.group_id if self.meta is not None else None
            for tp, om in self.offsets.items():
                txn.offsets[(tp.topic, tp.partition)] = om.offset
            self._end()
            return True
        if phase == "end":
            try:
                txn.on_ended(call, True)
            except KafkaError as exc:
                self.phase = None
                self.fail(exc)
                return False
            self.phase = None
            self.commits += 1
            cb, self.done_cb = self.done_cb, None
            if cb is not None:
                cb(None)
            return False
        return False


def _error(name: str) -> KafkaError:
    from kafkalab.errors import error_for_name
    return error_for_name(name)(f"transactional commit failed: {name}")

"""The two transactional clients of exactly-once source support (KIP-618): a task's transactional producer, and the
leader's zombie fencing (Kafka's ``Admin.fenceProducers``), both non-blocking inside a worker node.

How it works. :class:`TransactionalProducer` is a :class:`~kafkalab.connect.worker_clients.WorkerProducer` whose
producer has ``transactional.id`` ``<group.id>-<connector>-<task>`` (Kafka's ``Worker.taskTransactionalId``) and
idempotence on. It drives the producer's :class:`~kafkalab.clients.transactions.TransactionManager` through the same
steps and state checks as ``KafkaProducer``'s ``initTransactions``/``beginTransaction``/``commitTransaction``/
``abortTransaction`` (the transitions, the coordinator calls, the errors), but where the facade blocks it registers a
continuation, checked after every answer its client slot receives; a worker never blocks the simulation. An abort
lets the transaction's records finish before EndTxn(abort) (Kafka's producer fails the ones not yet sent; either way
no read_committed reader sees them).

:class:`ProducerFencer` is ``fenceProducers``: for each transactional id, FindCoordinator (key type 1), then
InitProducerId with that id and no producer id or epoch, which bumps the id's epoch at its coordinator, aborts its
open transaction and so fences whichever producer held it. It retries what Kafka's ``FenceProducersHandler`` retries
(COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS, a lost coordinator or connection) until Connect's REST
timeout (90 s), and fails on anything else with Kafka's text.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from kafkalab.clients.network import NetworkClient
from kafkalab.clients.transactions import TxnState
from kafkalab.connect.mux import Mux
from kafkalab.connect.worker_clients import WorkerProducer
from kafkalab.errors import KafkaError
from kafkalab.protocol.group import FindCoordinatorRequest, FindCoordinatorResponse
from kafkalab.protocol.txn import COORDINATOR_TRANSACTION, InitProducerIdRequest, InitProducerIdResponse

__all__ = ["TransactionalProducer", "ProducerFencer", "task_transactional_id", "FENCE_TIMEOUT_MS"]

#: Kafka's ``RestServer.DEFAULT_REST_REQUEST_TIMEOUT_MS``, the timeout Connect gives ``fenceProducers``
FENCE_TIMEOUT_MS = 90_000.0
_RETRIABLE = frozenset({"COORDINATOR_LOAD_IN_PROGRESS", "CONCURRENT_TRANSACTIONS"})
_UNMAPPED = frozenset({"NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE"})

Done = Callable[[KafkaError | None], None]


def task_transactional_id(group_id: str, connector: str, task: int) -> str:
    """Kafka's ``Worker.taskTransactionalId``: ``<group.id>-<connector>-<task>``."""
    return f"{group_id}-{connector}-{task}"


class TransactionalProducer(WorkerProducer):
    """A task's transactional producer: ``init``, ``begin``, ``send``, ``commit``, ``abort`` with callbacks."""

    def __init__(self, mux: Mux, name: str, bootstrap: Sequence[Any], transactional_id: str,
                 overrides: dict[str, Any] | None = None) -> None:
        cfg = dict(overrides or {})
        cfg["transactional.id"] = transactional_id
        super().__init__(mux, name, bootstrap, cfg, idempotent=True)
        self.transactional_id = transactional_id
        self.txn = self.core.txn
        self.mux = mux
        self._waiters: list[tuple[Callable[[], bool], Callable[[], None]]] = []
        self.closed = False

    # -- continuations --------------------------------------------------------------------------------------------
    def _retry_pending(self) -> None:
        super()._retry_pending()
        self._check_waiters()

    def _when(self, ready: Callable[[], bool], then: Callable[[], None]) -> None:
        if ready():
            then()
        else:
            self._waiters.append((ready, then))

    def _check_waiters(self) -> None:
        while self._waiters and not self.closed:
            ready = [(r, t) for r, t in self._waiters if r()]
            if not ready:
                return
            self._waiters = [(r, t) for r, t in self._waiters if (r, t) not in ready]
            for _r, then in ready:
                then()

    def _flushed(self) -> Callable[[], bool]:
        """Everything handed to ``send`` so far is acknowledged or failed (Kafka's ``flush``)."""
        state: dict[str, Any] = {"flushed": None}

        def ready() -> bool:
            if self._pending:
                return False
            if state["flushed"] is None:
                state["flushed"] = self.core.begin_flush()
            if state["flushed"]():
                self.core.end_flush()
                return True
            return False
        return ready

    # -- the transaction API ----------------------------------------------------------------------------------------
    def init(self, done: Done) -> None:
        """``initTransactions``: fences older producers of this transactional id, aborting their transaction."""
        txn = self.txn
        try:
            txn.transition(TxnState.INITIALIZING)
        except KafkaError as exc:
            done(exc)
            return
        call = txn.init_call()

        def finish() -> None:
            try:
                txn.on_initialized(call)
            except KafkaError as exc:
                done(exc)
                return
            done(None)
        self._when(lambda: call.done, finish)

    def begin(self) -> None:
        """``beginTransaction`` (raises the producer's error when it may not begin)."""
        self.txn.begin()

    @property
    def in_transaction(self) -> bool:
        return bool(self.txn.state is TxnState.IN_TRANSACTION)

    def send(self, topic: str, key: bytes | None, value: bytes | None, callback: Callable[[Any, Any], None],
             headers: tuple[tuple[str, bytes | None], ...] = (), partition: int | None = None,
             timestamp_ms: int | None = None) -> None:
        """Append one record to the open transaction; raises the producer's error when it may not send (fenced,
        abortable error, no transaction)."""
        self.txn.check_send()
        super().send(topic, key, value, callback, headers, partition, timestamp_ms)

    def commit(self, done: Done) -> None:
        """``commitTransaction``: flush, then EndTxn(commit); ``done(error)`` (an error: the transaction failed)."""
        txn = self.txn
        try:
            txn.transition(TxnState.COMMITTING_TRANSACTION)
        except KafkaError as exc:
            done(exc)
            return
        self._when(self._flushed(), functools.partial(self._end, True, done))

    def abort(self, done: Done) -> None:
        """``abortTransaction``: let the records finish, then EndTxn(abort)."""
        txn = self.txn
        try:
            txn.transition(TxnState.ABORTING_TRANSACTION)
        except KafkaError as exc:
            done(exc)
            return
        self._when(self._flushed(), functools.partial(self._end, False, done))

    def _end(self, commit: bool, done: Done) -> None:
        txn = self.txn
        if commit and txn.state is not TxnState.COMMITTING_TRANSACTION:
            done(txn._fatal() if txn.state is TxnState.FATAL_ERROR else txn.last_error or KafkaError(
                "a record of the transaction failed"))
            return
        call = txn.end_call(commit)

        def finish() -> None:
            try:
                txn.on_ended(call, commit)
            except KafkaError as exc:
                done(exc)
                return
            done(None)
        if call is None:
            finish()
        else:
            self._when(lambda: call.done, finish)

    def close(self) -> None:
        """The task stopped: answers still on their way are dropped, continuations never run."""
        self.closed = True
        self._waiters = []
        self._pending = []
        self.core.closed = True
        self.mux.release(self.port)


class ProducerFencer:
    """Kafka's ``Admin.fenceProducers`` from inside a worker: ``fence(ids, done)``; ``done(None)`` once every id's
    epoch was bumped, ``done(error)`` at the first failure or after :data:`FENCE_TIMEOUT_MS`."""

    def __init__(self, mux: Mux, name: str, bootstrap: Sequence[Any], *, retry_backoff_ms: float = 100.0,
                 request_timeout_ms: float = 30_000.0) -> None:
        self.port = mux.port(name, self._on_message)
        self.bootstrap = list(bootstrap)
        self.retry_backoff_ms = retry_backoff_ms
        self.network = NetworkClient(self.port, request_timeout_ms=request_timeout_ms, reconnect_backoff_ms=50.0,
                                     max_in_flight=5)
        self._rng = self.port.rng("fencer")
        self.fenced: list[tuple[str, int, int]] = []       # (transactional id, producer id, epoch) as answered

    def _on_message(self, src: Any, msg: Any) -> None:
        self.network.on_message(src, msg)

    def fence(self, transactional_ids: Sequence[str], done: Callable[[str | None], None],
              timeout_ms: float = FENCE_TIMEOUT_MS) -> None:
        """Fence every id; ``done(None)`` or ``done(error message)`` exactly once."""
        remaining = {tid: True for tid in transactional_ids}
        finished = [False]

        def finish(error: str | None) -> None:
            if not finished[0]:
                finished[0] = True
                timer.cancel()
                done(error)

        def one_done(tid: str, error: str | None) -> None:
            if finished[0]:
                return
            if error is not None:
                finish(error)
                return
            remaining.pop(tid, None)
            if not remaining:
                finish(None)
        timer = self.port.set_timer(timeout_ms, lambda: finish(
            f"org.apache.kafka.common.errors.TimeoutException: Timed out waiting to fence producers "
            f"{sorted(remaining)} after {int(timeout_ms)} ms"), name="fence-timeout")
        if not remaining:
            finish(None)
            return
        for tid in transactional_ids:
            self._find(tid, int(timeout_ms), functools.partial(one_done, tid), finished)

    def _later(self, fn: Callable[[], None]) -> None:
        self.port.set_timer(self.retry_backoff_ms, fn, name="fence-retry")

    def _find(self, tid: str, txn_timeout_ms: int, done: Callable[[str | None], None], finished: list[bool]) -> None:
        if finished[0]:
            return
        node = self.network.least_loaded(self.bootstrap, self.port.now, self._rng)
        if node is None:
            self._later(lambda: self._find(tid, txn_timeout_ms, done, finished))
            return

        def found(response: Any, error: str | None) -> None:
            if error is None and isinstance(response, FindCoordinatorResponse) and response.error == "NONE":
                self._init(response.node_id, tid, txn_timeout_ms, done, finished)
            else:
                self._later(lambda: self._find(tid, txn_timeout_ms, done, finished))
        self.network.send(node, lambda cid: FindCoordinatorRequest(tid, COORDINATOR_TRANSACTION, cid), found)

    def _init(self, node: Any, tid: str, txn_timeout_ms: int, done: Callable[[str | None], None],
              finished: list[bool]) -> None:
        if finished[0]:
            return

        def answered(response: Any, error: str | None) -> None:
            if error is not None or not isinstance(response, InitProducerIdResponse):
                self._later(lambda: self._find(tid, txn_timeout_ms, done, finished))
                return
            if response.error == "NONE":
                self.fenced.append((tid, response.producer_id, response.producer_epoch))
                self.port.record("connect.producer_fenced", 1, transactional_id=tid, epoch=response.producer_epoch)
                done(None)
            elif response.error in _RETRIABLE:
                self._later(lambda: self._init(node, tid, txn_timeout_ms, done, finished))
            elif response.error in _UNMAPPED:
                self._later(lambda: self._find(tid, txn_timeout_ms, done, finished))
            else:
                done(f"InitProducerId request for transactionalId `{tid}` failed due to unexpected error "
                     f"({response.error})")
        self.network.send(node, lambda cid: InitProducerIdRequest(tid, txn_timeout_ms, -1, -1, cid), answered)

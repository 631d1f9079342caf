"""The broker's side of transactions: FindCoordinator(transaction), ``__transaction_state``, the coordinator's port,
WriteTxnMarkers on partition leaders and KIP-890's produce verification (Kafka's ``KafkaApis`` transaction handlers,
``ReplicaManager.appendRecordsWithTransactionVerification`` and ``AddPartitionsToTxnManager``).

How it works, following :mod:`kafkalab.broker.groups`:

- **Where a transactional id lives.** FindCoordinator with key type 1 is answered from the image: the leader of
  ``__transaction_state`` partition ``partition_for(id)``; the topic is created on first use
  (``transaction.state.log.num.partitions`` partitions, replication factor
  ``min(transaction.state.log.replication.factor, brokers)``, ``cleanup.policy=compact``, ``min.insync.replicas`` =
  ``min(transaction.state.log.min.isr, replication factor)``), answering COORDINATOR_NOT_AVAILABLE meanwhile. A
  cluster that never uses transactions never creates it.
- **Who coordinates.** After each metadata change the broker loads the ``__transaction_state`` partitions it now
  leads into its :class:`~kafkalab.txn.coordinator.TransactionCoordinator` and unloads those it lost.
- **Writes** go through the replica manager's produce path with ``acks=all``; the callback gets the produce answer
  (once the high watermark passed the record, or its error).
- **Markers.** A ``WriteTxnMarkers`` entry becomes one control batch per partition, appended ``from_coordinator``
  with ``acks=all``; the answer goes back once every partition of the request has one. A marker on a
  ``__consumer_offsets`` partition is also handed to the group coordinator, which then publishes (COMMIT) or drops
  (ABORT) the transaction's offsets (``GroupCoordinator.onTransactionCompleted``).
- **Verification (KIP-890).** With ``transaction.partition.verification.enable`` a produce carrying a transactional
  id whose batch would open a transaction on a partition here (the producer has no ongoing transaction there) waits
  while the leader asks the coordinator (``AddPartitionsToTxn`` from the broker: ``verify_only`` under transaction
  version 1, adding the partition under version 2). A verification guard is set first; a marker appended meanwhile
  clears it, and the append then fails with INVALID_TXN_STATE. Partitions the coordinator refused get its error.
  Under version 2 a CONCURRENT_TRANSACTIONS answer (the previous transaction's markers are still being written, or
  another leader's add is being written) is retried by the leader every
  :data:`ADD_PARTITIONS_RETRY_BACKOFF_MS` for up to :data:`ADD_PARTITIONS_RETRY_BACKOFF_MAX_MS` before the producer
  gets it (Kafka 4.0's ``add.partitions.to.txn.retry.backoff.ms``/``.max.ms`` defaults, KAFKA-18654).

Simplification (named): the whole produce request waits for the verification of its partitions.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kafkalab.broker.internal_topics import InternalTopicCreation, coordinator_for, create_internal_topic
from kafkalab.broker.partition import Role
from kafkalab.common.records import ABORT_MARKER, COMMIT_MARKER, RecordBatch, control_batch
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.protocol import admin as cm
from kafkalab.protocol.common import NONE
from kafkalab.protocol.group import FindCoordinatorRequest, FindCoordinatorResponse
from kafkalab.protocol.produce import PartitionProduceResponse, ProduceRequest, ProduceResponse
from kafkalab.protocol.txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from kafkalab.txn.coordinator import (
    REQUEST_TIMEOUT_MS,
    TRANSACTION_STATE_TOPIC,
    TransactionCoordinator,
    partition_for,
)

if TYPE_CHECKING:  # pragma: no cover
    from kafkalab.broker.server import BrokerServer

__all__ = ["BrokerTxn", "CallbackReply", "TXN_TIMER_PREFIX", "ADD_PARTITIONS_RETRY_BACKOFF_MS",
           "ADD_PARTITIONS_RETRY_BACKOFF_MAX_MS"]

TXN_TIMER_PREFIX = "txn:"
#: Kafka 4.0's ``add.partitions.to.txn.retry.backoff.ms`` and ``add.partitions.to.txn.retry.backoff.max.ms`` defaults
ADD_PARTITIONS_RETRY_BACKOFF_MS = 20.0
ADD_PARTITIONS_RETRY_BACKOFF_MAX_MS = 100.0
_OFFSETS_TOPIC = "__consumer_offsets"


class CallbackReply:
    """A reply address inside the broker: the replica manager's ProduceResponse goes to ``callback``."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[ProduceResponse], None]) -> None:
        self.callback = callback

    def deliver(self, msg: Any) -> None:
        if type(msg) is ProduceResponse:
            self.callback(msg)


class BrokerTxn:
    """One broker's transaction coordinator, its port, and the leader side of markers and verification."""

    def __init__(self, server: BrokerServer) -> None:
        self.server = server
        config = server.config
        self.num_partitions = int(config["transaction.state.log.num.partitions"])
        self.replication_factor = int(config["transaction.state.log.replication.factor"])
        self.min_isr = int(config["transaction.state.log.min.isr"])
        self.request_timeout_ms = REQUEST_TIMEOUT_MS
        self.verify = bool(config["transaction.partition.verification.enable"])
        self.coordinator = TransactionCoordinator(server.broker_id, self, config)
        self.serving: dict[int, int] = {}
        self._creation = InternalTopicCreation()
        self._correlation = 0
        self._verifying: dict[int, Callable[[AddPartitionsToTxnResponse | None], None]] = {}
        self._verify_retries: dict[int, Callable[[], None]] = {}

    # ---- the coordinator's port ----------------------------------------------------------------------------------
    def send(self, dst: Any, msg: Any) -> None:
        self.server.send(dst, msg)

    def set_timer(self, name: str, at_ms: float) -> None:
        self.server.set_timer(TXN_TIMER_PREFIX + name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.server.cancel_timer(TXN_TIMER_PREFIX + name)

    def now_ms(self) -> float:
        return self.server.ctx.now

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.server.ctx.record(metric, value, **labels)

    def append(self, partition: int, records: list[tuple[bytes, Any]], callback: Callable[[str], None]) -> None:
        server = self.server
        tp = TopicPartition(TRANSACTION_STATE_TOPIC, partition)
        ts = int(server.ctx.now)
        batch = RecordBatch(tuple((key, value, ts, ()) for key, value in records))
        reply = CallbackReply(lambda r: callback(r.responses[tp].error if tp in r.responses else "UNKNOWN_SERVER_ERROR"))
        server.rm.handle_produce(reply, ProduceRequest(-1, self.request_timeout_ms, {tp: batch}), server.ctx.now)

    def read(self, partition: int) -> Iterator[tuple[bytes, Any]]:
        p = self.server.rm.partition(TRANSACTION_STATE_TOPIC, partition)
        if p is None:
            return
        for batch in p.log.batches():
            for key, value, _ts, _headers in batch.rows:
                yield key, value

    def leader_for(self, tp: TopicPartition) -> Any:
        reg = self.server.image.partition(tp.topic, tp.partition)
        return None if reg is None or reg.leader < 0 else reg.leader

    def allocate_producer_id(self, callback: Callable[[str, int], None]) -> None:
        self.server.allocate_producer_id(callback)

    def transaction_version(self) -> int:
        return int(self.server.image.features.get("transaction.version", 0))

    # ---- requests ------------------------------------------------------------------------------------------------
    def handle(self, src: Any, msg: Any) -> None:
        self.coordinator.handle(src, msg, self.server.ctx.now)

    def on_timer(self, name: str) -> None:
        if name.startswith("verify-retry:"):
            retry = self._verify_retries.pop(int(name[13:]), None)
            if retry is not None:
                retry()
            return
        self.coordinator.on_timer(name, self.server.ctx.now)

    def find_coordinator(self, req: FindCoordinatorRequest) -> FindCoordinatorResponse:
        cid = req.correlation_id
        if not req.key:
            return FindCoordinatorResponse("INVALID_REQUEST", correlation_id=cid,
                                           error_message="The transactional id must not be empty.")
        return coordinator_for(self.server.image, TRANSACTION_STATE_TOPIC, lambda n: partition_for(req.key, n), cid,
                               self._create_topic)

    def _create_topic(self) -> None:
        server = self.server
        controller = self._creation.controller_to_ask(server)
        if controller is None:
            return
        self._correlation += 1
        create_internal_topic(server, controller, TRANSACTION_STATE_TOPIC, self.num_partitions, self.replication_factor,
                              self._correlation, lambda rf: (
                                  ("cleanup.policy", "compact"), ("min.insync.replicas", str(min(self.min_isr, rf))),
                                  ("segment.bytes", str(server.config["transaction.state.log.segment.bytes"]))))

    def on_create_topics_response(self, msg: cm.CreateTopicsResponse) -> None:
        self._creation.on_response(msg)

    def on_metadata_change(self, image: MetadataImage, change: Change) -> None:
        if any(t == TRANSACTION_STATE_TOPIC for t, _ in change.partitions) \
                or TRANSACTION_STATE_TOPIC in change.removed_topics:
            self.sync_leadership()

    def sync_leadership(self) -> None:
        now = self.server.ctx.now
        rm = self.server.rm
        leading: dict[int, int] = {}
        topic = self.server.image.topics.get(TRANSACTION_STATE_TOPIC)
        for index in (() if topic is None else sorted(topic.partitions)):
            p = rm.partition(TRANSACTION_STATE_TOPIC, index)
            if p is not None and p.role is Role.LEADER:
                leading[index] = p.leader_epoch
        for index, epoch in sorted(self.serving.items()):
            if leading.get(index) != epoch:
                del self.serving[index]
                self.coordinator.on_resign(index, epoch, now)
        for index, epoch in sorted(leading.items()):
            if index not in self.serving:
                self.serving[index] = epoch
                self.coordinator.on_become_leader(index, epoch, now)

    # ---- WriteTxnMarkers on the partition leaders ----------------------------------------------------------------
    def write_markers(self, src: Any, req: WriteTxnMarkersRequest) -> None:
        server = self.server
        errors: dict[int, dict[TopicPartition, str]] = {}
        waiting = [sum(len(m.partitions) for m in req.markers)]

        def answered(pid: int, tp: TopicPartition, error: str, commit: bool) -> None:
            errors.setdefault(pid, {})[tp] = error
            if error == NONE and tp.topic == _OFFSETS_TOPIC and server.groups is not None:
                on_marker = getattr(server.groups, "on_txn_marker", None)
                if on_marker is not None:
                    on_marker(tp.partition, pid, commit)
            waiting[0] -= 1
            if waiting[0] == 0:
                server.send(src, WriteTxnMarkersResponse(errors, req.correlation_id))
        if waiting[0] == 0:
            server.send(src, WriteTxnMarkersResponse({}, req.correlation_id))
            return
        now = server.ctx.now
        for m in req.markers:
            kind = COMMIT_MARKER if m.committed else ABORT_MARKER
            for tp in m.partitions:
                batch = control_batch(kind, m.producer_id, m.producer_epoch, m.coordinator_epoch, int(now))

                def done(r: ProduceResponse, pid: int = m.producer_id, tp: TopicPartition = tp,
                         commit: bool = m.committed) -> None:
                    part = r.responses.get(tp)
                    answered(pid, tp, "UNKNOWN_SERVER_ERROR" if part is None else part.error, commit)
                server.rm.handle_produce(CallbackReply(done), ProduceRequest(-1, self.request_timeout_ms, {tp: batch}),
                                         now, from_coordinator=True)

    def on_marker_response(self, src: Any, msg: WriteTxnMarkersResponse) -> None:
        self.coordinator.on_marker_response(src, msg, self.server.ctx.now)

    # ---- KIP-890 verification of transactional produces ----------------------------------------------------------
    def produce(self, src: Any, req: ProduceRequest) -> None:
        """A produce with a transactional id: verify its partitions that would open a transaction here, then append."""
        server = self.server
        rm = server.rm
        now = server.ctx.now
        tid = req.transactional_id
        need: list[TopicPartition] = []
        pid = epoch = -1
        if self.verify and tid:
            for tp, batch in req.batches.items():
                if not batch.is_transactional or batch.is_control:
                    continue
                p = rm.partitions.get(tp)
                if p is None or p.role is not Role.LEADER:
                    continue
                txn = p.log.txn
                if txn is None or batch.producer_id not in txn.ongoing:
                    need.append(tp)
                    pid, epoch = batch.producer_id, batch.producer_epoch
        if not need:
            rm.handle_produce(src, req, now)
            return
        guards: dict[TopicPartition, object] = {tp: rm.partitions[tp].producer_state.start_verification(
            pid, req.batches[tp].base_sequence, req.batches[tp].producer_epoch) for tp in need}
        coordinator = self._coordinator_node(tid or "")
        if coordinator is None:
            self._answer_partially(src, req, {tp: "NOT_COORDINATOR" for tp in need}, guards)
            return
        tv = self.transaction_version()
        parts = tuple(need)

        def on_answer(resp: AddPartitionsToTxnResponse | None) -> None:
            errors = {tp: "REQUEST_TIMED_OUT" if resp is None else resp.errors.get(tp, "UNKNOWN_SERVER_ERROR")
                      for tp in parts}
            values = set(errors.values())
            if tv >= 2 and "CONCURRENT_TRANSACTIONS" in values and values <= {NONE, "CONCURRENT_TRANSACTIONS"} \
                    and server.ctx.now + ADD_PARTITIONS_RETRY_BACKOFF_MS - now <= ADD_PARTITIONS_RETRY_BACKOFF_MAX_MS:
                self._correlation += 1
                self._verify_retries[self._correlation] = ask
                server.set_timer(f"{TXN_TIMER_PREFIX}verify-retry:{self._correlation}",
                                 server.ctx.now + ADD_PARTITIONS_RETRY_BACKOFF_MS)
                return
            self._answer_partially(src, req, {tp: e for tp, e in errors.items() if e != NONE}, guards)

        def ask() -> None:
            self._correlation += 1
            cid = self._correlation
            self._verifying[cid] = on_answer
            server.send(coordinator, AddPartitionsToTxnRequest(tid or "", pid, epoch, parts, verify_only=tv < 2,
                                                               from_broker=True, correlation_id=cid))
            server.set_timer(f"{TXN_TIMER_PREFIX}verify:{cid}", server.ctx.now + self.request_timeout_ms)
        ask()

    def on_verify_timeout(self, cid: int) -> None:
        callback = self._verifying.pop(cid, None)
        if callback is not None:
            callback(None)

    def on_verify_response(self, msg: AddPartitionsToTxnResponse) -> None:
        callback = self._verifying.pop(msg.correlation_id, None)
        if callback is not None:
            self.server.cancel_timer(f"{TXN_TIMER_PREFIX}verify:{msg.correlation_id}")
            callback(msg)

    def _answer_partially(self, src: Any, req: ProduceRequest, refused: dict[TopicPartition, str],
                          guards: dict[TopicPartition, object]) -> None:
        """Append what passed (its guard still standing) and answer ``refused`` partitions with their error."""
        rm = self.server.rm
        errors = dict(refused)
        for tp, guard in guards.items():
            if tp in errors:
                continue
            p = rm.partitions.get(tp)
            batch = req.batches[tp]
            if p is None or not p.producer_state.verified(batch.producer_id, guard):
                errors[tp] = "INVALID_TXN_STATE"
        rest = {tp: b for tp, b in req.batches.items() if tp not in errors}
        failed = {tp: PartitionProduceResponse(e) for tp, e in sorted(errors.items())}
        if not rest:
            if req.acks != 0:
                self.server.send(src, ProduceResponse(failed, req.correlation_id))
            return

        def merged(r: ProduceResponse) -> None:
            self.server.send(src, ProduceResponse({**r.responses, **failed}, req.correlation_id))
        target: Any = src if not failed else CallbackReply(merged)
        rm.handle_produce(target, ProduceRequest(req.acks, req.timeout_ms, rest, req.correlation_id, req.transactional_id,
                                                req.client_id),
                          self.server.ctx.now)

    def _coordinator_node(self, tid: str) -> Any:
        topic = self.server.image.topics.get(TRANSACTION_STATE_TOPIC)
        if topic is None:
            return None
        reg = topic.partitions.get(partition_for(tid, len(topic.partitions)))
        return None if reg is None or reg.leader < 0 else reg.leader


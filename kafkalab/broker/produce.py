"""Produce and InitProducerId on a leader (Kafka's ``ReplicaManager.appendRecords`` with its ``DelayedProduce``).

How it works. acks 0 gets no response at all, as in Kafka; on an error the broker closes the connection instead, a
:class:`~kafkalab.ports.ConnectionReset` to the client. acks 1 is answered after the leader's append. acks -1
(all) answers NOT_ENOUGH_REPLICAS before the append when the ISR is smaller than ``min.insync.replicas``; otherwise
the request is parked as a :class:`DelayedProduce` until the HW passes each batch's last offset, or answers
REQUEST_TIMED_OUT for the partitions still waiting after ``timeout_ms`` (its deadline is in the expiry heap of
:mod:`kafkalab.broker.timers`). Kafka's DelayedProduce purgatory is keyed by partition and checked when the HW
moves: here each partition keeps a heap of waiting operations by required offset, popped when its HW advances;
nothing polls. When a committed ISR shrinks below ``min.insync.replicas``, waiting produces the remaining ISR already
holds complete with NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's ``checkEnoughReplicasReachOffset``; with KIP-966's HW
rule the HW itself stays put, so the check runs on the ISR change). Idempotent batches are checked by the
partition's :class:`~kafkalab.broker.producer_state.ProducerStateManager`; a duplicate is answered with its original
offset. An append marks the partition in the follower fetch sessions replicating it, which wakes their parked
fetches (:mod:`kafkalab.broker.fetch_sessions`). With client quotas configured, the request's bytes are recorded
against the client's ``producer_byte_rate`` when its answer is due, and the answer carries the throttle time
(:mod:`kafkalab.broker.quotas`).

InitProducerId: with a control plane the broker server hands out ids from blocks the controller allocates
(``AllocateProducerIds``, KIP-730). Here, without one (tests, the data-plane playground), ids are derived
deterministically and uniquely from (broker incarnation, broker id, counter):
``(incarnation << 40) | (broker_id << 24) | counter`` - a deliberate simplification named here.
"""
from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, Any

from kafkalab.broker.consumer_fetch import NOT_LEADER, UNKNOWN
from kafkalab.broker.partition import Partition, Role
from kafkalab.broker.producer_state import marker_coordinator_epoch
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import KafkaError
from kafkalab.ports import ConnectionReset
from kafkalab.protocol.common import NONE
from kafkalab.protocol.produce import PartitionProduceResponse, ProduceRequest, ProduceResponse
from kafkalab.protocol.sizes import message_size_bytes
from kafkalab.protocol.txn import InitProducerIdRequest, InitProducerIdResponse

if TYPE_CHECKING:       # the replica manager builds this module's handler
    from kafkalab.broker.replica_manager import ReplicaManager

__all__ = ["DelayedProduce", "ProduceHandler"]


class DelayedProduce:
    """An acks=all produce waiting for the HW (Kafka's ``DelayedProduce``)."""

    __slots__ = ("src", "correlation_id", "responses", "remaining", "done", "client_id", "size_bytes")

    def __init__(self, src: Any, correlation_id: int, responses: dict[TopicPartition, PartitionProduceResponse],
                 remaining: int, client_id: str | None = None, size_bytes: int = 0) -> None:
        self.src = src
        self.correlation_id = correlation_id
        self.responses = responses
        self.remaining = remaining
        self.done = False
        # for the produce quota, recorded when the answer is due (KafkaApis' sendResponseCallback)
        self.client_id = client_id
        self.size_bytes = size_bytes


class ProduceHandler:
    """Produce and InitProducerId of one replica manager, and the completion of its waiting produces."""

    def __init__(self, rm: ReplicaManager) -> None:
        self.rm = rm
        self.port = rm.port
        self.partitions = rm.partitions
        self.lagging = rm.lagging
        self._seq = rm._seq
        self._producer_ids = itertools.count()

    def handle(self, src: Any, req: ProduceRequest, now_ms: float, *, from_coordinator: bool = False) -> None:
        """Append ``req``'s batches on the partitions led here and answer as its ``acks`` asks.
        ``from_coordinator``: transaction markers (control batches) from WriteTxnMarkers, which clients may not
        send (INVALID_RECORD, as ``UnifiedLog.analyzeAndValidateRecords`` for a client's control batch)."""
        rm = self.rm
        follower = rm._follower
        acks = req.acks
        responses: dict[TopicPartition, PartitionProduceResponse] = {}
        if acks not in (0, 1, -1):
            for tp in req.batches:
                responses[tp] = PartitionProduceResponse("INVALID_REQUIRED_ACKS")
            self.port.send(src, ProduceResponse(responses, req.correlation_id))
            return
        waiting: list[tuple[Partition, int, TopicPartition]] = []
        appended = False
        for tp, batch in req.batches.items():
            p = self.partitions.get(tp)
            if p is None or p.role is not Role.LEADER:
                known = rm.image is not None and rm.image.partition(tp.topic, tp.partition) is not None
                hint = (p.leader_id, p.leader_epoch) if p is not None and p.leader_id >= 0 else None
                responses[tp] = PartitionProduceResponse(NOT_LEADER if (p is not None or known) else UNKNOWN,
                                                         current_leader=hint)
                continue
            if acks == -1 and len(p.isr) < p.min_isr:
                responses[tp] = PartitionProduceResponse(
                    "NOT_ENOUGH_REPLICAS", error_message=f"The size of the current ISR {p.isr} is insufficient "
                    f"to satisfy the min.isr requirement of {p.min_isr} for partition {tp}")
                continue
            duplicate = None
            if batch.is_control:
                error = p.producer_state.check_marker(batch.producer_id, batch.producer_epoch,
                                                      marker_coordinator_epoch(batch)) \
                    if from_coordinator else "INVALID_RECORD"
                if error != NONE:
                    responses[tp] = PartitionProduceResponse(
                        error, error_message=None if from_coordinator else "Control batches may only be written "
                        "by the transaction coordinator (WriteTxnMarkers).")
                    continue
            elif batch.producer_id >= 0 and not from_coordinator:
                error, duplicate = p.producer_state.check(batch)
                if error != NONE:
                    responses[tp] = PartitionProduceResponse(error)
                    continue
            if duplicate is not None:
                base, required = duplicate.first_offset, duplicate.last_offset + 1
            else:
                try:
                    stored = p.log.append_as_leader(batch, p.leader_epoch, now_ms)
                except KafkaError as exc:
                    responses[tp] = PartitionProduceResponse(exc.error_name, error_message=exc.message)
                    continue
                appended = True
                self.lagging[tp] = p
                if stored.producer_id >= 0:
                    p.producer_state.update(stored)
                base, required = stored.base_offset, stored.next_offset
                for s in p.sessions:
                    s.pending[tp] = None
                    if s.parked is not None:
                        follower.wake[s.replica_id] = s
                if p.maybe_increment_hw():
                    rm._on_hw_advanced(p)
            responses[tp] = PartitionProduceResponse(NONE, base, -1, p.log.log_start_offset)
            if acks == -1:
                waiting.append((p, required, tp))
        if appended:
            self.port.log_appended()
        if follower.wake:
            follower.wake_parked()
        quotas = rm.quotas
        # markers and the coordinators' own appends are not client traffic: no client quota (client_id None)
        client_id = None if not quotas.enabled or from_coordinator or quotas.exempt(src) else req.client_id
        size = message_size_bytes(req) if client_id is not None else 0
        if acks == 0:
            if client_id is not None:
                # KafkaApis records and throttles an acks=0 produce too: no answer, but the channel is muted
                quotas.produce_throttle_ms(src, client_id, size, now_ms, acks=0)
            if any(r.error != NONE for r in responses.values()):
                # KafkaApis.handleProduceRequest: an acks=0 request that failed gets no answer, the broker closes
                # the connection instead, so the client refreshes its metadata.
                self.port.send(src, ConnectionReset(rm.broker_id))
            return
        if acks == 1 or not waiting:
            self._respond(src, responses, req.correlation_id, client_id, size)
            return
        op = DelayedProduce(src, req.correlation_id, responses, len(waiting), client_id, size)
        for p, required, tp in waiting:
            if p.high_watermark >= required:
                op.remaining -= 1
            else:
                heapq.heappush(p.produce_waiters, (required, next(self._seq), op, tp))
        if op.remaining == 0:
            op.done = True
            self._respond(src, responses, req.correlation_id, client_id, size)
        else:
            rm._expiry.add(now_ms + req.timeout_ms, op)

    def partition_done(self, op: DelayedProduce) -> None:
        """One partition of ``op`` has its answer; the last one sends the response."""
        op.remaining -= 1
        if op.remaining <= 0 and not op.done:
            op.done = True
            self._respond(op.src, op.responses, op.correlation_id, op.client_id, op.size_bytes)

    def fail_waiters(self, p: Partition, error: str) -> None:
        """``p`` is no longer led here: every produce waiting on it gets ``error`` for it."""
        for _, _, op, tp in p.produce_waiters:
            if not op.done:
                op.responses[tp] = PartitionProduceResponse(error)
                self.partition_done(op)
        p.produce_waiters = []

    def not_enough_replicas_after_append(self, p: Partition) -> None:
        """The ISR of ``p`` shrank below ``min.insync.replicas``: produces the remaining ISR already holds fail."""
        reached = p.isr_min_leo()
        waiters = p.produce_waiters
        while waiters and waiters[0][0] <= reached:
            _, _, op, tp = heapq.heappop(waiters)
            if not op.done:
                op.responses[tp] = PartitionProduceResponse("NOT_ENOUGH_REPLICAS_AFTER_APPEND")
                self.partition_done(op)

    def expire(self, op: DelayedProduce) -> None:
        """``op``'s ``timeout_ms`` passed: REQUEST_TIMED_OUT for the partitions still waiting, and answer."""
        for tp, r in op.responses.items():
            p = self.partitions.get(tp)
            if r.error == NONE and p is not None and any(w[2] is op for w in p.produce_waiters):
                op.responses[tp] = PartitionProduceResponse("REQUEST_TIMED_OUT")
                p.produce_waiters = [w for w in p.produce_waiters if w[2] is not op]
                heapq.heapify(p.produce_waiters)
        op.done = True
        self._respond(op.src, op.responses, op.correlation_id, op.client_id, op.size_bytes)

    def _respond(self, src: Any, responses: dict[TopicPartition, PartitionProduceResponse], correlation_id: int,
                 client_id: str | None, size_bytes: int) -> None:
        """Send a produce answer; with client quotas, record the request's bytes and carry the throttle time
        (KIP-219: answered at once, the channel muted for the throttle time)."""
        quotas = self.rm.quotas
        if client_id is None:
            self.port.send(src, ProduceResponse(responses, correlation_id))
            return
        throttle = quotas.produce_throttle_ms(src, client_id, size_bytes, self.rm.now_ms)
        self.port.send(src, ProduceResponse(responses, correlation_id, throttle))

    def init_producer_id(self, src: Any, req: InitProducerIdRequest) -> None:
        if req.producer_id >= 0:
            # KIP-360: a producer that already has an id bumps its epoch.
            response = InitProducerIdResponse(NONE, req.producer_id, req.producer_epoch + 1, req.correlation_id)
        else:
            pid = (self.rm.incarnation << 40) | (self.rm.broker_id << 24) | next(self._producer_ids)
            response = InitProducerIdResponse(NONE, pid, 0, req.correlation_id)
        self.port.send(src, response)

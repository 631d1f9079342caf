"""The replica manager: produce, fetch, ListOffsets and InitProducerId on one broker (Kafka's ``ReplicaManager``).

Sans-I/O (DESIGN.md principle 3): it gets requests and the time, and acts through a :class:`ReplicaManagerPort`
(send a message, set or cancel a named timer, propose an ISR change to the controller, open a log on the node's
disk). The broker server drives it; tests drive it with a fake port.

Leadership comes only from the metadata image: :meth:`ReplicaManager.apply_change` makes this broker leader or
follower of exactly the partitions a replayed record changed (``applyDelta``), hands followers to the replica
fetchers (:mod:`kafkalab.broker.fetcher`) and stops replicas removed from this broker.

Produce (``appendRecords``): acks 0 (no response at all, as Kafka; on an error the broker closes the connection,
a :class:`~kafkalab.transport.ConnectionReset` to the client), 1 (answered after the leader's append) or -1/all
(NOT_ENOUGH_REPLICAS before the append when the ISR is smaller than ``min.insync.replicas``; otherwise parked as a
*delayed produce* until the HW passes the batch's last offset, or REQUEST_TIMED_OUT after ``timeout_ms``). Kafka's
DelayedProduce purgatory is keyed by partition and checked when the HW moves: here each partition keeps a heap of
waiting operations by required offset, popped when its HW advances; nothing polls. When a committed ISR shrinks below
``min.insync.replicas``, waiting produces the remaining ISR already holds complete with
NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's ``checkEnoughReplicasReachOffset``; with KIP-966's HW rule the HW itself
stays put, so the check runs on the ISR change). Idempotent batches are checked by the partition's
:class:`~kafkalab.broker.producer_state.ProducerStateManager`; a duplicate is answered with its original offset.

Fetch (``fetchMessages``): consumers (``replica_id = -1``) read below the HW, followers up to the log end;
FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH on a stale or future ``current_leader_epoch``; OFFSET_OUT_OF_RANGE;
DivergingEpoch for a follower whose ``last_fetched_epoch`` diverged. A fetch with less than ``min_bytes`` waits up to
``max_wait_ms`` (Kafka's DelayedFetch): a parked consumer fetch waits in the partitions' lists and is woken when their
HW moves; follower fetches use incremental fetch sessions (KIP-227): the leader keeps one session per follower, an
append marks the partition in the sessions replicating it and completes a parked session fetch at once. An idle
parked fetch costs one pending message and one entry in one expiry heap. Kafka runs the follower-state update and
the ISR expansion check for every partition of a session on every fetch; here that runs for the partitions a request
names plus, per session, the few where that follower is out of the ISR (``expand_candidates``), with the session's
cached fetch offset - the same outcome at a cost that does not grow with idle partitions.

Timers: one expiry timer for every waiting operation (a heap of deadlines, re-armed lazily), one ISR check every
``replica.lag.time.max.ms / 2`` for all partitions this broker leads (``isr-expiration``), and the fetchers' own.
The ISR check visits only partitions where a follower may be behind (appended to since every ISR follower last
caught up) or a proposal is pending: a follower with the leader's log end is caught up by Kafka's own rule, so an
idle partition needs no look, and 10,000 idle partitions cost what 10 do.

A restarted broker's replicas start from the HWs in the port's checkpoint (``read_hw_checkpoint``).

InitProducerId: with a control plane the broker server hands out ids from blocks the controller allocates
(``AllocateProducerIds``, KIP-730). Here, without one (tests, the data-plane playground), ids are derived
deterministically and uniquely from (broker incarnation, broker id, counter):
``(incarnation << 40) | (broker_id << 24) | counter`` - a deliberate simplification named here.

Simplifications: ``max_bytes`` of a consumer fetch is spent partition by partition in request order (no
round-robin fairness); ListOffsets by timestamp answers the first batch whose max timestamp reaches it; no quotas,
no transactions, no fetch from followers (KIP-392).
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from kafkalab.broker.fetcher import ReplicaFetcherManager
from kafkalab.broker.messages import (
    CONSUMER_REPLICA_ID,
    EARLIEST_TIMESTAMP,
    FINAL_EPOCH,
    INITIAL_EPOCH,
    LATEST_TIMESTAMP,
    NONE,
    FetchPartition,
    FetchRequest,
    FetchResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
    PartitionFetchResponse,
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
)
from kafkalab.broker.partition import IsrProposal, Partition, Role
from kafkalab.config import Config, resolve
from kafkalab.controller.image import Change, MetadataImage
from kafkalab.errors import KafkaError
from kafkalab.log.log_config import LogConfig
from kafkalab.log.partition_log import PartitionLog
from kafkalab.transport import ConnectionReset

__all__ = ["ReplicaManager", "ReplicaManagerPort", "DelayedProduce", "ConsumerFetch", "FollowerSession"]


class ReplicaManagerPort(Protocol):
    """What the replica manager may do to the world."""

    def send(self, dst: Any, msg: Any) -> None: ...

    def set_timer(self, name: str, at_ms: float) -> None:
        """Call ``on_timer(name, now)`` at ``at_ms``; replaces a pending timer of that name."""

    def cancel_timer(self, name: str) -> None: ...

    def alter_partition(self, proposal: IsrProposal) -> None:
        """Send AlterPartition for one partition to the active controller (with this broker's epoch)."""

    def open_log(self, name: str, config: LogConfig) -> PartitionLog:
        """The log ``name`` on this node's disk (recovered if it exists, else created and attached)."""
        ...

    def delete_log(self, name: str) -> None: ...

    def log_appended(self) -> None:
        """New unflushed log data (the disk's OS writeback will flush it later)."""

    def read_hw_checkpoint(self) -> Mapping[str, int]:
        """The high watermarks last checkpointed on this node's disk (log name -> HW); empty if none."""
        ...


_EXPIRY = "expiry"
_ISR_CHECK = "isr-check"
_NOT_LEADER = "NOT_LEADER_OR_FOLLOWER"
_UNKNOWN = "UNKNOWN_TOPIC_OR_PARTITION"


class DelayedProduce:
    """An acks=all produce waiting for the HW (Kafka's ``DelayedProduce``)."""

    __slots__ = ("src", "correlation_id", "responses", "remaining", "done")

    def __init__(self, src: Any, correlation_id: int, responses: dict[TopicPartition, PartitionProduceResponse],
                 remaining: int) -> None:
        self.src = src
        self.correlation_id = correlation_id
        self.responses = responses
        self.remaining = remaining
        self.done = False


class ConsumerFetch:
    """A parked consumer fetch (Kafka's ``DelayedFetch``)."""

    __slots__ = ("src", "request", "done")

    def __init__(self, src: Any, request: FetchRequest) -> None:
        self.src = src
        self.request = request
        self.done = False


class FollowerSession:
    """The leader's incremental fetch session with one follower broker (Kafka's ``FetchSession``)."""

    __slots__ = ("replica_id", "session_id", "partitions", "pending", "sent_hw", "parked", "parked_src", "done",
                 "replica_epoch", "expand_candidates")

    def __init__(self, replica_id: int, session_id: int) -> None:
        self.replica_id = replica_id
        self.session_id = session_id
        self.partitions: dict[TopicPartition, FetchPartition] = {}
        self.pending: dict[TopicPartition, None] = {}     # partitions with news since the last response
        self.sent_hw: dict[TopicPartition, int] = {}
        self.parked: FetchRequest | None = None
        self.parked_src: Any = None
        self.done = False                                  # replaced by a newer session
        self.replica_epoch = -1                            # the follower's broker epoch in its latest request
        self.expand_candidates: dict[TopicPartition, None] = {}   # partitions where it is out of the ISR


def _pfr(error: str, p: Partition | None) -> PartitionFetchResponse:
    """An error answer; NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH carry the leader this broker knows (KIP-951)."""
    if p is not None and p.leader_id >= 0 and error in (_NOT_LEADER, "FENCED_LEADER_EPOCH"):
        return PartitionFetchResponse(error, current_leader=(p.leader_id, p.leader_epoch))
    return PartitionFetchResponse(error)


class ReplicaManager:
    """All partition replicas of one broker."""

    def __init__(self, broker_id: int, port: ReplicaManagerPort, config: Mapping[str, Any] | None = None, *,
                 incarnation: int = 1) -> None:
        self.broker_id = broker_id
        self.port = port
        self.config: Config = config if isinstance(config, Config) else resolve("broker", config)
        self.lag_ms = float(self.config["replica.lag.time.max.ms"])
        self._fetch_max_bytes = int(self.config["fetch.max.bytes"])     # the broker's cap on a consumer fetch
        self.incarnation = incarnation
        self.broker_epoch = -1
        self.image: MetadataImage | None = None
        self.partitions: dict[TopicPartition, Partition] = {}
        self.leading: dict[TopicPartition, Partition] = {}
        # Leader partitions that the ISR check must look at: some follower may be behind, or a proposal is pending.
        # A partition leaves once every ISR follower has the leader's log end, so an idle check costs nothing.
        self.lagging: dict[TopicPartition, Partition] = {}
        self.sessions: dict[int, FollowerSession] = {}
        self.fetchers = ReplicaFetcherManager(broker_id, port, self.config, on_append=port.log_appended)
        self._topic_configs: dict[str, tuple[LogConfig, int]] = {}
        self._hw_checkpoint_cache: dict[str, int] | None = None
        self._broker_epochs: dict[int, int] = {}
        self._expiry: list[tuple[float, int, Any]] = []
        self._expiry_armed_at: float | None = None
        self._isr_check_armed = False
        self._seq = itertools.count()
        self._session_ids = itertools.count(1)
        self._producer_ids = itertools.count()
        self._wake: dict[int, FollowerSession] = {}
        self.now_ms = 0.0
        # counters for metrics
        self.produce_requests = 0
        self.fetch_requests = 0
        self.isr_shrinks = 0
        self.isr_expands = 0

    # ==== metadata ====================================================================================================
    def set_broker_epoch(self, epoch: int) -> None:
        self.broker_epoch = epoch
        self.fetchers.broker_epoch = epoch

    def _eligible(self, broker: int, broker_epoch: int = -1) -> bool:
        """May ``broker`` join an ISR (Kafka's ``isReplicaIsrEligible``)? Its fetches' broker epoch must be the
        registered one when it sends one (KIP-903)."""
        image = self.image
        if image is None:
            return True
        reg = image.brokers.get(broker)
        if reg is None or reg.fenced or reg.in_controlled_shutdown:
            return False
        return broker_epoch < 0 or broker_epoch == reg.broker_epoch

    def _topic_settings(self, topic: str) -> tuple[LogConfig, int]:
        cached = self._topic_configs.get(topic)
        if cached is None:
            overrides = self.image.topic_config(topic) if self.image is not None else {}
            broker = self.config
            log_config = LogConfig.from_topic_config(overrides, broker=broker)
            min_isr = int(resolve("topic", overrides, broker=broker)["min.insync.replicas"])
            cached = (log_config, min_isr)
            self._topic_configs[topic] = cached
        return cached

    def apply_change(self, image: MetadataImage, change: Change, now_ms: float) -> None:
        """Act on one replayed metadata change: become leader/follower, stop removed replicas, refresh configs."""
        self.now_ms = now_ms
        self.image = image
        for resource_type, name in change.configs:
            if resource_type == "topic":
                self._topic_configs.pop(name, None)
                _, min_isr = self._topic_settings(name)
                for tp, p in self.partitions.items():
                    if tp.topic == name:
                        p.min_isr = min_isr
                        if p.is_leader:
                            self._after_isr_change(p)
            elif resource_type == "broker":
                self._topic_configs.clear()
        for topic in change.removed_topics:
            self._topic_configs.pop(topic, None)
            for tp in [tp for tp in self.partitions if tp.topic == topic]:
                self._stop(tp, delete=True)
        for topic, index in change.partitions:
            self._apply_partition(image, TopicPartition(topic, index), now_ms)
        if change.brokers:
            for p in self.leading.values():
                self._mark_expand_candidates(p)
            for b in change.brokers:
                reg = image.brokers.get(b)
                epoch = -1 if reg is None else reg.broker_epoch
                if self._broker_epochs.get(b, epoch) != epoch:
                    # The broker re-registered: a new process, so a fetch in flight to the old one is lost.
                    self.fetchers.reconnect(b, now_ms)
                self._broker_epochs[b] = epoch
        if self._wake:
            self._wake_sessions()

    def _wake_watchers(self, p: Partition) -> None:
        """A leadership change completes parked follower fetches on ``p`` (DelayedFetch cases A and E), so
        followers learn the new epoch or the error at once."""
        tp = p.tp
        for s in p.sessions:
            s.pending[tp] = None
            if s.parked is not None:
                self._wake[s.replica_id] = s

    def _hw_checkpoint(self) -> Mapping[str, int]:
        if self._hw_checkpoint_cache is None:
            self._hw_checkpoint_cache = dict(self.port.read_hw_checkpoint())
        return self._hw_checkpoint_cache

    def high_watermarks(self) -> dict[str, int]:
        """Log name -> HW of every replica (what the server checkpoints, ``replication-offset-checkpoint``)."""
        return {str(tp): p.high_watermark for tp, p in self.partitions.items()}

    def apply_image(self, image: MetadataImage, now_ms: float) -> None:
        """Apply every partition of ``image`` (a restarted broker catching up, or a hand-made image in tests)."""
        parts = tuple((t, p) for t, topic in image.topics.items() for p in topic.partitions)
        self.apply_change(image, Change(partitions=parts, brokers=tuple(image.brokers)), now_ms)

    def _apply_partition(self, image: MetadataImage, tp: TopicPartition, now_ms: float) -> None:
        reg = image.partition(tp.topic, tp.partition)
        if reg is None or self.broker_id not in reg.replicas:
            if tp in self.partitions:
                self._stop(tp, delete=True)
            return
        p = self.partitions.get(tp)
        if p is None:
            log_config, min_isr = self._topic_settings(tp.topic)
            log = self.port.open_log(str(tp), log_config)
            p = Partition(tp, self.broker_id, log, min_isr=min_isr, lag_ms=self.lag_ms)
            checkpointed = self._hw_checkpoint().get(str(tp))
            if checkpointed is not None:
                p.high_watermark = max(log.log_start_offset, min(checkpointed, log.log_end_offset))
            self.partitions[tp] = p
        if reg.leader == self.broker_id:
            was_leader = p.is_leader
            if p.make_leader(reg, now_ms):
                if not was_leader:
                    self.fetchers.remove_partition(tp, now_ms)
                self.leading[tp] = p
                self.lagging[tp] = p
                self._arm_isr_check(now_ms)
                self._wake_watchers(p)
            self._after_isr_change(p)
        else:
            was_leader = p.is_leader
            if p.make_follower(reg):
                if was_leader:
                    self.leading.pop(tp, None)
                    self.lagging.pop(tp, None)
                    self._fail_waiters(p, _NOT_LEADER)
                    self._wake_watchers(p)
                if p.leader_id < 0:
                    self.fetchers.remove_partition(tp, now_ms)
                else:
                    self.fetchers.add_partition(p, now_ms)

    def _stop(self, tp: TopicPartition, *, delete: bool) -> None:
        p = self.partitions.pop(tp)
        self.leading.pop(tp, None)
        self.lagging.pop(tp, None)
        self.fetchers.remove_partition(tp, self.now_ms)
        self._fail_waiters(p, _NOT_LEADER)
        for s in p.sessions:
            s.partitions.pop(tp, None)
            s.pending.pop(tp, None)
        p.sessions = []
        p.make_stopped()
        if delete:
            self.port.delete_log(str(tp))

    def _fail_waiters(self, p: Partition, error: str) -> None:
        p.hw_watchers = []      # their writer (the group coordinator) learns of the lost leadership by itself
        for _, _, op, tp in p.produce_waiters:
            if not op.done:
                op.responses[tp] = PartitionProduceResponse(error)
                self._produce_partition_done(op)
        p.produce_waiters = []
        waiters, p.consumer_waiters = p.consumer_waiters, []
        for cf in waiters:
            if not cf.done:
                self._complete_consumer_fetch(cf)

    # ==== produce =====================================================================================================
    def handle_produce(self, src: Any, req: ProduceRequest, now_ms: float) -> None:
        self.now_ms = now_ms
        self.produce_requests += 1
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
                known = self.image is not None and self.image.partition(tp.topic, tp.partition) is not None
                hint = (p.leader_id, p.leader_epoch) if p is not None and p.leader_id >= 0 else None
                responses[tp] = PartitionProduceResponse(_NOT_LEADER if (p is not None or known) else _UNKNOWN,
                                                         current_leader=hint)
                continue
            if acks == -1 and len(p.isr) < p.min_isr:
                responses[tp] = PartitionProduceResponse(
                    "NOT_ENOUGH_REPLICAS", error_message=f"The size of the current ISR {p.isr} is insufficient "
                    f"to satisfy the min.isr requirement of {p.min_isr} for partition {tp}")
                continue
            duplicate = None
            if batch.producer_id >= 0:
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
                        self._wake[s.replica_id] = s
                if p.maybe_increment_hw():
                    self._on_hw_advanced(p)
            responses[tp] = PartitionProduceResponse(NONE, base, -1, p.log.log_start_offset)
            if acks == -1:
                waiting.append((p, required, tp))
        if appended:
            self.port.log_appended()
        if self._wake:
            self._wake_sessions()
        if acks == 0:
            if any(r.error != NONE for r in responses.values()):
                # KafkaApis.handleProduceRequest: an acks=0 request that failed gets no answer, the broker closes
                # the connection instead, so the client refreshes its metadata.
                self.port.send(src, ConnectionReset(self.broker_id))
            return
        if acks == 1 or not waiting:
            self.port.send(src, ProduceResponse(responses, req.correlation_id))
            return
        op = DelayedProduce(src, req.correlation_id, responses, len(waiting))
        for p, required, tp in waiting:
            if p.high_watermark >= required:
                op.remaining -= 1
            else:
                heapq.heappush(p.produce_waiters, (required, next(self._seq), op, tp))
        if op.remaining == 0:
            op.done = True
            self.port.send(src, ProduceResponse(responses, req.correlation_id))
        else:
            self._add_expiry(now_ms + req.timeout_ms, op)

    def _produce_partition_done(self, op: DelayedProduce) -> None:
        op.remaining -= 1
        if op.remaining <= 0 and not op.done:
            op.done = True
            self.port.send(op.src, ProduceResponse(op.responses, op.correlation_id))

    def _on_hw_advanced(self, p: Partition) -> None:
        hw = p.high_watermark
        if p.hw_watchers:
            watchers = p.hw_watchers
            while watchers and watchers[0][0] <= hw:
                heapq.heappop(watchers)[2]()
        waiters = p.produce_waiters
        while waiters and waiters[0][0] <= hw:
            _, _, op, _tp = heapq.heappop(waiters)
            if not op.done:
                self._produce_partition_done(op)
        if p.consumer_waiters:
            parked, p.consumer_waiters = p.consumer_waiters, []
            for cf in parked:
                if not cf.done:
                    self._try_complete_consumer_fetch(cf)
        tp = p.tp
        for s in p.sessions:
            s.pending[tp] = None

    def _after_isr_change(self, p: Partition) -> None:
        """The ISR changed (image or AlterPartition answer): the HW may move, waiting produces may fail, an
        out-of-ISR replica may now be added."""
        if not self._settled(p):
            self.lagging[p.tp] = p
        self._mark_expand_candidates(p)
        if p.maybe_increment_hw():
            self._on_hw_advanced(p)
        if len(p.maximal_isr) < p.min_isr and p.produce_waiters:
            reached = p.isr_min_leo()
            waiters = p.produce_waiters
            while waiters and waiters[0][0] <= reached:
                _, _, op, tp = heapq.heappop(waiters)
                if not op.done:
                    op.responses[tp] = PartitionProduceResponse("NOT_ENOUGH_REPLICAS_AFTER_APPEND")
                    self._produce_partition_done(op)

    # ==== fetch =======================================================================================================
    def handle_fetch(self, src: Any, req: FetchRequest, now_ms: float) -> None:
        self.now_ms = now_ms
        self.fetch_requests += 1
        if req.replica_id == CONSUMER_REPLICA_ID or req.replica_id < 0:
            self._consumer_fetch(src, req, now_ms)
        else:
            self._follower_fetch(src, req, now_ms)
        if self._wake:
            self._wake_sessions()

    def _leader_partition(self, tp: TopicPartition, current_leader_epoch: int) -> tuple[Partition | None, str]:
        p = self.partitions.get(tp)
        if p is None:
            known = self.image is not None and self.image.partition(tp.topic, tp.partition) is not None
            return None, _NOT_LEADER if known else _UNKNOWN
        if current_leader_epoch >= 0:
            if current_leader_epoch < p.leader_epoch:
                return None, "FENCED_LEADER_EPOCH"
            if current_leader_epoch > p.leader_epoch:
                return None, "UNKNOWN_LEADER_EPOCH"
        if p.role is not Role.LEADER:
            return None, _NOT_LEADER
        return p, NONE

    def _read(self, p: Partition, fp: FetchPartition, max_bytes: int, limit: int | None,
              min_one: bool) -> PartitionFetchResponse:
        log = p.log
        offset = fp.fetch_offset
        if offset < log.log_start_offset or offset > log.log_end_offset:
            return PartitionFetchResponse("OFFSET_OUT_OF_RANGE", p.high_watermark, p.high_watermark,
                                          log.log_start_offset)
        batches = log.read(offset, max_bytes, max_offset=limit, min_one=min_one) if max_bytes > 0 or min_one else []
        return PartitionFetchResponse(NONE, p.high_watermark, p.high_watermark, log.log_start_offset,
                                      tuple(batches))

    # -- consumers ---------------------------------------------------------------------------------------------------
    def _consumer_read(self, req: FetchRequest) -> tuple[dict[TopicPartition, PartitionFetchResponse], int, bool]:
        responses: dict[TopicPartition, PartitionFetchResponse] = {}
        budget = min(req.max_bytes, self._fetch_max_bytes)
        total = 0
        errors = False
        for tp, fp in req.partitions.items():
            p, error = self._leader_partition(tp, fp.current_leader_epoch)
            if p is None:
                responses[tp] = _pfr(error, self.partitions.get(tp))
                errors = True
                continue
            r = self._read(p, fp, min(fp.partition_max_bytes, budget - total), p.high_watermark, total == 0)
            if r.error != NONE:
                errors = True
            size = r.records_size_bytes
            total += size
            responses[tp] = r
        return responses, total, errors

    def _consumer_fetch(self, src: Any, req: FetchRequest, now_ms: float) -> None:
        responses, total, errors = self._consumer_read(req)
        if errors or total >= req.min_bytes or req.max_wait_ms <= 0:
            self.port.send(src, FetchResponse(NONE, responses, req.correlation_id))
            return
        cf = ConsumerFetch(src, req)
        for tp in req.partitions:
            self.partitions[tp].consumer_waiters.append(cf)
        self._add_expiry(now_ms + req.max_wait_ms, cf)

    def _try_complete_consumer_fetch(self, cf: ConsumerFetch) -> None:
        responses, total, errors = self._consumer_read(cf.request)
        if errors or total >= cf.request.min_bytes:
            self._finish_consumer_fetch(cf, responses)
        else:
            for tp in cf.request.partitions:
                p = self.partitions.get(tp)
                if p is not None and cf not in p.consumer_waiters:
                    p.consumer_waiters.append(cf)

    def _complete_consumer_fetch(self, cf: ConsumerFetch) -> None:
        self._finish_consumer_fetch(cf, self._consumer_read(cf.request)[0])

    def _finish_consumer_fetch(self, cf: ConsumerFetch, responses: dict[TopicPartition, PartitionFetchResponse]
                               ) -> None:
        cf.done = True
        for tp in cf.request.partitions:
            p = self.partitions.get(tp)
            if p is not None and cf in p.consumer_waiters:
                p.consumer_waiters.remove(cf)
        self.port.send(cf.src, FetchResponse(NONE, responses, cf.request.correlation_id))

    # -- followers (fetch sessions) ------------------------------------------------------------------------------------
    def _follower_fetch(self, src: Any, req: FetchRequest, now_ms: float) -> None:
        replica = req.replica_id
        if req.session_epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            old = self.sessions.pop(replica, None)
            if old is not None:
                self._close_session(old)
            # A sessionless follower fetch (FINAL_EPOCH) gets a session too, with id 0: it is replaced each time.
            s = FollowerSession(replica, next(self._session_ids) if req.session_epoch == INITIAL_EPOCH else 0)
            self.sessions[replica] = s
        else:
            existing = self.sessions.get(replica)
            if existing is None or existing.session_id != req.session_id:
                self.port.send(src, FetchResponse("FETCH_SESSION_ID_NOT_FOUND", {}, req.correlation_id))
                return
            s = existing
            for tp in req.forgotten:
                if s.partitions.pop(tp, None) is not None:
                    s.pending.pop(tp, None)
                    s.sent_hw.pop(tp, None)
                    p = self.partitions.get(tp)
                    if p is not None and s in p.sessions:
                        p.sessions.remove(s)
        s.parked = None
        s.replica_epoch = req.replica_epoch
        partitions = self.partitions
        candidates: dict[TopicPartition, None] = dict.fromkeys(req.partitions)
        for tp, fp in req.partitions.items():
            if tp not in s.partitions:
                p = partitions.get(tp)
                if p is not None:
                    p.sessions.append(s)
            s.partitions[tp] = fp
            p, error = self._leader_partition(tp, fp.current_leader_epoch)
            if p is None:
                continue
            state = p.followers.get(replica)
            if state is None or p.diverging_epoch(fp.fetch_offset, fp.last_fetched_epoch) is not None:
                continue
            if fp.fetch_offset > p.log.log_end_offset or fp.fetch_offset < p.log.log_start_offset:
                continue
            p.update_follower_fetch(state, fp.fetch_offset, now_ms)
            state.broker_epoch = req.replica_epoch
            if fp.fetch_offset == p.log.log_end_offset and tp in self.lagging and self._settled(p):
                del self.lagging[tp]
            if replica not in p.isr:
                self._expand(s, p, now_ms)
            if p.maybe_increment_hw():
                self._on_hw_advanced(p)
        if s.expand_candidates:
            for tp in list(s.expand_candidates):
                cached = s.partitions.get(tp)
                p = partitions.get(tp)
                if tp in req.partitions or cached is None or p is None:
                    if cached is None or p is None:
                        del s.expand_candidates[tp]
                    continue
                state = p.followers.get(replica)
                if p.role is not Role.LEADER or state is None or replica in p.isr:
                    del s.expand_candidates[tp]
                    continue
                if cached.fetch_offset <= p.log.log_end_offset and \
                        cached.current_leader_epoch in (-1, p.leader_epoch):
                    p.update_follower_fetch(state, cached.fetch_offset, now_ms)   # the session's cached offset
                    state.broker_epoch = req.replica_epoch
                    self._expand(s, p, now_ms)
        candidates.update(s.pending)
        s.pending = {}
        responses, total, news = self._session_read(s, candidates, req.max_bytes)
        if news or total >= req.min_bytes or req.max_wait_ms <= 0:
            self._send_session_response(s, src, req, responses)
            return
        s.pending.update(dict.fromkeys(responses))
        s.parked = req
        s.parked_src = src
        self._add_expiry(now_ms + req.max_wait_ms, (s, req))

    def _expand(self, s: FollowerSession, p: Partition, now_ms: float) -> None:
        proposal = p.maybe_expand_isr(s.replica_id, now_ms, self._eligible)
        if proposal is not None:
            self.isr_expands += 1
            self.lagging[p.tp] = p
            s.expand_candidates.pop(p.tp, None)
            self.port.alter_partition(proposal)
        else:
            s.expand_candidates[p.tp] = None

    def _session_read(self, s: FollowerSession, candidates: dict[TopicPartition, None], max_bytes: int
                      ) -> tuple[dict[TopicPartition, PartitionFetchResponse], int, bool]:
        """Read every candidate partition of a session: (responses with news, record bytes, any error/diverging)."""
        responses: dict[TopicPartition, PartitionFetchResponse] = {}
        total = 0
        news = False
        sent_hw = s.sent_hw
        for tp in candidates:
            fp = s.partitions.get(tp)
            if fp is None:
                continue
            p, error = self._leader_partition(tp, fp.current_leader_epoch)
            if p is None:
                responses[tp] = _pfr(error, self.partitions.get(tp))
                news = True
                continue
            if fp.last_fetched_epoch >= 0:
                diverging = p.diverging_epoch(fp.fetch_offset, fp.last_fetched_epoch)
                if diverging is not None:
                    if diverging[0] < 0:
                        responses[tp] = PartitionFetchResponse("OFFSET_OUT_OF_RANGE", p.high_watermark,
                                                               p.high_watermark, p.log.log_start_offset)
                    else:
                        responses[tp] = PartitionFetchResponse(NONE, p.high_watermark, p.high_watermark,
                                                               p.log.log_start_offset, diverging_epoch=diverging)
                    news = True
                    continue
            r = self._read(p, fp, min(fp.partition_max_bytes, max_bytes - total), None, total == 0)
            if r.error != NONE:
                news = True
                responses[tp] = r
                continue
            if r.batches:
                total += r.records_size_bytes
                responses[tp] = r
            elif sent_hw.get(tp) != r.high_watermark:
                responses[tp] = r
        return responses, total, news

    def _send_session_response(self, s: FollowerSession, src: Any, req: FetchRequest,
                               responses: dict[TopicPartition, PartitionFetchResponse]) -> None:
        sent_hw = s.sent_hw
        for tp, r in responses.items():
            sent_hw[tp] = r.high_watermark
        self.port.send(src, FetchResponse(NONE, responses, req.correlation_id, s.session_id))

    def _complete_session(self, s: FollowerSession) -> None:
        req = s.parked
        if req is None or s.done:
            return
        s.parked = None
        candidates, s.pending = s.pending, {}
        responses, _, _ = self._session_read(s, candidates, req.max_bytes)
        self._send_session_response(s, s.parked_src, req, responses)

    def _wake_sessions(self) -> None:
        woken, self._wake = self._wake, {}
        for s in woken.values():
            if s.parked is not None:
                self._complete_session(s)

    def _close_session(self, s: FollowerSession) -> None:
        s.done = True
        s.parked = None
        for tp in s.partitions:
            p = self.partitions.get(tp)
            if p is not None and s in p.sessions:
                p.sessions.remove(s)

    # ==== ListOffsets, InitProducerId ==================================================================================
    def handle_list_offsets(self, src: Any, req: ListOffsetsRequest, now_ms: float) -> None:
        responses: dict[TopicPartition, ListOffsetsPartitionResponse] = {}
        for tp, timestamp in req.partitions.items():
            p, error = self._leader_partition(tp, -1)
            if p is None:
                responses[tp] = ListOffsetsPartitionResponse(error)
                continue
            log = p.log
            if timestamp == EARLIEST_TIMESTAMP:
                offset = log.log_start_offset
            elif timestamp == LATEST_TIMESTAMP:
                offset = log.log_end_offset if req.replica_id >= 0 else p.high_watermark
            else:
                offset = -1
                for batch in log.batches():
                    if batch.max_timestamp_ms >= timestamp and batch.base_offset < p.high_watermark:
                        offset = batch.base_offset
                        break
            responses[tp] = ListOffsetsPartitionResponse(NONE, -1, offset, p.leader_epoch)
        self.port.send(src, ListOffsetsResponse(responses, req.correlation_id))

    def handle_init_producer_id(self, src: Any, req: InitProducerIdRequest, now_ms: float) -> None:
        if req.producer_id >= 0:
            # KIP-360: a producer that already has an id bumps its epoch.
            response = InitProducerIdResponse(NONE, req.producer_id, req.producer_epoch + 1, req.correlation_id)
        else:
            pid = (self.incarnation << 40) | (self.broker_id << 24) | next(self._producer_ids)
            response = InitProducerIdResponse(NONE, pid, 0, req.correlation_id)
        self.port.send(src, response)

    # ==== follower side, AlterPartition answers =======================================================================
    def on_fetch_response(self, src: Any, resp: FetchResponse, now_ms: float) -> None:
        self.now_ms = now_ms
        self.fetchers.on_fetch_response(src, resp, now_ms)

    def on_alter_partition_result(self, topic: str, partition: int, error: str, leader_epoch: int = -1,
                                  isr: tuple[int, ...] = (), partition_epoch: int = -1) -> None:
        p = self.partitions.get(TopicPartition(topic, partition))
        if p is None:
            return
        if p.on_alter_partition_result(error, leader_epoch, isr, partition_epoch):
            self._after_isr_change(p)

    # ==== timers ======================================================================================================
    def on_timer(self, name: str, now_ms: float) -> None:
        self.now_ms = now_ms
        if name == _EXPIRY:
            self._expiry_armed_at = None
            self._run_expiry(now_ms)
        elif name == _ISR_CHECK:
            self._isr_check_armed = False
            self._check_isr(now_ms)
        else:
            self.fetchers.on_timer(name, now_ms)

    def _add_expiry(self, deadline: float, op: Any) -> None:
        heapq.heappush(self._expiry, (deadline, next(self._seq), op))
        armed = self._expiry_armed_at
        if armed is None or deadline < armed:
            self._expiry_armed_at = deadline
            self.port.set_timer(_EXPIRY, deadline)

    @staticmethod
    def _op_done(op: Any) -> bool:
        if type(op) is tuple:
            s, req = op
            return bool(s.parked is not req)
        return bool(op.done)

    def _run_expiry(self, now_ms: float) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now_ms:
            _, _, op = heapq.heappop(heap)
            if self._op_done(op):
                continue
            if type(op) is tuple:
                self._complete_session(op[0])
            elif type(op) is DelayedProduce:
                for tp, r in op.responses.items():
                    p = self.partitions.get(tp)
                    if r.error == NONE and p is not None and any(w[2] is op for w in p.produce_waiters):
                        op.responses[tp] = PartitionProduceResponse("REQUEST_TIMED_OUT")
                        p.produce_waiters = [w for w in p.produce_waiters if w[2] is not op]
                        heapq.heapify(p.produce_waiters)
                op.done = True
                self.port.send(op.src, ProduceResponse(op.responses, op.correlation_id))
            else:
                self._complete_consumer_fetch(op)
        while heap and self._op_done(heap[0][2]):
            heapq.heappop(heap)
        if heap:
            self._expiry_armed_at = heap[0][0]
            self.port.set_timer(_EXPIRY, heap[0][0])

    def _arm_isr_check(self, now_ms: float) -> None:
        if not self._isr_check_armed:
            self._isr_check_armed = True
            self.port.set_timer(_ISR_CHECK, now_ms + self.lag_ms / 2)

    @staticmethod
    def _settled(p: Partition) -> bool:
        """Nothing for the ISR check to do: no proposal pending, every ISR follower has the leader's log end."""
        return p.pending_isr is None and p.isr_min_leo() == p.log.log_end_offset

    def _mark_expand_candidates(self, p: Partition) -> None:
        """Replicas out of ``p``'s ISR get ``p`` re-evaluated on their session's next fetch (Kafka runs the
        expansion check for every partition of a fetch session on every fetch; an incremental session does not
        mention a caught-up idle partition, so the leader remembers which ones to look at)."""
        if p.role is not Role.LEADER or len(p.isr) == len(p.replicas):
            return
        tp = p.tp
        for r in p.replicas:
            if r != self.broker_id and r not in p.isr:
                session = self.sessions.get(r)
                if session is not None and tp in session.partitions:
                    session.expand_candidates[tp] = None

    def _check_isr(self, now_ms: float) -> None:
        """Kafka's ``isr-expiration`` task: shrink ISRs of lagging followers, resend stuck proposals."""
        for tp, p in list(self.lagging.items()):
            if self._settled(p):
                del self.lagging[tp]
                continue
            if p.pending_isr is not None:
                if now_ms - p.pending_since_ms >= self.lag_ms / 2:
                    p.pending_since_ms = now_ms
                    self.port.alter_partition(IsrProposal(p.tp.topic, p.tp.partition, p.leader_epoch,
                                                          p.pending_isr, p.partition_epoch))
                continue
            proposal = p.maybe_shrink_isr(now_ms)
            if proposal is not None:
                self.isr_shrinks += 1
                self.port.alter_partition(proposal)
        if self.leading:
            self._arm_isr_check(now_ms)

    # ==== views =======================================================================================================
    def watch_high_watermark(self, tp: TopicPartition, offset: int, callback: Callable[[], None]) -> bool:
        """Call ``callback()`` once the high watermark of ``tp`` (led here) reaches ``offset`` (at once if it has).
        False when this broker does not lead ``tp``. Watchers are dropped, uncalled, when leadership is lost. This
        is how Kafka's coordinator runtime waits for its writes (``PartitionWriter.Listener``)."""
        p = self.partitions.get(tp)
        if p is None or p.role is not Role.LEADER:
            return False
        if p.high_watermark >= offset:
            callback()
        else:
            heapq.heappush(p.hw_watchers, (offset, next(self._seq), callback))
        return True

    def partition(self, topic: str, partition: int) -> Partition | None:
        return self.partitions.get(TopicPartition(topic, partition))

    def describe(self) -> list[dict[str, Any]]:
        """One row per replica: topic, partition, role, leader, leader_epoch, isr, high_watermark, log_end_offset."""
        return [{"topic": tp.topic, "partition": tp.partition, "role": p.role.value, "leader": p.leader_id,
                 "leader_epoch": p.leader_epoch, "isr": p.isr, "high_watermark": p.high_watermark,
                 "log_end_offset": p.log.log_end_offset} for tp, p in sorted(self.partitions.items())]


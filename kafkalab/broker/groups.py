"""The broker's side of consumer groups: FindCoordinator, the ``__consumer_offsets`` topic, and the coordinator's port
(Kafka's ``KafkaApis.handleFindCoordinatorRequest``, ``AutoTopicCreationManager`` and the group coordinator's
``CoordinatorPartitionWriter``/``CoordinatorLoaderImpl``).

How it works. Every broker runs a :class:`~kafkalab.groups.coordinator.GroupCoordinator` (sans-I/O) through
:class:`BrokerGroups`, which is its port:

- **Where a group lives.** ``FindCoordinator(group)`` is answered by any broker from its metadata image: the leader of
  ``__consumer_offsets`` partition ``partition_for(group)``. While the topic does not exist the broker asks the active
  controller to create it (``offsets.topic.num.partitions`` partitions, replication factor
  ``min(offsets.topic.replication.factor, registered brokers)``, ``cleanup.policy=compact``), once at a time, and
  answers COORDINATOR_NOT_AVAILABLE, so clients retry, as Kafka does on first use of a group.
- **Who coordinates.** After each replayed metadata change the broker compares the ``__consumer_offsets`` partitions
  it leads (and their leader epochs) with what its coordinator serves: a newly led partition is loaded
  (``on_become_leader``: the coordinator replays the partition's local log), a lost one is unloaded (``on_resign``).
  This is coordinator failover: it follows partition leadership, nothing else.
- **Writes.** ``append(partition, records, callback)`` appends one batch to the local leader replica through the
  replica manager's produce path with ``acks=1`` (Kafka's ``CoordinatorPartitionWriter``); a failed append (nothing
  written: NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE, ...) calls back with its error at once, otherwise the callback
  gets ``"NONE"`` once the high watermark passed the batch (the runtime's high-watermark listener), however late:
  the time-out (``offsets.commit.timeout.ms``) is the coordinator runtime's, which answers the request but keeps
  waiting for this callback, so what reaches the committed log also reaches the coordinator's state and a
  coordinator that replays the log later rebuilds exactly that state. There is no failure after the append. If
  leadership is lost first, the callback never comes and the coordinator, unloaded, answers NOT_COORDINATOR. The
  answer comes back in-process (no network hop).
- **Reads.** ``read(partition)`` walks the local log, record by record, as the loader does.

Loading takes a modelled time proportional to the bytes read (the coordinator's ``LOAD_BYTES_PER_MS``), answered with
COORDINATOR_LOAD_IN_PROGRESS meanwhile. Simplification: internal appends skip the request-handler queue of the cost
model.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kafkalab.broker.internal_topics import InternalTopicCreation, coordinator_for, create_internal_topic
from kafkalab.broker.partition import Role
from kafkalab.common.records import COMMIT_MARKER, RecordBatch, control_type
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.protocol import admin as cm
from kafkalab.protocol.common import NONE
from kafkalab.protocol.group import FindCoordinatorRequest, FindCoordinatorResponse
from kafkalab.protocol.produce import PartitionProduceResponse, ProduceRequest, ProduceResponse

if TYPE_CHECKING:  # pragma: no cover
    from kafkalab.broker.server import BrokerServer

__all__ = ["BrokerGroups", "LocalReply", "TIMER_PREFIX"]

#: the coordinator's timers, as named on the broker
TIMER_PREFIX = "group:"


class LocalReply:
    """A reply address inside the broker: the replica manager "sends" its ProduceResponse here."""

    __slots__ = ("tp", "response")

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.response: PartitionProduceResponse | None = None

    def deliver(self, msg: Any) -> None:
        if type(msg) is ProduceResponse:
            self.response = msg.responses.get(self.tp)


class BrokerGroups:
    """One broker's group coordinator and the port it runs on."""

    def __init__(self, server: BrokerServer) -> None:
        from kafkalab.groups.coordinator import GroupCoordinator

        self.server = server
        config = server.config
        self.num_partitions = int(config["offsets.topic.num.partitions"])
        self.replication_factor = int(config["offsets.topic.replication.factor"])
        self.coordinator = GroupCoordinator(server.broker_id, self, config)
        self.serving: dict[int, int] = {}          # __consumer_offsets partition -> leader epoch it was loaded at
        self._creation = InternalTopicCreation()
        self._correlation = 0
        self._open_txns: dict[int, dict[int, list[tuple[bytes, Any]]]] = {}

    # ---- the coordinator's port ----------------------------------------------------------------------------------
    def send(self, dst: Any, msg: Any) -> None:
        self.server.send(dst, msg)

    def set_timer(self, name: str, at_ms: float) -> None:
        self.server.set_timer(TIMER_PREFIX + name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.server.cancel_timer(TIMER_PREFIX + name)

    def now_ms(self) -> float:
        return self.server.ctx.now

    def append(self, partition: int, records: Sequence[tuple[bytes, Any]], callback: Callable[[str], None]) -> None:
        server = self.server
        now = server.ctx.now
        ts = int(now)
        tp = TopicPartition(OFFSETS_TOPIC, partition)
        batch = RecordBatch(tuple((key, value, ts, ()) for key, value in records))
        reply = LocalReply(tp)
        server.rm.handle_produce(reply, ProduceRequest(1, 0, {tp: batch}), now)
        response = reply.response
        if response is None or response.error != NONE:
            callback("UNKNOWN_SERVER_ERROR" if response is None else response.error)   # nothing was appended
            return
        required = response.base_offset + len(records)
        if not server.rm.watch_high_watermark(tp, required, lambda: callback(NONE)):  # pragma: no cover
            callback("NOT_LEADER_OR_FOLLOWER")

    def append_transactional(self, partition: int, records: Sequence[tuple[bytes, Any]], producer_id: int,
                             producer_epoch: int, callback: Callable[[str], None]) -> None:
        """TxnOffsetCommit's write: a transactional batch of the producer (no sequence checks: the coordinator
        writes it), reported once the high watermark passed it."""
        server = self.server
        now = server.ctx.now
        tp = TopicPartition(OFFSETS_TOPIC, partition)
        batch = RecordBatch(tuple((key, value, int(now), ()) for key, value in records), producer_id=producer_id,
                            producer_epoch=producer_epoch, is_transactional=True)
        reply = LocalReply(tp)
        server.rm.handle_produce(reply, ProduceRequest(1, 0, {tp: batch}), now, from_coordinator=True)
        response = reply.response
        if response is None or response.error != NONE:
            callback("UNKNOWN_SERVER_ERROR" if response is None else response.error)
            return
        if not server.rm.watch_high_watermark(tp, response.base_offset + len(records),
                                              lambda: callback(NONE)):  # pragma: no cover
            callback("NOT_LEADER_OR_FOLLOWER")

    def on_txn_marker(self, partition: int, producer_id: int, committed: bool) -> None:
        self.coordinator.on_txn_marker(partition, producer_id, committed)

    def read(self, partition: int) -> Iterator[tuple[bytes, Any]]:
        """The partition's records as the loader replays them: a committed transaction's offsets at its marker,
        an aborted one's never, an open one's not (see :meth:`open_transactions`)."""
        p = self.server.rm.partition(OFFSETS_TOPIC, partition)
        if p is None:
            return
        open_txns: dict[int, list[tuple[bytes, Any]]] = {}
        for batch in p.log.batches():
            if batch.is_transactional:
                if batch.is_control:
                    records = open_txns.pop(batch.producer_id, [])
                    if control_type(batch) == COMMIT_MARKER:
                        yield from records
                else:
                    open_txns.setdefault(batch.producer_id, []).extend((k, v) for k, v, _t, _h in batch.rows)
                continue
            for key, value, _ts, _headers in batch.rows:
                yield key, value
        self._open_txns[partition] = open_txns

    def open_transactions(self, partition: int) -> dict[int, list[tuple[bytes, Any]]]:
        """The transactional offsets of ``partition`` without a marker at the last :meth:`read`."""
        return self._open_txns.pop(partition, {})

    def topic_partitions(self) -> Mapping[str, int]:
        return {name: len(topic.partitions) for name, topic in self.server.image.topics.items()
                if name != OFFSETS_TOPIC}

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.server.ctx.record(metric, value, **labels)

    # ---- the broker's side ---------------------------------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        self.coordinator.on_timer(name, self.server.ctx.now)

    def handle(self, src: Any, msg: Any) -> None:
        """A group request from a client (after the request-handler queue)."""
        if type(msg) is FindCoordinatorRequest:
            self.server.send(src, self.find_coordinator(msg))
        else:
            self.coordinator.handle(src, msg, self.server.ctx.now)

    def find_coordinator(self, req: FindCoordinatorRequest) -> FindCoordinatorResponse:
        cid = req.correlation_id
        if req.key_type != 0:
            return FindCoordinatorResponse("INVALID_REQUEST", correlation_id=cid,
                                           error_message="Only group coordinators (key_type 0) are modelled.")
        if not req.key:
            return FindCoordinatorResponse("INVALID_REQUEST", correlation_id=cid,
                                           error_message="The group id must not be empty.")
        return coordinator_for(self.server.image, OFFSETS_TOPIC, lambda n: partition_for(req.key, n), cid,
                               self._create_offsets_topic)

    def _create_offsets_topic(self) -> None:
        server = self.server
        controller = self._creation.controller_to_ask(server)
        if controller is None:
            return
        self._correlation += 1
        create_internal_topic(server, controller, OFFSETS_TOPIC, self.num_partitions, self.replication_factor,
                              self._correlation, lambda rf: (
                                  ("cleanup.policy", "compact"),
                                  ("segment.bytes", str(server.config["offsets.topic.segment.bytes"]))))

    def on_metadata_change(self, image: MetadataImage, change: Change) -> None:
        """Load the ``__consumer_offsets`` partitions this broker now leads, unload the ones it lost, and tell the
        coordinator about topic size changes (KIP-848 groups re-assign)."""
        offsets_changed = any(t == OFFSETS_TOPIC for t, _ in change.partitions) or OFFSETS_TOPIC in change.removed_topics
        if offsets_changed:
            self.sync_leadership()
        topics = {t for t, _ in change.partitions if t != OFFSETS_TOPIC} | set(change.removed_topics)
        if topics:
            counts = {t: len(image.topics[t].partitions) if t in image.topics else 0 for t in sorted(topics)}
            self.coordinator.on_metadata(counts, self.server.ctx.now, version=image.offset)

    def sync_leadership(self) -> None:
        now = self.server.ctx.now
        rm = self.server.rm
        leading: dict[int, int] = {}
        topic = self.server.image.topics.get(OFFSETS_TOPIC)
        for index in (() if topic is None else sorted(topic.partitions)):
            p = rm.partition(OFFSETS_TOPIC, index)
            if p is not None and p.role is Role.LEADER:
                leading[index] = p.leader_epoch
        coordinator = self.coordinator
        for index, epoch in sorted(self.serving.items()):
            if leading.get(index) != epoch:
                del self.serving[index]
                coordinator.on_resign(index, epoch, now)
        for index, epoch in sorted(leading.items()):
            if index not in self.serving:
                self.serving[index] = epoch
                coordinator.on_become_leader(index, epoch, now)

    def on_create_topics_response(self, msg: cm.CreateTopicsResponse) -> None:
        """A failed creation (no controller, too few brokers) is retried by the next FindCoordinator."""
        self._creation.on_response(msg)

"""A test double of the brokers, for client tests only (never shipped): World nodes answering Metadata, Produce,
Fetch, ListOffsets and InitProducerId from one shared PartitionLog per partition.

There is no replication: the high watermark is the log end. Leadership is a dict the test edits (``move_leader``).
Faults are knobs on :class:`FakeCluster`: queued per-partition produce errors, answers swallowed, a broker that answers
metadata with a stale view. Idempotent producer state (producer id, epoch, last sequence, the offsets of the last
five batches) follows Kafka's ``ProducerStateManager`` closely enough to catch duplicates and gaps.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kafkalab.check.history import History
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import KafkaError
from kafkalab.log.partition_log import PartitionLog
from kafkalab.protocol.common import NONE
from kafkalab.protocol.fetch import FetchRequest, FetchResponse, PartitionFetchResponse
from kafkalab.protocol.list_offsets import (
    EARLIEST_TIMESTAMP,
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
)
from kafkalab.protocol.metadata import (
    BrokerInfo,
    MetadataRequest,
    MetadataResponse,
    PartitionMetadata,
    TopicMetadata,
)
from kafkalab.protocol.produce import PartitionProduceResponse, ProduceRequest, ProduceResponse
from kafkalab.protocol.sizes import message_size_bytes
from kafkalab.protocol.txn import InitProducerIdRequest, InitProducerIdResponse
from kafkalab.sim.world import World


@dataclass
class _ProducerState:
    epoch: int
    last_seq: int = -1
    recent: list[tuple[int, int, int]] = field(default_factory=list)   # (first seq, last seq, base offset)


class FakeCluster:
    """Brokers 1..n on a World, with topics whose partitions are led round-robin."""

    def __init__(self, brokers: int = 3, seed: int = 0, world: World | None = None) -> None:
        self.world = world or World(seed)
        self.broker_ids = list(range(1, brokers + 1))
        self.logs: dict[TopicPartition, PartitionLog] = {}
        self.leaders: dict[TopicPartition, int] = {}
        self.epochs: dict[TopicPartition, int] = {}
        self.topics: dict[str, int] = {}
        self.produce_errors: dict[TopicPartition, list[str]] = defaultdict(list)
        self.swallow_produce = 0              # answers to swallow (the request is handled, the answer lost)
        self.drop_produce = 0                 # requests to ignore entirely
        self.stale_metadata_from: dict[int, dict[TopicPartition, int]] = {}
        self.produce_requests: list[tuple[int, ProduceRequest]] = []
        self.fetch_requests: list[tuple[int, FetchRequest]] = []
        self.metadata_requests = 0
        self.leader_hints = False             # KIP-951 new-leader hints in fetch errors
        self._producers: dict[tuple[int, TopicPartition], _ProducerState] = {}
        self._next_pid = 1000
        self._pid_epochs: dict[int, int] = {}
        self._parked: list[tuple[int, Any, FetchRequest, Any]] = []
        self.history = History()
        for b in self.broker_ids:
            self.world.add_node(b, self._factory(b))

    @property
    def now(self) -> float:
        return self.world.now

    def _factory(self, broker_id: int) -> Any:
        def start(ctx: Any) -> _FakeBroker:
            return _FakeBroker(self, broker_id, ctx)
        return start

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self.topics[name] = partitions
        for p in range(partitions):
            tp = TopicPartition(name, p)
            self.logs[tp] = PartitionLog(name=str(tp))
            self.leaders[tp] = self.broker_ids[p % len(self.broker_ids)]
            self.epochs[tp] = 0

    def move_leader(self, tp: TopicPartition, broker_id: int) -> None:
        self.leaders[tp] = broker_id
        self.epochs[tp] += 1

    def values(self, tp: TopicPartition) -> list[Any]:
        return [r.value for b in self.logs[tp].batches() for r in b.records]

    def append_records(self, tp: TopicPartition, values: list[bytes]) -> None:
        """Write records straight into a partition (as if another producer had)."""
        from kafkalab.common.records import Record
        self.logs[tp].append_as_leader([Record(None, v, int(self.now)) for v in values], self.epochs[tp], self.now)
        self.wake_fetches()

    def wake_fetches(self) -> None:
        parked, self._parked = self._parked, []
        for broker_id, src, request, timer in parked:
            timer.cancel()
            self.world.processes[broker_id]._answer_fetch(src, request, final=False)  # type: ignore[union-attr]


class _FakeBroker:
    def __init__(self, cluster: FakeCluster, broker_id: int, ctx: Any) -> None:
        self.cluster = cluster
        self.id = broker_id
        self.ctx = ctx

    def reply(self, dst: Any, msg: Any) -> None:
        self.ctx.send(dst, msg, message_size_bytes(msg))

    def on_message(self, src: Any, msg: Any) -> None:
        c = self.cluster
        if isinstance(msg, MetadataRequest):
            c.metadata_requests += 1
            self.reply(src, self._metadata(msg))
        elif isinstance(msg, ProduceRequest):
            c.produce_requests.append((self.id, msg))
            if c.drop_produce:
                c.drop_produce -= 1
                return
            response = self._produce(msg)
            if msg.acks == 0:
                return
            if c.swallow_produce:
                c.swallow_produce -= 1
                return
            self.reply(src, response)
        elif isinstance(msg, FetchRequest):
            c.fetch_requests.append((self.id, msg))
            self._answer_fetch(src, msg, final=msg.max_wait_ms <= 0)
        elif isinstance(msg, ListOffsetsRequest):
            self.reply(src, self._list_offsets(msg))
        elif isinstance(msg, InitProducerIdRequest):
            if msg.producer_id >= 0:
                pid, epoch = msg.producer_id, c._pid_epochs[msg.producer_id] + 1
            else:
                pid, epoch = c._next_pid, 0
                c._next_pid += 1
            c._pid_epochs[pid] = epoch
            self.reply(src, InitProducerIdResponse(NONE, pid, epoch, msg.correlation_id))

    def _metadata(self, msg: MetadataRequest) -> MetadataResponse:
        c = self.cluster
        stale = c.stale_metadata_from.get(self.id, {})
        names = msg.topics if msg.topics is not None else tuple(c.topics)
        topics = []
        for name in names:
            if name not in c.topics:
                topics.append(TopicMetadata("UNKNOWN_TOPIC_OR_PARTITION", name, ()))
                continue
            parts = []
            for p in range(c.topics[name]):
                tp = TopicPartition(name, p)
                leader = stale.get(tp, c.leaders[tp])
                parts.append(PartitionMetadata(NONE, p, leader, c.epochs[tp], tuple(c.broker_ids), tuple(c.broker_ids)))
            topics.append(TopicMetadata(NONE, name, tuple(parts)))
        return MetadataResponse(tuple(BrokerInfo(b) for b in c.broker_ids), tuple(topics), 1, msg.correlation_id)

    def _produce(self, msg: ProduceRequest) -> ProduceResponse:
        c = self.cluster
        out = {}
        for tp, batch in msg.batches.items():
            if tp not in c.logs:
                out[tp] = PartitionProduceResponse("UNKNOWN_TOPIC_OR_PARTITION")
                continue
            if c.leaders[tp] != self.id:
                out[tp] = PartitionProduceResponse("NOT_LEADER_OR_FOLLOWER")
                continue
            if c.produce_errors[tp]:
                out[tp] = PartitionProduceResponse(c.produce_errors[tp].pop(0))
                continue
            if batch.producer_id >= 0:
                key = (batch.producer_id, tp)
                state = c._producers.get(key)
                first, last = batch.base_sequence, batch.base_sequence + len(batch.records) - 1
                if state is None or batch.producer_epoch > state.epoch:
                    if first != 0 and state is not None:
                        out[tp] = PartitionProduceResponse("OUT_OF_ORDER_SEQUENCE_NUMBER")
                        continue
                    state = c._producers[key] = _ProducerState(batch.producer_epoch)
                dup = [r for r in state.recent if r[0] == first and r[1] == last]
                if dup:
                    out[tp] = PartitionProduceResponse(NONE, dup[0][2])
                    continue
                if first != state.last_seq + 1:
                    out[tp] = PartitionProduceResponse("OUT_OF_ORDER_SEQUENCE_NUMBER")
                    continue
            try:
                stored = c.logs[tp].append_as_leader(batch, c.epochs[tp], self.ctx.now)
            except KafkaError as exc:
                out[tp] = PartitionProduceResponse(exc.error_name, error_message=exc.message)
                continue
            if batch.producer_id >= 0:
                state.last_seq = last
                state.recent = (state.recent + [(first, last, stored.base_offset)])[-5:]
            out[tp] = PartitionProduceResponse(NONE, stored.base_offset, -1, c.logs[tp].log_start_offset)
        c.wake_fetches()
        return ProduceResponse(out, msg.correlation_id)

    def _answer_fetch(self, src: Any, msg: FetchRequest, final: bool) -> None:
        c = self.cluster
        out = {}
        total = 0
        for tp, fp in msg.partitions.items():
            log = c.logs.get(tp)
            if log is None:
                out[tp] = PartitionFetchResponse("UNKNOWN_TOPIC_OR_PARTITION")
                continue
            hint = (c.leaders[tp], c.epochs[tp]) if c.leader_hints else None
            if c.leaders[tp] != self.id:
                out[tp] = PartitionFetchResponse("NOT_LEADER_OR_FOLLOWER", current_leader=hint)
                continue
            if 0 <= fp.current_leader_epoch < c.epochs[tp]:
                out[tp] = PartitionFetchResponse("FENCED_LEADER_EPOCH", current_leader=hint)
                continue
            if not log.log_start_offset <= fp.fetch_offset <= log.log_end_offset:
                out[tp] = PartitionFetchResponse("OFFSET_OUT_OF_RANGE", log.log_end_offset, log.log_end_offset,
                                                 log.log_start_offset)
                continue
            batches = tuple(log.read(fp.fetch_offset, fp.partition_max_bytes))
            total += sum(b.size_bytes for b in batches)
            out[tp] = PartitionFetchResponse(NONE, log.log_end_offset, log.log_end_offset, log.log_start_offset,
                                             batches)
        errors = any(r.error != NONE for r in out.values())
        if not final and not errors and total < max(msg.min_bytes, 1):
            timer = self.ctx.set_timer(msg.max_wait_ms, self._expire_fetch, src, msg)
            c._parked.append((self.id, src, msg, timer))
            return
        self.reply(src, FetchResponse(NONE, out, msg.correlation_id))

    def _expire_fetch(self, src: Any, msg: FetchRequest) -> None:
        c = self.cluster
        c._parked = [p for p in c._parked if p[2] is not msg]
        self._answer_fetch(src, msg, final=True)

    def _list_offsets(self, msg: ListOffsetsRequest) -> ListOffsetsResponse:
        c = self.cluster
        out = {}
        for tp, ts in msg.partitions.items():
            log = c.logs.get(tp)
            if log is None:
                out[tp] = ListOffsetsPartitionResponse("UNKNOWN_TOPIC_OR_PARTITION")
            elif c.leaders[tp] != self.id:
                out[tp] = ListOffsetsPartitionResponse("NOT_LEADER_OR_FOLLOWER")
            else:
                offset = log.log_start_offset if ts == EARLIEST_TIMESTAMP else log.log_end_offset
                out[tp] = ListOffsetsPartitionResponse(NONE, -1, offset, c.epochs[tp])
        return ListOffsetsResponse(out, msg.correlation_id)

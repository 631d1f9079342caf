"""Test harness for the data plane: a fake port for the sans-I/O replica manager, a hand-made metadata image (no
controller), and a World of brokers with one client node."""
from __future__ import annotations

from typing import Any

from kafkalab.broker.cost import CostModel
from kafkalab.broker.partition import IsrProposal
from kafkalab.broker.replica_manager import ReplicaManager
from kafkalab.broker.server import BrokerServer
from kafkalab.common.records import Record, RecordBatch
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.log.log_config import LogConfig
from kafkalab.log.partition_log import PartitionLog
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.metadata.records import (
    NO_CHANGE,
    ConfigRecord,
    PartitionChangeRecord,
    PartitionRecord,
    RegisterBrokerRecord,
    TopicRecord,
    UnfenceBrokerRecord,
)
from kafkalab.protocol.fetch import FetchPartition, FetchRequest
from kafkalab.protocol.produce import ProduceRequest
from kafkalab.sim.world import ProcessContext, World

TP = TopicPartition("t", 0)


def batch(n: int = 1, value: bytes = b"v", *, pid: int = -1, epoch: int = -1, seq: int = -1,
          size: int | None = None) -> RecordBatch:
    if size is not None:
        value = b"x" * size
    return RecordBatch(tuple(Record(None, value) for _ in range(n)), producer_id=pid, producer_epoch=epoch,
                       base_sequence=seq)


class FakePort:
    """Records what the replica manager does."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, Any]] = []
        self.timers: dict[str, float] = {}
        self.proposals: list[IsrProposal] = []
        self.logs: dict[str, PartitionLog] = {}
        self.appends = 0
        self.checkpoint: dict[str, int] = {}

    def send(self, dst: Any, msg: Any) -> None:
        self.sent.append((dst, msg))

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers[name] = at_ms

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)

    def alter_partition(self, proposal: IsrProposal) -> None:
        self.proposals.append(proposal)

    def open_log(self, name: str, config: LogConfig) -> PartitionLog:
        if name not in self.logs:
            self.logs[name] = PartitionLog(config, name=name)
        return self.logs[name]

    def delete_log(self, name: str) -> None:
        self.logs.pop(name, None)

    def log_appended(self) -> None:
        self.appends += 1

    def read_hw_checkpoint(self) -> dict[str, int]:
        return dict(self.checkpoint)

    def take(self) -> list[tuple[Any, Any]]:
        out, self.sent = self.sent, []
        return out

    def only(self, kind: type) -> Any:
        msgs = [m for _, m in self.take() if isinstance(m, kind)]
        assert len(msgs) == 1, msgs
        return msgs[0]


class Meta:
    """A hand-made controller: builds the image from records, returns each Change."""

    def __init__(self, brokers: tuple[int, ...] = (1, 2, 3)) -> None:
        self.image = MetadataImage()
        self.offset = 0
        for b in brokers:
            self.replay(RegisterBrokerRecord(b, 10 + b, f"inc-{b}"))
            self.replay(UnfenceBrokerRecord(b, 10 + b))

    def replay(self, record: Any) -> Change:
        self.offset += 1
        return self.image.replay(record, self.offset)

    def create_topic(self, name: str, assignments: list[tuple[int, ...]], config: dict[str, str] | None = None
                     ) -> Change:
        for key, value in (config or {}).items():
            self.replay(ConfigRecord("topic", name, key, value))
        self.replay(TopicRecord(name, f"id-{name}"))
        parts: list[tuple[str, int]] = []
        for i, replicas in enumerate(assignments):
            self.replay(PartitionRecord(f"id-{name}", i, replicas, replicas, replicas[0]))
            parts.append((name, i))
        return Change(partitions=tuple(parts))

    def change(self, topic: str, partition: int, *, leader: int = NO_CHANGE,
               isr: tuple[int, ...] | None = None) -> Change:
        return self.replay(PartitionChangeRecord(f"id-{topic}", partition, leader=leader, isr=isr))

    def set_config(self, topic: str, key: str, value: str) -> Change:
        return self.replay(ConfigRecord("topic", topic, key, value))

    def fence(self, broker: int) -> Change:
        from kafkalab.metadata.records import FenceBrokerRecord
        return self.replay(FenceBrokerRecord(broker, 10 + broker))

    def unfence(self, broker: int) -> Change:
        return self.replay(UnfenceBrokerRecord(broker, 10 + broker))


def make_rm(broker: int = 1, config: dict[str, Any] | None = None) -> tuple[ReplicaManager, FakePort]:
    port = FakePort()
    return ReplicaManager(broker, port, config), port


def consumer_fetch(offset: int, *, epoch: int = -1, max_wait_ms: int = 0, min_bytes: int = 1, tp: TopicPartition = TP,
                   correlation_id: int = 0) -> FetchRequest:
    return FetchRequest(-1, max_wait_ms, min_bytes, 1 << 20, {tp: FetchPartition(offset, 1 << 20, epoch)},
                        correlation_id=correlation_id)


def follower_fetch(replica: int, offset: int, *, last_epoch: int = -1, epoch: int = -1, max_wait_ms: int = 0,
                   tp: TopicPartition = TP, correlation_id: int = 0) -> FetchRequest:
    return FetchRequest(replica, max_wait_ms, 1, 1 << 20,
                        {tp: FetchPartition(offset, 1 << 20, epoch, last_epoch)}, correlation_id=correlation_id,
                        session_epoch=0)


def produce(batches: dict[TopicPartition, RecordBatch] | RecordBatch, acks: int = -1, timeout_ms: int = 30_000,
            correlation_id: int = 0) -> ProduceRequest:
    if isinstance(batches, RecordBatch):
        batches = {TP: batches}
    return ProduceRequest(acks, timeout_ms, batches, correlation_id)


class Client:
    """A client node: sends requests and keeps every response by correlation id."""

    def __init__(self, ctx: ProcessContext) -> None:
        self.ctx = ctx
        self.responses: dict[int, tuple[float, Any, Any]] = {}
        self.received: list[tuple[float, Any, Any]] = []

    def on_message(self, src: Any, msg: Any) -> None:
        self.received.append((self.ctx.now, src, msg))
        correlation_id = getattr(msg, "correlation_id", None)   # a ConnectionReset has none
        if correlation_id is not None:
            self.responses[correlation_id] = (self.ctx.now, src, msg)


class DataPlane:
    """Brokers as World processes over a hand-made image; the harness plays the controller for AlterPartition."""

    def __init__(self, brokers: tuple[int, ...] = (1, 2, 3), *, seed: int = 0, config: dict[str, Any] | None = None,
                 cost: CostModel | None = None, auto_isr: bool = True, writeback_interval_ms: float | None = 30_000.0
                 ) -> None:
        self.world = World(seed, writeback_interval_ms=writeback_interval_ms)
        self.meta = Meta(brokers)
        self.brokers = brokers
        self.config = config or {}
        self.cost = cost or CostModel(0.0, 0.0)
        self.auto_isr = auto_isr
        self.proposals: list[tuple[float, int, IsrProposal]] = []
        for b in brokers:
            self.world.add_node(b, self._factory(b))
        self.world.add_node("c", Client, server=False)
        self._cid = 0

    def _factory(self, b: int) -> Any:
        def make(ctx: ProcessContext) -> BrokerServer:
            server = BrokerServer(ctx, b, (), self.config, cost=self.cost)
            server.alter_partition_hook = lambda proposal: self._on_proposal(b, proposal)
            if self.meta.image.topics:
                ctx.kernel.post(0.0, server.apply_image, self.meta.image, owner=ctx.owner)
            return server
        return make

    def _on_proposal(self, broker: int, proposal: IsrProposal) -> None:
        self.proposals.append((self.world.now, broker, proposal))
        if not self.auto_isr:
            return
        self.world.kernel.post(1.0, self.commit_isr, proposal)

    def commit_isr(self, proposal: IsrProposal) -> None:
        reg = self.meta.image.partition(proposal.topic, proposal.partition)
        if reg is None or reg.leader_epoch != proposal.leader_epoch or reg.partition_epoch != proposal.partition_epoch:
            return
        self.push(self.meta.change(proposal.topic, proposal.partition, isr=proposal.new_isr))

    # -- metadata --------------------------------------------------------------------------------------------------
    def push(self, change: Change, to: tuple[int, ...] | None = None) -> None:
        for b in self.brokers if to is None else to:
            if self.world.is_alive(b):
                self.server(b).apply_image(self.meta.image, change)

    def create_topic(self, name: str, assignments: list[tuple[int, ...]], config: dict[str, str] | None = None
                     ) -> None:
        self.push(self.meta.create_topic(name, assignments, config))

    def elect(self, topic: str, partition: int, leader: int, isr: tuple[int, ...] | None = None,
              to: tuple[int, ...] | None = None) -> Change:
        change = self.meta.change(topic, partition, leader=leader, isr=isr)
        self.push(change, to)
        return change

    # -- access ----------------------------------------------------------------------------------------------------
    def server(self, b: int) -> BrokerServer:
        process = self.world.processes[b]
        assert isinstance(process, BrokerServer)
        return process

    @property
    def client(self) -> Client:
        process = self.world.processes["c"]
        assert isinstance(process, Client)
        return process

    def partition(self, b: int, tp: TopicPartition = TP) -> Any:
        return self.server(b).rm.partitions[tp]

    def restart(self, b: int) -> None:
        """Restart broker ``b``; it reopens its logs and gets the current image (as its metadata catches up)."""
        self.world.restart(b)
        self.world.run(0)

    def run(self, ms: float) -> None:
        self.world.run(ms)

    def request(self, dst: int, make: Any) -> int:
        """Send ``make(correlation_id)`` from the client; returns the correlation id."""
        self._cid += 1
        from kafkalab.protocol.sizes import message_size_bytes
        msg = make(self._cid)
        self.world.network.send("c", dst, msg, message_size_bytes(msg))
        return self._cid

    def call(self, dst: int, make: Any, timeout_ms: float = 60_000) -> Any:
        cid = self.request(dst, make)
        ok = self.world.run_until(lambda: cid in self.client.responses, timeout_ms)
        assert ok, f"no response to request {cid} within {timeout_ms} ms"
        return self.client.responses[cid][2]

    def produce(self, dst: int, data: RecordBatch | dict[TopicPartition, RecordBatch], acks: int = -1,
                timeout_ms: int = 30_000) -> Any:
        return self.call(dst, lambda cid: produce(data, acks, timeout_ms, cid))

    def fetch(self, dst: int, offset: int, **kwargs: Any) -> Any:
        return self.call(dst, lambda cid: consumer_fetch(offset, correlation_id=cid, **kwargs))

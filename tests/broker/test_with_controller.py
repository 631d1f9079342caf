"""Brokers with the real control plane: KRaft controllers, registration, AlterPartition, leader election."""
from __future__ import annotations

from typing import Any

from kafkalab.broker.server import BrokerServer
from kafkalab.controller.server import ControllerServer
from kafkalab.protocol import controller as cm
from kafkalab.protocol.admin import CreatableTopic, CreateTopicsRequest
from kafkalab.protocol.metadata import MetadataRequest
from kafkalab.protocol.sizes import message_size_bytes
from kafkalab.sim.world import World
from tests.broker.harness import TP, Client, batch, produce

VOTERS = (3000, 3001, 3002)


class Lab:
    def __init__(self, seed: int = 1, config: dict[str, Any] | None = None) -> None:
        self.world = w = World(seed)
        for v in VOTERS:
            w.add_node(v, ControllerServer.factory(VOTERS))
        cfg = {"replica.lag.time.max.ms": 2000, **(config or {})}
        for b in (1, 2, 3):
            w.add_node(b, lambda ctx, b=b: BrokerServer(ctx, b, VOTERS, cfg))
        w.add_node("c", Client, server=False)
        self.cid = 0
        assert w.run_until(lambda: self.alive_server().image.unfenced_brokers() == [1, 2, 3], 30_000)

    def server(self, b: int) -> BrokerServer:
        s = self.world.processes[b]
        assert isinstance(s, BrokerServer)
        return s

    def alive_server(self) -> BrokerServer:
        return self.server(next(b for b in (1, 2, 3) if self.world.is_alive(b)))

    def call(self, dst: Any, make: Any, timeout_ms: float = 60_000) -> Any:
        self.cid += 1
        cid = self.cid
        msg = make(cid)
        size = cm.message_size_bytes(msg) if type(msg) in cm.CONTROLLER_REQUESTS else message_size_bytes(msg)
        self.world.network.send("c", dst, msg, size)
        client = self.world.processes["c"]
        assert isinstance(client, Client)
        assert self.world.run_until(lambda: cid in client.responses, timeout_ms)
        return client.responses[cid][2]

    def leader(self) -> int:
        reg = self.alive_server().image.partition("t", 0)
        assert reg is not None
        return reg.leader

    def create_topic(self) -> None:
        controller = self.alive_server().active_controller_id
        resp = self.call(controller, lambda c: CreateTopicsRequest((CreatableTopic("t", 1, 3),),
                                                                       correlation_id=c))
        assert resp.topics[0].error == "NONE"
        assert self.world.run_until(
            lambda: all(TP in self.server(b).rm.partitions for b in (1, 2, 3)), 5_000)


def test_a_cluster_replicates_shrinks_and_expands_the_isr_and_fails_over() -> None:
    lab = Lab()
    lab.create_topic()
    w = lab.world
    leader = lab.leader()
    assert lab.call(leader, lambda c: produce(batch(3), -1, 30_000, c)).responses[TP].error == "NONE"
    follower = next(b for b in (1, 2, 3) if b != leader)
    w.crash(follower)
    start = w.now
    resp = lab.call(leader, lambda c: produce(batch(1), -1, 30_000, c))
    assert resp.responses[TP].error == "NONE" and w.now - start >= 2_000      # waited for the ISR shrink
    assert follower not in lab.server(leader).image.partition("t", 0).isr     # committed by the controller
    w.restart(follower)
    assert w.run_until(lambda: follower in lab.server(leader).rm.partitions[TP].isr, 30_000)
    assert lab.server(follower).rm.partitions[TP].log_end_offset == 4
    # The leader dies: once its session expires the controller elects another ISR member.
    w.crash(leader)
    assert w.run_until(lambda: lab.leader() not in (-1, leader), 30_000)
    new_leader = lab.leader()
    assert lab.call(new_leader, lambda c: produce(batch(1), -1, 30_000, c)).responses[TP].error == "NONE"
    w.restart(leader)
    assert w.run_until(lambda: lab.server(leader).rm.partitions.get(TP) is not None
                       and lab.server(leader).rm.partitions[TP].log_end_offset == 5, 30_000)
    assert lab.server(leader).rm.partitions[TP].log.batches()[-1] is \
        lab.server(new_leader).rm.partitions[TP].log.batches()[-1]


def test_metadata_is_answered_from_the_image() -> None:
    lab = Lab()
    lab.create_topic()
    resp = lab.call(1, lambda c: MetadataRequest(correlation_id=c))
    assert [b.node_id for b in resp.brokers] == [1, 2, 3]
    (topic,) = resp.topics
    assert topic.name == "t" and topic.partitions[0].leader == lab.leader()
    assert resp.controller_id in VOTERS
    missing = lab.call(1, lambda c: MetadataRequest(("nope",), correlation_id=c))
    assert missing.topics[0].error == "UNKNOWN_TOPIC_OR_PARTITION"


def test_controlled_shutdown_moves_leadership_away_first() -> None:
    lab = Lab()
    lab.create_topic()
    leader = lab.leader()
    lab.server(leader).begin_controlled_shutdown()
    assert lab.world.run_until(lambda: not lab.world.is_alive(leader), 30_000)
    assert lab.leader() not in (-1, leader)


def test_producer_ids_come_from_controller_allocated_blocks() -> None:
    from kafkalab.protocol.txn import InitProducerIdRequest
    lab = Lab()
    a = lab.call(1, lambda c: InitProducerIdRequest(correlation_id=c))
    b = lab.call(1, lambda c: InitProducerIdRequest(correlation_id=c))
    other = lab.call(2, lambda c: InitProducerIdRequest(correlation_id=c))
    assert a.error == b.error == other.error == "NONE"
    assert b.producer_id == a.producer_id + 1
    assert abs(other.producer_id - a.producer_id) >= cm.PRODUCER_ID_BLOCK_SIZE - 1   # another broker, another block
    assert lab.alive_server().image.next_producer_id >= 2 * cm.PRODUCER_ID_BLOCK_SIZE


def test_factory_and_describe() -> None:
    w = World(3)
    for v in VOTERS:
        w.add_node(v, ControllerServer.factory(VOTERS))
    w.add_node(7, BrokerServer.factory(VOTERS))
    server = w.processes[7]
    assert isinstance(server, BrokerServer) and server.broker_id == 7
    assert w.run_until(lambda: server.image.unfenced_brokers() == [7], 30_000)
    assert server.describe() == []

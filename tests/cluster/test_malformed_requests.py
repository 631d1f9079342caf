"""A request whose fields break its schema (what Kafka could not even parse) reaching a broker or a controller is
counted and dropped, as Kafka closes the connection: the event does not raise and the cluster goes on. A well-formed
request that breaks a handler is our bug and still stops the run."""
import pytest

import kafkalab as kl
from kafkalab.errors import SimulationError
from kafkalab.protocol import admin as cm
from kafkalab.protocol.produce import ProduceRequest


def invalid_requests(cluster, metric):
    frame = cluster.metrics()
    rows = frame[frame.metric == metric]
    return list(zip(rows.node, rows.api, rows.problem, strict=True))


@pytest.fixture
def cluster():
    cluster = kl.Cluster(seed=11)
    cluster.create_topic("t", partitions=1)
    producer = cluster.producer()
    producer.send("t", value=b"acked", partition=0).result()
    return cluster


def read_all(cluster):
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    return [r.value for _ in range(5) for r in consumer.poll(200)]


def test_a_malformed_create_topics_request_is_dropped_by_the_controller(cluster):
    active = cluster.active_controller
    bad = cm.CreateTopicsRequest((cm.CreatableTopic("x", "3", 1.5),), correlation_id=99)
    cluster.kernel.schedule(0, cluster.controller(active).on_message, "admin", bad)
    cluster.run(100)
    assert invalid_requests(cluster, "controller.invalid_requests") == [
        (active, "CreateTopicsRequest", "CreateTopicsRequest.topics[0].num_partitions: str '3' is not int")]
    assert "x" not in cluster.topics()
    cluster.create_topic("y", partitions=2)        # the controller goes on
    assert read_all(cluster) == [b"acked"]


def test_a_malformed_produce_request_is_dropped_by_the_broker(cluster):
    leader = cluster.leader_for("t", 0)
    bad = ProduceRequest("all", 1000, {("t", "0"): 5}, correlation_id=777)
    cluster.kernel.schedule(0, cluster.broker(leader).on_message, "producer-1", bad)
    cluster.run(100)
    assert invalid_requests(cluster, "broker.invalid_requests") == [
        (leader, "ProduceRequest", "ProduceRequest.acks: str 'all' is not int")]
    assert read_all(cluster) == [b"acked"]


def test_a_well_formed_request_that_breaks_a_handler_still_stops_the_run(cluster, monkeypatch):
    leader = cluster.leader_for("t", 0)
    broker = cluster.broker(leader)

    def broken(*args):
        raise TypeError("a bug of ours")
    monkeypatch.setattr(broker.rm, "handle_produce", broken)
    with pytest.raises(SimulationError, match="raised TypeError: a bug of ours"):
        cluster.producer().send("t", value=b"v", partition=0).result()

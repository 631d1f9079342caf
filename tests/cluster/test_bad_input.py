"""Bad input at the Cluster facade: refused at the call with the argument named (Kafka's error and words where Kafka
has them), nothing sent to the controller, and the cluster goes on as before."""
import re

import pytest

import kafkalab as kl
from kafkalab.errors import (
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    PolicyViolationError,
    UnknownTopicOrPartitionError,
)
from kafkalab.sim.faults import Fault, Nemesis


@pytest.fixture(scope="module")
def cluster():
    cluster = kl.Cluster(seed=5)
    cluster.create_topic("orders", partitions=3)
    return cluster


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"partitions": "3"}, TypeError, "partitions must be an int, got str '3'"),
    ({"partitions": None}, TypeError, "partitions must be an int, got NoneType None"),
    ({"partitions": 2.5}, TypeError, "partitions must be an int, got float 2.5"),
    ({"partitions": True}, TypeError, "partitions must be an int, got bool True"),
    ({"replication_factor": "3"}, TypeError, "replication_factor must be an int or None, got str '3'"),
    ({"replication_factor": 1.5}, TypeError, "replication_factor must be an int or None, got float 1.5"),
    ({"replication_factor": False}, TypeError, "replication_factor must be an int or None, got bool False"),
    ({"partitions": 0}, InvalidPartitionsError,
     "INVALID_PARTITIONS: create topic 'x': Number of partitions was set to an invalid non-positive value. "
     "(partitions=0)"),
    ({"partitions": -2}, InvalidPartitionsError,
     "INVALID_PARTITIONS: create topic 'x': Number of partitions was set to an invalid non-positive value. "
     "(partitions=-2)"),
    ({"replication_factor": 0}, InvalidReplicationFactorError,
     "INVALID_REPLICATION_FACTOR: create topic 'x': Replication factor must be larger than 0, or -1 to use the "
     "default value. (replication_factor=0)"),
    ({"replication_factor": -3}, InvalidReplicationFactorError,
     "INVALID_REPLICATION_FACTOR: create topic 'x': Replication factor must be larger than 0, or -1 to use the "
     "default value. (replication_factor=-3)"),
    ({"partitions": 2**31}, ValueError, "partitions must be at most 2147483647 (the protocol field's range), got "
                                        "2147483648"),
    ({"replication_factor": 2**15}, ValueError,
     "replication_factor must be at most 32767 (the protocol field's range), got 32768"),
    ({"config": ["retention.ms"]}, TypeError,
     "config must be a dict of topic config keys to values or None, got list ['retention.ms']"),
    ({"timeout_ms": -1}, ValueError, "Invalid negative timeout -1: timeout_ms must be >= 0"),
    ({"timeout_ms": "5"}, TypeError, "timeout_ms must be a number of milliseconds >= 0, got str '5'"),
])
def test_create_topic_refuses_bad_arguments_before_asking_the_controller(cluster, kwargs, error, message):
    now, events = cluster.now, cluster.kernel.events_processed
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        cluster.create_topic("x", **kwargs)
    assert (cluster.now, cluster.kernel.events_processed) == (now, events), "nothing was sent, no time passed"
    assert "x" not in cluster.topics()


def test_minus_one_means_the_brokers_default_as_in_kafka(cluster):
    cluster.create_topic("defaults", partitions=-1, replication_factor=-1)
    frame = cluster.describe_topic("defaults")
    assert len(frame) == 1 and len(frame["replicas"][0]) == 1     # num.partitions=1, default.replication.factor=1


def test_create_partitions_and_delete_topic_check_their_arguments(cluster):
    with pytest.raises(TypeError, match=r"^total_count must be an int, got str '4'$"):
        cluster.create_partitions("orders", "4")
    with pytest.raises(TypeError, match=r"^topic name must be a non-empty str, got NoneType None$"):
        cluster.create_partitions(None, 4)
    with pytest.raises(TypeError, match=r"^topic name must be a non-empty str, got int 3$"):
        cluster.delete_topic(3)
    assert len(cluster.describe_topic("orders")) == 3


@pytest.mark.parametrize(("topic", "partition", "error", "message"), [
    ("orders", 9, UnknownTopicOrPartitionError,
     "UNKNOWN_TOPIC_OR_PARTITION: topic 'orders' has no partition 9 (partitions 0..2)"),
    ("orders", -1, UnknownTopicOrPartitionError,
     "UNKNOWN_TOPIC_OR_PARTITION: topic 'orders' has no partition -1 (partitions 0..2)"),
    ("order", 0, UnknownTopicOrPartitionError,
     "UNKNOWN_TOPIC_OR_PARTITION: topic 'order' does not exist (topics: defaults, orders); "
     "did you mean 'orders'?"),
    ("orders", "0", TypeError, "partition must be an int, got str '0'"),
    (None, 0, TypeError, "topic must be a str, got NoneType None"),
])
def test_leader_for_refuses_a_partition_that_does_not_exist(cluster, topic, partition, error, message):
    if "defaults" not in cluster.topics():
        cluster.create_topic("defaults", partitions=-1, replication_factor=-1)
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        cluster.leader_for(topic, partition)
    assert cluster.leader_for("orders", 0) in cluster.brokers


def test_crash_of_a_down_node_and_restart_of_a_running_one_are_refused():
    cluster = kl.Cluster(seed=6)
    with pytest.raises(ValueError, match=re.escape(
            "node 2 is running; crash it first with cluster.crash(2) (or cluster.crash(2, lose_unflushed=True) for a "
            "power loss)")):
        cluster.restart(2)
    cluster.crash(2)
    with pytest.raises(ValueError, match=r"^node 2 is already down; restart it with cluster\.restart\(2\)$"):
        cluster.crash(2)
    cluster.crash(2, lose_unflushed=True)        # power loss of a crashed node's host is a real, further fault
    with pytest.raises(TypeError, match=r"^lose_unflushed must be a bool, got str 'yes'$"):
        cluster.crash(3, lose_unflushed="yes")
    with pytest.raises(KeyError, match="unknown node 9"):
        cluster.crash(9)
    cluster.restart(2)
    assert cluster.run_until(lambda: 2 in cluster.image().unfenced_brokers(), 30_000)


def test_a_nemesis_schedule_keeps_the_worlds_lenient_faults():
    cluster = kl.Cluster(seed=7)
    cluster.crash(3)
    # drawn in advance, the schedule cannot know the script crashed broker 3: its crash is a no-op, its restart
    # restarts a running node (crash + start), as World does
    Nemesis(cluster).schedule([Fault(cluster.now + 100, "crash", node=3), Fault(cluster.now + 200, "restart", node=1),
                               Fault(cluster.now + 300, "restart", node=3)])
    cluster.run(1_000)
    assert cluster.is_alive(1) and cluster.is_alive(3)


def test_the_admin_client_refuses_a_request_it_could_not_serialize(cluster):
    from kafkalab.protocol import admin as cm

    now = cluster.now
    with pytest.raises(TypeError, match=re.escape(
            "malformed admin request: CreateTopicsRequest.topics[0].num_partitions: str '3' is not int; "
            "CreateTopicsRequest.topics[0].replication_factor: float 1.5 is not int")):
        cluster.admin.create_topics([cm.CreatableTopic("x", "3", 1.5)])
    with pytest.raises(TypeError, match=re.escape(
            "malformed admin request: DeleteTopicsRequest.topic_names[0]: int 7 is not str")):
        cluster.admin.delete_topics([7])
    with pytest.raises(ValueError, match=r"^Invalid negative timeout -5: timeout_ms must be >= 0$"):
        cluster.admin.delete_topics(["orders"], timeout_ms=-5)
    assert cluster.now == now and "orders" in cluster.topics()


def test_run_and_run_until_name_a_bad_argument(cluster):
    now = cluster.now
    with pytest.raises(TypeError, match=r"^ms must be a number of virtual milliseconds >= 0, got str '5'$"):
        cluster.run("5")
    with pytest.raises(ValueError, match=r"^run\(ms\) needs ms >= 0, got -5$"):
        cluster.run(-5)
    with pytest.raises(TypeError, match=r"^predicate must be a callable returning bool, got int 5$"):
        cluster.run_until(5, 100)
    with pytest.raises(TypeError, match=r"^timeout_ms must be a number of virtual milliseconds >= 0, got NoneType"):
        cluster.run_until(lambda: True, None)
    assert cluster.now == now


@pytest.mark.parametrize("partitions", [10_000, 2**31 - 1])
def test_the_controller_refuses_an_operation_of_more_than_10000_records(cluster, partitions):
    """Kafka's controller writes at most 10,000 records per operation (MAX_RECORDS_PER_USER_OP): a topic of 10,000
    partitions is 10,001 records (its TopicRecord too) and fails whole with POLICY_VIOLATION, nothing written; the
    count comes before placement, so 2**31 - 1 partitions fail as fast."""
    with pytest.raises(PolicyViolationError,
                       match=r"^POLICY_VIOLATION: create topic 'x': Unable to perform excessively large batch "
                             r"operation\.$"):
        cluster.create_topic("x", partitions=partitions)
    assert "x" not in cluster.topics()


def test_a_create_topics_request_too_large_in_sum_fails_for_every_topic(cluster):
    from kafkalab.protocol.admin import CreatableTopic
    response = cluster.admin.create_topics([CreatableTopic("a", 6_000, 1), CreatableTopic("b", 6_000, 1)], 30_000)
    assert [(r.name, r.error, r.error_message) for r in response.topics] == [
        ("a", "POLICY_VIOLATION", "Unable to perform excessively large batch operation."),
        ("b", "POLICY_VIOLATION", "Unable to perform excessively large batch operation.")]
    assert {"a", "b"}.isdisjoint(cluster.topics())

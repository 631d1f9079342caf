"""Coordinator failover end to end: the group's state and committed offsets live in its __consumer_offsets
partition, so when the coordinator's broker dies the partition's new leader replays them and serves the same group."""
import pytest

import kafkalab as kl
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for


def poll_all(consumers, rounds, timeout_ms=200):
    for _ in range(rounds):
        for c in consumers:
            c.poll(timeout_ms)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
@pytest.mark.parametrize("power_loss", [False, True])
def test_committed_offsets_and_the_group_survive_the_coordinator_s_death(protocol, power_loss):
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("t", partitions=4, replication_factor=3)
    producer = cluster.producer()
    for i in range(200):
        producer.send("t", value=f"v{i}", key=f"k{i % 17}")
    producer.flush()
    consumers = [cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                   "group.protocol": protocol}) for _ in range(2)]
    for c in consumers:
        c.subscribe(["t"])
    poll_all(consumers, 60)
    for c in consumers:
        c.commit()
    before = cluster.group_offsets("g").set_index("partition")["committed"].to_dict()
    assert sum(before.values()) == 200
    assignment = sorted(tp for c in consumers for tp in c.assignment())
    old = cluster.group_coordinator("g")
    cluster.crash(old, lose_unflushed=power_loss)
    cluster.run_until(lambda: cluster.group_coordinator("g") not in (None, old), 30_000)
    new = cluster.group_coordinator("g")
    assert new not in (None, old)
    assert cluster.leader_for(OFFSETS_TOPIC, partition_for("g")) == new
    cluster.run(100)       # loading the partition takes a moment
    after = cluster.group_offsets("g").set_index("partition")["committed"].to_dict()
    assert after == before
    described = cluster.describe_group("g")
    assert described["protocol"] == protocol and len(described["members"]) == 2
    # the members find the new coordinator and go on: still two owners of all four partitions, nothing re-read
    poll_all(consumers, 40)
    assert sorted(tp for c in consumers for tp in c.assignment()) == assignment
    reread = [op for op in cluster.history.ops if op.f == "poll" and op.type == "ok" and op.time_ms > cluster.now - 8_000
              and op.reads]
    assert reread == []

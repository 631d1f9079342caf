"""The cluster behaves as Kafka does (issue 4, "Faithfulness, stated as behaviour"), judged from client histories."""
import pytest

import kafkalab as kl
from kafkalab.check import check_queue
from kafkalab.errors import NotEnoughReplicasError, TopicAlreadyExistsError, UnknownTopicOrPartitionError


def read_all(cluster, topic, partitions, timeout_ms=5_000):
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition(topic, p) for p in range(partitions)])
    records = []
    deadline = cluster.now + timeout_ms
    idle = 0
    while cluster.now < deadline and idle < 3:
        batch = consumer.poll(200)
        records += batch
        idle = 0 if batch else idle + 1
    consumer.close()
    return records


def test_boot_create_produce_consume_round_trip():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=1)
    assert cluster.active_controller in cluster.controllers
    cluster.create_topic("orders", partitions=3, replication_factor=3)
    topic = cluster.describe_topic("orders")
    assert sorted(topic.leader) == [1, 2, 3]                       # leadership spread over the brokers
    assert all(sorted(isr) == [1, 2, 3] for isr in topic.isr)
    producer = cluster.producer()
    futures = [producer.send("orders", value=f"v{i}", key=f"k{i % 7}") for i in range(60)]
    producer.flush()
    metas = [f.result() for f in futures]
    by_key = {}
    for i, meta in enumerate(metas):                                # one key, one partition
        by_key.setdefault(f"k{i % 7}", set()).add(meta.partition)
    assert all(len(parts) == 1 for parts in by_key.values())
    records = read_all(cluster, "orders", 3)
    assert sorted(r.value for r in records) == sorted(f"v{i}".encode() for i in range(60))
    assert check_queue(cluster.history).valid


def test_topic_errors_are_kafka_errors():
    cluster = kl.Cluster(seed=2)
    cluster.create_topic("t", partitions=1)
    with pytest.raises(TopicAlreadyExistsError):
        cluster.create_topic("t")
    with pytest.raises(UnknownTopicOrPartitionError, match="topic 'nope' does not exist; topics: t"):
        cluster.describe_topic("nope")
    with pytest.raises(kl.errors.InvalidReplicationFactorError):
        cluster.create_topic("too-many-replicas", partitions=1, replication_factor=4)
    with pytest.raises(kl.errors.ConfigError, match="did you mean 'retention.ms'"):
        cluster.create_topic("bad-config", config={"retention.msec": 5})
    assert cluster.topics() == ["t"]                               # nothing half-created


def test_min_insync_replicas_two_brokers_down_fails_with_not_enough_replicas_and_hw_stops():
    cluster = kl.Cluster(seed=3, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "all", "retries": 0, "linger.ms": 0})
    producer.send("t", value="before").result()
    leader = cluster.leader_for("t", 0)
    followers = [b for b in cluster.brokers if b != leader]
    cluster.crash(followers[0])
    # the ISR shrinks after replica.lag.time.max.ms (30 s); writes continue with two replicas
    cluster.run_until(lambda: len(cluster.describe_topic("t").isr[0]) == 2, 60_000)
    assert producer.send("t", value="one-down").result().offset == 1
    cluster.crash(followers[1])
    cluster.run_until(lambda: len(cluster.describe_topic("t").isr[0]) == 1, 60_000)
    hw_before = cluster.describe_topic("t").high_watermark[0]
    with pytest.raises(NotEnoughReplicasError) as info:
        producer.send("t", value="two-down").result()
    assert info.value.retriable and info.value.code == 19
    cluster.run(5_000)
    assert cluster.describe_topic("t").high_watermark[0] == hw_before == 2


def test_acks_1_writes_to_an_isolated_leader_are_lost_after_failover():
    """Jepsen's Kafka finding: the old leader acknowledges acks=1 writes nobody replicates; the new leader's log wins."""
    cluster = kl.Cluster(seed=4)
    cluster.create_topic("t", partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "1", "linger.ms": 0})
    for i in range(5):
        producer.send("t", value=f"safe-{i}").result()
    old_leader = cluster.leader_for("t", 0)
    cluster.isolate(old_leader)                                    # clients can still reach it
    acked_on_island = [producer.send("t", value=f"island-{i}").result() for i in range(5)]
    assert all(meta.offset >= 5 for meta in acked_on_island)
    # the controller fences the isolated broker after broker.session.timeout.ms and elects a new leader
    assert cluster.run_until(lambda: cluster.leader_for("t", 0) not in (None, old_leader), 30_000)
    cluster.run(1_000)                                             # the new leadership reaches the other brokers
    # The first producer's metadata still names the old leader, which still believes it leads: Kafka would keep
    # writing there too until a metadata refresh. A new producer learns the new leader from a broker that knows it.
    others = ",".join(str(b) for b in cluster.brokers if b != old_leader)
    fresh = cluster.producer({"acks": "1", "linger.ms": 0, "bootstrap.servers": others})
    for i in range(10):
        assert fresh.send("t", value=f"after-{i}").result().offset < 15   # the new leader reuses offsets
    cluster.heal()
    cluster.run(10_000)                                            # the old leader rejoins, truncates, catches up
    values = [r.value for r in read_all(cluster, "t", 1)]
    assert [v for v in values if v.startswith(b"after")] == [f"after-{i}".encode() for i in range(10)]
    assert not any(v.startswith(b"island") for v in values)      # acknowledged, then truncated away
    result = check_queue(cluster.history)
    assert not result.valid
    lost = {a.value for a in result.anomalies if a.kind == "lost_write"}
    assert {f"island-{i}".encode() for i in range(5)} <= lost
    assert result.count("inconsistent_offsets") >= 5
    # every replica converged on the new leader's log
    replicas = cluster.replicas("t", 0)
    assert len(set(replicas.log_end_offset)) == 1 and replicas.log_end_offset[0] == len(values)


def test_acks_all_with_min_isr_2_loses_nothing_under_the_same_fault():
    cluster = kl.Cluster(seed=4, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 0, "delivery.timeout.ms": 20_000,
                                 "request.timeout.ms": 5_000})
    for i in range(5):
        producer.send("t", value=f"safe-{i}").result()
    old_leader = cluster.leader_for("t", 0)
    cluster.isolate(old_leader)
    futures = [producer.send("t", value=f"during-{i}") for i in range(5)]
    cluster.run_until(lambda: cluster.leader_for("t", 0) not in (None, old_leader), 30_000)
    cluster.heal()
    producer.flush(60_000)
    cluster.run(10_000)
    read_all(cluster, "t", 1)
    result = check_queue(cluster.history)
    assert result.valid, result.to_frame()
    assert result.count("lost_write") == 0 and result.count("duplicate") == 0
    assert all(f.done() for f in futures)


def test_power_loss_of_the_last_in_sync_replicas_loses_acknowledged_writes():
    """Kafka does not fsync per write: with the ISR down to two replicas, a power cut to both drops what only their
    page caches held, even with acks=all and min.insync.replicas=2 (the case KIP-966 addresses)."""
    cluster = kl.Cluster(seed=5, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 0})
    for i in range(3):
        producer.send("t", value=f"base-{i}").result()
    cluster.run(35_000)                                            # the OS writeback has flushed the base writes
    leader = cluster.leader_for("t", 0)
    lagging, survivor = [b for b in cluster.describe_topic("t").replicas[0] if b != leader]
    cluster.crash(lagging)
    assert cluster.run_until(lambda: len(cluster.describe_topic("t").isr[0]) == 2, 60_000)
    acked = producer.send("t", value="acked-then-lost").result()
    assert acked.offset == 3
    cluster.crash(leader, lose_unflushed=True)                     # a power cut takes both in-sync replicas
    cluster.crash(survivor, lose_unflushed=True)
    for b in (survivor, leader, lagging):
        cluster.restart(b)
    assert cluster.run_until(lambda: cluster.leader_for("t", 0) is not None, 60_000)
    cluster.run(5_000)
    after = cluster.producer({"acks": "all", "linger.ms": 0})
    assert after.send("t", value="after").result().offset == 3     # the offset is reused
    values = [r.value for r in read_all(cluster, "t", 1)]
    assert values == [b"base-0", b"base-1", b"base-2", b"after"]
    result = check_queue(cluster.history)
    assert [a.value for a in result.anomalies if a.kind == "lost_write"] == [b"acked-then-lost"]

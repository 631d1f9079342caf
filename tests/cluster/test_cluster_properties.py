"""Under random faults, acks=all + min.insync.replicas=2 + no unclean election loses no acknowledged write, and the
idempotent producer duplicates nothing (issue 4). The checker reads client histories only.

Process crashes, pauses, isolation and partitions only: a power loss is the one fault where Kafka itself loses
acknowledged writes with these settings (the unflushed page cache of the last replicas standing; KIP-966). This
property test found exactly that when power loss was in the mix (seed 160: broker 1 crashed, then broker 3 lost power,
then broker 3 led with its truncated log); ``test_cluster_faithfulness`` shows it on purpose.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.check import check_queue
from kafkalab.sim import FaultOptions, Nemesis

FAULTS = FaultOptions(mean_interval_ms=3_000, min_duration_ms=1_000, max_duration_ms=12_000,
                      kinds=(("crash", 1.0), ("pause", 0.5), ("isolate", 1.0), ("partition", 1.0)))


def run_workload(seed: int, duration_ms: float = 30_000, writes: int = 60):
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=2, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 1, "delivery.timeout.ms": 60_000,
                                 "request.timeout.ms": 5_000})
    Nemesis(cluster).random(duration_ms, cluster.brokers + cluster.controllers, FAULTS)
    futures = []
    for i in range(writes):
        futures.append(producer.send("t", value=f"{seed}-{i}", key=f"k{i % 5}"))
        cluster.run(duration_ms / writes)
    cluster.run_until(lambda: all(f.done() for f in futures), 90_000)
    cluster.heal()
    for node in cluster.brokers + cluster.controllers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    cluster.run(20_000)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0), kl.TopicPartition("t", 1)])
    idle = 0
    while idle < 5:
        idle = 0 if consumer.poll(500) else idle + 1
    return cluster, futures


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10_000))
def test_no_acknowledged_write_is_lost_and_none_is_duplicated_under_random_faults(seed):
    cluster, futures = run_workload(seed)
    result = check_queue(cluster.history)
    assert result.count("lost_write") == 0, (seed, result.to_frame())
    assert result.count("duplicate") == 0, (seed, result.to_frame())
    assert result.count("inconsistent_offsets") == 0, (seed, result.to_frame())
    assert result.count("unseen") == 0, (seed, result.to_frame())   # everything acknowledged was read in the end
    acked = sum(1 for f in futures if f.done() and f.exception() is None)
    assert acked == result.acknowledged

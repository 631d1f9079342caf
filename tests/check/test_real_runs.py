"""analyze() against real simulated runs: acks=1 with an isolated leader loses acknowledged writes and is judged
invalid; acks=all with min.insync.replicas=2 under crashes and partitions (no power loss) is judged valid. The
verdicts survive a save and load."""
import pytest

import kafkalab as kl
from kafkalab.check import History, analyze
from kafkalab.sim import FaultOptions, Nemesis


def drain(cluster, topic, partitions, idle_polls=5):
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition(topic, p) for p in range(partitions)])
    idle = 0
    while idle < idle_polls:
        idle = 0 if consumer.poll(500) else idle + 1


def test_acks_1_with_an_isolated_leader_is_invalid_with_lost_writes(tmp_path):
    cluster = kl.Cluster(seed=21)
    cluster.create_topic("t", partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "1", "linger.ms": 0, "retries": 0})
    for i in range(5):
        producer.send("t", value=f"before-{i}").result()
    old_leader = cluster.leader_for("t", 0)
    cluster.isolate(old_leader)                       # the producer still reaches it; its followers do not
    for i in range(5):
        producer.send("t", value=f"island-{i}").result()   # acknowledged by the leader alone
    assert cluster.run_until(lambda: cluster.leader_for("t", 0) not in (None, old_leader), 30_000)
    cluster.run(1_000)
    others = ",".join(str(b) for b in cluster.brokers if b != old_leader)
    fresh = cluster.producer({"acks": "1", "linger.ms": 0, "bootstrap.servers": others})
    for i in range(10):
        fresh.send("t", value=f"after-{i}").result()
    cluster.heal()
    cluster.run(10_000)                               # the old leader truncates to the new leader's log
    drain(cluster, "t", 1)
    report = analyze(cluster.history)
    assert report.verdict == "invalid"
    lost = set(report.of("lost_write").value)
    assert {f"island-{i}".encode() for i in range(5)} <= lost       # acknowledged by the isolated leader alone
    assert all(v.startswith((b"island", b"before")) for v in lost)  # (and maybe a tail its followers had not fetched)
    assert report.count("inconsistent_offsets") >= 5 and report.count("duplicate") == 0
    loaded = History.load(cluster.history.save(tmp_path / "acks1.parquet"))
    again = analyze(loaded)
    assert again.verdict == "invalid" and again.counts == report.counts
    assert again.anomalies.equals(report.anomalies)


FAULTS = FaultOptions(mean_interval_ms=3_000, min_duration_ms=1_000, max_duration_ms=10_000,
                      kinds=(("crash", 1.0), ("isolate", 1.0), ("partition", 1.0)))


@pytest.mark.parametrize("seed", [3, 8])
def test_acks_all_min_isr_2_under_crashes_and_partitions_is_valid(seed):
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=2, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 1, "delivery.timeout.ms": 60_000,
                                 "request.timeout.ms": 5_000})
    faults = Nemesis(cluster).random(30_000, cluster.brokers + cluster.controllers, FAULTS)
    assert {f.kind for f in faults} & {"crash", "isolate", "partition"}
    futures = []
    for i in range(60):
        futures.append(producer.send("t", value=f"{seed}-{i}", key=f"k{i % 5}"))
        cluster.run(500)
    cluster.run_until(lambda: all(f.done() for f in futures), 90_000)
    cluster.heal()
    for node in cluster.brokers + cluster.controllers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    cluster.run(20_000)
    drain(cluster, "t", 2)
    report = analyze(cluster.history)
    assert report.verdict == "valid", report.to_text()
    assert report.counts["acknowledged"] == sum(1 for f in futures if f.done() and f.exception() is None) > 0
    assert report.count("unseen") == 0

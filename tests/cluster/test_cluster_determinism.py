"""A whole cluster run (boot, topic, produce, faults, consume; consumer groups of every protocol through member and
coordinator crashes) is a function of (code, config, seed)."""

import kafkalab as kl
from kafkalab.sim import FaultOptions, Nemesis, Tracer
from tests.hashseeds import outputs_under_hash_seeds


def cluster_digest(seed: int) -> str:
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=3, replication_factor=3)
    producer = cluster.producer({"linger.ms": 2})
    Nemesis(cluster).random(20_000, cluster.brokers, FaultOptions(mean_interval_ms=4_000, max_down=1))
    futures = []
    for i in range(200):
        futures.append(producer.send("t", value=f"v{i}", key=f"k{i % 13}"))
        cluster.run(100)
    cluster.heal()
    for node in cluster.brokers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    assert cluster.run_until(lambda: all(f.done() for f in futures), 150_000)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", p) for p in range(3)])
    read = sum(len(consumer.poll(300)) for _ in range(10))
    outcome = [(op.type, op.partition, op.offset) for op in cluster.history if op.f == "send" and op.type != "invoke"]
    return f"{tracer.digest()} {tracer.count} {read} {len(outcome)}"


def test_same_seed_same_cluster_trace_in_process_and_different_seeds_differ():
    first = cluster_digest(21)
    assert first == cluster_digest(21)
    assert first != cluster_digest(22)


def test_same_cluster_trace_in_other_processes_under_other_hash_seeds():
    code = ("import tests.cluster.test_cluster_determinism as t; "
            "print(t.cluster_digest(21), t.group_digest(5, 'cooperative-sticky'), t.group_digest(5, 'consumer'))")
    outputs = outputs_under_hash_seeds(code)
    here = f"{cluster_digest(21)} {group_digest(5, 'cooperative-sticky')} {group_digest(5, 'consumer')}"
    assert outputs[0] == outputs[1] == here


def group_digest(seed: int, protocol: str) -> str:
    """A group run (joins, a member crash and restart, a coordinator crash, commits) as a digest of its trace."""
    cluster = kl.Cluster(seed=seed)
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=6, replication_factor=3)
    producer = cluster.producer({"linger.ms": 2})
    # session.timeout.ms is classic only (Kafka's ConsumerConfig refuses it with group.protocol=consumer)
    extra = {"group.protocol": "consumer"} if protocol == "consumer" else {"partition.assignment.strategy": protocol,
                                                                          "session.timeout.ms": 6_000}
    consumers = [cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest", **extra}) for _ in range(3)]
    for c in consumers:
        c.subscribe(["t"])
    for _ in range(60):                      # ~9 s: the initial rebalance delay (3 s, extended once) and a join
        for c in consumers:
            c.poll(50)
    for i in range(200):
        producer.send("t", value=f"v{i}", key=f"k{i % 11}")
        if i == 40:
            cluster.crash(consumers[0].node_id)
        if i == 60:
            cluster.crash(cluster.group_coordinator("g"))
        if i == 120:
            cluster.restart(consumers[0].node_id)
        for c in consumers[1:] if i < 120 else consumers:
            c.poll(50)
    outcome = [(op.process, op.f, op.type, op.offset) for op in cluster.history if op.f != "send"]
    return f"{tracer.digest()} {tracer.count} {len(outcome)}"


def test_same_seed_same_group_trace_for_every_protocol():
    for protocol in ("range", "cooperative-sticky", "consumer"):
        first = group_digest(5, protocol)
        assert first == group_digest(5, protocol), protocol
    assert group_digest(5, "range") != group_digest(6, "range")

"""Client quotas under random quotas and offered loads: no client ever gets more than its quota (on each broker: every
broker enforces it on its own, as Kafka's do) plus the window's tolerance, none loses an acknowledged record, and a
run with quotas is a function of (code, config, seed)."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.sim import FaultOptions, Nemesis, Tracer
from tests.hashseeds import outputs_under_hash_seeds

SIZE = 50_000
#: Kafka's Rate keeps quota.window.num (11) samples of 1 s and one more being overwritten: the bytes a client may
#: get beyond quota * elapsed are at most about 12 windows' worth, plus the requests already read when it is muted
WINDOW_S = 12
IN_FLIGHT = 5


def run(seed: int, quotas: list[int], loads: list[float], seconds: int, nemesis: Nemesis | None = None
        ) -> tuple[kl.Cluster, list[list[Any]], float]:
    """Producers ``p0, p1, ...`` with ``producer_byte_rate`` quotas[i] each offered loads[i] x its quota; with
    ``nemesis``, broker faults (crashes, pauses, isolation; one broker at a time) during the run."""
    cluster = kl.Cluster(brokers=2, controllers=1, seed=seed)
    cluster.create_topic("t", partitions=2, replication_factor=2)
    if nemesis is not None:
        nemesis.target = cluster
        nemesis.random(seconds * 1000, cluster.brokers, FaultOptions(
            mean_interval_ms=6_000, kinds=(("crash", 1.0), ("pause", 1.0), ("isolate", 1.0)), max_down=1))
    cluster.admin.alter_client_quotas([({"client-id": f"p{i}"}, {"producer_byte_rate": q})
                                       for i, q in enumerate(quotas)])
    producers = [cluster.producer({"client.id": f"p{i}", "acks": "all", "buffer.memory": 1 << 30,
                                   "delivery.timeout.ms": 3_600_000}) for i in range(len(quotas))]
    acks: list[list[Any]] = [[] for _ in quotas]
    owed = [0.0] * len(quotas)
    start = cluster.now
    sent = 0
    for _ in range(seconds * 10):
        for i, producer in enumerate(producers):
            owed[i] += quotas[i] * loads[i] / 10 / SIZE
            while owed[i] >= 1:
                value = f"{i}:{sent}:".encode().ljust(SIZE, b".")
                sent += 1
                producer.send("t", value, on_delivery=lambda md, exc, a=acks[i], v=value: a.append(
                    (cluster.now, md, v)) if exc is None else None)
                owed[i] -= 1
        cluster.run(100)
    return cluster, acks, start


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])      # a failure prints its seed; no slow shrinking
@given(seed=st.integers(0, 10_000),
       quotas=st.lists(st.sampled_from([300_000, 700_000, 1_500_000]), min_size=1, max_size=2),
       loads=st.lists(st.floats(0.5, 4.0), min_size=2, max_size=2))
def test_no_client_beats_its_quota_by_more_than_a_window_and_no_ack_is_lost(seed: int, quotas: list[int],
                                                                            loads: list[float]) -> None:
    cluster, acks, start = run(seed, quotas, loads[:len(quotas)], 30)
    leaders = {p: cluster.leader_for("t", p) for p in range(2)}          # no faults: leaders stay put
    for quota, client_acks in zip(quotas, acks, strict=True):
        for broker in cluster.brokers:
            total = 0
            for t, md, value in sorted(client_acks, key=lambda a: a[0]):
                if leaders[md.partition] != broker:
                    continue
                total += len(value)
                elapsed = (t - start) / 1000
                assert total <= quota * (elapsed + WINDOW_S) + IN_FLIGHT * (SIZE + 200), (seed, quota, broker, t)
    assert_no_acknowledged_record_lost(cluster, acks, seed)


def assert_no_acknowledged_record_lost(cluster: kl.Cluster, acks: list[list[Any]], seed: int) -> None:
    cluster.heal()
    for node in cluster.brokers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    consumer = cluster.consumer({"auto.offset.reset": "earliest", "client.id": "checker"})
    consumer.assign([kl.TopicPartition("t", p) for p in range(2)])
    read: dict[tuple[int, int], bytes | None] = {}
    acked = {(md.partition, md.offset): v for client_acks in acks for _, md, v in client_acks}
    for _ in range(600):
        for r in consumer.poll(200):
            read[(r.partition, r.offset)] = r.value
        if all(k in read for k in acked):
            break
    assert all(read.get(k) == v for k, v in acked.items()), seed


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 10_000), quota=st.sampled_from([300_000, 1_000_000]), load=st.floats(1.0, 4.0))
def test_under_broker_faults_quotas_still_bound_each_client_and_no_ack_is_lost(seed: int, quota: int,
                                                                              load: float) -> None:
    nemesis = Nemesis(None)
    cluster, acks, start = run(seed, [quota], [load], 30, nemesis)
    # a restarted broker starts with fresh sensors (a new window's allowance), and each broker enforces the quota
    # for what it leads: the bound is per broker, times the brokers, plus one window per crash
    crashes = sum(1 for _, what in nemesis.applied if what.startswith("crash"))
    total = 0
    for t, _, value in sorted(acks[0], key=lambda a: a[0]):
        total += len(value)
        allowed = len(cluster.brokers) * quota * ((t - start) / 1000 + WINDOW_S * (1 + crashes))
        assert total <= allowed + len(cluster.brokers) * IN_FLIGHT * (SIZE + 200), (seed, t, total)
    assert_no_acknowledged_record_lost(cluster, acks, seed)


def quota_digest(seed: int) -> str:
    cluster = kl.Cluster(brokers=2, controllers=1, seed=seed)
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=2, replication_factor=2)
    cluster.admin.alter_client_quotas([({"client-id": None}, {"producer_byte_rate": 100_000,
                                                              "consumer_byte_rate": 80_000})])
    producer = cluster.producer({"acks": "all", "buffer.memory": 1 << 30})
    consumer = cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["t"])
    read = 0
    for i in range(150):
        for j in range(4):
            producer.send("t", f"{i}-{j}".encode().ljust(10_000, b"."), key=f"k{j}")
        read += len(consumer.poll(100))
    throttle = producer.metrics()["produce-throttle-time-max"], consumer.metrics()["fetch-throttle-time-max"]
    return f"{tracer.digest()} {tracer.count} {read} {throttle}"


def test_a_quota_run_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    first = quota_digest(3)
    assert first == quota_digest(3)
    assert first != quota_digest(4)
    assert "nan" not in first        # both clients were throttled


def test_a_quota_run_is_the_same_in_other_processes_under_other_hash_seeds() -> None:
    code = "import tests.broker.test_quotas_properties as t; print(t.quota_digest(5))"
    outputs = outputs_under_hash_seeds(code)
    assert outputs[0] == outputs[1] == quota_digest(5)

"""Under random faults, retention never deletes what it must keep (issue 14): every acknowledged record at or above
a replica's log start offset is in that replica's log once it has caught up, and replicas hold the same records in
the range they all have. Retention runs every 10 s on a one-minute ``retention.ms`` while brokers crash, pause and
are cut off, so segments are deleted on leaders and followers alike, in the middle of failovers and catch-ups."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.sim import FaultOptions, Nemesis

FAULTS = FaultOptions(mean_interval_ms=5_000, min_duration_ms=1_000, max_duration_ms=10_000,
                      kinds=(("crash", 1.0), ("pause", 0.5), ("isolate", 1.0), ("partition", 1.0)))
TOPIC_CONFIG = {"retention.ms": 60_000, "segment.ms": 3_000, "min.insync.replicas": 2}


def run_workload(seed: int, duration_ms: float = 120_000, writes: int = 200):
    cluster = kl.Cluster(seed=seed, config={"log.retention.check.interval.ms": 10_000})
    cluster.create_topic("t", partitions=2, replication_factor=3, config=TOPIC_CONFIG)
    producer = cluster.producer({"acks": "all", "linger.ms": 1, "delivery.timeout.ms": 60_000,
                                 "request.timeout.ms": 5_000})
    Nemesis(cluster).random(duration_ms, cluster.brokers + cluster.controllers, FAULTS)
    futures = []
    for i in range(writes):
        futures.append((f"{seed}-{i}", producer.send("t", value=f"{seed}-{i}", key=f"k{i % 5}")))
        cluster.run(duration_ms / writes)
    cluster.run_until(lambda: all(f.done() for _, f in futures), 90_000)
    cluster.heal()
    for node in cluster.brokers + cluster.controllers:
        if not cluster.is_alive(node):
            cluster.restart(node)

    def caught_up():
        for p in range(2):
            row = cluster.describe_topic("t").iloc[p]
            if len(row["isr"]) != 3 or row["high_watermark"] != row["log_end_offset"]:
                return False
        return True
    cluster.run_until(caught_up, 120_000)
    cluster.run(30_000)                 # more retention checks, now on caught-up replicas
    return cluster, futures


def records(log):
    return {off: row[1] for b in log.batches() for off, row in zip(b.offsets(), b.rows, strict=True)}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10_000))
def test_retention_under_faults_keeps_every_acknowledged_record_above_the_log_start(seed):
    cluster, futures = run_workload(seed)
    acked = {}
    for value, f in futures:
        if f.done() and f.exception() is None:
            meta = f.result()
            acked[(meta.partition, meta.offset)] = value.encode()
    assert acked, seed
    deleted = 0
    for p in range(2):
        reps = [cluster.broker(b).rm.partition("t", p) for b in cluster.brokers]
        assert all(r is not None for r in reps), seed
        for r in reps:
            log = r.log
            assert log.log_start_offset <= r.high_watermark <= log.log_end_offset, (seed, r)
            stored = records(log)
            for (part, offset), value in acked.items():
                if part == p and offset >= log.log_start_offset:
                    assert stored.get(offset) == value, (seed, r, offset)
            deleted += log.log_start_offset
        low = max(r.log.log_start_offset for r in reps)
        high = min(r.high_watermark for r in reps)
        views = [{o: v for o, v in records(r.log).items() if low <= o < high} for r in reps]
        assert views[0] == views[1] == views[2], (seed, p, low, high)
    assert deleted > 0, seed        # retention did delete segments

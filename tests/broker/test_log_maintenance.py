"""The broker's log maintenance (retention task and cleaner thread): Kafka's schedule, no events when there is
nothing to do, validated configs, and the same trace for the same seed under any hash seed."""
import os
import re
import subprocess
import sys

import pytest

import kafkalab as kl
from kafkalab.broker.log_maintenance import INITIAL_TASK_DELAY_MS, _next_tick
from kafkalab.errors import ConfigError
from kafkalab.sim import Tracer


def traced_run(seed: int, topic_config: dict, broker_config: dict | None = None, seconds: int = 120,
               until_ms: float = 400_000):
    cluster = kl.Cluster(seed=seed, config=broker_config or {})
    tracer = Tracer(cluster.kernel, keep=True)
    cluster.create_topic("t", partitions=2, replication_factor=3, config=topic_config)
    producer = cluster.producer({"linger.ms": 5})
    for i in range(seconds):
        producer.send("t", value=f"v{i}", key=f"k{i % 7}")
        cluster.run(1_000)
    cluster.run_until(lambda: cluster.kernel.now >= until_ms, until_ms)
    return cluster, tracer


def maintenance_events(tracer, name):
    return [line for line in tracer.lines if f":{name}" in line]


def test_ticks_fall_on_kafkas_fixed_rate_schedule():
    assert _next_tick(30_000, 300_000, 0) == 30_000
    assert _next_tick(30_000, 300_000, 30_000) == 330_000     # strictly after
    assert _next_tick(30_000, 300_000, 30_001) == 330_000
    assert _next_tick(30_000, 300_000, 929_999) == 930_000
    assert INITIAL_TASK_DELAY_MS == 30_000


def test_a_busy_cluster_with_default_retention_has_no_maintenance_events():
    # Seven days of retention and 1 GiB segments: no tick could delete or clean anything, so none is scheduled and
    # the trace of every existing scenario is what it was before brokers ran retention.
    cluster, tracer = traced_run(1, {}, seconds=60, until_ms=700_000)
    assert maintenance_events(tracer, "log-retention") == []
    assert maintenance_events(tracer, "log-cleaner") == []
    for b in cluster.brokers:
        m = cluster.broker(b).rm.log_maintenance
        assert m.retention_at is not None and m.retention_at > 7 * 24 * 3_600_000   # armed for day seven
        assert m.retention_runs == 0


def test_retention_checks_run_on_the_schedule_only_while_segments_may_expire():
    cluster, tracer = traced_run(2, {"retention.ms": 60_000, "segment.ms": 10_000}, until_ms=1_000_000)
    events = maintenance_events(tracer, "log-retention")
    times = sorted({float(line.split()[0]) for line in events})
    for b in cluster.brokers:
        start = 0.0     # brokers boot at time 0 in a Cluster
        m = cluster.broker(b).rm.log_maintenance
        assert m.retention_first_ms == start + INITIAL_TASK_DELAY_MS
    # The data was written in the first two minutes: the tick at 30 s (nothing has expired yet) is elided, the one
    # at 30 s + 5 min deletes every segment (rolling the active one away first, as Kafka does); after that the logs
    # are empty and nothing more is scheduled.
    assert times == [330_000.0], times
    for b in cluster.brokers:
        for p in range(2):
            log = cluster.broker(b).rm.partition("t", p).log
            assert log.size_bytes == 0 and log.log_start_offset == log.log_end_offset > 0


@pytest.mark.parametrize("key, value, message", [
    ("log.retention.check.interval.ms", 0,
     "invalid value 0 for broker config 'log.retention.check.interval.ms' (long): value must be in [1, ...]"),
    ("log.cleaner.backoff.ms", -1,
     "invalid value -1 for broker config 'log.cleaner.backoff.ms' (long): value must be in [0, ...]"),
    ("log.cleaner.enable", "maybe",
     "invalid value 'maybe' for broker config 'log.cleaner.enable' (boolean): expected a boolean; allowed: true, false"),
    ("log.retention.check.interval", 1_000,
     "unknown broker config 'log.retention.check.interval': did you mean 'log.retention.check.interval.ms'"),
    ("log.cleaner.backof.ms", 5, "unknown broker config 'log.cleaner.backof.ms': did you mean 'log.cleaner.backoff.ms'"),
])
def test_bad_maintenance_configs_are_refused_when_the_cluster_is_built(key, value, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        kl.Cluster(seed=1, config={key: value})


def retention_digest(seed: int) -> str:
    cluster, tracer = traced_run(seed, {"retention.ms": 60_000, "segment.ms": 10_000}, seconds=90,
                                 until_ms=700_000)
    cluster.create_topic("c", replication_factor=3, config={"cleanup.policy": "compact", "segment.ms": 5_000,
                                                            "min.cleanable.dirty.ratio": 0.1})
    producer = cluster.producer()
    for i in range(40):
        producer.send("c", value=None if i % 9 == 8 else f"v{i}", key=f"k{i % 5}")
        cluster.run(1_000)
    cluster.run(60_000)
    state = [(b, str(tp), p.log.log_start_offset, p.log.log_end_offset, p.log.size_bytes)
             for b in cluster.brokers for tp, p in sorted(cluster.broker(b).rm.partitions.items())
             if tp.topic in ("t", "c")]
    return f"{tracer.digest()} {tracer.count} {state}"


def test_same_seed_same_maintenance_trace_and_different_seeds_differ():
    assert retention_digest(11) == retention_digest(11)
    assert retention_digest(11) != retention_digest(12)


def test_same_maintenance_trace_in_other_processes_under_other_hash_seeds():
    code = "import tests.broker.test_log_maintenance as t; print(t.retention_digest(11))"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                              env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("0", "4242")]
    assert outputs[0] == outputs[1] == retention_digest(11)

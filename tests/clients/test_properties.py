"""Properties of the clients under random faults (fake brokers): idempotence never duplicates or reorders, every
acknowledged send is in the log at its offset, histories are complete; runs are deterministic."""
import hashlib
import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.clients import KafkaConsumer, KafkaProducer
from kafkalab.common.topic_partition import TopicPartition
from tests.clients.fake_broker import FakeCluster

FAULTS = st.lists(st.tuples(
    st.sampled_from(["swallow", "drop", "error", "move", "stale"]),
    st.integers(0, 2),                        # partition
    st.sampled_from(["NOT_LEADER_OR_FOLLOWER", "NOT_ENOUGH_REPLICAS", "REQUEST_TIMED_OUT",
                     "UNKNOWN_TOPIC_OR_PARTITION"]),
    st.floats(0, 400)), max_size=12)


def run_scenario(seed, faults, idempotent=True, records=60):
    cluster = FakeCluster(3, seed=seed)
    cluster.create_topic("t", 3)
    events = [0]

    def watchdog(time_ms, label):      # a client spinning in zero time must fail the test, not hang it
        events[0] += 1
        if events[0] > 200_000:
            raise AssertionError(f"more than 200,000 events by t={time_ms} ms (last: {label}): a busy loop")
    cluster.world.kernel.add_trace_hook(watchdog)
    config = {"linger.ms": 1, "batch.size": 400, "request.timeout.ms": 300, "delivery.timeout.ms": 60_000,
              "retry.backoff.ms": 20}
    if not idempotent:
        config.update({"acks": 1})
    producer = KafkaProducer(config, world=cluster.world, bootstrap=cluster.broker_ids, history=cluster.history)
    producer.partitions_for("t")
    for kind, p, error, at in faults:
        tp = TopicPartition("t", p)

        def inject(kind=kind, tp=tp, error=error):
            if kind == "swallow":
                cluster.swallow_produce += 1
            elif kind == "drop":
                cluster.drop_produce += 1
            elif kind == "error":
                cluster.produce_errors[tp].append(error)
            elif kind == "move":
                cluster.move_leader(tp, cluster.leaders[tp] % 3 + 1)
            else:     # broker 1 answers metadata with a wrong leader for a while (its image lags)
                cluster.stale_metadata_from[1] = {tp: cluster.leaders[tp] % 3 + 1}
                cluster.world.kernel.schedule(500, cluster.stale_metadata_from.pop, 1, None)
        cluster.world.kernel.schedule(at, inject)
    futures = []
    for i in range(records):
        futures.append(producer.send("t", value=f"v{i:04d}", key=f"k{i % 5}"))
        if i % 10 == 9:
            cluster.world.run(30)
    producer.flush(timeout_ms=120_000)
    return cluster, producer, futures


@settings(max_examples=25)
@given(seed=st.integers(0, 1000), faults=FAULTS)
def test_idempotent_producer_never_duplicates_or_reorders_under_faults(seed, faults):
    cluster, producer, futures = run_scenario(seed, faults)
    for tp in cluster.logs:
        values = cluster.values(tp)
        assert len(values) == len(set(values)), f"duplicate in {tp} (seed={seed}, faults={faults})"
        assert values == sorted(values), f"reordered {tp}: {values}"
    for i, future in enumerate(futures):
        assert future.done()
        meta = future.metadata()
        if meta is not None:
            tp = TopicPartition("t", meta.partition)
            assert cluster.values(tp)[meta.offset] == f"v{i:04d}".encode()
    assert not cluster.history.open_ops
    types = [o.type for o in cluster.history.ops]
    assert types.count("invoke") == len(futures) == len(types) - types.count("invoke")


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), faults=FAULTS)
def test_consumer_reads_exactly_the_log_after_faulty_production(seed, faults):
    cluster, producer, futures = run_scenario(seed, faults, idempotent=False, records=30)
    consumer = KafkaConsumer({"auto.offset.reset": "earliest"}, world=cluster.world, bootstrap=cluster.broker_ids)
    consumer.assign(list(cluster.logs))
    expected = {tp: cluster.values(tp) for tp in cluster.logs}
    got = {tp: [] for tp in cluster.logs}
    for _ in range(50):
        for r in consumer.poll(200):
            got[TopicPartition(r.topic, r.partition)].append(r.value)
        if got == expected:
            break
    assert got == expected


SCRIPT = """
import hashlib, sys
sys.path.insert(0, {root!r})
from tests.clients.test_properties import run_scenario
cluster, producer, futures = run_scenario(7, [("swallow", 0, "NONE", 10.0), ("move", 1, "NONE", 50.0),
                                             ("error", 2, "NOT_ENOUGH_REPLICAS", 5.0)])
print(hashlib.sha256(repr(cluster.history.to_frame().values.tolist()).encode()).hexdigest())
"""


def test_same_seed_same_history_under_any_hash_seed():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    digests = set()
    for hash_seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=root)], env=env, capture_output=True,
                             text=True, check=True, cwd=root)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
    cluster, _, _ = run_scenario(7, [("swallow", 0, "NONE", 10.0)])
    other, _, _ = run_scenario(8, [("swallow", 0, "NONE", 10.0)])
    frame = cluster.history.to_frame()
    assert hashlib.sha256(repr(frame.values.tolist()).encode()).hexdigest() != \
        hashlib.sha256(repr(other.history.to_frame().values.tolist()).encode()).hexdigest()


def test_lost_answers_then_an_epoch_bump_do_not_duplicate_a_batch():
    """Seven produce answers lost at once (found by the property test under the CI profile): the batches that may be
    in the log fail with an unknown outcome when the epoch is bumped, instead of being appended a second time."""
    cluster, producer, futures = run_scenario(0, [("swallow", 0, "NOT_LEADER_OR_FOLLOWER", 0.0)] * 7)
    for tp in cluster.logs:
        values = cluster.values(tp)
        assert len(values) == len(set(values)), f"duplicate in {tp}: {values}"
    failed = [op for op in cluster.history.ops if op.f == "send" and op.type in ("fail", "info")]
    assert failed and all(op.type == "info" for op in failed)    # maybe written: never reported as failed for sure

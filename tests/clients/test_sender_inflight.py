"""The idempotent producer never has more than five unacknowledged batches per partition, so a retry always falls
within the five batches the leader remembers per producer (``NUM_BATCHES_TO_RETAIN``) and is answered as a duplicate
or appended in order, never OUT_OF_ORDER_SEQUENCE_NUMBER until ``delivery.timeout.ms``.

The scenario that broke it: the leader's answers to the producer are lost (a one-way cut) while it appends and
replicates the producer's batches; then the leader is isolated from the other servers, the controller fences it and
a follower takes over. The producer still has five requests in flight to the old leader (they end only at
``request.timeout.ms``). It learned the new leader from a metadata refresh and sent it the next batch, a sixth
unacknowledged one; the new leader appended it, which pushed the oldest of the five out of its memory of the
producer, and once the old requests timed out their retries were OUT_OF_ORDER_SEQUENCE_NUMBER forever (the sends
failed after 60 s and the epoch was bumped).
"""
from collections.abc import Callable

import pytest

import kafkalab as kl
from kafkalab.check import check_queue
from kafkalab.protocol.produce import NUM_BATCHES_TO_RETAIN

REQUEST_TIMEOUT_MS = 20_000
FAULT_MS = 15_000


def _answers_lost_then_leader_isolated(cluster: kl.Cluster, leader: int, producer: str) -> Callable[[], None]:
    cluster.network.cut(leader, producer)
    cluster.kernel.schedule(500, cluster.isolate, leader)     # the batches sent meanwhile reach the followers
    return cluster.heal


def _leader_paused_past_fencing(cluster: kl.Cluster, leader: int, producer: str) -> Callable[[], None]:
    cluster.pause(leader)
    return lambda: cluster.resume(leader)


def _slow_answers_then_leader_isolated(cluster: kl.Cluster, leader: int, producer: str) -> Callable[[], None]:
    cluster.slow_link(leader, producer, 2 * REQUEST_TIMEOUT_MS, symmetric=False)
    cluster.kernel.schedule(500, cluster.isolate, leader)

    def heal() -> None:
        cluster.network.reset_link(leader, producer, symmetric=False)
        cluster.heal()
    return heal


FAULTS = {"answers_lost_then_leader_isolated": _answers_lost_then_leader_isolated,
          "leader_paused_past_fencing": _leader_paused_past_fencing,
          "slow_answers_then_leader_isolated": _slow_answers_then_leader_isolated}


def run_scenario(fault: str, seed: int = 0) -> tuple[kl.Cluster, list, int, float, float]:
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=1, replication_factor=3)
    # A short metadata.max.age.ms makes the producer learn the new leader while its old requests are in flight.
    producer = cluster.producer({"linger.ms": 0, "request.timeout.ms": REQUEST_TIMEOUT_MS,
                                 "metadata.max.age.ms": 1_000})
    core = producer.core
    peak = [0]

    def watch(_time_ms: float, _label: str) -> None:
        for count in core.unacknowledged_batches().values():
            if count > peak[0]:
                peak[0] = count
    cluster.kernel.add_trace_hook(watch)
    futures = []
    i = 0

    def send() -> None:
        nonlocal i
        futures.append(producer.send("t", value=f"v{i:05d}"))
        i += 1
    for _ in range(50):
        send()
        cluster.run(5)
    leader = cluster.leader_for("t", 0)
    heal = FAULTS[fault](cluster, leader, producer.node_id)
    start = cluster.now
    while cluster.now < start + FAULT_MS:
        send()
        cluster.run(20)
    heal()
    healed_at = cluster.now
    for _ in range(100):
        send()
        cluster.run(20)
    assert cluster.run_until(lambda: all(f.done() for f in futures), 120_000)
    done_at = cluster.now
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    idle = 0
    while idle < 5:
        idle = 0 if consumer.poll(500) else idle + 1
    return cluster, futures, peak[0], healed_at, done_at


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_at_most_five_unacknowledged_batches_and_every_send_completes_after_a_leader_change(fault):
    cluster, futures, peak, healed_at, done_at = run_scenario(fault)
    assert peak <= NUM_BATCHES_TO_RETAIN, f"{peak} unacknowledged batches in one partition"
    failed = [f.exception() for f in futures if f.exception() is not None]
    assert not failed, f"{len(failed)} of {len(futures)} sends failed: {failed[:3]}"
    # The old requests end at request.timeout.ms; their retries are then duplicates or in order, at once.
    assert done_at - healed_at < REQUEST_TIMEOUT_MS, done_at - healed_at
    result = check_queue(cluster.history)
    assert result.count("duplicate") == 0, result.to_frame()
    assert result.count("lost_write") == 0, result.to_frame()
    assert result.count("unseen") == 0, result.to_frame()
    assert result.acknowledged == len(futures)
    assert not cluster.history.open_ops

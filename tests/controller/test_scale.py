"""Cost follows traffic, not size: an idle control plane with 10,000 partitions runs the same events as one with 10
(no per-partition timers or polling), and a topic's partitions go into the log in one proposal."""
from tests.controller.harness import BROKERS, ControlPlane


def idle_events(partitions: int) -> int:
    cp = ControlPlane(seed=1)
    cp.boot()
    # at most 5,000 partitions per topic: Kafka's controller refuses an operation of more than 10,000 records
    per_topic = min(partitions, 5_000)
    topics = [f"t{i}" for i in range(partitions // per_topic)]
    for topic in topics:
        assert cp.create_topic(topic, per_topic, 3).error == "NONE"
    assert cp.run_until(lambda: all(cp.broker(b).image.partition(t, per_topic - 1) is not None
                                    for b in BROKERS for t in topics), 5_000)
    cp.run(1_000)
    before = cp.kernel.events_processed
    cp.run(60_000)
    return cp.kernel.events_processed - before


def test_idle_cost_does_not_grow_with_partitions() -> None:
    small, large = idle_events(10), idle_events(10_000)
    # NoOps every 500 ms, heartbeats every 2 s, parked fetches: about 88 events per virtual second either way.
    assert abs(large - small) <= 0.02 * small
    assert small < 60 * 150

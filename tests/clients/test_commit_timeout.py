"""A synchronous commit that keeps failing ends with Kafka's ``commitSync`` timeout error, which names the timeout
the caller gave (``Timeout of 30000ms expired before successfully committing offsets ...``), not
``default.api.timeout.ms``."""
import pytest

import kafkalab as kl
from kafkalab.errors import KafkaTimeoutError
from kafkalab.groups.hashing import OFFSETS_TOPIC, partition_for

TP = kl.TopicPartition("t", 0)


def test_a_commit_timing_out_names_the_timeout_ms_it_was_given() -> None:
    cluster = kl.Cluster(seed=7)
    cluster.create_topic("t", partitions=1, replication_factor=3)
    consumer = cluster.consumer({"group.id": "g", "enable.auto.commit": False, "default.api.timeout.ms": 60_000})
    consumer.assign([TP])
    consumer.commit({TP: 5})                      # creates __consumer_offsets and finds the coordinator
    coordinator = cluster.group_coordinator("g")
    assert coordinator is not None
    replicas = cluster.replicas(OFFSETS_TOPIC, partition_for("g"))
    followers = sorted(int(b) for b in replicas["broker"] if int(b) != coordinator)
    cluster.partition([coordinator], followers)   # the coordinator's writes cannot commit: COORDINATOR_NOT_AVAILABLE
    started = cluster.now
    with pytest.raises(KafkaTimeoutError) as caught:
        consumer.commit({TP: 9}, timeout_ms=30_000)
    assert str(caught.value) == ("REQUEST_TIMED_OUT: Timeout of 30000ms expired before successfully committing "
                                 "offsets {t-0=9} (last error: COORDINATOR_NOT_AVAILABLE)")
    assert caught.value.retriable
    assert 30_000 <= cluster.now - started < 60_000


def test_committed_timing_out_names_the_timeout_ms_it_was_given() -> None:
    """``committed(timeout_ms=...)`` whose OffsetFetch keeps failing (the group's coordinator is down and its
    partition has no other replica to lead) ends with Kafka's message naming that timeout."""
    cluster = kl.Cluster(seed=7, config={"offsets.topic.replication.factor": 1})
    cluster.create_topic("t", partitions=1, replication_factor=3)
    consumer = cluster.consumer({"group.id": "g", "enable.auto.commit": False, "default.api.timeout.ms": 60_000})
    consumer.assign([TP])
    consumer.commit({TP: 5})
    coordinator = cluster.group_coordinator("g")
    assert coordinator is not None
    cluster.crash(coordinator)
    with pytest.raises(KafkaTimeoutError) as caught:
        consumer.committed([TP], timeout_ms=5_000)
    assert str(caught.value).startswith("REQUEST_TIMED_OUT: Timeout of 5000ms expired before the last committed "
                                        "offset for partitions ['t-0'] could be determined (last error: ")

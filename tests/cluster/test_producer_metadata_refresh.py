"""Stale metadata is refreshed while a send waits (Kafka's ``KafkaProducer.waitOnMetadata`` requests an update on every
round of its loop): a partition added since the producer learnt the topic is found, not timed out on."""
import re

import pytest

import kafkalab as kl
from kafkalab.errors import KafkaTimeoutError


def test_a_send_to_a_partition_added_after_the_producer_learnt_the_topic_refreshes_its_metadata():
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("t", partitions=3)
    producer = cluster.producer({"max.block.ms": 5_000})
    assert producer.send("t", value=b"a", partition=2).result().partition == 2
    cluster.create_partitions("t", 6)
    start = cluster.now
    future = producer.send("t", value=b"b", partition=5)     # KafkaProducer.waitOnMetadata asks again, every round
    assert cluster.now - start < 500
    meta = future.result()
    assert (meta.partition, meta.offset) == (5, 0)


def test_a_partition_that_never_appears_still_times_out_and_refreshes_stop_after():
    cluster = kl.Cluster(seed=4)
    cluster.create_topic("t", partitions=3)
    producer = cluster.producer({"max.block.ms": 600})
    producer.partitions_for("t")
    future = producer.send("t", value=b"v", partition=7)
    with pytest.raises(KafkaTimeoutError, match="^" + re.escape(
            "REQUEST_TIMED_OUT: Partition 7 of topic t with partition count 3 is not present in metadata after "
            "600 ms.") + "$"):
        future.result()
    core = producer.core
    refreshes = core.metadata.version
    assert refreshes >= 3                          # about one per retry.backoff.ms while it waited
    cluster.run(5_000)
    # the update the last round asked for is still answered (as in Kafka), then nobody waits: no more rounds
    assert core.metadata.version <= refreshes + 1
    settled = core.metadata.version
    cluster.run(5_000)
    assert core.metadata.version == settled

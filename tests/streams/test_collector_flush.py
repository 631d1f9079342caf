"""The commit path's flush waits for every record handed to the producer, also those that waited for metadata and
went out after the flush began (from the thread's loop): committing before them would commit the input offsets
without their output. Under exactly_once_v2 the late batches reached the broker after the transaction ended (its
epoch bumped by EndTxn) and were fenced, so the left foreign-key join of the seed-2 burst lost results."""
from __future__ import annotations

from collections.abc import Callable

import kafkalab as kl
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.streams.collector import ProducerCollector


def _run_until(cluster: kl.Cluster, done: Callable[[], bool], steps: int = 100) -> bool:
    for _ in range(steps):
        if done():
            return True
        cluster.run(100)
    return done()


def test_a_record_handed_over_after_the_flush_began_is_waited_for() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=1)
    cluster.create_topic("early", partitions=1)
    producer = cluster.producer({"linger.ms": 0})
    core = producer.core
    collector = ProducerCollector(core, history=core.history, node_id=producer.node_id)
    collector.send("early", b"k", b"v1", 0, None, ())

    def handed_over() -> bool:
        collector.retry_queued()
        return collector.queued == 0
    assert _run_until(cluster, handed_over)
    collector.send("late", b"k", b"v2", 0, None, ())       # no metadata yet (created on the first request): waits
    assert collector.queued == 1
    collector.begin_flush()
    assert _run_until(cluster, lambda: TopicPartition("early", 0) in collector.acked_offsets)
    assert _run_until(cluster, lambda: producer.core.metadata.partition_count("late") is not None)
    collector.retry_queued()                                # the thread's loop hands it over
    assert collector.queued == 0
    assert not collector.flushed(), "the flush must wait for the record that went out after it began"
    assert _run_until(cluster, collector.flushed)
    assert collector.acked_offsets == {TopicPartition("early", 0): 0, TopicPartition("late", 0): 0}

"""Many partitions, little work per partition (issue 14): the producer's and consumer's indexes of active partitions
(queues holding batches, partitions holding fetched data) give the same results a walk over every partition would."""
from __future__ import annotations

import kafkalab as kl


def _cluster(partitions: int) -> kl.Cluster:
    cluster = kl.Cluster(brokers=3, controllers=3, seed=4)
    cluster.create_topic("t", partitions=partitions, replication_factor=3)
    return cluster


def test_a_consumer_of_forty_partitions_gets_every_record_once_in_partition_order() -> None:
    cluster = _cluster(40)
    producer = cluster.producer()
    for i in range(400):
        producer.send("t", value=f"v{i}", key=f"k{i % 57}")
    producer.flush()
    consumer = cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest", "max.poll.records": 7})
    consumer.subscribe(["t"])
    got: list[kl.ConsumerRecord] = []
    for _ in range(400):
        got.extend(consumer.poll(200))
        if len(got) >= 400:
            break
    assert sorted(r.value for r in got) == sorted(f"v{i}".encode() for i in range(400))
    by_partition: dict[int, list[int]] = {}
    for r in got:
        by_partition.setdefault(r.partition, []).append(r.offset)
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))
    # every partition drained: nothing stays in the index of buffered partitions
    assert not consumer.core.has_records()
    assert not consumer.core._buffered


def test_the_sender_forgets_drained_queues_and_sees_a_refilled_one() -> None:
    cluster = _cluster(12)
    producer = cluster.producer({"linger.ms": 50})
    futures = [producer.send("t", value=b"x", partition=p) for p in range(12)]
    producer.flush()
    assert all(f.result().offset == 0 for f in futures)
    acc = producer.core.accumulator
    assert not acc.has_queued()
    assert acc.next_expiry_ms() == float("inf")
    again = producer.send("t", value=b"y", partition=5)
    assert acc.has_queued()
    assert again.result().offset == 1
    assert not producer.core._in_flight            # only partitions with batches in flight are kept

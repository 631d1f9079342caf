"""A poll that takes part of a batch (``max.poll.records`` cuts it) records what it returned: the history's reads of
each poll are exactly its records, in order, and together every offset once (issue 14 stores them as a slice of the
batch's rows)."""
from __future__ import annotations

import pytest

import kafkalab as kl


@pytest.mark.parametrize("max_poll", [1, 7, 500])
def test_each_poll_reads_in_the_history_are_exactly_the_records_it_returned(max_poll: int) -> None:
    cluster = kl.Cluster(seed=4)
    cluster.create_topic("t", partitions=2, replication_factor=3)
    producer = cluster.producer({"linger.ms": 5})
    for i in range(1_200):
        producer.send("t", f"v{i}".encode(), f"k{i % 13}".encode())
    producer.flush()
    consumer = cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest", "max.poll.records": max_poll})
    consumer.subscribe(["t"])
    returned = []
    for _ in range(2_000):
        got = consumer.poll(50)
        if got:
            returned.append([(r.topic, r.partition, r.offset, r.key, r.value) for r in got])
        if sum(map(len, returned)) >= 1_200:
            break
    polls = [list(e.reads) for e in cluster.history.ops if e.f == "poll" and e.type == "ok" and e.reads]
    assert polls == returned
    assert all(len(p) <= max_poll for p in polls)
    seen = sorted((r[1], r[2]) for p in polls for r in p)
    assert len(seen) == 1_200 and len(set(seen)) == 1_200

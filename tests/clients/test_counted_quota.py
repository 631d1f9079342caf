"""Counted records (the perf-test workload, ``send_counted``/``poll_counts``) under client byte-rate quotas: the
quotas count a counted batch's bytes as they count real ones, so a kafka-producer-perf-test run offered more than
its quota is held to it, as in Kafka (issue 14: the log, replication, fetch and quotas treat counted batches as
batches)."""
from __future__ import annotations

from typing import Any

import kafkalab as kl
from tests.broker.test_quotas import QUOTA, long_run_rate

RECORD_BYTES = 1_000


def counted_cluster(seed: int) -> kl.Cluster:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=seed)
    cluster.create_topic("t", partitions=2, replication_factor=1)
    return cluster


def test_a_counted_producer_offered_four_times_its_quota_is_held_to_it() -> None:
    cluster = counted_cluster(seed=11)
    cluster.admin.alter_client_quotas([({"client-id": "perf"}, {"producer_byte_rate": QUOTA})])
    producer = cluster.producer({"client.id": "perf", "acks": 1, "buffer.memory": 1 << 30,
                                 "delivery.timeout.ms": 3_600_000})
    acks: list[tuple[float, int]] = []

    def acked(md: Any, exc: BaseException | None) -> None:
        if exc is None:
            acks.append((cluster.now, md.records * RECORD_BYTES))

    start = cluster.now
    for _ in range(60 * 100):                     # 4 MB/s offered: 40 records of 1 KB every 10 ms
        producer.send_counted("t", 40, RECORD_BYTES, on_delivery=acked)
        cluster.run(10)
    # the record bytes run just under the quota (batch framing and request headers count against it too)
    assert 0.95 * QUOTA <= long_run_rate(acks, start + 20_000, start + 60_000) <= QUOTA
    assert producer.metrics()["produce-throttle-time-max"] > 0
    # the same offer without a quota goes through at the offered rate
    free = counted_cluster(seed=11)
    unthrottled = free.producer({"client.id": "perf", "acks": 1})
    free_acks: list[tuple[float, int]] = []
    start = free.now
    for _ in range(20 * 100):
        unthrottled.send_counted("t", 40, RECORD_BYTES,
                                 on_delivery=lambda md, exc: free_acks.append((free.now, md.records * RECORD_BYTES)))
        free.run(10)
    assert long_run_rate(free_acks, start + 2_000, start + 20_000) > 3.9 * QUOTA


def consume_under_quota(counted: bool) -> tuple[list[tuple[float, int]], int]:
    """Load 80 MB without a quota, then read it with a consumer_byte_rate quota for 40 s (counting, or with real
    records of the same size): the (time, record bytes) of each partition's hand-out, and the next offset."""
    cluster = counted_cluster(seed=12)
    loader = cluster.producer({"acks": 1})
    if counted:
        loader.send_counted("t", 80_000, RECORD_BYTES, partition=0)
    else:
        value = b"x" * RECORD_BYTES
        for _ in range(80_000):
            loader.send("t", value, partition=0)
    loader.flush()
    cluster.admin.alter_client_quotas([({"client-id": "counter"}, {"consumer_byte_rate": QUOTA})])
    consumer = cluster.consumer({"client.id": "counter", "auto.offset.reset": "earliest",
                                 "max.partition.fetch.bytes": 200_000})
    consumer.assign([kl.TopicPartition("t", 0)])
    reads: list[tuple[float, int]] = []
    next_offset = 0
    start = cluster.now
    while cluster.now < start + 40_000:
        if counted:
            for counts in consumer.poll_counts(100):
                assert counts.first_offset == next_offset          # in order, none skipped, none twice
                next_offset = counts.last_offset + 1
                reads.append((cluster.now - start, counts.records * RECORD_BYTES))
        else:
            records = consumer.poll(100)
            if records:
                assert [r.offset for r in records] == list(range(next_offset, next_offset + len(records)))
                next_offset += len(records)
                reads.append((cluster.now - start, len(records) * RECORD_BYTES))
    assert consumer.metrics()["fetch-throttle-time-max"] > 0
    return reads, next_offset


def test_a_counting_consumer_over_its_quota_reads_as_a_consumer_of_real_records_does() -> None:
    counted, counted_end = consume_under_quota(counted=True)
    real, real_end = consume_under_quota(counted=False)
    # the quota sees the same bytes either way: the same hand-outs at the same virtual times
    assert counted == real and counted_end == real_end
    assert 0 < counted_end < 80_000
    # held to the quota in record bytes: less by the framing, headers and the throttled fetches' wasted bytes
    # (a throttled fetch is answered empty and its bytes read again later, as in Kafka; about 92% here)
    assert 0.88 * QUOTA <= long_run_rate(counted, 10_000, 40_000) <= QUOTA

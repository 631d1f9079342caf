"""Counted records through the real cluster: ``send_counted`` leaves the batches, log and event trace of the loop of
``send`` with values of that size, replication and fetch move them like any batch, ``poll_counts`` reads them, and
faults (a leader crash, a full buffer, retries) keep what was acknowledged."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.clients.counted import CountedMetadata, PartitionCounts
from kafkalab.common.records import CountedRecords, CountedRecordsError
from kafkalab.errors import (
    BufferExhaustedError,
    ConfigError,
    InvalidRecordError,
    KafkaTimeoutError,
    MessageTooLargeError,
)
from kafkalab.sim import Tracer


def _logs(cluster: Any, topic: str, partitions: int) -> list[list[tuple[int, int, int]]]:
    """Per partition, the leader's batches as (base offset, records, bytes)."""
    out = []
    for p in range(partitions):
        log = cluster.broker(cluster.leader_for(topic, p)).rm.partition(topic, p).log
        out.append([(b.base_offset, b.record_count, b.size_bytes) for b in log.batches()])
    return out


def _run(counted: bool, runs: list[int], record_bytes: int, producer_config: dict[str, Any], partitions: int = 4,
         partition: int | None = None, seed: int = 7) -> tuple[str, list[list[tuple[int, int, int]]]]:
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=partitions, replication_factor=3)
    producer = cluster.producer(producer_config)
    producer.send("t", value=b"warm-up").result()
    value = bytes(record_bytes)
    for n in runs:
        if counted:
            producer.send_counted("t", n, record_bytes, partition=partition)
        else:
            for _ in range(n):
                producer.send("t", value=value, partition=partition)
        cluster.run(2)
    producer.flush()
    cluster.run(50)
    return f"{tracer.digest()} {tracer.count}", _logs(cluster, "t", partitions)


@pytest.mark.parametrize("config, record_bytes, partition", [
    ({"linger.ms": 5}, 100, None),                                   # idempotent (Kafka's default), sticky
    ({"acks": "1", "batch.size": 2_000, "linger.ms": 0}, 300, None),  # small batches, a record rarely fills one
    ({"linger.ms": 2, "batch.size": 70_000}, 20, 2),                  # 2-byte offset deltas, an explicit partition
    ({"buffer.memory": 65_536, "linger.ms": 1}, 500, None),          # the run waits for buffer memory many times
], ids=["default", "acks1-small-batches", "explicit-partition", "buffer-memory-waits"])
def test_a_counted_run_leaves_the_trace_and_the_log_of_the_loop_of_send(config: dict[str, Any], record_bytes: int,
                                                                         partition: int | None) -> None:
    runs = [700, 1, 2_500, 40, 900]
    loop = _run(False, runs, record_bytes, config, partition=partition)
    assert _run(True, runs, record_bytes, config, partition=partition) == loop
    assert sum(n for log in loop[1] for _, n, _ in log) == sum(runs) + 1


def test_counted_records_travel_from_producer_to_replicas_to_a_consumer_group() -> None:
    cluster = kl.Cluster(brokers=3, controllers=1, seed=3)
    cluster.create_topic("load", partitions=3, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 5})
    parts: list[CountedMetadata] = []
    future = producer.send_counted("load", 5_000, 200, on_delivery=lambda md, error: parts.append(md))
    acked = future.result()
    # one acknowledgement per batch the run went into, in run order; the callback saw the same ones
    assert sum(md.records for md in acked) == 5_000 == future.acknowledged()
    assert sorted(acked, key=lambda md: (md.partition, md.offset)) == sorted(parts, key=lambda md: (md.partition,
                                                                                                     md.offset))
    assert future.done() and future.exception() is None
    # the followers store the leader's batch objects themselves (zero-copy replication), counted batches included
    for p in range(3):
        leader = cluster.leader_for("load", p)
        leader_batches = list(cluster.broker(leader).rm.partition("load", p).log.batches())
        assert all(type(b.rows) is CountedRecords for b in leader_batches)
        for node in cluster.brokers:
            if node != leader:
                follower = list(cluster.broker(node).rm.partition("load", p).log.batches())
                assert len(follower) == len(leader_batches)
                assert all(a is b for a, b in zip(follower, leader_batches, strict=True))
    consumer = cluster.consumer({"group.id": "counters", "auto.offset.reset": "earliest"})
    consumer.subscribe(["load"])
    seen: dict[int, list[PartitionCounts]] = {}
    for _ in range(100):
        for counts in consumer.poll_counts(timeout_ms=100):
            seen.setdefault(counts.partition, []).append(counts)
        if sum(c.records for cs in seen.values() for c in cs) >= 5_000:
            break
    for p, counts in seen.items():
        # offsets follow each other with no gap, and every record's timestamp run is there
        expected = 0
        for c in counts:
            assert c.first_offset == expected and c.last_offset == expected + c.records - 1
            assert sum(n for _, n in c.timestamps) == c.records
            expected = c.last_offset + 1
        assert expected == sum(md.records for md in acked if md.partition == p)
    assert consumer.position(kl.TopicPartition("load", 0)) == cluster.describe_topic("load").high_watermark[0]


def test_a_leader_crash_mid_run_loses_nothing_acknowledged_and_retries_add_no_duplicates() -> None:
    cluster = kl.Cluster(brokers=3, controllers=1, seed=11, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=2, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 2})     # idempotent: Kafka's default
    acked: list[CountedMetadata] = []
    futures = []
    victim = cluster.leader_for("t", 0)
    for step in range(60):
        futures.append(producer.send_counted("t", 300, 100,
                                             on_delivery=lambda md, e: acked.append(md) if e is None else None))
        cluster.run(5)
        if step == 20:
            cluster.crash(victim)
        if step == 45:
            cluster.restart(victim)
    producer.flush()
    assert all(f.exception() is None for f in futures)
    assert producer.metrics()["retried_batches"] > 0           # the crash made batches retry
    assert cluster.run_until(lambda: len(cluster.describe_topic("t").isr[0]) == 3, 30_000)
    total = sum(md.records for md in acked)
    assert total == 60 * 300
    # every acknowledged part is in the final log at its offsets, once: the logs hold exactly what was acknowledged
    hw = cluster.describe_topic("t").high_watermark
    assert sum(hw) == total
    for p in range(2):
        logged = [(b.base_offset, b.next_offset)
                  for b in cluster.broker(cluster.leader_for("t", p)).rm.partition("t", p).log.batches()]
        for md in acked:
            if md.partition == p:      # a part of a run lies in one batch (it may start inside it)
                assert any(base <= md.offset and md.offset + md.records <= end for base, end in logged)


def test_a_run_waits_for_buffer_memory_and_fails_when_none_frees_within_max_block_ms() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=2)
    cluster.create_topic("t", partitions=1, replication_factor=1)
    producer = cluster.producer({"buffer.memory": 40_000, "max.block.ms": 300, "linger.ms": 1})
    ok = producer.send_counted("t", 2_000, 100)      # ~13 batches through a buffer of two: it waits, then completes
    assert sum(md.records for md in ok.result()) == 2_000
    cluster.crash(cluster.brokers[0])                  # nothing drains now
    errors: list[BaseException | None] = []
    stuck = producer.send_counted("t", 2_000, 100, on_delivery=lambda md, e: errors.append(e))
    assert isinstance(stuck.exception(), BufferExhaustedError)
    assert str(stuck.exception()).startswith("REQUEST_TIMED_OUT: Failed to allocate 16384 bytes within the configured "
                                             "max blocking time 300 ms. Total memory: 40000 bytes.")
    assert any(isinstance(e, BufferExhaustedError) for e in errors)
    assert stuck.acknowledged() == 0


def test_poll_refuses_counted_batches_and_poll_counts_reads_them() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=5)
    cluster.create_topic("t", partitions=1, replication_factor=1)
    producer = cluster.producer()
    producer.send_counted("t", 10, 50).result()
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    with pytest.raises(CountedRecordsError, match=r"counted records \(10 records of 50-byte values\) have no "
                                                  r"per-record keys or values to read; use their count, sizes and "
                                                  r"timestamps \(consumer.poll_counts\(\) reads counted batches\)"):
        consumer.poll(timeout_ms=1_000)
    assert [op.type for op in cluster.history if op.f == "poll"][-1] == "fail"
    (counts,) = consumer.poll_counts(timeout_ms=1_000)
    assert (counts.records, counts.first_offset, counts.last_offset) == (10, 0, 9)
    (batch,) = cluster.broker(cluster.brokers[0]).rm.partition("t", 0).log.batches()
    assert counts.size_bytes == batch.size_bytes and counts.timestamps == ((batch.max_timestamp_ms, 10),)
    # real records are counted too
    producer.send("t", value=b"x" * 50).result()
    assert [(c.records, c.first_offset) for c in consumer.poll_counts(timeout_ms=1_000)] == [(1, 10)]


def test_a_compacted_topic_refuses_counted_records() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=1)
    cluster.create_topic("c", partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})
    producer = cluster.producer({"retries": 0, "enable.idempotence": False})
    future = producer.send_counted("c", 5, 10)
    with pytest.raises(InvalidRecordError, match=r"Compacted topic cannot accept counted records \(counts and sizes, "
                                                 r"without keys\) in topic partition c-0\."):
        future.result()


@pytest.mark.parametrize("call, kind, message", [
    (lambda p: p.send_counted(5, 1, 1), TypeError, "topic must be a str, got int 5"),
    (lambda p: p.send_counted("", 1, 1), ValueError, "topic must be a non-empty str, got ''"),
    (lambda p: p.send_counted("t", 0, 1), ValueError, "records must be an int >= 1, got 0"),
    (lambda p: p.send_counted("t", 1.5, 1), TypeError, "records must be an int >= 1, got float 1.5"),
    (lambda p: p.send_counted("t", 1, -1), ValueError, "record_bytes must be an int >= 0, got -1"),
    (lambda p: p.send_counted("t", 1, True), TypeError, "record_bytes must be an int >= 0, got bool True"),
    (lambda p: p.send_counted("t", 1, 1, partition=-1), ValueError, "Invalid partition: -1."),
    (lambda p: p.send_counted("t", 1, 1, partition="0"), TypeError, "partition must be an int or None, got str '0'"),
    (lambda p: p.send_counted("t", 1, 1, on_delivery=3), TypeError,
     "on_delivery must be a callable taking (CountedMetadata, error) or None, got int"),
])
def test_bad_arguments_are_refused_at_the_call(call: Any, kind: type, message: str) -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=1)
    with pytest.raises(kind) as info:
        call(cluster.producer())
    assert str(info.value).startswith(message)


def test_what_a_producer_cannot_send_counted_fails_with_kafkas_error() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=1, config={"auto.create.topics.enable": False})
    cluster.create_topic("t", partitions=1, replication_factor=1)
    producer = cluster.producer({"max.request.size": 10_000, "max.block.ms": 200})
    errors: list[Any] = []
    big = producer.send_counted("t", 3, 20_000, on_delivery=lambda md, e: errors.append((md, e)))
    with pytest.raises(MessageTooLargeError, match="The message is 20087 bytes when serialized which is larger than "
                                                   "10000, which is the value of the max.request.size configuration."):
        big.result()
    assert errors == [(None, big.exception())]
    with pytest.raises(KafkaTimeoutError, match="Topic tt not present in metadata after 200 ms; did you mean 't'?"):
        producer.send_counted("tt", 3, 10).result()
    txn = cluster.producer({"transactional.id": "tx"})
    with pytest.raises(ConfigError, match=r"send_counted\(\) cannot run in a transaction \(transactional.id='tx'\)"):
        txn.send_counted("t", 3, 10)
    producer.close()
    with pytest.raises(RuntimeError, match="Cannot perform operation after producer has been closed"):
        producer.send_counted("t", 3, 10)


@settings(max_examples=6, deadline=None)
@given(runs=st.lists(st.integers(1, 1_500), min_size=1, max_size=4), record_bytes=st.integers(0, 400),
       partitions=st.integers(1, 3), batch_size=st.sampled_from([1_024, 16_384, 100_000]))
def test_counted_and_real_runs_give_the_same_logs_and_the_consumer_sees_every_acknowledged_count_in_order(
        runs: list[int], record_bytes: int, partitions: int, batch_size: int) -> None:
    config = {"linger.ms": 3, "batch.size": batch_size}
    real = _run(False, runs, record_bytes, config, partitions=partitions, seed=4)
    cluster = kl.Cluster(brokers=3, controllers=1, seed=4, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=partitions, replication_factor=3)
    producer = cluster.producer(config)
    producer.send("t", value=b"warm-up").result()
    futures = []
    for n in runs:
        futures.append(producer.send_counted("t", n, record_bytes))
        cluster.run(2)
    producer.flush()
    cluster.run(50)
    assert (f"{tracer.digest()} {tracer.count}", _logs(cluster, "t", partitions)) == real
    acked: dict[int, list[tuple[int, int]]] = {}
    for f in futures:
        for md in f.result():
            acked.setdefault(md.partition, []).append((md.offset, md.records))
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", p) for p in range(partitions)])
    consumer.seek_to_beginning()
    read: dict[int, list[tuple[int, int]]] = {}
    for _ in range(50):
        for c in consumer.poll_counts(timeout_ms=50):
            read.setdefault(c.partition, []).append((c.first_offset, c.records))
        if sum(n for rs in read.values() for _, n in rs) >= sum(runs) + 1:
            break
    for p, parts in acked.items():
        # the consumer's ranges, minus the warm-up record, cover exactly the acknowledged ranges, in order
        got = [o for first, n in read[p] for o in range(first, first + n)]
        want = [o for first, n in sorted(parts) for o in range(first, first + n)]
        assert [o for o in got if o in set(want)] == want
        assert len(got) - len(want) <= 1


def test_idempotent_retries_under_message_loss_keep_the_trace_of_the_loop_and_write_each_record_once() -> None:
    """3% of messages lost: requests time out and are retried, some after the leader wrote them (the broker drops
    those as duplicates by their sequence). Counted runs do exactly what the loop of send does, and the logs hold
    every record once."""
    from kafkalab.sim.network import LinkSpec

    def run(counted: bool) -> tuple[Any, ...]:
        cluster = kl.Cluster(brokers=3, controllers=1, seed=9, network=LinkSpec(loss=0.03),
                             config={"min.insync.replicas": 2})
        tracer = Tracer(cluster.kernel)
        cluster.create_topic("t", partitions=2, replication_factor=3)
        producer = cluster.producer({"linger.ms": 2, "request.timeout.ms": 500, "delivery.timeout.ms": 120_000})
        producer.send("t", value=b"warm-up").result()
        futures: list[Any] = []
        for _ in range(30):
            if counted:
                futures.append(producer.send_counted("t", 200, 80))
            else:
                futures.extend(producer.send("t", value=bytes(80)) for _ in range(200))
            cluster.run(5)
        producer.flush()
        assert all(f.exception() is None for f in futures)
        metrics = producer.metrics()
        return (tracer.digest(), tracer.count, sum(cluster.describe_topic("t").high_watermark),
                metrics["retried_batches"], metrics["errors"])

    counted = run(True)
    assert counted == run(False)
    assert counted[2] == 30 * 200 + 1 and counted[3] > 0 and counted[4].get("REQUEST_TIMED_OUT", 0) > 0


def test_counted_and_real_sends_share_a_partition_in_separate_batches_and_only_real_sends_enter_the_history() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=8)
    cluster.create_topic("t", partitions=1, replication_factor=1)
    producer = cluster.producer({"linger.ms": 50})
    first = producer.send("t", value=b"a")
    run = producer.send_counted("t", 30, 10)          # closes the open batch of real records and starts its own
    last = producer.send("t", value=b"b")             # a counted batch takes no record: a new batch behind it
    producer.flush()
    assert (first.result().offset, [md.offset for md in run.result()], last.result().offset) == (0, [1], 31)
    log = cluster.broker(cluster.brokers[0]).rm.partition("t", 0).log
    assert [(type(b.rows).__name__, b.record_count) for b in log.batches()] == \
        [("RecordColumns", 1), ("CountedRecords", 30), ("RecordColumns", 1)]
    sends = [op for op in cluster.history if op.f == "send"]
    assert [(op.type, op.value) for op in sends] == [("invoke", b"a"), ("invoke", b"b"), ("ok", b"a"), ("ok", b"b")]
    # poll hands out the real record before the counted batch, then refuses; poll_counts reads the rest
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    assert [r.value for r in consumer.poll(timeout_ms=1_000)] == [b"a"]
    with pytest.raises(CountedRecordsError):
        consumer.poll(timeout_ms=0)
    assert [(c.records, c.first_offset, c.last_offset) for c in consumer.poll_counts(timeout_ms=0)] == [(31, 1, 31)]


def test_with_acks_0_a_counted_run_completes_when_sent_without_offsets() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=2)
    cluster.create_topic("t", partitions=2, replication_factor=1)
    producer = cluster.producer({"acks": "0", "enable.idempotence": False})
    parts = producer.send_counted("t", 500, 100, partition=1).result()
    assert sum(md.records for md in parts) == 500 and {md.offset for md in parts} == {-1}
    assert cluster.run_until(lambda: cluster.describe_topic("t").high_watermark[1] == 500, 1_000)


def test_the_coordinators_compacted_internal_topics_never_take_counted_records() -> None:
    cluster = kl.Cluster(brokers=1, controllers=1, seed=2)
    cluster.create_topic("t", partitions=1, replication_factor=1)
    consumer = cluster.consumer({"group.id": "g"})
    consumer.subscribe(["t"])
    consumer.poll(timeout_ms=2_000)                   # the group coordinator creates __consumer_offsets
    producer = cluster.producer({"retries": 0, "enable.idempotence": False})
    with pytest.raises(InvalidRecordError, match="Compacted topic cannot accept counted records"):
        producer.send_counted("__consumer_offsets", 3, 10, partition=0).result()

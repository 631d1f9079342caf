"""``send_many``'s batch-at-a-time path (:mod:`kafkalab.clients.bulk`) leaves what the loop of ``send`` leaves.

Each story runs the same workload twice, once with ``send_many`` and once with a loop of ``send``, and compares the
kernel trace, the history and every record's metadata; the stories pick the cases the bulk path handles apart: a
batch that fills to exactly ``batch.size``, batches opening mid-run, waits for ``buffer.memory``, a crash while a
send waits, keys None and keys of other types, and the lazily built futures.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import kafkalab as kl
from kafkalab.clients import KafkaProducer
from kafkalab.clients.bulk import BulkFutures
from kafkalab.clients.futures import ClientCrashedError, FutureRecordMetadata
from kafkalab.sim import Tracer

Send = Callable[[Any, list[Any], list[Any] | None], Any]


def _loop(producer: Any, values: list[Any], keys: list[Any] | None) -> list[Any]:
    return [producer.send("t", value, None if keys is None else keys[i]) for i, value in enumerate(values)]


def _bulk(producer: Any, values: list[Any], keys: list[Any] | None) -> Any:
    return producer.send_many("t", values, keys)


def _story(how: Send, values: list[Any], keys: list[Any] | None, producer_config: dict[str, Any], *,
           seed: int = 11, partitions: int = 3, crash_at_ms: float | None = None) -> dict[str, Any]:
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=partitions, replication_factor=3)
    producer = cluster.producer(producer_config)
    producer.send("t", b"warm-up", b"k").result()        # metadata known: the common case applies from the start
    if crash_at_ms is not None:
        cluster.kernel.schedule(crash_at_ms, lambda: cluster.crash(producer.node_id))
    error = None
    futures: Any = []
    try:
        futures = how(producer, values, keys)
    except ClientCrashedError as exc:
        error = str(exc)
    if error is None:
        producer.flush()
    outcomes = [(f.result().partition, f.result().offset) if error is None else f.done() for f in futures]
    batches = [len(batch.records) for core in producer.cores for batch in core.accumulator.incomplete]
    events = [(op.time_ms, op.process, op.type, op.f, op.partition, op.key, op.value, op.offset)
              for op in cluster.history]
    return {"trace": (tracer.digest(), tracer.count), "outcomes": outcomes, "events": events, "error": error,
            "open": batches, "sent": producer.metrics()["records_sent"] if error is None else None}


def _same(values: list[Any], keys: list[Any] | None, config: dict[str, Any], **kw: Any) -> dict[str, Any]:
    loop = _story(_loop, values, keys, config, **kw)
    bulk = _story(_bulk, values, keys, config, **kw)
    assert bulk == loop
    return loop


def test_batches_that_fill_to_exactly_batch_size_close_after_their_last_record() -> None:
    # key b"k" and 10-byte values: 18 bytes a record (offset deltas below 64), so 61 + 5 * 18 = 151 takes five
    values = [b"%010d" % i for i in range(400)]
    keys = [b"k"] * 400
    result = _same(values, keys, {"batch.size": 151, "linger.ms": 50})
    assert {offset % 5 for _, offset in result["outcomes"]} == {0, 1, 2, 3, 4}
    assert len(result["outcomes"]) == 400


def test_batches_open_mid_run_and_records_keep_their_order_per_partition() -> None:
    rng = random.Random(5)
    values = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))) for _ in range(2_500)]
    keys = [f"key-{rng.randrange(50)}".encode() for _ in range(2_500)]
    result = _same(values, keys, {"batch.size": 4_096, "linger.ms": 2})
    by_partition: dict[int, list[int]] = {}
    for partition, offset in result["outcomes"]:
        by_partition.setdefault(partition, []).append(offset)
    assert all(offsets == sorted(offsets) for offsets in by_partition.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_waiting_for_buffer_memory_mid_run_gives_the_loops_trace(seed: int) -> None:
    rng = random.Random(seed)
    n = 2_000
    values = [b"v" * rng.randrange(20, 200) for _ in range(n)]
    keys = [b"k%d" % rng.randrange(200) for _ in range(n)]
    config = {"batch.size": rng.choice([1_024, 2_048, 5_000]), "buffer.memory": 12_000, "linger.ms": rng.choice([0, 1, 5])}
    result = _same(values, keys, config, seed=seed, partitions=rng.choice([1, 4, 7]))
    assert len(result["outcomes"]) == n


def test_a_crash_while_send_many_waits_for_memory_raises_as_the_loop_does() -> None:
    values = [b"x" * 150] * 3_000
    keys = [b"k%d" % (i % 30) for i in range(3_000)]
    result = _same(values, keys, {"batch.size": 2_048, "buffer.memory": 8_192, "linger.ms": 1}, crash_at_ms=40)
    assert result["error"] is not None and "crashed" in result["error"]


def test_keys_none_and_keys_of_other_types_take_the_full_path_with_the_same_result() -> None:
    values: list[Any] = [b"value-%d" % i for i in range(600)]
    keys: list[Any] = [b"k%d" % (i % 13) for i in range(600)]
    for i in range(0, 600, 17):
        keys[i] = None
    for i in range(5, 600, 29):
        keys[i] = f"str-key-{i % 3}"
    for i in range(9, 600, 31):
        values[i] = f"str-value-{i}"
    _same(values, keys, {"linger.ms": 2, "batch.size": 1_000})
    _same([b"v%d" % i for i in range(300)], None, {"linger.ms": 2, "batch.size": 1_000})
    _same([b"one"], [b"k"], {})                             # a run of one record


def test_bulk_futures_are_a_sequence_of_the_futures_send_would_return() -> None:
    cluster = kl.Cluster(seed=4, config={"min.insync.replicas": 2})
    cluster.create_topic("t", partitions=3, replication_factor=3)
    producer = cluster.producer({"batch.size": 1_000, "linger.ms": 1})
    producer.send("t", b"warm-up", b"k").result()
    values = [b"value-%03d" % i for i in range(500)]
    keys: list[Any] = [b"k%d" % (i % 7) for i in range(500)]
    keys[250] = "a str key"                                 # one record through send(): an explicit future
    futures = producer.send_many("t", values, keys)
    assert isinstance(futures, BulkFutures)
    assert len(futures) == 500 and repr(futures) == "BulkFutures(500 futures)"
    assert futures._list is None                            # len() built nothing
    producer.flush()
    assert all(isinstance(f, FutureRecordMetadata) for f in futures)
    assert futures[-1] is futures[499] and futures[10:12] == [futures[10], futures[11]]
    assert futures == list(futures) and futures != [futures[0]]
    # the same metadata as send()'s futures would give: the records are in the log at those offsets, in order
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([("t", p) for p in range(3)])
    read: dict[tuple[int, int], bytes] = {}
    while len(read) < 501:
        for record in consumer.poll(100):
            read[(record.partition, record.offset)] = record.value
    for i, future in enumerate(futures):
        metadata = future.result()
        assert read[(metadata.partition, metadata.offset)] == values[i]


def test_records_larger_than_batch_size_and_a_batch_open_for_long_take_send_with_the_same_result() -> None:
    rng = random.Random(8)
    values = [b"y" * (3_000 if rng.random() < 0.1 else 40) for _ in range(800)]
    keys = [b"k%d" % rng.randrange(20) for _ in range(800)]
    _same(values, keys, {"batch.size": 1_000, "buffer.memory": 9_000, "linger.ms": 1})

    def in_two_parts(how: Send) -> Send:
        def inner(producer: Any, values: list[Any], keys: list[Any] | None) -> Any:
            first = list(how(producer, values[:50], None if keys is None else keys[:50]))
            producer._world.run(17_000)             # the open batches' timestamp deltas outgrow the fast sizing
            return first + list(how(producer, values[50:], None if keys is None else keys[50:]))
        return inner
    vals = [b"z" * 30 for _ in range(300)]
    ks = [b"k%d" % (i % 4) for i in range(300)]
    config = {"batch.size": 16_384, "linger.ms": 60_000, "delivery.timeout.ms": 200_000}
    assert _story(in_two_parts(_bulk), vals, ks, config) == _story(in_two_parts(_loop), vals, ks, config)


def test_a_producer_without_history_appends_in_bulk_with_op_ids_of_minus_one() -> None:
    def run(how: Send) -> tuple[Any, list[Any], list[Any]]:
        cluster = kl.Cluster(seed=2, config={"min.insync.replicas": 2})
        tracer = Tracer(cluster.kernel)
        cluster.create_topic("t", partitions=2, replication_factor=3)
        producer = KafkaProducer({"batch.size": 600, "linger.ms": 1}, world=cluster, bootstrap=list(cluster.brokers),
                                 node_id="bare-producer", history=None)
        producer.send("t", b"warm-up", b"k").result()
        futures = how(producer, [b"v%d" % i for i in range(400)], [b"k%d" % (i % 9) for i in range(400)])
        ops = [list(batch.ops) for batch in producer.core.accumulator.incomplete]
        producer.flush()
        return (tracer.digest(), tracer.count), [(f.result().partition, f.result().offset) for f in futures], ops
    bulk = run(_bulk)
    assert bulk == run(_loop)
    assert {op for ops in bulk[2] for op in ops} <= {-1}


def bulk_digest() -> str:
    """A send_many run that waits for memory and fills batches exactly: its trace, history and metadata in a line."""
    rng = random.Random(21)
    values = [b"v" * rng.choice([10, 10, 10, 90]) for _ in range(1_500)]
    keys = [b"key-%d" % rng.randrange(40) for _ in range(1_500)]
    result = _story(_bulk, values, keys, {"batch.size": 600, "buffer.memory": 4_000, "linger.ms": 1}, partitions=5)
    return f"{result['trace']} {hash(tuple(result['outcomes']))} {len(result['events'])}"


def test_send_many_is_deterministic_across_hash_seeds() -> None:
    code = "from tests.clients.test_send_many_bulk import bulk_digest; print(bulk_digest())"
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "777")]
    assert outs[0] == outs[1] == bulk_digest()

"""``KafkaProducer.send_many`` is the loop of ``send``: the same records, history and event trace, at less cost."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import kafkalab as kl
from kafkalab.sim import Tracer


def _run(seed: int, how: Callable[[Any, list[bytes], list[bytes] | None], list[Any]], keyed: bool,
         producer_config: dict[str, Any]) -> tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=4, replication_factor=3)
    producer = cluster.producer(producer_config)
    values = [f"value-{i:05d}".encode() * 3 for i in range(3_000)]
    keys = [f"k{i % 37}".encode() for i in range(3_000)] if keyed else None
    futures = how(producer, values, keys)
    producer.flush()
    metadata = [(f.result().partition, f.result().offset) for f in futures]
    events = [(op.time_ms, op.process, op.type, op.f, op.partition, op.key, op.value, op.offset)
              for op in cluster.history]
    return f"{tracer.digest()} {tracer.count}", metadata, events


def _loop(producer: Any, values: list[bytes], keys: list[bytes] | None) -> list[Any]:
    return [producer.send("t", value, None if keys is None else keys[i]) for i, value in enumerate(values)]


def _bulk(producer: Any, values: list[bytes], keys: list[bytes] | None) -> list[Any]:
    return producer.send_many("t", values, keys)


@pytest.mark.parametrize("keyed", [True, False])
def test_send_many_gives_the_trace_and_history_of_the_loop_of_send(keyed: bool) -> None:
    config = {"linger.ms": 3}
    assert _run(7, _bulk, keyed, config) == _run(7, _loop, keyed, config)


def test_send_many_blocking_on_buffer_memory_gives_the_trace_of_the_loop() -> None:
    # 64 KB of buffer.memory holds four 16 KB batches: sends block (the simulation runs) many times
    config = {"buffer.memory": 65_536, "linger.ms": 1}
    loop = _run(3, _loop, True, config)
    assert _run(3, _bulk, True, config) == loop
    assert len(loop[1]) == 3_000


def test_send_many_refuses_bad_arguments_with_what_was_expected() -> None:
    cluster = kl.Cluster(seed=1)
    producer = cluster.producer()
    with pytest.raises(TypeError, match=r"values must be a sequence \(list or tuple\) of record values, got bytes"):
        producer.send_many("t", b"abc")
    with pytest.raises(TypeError, match=r"keys must be None or a sequence .* got generator"):
        producer.send_many("t", [b"a"], (k for k in [b"k"]))
    with pytest.raises(ValueError, match="keys must have one key per value: got 1 keys for 2 values"):
        producer.send_many("t", [b"a", b"b"], [b"k"])
    with pytest.raises(TypeError, match="topic must be a str, got int 5"):
        producer.send_many(5, [b"a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topic must be a non-empty str, got ''"):
        producer.send_many("", [b"a"])
    with pytest.raises(TypeError, match="record value must be bytes, str"):
        producer.send_many("t", [b"a", 3.5])
    assert producer.send_many("t", []) == []


def test_send_many_with_records_off_the_common_case_gives_the_trace_of_the_loop() -> None:
    # str values and keys, a None key and an oversized value interleave send()'s full path with the bulk one
    def mixed(how: Callable[[Any, list[Any], list[Any] | None], list[Any]]) -> Any:
        def inner(producer: Any, values: list[bytes], keys: list[bytes] | None) -> list[Any]:
            assert keys is not None
            vals: list[Any] = list(values)
            ks: list[Any] = list(keys)
            for i in range(0, len(vals), 7):
                vals[i] = vals[i].decode()
            for i in range(3, len(ks), 11):
                ks[i] = None if i % 2 else ks[i].decode()
            vals[100] = b"x" * 20_000
            return how(producer, vals, ks)
        return inner
    config = {"linger.ms": 2}
    assert _run(5, mixed(_bulk), True, config) == _run(5, mixed(_loop), True, config)

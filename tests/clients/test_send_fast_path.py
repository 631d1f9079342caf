"""``KafkaProducer.send``'s one-frame common case (issue 14) does what the full path does: the same records, history,
metadata and event trace. ``headers=[]`` means no headers but takes the full path, so it is the reference."""
from __future__ import annotations

from typing import Any

import pytest

import kafkalab as kl
from kafkalab.sim import Tracer


def _run(seed: int, full: bool, producer_config: dict[str, Any]) -> tuple[Any, ...]:
    cluster = kl.Cluster(seed=seed, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=4, replication_factor=3)
    producer = cluster.producer(producer_config)
    futures = []
    for i in range(3_000):
        key, value = f"k{i % 37}".encode(), f"value-{i:05d}".encode() * (1 + i % 5)
        futures.append(producer.send("t", value, key, headers=[] if full else None))
        if i % 500 == 499:
            cluster.run(2)            # time passes between bursts: new batches, new timestamps
    producer.flush()
    metadata = [f.result() for f in futures]
    frame = cluster.history.to_frame()
    return f"{tracer.digest()} {tracer.count}", metadata, list(cluster.history.ops), frame.to_csv()


@pytest.mark.parametrize("config", [{"linger.ms": 3}, {"buffer.memory": 65_536, "linger.ms": 1},
                                    {"batch.size": 1_000}])
def test_the_fast_path_of_send_gives_the_trace_and_history_of_the_full_path(config: dict[str, Any]) -> None:
    fast = _run(5, False, config)
    assert fast == _run(5, True, config)
    assert len(fast[1]) == 3_000 and all(m.offset >= 0 for m in fast[1])

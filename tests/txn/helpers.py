"""Shared set-up of the transaction scenario tests."""
from __future__ import annotations

from typing import Any

import kafkalab as kl


def cluster(seed: int = 1, tv: int | None = None, brokers: int = 3, **config: Any) -> kl.Cluster:
    cfg: dict[str, Any] = dict(config)
    if tv is not None:
        cfg["transaction.version"] = tv
    c = kl.Cluster(brokers=brokers, controllers=1, seed=seed, config=cfg or None)
    c.create_topic("out", partitions=2, replication_factor=min(3, brokers))
    return c


def read_all(c: kl.Cluster, isolation: str, group: str, rounds: int = 12) -> list[bytes]:
    consumer = c.consumer({"group.id": group, "auto.offset.reset": "earliest", "isolation.level": isolation})
    consumer.subscribe(["out"])
    got: list[bytes] = []
    for _ in range(rounds):
        got += [r.value for r in consumer.poll(timeout_ms=500)]
    consumer.close()
    return sorted(got)


def lso(c: kl.Cluster) -> list[int]:
    return [int(x) for x in c.describe_topic("out")["last_stable_offset"]]


def hw(c: kl.Cluster) -> list[int]:
    return [int(x) for x in c.describe_topic("out")["high_watermark"]]

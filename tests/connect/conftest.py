"""Shared setup of the Connect tests: a 3-broker cluster with a Connect cluster on it."""
from __future__ import annotations

import collections
from typing import Any

import kafkalab as kl


def start(workers: int = 3, seed: int = 0, config: dict[str, Any] | None = None, topics: dict[str, int] | None = None,
          brokers: int = 3) -> tuple[kl.Cluster, Any]:
    cluster = kl.Cluster(brokers=brokers, seed=seed)
    for name, partitions in (topics or {}).items():
        cluster.create_topic(name, partitions=partitions)
    connect = cluster.connect(workers=workers, config=config)
    connect.observer.keep = True
    return cluster, connect


def acked_counts(connect: Any, field: str = "orderid") -> collections.Counter:
    """How many times each source record (by a value field) was acknowledged by Kafka."""
    return collections.Counter(v[field] if isinstance(v, dict) else v for *_, v in connect.observer.source_acks)


def put_counts(connect: Any, field: str = "orderid") -> collections.Counter:
    return collections.Counter(v[field] if isinstance(v, dict) else v for *_, v in connect.observer.sink_puts)


def owner_of(connect: Any, item: str) -> str:
    return next(w for w, running in connect.assignments().items() if item in running)

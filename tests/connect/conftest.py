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


def topic_counts(cluster: kl.Cluster, topic: str, field: str = "orderid") -> collections.Counter:
    """How many times each record (by a value field) is in ``topic`` as a read_committed consumer sees it."""
    import json
    consumer = cluster.consumer({"isolation.level": "read_committed", "auto.offset.reset": "earliest",
                                 "enable.auto.commit": False})
    partitions = int(cluster.describe_topic(topic).shape[0])
    consumer.assign([kl.TopicPartition(topic, p) for p in range(partitions)])
    out: collections.Counter = collections.Counter()
    idle = 0
    while idle < 3:
        records = consumer.poll(500)
        idle = 0 if records else idle + 1
        for r in records:
            value = json.loads(r.value)
            value = value.get("payload", value)
            out[value[field] if isinstance(value, dict) else value] += 1
    consumer.close()
    return out

"""Functions the sweep tests run (importable by Dask worker processes)."""
from __future__ import annotations

import kafkalab as kl


def tiny_run(records: int, acks: str, seed: int) -> dict:
    """A small real run: a 1-broker cluster, some sends, one poll loop; a row drawn from the seed's trace."""
    cluster = kl.Cluster(brokers=1, controllers=1, seed=seed)
    cluster.create_topic("t", partitions=2, replication_factor=1)
    producer = cluster.producer({"acks": acks, "linger.ms": 1})
    for i in range(records):
        producer.send("t", value=f"{seed}-{i}", key=f"k{i % 3}")
    producer.flush()
    return {"virtual_ms": cluster.now, "events": len(cluster.history), "verdict_acked":
            sum(1 for o in cluster.history.ops if o.type == "ok" and o.f == "send")}


def rows_run(n: int, seed: int) -> list[dict]:
    """Several rows per run, deterministic in (n, seed)."""
    return [{"i": i, "x": (seed * 31 + i * 7 + n) % 11} for i in range(n)]

"""Kafka Streams experiments: the runs notebook 09 and ``benchmarks/streams.py`` make (word count, windowed orders,
an instance crash with and without a standby, at-least-once against exactly-once).

How it works. Each function builds a small cluster (3 brokers, 1 controller) from ``seed``, starts a
:mod:`kafkalab.streams` app with ``cluster.streams``, produces its input at a steady pace in virtual time (with
explicit event timestamps where windows matter), applies the crash it is asked for, lets the app settle, and reads
the whole output topic back with a fresh consumer (``read_committed`` for exactly-once runs). It returns plain
dicts and DataFrames: the outputs, a Python reference computed from the same input, and what the app recorded
(restorations, metrics). Nothing here reads the wall clock except :func:`timed`, which the benchmark uses.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.streams.serdes import serde

__all__ = ["word_count_topology", "windowed_count_topology", "word_count", "windowed_orders", "failover",
           "guarantee_after_crash", "restore_time", "read_topic", "timed", "QUICKSTART_LINES"]

#: the input lines of Kafka's Streams quickstart (docs/streams/quickstart.html)
QUICKSTART_LINES = ("all streams lead to kafka", "hello kafka streams", "join kafka summit")
STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}
_FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def word_count_topology(lowercase: bool = True) -> ks.Topology:
    """Kafka's WordCountDemo: split lines into words, group by word, count, write the counts."""
    b = ks.StreamsBuilder()
    (b.stream("streams-plaintext-input")
     .flat_map_values(lambda line: (line.lower() if lowercase else line).split())
     .group_by(lambda k, word: word)
     .count(materialized="counts")
     .to_stream().to("streams-wordcount-output", value_serde="long"))
    return b.build()


def windowed_count_topology(size_ms: int, grace_ms: int) -> ks.Topology:
    """Orders per customer in tumbling windows; output keys ``customer@window-start``."""
    b = ks.StreamsBuilder()
    (b.stream("orders").group_by_key()
     .windowed_by(ks.TimeWindows.of_size_and_grace(size_ms, grace_ms))
     .count(materialized="orders-per-window")
     .to_stream().map(lambda w, n: (f"{w.key}@{w.window.start}", n)).to("order-counts", value_serde="long"))
    return b.build()


def read_topic(cluster: kl.Cluster, topic: str, partitions: int, *, value_serde: str = "long",
               read_committed: bool = False) -> list[tuple[str | None, Any]]:
    """Every record of ``topic`` as (key, value), partition by partition, with a fresh consumer."""
    consumer = cluster.consumer({"auto.offset.reset": "earliest",
                                 "isolation.level": "read_committed" if read_committed else "read_uncommitted"})
    consumer.assign([kl.TopicPartition(topic, p) for p in range(partitions)])
    vs = serde(value_serde)
    out: list[tuple[str | None, Any]] = []
    while batch := consumer.poll(2000):
        out.extend((r.key.decode() if r.key is not None else None, vs.deserialize(r.value)) for r in batch)
    consumer.close()
    return out


def _start(cluster: kl.Cluster, topology: ks.Topology, config: dict[str, Any], instances: int) -> Any:
    app = cluster.streams(topology, {**STRINGS, **_FAST_GROUP, **config}, instances=instances)
    if not cluster.run_until(lambda: app.state() == "RUNNING", 60_000):
        raise RuntimeError(f"the app did not reach RUNNING: {app.state()}")
    return app


def word_count(lines: list[str] | tuple[str, ...], seed: int = 0, *, instances: int = 1, partitions: int = 1,
               config: dict[str, Any] | None = None, pace_ms: float = 20.0, settle_ms: float = 5_000) -> dict[str, Any]:
    """Word count over ``lines`` (one every ``pace_ms``); returns outputs, reference, cluster and app."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("streams-plaintext-input", partitions=partitions)
    cluster.create_topic("streams-wordcount-output", partitions=partitions)
    app = _start(cluster, word_count_topology(), {"application.id": "streams-wordcount", **(config or {})},
                 instances)
    producer = cluster.producer({"linger.ms": 0})
    reference: dict[str, int] = {}
    for i, line in enumerate(lines):
        for w in line.lower().split():
            reference[w] = reference.get(w, 0) + 1
        producer.send("streams-plaintext-input", key=f"l{i}", value=line)
        cluster.run(pace_ms)
    producer.flush()
    cluster.run(settle_ms)
    outputs = read_topic(cluster, "streams-wordcount-output", partitions)
    return {"cluster": cluster, "app": app, "outputs": outputs, "reference": reference}


def orders(n: int, seed: int, start_ms: int, *, customers: int = 4, spacing_ms: int = 250, late_every: int = 6,
           late_ms: int = 12_000) -> list[tuple[str, int]]:
    """(customer, event time): one order every ``spacing_ms``; every ``late_every``-th is up to ``late_ms`` late."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = start_ms + i * spacing_ms
        if i % late_every == late_every - 1:
            t -= rng.randrange(0, late_ms)
        out.append((f"customer-{rng.randrange(customers)}", t))
    return out


def windowed_reference(records: list[tuple[str, int]], size_ms: int, grace_ms: int, partitions: int
                       ) -> tuple[dict[str, int], int]:
    """Counts per ``customer@window-start`` and the late records dropped, with one stream time per partition (a
    task's stream time), as Kafka's window aggregation decides."""
    from kafkalab.clients.partitioner import partition_for_key
    counts: dict[str, int] = {}
    stream_time: dict[int, int] = {}
    dropped = 0
    for key, t in records:
        p = partition_for_key(key.encode(), partitions)
        stream_time[p] = max(stream_time.get(p, -1), t)
        start = t // size_ms * size_ms
        if start + size_ms <= stream_time[p] - grace_ms:
            dropped += 1
            continue
        counts[f"{key}@{start}"] = counts.get(f"{key}@{start}", 0) + 1
    return counts, dropped


def windowed_orders(n: int = 240, seed: int = 0, *, size_ms: int = 10_000, grace_ms: int = 2_000,
                    partitions: int = 2, instances: int = 2, config: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
    """Orders counted per customer in tumbling windows with grace; some orders arrive late."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("orders", partitions=partitions)
    cluster.create_topic("order-counts", partitions=partitions)
    app = _start(cluster, windowed_count_topology(size_ms, grace_ms),
                 {"application.id": "orders-per-window", "commit.interval.ms": 1000, **(config or {})}, instances)
    producer = cluster.producer({"linger.ms": 0})
    start = int(cluster.now) + 1_000_000
    records = orders(n, seed, start)
    for key, t in records:
        producer.send("orders", key=key, value="order", timestamp_ms=t)
        cluster.run(10)
    producer.flush()
    cluster.run(10_000)
    reference, dropped = windowed_reference(records, size_ms, grace_ms, partitions)
    outputs = read_topic(cluster, "order-counts", partitions)
    m = cluster.metrics()
    return {"cluster": cluster, "app": app, "records": records, "outputs": outputs, "reference": reference,
            "reference_dropped": dropped, "start_ms": start,
            "dropped": int(m[m.metric == "streams.dropped_records"].value.sum())}


def failover(state_keys: int, standbys: int, seed: int = 0, *, lines: int = 1_500, crash_after_ms: float = 15_000
             ) -> dict[str, Any]:
    """Word count over ``state_keys`` distinct words on 2 instances; instance 1 crashes after ``crash_after_ms``
    of input and never returns. Returns how long the survivor took to restore the moved tasks (virtual ms, the
    largest restoration), the downtime (crash to the end of the last restoration: the session timeout, the
    rebalance and the restoration), how many changelog records it replayed, and whether no count was lost."""
    words = [f"w{i:06d}" for i in range(state_keys)]
    rng = random.Random(seed)
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("streams-plaintext-input", partitions=4)
    cluster.create_topic("streams-wordcount-output", partitions=4)
    app = _start(cluster, word_count_topology(), {"application.id": "wc-failover", "commit.interval.ms": 500,
                                                  "num.standby.replicas": standbys}, 2)
    producer = cluster.producer({"linger.ms": 5})
    reference: dict[str, int] = {}
    begin = cluster.now
    crashed = False
    crash_ms = float("inf")
    for i in range(lines):
        line = " ".join(rng.choice(words) for _ in range(3))
        for w in line.split():
            reference[w] = reference.get(w, 0) + 1
        producer.send("streams-plaintext-input", key=f"l{i}", value=line)
        cluster.run(10)
        if not crashed and cluster.now - begin >= crash_after_ms:
            crash_ms = cluster.now
            cluster.crash(app.instances[0])
            crashed = True
    producer.flush()
    cluster.run(40_000)
    r = app.restorations()
    moved = r[(r.instance == app.instances[1]) & (r.start_ms >= crash_ms)]
    store = app.store("counts").to_dict()
    return {"state_keys": state_keys, "standbys": standbys, "restorations": len(moved),
            "restore_ms": float((moved.end_ms - moved.start_ms).max()) if len(moved) else 0.0,
            "downtime_ms": float(moved.end_ms.max() - crash_ms) if len(moved) else float("nan"),
            "restored_records": int(moved.records.sum()) if len(moved) else 0,
            "no_loss": all(store.get(k, 0) >= n for k, n in reference.items())}


def restore_time(state_keys: int, standbys: int, seed: int = 0) -> dict[str, Any]:
    """Word count over ``state_keys`` distinct words (each about twice) on 2 instances; once the input is processed
    and committed, instance 1 crashes. Measures the survivor's restoration of the moved tasks: changelog records
    replayed, virtual ms from the start of the first to the end of the last restoration, the downtime (crash to
    end of restoration, virtual ms), and the wall seconds the simulation took from the crash until then."""
    rng = random.Random(seed)
    words = [f"w{i:07d}" for i in range(state_keys)]
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("streams-plaintext-input", partitions=4)
    cluster.create_topic("streams-wordcount-output", partitions=4)
    app = _start(cluster, word_count_topology(), {"application.id": "wc-restore", "commit.interval.ms": 500,
                                                  "num.standby.replicas": standbys}, 2)
    producer = cluster.producer({"linger.ms": 20})
    n_lines = max(1, (2 * state_keys) // 5)
    for i in range(n_lines):
        producer.send("streams-plaintext-input", key=f"l{i}", value=" ".join(rng.choice(words) for _ in range(5)))
        if i % 200 == 199:
            cluster.run(20)
    producer.flush()
    cluster.run_until(lambda: app.processed() >= 2 * 5 * n_lines, 300_000)
    cluster.run(3_000)
    crash_ms = cluster.now
    before = app.restoration_count()
    cluster.crash(app.instances[0])
    survivor = app.instances[1]
    (_, wall_s) = timed(cluster.run_until, lambda: app.restoration_count() > before and app.state() == "RUNNING",
                        120_000)
    r = app.restorations()
    moved = r[(r.instance == survivor) & (r.start_ms >= crash_ms)]
    return {"state_keys": state_keys, "standbys": standbys, "restored_records": int(moved.records.sum()),
            "restore_ms": float(moved.end_ms.max() - moved.start_ms.min()),
            "downtime_ms": float(moved.end_ms.max() - crash_ms), "wall_s": wall_s}


def guarantee_after_crash(guarantee: str, seed: int = 0, *, lines: int = 250, crash_at_ms: float = 2_500,
                          restart_after_ms: float | None = None) -> dict[str, Any]:
    """Word count with the record cache off (one output per word) on 2 instances under ``guarantee``; instance 1
    crashes ``crash_at_ms`` into the input (between two commits, so with work not yet committed). Counts the output
    records a ``read_committed`` reader sees beyond one per word: the duplicates."""
    rng = random.Random(seed)
    words = [f"w{i:02d}" for i in range(40)]
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("streams-plaintext-input", partitions=4)
    cluster.create_topic("streams-wordcount-output", partitions=4)
    config = {"application.id": "wc-guarantee", "processing.guarantee": guarantee, "commit.interval.ms": 1000,
              "statestore.cache.max.bytes": 0}
    app = _start(cluster, word_count_topology(), config, 2)
    producer = cluster.producer({"linger.ms": 5})
    reference: dict[str, int] = {}
    begin = cluster.now
    crashed = False
    for i in range(lines):
        line = " ".join(rng.choice(words) for _ in range(3))
        for w in line.split():
            reference[w] = reference.get(w, 0) + 1
        producer.send("streams-plaintext-input", key=f"l{i}", value=line)
        cluster.run(20)
        if not crashed and cluster.now - begin >= crash_at_ms:
            node = app.instances[0]
            cluster.crash(node)
            if restart_after_ms is not None:
                cluster.kernel.schedule(restart_after_ms, lambda n=node: cluster.restart(n))
            crashed = True
    producer.flush()
    cluster.run(40_000)
    outputs = read_topic(cluster, "streams-wordcount-output", 4, read_committed=True)
    last: dict[str | None, int] = {}
    for k, v in outputs:
        last[k] = v
    words_in = sum(reference.values())
    return {"guarantee": guarantee, "words": words_in, "outputs": len(outputs), "duplicates": len(outputs) - words_in,
            "final_counts_exact": last == reference, "store_exact": app.store("counts").to_dict() == reference}


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in seconds (for benchmarks only)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame (the notebook's and the benchmark's tables)."""
    return pd.DataFrame(rows)

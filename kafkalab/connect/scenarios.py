"""Connect experiments the notebook and the benchmark run: a worker crash and what each rebalance protocol does with
its tasks (KIP-415), duplicates after a crash with and without exactly-once sources (KIP-618), records per wall
second through source, topic and sink, and rebalance time after a worker joins or leaves.

How it works. Each function builds its own :class:`~kafkalab.cluster.Cluster` from ``seed`` and a Connect cluster on
it, drives it with the public API (``cluster.crash``/``restart``, ``connect.create_connector``, a read_committed
consumer) and returns plain numbers or a tidy DataFrame; nothing here is protocol logic. Virtual times are the
simulation's; wall times (``time.perf_counter``) are measurements of this process, returned separately and never
fed back into a run, so every run stays a function of its arguments.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pandas as pd

__all__ = ["crash_timeline", "duplicates_after_crash", "throughput", "join_and_leave", "read_committed_counts"]


def _start(seed: int, config: dict[str, Any], workers: int = 3, topics: dict[str, int] | None = None
           ) -> tuple[Any, Any]:
    from kafkalab.cluster import Cluster
    cluster = Cluster(brokers=3, seed=seed)
    for name, partitions in (topics or {}).items():
        cluster.create_topic(name, partitions=partitions)
    connect = cluster.connect(workers=workers, config=config)
    return cluster, connect


def _items(connect: Any) -> dict[str, str]:
    """item (connector or ``name-n`` task) -> worker running it now."""
    return {item: w for w, items in connect.assignments().items() for item in items}


def crash_timeline(protocol: str = "sessioned", delay_ms: int = 300_000, *, seed: int = 0, tasks: int = 6,
                   sample_ms: float = 1_000.0, horizon_ms: float | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Crash the worker running task 0 of a ``tasks``-task source connector and sample, every ``sample_ms``, how many
    of its tasks each worker runs. Returns the timeline (``time_s`` since the crash, ``worker``, ``tasks``) and a
    summary: the tasks lost, seconds until every task runs again, and how many tasks the surviving workers stopped
    meanwhile (eager stops all of theirs at every rebalance; cooperative ones keep theirs)."""
    config = {"connect.protocol": protocol, "scheduled.rebalance.max.delay.ms": delay_ms}
    cluster, connect = _start(seed, config, topics={"orders": 3})
    connect.create_connector("gen", {"connector.class": "DatagenSource", "kafka.topic": "orders",
                                     "max.interval": 1_000, "iterations": -1, "tasks.max": tasks})
    if not connect.wait_until_running("gen", tasks=tasks):
        raise RuntimeError(f"the connector's {tasks} tasks did not start (seed={seed})")
    cluster.run(5_000)
    items = _items(connect)
    victim = items["gen-0"]
    survivors = [w for w in connect.workers if w != victim]
    lost = sorted(i for i, w in items.items() if w == victim and i.startswith("gen-"))
    stopped_before = sum(connect.worker(w).tasks_stopped for w in survivors)
    crashed_at = cluster.now
    cluster.crash(victim)
    horizon = horizon_ms if horizon_ms is not None else delay_ms + 60_000.0
    rows: list[dict[str, Any]] = []
    back_at: float | None = None
    while cluster.now - crashed_at < horizon:
        cluster.run(sample_ms)
        now_items = _items(connect)
        t = round((cluster.now - crashed_at) / 1000.0, 3)
        for w in connect.workers:
            rows.append({"time_s": t, "worker": w,
                         "tasks": sum(1 for i, ow in now_items.items() if ow == w and i.startswith("gen-"))})
        if back_at is None and all(i in now_items for i in lost):
            back_at = cluster.now
            horizon = min(horizon, back_at - crashed_at + 20_000.0)
    summary = {"protocol": protocol, "delay_ms": delay_ms, "tasks_lost": len(lost),
               "reassigned_after_s": None if back_at is None else round((back_at - crashed_at) / 1000.0, 1),
               "survivor_tasks_stopped": sum(connect.worker(w).tasks_stopped for w in survivors) - stopped_before}
    return pd.DataFrame(rows, columns=["time_s", "worker", "tasks"]), summary


def read_committed_counts(cluster: Any, topic: str, field: str) -> Counter[Any]:
    """How many times each record (by a field of its JSON value) is in ``topic``, read with read_committed."""
    from kafkalab.common.topic_partition import TopicPartition
    consumer = cluster.consumer({"isolation.level": "read_committed", "auto.offset.reset": "earliest",
                                 "enable.auto.commit": False})
    partitions = int(cluster.describe_topic(topic).shape[0])
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    out: Counter[Any] = Counter()
    idle = 0
    while idle < 3:
        records = consumer.poll(500)
        idle = 0 if records else idle + 1
        for r in records:
            value = json.loads(r.value)
            value = value.get("payload", value) if isinstance(value, dict) else value
            out[value[field] if isinstance(value, dict) else value] += 1
    consumer.close()
    return out


def duplicates_after_crash(exactly_once: bool, *, seed: int = 0, records: int = 300,
                           crash_after: int = 120) -> dict[str, Any]:
    """Datagen (2 tasks, ``records`` in all) with ``offset.flush.interval.ms`` 10 s; the worker running task 0
    crashes once ``crash_after`` records were acknowledged. Counts what a read_committed consumer of the topic sees:
    at-least-once re-delivers what was produced since the last offset flush, exactly-once sources nothing."""
    config = {"scheduled.rebalance.max.delay.ms": 0, "offset.flush.interval.ms": 10_000,
              "exactly.once.source.support": "enabled" if exactly_once else "disabled"}
    cluster, connect = _start(seed, config, topics={"orders": 3})
    connect.observer.keep = True
    connect.create_connector("gen", {"connector.class": "DatagenSource", "kafka.topic": "orders",
                                     "max.interval": 50, "iterations": records, "tasks.max": 2})
    acks = connect.observer.source_acks
    if not cluster.run_until(lambda: len(acks) >= crash_after, 120_000):
        raise RuntimeError(f"only {len(acks)} records were acknowledged (seed={seed})")
    victim = _items(connect)["gen-0"]
    cluster.crash(victim)

    def all_acked() -> bool:
        return len({v["orderid"] for *_, v in acks}) >= records
    cluster.run_until(all_acked, 240_000)
    cluster.run(3_000)
    counts = read_committed_counts(cluster, "orders", "orderid")
    return {"mode": "exactly-once" if exactly_once else "at-least-once", "records": records,
            "distinct": len(counts), "in_topic": sum(counts.values()),
            "duplicates": sum(n - 1 for n in counts.values()), "missing": records - len(counts)}


def throughput(records: int = 20_000, *, seed: int = 0, tasks: int = 2, interval_ms: int = 1) -> dict[str, Any]:
    """Datagen (``tasks`` tasks, a record every ``interval_ms`` each) -> a 3-partition topic -> FileStreamSink to
    /dev/null: records per wall second from the connector's creation until the sink has put every record."""
    cluster, connect = _start(seed, {"scheduled.rebalance.max.delay.ms": 0}, topics={"orders": 3})
    connect.observer.keep = True
    connect.create_connector("snk", {"connector.class": "FileStreamSink", "file": "/dev/null", "topics": "orders"})
    connect.wait_until_running("snk")
    puts = connect.observer.sink_puts
    # wall time only for the benchmark table; nothing in the simulation reads it
    wall0, virtual0, events0 = time.perf_counter(), cluster.now, cluster.kernel.events_processed
    connect.create_connector("gen", {"connector.class": "DatagenSource", "kafka.topic": "orders",
                                     "max.interval": interval_ms, "iterations": records, "tasks.max": tasks})
    done = cluster.run_until(lambda: len(puts) >= records, 600_000)
    wall = time.perf_counter() - wall0
    first = next((t for t, *_ in connect.observer.source_acks), cluster.now)
    return {"records": records, "done": done, "wall_s": round(wall, 2),
            "virtual_s": round((cluster.now - virtual0) / 1000.0, 2),
            "virtual_streaming_s": round((cluster.now - first) / 1000.0, 2),
            "records_per_wall_s": round(records / wall, 1), "events": cluster.kernel.events_processed - events0}


def join_and_leave(connectors: int = 20, tasks: int = 4, *, seed: int = 0, workers: int = 3,
                   protocol: str = "sessioned") -> dict[str, Any]:
    """``connectors`` x ``tasks`` idle source tasks on ``workers`` workers, one more worker down at first. It joins
    (restarted): virtual and wall time until the assignment is balanced again; then it leaves (crashed, with
    ``scheduled.rebalance.max.delay.ms=0``): time until every task runs again (including the 10 s session timeout
    that notices it)."""
    config = {"scheduled.rebalance.max.delay.ms": 0, "connect.protocol": protocol}
    cluster, connect = _start(seed, config, workers=workers + 1, topics={"orders": 3})
    extra = connect.workers[-1]
    cluster.crash(extra)
    cluster.run(15_000)                 # the group notices (session timeout) before the connectors come
    for c in range(connectors):
        connect.create_connector(f"c{c}", {"connector.class": "DatagenSource", "kafka.topic": "orders",
                                           "max.interval": 3_600_000, "iterations": -1, "tasks.max": tasks})
    wanted = connectors * (tasks + 1)

    def balanced(n_workers: int) -> bool:
        """Every connector and task runs, on ``n_workers`` workers, connectors and tasks each spread within one
        (the assignor balances the two separately)."""
        items = _items(connect)
        if len(items) != wanted or len(set(items.values())) != n_workers:
            return False
        for is_task in (False, True):
            counts = Counter(w for i, w in items.items() if ("-" in i) == is_task)
            per = [counts.get(w, 0) for w in set(items.values())]
            if max(per) - min(per) > 1:
                return False
        return True
    if not cluster.run_until(lambda: balanced(workers), 300_000):
        raise RuntimeError(f"{connectors} connectors x {tasks} tasks did not start (seed={seed})")
    cluster.run(5_000)
    out: dict[str, Any] = {"connectors": connectors, "tasks": connectors * tasks, "workers": workers}
    for what, act, n in (("join", cluster.restart, workers + 1), ("leave", cluster.crash, workers)):
        wall0, v0 = time.perf_counter(), cluster.now          # wall time for the benchmark table only
        act(extra)
        ok = cluster.run_until(lambda n=n: balanced(n), 300_000)
        out[f"{what}_virtual_s"] = round((cluster.now - v0) / 1000.0, 2) if ok else None
        out[f"{what}_wall_s"] = round(time.perf_counter() - wall0, 2)
        cluster.run(5_000)
    return out

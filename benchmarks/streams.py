"""Benchmark: Kafka Streams in the simulation, wall-clock cost.

1. Records per wall second through two apps on 2 instances (one stream thread each, 4 partitions, 3 brokers):
   word count (lines of 5 words: flat_map_values, a repartition, a count with its changelog) and a windowed
   aggregation (orders counted per customer in 10-second tumbling windows with 2 s grace). The input is produced
   first, then the apps process it; "records" are input records, "processed" what the stream threads processed
   (words through the repartition topic count too), timed from the first record to the last one processed.
2. Restoration against state size, with 0 and 1 standbys: word count over N distinct words; once everything is
   committed one instance crashes. Virtual ms: restoring (start of the first to end of the last restoration on the
   survivor) and the whole downtime (crash to running again: session timeout, rebalance, restoration); wall seconds
   the simulation took for that downtime.

Prints a table, then one JSON line: {"benchmark": "streams", "wordcount_records_per_s": ..., ...}. ``--lines``,
``--orders`` and ``--sizes`` scale it. Wall-clock reads are fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import kafkalab as kl
from kafkalab.experiments import streams as xs

STRINGS = {"default.key.serde": "string", "default.value.serde": "string", "session.timeout.ms": 6000,
           "heartbeat.interval.ms": 1000}


def _through(topology: Any, topic: str, records: list[tuple[str, str, int | None]], app_id: str, expect: int
             ) -> dict[str, Any]:
    cluster = kl.Cluster(brokers=3, controllers=1, seed=0)
    cluster.create_topic(topic, partitions=4)
    for t in ("streams-wordcount-output", "order-counts"):
        cluster.create_topic(t, partitions=4)
    producer = cluster.producer({"linger.ms": 20})
    for key, value, ts in records:
        producer.send(topic, key=key, value=value, timestamp_ms=ts)
    producer.flush()
    app = cluster.streams(topology, {**STRINGS, "application.id": app_id}, instances=2)
    start_virtual = cluster.now
    start = time.perf_counter()
    ok = cluster.run_until(lambda: app.processed() >= expect, 600_000)
    wall = time.perf_counter() - start
    return {"records": len(records), "processed": app.processed(), "complete": ok, "wall_s": wall,
            "virtual_s": (cluster.now - start_virtual) / 1000, "records_per_s": len(records) / wall}


def word_count(lines: int) -> dict[str, Any]:
    rng = random.Random(1)
    words = [f"w{i:04d}" for i in range(2000)]
    records: list[tuple[str, str, int | None]] = [
        (f"l{i}", " ".join(rng.choice(words) for _ in range(5)), None) for i in range(lines)]
    return {"app": "word count", **_through(xs.word_count_topology(), "streams-plaintext-input", records,
                                           "bench-wc", lines * 6)}


def windowed(orders: int) -> dict[str, Any]:
    base = 1_000_000_000
    records: list[tuple[str, str, int | None]] = [
        (customer, "order", t) for customer, t in xs.orders(orders, 1, base, customers=50, spacing_ms=5)]
    return {"app": "windowed count", **_through(xs.windowed_count_topology(10_000, 2_000), "orders", records,
                                               "bench-win", orders)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=4_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--sizes", type=str, default="1000,10000,50000")
    args = parser.parse_args()
    rows = [word_count(args.lines), windowed(args.orders)]
    print(f"{'app':<16}{'records':>9}{'processed':>11}{'virtual s':>11}{'wall s':>9}{'records/s':>11}")
    for r in rows:
        print(f"{r['app']:<16}{r['records']:>9}{r['processed']:>11}{r['virtual_s']:>11.1f}{r['wall_s']:>9.2f}"
              f"{r['records_per_s']:>11.0f}")
    sizes = [int(s) for s in args.sizes.split(",")]
    restores = [xs.restore_time(n, standbys) for n in sizes for standbys in (0, 1)]
    print()
    print(f"{'distinct keys':>14}{'standbys':>10}{'replayed':>10}{'restore ms':>12}{'downtime ms':>13}{'wall s':>9}")
    for r in restores:
        print(f"{r['state_keys']:>14}{r['standbys']:>10}{r['restored_records']:>10}{r['restore_ms']:>12.1f}"
              f"{r['downtime_ms']:>13.0f}{r['wall_s']:>9.2f}")
    result: dict[str, Any] = {"benchmark": "streams",
                              "wordcount_records_per_s": round(rows[0]["records_per_s"]),
                              "windowed_records_per_s": round(rows[1]["records_per_s"])}
    for r in restores:
        key = f"restore_{r['state_keys']}_standby{r['standbys']}"
        result[f"{key}_records"] = r["restored_records"]
        result[f"{key}_virtual_ms"] = round(r["restore_ms"], 1)
        result[f"{key}_downtime_ms"] = round(r["downtime_ms"])
        result[f"{key}_wall_s"] = round(r["wall_s"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark: seeds per wall second through ``kafkalab.experiments.sweep`` with 1 and 2 workers, and the ratio.

Each run is a small real one, the kind a sweep is for: a 3-broker cluster, a 3-partition topic at RF=3, a producer
sending ``--records`` records with acks=all, a consumer reading them back, and ``kl.check.analyze`` judging the
history. One worker runs in this process; two are joblib worker processes (``--backend dask`` uses a local Dask
cluster of two worker processes instead). The worker processes are started and warmed up (kafkalab imported) by a
first small sweep, timed apart: joblib keeps them for the next call, as a notebook would. On 2 otherwise idle cores
expect a ratio close to 2.

Prints a table, then one JSON line:
{"benchmark": "sweep", "seeds": ..., "seeds_per_s_1": ..., "seeds_per_s_2": ..., "ratio": ...}.
Wall-clock reads are fine here; the package never reads the clock inside a run.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

import kafkalab as kl
from kafkalab.experiments import sweep


def one_run(records: int, seed: int) -> dict[str, Any]:
    """One seed: produce, consume, judge."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    cluster.create_topic("t", partitions=3, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": 2})
    for i in range(records):
        producer.send("t", value=f"{seed}-{i}", key=f"k{i % 7}")
    producer.flush()
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", p) for p in range(3)])
    got = 0
    while got < records:
        got += len(consumer.poll(500))
    report = kl.check.analyze(cluster.history)
    return {"verdict": report.verdict, "virtual_ms": cluster.now, "events": len(cluster.history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--backend", default="joblib", choices=("joblib", "dask"))
    args = parser.parse_args()
    rows = []
    frames = {}
    start = time.perf_counter()
    client = None
    if args.backend == "dask":
        from distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))
    sweep(one_run, {"records": [10]}, range(2), n_jobs=2, backend=args.backend, client=client, progress=False)
    warmup = time.perf_counter() - start
    for workers in (1, 2):
        start = time.perf_counter()
        frames[workers] = sweep(one_run, {"records": [args.records]}, range(args.seeds), n_jobs=workers,
                                client=client if workers > 1 else None, progress=False)
        wall = time.perf_counter() - start
        rows.append((workers, wall, args.seeds / wall))
    same = frames[1].equals(frames[2])
    print(f"{args.seeds} seeds of {args.records:,} records (produce, consume, analyze); backend {args.backend}")
    print(f"{'workers':>8}{'wall s':>9}{'seeds/s':>10}")
    for workers, wall, rate in rows:
        print(f"{workers:>8}{wall:>9.2f}{rate:>10.2f}")
    ratio = rows[1][2] / rows[0][2]
    print(f"ratio 2/1: {ratio:.2f}; same frame on both: {same}; starting the 2 workers took {warmup:.1f} s")
    if client is not None:
        client.close()
    print(json.dumps({"benchmark": "sweep", "backend": args.backend, "seeds": args.seeds, "records": args.records,
                      "seeds_per_s_1": round(rows[0][2], 3), "seeds_per_s_2": round(rows[1][2], 3),
                      "ratio": round(ratio, 2), "same_frame": same, "warmup_s": round(warmup, 2)}))


if __name__ == "__main__":
    main()

"""Benchmark: seeds per wall second through ``kafkalab.experiments.sweep`` with 1 and 2 workers, and the ratio.

Each run is a small real one, the kind a sweep is for: a 3-broker cluster, a 3-partition topic at RF=3, a producer
sending ``--records`` records with acks=all, a consumer reading them back, and ``kl.check.analyze`` judging the
history. One worker runs in this process; two are joblib worker processes (``--backend dask``: a local Dask cluster
of two worker processes). On 2 otherwise idle cores expect a ratio close to 2.

Making the number mean something:

- Worker start-up is kept out: the worker processes are started and warmed up (kafkalab imported, the run function
  unpickled) by a first small sweep, timed apart, and kept for the measured ones as a notebook would keep them.
- Enough work per worker that per-task overheads vanish: one seed's CPU time is measured first, and the measured
  sweeps get enough seeds for about ``--seconds-per-worker`` CPU seconds of work per worker (at least 4 tasks
  each), however loaded the machine is.
- The machine may be shared: 1 and 2 workers are measured alternately for ``--rounds`` rounds (so a change of load
  hits both), each beside the load average when it started. CPU seconds are counted too (each run reports its own,
  plus this process's), so ``cores used`` (CPU seconds / wall seconds) shows how much of the 2 cores the sweep got,
  and ``cpu s/seed`` what a seed costs whatever the load. A ratio well below 2 with ``cores used`` well below 2
  means other jobs held the cores, not that the sweep serialised; the same ``cpu s/seed`` with 1 and 2 workers
  means the work parallelises without overhead, and ``2 x (cpu s/seed with 1) / (cpu s/seed with 2)`` is the
  ratio 2 idle cores would give (printed as the load-free estimate).

Prints a table, then one JSON line:
{"benchmark": "sweep", "seeds": ..., "seeds_per_s_1": ..., "seeds_per_s_2": ..., "ratio": ..., "load_avg": ...}.
Wall-clock reads are fine here; the package never reads the clock inside a run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from typing import Any

import kafkalab as kl
from kafkalab.experiments import sweep


def one_run(records: int, seed: int) -> dict[str, Any]:
    """One seed: produce, consume, judge. ``cpu_s`` is this run's CPU time (not part of the result proper)."""
    cpu = time.process_time()
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
    return {"verdict": report.verdict, "virtual_ms": cluster.now, "events": len(cluster.history),
            "cpu_s": time.process_time() - cpu}


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seconds-per-worker", type=float, default=10.0,
                        help="about this many CPU seconds of work per worker in each measured sweep")
    parser.add_argument("--seeds", type=int, default=None, help="fix the seeds per sweep instead")
    parser.add_argument("--rounds", type=int, default=2, help="alternate 1 and 2 workers this many times")
    parser.add_argument("--backend", default="joblib", choices=("joblib", "dask"))
    args = parser.parse_args()
    client = None
    start = time.perf_counter()
    if args.backend == "dask":
        from distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))
    sweep(one_run, {"records": [10]}, range(8), n_jobs=2, backend=args.backend, client=client, progress=False)
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    per_seed = one_run(args.records, 10_000)["cpu_s"]
    per_seed_wall = time.perf_counter() - start
    seeds = args.seeds or max(16, 2 * math.ceil(args.seconds_per_worker / per_seed))
    seeds += seeds % 2
    print(f"{seeds} seeds of {args.records:,} records (produce, consume, analyze) per sweep; backend {args.backend}; "
          f"one seed: {per_seed:.2f} CPU s in {per_seed_wall:.2f} s; {_cores()} cores; starting the 2 workers took "
          f"{warmup:.1f} s")
    rows = []
    frames: dict[int, Any] = {}
    for round_ in range(args.rounds):
        for workers in (1, 2):
            load = _load()
            start, own_cpu = time.perf_counter(), time.process_time()
            frame = sweep(one_run, {"records": [args.records]}, range(seeds), n_jobs=workers, backend=args.backend,
                          client=client if workers > 1 else None, progress=False)
            wall, own_cpu = time.perf_counter() - start, time.process_time() - own_cpu
            # inline, this process ran the seeds itself; with workers, theirs is in cpu_s and ours is the overhead
            cpu = own_cpu if workers == 1 else own_cpu + float(frame["cpu_s"].sum())
            frames[workers] = frame.drop(columns=["cpu_s"])
            rows.append({"round": round_ + 1, "workers": workers, "wall_s": wall, "seeds_per_s": seeds / wall,
                         "cores_used": cpu / wall, "cpu_per_seed": cpu / seeds, "load_avg": load})
    same = frames[1].equals(frames[2])
    print(f"{'round':>6}{'workers':>8}{'wall s':>9}{'seeds/s':>9}{'cores used':>11}{'cpu s/seed':>11}"
          f"{'load avg':>10}")
    for r in rows:
        print(f"{r['round']:>6}{r['workers']:>8}{r['wall_s']:>9.1f}{r['seeds_per_s']:>9.2f}{r['cores_used']:>11.2f}"
              f"{r['cpu_per_seed']:>11.3f}{r['load_avg']:>10.1f}")
    ratios = [rows[i + 1]["seeds_per_s"] / rows[i]["seeds_per_s"] for i in range(0, len(rows), 2)]
    ratio = statistics.median(ratios)
    rate = {w: statistics.median(r["seeds_per_s"] for r in rows if r["workers"] == w) for w in (1, 2)}
    cores = statistics.median(r["cores_used"] for r in rows if r["workers"] == 2)
    cpu_seed = {w: statistics.median(r["cpu_per_seed"] for r in rows if r["workers"] == w) for w in (1, 2)}
    idle = 2 * cpu_seed[1] / cpu_seed[2]
    load = statistics.mean(r["load_avg"] for r in rows)
    print(f"ratio 2/1: {ratio:.2f} (per round: {', '.join(f'{x:.2f}' for x in ratios)}); 2 workers used {cores:.2f} "
          f"cores; load average {load:.1f} on {_cores()} cores; same frame on both: {same}")
    print(f"CPU per seed: {cpu_seed[1]:.3f} s with 1 worker, {cpu_seed[2]:.3f} s with 2 (incl. this process's "
          f"share): on 2 idle cores the ratio would be about {idle:.2f}")
    if client is not None:
        client.close()
    print(json.dumps({"benchmark": "sweep", "backend": args.backend, "seeds": seeds, "records": args.records,
                      "seeds_per_s_1": round(rate[1], 3), "seeds_per_s_2": round(rate[2], 3),
                      "ratio": round(ratio, 2), "ratios": [round(x, 2) for x in ratios],
                      "cores_used_2": round(cores, 2), "cpu_s_per_seed_1": round(cpu_seed[1], 4),
                      "cpu_s_per_seed_2": round(cpu_seed[2], 4), "idle_ratio_estimate": round(idle, 2),
                      "load_avg": round(load, 1), "cores": _cores(),
                      "same_frame": same, "warmup_s": round(warmup, 2)}))


if __name__ == "__main__":
    main()

"""Benchmark: simulated records per wall second in sizing mode (issue 14, target 5: at least 10 million).

Workloads (``kafkalab.sizing.run``, every record produced, replicated 3 times and consumed):
- ``perf-test``: the headline. 6 brokers on the ``omb-i3en.2xlarge`` preset, 600 partitions, 6 producers at 3 million
  100-byte records per second between them (``batch.size`` 1 MiB, ``linger.ms`` 5, acks=all), 6 consumers, 60 virtual
  seconds: a minute of a busy cluster, 180 million records.
- ``omb-peak``: Confluent's OMB throughput test (3 brokers, 100 partitions, 1 KB records, 1 MiB batches, 1,000 MB/s
  offered, the cluster takes about 605 MB/s), 30 virtual seconds.
- ``omb-200``: the OMB latency test at 200 MB/s (128 KiB batches), 30 virtual seconds: smaller batches, more events
  per record.
- ``cluster-counted``: not the engine but the faithful simulation (``kafkalab.sizing.faithful.run_faithful(...,
  counted=True)``: a real ``kl.Cluster``, its producers' accumulator and sender, brokers, log, replication, fetch
  sessions and consumers) with counted records (``send_counted``/``poll_counts``): 3 brokers on ``omb-i3en.2xlarge``,
  6 partitions, 2 producers at 1 million 100-byte records per second (``batch.size`` 256 KiB, ``linger.ms`` 5), 2
  consumers, 3 virtual seconds. ``cluster-records`` is the same workload with real records (``send``/``poll``), for
  the cost per record the counted path saves (about two minutes: run it with ``--only cluster-counted
  cluster-records``; it is not in the default set). Their wall time includes the cluster's boot and group join.

Prints a table (wall and process CPU seconds, simulated records, engine events, records per wall second) and one JSON
line: {"benchmark": "sizing", "records_per_wall_s": <perf-test>, ...}. Target: ``records_per_wall_s`` >= 10,000,000.
(The cluster rows have no engine events: 0.)
Wall-clock reads are fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from kafkalab.sizing import PRESET_NETWORKS, SizingWorkload, run
from kafkalab.sizing.anchors import OMB_LATENCY, OMB_THROUGHPUT
from kafkalab.sizing.faithful import run_faithful

WORKLOADS: dict[str, dict[str, Any]] = {
    "perf-test": dict(brokers=6, hardware="omb-i3en.2xlarge", producers=6, consumers=6, partitions=600,
                      record_size=100, rate=3_000_000, batch_size=1_048_576, linger_ms=5.0, duration_s=60.0),
    "omb-peak": dict(brokers=3, hardware="omb-i3en.2xlarge", rate=1000 * 1024, duration_s=30.0, **OMB_THROUGHPUT),
    "omb-200": dict(brokers=3, hardware="omb-i3en.2xlarge", rate=200 * 1024, duration_s=30.0, **OMB_LATENCY),
    "cluster-counted": dict(brokers=3, hardware="omb-i3en.2xlarge", producers=2, consumers=2, partitions=6,
                            record_size=100, rate=1_000_000, batch_size=262_144, linger_ms=5.0, duration_s=3.0),
}
WORKLOADS["cluster-records"] = dict(WORKLOADS["cluster-counted"])
THROUGH_CLUSTER = {"cluster-counted": True, "cluster-records": False}


def through_cluster(name: str, kw: dict[str, Any], brokers: int, seed: int) -> dict[str, Any]:
    hardware = kw.pop("hardware")
    workload = SizingWorkload.from_kwargs(**kw)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_faithful(workload, brokers, hardware=hardware, network=PRESET_NETWORKS[hardware], seed=seed,
                           counted=THROUGH_CLUSTER[name])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    records = round(workload.rate * workload.duration_s)       # offered; every one is produced and consumed
    return {"name": name, "wall_s": wall, "cpu_s": cpu, "records": records, "events": 0,
            "virtual_s": workload.duration_s, "mb_per_s": summary["mb_per_s"], "p99_ms": summary["end_to_end_p99_ms"],
            "records_per_wall_s": records / wall, "records_per_cpu_s": records / cpu}


def one(name: str, scale: float, seed: int) -> dict[str, Any]:
    kw = dict(WORKLOADS[name])
    kw["duration_s"] = kw["duration_s"] * scale
    brokers = kw.pop("brokers")
    if name in THROUGH_CLUSTER:
        return through_cluster(name, kw, brokers, seed)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(brokers, seed=seed, **kw)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    records = result.counters["simulated_records"]
    return {"name": name, "wall_s": wall, "cpu_s": cpu, "records": records, "events": result.counters["events"],
            "virtual_s": result.counters["virtual_ms"] / 1000, "mb_per_s": result.summary["mb_per_s"],
            "p99_ms": result.summary["end_to_end_p99_ms"], "records_per_wall_s": records / wall,
            "records_per_cpu_s": records / cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload's duration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=[n for n in WORKLOADS if n != "cluster-records"],
                        choices=list(WORKLOADS))
    args = parser.parse_args()
    results = [one(name, args.scale, args.seed) for name in args.only]
    print(f"{'workload':<16}{'virtual s':>10}{'wall s':>8}{'cpu s':>7}{'records':>14}{'events':>11}{'MB/s':>8}"
          f"{'e2e p99 ms':>11}{'records/wall s':>16}{'records/cpu s':>15}")
    for r in results:
        print(f"{r['name']:<16}{r['virtual_s']:>10.1f}{r['wall_s']:>8.2f}{r['cpu_s']:>7.2f}{r['records']:>14,}"
              f"{r['events']:>11,}{r['mb_per_s']:>8.1f}{r['p99_ms']:>11.2f}{r['records_per_wall_s']:>16,.0f}"
              f"{r['records_per_cpu_s']:>15,.0f}")
    out: dict[str, Any] = {"benchmark": "sizing"}
    for r in results:
        key = r["name"].replace("-", "_")
        out[f"records_per_wall_s_{key}"] = round(r["records_per_wall_s"])
        out[f"records_per_cpu_s_{key}"] = round(r["records_per_cpu_s"])
    head = results[0]
    out["records_per_wall_s"] = round(head["records_per_wall_s"])
    out["target"] = 10_000_000
    print(json.dumps(out))


if __name__ == "__main__":
    main()

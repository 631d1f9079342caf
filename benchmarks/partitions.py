"""Benchmark: the same records over 6, 600 and 6,000 partitions (issue 14, target 2: flat in partitions).

Workload: the end-to-end run of ``throughput.py`` (3 brokers and 3 controllers, RF=3, min.insync.replicas=2, one
producer with default settings, a consumer group of three members reading everything, history on) with 300,000
100-byte records over 10,000 keys, into a topic of 6, 600 or 6,000 partitions. Creating the topic and forming the
group are not timed. The records are the same in every case; more partitions mean smaller batches (a key's records
still go to one partition), so some cost per batch remains, as it does in Kafka; what must not remain is work per
partition on every send, wake-up or request (the accumulator scanning every queue, the broker or the fetchers walking
every partition of a request when few changed).

Prints a table, then one JSON line: {"benchmark": "partitions", "records": ..., "wall_s_6": ..., "wall_s_600": ...,
"wall_s_6000": ..., "ratio_6000_vs_6": ...}. Target: ``ratio_6000_vs_6`` <= 2.0. ``--profile N`` prints the top
functions of the run over N partitions. Wall-clock reads are fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput  # noqa: E402  (the end-to-end workload, shared with throughput.py)

RECORDS = 300_000
COUNTS = (6, 600, 6_000)
#: Kafka reserves ``batch.size`` (16 KB) of ``buffer.memory`` per open batch (``BufferPool``), so a producer with a
#: batch open on each of 6,000 partitions needs 6,000 x 16 KB = 94 MB; with the default 32 MB it blocks, and while it
#: blocks every batch is ready (``RecordAccumulator.ready``: the pool is exhausted), so they leave nearly empty. A
#: producer sized for 6,000 partitions has room for a batch on each of them.
PRODUCER = {"buffer.memory": 256 * 2**20}


def one(partitions: int, records: int, seed: int, profile: bool = False) -> dict[str, Any]:
    """One end-to-end run over ``partitions`` partitions (``throughput.run``), optionally profiled."""
    if not profile:
        return throughput.run(records, seed, partitions=partitions, producer_config=PRODUCER, chunk=records)
    profiler = cProfile.Profile()
    result = throughput.run(records, seed, partitions=partitions, producer_config=PRODUCER, chunk=records,
                            profiler=profiler)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--counts", type=int, nargs="+", default=list(COUNTS), help="partition counts to run")
    parser.add_argument("--profile", type=int, default=None, help="profile the run over this many partitions")
    args = parser.parse_args()
    results = {n: one(n, args.records, args.seed, profile=args.profile == n) for n in args.counts}
    print(f"{'partitions':>12}{'wall s':>10}{'cpu s':>8}{'records/s':>12}{'batches':>10}{'virtual ms':>12}{'events':>12}"
          f"{'peak RSS MB':>13}")
    for n, r in results.items():
        print(f"{n:>12,}{r['wall_s']:>10.2f}{r['cpu_s']:>8.2f}{r['records_per_s']:>12,.0f}{r['distinct_batches']:>10,}"
              f"{r['virtual_ms']:>12,.0f}{r['events']:>12,}{r['peak_rss_mb']:>13,.0f}")
    out: dict[str, Any] = {"benchmark": "partitions", "records": args.records}
    for n, r in results.items():
        out[f"wall_s_{n}"] = round(r["wall_s"], 3)
        out[f"cpu_s_{n}"] = round(r["cpu_s"], 3)
    lo, hi = min(results), max(results)
    ratio = results[hi]["wall_s"] / results[lo]["wall_s"]
    cpu_ratio = results[hi]["cpu_s"] / results[lo]["cpu_s"]
    out[f"ratio_{hi}_vs_{lo}"] = round(ratio, 2)
    out[f"cpu_ratio_{hi}_vs_{lo}"] = round(cpu_ratio, 2)
    print(f"ratio {hi:,} vs {lo:,} partitions: {ratio:.2f}x wall, {cpu_ratio:.2f}x process CPU (target <= 2.0; "
          f"CPU time is the steadier measure on a shared machine)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

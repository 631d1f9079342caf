"""Benchmark: does an idle cluster cost the same with 10 partitions as with 10,000? (DESIGN.md principle 4)

Two clusters of 3 brokers and 3 controllers, each with one topic at RF=3: 10 partitions and 10,000 partitions. After
the topic's leaders are ready and the followers have caught up (a few virtual seconds of settling, not timed), each
runs 60 virtual seconds with no client traffic, three times in a row (the best window counts: the machine may be
shared). The wall time of those 60 seconds is what is compared: controller
heartbeats, metadata no-ops, replica fetcher long polls and ISR checks should cost per broker, not per partition.

Prints a table, then one JSON line: {"benchmark": "idle_scale", "wall_s_small": ..., "wall_s_large": ...,
"ratio": ...}. Target: ratio <= 3. ``--profile`` prints the top functions of the large run. Wall-clock reads are
fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from typing import Any

import kafkalab as kl

IDLE_MS = 60_000.0
SETTLE_MS = 5_000.0


def idle(partitions: int, seed: int = 0, idle_ms: float = IDLE_MS, profile: bool = False,
         repeat: int = 3) -> dict[str, Any]:
    """Boot, create the topic, settle, then time ``idle_ms`` of virtual time with nothing to do, ``repeat`` times in a
    row on the same cluster; the best (least disturbed) window counts, as ``timeit`` does."""
    t0 = time.perf_counter()
    cluster = kl.Cluster(brokers=3, controllers=3, seed=seed)
    # Kafka's controller writes at most 10,000 records per operation (MAX_RECORDS_PER_USER_OP), so a topic of 10,000
    # partitions is refused: the large case is two topics of half the partitions each.
    per_topic = partitions if partitions < 10_000 else partitions // 2
    for i in range(partitions // per_topic):
        cluster.create_topic(f"idle-{i}", partitions=per_topic, replication_factor=3, timeout_ms=120_000)
    cluster.run(SETTLE_MS)
    setup_s = time.perf_counter() - t0
    walls = []
    events = 0
    for _ in range(repeat):
        events0 = cluster.kernel.events_processed
        start = time.perf_counter()
        cluster.run(idle_ms)
        walls.append(time.perf_counter() - start)
        events = cluster.kernel.events_processed - events0
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        cluster.run(idle_ms)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    return {"partitions": partitions, "setup_s": setup_s, "wall_s": min(walls), "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--idle-ms", type=float, default=IDLE_MS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="idle windows per cluster; the best one counts")
    parser.add_argument("--profile", action="store_true", help="profile the large cluster's idle run")
    args = parser.parse_args()
    small = idle(args.small, args.seed, args.idle_ms, repeat=args.repeat)
    large = idle(args.large, args.seed, args.idle_ms, profile=args.profile, repeat=args.repeat)
    ratio = large["wall_s"] / small["wall_s"]
    print(f"{'partitions':>12}{'setup wall s':>14}{'idle wall s':>14}{'idle events':>14}")
    for r in (small, large):
        print(f"{r['partitions']:>12,}{r['setup_s']:>14.2f}{r['wall_s']:>14.3f}{r['events']:>14,}")
    print(f"ratio large/small over {args.idle_ms / 1000:g} virtual s: {ratio:.2f}x (target <= 3)")
    print(json.dumps({"benchmark": "idle_scale", "wall_s_small": round(small["wall_s"], 4),
                      "wall_s_large": round(large["wall_s"], 4), "ratio": round(ratio, 2)}))


if __name__ == "__main__":
    main()

"""Benchmark: does an idle cluster cost the same with 10 partitions as with 10,000? (DESIGN.md principle 4)

Two clusters of 3 brokers and 3 controllers, each with one topic at RF=3: 10 partitions and 10,000 partitions. After
the topic's leaders are ready and the followers have caught up (a few virtual seconds of settling, not timed), each
runs 60 virtual seconds with no client traffic, three times in a row (the best window counts: the machine may be
shared). The wall time of those 60 seconds is what is compared: controller
heartbeats, metadata no-ops, replica fetcher long polls and ISR checks should cost per broker, not per partition.

Runs with 3 and with 9 brokers (``--brokers``). Prints a table, then one JSON line: {"benchmark": "idle_scale",
"wall_s_small": ..., "wall_s_large": ..., "ratio": ..., "cpu_ratio": ..., and the same with a ``_9`` suffix for 9
brokers}; ``--hour`` adds an idle virtual hour of the 9-broker, 10,000-partition cluster ("hour_wall_s"). Targets
(issue 14): ratio <= 1.5 for 3 and for 9 brokers; the hour in under 10 s. ``--profile`` prints the top functions of the large run. Wall-clock reads are
fine here; the package never reads the clock. The JSON line also carries each window's process CPU seconds and its
event count (``cpu_s_small``, ``events_small``, ...).

What the events are: with 9 brokers, 10,000 partitions give every broker partitions led by each of the other 8 (72
follower->leader fetcher pairs, ``num.replica.fetchers = 1``), 10 partitions about 19. Each pair long-polls
(``replica.fetch.wait.max.ms`` = 500) as Kafka's fetchers do: per 500 ms, the request's delivery, its turn on the
leader's request handler, the parked fetch's expiry, the empty response's delivery and its turn on the follower's
fetcher queue, five events. So the large cluster runs about 2.4 times the events of the small one, and the
partition count itself adds nothing (``tests/broker/test_idle_cost.py``).
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
         repeat: int = 3, brokers: int = 3) -> dict[str, Any]:
    """Boot, create the topic, settle, then time ``idle_ms`` of virtual time with nothing to do, ``repeat`` times in a
    row on the same cluster; the best (least disturbed) window counts, as ``timeit`` does."""
    t0 = time.perf_counter()
    cluster = kl.Cluster(brokers=brokers, controllers=3, seed=seed)
    # Kafka's controller writes at most 10,000 records per operation (MAX_RECORDS_PER_USER_OP), so a topic of 10,000
    # partitions is refused: the large case is two topics of half the partitions each.
    per_topic = partitions if partitions < 10_000 else partitions // 2
    for i in range(partitions // per_topic):
        cluster.create_topic(f"idle-{i}", partitions=per_topic, replication_factor=3, timeout_ms=120_000)
    cluster.run(SETTLE_MS)
    setup_s = time.perf_counter() - t0
    walls = []
    cpus = []
    events = 0
    for _ in range(repeat):
        events0 = cluster.kernel.events_processed
        start = time.perf_counter()
        cpu0 = time.process_time()
        cluster.run(idle_ms)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu0)
        events = cluster.kernel.events_processed - events0
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        cluster.run(idle_ms)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    return {"partitions": partitions, "brokers": brokers, "setup_s": setup_s, "wall_s": min(walls),
            "cpu_s": min(cpus), "events": events, "cluster": cluster}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--brokers", type=int, nargs="+", default=[3, 9])
    parser.add_argument("--idle-ms", type=float, default=IDLE_MS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="idle windows per cluster; the best one counts")
    parser.add_argument("--profile", action="store_true", help="profile the large cluster's idle run")
    parser.add_argument("--hour", action="store_true",
                        help="also time an idle virtual hour of the largest cluster (target: under 10 s)")
    args = parser.parse_args()
    out: dict[str, Any] = {"benchmark": "idle_scale"}
    print(f"{'brokers':>8}{'partitions':>12}{'setup wall s':>14}{'idle wall s':>13}{'idle cpu s':>12}"
          f"{'idle events':>13}")
    large: dict[str, Any] = {}
    for brokers in args.brokers:
        small = idle(args.small, args.seed, args.idle_ms, repeat=args.repeat, brokers=brokers)
        large = idle(args.large, args.seed, args.idle_ms, profile=args.profile, repeat=args.repeat, brokers=brokers)
        for r in (small, large):
            print(f"{brokers:>8}{r['partitions']:>12,}{r['setup_s']:>14.2f}{r['wall_s']:>13.3f}{r['cpu_s']:>12.3f}"
                  f"{r['events']:>13,}")
        ratio = large["wall_s"] / small["wall_s"]
        cpu_ratio = large["cpu_s"] / small["cpu_s"]
        print(f"  {brokers} brokers, ratio large/small over {args.idle_ms / 1000:g} virtual s: {ratio:.2f}x wall, "
              f"{cpu_ratio:.2f}x process CPU (target <= 1.5)")
        suffix = "" if brokers == 3 else f"_{brokers}"
        out[f"wall_s_small{suffix}"] = round(small["wall_s"], 4)
        out[f"wall_s_large{suffix}"] = round(large["wall_s"], 4)
        out[f"ratio{suffix}"] = round(ratio, 2)
        out[f"cpu_ratio{suffix}"] = round(cpu_ratio, 2)
        out[f"cpu_s_small{suffix}"] = round(small["cpu_s"], 4)
        out[f"cpu_s_large{suffix}"] = round(large["cpu_s"], 4)
        out[f"events_small{suffix}"] = small["events"]
        out[f"events_large{suffix}"] = large["events"]
    if args.hour:
        cluster = large["cluster"]
        start = time.perf_counter()
        cpu0 = time.process_time()
        cluster.run(3_600_000.0)
        hour_wall, hour_cpu = time.perf_counter() - start, time.process_time() - cpu0
        print(f"an idle virtual hour of {args.brokers[-1]} brokers x {args.large:,} partitions: {hour_wall:.2f} s wall, "
              f"{hour_cpu:.2f} s process CPU (target < 10 s)")
        out["hour_wall_s"] = round(hour_wall, 2)
        out["hour_cpu_s"] = round(hour_cpu, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Benchmark: how fast the simulated KRaft quorum runs, in wall-clock terms.

1. Commits per wall second: a 3-voter quorum on a LAN (0.5 ms) under a steady stream of proposals (``per_ms``
   proposals every millisecond of virtual time); counts entries the leader has committed (below its high watermark).
   Once with Kafka's ``append.linger.ms=25`` (proposals are batched) and once with 0 (about one batch per proposal).
   Anchor: PySyncObj reports about 15,000 requests/s on three real nodes.
2. Idle speed-up: a 5-voter quorum with nothing to do, run for 10 virtual minutes; virtual seconds per wall second.
   Idle fetches long-poll (parked 500 ms at the leader), so this measures how cheap a quiet quorum is.

Prints a table, then one line of JSON: {"benchmark": "raft", "commits_per_s": ..., "idle_speedup_vs_realtime": ...}.
``--quick`` runs a short version. Wall-clock reads are fine here; the package never reads the clock.
"""
from __future__ import annotations

import argparse
import json
import time

from kafkalab.raft import RaftCluster
from kafkalab.sim.network import LinkSpec

PYSYNCOBJ_REQUESTS_PER_S = 15_000


def commits_per_second(virtual_ms: float, per_ms: int, seed: int = 0, linger_ms: float = 25.0) -> dict[str, float]:
    rc = RaftCluster(voters=3, seed=seed, network=LinkSpec(latency_ms=0.5, jitter_ms=0.1), append_linger_ms=linger_ms)
    if not rc.run_until(lambda: rc.leader() is not None, 60_000):
        raise RuntimeError(f"no leader elected (seed={seed})")
    leader = rc.leader()
    start_hw = rc.high_watermark(leader)
    proposed = 0
    payload = b"x" * 100
    wall0 = time.perf_counter()
    end = rc.now + virtual_ms
    while rc.now < end:
        for _ in range(per_ms):
            if rc.propose(payload) is not None:
                proposed += 1
        rc.run(1.0)
    wall = time.perf_counter() - wall0
    committed = rc.high_watermark(leader) - start_hw
    return {"proposed": proposed, "committed": committed, "virtual_s": virtual_ms / 1000, "wall_s": wall,
            "commits_per_s": committed / wall}


def idle_speedup(virtual_ms: float, seed: int = 0) -> dict[str, float]:
    rc = RaftCluster(voters=5, seed=seed)
    if not rc.run_until(lambda: rc.leader() is not None, 60_000):
        raise RuntimeError(f"no leader elected (seed={seed})")
    events0 = rc.kernel.events_processed
    wall0 = time.perf_counter()
    rc.run(virtual_ms)
    wall = time.perf_counter() - wall0
    return {"virtual_s": virtual_ms / 1000, "wall_s": wall, "events": rc.kernel.events_processed - events0,
            "speedup": (virtual_ms / 1000) / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    args = parser.parse_args()
    busy_ms, per_ms, idle_ms = (500.0, 20, 60_000.0) if args.quick else (5_000.0, 20, 600_000.0)
    busy = commits_per_second(busy_ms, per_ms)
    unbatched = commits_per_second(busy_ms, per_ms, linger_ms=0.0)
    idle = idle_speedup(idle_ms)
    print(f"{'case':<46}{'virtual s':>10}{'wall s':>9}{'result':>26}")
    for label, run in ((f"3 voters, {per_ms}/virtual ms, linger 25 ms", busy),
                       (f"3 voters, {per_ms}/virtual ms, linger 0", unbatched)):
        print(f"{label:<46}{run['virtual_s']:>10.1f}{run['wall_s']:>9.2f}{run['commits_per_s']:>17,.0f} commits/s")
    print(f"{'  (PySyncObj, 3 real nodes)':<46}{'':>10}{'':>9}{PYSYNCOBJ_REQUESTS_PER_S:>17,} requests/s")
    print(f"{'5 voters idle':<46}{idle['virtual_s']:>10.1f}{idle['wall_s']:>9.2f}"
          f"{idle['speedup']:>16,.0f}x real time")
    print(f"  committed {busy['committed']:,} of {busy['proposed']:,} proposed (linger 25), "
          f"{unbatched['committed']:,} (linger 0); idle run processed {idle['events']:,} events")
    print(json.dumps({"benchmark": "raft", "commits_per_s": round(busy["commits_per_s"], 1),
                      "commits_per_s_linger0": round(unbatched["commits_per_s"], 1),
                      "idle_speedup_vs_realtime": round(idle["speedup"], 1), "quick": args.quick}))


if __name__ == "__main__":
    main()

"""Kernel benchmark: the same timer workload on kafkalab's kernel and on SimPy, in one run.

Workload: 100 timers, each rescheduling itself with a delay drawn from a fixed table of varied delays, until 300,000
events have run. The delay table is precomputed so neither side pays for random draws. SimPy runs the same thing as 100
processes each yielding ``env.timeout(delay)``: the idiomatic SimPy form. Wall-clock reads are fine here: benchmarks
measure the simulator, they are not part of it.

Where the time goes: both simulators keep a binary heap (heapq) of sequence-numbered entries; a pop plus a push of a
list or tuple entry costs about 450 ns on the reference machine, most of each event for both. The kernel's remaining
per-event cost (dispatch, owner checks) is what separates them; see the README table for the measured ratio.

Usage: python benchmarks/kernel.py [--events N] [--repeat R]
"""
from __future__ import annotations

import argparse
import json
import random
import time

import simpy

from kafkalab.sim import Kernel

TIMERS = 100


def delay_table(n: int = 4096) -> list[float]:
    rng = random.Random(12345)
    return [rng.choice((0.1, 0.5, 1.0, 2.0, 5.0)) * rng.uniform(0.5, 1.5) for _ in range(n)]


def run_kafkalab(events: int, delays: list[float], api: str = "repeat") -> float:
    """One workload, three ways to write it on the kernel.

    ``repeat``: ``Kernel.repeat`` timers whose callback returns its next delay (the kernel's periodic-timer API, what
    heartbeats and fetch loops use); ``post``: each tick posts its successor (no cancel handle, like a SimPy timeout);
    ``schedule``: each tick schedules its successor and gets a cancellable Timer handle.
    """
    k = Kernel(seed=0)
    mask = len(delays) - 1
    left = events
    i = 0

    def again() -> float | None:
        nonlocal left, i
        left -= 1
        if left <= 0:
            k.stop()
            return None
        i = (i + 1) & mask
        return delays[i]

    schedule = k.schedule if api == "schedule" else k.post

    def tick() -> None:
        nonlocal left, i
        left -= 1
        if left <= 0:
            k.stop()
            return
        i = (i + 1) & mask
        schedule(delays[i], tick)

    for j in range(TIMERS):
        if api == "repeat":
            k.repeat(delays[j], again)
        else:
            schedule(delays[j], tick)
    start = time.perf_counter()
    k.run(float("inf"))
    elapsed = time.perf_counter() - start
    assert k.events_processed == events, k.events_processed
    return elapsed


def run_simpy(events: int, delays: list[float]) -> float:
    env = simpy.Environment()
    mask = len(delays) - 1
    left = events
    i = 0
    done = env.event()
    timeout = env.timeout

    def proc(j: int):  # type: ignore[no-untyped-def]
        nonlocal left, i
        yield timeout(delays[j])
        while True:
            left -= 1
            if left <= 0:
                if not done.triggered:
                    done.succeed()
                return
            i = (i + 1) & mask
            yield timeout(delays[i])

    for j in range(TIMERS):
        env.process(proc(j))
    start = time.perf_counter()
    env.run(until=done)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs for each simulator")
    args = parser.parse_args()
    delays = delay_table()
    rows = {api: min(run_kafkalab(args.events, delays, api) for _ in range(args.repeat))
            for api in ("repeat", "post", "schedule")}
    theirs = min(run_simpy(args.events, delays) for _ in range(args.repeat))
    # The headline uses Kernel.post: one callback posts the next, the closest match to a SimPy timeout.
    ours_eps, simpy_eps = args.events / rows["post"], args.events / theirs
    print(f"{'simulator':<30}{'events':>10}{'wall s':>10}{'events/s':>14}")
    for api, wall in rows.items():
        print(f"{'kafkalab Kernel.' + api:<30}{args.events:>10}{wall:>10.3f}{args.events / wall:>14,.0f}")
    print(f"{'simpy ' + simpy.__version__ + ' (timeout)':<30}{args.events:>10}{theirs:>10.3f}{simpy_eps:>14,.0f}")
    print(f"ratio kafkalab/simpy: {ours_eps / simpy_eps:.2f}x (target >= 2x)")
    print(json.dumps({"benchmark": "kernel", "events_per_s": round(ours_eps), "simpy_events_per_s": round(simpy_eps),
                      "ratio_vs_simpy": round(ours_eps / simpy_eps, 2)}))


if __name__ == "__main__":
    main()

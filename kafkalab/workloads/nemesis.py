"""The nemesis a workload runs under: none, a random schedule drawn from the run's seed, or a scripted one.

A thin layer over :mod:`kafkalab.sim.faults` (Jepsen's nemesis, TigerBeetle's VOPR options): a workload names the
fault kinds it wants (``crash``, ``power_loss``, ``pause``, ``isolate``, ``partition``, ``slow_link``) and the
schedule is drawn from the cluster's ``nemesis`` RNG stream over the servers (brokers and controllers), so the same
seed gives the same faults. Every drawn fault is undone before the window closes (a crash restarted, a partition
healed, a pause resumed). The simulation has no clocks to skew: every process reads the one virtual clock, so the
nemesis is clock-free by construction.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kafkalab.sim.faults import Fault, FaultOptions, Nemesis

__all__ = ["NEMESIS_KINDS", "start_nemesis", "fault_options", "check_nemesis"]

#: The fault kinds a random nemesis may draw.
NEMESIS_KINDS = ("crash", "power_loss", "pause", "isolate", "partition", "slow_link")


def fault_options(kinds: Iterable[str], mean_interval_ms: float = 3_000.0, min_duration_ms: float = 1_000.0,
                  max_duration_ms: float = 8_000.0) -> FaultOptions:
    """FaultOptions drawing ``kinds`` with equal weights (a clear error for an unknown kind)."""
    from kafkalab.check.report import closest_hint

    chosen = [kinds] if isinstance(kinds, str) else list(kinds)
    for kind in chosen:
        if kind not in NEMESIS_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}{closest_hint(kind, NEMESIS_KINDS)}; "
                             f"kinds: {', '.join(NEMESIS_KINDS)}")
    return FaultOptions(mean_interval_ms=mean_interval_ms, min_duration_ms=min_duration_ms,
                        max_duration_ms=max_duration_ms, kinds=tuple((k, 1.0) for k in chosen))


def check_nemesis(nemesis: Any, kinds: Iterable[str]) -> str | list[str]:
    """Validate a workload's ``nemesis`` and fault ``kinds`` before anything runs; returns how to describe it."""
    fault_options(kinds)
    if isinstance(nemesis, str):
        if nemesis not in ("none", "random"):
            raise ValueError(f"nemesis must be 'none', 'random' or a list of Fault, got {nemesis!r}")
        return nemesis
    faults = list(nemesis) if isinstance(nemesis, Iterable) else None
    if faults is None or not all(isinstance(f, Fault) for f in faults):
        raise TypeError(f"a scripted nemesis is a list of kafkalab.sim.Fault, got {nemesis!r}")
    return [f"{f.at_ms:g} {f.describe()}" for f in faults]


def start_nemesis(cluster: Any, nemesis: str | Sequence[Fault], duration_ms: float,
                  kinds: Iterable[str] = ("crash", "pause", "isolate", "partition"),
                  mean_interval_ms: float = 3_000.0) -> Nemesis:
    """Schedule the faults on ``cluster`` from now: ``"none"``, ``"random"`` (drawn from the seed over
    ``duration_ms``), or a list of :class:`~kafkalab.sim.Fault` (times relative to now). Returns the Nemesis; its
    ``applied`` list logs what happened."""
    n = Nemesis(cluster)
    if isinstance(nemesis, str):
        if nemesis == "none":
            return n
        if nemesis != "random":
            raise ValueError(f"nemesis must be 'none', 'random' or a list of Fault, got {nemesis!r}")
        servers = list(cluster.brokers) + list(cluster.controllers)
        n.random(duration_ms, servers, fault_options(kinds, mean_interval_ms=mean_interval_ms,
                                                      max_duration_ms=min(8_000.0, duration_ms / 2)))
        return n
    faults = list(nemesis)
    if not all(isinstance(f, Fault) for f in faults):
        raise TypeError(f"a scripted nemesis is a list of kafkalab.sim.Fault, got {nemesis!r}")
    now = cluster.now
    n.schedule([Fault(now + f.at_ms, f.kind, f.node, f.groups, f.a, f.b, f.latency_ms) for f in faults])
    return n

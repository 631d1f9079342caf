"""The trace of one experiment trial, for ``kafkalab replay``: its event-trace digest and its client history.

Experiments build their simulations inside trial functions and return rows, not clusters. Each passes every
:class:`~kafkalab.Cluster` or :class:`~kafkalab.raft.RaftCluster` it builds through :func:`traced`, which does
nothing unless a :func:`capture` is active: then it hooks a :class:`~kafkalab.sim.trace.Tracer` on the simulation's
kernel and keeps the simulation, so the caller gets the trial's digest (what ran, SHA-256 over every event in
order, the way :class:`~kafkalab.workloads.WorkloadResult` digests a workload) and its client history to judge.
A trace hook only observes events, so a trial returns the same row with or without a capture (tested).

Captures nest and are plain module state: a capture is meant for one inline trial in one process (replay), not for
a sweep's worker processes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafkalab.check import History, Report, analyze
from kafkalab.sim.trace import Tracer

__all__ = ["TrialTrace", "capture", "traced"]

S = TypeVar("S")
_active: list[TrialTrace] = []


@dataclass
class TrialTrace:
    """What a :func:`capture` saw: the simulations built inside it, in order, and a tracer on each."""

    sims: list[Any] = field(default_factory=list)
    tracers: list[Tracer] = field(default_factory=list)

    def attach(self, sim: Any) -> None:
        self.sims.append(sim)
        self.tracers.append(Tracer(sim.kernel))

    @property
    def digest(self) -> str:
        """The trace digest: one simulation's, or a SHA-256 over each one's, in the order they were built."""
        if len(self.tracers) == 1:
            return self.tracers[0].digest()
        combined = hashlib.sha256()
        for tracer in self.tracers:
            combined.update(tracer.digest().encode())
        return combined.hexdigest()

    @property
    def events(self) -> int:
        """How many trace lines were digested."""
        return sum(t.count for t in self.tracers)

    @property
    def histories(self) -> list[History]:
        """The client histories of the simulations that keep one (a kafkalab Cluster; a RaftCluster has none)."""
        return [h for h in (getattr(s, "history", None) for s in self.sims) if isinstance(h, History)]

    def report(self) -> Report | None:
        """``kl.check.analyze`` of the trial's client history (the first, if it built several clusters), or None
        when it built no cluster that keeps one."""
        histories = self.histories
        return analyze(histories[0]) if histories else None


@contextmanager
def capture() -> Iterator[TrialTrace]:
    """Capture every simulation an experiment builds inside the ``with`` block (see the module doc).

    >>> from kafkalab.experiments.registry import split_votes
    >>> with capture() as trace:
    ...     row = split_votes(seed=3)
    >>> len(trace.digest), trace.histories
    (64, [])
    """
    trace = TrialTrace()
    _active.append(trace)
    try:
        yield trace
    finally:
        _active.remove(trace)


def traced(sim: S) -> S:
    """Hand ``sim`` (a Cluster or RaftCluster just built) to the active captures, if any; returns it unchanged."""
    for trace in _active:
        trace.attach(sim)
    return sim

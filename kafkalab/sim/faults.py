"""The nemesis: faults applied at given virtual times, or a random schedule drawn from the run's seed.

A :class:`Fault` is data: when, what, and on whom. :class:`Nemesis` schedules a list of them on any target that has the
World fault methods (``crash``, ``restart``, ``pause``, ``resume``, ``isolate``, ``partition``, ``heal``,
``slow_link``). :func:`random_schedule` draws a schedule from its own RNG stream (``nemesis``), after Jepsen's nemesis and
TigerBeetle's VOPR: every fault knob lives in one :class:`FaultOptions` object, and every fault that breaks something is
later undone (a crashed node is restarted, a partition healed, a pause resumed), so the system gets the chance to recover
that a checker's liveness expectations assume.
"""
from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "FaultOptions", "Nemesis", "random_schedule", "FAULT_KINDS"]

#: Every kind of fault and the arguments it takes.
FAULT_KINDS: dict[str, str] = {
    "crash": "node: kill the process; the page cache survives",
    "power_loss": "node: kill the process and drop its unflushed disk writes",
    "restart": "node: start a crashed node from its durable state",
    "pause": "node: freeze the process (timers and messages wait)",
    "resume": "node: unfreeze a paused process",
    "isolate": "node: cut it from every other server",
    "partition": "groups: cut links between groups",
    "heal": "no arguments: remove every cut",
    "slow_link": "a, b, latency_ms: one slow link",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: ``Fault(1500, "crash", node=2)``, ``Fault(3000, "partition", groups=((1, 2), (3,)))``."""

    at_ms: float
    kind: str
    node: Hashable | None = None
    groups: tuple[tuple[Hashable, ...], ...] = ()
    a: Hashable | None = None
    b: Hashable | None = None
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            import difflib

            close = difflib.get_close_matches(self.kind, FAULT_KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown fault kind {self.kind!r}; allowed: {', '.join(FAULT_KINDS)}{hint}")
        if self.kind in ("crash", "power_loss", "restart", "pause", "resume", "isolate") and self.node is None:
            raise ValueError(f"fault {self.kind!r} needs node=...")
        if self.kind == "partition" and len(self.groups) < 2:
            raise ValueError(f"fault 'partition' needs at least two groups, got {self.groups!r}")
        if self.kind == "slow_link" and (self.a is None or self.b is None):
            raise ValueError("fault 'slow_link' needs a=..., b=... and latency_ms=...")
        if self.at_ms < 0:
            raise ValueError(f"fault time at_ms must be >= 0, got {self.at_ms}")

    def apply(self, target: Any) -> None:
        kind = self.kind
        if kind == "crash":
            target.crash(self.node)
        elif kind == "power_loss":
            target.crash(self.node, lose_unflushed=True)
        elif kind == "restart":
            target.restart(self.node)
        elif kind == "pause":
            target.pause(self.node)
        elif kind == "resume":
            target.resume(self.node)
        elif kind == "isolate":
            target.isolate(self.node)
        elif kind == "partition":
            target.partition(*self.groups)
        elif kind == "heal":
            target.heal()
        elif kind == "slow_link":
            target.slow_link(self.a, self.b, self.latency_ms)

    def describe(self) -> str:
        if self.kind == "partition":
            return f"partition {' | '.join(','.join(map(str, g)) for g in self.groups)}"
        if self.kind == "slow_link":
            return f"slow_link {self.a}-{self.b} {self.latency_ms} ms"
        if self.kind == "heal":
            return "heal"
        return f"{self.kind} {self.node}"


@dataclass(frozen=True, slots=True)
class FaultOptions:
    """Knobs of a random fault schedule (all times in virtual ms).

    mean_interval_ms: average time between fault starts (exponential). min_duration_ms/max_duration_ms: how long a
    fault lasts before it is undone. kinds: which faults to draw, with weights. max_down: at most this many nodes
    crashed, paused or isolated at once (None = no limit).
    """

    mean_interval_ms: float = 2_000.0
    min_duration_ms: float = 500.0
    max_duration_ms: float = 5_000.0
    kinds: tuple[tuple[str, float], ...] = (("crash", 1.0), ("power_loss", 0.5), ("pause", 0.5),
                                            ("isolate", 1.0), ("partition", 1.0))
    max_down: int | None = None
    slow_latency_ms: float = 100.0

    def __post_init__(self) -> None:
        for kind, weight in self.kinds:
            if kind not in ("crash", "power_loss", "pause", "isolate", "partition", "slow_link"):
                raise ValueError(f"random schedules draw crash, power_loss, pause, isolate, partition or "
                                 f"slow_link; got {kind!r}")
            if weight < 0:
                raise ValueError(f"weight of {kind!r} must be >= 0, got {weight}")
        if self.mean_interval_ms <= 0:
            raise ValueError(f"mean_interval_ms must be > 0, got {self.mean_interval_ms}")
        if not 0 <= self.min_duration_ms <= self.max_duration_ms:
            raise ValueError("need 0 <= min_duration_ms <= max_duration_ms, got "
                             f"{self.min_duration_ms} and {self.max_duration_ms}")


def random_schedule(rng: random.Random, nodes: Sequence[Hashable], duration_ms: float,
                    options: FaultOptions | None = None, start_ms: float = 0.0) -> list[Fault]:
    """Draw faults over ``[start_ms, start_ms + duration_ms)``; each is undone before the window ends."""
    opts = options or FaultOptions()
    nodes = list(nodes)
    if not nodes:
        raise ValueError("random_schedule needs at least one node")
    kinds = [k for k, w in opts.kinds if w > 0]
    weights = [w for _, w in opts.kinds if w > 0]
    faults: list[Fault] = []
    end = start_ms + duration_ms
    t = start_ms
    busy_until: dict[Hashable, float] = {}
    net_busy_until = start_ms
    while kinds:
        t += rng.expovariate(1.0 / opts.mean_interval_ms)
        if t >= end:
            break
        kind = rng.choices(kinds, weights)[0]
        length = rng.uniform(opts.min_duration_ms, opts.max_duration_ms)
        stop = min(t + length, end - 1e-6)
        if kind == "partition":
            if t < net_busy_until or len(nodes) < 2:
                continue
            shuffled = nodes[:]
            rng.shuffle(shuffled)
            cut = rng.randint(1, len(shuffled) - 1)
            groups = (tuple(shuffled[:cut]), tuple(shuffled[cut:]))
            faults += [Fault(t, "partition", groups=groups), Fault(stop, "heal")]
            net_busy_until = stop
            continue
        if kind == "isolate" and t < net_busy_until:
            continue
        free = [n for n in nodes if busy_until.get(n, start_ms) <= t]
        down = len(nodes) - len(free)
        if not free or (opts.max_down is not None and down >= opts.max_down):
            continue
        node = rng.choice(free)
        busy_until[node] = stop
        if kind in ("crash", "power_loss"):
            faults += [Fault(t, kind, node=node), Fault(stop, "restart", node=node)]
        elif kind == "pause":
            faults += [Fault(t, "pause", node=node), Fault(stop, "resume", node=node)]
        elif kind == "isolate":
            faults += [Fault(t, "isolate", node=node), Fault(stop, "heal")]
            net_busy_until = stop
        elif kind == "slow_link":
            other = rng.choice([n for n in nodes if n != node] or [node])
            faults.append(Fault(t, "slow_link", a=node, b=other, latency_ms=opts.slow_latency_ms))
    faults.sort(key=lambda f: f.at_ms)
    return faults


@dataclass
class Nemesis:
    """Applies faults to a target (a World, RaftCluster or Cluster) at their virtual times and keeps a log."""

    target: Any
    applied: list[tuple[float, str]] = field(default_factory=list)

    def schedule(self, faults: Sequence[Fault]) -> None:
        kernel = self.target.kernel
        for fault in faults:
            at = max(fault.at_ms, kernel.now)
            kernel.schedule_at(at, self._apply, fault, name=f"nemesis {fault.describe()}")

    def _apply(self, fault: Fault) -> None:
        fault.apply(self.target)
        self.applied.append((self.target.kernel.now, fault.describe()))

    def random(self, duration_ms: float, nodes: Sequence[Hashable] | None = None,
               options: FaultOptions | None = None) -> list[Fault]:
        """Draw a schedule from the run's ``nemesis`` stream, starting now, and schedule it."""
        kernel = self.target.kernel
        faults = random_schedule(kernel.rng("nemesis"), nodes if nodes is not None else self.target.nodes,
                                 duration_ms, options, start_ms=kernel.now)
        self.schedule(faults)
        return faults

"""The named experiments the command line runs: one function per seed each, with its parameters and defaults.

Every entry is a function ``fn(**params, seed=s)`` returning a row (dict) or a small DataFrame, which
:func:`~kafkalab.experiments.sweep` runs over a grid and seeds. Parameters and their defaults are read from the
function's signature (only plain int, float, bool and str parameters are offered, so every one can be typed on a
command line). Every entry replays: one seed again, with its trace digest and the checker's verdict (a workload
returns both; an experiment's trial is replayed under :func:`kafkalab.experiments.trace.capture`).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = ["Experiment", "EXPERIMENTS", "get_experiment", "coerce"]

_PLAIN = (bool, int, float, str)
#: parameters that change how a run is kept, not what it is
_HIDDEN = frozenset({"keep_cluster"})


@dataclass(frozen=True)
class Experiment:
    """A named per-seed function; ``replay(seed, **params)`` returns a WorkloadResult (workloads only)."""

    name: str
    fn: Callable[..., Any]
    doc: str
    replay: Callable[..., Any] | None = None
    #: whose signatures name the parameters (later ones override earlier defaults); default: ``fn``'s
    signature_of: tuple[Callable[..., Any], ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        """Parameter -> default, in signature order (seed excluded)."""
        out: dict[str, Any] = {}
        for target in self.signature_of or (self.fn,):
            bound = target.keywords if isinstance(target, partial) else {}
            target = target.func if isinstance(target, partial) else target
            for name, p in inspect.signature(target).parameters.items():
                if name == "seed" or name in bound or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                if name in _HIDDEN or p.default is inspect.Parameter.empty:
                    continue
                plain_none = p.default is None and str(p.annotation) in ("int | None", "float | None", "str | None")
                if plain_none or isinstance(p.default, _PLAIN):
                    out[name] = p.default
        return out


def _workload_row(name: str, seed: int, **params: Any) -> dict[str, Any]:
    from kafkalab.workloads import WORKLOADS

    return WORKLOADS[name](seed, **params).row()


def _workload_replay(name: str, seed: int, **params: Any) -> Any:
    from kafkalab.workloads import WORKLOADS

    return WORKLOADS[name](seed, **params)


def figure16(timeout_range: str = "150-155", seed: int = 0) -> dict[str, Any]:
    """One Figure 16 trial (a leader crash on the paper's 5 servers) with the seed as given."""
    from kafkalab.experiments.elections import figure16_trial

    return figure16_trial(timeout_range, seed)


def split_votes(n: int = 5, s: int = 4, latency_fraction: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """One crash in the split-vote model of Ongaro's thesis."""
    from kafkalab.experiments.elections import split_vote_trial

    return split_vote_trial(n, s, latency_fraction, seed)


def rebalance(scenario: str = "scale_out", protocol: str = "eager", seed: int = 0, consumers: int = 3,
              added: int = 3, partitions: int = 12) -> Any:
    """One rebalance trial's row."""
    from kafkalab.experiments.rebalance import rebalance_trial

    return rebalance_trial(scenario, protocol, seed, consumers=consumers, added=added, partitions=partitions).row


def throughput(records: int = 20_000, value_bytes: int = 100, partitions: int = 6, replication_factor: int = 3,
               min_insync_replicas: int = 1, acks: str = "all", batch_size: int = 16_384, linger_ms: float = 5.0,
               producers: int = 1, seed: int = 0) -> dict[str, Any]:
    """One producer run of the throughput experiment (virtual-time records/s and latency)."""
    from kafkalab.experiments.throughput import Workload, run

    return run(Workload(records=records, value_bytes=value_bytes, partitions=partitions,
                        replication_factor=replication_factor, min_insync_replicas=min_insync_replicas, acks=acks,
                        batch_size=batch_size, linger_ms=linger_ms, producers=producers), seed=seed)


def _entries() -> dict[str, Experiment]:
    from kafkalab.experiments import failover as fo
    from kafkalab.experiments import rebalance as rb
    from kafkalab.workloads import WORKLOADS

    out = {}
    for name, workload in WORKLOADS.items():
        signatures = (WORKLOADS["queue"], workload) if name == "skewed" else (workload,)
        out[name] = Experiment(name, partial(_workload_row, name), (workload.__doc__ or "").split("\n")[0],
                               partial(_workload_replay, name), signatures)
    out["durability"] = Experiment("durability", fo.durability_trial, "one cell of the durability matrix")
    out["failover"] = Experiment("failover", fo.failover_trial, "one leader failover and its unavailability window")
    out["figure16"] = Experiment("figure16", figure16, "one Raft Figure 16 trial")
    out["split_votes"] = Experiment("split_votes", split_votes, "one crash in the split-vote model")
    out["rebalance"] = Experiment("rebalance", rebalance, "one consumer-group rebalance trial")
    out["growth"] = Experiment("growth", rb.growth_trial, "a group's partitions grow tenfold (KIP-848's example)")
    out["throughput"] = Experiment("throughput", throughput, "one producer throughput run")
    return out


class _Registry(dict[str, Experiment]):
    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self.update(_entries())
            self._loaded = True

    def __getitem__(self, key: str) -> Experiment:
        self._load()
        return super().__getitem__(key)

    def __iter__(self) -> Any:
        self._load()
        return super().__iter__()

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def items(self) -> Any:
        self._load()
        return super().items()


#: Experiments by name (loaded on first use: they import the whole stack).
EXPERIMENTS: dict[str, Experiment] = _Registry()


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``, or a ValueError naming the closest one and every name."""
    if name not in EXPERIMENTS:
        from kafkalab.check.report import closest_hint

        names = list(EXPERIMENTS)
        raise ValueError(f"unknown experiment {name!r}{closest_hint(name, names)}; experiments: {', '.join(names)}")
    return EXPERIMENTS[name]


def coerce(experiment: Experiment, name: str, text: str) -> Any:
    """``text`` as the type of parameter ``name``'s default (a ValueError names the expected type)."""
    params = experiment.params
    if name not in params:
        from kafkalab.check.report import closest_hint

        raise ValueError(f"experiment {experiment.name!r} has no parameter {name!r}{closest_hint(name, list(params))}; "
                         f"parameters: {', '.join(params)}")
    default = params[name]
    try:
        if isinstance(default, bool):
            folded = text.strip().lower()
            if folded not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return folded in ("true", "1", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise ValueError(f"parameter {name!r} of {experiment.name!r} expects {type(default).__name__} (default "
                         f"{default!r}), got {text!r}") from None
    if default is None and text.lower() == "none":
        return None
    if default is None:
        for number in (int, float):
            try:
                return number(text)
            except ValueError:
                pass
    return text

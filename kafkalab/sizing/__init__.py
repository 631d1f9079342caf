"""Sizing mode: hours of a large Kafka cluster in seconds, on a hardware model, as perf-test and OMB measure it.

``kl.sizing.run(brokers, hardware=..., producers=..., rate=..., record_size=..., duration_s=..., partitions=...)``
runs a :class:`~kafkalab.sizing.workload.SizingWorkload` (producers at a target rate, fixed-size random payloads,
consumers reading everything) through :mod:`kafkalab.sizing.engine`, which moves counted batches (record count, byte
size, creation times: no record objects) through Kafka's produce, replication and fetch hops on each broker's
:class:`~kafkalab.Hardware` (NIC, disk and page cache, network and request-handler threads). It returns a
:class:`~kafkalab.sizing.result.SizingResult`: throughput (records/s, MB/s), produce and end-to-end latency
percentiles (p50, p99, p99.9), the publish delay, and a per-second timeline. Same arguments and seed, same result.

``brokers`` may be a :class:`kafkalab.Cluster`: its broker count, hardware (``Cluster(hardware=...)``) and link
spec are used (the cluster itself is not run). :mod:`kafkalab.sizing.faithful` runs the same workload through a real
cluster, with real records (to check the two agree) or with counted records (``counted=True``: the same batches and
events through the real producer, brokers, log, replication and consumers, at a cost per batch); :mod:`kafkalab.sizing.anchors` reproduces the published
OpenMessaging Benchmark and Kreps 2014 numbers.
"""
from __future__ import annotations

from typing import Any

from kafkalab.broker.hardware import PRESETS, Hardware, resolve_hardware
from kafkalab.sim.network import LinkSpec
from kafkalab.sizing.engine import Engine
from kafkalab.sizing.result import SizingResult
from kafkalab.sizing.workload import SizingWorkload

__all__ = ["run", "run_workload", "SizingWorkload", "SizingResult", "Hardware", "PRESETS", "PRESET_NETWORKS"]

#: The network between machines that goes with a hardware preset (used when ``network`` is not given).
#: kreps-2014: the library default link (0.5 ms one way, 0.1 ms jitter, 1 Gbit/s per link), as the faithful Kreps
#: experiment uses. omb-i3en.2xlarge: one AWS availability zone, 0.05 ms one way (our estimate), no per-link limit
#: (the 25 Gbit/s NIC is the limit), and ``jitter_ms`` 0.8 **calibrated** so the end-to-end p99 at 200 MB/s matches
#: the post's 5 ms (a uniform jitter per message stands for everything that spreads latency: GC, scheduling, TCP).
PRESET_NETWORKS: dict[str, LinkSpec] = {
    "kreps-2014": LinkSpec(),
    "omb-i3en.2xlarge": LinkSpec(latency_ms=0.05, jitter_ms=0.8, bandwidth_bytes_per_ms=None),
}


def run(brokers: Any = 3, *, hardware: Any = "default", network: LinkSpec | None = None, seed: int = 0,
        limit_s: float | None = None, **workload: Any) -> SizingResult:
    """Run one sizing workload; keyword arguments are :class:`SizingWorkload`'s fields (``producers``, ``rate``,
    ``record_size``, ``duration_s``, ``records``, ``partitions``, ``replication_factor``, ``acks``, ``linger_ms``,
    ``batch_size``, ``buffer_memory``, ``max_in_flight``, ``consumers``, ``consumer_lag_s``, ...).

    ``hardware``: a :class:`Hardware`, a preset name (:data:`PRESETS`) or ``{broker id: either}`` for every broker.
    ``network``: the link spec between machines (latency, jitter, per-link bandwidth; default ``LinkSpec()``).
    ``limit_s``: stop after this much virtual time even if records are still in flight (default: run to the end).
    """
    return run_workload(SizingWorkload.from_kwargs(**workload), brokers, hardware=hardware, network=network,
                        seed=seed, limit_s=limit_s)


def run_workload(workload: SizingWorkload, brokers: Any = 3, *, hardware: Any = "default",
                 network: LinkSpec | None = None, seed: int = 0, limit_s: float | None = None) -> SizingResult:
    """:func:`run` for a ready :class:`SizingWorkload`."""
    if not isinstance(workload, SizingWorkload):
        raise TypeError(f"sizing: workload must be a SizingWorkload, got {type(workload).__name__}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"sizing: seed must be an int, got {type(seed).__name__}")
    if network is not None and not isinstance(network, LinkSpec):
        raise TypeError(f"sizing: network must be a kl.sim.network.LinkSpec or None, got {type(network).__name__}")
    count, per_broker, name = _brokers_and_hardware(brokers, hardware)
    if network is None:
        if hasattr(brokers, "network"):
            network = brokers.network.default
        elif isinstance(hardware, str) and hardware in PRESET_NETWORKS:
            network = PRESET_NETWORKS[hardware]
        else:
            network = LinkSpec()
    engine = Engine(workload, count, per_broker, network, seed)
    engine.run(None if limit_s is None else limit_s * 1000.0)
    return SizingResult.from_engine(engine, name)


def _brokers_and_hardware(brokers: Any, hardware: Any) -> tuple[int, dict[int, Hardware], str]:
    if isinstance(brokers, int) and not isinstance(brokers, bool):
        if brokers < 1:
            raise ValueError(f"sizing: brokers must be an int >= 1 or a kl.Cluster, got {brokers!r}")
        ids = list(range(1, brokers + 1))
        resolved = resolve_hardware(hardware, ids)
    elif hasattr(brokers, "brokers") and hasattr(brokers, "hardware"):
        ids = list(brokers.brokers)
        resolved = dict(brokers.hardware) or resolve_hardware(hardware, ids)
    else:
        raise TypeError(f"sizing: brokers must be an int >= 1 or a kl.Cluster, got {type(brokers).__name__}")
    missing = [b for b in ids if b not in resolved]
    if missing:
        raise ValueError(f"sizing: hardware is missing for brokers {missing}: give every broker a kl.Hardware or "
                         f"a preset name ({', '.join(PRESETS)})")
    name = hardware if isinstance(hardware, str) else "custom"
    if not isinstance(brokers, int) and brokers.hardware:
        presets = {h: n for n, h in PRESETS.items()}
        names = sorted({presets.get(h, "custom") for h in brokers.hardware.values()})
        name = names[0] if len(names) == 1 else "mixed"
    return len(ids), {i: resolved[b] for i, b in enumerate(ids)}, name

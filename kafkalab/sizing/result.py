"""What a sizing run reports: throughput, latency percentiles and a per-second timeline, as OMB and perf-test do.

How it works. The engine records one row per acknowledged batch and per consumed batch (time, first and last
record creation time, record count). Throughput is the records acknowledged (consumed) between the end of the warm-up
and the end of the run, over that window; MB/s counts payload bytes in MiB (2^20), as the OpenMessaging Benchmark
and Kreps's post do. Latency percentiles are over records created after the warm-up: a batch's records were created
evenly between its first and last creation times, so each batch stands for :data:`SAMPLES_PER_BATCH` records at
evenly spaced creation times, weighted by its record count, and the percentiles are the weighted ones (exact for a
batch of up to that many records, within a fraction of a batch's spread otherwise). Produce latency runs from a
record's creation to its producer's acknowledgement (``send()`` to callback), end-to-end latency to its arrival at the
consumer, and the publish delay is how far behind its schedule a batch's first record was created (OMB's
``publishDelayLatency``: it grows without bound when the offered load exceeds what the cluster takes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SizingResult", "SAMPLES_PER_BATCH", "weighted_percentiles"]

SAMPLES_PER_BATCH = 4
_MIB = 1024 * 1024
PERCENTILES = (50.0, 99.0, 99.9)


def weighted_percentiles(values: np.ndarray, weights: np.ndarray, percentiles: tuple[float, ...]) -> list[float]:
    """The smallest value whose cumulative weight reaches each percentile (NaN for no values)."""
    if len(values) == 0:
        return [float("nan")] * len(percentiles)
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weights[order])
    total = cw[-1]
    return [float(v[min(int(np.searchsorted(cw, p / 100.0 * total, side="left")), len(v) - 1)])
            for p in percentiles]


def _latencies(time: np.ndarray, first: np.ndarray, last: np.ndarray, n: np.ndarray,
               since_ms: float) -> tuple[np.ndarray, np.ndarray]:
    keep = first >= since_ms
    time, first, last, n = time[keep], first[keep], last[keep], n[keep]
    k = SAMPLES_PER_BATCH
    frac = (np.arange(k) + 0.5) / k
    created = first[:, None] + (last - first)[:, None] * frac[None, :]
    lat = (time[:, None] - created).ravel()
    weight = np.repeat(n / k, k)
    return lat, weight


@dataclass
class SizingResult:
    """One sizing run's numbers. ``summary`` is a dict, ``timeline`` a DataFrame per virtual second, ``latency`` a
    DataFrame of percentiles; ``row()`` flattens the workload, the hardware name and the summary for sweeps."""

    workload: Any
    brokers: int
    hardware: str
    seed: int
    summary: dict[str, float]
    timeline: pd.DataFrame
    latency: pd.DataFrame
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_engine(cls, engine: Any, hardware_name: str) -> SizingResult:
        w = engine.w
        warm = w.warmup * 1000.0
        ack_t = np.frombuffer(engine.ack_time, dtype=float)
        ack_n = np.frombuffer(engine.ack_n, dtype=float)
        con_t = np.frombuffer(engine.con_time, dtype=float)
        con_n = np.frombuffer(engine.con_n, dtype=float)
        end = max(min(w.duration_s * 1000.0, float(ack_t.max()) if len(ack_t) else 0.0), warm + 1e-9)
        window_s = (end - warm) / 1000.0
        acked = float(ack_n[(ack_t >= warm) & (ack_t <= end)].sum())
        con_end = w.duration_s * 1000.0
        con_start = max(warm, w.consumer_lag_s * 1000.0)
        consumed = float(con_n[(con_t >= con_start) & (con_t <= con_end)].sum())
        con_window = max(con_end - con_start, 1e-9) / 1000.0
        mb = w.record_size / _MIB
        summary: dict[str, float] = {
            "offered_records_per_s": float(w.rate) if w.rate is not None else float("nan"),
            "offered_mb_per_s": float(w.rate) * mb if w.rate is not None else float("nan"),
            "records_per_s": acked / window_s,
            "mb_per_s": acked / window_s * mb,
            "consumed_records_per_s": consumed / con_window if w.consumers else float("nan"),
            "consumed_mb_per_s": consumed / con_window * mb if w.consumers else float("nan"),
            # a consumer catching up on a backlog: everything it read over the time it spent reading
            "catch_up_records_per_s": (float(con_n.sum()) / ((con_t.max() - con_t.min()) / 1000.0)
                                       if len(con_t) > 1 and con_t.max() > con_t.min() else float("nan")),
        }
        lat, weight = _latencies(ack_t, np.frombuffer(engine.ack_first, dtype=float),
                                 np.frombuffer(engine.ack_last, dtype=float), ack_n, warm)
        produce = weighted_percentiles(lat, weight, PERCENTILES)
        lat, weight = _latencies(con_t, np.frombuffer(engine.con_first, dtype=float),
                                 np.frombuffer(engine.con_last, dtype=float), con_n, warm)
        e2e = weighted_percentiles(lat, weight, PERCENTILES)
        delay = np.frombuffer(engine.delay, dtype=float)
        delays = weighted_percentiles(delay, np.ones_like(delay), PERCENTILES)
        rows = []
        for what, values in (("produce", produce), ("end_to_end", e2e), ("publish_delay", delays)):
            for p, v in zip(PERCENTILES, values, strict=True):
                rows.append({"latency": what, "percentile": p, "ms": v})
                summary[f"{what}_p{str(p).rstrip('0').rstrip('.').replace('.', '')}_ms"] = v
        latency = pd.DataFrame(rows)
        seconds = int(np.ceil(max(float(ack_t.max()) if len(ack_t) else 0.0,
                                  float(con_t.max()) if len(con_t) else 0.0) / 1000.0)) or 1
        bins = np.arange(seconds + 1) * 1000.0
        produced, _ = np.histogram(ack_t, bins=bins, weights=ack_n)
        consumed_per_s, _ = np.histogram(con_t, bins=bins, weights=con_n)
        timeline = pd.DataFrame({"time_s": np.arange(seconds, dtype=float), "produced_records": produced,
                                 "produced_mb": produced * mb, "consumed_records": consumed_per_s,
                                 "consumed_mb": consumed_per_s * mb})
        for b in engine.brokers:
            summary[f"broker{b + 1}_io_util"] = engine.io_threads[b].utilisation(engine.now)
        counters = {"simulated_records": int(ack_n.sum()), "created_records": int(engine.created),
                    "consumed_records": int(con_n.sum()), "events": int(engine.events),
                    "produce_requests": int(engine.requests), "fetch_responses": int(engine.fetch_responses),
                    "batches": len(ack_n), "virtual_ms": int(round(engine.now)),
                    "disk_reads_bytes": int(sum(d.read_from_disk for d in engine.disks))}
        return cls(w, len(engine.brokers), hardware_name, engine.seed, summary, timeline, latency, counters)

    def row(self) -> dict[str, Any]:
        """Workload parameters, brokers, hardware, seed and the summary as one flat dict (a sweep's row)."""
        out: dict[str, Any] = {"brokers": self.brokers, "hardware": self.hardware, "seed": self.seed}
        out.update({k: getattr(self.workload, k) for k in ("producers", "rate", "record_size", "partitions",
                                                           "replication_factor", "acks", "linger_ms", "batch_size",
                                                           "consumers", "duration_s")})
        out.update(self.summary)
        return out

    def _repr_html_(self) -> str:
        return pd.DataFrame([self.summary]).T.rename(columns={0: "value"})._repr_html_()  # type: ignore[operator]

    def __repr__(self) -> str:
        s = self.summary
        return (f"SizingResult({self.brokers} brokers, {self.hardware}: {s['records_per_s']:,.0f} records/s, "
                f"{s['mb_per_s']:,.1f} MB/s, produce p99 {s['produce_p99_ms']:.2f} ms, "
                f"end-to-end p99 {s['end_to_end_p99_ms']:.2f} ms)")

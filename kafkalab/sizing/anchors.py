"""Published benchmarks redone in sizing mode, side by side with the published numbers (``data/sizing_anchors.csv``).

What it reproduces.
- Confluent, "Benchmarking Apache Kafka, Apache Pulsar, and RabbitMQ: Which is the Fastest?" (2020, OpenMessaging
  Benchmark): Kafka's peak stable throughput (about 605 MB/s) and its end-to-end p99 latency at 200 MB/s (5 ms). The
  workload, from the OpenMessaging Benchmark's Kafka driver files the post used: 3 brokers (i3en.2xlarge), one topic of
  100 partitions, 1 KB messages, replication factor 3, ``min.insync.replicas=2``, ``acks=all``, ``linger.ms=1``;
  ``batch.size`` 1 MiB for the throughput test (``kafka-throughput.yaml``), 128 KiB for the latency test
  (``kafka-latency.yaml``). The number of producers and consumers (4 and 4) is our assumption.
- Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap Machines)" (2014, KAFKA.md section 7):
  100-byte records, 6 partitions, ``batch.size=8196``, ``linger.ms=0``, 64 MiB ``buffer.memory``, at full scale
  (as fast as the producers go), on the ``kreps-2014`` preset.

What is calibrated and what is predicted (the ``role`` column).
- Calibrated on the OMB post: ``disk_write_mbps`` of ``omb-i3en.2xlarge`` (on the peak) and the jitter of its
  network preset (on the p99 at 200 MB/s); so those two rows reproduce by construction. Predicted: the p50 and
  p99.9 at 200 MB/s and the produce latency (no published table value to set them beside).
- Kreps: the producer's and the consumer's cost per record are the faithful experiment's constants
  (:data:`kafkalab.experiments.throughput.PRODUCER_US_PER_RECORD`, calibrated there on "1 producer, no replication",
  and ``CONSUMER_US_PER_RECORD``, on "1 consumer"); every other Kreps row is a prediction of the hardware model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kafkalab.sizing import run
from kafkalab.sizing.result import SizingResult

__all__ = ["published", "omb2020", "kreps2014", "OMB_THROUGHPUT", "OMB_LATENCY", "KREPS"]

DATA = Path(__file__).resolve().parents[2] / "data" / "sizing_anchors.csv"

#: The post's Kafka workload (see the module docstring); rate is set per run.
OMB_THROUGHPUT: dict[str, Any] = dict(producers=4, consumers=4, partitions=100, record_size=1024,
                                      replication_factor=3, acks="all", linger_ms=1.0, batch_size=1_048_576)
OMB_LATENCY: dict[str, Any] = dict(OMB_THROUGHPUT, batch_size=131_072)
#: Kreps 2014 producer settings (from the post's commands) and its 100-byte records on 6 partitions.
KREPS: dict[str, Any] = dict(record_size=100, partitions=6, batch_size=8196, linger_ms=0.0,
                             buffer_memory=67_108_864)
PRODUCER_US = 1.2      # = kafkalab.experiments.throughput.PRODUCER_US_PER_RECORD (calibrated there)
CONSUMER_US = 1.05     # = kafkalab.experiments.throughput.CONSUMER_US_PER_RECORD (calibrated there)


def published() -> pd.DataFrame:
    """The published numbers with their sources (``data/sizing_anchors.csv``)."""
    return pd.read_csv(DATA)


def omb_peak(seed: int = 0, duration_s: float = 14.0) -> SizingResult:
    """The throughput test: 1,000 MB/s offered (more than the cluster takes) for ``duration_s``; the first 8 s (the
    page cache filling with dirty pages) are left out."""
    return run(3, hardware="omb-i3en.2xlarge", rate=1000 * 1024, duration_s=duration_s,
               warmup_s=min(8.0, duration_s / 2), seed=seed, **OMB_THROUGHPUT)


def omb_latency(rate_mb: float = 200.0, seed: int = 0, duration_s: float = 4.0) -> SizingResult:
    """The latency test at ``rate_mb`` MB/s (1 KB records)."""
    return run(3, hardware="omb-i3en.2xlarge", rate=rate_mb * 1024, duration_s=duration_s, seed=seed, **OMB_LATENCY)


def omb2020(seed: int = 0, peak_duration_s: float = 14.0) -> pd.DataFrame:
    """The OMB anchors beside kafkalab: anchor, metric, published, kafkalab, unit, role."""
    table = published().set_index("anchor")
    peak = omb_peak(seed, peak_duration_s).summary
    lat = omb_latency(200.0, seed).summary
    rows = [
        ("omb_peak_throughput", "peak throughput", table.loc["omb_peak_throughput", "value"], peak["mb_per_s"],
         "MB/s", "calibrated (disk_write_mbps)"),
        ("omb_p99_latency_200", "end-to-end p99 at 200 MB/s", table.loc["omb_p99_latency_200", "value"],
         lat["end_to_end_p99_ms"], "ms", "calibrated (network jitter)"),
        (None, "end-to-end p50 at 200 MB/s", float("nan"), lat["end_to_end_p50_ms"], "ms", "predicted"),
        (None, "end-to-end p99.9 at 200 MB/s", float("nan"), lat["end_to_end_p999_ms"], "ms", "predicted"),
        (None, "produce p99 at 200 MB/s", float("nan"), lat["produce_p99_ms"], "ms", "predicted"),
    ]
    return pd.DataFrame(rows, columns=["anchor", "metric", "published", "kafkalab", "unit", "role"])


def _kreps_producer(replication_factor: int, acks: str, producers: int, seed: int, duration_s: float) -> float:
    r = run(3, hardware="kreps-2014", replication_factor=replication_factor, acks=acks, producers=producers,
            consumers=0, rate=None, producer_us_per_record=PRODUCER_US, duration_s=duration_s, seed=seed, **KREPS)
    return r.summary["records_per_s"]


def _kreps_consumers(consumers: int, seed: int) -> float:
    r = run(3, hardware="kreps-2014", replication_factor=3, acks="1", producers=3, consumers=consumers,
            records=3_000_000, rate=3_000_000, duration_s=1.0, consumer_lag_s=8.0,
            consumer_us_per_record=CONSUMER_US, seed=seed, **KREPS)
    return r.summary["catch_up_records_per_s"]


def kreps2014(seed: int = 0, duration_s: float = 3.0) -> pd.DataFrame:
    """Kreps's 2014 tests on ``kreps-2014`` hardware beside the post: anchor, metric, published, kafkalab, unit, role."""
    table = published().set_index("anchor")
    runs: list[tuple[str, str, float, str]] = [
        ("kreps_1p_norep", "1 producer, no replication", _kreps_producer(1, "1", 1, seed, duration_s),
         "calibrated (producer cost per record)"),
        ("kreps_1p_async", "1 producer, 3x async replication", _kreps_producer(3, "1", 1, seed, duration_s),
         "predicted"),
        ("kreps_1p_sync", "1 producer, 3x sync replication", _kreps_producer(3, "all", 1, seed, duration_s),
         "predicted"),
        ("kreps_3p_async", "3 producers, 3x async replication", _kreps_producer(3, "1", 3, seed, duration_s),
         "predicted"),
        ("kreps_1c", "1 consumer", _kreps_consumers(1, seed), "calibrated (consumer cost per record)"),
        ("kreps_3c", "3 consumers", _kreps_consumers(3, seed), "predicted"),
    ]
    lat = run(3, hardware="kreps-2014", replication_factor=3, acks="1", producers=1, consumers=1, rate=1000,
              duration_s=duration_s, seed=seed, **dict(KREPS, partitions=1)).summary
    rows = [(a, m, table.loc[a, "value"], v, "records/s", role) for a, m, v, role in runs]
    rows += [("kreps_e2e_p50", "end-to-end latency p50", table.loc["kreps_e2e_p50", "value"],
              lat["end_to_end_p50_ms"], "ms", "predicted"),
             ("kreps_e2e_p99", "end-to-end latency p99", table.loc["kreps_e2e_p99", "value"],
              lat["end_to_end_p99_ms"], "ms", "predicted")]
    return pd.DataFrame(rows, columns=["anchor", "metric", "published", "kafkalab", "unit", "role"])

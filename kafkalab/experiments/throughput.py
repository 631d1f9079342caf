"""Throughput and latency of a simulated Kafka cluster in virtual time, and Kreps's 2014 benchmark redone on it.

What it reproduces. Jay Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap Machines)",
LinkedIn Engineering blog, 27 April 2014 (KAFKA.md section 7): three brokers on 1 GbE, 100-byte records, a topic of
6 partitions; producer throughput without replication, with 3x asynchronous (acks=1) and synchronous (acks=all)
replication, with three producers; consumer throughput with one and three consumers; end-to-end latency. The
published numbers are in ``data/kreps2014.csv`` (provenance in ``data/kreps2014.json``).

How a producer run works (:func:`run`). A fresh :class:`kafkalab.Cluster` (``brokers`` brokers, 3 controllers, the
link spec ``network`` and the broker :class:`~kafkalab.broker.cost.CostModel` ``cost``) gets one topic. Each producer
is first warmed up (one record, so metadata and its producer id are known), then offers ``records / producers``
records of ``value_bytes`` bytes at the rate its *application thread* can: one record every
``client_us_per_record`` microseconds of virtual time (the Java client's own cost per ``send()``; 0 means infinitely
fast). Time advances in steps of ``step_ms``: a step's records are sent at the step's start, then the simulation runs
to the step's end. When ``buffer.memory`` is exhausted ``send()`` blocks and drives the simulation itself: that is
back-pressure, and the producer resumes from wherever the clock then stands (it does not catch up on lost time).
Throughput is the steady rate of acknowledgements: records acknowledged between the 10th and the 90th percentile
of acknowledgement times over that time (:data:`STEADY_WINDOW`; Kreps's runs of 50 million records had no ramp-up or
tail worth speaking of, a short run would be dominated by them). ``virtual_ms`` is that window. Latency is each
record's time from ``send()`` to its acknowledgement. Both come from the cluster's history (``invoke`` and ``ok``
times), never from the system's own counters.

Consumers (:func:`consume`) read a topic filled beforehand from offset 0; each consumer's application spends
``client_us_per_record`` per record it gets (its own busy clock), so one consumer is bounded by its CPU, and many
consumers scale until the brokers or links saturate. End-to-end latency (:func:`end_to_end_latency`) sends one record
at a time and measures until a consumer has it, as Kafka's ``EndToEndLatency`` tool does.

Calibration and what is a prediction. The broker cost model and the 1 GbE links are the library defaults
(``kafkalab/broker/cost.py``, ``kafkalab/sim/network.py``). Two client constants are calibrated on one anchor each
and then held fixed: :data:`PRODUCER_US_PER_RECORD` on "1 producer, no replication" and :data:`CONSUMER_US_PER_RECORD`
on "1 consumer". Everything else in :func:`kreps2014` is a prediction of the model.

Simplifications (named here; the rest are the network's and the cost model's): a link's bandwidth is per direction and
per pair of nodes, not a shared NIC, so three producers or a consumer reading three brokers never contend for one
machine's wire; the client's cost per record is a constant, without GC pauses or batching effects inside the client;
sends within one ``step_ms`` share a timestamp.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kafkalab.broker.cost import DEFAULT_COST, CostModel
from kafkalab.broker.server import BrokerServer
from kafkalab.cluster import Cluster
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.experiments.provenance import DATA_DIR, code_version, write_result
from kafkalab.experiments.sweep import sweep as _sweep
from kafkalab.experiments.trace import traced
from kafkalab.sim.network import LinkSpec

__all__ = [
    "Workload", "PRODUCER_US_PER_RECORD", "CONSUMER_US_PER_RECORD", "SWEEP_PARAMETERS", "COLUMNS", "KREPS_WORKLOADS",
    "STEADY_WINDOW",
    "run", "sweep", "consume", "end_to_end_latency", "kreps2014", "kreps_anchors", "compare_with_kreps",
    "DATA_DIR", "main",
]

TOPIC = "perf"
MIB = 1024 * 1024

#: The Java producer's cost per ``send()`` on a 2014 core, calibrated so one producer without replication runs at
#: Kreps's 821,557 records/s (1 / 821,557 s = 1.22 us); the rest of the path adds a little.
PRODUCER_US_PER_RECORD = 1.2
#: The consumer's cost per record handed to the application, calibrated on Kreps's one consumer (940,521 records/s).
CONSUMER_US_PER_RECORD = 1.05

#: Throughput is measured between these fractions of the acknowledgements (the ramp-up and the last linger left out).
STEADY_WINDOW = (0.1, 0.9)

#: The columns of :func:`run` and :func:`sweep` rows, config first.
COLUMNS = ("records", "value_bytes", "partitions", "replication_factor", "min_insync_replicas", "acks",
           "batch_size", "linger_ms", "producers", "client_us_per_record", "seed",
           "virtual_ms", "records_per_s", "mb_per_s", "p50_latency_ms", "p99_latency_ms", "max_latency_ms",
           "requests", "records_per_request")


@dataclass(frozen=True, slots=True)
class Workload:
    """One producer run's configuration. ``producer_config`` adds any other producer keys (Kafka's names)."""

    records: int = 20_000
    value_bytes: int = 100
    partitions: int = 6
    replication_factor: int = 3
    min_insync_replicas: int = 1
    acks: str = "all"
    batch_size: int = 16_384
    linger_ms: float = 5.0
    producers: int = 1
    client_us_per_record: float = PRODUCER_US_PER_RECORD
    brokers: int = 3
    step_ms: float = 0.1
    producer_config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("records", "value_bytes", "partitions", "replication_factor", "min_insync_replicas",
                     "batch_size", "producers", "brokers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Workload.{name} must be an int >= 1, got {value!r}")
        if self.replication_factor > self.brokers:
            raise ValueError(f"Workload.replication_factor={self.replication_factor} needs at least that many "
                             f"brokers, got brokers={self.brokers}")
        if self.records < self.producers:
            raise ValueError(f"Workload.records={self.records} must be at least producers={self.producers}")
        if self.linger_ms < 0 or self.client_us_per_record < 0:
            raise ValueError(f"Workload.linger_ms and client_us_per_record must be >= 0, got {self.linger_ms}, "
                             f"{self.client_us_per_record}")
        if not self.step_ms > 0:
            raise ValueError(f"Workload.step_ms must be > 0, got {self.step_ms}")
        if str(self.acks) not in ("all", "-1", "1", "0"):
            raise ValueError(f"Workload.acks must be one of 'all', '1', '0' (or -1 = all), got {self.acks!r}")

    def producer_settings(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"acks": str(self.acks), "batch.size": self.batch_size, "linger.ms": self.linger_ms}
        cfg.update(self.producer_config)
        return cfg


#: Workload fields :func:`sweep` may vary.
SWEEP_PARAMETERS = ("batch_size", "linger_ms", "partitions", "acks", "replication_factor", "producers",
                    "min_insync_replicas", "value_bytes", "client_us_per_record")


class _CostedCluster(Cluster):
    """A Cluster whose brokers use ``cost`` instead of the default cost model."""

    def __init__(self, *args: Any, cost: CostModel, **kwargs: Any) -> None:
        self._cost = cost
        super().__init__(*args, **kwargs)

    def _broker_factory(self, broker_id: int) -> Callable[[Any], BrokerServer]:
        cost = self._cost
        return lambda ctx: BrokerServer(ctx, broker_id, self.controllers, self.config, cost=cost)


def _cluster(brokers: int, seed: int, cost: CostModel | None, network: LinkSpec | None) -> Cluster:
    if cost is None or cost == DEFAULT_COST:
        return traced(Cluster(brokers=brokers, controllers=3, seed=seed, network=network))
    if not isinstance(cost, CostModel):
        raise TypeError(f"cost must be a kafkalab.broker.cost.CostModel, got {type(cost).__name__}")
    return traced(_CostedCluster(brokers=brokers, controllers=3, seed=seed, network=network, cost=cost))


def _values(value_bytes: int, n: int = 64) -> list[bytes]:
    return [(f"{i:04d}".encode() * (value_bytes // 4 + 1))[:value_bytes] for i in range(n)]


# -- producers ----------------------------------------------------------------------------------------------------
def run(workload: Workload | None = None, *, seed: int = 0, cost: CostModel | None = None,
        network: LinkSpec | None = None, **overrides: Any) -> dict[str, Any]:
    """One producer run; a dict with :data:`COLUMNS` (records_per_s and mb_per_s in virtual time; latency in ms).

    >>> row = run(records=2_000, seed=1)
    >>> row["records"], row["acks"], row["records_per_s"] > 0
    (2000, 'all', True)
    """
    w = replace(workload or Workload(), **overrides) if overrides else (workload or Workload())
    cluster = _cluster(w.brokers, seed, cost, network)
    cluster.create_topic(TOPIC, partitions=w.partitions, replication_factor=w.replication_factor,
                         config={"min.insync.replicas": w.min_insync_replicas})
    producers = [cluster.producer(w.producer_settings()) for _ in range(w.producers)]
    for producer in producers:          # metadata and producer id first, as a perf tool's first record would
        producer.send(TOPIC, b"warm-up")
        producer.flush()
    history = cluster.history
    first_op = len(history.ops)
    sent = _offer(cluster, producers, w)
    for producer in producers:
        producer.flush()
    requests = sum(p.metrics()["requests_sent"] for p in producers)
    return _summarise(w, seed, history.ops[first_op:], sent, requests)


def _offer(cluster: Cluster, producers: list[Any], w: Workload) -> int:
    """Send every producer's share paced by its application thread; returns how many records were sent."""
    values = _values(w.value_bytes)
    nvals = len(values)
    quota = [w.records // w.producers + (1 if i < w.records % w.producers else 0) for i in range(w.producers)]
    done = [0] * w.producers
    us = w.client_us_per_record
    per_ms = us / 1000
    next_at = [cluster.now] * w.producers          # each application thread's own clock
    step = w.step_ms
    end = cluster.now
    while True:
        end += step
        for i, producer in enumerate(producers):
            send = producer.send
            n, q = done[i], quota[i]
            if us == 0:
                batch = q - n
            else:
                batch = min(q - n, max(0, math.floor((end - next_at[i]) * 1000 / us)))
            t = next_at[i]
            for _ in range(batch):
                before = cluster.now
                send(TOPIC, values[n % nvals])
                n += 1
                t += per_ms
                if cluster.now > before:               # send() blocked on buffer.memory and drove the simulation
                    t = max(t, cluster.now)
                    end = max(end, cluster.now)
            next_at[i] = t
            done[i] = n
        if all(d >= q for d, q in zip(done, quota, strict=True)):
            return sum(done)
        if end > cluster.now:
            cluster.run(end - cluster.now)


def _summarise(w: Workload, seed: int, ops: Sequence[Any], sent: int, requests: int) -> dict[str, Any]:
    invoked: dict[int, float] = {}
    acked_at: list[float] = []
    latencies: list[float] = []
    failed = 0
    for op in ops:
        if op.f != "send":
            continue
        if op.type == "invoke":
            invoked[op.op] = op.time_ms
        elif op.type == "ok":
            start = invoked.get(op.op)
            if start is not None:
                acked_at.append(op.time_ms)
                latencies.append(op.time_ms - start)
        else:
            failed += 1
    if failed or len(latencies) != sent:
        raise RuntimeError(f"{failed} of {sent} sends failed or never completed (seed={seed}, {w})")
    acks = np.sort(np.asarray(acked_at))
    lo, hi = int(STEADY_WINDOW[0] * (sent - 1)), int(math.ceil(STEADY_WINDOW[1] * (sent - 1)))
    span = float(acks[hi] - acks[lo])
    lat = np.asarray(latencies)
    rps = (hi - lo) / span * 1000 if span > 0 else math.inf
    row = {"records": w.records, "value_bytes": w.value_bytes, "partitions": w.partitions,
           "replication_factor": w.replication_factor, "min_insync_replicas": w.min_insync_replicas,
           "acks": "all" if str(w.acks) == "-1" else str(w.acks), "batch_size": w.batch_size,
           "linger_ms": float(w.linger_ms), "producers": w.producers,
           "client_us_per_record": float(w.client_us_per_record), "seed": seed,
           "virtual_ms": span, "records_per_s": rps, "mb_per_s": rps * w.value_bytes / MIB,
           "p50_latency_ms": float(np.percentile(lat, 50)), "p99_latency_ms": float(np.percentile(lat, 99)),
           "max_latency_ms": float(lat.max()), "requests": requests,
           "records_per_request": sent / requests if requests else math.nan}
    return row


def sweep(parameter: str, values: Iterable[Any], workload: Workload | None = None, *, seed: int = 0,
          cost: CostModel | None = None, network: LinkSpec | None = None,
          on_result: Callable[[pd.DataFrame], None] | None = None, n_jobs: int = 1, progress: bool = False,
          **overrides: Any) -> pd.DataFrame:
    """One :func:`run` per value of ``parameter`` (a :data:`SWEEP_PARAMETERS` name); a tidy frame, one row each,
    through :func:`kafkalab.experiments.sweep` (``n_jobs`` worker processes).

    ``on_result(frame_so_far)`` is called after every point (a notebook redraws its live plot there);
    ``progress``: a ``tqdm.auto`` bar over the points.
    """
    if parameter not in SWEEP_PARAMETERS:
        raise ValueError(f"cannot sweep {parameter!r}; sweepable: {', '.join(SWEEP_PARAMETERS)}")
    base = replace(workload or Workload(), **overrides) if overrides else (workload or Workload())
    values = list(values)
    if not values:
        raise ValueError(f"sweep of {parameter!r} needs at least one value")
    done: list[pd.DataFrame] = []

    def arrived(frame: pd.DataFrame) -> None:
        done.append(frame)
        if on_result is not None:
            on_result(pd.concat(done, ignore_index=True)[list(COLUMNS)])

    frame = _sweep(partial(_run_point, base=base, parameter=parameter, cost=cost, network=network),
                   {"value": values}, [seed], n_jobs=n_jobs, label=False, progress=progress, on_result=arrived)
    return frame[list(COLUMNS)]


def _run_point(value: Any, seed: int, *, base: Workload, parameter: str, cost: CostModel | None,
               network: LinkSpec | None) -> dict[str, Any]:
    return run(replace(base, **{parameter: value}), seed=seed, cost=cost, network=network)


# -- consumers and end-to-end latency -----------------------------------------------------------------------------
def consume(records: int = 20_000, consumers: int = 1, *, partitions: int = 6, replication_factor: int = 3,
            value_bytes: int = 100, client_us_per_record: float = CONSUMER_US_PER_RECORD, brokers: int = 3,
            seed: int = 0, cost: CostModel | None = None, network: LinkSpec | None = None,
            consumer_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fill a topic, then read it with ``consumers`` consumers (partitions dealt round robin); one row: consumers,
    records, virtual_ms, records_per_s, mb_per_s.

    Each consumer's rate is measured from its first records (a warm pipeline, as in a long run) until the first of
    its partitions is drained, and the rates are summed. The rest
    is left out because a fetch for a drained partition is parked for ``fetch.max.wait.ms`` (500 ms) and, with one
    fetch per broker at a time as in Kafka's consumer, it holds up that broker's other partitions: Kreps's runs of
    50 million records made that tail negligible, a short run would be dominated by it.
    """
    if not isinstance(consumers, int) or not 1 <= consumers <= partitions:
        raise ValueError(f"consumers must be an int in [1, partitions={partitions}], got {consumers!r}")
    if client_us_per_record < 0:
        raise ValueError(f"client_us_per_record must be >= 0, got {client_us_per_record}")
    cluster = _cluster(brokers, seed, cost, network)
    cluster.create_topic(TOPIC, partitions=partitions, replication_factor=replication_factor)
    producer = cluster.producer({"acks": "all"})
    values = _values(value_bytes)
    for i in range(records):
        producer.send(TOPIC, values[i % len(values)])
    producer.flush()
    cluster.run(100)                           # followers and the high watermark settle
    ends = dict(zip(cluster.describe_topic(TOPIC)["partition"], cluster.describe_topic(TOPIC)["high_watermark"],
                    strict=True))
    clients = []
    for c in range(consumers):
        consumer = cluster.consumer({"auto.offset.reset": "earliest", **dict(consumer_config or {})})
        consumer.assign([TopicPartition(TOPIC, p) for p in range(c, partitions, consumers)])
        clients.append(consumer)
        for p in range(c, partitions, consumers):  # offsets first (ListOffsets), as a running consumer has them
            consumer.position(TopicPartition(TOPIC, p))
    left = [{p: ends[p] for p in range(c, partitions, consumers)} for c in range(consumers)]
    busy = [cluster.now] * consumers
    got = [0] * consumers
    stopped: list[float | None] = [None] * consumers
    first: list[float | None] = [None] * consumers   # each rate starts at the consumer's first records
    start = cluster.now
    idle_ms = 0.05                             # a consumer with nothing to hand out polls again this much later
    while any(s is None for s in stopped):
        c = min((i for i in range(consumers) if stopped[i] is None), key=lambda i: (busy[i], i))
        if busy[c] > cluster.now:
            cluster.run(busy[c] - cluster.now)
        batch = clients[c].poll(0)
        if batch and first[c] is None:
            first[c] = cluster.now
        got[c] += len(batch)
        busy[c] = cluster.now + (len(batch) * client_us_per_record / 1000 if batch else idle_ms)
        mine = left[c]
        for record in batch:
            mine[record.partition] -= 1
        if batch and min(mine.values()) <= 0:
            stopped[c] = busy[c]
        if cluster.now - start > 600_000:
            raise RuntimeError(f"consumers stalled at {got} records, left {left} (seed={seed})")
    rps = sum(g / (s - f) * 1000 for g, f, s in zip(got, first, stopped, strict=True) if s is not None and f is not None)
    return {"consumers": consumers, "records": records, "partitions": partitions,
            "replication_factor": replication_factor, "client_us_per_record": float(client_us_per_record),
            "seed": seed, "measured_records": sum(got), "virtual_ms": max(s for s in stopped if s is not None) - start,
            "records_per_s": rps, "mb_per_s": rps * value_bytes / MIB}


def end_to_end_latency(samples: int = 200, *, acks: str = "1", replication_factor: int = 3, partitions: int = 1,
                       value_bytes: int = 100, gap_ms: float = 1.0, seed: int = 0, cost: CostModel | None = None,
                       network: LinkSpec | None = None) -> pd.DataFrame:
    """Kafka's ``EndToEndLatency`` tool: send one record, poll until the consumer has it, repeat ``samples`` times.

    One row per sample: sample, latency_ms (send to the consumer's poll returning it, virtual time). A consumer sees
    a record only below the high watermark, so replication is on the path even with acks=1.
    """
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    cluster = _cluster(3, seed, cost, network)
    cluster.create_topic(TOPIC, partitions=partitions, replication_factor=replication_factor)
    producer = cluster.producer({"acks": acks, "linger.ms": 0})
    consumer = cluster.consumer({"auto.offset.reset": "latest"})
    consumer.assign([TopicPartition(TOPIC, p) for p in range(partitions)])
    producer.send(TOPIC, b"warm-up", partition=0).result(10_000)
    consumer.poll(1_000)
    value = _values(value_bytes, 1)[0]
    rows = []
    for i in range(samples):
        cluster.run(gap_ms)
        start = cluster.now
        producer.send(TOPIC, value, partition=i % partitions)
        got: list[Any] = []
        while not got:
            got = consumer.poll(5_000)
            if not got and cluster.now - start >= 5_000:
                raise RuntimeError(f"sample {i}: the record did not arrive within 5 s (seed={seed})")
        rows.append({"sample": i, "latency_ms": cluster.now - start})
    return pd.DataFrame(rows, columns=["sample", "latency_ms"])


# -- Kreps 2014 -----------------------------------------------------------------------------------------------------
#: The producer settings of Kreps's runs: the 2014 producer's defaults (no idempotence, linger.ms=0), with the
#: post's batch.size=8196 and buffer.memory=64 MiB.
_KREPS_PRODUCER = {"batch.size": 8196, "linger.ms": 0, "buffer.memory": 67_108_864, "enable.idempotence": False}

#: name -> (replication_factor, acks, producers) of the producer anchors.
KREPS_WORKLOADS: dict[str, tuple[int, str, int]] = {
    "1 producer, no replication": (1, "1", 1),
    "1 producer, 3x async replication": (3, "1", 1),
    "1 producer, 3x sync replication": (3, "all", 1),
    "3 producers, 3x async replication": (3, "1", 3),
}


def kreps_anchors(path: Path | None = None) -> pd.DataFrame:
    """Kreps's published numbers (``data/kreps2014.csv``): test, metric, value, unit."""
    return pd.read_csv(path or DATA_DIR / "kreps2014.csv")


def kreps2014(records: int = 30_000, *, seed: int = 0, latency_samples: int = 200, cost: CostModel | None = None,
              network: LinkSpec | None = None, progress: bool = False) -> pd.DataFrame:
    """Kreps's tests on the model: one row per test with test, kind (producer/consumer/latency), records_per_s,
    mb_per_s, p50_latency_ms, p99_latency_ms. ``progress``: a ``tqdm.auto`` bar over the tests."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(KREPS_WORKLOADS) + 3, unit="test", desc="kreps2014", leave=False, disable=not progress)
    rows: list[dict[str, Any]] = []
    for name, (rf, acks, producers) in KREPS_WORKLOADS.items():
        w = Workload(records=records, partitions=6, replication_factor=rf, acks=acks, producers=producers,
                     batch_size=8196, linger_ms=0.0, producer_config=dict(_KREPS_PRODUCER))
        r = run(w, seed=seed, cost=cost, network=network)
        rows.append({"test": name, "kind": "producer", "records_per_s": r["records_per_s"],
                     "mb_per_s": r["mb_per_s"], "p50_latency_ms": r["p50_latency_ms"],
                     "p99_latency_ms": r["p99_latency_ms"]})
        bar.update()
    for consumers in (1, 3):
        r = consume(records, consumers, seed=seed, cost=cost, network=network)
        rows.append({"test": f"{consumers} consumer{'s' if consumers > 1 else ''}", "kind": "consumer",
                     "records_per_s": r["records_per_s"], "mb_per_s": r["mb_per_s"],
                     "p50_latency_ms": math.nan, "p99_latency_ms": math.nan})
        bar.update()
    lat = end_to_end_latency(latency_samples, seed=seed, cost=cost, network=network)["latency_ms"]
    bar.update()
    bar.close()
    rows.append({"test": "end-to-end latency", "kind": "latency", "records_per_s": math.nan, "mb_per_s": math.nan,
                 "p50_latency_ms": float(lat.quantile(0.5)), "p99_latency_ms": float(lat.quantile(0.99))})
    return pd.DataFrame(rows, columns=["test", "kind", "records_per_s", "mb_per_s", "p50_latency_ms",
                                       "p99_latency_ms"])


def compare_with_kreps(sim: pd.DataFrame, anchors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Side by side: test, kreps, sim, sim/kreps (records/s for throughput tests, ms for the latency percentiles)."""
    anchors = kreps_anchors() if anchors is None else anchors
    ours_by_test = {str(r["test"]): r for r in sim.to_dict("records")}
    rows = []
    for a in anchors.to_dict("records"):
        ours_row = ours_by_test.get(str(a["test"]))
        metric = str(a["metric"])
        if ours_row is None or metric not in ("records_per_s", "p50_latency_ms", "p99_latency_ms"):
            continue
        ours, theirs = float(ours_row[metric]), float(a["value"])
        rows.append({"test": a["test"], "metric": metric, "kreps": theirs, "sim": ours, "sim_over_kreps": ours / theirs})
    return pd.DataFrame(rows, columns=["test", "metric", "kreps", "sim", "sim_over_kreps"])


# -- full-size results for data/ -------------------------------------------------------------------------------------
#: The full-size sweeps :func:`main` writes: parameter -> values.
FULL_SWEEPS: dict[str, tuple[Any, ...]] = {
    "batch_size": (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072),
    "linger_ms": (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
    "partitions": (1, 2, 3, 6, 12, 24),
    "acks": ("0", "1", "all"),
    "replication_factor": (1, 2, 3),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``data/throughput_sweeps.parquet`` and ``data/throughput_kreps2014.parquet`` (+ ``.json`` provenance).

    ``python -m kafkalab.experiments.throughput [--records N] [--seed S] [--jobs N] [--out DIR]``
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kafkalab.experiments.throughput", description=main.__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the sweeps")
    args = parser.parse_args(argv)
    base = Workload(records=args.records)
    frames = []
    for parameter, values in FULL_SWEEPS.items():
        frame = sweep(parameter, values, base, seed=args.seed, n_jobs=args.jobs, progress=True)
        frame.insert(0, "sweep", parameter)
        frames.append(frame)
        print(f"swept {parameter}", file=sys.stderr)
    sweeps = pd.concat(frames, ignore_index=True)
    kreps = kreps2014(args.records, seed=args.seed, latency_samples=1000, progress=True)
    common = {
        "produced_by": "kafkalab.experiments.throughput",
        "command": f"python -m kafkalab.experiments.throughput --records {args.records} --seed {args.seed}",
        "code_version": code_version(), "seed": args.seed, "records": args.records,
        "cost_model": asdict(DEFAULT_COST), "network": asdict(LinkSpec()),
        "producer_us_per_record": PRODUCER_US_PER_RECORD, "consumer_us_per_record": CONSUMER_US_PER_RECORD,
    }
    write_result(sweeps, args.out, "throughput_sweeps", {
        "what": "virtual-time producer throughput and send-to-ack latency vs batch.size, linger.ms, partitions, "
                "acks and replication factor; one parameter varied per sweep, the others at Workload()'s defaults",
        "base_workload": {k: v for k, v in asdict(base).items() if k != "producer_config"},
        "sweeps": {k: list(v) for k, v in FULL_SWEEPS.items()}, **common})
    write_result(kreps, args.out, "throughput_kreps2014", {
        "what": "Kreps's 2014 benchmark tests redone on the model (anchors: data/kreps2014.csv)",
        "kreps_producer_settings": _KREPS_PRODUCER, "latency_samples": 1000,
        "comparison": json.loads(compare_with_kreps(kreps).to_json(orient="records")), **common})
    print(compare_with_kreps(kreps).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

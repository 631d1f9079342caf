"""The same sizing workload with real records through a real cluster: the check on the sizing engine.

How it works. :func:`run_faithful` builds a :class:`kafkalab.Cluster` with the workload's brokers, hardware and link
spec (one controller), creates the topic, starts ``consumers`` consumers in one group (``group.protocol=consumer``,
``auto.offset.reset=earliest``) and waits until they own every partition, warms each producer up with one record
(metadata and producer id), and then offers the records: every ``step_ms`` of virtual time each producer sends the
records due in that step (``send`` with an ``on_delivery`` callback that notes the acknowledgement time), the
simulation runs to the step's end, and every consumer polls. Throughput and latency are computed exactly as
:mod:`kafkalab.sizing.result` computes them, from acknowledgement and poll times, so the two paths can be compared
number for number. It costs about a Python call per record: use it for small cases. With ``counted=True`` the
producers send counted records (``KafkaProducer.send_counted``: the same batches, sizes and events as the real records,
no record objects) and the consumers read them with ``KafkaConsumer.poll_counts``, at a cost per batch: the faithful
simulation (real accumulator, sender, broker, log, replication, fetch sessions) for sizing-scale runs.

Differences from the engine, named: records due within one ``step_ms`` are created at the step's start (the engine
spaces them evenly), and a record's end-to-end latency is measured when a poll returns it (polls every ``step_ms``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kafkalab.cluster import Cluster
from kafkalab.sim.network import LinkSpec
from kafkalab.sizing.result import PERCENTILES, weighted_percentiles
from kafkalab.sizing.workload import SizingWorkload

__all__ = ["run_faithful"]

_MIB = 1024 * 1024


def run_faithful(workload: SizingWorkload, brokers: int = 3, *, hardware: Any = "default",
                 network: LinkSpec | None = None, seed: int = 0, step_ms: float = 1.0,
                 counted: bool = False) -> dict[str, float]:
    """Run ``workload`` (which must have a ``rate``) through a real cluster; returns the summary keys of
    :class:`~kafkalab.sizing.result.SizingResult` that both paths compute (throughput and latency percentiles).

    ``counted=True`` sends counted records (``producer.send_counted``, read with ``consumer.poll_counts``): the same
    batches and events as real records of ``record_size`` bytes, at a cost per batch instead of per record."""
    w = workload
    if w.rate is None:
        raise ValueError("run_faithful: the workload needs a rate (records per second); rate=None is for the engine")
    if not isinstance(counted, bool):
        raise TypeError(f"run_faithful: counted must be True or False, got {type(counted).__name__} {counted!r}")
    cluster = Cluster(brokers=brokers, controllers=1, seed=seed, network=network, hardware=hardware)
    cluster.create_topic("sizing", partitions=w.partitions, replication_factor=w.replication_factor)
    acks = "all" if w.acks_level == -1 else str(w.acks_level)
    producers = [cluster.producer({"acks": acks, "linger.ms": w.linger_ms, "batch.size": w.batch_size,
                                   "buffer.memory": w.buffer_memory,
                                   "max.in.flight.requests.per.connection": w.max_in_flight})
                 for _ in range(w.producers)]
    consumers = [cluster.consumer({"group.id": "sizing", "auto.offset.reset": "latest", "group.protocol": "consumer",
                                   "max.poll.records": 1_000_000})
                 for _ in range(w.consumers)]
    for c in consumers:
        c.subscribe(["sizing"])
    owned = lambda: sum(len(c.assignment()) for c in consumers) == w.partitions  # noqa: E731
    for _ in range(200):
        if not consumers or owned():
            break
        for c in consumers:
            c.poll(timeout_ms=50)
    for p in producers:
        p.send("sizing", value=b"warm-up").result()
    for c in consumers:          # let every consumer's position settle past the warm-up records
        c.poll(timeout_ms=600)
    value = bytes(w.record_size)
    start = cluster.now
    acked: list[tuple[float, float, int]] = []          # (ack time, created time, records), relative to start
    consumed: list[tuple[float, float, int]] = []

    def delivered(created: float) -> Any:
        def callback(metadata: Any, error: Any) -> None:
            if error is None:
                acked.append((cluster.now - start, created, 1))
        return callback

    def delivered_counted(created: float) -> Any:
        def callback(metadata: Any, error: Any) -> None:
            if error is None:
                acked.append((cluster.now - start, created, metadata.records))
        return callback

    def poll(c: Any, timeout_ms: float) -> None:
        if counted:
            now = cluster.now - start
            for part in c.poll_counts(timeout_ms=timeout_ms):
                now = cluster.now - start
                consumed.extend((now, float(ts) - start, n) for ts, n in part.timestamps)
            return
        for record in c.poll(timeout_ms=timeout_ms):
            consumed.append((cluster.now - start, float(record.timestamp_ms) - start, 1))

    per_ms = w.rate / w.producers / 1000.0
    end_ms = w.duration_s * 1000.0
    sent = [0] * w.producers
    t = 0.0
    while t < end_ms:
        for i, p in enumerate(producers):
            due = int(per_ms * (t + step_ms)) - sent[i]
            if w.records is not None:
                due = min(due, w.records // w.producers - sent[i])
            if due > 0 and counted:
                p.send_counted("sizing", due, w.record_size, on_delivery=delivered_counted(t))
            else:
                for _ in range(max(0, due)):
                    p.send("sizing", value=value, on_delivery=delivered(t))
            sent[i] += max(0, due)
        cluster.run(step_ms)
        t += step_ms
        for c in consumers:
            poll(c, 0)
    for p in producers:
        p.flush()
    total_acked = sum(n for _, _, n in acked)
    for _ in range(int(5_000 / step_ms)):
        if sum(n for _, _, n in consumed) >= total_acked or not consumers:
            break
        for c in consumers:
            poll(c, step_ms)
    return _summary(w, np.array(acked, dtype=float).reshape(-1, 3), np.array(consumed, dtype=float).reshape(-1, 3))


def _summary(w: SizingWorkload, acked: np.ndarray, consumed: np.ndarray) -> dict[str, float]:
    """Rows are (time, created time, records): one per record on the real path, one per part of a batch on the
    counted path (the percentiles weigh each row by its records)."""
    warm = w.warmup * 1000.0
    end = max(min(w.duration_s * 1000.0, float(acked[:, 0].max()) if len(acked) else 0.0), warm + 1e-9)
    window_s = (end - warm) / 1000.0
    n_acked = float(acked[(acked[:, 0] >= warm) & (acked[:, 0] <= end), 2].sum())
    con_end = w.duration_s * 1000.0
    n_consumed = float(consumed[(consumed[:, 0] >= warm) & (consumed[:, 0] <= con_end), 2].sum())
    mb = w.record_size / _MIB
    out = {"records_per_s": n_acked / window_s, "mb_per_s": n_acked / window_s * mb,
           "consumed_records_per_s": n_consumed / ((con_end - warm) / 1000.0) if w.consumers else float("nan")}
    for what, rows in (("produce", acked), ("end_to_end", consumed)):
        keep = rows[:, 1] >= warm
        lat = rows[keep, 0] - rows[keep, 1]
        values = weighted_percentiles(lat, rows[keep, 2], PERCENTILES)
        for p, v in zip(PERCENTILES, values, strict=True):
            out[f"{what}_p{str(p).rstrip('0').rstrip('.').replace('.', '')}_ms"] = v
    return out

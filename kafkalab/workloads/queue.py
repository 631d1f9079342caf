"""Workloads that write and read a Kafka topic under a nemesis and hand back the history for the checkers.

:func:`queue` follows Maelstrom's kafka workload (and Jepsen's ``jepsen.tests.kafka`` generator): many keys, each
mapped to one partition (Maelstrom's logs; key ``k`` is partition ``k % partitions``), and concurrent clients that,
at a steady rate, send a unique value to a key, poll from their offsets, commit their offsets and list the committed
offsets, all under a nemesis drawn from the seed. ``key_skew`` makes the keys Zipf-distributed (:func:`skewed`), the
way real keys are. :func:`producer_group` is a constant-rate producer beside a consumer group that subscribes and
rebalances through the faults. Every workload ends as Jepsen's do: the nemesis undoes its faults, in-flight sends
settle, and a fresh reader polls every partition from the beginning until nothing more arrives, so that an
acknowledged write nobody read is lost, not merely unseen.

Choices (which client, which operation, which key) come from the run's ``workload`` RNG stream, faults from its
``nemesis`` stream: the same seed and parameters give the same trace (``WorkloadResult.digest``). The transactional
workload (Jepsen's txn generator on :meth:`KafkaProducer.begin_transaction`) is :func:`kafkalab.workloads.transactional.txn`,
``"txn"`` in :data:`kafkalab.workloads.WORKLOADS`; its results are judged with ``read_committed``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import kafkalab as kl
from kafkalab.errors import KafkaError
from kafkalab.sim.faults import Fault
from kafkalab.sim.trace import Tracer
from kafkalab.workloads.nemesis import check_nemesis, start_nemesis
from kafkalab.workloads.result import WorkloadResult

__all__ = ["queue", "skewed", "producer_group", "WORKLOADS", "TOPIC"]

TOPIC = "queue"
_FAULTS = ("crash", "pause", "isolate", "partition")
_OPS = ("send", "poll", "commit", "list")


def _check_positive(name: str, value: Any, kind: type = int) -> None:
    if not isinstance(value, (int, float) if kind is float else int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


def _cluster(seed: int, brokers: int, partitions: int, replication_factor: int, min_insync_replicas: int,
             unclean: bool) -> kl.Cluster:
    cluster = kl.Cluster(brokers=brokers, controllers=3, seed=seed, config={
        "min.insync.replicas": min_insync_replicas, "unclean.leader.election.enable": unclean})
    cluster.create_topic(TOPIC, partitions=partitions, replication_factor=replication_factor)
    return cluster


def _drain(cluster: kl.Cluster, partitions: int, idle_polls: int = 6) -> None:
    """Jepsen's final reads: a fresh consumer polls every partition from the beginning until it stays empty."""
    reader = cluster.consumer({"auto.offset.reset": "earliest"})
    reader.assign([kl.TopicPartition(TOPIC, p) for p in range(partitions)])
    idle = 0
    while idle < idle_polls:
        try:
            idle = 0 if reader.poll(500) else idle + 1
        except KafkaError:
            idle += 1


#: After the faults: long enough for a fetch lost in a partition to time out (replica.socket.timeout.ms, 30 s) and
#: for a replica that stayed behind to leave the ISR (replica.lag.time.max.ms, 30 s), so the high watermark moves
#: again, as in Kafka; Jepsen's tests likewise wait for recovery before their final reads.
RECOVERY_MS = 40_000.0


def _settle(cluster: kl.Cluster, futures: list[Any], window_end_ms: float) -> None:
    cluster.run(max(0.0, window_end_ms - cluster.now))
    cluster.heal()
    cluster.run_until(lambda: all(f.done() for f in futures), 90_000)
    cluster.run(RECOVERY_MS)


def _finish(cluster: kl.Cluster, name: str, seed: int, params: dict[str, Any], nemesis: Any, tracer: Tracer,
            keep_cluster: bool, read_committed: Any = False) -> WorkloadResult:
    faults = list(nemesis.applied)
    metadata = {"workload": name, "seed": seed, "params": params, "faults": [f"{t:.0f} {d}" for t, d in faults]}
    cluster.history.metadata.update(metadata)
    return WorkloadResult(cluster.history, {**cluster.history.metadata}, faults, tracer.digest(),
                          cluster if keep_cluster else None, read_committed)


def queue(seed: int = 0, *, keys: int = 8, partitions: int = 4, clients: int = 3, ops_per_s: float = 100.0,
          duration_ms: float = 20_000.0, acks: str = "all", min_insync_replicas: int = 2,
          replication_factor: int = 3, brokers: int = 3, unclean: bool = False,
          nemesis: str | Sequence[Fault] = "random", faults: Iterable[str] = _FAULTS, key_skew: float = 0.0,
          keep_cluster: bool = False) -> WorkloadResult:
    """Maelstrom's kafka workload on a kafkalab cluster for ``duration_ms`` of virtual time; see the module doc.

    ``nemesis``: ``"random"`` (``faults`` drawn from the seed), ``"none"`` or a list of :class:`kafkalab.sim.Fault`
    (times relative to the workload's start). ``key_skew``: Zipf exponent of the key choice (0: uniform).
    """
    for name, value in (("keys", keys), ("partitions", partitions), ("clients", clients), ("brokers", brokers)):
        _check_positive(name, value)
    _check_positive("ops_per_s", ops_per_s, float)
    _check_positive("duration_ms", duration_ms, float)
    if not isinstance(key_skew, (int, float)) or key_skew < 0:
        raise ValueError(f"key_skew must be a number >= 0 (Zipf exponent; 0 = uniform), got {key_skew!r}")
    params = {"keys": keys, "partitions": partitions, "clients": clients, "ops_per_s": ops_per_s,
              "duration_ms": duration_ms, "acks": acks, "min_insync_replicas": min_insync_replicas,
              "replication_factor": replication_factor, "brokers": brokers, "unclean": unclean,
              "nemesis": check_nemesis(nemesis, faults), "faults": list(faults), "key_skew": key_skew}
    cluster = _cluster(seed, brokers, partitions, replication_factor, min_insync_replicas, unclean)
    tracer = Tracer(cluster.kernel)
    rng = cluster.kernel.rng("workload/queue")
    weights = [1.0 / (k + 1) ** key_skew for k in range(keys)]
    tps = [kl.TopicPartition(TOPIC, p) for p in range(partitions)]
    producers = [cluster.producer({"acks": acks, "linger.ms": 1, "request.timeout.ms": 5_000,
                                   "delivery.timeout.ms": 30_000}) for _ in range(clients)]
    consumers = []
    for _ in range(clients):
        c = cluster.consumer({"group.id": "queue", "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.assign(tps)
        consumers.append(c)
    start = cluster.now
    chaos = start_nemesis(cluster, nemesis, duration_ms, faults)
    futures: list[Any] = []
    sent = 0
    gap_ms = 1_000.0 / ops_per_s
    while cluster.now < start + duration_ms:
        i = rng.randrange(clients)
        op = rng.choices(_OPS, (0.5, 0.3, 0.1, 0.1))[0]
        try:
            if op == "send":
                key = rng.choices(range(keys), weights)[0]
                futures.append(producers[i].send(TOPIC, value=f"{i}-{sent}", key=f"k{key}",
                                                 partition=key % partitions))
                sent += 1
            elif op == "poll":
                consumers[i].poll(timeout_ms=gap_ms)
            elif op == "commit":
                consumers[i].commit(asynchronous=True)
            else:
                consumers[i].committed(tps, timeout_ms=gap_ms * 10)
        except KafkaError:
            pass                      # the history holds the failure; the client carries on as Maelstrom's do
        cluster.run(gap_ms)
    _settle(cluster, futures, start + duration_ms)
    _drain(cluster, partitions)
    return _finish(cluster, "queue", seed, params, chaos, tracer, keep_cluster)


def skewed(seed: int = 0, *, key_skew: float = 1.2, keys: int = 64, **kwargs: Any) -> WorkloadResult:
    """:func:`queue` with Zipf-skewed keys (exponent ``key_skew``; 1.2 puts about a third of the sends on the first
    key): hot partitions, the shape of real keyed traffic."""
    return queue(seed, key_skew=key_skew, keys=keys, **kwargs)


def producer_group(seed: int = 0, *, rate_per_s: float = 100.0, consumers: int = 3, partitions: int = 6,
                   duration_ms: float = 20_000.0, acks: str = "all", min_insync_replicas: int = 2,
                   replication_factor: int = 3, brokers: int = 3, group_protocol: str = "classic",
                   nemesis: str | Sequence[Fault] = "random", faults: Iterable[str] = _FAULTS,
                   keep_cluster: bool = False) -> WorkloadResult:
    """A producer sending at a constant ``rate_per_s`` (round-robin keys) beside a consumer group of ``consumers``
    members (``group_protocol`` "classic" or "consumer") that subscribe, poll and auto-commit through the faults."""
    _check_positive("rate_per_s", rate_per_s, float)
    _check_positive("consumers", consumers)
    _check_positive("duration_ms", duration_ms, float)
    params = {"rate_per_s": rate_per_s, "consumers": consumers, "partitions": partitions, "duration_ms": duration_ms,
              "acks": acks, "min_insync_replicas": min_insync_replicas, "replication_factor": replication_factor,
              "brokers": brokers, "group_protocol": group_protocol,
              "nemesis": check_nemesis(nemesis, faults), "faults": list(faults)}
    cluster = _cluster(seed, brokers, partitions, replication_factor, min_insync_replicas, False)
    tracer = Tracer(cluster.kernel)
    producer = cluster.producer({"acks": acks, "linger.ms": 2, "request.timeout.ms": 5_000,
                                 "delivery.timeout.ms": 30_000})
    group = [cluster.consumer({"group.id": "pg", "auto.offset.reset": "earliest", "group.protocol": group_protocol})
             for _ in range(consumers)]
    for c in group:
        c.subscribe([TOPIC])
    start = cluster.now
    chaos = start_nemesis(cluster, nemesis, duration_ms, faults)
    futures: list[Any] = []
    gap_ms = 1_000.0 / rate_per_s
    n = 0
    while cluster.now < start + duration_ms:
        try:
            futures.append(producer.send(TOPIC, value=f"pg-{n}", key=f"k{n % 16}"))
        except KafkaError:
            pass
        n += 1
        member = group[n % consumers]
        try:
            member.poll(timeout_ms=0)
        except KafkaError:
            pass
        cluster.run(gap_ms)
    _settle(cluster, futures, start + duration_ms)
    _drain(cluster, partitions)
    return _finish(cluster, "producer_group", seed, params, chaos, tracer, keep_cluster)


#: The workloads of this module by name; :data:`kafkalab.workloads.WORKLOADS` adds the transactional one.
WORKLOADS: dict[str, Callable[..., WorkloadResult]] = {"queue": queue, "skewed": skewed,
                                                       "producer_group": producer_group}

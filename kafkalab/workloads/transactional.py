"""The transactional workload: Jepsen's Kafka test with ``:txn? true`` (``jepsen.tests.kafka``) on kafkalab.

Each client is a transactional producer (``transactional.id`` ``txn-<i>``) paired with a consumer assigned every
partition, as Jepsen pairs them in one client. At a steady rate a client runs one transaction of one to
``max_txn_length`` micro-operations, drawn from the run's ``workload`` RNG stream like Jepsen's list-append
generator rewritten into ``[:send k v]`` and ``[:poll]``: a send puts a unique value on a key (key ``k`` lives on
partition ``k % partitions``, Maelstrom's and Jepsen's key-to-partition mapping), a poll reads from the consumer's
position. Before a transaction ends its consumer's positions for what it polled go into it with
``send_offsets_to_transaction`` (Jepsen: "before a transaction completes, we commit its offsets"), so a transaction
*reads* what it consumed and the checker can draw wr and rw edges for it. With probability ``abort_p`` the
transaction is aborted on purpose (Jepsen's Redpanda and Kafka tests abort at random); otherwise it commits. An
error aborts it; a producer that cannot abort (fenced, fatal, timed out) is closed and replaced by a new one with the
same transactional id, whose ``init_transactions`` fences the old one, and the old transaction is recorded with an
unknown outcome (``info``).

Consumers run at ``isolation`` (``read_committed`` by default), under the nemesis drawn from the seed (``crash``,
``pause``, ``isolate`` by default; no power loss, which may legitimately lose acknowledged writes with Kafka's
default flush settings). ``delay_p`` adds the fault behind Jepsen's 2024 finding (KAFKA-17754, in its Bufstream
analysis): with that probability a send's produce request is delayed on its way to the partition's leader (the
producer's link to the leader gets ``delay_ms`` of one-way latency for 200 ms, from a ``nemesis/client-delays`` RNG
stream). Set the producer's ``delivery_timeout_ms`` below the client's 3 s wait for a commit or abort and the client
gives the stuck send up, aborts, and moves on to its next transaction while the request is still on its way: under
transaction version 1 it may land in that next transaction and commit with it, an aborted read the checker finds;
version 2 refuses it (``tests/check/test_txn_real_runs.py``). When the run's time is up each client ends its open
transaction at once, as Jepsen's clients finish theirs when the generator stops (it has micro-operations left, so it
is aborted); then the run ends as :mod:`.queue`'s do: faults undone, in-flight work settled, and a final
read_committed reader polls every partition from the start. :class:`~kafkalab.workloads.WorkloadResult` judges the
history with the clients' consumers (and the final reader) as read_committed processes. ``judge_as`` overrides
that: the contrast of notebook 10 runs ``read_uncommitted`` consumers and judges them as read_committed, and the
checker must find their aborted reads.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import kafkalab as kl
from kafkalab.errors import KafkaError
from kafkalab.sim.faults import Fault
from kafkalab.sim.trace import Tracer
from kafkalab.workloads.nemesis import check_nemesis, start_nemesis
from kafkalab.workloads.queue import RECOVERY_MS, TOPIC, _check_positive, _finish
from kafkalab.workloads.result import WorkloadResult

__all__ = ["txn", "ISOLATION_LEVELS", "TXN_FAULTS"]

ISOLATION_LEVELS = ("read_committed", "read_uncommitted")
#: The default nemesis of the transactional workload: process faults and isolation, no power loss.
TXN_FAULTS = ("crash", "pause", "isolate")
_GROUP = "txn"
#: How long a commit or abort may block before the client gives the transaction up as unknown.
_END_TIMEOUT_MS = 3_000.0
#: How long a delayed link stays slow (the window Jepsen's KAFKA-17754 reproduction delays one produce request in).
_DELAY_WINDOW_MS = 200.0


class _Client:
    """One Jepsen client: a transactional producer and its consumer."""

    def __init__(self, cluster: kl.Cluster, index: int, partitions: int, isolation: str, tv_timeout_ms: int,
                 request_timeout_ms: int, delivery_timeout_ms: int) -> None:
        self.cluster = cluster
        self.index = index
        self.tid = f"txn-{index}"
        self.timeout_ms = tv_timeout_ms
        self.request_timeout_ms = request_timeout_ms
        self.delivery_timeout_ms = delivery_timeout_ms
        self.consumer = cluster.consumer({"group.id": _GROUP, "auto.offset.reset": "earliest",
                                          "enable.auto.commit": False, "isolation.level": isolation})
        self.consumer.assign([kl.TopicPartition(TOPIC, p) for p in range(partitions)])
        self.producer: Any = None
        self.ready = False
        self.replacements = 0
        self.mops: list[tuple[str, Any, Any]] | None = None     # the open transaction's remaining micro-ops
        self.abort = False
        self.polled: dict[kl.TopicPartition, int] = {}

    def _new_producer(self) -> None:
        self.producer = self.cluster.producer({
            "transactional.id": self.tid, "transaction.timeout.ms": self.timeout_ms, "linger.ms": 1,
            "request.timeout.ms": self.request_timeout_ms, "delivery.timeout.ms": self.delivery_timeout_ms,
            "max.block.ms": _END_TIMEOUT_MS})

    def ensure_ready(self) -> bool:
        """A producer whose ``init_transactions`` succeeded (retried on later calls while the cluster is down)."""
        if self.ready:
            return True
        if self.producer is None:
            self._new_producer()
        try:
            self.producer.init_transactions(timeout_ms=_END_TIMEOUT_MS)
            self.ready = True
        except KafkaError:
            self.replace()
        return self.ready

    def replace(self) -> None:
        """Give the producer up: its open transaction's outcome is unknown; a new incarnation fences it."""
        old = self.producer
        if old is not None:
            txn = old.core.txn
            if txn is not None:
                txn.abandon()
            try:
                old.close(timeout_ms=0)
            except KafkaError:
                pass
        self.producer = None
        self.ready = False
        self.mops = None
        self.replacements += 1

    def step(self, rng: Any, plan: _Plan) -> None:
        """One step of this client: begin a transaction (of ``plan``'s micro-operations) if none is open, else run
        its next micro-operation, and end it after the last one. Clients' transactions interleave this way, as
        Jepsen's concurrent clients' do."""
        if not self.ensure_ready():
            return
        producer, consumer = self.producer, self.consumer
        try:
            if self.mops is None:
                self.mops, self.abort = plan.draw(rng, self.index)
                self.polled = {}
                producer.begin_transaction()
                return
            if self.mops:
                f, key, value = self.mops.pop(0)
                if f == "send":
                    partition = key % plan.partitions
                    plan.maybe_delay(self.cluster, producer.node_id, partition)
                    producer.send(TOPIC, value=value, key=f"k{key}", partition=partition)
                else:
                    for r in consumer.poll(timeout_ms=plan.poll_ms):
                        self.polled[kl.TopicPartition(r.topic, r.partition)] = r.offset + 1
                if self.mops:
                    return
            self.mops = None
            if self.polled:
                producer.send_offsets_to_transaction(self.polled, consumer.group_metadata(),
                                                     timeout_ms=_END_TIMEOUT_MS)
            if self.abort:
                producer.abort_transaction(timeout_ms=_END_TIMEOUT_MS)
            else:
                producer.commit_transaction(timeout_ms=_END_TIMEOUT_MS)
            return
        except KafkaError:
            self.mops = None
        self.end_by_abort()

    def finish(self) -> None:
        """The run's time is up: end the open transaction at once, as Jepsen's client finishes its transaction when
        the generator stops, so none is left open through the recovery wait (where its coordinator would abort it at
        ``transaction.timeout.ms`` and fence the producer, and the client's late abort would be an unknown outcome).
        A client ends a transaction in the step that runs its last micro-operation, so one still open has some left:
        it did not do what it was drawn to do, and is aborted. A producer that cannot abort is given up."""
        producer = self.producer
        if producer is None or not self.ready or producer.core.txn is None:
            return
        if producer.core.txn.state.value in ("IN_TRANSACTION", "ABORTABLE_ERROR"):
            self.mops = None
            self.end_by_abort()

    def end_by_abort(self) -> None:
        """Abort the open transaction; a producer that cannot is given up (:meth:`replace`)."""
        try:
            self.producer.abort_transaction(timeout_ms=_END_TIMEOUT_MS)
        except KafkaError:
            self.replace()


class _Plan:
    """Draws transactions: one to ``max_len`` micro-operations, each a send of a unique value to a random key or a
    poll (Jepsen's list-append generator with appends as sends and reads as polls)."""

    def __init__(self, keys: int, partitions: int, max_len: int, abort_p: float, poll_ms: float,
                 delay_p: float = 0.0, delay_ms: float = 0.0, delay_rng: Any = None) -> None:
        self.keys = keys
        self.partitions = partitions
        self.max_len = max_len
        self.abort_p = abort_p
        self.poll_ms = poll_ms
        self.sent = 0
        self.delay_p = delay_p
        self.delay_ms = delay_ms
        self.delay_rng = delay_rng
        self.delays: list[tuple[float, str]] = []

    def maybe_delay(self, cluster: kl.Cluster, producer: Any, partition: int) -> None:
        """With probability ``delay_p``, delay what ``producer`` sends to ``partition``'s leader in the next 200 ms."""
        if self.delay_p <= 0 or self.delay_rng.random() >= self.delay_p:
            return
        leader = cluster.leader_for(TOPIC, partition)
        if leader is None:
            return
        cluster.slow_link(producer, leader, self.delay_ms, symmetric=False)
        cluster.kernel.schedule(_DELAY_WINDOW_MS, partial(cluster.network.reset_link, producer, leader,
                                                          symmetric=False), name="nemesis-client-delay-end")
        self.delays.append((cluster.now, f"delay {producer}->{leader} {self.delay_ms:g} ms"))

    def draw(self, rng: Any, client: int) -> tuple[list[tuple[str, Any, Any]], bool]:
        mops: list[tuple[str, Any, Any]] = []
        for _ in range(rng.randint(1, self.max_len)):
            if rng.random() < 0.5:
                mops.append(("send", rng.randrange(self.keys), f"{client}-{self.sent}"))
                self.sent += 1
            else:
                mops.append(("poll", None, None))
        return mops, rng.random() < self.abort_p


def txn(seed: int = 0, *, keys: int = 8, partitions: int = 4, clients: int = 3, ops_per_s: float = 100.0,
        max_txn_length: int = 4, abort_p: float = 0.1, duration_ms: float = 30_000.0,
        isolation: str = "read_committed", judge_as: str = "", transaction_version: int = 2,
        min_insync_replicas: int = 2, replication_factor: int = 3, brokers: int = 3,
        nemesis: str | Sequence[Fault] = "random", faults: Iterable[str] = TXN_FAULTS,
        fault_interval_ms: float = 5_000.0, delay_p: float = 0.0, delay_ms: float = 5_000.0,
        request_timeout_ms: int = 5_000, delivery_timeout_ms: int = 30_000,
        keep_cluster: bool = False) -> WorkloadResult:
    """Jepsen's transactional Kafka workload (``:txn? true``) under a nemesis; see the module doc.

    ``isolation``: the clients' consumers' ``isolation.level``. ``judge_as``: ``""`` (judge consumers as they ran),
    ``"read_committed"`` (judge them as read_committed whatever they ran at) or ``"read_uncommitted"``.
    ``transaction_version``: Kafka's ``transaction.version`` feature (2, KIP-890, or 1). ``nemesis``: ``"random"``
    (``faults`` drawn from the seed), ``"none"`` or a list of :class:`kafkalab.sim.Fault` (times relative to the
    workload's start). ``delay_p``/``delay_ms``: delayed produce requests (see the module doc);
    ``request_timeout_ms``/``delivery_timeout_ms``: the producers' ``request.timeout.ms``/``delivery.timeout.ms``.
    """
    for name, value in (("keys", keys), ("partitions", partitions), ("clients", clients), ("brokers", brokers),
                        ("max_txn_length", max_txn_length)):
        _check_positive(name, value)
    _check_positive("ops_per_s", ops_per_s, float)
    _check_positive("duration_ms", duration_ms, float)
    _check_positive("fault_interval_ms", fault_interval_ms, float)
    for name, p in (("abort_p", abort_p), ("delay_p", delay_p)):
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    _check_positive("delay_ms", delay_ms, float)
    _check_positive("request_timeout_ms", request_timeout_ms)
    if not isinstance(delivery_timeout_ms, int) or delivery_timeout_ms < request_timeout_ms + 1:
        raise ValueError(f"delivery_timeout_ms must be an int >= request_timeout_ms + linger.ms (1) = "
                         f"{request_timeout_ms + 1}, as Kafka's producer requires; got {delivery_timeout_ms!r}")
    _check_choice("isolation", isolation, ISOLATION_LEVELS)
    _check_choice("judge_as", judge_as, ("", *ISOLATION_LEVELS))
    if transaction_version not in (1, 2):
        raise ValueError(f"transaction_version must be 1 or 2 (Kafka's transaction.version feature; 2 is KIP-890), "
                         f"got {transaction_version!r}")
    params = {"keys": keys, "partitions": partitions, "clients": clients, "ops_per_s": ops_per_s,
              "max_txn_length": max_txn_length, "abort_p": abort_p, "duration_ms": duration_ms,
              "isolation": isolation, "judge_as": judge_as, "transaction_version": transaction_version,
              "min_insync_replicas": min_insync_replicas, "replication_factor": replication_factor,
              "brokers": brokers, "nemesis": check_nemesis(nemesis, faults), "faults": list(faults),
              "fault_interval_ms": fault_interval_ms, "delay_p": delay_p, "delay_ms": delay_ms,
              "request_timeout_ms": request_timeout_ms, "delivery_timeout_ms": delivery_timeout_ms}
    cluster = kl.Cluster(brokers=brokers, controllers=3, seed=seed, config={
        "min.insync.replicas": min_insync_replicas, "transaction.version": transaction_version})
    cluster.create_topic(TOPIC, partitions=partitions, replication_factor=replication_factor)
    tracer = Tracer(cluster.kernel)
    rng = cluster.kernel.rng("workload/txn")
    gap_ms = 1_000.0 / ops_per_s
    # a transaction left open by a crashed client is aborted by its coordinator well within the run
    timeout_ms = int(max(5_000.0, min(20_000.0, duration_ms / 2)))
    group = [_Client(cluster, i, partitions, isolation, timeout_ms, request_timeout_ms, delivery_timeout_ms)
             for i in range(clients)]
    for client in group:
        client.ensure_ready()
    start = cluster.now
    chaos = start_nemesis(cluster, nemesis, duration_ms, faults, mean_interval_ms=fault_interval_ms)
    plan = _Plan(keys, partitions, max_txn_length, abort_p, gap_ms, delay_p, delay_ms,
                 cluster.kernel.rng("nemesis/client-delays") if delay_p > 0 else None)
    while cluster.now < start + duration_ms:
        client = group[rng.randrange(clients)]
        begun = cluster.now
        client.step(rng, plan)
        cluster.run(max(1.0, gap_ms - (cluster.now - begun)))
    cluster.run(max(0.0, start + duration_ms - cluster.now))
    for client in group:        # Jepsen's clients finish their transactions when the generator stops
        client.finish()
    cluster.heal()
    cluster.run(RECOVERY_MS)
    final_reader = _drain_committed(cluster, partitions)
    judged = judge_as or isolation
    # the clients' consumers, and their transactions (whose consumed offsets are reads), by transactional id
    read_committed: list[Any] = [final_reader]
    if judged == "read_committed":
        read_committed += [c.consumer.node_id for c in group] + [c.tid for c in group]
    cluster.history.close_open(cluster.now, error="run ended")
    if plan.delays:        # the fault log holds the delayed requests too, in time order
        chaos.applied[:] = sorted([*chaos.applied, *plan.delays], key=lambda entry: entry[0])
    result = _finish(cluster, "txn", seed, params, chaos, tracer, keep_cluster, read_committed)
    result.metadata["read_committed"] = list(read_committed)
    cluster.history.metadata["read_committed"] = list(read_committed)
    return result


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        from kafkalab.check.report import closest_hint

        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}"
                         f"{closest_hint(str(value), [a for a in allowed if a])}")


def _drain_committed(cluster: kl.Cluster, partitions: int, idle_polls: int = 6) -> Any:
    """Jepsen's final reads at read_committed: every partition from the start until nothing more arrives."""
    reader = cluster.consumer({"auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    reader.assign([kl.TopicPartition(TOPIC, p) for p in range(partitions)])
    idle = 0
    while idle < idle_polls:
        try:
            idle = 0 if reader.poll(500) else idle + 1
        except KafkaError:
            idle += 1
    return reader.node_id

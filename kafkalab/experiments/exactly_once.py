"""Exactly-once on the simulated cluster: Jepsen's 2024 transaction anomalies (KAFKA-17754) under transaction
version 1 beside version 2, a transaction judge that reads only the client history, a hanging transaction's LSO, and
a consume-transform-produce pipeline at least once or with transactions.

What it reproduces.

- **KAFKA-17754** (Jepsen, "Bufstream 0.1.0", K. Kingsbury, 2024-11-12, section on Kafka's transaction protocol; the
  motivation of KIP-890): the producer's requests to the transaction coordinator and its produce requests to partition
  leaders travel on different connections with no ordering between them. Under transaction version 1 a producer keeps
  its epoch from one transaction to the next, so a produce request of transaction N that is delayed past the end of
  N is, at the leader, indistinguishable from one of transaction N+1. :func:`kafka_17754` builds exactly that: the
  application aborts transaction N (Jepsen's workload aborts some transactions on purpose) while one of N's produce
  requests is stuck on a slow link to its leader; the batch expires in flight (``delivery.timeout.ms``), the abort
  completes, transaction N+1 adds the same partition (AddPartitionsToTxn), and only then does the stuck request reach
  the leader. The leader's KIP-890 part 1 check (``transaction.partition.verification.enable``, verify-only under
  version 1) asks the coordinator whether the partition is in the producer's ongoing transaction with that epoch:
  it is (N+1's), so N's record is appended into N+1 and committed with it. A read_committed consumer then reads a
  record of an aborted transaction (an *aborted read*) and sees transaction N *torn* (one of its writes visible, the
  other not). With verification off, the late record lands after N's abort marker and opens a transaction the
  coordinator never heard of: a *hanging transaction* that holds the last stable offset until an operator aborts it.
  Under version 2 (KIP-890 part 2) EndTxn bumps the epoch, so the stuck request carries a fenced epoch and the
  leader refuses it (INVALID_PRODUCER_EPOCH). Same seed, same faults, both versions.

- **KAFKA-17754, the lost write** (:func:`kafka_17754_lost_write`; Jepsen's "a delayed commit or abort message can
  commit or abort a different, later transaction"): here the stuck message is the application's EndTxn(abort) of
  transaction N. The transaction coordinator A crashed and came back as a follower while the application was idle,
  so the producer still sends to A; that EndTxn is stuck on the producer's slow link to A. The producer's request
  times out (``request.timeout.ms``), it finds the new coordinator B and sends EndTxn again: N is aborted. Transaction
  N+1 writes to partition P (acknowledged). A preferred-leader election gives the ``__transaction_state`` partition
  back to A, which loads N+1 (Ongoing, P). Then the stuck EndTxn(abort) reaches A: under version 1 it carries the
  same producer id and epoch as N+1, so A aborts N+1 (the ABORT marker lands on P). The application, unaware, writes
  to partition Q (AddPartitionsToTxn opens a new transaction at A) and commits: the commit succeeds, so N+1 is
  acknowledged as committed while its write to P was aborted: a *lost write*, and N+1 is *torn*. Under version 2
  N's abort bumped the epoch, so the stuck EndTxn carries an old epoch and A answers PRODUCER_FENCED to a request
  nobody waits for; N+1 commits whole. Links between one pair of nodes are FIFO in the simulator (one TCP
  connection), so the stuck request and its retry must go to different brokers, hence the failover; in Kafka a
  retry after a timeout goes out on a new connection and the reordering needs no failover.

  Why Kafka's own client does not bump the epoch here (so the window is real, as Jepsen found): the Java client bumps
  the epoch after a batch it gave up on only when the failure comes *outside* a commit or abort
  (``TransactionManager.maybeTransitionToErrorState`` checks ``!isCompleting()``), and an in-flight batch that expires
  without having been retried leaves no unresolved sequence; the scenario's producer has ``request.timeout.ms`` equal
  to ``delivery.timeout.ms``, so the stuck batch expires during the abort on its first attempt.

- **The judge** (:func:`judge_transactions`, on the checker :mod:`kafkalab.check`): from the history alone, each
  transaction's writes are the sends its producer invoked between ``begin_transaction`` and the transaction's
  completion (the checker's ``collect``); a read_committed consumer's polls give what was visible, and the checker's
  ``aborted_read`` rows what was read of aborted transactions; the readers are taken to have read to the end. It reports Jepsen's anomaly names: ``aborted-read`` (a write of an aborted transaction was
  read), ``torn-transaction`` (some writes of one transaction visible, others not), ``lost-write`` (a write of a
  committed transaction, acknowledged, never read), ``duplicate`` (a value read twice).

- **A hanging transaction** (:func:`hanging_transaction`): a producer opens a transaction and stops; the LSO stays at
  the transaction's first offset while the high watermark moves on, until the coordinator's timeout aborts it.

- **Consume-transform-produce** (:func:`pipeline`): copy an input topic to an output topic under broker crashes and
  application crashes (the application's process dies, a new instance takes over), ``at_least_once`` (produce, flush,
  then commit the consumer's offsets) or ``exactly_once`` (KIP-447: the offsets committed inside the transaction);
  duplicates in the output are counted by a read_committed reader.

Simplification (named): the scenarios drive one application loop in the notebook's process; application think time
is the simulation's own (poll timeouts), not modelled separately.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

from kafkalab.check.history import History
from kafkalab.cluster import Cluster
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import KafkaError

__all__ = ["judge_transactions", "kafka_17754", "kafka_17754_lost_write", "hanging_transaction", "pipeline",
           "ANOMALIES", "SOURCES"]

#: the anomaly names :func:`judge_transactions` reports (Jepsen's)
ANOMALIES = ("aborted-read", "torn-transaction", "lost-write", "duplicate")

#: the published sources each result stands beside
SOURCES = {
    "KIP-98": "KIP-98: Exactly Once Delivery and Transactional Messaging (Apache Kafka 0.11, 2017)",
    "KIP-447": "KIP-447: Producer scalability for exactly once semantics (Apache Kafka 2.5, 2020)",
    "KIP-890": "KIP-890: Transactions Server-Side Defense (part 1 Kafka 3.6-3.8, part 2 Kafka 4.0)",
    "Jepsen 2024": "K. Kingsbury, Jepsen: Bufstream 0.1.0 (2024-11-12), the Kafka transaction protocol findings",
    "KAFKA-17754": "KAFKA-17754: a delayed message of one transaction completes or joins a later one (aborted "
                   "reads, lost writes, torn transactions)",
    "KAFKA-17582": "KAFKA-17582: a consumer does not rewind after an aborted transaction unless it rebalances "
                   "(intended; the application seeks)",
}


# ---- the judge ------------------------------------------------------------------------------------------------------
def judge_transactions(history: History, readers: Iterable[Any] | None = None) -> pd.DataFrame:
    """Judge the transactions of ``history`` against what read_committed ``readers`` (consumer node ids; default:
    every process that polled) read. One row per anomaly: ``anomaly`` (one of :data:`ANOMALIES`), ``txn`` (the
    operation id, -1 for a duplicate), ``transactional_id``, ``outcome`` ("ok", "fail", "info"), ``value``,
    ``detail``. Values must be unique per send for the judgement to mean anything (Jepsen's workloads are).

    Built on the checker (:mod:`kafkalab.check`): its pass over the history (``collect``: which sends each
    transaction made, how it ended) and :func:`~kafkalab.check.analyze`'s ``aborted_read`` rows for the readers.
    What it adds is the final-read view of these short scenarios: the readers read every partition to its end, so a
    committed, acknowledged write they never returned is lost (``analyze`` calls it ``unseen`` unless a later read
    passed its offset), an aborted transaction with some writes read and others not is torn too, and a value returned
    twice is a duplicate."""
    from kafkalab.check import analyze
    from kafkalab.check.analysis import collect

    chosen = None if readers is None else set(readers)
    facts = collect(history)
    read: Counter[Any] = Counter()
    for op in facts.sequence:
        if op.f == "poll" and (chosen is None or op.process in chosen):
            for record in op.reads:
                read[record[4]] += 1
    report = analyze(history, read_committed=True if chosen is None else chosen)
    aborted_reads = set(report.anomalies.loc[report.anomalies.kind == "aborted_read", "value"])
    sent: dict[int, list[Any]] = {}
    for value, op_id in facts.send_txn.items():
        if value is not None:
            sent.setdefault(op_id, []).append(value)
    ended = {t.op: t for t in facts.txns}
    invoked = {op.op: op for op in history.ops if op.f == "txn" and op.type == "invoke"}
    rows: list[dict[str, Any]] = []
    for op_id in facts.invoked_at:                  # transactions in the order they began
        end = ended.get(op_id)
        if end is None:
            continue                                # never completed: nothing to judge
        outcome, values = end.type, sent.get(op_id, [])
        seen = [v for v in values if read[v]]
        unseen = [v for v in values if not read[v]]
        base = {"txn": op_id, "transactional_id": invoked[op_id].value, "outcome": outcome}
        if outcome == "fail":
            rows += [dict(base, anomaly="aborted-read", value=v, detail="a write of an aborted transaction was read")
                     for v in values if v in aborted_reads]
        if outcome == "ok":
            acked = {w[4] for w in end.reads}
            rows += [dict(base, anomaly="lost-write", value=v, detail="a committed, acknowledged write was never read")
                     for v in unseen if v in acked]
        if outcome in ("ok", "fail") and seen and unseen:
            rows.append(dict(base, anomaly="torn-transaction", value=None,
                             detail=f"{len(seen)} of {len(values)} writes visible"))
    for value, n in sorted(read.items(), key=lambda kv: repr(kv[0])):
        if n > 1:
            rows.append({"anomaly": "duplicate", "txn": -1, "transactional_id": None, "outcome": None, "value": value,
                         "detail": f"read {n} times"})
    columns = ["anomaly", "txn", "transactional_id", "outcome", "value", "detail"]
    return pd.DataFrame(rows, columns=columns)


def _read_committed(c: Cluster, topic: str, partitions: int, group: str, rounds: int = 8) -> tuple[Any, list[Any]]:
    reader = c.consumer({"group.id": group, "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "enable.auto.commit": False})
    reader.assign([TopicPartition(topic, p) for p in range(partitions)])
    values: list[Any] = []
    for _ in range(rounds):
        values += [r.value for r in reader.poll(timeout_ms=500)]
    reader.close()
    return reader.node_id, values


# ---- KAFKA-17754 ----------------------------------------------------------------------------------------------------
def kafka_17754(transaction_version: int, seed: int = 3, *, delay_ms: float = 5_000.0, verification: bool = True,
                next_touches_partition: bool = True) -> dict[str, Any]:
    """Run the delayed-produce scenario once (see the module header) and judge it from the history.

    ``delay_ms``: one-way latency of the producer's link to the delayed partition's leader while transaction N sends
    (200 ms of virtual time). ``verification``: the brokers' ``transaction.partition.verification.enable``.
    ``next_touches_partition``: whether transaction N+1 writes to the delayed partition too. Returns a dict:
    ``anomalies`` (:func:`judge_transactions`), ``log`` (the delayed partition's batches: offset, producer epoch,
    control, values), ``lso``/``hw`` of that partition after the run, ``stuck_error`` (how the stuck write ended
    for the producer), ``delayed_partition``, ``coordinator``, ``leader`` and the ``cluster`` itself."""
    if transaction_version not in (1, 2):
        raise ValueError(f"transaction_version must be 1 or 2, got {transaction_version!r}")
    config: dict[str, Any] = {"transaction.version": transaction_version,
                              "transaction.partition.verification.enable": verification}
    c = Cluster(brokers=3, controllers=1, seed=seed, config=config)
    topic = "events"
    c.create_topic(topic, partitions=3, replication_factor=3)
    producer = c.producer({"transactional.id": "jepsen-0", "linger.ms": 0, "request.timeout.ms": 3_000,
                           "delivery.timeout.ms": 3_000})
    producer.init_transactions()
    coordinator = c.describe_transactions("jepsen-0")["coordinator"]
    delayed = next(p for p in range(3) if c.leader_for(topic, p) != coordinator)
    other = next(p for p in range(3) if p != delayed)
    leader = c.leader_for(topic, delayed)
    if leader is None:  # pragma: no cover - create_topic waits for leaders
        raise RuntimeError(f"{topic}-{delayed} has no leader")
    # transaction N-1: an ordinary committed transaction on both partitions
    producer.begin_transaction()
    producer.send(topic, value="t0-a", partition=delayed)
    producer.send(topic, value="t0-b", partition=other)
    producer.commit_transaction()
    # transaction N: its write to the delayed partition is stuck on the way; the application aborts it
    producer.begin_transaction()
    producer.send(topic, value="t1-a", partition=other)
    producer.flush()
    c.slow_link(producer.node_id, leader, delay_ms, symmetric=False)
    stuck = producer.send(topic, value="t1-b", partition=delayed)
    c.run(200)
    c.slow_link(producer.node_id, leader, c.network.default.latency_ms, symmetric=False)
    producer.abort_transaction()
    stuck_error = type(stuck.exception()).__name__ if stuck.done() and stuck.exception() else None
    # transaction N+1
    producer.begin_transaction()
    if next_touches_partition:
        producer.send(topic, value="t2-a", partition=delayed)
    producer.send(topic, value="t2-b", partition=other)
    try:
        producer.commit_transaction()
    except KafkaError:
        producer.abort_transaction()
    c.run(delay_ms + 5_000)
    reader, _values = _read_committed(c, topic, 3, "jepsen-reader")
    log = _partition_log(c, leader, topic, delayed)
    row: Any = c.describe_topic(topic).set_index("partition").loc[delayed]
    return {"anomalies": judge_transactions(c.history, [reader]), "log": log,
            "lso": int(row["last_stable_offset"]), "hw": int(row["high_watermark"]), "stuck_error": stuck_error,
            "delayed_partition": delayed, "coordinator": coordinator, "leader": leader,
            "transaction_version": transaction_version, "verification": verification, "cluster": c}


def kafka_17754_lost_write(transaction_version: int, seed: int = 3, *, delay_ms: float = 20_000.0) -> dict[str, Any]:
    """Run the delayed-EndTxn scenario once (see the module header) and judge it from the history.

    ``delay_ms``: one-way latency of the producer's link to the old coordinator while its EndTxn(abort) is sent
    (200 ms of virtual time). Returns a dict: ``anomalies`` (:func:`judge_transactions`), ``log`` (partition P's
    batches), ``transitions`` (the coordinators' ``txn.state`` records: time_ms, node, previous, state, epoch),
    ``committed`` (whether the application's commit of N+1 succeeded), ``old_coordinator``/``new_coordinator``,
    ``lost_partition``/``other_partition`` and the ``cluster``."""
    if transaction_version not in (1, 2):
        raise ValueError(f"transaction_version must be 1 or 2, got {transaction_version!r}")
    if not delay_ms > 3_000.0:
        raise ValueError(f"delay_ms must exceed the producer's request.timeout.ms (3000), got {delay_ms!r}")
    from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC, partition_for

    c = Cluster(brokers=3, controllers=1, seed=seed, config={"transaction.version": transaction_version})
    topic, tid = "events", "jepsen-1"
    c.create_topic(topic, partitions=3, replication_factor=3)
    producer = c.producer({"transactional.id": tid, "linger.ms": 0, "request.timeout.ms": 3_000,
                           "delivery.timeout.ms": 3_000})
    producer.init_transactions()
    index = partition_for(tid)
    old = int(c.describe_transactions(tid)["coordinator"])
    preferred = c.describe_topic(topic).set_index("partition")["replicas"]
    lost, other = [q for q in range(3) if list(preferred.loc[q])[0] != old][:2]
    # transaction N-1 commits; transaction N writes to P and will be aborted
    producer.begin_transaction()
    producer.send(topic, value="t0-a", partition=lost)
    producer.commit_transaction()
    producer.begin_transaction()
    producer.send(topic, value="t1-a", partition=lost)
    producer.flush()
    # the coordinator fails over while the application is idle; the producer still has the old one
    c.crash(old)
    c.run(12_000)
    c.restart(old)
    c.run(10_000)
    new = c.leader_for(TRANSACTION_STATE_TOPIC, index)
    # the application aborts N: the first EndTxn is stuck on the way to the old coordinator, the retry reaches the new
    c.slow_link(producer.node_id, old, delay_ms, symmetric=False)
    try:
        producer.abort_transaction(timeout_ms=200)
    except KafkaError:
        pass
    c.slow_link(producer.node_id, old, c.network.default.latency_ms, symmetric=False)
    producer.abort_transaction()
    # transaction N+1 writes to P; the old coordinator gets its partition back; the stuck EndTxn arrives
    producer.begin_transaction()
    producer.send(topic, value="t2-a", partition=lost)
    producer.flush()
    c.elect_preferred_leaders()
    c.run(delay_ms)
    producer.send(topic, value="t2-b", partition=other)
    committed = True
    try:
        producer.commit_transaction()
    except KafkaError:
        committed = False
        producer.abort_transaction()
    c.run(5_000)
    reader, _values = _read_committed(c, topic, 3, "jepsen-reader")
    frame = c.metrics("txn.state")
    frame = frame[frame.transactional_id == tid]
    transitions = pd.DataFrame({"time_ms": frame.time_ms.round(1), "node": frame.node, "previous": frame.previous,
                                "state": frame.state, "epoch": frame.epoch}).reset_index(drop=True)
    leader = c.leader_for(topic, lost)
    return {"anomalies": judge_transactions(c.history, [reader]),
            "log": _partition_log(c, -1 if leader is None else leader, topic, lost), "transitions": transitions,
            "committed": committed, "old_coordinator": old, "new_coordinator": new, "lost_partition": lost,
            "other_partition": other, "transaction_version": transaction_version, "cluster": c}


def _partition_log(c: Cluster, broker: int, topic: str, partition: int) -> pd.DataFrame:
    server = c.broker(broker)
    rows = []
    if server is not None:
        p = server.rm.partition(topic, partition)
        if p is not None:
            for batch in p.log.batches():
                kind = "control" if batch.is_control else "data"
                values = [] if batch.is_control else [r[1] for r in batch.rows]
                rows.append({"offset": batch.base_offset, "producer_epoch": batch.producer_epoch, "kind": kind,
                             "values": values})
    return pd.DataFrame(rows, columns=["offset", "producer_epoch", "kind", "values"])


# ---- a hanging transaction ------------------------------------------------------------------------------------------
def hanging_transaction(seed: int = 0, timeout_ms: int = 20_000, run_ms: float = 45_000.0,
                        step_ms: float = 1_000.0) -> pd.DataFrame:
    """A producer opens a transaction on partition 0 and stops (its application hangs) while another producer keeps
    writing; one row per ``step_ms``: time_ms, high_watermark, last_stable_offset, state (the transaction's state at
    its coordinator) and records a read_committed consumer has read so far."""
    c = Cluster(brokers=3, controllers=1, seed=seed)
    c.create_topic("out", partitions=1, replication_factor=3)
    stuck = c.producer({"transactional.id": "stuck", "transaction.timeout.ms": timeout_ms})
    stuck.init_transactions()
    writer = c.producer({"acks": "all", "linger.ms": 0})
    reader = c.consumer({"group.id": "rc", "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    reader.assign([TopicPartition("out", 0)])
    stuck.begin_transaction()
    stuck.send("out", value="open", partition=0)
    stuck.flush()
    start = c.now
    rows = []
    read = 0
    n = 0
    while c.now - start < run_ms:
        writer.send("out", value=f"w{n}", partition=0)
        n += 1
        c.run(step_ms)
        read += len(reader.poll(timeout_ms=10))
        row = c.describe_topic("out").iloc[0]
        rows.append({"time_ms": round(c.now - start), "high_watermark": int(row["high_watermark"]),
                     "last_stable_offset": int(row["last_stable_offset"]),
                     "state": c.describe_transactions("stuck")["state"], "read": read})
    return pd.DataFrame(rows)


# ---- consume-transform-produce --------------------------------------------------------------------------------------
def pipeline(guarantee: str, crashes: int = 2, records: int = 60, seed: int = 0, batch: int = 5) -> dict[str, Any]:
    """Copy ``records`` values from ``in`` to ``out`` (``guarantee`` "at_least_once" or "exactly_once") while
    ``crashes`` faults strike, alternating a broker crash (restarted after a few steps) and an application crash
    (the application's consumer and producer processes die before they commit; a new instance takes over, as a
    restarted container would). Returns counts: ``records``, ``read`` (values a read_committed reader got),
    ``unique``, ``duplicates``, ``missing``, ``virtual_ms``."""
    if guarantee not in ("at_least_once", "exactly_once"):
        raise ValueError(f"guarantee must be 'at_least_once' or 'exactly_once', got {guarantee!r}")
    if crashes < 0:
        raise ValueError(f"crashes must be >= 0, got {crashes!r}")
    c = Cluster(brokers=3, controllers=1, seed=seed)
    c.create_topic("in", partitions=2, replication_factor=3)
    c.create_topic("out", partitions=2, replication_factor=3)
    source = c.producer({"acks": "all"})
    for i in range(records):
        source.send("in", value=b"%d" % i, key=b"%d" % i)
    source.flush()
    eos = guarantee == "exactly_once"
    rng = random.Random(seed)
    strike_steps = sorted(rng.sample(range(2, 2 + 4 * max(crashes, 1)), crashes)) if crashes else []
    incarnation = [0]

    def start() -> tuple[Any, Any]:
        incarnation[0] += 1
        consumer = c.consumer({"group.id": "app", "auto.offset.reset": "earliest", "enable.auto.commit": False,
                               "isolation.level": "read_committed", "max.poll.records": batch,
                               "session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000})
        consumer.subscribe(["in"])
        if eos:
            producer = c.producer({"transactional.id": "app-0", "transaction.timeout.ms": 10_000})
            producer.init_transactions(timeout_ms=120_000)
        else:
            producer = c.producer({"acks": "all", "linger.ms": 0})
        return consumer, producer

    consumer, producer = start()
    restart_broker: dict[int, int] = {}
    strike = 0
    t0 = c.now
    idle = 0
    for step in range(400):
        for broker, at in list(restart_broker.items()):
            if step >= at:
                c.restart(broker)
                del restart_broker[broker]
        got = consumer.poll(timeout_ms=500)
        if not got:
            idle += 1
            if idle > 12 and not restart_broker:
                break
            continue
        idle = 0
        crash_app = False
        if strike < len(strike_steps) and step >= strike_steps[strike]:
            if strike % 2 == 0:
                broker = c.brokers[strike // 2 % len(c.brokers)]
                c.crash(broker)
                restart_broker[broker] = step + 3
            else:
                crash_app = True
            strike += 1
        offsets = {TopicPartition(r.topic, r.partition): r.offset + 1 for r in got}
        try:
            if eos:
                producer.begin_transaction()
            for r in got:
                producer.send("out", value=b"t" + r.value, key=r.key)
            if crash_app:
                producer.flush()         # the output is written; the process dies before its offsets are
                c.crash(consumer.node_id)
                c.crash(producer.node_id)
                consumer, producer = start()
                continue
            if eos:
                producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
                producer.commit_transaction(timeout_ms=60_000)
            else:
                producer.flush(timeout_ms=60_000)
                consumer.commit(offsets)
        except KafkaError:
            if eos:
                try:
                    producer.abort_transaction(timeout_ms=60_000)
                except KafkaError:
                    c.crash(producer.node_id)
                    producer = c.producer({"transactional.id": "app-0", "transaction.timeout.ms": 10_000})
                    producer.init_transactions(timeout_ms=120_000)
            _rewind(consumer)
    for broker in list(restart_broker):
        c.restart(broker)
    c.run(15_000)
    _reader, values = _read_committed(c, "out", 2, "audit", rounds=20)
    counts = Counter(values)
    expected = {b"t%d" % i for i in range(records)}
    return {"guarantee": guarantee, "crashes": crashes, "records": records, "read": len(values),
            "unique": len(set(values) & expected), "duplicates": sum(n - 1 for n in counts.values() if n > 1),
            "missing": len(expected - set(values)), "virtual_ms": round(c.now - t0)}


def _rewind(consumer: Any) -> None:
    """After an abort, go back to the committed offsets: an abort does not move the consumer (KAFKA-17582)."""
    assignment = sorted(consumer.assignment())
    if not assignment:
        return
    committed = consumer.committed(assignment)
    for tp in assignment:
        om = committed.get(tp)
        consumer.seek(tp, om.offset if om is not None else 0)

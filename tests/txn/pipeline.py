"""A consume-transform-produce pipeline with exactly-once (KIP-447), for the property and determinism tests."""
from __future__ import annotations

import random
from typing import Any

import kafkalab as kl
from kafkalab.errors import KafkaError


def run_pipeline(seed: int, faults: list[tuple[int, int]], records: int = 30, tv: int = 2) -> dict[str, Any]:
    """Copy ``records`` values from ``in`` to ``out`` in transactions of a few records; ``faults`` are (step, broker
    index) crashes, each restarted two steps later. Returns what a read_committed consumer of ``out`` saw."""
    c = kl.Cluster(brokers=3, controllers=1, seed=seed, config={"transaction.version": tv})
    c.create_topic("in", partitions=2, replication_factor=3)
    c.create_topic("out", partitions=2, replication_factor=3)
    source = c.producer({"acks": "all"})
    for i in range(records):
        source.send("in", value=b"%d" % i, key=b"%d" % i)
    source.flush()
    consumer = c.consumer({"group.id": "app", "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                           "enable.auto.commit": False})
    consumer.subscribe(["in"])
    producer = c.producer({"transactional.id": "app-0", "transaction.timeout.ms": 20_000})
    producer.init_transactions()
    rng = random.Random(seed)
    crashed: dict[int, int] = {}
    done: set[bytes] = set()
    for step in range(200):
        if len(done) >= records and not crashed:
            break
        for broker, at in list(crashed.items()):
            if step >= at:
                c.restart(broker)
                del crashed[broker]
        for when, index in faults:
            broker = c.brokers[index % len(c.brokers)]
            if when == step and broker not in crashed and not crashed:
                c.crash(broker)
                crashed[broker] = step + 2
        batch = consumer.poll(timeout_ms=500)
        if not batch:
            continue
        try:
            producer.begin_transaction()
            for r in batch:
                producer.send("out", value=b"t" + r.value, key=r.key)
            positions = {}
            for r in batch:
                positions[kl.TopicPartition(r.topic, r.partition)] = r.offset + 1
            producer.send_offsets_to_transaction(positions, consumer.group_metadata())
            if rng.random() < 0.2:
                raise KafkaError("the application decided to abort")
            producer.commit_transaction(timeout_ms=30_000)
            done.update(r.value for r in batch)
        except KafkaError:
            try:
                producer.abort_transaction(timeout_ms=30_000)
            except KafkaError:
                producer.close()
                producer = c.producer({"transactional.id": "app-0", "transaction.timeout.ms": 20_000})
                producer.init_transactions(timeout_ms=60_000)
            # rewind to the committed offsets (KAFKA-17582: an abort does not rewind the consumer by itself)
            committed = consumer.committed([kl.TopicPartition("in", p) for p in range(2)])
            for tp in sorted(consumer.assignment()):
                om = committed.get(tp)
                consumer.seek(tp, om.offset if om is not None else 0)
    for broker in list(crashed):
        c.restart(broker)
    c.run(30_000)
    reader = c.consumer({"group.id": "audit", "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    reader.subscribe(["out"])
    seen: list[bytes] = []
    for _ in range(30):
        seen += [r.value for r in reader.poll(timeout_ms=500)]
    aborted_writes = {w[4] for op in c.history.ops if op.f == "txn" and op.type == "fail" for w in op.reads}
    committed_writes = [w[4] for op in c.history.ops if op.f == "txn" and op.type == "ok" for w in op.reads]
    return {"seen": seen, "done": done, "aborted": aborted_writes, "committed": committed_writes, "now": c.now,
            "history": len(c.history)}

"""The foreign-key join story of the tests: orders (keyed by order id, valued "customer|item") joined with
customers (keyed by customer id) by the customer in each order; orders have 3 partitions, customers 2. Each step
is one record; the expected outputs were computed by hand from Kafka's rules (see test_fk_join.py)."""
from __future__ import annotations

from typing import Any

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.sim import Tracer
from kafkalab.streams.serdes import serde

CONFIG = {"default.key.serde": "string", "default.value.serde": "string", "statestore.cache.max.bytes": 0}
PARTITIONS = {"orders": 3, "customers": 2}

STEPS: list[tuple[str, str, str | None]] = [
    ("customers", "c1", "Alice"),          # S1
    ("customers", "c2", "Bob"),            # S2
    ("orders", "o1", "c1|apple"),          # S3
    ("orders", "o2", "c2|pear"),           # S4
    ("orders", "o4", "c1|kiwi"),           # S5
    ("orders", "o3", "c3|fig"),            # S6  c3 does not exist yet
    ("customers", "c3", "Carol"),          # S7
    ("customers", "c1", "Alicia"),         # S8  fans out to o1 and o4
    ("orders", "o1", "c2|apple"),          # S9  foreign key changes to an existing customer
    ("orders", "o4", "c9|kiwi"),           # S10 ... to a missing one
    ("customers", "c1", "Alicia2"),        # S11 nobody subscribes to c1 any more
    ("orders", "o2", "-|pear"),            # S12 the foreign key becomes null
    ("customers", "c2", None),             # S13 a customer is deleted
    ("orders", "o3", None),                # S14 an order is deleted
    ("orders", "o5", "-|fig"),             # S15 a new order with a null foreign key
    ("orders", "o1", "c2|plum"),           # S16 same foreign key, still no match
]


def customer_of(order: str) -> str | None:
    fk = order.split("|")[0]
    return None if fk == "-" else fk


def joiner(order: str | None, name: str | None) -> str:
    item = None if order is None else order.split("|")[1]
    return f"{item}@{name}"


def topology(*, extractor: Any = customer_of) -> ks.Topology:
    """Both joins of the same two tables: the inner one to "inner", the left one to "left"."""
    b = ks.StreamsBuilder()
    orders = b.table("orders")
    customers = b.table("customers")
    orders.join(customers, extractor, joiner).to_stream().to("inner")
    orders.left_join(customers, extractor, joiner).to_stream().to("left")
    return b.build()


def run_driver(topo: ks.Topology | None = None) -> tuple[list[dict[str, list[Any]]], ks.TopologyTestDriver]:
    """Per step, the outputs of each join (sorted: one step's answers may come from several partitions)."""
    driver = ks.TopologyTestDriver(topo or topology(), CONFIG, partitions=PARTITIONS)
    per_step = []
    for topic, key, value in STEPS:
        driver.pipe_input(topic, key, value)
        per_step.append({t: sorted(driver.read_key_values(t), key=repr) for t in ("inner", "left")})
    return per_step, driver


def run_cluster(seed: int = 5, step_ms: float = 3_000) -> dict[str, Any]:
    """The same steps on a 3-broker cluster with 2 app instances, one record every ``step_ms``."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    tracer = Tracer(cluster.kernel)
    for t, n in {**PARTITIONS, "inner": 2, "left": 2}.items():
        cluster.create_topic(t, partitions=n)
    app = cluster.streams(topology(), {**CONFIG, "application.id": "fk", "commit.interval.ms": 100}, instances=2)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer = cluster.producer({"linger.ms": 0})
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition(t, p) for t in ("inner", "left") for p in range(2)])
    string = serde("string")
    per_step = []
    for topic, key, value in STEPS:
        producer.send(topic, key=key, value=value).result()
        cluster.run(step_ms)
        got: dict[str, list[Any]] = {"inner": [], "left": []}
        while batch := consumer.poll(200):
            for r in batch:
                got[r.topic].append((r.key.decode(), string.deserialize(r.value)))
        per_step.append({t: sorted(v, key=repr) for t, v in got.items()})
    image = cluster.image()
    internal = {t: len(image.topics[t].partitions) for t in cluster.topics() if t.startswith("fk-")}
    return {"per_step": per_step, "app": app, "cluster": cluster, "trace": f"{tracer.digest()} {tracer.count}",
            "internal": internal}


def reference(steps: list[tuple[str, str, str | None]]) -> tuple[dict[str, str], dict[str, str]]:
    """The join of the final tables, computed directly: (inner, left)."""
    tables: dict[str, dict[str, str]] = {"orders": {}, "customers": {}}
    for topic, key, value in steps:
        if value is None:
            tables[topic].pop(key, None)
        else:
            tables[topic][key] = value
    customers = tables["customers"]
    inner, left = {}, {}
    for o, v in tables["orders"].items():
        c = customer_of(v)
        name = None if c is None else customers.get(c)
        left[o] = joiner(v, name)
        if name is not None:
            inner[o] = joiner(v, name)
    return inner, left


def apply(table: dict[str, Any], records: list[tuple[str, Any]]) -> None:
    """Read a result topic as a table (a None value deletes the key)."""
    for k, v in records:
        if v is None:
            table.pop(k, None)
        else:
            table[k] = v


def random_steps(seed: int, n: int, *, null_keys: bool = True) -> list[tuple[str, str, str | None]]:
    import random
    rng = random.Random(seed)
    steps: list[tuple[str, str, str | None]] = []
    fks = ["c1", "c2", "c3", "c4"] + (["-"] if null_keys else [])
    for i in range(n):
        if rng.random() < 0.6:
            value = None if rng.random() < 0.1 else f"{rng.choice(fks)}|i{i}"
            steps.append(("orders", f"o{rng.randrange(6)}", value))
        else:
            value = None if rng.random() < 0.15 else f"n{i}"
            steps.append(("customers", rng.choice(fks[:4]), value))
    return steps


def run_cluster_burst(seed: int, n: int = 300, gap_ms: float = 5, crash_at: int | None = None,
                      guarantee: str = "at_least_once") -> dict[str, Any]:
    """``n`` random updates a few ms apart (an order often changes again before its answer is back), then the
    final result tables as read from the output topics. ``crash_at``: crash the first instance after that many
    updates and restart it 5 s later (its tasks move, their stores are restored from the changelogs)."""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=seed)
    for t, p in {**PARTITIONS, "inner": 2, "left": 2}.items():
        cluster.create_topic(t, partitions=p)
    app = cluster.streams(topology(), {**CONFIG, "application.id": "fkb", "commit.interval.ms": 100,
                                       "processing.guarantee": guarantee, "session.timeout.ms": 6000,
                                       "heartbeat.interval.ms": 1000}, instances=2)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer = cluster.producer({"linger.ms": 0})
    steps = random_steps(seed, n, null_keys=False)
    for i, (topic, key, value) in enumerate(steps):
        producer.send(topic, key=key, value=value)
        cluster.run(gap_ms)
        if i == crash_at:
            node = app.instances[0]
            cluster.crash(node)
            cluster.kernel.schedule(5_000, lambda n=node: cluster.restart(n))
    producer.flush()
    cluster.run(20_000)
    consumer = cluster.consumer({"auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.assign([kl.TopicPartition(t, p) for t in ("inner", "left") for p in range(2)])
    tables: dict[str, dict[str, Any]] = {"inner": {}, "left": {}}
    string = serde("string")
    log: list[tuple[str, str, Any]] = []
    while batch := consumer.poll(500):
        for r in batch:
            apply(tables[r.topic], [(r.key.decode(), string.deserialize(r.value))])
            log.append((r.topic, r.key.decode(), string.deserialize(r.value)))
    m = cluster.metrics()
    dropped = float(m[m.metric == "streams.dropped_records"].value.sum()) if len(m) else 0.0
    return {"steps": steps, "tables": tables, "dropped": dropped, "log": log, "cluster": cluster, "app": app}

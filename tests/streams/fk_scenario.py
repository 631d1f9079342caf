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

"""max.task.idle.ms (KIP-695): a task with two input partitions waits for the one whose data is slow to arrive, and
then processes in timestamp order; -1 never waits and processes what it has."""
from __future__ import annotations

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.experiments.streams import read_topic
from kafkalab.streams.task import StreamTask
from kafkalab.streams.topology import Topology

STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def join_topology() -> ks.Topology:
    b = ks.StreamsBuilder()
    b.stream("orders").left_join(b.table("customers"), lambda o, c: f"{o} by {c}").to("enriched")
    return b.build()


def run(max_task_idle_ms: int) -> tuple[list, int]:
    cluster = kl.Cluster(brokers=3, controllers=1, seed=9)
    for t in ("orders", "customers", "enriched"):
        cluster.create_topic(t, partitions=1)
    app = cluster.streams(join_topology(), {**STRINGS, "application.id": "idle",
                                            "max.task.idle.ms": max_task_idle_ms}, instances=1)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    cluster.run(2_000)
    customers_leader = cluster.leader_for("customers", 0)
    assert customers_leader != cluster.leader_for("orders", 0)
    cluster.slow_link(app.instances[0], customers_leader, 400.0)     # the customers partition's data arrives late
    producer = cluster.producer({"linger.ms": 0})
    base = 50_000_000
    producer.send("customers", key="c1", value="Ann", timestamp_ms=base).result()
    producer.send("orders", key="c1", value="order-1", timestamp_ms=base + 1).result()
    cluster.run(5_000)
    task = next(t for th in app.threads() for t in th.tasks.values())
    return read_topic(cluster, "enriched", 1, value_serde="string"), task.enforced_processing


def test_a_task_idles_for_the_slow_partition_and_keeps_timestamp_order():
    out, enforced = run(2_000)
    # the order waited for the customer; once the customer was processed the customers partition was empty again,
    # so the order waited one more idle period before the task gave up on that partition (KIP-695's semantics)
    assert out == [("c1", "order-1 by Ann")] and enforced == 1


def test_minus_one_never_waits_and_joins_against_a_table_not_yet_updated():
    out, _ = run(-1)
    assert out == [("c1", "order-1 by None")]


class _Sink:
    def partitions_for(self, topic):
        return 1

    def send(self, *args):
        pass


def test_ready_to_process_follows_kafkas_partition_group_rules():
    topo: Topology = join_topology()
    sub = topo.subtopologies()[0]
    config = ks.streams_config({**STRINGS, "application.id": "t", "max.task.idle.ms": 100})
    string = ks.serde("string")
    task = StreamTask(topo, sub, 0, application_id="t", collector=_Sink(), key_serde=string, value_serde=string,
                      clock=lambda: 0.0, config=config)
    orders, customers = sorted(task.queues, key=lambda tp: tp.topic != "orders")
    task.add_records([(orders.topic, 0, 0, 5, b"c1", b"o", ())])
    lags = {customers: -1}
    assert not task.ready_to_process(0, lags.get)          # lag unknown: wait
    lags[customers] = 3
    assert not task.ready_to_process(0, lags.get)          # data on the broker not fetched yet: wait
    lags[customers] = 0
    assert not task.ready_to_process(10, lags.get)         # truly empty: idle until 10 + 100
    assert not task.ready_to_process(109, lags.get)
    assert task.ready_to_process(110, lags.get) and task.enforced_processing == 1
    task.add_records([(customers.topic, 0, 0, 4, b"c1", b"Ann", ())])
    assert task.ready_to_process(111, lags.get) and task.enforced_processing == 1   # both buffered


def _hanging_transaction_run() -> tuple[list, float]:
    """exactly_once_v2 (its consumers read read_committed); another application leaves a transaction open on the
    customers partition, then an order comes: when does the order come out of the join?"""
    cluster = kl.Cluster(brokers=3, controllers=1, seed=9)
    for t in ("orders", "customers", "enriched"):
        cluster.create_topic(t, partitions=1)
    app = cluster.streams(join_topology(), {**STRINGS, "application.id": "idle-rc",
                                            "processing.guarantee": "exactly_once_v2"}, instances=1)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    plain = cluster.producer({"linger.ms": 0})
    base = 50_000_000
    plain.send("customers", key="c1", value="Ann", timestamp_ms=base).result()
    cluster.run(2_000)
    hanging = cluster.producer({"transactional.id": "other-app", "transaction.timeout.ms": 60_000})
    hanging.init_transactions()
    hanging.begin_transaction()
    hanging.send("customers", key="c1", value="Zed", timestamp_ms=base + 1).result()   # never committed
    cluster.run(1_000)
    row = cluster.describe_topic("customers").iloc[0]
    assert int(row["last_stable_offset"]) < int(row["high_watermark"])
    sent = cluster.now
    plain.send("orders", key="c1", value="order-1", timestamp_ms=base + 2).result()
    assert cluster.run_until(lambda: bool(read_topic(cluster, "enriched", 1, value_serde="string")), 120_000)
    return read_topic(cluster, "enriched", 1, value_serde="string"), cluster.now - sent


def test_under_read_committed_an_open_transaction_is_not_lag_the_task_waits_for():
    # Kafka's StreamTask asks consumer.currentLag, which under read_committed is LSO - position: the customers
    # partition has nothing the task could fetch, so the order is processed at once (max.task.idle.ms 0) against
    # the committed customer; against the high watermark the task waited for records it can never read until the
    # coordinator aborted the other application's transaction at its 60 s timeout
    out, waited_ms = _hanging_transaction_run()
    assert out == [("c1", "order-1 by Ann")]
    assert waited_ms < 5_000

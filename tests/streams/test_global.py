"""GlobalKTable: a table every instance holds in full, joined by a selected key, in the driver and on a cluster;
its description as Kafka prints a global store."""
import pytest

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.experiments.streams import read_topic

STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def topology(left: bool = False) -> ks.Topology:
    b = ks.StreamsBuilder()
    products = b.global_table("products")
    orders = b.stream("orders")
    join = orders.left_join if left else orders.join
    join(products, lambda order, name: f"{order} of {name}", key_selector=lambda k, v: v.split("/")[0]).to("out")
    return b.build()


def test_global_store_is_described_as_kafka_prints_it():
    # InternalTopologyBuilder.GlobalStore.toString: its own numbered group, which generates no tasks
    assert str(topology().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0 for global store (will not generate tasks)\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [products])\n"
        "      --> KTABLE-SOURCE-0000000002\n"
        "    Processor: KTABLE-SOURCE-0000000002 (stores: [products-STATE-STORE-0000000000])\n"
        "      --> none\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "  Sub-topology: 1\n"
        "    Source: KSTREAM-SOURCE-0000000003 (topics: [orders])\n"
        "      --> KSTREAM-JOIN-0000000004\n"
        "    Processor: KSTREAM-JOIN-0000000004 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000005\n"
        "      <-- KSTREAM-SOURCE-0000000003\n"
        "    Sink: KSTREAM-SINK-0000000005 (topic: out)\n"
        "      <-- KSTREAM-JOIN-0000000004\n\n")
    assert [s.id for s in topology().subtopologies()] == [1]


def test_a_global_join_needs_no_copartitioning_and_sees_every_partition():
    driver = ks.TopologyTestDriver(topology(left=True), STRINGS, partitions={"orders": 3, "products": 2})
    driver.pipe_input("products", "p1", "apple", 0)
    driver.pipe_input("orders", "o1", "p1/2", 1)
    driver.pipe_input("orders", "o2", "p2/1", 2)           # p2 unknown yet: a left join emits None
    driver.pipe_input("products", "p2", "pear", 3)
    driver.pipe_input("orders", "o3", "p2/5", 4)
    assert driver.read_key_values("out") == [("o1", "p1/2 of apple"), ("o2", "p2/1 of None"), ("o3", "p2/5 of pear")]
    assert driver.get_key_value_store("products-STATE-STORE-0000000000").to_dict() == {"p1": "apple", "p2": "pear"}


def test_global_join_errors():
    b = ks.StreamsBuilder()
    products = b.global_table("products")
    with pytest.raises(TypeError, match="a join with a GlobalKTable needs key_selector="):
        b.stream("orders").join(products, lambda o, p: o)
    with pytest.raises(TypeError, match="a stream-table join takes no windows"):
        b.stream("orders2").join(products, lambda o, p: o, ks.JoinWindows.of_time_difference_with_no_grace(1),
                                 key_selector=lambda k, v: k)
    cluster = kl.Cluster(brokers=1, controllers=1, seed=0)
    cluster.create_topic("orders", partitions=1)
    cluster.create_topic("out", partitions=1)
    with pytest.raises(ks.TopologyException, match="global table topic 'products' does not exist"):
        cluster.streams(topology(), {**STRINGS, "application.id": "g"})


def test_every_instance_bootstraps_the_global_table_before_processing():
    cluster = kl.Cluster(brokers=3, controllers=1, seed=5)
    cluster.create_topic("products", partitions=2)
    cluster.create_topic("orders", partitions=4)
    cluster.create_topic("out", partitions=4)
    producer = cluster.producer({"linger.ms": 0})
    for i in range(50):
        producer.send("products", key=f"p{i}", value=f"name{i}")
    producer.flush()
    for i in range(40):                                     # orders waiting before the app starts
        producer.send("orders", key=f"o{i}", value=f"p{i}/1")
    producer.flush()
    app = cluster.streams(topology(), {**STRINGS, "application.id": "glob", "session.timeout.ms": 6000,
                                       "heartbeat.interval.ms": 1000}, instances=2)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer.send("products", key="p99", value="late-product").result()
    cluster.run(2_000)
    producer.send("orders", key="o99", value="p99/1").result()
    cluster.run(3_000)
    out = dict(read_topic(cluster, "out", 4, value_serde="string"))
    # the inner join found every product: the store was complete before the first order was processed
    assert out == {**{f"o{i}": f"p{i}/1 of name{i}" for i in range(40)}, "o99": "p99/1 of late-product"}
    for instance in app.instances:
        stores = app._processes[instance].global_thread.stores
        assert len(stores["products-STATE-STORE-0000000000"]) == 51      # a full copy on each instance
    assert app.store("products-STATE-STORE-0000000000").get("p99") == "late-product"


def test_stream_threads_wait_while_their_instances_global_store_is_not_ready():
    cluster = kl.Cluster(brokers=3, controllers=1, seed=6)
    for t, n in (("products", 1), ("orders", 2), ("out", 2)):
        cluster.create_topic(t, partitions=n)
    app = cluster.streams(topology(), {**STRINGS, "application.id": "wait"}, instances=1)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer = cluster.producer({"linger.ms": 0})
    producer.send("products", key="p1", value="apple").result()
    cluster.run(1_000)
    global_thread = app._processes[app.instances[0]].global_thread
    global_thread.ready = False                    # as while bootstrapping (and not catching up meanwhile)
    caught_up = global_thread._caught_up
    global_thread._caught_up = lambda: False
    producer.send("orders", key="o1", value="p1/1").result()
    cluster.run(2_000)
    assert app.processed() == 0
    global_thread._caught_up = caught_up
    cluster.run(2_000)
    assert app.processed() == 1 and read_topic(cluster, "out", 2, value_serde="string") == [("o1", "p1/1 of apple")]

"""Stream-stream joins with JoinWindows against Kafka's own expected outputs (KStreamKStreamLeftJoinTest,
KStreamKStreamOuterJoinTest, TopologyTest in apache/kafka) and hand-computed ones, in the driver and on a cluster."""
import pytest

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.streams.serdes import serde

INTS = {"default.key.serde": "integer", "default.value.serde": "string"}


def joiner(a, b):
    return f"{a}+{b}"


def test_left_join_topology_reads_like_kafkas():
    # TopologyTest.streamStreamLeftJoinTopologyWithDefaultStoresNames
    b = ks.StreamsBuilder()
    b.stream("input-topic1").left_join(b.stream("input-topic2"), joiner,
                                       ks.JoinWindows.of_time_difference_with_no_grace(100))
    assert str(b.build().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
        "      --> KSTREAM-WINDOWED-0000000002\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
        "      --> KSTREAM-WINDOWED-0000000003\n"
        "    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])\n"
        "      --> KSTREAM-JOINTHIS-0000000004\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-OUTEROTHER-0000000005-store])\n"
        "      --> KSTREAM-OUTEROTHER-0000000005\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store, "
        "KSTREAM-OUTERSHARED-0000000004-store])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-WINDOWED-0000000002\n"
        "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store, "
        "KSTREAM-OUTERSHARED-0000000004-store])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-WINDOWED-0000000003\n"
        "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
        "      --> none\n"
        "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n")
    topics = {t.name: dict(t.config) for t in b.build().internal_topics("app")}
    assert topics["app-KSTREAM-JOINTHIS-0000000004-store-changelog"] == {
        "cleanup.policy": "compact,delete", "retention.ms": str(200 + 86_400_000)}
    assert topics["app-KSTREAM-OUTERSHARED-0000000004-store-changelog"] == {"cleanup.policy": "compact"}


def _drive(windows, kind, steps, config=None):
    b = ks.StreamsBuilder()
    s1, s2 = b.stream("topic1"), b.stream("topic2")
    getattr(s1, kind)(s2, joiner, windows).to("out")
    driver = ks.TopologyTestDriver(b.build(), {**INTS, **(config or {})})
    out = []
    for topic, records in steps:
        for k, v, t in records:
            driver.pipe_input(topic, k, v, t)
        out.append([(r.key, r.value, r.timestamp_ms) for r in driver.read_records("out")])
    return out, driver


def test_left_join_with_zero_after_as_kafka_emits_it():
    # KStreamKStreamLeftJoinTest.testLeftJoinedRecordsWithZeroAfterAreEmitted
    keys = [0, 1, 2, 3]
    steps = [("topic1", [(k, f"A{k}", 1000 + i) for i, k in enumerate(keys)])]
    steps += [("topic2", [(k, f"{p}{k}", t) for k in keys]) for p, t in
              (("a", 999), ("b", 1000), ("c", 1001), ("d", 1002), ("e", 1003), ("f", 1100))]
    out, _ = _drive(ks.JoinWindows.of_time_difference_with_no_grace(100).after(0), "left_join", steps)
    assert out == [
        [(0, "A0+None", 1000), (1, "A1+None", 1001), (2, "A2+None", 1002)],
        [(0, "A0+a0", 1000), (1, "A1+a1", 1001), (2, "A2+a2", 1002), (3, "A3+a3", 1003)],
        [(0, "A0+b0", 1000), (1, "A1+b1", 1001), (2, "A2+b2", 1002), (3, "A3+b3", 1003)],
        [(1, "A1+c1", 1001), (2, "A2+c2", 1002), (3, "A3+c3", 1003)],
        [(2, "A2+d2", 1002), (3, "A3+d3", 1003)],
        [(3, "A3+e3", 1003)],
        []]


def test_outer_join_with_duplicates_as_kafka_emits_it():
    # KStreamKStreamOuterJoinTest.testOuterJoinDuplicates (values of topic2 as strings here)
    steps = [("topic1", [(0, "A0", 0), (0, "A0-0", 0)]),
             ("topic2", [(1, "11", 0), (1, "12", 0), (1, "10", 111), (3, "100", 211)]),
             ("topic1", [(2, "A2", 200), (2, "A2-0", 200)]),
             ("topic2", [(2, "13", 201), (2, "14", 201)]),
             ("topic2", [(3, "100", 1500)])]
    out, _ = _drive(ks.JoinWindows.of_time_difference_and_grace(100, 10), "outer_join", steps)
    assert out[0] + out[1] == [(1, "None+11", 0), (1, "None+12", 0), (0, "A0+None", 0), (0, "A0-0+None", 0)]
    assert out[2] + out[3] == [(2, "A2+13", 201), (2, "A2-0+13", 201), (2, "A2+14", 201), (2, "A2-0+14", 201)]
    assert out[4] == [(1, "None+10", 111), (3, "None+100", 211)]


def test_inner_join_pairs_records_within_the_window_and_drops_late_ones():
    # hand-computed: windows of 10 ms before and after, grace 0; the store keeps records for 20 ms of stream time
    steps = [("topic1", [(1, "L1", 100)]),
             ("topic2", [(1, "R1", 105), (1, "R2", 111), (2, "X", 105)]),
             ("topic1", [(1, "L2", 110), (1, "L3", 50)])]
    out, driver = _drive(ks.JoinWindows.of_time_difference_with_no_grace(10), "join", steps)
    assert out == [[], [(1, "L1+R1", 105)], [(1, "L2+R1", 110), (1, "L2+R2", 111)]]
    assert driver.dropped_records() == 1          # L3 at 50: older than the store's retention (111 - 20)


def test_left_join_waits_for_the_wall_clock_emit_interval_on_a_real_app_config():
    # with Kafka's default emit interval (1000 ms of wall clock), non-joined records are held until the wall clock
    # passes the next emit time, even though their windows closed. The very first record already used the emit
    # at wall clock 0 (on an empty store: Kafka's check adds to Long.MAX_VALUE, which wraps), so nothing comes out
    # before the wall clock reaches 1000.
    steps = [("topic1", [(1, "A", 0), (2, "B", 50)]), ("topic1", [(3, "C", 100)])]
    config = {"__emit.interval.ms.kstreams.outer.join.spurious.results.fix__": 1000}
    out, driver = _drive(ks.JoinWindows.of_time_difference_with_no_grace(10), "left_join", steps, config)
    assert out == [[], []]
    driver.advance_wall_clock(1000)
    driver.pipe_input("topic1", 4, "D", 200)
    assert [(r.key, r.value) for r in driver.read_records("out")] == [(1, "A+None"), (2, "B+None"), (3, "C+None")]


def test_stream_join_errors_name_what_is_missing():
    b = ks.StreamsBuilder()
    s1, s2 = b.stream("a"), b.stream("b")
    with pytest.raises(TypeError, match="a stream-stream join needs JoinWindows, e.g. join\\(other, joiner, "
                                        "ks.JoinWindows.of_time_difference_and_grace\\(5000, 1000\\)\\), got NoneType"):
        s1.join(s2, joiner)
    with pytest.raises(TypeError, match="a stream-table join takes no windows"):
        s1.join(b.table("t"), joiner, ks.JoinWindows.of_time_difference_with_no_grace(5))
    with pytest.raises(TypeError, match="outer_join\\(\\) of a KStream takes another KStream, got KTable"):
        s1.outer_join(b.table("t2"), joiner, ks.JoinWindows.of_time_difference_with_no_grace(5))
    with pytest.raises(TypeError, match="join\\(\\) takes a KTable, or a KStream with JoinWindows, got int"):
        s1.join(5, joiner)


def test_windowed_join_on_a_cluster_equals_the_driver():
    # orders and payments of the same key within 2 s of each other; some payments never come
    b = ks.StreamsBuilder()
    b.stream("orders").left_join(b.stream("payments"), joiner,
                                 ks.JoinWindows.of_time_difference_and_grace(2_000, 500)).to("paid")
    topology = b.build()
    base = 5_000_000
    orders = [(k, f"o{k}", base + k * 300) for k in range(40)]
    payments = [(k, f"p{k}", base + k * 300 + (k % 5) * 700) for k in range(40) if k % 4]
    events = sorted([("orders", *o) for o in orders] + [("payments", *p) for p in payments], key=lambda e: e[3])
    config = {**INTS, "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__": 0}
    driver = ks.TopologyTestDriver(topology, config, partitions={"orders": 2, "payments": 2})
    for topic, k, v, t in events:
        driver.pipe_input(topic, k, v, t)
    expected = sorted(driver.read_key_values("paid"))
    assert (4, "o4+None") in expected and (5, "o5+p5") in expected and (3, "o3+p3") not in expected
    cluster = kl.Cluster(brokers=3, controllers=1, seed=3)
    for t in ("orders", "payments", "paid"):
        cluster.create_topic(t, partitions=2)
    app = cluster.streams(topology, {**config, "application.id": "pay", "statestore.cache.max.bytes": 0},
                          instances=2)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer = cluster.producer({"linger.ms": 0})
    integer = serde("integer")
    for topic, k, v, t in events:
        producer.send(topic, key=integer.serialize(k), value=v, timestamp_ms=t).result()
        cluster.run(10)
    cluster.run(20_000)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("paid", p) for p in range(2)])
    got = []
    while batch := consumer.poll(2000):
        got.extend((integer.deserialize(r.key), r.value.decode()) for r in batch)
    # each record is produced only after the previous one is acknowledged, and both topics of a key share a
    # partition (and so a task), so the task sees the same order as the driver
    assert sorted(got) == expected

"""Operators against hand-computed outputs, in the multi-partition TopologyTestDriver (the driver commits after
every input record, as Kafka's does, so every update is visible)."""
import pytest

from kafkalab import streams as ks

STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def word_count(builder: ks.StreamsBuilder) -> None:
    (builder.stream("lines")
     .flat_map_values(lambda line: line.lower().split())
     .group_by(lambda k, word: word)
     .count(materialized="counts")
     .to_stream().to("word-counts", value_serde="long"))


def test_word_count_through_a_repartition_topic_with_three_partitions():
    b = ks.StreamsBuilder()
    word_count(b)
    driver = ks.TopologyTestDriver(b.build(), STRINGS, partitions={"lines": 3})
    assert len(driver.tasks) == 6          # 2 sub-topologies x 3 partitions
    driver.pipe_input("lines", "l1", "the cat", 1)
    driver.pipe_input("lines", "l2", "The dog", 2)
    assert driver.read_key_values("word-counts") == [("the", 1), ("cat", 1), ("the", 2), ("dog", 1)]
    assert driver.get_key_value_store("counts").to_dict() == {"cat": 1, "dog": 1, "the": 2}
    assert driver.read_key_values("word-counts") == []          # read once


def test_stateless_operators_and_branches():
    b = ks.StreamsBuilder()
    s = b.stream("in", key_serde="string", value_serde="json")
    branches = (s.filter(lambda k, v: v["n"] >= 0).map_values(lambda v: v["n"])
                .split().branch(lambda k, n: n % 2 == 0, name="even").default_branch(name="odd"))
    branches["KSTREAM-BRANCH-0000000003even"].to("even", value_serde="long")
    branches["KSTREAM-BRANCH-0000000003odd"].map(lambda k, n: (f"{k}!", n * 10)).to("odd", key_serde="string",
                                                                                    value_serde="long")
    seen = []
    s.filter_not(lambda k, v: v["n"] >= 0).peek(lambda k, v: seen.append(k)).to("negative")
    driver = ks.TopologyTestDriver(b.build())
    for i, n in enumerate([2, 3, -1, 4]):
        driver.pipe_input("in", f"k{i}", {"n": n}, i)
    assert driver.read_key_values("even", value_serde="long") == [("k0", 2), ("k3", 4)]
    assert driver.read_key_values("odd", key_serde="string", value_serde="long") == [("k1!", 30)]
    assert driver.read_key_values("negative", key_serde="string", value_serde="json") == [("k2", {"n": -1})]
    assert seen == ["k2"]


def test_table_group_by_subtracts_the_old_row():
    # users -> region; count users per region; a user moving regions is subtracted from the old one
    b = ks.StreamsBuilder()
    (b.table("users").group_by(lambda user, region: (region, user)).count(materialized="per-region")
     .to_stream().to("regions", value_serde="long"))
    driver = ks.TopologyTestDriver(b.build(), STRINGS, partitions={"users": 2})
    driver.pipe_input("users", "ann", "eu", 1)
    driver.pipe_input("users", "bob", "eu", 2)
    driver.pipe_input("users", "ann", "us", 3)
    driver.pipe_input("users", "bob", None, 4)          # a tombstone: bob leaves
    assert driver.get_key_value_store("per-region").to_dict() == {"eu": 0, "us": 1}
    assert driver.read_key_values("regions", value_serde="long") == [
        ("eu", 1), ("eu", 2), ("eu", 1), ("us", 1), ("eu", 0)]


def test_stream_table_join_enriches_with_the_current_row():
    b = ks.StreamsBuilder()
    customers = b.table("customers")
    b.stream("orders").left_join(customers, lambda order, name: f"{order} by {name}").to("enriched")
    driver = ks.TopologyTestDriver(b.build(), STRINGS, partitions={"orders": 2, "customers": 2})
    driver.pipe_input("orders", "c1", "o1", 1)
    driver.pipe_input("customers", "c1", "Ann", 2)
    driver.pipe_input("orders", "c1", "o2", 3)
    assert driver.read_key_values("enriched") == [("c1", "o1 by None"), ("c1", "o2 by Ann")]


def test_table_table_joins():
    b = ks.StreamsBuilder()
    left, right = b.table("L"), b.table("R")
    left.join(right, lambda a, c: a + c).to_stream().to("inner")
    left.outer_join(right, lambda a, c: f"{a}|{c}").to_stream().to("outer")
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    driver.pipe_input("L", "k", "a", 1)
    driver.pipe_input("R", "k", "b", 2)
    driver.pipe_input("L", "k", None, 3)
    assert driver.read_key_values("inner") == [("k", "ab"), ("k", None)]
    assert driver.read_key_values("outer") == [("k", "a|None"), ("k", "a|b"), ("k", "None|b")]


def test_a_join_of_topics_with_different_partition_counts_fails_as_kafka_fails_it():
    b = ks.StreamsBuilder()
    b.stream("orders").join(b.table("customers"), lambda o, c: o).to("out")
    with pytest.raises(ks.TopologyException, match=r"Topics not co-partitioned: \[customers,orders\]"):
        ks.TopologyTestDriver(b.build(), STRINGS, partitions={"orders": 3, "customers": 2})


class Totals(ks.Processor):
    """Processor API: sum per key in a store; emit every total on stream-time and wall-clock punctuations."""

    def init(self, context):
        super().init(context)
        self.store = context.get_state_store("totals")
        self.stream_ticks = []
        context.schedule(10, ks.STREAM_TIME, lambda ts: self.emit("stream", ts))
        context.schedule(1000, ks.WALL_CLOCK_TIME, lambda ts: self.emit("wall", ts))

    def emit(self, kind, ts):
        for k, v in self.store.all():
            self.context.forward(ks.Record(k, f"{kind}@{ts}:{v}", ts))

    def process(self, record):
        self.store.put(record.key, (self.store.get(record.key) or 0) + int(record.value), record.timestamp)


def test_processor_api_store_and_punctuators():
    b = ks.StreamsBuilder()
    b.add_state_store("totals", value_serde="long")
    b.stream("in").process(Totals, "totals").to("out")
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    driver.pipe_input("in", "a", "5", 0)           # anchors stream time: first punctuation at 10
    driver.pipe_input("in", "a", "2", 9)
    assert driver.read_key_values("out") == []
    driver.pipe_input("in", "b", "1", 25)          # stream time jumps past 10 and 20: fires once, not twice
    assert driver.read_key_values("out") == [("a", "stream@25:7"), ("b", "stream@25:1")]
    driver.advance_wall_clock(999)
    assert driver.read_key_values("out") == []
    driver.advance_wall_clock(1)
    assert driver.read_key_values("out") == [("a", "wall@1000:7"), ("b", "wall@1000:1")]


def test_driver_errors_name_what_is_wrong():
    b = ks.StreamsBuilder()
    word_count(b)
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    with pytest.raises(ks.UnknownStateStoreException, match="no such store.*did you mean 'counts'"):
        driver.get_key_value_store("count")
    with pytest.raises(ValueError, match=r"topic 'line' is not a source topic of the topology \(sources: lines\)"):
        driver.pipe_input("line", "k", "v")
    with pytest.raises(ks.StreamsException, match="store counts key: no serde given and 'default.key.serde' is not "
                                                  "set"):
        ks.TopologyTestDriver(b.build())


def test_bad_streams_config_names_the_closest_key():
    b = ks.StreamsBuilder()
    word_count(b)
    with pytest.raises(ks.streams_config.__globals__["ConfigError"],
                       match=r"unknown streams config 'comit.interval.ms'.*did you mean 'commit.interval.ms'\?"):
        ks.TopologyTestDriver(b.build(), {"comit.interval.ms": 5})

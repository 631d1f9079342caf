"""KTable.suppress against Kafka's own SuppressScenarioTest outputs, its errors, and a final-results count on a
cluster (one record per window, after the window closes)."""
import pytest

import kafkalab as kl
from kafkalab import streams as ks
from kafkalab.streams.serdes import serde

STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def drain(driver, topic):
    return [(r.key, r.value, r.timestamp_ms) for r in driver.read_records(topic, value_serde="long")]


def windowed_counts(windows):
    b = ks.StreamsBuilder()
    counts = b.stream("input").group_by(lambda k, v: k).windowed_by(windows).count(materialized="counts")
    counts.suppress(ks.Suppressed.until_window_closes(ks.BufferConfig.unbounded())).to_stream() \
        .map(lambda w, n: (str(w), n)).to("output-suppressed", value_serde="long")
    counts.to_stream().map(lambda w, n: (str(w), n)).to("output-raw", value_serde="long")
    return ks.TopologyTestDriver(b.build(), {**STRINGS, "statestore.cache.max.bytes": 0})


def test_final_results_for_time_windows():
    # SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows: size 2, grace 1; the last record is too late
    driver = windowed_counts(ks.TimeWindows.of_size_and_grace(2, 1))
    for t in (0, 1, 2, 1, 0, 5, 0):
        driver.pipe_input("input", "k1", "v1", t)
    assert drain(driver, "output-raw") == [("[k1@0/2]", 1, 0), ("[k1@0/2]", 2, 1), ("[k1@2/4]", 1, 2),
                                           ("[k1@0/2]", 3, 1), ("[k1@0/2]", 4, 1), ("[k1@4/6]", 1, 5)]
    assert drain(driver, "output-suppressed") == [("[k1@0/2]", 4, 1), ("[k1@2/4]", 1, 2)]


def test_final_results_for_session_windows():
    # SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows: gap 5, no grace (a session closes gap + grace
    # after its end); the tombstones of merged sessions are never emitted
    driver = windowed_counts(ks.SessionWindows.of_inactivity_gap_with_no_grace(5))
    for k, t in (("k1", 0), ("k1", 5), ("k1", 1), ("k2", 11), ("k1", 5), ("k1", 30)):
        driver.pipe_input("input", k, "v1", t)
    assert drain(driver, "output-raw") == [("[k1@0/0]", 1, 0), ("[k1@0/0]", None, 0), ("[k1@0/5]", 2, 5),
                                           ("[k1@0/5]", None, 5), ("[k1@0/5]", 3, 5), ("[k2@11/11]", 1, 11),
                                           ("[k1@30/30]", 1, 30)]
    assert drain(driver, "output-suppressed") == [("[k1@0/5]", 3, 5), ("[k2@11/11]", 1, 11)]


def table_counts(suppressed):
    b = ks.StreamsBuilder()
    counts = b.table("input").group_by(lambda k, v: (v, k)).count()
    counts.suppress(suppressed).to_stream().to("output-suppressed", value_serde="long")
    counts.to_stream().to("output-raw", value_serde="long")
    return ks.TopologyTestDriver(b.build(), {**STRINGS, "statestore.cache.max.bytes": 0})


def test_until_time_limit_keeps_a_keys_first_place_and_its_latest_value():
    # SuppressScenarioTest.shouldSuppressIntermediateEventsWithTimeLimit
    driver = table_counts(ks.Suppressed.until_time_limit(2, ks.BufferConfig.unbounded()))
    for k, v, t in (("k1", "v1", 0), ("k1", "v2", 1), ("k2", "v1", 2)):
        driver.pipe_input("input", k, v, t)
    assert drain(driver, "output-raw") == [("v1", 1, 0), ("v1", 0, 1), ("v2", 1, 1), ("v1", 1, 2)]
    assert drain(driver, "output-suppressed") == [("v1", 1, 2)]
    driver.pipe_input("input", "tick", "tick", 3)
    assert drain(driver, "output-raw") == [("tick", 1, 3)]
    assert drain(driver, "output-suppressed") == [("v2", 1, 1)]
    driver.pipe_input("input", "tick", "tock", 4)
    assert drain(driver, "output-raw") == [("tick", 0, 4), ("tock", 1, 4)]
    assert drain(driver, "output-suppressed") == []


def test_a_full_buffer_emits_its_oldest_key_early():
    # SuppressScenarioTest.shouldSuppressIntermediateEventsWithRecordLimit
    driver = table_counts(ks.Suppressed.until_time_limit((1 << 63) - 1,
                                                         ks.BufferConfig.max_records(1).emit_early_when_full()))
    for k, v, t in (("k1", "v1", 0), ("k1", "v2", 1), ("k2", "v1", 2)):
        driver.pipe_input("input", k, v, t)
    assert drain(driver, "output-suppressed") == [("v1", 0, 1), ("v2", 1, 1)]
    driver.pipe_input("input", "x", "x", 3)
    assert drain(driver, "output-suppressed") == [("v1", 1, 2)]


def test_a_full_strict_buffer_fails_the_task():
    driver = table_counts(ks.Suppressed.until_time_limit(1000, ks.BufferConfig.max_records(1).shut_down_when_full()))
    driver.pipe_input("input", "k1", "v1", 0)
    with pytest.raises(ks.StreamsException, match=r"KTABLE-SUPPRESS-\d+ buffer exceeded its max capacity. "
                                                  r"Currently \[2/1\] records and \[\d+/\d+\] bytes."):
        driver.pipe_input("input", "k2", "v2", 1)


def test_suppress_errors():
    b = ks.StreamsBuilder()
    table = b.table("t")
    with pytest.raises(ValueError, match=r"Window close time is only defined for windowed computations. Got "
                                         r"\[KTABLE-SOURCE-0000000002\]."):
        table.suppress(ks.Suppressed.until_window_closes())
    with pytest.raises(ValueError, match="until_window_closes needs a strict buffer config"):
        ks.Suppressed.until_window_closes(ks.BufferConfig.max_records(5))
    with pytest.raises(TypeError, match="suppress\\(\\) takes a Suppressed"):
        table.suppress("until-window-closes")
    with pytest.raises(ValueError, match="records must be an int >= 0, got -1"):
        ks.BufferConfig.max_records(-1)


def test_final_results_on_a_cluster_are_one_record_per_window():
    b = ks.StreamsBuilder()
    (b.stream("clicks").group_by_key()
     .windowed_by(ks.TimeWindows.of_size_and_grace(1_000, 200)).count(materialized="per-second")
     .suppress(ks.Suppressed.until_window_closes().with_name("final"))
     .to_stream().map(lambda w, n: (f"{w.key}@{w.window.start}", n)).to("final-counts", value_serde="long"))
    cluster = kl.Cluster(brokers=3, controllers=1, seed=4)
    cluster.create_topic("clicks", partitions=1)
    cluster.create_topic("final-counts", partitions=1)
    app = cluster.streams(b.build(), {**STRINGS, "application.id": "sup", "commit.interval.ms": 200},
                          instances=1)
    assert cluster.run_until(lambda: app.state() == "RUNNING", 60_000)
    producer = cluster.producer({"linger.ms": 0})
    base = 10_000_000
    expected: dict[str, int] = {}
    for i in range(60):
        t = base + i * 100
        producer.send("clicks", key="u", value="c", timestamp_ms=t).result()
        expected[f"u@{t // 1000 * 1000}"] = expected.get(f"u@{t // 1000 * 1000}", 0) + 1
    cluster.run(5_000)
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("final-counts", 0)])
    long = serde("long")
    got = []
    while batch := consumer.poll(2000):
        got.extend((r.key.decode(), long.deserialize(r.value)) for r in batch)
    # the last window [base+5000, base+6000) has not closed (stream time base+5900 < its end + grace)
    assert got == [(k, n) for k, n in expected.items()][:-1]

"""Windowed aggregations in the TopologyTestDriver against Kafka's own expected outputs (KStreamWindowAggregateTest,
KStreamSlidingWindowAggregateTest, SessionWindowedKStreamImplTest in apache/kafka), window and session stores,
late records, and the windows' own rules."""
import datetime

import pytest

from kafkalab import streams as ks
from kafkalab.streams.windows import Window, Windowed

STRINGS = {"default.key.serde": "string", "default.value.serde": "string"}


def adder(k, v, agg):
    return f"{agg}+{v}"


def test_hopping_windows_match_kafkas_test_agg_basic():
    # KStreamWindowAggregateTest.testAggBasic: size 10, advance 5, grace 100; the last three records are late
    # but within grace, so they update the windows [0,10) and [5,15) again
    b = ks.StreamsBuilder()
    (b.stream("topic1").group_by_key()
     .windowed_by(ks.TimeWindows.of_size_and_grace(10, 100).advance_by(5))
     .aggregate(lambda: "0", adder, value_serde="string", materialized="topic1-Canonized")
     .to_stream().to("out"))
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    for k, v, t in [("A", "1", 0), ("B", "2", 1), ("C", "3", 2), ("D", "4", 3), ("A", "1", 4), ("A", "1", 5),
                    ("B", "2", 6), ("D", "4", 7), ("B", "2", 8), ("C", "3", 9), ("A", "1", 10), ("B", "2", 11),
                    ("D", "4", 12), ("B", "2", 13), ("C", "3", 14), ("B", "1", 3), ("B", "2", 2), ("B", "3", 9)]:
        driver.pipe_input("topic1", k, v, t)
    got = [(str(r.key), r.value, r.timestamp_ms) for r in driver.read_records("out")]
    assert got == [
        ("[A@0/10]", "0+1", 0), ("[B@0/10]", "0+2", 1), ("[C@0/10]", "0+3", 2), ("[D@0/10]", "0+4", 3),
        ("[A@0/10]", "0+1+1", 4), ("[A@0/10]", "0+1+1+1", 5), ("[A@5/15]", "0+1", 5), ("[B@0/10]", "0+2+2", 6),
        ("[B@5/15]", "0+2", 6), ("[D@0/10]", "0+4+4", 7), ("[D@5/15]", "0+4", 7), ("[B@0/10]", "0+2+2+2", 8),
        ("[B@5/15]", "0+2+2", 8), ("[C@0/10]", "0+3+3", 9), ("[C@5/15]", "0+3", 9), ("[A@5/15]", "0+1+1", 10),
        ("[A@10/20]", "0+1", 10), ("[B@5/15]", "0+2+2+2", 11), ("[B@10/20]", "0+2", 11),
        ("[D@5/15]", "0+4+4", 12), ("[D@10/20]", "0+4", 12), ("[B@5/15]", "0+2+2+2+2", 13),
        ("[B@10/20]", "0+2+2", 13), ("[C@5/15]", "0+3+3", 14), ("[C@10/20]", "0+3", 14),
        ("[B@0/10]", "0+2+2+2+1", 8), ("[B@0/10]", "0+2+2+2+1+2", 8), ("[B@0/10]", "0+2+2+2+1+2+3", 9),
        ("[B@5/15]", "0+2+2+2+2+3", 13)]
    store = driver.get_window_store("topic1-Canonized")
    assert store.fetch("B", 0, 100) == [(0, "0+2+2+2+1+2+3"), (5, "0+2+2+2+2+3"), (10, "0+2+2")]
    assert driver.dropped_records() == 0


def test_records_after_grace_are_dropped_and_counted():
    # KStreamWindowAggregateTest.shouldLogAndMeterWhenSkippingExpiredWindowByGrace: size 10, grace 90; after the
    # record at 200 the window [100,110) closes at 110 + 90 = 200, so the next seven records are late
    b = ks.StreamsBuilder()
    (b.stream("topic").group_by_key()
     .windowed_by(ks.TimeWindows.of_size_and_grace(10, 90))
     .aggregate(lambda: "", adder, value_serde="string")
     .to_stream().map(lambda k, v: (str(k), v)).to("output"))
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    for v, t in [("100", 200), ("0", 100), ("1", 101), ("2", 102), ("3", 103), ("4", 104), ("5", 105), ("6", 6)]:
        driver.pipe_input("topic", "k", v, t)
    assert [(r.key, r.value, r.timestamp_ms) for r in driver.read_records("output")] == [("[k@200/210]", "+100", 200)]
    assert driver.dropped_records() == 7


def test_tumbling_count_with_grace_takes_late_records_until_the_window_closes():
    # hand-computed: 1-minute windows, 10 s grace; stream time 65 s closes nothing yet ([0,60) closes at 70 s)
    b = ks.StreamsBuilder()
    (b.stream("orders").group_by_key()
     .windowed_by(ks.TimeWindows.of_size_and_grace(datetime.timedelta(minutes=1), datetime.timedelta(seconds=10)))
     .count(materialized="per-minute").to_stream().map(lambda k, n: (str(k), n)).to("counts", value_serde="long"))
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    for t in (1_000, 30_000, 65_000, 59_000, 71_000, 58_000):
        driver.pipe_input("orders", "alice", "o", t)
    assert driver.read_key_values("counts") == [
        ("[alice@0/60000]", 1), ("[alice@0/60000]", 2), ("[alice@60000/120000]", 1),
        ("[alice@0/60000]", 3),          # 59 s arrives at stream time 65 s: late but within grace
        ("[alice@60000/120000]", 2)]     # 71 s closes [0,60); 58 s is then dropped
    assert driver.dropped_records() == 1
    assert driver.get_window_store("per-minute").fetch("alice", 0, 60_000) == [(0, 3), (60_000, 2)]


def _sliding_output(records, windows, agg):
    b = ks.StreamsBuilder()
    grouped = b.stream("topic").group_by_key().windowed_by(windows)
    table = grouped.aggregate(lambda: "0", adder, value_serde="string") if agg else \
        grouped.reduce(lambda a, v: f"{a}+{v}")
    table.to_stream().to("out")
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    for v, t in records:
        driver.pipe_input("topic", "A", v, t)
    out: dict[int, set] = {}
    for r in driver.read_records("out"):
        assert r.key.window.end == r.key.window.start + windows.time_difference_ms
        out.setdefault(r.key.window.start, set()).add((r.value, r.timestamp_ms))
    return out


def test_sliding_windows_aggregate_as_kafka_computes_them():
    # KStreamSlidingWindowAggregateTest.testAggregateSmallInput (emit on update): time difference 10, grace 5
    out = _sliding_output([("1", 10), ("2", 10), ("3", 14), ("4", 15), ("5", 20), ("6", 22), ("7", 30)],
                          ks.SlidingWindows.of_time_difference_and_grace(10, 5), agg=True)
    assert out == {
        0: {("0+1", 10), ("0+1+2", 10)}, 4: {("0+1+2+3", 14)}, 5: {("0+1+2+3+4", 15)}, 10: {("0+1+2+3+4+5", 20)},
        11: {("0+3", 14), ("0+3+4", 15), ("0+3+4+5", 20)}, 12: {("0+3+4+5+6", 22)},
        15: {("0+4", 15), ("0+4+5", 20), ("0+4+5+6", 22)}, 16: {("0+5", 20), ("0+5+6", 22)},
        20: {("0+5+6+7", 30)}, 21: {("0+6", 22), ("0+6+7", 30)}, 23: {("0+7", 30)}}


def test_sliding_windows_reduce_as_kafka_computes_them():
    # KStreamSlidingWindowAggregateTest.testReduceSmallInput
    out = _sliding_output([("1", 10), ("2", 14), ("3", 15), ("4", 22), ("5", 26), ("6", 30)],
                          ks.SlidingWindows.of_time_difference_and_grace(10, 5), agg=False)
    assert out == {
        0: {("1", 10)}, 4: {("1+2", 14)}, 5: {("1+2+3", 15)}, 11: {("2", 14), ("2+3", 15)}, 12: {("2+3+4", 22)},
        15: {("3", 15), ("3+4", 22)}, 16: {("4", 22), ("4+5", 26)}, 20: {("4+5+6", 30)},
        23: {("5", 26), ("5+6", 30)}, 27: {("6", 30)}}


def test_early_records_share_the_first_sliding_window():
    # records before the time difference go into [0, d] (processEarly); hand-computed with d = 10
    out = _sliding_output([("a", 2), ("b", 5), ("c", 12)], ks.SlidingWindows.of_time_difference_with_no_grace(10),
                          agg=True)
    assert out == {0: {("0+a", 2), ("0+a+b", 5)}, 3: {("0+b", 5), ("0+b+c", 12)}, 2: {("0+a+b+c", 12)},
                   6: {("0+c", 12)}}


def test_session_windows_merge_and_retract_as_kafka_shows():
    # SessionWindowedKStreamImplTest.shouldCountSessionWindowedWithCachingDisabled: gap 500, no grace
    b = ks.StreamsBuilder()
    (b.stream("topic").group_by_key()
     .windowed_by(ks.SessionWindows.of_inactivity_gap_with_no_grace(500))
     .count(materialized="sessions").to_stream().to("out", value_serde="long"))
    driver = ks.TopologyTestDriver(b.build(), {**STRINGS, "statestore.cache.max.bytes": 0})
    for k, v, t in [("1", "1", 10), ("1", "2", 15), ("1", "3", 600), ("2", "1", 600), ("2", "2", 599)]:
        driver.pipe_input("topic", k, v, t)
    got = [(r.key, r.value, r.timestamp_ms) for r in driver.read_records("out")]
    assert got == [
        (Windowed("1", Window(10, 10)), 1, 10), (Windowed("1", Window(10, 10)), None, 10),
        (Windowed("1", Window(10, 15)), 2, 15), (Windowed("1", Window(600, 600)), 1, 600),
        (Windowed("2", Window(600, 600)), 1, 600), (Windowed("2", Window(600, 600)), None, 600),
        (Windowed("2", Window(599, 600)), 2, 600)]
    sessions = driver.get_session_store("sessions")
    # the store keeps sessions for gap + grace = 500 ms of stream time: [10,15] is gone at 600
    assert sessions.fetch("1") == [(Windowed("1", Window(600, 600)), 1)]


def test_a_late_record_cannot_reopen_a_closed_session():
    b = ks.StreamsBuilder()
    (b.stream("clicks").group_by_key()
     .windowed_by(ks.SessionWindows.of_inactivity_gap_and_grace(100, 50))
     .reduce(lambda a, v: a + v, materialized="s").to_stream().to("out"))
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    driver.pipe_input("clicks", "u", "a", 0)
    driver.pipe_input("clicks", "u", "b", 1_000)      # close time = 1000 - 50 - 100 = 850: [0,0] is closed
    driver.pipe_input("clicks", "u", "c", 50)         # would merge into [0,50]: ends before 850, dropped
    driver.pipe_input("clicks", "u", "d", 900)        # [900,900] ends after the close time: merges with [1000]
    assert driver.dropped_records() == 1
    assert driver.get_session_store("s").fetch("u") == [(Windowed("u", Window(900, 1000)), "bd")]


def test_window_changelog_has_kafkas_topic_configs():
    b = ks.StreamsBuilder()
    b.stream("in").group_by_key().windowed_by(ks.TimeWindows.of_size_and_grace(60_000, 5_000)).count(
        materialized="w")
    b.stream("in2").group_by_key().windowed_by(ks.SessionWindows.of_inactivity_gap_with_no_grace(1_000)).count(
        materialized="s")
    topics = {t.name: dict(t.config) for t in b.build().internal_topics("app")}
    assert topics["app-w-changelog"] == {"cleanup.policy": "compact,delete", "retention.ms": str(65_000 + 86_400_000)}
    assert topics["app-s-changelog"] == {"cleanup.policy": "compact,delete", "retention.ms": str(1_000 + 86_400_000)}


def test_window_store_drops_windows_past_retention():
    b = ks.StreamsBuilder()
    b.stream("in").group_by_key().windowed_by(ks.TimeWindows.of_size_with_no_grace(10)).count(
        materialized="w", retention_ms=30)
    driver = ks.TopologyTestDriver(b.build(), STRINGS)
    for t in (0, 10, 20, 30, 40):
        driver.pipe_input("in", "k", "v", t)
    # retention 30: the store's observed time is 40, windows starting at or before 10 are gone
    assert driver.get_window_store("w").fetch("k", 0, 100) == [(20, 1), (30, 1), (40, 1)]


def test_windows_follow_kafkas_rules():
    assert ks.TimeWindows.of_size_with_no_grace(10).advance_by(3).windows_for(7) == [
        Window(0, 10), Window(3, 13), Window(6, 16)]
    assert ks.JoinWindows.of_time_difference_and_grace(5, 1).before(2).size() == 7
    with pytest.raises(ValueError, match="Window size \\(sizeMs\\) must be larger than zero"):
        ks.TimeWindows.of_size_with_no_grace(0)
    with pytest.raises(ValueError, match="Window advancement interval should be more than zero and less than window "
                                         "duration which is 10 ms, but given advancement interval is: 11 ms"):
        ks.TimeWindows.of_size_with_no_grace(10).advance_by(11)
    with pytest.raises(ValueError, match="grace must not be negative, got -1 ms"):
        ks.TimeWindows.of_size_and_grace(10, -1)
    with pytest.raises(TypeError, match="size must be an int of milliseconds or a datetime.timedelta, got str"):
        ks.TimeWindows.of_size_with_no_grace("10s")
    with pytest.raises(ValueError, match="Gap time cannot be zero or negative"):
        ks.SessionWindows.of_inactivity_gap_with_no_grace(0)
    with pytest.raises(ValueError, match=r"Window interval \(ie, beforeMs\+afterMs\) must not be negative"):
        ks.JoinWindows.of_time_difference_with_no_grace(5).after(-6)
    with pytest.raises(TypeError, match="windowed_by\\(\\) takes TimeWindows, SlidingWindows or SessionWindows, "
                                        "got int"):
        ks.StreamsBuilder().stream("x").group_by_key().windowed_by(10)


def test_retention_below_the_minimum_and_wrong_store_kind_are_refused():
    b = ks.StreamsBuilder()
    grouped = b.stream("in").group_by_key()
    with pytest.raises(ValueError, match=r"The retention period of the window store w must be no smaller than its "
                                         r"window size plus the grace period \(size=\[10\], grace=\[5\]\), got "
                                         r"retention=\[14\]"):
        grouped.windowed_by(ks.TimeWindows.of_size_and_grace(10, 5)).count(materialized="w", retention_ms=14)
    with pytest.raises(ValueError, match=r"2 \* time difference plus the grace period"):
        grouped.windowed_by(ks.SlidingWindows.of_time_difference_and_grace(10, 5)).count(materialized="x",
                                                                                         retention_ms=20)
    with pytest.raises(ValueError, match=r"session store y must be no smaller than the session inactivity gap"):
        grouped.windowed_by(ks.SessionWindows.of_inactivity_gap_and_grace(10, 5)).count(materialized="y",
                                                                                        retention_ms=1)
    b2 = ks.StreamsBuilder()
    b2.stream("in").group_by_key().windowed_by(ks.TimeWindows.of_size_with_no_grace(10)).count(materialized="w")
    driver = ks.TopologyTestDriver(b2.build(), STRINGS)
    with pytest.raises(ks.InvalidStateStoreException, match=r"store w is a window store, not a key-value store; "
                                                            r"use get_window_store\('w'\)"):
        driver.get_key_value_store("w")

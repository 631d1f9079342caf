"""``max.compaction.lag.ms`` (KIP-354): a compacted log whose dirty ratio never reaches ``min.cleanable.dirty.ratio``
is still cleaned once its oldest dirty segment is older than the lag, and its active segment rolls after the lag so
the data becomes cleanable at all. Configs that conflict are refused with Kafka's message."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.errors import ConfigError, InvalidConfigError
from kafkalab.log import LogConfig, PartitionLog, Record


def keyed_log(config: dict) -> PartitionLog:
    return PartitionLog(LogConfig.from_topic_config(config))


def test_the_active_segment_of_a_compacted_log_rolls_after_the_lag():
    config = {"cleanup.policy": "compact", "max.compaction.lag.ms": 10_000}
    assert LogConfig.from_topic_config(config).max_segment_ms == 10_000
    assert LogConfig.from_topic_config({"max.compaction.lag.ms": 10_000}).max_segment_ms == 604_800_000  # delete
    log = keyed_log(config)
    for t in range(0, 25_000, 1_000):
        log.append_as_leader([Record(b"k", f"v{t}".encode(), t)], 0, now_ms=t)
    # record time 0..10,000 in the first segment, 11,000..21,000 in the second, the rest in the active one
    assert [s.base_offset for s in log.segments] == [0, 11, 22]


def test_a_log_below_the_dirty_ratio_is_cleaned_only_once_overdue():
    log = keyed_log({"cleanup.policy": "compact", "max.compaction.lag.ms": 10_000,
                     "min.cleanable.dirty.ratio": 1.0})
    for t in range(1_000, 26_000, 1_000):
        log.append_as_leader([Record(f"k{t % 3}".encode(), b"v", t)], 0, now_ms=t)
    # Kafka ignores first-batch timestamps <= 0 here (LogCleanerManager.maxCompactionDelay), so these start at 1 s.
    assert log.earliest_dirty_timestamp() == 1_000
    assert log.compaction_overdue_at() == 11_000
    # At 11,000 the first segment's first batch is exactly the lag old, not past it.
    assert log.max_compaction_delay(11_000) == 0
    ratio_only = keyed_log({"cleanup.policy": "compact", "min.cleanable.dirty.ratio": 1.0})
    for t in range(0, 25_000, 1_000):
        ratio_only.append_as_leader([Record(f"k{t % 3}".encode(), b"v", t)], 0, now_ms=t)
    ratio_only.roll(25_000)
    assert ratio_only.compact(100_000, respect_dirty_ratio=True) is None    # a ratio of 1.0 never cleans by itself
    assert log.max_compaction_delay(11_001) == 1
    before = log.size_bytes
    stats = log.compact(30_000, respect_dirty_ratio=True)
    assert stats is not None and log.size_bytes < before
    keys_left = [row[0] for s in log.segments[:-1] for b in s.batches for row in b.rows]
    assert len(keys_left) == len(set(keys_left)) == 3      # one record per key in the cleaned segments
    assert log.max_compaction_delay(30_000) == 0           # nothing dirty is left outside the active segment
    assert log.compaction_overdue_at() is None


def write_a_minute(config: dict) -> tuple[kl.Cluster, float, list]:
    """One record a second for 60 s over 4 keys into a one-partition compacted topic, then 30 s more; the cluster,
    the first record's time and the cleaner runs of the topic's leader."""
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("c", partitions=1, replication_factor=3,
                         config={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": 1.0, **config})
    producer = cluster.producer({"linger.ms": 0})
    start = cluster.now
    for i in range(60):
        producer.send("c", value=f"v{i}", key=f"k{i % 4}")
        cluster.run(1_000)
    producer.flush()
    cluster.run(30_000)
    leader = cluster.describe_topic("c")["leader"][0]
    runs = [(at, stats) for at, tp, stats in cluster.broker(leader).rm.log_maintenance.cleaner_runs
            if tp.topic == "c"]
    return cluster, start, runs


def test_on_a_cluster_the_cleaner_cleans_an_overdue_log_on_its_schedule():
    cluster, start, runs = write_a_minute({"max.compaction.lag.ms": 20_000})
    assert runs, "an overdue compacted log must be cleaned even below min.cleanable.dirty.ratio"
    first_at = runs[0][0]
    # The first record is stamped at about 1.5 s; the segment rolls when a batch is more than 20 s of record time
    # younger (at about 22.5 s) and is overdue from 21.5 s; the cleaner thread wakes every log.cleaner.backoff.ms
    # (15 s) from the broker's start, so the first tick that finds it cleanable and overdue is at 30 s.
    assert 1_000 < start < 2_000
    assert first_at == 30_000
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([("c", 0)])
    seen = []
    while got := consumer.poll(1_000):
        seen.extend(got)
    assert [r.value for r in seen][-4:] == [b"v56", b"v57", b"v58", b"v59"]
    assert len(seen) < 60                                   # duplicates of cleaned segments are gone
    by_key: dict = {}
    for r in seen:
        by_key[r.key] = r.value
    assert by_key == {f"k{i % 4}".encode(): f"v{i}".encode() for i in range(56, 60)}


def test_without_the_lag_the_same_log_is_never_cleaned():
    _, _, runs = write_a_minute({"segment.ms": 20_000})
    assert runs == []


def test_conflicting_compaction_lags_are_refused_with_kafkas_message():
    message = ("conflict topic config setting min.compaction.lag.ms (5000) > max.compaction.lag.ms (1000); "
               "allowed: min.compaction.lag.ms <= max.compaction.lag.ms")
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        kl.config.resolve("topic", {"min.compaction.lag.ms": 5000, "max.compaction.lag.ms": 1000})
    cluster = kl.Cluster(seed=1)
    with pytest.raises(ConfigError, match=re.escape(message)):
        cluster.create_topic("c", config={"min.compaction.lag.ms": 5000, "max.compaction.lag.ms": 1000})
    assert "c" not in cluster.topics()
    cluster.create_topic("c", config={"cleanup.policy": "compact", "max.compaction.lag.ms": 1000})
    with pytest.raises(InvalidConfigError, match=re.escape(message)):
        cluster.alter_topic_config("c", {"min.compaction.lag.ms": 5000})
    assert "min.compaction.lag.ms" not in cluster.image().topic_config("c")   # nothing was applied
    with pytest.raises(ValueError, match=re.escape("max_compaction_lag_ms must be >= 1, got 0")):
        LogConfig(max_compaction_lag_ms=0)
    with pytest.raises(ValueError, match=re.escape("conflict: min_compaction_lag_ms (2) > max_compaction_lag_ms (1)")):
        LogConfig(min_compaction_lag_ms=2, max_compaction_lag_ms=1)


@settings(max_examples=60, deadline=None)
@given(writes=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 3_000)), min_size=1, max_size=60),
       lag=st.integers(1, 20_000), segment_bytes=st.integers(100, 2_000))
def test_once_overdue_a_cleaner_pass_leaves_nothing_overdue_and_the_latest_value_per_key(writes, lag,
                                                                                        segment_bytes):
    log = PartitionLog(LogConfig(cleanup_policy=("compact",), segment_bytes=segment_bytes, max_compaction_lag_ms=lag,
                                 min_cleanable_dirty_ratio=1.0))
    t = 1
    latest: dict = {}
    for key, gap in writes:
        t += gap
        log.append_as_leader([Record(f"k{key}".encode(), f"v{t}".encode(), t)], 0, now_ms=t)
        latest[f"k{key}".encode()] = f"v{t}".encode()
    now = t + lag + 1
    overdue_before = log.max_compaction_delay(now) > 0
    stats = log.compact(now, respect_dirty_ratio=True)
    assert (stats is not None) == overdue_before       # a ratio of 1.0 never cleans: only the lag does
    assert log.max_compaction_delay(now) == 0
    seen: dict = {}
    for batch in log.batches():
        for row in batch.rows:
            seen[row[0]] = row[1]
    assert seen == latest

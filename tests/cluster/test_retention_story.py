"""Stories of log retention and log cleaning on a running cluster (issue 14): every broker deletes old segments of
the replicas it hosts and cleans compacted ones, and clients see the moved log start offset."""
import pytest

import kafkalab as kl
from kafkalab.errors import OffsetOutOfRangeError

TP = kl.TopicPartition


def produce_every_second(cluster, topic, seconds, start=0, key=None):
    producer = cluster.producer({"linger.ms": 5})
    futures = []
    for i in range(start, start + seconds):
        futures.append(producer.send(topic, value=f"v{i}", key=key(i) if key else f"k{i}"))
        cluster.run(1_000)
    assert cluster.run_until(lambda: all(f.done() for f in futures), 30_000)
    assert all(f.exception() is None for f in futures)
    return producer


def replicas(cluster, topic, partition=0):
    return {b: cluster.broker(b).rm.partition(topic, partition) for b in cluster.brokers
            if cluster.broker(b) is not None and cluster.broker(b).rm.partition(topic, partition) is not None}


def read_all(consumer, polls=6):
    records = []
    for _ in range(polls):
        records += consumer.poll(500)
    return records


def data(log, start, end):
    return [(off, row) for b in log.batches() for off, row in zip(b.offsets(), b.rows, strict=True)
            if start <= off < end]


def test_a_one_minute_retention_deletes_old_segments_on_every_replica_and_a_late_reader_starts_at_the_log_start():
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("clicks", replication_factor=3, config={"retention.ms": 60_000, "segment.ms": 10_000})
    produce_every_second(cluster, "clicks", 300)           # five minutes of clicks, a segment every ten seconds
    assert all(p.log.log_start_offset == 0 for p in replicas(cluster, "clicks").values())
    cluster.run_until(lambda: cluster.kernel.now > 335_000, 60_000)     # the retention check at 30 s + 5 min
    reps = replicas(cluster, "clicks")
    assert len(reps) == 3
    starts = {b: p.log.log_start_offset for b, p in reps.items()}
    # Every replica ran retention itself: only the last minute (plus the segment it starts in) is left.
    assert all(250 <= s < 300 for s in starts.values()), starts
    now = cluster.kernel.now
    for p in reps.values():
        assert p.log.log_end_offset == 300
        assert all(now - s.retention_timestamp_ms() <= 60_000 + 30_000 for s in p.log.segments if s.batches)
        maintenance = cluster.broker(p.broker_id).rm.log_maintenance
        assert maintenance.segments_deleted > 20 and maintenance.retention_runs >= 1
    row = cluster.describe_topic("clicks").iloc[0]
    leader_start = starts[int(row["leader"])]
    assert int(row["log_start_offset"]) == leader_start
    late = cluster.consumer({"auto.offset.reset": "earliest"})
    late.assign([TP("clicks", 0)])
    records = read_all(late)
    assert records[0].offset == leader_start and records[0].value == f"v{leader_start}".encode()
    assert [r.offset for r in records] == list(range(leader_start, 300))


def test_retention_bytes_keeps_the_log_near_its_size_limit_on_every_replica():
    cluster = kl.Cluster(seed=4)
    cluster.create_topic("metrics", replication_factor=3,
                         config={"retention.bytes": 2_000, "segment.ms": 5_000})
    produce_every_second(cluster, "metrics", 120)
    cluster.run_until(lambda: cluster.kernel.now > 335_000, 300_000)
    for p in replicas(cluster, "metrics").values():
        log = p.log
        assert log.log_start_offset > 0 and log.log_end_offset == 120
        # Kafka deletes whole segments while the rest still exceeds retention.bytes: what is left is under the limit
        # plus at most one segment.
        assert log.size_bytes <= 2_000 + max(s.size_bytes for s in log.segments)
        assert log.size_bytes - log.segments[0].size_bytes < 2_000


def test_a_consumer_that_stops_reading_past_retention_resets_to_the_new_log_start():
    cluster = kl.Cluster(seed=5)
    cluster.create_topic("orders", replication_factor=3, config={"retention.ms": 60_000, "segment.ms": 10_000})
    producer = produce_every_second(cluster, "orders", 20)
    slow = cluster.consumer({"auto.offset.reset": "earliest", "max.poll.records": 5})
    strict = cluster.consumer({"auto.offset.reset": "none"})
    slow.assign([TP("orders", 0)])
    strict.assign([TP("orders", 0)])
    strict.seek(TP("orders", 0), 0)
    first = slow.poll(1_000)
    assert [r.offset for r in first] == [0, 1, 2, 3, 4]
    assert strict.poll(1_000)[0].offset == 0
    # Both stop polling while five more minutes are written; retention deletes what they were about to read.
    futures = []
    for i in range(20, 320):
        futures.append(producer.send("orders", value=f"v{i}", key=f"k{i}"))
        cluster.run(1_000)
    assert cluster.run_until(lambda: all(f.done() for f in futures) and cluster.kernel.now > 335_000, 60_000)
    leader = int(cluster.describe_topic("orders").iloc[0]["leader"])
    log_start = cluster.broker(leader).rm.partition("orders", 0).log.log_start_offset
    assert log_start > 200
    records = read_all(slow, polls=12)
    offsets = [r.offset for r in records]
    # What the consumer had buffered is handed out; then its fetch is out of range and it restarts at the log start.
    skipped = [o for o in offsets if o >= log_start]
    assert skipped[0] == log_start and skipped == list(range(log_start, log_start + len(skipped)))
    assert all(o < 25 for o in offsets if o < log_start)
    assert slow.position(TP("orders", 0)) > log_start
    with pytest.raises(OffsetOutOfRangeError, match="out of range for partition orders-0"):
        for _ in range(10):
            strict.poll(500)


def test_a_follower_offline_past_retention_restarts_at_the_leaders_log_start_and_rejoins_the_isr():
    cluster = kl.Cluster(seed=6)
    cluster.create_topic("events", replication_factor=3, config={"retention.ms": 60_000, "segment.ms": 10_000})
    produce_every_second(cluster, "events", 10)
    row = cluster.describe_topic("events").iloc[0]
    follower = next(b for b in row["replicas"] if b != row["leader"])
    cluster.crash(follower)
    produce_every_second(cluster, "events", 330, start=10)
    cluster.run(30_000)
    leader = int(cluster.describe_topic("events").iloc[0]["leader"])
    leader_part = cluster.broker(leader).rm.partition("events", 0)
    assert leader_part.log.log_start_offset > 200
    assert follower not in list(cluster.describe_topic("events").iloc[0]["isr"])
    cluster.restart(follower)
    assert cluster.run_until(lambda: follower in list(cluster.describe_topic("events").iloc[0]["isr"]), 60_000)
    part = cluster.broker(follower).rm.partition("events", 0)
    fetchers = cluster.broker(follower).rm.fetchers
    assert fetchers.partition_errors >= 1                   # the OFFSET_OUT_OF_RANGE answer
    assert part.log.log_start_offset >= leader_part.log.log_start_offset - 15
    assert part.log.log_start_offset > 200                 # it never refetched what the leader had deleted
    assert part.log.log_end_offset == leader_part.log.log_end_offset == 340
    common = max(part.log.log_start_offset, leader_part.log.log_start_offset)
    assert data(part.log, common, 340) == data(leader_part.log, common, 340)


def test_the_offsets_topic_is_cleaned_so_only_the_latest_commit_of_each_partition_survives():
    cluster = kl.Cluster(seed=7, config={"offsets.topic.num.partitions": 1, "log.roll.ms": 10_000,
                                         "log.cleaner.backoff.ms": 5_000})
    cluster.create_topic("payments", partitions=2, replication_factor=3)
    produce_every_second(cluster, "payments", 10)
    consumer = cluster.consumer({"group.id": "billing", "auto.offset.reset": "earliest",
                                 "enable.auto.commit": False})
    consumer.subscribe(["payments"])
    while len(consumer.assignment()) < 2:
        consumer.poll(500)
    for i in range(90):                                     # a commit a second for a minute and a half
        consumer.commit({TP("payments", 0): 1 + i % 50, TP("payments", 1): 2 + i})
        consumer.poll(1_000)
    cluster.run(30_000)
    offsets = replicas(cluster, "__consumer_offsets")
    assert len(offsets) == 3
    for p in offsets.values():
        runs = cluster.broker(p.broker_id).rm.log_maintenance.cleaner_runs
        assert runs and sum(stats.records_removed for _, _, stats in runs) > 100
        cleaned_end = runs[-1][2].end_offset
        keys = [row[0] for off, row in data(p.log, 0, cleaned_end)]
        assert len(keys) == len(set(keys)), "a key appears twice in the cleaned part"
    def committed():
        frame = cluster.group_offsets("billing")
        return dict(zip(frame["partition"], frame["committed"], strict=True))
    assert committed() == {0: 1 + 89 % 50, 1: 91}
    # The next coordinator loads the group from the cleaned log and finds the same commits.
    cluster.crash(int(cluster.describe_topic("__consumer_offsets").iloc[0]["leader"]))
    cluster.run(20_000)
    assert committed() == {0: 1 + 89 % 50, 1: 91}


def test_a_tombstone_survives_one_cleaning_and_is_removed_after_delete_retention_ms():
    cluster = kl.Cluster(seed=8, config={"log.cleaner.backoff.ms": 2_000})
    cluster.create_topic("profiles", replication_factor=3,
                         config={"cleanup.policy": "compact", "segment.ms": 5_000, "delete.retention.ms": 60_000,
                                 "min.cleanable.dirty.ratio": 0.1})
    producer = produce_every_second(cluster, "profiles", 20, key=lambda i: f"user{i % 4}")
    producer.send("profiles", value=None, key="user0")      # user0 deletes their profile
    produce_every_second(cluster, "profiles", 20, start=20, key=lambda i: f"user{1 + i % 3}")
    cluster.run(10_000)

    def rows(p):
        return [row[:2] for _, row in data(p.log, 0, p.log.segments[-1].base_offset)]
    for p in replicas(cluster, "profiles").values():
        cleaned = rows(p)
        assert (b"user0", None) in cleaned                  # the tombstone is kept, with a delete horizon
        assert len(cleaned) == len({k for k, _ in cleaned})
        assert cluster.broker(p.broker_id).rm.log_maintenance.cleaner_runs
    # A minute later, new writes make the log dirty again and the next cleaning drops the tombstone.
    cluster.run(55_000)
    produce_every_second(cluster, "profiles", 30, start=40, key=lambda i: f"user{1 + i % 3}")
    cluster.run(10_000)
    for p in replicas(cluster, "profiles").values():
        assert b"user0" not in [k for k, _ in rows(p)]
        assert sum(stats.tombstones_removed for _, _, stats in cluster.broker(p.broker_id).rm.log_maintenance
                   .cleaner_runs) == 1
    reader = cluster.consumer({"auto.offset.reset": "earliest"})
    reader.assign([TP("profiles", 0)])
    latest = {r.key: r.value for r in read_all(reader)}
    assert set(latest) == {b"user1", b"user2", b"user3"}


def test_with_the_cleaner_disabled_a_compacted_topic_keeps_every_record():
    cluster = kl.Cluster(seed=9, config={"log.cleaner.enable": False, "log.cleaner.backoff.ms": 2_000})
    cluster.create_topic("profiles", replication_factor=3, config={"cleanup.policy": "compact", "segment.ms": 5_000})
    produce_every_second(cluster, "profiles", 40, key=lambda i: f"user{i % 4}")
    cluster.run(60_000)
    for p in replicas(cluster, "profiles").values():
        assert len(data(p.log, 0, 40)) == 40
        assert cluster.broker(p.broker_id).rm.log_maintenance.cleaner_ticks == 0


def test_lowering_retention_ms_on_a_live_topic_applies_at_the_next_retention_check():
    cluster = kl.Cluster(seed=10)
    cluster.create_topic("audit", replication_factor=3, config={"segment.ms": 10_000})
    produce_every_second(cluster, "audit", 60)
    cluster.run_until(lambda: cluster.kernel.now > 340_000, 300_000)
    assert all(p.log.log_start_offset == 0 for p in replicas(cluster, "audit").values())    # 7 days by default
    cluster.alter_topic_config("audit", {"retention.ms": 60_000})
    cluster.run_until(lambda: cluster.kernel.now > 640_000, 300_000)
    assert all(p.log.log_start_offset == 60 for p in replicas(cluster, "audit").values())


def test_a_follower_moves_its_log_start_up_to_the_leaders_from_the_fetch_answers():
    # Retention runs every minute, on each broker's own schedule (30 s after it started). The follower restarted
    # at 45 s, so the leader's check at 90 s comes first; the follower learns the new log start from its next fetch
    # answers (ReplicaFetcherThread: maybeIncrementLogStartOffset) instead of waiting for its own check at 135 s.
    cluster = kl.Cluster(seed=12, config={"log.retention.check.interval.ms": 60_000})
    cluster.create_topic("ticks", replication_factor=3, config={"retention.ms": 60_000, "segment.ms": 10_000})
    row = cluster.describe_topic("ticks").iloc[0]
    leader = int(row["leader"])
    follower = next(b for b in row["replicas"] if b != leader)
    producer = cluster.producer({"linger.ms": 5})
    futures = []
    for i in range(100):
        if cluster.kernel.now >= 20_000 and cluster.is_alive(follower) and i < 30:
            cluster.crash(follower)
        if cluster.kernel.now >= 45_000 and not cluster.is_alive(follower):
            cluster.restart(follower)
        futures.append(producer.send("ticks", value=f"v{i}", key=f"k{i}"))
        cluster.run(1_000)
    assert cluster.run_until(lambda: all(f.done() for f in futures), 30_000)
    leader_log = cluster.broker(leader).rm.partition("ticks", 0).log
    follower_part = cluster.broker(follower).rm.partition("ticks", 0)
    own = cluster.broker(follower).rm.log_maintenance
    assert cluster.kernel.now < 135_000 and own.retention_first_ms == pytest.approx(75_000, abs=2_000)
    assert leader_log.log_start_offset > 15
    assert follower_part.log.log_start_offset == leader_log.log_start_offset
    assert follower_part.log.log_start_offset <= follower_part.high_watermark

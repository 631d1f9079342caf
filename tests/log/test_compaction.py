"""Compaction: the latest value per key survives at its offset; tombstones go after delete.retention.ms."""
import pytest

from kafkalab.log import LogConfig, LogManager, PartitionLog, Record, RecordBatch

COMPACT = dict(cleanup_policy=("compact",), segment_bytes=200, delete_retention_ms=1000)


def contents(log):
    return [(o, r.key, r.value) for b in log.batches() for o, r in zip(b.offsets(), b.records, strict=True)]


def make(writes, **config):
    log = PartitionLog(LogConfig(**{**COMPACT, **config}))
    for i, (key, value) in enumerate(writes):
        log.append_as_leader([Record(key, value, i)], 0, now_ms=i)
    return log


def test_latest_value_per_key_kept_with_its_offset_active_segment_untouched():
    writes = [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"c", b"1"), (b"b", b"2"), (b"a", b"3"), (b"a", b"4")]
    log = make(writes, segment_bytes=150)  # two 70-byte batches per segment
    assert [s.base_offset for s in log.segments] == [0, 2, 4, 6]
    stats = log.compact(now_ms=100)
    assert contents(log) == [(3, b"c", b"1"), (4, b"b", b"2"), (5, b"a", b"3"), (6, b"a", b"4")]
    assert (stats.records_read, stats.records_removed, stats.end_offset) == (6, 3, 6)
    assert (log.log_start_offset, log.log_end_offset) == (0, 7)
    assert log.read(0)[0].base_offset == 3  # reads skip the compacted-away offsets
    assert log.size_bytes == sum(s.size_bytes for s in log.segments)


def test_unchanged_batches_are_kept_as_the_same_objects():
    log = make([(b"a", b"1"), (b"b", b"1"), (b"c", b"1")])
    before = log.batches()
    log.compact(now_ms=10)
    assert all(x is y for x, y in zip(log.batches(), before, strict=True))


def test_rewritten_batch_keeps_base_and_last_offset():
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader([Record(b"a", b"1", 0), Record(b"b", b"1", 0), Record(b"a", b"2", 0)], 0)
    log.append_as_leader([Record(b"b", b"2", 1)], 0)
    log.roll()
    log.compact(now_ms=10)
    first = log.batches()[0]
    assert (first.base_offset, list(first.offsets()), first.last_offset) == (0, [2], 2)
    assert contents(log) == [(2, b"a", b"2"), (3, b"b", b"2")]


def test_tombstones_survive_one_pass_then_go_after_delete_retention():
    log = make([(b"a", b"1"), (b"a", None), (b"b", b"1")])
    log.roll()
    log.compact(now_ms=100)
    assert contents(log) == [(1, b"a", None), (2, b"b", b"1")]
    assert log.batches()[0].delete_horizon_ms == 1100
    log.compact(now_ms=1099)
    assert contents(log) == [(1, b"a", None), (2, b"b", b"1")]
    stats = log.compact(now_ms=1100)
    assert contents(log) == [(2, b"b", b"1")]
    assert stats.tombstones_removed == 1


def test_cleaned_segments_are_merged_up_to_segment_bytes():
    log = make([(b"a", b"%d" % i) for i in range(9)], segment_bytes=150)
    log.roll()
    assert len(log.segments) == 6
    log.compact(now_ms=100)
    assert len(log.segments) == 6  # groups use the sizes before cleaning: two full segments never fit in one
    log.compact(now_ms=100)
    assert [s.base_offset for s in log.segments] == [0, 9]
    assert contents(log) == [(8, b"a", b"8")]


def test_min_compaction_lag_and_high_watermark_bound_the_cleanable_range():
    writes = [(b"a", b"%d" % i) for i in range(6)]
    log = make(writes, segment_bytes=150, min_compaction_lag_ms=10)
    assert log.first_uncleanable_offset(now_ms=12) == 2  # segment 2 holds timestamp 3 > 12 - 10
    log.compact(now_ms=12)
    assert contents(log)[0] == (1, b"a", b"1")
    assert log.first_uncleanable_offset(now_ms=100) == 4  # the active segment
    log.compact(now_ms=100)
    assert contents(log) == [(3, b"a", b"3"), (4, b"a", b"4"), (5, b"a", b"5")]
    assert log.first_uncleanable_offset(now_ms=100, high_watermark=2) == 2
    assert log.compact(now_ms=100, high_watermark=1) is None


def test_records_without_key_are_dropped_by_the_cleaner():
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_follower(RecordBatch((Record(None, b"x", 0), Record(b"a", b"1", 0)), base_offset=0,
                                       partition_leader_epoch=0))
    log.roll()
    log.compact(now_ms=1)
    assert contents(log) == [(1, b"a", b"1")]


def test_control_batches_are_kept():
    log = PartitionLog(LogConfig(**COMPACT))
    marker = RecordBatch((Record(None, b"m", 0),), base_offset=0, partition_leader_epoch=0, is_control=True)
    log.append_as_follower(marker)
    log.roll()
    log.compact(now_ms=1)
    assert log.batches() == [marker]


def test_delete_policy_does_not_compact_and_compact_delete_does_both():
    assert make([(b"a", b"1")], cleanup_policy=("delete",)).compact(now_ms=1) is None
    log = make([(b"a", b"1"), (b"a", b"2"), (b"a", b"3")], cleanup_policy="compact,delete", retention_ms=1000)
    log.roll()
    log.compact(now_ms=10)
    assert contents(log) == [(2, b"a", b"3")]
    assert log.delete_old_segments(now_ms=5000) == 2
    assert (log.log_start_offset, contents(log)) == (3, [])


def test_dirty_ratio_gates_the_log_manager():
    log = make([(b"a", b"1"), (b"b", b"1"), (b"a", b"2")], segment_bytes=150)
    log.roll()
    assert log.dirty_ratio(now_ms=10) == 1.0
    manager = LogManager()
    manager.add("t-0", log)
    assert len(manager.clean(now_ms=10)) == 1
    assert log.dirty_ratio(now_ms=10) == 0.0
    assert manager.clean(now_ms=10) == []
    assert manager.cleaner_runs[0][1] == "t-0"


def test_log_manager_cleans_on_a_kernel_every_backoff():
    from kafkalab.sim.kernel import Kernel

    kernel = Kernel(seed=0)
    manager = LogManager(cleaner_backoff_ms=15_000)
    log = manager.add("t-0", make([(b"a", b"%d" % i) for i in range(6)], segment_bytes=150))
    manager.start(kernel)
    kernel.run(14_999)
    assert manager.cleaner_runs == []
    kernel.run(1)
    assert [(t, name) for t, name, _ in manager.cleaner_runs] == [(15_000, "t-0")]
    assert contents(log) == [(3, b"a", b"3"), (4, b"a", b"4"), (5, b"a", b"5")]
    manager.stop()
    kernel.run(60_000)
    assert len(manager.cleaner_runs) == 1


def test_log_manager_rejects_duplicate_names_and_uses_high_watermarks():
    manager = LogManager(high_watermark=lambda name: 2)
    log = manager.add("t-0", make([(b"a", b"%d" % i) for i in range(6)], segment_bytes=150))
    with pytest.raises(ValueError, match="log 't-0' already exists"):
        manager.add("t-0", log)
    manager.clean(now_ms=100)
    assert contents(log)[0] == (1, b"a", b"1")  # only the segment below the high watermark 2 was cleaned


def test_a_log_is_cleaned_only_when_its_dirty_ratio_is_strictly_above_the_minimum():
    # Kafka's grabFilthiestCompactedLog: cleanableRatio > min.cleanable.dirty.ratio. One clean segment and one dirty
    # segment of the same size: the ratio is exactly 0.5, the default minimum, so the cleaner leaves the log alone.
    log = make([(b"a", b"1"), (b"b", b"1")], segment_bytes=150)
    log.roll()
    assert log.compact(now_ms=10) is not None
    log.append_as_leader([Record(b"a", b"2", 10)], 0, now_ms=10)
    log.append_as_leader([Record(b"b", b"2", 11)], 0, now_ms=11)
    log.roll()
    assert log.dirty_ratio(now_ms=20) == 0.5
    assert log.compact(now_ms=20, respect_dirty_ratio=True) is None
    log.config = LogConfig(**{**COMPACT, "segment_bytes": 150, "min_cleanable_dirty_ratio": 0.49})
    assert log.compact(now_ms=20, respect_dirty_ratio=True) is not None
    assert contents(log) == [(2, b"a", b"2"), (3, b"b", b"2")]


def test_a_minimum_dirty_ratio_of_one_never_cleans():
    log = make([(b"a", b"1"), (b"a", b"2"), (b"a", b"3")], segment_bytes=150, min_cleanable_dirty_ratio=1.0)
    log.roll()
    assert log.dirty_ratio(now_ms=10) == 1.0
    assert log.compact(now_ms=10, respect_dirty_ratio=True) is None
    manager = LogManager()
    manager.add("t-0", log)
    assert manager.clean(now_ms=10) == []
    assert log.compact(now_ms=10) is not None      # an explicit pass ignores the ratio


def producer_batch(key, value, *, pid, seq, epoch=0, transactional=False):
    return RecordBatch((Record(key, value, 0),), producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                       is_transactional=transactional)


def test_a_producers_last_batch_survives_cleaning_as_an_empty_batch():
    # Producer 7 writes a, b, c; producer 8 then overwrites b and c. 7's batch of b is emptied and dropped; its batch
    # of c, its last, is kept empty with its offset, epoch and sequence (Kafka's RETAIN_EMPTY), so producer state
    # rebuilt from the log still ends at sequence 2.
    log = PartitionLog(LogConfig(**COMPACT))
    for key, seq in ((b"a", 0), (b"b", 1), (b"c", 2)):
        log.append_as_leader(producer_batch(key, b"7", pid=7, seq=seq), 0)
    for key, seq in ((b"b", 0), (b"c", 1)):
        log.append_as_leader(producer_batch(key, b"8", pid=8, seq=seq), 0)
    log.roll()
    stats = log.compact(now_ms=10)
    assert contents(log) == [(0, b"a", b"7"), (3, b"b", b"8"), (4, b"c", b"8")]
    kept = log.batches()
    assert [(b.base_offset, b.last_offset, b.producer_id, b.base_sequence, b.record_count) for b in kept] == [
        (0, 0, 7, 0, 1), (2, 2, 7, 2, 0), (3, 3, 8, 0, 1), (4, 4, 8, 1, 1)]
    assert kept[1].next_offset == 3 and kept[1].producer_epoch == 0
    assert (stats.records_removed, log.size_bytes) == (2, sum(s.size_bytes for s in log.segments))
    assert log.read(1)[0] is kept[1]           # a reader at 1 gets the empty batch and moves on to offset 3
    from kafkalab.broker.producer_state import ProducerStateManager
    rebuilt = ProducerStateManager()
    rebuilt.rebuild(log.batches())
    assert (rebuilt.last_sequence(7), rebuilt.last_sequence(8)) == (2, 1)
    log.compact(now_ms=20)                      # cleaning again keeps the empty batch as it is
    assert log.batches()[1] is kept[1]


def test_a_producer_last_batch_in_the_active_segment_frees_its_older_batches():
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader(producer_batch(b"a", b"1", pid=7, seq=0), 0)
    log.append_as_leader(producer_batch(b"a", b"2", pid=8, seq=0), 0)
    log.roll()
    log.append_as_leader(producer_batch(b"b", b"1", pid=7, seq=1), 0)   # 7's last batch, not cleanable yet
    log.compact(now_ms=10)
    assert [(b.base_offset, b.producer_id, b.record_count) for b in log.batches()] == [(1, 8, 1), (2, 7, 1)]


def test_last_data_batches_of_producers_follow_the_producer_state_rules():
    from kafkalab.common.records import COMMIT_MARKER, control_batch
    from kafkalab.log.cleaner import last_batches_of_producers
    log = PartitionLog(LogConfig())
    log.append_as_leader(producer_batch(b"a", b"1", pid=7, seq=0, transactional=True), 0)
    log.append_as_leader(producer_batch(b"b", b"1", pid=9, seq=0, transactional=True), 0)
    log.append_as_leader(control_batch(COMMIT_MARKER, 7, 0, 0, 0), 0)                        # a marker of the same epoch: 7's last data batch stays
    log.append_as_leader(control_batch(COMMIT_MARKER, 9, 1, 0, 0), 0)                        # a marker of a newer epoch: 9 has no last data batch
    log.append_as_leader(producer_batch(b"c", b"1", pid=-1, seq=-1), 0)
    assert last_batches_of_producers(log.segments) == {7: 0}


def test_the_cleaner_stops_at_the_first_offset_of_an_open_transaction():
    # Kafka cleans only below the last stable offset: an open transaction's records stay as written until its marker
    # decides them, even in closed segments below the high watermark.
    from kafkalab.common.records import COMMIT_MARKER, control_batch
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader(producer_batch(b"k", b"0", pid=5, seq=0), 0)                       # offset 0, plain
    log.append_as_leader(producer_batch(b"k", b"1", pid=7, seq=0, transactional=True), 0)   # offset 1, open txn
    log.append_as_leader(producer_batch(b"k", b"2", pid=7, seq=1, transactional=True), 0)   # offset 2, open txn
    log.roll()
    log.append_as_leader(producer_batch(b"x", b"0", pid=5, seq=1), 0)                       # offset 3
    log.roll()
    assert log.last_stable_offset(4) == 1
    assert log.first_uncleanable_offset(now_ms=10, high_watermark=4) == 1
    assert log.compact(now_ms=10, high_watermark=4) is None           # no whole segment below offset 1
    assert [v for _, _, v in contents(log)] == [b"0", b"1", b"2", b"0"]
    log.append_as_leader(control_batch(COMMIT_MARKER, 7, 0, 0, 0), 0)                       # offset 4: committed
    log.roll()
    assert log.first_uncleanable_offset(now_ms=10, high_watermark=5) == 5
    log.compact(now_ms=10, high_watermark=5)
    data = [(o, r.key, r.value) for b in log.batches() if not b.is_control
            for o, r in zip(b.offsets(), b.records, strict=True)]
    assert data == [(2, b"k", b"2"), (3, b"x", b"0")]

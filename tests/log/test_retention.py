"""Retention: retention.ms and retention.bytes delete whole old segments, bounded by the high watermark."""
from kafkalab.log import LogConfig, LogManager, PartitionLog, Record


def make(**config):
    log = PartitionLog(LogConfig(segment_bytes=200, **config))
    for i in range(7):  # 92-byte batches, two per segment: segments at 0, 2, 4, 6
        log.append_as_leader([Record(b"k%d" % i, b"v%d" % i + b"x" * 20, 1000 * i)], 0, now_ms=1000 * i)
    return log


def test_time_retention_deletes_segments_older_than_retention_ms():
    log = make(retention_ms=2500)
    # segment 0 holds timestamps 0 and 1000, segment 2 holds 2000 and 3000
    assert log.delete_old_segments(now_ms=3600) == 1
    assert [s.base_offset for s in log.segments] == [2, 4, 6]
    assert log.log_start_offset == 2
    assert log.delete_old_segments(now_ms=3600) == 0


def test_time_retention_deletes_only_from_the_oldest():
    log = make(retention_ms=2500)
    log.segments[1].largest_timestamp_ms = 10**9  # a future timestamp in the second segment stops the scan
    assert log.delete_old_segments(now_ms=10_000) == 1
    assert [s.base_offset for s in log.segments] == [2, 4, 6]


def test_expired_active_segment_is_rolled_before_deletion():
    log = make(retention_ms=1000)
    active = log.active_segment
    assert log.delete_old_segments(now_ms=100_000) == 4
    assert active not in log.segments
    assert len(log.segments) == 1 and not log.segments[0].batches
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (7, 7, 0)


def test_size_retention_keeps_at_least_retention_bytes():
    log = make(retention_bytes=300)  # 644 bytes: deleting 184 + 184 would leave 276 < 300, so one segment goes
    assert log.delete_old_segments(now_ms=0) == 1
    assert log.size_bytes == 460
    assert [s.base_offset for s in log.segments] == [2, 4, 6]


def test_retention_stops_at_the_high_watermark():
    log = make(retention_ms=0)
    assert log.delete_old_segments(now_ms=100_000, high_watermark=3) == 1
    assert log.log_start_offset == 2


def test_negative_limits_disable_retention_and_compact_only_logs_keep_everything():
    assert make(retention_ms=-1).delete_old_segments(now_ms=10**12) == 0
    assert make(retention_ms=0, cleanup_policy=("compact",)).delete_old_segments(now_ms=10**12) == 0


def test_segments_below_log_start_go_even_for_compacted_logs():
    log = make(cleanup_policy=("compact",))
    log._log_start_offset = 4  # as after a crash-recovered deleteRecords: the segments are still there
    assert log.delete_old_segments(now_ms=0) == 2
    assert [s.base_offset for s in log.segments] == [4, 6]


def test_log_manager_runs_retention_on_a_kernel():
    from kafkalab.sim.kernel import Kernel

    kernel = Kernel(seed=0)
    manager = LogManager(retention_check_interval_ms=1000)
    log = manager.add("t-0", make(retention_ms=2500))
    manager.start(kernel)
    kernel.run(3999)
    assert log.log_start_offset == 0  # the check at 1000..3000 finds nothing older than 2500 ms
    kernel.run(2)
    assert log.log_start_offset == 2
    manager.stop()
    assert manager.segments_deleted == 1

"""When a node snapshots: Kafka's SnapshotGenerator rules, one at a time."""
import pytest

from kafkalab.config import resolve
from kafkalab.metadata.snapshot_generator import SnapshotGenerator


def test_enough_bytes_since_the_last_snapshot_trigger_one_and_restart_the_count():
    gen = SnapshotGenerator(1000, 0, now_ms=0)
    assert gen.on_log_delta(600, 10, batch_aligned=True) is None
    assert gen.on_log_delta(400, 20, batch_aligned=True) == "we have replayed at least 1000 bytes"
    gen.emitting(20)
    assert (gen.bytes_since_last_snapshot, gen.last_snapshot_ms, gen.emitted) == (0, 20, 1)
    assert gen.on_log_delta(999, 30, batch_aligned=True) is None


def test_the_interval_counts_from_the_last_snapshot_and_is_checked_only_when_records_arrive():
    gen = SnapshotGenerator(10**9, 3_600_000, now_ms=5_000)
    assert gen.on_log_delta(10, 3_604_999, batch_aligned=True) is None
    assert gen.on_log_delta(10, 3_605_000, batch_aligned=True) == "we have waited at least 3600000 ms"
    gen.reset(3_605_000)                 # a snapshot was loaded: both counters start again
    assert gen.on_log_delta(10, 7_204_999, batch_aligned=True) is None


def test_an_interval_of_zero_switches_the_time_trigger_off():
    gen = SnapshotGenerator(10**9, 0, now_ms=0)
    assert gen.on_log_delta(10, 10**12, batch_aligned=True) is None


def test_an_image_that_ends_inside_a_batch_is_not_snapshotted_until_a_later_delta():
    gen = SnapshotGenerator(100, 0, now_ms=0)
    assert gen.on_log_delta(150, 1, batch_aligned=False) is None
    assert gen.bytes_since_last_snapshot == 150
    assert gen.on_log_delta(10, 2, batch_aligned=True) == "we have replayed at least 100 bytes"


def test_defaults_come_from_kafkas_keys():
    gen = SnapshotGenerator.from_config(resolve("broker", {}), now_ms=0)
    assert (gen.max_bytes_since_last_snapshot, gen.max_interval_ms) == (20 * 1024 * 1024, 3_600_000)
    gen = SnapshotGenerator.from_config(resolve("broker", {"metadata.log.max.snapshot.interval.ms": "0"}), 0)
    assert gen.max_interval_ms == 0


def test_bad_thresholds_are_refused_with_the_key_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"metadata.log.max.record.bytes.between.snapshots must be an int >= 1, "
                                         r"got 0"):
        SnapshotGenerator(0, 0, now_ms=0)
    with pytest.raises(ValueError, match=r"metadata.log.max.record.bytes.between.snapshots must be an int >= 1, "
                                         r"got 1.5"):
        SnapshotGenerator(1.5, 0, now_ms=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"metadata.log.max.snapshot.interval.ms must be a number >= 0 "
                                         r"\(0 disables it\), got -1"):
        SnapshotGenerator(1, -1, now_ms=0)
    with pytest.raises(Exception, match="metadata.log.max.record.bytes.between.snapshots"):
        resolve("broker", {"metadata.log.max.record.bytes.between.snapshots": 0})

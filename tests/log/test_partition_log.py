"""PartitionLog: offsets, reads, follower appends, truncation, epochs, segments, flush and every error path."""
import pytest

from kafkalab import errors
from kafkalab.log import LogConfig, PartitionLog, Record, RecordBatch, UnexpectedAppendOffsetError


def rec(i, key=None, ts=None, size=20):
    return Record(key, b"v%d" % i + b"x" * size, i if ts is None else ts)


def fill(log, n, epoch=0, per_batch=1, start_ts=0):
    out = []
    for i in range(n):
        records = [rec(start_ts + i * per_batch + j) for j in range(per_batch)]
        out.append(log.append_as_leader(records, epoch, now_ms=start_ts + i))
    return out


# ---- offsets and reads -------------------------------------------------------------------------------------------

def test_leader_append_assigns_offsets_and_epoch():
    log = PartitionLog(name="t-0")
    a = log.append_as_leader([rec(0), rec(1)], 3)
    b = log.append_as_leader(RecordBatch((rec(2),)), 3)
    assert (a.base_offset, a.partition_leader_epoch, b.base_offset) == (0, 3, 2)
    assert (log.log_start_offset, log.log_end_offset) == (0, 3)
    assert log.size_bytes == a.size_bytes + b.size_bytes
    assert log.latest_epoch == 3


def test_read_returns_the_stored_objects():
    log = PartitionLog()
    stored = fill(log, 5)
    got = log.read(0)
    assert all(x is y for x, y in zip(got, stored, strict=True))


def test_read_from_the_middle_of_a_batch_returns_that_batch():
    log = PartitionLog()
    stored = fill(log, 3, per_batch=4)
    assert log.read(5)[0] is stored[1]


def test_read_respects_max_bytes_but_returns_one_batch_at_least():
    log = PartitionLog()
    stored = fill(log, 5)
    size = stored[0].size_bytes
    assert log.read(0, max_bytes=1) == [stored[0]]
    assert log.read(0, max_bytes=1, min_one=False) == []
    assert log.read(0, max_bytes=2 * size) == stored[:2]
    assert log.read(0, max_bytes=2 * size + 1) == stored[:2]


def test_read_stops_at_max_offset():
    log = PartitionLog()
    stored = fill(log, 5, per_batch=2)
    assert log.read(0, max_offset=4) == stored[:2]
    assert log.read(0, max_offset=3) == stored[:1]
    assert log.read(4, max_offset=4) == []


def test_read_at_log_end_is_empty():
    log = PartitionLog()
    fill(log, 2)
    assert log.read(2) == []


def test_read_stays_within_one_segment():
    log = PartitionLog(LogConfig(segment_bytes=200))
    fill(log, 6)
    assert len(log.segments) == 3
    assert [b.base_offset for b in log.read(0)] == [0, 1]
    assert [b.base_offset for b in log.read(3)] == [3]


@pytest.mark.parametrize("offset", [-1, 3])
def test_read_out_of_range(offset):
    log = PartitionLog(name="t-0")
    fill(log, 2)
    with pytest.raises(errors.OffsetOutOfRangeError) as info:
        log.read(offset)
    assert info.value.message == (f"Received request for offset {offset} for partition t-0, but we only have log "
                               f"segments from offset 0 up to 2.")


def test_read_below_log_start_is_out_of_range():
    log = PartitionLog(name="t-0")
    fill(log, 4)
    log.advance_log_start(2)
    with pytest.raises(errors.OffsetOutOfRangeError, match="from offset 2 up to 4"):
        log.read(1)
    assert log.read(2)[0].base_offset == 2


def test_append_dispatches_on_epoch_and_offsets():
    leader, follower = PartitionLog(), PartitionLog()
    batch = leader.append([rec(0)], leader_epoch=1)
    assert follower.append(batch) is batch
    with pytest.raises(ValueError, match="records without offsets need the leader_epoch"):
        follower.append([rec(1)])


# ---- leader path errors --------------------------------------------------------------------------------------------

def test_leader_append_rejects_batches_with_offsets():
    log = PartitionLog()
    with pytest.raises(ValueError, match="batch already has base offset 4; use append_as_follower"):
        log.append_as_leader(RecordBatch((rec(0),), base_offset=4), 0)


def test_leader_append_rejects_empty_batches():
    with pytest.raises(ValueError, match="append_as_leader: empty batch"):
        PartitionLog().append_as_leader([], 0)


def test_leader_append_rejects_older_epochs():
    log = PartitionLog(name="t-0")
    log.append_as_leader([rec(0)], 5)
    with pytest.raises(ValueError, match="leader epoch 4 is older than the log's latest epoch 5 on t-0"):
        log.append_as_leader([rec(1)], 4)


def test_message_too_large():
    log = PartitionLog(LogConfig(max_message_bytes=100), name="t-0")
    with pytest.raises(errors.MessageTooLargeError) as info:
        log.append_as_leader([rec(0, size=100)], 0)
    assert info.value.message == "The batch of 172 bytes to t-0 is larger than max.message.bytes (100)"
    assert log.log_end_offset == 0


def test_compacted_log_rejects_null_keys():
    log = PartitionLog(LogConfig(cleanup_policy=("compact",)), name="t-0")
    with pytest.raises(errors.InvalidRecordError) as info:
        log.append_as_leader([rec(0, key=b"k"), rec(1)], 0)
    assert info.value.message == "Compacted topic cannot accept message without key in topic partition t-0."


# ---- follower path -------------------------------------------------------------------------------------------------

def test_follower_stores_the_same_object_and_learns_epochs():
    leader, follower = PartitionLog(), PartitionLog()
    fill(leader, 2, epoch=1)
    fill(leader, 2, epoch=4)
    for batch in leader.read(0):
        follower.append_as_follower(batch)
    assert all(x is y for x, y in zip(follower.batches(), leader.batches(), strict=True))
    assert follower.epoch_cache.entries() == [(1, 0), (4, 2)]
    assert follower.log_end_offset == 4


def test_follower_append_overlap_and_gap_errors():
    leader, follower = PartitionLog(), PartitionLog(name="f-0")
    a, b, c = fill(leader, 3)
    follower.append_as_follower(a)
    with pytest.raises(UnexpectedAppendOffsetError) as info:
        follower.append_as_follower(a)
    assert str(info.value) == ("append_as_follower: batch starting at offset 0 overlaps the log end offset 1 on "
                               "f-0; truncate the log first")
    assert (info.value.first_offset, info.value.log_end_offset) == (0, 1)
    with pytest.raises(UnexpectedAppendOffsetError, match="batch starting at offset 2 leaves a gap after the log "
                                                          "end offset 1 on f-0"):
        follower.append_as_follower(c)
    with pytest.raises(UnexpectedAppendOffsetError, match="batch has no offsets on f-0; the leader assigns them"):
        follower.append_as_follower(RecordBatch((rec(0),)))


def test_compacted_follower_accepts_gaps():
    follower = PartitionLog(LogConfig(cleanup_policy="compact"))
    follower.append_as_follower(RecordBatch((rec(0, key=b"k"),), base_offset=5, partition_leader_epoch=0))
    assert (follower.log_start_offset, follower.log_end_offset) == (0, 6)
    assert follower.read(0)[0].base_offset == 5


# ---- truncation and the epoch cache ---------------------------------------------------------------------------------

def test_truncate_to_fixes_end_epochs_and_flush():
    log = PartitionLog()
    fill(log, 3, epoch=1)
    fill(log, 3, epoch=2)
    log.flush()
    assert log.truncate_to(4) == 4
    assert log.log_end_offset == 4
    assert log.epoch_cache.entries() == [(1, 0), (2, 3)]
    assert log.flushed_offset == 4
    assert log.truncate_to(3) == 3
    assert log.epoch_cache.entries() == [(1, 0)]
    assert log.truncate_to(10) == 3  # beyond the end: no-op


def test_truncate_inside_a_batch_removes_the_whole_batch():
    log = PartitionLog()
    fill(log, 2, per_batch=3)
    assert log.truncate_to(4) == 3
    assert log.log_end_offset == 3


def test_truncate_across_segments_keeps_sizes():
    log = PartitionLog(LogConfig(segment_bytes=200))
    stored = fill(log, 7)
    log.truncate_to(3)
    assert [s.base_offset for s in log.segments] == [0, 2]
    assert log.size_bytes == sum(b.size_bytes for b in stored[:3])
    assert log.size_bytes == sum(s.size_bytes for s in log.segments)


def test_truncate_below_the_first_segment_restarts_the_log():
    log = PartitionLog(log_start_offset=10)
    fill(log, 3)
    log.truncate_to(4)
    assert (log.log_start_offset, log.log_end_offset, len(log.epoch_cache)) == (4, 4, 0)
    assert log.append_as_leader([rec(0)], 1).base_offset == 4


def test_truncate_rejects_negative_offsets():
    with pytest.raises(ValueError, match="truncate_to: offset must be >= 0, got -1"):
        PartitionLog().truncate_to(-1)
    with pytest.raises(ValueError, match="truncate_fully_and_start_at: offset must be >= 0, got -2"):
        PartitionLog().truncate_fully_and_start_at(-2)
    with pytest.raises(ValueError, match="log_start_offset must be >= 0, got -1"):
        PartitionLog(log_start_offset=-1)


def test_end_offset_for_epoch_follows_kafka():
    log = PartitionLog()
    fill(log, 2, epoch=2)
    fill(log, 3, epoch=4)
    fill(log, 1, epoch=7)
    assert log.end_offset_for_epoch(7) == (7, 6)   # latest epoch: the log end
    assert log.end_offset_for_epoch(4) == (4, 5)
    assert log.end_offset_for_epoch(5) == (4, 5)   # unknown epoch: the largest known below it
    assert log.end_offset_for_epoch(1) == (1, 0)   # below every epoch: start of the first
    assert log.end_offset_for_epoch(8) == (-1, -1)
    assert log.end_offset_for_epoch(-1) == (-1, -1)


# ---- segments -------------------------------------------------------------------------------------------------------

def test_segments_roll_on_bytes():
    log = PartitionLog(LogConfig(segment_bytes=250))
    stored = fill(log, 7)  # 90-byte batches: two fit, a third would overflow
    assert stored[0].size_bytes == 90
    assert [s.base_offset for s in log.segments] == [0, 2, 4, 6]
    assert [len(s) for s in log.segments] == [2, 2, 2, 1]


def test_segments_roll_on_record_time():
    log = PartitionLog(LogConfig(segment_ms=100))
    for ts in (0, 50, 100, 101, 150, 202):
        log.append_as_leader([rec(0, ts=ts)], 0, now_ms=ts)
    assert [s.base_offset for s in log.segments] == [0, 3, 5]


def test_roll_flushes_the_rolled_segments():
    log = PartitionLog(LogConfig(segment_bytes=200))
    fill(log, 3)
    assert log.flushed_offset == 2


def test_manual_roll():
    log = PartitionLog()
    assert log.roll() is log.active_segment  # empty active segment: nothing to roll
    fill(log, 2)
    assert log.roll().base_offset == 2
    assert len(log.segments) == 2


# ---- flush and power loss -------------------------------------------------------------------------------------------

def test_power_loss_drops_the_unflushed_suffix():
    log = PartitionLog()
    fill(log, 3, epoch=1)
    assert log.flush() == 3
    fill(log, 2, epoch=2)
    assert log.flush(up_to_offset=1) == 3  # never moves back
    assert log.drop_unflushed() == 3
    assert log.log_end_offset == 3
    assert log.latest_epoch == 1


def test_flush_messages_forces_flushes():
    log = PartitionLog(LogConfig(flush_messages=2))
    fill(log, 1)
    assert log.flushed_offset == 0
    fill(log, 1)
    assert log.flushed_offset == 2


# ---- log start (deleteRecords) ------------------------------------------------------------------------------------

def test_advance_log_start_deletes_whole_segments_below_it():
    log = PartitionLog(LogConfig(segment_bytes=200), name="t-0")
    fill(log, 6, epoch=1)
    assert log.advance_log_start(3)
    assert [s.base_offset for s in log.segments] == [2, 4]
    assert log.log_start_offset == 3
    assert log.epoch_cache.entries() == [(1, 3)]
    assert not log.advance_log_start(2)
    with pytest.raises(errors.OffsetOutOfRangeError, match="Cannot increment the log start offset to 5 of partition t-0 since "
                                                "it is larger than the high watermark 4"):
        log.advance_log_start(5, high_watermark=4)


def test_first_fetch_of_a_batch_holding_the_leaders_log_start_restarts_the_follower():
    leader = PartitionLog()
    leader.append_as_leader([rec(0), rec(1), rec(2)], 0)
    leader.advance_log_start(1)
    follower = PartitionLog()
    follower.truncate_fully_and_start_at(leader.log_start_offset)
    batch = leader.read(leader.log_start_offset)[0]
    assert batch.base_offset == 0
    follower.append_as_follower(batch)
    assert (follower.log_start_offset, follower.log_end_offset) == (0, 3)
    assert follower.batches() == [batch]


def test_truncate_at_the_log_end_drops_an_epoch_assigned_without_data():
    """A leader assigns its epoch's start offset on election (Kafka's maybeAssignEpochStartOffset); deposed before
    appending, it must forget that epoch when it truncates as a follower, or every fetch would look divergent."""
    log = PartitionLog(name="t-0")
    log.append_as_leader([Record(b"k", b"v", 0)], leader_epoch=0)
    log.epoch_cache.assign(1, log.log_end_offset)
    assert log.latest_epoch == 1
    assert log.truncate_to(log.log_end_offset) == 1
    assert log.latest_epoch == 0 and log.end_offset_for_epoch(0) == (0, 1)

"""Counted batches (issue 14's sizing workload): a count, sizes and timestamp runs that take exactly the bytes of the
real records they stand for, refuse per-record reads, and stay out of compacted logs."""
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.clients.accumulator import ProducerBatch, RecordAccumulator
from kafkalab.common.records import (
    CountedRecords,
    CountedRecordsError,
    RecordBatch,
    counted_size_bytes,
    is_counted,
)
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvalidRecordError
from kafkalab.log import LogConfig, PartitionLog, Record

runs_strategy = st.lists(st.tuples(st.integers(0, 40_000), st.integers(1, 300)), min_size=1, max_size=4)


def _real(count_runs: list[tuple[int, int]], key_bytes: int, value_bytes: int) -> RecordBatch:
    key = None if key_bytes < 0 else bytes(key_bytes)
    value = None if value_bytes < 0 else bytes(value_bytes)
    return RecordBatch(tuple((key, value, ts, ()) for ts, n in count_runs for _ in range(n)))


@given(runs=runs_strategy, key_bytes=st.sampled_from([-1, 0, 7, 200]),
       value_bytes=st.sampled_from([-1, 0, 1, 63, 64, 1_000, 20_000]))
def test_a_counted_batch_takes_exactly_the_bytes_of_the_records_it_stands_for(runs, key_bytes, value_bytes):
    count = sum(n for _, n in runs)
    counted = RecordBatch(CountedRecords(count, key_bytes, value_bytes, runs))
    real = _real(runs, key_bytes, value_bytes)
    assert (counted.size_bytes, counted.max_timestamp_ms, counted.last_offset_delta, counted.record_count) == \
        (real.size_bytes, real.max_timestamp_ms, real.last_offset_delta, real.record_count)
    assert counted.size_bytes == counted_size_bytes(count, key_bytes, value_bytes, runs)
    stored = counted.with_offset(1_000, 3)
    assert list(stored.offsets()) == list(range(1_000, 1_000 + count)) and stored.next_offset == 1_000 + count
    assert is_counted(stored) and not is_counted(real)


def test_offset_deltas_past_one_and_two_varint_bytes_are_sized_like_real_records():
    # 64 and 8,192 records are where an offset delta's varint grows; 70,000 records cross both
    for count in (63, 64, 65, 8_191, 8_192, 8_193, 70_000):
        runs = [(5, count)]
        assert RecordBatch(CountedRecords(count, -1, 10, runs)).size_bytes == _real(runs, -1, 10).size_bytes


def test_counted_records_refuse_per_record_reads_and_compare_by_value():
    rows = CountedRecords(3, -1, 100, [(7, 2), (9, 1)])
    batch = RecordBatch(rows)
    message = (r"counted records \(3 records of 100-byte values\) have no per-record keys or values to read; use their "
               r"count, sizes and timestamps \(consumer.poll_counts\(\) reads counted batches\)")
    with pytest.raises(CountedRecordsError, match=message):
        list(batch.rows)
    with pytest.raises(CountedRecordsError, match=message):
        batch.rows[0]
    with pytest.raises(CountedRecordsError, match=message):
        _ = batch.records
    assert isinstance(CountedRecordsError("x"), TypeError)
    assert len(rows) == 3 and rows.max_timestamp_ms == 9 and rows.timestamps == ((7, 2), (9, 1))
    assert rows == CountedRecords(3, -1, 100, ((7, 2), (9, 1))) != CountedRecords(3, -1, 101, ((7, 2), (9, 1)))
    assert hash(rows) == hash(CountedRecords(3, -1, 100, [(7, 2), (9, 1)]))
    assert pickle.loads(pickle.dumps(batch.with_offset(5, 1))) == batch.with_offset(5, 1)
    assert repr(rows) == "CountedRecords(count=3, key_bytes=-1, value_bytes=100, timestamps=((7, 2), (9, 1)))"


@pytest.mark.parametrize("make, message", [
    (lambda: CountedRecords(0, -1, 1, []), "CountedRecords: count must be an int >= 1, got 0"),
    (lambda: CountedRecords(2, -2, 1, [(0, 2)]), "CountedRecords: key_bytes must be an int >= -1, got -2"),
    (lambda: CountedRecords(2, -1, 1.5, [(0, 2)]), "CountedRecords: value_bytes must be an int >= -1, got 1.5"),
    (lambda: CountedRecords(2, -1, 1, [(0, 1)]),
     r"CountedRecords: timestamps must be \(timestamp_ms, records >= 1\) runs covering the 2 records, got \(\(0, 1\),\)"),
    (lambda: CountedRecords(2, -1, 1, [(0, 2), (1, 0)]), "CountedRecords: timestamps must be"),
    (lambda: RecordBatch(CountedRecords(2, -1, 1, [(0, 2)]), offset_deltas=(0, 1)),
     "a counted batch has its records at consecutive offsets: offset_deltas and original_last_offset_delta must be "
     "None"),
    (lambda: RecordBatch(CountedRecords(1, -1, 1, [(0, 1)]), is_control=True),
     "a control batch cannot hold counted records"),
    (lambda: counted_size_bytes(3, -1, 1, [(0, 2)]), "timestamp runs cover 2 records, the batch has 3"),
])
def test_bad_counted_records_are_refused_with_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


COMPACT = dict(cleanup_policy=("compact",), segment_bytes=200, delete_retention_ms=1000)


def test_a_compacted_log_refuses_counted_records_and_the_cleaner_drops_ones_written_before():
    compacted = PartitionLog(LogConfig(**COMPACT), name="c-0")
    with pytest.raises(InvalidRecordError, match=r"Compacted topic cannot accept counted records \(counts and sizes, "
                                                 r"without keys\) in topic partition c-0\."):
        compacted.append_as_leader(RecordBatch(CountedRecords(4, -1, 10, [(1, 4)])), 0)
    assert compacted.log_end_offset == 0
    # a topic switched to compaction after counted records were written: they have no keys, so cleaning removes them
    log = PartitionLog(LogConfig(segment_bytes=200), name="d-0")
    for i in range(4):
        log.append_as_leader(RecordBatch(CountedRecords(5, -1, 10, [(i, 5)])), 0, now_ms=i)
    log.append_as_leader([Record(b"k", b"v", 9)], 0, now_ms=9)
    log.config = LogConfig(**COMPACT)
    stats = log.compact(now_ms=100)
    assert stats.records_removed == 20
    assert [b.record_count for b in log.batches()] == [1]
    assert log.log_end_offset == 21


@given(appends=st.lists(st.tuples(st.integers(1, 400), st.integers(0, 3)), min_size=1, max_size=8),
       value_bytes=st.sampled_from([0, 10, 100, 3_000]), batch_size=st.sampled_from([500, 16_384, 200_000]))
def test_the_accumulator_sizes_a_counted_batch_as_the_built_batch_and_per_record_appends_would(appends, value_bytes,
                                                                                               batch_size):
    def accumulator() -> RecordAccumulator:
        return RecordAccumulator(batch_size=batch_size, linger_ms=5, buffer_memory=1 << 30,
                                 delivery_timeout_ms=120_000, waiter=None, on_new_batch=lambda b: None,
                                 on_batch_full=lambda b: None)
    tp = TopicPartition("t", 0)
    counted, real = accumulator(), accumulator()
    ts = 1_000
    for n, dt in appends:
        ts += dt
        left = n
        while left:
            _, taken, _ = counted.append_counted(tp, left, value_bytes, ts, 0.0)
            left -= taken
        for _ in range(n):
            real.append(tp, None, bytes(value_bytes), ts, (), -1, None, 0.0)
    a: list[ProducerBatch] = list(counted.queues[tp])
    b: list[ProducerBatch] = list(real.queues[tp])
    assert [(x.record_count, x.size_bytes) for x in a] == [(y.record_count, y.size_bytes) for y in b]
    for x, y in zip(a, b, strict=True):
        built, reference = x.build(-1, -1, -1), y.build(-1, -1, -1)
        assert built.size_bytes == x.size_bytes == reference.size_bytes
        assert (built.max_timestamp_ms, built.record_count) == (reference.max_timestamp_ms, reference.record_count)

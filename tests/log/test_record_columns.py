"""A batch stores its records by column (issue 14: memory per retained record) and still reads as the row tuples it
stored before: built from rows, from Records, by the producer, rewritten by the cleaner, pickled, it compares equal
and gives the same rows, records, offsets and size."""
import pickle
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.clients.accumulator import RecordAccumulator
from kafkalab.common.records import Record, RecordBatch, RecordColumns
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.log import LogConfig, PartitionLog

ROWS = ((b"k1", b"v1", 1_000, ()), (None, b"v2", 1_000, ()), (b"k3", None, 1_003, (("h", b"x"), ("n", None))))


def facts(batch):
    return (batch.rows, batch.records, list(batch.offsets()), batch.size_bytes, batch.record_count,
            batch.max_timestamp_ms, batch.last_offset_delta)


def test_a_batch_from_rows_and_one_from_records_are_the_same_batch():
    from_rows = RecordBatch(ROWS, base_offset=5)
    from_records = RecordBatch(tuple(Record(*r) for r in ROWS), base_offset=5)
    assert from_rows == from_records and hash(from_rows) == hash(from_records)
    assert facts(from_rows) == facts(from_records)
    assert from_rows.rows == ROWS and tuple(from_rows.rows) == ROWS and hash(from_rows.rows) == hash(ROWS)
    assert list(from_rows.offsets()) == [5, 6, 7] and from_rows.records[2] == Record(*ROWS[2])


def test_the_columns_hold_one_entry_per_record_and_headers_only_when_some_record_has_any():
    columns = RecordBatch(ROWS).columns
    assert columns.keys == (b"k1", None, b"k3") and columns.values == (b"v1", b"v2", None)
    assert columns.timestamps == (1_000, 1_000, 1_003)
    assert columns.headers == ((), (), (("h", b"x"), ("n", None)))
    assert RecordBatch(ROWS[:2]).columns.headers is None


def test_rows_read_like_the_tuple_they_replace():
    rows = RecordBatch(ROWS).rows
    assert len(rows) == 3 and rows[0] == ROWS[0] and rows[-1] == ROWS[-1] and rows[1][0] is None
    assert rows[1:] == ROWS[1:] and type(rows[1:]) is RecordColumns and rows[5:] == ()
    assert list(rows) == list(ROWS) and ROWS[2] in rows and rows.index(ROWS[1]) == 1
    assert repr(rows) == repr(ROWS)
    assert not RecordBatch(()).rows and RecordBatch(()).rows == ()
    assert rows != ROWS[:2] and rows != list(ROWS)    # a list is not the tuple the rows used to be


def test_the_log_cleaner_rewrites_a_columnar_batch_and_keeps_offsets_and_sizes():
    log = PartitionLog(LogConfig(cleanup_policy=("compact",), segment_bytes=10_000))
    log.append_as_leader([Record(b"a", b"1", 0), Record(b"b", b"1", 0), Record(b"a", b"2", 0)], 0)
    log.roll()
    log.compact(now_ms=10)
    (batch,) = log.batches()
    expected = RecordBatch(((b"b", b"1", 0, ()), (b"a", b"2", 0, ())), offset_deltas=(1, 2),
                           original_last_offset_delta=2)
    assert batch.rows == expected.rows and list(batch.offsets()) == [1, 2]
    assert batch.size_bytes == expected.size_bytes and batch.last_offset == 2
    assert type(batch.rows) is RecordColumns
    emptied = replace(batch, rows=(), offset_deltas=())
    assert emptied.record_count == 0 and emptied.size_bytes == 61 and type(emptied.rows) is RecordColumns


def test_a_batch_survives_pickling_unchanged():
    batch = RecordBatch(ROWS, producer_id=3, producer_epoch=1, base_sequence=0).with_offset(40, 2)
    back = pickle.loads(pickle.dumps(batch))
    assert back == batch and facts(back) == facts(batch)
    assert (back.base_offset, back.partition_leader_epoch) == (40, 2) and type(back.rows) is RecordColumns


def test_the_producer_builds_the_batch_a_constructor_would():
    acc = RecordAccumulator(batch_size=16384, linger_ms=0, buffer_memory=1 << 20, delivery_timeout_ms=120_000,
                            waiter=None, on_new_batch=lambda b: None, on_batch_full=lambda b: None)
    tp = TopicPartition("t", 0)
    for key, value, ts, headers in ROWS:
        acc.append(tp, key, value, ts, headers, -1, None, 0.0)
    (batch,) = acc.drain(1, [tp], 1 << 20, 0.0, lambda b: True)
    built = batch.build(7, 0, 0)
    reference = RecordBatch(ROWS, producer_id=7, producer_epoch=0, base_sequence=0)
    assert built == reference and facts(built) == facts(reference)
    assert batch.records is built.rows                    # the history keeps the wire batch's columns, no rows
    assert batch.build(7, 0, 5).rows is built.rows        # a rebuilt batch (new sequence) shares them
    assert batch.metadata(2).timestamp_ms == 1_003


def test_bad_rows_are_refused_with_what_a_row_is():
    with pytest.raises(ValueError, match=r"a record row is \(key, value, timestamp_ms, headers\), got 3 fields"):
        RecordBatch(((b"k", b"v", 1),))
    with pytest.raises(TypeError, match="a RecordBatch holds Record values, got str"):
        RecordBatch(("kv",))
    with pytest.raises(ValueError, match="columns must have one entry per record: 2 keys, 1 values, 2 timestamps"):
        RecordColumns((b"a", b"b"), (b"v",), (1, 2))
    with pytest.raises(ValueError, match="2 keys, 2 values, 2 timestamps, 1 headers"):
        RecordColumns((b"a", b"b"), (b"v", b"w"), (1, 2), ((),))


_headers = st.lists(st.tuples(st.text(max_size=5), st.none() | st.binary(max_size=8)), max_size=2).map(tuple)
_rows = st.lists(st.tuples(st.none() | st.binary(max_size=40), st.none() | st.binary(max_size=300),
                           st.integers(-(2**63), 2**63 - 1), st.just(()) | _headers), max_size=8).map(tuple)


@given(_rows, st.booleans())
def test_any_records_round_trip_exactly_through_the_columns(rows, as_records):
    given_ = tuple(Record(*r) for r in rows) if as_records else rows
    batch = RecordBatch(given_)
    assert batch.rows == rows and tuple(batch.rows) == rows and batch.records == tuple(Record(*r) for r in rows)
    assert [batch.rows[i] for i in range(len(rows))] == list(rows)
    assert all(a is b for row, back in zip(rows, batch.rows, strict=True) for a, b in zip(row[:2], back[:2],
                                                                                       strict=True))
    assert pickle.loads(pickle.dumps(batch)) == batch
    base_ts = rows[0][2] if rows else 0
    from kafkalab.common.records import record_size_bytes
    assert batch.size_bytes == 61 + sum(record_size_bytes(Record(*r), i, r[2] - base_ts) for i, r in enumerate(rows))


def test_a_batch_that_fills_up_keeps_its_records_by_column_until_it_is_sent():
    acc = RecordAccumulator(batch_size=200, linger_ms=1000, buffer_memory=1 << 20, delivery_timeout_ms=120_000,
                            waiter=None, on_new_batch=lambda b: None, on_batch_full=lambda b: None)
    tp = TopicPartition("t", 0)
    rows = tuple((b"k%d" % i, b"v" * 30, 7, ()) for i in range(6))
    for key, value, ts, headers in rows:
        acc.append(tp, key, value, ts, headers, -1, None, 0.0)
    first, second = acc.queues[tp]
    assert first.closed and type(first.records) is RecordColumns and not second.closed
    assert len(first.records) + len(second.records) == 6
    built = first.build(-1, -1, -1)
    assert built.rows is first.records and built.rows == rows[:len(first.records)]
    assert built == RecordBatch(rows[:len(first.records)]) and built.size_bytes == first.size_bytes


def test_a_window_reads_as_the_slice_it_stands_for_without_copying_the_columns():
    columns = RecordBatch(ROWS).columns
    for start, stop in ((0, 3), (1, 3), (0, 1), (2, 2), (1, 9), (-2, 3)):
        window = columns.window(start, stop)
        assert window == ROWS[start:stop] and tuple(window) == ROWS[start:stop] and len(window) == len(ROWS[start:stop])
        assert [window[i] for i in range(len(window))] == list(ROWS[start:stop])
        assert window[1:] == ROWS[start:stop][1:] and repr(window) == repr(ROWS[start:stop])
        assert hash(window) == hash(ROWS[start:stop]) and pickle.loads(pickle.dumps(window)) == ROWS[start:stop]
    window = columns.window(1, 3)
    assert window.columns is columns and window[-1] == ROWS[2] and columns.window(0, 2) == columns[:2]
    with pytest.raises(IndexError, match="row index out of range"):
        window[2]

"""Record batch sizes against hand-computed Kafka v2 sizes (DefaultRecord.sizeInBytes + 61-byte batch header)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.log import (
    BATCH_OVERHEAD_BYTES,
    NO_OFFSET,
    Record,
    RecordBatch,
    record_size_bytes,
    size_of_varint,
    size_of_varlong,
)


@pytest.mark.parametrize(("value", "size"), [(0, 1), (-1, 1), (63, 1), (-64, 1), (64, 2), (-65, 2), (8191, 2),
                                             (8192, 3), (2**31 - 1, 5), (-(2**31), 5)])
def test_varint_sizes_are_zigzag(value, size):
    assert size_of_varint(value) == size


@pytest.mark.parametrize(("value", "size"), [(0, 1), (-1, 1), (200, 2), (2**62, 10), (-(2**63), 10)])
def test_varlong_sizes_are_zigzag(value, size):
    assert size_of_varlong(value) == size


def test_batch_header_is_61_bytes():
    assert BATCH_OVERHEAD_BYTES == 61
    assert RecordBatch(()).size_bytes == 61


def test_null_key_and_value_cost_one_byte_each():
    # attributes 1 + ts delta 1 + offset delta 1 + key -1 (1) + value -1 (1) + headers 0 (1) = 6, length prefix 1
    assert RecordBatch((Record(None, None),)).size_bytes == 61 + 7


def test_key_value_record():
    # body 1 + 1 + 1 + (1 + 3) + (1 + 5) + 1 = 14, prefix 1
    assert RecordBatch((Record(b"key", b"value", 1000),)).size_bytes == 61 + 15


def test_second_record_pays_for_its_deltas():
    # second record: offset delta 1 (1 byte), timestamp delta 200 (zigzag 400: 2 bytes) -> body 15, prefix 1
    batch = RecordBatch((Record(b"key", b"value", 1000), Record(b"key", b"value", 1200)))
    assert batch.size_bytes == 61 + 15 + 16
    assert batch.max_timestamp_ms == 1200


def test_headers_are_sized_with_utf8_keys():
    # body 1+1+1 + (1+1) + (1+1) + count 1 + ("trace": 1+5, b"abc": 1+3) + ("n": 1+1, None: 1) = 21, prefix 1
    record = Record(b"k", b"v", 0, headers=(("trace", b"abc"), ("n", None)))
    assert RecordBatch((record,)).size_bytes == 61 + 22
    # "é" is 2 UTF-8 bytes: body 1+1+1 + 2 + 2 + count 1 + (1+2) + (1+0) = 12, prefix 1
    assert RecordBatch((Record(b"k", b"v", 0, headers=(("é", b""),)),)).size_bytes == 61 + 13


def test_100_byte_value_needs_a_two_byte_length():
    # Kreps' benchmark record: value length 100 is zigzag 200 -> 2 bytes; body 107 is zigzag 214 -> 2-byte prefix
    assert RecordBatch((Record(None, b"x" * 100),)).size_bytes == 61 + 109


def test_objects_with_serialized_size_are_sized_by_it():
    class Meta:
        def serialized_size(self):
            return 10

    assert RecordBatch((Record(None, Meta()),)).size_bytes == 61 + 1 + (1 + 1 + 1 + 1 + (1 + 10) + 1)


def test_str_value_is_rejected_with_advice():
    with pytest.raises(TypeError, match=r"record value must be bytes or None, got str; encode it first"):
        RecordBatch((Record(None, "text"),))


def test_plain_object_value_mentions_serialized_size():
    with pytest.raises(TypeError, match="serialized_size"):
        RecordBatch((Record(None, object()),))


def test_non_bytes_key_is_rejected():
    with pytest.raises(TypeError, match="record key must be bytes or None, got int"):
        RecordBatch((Record(1, b"v"),))


def test_bad_serialized_size_is_rejected():
    class Bad:
        def serialized_size(self):
            return -3

    with pytest.raises(TypeError, match=r"Bad.serialized_size\(\) must return an int >= 0, got -3"):
        RecordBatch((Record(None, Bad()),))


def test_bad_headers_are_rejected():
    with pytest.raises(TypeError, match="header key must be str, got bytes"):
        RecordBatch((Record(None, None, headers=((b"k", b"v"),)),))
    with pytest.raises(TypeError, match="header value must be bytes or None, got str"):
        RecordBatch((Record(None, None, headers=(("k", "v"),)),))


def test_offset_deltas_must_match_records():
    with pytest.raises(ValueError, match="offset_deltas has 1 entries for 2 records"):
        RecordBatch((Record(None, None), Record(None, None)), offset_deltas=(0,))


def test_batches_are_frozen_and_compare_by_value():
    a = RecordBatch((Record(b"k", b"v", 5),))
    assert a == RecordBatch((Record(b"k", b"v", 5),))
    assert a.base_offset == NO_OFFSET
    with pytest.raises(AttributeError):
        a.base_offset = 3  # type: ignore[misc]


def test_with_offset_keeps_size_and_sets_offsets():
    batch = RecordBatch.of([Record(b"a", b"1", 0), Record(b"b", b"2", 1)], producer_id=7)
    placed = batch.with_offset(40, 3)
    assert (placed.base_offset, placed.partition_leader_epoch, placed.producer_id) == (40, 3, 7)
    assert placed.size_bytes == batch.size_bytes
    assert list(placed.offsets()) == [40, 41]
    assert (placed.last_offset, placed.next_offset, placed.record_count) == (41, 42, 2)


def test_rewritten_batch_keeps_offsets_and_last_offset():
    batch = RecordBatch((Record(b"b", b"2", 1),), base_offset=10, offset_deltas=(1,), original_last_offset_delta=2)
    assert list(batch.offsets()) == [11]
    assert batch.last_offset == 12
    # the record's offset delta 1 is still one byte; size as any one-record batch
    assert batch.size_bytes == RecordBatch((Record(b"b", b"2", 1),)).size_bytes


def test_delete_horizon_is_the_base_timestamp():
    # timestamp delta against a horizon 1,000,000 ms later: zigzag(-1e6) needs 3 bytes instead of 1
    plain = RecordBatch((Record(b"k", None, 0),))
    stamped = RecordBatch((Record(b"k", None, 0),), delete_horizon_ms=1_000_000)
    assert stamped.size_bytes == plain.size_bytes + 2


@given(st.lists(st.tuples(st.none() | st.binary(max_size=300), st.none() | st.binary(max_size=20000),
                          st.integers(-(2**40), 2**40)), min_size=1, max_size=5))
def test_fast_path_sizes_agree_with_the_record_formula(rows):
    records = tuple(Record(k, v, ts) for k, v, ts in rows)
    expected = 61 + sum(record_size_bytes(r, i, r.timestamp_ms - records[0].timestamp_ms)
                        for i, r in enumerate(records))
    assert RecordBatch(records).size_bytes == expected


def test_a_batch_takes_records_or_rows_and_rejects_anything_else():
    batch = RecordBatch(((b"k", b"v", 1, ()), Record(b"a", b"b", 2)))
    assert batch.rows == ((b"k", b"v", 1, ()), (b"a", b"b", 2, ()))
    assert batch.records == (Record(b"k", b"v", 1), Record(b"a", b"b", 2))
    with pytest.raises(TypeError, match="a RecordBatch holds Record values, got int"):
        RecordBatch((5,))  # type: ignore[arg-type]

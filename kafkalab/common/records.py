"""Records and record batches, shaped like Kafka's v2 on-disk/on-wire format (KIP-98, KIP-82).

A :class:`RecordBatch` is what moves: producers build them, the leader stamps a base offset and its leader epoch on
them, followers store the very same object (zero-copy replication), consumers receive it. Batches are frozen.

Sizes follow ``DefaultRecordBatch``/``DefaultRecord`` in Kafka's ``clients/.../common/record``: a 61-byte batch
header, then per record ``varint(sizeOfBody) + body`` where the body is one attributes byte, the timestamp delta
(zigzag varlong, relative to the batch's base timestamp), the offset delta (zigzag varint), key length + key, value
length + value (a null key/value costs one byte: varint(-1)), the header count, and per header the UTF-8 key length +
key and value length + value. Byte limits (``segment.bytes``, ``max.message.bytes``, fetch sizes, bandwidth) therefore
behave as in Kafka. Compression is not modelled (``compression.type=none``).

A batch stores its records by column (:class:`RecordColumns`, ``RecordBatch.rows``): a tuple each of keys, values and
timestamps, and the headers only when some record has any: 24 bytes per record where a ``(key, value, timestamp_ms,
headers)`` tuple per record took 80 (issue 14: memory per retained record; records of one batch mostly share their
timestamp's int object, the producer sees to it).
``rows`` still reads as a sequence of such tuples, built on access; the hot readers (sizing below, the consumer
building its records) go through the columns. The columns are tuples of bytes and ints, which CPython's garbage
collector stops tracking, so a million stored records cost it one object per batch. ``RecordBatch.records`` builds
:class:`Record` values on access, for code off the hot paths.

Internal logs (the KRaft metadata log) may store Python objects as values; such a value is sized by its
``serialized_size()`` method.

A *counted* batch (issue 14's sizing workload, ``kafka-producer-perf-test``'s records: null keys, random payloads of a
fixed size) stores :class:`CountedRecords` as its ``rows``: a record count, the key and value sizes, and the records'
timestamps as runs of (timestamp, count), so it costs the same whatever its record count. Its ``size_bytes`` is
exactly what a batch of real records of those sizes and timestamps takes (:func:`counted_size_bytes`, checked
against the real sizing by a property test), so it takes the same network, disk and quota time. It has no
per-record keys or values to read: iterating or indexing its rows raises :class:`CountedRecordsError` (building
rows with made-up values would be a lie); ``len()``, ``record_count``, ``offsets()`` and the timestamps work.

A batch the log cleaner rewrote keeps its base offset and its records' offsets (``offset_deltas``), as a v2 batch does.
A batch with a delete horizon (KIP-534) uses it as its base timestamp, as Kafka's cleaner writes it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from typing import Any, overload

__all__ = [
    "BATCH_OVERHEAD_BYTES",
    "NO_OFFSET",
    "NO_PRODUCER_ID",
    "NO_PRODUCER_EPOCH",
    "NO_SEQUENCE",
    "NO_PARTITION_LEADER_EPOCH",
    "Header",
    "Record",
    "Row",
    "RecordColumns",
    "RecordBatch",
    "CountedRecords",
    "CountedRecordsError",
    "counted_size_bytes",
    "is_counted",
    "MAX_RECORD_OVERHEAD_BYTES",
    "batch_size_upper_bound_bytes",
    "record_size_bytes",
    "size_of_varint",
    "size_of_varlong",
    "value_size_bytes",
    "ABORT_MARKER",
    "COMMIT_MARKER",
    "control_batch",
    "control_type",
]

#: DefaultRecordBatch.RECORD_BATCH_OVERHEAD: base offset (8) + length (4) + partition leader epoch (4) + magic (1)
#: + crc (4) + attributes (2) + last offset delta (4) + base timestamp (8) + max timestamp (8) + producer id (8)
#: + producer epoch (2) + base sequence (4) + record count (4).
BATCH_OVERHEAD_BYTES = 61
#: DefaultRecord.MAX_RECORD_OVERHEAD: the most a record's length prefix, attributes, timestamp delta and offset delta
#: can take (5 + 1 + 10 + 5 bytes).
MAX_RECORD_OVERHEAD_BYTES = 21
NO_OFFSET = -1
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
NO_PARTITION_LEADER_EPOCH = -1

Header = tuple[str, bytes | None]


def size_of_varint(value: int) -> int:
    """Bytes of a zigzag-encoded varint (Kafka's ``ByteUtils.sizeOfVarint``)."""
    zigzag = (value << 1) ^ (value >> 31)
    return max(1, (zigzag.bit_length() + 6) // 7)


def size_of_varlong(value: int) -> int:
    """Bytes of a zigzag-encoded varlong (Kafka's ``ByteUtils.sizeOfVarlong``)."""
    zigzag = (value << 1) ^ (value >> 63)
    return max(1, (zigzag.bit_length() + 6) // 7)


def value_size_bytes(value: Any, what: str = "value") -> int:
    """Length of a key or value as Kafka's length prefix counts it; -1 for null."""
    if value is None:
        return -1
    if type(value) is bytes:
        return len(value)
    if what == "value":
        sizer = getattr(value, "serialized_size", None)
        if callable(sizer):
            size = sizer()
            if not isinstance(size, int) or size < 0:
                raise TypeError(f"{type(value).__name__}.serialized_size() must return an int >= 0, got {size!r}")
            return size
    raise TypeError(
        f"record {what} must be bytes or None, got {type(value).__name__}; encode it first "
        f"(e.g. s.encode('utf-8') for str, or a serializer)"
        + (" or give the object a serialized_size() method (internal logs only)" if what == "value" else "")
    )


def _length_prefixed(size: int) -> int:
    return 1 if size < 0 else size_of_varint(size) + size


@dataclass(frozen=True, slots=True)
class Record:
    """One record as the producer gives it. ``timestamp_ms`` is CreateTime."""

    key: bytes | None
    value: Any
    timestamp_ms: int = 0
    headers: tuple[Header, ...] = ()


#: A record as a batch stores it: (key, value, timestamp_ms, headers). A plain tuple of bytes and ints, which the
#: garbage collector stops tracking, so a million stored records cost it nothing (Record objects it would walk).
Row = tuple[Any, Any, int, tuple[Header, ...]]


def _row(record: Record) -> Row:
    if not isinstance(record, Record):
        raise TypeError(f"a RecordBatch holds Record values, got {type(record).__name__}")
    return (record.key, record.value, record.timestamp_ms, record.headers)


def _record(row: Row) -> Record:
    return Record(*row)


class _Rows(Sequence[Row]):
    """What :class:`RecordColumns` and its windows share: they compare, hash and print as the tuple of rows."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Rows | tuple):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


class RecordColumns(_Rows):
    """The records of a batch, stored by column: ``keys``, ``values`` and ``timestamps`` tuples, and ``headers`` (a
    tuple of per-record header tuples, or None when no record has any).

    It reads as the tuple of ``(key, value, timestamp_ms, headers)`` rows it replaces: indexing and iterating build
    the rows on access, a slice is another ``RecordColumns``, and it compares equal (and hashes equal) to that tuple.
    Build one with :meth:`of`.
    """

    __slots__ = ("keys", "values", "timestamps", "headers")

    keys: tuple[Any, ...]
    values: tuple[Any, ...]
    timestamps: tuple[int, ...]
    headers: tuple[tuple[Header, ...], ...] | None

    def __init__(self, keys: tuple[Any, ...], values: tuple[Any, ...], timestamps: tuple[int, ...],
                 headers: tuple[tuple[Header, ...], ...] | None = None) -> None:
        if not len(keys) == len(values) == len(timestamps) or (headers is not None and len(headers) != len(keys)):
            raise ValueError(f"columns must have one entry per record: {len(keys)} keys, {len(values)} values, "
                             f"{len(timestamps)} timestamps" + ("" if headers is None else f", {len(headers)} headers"))
        self.keys = keys
        self.values = values
        self.timestamps = timestamps
        self.headers = headers

    @classmethod
    def of(cls, rows: Iterable[Row | Record]) -> RecordColumns:
        """Columns from ``(key, value, timestamp_ms, headers)`` tuples or :class:`Record` values."""
        if type(rows) is cls:
            return rows  # type: ignore[return-value]
        rows = tuple(rows)
        if not {*map(type, rows)} <= _TUPLE_ONLY:   # the check runs in C: the producer's rows are all tuples
            rows = tuple(r if type(r) is tuple else _row(r) for r in rows)  # type: ignore[arg-type]
        return _columns(rows)  # type: ignore[arg-type]

    @classmethod
    def of_tuples(cls, rows: Sequence[Row]) -> RecordColumns:
        """Columns from rows known to be tuples (a producer's own): :meth:`of` without its per-row type check."""
        return _columns(tuple(rows))

    def window(self, start: int, stop: int) -> Sequence[Row]:
        """The rows ``start:stop`` as a read-only view (what ``self[start:stop]`` holds, without copying the columns'
        entries: a consumer's history keeps one per partial read)."""
        start, stop, _ = slice(start, stop).indices(len(self.keys))
        return _RowWindow(self, start, max(start, stop))

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Row]:
        headers = self.headers
        return zip(self.keys, self.values, self.timestamps,
                   repeat((), len(self.keys)) if headers is None else headers, strict=True)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> RecordColumns: ...

    def __getitem__(self, index: int | slice) -> Row | RecordColumns:
        headers = self.headers
        if isinstance(index, slice):
            return RecordColumns(self.keys[index], self.values[index], self.timestamps[index],
                                 None if headers is None else headers[index])
        return (self.keys[index], self.values[index], self.timestamps[index], () if headers is None else headers[index])

    def __reduce__(self) -> tuple[Any, ...]:
        return (RecordColumns, (self.keys, self.values, self.timestamps, self.headers))


class _RowWindow(_Rows):
    """Rows ``start:stop`` of a :class:`RecordColumns`, read through it (see :meth:`RecordColumns.window`)."""

    __slots__ = ("columns", "start", "stop")

    def __init__(self, columns: RecordColumns, start: int, stop: int) -> None:
        self.columns = columns
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self) -> Iterator[Row]:
        cols, start, stop = self.columns, self.start, self.stop
        headers = cols.headers
        return zip(islice(cols.keys, start, stop), islice(cols.values, start, stop),
                   islice(cols.timestamps, start, stop),
                   repeat((), stop - start) if headers is None else islice(headers, start, stop), strict=True)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> RecordColumns: ...

    def __getitem__(self, index: int | slice) -> Row | RecordColumns:
        if isinstance(index, slice):
            return self._materialized()[index]
        n = self.stop - self.start
        if not -n <= index < n:
            raise IndexError("row index out of range")
        return self.columns[self.start + index % n]

    def _materialized(self) -> RecordColumns:
        return self.columns[self.start:self.stop]

    def __reduce__(self) -> tuple[Any, ...]:
        return self._materialized().__reduce__()


_TUPLE_ONLY = frozenset((tuple,))
_NO_ROWS = RecordColumns((), (), (), None)


def _columns(rows: tuple[Row, ...]) -> RecordColumns:
    """Columns from a tuple of row tuples (every one a tuple: callers check)."""
    if not rows:
        return _NO_ROWS
    try:
        keys, values, timestamps, headers = zip(*rows, strict=True)
    except ValueError:
        bad = next(r for r in rows if len(r) != 4)
        raise ValueError(f"a record row is (key, value, timestamp_ms, headers), got {len(bad)} fields: {bad!r}") \
            from None
    return RecordColumns(keys, values, timestamps, headers if any(headers) else None)


class CountedRecordsError(TypeError):
    """Per-record data was asked of counted records (:class:`CountedRecords`), which carry only counts and sizes."""


def _offset_varint_pieces(start: int, stop: int) -> Iterator[tuple[int, int]]:
    """(records, varint bytes of their offset deltas) for the deltas ``start..stop-1``, one piece per varint width."""
    width = size_of_varint(start)
    while start < stop:
        bound = 1 << (7 * width - 1)          # zigzag(n) = 2n: the first delta one byte wider
        end = min(stop, bound)
        yield end - start, width
        start = end
        width += 1


def counted_size_bytes(count: int, key_bytes: int, value_bytes: int,
                       timestamps: Sequence[tuple[int, int]], base_timestamp_ms: int | None = None) -> int:
    """Bytes of a v2 batch of ``count`` records at consecutive offsets whose keys take ``key_bytes`` and values
    ``value_bytes`` (-1: null), no headers, and whose timestamps are the runs ``timestamps`` ((timestamp_ms, records)
    pairs, in record order): the batch header plus ``DefaultRecord.sizeInBytes`` of each record, summed per run and per
    offset-delta varint width instead of per record (the same arithmetic as :func:`record_size_bytes`)."""
    base_ts = (timestamps[0][0] if timestamps else 0) if base_timestamp_ms is None else base_timestamp_ms
    fields = 2 + _length_prefixed(key_bytes) + _length_prefixed(value_bytes)   # attributes, header count, key, value
    size = BATCH_OVERHEAD_BYTES
    at = 0
    for ts, n in timestamps:
        ts_width = size_of_varlong(ts - base_ts)
        for records, width in _offset_varint_pieces(at, at + n):
            body = fields + width + ts_width
            size += records * (body + size_of_varint(body))
        at += n
    if at != count:
        raise ValueError(f"timestamp runs cover {at} records, the batch has {count}")
    return size


class CountedRecords:
    """The records of a counted batch: ``count`` records whose keys take ``key_bytes`` bytes and values
    ``value_bytes`` (-1: null; the perf-test workload has null keys), without headers, at consecutive offsets, with
    timestamps given as runs ``((timestamp_ms, records), ...)`` in record order (records appended at one virtual
    instant share one run).

    ``len()`` is the record count. There are no per-record rows: iterating or indexing raises
    :class:`CountedRecordsError`. Equal when all four fields are equal."""

    __slots__ = ("count", "key_bytes", "value_bytes", "timestamps")

    count: int
    key_bytes: int
    value_bytes: int
    timestamps: tuple[tuple[int, int], ...]

    def __init__(self, count: int, key_bytes: int, value_bytes: int,
                 timestamps: Sequence[tuple[int, int]]) -> None:
        for name, value, low in (("count", count, 1), ("key_bytes", key_bytes, -1), ("value_bytes", value_bytes, -1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"CountedRecords: {name} must be an int >= {low}, got {value!r}")
        runs = tuple((int(ts), int(n)) for ts, n in timestamps)
        if any(n < 1 for _, n in runs) or sum(n for _, n in runs) != count:
            raise ValueError(f"CountedRecords: timestamps must be (timestamp_ms, records >= 1) runs covering the "
                             f"{count} records, got {runs!r}")
        self.count = count
        self.key_bytes = key_bytes
        self.value_bytes = value_bytes
        self.timestamps = runs

    @property
    def max_timestamp_ms(self) -> int:
        return max(ts for ts, _ in self.timestamps)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return True

    def _refuse(self) -> CountedRecordsError:
        return CountedRecordsError(
            f"counted records ({self.count} records of {self.value_bytes}-byte values) have no per-record keys or "
            f"values to read; use their count, sizes and timestamps (consumer.poll_counts() reads counted batches)")

    def __iter__(self) -> Iterator[Row]:
        raise self._refuse()

    def __getitem__(self, index: Any) -> Row:
        raise self._refuse()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountedRecords):
            return NotImplemented
        return (self.count, self.key_bytes, self.value_bytes, self.timestamps) == \
            (other.count, other.key_bytes, other.value_bytes, other.timestamps)

    def __hash__(self) -> int:
        return hash((self.count, self.key_bytes, self.value_bytes, self.timestamps))

    def __repr__(self) -> str:
        return (f"CountedRecords(count={self.count}, key_bytes={self.key_bytes}, value_bytes={self.value_bytes}, "
                f"timestamps={self.timestamps!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (CountedRecords, (self.count, self.key_bytes, self.value_bytes, self.timestamps))


def is_counted(batch: RecordBatch) -> bool:
    """Whether ``batch`` is a counted batch (its ``rows`` are :class:`CountedRecords`)."""
    return type(batch.rows) is CountedRecords


def record_size_bytes(record: Record, offset_delta: int, timestamp_delta: int) -> int:
    """Bytes of one v2 record including its varint length prefix (``DefaultRecord.sizeInBytes``)."""
    body = 1 + size_of_varint(offset_delta) + size_of_varlong(timestamp_delta)
    body += _length_prefixed(value_size_bytes(record.key, "key"))
    body += _length_prefixed(value_size_bytes(record.value, "value"))
    body += size_of_varint(len(record.headers))
    for header_key, header_value in record.headers:
        if not isinstance(header_key, str):
            raise TypeError(f"header key must be str, got {type(header_key).__name__}")
        key_len = len(header_key.encode("utf-8"))
        body += size_of_varint(key_len) + key_len
        if header_value is not None and type(header_value) is not bytes:
            raise TypeError(f"header value must be bytes or None, got {type(header_value).__name__}")
        body += _length_prefixed(-1 if header_value is None else len(header_value))
    return body + size_of_varint(body)


def batch_size_upper_bound_bytes(key: bytes | None, value: bytes | None, headers: Sequence[Header] = ()) -> int:
    """What the producer assumes a batch holding just this record may take (Kafka's
    ``AbstractRecords.estimateSizeInBytesUpperBound`` for v2, ``DefaultRecordBatch.estimateBatchSizeUpperBound``):
    the batch header, the largest record overhead, and the key, value and headers with their length prefixes. It is
    13 to 17 bytes more than the true size; ``KafkaProducer`` compares it with ``max.request.size`` and
    ``buffer.memory``, and ``RecordAccumulator`` allocates at least this much for a new batch."""
    size = BATCH_OVERHEAD_BYTES + MAX_RECORD_OVERHEAD_BYTES
    size += _length_prefixed(-1 if key is None else len(key))
    size += _length_prefixed(-1 if value is None else len(value))
    size += size_of_varint(len(headers))
    for header_key, header_value in headers:
        key_len = len(header_key.encode("utf-8"))
        size += size_of_varint(key_len) + key_len + _length_prefixed(-1 if header_value is None else len(header_value))
    return size


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """An immutable v2 record batch. ``base_offset == NO_OFFSET`` until a leader appends it.

    ``offset_deltas`` is None for a batch whose records sit at consecutive offsets (every batch a producer builds);
    the log cleaner sets it when it removes records, so surviving records keep their offsets.
    ``size_bytes``, ``max_timestamp_ms`` and ``last_offset_delta`` are computed once, at construction.
    """

    #: the records, by column (a sequence of (key, value, timestamp_ms, headers) rows); the constructor also takes a
    #: tuple of such rows or of :class:`Record` values, and converts it (so a stored batch's ``rows`` is a
    #: :class:`RecordColumns`; :attr:`columns` says so to a type checker), or :class:`CountedRecords`, kept as they are
    rows: Sequence[Any]
    base_offset: int = NO_OFFSET
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    base_sequence: int = NO_SEQUENCE
    is_control: bool = False
    is_transactional: bool = False
    offset_deltas: tuple[int, ...] | None = None
    delete_horizon_ms: int | None = None
    #: the original batch's last offset delta; the cleaner keeps it when it removes the last record
    original_last_offset_delta: int | None = None
    size_bytes: int = field(init=False, compare=False, repr=False)
    max_timestamp_ms: int = field(init=False, compare=False, repr=False)
    last_offset_delta: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        rows = self.rows
        if type(rows) is not RecordColumns:
            if type(rows) is CountedRecords:
                self._init_counted(rows)
                return
            rows = RecordColumns.of(rows)
            object.__setattr__(self, "rows", rows)
        records = rows
        deltas = self.offset_deltas
        if deltas is not None and len(deltas) != len(records):
            raise ValueError(f"offset_deltas has {len(deltas)} entries for {len(records)} records")
        base_ts = self.delete_horizon_ms
        if base_ts is None:
            base_ts = records.timestamps[0] if records else 0
        size = BATCH_OVERHEAD_BYTES
        max_ts = -1
        for i, (key, value, ts, headers) in enumerate(records):
            if ts > max_ts:
                max_ts = ts
            if headers or type(key) is not bytes or type(value) is not bytes:
                size += record_size_bytes(Record(key, value, ts, headers), i if deltas is None else deltas[i],
                                          ts - base_ts)
                continue
            # Fast path (the common record: bytes key and value, no headers), same arithmetic as record_size_bytes.
            delta = i if deltas is None else deltas[i]
            ts_delta = ts - base_ts
            k, v = len(key), len(value)
            body = (4 + k + v  # attributes, key length, value length, header count (all 1 byte when small)
                    + (1 if delta < 64 else size_of_varint(delta))
                    + (1 if -64 <= ts_delta < 64 else size_of_varlong(ts_delta))
                    + (0 if k < 64 else size_of_varint(k) - 1)
                    + (0 if v < 64 else size_of_varint(v) - 1))
            size += body + (1 if body < 64 else size_of_varint(body))
        if self.original_last_offset_delta is not None:
            last_delta = self.original_last_offset_delta
        elif deltas is None:
            last_delta = len(records) - 1
        else:
            last_delta = deltas[-1] if deltas else -1
        object.__setattr__(self, "size_bytes", size)
        object.__setattr__(self, "max_timestamp_ms", max_ts)
        object.__setattr__(self, "last_offset_delta", last_delta)

    def _init_counted(self, rows: CountedRecords) -> None:
        if self.offset_deltas is not None or self.original_last_offset_delta is not None:
            raise ValueError("a counted batch has its records at consecutive offsets: offset_deltas and "
                             "original_last_offset_delta must be None")
        if self.is_control:
            raise ValueError("a control batch cannot hold counted records")
        object.__setattr__(self, "size_bytes", counted_size_bytes(rows.count, rows.key_bytes, rows.value_bytes,
                                                                  rows.timestamps, self.delete_horizon_ms))
        object.__setattr__(self, "max_timestamp_ms", rows.max_timestamp_ms)
        object.__setattr__(self, "last_offset_delta", rows.count - 1)

    @classmethod
    def of(cls, records: Iterable[Record], **fields: Any) -> RecordBatch:
        """A batch from any iterable of records (a convenience for ``RecordBatch(tuple(records), ...)``)."""
        return cls(tuple(records), **fields)

    @property
    def columns(self) -> RecordColumns:
        """``rows`` as what it is: the records by column (keys, values, timestamps, headers); for a counted batch,
        its :class:`CountedRecords` (check with :func:`is_counted` first where both may come)."""
        return self.rows  # type: ignore[return-value]

    @property
    def records(self) -> tuple[Record, ...]:
        """The records as :class:`Record` values (built on each access; hot paths read ``rows``)."""
        return tuple(map(_record, self.rows))

    @property
    def last_offset(self) -> int:
        """Offset of the batch's last record (for a rewritten batch: of the original last record)."""
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def record_count(self) -> int:
        rows = self.rows
        return len(rows.keys) if type(rows) is RecordColumns else len(rows)

    def offsets(self) -> Sequence[int]:
        """The offset of each record, in order."""
        base = self.base_offset
        if self.offset_deltas is None:
            return range(base, base + self.record_count)
        return [base + d for d in self.offset_deltas]

    def with_offset(self, base_offset: int, partition_leader_epoch: int) -> RecordBatch:
        """The leader's copy: same records, offsets and epoch assigned. Size is recomputed once."""
        return _replace_offset(self, base_offset, partition_leader_epoch)


def _replace_offset(batch: RecordBatch, base_offset: int, epoch: int) -> RecordBatch:
    # Offsets do not enter the size (only deltas do), so the cached fields can be copied instead of recomputed.
    new = object.__new__(RecordBatch)
    for name in RecordBatch.__slots__:  # type: ignore[attr-defined]
        object.__setattr__(new, name, getattr(batch, name))
    object.__setattr__(new, "base_offset", base_offset)
    object.__setattr__(new, "partition_leader_epoch", epoch)
    return new


#: Control record types (Kafka's ``ControlRecordType``): the key of a transaction marker is (version 0, type).
ABORT_MARKER = 0
COMMIT_MARKER = 1
_MARKER_KEYS = {ABORT_MARKER: b"\x00\x00\x00\x00", COMMIT_MARKER: b"\x00\x00\x00\x01"}


def control_batch(marker: int, producer_id: int, producer_epoch: int, coordinator_epoch: int,
                  timestamp_ms: int) -> RecordBatch:
    """A transaction marker (KIP-98): a control batch of one record whose key is (version 0, ``marker``) and whose
    value is ``EndTransactionMarker`` (version 0, the coordinator epoch), 4 + 6 bytes as in Kafka."""
    if marker not in _MARKER_KEYS:
        raise ValueError(f"marker must be ABORT_MARKER (0) or COMMIT_MARKER (1), got {marker!r}")
    value = b"\x00\x00" + (coordinator_epoch & 0xFFFFFFFF).to_bytes(4, "big")
    return RecordBatch(((_MARKER_KEYS[marker], value, timestamp_ms, ()),), producer_id=producer_id,
                       producer_epoch=producer_epoch, is_control=True, is_transactional=True)


def control_type(batch: RecordBatch) -> int:
    """``COMMIT_MARKER`` or ``ABORT_MARKER`` of a control batch (its first record's key)."""
    key = batch.rows[0][0]
    return int.from_bytes(key[2:4], "big")

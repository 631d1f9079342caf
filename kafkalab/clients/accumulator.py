"""The producer's record accumulator: per-partition queues of batches waiting to be sent (Kafka's ``RecordAccumulator``).

How it works. ``send()`` appends a record to the last open batch of its partition's queue. A batch takes records while
its v2 size stays within ``batch.size`` (its first record always fits, so one oversized record makes one oversized
batch, as Kafka's ``MemoryRecordsBuilder.hasRoomFor`` allows); the record that does not fit closes it and opens the
next. The size is kept incrementally with the v2 record sizing of :mod:`kafkalab.common.records` (varint length, offset
and timestamp deltas, key, value, headers), so an append never re-measures its batch; :meth:`ProducerBatch.build`
stamps that size on the frozen :class:`~kafkalab.common.records.RecordBatch` without measuring again (a test checks the two
agree).

A queue's first batch is *ready* when it is full (another batch queues behind it), when it has waited ``linger.ms``
(``retry.backoff`` for a retried batch), or while the producer flushes, closes, or waits for buffer memory. A broker
is ready when one of the partitions it leads has a ready batch; the sender then *drains* up to one batch per
partition it leads into one produce request of at most ``max.request.size`` bytes, rotating the partition it starts
from so no partition starves (``RecordAccumulator.ready``/``drain``).

Memory: each batch holds ``max(batch.size, its first record)`` bytes of ``buffer.memory`` from creation to completion
(Kafka's ``BufferPool`` hands out ``batch.size`` chunks). When none is left, ``append`` raises :class:`NeedMemory`
and the producer blocks (drives the simulation) for up to ``max.block.ms``.

Counted batches (issue 14's sizing workload, :meth:`RecordAccumulator.append_counted`): a run of ``n`` keyless
records of ``v`` value bytes is appended a batch at a time. The batch keeps a :class:`CountedRows` (a count and
timestamp runs) instead of row tuples and is built into a :class:`~kafkalab.common.records.CountedRecords` batch. Its
size grows by exactly what the same records would add one by one (the v2 record size is constant between two
offset-delta varint widths, so a run is sized per width, not per record), and each step stops where the loop of
per-record appends would have done more than append (the batch is full, the next record does not fit, or the caller's
``stop_bytes``: the sticky partitioner's switch), so batches, sizes and timing are those of the per-record path. An open
counted batch is ``closed`` to real records (a real record opens a batch behind it, which makes it ready, as a full
batch is) while ``counted_open`` lets counted runs join it; a counted run likewise closes an open batch of real
records and starts its own (the one place the two paths differ: a batch never mixes them).

Delivery timeout: a batch still queued ``delivery.timeout.ms`` after its creation expires (``expiredBatches``).
"""
from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from kafkalab.clients.futures import DeliveryCallback, FutureRecordMetadata
from kafkalab.common.records import (
    BATCH_OVERHEAD_BYTES,
    MAX_RECORD_OVERHEAD_BYTES,
    CountedRecords,
    Header,
    Record,
    RecordBatch,
    RecordColumns,
    Row,
    batch_size_upper_bound_bytes,
    record_size_bytes,
    size_of_varint,
    size_of_varlong,
)
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.types import RecordMetadata

if TYPE_CHECKING:
    from kafkalab.clients.futures import _Waiter

__all__ = ["ProducerBatch", "RecordAccumulator", "NeedMemory", "estimate_record_size", "CountedRows",
           "counted_record_fields", "counted_upper_bound_bytes"]

NodeId = Hashable

_SMALL = 1 << 14
#: varint sizes of 0.._SMALL-1 (zigzag of a non-negative n is 2n), looked up instead of computed on the hot path.
_VARINT = [size_of_varint(i) for i in range(_SMALL)]
_TEMPLATE = RecordBatch(())
_BUILT = ("rows", "producer_id", "producer_epoch", "base_sequence", "size_bytes", "max_timestamp_ms",
          "last_offset_delta")
#: Every other field of a fresh batch, copied from an empty one (so a field added to RecordBatch gets its default).
_DEFAULTS = tuple((name, getattr(_TEMPLATE, name)) for name in RecordBatch.__slots__  # type: ignore[attr-defined]
                  if name not in _BUILT)


class NeedMemory(Exception):
    """``buffer.memory`` has fewer than ``size_bytes`` free: the producer must wait (or give up after max.block.ms)."""

    def __init__(self, size_bytes: int) -> None:
        super().__init__(size_bytes)
        self.size_bytes = size_bytes


def estimate_record_size(key: bytes | None, value: bytes | None, headers: tuple[Header, ...]) -> int:
    """Bytes the producer assumes a batch holding only this record may take (Kafka's
    ``estimateSizeInBytesUpperBound`` for v2: :func:`~kafkalab.common.records.batch_size_upper_bound_bytes`)."""
    return batch_size_upper_bound_bytes(key, value, headers)


class CountedRows:
    """The records of a counted producer batch while it fills: a count and (timestamp, records) runs."""

    __slots__ = ("count", "value_bytes", "runs")

    def __init__(self, value_bytes: int) -> None:
        self.count = 0
        self.value_bytes = value_bytes
        self.runs: list[list[int]] = []

    def add(self, timestamp_ms: int, n: int) -> None:
        runs = self.runs
        if runs and runs[-1][0] == timestamp_ms:
            runs[-1][1] += n
        else:
            runs.append([timestamp_ms, n])
        self.count += n

    def timestamp_at(self, index: int) -> int:
        for ts, n in self.runs:
            if index < n:
                return ts
            index -= n
        raise IndexError(f"record {index} of a counted batch of {self.count}")

    def freeze(self) -> CountedRecords:
        return CountedRecords(self.count, -1, self.value_bytes, [(ts, n) for ts, n in self.runs])

    def __len__(self) -> int:
        return self.count


def counted_record_fields(value_bytes: int) -> int:
    """Bytes of a keyless, header-less record's attributes, key length, value and header count."""
    return 3 + size_of_varint(value_bytes) + value_bytes


def counted_upper_bound_bytes(value_bytes: int) -> int:
    """:func:`~kafkalab.common.records.batch_size_upper_bound_bytes` of a keyless record of ``value_bytes`` bytes."""
    return BATCH_OVERHEAD_BYTES + MAX_RECORD_OVERHEAD_BYTES + 2 + size_of_varint(value_bytes) + value_bytes


def _fit(n0: int, m: int, ts_width: int, fields: int, cap: int, stop_bytes: float) -> tuple[int, int]:
    """How many of ``m`` records appended at offset deltas ``n0``.. fit in ``cap`` bytes, stopping at the first
    record that brings their bytes to ``stop_bytes``; (records, bytes)."""
    k = 0
    added = 0
    at = n0
    while k < m:
        width = _VARINT[at] if at < _SMALL else size_of_varint(at)
        bound = 1 << (7 * width - 1)               # the first offset delta one varint byte wider
        piece = min(m - k, bound - at)
        body = fields + width + ts_width
        size = body + (_VARINT[body] if body < _SMALL else size_of_varint(body))
        take = min(piece, max(0, cap - added) // size)
        stop = stop_bytes - added <= take * size           # the stop is reached within these records
        if stop:
            take = max(0, math.ceil((stop_bytes - added) / size))
        k += take
        added += take * size
        at += take
        if stop or take < piece:
            break
    return k, added


class ProducerBatch:
    """Records of one partition travelling together, from the first append to the final answer."""

    __slots__ = ("tp", "records", "ops", "callbacks", "size_bytes", "base_ts", "max_ts", "created_ms", "closed",
                 "done", "error", "base_offset", "log_append_time_ms", "attempts", "retry_at_ms", "last_attempt_ms",
                 "base_sequence", "producer_id", "producer_epoch", "built", "maybe_written", "memory_bytes",
                 "in_flight", "seq_id", "retry_leader_epoch", "sequence_reset", "counted_open")

    def __init__(self, tp: TopicPartition, created_ms: float, base_ts: int, memory_bytes: int, seq_id: int) -> None:
        self.tp = tp
        self.records: list[Row] = []        # plain (key, value, timestamp_ms, headers) tuples
        self.ops = array("q")          # history operation ids (an int array: nothing for the collector to walk)
        self.callbacks: list[tuple[int, DeliveryCallback]] | None = None
        self.size_bytes = BATCH_OVERHEAD_BYTES
        self.base_ts = base_ts
        self.max_ts = -1
        self.created_ms = created_ms
        self.closed = False
        self.done = False
        self.error: BaseException | None = None
        self.base_offset = -1
        self.log_append_time_ms = -1
        self.attempts = 0
        self.retry_at_ms = 0.0
        self.retry_leader_epoch = -1       # the partition's leader epoch when the batch was put back for a retry
        self.last_attempt_ms = created_ms
        self.base_sequence = -1
        self.producer_id = -1
        self.producer_epoch = -1
        self.built: RecordBatch | None = None
        self.maybe_written = False          # an attempt ended without an answer: the records may be in the log
        self.memory_bytes = memory_bytes
        self.in_flight = False
        self.seq_id = seq_id                # creation order, for deterministic ordering
        self.sequence_reset = False         # its sequence moved down after an earlier batch failed (transactions)
        self.counted_open = False           # a counted batch that counted runs may still join (closed to records)

    @property
    def record_count(self) -> int:
        return len(self.records)

    def metadata(self, index: int) -> RecordMetadata:
        offset = self.base_offset + index if self.base_offset >= 0 else -1
        if self.log_append_time_ms >= 0:
            ts = self.log_append_time_ms
        else:
            records = self.records
            if type(records) is RecordColumns:
                ts = records.timestamps[index]
            elif type(records) is CountedRows:
                ts = records.timestamp_at(index)
            else:
                ts = records[index][2]
        return RecordMetadata(self.tp[0], self.tp[1], offset, ts)

    def build(self, producer_id: int, producer_epoch: int, base_sequence: int) -> RecordBatch:
        """The wire batch (built once; again only when the producer id, epoch or sequence changed)."""
        built = self.built
        if (built is not None and built.producer_id == producer_id and built.producer_epoch == producer_epoch
                and built.base_sequence == base_sequence):
            return built
        batch = object.__new__(RecordBatch)
        setattr_ = object.__setattr__
        for name, value in _DEFAULTS:
            setattr_(batch, name, value)
        records = self.records
        if type(records) is CountedRows:
            batch = RecordBatch(records.freeze(), producer_id=producer_id, producer_epoch=producer_epoch,
                                base_sequence=base_sequence)
            self.built = batch
            return batch
        rows = records if type(records) is RecordColumns else RecordColumns.of_tuples(records)
        if self.closed:
            # No record joins a closed batch: share the wire batch's columns (what the history keeps of an
            # acknowledged batch), so the row tuples go, instead of a list the collector would walk while in flight.
            self.records = rows  # type: ignore[assignment]
        setattr_(batch, "rows", rows)
        setattr_(batch, "producer_id", producer_id)
        setattr_(batch, "producer_epoch", producer_epoch)
        setattr_(batch, "base_sequence", base_sequence)
        setattr_(batch, "size_bytes", self.size_bytes)
        setattr_(batch, "max_timestamp_ms", self.max_ts)
        setattr_(batch, "last_offset_delta", len(self.records) - 1)
        self.built = batch
        return batch

    def __repr__(self) -> str:
        state = "done" if self.done else ("in-flight" if self.in_flight else ("closed" if self.closed else "open"))
        return f"ProducerBatch({self.tp[0]}-{self.tp[1]}, {len(self.records)} records, {self.size_bytes} B, {state})"


class RecordAccumulator:
    """Per-partition batch queues with ``buffer.memory`` accounting."""

    def __init__(self, *, batch_size: int, linger_ms: float, buffer_memory: int, delivery_timeout_ms: float,
                 waiter: _Waiter, on_new_batch: Callable[[ProducerBatch], None],
                 on_batch_full: Callable[[ProducerBatch], None]) -> None:
        self.batch_size = max(batch_size, 1)
        self.linger_ms = linger_ms
        self.buffer_memory = buffer_memory
        self.available_memory = buffer_memory
        self.delivery_timeout_ms = delivery_timeout_ms
        self.waiter = waiter
        self.on_new_batch = on_new_batch
        self.on_batch_full = on_batch_full
        self.queues: dict[TopicPartition, deque[ProducerBatch]] = {}
        # The queues that may hold batches (a stale empty one is dropped when seen), so the sender's wake-ups cost
        # what is queued rather than every partition ever written (issue 14); visited in the order of ``queues``.
        self._queue_index: dict[TopicPartition, int] = {}
        self._active: dict[TopicPartition, None] = {}
        self._active_order: list[TopicPartition] | None = []
        self.incomplete: dict[ProducerBatch, None] = {}    # every batch not yet done, in creation order
        self.flushing = 0
        self.closing = False
        self.exhausted = False
        self.last_append_size = 0
        self.last_append_full = False
        self._batch_seq = 0
        self._drain_index: dict[NodeId, int] = {}

    # -- appending (the hot path) ---------------------------------------------------------------------------------
    def append(self, tp: TopicPartition, key: bytes | None, value: bytes | None, timestamp_ms: int,
               headers: tuple[Header, ...], op: int, callback: DeliveryCallback | None,
               now_ms: float) -> FutureRecordMetadata:
        """Append one record; its future. Raises :class:`NeedMemory` when a new batch finds no memory.

        The hot path of ``send()``: the common case (an open batch, no headers, small numbers) is inlined.
        """
        dq = self.queues.get(tp)
        if dq:
            batch = dq[-1]
            if not batch.closed:
                records = batch.records
                n = len(records)
                ts_delta = timestamp_ms - batch.base_ts
                if headers or n >= _SMALL or not 0 <= ts_delta < _SMALL:
                    size = self._record_size(-1 if key is None else len(key), -1 if value is None else len(value),
                                             n, ts_delta, headers, key, value)
                else:
                    body = 2 + _VARINT[n] + _VARINT[ts_delta]
                    if key is None:
                        body += 1
                    else:
                        klen = len(key)
                        body += (_VARINT[klen] if klen < _SMALL else size_of_varint(klen)) + klen
                    if value is None:
                        body += 1
                    else:
                        vlen = len(value)
                        body += (_VARINT[vlen] if vlen < _SMALL else size_of_varint(vlen)) + vlen
                    size = body + (_VARINT[body] if body < _SMALL else size_of_varint(body))
                total = batch.size_bytes + size
                if total <= self.batch_size:
                    records.append((key, value, timestamp_ms, headers))
                    batch.ops.append(op)
                    if callback is not None:
                        if batch.callbacks is None:
                            batch.callbacks = []
                        batch.callbacks.append((n, callback))
                    if timestamp_ms > batch.max_ts:
                        batch.max_ts = timestamp_ms
                    batch.size_bytes = total
                    self.last_append_size = size
                    if total == self.batch_size:
                        self._full(batch)
                    self.last_append_full = batch.closed
                    return FutureRecordMetadata(batch, n, self.waiter)
                self._full(batch)
        elif dq is None:
            dq = self._new_queue(tp)
        return self._append_to_new_batch(dq, tp, key, value, timestamp_ms, headers, op, callback, now_ms)

    def _full(self, batch: ProducerBatch) -> None:
        """Close a full batch. Its records become columns at once (nothing joins a closed batch), what the wire batch
        and the history keep: the row tuples go while the next batch fills, instead of piling up until a drain (a
        list of them the collector would walk; and short-lived rows among long-lived objects leave the allocator's
        pools of that size half empty, which peak RSS counts)."""
        batch.closed = True
        batch.records = RecordColumns.of_tuples(batch.records)  # type: ignore[assignment]
        self.on_batch_full(batch)

    def _append_to_new_batch(self, dq: deque[ProducerBatch], tp: TopicPartition, key: bytes | None,
                             value: bytes | None, timestamp_ms: int, headers: tuple[Header, ...], op: int,
                             callback: DeliveryCallback | None, now_ms: float) -> FutureRecordMetadata:
        size = self._record_size(-1 if key is None else len(key), -1 if value is None else len(value), 0, 0,
                                 headers, key, value)
        need = self.batch_size
        if BATCH_OVERHEAD_BYTES + MAX_RECORD_OVERHEAD_BYTES + size > need:
            # RecordAccumulator.append allocates max(batch.size, the record's upper-bound estimate)
            need = max(need, batch_size_upper_bound_bytes(key, value, headers))
        if need > self.available_memory:
            raise NeedMemory(need)
        if dq and dq[-1].counted_open:
            self._close_counted(dq[-1])         # a record never joins a counted batch: it is full for it
        self.available_memory -= need
        self._batch_seq += 1
        batch = ProducerBatch(tp, now_ms, timestamp_ms, need, self._batch_seq)
        dq.append(batch)
        if tp not in self._active:
            self._activate(tp)
        self.incomplete[batch] = None
        self.on_new_batch(batch)
        batch.records.append((key, value, timestamp_ms, headers))
        batch.ops.append(op)
        if callback is not None:
            batch.callbacks = [(0, callback)]
        batch.max_ts = timestamp_ms
        batch.size_bytes += size
        self.last_append_size = size
        if batch.size_bytes >= self.batch_size:
            self._full(batch)
        self.last_append_full = batch.closed
        return FutureRecordMetadata(batch, 0, self.waiter)

    @staticmethod
    def _record_size(klen: int, vlen: int, offset_delta: int, ts_delta: int, headers: tuple[Header, ...],
                     key: bytes | None, value: bytes | None) -> int:
        """``DefaultRecord.sizeInBytes``, with table lookups for the common small numbers."""
        if headers:
            return record_size_bytes(Record(key, value, ts_delta, headers), offset_delta, ts_delta)
        body = 2  # attributes byte + header count (0)
        body += _VARINT[offset_delta] if offset_delta < _SMALL else size_of_varint(offset_delta)
        body += _VARINT[ts_delta] if 0 <= ts_delta < _SMALL else size_of_varint_long(ts_delta)
        if klen < 0:
            body += 1
        else:
            body += (_VARINT[klen] if klen < _SMALL else size_of_varint(klen)) + klen
        if vlen < 0:
            body += 1
        else:
            body += (_VARINT[vlen] if vlen < _SMALL else size_of_varint(vlen)) + vlen
        return body + (_VARINT[body] if body < _SMALL else size_of_varint(body))

    # -- counted runs (issue 14's sizing workload) -----------------------------------------------------------------
    def append_counted(self, tp: TopicPartition, records: int, value_bytes: int, timestamp_ms: int, now_ms: float,
                       stop_bytes: float = float("inf")) -> tuple[ProducerBatch, int, int]:
        """Append up to ``records`` keyless records of ``value_bytes`` bytes to ``tp``'s open counted batch (or a new
        one): (the batch, records taken, bytes added). Takes at least one record, and stops where the per-record
        path would do more than append (see the module docstring) or once the records taken add ``stop_bytes``.
        Raises :class:`NeedMemory` when a new batch finds no memory (nothing changed then)."""
        dq = self.queues.get(tp)
        if dq is None:
            dq = self._new_queue(tp)
        fields = counted_record_fields(value_bytes)
        batch = dq[-1] if dq else None
        if batch is not None and batch.counted_open:
            rows: CountedRows = batch.records  # type: ignore[assignment]
            if rows.value_bytes == value_bytes:
                ts_delta = timestamp_ms - batch.base_ts
                ts_width = _VARINT[ts_delta] if 0 <= ts_delta < _SMALL else size_of_varlong(ts_delta)
                k, added = _fit(rows.count, records, ts_width, fields, self.batch_size - batch.size_bytes, stop_bytes)
                if k > 0:
                    self._add_counted(batch, rows, timestamp_ms, k, added)
                    return batch, k, added
            self._close_counted(batch)
        elif batch is not None and not batch.closed:
            self._full(batch)            # a counted run never joins a batch of records: it starts its own
        first = fields + 2                               # offset delta 0 and timestamp delta 0: one byte each
        first += _VARINT[first] if first < _SMALL else size_of_varint(first)
        need = self.batch_size
        if BATCH_OVERHEAD_BYTES + MAX_RECORD_OVERHEAD_BYTES + first > need:
            need = max(need, counted_upper_bound_bytes(value_bytes))
        if need > self.available_memory:
            raise NeedMemory(need)
        self.available_memory -= need
        self._batch_seq += 1
        batch = ProducerBatch(tp, now_ms, timestamp_ms, need, self._batch_seq)
        rows = CountedRows(value_bytes)
        batch.records = rows  # type: ignore[assignment]
        batch.closed = True
        batch.counted_open = True
        dq.append(batch)
        if tp not in self._active:
            self._activate(tp)
        self.incomplete[batch] = None
        self.on_new_batch(batch)
        k, added = 1, first
        if records > 1 and stop_bytes > first:
            more, more_bytes = _fit(1, records - 1, 1, fields, self.batch_size - BATCH_OVERHEAD_BYTES - first,
                                    stop_bytes - first)
            k += more
            added += more_bytes
        self._add_counted(batch, rows, timestamp_ms, k, added)
        return batch, k, added

    def _add_counted(self, batch: ProducerBatch, rows: CountedRows, timestamp_ms: int, k: int, added: int) -> None:
        rows.add(timestamp_ms, k)
        if timestamp_ms > batch.max_ts:
            batch.max_ts = timestamp_ms
        batch.size_bytes += added
        self.last_append_size = added
        if batch.size_bytes >= self.batch_size:
            self._close_counted(batch)
        self.last_append_full = not batch.counted_open

    def _close_counted(self, batch: ProducerBatch) -> None:
        batch.counted_open = False
        self.on_batch_full(batch)

    def _new_queue(self, tp: TopicPartition) -> deque[ProducerBatch]:
        dq: deque[ProducerBatch] = deque()
        self.queues[tp] = dq
        self._queue_index[tp] = len(self._queue_index)
        return dq

    def _activate(self, tp: TopicPartition) -> None:
        self._active[tp] = None
        self._active_order = None

    def active(self) -> list[TopicPartition]:
        """The partitions whose queues may hold batches, in the order of :attr:`queues` (some may be empty)."""
        order = self._active_order
        if order is None:
            index = self._queue_index
            order = self._active_order = sorted(self._active, key=index.__getitem__)
        return order

    def _forget_empty(self) -> None:
        queues = self.queues
        order = self.active()
        kept = [tp for tp in order if queues[tp]]
        if len(kept) != len(order):
            self._active = dict.fromkeys(kept)
            self._active_order = kept

    def release(self, batch: ProducerBatch) -> None:
        """The batch is done: give its memory back and forget it."""
        self.available_memory += batch.memory_bytes
        batch.memory_bytes = 0
        self.incomplete.pop(batch, None)

    # -- the sender's side -----------------------------------------------------------------------------------------
    def has_queued(self) -> bool:
        queues = self.queues
        return any(queues[tp] for tp in self._active)

    def ready(self, leader_of: Callable[[TopicPartition], NodeId | None], now_ms: float,
              epoch_of: Callable[[TopicPartition], int] | None = None
              ) -> tuple[dict[NodeId, list[TopicPartition]], float, dict[str, None]]:
        """Brokers with something to send (and, per broker, its partitions with queued batches), the time until the
        next batch may become ready, and topics whose leaders are unknown."""
        nodes: dict[NodeId, list[TopicPartition]] = {}
        ready_nodes: dict[NodeId, None] = {}
        unknown: dict[str, None] = {}
        next_check = float("inf")
        force = self.flushing > 0 or self.closing or self.exhausted
        linger = self.linger_ms
        queues = self.queues
        empty = False
        for tp in self.active():
            dq = queues[tp]
            if not dq:
                empty = True
                continue
            leader = leader_of(tp)
            if leader is None:
                unknown[tp[0]] = None
                continue
            tps = nodes.get(leader)
            if tps is None:
                nodes[leader] = [tp]
            else:
                tps.append(tp)
            first = dq[0]
            if first.attempts > 0 and first.retry_at_ms > now_ms and not _leader_changed(first, epoch_of):
                next_check = min(next_check, first.retry_at_ms - now_ms)
                continue
            if force or (first.closed and not first.counted_open) or len(dq) > 1:
                ready_nodes[leader] = None
                continue
            wait = first.created_ms + linger - now_ms
            if wait <= 0:
                ready_nodes[leader] = None
            elif wait < next_check:
                next_check = wait
        if empty:
            self._forget_empty()
        return {n: nodes[n] for n in ready_nodes}, next_check, unknown

    def drain(self, node: NodeId, tps: list[TopicPartition], max_request_size: int, now_ms: float,
              may_send: Callable[[ProducerBatch], bool],
              epoch_of: Callable[[TopicPartition], int] | None = None) -> list[ProducerBatch]:
        """Up to one batch per partition of ``node`` into one request of at most ``max_request_size`` bytes."""
        out: list[ProducerBatch] = []
        size = 0
        n = len(tps)
        start = self._drain_index.get(node, 0) % n
        for i in range(n):
            tp = tps[(start + i) % n]
            dq = self.queues.get(tp)
            if not dq:
                continue
            first = dq[0]
            if first.attempts > 0 and first.retry_at_ms > now_ms and not _leader_changed(first, epoch_of):
                continue
            if not may_send(first):
                continue
            if out and size + first.size_bytes > max_request_size:
                break
            dq.popleft()
            first.closed = True
            first.counted_open = False
            size += first.size_bytes
            out.append(first)
        self._drain_index[node] = start + 1
        return out

    def reenqueue(self, batch: ProducerBatch, by_sequence: bool) -> None:
        """Put a batch back for a retry: at the front, or (idempotence) in base-sequence order among retried batches,
        so sequences are resent in order (``insertInSequenceOrder``)."""
        dq = self.queues.get(batch.tp)
        if dq is None:
            dq = self._new_queue(batch.tp)
        if batch.tp not in self._active:
            self._activate(batch.tp)
        if not by_sequence or batch.base_sequence < 0:
            dq.appendleft(batch)
            return
        i = 0
        while i < len(dq) and 0 <= dq[i].base_sequence < batch.base_sequence:
            i += 1
        dq.insert(i, batch)

    def expired(self, now_ms: float) -> list[ProducerBatch]:
        """Queued batches past ``delivery.timeout.ms``, removed from their queues (oldest first per partition)."""
        out: list[ProducerBatch] = []
        limit = self.delivery_timeout_ms
        queues = self.queues
        for tp in self.active():
            dq = queues[tp]
            while dq and dq[0].created_ms + limit <= now_ms:
                out.append(dq.popleft())
        return out

    def next_expiry_ms(self) -> float:
        """When the oldest queued batch reaches its delivery timeout (virtual time), or inf."""
        oldest = float("inf")
        queues = self.queues
        for tp in self._active:
            dq = queues[tp]
            if dq and dq[0].created_ms < oldest:
                oldest = dq[0].created_ms
        return oldest + self.delivery_timeout_ms

    def queue_sizes(self, topic: str, partitions: list[int]) -> dict[int, int]:
        queues = self.queues
        out: dict[int, int] = {}
        for p in partitions:
            dq = queues.get(TopicPartition(topic, p))
            out[p] = len(dq) if dq else 0
        return out

    def abort_all(self) -> list[ProducerBatch]:
        """Every queued batch, removed (a producer closing without waiting)."""
        out: list[ProducerBatch] = []
        for dq in self.queues.values():
            out.extend(dq)
            dq.clear()
        return out


def size_of_varint_long(value: int) -> int:
    """``ByteUtils.sizeOfVarlong`` (timestamp deltas may be negative or beyond 32 bits)."""
    zigzag = (value << 1) ^ (value >> 63)
    return max(1, (zigzag.bit_length() + 6) // 7)


def _leader_changed(batch: ProducerBatch, epoch_of: Callable[[TopicPartition], int] | None) -> bool:
    """KIP-951 (Kafka 3.7+, ``RecordAccumulator.shouldBackoff``): a retried batch skips the rest of its backoff once
    the metadata names a newer leader epoch than the one it failed under."""
    return epoch_of is not None and batch.retry_leader_epoch >= 0 and epoch_of(batch.tp) > batch.retry_leader_epoch

"""Counted records through the real clients: ``KafkaProducer.send_counted`` and ``KafkaConsumer.poll_counts`` (issue 14).

How it works. ``kafka-producer-perf-test`` and the OpenMessaging Benchmark send keyless records of random bytes of a
fixed size, and only counts, sizes and times matter. :func:`send_counted` appends such a run of ``records`` records of
``record_bytes`` bytes to the producer's :class:`~kafkalab.clients.accumulator.RecordAccumulator` a batch at a time
(:meth:`~kafkalab.clients.accumulator.RecordAccumulator.append_counted`): the partition as ``send()`` chooses it
(KIP-794 sticky partitioning, or the ``partition`` given), ``batch.size``, ``linger.ms``, ``buffer.memory`` (blocking up
to ``max.block.ms``, driving the simulation), ``max.request.size`` and idempotence all as for ``send()``; every step
stops where the loop of ``send()`` would have switched partition or batch, so the batches, their sizes and the
simulation's events are those of that loop (a test checks the trace and the offsets). The batches travel as
:class:`~kafkalab.common.records.CountedRecords` through the broker, the log, replication and fetch sessions like any
other; the run returns one :class:`CountedFuture`.

:func:`collect_counts` is the consumer's side: what ``poll()`` would hand out, as one :class:`PartitionCounts` per
partition (records, bytes, offset range, timestamp runs) instead of one ``ConsumerRecord`` per record; it reads
counted and real batches alike, whole batches at a time (``max.poll.records`` does not cut them). Plain ``poll()`` on a
counted batch raises :class:`~kafkalab.common.records.CountedRecordsError`: it has no keys or values to hand out.

The history. Counted sends and counted polls are not recorded in ``cluster.history``: the checkers judge operations on
values, and counted records have none (this is the checker-free path of the sizing mode). A producer with a
``transactional.id`` refuses ``send_counted`` (a transaction's writes are what its checkers read).
"""
from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

from kafkalab.clients.accumulator import NeedMemory, ProducerBatch, counted_upper_bound_bytes
from kafkalab.clients.futures import check_send_target, check_timeout_ms
from kafkalab.clients.sender import Blocked
from kafkalab.common.records import CountedRecords, RecordColumns
from kafkalab.errors import ConfigError, InvalidTopicError, KafkaError, MessageTooLargeError

if TYPE_CHECKING:
    from kafkalab.clients.fetcher import ConsumerCore
    from kafkalab.clients.producer import KafkaProducer

__all__ = ["CountedMetadata", "CountedFuture", "CountedDeliveryCallback", "PartitionCounts", "send_counted",
           "collect_counts"]


@dataclass(frozen=True, slots=True)
class CountedMetadata:
    """The acknowledgement of part of a counted run: ``records`` records of ``topic``-``partition`` from ``offset``
    (-1 with acks=0) whose first record has ``timestamp_ms``."""

    topic: str
    partition: int
    offset: int
    records: int
    timestamp_ms: int


#: ``on_delivery(metadata, exception)`` per part of a run (one per batch it went into): exactly one is None.
CountedDeliveryCallback = Callable[[CountedMetadata | None, BaseException | None], None]


class CountedFuture:
    """The outcome of one ``send_counted`` run: the parts of it in each batch, in order.

    ``result(timeout_ms=None)`` drives the simulation until every part is acknowledged and returns their
    :class:`CountedMetadata` (in run order), or raises the first error. ``records`` is the run's size;
    :meth:`acknowledged` counts the records acknowledged so far."""

    __slots__ = ("topic", "records", "_parts", "_waiter", "_error", "_unsent")

    def __init__(self, topic: str, records: int, waiter: Any) -> None:
        self.topic = topic
        self.records = records
        self._parts: list[tuple[ProducerBatch, int, int]] = []
        self._waiter = waiter
        self._error: BaseException | None = None
        self._unsent = 0                      # records never appended (the run failed before them)

    def _fail_rest(self, error: BaseException, records: int) -> None:
        self._error = error
        self._unsent = records

    def done(self) -> bool:
        """Whether every part's outcome is known now (no simulation time passes)."""
        return all(batch.done for batch, _, _ in self._parts)

    def exception(self) -> BaseException | None:
        """The first error of the run (a part's batch failed, or the run stopped before appending the rest)."""
        for batch, _, _ in self._parts:
            if batch.done and batch.error is not None:
                return batch.error
        return self._error

    def acknowledged(self) -> int:
        """Records of the run acknowledged so far."""
        return sum(n for batch, _, n in self._parts if batch.done and batch.error is None)

    def result(self, timeout_ms: float | None = None) -> list[CountedMetadata]:
        """Drive the simulation until the run's outcome is known; the parts' metadata, or raise the first error."""
        check_timeout_ms(timeout_ms)
        if not self.done():
            self._waiter._wait(self.done, timeout_ms, "the counted send to complete")
        error = self.exception()
        if error is not None:
            raise error
        return [_metadata(batch, first, n) for batch, first, n in self._parts]

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"CountedFuture({self.topic!r}, {self.records} records, {len(self._parts)} parts, {state})"


def _metadata(batch: ProducerBatch, first: int, n: int) -> CountedMetadata:
    md = batch.metadata(first)
    return CountedMetadata(md.topic, md.partition, md.offset, n, md.timestamp_ms)


def _check(topic: Any, records: Any, record_bytes: Any, partition: Any, on_delivery: Any) -> None:
    check_send_target(topic, partition, on_delivery, "CountedMetadata, error")
    for name, value, low in (("records", records, 1), ("record_bytes", record_bytes, 0)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int >= {low}, got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def send_counted(producer: KafkaProducer, topic: str, records: int, record_bytes: int, partition: int | None = None,
                 on_delivery: CountedDeliveryCallback | None = None) -> CountedFuture:
    """``KafkaProducer.send_counted``: see the module docstring."""
    _check(topic, records, record_bytes, partition, on_delivery)
    core = producer._live_core()
    if core.txn is not None:
        raise ConfigError(f"send_counted() cannot run in a transaction (transactional.id={core.txn.transactional_id!r}): "
                          f"counted records have no values for a transaction's readers; use send(), or a producer "
                          f"without transactional.id", key="transactional.id", scope="producer",
                          value=core.txn.transactional_id)
    future = CountedFuture(topic, records, core)
    estimate = counted_upper_bound_bytes(record_bytes)
    error: KafkaError | None = None
    if estimate > core.max_request_size:
        error = MessageTooLargeError(
            f"The message is {estimate} bytes when serialized which is larger than {core.max_request_size}, which is "
            f"the value of the max.request.size configuration.")
    elif estimate > core.buffer_memory:
        error = MessageTooLargeError(
            f"The message is {estimate} bytes when serialized which is larger than the total memory buffer you have "
            f"configured with the buffer.memory configuration.")
    if error is not None:
        return _fail(core, future, error, records, on_delivery)
    port = core.port
    acc = core.accumulator
    max_block_ms = producer._max_block_ms
    remaining = records
    deadline: float | None = None
    while remaining > 0:
        try:
            tps = core._tps.get(topic)
            if tps is None or (partition is not None and partition >= len(tps)):
                tps = core._topic_partitions(topic, partition)
            now = port.now
            ts = int(now)
            sticky = None
            if partition is None:
                sticky = core._sticky_for(topic, len(tps))
                p = sticky.current(core._available.get(topic, ()))
                stop: float = 2 * sticky.sticky_batch_size - sticky._produced_bytes
            else:
                p = partition
                stop = float("inf")
            try:
                batch, taken, added = acc.append_counted(tps[p], remaining, record_bytes, ts, now, stop)
            except NeedMemory as need:
                core._wakeup_at(now)
                raise Blocked(functools.partial(_has_memory, acc, need.size_bytes),
                              functools.partial(core._buffer_error, need.size_bytes)) from None
        except Blocked as exc:
            blocked = exc
            # KafkaProducer._send_blocking's wait: up to max.block.ms for the record that found no room or metadata
            if deadline is None:
                deadline = port.now + max_block_ms
            producer._drives += 1
            wait_ms = deadline - port.now
            if wait_ms > 0:
                acc.exhausted = True
                try:
                    producer._drive(functools.partial(_unblocked, port, blocked.predicate), wait_ms)
                finally:
                    acc.exhausted = False
            if not port.alive:
                return _fail(core, future, core._crashed_error("metadata or buffer memory"), remaining, on_delivery)
            if not blocked.predicate():
                return _fail(core, future, blocked.error(max_block_ms), remaining, on_delivery)
            continue
        except InvalidTopicError as exc:
            return _fail(core, future, exc, remaining, on_delivery)
        deadline = None
        if sticky is not None:
            sticky.on_append(added, acc.last_append_full)
        first = len(batch.records) - taken
        future._parts.append((batch, first, taken))
        if on_delivery is not None:
            if batch.callbacks is None:
                batch.callbacks = []
            batch.callbacks.append((first, _part_callback(on_delivery, taken)))
        remaining -= taken
    return future


def _has_memory(acc: Any, size: int) -> bool:
    return bool(acc.available_memory >= size)


def _unblocked(port: Any, predicate: Callable[[], bool]) -> bool:
    return not port.alive or predicate()


def _part_callback(on_delivery: CountedDeliveryCallback, n: int) -> Callable[[Any, BaseException | None], None]:
    def callback(metadata: Any, error: BaseException | None) -> None:
        if metadata is None:
            on_delivery(None, error)
        else:
            on_delivery(CountedMetadata(metadata.topic, metadata.partition, metadata.offset, n, metadata.timestamp_ms),
                        None)
    return callback


def _fail(core: Any, future: CountedFuture, error: KafkaError, records: int,
          on_delivery: CountedDeliveryCallback | None) -> CountedFuture:
    future._fail_rest(error, records)
    core._count_error(error)
    if on_delivery is not None:
        on_delivery(None, error)
    return future


# -- the consumer's side --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PartitionCounts:
    """What one ``poll_counts`` handed out of one partition: ``records`` records at offsets ``first_offset`` to
    ``last_offset`` (inclusive; a compacted batch may leave gaps), taking ``size_bytes`` bytes in their batches (the
    batch overhead included, shared out over a batch's records when only part of it was handed out), with
    timestamps as (timestamp_ms, records) runs in offset order."""

    topic: str
    partition: int
    records: int
    size_bytes: int
    first_offset: int
    last_offset: int
    timestamps: tuple[tuple[int, int], ...]


def _runs(stamps: Sequence[int]) -> list[tuple[int, int]]:
    return [(ts, sum(1 for _ in group)) for ts, group in groupby(stamps)]


def _slice_runs(runs: Sequence[tuple[int, int]], start: int, stop: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    at = 0
    for ts, n in runs:
        lo, hi = max(start, at), min(stop, at + n)
        if lo < hi:
            out.append((ts, hi - lo))
        at += n
    return out


def collect_counts(core: ConsumerCore) -> list[PartitionCounts]:
    """Everything buffered for the assigned partitions, counted (see the module docstring); advances positions as
    ``ConsumerCore.collect`` does. Whole batches (a batch the position is inside counts from the position)."""
    out: list[PartitionCounts] = []
    buffered = core._buffered
    if not buffered:
        return out
    assignment = core.assignment
    drained = False
    for tp in core._in_order(buffered):
        state = assignment.get(tp)
        if state is None or not state.has_buffered:
            buffered.pop(tp, None)
            continue
        if state.position is None or state.pending_revocation:
            continue
        position = state.position
        count = 0
        size = 0
        first = last = -1
        runs: list[tuple[int, int]] = []
        for batch in state.buffer[state.buffer_index:]:
            if batch.next_offset <= position:
                continue
            rows = batch.rows
            n = batch.record_count
            if type(rows) is CountedRecords or batch.offset_deltas is None:
                start = max(0, position - batch.base_offset)
                stop = n
                taken_offsets = (batch.base_offset + start, batch.base_offset + n - 1)
            else:
                offsets = batch.offsets()
                start = next((i for i, o in enumerate(offsets) if o >= position), n)
                stop = n
                taken_offsets = (offsets[start], offsets[-1]) if start < n else (-1, -1)
            position = batch.next_offset
            if start >= stop:
                continue
            if type(rows) is CountedRecords:
                batch_runs: Sequence[tuple[int, int]] = rows.timestamps
            else:
                batch_runs = _runs(rows.timestamps if type(rows) is RecordColumns else [r[2] for r in rows])
            runs.extend(batch_runs if start == 0 else _slice_runs(batch_runs, start, stop))
            taken = stop - start
            count += taken
            size += batch.size_bytes if start == 0 else batch.size_bytes * taken // n
            if first < 0:
                first = taken_offsets[0]
            last = taken_offsets[1]
        if state.fetched_end > position:
            position = state.fetched_end           # skipped markers or aborted batches at the end
        state.position = position
        state.clear_buffer()
        del buffered[tp]
        drained = True
        if count:
            merged: list[tuple[int, int]] = []
            for ts, n in runs:
                if merged and merged[-1][0] == ts:
                    merged[-1] = (ts, merged[-1][1] + n)
                else:
                    merged.append((ts, n))
            out.append(PartitionCounts(tp.topic, tp.partition, count, size, first, last, tuple(merged)))
    if drained:
        heap = [(i, t) for i, t in core._buffered_heap if t in buffered]
        heapq.heapify(heap)
        core._buffered_heap = heap
        core.wakeup()
    return out

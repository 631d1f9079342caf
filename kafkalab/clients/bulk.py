"""``KafkaProducer.send_many``'s bulk path: a run of records appended batch by batch, not record by record (issue 14).

How it works. ``send_many(topic, values, keys)`` must leave exactly what the loop of ``send()`` leaves: the same
batches, history rows, op ids, scheduled events and futures. For the records ``send()``'s one-frame common case takes
(bytes key and value, small enough, a live non-transactional producer that knows the topic) this module does the work
per batch:

1. Once per call, C-level passes (``map``, ``compress``) find the records the common case cannot take (a key or value
   that is not bytes, a size beyond the unchecked limit): :func:`plan_eligible`. Those go through ``send()``.
2. Per run of eligible records: their partitions in one pass over the key cache (a key not cached yet gets
   ``partition_for_key`` and enters the cache, as ``ProducerCore.try_send`` would do for it), the records grouped per
   partition into a :class:`_Lane` (a stable sort in numpy), and per lane the running sums of the v2 record sizes
   (``DefaultRecord.sizeInBytes``; the offset-delta and timestamp-delta varints depend on the record's place in its
   batch), so one binary search says how many of the lane's next records its open batch takes.
3. A lane's *event* is the record where the loop of ``send()`` would do more than append: the record that fills its
   batch to exactly ``batch.size`` (the batch closes after it, ``RecordAccumulator._full``), or the first record that
   does not fit or finds no open batch (the old batch closes and the record opens the next,
   ``RecordAccumulator._append_to_new_batch``). Events are handled in record order (a heap of the lanes' next events),
   so batches are created, numbered and announced to the sender in the loop's order; a lane's records up to its
   event are appended with one ``list.extend`` of a slice (``zip`` builds the row tuples) and one op-id array slice.
4. An event that must wait for ``buffer.memory`` (or one the fast sizing does not cover) goes through ``send()``
   itself, which blocks and runs the simulation. Before it, every record before it is appended and recorded in the
   history (``History.invoke_sends``; op ids are the history's next ids in record order), so the simulation sees
   exactly what the loop would have left. After it, every lane whose plan no longer holds (the sender took its
   batch, the clock moved) plans again.

The futures: :class:`BulkFutures` is a ``Sequence`` with one :class:`FutureRecordMetadata` per record, in order, built
on first access from per-batch segments (a batch, its first index, a count) instead of one object per record up
front; ``len`` needs nothing built. Each is the future ``send()`` would have returned: the same batch and index.
"""
from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import compress, count, repeat
from operator import is_, is_not, itemgetter
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from kafkalab.clients.accumulator import _SMALL, _VARINT, NeedMemory, ProducerBatch
from kafkalab.clients.futures import FutureRecordMetadata
from kafkalab.clients.partitioner import partition_for_key
from kafkalab.clients.sender import _KEY_CACHE_LIMIT
from kafkalab.common.records import size_of_varint

if TYPE_CHECKING:
    from kafkalab.clients.futures import _Waiter
    from kafkalab.clients.producer import KafkaProducer
    from kafkalab.clients.sender import ProducerCore

__all__ = ["BulkFutures", "plan_eligible", "append_run"]

#: varint size of a record body (key and value each below _SMALL bytes keep a body below 2 * _SMALL + 64).
_VARINT_BODY = _VARINT + [size_of_varint(i) for i in range(_SMALL, 2 * _SMALL + 64)]
#: bytes a key or value of n bytes takes in a record: its length varint and itself.
_FIELD = [v + n for n, v in enumerate(_VARINT)]
_VARINT_BODY_NP = np.array(_VARINT_BODY, dtype=np.int64)
_FIELD_NP = np.array(_FIELD, dtype=np.int64)
_NEW, _FULL, _NO_ROOM, _SLOW = 0, 1, 2, 3


class BulkFutures(Sequence[FutureRecordMetadata]):
    """The futures of a ``send_many`` call, one per record in order, like the list the loop of ``send()`` builds.

    Built lazily: the records appended in bulk are kept as per-batch segments and become
    :class:`FutureRecordMetadata` objects (the same batch and index a ``send()`` future holds) the first time an item is
    read; ``len()`` builds nothing. Supports what a list of futures is used for: ``len``, indexing, slicing (a list),
    iteration, ``==`` with a list or another sequence."""

    __slots__ = ("_order", "_explicit", "_segments", "_list")

    def __init__(self) -> None:
        self._order: list[int] = []                      # per record: its lane's partition, or -1 (an explicit future)
        self._explicit: list[FutureRecordMetadata] = []
        self._segments: dict[int, list[tuple[ProducerBatch, int, int, _Waiter]]] = {}
        self._list: list[FutureRecordMetadata] | None = None

    def add(self, future: FutureRecordMetadata) -> None:
        self._order.append(-1)
        self._explicit.append(future)

    def _add_run(self, order: list[int]) -> None:
        self._order.extend(order)

    def _add_segment(self, partition: int, batch: ProducerBatch, first: int, n: int, waiter: _Waiter) -> None:
        segs = self._segments.get(partition)
        if segs is None:
            self._segments[partition] = [(batch, first, n, waiter)]
        else:
            segs.append((batch, first, n, waiter))

    def _materialize(self) -> list[FutureRecordMetadata]:
        built = self._list
        if built is None:
            explicit = iter(self._explicit)
            lanes = {p: _expand(segs) for p, segs in self._segments.items()}
            built = [next(explicit) if p < 0 else next(lanes[p]) for p in self._order]
            self._list = built
            self._order = []
            self._segments = {}
        return built

    def __len__(self) -> int:
        built = self._list
        return len(self._order) if built is None else len(built)

    @overload
    def __getitem__(self, index: int) -> FutureRecordMetadata: ...

    @overload
    def __getitem__(self, index: slice) -> list[FutureRecordMetadata]: ...

    def __getitem__(self, index: int | slice) -> FutureRecordMetadata | list[FutureRecordMetadata]:
        return self._materialize()[index]

    def __iter__(self) -> Iterator[FutureRecordMetadata]:
        return iter(self._materialize())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BulkFutures):
            other = other._materialize()
        if isinstance(other, list | tuple):
            return self._materialize() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BulkFutures({len(self)} futures)"


def _expand(segments: list[tuple[ProducerBatch, int, int, _Waiter]]) -> Iterator[FutureRecordMetadata]:
    for batch, first, n, waiter in segments:
        for index in range(first, first + n):
            yield FutureRecordMetadata(batch, index, waiter)


def plan_eligible(keys: list[Any], values: list[Any], limit: int) -> tuple[list[int], Any]:
    """The indices of records ``send()``'s common case cannot take (a key or value not bytes, a key or value of
    ``_SMALL`` bytes or more, key plus value beyond ``limit``), ascending; and every record's key and value bytes
    in a record (:data:`_FIELD` of each, a numpy int64 array; 0 for the records refused)."""
    bad: set[int] = set()
    if set(map(type, keys)) != {bytes}:
        bad.update(compress(count(), map(is_not, map(type, keys), repeat(bytes))))
    if set(map(type, values)) != {bytes}:
        bad.update(compress(count(), map(is_not, map(type, values), repeat(bytes))))
    if bad:
        keys = [k if type(k) is bytes else b"" for k in keys]
        values = [v if type(v) is bytes else b"" for v in values]
    klens = np.array(list(map(len, keys)), dtype=np.int64)
    vlens = np.array(list(map(len, values)), dtype=np.int64)
    if len(klens):
        too_big = (klens >= _SMALL) | (vlens >= _SMALL) | (klens + vlens > limit)
        if too_big.any():
            bad.update(np.flatnonzero(too_big).tolist())
            klens[too_big] = 0
            vlens[too_big] = 0
    return sorted(bad), _FIELD_NP[klens] + _FIELD_NP[vlens]


class _Lane:
    """One partition's records of a run (``idx`` their indices in the call, ``ops`` their op ids), how many of them
    are in a batch (``q``), and the plan for its open batch: the batch, where the plan began (``q0``, ``n0`` records
    and ``size0`` bytes in the batch then) and the next event (``event`` in the call, ``pos`` in the lane, ``kind``).

    Record sizes: a record's v2 size depends on its key and value (``kvs``) and on two varints, its offset delta
    (1 byte below 64 records, 2 below 8,192) and its timestamp delta; ``_sums(t)`` holds the running sums of the
    lane's record sizes for both offset-delta widths and a timestamp-delta varint of ``t`` bytes, so a plan is a
    binary search (``searchsorted``) and a batch's size after ``m`` more records two look-ups."""

    __slots__ = ("partition", "tp", "base", "count", "idx", "keys", "values", "kvs", "ops", "q", "batch", "q0",
                 "size0", "n0", "small", "ts_varint", "sums", "event", "pos", "kind", "_sums_by_ts")

    def __init__(self, partition: int, tp: Any, base: int, n: int, idx: list[int], keys: Sequence[Any],
                 values: Sequence[Any], kvs: Any, ops: array[int]) -> None:
        self.partition = partition
        self.tp = tp
        self.base = base                    # the lane's records are base..base + count - 1 of the shared lists
        self.count = n
        self.idx = idx                      # shared, grouped by partition: each record's index in the call
        self.keys = keys
        self.values = values
        self.kvs = kvs                      # this lane's: key and value bytes in the record (numpy int64)
        self.ops = ops
        self.q = 0                          # records of the lane in a batch (or planned into one and flushed)
        self.batch: ProducerBatch | None = None
        self.q0 = 0
        self.size0 = 0
        self.n0 = 0
        self.small = 0                      # records of the plan with a 1-byte offset delta
        self.ts_varint = 0
        self.sums: tuple[Any, Any] = (None, None)
        self.event = 0
        self.pos = 0
        self.kind = _NEW
        self._sums_by_ts: dict[int, tuple[Any, Any]] = {}

    def _sums(self, ts_varint: int) -> tuple[Any, Any]:
        sums = self._sums_by_ts.get(ts_varint)
        if sums is None:
            kvs = self.kvs
            out = []
            for offset_varint in (1, 2):
                bodies = kvs + (2 + offset_varint + ts_varint)
                running = np.zeros(len(kvs) + 1, dtype=np.int64)
                np.cumsum(bodies + _VARINT_BODY_NP[bodies], out=running[1:])
                out.append(running)
            sums = self._sums_by_ts[ts_varint] = (out[0], out[1])
        return sums

    def added(self, m: int) -> int:
        """Bytes the plan's first ``m`` records add to the batch."""
        small_sums, big_sums = self.sums
        q0 = self.q0
        small = self.small
        if m <= small:
            return int(small_sums[q0 + m] - small_sums[q0])
        return int(small_sums[q0 + small] - small_sums[q0] + big_sums[q0 + m] - big_sums[q0 + small])

    def plan(self, queues: Any, batch_size: int, ts: int, end: int) -> None:
        """Where this lane's next event is, for its partition's open batch as it is now."""
        q = self.q
        idx = self.idx
        left = self.count - q
        self.batch = None
        if left <= 0:
            self.event = end
            return
        self.event = idx[self.base + q]
        self.pos = q
        self.kind = _NEW
        dq = queues.get(self.tp)
        batch = dq[-1] if dq else None
        if batch is None or batch.closed:
            return
        n0 = len(batch.records)
        ts_delta = ts - batch.base_ts
        if n0 + left >= 8192 or not 0 <= ts_delta < _SMALL:
            self.kind = _SLOW          # 3-byte offset deltas or a batch open for 16 s: send() sizes them
            return
        cap = batch_size - batch.size_bytes
        ts_varint = _VARINT[ts_delta]
        small_sums, big_sums = sums = self._sums(ts_varint)
        small = min(left, max(0, 64 - n0))
        base = int(small_sums[q])
        small_total = int(small_sums[q + small]) - base
        if small_total > cap:
            k = int(small_sums.searchsorted(base + cap, "right")) - 1 - q
            total = int(small_sums[q + k]) - base
        else:
            big_base = int(big_sums[q + small])
            j = int(big_sums.searchsorted(big_base + cap - small_total, "right")) - 1
            j = min(j, q + left)
            k = j - q
            total = small_total + int(big_sums[j]) - big_base
        self.batch = batch
        self.q0 = q
        self.size0 = batch.size_bytes
        self.n0 = n0
        self.small = small
        self.ts_varint = ts_varint
        self.sums = sums
        if k > 0 and total == cap:
            self.pos = q + k - 1
            self.kind = _FULL
        elif k < left:
            self.pos = q + k
            self.kind = _NO_ROOM
        else:
            self.event = end
            return
        self.event = idx[self.base + self.pos]

    def holds(self, queues: Any, ts: int) -> bool:
        """Whether the plan still describes the partition's open batch (after the simulation ran)."""
        batch = self.batch
        if batch is None:
            dq = queues.get(self.tp)
            return self.kind != _NEW or not dq or dq[-1].closed
        dq = queues.get(self.tp)
        q = self.q
        return (bool(dq) and dq[-1] is batch and not batch.closed and len(batch.records) == self.n0 + q - self.q0
                and batch.size_bytes == self.size0 + self.added(q - self.q0)
                and 0 <= ts - batch.base_ts < _SMALL and _VARINT[ts - batch.base_ts] == self.ts_varint)

    def flush(self, stop: int, ts: int, out: BulkFutures, waiter: Any) -> None:
        """Append the lane's records ``q``..``stop - 1`` to the planned batch (they fit: :meth:`plan`)."""
        q = self.q
        n = stop - q
        if n <= 0:
            return
        batch = self.batch
        assert batch is not None
        records = batch.records
        first = len(records)
        max_ts = batch.max_ts
        record_ts = ts
        if ts > max_ts:
            batch.max_ts = ts
        elif ts == max_ts:
            record_ts = max_ts        # the same int object: 28 bytes less per retained record
        lo = self.base + q
        hi = self.base + stop
        records.extend(zip(self.keys[lo:hi], self.values[lo:hi], repeat(record_ts, n), repeat((), n), strict=True))
        batch.ops.extend(self.ops[lo:hi])
        batch.size_bytes = self.size0 + self.added(stop - self.q0)
        out._add_segment(self.partition, batch, first, n, waiter)
        self.q = stop


def _lanes(parts: Any, start: int, tps: list[Any], keys: list[Any], values: list[Any], kvs: Any,
           op_first: int | None) -> dict[int, _Lane]:
    """The run's records grouped per partition, in order (a stable sort by partition, in numpy); the lanes share
    the grouped lists."""
    n = len(parts)
    order = np.argsort(parts, kind="stable")
    counts = np.bincount(parts)
    positions = order.tolist()
    sorted_keys: Sequence[Any]
    sorted_values: Sequence[Any]
    if n > 1:
        gather = itemgetter(*positions)             # a tuple of the items, in C
        sorted_keys = gather(keys[start:start + n])
        sorted_values = gather(values[start:start + n])
    else:
        sorted_keys = keys[start:start + n]
        sorted_values = values[start:start + n]
    sorted_kvs = kvs[start:start + n][order]
    absolute = order + start
    ops = array("q")
    ops.frombytes(np.full(n, -1, dtype=np.int64).tobytes() if op_first is None
                  else (absolute + (op_first - start)).astype(np.int64).tobytes())
    idx = absolute.tolist()
    lanes: dict[int, _Lane] = {}
    a = 0
    for p, c in enumerate(counts.tolist()):
        if c:
            lanes[p] = _Lane(p, tps[p], a, c, idx, sorted_keys, sorted_values, sorted_kvs[a:a + c], ops)
            a += c
    return lanes


def append_run(producer: KafkaProducer, core: ProducerCore, topic: str, keys: list[Any], values: list[Any],
               start: int, end: int, kvs: Any, out: BulkFutures) -> int:
    """Append records ``start``..``end - 1`` (all eligible: :func:`plan_eligible`) as the loop of ``send()`` would;
    their futures go to ``out``. Returns the index of the first record not taken (``end`` unless the producer
    crashed, closed or its view of the topic changed while a ``send()`` blocked)."""
    port = core.port
    tps = core._tps.get(topic)
    cache = core._key_cache.get(topic)
    if tps is None or cache is None:
        return start
    acc = core.accumulator
    queues = acc.queues
    batch_size = acc.batch_size
    waiter = acc.waiter
    history = producer.history
    node_id = producer.node_id
    run_keys = keys[start:end]
    found: list[Any] = list(map(cache.get, run_keys))
    try:
        parts = np.array(found, dtype=np.int64)
    except TypeError:                      # keys not in the cache yet
        n_parts = len(tps)
        for j in list(compress(count(), map(is_, found, repeat(None)))):
            key = run_keys[j]
            p = cache.get(key)
            if p is None:      # ProducerCore.try_send's cache fill, ahead of the record
                if len(cache) >= _KEY_CACHE_LIMIT:
                    cache.clear()
                p = cache[key] = partition_for_key(key, n_parts)
            found[j] = p
        parts = np.array(found, dtype=np.int64)
    op_first = history.next_op_id if history is not None else None
    lanes = _lanes(parts, start, tps, keys, values, kvs, op_first)
    now = port.now
    ts = int(now)
    for lane in lanes.values():
        lane.plan(queues, batch_size, ts, end)
    heap = [(lane.event, p) for p, lane in lanes.items() if lane.event < end]
    heapq.heapify(heap)
    recorded = start            # records before this one are in the history
    cur = start                 # records before this one are appended (or, in a lane's plan, known to fit)
    send = producer.send
    drives = producer._drives
    explicit = out._explicit
    try:
        while heap:
            event, p = heapq.heappop(heap)
            lane = lanes[p]
            pos = lane.pos
            kind = lane.kind
            if kind == _FULL:
                # the record fills its batch to exactly batch.size: appended, then the batch closes
                lane.flush(pos + 1, ts, out, waiter)
                acc._full(lane.batch)             # type: ignore[arg-type]
            elif kind != _SLOW and acc.available_memory >= batch_size:
                # a new batch for the record, as RecordAccumulator.append opens it (the old one closes first)
                if kind == _NO_ROOM:
                    lane.flush(pos, ts, out, waiter)
                    acc._full(lane.batch)         # type: ignore[arg-type]
                dq = queues.get(lane.tp)
                if dq is None:
                    dq = acc._new_queue(lane.tp)
                try:
                    at = lane.base + pos
                    future = acc._append_to_new_batch(dq, lane.tp, lane.keys[at], lane.values[at], ts, (),
                                                      lane.ops[at], None, now)
                except NeedMemory:
                    kind = _SLOW      # a record this large needs more than one batch.size: send() waits for it
                else:
                    out._add_segment(p, future._batch, 0, 1, waiter)     # type: ignore[arg-type]
                    lane.q = pos + 1
            else:
                kind = _SLOW
            if kind != _SLOW:
                lane.plan(queues, batch_size, ts, end)
                if lane.event < end:
                    heapq.heappush(heap, (lane.event, p))
                cur = max(cur, event + 1)
                continue
            # send() takes the record (it waits for memory, and the simulation runs): everything before it first
            for other in lanes.values():
                if other.batch is not None and other.q < other.count:
                    base = other.base
                    other.flush(bisect_left(other.idx, event, base + other.q, base + other.count) - base, ts, out,
                                waiter)
            if history is not None and event > recorded:
                history.invoke_sends(now, node_id, topic, keys[recorded:event], values[recorded:event])
            parts[event - start] = -1
            explicit.append(send(topic, values[event], keys[event]))
            recorded = cur = event + 1
            lane.q = lane.pos + 1
            if (producer._core is not core or producer._closed or not port.alive or core._tps.get(topic) is not tps
                    or core._key_cache.get(topic) is not cache):
                return cur
            if history is not None and op_first is not None and history.next_op_id != op_first + cur - start:
                _rebase(lanes, history.next_op_id - (op_first + cur - start))     # pragma: no cover - see _rebase
                op_first = history.next_op_id - (cur - start)
            if producer._drives != drives or int(port.now) != ts:
                # the simulation ran: the sender may have taken any open batch, and the clock moved
                drives = producer._drives
                now = port.now
                ts = int(now)
                heap = []
                for other in lanes.values():
                    if other is lane or not other.holds(queues, ts):
                        other.plan(queues, batch_size, ts, end)
                    if other.event < end:
                        heap.append((other.event, other.partition))
                heapq.heapify(heap)
            else:
                lane.plan(queues, batch_size, ts, end)
                if lane.event < end:
                    heapq.heappush(heap, (lane.event, p))
        for lane in lanes.values():
            if lane.q < lane.count:
                lane.flush(lane.count, ts, out, waiter)
        cur = end
        if history is not None and end > recorded:
            history.invoke_sends(now, node_id, topic, keys[recorded:end], values[recorded:end])
        recorded = end
    finally:
        out._add_run(parts[:cur - start].tolist())
    return end


def _rebase(lanes: dict[int, _Lane], shift: int) -> None:
    """Op ids moved (something else recorded an operation while send() ran the simulation): renumber the rest."""
    for lane in lanes.values():
        lo = lane.base + lane.q
        hi = lane.base + lane.count
        lane.ops[lo:hi] = array("q", [op + shift for op in lane.ops[lo:hi]])

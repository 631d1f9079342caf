"""Client operation histories, recorded apart from the system they describe (DESIGN.md principle 6).

Every client operation is an *invocation* followed by exactly one *completion*: ``ok`` (it happened, with its result),
``fail`` (it certainly did not happen) or ``info`` (outcome unknown: a timeout, a crashed client). This is Jepsen's
history model (knossos/elle): checkers read histories, never the system's own counters.

An :class:`Op` is frozen data. A ``send`` carries topic, key, value and, on ``ok``, partition and offset. A ``poll``'s
completion carries the records it returned as ``reads``: a tuple of (topic, partition, offset, key, value). ``commit``,
``assign``, ``seek`` and the rest carry what they need in ``offsets`` ({(topic, partition): offset}). A transaction
(``f="txn"``, :meth:`History.invoke_txn`/:meth:`History.complete_txn`) completes with its writes in ``reads``, its
committed consumer offsets in ``offsets``, their group id as ``key`` and the transactional id as ``value``.

:meth:`History.to_frame` gives one row per event, and one row per record for a poll's completion, with the columns
DESIGN.md names: time_ms, process, type, f, topic, partition, key, value, offset, error (plus ``op``: the id that ties a
completion to its invocation).
"""
from __future__ import annotations

import bisect
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice, repeat
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from kafkalab.check.spill import HistorySpill, SpillDir

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Op", "History", "HistorySpill", "OpsView", "ReadRecord", "OP_TYPES"]

OP_TYPES = ("invoke", "ok", "fail", "info")

#: (topic, partition, offset, key, value) of one record a poll returned.
ReadRecord = tuple[str, int, int, Any, Any]
_NO_OFFSETS: Mapping[tuple[str, int], int] = MappingProxyType({})


class Op(NamedTuple):
    """One event of a history. ``op`` ties a completion to its invocation.

    A NamedTuple rather than a frozen dataclass: a busy producer records two per record, and a tuple is built
    several times faster.
    """

    op: int
    time_ms: float
    process: Any
    type: str
    f: str
    topic: str | None = None
    partition: int | None = None
    key: Any = None
    value: Any = None
    offset: int | None = None
    error: str | None = None
    reads: tuple[ReadRecord, ...] = ()
    offsets: Mapping[tuple[str, int], int] = _NO_OFFSETS


#: first field of a row holding the ok events of a whole producer batch (see History.ok_sends)
_BATCH_OK = "batch-ok"
#: first field of a row holding the invoke events of consecutive sends (see History.invoke_send)
_SEND_RUN = "send-run"
#: events per sealed tuple of the history
_CHUNK = 4096
_I32 = 2**31 - 1
#: events per spill file at most (see History._spill_old)
_SPILL_SLICE = 8_192


class _Spilled(NamedTuple):
    """A sealed chunk written to disk (in History._sealed in place of the chunk's rows)."""

    paths: tuple[Path, ...]     # one file per slice of the chunk's events, in order
    rows: int
    events: int


class History:
    """An append-only list of operations with invoke/complete bookkeeping.

    Events are stored as plain tuples (which CPython's garbage collector stops tracking once it sees they hold only
    atoms), sealed every ``_CHUNK`` events into a tuple the collector stops tracking too, so a history of millions of
    sends costs the collector nothing (a list of a million rows would be walked, row by row, by every full
    collection); :attr:`ops` turns them into :class:`Op` values when a checker asks, once per event. Sends a producer
    records with :meth:`invoke_send` are kept open in a byte per operation id (with the position of their invoke row
    in an int array) rather than in a dict, since a producer may have hundreds of thousands in flight: the collector
    never walks those. :meth:`ok_sends` completes a whole batch in one call and one stored row (the batch's own
    operation ids and records), expanded into one ``ok`` event per record when the history is read; a consumer's
    poll stores a whole batch (or a slice of one) it read the same way (see ``_expand_reads``), and consecutive
    :meth:`invoke_send` calls of one process to one topic at one time share a send-run row (two list slots a send),
    expanded into one ``invoke`` event per send when read, so a send costs no tuple of its own.

    With ``spill`` (a :class:`HistorySpill`), sealed chunks beyond ``spill.max_events`` events in memory go to
    Parquet files (:mod:`kafkalab.check.spill`) and are read back, a chunk at a time, whenever the history is read:
    the same events, in bounded memory. :meth:`close` removes a temporary spill directory.

    >>> h = History()
    >>> op = h.invoke(0.0, "producer-1", "send", topic="t", value=b"1")
    >>> h.ok(op, 3.5, partition=0, offset=0)
    >>> h.ops[-1].offset
    0
    """

    def __init__(self, metadata: Mapping[str, Any] | None = None, spill: HistorySpill | None = None) -> None:
        #: what the run was (seed, config, workload ...): saved with the history, see :meth:`save`
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._rows: list[tuple[Any, ...]] = []          # the newest events
        self._sealed: list[tuple[tuple[Any, ...], ...] | _Spilled] = []   # older events, _CHUNK-ish per tuple
        self._sealed_len = 0
        self._chunk_starts: list[int] = []                      # row index of each sealed chunk's first event
        self._ops: list[Op] = []
        self._open: dict[int, tuple[Any, ...]] = {}
        self._open_sends = bytearray()       # per operation id from _id_base on: 1 while an invoke_send is open
        # per send-run row (see invoke_send): its first operation id and its row index, both ascending; an open
        # send finds its invoke by bisecting the first ids (16 bytes a run rather than 8 bytes a send)
        self._run_firsts = array("q")
        self._run_rows = array("q")
        self._next = 0
        self._batch_events = 0               # events beyond one per row: a batch-ok row holds one per record
        self._ops_rows = 0                   # rows already turned into self._ops
        self._run: tuple[Any, ...] | None = None   # the send-run row invoke_send may still extend (the last row)
        self._id_base = 0                    # operations below this id were invoked in spilled chunks (and
                                             # _open_sends starts at this id: spilling trims it)
        self._spilled_sends: dict[int, tuple[Any, ...]] = {}   # open invoke_send sends whose invoke went to disk
        self._sealed_events = 0              # events in sealed chunks
        self._chunk_events: list[int] = []  # event index of each sealed chunk's first event
        self._chunk_next: list[int] = []     # per sealed chunk: every op id below this was invoked in it or before
        self._spill: SpillDir | None = None
        self._spilled = 0                    # sealed chunks written to disk (the oldest ones)
        self._spilled_events = 0
        self._chunk = _CHUNK                 # rows per chunk
        self._max_events = sys.maxsize       # events in the unsealed rows before they are sealed (spill only)
        self._cache: tuple[Any, list[Op]] | None = None   # the last chunk read back, expanded (spill only)
        if spill is not None:
            if not isinstance(spill, HistorySpill):
                raise TypeError(f"spill must be a kl.check.HistorySpill or None, got {type(spill).__name__}")
            self._spill = SpillDir(spill)
            self._chunk = min(_CHUNK, spill.max_events)
            self._max_events = spill.max_events

    @property
    def spill(self) -> HistorySpill | None:
        """How this history spills to disk (None: it keeps every event in memory)."""
        return None if self._spill is None else self._spill.spec

    @property
    def spill_dir(self) -> Path | None:
        """The directory holding the spilled chunks (None without spilling)."""
        return None if self._spill is None else self._spill.path

    def close(self) -> None:
        """Release the spill files: a temporary spill directory is removed (a named one is kept); reading spilled
        events afterwards raises ``ValueError``. Without spilling this does nothing."""
        if self._spill is not None:
            self._spill.close()

    def __len__(self) -> int:
        return self._sealed_len + len(self._rows) + self._batch_events

    def _seal(self) -> None:
        rows = self._rows
        # the chunk's send runs are complete: their keys and values become tuples, which the collector stops
        # tracking (a list it would walk at every full collection)
        for i, row in enumerate(rows):
            if row[0] is _SEND_RUN and type(row[5]) is list:
                rows[i] = row[:5] + (tuple(row[5]),)
        self._run = None
        events = len(self)
        self._chunk_starts.append(self._sealed_len)
        self._chunk_events.append(self._sealed_events)
        self._chunk_next.append(self._next)
        self._sealed.append(tuple(rows))
        self._sealed_len += len(rows)
        self._sealed_events = events
        self._rows = []
        if self._spill is not None and events - self._spilled_events > self._max_events:
            self._spill_old()

    def _spill_old(self) -> None:
        """Write the oldest chunks in memory to disk until at most ``max_events`` events stay (all of them sealed:
        the unsealed rows are empty right after _seal). An operation still open whose invoke goes to disk keeps its
        invoke row in ``_open`` for its completion."""
        assert self._spill is not None
        while self._spilled < len(self._sealed) and len(self) - self._spilled_events > self._max_events:
            c = self._spilled
            chunk = self._sealed[c]
            assert not isinstance(chunk, _Spilled)
            hi = self._chunk_next[c]
            sends = self._open_sends
            base = self._id_base
            i = sends.find(1, 0, hi - base)
            while i >= 0:
                self._spilled_sends[base + i] = self._invoke_of(base + i)
                i = sends.find(1, i + 1, hi - base)
            del sends[:hi - base]
            runs = bisect.bisect_left(self._run_rows, self._chunk_starts[c] + len(chunk))
            del self._run_firsts[:runs]
            del self._run_rows[:runs]
            self._id_base = hi
            # A file per slice of _SPILL_SLICE events: writing a whole chunk (a million events or more when its
            # rows are batches) at once would build its Op values and Arrow columns side by side, a peak of
            # hundreds of MB the run's RSS would keep (65,536 events a slice still cost ~50 MB; 8,192 ~6 MB).
            paths, events, ops = [], 0, []
            for row in chunk:
                ops.extend(_expand_rows((row,)))
                if len(ops) >= _SPILL_SLICE:
                    paths.append(self._spill.write(list(zip(*ops, strict=True))))
                    events += len(ops)
                    ops = []
            if ops or not paths:
                paths.append(self._spill.write(list(zip(*ops, strict=True)) if ops else [()] * len(Op._fields)))
                events += len(ops)
            self._sealed[c] = _Spilled(tuple(paths), len(chunk), events)
            self._spilled = c + 1
            self._spilled_events += events

    def _row_at(self, index: int) -> tuple[Any, ...]:
        if index >= self._sealed_len:
            return self._rows[index - self._sealed_len]
        chunk = bisect.bisect_right(self._chunk_starts, index) - 1
        rows = self._sealed[chunk]
        assert not isinstance(rows, _Spilled), "spilled rows are read as events, never as rows"
        return rows[index - self._chunk_starts[chunk]]

    def _pop_open(self, op_id: int) -> tuple[Any, ...] | None:
        """The invoke row of open operation ``op_id``, which is open no more; None when it is not open."""
        start = self._open.pop(op_id, None)
        if start is None and self._spilled_sends:
            start = self._spilled_sends.pop(op_id, None)
        i = op_id - self._id_base
        if start is None and 0 <= i < len(self._open_sends) and self._open_sends[i]:
            self._open_sends[i] = 0
            start = self._invoke_of(op_id)
        return start

    def _invoke_of(self, op_id: int) -> tuple[Any, ...]:
        """The invoke row of a send recorded with :meth:`invoke_send` (expanded from its send-run row)."""
        j = bisect.bisect_right(self._run_firsts, op_id) - 1
        row = self._row_at(self._run_rows[j]) if j >= 0 else ()
        i = 2 * (op_id - row[4]) if row and row[0] is _SEND_RUN else -1
        kv = row[5] if i >= 0 else ()
        if not 0 <= i < len(kv):
            raise AssertionError(f"open send {op_id} has no send-run row")
        return (op_id, row[1], row[2], "invoke", "send", row[3], None, kv[i], kv[i + 1], None, None, (), None)

    def _open_ids(self) -> list[int]:
        sends = self._open_sends
        ids = list(self._open)
        ids.extend(self._spilled_sends)
        base = self._id_base
        i = sends.find(1)
        while i >= 0:
            ids.append(base + i)
            i = sends.find(1, i + 1)
        return sorted(ids)

    def _all_rows(self, start: int = 0) -> Iterator[tuple[Any, ...]]:
        """Rows in memory from row ``start`` (spilled chunks are skipped: read them with _chunk_ops)."""
        index = 0
        for chunk in self._sealed:
            if isinstance(chunk, _Spilled):
                index += chunk.rows
                continue
            if index + len(chunk) > start:
                yield from chunk[max(0, start - index):]
            index += len(chunk)
        yield from self._rows[max(0, start - index):]

    def __iter__(self) -> Iterator[Op]:
        return iter(self._synced()) if self._spill is None else self._iter_spilled()

    def _iter_spilled(self) -> Iterator[Op]:
        """Every event of a spilling history, chunk by chunk (the spilled ones read back from disk)."""
        for c, chunk in enumerate(self._sealed):
            if isinstance(chunk, _Spilled):
                for path in chunk.paths:          # a file at a time: a pass over the history holds one in memory
                    yield from self._file_ops(path)
            else:
                yield from self._chunk_ops(c)
        yield from self._chunk_ops(len(self._sealed))

    def _file_ops(self, path: Path) -> list[Op]:
        assert self._spill is not None
        cols = self._spill.read(path)
        cols[12] = [_NO_OFFSETS if o is None else MappingProxyType(dict(o)) for o in cols[12]]
        return list(map(Op, *cols))

    def _chunk_ops(self, c: int) -> list[Op]:
        """The events of sealed chunk ``c`` (``len(self._sealed)``: the unsealed rows); the last one read is kept."""
        key = (c, len(self)) if c == len(self._sealed) else c
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        chunk = self._sealed[c] if c < len(self._sealed) else self._rows
        if isinstance(chunk, _Spilled):
            ops = [op for path in chunk.paths for op in self._file_ops(path)]
        else:
            ops = _expand_rows(chunk)
        self._cache = (key, ops)
        return ops

    def _event_at(self, index: int) -> Op:
        """Event ``index`` (0 <= index < len(self)) of a spilling history."""
        c = bisect.bisect_right(self._chunk_events, index) - 1
        if index >= self._sealed_events:
            return self._chunk_ops(len(self._sealed))[index - self._sealed_events]
        return self._chunk_ops(c)[index - self._chunk_events[c]]

    @property
    def ops(self) -> OpsView:
        """Every event so far, in order, as :class:`Op` values: a live read-only sequence (it grows with the
        history, like the list it stands for)."""
        return OpsView(self)

    def _synced(self) -> list[Op]:
        if self._spill is not None:
            return list(self._iter_spilled())
        rows = self._sealed_len + len(self._rows)
        if self._ops_rows < rows:
            self._run = None              # a run read into self._ops is complete: the next send starts another
            self._ops.extend(_expand_rows(self._all_rows(self._ops_rows)))
            self._ops_rows = rows
        return self._ops

    def invoke(self, time_ms: float, process: Any, f: str, topic: str | None = None, partition: int | None = None,
               key: Any = None, value: Any = None, offset: int | None = None, error: str | None = None,
               reads: tuple[ReadRecord, ...] = (), offsets: Mapping[tuple[str, int], int] | None = None) -> int:
        """Record the start of an operation; returns its id for the completion."""
        op_id = self._next
        self._next += 1
        self._open_sends.append(0)
        row = (op_id, time_ms, process, "invoke", f, topic, partition, key, value, offset, error, reads,
               _freeze(offsets))
        rows = self._rows
        rows.append(row)
        if len(rows) >= self._chunk:
            self._seal()
        self._open[op_id] = row
        return op_id

    def invoke_send(self, time_ms: float, process: Any, topic: str, key: Any, value: Any) -> int:
        """``invoke(time_ms, process, "send", topic=topic, key=key, value=value)`` without keyword overhead (a
        producer records one per record).

        Consecutive sends of one process to one topic at one virtual time share one send-run row (their keys and
        values in one list, two slots a send), expanded into one invoke event per send when the history is read:
        the same events, without a 13-field tuple per record."""
        op_id = self._next
        self._next = op_id + 1
        rows = self._rows
        self._open_sends.append(1)
        run = self._run
        if (run is not None and run[2] is process and run[3] is topic and run[1] == time_ms
                and type(run[1]) is type(time_ms) and rows and rows[-1] is run):
            kv = run[5]
            if run[4] + len(kv) // 2 == op_id:
                kv.append(key)
                kv.append(value)
                self._batch_events += 1
                return op_id
        n = len(rows)
        self._run_firsts.append(op_id)
        self._run_rows.append(self._sealed_len + n)
        run = self._run = (_SEND_RUN, time_ms, process, topic, op_id, [key, value])
        rows.append(run)
        if n >= self._chunk:
            self._seal()
        return op_id

    @property
    def next_op_id(self) -> int:
        """The id the next invoked operation gets."""
        return self._next

    def invoke_sends(self, time_ms: float, process: Any, topic: str, keys: Sequence[Any],
                     values: Sequence[Any]) -> int:
        """:meth:`invoke_send` for each (key, value) of ``keys``/``values`` in order, as one call (a producer's
        ``send_many``): the same rows and ids as that loop; returns the first id (the others follow it)."""
        first = self._next
        n = len(keys)
        i = 0
        while i < n:
            self.invoke_send(time_ms, process, topic, keys[i], values[i])
            i += 1
            run = self._run
            rows = self._rows
            if i >= n or run is None or not rows or rows[-1] is not run:
                continue
            # The rest extend the open send-run row, as invoke_send would one at a time (no row is added, so the
            # chunk cannot fill and seal meanwhile).
            k = n - i
            kv = run[5]
            kv.extend(chain.from_iterable(zip(keys[i:], values[i:], strict=True)))
            self._open_sends.extend(b"\x01" * k)
            self._next += k
            self._batch_events += k
            break
        return first

    def _complete(self, op_id: int, time_ms: float, type_: str, fields: dict[str, Any]) -> None:
        start = self._pop_open(op_id)
        if start is None:
            state = "already completed" if 0 <= op_id < self._next else "never invoked"
            raise ValueError(f"operation {op_id} cannot complete: it was {state}") from None
        get = fields.get
        self._rows.append((op_id, time_ms, start[2], type_, start[4], get("topic", start[5]),
                           get("partition", start[6]), get("key", start[7]), get("value", start[8]),
                           get("offset", start[9]), get("error"), get("reads", ()), _freeze(get("offsets"))))

    def ok(self, op_id: int, time_ms: float, **fields: Any) -> None:
        """The operation happened; ``fields`` are its results (offset, partition, reads, offsets)."""
        self._complete(op_id, time_ms, "ok", fields)

    def ok_send(self, op_id: int, time_ms: float, partition: int, offset: int) -> None:
        """``ok(op_id, time_ms, partition=..., offset=...)`` for an acknowledged send, without keyword overhead
        (a producer records one per record)."""
        start = self._pop_open(op_id)
        if start is None:
            self._complete(op_id, time_ms, "ok", {})   # raises the clear error
            return
        self._rows.append((op_id, time_ms, start[2], "ok", start[4], start[5], partition, start[7], start[8], offset,
                           None, (), None))

    def ok_sends(self, op_ids: Sequence[int], time_ms: float, process: Any, topic: str, partition: int,
                 records: Sequence[tuple[Any, ...]], base_offset: int) -> None:
        """``ok_send`` for every record of an acknowledged batch: ``op_ids[i]`` sent ``records[i]`` (a (key, value,
        ...) row) at ``base_offset + i`` (-1 when the offset is unknown, acks=0). ``process`` and ``topic`` must be
        those of the invocations (a producer's batch knows them)."""
        if not op_ids:
            return
        sends = self._open_sends
        out = self._rows
        known = len(sends)
        base = self._id_base
        at = [i - base for i in op_ids] if base else op_ids   # positions in _open_sends (trimmed when spilling)
        if (len(op_ids) == len(records) and min(at) >= 0 and max(at) < known
                and all(map(sends.__getitem__, at))):
            # The common case: one row for the whole batch (op ids and records are the batch's own, immutable from
            # now on), expanded into one ok event per record when the history is read. The loops run in C: map
            # over the ids (setitem returns None, so any() visits every one).
            any(map(sends.__setitem__, at, repeat(0)))
            if base + known <= _I32:
                op_ids = array("i", op_ids)   # 4 bytes an id instead of the batch's 8 (the batch goes; this stays)
            out.append((_BATCH_OK, time_ms, process, topic, partition, op_ids, records, base_offset))
            self._batch_events += len(op_ids) - 1
            if len(out) >= self._chunk or (self._spill is not None
                                           and len(self) - self._sealed_events >= self._max_events):
                self._seal()
            return
        offset = base_offset
        for op_id, row in zip(op_ids, records, strict=True):
            spilled = self._spilled_sends.pop(op_id, None) if self._spilled_sends else None
            if spilled is not None or (0 <= op_id - base < known and sends[op_id - base]):
                if spilled is None:
                    sends[op_id - base] = 0
                out.append((op_id, time_ms, process, "ok", "send", topic, partition, row[0], row[1], offset, None,
                            (), None))
            else:
                self.ok_send(op_id, time_ms, partition, offset)   # invoked with invoke(), or the clear error
                out = self._rows
            if offset >= 0:
                offset += 1
        if len(out) >= self._chunk:
            self._seal()

    def invoke_txn(self, time_ms: float, process: Any, transactional_id: str) -> int:
        """A transactional producer's ``begin_transaction()``: one ``txn`` operation per transaction (``value`` =
        the transactional id); see :meth:`complete_txn`."""
        return self.invoke(time_ms, process, "txn", value=transactional_id)

    def complete_txn(self, op_id: int, time_ms: float, type_: str, writes: Sequence[ReadRecord],
                     offsets: Mapping[tuple[str, int], int] | None, group_id: str | None,
                     error: str | None = None) -> None:
        """End a transaction: ``ok`` (committed), ``fail`` (aborted, ``error`` the Kafka error name) or ``info``
        (unknown). ``writes``: (topic, partition, offset, key, value) of every send that got an offset, kept in
        ``reads``; ``offsets``: what ``send_offsets_to_transaction`` committed; ``key``: their group id."""
        if type_ not in ("ok", "fail", "info"):
            raise ValueError(f"type_ must be 'ok', 'fail' or 'info', got {type_!r}")
        self._complete(op_id, time_ms, type_, {"reads": tuple(writes), "offsets": offsets, "key": group_id,
                                               "error": error})

    def fail(self, op_id: int, time_ms: float, error: str, **fields: Any) -> None:
        """The operation certainly did not happen; ``error`` is the Kafka error name."""
        self._complete(op_id, time_ms, "fail", dict(fields, error=error))

    def info(self, op_id: int, time_ms: float, error: str | None = None, **fields: Any) -> None:
        """The outcome is unknown (timeout, crash): it may or may not have happened."""
        self._complete(op_id, time_ms, "info", dict(fields, error=error))

    def close_open(self, time_ms: float, error: str = "process ended") -> int:
        """Mark every open operation ``info`` (a history ends; its clients stop). Returns how many."""
        open_ids = self._open_ids()
        for op_id in open_ids:
            self.info(op_id, time_ms, error=error)
        return len(open_ids)

    def memory_bytes(self) -> int:
        """Roughly what the stored events take (rows and poll reads; not the keys and values they share)."""
        size = sys.getsizeof(self._rows) + sys.getsizeof(self._sealed)
        size += sum(sys.getsizeof(chunk) for chunk in self._sealed if not isinstance(chunk, _Spilled))
        size += sys.getsizeof(self._open_sends) + sys.getsizeof(self._run_firsts) + sys.getsizeof(self._run_rows)
        for row in self._all_rows():
            size += sys.getsizeof(row)
            if row[0] is _BATCH_OK:
                size += sys.getsizeof(row[5])
                continue
            if row[0] is _SEND_RUN:
                size += sys.getsizeof(row[5])
                continue
            reads = row[11]
            if reads:
                size += sys.getsizeof(reads) + sum(sys.getsizeof(r) for r in reads)
        return size

    def save(self, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write this history to ``path`` as Parquet, with :attr:`metadata` (and ``metadata``) beside it
        (:mod:`kafkalab.check.store`); :meth:`load` reads it back."""
        from kafkalab.check.store import save_history

        return save_history(self, path, metadata)

    @classmethod
    def load(cls, path: str | Path) -> History:
        """The history :meth:`save` wrote at ``path``: the same events, metadata and open operations."""
        from kafkalab.check.store import load_history

        return load_history(path)

    @property
    def open_ops(self) -> list[Op]:
        """Every operation invoked and not yet completed, by id."""
        get = self._open.get
        return [_op(get(i) or self._spilled_sends.get(i) or self._invoke_of(i)) for i in self._open_ids()]

    def to_frame(self) -> pd.DataFrame:
        """One row per event (and per record of a poll completion): time_ms, process, type, f, topic, partition,
        key, value, offset, error, op."""
        import pandas as pd

        columns = ("time_ms", "process", "type", "f", "topic", "partition", "key", "value", "offset", "error", "op")
        rows: list[tuple[Any, ...]] = []
        for e in (self._synced() if self._spill is None else self._iter_spilled()):
            if e.reads:
                for topic, partition, offset, key, value in e.reads:
                    rows.append((e.time_ms, e.process, e.type, e.f, topic, partition, key, value, offset, e.error,
                                 e.op))
            else:
                rows.append((e.time_ms, e.process, e.type, e.f, e.topic, e.partition, e.key, e.value, e.offset,
                             e.error, e.op))
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        return frame.astype({"partition": "Int64", "offset": "Int64"})


class OpsView(Sequence[Op]):
    """A live, read-only view of a history's events as :class:`Op` values (built once each, when first read)."""

    __slots__ = ("_history",)

    def __init__(self, history: History) -> None:
        self._history = history

    def __len__(self) -> int:
        return len(self._history)

    @overload
    def __getitem__(self, index: int) -> Op: ...

    @overload
    def __getitem__(self, index: slice) -> list[Op]: ...

    def __getitem__(self, index: int | slice) -> Op | list[Op]:
        h = self._history
        if h._spill is None:
            return h._synced()[index]
        n = len(h)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                return list(islice(h._iter_spilled(), start, max(start, stop)))
            return [h._event_at(i) for i in range(start, stop, step)]
        i = index.__index__()
        if not -n <= i < n:
            raise IndexError("history index out of range")
        return h._event_at(i % n)

    def __iter__(self) -> Iterator[Op]:
        return iter(self._history)

    def __repr__(self) -> str:
        return f"OpsView({len(self)} events)"


def _freeze(offsets: Mapping[tuple[str, int], int] | None) -> tuple[tuple[tuple[str, int], int], ...] | None:
    # stored as a tuple of pairs (untrackable by the collector); None when empty
    return tuple(offsets.items()) if offsets else None


def _expand_rows(rows: Iterable[tuple[Any, ...]]) -> list[Op]:
    """The events of stored rows, in order (a batch-ok or send-run row gives one per record)."""
    ops: list[Op] = []
    for row in rows:
        if row[0] is _BATCH_OK:
            ops.extend(_batch_ops(row))
        elif row[0] is _SEND_RUN:
            ops.extend(_run_ops(row))
        else:
            ops.append(_op(row))
    return ops


def _batch_ops(row: tuple[Any, ...]) -> list[Op]:
    """The ok events of a batch-ok row: one per record, in the batch's order."""
    _, time_ms, process, topic, partition, op_ids, records, base = row
    return [Op(op_id, time_ms, process, "ok", "send", topic, partition, record[0], record[1],
               -1 if base < 0 else base + i, None, (), _NO_OFFSETS)
            for i, (op_id, record) in enumerate(zip(op_ids, records, strict=True))]


def _run_ops(row: tuple[Any, ...]) -> list[Op]:
    """The invoke events of a send-run row: one per send, in order."""
    _, time_ms, process, topic, first, kv = row
    return [Op(first + i, time_ms, process, "invoke", "send", topic, None, kv[2 * i], kv[2 * i + 1], None, None, (),
               _NO_OFFSETS) for i in range(len(kv) // 2)]


def _expand_reads(reads: tuple[tuple[Any, ...], ...]) -> tuple[ReadRecord, ...]:
    """Reads as ReadRecords; a consumer records a whole batch it read as one (topic, partition, base, rows) entry."""
    out: list[ReadRecord] = []
    for item in reads:
        if len(item) == 4:
            topic, partition, base, rows = item
            out.extend([(topic, partition, base + i, row[0], row[1]) for i, row in enumerate(rows)])
        else:
            out.append(item)  # type: ignore[arg-type]
    return tuple(out)


def _op(row: tuple[Any, ...]) -> Op:
    reads = row[11]
    if reads and any(len(item) == 4 for item in reads):
        row = row[:11] + (_expand_reads(reads),) + row[12:]
    offsets = row[12]
    if offsets is None:
        return Op._make(row[:12] + (_NO_OFFSETS,))
    return Op._make(row[:12] + (MappingProxyType(dict(offsets)),))

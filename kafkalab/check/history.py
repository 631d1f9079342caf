"""Client operation histories, recorded apart from the system they describe (DESIGN.md principle 6).

Every client operation is an *invocation* followed by exactly one *completion*: ``ok`` (it happened, with its result),
``fail`` (it certainly did not happen) or ``info`` (outcome unknown: a timeout, a crashed client). This is Jepsen's
history model (knossos/elle): checkers read histories, never the system's own counters.

An :class:`Op` is frozen data. A ``send`` carries topic, key, value and, on ``ok``, partition and offset. A ``poll``'s
completion carries the records it returned as ``reads``: a tuple of (topic, partition, offset, key, value). ``commit``,
``assign``, ``seek`` and the rest carry what they need in ``offsets`` ({(topic, partition): offset}).

:meth:`History.to_frame` gives one row per event, and one row per record for a poll's completion, with the columns
DESIGN.md names: time_ms, process, type, f, topic, partition, key, value, offset, error (plus ``op``: the id that ties a
completion to its invocation).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Op", "History", "ReadRecord", "OP_TYPES"]

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


class History:
    """An append-only list of operations with invoke/complete bookkeeping.

    >>> h = History()
    >>> op = h.invoke(0.0, "producer-1", "send", topic="t", value=b"1")
    >>> h.ok(op, 3.5, partition=0, offset=0).offset
    0
    """

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._open: dict[int, Op] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def invoke(self, time_ms: float, process: Any, f: str, **fields: Any) -> int:
        """Record the start of an operation; returns its id for the completion."""
        op_id = self._next
        self._next += 1
        event = Op(op_id, time_ms, process, "invoke", f, **fields)
        self.ops.append(event)
        self._open[op_id] = event
        return op_id

    def _complete(self, op_id: int, time_ms: float, type_: str, fields: dict[str, Any]) -> Op:
        try:
            start = self._open.pop(op_id)
        except KeyError:
            state = "already completed" if 0 <= op_id < self._next else "never invoked"
            raise ValueError(f"operation {op_id} cannot complete: it was {state}") from None
        get = fields.get
        event = Op(op_id, time_ms, start.process, type_, start.f, get("topic", start.topic),
                   get("partition", start.partition), get("key", start.key), get("value", start.value),
                   get("offset", start.offset), get("error"), get("reads", ()), get("offsets", _NO_OFFSETS))
        self.ops.append(event)
        return event

    def ok(self, op_id: int, time_ms: float, **fields: Any) -> Op:
        """The operation happened; ``fields`` are its results (offset, partition, reads, offsets)."""
        return self._complete(op_id, time_ms, "ok", fields)

    def fail(self, op_id: int, time_ms: float, error: str, **fields: Any) -> Op:
        """The operation certainly did not happen; ``error`` is the Kafka error name."""
        return self._complete(op_id, time_ms, "fail", dict(fields, error=error))

    def info(self, op_id: int, time_ms: float, error: str | None = None, **fields: Any) -> Op:
        """The outcome is unknown (timeout, crash): it may or may not have happened."""
        return self._complete(op_id, time_ms, "info", dict(fields, error=error))

    def close_open(self, time_ms: float, error: str = "process ended") -> int:
        """Mark every open operation ``info`` (a history ends; its clients stop). Returns how many."""
        open_ids = sorted(self._open)
        for op_id in open_ids:
            self.info(op_id, time_ms, error=error)
        return len(open_ids)

    @property
    def open_ops(self) -> list[Op]:
        return [self._open[i] for i in sorted(self._open)]

    def to_frame(self) -> pd.DataFrame:
        """One row per event (and per record of a poll completion): time_ms, process, type, f, topic, partition,
        key, value, offset, error, op."""
        import pandas as pd

        columns = ("time_ms", "process", "type", "f", "topic", "partition", "key", "value", "offset", "error", "op")
        rows: list[tuple[Any, ...]] = []
        for e in self.ops:
            if e.reads:
                for topic, partition, offset, key, value in e.reads:
                    rows.append((e.time_ms, e.process, e.type, e.f, topic, partition, key, value, offset, e.error,
                                 e.op))
            else:
                rows.append((e.time_ms, e.process, e.type, e.f, e.topic, e.partition, e.key, e.value, e.offset,
                             e.error, e.op))
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        return frame.astype({"partition": "Int64", "offset": "Int64"})

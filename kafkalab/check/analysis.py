"""``analyze(history)``: judge a client history the way Jepsen's Kafka workload (``jepsen.tests.kafka``) does.

Only the history is read, never the cluster (DESIGN.md principle 6). Values must be unique per send, as in Jepsen's
workload and Maelstrom's kafka workload, so a value names its write. The analysis, in Jepsen's order:

1. Every position (topic, partition, offset) gets the values sends were acknowledged at and polls returned there. Two
   values at one position are ``inconsistent_offsets``; one value at two positions is a ``duplicate``.
2. The *version order* of a partition is its known offsets, sorted, gaps ignored (transaction markers take offsets no
   client sees). An acknowledged write at or below the highest offset any poll returned, that no poll ever returned,
   is a ``lost_write``; above it, ``unseen`` (maybe just not read yet). A send that failed for certain but was read
   is a ``failed_write_read`` (Jepsen's aborted read of a failed writer).
3. Per process, in history order: a partition's acknowledged offsets must rise with the sends' invocation order
   (``nonmonotonic_send``); consecutive reads of a partition must move exactly one version forward: backwards or a
   repeat is ``nonmonotonic_poll``, jumping over known versions is ``poll_skip`` (the ``int_`` kinds when both
   reads came from one poll, Jepsen's int-poll-skip). An assign, seek, subscribe, rebalance or restart operation
   (:data:`RESET_OPS`) legitimately moves a consumer and restarts the tracking of that process.
4. Transactional histories (``f="txn"`` operations, see :mod:`kafkalab.check.txn_checks`): aborted reads, torn
   transactions, precommitted reads, and dependency cycles between transactions (ww, wr, rw).

Writes of transactions that aborted or whose outcome is unknown are never counted lost, and read_committed readers
jumping over them skip nothing. The checker assumes retention and compaction removed nothing readers were expected to
see.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from kafkalab.check.history import History, Op
from kafkalab.check.report import INFORMATIONAL, Report, build_report, check_kind
from kafkalab.check.txn_checks import txn_anomalies

__all__ = ["analyze", "RESET_OPS", "Facts"]

RESET_OPS = frozenset({"assign", "seek", "subscribe", "rebalance", "restart", "unsubscribe"})

Position = tuple[str, int, int]
TopicPartition = tuple[str, int]
Row = tuple[Any, ...]


@dataclass
class Facts:
    """What one pass over a history collected, shared by the queue and transaction checks."""

    acked: list[tuple[int, Op]] = field(default_factory=list)           # (invoke index, ok send)
    failed: dict[Any, Op] = field(default_factory=dict)                 # value -> failed send
    sequence: list[Op] = field(default_factory=list)                    # ok polls and reset ops, in order
    txns: list[Op] = field(default_factory=list)                        # txn completions
    #: value -> id of the txn operation open on the sending process when the send was invoked
    send_txn: dict[Any, int] = field(default_factory=dict)
    invoked_at: dict[int, float] = field(default_factory=dict)          # txn op id -> invoke time
    writer: dict[Any, int] = field(default_factory=dict)                # value -> id of the send that wrote it
    at_offset: dict[Position, Any] = field(default_factory=dict)        # first value seen at a position
    conflicts: dict[Position, dict[Any, None]] = field(default_factory=dict)
    first_pos: dict[Any, Position] = field(default_factory=dict)
    more_pos: dict[Any, set[Position]] = field(default_factory=dict)
    read_values: set[Any] = field(default_factory=set)
    max_read: dict[TopicPartition, int] = field(default_factory=dict)
    #: (process, tp) -> [(prev offset, offset, prev op, op)] for consecutive reads more than one offset apart
    gaps: dict[tuple[Any, TopicPartition], list[tuple[int, int, int, int]]] = field(default_factory=dict)

    def place(self, pos: Position, value: Any) -> None:
        seen = self.at_offset.setdefault(pos, value)
        if seen != value:
            self.conflicts.setdefault(pos, {seen: None})[value] = None
        first = self.first_pos.setdefault(value, pos)
        if first != pos:
            self.more_pos.setdefault(value, {first}).add(pos)


def analyze(history: History, read_committed: bool | Iterable[Any] = False,
            allowed: Iterable[str] = INFORMATIONAL) -> Report:
    """Judge ``history`` (a :class:`~kafkalab.check.History`, e.g. ``cluster.history`` or ``History.load(path)``).

    ``read_committed``: which consumer processes ran at ``isolation.level=read_committed`` (True: all, False: none, or
    a collection of process ids); their polls are judged for aborted, torn and precommitted reads. ``allowed``: the
    anomaly kinds that do not make the verdict invalid (default :data:`~kafkalab.check.report.INFORMATIONAL`).

    >>> h = History()
    >>> op = h.invoke(0, "p", "send", topic="t", value="a"); h.ok(op, 1, partition=0, offset=0)
    >>> op = h.invoke(2, "c", "poll"); h.ok(op, 3, reads=(("t", 0, 0, None, "a"),))
    >>> analyze(h).verdict
    'valid'
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a kafkalab.check.History (cluster.history or History.load(path)), "
                        f"got {type(history).__name__}")
    is_rc = _read_committed_predicate(read_committed)
    allowed_kinds = _allowed(allowed)
    facts = collect(history)
    txn_values = _txn_outcomes(facts)
    rows: list[Row] = []
    _positions(facts, rows)
    _lost_and_unseen(facts, txn_values, rows)
    _send_order(facts, rows)
    _polls(facts, txn_values, is_rc, rows)
    cycles: list[list[tuple[int, int, str]]] = []
    if facts.txns or facts.send_txn:
        cycles = txn_anomalies(facts, is_rc, rows)
    totals = {"acknowledged": len(facts.acked), "read": len(facts.read_values), "transactions": len(facts.txns),
              "read_committed_processes": len({e.process for e in facts.sequence if e.f == "poll" and is_rc(e.process)})}
    return build_report(rows, totals, allowed_kinds, cycles)


def _read_committed_predicate(read_committed: Any) -> Any:
    if read_committed is True or read_committed is False:
        return (lambda _p: True) if read_committed else (lambda _p: False)
    if isinstance(read_committed, (str, bytes)) or not isinstance(read_committed, Iterable):
        raise TypeError(f"read_committed must be True, False or a collection of process ids, got {read_committed!r}")
    chosen = set(read_committed)
    return lambda p: p in chosen


def _allowed(allowed: Any) -> tuple[str, ...]:
    if isinstance(allowed, str) or not isinstance(allowed, Iterable):
        raise TypeError(f"allowed must be a collection of anomaly kinds, got {allowed!r}")
    out = tuple(allowed)
    for kind in out:
        check_kind("allowed:", kind)
    return out


def collect(history: History) -> Facts:
    """One pass over ``history``: acknowledged and failed sends, polls and resets, transactions, positions."""
    f = Facts()
    send_invoked: dict[int, int] = {}
    open_txn: dict[Any, int] = {}                 # process -> its open txn operation
    for index, e in enumerate(history.ops):
        fn, type_ = e.f, e.type
        if fn == "send":
            if type_ == "invoke":
                send_invoked[e.op] = index
                f.writer.setdefault(e.value, e.op)
                if open_txn and e.process in open_txn:
                    f.send_txn[e.value] = open_txn[e.process]
            elif type_ == "ok":
                f.acked.append((send_invoked.get(e.op, index), e))
                if e.topic is not None and e.partition is not None and e.offset is not None and e.offset >= 0:
                    f.place((e.topic, e.partition, e.offset), e.value)
            elif type_ == "fail":
                f.failed[e.value] = e
        elif fn == "poll":
            if type_ == "ok":
                f.sequence.append(e)
                for topic, partition, offset, _key, value in e.reads:
                    f.place((topic, partition, offset), value)
                    f.read_values.add(value)
                    tp = (topic, partition)
                    if offset > f.max_read.get(tp, -1):
                        f.max_read[tp] = offset
        elif fn == "txn":
            if type_ == "invoke":
                f.invoked_at[e.op] = e.time_ms
                open_txn[e.process] = e.op
            else:
                f.txns.append(e)
                if open_txn.get(e.process) == e.op:
                    del open_txn[e.process]
        elif fn in RESET_OPS and type_ in ("ok", "info"):
            f.sequence.append(e)
    return f


def _txn_outcomes(f: Facts) -> dict[Any, str]:
    """value -> the outcome ("ok", "fail", "info") of the transaction that wrote it.

    A transaction's writes are those its completion lists and every send its producer invoked while it was open (a
    transactional producer sends only inside a transaction): a send acknowledged after its transaction stopped
    recording writes (a fatal error, a crash) is still the transaction's. A transaction that never completed has an
    unknown outcome."""
    by_op = {t.op: t.type for t in f.txns}
    out = {value: by_op.get(op_id, "info") for value, op_id in f.send_txn.items()}
    out.update({w[4]: t.type for t in f.txns for w in t.reads})
    return out


def _row(kind: str, process: Any, pos: tuple[Any, ...] | None, value: Any, ops: tuple[int, ...], detail: str,
         key: Any = None) -> Row:
    topic, partition, offset = pos if pos is not None else (None, None, None)
    return (kind, process, topic, partition, key, value, offset, ops, detail)


def _positions(f: Facts, rows: list[Row]) -> None:
    for pos in sorted(f.conflicts):
        values = tuple(f.conflicts[pos])
        rows.append(_row("inconsistent_offsets", None, pos, values, (),
                         f"{len(values)} different values at one offset"))
    for value, where in f.more_pos.items():
        ordered = sorted(where)
        rows.append(_row("duplicate", None, ordered[0], value, (), f"at {ordered}"))
    for value, op in f.failed.items():
        if value in f.read_values:
            rows.append(_row("failed_write_read", op.process, f.first_pos[value], value, (op.op,),
                             f"send failed with {op.error} but the value was read"))


def _lost_and_unseen(f: Facts, txn_values: dict[Any, str], rows: list[Row]) -> None:
    for _, e in f.acked:
        if e.value in f.read_values or e.topic is None or e.partition is None or e.offset is None or e.offset < 0:
            continue
        if txn_values.get(e.value, "ok") != "ok":
            continue            # an aborted transaction's write, or one whose outcome is unknown: never owed
        reached = f.max_read.get((e.topic, e.partition), -1)
        kind = "lost_write" if e.offset <= reached else "unseen"
        rows.append(_row(kind, e.process, (e.topic, e.partition, e.offset), e.value, (e.op,),
                         f"acknowledged at offset {e.offset}; reads reached {reached}", key=e.key))


def _send_order(f: Facts, rows: list[Row]) -> None:
    last: dict[tuple[Any, str, int], tuple[int, int]] = {}   # (process, topic, partition) -> (offset, op)
    for _, e in sorted(f.acked, key=lambda pair: pair[0]):
        if e.topic is None or e.partition is None or e.offset is None or e.offset < 0:
            continue
        key = (e.process, e.topic, e.partition)
        prev = last.get(key)
        if prev is not None and e.offset <= prev[0]:
            rows.append(_row("nonmonotonic_send", e.process, (e.topic, e.partition, e.offset), e.value,
                             (prev[1], e.op), f"sent after a write acknowledged at offset {prev[0]}", key=e.key))
        last[key] = (e.offset, e.op)


def _known_offsets(f: Facts, exclude: Collection[Any]) -> dict[TopicPartition, list[int]]:
    known: dict[TopicPartition, list[int]] = defaultdict(list)
    for (topic, partition, offset), value in f.at_offset.items():
        if value not in exclude or (topic, partition, offset) in f.conflicts:
            known[(topic, partition)].append(offset)
    for offsets in known.values():
        offsets.sort()
    return known


def _polls(f: Facts, txn_values: dict[Any, str], is_rc: Any, rows: list[Row]) -> None:
    known_all = _known_offsets(f, ())
    hidden = {v for v, outcome in txn_values.items() if outcome != "ok"}
    known_rc = _known_offsets(f, hidden) if hidden else known_all
    last: dict[Any, dict[TopicPartition, tuple[int, int]]] = {}   # process -> tp -> (offset, op)
    for e in f.sequence:
        if e.f != "poll":
            last.pop(e.process, None)
            continue
        mine = last.setdefault(e.process, {})
        known = known_rc if is_rc(e.process) else known_all
        for topic, partition, offset, key, value in e.reads:
            tp = (topic, partition)
            prev = mine.get(tp)
            mine[tp] = (offset, e.op)
            if prev is None:
                continue
            prev_offset, prev_op = prev
            internal = "int_" if prev_op == e.op else ""
            pos = (topic, partition, offset)
            if offset <= prev_offset:
                rows.append(_row(f"{internal}nonmonotonic_poll", e.process, pos, value, (prev_op, e.op),
                                 f"read offset {offset} after offset {prev_offset}", key=key))
                continue
            if offset > prev_offset + 1:
                f.gaps.setdefault((e.process, tp), []).append((prev_offset, offset, prev_op, e.op))
                offsets = known.get(tp, [])
                skipped = bisect.bisect_left(offsets, offset) - bisect.bisect_right(offsets, prev_offset)
                if skipped > 0:
                    rows.append(_row(f"{internal}poll_skip", e.process, pos, value, (prev_op, e.op),
                                     f"jumped from {prev_offset} to {offset} over {skipped} known offset(s)",
                                     key=key))

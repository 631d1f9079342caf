"""Hand-written histories for the checker tests, in the recorders' format (txn ops per the shared txn spec)."""
from __future__ import annotations

from typing import Any

from kafkalab.check import History


def send(h: History, t: float, proc: Any, value: Any, partition: int = 0, offset: int | None = None,
         outcome: str = "ok", error: str | None = None, topic: str = "t", key: Any = None) -> int:
    op = h.invoke(t, proc, "send", topic=topic, key=key, value=value)
    if outcome == "ok":
        h.ok(op, t + 1, partition=partition, offset=offset)
    elif outcome == "fail":
        h.fail(op, t + 1, error or "NOT_ENOUGH_REPLICAS")
    else:
        h.info(op, t + 1, error=error or "REQUEST_TIMED_OUT")
    return op


def poll(h: History, t: float, proc: Any, *reads: tuple[Any, ...], topic: str = "t", partition: int = 0) -> int:
    """Reads are (offset, value) on ``topic``/``partition`` or (topic, partition, offset, value)."""
    op = h.invoke(t, proc, "poll")
    out = []
    for r in reads:
        out.append((topic, partition, r[0], None, r[1]) if len(r) == 2 else (r[0], r[1], r[2], None, r[3]))
    h.ok(op, t + 1, reads=tuple(out))
    return op


def txn(h: History, t: float, proc: Any, writes: list[tuple[str, int, int, Any]], outcome: str = "ok",
        offsets: dict[tuple[str, int], int] | None = None, tid: str = "tx-1", group: str | None = None,
        send_acked_at: float | None = None) -> int:
    """A transaction as the transactional producer records it: its sends (acknowledged, with offsets) then the txn
    completion carrying the writes. ``writes`` are (topic, partition, offset, value)."""
    op = h.invoke(t, proc, "txn", value=tid)
    for topic, partition, offset, value in writes:
        s = h.invoke(t, proc, "send", topic=topic, value=value)
        h.ok(s, send_acked_at if send_acked_at is not None else t + 1, partition=partition, offset=offset)
    fields = dict(reads=tuple((tp, p, o, None, v) for tp, p, o, v in writes), offsets=offsets or {},
                  key=group, value=tid)
    if outcome == "ok":
        h.ok(op, t + 5, **fields)
    elif outcome == "fail":
        h.fail(op, t + 5, "TRANSACTION_ABORTED", **fields)
    else:
        h.info(op, t + 5, error="REQUEST_TIMED_OUT", **fields)
    return op

"""A checker for Kafka-like logs, after Jepsen's ``jepsen.tests.kafka`` and Maelstrom's kafka workload.

It judges a :class:`~kafkalab.check.history.History` only: what clients were told (sends acknowledged with offsets) and
what they saw (records polls returned). It never asks the cluster. Values must be unique per send, as in Jepsen's
workload, so a value identifies a write.

Anomalies reported (KAFKA.md section 6):

- ``lost_write``: a send was acknowledged at offset o of a partition, some poll read that partition at or beyond o, yet
  no poll ever returned the value. Kafka loses these with acks=1 on failover, or with unclean leader election.
- ``unseen``: an acknowledged send never read, above every offset read (benign if consumers had not caught up).
- ``duplicate``: one value at two positions (retries without idempotence).
- ``inconsistent_offsets``: two different values at one (topic, partition, offset) (divergent logs seen by readers).
- ``failed_write_read``: a send that failed for certain was read anyway.
- ``nonmonotonic_send``: one process's acknowledged sends to a partition got offsets out of invocation order.
- ``nonmonotonic_poll``: one process's polls of a partition went backwards or repeated an offset (no seek between).
- ``poll_skip``: consecutive polls of a partition by one process jumped over offsets known to hold records.

Operations with ``f`` in :data:`RESET_OPS` (assign, seek, subscribe, rebalance, restart) reset the per-process
monotonicity tracking, as a seek or rebalance legitimately moves a consumer's position. The checker assumes no
retention or compaction removed records the readers were expected to see.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafkalab.check.history import History, Op

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_queue", "QueueCheck", "Anomaly", "RESET_OPS", "ANOMALY_KINDS"]

RESET_OPS = frozenset({"assign", "seek", "subscribe", "rebalance", "restart", "unsubscribe"})
ANOMALY_KINDS = ("lost_write", "unseen", "duplicate", "inconsistent_offsets", "failed_write_read",
                 "nonmonotonic_send", "nonmonotonic_poll", "poll_skip")
#: Anomalies that break Kafka's guarantees for the configuration under test; ``unseen`` is informational.
SERIOUS = frozenset(ANOMALY_KINDS) - {"unseen"}

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomaly: its kind, where, which value, and a short explanation."""

    kind: str
    topic: str
    partition: int
    offset: int | None
    value: Any
    process: Any = None
    detail: str = ""


@dataclass
class QueueCheck:
    """The verdict: ``valid`` unless a serious anomaly was found; counts and the anomalies themselves."""

    anomalies: list[Anomaly] = field(default_factory=list)
    acknowledged: int = 0
    read_values: int = 0

    @property
    def valid(self) -> bool:
        return not any(a.kind in SERIOUS for a in self.anomalies)

    def count(self, kind: str) -> int:
        if kind not in ANOMALY_KINDS:
            raise ValueError(f"unknown anomaly kind {kind!r}; kinds: {', '.join(ANOMALY_KINDS)}")
        return sum(1 for a in self.anomalies if a.kind == kind)

    def summary(self) -> dict[str, Any]:
        """Counts per anomaly kind plus totals, for tables."""
        out: dict[str, Any] = {"valid": self.valid, "acknowledged": self.acknowledged, "read": self.read_values}
        for kind in ANOMALY_KINDS:
            out[kind] = self.count(kind)
        return out

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"kind": a.kind, "topic": a.topic, "partition": a.partition, "offset": a.offset,
                              "value": a.value, "process": a.process, "detail": a.detail} for a in self.anomalies],
                            columns=["kind", "topic", "partition", "offset", "value", "process", "detail"])


def check_queue(history: History) -> QueueCheck:
    """Judge a history of sends and polls; see the module docstring for the anomalies."""
    result = QueueCheck()
    acked: list[Op] = []
    failed_values: dict[Any, Op] = {}
    polls: list[Op] = []
    resets: list[Op] = []
    for e in history.ops:
        if e.type == "ok" and e.f == "send":
            acked.append(e)
        elif e.type == "fail" and e.f == "send":
            failed_values[e.value] = e
        elif e.type == "ok" and e.f == "poll":
            polls.append(e)
        if e.f in RESET_OPS and e.type in ("ok", "info"):
            resets.append(e)
    result.acknowledged = len(acked)

    # Every position each value was seen at, and every value seen at each position.
    positions: dict[Any, set[tuple[str, int, int]]] = defaultdict(set)
    at_offset: dict[tuple[str, int, int], dict[Any, None]] = defaultdict(dict)
    read_values: set[Any] = set()
    max_read: dict[TopicPartition, int] = {}
    for e in acked:
        if e.topic is None or e.partition is None or e.offset is None or e.offset < 0:
            continue  # acks=0: the client never learns the offset
        positions[e.value].add((e.topic, e.partition, e.offset))
        at_offset[(e.topic, e.partition, e.offset)][e.value] = None
    for e in polls:
        for topic, partition, offset, _key, value in e.reads:
            positions[value].add((topic, partition, offset))
            at_offset[(topic, partition, offset)][value] = None
            read_values.add(value)
            tp = (topic, partition)
            if offset > max_read.get(tp, -1):
                max_read[tp] = offset
    result.read_values = len(read_values)

    anomalies = result.anomalies
    for (topic, partition, offset), values in sorted(at_offset.items(), key=lambda kv: kv[0]):
        if len(values) > 1:
            anomalies.append(Anomaly("inconsistent_offsets", topic, partition, offset, tuple(values),
                                     detail=f"{len(values)} different values at one offset"))
    for value, where in positions.items():
        if len(where) > 1:
            first = min(where)
            anomalies.append(Anomaly("duplicate", first[0], first[1], first[2], value,
                                     detail=f"at {sorted(where)}"))
    for value, op in failed_values.items():
        if value in read_values:
            at = min(positions[value])
            anomalies.append(Anomaly("failed_write_read", at[0], at[1], at[2], value, op.process,
                                     detail=f"send failed with {op.error} but the value was read"))
    for e in acked:
        if e.value in read_values or e.topic is None or e.partition is None or e.offset is None or e.offset < 0:
            continue
        tp = (e.topic, e.partition)
        kind = "lost_write" if e.offset <= max_read.get(tp, -1) else "unseen"
        anomalies.append(Anomaly(kind, e.topic, e.partition, e.offset, e.value, e.process,
                                 detail=f"acknowledged at offset {e.offset}; reads reached {max_read.get(tp, -1)}"))
    _check_send_order(history, anomalies)
    _check_polls(history, at_offset, anomalies)
    return result


def _check_send_order(history: History, anomalies: list[Anomaly]) -> None:
    invoked_at: dict[int, int] = {}
    for index, e in enumerate(history.ops):
        if e.type == "invoke" and e.f == "send":
            invoked_at[e.op] = index
    last: dict[tuple[Any, str, int], tuple[int, int]] = {}   # (process, topic, partition) -> (invoke index, offset)
    acked = sorted((invoked_at.get(e.op, 0), e) for e in history.ops
                   if e.type == "ok" and e.f == "send" and e.offset is not None and e.offset >= 0
                   and e.topic is not None and e.partition is not None)
    for index, e in acked:
        assert e.topic is not None and e.partition is not None and e.offset is not None
        key = (e.process, e.topic, e.partition)
        prev = last.get(key)
        if prev is not None and e.offset <= prev[1]:
            anomalies.append(Anomaly("nonmonotonic_send", e.topic, e.partition, e.offset, e.value, e.process,
                                     detail=f"sent after a write acknowledged at offset {prev[1]}"))
        last[key] = (index, e.offset)


def _check_polls(history: History, at_offset: dict[tuple[str, int, int], dict[Any, None]],
                 anomalies: list[Anomaly]) -> None:
    known: dict[TopicPartition, list[int]] = defaultdict(list)
    for topic, partition, offset in at_offset:
        known[(topic, partition)].append(offset)
    for offsets in known.values():
        offsets.sort()
    import bisect

    last: dict[tuple[Any, str, int], int] = {}
    for e in history.ops:
        if e.f in RESET_OPS and e.type in ("ok", "info"):
            for key in [k for k in last if k[0] == e.process]:
                del last[key]
            continue
        if not (e.type == "ok" and e.f == "poll"):
            continue
        for topic, partition, offset, _key, value in e.reads:
            key = (e.process, topic, partition)
            prev = last.get(key)
            if prev is not None:
                if offset <= prev:
                    anomalies.append(Anomaly("nonmonotonic_poll", topic, partition, offset, value, e.process,
                                             detail=f"read offset {offset} after offset {prev}"))
                else:
                    offsets = known[(topic, partition)]
                    lo = bisect.bisect_right(offsets, prev)
                    hi = bisect.bisect_left(offsets, offset)
                    if hi > lo:
                        anomalies.append(Anomaly(
                            "poll_skip", topic, partition, offset, value, e.process,
                            detail=f"jumped from {prev} to {offset} over {hi - lo} known offset(s)"))
            last[key] = offset

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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafkalab.check.analysis import RESET_OPS, analyze
from kafkalab.check.history import History
from kafkalab.common.display import Described

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_queue", "QueueCheck", "Anomaly", "RESET_OPS", "ANOMALY_KINDS"]

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
        """Counts per anomaly kind plus totals: a dict that displays as a table in JupyterLab."""
        out = Described(title="queue check")
        out.update({"valid": self.valid, "acknowledged": self.acknowledged, "read": self.read_values})
        for kind in ANOMALY_KINDS:
            out[kind] = self.count(kind)
        return out

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"kind": a.kind, "topic": a.topic, "partition": a.partition, "offset": a.offset,
                              "value": a.value, "process": a.process, "detail": a.detail} for a in self.anomalies],
                            columns=["kind", "topic", "partition", "offset", "value", "process", "detail"])


def check_queue(history: History) -> QueueCheck:
    """Judge a history of sends and polls; see the module docstring for the anomalies.

    A thin view of :func:`kafkalab.check.analyze` (the one checker), kept for its summary table: the ``int_`` kinds
    count as their cross-poll kinds, transaction kinds are left out.
    """
    import pandas as pd

    report = analyze(history)
    result = QueueCheck(acknowledged=report.counts["acknowledged"], read_values=report.counts["read"])
    for kind, process, topic, partition, _key, value, offset, _ops, detail in report.anomalies.itertuples(
            index=False, name=None):
        kind = kind.removeprefix("int_")
        if kind in ANOMALY_KINDS:
            result.anomalies.append(Anomaly(kind, topic, int(partition), None if offset is None or offset is pd.NA
                                            else int(offset), value, process, detail))
    return result

"""What a workload returns: its history, the run's metadata, the nemesis log, and the verdict as a sweep row."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkalab.check import History, Report, analyze
from kafkalab.check.report import KINDS

__all__ = ["WorkloadResult"]


@dataclass
class WorkloadResult:
    """One workload run. ``history`` carries ``metadata`` (seed, workload, parameters, faults) when saved;
    ``digest`` is the event trace digest of the workload phase (same seed and parameters, same digest)."""

    history: History
    metadata: dict[str, Any]
    faults: list[tuple[float, str]] = field(default_factory=list)
    digest: str = ""
    cluster: Any = None
    read_committed: Any = False

    def report(self) -> Report:
        """``kl.check.analyze`` of the history."""
        return analyze(self.history, read_committed=self.read_committed)

    def row(self) -> dict[str, Any]:
        """One sweep row: verdict, totals, every anomaly count, how many faults, the digest."""
        report = self.report()
        counts = {k: report.counts[k] for k in KINDS}
        return {"verdict": report.verdict, "acknowledged": report.counts["acknowledged"],
                "read": report.counts["read"], **counts, "faults": len(self.faults), "digest": self.digest}

    def save(self, path: str | Path) -> Path:
        """The history as Parquet, with this run's metadata."""
        return self.history.save(path, metadata=self.metadata)

"""One recorder for every metric and event of a run, turned into tidy pandas DataFrames.

Components call ``metrics.record(node, metric, value, **labels)``; the recorder stamps the virtual time. Rows are kept as
plain tuples (cheap on hot paths) and become a DataFrame only in :meth:`Metrics.to_frame`, with the columns
``time_ms, node, metric, value`` and one column per label name seen (missing labels are NA). Plots, checkers and
notebooks read those frames; nothing scrapes logs (DESIGN.md principle 5).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from kafkalab.sim.kernel import Kernel

__all__ = ["Metrics"]


class Metrics:
    """Append-only recorder of (time_ms, node, metric, value, labels)."""

    def __init__(self, kernel: Kernel, enabled: bool = True) -> None:
        self.kernel = kernel
        self.enabled = enabled
        self._rows: list[tuple[float, Any, str, Any, dict[str, Any] | None]] = []

    def record(self, node: Any, metric: str, value: Any, **labels: Any) -> None:
        """Record ``value`` of ``metric`` on ``node`` at the current virtual time."""
        if self.enabled:
            self._rows.append((self.kernel.now, node, metric, value, labels or None))

    def __len__(self) -> int:
        return len(self._rows)

    def to_frame(self, metric: str | None = None) -> pd.DataFrame:
        """Tidy DataFrame of every row (or of one metric): time_ms, node, metric, value, then the label columns."""
        import pandas as pd

        rows = self._rows if metric is None else [r for r in self._rows if r[2] == metric]
        label_names: dict[str, None] = {}
        for row in rows:
            if row[4]:
                for name in row[4]:
                    label_names[name] = None
        columns: dict[str, list[Any]] = {"time_ms": [], "node": [], "metric": [], "value": []}
        for name in label_names:
            columns[name] = []
        for time_ms, node, name_, value, labels in rows:
            columns["time_ms"].append(time_ms)
            columns["node"].append(node)
            columns["metric"].append(name_)
            columns["value"].append(value)
            for name in label_names:
                columns[name].append(labels.get(name) if labels else None)
        return pd.DataFrame(columns)

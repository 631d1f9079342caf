"""The verdict of :func:`kafkalab.check.analyze`: a :class:`Report` with the anomalies as a DataFrame.

A report is plain data (a verdict, anomaly rows, counts) so it pickles, compares and prints anywhere; its rich display
in JupyterLab (``_repr_html_``) is a summary table and, when the analysis found a dependency cycle between
transactions, a drawing of the first cycle (networkx laid out on a matplotlib ``Figure``, embedded as a PNG), the way
Jepsen's Kafka checker renders the cycles Elle finds.

Kinds follow Jepsen's ``jepsen.tests.kafka`` (in snake case) and, for cycles, Adya's names as Elle prints them
(G0: a write cycle; G1c: circular information flow; G-single: one anti-dependency; G2: several); ``G1c-ww`` is
Adya's G1c through ww edges, which Kafka's unisolated writes allow (see :mod:`kafkalab.check.txn_checks`).
"""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Report", "KINDS", "QUEUE_KINDS", "TXN_KINDS", "CYCLE_KINDS", "INFORMATIONAL", "VERDICTS",
           "ANOMALY_COLUMNS"]

#: Anomalies of any Kafka-like queue (sends and polls).
QUEUE_KINDS = ("lost_write", "unseen", "duplicate", "inconsistent_offsets", "failed_write_read",
               "nonmonotonic_send", "nonmonotonic_poll", "int_nonmonotonic_poll", "poll_skip", "int_poll_skip")
#: Anomalies of transactions judged at read_committed.
TXN_KINDS = ("aborted_read", "torn_transaction", "precommitted_read")
#: Dependency cycles between transactions.
CYCLE_KINDS = ("G0", "G1c", "G1c-ww", "G-single", "G2")
KINDS = QUEUE_KINDS + TXN_KINDS + CYCLE_KINDS
#: Kinds that do not make a history invalid unless asked: ``unseen`` writes may simply not have been read yet;
#: Kafka's transactions do not prevent write cycles (G0): two transactions writing the same two partitions may land in
#: opposite orders in each (Jepsen's Redpanda 21.10.1 analysis on write isolation in Kafka's transaction model, and
#: Redpanda's answer on write-write conflicts in the Kafka protocol), nor, for the same reason, cycles of ww and wr
#: edges together (G1c-ww; Jepsen's Kafka checker allows G1c when it infers ww edges); and read_committed promises
#: no atomic snapshot across partitions (each partition's last stable offset moves with its own marker), so a poll
#: may see one partition's part of a transaction before another's: the anti-dependency cycles G-single and G2.
#: Circular information flow through reads alone (G1c), aborted, torn and precommitted reads stay violations.
INFORMATIONAL = ("unseen", "G0", "G1c-ww", "G-single", "G2")
VERDICTS = ("valid", "invalid", "unknown")
ANOMALY_COLUMNS = ("kind", "process", "topic", "partition", "key", "value", "offset", "ops", "detail")


@dataclass
class Report:
    """What :func:`~kafkalab.check.analyze` concluded about one history.

    ``verdict`` is ``"invalid"`` when an anomaly of a kind outside ``allowed`` was found, ``"unknown"`` when there was
    nothing to judge (no acknowledged write, or writes but no read at all), else ``"valid"``. ``anomalies`` has one
    row per anomaly (:data:`ANOMALY_COLUMNS`; ``ops`` holds the ids of the operations involved, which
    :meth:`History.ops <kafkalab.check.History.ops>` resolves). ``counts`` maps every kind to its number and adds
    ``acknowledged``, ``read``, ``transactions``, ``read_committed_processes``. ``cycles`` lists each cycle as
    its edges ``(from op, to op, relation)``.
    """

    verdict: str
    anomalies: pd.DataFrame
    counts: dict[str, int]
    allowed: tuple[str, ...] = INFORMATIONAL
    cycles: list[list[tuple[int, int, str]]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True unless the verdict is ``"invalid"`` (an ``"unknown"`` history is not known to be wrong)."""
        return self.verdict != "invalid"

    def count(self, kind: str) -> int:
        """How many anomalies of ``kind`` (one of :data:`KINDS`) were found."""
        check_kind("kind", kind)
        return int(self.counts[kind])

    def of(self, kind: str) -> pd.DataFrame:
        """The anomaly rows of one kind."""
        check_kind("kind", kind)
        return self.anomalies[self.anomalies["kind"] == kind].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """One row per kind found (or every kind when none was): kind, count, and whether it is allowed."""
        import pandas as pd

        rows = [(k, self.counts[k], k in self.allowed) for k in KINDS if self.counts[k]]
        return pd.DataFrame(rows, columns=["kind", "count", "allowed"])

    def __repr__(self) -> str:
        found = ", ".join(f"{k}={self.counts[k]}" for k in KINDS if self.counts[k]) or "no anomalies"
        return (f"Report(verdict={self.verdict!r}, {found}; acknowledged={self.counts['acknowledged']}, "
                f"read={self.counts['read']})")

    def to_text(self, rows: int = 20) -> str:
        """A plain-text rendering: the verdict, the counts and the first ``rows`` anomalies (for a terminal)."""
        lines = [repr(self)]
        if len(self.anomalies):
            with _wide_pandas():
                lines.append(self.anomalies.head(rows).to_string(index=False))
            if len(self.anomalies) > rows:
                lines.append(f"... {len(self.anomalies) - rows} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"valid": "#2e7d32", "invalid": "#c62828", "unknown": "#9e6a00"}[self.verdict]
        totals = ", ".join(f"{k} {self.counts[k]:,}" for k in ("acknowledged", "read", "transactions"))
        parts = [f"<div><b style='color:{colour}'>{html.escape(self.verdict.upper())}</b> &nbsp; {totals}</div>"]
        summary = self.summary()
        if len(summary):
            parts.append(summary.to_html(index=False))
            parts.append(self.anomalies.head(10).to_html(index=False))
        else:
            parts.append("<div>no anomalies</div>")
        if self.cycles:
            parts.append(f"<img src='data:image/png;base64,{cycle_png(self.cycles[0])}'/>")
        return "\n".join(parts)


def cycle_png(edges: Sequence[tuple[int, int, str]]) -> str:
    """A drawing of one dependency cycle (operation ids as nodes, edges labelled ww / wr / rw), base64 PNG."""
    import networkx as nx
    from matplotlib.figure import Figure

    graph = nx.DiGraph()
    for a, b, rel in edges:
        graph.add_edge(f"op {a}", f"op {b}", rel=rel)
    fig = Figure(figsize=(3.6, 3.0), dpi=90)
    ax = fig.add_subplot()
    pos = nx.circular_layout(graph)
    nx.draw_networkx(graph, pos, ax=ax, node_color="#bbdefb", node_size=900, font_size=8, arrowsize=14,
                     connectionstyle="arc3,rad=0.15")
    nx.draw_networkx_edge_labels(graph, pos, ax=ax, font_size=8,
                                 edge_labels={(f"op {a}", f"op {b}"): rel for a, b, rel in edges})
    ax.set_axis_off()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def build_report(rows: Iterable[tuple[Any, ...]], totals: Mapping[str, int], allowed: Sequence[str],
                 cycles: list[list[tuple[int, int, str]]]) -> Report:
    """The report of ``rows`` (tuples in :data:`ANOMALY_COLUMNS` order) and ``totals`` (acknowledged, read, ...)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(rows), columns=list(ANOMALY_COLUMNS))
    frame = frame.astype({"partition": "Int64", "offset": "Int64"})
    counts = {k: 0 for k in KINDS}
    for kind, n in frame["kind"].value_counts().items():
        counts[str(kind)] = int(n)
    counts.update({k: int(v) for k, v in totals.items()})
    if any(counts[k] for k in KINDS if k not in allowed):
        verdict = "invalid"
    elif counts["acknowledged"] == 0 or counts["read"] == 0:
        verdict = "unknown"
    else:
        verdict = "valid"
    return Report(verdict, frame, counts, tuple(allowed), cycles)


def closest_hint(text: Any, options: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options`` to ``text``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(text), list(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_kind(name: str, kind: Any) -> None:
    """Raise a ValueError naming ``name``, the kinds and the closest one unless ``kind`` is in :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"{name} {kind!r} is not an anomaly kind{closest_hint(kind, KINDS)}; kinds: {', '.join(KINDS)}")


class _wide_pandas:
    def __enter__(self) -> None:
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_colwidth", 60)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

"""The control room's pictures: six live charts over virtual time, the topology, and the partition table.

The charts are inline SVG in an ``ipywidgets.HTML`` (:mod:`kafkalab.viz.svg_plot` says why: matplotlib's PNG path
costs 0.3-0.7 s for six scrolling axes, SVG a few milliseconds, and both need no JupyterLab extension). The topology is
the matplotlib drawing of :mod:`kafkalab.viz.topology` rendered to PNG for an ``ipywidgets.Image``, redrawn only when
what it shows changes (a :class:`~kafkalab.viz.topology.TopologyView` compared by value), so its 100-200 ms cost is
paid on a crash or an election, not every frame. The partition table is HTML with offline partitions (red) and
under-replicated ones (amber) highlighted.
"""
from __future__ import annotations

import html
import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from kafkalab.viz.svg_plot import Series, svg_chart
from kafkalab.viz.topology import draw_topology

__all__ = ["RoomPlots", "TopologyPicture", "partition_table_html", "actions_html"]

_PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _png(fig: Figure, dpi: float) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class RoomPlots:
    """Six charts over the last ``window_s`` seconds of virtual time, as one HTML block of SVGs."""

    def __init__(self, *, window_s: float = 60.0, width: int = 310, height: int = 175) -> None:
        self.window_s = float(window_s)
        self.width, self.height = width, height
        self.renders = 0

    def html(self, samples: pd.DataFrame, lag: pd.DataFrame, isr: pd.DataFrame, now_ms: float) -> str:
        """The six charts for the state at ``now_ms``."""
        self.renders += 1
        t_end = now_ms / 1000.0
        t0 = max(0.0, t_end - self.window_s)
        xlim = (t0, max(t_end, t0 + 1.0))
        recent = samples[samples["time_ms"] >= t0 * 1000.0]
        x = (recent["time_ms"].to_numpy() / 1000.0).tolist()

        def col(name: str) -> list[float]:
            return pd.to_numeric(recent[name], errors="coerce").to_numpy(dtype=float).tolist()

        size: dict[str, Any] = {"width": self.width, "height": self.height}
        charts = [
            svg_chart("throughput (records/s)", [
                Series("produced (acked)", x, col("produced_per_s"), "#1f77b4"),
                Series("consumed", x, col("consumed_per_s"), "#2ca02c"),
                Series("produce errors", x, col("produce_errors_per_s"), "#d62728")], xlim=xlim, **size),
            svg_chart("end-to-end latency (ms)", [
                Series("p50", x, col("e2e_p50_ms"), "#1f77b4"),
                Series("p99", x, col("e2e_p99_ms"), "#ff7f0e")], xlim=xlim, **size),
            svg_chart("consumer lag (records)", self._lag_series(lag, t0), xlim=xlim, **size),
            svg_chart("partitions of the topic", [
                Series("under-replicated", x, col("under_replicated"), "#ff7f0e", step=True),
                Series("offline", x, col("offline"), "#d62728", step=True)], xlim=xlim, y_integer=True,
                xlabel="virtual time (s)", **size),
            svg_chart("ISR size per partition", self._isr_series(isr, t0), xlim=xlim, y_integer=True,
                      ylim=(0.0, max(3.5, float(isr["isr"].max()) + 0.5 if len(isr) else 3.5)),
                      xlabel="virtual time (s)", **size),
            self._controller_chart(recent, x, xlim, size),
        ]
        cells = "".join(f"<div>{c}</div>" for c in charts)
        return (f"<div class='room-charts' style='display:grid;grid-template-columns:repeat(3, {self.width}px);"
                f"gap:4px 10px'>{cells}</div>")

    def _lag_series(self, lag: pd.DataFrame, t0: float) -> list[Series]:
        recent = lag[lag["time_ms"] >= t0 * 1000.0]
        out = []
        for i, (group, rows) in enumerate(recent.groupby("group", sort=True)):
            out.append(Series(f"group {group}", (rows["time_ms"].to_numpy() / 1000.0).tolist(),
                              rows["lag"].to_numpy(dtype=float).tolist(), _PALETTE[i % len(_PALETTE)]))
        return out

    def _isr_series(self, isr: pd.DataFrame, t0: float) -> list[Series]:
        recent = isr[isr["time_ms"] >= t0 * 1000.0]
        partitions = sorted(recent["partition"].unique()) if len(recent) else []
        out = []
        for i, p in enumerate(partitions):
            rows = recent[recent["partition"] == p]
            # Partitions of equal ISR size would hide each other: each is lifted by a small fixed offset.
            offset = 0.07 * (i - (len(partitions) - 1) / 2)
            out.append(Series(f"p{p}", (rows["time_ms"].to_numpy() / 1000.0).tolist(),
                              rows["isr"].to_numpy(dtype=float).tolist(), _PALETTE[i % len(_PALETTE)], step=True,
                              offset=offset))
        return out

    def _controller_chart(self, recent: pd.DataFrame, x: list[float], xlim: tuple[float, float],
                          size: dict[str, Any]) -> str:
        active = pd.to_numeric(recent["active_controller"], errors="coerce").to_numpy(dtype=float)
        epoch = pd.to_numeric(recent["metadata_epoch"], errors="coerce").to_numpy(dtype=float)
        ids = active[~np.isnan(active)]
        # Controller ids (1000, 1001, ...) and epochs (1, 2, ...) share no scale: plot the controller as its index
        # and say which is which in the title.
        base = float(ids.min()) if len(ids) else 0.0
        label = "active controller (1000 + y)" if base >= 1000 else "active controller"
        shift = 1000.0 if base >= 1000 else 0.0
        top = max([3.5, *(active[~np.isnan(active)] - shift + 0.5), *(epoch[~np.isnan(epoch)] + 0.5)])
        return svg_chart("controller quorum", [
            Series(label, x, (active - shift).tolist(), "#9467bd", step=True),
            Series("metadata epoch", x, epoch.tolist(), "#7f7f7f", step=True, dash="4 2")],
            xlim=xlim, ylim=(-0.5, top), y_integer=True, xlabel="virtual time (s)", **size)


class TopologyPicture:
    """The topology drawing, re-rendered only when the view it shows changes."""

    def __init__(self, *, figsize: tuple[float, float] = (6.2, 4.6), dpi: float = 80) -> None:
        self.fig = Figure(figsize=figsize, dpi=dpi)
        self.dpi = dpi
        self._key: Any = None
        self._png = b""
        self.renders = 0

    @staticmethod
    def key(view: Any) -> Any:
        return (tuple(map(str, view.controllers)), tuple(map(str, view.brokers)), tuple(map(str, view.clients)),
                view.active_controller, tuple(sorted(map(str, view.down))),
                tuple(sorted(tuple(sorted(map(str, c))) for c in view.cuts)),
                tuple(sorted(map(str, view.paused))),
                tuple((p.topic, p.partition, p.leader, tuple(p.replicas), tuple(p.isr)) for p in view.partitions))

    def png(self, view: Any, title: str) -> bytes:
        """PNG of the view (cached while the view is unchanged; the title alone does not trigger a redraw)."""
        key = self.key(view)
        if key != self._key:
            draw_topology(view, self.fig, title=title)
            self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
            self._png = _png(self.fig, self.dpi)
            self._key = key
            self.renders += 1
        return self._png


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "&ndash;"
    return html.escape(str(value))


_HEADERS = {"partition": "partition", "leader": "leader", "leader_epoch": "epoch", "replicas": "replicas",
            "isr": "ISR", "elr": "ELR", "last_known_elr": "last known ELR", "high_watermark": "HW",
            "log_end_offset": "LEO", "last_stable_offset": "LSO"}


def partition_table_html(frame: pd.DataFrame, title: str = "") -> str:
    """The partition table as HTML: offline partitions red, under-replicated ones amber."""
    if frame.empty:
        return "<i>no topic yet</i>"
    style = "padding:1px 6px;white-space:nowrap"
    head = "".join(f"<th style='{style}'>{html.escape(_HEADERS.get(str(c), str(c)))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.to_dict("records"):
        offline = rec.get("leader") is None or (isinstance(rec.get("leader"), float) and np.isnan(rec["leader"]))
        urp = len(rec.get("isr") or ()) < len(rec.get("replicas") or ())
        colour = "#f8d0d0" if offline else "#fde9c4" if urp else "transparent"
        cells = "".join(f"<td style='{style};text-align:center'>{_cell(rec[c])}</td>" for c in frame.columns)
        rows.append(f"<tr class='room-partition' style='background:{colour}'>{cells}</tr>")
    caption = f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>" if title else ""
    return (f"<table class='room-partitions' style='border-collapse:collapse;font-size:12px'>{caption}"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def actions_html(rows: list[tuple[float, str]], limit: int = 8) -> str:
    """The last ``limit`` lines of the room's log (actions and scenario notes), newest last."""
    shown = rows[-limit:]
    if not shown:
        return "<i>no actions yet</i>"
    items = "".join(f"<div><code>{t / 1000:8.1f} s</code> {html.escape(text)}</div>" for t, text in shown)
    return f"<div class='room-log' style='font-size:12px'>{items}</div>"

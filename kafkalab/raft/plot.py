"""Timelines of a KRaft quorum: one lane per node, coloured by role, leader spans labelled with their epoch.

Uses matplotlib's object API only (a :class:`~matplotlib.figure.Figure`, never pyplot state), so figures render the
same in notebooks, under nbval and in tests. :func:`plot_timeline` draws once; :func:`live_timeline` ties a
:class:`~kafkalab.viz.live.LiveFigure` to the cluster's kernel and redraws as the simulation runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from kafkalab.raft.playground import RaftCluster
    from kafkalab.viz.live import LiveFigure

__all__ = ["ROLE_COLORS", "draw_timeline", "plot_timeline", "live_timeline"]

ROLE_COLORS: dict[str, str] = {
    "leader": "#d62728",
    "follower": "#1f77b4",
    "candidate": "#ff7f0e",
    "prospective": "#ffbb78",
    "voted": "#9edae5",
    "unattached": "#c7c7c7",
    "resigned": "#9467bd",
    "crashed": "#222222",
}


def draw_timeline(ax: Axes, rc: RaftCluster, *, until_ms: float | None = None, since_ms: float = 0.0) -> None:
    """Draw ``rc``'s role timeline on ``ax`` (x: virtual time in seconds, y: nodes)."""
    end = rc.now if until_ms is None else until_ms
    rows = rc._timeline  # (time_ms, node, role, epoch, leader), in time order
    lanes = {node: i for i, node in enumerate(rc.nodes)}
    open_span: dict[int, tuple[float, str, int]] = {}
    spans: dict[str, list[tuple[int, float, float]]] = {}
    labels: list[tuple[float, int, int]] = []

    def close(node: int, stop: float) -> None:
        start, role, epoch = open_span.pop(node)
        lo, hi = max(start, since_ms), min(stop, end)
        if hi > lo or (hi == lo and role == "leader"):
            spans.setdefault(role, []).append((lanes[node], lo, hi - lo))
            if role == "leader":
                labels.append((lo, lanes[node], epoch))

    for time_ms, node, role, epoch, _leader in rows:
        if time_ms > end:
            break
        if node in open_span:
            close(node, time_ms)
        open_span[node] = (time_ms, role, epoch)
    for node in list(open_span):
        close(node, end)
    for role, items in spans.items():
        color = ROLE_COLORS.get(role, "#bbbbbb")
        for lane, lo, width in items:
            ax.broken_barh([(lo / 1000.0, max(width, 1e-9) / 1000.0)], (lane - 0.4, 0.8), facecolors=color)
    for lo, lane, epoch in labels:
        ax.text(lo / 1000.0, lane, f" e{epoch}", va="center", ha="left", fontsize=7, color="white")
    ax.set_yticks(range(len(lanes)), [f"node {n}" + ("" if n in rc.voters else " (obs)") for n in lanes])
    ax.set_xlim(since_ms / 1000.0, max(end, since_ms + 1.0) / 1000.0)
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("virtual time (s)")
    present = [r for r in ROLE_COLORS if r in spans]
    ax.legend(handles=[Patch(color=ROLE_COLORS[r], label=r) for r in present], loc="upper left",
              bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def plot_timeline(rc: RaftCluster, *, until_ms: float | None = None, since_ms: float = 0.0,
                  figsize: tuple[float, float] = (9.0, 3.0), title: str | None = None) -> Figure:
    """A new Figure with ``rc``'s role timeline."""
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    draw_timeline(ax, rc, until_ms=until_ms, since_ms=since_ms)
    ax.set_title(title if title is not None else f"KRaft roles (seed {rc.seed})", fontsize=9)
    return fig


def live_timeline(rc: RaftCluster, *, period_ms: float = 100.0, window_ms: float | None = None,
                  figsize: tuple[float, float] = (9.0, 3.0), **live_kwargs: Any) -> LiveFigure:
    """A LiveFigure that redraws the timeline every ``period_ms`` of virtual time (optionally a sliding window).

    Call ``.close()`` (or use it as a context manager) after the run for the final frame.
    """
    from kafkalab.viz.live import LiveFigure

    live = LiveFigure(figsize=figsize, **live_kwargs)

    def draw(fig: Figure, now_ms: float) -> None:
        fig.clear()
        ax = fig.add_subplot()
        since = 0.0 if window_ms is None else max(0.0, now_ms - window_ms)
        draw_timeline(ax, rc, until_ms=now_ms, since_ms=since)
        ax.set_title(f"KRaft roles at t={now_ms / 1000.0:.1f} s (seed {rc.seed})", fontsize=9)

    live.every(rc.kernel, period_ms, draw, name="raft-live-timeline")
    return live

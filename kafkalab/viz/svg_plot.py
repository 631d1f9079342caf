"""Small line charts as inline SVG text: what the control room redraws several times a second.

Why not matplotlib here. The room's six live plots scroll with virtual time, so every frame changes every axis and its
tick labels. Rendered with matplotlib's Agg into a PNG, six small axes took 0.3-0.7 s per frame on the 2-core
reference machine (text layout of about 200 tick labels dominates; blitting does not help when the axes scroll),
i.e. one or two frames a second. The same picture as SVG is a few kilobytes of text built in a few milliseconds; the
browser draws it natively, it stays sharp at any zoom, it needs nothing beyond an ``ipywidgets.HTML`` (no JupyterLab
extension, no build step), and a test reads it as text (the polyline points are in it). The static figures of the
notebooks and the topology picture stay matplotlib.

:func:`svg_chart` draws one chart: a frame, "nice" ticks (steps of 1, 2, 2.5 or 5 times a power of ten) on both axes, one polyline per
:class:`Series` (broken at NaN, optionally as steps), and a one-line legend of coloured labels under the title.
"""
from __future__ import annotations

import html
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Series", "nice_ticks", "svg_chart"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``x`` and ``y`` of equal length (NaN in ``y`` breaks the line); ``step``: hold each value until the
    next x (a state, not a rate); ``dash``: an SVG dash pattern such as ``"4 2"``."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str
    step: bool = False
    dash: str | None = None
    offset: float = 0.0          # added to y when drawn (to keep equal lines apart); ticks are not shifted


def nice_ticks(lo: float, hi: float, count: int = 4, *, integer: bool = False) -> list[float]:
    """Round tick values covering [lo, hi], about ``count`` of them, on steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(0.0 if abs(value) < 1e-12 * step else value)
        value += step
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if magnitude >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2g}"


def _points(series: Series, xmap: object, ymap: object) -> list[str]:
    """Polyline point lists (one per NaN-free run)."""
    runs: list[str] = []
    current: list[str] = []
    xs, ys = list(series.x), list(series.y)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if y is None or not math.isfinite(float(y)):
            if current:
                runs.append(" ".join(current))
                current = []
            continue
        px, py = xmap(float(x)), ymap(float(y) + series.offset)  # type: ignore[operator]
        if series.step and current and i > 0:
            current.append(f"{px:.1f},{current[-1].split(',')[1]}")
        current.append(f"{px:.1f},{py:.1f}")
    if current:
        runs.append(" ".join(current))
    return runs


def svg_chart(title: str, series: Sequence[Series], *, xlim: tuple[float, float],
              ylim: tuple[float, float] | None = None, width: int = 310, height: int = 180,
              y_integer: bool = False, xlabel: str | None = None, ylim_min: float = 1.0) -> str:
    """One line chart as an ``<svg>`` element (a string). ``ylim`` defaults to [0, max(data, ylim_min)] padded 10%."""
    left, right, top, bottom = 38, 8, 34, 18 if xlabel is None else 28
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = xlim
    if x1 <= x0:
        x1 = x0 + 1.0
    if ylim is None:
        values = [float(v) + s.offset for s in series for v in s.y if v is not None and math.isfinite(float(v))]
        hi = max([ylim_min, *values]) * 1.1
        ylim = (0.0, hi)
    y0, y1 = ylim
    if y1 <= y0:
        y1 = y0 + 1.0

    def xmap(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def ymap(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' class='room-chart' font-family='sans-serif'>",
             f"<text x='{left}' y='12' font-size='11' font-weight='bold'>{html.escape(title)}</text>"]
    lx = float(left)
    for s in series:
        label = html.escape(s.label)
        parts.append(f"<text x='{lx:.0f}' y='26' font-size='9' fill='{s.color}'>&#9644; {label}</text>")
        lx += 14 + 5.2 * len(s.label)
    parts.append(f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='white' stroke='#999' "
                 f"stroke-width='0.8'/>")
    for t in nice_ticks(y0, y1, 4, integer=y_integer):
        y = ymap(t)
        parts.append(f"<line x1='{left}' x2='{left + pw}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e4e4' "
                     f"stroke-width='0.7'/><text x='{left - 3}' y='{y + 3:.1f}' font-size='9' "
                     f"text-anchor='end' fill='#444'>{_fmt(t)}</text>")
    for t in nice_ticks(x0, x1, 5):
        x = xmap(t)
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{top + ph}' stroke='#eeeeee' "
                     f"stroke-width='0.7'/><text x='{x:.1f}' y='{top + ph + 11}' font-size='9' "
                     f"text-anchor='middle' fill='#444'>{_fmt(t)}</text>")
    if xlabel:
        parts.append(f"<text x='{left + pw / 2}' y='{height - 3}' font-size='9' text-anchor='middle' "
                     f"fill='#444'>{html.escape(xlabel)}</text>")
    clip_id = f"room-clip-{zlib.crc32(f'{title}/{width}x{height}'.encode()):08x}"   # same in every process
    parts.append(f"<clipPath id='{clip_id}'><rect x='{left}' y='{top}' width='{pw}' height='{ph}'/></clipPath>")
    clip = f"url(#{clip_id})"
    for s in series:
        dash = f" stroke-dasharray='{s.dash}'" if s.dash else ""
        for run in _points(s, xmap, ymap):
            parts.append(f"<polyline class='room-series' data-label='{html.escape(s.label)}' points='{run}' "
                         f"fill='none' stroke='{s.color}' stroke-width='1.6'{dash} clip-path='{clip}'/>")
    parts.append("</svg>")
    return "".join(parts)

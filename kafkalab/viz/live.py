"""Live figures that redraw in place while a simulation runs, in JupyterLab and under nbclient/papermill/nbval.

How it works. A :class:`LiveFigure` owns one matplotlib :class:`~matplotlib.figure.Figure` (object API, no pyplot
state) and one IPython display handle (``display(..., display_id=True)``). Each :meth:`LiveFigure.update` renders the
figure to PNG and replaces the handle's output, so the notebook keeps a single output that changes in place; saved
notebooks and nbval see one stable output per figure (``clear_output`` loops would not be).

Rendering is throttled in wall time (``min_interval_s``; the wall clock is allowed here, in viz/ only, and never
touches the simulation); :meth:`LiveFigure.close` always renders the final state. :meth:`LiveFigure.every` ties the
figure to a simulation kernel: a ``sample`` callback runs every ``period_ms`` of virtual time (cheap: collect numbers),
the ``draw`` callback only when a render is due. The kernel is duck-typed: anything with ``now`` and
``schedule(delay_ms, callback, name=...)`` returning a timer with ``cancel()``.

Pacing. A simulation runs far faster than real time, so an unpaced live run is over before a person sees it. With
``speed`` (virtual seconds per wall second, e.g. 20 plays a 120 s run in 6 s) each tick of :meth:`LiveFigure.every`
first sleeps until its virtual time is due on the wall clock, so the figure plays at that speed and renders about
every ``min_interval_s``; a tick that is already late does not sleep (a slow machine plays slower, never skips).
Notebooks put the speed in their parameters cell. ``KAFKALAB_PACING=off`` in the environment switches pacing off
everywhere (the test runners set it: nbval and the browser test need the results, not the show). Pacing only
sleeps: the simulation, its events and its results are the same with and without it.

Outside IPython (plain scripts, unit tests) nothing is displayed; renders still happen and are counted.
"""
from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

__all__ = ["LiveFigure", "LogPlot", "Ticker", "pacing_enabled"]

DrawFn = Callable[[Figure, float], None]
SampleFn = Callable[[float], None]


def pacing_enabled() -> bool:
    """False when ``KAFKALAB_PACING`` is ``off`` (or ``0``, ``false``, ``no``) in the environment."""
    return os.environ.get("KAFKALAB_PACING", "on").strip().lower() not in ("off", "0", "false", "no")


def size_label(size_bytes: float) -> str:
    """A byte count for a label: bytes under 1 KiB (a compacted segment of 300 bytes is not "0 KiB"), one decimal
    under 10 KiB, whole KiB above."""
    if size_bytes < 1024:
        return f"{size_bytes:.0f} B"
    kib = size_bytes / 1024
    return f"{kib:.1f} KiB" if kib < 10 else f"{kib:.0f} KiB"


class _NullHandle:
    """Stand-in display handle when there is no IPython kernel."""

    def update(self, obj: Any) -> None:
        pass


def _default_handle(obj: Any) -> Any:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return _NullHandle()
    if get_ipython() is None:
        return _NullHandle()
    handle = display(obj, display_id=True)
    return handle if handle is not None else _NullHandle()


class Ticker:
    """A periodic callback on a kernel's virtual clock; ``cancel()`` stops it."""

    def __init__(self, kernel: Any, period_ms: float, callback: Callable[[float], None], name: str) -> None:
        if period_ms <= 0:
            raise ValueError(f"period_ms must be > 0, got {period_ms}")
        self.kernel = kernel
        self.period_ms = period_ms
        self.callback = callback
        self.name = name
        self.ticks = 0
        self._timer: Any = kernel.schedule(period_ms, self._tick, name=name)

    def _tick(self) -> None:
        self.ticks += 1
        self._timer = self.kernel.schedule(self.period_ms, self._tick, name=self.name)
        self.callback(self.kernel.now)

    @property
    def active(self) -> bool:
        return self._timer is not None

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class LiveFigure:
    """One figure, one display handle, throttled PNG updates; with ``speed``, paced to that many virtual seconds per
    wall second (see the module docstring).

    >>> live = LiveFigure(figsize=(8, 3))
    >>> ax = live.fig.add_subplot()
    >>> live.update(force=True)
    True
    >>> live.close()
    """

    def __init__(self, fig: Figure | None = None, *, figsize: tuple[float, float] = (9.0, 4.0), dpi: int = 90,
                 min_interval_s: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 handle_factory: Callable[[Any], Any] | None = None, speed: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if speed is not None and (isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0):
            raise ValueError(f"speed must be a positive number of virtual seconds per wall second, or None (as "
                             f"fast as possible), got {speed!r}")
        self.speed = float(speed) if speed is not None and pacing_enabled() else None
        self._sleep = sleep
        self._pace_origin: tuple[float, float] | None = None    # (virtual ms, wall s) of the first paced tick
        self.slept_s = 0.0
        self.fig = fig if fig is not None else Figure(figsize=figsize, dpi=dpi, layout="constrained")
        self.dpi = dpi
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._handle_factory = handle_factory if handle_factory is not None else _default_handle
        self._handle: Any = None
        self._last_render_s: float | None = None
        self._draw: Callable[[], None] | None = None
        self._tickers: list[Ticker] = []
        self.renders = 0
        self.closed = False

    # ---- rendering ------------------------------------------------------------------------------------------------
    def png(self) -> bytes:
        """The figure rendered to PNG bytes."""
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=self.dpi)
        return buf.getvalue()

    def _image(self) -> Any:
        from IPython.display import Image
        return Image(data=self.png(), format="png")

    def show(self) -> LiveFigure:
        """Create the display output now (otherwise the first update does)."""
        if self._handle is None:
            if self._draw is not None:
                self._draw()
            self._handle = self._handle_factory(self._image())
            self._last_render_s = self._clock()
            self.renders += 1
        return self

    def due(self) -> bool:
        """Whether a non-forced update would render now."""
        return self._last_render_s is None or self._clock() - self._last_render_s >= self.min_interval_s

    def update(self, force: bool = False) -> bool:
        """Redraw (via the ``every`` draw callback, if any) and push a PNG, unless throttled. Returns whether it did."""
        if self.closed:
            return False
        if not force and not self.due():
            return False
        if self._handle is None:
            self.show()
            return True
        if self._draw is not None:
            self._draw()
        self._handle.update(self._image())
        self._last_render_s = self._clock()
        self.renders += 1
        return True

    # ---- simulation hook ------------------------------------------------------------------------------------------
    def every(self, kernel: Any, period_ms: float, draw: DrawFn, *, sample: SampleFn | None = None,
              name: str = "live-figure") -> Ticker:
        """Every ``period_ms`` of virtual time call ``sample(now_ms)``, then render if due (``draw(fig, now_ms)``).

        ``draw`` also runs for the final render in :meth:`close`. Returns the ticker (``cancel()`` to stop early).
        """
        def redraw() -> None:
            draw(self.fig, float(kernel.now))

        self._draw = redraw

        def tick(now_ms: float) -> None:
            if sample is not None:
                sample(now_ms)
            self.pace(now_ms)
            self.update()

        if sample is not None:
            sample(float(kernel.now))
        ticker = Ticker(kernel, period_ms, tick, name)
        self._tickers.append(ticker)
        return ticker

    def pace(self, now_ms: float) -> float:
        """Sleep until virtual time ``now_ms`` is due at this figure's ``speed``; returns the seconds slept (0 when
        unpaced or late). The first call sets the origin."""
        if self.speed is None:
            return 0.0
        if self._pace_origin is None:
            self._pace_origin = (now_ms, self._clock())
            return 0.0
        origin_ms, origin_s = self._pace_origin
        delay = origin_s + (now_ms - origin_ms) / 1000.0 / self.speed - self._clock()
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        self.slept_s += delay
        return delay

    def close(self) -> None:
        """Stop the tickers and render the final state (always, regardless of throttling)."""
        if self.closed:
            return
        for ticker in self._tickers:
            ticker.cancel()
        self._tickers.clear()
        self.update(force=True)
        self.closed = True

    finish = close

    def __enter__(self) -> LiveFigure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogPlot:
    """A live picture of one partition log: its segments, log start/end offsets and bytes over virtual time.

    Duck-typed on the log (``segments`` with ``base_offset``/``size_bytes``, ``log_start_offset``,
    ``log_end_offset``, ``size_bytes``). ``sample`` collects one point, ``draw`` redraws the figure; pass them to
    :meth:`LiveFigure.every`, or call :meth:`attach`.
    """

    def __init__(self, log: Any, *, title: str = "partition log", extra: Callable[[Any], float] | None = None,
                 extra_label: str = "") -> None:
        self.log = log
        self.title = title
        self.extra = extra
        self.extra_label = extra_label
        self.times_s: list[float] = []
        self.start_offsets: list[int] = []
        self.end_offsets: list[int] = []
        self.sizes_kib: list[float] = []
        self.segment_counts: list[int] = []
        self.extras: list[float] = []

    def sample(self, now_ms: float) -> None:
        log = self.log
        self.times_s.append(now_ms / 1000.0)
        self.start_offsets.append(log.log_start_offset)
        self.end_offsets.append(log.log_end_offset)
        self.sizes_kib.append(log.size_bytes / 1024.0)
        self.segment_counts.append(len(log.segments))
        if self.extra is not None:
            self.extras.append(self.extra(log))

    def attach(self, live: LiveFigure, kernel: Any, period_ms: float) -> Ticker:
        return live.every(kernel, period_ms, self.draw, sample=self.sample, name=f"plot:{self.title}")

    def draw(self, fig: Figure, now_ms: float) -> None:
        fig.clear()
        # A fixed layout renders about twice as fast as constrained layout, which matters at every live update.
        fig.set_layout_engine("none")
        grid = fig.add_gridspec(2, 2, width_ratios=(1.1, 1.0), left=0.07, right=0.92, bottom=0.12, top=0.92,
                                wspace=0.28, hspace=0.3)
        ax_seg = fig.add_subplot(grid[:, 0])
        ax_off = fig.add_subplot(grid[0, 1])
        ax_size = fig.add_subplot(grid[1, 1], sharex=ax_off)
        self._draw_segments(ax_seg, now_ms)
        ax_off.plot(self.times_s, self.end_offsets, label="log end offset", color="tab:blue")
        ax_off.plot(self.times_s, self.start_offsets, label="log start offset", color="tab:red")
        ax_off.set_ylabel("offset")
        ax_off.legend(loc="upper left", fontsize="small")
        ax_size.plot(self.times_s, self.sizes_kib, color="tab:green", label="log size (KiB)")
        ax_size.set_ylabel("KiB")
        ax_size.set_xlabel("virtual time (s)")
        if self.extras:
            twin = ax_size.twinx()
            twin.plot(self.times_s, self.extras, color="tab:purple", linestyle="--", label=self.extra_label)
            twin.set_ylabel(self.extra_label)
            ax_size.legend([*ax_size.get_lines(), *twin.get_lines()], ["log size (KiB)", self.extra_label],
                           loc="upper left", fontsize="small")
        else:
            ax_size.legend(loc="upper left", fontsize="small")

    def _draw_segments(self, ax: Any, now_ms: float) -> None:
        log = self.log
        segments = list(log.segments)
        end = log.log_end_offset
        for i, segment in enumerate(segments):
            upper = segments[i + 1].base_offset if i + 1 < len(segments) else end
            active = i == len(segments) - 1
            width = max(upper - segment.base_offset, 0.5)
            ax.barh(i, width, left=segment.base_offset, height=0.7,
                    color="tab:orange" if active else "tab:blue", alpha=0.55 + 0.45 * (segment.size_bytes > 0))
            if len(segments) <= 16:  # beyond that the labels only clutter
                label = size_label(segment.size_bytes) if segment.size_bytes else "empty"   # compacted away
                ax.text(segment.base_offset + width / 2, i, label, ha="center",
                        va="center", fontsize="x-small")
        ax.axvline(log.log_start_offset, color="tab:red", linewidth=1.5, label="log start offset")
        ax.axvline(end, color="tab:blue", linewidth=1.5, linestyle=":", label="log end offset")
        ax.set_xlabel("offset")
        ax.set_ylabel("segment (oldest at the bottom; orange = active)")
        ax.set_title(f"{self.title} at t = {now_ms / 1000:.0f} s: {len(segments)} segments")
        ax.legend(loc="lower right", fontsize="small")

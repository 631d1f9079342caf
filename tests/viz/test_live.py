"""LiveFigure: throttled in-place updates through one display handle, a final render on close, kernel ticks."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from kafkalab.viz import LiveFigure  # noqa: E402


class FakeHandle:
    def __init__(self, obj):
        self.shown = [obj]

    def update(self, obj):
        self.shown.append(obj)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def make(min_interval_s=1.0):
    clock = FakeClock()
    handles = []

    def factory(obj):
        handles.append(FakeHandle(obj))
        return handles[-1]

    return LiveFigure(min_interval_s=min_interval_s, clock=clock, handle_factory=factory), clock, handles


def test_updates_are_throttled_in_wall_time_and_close_always_renders():
    live, clock, handles = make()
    live.fig.add_subplot().plot([0, 1], [0, 1])
    assert live.update()           # first update displays
    assert not live.update()       # throttled
    clock.t = 1.0
    assert live.update()
    live.close()
    assert len(handles) == 1       # one display handle, updated in place
    assert len(handles[0].shown) == 3
    assert handles[0].shown[-1].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not live.update(force=True)  # closed


def test_every_samples_each_period_and_draws_when_due():
    from kafkalab.sim.kernel import Kernel

    kernel = Kernel(seed=0)
    live, clock, handles = make()
    samples, draws = [], []
    ax = live.fig.add_subplot()

    def draw(fig, now_ms):
        draws.append(now_ms)
        ax.clear()
        ax.plot(range(len(samples)), samples)

    ticker = live.every(kernel, 100, draw, sample=samples.append)
    kernel.run(1000)
    assert samples == [0.0] + [100.0 * i for i in range(1, 11)]
    assert draws == [100.0]        # the wall clock did not move: only the first render happened
    clock.t = 5.0
    kernel.run(100)
    assert draws == [100.0, 1100.0]
    live.close()
    assert draws[-1] == 1100.0 and not ticker.active
    kernel.run(1000)
    assert len(samples) == 12      # the ticker stopped with close()


def test_no_ipython_means_no_display_but_renders_still_count():
    with LiveFigure(min_interval_s=0) as live:
        live.fig.add_subplot().plot([1, 2])
        assert live.update()
    assert live.renders == 2 and live.closed


def test_ticker_rejects_bad_periods():
    from kafkalab.sim.kernel import Kernel

    live, _, _ = make()
    with pytest.raises(ValueError, match="period_ms must be > 0, got 0"):
        live.every(Kernel(seed=0), 0, lambda fig, now: None)


def test_log_plot_samples_and_draws_a_log():
    from kafkalab.log import LogConfig, PartitionLog, Record
    from kafkalab.sim.kernel import Kernel
    from kafkalab.viz import LogPlot

    kernel = Kernel(seed=0)
    log = PartitionLog(LogConfig(segment_bytes=300))
    live, clock, handles = make(min_interval_s=1)  # the fake clock stands still: first render and final only
    plot = LogPlot(log, title="t-0", extra=lambda lg: len(lg.segments), extra_label="segments")
    plot.attach(live, kernel, 100)

    def produce():
        log.append_as_leader([Record(b"k", b"v" * 50, int(kernel.now))], 0, now_ms=kernel.now)
        kernel.schedule(50, produce)

    kernel.schedule(0, produce)
    kernel.run(1000)
    live.close()
    assert (plot.end_offsets[-1], log.log_end_offset) == (20, 21)  # the tick at 1000 ms ran before the append
    assert plot.segment_counts[-1] == plot.extras[-1] == len(log.segments) - 1 == 10
    assert len(plot.times_s) == 11
    assert live.renders == 2 and len(handles[0].shown) == 2
    assert live.fig.axes[0].get_title() == f"t-0 at t = 1 s: {len(log.segments)} segments"

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


def paced(speed, min_interval_s=0.015):
    clock = FakeClock()
    handles = []

    def factory(obj):
        handles.append(FakeHandle(obj))
        return handles[-1]

    def sleep(seconds):
        clock.t += seconds

    live = LiveFigure(min_interval_s=min_interval_s, clock=clock, handle_factory=factory, speed=speed, sleep=sleep)
    return live, clock, handles


def test_a_paced_figure_plays_virtual_time_at_its_speed_and_renders_as_it_goes(monkeypatch):
    from kafkalab.sim.kernel import Kernel

    monkeypatch.delenv("KAFKALAB_PACING", raising=False)
    kernel = Kernel(seed=0)
    live, clock, handles = paced(speed=10)          # 10 virtual seconds per wall second
    live.fig.add_subplot()
    live.every(kernel, 100, lambda fig, now: None)
    kernel.run(2_000)
    # the first tick (100 ms) sets the origin; the last (2000 ms) is due 1.9 virtual s / 10 = 0.19 wall s later
    assert clock.t == pytest.approx(0.19) and live.slept_s == pytest.approx(0.19)
    assert live.renders == 10                       # one frame every other tick: 20 ms of wall time, 200 virtual ms
    live.close()
    assert len(handles) == 1 and len(handles[0].shown) == 11


def test_a_late_tick_does_not_sleep_and_pacing_never_changes_the_run(monkeypatch):
    from kafkalab.sim.kernel import Kernel

    monkeypatch.delenv("KAFKALAB_PACING", raising=False)
    live, clock, _ = paced(speed=1)
    assert live.pace(0.0) == 0.0                    # the origin
    clock.t = 5.0                                   # a slow render: 5 wall s for 1 virtual s
    assert live.pace(1_000.0) == 0.0
    assert live.pace(6_000.0) == pytest.approx(1.0)

    def run(speed):
        kernel = Kernel(seed=3)
        seen = []
        figure, _, _ = paced(speed)
        figure.every(kernel, 50, lambda fig, now: None, sample=lambda now: seen.append((now, kernel.rng("x").random())))
        kernel.run(1_000)
        return seen

    assert run(None) == run(4)


def test_pacing_is_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("KAFKALAB_PACING", "off")
    live, clock, _ = paced(speed=10)
    assert live.speed is None and live.pace(0) == 0.0 and live.pace(10_000) == 0.0 and clock.t == 0.0
    monkeypatch.setenv("KAFKALAB_PACING", "on")
    assert paced(speed=10)[0].speed == 10.0


@pytest.mark.parametrize("speed", [0, -1, "fast", True, float("nan")])
def test_a_bad_speed_is_refused_by_name(speed):
    with pytest.raises(ValueError, match=r"speed must be a positive number of virtual seconds per wall second, "
                                         r"or None \(as fast as possible\), got "):
        LiveFigure(speed=speed)


def test_segment_labels_say_bytes_when_a_segment_is_under_a_kibibyte():
    from kafkalab.viz.live import size_label

    assert [size_label(n) for n in (0, 300, 1023, 1024, 1536, 10 * 1024, 32_700)] == [
        "0 B", "300 B", "1023 B", "1.0 KiB", "1.5 KiB", "10 KiB", "32 KiB"]


def test_an_empty_compacted_segment_is_labelled_empty_and_a_small_one_in_bytes():
    from types import SimpleNamespace

    from matplotlib.figure import Figure

    from kafkalab.viz import LogPlot

    segments = [SimpleNamespace(base_offset=0, size_bytes=0), SimpleNamespace(base_offset=100, size_bytes=300),
                SimpleNamespace(base_offset=150, size_bytes=5000)]
    log = SimpleNamespace(segments=segments, log_start_offset=0, log_end_offset=200, size_bytes=5300)
    plot = LogPlot(log, title="users-0")
    plot.sample(1000.0)
    fig = Figure()
    plot.draw(fig, 1000.0)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["empty", "300 B", "4.9 KiB"]

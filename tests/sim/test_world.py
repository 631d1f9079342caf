"""Worlds and the nemesis: processes restart from durable state; faults apply at their times."""
import pytest

from kafkalab.sim import Fault, FaultOptions, Nemesis, World, random_schedule


class Counter:
    """A process that counts pings in memory and persists the count (flushing it) every time."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.count = ctx.disk.read("count", 0)
        self.timer = ctx.set_timer(10, self.tick, name="tick")

    def tick(self):
        self.count += 1
        self.ctx.disk.write("count", self.count)
        if self.count % 2 == 0:
            self.ctx.disk.fsync_now()
        self.timer = self.ctx.set_timer(10, self.tick, name="tick")

    def on_message(self, src, msg):
        self.ctx.send(src, ("pong", self.count))


def test_restart_starts_from_durable_state_and_old_timers_die():
    w = World(seed=1, writeback_interval_ms=None)
    w.add_node("a", Counter)
    w.run(35)                       # ticks at 10, 20, 30 -> count 3, durable 2
    assert w.processes["a"].count == 3
    w.crash("a")
    w.run(100)                      # a dead process does not tick
    assert w.processes["a"] is None and not w.is_alive("a")
    w.restart("a")
    assert w.processes["a"].count == 3   # process crash keeps the page cache
    w.crash("a", lose_unflushed=True)
    w.restart("a")
    assert w.processes["a"].count == 2   # power loss: only the flushed count survived


def test_pause_freezes_timers_and_messages_until_resume():
    w = World(seed=1)
    w.add_node("a", Counter)
    w.add_node("b", Counter)
    replies = []
    w.processes["b"].on_message = lambda src, msg: replies.append((w.now, msg))
    w.pause("a")
    w.processes["b"].ctx.send("a", "ping")
    w.run(50)
    assert w.processes["a"].count == 0 and replies == []
    w.resume("a")
    w.run(0.0)
    assert w.processes["a"].count == 1   # the parked ticks ran (the first reschedules itself)
    w.run(5)
    assert replies and replies[0][1][0] == "pong"


def test_nemesis_applies_a_schedule_at_its_times():
    w = World(seed=2)
    for n in (1, 2, 3):
        w.add_node(n, Counter)
    nemesis = Nemesis(w)
    nemesis.schedule([Fault(100, "crash", node=1), Fault(200, "partition", groups=((1, 2), (3,))),
                      Fault(300, "restart", node=1), Fault(400, "heal")])
    w.run(150)
    assert not w.is_alive(1)
    w.run(100)
    assert not w.network.connected(2, 3)
    w.run(200)
    assert w.is_alive(1) and w.network.connected(2, 3)
    assert nemesis.applied == [(100.0, "crash 1"), (200.0, "partition 1,2 | 3"), (300.0, "restart 1"),
                               (400.0, "heal")]


def test_random_schedules_are_seeded_and_every_fault_is_undone():
    w = World(seed=3)
    a = random_schedule(w.kernel.rng("x"), [1, 2, 3], 60_000)
    b = random_schedule(World(seed=3).kernel.rng("x"), [1, 2, 3], 60_000)
    assert a == b and len(a) > 10
    down = {}
    net_cut = False
    for f in a:
        if f.kind in ("crash", "power_loss", "pause"):
            assert f.node not in down
            down[f.node] = f.kind
        elif f.kind in ("restart", "resume"):
            assert down.pop(f.node) in (("crash", "power_loss") if f.kind == "restart" else ("pause",))
        elif f.kind in ("partition", "isolate"):
            assert not net_cut
            net_cut = True
        elif f.kind == "heal":
            net_cut = False
    assert not down and not net_cut


def test_random_schedule_respects_max_down():
    faults = random_schedule(World(seed=4).kernel.rng("n"), [1, 2, 3, 4, 5], 100_000,
                             FaultOptions(mean_interval_ms=200, kinds=(("crash", 1.0),), max_down=1))
    down = 0
    for f in faults:
        down += 1 if f.kind == "crash" else -1
        assert down <= 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(at_ms=0, kind="crsh", node=1), "unknown fault kind 'crsh'; allowed: .*; did you mean 'crash'\\?"),
    (dict(at_ms=0, kind="crash"), "fault 'crash' needs node=..."),
    (dict(at_ms=0, kind="partition", groups=((1,),)), "fault 'partition' needs at least two groups"),
    (dict(at_ms=-1, kind="heal"), "fault time at_ms must be >= 0, got -1"),
])
def test_bad_faults(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)


def test_bad_fault_options_and_unknown_nodes():
    with pytest.raises(ValueError, match="random schedules draw crash, .* got 'heal'"):
        FaultOptions(kinds=(("heal", 1.0),))
    with pytest.raises(ValueError, match="need 0 <= min_duration_ms <= max_duration_ms, got 10 and 5"):
        FaultOptions(min_duration_ms=10, max_duration_ms=5)
    w = World()
    w.add_node("a", Counter)
    with pytest.raises(KeyError, match="unknown node 'b'; nodes: 'a'"):
        w.crash("b")
    with pytest.raises(ValueError, match="node 'a' already exists"):
        w.add_node("a", Counter)


def test_metrics_frame_is_tidy_with_label_columns():
    w = World()
    w.add_node("a", Counter)
    w.run(5)
    w.crash("a", lose_unflushed=True)
    w.recorder.record("a", "lag", 7, topic="t", partition=0)
    df = w.metrics()
    assert list(df.columns[:4]) == ["time_ms", "node", "metric", "value"]
    assert {"power_loss", "topic", "partition"} <= set(df.columns)
    crash = df[df.metric == "crash"].iloc[0]
    assert crash.time_ms == 5.0 and bool(crash.power_loss) is True
    assert w.metrics("lag").value.tolist() == [7]

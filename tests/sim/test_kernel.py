"""The kernel: ordering, cancellation, owners, run/run_until semantics, RNG streams and failure reporting."""
import pytest

from kafkalab.errors import InvariantViolation, SimulationError
from kafkalab.sim import Kernel, Owner, derive_seed


def test_events_run_in_time_order_and_same_time_events_in_scheduling_order():
    k = Kernel()
    log = []
    k.schedule(5, log.append, "late")
    k.schedule(1, log.append, "first-at-1")
    k.schedule(1, log.append, "second-at-1")
    k.schedule(0, log.append, "now")
    k.run(10)
    assert log == ["now", "first-at-1", "second-at-1", "late"]
    assert k.now == 10.0


def test_clock_shows_the_event_time_inside_callbacks():
    k = Kernel()
    seen = []
    k.schedule(2.5, lambda: seen.append(k.now))
    k.schedule(7, lambda: seen.append(k.now))
    k.run(100)
    assert seen == [2.5, 7.0]


def test_callbacks_can_schedule_more_events_and_run_includes_the_boundary():
    k = Kernel()
    log = []

    def tick(n):
        log.append((k.now, n))
        if n < 3:
            k.schedule(10, tick, n + 1)

    k.schedule(0, tick, 0)
    k.run(30)
    assert log == [(0.0, 0), (10.0, 1), (20.0, 2), (30.0, 3)]


def test_cancel_prevents_the_callback_and_is_idempotent():
    k = Kernel()
    log = []
    t = k.schedule(1, log.append, "x")
    t.cancel()
    t.cancel()
    assert not t.active
    k.run(5)
    assert log == []


def test_killed_owner_timers_never_fire_and_new_incarnation_does():
    k = Kernel()
    log = []
    old = Owner("n1")
    k.schedule(1, log.append, "old", owner=old)
    k.kill(old)
    new = Owner("n1#2")
    k.schedule(1, log.append, "new", owner=new)
    k.run(5)
    assert log == ["new"]


def test_paused_owner_timers_wait_and_run_in_order_on_resume():
    k = Kernel()
    log = []
    o = Owner("n")
    k.schedule(1, lambda: log.append(("a", k.now)), owner=o)
    k.schedule(2, lambda: log.append(("b", k.now)), owner=o)
    k.schedule(3, lambda: log.append(("other", k.now)))
    k.pause(o)
    k.run(10)
    assert log == [("other", 3.0)]
    k.resume(o)
    k.run(0)
    assert log == [("other", 3.0), ("a", 10.0), ("b", 10.0)]


def test_run_until_stops_at_the_event_that_made_the_predicate_true():
    k = Kernel()
    box = []
    for t in (3, 6, 9):
        k.schedule(t, box.append, t)
    assert k.run_until(lambda: len(box) == 2, timeout_ms=100)
    assert k.now == 6.0
    assert not k.run_until(lambda: len(box) == 5, timeout_ms=20)
    assert k.now == 26.0 and box == [3, 6, 9]


def test_run_until_true_at_start_does_not_advance():
    k = Kernel()
    assert k.run_until(lambda: True, timeout_ms=10)
    assert k.now == 0.0


def test_step_returns_false_when_idle():
    k = Kernel()
    log = []
    k.schedule(4, log.append, 1)
    assert k.step() is True and k.now == 4.0
    assert k.step() is False


def test_stop_returns_from_run_after_the_current_event():
    k = Kernel()
    log = []
    k.schedule(1, lambda: (log.append(1), k.stop()))
    k.schedule(2, log.append, 2)
    k.run(10)
    assert log == [1] and k.now == 1.0
    k.run(10)
    assert log == [1, 2]


def test_rng_streams_are_named_stable_and_independent():
    a, b = Kernel(seed=7), Kernel(seed=7)
    xs = [a.rng("net").random() for _ in range(3)]
    b.rng("another-component").random()  # drawing from another stream changes nothing
    assert [b.rng("net").random() for _ in range(3)] == xs
    assert Kernel(seed=8).rng("net").random() != xs[0]
    assert a.rng("net") is a.rng("net")
    # the derivation is a fixed function of (seed, name), not Python's salted hash()
    assert derive_seed(0, "net") == int.from_bytes(
        __import__("hashlib").sha256(b"0/net").digest()[:8], "big")


def test_exception_in_callback_names_event_time_and_seed():
    k = Kernel(seed=42)

    def boom():
        raise KeyError("partition-3")

    k.schedule(12.5, boom, name="replica-fetch")
    with pytest.raises(SimulationError) as info:
        k.run(20)
    err = info.value
    assert "'replica-fetch'" in str(err) and "t=12.5 ms" in str(err) and "seed=42" in str(err)
    assert "KeyError" in str(err)
    assert err.seed == 42 and err.time_ms == 12.5 and err.event == "replica-fetch"
    assert isinstance(err.__cause__, KeyError)


def test_invariant_violation_passes_through_unchanged():
    k = Kernel(seed=3)

    def broken():
        raise InvariantViolation("two leaders in epoch 4", seed=k.seed, time_ms=k.now)

    k.schedule(1, broken)
    with pytest.raises(InvariantViolation, match=r"two leaders in epoch 4 \(seed=3, t=1.0 ms\)"):
        k.run(2)


@pytest.mark.parametrize("call, message", [
    (lambda k: k.schedule(-1, print), "delay_ms must be >= 0, got -1"),
    (lambda k: k.schedule_at(-5, print), "cannot schedule at -5 ms: the clock is already at 0.0 ms"),
    (lambda k: k.run(-2), r"run\(ms\) needs ms >= 0, got -2"),
    (lambda k: k.run_until(lambda: False, -1), "run_until needs timeout_ms >= 0, got -1"),
])
def test_bad_arguments_raise_value_errors(call, message):
    k = Kernel()
    with pytest.raises(ValueError, match=message):
        call(k)


def test_seed_must_be_an_int():
    with pytest.raises(TypeError, match="seed must be an int, got str '1'"):
        Kernel(seed="1")  # type: ignore[arg-type]


def test_trace_hooks_see_events_and_component_lines():
    k = Kernel()
    lines = []
    k.add_trace_hook(lambda t, label: lines.append((t, label)))
    k.schedule(1, lambda: k.trace("leader elected"), name="tick")
    k.run(2)
    assert lines == [(1.0, "tick"), (1.0, "leader elected")]


def test_repeat_reschedules_by_the_returned_delay_until_none():
    k = Kernel()
    times = []

    def beat():
        times.append(k.now)
        return 10.0 if len(times) < 4 else None

    timer = k.repeat(5, beat)
    k.run(100)
    assert times == [5.0, 15.0, 25.0, 35.0]
    assert not timer.active


def test_repeat_stops_when_cancelled_from_outside_or_inside():
    k = Kernel()
    times = []
    timer = k.repeat(1, lambda: (times.append(k.now), 1.0)[1])
    k.run(3.5)
    timer.cancel()
    k.run(10)
    assert times == [1.0, 2.0, 3.0]

    box = {}

    def self_cancel():
        times.append(("inner", k.now))
        box["t"].cancel()
        return 1.0

    box["t"] = k.repeat(1, self_cancel)
    k.run(5)
    assert times[-1] == ("inner", 14.5) and times.count(("inner", 14.5)) == 1


def test_post_events_interleave_with_scheduled_ones_in_scheduling_order():
    k = Kernel()
    log = []
    k.post(1, log.append, "post-1")
    k.schedule(1, log.append, "schedule-1")
    k.post_at(1, log.append, "post-at-1")
    k.post(0.5, log.append, "post-0.5")
    k.run(2)
    assert log == ["post-0.5", "post-1", "schedule-1", "post-at-1"]
    assert k.events_processed == 4


def test_repeat_rejects_negative_delay():
    with pytest.raises(ValueError, match="delay_ms must be >= 0, got -3"):
        Kernel().repeat(-3, lambda: None)

"""Stories about broker liveness: a crashed broker is fenced after the session timeout and loses its leaderships and
ISR memberships; fencing takes longer right after a controller failover; a restarted broker re-registers with a new
epoch; a controlled shutdown moves leadership away before the broker goes."""
from kafkalab.broker.lifecycle import BrokerState
from tests.controller.harness import BROKERS, ControlPlane

SESSION_MS = 9_000
HEARTBEAT_MS = 2_000


def booted(seed: int = 11, config: dict[str, object] | None = None) -> ControlPlane:
    cp = ControlPlane(seed=seed, config=config)
    cp.boot()
    assert cp.create_topic("t", partitions=6, replication_factor=3).error == "NONE"
    return cp


def fenced_at(cp: ControlPlane, broker: int, timeout_ms: float = 60_000) -> float:
    assert cp.run_until(lambda: cp.active_controller() is not None
                        and cp.image().brokers[broker].fenced, timeout_ms), f"broker {broker} was never fenced"
    return cp.now


def test_crashed_broker_is_fenced_after_the_session_timeout_and_loses_leadership() -> None:
    cp = booted()
    led_by_0 = [p for p, part in cp.image().topics["t"].partitions.items() if part.leader == 0]
    assert led_by_0
    crash_ms = cp.now
    cp.crash(0)
    detected = fenced_at(cp, 0) - crash_ms
    # The last heartbeat was at most one interval before the crash; the session runs 9 s from it.
    assert SESSION_MS - HEARTBEAT_MS <= detected <= SESSION_MS + 100
    for p, part in cp.image().topics["t"].partitions.items():
        assert 0 not in part.isr and part.leader != 0 and part.leader in part.isr
        if p in led_by_0:
            assert part.leader_epoch == 1 and part.leader == [r for r in part.replicas if r != 0][0]
    # Every live broker's image follows.
    assert cp.run_until(lambda: all(cp.broker(b).image == cp.image() for b in (1, 2)), 2_000)


def test_fencing_takes_longer_after_a_controller_failover() -> None:
    cp = booted(seed=12)
    old = cp.active_controller()
    cp.crash(0)
    cp.run(4_000)                      # broker 0 has been silent for 4+ s ...
    cp.crash(old)                      # ... when the active controller dies: its heartbeat times die with it
    failover_start = cp.now
    assert cp.run_until(lambda: cp.active_controller() not in (None, old), 10_000)
    new_active_at = cp.active().controller.activated_at_ms
    assert new_active_at is not None
    detected = fenced_at(cp, 0)
    # The new controller starts every broker's session afresh when it becomes active.
    assert detected >= new_active_at + SESSION_MS
    assert detected - failover_start > SESSION_MS


def test_restarted_broker_registers_again_with_a_new_epoch_and_is_unfenced() -> None:
    cp = booted(seed=13)
    old_epoch = cp.image().brokers[1].broker_epoch
    old_incarnation = cp.image().brokers[1].incarnation_id
    cp.crash(1)
    fenced_at(cp, 1)
    cp.restart(1)
    assert cp.run_until(lambda: not cp.image().brokers[1].fenced
                        and cp.broker(1).lifecycle.state is BrokerState.RUNNING, 10_000)
    reg = cp.image().brokers[1]
    assert reg.broker_epoch > old_epoch and reg.incarnation_id != old_incarnation
    assert cp.broker(1).lifecycle.broker_epoch == reg.broker_epoch


def test_quick_restart_waits_for_the_old_session_to_expire() -> None:
    cp = booted(seed=14)
    old_epoch = cp.image().brokers[2].broker_epoch
    cp.crash(2)
    cp.run(500)
    restart_ms = cp.now
    cp.restart(2)
    # DUPLICATE_BROKER_REGISTRATION until the old incarnation's session (9 s from its last heartbeat) is over.
    cp.run(3_000)
    assert cp.broker(2).lifecycle.broker_epoch == -1
    assert cp.run_until(lambda: cp.image().brokers[2].broker_epoch != old_epoch
                        and not cp.image().brokers[2].fenced, 15_000)
    assert cp.now - restart_ms > SESSION_MS - HEARTBEAT_MS - 500


def test_controlled_shutdown_moves_leadership_before_the_broker_leaves() -> None:
    cp = booted(seed=15)
    broker = cp.broker(2)
    led = [p for p, part in cp.image().topics["t"].partitions.items() if part.leader == 2]
    assert led
    leaders_when_stopped: dict[int, int] = {}

    def on_stop() -> None:
        for p in led:
            leaders_when_stopped[p] = cp.broker(2).image.topics["t"].partitions[p].leader
    previous = broker.lifecycle.on_shutdown
    assert previous is not None

    def stop() -> None:
        on_stop()
        previous()
    broker.lifecycle.on_shutdown = stop
    start = cp.now
    broker.lifecycle.begin_controlled_shutdown(cp.now)
    assert cp.run_until(lambda: broker.lifecycle.state is BrokerState.SHUTTING_DOWN, 10_000)
    # Leadership had moved away (in the broker's own image) before it stopped, and well before a session timeout.
    assert all(leader != 2 for leader in leaders_when_stopped.values())
    assert cp.now - start < 2 * HEARTBEAT_MS + 500
    assert cp.run_until(lambda: cp.image().brokers[2].fenced, 1_000)
    assert not cp.image().brokers[2].in_controlled_shutdown
    for part in cp.image().topics["t"].partitions.values():
        assert part.leader != 2 and 2 not in part.isr


def test_losing_all_brokers_but_one_leaves_last_isr_members_in_place() -> None:
    cp = booted(seed=16, config={"eligible.leader.replicas.version": 0})
    cp.crash(1)
    cp.crash(2)
    fenced_at(cp, 1)
    fenced_at(cp, 2)
    for part in cp.image().topics["t"].partitions.values():
        assert part.isr == (0,) and part.leader == 0
    cp.crash(0)
    fenced_at(cp, 0)
    # Fencing the last ISR member would empty the ISR: it stays, and the partition goes offline (KIP-966 is off).
    for part in cp.image().topics["t"].partitions.values():
        assert part.isr == (0,) and part.leader == -1
    # It comes back: unfencing elects it again.
    cp.restart(0)
    assert cp.run_until(lambda: all(p.leader == 0 for p in cp.image().topics["t"].partitions.values()), 20_000)
    assert sorted(cp.image().unfenced_brokers()) == [0]
    assert set(BROKERS) == set(cp.image().brokers)


def test_with_elr_losing_the_last_isr_member_empties_the_isr_and_its_return_is_an_unclean_recovery() -> None:
    cp = booted(seed=16)                 # eligible.leader.replicas.version=1, min.insync.replicas=1
    cp.crash(1)
    cp.crash(2)
    fenced_at(cp, 1)
    fenced_at(cp, 2)
    for part in cp.image().topics["t"].partitions.values():
        assert part.isr == (0,) and part.leader == 0 and not part.eligible_leader_replicas
    cp.crash(0)
    fenced_at(cp, 0)
    # The ISR empties; broker 0 was the last ISR member when the ISR fell below min ISR (1), so it is the ELR, and
    # the last known leader.
    for part in cp.image().topics["t"].partitions.values():
        assert (part.isr, part.leader, part.eligible_leader_replicas, part.last_known_elr) == ((), -1, (0,), (0,))
    # It restarts: a new incarnation cannot prove a clean shutdown, so it leaves the ELR; with ISR and ELR empty,
    # the last known leader is elected once unfenced, as an unclean election (leader recovery RECOVERING).
    cp.restart(0)
    assert cp.run_until(lambda: all(p.leader == 0 for p in cp.image().topics["t"].partitions.values()), 20_000)
    for part in cp.image().topics["t"].partitions.values():
        assert (part.isr, part.eligible_leader_replicas, part.last_known_elr) == ((0,), (), ())


def test_isolated_active_controller_is_replaced_and_no_broker_is_fenced() -> None:
    cp = booted(seed=17)
    old = cp.active_controller()
    assert old is not None
    cp.world.isolate(old)
    assert cp.run_until(lambda: any(cp.controller(c).active for c in cp.controller_ids if c != old), 10_000)
    new = next(c for c in cp.controller_ids if c != old and cp.controller(c).active)
    # The old one resigns once it misses a majority's fetches (check quorum, 1.5 x fetch timeout).
    assert cp.run_until(lambda: not cp.controller(old).active, 5_000)
    cp.run(20_000)
    image = cp.controller(new).image
    assert image.unfenced_brokers() == list(BROKERS)
    assert all(cp.broker(b).lifecycle.state is BrokerState.RUNNING for b in BROKERS)
    cp.world.heal()
    assert cp.run_until(lambda: cp.controller(old).image == cp.controller(new).image, 10_000)


def test_fencing_is_in_the_metrics() -> None:
    cp = booted(seed=18)
    cp.crash(1)
    when = fenced_at(cp, 1)
    frame = cp.world.metrics()
    fenced = frame[frame.metric == "controller.broker_fenced"]
    assert list(fenced.value) == [1] and abs(float(fenced.time_ms.iloc[0]) - when) < 100
    assert frame[frame.metric == "controller.leader_changes"].value.sum() >= 1


def test_an_isolated_broker_is_fenced_and_comes_back_by_itself_when_healed() -> None:
    cp = booted(seed=19)
    cp.world.isolate(1)
    fenced_at(cp, 1)
    for part in cp.image().topics["t"].partitions.values():
        assert part.leader != 1 and 1 not in part.isr
    # It kept its registration: once healed, its next heartbeat unfences it, with the same broker epoch.
    epoch = cp.image().brokers[1].broker_epoch
    cp.world.heal()
    assert cp.run_until(lambda: not cp.image().brokers[1].fenced, 10_000)
    assert cp.image().brokers[1].broker_epoch == epoch

"""BrokerLifecycleManager as a bare state machine: a fake port records what it sends and the timers it sets."""
from typing import Any

import pytest

from kafkalab.broker.lifecycle import BrokerLifecycleManager, BrokerState, IllegalBrokerTransition
from kafkalab.protocol import controller as cm


class Port:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []
        self.timers: dict[str, float] = {}

    def send(self, dst: int, msg: Any) -> None:
        self.sent.append((dst, msg))

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers[name] = at_ms

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)


def manager(active: int | None = 3001) -> tuple[BrokerLifecycleManager, Port, list[BrokerState]]:
    port = Port()
    states: list[BrokerState] = []
    stopped: list[bool] = []
    m = BrokerLifecycleManager(0, port, controllers=(3000, 3001, 3002), incarnation_id="inc", rack="r1",
                               metadata_offset=lambda: 41, active_controller=lambda: active,
                               on_state_change=states.append, on_shutdown=lambda: stopped.append(True))
    return m, port, states


def test_registers_then_heartbeats_quickly_until_unfenced_then_every_interval() -> None:
    m, port, states = manager()
    m.start(0.0)
    assert port.sent == [(3001, cm.BrokerRegistrationRequest(0, "inc", "r1", 1))]
    assert port.timers["request"] == 2_000
    m.handle(3001, cm.BrokerRegistrationResponse("NONE", broker_epoch=40, correlation_id=1), 5.0)
    assert port.sent[-1] == (3001, cm.BrokerHeartbeatRequest(0, 40, 41, want_fence=True, correlation_id=2))
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=False, is_fenced=True, correlation_id=2), 8.0)
    assert m.state is BrokerState.STARTING and port.timers["communicate"] == 18.0
    m.on_timer("communicate", 18.0)
    assert port.sent[-1][1].want_fence is True                # caught up or not, it has not been told so yet
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=True, correlation_id=3), 20.0)
    # told it caught up (Kafka's initialCatchUpFuture): ready to unfence, the next heartbeat goes now
    assert m.state is BrokerState.RECOVERY and port.timers["communicate"] == 20.0
    m.on_timer("communicate", 20.0)
    assert port.sent[-1] == (3001, cm.BrokerHeartbeatRequest(0, 40, 41, want_fence=False, correlation_id=4))
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=False, correlation_id=4), 22.0)
    assert m.state is BrokerState.RUNNING and not m.fenced and m.unfenced_at_ms == 22.0
    assert port.timers["communicate"] == 2_022.0
    assert states == [BrokerState.STARTING, BrokerState.RECOVERY, BrokerState.RUNNING]


def test_readiness_outlives_a_re_registration_as_kafkas_ready_to_unfence() -> None:
    m, port, states = manager()
    m.start(0.0)
    m.handle(3001, cm.BrokerRegistrationResponse("NONE", broker_epoch=40, correlation_id=1), 1.0)
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=True, correlation_id=2), 2.0)
    m.on_timer("communicate", 2.0)
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=False, correlation_id=3), 3.0)
    assert m.state is BrokerState.RUNNING
    m.on_timer("communicate", port.timers["communicate"])
    m.handle(3001, cm.BrokerHeartbeatResponse("STALE_BROKER_EPOCH", correlation_id=4), 2_004.0)
    assert m.state is BrokerState.STARTING and m.broker_epoch == -1
    m.on_timer("communicate", port.timers["communicate"])
    m.handle(3001, cm.BrokerRegistrationResponse("NONE", broker_epoch=90, correlation_id=5), 4_005.0)
    # registered again under a new epoch: the first heartbeat already asks to be unfenced (Kafka's
    # resendBrokerRegistration keeps readyToUnfence); the controller grants it once it shows offset >= 90
    assert port.sent[-1][1] == cm.BrokerHeartbeatRequest(0, 90, 41, want_fence=False, correlation_id=6)


def test_a_data_plane_may_hold_unfencing_until_its_logs_are_recovered() -> None:
    port = Port()
    m = BrokerLifecycleManager(0, port, controllers=(3000,), incarnation_id="inc", metadata_offset=lambda: 41,
                               active_controller=lambda: 3000, auto_ready_to_unfence=False)
    m.start(0.0)
    m.handle(3000, cm.BrokerRegistrationResponse("NONE", broker_epoch=40, correlation_id=1), 1.0)
    m.handle(3000, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=True, correlation_id=2), 2.0)
    assert m.state is BrokerState.RECOVERY and port.timers["communicate"] == 12.0
    m.on_timer("communicate", 12.0)
    assert port.sent[-1][1].want_fence is True
    m.set_ready_to_unfence(13.0)                              # in flight: goes as soon as the answer is in
    m.handle(3000, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=True, correlation_id=3), 14.0)
    assert port.timers["communicate"] == 14.0


def test_waits_for_a_known_controller_and_backs_off_on_errors() -> None:
    m, port, _ = manager(active=None)
    m.start(0.0)
    assert port.sent == [] and port.timers["communicate"] == 100.0
    m2, port2, _ = manager()
    m2.start(0.0)
    m2.handle(3001, cm.BrokerRegistrationResponse("NOT_CONTROLLER", correlation_id=1), 1.0)
    assert port2.timers["communicate"] == 101.0
    m2.on_timer("communicate", 101.0)
    assert port2.sent[-1][0] == 3002                          # after NOT_CONTROLLER: the next controller in turn
    m2.handle(3002, cm.BrokerRegistrationResponse("DUPLICATE_BROKER_REGISTRATION", correlation_id=2), 102.0)
    assert port2.timers["communicate"] == 2_102.0             # other failures: after the heartbeat interval
    m2.on_timer("communicate", 2_102.0)
    assert port2.sent[-1][0] == 3002                          # the active controller said no: ask it again


def test_request_timeout_retries_elsewhere_and_ignores_late_answers() -> None:
    m, port, _ = manager()
    m.start(0.0)
    m.on_timer("request", 2_000.0)
    assert port.timers["communicate"] == 2_100.0
    m.on_timer("communicate", port.timers["communicate"])
    assert port.sent[-1][0] == 3002
    assert m.handle(3001, cm.BrokerRegistrationResponse("NONE", broker_epoch=7, correlation_id=1), 2_200.0)
    assert m.broker_epoch == -1                               # a stale correlation id changes nothing


def test_stale_broker_epoch_registers_again() -> None:
    m, port, _ = manager()
    m.start(0.0)
    m.handle(3001, cm.BrokerRegistrationResponse("NONE", broker_epoch=40, correlation_id=1), 1.0)
    m.handle(3001, cm.BrokerHeartbeatResponse("STALE_BROKER_EPOCH", correlation_id=2), 2.0)
    m.on_timer("communicate", port.timers["communicate"])
    assert isinstance(port.sent[-1][1], cm.BrokerRegistrationRequest)


def test_controlled_shutdown() -> None:
    m, port, states = manager()
    m.start(0.0)
    m.handle(3001, cm.BrokerRegistrationResponse("NONE", broker_epoch=40, correlation_id=1), 1.0)
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=False, correlation_id=2), 3.0)
    m.begin_controlled_shutdown(4.0)
    assert m.state is BrokerState.PENDING_CONTROLLED_SHUTDOWN
    assert port.sent[-1][1].want_shut_down                    # sent at once
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=False, correlation_id=3), 5.0)
    assert port.timers["communicate"] == 55.0                 # the first pending answer: again after 50 ms
    m.on_timer("communicate", 55.0)
    m.handle(3001, cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=True, should_shut_down=True,
                                              correlation_id=4), 57.0)
    assert m.state is BrokerState.SHUTTING_DOWN and port.timers == {}
    assert states[-2:] == [BrokerState.PENDING_CONTROLLED_SHUTDOWN, BrokerState.SHUTTING_DOWN]


def test_controlled_shutdown_before_running_shuts_down_at_once() -> None:
    m, port, states = manager()
    m.start(0.0)
    m.begin_controlled_shutdown(1.0)
    assert m.state is BrokerState.SHUTTING_DOWN and port.timers == {}


def test_illegal_transition_raises_and_changes_nothing() -> None:
    m, _, _ = manager()
    with pytest.raises(IllegalBrokerTransition, match="NOT_RUNNING -> RUNNING"):
        m._transition(BrokerState.RUNNING)
    assert m.state is BrokerState.NOT_RUNNING

"""A broker's lifecycle towards the active controller (Kafka's ``BrokerLifecycleManager``, KIP-631).

How it works. A sans-I/O state machine with one request in flight at a time, scheduled as Kafka's is:

- ``start(now)``: STARTING; send BrokerRegistration (a new ``incarnation_id`` per process start). On success it
  heartbeats at once with its current metadata offset and ``want_fence = not ready_to_unfence``.
- STARTING: heartbeats every 10 ms ("so that ... we start up a bit quicker"), each with ``want_fence=true``, until
  the controller says ``is_caught_up`` (the broker's metadata offset reached its registration record); then
  RECOVERY. The broker is then ready to unfence (:meth:`set_ready_to_unfence`): it sends a heartbeat at once without
  ``want_fence``, the controller writes the unfence record and answers ``is_fenced=false``, and it is RUNNING.
  This is Kafka's order: ``BrokerServer.startup`` waits for ``initialCatchUpFuture`` (completed by the heartbeat
  answer that says caught up) and the first metadata publish, then calls ``setReadyToUnfence``, whose event
  schedules the next heartbeat immediately; so the heartbeat that asks to be unfenced is the one after the answer
  that says caught up, never the first one that shows the registration record applied (``want_fence =
  !readyToUnfence``). With the default ``auto_ready_to_unfence=True`` the manager does this itself (the broker has
  no log recovery to wait for); a data plane that models recovery passes ``auto_ready_to_unfence=False`` and calls
  :meth:`set_ready_to_unfence`. RECOVERY and RUNNING heartbeat every ``broker.heartbeat.interval.ms``. Readiness
  is kept for the life of the process, as Kafka's ``readyToUnfence``: a running broker fenced by the controller (a
  missed session) stays RUNNING and its next heartbeat unfences it, and one that registers again (below) asks to be
  unfenced from its first heartbeat.
- ``begin_controlled_shutdown(now)``: from RUNNING, PENDING_CONTROLLED_SHUTDOWN and a heartbeat at once with
  ``want_shut_down``; the first pending answer brings the next heartbeat after 50 ms, later ones after the interval,
  until the controller answers ``should_shut_down`` (it moved every leadership away first); then SHUTTING_DOWN and
  ``on_shutdown()``. From any other state it shuts down at once.
- Failures (an error, or no answer within the request timeout): try again after the heartbeat interval. Kafka's
  controller channel (NodeToControllerChannelManager) retries NOT_CONTROLLER itself towards the newly discovered
  controller; here NOT_CONTROLLER (or a timeout) moves on to the next controller after 100 ms.
- STALE_BROKER_EPOCH or BROKER_ID_NOT_REGISTERED in a heartbeat response: register again (Kafka's broker does this
  when its registration changes under it, ``resendBrokerRegistration``).

Port: ``send(dst, msg)``, ``set_timer(name, at_ms)``, ``cancel_timer(name)`` (timers "communicate" and "request";
the driver calls :meth:`on_timer`). The metadata offset and the active controller are read through two callables,
normally :class:`~kafkalab.broker.metadata.BrokerMetadataListener`'s ``metadata_offset`` and
``active_controller_id``. Until an active controller is known it polls every 100 ms instead of sending.

Simplification: a lost request is noticed after ``controller.quorum.request.timeout.ms``; there is no
``initial.broker.registration.timeout.ms`` give-up.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kafkalab.config import Config
from kafkalab.protocol import controller as cm
from kafkalab.protocol.common import NONE

__all__ = ["BrokerState", "BrokerLifecycleManager", "LifecyclePort", "TRANSITIONS", "IllegalBrokerTransition"]

STARTUP_HEARTBEAT_MS = 10.0
FIRST_SHUTDOWN_HEARTBEAT_MS = 50.0
RETRY_BACKOFF_MS = 100.0


class BrokerState(enum.Enum):
    NOT_RUNNING = "NOT_RUNNING"
    STARTING = "STARTING"
    RECOVERY = "RECOVERY"
    RUNNING = "RUNNING"
    PENDING_CONTROLLED_SHUTDOWN = "PENDING_CONTROLLED_SHUTDOWN"
    SHUTTING_DOWN = "SHUTTING_DOWN"


_S = BrokerState
#: Legal next states of each state.
TRANSITIONS: dict[BrokerState, frozenset[BrokerState]] = {
    _S.NOT_RUNNING: frozenset({_S.STARTING, _S.SHUTTING_DOWN}),
    _S.STARTING: frozenset({_S.RECOVERY, _S.RUNNING, _S.PENDING_CONTROLLED_SHUTDOWN, _S.SHUTTING_DOWN}),
    _S.RECOVERY: frozenset({_S.STARTING, _S.RUNNING, _S.PENDING_CONTROLLED_SHUTDOWN, _S.SHUTTING_DOWN}),
    _S.RUNNING: frozenset({_S.STARTING, _S.PENDING_CONTROLLED_SHUTDOWN, _S.SHUTTING_DOWN}),
    _S.PENDING_CONTROLLED_SHUTDOWN: frozenset({_S.SHUTTING_DOWN}),
    _S.SHUTTING_DOWN: frozenset(),
}


class IllegalBrokerTransition(RuntimeError):
    pass


class LifecyclePort(Protocol):
    def send(self, dst: int, msg: Any) -> None: ...

    def set_timer(self, name: str, at_ms: float) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


_RESPONSES = (cm.BrokerRegistrationResponse, cm.BrokerHeartbeatResponse)


class BrokerLifecycleManager:
    """Registration, heartbeats, fencing state and controlled shutdown of one broker; see the module docstring."""

    def __init__(self, broker_id: int, port: LifecyclePort, *, controllers: Sequence[int], incarnation_id: str,
                 metadata_offset: Callable[[], int], active_controller: Callable[[], int | None],
                 rack: str | None = None, heartbeat_interval_ms: float = 2000.0,
                 request_timeout_ms: float = 2000.0, on_shutdown: Callable[[], None] | None = None,
                 on_state_change: Callable[[BrokerState], None] | None = None,
                 auto_ready_to_unfence: bool = True) -> None:
        if not controllers:
            raise ValueError("a broker needs at least one controller to talk to")
        self.broker_id = broker_id
        self.port = port
        self.controllers = tuple(sorted(controllers))
        self.incarnation_id = incarnation_id
        self.rack = rack
        self.metadata_offset = metadata_offset
        self.active_controller = active_controller
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.request_timeout_ms = request_timeout_ms
        self.on_shutdown = on_shutdown
        self.on_state_change = on_state_change
        self.state = BrokerState.NOT_RUNNING
        self.broker_epoch = -1
        self.fenced = True
        self.caught_up = False
        self.want_shut_down = False
        self.ready_to_unfence = False
        self.auto_ready_to_unfence = auto_ready_to_unfence
        self._got_shutdown_response = False
        self.registered_at_ms: float | None = None
        self.unfenced_at_ms: float | None = None
        self._corr = 0
        self._inflight: tuple[int, int] | None = None      # (correlation id, controller)
        self._last_dst = self.controllers[0]
        self._failures = 0
        self._move_on = False           # the last failure says: try another controller
        self._immediate = False         # a communication came due while one was in flight

    @classmethod
    def from_config(cls, broker_id: int, port: LifecyclePort, config: Config, **kwargs: Any
                    ) -> BrokerLifecycleManager:
        """Timings from a resolved broker config (``broker.heartbeat.interval.ms``, request timeout, ``broker.rack``
        when the config has it)."""
        kwargs.setdefault("heartbeat_interval_ms", float(config["broker.heartbeat.interval.ms"]))
        kwargs.setdefault("request_timeout_ms", float(config["controller.quorum.request.timeout.ms"]))
        if "broker.rack" in config:
            kwargs.setdefault("rack", config["broker.rack"])
        return cls(broker_id, port, **kwargs)

    def __repr__(self) -> str:
        return (f"BrokerLifecycleManager({self.broker_id}, {self.state.value}, epoch={self.broker_epoch}, "
                f"fenced={self.fenced})")

    # -- inputs -------------------------------------------------------------------------------------------------------
    def start(self, now_ms: float) -> None:
        self._transition(BrokerState.STARTING)
        self._communicate(now_ms)

    def set_ready_to_unfence(self, now_ms: float) -> None:
        """The broker's logs are recovered: stop asking to stay fenced, and tell the controller at once."""
        if self.ready_to_unfence:
            return
        self.ready_to_unfence = True
        self._schedule_now(now_ms)

    def begin_controlled_shutdown(self, now_ms: float) -> None:
        """From RUNNING: ask the controller to move leadership away, then let the broker go (``on_shutdown``).
        From any other state: shut down at once (Kafka's BeginControlledShutdownEvent)."""
        if self.state in (BrokerState.SHUTTING_DOWN, BrokerState.PENDING_CONTROLLED_SHUTDOWN):
            return
        if self.state is not BrokerState.RUNNING:
            self._shut_down()
            return
        self.want_shut_down = True
        self._transition(BrokerState.PENDING_CONTROLLED_SHUTDOWN)
        self._schedule_now(now_ms)

    def handle(self, src: int, msg: Any, now_ms: float) -> bool:
        """A controller response; False (nothing done) when ``msg`` is not one for this manager."""
        if not isinstance(msg, _RESPONSES):
            return False
        inflight = self._inflight
        if inflight is None or msg.correlation_id != inflight[0] or self.state is BrokerState.SHUTTING_DOWN:
            return True
        self._inflight = None
        self.port.cancel_timer("request")
        if isinstance(msg, cm.BrokerRegistrationResponse):
            self._on_registration(msg, now_ms)
        else:
            self._on_heartbeat(msg, now_ms)
        return True

    def on_timer(self, name: str, now_ms: float) -> None:
        if self.state is BrokerState.SHUTTING_DOWN:
            return
        if name == "communicate":
            if self._inflight is None:
                self._communicate(now_ms)
            else:
                self._immediate = True
        elif name == "request":
            if self._inflight is not None:
                self._inflight = None
                self._retry(now_ms, move_on=True)
        else:
            raise ValueError(f"broker {self.broker_id}: unknown lifecycle timer {name!r}")

    # -- internals ----------------------------------------------------------------------------------------------------
    def _transition(self, to: BrokerState) -> None:
        if to is self.state:
            return
        if to not in TRANSITIONS[self.state]:
            raise IllegalBrokerTransition(f"broker {self.broker_id}: illegal transition {self.state.value} -> "
                                          f"{to.value}")
        self.state = to
        if self.on_state_change is not None:
            self.on_state_change(to)

    def _controller(self) -> int:
        """The known active controller; after a failure, the controller after the one that failed."""
        active = self.active_controller()
        if active is not None and active in self.controllers and self._failures == 0:
            return active
        if self._failures == 0:
            return self.controllers[0]
        if not self._move_on:
            return self._last_dst
        i = self.controllers.index(self._last_dst) if self._last_dst in self.controllers else -1
        return self.controllers[(i + 1) % len(self.controllers)]

    def _communicate(self, now_ms: float) -> None:
        if self.active_controller() is None and self._failures == 0:
            # No quorum leader known yet (boot, failover): wait for the metadata observer to find one, as Kafka's
            # controller channel waits for controller discovery.
            self.port.set_timer("communicate", now_ms + RETRY_BACKOFF_MS)
            return
        self._corr += 1
        dst = self._controller()
        msg: Any
        if self.broker_epoch < 0:
            msg = cm.BrokerRegistrationRequest(self.broker_id, self.incarnation_id, self.rack, self._corr)
        else:
            msg = cm.BrokerHeartbeatRequest(self.broker_id, self.broker_epoch, self.metadata_offset(),
                                            want_fence=not self.ready_to_unfence,
                                            want_shut_down=self.want_shut_down, correlation_id=self._corr)
        self._inflight = (self._corr, dst)
        self._last_dst = dst
        self.port.send(dst, msg)
        self.port.set_timer("request", now_ms + self.request_timeout_ms)

    def _schedule(self, now_ms: float, delay_ms: float) -> None:
        """Kafka's scheduleNextCommunication: a communication that came due while one was in flight goes now."""
        if self._immediate:
            delay_ms = 0.0
            self._immediate = False
        self.port.set_timer("communicate", now_ms + delay_ms)

    def _schedule_now(self, now_ms: float) -> None:
        if self._inflight is None:
            self.port.cancel_timer("communicate")
            self._communicate(now_ms)
        else:
            self._immediate = True

    def _retry(self, now_ms: float, *, move_on: bool) -> None:
        """After a failure: never immediately; 100 ms towards another controller, else the heartbeat interval."""
        self._failures += 1
        self._move_on = move_on
        self._immediate = False
        self.port.set_timer("communicate", now_ms + (RETRY_BACKOFF_MS if move_on else self.heartbeat_interval_ms))

    def _on_registration(self, msg: cm.BrokerRegistrationResponse, now_ms: float) -> None:
        if msg.error != NONE:
            self._retry(now_ms, move_on=msg.error == "NOT_CONTROLLER")
            return
        self._failures = 0
        self.broker_epoch = msg.broker_epoch
        self.fenced = True
        self.registered_at_ms = now_ms
        self._immediate = False
        self._communicate(now_ms)

    def _on_heartbeat(self, msg: cm.BrokerHeartbeatResponse, now_ms: float) -> None:
        if msg.error != NONE:
            if msg.error in ("STALE_BROKER_EPOCH", "BROKER_ID_NOT_REGISTERED"):
                self.broker_epoch = -1
                self.fenced = True
                if self.state is not BrokerState.PENDING_CONTROLLED_SHUTDOWN:
                    self._transition(BrokerState.STARTING)
            self._retry(now_ms, move_on=msg.error == "NOT_CONTROLLER")
            return
        self._failures = 0
        self.caught_up = msg.is_caught_up
        was_fenced = self.fenced
        self.fenced = msg.is_fenced
        if was_fenced and not self.fenced:
            self.unfenced_at_ms = now_ms
        state = self.state
        if state is BrokerState.STARTING:
            if msg.is_caught_up:
                self._transition(BrokerState.RECOVERY)
            if self.state is BrokerState.RECOVERY and not msg.is_fenced:
                self._transition(BrokerState.RUNNING)
                self._schedule(now_ms, self.heartbeat_interval_ms)
            elif self.state is BrokerState.RECOVERY and self.auto_ready_to_unfence and not self.ready_to_unfence:
                # BrokerServer's setReadyToUnfence once caught up: the next heartbeat goes now, after this event
                self.ready_to_unfence = True
                self._schedule(now_ms, 0.0)
            else:
                self._schedule(now_ms, STARTUP_HEARTBEAT_MS)
        elif state is BrokerState.RECOVERY:
            if not msg.is_fenced:
                self._transition(BrokerState.RUNNING)
            self._schedule(now_ms, self.heartbeat_interval_ms)
        elif state is BrokerState.PENDING_CONTROLLED_SHUTDOWN:
            if msg.should_shut_down:
                self._shut_down()
                return
            first = not self._got_shutdown_response
            self._got_shutdown_response = True
            self._schedule(now_ms, FIRST_SHUTDOWN_HEARTBEAT_MS if first else self.heartbeat_interval_ms)
        else:
            self._schedule(now_ms, self.heartbeat_interval_ms)

    def _shut_down(self) -> None:
        self.port.cancel_timer("communicate")
        self.port.cancel_timer("request")
        self._inflight = None
        self._transition(BrokerState.SHUTTING_DOWN)
        if self.on_shutdown is not None:
            self.on_shutdown()

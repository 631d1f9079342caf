"""The worker's group membership (Kafka's ``WorkerGroupMember`` + ``WorkerCoordinator``, an ``AbstractCoordinator``
with protocol type ``connect``).

How it works. :class:`WorkerCoordinator` is a :class:`~kafkalab.clients.group_common.GroupMembership` (coordinator
discovery, the group connection) that speaks the classic protocol itself: JoinGroup with protocol type ``connect``
and one :class:`~kafkalab.connect.assignor.WorkerState` per subprotocol its ``connect.protocol`` allows; the
coordinator (kafkalab's classic group coordinator, unchanged) picks the subprotocol every member supports. The
leader's SyncGroup carries the assignments the worker computes (:meth:`Worker.perform_assignment`); every member's
SyncGroup answer goes to :meth:`Worker.on_assignment`.

Join prepare (``onJoinPrepare``): under ``eager`` the worker stops everything it runs before joining; under the
cooperative subprotocols it keeps running until an assignment revokes something. Heartbeats every
``heartbeat.interval.ms``; REBALANCE_IN_PROGRESS asks for a rejoin, UNKNOWN_MEMBER_ID/ILLEGAL_GENERATION reset the
member (it rejoins as a new member and reports what it still runs). If the coordinator cannot be found again within
``heartbeat.interval.ms`` the worker revokes its whole assignment, as ``WorkerCoordinator.poll`` does, so a worker cut
off from the brokers stops its tasks instead of running them beside their new owners.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafkalab.clients.group_common import COORDINATOR_ERRORS, GroupMembership
from kafkalab.connect.assignor import CONNECT_PROTOCOL_TYPE, protocols_for
from kafkalab.protocol.group import (
    NO_GENERATION,
    UNKNOWN_MEMBER_ID,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    MemberIdentity,
    SyncGroupRequest,
    SyncGroupResponse,
)

if TYPE_CHECKING:
    from kafkalab.clients.fetcher import ConsumerCore

__all__ = ["WorkerCoordinator"]

_LOST = frozenset({"UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION"})
_JOIN_LAPSE_MS = 5_000.0


class WorkerCoordinator(GroupMembership):
    """One worker incarnation's membership in the Connect group."""

    protocol = "classic"

    def __init__(self, core: ConsumerCore, worker: Any, connect_protocol: str) -> None:
        super().__init__(core)
        config = core.config
        self.worker = worker
        self.session_timeout_ms = int(config["session.timeout.ms"])
        self.heartbeat_interval_ms = float(config["heartbeat.interval.ms"])
        self.rebalance_timeout_ms = float(config["max.poll.interval.ms"])
        self.protocols = protocols_for(connect_protocol)
        self._member_id = UNKNOWN_MEMBER_ID
        self.generation = NO_GENERATION
        self.last_completed_generation = NO_GENERATION
        self.protocol_name: str | None = None
        self.leader_id = ""
        self.state_name = "unjoined"
        self.rejoin_needed = True
        self._in_flight = False
        self._heartbeat_timer: Any = None
        self._unknown_since: float | None = None
        self.rebalances = 0

    @property
    def member_id(self) -> str:
        return self._member_id

    @property
    def state(self) -> str:
        return self.state_name

    def is_leader(self) -> bool:
        return bool(self._member_id) and self._member_id == self.leader_id

    @property
    def cooperative(self) -> bool:
        return (self.protocol_name or self.protocols[0]) != "default"

    # -- driving --------------------------------------------------------------------------------------------------
    def request_rejoin(self, reason: str) -> None:
        self.port.record("connect.rejoin_requested", 1, reason=reason)
        self.rejoin_needed = True
        self.poll()

    def poll(self) -> None:
        """Kafka's ``WorkerCoordinator.poll``: join when needed (heartbeats run on their own timer)."""
        if self.closed or not self.port.alive:
            return
        if self.rejoin_needed and not self._in_flight and self.worker.may_join():
            self._join_prepare()

    def _join_prepare(self) -> None:
        self._stop_heartbeats()
        if not self.cooperative:
            self.worker.on_revoke_all("eager rebalance: revoking everything before the join")
        self.state_name = "preparing-rebalance"
        self._send_join()

    def _send_join(self) -> None:
        self._in_flight = True
        member_id = self._member_id
        protocols = tuple((name, self.worker.member_metadata(name)) for name in self.protocols)
        self.send_to_coordinator(lambda cid: JoinGroupRequest(
            self.group_id, self.session_timeout_ms, int(self.rebalance_timeout_ms), member_id, None,
            CONNECT_PROTOCOL_TYPE, protocols, correlation_id=cid), self._on_join,
            timeout_ms=self.rebalance_timeout_ms + _JOIN_LAPSE_MS)

    def _retry_join(self) -> None:
        self._in_flight = True
        self.set_timer(self.retry_backoff_ms, self._send_join, "join-retry")

    def _on_join(self, response: Any, error: str | None) -> None:
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if error is None and isinstance(response, JoinGroupResponse) and name == "NONE":
            self._member_id = response.member_id
            self.generation = response.generation_id
            self.protocol_name = response.protocol_name
            self.leader_id = response.leader
            self.state_name = "completing-rebalance"
            assignments: tuple[tuple[str, Any], ...] = ()
            if self.is_leader():
                members = {m.member_id: m.metadata for m in response.members}
                assignments = tuple(sorted(self.worker.perform_assignment(
                    response.protocol_name or "default", members, self.generation,
                    self.last_completed_generation).items()))
            self._send_sync(assignments)
            return
        self.port.record("connect.join_error", 1, error=name)
        if name == "MEMBER_ID_REQUIRED" and isinstance(response, JoinGroupResponse):
            self._member_id = response.member_id
            self._send_join()
        elif name in COORDINATOR_ERRORS:
            self._coordinator_lost(name)
            self._retry_join()
        elif name in _LOST:
            self._reset(reset_member_id=name == "UNKNOWN_MEMBER_ID")
            self._send_join()
        else:
            self._retry_join()

    def _send_sync(self, assignments: tuple[tuple[str, Any], ...]) -> None:
        generation, member_id, protocol = self.generation, self._member_id, self.protocol_name
        self.send_to_coordinator(lambda cid: SyncGroupRequest(
            self.group_id, generation, member_id, None, CONNECT_PROTOCOL_TYPE, protocol, assignments,
            correlation_id=cid), self._on_sync)

    def _on_sync(self, response: Any, error: str | None) -> None:
        self._in_flight = False
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if error is None and isinstance(response, SyncGroupResponse) and name == "NONE":
            self.state_name = "stable"
            self.rejoin_needed = False
            self.rebalances += 1
            self.last_completed_generation = self.generation
            self.port.record("connect.rebalance", 1, generation=self.generation, protocol=self.protocol_name or "")
            self._start_heartbeats()
            self.worker.on_assignment(response.assignment, self.generation)
            return
        self.port.record("connect.sync_error", 1, error=name)
        if name in COORDINATOR_ERRORS:
            self._coordinator_lost(name)
            self._retry_join()
        elif name in _LOST:
            self._reset(reset_member_id=name == "UNKNOWN_MEMBER_ID")
            self._send_join()
        elif name == "REBALANCE_IN_PROGRESS":
            self._send_join()
        else:
            self._retry_join()

    # -- heartbeats -----------------------------------------------------------------------------------------------
    def _start_heartbeats(self) -> None:
        self._stop_heartbeats()
        self._heartbeat_timer = self.set_timer(self.heartbeat_interval_ms, self._heartbeat, "heartbeat")

    def _stop_heartbeats(self) -> None:
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None

    def _heartbeat(self) -> None:
        self._heartbeat_timer = None
        if self.state_name != "stable":
            return
        generation, member_id = self.generation, self._member_id
        self.send_to_coordinator(lambda cid: HeartbeatRequest(self.group_id, generation, member_id, None,
                                                              correlation_id=cid), self._on_heartbeat)

    def _on_heartbeat(self, response: Any, error: str | None) -> None:
        name = error if error is not None else getattr(response, "error", "UNKNOWN_SERVER_ERROR")
        if self.state_name != "stable":
            return
        if error is None and isinstance(response, HeartbeatResponse) and name == "NONE":
            self._unknown_since = None
            self._heartbeat_timer = self.set_timer(self.heartbeat_interval_ms, self._heartbeat, "heartbeat")
            return
        self.port.record("connect.heartbeat_error", 1, error=name)
        if name == "REBALANCE_IN_PROGRESS":
            self.rejoin_needed = True
            self.worker.wakeup()
            self._heartbeat_timer = self.set_timer(self.heartbeat_interval_ms, self._heartbeat, "heartbeat")
        elif name in _LOST:
            self._reset(reset_member_id=name == "UNKNOWN_MEMBER_ID")
            self.rejoin_needed = True
            self.worker.wakeup()
        else:
            if name in COORDINATOR_ERRORS:
                self._coordinator_lost(name)
            self._heartbeat_timer = self.set_timer(self.retry_backoff_ms, self._heartbeat, "heartbeat")

    def _coordinator_lost(self, reason: str) -> None:
        """The coordinator is unknown: if it is not found again within ``heartbeat.interval.ms``, revoke all."""
        self.coordinator_unknown(reason)
        if self._unknown_since is None:
            self._unknown_since = self.port.now
            self.set_timer(self.heartbeat_interval_ms, self._check_unreachable, "coordinator-unreachable")

    def _check_unreachable(self) -> None:
        if self._unknown_since is None:
            return
        if self.coordinator is None or self.port.now - self._unknown_since >= self.heartbeat_interval_ms \
                and self.state_name != "stable":
            self.worker.on_revoke_all(f"Broker coordinator was unreachable for {self.heartbeat_interval_ms:.0f}ms")
        self._unknown_since = None

    def _reset(self, reset_member_id: bool) -> None:
        self.generation = NO_GENERATION
        if reset_member_id:
            self._member_id = UNKNOWN_MEMBER_ID
        self.state_name = "unjoined"
        self._stop_heartbeats()

    def close(self, now_ms: float) -> None:
        """Leave the group (a worker stopping cleanly)."""
        if self.closed:
            return
        if self._member_id != UNKNOWN_MEMBER_ID and self.coordinator is not None:
            member = MemberIdentity(self._member_id, None, "the worker is stopping")
            self.send_raw(self.coordinator, lambda cid: LeaveGroupRequest(self.group_id, (member,),
                                                                          correlation_id=cid), lambda r, e: None)
        self._stop_heartbeats()
        self.closed = True

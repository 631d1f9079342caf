"""The classic protocol's requests in the group coordinator: JoinGroup, SyncGroup, Heartbeat and LeaveGroup (the
request half of Kafka 4's ``GroupMetadataManager``: ``classicGroupJoin``, ``classicGroupSync``,
``classicGroupHeartbeat``, ``classicGroupLeave``, and its ``onLoaded``/``onUnloaded`` for classic groups).

How it works. A new dynamic member gets MEMBER_ID_REQUIRED with a generated id (Kafka 4 clients all use JoinGroup
>= v4) and joins again with it; its JoinGroup is parked until the join phase completes
(:class:`~kafkalab.groups.classic_rebalance.ClassicRebalance`). The leader's SyncGroup writes the generation with its
assignment; every parked SyncGroup is answered once that write committed. Heartbeat keeps the session alive and
tells members of a rebalance; LeaveGroup removes members (or, by group instance id alone, a static member) and
rebalances. Static membership: a known ``group.instance.id`` joining with a new member id replaces the old member
without a rebalance when the group is Stable and its protocol does not change (the replacement is persisted first).
``group.max.size`` turns joiners away with GROUP_MAX_SIZE_REACHED.

JoinGroup carries no client id here: a generated member id is ``<client_id attribute of the request, or
"consumer-<src>">-<uuid>`` (``<group.instance.id>-<uuid>`` when static), the uuid derived from (broker, partition,
leader epoch, counter) so runs repeat. A new classic group is not persisted until its first generation completes
(Kafka writes an empty GroupMetadata record first, which changes nothing a new leader would rebuild).
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

from kafkalab.errors import InvariantViolation
from kafkalab.groups.classic import ClassicGroup, ClassicGroupMember
from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.groups.classic_rebalance import (
    EMPTY_ASSIGNMENT,
    ClassicRebalance,
    complete_join,
    complete_sync,
    heartbeat_timer,
    sync_timer,
)
from kafkalab.groups.records import group_key
from kafkalab.groups.runtime import CoordinatorRuntime, Respond, Shard
from kafkalab.protocol.group import (
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    SyncGroupRequest,
    SyncGroupResponse,
)

__all__ = ["ClassicProtocol", "NEW_MEMBER_JOIN_TIMEOUT_MS"]

#: Kafka's ``group.classic.new.member.join.timeout.ms``-like constant (``classicGroupNewMemberJoinTimeoutMs``)
NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000


class ClassicProtocol:
    """JoinGroup, SyncGroup, Heartbeat and LeaveGroup for the classic groups of every shard of ``runtime``."""

    def __init__(self, broker_id: int, runtime: CoordinatorRuntime, rebalance: ClassicRebalance,
                 max_size: int) -> None:
        self.broker_id = broker_id
        self.runtime = runtime
        self.rebalance = rebalance
        self.max_size = max_size

    # ---- loading and unloading ----------------------------------------------------------------------------------
    def on_loaded(self, shard: Shard, now_ms: float) -> None:
        """A replayed group comes back Stable (or Empty): restart every member's session timer."""
        for group in shard.groups.values():
            for member in group.members.values():
                self.rebalance.schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)

    def on_unloaded(self, shard: Shard, now_ms: float) -> None:
        """Every group of ``shard`` becomes Dead; parked JoinGroup/SyncGroup requests get NOT_COORDINATOR."""
        for group in shard.groups.values():
            previous = group.state
            group.transition_to(S.DEAD, now_ms)
            for member in group.members.values():
                if previous is S.PREPARING_REBALANCE:
                    complete_join(member, JoinGroupResponse(error="NOT_COORDINATOR", member_id=member.member_id))
                elif previous in (S.COMPLETING_REBALANCE, S.STABLE):
                    complete_sync(member, SyncGroupResponse(error="NOT_COORDINATOR"))

    # ---- JoinGroup ----------------------------------------------------------------------------------------------
    def join(self, shard: Shard, src: Any, msg: JoinGroupRequest, respond: Respond, now_ms: float) -> None:
        group_id, member_id = msg.group_id, msg.member_id
        if self.runtime.is_consumer_group(group_id):
            respond(JoinGroupResponse(error="INCONSISTENT_GROUP_PROTOCOL", member_id=member_id))
            return
        group = shard.groups.get(group_id)
        if group is None:
            if member_id:
                respond(JoinGroupResponse(error="UNKNOWN_MEMBER_ID", member_id=member_id))
                return
            group = shard.groups[group_id] = ClassicGroup(group_id, state_timestamp_ms=now_ms)
        client_id = str(getattr(msg, "client_id", "") or f"consumer-{src}")
        if not self._accept_joining_member(group, member_id):
            group.remove(member_id)
            respond(JoinGroupResponse(error="GROUP_MAX_SIZE_REACHED"))
        elif not member_id:
            self._join_new_member(shard, group, client_id, msg, respond, now_ms)
        else:
            self._join_existing_member(shard, group, client_id, msg, respond, now_ms)

    def _accept_joining_member(self, group: ClassicGroup, member_id: str) -> bool:
        if group.is_in(S.EMPTY, S.DEAD):
            return True
        if group.is_in(S.PREPARING_REBALANCE):
            member = group.members.get(member_id)
            return (member is not None and member.awaiting_join is not None) or \
                group.num_awaiting_join() < self.max_size
        return member_id in group.members or len(group.members) < self.max_size

    def _join_new_member(self, shard: Shard, group: ClassicGroup, client_id: str, msg: JoinGroupRequest,
                         respond: Respond, now_ms: float) -> None:
        names = tuple(name for name, _ in msg.protocols)
        if group.is_in(S.DEAD):
            respond(JoinGroupResponse(error="COORDINATOR_NOT_AVAILABLE"))
            return
        if not group.supports_protocols(msg.protocol_type, names):
            respond(JoinGroupResponse(error="INCONSISTENT_GROUP_PROTOCOL"))
            return
        new_id = self._new_member_id(shard, msg.group_instance_id or client_id)
        if msg.group_instance_id is not None:
            existing = group.static_member_id(msg.group_instance_id)
            if existing is not None:
                self._replace_static_member(shard, group, msg, existing, new_id, respond, now_ms)
            else:
                self._add_member_then_rebalance(shard, group, msg, new_id, client_id, respond, now_ms)
        else:
            # Kafka 4 clients all use JoinGroup >= v4: a dynamic member first gets an id, then joins with it
            group.add_pending_member(new_id)
            self.rebalance.schedule_heartbeat(shard, group, new_id, now_ms + msg.session_timeout_ms)
            respond(JoinGroupResponse(error="MEMBER_ID_REQUIRED", member_id=new_id))

    def _new_member_id(self, shard: Shard, prefix: str) -> str:
        """``<client id or instance id>-<uuid>``, the uuid derived from (broker, partition, epoch, counter)."""
        shard.member_seq += 1
        seed = f"{self.broker_id}:{shard.partition}:{shard.leader_epoch}:{shard.member_seq}".encode()
        return f"{prefix}-{uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4)}"

    def _join_existing_member(self, shard: Shard, group: ClassicGroup, client_id: str, msg: JoinGroupRequest,
                              respond: Respond, now_ms: float) -> None:
        member_id = msg.member_id
        names = tuple(name for name, _ in msg.protocols)
        if group.is_in(S.DEAD):
            respond(JoinGroupResponse(error="COORDINATOR_NOT_AVAILABLE", member_id=member_id))
        elif not group.supports_protocols(msg.protocol_type, names):
            respond(JoinGroupResponse(error="INCONSISTENT_GROUP_PROTOCOL", member_id=member_id))
        elif group.is_pending_member(member_id):
            if msg.group_instance_id is not None:    # a pending member is never static: a client bug
                respond(JoinGroupResponse(error="UNKNOWN_SERVER_ERROR", member_id=member_id))
                return
            self._add_member_then_rebalance(shard, group, msg, member_id, client_id, respond, now_ms)
        else:
            error = group.validate_member(member_id, msg.group_instance_id)
            if error != "NONE":
                respond(JoinGroupResponse(error=error, member_id=member_id))
                return
            member = group.members[member_id]
            same = member.matches(msg.protocols)
            if group.is_in(S.PREPARING_REBALANCE):
                self._update_member_then_rebalance(shard, group, member, msg, respond, now_ms)
            elif group.is_in(S.COMPLETING_REBALANCE) and same:
                # the member lost its JoinGroup answer: give it the current generation again
                respond(group.join_response(member_id, with_members=group.is_leader(member_id)))
            elif group.is_in(S.STABLE) and same and not group.is_leader(member_id):
                respond(group.join_response(member_id, with_members=False))
            elif group.is_in(S.COMPLETING_REBALANCE, S.STABLE):
                # new metadata, or the leader asking for a rebalance
                self._update_member_then_rebalance(shard, group, member, msg, respond, now_ms)
            else:
                respond(JoinGroupResponse(error="UNKNOWN_MEMBER_ID", member_id=member_id))

    def _add_member_then_rebalance(self, shard: Shard, group: ClassicGroup, msg: JoinGroupRequest, member_id: str,
                                   client_id: str, respond: Respond, now_ms: float) -> None:
        member = ClassicGroupMember(member_id, msg.group_instance_id, client_id, msg.rebalance_timeout_ms,
                                    msg.session_timeout_ms, msg.protocol_type, tuple(msg.protocols),
                                    awaiting_join=respond, is_new=True)
        if group.is_in(S.PREPARING_REBALANCE) and group.previous_state is S.EMPTY:
            group.new_member_added = True
        group.add(member)
        # a new member cannot heartbeat while its JoinGroup is parked: it is timed out after a longer, fixed time
        self.rebalance.schedule_heartbeat(shard, group, member_id, now_ms + NEW_MEMBER_JOIN_TIMEOUT_MS)
        self.rebalance.maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)

    def _update_member_then_rebalance(self, shard: Shard, group: ClassicGroup, member: ClassicGroupMember,
                                      msg: JoinGroupRequest, respond: Respond, now_ms: float) -> None:
        group.update_member(member, tuple(msg.protocols), msg.rebalance_timeout_ms, msg.session_timeout_ms, respond)
        self.rebalance.maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)

    def _replace_static_member(self, shard: Shard, group: ClassicGroup, msg: JoinGroupRequest, old_id: str,
                               new_id: str, respond: Respond, now_ms: float) -> None:
        """Kafka's ``updateStaticMemberThenRebalanceOrCompleteJoin``."""
        runtime, rebalance = self.runtime, self.rebalance
        instance_id = msg.group_instance_id
        assert instance_id is not None
        current_leader = group.leader_id
        runtime.cancel_timer(shard, heartbeat_timer(group.group_id, old_id))
        member = group.replace_static_member(instance_id, old_id, new_id)
        rebalance.schedule_heartbeat(shard, group, new_id, now_ms + member.session_timeout_ms)
        old_protocols, old_rebalance_ms, old_session_ms = (member.protocols, member.rebalance_timeout_ms,
                                                           member.session_timeout_ms)
        group.update_member(member, tuple(msg.protocols), msg.rebalance_timeout_ms, msg.session_timeout_ms, respond)
        if group.is_in(S.STABLE):
            if group.protocol_name != group.select_protocol():
                rebalance.maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
                return
            generation = group.generation_id

            def done(error: str) -> None:
                if error != "NONE":     # revert to the old member id; the joiner is told to retry
                    group.update_member(member, old_protocols, old_rebalance_ms, old_session_ms, None)
                    if group.static_member_id(instance_id) == new_id:
                        old = group.replace_static_member(instance_id, new_id, old_id)
                        if runtime.is_led(shard):
                            rebalance.schedule_heartbeat(shard, group, old_id,
                                                         runtime.clock() + old.session_timeout_ms)
                    respond(JoinGroupResponse(error=error, generation_id=generation,
                                              protocol_type=group.protocol_type, protocol_name=group.protocol_name,
                                              leader=current_leader or ""))
                    return
                is_leader = group.is_leader(new_id)
                with_members = is_leader and group.is_in(S.STABLE, S.COMPLETING_REBALANCE)
                complete_join(member, group.join_response(new_id, with_members=with_members,
                                                          skip_assignment=with_members))
            runtime.write(shard, [(group_key(group.group_id), group.to_record())], done)
        elif group.is_in(S.COMPLETING_REBALANCE):
            # the leader may already be assigning to the old member id: rebalance so the new id gets partitions
            rebalance.prepare_rebalance(shard, group, now_ms)
        elif group.is_in(S.PREPARING_REBALANCE):
            rebalance.maybe_complete_join_phase(shard, group, now_ms)
        else:
            raise InvariantViolation(f"static member {instance_id} rejoined group {group.group_id!r} in {group.state}")

    # ---- SyncGroup ----------------------------------------------------------------------------------------------
    def sync(self, shard: Shard, msg: SyncGroupRequest, respond: Respond, now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is None or group.is_empty():
            respond(SyncGroupResponse(error="UNKNOWN_MEMBER_ID"))
            return
        error = _validate_sync(group, msg)
        if error != "NONE":
            respond(SyncGroupResponse(error=error))
        elif group.is_in(S.PREPARING_REBALANCE):
            respond(SyncGroupResponse(error="REBALANCE_IN_PROGRESS"))
        elif group.is_in(S.COMPLETING_REBALANCE):
            group.members[msg.member_id].awaiting_sync = respond
            self._remove_pending_sync_member(shard, group, msg.member_id)
            if group.is_leader(msg.member_id):
                self._store_assignment(shard, group, msg)
        elif group.is_in(S.STABLE):
            self._remove_pending_sync_member(shard, group, msg.member_id)
            member = group.members[msg.member_id]
            respond(SyncGroupResponse(error="NONE", protocol_type=group.protocol_type,
                                      protocol_name=group.protocol_name, assignment=member.assignment))

    def _store_assignment(self, shard: Shard, group: ClassicGroup, msg: SyncGroupRequest) -> None:
        """The leader's SyncGroup: write the generation with its assignment; answer everyone once committed."""
        runtime, rebalance = self.runtime, self.rebalance
        assignment = {member_id: a for member_id, a in msg.assignments}
        for member_id in group.members:
            assignment.setdefault(member_id, EMPTY_ASSIGNMENT)
        generation = group.generation_id

        def done(error: str) -> None:
            if not (group.is_in(S.COMPLETING_REBALANCE) and group.generation_id == generation):
                return          # the group moved on (a member joined or left) while the write was in flight
            now_ms = runtime.clock()
            if error != "NONE":
                rebalance.reset_and_propagate(shard, group, error, now_ms)
                rebalance.maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
                return
            for member in group.members.values():
                member.assignment = assignment.get(member.member_id, EMPTY_ASSIGNMENT)
            rebalance.propagate(shard, group, "NONE", now_ms)
            group.transition_to(S.STABLE, now_ms)
            runtime.port.record("group_rebalance_completed", 1, group=group.group_id, generation=generation)
        runtime.write(shard, [(group_key(group.group_id), group.to_record(assignment))], done)

    def _remove_pending_sync_member(self, shard: Shard, group: ClassicGroup, member_id: str) -> None:
        group.pending_sync_members.pop(member_id, None)
        if not group.pending_sync_members or group.is_in(S.DEAD, S.EMPTY, S.PREPARING_REBALANCE):
            self.runtime.cancel_timer(shard, sync_timer(group.group_id))

    # ---- Heartbeat and LeaveGroup -------------------------------------------------------------------------------
    def heartbeat(self, shard: Shard, msg: HeartbeatRequest, respond: Respond, now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is None:
            respond(HeartbeatResponse(error="UNKNOWN_MEMBER_ID"))
            return
        if group.is_in(S.DEAD):
            respond(HeartbeatResponse(error="COORDINATOR_NOT_AVAILABLE"))
            return
        error = group.validate_member(msg.member_id, msg.group_instance_id)
        if error == "NONE" and msg.generation_id != group.generation_id:
            error = "ILLEGAL_GENERATION"
        if error != "NONE":
            respond(HeartbeatResponse(error=error))
        elif group.is_in(S.EMPTY):
            respond(HeartbeatResponse(error="UNKNOWN_MEMBER_ID"))
        else:
            member = group.members[msg.member_id]
            self.rebalance.schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
            respond(HeartbeatResponse(
                error="REBALANCE_IN_PROGRESS" if group.is_in(S.PREPARING_REBALANCE) else "NONE"))

    def leave(self, shard: Shard, msg: LeaveGroupRequest, respond: Respond, now_ms: float) -> None:
        group = shard.groups.get(msg.group_id)
        if group is None:
            respond(LeaveGroupResponse(error="UNKNOWN_MEMBER_ID"))
            return
        if group.is_in(S.DEAD):
            respond(LeaveGroupResponse(error="COORDINATOR_NOT_AVAILABLE"))
            return
        results: list[tuple[str, str]] = []
        for ident in msg.members:
            if not ident.member_id:     # an administrative removal by group instance id
                static_id = group.static_member_id(ident.group_instance_id) if ident.group_instance_id else None
                if static_id is not None:
                    self._remove_current_member(shard, group, static_id)
                    results.append((ident.member_id, "NONE"))
                else:
                    results.append((ident.member_id, "UNKNOWN_MEMBER_ID"))
            elif group.is_pending_member(ident.member_id):
                group.remove(ident.member_id)
                self.runtime.cancel_timer(shard, heartbeat_timer(group.group_id, ident.member_id))
                results.append((ident.member_id, "NONE"))
            else:
                error = group.validate_member(ident.member_id, ident.group_instance_id)
                if error == "NONE":
                    self._remove_current_member(shard, group, ident.member_id)
                results.append((ident.member_id, error))
        if any(error == "NONE" for _, error in results):
            if group.is_in(S.STABLE, S.COMPLETING_REBALANCE):
                self.rebalance.maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
            elif group.is_in(S.PREPARING_REBALANCE):
                self.rebalance.maybe_complete_join_phase(shard, group, now_ms)
        respond(LeaveGroupResponse(error="NONE", member_errors=tuple(results)))

    def _remove_current_member(self, shard: Shard, group: ClassicGroup, member_id: str) -> None:
        self.runtime.cancel_timer(shard, heartbeat_timer(group.group_id, member_id))
        complete_join(group.members[member_id], JoinGroupResponse(error="UNKNOWN_MEMBER_ID"))
        group.remove(member_id)
        self.runtime.port.record("group_member_removed", 1, group=group.group_id, reason="leave")


def _validate_sync(group: ClassicGroup, msg: SyncGroupRequest) -> str:
    if group.is_in(S.DEAD):
        return "COORDINATOR_NOT_AVAILABLE"
    error = group.validate_member(msg.member_id, msg.group_instance_id)
    if error != "NONE":
        return error
    if msg.generation_id != group.generation_id:
        return "ILLEGAL_GENERATION"
    if (_inconsistent(msg.protocol_type, group.protocol_type)
            or _inconsistent(msg.protocol_name, group.protocol_name)):
        return "INCONSISTENT_GROUP_PROTOCOL"
    return "NONE"


def _inconsistent(requested: str | None, current: str | None) -> bool:
    return requested is not None and current is not None and requested != current

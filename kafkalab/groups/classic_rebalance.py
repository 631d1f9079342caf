"""The classic protocol's rebalance and session timers (the rebalance half of Kafka 4's ``GroupMetadataManager``:
``prepareRebalance``, ``InitialDelayedJoin``, ``completeClassicGroupJoin``, the pending-sync and heartbeat expirations).

How it works. A rebalance moves a :class:`~kafkalab.groups.classic.ClassicGroup` to PreparingRebalance and waits for
its members to rejoin: a group that was Empty waits the initial rebalance delay
(``group.initial.rebalance.delay.ms``, extended while members keep arriving, capped by the rebalance timeout), any
other group waits until every member rejoined or the rebalance timeout (the largest ``rebalance_timeout_ms`` of the
members) passed. Completing the join phase drops the dynamic members that did not rejoin, starts the next generation,
answers every parked JoinGroup (the member list to the leader only) and arms the pending-sync timeout; members that
have not sent SyncGroup by then are removed and the group rebalances again. A group that ends up Empty is persisted at
once. Each member has a session timer; when it expires the member is removed and the group rebalances.

Timer names: ``gc:heartbeat:<group>:<member>``, ``gc:join:<group>``, ``gc:sync:<group>``.
"""
from __future__ import annotations

from kafkalab.errors import InvariantViolation
from kafkalab.groups.classic import ClassicGroup, ClassicGroupMember
from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.groups.offset_handlers import OffsetExpiration
from kafkalab.groups.records import group_key
from kafkalab.groups.runtime import CoordinatorRuntime, Shard
from kafkalab.protocol.group import Assignment, JoinGroupResponse, SyncGroupResponse

__all__ = ["ClassicRebalance", "EMPTY_ASSIGNMENT", "complete_join", "complete_sync", "heartbeat_timer",
           "join_timer", "sync_timer"]

#: what a member the leader gave nothing gets
EMPTY_ASSIGNMENT = Assignment(())


def heartbeat_timer(group_id: str, member_id: str) -> str:
    return f"gc:heartbeat:{group_id}:{member_id}"


def join_timer(group_id: str) -> str:
    return f"gc:join:{group_id}"


def sync_timer(group_id: str) -> str:
    return f"gc:sync:{group_id}"


def complete_join(member: ClassicGroupMember, response: JoinGroupResponse) -> bool:
    """Answer the member's parked JoinGroup, if any; True when there was one."""
    respond, member.awaiting_join = member.awaiting_join, None
    if respond is None:
        return False
    respond(response)
    return True


def complete_sync(member: ClassicGroupMember, response: SyncGroupResponse) -> bool:
    """Answer the member's parked SyncGroup, if any; True when there was one."""
    respond, member.awaiting_sync = member.awaiting_sync, None
    if respond is None:
        return False
    respond(response)
    return True


class ClassicRebalance:
    """Rebalances and session expiry of the classic groups of every shard of ``runtime``."""

    def __init__(self, runtime: CoordinatorRuntime, expiration: OffsetExpiration, initial_delay_ms: int) -> None:
        self.runtime = runtime
        self.expiration = expiration
        self.initial_delay_ms = initial_delay_ms

    def maybe_prepare_rebalance_or_complete_join(self, shard: Shard, group: ClassicGroup, now_ms: float) -> None:
        if group.can_rebalance():
            self.prepare_rebalance(shard, group, now_ms)
        else:
            self.maybe_complete_join_phase(shard, group, now_ms)

    def prepare_rebalance(self, shard: Shard, group: ClassicGroup, now_ms: float) -> None:
        if group.is_in(S.COMPLETING_REBALANCE):
            self.reset_and_propagate(shard, group, "REBALANCE_IN_PROGRESS", now_ms)
        group.pending_sync_members.clear()
        self.runtime.cancel_timer(shard, sync_timer(group.group_id))
        initial = group.is_in(S.EMPTY)
        if initial:
            delay_ms = self.initial_delay_ms
            remaining_ms = max(group.rebalance_timeout_ms() - delay_ms, 0)
            self._schedule_initial_join(shard, group.group_id, now_ms + delay_ms, delay_ms, remaining_ms)
        group.transition_to(S.PREPARING_REBALANCE, now_ms)
        self.runtime.port.record("group_rebalance_started", 1, group=group.group_id)
        if not initial:
            if group.has_all_members_joined():
                self.complete_join_phase(shard, group, now_ms)
            else:
                self._schedule_join(shard, group, now_ms + group.rebalance_timeout_ms())

    def _schedule_initial_join(self, shard: Shard, group_id: str, at_ms: float, delay_ms: int,
                               remaining_ms: int) -> None:
        """Kafka's InitialDelayedJoin: wait ``delay_ms``; if members kept arriving, wait again (capped)."""
        def fire(now_ms: float) -> None:
            group = shard.groups.get(group_id)
            if group is None or not group.is_in(S.PREPARING_REBALANCE):
                return
            if group.new_member_added and remaining_ms != 0:
                group.new_member_added = False
                new_delay = min(self.initial_delay_ms, remaining_ms)
                self._schedule_initial_join(shard, group_id, now_ms + new_delay, new_delay,
                                            max(remaining_ms - delay_ms, 0))
            else:
                self.complete_join_phase(shard, group, now_ms)
        self.runtime.set_timer(shard, join_timer(group_id), at_ms, fire)

    def _schedule_join(self, shard: Shard, group: ClassicGroup, at_ms: float) -> None:
        group_id = group.group_id

        def fire(now_ms: float) -> None:
            current = shard.groups.get(group_id)
            if current is not None and current.is_in(S.PREPARING_REBALANCE):
                self.complete_join_phase(shard, current, now_ms)
        self.runtime.set_timer(shard, join_timer(group_id), at_ms, fire)

    def maybe_complete_join_phase(self, shard: Shard, group: ClassicGroup, now_ms: float) -> None:
        if (group.is_in(S.PREPARING_REBALANCE) and group.previous_state is not S.EMPTY
                and group.has_all_members_joined()):
            self.complete_join_phase(shard, group, now_ms)

    def complete_join_phase(self, shard: Shard, group: ClassicGroup, now_ms: float) -> None:
        """End PreparingRebalance: drop dynamic members that did not rejoin, start the next generation, answer every
        parked JoinGroup (the member list to the leader only) and wait for SyncGroup."""
        runtime = self.runtime
        runtime.cancel_timer(shard, join_timer(group.group_id))
        for member in group.not_yet_rejoined():
            if not member.is_static:
                group.remove(member.member_id)
                runtime.cancel_timer(shard, heartbeat_timer(group.group_id, member.member_id))
        if group.is_in(S.DEAD):
            return
        if group.members and not group.maybe_elect_new_joined_leader():
            # nobody rejoined (only static members left): try again after another rebalance timeout
            self._schedule_join(shard, group, now_ms + group.rebalance_timeout_ms())
            return
        group.init_next_generation(now_ms)
        if group.is_in(S.EMPTY):
            runtime.write(shard, [(group_key(group.group_id), group.to_record({}))], lambda error: None)
            self.expiration.maybe_schedule(shard, now_ms)
            return
        for member in group.members.values():
            complete_join(member, group.join_response(member.member_id,
                                                      with_members=group.is_leader(member.member_id)))
            self.schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)
            member.is_new = False
            group.pending_sync_members[member.member_id] = None
        generation = group.generation_id
        group_id = group.group_id

        def expire_sync(t: float) -> None:
            current = shard.groups.get(group_id)
            if current is None or current.generation_id != generation:
                return
            if current.is_in(S.COMPLETING_REBALANCE, S.STABLE) and current.pending_sync_members:
                for member_id in list(current.pending_sync_members):
                    current.remove(member_id)
                    runtime.cancel_timer(shard, heartbeat_timer(group_id, member_id))
                self.prepare_rebalance(shard, current, t)
        runtime.set_timer(shard, sync_timer(group_id), now_ms + group.rebalance_timeout_ms(), expire_sync)

    def reset_and_propagate(self, shard: Shard, group: ClassicGroup, error: str, now_ms: float) -> None:
        if not group.is_in(S.COMPLETING_REBALANCE):
            raise InvariantViolation(f"group {group.group_id!r} must be CompletingRebalance, is {group.state}")
        for member in group.members.values():
            member.assignment = EMPTY_ASSIGNMENT
        self.propagate(shard, group, error, now_ms)

    def propagate(self, shard: Shard, group: ClassicGroup, error: str, now_ms: float) -> None:
        """Answer every parked SyncGroup with ``error`` (and, when NONE, the member's assignment)."""
        ok = error == "NONE"
        for member in group.members.values():
            response = SyncGroupResponse(error=error, protocol_type=group.protocol_type if ok else None,
                                         protocol_name=group.protocol_name if ok else None,
                                         assignment=member.assignment)
            if complete_sync(member, response):
                # a session that expired while the member waited for the leader counted as alive: restart it
                self.schedule_heartbeat(shard, group, member.member_id, now_ms + member.session_timeout_ms)

    def schedule_heartbeat(self, shard: Shard, group: ClassicGroup, member_id: str, at_ms: float) -> None:
        """(Re)arm the session timer of ``member_id``; at ``at_ms`` the member is removed unless it heartbeated."""
        group_id = group.group_id

        def expire(now_ms: float) -> None:
            current = shard.groups.get(group_id)
            if current is None or current.is_in(S.DEAD):
                return
            if current.is_pending_member(member_id):
                current.remove(member_id)
                if current.is_in(S.PREPARING_REBALANCE) and current.has_all_members_joined():
                    self.complete_join_phase(shard, current, now_ms)
                return
            member = current.members.get(member_id)
            if member is not None and not member.has_satisfied_heartbeat():
                self._remove_member_and_update(shard, current, member, now_ms)
        self.runtime.set_timer(shard, heartbeat_timer(group_id, member_id), at_ms, expire)

    def _remove_member_and_update(self, shard: Shard, group: ClassicGroup, member: ClassicGroupMember,
                                  now_ms: float) -> None:
        complete_join(member, JoinGroupResponse(error="UNKNOWN_MEMBER_ID"))
        group.remove(member.member_id)
        self.runtime.port.record("group_member_removed", 1, group=group.group_id, reason="session_timeout")
        if group.is_in(S.STABLE, S.COMPLETING_REBALANCE):
            self.maybe_prepare_rebalance_or_complete_join(shard, group, now_ms)
        elif group.is_in(S.PREPARING_REBALANCE) and group.has_all_members_joined():
            self.complete_join_phase(shard, group, now_ms)

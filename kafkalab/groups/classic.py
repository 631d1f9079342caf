"""A classic-protocol consumer group as data: its states, members, generation and protocol (Kafka's
``classic/ClassicGroup.java``, ``ClassicGroupMember.java`` and ``ClassicGroupState.java``).

How it works. :class:`ClassicGroupState` is an enum and :data:`VALID_PREVIOUS_STATES` the table of the states a group
may come from; :meth:`ClassicGroup.transition_to` is the one place a state changes and raises
:class:`~kafkalab.errors.InvariantViolation` on a move the table does not allow (a bug in the coordinator, never a client
error). The group keeps its members in join order (a dict), counts the protocols they support so the protocol of the
next generation is chosen by vote among those every member supports, and tracks which members are awaiting a
JoinGroup or SyncGroup answer: an awaiting member holds a one-shot ``respond`` callable, which the coordinator
(:mod:`kafkalab.groups.coordinator`) completes. The rebalance logic itself (join, sync, heartbeat, leave, timers)
lives in the coordinator, as it lives in Kafka's ``GroupMetadataManager``.

States (``action`` / ``transition`` as in Kafka's ``ClassicGroupState``):
- Empty: no members (or only committed offsets); a join moves it to PreparingRebalance.
- PreparingRebalance: JoinGroup requests are parked until every known member rejoined or the rebalance timeout passed.
- CompletingRebalance: every member got its JoinGroup answer; waiting for the leader's SyncGroup with the assignment.
- Stable: the assignment is committed; heartbeats answer normally.
- Dead: the group is gone from this coordinator (unloaded or deleted).

Simplifications: members have no client host; member metadata is the ``Subscription`` value (not bytes), so
"same metadata" is value equality of the (name, subscription) pairs.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafkalab.errors import InvariantViolation
from kafkalab.groups.records import GroupMetadataValue, MemberMetadata
from kafkalab.protocol.group import JoinGroupMember, JoinGroupResponse, SyncGroupResponse

__all__ = ["ClassicGroupState", "VALID_PREVIOUS_STATES", "ClassicGroupMember", "ClassicGroup", "CONSUMER_PROTOCOL_TYPE"]

#: the protocol type of Kafka consumers (``ConsumerProtocol.PROTOCOL_TYPE``)
CONSUMER_PROTOCOL_TYPE = "consumer"


class ClassicGroupState(enum.Enum):
    """The five states of a classic group, named as Kafka prints them."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"

    def __str__(self) -> str:
        return self.value


S = ClassicGroupState
#: target state -> the states a group may move to it from (Kafka's ``validPreviousStates``)
VALID_PREVIOUS_STATES: Mapping[ClassicGroupState, frozenset[ClassicGroupState]] = {
    S.EMPTY: frozenset({S.PREPARING_REBALANCE}),
    S.PREPARING_REBALANCE: frozenset({S.STABLE, S.COMPLETING_REBALANCE, S.EMPTY}),
    S.COMPLETING_REBALANCE: frozenset({S.PREPARING_REBALANCE}),
    S.STABLE: frozenset({S.COMPLETING_REBALANCE}),
    S.DEAD: frozenset({S.STABLE, S.PREPARING_REBALANCE, S.COMPLETING_REBALANCE, S.EMPTY, S.DEAD}),
}

JoinRespond = Callable[[JoinGroupResponse], None]
SyncRespond = Callable[[SyncGroupResponse], None]


@dataclass(slots=True)
class ClassicGroupMember:
    """One member: its timeouts, its protocols in preference order, its assignment, and whether it awaits an answer."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: tuple[tuple[str, Any], ...]
    assignment: Any = None
    awaiting_join: JoinRespond | None = None
    awaiting_sync: SyncRespond | None = None
    #: a member that joined but has not received a JoinGroup answer yet can be expired even while awaiting join
    is_new: bool = False

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    def protocol_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.protocols)

    def metadata(self, protocol: str | None) -> Any:
        """This member's subscription for ``protocol`` (None when it does not support it)."""
        for name, meta in self.protocols:
            if name == protocol:
                return meta
        return None

    def matches(self, protocols: tuple[tuple[str, Any], ...]) -> bool:
        return tuple(protocols) == self.protocols

    def vote(self, candidates: frozenset[str]) -> str:
        """The first of this member's protocols that every member supports."""
        for name, _ in self.protocols:
            if name in candidates:
                return name
        raise InvariantViolation(f"member {self.member_id} supports none of the candidate protocols {sorted(candidates)}")

    def has_satisfied_heartbeat(self) -> bool:
        """Kafka's rule on session expiry: a member parked in JoinGroup or SyncGroup counts as alive, unless new."""
        if self.is_new:
            return False
        return self.awaiting_join is not None or self.awaiting_sync is not None


@dataclass(slots=True)
class ClassicGroup:
    """The state of one classic group. Mutated only by the coordinator, which owns the rebalance rules."""

    group_id: str
    state: ClassicGroupState = ClassicGroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    previous_state: ClassicGroupState | None = None
    state_timestamp_ms: float = -1.0
    members: dict[str, ClassicGroupMember] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)        # group instance id -> member id
    pending_join_members: dict[str, None] = field(default_factory=dict)  # member ids handed out by MEMBER_ID_REQUIRED
    pending_sync_members: dict[str, None] = field(default_factory=dict)
    supported_protocols: dict[str, int] = field(default_factory=dict)
    #: set when a member joins during the initial (delayed) rebalance, so the delay is extended
    new_member_added: bool = False
    #: the topics the members subscribed to at the last new generation, None when unknown (Kafka's
    #: ``subscribedTopics``, which OffsetDelete checks; see :meth:`compute_subscribed_topics`)
    subscribed_topics: frozenset[str] | None = None

    # ---- state -----------------------------------------------------------------------------------------------
    def transition_to(self, target: ClassicGroupState, now_ms: float) -> None:
        """Move to ``target``; raises InvariantViolation if ``target`` may not follow the current state."""
        if self.state not in VALID_PREVIOUS_STATES[target]:
            allowed = ", ".join(sorted(str(s) for s in VALID_PREVIOUS_STATES[target]))
            raise InvariantViolation(
                f"group {self.group_id!r} should be in one of [{allowed}] before moving to {target}, "
                f"but it is in {self.state} (at {now_ms} ms)")
        self.previous_state = self.state
        self.state = target
        self.state_timestamp_ms = now_ms

    def is_in(self, *states: ClassicGroupState) -> bool:
        return self.state in states

    def can_rebalance(self) -> bool:
        return self.state in VALID_PREVIOUS_STATES[S.PREPARING_REBALANCE]

    def is_empty(self) -> bool:
        return not self.members

    def is_simple(self) -> bool:
        """A group created only to hold committed offsets (no protocol type, no members)."""
        return self.protocol_type is None and not self.members and not self.pending_join_members

    # ---- members ---------------------------------------------------------------------------------------------
    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def has_member(self, member_id: str) -> bool:
        return member_id in self.members

    def static_member_id(self, instance_id: str) -> str | None:
        return self.static_members.get(instance_id)

    def add(self, member: ClassicGroupMember) -> None:
        if member.group_instance_id is not None:
            if member.group_instance_id in self.static_members:
                raise InvariantViolation(f"static member {member.group_instance_id} is already in {self.group_id!r}")
            self.static_members[member.group_instance_id] = member.member_id
        if not self.members:
            self.protocol_type = member.protocol_type
        if self.protocol_type != member.protocol_type or not self.supports_protocols(member.protocol_type,
                                                                                       member.protocol_names()):
            raise InvariantViolation(f"member {member.member_id} does not fit the protocols of {self.group_id!r}")
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.members[member.member_id] = member
        self._count_protocols(member, +1)
        self.pending_join_members.pop(member.member_id, None)

    def remove(self, member_id: str) -> None:
        member = self.members.pop(member_id, None)
        if member is not None:
            self._count_protocols(member, -1)
            if member.group_instance_id is not None:
                self.static_members.pop(member.group_instance_id, None)
        if self.is_leader(member_id):
            self.leader_id = next(iter(self.members), None)
        self.pending_join_members.pop(member_id, None)
        self.pending_sync_members.pop(member_id, None)

    def update_member(self, member: ClassicGroupMember, protocols: tuple[tuple[str, Any], ...],
                      rebalance_timeout_ms: int, session_timeout_ms: int, respond: JoinRespond | None) -> None:
        self._count_protocols(member, -1)
        member.protocols = tuple(protocols)
        self._count_protocols(member, +1)
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_timeout_ms = session_timeout_ms
        member.awaiting_join = respond

    def replace_static_member(self, instance_id: str, old_member_id: str, new_member_id: str
                              ) -> ClassicGroupMember:
        """Give the static member ``instance_id`` a new member id; the old id is fenced (FENCED_INSTANCE_ID to any
        request it has parked) and the new member keeps the old one's protocols and assignment."""
        old = self.members.pop(old_member_id, None)
        if old is None:
            raise InvariantViolation(f"cannot replace unknown member {old_member_id} of {self.group_id!r}")
        if old.awaiting_join is not None:
            respond, old.awaiting_join = old.awaiting_join, None
            respond(JoinGroupResponse(error="FENCED_INSTANCE_ID", member_id=old_member_id))
        if old.awaiting_sync is not None:
            sync, old.awaiting_sync = old.awaiting_sync, None
            sync(SyncGroupResponse(error="FENCED_INSTANCE_ID"))
        new = ClassicGroupMember(new_member_id, old.group_instance_id, old.client_id, old.rebalance_timeout_ms,
                                 old.session_timeout_ms, old.protocol_type, old.protocols, old.assignment)
        self.members[new_member_id] = new
        if self.is_leader(old_member_id):
            self.leader_id = new_member_id
        self.static_members[instance_id] = new_member_id
        self.pending_sync_members.pop(old_member_id, None)
        return new

    def add_pending_member(self, member_id: str) -> None:
        if member_id in self.members:
            raise InvariantViolation(f"pending member {member_id} is already a member of {self.group_id!r}")
        self.pending_join_members[member_id] = None

    def is_pending_member(self, member_id: str) -> bool:
        return member_id in self.pending_join_members

    def num_awaiting_join(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join is not None)

    def has_all_members_joined(self) -> bool:
        return self.num_awaiting_join() == len(self.members) and not self.pending_join_members

    def not_yet_rejoined(self) -> list[ClassicGroupMember]:
        return [m for m in self.members.values() if m.awaiting_join is None]

    def maybe_elect_new_joined_leader(self) -> bool:
        """Keep the leader if it rejoined, else elect the first member that did; False if nobody rejoined."""
        if self.leader_id is None:
            return False
        if self.members[self.leader_id].awaiting_join is not None:
            return True
        for member in self.members.values():
            if member.awaiting_join is not None:
                self.leader_id = member.member_id
                return True
        return False

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # ---- protocols -------------------------------------------------------------------------------------------
    def _count_protocols(self, member: ClassicGroupMember, delta: int) -> None:
        for name in member.protocol_names():
            self.supported_protocols[name] = self.supported_protocols.get(name, 0) + delta

    def supports_protocols(self, protocol_type: str, names: tuple[str, ...]) -> bool:
        if self.state is S.EMPTY:
            return bool(protocol_type) and bool(names)
        return (self.protocol_type == protocol_type
                and any(self.supported_protocols.get(n, 0) == len(self.members) for n in names))

    def select_protocol(self) -> str:
        """The protocol most members vote for among those all support (ties: the leader's preference, then name)."""
        if not self.members:
            raise InvariantViolation(f"cannot select a protocol for the empty group {self.group_id!r}")
        candidates = frozenset(n for n, c in self.supported_protocols.items() if c == len(self.members))
        votes: dict[str, int] = {}
        for member in self.members.values():
            name = member.vote(candidates)
            votes[name] = votes.get(name, 0) + 1
        best = max(votes.values())
        tied = sorted(n for n, v in votes.items() if v == best)
        leader = self.members.get(self.leader_id or "")
        if leader is not None:
            for name in leader.protocol_names():
                if name in tied:
                    return name
        return tied[0]

    # ---- generations -----------------------------------------------------------------------------------------
    def init_next_generation(self, now_ms: float) -> None:
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.transition_to(S.COMPLETING_REBALANCE, now_ms)
        else:
            self.protocol_name = None
            self.transition_to(S.EMPTY, now_ms)
        self.subscribed_topics = self.compute_subscribed_topics()
        self.pending_sync_members.clear()

    def compute_subscribed_topics(self) -> frozenset[str] | None:
        """Kafka's ``computeSubscribedTopics``: for protocol type ``consumer`` the union of the members' subscribed
        topics under the chosen protocol (empty without members); None for other protocol types or while no
        protocol is chosen."""
        if self.protocol_type != "consumer":
            return None
        if not self.members:
            return frozenset()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            topics.update(getattr(member.metadata(self.protocol_name), "topics", ()) or ())
        return frozenset(topics)

    def is_subscribed_to_topic(self, topic: str) -> bool:
        """Kafka's ``isSubscribedToTopic``: in the subscribed topics, or (when unknown) whether the group uses the
        consumer protocol."""
        if self.subscribed_topics is not None:
            return topic in self.subscribed_topics
        return self.protocol_type == "consumer"

    def join_members(self) -> tuple[JoinGroupMember, ...]:
        """The member list the leader gets in its JoinGroup answer."""
        if self.state in (S.DEAD, S.PREPARING_REBALANCE):
            raise InvariantViolation(f"no member list for group {self.group_id!r} in state {self.state}")
        return tuple(JoinGroupMember(m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
                     for m in self.members.values())

    def join_response(self, member_id: str, *, with_members: bool, skip_assignment: bool = False,
                      correlation_id: int = 0) -> JoinGroupResponse:
        return JoinGroupResponse(
            error="NONE", generation_id=self.generation_id, protocol_type=self.protocol_type,
            protocol_name=self.protocol_name, leader=self.leader_id or "", skip_assignment=skip_assignment,
            member_id=member_id, members=self.join_members() if with_members else (),
            correlation_id=correlation_id)

    # ---- validation ------------------------------------------------------------------------------------------
    def validate_member(self, member_id: str, instance_id: str | None) -> str:
        """NONE, or UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID (Kafka's ``validateMember``)."""
        if instance_id is not None:
            existing = self.static_members.get(instance_id)
            if existing is None:
                return "UNKNOWN_MEMBER_ID"
            if existing != member_id:
                return "FENCED_INSTANCE_ID"
        return "NONE" if member_id in self.members else "UNKNOWN_MEMBER_ID"

    def validate_offset_commit(self, member_id: str, instance_id: str | None, generation_id: int) -> str:
        """NONE or the error of a (non-transactional) offset commit against this group."""
        if self.state is S.DEAD:
            return "COORDINATOR_NOT_AVAILABLE"
        if generation_id < 0 and self.state is S.EMPTY:
            return "NONE"           # a consumer without group management (or an admin) commits for an empty group
        if generation_id >= 0 or member_id or instance_id is not None:
            error = self.validate_member(member_id, instance_id)
            if error != "NONE":
                return error
            if generation_id != self.generation_id:
                return "ILLEGAL_GENERATION"
        elif self.state is not S.EMPTY:
            return "UNKNOWN_MEMBER_ID"
        if self.state is S.COMPLETING_REBALANCE:
            return "REBALANCE_IN_PROGRESS"
        return "NONE"

    # ---- records ---------------------------------------------------------------------------------------------
    def to_record(self, assignment: Mapping[str, Any] | None = None) -> GroupMetadataValue:
        """The GroupMetadataValue of this group, with ``assignment`` (member id -> Assignment) or the current one."""
        members = tuple(
            MemberMetadata(m.member_id, m.group_instance_id, m.client_id, m.rebalance_timeout_ms,
                           m.session_timeout_ms, m.metadata(self.protocol_name),
                           m.assignment if assignment is None else assignment.get(m.member_id))
            for m in self.members.values())
        return GroupMetadataValue(self.protocol_type, self.generation_id, self.protocol_name, self.leader_id,
                                  self.state_timestamp_ms, members)

    @classmethod
    def from_record(cls, group_id: str, value: GroupMetadataValue) -> ClassicGroup:
        """The group a GroupMetadataValue describes: Stable with its members, or Empty (Kafka's replay)."""
        group = cls(group_id, state=S.STABLE if value.members else S.EMPTY, generation_id=value.generation,
                    protocol_type=value.protocol_type or None, protocol_name=value.protocol_name,
                    leader_id=value.leader, state_timestamp_ms=value.current_state_timestamp_ms)
        for m in value.members:
            member = ClassicGroupMember(
                m.member_id, m.group_instance_id, m.client_id,
                m.rebalance_timeout_ms if m.rebalance_timeout_ms != -1 else m.session_timeout_ms,
                m.session_timeout_ms, value.protocol_type or "", ((value.protocol_name or "", m.subscription),),
                m.assignment)
            group.members[m.member_id] = member
            group._count_protocols(member, +1)
            if m.group_instance_id is not None:
                group.static_members[m.group_instance_id] = m.member_id
        group.subscribed_topics = group.compute_subscribed_topics()
        return group

"""KIP-848 member reconciliation: how one member's assignment moves towards its target, one safe step at a time
(Kafka 4's ``modern/consumer/CurrentAssignmentBuilder`` and ``modern/MemberState``).

How it works. A member holds ``assigned`` (the partitions it may own now) and ``pending_revocation`` (partitions it
must give up). :func:`reconcile` is a pure function from the member, the group's target assignment for it at the
target epoch, who owns which partition now, and what the member reported owning, to the member's next state:

- STABLE: it owns its target at the target epoch. When a newer target epoch exists it computes the next step.
- UNREVOKED_PARTITIONS: it keeps its epoch until its heartbeat stops reporting every partition it must revoke; only
  then does it move on (to ``member_epoch + 1``, and from there towards the target).
- UNRELEASED_PARTITIONS: it is at the target epoch, but part of its target is still owned (or being revoked) by
  another member; each heartbeat re-checks and hands over what has been released in the meantime.
- UNKNOWN: a state this code does not know (written by a newer coordinator): the member must rejoin empty.

A step never gives a partition that another member still holds: ``owner_epoch(tp)`` is -1 only for a free partition,
so the new owner gets it on a heartbeat after the old owner's heartbeat stopped reporting it. When a member must
revoke, it gets no new partitions in that step.

Also here: the checks a heartbeat passes before any of this (:func:`validate_heartbeat`, :func:`check_heartbeat_epoch`).

Simplifications: partitions are :class:`TopicPartition` names rather than (topic id, partition) pairs.
"""
from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import FencedMemberEpochError, InvalidRequestError, UnsupportedAssignorError
from kafkalab.protocol.consumer_group import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
    ConsumerGroupHeartbeatRequest,
)

__all__ = ["MemberState", "ConsumerGroupMember", "reconcile", "NO_OWNER_EPOCH", "validate_heartbeat",
           "check_heartbeat_epoch"]

#: what ``owner_epoch`` answers for a partition nobody owns (Kafka's ``currentPartitionEpoch`` of -1)
NO_OWNER_EPOCH = -1


class MemberState(enum.Enum):
    """Kafka's ``MemberState`` (the values are Kafka's names, as written in ConsumerGroupCurrentMemberAssignment)."""

    STABLE = "stable"
    UNREVOKED_PARTITIONS = "unrevoked_partitions"
    UNRELEASED_PARTITIONS = "unreleased_partitions"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ConsumerGroupMember:
    """One member of a consumer-protocol group (Kafka's ``ConsumerGroupMember``), an immutable value.

    Subscription part (ConsumerGroupMemberMetadata): ``instance_id``, ``rack_id``, ``rebalance_timeout_ms``,
    ``subscribed_topics`` (sorted), ``server_assignor``. Assignment part (ConsumerGroupCurrentMemberAssignment):
    ``member_epoch``, ``previous_member_epoch``, ``state``, ``assigned``, ``pending_revocation``.
    """

    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topics: tuple[str, ...] = ()
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: frozenset[TopicPartition] = frozenset()
    pending_revocation: frozenset[TopicPartition] = frozenset()

    def is_reconciled_to(self, target_epoch: int) -> bool:
        """Stable at ``target_epoch`` (Kafka's ``isReconciledTo``)."""
        return self.state is MemberState.STABLE and self.member_epoch == target_epoch

    def owned(self) -> frozenset[TopicPartition]:
        """Every partition the group counts as this member's: assigned plus pending revocation."""
        return self.assigned | self.pending_revocation

    def with_epoch(self, epoch: int) -> ConsumerGroupMember:
        """A copy at ``epoch`` that remembers the epoch it comes from (Kafka's ``updateMemberEpoch``)."""
        return replace(self, member_epoch=epoch, previous_member_epoch=self.member_epoch)


def reconcile(member: ConsumerGroupMember, target_epoch: int, target: frozenset[TopicPartition],
              owner_epoch: Callable[[TopicPartition], int],
              owned: Iterable[TopicPartition] | None) -> ConsumerGroupMember:
    """The member's next state towards ``target`` at ``target_epoch`` (Kafka's ``CurrentAssignmentBuilder.build``).

    ``owner_epoch(tp)`` is the epoch at which some member holds ``tp`` now, or -1; ``owned`` is what the member's
    heartbeat reported (None when the heartbeat left it out, which counts as still owning everything).

    Example: member A at epoch 1 owns {p0, p1}; the target at epoch 2 is {p0}. ``reconcile`` returns A at epoch 1 in
    UNREVOKED_PARTITIONS with assigned {p0} and pending revocation {p1}; once A's heartbeat reports only {p0}, it
    returns A at epoch 2, STABLE, assigned {p0}.

    Raises FencedMemberEpochError for a member in the UNKNOWN state that still reports partitions.
    """
    owned_set = None if owned is None else frozenset(owned)
    state = member.state
    if state is MemberState.STABLE:
        if member.member_epoch == target_epoch:
            return member
        return _next_assignment(member, member.member_epoch, target_epoch, target, owner_epoch, owned_set)
    if state is MemberState.UNREVOKED_PARTITIONS:
        if _still_owns(owned_set, member.pending_revocation):
            return member
        return _next_assignment(member, member.member_epoch + 1, target_epoch, target, owner_epoch, owned_set)
    if state is MemberState.UNRELEASED_PARTITIONS:
        return _next_assignment(member, member.member_epoch, target_epoch, target, owner_epoch, owned_set)
    if owned_set is None or owned_set:
        raise FencedMemberEpochError("The consumer group member is in a unknown state. "
                                     "The member must abandon all its partitions and rejoin.")
    return _next_assignment(member, target_epoch, target_epoch, target, owner_epoch, owned_set)


def _still_owns(owned: frozenset[TopicPartition] | None, revoking: frozenset[TopicPartition]) -> bool:
    # A heartbeat without its owned partitions proves nothing: the member may still hold them.
    return owned is None or not owned.isdisjoint(revoking)


def _next_assignment(member: ConsumerGroupMember, epoch: int, target_epoch: int, target: frozenset[TopicPartition],
                     owner_epoch: Callable[[TopicPartition], int],
                     owned: frozenset[TopicPartition] | None) -> ConsumerGroupMember:
    # As Kafka's builder: whichever epoch the step lands on, the previous epoch is the one the member had.
    keep = member.assigned & target
    revoke = member.assigned - keep
    wanted = target - keep
    unreleased = frozenset(tp for tp in wanted if owner_epoch(tp) != NO_OWNER_EPOCH)
    gain = wanted - unreleased
    if revoke and _still_owns(owned, revoke):
        # Revoke first, at ``epoch``; nothing new is given until the member has let go.
        return replace(member.with_epoch(epoch), state=MemberState.UNREVOKED_PARTITIONS, assigned=keep,
                       pending_revocation=revoke)
    new_state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
    return replace(member.with_epoch(target_epoch), state=new_state, assigned=keep | gain,
                   pending_revocation=frozenset())


def validate_heartbeat(req: ConsumerGroupHeartbeatRequest, assignors: Collection[str]) -> None:
    """Kafka's ``throwIfConsumerGroupHeartbeatRequestIsInvalid``, with its messages: raises InvalidRequestError or
    UnsupportedAssignorError (naming the supported assignors and the closest one)."""
    if (req.member_epoch > 0 or req.member_epoch in (LEAVE_EPOCH, STATIC_LEAVE_EPOCH)) and not req.member_id:
        raise InvalidRequestError("MemberId can't be empty.")
    if not req.group_id:
        raise InvalidRequestError("GroupId can't be empty.")
    if req.instance_id == "":
        raise InvalidRequestError("InstanceId can't be empty.")
    if req.rack_id == "":
        raise InvalidRequestError("RackId can't be empty.")
    if req.member_epoch == JOIN_EPOCH:
        if req.rebalance_timeout_ms == -1:
            raise InvalidRequestError("RebalanceTimeoutMs must be provided in first request.")
        if req.topic_partitions is None or req.topic_partitions:
            raise InvalidRequestError("TopicPartitions must be empty when (re-)joining.")
        if req.subscribed_topic_names is None:
            raise InvalidRequestError("SubscribedTopicNames must be non-null when (re-)joining.")
    elif req.member_epoch == STATIC_LEAVE_EPOCH and req.instance_id is None:
        raise InvalidRequestError("InstanceId can't be null.")
    elif req.member_epoch < STATIC_LEAVE_EPOCH:
        raise InvalidRequestError(f"MemberEpoch is invalid: {req.member_epoch} (allowed: 0 to join, -1 to leave, "
                                  "-2 for a static member's temporary leave, or the member's epoch).")
    if req.server_assignor is not None and req.server_assignor not in assignors:
        close = difflib.get_close_matches(req.server_assignor, list(assignors), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise UnsupportedAssignorError(f"ServerAssignor {req.server_assignor} is not supported. Supported "
                                       f"assignors: {', '.join(assignors)}.{hint}")


def check_heartbeat_epoch(member: ConsumerGroupMember, req: ConsumerGroupHeartbeatRequest) -> None:
    """Kafka's ``throwIfConsumerGroupMemberEpochIsInvalid``: FencedMemberEpochError unless the heartbeat carries the
    member's epoch, or its previous one while owning no more than it is assigned (the answer that moved it on may
    have been lost). Epoch 0, a rejoin under a known member id, is accepted (KAFKA-19233)."""
    received = req.member_epoch
    if received == JOIN_EPOCH:
        return
    if received > member.member_epoch:
        raise FencedMemberEpochError(
            f"The consumer group member has a greater member epoch ({received}) than the one known by the group "
            f"coordinator ({member.member_epoch}). The member must abandon all its partitions and rejoin.")
    if received < member.member_epoch:
        owned = req.topic_partitions
        if received != member.previous_member_epoch or owned is None or not set(owned) <= member.assigned:
            raise FencedMemberEpochError(
                f"The consumer group member has a smaller member epoch ({received}) than the one known by the "
                f"group coordinator ({member.member_epoch}). The member must abandon all its partitions and "
                "rejoin.")

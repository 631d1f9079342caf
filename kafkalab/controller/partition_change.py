"""Leader election and ISR changes of one partition: Kafka's ``PartitionChangeBuilder`` (without reassignment and
without KIP-966's eligible leader replicas, which are off by default), plus topic-name validation (``Topic.validate``
and the '.'/'_' collision key of ``Topic.unifyCollisionChars``).

:func:`build_partition_change` is a pure function from a partition's registration, a target ISR, an election type
and a liveness predicate to the ``PartitionChangeRecord`` that gets there (or None when nothing changes):

- ONLINE keeps a valid leader (in the target ISR and acceptable: registered, unfenced, not shutting down), else
  elects the first valid replica in replica order, else none (-1);
- PREFERRED tries the first replica first, then the current leader, then the other replicas;
- UNCLEAN, when no ISR member can lead, elects the first acceptable replica, sets the ISR to it alone and marks the
  leader RECOVERING (KIP-704): committed data may be lost;
- an empty target ISR is never applied (the last member stays), but it leaves no valid leader.

Replaying the record bumps the partition epoch, and the leader epoch on a leader change
(:meth:`~kafkalab.metadata.image.PartitionRegistration.merge`); an ISR shrink alone does not bump the leader epoch
(Kafka >= 3.6, KAFKA-15021).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from kafkalab.metadata.image import PartitionRegistration
from kafkalab.metadata.records import LEADER_RECOVERY_RECOVERING, NO_CHANGE, NO_LEADER, PartitionChangeRecord
from kafkalab.protocol.admin import ELECTION_PREFERRED, ELECTION_UNCLEAN

__all__ = ["ELECTION_ONLINE", "build_partition_change", "validate_topic_name", "collision_key"]

ELECTION_ONLINE = "ONLINE"
_LEGAL_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_MAX_TOPIC_NAME_LENGTH = 249


def validate_topic_name(name: str) -> str | None:
    """Kafka's ``Topic.validate``: the reason a topic name is invalid, or None. The wording is Kafka's since 3.4
    (``Topic.detectInvalidTopic``, prefixed "Topic name is invalid: ")."""
    if not isinstance(name, str) or not name:
        reason = "the empty string is not allowed"
    elif name in (".", ".."):
        reason = f"'{name}' is not allowed"
    elif len(name) > _MAX_TOPIC_NAME_LENGTH:
        reason = f"the length of '{name}' is longer than the max allowed length {_MAX_TOPIC_NAME_LENGTH}"
    elif any(c not in _LEGAL_TOPIC_CHARS for c in name):
        reason = f"'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
    else:
        return None
    return f"Topic name is invalid: {reason}"


def collision_key(name: str) -> str | None:
    """The name two topics may not share (Kafka's ``Topic.unifyCollisionChars``: '.' becomes '_', since metric names
    cannot tell them apart), or None when ``name`` has neither character and so collides with nothing
    (``Topic.hasCollisionChars``)."""
    if "." not in name and "_" not in name:
        return None
    return name.replace(".", "_")


def build_partition_change(topic_id: str, partition_id: int, part: PartitionRegistration,
                           acceptable: Callable[[int], bool], *, target_isr: Sequence[int] | None = None,
                           election: str = ELECTION_ONLINE,
                           leader_recovery_state: int | None = None) -> PartitionChangeRecord | None:
    """Kafka's ``PartitionChangeBuilder.build`` without reassignment and ELR: the record that moves ``part`` to
    ``target_isr`` and elects a leader by ``election`` (ONLINE, PREFERRED or UNCLEAN), or None if nothing changes.

    An empty ``target_isr`` is not applied (with ELR off the ISR is never emptied) but no member of it is a valid
    leader either, so the partition loses its leader unless an unclean election finds a live replica.
    """
    isr = part.isr if target_isr is None else tuple(target_isr)

    def valid(replica: int) -> bool:
        return replica in isr and acceptable(replica)

    leader = part.leader
    unclean = False
    if election == ELECTION_PREFERRED:
        preferred = part.replicas[0]
        if valid(preferred):
            new_leader = preferred
        elif valid(leader):
            new_leader = leader
        else:
            new_leader = next((r for r in part.replicas[1:] if valid(r)), NO_LEADER)
    elif valid(leader):
        new_leader = leader
    else:
        new_leader = next((r for r in part.replicas if valid(r)), NO_LEADER)
        if new_leader == NO_LEADER and election == ELECTION_UNCLEAN:
            new_leader = next((r for r in part.replicas if acceptable(r)), NO_LEADER)
            unclean = new_leader != NO_LEADER
    record_leader = NO_CHANGE
    record_isr: tuple[int, ...] | None = None
    recovery: int | None = None
    if new_leader != leader:
        record_leader = new_leader
        if unclean:
            record_isr = (new_leader,)
            if part.leader_recovery_state != LEADER_RECOVERY_RECOVERING:
                recovery = LEADER_RECOVERY_RECOVERING
    if record_isr is None and isr and isr != part.isr:
        record_isr = isr
    if recovery is None and leader_recovery_state is not None and leader_recovery_state != part.leader_recovery_state:
        recovery = leader_recovery_state
    if record_leader == NO_CHANGE and record_isr is None and recovery is None:
        return None
    return PartitionChangeRecord(topic_id, partition_id, leader=record_leader, isr=record_isr,
                                 leader_recovery_state=recovery)

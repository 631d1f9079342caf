"""A KIP-848 consumer group's state and the records it is rebuilt from (Kafka 4's ``modern/consumer/ConsumerGroup``
and the ``ConsumerGroup*Key/Value`` records of ``group-coordinator/src/main/resources/common/message``).

How it works. Every change to a consumer group is a list of records appended to the group's ``__consumer_offsets``
partition; the in-memory :class:`ConsumerGroup` changes only by :meth:`ConsumerGroup.replay` of those records, both
when the coordinator handles a request and when a new coordinator loads the partition, so the two cannot drift.
Keys are bytes whose first byte is ``b"C"`` (the manager's tag), then a record type, then the group id and, for
per-member records, the member id, separated by ``\\x00``. A ``None`` value is a tombstone.

| key | value | Kafka record |
|---|---|---|
| ``b"CG\\0<group>"`` | :class:`GroupEpochValue` | ConsumerGroupMetadata (group epoch) |
| ``b"CP\\0<group>"`` | :class:`PartitionMetadataValue` | ConsumerGroupPartitionMetadata (subscribed topics' sizes) |
| ``b"CM\\0<group>\\0<member>"`` | :class:`MemberMetadataValue` | ConsumerGroupMemberMetadata (subscription) |
| ``b"CT\\0<group>\\0<member>"`` | :class:`TargetAssignmentValue` | ConsumerGroupTargetAssignmentMember |
| ``b"CE\\0<group>"`` | :class:`TargetEpochValue` | ConsumerGroupTargetAssignmentMetadata |
| ``b"CC\\0<group>\\0<member>"`` | :class:`CurrentAssignmentValue` | ConsumerGroupCurrentMemberAssignment |
| ``b"CR\\0<group>\\0<regex>"`` | :class:`RegularExpressionValue` | ConsumerGroupRegularExpression (a resolved regex) |

The group also keeps who owns which partition at which epoch (Kafka's ``currentPartitionEpoch``): a partition enters
the table when a member's assigned or pending-revocation set gains it and leaves when it loses it. Giving a partition
to a second member while the first still holds it breaks the protocol, so it raises :class:`InvariantViolation`.

Regex subscriptions (KIP-848's ``SubscribedTopicRegex``): a member's regex is part of its metadata record; what a
regex resolved to (topics, the metadata version it saw, when) is a record of its own, shared by every member with
that regex. The group subscribes to the union of its members' topic names and of the topics its regexes resolved to.

Simplifications: sizes are estimates; topics are names (Kafka uses topic ids).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvariantViolation
from kafkalab.groups.reconciliation import NO_OWNER_EPOCH, ConsumerGroupMember, MemberState

__all__ = [
    "TAG", "ConsumerGroupState", "ConsumerGroup", "Record",
    "GroupEpochValue", "PartitionMetadataValue", "MemberMetadataValue", "TargetAssignmentValue", "TargetEpochValue",
    "CurrentAssignmentValue", "RegularExpressionValue", "parse_key",
    "group_epoch_record", "partition_metadata_record", "member_metadata_record", "member_metadata_tombstone",
    "target_assignment_record", "target_assignment_tombstone", "target_epoch_record", "current_assignment_record",
    "current_assignment_tombstone", "removal_records", "regular_expression_record", "regular_expression_tombstone",
]

TAG = b"C"
_SEP = b"\x00"
_FIELD_BYTES = 8
Record = tuple[bytes, Any]


def _partitions_size(parts: Iterable[TopicPartition]) -> int:
    return sum(len(tp.topic) + 6 for tp in parts)


@dataclass(frozen=True, slots=True)
class GroupEpochValue:
    epoch: int

    def serialized_size(self) -> int:
        return _FIELD_BYTES


@dataclass(frozen=True, slots=True)
class PartitionMetadataValue:
    """``topics``: (topic, partition count) of every topic some member subscribes to and that exists, sorted."""

    topics: tuple[tuple[str, int], ...]

    def serialized_size(self) -> int:
        return _FIELD_BYTES + sum(len(t) + 6 for t, _ in self.topics)


@dataclass(frozen=True, slots=True)
class MemberMetadataValue:
    instance_id: str | None
    rack_id: str | None
    rebalance_timeout_ms: int
    subscribed_topic_names: tuple[str, ...]
    server_assignor: str | None
    subscribed_topic_regex: str | None = None

    def serialized_size(self) -> int:
        regex = 0 if self.subscribed_topic_regex is None else len(self.subscribed_topic_regex) + 2
        return 4 * _FIELD_BYTES + sum(len(t) + 2 for t in self.subscribed_topic_names) + regex


@dataclass(frozen=True, slots=True)
class TargetAssignmentValue:
    partitions: tuple[TopicPartition, ...]

    def serialized_size(self) -> int:
        return _FIELD_BYTES + _partitions_size(self.partitions)


@dataclass(frozen=True, slots=True)
class TargetEpochValue:
    assignment_epoch: int

    def serialized_size(self) -> int:
        return _FIELD_BYTES


@dataclass(frozen=True, slots=True)
class CurrentAssignmentValue:
    member_epoch: int
    previous_member_epoch: int
    state: str
    assigned_partitions: tuple[TopicPartition, ...]
    partitions_pending_revocation: tuple[TopicPartition, ...]

    def serialized_size(self) -> int:
        return 3 * _FIELD_BYTES + _partitions_size(self.assigned_partitions) + _partitions_size(
            self.partitions_pending_revocation)


@dataclass(frozen=True, slots=True)
class RegularExpressionValue:
    """What a regex resolved to: ``topics`` (sorted), the metadata ``version`` it was resolved against and when
    (``timestamp_ms``); Kafka's ConsumerGroupRegularExpressionValue."""

    topics: tuple[str, ...]
    version: int
    timestamp_ms: float

    def serialized_size(self) -> int:
        return 2 * _FIELD_BYTES + sum(len(t) + 2 for t in self.topics)


def _key(kind: bytes, group_id: str, member_id: str | None = None) -> bytes:
    key = TAG + kind + _SEP + group_id.encode()
    return key if member_id is None else key + _SEP + member_id.encode()


def parse_key(key: bytes) -> tuple[bytes, str, str | None]:
    """``(record type, group id, member id or None)`` of a consumer group key; ValueError for any other key."""
    # a regex (type R) may hold any character: only the first two separators count for it
    parts = key.split(_SEP, 2) if key[1:2] == b"R" else key.split(_SEP)
    if len(parts) not in (2, 3) or len(parts[0]) != 2 or parts[0][:1] != TAG or parts[0][1:] not in b"GPMTECR" \
            or (parts[0][1:] == b"R" and len(parts) != 3):
        raise ValueError(f"not a consumer group record key: {key!r} (expected b'C<type>\\x00<group>[\\x00<member>]' "
                         "with type one of G, P, M, T, E, C, or b'CR\\x00<group>\\x00<regex>')")
    return parts[0][1:], parts[1].decode(), parts[2].decode() if len(parts) == 3 else None


def _sorted(parts: Iterable[TopicPartition]) -> tuple[TopicPartition, ...]:
    return tuple(sorted(parts))


def group_epoch_record(group_id: str, epoch: int) -> Record:
    return _key(b"G", group_id), GroupEpochValue(epoch)


def partition_metadata_record(group_id: str, topics: dict[str, int]) -> Record:
    return _key(b"P", group_id), PartitionMetadataValue(tuple(sorted(topics.items())))


def member_metadata_record(group_id: str, m: ConsumerGroupMember, regex: str | None = None) -> Record:
    """``regex``: the member's SubscribedTopicRegex (None or ``""`` when it has none)."""
    return _key(b"M", group_id, m.member_id), MemberMetadataValue(
        m.instance_id, m.rack_id, m.rebalance_timeout_ms, m.subscribed_topics, m.server_assignor, regex or None)


def member_metadata_tombstone(group_id: str, member_id: str) -> Record:
    return _key(b"M", group_id, member_id), None


def target_assignment_record(group_id: str, member_id: str, parts: Iterable[TopicPartition]) -> Record:
    return _key(b"T", group_id, member_id), TargetAssignmentValue(_sorted(parts))


def target_assignment_tombstone(group_id: str, member_id: str) -> Record:
    return _key(b"T", group_id, member_id), None


def target_epoch_record(group_id: str, epoch: int) -> Record:
    return _key(b"E", group_id), TargetEpochValue(epoch)


def current_assignment_record(group_id: str, m: ConsumerGroupMember) -> Record:
    return _key(b"C", group_id, m.member_id), CurrentAssignmentValue(
        m.member_epoch, m.previous_member_epoch, m.state.value, _sorted(m.assigned), _sorted(m.pending_revocation))


def current_assignment_tombstone(group_id: str, member_id: str) -> Record:
    return _key(b"C", group_id, member_id), None


def regular_expression_record(group_id: str, regex: str, topics: Iterable[str], version: int,
                              timestamp_ms: float) -> Record:
    return _key(b"R", group_id, regex), RegularExpressionValue(tuple(sorted(set(topics))), version, timestamp_ms)


def regular_expression_tombstone(group_id: str, regex: str) -> Record:
    return _key(b"R", group_id, regex), None


def removal_records(group_id: str, member_id: str) -> list[Record]:
    """The tombstones that remove a member; in this order, so replay releases its partitions before it goes."""
    return [current_assignment_tombstone(group_id, member_id), target_assignment_tombstone(group_id, member_id),
            member_metadata_tombstone(group_id, member_id)]


class ConsumerGroupState(enum.Enum):
    """Kafka's ``ConsumerGroup.ConsumerGroupState`` (derived from the members, never set directly)."""

    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"


class ConsumerGroup:
    """One consumer-protocol group: epochs, members, target assignment, partition owners. Changed only by replay."""

    __slots__ = ("group_id", "group_epoch", "assignment_epoch", "subscription_metadata", "members", "target",
                 "static_members", "partition_epochs", "member_regex", "resolved_regex")

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.subscription_metadata: dict[str, int] = {}
        self.members: dict[str, ConsumerGroupMember] = {}
        self.target: dict[str, frozenset[TopicPartition]] = {}
        self.static_members: dict[str, str] = {}
        self.partition_epochs: dict[TopicPartition, int] = {}
        #: member id -> its SubscribedTopicRegex (members without one are absent)
        self.member_regex: dict[str, str] = {}
        #: regex -> what it resolved to (Kafka's ``resolvedRegularExpressions``)
        self.resolved_regex: dict[str, RegularExpressionValue] = {}

    def copy(self) -> ConsumerGroup:
        """An independent copy (members are immutable values, so copying the dicts is enough)."""
        other = ConsumerGroup(self.group_id)
        other.group_epoch, other.assignment_epoch = self.group_epoch, self.assignment_epoch
        other.subscription_metadata = dict(self.subscription_metadata)
        other.members = dict(self.members)
        other.target = dict(self.target)
        other.static_members = dict(self.static_members)
        other.partition_epochs = dict(self.partition_epochs)
        other.member_regex = dict(self.member_regex)
        other.resolved_regex = dict(self.resolved_regex)
        return other

    # ---- reads ----------------------------------------------------------------------------------------------------
    @property
    def state(self) -> ConsumerGroupState:
        """Empty without members, Assigning while the target lags the group epoch, Reconciling while some member
        has not reached the target, else Stable (Kafka's ``maybeUpdateGroupState``)."""
        if not self.members:
            return ConsumerGroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ConsumerGroupState.ASSIGNING
        if any(not m.is_reconciled_to(self.assignment_epoch) for m in self.members.values()):
            return ConsumerGroupState.RECONCILING
        return ConsumerGroupState.STABLE

    def owner_epoch(self, tp: TopicPartition) -> int:
        """The epoch at which some member holds ``tp``, or -1 when nobody does."""
        return self.partition_epochs.get(tp, NO_OWNER_EPOCH)

    def static_member(self, instance_id: str) -> ConsumerGroupMember | None:
        member_id = self.static_members.get(instance_id)
        return None if member_id is None else self.members[member_id]

    def target_of(self, member_id: str, instance_id: str | None) -> frozenset[TopicPartition]:
        """The member's target; a static member's by its instance id (Kafka's ``targetAssignment(memberId,
        instanceId)``), which is how a restarted static member finds its predecessor's."""
        if instance_id is not None:
            previous = self.static_members.get(instance_id)
            return self.target.get(previous, frozenset()) if previous is not None else frozenset()
        return self.target.get(member_id, frozenset())

    def describe(self) -> dict[str, Any]:
        """Epochs, state and every member (sorted by id) with its assignment, target and subscription."""
        return {
            "group_id": self.group_id, "protocol": "consumer", "state": self.state.value,
            "group_epoch": self.group_epoch, "assignment_epoch": self.assignment_epoch,
            "members": [{
                "member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
                "member_epoch": m.member_epoch, "state": m.state.value, "assignment": sorted(m.assigned),
                "pending_revocation": sorted(m.pending_revocation), "target": sorted(self.target.get(mid, ())),
                "subscribed_topics": list(m.subscribed_topics),
                "subscribed_topic_regex": self.member_regex.get(mid),
            } for mid, m in sorted(self.members.items())],
            "resolved_regex": {regex: list(value.topics) for regex, value in sorted(self.resolved_regex.items())},
        }

    def subscribed_topics(self) -> set[str]:
        """Every topic some member subscribes to: by name, or through a regex resolved so far."""
        names = {t for m in self.members.values() for t in m.subscribed_topics}
        for regex in set(self.member_regex.values()):
            resolved = self.resolved_regex.get(regex)
            if resolved is not None:
                names.update(resolved.topics)
        return names

    def member_topics(self, member: ConsumerGroupMember, regex: str | None) -> frozenset[str]:
        """What one member subscribes to: its names plus what its regex resolved to (nothing while unresolved);
        Kafka's ``TargetAssignmentBuilder`` gives the assignor this set."""
        resolved = self.resolved_regex.get(regex) if regex else None
        if resolved is None:
            return frozenset(member.subscribed_topics)
        return frozenset(member.subscribed_topics) | frozenset(resolved.topics)

    def regex_subscribers(self, regex: str) -> int:
        """How many members subscribe to ``regex`` (Kafka's ``numSubscribedMembers``)."""
        return sum(1 for r in self.member_regex.values() if r == regex)

    def last_regex_refresh_ms(self) -> float:
        """When the newest resolution was made (-inf without any: virtual time starts at 0, so no 0 default)."""
        return max((v.timestamp_ms for v in self.resolved_regex.values()), default=-float("inf"))

    def last_regex_version(self) -> int:
        """The oldest metadata version a current resolution saw (-1 without any)."""
        return min((v.version for v in self.resolved_regex.values()), default=-1)

    # ---- replay ---------------------------------------------------------------------------------------------------
    def replay(self, kind: bytes, member_id: str | None, value: Any) -> None:
        """Apply one record (as Kafka's ``GroupMetadataManager.replay`` for the consumer group records)."""
        if kind == b"G":
            self.group_epoch = 0 if value is None else value.epoch
        elif kind == b"P":
            self.subscription_metadata = {} if value is None else dict(value.topics)
        elif kind == b"E":
            self.assignment_epoch = 0 if value is None else value.assignment_epoch
        elif kind == b"R":
            assert member_id is not None       # the regex is the key's third part
            if value is None:
                self.resolved_regex.pop(member_id, None)
            else:
                self.resolved_regex[member_id] = value
        else:
            assert member_id is not None
            if kind == b"T":
                if value is None:
                    self.target.pop(member_id, None)
                else:
                    self.target[member_id] = frozenset(value.partitions)
            elif kind == b"M":
                self._replay_member_metadata(member_id, value)
            else:
                self._replay_current_assignment(member_id, value)

    def _replay_member_metadata(self, member_id: str, value: MemberMetadataValue | None) -> None:
        old = self.members.get(member_id)
        if value is None:
            if old is not None:
                if old.owned():
                    raise InvariantViolation(f"consumer group {self.group_id}: member {member_id} removed while it "
                                             "still holds partitions (its assignment tombstone must come first)")
                self._remove(old)
            self.member_regex.pop(member_id, None)
            return
        if value.subscribed_topic_regex:
            self.member_regex[member_id] = value.subscribed_topic_regex
        else:
            self.member_regex.pop(member_id, None)
        base = old if old is not None else ConsumerGroupMember(member_id)
        self._update(replace(base, instance_id=value.instance_id, rack_id=value.rack_id,
                             rebalance_timeout_ms=value.rebalance_timeout_ms,
                             subscribed_topics=value.subscribed_topic_names, server_assignor=value.server_assignor))

    def _replay_current_assignment(self, member_id: str, value: CurrentAssignmentValue | None) -> None:
        old = self.members.get(member_id)
        if value is None:
            if old is not None:
                self._update(replace(old, member_epoch=-1, previous_member_epoch=-1, state=MemberState.STABLE,
                                     assigned=frozenset(), pending_revocation=frozenset()))
            return
        try:
            state = MemberState(value.state)
        except ValueError:
            state = MemberState.UNKNOWN
        base = old if old is not None else ConsumerGroupMember(member_id)
        self._update(replace(base, member_epoch=value.member_epoch, previous_member_epoch=value.previous_member_epoch,
                             state=state, assigned=frozenset(value.assigned_partitions),
                             pending_revocation=frozenset(value.partitions_pending_revocation)))

    def _update(self, new: ConsumerGroupMember) -> None:
        old = self.members.get(new.member_id)
        if old is not None:
            self._release(old)
        for tp in sorted(new.owned()):
            holder = self.partition_epochs.get(tp)
            if holder is not None:
                raise InvariantViolation(f"consumer group {self.group_id}: {tp} given to {new.member_id} at epoch "
                                         f"{new.member_epoch} while still owned at epoch {holder}")
            self.partition_epochs[tp] = new.member_epoch
        self.members[new.member_id] = new
        if new.instance_id is not None:
            self.static_members[new.instance_id] = new.member_id

    def _remove(self, old: ConsumerGroupMember) -> None:
        self._release(old)
        del self.members[old.member_id]
        if old.instance_id is not None and self.static_members.get(old.instance_id) == old.member_id:
            del self.static_members[old.instance_id]

    def _release(self, old: ConsumerGroupMember) -> None:
        for tp in old.owned():
            self.partition_epochs.pop(tp, None)

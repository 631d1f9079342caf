"""The group coordinator's records in ``__consumer_offsets``: keys and values (Kafka's ``OffsetCommitKey/Value`` and
``GroupMetadataKey/Value``, ``group-coordinator/src/main/resources/common/message``).

How it works. A record is ``(key, value)``: the key is bytes and is the compaction key (the last value per key wins, a
``None`` value is a tombstone that deletes the key), the value is a small frozen dataclass with ``serialized_size()``.
The first byte of a key is its tag:

- ``b"O"`` committed offset of one partition for one group: ``b"O\\x00" + group + b"\\x00" + topic + b"\\x00" +
  partition`` -> :class:`OffsetCommitValue`;
- ``b"G"`` a classic group's metadata: ``b"G\\x00" + group`` -> :class:`GroupMetadataValue` (protocol type, generation,
  chosen protocol, leader, and every member with its subscription and assignment);
- ``b"C..."`` belong to the KIP-848 group manager (:mod:`kafkalab.groups.consumer_group`).

Simplifications: Kafka serializes keys and values with versioned schemas; here values are Python objects whose size is
estimated (a few bytes per field, a little per topic and partition) so the log and the loading time grow as they would.
Group ids, topics and member ids must not contain ``\\x00`` (Kafka's would not either in practice).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.group import Assignment, Subscription

__all__ = [
    "OFFSET_TAG", "GROUP_TAG", "CONSUMER_GROUP_TAG",
    "offset_key", "group_key", "parse_offset_key", "parse_group_key",
    "OffsetCommitValue", "MemberMetadata", "GroupMetadataValue", "value_size_bytes",
]

OFFSET_TAG = b"O"
GROUP_TAG = b"G"
CONSUMER_GROUP_TAG = b"C"

_SEP = b"\x00"
_FIELD_BYTES = 8


def offset_key(group_id: str, tp: TopicPartition) -> bytes:
    """The compaction key of ``group_id``'s committed offset of ``tp``."""
    return OFFSET_TAG + _SEP + group_id.encode() + _SEP + tp.topic.encode() + _SEP + str(tp.partition).encode()


def group_key(group_id: str) -> bytes:
    """The compaction key of a classic group's metadata."""
    return GROUP_TAG + _SEP + group_id.encode()


def parse_offset_key(key: bytes) -> tuple[str, TopicPartition]:
    """``(group id, partition)`` of an offset key; ``ValueError`` if ``key`` is not one."""
    parts = key.split(_SEP)
    if len(parts) != 4 or parts[0] != OFFSET_TAG:
        raise ValueError(f"not an offset commit key: {key!r} (expected b'O\\x00<group>\\x00<topic>\\x00<partition>')")
    return parts[1].decode(), TopicPartition(parts[2].decode(), int(parts[3]))


def parse_group_key(key: bytes) -> str:
    """The group id of a classic group metadata key; ``ValueError`` if ``key`` is not one."""
    parts = key.split(_SEP, 1)
    if len(parts) != 2 or parts[0] != GROUP_TAG:
        raise ValueError(f"not a group metadata key: {key!r} (expected b'G\\x00<group>')")
    return parts[1].decode()


def value_size_bytes(value: Any) -> int:
    """Estimated serialized size of a payload the coordinator stores without looking inside."""
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, Subscription):
        return 2 * _FIELD_BYTES + sum(len(t) + 2 for t in value.topics) + 8 * len(value.owned_partitions)
    if isinstance(value, Assignment):
        return _FIELD_BYTES + sum(len(tp.topic) + 6 for tp in value.partitions)
    size = getattr(value, "serialized_size", None)
    return int(size()) if callable(size) else _FIELD_BYTES


@dataclass(frozen=True, slots=True)
class OffsetCommitValue:
    """A committed offset as stored (Kafka's ``OffsetCommitValue``)."""

    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp_ms: float = 0.0

    def serialized_size(self) -> int:
        return 4 * _FIELD_BYTES + len(self.metadata)


@dataclass(frozen=True, slots=True)
class MemberMetadata:
    """One member of a classic group as stored: its subscription for the group's protocol and its assignment."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: Any
    assignment: Any

    def serialized_size(self) -> int:
        return (4 * _FIELD_BYTES + len(self.member_id) + len(self.group_instance_id or "") + len(self.client_id)
                + value_size_bytes(self.subscription) + value_size_bytes(self.assignment))


@dataclass(frozen=True, slots=True)
class GroupMetadataValue:
    """A classic group as stored (Kafka's ``GroupMetadataValue``), written when a generation's assignment is
    committed, when a static member is replaced, and when the group becomes empty."""

    protocol_type: str | None
    generation: int
    protocol_name: str | None
    leader: str | None
    current_state_timestamp_ms: float
    members: tuple[MemberMetadata, ...] = ()

    def serialized_size(self) -> int:
        return (4 * _FIELD_BYTES + len(self.protocol_type or "") + len(self.protocol_name or "")
                + len(self.leader or "") + sum(m.serialized_size() for m in self.members))

"""The group RPCs, as frozen values (Kafka's ``FindCoordinator``, ``JoinGroup``, ``SyncGroup``, ``Heartbeat``,
``LeaveGroup``, ``OffsetCommit``, ``OffsetFetch`` schemas; KIP-848's ``ConsumerGroupHeartbeat`` is
:mod:`kafkalab.protocol.consumer_group`).

Field names follow Kafka's ``*Request.json`` schemas in snake case; errors are Kafka's error names (``"NONE"``,
``"NOT_COORDINATOR"``, ...). ``correlation_id`` matches an answer to its request. Partitions are
:class:`~kafkalab.common.topic_partition.TopicPartition` values and topics are names (Kafka 4 sends topic ids in KIP-848
heartbeats; kafkalab keeps names, which changes nothing the protocol decides).

The classic protocol's member metadata and assignment are opaque bytes to the coordinator in Kafka (the consumer
protocol's ``Subscription``/``Assignment`` serialized); here they are the :class:`Subscription` and
:class:`Assignment` values themselves, which the coordinator stores and hands back without looking inside, except to
size messages.

The admin RPCs OffsetDelete and DeleteGroups are :mod:`kafkalab.protocol.group_admin`'s.

Simplifications: no DescribeGroups/ListGroups RPCs (the cluster facade reads coordinators directly), no transactional
offset commits, one group per FindCoordinator request.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest
from kafkalab.protocol.group_admin import DeleteGroupsRequest, OffsetDeleteRequest

__all__ = [
    "NO_GENERATION", "UNKNOWN_MEMBER_ID", "Subscription", "Assignment", "FindCoordinatorRequest",
    "FindCoordinatorResponse", "JoinGroupRequest", "JoinGroupMember", "JoinGroupResponse", "SyncGroupRequest",
    "SyncGroupResponse", "HeartbeatRequest", "HeartbeatResponse", "LeaveGroupRequest", "MemberIdentity",
    "LeaveGroupResponse", "OffsetCommitRequest", "OffsetCommitResponse", "OffsetFetchRequest",
    "OffsetFetchResponse", "GROUP_REQUESTS", "group_message_size_bytes",
]

#: generation id of a member that has none (Kafka's ``JoinGroupRequest.UNKNOWN_GENERATION_ID``)
NO_GENERATION = -1
#: member id of a member that has none yet (``JoinGroupRequest.UNKNOWN_MEMBER_ID``)
UNKNOWN_MEMBER_ID = ""

_HEADER_BYTES = 64
_ITEM_BYTES = 32


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a classic member sends in JoinGroup for one assignor: its topics and, for cooperative assignors and
    ``sticky``, the partitions it owns now and the generation they are from."""

    topics: tuple[str, ...]
    user_data: Any = None
    owned_partitions: tuple[TopicPartition, ...] = ()
    generation_id: int = NO_GENERATION
    rack_id: str | None = None
    #: set by the group leader from the JoinGroup answer (assignors order static members by it, as Kafka's MemberInfo)
    group_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the group leader gives a member in SyncGroup."""

    partitions: tuple[TopicPartition, ...]
    user_data: Any = None


@dataclass(frozen=True, slots=True)
class FindCoordinatorRequest:
    key: str                       # the group id
    key_type: int = 0              # 0 = group (1 = transaction, not modelled)
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class FindCoordinatorResponse:
    error: str                     # NONE, COORDINATOR_NOT_AVAILABLE, INVALID_REQUEST
    node_id: int = -1
    correlation_id: int = 0
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class JoinGroupRequest:
    """``protocols``: (assignor name, Subscription) in the member's order of preference."""

    group_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int      # the member's max.poll.interval.ms
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: tuple[tuple[str, Any], ...]
    reason: str | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class JoinGroupMember:
    member_id: str
    group_instance_id: str | None
    metadata: Any                  # the member's Subscription for the chosen protocol


@dataclass(frozen=True, slots=True)
class JoinGroupResponse:
    """``members`` is filled for the leader only."""

    error: str
    generation_id: int = NO_GENERATION
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    skip_assignment: bool = False
    member_id: str = ""
    members: tuple[JoinGroupMember, ...] = ()
    correlation_id: int = 0
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class SyncGroupRequest:
    """``assignments``: (member id, Assignment), sent by the leader only (followers send an empty tuple)."""

    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    protocol_type: str | None
    protocol_name: str | None
    assignments: tuple[tuple[str, Any], ...] = ()
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class SyncGroupResponse:
    error: str
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: Any = None         # this member's Assignment
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    """REBALANCE_IN_PROGRESS tells the member to rejoin."""

    error: str
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class MemberIdentity:
    member_id: str
    group_instance_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LeaveGroupRequest:
    group_id: str
    members: tuple[MemberIdentity, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class LeaveGroupResponse:
    error: str
    member_errors: tuple[tuple[str, str], ...] = ()   # (member id, error)
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class OffsetCommitRequest:
    """``generation_id_or_member_epoch``: the classic generation, the KIP-848 member epoch, or -1 with
    ``member_id=""`` for a consumer that uses no group management (``assign`` plus ``commit``)."""

    group_id: str
    generation_id_or_member_epoch: int
    member_id: str
    group_instance_id: str | None
    offsets: Mapping[TopicPartition, OffsetAndMetadata]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class OffsetCommitResponse:
    """One error per partition (NONE when committed)."""

    errors: Mapping[TopicPartition, str]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class OffsetFetchRequest:
    """``partitions=None``: every partition the group has an offset for. ``member_id``/``member_epoch`` are checked
    for KIP-848 groups (STALE_MEMBER_EPOCH); ``require_stable`` waits out pending transactional commits (UNSTABLE_OFFSET_COMMIT)."""

    group_id: str
    partitions: tuple[TopicPartition, ...] | None
    member_id: str | None = None
    member_epoch: int = -1
    require_stable: bool = True
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class OffsetFetchResponse:
    """``offsets``: partition -> OffsetAndMetadata, with offset -1 where nothing is committed. ``error`` is the
    group-level error (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...)."""

    error: str
    offsets: Mapping[TopicPartition, OffsetAndMetadata] = field(default_factory=dict)
    correlation_id: int = 0


#: Requests a broker hands to its group coordinator (FindCoordinator is answered by the broker itself).
GROUP_REQUESTS = (JoinGroupRequest, SyncGroupRequest, HeartbeatRequest, LeaveGroupRequest, OffsetCommitRequest,
                  OffsetFetchRequest, ConsumerGroupHeartbeatRequest, OffsetDeleteRequest, DeleteGroupsRequest)


def group_message_size_bytes(msg: Any) -> int:
    """What a group message costs on the modelled link: a header and a little per member, partition or offset."""
    size = _HEADER_BYTES
    for name in ("members", "protocols", "assignments", "offsets", "partitions", "topic_partitions"):
        items = getattr(msg, name, None)
        if items is not None:
            size += _ITEM_BYTES * len(items)
    return size

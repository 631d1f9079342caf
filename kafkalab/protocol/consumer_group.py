"""KIP-848's ConsumerGroupHeartbeat API (Kafka's ``ConsumerGroupHeartbeatRequest.json``): one RPC to join, heartbeat,
reconcile and leave. Member epoch 0 joins, -1 leaves, -2 is the leave of a static member that will come back.

Partitions are :class:`~kafkalab.common.topic_partition.TopicPartition` values and topics are names (Kafka 4 sends
topic ids in KIP-848 heartbeats; kafkalab keeps names, which changes nothing the protocol decides).
``SubscribedTopicRegex`` is Kafka's RE2J syntax; kafkalab's coordinator reads it with Python's ``re`` (full match).
"""
from __future__ import annotations

from dataclasses import dataclass

from kafkalab.common.topic_partition import TopicPartition

__all__ = [
    "JOIN_EPOCH", "LEAVE_EPOCH", "STATIC_LEAVE_EPOCH", "ConsumerGroupHeartbeatRequest",
    "ConsumerGroupHeartbeatResponse",
]

#: KIP-848 member epochs with a meaning: join, leave, leave of a static member that will come back
JOIN_EPOCH = 0
LEAVE_EPOCH = -1
STATIC_LEAVE_EPOCH = -2


@dataclass(frozen=True, slots=True)
class ConsumerGroupHeartbeatRequest:
    """One RPC for join (``member_epoch=0``), heartbeat, acknowledging an assignment, and leave (-1, or -2 for a
    static member). Fields that did not change since the last heartbeat are None (Kafka sends them only when they
    change or on a full heartbeat after an error); ``topic_partitions`` is what the member owns now.
    ``subscribed_topic_regex`` is a server-side pattern subscription (KIP-848): the coordinator resolves it against
    the topics that exist; ``""`` drops the member's regex, None leaves it as it was."""

    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    topic_partitions: tuple[TopicPartition, ...] | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class ConsumerGroupHeartbeatResponse:
    """``assignment``: the partitions the member should own now (None when unchanged since the last answer)."""

    error: str
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: tuple[TopicPartition, ...] | None = None
    correlation_id: int = 0

"""The ListOffsets API (Kafka's ``ListOffsetsRequest.json``): the offset of a timestamp, or of the log's start or end.
"""
from __future__ import annotations

from dataclasses import dataclass

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.fetch import CONSUMER_REPLICA_ID

__all__ = [
    "EARLIEST_TIMESTAMP", "LATEST_TIMESTAMP", "ListOffsetsRequest", "ListOffsetsResponse",
    "ListOffsetsPartitionResponse",
]

#: ListOffsets special timestamps (Kafka's ListOffsetsRequest.EARLIEST_TIMESTAMP / LATEST_TIMESTAMP).
EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1


@dataclass(frozen=True, slots=True)
class ListOffsetsRequest:
    """``partitions``: timestamp per partition (EARLIEST_TIMESTAMP, LATEST_TIMESTAMP or a time)."""

    partitions: dict[TopicPartition, int]
    replica_id: int = CONSUMER_REPLICA_ID
    isolation_level: int = 0
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class ListOffsetsPartitionResponse:
    error: str
    timestamp_ms: int = -1
    offset: int = -1
    leader_epoch: int = -1


@dataclass(frozen=True, slots=True)
class ListOffsetsResponse:
    responses: dict[TopicPartition, ListOffsetsPartitionResponse]
    correlation_id: int = 0

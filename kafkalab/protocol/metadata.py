"""The Metadata API (Kafka's ``MetadataRequest.json``/``MetadataResponse.json``): which brokers exist and who leads
each partition, as a client asks a broker. Field names follow Kafka's schemas in snake case; topics by name.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MetadataRequest", "MetadataResponse", "BrokerInfo", "PartitionMetadata", "TopicMetadata",
]

@dataclass(frozen=True, slots=True)
class MetadataRequest:
    """``topics=None``: every topic (never auto-created). ``allow_auto_topic_creation``: a named topic that does not
    exist is created if the broker's ``auto.create.topics.enable`` allows it (the schema's default is true)."""

    topics: tuple[str, ...] | None = None
    correlation_id: int = 0
    allow_auto_topic_creation: bool = True


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    node_id: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionMetadata:
    error: str
    partition: int
    leader: int          # -1 = no leader
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline_replicas: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicMetadata:
    error: str
    name: str
    partitions: tuple[PartitionMetadata, ...]
    is_internal: bool = False


@dataclass(frozen=True, slots=True)
class MetadataResponse:
    brokers: tuple[BrokerInfo, ...]
    topics: tuple[TopicMetadata, ...]
    controller_id: int = -1
    correlation_id: int = 0

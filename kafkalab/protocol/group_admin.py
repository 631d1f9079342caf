"""The admin side of group coordination, as frozen values: Kafka's ``OffsetDelete`` (API key 47) and ``DeleteGroups``
(API key 42) schemas.

``OffsetDelete`` removes the committed offsets of some partitions of one group: a group-level error
(GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NOT_COORDINATOR, ...) or one error per partition (NONE, or
GROUP_SUBSCRIBED_TO_TOPIC when a member of the group is subscribed to the partition's topic). ``DeleteGroups``
removes whole groups (their offsets and metadata) and answers one error per group (NONE, GROUP_ID_NOT_FOUND,
NON_EMPTY_GROUP, NOT_COORDINATOR, INVALID_GROUP_ID, ...). An admin client sends each group to its own coordinator
(Kafka's ``DeleteConsumerGroupsHandler`` batches the groups of one coordinator into one request).

Field names follow Kafka's ``OffsetDeleteRequest.json``/``DeleteGroupsRequest.json`` in snake case; partitions are
:class:`~kafkalab.common.topic_partition.TopicPartition` values rather than Kafka's topic -> partitions nesting.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kafkalab.common.topic_partition import TopicPartition

__all__ = ["OffsetDeleteRequest", "OffsetDeleteResponse", "DeleteGroupsRequest", "DeleteGroupsResponse"]


@dataclass(frozen=True, slots=True)
class OffsetDeleteRequest:
    """Delete ``group_id``'s committed offsets of ``partitions``."""

    group_id: str
    partitions: tuple[TopicPartition, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class OffsetDeleteResponse:
    """``error`` is the group-level error; ``errors`` one per asked partition when it is NONE."""

    error: str
    errors: Mapping[TopicPartition, str] = field(default_factory=dict)
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class DeleteGroupsRequest:
    """Delete the groups ``group_ids`` (all coordinated by the broker the request goes to)."""

    group_ids: tuple[str, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class DeleteGroupsResponse:
    """``results``: group id -> error (NONE when deleted), in the request's order."""

    results: Mapping[str, str]
    correlation_id: int = 0

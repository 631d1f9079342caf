"""The admin RPCs an admin client (and the Cluster facade) sends to the active controller: CreateTopics, DeleteTopics,
CreatePartitions, IncrementalAlterConfigs and ElectLeaders (Kafka's ``*Request.json``/``*Response.json`` in snake
case; errors are Kafka's error names with an ``error_message`` where Kafka has one). They are sized on the link by
:func:`kafkalab.protocol.controller.message_size_bytes`.

Simplification: a CreateTopics/DeleteTopics request is sent straight to the controller (Kafka forwards it from a
broker, KIP-590).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ELECTION_PREFERRED", "ELECTION_UNCLEAN", "CreatableTopic", "CreateTopicsRequest", "CreatableTopicResult",
    "CreateTopicsResponse", "DeleteTopicsRequest", "DeletableTopicResult", "DeleteTopicsResponse",
    "CreatePartitionsTopic", "CreatePartitionsRequest", "CreatePartitionsTopicResult", "CreatePartitionsResponse",
    "AlterConfigOp", "AlterConfigsResource", "IncrementalAlterConfigsRequest", "AlterConfigsResourceResult",
    "IncrementalAlterConfigsResponse", "ElectLeadersRequest", "PartitionElectionResult", "ElectLeadersResponse",
]

#: ElectLeadersRequest.election_type (Kafka's ElectionType: PREFERRED = 0, UNCLEAN = 1)
ELECTION_PREFERRED = "PREFERRED"
ELECTION_UNCLEAN = "UNCLEAN"


@dataclass(frozen=True, slots=True)
class CreatableTopic:
    """``num_partitions``/``replication_factor`` -1 = the broker default; ``assignments``: replicas per partition
    (then both must be -1); ``configs``: (key, value) pairs of topic configs."""

    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    assignments: tuple[tuple[int, ...], ...] | None = None
    configs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CreateTopicsRequest:
    topics: tuple[CreatableTopic, ...]
    validate_only: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class CreatableTopicResult:
    name: str
    error: str
    error_message: str | None = None
    topic_id: str | None = None
    num_partitions: int = -1
    replication_factor: int = -1


@dataclass(frozen=True, slots=True)
class CreateTopicsResponse:
    topics: tuple[CreatableTopicResult, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class DeleteTopicsRequest:
    topic_names: tuple[str, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class DeletableTopicResult:
    name: str
    error: str
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteTopicsResponse:
    responses: tuple[DeletableTopicResult, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class CreatePartitionsTopic:
    """``count``: the new total number of partitions; ``assignments``: replicas of each new partition, or None."""

    name: str
    count: int
    assignments: tuple[tuple[int, ...], ...] | None = None


@dataclass(frozen=True, slots=True)
class CreatePartitionsRequest:
    topics: tuple[CreatePartitionsTopic, ...]
    validate_only: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class CreatePartitionsTopicResult:
    name: str
    error: str
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class CreatePartitionsResponse:
    results: tuple[CreatePartitionsTopicResult, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AlterConfigOp:
    """``op``: "SET" or "DELETE" (Kafka's AlterConfigOp.OpType; APPEND/SUBTRACT are not modelled)."""

    name: str
    op: str = "SET"
    value: str | None = None


@dataclass(frozen=True, slots=True)
class AlterConfigsResource:
    """``resource_type``: "topic" (topic configs are what kafkalab models dynamically)."""

    resource_type: str
    resource_name: str
    configs: tuple[AlterConfigOp, ...]


@dataclass(frozen=True, slots=True)
class IncrementalAlterConfigsRequest:
    resources: tuple[AlterConfigsResource, ...]
    validate_only: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AlterConfigsResourceResult:
    resource_type: str
    resource_name: str
    error: str
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class IncrementalAlterConfigsResponse:
    responses: tuple[AlterConfigsResourceResult, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class ElectLeadersRequest:
    """``partitions`` None = every partition (Kafka: a null topic list)."""

    election_type: str = ELECTION_PREFERRED
    partitions: tuple[tuple[str, int], ...] | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class PartitionElectionResult:
    topic: str
    partition: int
    error: str
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class ElectLeadersResponse:
    error: str
    results: tuple[PartitionElectionResult, ...] = ()
    correlation_id: int = 0

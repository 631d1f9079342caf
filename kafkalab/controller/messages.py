"""The controller RPCs (KIP-631 broker lifecycle, KIP-497 AlterPartition, admin requests) as frozen values.

Brokers send BrokerRegistration, BrokerHeartbeat, AlterPartition and AllocateProducerIds to the active controller;
admin clients (and the Cluster facade) send CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs and
ElectLeaders. Field names follow Kafka's ``*Request.json``/``*Response.json`` schemas in snake case; errors are Kafka's
error names as strings (``"NONE"``, ``"NOT_CONTROLLER"``, ...) with an ``error_message`` where Kafka has one
(``kafkalab.errors.error_for_name(name)(message)`` is the exception a client raises). ``correlation_id`` matches a
response to its request.

Simplifications: no listeners/endpoints/features in a registration (a node id is its address), topics are named (not
by id) in AlterPartition; a CreateTopics/DeleteTopics request is sent straight to the controller (Kafka forwards it
from a broker, KIP-590).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "NONE", "ELECTION_PREFERRED", "ELECTION_UNCLEAN", "PRODUCER_ID_BLOCK_SIZE",
    "BrokerRegistrationRequest", "BrokerRegistrationResponse", "BrokerHeartbeatRequest", "BrokerHeartbeatResponse",
    "AlterPartitionItem", "AlterPartitionRequest", "AlterPartitionItemResult", "AlterPartitionResponse",
    "CreatableTopic", "CreateTopicsRequest", "CreatableTopicResult", "CreateTopicsResponse",
    "DeleteTopicsRequest", "DeletableTopicResult", "DeleteTopicsResponse",
    "CreatePartitionsTopic", "CreatePartitionsRequest", "CreatePartitionsTopicResult", "CreatePartitionsResponse",
    "AlterConfigOp", "AlterConfigsResource", "IncrementalAlterConfigsRequest", "AlterConfigsResourceResult",
    "IncrementalAlterConfigsResponse", "ElectLeadersRequest", "PartitionElectionResult", "ElectLeadersResponse",
    "AllocateProducerIdsRequest", "AllocateProducerIdsResponse", "CONTROLLER_REQUESTS", "CONTROLLER_RESPONSES",
    "message_size_bytes",
]

NONE = "NONE"
#: ElectLeadersRequest.election_type (Kafka's ElectionType: PREFERRED = 0, UNCLEAN = 1)
ELECTION_PREFERRED = "PREFERRED"
ELECTION_UNCLEAN = "UNCLEAN"
#: ProducerIdManager.PID_BLOCK_SIZE
PRODUCER_ID_BLOCK_SIZE = 1000

_HEADER_BYTES = 64


# ---- broker lifecycle ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BrokerRegistrationRequest:
    broker_id: int
    incarnation_id: str
    rack: str | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class BrokerRegistrationResponse:
    error: str
    broker_epoch: int = -1
    error_message: str | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class BrokerHeartbeatRequest:
    """``current_metadata_offset``: the highest metadata offset the broker has applied."""

    broker_id: int
    broker_epoch: int
    current_metadata_offset: int
    want_fence: bool = False
    want_shut_down: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class BrokerHeartbeatResponse:
    error: str
    is_caught_up: bool = False
    is_fenced: bool = True
    should_shut_down: bool = False
    error_message: str | None = None
    correlation_id: int = 0


# ---- AlterPartition (KIP-497) -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlterPartitionItem:
    topic: str
    partition: int
    leader_epoch: int
    new_isr: tuple[int, ...]
    partition_epoch: int
    #: the leader reports RECOVERED (0) once it has recovered after an unclean election (KIP-704)
    leader_recovery_state: int = 0


@dataclass(frozen=True, slots=True)
class AlterPartitionRequest:
    broker_id: int
    broker_epoch: int
    partitions: tuple[AlterPartitionItem, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AlterPartitionItemResult:
    topic: str
    partition: int
    error: str
    leader: int = -1
    leader_epoch: int = -1
    isr: tuple[int, ...] = ()
    partition_epoch: int = -1


@dataclass(frozen=True, slots=True)
class AlterPartitionResponse:
    """``error`` is request-wide (STALE_BROKER_EPOCH, NOT_CONTROLLER); per-partition errors are in ``partitions``."""

    error: str
    partitions: tuple[AlterPartitionItemResult, ...] = ()
    correlation_id: int = 0


# ---- CreateTopics ------------------------------------------------------------------------------------------------------
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


# ---- DeleteTopics ------------------------------------------------------------------------------------------------------
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


# ---- CreatePartitions --------------------------------------------------------------------------------------------------
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


# ---- IncrementalAlterConfigs -------------------------------------------------------------------------------------------
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


# ---- ElectLeaders (KIP-460) --------------------------------------------------------------------------------------------
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


# ---- AllocateProducerIds (KIP-730) -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AllocateProducerIdsRequest:
    broker_id: int
    broker_epoch: int
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AllocateProducerIdsResponse:
    error: str
    producer_id_start: int = -1
    producer_id_len: int = 0
    correlation_id: int = 0


CONTROLLER_REQUESTS: tuple[type, ...] = (
    BrokerRegistrationRequest, BrokerHeartbeatRequest, AlterPartitionRequest, CreateTopicsRequest,
    DeleteTopicsRequest, CreatePartitionsRequest, IncrementalAlterConfigsRequest, ElectLeadersRequest,
    AllocateProducerIdsRequest)
CONTROLLER_RESPONSES: tuple[type, ...] = (
    BrokerRegistrationResponse, BrokerHeartbeatResponse, AlterPartitionResponse, CreateTopicsResponse,
    DeleteTopicsResponse, CreatePartitionsResponse, IncrementalAlterConfigsResponse, ElectLeadersResponse,
    AllocateProducerIdsResponse)


def _size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4
    if isinstance(value, str):
        return 2 + len(value)
    if isinstance(value, tuple):
        return 4 + sum(_size(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(_size(getattr(value, f.name)) for f in fields(value))
    return 8


def message_size_bytes(msg: Any) -> int:
    """Bytes a controller RPC occupies on the modelled link: a header plus its fields, roughly as Kafka encodes them."""
    return _HEADER_BYTES + _size(msg)

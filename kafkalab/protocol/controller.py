"""The RPCs brokers send to the active controller (KIP-631 broker lifecycle, KIP-497 AlterPartition, KIP-730
AllocateProducerIds) as frozen values, and the size of every controller-bound message (these and the admin RPCs of
:mod:`kafkalab.protocol.admin`) on the modelled link.

Field names follow Kafka's ``*Request.json``/``*Response.json`` schemas in snake case; errors are Kafka's error names
as strings (``"NONE"``, ``"NOT_CONTROLLER"``, ...). Simplifications: no listeners/endpoints/features in a
registration (a node id is its address); topics are named (not by id) in AlterPartition.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from kafkalab.protocol.admin import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
    CreateTopicsRequest,
    CreateTopicsResponse,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
    ElectLeadersRequest,
    ElectLeadersResponse,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from kafkalab.protocol.quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
    DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
)

__all__ = [
    "PRODUCER_ID_BLOCK_SIZE", "BrokerRegistrationRequest", "BrokerRegistrationResponse", "BrokerHeartbeatRequest",
    "BrokerHeartbeatResponse", "AlterPartitionItem", "AlterPartitionRequest", "AlterPartitionItemResult",
    "AlterPartitionResponse", "AllocateProducerIdsRequest", "AllocateProducerIdsResponse", "CONTROLLER_REQUESTS",
    "CONTROLLER_RESPONSES", "message_size_bytes",
]

#: ProducerIdManager.PID_BLOCK_SIZE
PRODUCER_ID_BLOCK_SIZE = 1000

_HEADER_BYTES = 64


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
    AllocateProducerIdsRequest, AlterClientQuotasRequest, DescribeClientQuotasRequest)
CONTROLLER_RESPONSES: tuple[type, ...] = (
    BrokerRegistrationResponse, BrokerHeartbeatResponse, AlterPartitionResponse, CreateTopicsResponse,
    DeleteTopicsResponse, CreatePartitionsResponse, IncrementalAlterConfigsResponse, ElectLeadersResponse,
    AllocateProducerIdsResponse, AlterClientQuotasResponse, DescribeClientQuotasResponse)


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

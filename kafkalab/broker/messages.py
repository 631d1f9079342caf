"""The client-facing and replication RPCs of a broker, as frozen values (Kafka's ``*Request.json`` schemas).

Field names follow Kafka's schemas in snake case. Errors are Kafka's error names as strings (``"NONE"``,
``"NOT_LEADER_OR_FOLLOWER"``, ...; ``kafkalab.errors.error_for_name`` turns one into the exception a client raises).
``correlation_id`` matches a response to its request on one connection. Partitions are addressed by
:class:`TopicPartition`; topics by name (topic ids stay inside the metadata layer).

The same ``FetchRequest`` serves consumers (``replica_id = -1``) and follower replicas (``replica_id`` = the broker
id), as in Kafka. Record data always travels as :class:`~kafkalab.log.records.RecordBatch` objects, shared, never
copied; ``size_bytes`` of a message is what it costs on the modelled link.

Follower fetches use incremental fetch sessions (KIP-227): a full request (``session_epoch = 0``) names every
partition and opens a session on the leader; later requests carry only the partitions whose fetch state changed
(``forgotten`` lists those removed), and the leader answers only partitions with news. This is what keeps an idle
follower's parked fetch cheap with thousands of partitions. Consumers fetch sessionless (``session_epoch = -1``).

Simplifications: no API versions, SASL, quotas (``throttle_time_ms``) or transactions; a producer id is granted by
the broker the producer asks (``InitProducerId``) from a block the controller allocated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kafkalab.log.records import RecordBatch

__all__ = [
    "TopicPartition", "NONE", "CONSUMER_REPLICA_ID", "EARLIEST_TIMESTAMP", "LATEST_TIMESTAMP",
    "MetadataRequest", "MetadataResponse", "BrokerInfo", "PartitionMetadata", "TopicMetadata",
    "ProduceRequest", "ProduceResponse", "PartitionProduceResponse",
    "FetchPartition", "FetchRequest", "FetchResponse", "PartitionFetchResponse",
    "ListOffsetsRequest", "ListOffsetsResponse", "ListOffsetsPartitionResponse",
    "InitProducerIdRequest", "InitProducerIdResponse", "message_size_bytes",
    "INVALID_SESSION_ID", "INITIAL_EPOCH", "FINAL_EPOCH",
]

NONE = "NONE"
CONSUMER_REPLICA_ID = -1
#: ListOffsets special timestamps (Kafka's ListOffsetsRequest.EARLIEST_TIMESTAMP / LATEST_TIMESTAMP).
EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1

#: Fetch sessions (Kafka's FetchMetadata): no session; the epoch of a full request opening one; sessionless.
INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
FINAL_EPOCH = -1

_HEADER_BYTES = 64
_PARTITION_BYTES = 32


class TopicPartition(NamedTuple):
    """A topic and a partition number: ``TopicPartition("orders", 3)``."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


# ---- Metadata ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MetadataRequest:
    """``topics=None``: every topic."""

    topics: tuple[str, ...] | None = None
    correlation_id: int = 0


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


# ---- Produce ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProduceRequest:
    """``acks``: 0, 1 or -1 (all). ``timeout_ms``: how long the broker waits for ISR acks (``request.timeout.ms``)."""

    acks: int
    timeout_ms: int
    batches: dict[TopicPartition, RecordBatch]
    correlation_id: int = 0
    transactional_id: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionProduceResponse:
    """``current_leader``: (leader id, leader epoch) hint on NOT_LEADER_OR_FOLLOWER (KIP-951)."""

    error: str
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    current_leader: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class ProduceResponse:
    responses: dict[TopicPartition, PartitionProduceResponse]
    correlation_id: int = 0


# ---- Fetch -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FetchPartition:
    """One partition of a fetch. ``current_leader_epoch`` fences stale leaders (KIP-320); ``last_fetched_epoch``
    lets the leader detect divergence (KIP-595/KIP-279; -1 = unknown)."""

    fetch_offset: int
    partition_max_bytes: int = 1_048_576
    current_leader_epoch: int = -1
    last_fetched_epoch: int = -1
    log_start_offset: int = -1


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """``replica_id``: -1 for consumers, the follower's broker id for replication (then ``replica_epoch`` is its
    broker epoch). ``max_wait_ms``/``min_bytes``: long polling (``fetch.max.wait.ms``, ``fetch.min.bytes``)."""

    replica_id: int
    max_wait_ms: int
    min_bytes: int
    max_bytes: int
    partitions: dict[TopicPartition, FetchPartition]
    replica_epoch: int = -1
    isolation_level: int = 0
    correlation_id: int = 0
    session_id: int = INVALID_SESSION_ID
    session_epoch: int = FINAL_EPOCH
    forgotten: tuple[TopicPartition, ...] = ()


@dataclass(frozen=True, slots=True)
class PartitionFetchResponse:
    """``diverging_epoch``: (epoch, end_offset) when the follower's log diverged; ``batches`` are the shared
    stored batch objects."""

    error: str
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    batches: tuple[RecordBatch, ...] = ()
    diverging_epoch: tuple[int, int] | None = None
    current_leader: tuple[int, int] | None = None     # (leader id, leader epoch) hint on NOT_LEADER_OR_FOLLOWER

    @property
    def records_size_bytes(self) -> int:
        return sum(b.size_bytes for b in self.batches)


@dataclass(frozen=True, slots=True)
class FetchResponse:
    error: str
    responses: dict[TopicPartition, PartitionFetchResponse]
    correlation_id: int = 0
    session_id: int = INVALID_SESSION_ID


# ---- ListOffsets ---------------------------------------------------------------------------------------------------
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


# ---- InitProducerId ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InitProducerIdRequest:
    transactional_id: str | None = None
    transaction_timeout_ms: int = 60_000
    producer_id: int = -1
    producer_epoch: int = -1
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class InitProducerIdResponse:
    error: str
    producer_id: int = -1
    producer_epoch: int = -1
    correlation_id: int = 0


def message_size_bytes(msg: Any) -> int:
    """What a message costs on the modelled link: a header, a little per partition, and the record bytes."""
    size = _HEADER_BYTES
    if isinstance(msg, ProduceRequest):
        size += sum(_PARTITION_BYTES + b.size_bytes for b in msg.batches.values())
    elif isinstance(msg, FetchResponse):
        size += sum(_PARTITION_BYTES + r.records_size_bytes for r in msg.responses.values())
    else:
        parts = getattr(msg, "partitions", None) or getattr(msg, "responses", None) or getattr(msg, "topics", None)
        if parts:
            size += _PARTITION_BYTES * len(parts)
    return size



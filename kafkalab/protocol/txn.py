"""The producer-id and transaction APIs (KIP-98, KIP-447, KIP-890): InitProducerId, AddPartitionsToTxn,
AddOffsetsToTxn, TxnOffsetCommit, EndTxn and WriteTxnMarkers (Kafka's ``*Request.json``/``*Response.json``).

A producer id is granted by the broker the producer asks, from a block the controller allocated
(``AllocateProducerIds`` in :mod:`kafkalab.protocol.controller`); with a ``transactional_id`` InitProducerId goes to
the transaction coordinator instead (found with FindCoordinator, key type :data:`COORDINATOR_TRANSACTION`).

- AddPartitionsToTxn comes from a producer (transaction version 1) or, with ``verify_only`` or for a version-2
  producer, from a partition leader verifying a transactional produce (KIP-890 part 1 and 2; Kafka's v4+ broker
  request). ``errors`` maps each partition to its error.
- TxnOffsetCommit goes to the *group* coordinator and carries the consumer's generation (KIP-447).
- EndTxn ends the transaction; under transaction version 2 the answer carries the bumped epoch (KIP-890).
- WriteTxnMarkers goes from the transaction coordinator to partition leaders: one entry per producer, with its
  partitions; the leader appends a COMMIT or ABORT control batch to each and answers per partition.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition

__all__ = [
    "COORDINATOR_GROUP", "COORDINATOR_TRANSACTION",
    "InitProducerIdRequest", "InitProducerIdResponse",
    "AddPartitionsToTxnRequest", "AddPartitionsToTxnResponse",
    "AddOffsetsToTxnRequest", "AddOffsetsToTxnResponse",
    "TxnOffsetCommitRequest", "TxnOffsetCommitResponse",
    "EndTxnRequest", "EndTxnResponse",
    "TxnMarkerEntry", "WriteTxnMarkersRequest", "WriteTxnMarkersResponse",
    "TXN_REQUESTS",
]

#: FindCoordinator key types (Kafka's ``CoordinatorType``)
COORDINATOR_GROUP = 0
COORDINATOR_TRANSACTION = 1


@dataclass(frozen=True, slots=True)
class InitProducerIdRequest:
    """``producer_id``/``producer_epoch`` >= 0: the producer already has an id and asks for an epoch bump (KIP-360)."""

    transactional_id: str | None = None
    transaction_timeout_ms: int = 60_000
    producer_id: int = -1
    producer_epoch: int = -1
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class InitProducerIdResponse:
    """``transaction_version``: the cluster's finalized ``transaction.version`` (a stand-in for the finalized
    features of ApiVersions, which is how Kafka's client learns it; -1 from a broker that does not say)."""

    error: str
    producer_id: int = -1
    producer_epoch: int = -1
    correlation_id: int = 0
    transaction_version: int = -1


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnRequest:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    partitions: tuple[TopicPartition, ...]
    #: KIP-890 part 1: a leader asks only whether the partitions are in the ongoing transaction
    verify_only: bool = False
    #: set by a partition leader verifying a produce (then ``producer_epoch`` is the batch's)
    from_broker: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnResponse:
    errors: dict[TopicPartition, str]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AddOffsetsToTxnRequest:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    group_id: str
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class AddOffsetsToTxnResponse:
    error: str
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitRequest:
    """KIP-447: ``generation_id``, ``member_id`` and ``group_instance_id`` come from ``consumer.group_metadata()``;
    the group coordinator fences a commit from an older generation."""

    transactional_id: str
    group_id: str
    producer_id: int
    producer_epoch: int
    offsets: dict[TopicPartition, OffsetAndMetadata]
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: str | None = None
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitResponse:
    errors: dict[TopicPartition, str]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class EndTxnRequest:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    committed: bool
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class EndTxnResponse:
    """Transaction version 2: ``producer_id``/``producer_epoch`` are what the producer uses next (KIP-890)."""

    error: str
    producer_id: int = -1
    producer_epoch: int = -1
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class TxnMarkerEntry:
    producer_id: int
    producer_epoch: int
    committed: bool
    coordinator_epoch: int
    partitions: tuple[TopicPartition, ...]
    transaction_version: int = 2


@dataclass(frozen=True, slots=True)
class WriteTxnMarkersRequest:
    markers: tuple[TxnMarkerEntry, ...]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class WriteTxnMarkersResponse:
    """Per producer id, per partition: the error of its marker."""

    errors: dict[int, dict[TopicPartition, str]] = field(default_factory=dict)
    correlation_id: int = 0


#: the requests a broker's transaction coordinator serves (FindCoordinator is the group family's)
TXN_REQUESTS = (AddPartitionsToTxnRequest, AddOffsetsToTxnRequest, EndTxnRequest)

"""The Produce API (Kafka's ``ProduceRequest.json``/``ProduceResponse.json``). Record data travels as
:class:`~kafkalab.common.records.RecordBatch` objects, shared, never copied. ``acks``: 0, 1 or -1 (all).

:data:`NUM_BATCHES_TO_RETAIN` is how many batches' sequence numbers a leader remembers per producer (Kafka's
``ProducerStateEntry.NUM_BATCHES_TO_RETAIN``): the bound an idempotent producer's in-flight batches must keep to.
"""
from __future__ import annotations

from dataclasses import dataclass

from kafkalab.common.records import RecordBatch
from kafkalab.common.topic_partition import TopicPartition

__all__ = [
    "NUM_BATCHES_TO_RETAIN", "ProduceRequest", "ProduceResponse", "PartitionProduceResponse",
]

#: ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the leader keeps the sequence numbers of this many batches per producer.
NUM_BATCHES_TO_RETAIN = 5


@dataclass(frozen=True, slots=True)
class ProduceRequest:
    """``acks``: 0, 1 or -1 (all). ``timeout_ms``: how long the broker waits for ISR acks (``request.timeout.ms``)."""

    acks: int
    timeout_ms: int
    batches: dict[TopicPartition, RecordBatch]
    correlation_id: int = 0
    transactional_id: str | None = None
    #: the request header's client id (``client.id``): what client quotas are keyed by (KIP-13)
    client_id: str = ""


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
    #: how long the client's produce quota throttles it (KIP-219): the broker mutes the channel that long
    throttle_time_ms: int = 0

"""The producer-id and transaction APIs. Today: InitProducerId (Kafka's ``InitProducerIdRequest.json``), which gives
an idempotent producer its id and epoch; a producer id is granted by the broker the producer asks, from a block the
controller allocated (``AllocateProducerIds`` in :mod:`kafkalab.protocol.controller`).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "InitProducerIdRequest", "InitProducerIdResponse",
]

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

"""What a client hands back about a record: where a sent record landed (Kafka's ``RecordMetadata``) and a record as
``poll()`` returns it (``ConsumerRecord``). Shared by clients and the layers built on them (Connect, Streams).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from kafkalab.common.records import Header

__all__ = [
    "RecordMetadata", "ConsumerRecord",
]

class RecordMetadata(NamedTuple):
    """Where a record landed. ``offset`` is -1 with ``acks=0`` (the producer never learns it)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class ConsumerRecord(NamedTuple):
    """One record as ``poll()`` returns it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: Any
    headers: tuple[Header, ...]

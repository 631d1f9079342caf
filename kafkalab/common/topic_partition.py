"""A topic partition and a committed position: the two values every layer passes around (Kafka's
``org.apache.kafka.common.TopicPartition`` and ``clients.consumer.OffsetAndMetadata``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "TopicPartition", "OffsetAndMetadata",
]

class TopicPartition(NamedTuple):
    """A topic and a partition number: ``TopicPartition("orders", 3)``."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True, slots=True)
class OffsetAndMetadata:
    """A committed position: the offset of the next record to read, the leader epoch of the last one read."""

    offset: int
    leader_epoch: int = -1
    metadata: str = ""

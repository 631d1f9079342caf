"""Which ``__consumer_offsets`` partition, and so which coordinator, owns a group (Kafka's
``GroupCoordinatorService.partitionFor``): ``abs(javaHashCode(group.id)) % offsets.topic.num.partitions`` where
Java's ``String.hashCode`` runs over UTF-16 code units with 32-bit overflow and ``Utils.abs(Integer.MIN_VALUE)`` is 0.
"""
from __future__ import annotations

from kafkalab.common.utils import java_string_hash

__all__ = ["OFFSETS_TOPIC", "partition_for"]

#: The internal, compacted topic holding committed offsets and group state.
OFFSETS_TOPIC = "__consumer_offsets"


def partition_for(group_id: str, num_partitions: int = 50) -> int:
    """The ``__consumer_offsets`` partition of ``group_id`` (``"my-group"`` -> 12 with 50 partitions)."""
    if not isinstance(group_id, str):
        raise TypeError(f"group.id must be a str, got {type(group_id).__name__}")
    if num_partitions < 1:
        raise ValueError(f"offsets.topic.num.partitions must be >= 1, got {num_partitions}")
    h = java_string_hash(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % num_partitions

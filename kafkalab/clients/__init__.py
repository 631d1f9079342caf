"""Kafka clients: the partitioner now; producer, consumer and admin as the cluster lands (issue 4)."""
from kafkalab.clients.partitioner import StickyPartitioner, murmur2, partition_for_key, to_positive

__all__ = ["StickyPartitioner", "murmur2", "partition_for_key", "to_positive"]

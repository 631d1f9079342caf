"""Kafka clients: the partitioner, the producer and the consumer (without groups until issue 5).

``KafkaProducer``/``KafkaConsumer`` (``producer.py``, ``consumer.py``) are the facades a notebook holds
(``cluster.producer(config)``, ``cluster.consumer(config)``); each runs a core as a client node of a World that talks
to brokers only through a port: ``sender.py`` (``Sender``, idempotence) over ``accumulator.py``
(``RecordAccumulator``), and ``fetcher.py`` (``SubscriptionState``, ``Fetcher``); ``metadata.py`` and ``network.py``
(``Metadata``, ``NetworkClient``) serve both; ``futures.py`` holds what calls return.
"""
from kafkalab.broker.messages import TopicPartition
from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.clients.futures import ConsumerRecord, FutureRecordMetadata, RecordMetadata
from kafkalab.clients.partitioner import StickyPartitioner, murmur2, partition_for_key, to_positive
from kafkalab.clients.producer import ClientCrashedError, KafkaProducer

__all__ = [
    "StickyPartitioner", "murmur2", "partition_for_key", "to_positive",
    "KafkaProducer", "KafkaConsumer", "RecordMetadata", "ConsumerRecord", "FutureRecordMetadata",
    "TopicPartition", "ClientCrashedError",
]

"""Kafka clients: the partitioner, the producer, the consumer and its group membership, the admin client.

Mirrors Kafka's ``clients`` module (``org.apache.kafka.clients.producer``, ``.consumer``, ``.admin``). It imports only
the shared layers (:mod:`kafkalab.common`, :mod:`kafkalab.protocol`, :mod:`kafkalab.ports`, the history recorder),
never a server package. The client-side assignors (range, roundrobin, sticky, cooperative-sticky) are
:mod:`.assignors` with the sticky engine in :mod:`.sticky`, as Kafka keeps them in ``clients.consumer``.

``KafkaProducer``/``KafkaConsumer`` (``producer.py``, ``consumer.py``) are the facades a notebook holds
(``cluster.producer(config)``, ``cluster.consumer(config)``); each runs a core as a client node of a World that talks
to brokers only through a port: ``sender.py`` (``Sender``; with ``produce_requests.py`` and ``idempotence.py``, the
idempotence half of ``TransactionManager``) over ``accumulator.py`` (``RecordAccumulator``), and ``fetcher.py``
(``SubscriptionState``, ``Fetcher``) with a group member when the consumer subscribes: ``group_common.py`` (the
coordinator, offsets, auto-commit), ``classic_member.py`` (``ConsumerCoordinator``) or ``consumer_member.py``
(KIP-848's ``ConsumerMembershipManager``); ``metadata.py`` and ``network.py`` (``Metadata``, ``NetworkClient``) serve
all of them; ``futures.py`` holds what calls return; ``admin.py`` talks to the controllers (KIP-919).
``counted.py`` is the sizing workload's counted records (``send_counted``, ``poll_counts``: counts, not objects).
"""
from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.clients.counted import CountedFuture, CountedMetadata, PartitionCounts
from kafkalab.clients.futures import FutureRecordMetadata
from kafkalab.clients.partitioner import StickyPartitioner, murmur2, partition_for_key, to_positive
from kafkalab.clients.producer import ClientCrashedError, KafkaProducer
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.types import ConsumerRecord, RecordMetadata

__all__ = [
    "StickyPartitioner", "murmur2", "partition_for_key", "to_positive",
    "KafkaProducer", "KafkaConsumer", "RecordMetadata", "ConsumerRecord", "FutureRecordMetadata",
    "TopicPartition", "ClientCrashedError", "CountedFuture", "CountedMetadata", "PartitionCounts",
]

"""What every layer shares: the values clients, brokers, coordinators and controllers all pass around.

Mirrors Kafka's ``clients/src/main/java/org/apache/kafka/common`` (``TopicPartition``, ``record/``, ``utils/``):
- :mod:`.topic_partition`: :class:`TopicPartition` and :class:`OffsetAndMetadata`;
- :mod:`.records`: records and record batches in Kafka's v2 format (``common.record``), the unit that moves;
- :mod:`.types`: :class:`RecordMetadata` and :class:`ConsumerRecord`, what clients hand back;
- :mod:`.utils`: Java's ``String.hashCode``; :mod:`.names`: class-name lookup with a closest-name hint;
- :mod:`.topic`: Kafka's topic-name rules (``common.internals.Topic``: validity and the '.'/'_' collision).

Nothing here imports any other kafkalab package except :mod:`kafkalab.errors`.
"""
from kafkalab.common.records import Header, Record, RecordBatch
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.common.types import ConsumerRecord, RecordMetadata
from kafkalab.common.utils import java_string_hash

__all__ = ["TopicPartition", "OffsetAndMetadata", "RecordMetadata", "ConsumerRecord", "Header", "Record",
           "RecordBatch", "java_string_hash"]

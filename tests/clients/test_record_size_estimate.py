"""A record's size is checked against ``max.request.size`` and ``buffer.memory`` by Kafka's upper-bound estimate
(``KafkaProducer.doSend`` -> ``AbstractRecords.estimateSizeInBytesUpperBound`` -> ``ensureValidRecordSize``), not by its
true size, and a batch for a record larger than ``batch.size`` takes that estimate from the buffer."""
import re

import pytest

from kafkalab.clients.producer import KafkaProducer
from kafkalab.common.records import Record, RecordBatch, batch_size_upper_bound_bytes
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import MessageTooLargeError
from tests.clients.fake_broker import FakeCluster


def setup(**config):
    cluster = FakeCluster(1)
    cluster.create_topic("t", 1)
    producer = KafkaProducer(config, world=cluster.world, bootstrap=cluster.broker_ids, history=cluster.history)
    producer.partitions_for("t")
    return cluster, producer


def true_batch_size(value, key=None, headers=()):
    return RecordBatch((Record(key, value, 0, headers),)).size_bytes


@pytest.mark.parametrize(("key", "value", "headers"), [
    (None, b"x" * 900, ()), (b"k", b"", ()), (None, None, ()), (b"key" * 100, b"v" * 20_000, (("h", b"1"), ("n", None))),
])
def test_the_estimate_is_the_true_size_plus_the_unused_record_overhead(key, value, headers):
    exact = true_batch_size(value, key, headers)
    estimate = batch_size_upper_bound_bytes(key, value, headers)
    assert 13 <= estimate - exact <= 17


def test_a_record_that_fits_by_its_true_size_but_not_by_the_estimate_is_refused():
    value = b"x" * 900
    exact, estimate = true_batch_size(value), batch_size_upper_bound_bytes(None, value)
    assert (exact, estimate) == (970, 986)
    cluster, producer = setup(**{"max.request.size": 980})
    future = producer.send("t", value=value)
    with pytest.raises(MessageTooLargeError, match="^" + re.escape(
            "MESSAGE_TOO_LARGE: The message is 986 bytes when serialized which is larger than 980, which is the value "
            "of the max.request.size configuration.") + "$"):
        future.result()
    assert cluster.produce_requests == []
    assert cluster.history.ops[-1].error == "MESSAGE_TOO_LARGE"
    _, at_limit = setup(**{"max.request.size": 986})
    assert at_limit.send("t", value=value).result().offset == 0


def test_buffer_memory_is_compared_with_the_estimate_too():
    value = b"x" * 900
    cluster, producer = setup(**{"buffer.memory": 980, "batch.size": 512})
    with pytest.raises(MessageTooLargeError, match="^" + re.escape(
            "MESSAGE_TOO_LARGE: The message is 986 bytes when serialized which is larger than the total memory buffer "
            "you have configured with the buffer.memory configuration.") + "$"):
        producer.send("t", value=value).result()
    assert cluster.produce_requests == []


def test_a_record_larger_than_batch_size_takes_its_estimate_from_the_buffer():
    value = b"v" * 20_000
    cluster, producer = setup(**{"linger.ms": 1_000})
    before = producer.core.accumulator.available_memory
    future = producer.send("t", value=value)
    assert before - producer.core.accumulator.available_memory == batch_size_upper_bound_bytes(None, value)
    future.result()
    assert producer.core.accumulator.available_memory == before
    assert cluster.values(TopicPartition("t", 0)) == [value]

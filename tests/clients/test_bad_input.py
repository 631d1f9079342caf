"""Bad input at the clients' public API: each wrong argument is refused at the call, with a message naming it, before
anything is recorded or sent; what was acknowledged before stays readable."""
import re

import pytest

import kafkalab as kl
from kafkalab.errors import InvalidGroupIdError, KafkaTimeoutError


@pytest.fixture(scope="module")
def cluster():
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("t", partitions=3)
    return cluster


@pytest.fixture
def producer(cluster):
    producer = cluster.producer({"linger.ms": 0})
    yield producer
    producer.close()


# -- producer.send() ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"partition": 1.0}, TypeError, "partition must be an int or None, got float 1.0"),
    ({"partition": "0"}, TypeError, "partition must be an int or None, got str '0'"),
    ({"partition": True}, TypeError, "partition must be an int or None, got bool True"),
    ({"partition": -1}, ValueError,
     "Invalid partition: -1. Partition number should always be non-negative or null. (partition=-1)"),
    ({"timestamp_ms": [1]}, TypeError,
     "timestamp_ms must be an int (ms since the epoch, Kafka's long) or None, got list [1]"),
    ({"timestamp_ms": 5.0}, TypeError,
     "timestamp_ms must be an int (ms since the epoch, Kafka's long) or None, got float 5.0"),
    ({"timestamp_ms": -1}, ValueError,
     "Invalid timestamp: -1. Timestamp should always be non-negative or null. (timestamp_ms=-1)"),
    ({"headers": 7}, TypeError, "headers must be a dict or a list of (str key, bytes value) pairs or None, got int 7"),
    ({"headers": "ab"}, TypeError,
     "headers must be a dict or a list of (str key, bytes value) pairs or None, got str 'ab'"),
    ({"headers": [("k",)]}, TypeError, "headers must be (key, value) pairs or a dict, got ('k',)"),
    ({"headers": {1: b"v"}}, TypeError, "header key must be str, got int 1"),
    ({"value": "\ud800"}, ValueError,
     "record value is a str that cannot be encoded as UTF-8 (surrogates not allowed at index 0: '\\ud800'); pass "
     "bytes or a valid str"),
    ({"key": "a\udfff"}, ValueError,
     "record key is a str that cannot be encoded as UTF-8 (surrogates not allowed at index 1: '\\udfff')"),
    ({"value": 3}, TypeError, "record value must be bytes, str (encoded as UTF-8) or None, got int"),
    ({"on_delivery": 3}, TypeError, "on_delivery must be a callable taking (metadata, error) or None, got int"),
])
def test_send_refuses_a_bad_argument_at_the_call_and_records_nothing(cluster, producer, kwargs, error, message):
    acked = producer.send("t", value=b"before", partition=0).result()
    ops = len(cluster.history.ops)
    with pytest.raises(error, match="^" + re.escape(message)):
        producer.send("t", **{"value": b"v", **kwargs})
    assert len(cluster.history.ops) == ops, "a refused send is not an operation"
    assert producer.send("t", value=b"after", partition=0).result().offset == acked.offset + 1


@pytest.mark.parametrize(("topic", "error", "message"), [
    (None, TypeError, "topic must be a str, got NoneType None"),
    (b"t", TypeError, "topic must be a str, got bytes b't'"),
    ("", ValueError, "topic must be a non-empty str, got ''"),
])
def test_send_refuses_a_topic_that_is_not_a_name(producer, topic, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        producer.send(topic, value=b"v")


def test_a_partition_beyond_the_topic_waits_max_block_ms_then_times_out_as_kafka_does(cluster):
    producer = cluster.producer({"max.block.ms": 300})
    producer.partitions_for("t")
    start = cluster.now
    future = producer.send("t", value=b"v", partition=7)
    assert cluster.now - start == pytest.approx(300, abs=1)
    with pytest.raises(KafkaTimeoutError, match=re.escape(
            "Partition 7 of topic t with partition count 3 is not present in metadata after 300 ms.")):
        future.result()


@pytest.mark.parametrize(("timeout", "error", "message"), [
    (-1, ValueError, "Invalid negative timeout -1: timeout_ms must be >= 0"),
    ("x", TypeError, "timeout_ms must be a number of milliseconds >= 0 or None, got str 'x'"),
    (True, TypeError, "timeout_ms must be a number of milliseconds >= 0 or None, got bool True"),
    (float("inf"), ValueError, "timeout_ms must be a finite number of milliseconds >= 0, got inf"),
])
def test_flush_close_and_partitions_for_refuse_a_bad_timeout(producer, timeout, error, message):
    for call in (lambda: producer.flush(timeout), lambda: producer.partitions_for("t", timeout),
                 lambda: producer.close(timeout)):
        with pytest.raises(error, match="^" + re.escape(message) + "$"):
            call()
    assert not producer.closed


def test_send_and_flush_after_close_raise_kafkas_illegal_state_message(producer):
    producer.close()
    with pytest.raises(RuntimeError, match="^Cannot perform operation after producer has been closed$"):
        producer.send("t", value=b"v")
    with pytest.raises(RuntimeError, match="^Cannot perform operation after producer has been closed$"):
        producer.flush()


def test_a_refused_argument_is_checked_before_the_closed_state(producer):
    producer.close()     # ProducerRecord's constructor runs before KafkaProducer.send sees a closed producer
    with pytest.raises(ValueError, match=r"^Invalid timestamp: -5\."):
        producer.send("t", value=b"v", timestamp_ms=-5)


# -- consumer ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def consumer(cluster):
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    yield consumer
    consumer.close()


@pytest.mark.parametrize(("timeout", "error", "message"), [
    (None, TypeError, "timeout_ms must be a number of milliseconds >= 0, got NoneType None"),
    ("1000", TypeError, "timeout_ms must be a number of milliseconds >= 0, got str '1000'"),
    (-5, ValueError, "Invalid negative timeout -5: timeout_ms must be >= 0"),
    (float("nan"), ValueError, "timeout_ms must be a finite number of milliseconds >= 0, got nan"),
])
def test_poll_refuses_a_bad_timeout_without_recording_a_poll(cluster, consumer, timeout, error, message):
    ops = len(cluster.history.ops)
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        consumer.poll(timeout)
    assert len(cluster.history.ops) == ops


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda c: c.position(("t",)), TypeError,
     "tp must be a TopicPartition(topic, partition), got tuple ('t',)"),
    (lambda c: c.position("t"), TypeError, "tp must be a TopicPartition(topic, partition), got str 't'"),
    (lambda c: c.position(("t", 0), -1), ValueError, "Invalid negative timeout -1: timeout_ms must be >= 0"),
    (lambda c: c.seek(("t",), 0), TypeError, "tp must be a TopicPartition(topic, partition), got tuple ('t',)"),
    (lambda c: c.seek(("t", "0"), 0), TypeError,
     "tp must be a TopicPartition(topic, partition), got tuple ('t', '0')"),
    (lambda c: c.seek(("t", 0), -1), ValueError, "seek offset must not be a negative number (offset=-1)"),
    (lambda c: c.seek(("t", 0), 1.5), TypeError, "offset must be an int >= 0, got float 1.5"),
    (lambda c: c.seek(("t", 0), True), TypeError, "offset must be an int >= 0, got bool True"),
    (lambda c: c.highwater(("t",)), TypeError, "tp must be a TopicPartition(topic, partition), got tuple ('t',)"),
    (lambda c: c.seek_to_beginning([("t",)]), TypeError,
     "partitions must hold TopicPartition(topic, partition) values, got tuple ('t',)"),
    (lambda c: c.commit(), InvalidGroupIdError,
     "INVALID_GROUP_ID: To use the group management or offset commit APIs, you must provide a valid group.id in the "
     "consumer "
     "configuration."),
    (lambda c: c.committed([kl.TopicPartition("t", 0)]), InvalidGroupIdError,
     "INVALID_GROUP_ID: To use the group management or offset commit APIs, you must provide a valid group.id"),
    (lambda c: c.close(-1), ValueError, "Invalid negative timeout -1: timeout_ms must be >= 0"),
])
def test_consumer_refuses_bad_arguments_with_the_argument_named(consumer, call, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        call(consumer)


def test_a_consumer_still_reads_what_was_acknowledged_after_refused_calls(cluster, producer, consumer):
    acked = [producer.send("t", value=f"v{i}".encode(), partition=0).result() for i in range(3)]
    for bad in (lambda: consumer.poll(-1), lambda: consumer.seek(("t", 0), -3), lambda: consumer.position(("t",))):
        with pytest.raises((TypeError, ValueError)):
            bad()
    consumer.seek(("t", 0), acked[0].offset)
    read = [r.value for _ in range(5) for r in consumer.poll(200)]
    assert read[:3] == [b"v0", b"v1", b"v2"]


def test_poll_and_commit_after_close_raise_kafkas_message(consumer):
    consumer.close()
    with pytest.raises(RuntimeError, match=r"^This consumer has already been closed\.$"):
        consumer.poll(10)
    with pytest.raises(RuntimeError, match=r"^This consumer has already been closed\.$"):
        consumer.seek(("t", 0), 0)
    with pytest.raises(RuntimeError, match=r"^This consumer has already been closed\.$"):
        consumer.position(("t", 0))


def test_assign_and_committed_take_a_collection_of_partitions(cluster):
    consumer = cluster.consumer({"group.id": "bad-input"})
    with pytest.raises(TypeError, match=r"^assign\(\) takes a collection of TopicPartition\(topic, partition\) "
                                        r"values, got int 5$"):
        consumer.assign(5)
    with pytest.raises(TypeError, match=r"^assign\(\) takes a collection of TopicPartition\(topic, partition\) "
                                        r"values, got TopicPartition TopicPartition\(topic='t', partition=0\)$"):
        consumer.assign(kl.TopicPartition("t", 0))
    with pytest.raises(TypeError, match=r"^committed\(\) takes a collection of TopicPartition\(topic, partition\) "
                                        r"values, got str 't'$"):
        consumer.committed("t")
    consumer.close()

"""Topics that do not exist yet, seen from the clients: auto-creation (on by default, as in Kafka 4), sends that wait
for it, sends that time out when it is off, and names a broker calls invalid."""
from __future__ import annotations

import re

import pytest

import kafkalab as kl
from kafkalab.errors import KafkaTimeoutError


def test_a_send_to_a_new_topic_creates_it_with_the_broker_defaults():
    cluster = kl.Cluster(seed=0, config={"num.partitions": 3, "default.replication.factor": 2})
    producer = cluster.producer()
    meta = producer.send("orders", value=b"first", key=b"k").result()
    assert cluster.topics() == ["orders"]
    topic = cluster.describe_topic("orders")
    assert list(topic["partition"]) == [0, 1, 2]
    assert [len(r) for r in topic["replicas"]] == [2, 2, 2]
    assert (meta.topic, meta.offset) == ("orders", 0)
    assert [(o.type, o.topic) for o in cluster.history.ops] == [("invoke", "orders"), ("ok", "orders")]


def test_a_consumer_creates_the_topic_it_reads_only_with_allow_auto_create_topics():
    cluster = kl.Cluster(seed=1)
    polite = cluster.consumer({"allow.auto.create.topics": False})
    polite.assign([kl.TopicPartition("quiet", 0)])
    assert polite.poll(2_000) == []
    assert cluster.topics() == []
    default = cluster.consumer({"auto.offset.reset": "earliest"})       # Kafka's default: true
    default.assign([kl.TopicPartition("loud", 0)])
    default.poll(2_000)
    assert cluster.topics() == ["loud"]


def test_with_auto_creation_off_a_send_times_out_naming_the_closest_topic():
    cluster = kl.Cluster(seed=2, config={"auto.create.topics.enable": False})
    cluster.create_topic("orders")
    producer = cluster.producer({"max.block.ms": 1_000})
    start = cluster.now
    typo = producer.send("ordrs", value=b"x")
    assert cluster.now - start == pytest.approx(1_000, abs=1)
    with pytest.raises(KafkaTimeoutError, match="^" + re.escape(
            "REQUEST_TIMED_OUT: Topic ordrs not present in metadata after 1000 ms; did you mean 'orders'?") + "$"):
        typo.result()
    unrelated = producer.send("zzz", value=b"x")
    assert str(unrelated.exception()) == "REQUEST_TIMED_OUT: Topic zzz not present in metadata after 1000 ms."
    assert cluster.topics() == ["orders"]


def test_a_send_to_an_invalid_topic_name_fails_once_a_broker_says_so():
    cluster = kl.Cluster(seed=6)
    producer = cluster.producer({"max.block.ms": 10_000})
    start = cluster.now
    future = producer.send("no spaces allowed", value=b"v")
    assert cluster.now - start < 500                   # one metadata round trip, not max.block.ms
    with pytest.raises(kl.errors.InvalidTopicError, match="^" + re.escape(
            "INVALID_TOPIC_EXCEPTION: Invalid topics: [no spaces allowed]") + "$"):
        future.result()
    assert cluster.history.ops[-1].error == "INVALID_TOPIC_EXCEPTION"
    assert cluster.topics() == []

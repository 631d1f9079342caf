"""Pattern subscriptions, ``consumer.subscribe(pattern=...)``, under both rebalance protocols (and both kinds of
pattern KIP-848 has).

The story: two consumers of group ``g`` subscribe to ``orders-.*`` while ``orders-us`` and ``payments`` exist. They
share ``orders-us``; ``payments`` never reaches them. Then ``orders-eu`` is created (and ``payments-eu``, which does
not match): the group picks ``orders-eu`` up and assigns it. Then ``orders-us`` is deleted and leaves the assignment.

With ``group.protocol=classic`` the consumers match the pattern themselves against all topics, refreshed every
``metadata.max.age.ms`` (5 s here, 5 min by default); with ``group.protocol=consumer`` (KIP-848) a str pattern is a
regex the coordinator resolves, at most every 10 s (Kafka's ``SubscriptionPattern``), while a compiled one is
matched by the consumers as under the classic protocol, which send the names (Kafka's ``subscribe(Pattern)``). Also
here: every wrong call to ``subscribe`` fails at once naming what is wrong, an invalid regex reaches the application
as Kafka's error, and a regex run is deterministic.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest

import kafkalab as kl
from kafkalab.clients.fetcher import ConsumerMetadata
from kafkalab.errors import InvalidRegularExpressionError
from kafkalab.protocol.metadata import MetadataResponse, PartitionMetadata, TopicMetadata
from kafkalab.sim import Tracer

PROTOCOLS = {"classic": {"metadata.max.age.ms": 5000}, "consumer": {"group.protocol": "consumer"},
             "consumer-compiled": {"group.protocol": "consumer", "metadata.max.age.ms": 5000}}
#: what each story subscribes with: a str, except a compiled pattern (with a flag, to show it is kept) for the last
PATTERNS: dict[str, Any] = {"classic": "orders-.*", "consumer": "orders-.*",
                            "consumer-compiled": re.compile("ORDERS-.*", re.IGNORECASE)}


def group_of(cluster: kl.Cluster, protocol: str, n: int = 2, **config: Any) -> list[Any]:
    return [cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest", **PROTOCOLS[protocol], **config})
            for _ in range(n)]


def poll_all(consumers: list[Any], rounds: int) -> None:
    for _ in range(rounds):
        for c in consumers:
            c.poll(100)


def assigned(consumers: list[Any]) -> list[tuple[str, int]]:
    return sorted((tp.topic, tp.partition) for c in consumers for tp in c.assignment())


def tps(topic: str, n: int) -> list[tuple[str, int]]:
    return [(topic, p) for p in range(n)]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_topics_created_later_join_the_pattern_and_deleted_ones_leave_it(protocol: str) -> None:
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("orders-us", partitions=2, replication_factor=3)
    cluster.create_topic("payments", partitions=2, replication_factor=3)
    consumers = group_of(cluster, protocol)
    for c in consumers:
        c.subscribe(pattern=PATTERNS[protocol])

    poll_all(consumers, 60)          # the initial rebalance delay, the join, the first resolution
    assert assigned(consumers) == tps("orders-us", 2)
    assert all(len(c.assignment()) == 1 for c in consumers)
    assert all(c.subscription() == {"orders-us"} for c in consumers)

    cluster.create_topic("orders-eu", partitions=2, replication_factor=3)
    cluster.create_topic("payments-eu", partitions=1, replication_factor=3)
    poll_all(consumers, 100)         # ~20 s: a metadata refresh (classic) or a resolution (KIP-848), a rebalance
    assert assigned(consumers) == sorted(tps("orders-eu", 2) + tps("orders-us", 2))
    assert all(c.subscription() == {"orders-eu", "orders-us"} for c in consumers)

    cluster.delete_topic("orders-us")
    poll_all(consumers, 100)
    assert assigned(consumers) == tps("orders-eu", 2)
    assert all(c.subscription() == {"orders-eu"} for c in consumers)
    rebalances = [op for op in cluster.history if op.f == "rebalance"]
    assert rebalances and not any(key[0].startswith("payments") for op in rebalances for key in op.offsets)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_records_of_a_topic_created_later_are_read(protocol: str) -> None:
    cluster = kl.Cluster(seed=4)
    cluster.create_topic("orders-us", partitions=1, replication_factor=3)
    [consumer] = group_of(cluster, protocol, n=1)
    pattern = PATTERNS[protocol]
    if isinstance(pattern, re.Pattern):
        consumer.subscribe(pattern)                        # a compiled pattern may come first, as Kafka's overload
    else:
        consumer.subscribe(pattern=pattern)
    poll_all([consumer], 60)
    cluster.create_topic("orders-eu", partitions=1, replication_factor=3)
    producer = cluster.producer()
    producer.send("orders-eu", value="first", key="k").result()
    seen: list[bytes] = []
    for _ in range(200):
        seen += [r.value for r in consumer.poll(100) if r.topic == "orders-eu"]
        if seen:
            break
    assert seen == [b"first"]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_restarted_consumer_keeps_its_pattern(protocol: str) -> None:
    cluster = kl.Cluster(seed=5)
    cluster.create_topic("orders-us", partitions=2, replication_factor=3)
    [consumer] = group_of(cluster, protocol, n=1)
    consumer.subscribe(pattern=PATTERNS[protocol])
    poll_all([consumer], 60)
    assert assigned([consumer]) == tps("orders-us", 2)
    cluster.crash(consumer.node_id)
    cluster.create_topic("orders-eu", partitions=1, replication_factor=3)
    cluster.restart(consumer.node_id)
    # The restarted incarnation joins as a new member with the same pattern; the old member's partitions move to it
    # once its session (45 s) expires.
    want = sorted(tps("orders-eu", 1) + tps("orders-us", 2))
    for _ in range(700):
        consumer.poll(100)
        if assigned([consumer]) == want:
            break
    assert assigned([consumer]) == want
    assert consumer.subscription() == {"orders-eu", "orders-us"}


def test_classic_consumer_matches_its_pattern_against_all_topics_but_internal_ones() -> None:
    def response(*topics: tuple[str, bool]) -> MetadataResponse:
        part = (PartitionMetadata("NONE", 0, 1, 0, (1,), (1,)),)
        return MetadataResponse((), tuple(TopicMetadata("NONE", name, part, internal) for name, internal in topics))

    md = ConsumerMetadata(300000, 100, 1000)
    assert md.request(1, 0).topics == ()                     # names mode: only the topics in use
    md.pattern = re.compile(".*s")
    assert md.request(2, 0).topics is None                   # pattern mode: every topic
    md.update(response(("orders", False), ("__consumer_offsets", True), ("payments", False), ("order", False)), 0)
    assert md.matching_topics() == ("orders", "payments")    # a full match: "order" does not end in s
    assert sorted(md.topics) == ["orders", "payments"]       # what neither matches nor is used is not kept
    md.exclude_internal_topics = False
    assert md.matching_topics() == ("__consumer_offsets", "orders", "payments")
    md.request(3, 10)
    md.update(response(("payments", False)), 10)             # orders was deleted
    assert md.matching_topics() == ("payments",) and "orders" not in md.topics


# ---- wrong calls ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster() -> kl.Cluster:
    c = kl.Cluster(seed=0)
    c.create_topic("orders-us", partitions=1, replication_factor=3)
    return c


@pytest.mark.parametrize("call, error, message", [
    (lambda c: c.subscribe(["orders-us"], pattern="orders-.*"), TypeError,
     "subscribe() takes topics or pattern=, not both (got topics=['orders-us'] and pattern='orders-.*')"),
    (lambda c: c.subscribe(), TypeError,
     "subscribe() needs a list of topic names or pattern= (a str or compiled re.Pattern)"),
    (lambda c: c.subscribe(pattern=42), TypeError, "pattern must be a str or a compiled re.Pattern, got int 42"),
    (lambda c: c.subscribe(pattern=re.compile(b"orders")), TypeError,
     "pattern must match str topic names, got a bytes pattern b'orders'"),
    (lambda c: c.subscribe(pattern=""), ValueError, "Topic pattern to subscribe to cannot be empty"),
    (lambda c: c.subscribe(pattern="orders-[us"), re.error, "unterminated character set at position 7"),
    (lambda c: c.subscribe(pattern="orders-.*", on_assign=3), TypeError,
     "on_assign must be a callable taking (consumer, partitions) or None, got int"),
])
def test_wrong_subscribe_calls_fail_at_once(cluster: kl.Cluster, call: Any, error: type[Exception],
                                            message: str) -> None:
    consumer = cluster.consumer({"group.id": "wrong"})
    with pytest.raises(error) as info:
        call(consumer)
    assert str(info.value) == message
    assert consumer.subscription() == set()
    consumer.close()


def test_topics_pattern_and_assign_are_mutually_exclusive(cluster: kl.Cluster) -> None:
    consumer = cluster.consumer({"group.id": "mutex"})
    consumer.subscribe(pattern="orders-.*")
    with pytest.raises(RuntimeError, match=r"mutually exclusive: this consumer subscribed to the pattern 'orders-\.\*'; "
                                           r"call unsubscribe\(\) before subscribe\(\)"):
        consumer.subscribe(["orders-us"])
    with pytest.raises(RuntimeError, match=r"subscribed to the pattern 'orders-\.\*'; call unsubscribe\(\) before "
                                           r"assign\(\)"):
        consumer.assign([kl.TopicPartition("orders-us", 0)])
    consumer.subscribe(pattern="orders-u.")          # another pattern replaces the first, as in Kafka
    consumer.unsubscribe()
    consumer.subscribe(["orders-us"])
    with pytest.raises(RuntimeError, match=r"subscribed to \['orders-us'\]; call unsubscribe\(\) before "
                                           r"subscribe\(pattern=\.\.\.\)"):
        consumer.subscribe(pattern="orders-.*")
    consumer.close()


def test_kip848_invalid_regex_is_refused_by_the_coordinator(cluster: kl.Cluster) -> None:
    consumer = cluster.consumer({"group.id": "bad-regex", "group.protocol": "consumer"})
    consumer.subscribe(pattern="orders-[us")          # not compiled on the client, as Kafka's SubscriptionPattern
    with pytest.raises(InvalidRegularExpressionError) as info:
        for _ in range(100):
            consumer.poll(100)
    assert info.value.message == ("Invalid RE2J SubscriptionPattern provided in the call to subscribe. "
                                  "SubscribedTopicRegex `orders-[us` is not a valid regular expression: "
                                  "unterminated character set.")
    assert info.value.error_name == "INVALID_REGULAR_EXPRESSION" and not info.value.retriable
    consumer.close()


# ---- determinism -------------------------------------------------------------------------------------------------------
def regex_digest(seed: int, protocol: str) -> str:
    cluster = kl.Cluster(seed=seed)
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("orders-us", partitions=3, replication_factor=3)
    consumers = group_of(cluster, protocol)
    for c in consumers:
        c.subscribe(pattern=PATTERNS[protocol])
    poll_all(consumers, 40)
    cluster.create_topic("orders-eu", partitions=2, replication_factor=3)
    cluster.create_topic("payments", partitions=1, replication_factor=3)
    poll_all(consumers, 100)
    return f"{tracer.digest()} {tracer.count} {assigned(consumers)}"


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_same_seed_same_regex_trace(protocol: str) -> None:
    first = regex_digest(7, protocol)
    assert "orders-eu" in first and "payments" not in first
    assert first == regex_digest(7, protocol)


def test_same_regex_trace_under_another_hash_seed() -> None:
    code = ("import tests.clients.test_regex_subscription as t; "
            "print(*(t.regex_digest(7, p) for p in ('classic', 'consumer', 'consumer-compiled')))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONHASHSEED="4242")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=root)
    here = " ".join(regex_digest(7, p) for p in ("classic", "consumer", "consumer-compiled"))
    assert out.stdout.strip() == here


def test_a_coordinator_resolved_regex_never_recreates_a_deleted_topic() -> None:
    """Kafka's consumer asks for every topic while it has a SubscriptionPattern (ConsumerMetadata: allTopics), so
    its metadata requests never auto-create: a matched topic deleted while assigned stays deleted (before this, the
    consumer asked for it by name and the broker's auto-creation brought it back with one partition)."""
    cluster = kl.Cluster(seed=3)
    cluster.create_topic("orders-us", partitions=2, replication_factor=3)
    consumers = group_of(cluster, "consumer")
    for c in consumers:
        c.subscribe(pattern="orders-.*")
    poll_all(consumers, 60)
    assert assigned(consumers) == tps("orders-us", 2)
    cluster.delete_topic("orders-us")
    poll_all(consumers, 100)
    assert assigned(consumers) == []
    assert "orders-us" not in cluster.topics()

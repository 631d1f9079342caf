"""Kafka's own expectations for the sticky assignors, ported as stories: ``AbstractStickyAssignorTest`` (run, as in
Kafka, for both ``sticky`` and ``cooperative-sticky``), ``StickyAssignorTest`` and ``CooperativeStickyAssignorTest``.
Each test names the Kafka test it comes from; only the no-rack variants (kafkalab's assignors take no racks).

How Kafka's tests read, and so these. A member's subscription is either plain (topics only) or "v2" (topics, owned
partitions, generation; the eager assignor gets the same in its user data). Kafka's cooperative test class checks an
assignment by running follow-up rebalances until nothing is revoked, feeding each result back as the owned partitions
in generation 1, and the test's assertions that come after that check see the settled result: :meth:`Group.settle`
does the same (for ``sticky`` it changes nothing). Kafka keeps the subscriptions in a ``HashMap`` keyed by the member
ids "consumer1".."consumer4", whose iteration order decides who keeps a full quota when too many could.
"""
from __future__ import annotations

from collections.abc import Iterable

import pytest

from kafkalab.clients.assignors import ASSIGNORS, StickyUserData
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.group import Subscription

BOTH = pytest.mark.parametrize("name", ["sticky", "cooperative-sticky"])
GENERATION = 1                     # Kafka's generationId in these tests
NO_GENERATION = -1                 # DEFAULT_GENERATION


def tp(topic: str, partition: int) -> TopicPartition:
    return TopicPartition(topic, partition)


class Group:
    """The subscriptions of one of Kafka's test cases, and its assignor."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.subs: dict[str, Subscription] = {}

    def plain(self, member: str, *topics: str) -> None:
        self.subs[member] = Subscription(tuple(topics))

    def v2(self, member: str, topics: Iterable[str], owned: Iterable[TopicPartition],
           generation: int = GENERATION) -> None:
        """Kafka's ``buildSubscriptionV2Above``: the owned partitions and generation in the subscription, and for
        ``sticky`` in its user data too (``cooperative-sticky`` user data carries the generation)."""
        owned = tuple(owned)
        data = StickyUserData(owned, generation) if self.name == "sticky" else generation
        self.subs[member] = Subscription(tuple(topics), data, owned, generation)

    def assign(self, counts: dict[str, int]) -> dict[str, frozenset[TopicPartition]]:
        result = ASSIGNORS[self.name].assign(counts, self.subs)
        return {m: frozenset(a.partitions) for m, a in result.items()}

    def settle(self, counts: dict[str, int],
               result: dict[str, frozenset[TopicPartition]]) -> dict[str, frozenset[TopicPartition]]:
        """Kafka's cooperative ``verifyValidityAndBalance``: while a member is losing a partition, rejoin everyone
        with what it was given (generation 1) and assign again."""
        rounds = 0
        while self.name == "cooperative-sticky" and any(
                set(self.subs[m].owned_partitions) - result[m] for m in result):
            for m, parts in result.items():
                self.v2(m, self.subs[m].topics, sorted(parts))
            result = self.assign(counts)
            rounds += 1
            assert rounds <= 4
        return result


def expect(**per_member: Iterable[TopicPartition]) -> dict[str, frozenset[TopicPartition]]:
    return {m: frozenset(parts) for m, parts in per_member.items()}


# ---- AbstractStickyAssignorTest ------------------------------------------------------------------------------------

@BOTH
def test_one_consumer_one_topic(name: str) -> None:                  # testOneConsumerOneTopic
    g = Group(name)
    g.plain("consumer", "topic")
    assert g.assign({"topic": 3}) == expect(consumer=[tp("topic", 0), tp("topic", 1), tp("topic", 2)])


@BOTH
def test_only_assigns_partitions_from_subscribed_topics(name: str) -> None:
    # testOnlyAssignsPartitionsFromSubscribedTopics: owned partitions of a topic that has no metadata are dropped
    g = Group(name)
    g.v2("consumer", ["topic"], [tp("topic", 0), tp("topic", 1), tp("other", 0), tp("other", 1)])
    assert g.assign({"topic": 2}) == expect(consumer=[tp("topic", 0), tp("topic", 1)])


@BOTH
def test_one_consumer_multiple_topics(name: str) -> None:            # testOneConsumerMultipleTopics
    g = Group(name)
    g.plain("consumer", "topic1", "topic2")
    assert g.assign({"topic1": 1, "topic2": 2}) == expect(consumer=[tp("topic1", 0), tp("topic2", 0), tp("topic2", 1)])


@BOTH
def test_two_consumers_one_topic_two_partitions(name: str) -> None:  # testTwoConsumersOneTopicTwoPartitions
    g = Group(name)
    g.plain("consumer1", "topic")
    g.plain("consumer2", "topic")
    assert g.assign({"topic": 2}) == expect(consumer1=[tp("topic", 0)], consumer2=[tp("topic", 1)])


@BOTH
def test_multiple_consumers_mixed_topic_subscriptions(name: str) -> None:
    # testMultipleConsumersMixedTopicSubscriptions
    g = Group(name)
    g.plain("consumer1", "topic1")
    g.plain("consumer2", "topic1", "topic2")
    g.plain("consumer3", "topic1")
    assert g.assign({"topic1": 3, "topic2": 2}) == expect(
        consumer1=[tp("topic1", 0), tp("topic1", 2)], consumer2=[tp("topic2", 0), tp("topic2", 1)],
        consumer3=[tp("topic1", 1)])


@BOTH
def test_two_consumers_two_topics_six_partitions(name: str) -> None:  # testTwoConsumersTwoTopicsSixPartitions
    g = Group(name)
    g.plain("consumer1", "topic1", "topic2")
    g.plain("consumer2", "topic1", "topic2")
    assert g.assign({"topic1": 3, "topic2": 3}) == expect(
        consumer1=[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)],
        consumer2=[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)])


@BOTH
def test_consumer_owning_min_quota_expected_max_quota(name: str) -> None:   # testConsumerOwningMinQuotaExpectedMaxQuota
    g = Group(name)
    topics = ["topic1", "topic2"]
    g.v2("consumer1", topics, [tp("topic1", 0), tp("topic2", 1)])
    g.v2("consumer2", topics, [tp("topic1", 1), tp("topic2", 2)])
    assert g.assign({"topic1": 2, "topic2": 3}) == expect(
        consumer1=[tp("topic1", 0), tp("topic2", 1), tp("topic2", 0)], consumer2=[tp("topic1", 1), tp("topic2", 2)])


@BOTH
def test_max_quota_consumer_more_than_num_expected_max_capacity_members(name: str) -> None:
    # testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers: consumer1 and consumer2 both own a full quota of 2 but
    # only one may keep it; Kafka's HashMap walks consumer2 first, so consumer1 gives up topic2-0
    g = Group(name)
    topics, counts = ["topic1", "topic2"], {"topic1": 2, "topic2": 2}
    g.v2("consumer1", topics, [tp("topic1", 0), tp("topic2", 0)])
    g.v2("consumer2", topics, [tp("topic1", 1), tp("topic2", 1)])
    g.v2("consumer3", topics, [])
    assert g.settle(counts, g.assign(counts)) == expect(
        consumer1=[tp("topic1", 0)], consumer2=[tp("topic1", 1), tp("topic2", 1)], consumer3=[tp("topic2", 0)])


@BOTH
def test_all_consumers_are_under_min_quota(name: str) -> None:       # testAllConsumersAreUnderMinQuota
    g = Group(name)
    topics, counts = ["topic1", "topic2"], {"topic1": 2, "topic2": 3}
    g.v2("consumer1", topics, [tp("topic1", 0)])
    g.v2("consumer2", topics, [tp("topic1", 1)])
    g.v2("consumer3", topics, [])
    assert g.settle(counts, g.assign(counts)) == expect(
        consumer1=[tp("topic1", 0), tp("topic2", 1)], consumer2=[tp("topic1", 1), tp("topic2", 2)],
        consumer3=[tp("topic2", 0)])


@BOTH
def test_add_remove_consumer_one_topic(name: str) -> None:           # testAddRemoveConsumerOneTopic
    g = Group(name)
    counts = {"topic": 3}
    g.plain("consumer1", "topic")
    first = g.assign(counts)
    assert first == expect(consumer1=[tp("topic", 0), tp("topic", 1), tp("topic", 2)])
    g.v2("consumer1", ["topic"], sorted(first["consumer1"]))
    g.v2("consumer2", ["topic"], [])
    second = g.settle(counts, g.assign(counts))
    assert second == expect(consumer1=[tp("topic", 0), tp("topic", 1)], consumer2=[tp("topic", 2)])
    del g.subs["consumer1"]
    g.v2("consumer2", ["topic"], sorted(second["consumer2"]))
    assert g.assign(counts) == expect(consumer2=[tp("topic", 0), tp("topic", 1), tp("topic", 2)])


@BOTH
def test_add_remove_two_consumers_two_topics(name: str) -> None:     # testAddRemoveTwoConsumersTwoTopics
    g = Group(name)
    topics, counts = ["topic1", "topic2"], {"topic1": 3, "topic2": 4}
    g.plain("consumer1", *topics)
    g.plain("consumer2", *topics)
    first = g.assign(counts)
    assert first == expect(consumer1=[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1), tp("topic2", 3)],
                           consumer2=[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)])
    g.v2("consumer1", topics, sorted(first["consumer1"]))
    g.v2("consumer2", topics, sorted(first["consumer2"]))
    g.v2("consumer3", topics, [])
    g.v2("consumer4", topics, [])
    second = g.settle(counts, g.assign(counts))
    assert second == expect(consumer1=[tp("topic1", 0), tp("topic2", 1)], consumer2=[tp("topic2", 0), tp("topic1", 1)],
                            consumer3=[tp("topic1", 2), tp("topic2", 3)], consumer4=[tp("topic2", 2)])
    del g.subs["consumer1"], g.subs["consumer2"]
    g.v2("consumer3", topics, sorted(second["consumer3"]))
    g.v2("consumer4", topics, sorted(second["consumer4"]))
    assert g.assign(counts) == expect(
        consumer3=[tp("topic1", 2), tp("topic2", 3), tp("topic1", 0), tp("topic2", 1)],
        consumer4=[tp("topic2", 2), tp("topic1", 1), tp("topic2", 0)])


@BOTH
def test_all_consumers_reach_expected_quota_and_are_considered_filled(name: str) -> None:
    # testAllConsumersReachExpectedQuotaAndAreConsideredFilled
    g = Group(name)
    g.v2("consumer1", ["topic"], [tp("topic", 0), tp("topic", 1)])
    g.v2("consumer2", ["topic"], [tp("topic", 2)])
    g.v2("consumer3", ["topic"], [])
    assert g.assign({"topic": 4}) == expect(consumer1=[tp("topic", 0), tp("topic", 1)], consumer2=[tp("topic", 2)],
                                            consumer3=[tp("topic", 3)])


@BOTH
@pytest.mark.parametrize("stale", [10 - 1, NO_GENERATION], ids=["stale-generation", "no-generation"])
def test_owned_partitions_are_invalidated_for_consumer_with_stale_generation(name: str, stale: int) -> None:
    # testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration and ...WithNoGeneration
    g = Group(name)
    topics, claimed = ["topic", "topic2"], [tp("topic", 0), tp("topic", 2), tp("topic2", 1)]
    g.v2("consumer1", topics, claimed, 10)
    g.v2("consumer2", topics, claimed, stale)
    assert g.assign({"topic": 3, "topic2": 3}) == expect(
        consumer1=claimed, consumer2=[tp("topic", 1), tp("topic2", 0), tp("topic2", 2)])


@BOTH
def test_partitions_transferring_ownership_include_the_partition_claimed_by_multiple_consumers(name: str) -> None:
    # testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration
    g = Group(name)
    counts = {"topic": 3}
    g.v2("consumer1", ["topic"], [tp("topic", 0), tp("topic", 1)])
    g.v2("consumer2", ["topic"], [tp("topic", 0), tp("topic", 2)])
    g.v2("consumer3", ["topic"], [])
    assert g.settle(counts, g.assign(counts)) == expect(
        consumer1=[tp("topic", 1)], consumer2=[tp("topic", 2)], consumer3=[tp("topic", 0)])


@BOTH
def test_ensure_partitions_assigned_to_highest_generation(name: str) -> None:
    # testEnsurePartitionsAssignedToHighestGeneration
    g = Group(name)
    topics = ["topic", "topic2", "topic3"]
    g.v2("consumer1", topics, [tp("topic", 0), tp("topic2", 0), tp("topic3", 0)], 10)
    g.v2("consumer2", topics, [tp("topic", 1), tp("topic2", 1), tp("topic3", 1)], 9)
    g.v2("consumer3", topics, [tp("topic2", 1), tp("topic3", 0), tp("topic3", 2)], 8)
    assert g.assign({"topic": 3, "topic2": 3, "topic3": 3}) == expect(
        consumer1=[tp("topic", 0), tp("topic2", 0), tp("topic3", 0)],
        consumer2=[tp("topic", 1), tp("topic2", 1), tp("topic3", 1)],
        consumer3=[tp("topic", 2), tp("topic2", 2), tp("topic3", 2)])


@BOTH
def test_no_reassignment_on_current_members(name: str) -> None:      # testNoReassignmentOnCurrentMembers
    g = Group(name)
    topics = ["topic", "topic2", "topic3", "topic1"]
    g.v2("consumer1", topics, [], NO_GENERATION)
    g.v2("consumer2", topics, [tp("topic", 0), tp("topic2", 0), tp("topic1", 0)], 9)
    g.v2("consumer3", topics, [tp("topic3", 2), tp("topic2", 2), tp("topic1", 1)], 8)
    g.v2("consumer4", topics, [tp("topic3", 1), tp("topic", 1), tp("topic", 2)], 7)
    result = g.assign({"topic": 3, "topic1": 3, "topic2": 3, "topic3": 3})
    assert result["consumer1"] == frozenset({tp("topic1", 2), tp("topic2", 1), tp("topic3", 0)})


@BOTH
def test_owned_partitions_are_invalidated_for_consumer_with_multiple_generation(name: str) -> None:
    # testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    g = Group(name)
    topics = ["topic", "topic2"]
    g.v2("consumer1", topics, [tp("topic", 0), tp("topic2", 1), tp("topic", 1)], 10)
    g.v2("consumer2", topics, [tp("topic", 0), tp("topic2", 1), tp("topic2", 2)], 8)
    assert g.assign({"topic": 3, "topic2": 3}) == expect(
        consumer1=[tp("topic", 0), tp("topic2", 1), tp("topic", 1)],
        consumer2=[tp("topic", 2), tp("topic2", 2), tp("topic2", 0)])


# ---- StickyAssignorTest and CooperativeStickyAssignorTest ----------------------------------------------------------

@pytest.mark.parametrize(("name", "count", "consumer1", "consumer3"), [
    ("sticky", 3, [1], [0]), ("sticky", 4, [1, 3], [0]),
    ("cooperative-sticky", 3, [1], []), ("cooperative-sticky", 4, [1, 3], []),
])
def test_all_consumers_have_owned_partition_invalidated_when_claimed_by_multiple_consumers_in_same_generation(
        name: str, count: int, consumer1: list[int], consumer3: list[int]) -> None:
    # testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration
    # WithEqualPartitionsPerConsumer (3 partitions) and ...WithUnequalPartitionsPerConsumer (4): topic-0 is claimed
    # twice in one generation; the eager assignor hands it to consumer3 at once, the cooperative one holds it back
    g = Group(name)
    g.v2("consumer1", ["topic"], [tp("topic", 0), tp("topic", 1)])
    g.v2("consumer2", ["topic"], [tp("topic", 0), tp("topic", 2)])
    g.v2("consumer3", ["topic"], [])
    assert g.assign({"topic": count}) == expect(consumer1=[tp("topic", p) for p in consumer1],
                                                consumer2=[tp("topic", 2)],
                                                consumer3=[tp("topic", p) for p in consumer3])


def test_sticky_assignor_with_old_version_subscriptions() -> None:
    # StickyAssignorTest.testAssignorWithOldVersionSubscriptions: v0 carries the owned partitions in user data only,
    # v1 in both; the eager assignor reads user data either way
    g = Group("sticky")
    g.subs["consumer1"] = Subscription(("topic1",), StickyUserData((tp("topic1", 0),), GENERATION))
    g.subs["consumer2"] = Subscription(("topic1",), StickyUserData((tp("topic1", 1),), GENERATION), (tp("topic1", 1),))
    g.v2("consumer3", ["topic1"], [])
    assert g.assign({"topic1": 3}) == expect(consumer1=[tp("topic1", 0)], consumer2=[tp("topic1", 1)],
                                             consumer3=[tp("topic1", 2)])


def test_cooperative_assignor_with_old_version_subscriptions() -> None:
    # CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions: a v1 subscription has no generation field,
    # so the generation comes from the assignor's user data
    g = Group("cooperative-sticky")
    g.subs["consumer1"] = Subscription(("topic1",), GENERATION, (tp("topic1", 0),))
    g.subs["consumer2"] = Subscription(("topic1",), GENERATION, (tp("topic1", 1),))
    g.v2("consumer3", ["topic1"], [])
    assert g.assign({"topic1": 3}) == expect(consumer1=[tp("topic1", 0)], consumer2=[tp("topic1", 1)],
                                             consumer3=[tp("topic1", 2)])

"""Kafka's own expectations for the ``uniform`` server assignor, ported as data: the homogeneous builder's vectors
(``UniformHomogeneousAssignmentBuilderTest`` as of Kafka 4.1, after KAFKA-18688 changed who gets the extra
partitions; three cases differ from 4.0's ``OptimizedUniformAssignmentBuilderTest``, noted below) and the
heterogeneous builder's (``UniformHeterogeneousAssignmentBuilderTest``), and ``CommonAssignorTests``' stickiness check.
Each case names the Kafka test it comes from.

Kafka's tests use fixed topic ids (below) and member ids "A", "B", "C" in a ``TreeMap``, which for these one-letter
ids is also Java ``HashMap`` order. Where a test builds a member's current assignment with ``LinkedHashMap``, the
case passes that order as ``MemberSpec.assignment_order``; elsewhere the assignor walks the assignment in
``HashMap`` order of the topic ids, as Kafka's coordinator does.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.groups.server_assignors import MemberSpec, kafka_member_order, uniform_assign

#: the topic ids of Kafka's tests (base64 ``Uuid`` strings)
TOPIC_IDS = {"t1": "T1-A4s3VTwiI5CTbEp6POw", "t2": "T2-B4s3VTwiI5YHbPp6YUe",
             "t3": "T3-CU8fVTLCz5YMkLoDQsa", "t4": "T4-Tw9fVTLCz5HbPp6YQsa"}

Owned = Mapping[str, Sequence[int]]


def member(topics: str, owned: Owned | None = None, ordered: bool = False) -> MemberSpec:
    """A member subscribed to the space-separated ``topics`` owning ``{topic: partitions}``; ``ordered`` keeps
    the owned map in the order written (Kafka's ``mkOrderedAssignment``)."""
    parts = tuple(TopicPartition(t, p) for t, ps in (owned or {}).items() for p in ps)
    return MemberSpec(frozenset(topics.split()), frozenset(parts), assignment_order=parts if ordered else ())


def expect(**per_member: Owned) -> dict[str, frozenset[TopicPartition]]:
    return {m: frozenset(TopicPartition(t, p) for t, ps in owned.items() for p in ps)
            for m, owned in per_member.items()}


HOMOGENEOUS = [
    pytest.param({"t1": 3, "t3": 2}, {"A": member("t1 t3"), "B": member("t1 t3")},
                 # 4.0: A={"t1": [0], "t3": [0, 1]}, B={"t1": [1, 2]}; since 4.1 the unclaimed extra partition
                 # goes to the last member
                 expect(A={"t3": [0, 1]}, B={"t1": [0, 1, 2]}),
                 id="testFirstAssignmentTwoMembersTwoTopicsNoMemberRacks"),
    pytest.param({"t3": 2}, {"A": member("t3"), "B": member("t3"), "C": member("t3")},
                 expect(A={}, B={"t3": [0]}, C={"t3": [1]}),         # 4.0: A={"t3": [0]}, B={"t3": [1]}, C={}
                 id="testFirstAssignmentNumMembersGreaterThanTotalNumPartitions"),
    pytest.param({"t1": 3, "t2": 3},
                 {"A": member("t1 t2", {"t1": [0, 1], "t2": [0, 1]}, ordered=True),
                  "B": member("t1 t2", {"t1": [2], "t2": [2]}, ordered=True)},
                 expect(A={"t1": [0, 1], "t2": [0]}, B={"t1": [2], "t2": [1, 2]}),
                 id="testReassignmentForTwoMembersTwoTopicsGivenUnbalancedPrevAssignment"),
    pytest.param({"t1": 6, "t2": 5},
                 {"A": member("t1 t2", {"t1": [0, 2], "t2": [0]}, ordered=True),
                  "B": member("t1 t2", {"t1": [1], "t2": [1, 2]}, ordered=True)},
                 # 4.0: A={"t1": [0, 2, 3], "t2": [0, 3, 4]}, B={"t1": [1, 4, 5], "t2": [1, 2]}
                 expect(A={"t1": [0, 2], "t2": [0, 3, 4]}, B={"t1": [1, 3, 4, 5], "t2": [1, 2]}),
                 id="testReassignmentWhenPartitionsAreAddedForTwoMembersTwoTopics"),
    pytest.param({"t1": 3, "t2": 3},
                 {"A": member("t1 t2", {"t1": [0, 2], "t2": [0]}, ordered=True),
                  "B": member("t1 t2", {"t1": [1], "t2": [1, 2]}, ordered=True), "C": member("t1 t2")},
                 expect(A={"t1": [0, 2]}, B={"t1": [1], "t2": [1]}, C={"t2": [0, 2]}),
                 id="testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics"),
    pytest.param({"t1": 3, "t2": 3},
                 {"A": member("t1 t2", {"t1": [0], "t2": [0]}), "B": member("t1 t2", {"t1": [1], "t2": [1]})},
                 expect(A={"t1": [0], "t2": [0, 2]}, B={"t1": [1, 2], "t2": [1]}),
                 id="testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersTwoTopics"),
    pytest.param({"t1": 2, "t2": 2},
                 {"A": member("t2", {"t1": [0], "t2": [0]}), "B": member("t2", {"t1": [1], "t2": [1]})},
                 expect(A={"t2": [0]}, B={"t2": [1]}),
                 id="testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics"),
]


@pytest.mark.parametrize(("counts", "members", "expected"), HOMOGENEOUS)
def test_homogeneous_builder_matches_kafka(counts: dict[str, int], members: dict[str, MemberSpec],
                                           expected: dict[str, frozenset[TopicPartition]]) -> None:
    assert uniform_assign(members, counts, TOPIC_IDS, heterogeneous=False) == expected
    assert uniform_assign(members, counts, TOPIC_IDS) == expected      # equal subscriptions pick this builder


HETEROGENEOUS = [
    pytest.param({"t1": 3}, {"A": member(""), "B": member("")}, expect(A={}, B={}),
                 id="testTwoMembersNoTopicSubscription"),
    pytest.param({"t1": 3, "t3": 6}, {"A": member("t1 t3"), "B": member("t3")},
                 expect(A={"t1": [0, 1, 2], "t3": [4]}, B={"t3": [0, 1, 2, 3, 5]}),
                 id="testFirstAssignmentTwoMembersTwoTopics"),
    pytest.param({"t3": 1, "t1": 2}, {"A": member("t3"), "B": member("t3"), "C": member("t1")},
                 expect(A={"t3": [0]}, B={}, C={"t1": [0, 1]}),
                 id="testFirstAssignmentNumMembersGreaterThanTotalNumPartitions"),
    pytest.param({"t1": 6, "t2": 4, "t3": 4},
                 {"A": member("t1", {"t1": [0, 1, 2]}), "B": member("t1 t2", {"t1": [3], "t2": [0]}),
                  "C": member("t1 t2 t3", {"t1": [4, 5], "t2": [1, 2, 3], "t3": [0, 1, 2, 3]})},
                 expect(A={"t1": [0, 1, 2, 5]}, B={"t1": [3], "t2": [0, 1, 2, 3]}, C={"t1": [4], "t3": [0, 1, 2, 3]}),
                 id="testReassignmentForTwoMembersThreeTopicsGivenUnbalancedPrevAssignment"),
    pytest.param({"t1": 6, "t2": 5, "t3": 3, "t4": 3},
                 {"A": member("t1 t3", {"t1": [0, 1, 2, 3], "t3": [0, 1]}),
                  "B": member("t1 t2 t3 t4", {"t2": [0, 1, 2], "t4": [0, 1, 2]})},
                 expect(A={"t1": [0, 1, 2, 3, 4, 5], "t3": [0, 1, 2]}, B={"t2": [0, 1, 2, 3, 4], "t4": [0, 1, 2]}),
                 id="testReassignmentWhenPartitionsAreAddedForTwoMembers"),
    pytest.param({"t1": 6, "t2": 7},
                 {"A": member("t1", {"t1": [0, 2], "t2": [0]}), "B": member("t1 t2", {"t1": [1], "t2": [1, 2]}),
                  "C": member("t1 t2")},
                 expect(A={"t1": [0, 2, 3, 4, 5]}, B={"t1": [1], "t2": [1, 2, 6]}, C={"t2": [0, 3, 4, 5]}),
                 id="testReassignmentWhenOneMemberAddedAndPartitionsAddedTwoMembersTwoTopics"),
    pytest.param({"t1": 3, "t2": 8, "t3": 3},
                 {"A": member("t1 t3", {"t1": [0, 1, 2], "t3": [0, 1]}), "B": member("t2", {"t2": [3, 4, 5, 6]})},
                 expect(A={"t1": [0, 1, 2], "t3": [0, 1, 2]}, B={"t2": list(range(8))}),
                 id="testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersThreeTopics"),
    pytest.param({"t1": 3, "t2": 5},
                 {"A": member("t1", {"t1": [0, 2], "t2": [1, 3]}), "B": member("t1 t2", {"t1": [1], "t2": [0, 2, 4]})},
                 expect(A={"t1": [0, 1, 2]}, B={"t2": [0, 1, 2, 3, 4]}),
                 id="testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics"),
    pytest.param({"t1": 2, "t2": 2, "t3": 2},
                 {"A": member("t1 t2 t3", {"t1": [0, 1], "t2": [0, 1], "t3": [0, 1]}), "B": member("t1 t2 t3")},
                 expect(A={"t2": [0], "t3": [0, 1]}, B={"t1": [0, 1], "t2": [1]}),
                 id="testReassignmentWhenTopicPartitionsRunOutAndMembersHaveNoPartitions"),
    pytest.param({"t1": 3}, {"A": member("t1"), "B": member("")}, expect(A={"t1": [0, 1, 2]}, B={}),
                 id="testFirstAssignmentWithTwoMembersIncludingOneWithoutSubscriptions"),
]


@pytest.mark.parametrize(("counts", "members", "expected"), HETEROGENEOUS)
def test_heterogeneous_builder_matches_kafka(counts: dict[str, int], members: dict[str, MemberSpec],
                                             expected: dict[str, frozenset[TopicPartition]]) -> None:
    # Kafka's test hands the builder a HETEROGENEOUS group spec even where subscriptions happen to be equal
    assert uniform_assign(members, counts, TOPIC_IDS, heterogeneous=True) == expected


def test_kafka_member_order_is_java_hashmap_order() -> None:
    # "A".."C" hash to 65..67: buckets 1..3; "Aa" and "BB" share a hash (2112), so their bucket keeps id order
    assert kafka_member_order(["C", "B", "A"]) == ["A", "B", "C"]
    assert kafka_member_order(["BB", "Aa"]) == ["Aa", "BB"]
    # 17 ids grow the table to 32 buckets: "`" (96) moves to bucket 0, ahead of "P" (80, bucket 16)
    ids = [chr(c) for c in range(ord("P"), ord("P") + 17)]
    assert kafka_member_order(ids)[:3] == ["`", "P", "Q"]


@pytest.mark.parametrize("heterogeneous", [False, True], ids=["homogeneous", "heterogeneous"])
@pytest.mark.parametrize("ids", [TOPIC_IDS, None], ids=["kafka-ids", "name-derived-ids"])
def test_reassignment_stickiness(heterogeneous: bool, ids: dict[str, str] | None) -> None:
    # CommonAssignorTests.testReassignmentStickiness (Kafka 4.1): A, B, C on topics of 2, 5 and 7 partitions; fed
    # its own result, the assignor gives it back unchanged
    counts = {"t1": 2, "t2": 5, "t3": 7}
    fresh = {m: member("t1 t2 t3") for m in "ABC"}
    first = uniform_assign(fresh, counts, ids, heterogeneous=heterogeneous)
    assert sorted(len(p) for p in first.values()) == [4, 5, 5]
    again = {m: MemberSpec(frozenset(counts), first[m]) for m in "ABC"}
    assert uniform_assign(again, counts, ids, heterogeneous=heterogeneous) == first

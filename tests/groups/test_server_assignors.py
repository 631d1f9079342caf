"""KIP-848 server-side assignors: Kafka's javadoc examples, stickiness of ``uniform``, the stateless ``range`` of
Kafka 4, error paths, and properties (complete, disjoint, subscribed only, balanced, sticky against a brute-force
optimum, determinism)."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.clients.assignors import get_assignor
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import ConfigError
from kafkalab.groups.server_assignors import (
    SERVER_ASSIGNORS,
    MemberSpec,
    get_server_assignor,
    range_assign,
    uniform_assign,
)
from kafkalab.protocol.group import Subscription
from tests.groups.brute_force import brute_force_min_moves


def tp(topic: str, partition: int) -> TopicPartition:
    return TopicPartition(topic, partition)


def spec(*topics: str, assigned: Sequence[TopicPartition] = (), instance: str | None = None) -> MemberSpec:
    return MemberSpec(frozenset(topics), frozenset(assigned), instance)


# ---- examples --------------------------------------------------------------------------------------------------------

def test_range_javadoc_co_partitioned_example() -> None:
    members = {"M0": spec("T1", "T2"), "M1": spec("T1", "T2")}
    assert range_assign(members, {"T1": 3, "T2": 3}) == {
        "M0": frozenset({tp("T1", 0), tp("T1", 1), tp("T2", 0), tp("T2", 1)}),
        "M1": frozenset({tp("T1", 2), tp("T2", 2)})}


def test_range_javadoc_static_members_keep_their_ranges_across_new_member_ids() -> None:
    before = range_assign({"M0": spec("T1", "T2", instance="I0"), "M1": spec("T1", "T2", instance="I1")},
                          {"T1": 3, "T2": 3})
    # after a rolling bounce M0 -> M3 and M1 -> M2: by member id M2 would come first, by instance id it does not
    after = range_assign({"M3": spec("T1", "T2", instance="I0"), "M2": spec("T1", "T2", instance="I1")},
                         {"T1": 3, "T2": 3})
    assert after["M3"] == before["M0"] and after["M2"] == before["M1"]
    dynamic = range_assign({"M3": spec("T1", "T2"), "M2": spec("T1", "T2")}, {"T1": 3, "T2": 3})
    assert dynamic["M2"] == before["M0"]       # without instance ids the assignment is shuffled


def test_range_is_stateless_in_kafka_4() -> None:
    """KAFKA-16944 made the server range assignor recompute ranges every time: current partitions do not matter."""
    members = {"a": spec("t", assigned=[tp("t", 2), tp("t", 3)]), "b": spec("t", assigned=[tp("t", 0), tp("t", 1)])}
    assert range_assign(members, {"t": 4}) == {"a": frozenset({tp("t", 0), tp("t", 1)}),
                                               "b": frozenset({tp("t", 2), tp("t", 3)})}


def test_range_heterogeneous_matches_the_client_range_assignor() -> None:
    topics = {"C0": ("t0",), "C1": ("t0", "t1"), "C2": ("t0", "t1", "t2")}
    counts = {"t0": 1, "t1": 2, "t2": 3}
    server = range_assign({m: spec(*ts) for m, ts in topics.items()}, counts)
    client = get_assignor("range").assign(counts, {m: Subscription(ts) for m, ts in topics.items()})
    assert server == {m: frozenset(a.partitions) for m, a in client.items()}


def test_uniform_fresh_assignment_is_balanced() -> None:
    result = uniform_assign({m: spec("t0", "t1") for m in ("A", "B", "C")}, {"t0": 4, "t1": 3})
    assert sorted(len(p) for p in result.values()) == [2, 2, 3]


def test_uniform_keeps_partitions_and_gives_the_extra_to_the_member_owning_most() -> None:
    members = {"A": spec("t", assigned=[tp("t", 0), tp("t", 1)]), "B": spec("t")}
    assert uniform_assign(members, {"t": 3}) == {"A": frozenset({tp("t", 0), tp("t", 1)}), "B": frozenset({tp("t", 2)})}
    # Kafka 4.0 gave the extra partition to the first member in HashMap order ("A") and so cut "B"; since 4.1
    # (KAFKA-18688) a member claims the extra only by owning it
    members = {"A": spec("t", assigned=[tp("t", 2)]), "B": spec("t", assigned=[tp("t", 0), tp("t", 1)])}
    assert uniform_assign(members, {"t": 3}) == {"A": frozenset({tp("t", 2)}), "B": frozenset({tp("t", 0), tp("t", 1)})}


def test_uniform_new_member_takes_only_the_excess() -> None:
    members = {"A": spec("t", assigned=[tp("t", p) for p in range(6)]), "B": spec("t")}
    result = uniform_assign(members, {"t": 6})
    assert result["A"] == frozenset(tp("t", p) for p in range(3))     # keeps its lowest partitions
    assert result["B"] == frozenset(tp("t", p) for p in range(3, 6))


def test_uniform_drops_unsubscribed_topics_and_missing_topics() -> None:
    members = {"A": spec("t", "ghost", assigned=[tp("gone", 0), tp("t", 0)]), "B": spec("t")}
    result = uniform_assign(members, {"t": 2, "gone": 1})
    assert result == {"A": frozenset({tp("t", 0)}), "B": frozenset({tp("t", 1)})}


def test_uniform_heterogeneous_balances_as_far_as_subscriptions_allow() -> None:
    members = {"C0": spec("t0"), "C1": spec("t0", "t1"), "C2": spec("t0", "t1", "t2")}
    result = uniform_assign(members, {"t0": 1, "t1": 2, "t2": 3})
    assert result == {"C0": frozenset({tp("t0", 0)}), "C1": frozenset({tp("t1", 0), tp("t1", 1)}),
                      "C2": frozenset({tp("t2", p) for p in range(3)})}


def test_uniform_heterogeneous_moves_partitions_to_a_new_subscriber() -> None:
    members = {"A": spec("a", "b", assigned=[tp("a", 0), tp("a", 1), tp("b", 0), tp("b", 1)]), "B": spec("b")}
    assert uniform_assign(members, {"a": 2, "b": 2}) == {"A": frozenset({tp("a", 0), tp("a", 1)}),
                                                         "B": frozenset({tp("b", 0), tp("b", 1)})}


def test_empty_group_and_empty_subscriptions() -> None:
    assert uniform_assign({}, {"t": 3}) == {} and range_assign({}, {"t": 3}) == {}
    assert uniform_assign({"A": spec()}, {"t": 3}) == {"A": frozenset()}
    assert range_assign({"A": spec()}, {"t": 3}) == {"A": frozenset()}


# ---- error paths -----------------------------------------------------------------------------------------------------

def test_get_server_assignor_names() -> None:
    assert get_server_assignor("uniform") is uniform_assign
    assert get_server_assignor("org.apache.kafka.coordinator.group.assignor.RangeAssignor") is range_assign
    assert get_server_assignor("UniformAssignor") is uniform_assign
    assert SERVER_ASSIGNORS == {"uniform": uniform_assign, "range": range_assign}


def test_get_server_assignor_unknown_name_names_the_allowed_and_the_closest() -> None:
    with pytest.raises(ConfigError) as info:
        get_server_assignor("unifrom")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "unknown server assignor 'unifrom': allowed are uniform, range; did you mean 'uniform'?"
    with pytest.raises(ConfigError, match=r"unknown server assignor 'sticky': allowed are uniform, range$"):
        get_server_assignor("sticky")


def test_get_server_assignor_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="a server assignor name must be a str, got NoneType"):
        get_server_assignor(None)  # type: ignore[arg-type]


# ---- properties ------------------------------------------------------------------------------------------------------

TOPIC_NAMES = ("a", "b", "c")


@st.composite
def groups(draw: st.DrawFn, equal: bool = False, max_members: int = 6, max_partitions: int = 6
           ) -> tuple[dict[str, int], dict[str, MemberSpec]]:
    counts = {t: draw(st.integers(0, max_partitions)) for t in TOPIC_NAMES}
    names = [f"m{i}" for i in range(draw(st.integers(1, max_members)))]
    shared = frozenset(draw(st.sets(st.sampled_from(TOPIC_NAMES + ("missing",)), min_size=1)))
    topics = {m: shared if equal else frozenset(draw(st.sets(st.sampled_from(TOPIC_NAMES + ("missing",)))))
              for m in names}
    held: dict[str, list[TopicPartition]] = {m: [] for m in names}
    for t in TOPIC_NAMES:
        for p in range(counts[t]):
            owner = draw(st.sampled_from([None, "gone", *names]))
            if owner in held:
                held[owner].append(tp(t, p))
    instances = draw(st.booleans())
    members = {m: MemberSpec(topics[m], frozenset(held[m]), f"i-{m}" if instances and i % 2 else None)
               for i, m in enumerate(names)}
    return counts, members


def check_valid(counts: Mapping[str, int], members: Mapping[str, MemberSpec],
                result: Mapping[str, frozenset[TopicPartition]]) -> None:
    assert set(result) == set(members)
    seen = [p for ps in result.values() for p in ps]
    assert len(seen) == len(set(seen)), "a partition is assigned twice"
    for m, ps in result.items():
        assert all(p.topic in members[m].subscribed_topics for p in ps), "a partition of an unsubscribed topic"
    wanted = {tp(t, p) for t, n in counts.items() if any(t in s.subscribed_topics for s in members.values())
              for p in range(n)}
    assert set(seen) == wanted


@pytest.mark.parametrize("name", sorted(SERVER_ASSIGNORS))
@given(group=groups())
def test_every_server_assignor_is_complete_disjoint_and_subscribed_only(name: str, group) -> None:
    counts, members = group
    check_valid(counts, members, SERVER_ASSIGNORS[name](members, counts))


@given(group=groups(equal=True))
def test_uniform_is_balanced_within_one_when_subscriptions_are_equal(group) -> None:
    counts, members = group
    sizes = [len(p) for p in uniform_assign(members, counts).values()]
    assert max(sizes) - min(sizes) <= 1


@given(group=groups(equal=True))
def test_range_balances_each_topic_within_one(group) -> None:
    counts, members = group
    result = range_assign(members, counts)
    for t in counts:
        per_member = [sum(1 for p in ps if p.topic == t) for ps in result.values()]
        assert max(per_member) - min(per_member) <= 1


@given(group=groups(max_members=5))
def test_uniform_heterogeneous_leaves_no_topic_unbalanced_between_its_subscribers(group) -> None:
    """After balancing, no subscriber of a topic has 2+ more partitions than another while holding one of its
    partitions (the per-topic rule Kafka's heterogeneous builder iterates to, within its round limit)."""
    counts, members = group
    result = uniform_assign(members, counts)
    for t in counts:
        subscribers = [m for m in members if t in members[m].subscribed_topics]
        for giver in subscribers:
            if any(p.topic == t for p in result[giver]):
                assert all(len(result[giver]) - len(result[o]) <= 1 for o in subscribers)


def moved(members: Mapping[str, MemberSpec], result: Mapping[str, frozenset[TopicPartition]]) -> int:
    return sum(1 for m, s in members.items() for p in s.assigned if p not in result[m])


def min_moves(counts: Mapping[str, int], members: Mapping[str, MemberSpec]) -> int:
    names = sorted(members)
    return brute_force_min_moves(counts, names, {p: m for m in names for p in members[m].assigned})


@st.composite
def small_equal_groups(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, MemberSpec]]:
    names = [f"m{i}" for i in range(draw(st.integers(1, 4)))]
    first = draw(st.integers(0, 8))
    counts = {"a": first, "b": draw(st.integers(0, 8 - first))}
    held: dict[str, list[TopicPartition]] = {m: [] for m in names}
    for t, n in counts.items():
        for p in range(n):
            owner = draw(st.sampled_from([None, "gone", *names]))
            if owner in held:
                held[owner].append(tp(t, p))
    return counts, {m: MemberSpec(frozenset(counts), frozenset(held[m])) for m in names}


@settings(max_examples=150)
@given(group=small_equal_groups())
def test_uniform_moves_no_more_than_the_brute_force_optimum(group) -> None:
    counts, members = group
    result = uniform_assign(members, counts)
    assert moved(members, result) <= min_moves(counts, members)


@given(group=groups())
def test_uniform_is_stable_when_nothing_changes(group) -> None:
    counts, members = group
    first = uniform_assign(members, counts)
    again = {m: MemberSpec(s.subscribed_topics, first[m], s.instance_id) for m, s in members.items()}
    assert uniform_assign(again, counts) == first


@pytest.mark.parametrize("name", sorted(SERVER_ASSIGNORS))
@given(group=groups(), seed=st.integers(0, 2**32))
def test_result_does_not_depend_on_dict_order(name: str, group, seed: int) -> None:
    counts, members = group
    rng = random.Random(seed)
    member_order, topic_order = list(members), list(counts)
    rng.shuffle(member_order)
    rng.shuffle(topic_order)
    assignor = SERVER_ASSIGNORS[name]
    assert (assignor({m: members[m] for m in member_order}, {t: counts[t] for t in topic_order})
            == assignor(members, counts))


@pytest.mark.parametrize("name", sorted(SERVER_ASSIGNORS))
@pytest.mark.parametrize("heterogeneous", [False, True])
def test_hundred_members_thousand_partitions_then_one_leaves(name: str, heterogeneous: bool) -> None:
    # How long this takes is benchmarks/assignors.py's business; a test asserts only the result.
    counts = {f"topic-{i}": 100 for i in range(10)}
    topics = {f"m{i:03d}": frozenset(list(counts)[: 10 - (i % 3 if heterogeneous else 0)]) for i in range(100)}
    assignor = SERVER_ASSIGNORS[name]
    first = assignor({m: MemberSpec(ts, frozenset()) for m, ts in topics.items()}, counts)
    del topics["m000"]
    members = {m: MemberSpec(ts, first[m]) for m, ts in topics.items()}
    second = assignor(members, counts)
    check_valid(counts, members, second)

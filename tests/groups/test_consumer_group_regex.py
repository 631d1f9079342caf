"""KIP-848 regex subscriptions on the broker side (``SubscribedTopicRegex``): the coordinator resolves a member's regex
against the topics that exist, re-resolves it when topics are created (at most every 10 s), bumps the group epoch
when the resolved set changes, and assigns what the regex matched; invalid regexes are refused.

The fake port and the client come from ``test_consumer_group``; a ``RegexClient`` sends its regex on a full
heartbeat only, as Kafka's consumer does.
"""
from __future__ import annotations

from typing import Any

import pytest

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvalidRegularExpressionError
from kafkalab.groups import consumer_group_records as rec
from kafkalab.groups.consumer_group import (
    REGEX_BATCH_REFRESH_INTERVAL_MS,
    ConsumerGroupManager,
    check_regex,
    re2j_unsupported,
)
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse
from tests.groups.test_consumer_group import Client, FakePort, G, _assignors, answer, request, tps

REGEX_TIMER = f"cg:regex:{G}"


class RegexClient(Client):
    """A member subscribed to a regex (and no names)."""

    def __init__(self, mgr: ConsumerGroupManager, member_id: str, regex: str) -> None:
        super().__init__(mgr, member_id, topics=())
        self.regex = regex

    def heartbeat(self, now_ms: float = 0.0, ack: bool = True, lose: bool = False,
                  **extra: Any) -> ConsumerGroupHeartbeatResponse | None:
        if self.epoch == 0 or self.full_next:
            extra.setdefault("subscribed_topic_regex", self.regex)
        return super().heartbeat(now_ms, ack, lose, **extra)


def setup(**topics: int) -> tuple[FakePort, ConsumerGroupManager]:
    port = FakePort(topics or {"orders-us": 2, "payments": 2})
    return port, ConsumerGroupManager(port, {}, assignors=_assignors())


def fire_resolution(port: FakePort, mgr: ConsumerGroupManager) -> None:
    assert REGEX_TIMER in port.timers, "no regex resolution was scheduled"
    mgr.on_timer(REGEX_TIMER, port.timers.pop(REGEX_TIMER))


def group(mgr: ConsumerGroupManager) -> dict[str, Any]:
    desc = mgr.describe_group(G)
    assert desc is not None
    return desc


def converge(clients: list[Client], now_ms: float = 0.0, rounds: int = 6) -> None:
    for _ in range(rounds):
        for c in clients:
            c.heartbeat(now_ms)


def test_a_regex_member_gets_the_matching_topics_once_the_regex_is_resolved() -> None:
    port, mgr = setup()
    a = RegexClient(mgr, "a", "orders-.*")
    a.heartbeat(0)
    # Joining with an unresolved regex subscribes to nothing yet: epoch 1, no partitions, a resolution scheduled.
    assert a.owned == frozenset() and group(mgr)["group_epoch"] == 1
    assert group(mgr)["members"][0]["subscribed_topic_regex"] == "orders-.*"
    fire_resolution(port, mgr)
    assert group(mgr)["resolved_regex"] == {"orders-.*": ["orders-us"]}
    assert group(mgr)["group_epoch"] == 2
    a.heartbeat(1)
    assert a.owned == frozenset(tps("orders-us", 0, 1))         # payments does not match


def test_a_topic_created_later_is_picked_up_and_a_non_matching_one_is_not() -> None:
    port, mgr = setup()
    a, b = RegexClient(mgr, "a", "orders-.*"), RegexClient(mgr, "b", "orders-.*")
    a.heartbeat(0)
    fire_resolution(port, mgr)
    b.heartbeat(0)               # a regex the group already resolved: the epoch bumps at once, no new resolution
    assert REGEX_TIMER not in port.timers and group(mgr)["group_epoch"] == 3
    converge([a, b])
    assert a.owned | b.owned == frozenset(tps("orders-us", 0, 1))

    port.topics["orders-eu"] = 2
    port.topics["payments-eu"] = 2
    mgr.on_metadata({"orders-eu": 2, "payments-eu": 2}, 1000, version=40)
    a.heartbeat(5000)            # within 10 s of the last resolution: not yet
    assert REGEX_TIMER not in port.timers
    a.heartbeat(REGEX_BATCH_REFRESH_INTERVAL_MS + 1)
    fire_resolution(port, mgr)
    assert group(mgr)["resolved_regex"] == {"orders-.*": ["orders-eu", "orders-us"]}
    assert group(mgr)["group_epoch"] == 4
    converge([a, b], REGEX_BATCH_REFRESH_INTERVAL_MS + 2)
    assert a.owned | b.owned == frozenset(tps("orders-us", 0, 1) + tps("orders-eu", 0, 1))
    assert len(a.owned) == len(b.owned) == 2
    # With nothing new, later heartbeats schedule no resolution.
    a.heartbeat(3 * REGEX_BATCH_REFRESH_INTERVAL_MS)
    assert REGEX_TIMER not in port.timers


def test_deleting_a_matched_topic_takes_it_out_of_the_assignment() -> None:
    port, mgr = setup(**{"orders-us": 2, "orders-eu": 1})
    a = RegexClient(mgr, "a", "orders-.*")
    a.heartbeat(0)
    fire_resolution(port, mgr)
    converge([a])
    assert a.owned == frozenset(tps("orders-us", 0, 1) + tps("orders-eu", 0))
    epoch = group(mgr)["group_epoch"]
    del port.topics["orders-eu"]
    mgr.on_metadata({"orders-eu": 0}, 100, version=50)
    converge([a], 200)
    assert a.owned == frozenset(tps("orders-us", 0, 1))
    assert group(mgr)["group_epoch"] == epoch + 1


def test_names_and_regex_members_share_a_group() -> None:
    port, mgr = setup()
    names = Client(mgr, "n", topics=("payments",))
    regex = RegexClient(mgr, "r", "orders-.*")
    names.heartbeat(0)
    regex.heartbeat(0)
    fire_resolution(port, mgr)
    converge([names, regex])
    assert names.owned == frozenset(tps("payments", 0, 1))
    assert regex.owned == frozenset(tps("orders-us", 0, 1))


def test_an_invalid_regex_is_refused_with_invalid_regular_expression() -> None:
    _, mgr = setup()
    resp = answer(mgr, request(subscribed_topic_names=(), subscribed_topic_regex="orders-[us"))
    assert resp.error == "INVALID_REGULAR_EXPRESSION"
    assert resp.error_message == ("SubscribedTopicRegex `orders-[us` is not a valid regular expression: unterminated "
                                  "character set.")
    assert mgr.group_ids() == []
    with pytest.raises(InvalidRegularExpressionError) as info:
        check_regex("(")
    assert info.value.code == 128 and not info.value.retriable
    assert info.value.message == ("SubscribedTopicRegex `(` is not a valid regular expression: missing ), "
                                  "unterminated subpattern.")


@pytest.mark.parametrize("regex, description", [
    ("orders-(?=eu)", "invalid or unsupported Perl syntax"),         # lookahead
    ("(?<!x)orders", "invalid or unsupported Perl syntax"),          # lookbehind
    ("(?P<r>eu)-(?P=r)", "invalid or unsupported Perl syntax"),      # named backreference
    ("(?x) orders", "invalid or unsupported Perl syntax"),           # a flag RE2J lacks
    (r"(eu)-\1", "invalid escape sequence"),                          # backreference
    ("orders-.++", "invalid nested repetition operator"),            # possessive
    ("orders-x{2}+", "invalid nested repetition operator"),
])
def test_what_re_accepts_and_re2j_refuses_is_invalid(regex: str, description: str) -> None:
    assert re2j_unsupported(regex) == description
    _, mgr = setup()
    resp = answer(mgr, request(subscribed_topic_names=(), subscribed_topic_regex=regex))
    assert (resp.error, resp.error_message) == (
        "INVALID_REGULAR_EXPRESSION", f"SubscribedTopicRegex `{regex}` is not a valid regular expression: "
                                      f"{description}.")


@pytest.mark.parametrize("regex", ["orders-.*", "(?i)Orders-(us|eu)", r"\(?=", "[(?=]+", "[]x]+", r"a\++",
                                   "(?P<region>us|eu)", "a}+", "(?s:.)*"])
def test_what_both_accept_is_valid(regex: str) -> None:
    assert re2j_unsupported(regex) is None
    check_regex(regex)


def test_a_join_needs_names_or_a_regex() -> None:
    _, mgr = setup()
    resp = answer(mgr, request(subscribed_topic_names=None, subscribed_topic_regex="orders-.*"))
    assert resp.error == "NONE" and resp.member_epoch == 1
    resp = answer(mgr, request(member_id="x", subscribed_topic_names=None))
    assert resp.error == "INVALID_REQUEST"


def test_the_last_member_of_a_regex_deletes_its_resolution_and_switching_to_names_works() -> None:
    port, mgr = setup()
    a = RegexClient(mgr, "a", "orders-.*")
    a.heartbeat(0)
    fire_resolution(port, mgr)
    converge([a])
    # The member drops its regex ("") and subscribes to payments by name.
    a.heartbeat(1, subscribed_topic_regex="", subscribed_topic_names=("payments",))
    assert group(mgr)["resolved_regex"] == {}
    assert group(mgr)["members"][0]["subscribed_topic_regex"] is None
    converge([a], 2)
    assert a.owned == frozenset(tps("payments", 0, 1))
    # Another member takes a regex and leaves: its resolution goes with it.
    b = RegexClient(mgr, "b", "pay.*")
    b.heartbeat(3)
    fire_resolution(port, mgr)
    assert group(mgr)["resolved_regex"] == {"pay.*": ["payments"]}
    b.leave()
    assert group(mgr)["resolved_regex"] == {}


def test_regex_state_is_rebuilt_by_replay() -> None:
    port, mgr = setup()
    a = RegexClient(mgr, "a", "orders-.*")
    a.heartbeat(0)
    fire_resolution(port, mgr)
    converge([a])
    before = mgr.describe_group(G)
    fresh = ConsumerGroupManager(port, {}, assignors=_assignors())
    for key, value in port.read(0):
        assert fresh.replay(0, key, value)
    assert fresh.describe_group(G) == before
    regex_keys = [key for key, _ in port.read(0) if key.startswith(b"CR")]
    assert regex_keys and rec.parse_key(regex_keys[0]) == (b"R", G, "orders-.*")


def test_a_regex_with_a_separator_byte_survives_the_key() -> None:
    key, value = rec.regular_expression_record(G, "a\x00b", ["a\x00b"], 3, 10.0)
    assert rec.parse_key(key) == (b"R", G, "a\x00b")
    assert value.topics == ("a\x00b",) and value.serialized_size() > 0


def test_groups_without_regexes_never_resolve() -> None:
    port, mgr = setup()
    a = Client(mgr, "a", topics=("payments",))
    a.heartbeat(0)
    port.topics["orders-eu"] = 1
    mgr.on_metadata({"orders-eu": 1}, 10)
    n = len(port.appends)
    a.heartbeat(20_000)
    assert REGEX_TIMER not in port.timers and len(port.appends) == n


def test_static_member_keeps_its_regex_across_a_restart() -> None:
    port, mgr = setup()
    first = ConsumerGroupHeartbeatRequest(G, "s1", 0, instance_id="i", rebalance_timeout_ms=1000,
                                          subscribed_topic_names=(), subscribed_topic_regex="orders-.*",
                                          topic_partitions=())
    got: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, first, 0, got.append)
    fire_resolution(port, mgr)
    mgr.heartbeat(0, ConsumerGroupHeartbeatRequest(G, "s1", got[0].member_epoch, instance_id="i",
                                                   topic_partitions=()), 1, got.append)
    mgr.heartbeat(0, ConsumerGroupHeartbeatRequest(G, "s1", -2, instance_id="i"), 2, got.append)
    # The restarted instance sends its subscription again (a full heartbeat), under a new member id.
    mgr.heartbeat(0, ConsumerGroupHeartbeatRequest(G, "s2", 0, instance_id="i", rebalance_timeout_ms=1000,
                                                   subscribed_topic_names=(), subscribed_topic_regex="orders-.*",
                                                   topic_partitions=()), 3, got.append)
    assert got[-1].error == "NONE"
    desc = group(mgr)
    assert [(m["member_id"], m["subscribed_topic_regex"]) for m in desc["members"]] == [("s2", "orders-.*")]
    assert desc["resolved_regex"] == {"orders-.*": ["orders-us"]}
    assert set(got[-1].assignment or ()) == {TopicPartition("orders-us", 0), TopicPartition("orders-us", 1)}

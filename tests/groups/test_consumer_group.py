"""KIP-848 consumer groups on the broker side: joins, epochs, reconciliation with the old owner releasing first,
leaves, session and rebalance timeouts, static members, metadata changes, replay, offset checks and error paths.

A fake port records appends and timers; commits are immediate unless a test holds them. ``Client`` plays a KIP-848
consumer: it heartbeats with its epoch and the partitions it owns, and applies (acknowledges) an assignment at once
or later.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvariantViolation, error_for_name
from kafkalab.groups import consumer_group_records as rec
from kafkalab.groups.consumer_group import ConsumerGroupManager, map_write_error
from kafkalab.groups.reconciliation import ConsumerGroupMember, MemberState, reconcile
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse

G = "g"


def tps(topic: str, *parts: int) -> tuple[TopicPartition, ...]:
    return tuple(TopicPartition(topic, p) for p in parts)


def _round_robin(members: Mapping[str, Any], topics: Mapping[str, int]) -> dict[str, frozenset[TopicPartition]]:
    # Stand-in used only if the real server assignors cannot run here.
    out: dict[str, set[TopicPartition]] = {m: set() for m in members}
    ids = sorted(members)
    i = 0
    for topic in sorted(topics):
        for p in range(topics[topic]):
            subs = [m for m in ids if topic in members[m].subscribed_topics]
            if subs:
                out[subs[i % len(subs)]].add(TopicPartition(topic, p))
                i += 1
    return {m: frozenset(v) for m, v in out.items()}


def _assignors() -> dict[str, Callable[..., Any]]:
    try:
        from kafkalab.groups.server_assignors import MemberSpec, get_server_assignor
        real = {name: get_server_assignor(name) for name in ("uniform", "range")}
        real["uniform"]({"a": MemberSpec(frozenset({"t"}), frozenset())}, {"t": 2})
        return real
    except Exception:  # the assignors module is another helper's, possibly unfinished
        return {"uniform": _round_robin, "range": _round_robin}


class FakePort:
    def __init__(self, topics: Mapping[str, int]) -> None:
        self.topics = dict(topics)
        self.timers: dict[str, float] = {}
        self.log: dict[int, list[tuple[bytes, Any]]] = {}
        self.appends: list[list[tuple[bytes, Any]]] = []
        self.held: list[tuple[int, list[tuple[bytes, Any]], Callable[[str], None]]] = []
        self.hold = False
        self.fail: str | None = None
        self.metrics: list[tuple[str, Any]] = []

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers[name] = at_ms

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)

    def append(self, partition: int, records: Any, callback: Callable[[str], None]) -> None:
        records = list(records)
        self.appends.append(records)
        if self.fail is not None:
            callback(self.fail)
        elif self.hold:
            self.held.append((partition, records, callback))
        else:
            self.log.setdefault(partition, []).extend(records)
            callback("NONE")

    def release(self, error: str = "NONE") -> None:
        partition, records, callback = self.held.pop(0)
        if error == "NONE":
            self.log.setdefault(partition, []).extend(records)
        callback(error)

    def read(self, partition: int) -> list[tuple[bytes, Any]]:
        return list(self.log.get(partition, []))

    def topic_partitions(self) -> Mapping[str, int]:
        return dict(self.topics)

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.metrics.append((metric, value))


class Client:
    """A consumer's side of the protocol: member id (client-generated, KIP-1082), epoch, owned partitions."""

    def __init__(self, mgr: ConsumerGroupManager, member_id: str, topics: tuple[str, ...] = ("t",),
                 instance_id: str | None = None) -> None:
        self.mgr, self.member_id, self.topics, self.instance_id = mgr, member_id, topics, instance_id
        self.epoch = 0
        self.owned: frozenset[TopicPartition] = frozenset()
        self.pending: frozenset[TopicPartition] | None = None
        self.full_next = False     # after a lost answer the client sends a full heartbeat, as Kafka's does
        self.gave_up = False       # a fatal error (UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID) ends the consumer
        self.reported: frozenset[TopicPartition] = frozenset()   # what its last accepted heartbeat said it owns

    def heartbeat(self, now_ms: float = 0.0, ack: bool = True, lose: bool = False,
                  **extra: Any) -> ConsumerGroupHeartbeatResponse | None:
        if self.epoch == 0:
            req = ConsumerGroupHeartbeatRequest(G, self.member_id, 0, instance_id=self.instance_id,
                                                rebalance_timeout_ms=300000, subscribed_topic_names=self.topics,
                                                topic_partitions=(), **extra)
        elif self.full_next:
            req = ConsumerGroupHeartbeatRequest(G, self.member_id, self.epoch, instance_id=self.instance_id,
                                                rebalance_timeout_ms=300000, subscribed_topic_names=self.topics,
                                                topic_partitions=tuple(sorted(self.owned)), **extra)
        else:
            req = ConsumerGroupHeartbeatRequest(G, self.member_id, self.epoch, instance_id=self.instance_id,
                                                topic_partitions=tuple(sorted(self.owned)), **extra)
        got: list[ConsumerGroupHeartbeatResponse] = []
        self.mgr.heartbeat(0, req, now_ms, got.append)
        if not got:
            return None
        resp = got[0]
        if resp.error == "NONE":
            self.reported = frozenset(req.topic_partitions or ())
        self.full_next = lose
        if lose:
            return resp
        if resp.error == "NONE":
            self.epoch = resp.member_epoch
            if resp.assignment is not None:
                self.pending = frozenset(resp.assignment)
            if ack:
                self.acknowledge()
        elif resp.error in ("FENCED_MEMBER_EPOCH", "UNKNOWN_MEMBER_ID"):
            self.drop()
        elif resp.error in ("UNRELEASED_INSTANCE_ID", "FENCED_INSTANCE_ID"):
            self.drop()
            self.gave_up = True
        else:                      # a retriable error: retry with a full heartbeat
            self.full_next = True
        return resp

    def acknowledge(self) -> None:
        if self.pending is not None:
            self.owned, self.pending = self.pending, None

    def drop(self) -> None:
        self.epoch, self.owned, self.pending, self.reported = 0, frozenset(), None, frozenset()

    def leave(self, epoch: int = -1) -> ConsumerGroupHeartbeatResponse:
        got: list[ConsumerGroupHeartbeatResponse] = []
        self.mgr.heartbeat(0, ConsumerGroupHeartbeatRequest(G, self.member_id, epoch, instance_id=self.instance_id),
                           0.0, got.append)
        self.drop()
        return got[0]


def setup(partitions: int = 6, **config: Any) -> tuple[FakePort, ConsumerGroupManager]:
    port = FakePort({"t": partitions})
    return port, ConsumerGroupManager(port, config, assignors=_assignors())


def member(mgr: ConsumerGroupManager, member_id: str) -> dict[str, Any]:
    desc = mgr.describe_group(G)
    assert desc is not None
    return next(m for m in desc["members"] if m["member_id"] == member_id)


def converge(clients: list[Client], rounds: int = 6) -> None:
    for _ in range(rounds):
        for c in clients:
            c.heartbeat()


def request(**fields: Any) -> ConsumerGroupHeartbeatRequest:
    base: dict[str, Any] = {"group_id": G, "member_id": "m", "member_epoch": 0, "rebalance_timeout_ms": 1000,
                            "subscribed_topic_names": ("t",), "topic_partitions": ()}
    base.update(fields)
    return ConsumerGroupHeartbeatRequest(**base)


def answer(mgr: ConsumerGroupManager, req: ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResponse:
    got: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, req, 0.0, got.append)
    assert len(got) == 1
    return got[0]


def three_stable() -> tuple[FakePort, ConsumerGroupManager, list[Client]]:
    port, mgr = setup()
    clients = [Client(mgr, m) for m in ("a", "b", "c")]
    for c in clients:
        c.heartbeat()
    converge(clients)
    return port, mgr, clients


# ---- joins and reconciliation ---------------------------------------------------------------------------------------
def test_first_member_gets_every_partition_at_epoch_1() -> None:
    port, mgr = setup()
    a = Client(mgr, "a")
    resp = a.heartbeat()
    assert resp is not None and resp.error == "NONE"
    assert (resp.member_id, resp.member_epoch, resp.heartbeat_interval_ms) == ("a", 1, 5000)
    assert resp.assignment == tps("t", 0, 1, 2, 3, 4, 5)
    desc = mgr.describe_group(G)
    assert desc is not None and (desc["state"], desc["group_epoch"], desc["assignment_epoch"]) == ("Stable", 1, 1)
    assert "cg:session:g:a" in port.timers and port.timers["cg:session:g:a"] == 45000


def test_three_members_converge_balanced() -> None:
    _, mgr, clients = three_stable()
    desc = mgr.describe_group(G)
    assert desc is not None and desc["state"] == "Stable" and desc["group_epoch"] == 3
    owned = [c.owned for c in clients]
    assert all(len(o) == 2 for o in owned)
    assert frozenset().union(*owned) == frozenset(tps("t", *range(6)))
    for c in clients:
        m = member(mgr, c.member_id)
        assert m["member_epoch"] == 3 and m["state"] == "stable" and m["assignment"] == m["target"] == sorted(c.owned)


def test_new_member_waits_until_the_old_owner_released() -> None:
    _, mgr, clients = three_stable()
    d = Client(mgr, "d")
    resp = d.heartbeat()
    assert resp is not None and resp.member_epoch == 4
    d_target = set(member(mgr, "d")["target"])
    assert d_target and resp.assignment == () and member(mgr, "d")["state"] == "unreleased_partitions"
    losers = [c for c in clients if c.owned & d_target]
    loser = losers[0]
    moving = loser.owned & d_target
    # The old owner's heartbeat still reports the partition: it must revoke it, at its old epoch.
    resp = loser.heartbeat(ack=False)
    assert resp is not None and resp.member_epoch == 3 and resp.assignment is not None
    assert not set(resp.assignment) & moving
    assert member(mgr, loser.member_id)["state"] == "unrevoked_partitions"
    assert d.heartbeat() is not None and not d.owned & moving
    # Still reported: nothing moves.
    loser.heartbeat(ack=False)
    d.heartbeat()
    assert not d.owned & moving
    # Released: the old owner moves to epoch 4, and the new owner gets the partition on its next heartbeat.
    loser.acknowledge()
    resp = loser.heartbeat()
    assert resp is not None and resp.member_epoch == 4
    d.heartbeat()
    assert moving <= d.owned
    converge([*clients, d])
    desc = mgr.describe_group(G)
    assert desc is not None and desc["state"] == "Stable"
    assert sorted(len(c.owned) for c in [*clients, d]) == [1, 1, 2, 2]


def test_lost_answer_previous_epoch_accepted_with_owned_subset() -> None:
    _, mgr, clients = three_stable()
    d = Client(mgr, "d")
    d.heartbeat()
    loser = next(c for c in clients if c.owned & set(member(mgr, "d")["target"]))
    loser.heartbeat()                      # learns what to revoke, revokes it
    lost = loser.heartbeat(lose=True)      # moves it to epoch 4; the answer is lost
    assert lost is not None and lost.member_epoch == 4 and loser.epoch == 3
    resp = loser.heartbeat()               # epoch 3 again, owning a subset of its assignment: accepted
    assert resp is not None and resp.error == "NONE" and resp.member_epoch == 4


def test_leave_bumps_epoch_and_hands_partitions_over() -> None:
    port, mgr, clients = three_stable()
    a, b, c = clients
    resp = c.leave()
    assert (resp.error, resp.member_id, resp.member_epoch) == ("NONE", "c", -1)
    desc = mgr.describe_group(G)
    assert desc is not None and desc["group_epoch"] == 4 and [m["member_id"] for m in desc["members"]] == ["a", "b"]
    assert "cg:session:g:c" not in port.timers
    converge([a, b])
    assert a.owned | b.owned == frozenset(tps("t", *range(6))) and len(a.owned) == len(b.owned) == 3
    assert c.heartbeat() is not None and c.epoch == 5   # a departed member may join again, as a new member


def test_session_expiry_removes_member() -> None:
    port, mgr, clients = three_stable()
    assert port.timers["cg:session:g:b"] == 45000
    mgr.on_timer("cg:session:g:b", 45000)
    desc = mgr.describe_group(G)
    assert desc is not None and desc["group_epoch"] == 4 and "b" not in [m["member_id"] for m in desc["members"]]
    resp = answer(mgr, request(member_id="b", member_epoch=3, topic_partitions=()))
    assert resp.error == "UNKNOWN_MEMBER_ID" and resp.error_message == "Member b is not a member of group g."


def test_member_that_never_revokes_is_fenced_after_rebalance_timeout() -> None:
    port, mgr, clients = three_stable()
    d = Client(mgr, "d")
    d.heartbeat()
    loser = next(c for c in clients if c.owned & set(member(mgr, "d")["target"]))
    loser.heartbeat(now_ms=1000, ack=False)
    name = f"cg:rebalance:g:{loser.member_id}"
    assert port.timers[name] == 1000 + 300000
    mgr.on_timer(name, 301000)
    desc = mgr.describe_group(G)
    assert desc is not None and loser.member_id not in [m["member_id"] for m in desc["members"]]
    assert desc["group_epoch"] == 5
    resp = loser.heartbeat(ack=False)
    assert resp is not None and resp.error == "UNKNOWN_MEMBER_ID"


def test_rebalance_timer_is_harmless_once_the_member_moved_on() -> None:
    port, mgr, clients = three_stable()
    d = Client(mgr, "d")
    d.heartbeat()
    loser = next(c for c in clients if c.owned & set(member(mgr, "d")["target"]))
    loser.heartbeat()
    assert f"cg:rebalance:g:{loser.member_id}" in port.timers
    loser.heartbeat()                      # revoked: timer cancelled
    assert f"cg:rebalance:g:{loser.member_id}" not in port.timers
    mgr.on_timer(f"cg:rebalance:g:{loser.member_id}", 1e9)
    assert loser.member_id in [m["member_id"] for m in mgr.describe_group(G)["members"]]  # type: ignore[index]


# ---- static members -----------------------------------------------------------------------------------------------
def test_static_member_restart_keeps_assignment_without_epoch_bump() -> None:
    port, mgr = setup()
    a, s = Client(mgr, "a"), Client(mgr, "s1", instance_id="i1")
    a.heartbeat()
    s.heartbeat()
    converge([a, s])
    before = s.owned
    resp = s.leave(-2)
    assert (resp.error, resp.member_epoch) == ("NONE", -2)
    desc = mgr.describe_group(G)
    assert desc is not None and desc["group_epoch"] == 2 and member(mgr, "s1")["member_epoch"] == -2
    a.heartbeat()
    assert not a.owned & before            # kept for the static member
    restarted = Client(mgr, "s2", instance_id="i1")
    again = restarted.heartbeat(now_ms=10000)
    assert again is not None and again.error == "NONE" and again.member_epoch == 2
    assert frozenset(again.assignment or ()) == before
    desc = mgr.describe_group(G)
    assert desc is not None and desc["group_epoch"] == 2 and desc["state"] == "Stable"
    assert [m["member_id"] for m in desc["members"]] == ["a", "s2"]
    assert "cg:session:g:s1" not in port.timers and port.timers["cg:session:g:s2"] == 55000


def test_static_member_left_for_good_after_session_timeout() -> None:
    port, mgr = setup()
    a, s = Client(mgr, "a"), Client(mgr, "s1", instance_id="i1")
    a.heartbeat()
    s.heartbeat()
    converge([a, s])
    s.leave(-2)
    mgr.on_timer("cg:session:g:s1", 45000)
    desc = mgr.describe_group(G)
    assert desc is not None and desc["group_epoch"] == 3 and [m["member_id"] for m in desc["members"]] == ["a"]
    converge([a])
    assert a.owned == frozenset(tps("t", *range(6)))


def test_static_instance_still_in_use_is_unreleased() -> None:
    _, mgr = setup()
    Client(mgr, "s1", instance_id="i1").heartbeat()
    resp = answer(mgr, request(member_id="s2", instance_id="i1"))
    assert resp.error == "UNRELEASED_INSTANCE_ID"
    assert resp.error_message == ("Static member s2 with instance id i1 cannot join the group because the instance "
                                  "id is owned by s1 member.")
    assert error_for_name(resp.error).code == 111


def test_static_member_with_wrong_member_id_is_fenced() -> None:
    _, mgr = setup()
    Client(mgr, "s1", instance_id="i1").heartbeat()
    resp = answer(mgr, request(member_id="zz", instance_id="i1", member_epoch=1, topic_partitions=None))
    assert resp.error == "FENCED_INSTANCE_ID"
    assert resp.error_message == "Static member zz with instance id i1 was fenced by member s1."
    resp = answer(mgr, request(member_id="zz", instance_id="nope", member_epoch=1))
    assert (resp.error, resp.error_message) == ("UNKNOWN_MEMBER_ID", "Instance id nope is unknown.")


# ---- metadata -------------------------------------------------------------------------------------------------------
def test_added_partitions_bump_epoch_and_get_assigned() -> None:
    port, mgr, clients = three_stable()
    port.topics["t"] = 9
    mgr.on_metadata({"t": 9}, 100)
    clients[0].heartbeat()
    desc = mgr.describe_group(G)
    assert desc is not None and desc["group_epoch"] == 4
    converge(clients)
    assert frozenset().union(*(c.owned for c in clients)) == frozenset(tps("t", *range(9)))
    assert all(len(c.owned) == 3 for c in clients)


def test_metadata_of_unrelated_topic_changes_nothing() -> None:
    port, mgr, clients = three_stable()
    port.topics["other"] = 3
    mgr.on_metadata({"other": 3}, 100)
    n = len(port.appends)
    clients[0].heartbeat()
    assert len(port.appends) == n and mgr.describe_group(G)["group_epoch"] == 3  # type: ignore[index]


# ---- loading ----------------------------------------------------------------------------------------------------------
def test_replay_after_unload_rebuilds_the_same_group() -> None:
    port, mgr, clients = three_stable()
    d = Client(mgr, "d")
    d.heartbeat()
    loser = next(c for c in clients if c.owned & set(member(mgr, "d")["target"]))
    loser.heartbeat(ack=False)            # leave a member mid-reconciliation
    before = mgr.describe_group(G)
    mgr.unload(0)
    assert not mgr.has_group(G) and not [t for t in port.timers if t.startswith("cg:")]
    for key, value in port.read(0):
        assert mgr.replay(0, key, value)
    assert not mgr.replay(0, b"O\x00g\x00t\x000", object())
    assert mgr.describe_group(G) == before
    mgr.on_loaded(0, 5000)
    assert port.timers["cg:session:g:a"] == 50000
    unrevoked = [m["member_id"] for m in before["members"] if m["state"] == "unrevoked_partitions"]  # type: ignore
    assert unrevoked and all(f"cg:rebalance:g:{m}" in port.timers for m in unrevoked)
    fresh = ConsumerGroupManager(port, {}, assignors=_assignors())
    for key, value in port.read(0):
        fresh.replay(0, key, value)
    assert fresh.describe_group(G) == before and fresh.group_ids() == [G]


# ---- offsets ------------------------------------------------------------------------------------------------------
def test_offset_commit_and_fetch_validation() -> None:
    _, mgr, clients = three_stable()
    assert mgr.validate_offset_commit("nope", "a", 3) == "GROUP_ID_NOT_FOUND"
    assert mgr.validate_offset_commit(G, "a", 3) == "NONE"
    assert mgr.validate_offset_commit(G, "a", 2) == "STALE_MEMBER_EPOCH"
    assert mgr.validate_offset_commit(G, "zz", 3) == "UNKNOWN_MEMBER_ID"
    assert mgr.validate_offset_commit(G, "", -1) == "UNKNOWN_MEMBER_ID"    # members exist: no simple commits
    assert mgr.validate_offset_fetch(G, None, -1) == "NONE"
    assert mgr.validate_offset_fetch(G, "b", 3) == "NONE"
    assert mgr.validate_offset_fetch(G, "b", 4) == "STALE_MEMBER_EPOCH"
    assert mgr.validate_offset_fetch(G, "zz", 1) == "UNKNOWN_MEMBER_ID"
    for c in clients:
        c.leave()
    assert mgr.describe_group(G)["state"] == "Empty"  # type: ignore[index]
    assert mgr.validate_offset_commit(G, "", -1) == "NONE"


# ---- writes ---------------------------------------------------------------------------------------------------------
def test_answer_waits_for_commit_and_noop_heartbeat_writes_nothing() -> None:
    port, mgr = setup()
    port.hold = True
    got: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, request(member_id="a"), 0.0, got.append)
    assert got == [] and mgr.describe_group(G) is None     # not committed yet
    noop: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, request(member_id="a", member_epoch=1, topic_partitions=None), 0.0, noop.append)
    assert noop == [] and len(port.appends) == 1           # no write, but waits for the one in flight
    port.release()
    assert got[0].member_epoch == 1 and noop[0].member_epoch == 1 and noop[0].assignment is None
    assert mgr.describe_group(G)["group_epoch"] == 1  # type: ignore[index]


@pytest.mark.parametrize("error,expected", [("NOT_LEADER_OR_FOLLOWER", "NOT_COORDINATOR"),
                                            ("NOT_ENOUGH_REPLICAS", "COORDINATOR_NOT_AVAILABLE"),
                                            ("REQUEST_TIMED_OUT", "COORDINATOR_NOT_AVAILABLE"),
                                            ("MESSAGE_TOO_LARGE", "UNKNOWN_SERVER_ERROR")])
def test_failed_write_rolls_back_and_maps_error(error: str, expected: str) -> None:
    port, mgr, clients = three_stable()
    before = mgr.describe_group(G)
    port.fail = error
    resp = answer(mgr, request(member_id="d"))
    assert resp.error == expected == map_write_error(error)
    assert mgr.describe_group(G) == before
    port.fail = None
    assert Client(mgr, "d").heartbeat().member_epoch == 4  # type: ignore[union-attr]


def test_failed_write_fails_later_writes_of_the_group_and_unload_answers_not_coordinator() -> None:
    port, mgr, clients = three_stable()
    before = mgr.describe_group(G)
    port.hold = True
    first: list[ConsumerGroupHeartbeatResponse] = []
    second: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, request(member_id="d"), 0.0, first.append)
    mgr.heartbeat(0, request(member_id="e"), 0.0, second.append)
    port.release("NOT_ENOUGH_REPLICAS")
    assert [r.error for r in first + second] == ["COORDINATOR_NOT_AVAILABLE"] * 2
    assert mgr.describe_group(G) == before
    third: list[ConsumerGroupHeartbeatResponse] = []
    mgr.heartbeat(0, request(member_id="f"), 0.0, third.append)
    mgr.unload(0)
    assert [r.error for r in third] == ["NOT_COORDINATOR"]


# ---- error paths ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields,error,message", [
    ({"member_id": "", "member_epoch": 1}, "INVALID_REQUEST", "MemberId can't be empty."),
    ({"group_id": ""}, "INVALID_REQUEST", "GroupId can't be empty."),
    ({"instance_id": ""}, "INVALID_REQUEST", "InstanceId can't be empty."),
    ({"rack_id": ""}, "INVALID_REQUEST", "RackId can't be empty."),
    ({"rebalance_timeout_ms": -1}, "INVALID_REQUEST", "RebalanceTimeoutMs must be provided in first request."),
    ({"topic_partitions": None}, "INVALID_REQUEST", "TopicPartitions must be empty when (re-)joining."),
    ({"topic_partitions": tps("t", 0)}, "INVALID_REQUEST", "TopicPartitions must be empty when (re-)joining."),
    ({"subscribed_topic_names": None}, "INVALID_REQUEST", "SubscribedTopicNames must be non-null when (re-)joining."),
    ({"member_epoch": -2}, "INVALID_REQUEST", "InstanceId can't be null."),
    ({"member_epoch": -3}, "INVALID_REQUEST", "MemberEpoch is invalid: -3"),
    ({"server_assignor": "unifrom"}, "UNSUPPORTED_ASSIGNOR",
     "ServerAssignor unifrom is not supported. Supported assignors: uniform, range. Did you mean uniform?"),
    ({"member_epoch": 1}, "GROUP_ID_NOT_FOUND", "Consumer group g not found."),
    ({"member_epoch": -1}, "GROUP_ID_NOT_FOUND", "Consumer group g not found."),
])
def test_bad_heartbeats(fields: dict[str, Any], error: str, message: str) -> None:
    _, mgr = setup()
    resp = answer(mgr, request(**fields))
    assert resp.error == error and resp.error_message is not None and resp.error_message.startswith(message)
    assert error_for_name(resp.error).error_name == error
    assert mgr.group_ids() == []


def test_epoch_fencing_and_unknown_members() -> None:
    _, mgr, _ = three_stable()
    resp = answer(mgr, request(member_id="a", member_epoch=7, topic_partitions=None))
    assert resp.error == "FENCED_MEMBER_EPOCH"
    assert resp.error_message is not None and resp.error_message.startswith(
        "The consumer group member has a greater member epoch (7) than the one known by the group coordinator (3).")
    resp = answer(mgr, request(member_id="a", member_epoch=1, topic_partitions=None))
    assert resp.error == "FENCED_MEMBER_EPOCH" and "smaller member epoch (1)" in (resp.error_message or "")
    resp = answer(mgr, request(member_id="zz", member_epoch=-1))
    assert (resp.error, resp.error_message) == ("UNKNOWN_MEMBER_ID", "Member zz is not a member of group g.")
    resp = answer(mgr, request(member_id="a"))             # rejoin at epoch 0 under its own id (KAFKA-19233)
    assert resp.error == "NONE" and resp.member_epoch == 3


def test_group_max_size() -> None:
    _, mgr = setup(**{"group.consumer.max.size": 2})
    Client(mgr, "a").heartbeat()
    Client(mgr, "b").heartbeat()
    resp = answer(mgr, request(member_id="c"))
    assert resp.error == "GROUP_MAX_SIZE_REACHED"
    assert resp.error_message == "The consumer group has reached its maximum capacity of 2 members."


def test_empty_member_id_gets_a_deterministic_one() -> None:
    ids = []
    for _ in range(2):
        _, mgr = setup()
        resp = answer(mgr, request(member_id=""))
        assert resp.error == "NONE" and resp.member_id and len(resp.member_id) == 22
        ids.append(resp.member_id)
    assert ids[0] == ids[1]


def test_preferred_assignor_is_the_most_used() -> None:
    calls: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        def assign(members: Mapping[str, Any], topics: Mapping[str, int]) -> Any:
            calls.append(name)
            return _round_robin(members, topics)
        return assign
    port = FakePort({"t": 4})
    mgr = ConsumerGroupManager(port, {"group.consumer.assignors": "uniform,range"},
                               assignors={"uniform": spy("uniform"), "range": spy("range")})
    Client(mgr, "a").heartbeat()
    answer(mgr, request(member_id="b", server_assignor="range"))
    assert calls == ["uniform", "range"]
    assert mgr.describe_group(G)["assignor"] == "range"  # type: ignore[index]


# ---- the reconciliation step on its own ---------------------------------------------------------------------------
def test_reconcile_revokes_before_assigning_and_unknown_state_fences() -> None:
    a = ConsumerGroupMember("a", member_epoch=1, previous_member_epoch=0, assigned=frozenset(tps("t", 0, 1)))
    free: Callable[[TopicPartition], int] = lambda tp: -1  # noqa: E731
    step = reconcile(a, 2, frozenset(tps("t", 0, 2)), free, tps("t", 0, 1))
    assert (step.state, step.member_epoch, step.assigned, step.pending_revocation) == (
        MemberState.UNREVOKED_PARTITIONS, 1, frozenset(tps("t", 0)), frozenset(tps("t", 1)))
    assert reconcile(step, 2, frozenset(tps("t", 0, 2)), free, None) == step      # no owned list: still owns
    done = reconcile(step, 2, frozenset(tps("t", 0, 2)), free, tps("t", 0))
    assert (done.state, done.member_epoch, done.previous_member_epoch, done.assigned) == (
        MemberState.STABLE, 2, 1, frozenset(tps("t", 0, 2)))
    weird = ConsumerGroupMember("w", member_epoch=1, state=MemberState.UNKNOWN)
    with pytest.raises(error_for_name("FENCED_MEMBER_EPOCH"), match="unknown state"):
        reconcile(weird, 2, frozenset(), free, tps("t", 0))


def test_giving_an_owned_partition_twice_is_an_invariant_violation() -> None:
    group = rec.ConsumerGroup(G)
    for member_id in ("a", "b"):
        key, value = rec.current_assignment_record(G, ConsumerGroupMember(member_id, member_epoch=1,
                                                                          assigned=frozenset(tps("t", 0))))
        if member_id == "a":
            group.replay(b"C", member_id, value)
        else:
            with pytest.raises(InvariantViolation, match="still owned at epoch 1"):
                group.replay(b"C", member_id, value)


def test_bad_record_key() -> None:
    with pytest.raises(ValueError, match="not a consumer group record key"):
        rec.parse_key(b"CX\x00g")


# ---- property: never two owners; convergence ------------------------------------------------------------------------
# Heartbeats and joins dominate, as in a live group; the rarer events change membership or metadata.
OPS = st.lists(st.tuples(st.sampled_from(["join", "join", "hb", "hb", "hb", "hb_noack", "hb_noack", "hb_lost", "ack",
                                          "leave", "crash", "static_leave", "restart", "rebalance_timeout", "grow",
                                          "fail"]),
                         st.integers(0, 3)), max_size=80)


@settings(max_examples=200)
@given(OPS)
def test_no_partition_has_two_owners_and_the_group_converges(ops: list[tuple[str, int]]) -> None:
    ops = [("join", 0), ("join", 1), ("join", 2), *ops]
    port, mgr = setup(partitions=5)
    clients: list[Client] = []
    dead: list[Client] = []          # crashed or static-left: their session timers may still be armed
    incarnation = [0]

    def new_client(slot: int) -> Client:
        incarnation[0] += 1
        static = f"i{slot}" if slot % 2 == 0 else None
        return Client(mgr, f"m{slot}-{incarnation[0]}", instance_id=static)

    lost_answers = [False]

    def check() -> None:
        # The coordinator's view: what each member last reported owning plus what it was given (or is revoking)
        # never overlaps another member's.
        desc = mgr.describe_group(G)
        server = {m["member_id"]: set(m["assignment"]) | set(m["pending_revocation"])
                  for m in (desc["members"] if desc else [])}
        seen: dict[TopicPartition, str] = {}
        for c in clients:
            for tp in c.reported | server.get(c.member_id, set()):
                assert tp not in seen, f"{tp} held by {seen[tp]} and {c.member_id}"
                seen[tp] = c.member_id
        if lost_answers[0]:
            # A member that missed an answer may still be taking partitions it has since lost; its epoch fences
            # it (STALE_MEMBER_EPOCH on commits, FENCED_MEMBER_EPOCH on its next heartbeat), as in Kafka.
            return
        # Without lost answers the consumers' own view is disjoint too, including assignments not yet applied.
        seen = {}
        for c in clients:
            for tp in c.owned | (c.pending or frozenset()):
                assert tp not in seen, f"{tp} held by {seen[tp]} and {c.member_id} (client view)"
                seen[tp] = c.member_id

    now = 0.0
    for op, slot in ops:
        now += 100
        live = [c for c in clients if c.member_id.startswith(f"m{slot}-")]
        c = live[0] if live else None
        if op == "join" and c is None:
            c = new_client(slot)
            clients.append(c)
            c.heartbeat(now)
        elif op == "restart" and c is None and slot % 2 == 0:
            c = new_client(slot)
            clients.append(c)
            c.heartbeat(now)
        elif c is None:
            pass
        elif op == "hb":
            c.heartbeat(now)
        elif op == "hb_noack":
            c.heartbeat(now, ack=False)
        elif op == "hb_lost":
            c.heartbeat(now, lose=True)
            lost_answers[0] = True
        elif op == "ack":
            c.acknowledge()
        elif op == "leave" and c.epoch > 0:
            c.leave()
            clients.remove(c)
        elif op == "static_leave" and c.instance_id is not None and c.epoch > 0:
            c.leave(-2)
            clients.remove(c)
            dead.append(c)
        elif op == "crash":
            c.drop()
            clients.remove(c)
            dead.append(c)
        elif op == "rebalance_timeout":
            name = f"cg:rebalance:g:{c.member_id}"
            if name in port.timers:
                mgr.on_timer(name, now)
                if not any(m["member_id"] == c.member_id for m in mgr.describe_group(G)["members"]):  # type: ignore
                    c.drop()   # its poll timer expired too: it let its partitions go
        elif op == "grow":
            port.topics["t"] += 1
            mgr.on_metadata({"t": port.topics["t"]}, now)
        elif op == "fail":         # the member's next write fails and is rolled back
            port.fail = "NOT_ENOUGH_REPLICAS"
            c.heartbeat(now, ack=slot % 2 == 0)
            port.fail = None
        for gone in [c for c in clients if c.gave_up]:
            clients.remove(gone)
            dead.append(gone)
        if any(m["state"] != "stable" for m in (mgr.describe_group(G) or {"members": []})["members"]):
            event("some member reconciling mid-run")
        check()

    # Everyone left keeps heartbeating and acknowledging; the dead ones' sessions expire.
    def expire(gone: list[Client]) -> None:
        for d in gone:
            name = f"cg:session:g:{d.member_id}"
            if name in port.timers:
                mgr.on_timer(name, now + 45000)
    expire(dead)
    for _ in range(8):
        for c in list(clients):
            c.heartbeat(now)
            if c.gave_up:      # e.g. a static member fenced after lost answers: its instance id is still in use
                clients.remove(c)
                expire([c])
            check()
    desc = mgr.describe_group(G)
    event(f"{len(clients)} members at the end")
    if not clients:
        assert desc is None or desc["state"] == "Empty"
        return
    assert desc is not None and desc["state"] == "Stable", desc
    assert sorted(m["member_id"] for m in desc["members"]) == sorted(c.member_id for c in clients)
    for m in desc["members"]:
        c = next(c for c in clients if c.member_id == m["member_id"])
        assert m["assignment"] == m["target"] == sorted(c.owned)
    everything = frozenset(TopicPartition("t", p) for p in range(port.topics["t"]))
    assert frozenset().union(*(c.owned for c in clients)) == everything


def test_static_leave_errors_and_static_leave_for_good() -> None:
    _, mgr = setup()
    s = Client(mgr, "s1", instance_id="i1")
    s.heartbeat()
    resp = answer(mgr, request(member_id="s1", member_epoch=-2, instance_id="nope"))
    assert (resp.error, resp.error_message) == ("UNKNOWN_MEMBER_ID", "Instance id nope is unknown.")
    resp = answer(mgr, request(member_id="zz", member_epoch=-2, instance_id="i1"))
    assert (resp.error, resp.error_message) == ("FENCED_INSTANCE_ID",
                                                "Static member zz with instance id i1 was fenced by member s1.")
    resp = s.leave(-1)                     # a static member leaving with -1 is gone at once
    assert resp.error == "NONE" and mgr.describe_group(G)["members"] == []  # type: ignore[index]


def test_timer_whose_write_fails_tries_again() -> None:
    port, mgr, clients = three_stable()
    port.fail = "NOT_LEADER_OR_FOLLOWER"
    mgr.on_timer("cg:session:g:b", 45000)
    port.fail = None
    assert "b" in [m["member_id"] for m in mgr.describe_group(G)["members"]]  # type: ignore[index]
    assert port.timers["cg:session:g:b"] == 45500
    mgr.on_timer("cg:session:g:b", 45500)
    assert "b" not in [m["member_id"] for m in mgr.describe_group(G)["members"]]  # type: ignore[index]


def test_timers_are_armed_on_first_call_after_load_without_on_loaded() -> None:
    port, mgr, _ = three_stable()
    mgr.unload(0)
    for key, value in port.read(0):
        mgr.replay(0, key, value)
    assert not [t for t in port.timers if t.startswith("cg:")]
    mgr.on_metadata({}, 7000)
    assert port.timers["cg:session:g:a"] == 52000
    mgr.unload(0)
    assert not mgr.group_ids() and not [t for t in port.timers if t.startswith("cg:")]


# ---- through the real coordinator ------------------------------------------------------------------------------------
def test_through_the_coordinator_failover_mid_reconciliation_and_stale_commit() -> None:
    from kafkalab.common.topic_partition import OffsetAndMetadata
    from kafkalab.groups.coordinator import GroupCoordinator
    from kafkalab.protocol.group import OffsetCommitRequest
    from tests.groups.fake_port import FakePort as CoordinatorFakePort
    from tests.groups.fake_port import make_coordinator

    def factory(port: Any, config: Any) -> ConsumerGroupManager:
        return ConsumerGroupManager(port, config, assignors=_assignors())

    first = make_coordinator(CoordinatorFakePort(topics={"t": 4}), consumer_manager_factory=factory)
    port = first.port

    def hb(coordinator: GroupCoordinator, src: str, epoch: int, owned: tuple[TopicPartition, ...] | None) -> Any:
        req = ConsumerGroupHeartbeatRequest(G, src, epoch, rebalance_timeout_ms=60000 if epoch == 0 else -1,
                                            subscribed_topic_names=("t",) if epoch == 0 else None,
                                            topic_partitions=owned)
        fake: Any = coordinator.port
        coordinator.handle(src, req, fake.now)
        return fake.last(src)

    a = hb(first, "a", 0, ())
    assert (a.error, a.member_epoch, a.assignment) == ("NONE", 1, tps("t", 0, 1, 2, 3))
    b = hb(first, "b", 0, ())
    assert (b.member_epoch, b.assignment) == (2, ())
    a2 = hb(first, "a", 1, a.assignment)                    # a must revoke half
    assert a2.member_epoch == 1 and len(a2.assignment) == 2
    before = first.describe_group(G)
    assert before["protocol"] == "consumer" and before["state"] == "Reconciling"

    commit = OffsetCommitRequest(G, 1, "a", None, {TopicPartition("t", 0): OffsetAndMetadata(5)})
    first.handle("a", commit, port.now)
    assert set(port.last("a").errors.values()) == {"NONE"}  # epoch 1 is a's epoch
    first.handle("b", OffsetCommitRequest(G, 1, "b", None, {TopicPartition("t", 3): OffsetAndMetadata(5)}), port.now)
    assert set(port.last("b").errors.values()) == {"STALE_MEMBER_EPOCH"}

    # Another broker takes over partition 0 and replays it: the same group, mid-reconciliation.
    first.on_resign(0, 2, port.now)
    second = make_coordinator(CoordinatorFakePort(logs=port.logs, topics={"t": 4}), broker_id=2,
                              consumer_manager_factory=factory)
    assert second.describe_group(G) == before
    a3 = hb(second, "a", 1, a2.assignment)                 # revoked: a moves on, b gets the rest
    assert a3.member_epoch == 2
    b2 = hb(second, "b", 2, ())
    assert set(b2.assignment) == set(tps("t", 0, 1, 2, 3)) - set(a2.assignment)
    assert second.describe_group(G)["state"] == "Stable"


def test_bad_assignor_config() -> None:
    with pytest.raises(ValueError, match="unknown server assignor 'unifrom'.*did you mean 'uniform'"):
        ConsumerGroupManager(FakePort({}), {"group.consumer.assignors": ("unifrom",)})
    with pytest.raises(ValueError, match="group.consumer.assignors is empty"):
        ConsumerGroupManager(FakePort({}), {"group.consumer.assignors": ()})


_TRACE = """
import hashlib, sys
sys.path.insert(0, ".")
import tests.groups.test_consumer_group as t
port, mgr = t.setup(partitions=7)
cs = [t.Client(mgr, f"m{i}", topics=("t", "u"), instance_id=f"i{i}" if i % 2 else None) for i in range(4)]
port.topics["u"] = 3
for c in cs:
    c.heartbeat()
t.converge(cs)
cs[1].leave(-2)
t.converge([cs[0], cs[2], cs[3]])
print(hashlib.sha256(repr((port.appends, sorted(port.timers.items()))).encode()).hexdigest())
"""


def test_same_records_under_any_hash_seed() -> None:
    import os
    import subprocess
    import sys
    digests = set()
    for seed in ("0", "1", "12345"):
        out = subprocess.run([sys.executable, "-c", _TRACE], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, cwd=os.path.dirname(
                                 os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        digests.add(out.stdout.strip())
    assert len(digests) == 1

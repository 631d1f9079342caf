"""The classic group protocol against the coordinator with a fake port: join (with the initial delay), sync, heartbeat,
leave, session and rebalance timeouts, static membership, and the state table."""
from __future__ import annotations

import itertools

import pytest

from kafkalab.common.topic_partition import TopicPartition as TP
from kafkalab.errors import InvariantViolation
from kafkalab.groups.classic import VALID_PREVIOUS_STATES, ClassicGroup, ClassicGroupMember
from kafkalab.groups.classic import ClassicGroupState as S
from kafkalab.protocol.group import Assignment, Subscription
from tests.groups.fake_port import Driver, FakePort, make_coordinator


def stable_group(members: list[str], *, static: bool = False, **overrides):
    """A coordinator whose group "g" is Stable at generation 1 with ``members`` (client names), leader first;
    returns (coordinator, driver, {client: member id})."""
    c = make_coordinator(**overrides)
    d = Driver(c)
    ids: dict[str, str] = {}
    for name in members:
        if static:
            assert d.join(name, instance_id=f"i-{name}") is None
        else:
            ids[name] = d.member_id_for(name)
            assert d.join(name, ids[name]) is None
    # the initial rebalance delay, extended once if more than one member joined during it
    d.port.advance(c, d.port.now + (3_000 if len(members) == 1 else 6_000))
    for name in members:
        r = d.port.take(name)[0]
        assert r.error == "NONE" and r.generation_id == 1
        ids[name] = r.member_id
    leader = c.describe_group("g")["leader"]
    assert leader == ids[members[0]]
    plan = {ids[n]: [TP("t", i)] for i, n in enumerate(members)}
    for name in members[1:]:
        assert d.sync(name, ids[name], 1, instance_id=f"i-{name}" if static else None) is None
    r = d.sync(members[0], ids[members[0]], 1, plan, instance_id=f"i-{members[0]}" if static else None)
    assert r.error == "NONE" and r.assignment == Assignment((TP("t", 0),))
    for i, name in enumerate(members[1:], start=1):
        assert d.port.take(name)[0].assignment == Assignment((TP("t", i),))
    assert c.describe_group("g")["state"] == "Stable"
    return c, d, ids


def state(c) -> str:
    return c.describe_group("g")["state"]


# ---- the state table ---------------------------------------------------------------------------------------------
def test_state_table_matches_kafka() -> None:
    assert VALID_PREVIOUS_STATES[S.EMPTY] == {S.PREPARING_REBALANCE}
    assert VALID_PREVIOUS_STATES[S.PREPARING_REBALANCE] == {S.STABLE, S.COMPLETING_REBALANCE, S.EMPTY}
    assert VALID_PREVIOUS_STATES[S.COMPLETING_REBALANCE] == {S.PREPARING_REBALANCE}
    assert VALID_PREVIOUS_STATES[S.STABLE] == {S.COMPLETING_REBALANCE}
    assert VALID_PREVIOUS_STATES[S.DEAD] == set(S)


@pytest.mark.parametrize("source,target", list(itertools.product(S, S)))
def test_every_transition_is_checked_against_the_table(source: S, target: S) -> None:
    group = ClassicGroup("g", state=source)
    if source in VALID_PREVIOUS_STATES[target]:
        group.transition_to(target, 5.0)
        assert (group.state, group.previous_state, group.state_timestamp_ms) == (target, source, 5.0)
    else:
        with pytest.raises(InvariantViolation, match=f"before moving to {target}, but it is in {source}"):
            group.transition_to(target, 5.0)
        assert group.state is source


# ---- the group as data -------------------------------------------------------------------------------------------
def _member(mid: str, *protocols: str, instance: str | None = None) -> ClassicGroupMember:
    sub = Subscription(("t",))
    return ClassicGroupMember(mid, instance, "c", 30_000, 10_000, "consumer", tuple((p, sub) for p in protocols))


def test_protocol_vote_picks_the_most_voted_common_protocol() -> None:
    group = ClassicGroup("g")
    group.add(_member("a", "range", "roundrobin"))
    group.transition_to(S.PREPARING_REBALANCE, 0)
    group.add(_member("b", "roundrobin", "range"))
    group.add(_member("c", "roundrobin", "range"))
    assert group.select_protocol() == "roundrobin"
    group.remove("c")
    assert group.select_protocol() == "range"      # a tie goes to the leader's preference
    assert not group.supports_protocols("consumer", ("sticky",))
    assert not group.supports_protocols("connect", ("range",))


def test_validate_member_and_static_fencing() -> None:
    group = ClassicGroup("g")
    group.add(_member("a", "range", instance="ia"))
    assert group.validate_member("a", "ia") == "NONE"
    assert group.validate_member("x", "ia") == "FENCED_INSTANCE_ID"
    assert group.validate_member("a", "other") == "UNKNOWN_MEMBER_ID"
    assert group.validate_member("x", None) == "UNKNOWN_MEMBER_ID"


def test_adding_a_second_member_with_the_same_instance_id_is_a_bug() -> None:
    group = ClassicGroup("g")
    group.add(_member("a", "range", instance="ia"))
    with pytest.raises(InvariantViolation, match="static member ia is already in 'g'"):
        group.add(_member("b", "range", instance="ia"))


# ---- join and the initial delay -----------------------------------------------------------------------------------
def test_first_join_waits_for_the_initial_rebalance_delay() -> None:
    c = make_coordinator()
    d = Driver(c)
    mid = d.member_id_for("a")
    assert mid.startswith("consumer-a-")
    assert d.join("a", mid) is None and state(c) == "PreparingRebalance"
    d.port.advance(c, 2_999)
    assert d.port.take() == []
    d.port.advance(c, 3_000)
    (r,) = d.port.take("a")
    assert (r.error, r.generation_id, r.leader, r.member_id) == ("NONE", 1, mid, mid)
    assert [m.member_id for m in r.members] == [mid]
    assert state(c) == "CompletingRebalance"


def test_initial_delay_is_extended_by_each_new_member() -> None:
    c = make_coordinator()
    d = Driver(c)
    ids = {}
    for name, at in (("a", 0), ("b", 2_000), ("c", 4_000)):
        d.port.advance(c, at)
        ids[name] = d.member_id_for(name)
        assert d.join(name, ids[name]) is None
    d.port.advance(c, 8_999)                  # delays: 0-3000, extended to 6000, then to 9000
    assert d.port.take() == []
    d.port.advance(c, 9_000)
    answers = {r.member_id: r for r in d.port.take()}
    assert set(answers) == set(ids.values())
    assert {r.generation_id for r in answers.values()} == {1}
    assert len(answers[ids["a"]].members) == 3 and answers[ids["b"]].members == ()


def test_initial_delay_is_capped_by_the_rebalance_timeout() -> None:
    c = make_coordinator()
    d = Driver(c)
    for i in range(5):             # a new member every 2 s keeps extending, but not past rebalance_timeout_ms
        d.port.advance(c, i * 2_000)
        name = f"m{i}"
        assert d.join(name, d.member_id_for(name, rebalance_ms=10_000), rebalance_ms=10_000) is None
    d.port.advance(c, 9_999)
    assert d.port.take() == []
    d.port.advance(c, 10_000)
    answers = d.port.take()
    assert {r.generation_id for r in answers} == {1} and len(answers) == 5


def test_member_id_required_then_unused_id_expires_after_the_session_timeout() -> None:
    c = make_coordinator()
    d = Driver(c)
    d.member_id_for("a", session_ms=10_000)
    assert list(c._shards[0].groups["g"].pending_join_members)
    d.port.advance(c, 10_000)
    assert not c._shards[0].groups["g"].pending_join_members


def test_join_errors() -> None:
    c = make_coordinator()
    d = Driver(c)
    too_short = d.join("a", session_ms=5_999)
    assert too_short.error == "INVALID_SESSION_TIMEOUT"
    assert too_short.error_message == ("session.timeout.ms=5999 is outside the broker's group.min.session.timeout.ms"
                                       "..group.max.session.timeout.ms (6000..1800000)")
    assert d.join("a", session_ms=1_800_001).error == "INVALID_SESSION_TIMEOUT"
    assert d.join("a", "consumer-a-unknown").error == "UNKNOWN_MEMBER_ID"     # no such group
    assert d.join("a", protocols=()).error == "INCONSISTENT_GROUP_PROTOCOL"
    assert Driver(c, group_id="").join("a").error == "INVALID_GROUP_ID"
    a = d.member_id_for("a")
    d.join("a", a)
    assert d.join("b", protocol_type="connect").error == "INCONSISTENT_GROUP_PROTOCOL"
    assert d.join("b", protocols=("sticky",)).error == "INCONSISTENT_GROUP_PROTOCOL"


def test_group_max_size() -> None:
    c = make_coordinator(group_max_size=1)
    d = Driver(c)
    d.join("a", d.member_id_for("a"))
    r = d.join("b")                   # already the member-id round is refused
    assert (r.error, r.member_id) == ("GROUP_MAX_SIZE_REACHED", "")
    assert len(c.describe_group("g")["members"]) == 1


# ---- rebalances after the first generation --------------------------------------------------------------------
def test_new_member_triggers_a_rebalance_and_the_leader_assigns() -> None:
    c, d, ids = stable_group(["a"])
    b = d.member_id_for("b")
    assert d.join("b", b) is None and state(c) == "PreparingRebalance"
    assert d.heartbeat("a", ids["a"], 1).error == "REBALANCE_IN_PROGRESS"
    leader_answer = d.join("a", ids["a"])                  # everyone rejoined: no waiting this time
    assert leader_answer.generation_id == 2 and len(leader_answer.members) == 2
    follower_answer = d.port.last("b")
    assert follower_answer.generation_id == 2 and follower_answer.members == () and follower_answer.leader == ids["a"]
    assert d.sync("b", b, 2) is None                       # a follower waits for the leader's assignment
    assert d.sync("a", ids["a"], 2, {ids["a"]: [TP("t", 0)], b: [TP("t", 1)]}).error == "NONE"
    assert d.port.last("b").assignment == Assignment((TP("t", 1),))
    assert state(c) == "Stable"


def test_members_missing_from_the_leaders_plan_get_an_empty_assignment() -> None:
    c, d, ids = stable_group(["a", "b"])
    d.join("a", ids["a"])
    d.join("b", ids["b"])
    d.port.take()
    d.sync("b", ids["b"], 2)
    d.sync("a", ids["a"], 2, {ids["a"]: [TP("t", 0)]})
    assert d.port.last("b").assignment == Assignment(())


def test_follower_with_unchanged_metadata_gets_the_current_generation_without_a_rebalance() -> None:
    c, d, ids = stable_group(["a", "b"])
    r = d.join("b", ids["b"])
    assert (r.error, r.generation_id, r.members) == ("NONE", 1, ())
    assert state(c) == "Stable"
    assert d.join("b", ids["b"], topics=("t", "u")) is None          # new subscription: rebalance
    assert state(c) == "PreparingRebalance"


def test_leader_rejoin_forces_a_rebalance() -> None:
    c, d, ids = stable_group(["a", "b"])
    assert d.join("a", ids["a"]) is None
    assert state(c) == "PreparingRebalance"


def test_leave_triggers_a_rebalance_and_the_last_leave_empties_the_group() -> None:
    c, d, ids = stable_group(["a", "b"])
    r = d.leave("b", (ids["b"], None))
    assert r.error == "NONE" and r.member_errors == ((ids["b"], "NONE"),)
    assert state(c) == "PreparingRebalance"
    assert d.join("a", ids["a"]).generation_id == 2
    d.sync("a", ids["a"], 2, {ids["a"]: [TP("t", 0), TP("t", 1)]})
    assert d.leave("a", (ids["a"], None)).error == "NONE"
    group = c.describe_group("g")
    assert (group["state"], group["generation"], group["members"]) == ("Empty", 3, [])
    key, value = d.port.logs[0][-1]
    assert key == b"G\x00g" and value.generation == 3 and value.members == ()


def test_leave_of_an_unknown_member_reports_it_per_member() -> None:
    c, d, ids = stable_group(["a"])
    r = d.leave("x", ("nobody", None), ("", "no-such-instance"))
    assert r.member_errors == (("nobody", "UNKNOWN_MEMBER_ID"), ("", "UNKNOWN_MEMBER_ID"))
    assert state(c) == "Stable"
    assert Driver(c, "other").leave("x", ("nobody", None)).error == "UNKNOWN_MEMBER_ID"


def test_session_timeout_removes_a_silent_member_and_rebalances() -> None:
    c, d, ids = stable_group(["a", "b"])             # synced at t=6000, session 10 s
    assert d.port.now == 6_000
    for t in range(9_000, 18_000, 3_000):
        d.port.advance(c, t)
        assert d.heartbeat("a", ids["a"], 1).error == "NONE"
    d.port.advance(c, 15_999)
    assert state(c) == "Stable"
    d.port.advance(c, 16_000)
    assert state(c) == "PreparingRebalance"
    assert [m["member_id"] for m in c.describe_group("g")["members"]] == [ids["a"]]
    assert d.heartbeat("b", ids["b"], 1).error == "UNKNOWN_MEMBER_ID"
    assert d.join("a", ids["a"]).generation_id == 2


def test_rebalance_timeout_removes_a_member_that_keeps_heartbeating_but_never_rejoins() -> None:
    c, d, ids = stable_group(["a", "b"])
    start = d.port.now
    x = d.member_id_for("x")
    assert d.join("x", x) is None and d.join("a", ids["a"]) is None
    for t in range(int(start) + 3_000, int(start) + 30_000, 3_000):
        d.port.advance(c, t)
        assert d.heartbeat("b", ids["b"], 1).error == "REBALANCE_IN_PROGRESS"
    assert d.port.take("a") == []
    d.port.advance(c, start + 30_000)               # the rebalance timeout: b did not rejoin and is removed
    assert d.port.last("a").generation_id == 2 and d.port.last("x").generation_id == 2
    assert sorted(m["member_id"] for m in c.describe_group("g")["members"]) == sorted([ids["a"], x])


def test_members_that_never_sync_are_removed_after_the_rebalance_timeout() -> None:
    c, d, ids = stable_group(["a", "b"])
    d.join("a", ids["a"])
    d.join("b", ids["b"])
    d.port.take()
    d.port.advance(c, d.port.now + 5_000)
    d.heartbeat("a", ids["a"], 2)
    d.heartbeat("b", ids["b"], 2)
    d.port.advance(c, d.port.now + 25_000)           # 30 s after the join phase ended nobody synced
    assert state(c) == "Empty"


def test_heartbeat_and_sync_errors() -> None:
    c, d, ids = stable_group(["a", "b"])
    assert d.heartbeat("a", ids["a"], 7).error == "ILLEGAL_GENERATION"
    assert d.heartbeat("a", "who", 1).error == "UNKNOWN_MEMBER_ID"
    assert Driver(c, "nope").heartbeat("a", "who", 1).error == "UNKNOWN_MEMBER_ID"
    assert d.sync("a", ids["a"], 7).error == "ILLEGAL_GENERATION"
    assert d.sync("a", "who", 1).error == "UNKNOWN_MEMBER_ID"
    assert d.sync("a", ids["a"], 1, protocol_name="roundrobin").error == "INCONSISTENT_GROUP_PROTOCOL"
    assert Driver(c, "nope").sync("a", "who", 1).error == "UNKNOWN_MEMBER_ID"
    d.join("a", ids["a"])
    assert d.sync("b", ids["b"], 1).error == "REBALANCE_IN_PROGRESS"


def test_stable_sync_returns_the_current_assignment() -> None:
    c, d, ids = stable_group(["a", "b"])
    assert d.sync("b", ids["b"], 1).assignment == Assignment((TP("t", 1),))


# ---- static membership (KIP-345) ---------------------------------------------------------------------------------
def test_static_member_restart_within_the_session_timeout_causes_no_rebalance() -> None:
    c, d, ids = stable_group(["a", "b"], static=True)
    appends = d.port.appends
    r = d.join("a", instance_id="i-a")                 # a restarted: unknown member id, known instance id
    assert r.error == "NONE" and r.generation_id == 1 and r.member_id != ids["a"]
    assert r.member_id.startswith("i-a-")
    assert r.leader == r.member_id and r.skip_assignment and len(r.members) == 2   # it was the leader
    assert d.port.appends == appends + 1                # the new member id was written
    assert state(c) == "Stable" and c.describe_group("g")["generation"] == 1
    assert d.sync("a", r.member_id, 1, instance_id="i-a").assignment == Assignment((TP("t", 0),))
    assert d.heartbeat("b", ids["b"], 1, instance_id="i-b").error == "NONE"
    assert d.heartbeat("a", ids["a"], 1, instance_id="i-a").error == "FENCED_INSTANCE_ID"
    assert d.commit("a", {TP("t", 0): 1}, ids["a"], 1, instance_id="i-a").errors[TP("t", 0)] == "FENCED_INSTANCE_ID"


def test_static_follower_restart_is_not_given_the_member_list() -> None:
    c, d, ids = stable_group(["a", "b"], static=True)
    r = d.join("b", instance_id="i-b")
    assert r.error == "NONE" and r.members == () and not r.skip_assignment and r.leader == ids["a"]


def test_static_member_rejoining_during_completing_rebalance_fences_the_parked_old_member() -> None:
    c, d, ids = stable_group(["a", "b"], static=True)
    d.join("a", ids["a"], instance_id="i-a")          # leader rejoin: rebalance
    d.join("b", ids["b"], instance_id="i-b")
    d.port.take()
    assert d.sync("b", ids["b"], 2, instance_id="i-b") is None
    assert d.join("b2", instance_id="i-b") is None          # b restarted while its old incarnation waits in sync
    assert d.port.last("b").error == "FENCED_INSTANCE_ID"
    assert state(c) == "PreparingRebalance"


def test_static_members_are_not_removed_by_the_rebalance_timeout() -> None:
    c, d, ids = stable_group(["a", "b"], static=True)
    d.join("a", ids["a"], instance_id="i-a")
    start = d.port.now
    for t in range(3_000, 30_000, 3_000):          # b stays alive but never rejoins; a static member is kept
        d.port.advance(c, start + t)
        assert d.heartbeat("b", ids["b"], 1, instance_id="i-b").error == "REBALANCE_IN_PROGRESS"
    d.port.advance(c, start + 30_000)
    assert d.port.last("a").generation_id == 2
    assert len(c.describe_group("g")["members"]) == 2


def test_static_member_leave_by_instance_id() -> None:
    c, d, ids = stable_group(["a", "b"], static=True)
    r = d.leave("admin", ("", "i-b"))
    assert r.member_errors == (("", "NONE"),)
    assert [m["instance_id"] for m in c.describe_group("g")["members"]] == ["i-a"]


def test_failed_write_of_a_static_replacement_reverts_to_the_old_member() -> None:
    c, d, ids = stable_group(["a", "b"], static=True)
    d.port.auto_commit = False
    assert d.join("b", instance_id="i-b") is None
    d.port.complete_writes("NOT_LEADER_OR_FOLLOWER")
    r = d.port.last("b")
    assert (r.error, r.member_id) == ("NOT_COORDINATOR", "")
    assert d.heartbeat("b", ids["b"], 1, instance_id="i-b").error == "NONE"
    assert state(c) == "Stable"


def test_a_leader_sync_whose_write_fails_sends_everyone_back_to_rejoin() -> None:
    c = make_coordinator(port=FakePort(auto_commit=False))
    d = Driver(c)
    a = d.member_id_for("a")
    d.join("a", a)
    d.port.advance(c, 3_000)
    d.port.take()
    assert d.sync("a", a, 1, {a: [TP("t", 0)]}) is None
    d.port.complete_writes("NOT_ENOUGH_REPLICAS")
    assert d.port.last("a").error == "COORDINATOR_NOT_AVAILABLE"
    assert state(c) == "PreparingRebalance"
    assert d.join("a", a).generation_id == 2


# ---- property: random clients keep the group's invariants ------------------------------------------------------
from hypothesis import event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kafkalab.common.topic_partition import OffsetAndMetadata  # noqa: E402
from kafkalab.protocol import group as m  # noqa: E402

OPS = ("join", "join", "join", "sync", "sync", "heartbeat", "heartbeat", "leave", "crash", "advance", "advance",
       "commit", "failover", "heartbeat_all", "heartbeat_all", "sync_all", "sync_all", "rejoin_all")


class _Client:
    def __init__(self, name: str, instance_id: str | None) -> None:
        self.name, self.instance_id = name, instance_id
        self.member_id, self.generation, self.members, self.leader = "", -1, (), False
        self.parked_join = self.parked_sync = False

    def reset(self) -> None:
        self.member_id, self.generation, self.members, self.leader = "", -1, (), False


def _deliver(port: FakePort, clients: dict[str, _Client]) -> None:
    for dst, msg in port.sent:
        client = clients[dst]
        if isinstance(msg, m.JoinGroupResponse):
            client.parked_join = False
            if msg.error == "NONE":
                client.member_id, client.generation = msg.member_id, msg.generation_id
                client.members, client.leader = msg.members, msg.leader == msg.member_id
            elif msg.error == "MEMBER_ID_REQUIRED":
                client.member_id = msg.member_id
            elif msg.error in ("UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID", "ILLEGAL_GENERATION", "NOT_COORDINATOR"):
                client.reset()
        elif isinstance(msg, m.SyncGroupResponse):
            client.parked_sync = False
            if msg.error in ("UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID", "NOT_COORDINATOR"):
                client.reset()
        elif isinstance(msg, m.HeartbeatResponse) and msg.error in ("UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID"):
            client.reset()
    port.sent.clear()


def _check_invariants(c, port: FakePort, seen: dict[str, int]) -> None:
    group = c._shards[0].groups.get("g")
    if group is None:
        return
    assert group.generation_id >= seen["generation"]
    seen["generation"] = group.generation_id
    members = group.members
    assert (group.leader_id is None) == (not members)
    assert group.leader_id is None or group.leader_id in members
    assert set(group.pending_sync_members) <= set(members)
    assert {iid: mid for mid, mm in members.items() if (iid := mm.group_instance_id)} == group.static_members
    counts: dict[str, int] = {}
    for mm in members.values():
        for name in mm.protocol_names():
            counts[name] = counts.get(name, 0) + 1
    assert {k: v for k, v in group.supported_protocols.items() if v} == counts
    if group.state is S.EMPTY:
        assert not members
    if group.state is S.PREPARING_REBALANCE:
        assert "gc:join:g" in port.timers           # a rebalance always has a deadline
    if group.state is S.COMPLETING_REBALANCE:
        assert "gc:sync:g" in port.timers or not group.pending_sync_members
    if group.state is S.STABLE:
        assert group.generation_id >= seen["stable"]
        seen["stable"] = group.generation_id
        for mid, mm in members.items():
            assert isinstance(mm.assignment, Assignment)
            assert f"gc:heartbeat:g:{mid}" in port.timers
        _, record = [r for r in port.logs[0] if r[0] == b"G\x00g"][-1]
        assert record.generation == group.generation_id     # a Stable generation is committed to the log


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(1, 8_000)), min_size=30, max_size=120))
def test_random_clients_keep_the_group_invariants(steps: list[tuple[str, int, int]]) -> None:
    logs: dict[int, list] = {}
    port = FakePort(logs=logs)
    c = make_coordinator(port)
    clients = {f"c{i}": _Client(f"c{i}", f"i{i}" if i < 2 else None) for i in range(4)}
    seen = {"generation": 0, "stable": 0}
    broker = 1
    for op, who, amount in steps:
        client = clients[f"c{who}"]
        if op == "join":
            for _ in range(2 if not client.member_id and client.instance_id is None else 1):
                client.parked_join = True      # a dynamic member's first join gets a member id, then joins with it
                c.handle(client.name, m.JoinGroupRequest("g", 15_000, 20_000, client.member_id, client.instance_id,
                                                         "consumer", (("range", Subscription(("t",))),)), port.now)
                _deliver(port, clients)
        elif op == "sync" and client.generation >= 0:
            plan = tuple((jm.member_id, Assignment((TP("t", i),))) for i, jm in enumerate(client.members))
            client.parked_sync = True
            c.handle(client.name, m.SyncGroupRequest("g", client.generation, client.member_id, client.instance_id,
                                                     "consumer", "range", plan if client.leader else ()), port.now)
        elif op in ("sync_all", "rejoin_all"):     # every member syncs (leader last) or rejoins
            for other in sorted(clients.values(), key=lambda cl: cl.leader):
                if op == "rejoin_all" and other.member_id:
                    c.handle(other.name, m.JoinGroupRequest("g", 15_000, 20_000, other.member_id, other.instance_id,
                                                            "consumer", (("range", Subscription(("t",))),)), port.now)
                elif op == "sync_all" and other.generation >= 0:
                    plan = tuple((jm.member_id, Assignment((TP("t", i),))) for i, jm in enumerate(other.members))
                    c.handle(other.name, m.SyncGroupRequest("g", other.generation, other.member_id,
                                                            other.instance_id, "consumer", "range",
                                                            plan if other.leader else ()), port.now)
        elif op == "heartbeat_all":         # every member heartbeats; a told-to-rejoin member rejoins
            for other in clients.values():
                if other.member_id and other.generation >= 0:
                    c.handle(other.name, m.HeartbeatRequest("g", other.generation, other.member_id,
                                                            other.instance_id), port.now)
        elif op == "heartbeat" and client.member_id:
            c.handle(client.name, m.HeartbeatRequest("g", client.generation, client.member_id, client.instance_id),
                     port.now)
        elif op == "leave" and client.member_id and client.instance_id is None:
            c.handle(client.name, m.LeaveGroupRequest("g", (m.MemberIdentity(client.member_id),)), port.now)
            client.reset()
            client.parked_join = client.parked_sync = False     # it gave up on them (Kafka answers neither)
        elif op == "crash":
            client.reset()
            client.parked_join = client.parked_sync = False
        elif op == "advance":
            port.advance(c, port.now + amount)
        elif op == "commit" and client.member_id:
            c.handle(client.name, m.OffsetCommitRequest("g", client.generation, client.member_id, client.instance_id,
                                                        {TP("t", who): OffsetAndMetadata(amount)}), port.now)
        elif op == "failover":
            before = c._shards[0].groups.get("g")
            c.on_resign(0, broker, port.now)
            broker += 1
            old_port, port = port, FakePort(logs=logs, now_ms=port.now)
            _deliver(old_port, clients)
            c = make_coordinator(port, broker_id=broker, load=False)
            c.on_become_leader(0, broker, port.now)
            after = c._shards[0].groups.get("g")      # the group as last persisted, or none
            if after is not None:
                assert before is not None and after.generation_id <= before.generation_id
                assert after.state in (S.STABLE, S.EMPTY)
            seen["generation"] = seen["stable"] = after.generation_id if after is not None else 0
        _deliver(port, clients)
        _check_invariants(c, port, seen)
        g = c._shards[0].groups.get("g")
        event(f"state {g.state if g else None} gen>1 {bool(g and g.generation_id > 1)}")
    # with every client silent, every parked request is answered and the group empties
    port.advance(c, port.now + 400_000)
    _deliver(port, clients)
    assert not any(cl.parked_join or cl.parked_sync for cl in clients.values())
    group = c._shards[0].groups.get("g")
    assert group is None or group.state is S.EMPTY

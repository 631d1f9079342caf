"""The coordinator's writes time out after ``offsets.commit.timeout.ms`` (Kafka 4's ``CoordinatorRuntime``
``OperationTimeout``): the request is answered COORDINATOR_NOT_AVAILABLE (REQUEST_TIMED_OUT as the coordinator maps
it), nothing is reverted in the log, and what the log commits later still reaches the coordinator's state, so it
stays what a replay of the committed log gives."""
from __future__ import annotations

from typing import Any

from kafkalab.common.topic_partition import TopicPartition as TP
from kafkalab.groups.runtime import DEFAULT_WRITE_TIMEOUT_MS, write_timer
from kafkalab.protocol.group import OffsetCommitResponse
from tests.groups.fake_port import Driver, FakePort, make_coordinator


def _offsets(c: Any, group_id: str = "g") -> dict[TP, int]:
    return {tp: om.offset for tp, om in c.committed(group_id).items()}


def test_the_default_write_timeout_is_kafkas_offsets_commit_timeout_ms() -> None:
    assert DEFAULT_WRITE_TIMEOUT_MS == 5_000
    c = make_coordinator()
    assert c._runtime.write_timeout_ms == 5_000


def test_an_offset_commit_not_committed_within_5_s_answers_coordinator_not_available() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    d = Driver(c)
    assert d.commit("x", {TP("t", 0): 7}) is None                # parked until the write commits
    assert port.timers == {write_timer(0, 1): 5_000}
    port.advance(c, 4_999)
    assert port.take("x") == []
    port.advance(c, 5_000)
    assert port.take("x") == [OffsetCommitResponse({TP("t", 0): "COORDINATOR_NOT_AVAILABLE"})]
    assert _offsets(c) == {}                                      # not committed: not visible
    assert d.fetch("x", (TP("t", 0),)).offsets[TP("t", 0)].offset == -1


def test_a_timed_out_commit_that_commits_later_becomes_visible_like_a_replay_shows_it() -> None:
    logs: dict[int, list[Any]] = {}
    port = FakePort(logs=logs, auto_commit=False)
    c = make_coordinator(port)
    d = Driver(c)
    d.commit("x", {TP("t", 0): 3})
    port.complete_writes()
    assert port.take("x")[0].errors == {TP("t", 0): "NONE"}
    d.commit("x", {TP("t", 0): 7})
    port.advance(c, 5_000)
    assert port.take("x")[0].errors == {TP("t", 0): "COORDINATOR_NOT_AVAILABLE"}
    assert _offsets(c) == {TP("t", 0): 3}
    port.complete_writes()                     # the high watermark passes the record after all
    assert port.take("x") == []                # answered once
    assert _offsets(c) == {TP("t", 0): 7}
    replayed = make_coordinator(FakePort(logs=logs), broker_id=2)
    assert _offsets(replayed) == _offsets(c)


def test_a_write_committed_in_time_answers_at_once_and_cancels_its_timer() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    Driver(c).commit("x", {TP("t", 0): 7})
    port.advance(c, 4_000)
    port.complete_writes()
    assert port.take("x")[0].errors == {TP("t", 0): "NONE"}
    assert write_timer(0, 1) not in port.timers
    port.advance(c, 10_000)
    assert port.take("x") == []


def test_a_failed_append_answers_at_once_without_a_timer() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    Driver(c).commit("x", {TP("t", 0): 7})
    port.complete_writes("NOT_LEADER_OR_FOLLOWER")
    assert port.take("x")[0].errors == {TP("t", 0): "NOT_COORDINATOR"}
    assert write_timer(0, 1) not in port.timers


def test_the_timeout_follows_the_config() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port, offsets_commit_timeout_ms=1_500)
    Driver(c).commit("x", {TP("t", 0): 7})
    port.advance(c, 1_499)
    assert port.take("x") == []
    port.advance(c, 1_500)
    assert port.take("x")[0].errors == {TP("t", 0): "COORDINATOR_NOT_AVAILABLE"}


def test_resignation_before_the_timeout_answers_not_coordinator_once() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    Driver(c).commit("x", {TP("t", 0): 7})
    c.on_resign(0, 1, 1_000)
    assert port.take("x")[0].errors == {TP("t", 0): "NOT_COORDINATOR"}
    assert write_timer(0, 1) not in port.timers
    port.advance(c, 10_000)
    port.complete_writes()
    assert port.take("x") == []


def test_a_timed_out_assignment_write_fails_the_sync_and_rebalances_as_kafka_does() -> None:
    """``GroupMetadataManager.classicGroupSyncGroup``: the append future fails (TimeoutException ->
    REQUEST_TIMED_OUT -> COORDINATOR_NOT_AVAILABLE), the assignment is reset and the group prepares a rebalance."""
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    d = Driver(c)
    a = d.member_id_for("a")
    assert d.join("a", a) is None
    port.advance(c, 3_000)
    assert port.take("a")[0].generation_id == 1
    assert d.sync("a", a, 1, {a: [TP("t", 0)]}) is None         # parked until the assignment is written
    sent_at = port.now
    port.advance(c, sent_at + 4_999)
    assert port.take("a") == []
    port.advance(c, sent_at + 5_000)
    (r,) = port.take("a")
    assert r.error == "COORDINATOR_NOT_AVAILABLE"
    assert c.describe_group("g")["state"] == "PreparingRebalance"
    assert c.describe_group("g")["members"][0]["assignment"] == []


def test_a_timed_out_static_member_replacement_restores_the_old_member_id() -> None:
    """``updateStaticMemberThenRebalanceOrCompleteJoin``: on a failed (here: timed-out) write the old member id is
    put back and the joiner gets the mapped error."""
    port = FakePort()
    c = make_coordinator(port)
    d = Driver(c)
    assert d.join("a", instance_id="ia") is None
    port.advance(c, 3_000)
    old = port.take("a")[0].member_id
    d.sync("a", old, 1, {old: [TP("t", 0)]}, instance_id="ia")
    assert c.describe_group("g")["state"] == "Stable"
    port.auto_commit = False
    assert d.join("a2", instance_id="ia") is None               # a restart: new member id, written first
    sent_at = port.now
    port.advance(c, sent_at + 5_000)
    (r,) = port.take("a2")
    assert r.error == "COORDINATOR_NOT_AVAILABLE"
    assert [m["member_id"] for m in c.describe_group("g")["members"]] == [old]
    assert d.heartbeat("a", old, 1, instance_id="ia").error == "NONE"

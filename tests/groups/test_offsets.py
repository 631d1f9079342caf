"""Committed offsets: OffsetCommit validation (Kafka's ``OffsetMetadataManager``/``ClassicGroup.validateOffsetCommit``),
OffsetFetch, visibility only once committed, and survival across member changes and coordinator failover."""
from __future__ import annotations

import pytest

from kafkalab.common.topic_partition import OffsetAndMetadata
from kafkalab.common.topic_partition import TopicPartition as TP
from kafkalab.groups.offsets import OFFSET_METADATA_MAX_BYTES, OffsetStore, commit_records
from kafkalab.groups.records import (
    GroupMetadataValue,
    OffsetCommitValue,
    group_key,
    offset_key,
    parse_group_key,
    parse_offset_key,
)
from kafkalab.protocol.group import OffsetCommitRequest
from tests.groups.fake_port import Driver, FakePort, make_coordinator
from tests.groups.test_classic import stable_group

T0, T1, T2 = TP("t", 0), TP("t", 1), TP("t", 2)


# ---- records and the store ----------------------------------------------------------------------------------------
def test_keys_round_trip_and_bad_keys_say_what_was_expected() -> None:
    assert parse_offset_key(offset_key("g", TP("orders", 12))) == ("g", TP("orders", 12))
    assert parse_group_key(group_key("my-group")) == "my-group"
    with pytest.raises(ValueError, match=r"not an offset commit key: b'G\\x00g'"):
        parse_offset_key(group_key("g"))
    with pytest.raises(ValueError, match="not a group metadata key"):
        parse_group_key(b"Cxyz")


def test_values_have_a_plausible_size() -> None:
    assert OffsetCommitValue(5, metadata="abc").serialized_size() == 32 + 3
    assert GroupMetadataValue("consumer", 1, "range", "m", 0.0).serialized_size() > 0


def test_store_replays_last_value_wins_and_tombstones_delete() -> None:
    store = OffsetStore()
    store.replay(offset_key("g", T0), OffsetCommitValue(1))
    store.replay(offset_key("g", T0), OffsetCommitValue(7, 3, "m"))
    store.replay(offset_key("g", T1), OffsetCommitValue(2))
    store.replay(offset_key("g", T1), None)
    assert store.committed("g") == {T0: OffsetAndMetadata(7, 3, "m")}
    assert store.fetch("g", (T0, T2)) == {T0: OffsetAndMetadata(7, 3, "m"), T2: OffsetAndMetadata(-1, -1, "")}
    store.replay(offset_key("g", T0), None)
    assert not store.has_offsets("g") and store.group_ids() == []


def test_commit_records_reject_too_long_metadata_per_partition() -> None:
    records, errors = commit_records("g", {T0: OffsetAndMetadata(1, metadata="x" * (OFFSET_METADATA_MAX_BYTES + 1)),
                                           T1: OffsetAndMetadata(2)}, 5.0)
    assert errors == {T0: "OFFSET_METADATA_TOO_LARGE", T1: "NONE"}
    assert records == [(offset_key("g", T1), OffsetCommitValue(2, -1, "", 5.0))]


def test_expired_offsets_count_from_the_commit_or_from_when_the_group_emptied() -> None:
    store = OffsetStore()
    store.replay(offset_key("g", T0), OffsetCommitValue(1, commit_timestamp_ms=0))
    store.replay(offset_key("g", T1), OffsetCommitValue(1, commit_timestamp_ms=500))
    assert store.expired("g", 1_000, 600, None) == [offset_key("g", T0)]
    assert store.expired("g", 1_000, 600, 900.0) == []


# ---- commits without group management -----------------------------------------------------------------------------
def test_a_consumer_without_group_management_commits_and_fetches() -> None:
    c = make_coordinator()
    d = Driver(c)
    assert d.commit("x", {T0: 10, T1: 20}).errors == {T0: "NONE", T1: "NONE"}
    assert c.describe_group("g")["state"] == "Empty"              # a "simple" group now holds the offsets
    assert d.fetch("x", (T0, T2)).offsets == {T0: OffsetAndMetadata(10), T2: OffsetAndMetadata(-1, -1, "")}
    assert d.fetch("x", None).offsets == {T0: OffsetAndMetadata(10), T1: OffsetAndMetadata(20)}
    assert Driver(c, "nobody").fetch("x", (T0,)).offsets == {T0: OffsetAndMetadata(-1, -1, "")}
    assert Driver(c, "nobody").fetch("x", None).offsets == {}


def test_a_commit_is_visible_only_once_written_and_a_failed_one_never() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    d = Driver(c)
    assert d.commit("x", {T0: 10}) is None
    assert d.fetch("y", (T0,)).offsets[T0].offset == -1
    port.complete_writes()
    assert port.last("x").errors == {T0: "NONE"}
    assert d.fetch("y", (T0,)).offsets[T0].offset == 10
    d.commit("x", {T0: 11})
    port.complete_writes("REQUEST_TIMED_OUT")
    assert port.last("x").errors == {T0: "COORDINATOR_NOT_AVAILABLE"}
    assert c.committed("g") == {T0: OffsetAndMetadata(10)}


def test_a_commit_with_only_too_long_metadata_writes_nothing() -> None:
    c = make_coordinator()
    d = Driver(c)
    c.handle("x", OffsetCommitRequest("g", -1, "", None, {T0: OffsetAndMetadata(1, metadata="x" * 5000)}), 0)
    assert c.port.last("x").errors == {T0: "OFFSET_METADATA_TOO_LARGE"}
    assert c.port.appends == 0 and d.fetch("x", (T0,)).offsets[T0].offset == -1


def test_invalid_group_id() -> None:
    assert Driver(make_coordinator(), "").commit("x", {T0: 1}).errors == {T0: "INVALID_GROUP_ID"}


# ---- commits of group members -------------------------------------------------------------------------------------
def test_commit_validation_for_a_classic_group() -> None:
    c, d, ids = stable_group(["a", "b"])
    a = ids["a"]
    assert d.commit("a", {T0: 5}, a, 1).errors == {T0: "NONE"}
    assert d.commit("a", {T0: 5}, a, 2).errors == {T0: "ILLEGAL_GENERATION"}
    assert d.commit("a", {T0: 5}, "ghost", 1).errors == {T0: "UNKNOWN_MEMBER_ID"}
    assert d.commit("a", {T0: 5}, "", -1).errors == {T0: "UNKNOWN_MEMBER_ID"}        # the group is not empty
    assert d.commit("a", {T0: 5}, a, 1, instance_id="i-a").errors == {T0: "UNKNOWN_MEMBER_ID"}
    assert Driver(c, "other").commit("a", {T0: 5}, a, 3).errors == {T0: "GROUP_ID_NOT_FOUND"}
    d.join("a", a)                                        # PreparingRebalance: commits of generation 1 still count
    assert d.commit("b", {T1: 6}, ids["b"], 1).errors == {T1: "NONE"}
    d.join("b", ids["b"])
    d.port.take()
    assert d.commit("a", {T0: 7}, a, 2).errors == {T0: "REBALANCE_IN_PROGRESS"}     # CompletingRebalance
    assert c.committed("g") == {T0: OffsetAndMetadata(5), T1: OffsetAndMetadata(6)}


def test_a_commit_keeps_a_members_session_alive() -> None:
    c, d, ids = stable_group(["a"])
    start = d.port.now
    for t in range(5_000, 30_000, 5_000):                 # no heartbeats, only commits
        d.port.advance(c, start + t)
        assert d.commit("a", {T0: t}, ids["a"], 1).errors == {T0: "NONE"}
    assert c.describe_group("g")["state"] == "Stable"


def test_offsets_survive_member_changes_and_an_empty_group() -> None:
    c, d, ids = stable_group(["a", "b"])
    d.commit("a", {T0: 100}, ids["a"], 1)
    d.commit("b", {T1: 200}, ids["b"], 1)
    d.leave("b", (ids["b"], None))
    d.join("a", ids["a"])
    d.sync("a", ids["a"], 2, {ids["a"]: [T0, T1]})
    assert d.fetch("a", (T0, T1)).offsets == {T0: OffsetAndMetadata(100), T1: OffsetAndMetadata(200)}
    d.leave("a", (ids["a"], None))
    assert c.describe_group("g")["state"] == "Empty"
    assert d.commit("admin", {T1: 250}).errors == {T1: "NONE"}        # an empty group takes simple commits
    assert c.committed("g") == {T0: OffsetAndMetadata(100), T1: OffsetAndMetadata(250)}


def test_offsets_survive_coordinator_failover() -> None:
    logs: dict[int, list] = {}
    c1, d1, ids = stable_group(["a"], port=FakePort(logs=logs))
    d1.commit("a", {T0: 1}, ids["a"], 1)
    d1.commit("a", {T0: 2, T1: 3}, ids["a"], 1)
    Driver(c1, "simple").commit("s", {T2: 9})
    c1.on_resign(0, 1, d1.port.now)
    c2 = make_coordinator(FakePort(logs=logs), broker_id=2)
    assert c2.committed("g") == {T0: OffsetAndMetadata(2), T1: OffsetAndMetadata(3)}
    assert c2.committed("simple") == {T2: OffsetAndMetadata(9)}
    assert c2.describe_group("simple")["state"] == "Empty"
    assert Driver(c2).commit("a", {T0: 4}, ids["a"], 1).errors == {T0: "NONE"}     # the member is still known


# ---- expiration (offsets.retention.minutes) ----------------------------------------------------------------------
def test_offsets_of_a_group_without_members_expire_after_the_retention_and_the_group_goes() -> None:
    c = make_coordinator(offsets_retention_minutes=1, offsets_retention_check_interval_ms=10_000)
    d = Driver(c)
    assert not [t for t in c.port.timers if t.startswith("gc:expire")]      # an idle partition has no timer
    d.commit("x", {T0: 1})
    c.port.advance(c, 30_000)
    d.commit("x", {T1: 2})
    c.port.advance(c, 60_000)                    # T0 committed at 0 expires at the check at 60 s; T1 not yet
    assert c.committed("g") == {T1: OffsetAndMetadata(2)}
    c.port.advance(c, 90_000)
    assert c.committed("g") == {} and c.describe_group("g") is None
    assert (b"G\x00g", None) in c.port.logs[0]
    assert not [t for t in c.port.timers if t.startswith("gc:expire")]
    c2 = make_coordinator(FakePort(logs=c.port.logs), broker_id=2)          # and stays gone after a failover
    assert c2.committed("g") == {} and c2.group_ids() == []


def test_offsets_of_an_emptied_group_expire_counted_from_when_it_emptied() -> None:
    c, d, ids = stable_group(["a"], offsets_retention_minutes=1, offsets_retention_check_interval_ms=10_000)
    d.commit("a", {T0: 5}, ids["a"], 1)
    start = d.port.now
    for t in range(5_000, 100_000, 5_000):
        d.port.advance(c, start + t)
        assert d.heartbeat("a", ids["a"], 1).error == "NONE"
    assert c.committed("g") == {T0: OffsetAndMetadata(5)}        # not expired while the group has members
    emptied_at = d.port.now
    d.leave("a", (ids["a"], None))
    d.port.advance(c, emptied_at + 59_000)
    assert c.committed("g") == {T0: OffsetAndMetadata(5)}
    d.port.advance(c, emptied_at + 70_000)
    assert c.committed("g") == {}

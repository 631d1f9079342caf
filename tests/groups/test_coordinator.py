"""The coordinator runtime: which groups it owns, loading (COORDINATOR_LOAD_IN_PROGRESS), resignation, failover by
replaying ``__consumer_offsets``, write-error mapping, and the routing to the KIP-848 manager."""
from __future__ import annotations

from typing import Any

import pytest

from kafkalab.common.topic_partition import OffsetAndMetadata
from kafkalab.common.topic_partition import TopicPartition as TP
from kafkalab.groups.coordinator import LOAD_BYTES_PER_MS, WRITE_ERRORS, GroupCoordinator, map_write_error
from kafkalab.groups.records import OffsetCommitValue, offset_key
from kafkalab.protocol import group as m
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse
from tests.groups.fake_port import Driver, FakePort, make_coordinator
from tests.groups.test_classic import stable_group


def test_not_coordinator_for_a_group_of_a_partition_led_elsewhere() -> None:
    c = make_coordinator(offsets_topic_num_partitions=2, load=False)
    c.on_become_leader(0, 1, 0)                   # "b" is on partition 0, "g" on partition 1
    assert c.owns("b") and not c.owns("g")
    assert Driver(c, "g").join("x").error == "NOT_COORDINATOR"
    assert Driver(c, "g").heartbeat("x", "m", 1).error == "NOT_COORDINATOR"
    assert Driver(c, "g").commit("x", {TP("t", 0): 1}).errors == {TP("t", 0): "NOT_COORDINATOR"}
    assert Driver(c, "g").fetch("x", None).error == "NOT_COORDINATOR"
    assert Driver(c, "b").join("x").error == "MEMBER_ID_REQUIRED"


def test_requests_wait_out_the_load_with_coordinator_load_in_progress() -> None:
    logs = {0: [(offset_key("g", TP("t", p)), OffsetCommitValue(p * 10, metadata="x" * 1000)) for p in range(100)]}
    port = FakePort(logs=logs)
    c = make_coordinator(port, load=False)
    c.on_become_leader(0, 1, 0)
    load_ms = port.timers["gc:load:0"]
    assert load_ms == pytest.approx(sum(len(k) + v.serialized_size() for k, v in logs[0]) / LOAD_BYTES_PER_MS)
    d = Driver(c)
    assert d.fetch("x", None).error == "COORDINATOR_LOAD_IN_PROGRESS"
    assert d.join("x").error == "COORDINATOR_LOAD_IN_PROGRESS"
    assert not c.owns("g") and c.describe_group("g") is None and c.committed("g") == {}
    port.advance(c, load_ms)
    assert c.owns("g")
    assert d.fetch("x", (TP("t", 7),)).offsets == {TP("t", 7): OffsetAndMetadata(70, -1, "x" * 1000)}
    assert c.describe_group("g")["state"] == "Empty"          # offsets alone make a "simple" group
    assert c.group_ids() == ["g"]


def test_resignation_answers_parked_requests_and_pending_writes_with_not_coordinator() -> None:
    c, d, ids = stable_group(["a", "b"])
    d.port.auto_commit = False
    assert d.commit("b", {TP("t", 1): 5}, ids["b"], 1) is None          # the write is in flight
    assert d.join("a", ids["a"]) is None                                # parked in PreparingRebalance
    c.on_resign(0, 1, d.port.now)
    assert d.port.last("a") == m.JoinGroupResponse(error="NOT_COORDINATOR", member_id=ids["a"])
    assert d.port.last("b").errors == {TP("t", 1): "NOT_COORDINATOR"}
    assert d.heartbeat("b", ids["b"], 1).error == "NOT_COORDINATOR"
    d.port.complete_writes()                        # a late append callback changes nothing
    assert d.port.take() == [] and c.committed("g") == {} and c.describe_group("g") is None
    assert not [n for n in d.port.timers if n.startswith("gc:")]


def test_resignation_answers_each_parked_request_once() -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    d = Driver(c)
    a, b = d.member_id_for("a"), d.member_id_for("b")
    d.join("a", a)
    d.join("b", b)
    port.advance(c, 6_000)
    d.port.take()
    assert d.sync("b", b, 1) is None                       # parked until the leader's assignment
    assert d.commit("a", {TP("t", 0): 5}, a, 1).errors[TP("t", 0)] == "REBALANCE_IN_PROGRESS"
    assert d.sync("a", a, 1, {a: [TP("t", 0)], b: [TP("t", 1)]}) is None     # its write is in flight
    c.on_resign(0, 1, port.now)
    assert [r.error for r in port.take("a")] == ["NOT_COORDINATOR"]
    assert [r.error for r in port.take("b")] == ["NOT_COORDINATOR"]
    port.complete_writes()                                 # the write did commit after all: nobody is told twice
    assert port.take() == []


def test_failover_mid_rebalance_brings_back_the_last_stable_generation_and_offsets() -> None:
    logs: dict[int, list[Any]] = {}
    port1 = FakePort(logs=logs)
    c1, d1, ids = stable_group(["a", "b"], port=port1)
    assert d1.commit("a", {TP("t", 0): 42}, ids["a"], 1).errors == {TP("t", 0): "NONE"}
    x = d1.member_id_for("x")
    assert d1.join("x", x) is None and d1.join("a", ids["a"]) is None        # a rebalance is under way
    c1.on_resign(0, 1, port1.now)
    assert port1.last("a").error == "NOT_COORDINATOR" and port1.last("x").error == "NOT_COORDINATOR"

    port2 = FakePort(logs=logs, now_ms=port1.now + 1_000)
    c2 = make_coordinator(port2, broker_id=2, load=False)
    c2.on_become_leader(0, 2, port2.now)
    port2.advance(c2, port2.timers.get("gc:load:0", port2.now))
    group = c2.describe_group("g")
    assert (group["state"], group["generation"], group["leader"]) == ("Stable", 1, ids["a"])
    assert {mm["member_id"]: mm["assignment"] for mm in group["members"]} == {ids["a"]: [TP("t", 0)],
                                                                               ids["b"]: [TP("t", 1)]}
    assert c2.committed("g") == {TP("t", 0): OffsetAndMetadata(42)}
    d2 = Driver(c2)
    assert d2.heartbeat("x", x, 1).error == "UNKNOWN_MEMBER_ID"
    # sessions restarted at load time: a member that never comes back is removed a session later
    loaded_at = port2.now
    port2.advance(c2, loaded_at + 5_000)
    assert d2.heartbeat("b", ids["b"], 1).error == "NONE"
    port2.advance(c2, loaded_at + 10_000)
    assert [mm["member_id"] for mm in c2.describe_group("g")["members"]] == [ids["b"]]


def test_failover_while_the_leaders_assignment_is_being_written() -> None:
    logs: dict[int, list[Any]] = {}
    port1 = FakePort(logs=logs, auto_commit=False)
    c1 = make_coordinator(port1)
    d1 = Driver(c1)
    a = d1.member_id_for("a")
    d1.join("a", a)
    port1.advance(c1, 3_000)
    d1.port.take()
    d1.sync("a", a, 1, {a: [TP("t", 0)]})
    c1.on_resign(0, 1, port1.now)
    port1.complete_writes("NOT_LEADER_OR_FOLLOWER")
    c2 = make_coordinator(FakePort(logs=logs), broker_id=2)
    assert c2.describe_group("g") is None                 # generation 1 was never committed
    assert Driver(c2).heartbeat("a", a, 1).error == "UNKNOWN_MEMBER_ID"


@pytest.mark.parametrize("append_error", sorted(WRITE_ERRORS) + ["UNKNOWN_SERVER_ERROR"])
def test_write_errors_are_mapped_like_kafkas_coordinator(append_error: str) -> None:
    port = FakePort(auto_commit=False)
    c = make_coordinator(port)
    Driver(c).commit("x", {TP("t", 0): 1})
    port.complete_writes(append_error)
    (r,) = port.take("x")
    assert r.errors == {TP("t", 0): map_write_error(append_error)}
    assert c.committed("g") == {}


def test_write_error_mapping_table() -> None:
    assert map_write_error("NOT_ENOUGH_REPLICAS") == "COORDINATOR_NOT_AVAILABLE"
    assert map_write_error("NOT_ENOUGH_REPLICAS_AFTER_APPEND") == "COORDINATOR_NOT_AVAILABLE"
    assert map_write_error("REQUEST_TIMED_OUT") == "COORDINATOR_NOT_AVAILABLE"
    assert map_write_error("NOT_LEADER_OR_FOLLOWER") == "NOT_COORDINATOR"
    assert map_write_error("MESSAGE_TOO_LARGE") == "UNKNOWN_SERVER_ERROR"
    assert map_write_error("NONE") == "NONE"


def test_a_stale_resign_or_a_repeated_election_changes_nothing() -> None:
    c, d, ids = stable_group(["a"])
    c.on_become_leader(0, 1, d.port.now)        # same epoch: already loaded
    c.on_resign(0, 0, d.port.now)               # an older epoch
    assert c.describe_group("g")["state"] == "Stable"
    c.on_become_leader(0, 5, d.port.now)        # a newer epoch reloads from the log
    assert c.describe_group("g") is None
    d.port.advance(c, d.port.timers["gc:load:0"])
    assert c.describe_group("g")["state"] == "Stable" and c.describe_group("g")["generation"] == 1


def test_member_ids_are_deterministic_and_differ_between_coordinators() -> None:
    ids1 = [Driver(make_coordinator()).member_id_for("a") for _ in range(2)]
    ids2 = Driver(make_coordinator(broker_id=2)).member_id_for("a")
    assert ids1[0] == ids1[1] != ids2


def test_unknown_request_type_is_refused() -> None:
    c = make_coordinator()
    with pytest.raises(TypeError, match="does not handle FindCoordinatorRequest"):
        c.handle("x", m.FindCoordinatorRequest("g"), 0)


# ---- the KIP-848 manager ------------------------------------------------------------------------------------------
class FakeConsumerGroups:
    def __init__(self, port: Any, config: Any) -> None:
        self.port, self.calls, self.groups = port, [], set()

    def heartbeat(self, partition, req, now_ms, respond) -> None:
        self.calls.append(("heartbeat", partition, req.group_id))
        self.groups.add(req.group_id)
        respond(ConsumerGroupHeartbeatResponse(error="NONE", member_id="cm", member_epoch=1))

    def replay(self, partition, key, value) -> bool:
        self.calls.append(("replay", partition, key))
        self.groups.add(key.decode().split(":")[1])
        return True

    def unload(self, partition) -> None:
        self.calls.append(("unload", partition))

    def on_loaded(self, partition, now_ms) -> None:
        self.calls.append(("loaded", partition))

    def on_timer(self, name, now_ms) -> None:
        self.calls.append(("timer", name))

    def on_metadata(self, topics, now_ms) -> None:
        self.calls.append(("metadata", dict(topics)))

    def has_group(self, group_id) -> bool:
        return group_id in self.groups

    def validate_offset_commit(self, group_id, member_id, member_epoch) -> str:
        return "NONE" if member_epoch == 1 else "STALE_MEMBER_EPOCH"

    def validate_offset_fetch(self, group_id, member_id, member_epoch) -> str:
        return "NONE" if member_epoch in (-1, 1) else "STALE_MEMBER_EPOCH"

    def describe_group(self, group_id):
        return {"group_id": group_id, "protocol": "consumer"}

    def group_ids(self):
        return sorted(self.groups)


def _with_fake_manager(**kw: Any) -> tuple[GroupCoordinator, FakeConsumerGroups]:
    c = make_coordinator(consumer_manager_factory=FakeConsumerGroups, **kw)
    return c, c.consumer_groups


def _cg_heartbeat(c: GroupCoordinator, group_id: str = "cg", epoch: int = 0) -> Any:
    c.handle("x", ConsumerGroupHeartbeatRequest(group_id, "", epoch, correlation_id=9), c.port.now)
    return c.port.last("x")


def test_consumer_group_heartbeats_timers_metadata_and_records_go_to_the_manager() -> None:
    logs = {0: [(b"C:cg:epoch", b"1"), (offset_key("cg", TP("t", 0)), OffsetCommitValue(3))]}
    c, fake = _with_fake_manager(port=FakePort(logs=logs))
    assert ("replay", 0, b"C:cg:epoch") in fake.calls
    assert c.group_ids() == ["cg"]                         # no simple classic group shadows the consumer group
    r = _cg_heartbeat(c)
    assert (r.error, r.correlation_id) == ("NONE", 9) and ("heartbeat", 0, "cg") in fake.calls
    c.on_timer("cg:session:cg:m", 5)
    c.on_metadata({"t": 3}, 6)
    assert ("timer", "cg:session:cg:m") in fake.calls and ("metadata", {"t": 3}) in fake.calls
    assert c.describe_group("cg") == {"group_id": "cg", "protocol": "consumer"}
    c.on_resign(0, 1, 7)
    assert fake.calls[-1] == ("unload", 0)


def test_offsets_of_a_consumer_group_are_validated_by_the_manager() -> None:
    c, fake = _with_fake_manager()
    _cg_heartbeat(c)
    d = Driver(c, "cg")
    assert d.commit("x", {TP("t", 0): 1}, "cm", 1).errors == {TP("t", 0): "NONE"}
    assert d.commit("x", {TP("t", 0): 2}, "cm", 0).errors == {TP("t", 0): "STALE_MEMBER_EPOCH"}
    c.handle("x", m.OffsetFetchRequest("cg", None, "cm", 4), 0)
    assert c.port.last("x").error == "STALE_MEMBER_EPOCH"
    assert d.fetch("x", None).offsets == {TP("t", 0): OffsetAndMetadata(1)}


def test_a_group_id_is_either_classic_or_consumer() -> None:
    c, fake = _with_fake_manager()
    _cg_heartbeat(c, "cg")
    r = Driver(c, "cg").join("x")
    assert r.error == "INCONSISTENT_GROUP_PROTOCOL"
    d = Driver(c, "classic")
    d.join("a", d.member_id_for("a"))
    r = _cg_heartbeat(c, "classic")
    assert (r.error, r.error_message) == ("GROUP_ID_NOT_FOUND", "Group classic is not a consumer group.")


def test_an_empty_classic_group_gives_way_to_a_consumer_group() -> None:
    c, fake = _with_fake_manager()
    Driver(c, "g").commit("x", {TP("t", 0): 1})           # a simple (empty) classic group
    assert c.describe_group("g")["protocol"] == "classic"
    assert _cg_heartbeat(c, "g").error == "NONE"
    assert ("heartbeat", 0, "g") in fake.calls
    assert c.port.logs[0][-1] == (b"G\x00g", None)        # the classic group's tombstone
    assert c.describe_group("g")["protocol"] == "consumer"
    assert c.committed("g") == {TP("t", 0): OffsetAndMetadata(1)}


def test_consumer_protocol_disabled_answers_unsupported_version() -> None:
    c = make_coordinator(group_coordinator_rebalance_protocols="classic",
                         consumer_manager_factory=FakeConsumerGroups)
    assert c.consumer_groups is None
    assert _cg_heartbeat(c).error == "UNSUPPORTED_VERSION"


def test_the_real_consumer_group_manager_is_used_by_default() -> None:
    from kafkalab.config import resolve

    port = FakePort(topics={"t": 2})
    c = GroupCoordinator(1, port, resolve("broker", {"offsets.topic.num.partitions": 1}))
    c.on_become_leader(0, 1, 0)
    assert type(c.consumer_groups).__name__ == "ConsumerGroupManager"
    c.handle("x", ConsumerGroupHeartbeatRequest("cg", "", 0, rebalance_timeout_ms=30_000,
                                                  subscribed_topic_names=("t",), topic_partitions=()), 0)
    r = port.last("x")
    assert r.error == "NONE" and r.member_epoch >= 1
    assert c.describe_group("cg")["protocol"] == "consumer" and c.group_ids() == ["cg"]


_TRACE_SCRIPT = """
import hashlib, random
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition as TP
from kafkalab.protocol import group as m
from tests.groups.fake_port import FakePort, make_coordinator
port = FakePort()
c = make_coordinator(port)
rng = random.Random(7)
ids, gens, trace = {}, {}, []
sub = (("range", m.Subscription(("t",))),)
for step in range(400):
    who = f"c{rng.randrange(4)}"
    iid = who if who < "c2" else None
    op = rng.choice(["join", "sync", "hb", "advance", "commit"])
    mid, gen = ids.get(who, ""), gens.get(who, -1)
    if op == "join":
        c.handle(who, m.JoinGroupRequest("g", 10_000, 20_000, mid, iid, "consumer", sub), port.now)
    elif op == "sync" and mid:
        c.handle(who, m.SyncGroupRequest("g", gen, mid, iid, "consumer", "range",
                                         ((mid, m.Assignment((TP("t", 0),))),)), port.now)
    elif op == "hb" and mid:
        c.handle(who, m.HeartbeatRequest("g", gen, mid, iid), port.now)
    elif op == "advance":
        port.advance(c, port.now + rng.randrange(10_000))
    elif op == "commit" and mid:
        c.handle(who, m.OffsetCommitRequest("g", gen, mid, iid, {TP("t", 0): OffsetAndMetadata(step)}), port.now)
    for dst, msg in port.sent:
        if isinstance(msg, m.JoinGroupResponse) and msg.member_id:
            ids[dst], gens[dst] = msg.member_id, msg.generation_id
    trace.append(repr(port.sent))
    port.sent.clear()
print(hashlib.sha256("".join(trace).encode()).hexdigest())
print(c.describe_group("g"), c.committed("g"))
"""


def test_same_requests_same_answers_under_any_hash_seed() -> None:
    import os
    import subprocess
    import sys

    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _TRACE_SCRIPT], capture_output=True, text=True, env=env,
                             cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))), check=True)
        outputs.add(out.stdout)
    assert len(outputs) == 1

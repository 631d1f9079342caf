"""OffsetDelete and DeleteGroups in the group coordinator (Kafka's ``deleteOffsets``/``deleteGroups``): who may
delete what, the errors, the tombstones written to ``__consumer_offsets``, and that a coordinator rebuilt from the log
agrees. The admin client's calls over a real cluster close the file."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.clients.admin import GroupAdminClient
from kafkalab.common.topic_partition import OffsetAndMetadata
from kafkalab.common.topic_partition import TopicPartition as TP
from kafkalab.groups.records import OffsetCommitValue, group_key, offset_key
from kafkalab.protocol.group_admin import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    OffsetDeleteRequest,
    OffsetDeleteResponse,
)
from tests.groups.fake_port import Driver, FakePort, make_coordinator
from tests.groups.test_classic import stable_group


def _delete_offsets(d: Driver, *tps: TP, group: str = "g") -> OffsetDeleteResponse:
    return d._send("admin", OffsetDeleteRequest(group, tps))      # type: ignore[no-any-return]


def _delete_groups(d: Driver, *groups: str) -> DeleteGroupsResponse:
    return d._send("admin", DeleteGroupsRequest(groups))          # type: ignore[no-any-return]


def test_offset_delete_refuses_subscribed_topics_of_a_live_consumer_group_and_tombstones_the_rest() -> None:
    c, d, ids = stable_group(["a", "b"])                 # members subscribe to topic "t"
    d.commit("a", {TP("t", 0): 4}, ids["a"], 1)
    d.commit("a", {TP("old", 0): 9, TP("old", 1): 3}, ids["a"], 1)
    r = _delete_offsets(d, TP("t", 0), TP("old", 0), TP("gone", 0))
    assert r == OffsetDeleteResponse("NONE", {TP("t", 0): "GROUP_SUBSCRIBED_TO_TOPIC", TP("old", 0): "NONE",
                                              TP("gone", 0): "NONE"})
    assert d.port.logs[0][-1] == (offset_key("g", TP("old", 0)), None)      # one tombstone: "gone" had no commit
    assert c.committed("g") == {TP("old", 1): OffsetAndMetadata(3), TP("t", 0): OffsetAndMetadata(4)}
    assert c.describe_group("g")["state"] == "Stable"                   # the group itself is untouched


def test_offset_delete_errors_of_the_group() -> None:
    c, d, _ids = stable_group(["a"])
    assert _delete_offsets(d, TP("t", 0), group="nope").error == "GROUP_ID_NOT_FOUND"
    assert _delete_offsets(d, TP("t", 0), group="") == OffsetDeleteResponse("INVALID_GROUP_ID")
    w = Driver(c, "workers")                             # a live group of another protocol type (Connect's)
    member = w.member_id_for("w1", protocol_type="connect")
    w.join("w1", member, protocol_type="connect")
    d.port.advance(c, d.port.now + 3_000)
    assert c.describe_group("workers")["state"] == "CompletingRebalance"
    assert _delete_offsets(d, TP("t", 0), group="workers") == OffsetDeleteResponse("NON_EMPTY_GROUP")
    elsewhere = make_coordinator(offsets_topic_num_partitions=2, load=False)
    elsewhere.on_become_leader(0, 1, 0)                  # "g" lives on partition 1
    assert _delete_offsets(Driver(elsewhere), TP("t", 0)) == OffsetDeleteResponse("NOT_COORDINATOR")


def test_offset_delete_of_an_empty_group_deletes_even_formerly_subscribed_topics() -> None:
    c, d, ids = stable_group(["a"])
    d.commit("a", {TP("t", 0): 4}, ids["a"], 1)
    d.leave("a", (ids["a"], None))
    assert c.describe_group("g")["state"] == "Empty"
    assert _delete_offsets(d, TP("t", 0)).errors == {TP("t", 0): "NONE"}
    assert c.committed("g") == {}


def test_delete_groups_answers_per_group_and_forgets_deleted_ones_also_after_a_failover() -> None:
    port = FakePort()
    c = make_coordinator(port)
    d = Driver(c, "simple")
    d.commit("x", {TP("t", 0): 7, TP("t", 1): 8})        # a group without members ("simple"): Empty
    s = Driver(c, "live")
    member = s.member_id_for("m")
    s.join("m", member)                                  # PreparingRebalance: not empty
    r = _delete_groups(d, "simple", "live", "nope", "")
    assert r == DeleteGroupsResponse({"simple": "NONE", "live": "NON_EMPTY_GROUP", "nope": "GROUP_ID_NOT_FOUND",
                                      "": "INVALID_GROUP_ID"})
    assert list(r.results) == ["simple", "live", "nope", ""]                 # the request's order
    assert port.logs[0][-3:] == [(offset_key("simple", TP("t", 0)), None), (offset_key("simple", TP("t", 1)), None),
                                 (group_key("simple"), None)]
    assert c.describe_group("simple") is None and c.committed("simple") == {}
    assert _delete_groups(d, "simple").results == {"simple": "GROUP_ID_NOT_FOUND"}     # already gone
    rebuilt = make_coordinator(FakePort(logs=port.logs))                    # a new leader replays the log
    assert rebuilt.describe_group("simple") is None and rebuilt.committed("simple") == {}
    assert "simple" not in rebuilt.group_ids()


def test_a_failed_tombstone_write_answers_the_mapped_error_and_deletes_nothing() -> None:
    port = FakePort()
    c = make_coordinator(port)
    d = Driver(c, "simple")
    d.commit("x", {TP("t", 0): 7})
    port.auto_commit = False
    assert _delete_groups(d, "simple") is None          # waits for the write
    port.complete_writes("NOT_LEADER_OR_FOLLOWER")
    assert port.take("admin") == [DeleteGroupsResponse({"simple": "NOT_COORDINATOR"})]
    assert c.committed("simple") == {TP("t", 0): OffsetAndMetadata(7)}
    assert _delete_offsets(d, TP("t", 0), group="simple") is None
    port.complete_writes("NOT_ENOUGH_REPLICAS")
    assert port.take("admin")[0].error == "COORDINATOR_NOT_AVAILABLE"      # mapped as Kafka maps write errors
    assert c.committed("simple") == {TP("t", 0): OffsetAndMetadata(7)}


def test_not_coordinator_and_loading_per_group() -> None:
    port = FakePort(logs={0: [(offset_key("b", TP("t", 0)), OffsetCommitValue(1))]})
    c = make_coordinator(port, offsets_topic_num_partitions=2, load=False)
    c.on_become_leader(0, 1, 0)                           # "b" on partition 0 (loading), "g" on partition 1
    assert _delete_groups(Driver(c), "g", "b").results == {"g": "NOT_COORDINATOR",
                                                           "b": "COORDINATOR_LOAD_IN_PROGRESS"}


def test_the_admin_client_over_a_real_cluster() -> None:
    cluster = kl.Cluster(brokers=3, seed=3)
    cluster.create_topic("t", partitions=2)
    producer = cluster.producer()
    for i in range(10):
        producer.send("t", value=b"v", partition=i % 2)
    producer.flush()
    consumer = cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["t"])
    seen = 0
    while seen < 10:
        seen += len(consumer.poll(500))
    consumer.commit()
    admin = GroupAdminClient(cluster, cluster.brokers, drive=cluster.run_until)
    assert admin.list_consumer_group_offsets("g") == {TP("t", 0): OffsetAndMetadata(5), TP("t", 1): OffsetAndMetadata(5)}
    with pytest.raises(kl.errors.GroupSubscribedToTopicError):
        admin.delete_consumer_group_offsets("g", [TP("t", 0)])
    with pytest.raises(kl.errors.NonEmptyGroupError):
        admin.delete_consumer_groups(["g"])
    with pytest.raises(kl.errors.UnknownMemberIdError):
        admin.alter_consumer_group_offsets("g", {TP("t", 0): OffsetAndMetadata(1)})
    consumer.close()
    assert admin.delete_consumer_group_offsets("g", [TP("t", 0)]) == {TP("t", 0): "NONE"}
    assert admin.alter_consumer_group_offsets("g", {TP("t", 1): OffsetAndMetadata(2)}) == {TP("t", 1): "NONE"}
    assert admin.list_consumer_group_offsets("g") == {TP("t", 1): OffsetAndMetadata(2)}
    assert admin.delete_consumer_groups(["g"]) == {"g": "NONE"}
    assert admin.list_consumer_group_offsets("g") == {}
    with pytest.raises(kl.errors.GroupIdNotFoundError):
        admin.delete_consumer_groups(["g"])
    with pytest.raises(kl.errors.GroupIdNotFoundError):
        admin.delete_consumer_group_offsets("nope", [TP("t", 0)])


def test_a_kip848_group_refuses_offset_delete_for_its_subscribed_topics_and_is_deleted_once_empty() -> None:
    cluster = kl.Cluster(brokers=3, seed=4)
    cluster.create_topic("t", partitions=1)
    cluster.create_topic("u", partitions=1)
    consumer = cluster.consumer({"group.id": "n", "group.protocol": "consumer", "auto.offset.reset": "earliest"})
    consumer.subscribe(["t"])
    assert cluster.run_until(lambda: bool(consumer.poll(0)) or bool(consumer.assignment()), 30_000)
    consumer.commit({TP("t", 0): OffsetAndMetadata(0), TP("u", 0): OffsetAndMetadata(0)})
    admin = GroupAdminClient(cluster, cluster.brokers, drive=cluster.run_until)
    with pytest.raises(kl.errors.GroupSubscribedToTopicError):
        admin.delete_consumer_group_offsets("n", [TP("t", 0)])
    assert admin.delete_consumer_group_offsets("n", [TP("u", 0)]) == {TP("u", 0): "NONE"}
    with pytest.raises(kl.errors.NonEmptyGroupError):
        admin.delete_consumer_groups(["n"])
    consumer.close()
    assert cluster.run_until(lambda: cluster.describe_group("n")["state"] == "Empty", 30_000)
    assert admin.delete_consumer_groups(["n"]) == {"n": "NONE"}
    with pytest.raises(kl.errors.GroupIdNotFoundError):
        cluster.describe_group("n")
    assert admin.list_consumer_group_offsets("n") == {}
    # a new coordinator rebuilt from __consumer_offsets does not bring the group back
    from kafkalab.groups.hashing import partition_for
    leader = cluster.leader_for("__consumer_offsets", partition_for("n"))
    cluster.crash(leader)
    assert cluster.run_until(lambda: cluster.leader_for("__consumer_offsets", partition_for("n")) not in (None, leader),
                             30_000)
    cluster.run(2_000)
    with pytest.raises(kl.errors.GroupIdNotFoundError):
        cluster.describe_group("n")
    with pytest.raises(kl.errors.GroupIdNotFoundError):
        admin.delete_consumer_groups(["n"])


def test_a_call_that_cannot_reach_any_broker_times_out() -> None:
    cluster = kl.Cluster(brokers=1, seed=2)
    admin = GroupAdminClient(cluster, cluster.brokers, drive=cluster.run_until)
    cluster.crash(cluster.brokers[0])
    with pytest.raises(kl.errors.KafkaTimeoutError, match="REQUEST_TIMED_OUT"):
        admin.list_consumer_group_offsets("g", timeout_ms=2_000)
    with pytest.raises(ValueError, match="at least one broker"):
        kl.clients.admin.GroupAdminCore(None, [])


def test_bad_arguments_are_refused_at_the_call() -> None:
    cluster = kl.Cluster(brokers=1, seed=2)
    admin = GroupAdminClient(cluster, cluster.brokers, drive=cluster.run_until)
    with pytest.raises(TypeError, match="group_id must be a str, got int 7"):
        admin.list_consumer_group_offsets(7)                                   # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"group_ids must be a list of group ids, not a str; did you mean \['g'\]"):
        admin.delete_consumer_groups("g")
    with pytest.raises(TypeError, match="partitions must be a list of TopicPartition, got a single TopicPartition"):
        admin.delete_consumer_group_offsets("g", TP("t", 0))                   # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"partitions must hold TopicPartition values, got tuple \('t', 0\)"):
        admin.delete_consumer_group_offsets("g", [("t", 0)])                   # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"offsets\[t-0\] must be an OffsetAndMetadata, got int 5 "
                                        r"\(write OffsetAndMetadata\(5\)\)"):
        admin.alter_consumer_group_offsets("g", {TP("t", 0): 5})              # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"offsets\[t-0\]: offset must be >= 0, got -1"):
        admin.alter_consumer_group_offsets("g", {TP("t", 0): OffsetAndMetadata(-1)})
    with pytest.raises(TypeError, match="offsets must be a dict of TopicPartition -> OffsetAndMetadata, got list"):
        admin.alter_consumer_group_offsets("g", [])                            # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_ms"):
        admin.list_consumer_group_offsets("g", timeout_ms=-1)

"""Stories about topics: create (placement spread, leadership spread, one proposal), errors, delete, partitions,
configs."""
from collections import Counter

import pytest

from kafkalab.errors import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    error_for_name,
)
from kafkalab.metadata.records import PartitionRecord
from kafkalab.protocol import admin as cm
from kafkalab.protocol.controller import AllocateProducerIdsRequest
from tests.controller.harness import BROKERS, ControlPlane


@pytest.fixture
def cp() -> ControlPlane:
    plane = ControlPlane(seed=7)
    plane.boot()
    return plane


def test_create_topic_spreads_replicas_and_leadership(cp: ControlPlane) -> None:
    result = cp.create_topic("orders", partitions=6, replication_factor=3)
    assert result.error == "NONE" and result.num_partitions == 6 and result.replication_factor == 3
    image = cp.image()
    parts = image.topics["orders"].partitions
    assert sorted(parts) == list(range(6))
    for part in parts.values():
        assert sorted(part.replicas) == list(BROKERS)
        assert part.isr == part.replicas and part.leader == part.replicas[0]
        assert (part.leader_epoch, part.partition_epoch) == (0, 0)
    assert Counter(p.leader for p in parts.values()) == {0: 2, 1: 2, 2: 2}
    # The brokers learn it from the metadata log.
    assert cp.run_until(lambda: all(cp.broker(b).image.topics.keys() == {"orders"} for b in BROKERS), 2_000)
    assert all(cp.broker(b).image.topics["orders"].partitions == parts for b in BROKERS)


def test_a_topic_is_created_in_one_proposal(cp: ControlPlane) -> None:
    cp.create_topic("wide", partitions=50, replication_factor=2)
    log = cp.active().replica.node.log
    batches = [b for b in log.read(0) if any(isinstance(r.value, PartitionRecord) for r in b.records)]
    assert len(batches) == 1 and len(batches[0].records) == 1 + 50      # TopicRecord + 50 PartitionRecords


def test_replication_factor_larger_than_the_cluster_is_rejected(cp: ControlPlane) -> None:
    result = cp.create_topic("big", partitions=1, replication_factor=4)
    assert result.error == "INVALID_REPLICATION_FACTOR"
    assert result.error_message == ("Unable to replicate the partition 4 time(s): The target replication factor of 4 "
                                    "cannot be reached because only 3 broker(s) are registered.")
    assert error_for_name(result.error) is InvalidReplicationFactorError
    assert "big" not in cp.image().topics


def test_creating_an_existing_topic_fails(cp: ControlPlane) -> None:
    assert cp.create_topic("t").error == "NONE"
    again = cp.create_topic("t")
    assert (again.error, again.error_message) == ("TOPIC_ALREADY_EXISTS", "Topic 't' already exists.")
    assert error_for_name(again.error) is TopicAlreadyExistsError


def test_bad_config_key_and_value_are_invalid_config(cp: ControlPlane) -> None:
    bad_key = cp.create_topic("t", configs={"retention.msx": "1"})
    assert bad_key.error == "INVALID_CONFIG" and "retention.msx" in (bad_key.error_message or "")
    assert error_for_name(bad_key.error) is InvalidConfigError
    bad_value = cp.create_topic("t", configs={"min.insync.replicas": "zero"})
    assert bad_value.error == "INVALID_CONFIG" and "min.insync.replicas" in (bad_value.error_message or "")
    assert "t" not in cp.image().topics


def test_invalid_partitions_and_names(cp: ControlPlane) -> None:
    zero = cp.create_topic("t", partitions=0)
    assert zero.error == "INVALID_PARTITIONS" and error_for_name(zero.error) is InvalidPartitionsError
    assert cp.create_topic("bad name!").error == "INVALID_TOPIC_EXCEPTION"
    rf0 = cp.create_topic("t", replication_factor=0)
    assert rf0.error == "INVALID_REPLICATION_FACTOR"


def test_validate_only_writes_nothing(cp: ControlPlane) -> None:
    resp = cp.request(cm.CreateTopicsRequest((cm.CreatableTopic("t", 3, 3),), validate_only=True))
    assert resp.topics[0].error == "NONE"
    assert "t" not in cp.image().topics


def test_manual_assignment_and_defaults(cp: ControlPlane) -> None:
    resp = cp.request(cm.CreateTopicsRequest((cm.CreatableTopic("m", assignments=((2, 0), (1, 2))),
                                              cm.CreatableTopic("d"))))
    assert [t.error for t in resp.topics] == ["NONE", "NONE"]
    assert cp.partition("m", 0).replicas == (2, 0) and cp.partition("m", 0).leader == 2
    # num.partitions=1, default.replication.factor=1
    assert len(cp.image().topics["d"].partitions) == 1 and len(cp.partition("d").replicas) == 1
    unknown = cp.request(cm.CreateTopicsRequest((cm.CreatableTopic("x", assignments=((7,),)),)))
    assert unknown.topics[0].error == "INVALID_REPLICA_ASSIGNMENT"


def test_delete_topic(cp: ControlPlane) -> None:
    cp.create_topic("gone", partitions=3)
    resp = cp.request(cm.DeleteTopicsRequest(("gone", "never")))
    assert [(r.name, r.error) for r in resp.responses] == [("gone", "NONE"), ("never", "UNKNOWN_TOPIC_OR_PARTITION")]
    assert error_for_name(resp.responses[1].error) is UnknownTopicOrPartitionError
    assert "gone" not in cp.image().topics
    assert cp.run_until(lambda: all("gone" not in cp.broker(b).image.topics for b in BROKERS), 2_000)
    assert any("gone" in c.removed_topics for c in cp.broker(0).changes)


def test_create_partitions(cp: ControlPlane) -> None:
    cp.create_topic("grow", partitions=2, replication_factor=2)
    resp = cp.request(cm.CreatePartitionsRequest((cm.CreatePartitionsTopic("grow", 5),
                                                  cm.CreatePartitionsTopic("grow2", 5))))
    assert [r.error for r in resp.results] == ["NONE", "UNKNOWN_TOPIC_OR_PARTITION"]
    parts = cp.image().topics["grow"].partitions
    assert sorted(parts) == [0, 1, 2, 3, 4] and all(len(p.replicas) == 2 for p in parts.values())
    shrink = cp.request(cm.CreatePartitionsRequest((cm.CreatePartitionsTopic("grow", 3),)))
    assert shrink.results[0].error == "INVALID_PARTITIONS"


def test_incremental_alter_configs(cp: ControlPlane) -> None:
    cp.create_topic("c")
    ok = cp.request(cm.IncrementalAlterConfigsRequest((cm.AlterConfigsResource(
        "topic", "c", (cm.AlterConfigOp("retention.ms", "SET", "1000"),)),)))
    assert ok.responses[0].error == "NONE"
    assert cp.image().topic_config("c") == {"retention.ms": "1000"}
    bad = cp.request(cm.IncrementalAlterConfigsRequest((cm.AlterConfigsResource(
        "topic", "c", (cm.AlterConfigOp("retention.mss", "SET", "1"),)),
        cm.AlterConfigsResource("topic", "nope", (cm.AlterConfigOp("retention.ms", "SET", "1"),)))))
    assert [r.error for r in bad.responses] == ["INVALID_CONFIG", "UNKNOWN_TOPIC_OR_PARTITION"]
    deleted = cp.request(cm.IncrementalAlterConfigsRequest((cm.AlterConfigsResource(
        "topic", "c", (cm.AlterConfigOp("retention.ms", "DELETE"),)),)))
    assert deleted.responses[0].error == "NONE" and cp.image().topic_config("c") == {}


def test_producer_id_blocks(cp: ControlPlane) -> None:
    epoch = cp.image().brokers[1].broker_epoch
    first = cp.request(AllocateProducerIdsRequest(1, epoch))
    second = cp.request(AllocateProducerIdsRequest(1, epoch))
    assert (first.producer_id_start, first.producer_id_len) == (0, 1000)
    assert second.producer_id_start == 1000
    stale = cp.request(AllocateProducerIdsRequest(1, epoch - 1))
    assert stale.error == "STALE_BROKER_EPOCH"

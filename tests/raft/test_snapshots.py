"""KRaft snapshots and the log before them (KIP-630; Kafka's KafkaRaftClient.createSnapshot and
KafkaMetadataLog.maybeClean): a snapshot is written by the state machine's owner, and the log start moves only when
retention says the oldest snapshot may go, never past the latest one. The invariant checker is on throughout (the log
starts exactly where the oldest snapshot ends)."""
import pytest

import kafkalab as kl
from kafkalab.raft import RaftCluster
from kafkalab.raft.config import RaftConfig
from tests.raft.test_scenarios import commit_all, elect


def snapshot_now(rc, node):
    n = rc.node(node)
    return n.create_snapshot(n.applied_offset, n.committed, rc.now)


def test_create_snapshot_names_it_by_end_offset_and_epoch_and_keeps_the_log():
    rc = RaftCluster(voters=3, seed=11)
    leader = elect(rc)
    commit_all(rc, [b"a", b"b"])
    node = rc.node(leader)
    snapshot_id = snapshot_now(rc, leader)
    assert snapshot_id == (node.high_watermark, node.epoch)
    assert node.snapshots == {} and node.latest_snapshot_id() == snapshot_id      # written, not yet durable
    rc.run(5)
    assert list(node.snapshots) == [snapshot_id] and node.snapshot.values == (b"a", b"b")
    assert node.log.log_start_offset == 0                                         # 100 MiB retention: kept
    assert snapshot_now(rc, leader) is None                                       # that snapshot exists


def test_create_snapshot_refuses_uncommitted_state_and_wrong_types():
    rc = RaftCluster(voters=3, seed=12)
    leader = elect(rc)
    commit_all(rc, [b"a"])
    node = rc.node(leader)
    hw = node.high_watermark
    with pytest.raises(ValueError, match=f"node {leader}: cannot create a snapshot with end offset {hw + 1} "
                                         f"greater than the high watermark {hw}"):
        node.create_snapshot(hw + 1, [], rc.now)
    with pytest.raises(TypeError, match="end_offset must be an int, got str '3'"):
        node.create_snapshot("3", [], rc.now)
    with pytest.raises(TypeError, match="values must be a sequence of state-machine values, got bytes"):
        node.create_snapshot(hw, b"abc", rc.now)
    assert node.create_snapshot(0, [], rc.now) is None                # (0, 0) is Kafka's bootstrap checkpoint


def test_retention_bytes_delete_the_oldest_snapshot_and_the_log_before_the_next_but_never_the_latest():
    rc = RaftCluster(voters=3, seed=13, config={"metadata.max.retention.bytes": 0})
    leader = elect(rc)
    commit_all(rc, [b"a", b"b"])
    first = snapshot_now(rc, leader)
    rc.run(61_000)                                       # the cleaner ran: one snapshot only, nothing to delete
    node = rc.node(leader)
    assert node.log.log_start_offset == 0 and list(node.snapshots) == [first]
    commit_all(rc, [b"c"])
    second = snapshot_now(rc, leader)
    rc.run(61_000)
    assert list(node.snapshots) == [second]
    assert node.log.log_start_offset == second[0]
    assert rc.committed(leader) == [b"a", b"b", b"c"]


def test_retention_ms_ages_snapshots_by_their_last_contained_record():
    rc = RaftCluster(voters=3, seed=14, config={"metadata.max.retention.ms": 100_000})
    leader = elect(rc)
    commit_all(rc, [b"a"])
    snapshot_now(rc, leader)
    commit_all(rc, [b"b"])
    second = snapshot_now(rc, leader)
    node = rc.node(leader)
    rc.run(90_000)
    assert len(node.snapshots) == 2 and node.log.log_start_offset == 0       # not old enough yet
    rc.run(80_000)
    assert list(node.snapshots) == [second] and node.log.log_start_offset == second[0]


def test_negative_retention_keeps_everything():
    rc = RaftCluster(voters=3, seed=15, config={"metadata.max.retention.bytes": -1, "metadata.max.retention.ms": -1})
    leader = elect(rc)
    for value in (b"a", b"b", b"c"):
        commit_all(rc, [value])
        snapshot_now(rc, leader)
    rc.run(120_000)
    assert len(rc.node(leader).snapshots) == 3 and rc.node(leader).log.log_start_offset == 0


def test_a_follower_behind_the_leaders_log_start_installs_the_latest_snapshot():
    rc = RaftCluster(voters=3, seed=16, config={"metadata.max.retention.bytes": 0})
    leader = elect(rc)
    lagger = next(n for n in rc.voters if n != leader)
    rc.crash(lagger)
    for value in (b"a", b"b", b"c"):
        commit_all(rc, [value])
        for n in rc.voters:
            if n != lagger:
                snapshot_now(rc, n)
    rc.run(61_000)
    assert rc.node(leader).log.log_start_offset > 0
    rc.restart(lagger)
    assert rc.run_until(lambda: rc.committed(lagger) == [b"a", b"b", b"c"], 10_000)
    node = rc.node(lagger)
    assert node.log.log_start_offset == rc.node(leader).snapshot.end_offset == node.snapshot.end_offset


def test_raft_config_retention_settings_are_checked():
    assert RaftConfig.from_config({"metadata.max.retention.bytes": 5}).metadata_max_retention_bytes == 5
    with pytest.raises(kl.errors.ConfigError, match=r"RaftConfig.metadata_max_retention_ms must be a number "
                                                     r"\(negative = unlimited\), got 'x'"):
        RaftConfig(metadata_max_retention_ms="x")
    with pytest.raises(kl.errors.ConfigError, match="RaftConfig.log_clean_interval_ms must be a number > 0, got 0"):
        RaftConfig(log_clean_interval_ms=0)

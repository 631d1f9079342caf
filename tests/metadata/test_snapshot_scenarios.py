"""Metadata snapshots in a running cluster (KIP-630): when each node snapshots, how the log start moves, and how a
new broker, a broker whose disk is gone and a restarted controller catch up from a snapshot.

Small thresholds stand in for Kafka's 20 MiB / 1 h so a story fits in a few virtual minutes."""
import kafkalab as kl
from kafkalab.metadata.image import MetadataImage
from kafkalab.sim.disk import Disk

SMALL = {"metadata.log.max.record.bytes.between.snapshots": 2_000, "metadata.max.retention.bytes": 4_000}


def raft_of(cluster: kl.Cluster, node: int):
    controller = cluster.controller(node) if node in cluster.controllers else None
    if controller is not None:
        return controller.raft
    return cluster.broker(node).metadata.replica.node


def image_of(cluster: kl.Cluster, node: int) -> MetadataImage:
    if node in cluster.controllers:
        return cluster.controller(node).image
    return cluster.broker(node).metadata.image


def caught_up(cluster: kl.Cluster, nodes) -> bool:
    """Every node's image equals the active controller's (same offset, same content)."""
    reference = cluster.image()
    return all(image_of(cluster, n) == reference for n in nodes)


def test_with_kafkas_defaults_nothing_is_snapshotted_in_a_short_run():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=1)
    cluster.create_topic("orders", partitions=3, replication_factor=3)
    cluster.run(60_000)
    log = cluster.describe_metadata_log()
    assert list(log.columns) == ["node", "process", "alive", "raft_role", "log_start_offset", "log_end_offset",
                                 "high_watermark", "log_size_bytes", "snapshot_count", "latest_snapshot_id",
                                 "snapshot_bytes", "snapshots_generated", "image_offset"]
    assert list(log["process"]) == ["controller"] * 3 + ["broker"] * 3
    assert (log["snapshot_count"] == 0).all() and (log["log_start_offset"] == 0).all()
    assert log["latest_snapshot_id"].isna().all()


def test_every_node_snapshots_its_image_after_enough_bytes_and_the_log_start_follows_retention():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=2, config=SMALL)
    for i in range(4):
        cluster.create_topic(f"t{i}", partitions=3, replication_factor=3)
    cluster.run(130_000)
    log = cluster.describe_metadata_log().set_index("node")
    nodes = cluster.controllers + cluster.brokers
    assert (log["snapshots_generated"] > 5).all()        # every node, active, standby and broker, wrote its own
    assert (log["snapshot_count"] >= 1).all()
    # the cleaner ran (every 60 s): log plus snapshots over 4,000 bytes, so the start moved to the oldest snapshot
    for n in nodes:
        raft = raft_of(cluster, n)
        assert raft.log.log_start_offset > 0
        assert raft.log.log_start_offset == raft.earliest_snapshot.end_offset
        snap = raft.snapshot
        # a snapshot is the image written as records: replaying it gives that node's image as of its end offset
        assert MetadataImage.from_records(snap.values, snap.end_offset - 1).topics.keys() == {"t0", "t1", "t2", "t3"}
    metric = cluster.metrics("metadata.snapshot_generated")
    assert set(metric["node"]) == set(nodes)
    assert set(metric["reason"]) == {"we have replayed at least 2000 bytes"}
    assert cluster.run_until(lambda: caught_up(cluster, nodes), 5_000)


def test_the_interval_trigger_snapshots_only_after_the_interval_and_zero_switches_it_off():
    config = {"metadata.log.max.snapshot.interval.ms": 10_000}
    cluster = kl.Cluster(brokers=1, controllers=1, seed=3, config=config)
    cluster.run(9_900 - cluster.now)                 # the processes started at 0
    assert cluster.metrics("metadata.snapshot_generated").empty
    cluster.run(32_000 - cluster.now)
    metric = cluster.metrics("metadata.snapshot_generated")
    times = metric[metric["node"] == 1000]["time_ms"].tolist()
    # checked when new records commit (a NoOp every 500 ms): the first delta after each 10 s
    assert len(times) == 3 and 10_000 <= times[0] < 10_600
    assert all(10_000 <= b - a < 10_600 for a, b in zip(times, times[1:], strict=False))
    assert set(metric["reason"]) == {"we have waited at least 10000 ms"}
    off = kl.Cluster(brokers=1, controllers=1, seed=3, config={"metadata.log.max.snapshot.interval.ms": 0})
    off.run(30_000)
    assert off.metrics("metadata.snapshot_generated").empty


def test_without_retention_pressure_the_log_is_kept_whole_beside_its_snapshots():
    config = {"metadata.log.max.record.bytes.between.snapshots": 2_000}      # 100 MiB retention: nothing deleted
    cluster = kl.Cluster(brokers=1, controllers=3, seed=4, config=config)
    cluster.run(180_000)
    log = cluster.describe_metadata_log()
    assert (log["log_start_offset"] == 0).all()
    assert (log["snapshot_count"] > 3).all()


def test_a_broker_added_after_the_log_start_moved_bootstraps_from_a_snapshot():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=5, config=SMALL)
    cluster.create_topic("orders", partitions=3, replication_factor=3)
    cluster.alter_topic_config("orders", {"retention.ms": 60_000})
    cluster.run(130_000)
    leader = raft_of(cluster, cluster.active_controller)
    assert leader.log.log_start_offset > 0
    cluster.add_node(4, cluster._broker_factory(4))
    cluster.brokers.append(4)
    assert cluster.run_until(lambda: 4 in cluster.image().unfenced_brokers(), 30_000)
    newcomer = raft_of(cluster, 4)
    assert newcomer.log.log_start_offset > 0                      # it never read the log before the snapshot
    assert newcomer.log.log_start_offset == newcomer.earliest_snapshot.end_offset
    assert cluster.run_until(lambda: caught_up(cluster, [4]), 5_000)
    image = image_of(cluster, 4)
    assert image.topic_config("orders") == {"retention.ms": "60000"}
    assert set(image.brokers) == {1, 2, 3, 4}


def test_an_empty_broker_fetches_the_latest_snapshot_even_when_the_whole_log_is_still_there():
    config = {"metadata.log.max.record.bytes.between.snapshots": 2_000}
    cluster = kl.Cluster(brokers=2, controllers=3, seed=6, config=config)
    cluster.create_topic("orders", partitions=2, replication_factor=2)
    cluster.run(60_000)
    assert raft_of(cluster, cluster.active_controller).log.log_start_offset == 0
    # the broker's disk is replaced (a wiped disk after a power loss): it starts from nothing
    cluster.crash(2, lose_unflushed=True)
    cluster.disks[2] = Disk(cluster.kernel, 2)
    cluster.restart(2)
    epoch = cluster.image().brokers[2].broker_epoch
    assert cluster.run_until(lambda: cluster.image().brokers[2].broker_epoch > epoch
                             and 2 in cluster.image().unfenced_brokers() and caught_up(cluster, [2]), 30_000)
    fresh = raft_of(cluster, 2)
    assert fresh.log.log_start_offset > 0                         # Kafka: fetch offset 0 + a snapshot -> snapshot
    assert fresh.log.log_start_offset == fresh.earliest_snapshot.end_offset


def test_a_restarted_controller_loads_its_latest_snapshot_and_replays_only_the_log_after_it():
    config = {"metadata.log.max.record.bytes.between.snapshots": 2_000}
    cluster = kl.Cluster(brokers=3, controllers=3, seed=7, config=config)
    cluster.create_topic("orders", partitions=6, replication_factor=3)
    cluster.run(60_000)
    standby = next(c for c in cluster.controllers if c != cluster.active_controller)
    before = raft_of(cluster, standby)
    snapshot_id = before.snapshot.snapshot_id
    log_records = before.log.log_end_offset
    cluster.crash(standby, lose_unflushed=True)
    cluster.restart(standby)
    restarted = cluster.controller(standby)
    assert restarted.raft.snapshot.snapshot_id >= snapshot_id           # the durable snapshot survived power loss
    assert cluster.run_until(lambda: caught_up(cluster, [standby]), 10_000)
    # the image came from the snapshot (one record per broker, topic, partition, feature) plus the tail of the log
    assert restarted.image.records_applied < log_records / 2
    assert restarted.raft.log.log_start_offset == 0                  # nothing was deleted (100 MiB retention)


def test_the_new_active_controller_after_a_failover_writes_on_top_of_a_snapshot_loaded_image():
    cluster = kl.Cluster(brokers=3, controllers=3, seed=8, config=SMALL)
    cluster.create_topic("a", partitions=2, replication_factor=3)
    cluster.run(130_000)
    for c in cluster.controllers:
        cluster.crash(c)
    for c in cluster.controllers:
        cluster.restart(c)
    assert cluster.run_until(lambda: cluster.active_controller is not None, 30_000)
    cluster.create_topic("b", partitions=2, replication_factor=3)
    nodes = cluster.controllers + cluster.brokers
    assert cluster.run_until(lambda: caught_up(cluster, nodes), 10_000)
    assert set(cluster.image().topics) >= {"a", "b"}

"""A run that takes metadata snapshots, deletes the log before them and bootstraps a wiped broker from one is a
function of (code, config, seed), in this process and under other PYTHONHASHSEEDs."""

import kafkalab as kl
from kafkalab.sim import Tracer
from kafkalab.sim.disk import Disk
from tests.hashseeds import outputs_under_hash_seeds

SMALL = {"metadata.log.max.record.bytes.between.snapshots": 2_000, "metadata.max.retention.bytes": 4_000,
         "metadata.log.max.snapshot.interval.ms": 20_000}


def snapshot_digest(seed: int) -> str:
    cluster = kl.Cluster(brokers=3, controllers=3, seed=seed, config=SMALL)
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=3, replication_factor=3)
    cluster.run(70_000)
    cluster.crash(3, lose_unflushed=True)
    cluster.disks[3] = Disk(cluster.kernel, 3)
    cluster.restart(3)
    cluster.crash(cluster.active_controller, lose_unflushed=True)
    cluster.run(70_000)
    for c in cluster.controllers:
        if not cluster.is_alive(c):
            cluster.restart(c)
    cluster.run(10_000)
    log = cluster.describe_metadata_log()
    summary = [tuple(row) for row in log[["node", "log_start_offset", "snapshot_count", "latest_snapshot_id",
                                           "snapshots_generated", "image_offset"]].itertuples(index=False)]
    return f"{tracer.digest()} {tracer.count} {summary}"


def test_same_seed_same_trace_and_different_seeds_differ():
    first = snapshot_digest(3)
    assert first == snapshot_digest(3)
    assert first != snapshot_digest(4)


def test_same_trace_in_other_processes_under_other_hash_seeds():
    code = "import tests.metadata.test_snapshot_determinism as t; print(t.snapshot_digest(3))"
    outputs = outputs_under_hash_seeds(code, ("0", "777"))
    assert outputs[0] == outputs[1] == snapshot_digest(3)

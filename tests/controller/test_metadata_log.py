"""Stories about the metadata log itself: NoOp records when idle, a new active controller rebuilt from the log,
a restarted controller replaying its disk, and determinism (same seed, same log)."""
import hashlib
from typing import Any

from kafkalab.common.records import Record
from kafkalab.controller.server import ControllerServer
from kafkalab.log.partition_log import PartitionLog
from kafkalab.metadata.records import NoOpRecord
from tests.controller.harness import BROKERS, CONTROLLERS, ControlPlane
from tests.hashseeds import outputs_under_hash_seeds


def records(server: ControllerServer) -> list[tuple[int, Any]]:
    """(offset, record) of every data record in the controller's log."""
    log = server.replica.node.log
    out: list[tuple[int, Any]] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        for batch in log.read(offset):
            if not batch.is_control:
                out.extend(zip(batch.offsets(), (r.value for r in batch.records), strict=True))
            offset = batch.next_offset
    return out


def test_an_idle_active_controller_writes_a_noop_every_500_ms() -> None:
    cp = ControlPlane(seed=31)
    cp.boot()
    before = sum(isinstance(r, NoOpRecord) for _, r in records(cp.active()))
    cp.run(10_000)
    after = sum(isinstance(r, NoOpRecord) for _, r in records(cp.active()))
    assert 18 <= after - before <= 21
    # and the brokers follow the log end closely
    end = cp.active().replica.next_offset - 1
    assert all(end - cp.broker(b).metadata.metadata_offset <= 2 for b in BROKERS)


def test_a_new_active_controller_rebuilt_from_the_log_has_the_same_image() -> None:
    cp = ControlPlane(seed=32)
    cp.boot()
    cp.create_topic("a", 4, 3)
    cp.create_topic("b", 2, 2, configs={"retention.ms": "5000"})
    cp.crash(1)
    assert cp.run_until(lambda: cp.image().brokers[1].fenced, 20_000)
    old = cp.active_controller()
    assert old is not None
    image_before = cp.image().copy()
    cp.crash(old)
    assert cp.run_until(lambda: cp.active_controller() not in (None, old), 10_000)
    new_image = cp.image()
    # The same brokers, topics, partitions and configs; only the offset moved (the new leader's own records).
    assert new_image.brokers == image_before.brokers
    assert {n: t.partitions for n, t in new_image.topics.items()} == \
        {n: t.partitions for n, t in image_before.topics.items()}
    assert new_image.configs == image_before.configs
    # A restarted controller replays its log from disk into a fresh image and converges.
    cp.restart(old)
    assert cp.run_until(lambda: cp.controller(old).image == cp.image(), 10_000)


def metadata_log(seed: int) -> list[tuple[int, Any]]:
    cp = ControlPlane(seed=seed)
    cp.boot()
    cp.create_topic("t", 12, 3)
    cp.crash(2)
    cp.run(12_000)
    cp.restart(2)
    cp.run(5_000)
    active = cp.active_controller()
    assert active in CONTROLLERS
    return [(o, r) for o, r in records(cp.controller(active)) if not isinstance(r, NoOpRecord)]


def test_same_seed_same_metadata_log() -> None:
    first = metadata_log(5)
    assert first == metadata_log(5)
    assert first != metadata_log(6)


def log_digest(seed: int) -> str:
    return hashlib.sha256(repr(metadata_log(seed)).encode()).hexdigest()


def test_same_metadata_log_under_any_pythonhashseed() -> None:
    code = "from tests.controller.test_metadata_log import log_digest; print(log_digest(9))"
    outputs = outputs_under_hash_seeds(code, ("1", "2"))
    assert outputs[0] == outputs[1] == log_digest(9)


def test_a_brokers_metadata_fsyncs_leave_its_partition_logs_unflushed() -> None:
    cp = ControlPlane(seed=33)
    cp.boot()
    data = PartitionLog(name="t-0")
    cp.world.disks[0].attach_log("t-0", data)
    data.append_as_leader([Record(None, b"x")], 0, cp.now)
    metadata = cp.broker(0).metadata.replica.node.log
    cp.run(5_000)                    # ten NoOps fetched and fsynced by the broker's metadata observer
    assert metadata.flushed_offset == metadata.log_end_offset
    assert data.flushed_offset == 0 and data.log_end_offset == 1

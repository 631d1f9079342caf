"""The disk model: page cache, fsync latency, process crash versus power loss, OS writeback."""
import pytest

from kafkalab.sim import Disk, Kernel, Owner


class ListLog:
    """A minimal log with a flushed offset (the PartitionLog contract the disk relies on)."""

    def __init__(self):
        self.items = []
        self.flushed_offset = 0

    @property
    def log_end_offset(self):
        return len(self.items)

    def flush(self, up_to_offset=None):
        self.flushed_offset = max(self.flushed_offset, min(up_to_offset or len(self.items), len(self.items)))

    def drop_unflushed(self):
        del self.items[self.flushed_offset:]


def test_writes_are_readable_at_once_but_volatile_until_fsync_completes():
    k = Kernel()
    disk = Disk(k, "n1", fsync_latency_ms=2.0, writeback_interval_ms=None)
    disk.write("quorum-state", ("epoch", 3))
    assert disk.read("quorum-state") == ("epoch", 3)
    assert disk.durable("quorum-state") is None
    done = []
    disk.fsync(lambda: done.append(k.now))
    disk.write("quorum-state", ("epoch", 4))   # written after the fsync started: not covered by it
    k.run(5)
    assert done == [2.0]
    assert disk.durable("quorum-state") == ("epoch", 3)
    disk.power_loss()
    assert disk.read("quorum-state") == ("epoch", 3)


def test_process_crash_keeps_the_page_cache():
    k = Kernel()
    disk = Disk(k, "n1", writeback_interval_ms=None)
    disk.write("a", b"1")
    disk.process_crash()
    assert disk.read("a") == b"1"


def test_power_loss_drops_unflushed_log_suffix_and_unflushed_values():
    k = Kernel()
    disk = Disk(k, "n1", fsync_latency_ms=0.0, writeback_interval_ms=None)
    log = ListLog()
    disk.attach_log("meta-0", log)
    log.items += ["a", "b"]
    disk.fsync_now()
    log.items += ["c"]
    disk.write("vote", 2)
    disk.power_loss()
    assert log.items == ["a", "b"] and disk.read("vote") is None and disk.power_losses == 1


def test_crash_before_fsync_completion_cancels_callback_and_durability():
    k = Kernel()
    owner = Owner("n1")
    disk = Disk(k, "n1", fsync_latency_ms=5.0, writeback_interval_ms=None)
    disk.owner = owner
    disk.write("vote", 1)
    done = []
    disk.fsync(lambda: done.append(True))
    k.run(1)
    k.kill(owner)            # the process died while its fsync was in flight
    k.run(10)
    assert done == []
    disk.power_loss()
    assert disk.read("vote") is None


def test_os_writeback_flushes_dirty_data_after_the_interval():
    k = Kernel()
    disk = Disk(k, "n1", writeback_interval_ms=30_000.0)
    log = ListLog()
    disk.attach_log("p-0", log)
    log.items.append("x")
    disk.write("k", "v")
    k.run(29_999)
    assert disk.durable("k") is None and log.flushed_offset == 0
    k.run(1)
    assert disk.durable("k") == "v" and log.flushed_offset == 1
    assert k.pending() == 0   # idle disk schedules nothing more


def test_deleted_value_is_deleted_durably_only_after_fsync():
    k = Kernel()
    disk = Disk(k, "n", writeback_interval_ms=None)
    disk.write("k", 1)
    disk.fsync_now()
    disk.delete("k")
    assert disk.read("k") is None
    disk.power_loss()
    assert disk.read("k") == 1
    disk.delete("k")
    disk.fsync_now()
    disk.power_loss()
    assert disk.read("k") is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(fsync_latency_ms=-1), "fsync_latency_ms must be >= 0, got -1"),
    (dict(writeback_interval_ms=0), "writeback_interval_ms must be > 0 or None, got 0"),
])
def test_bad_disk_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Disk(Kernel(), "n", **kwargs)


def test_power_loss_truncates_a_real_partition_log_to_its_flushed_offset():
    from kafkalab.log import PartitionLog, Record

    k = Kernel()
    disk = Disk(k, "b1", fsync_latency_ms=0.5, writeback_interval_ms=None)
    log = PartitionLog(name="t-0")
    disk.attach_log("t-0", log)
    log.append_as_leader([Record(key=b"k", value=b"v1", timestamp_ms=0)], leader_epoch=0)
    disk.fsync()
    k.run(1)
    log.append_as_leader([Record(key=b"k", value=b"v2", timestamp_ms=1)], leader_epoch=0)
    assert (log.flushed_offset, log.log_end_offset) == (1, 2)
    disk.process_crash()
    assert log.log_end_offset == 2          # kill -9 keeps the page cache
    disk.power_loss()
    assert log.log_end_offset == 1          # the unflushed batch is gone
    assert [r.value for b in log.read(0) for r in b.records] == [b"v1"]


def test_fsync_of_named_files_leaves_the_others_volatile():
    k = Kernel()
    disk = Disk(k, "b1", fsync_latency_ms=1.0, writeback_interval_ms=None)
    meta, data = ListLog(), ListLog()
    disk.attach_log("__cluster_metadata-0", meta)
    disk.attach_log("t-0", data)
    meta.items.append("noop")
    data.items.append("record")
    disk.write("quorum-state", 3)
    disk.fsync(files=("__cluster_metadata-0",))
    k.run(2)
    assert meta.flushed_offset == 1 and data.flushed_offset == 0 and disk.durable("quorum-state") is None
    disk.power_loss()
    assert meta.items == ["noop"] and data.items == []

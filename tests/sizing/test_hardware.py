"""The hardware model on the faithful path: a shared NIC binds, thread pools and the disk queue, presets and errors."""
import pytest

import kafkalab as kl
from kafkalab.broker.hardware import PRESETS, DiskModel, Hardware, ThreadPool, resolve_hardware
from kafkalab.sim import FaultOptions, Nemesis, Tracer
from kafkalab.sim.kernel import Kernel
from kafkalab.sim.network import LinkSpec, Network


def test_presets_and_fields():
    assert Hardware.preset("kreps-2014").nic_gbps == 1.0
    assert Hardware.preset("omb-i3en.2xlarge").nic_bytes_per_ms == pytest.approx(3_125_000.0)
    assert set(PRESETS) >= {"kreps-2014", "omb-i3en.2xlarge"}
    assert Hardware().with_(io_threads=2).io_threads == 2


@pytest.mark.parametrize("call, kind, message", [
    (lambda: Hardware.preset("kreps-2015"), ValueError, "unknown preset 'kreps-2015' (did you mean 'kreps-2014'?)"),
    (lambda: Hardware(nic_gbps=0), ValueError, "nic_gbps must be a number > 0 or None"),
    (lambda: Hardware(io_threads=0), ValueError, "io_threads must be an int >= 1, got 0"),
    (lambda: Hardware(request_us=-1), ValueError, "request_us must be a number >= 0, got -1"),
    (lambda: Hardware().with_(io_thread=3), ValueError, "unknown field 'io_thread' (did you mean 'io_threads'?)"),
    (lambda: resolve_hardware(3.5, [1, 2]), TypeError, "hardware must be None, a kl.Hardware, a preset name"),
    (lambda: resolve_hardware({7: "kreps-2014"}, [1, 2]), ValueError, "hardware: broker 7 is not in the cluster"),
    (lambda: resolve_hardware({1: 5}, [1, 2]), TypeError, "hardware[1] must be a kl.Hardware or a preset name"),
    (lambda: kl.Cluster(brokers=1, controllers=1, hardware="omb"), ValueError, "unknown preset 'omb'"),
])
def test_bad_hardware_is_refused_at_the_call(call, kind, message):
    with pytest.raises(kind) as err:
        call()
    assert message in str(err.value)


def test_a_thread_pool_runs_k_jobs_at_once_and_queues_the_rest():
    pool = ThreadPool(2)
    assert [pool.admit(0.0, 1.0) for _ in range(5)] == [1.0, 1.0, 2.0, 2.0, 3.0]
    assert pool.utilisation(3.0) == pytest.approx(5 / 6)


def test_the_page_cache_absorbs_writes_up_to_the_dirty_limit_then_the_writer_waits():
    disk = DiskModel(Hardware(disk_write_mbps=1.0, dirty_mb=0.01))      # 1,000 bytes per ms, 10,000 dirty bytes
    assert disk.append(0.0, 5_000) == 0.0          # 5 ms of writeback queued, under the 10 ms limit
    assert disk.append(0.0, 5_000) == 0.0          # exactly at the limit
    assert disk.append(0.0, 5_000) == pytest.approx(5.0)   # 5 ms over: waits until writeback catches up
    # reads of recent data come from memory, older data from disk at the read rate
    disk = DiskModel(Hardware(disk_read_mbps=1.0, page_cache_mb=0.1))
    assert disk.read(0.0, 1_000, bytes_behind_end=50_000) == 0.0
    assert disk.read(0.0, 1_000, bytes_behind_end=500_000) == pytest.approx(1.0)
    assert (disk.read_from_cache, disk.read_from_disk) == (1_000, 1_000)


def test_a_nic_is_shared_by_all_links_of_a_node():
    kernel = Kernel(seed=0)
    net = Network(kernel, LinkSpec(latency_ms=0.0, jitter_ms=0.0, bandwidth_bytes_per_ms=1_000.0))
    got: list[tuple[float, str]] = []
    for node in ("a", "b", "c"):
        net.register(node, lambda src, msg: got.append((kernel.now, msg)))
    # without a NIC: two senders' links to c each carry 1,000 bytes/ms, so both 1,000-byte messages land at 1 ms
    net.send("a", "c", "a1", size_bytes=1_000)
    net.send("b", "c", "b1", size_bytes=1_000)
    kernel.run(100)
    assert got == [(1.0, "a1"), (1.0, "b1")]
    got.clear()
    net.set_nic("c", 1_000.0)                     # c's NIC-in is shared: the second message waits for the first
    net.send("a", "c", "a2", size_bytes=1_000)
    net.send("b", "c", "b2", size_bytes=1_000)
    kernel.run(100)
    assert [(round(t - 100.0, 6), m) for t, m in got] == [(1.0, "a2"), (2.0, "b2")]
    with pytest.raises(ValueError, match="set_nic: out_bytes_per_ms must be a number > 0 or None, got 0"):
        net.set_nic("a", 0)


def _produce_mb(hardware, producers=2, records=1_500, size=10_000):
    cluster = kl.Cluster(brokers=1, controllers=1, seed=3, hardware=hardware)
    cluster.create_topic("t", partitions=2, replication_factor=1)
    clients = [cluster.producer({"acks": "1", "linger.ms": 5, "batch.size": 262144}) for _ in range(producers)]
    start = cluster.now
    for i in range(records):
        for p in clients:
            p.send("t", value=b"x" * size, partition=i % 2)
    for p in clients:
        p.flush()
    return producers * records * size / (cluster.now - start) / 1000       # MB/s


def test_producers_on_two_machines_share_one_broker_nic():
    """Three producers, each on its own 1 Gbit/s link: without a hardware model the broker takes more than one
    link's worth (about 160 MB/s); with a 1 Gbit/s NIC (125 MB/s) the broker's NIC-in binds."""
    free = _produce_mb(None, producers=3, records=1_000)
    shared = _produce_mb(Hardware(nic_gbps=1.0, disk_write_mbps=None), producers=3, records=1_000)
    assert free > 140
    assert 60 < shared <= 125.5


def test_the_hardware_model_is_opt_in():
    cluster = kl.Cluster(brokers=1, controllers=1, seed=0)
    assert cluster.hardware == {} and cluster.broker(1).hardware is None
    cluster = kl.Cluster(brokers=2, controllers=1, seed=0, hardware={2: "kreps-2014"})
    assert cluster.broker(1).hardware is None and cluster.broker(2).hardware == Hardware.preset("kreps-2014")


def _hardware_digest(seed: int, hardware) -> str:
    cluster = kl.Cluster(seed=seed, controllers=1, hardware=hardware, config={"min.insync.replicas": 2})
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=3, replication_factor=3)
    producer = cluster.producer({"linger.ms": 2})
    Nemesis(cluster).random(5_000, cluster.brokers, FaultOptions(mean_interval_ms=2_000, max_down=1))
    futures = [producer.send("t", value=b"x" * 5_000, key=f"k{i % 7}") for i in range(300)]
    cluster.run(6_000)
    cluster.heal()
    for node in cluster.brokers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    assert cluster.run_until(lambda: all(f.done() for f in futures), 150_000)
    return f"{tracer.digest()} {tracer.count}"


def test_a_cluster_with_hardware_is_deterministic_under_faults_and_differs_from_one_without():
    slow = Hardware(nic_gbps=0.1, disk_write_mbps=20.0, dirty_mb=0.5, io_threads=2)
    first = _hardware_digest(7, slow)
    assert first == _hardware_digest(7, slow)
    assert first != _hardware_digest(7, None)


def test_a_consumer_far_behind_reads_from_disk_on_the_full_simulation_too():
    """A broker with a 1 MB page cache: a consumer reading 20 MB of old records is served from disk (at 10 MB/s it
    takes about 2 s); with a cache large enough the same read comes from memory."""
    def catch_up(page_cache_mb):
        hw = Hardware(disk_read_mbps=10.0, page_cache_mb=page_cache_mb)
        cluster = kl.Cluster(brokers=1, controllers=1, seed=2, hardware=hw)
        cluster.create_topic("t", partitions=1, replication_factor=1)
        producer = cluster.producer({"batch.size": 262_144, "linger.ms": 5})
        for _ in range(2_000):
            producer.send("t", value=b"x" * 10_000, partition=0)
        producer.flush()
        consumer = cluster.consumer({"auto.offset.reset": "earliest", "max.poll.records": 100_000})
        consumer.assign([kl.TopicPartition("t", 0)])
        start, read = cluster.now, 0
        while read < 2_000:
            read += len(consumer.poll(100))
        return cluster.now - start, cluster.broker(1).disk_model
    cold_ms, cold = catch_up(1.0)
    warm_ms, warm = catch_up(1_000.0)
    assert cold.read_from_disk > 15_000_000 and warm.read_from_disk == 0
    assert cold_ms > 1_500 > warm_ms

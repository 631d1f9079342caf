"""Sizing mode: deterministic, agrees with the faithful path, limits bind where the hardware says, errors are clear."""
import json

import pytest

import kafkalab as kl
from kafkalab.sim.network import LinkSpec
from kafkalab.sizing import SizingWorkload, run, run_workload
from kafkalab.sizing.faithful import run_faithful
from kafkalab.sizing.result import weighted_percentiles
from kafkalab.sizing.workload import record_bytes
from tests.hashseeds import outputs_under_hash_seeds

SMALL = dict(producers=2, rate=50_000, record_size=200, duration_s=2.0, partitions=6, consumers=2)


def test_a_run_reports_throughput_latency_and_a_timeline():
    r = run(3, hardware="kreps-2014", **SMALL)
    s = r.summary
    assert s["records_per_s"] == pytest.approx(50_000, rel=0.01)
    assert s["mb_per_s"] == pytest.approx(50_000 * 200 / 2**20, rel=0.01)
    assert s["consumed_records_per_s"] == pytest.approx(50_000, rel=0.01)
    assert 0 < s["produce_p50_ms"] <= s["produce_p99_ms"] <= s["produce_p999_ms"]
    assert s["end_to_end_p50_ms"] >= s["produce_p50_ms"] * 0.5
    # every record created is acknowledged and consumed once; the timeline adds up to them
    assert r.counters["simulated_records"] == r.counters["created_records"] == r.counters["consumed_records"] == 100_000
    assert r.timeline["produced_records"].sum() == 100_000
    assert set(r.latency["latency"]) == {"produce", "end_to_end", "publish_delay"}
    assert r.row()["hardware"] == "kreps-2014" and "records_per_s" in r.row()
    assert "records/s" in repr(r)


def test_same_seed_same_result_and_different_seeds_differ():
    a, b = run(3, hardware="kreps-2014", seed=4, **SMALL), run(3, hardware="kreps-2014", seed=4, **SMALL)
    c = run(3, hardware="kreps-2014", seed=5, **SMALL)
    assert a.summary == b.summary and a.counters == b.counters and a.timeline.equals(b.timeline)
    assert a.summary != c.summary


def _in_subprocess(hash_seed: str) -> dict:
    code = ("import json, kafkalab.sizing as s; r = s.run(3, hardware='omb-i3en.2xlarge', producers=3, rate=300000, "
            "record_size=512, duration_s=1.5, partitions=30, consumers=3, seed=2); "
            "print(json.dumps([r.summary, r.counters]))")
    return json.loads(outputs_under_hash_seeds(code, (hash_seed,))[0])


def test_the_result_does_not_depend_on_pythonhashseed():
    assert _in_subprocess("1") == _in_subprocess("12345")


def test_the_sizing_engine_agrees_with_the_faithful_path_on_a_small_case():
    """The same workload with real records through real brokers, producers and consumers: throughput within 3%,
    the median produce latency within 15% (tails are not compared: the faithful consumer polls every 1 ms)."""
    w = SizingWorkload(producers=1, rate=40_000, record_size=100, duration_s=1.5, partitions=6, consumers=1,
                       linger_ms=5, warmup_s=0.3)
    faithful = run_faithful(w, 3, hardware="kreps-2014", seed=1)
    sized = run_workload(w, 3, hardware="kreps-2014", seed=1).summary
    assert sized["records_per_s"] == pytest.approx(faithful["records_per_s"], rel=0.03)
    assert sized["consumed_records_per_s"] == pytest.approx(faithful["consumed_records_per_s"], rel=0.03)
    assert sized["produce_p50_ms"] == pytest.approx(faithful["produce_p50_ms"], rel=0.15)


def test_offered_load_above_the_nic_gives_the_nic_and_growing_delay():
    """1 GbE brokers (125 MB/s), RF 1 so each byte crosses one NIC-in once: 200 MB/s offered over 3 brokers fits
    (67 MB/s each), 600 MB/s does not: throughput stops near 3 x 125 MB/s of wire bytes and the publish delay grows
    with the run (the producers fall ever further behind their schedule)."""
    hw = kl.Hardware(nic_gbps=1.0, disk_write_mbps=None)
    net = LinkSpec(latency_ms=0.1, jitter_ms=0.0, bandwidth_bytes_per_ms=None)
    kw = dict(producers=6, record_size=1000, partitions=12, replication_factor=1, consumers=0, linger_ms=2,
              batch_size=262_144)
    fits = run(3, hardware=hw, network=net, rate=200_000, duration_s=2, **kw)
    over_short = run(3, hardware=hw, network=net, rate=600_000, duration_s=2, **kw)
    over_long = run(3, hardware=hw, network=net, rate=600_000, duration_s=4, **kw)
    assert fits.summary["records_per_s"] == pytest.approx(200_000, rel=0.01)
    wire_mb = over_long.summary["records_per_s"] * record_bytes(1000) / 1e6
    assert 340 < wire_mb <= 375.5
    assert over_long.summary["publish_delay_p99_ms"] > 1.5 * over_short.summary["publish_delay_p99_ms"] > 100


def test_a_slow_disk_binds_once_the_page_cache_is_full_of_dirty_pages():
    hw = kl.Hardware(nic_gbps=None, disk_write_mbps=50.0, dirty_mb=20.0)
    kw = dict(producers=3, rate=250_000, record_size=1000, duration_s=4, warmup_s=2, partitions=6,
              replication_factor=1, consumers=0, batch_size=262_144)
    r = run(3, hardware=hw, **kw)
    # 250 MB/s offered; each broker writes 50 MB/s: about 150 MB/s for 3 brokers once 20 MB of dirty pages are full
    assert r.summary["records_per_s"] * record_bytes(1000) / 1e6 == pytest.approx(150, rel=0.05)
    assert run(3, hardware=hw.with_(disk_write_mbps=500.0), **kw).summary["records_per_s"] == pytest.approx(
        250_000, rel=0.01)


def test_a_consumer_far_behind_reads_from_disk_and_a_caught_up_one_from_memory():
    kw = dict(producers=1, rate=50_000, record_size=1000, duration_s=3, partitions=3, consumers=1)
    hw = kl.Hardware(page_cache_mb=20.0, disk_read_mbps=100.0)
    assert run(3, hardware=hw, **kw).counters["disk_reads_bytes"] == 0
    late = run(3, hardware=hw, consumer_lag_s=2.0, **kw)
    assert late.counters["disk_reads_bytes"] > 50_000_000
    assert late.counters["consumed_records"] == 150_000


def test_a_cluster_can_be_given_instead_of_a_broker_count():
    cluster = kl.Cluster(brokers=3, controllers=1, seed=0, hardware="kreps-2014")
    a = run(cluster, **SMALL)
    b = run(3, hardware="kreps-2014", network=LinkSpec(), **SMALL)
    assert a.summary == b.summary and a.hardware == "kreps-2014"


def test_weighted_percentiles():
    import numpy as np
    values, weights = np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 98.0])
    assert weighted_percentiles(values, weights, (0.5, 50.0, 99.9)) == [1.0, 2.0, 3.0]
    assert all(np.isnan(weighted_percentiles(np.array([]), np.array([]), (50.0,))))


@pytest.mark.parametrize("call, kind, message", [
    (lambda: run(3, producer=2), TypeError, "unknown parameter 'producer' (did you mean 'producers'?)"),
    (lambda: run(3, rate=0), ValueError, "rate must be records per second > 0, or None"),
    (lambda: run(3, record_size=0), ValueError, "record_size must be an int >= 1, got 0"),
    (lambda: run(3, duration_s=-1), ValueError, "duration_s must be a finite number of seconds > 0"),
    (lambda: run(3, acks="most"), ValueError, "acks must be one of 'all', '1', '0'"),
    (lambda: run(3, consumers=-1), ValueError, "consumers must be an int >= 0"),
    (lambda: run(3, warmup_s=20, duration_s=10), ValueError, "warmup_s must be in [0, duration_s=10)"),
    (lambda: run(2, replication_factor=3), ValueError, "replication_factor 3 is larger than the number of brokers"),
    (lambda: run(0), ValueError, "brokers must be an int >= 1 or a kl.Cluster, got 0"),
    (lambda: run("three"), TypeError, "brokers must be an int >= 1 or a kl.Cluster, got str"),
    (lambda: run(3, hardware="omb"), ValueError, "unknown preset 'omb'"),
    (lambda: run(3, hardware={1: "kreps-2014"}), ValueError, "hardware is missing for brokers [2, 3]"),
    (lambda: run(3, network="fast"), TypeError, "network must be a kl.sim.network.LinkSpec or None, got str"),
    (lambda: run(3, seed=1.5), TypeError, "seed must be an int, got float"),
    (lambda: run_workload({"rate": 1}), TypeError, "workload must be a SizingWorkload, got dict"),
    (lambda: run_faithful(SizingWorkload(rate=None)), ValueError, "run_faithful: the workload needs a rate"),
])
def test_bad_arguments_are_refused_at_the_call(call, kind, message):
    with pytest.raises(kind) as err:
        call()
    assert message in str(err.value)


def test_the_published_anchors_have_sources_and_the_calibrated_rows_still_hold():
    from kafkalab.sizing import anchors
    table = anchors.published()
    assert table["url"].str.startswith("https://").all() and table["anchor"].is_unique
    assert set(table["anchor"]) >= {"omb_peak_throughput", "omb_p99_latency_200", "kreps_1p_norep", "kreps_3c"}
    omb = anchors.omb2020(seed=0).set_index("metric")
    assert omb.loc["peak throughput", "kafkalab"] == pytest.approx(605, rel=0.03)
    assert omb.loc["end-to-end p99 at 200 MB/s", "kafkalab"] == pytest.approx(5, rel=0.2)
    assert omb["role"].str.startswith(("calibrated", "predicted")).all()

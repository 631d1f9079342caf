"""The sizing workload through the real cluster with counted records (``run_faithful(..., counted=True)``): the same
numbers as real records, close to the sizing engine, and a function of (workload, seed) in any process."""
import json

import pytest

from kafkalab.sizing import SizingWorkload, run_workload
from kafkalab.sizing.faithful import run_faithful
from tests.hashseeds import outputs_under_hash_seeds

SMALL = SizingWorkload(producers=1, rate=40_000, record_size=100, duration_s=1.5, partitions=6, consumers=1,
                       linger_ms=5, warmup_s=0.3)


def test_counted_records_give_the_numbers_of_real_records_exactly():
    """Counted batches have the real batches' sizes, so the cluster runs the same events: every throughput and
    latency percentile is the same number, not just a close one."""
    real = run_faithful(SMALL, 3, hardware="kreps-2014", seed=1)
    counted = run_faithful(SMALL, 3, hardware="kreps-2014", seed=1, counted=True)
    assert counted == real
    assert counted["records_per_s"] == pytest.approx(40_000, rel=0.01)


def test_counted_records_through_the_cluster_agree_with_the_sizing_engine_on_a_small_case():
    """Throughput within 3%, the median produce latency within 15% (as the engine's own check against real
    records; tails are not compared: the faithful consumer polls every 1 ms)."""
    w = SizingWorkload(producers=2, rate=120_000, record_size=200, duration_s=1.5, partitions=6, consumers=2,
                       linger_ms=5, warmup_s=0.3)
    counted = run_faithful(w, 3, hardware="kreps-2014", seed=2, counted=True)
    sized = run_workload(w, 3, hardware="kreps-2014", seed=2).summary
    assert sized["records_per_s"] == pytest.approx(counted["records_per_s"], rel=0.03)
    assert sized["consumed_records_per_s"] == pytest.approx(counted["consumed_records_per_s"], rel=0.03)
    assert sized["produce_p50_ms"] == pytest.approx(counted["produce_p50_ms"], rel=0.15)


def test_same_seed_same_counted_result_and_different_seeds_differ():
    a = run_faithful(SMALL, 3, hardware="kreps-2014", seed=4, counted=True)
    assert a == run_faithful(SMALL, 3, hardware="kreps-2014", seed=4, counted=True)
    assert a != run_faithful(SMALL, 3, hardware="kreps-2014", seed=5, counted=True)


def _in_subprocess(hash_seed: str) -> dict:
    code = ("import json; from kafkalab.sizing import SizingWorkload; from kafkalab.sizing.faithful import "
            "run_faithful; w = SizingWorkload(producers=2, rate=60000, record_size=300, duration_s=1.0, "
            "partitions=5, consumers=2, warmup_s=0.2); "
            "print(json.dumps(run_faithful(w, 3, hardware='omb-i3en.2xlarge', seed=3, counted=True)))")
    return json.loads(outputs_under_hash_seeds(code, (hash_seed,))[0])


def test_the_counted_result_does_not_depend_on_pythonhashseed():
    assert _in_subprocess("1") == _in_subprocess("54321")


def test_counted_must_be_a_bool():
    with pytest.raises(TypeError, match="run_faithful: counted must be True or False, got str 'yes'"):
        run_faithful(SMALL, counted="yes")

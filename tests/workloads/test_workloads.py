"""Workloads under a nemesis: the same seed gives the same run, safe settings stay valid through random faults,
acks=1 under an isolated leader loses writes the checker finds, and bad parameters get clear errors."""
import collections

import pytest

from kafkalab.check import History, analyze
from kafkalab.sim import Fault
from kafkalab.workloads import WORKLOADS, producer_group, queue, skewed


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    a, b = queue(3, duration_ms=6_000), queue(3, duration_ms=6_000)
    assert a.digest == b.digest and a.faults == b.faults
    assert a.history.to_frame().equals(b.history.to_frame())
    c = queue(4, duration_ms=6_000)
    assert c.digest != a.digest


def test_queue_with_acks_all_and_min_isr_2_is_valid_under_random_faults():
    result = queue(0, faults=("crash", "pause", "isolate", "partition"))
    report = result.report()
    assert len(result.faults) >= 6, result.faults                       # the nemesis did act
    assert report.verdict == "valid", report.to_text()
    assert report.counts["acknowledged"] > 300 and report.count("unseen") == 0
    row = result.row()
    assert row["verdict"] == "valid" and row["faults"] == len(result.faults) and row["digest"] == result.digest
    kinds = collections.Counter(o.f for o in result.history.ops if o.type == "invoke")
    assert {"send", "poll", "commit"} <= set(kinds)


def test_queue_with_acks_1_and_a_leader_isolated_past_its_session_loses_writes():
    # broker 3 leads partition 0; isolated for 15 s it is fenced, a follower takes over, its acks=1 tail is lost
    script = [Fault(1_000, "isolate", node=3), Fault(16_000, "heal")]
    result = queue(0, acks="1", min_insync_replicas=1, nemesis=script, duration_ms=20_000)
    report = result.report()
    assert [d for _, d in result.faults] == ["isolate 3", "heal"]
    assert report.verdict == "invalid" and report.count("lost_write") > 0
    assert set(report.of("lost_write").partition) <= {0, 3}              # partitions broker 3 led


def test_skewed_keys_make_a_hot_partition():
    result = skewed(1, duration_ms=6_000, nemesis="none")
    sends = collections.Counter(o.partition for o in result.history.ops if o.f == "send" and o.type == "ok")
    assert sends.most_common(1)[0][1] > 2 * min(sends.values())
    assert result.report().verdict == "valid"


def test_producer_and_consumer_group_under_faults_is_valid_and_saves_with_its_metadata(tmp_path):
    result = producer_group(0, duration_ms=10_000)
    assert result.report().verdict == "valid"
    loaded = History.load(result.save(tmp_path / "pg.parquet"))
    assert loaded.metadata["workload"] == "producer_group" and loaded.metadata["seed"] == 0
    assert loaded.metadata["faults"] == [f"{t:.0f} {d}" for t, d in result.faults]
    assert analyze(loaded).counts == result.report().counts
    assert set(WORKLOADS) == {"queue", "skewed", "producer_group", "txn"}


def test_bad_parameters_get_clear_errors():
    with pytest.raises(ValueError, match=r"unknown fault kind 'crsh' \(did you mean 'crash'\?\)"):
        queue(0, faults=["crsh"])
    with pytest.raises(ValueError, match="nemesis must be 'none', 'random' or a list of Fault, got 'chaos'"):
        queue(0, nemesis="chaos")
    with pytest.raises(TypeError, match="a scripted nemesis is a list of kafkalab.sim.Fault"):
        queue(0, nemesis=[("crash", 3)])
    with pytest.raises(ValueError, match="key_skew must be a number >= 0"):
        queue(0, key_skew=-1)
    with pytest.raises(ValueError, match="clients must be a positive int, got 0"):
        queue(0, clients=0)
    with pytest.raises(ValueError, match="rate_per_s must be a positive float, got 0"):
        producer_group(0, rate_per_s=0)


def test_the_digest_does_not_depend_on_the_hash_seed():
    import os
    import subprocess
    import sys

    code = ("from kafkalab.workloads import queue; r = queue(5, duration_ms=4_000); "
            "print(r.digest, r.report().counts['acknowledged'])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("0", "77")}
    assert len(outs) == 1 and queue(5, duration_ms=4_000).digest in outs.pop()

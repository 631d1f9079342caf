"""The throughput experiment: tidy columns, one result per seed, the shapes Kafka's tuning advice rests on, errors."""
from __future__ import annotations

import pandas as pd
import pytest

from kafkalab.broker.cost import CostModel
from kafkalab.experiments import throughput as tp

SMALL = 6_000


@pytest.fixture(scope="module")
def default_row() -> dict:
    return tp.run(records=SMALL, seed=3)


def test_a_run_has_the_documented_columns_and_sane_numbers(default_row: dict) -> None:
    assert tuple(default_row) == tp.COLUMNS
    assert default_row["records"] == SMALL and default_row["acks"] == "all" and default_row["seed"] == 3
    assert default_row["records_per_s"] > 10_000
    assert default_row["mb_per_s"] == pytest.approx(default_row["records_per_s"] * 100 / 2**20)
    assert 0 < default_row["p50_latency_ms"] <= default_row["p99_latency_ms"] <= default_row["max_latency_ms"]
    assert default_row["records_per_request"] > 1


def test_same_seed_same_numbers_other_seed_other_numbers(default_row: dict) -> None:
    assert tp.run(records=SMALL, seed=3) == default_row
    other = tp.run(records=SMALL, seed=4)
    assert other["p99_latency_ms"] != default_row["p99_latency_ms"] or \
        other["records_per_s"] != default_row["records_per_s"]


def test_sweep_is_a_tidy_frame_and_reports_each_point() -> None:
    seen: list[int] = []
    frame = tp.sweep("batch_size", [1024, 16384], records=SMALL, on_result=lambda f: seen.append(len(f)))
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(tp.COLUMNS)
    assert frame["batch_size"].tolist() == [1024, 16384] and seen == [1, 2]


def test_larger_batches_raise_throughput_up_to_a_point() -> None:
    frame = tp.sweep("batch_size", [1024, 4096, 16384, 65536], records=10_000).set_index("batch_size")
    rps = frame["records_per_s"]
    assert rps[1024] < rps[4096] < rps[16384]
    assert rps[65536] < 1.5 * rps[16384]           # the producer's own speed caps it: no more gain
    assert frame["p50_latency_ms"][1024] > frame["p50_latency_ms"][16384]   # tiny batches queue up


def test_linger_fills_requests_and_under_load_cuts_queueing_not_throughput() -> None:
    # KIP-1030's argument: at a load the brokers feel, lingering means fewer, fuller requests, so less queueing.
    frame = tp.sweep("linger_ms", [0.0, 5.0], records=10_000, client_us_per_record=2.5, acks="1",
                     cost=CostModel(request_ms=0.5)).set_index("linger_ms")
    assert frame["records_per_request"][5.0] > 1.3 * frame["records_per_request"][0.0]
    assert frame["p50_latency_ms"][5.0] < frame["p50_latency_ms"][0.0]
    assert frame["records_per_s"][5.0] == pytest.approx(frame["records_per_s"][0.0], rel=0.05)


def test_linger_at_low_load_costs_latency_not_throughput() -> None:
    frame = tp.sweep("linger_ms", [0.0, 20.0], records=3_000, client_us_per_record=10.0).set_index("linger_ms")
    assert frame["records_per_s"][20.0] == pytest.approx(frame["records_per_s"][0.0], rel=0.05)
    assert frame["records_per_request"][20.0] > 2 * frame["records_per_request"][0.0]


def test_acks_all_with_replication_is_slower_than_acks_1() -> None:
    frame = tp.sweep("acks", ["1", "all"], records=10_000).set_index("acks")
    assert frame["records_per_s"]["all"] < frame["records_per_s"]["1"]
    assert frame["p50_latency_ms"]["all"] > 2 * frame["p50_latency_ms"]["1"]


def test_replication_factor_costs_acks_all_throughput() -> None:
    frame = tp.sweep("replication_factor", [1, 3], records=10_000).set_index("replication_factor")
    assert frame["records_per_s"][3] < frame["records_per_s"][1]


def test_a_costlier_broker_is_slower() -> None:
    cheap = tp.run(records=SMALL, seed=1)
    costly = tp.run(records=SMALL, seed=1, cost=CostModel(request_ms=2.0, byte_ns=1.5))
    assert costly["records_per_s"] < cheap["records_per_s"]


def test_three_consumers_read_faster_than_one() -> None:
    one = tp.consume(12_000, 1)
    three = tp.consume(12_000, 3)
    assert one["records_per_s"] == pytest.approx(1e6 / tp.CONSUMER_US_PER_RECORD, rel=0.05)
    assert three["records_per_s"] > 2 * one["records_per_s"]


def test_end_to_end_latency_is_a_few_round_trips() -> None:
    lat = tp.end_to_end_latency(30)
    assert list(lat.columns) == ["sample", "latency_ms"] and len(lat) == 30
    assert 1.0 < lat["latency_ms"].median() < 5.0


def test_kreps_anchors_and_comparison() -> None:
    anchors = tp.kreps_anchors()
    assert set(anchors["test"]) >= set(tp.KREPS_WORKLOADS)
    sim = pd.DataFrame([{"test": "1 consumer", "kind": "consumer", "records_per_s": 940_521.0, "mb_per_s": 0.0,
                         "p50_latency_ms": None, "p99_latency_ms": None}])
    cmp = tp.compare_with_kreps(sim, anchors)
    assert cmp.to_dict("records") == [{"test": "1 consumer", "metric": "records_per_s", "kreps": 940_521.0,
                                       "sim": 940_521.0, "sim_over_kreps": 1.0}]


# -- error paths -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"records": 0}, "Workload.records must be an int >= 1, got 0"),
    ({"partitions": 2.5}, "Workload.partitions must be an int >= 1, got 2.5"),
    ({"replication_factor": 4}, "Workload.replication_factor=4 needs at least that many brokers, got brokers=3"),
    ({"records": 2, "producers": 3}, "Workload.records=2 must be at least producers=3"),
    ({"linger_ms": -1.0}, "Workload.linger_ms and client_us_per_record must be >= 0, got -1.0, 1.2"),
    ({"step_ms": 0.0}, "Workload.step_ms must be > 0, got 0.0"),
    ({"acks": "2"}, "Workload.acks must be one of 'all', '1', '0' (or -1 = all), got '2'"),
])
def test_bad_workloads_say_what_is_wrong(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        tp.Workload(**kwargs)
    assert str(err.value) == message


def test_sweep_errors() -> None:
    with pytest.raises(ValueError, match=r"^cannot sweep 'compression'; sweepable: batch_size, linger_ms"):
        tp.sweep("compression", ["lz4"])
    with pytest.raises(ValueError, match=r"^sweep of 'linger_ms' needs at least one value$"):
        tp.sweep("linger_ms", [])


def test_other_errors() -> None:
    with pytest.raises(TypeError, match=r"^cost must be a kafkalab.broker.cost.CostModel, got dict$"):
        tp.run(records=10, cost={"request_ms": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^consumers must be an int in \[1, partitions=6\], got 7$"):
        tp.consume(100, 7)
    with pytest.raises(ValueError, match=r"^samples must be an int >= 1, got 0$"):
        tp.end_to_end_latency(0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'batchsize'"):
        tp.run(records=10, batchsize=1)


def test_same_numbers_under_any_hash_seed() -> None:
    import json
    import os
    import subprocess
    import sys

    code = ("import json; from kafkalab.experiments import throughput as tp; "
            "print(json.dumps(tp.run(records=3000, seed=5, producers=2)))")
    rows = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert rows[0] == rows[1]


def test_a_bad_producer_key_is_kafkas_config_error() -> None:
    from kafkalab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^unknown producer config 'lingerms': did you mean 'linger.ms'\?$"):
        tp.run(records=10, producer_config={"lingerms": 5})

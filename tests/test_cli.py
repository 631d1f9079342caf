"""The kafkalab command end to end (subprocesses, as a user types it): list, run a sweep to Parquet, check a saved
history, replay a seed, bench one benchmark, lab's command line; and every bad input exits 2 with one clear line."""
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from kafkalab.cli import parse_seeds

ROOT = Path(__file__).resolve().parents[1]


def kafkalab(*args, check=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "kafkalab.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def test_the_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"kafkalab": "kafkalab.cli:main"}


def test_list_names_experiments_with_their_defaults():
    out = kafkalab("list").stdout
    assert "queue" in out and "durability" in out and "figure16" in out
    assert "min_insync_replicas = 2" in out and "timeout_range = '150-155'" in out


def test_run_sweeps_to_parquet_then_replay_and_check_agree(tmp_path):
    out = tmp_path / "q"
    run = kafkalab("run", "queue", "--param", "duration_ms=3000", "--param", "acks=1,all", "--seeds", "0:2",
                   "--jobs", "2", "--quiet", "--out", str(out))
    assert "queue: 4 rows from 2 seed(s) x 2 point(s)" in run.stdout
    frame = pd.read_parquet(tmp_path / "q.parquet")
    assert frame[["acks", "seed"]].values.tolist() == [["1", 0], ["1", 1], ["all", 0], ["all", 1]]
    meta = json.loads((tmp_path / "q.json").read_text())
    assert meta["experiment"] == "queue" and meta["backend"] == "joblib" and meta["seeds"] == "range(0, 2)"
    assert meta["command"].startswith("kafkalab run queue --param duration_ms=3000")
    assert meta["function"] == "kafkalab.experiments.registry._workload_row('queue')"
    replay = kafkalab("replay", "queue", "--seed", "1", "--param", "duration_ms=3000", "--param", "acks=all",
                      "--save", str(tmp_path / "h.parquet"))
    digest = frame[(frame.acks == "all") & (frame.seed == 1)].digest.iloc[0]
    verdict = frame[(frame.acks == "all") & (frame.seed == 1)].verdict.iloc[0]
    assert f"trace digest {digest}" in replay.stdout and f"verdict {verdict}" in replay.stdout
    check = kafkalab("check", str(tmp_path / "h.parquet"), check=False)
    assert check.returncode == (1 if verdict == "invalid" else 0)
    assert "run: workload='queue', seed=1" in check.stdout and f"verdict={verdict!r}" in check.stdout


def test_replay_of_an_experiment_prints_its_row_trace_digest_and_verdict(tmp_path):
    from kafkalab.experiments.registry import get_experiment
    from kafkalab.experiments.trace import capture

    out = kafkalab("replay", "split_votes", "--seed", "3").stdout
    with capture() as trace:
        get_experiment("split_votes").fn(seed=3)
    assert "split_votes seed 3" in out and "leader_epoch_delta" in out
    assert f"trace digest {trace.digest}" in out and "verdict n/a: no client history" in out
    # a trial with a cluster: judged from its history, which --save keeps for kafkalab check
    out = kafkalab("replay", "durability", "--seed", "1", "--param", "acks=1", "--param", "min_isr=1",
                   "--save", str(tmp_path / "d.parquet")).stdout
    assert "durability seed 1 {'acks': '1', 'min_isr': 1}" in out and "verdict invalid" in out
    assert "lost_write=" in out and "history saved to" in out
    check = kafkalab("check", str(tmp_path / "d.parquet"), check=False)
    assert check.returncode == 1 and "lost_write=" in check.stdout


def test_bench_runs_a_benchmark_into_one_table(tmp_path):
    (tmp_path / "tiny.py").write_text('import json\nprint("a table")\nprint(json.dumps({"benchmark": "tiny", '
                                      '"rate": 5}))\n')
    out = kafkalab("bench", "--dir", str(tmp_path)).stdout
    assert "benchmark" in out.splitlines()[0] and "tiny" in out and "rate=5" in out


def test_lab_builds_the_jupyterlab_command():
    out = kafkalab("lab", "--dry-run").stdout
    assert out.startswith("jupyter lab --notebook-dir=") and "notebooks" in out


@pytest.mark.parametrize("args, message", [
    (["run", "quee"], "unknown experiment 'quee' (did you mean 'queue'?); experiments: queue,"),
    (["run", "queue", "--param", "dration_ms=3"], "experiment 'queue' has no parameter 'dration_ms' (did you mean "
                                                  "'duration_ms'?)"),
    (["run", "queue", "--param", "keys=many"], "parameter 'keys' of 'queue' expects int (default 8), got 'many'"),
    (["run", "queue", "--param", "unclean=maybe"], "parameter 'unclean' of 'queue' expects bool"),
    (["run", "queue", "--param", "keys"], "--param must be NAME=VALUE"),
    (["run", "queue", "--seeds", "a:b"], "--seeds must look like 0:20, 7 or 1,4,9; got 'a:b'"),
    (["check", "missing.parquet"], "no history file at 'missing.parquet'"),
    (["replay", "queue", "--seed", "0", "--param", "acks=1,all"], "replay runs one point: give one value for acks"),
    (["bench", "--only", "kernal"], "unknown benchmark 'kernal' (did you mean 'kernel'?)"),
    (["data", "elektions"], "unknown experiment module 'elektions' (did you mean 'elections'?)"),
])
def test_bad_input_exits_2_with_a_clear_line(args, message):
    proc = kafkalab(*args, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_parse_seeds():
    assert parse_seeds("0:3") == [0, 1, 2] and parse_seeds("7") == [7] and parse_seeds("1,4") == [1, 4]


def test_the_transactional_workload_runs_replays_and_its_saved_history_is_judged_as_it_ran(tmp_path):
    # read_uncommitted consumers judged as read_committed: the saved history carries who is judged so, and check
    # finds their aborted reads without being told
    params = ["--param", "duration_ms=8000", "--param", "isolation=read_uncommitted",
              "--param", "judge_as=read_committed"]
    run = kafkalab("run", "txn", *params, "--seeds", "3", "--quiet", "--out", str(tmp_path / "t"))
    frame = pd.read_parquet(tmp_path / "t.parquet")
    assert "txn: 1 rows from 1 seed(s)" in run.stdout and frame.verdict.tolist() == ["invalid"]
    assert frame.aborted_read.iloc[0] > 0 and "G1c-ww" in frame.columns
    replay = kafkalab("replay", "txn", "--seed", "3", *params, "--save", str(tmp_path / "h.parquet"))
    assert f"trace digest {frame.digest.iloc[0]}" in replay.stdout and "verdict invalid" in replay.stdout
    check = kafkalab("check", str(tmp_path / "h.parquet"), "--rows", "3", check=False)
    assert check.returncode == 1 and f"aborted_read={frame.aborted_read.iloc[0]}" in check.stdout
    assert "aborted_read=" not in kafkalab("check", str(tmp_path / "h.parquet"), "--read-committed", "none",
                                           check=False).stdout

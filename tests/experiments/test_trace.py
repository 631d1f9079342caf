"""The trace capture behind ``kafkalab replay`` for experiments: a trial returns the same row with or without it,
the same seed gives the same digest (in any process, under any hash seed), another seed another, and a trial that
keeps a client history is judged."""
import os
import subprocess
import sys

import pandas as pd
import pytest

from kafkalab.experiments.registry import get_experiment
from kafkalab.experiments.trace import capture, traced


def frame(row):
    return row if isinstance(row, pd.DataFrame) else pd.DataFrame([row])


@pytest.mark.parametrize("name, params", [("figure16", {}), ("split_votes", {}), ("failover", {}),
                                          ("throughput", {"records": 2_000})])
def test_a_trial_returns_the_same_row_with_or_without_a_capture(name, params):
    fn = get_experiment(name).fn
    plain = fn(**params, seed=4)
    with capture() as trace:
        captured = fn(**params, seed=4)
    assert frame(captured).equals(frame(plain)) and len(frame(plain)) >= 1
    assert len(trace.sims) == 1 and trace.events > 100 and len(trace.digest) == 64
    with capture() as again:
        fn(**params, seed=4)
    assert again.digest == trace.digest
    with capture() as other:
        fn(**params, seed=5)
    assert other.digest != trace.digest


def test_a_cluster_trial_is_judged_from_its_history_and_a_raft_trial_has_none():
    with capture() as trace:
        row = get_experiment("durability").fn(acks="1", min_isr=1, seed=1)
    report = trace.report()
    assert report is not None and report.verdict == "invalid"
    assert report.count("lost_write") + report.count("unseen") == int(frame(row)["lost"].iloc[0]) > 0
    with capture() as raft:
        get_experiment("split_votes").fn(seed=1)
    assert raft.histories == [] and raft.report() is None


def test_captures_nest_and_nothing_is_captured_outside_one():
    sentinel = object()
    assert traced(sentinel) is sentinel
    with capture() as outer:
        with capture() as inner:
            get_experiment("split_votes").fn(seed=2)
        get_experiment("split_votes").fn(seed=2)
    assert len(inner.sims) == 1 and len(outer.sims) == 2
    assert outer.digest != inner.digest and outer.tracers[0].digest() == inner.digest


def test_the_digest_does_not_depend_on_the_hash_seed():
    code = ("from kafkalab.experiments.registry import get_experiment\nfrom kafkalab.experiments.trace import "
            "capture\nwith capture() as t:\n    get_experiment('figure16').fn(seed=7)\nprint(t.digest)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout.strip() for h in ("0", "3131")}
    with capture() as here:
        get_experiment("figure16").fn(seed=7)
    assert outs == {here.digest}

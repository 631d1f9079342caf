"""sweep() runs a function over a grid and seeds and returns the same frame, row for row, inline, on joblib
workers and on a Dask cluster of two worker processes; it writes Parquet with provenance, and refuses bad input
clearly."""
import json

import pandas as pd
import pytest

import kafkalab as kl
from kafkalab.experiments import sweep
from kafkalab.experiments.sweep import grid_points, tasks_for
from tests.experiments.sweep_fns import rows_run, tiny_run

GRID = {"records": [5, 20], "acks": ["1", "all"]}


def test_rows_are_labelled_and_ordered_by_point_then_seed():
    frame = sweep(rows_run, {"n": [2, 1]}, seeds=[4, 2], progress=False)
    assert list(frame.columns) == ["n", "seed", "i", "x"]
    assert frame[["n", "seed", "i"]].values.tolist() == [[2, 4, 0], [2, 4, 1], [2, 2, 0], [2, 2, 1], [1, 4, 0],
                                                         [1, 2, 0]]
    assert frame.x.tolist() == [rows_run(2, 4)[0]["x"], rows_run(2, 4)[1]["x"], rows_run(2, 2)[0]["x"],
                                rows_run(2, 2)[1]["x"], rows_run(1, 4)[0]["x"], rows_run(1, 2)[0]["x"]]
    assert kl.experiments.sweep is sweep


def test_seeds_are_grouped_into_a_few_tasks_per_worker():
    tasks = tasks_for(points=2, seeds=list(range(20)), workers=2)
    assert len(tasks) == 8 and all(len(s) == 5 for _, s in tasks)       # about four tasks per worker
    assert sorted(s for _, seeds in tasks for s in seeds) == sorted(list(range(20)) * 2)
    assert len(tasks_for(points=1, seeds=list(range(100)), workers=2)) == 8
    assert [len(s) for _, s in tasks_for(points=3, seeds=[0, 1, 2], workers=8)] == [1] * 9
    assert tasks_for(points=1, seeds=[0, 1, 2, 3, 4], workers=1, chunk_size=2) == [(0, (0, 1)), (0, (2, 3)),
                                                                                  (0, (4,))]


def test_the_same_frame_inline_on_joblib_and_on_a_dask_cluster_of_two_worker_processes(tmp_path):
    from distributed import Client, LocalCluster

    inline = sweep(tiny_run, GRID, seeds=range(6), progress=False)
    on_joblib = sweep(tiny_run, GRID, seeds=range(6), n_jobs=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        seen = []
        on_dask = sweep(tiny_run, GRID, seeds=range(6), client=client, progress=False, on_result=seen.append,
                        out=tmp_path / "tiny")
    assert len(inline) == 4 * 6 and inline.virtual_ms.nunique() > 4          # seeds differ
    pd.testing.assert_frame_equal(inline, on_joblib)
    pd.testing.assert_frame_equal(inline, on_dask)
    assert sum(len(f) for f in seen) == 24
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "tiny.parquet"), inline)
    meta = json.loads((tmp_path / "tiny.json").read_text())
    assert meta["file"] == "tiny.parquet" and meta["backend"] == "dask" and meta["workers"] == 2
    assert meta["seeds"] == "range(0, 6)" and meta["runs"] == 24 and meta["kafkalab_version"] == kl.__version__
    assert meta["function"] == "tests.experiments.sweep_fns.tiny_run" and len(meta["grid"]) == 4
    assert set(meta) >= {"commit", "dirty", "wall_s", "python"}


def test_grid_points_from_a_mapping_or_a_list():
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert grid_points([{"a": 1}, {"a": 5, "b": 2}]) == [{"a": 1}, {"a": 5, "b": 2}]
    assert grid_points(None) == [{}]


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match=r"backend 'dusk' is not one of joblib, dask \(did you mean 'dask'\?\)"):
        sweep(rows_run, {"n": [1]}, backend="dusk")
    with pytest.raises(TypeError, match=r"grid\['n'\] must be a list of values, got 3 \(wrap one value: \[value\]\)"):
        sweep(rows_run, {"n": 3})
    with pytest.raises(ValueError, match=r"grid\['n'\] is empty"):
        sweep(rows_run, {"n": []})
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of ints, got \\['a'\\]"):
        sweep(rows_run, {"n": [1]}, seeds=["a"])
    with pytest.raises(ValueError, match=r"seeds repeat: \[1\]"):
        sweep(rows_run, {"n": [1]}, seeds=[1, 1])
    with pytest.raises(ValueError, match="n_jobs must be a positive int or -1"):
        sweep(rows_run, {"n": [1]}, n_jobs=0)
    with pytest.raises(TypeError, match="fn must be callable"):
        sweep("rows_run", {"n": [1]})
    with pytest.raises(TypeError, match="a swept function must return a DataFrame, a dict .* got int"):
        sweep(lambda n, seed: 3, {"n": [1]}, progress=False)
    with pytest.raises(TypeError, match="grid must be a mapping of parameter -> values or a list"):
        sweep(rows_run, [1, 2])

"""Results in data/ are Parquet with a JSON provenance sidecar; the CSV copies notebooks still read hold the same
rows; published reference tables stay CSV."""
import json

import pandas as pd

from kafkalab.experiments.provenance import CSV_COPIES, DATA_DIR, write_result

REFERENCE_TABLES = ("kreps2014", "raft_figure16_paper", "failover_anchors")


def test_every_result_in_data_is_parquet_with_provenance():
    parquet = sorted(DATA_DIR.glob("*.parquet"))
    assert len(parquet) >= 9
    for path in parquet:
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["file"] == path.name
        assert "commit" in json.dumps(meta)                      # the code version it ran on
        if path.stem in CSV_COPIES:
            pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_csv(DATA_DIR / meta["csv_copy"]))
    for name in REFERENCE_TABLES:
        assert len(pd.read_csv(DATA_DIR / f"{name}.csv")) > 0 and (DATA_DIR / f"{name}.json").exists()


def test_write_result_writes_parquet_json_and_the_csv_copy_notebooks_read(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    path = write_result(frame, tmp_path, "rebalance_runs", {"seed": 3})
    assert path == tmp_path / "rebalance_runs.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "rebalance_runs.csv"), frame)
    assert json.loads((tmp_path / "rebalance_runs.json").read_text()) == {
        "file": "rebalance_runs.parquet", "seed": 3, "csv_copy": "rebalance_runs.csv"}
    write_result(frame, tmp_path, "something_new", {})
    assert not (tmp_path / "something_new.csv").exists()

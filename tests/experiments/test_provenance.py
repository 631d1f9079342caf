"""Results in data/ are Parquet with a JSON provenance sidecar (no CSV copies: the notebooks read the Parquet);
published reference tables stay CSV, each with its JSON."""
import json

import pandas as pd

from kafkalab.experiments.provenance import DATA_DIR, write_result

REFERENCE_TABLES = ("kreps2014", "raft_figure16_paper", "failover_anchors", "checker_anchors", "exactly_once_anchors",
                    "streams_anchors", "connect_anchors", "sizing_anchors")


def test_every_result_in_data_is_parquet_with_provenance():
    parquet = sorted(DATA_DIR.glob("*.parquet"))
    assert len(parquet) >= 9
    for path in parquet:
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["file"] == path.name and "csv_copy" not in meta
        assert "commit" in json.dumps(meta)                      # the code version it ran on
    for name in REFERENCE_TABLES:
        assert len(pd.read_csv(DATA_DIR / f"{name}.csv")) > 0 and (DATA_DIR / f"{name}.json").exists()


def test_the_only_csv_files_in_data_are_published_reference_tables():
    assert sorted(p.stem for p in DATA_DIR.glob("*.csv")) == sorted(REFERENCE_TABLES)


def test_write_result_writes_parquet_and_json_only(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    path = write_result(frame, tmp_path, "rebalance_runs", {"seed": 3})
    assert path == tmp_path / "rebalance_runs.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    assert json.loads((tmp_path / "rebalance_runs.json").read_text()) == {"file": "rebalance_runs.parquet", "seed": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rebalance_runs.json", "rebalance_runs.parquet"]

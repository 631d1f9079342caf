"""Where a result in ``data/`` came from: every experiment writes a CSV and a JSON provenance file beside it.

The provenance names the code version (the git commit, and which package files differed from it when the run
started), the command that reproduces the file, and the experiment's own config and seed (DESIGN.md: every result is
``(code version, config, seed)``). Reading git is the only I/O here; outside a checkout the commit is "unknown".
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATA_DIR", "code_version", "write_result"]

#: The repository's data/ folder.
DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=DATA_DIR.parent, capture_output=True, text=True, check=False,
                             timeout=10)
        return out.stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def code_version(inputs: tuple[str, ...] = ("kafkalab",)) -> dict[str, Any]:
    """The commit, and the files under ``inputs`` that had uncommitted changes (a result from modified code)."""
    modified = sorted(line[3:] for line in _git("status", "--porcelain", "--", *inputs).splitlines() if line.strip())
    return {"commit": _git("rev-parse", "HEAD").strip() or "unknown", "inputs_modified": bool(modified),
            "modified_files": modified}


def write_result(frame: pd.DataFrame, out: Path, name: str, provenance: dict[str, Any]) -> Path:
    """Write ``out/name.csv`` and ``out/name.json`` (``{"file": ..., **provenance}``); returns the CSV path."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{name}.csv"
    frame.to_csv(csv_path, index=False)
    meta = {"file": csv_path.name, **provenance}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return csv_path

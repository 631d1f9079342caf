"""Where a result in ``data/`` came from: every result file (Parquet from a sweep; CSV for small reference tables)
has a JSON provenance file beside it.

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

__all__ = ["DATA_DIR", "code_version", "write_result", "write_sweep", "sweep_provenance"]

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
    """Write ``out/name.parquet`` and ``out/name.json`` (``{"file": ..., **provenance}``); returns the Parquet
    path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    meta: dict[str, Any] = {"file": path.name, **provenance}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return path


def _seeds_text(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"range({seeds[0]}, {seeds[0] + len(seeds)})"
    return repr(seeds)


def describe_function(fn: Any) -> str:
    """``module.name``, with a partial's bound arguments: ``m.f('queue', x=1)``."""
    import functools

    if isinstance(fn, functools.partial):
        args = [repr(a) for a in fn.args] + [f"{k}={v!r}" for k, v in fn.keywords.items()]
        return f"{describe_function(fn.func)}({', '.join(args)})"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def sweep_provenance(*, fn: Any, grid: list[dict[str, Any]], seeds: list[int], backend: str, workers: int,
                     wall_s: float, extra: Any = None) -> dict[str, Any]:
    """What a sweep's JSON sidecar holds: code version (commit, dirty), function, grid, seeds, backend, wall time."""
    import platform

    import kafkalab

    version = code_version()
    return {"kafkalab_version": kafkalab.__version__, "commit": version["commit"], "dirty": version["inputs_modified"],
            "modified_files": version["modified_files"],
            "function": describe_function(fn),
            "grid": grid, "seeds": _seeds_text(seeds), "runs": len(grid) * len(seeds), "backend": backend,
            "workers": workers, "wall_s": round(wall_s, 3), "python": platform.python_version(),
            **dict(extra or {})}


def write_sweep(frame: pd.DataFrame, out: Path, *, fn: Any, grid: list[dict[str, Any]], seeds: list[int],
                backend: str, workers: int, wall_s: float, extra: Any = None) -> Path:
    """Write ``out.parquet`` and ``out.json`` (a ``.parquet`` suffix on ``out`` is accepted); returns the Parquet
    path."""
    out = out.with_suffix("") if out.suffix == ".parquet" else out
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.parquet"
    frame.to_parquet(path, index=False)
    meta = {"file": path.name, **sweep_provenance(fn=fn, grid=grid, seeds=seeds, backend=backend, workers=workers,
                                                   wall_s=wall_s, extra=extra)}
    (out.parent / f"{out.name}.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return path

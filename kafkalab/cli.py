"""The ``kafkalab`` command: list, run, check, replay, bench, data, lab.

``kafkalab list`` prints the named experiments (:mod:`kafkalab.experiments.registry`) and their parameters;
``run NAME --param k=v[,v2...] --seeds 0:20 --jobs 2 [--scheduler ADDRESS] --out data/NAME`` sweeps one over a grid
(comma-separated values make the grid) and seeds with :func:`kafkalab.experiments.sweep`, on joblib or a Dask
cluster; ``check H.parquet`` judges a saved history (exit status 1 when invalid); ``replay NAME --seed N`` runs one
seed again and prints its trace digest and verdict (a workload's, or an experiment trial's through the trace capture
of :mod:`kafkalab.experiments.trace`); ``bench`` runs every benchmark and prints one table; ``data``
regenerates ``data/`` at full size (``make experiments``); ``lab`` opens JupyterLab on the notebooks. Bad input exits
with status 2 and one line naming the argument, what is allowed and the closest name.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "parse_seeds", "parse_params"]

REPO = Path(__file__).resolve().parents[1]


def parse_seeds(text: str) -> list[int]:
    """``"0:20"`` (a range), ``"7"`` (one seed) or ``"1,4,9"`` (a list)."""
    try:
        if ":" in text:
            lo, hi = text.split(":", 1)
            seeds = list(range(int(lo), int(hi)))
        else:
            seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(f"--seeds must look like 0:20, 7 or 1,4,9; got {text!r}") from None
    if not seeds:
        raise ValueError(f"--seeds {text!r} is empty")
    return seeds


def parse_params(experiment: Any, items: Sequence[str]) -> dict[str, list[Any]]:
    """``["k=v", "k2=a,b"]`` as a grid {k: [v], k2: [a, b]}, each value typed like the parameter's default."""
    from kafkalab.experiments.registry import coerce

    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param must be NAME=VALUE (comma-separated values make a grid), got {item!r}")
        name, text = item.split("=", 1)
        name = name.strip()
        grid[name] = [coerce(experiment, name, v) for v in text.split(",")]
    return grid


def _list(_: argparse.Namespace) -> int:
    from kafkalab.experiments.registry import EXPERIMENTS

    for name, exp in EXPERIMENTS.items():
        print(f"{name:<16}{exp.doc}")
        for param, default in exp.params.items():
            print(f"{'':<18}{param} = {default!r}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from kafkalab.experiments import sweep
    from kafkalab.experiments.registry import get_experiment

    exp = get_experiment(args.name)
    grid = parse_params(exp, args.param)
    seeds = parse_seeds(args.seeds)
    command = "kafkalab " + " ".join(args.argv)
    frame = sweep(exp.fn, grid or None, seeds, n_jobs=args.jobs, client=args.scheduler,
                  backend="dask" if args.scheduler else args.backend, out=args.out, progress=not args.quiet,
                  provenance={"experiment": exp.name, "defaults": exp.params, "command": command})
    print(f"{exp.name}: {len(frame)} rows from {len(seeds)} seed(s) x {max(1, _points(grid))} point(s)")
    if "verdict" in frame.columns:
        keys = [k for k in grid if k in frame.columns]
        table = frame.groupby(keys, sort=False)["verdict"].value_counts() if keys else frame["verdict"].value_counts()
        print(table.to_string())
    else:
        print(frame.head(10).to_string(index=False))
    if args.out:
        print(f"wrote {Path(str(args.out)).with_suffix('').as_posix()}.parquet and .json")
    return 0


def _points(grid: dict[str, list[Any]]) -> int:
    n = 1
    for values in grid.values():
        n *= len(values)
    return n


def _check(args: argparse.Namespace) -> int:
    from kafkalab.check import History, analyze

    history = History.load(args.history)
    rc: Any = {"all": True, "none": False}.get(args.read_committed, None)
    if args.read_committed == "auto":
        rc = history.metadata.get("read_committed", False)       # what the workload that saved it judged
    elif rc is None:
        rc = [p.strip() for p in args.read_committed.split(",")]
    report = analyze(history, read_committed=rc)
    meta = history.metadata
    if meta:
        print("run: " + ", ".join(f"{k}={meta[k]!r}" for k in ("workload", "seed", "params", "config") if k in meta))
    print(report.to_text(rows=args.rows))
    return 1 if report.verdict == "invalid" else 0


def _replay(args: argparse.Namespace) -> int:
    from kafkalab.experiments.registry import get_experiment

    exp = get_experiment(args.name)
    grid = parse_params(exp, args.param)
    many = [k for k, v in grid.items() if len(v) != 1]
    if many:
        raise ValueError(f"replay runs one point: give one value for {', '.join(many)}")
    params = {k: v[0] for k, v in grid.items()}
    if exp.replay is None:
        return _replay_trial(exp, args, params)
    result = exp.replay(args.seed, **params)
    report = result.report()
    print(f"{exp.name} seed {args.seed} {params or ''}".rstrip())
    print(f"trace digest {result.digest}")
    print(f"verdict {report.verdict}")
    print(report.to_text(rows=args.rows))
    if args.save:
        print(f"history saved to {result.save(args.save)}")
    return 0


def _replay_trial(exp: Any, args: argparse.Namespace, params: dict[str, Any]) -> int:
    """Replay an experiment's trial under a trace capture (:mod:`kafkalab.experiments.trace`): its row, the
    digest of every simulation it built, and the verdict on its client history when it keeps one."""
    import pandas as pd

    from kafkalab.experiments.sweep import _as_rows
    from kafkalab.experiments.trace import capture

    with capture() as trace:
        rows = _as_rows(exp.fn(**params, seed=args.seed))
    print(f"{exp.name} seed {args.seed} {params or ''}".rstrip())
    print((rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)).to_string(index=False))
    if not trace.sims:
        print("trace digest n/a (this experiment built no simulation it hands to the trace capture)")
        return 0
    print(f"trace digest {trace.digest}")
    report = trace.report()
    if report is None:
        print("verdict n/a: no client history (a Raft playground run; its safety invariants are checked at every "
              "event, and a violation would have stopped it)")
        return 0
    print(f"verdict {report.verdict}")
    print(report.to_text(rows=args.rows))
    if args.save:
        print(f"history saved to {trace.histories[0].save(args.save)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else REPO / "benchmarks"
    scripts = sorted(folder.glob("*.py")) if folder.is_dir() else []
    if not scripts:
        raise ValueError(f"no benchmarks in {folder} (run from a kafkalab checkout, or give --dir)")
    names = [p.stem for p in scripts]
    if args.only:
        from kafkalab.check.report import closest_hint

        for name in args.only:
            if name not in names:
                raise ValueError(f"unknown benchmark {name!r}{closest_hint(name, names)}; benchmarks: {', '.join(names)}")
        scripts = [p for p in scripts if p.stem in args.only]
    rows = []
    for script in scripts:
        print(f"== {script.name}", file=sys.stderr)
        start = time.perf_counter()       # wall time of a benchmark, for the table
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])})
        wall = time.perf_counter() - start
        sys.stderr.write(proc.stdout)
        last = (proc.stdout.strip().splitlines() or ["{}"])[-1]
        try:
            result = json.loads(last)
        except json.JSONDecodeError:
            result = {"error": (proc.stderr.strip().splitlines() or ["no JSON line"])[-1]}
        result.pop("benchmark", None)
        rows.append((script.stem, proc.returncode, wall, result))
    print(f"{'benchmark':<14}{'exit':>5}{'wall s':>9}  result")
    for name, code, wall, result in rows:
        text = ", ".join(f"{k}={v}" for k, v in result.items())
        print(f"{name:<14}{code:>5}{wall:>9.1f}  {text[:160]}")
    return max((code for _, code, _, _ in rows), default=0)


def _data(args: argparse.Namespace) -> int:
    from kafkalab.experiments.__main__ import MODULES
    from kafkalab.experiments.__main__ import main as run_modules

    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        from kafkalab.check.report import closest_hint

        raise ValueError(f"unknown experiment module {unknown[0]!r}{closest_hint(unknown[0], MODULES)}; "
                         f"modules: {', '.join(MODULES)}")
    return run_modules(list(args.modules), jobs=args.jobs)


def _lab(args: argparse.Namespace) -> int:
    command = ["jupyter", "lab", f"--notebook-dir={REPO / 'notebooks'}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")     # JupyterLab refuses root unless told; containers often are root
    command += args.lab_args
    if args.dry_run:
        print(" ".join(command))
        return 0
    return subprocess.call(command)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafkalab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="experiments and their parameters").set_defaults(handler=_list)
    run = sub.add_parser("run", help="sweep an experiment over parameters and seeds")
    run.add_argument("name")
    run.add_argument("--param", action="append", default=[], metavar="K=V[,V2]")
    run.add_argument("--seeds", default="0:1")
    run.add_argument("--jobs", type=int, default=1)
    run.add_argument("--backend", default="joblib", choices=("joblib", "dask"))
    run.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler, tcp://host:8786")
    run.add_argument("--out", default=None, help="write OUT.parquet and OUT.json")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)
    check = sub.add_parser("check", help="judge a saved history")
    check.add_argument("history")
    check.add_argument("--read-committed", default="auto",
                       help="all, none, process ids (comma-separated), or auto: as the saving workload judged")
    check.add_argument("--rows", type=int, default=20)
    check.set_defaults(handler=_check)
    replay = sub.add_parser("replay", help="run one seed again: trace digest and verdict")
    replay.add_argument("name")
    replay.add_argument("--seed", type=int, required=True)
    replay.add_argument("--param", action="append", default=[], metavar="K=V")
    replay.add_argument("--save", default=None, help="save the history as Parquet")
    replay.add_argument("--rows", type=int, default=20)
    replay.set_defaults(handler=_replay)
    bench = sub.add_parser("bench", help="every benchmark, one table")
    bench.add_argument("--only", nargs="*", default=None)
    bench.add_argument("--dir", default=None)
    bench.set_defaults(handler=_bench)
    data = sub.add_parser("data", help="regenerate data/ at full size (make experiments)")
    data.add_argument("modules", nargs="*", default=[])
    data.add_argument("--jobs", type=int, default=1)
    data.set_defaults(handler=_data)
    lab = sub.add_parser("lab", help="open JupyterLab on the notebooks")
    lab.add_argument("--dry-run", action="store_true")
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)
    lab.set_defaults(handler=_lab)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kafkalab`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.handler(args))
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"kafkalab {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

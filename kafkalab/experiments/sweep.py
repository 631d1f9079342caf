"""``sweep(fn, grid, seeds)``: run ``fn(**params, seed=s)`` over a parameter grid and seeds, on one core, on every
core with joblib, or on a Dask cluster, and get one tidy DataFrame back, the same row for row whichever it was.

Every run is ``(code version, config, seed)`` (DESIGN.md), so runs are independent and their results can be computed
anywhere and put back in order: the frame is ordered by grid point, then seed, never by completion. Seeds are grouped
into tasks (a grid point and a slice of its seeds) of a size that gives each worker several tasks to balance load
without one tiny task per seed: a Dask task costs a fraction of a millisecond and a joblib batch a little more, a run
of the simulation tens of milliseconds or more. ``n_jobs=1`` runs in this process, without pickling anything.

With ``out=``, the frame is written as Parquet (pyarrow) with a JSON sidecar of provenance: kafkalab version, git
commit and whether the tree was dirty, the function, grid, seeds, fixed config, backend, workers, wall time
(:mod:`kafkalab.experiments.provenance`). The wall clock is read here only to report how long the sweep took;
nothing inside a run reads it.

On a Dask cluster: ``dask scheduler`` on one machine, ``dask worker tcp://SCHEDULER:8786`` on the others (each with
kafkalab importable), then ``sweep(..., backend="dask", client="tcp://SCHEDULER:8786")`` or pass a
``dask.distributed.Client``.
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sweep", "grid_points", "BACKENDS", "tasks_for"]

BACKENDS = ("joblib", "dask")
Task = tuple[int, tuple[int, ...]]           # (grid point index, seeds)


def grid_points(grid: Mapping[str, Iterable[Any]] | Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The grid's points in order: a mapping of name -> values is its cartesian product (first name slowest); a list
    of mappings is taken as the points themselves; None is one empty point."""
    if grid is None:
        return [{}]
    if isinstance(grid, Mapping):
        names = list(grid)
        values = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"grid keys must be parameter names (str), got {name!r}")
            options = grid[name]
            if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
                raise TypeError(f"grid[{name!r}] must be a list of values, got {options!r} (wrap one value: [value])")
            values.append(list(options))
            if not values[-1]:
                raise ValueError(f"grid[{name!r}] is empty: give at least one value")
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    if isinstance(grid, Sequence) and all(isinstance(p, Mapping) for p in grid):
        return [dict(p) for p in grid]
    raise TypeError(f"grid must be a mapping of parameter -> values or a list of parameter mappings, got {grid!r}")


def _seed_list(seeds: Iterable[int] | int) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = range(seeds)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be an int (that many seeds from 0) or an iterable of ints, got {seeds!r}")
    out = list(seeds)
    bad = [s for s in out if not isinstance(s, int) or isinstance(s, bool)]
    if bad or not out:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {out!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds repeat: {sorted({s for s in out if out.count(s) > 1})}")
    return out


def tasks_for(points: int, seeds: Sequence[int], workers: int, chunk_size: int | None = None) -> list[Task]:
    """Group (point, seed) runs into tasks: each a grid point and a consecutive slice of seeds, about four tasks per
    worker in all (or slices of ``chunk_size`` seeds)."""
    if chunk_size is None:
        per_point = max(1, math.ceil(4 * workers / points))     # tasks per point for ~4 tasks per worker
        chunk_size = max(1, math.ceil(len(seeds) / per_point))
    return [(p, tuple(seeds[i:i + chunk_size])) for p in range(points) for i in range(0, len(seeds), chunk_size)]


def _run_task(fn: Callable[..., Any], params: dict[str, Any], seeds: tuple[int, ...]) -> list[tuple[int, Any]]:
    return [(seed, _as_rows(fn(**params, seed=seed))) for seed in seeds]


def _as_rows(result: Any) -> pd.DataFrame | list[dict[str, Any]]:
    """A run's result as a DataFrame or a list of row dicts (kept as dicts, so one frame is built from all rows at
    the end and column types come out as they would from the rows in one list)."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, Mapping):
        return [dict(result)]
    if isinstance(result, Sequence) and not isinstance(result, (str, bytes)) and \
            all(isinstance(r, Mapping) for r in result):
        return [dict(r) for r in result]
    raise TypeError(f"a swept function must return a DataFrame, a dict (one row) or a list of dicts, got "
                    f"{type(result).__name__}")


def sweep(fn: Callable[..., Any], grid: Mapping[str, Iterable[Any]] | Sequence[Mapping[str, Any]] | None = None,
          seeds: Iterable[int] | int = (0,), *, n_jobs: int = 1, backend: str = "joblib", client: Any = None,
          out: str | Path | None = None, label: bool = True, chunk_size: int | None = None, progress: bool = True,
          on_result: Callable[[pd.DataFrame], None] | None = None,
          provenance: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run ``fn(**point, seed=s)`` for every grid point and seed; one DataFrame, ordered by point then seed.

    ``fn`` returns a DataFrame, a dict (one row) or a list of dicts (rows of dicts from every run become one frame
    at once, so column types are those of ``pd.DataFrame(all_rows)``); with ``label`` (default) each row gets the
    point's parameters and the seed as leading columns (unless ``fn`` returned them itself). ``n_jobs``: worker
    processes for joblib (1 runs here, -1 every core) or for a local Dask cluster started when ``backend="dask"``
    and ``client`` is None. ``client``: a ``dask.distributed.Client`` or a scheduler address (implies Dask).
    ``out``: write ``out.parquet`` and ``out.json`` (provenance, plus ``provenance``). ``on_result(frame)`` is called
    with each task's rows as they arrive (for live plots); a ``tqdm.auto`` bar counts runs unless ``progress=False``.
    """
    import pandas as pd

    if not callable(fn):
        raise TypeError(f"fn must be callable (fn(**params, seed=s)), got {fn!r}")
    if backend not in BACKENDS:
        from kafkalab.check.report import closest_hint

        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}{closest_hint(backend, BACKENDS)}")
    if client is not None:
        backend = "dask"
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (every core), got {n_jobs!r}")
    points = grid_points(grid)
    seed_list = _seed_list(seeds)
    workers = _workers(n_jobs, backend, client)
    tasks = tasks_for(len(points), seed_list, workers, chunk_size)
    started = time.perf_counter()      # wall time for the provenance only
    results: dict[int, list[tuple[int, Any]]] = {}
    bar = _bar(len(points) * len(seed_list), progress)
    try:
        for index, rows in _execute(fn, points, tasks, backend, n_jobs, client):
            results[index] = rows
            if bar is not None:
                bar.update(len(rows))
            if on_result is not None:
                on_result(_assemble([rows], [points[tasks[index][0]]], label))
    finally:
        if bar is not None:
            bar.close()
    frame = _assemble([results[i] for i in range(len(tasks))], [points[p] for p, _ in tasks], label)
    if out is not None:
        from kafkalab.experiments.provenance import write_sweep

        write_sweep(frame, Path(out), fn=fn, grid=points, seeds=seed_list, backend=backend, workers=workers,
                    wall_s=time.perf_counter() - started, extra=provenance)
    return frame if len(frame.columns) else pd.DataFrame()


def _workers(n_jobs: int, backend: str, client: Any) -> int:
    import os

    if backend == "dask" and client is not None and not isinstance(client, str):
        try:
            return max(1, len(client.scheduler_info().get("workers", {})))
        except Exception:   # noqa: BLE001 - only a hint for the task size
            return max(1, n_jobs)
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc="sweep", leave=False)


def _execute(fn: Callable[..., Any], points: list[dict[str, Any]], tasks: list[Task], backend: str, n_jobs: int,
             client: Any) -> Iterable[tuple[int, list[tuple[int, Any]]]]:
    """(task index, [(seed, frame)]) as tasks complete, in any order."""
    if backend == "joblib" and n_jobs == 1:
        for i, (p, seeds) in enumerate(tasks):
            yield i, _run_task(fn, points[p], seeds)
        return
    if backend == "joblib":
        from joblib import Parallel, delayed

        def indexed(i: int, p: int, seeds: tuple[int, ...]) -> tuple[int, list[tuple[int, Any]]]:
            return i, _run_task(fn, points[p], seeds)

        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        yield from parallel(delayed(indexed)(i, p, seeds) for i, (p, seeds) in enumerate(tasks))
        return
    yield from _execute_dask(fn, points, tasks, n_jobs, client)


def _execute_dask(fn: Callable[..., Any], points: list[dict[str, Any]], tasks: list[Task], n_jobs: int,
                  client: Any) -> Iterable[tuple[int, list[tuple[int, Any]]]]:
    from distributed import Client, LocalCluster, as_completed

    own_cluster = own_client = None
    if client is None:
        own_cluster = LocalCluster(n_workers=max(1, n_jobs if n_jobs > 0 else 2), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(client, str):
        client = own_client = Client(client)
    try:
        futures = {client.submit(_run_task, fn, points[p], seeds, pure=False): i
                   for i, (p, seeds) in enumerate(tasks)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def _assemble(task_rows: list[list[tuple[int, Any]]], task_points: list[dict[str, Any]], label: bool) -> pd.DataFrame:
    import pandas as pd

    runs = [(point, seed, result) for rows, point in zip(task_rows, task_points, strict=True) for seed, result in rows]
    if all(isinstance(result, list) for _, _, result in runs):
        records = []
        for point, seed, result in runs:
            for row in result:
                if label:
                    labels = {k: v for k, v in {**point, "seed": seed}.items() if k not in row}
                    row = {**labels, **row}
                records.append(row)
        return pd.DataFrame(records)
    frames = []
    for point, seed, result in runs:
        frame = pd.DataFrame(result) if isinstance(result, list) else result
        if label:
            extra = {k: v for k, v in {**point, "seed": seed}.items() if k not in frame.columns}
            if extra:
                frame = frame.copy()
                for pos, (k, v) in enumerate(extra.items()):
                    frame.insert(pos, k, [v] * len(frame))
        frames.append(frame)
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)

"""``python -m kafkalab.experiments [name ...]``: run every experiment module's ``main()`` at full size (writes data/).

Add a module by adding its name to :data:`MODULES`; each ``main(argv)`` takes its own options (at least ``--jobs``,
the worker processes of its sweeps) and returns an exit code. ``kafkalab data --jobs N`` calls this.
"""
from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence

__all__ = ["MODULES", "main"]

#: Experiment modules in the order they run.
MODULES: tuple[str, ...] = (
    "elections",
    "failover",
    "throughput",
    "rebalance",
)


def main(argv: Sequence[str] | None = None, jobs: int = 1) -> int:
    """Run the named modules' ``main`` (every module when none is named), with ``--jobs`` worker processes."""
    names = list(sys.argv[1:] if argv is None else argv) or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown experiment(s) {', '.join(unknown)}; experiments: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    for name in names:
        start = time.monotonic()   # wall time of the command, for the user; nothing in a simulation reads it
        print(f"== kafkalab.experiments.{name}", file=sys.stderr)
        code = importlib.import_module(f"kafkalab.experiments.{name}").main(["--jobs", str(jobs)])
        print(f"== {name}: exit {code} in {time.monotonic() - start:.0f} s", file=sys.stderr)
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

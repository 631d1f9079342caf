"""One helper for the determinism tests that run a scenario in fresh interpreters under other ``PYTHONHASHSEED``s."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def outputs_under_hash_seeds(code: str, hash_seeds: Sequence[str] = ("0", "4242")) -> list[str]:
    """Run ``python -c code`` from the repository root once per hash seed; each run's stdout, stripped."""
    outputs = []
    for hash_seed in hash_seeds:
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                             cwd=ROOT)
        outputs.append(out.stdout.strip())
    return outputs

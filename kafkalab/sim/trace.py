"""Event traces: a digest of everything that ran, to prove two runs identical.

A :class:`Tracer` hooks the kernel and folds every ``(time_ms, label)`` line into a SHA-256. Labels are event names and
the lines components emit with ``kernel.trace(...)`` (message deliveries, role changes), never object ids, so the digest
is the same in any process under any ``PYTHONHASHSEED``. ``keep=True`` also keeps the lines for a diff.
"""
from __future__ import annotations

import hashlib

from kafkalab.sim.kernel import Kernel

__all__ = ["Tracer"]


class Tracer:
    """Digest (and optionally keep) the event trace of a kernel from now on."""

    def __init__(self, kernel: Kernel, keep: bool = False) -> None:
        self._hash = hashlib.sha256()
        self.lines: list[str] | None = [] if keep else None
        self.count = 0
        kernel.add_trace_hook(self._on_event)

    def _on_event(self, time_ms: float, label: str) -> None:
        line = f"{time_ms!r} {label}"
        self._hash.update(line.encode())
        self._hash.update(b"\n")
        self.count += 1
        if self.lines is not None:
            self.lines.append(line)

    def digest(self) -> str:
        """Hex SHA-256 of the trace so far."""
        return self._hash.hexdigest()

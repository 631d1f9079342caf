"""A history's older events on disk: sealed chunks written to Parquet (pyarrow) and read back when the history is read.

A long run's history outgrows memory (a send keeps its key and value alive long after the log deleted them), so a
:class:`~kafkalab.check.history.History` given a :class:`HistorySpill` keeps at most ``max_events`` events in memory:
each time it seals a chunk (see ``History._seal``) and holds more than that, it writes its oldest sealed chunks, one
Parquet file each (``history-000000.parquet``, ``history-000001.parquet`` ...), and drops them from memory. Reading
the history (``ops``, ``to_frame()``, ``save()``, every checker) reads the files back, a chunk at a time, so every
reader sees the same events as without spilling. A chunk is immutable once sealed; operations still open when their
invoke is written keep their invoke in memory for their completion (``History._spill_old``).

A file holds one row per event with the :class:`~kafkalab.check.history.Op` fields as columns. A column whose values
are all str, all bytes, all int or all float (or None) is stored as that Arrow type; any other column (a process id
that is sometimes an int, keys of mixed types, bools) is stored *serialized*: one pickle per value in a binary column.
A poll's or transaction's ``reads`` (a tuple of (topic, partition, offset, key, value)) and an operation's ``offsets``
are nested, so they are always serialized that way (null when empty). Which column holds what is in the file's
key-value metadata under ``kafkalab-spill``. Same events => byte-identical files (no times, paths or random names are
written); a temporary directory's own name is random, its files are not.

Not Kafka: Jepsen keeps histories in memory too; this follows Elle/Jepsen's practice of writing history chunks to
disk for long runs (``jepsen.store``), in Parquet because :mod:`kafkalab.check.store` already uses it.
"""
from __future__ import annotations

import json
import pickle
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HistorySpill", "SpillDir"]

_META_KEY = b"kafkalab-spill"
_FORMAT = 1
#: Op field names, in order, as columns
COLUMNS = ("op", "time_ms", "process", "type", "f", "topic", "partition", "key", "value", "offset", "error",
           "reads", "offsets")
_NESTED = ("reads", "offsets")


@dataclass(frozen=True)
class HistorySpill:
    """Spill a history's older events to Parquet files once more than ``max_events`` are in memory.

    ``dir``: the directory for the files (created if missing; it must hold no spill files already, so two histories
    never share one); ``None`` = a temporary directory, removed when the history is closed (:meth:`History.close`)
    or garbage collected. ``max_events``: events (invoke/ok/fail/info) kept in memory; the newest unsealed rows
    can exceed it by one chunk at most, and a run of sends at one virtual time is never split.

    >>> HistorySpill(max_events=1_000_000)
    HistorySpill(dir=None, max_events=1000000)
    """

    dir: str | Path | None = None
    max_events: int = 1_000_000

    def __post_init__(self) -> None:
        if self.dir is not None and not isinstance(self.dir, (str, Path)):
            raise TypeError(f"HistorySpill dir must be a str, a pathlib.Path or None (a temporary directory), got "
                            f"{type(self.dir).__name__}")
        if isinstance(self.max_events, bool) or not isinstance(self.max_events, int):
            raise TypeError(f"HistorySpill max_events must be an int (events kept in memory), got "
                            f"{type(self.max_events).__name__}")
        if self.max_events < 1:
            raise ValueError(f"HistorySpill max_events must be >= 1, got {self.max_events}")


class SpillDir:
    """The files of one history: writes chunks, reads them back, removes a temporary directory when closed."""

    def __init__(self, spec: HistorySpill) -> None:
        self.spec = spec
        if spec.dir is None:
            self.path = Path(tempfile.mkdtemp(prefix="kafkalab-history-"))
            self._cleanup: weakref.finalize | None = weakref.finalize(self, shutil.rmtree, str(self.path), True)
        else:
            path = Path(spec.dir)
            if path.exists() and not path.is_dir():
                raise NotADirectoryError(f"HistorySpill dir {str(path)!r} is a file, not a directory")
            path.mkdir(parents=True, exist_ok=True)
            taken = sorted(p.name for p in path.glob("history-*.parquet"))
            if taken:
                raise FileExistsError(f"HistorySpill dir {str(path)!r} already holds spill files ({taken[0]} ...): "
                                      f"name an empty directory, or None for a temporary one")
            self.path = path
            self._cleanup = None
        self.closed = False
        self.files = 0

    def write(self, columns: Sequence[Sequence[Any]]) -> Path:
        """Write one chunk's events (``columns``: one sequence per :data:`COLUMNS` name); returns the file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._check_open()
        arrays, kinds = [], {}
        for name, values in zip(COLUMNS, columns, strict=True):
            if name in _NESTED:
                arrays.append(pa.array([_dumps(_plain(name, x)) if x else None for x in values], pa.binary()))
                kinds[name] = "pickle"
            else:
                array, kinds[name] = _typed_array(values)
                arrays.append(array)
        meta = json.dumps({"format": _FORMAT, "kinds": kinds}, sort_keys=True).encode()
        table = pa.Table.from_arrays(arrays, names=list(COLUMNS)).replace_schema_metadata({_META_KEY: meta})
        path = self.path / f"history-{self.files:06d}.parquet"
        self.files += 1
        pq.write_table(table, path)
        return path

    def read(self, path: Path) -> list[list[Any]]:
        """The columns :meth:`write` wrote to ``path``, as Python values (``offsets`` as pairs or None)."""
        import pyarrow.parquet as pq

        self._check_open()
        table = pq.read_table(path)
        kinds = json.loads(table.schema.metadata[_META_KEY])["kinds"]
        out = []
        for name in COLUMNS:
            values = table.column(name).to_pylist()
            if kinds[name] == "pickle":
                values = [_nested(name, b) for b in values] if name in _NESTED else [pickle.loads(b) for b in values]
            out.append(values)
        return out

    def close(self) -> None:
        """Forget the files; a temporary directory is removed (a named one is kept)."""
        self.closed = True
        if self._cleanup is not None:
            self._cleanup()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"this history was closed: its spilled events in {str(self.path)!r} are gone")


def _plain(name: str, x: Any) -> Any:
    # offsets are a read-only mapping in an Op; stored as pairs
    return tuple(x.items()) if name == "offsets" else x


def _nested(name: str, data: bytes | None) -> Any:
    # reads: a tuple (empty when null); offsets: the (topic, partition) -> offset pairs, or None
    if data is None:
        return () if name == "reads" else None
    return pickle.loads(data)


def _dumps(x: Any) -> bytes:
    return pickle.dumps(x, protocol=5)


def _typed_array(values: Sequence[Any]) -> tuple[Any, str]:
    import pyarrow as pa

    types = set(map(type, values))
    types.discard(type(None))
    if types <= {str}:
        return pa.array(values, pa.string()), "str"
    if types == {bytes}:
        return pa.array(values, pa.binary()), "bytes"
    if types == {float}:
        return pa.array(values, pa.float64()), "float"
    if types == {int}:
        try:
            return pa.array(values, pa.int64()), "int"
        except OverflowError:
            pass
    return pa.array([_dumps(x) for x in values], pa.binary()), "pickle"

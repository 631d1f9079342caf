"""Histories on disk: one Parquet file per history (pyarrow), so a failing run can be judged later or elsewhere.

One row per event, in history order, with the :class:`~kafkalab.check.history.Op` fields as columns. A poll's
``reads`` (every record it returned, a whole fetched batch expanded) and an operation's ``offsets`` are nested list
columns, so a row is exactly one event; a producer's batch acknowledgement, stored in memory as one row, is saved as
the one ``ok`` event per record that reading it gives. Keys, values and process ids may be bytes, str, int, float,
bool or None: each is stored as a (kind, bytes) pair so it comes back with its type. The history's ``metadata`` (the
cluster's seed and config, set by :class:`kafkalab.Cluster`, plus anything a workload adds) and the ids of operations
still open travel in the file's key-value metadata under ``kafkalab``; :func:`load` rebuilds an equal history
(``list(loaded.ops) == list(saved.ops)``), with the open operations still open.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafkalab.check.history import History

__all__ = ["save_history", "load_history", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META_KEY = b"kafkalab"


def _encode(x: Any, what: str) -> tuple[str, bytes | None]:
    if x is None:
        return "none", None
    if isinstance(x, bytes):
        return "bytes", x
    if isinstance(x, str):
        return "str", x.encode()
    if isinstance(x, bool):
        return "bool", b"1" if x else b"0"
    if isinstance(x, int):
        return "int", str(x).encode()
    if isinstance(x, float):
        return "float", struct.pack("<d", x)
    raise TypeError(f"cannot save a {what} of type {type(x).__name__}: keys, values and process ids must be bytes, "
                    f"str, int, float, bool or None")


def _decode(kind: str, data: bytes | None) -> Any:
    if kind == "none":
        return None
    assert data is not None
    if kind == "bytes":
        return data
    if kind == "str":
        return data.decode()
    if kind == "bool":
        return data == b"1"
    if kind == "int":
        return int(data)
    if kind == "float":
        return struct.unpack("<d", data)[0]
    raise ValueError(f"unknown stored kind {kind!r} (a history file written by a newer kafkalab?)")


def _schema() -> Any:
    import pyarrow as pa

    tagged = [("kind", pa.string()), ("data", pa.binary())]
    read = pa.struct([("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64()),
                      ("key_kind", pa.string()), ("key", pa.binary()), ("value_kind", pa.string()),
                      ("value", pa.binary())])
    offset = pa.struct([("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64())])
    return pa.schema([
        ("op", pa.int64()), ("time_ms", pa.float64()), ("process", pa.struct(tagged)), ("type", pa.string()),
        ("f", pa.string()), ("topic", pa.string()), ("partition", pa.int32()), ("key", pa.struct(tagged)),
        ("value", pa.struct(tagged)), ("offset", pa.int64()), ("error", pa.string()), ("reads", pa.list_(read)),
        ("offsets", pa.list_(offset)),
    ])


def save_history(history: History, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``history`` to ``path`` (Parquet); ``metadata`` is merged over ``history.metadata``. Returns the path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    cols: dict[str, list[Any]] = {name: [] for name in _schema().names}
    for e in history.ops:
        cols["op"].append(e.op)
        cols["time_ms"].append(float(e.time_ms))
        kind, data = _encode(e.process, "process id")
        cols["process"].append({"kind": kind, "data": data})
        cols["type"].append(e.type)
        cols["f"].append(e.f)
        cols["topic"].append(e.topic)
        cols["partition"].append(e.partition)
        for name, x in (("key", e.key), ("value", e.value)):
            kind, data = _encode(x, name)
            cols[name].append({"kind": kind, "data": data})
        cols["offset"].append(e.offset)
        cols["error"].append(e.error)
        reads = []
        for topic, partition, offset, key, value in e.reads:
            kk, kd = _encode(key, "key")
            vk, vd = _encode(value, "value")
            reads.append({"topic": topic, "partition": partition, "offset": offset, "key_kind": kk, "key": kd,
                          "value_kind": vk, "value": vd})
        cols["reads"].append(reads)
        cols["offsets"].append([{"topic": t, "partition": p, "offset": o} for (t, p), o in e.offsets.items()])
    meta = {"format": FORMAT_VERSION, "metadata": {**history.metadata, **dict(metadata or {})},
            "open": [e.op for e in history.open_ops]}
    table = pa.Table.from_pydict(cols, schema=_schema())
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta, default=str, sort_keys=True).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def load_history(path: str | Path) -> History:
    """The history saved at ``path`` by :func:`save_history`, with its metadata and open operations."""
    import pyarrow.parquet as pq

    from kafkalab.check import history as hmod

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no history file at {str(path)!r}")
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise ValueError(f"{str(path)!r} is a Parquet file but not a kafkalab history (no 'kafkalab' metadata)")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} holds history format {meta.get('format')!r}; this kafkalab reads "
                         f"format {FORMAT_VERSION}")
    h = hmod.History()
    h.metadata.update(meta.get("metadata", {}))
    open_ids = set(meta.get("open", []))
    data = table.to_pydict()
    rows = h._rows
    last_op = -1
    for i in range(table.num_rows):
        reads = tuple((r["topic"], r["partition"], r["offset"], _decode(r["key_kind"], r["key"]),
                       _decode(r["value_kind"], r["value"])) for r in data["reads"][i])
        offsets = tuple(((o["topic"], o["partition"]), o["offset"]) for o in data["offsets"][i]) or None
        p, k, v = data["process"][i], data["key"][i], data["value"][i]
        row = (data["op"][i], data["time_ms"][i], _decode(p["kind"], p["data"]), data["type"][i], data["f"][i],
               data["topic"][i], data["partition"][i], _decode(k["kind"], k["data"]), _decode(v["kind"], v["data"]),
               data["offset"][i], data["error"][i], reads, offsets)
        rows.append(row)
        if row[0] in open_ids and row[3] == "invoke":
            h._open[row[0]] = row
        last_op = max(last_op, row[0])
        if len(rows) >= hmod._CHUNK:
            h._seal()
            rows = h._rows
    h._next = last_op + 1
    h._open_sends = bytearray(h._next)
    return h

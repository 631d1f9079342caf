"""SQLite connectors in the shape of Confluent's JDBC source and sink (the connectors people use), over real SQLite
files with the standard library's ``sqlite3``.

How it works. ``SqliteSource`` polls each table (``table.whitelist``, spread over ``tasks.max`` tasks) or one
``query`` every ``poll.interval.ms`` of virtual time, as the JDBC source's ``TableQuerier`` does:

- ``mode=incrementing``: rows whose ``incrementing.column.name`` is above the committed offset
  (``{"incrementing": n}``), ascending;
- ``mode=timestamp+incrementing``: rows after ``(timestamp, id)`` of the committed offset
  (``{"timestamp": t, "incrementing": n}``) in ``(timestamp, id)`` order, so updated rows (a newer timestamp) are
  read again;
- ``mode=bulk``: the whole table every poll.

Each row is a struct value (schema from the column types: INTEGER -> int64, REAL -> float64, TEXT -> string, BLOB ->
bytes; NULL-able) to ``topic.prefix`` + table, source partition ``{"table": name}`` (or ``{"query": q}``), at most
``batch.max.rows`` per poll. The JDBC source also bounds timestamps by the database clock minus
``timestamp.delay.interval.ms``; SQLite files have no clock, so that bound is left out.

``SqliteSink`` writes each record's struct or map value as a row of ``table.name.format`` (``${topic}``):
``insert.mode=insert`` (INSERT) or ``upsert`` (INSERT ... ON CONFLICT DO UPDATE), primary key from ``pk.mode``
``none``, ``record_key`` (the key's fields, or the whole primitive key as ``pk.fields``) or ``record_value``
(``pk.fields`` of the value); ``auto.create=true`` creates a missing table from the first record's fields;
``delete.enabled=true`` deletes by key on a tombstone. Each ``put`` is one transaction, committed before it returns.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from kafkalab.connect.api import (
    ConnectException,
    Schema,
    SinkConnector,
    SinkRecord,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
    struct_schema,
)
from kafkalab.connect.config_def import ConfigField

__all__ = ["SqliteSourceConnector", "SqliteSourceTask", "SqliteSinkConnector", "SqliteSinkTask", "database_path"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def database_path(url: str) -> str:
    """``jdbc:sqlite:/path``, ``sqlite:///path`` or a plain path."""
    for prefix in ("jdbc:sqlite:", "sqlite:///", "sqlite://"):
        if url.startswith(prefix):
            return url[len(prefix):] if prefix != "sqlite:///" else "/" + url[len(prefix):]
    return url


def _quote(name: str) -> str:
    if not _IDENT.match(name):
        raise ConnectException(f"invalid SQL identifier {name!r}")
    return f'"{name}"'


def _schema_for(decl: str | None) -> Schema:
    d = (decl or "").upper()
    if "INT" in d:
        return Schema("int64", optional=True)
    if any(x in d for x in ("REAL", "FLOA", "DOUB")):
        return Schema("float64", optional=True)
    if "BLOB" in d:
        return Schema("bytes", optional=True)
    return Schema("string", optional=True)


class SqliteSourceTask(SourceTask):
    def start(self, props: Mapping[str, str]) -> None:
        self.db = database_path(props["connection.url"])
        self.mode = props.get("mode", "incrementing")
        self.inc = props.get("incrementing.column.name", "id")
        self.ts = props.get("timestamp.column.name", "")
        self.prefix = props.get("topic.prefix", "")
        self.interval = float(props.get("poll.interval.ms", 5000))
        self.batch = int(props.get("batch.max.rows", 100))
        self.query = props.get("query", "")
        tables = [t for t in props.get("tables", "").split(",") if t]
        self.sources = [("query", self.query)] if self.query else [("table", t) for t in tables]
        self.offsets: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, name in self.sources:
            off = self.context.offset_storage_reader.offset({kind: name})
            self.offsets[(kind, name)] = dict(off) if off else {}
        self.next_poll: dict[tuple[str, str], float] = {s: 0.0 for s in self.sources}
        self.rows_read = 0

    def poll_delay_ms(self) -> float:
        now = self.context.time_ms()
        return max(1.0, min(self.next_poll.values(), default=now + self.interval) - now)

    def poll(self) -> list[SourceRecord] | None:
        now = self.context.time_ms()
        out: list[SourceRecord] = []
        for source in self.sources:
            if self.next_poll[source] > now:
                continue
            rows = self._read(source)
            if len(rows) < self.batch:
                self.next_poll[source] = now + self.interval
            out.extend(rows)
        return out or None

    def _read(self, source: tuple[str, str]) -> list[SourceRecord]:
        kind, name = source
        off = self.offsets[source]
        base = f"SELECT * FROM {_quote(name)}" if kind == "table" else f"SELECT * FROM ({name})"
        inc, ts = _quote(self.inc), (_quote(self.ts) if self.ts else "")
        args: list[Any] = []
        if self.mode == "incrementing":
            sql = f"{base} WHERE {inc} > ? ORDER BY {inc} ASC LIMIT {self.batch}"
            args = [off.get("incrementing", -1)]
        elif self.mode == "timestamp+incrementing":
            sql = (f"{base} WHERE {ts} > ? OR ({ts} = ? AND {inc} > ?) ORDER BY {ts} ASC, {inc} ASC "
                   f"LIMIT {self.batch}")
            t, i = off.get("timestamp", -1), off.get("incrementing", -1)
            args = [t, t, i]
        elif self.mode == "bulk":
            sql = base
        else:
            raise ConnectException(f"unknown mode {self.mode!r}")
        con = sqlite3.connect(self.db)
        try:
            cur = con.execute(sql, args)
            cols = [d[0] for d in cur.description]
            types = {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({_quote(name)})")} if kind == "table" else {}
            rows = cur.fetchall()
        finally:
            con.close()
        schema = struct_schema([(c, _schema_for(types.get(c))) for c in cols], name=name if kind == "table" else None)
        topic = self.prefix + (name if kind == "table" else "")
        out = []
        for row in rows:
            value = dict(zip(cols, row, strict=True))
            if self.mode == "incrementing":
                off = {"incrementing": value[self.inc]}
            elif self.mode == "timestamp+incrementing":
                off = {"timestamp": value[self.ts], "incrementing": value[self.inc]}
            out.append(SourceRecord.of({kind: name}, dict(off), topic, value, value_schema=schema))
        if self.mode != "bulk":
            self.offsets[source] = dict(off)
        self.rows_read += len(out)
        return out


class SqliteSourceConnector(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self.props = dict(props)

    def task_class(self) -> type:
        return SqliteSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        if self.props.get("query"):
            return [dict(self.props)]
        tables = [t.strip() for t in self.props.get("table.whitelist", "").split(",") if t.strip()]
        if not tables:
            con = sqlite3.connect(database_path(self.props["connection.url"]))
            try:
                tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            finally:
                con.close()
        n = max(1, min(max_tasks, len(tables)))
        groups = [tables[i::n] for i in range(n)]
        return [{**self.props, "tables": ",".join(g)} for g in groups if g] or [{**self.props, "tables": ""}]

    def config_def(self) -> list[Any]:
        def mode_ok(v: Any) -> str | None:
            return None if v in ("incrementing", "timestamp+incrementing", "bulk") else \
                "String must be one of: bulk, incrementing, timestamp+incrementing"
        return [ConfigField("connection.url", "STRING", None, "HIGH", "Database file (jdbc:sqlite:/path or a path)",
                            "Database", required=True),
                ConfigField("mode", "STRING", "incrementing", "HIGH", "How to detect new rows", "Mode",
                            check=mode_ok),
                ConfigField("incrementing.column.name", "STRING", "id", "MEDIUM", "Strictly increasing column",
                            "Mode"),
                ConfigField("timestamp.column.name", "STRING", "", "MEDIUM", "Modification timestamp column",
                            "Mode"),
                ConfigField("table.whitelist", "LIST", "", "MEDIUM", "Tables to copy", "Database"),
                ConfigField("query", "STRING", "", "MEDIUM", "A query instead of tables", "Mode"),
                ConfigField("topic.prefix", "STRING", None, "HIGH", "Prefix of topic names", "Connector",
                            required=True),
                ConfigField("poll.interval.ms", "INT", 5000, "HIGH", "Frequency in ms to poll for new data",
                            "Connector", at_least=1),
                ConfigField("batch.max.rows", "INT", 100, "LOW", "Maximum rows per poll", "Connector", at_least=1)]


class SqliteSinkTask(SinkTask):
    def start(self, props: Mapping[str, str]) -> None:
        self.db = database_path(props["connection.url"])
        self.insert_mode = props.get("insert.mode", "insert")
        self.pk_mode = props.get("pk.mode", "none")
        self.pk_fields = [f.strip() for f in props.get("pk.fields", "").split(",") if f.strip()]
        self.auto_create = props.get("auto.create", "false").lower() == "true"
        self.delete_enabled = props.get("delete.enabled", "false").lower() == "true"
        self.table_format = props.get("table.name.format", "${topic}")
        self.rows_written = 0

    def _row(self, r: SinkRecord) -> tuple[dict[str, Any], list[str]]:
        if r.value is not None and not isinstance(r.value, dict):
            raise ConnectException(f"SqliteSink needs struct or map values, got {type(r.value).__name__} in "
                                   f"{r.topic}-{r.kafka_partition}@{r.kafka_offset}")
        row = dict(r.value or {})
        pk: list[str] = []
        if self.pk_mode == "record_key":
            if isinstance(r.key, dict):
                row.update(r.key)
                pk = self.pk_fields or list(r.key)
            else:
                name = self.pk_fields[0] if self.pk_fields else "__connect_key"
                row[name] = r.key
                pk = [name]
        elif self.pk_mode == "record_value":
            pk = self.pk_fields
        elif self.pk_mode == "kafka":
            row.update({"__connect_topic": r.topic, "__connect_partition": r.kafka_partition,
                        "__connect_offset": r.kafka_offset})
            pk = ["__connect_topic", "__connect_partition", "__connect_offset"]
        return row, pk

    def put(self, records: list[SinkRecord]) -> None:
        if not records:
            return
        con = sqlite3.connect(self.db)
        try:
            with con:
                for r in records:
                    table = _quote(self.table_format.replace("${topic}", r.topic))
                    if r.value is None:
                        if self.delete_enabled and self.pk_mode == "record_key":
                            row, pk = self._row(r)
                            con.execute(f"DELETE FROM {table} WHERE " + " AND ".join(f"{_quote(c)} = ?" for c in pk),
                                        [row[c] for c in pk])
                        continue
                    row, pk = self._row(r)
                    if self.auto_create:
                        cols = ", ".join(f"{_quote(c)} {_sql_type(v)}" for c, v in row.items())
                        key = f", PRIMARY KEY ({', '.join(_quote(c) for c in pk)})" if pk else ""
                        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols}{key})")
                    names = list(row)
                    sql = (f"INSERT INTO {table} ({', '.join(_quote(c) for c in names)}) VALUES "
                           f"({', '.join('?' for _ in names)})")
                    if self.insert_mode == "upsert" and pk:
                        updates = [c for c in names if c not in pk]
                        sql += f" ON CONFLICT ({', '.join(_quote(c) for c in pk)}) DO " + (
                            "UPDATE SET " + ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in updates)
                            if updates else "NOTHING")
                    con.execute(sql, [row[c] for c in names])
                    self.rows_written += 1
        except sqlite3.Error as exc:
            raise ConnectException(f"SQLite write failed: {exc}") from None
        finally:
            con.close()


def _sql_type(value: Any) -> str:
    if isinstance(value, bool) or isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "REAL"
    if isinstance(value, bytes):
        return "BLOB"
    return "TEXT"


class SqliteSinkConnector(SinkConnector):
    def start(self, props: Mapping[str, str]) -> None:
        self.props = dict(props)

    def task_class(self) -> type:
        return SqliteSinkTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.props) for _ in range(max(1, max_tasks))]

    def config_def(self) -> list[Any]:
        return [ConfigField("connection.url", "STRING", None, "HIGH", "Database file", "Connection", required=True),
                ConfigField("insert.mode", "STRING", "insert", "HIGH", "insert or upsert", "Writes",
                            choices=("insert", "upsert")),
                ConfigField("pk.mode", "STRING", "none", "HIGH", "Where the primary key comes from", "Data Mapping",
                            choices=("none", "kafka", "record_key", "record_value")),
                ConfigField("pk.fields", "LIST", "", "MEDIUM", "Primary key field names", "Data Mapping"),
                ConfigField("auto.create", "BOOLEAN", False, "MEDIUM", "Create missing tables", "DDL Support"),
                ConfigField("delete.enabled", "BOOLEAN", False, "MEDIUM", "Delete on tombstones", "Writes"),
                ConfigField("table.name.format", "STRING", "${topic}", "MEDIUM", "Destination table name format",
                            "Data Mapping")]

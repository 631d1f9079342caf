"""Single message transforms and predicates (KIP-66, KIP-585), by Kafka's class names with ``$Key``/``$Value``
variants: ``org.apache.kafka.connect.transforms.InsertField$Value`` and the others of ``connect/transforms``.

How it works. A connector's ``transforms=a,b`` names aliases; ``transforms.a.type`` is the class and the other
``transforms.a.*`` keys its config; ``transforms.a.predicate=p`` with ``predicates.p.type`` applies it only to
records the predicate matches (``transforms.a.negate=true``: only to the others). :func:`build_chain` checks all of
it and raises a :class:`~kafkalab.errors.ConfigError` naming the key (the validate endpoint reports it per field).
A transform returns the new record or None (the record is dropped: ``Filter``).

Values without a schema must be dicts for field-level transforms, as Kafka's ``Requirements.requireMap`` demands
("Only Map objects supported in absence of schema for [field insertion], found: java.lang.String" becomes the same
text with the Python type). With a schema, the schema changes too (a struct's fields added, removed, renamed, cast).
``TimestampConverter`` works between ``unix`` (ms), ``string`` (``format`` in Java ``SimpleDateFormat`` letters:
``yyyy MM dd HH mm ss SSS``) and ``Timestamp`` (a UTC ``datetime``); ``Date`` and ``Time`` are not modelled.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kafkalab.connect.api import ConnectRecord, DataException, Schema, SchemaField
from kafkalab.errors import ConfigError

__all__ = ["Transformation", "Predicate", "TRANSFORMS", "PREDICATES", "build_chain", "TransformChain",
           "java_date_format"]

_PKG = "org.apache.kafka.connect.transforms."


def _bool(v: Any) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() == "true"


def _list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x).strip() for x in v if str(x).strip()]
    return [x.strip() for x in str(v).split(",") if x.strip()]


class Transformation:
    """Kafka's ``Transformation``: ``configure(props)``, ``apply(record)``. ``which`` is "key" or "value" for
    ``$Key``/``$Value`` classes."""

    which = "value"
    purpose = "transformation"
    required: tuple[str, ...] = ()

    def configure(self, props: Mapping[str, Any]) -> None:
        for key in self.required:
            if props.get(key) in (None, ""):
                raise ConfigError(f'Missing required configuration "{key}" which has no default value.', key=key)
        self.props = dict(props)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        raise NotImplementedError

    # -- helpers for $Key/$Value transforms ------------------------------------------------------------------------
    def operand(self, record: ConnectRecord) -> tuple[Schema | None, Any]:
        return (record.key_schema, record.key) if self.which == "key" else (record.value_schema, record.value)

    def with_operand(self, record: ConnectRecord, schema: Schema | None, value: Any) -> ConnectRecord:
        if self.which == "key":
            return replace(record, key_schema=schema, key=value)
        return replace(record, value_schema=schema, value=value)

    def require_map(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise DataException(f"Only Map objects supported in absence of schema for [{self.purpose}], found: "
                                f"{_type_name(value)}")
        return value

    def require_struct(self, schema: Schema, value: Any) -> dict[str, Any]:
        if schema.type != "struct" or not isinstance(value, dict):
            raise DataException(f"Only Struct objects supported for [{self.purpose}], found: {_type_name(value)}")
        return value


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _schema_of(value: Any) -> Schema:
    if isinstance(value, bool):
        return Schema("boolean", optional=True)
    if isinstance(value, int):
        return Schema("int64", optional=True)
    if isinstance(value, float):
        return Schema("float64", optional=True)
    if isinstance(value, bytes):
        return Schema("bytes", optional=True)
    return Schema("string", optional=True)


class InsertField(Transformation):
    purpose = "field insertion"

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        p = self.props
        extra: dict[str, Any] = {}
        if p.get("topic.field"):
            extra[str(p["topic.field"]).rstrip("!?")] = record.topic
        if p.get("partition.field"):
            extra[str(p["partition.field"]).rstrip("!?")] = record.kafka_partition
        if p.get("offset.field"):
            offset = getattr(record, "kafka_offset", None)
            if offset is None:
                raise DataException("Offset field can only be used with sink records (offset.field)")
            extra[str(p["offset.field"]).rstrip("!?")] = offset
        if p.get("timestamp.field"):
            extra[str(p["timestamp.field"]).rstrip("!?")] = record.timestamp
        if p.get("static.field"):
            extra[str(p["static.field"]).rstrip("!?")] = p.get("static.value")
        schema, value = self.operand(record)
        if value is None:
            return record        # a tombstone passes unchanged (KIP-1, replace.null.with.default aside)
        if schema is None:
            return self.with_operand(record, None, {**self.require_map(value), **extra})
        self.require_struct(schema, value)
        fields = list(schema.fields) + [SchemaField(k, _schema_of(v)) for k, v in extra.items()
                                        if schema.field(k) is None]
        return self.with_operand(record, replace(schema, fields=tuple(fields)), {**value, **extra})


class ReplaceField(Transformation):
    purpose = "field replacement"

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        self.exclude = set(_list(props.get("exclude", props.get("blacklist"))))
        self.include = set(_list(props.get("include", props.get("whitelist"))))
        self.renames: dict[str, str] = {}
        for pair in _list(props.get("renames")):
            if ":" not in pair:
                raise ConfigError(f"Invalid rename mapping: {pair}", key="renames", value=props.get("renames"))
            a, b = pair.split(":", 1)
            self.renames[a] = b

    def _keep(self, name: str) -> bool:
        return name not in self.exclude and (not self.include or name in self.include)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        if value is None:
            return record
        if schema is None:
            m = self.require_map(value)
            return self.with_operand(record, None, {self.renames.get(k, k): v for k, v in m.items() if self._keep(k)})
        self.require_struct(schema, value)
        fields = tuple(SchemaField(self.renames.get(f.name, f.name), f.schema) for f in schema.fields
                       if self._keep(f.name))
        out = {self.renames.get(f.name, f.name): value.get(f.name) for f in schema.fields if self._keep(f.name)}
        return self.with_operand(record, replace(schema, fields=fields), out)


def _zero(value: Any) -> Any:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0.0
    if isinstance(value, bytes):
        return b""
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    return ""


class MaskField(Transformation):
    purpose = "masking fields"
    required = ("fields",)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        if value is None:
            return record
        m = self.require_map(value) if schema is None else self.require_struct(schema, value)
        replacement = self.props.get("replacement")
        out = dict(m)
        for name in _list(self.props.get("fields")):
            if name in out:
                out[name] = _zero(out[name]) if replacement in (None, "") else _cast(replacement, out[name])
        return self.with_operand(record, schema, out)


def _cast(text: Any, like: Any) -> Any:
    if isinstance(like, bool):
        return _bool(text)
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    return str(text)


class ValueToKey(Transformation):
    purpose = "copying fields from value to key"
    required = ("fields",)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        fields = _list(self.props.get("fields"))
        value = record.value
        if record.value_schema is None:
            m = self.require_map(value)
            return replace(record, key_schema=None, key={f: m.get(f) for f in fields})
        s = self.require_struct(record.value_schema, value)
        missing = [f for f in fields if record.value_schema.field(f) is None]
        if missing:
            raise DataException(f"Field does not exist: {missing[0]}")
        key_schema = Schema("struct", fields=tuple(record.value_schema.field(f) for f in fields))  # type: ignore[misc]
        return replace(record, key_schema=key_schema, key={f: s.get(f) for f in fields})


class ExtractField(Transformation):
    purpose = "field extraction"
    required = ("field",)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        name = str(self.props["field"])
        if value is None:
            return record
        if schema is None:
            return self.with_operand(record, None, self.require_map(value).get(name))
        s = self.require_struct(schema, value)
        f = schema.field(name)
        if f is None:
            raise DataException(f"{name} is not a valid field name")
        return self.with_operand(record, f.schema, s.get(name))


class HoistField(Transformation):
    purpose = "field hoisting"
    required = ("field",)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        name = str(self.props["field"])
        if schema is None:
            return self.with_operand(record, None, {name: value})
        return self.with_operand(record, Schema("struct", fields=(SchemaField(name, schema),)), {name: value})


class Flatten(Transformation):
    purpose = "flattening"

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        if value is None:
            return record
        delim = str(self.props.get("delimiter", "."))
        out: dict[str, Any] = {}

        def walk(prefix: str, m: Mapping[str, Any]) -> None:
            for k, v in m.items():
                name = f"{prefix}{delim}{k}" if prefix else str(k)
                if isinstance(v, dict):
                    walk(name, v)
                else:
                    out[name] = v
        if schema is None:
            walk("", self.require_map(value))
            return self.with_operand(record, None, out)
        self.require_struct(schema, value)
        fields: list[SchemaField] = []

        def walk_schema(prefix: str, s: Schema) -> None:
            for f in s.fields:
                name = f"{prefix}{delim}{f.name}" if prefix else f.name
                if f.schema.type == "struct":
                    walk_schema(name, f.schema)
                else:
                    fields.append(SchemaField(name, f.schema))
        walk("", value)
        walk_schema("", schema)
        return self.with_operand(record, replace(schema, fields=tuple(fields)), out)


_CASTS: dict[str, Callable[[Any], Any]] = {
    "int8": lambda v: _int_range(v, 8), "int16": lambda v: _int_range(v, 16), "int32": lambda v: _int_range(v, 32),
    "int64": lambda v: _int_range(v, 64), "float32": float, "float64": float,
    "boolean": lambda v: _bool(v) if isinstance(v, str) else bool(v),
    "string": lambda v: ("true" if v else "false") if isinstance(v, bool) else str(v)}


def _int_range(v: Any, bits: int) -> int:
    n = int(float(v)) if isinstance(v, str) and "." in v else int(v)
    half = 1 << (bits - 1)
    return (n + half) % (1 << bits) - half        # Java's narrowing conversion wraps


class Cast(Transformation):
    purpose = "cast types"
    required = ("spec",)

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        self.whole: str | None = None
        self.casts: dict[str, str] = {}
        for item in _list(props.get("spec")):
            name, _, kind = item.rpartition(":")
            kind = kind.strip().lower()
            if kind not in _CASTS:
                raise ConfigError(f"Invalid value {props.get('spec')} for configuration spec: Invalid type found in "
                                  f"casting spec: {kind}", key="spec", value=props.get("spec"))
            if not name:
                self.whole = kind
            else:
                self.casts[name.strip()] = kind

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        if value is None:
            return record
        try:
            if self.whole is not None:
                return self.with_operand(record, Schema(self.whole, optional=True) if schema else None,
                                         _CASTS[self.whole](value))
            m = self.require_map(value) if schema is None else self.require_struct(schema, value)
            out = {k: (_CASTS[self.casts[k]](v) if k in self.casts and v is not None else v) for k, v in m.items()}
        except (TypeError, ValueError) as exc:
            raise DataException(f"Cast transformation failed: {exc}") from None
        if schema is None:
            return self.with_operand(record, None, out)
        fields = tuple(SchemaField(f.name, Schema(self.casts[f.name], optional=f.schema.optional))
                       if f.name in self.casts else f for f in schema.fields)
        return self.with_operand(record, replace(schema, fields=fields), out)


def _java_replacement(text: str) -> str:
    return re.sub(r"\$(\d+)", r"\\g<\1>", text)


class RegexRouter(Transformation):
    purpose = "regex routing"
    required = ("regex", "replacement")

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        try:
            self.regex = re.compile(str(props["regex"]))
        except re.error as exc:
            raise ConfigError(f"Invalid value {props['regex']} for configuration regex: Invalid regex: {exc}",
                              key="regex", value=props["regex"]) from None
        self.replacement = _java_replacement(str(props["replacement"]))

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        if self.regex.fullmatch(record.topic):
            return replace(record, topic=self.regex.sub(self.replacement, record.topic, count=1))
        return record


_JAVA_TOKENS = [("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"),
                ("ss", "%S"), ("SSS", "{ms}")]


def java_date_format(pattern: str) -> Callable[[int], str]:
    """A formatter for a Java ``SimpleDateFormat`` pattern (the letters above; quoted text kept), in UTC."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern[i] == "'":
            j = pattern.index("'", i + 1) if "'" in pattern[i + 1:] else len(pattern)
            out += pattern[i + 1:j].replace("%", "%%")
            i = j + 1
            continue
        for token, repl in _JAVA_TOKENS:
            if pattern.startswith(token, i):
                out += repl
                i += len(token)
                break
        else:
            out += pattern[i].replace("%", "%%")
            i += 1

    def fmt(ms: int) -> str:
        moment = dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.UTC)
        return moment.strftime(out).replace("{ms}", f"{int(ms) % 1000:03d}")
    return fmt


class TimestampRouter(Transformation):
    purpose = "timestamp routing"

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        self.topic_format = str(props.get("topic.format", "${topic}-${timestamp}"))
        self.fmt = java_date_format(str(props.get("timestamp.format", "yyyyMMdd")))

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        if record.timestamp is None:
            raise DataException(f"Timestamp missing on record: {record}")
        topic = self.topic_format.replace("${topic}", record.topic).replace("${timestamp}", self.fmt(record.timestamp))
        return replace(record, topic=topic)


class TimestampConverter(Transformation):
    purpose = "converting timestamp formats"
    required = ("target.type",)

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        self.target = str(props["target.type"])
        if self.target not in ("string", "unix", "Timestamp"):
            raise ConfigError(f"Unknown timestamp type in TimestampConverter: {self.target}. Valid values are "
                              f"string, unix, Timestamp (Date and Time are not modelled).", key="target.type",
                              value=self.target)
        self.field = str(props.get("field", "") or "")
        fmt = props.get("format")
        if self.target == "string" and not fmt:
            raise ConfigError("TimestampConverter requires format option to be specified when using string "
                              "timestamps", key="format")
        self.fmt = java_date_format(str(fmt)) if fmt else None

    def _convert(self, v: Any) -> Any:
        if isinstance(v, dt.datetime):
            ms = int(v.timestamp() * 1000)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            ms = int(v)
        else:
            raise DataException(f"TimestampConverter cannot convert {_type_name(v)} {v!r} (string input is not "
                                f"modelled)")
        if self.target == "unix":
            return ms
        if self.target == "Timestamp":
            return dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.UTC)
        return self.fmt(ms) if self.fmt is not None else str(ms)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        if value is None:
            return record
        if not self.field:
            return self.with_operand(record, schema, self._convert(value))
        m = dict(self.require_map(value) if schema is None else self.require_struct(schema, value))
        if m.get(self.field) is not None:
            m[self.field] = self._convert(m[self.field])
        return self.with_operand(record, schema, m)


class InsertHeader(Transformation):
    purpose = "inserting headers"
    required = ("header", "value.literal")

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        return replace(record, headers=record.headers + ((str(self.props["header"]),
                                                          str(self.props["value.literal"])),))


class DropHeaders(Transformation):
    purpose = "dropping headers"
    required = ("headers",)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        drop = set(_list(self.props.get("headers")))
        return replace(record, headers=tuple(h for h in record.headers if h[0] not in drop))


class HeaderFrom(Transformation):
    purpose = "header from field"
    required = ("fields", "headers", "operation")

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        self.fields, self.headers = _list(props["fields"]), _list(props["headers"])
        if len(self.fields) != len(self.headers):
            raise ConfigError("'fields' config must have the same number of elements as 'headers' config.",
                              key="headers", value=props["headers"])
        self.operation = str(props["operation"])
        if self.operation not in ("copy", "move"):
            raise ConfigError(f"Invalid value {self.operation} for configuration operation: String must be one of: "
                              f"move, copy", key="operation", value=self.operation)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        m = self.require_map(value) if schema is None else self.require_struct(schema, value)
        headers = record.headers + tuple((h, m.get(f)) for f, h in zip(self.fields, self.headers, strict=True))
        if self.operation == "move":
            out = {k: v for k, v in m.items() if k not in self.fields}
            if schema is not None:
                schema = replace(schema, fields=tuple(f for f in schema.fields if f.name not in self.fields))
            record = self.with_operand(record, schema, out)
        return replace(record, headers=headers)


class Filter(Transformation):
    """Drops every record it is applied to (use it with a predicate)."""

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        return None


class SetSchemaMetadata(Transformation):
    purpose = "updating schema metadata"

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        schema, value = self.operand(record)
        if schema is None:
            raise DataException(f"Schema required for [{self.purpose}]")
        name = self.props.get("schema.name")
        version = self.props.get("schema.version")
        schema = replace(schema, name=name if name else schema.name,
                         version=int(version) if version not in (None, "") else schema.version)
        return self.with_operand(record, schema, value)


# -- predicates -----------------------------------------------------------------------------------------------------
class Predicate:
    """Kafka's ``Predicate``: ``test(record)``."""

    required: tuple[str, ...] = ()

    def configure(self, props: Mapping[str, Any]) -> None:
        for key in self.required:
            if props.get(key) in (None, ""):
                raise ConfigError(f'Missing required configuration "{key}" which has no default value.', key=key)
        self.props = dict(props)

    def test(self, record: ConnectRecord) -> bool:
        raise NotImplementedError


class TopicNameMatches(Predicate):
    required = ("pattern",)

    def configure(self, props: Mapping[str, Any]) -> None:
        super().configure(props)
        try:
            self.pattern = re.compile(str(props["pattern"]))
        except re.error as exc:
            raise ConfigError(f"Invalid value {props['pattern']} for configuration pattern: entry must be a Java-"
                              f"compatible regular expression: {exc}", key="pattern") from None

    def test(self, record: ConnectRecord) -> bool:
        return record.topic is not None and self.pattern.fullmatch(record.topic) is not None


class HasHeaderKey(Predicate):
    required = ("name",)

    def test(self, record: ConnectRecord) -> bool:
        return any(h[0] == self.props["name"] for h in record.headers)


class RecordIsTombstone(Predicate):
    def test(self, record: ConnectRecord) -> bool:
        return record.value is None


def _variants(cls: type[Transformation]) -> dict[str, Callable[[], Transformation]]:
    base = _PKG + cls.__name__

    def make(which: str) -> Callable[[], Transformation]:
        def build() -> Transformation:
            t = cls()
            t.which = which
            return t
        return build
    return {f"{base}$Key": make("key"), f"{base}$Value": make("value")}


#: Kafka class name -> factory
TRANSFORMS: dict[str, Callable[[], Transformation]] = {}
for _cls in (InsertField, ReplaceField, MaskField, ExtractField, HoistField, Flatten, Cast, TimestampConverter,
             HeaderFrom, SetSchemaMetadata):
    TRANSFORMS.update(_variants(_cls))
for _plain in (ValueToKey, RegexRouter, TimestampRouter, InsertHeader, DropHeaders, Filter):
    TRANSFORMS[_PKG + _plain.__name__] = _plain
PREDICATES: dict[str, type[Predicate]] = {_PKG + "predicates." + c.__name__: c
                                          for c in (TopicNameMatches, HasHeaderKey, RecordIsTombstone)}


def _lookup(name: str, table: Mapping[str, Any], what: str, key: str) -> Any:
    if name in table:
        return table[name]
    simple = {k.rsplit(".", 1)[-1]: v for k, v in table.items()}
    if name in simple:
        return simple[name]
    import difflib
    close = difflib.get_close_matches(name, list(table) + list(simple), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"Invalid value {name} for configuration {key}: Class {name} could not be found ({what} "
                      f"known: {', '.join(sorted(simple))}){hint}", key=key, value=name)


class TransformChain:
    """Kafka's ``TransformationChain``: each stage with its optional (negated) predicate."""

    def __init__(self, stages: list[tuple[str, Transformation, Predicate | None, bool]]) -> None:
        self.stages = stages

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        for _alias, transform, predicate, negate in self.stages:
            if predicate is not None and predicate.test(record) == negate:
                continue
            out = transform.apply(record)
            if out is None:
                return None
            record = out
        return record

    def __len__(self) -> int:
        return len(self.stages)


def _prefixed(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}


def build_chain(config: Mapping[str, Any]) -> TransformChain:
    """The transformation chain a connector config describes; ConfigError naming the key on any problem."""
    predicates: dict[str, Predicate] = {}
    for alias in _list(config.get("predicates")):
        key = f"predicates.{alias}.type"
        if not config.get(key):
            raise ConfigError(f'Missing required configuration "{key}" which has no default value.', key=key)
        pred = _lookup(str(config[key]), PREDICATES, "predicates", key)()
        try:
            pred.configure(_prefixed(config, f"predicates.{alias}."))
        except ConfigError as exc:
            raise ConfigError(f"{exc} (predicate {alias!r})", key=f"predicates.{alias}.{exc.key}") from None
        predicates[alias] = pred
    stages: list[tuple[str, Transformation, Predicate | None, bool]] = []
    for alias in _list(config.get("transforms")):
        key = f"transforms.{alias}.type"
        if not config.get(key):
            raise ConfigError(f'Missing required configuration "{key}" which has no default value.', key=key)
        transform = _lookup(str(config[key]), TRANSFORMS, "transformations", key)()
        props = _prefixed(config, f"transforms.{alias}.")
        try:
            transform.configure(props)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (transform {alias!r})", key=f"transforms.{alias}.{exc.key}") from None
        pred_alias = props.get("predicate")
        predicate = None
        if pred_alias:
            predicate = predicates.get(str(pred_alias))
            if predicate is None:
                raise ConfigError(f"Invalid value {pred_alias} for configuration transforms.{alias}.predicate: "
                                  f"Predicate {pred_alias!r} is not defined in 'predicates' (defined: "
                                  f"{', '.join(sorted(predicates)) or 'none'})",
                                  key=f"transforms.{alias}.predicate", value=pred_alias)
        stages.append((alias, transform, predicate, _bool(props.get("negate", False))))
    return TransformChain(stages)

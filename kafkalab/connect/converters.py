"""Converters between Connect data and Kafka bytes: Kafka's ``StringConverter``, ``ByteArrayConverter``,
``JsonConverter`` (``schemas.enable`` with its ``{"schema", "payload"}`` envelope) and ``SimpleHeaderConverter``.

How it works. A converter is configured with its prefixed keys (``value.converter.schemas.enable=false``) and told
whether it converts keys; ``from_connect_data(topic, schema, value)`` gives bytes (None stays None: a tombstone),
``to_connect_data(topic, data)`` gives ``(schema, value)``. Failures raise :class:`~kafkalab.connect.api.DataException`
with Kafka's texts, which the error handler (KIP-298) counts against ``errors.tolerance``.

JSON follows ``JsonConverter``: a struct is an object, bytes are base64, a schema is written as
``{"type": "struct", "fields": [{"type": "int32", "optional": false, "field": "id"}], "optional": false}``; reading
with ``schemas.enable=true`` requires exactly the two envelope fields. Decimal, Date, Time and Timestamp logical
types are not modelled (their values pass as the underlying int/bytes).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from kafkalab.connect.api import DataException, Schema, SchemaField

__all__ = ["Converter", "StringConverter", "ByteArrayConverter", "JsonConverter", "SimpleHeaderConverter",
           "CONVERTERS", "converter_for", "schema_to_json", "schema_from_json"]

_ENVELOPE = ('JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain '
             'additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your '
             'converter configuration.')
OPTIONAL_STRING = Schema("string", optional=True)
OPTIONAL_BYTES = Schema("bytes", optional=True)


class Converter:
    """Kafka's ``Converter``."""

    is_key = False

    def configure(self, props: Mapping[str, Any], is_key: bool) -> None:
        self.is_key = is_key

    def from_connect_data(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        raise NotImplementedError

    def to_connect_data(self, topic: str, data: bytes | None) -> tuple[Schema | None, Any]:
        raise NotImplementedError


class StringConverter(Converter):
    """Kafka's ``StringConverter``: anything as its string, UTF-8."""

    def from_connect_data(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value
        if isinstance(value, bool):
            return b"true" if value else b"false"
        if isinstance(value, dict):
            return ("Struct{" + ",".join(f"{k}={v}" for k, v in value.items()) + "}").encode()
        return str(value).encode("utf-8")

    def to_connect_data(self, topic: str, data: bytes | None) -> tuple[Schema | None, Any]:
        if data is None:
            return OPTIONAL_STRING, None
        try:
            return OPTIONAL_STRING, data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataException(f"Failed to deserialize string: {exc}") from None


class ByteArrayConverter(Converter):
    """Kafka's ``ByteArrayConverter``: bytes pass through; anything else is refused."""

    def from_connect_data(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if schema is not None and schema.type != "bytes":
            raise DataException(f"Invalid schema type for ByteArrayConverter: {schema.type.upper()}")
        if value is not None and not isinstance(value, bytes):
            raise DataException(f"ByteArrayConverter is not compatible with objects of type {type(value).__name__}")
        return value

    def to_connect_data(self, topic: str, data: bytes | None) -> tuple[Schema | None, Any]:
        return OPTIONAL_BYTES, data


def schema_to_json(schema: Schema | None) -> dict[str, Any] | None:
    """``JsonConverter.asJsonSchema``."""
    if schema is None:
        return None
    out: dict[str, Any] = {"type": schema.type}
    if schema.type == "struct":
        out["fields"] = [dict(schema_to_json(f.schema) or {}, field=f.name) for f in schema.fields]
    elif schema.type == "array" and schema.value_schema is not None:
        out["items"] = schema_to_json(schema.value_schema)
    elif schema.type == "map":
        out["keys"] = schema_to_json(schema.key_schema)
        out["values"] = schema_to_json(schema.value_schema)
    out["optional"] = schema.optional
    if schema.name is not None:
        out["name"] = schema.name
    if schema.version is not None:
        out["version"] = schema.version
    if schema.doc is not None:
        out["doc"] = schema.doc
    if schema.parameters:
        out["parameters"] = dict(schema.parameters)
    if schema.default is not None:
        out["default"] = schema.default
    return out


def schema_from_json(data: Any) -> Schema | None:
    """``JsonConverter.asConnectSchema``."""
    if data is None:
        return None
    if not isinstance(data, dict) or "type" not in data:
        raise DataException("Schema must contain 'type' field")
    kind = data["type"]
    fields: tuple[SchemaField, ...] = ()
    if kind == "struct":
        fields = tuple(SchemaField(f["field"], schema_from_json(f)) for f in data.get("fields", ()))  # type: ignore[arg-type]
    try:
        return Schema(kind, optional=bool(data.get("optional", False)), name=data.get("name"),
                      version=data.get("version"), doc=data.get("doc"), fields=fields,
                      key_schema=schema_from_json(data.get("keys")) if kind == "map" else None,
                      value_schema=schema_from_json(data.get("values") if kind == "map" else data.get("items"))
                      if kind in ("map", "array") else None,
                      parameters=tuple(sorted((data.get("parameters") or {}).items())), default=data.get("default"))
    except ValueError:
        raise DataException(f"Unknown schema type: {kind}") from None


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _from_json(schema: Schema | None, value: Any) -> Any:
    if schema is None or value is None:
        return value
    if schema.type == "bytes" and isinstance(value, str):
        return base64.b64decode(value)
    if schema.type == "struct" and isinstance(value, dict):
        return {f.name: _from_json(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array" and isinstance(value, list):
        return [_from_json(schema.value_schema, v) for v in value]
    return value


class JsonConverter(Converter):
    """Kafka's ``JsonConverter``; ``schemas.enable`` (default true) wraps values in the schema envelope.

    Like Kafka's, it caches converted schemas both ways (``schemas.cache.size``, default 1000, oldest out first):
    a Connect schema's JSON text, and the Connect schema of a JSON schema text, so a stream of records with one schema
    converts it once."""

    schemas_enable = True
    cache_size = 1000

    def configure(self, props: Mapping[str, Any], is_key: bool) -> None:
        super().configure(props, is_key)
        raw = props.get("schemas.enable", True)
        self.schemas_enable = raw if isinstance(raw, bool) else str(raw).strip().lower() == "true"
        self.cache_size = max(0, int(props.get("schemas.cache.size", 1000)))
        self._json_of: dict[Schema, str] = {}
        self._schema_of: dict[str, Schema | None] = {}

    def _schema_text(self, schema: Schema | None) -> str:
        if schema is None:
            return "null"
        cache = self.__dict__.setdefault("_json_of", {})
        try:
            text = cache.get(schema)
        except TypeError:            # a schema whose default is unhashable: not cached
            return json.dumps(schema_to_json(schema), separators=(",", ":"))
        if text is None:
            text = json.dumps(schema_to_json(schema), separators=(",", ":"))
            _put(cache, schema, text, self.cache_size)
        return text

    def from_connect_data(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if schema is None and value is None:
            return None
        payload = _to_json(value)
        try:
            if self.schemas_enable:
                # the bytes json.dumps({"schema": ..., "payload": ...}) writes, with the schema's text cached
                text = '{"schema":' + self._schema_text(schema) + ',"payload":' + \
                    json.dumps(payload, separators=(",", ":")) + "}"
            else:
                text = json.dumps(payload, separators=(",", ":"))
            return text.encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise DataException(f"Converting Kafka Connect data to byte[] failed due to serialization error of "
                                f"topic {topic}: {exc}") from None

    def to_connect_data(self, topic: str, data: bytes | None) -> tuple[Schema | None, Any]:
        if data is None:
            return None, None
        try:
            text = data.decode("utf-8")
            doc = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataException(f"Converting byte[] to Kafka Connect data failed due to serialization error of "
                                f"topic {topic}: {exc}") from None
        if not self.schemas_enable:
            return None, doc
        if not isinstance(doc, dict) or set(doc) != {"schema", "payload"}:
            raise DataException(_ENVELOPE)
        schema = self._schema_from(text, doc["schema"])
        return schema, _from_json(schema, doc["payload"])

    def _schema_from(self, text: str, parsed: Any) -> Schema | None:
        """The Connect schema of the envelope's schema, cached by its JSON text when the envelope starts with it."""
        if not text.startswith(_SCHEMA_START):
            return schema_from_json(parsed)
        cache = self.__dict__.setdefault("_schema_of", {})
        end = _DECODER.raw_decode(text, len(_SCHEMA_START))[1]
        key = text[len(_SCHEMA_START):end]
        if key in cache:
            return cache[key]
        schema = schema_from_json(parsed)
        _put(cache, key, schema, self.cache_size)
        return schema


_SCHEMA_START = '{"schema":'
_DECODER = json.JSONDecoder()


def _put(cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
    """Insert into a bounded cache, dropping the oldest entry (Kafka's ``SynchronizedCache`` over an LRU map)."""
    if size <= 0:
        return
    if len(cache) >= size:
        del cache[next(iter(cache))]
    cache[key] = value


class SimpleHeaderConverter(Converter):
    """Kafka's ``SimpleHeaderConverter``: header values as their string form, read back as strings."""

    def from_connect_data(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":")).encode()
        if isinstance(value, bool):
            return b"true" if value else b"false"
        return str(value).encode("utf-8")

    def to_connect_data(self, topic: str, data: bytes | None) -> tuple[Schema | None, Any]:
        if data is None:
            return None, None
        try:
            return OPTIONAL_STRING, data.decode("utf-8")
        except UnicodeDecodeError:
            return OPTIONAL_BYTES, data


#: Kafka class name -> converter class
CONVERTERS: dict[str, type[Converter]] = {
    "org.apache.kafka.connect.storage.StringConverter": StringConverter,
    "org.apache.kafka.connect.converters.ByteArrayConverter": ByteArrayConverter,
    "org.apache.kafka.connect.json.JsonConverter": JsonConverter,
    "org.apache.kafka.connect.storage.SimpleHeaderConverter": SimpleHeaderConverter,
}


def converter_for(name: str, props: Mapping[str, Any], is_key: bool) -> Converter:
    """A configured converter by Kafka class name or simple name; ``DataException``-free: unknown names raise
    ``LookupError`` with the known names (validation turns it into a config error)."""
    cls = CONVERTERS.get(name)
    if cls is None:
        by_simple = {k.rsplit(".", 1)[-1]: v for k, v in CONVERTERS.items()}
        cls = by_simple.get(name)
    if cls is None:
        raise LookupError(f"Class {name} could not be found. Converters: {', '.join(sorted(CONVERTERS))}")
    conv = cls()
    conv.configure(props, is_key)
    return conv

"""Worker and connector configuration: Kafka's ``DistributedConfig``/``StandaloneConfig``/``WorkerConfig`` keys and
the connector ``ConfigDef`` with its validation into ``ConfigInfos`` (the JSON of ``PUT
/connector-plugins/{plugin}/config/validate``).

How it works. Worker keys are :class:`kafkalab.config.ConfigKey` rows of scope ``worker`` with Kafka's defaults;
:func:`resolve_worker` parses overrides the way :func:`kafkalab.config.resolve` does (an unknown key is a
ConfigError naming the closest key) and passes Kafka's prefixed keys through (``producer.``, ``consumer.``,
``admin.``, ``key.converter.``, ``value.converter.``, ``header.converter.``). Kafka requires ``key.converter`` and
``value.converter`` and the three topic names; kafkalab defaults them to what Kafka's sample
``connect-distributed.properties`` sets (JsonConverter; ``connect-configs``, ``connect-offsets``,
``connect-status``).

Connector configs are validated, not raised: :func:`validate` returns Kafka's ``ConfigInfos`` dict (``name``,
``error_count``, ``groups``, ``configs`` of ``{"definition", "value"}``), whose per-field ``errors`` are Kafka's
texts (``Missing required configuration "file" which has no default value.``, ``Invalid value 0 for configuration
tasks.max: Value must be at least 1``).
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkalab.config import ConfigKey, ConfigType, OneOf, Range
from kafkalab.errors import ConfigError

__all__ = ["WORKER_KEYS", "resolve_worker", "ConfigField", "validate", "COMMON_FIELDS", "SOURCE_FIELDS",
           "SINK_FIELDS", "WORKER_PREFIXES", "parse_field"]

_I, _L, _S, _B, _LI = ConfigType.INT, ConfigType.LONG, ConfigType.STRING, ConfigType.BOOLEAN, ConfigType.LIST
_NONNEG = Range(0, None)


def _w(name: str, kind: ConfigType, default: Any, doc: str, valid: Any = None) -> ConfigKey:
    return ConfigKey("worker", name, kind, default, doc, valid)


WORKER_KEYS: dict[str, ConfigKey] = {k.name: k for k in (
    _w("group.id", _S, "connect-cluster", "the worker group (distributed mode)"),
    _w("bootstrap.servers", _LI, (), "broker ids to ask for metadata first (default: all)"),
    _w("config.storage.topic", _S, "connect-configs", "connector and task configs"),
    _w("offset.storage.topic", _S, "connect-offsets", "source connector offsets"),
    _w("status.storage.topic", _S, "connect-status", "connector and task statuses"),
    _w("config.storage.replication.factor", ConfigType.SHORT, 3, "-1 = the broker default", Range(-1, None)),
    _w("offset.storage.replication.factor", ConfigType.SHORT, 3, "-1 = the broker default", Range(-1, None)),
    _w("status.storage.replication.factor", ConfigType.SHORT, 3, "-1 = the broker default", Range(-1, None)),
    _w("offset.storage.partitions", _I, 25, "partitions of the offsets topic", Range(1, None)),
    _w("status.storage.partitions", _I, 5, "partitions of the status topic", Range(1, None)),
    _w("session.timeout.ms", _I, 10_000, "worker group session timeout"),
    _w("heartbeat.interval.ms", _I, 3_000, "worker group heartbeats"),
    _w("rebalance.timeout.ms", _I, 60_000, "time to rejoin in a rebalance"),
    _w("scheduled.rebalance.max.delay.ms", _I, 300_000, "how long a departed worker's work waits for it (KIP-415)",
       Range(0, 2**31 - 1)),
    _w("connect.protocol", _S, "sessioned", "worker subprotocol", OneOf(("eager", "compatible", "sessioned"))),
    _w("offset.flush.interval.ms", _L, 60_000, "source offsets and sink commits every this often", _NONNEG),
    _w("offset.flush.timeout.ms", _L, 5_000, "an offset flush waits this long for outstanding records", _NONNEG),
    _w("task.shutdown.graceful.timeout.ms", _L, 5_000, "time for tasks to stop", _NONNEG),
    _w("worker.sync.timeout.ms", _I, 3_000, "wait to catch up with the config topic before leaving the group"),
    _w("worker.unsync.backoff.ms", _I, 300_000, "wait before rejoining after failing to catch up"),
    _w("key.converter", _S, "org.apache.kafka.connect.json.JsonConverter", "worker default key converter"),
    _w("value.converter", _S, "org.apache.kafka.connect.json.JsonConverter", "worker default value converter"),
    _w("header.converter", _S, "org.apache.kafka.connect.storage.SimpleHeaderConverter", "header converter"),
    _w("exactly.once.source.support", _S, "disabled", "KIP-618", OneOf(("disabled", "preparing", "enabled"))),
    _w("offset.storage.file.filename", _S, None, "standalone mode: the offsets file"),
    _w("rest.advertised.port", _I, 8083, "the REST port in worker URLs"),
    _w("connector.client.config.override.policy", _S, "All", "client overrides allowed in connector configs",
       OneOf(("All", "None", "Principal"))),
    )}

#: prefixed worker keys passed through to clients and converters
WORKER_PREFIXES = ("producer.", "consumer.", "admin.", "key.converter.", "value.converter.", "header.converter.")


def resolve_worker(overrides: Mapping[str, Any] | None, *, mode: str) -> dict[str, Any]:
    """Worker config: every key with its default, then the overrides; prefixed keys kept as strings."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"config must be a dict of worker config keys to values or None, got "
                        f"{type(overrides).__name__} {overrides!r}")
    out: dict[str, Any] = {k: row.default for k, row in WORKER_KEYS.items()}
    for key, value in (overrides or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"worker config keys must be str, got {type(key).__name__} {key!r}")
        if key.startswith(WORKER_PREFIXES):
            out[key] = value
            continue
        row = WORKER_KEYS.get(key)
        if row is None:
            close = difflib.get_close_matches(key, list(WORKER_KEYS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown worker config {key!r}{hint} (prefixed keys {', '.join(WORKER_PREFIXES)} "
                              f"go to the worker's clients and converters)", key=key, scope="worker")
        out[key] = row.parse(value)
    if mode == "standalone" and out["exactly.once.source.support"] != "disabled":
        raise ConfigError("exactly.once.source.support is a distributed-mode key (Kafka's DistributedConfig): a "
                          "standalone worker has no exactly-once source support; use mode='distributed' or drop it",
                          key="exactly.once.source.support", scope="worker",
                          value=out["exactly.once.source.support"])
    if mode == "standalone" and overrides and "group.id" in overrides:
        raise ConfigError("group.id is a distributed-mode key; a standalone worker has no group (drop it or use "
                          "mode='distributed')", key="group.id", scope="worker")
    return out


# -- connector ConfigDef ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigField:
    """One key of a connector's ``ConfigDef``: Kafka's type name (STRING, INT, LONG, BOOLEAN, LIST, CLASS, DOUBLE,
    PASSWORD), a default (``REQUIRED`` = none), importance, doc, group, and a validator ``check(value) -> error text
    or None`` or ``choices``."""

    name: str
    type: str = "STRING"
    default: Any = None
    importance: str = "HIGH"
    doc: str = ""
    group: str | None = None
    required: bool = False
    choices: tuple[str, ...] = ()
    at_least: float | None = None
    check: Callable[[Any], str | None] | None = None
    order: int = -1
    dependents: tuple[str, ...] = field(default_factory=tuple)


def _req(name: str, doc: str, group: str = "Common", kind: str = "STRING") -> ConfigField:
    return ConfigField(name, kind, None, "HIGH", doc, group, required=True)


def _one_of_ci(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    """Kafka's ``CaseInsensitiveValidString``."""
    def check(value: Any) -> str | None:
        if str(value).strip().lower() in options:
            return None
        return f"String must be one of (case insensitive): {', '.join(options)}"
    return check


def _non_empty(value: Any) -> str | None:
    """Kafka's ``NonEmptyString``."""
    return "String must be non-empty" if not str(value).strip() else None


COMMON_FIELDS: tuple[ConfigField, ...] = (
    _req("name", "Globally unique name to use for this connector."),
    _req("connector.class", "Name or alias of the class for this connector.", kind="STRING"),
    ConfigField("tasks.max", "INT", 1, "HIGH", "Maximum number of tasks to use for this connector.", "Common",
                at_least=1),
    ConfigField("tasks.max.enforce", "BOOLEAN", True, "LOW", "(Deprecated) Whether to enforce tasks.max.", "Common"),
    ConfigField("key.converter", "CLASS", None, "LOW", "Converter class for keys (overrides the worker).", "Common"),
    ConfigField("value.converter", "CLASS", None, "LOW", "Converter class for values (overrides the worker).",
                "Common"),
    ConfigField("header.converter", "CLASS", None, "LOW", "HeaderConverter class (overrides the worker).", "Common"),
    ConfigField("transforms", "LIST", "", "LOW", "Aliases for the transformations to be applied to records.",
                "Transforms"),
    ConfigField("predicates", "LIST", "", "LOW", "Aliases for the predicates used by transformations.",
                "Predicates"),
    ConfigField("config.action.reload", "STRING", "restart", "LOW", "Action on a config provider change.", "Common",
                choices=("none", "restart")),
    ConfigField("errors.retry.timeout", "LONG", 0, "MEDIUM", "Maximum duration in ms a failed operation is "
                "reattempted; 0 = no retries, -1 = infinite retries.", "Error Handling", at_least=-1),
    ConfigField("errors.retry.delay.max.ms", "LONG", 60_000, "MEDIUM", "Maximum ms between consecutive retries.",
                "Error Handling", at_least=1),
    ConfigField("errors.tolerance", "STRING", "none", "MEDIUM", "Behavior for tolerating errors during connector "
                "operation: 'none' fails the task, 'all' skips problematic records.", "Error Handling",
                choices=("none", "all")),
    ConfigField("errors.log.enable", "BOOLEAN", False, "MEDIUM", "Log each error and the failed operation.",
                "Error Handling"),
    ConfigField("errors.log.include.messages", "BOOLEAN", False, "MEDIUM", "Include the record in the log.",
                "Error Handling"),
)
SOURCE_FIELDS: tuple[ConfigField, ...] = (
    ConfigField("topic.creation.groups", "LIST", "", "LOW", "Groups of configurations for topics created by source "
                "connectors", "Topic Creation"),
    ConfigField("exactly.once.support", "STRING", "requested", "MEDIUM", "Permitted values are requested, required. "
                "If set to \"required\", forces a preflight check for the connector to ensure that it can provide "
                "exactly-once semantics with the given configuration (KIP-618).", "Exactly Once Support",
                check=_one_of_ci(("requested", "required"))),
    ConfigField("transaction.boundary", "STRING", "poll", "MEDIUM", "Permitted values are: poll, interval, connector. "
                "When the tasks' producer transactions are committed (KIP-618).", "Exactly Once Support",
                check=_one_of_ci(("poll", "interval", "connector"))),
    ConfigField("transaction.boundary.interval.ms", "LONG", None, "LOW", "If 'transaction.boundary' is set to "
                "'interval', determines the interval for producer transaction commits by connector tasks. If unset, "
                "defaults to the value of the worker-level 'offset.flush.interval.ms' property.",
                "Exactly Once Support", at_least=0),
    ConfigField("offsets.storage.topic", "STRING", None, "LOW", "The name of a separate offsets topic to use for "
                "this connector. If empty or not specified, the worker's global offsets topic name will be used.",
                "offsets.topic", check=_non_empty),
)
SINK_FIELDS: tuple[ConfigField, ...] = (
    ConfigField("topics", "LIST", "", "HIGH", "List of topics to consume, separated by commas", "Common"),
    ConfigField("topics.regex", "STRING", "", "HIGH", "Regular expression giving topics to consume.", "Common"),
    ConfigField("errors.deadletterqueue.topic.name", "STRING", "", "MEDIUM", "The name of the topic to be used as "
                "the dead letter queue (DLQ) for messages that result in an error when processed by this sink "
                "connector, or its transformations or converters.", "Error Handling"),
    ConfigField("errors.deadletterqueue.topic.replication.factor", "SHORT", 3, "MEDIUM", "Replication factor used "
                "to create the dead letter queue topic when it doesn't already exist.", "Error Handling"),
    ConfigField("errors.deadletterqueue.context.headers.enable", "BOOLEAN", False, "MEDIUM", "If true, add headers "
                "containing error context to the messages written to the dead letter queue.", "Error Handling"),
)


def parse_field(f: ConfigField, raw: Any) -> tuple[Any, str | None]:
    """(value, error text) of one field, with Kafka's ``ConfigDef`` texts."""
    if raw is None or (isinstance(raw, str) and raw == "" and f.type not in ("STRING", "LIST", "PASSWORD")):
        if f.required and f.default is None:
            return None, f'Missing required configuration "{f.name}" which has no default value.'
        raw = f.default
        if raw is None:
            return None, None
    value: Any = raw
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        if f.type in ("INT", "LONG", "SHORT"):
            if isinstance(text, bool):
                raise ValueError
            value = int(text)
        elif f.type == "DOUBLE":
            value = float(text)
        elif f.type == "BOOLEAN":
            if isinstance(text, bool):
                value = text
            elif str(text).lower() in ("true", "false"):
                value = str(text).lower() == "true"
            else:
                raise ValueError
        elif f.type == "LIST":
            if isinstance(text, (list, tuple)):
                value = [str(v).strip() for v in text]
            else:
                value = [v.strip() for v in str(text).split(",") if v.strip()]
        else:
            value = str(text) if text is not None else None
    except (TypeError, ValueError):
        if f.type == "BOOLEAN":
            return raw, f"Invalid value {raw} for configuration {f.name}: Expected value to be either true or false"
        return raw, f"Invalid value {raw} for configuration {f.name}: Not a number of type {f.type}"
    if f.at_least is not None and isinstance(value, (int, float)) and value < f.at_least:
        return value, f"Invalid value {value} for configuration {f.name}: Value must be at least {_num(f.at_least)}"
    if f.choices and value is not None and value not in f.choices:
        return value, f"Invalid value {value} for configuration {f.name}: String must be one of: " \
                      f"{', '.join(f.choices)}"
    if f.check is not None and value is not None:
        problem = f.check(value)
        if problem:
            return value, f"Invalid value {value} for configuration {f.name}: {problem}"
    return value, None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def validate(class_name: str, fields: Sequence[ConfigField], config: Mapping[str, Any],
             extra: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """Kafka's ``ConfigInfos`` for ``config`` against ``fields`` (plus ``extra`` errors by key)."""
    groups: list[str] = []
    configs: list[dict[str, Any]] = []
    errors = 0
    extra = dict(extra or {})
    for order, f in enumerate(fields, start=1):
        value, problem = parse_field(f, config.get(f.name))
        found = [problem] if problem else []
        found += extra.pop(f.name, [])
        errors += len(found)
        group = f.group
        if group and group not in groups:
            groups.append(group)
        raw = config.get(f.name)
        configs.append({
            "definition": {"name": f.name, "type": f.type, "required": f.required and f.default is None,
                           "default_value": None if f.default is None else _text(f.default),
                           "importance": f.importance, "documentation": f.doc, "group": group,
                           "width": "NONE", "display_name": f.name, "dependents": list(f.dependents),
                           "order": order if f.order < 0 else f.order},
            "value": {"name": f.name, "value": None if raw is None else _text(raw),
                      "recommended_values": list(f.choices), "errors": found, "visible": True}})
    for key in sorted(extra):       # errors on keys without a definition (transforms, predicates, ...)
        errors += len(extra[key])
        configs.append({"definition": None,
                        "value": {"name": key, "value": None if config.get(key) is None else _text(config[key]),
                                  "recommended_values": [], "errors": list(extra[key]), "visible": True}})
    return {"name": class_name, "error_count": errors, "groups": groups, "configs": configs}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)

"""The connector developer's API: Kafka Connect's ``connect/api`` (``SourceConnector``, ``SourceTask``,
``SinkConnector``, ``SinkTask``, ``SourceRecord``, ``SinkRecord``, ``Schema``, ``ConnectorTaskId``) in Python.

How it works. A connector is a class registered by name (:func:`register_plugin`, or the ``plugin.path`` of a
notebook: any subclass defined there can be registered). The runtime instantiates it on the worker the assignment
names and calls the same methods in the same order as Kafka's ``WorkerConnector``, ``WorkerSourceTask`` and
``WorkerSinkTask``: ``Connector.start(props)``, ``task_configs(max_tasks)``, ``stop()``; ``SourceTask.start(props)``,
``poll()``, ``commit()``, ``commit_record(record, metadata)``, ``stop()``; ``SinkTask.start(props)``, ``open(parts)``,
``put(records)``, ``flush(offsets)``, ``pre_commit(offsets)``, ``close(parts)``, ``stop()``.

One difference, named: Kafka's ``SourceTask.poll()`` blocks its task thread until data arrives; a simulated task must
return at once. ``poll()`` returns the records there are now (or None), and when it returned nothing the runtime polls
again after :meth:`SourceTask.poll_delay_ms` of virtual time (FileStreamSource waits a second, as its Java task does;
SqliteSource waits until ``poll.interval.ms`` since its last query, as the JDBC connector does).

Values are Python values: ``dict`` stands for a ``Struct`` (fields by name, in the order of the value schema's fields
when there is one), ``list`` for an array, ``str``/``int``/``float``/``bool``/``bytes``/None for the primitives.
Schemas are optional, as in Kafka (a schemaless record has ``value_schema=None``).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Schema", "SchemaField", "ConnectRecord", "SourceRecord", "SinkRecord", "ConnectorTaskId", "Connector",
           "SourceConnector", "SinkConnector", "Task", "SourceTask", "SinkTask", "ConnectorContext",
           "SourceTaskContext", "SinkTaskContext", "OffsetStorageReader", "ConnectException", "DataException",
           "RetriableException", "PRIMITIVE_TYPES", "struct_schema", "ExactlyOnceSupport",
           "ConnectorTransactionBoundaries", "TransactionContext"]

#: Kafka's ``Schema.Type`` values (lower case, as JsonConverter writes them)
PRIMITIVE_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes")
_ALL_TYPES = PRIMITIVE_TYPES + ("array", "map", "struct")


class ConnectException(Exception):
    """Kafka's ``org.apache.kafka.connect.errors.ConnectException``: a connector or the framework failed."""


class DataException(ConnectException):
    """Kafka's ``DataException``: data could not be converted or transformed."""


class RetriableException(ConnectException):
    """Kafka's ``RetriableException``: the operation may succeed if retried (``put`` is retried, not fatal)."""


@dataclass(frozen=True, slots=True)
class SchemaField:
    name: str
    schema: Schema


@dataclass(frozen=True, slots=True)
class Schema:
    """Kafka's ``ConnectSchema``: a type, optional, a name and version, fields for a struct, key/value schemas for a
    map and the value schema of an array."""

    type: str
    optional: bool = False
    name: str | None = None
    version: int | None = None
    doc: str | None = None
    fields: tuple[SchemaField, ...] = ()
    key_schema: Schema | None = None
    value_schema: Schema | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    default: Any = None

    def __post_init__(self) -> None:
        if self.type not in _ALL_TYPES:
            raise ValueError(f"unknown schema type {self.type!r}; types: {', '.join(_ALL_TYPES)}")

    def field(self, name: str) -> SchemaField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def with_optional(self, optional: bool = True) -> Schema:
        return replace(self, optional=optional)


def struct_schema(fields: Mapping[str, Schema] | Sequence[tuple[str, Schema]], *, name: str | None = None,
                  optional: bool = False) -> Schema:
    """A struct schema from (name, schema) pairs, in order."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    return Schema("struct", optional=optional, name=name, fields=tuple(SchemaField(n, s) for n, s in items))


@dataclass(frozen=True, slots=True)
class ConnectorTaskId:
    """Kafka's ``ConnectorTaskId``: ordered by connector name, then task number (``"name-0"`` as text)."""

    connector: str
    task: int

    def __str__(self) -> str:
        return f"{self.connector}-{self.task}"

    def __lt__(self, other: ConnectorTaskId) -> bool:
        return (self.connector, self.task) < (other.connector, other.task)


@dataclass(frozen=True, slots=True)
class ConnectRecord:
    """Kafka's ``ConnectRecord``: what converters produce and transforms change (``new_record`` copies)."""

    topic: str
    kafka_partition: int | None
    key_schema: Schema | None
    key: Any
    value_schema: Schema | None
    value: Any
    timestamp: int | None = None
    headers: tuple[tuple[str, Any], ...] = ()

    def new_record(self, **changes: Any) -> Any:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class SourceRecord(ConnectRecord):
    """Kafka's ``SourceRecord``: a record a source task read, with where it came from (``source_partition``) and how
    far it got there (``source_offset``); both are small JSON-able dicts, stored in the offsets topic."""

    source_partition: Mapping[str, Any] | None = None
    source_offset: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, source_partition: Mapping[str, Any] | None, source_offset: Mapping[str, Any] | None, topic: str,
           value: Any, *, key: Any = None, partition: int | None = None, key_schema: Schema | None = None,
           value_schema: Schema | None = None, timestamp: int | None = None,
           headers: Sequence[tuple[str, Any]] = ()) -> SourceRecord:
        """Kafka's constructor order: ``SourceRecord(sourcePartition, sourceOffset, topic, ..., value)``."""
        return cls(topic, partition, key_schema, key, value_schema, value, timestamp, tuple(headers),
                   source_partition, source_offset)


@dataclass(frozen=True, slots=True)
class SinkRecord(ConnectRecord):
    """Kafka's ``SinkRecord``: a consumed record after conversion and transforms, with its Kafka offset (and the
    original topic and partition, KIP-793, before a transform renamed it)."""

    kafka_offset: int = -1
    original_topic: str | None = None
    original_kafka_partition: int | None = None


# -- contexts -----------------------------------------------------------------------------------------------------
class OffsetStorageReader:
    """Kafka's ``OffsetStorageReader``: the committed source offsets of this connector, by source partition."""

    def __init__(self, lookup: Any) -> None:
        self._lookup = lookup

    def offset(self, partition: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._lookup(partition)

    def offsets(self, partitions: Sequence[Mapping[str, Any]]) -> dict[Any, dict[str, Any] | None]:
        import json
        return {json.dumps(p, sort_keys=True): self._lookup(p) for p in partitions}


class ConnectorContext:
    """Kafka's ``ConnectorContext``: ask for task reconfiguration, or fail the connector."""

    def __init__(self, request_reconfiguration: Any, raise_error: Any,
                 offset_storage_reader: OffsetStorageReader | None = None) -> None:
        self._reconfigure = request_reconfiguration
        self._raise = raise_error
        self.offset_storage_reader = offset_storage_reader

    def request_task_reconfiguration(self) -> None:
        self._reconfigure()

    def raise_error(self, error: BaseException) -> None:
        self._raise(error)


class ExactlyOnceSupport(enum.Enum):
    """What ``SourceConnector.exactly_once_support(config)`` answers (KIP-618; None = the connector does not say)."""

    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"


class ConnectorTransactionBoundaries(enum.Enum):
    """What ``SourceConnector.can_define_transaction_boundaries(config)`` answers (KIP-618)."""

    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"


class TransactionContext:
    """Kafka's ``TransactionContext`` (KIP-618): a task of a connector with ``transaction.boundary=connector`` asks
    for the transaction to be committed or aborted after the current batch, or after a given record of it. An abort
    drops the transaction's records, but their source offsets are still committed (in a new transaction), so the task
    does not see those records again (Kafka's ``ExactlyOnceWorkerSourceTask``)."""

    def __init__(self) -> None:
        self._commit_batch = False
        self._abort_batch = False
        self._commit_on: list[SourceRecord] = []
        self._abort_on: list[SourceRecord] = []

    def commit_transaction(self, record: SourceRecord | None = None) -> None:
        """Commit after the current batch, or (with ``record``) right after that record is dispatched."""
        if record is None:
            self._commit_batch = True
        else:
            self._commit_on.append(_require_record(record))

    def abort_transaction(self, record: SourceRecord | None = None) -> None:
        """Abort after the current batch, or (with ``record``) right after that record is dispatched."""
        if record is None:
            self._abort_batch = True
        else:
            self._abort_on.append(_require_record(record))

    # -- the runtime's side (Kafka's WorkerTransactionContext) ---------------------------------------------------------
    def should_commit_batch(self) -> bool:
        self._check_batch()
        out, self._commit_batch = self._commit_batch, False
        return out

    def should_abort_batch(self) -> bool:
        self._check_batch()
        out, self._abort_batch = self._abort_batch, False
        return out

    def should_commit_on(self, record: SourceRecord) -> bool:
        self._check_record(record)
        return _take(self._commit_on, record)

    def should_abort_on(self, record: SourceRecord) -> bool:
        self._check_record(record)
        return _take(self._abort_on, record)

    def _check_batch(self) -> None:
        if self._commit_batch and self._abort_batch:
            raise IllegalStateException("Connector requested both commit and abort of same transaction")

    def _check_record(self, record: SourceRecord) -> None:
        if record in self._commit_on and record in self._abort_on:
            raise IllegalStateException(f"Connector requested both commit and abort of same record against "
                                        f"topic/partition {record.topic}/{record.kafka_partition}")


class IllegalStateException(ConnectException):
    """Java's IllegalStateException as the transaction context raises it (fails the task)."""


def _require_record(record: Any) -> SourceRecord:
    if not isinstance(record, SourceRecord):
        raise TypeError(f"record must be a SourceRecord the task returned from poll(), got {type(record).__name__}")
    return record


def _take(records: list[SourceRecord], record: SourceRecord) -> bool:
    """Remove every request for ``record`` (by value, as Kafka's HashSet of records does)."""
    found = record in records
    if found:
        records[:] = [r for r in records if r != record]
    return found


class SourceTaskContext:
    """Kafka's ``SourceTaskContext``: the task's config, its offset reader and (connector-defined transaction
    boundaries only) its :class:`TransactionContext`."""

    def __init__(self, configs: Mapping[str, str], offset_storage_reader: OffsetStorageReader,
                 clock: Any = None, transaction_context: TransactionContext | None = None) -> None:
        self._configs = dict(configs)
        self.offset_storage_reader = offset_storage_reader
        self._clock = clock
        self._transaction_context = transaction_context

    def configs(self) -> dict[str, str]:
        return dict(self._configs)

    def transaction_context(self) -> TransactionContext | None:
        """The transaction context when the connector defines its own transaction boundaries
        (``transaction.boundary=connector`` with exactly-once sources enabled), else None (Kafka's contract)."""
        return self._transaction_context

    def time_ms(self) -> int:
        """The worker's clock (virtual ms): what a Java task reads with ``System.currentTimeMillis()``."""
        return int(self._clock()) if self._clock is not None else 0


class SinkTaskContext:
    """Kafka's ``SinkTaskContext``: rewind (``offset``), ``pause``/``resume`` partitions, ``request_commit``."""

    def __init__(self, configs: Mapping[str, str], runtime: Any) -> None:
        self._configs = dict(configs)
        self._runtime = runtime

    def configs(self) -> dict[str, str]:
        return dict(self._configs)

    def offset(self, offsets: Mapping[Any, int]) -> None:
        self._runtime.rewind(dict(offsets))

    def timeout(self, timeout_ms: int) -> None:
        self._runtime.set_retry_timeout(timeout_ms)

    def assignment(self) -> set[Any]:
        return set(self._runtime.assignment())

    def pause(self, *partitions: Any) -> None:
        self._runtime.pause_partitions(partitions)

    def resume(self, *partitions: Any) -> None:
        self._runtime.resume_partitions(partitions)

    def request_commit(self) -> None:
        self._runtime.request_commit()


# -- connectors and tasks -------------------------------------------------------------------------------------------
class Connector:
    """Kafka's ``Connector``. Subclasses define ``start``, ``task_class``, ``task_configs``, ``stop`` and may define
    ``config_def`` (a list of :class:`~kafkalab.connect.config_def.ConfigField`) and ``validate``."""

    #: "source" or "sink" (set by SourceConnector / SinkConnector)
    type = "unknown"
    #: shown by GET /connector-plugins
    version_string = "4.0.0"
    context: ConnectorContext

    def initialize(self, context: ConnectorContext) -> None:
        self.context = context

    def version(self) -> str:
        return self.version_string

    def start(self, props: Mapping[str, str]) -> None:
        raise NotImplementedError

    def task_class(self) -> Any:
        """The Task subclass this connector's tasks run."""
        raise NotImplementedError

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        raise NotImplementedError

    def stop(self) -> None:
        pass

    def config_def(self) -> list[Any]:
        """The connector's own config keys (:class:`~kafkalab.connect.config_def.ConfigField`)."""
        return []


class SourceConnector(Connector):
    """Kafka's ``SourceConnector``."""

    type = "source"

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport | None:
        """Whether this connector can give exactly-once delivery with ``config`` (checked when
        ``exactly.once.support=required``); None, Kafka's default, means it does not say."""
        return None

    def can_define_transaction_boundaries(self, config: Mapping[str, str]) -> ConnectorTransactionBoundaries:
        """Whether its tasks define transaction boundaries (needed by ``transaction.boundary=connector``)."""
        return ConnectorTransactionBoundaries.UNSUPPORTED

    def alter_offsets(self, connector_config: Mapping[str, str],
                      offsets: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]]) -> bool:
        """Kafka's ``alterOffsets``: called before the framework writes altered or reset (None) source offsets of a
        stopped connector, as (source partition, source offset) pairs (a list: dicts cannot key a dict); True if the
        connector needs nothing else done, False (the default) if it cannot say. Raise to refuse the request."""
        return False


class SinkConnector(Connector):
    """Kafka's ``SinkConnector``."""

    type = "sink"

    def alter_offsets(self, connector_config: Mapping[str, str], offsets: Mapping[Any, int | None]) -> bool:
        """Kafka's ``alterOffsets``: called before the framework alters or resets (None) the consumer group's
        offsets of a stopped connector; True if the connector needs nothing else done (it keeps no offsets of its
        own), False (the default) if it cannot say. Raise to refuse the request."""
        return False


class Task:
    """Kafka's ``Task``."""

    def version(self) -> str:
        return "4.0.0"

    def start(self, props: Mapping[str, str]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass


class SourceTask(Task):
    """Kafka's ``SourceTask``. ``poll()`` returns a list of :class:`SourceRecord` or None (see the module header for
    the one difference: it must not block; :meth:`poll_delay_ms` says when to poll again after an empty poll)."""

    context: SourceTaskContext

    def initialize(self, context: SourceTaskContext) -> None:
        self.context = context

    def poll(self) -> list[SourceRecord] | None:
        raise NotImplementedError

    def poll_delay_ms(self) -> float:
        """How long the runtime waits before polling again after an empty poll (the blocking poll's stand-in)."""
        return 1000.0

    def commit(self) -> None:
        """Offsets up to now were committed to the offsets topic."""

    def commit_record(self, record: SourceRecord, metadata: Any) -> None:
        """``record`` was acknowledged by Kafka (``metadata`` is its RecordMetadata; None if it was filtered)."""


class SinkTask(Task):
    """Kafka's ``SinkTask``."""

    context: SinkTaskContext

    def initialize(self, context: SinkTaskContext) -> None:
        self.context = context

    def open(self, partitions: list[Any]) -> None:
        """Partitions assigned to this task (after a rebalance)."""

    def close(self, partitions: list[Any]) -> None:
        """Partitions taken away (revoked or lost): write out what is buffered for them."""

    def put(self, records: list[SinkRecord]) -> None:
        raise NotImplementedError

    def flush(self, current_offsets: Mapping[Any, Any]) -> None:
        """Write everything ``put`` so far; the framework commits ``current_offsets`` afterwards."""

    def pre_commit(self, current_offsets: Mapping[Any, Any]) -> Mapping[Any, Any]:
        """Kafka's ``preCommit``: flush, then return the offsets that are safe to commit."""
        self.flush(current_offsets)
        return current_offsets


def _default_field_list() -> list[Any]:
    return []


@dataclass
class PluginInfo:
    """A connector plugin as GET /connector-plugins lists it."""

    class_name: str
    type: str
    version: str
    cls: Any = None
    aliases: list[str] = field(default_factory=_default_field_list)

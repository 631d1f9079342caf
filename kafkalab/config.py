"""Every Kafka 4.x config key kafkalab understands: name, type, default, documentation and validation.

How it works. ``_TABLE`` below is plain data: one :class:`ConfigKey` row per (scope, key), with Kafka's dotted name,
Kafka's type and Kafka's default (checked against apache/kafka's ``ProducerConfig``, ``ConsumerConfig``,
``AdminClientConfig``, ``LogConfig``, ``ServerLogConfigs``, ``CleanerConfig``, ``ReplicationConfigs``,
``QuorumConfig``, ``KRaftConfigs``, ``ServerConfigs`` and ``GroupCoordinatorConfig``, as of the latest Kafka 4
release: every definition was compared between the 3.9.1, 4.0.0, 4.1.0 and 4.2.0 sources). :data:`KEY_HISTORY` says
which release each changed default comes from (``linger.ms=5``: 4.0, KIP-1030; ``group.coordinator.append.linger.ms=-1``:
4.2, ...) and lists the keys Kafka removed: :func:`resolve` refuses one with a message that says in which release it
went and what replaces it. The table is rendered at the end of this docstring and checked against ``_TABLE`` by the
tests.
:func:`resolve` turns overrides into a read-only :class:`Config` holding every key of the scope: defaults first, then
the overrides, each parsed from a Python value or from Kafka's string form (``"2"``, ``"false"``, ``"a,b"``) and
validated. All problems are collected and raised together as one :class:`~kafkalab.errors.ConfigError`, so a failing
resolve never half-applies anything.

Scopes: ``broker`` (brokers and KRaft controllers share one config, as a combined-mode ``server.properties`` does),
``topic`` (per-topic overrides), ``producer``, ``consumer`` and ``admin``.

Topic defaults come from the broker, as in Kafka (``ServerTopicConfigSynonyms``): a topic key such as
``retention.ms`` has broker synonyms (``log.retention.ms``, ``log.retention.minutes``, ``log.retention.hours``), and
``resolve("topic", overrides, broker=broker_config)`` fills each key the topic does not override from the first
synonym that is set, converted to the topic's unit. Without a broker config, Kafka's topic defaults apply.

Parsing follows ``ConfigDef.parseType``: strings are trimmed, booleans are ``true``/``false`` in any case, integers
are decimal and must fit the Java type, a bool is never a number nor a number a bool. Normalised values: lists become
tuples (a Config is immutable); ``acks`` accepts ``all``/``-1``/``0``/``1`` (strings or ints) and is stored as
``"all"``, ``"1"`` or ``"0"``. String choices match as Kafka's validator for that key matches them: exactly, as
``ValidString``/``ValidList`` do (``message.timestamp.type=CREATETIME`` is refused, with a hint), or ignoring case where
Kafka uses ``CaseInsensitiveValidString`` (``group.protocol``, ``group.consumer.migration.policy``); either way the
stored value is Kafka's spelling.

Deliberate differences from Kafka's ``ConfigDef``:
- Keys the simulation cannot mean anything by (security, serializers, socket buffers, metrics reporters) are left out,
  so a typo is never silently accepted. ``bootstrap.servers`` names broker ids ("1,3"): a simulated client is wired
  to its cluster, and the list only says which brokers it asks for metadata first.
- Assignors have short names (``range``, ``cooperative-sticky``, ``uniform``); Kafka's class names are accepted and
  normalised to them. An integral float (``500.0``, from notebook arithmetic) is accepted for an integer key.
- Where Kafka has no validator for a time (``controller.quorum.*``, ``broker.heartbeat.interval.ms``, ...), kafkalab
  requires a value >= 0 (>= 1 where zero would stall the simulation): a negative timeout would break a run silently.

Adding a key is one row in ``_TABLE``: ``ConfigKey(scope, name, type, default, doc, valid, importance, synonyms)``.
The table is checked at import: no duplicates, every default passes its own validation, every synonym exists.
"""
from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkalab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ConfigType",
    "Range",
    "OneOf",
    "NonEmpty",
    "ConfigKey",
    "Config",
    "SCOPES",
    "scopes",
    "keys",
    "key",
    "resolve",
    "describe",
    "INT_MAX",
    "LONG_MAX",
    "KeyChange",
    "KEY_HISTORY",
    "removed_key",
    "default_release",
    "key_history",
]

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
SHORT_MAX = 2**15 - 1
SHORT_MIN = -(2**15)

SCOPES: tuple[str, ...] = ("broker", "topic", "producer", "consumer", "admin")


class ConfigType(enum.Enum):
    """Kafka's ``ConfigDef.Type`` values that kafkalab uses."""

    BOOLEAN = "boolean"
    SHORT = "short"
    INT = "int"
    LONG = "long"
    DOUBLE = "double"
    STRING = "string"
    LIST = "list"


_INT_BOUNDS: dict[ConfigType, tuple[int, int]] = {
    ConfigType.SHORT: (SHORT_MIN, SHORT_MAX),
    ConfigType.INT: (INT_MIN, INT_MAX),
    ConfigType.LONG: (LONG_MIN, LONG_MAX),
}


@dataclass(frozen=True, slots=True)
class Range:
    """Kafka's ``ConfigDef.Range``: ``min <= value <= max``; ``None`` is an open end."""

    min: float | None = None
    max: float | None = None

    def check(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def __str__(self) -> str:
        lo = "..." if self.min is None else _num(self.min)
        hi = "..." if self.max is None else _num(self.max)
        return f"[{lo}, {hi}]"


@dataclass(frozen=True, slots=True)
class OneOf:
    """Kafka's ``ValidString.in`` (for strings) and ``ValidList.in`` (for every element of a list), both case-sensitive;
    ``case_insensitive=True`` is Kafka's ``CaseInsensitiveValidString.in``.

    ``aliases`` maps other accepted spellings to a canonical value (``-1`` -> ``all``). ``class_names`` maps Kafka's Java
    class names to kafkalab's short names; the simple class name (after the last dot) is accepted too. The stored value
    is always the canonical spelling in ``values``.
    """

    values: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()
    class_names: tuple[tuple[str, str], ...] = ()
    case_insensitive: bool = False

    def canonical(self, text: str) -> str | None:
        wanted = self._fold(text.strip())
        for value in self.values:
            if self._fold(value) == wanted:
                return value
        for alias, value in self.aliases:
            if self._fold(alias) == wanted:
                return value
        for class_name, value in self.class_names:
            if wanted in (self._fold(class_name), self._fold(class_name.rsplit(".", 1)[-1])):
                return value
        return None

    def _fold(self, text: str) -> str:
        return text.lower() if self.case_insensitive else text

    def closest(self, text: str) -> str:
        """``" (did you mean 'x'?)"`` for the allowed value closest to ``text`` ignoring case, or ``""``.

        The hint ignores case even where matching does not, since a value that differs only in case is the likeliest
        mistake of all; it then says that case matters."""
        folded = text.strip().lower()
        close = difflib.get_close_matches(folded, [v.lower() for v in self.values], n=1, cutoff=0.6)
        if not close:
            return ""
        value = next(v for v in self.values if v.lower() == close[0])
        if value.lower() == folded:
            return f" (did you mean {value!r}? values are case-sensitive)"
        return f" (did you mean {value!r}?)"

    def __str__(self) -> str:
        text = ", ".join(self.values)
        if self.aliases:
            text += " (" + ", ".join(f"{alias} = {value}" for alias, value in self.aliases) + ")"
        if self.class_names:
            text += f" (or Kafka's class names, such as {self.class_names[0][0]})"
        if self.case_insensitive:
            text += " (case insensitive)"
        return text


@dataclass(frozen=True, slots=True)
class NonEmpty:
    """Kafka's ``NonEmptyString``: null is allowed (if the default is null), the empty string is not."""

    def __str__(self) -> str:
        return "a non-empty string"


Validator = Range | OneOf | NonEmpty


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One config key of one scope. ``default=None`` means Kafka's ``null`` (the key is then nullable).

    ``synonyms`` (topic keys only) are the broker keys that supply this key's default, in priority order, each with the
    factor that converts the broker's unit into this key's unit (``log.retention.hours`` -> ``retention.ms``: 3600000).
    """

    scope: str
    name: str
    type: ConfigType
    default: Any
    doc: str
    valid: Validator | None = None
    importance: str = "medium"
    synonyms: tuple[tuple[str, int], ...] = ()

    @property
    def nullable(self) -> bool:
        return self.default is None

    def valid_values(self) -> str:
        """The allowed values in words, for error messages and :func:`describe`."""
        if isinstance(self.valid, OneOf):
            prefix = "each of " if self.type is ConfigType.LIST else "one of "
            return prefix + str(self.valid)
        if self.type is ConfigType.BOOLEAN:
            return "true, false"
        if isinstance(self.valid, Range | NonEmpty):
            return str(self.valid)
        if self.type in _INT_BOUNDS:
            lo, hi = _INT_BOUNDS[self.type]
            return f"[{lo}, {hi}]"
        return ""

    def parse(self, value: Any) -> Any:
        """Parse and validate one value (Python or Kafka string form). Raises ConfigError naming key and value."""
        if value is None:
            if self.nullable:
                return None
            raise self._bad(value, "this key has no null value")
        parsed = _PARSERS[self.type](self, value)
        if isinstance(self.valid, Range) and not self.valid.check(parsed):
            raise self._bad(value, f"value must be in {self.valid}", show_allowed=False)
        return parsed

    def _bad(self, value: Any, why: str, *, show_allowed: bool = True) -> ConfigError:
        allowed = self.valid_values() if show_allowed else ""
        expected = f"; allowed: {allowed}" if allowed else ""
        return ConfigError(
            f"invalid value {value!r} for {self.scope} config {self.name!r} ({self.type.value}): {why}{expected}",
            key=self.name, scope=self.scope, value=value,
        )


# --- parsing, one function per type (Kafka's ConfigDef.parseType) --------------------------------------------------


def _parse_bool(key: ConfigKey, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
    raise key._bad(value, "expected a boolean")


def _parse_integer(key: ConfigKey, value: Any) -> int:
    lo, hi = _INT_BOUNDS[key.type]
    if isinstance(value, bool):
        raise key._bad(value, f"expected {_article(key.type)}, got a bool")
    if isinstance(value, int):
        parsed = value
    elif isinstance(value, float) and value.is_integer():
        parsed = int(value)  # 500.0 from arithmetic in a notebook; 0.5 is still an error
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        parsed = int(value.strip(), 10)
    elif isinstance(value, str | float):
        raise key._bad(value, f"expected {_article(key.type)}")
    else:
        raise key._bad(value, f"expected {_article(key.type)}, got {type(value).__name__}")
    if not lo <= parsed <= hi:
        raise key._bad(value, f"does not fit in {_article(key.type)}")
    return parsed


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")  # what Java's Integer.parseInt / Long.parseLong accept


def _parse_double(key: ConfigKey, value: Any) -> float:
    if isinstance(value, bool):
        raise key._bad(value, "expected a double, got a bool")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise key._bad(value, "expected a double") from None
    raise key._bad(value, f"expected a double, got {type(value).__name__}")


def _parse_string(key: ConfigKey, value: Any) -> str:
    if isinstance(value, bool):
        raise key._bad(value, "expected a string, got a bool")
    # acks=1 and acks=-1 as Python ints: a choice may be given as an int
    text = str(value) if isinstance(value, int) and isinstance(key.valid, OneOf) else value
    if not isinstance(text, str):
        raise key._bad(value, f"expected a string, got {type(value).__name__}")
    if isinstance(key.valid, OneOf):
        canonical = key.valid.canonical(text)
        if canonical is None:
            raise key._bad(value, "not an allowed value" + key.valid.closest(text))
        return canonical
    if isinstance(key.valid, NonEmpty) and not text.strip():
        raise key._bad(value, "the empty string is not allowed")
    return text.strip()


def _parse_list(key: ConfigKey, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")] if value.strip() else []
    elif isinstance(value, Sequence):
        items = []
        for item in value:
            if not isinstance(item, str):
                raise key._bad(value, f"list elements must be strings, got {type(item).__name__}")
            items.append(item.strip())
    else:
        raise key._bad(value, f"expected a comma-separated string or a list, got {type(value).__name__}")
    if any(item == "" for item in items):
        raise key._bad(value, "empty list element")
    if isinstance(key.valid, OneOf):
        out = []
        for item in items:
            canonical = key.valid.canonical(item)
            if canonical is None:
                raise key._bad(value, f"element {item!r} is not an allowed value" + key.valid.closest(item))
            out.append(canonical)
        items = out
    return tuple(items)


_PARSERS: dict[ConfigType, Any] = {
    ConfigType.BOOLEAN: _parse_bool,
    ConfigType.SHORT: _parse_integer,
    ConfigType.INT: _parse_integer,
    ConfigType.LONG: _parse_integer,
    ConfigType.DOUBLE: _parse_double,
    ConfigType.STRING: _parse_string,
    ConfigType.LIST: _parse_list,
}


def _article(kind: ConfigType) -> str:
    return ("an " if kind is ConfigType.INT else "a ") + kind.value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# --- the table ----------------------------------------------------------------------------------------------------

BOOL, INT, SHORT, LONG, DOUBLE, STRING, LIST = (ConfigType.BOOLEAN, ConfigType.INT, ConfigType.SHORT, ConfigType.LONG,
                                               ConfigType.DOUBLE, ConfigType.STRING, ConfigType.LIST)
AT_LEAST_0 = Range(0)
AT_LEAST_1 = Range(1)
HIGH, MEDIUM, LOW = "high", "medium", "low"

# Choices are case-sensitive unless Kafka's validator is CaseInsensitiveValidString. Kafka's validator for each key:
# cleanup.policy, log.cleanup.policy: ValidList.in (LogConfig); message.timestamp.type, log.message.timestamp.type:
# ValidString.in (LogConfig); compression.type of topic and broker: ValidString.in(BrokerCompressionType.names())
# (LogConfig, ServerConfigs); the producer's compression.type and acks: ValidString.in (ProducerConfig);
# isolation.level: ValidString.in, auto.offset.reset: AutoOffsetResetStrategy.Validator, exact names, group.protocol:
# CaseInsensitiveValidString.in (ConsumerConfig); process.roles: ValidList.in (KRaftConfigs);
# group.coordinator.rebalance.protocols: ValidList.in, group.consumer.migration.policy: CaseInsensitiveValidString.in
# (GroupCoordinatorConfig).
_CLEANUP_POLICY = OneOf(("delete", "compact"))
_TIMESTAMP_TYPE = OneOf(("CreateTime", "LogAppendTime"))
_BROKER_COMPRESSION = OneOf(("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"))
_CLIENT_COMPRESSION = OneOf(("none", "gzip", "snappy", "lz4", "zstd"))
# Kafka resolves assignors by class name (Class.forName), so case matters there too.
_CLIENT_ASSIGNORS = OneOf(
    ("range", "roundrobin", "sticky", "cooperative-sticky"),
    class_names=(
        ("org.apache.kafka.clients.consumer.RangeAssignor", "range"),
        ("org.apache.kafka.clients.consumer.RoundRobinAssignor", "roundrobin"),
        ("org.apache.kafka.clients.consumer.StickyAssignor", "sticky"),
        ("org.apache.kafka.clients.consumer.CooperativeStickyAssignor", "cooperative-sticky"),
    ),
)
_SERVER_ASSIGNORS = OneOf(
    ("uniform", "range"),
    class_names=(
        ("org.apache.kafka.coordinator.group.assignor.UniformAssignor", "uniform"),
        ("org.apache.kafka.coordinator.group.assignor.RangeAssignor", "range"),
    ),
)
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000

# One row per key. Keep rows grouped by scope and subject; describe() sorts by name.
_TABLE: tuple[ConfigKey, ...] = (
    # ---- broker: KRaft quorum (QuorumConfig, KRaftConfigs) ----
    ConfigKey("broker", "process.roles", LIST, (), "Roles of this node: broker, controller or both (set by Cluster).",
              OneOf(("broker", "controller")), HIGH),
    ConfigKey("broker", "node.id", INT, -1, "Node id of this server (set by Cluster).", None, HIGH),
    ConfigKey("broker", "controller.quorum.election.timeout.ms", INT, 1000,
              "Max time without finding a leader before triggering a new election; randomised as base + rand[0, base).",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "controller.quorum.fetch.timeout.ms", INT, 2000,
              "Max time without a successful fetch from the leader before a voter becomes a candidate.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "controller.quorum.election.backoff.max.ms", INT, 1000,
              "Max exponential backoff before starting a new election after a failed one.", AT_LEAST_0, HIGH),
    ConfigKey("broker", "controller.quorum.append.linger.ms", INT, 25,
              "How long the quorum leader waits to accumulate writes before flushing a batch.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "controller.quorum.request.timeout.ms", INT, 2000,
              "Max time a quorum RPC waits for its response before it is resent or failed.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "controller.quorum.retry.backoff.ms", INT, 20,
              "Time to wait before retrying a failed quorum request.", AT_LEAST_0, LOW),
    ConfigKey("broker", "broker.heartbeat.interval.ms", INT, 2000,
              "Interval between a broker's heartbeats to the active controller.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "broker.session.timeout.ms", INT, 9000,
              "A broker that sends no heartbeat for this long is fenced by the controller.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "initial.broker.registration.timeout.ms", INT, 60000,
              "How long a broker waits for its initial registration before giving up.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "metadata.max.idle.interval.ms", INT, 500,
              "The active controller appends a NoOp record when the metadata log was idle this long; 0 disables.",
              AT_LEAST_0, LOW),
    ConfigKey("broker", "metadata.log.max.record.bytes.between.snapshots", LONG, 20971520,
              "Bytes of metadata records appended since the last snapshot before a new snapshot is generated.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "metadata.log.max.snapshot.interval.ms", LONG, 3600000,
              "Max time since the last snapshot before a new one is generated (if there are new records); 0 disables.",
              AT_LEAST_0, HIGH),
    ConfigKey("broker", "metadata.log.segment.bytes", INT, 1073741824, "Size of one segment of the metadata log.",
              Range(8 * 1024 * 1024), HIGH),
    ConfigKey("broker", "metadata.log.segment.ms", LONG, 604800000, "Max age of a metadata log segment before rolling.",
              None, HIGH),
    ConfigKey("broker", "metadata.max.retention.bytes", LONG, 104857600,
              "Max combined size of the metadata log and snapshots before old ones are deleted; -1 = unlimited.",
              None, HIGH),
    ConfigKey("broker", "metadata.max.retention.ms", LONG, 604800000,
              "Max age of a metadata snapshot or log segment before it is deleted; -1 = unlimited.", None, HIGH),
    # ---- broker: replication (ReplicationConfigs) ----
    ConfigKey("broker", "replica.lag.time.max.ms", LONG, 30000,
              "A follower that has not caught up to the leader's log end within this time leaves the ISR.",
              None, HIGH),
    ConfigKey("broker", "replica.fetch.wait.max.ms", INT, 500,
              "Max time a follower's fetch is parked at the leader waiting for data.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "replica.fetch.min.bytes", INT, 1,
              "Min bytes a follower's fetch waits for before the leader answers.", AT_LEAST_0, HIGH),
    ConfigKey("broker", "replica.fetch.max.bytes", INT, 1048576,
              "Bytes a follower tries to fetch per partition (the first batch is returned even if larger).",
              AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "replica.fetch.response.max.bytes", INT, 10485760,
              "Max bytes of a whole follower fetch response.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "replica.socket.timeout.ms", INT, 30000, "Timeout of a follower's fetch request.", None,
              HIGH),
    ConfigKey("broker", "replica.fetch.backoff.ms", INT, 1000,
              "Time a replica fetcher sleeps after a fetch partition error.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "num.replica.fetchers", INT, 1,
              "Fetcher threads per source broker (partitions are spread over them).", AT_LEAST_1, HIGH),
    ConfigKey("broker", "replica.high.watermark.checkpoint.interval.ms", LONG, 5000,
              "How often the high watermark is saved to disk.", None, HIGH),
    ConfigKey("broker", "min.insync.replicas", INT, 1,
              "With acks=all, the min ISR size for a produce to succeed (else NOT_ENOUGH_REPLICAS).", AT_LEAST_1, HIGH),
    ConfigKey("broker", "unclean.leader.election.enable", BOOL, False,
              "Let an out-of-sync replica become leader when no ISR member is alive (may lose committed data).",
              None, HIGH),
    # ---- broker: format-time feature levels (kafka-storage format --release-version / --feature; KIP-1022) ----
    # Not server.properties keys in Kafka: a Cluster is format plus start, so its config carries the format choice.
    # None = the default of the modelled release (kafkalab.metadata.features: which Kafka release each default is from).
    ConfigKey("broker", "metadata.version", STRING, None,
              "Feature level the cluster is formatted at, as --release-version takes it: a release ('4.1') or a "
              "level name ('4.1-IV1'); null = 4.3-IV0, the latest Kafka 4 release.", NonEmpty(), HIGH),
    ConfigKey("broker", "eligible.leader.replicas.version", SHORT, None,
              "Format-time level of KIP-966 eligible leader replicas (0 off, 1 on); null = the release's default "
              "(1 from metadata.version 4.1-IV0, 0 before).", Range(0, 1), MEDIUM),
    ConfigKey("broker", "group.version", SHORT, None,
              "Format-time level of the KIP-848 group protocol; null = the release's default (1 from 4.0-IV0).",
              Range(0, 1), LOW),
    ConfigKey("broker", "transaction.version", SHORT, None,
              "Format-time level of KIP-890 transactions; null = the release's default (2 from 4.0-IV2).",
              Range(0, 2), LOW),
    ConfigKey("broker", "share.version", SHORT, None,
              "Format-time level of KIP-932 share groups (recorded, not modelled); null = 1 from 4.2-IV0.",
              Range(0, 1), LOW),
    ConfigKey("broker", "streams.version", SHORT, None,
              "Format-time level of the KIP-1071 streams group protocol (recorded, not modelled); null = 1 from "
              "4.2-IV1.", Range(0, 1), LOW),
    ConfigKey("broker", "kraft.version", SHORT, None,
              "Format-time KRaft version; kafkalab's quorum has static voters, so only 0 (KIP-853's 1 is refused).",
              Range(0, 1), LOW),
    ConfigKey("broker", "auto.leader.rebalance.enable", BOOL, True,
              "Periodically move leadership back to the preferred (first) replica.", None, HIGH),
    ConfigKey("broker", "leader.imbalance.check.interval.seconds", LONG, 300,
              "How often the controller checks for leader imbalance.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "default.replication.factor", INT, 1,
              "Replication factor of automatically created topics and of create_topic without one.", None, MEDIUM),
    ConfigKey("broker", "num.partitions", INT, 1, "Default number of partitions per topic.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "auto.create.topics.enable", BOOL, True,
              "Create a topic automatically when a client asks for its metadata.", None, HIGH),
    ConfigKey("broker", "delete.topic.enable", BOOL, True, "Allow deleting topics.", None, HIGH),
    ConfigKey("broker", "message.max.bytes", INT, 1048588,
              "Largest record batch size allowed by the broker (topic: max.message.bytes).", AT_LEAST_0, HIGH),
    ConfigKey("broker", "compression.type", STRING, "producer",
              "Final compression of a topic's data; producer keeps the producer's codec.", _BROKER_COMPRESSION, HIGH),
    ConfigKey("broker", "fetch.max.bytes", INT, 57671680,
              "Max bytes returned for a consumer fetch request.", Range(1024), MEDIUM),
    ConfigKey("broker", "max.incremental.fetch.session.cache.slots", INT, 1000,
              "Consumer incremental fetch sessions (KIP-227) a broker keeps; 0 answers every consumer fetch "
              "sessionless.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "min.incremental.fetch.session.eviction.ms", INT, 120000,
              "A consumer fetch session unused this long may be evicted for a new one when the cache is full.",
              AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "broker.rack", STRING, None, "Rack of the broker, used by rack-aware replica assignment.",
              None, MEDIUM),
    ConfigKey("broker", "num.network.threads", INT, 3, "Network threads of a broker.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "num.io.threads", INT, 8, "Request handler threads of a broker.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "quota.window.num", INT, 11,
              "The number of samples to retain in memory for client quotas.", AT_LEAST_1, LOW),
    ConfigKey("broker", "quota.window.size.seconds", INT, 1,
              "The time span of each sample for client quotas.", AT_LEAST_1, LOW),
    ConfigKey("broker", "queued.max.requests", INT, 500,
              "Requests queued for the I/O threads before network threads stop reading.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "producer.id.expiration.ms", INT, 86400000,
              "How long a producer id's state is kept after its last write.", AT_LEAST_1, LOW),
    # ---- broker: log defaults (ServerLogConfigs, CleanerConfig) ----
    ConfigKey("broker", "log.segment.bytes", INT, 1073741824, "Max size of one log segment.", Range(1048576), HIGH),
    ConfigKey("broker", "log.roll.ms", LONG, None,
              "Max age of a segment before a new one is rolled; null = use log.roll.hours.", None, HIGH),
    ConfigKey("broker", "log.roll.hours", INT, 168, "Max age of a segment in hours (see log.roll.ms).", AT_LEAST_1, HIGH),
    ConfigKey("broker", "log.roll.jitter.ms", LONG, None,
              "Max random jitter subtracted from the roll time; null = use log.roll.jitter.hours.", None, HIGH),
    ConfigKey("broker", "log.roll.jitter.hours", INT, 0, "Roll jitter in hours (see log.roll.jitter.ms).", AT_LEAST_0,
              HIGH),
    ConfigKey("broker", "log.retention.ms", LONG, None,
              "Time to keep a segment; null = log.retention.minutes; -1 = unlimited.", None, HIGH),
    ConfigKey("broker", "log.retention.minutes", INT, None,
              "Time to keep a segment in minutes; null = log.retention.hours.", None, HIGH),
    ConfigKey("broker", "log.retention.hours", INT, 168, "Time to keep a segment in hours.", None, HIGH),
    ConfigKey("broker", "log.retention.bytes", LONG, -1, "Max size of a partition's log before old segments are deleted; "
              "-1 = unlimited.", None, HIGH),
    ConfigKey("broker", "log.retention.check.interval.ms", LONG, 300000,
              "How often the log cleaner checks for segments eligible for deletion.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "log.cleanup.policy", LIST, ("delete",), "Default cleanup policy of topics.", _CLEANUP_POLICY,
              MEDIUM),
    ConfigKey("broker", "log.cleaner.enable", BOOL, True, "Run the log cleaner (needed by compacted topics).", None,
              MEDIUM),
    ConfigKey("broker", "log.cleaner.delete.retention.ms", LONG, 86400000,
              "How long tombstones are kept in compacted topics.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "log.cleaner.min.compaction.lag.ms", LONG, 0,
              "Min time a record stays uncompacted.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "log.cleaner.max.compaction.lag.ms", LONG, LONG_MAX,
              "Max time a record stays uncompacted.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "log.cleaner.min.cleanable.ratio", DOUBLE, 0.5,
              "Min ratio of dirty log to total log for a log to be cleaned.", Range(0, 1), MEDIUM),
    ConfigKey("broker", "log.cleaner.threads", INT, 1, "Threads of the log cleaner.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "log.cleaner.backoff.ms", LONG, 15000,
              "Time the cleaner sleeps when there is nothing to clean.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "log.flush.interval.messages", LONG, LONG_MAX,
              "Records appended to a partition before its log is fsynced (Kafka relies on replication instead).",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "log.flush.interval.ms", LONG, None,
              "Max time a record stays in memory before fsync; null = log.flush.scheduler.interval.ms.", None, HIGH),
    ConfigKey("broker", "log.flush.scheduler.interval.ms", LONG, LONG_MAX,
              "How often the flusher checks whether a log needs a flush.", None, HIGH),
    ConfigKey("broker", "log.index.size.max.bytes", INT, 10485760, "Max size of an offset index file.", Range(4),
              MEDIUM),
    ConfigKey("broker", "log.index.interval.bytes", INT, 4096, "Bytes between entries of the offset index.",
              AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "log.segment.delete.delay.ms", LONG, 60000, "Delay before a deleted segment's file is removed.",
              AT_LEAST_0, HIGH),
    ConfigKey("broker", "log.preallocate", BOOL, False, "Preallocate segment files.", None, MEDIUM),
    ConfigKey("broker", "log.message.timestamp.type", STRING, "CreateTime",
              "Record timestamp: the producer's (CreateTime) or the broker's append time (LogAppendTime).",
              _TIMESTAMP_TYPE, MEDIUM),
    ConfigKey("broker", "log.message.timestamp.before.max.ms", LONG, LONG_MAX,
              "Max amount a CreateTime timestamp may lie before the broker's time.", AT_LEAST_0, MEDIUM),
    ConfigKey("broker", "log.message.timestamp.after.max.ms", LONG, 3600000,
              "Max amount a CreateTime timestamp may lie after the broker's time.", AT_LEAST_0, MEDIUM),
    # ---- broker: transaction coordinator (TransactionStateManagerConfig, TransactionLogConfig) ----
    ConfigKey("broker", "transaction.state.log.num.partitions", INT, 50, "Partitions of __transaction_state.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "transaction.state.log.replication.factor", SHORT, 3,
              "Replication factor of __transaction_state (capped at the brokers registered).", AT_LEAST_1, HIGH),
    ConfigKey("broker", "transaction.state.log.min.isr", INT, 2, "min.insync.replicas of __transaction_state.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "transaction.state.log.segment.bytes", INT, 104857600,
              "Segment size of __transaction_state.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "transaction.max.timeout.ms", INT, 900000,
              "The largest transaction.timeout.ms a producer may ask for (else INVALID_TRANSACTION_TIMEOUT).",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "transaction.abort.timed.out.transaction.cleanup.interval.ms", INT, 10000,
              "How often the coordinator aborts transactions open longer than their timeout.", AT_LEAST_1, LOW),
    ConfigKey("broker", "transactional.id.expiration.ms", INT, 604800000,
              "How long a transactional id may stay idle (Empty, CompleteCommit or CompleteAbort, no update) before "
              "its coordinator expires it (Dead, a tombstone in __transaction_state).", AT_LEAST_1, HIGH),
    ConfigKey("broker", "transaction.remove.expired.transaction.cleanup.interval.ms", INT, 3600000,
              "How often the coordinator removes transactional ids idle past transactional.id.expiration.ms.",
              AT_LEAST_1, LOW),
    ConfigKey("broker", "transaction.partition.verification.enable", BOOL, True,
              "KIP-890 part 1: a leader verifies with the coordinator that a partition is in the transaction "
              "before appending transactional data.", None, LOW),
    # ---- broker: group coordinator (GroupCoordinatorConfig) ----
    ConfigKey("broker", "offsets.topic.num.partitions", INT, 50, "Partitions of __consumer_offsets.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "offsets.topic.replication.factor", SHORT, 3, "Replication factor of __consumer_offsets.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "offsets.topic.segment.bytes", INT, 104857600, "Segment size of __consumer_offsets.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "offsets.retention.minutes", INT, 10080,
              "Committed offsets of an empty group are kept this long.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "offsets.retention.check.interval.ms", LONG, 600000, "How often stale offsets are removed.",
              AT_LEAST_1, HIGH),
    ConfigKey("broker", "offset.metadata.max.bytes", INT, 4096,
              "Max size of the metadata string of a committed offset (else OFFSET_METADATA_TOO_LARGE).", None, HIGH),
    ConfigKey("broker", "offsets.commit.timeout.ms", INT, 5000,
              "An offset commit waits this long for all replicas of the offsets partition.", AT_LEAST_1, HIGH),
    ConfigKey("broker", "group.coordinator.rebalance.protocols", LIST, ("classic", "consumer", "streams"),
              "Rebalance protocols the group coordinator accepts (kafkalab models classic and consumer; share and "
              "streams groups are accepted and not modelled).", OneOf(("classic", "consumer", "share", "streams")),
              MEDIUM),
    ConfigKey("broker", "group.coordinator.append.linger.ms", INT, -1,
              "How long the group coordinator waits to batch its writes to __consumer_offsets; -1 = adaptive (the "
              "batch is flushed once the queued events are processed). Not modelled: each write is appended at once.",
              Range(-1), MEDIUM),
    ConfigKey("broker", "group.initial.rebalance.delay.ms", INT, 3000,
              "Delay of the first rebalance of an empty classic group, to let more members join.", None, MEDIUM),
    ConfigKey("broker", "group.min.session.timeout.ms", INT, 6000, "Min session timeout of a classic group member.",
              None, MEDIUM),
    ConfigKey("broker", "group.max.session.timeout.ms", INT, 1800000, "Max session timeout of a classic group member.",
              None, MEDIUM),
    ConfigKey("broker", "group.max.size", INT, INT_MAX, "Max members of one classic group.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.heartbeat.interval.ms", INT, 5000,
              "Heartbeat interval of a consumer-protocol (KIP-848) group member.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.min.heartbeat.interval.ms", INT, 5000,
              "Min heartbeat interval of a consumer-protocol group member.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.max.heartbeat.interval.ms", INT, 15000,
              "Max heartbeat interval of a consumer-protocol group member.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.session.timeout.ms", INT, 45000,
              "Session timeout of a consumer-protocol (KIP-848) group member.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.min.session.timeout.ms", INT, 45000,
              "Min session timeout of a consumer-protocol group member.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.max.session.timeout.ms", INT, 60000,
              "Max session timeout of a consumer-protocol group member.", AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.max.size", INT, INT_MAX, "Max members of one consumer-protocol group.",
              AT_LEAST_1, MEDIUM),
    ConfigKey("broker", "group.consumer.assignors", LIST, ("uniform", "range"),
              "Server-side assignors; the first is the default.", _SERVER_ASSIGNORS, MEDIUM),
    ConfigKey("broker", "group.consumer.migration.policy", STRING, "bidirectional",
              "Online migration between classic and consumer groups.",
              OneOf(("disabled", "downgrade", "upgrade", "bidirectional"), case_insensitive=True), MEDIUM),
    # ---- topic (TopicConfig / LogConfig), each with its broker synonyms ----
    ConfigKey("topic", "segment.bytes", INT, 1073741824, "Max size of one log segment.", Range(1048576), MEDIUM,
              (("log.segment.bytes", 1),)),
    ConfigKey("topic", "segment.ms", LONG, 604800000, "Max age of a segment before a new one is rolled.", AT_LEAST_1,
              MEDIUM, (("log.roll.ms", 1), ("log.roll.hours", _HOUR_MS))),
    ConfigKey("topic", "segment.jitter.ms", LONG, 0, "Max random jitter subtracted from segment.ms.", AT_LEAST_0, MEDIUM,
              (("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", _HOUR_MS))),
    ConfigKey("topic", "segment.index.bytes", INT, 10485760, "Max size of an offset index file.", Range(4), MEDIUM,
              (("log.index.size.max.bytes", 1),)),
    ConfigKey("topic", "index.interval.bytes", INT, 4096, "Bytes between entries of the offset index.", AT_LEAST_0,
              MEDIUM, (("log.index.interval.bytes", 1),)),
    ConfigKey("topic", "flush.messages", LONG, LONG_MAX, "Records appended before the log is fsynced.", AT_LEAST_1,
              MEDIUM, (("log.flush.interval.messages", 1),)),
    ConfigKey("topic", "flush.ms", LONG, LONG_MAX, "Max time a record stays unflushed.", AT_LEAST_0, MEDIUM,
              (("log.flush.interval.ms", 1), ("log.flush.scheduler.interval.ms", 1))),
    ConfigKey("topic", "retention.ms", LONG, 604800000, "Time to keep a segment before deleting it; -1 = unlimited.",
              Range(-1), MEDIUM,
              (("log.retention.ms", 1), ("log.retention.minutes", _MINUTE_MS), ("log.retention.hours", _HOUR_MS))),
    ConfigKey("topic", "retention.bytes", LONG, -1, "Max size of the partition's log; -1 = unlimited.", None, MEDIUM,
              (("log.retention.bytes", 1),)),
    ConfigKey("topic", "cleanup.policy", LIST, ("delete",), "delete old segments, compact by key, or both.",
              _CLEANUP_POLICY, MEDIUM, (("log.cleanup.policy", 1),)),
    ConfigKey("topic", "delete.retention.ms", LONG, 86400000, "How long tombstones are kept in a compacted topic.",
              AT_LEAST_0, MEDIUM, (("log.cleaner.delete.retention.ms", 1),)),
    ConfigKey("topic", "min.compaction.lag.ms", LONG, 0, "Min time a record stays uncompacted.", AT_LEAST_0, MEDIUM,
              (("log.cleaner.min.compaction.lag.ms", 1),)),
    ConfigKey("topic", "max.compaction.lag.ms", LONG, LONG_MAX, "Max time a record stays uncompacted.", AT_LEAST_1,
              MEDIUM, (("log.cleaner.max.compaction.lag.ms", 1),)),
    ConfigKey("topic", "min.cleanable.dirty.ratio", DOUBLE, 0.5, "Min dirty ratio for the log to be compacted.",
              Range(0, 1), MEDIUM, (("log.cleaner.min.cleanable.ratio", 1),)),
    ConfigKey("topic", "file.delete.delay.ms", LONG, 60000, "Delay before a deleted segment's file is removed.",
              AT_LEAST_0, MEDIUM, (("log.segment.delete.delay.ms", 1),)),
    ConfigKey("topic", "max.message.bytes", INT, 1048588, "Largest record batch size allowed in this topic.",
              AT_LEAST_0, MEDIUM, (("message.max.bytes", 1),)),
    ConfigKey("topic", "min.insync.replicas", INT, 1,
              "With acks=all, the min ISR size for a produce to succeed (else NOT_ENOUGH_REPLICAS).", AT_LEAST_1,
              MEDIUM, (("min.insync.replicas", 1),)),
    ConfigKey("topic", "unclean.leader.election.enable", BOOL, False,
              "Let an out-of-sync replica become leader when no ISR member is alive.", None, MEDIUM,
              (("unclean.leader.election.enable", 1),)),
    ConfigKey("topic", "compression.type", STRING, "producer", "Final compression of the topic's data.",
              _BROKER_COMPRESSION, MEDIUM, (("compression.type", 1),)),
    ConfigKey("topic", "preallocate", BOOL, False, "Preallocate segment files.", None, MEDIUM,
              (("log.preallocate", 1),)),
    ConfigKey("topic", "message.timestamp.type", STRING, "CreateTime", "CreateTime or LogAppendTime.", _TIMESTAMP_TYPE,
              MEDIUM, (("log.message.timestamp.type", 1),)),
    ConfigKey("topic", "message.timestamp.before.max.ms", LONG, LONG_MAX,
              "Max amount a CreateTime timestamp may lie before the broker's time.", AT_LEAST_0, MEDIUM,
              (("log.message.timestamp.before.max.ms", 1),)),
    ConfigKey("topic", "message.timestamp.after.max.ms", LONG, 3600000,
              "Max amount a CreateTime timestamp may lie after the broker's time.", AT_LEAST_0, MEDIUM,
              (("log.message.timestamp.after.max.ms", 1),)),
    # ---- producer (ProducerConfig, KAFKA.md section 4) ----
    ConfigKey("producer", "bootstrap.servers", LIST, (), "Broker ids to ask for metadata first (\"1,3\"; default: every broker of the cluster).",
              None, HIGH),
    ConfigKey("producer", "client.id", STRING, "", "Name of the client in metrics and logs.", None, MEDIUM),
    ConfigKey("producer", "acks", STRING, "all",
              "Acknowledgments the leader needs before answering: 0 (none), 1 (leader), all (whole ISR); -1 = all.",
              OneOf(("all", "1", "0"), aliases=(("-1", "all"),)), LOW),
    ConfigKey("producer", "enable.idempotence", BOOL, True,
              "Producer id and sequence numbers so retries never duplicate or reorder (needs acks=all).", None, LOW),
    ConfigKey("producer", "linger.ms", LONG, 5, "Time a batch waits for more records before it is sent.", AT_LEAST_0,
              MEDIUM),
    ConfigKey("producer", "batch.size", INT, 16384, "Max bytes of one batch per partition.", AT_LEAST_0, MEDIUM),
    ConfigKey("producer", "max.in.flight.requests.per.connection", INT, 5,
              "Max unacknowledged requests per broker connection (<= 5 with idempotence).", AT_LEAST_1, LOW),
    ConfigKey("producer", "retries", INT, INT_MAX, "Resend attempts of a failed batch (bounded by delivery.timeout.ms).",
              Range(0, INT_MAX), HIGH),
    ConfigKey("producer", "delivery.timeout.ms", INT, 120000,
              "Upper bound on reporting success or failure after send() returns.", AT_LEAST_0, MEDIUM),
    ConfigKey("producer", "request.timeout.ms", INT, 30000, "Max time to wait for a response to a request.",
              AT_LEAST_0, MEDIUM),
    ConfigKey("producer", "buffer.memory", LONG, 33554432, "Bytes of records waiting to be sent before send() blocks.",
              AT_LEAST_0, HIGH),
    ConfigKey("producer", "max.request.size", INT, 1048576, "Max bytes of one produce request (and one record).",
              AT_LEAST_0, MEDIUM),
    ConfigKey("producer", "compression.type", STRING, "none", "Compression codec of batches.", _CLIENT_COMPRESSION,
              HIGH),
    ConfigKey("producer", "max.block.ms", LONG, 60000,
              "Max time send() and metadata waits block (buffer full, metadata unavailable).", AT_LEAST_0, MEDIUM),
    ConfigKey("producer", "retry.backoff.ms", LONG, 100, "Initial wait before retrying a failed request.", AT_LEAST_0,
              LOW),
    ConfigKey("producer", "retry.backoff.max.ms", LONG, 1000, "Max wait between retries (exponential backoff).",
              AT_LEAST_0, LOW),
    ConfigKey("producer", "reconnect.backoff.ms", LONG, 50, "Initial wait before reconnecting to a broker.", AT_LEAST_0,
              LOW),
    ConfigKey("producer", "reconnect.backoff.max.ms", LONG, 1000, "Max wait before reconnecting to a broker.",
              AT_LEAST_0, LOW),
    ConfigKey("producer", "partitioner.ignore.keys", BOOL, False,
              "Ignore keys and partition every record with the sticky partitioner.", None, MEDIUM),
    ConfigKey("producer", "partitioner.adaptive.partitioning.enable", BOOL, True,
              "Sticky partitioner favours partitions with shorter queues (KIP-794).", None, LOW),
    ConfigKey("producer", "partitioner.availability.timeout.ms", LONG, 0,
              "Avoid a partition whose leader has not accepted a batch for this long; 0 disables.", AT_LEAST_0, LOW),
    ConfigKey("producer", "metadata.max.age.ms", LONG, 300000, "Metadata is refreshed at least this often.",
              AT_LEAST_0, LOW),
    ConfigKey("producer", "metadata.max.idle.ms", LONG, 300000, "Metadata of a topic not produced to is dropped.",
              Range(5000), LOW),
    ConfigKey("producer", "transactional.id", STRING, None,
              "Transactional id: enables transactions (implies enable.idempotence=true).", NonEmpty(), LOW),
    ConfigKey("producer", "transaction.timeout.ms", INT, 60000, "Max time a transaction may stay open.", None, LOW),
    # ---- consumer (ConsumerConfig, KAFKA.md section 5) ----
    ConfigKey("consumer", "bootstrap.servers", LIST, (), "Broker ids to ask for metadata first (\"1,3\"; default: every broker of the cluster).",
              None, HIGH),
    ConfigKey("consumer", "client.id", STRING, "", "Name of the client in metrics and logs.", None, LOW),
    ConfigKey("consumer", "client.rack", STRING, "", "Rack of the consumer (fetch from the closest replica).", None,
              LOW),
    ConfigKey("consumer", "group.id", STRING, None, "Consumer group this consumer belongs to.", None, HIGH),
    ConfigKey("consumer", "group.instance.id", STRING, None, "Static member id (KIP-345).", NonEmpty(), MEDIUM),
    ConfigKey("consumer", "group.protocol", STRING, "classic", "Rebalance protocol: classic, or consumer (KIP-848).",
              OneOf(("classic", "consumer"), case_insensitive=True), HIGH),
    ConfigKey("consumer", "group.remote.assignor", STRING, None,
              "Server-side assignor for group.protocol=consumer; null = the broker's default.", None, MEDIUM),
    ConfigKey("consumer", "session.timeout.ms", INT, 45000,
              "Classic protocol: a member silent this long is removed from the group.", None, HIGH),
    ConfigKey("consumer", "heartbeat.interval.ms", INT, 3000, "Classic protocol: interval between heartbeats.",
              None, HIGH),
    ConfigKey("consumer", "max.poll.interval.ms", INT, 300000,
              "Max time between poll() calls before the member leaves the group.", AT_LEAST_1, MEDIUM),
    ConfigKey("consumer", "max.poll.records", INT, 500, "Max records one poll() returns.", AT_LEAST_1, MEDIUM),
    ConfigKey("consumer", "enable.auto.commit", BOOL, True, "Commit positions periodically in the background.", None,
              MEDIUM),
    ConfigKey("consumer", "auto.commit.interval.ms", INT, 5000, "Interval of automatic commits.", AT_LEAST_0, LOW),
    ConfigKey("consumer", "auto.offset.reset", STRING, "latest",
              "Where to start without a valid committed offset: earliest, latest, or none (raise).",
              OneOf(("latest", "earliest", "none")), MEDIUM),
    ConfigKey("consumer", "fetch.min.bytes", INT, 1, "Min bytes the broker waits for before answering a fetch.",
              AT_LEAST_0, HIGH),
    ConfigKey("consumer", "fetch.max.bytes", INT, 52428800, "Max bytes of one fetch response.", AT_LEAST_0, MEDIUM),
    ConfigKey("consumer", "fetch.max.wait.ms", INT, 500, "Max time a fetch is parked at the broker.", AT_LEAST_0, LOW),
    ConfigKey("consumer", "max.partition.fetch.bytes", INT, 1048576, "Max bytes per partition of one fetch.",
              AT_LEAST_0, HIGH),
    ConfigKey("consumer", "partition.assignment.strategy", LIST, ("range", "cooperative-sticky"),
              "Client-side assignors of the classic protocol, in preference order (short or class names).",
              _CLIENT_ASSIGNORS, MEDIUM),
    ConfigKey("consumer", "isolation.level", STRING, "read_uncommitted", "read_committed hides aborted transactions.",
              OneOf(("read_committed", "read_uncommitted")), MEDIUM),
    ConfigKey("consumer", "request.timeout.ms", INT, 30000, "Max time to wait for a response to a request.",
              AT_LEAST_0, MEDIUM),
    ConfigKey("consumer", "default.api.timeout.ms", INT, 60000, "Timeout of blocking consumer calls without one.",
              AT_LEAST_0, MEDIUM),
    ConfigKey("consumer", "retry.backoff.ms", LONG, 100, "Initial wait before retrying a failed request.", AT_LEAST_0,
              LOW),
    ConfigKey("consumer", "retry.backoff.max.ms", LONG, 1000, "Max wait between retries (exponential backoff).",
              AT_LEAST_0, LOW),
    ConfigKey("consumer", "reconnect.backoff.ms", LONG, 50, "Initial wait before reconnecting to a broker.", AT_LEAST_0,
              LOW),
    ConfigKey("consumer", "reconnect.backoff.max.ms", LONG, 1000, "Max wait before reconnecting to a broker.",
              AT_LEAST_0, LOW),
    ConfigKey("consumer", "metadata.max.age.ms", LONG, 300000, "Metadata is refreshed at least this often.",
              AT_LEAST_0, LOW),
    ConfigKey("consumer", "check.crcs", BOOL, True, "Verify record CRCs.", None, LOW),
    ConfigKey("consumer", "exclude.internal.topics", BOOL, True, "Pattern subscriptions skip internal topics.", None,
              MEDIUM),
    ConfigKey("consumer", "allow.auto.create.topics", BOOL, True,
              "Let a subscription create a missing topic (if the broker allows it).", None, MEDIUM),
    # ---- admin (AdminClientConfig) ----
    ConfigKey("admin", "bootstrap.servers", LIST, (), "Broker ids to ask for metadata first (\"1,3\"; default: every broker of the cluster).",
              None, HIGH),
    ConfigKey("admin", "client.id", STRING, "", "Name of the client in metrics and logs.", None, LOW),
    ConfigKey("admin", "request.timeout.ms", INT, 30000, "Max time to wait for a response to a request.", AT_LEAST_0,
              MEDIUM),
    ConfigKey("admin", "default.api.timeout.ms", INT, 60000, "Timeout of admin calls without one.", AT_LEAST_0,
              MEDIUM),
    ConfigKey("admin", "retries", INT, INT_MAX, "Retry attempts of a failed request.", Range(0, INT_MAX), LOW),
    ConfigKey("admin", "retry.backoff.ms", LONG, 100, "Initial wait before retrying a failed request.", AT_LEAST_0, LOW),
    ConfigKey("admin", "retry.backoff.max.ms", LONG, 1000, "Max wait between retries.", AT_LEAST_0, LOW),
    ConfigKey("admin", "metadata.max.age.ms", LONG, 300000, "Metadata is refreshed at least this often.", AT_LEAST_0,
              LOW),
)


def _index(table: tuple[ConfigKey, ...]) -> dict[str, dict[str, ConfigKey]]:
    index: dict[str, dict[str, ConfigKey]] = {scope: {} for scope in SCOPES}
    for row in table:
        if row.scope not in index:
            raise AssertionError(f"config table: unknown scope {row.scope!r} for {row.name!r}")
        if row.name in index[row.scope]:
            raise AssertionError(f"config table: duplicate key {row.scope}/{row.name}")
        if row.default is not None:
            row.parse(row.default)  # every default must pass its own validation
        index[row.scope][row.name] = row
    for row in table:
        for synonym, _factor in row.synonyms:
            if synonym not in index["broker"]:
                raise AssertionError(f"config table: {row.name} has unknown broker synonym {synonym!r}")
    return index


_KEYS: dict[str, dict[str, ConfigKey]] = _index(_TABLE)


# --- where each default comes from: the keys Kafka changed, added or removed -------------------------------------
# Every key's definition (default, validator) was compared between Kafka's sources at the 3.9.1, 4.0.0, 4.1.0 and
# 4.2.0 release tags; 4.3's upgrade notes name no change to these keys. Earlier entries were checked at the tags of
# their releases. ``default`` and ``previous`` are in Kafka's text form.


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One change Kafka made to one key in one release.

    ``change`` is ``added`` (the key appeared, with ``default``), ``default`` (the default became ``default``; it was
    ``previous``), ``constraint`` (the allowed values changed, ``note`` says how), ``deprecated`` or ``removed``
    (``note`` says what replaces it). A ``removed`` name ending in ``.*`` stands for every key with that prefix.
    ``source`` is the KIP or JIRA that made the change.
    """

    scope: str
    name: str
    release: str
    change: str
    default: str | None = None
    previous: str | None = None
    source: str = ""
    note: str = ""

    def matches(self, scope: str, name: str) -> bool:
        if scope != self.scope:
            return False
        if self.name.endswith(".*"):
            return name.startswith(self.name[:-1])
        return name == self.name

    def removal_message(self) -> str:
        """Why a user's removed key is refused: when it went and what to use instead."""
        source = f" ({self.source})" if self.source else ""
        return f"removed in Kafka {self.release}{source}; {self.note}"


CHANGES = ("added", "default", "constraint", "deprecated", "removed")
_ALL_CLIENTS = ("producer", "consumer", "admin")


def _changes(scopes: tuple[str, ...], name: str, release: str, change: str, **fields: str) -> list[KeyChange]:
    return [KeyChange(scope, name, release, change, **fields) for scope in scopes]


#: Every change Kafka 4 made to a kafkalab key's default or allowed values, every key Kafka removed that a user may
#: still write (:func:`resolve` refuses those with :meth:`KeyChange.removal_message`), and the 3.x changes and
#: additions behind today's defaults. A key not listed has had its current default since Kafka 3.9 at least.
KEY_HISTORY: tuple[KeyChange, ...] = tuple([
    # ---- Kafka 3.x ----
    *_changes(("broker",), "quota.producer.default", "3.0", "removed", source="KAFKA-12591",
              note="client quotas are dynamic configs (kafka-configs --entity-type clients --entity-default)"),
    *_changes(("broker",), "quota.consumer.default", "3.0", "removed", source="KAFKA-12591",
              note="client quotas are dynamic configs (kafka-configs --entity-type clients --entity-default)"),
    KeyChange("producer", "acks", "3.0", "default", "all", "1", "KIP-679"),
    KeyChange("producer", "enable.idempotence", "3.0", "default", "true", "false", "KIP-679"),
    KeyChange("consumer", "session.timeout.ms", "3.0", "default", "45000", "10000", "KIP-735"),
    KeyChange("consumer", "partition.assignment.strategy", "3.0", "default", "range,cooperative-sticky", "range",
              "KIP-726"),
    *_changes(("producer",), "partitioner.ignore.keys", "3.3", "added", default="false", source="KIP-794"),
    *_changes(("producer",), "partitioner.adaptive.partitioning.enable", "3.3", "added", default="true",
              source="KIP-794"),
    *_changes(("producer",), "partitioner.availability.timeout.ms", "3.3", "added", default="0", source="KIP-794"),
    KeyChange("broker", "producer.id.expiration.ms", "3.4", "added", "86400000", source="KIP-854"),
    KeyChange("broker", "metadata.log.max.snapshot.interval.ms", "3.4", "added", "3600000", source="KIP-876"),
    KeyChange("broker", "group.consumer.heartbeat.interval.ms", "3.5", "added", "5000", source="KIP-848"),
    KeyChange("broker", "group.consumer.session.timeout.ms", "3.5", "added", "45000", source="KIP-848"),
    *_changes(("broker",), "log.message.timestamp.before.max.ms", "3.6", "added", default="9223372036854775807",
              source="KIP-937"),
    *_changes(("broker",), "log.message.timestamp.after.max.ms", "3.6", "added", default="9223372036854775807",
              source="KIP-937"),
    *_changes(("topic",), "message.timestamp.before.max.ms", "3.6", "added", default="9223372036854775807",
              source="KIP-937"),
    *_changes(("topic",), "message.timestamp.after.max.ms", "3.6", "added", default="9223372036854775807",
              source="KIP-937"),
    *_changes(_ALL_CLIENTS, "retry.backoff.max.ms", "3.7", "added", default="1000", source="KIP-580"),
    KeyChange("consumer", "group.protocol", "3.7", "added", "classic", source="KIP-848"),
    KeyChange("consumer", "group.remote.assignor", "3.7", "added", "null", source="KIP-848"),
    KeyChange("broker", "group.consumer.assignors", "3.7", "default", "uniform,range", "range", "KIP-848",
              note="Kafka names the assignors by class"),
    KeyChange("broker", "group.coordinator.rebalance.protocols", "3.7", "added", "classic", source="KAFKA-16036"),
    KeyChange("broker", "group.consumer.migration.policy", "3.8", "added", "disabled", source="KAFKA-16294"),
    KeyChange("broker", "group.coordinator.append.linger.ms", "3.8", "added", "10", source="KAFKA-16770"),
    # ---- Kafka 4.0 ----
    KeyChange("producer", "linger.ms", "4.0", "default", "5", "0", "KIP-1030"),
    KeyChange("broker", "log.message.timestamp.after.max.ms", "4.0", "default", "3600000", "9223372036854775807",
              "KIP-1030"),
    KeyChange("topic", "message.timestamp.after.max.ms", "4.0", "default", "3600000", "9223372036854775807",
              "KIP-1030"),
    KeyChange("broker", "log.segment.bytes", "4.0", "constraint", source="KIP-1030",
              note="at least 1048576 (1 MiB), was 14"),
    KeyChange("broker", "group.coordinator.rebalance.protocols", "4.0", "default", "classic,consumer", "classic",
              "KIP-848", note="the consumer protocol is GA"),
    KeyChange("broker", "group.consumer.migration.policy", "4.0", "default", "bidirectional", "disabled",
              "KIP-848"),
    KeyChange("broker", "group.coordinator.append.linger.ms", "4.0", "default", "5", "10", "apache/kafka#18274"),
    KeyChange("broker", "process.roles", "4.0", "constraint", source="KIP-500",
              note="required (no default) now that every node is KRaft; kafkalab's Cluster sets it"),
    KeyChange("broker", "node.id", "4.0", "constraint", source="KIP-500",
              note="required, at least 0; kafkalab's Cluster sets it"),
    KeyChange("broker", "log.message.format.version", "4.0", "removed", source="KIP-724",
              note="every log is written in the v2 record format; remove the key"),
    KeyChange("topic", "message.format.version", "4.0", "removed", source="KIP-724",
              note="every log is written in the v2 record format; remove the key"),
    KeyChange("broker", "log.message.downconversion.enable", "4.0", "removed", source="KIP-724, KIP-896",
              note="brokers no longer down-convert records for old consumers; remove the key"),
    KeyChange("topic", "message.downconversion.enable", "4.0", "removed", source="KIP-724, KIP-896",
              note="brokers no longer down-convert records for old consumers; remove the key"),
    KeyChange("broker", "log.message.timestamp.difference.max.ms", "4.0", "removed", source="KIP-937",
              note="use 'log.message.timestamp.before.max.ms' and 'log.message.timestamp.after.max.ms'"),
    KeyChange("topic", "message.timestamp.difference.max.ms", "4.0", "removed", source="KIP-937",
              note="use 'message.timestamp.before.max.ms' and 'message.timestamp.after.max.ms'"),
    KeyChange("broker", "offsets.commit.required.acks", "4.0", "removed", source="KIP-1041",
              note="the group coordinator's writes complete when the high watermark passes them; remove the key"),
    KeyChange("broker", "leader.imbalance.per.broker.percentage", "4.0", "removed", source="KAFKA-18743",
              note="it was ZooKeeper-only; the KRaft controller balances leaders every "
                   "'leader.imbalance.check.interval.seconds'"),
    KeyChange("broker", "eligible.leader.replicas.enable", "4.0", "removed", source="KAFKA-18062",
              note="use the feature level 'eligible.leader.replicas.version' (0 off, 1 on)"),
    KeyChange("broker", "inter.broker.protocol.version", "4.0", "removed", source="KAFKA-18360",
              note="use 'metadata.version'"),
    KeyChange("broker", "delegation.token.master.key", "4.0", "removed", source="KAFKA-12601",
              note="Kafka's replacement is 'delegation.token.secret.key' (kafkalab does not model delegation "
                   "tokens)"),
    KeyChange("broker", "control.plane.listener.name", "4.0", "removed", source="KIP-500",
              note="controllers are reached through 'controller.listener.names' (kafkalab wires nodes itself)"),
    KeyChange("broker", "broker.id.generation.enable", "4.0", "removed", source="KAFKA-18383",
              note="use 'node.id'"),
    KeyChange("broker", "reserved.broker.max.id", "4.0", "removed", source="KAFKA-18383", note="use 'node.id'"),
    KeyChange("broker", "controlled.shutdown.max.retries", "4.0", "removed", source="KAFKA-18417",
              note="the KRaft controller runs controlled shutdowns; remove the key"),
    KeyChange("broker", "controlled.shutdown.retry.backoff.ms", "4.0", "removed", source="KAFKA-18417",
              note="the KRaft controller runs controlled shutdowns; remove the key"),
    KeyChange("broker", "zookeeper.*", "4.0", "removed", source="KIP-500",
              note="Kafka 4 runs in KRaft mode only: the controller quorum ('controller.quorum.*') replaces "
                   "ZooKeeper"),
    KeyChange("broker", "password.encoder.*", "4.0", "removed", source="KIP-500",
              note="KRaft keeps configs in metadata records, unencrypted; remove the key"),
    *_changes(("broker", *_ALL_CLIENTS), "auto.include.jmx.reporter", "4.0", "removed", source="KIP-830",
              note="JmxReporter is in 'metric.reporters' by default (kafkalab has no metric reporters)"),
    # ---- Kafka 4.1 ----
    KeyChange("topic", "segment.bytes", "4.1", "constraint", source="KAFKA-19080",
              note="at least 1048576 (1 MiB) at topic level too, was 14 (4.0 changed only log.segment.bytes)"),
    KeyChange("broker", "metadata.log.segment.bytes", "4.1", "constraint", source="KAFKA-19080",
              note="at least 8388608 (8 MiB), was 12"),
    KeyChange("broker", "group.coordinator.rebalance.protocols", "4.1", "default", "classic,consumer,streams",
              "classic,consumer", "KIP-1071 (KAFKA-19173)", note="allowed values: classic, consumer, share, streams"),
    KeyChange("broker", "log.cleaner.enable", "4.1", "deprecated", source="KIP-1148",
              note="the log cleaner will always run from Kafka 5.0"),
    # ---- Kafka 4.2 ----
    KeyChange("broker", "group.coordinator.append.linger.ms", "4.2", "default", "-1", "5", "KAFKA-19826",
              note="-1 = adaptive: the batch is flushed once the queued events are processed; at least -1"),
    KeyChange("broker", "num.replica.fetchers", "4.2", "constraint", source="KIP-1161",
              note="at least 1 (kafkalab always required it)"),
])

_REMOVED: tuple[KeyChange, ...] = tuple(c for c in KEY_HISTORY if c.change == "removed")


def removed_key(scope: str, name: str) -> KeyChange | None:
    """The removal of ``name`` from ``scope`` (a :class:`KeyChange`), or None when Kafka never removed it."""
    return next((c for c in _REMOVED if c.matches(scope, name)), None)


def default_release(scope: str, name: str) -> str | None:
    """The Kafka release the current default of key ``name`` comes from, with its source (``"4.0 (KIP-1030)"``),
    or None when the default is older than every entry of :data:`KEY_HISTORY` (from 3.0 on)."""
    key(scope, name)
    latest = [c for c in KEY_HISTORY if c.matches(scope, name) and c.change in ("added", "default")]
    if not latest:
        return None
    return f"{latest[-1].release} ({latest[-1].source})" if latest[-1].source else latest[-1].release


def key_history(scope: str | None = None) -> pd.DataFrame:
    """:data:`KEY_HISTORY` as a table (one row per change, in release order): scope, key, release, change, default,
    previous, source, note; only ``scope``'s rows when given."""
    import pandas as pd

    if scope is not None:
        _check_scope(scope)
    rows = [{"scope": c.scope, "key": c.name, "release": c.release, "change": c.change, "default": c.default,
             "previous": c.previous, "source": c.source, "note": c.note}
            for c in KEY_HISTORY if scope is None or c.scope == scope]
    return pd.DataFrame(rows, columns=["scope", "key", "release", "change", "default", "previous", "source",
                                       "note"])


def _history_doc() -> str:
    """The reST table of :data:`KEY_HISTORY` that ends the module docstring (generated, so it cannot drift)."""
    rows: dict[tuple[str, str, str, str], list[str]] = {}
    for c in KEY_HISTORY:
        if c.change == "default":
            what = f"{c.default} (was {c.previous})"
        elif c.change == "added":
            what = f"added, {c.default}"
        else:
            what = f"{c.change}: {c.note}" if c.note else c.change
        if c.change != "removed" and c.note and c.change in ("added", "default"):
            what += f"; {c.note}"
        row = (c.name, c.release, c.source, what)
        rows.setdefault(row, []).append(c.scope)
    lines = [(f"{name} ({', '.join(scopes)})", release, source, what)
             for (name, release, source, what), scopes in rows.items()]
    header = ("key (scopes)", "release", "source", "default from this release, or the change")
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(3)]
    rule = " ".join("=" * w for w in widths) + " " + "=" * 40
    out = ["", "Where each default comes from (generated from :data:`KEY_HISTORY`; a key not listed has had its current",
           "default since Kafka 3.9 at least; the feature levels' defaults are in :mod:`kafkalab.metadata.features`):",
           "", rule,
           " ".join(h.ljust(w) for h, w in zip(header[:3], widths, strict=True)) + " " + header[3], rule]
    out += [" ".join(v.ljust(w) for v, w in zip(r[:3], widths, strict=True)) + " " + r[3] for r in lines]
    out.append(rule)
    return "\n".join(out) + "\n"


# --- public API ---------------------------------------------------------------------------------------------------


def scopes() -> tuple[str, ...]:
    """The config scopes: broker, topic, producer, consumer, admin."""
    return SCOPES


def keys(scope: str) -> Mapping[str, ConfigKey]:
    """Every :class:`ConfigKey` of ``scope``, by name, in table order."""
    return dict(_KEYS[_check_scope(scope)])


def key(scope: str, name: str) -> ConfigKey:
    """The :class:`ConfigKey` ``name`` of ``scope``; raises ConfigError (with suggestions) if there is none."""
    known = _KEYS[_check_scope(scope)]
    if name not in known:
        raise _unknown_key(scope, name)
    return known[name]


class Config(Mapping[str, Any]):
    """A resolved, read-only config: every key of its scope, with defaults filled in.

    ``overrides`` holds only the keys that were set explicitly (parsed). ``with_overrides`` returns a new Config.
    """

    __slots__ = ("_scope", "_values", "_overrides")

    def __init__(self, scope: str, values: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
        self._scope = scope
        self._values = dict(values)
        self._overrides = dict(overrides)

    @property
    def scope(self) -> str:
        return self._scope

    @property
    def overrides(self) -> Mapping[str, Any]:
        return dict(self._overrides)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise _unknown_key(self._scope, name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._scope == other._scope and self._values == other._values
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # a Mapping compares by value; hashing lists of values is not needed

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A new Config of the same scope: this config's overrides, then ``overrides`` on top."""
        return resolve(self._scope, {**self._overrides, **dict(overrides)})

    def describe(self) -> pd.DataFrame:
        """One row per key, sorted by key: key, value, default, overridden (set explicitly), in Kafka's text form."""
        import pandas as pd

        rows = [
            {"key": name, "value": _kafka_text(self._values[name]), "default": _kafka_text(row.default),
             "overridden": name in self._overrides}
            for name, row in sorted(_KEYS[self._scope].items())
        ]
        return pd.DataFrame(rows, columns=["key", "value", "default", "overridden"])

    def __repr__(self) -> str:
        return f"Config({self._scope!r}, {self._overrides!r})"


def resolve(scope: str, overrides: Mapping[str, Any] | None = None, *, broker: Mapping[str, Any] | None = None
            ) -> Config:
    """Every key of ``scope`` with its default, then ``overrides`` parsed and validated.

    ``broker`` (topic scope only): the broker config whose ``log.*`` keys supply the topic's defaults, as in Kafka.
    Raises ConfigError listing every unknown key and bad value; nothing is applied unless all of it is valid.
    """
    scope = _check_scope(scope)
    if broker is not None and scope != "topic":
        raise ConfigError(f"broker= is only meaningful for the topic scope, not {scope!r}", scope=scope)
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{scope} config overrides must be a mapping of key to value, got "
                          f"{type(overrides).__name__}", scope=scope)
    known = _KEYS[scope]
    problems: list[ConfigError] = []
    parsed: dict[str, Any] = {}
    for name, value in overrides.items():
        if not isinstance(name, str):
            problems.append(ConfigError(f"{scope} config keys must be strings, got {name!r}", scope=scope))
        elif name not in known:
            problems.append(_unknown_key(scope, name))
        else:
            try:
                parsed[name] = known[name].parse(value)
            except ConfigError as exc:
                problems.append(exc)
    base = _broker_defaults(broker) if broker is not None else {}
    if problems:
        raise _combine(scope, problems)
    values = {name: base.get(name, row.default) for name, row in known.items()}
    values.update(parsed)
    if scope == "topic":
        _check_topic_values(values)
    return Config(scope, values, parsed)


def _check_topic_values(values: Mapping[str, Any]) -> None:
    """Kafka's ``LogConfig.validateValues``: checks across topic keys, on the merged values (defaults included)."""
    low, high = values["min.compaction.lag.ms"], values["max.compaction.lag.ms"]
    if low > high:
        raise ConfigError(f"conflict topic config setting min.compaction.lag.ms ({low}) > max.compaction.lag.ms "
                          f"({high}); allowed: min.compaction.lag.ms <= max.compaction.lag.ms",
                          key="min.compaction.lag.ms", scope="topic")


def describe(scope: str) -> pd.DataFrame:
    """One row per key of ``scope``, sorted by key: key, type, default, doc, valid_values, importance, synonyms."""
    import pandas as pd  # kept local: importing kafkalab.config must stay cheap for protocol cores

    rows = [
        {
            "key": row.name,
            "type": row.type.value,
            "default": _kafka_text(row.default),
            "doc": row.doc,
            "valid_values": row.valid_values(),
            "importance": row.importance,
            "synonyms": ", ".join(name for name, _factor in row.synonyms),
        }
        for row in sorted(_KEYS[_check_scope(scope)].values(), key=lambda row: row.name)
    ]
    return pd.DataFrame(rows, columns=["key", "type", "default", "doc", "valid_values", "importance", "synonyms"])


# --- helpers ------------------------------------------------------------------------------------------------------


def _kafka_text(value: Any) -> str:
    """A default as Kafka prints it: null, true/false, comma-separated lists."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _check_scope(scope: str) -> str:
    if scope in _KEYS:
        return scope
    close = difflib.get_close_matches(str(scope), SCOPES, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown config scope {scope!r}: known scopes are {', '.join(SCOPES)}{hint}", scope=str(scope))


def _unknown_key(scope: str, name: str) -> ConfigError:
    """Unknown key: say where it belongs if it is another scope's key, else suggest the closest keys of this scope."""
    known = _KEYS[scope]
    removal = removed_key(scope, name)
    if removal is not None:
        return ConfigError(f"{scope} config {name!r} was {removal.removal_message()}", key=name, scope=scope)
    elsewhere = next((r for other in SCOPES if (r := removed_key(other, name)) is not None), None)
    if elsewhere is not None:
        return ConfigError(f"unknown {scope} config {name!r}: it was a {elsewhere.scope} config, "
                           f"{elsewhere.removal_message()}", key=name, scope=scope)
    owners = [other for other in SCOPES if other != scope and name in _KEYS[other]]
    hints: list[str] = []
    if owners:
        hints.append(f"{name!r} is a {' and '.join(owners)} config, not a {scope} config")
    # A broker log.* key given to a topic, or a topic key given to a broker: name the counterpart.
    if scope == "topic":
        counterparts = [row.name for row in known.values() if any(s == name for s, _f in row.synonyms)]
        if counterparts:
            hints.append(f"the topic-level key is {counterparts[0]!r}")
    elif scope == "broker" and name in _KEYS["topic"]:
        synonyms = [s for s, _f in _KEYS["topic"][name].synonyms]
        if synonyms:
            hints.append(f"the broker-wide default is {synonyms[0]!r}")
    if not hints:
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        if close:
            hints.append("did you mean " + " or ".join(repr(c) for c in close) + "?")
    hint = ": " + "; ".join(hints) if hints else ""
    return ConfigError(f"unknown {scope} config {name!r}{hint}", key=name, scope=scope)


def _combine(scope: str, problems: list[ConfigError]) -> ConfigError:
    if len(problems) == 1:
        return problems[0]
    lines = "\n".join(f"  - {problem}" for problem in problems)
    first = problems[0]
    return ConfigError(f"{len(problems)} problems in {scope} config (nothing was applied):\n{lines}",
                       key=first.key, scope=scope, value=first.value)


def _broker_defaults(broker: Mapping[str, Any]) -> dict[str, Any]:
    """Topic defaults taken from a broker config: the first broker synonym that is set, converted to the topic unit."""
    if isinstance(broker, Config) and broker.scope != "broker":
        raise ConfigError(f"broker= must be a broker config, got a {broker.scope} config", scope="topic")
    resolved = broker if isinstance(broker, Config) else resolve("broker", broker)
    defaults: dict[str, Any] = {}
    for row in _KEYS["topic"].values():
        for synonym, factor in row.synonyms:
            value = resolved[synonym]
            if value is None:
                continue
            if factor != 1:
                value = -1 if value < 0 else value * factor  # Kafka: a negative retention means unlimited
            defaults[row.name] = value
            break
    return defaults


__doc__ = (__doc__ or "") + _history_doc()

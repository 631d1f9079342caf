"""``StreamsConfig``: the keys of a Kafka Streams application, with Kafka 4's defaults, and the client configs it
derives for its consumers and producers.

How it works. :data:`STREAMS_KEYS` are :class:`~kafkalab.config.ConfigKey` rows of the ``streams`` scope, parsed and
validated by the same code as every other kafkalab config (Kafka's ``ConfigDef`` rules). :func:`streams_config`
resolves a user's dict: a streams key is parsed here; a key prefixed ``consumer.``, ``main.consumer.``,
``restore.consumer.``, ``producer.`` or ``admin.`` goes to that client (checked against that client's keys); an
unprefixed consumer or producer key goes to every client that has it (Kafka's ``getClientPropsWithPrefix``); anything
else is a ConfigError naming the closest streams key. :meth:`StreamsConfig.main_consumer`, ``restore_consumer`` and
``producer`` build the clients' configs the way ``StreamsConfig.getMainConsumerConfigs`` does: Kafka Streams'
overrides first (``max.poll.records=1000``, ``auto.offset.reset=earliest``, no auto-commit, the classic protocol;
``linger.ms=100`` for the producer), then the user's client keys, then what Streams owns (``group.id`` =
``application.id``, no auto-commit).

Processing guarantee: ``at_least_once`` (the default) or ``exactly_once_v2`` (:mod:`kafkalab.streams.eos`): then
``commit.interval.ms`` defaults to 100, the consumers read ``read_committed`` and each thread's producer is
transactional (``transaction.timeout.ms=10000`` unless set), as ``StreamsConfig`` sets them for EOS.
Serde defaults are null as in Kafka; a topology that needs a default serde checks for one when the app starts.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from kafkalab.config import INT_MAX, Config, ConfigKey, ConfigType, OneOf, Range, keys, resolve
from kafkalab.errors import ConfigError

__all__ = ["STREAMS_KEYS", "StreamsConfig", "streams_config", "AT_LEAST_ONCE", "EXACTLY_ONCE_V2"]

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE_V2 = "exactly_once_v2"

_S, _I, _L, _B, _LIST = ConfigType.STRING, ConfigType.INT, ConfigType.LONG, ConfigType.BOOLEAN, ConfigType.LIST
_AT_LEAST_0 = Range(0, None)


def _key(name: str, kind: ConfigType, default: Any, doc: str, valid: Any = None, importance: str = "medium"
         ) -> ConfigKey:
    return ConfigKey("streams", name, kind, default, doc, valid, importance)


#: StreamsConfig's keys that mean something in the simulation (Kafka 4.0 defaults).
STREAMS_KEYS: dict[str, ConfigKey] = {k.name: k for k in (
    _key("application.id", _S, None, "The group id of the app's consumers and the prefix of its internal topics.",
         None, "high"),
    _key("bootstrap.servers", _LIST, (), "Broker ids to ask for metadata first (default: every broker).", None,
         "high"),
    _key("processing.guarantee", _S, AT_LEAST_ONCE, "at_least_once or exactly_once_v2.",
         OneOf((AT_LEAST_ONCE, EXACTLY_ONCE_V2))),
    _key("num.stream.threads", _I, 1, "Stream threads per instance.", Range(1, INT_MAX)),
    _key("num.standby.replicas", _I, 0, "Warm copies of each stateful task's stores on other instances.",
         Range(0, INT_MAX)),
    _key("commit.interval.ms", _L, 30000, "How often a thread flushes its producer and commits offsets "
         "(100 under exactly_once_v2).", _AT_LEAST_0, "low"),
    _key("statestore.cache.max.bytes", _L, 10 * 1024 * 1024, "Record cache of all stores of an instance: updates "
         "of one key between commits are folded into one downstream record.", _AT_LEAST_0),
    _key("acceptable.recovery.lag", _L, 10000, "Changelog records an instance may lag and still count as caught "
         "up for a stateful task.", _AT_LEAST_0),
    _key("max.warmup.replicas", _I, 2, "Warm-up tasks at once (KIP-441).", Range(1, INT_MAX)),
    _key("probing.rebalance.interval.ms", _L, 600000, "How often an instance warming up triggers a rebalance.",
         Range(60000, None)),
    _key("max.task.idle.ms", _L, 0, "How long a task waits for data on every input partition before processing "
         "out of order (-1: never wait).", Range(-1, None)),
    _key("task.timeout.ms", _L, 300000, "How long a task may fail with a timeout before the thread dies.",
         _AT_LEAST_0),
    _key("buffered.records.per.partition", _I, 1000, "Records buffered per input partition before it is paused.",
         Range(1, INT_MAX), "low"),
    _key("poll.ms", _L, 100, "How long a thread waits in poll when it has nothing to process.", _AT_LEAST_0,
         "low"),
    _key("replication.factor", _I, -1, "Replication factor of internal topics (-1: the broker default).",
         Range(-1, 32767)),
    _key("windowstore.changelog.additional.retention.ms", _L, 86400000, "Added to a window changelog's "
         "retention.", _AT_LEAST_0, "low"),
    _key("repartition.purge.interval.ms", _L, 30000, "How often consumed repartition records are deleted.",
         _AT_LEAST_0, "low"),
    _key("__emit.interval.ms.kstreams.outer.join.spurious.results.fix__", _L, 1000, "Kafka's internal config: "
         "how often (wall clock) a left/outer stream-stream join emits parked non-joined records.", _AT_LEAST_0,
         "low"),
    _key("default.key.serde", _S, None, "Serde of keys where none is given (string, json, long, integer, double, "
         "bytes)."),
    _key("default.value.serde", _S, None, "Serde of values where none is given."),
    _key("topology.optimization", _S, "none", "none or all (kafkalab runs the unoptimized topology).",
         OneOf(("none", "all", "reuse.ktable.source.topics", "merge.repartition.topics",
                "single.store.self.join"))),
    _key("client.id", _S, "", "Prefix of the client ids of the app's consumers and producers.", None, "low"),
    _key("application.server", _S, "", "host:port of this instance for interactive queries.", None, "low"),
    _key("state.dir", _S, "/tmp/kafka-streams", "Where stores and checkpoints live (the instance's disk).", None,
         "low"),
)}

_CLIENT_PREFIXES = (("main.consumer.", "consumer"), ("restore.consumer.", "consumer"), ("consumer.", "consumer"),
                    ("producer.", "producer"), ("admin.", "admin"))
#: keys Streams sets itself on its consumers (a user's value would break the app)
_STREAMS_OWNED = ("group.id", "enable.auto.commit", "partition.assignment.strategy", "group.protocol",
                  "transactional.id")
_CONSUMER_OVERRIDES = {"max.poll.records": 1000, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                       "group.protocol": "classic"}
_PRODUCER_OVERRIDES = {"linger.ms": 100}


class StreamsConfig(Mapping[str, Any]):
    """A resolved streams config (every streams key) plus the client keys the user gave, by client."""

    def __init__(self, values: dict[str, Any], overrides: dict[str, Any], clients: dict[str, dict[str, Any]]
                 ) -> None:
        self._values = values
        self.overrides = overrides
        self._clients = clients

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise _unknown(name) from None

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def application_id(self) -> str:
        return str(self._values["application.id"])

    @property
    def eos(self) -> bool:
        return bool(self._values["processing.guarantee"] == EXACTLY_ONCE_V2)

    @property
    def commit_interval_ms(self) -> int:
        """``commit.interval.ms``: 100 under exactly_once_v2 unless the user set it (Kafka's EOS default)."""
        if self.eos and "commit.interval.ms" not in self.overrides:
            return 100
        return int(self._values["commit.interval.ms"])

    def _client(self, scope: str, prefixes: tuple[str, ...], base: dict[str, Any], owned: dict[str, Any]
                ) -> Config:
        merged = dict(base)
        merged.update(self._clients.get("common-" + scope, {}))
        for prefix in prefixes:
            merged.update(self._clients.get(prefix, {}))
        merged.update(owned)
        if self._values["bootstrap.servers"]:
            merged["bootstrap.servers"] = self._values["bootstrap.servers"]
        return resolve(scope, merged)

    def _consumer_base(self) -> dict[str, Any]:
        base = dict(_CONSUMER_OVERRIDES)
        if self.eos:
            base["isolation.level"] = "read_committed"
        return base

    def main_consumer(self, client_id: str) -> Config:
        """``getMainConsumerConfigs``: the group member of a stream thread (``read_committed`` under EOS)."""
        return self._client("consumer", ("consumer.", "main.consumer."), self._consumer_base(),
                            {"group.id": self.application_id, "enable.auto.commit": False, "client.id": client_id})

    def restore_consumer(self, client_id: str) -> Config:
        """``getRestoreConsumerConfigs``: no group; reads changelogs for restoration and standbys."""
        base = {k: v for k, v in self._consumer_base().items() if k != "group.protocol"}
        return self._client("consumer", ("consumer.", "restore.consumer."), base, {"enable.auto.commit": False,
                                                                     "client.id": client_id})

    def producer(self, client_id: str, transactional_id: str | None = None) -> Config:
        """``getProducerConfigs``: ``linger.ms=100`` unless the user set it; under EOS a transactional producer
        (``transactional.id`` given by the thread, ``transaction.timeout.ms=10000`` unless set)."""
        base = dict(_PRODUCER_OVERRIDES)
        owned: dict[str, Any] = {"client.id": client_id}
        if self.eos:
            base["transaction.timeout.ms"] = 10000
            owned.update({"transactional.id": transactional_id, "enable.idempotence": True})
        return self._client("producer", ("producer.",), base, owned)

    def __repr__(self) -> str:
        return f"StreamsConfig({self.overrides!r})"


def _unknown(name: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(STREAMS_KEYS), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown streams config {name!r}: not a streams, consumer or producer key{hint}", key=name,
                       scope="streams")


def streams_config(overrides: Mapping[str, Any] | None) -> StreamsConfig:
    """Resolve a user's streams config (see the module docstring). Raises ConfigError for an unknown key (naming the
    closest streams key), a bad value, a missing ``application.id``, or a key Streams owns."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"streams config must be a dict of config keys to values, got {type(overrides).__name__}",
                          scope="streams")
    given = dict(overrides or {})
    values = {name: row.default for name, row in STREAMS_KEYS.items()}
    parsed: dict[str, Any] = {}
    clients: dict[str, dict[str, Any]] = {}
    consumer_keys, producer_keys = keys("consumer"), keys("producer")
    for name, value in given.items():
        if not isinstance(name, str):
            raise ConfigError(f"streams config keys must be strings, got {name!r}", scope="streams")
        if name in STREAMS_KEYS:
            parsed[name] = STREAMS_KEYS[name].parse(value)
            continue
        prefix = next(((p, scope) for p, scope in _CLIENT_PREFIXES if name.startswith(p)), None)
        if prefix is not None:
            inner = name[len(prefix[0]):]
            if inner in _STREAMS_OWNED:
                raise ConfigError(f"{name!r}: Kafka Streams sets {inner!r} itself; remove it", key=name,
                                  scope="streams")
            resolve(prefix[1], {inner: value})       # an unknown or bad client key fails here, named
            clients.setdefault(prefix[0], {})[inner] = value
            continue
        if name in _STREAMS_OWNED:
            raise ConfigError(f"{name!r}: Kafka Streams sets it itself (group.id is application.id); remove it",
                              key=name, scope="streams")
        if name in consumer_keys or name in producer_keys:
            if name in consumer_keys:
                consumer_keys[name].parse(value)
                clients.setdefault("common-consumer", {})[name] = value
            if name in producer_keys:
                producer_keys[name].parse(value)
                clients.setdefault("common-producer", {})[name] = value
            continue
        raise _unknown(name)
    values.update(parsed)
    app_id = values["application.id"]
    if not app_id:
        raise ConfigError("Missing required configuration \"application.id\" which has no default value.",
                          key="application.id", scope="streams")
    if values["num.stream.threads"] > 64:
        raise ConfigError("num.stream.threads must be at most 64 in the simulation", key="num.stream.threads",
                          scope="streams", value=values["num.stream.threads"])
    return StreamsConfig(values, parsed, clients)

"""Config keys: Kafka's defaults, parsing of Python and Kafka-string values, and every error path of resolve()."""
from __future__ import annotations

import re

import pytest

from kafkalab import config
from kafkalab.config import LONG_MAX, Config, ConfigKey, ConfigType, describe, key, keys, resolve, scopes
from kafkalab.errors import ConfigError


def fails(scope: str, overrides: dict[str, object], message: str, **kwargs: object) -> ConfigError:
    """resolve() must raise ConfigError whose text contains ``message`` (literally)."""
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        resolve(scope, overrides, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- defaults are Kafka 4.x's -------------------------------------------------------------------------------

KAFKA_DEFAULTS = {
    "producer": {
        "acks": "all", "enable.idempotence": True, "linger.ms": 5, "batch.size": 16384,
        "max.in.flight.requests.per.connection": 5, "retries": 2147483647, "delivery.timeout.ms": 120000,
        "request.timeout.ms": 30000, "buffer.memory": 33554432, "max.request.size": 1048576,
        "compression.type": "none", "max.block.ms": 60000, "retry.backoff.ms": 100, "retry.backoff.max.ms": 1000,
        "partitioner.ignore.keys": False, "metadata.max.age.ms": 300000, "client.id": "", "transactional.id": None,
    },
    "consumer": {
        "group.id": None, "group.instance.id": None, "session.timeout.ms": 45000, "heartbeat.interval.ms": 3000,
        "max.poll.interval.ms": 300000, "max.poll.records": 500, "enable.auto.commit": True,
        "auto.commit.interval.ms": 5000, "auto.offset.reset": "latest", "fetch.max.wait.ms": 500, "fetch.min.bytes": 1,
        "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 1048576,
        "partition.assignment.strategy": ("range", "cooperative-sticky"), "group.protocol": "classic",
        "group.remote.assignor": None, "isolation.level": "read_uncommitted", "request.timeout.ms": 30000,
    },
    "topic": {
        "segment.bytes": 1073741824, "segment.ms": 604800000, "retention.ms": 604800000, "retention.bytes": -1,
        "cleanup.policy": ("delete",), "delete.retention.ms": 86400000, "min.compaction.lag.ms": 0,
        "max.compaction.lag.ms": LONG_MAX, "min.cleanable.dirty.ratio": 0.5, "max.message.bytes": 1048588,
        "min.insync.replicas": 1, "unclean.leader.election.enable": False, "flush.messages": LONG_MAX,
        "flush.ms": LONG_MAX, "message.timestamp.type": "CreateTime", "compression.type": "producer",
    },
    "broker": {
        "controller.quorum.election.timeout.ms": 1000, "controller.quorum.fetch.timeout.ms": 2000,
        "controller.quorum.election.backoff.max.ms": 1000, "controller.quorum.append.linger.ms": 25,
        "controller.quorum.request.timeout.ms": 2000, "broker.heartbeat.interval.ms": 2000,
        "broker.session.timeout.ms": 9000, "metadata.max.idle.interval.ms": 500, "replica.lag.time.max.ms": 30000,
        "replica.fetch.wait.max.ms": 500, "replica.fetch.min.bytes": 1, "replica.fetch.max.bytes": 1048576,
        "min.insync.replicas": 1, "unclean.leader.election.enable": False, "auto.leader.rebalance.enable": True,
        "leader.imbalance.check.interval.seconds": 300, "default.replication.factor": 1, "num.partitions": 1,
        "offsets.topic.num.partitions": 50, "offsets.topic.replication.factor": 3,
        "group.initial.rebalance.delay.ms": 3000, "group.min.session.timeout.ms": 6000,
        "group.max.session.timeout.ms": 1800000, "group.consumer.heartbeat.interval.ms": 5000,
        "group.consumer.session.timeout.ms": 45000, "group.consumer.assignors": ("uniform", "range"),
        "log.segment.bytes": 1073741824, "log.roll.ms": None, "log.roll.hours": 168, "log.retention.ms": None,
        "log.retention.hours": 168, "log.retention.bytes": -1, "log.cleanup.policy": ("delete",),
        "log.flush.interval.messages": LONG_MAX, "log.flush.interval.ms": None, "message.max.bytes": 1048588,
    },
}


@pytest.mark.parametrize("scope", sorted(KAFKA_DEFAULTS))
def test_defaults_are_kafkas(scope: str) -> None:
    resolved = resolve(scope)
    for name, default in KAFKA_DEFAULTS[scope].items():
        assert resolved[name] == default, name
        assert type(resolved[name]) is type(default), name


def test_every_key_of_a_scope_is_filled_and_scopes_are_listed() -> None:
    assert scopes() == ("broker", "topic", "producer", "consumer", "admin")
    for scope in scopes():
        resolved = resolve(scope)
        assert list(resolved) == list(keys(scope))
        assert all(resolved[name] == row.default for name, row in keys(scope).items())
        assert resolved.overrides == {}


def test_table_rows_are_well_formed() -> None:
    for scope in scopes():
        for name, row in keys(scope).items():
            assert isinstance(row, ConfigKey) and row.scope == scope and row.name == name
            assert row.doc.strip() and row.doc.endswith("."), name
            assert row.type in ConfigType, name
            assert row.importance in ("high", "medium", "low")


# --- parsing: Python values and Kafka's strings -------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("true", True), ("false", False), ("TRUE", True), (" False ", False)])
def test_booleans(value: object, expected: bool) -> None:
    assert resolve("consumer", {"enable.auto.commit": value})["enable.auto.commit"] is expected


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("7", 7), (" 7 ", 7), ("+7", 7), (7.0, 7), ("0", 0)])
def test_integers(value: object, expected: int) -> None:
    parsed = resolve("producer", {"linger.ms": value})["linger.ms"]
    assert parsed == expected and type(parsed) is int


def test_doubles() -> None:
    assert resolve("topic", {"min.cleanable.dirty.ratio": "0.25"})["min.cleanable.dirty.ratio"] == 0.25
    assert resolve("topic", {"min.cleanable.dirty.ratio": 1})["min.cleanable.dirty.ratio"] == 1.0


@pytest.mark.parametrize(("value", "expected"), [
    ("compact,delete", ("compact", "delete")),
    ("compact, delete", ("compact", "delete")),
    (["compact"], ("compact",)),
    (("delete", "compact"), ("delete", "compact")),
    ("", ()),
    ([], ()),
])
def test_lists(value: object, expected: tuple[str, ...]) -> None:
    assert resolve("topic", {"cleanup.policy": value})["cleanup.policy"] == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("all", "all"), ("-1", "all"), (-1, "all"), ("1", "1"), (1, "1"), ("0", "0"), (0, "0")])
def test_acks_is_normalised(value: object, expected: str) -> None:
    assert resolve("producer", {"acks": value})["acks"] == expected


def test_assignors_accept_short_and_class_names() -> None:
    strategies = resolve("consumer", {"partition.assignment.strategy": [
        "org.apache.kafka.clients.consumer.RoundRobinAssignor", "StickyAssignor", "cooperative-sticky"]})
    assert strategies["partition.assignment.strategy"] == ("roundrobin", "sticky", "cooperative-sticky")
    broker = resolve("broker", {
        "group.consumer.assignors": "org.apache.kafka.coordinator.group.assignor.RangeAssignor,uniform"})
    assert broker["group.consumer.assignors"] == ("range", "uniform")


@pytest.mark.parametrize(("scope", "name", "value", "expected"), [
    ("consumer", "group.protocol", "CONSUMER", "consumer"),               # CaseInsensitiveValidString in ConsumerConfig
    ("broker", "group.consumer.migration.policy", "Upgrade", "upgrade"),  # CaseInsensitiveValidString in GroupCoordinatorConfig
])
def test_case_insensitive_choices_store_kafkas_spelling(scope: str, name: str, value: str, expected: str) -> None:
    assert resolve(scope, {name: value})[name] == expected


@pytest.mark.parametrize(("scope", "name", "value", "hint", "allowed"), [
    ("topic", "message.timestamp.type", "CREATETIME", "CreateTime", "one of CreateTime, LogAppendTime"),
    ("broker", "log.message.timestamp.type", "logappendtime", "LogAppendTime", "one of CreateTime, LogAppendTime"),
    ("topic", "compression.type", "GZIP", "gzip", "one of uncompressed, zstd, lz4, snappy, gzip, producer"),
    ("broker", "compression.type", "Producer", "producer", "one of uncompressed, zstd, lz4, snappy, gzip, producer"),
    ("producer", "compression.type", "LZ4", "lz4", "one of none, gzip, snappy, lz4, zstd"),
    ("producer", "acks", "ALL", "all", "one of all, 1, 0 (-1 = all)"),
    ("consumer", "auto.offset.reset", "Earliest", "earliest", "one of latest, earliest, none"),
    ("consumer", "isolation.level", "READ_COMMITTED", "read_committed", "one of read_committed, read_uncommitted"),
])
def test_case_sensitive_choices_refuse_another_case_with_a_hint(scope: str, name: str, value: str, hint: str,
                                                                allowed: str) -> None:
    err = fails(scope, {name: value}, f"invalid value {value!r} for {scope} config {name!r} (string): not an allowed "
                                      f"value (did you mean {hint!r}? values are case-sensitive); allowed: {allowed}")
    assert (err.key, err.scope, err.value) == (name, scope, value)


@pytest.mark.parametrize(("scope", "name", "value", "element", "hint", "allowed"), [
    ("topic", "cleanup.policy", "delete,Compact", "Compact", "compact", "each of delete, compact"),
    ("broker", "log.cleanup.policy", ["DELETE"], "DELETE", "delete", "each of delete, compact"),
    ("broker", "process.roles", "Broker", "Broker", "broker", "each of broker, controller"),
    ("broker", "group.coordinator.rebalance.protocols", "classic,CONSUMER", "CONSUMER", "consumer",
     "each of classic, consumer"),
    ("broker", "group.consumer.assignors", "Uniform", "Uniform", "uniform",
     "each of uniform, range (or Kafka's class names, such as org.apache.kafka.coordinator.group.assignor.UniformAssignor)"),
    ("consumer", "partition.assignment.strategy", "Range", "Range", "range",
     "each of range, roundrobin, sticky, cooperative-sticky (or Kafka's class names, such as "
     "org.apache.kafka.clients.consumer.RangeAssignor)"),
])
def test_case_sensitive_list_choices_refuse_another_case_with_a_hint(scope: str, name: str, value: object, element: str,
                                                                     hint: str, allowed: str) -> None:
    err = fails(scope, {name: value}, f"invalid value {value!r} for {scope} config {name!r} (list): element {element!r} "
                                      f"is not an allowed value (did you mean {hint!r}? values are case-sensitive); "
                                      f"allowed: {allowed}")
    assert (err.key, err.scope, err.value) == (name, scope, value)


def test_class_names_of_assignors_are_case_sensitive_as_javas_are() -> None:
    fails("consumer", {"partition.assignment.strategy": "org.apache.kafka.clients.consumer.rangeassignor"},
          "element 'org.apache.kafka.clients.consumer.rangeassignor' is not an allowed value; allowed: each of range")


def test_case_insensitive_choices_say_so_in_the_allowed_values() -> None:
    fails("consumer", {"group.protocol": "streams"},
          "invalid value 'streams' for consumer config 'group.protocol' (string): not an allowed value; "
          "allowed: one of classic, consumer (case insensitive)")


def test_nullable_keys_accept_none_and_strings_are_trimmed() -> None:
    resolved = resolve("consumer", {"group.id": " g1 ", "group.remote.assignor": None})
    assert resolved["group.id"] == "g1"
    assert resolved["group.remote.assignor"] is None


# --- error paths --------------------------------------------------------------------------------------------


def test_unknown_key_names_scope_and_suggests_closest() -> None:
    err = fails("producer", {"lingr.ms": 5}, "unknown producer config 'lingr.ms': did you mean 'linger.ms'?")
    assert (err.key, err.scope) == ("lingr.ms", "producer")


def test_unknown_key_without_close_match() -> None:
    with pytest.raises(ConfigError, match=r"^unknown consumer config 'zzzz'$"):
        resolve("consumer", {"zzzz": 1})


def test_key_of_another_scope_says_where_it_belongs() -> None:
    fails("consumer", {"acks": "all"}, "unknown consumer config 'acks': 'acks' is a producer config, not a consumer config")
    fails("producer", {"group.id": "g"}, "'group.id' is a consumer config, not a producer config")
    fails("topic", {"request.timeout.ms": 1}, "'request.timeout.ms' is a producer and consumer and admin config")


def test_broker_and_topic_synonyms_point_at_each_other() -> None:
    fails("topic", {"log.retention.ms": 1000}, "'log.retention.ms' is a broker config, not a topic config; "
                                                "the topic-level key is 'retention.ms'")
    fails("broker", {"retention.ms": 1000}, "'retention.ms' is a topic config, not a broker config; "
                                            "the broker-wide default is 'log.retention.ms'")


@pytest.mark.parametrize(("scope", "name", "value", "message"), [
    ("consumer", "enable.auto.commit", 1,
     "invalid value 1 for consumer config 'enable.auto.commit' (boolean): expected a boolean; allowed: true, false"),
    ("consumer", "enable.auto.commit", "yes",
     "invalid value 'yes' for consumer config 'enable.auto.commit' (boolean): expected a boolean"),
    ("producer", "batch.size", "16k",
     "invalid value '16k' for producer config 'batch.size' (int): expected an int; allowed: [0, ...]"),
    ("producer", "batch.size", True, "(int): expected an int, got a bool"),
    ("producer", "batch.size", 0.5, "invalid value 0.5 for producer config 'batch.size' (int): expected an int"),
    ("producer", "batch.size", "1_000", "expected an int"),
    ("producer", "batch.size", [1], "expected an int, got list"),
    ("producer", "batch.size", 2**31, "does not fit in an int"),
    ("producer", "linger.ms", 2**63, "does not fit in a long"),
    ("topic", "min.cleanable.dirty.ratio", "half", "(double): expected a double"),
    ("consumer", "client.id", 5, "invalid value 5 for consumer config 'client.id' (string): expected a string, got int"),
    ("topic", "cleanup.policy", 5, "expected a comma-separated string or a list, got int"),
    ("topic", "cleanup.policy", {"delete"}, "expected a comma-separated string or a list, got set"),
    ("topic", "cleanup.policy", ["delete", 1], "list elements must be strings, got int"),
    ("topic", "cleanup.policy", "delete,,compact", "empty list element"),
    ("producer", "acks", None, "invalid value None for producer config 'acks' (string): this key has no null value"),
])
def test_bad_types(scope: str, name: str, value: object, message: str) -> None:
    err = fails(scope, {name: value}, message)
    assert (err.key, err.scope, err.value) == (name, scope, value)


@pytest.mark.parametrize(("scope", "name", "value", "message"), [
    ("producer", "batch.size", -1, "invalid value -1 for producer config 'batch.size' (int): value must be in [0, ...]"),
    ("producer", "retries", "-1", "value must be in [0, 2147483647]"),
    ("topic", "min.insync.replicas", 0, "invalid value 0 for topic config 'min.insync.replicas' (int): "
                                        "value must be in [1, ...]"),
    ("topic", "min.cleanable.dirty.ratio", 1.5, "value must be in [0, 1]"),
    ("topic", "retention.ms", -2, "value must be in [-1, ...]"),
    ("topic", "segment.bytes", 1024, "value must be in [1048576, ...]"),
    ("producer", "metadata.max.idle.ms", 10, "value must be in [5000, ...]"),
    ("broker", "log.segment.bytes", 1048575, "value must be in [1048576, ...]"),              # Kafka 4.0, KIP-1030
    ("broker", "metadata.log.segment.bytes", 1048576, "invalid value 1048576 for broker config "
                                                      "'metadata.log.segment.bytes' (int): value must be in "
                                                      "[8388608, ...]"),                    # Kafka 4.1
    ("broker", "group.coordinator.append.linger.ms", -2, "value must be in [-1, ...]"),      # Kafka 4.2
])
def test_out_of_range(scope: str, name: str, value: object, message: str) -> None:
    fails(scope, {name: value}, message)


@pytest.mark.parametrize(("scope", "name", "value", "message"), [
    ("producer", "acks", "2",
     "invalid value '2' for producer config 'acks' (string): not an allowed value; allowed: one of all, 1, 0 (-1 = all)"),
    ("producer", "acks", 2, "invalid value 2 for producer config 'acks'"),
    ("consumer", "auto.offset.reset", "smallest", "allowed: one of latest, earliest, none"),
    ("producer", "compression.type", "uncompressed", "allowed: one of none, gzip, snappy, lz4, zstd"),
    ("topic", "compression.type", "none", "allowed: one of uncompressed, zstd, lz4, snappy, gzip, producer"),
    ("topic", "cleanup.policy", "delete,compacted",
     "element 'compacted' is not an allowed value (did you mean 'compact'?); allowed: each of delete, compact"),
    ("consumer", "partition.assignment.strategy", "uniform",
     "element 'uniform' is not an allowed value; allowed: each of range, roundrobin, sticky, cooperative-sticky "
     "(or Kafka's class names, such as org.apache.kafka.clients.consumer.RangeAssignor)"),
    ("consumer", "group.protocol", "streams", "allowed: one of classic, consumer"),
    ("consumer", "group.instance.id", "", "the empty string is not allowed; allowed: a non-empty string"),
    ("producer", "transactional.id", "  ", "the empty string is not allowed"),
])
def test_bad_choices(scope: str, name: str, value: object, message: str) -> None:
    fails(scope, {name: value}, message)


def test_several_problems_are_reported_together_and_nothing_is_applied() -> None:
    overrides = {"acks": "2", "lingr.ms": 5, "batch.size": -1, "linger.ms": 7}
    with pytest.raises(ConfigError) as info:
        resolve("producer", overrides)
    assert str(info.value).splitlines() == [
        "3 problems in producer config (nothing was applied):",
        "  - invalid value '2' for producer config 'acks' (string): not an allowed value; "
        "allowed: one of all, 1, 0 (-1 = all)",
        "  - unknown producer config 'lingr.ms': did you mean 'linger.ms'?",
        "  - invalid value -1 for producer config 'batch.size' (int): value must be in [0, ...]",
    ]
    assert info.value.key == "acks"
    assert overrides == {"acks": "2", "lingr.ms": 5, "batch.size": -1, "linger.ms": 7}  # the input is untouched


def test_unknown_scope_suggests_one() -> None:
    with pytest.raises(ConfigError, match=re.escape(
            "unknown config scope 'consumers': known scopes are broker, topic, producer, consumer, admin; "
            "did you mean 'consumer'?")):
        resolve("consumers")
    with pytest.raises(ConfigError, match="unknown config scope 'zz'"):
        describe("zz")


def test_overrides_must_be_a_mapping_with_string_keys() -> None:
    with pytest.raises(ConfigError, match=re.escape("producer config overrides must be a mapping of key to value, got list")):
        resolve("producer", [("acks", "all")])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape("producer config keys must be strings, got 1")):
        resolve("producer", {1: "all"})  # type: ignore[dict-item]


# --- Config: a read-only mapping ----------------------------------------------------------------------------


def test_config_is_read_only_and_knows_its_overrides() -> None:
    producer = resolve("producer", {"acks": "1", "linger.ms": "0"})
    assert isinstance(producer, Config) and producer.scope == "producer"
    assert producer.overrides == {"acks": "1", "linger.ms": 0}
    with pytest.raises(TypeError):
        producer["acks"] = "all"  # type: ignore[index]
    producer.overrides["acks"] = "0"  # a copy: the config does not change
    assert producer["acks"] == "1"
    assert repr(producer) == "Config('producer', {'acks': '1', 'linger.ms': 0})"


def test_config_lookup_of_unknown_key_is_a_config_error() -> None:
    producer = resolve("producer")
    with pytest.raises(ConfigError, match=re.escape("unknown producer config 'linger': did you mean 'linger.ms'?")):
        producer["linger"]
    assert producer.get("linger") is None  # Mapping.get still works
    assert "linger.ms" in producer and "linger" not in producer


def test_with_overrides_and_equality() -> None:
    base = resolve("producer", {"acks": "1"})
    more = base.with_overrides({"linger.ms": 0})
    assert (more["acks"], more["linger.ms"], base["linger.ms"]) == ("1", 0, 5)
    assert more == resolve("producer", {"acks": 1, "linger.ms": "0"})
    assert base != more
    assert resolve("producer", base) == base  # a Config is a valid overrides mapping


# --- topic configs fall back on the broker's log.* keys -----------------------------------------------------


def test_topic_defaults_come_from_the_broker() -> None:
    broker = resolve("broker", {"log.retention.hours": 1, "log.segment.bytes": 2**20, "min.insync.replicas": 2,
                                "log.cleanup.policy": "compact", "message.max.bytes": 2000000})
    topic = resolve("topic", {"segment.bytes": 2**21}, broker=broker)
    assert topic["retention.ms"] == 3_600_000
    assert topic["segment.bytes"] == 2**21  # the topic override wins
    assert topic["min.insync.replicas"] == 2
    assert topic["cleanup.policy"] == ("compact",)
    assert topic["max.message.bytes"] == 2000000
    assert topic.overrides == {"segment.bytes": 2**21}


def test_broker_synonyms_are_tried_in_kafkas_order() -> None:
    by_minutes = resolve("topic", broker={"log.retention.minutes": 30, "log.retention.hours": 5})
    assert by_minutes["retention.ms"] == 1_800_000
    by_ms = resolve("topic", broker={"log.retention.ms": 1234, "log.retention.minutes": 30})
    assert by_ms["retention.ms"] == 1234
    unlimited = resolve("topic", broker={"log.retention.hours": -1})
    assert unlimited["retention.ms"] == -1
    assert resolve("topic", broker={"log.roll.ms": 1000})["segment.ms"] == 1000
    assert resolve("topic", broker={"log.roll.hours": 2})["segment.ms"] == 7_200_000
    assert resolve("topic", broker={"log.flush.interval.ms": 50})["flush.ms"] == 50
    assert resolve("topic", broker={})["flush.ms"] == LONG_MAX  # log.flush.scheduler.interval.ms


def test_broker_defaults_equal_topic_defaults() -> None:
    assert resolve("topic", broker=resolve("broker")) == resolve("topic")


def test_broker_argument_errors() -> None:
    with pytest.raises(ConfigError, match=re.escape("broker= is only meaningful for the topic scope, not 'producer'")):
        resolve("producer", broker={})
    with pytest.raises(ConfigError, match=re.escape("broker= must be a broker config, got a producer config")):
        resolve("topic", broker=resolve("producer"))
    with pytest.raises(ConfigError, match=re.escape("invalid value -1 for broker config 'log.roll.hours'")):
        resolve("topic", broker={"log.roll.hours": -1})


# --- describe() and lookups ---------------------------------------------------------------------------------


def test_describe_is_a_table_for_notebooks() -> None:
    frame = describe("producer")
    assert list(frame.columns) == ["key", "type", "default", "doc", "valid_values", "importance", "synonyms"]
    assert list(frame.key) == sorted(keys("producer"))
    acks = frame[frame.key == "acks"].iloc[0]
    assert (acks["type"], acks["default"], acks["valid_values"]) == ("string", "all", "one of all, 1, 0 (-1 = all)")
    topic = describe("topic").set_index("key")
    assert topic.loc["retention.ms", "synonyms"] == "log.retention.ms, log.retention.minutes, log.retention.hours"
    assert topic.loc["cleanup.policy", "default"] == "delete"
    assert topic.loc["flush.ms", "default"] == str(LONG_MAX)
    assert describe("broker").set_index("key").loc["log.roll.ms", "default"] == "null"


def test_config_describe_marks_overrides() -> None:
    frame = resolve("consumer", {"enable.auto.commit": "false"}).describe().set_index("key")
    assert frame.loc["enable.auto.commit"].tolist() == ["false", "true", True]
    assert frame.loc["max.poll.records"].tolist() == ["500", "500", False]


def test_key_lookup() -> None:
    row = key("producer", "acks")
    assert (row.type, row.default, row.nullable) == (ConfigType.STRING, "all", False)
    assert key("consumer", "group.id").nullable
    with pytest.raises(ConfigError, match=re.escape("'acks' is a producer config, not a consumer config")):
        key("consumer", "acks")


def test_adding_a_key_is_one_row() -> None:
    row = ConfigKey("producer", "example.ms", ConfigType.LONG, 10, "An example.", config.Range(0))
    assert row.parse("12") == 12
    with pytest.raises(ConfigError, match=re.escape("invalid value -3 for producer config 'example.ms' (long): "
                                                    "value must be in [0, ...]")):
        row.parse(-3)
    with pytest.raises(AssertionError, match="duplicate key producer/acks"):
        config._index((*config._TABLE, ConfigKey("producer", "acks", ConfigType.STRING, "all", "Dup.")))
    with pytest.raises(AssertionError, match="unknown broker synonym 'log.nope'"):
        config._index((*config._TABLE, ConfigKey("topic", "nope", ConfigType.INT, 1, "X.", None, "low",
                                                 (("log.nope", 1),))))


def test_a_mistyped_choice_names_the_closest_allowed_value():
    with pytest.raises(ConfigError, match=r"'consumr' .* not an allowed value \(did you mean 'consumer'\?\); "
                                          r"allowed: one of classic, consumer"):
        resolve("consumer", {"group.protocol": "consumr"})
    with pytest.raises(ConfigError, match=r"element 'rnage' is not an allowed value \(did you mean 'range'\?\)"):
        resolve("consumer", {"partition.assignment.strategy": "rnage,cooperative-sticky"})


# --- where each default comes from: KEY_HISTORY ---------------------------------------------------------------


def _current(change: config.KeyChange) -> list[config.KeyChange]:
    """The entries of the same key, in table order."""
    return [c for c in config.KEY_HISTORY if (c.scope, c.name) == (change.scope, change.name)]


def test_the_history_table_agrees_with_the_key_definitions() -> None:
    """KEY_HISTORY cannot drift from _TABLE: every entry names a scope and a change kind; a key that still exists is
    a key of its scope, and its latest default in the table is its default here; a removed key (or prefix) matches
    no key of its scope and is not listed again later; releases are in order."""
    releases = [tuple(int(x) for x in c.release.split(".")) for c in config.KEY_HISTORY]
    assert releases == sorted(releases)
    for change in config.KEY_HISTORY:
        assert change.scope in scopes() and change.change in config.CHANGES, change
        assert change.release and change.source, change
        assert (change.default is not None) == (change.change in ("added", "default")), change
        assert (change.previous is not None) == (change.change == "default"), change
        if change.change == "removed":
            assert change.note, change
            assert not [n for n in keys(change.scope) if change.matches(change.scope, n)], change
            assert _current(change)[-1] is change, change
            continue
        assert change.name in keys(change.scope), change
        defaults = [c.default for c in _current(change) if c.default is not None]
        if defaults:
            assert defaults[-1] == config._kafka_text(key(change.scope, change.name).default), change
        if change.change == "default":
            earlier = [c.default for c in _current(change)[:_current(change).index(change)] if c.default]
            assert not earlier or earlier[-1] == change.previous, change


def test_the_module_docstring_ends_with_the_generated_table() -> None:
    doc = config.__doc__ or ""
    assert "Where each default comes from (generated from :data:`KEY_HISTORY`" in doc
    lines = doc.splitlines()
    for change in config.KEY_HISTORY:
        assert any(line.startswith(change.name + " (") and f" {change.release} " in line and change.source in line
                   for line in lines), change


@pytest.mark.parametrize(("scope", "name", "release"), [
    ("producer", "linger.ms", "4.0 (KIP-1030)"),
    ("topic", "message.timestamp.after.max.ms", "4.0 (KIP-1030)"),
    ("broker", "log.message.timestamp.after.max.ms", "4.0 (KIP-1030)"),
    ("broker", "group.consumer.migration.policy", "4.0 (KIP-848)"),
    ("broker", "group.coordinator.rebalance.protocols", "4.1 (KIP-1071 (KAFKA-19173))"),
    ("broker", "group.coordinator.append.linger.ms", "4.2 (KAFKA-19826)"),
    ("producer", "acks", "3.0 (KIP-679)"),
    ("admin", "retry.backoff.max.ms", "3.7 (KIP-580)"),
    ("consumer", "isolation.level", None),
])
def test_default_release_names_the_release_and_its_source(scope: str, name: str, release: str | None) -> None:
    assert config.default_release(scope, name) == release


def test_default_release_of_an_unknown_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=re.escape("unknown producer config 'lingr.ms': did you mean 'linger.ms'?")):
        config.default_release("producer", "lingr.ms")


def test_key_history_is_a_table_for_notebooks() -> None:
    frame = config.key_history()
    assert list(frame.columns) == ["scope", "key", "release", "change", "default", "previous", "source", "note"]
    assert len(frame) == len(config.KEY_HISTORY)
    linger = frame[(frame.scope == "producer") & (frame.key == "linger.ms")].iloc[0]
    assert (linger.release, linger.change, linger.default, linger.previous) == ("4.0", "default", "5", "0")
    assert set(config.key_history("topic").scope) == {"topic"}
    with pytest.raises(ConfigError, match=re.escape("unknown config scope 'topics'")):
        config.key_history("topics")


def test_the_defaults_kafka_4_changed_are_the_latest_releases() -> None:
    broker = resolve("broker")
    assert broker["group.coordinator.append.linger.ms"] == -1                  # 4.2: adaptive
    assert broker["group.coordinator.rebalance.protocols"] == ("classic", "consumer", "streams")   # 4.1
    assert broker["group.consumer.migration.policy"] == "bidirectional"        # 4.0
    assert broker["log.message.timestamp.after.max.ms"] == 3_600_000           # 4.0
    assert resolve("producer")["linger.ms"] == 5                               # 4.0
    assert resolve("broker", {"group.coordinator.rebalance.protocols": "classic,share"})[
        "group.coordinator.rebalance.protocols"] == ("classic", "share")


# --- keys Kafka removed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scope", "name", "message"), [
    ("broker", "log.message.format.version",
     "broker config 'log.message.format.version' was removed in Kafka 4.0 (KIP-724); every log is written in the v2 "
     "record format; remove the key"),
    ("topic", "message.format.version",
     "topic config 'message.format.version' was removed in Kafka 4.0 (KIP-724); every log is written in the v2 "
     "record format; remove the key"),
    ("topic", "message.timestamp.difference.max.ms",
     "topic config 'message.timestamp.difference.max.ms' was removed in Kafka 4.0 (KIP-937); use "
     "'message.timestamp.before.max.ms' and 'message.timestamp.after.max.ms'"),
    ("broker", "log.message.timestamp.difference.max.ms",
     "was removed in Kafka 4.0 (KIP-937); use 'log.message.timestamp.before.max.ms' and "
     "'log.message.timestamp.after.max.ms'"),
    ("topic", "message.downconversion.enable", "was removed in Kafka 4.0 (KIP-724, KIP-896); brokers no longer "
                                               "down-convert records for old consumers; remove the key"),
    ("broker", "offsets.commit.required.acks", "broker config 'offsets.commit.required.acks' was removed in Kafka 4.0 "
                                               "(KIP-1041)"),
    ("broker", "leader.imbalance.per.broker.percentage",
     "broker config 'leader.imbalance.per.broker.percentage' was removed in Kafka 4.0 (KAFKA-18743); it was "
     "ZooKeeper-only; the KRaft controller balances leaders every 'leader.imbalance.check.interval.seconds'"),
    ("broker", "eligible.leader.replicas.enable",
     "was removed in Kafka 4.0 (KAFKA-18062); use the feature level 'eligible.leader.replicas.version' (0 off, 1 on)"),
    ("broker", "delegation.token.master.key", "Kafka's replacement is 'delegation.token.secret.key'"),
    ("broker", "inter.broker.protocol.version", "was removed in Kafka 4.0 (KAFKA-18360); use 'metadata.version'"),
    ("broker", "zookeeper.connect", "broker config 'zookeeper.connect' was removed in Kafka 4.0 (KIP-500); Kafka 4 "
                                    "runs in KRaft mode only"),
    ("broker", "zookeeper.ssl.client.enable", "was removed in Kafka 4.0 (KIP-500)"),
    ("broker", "control.plane.listener.name", "'controller.listener.names'"),
    ("broker", "quota.producer.default", "broker config 'quota.producer.default' was removed in Kafka 3.0 "
                                         "(KAFKA-12591)"),
    ("producer", "auto.include.jmx.reporter", "producer config 'auto.include.jmx.reporter' was removed in Kafka 4.0 "
                                              "(KIP-830)"),
    ("consumer", "auto.include.jmx.reporter", "was removed in Kafka 4.0 (KIP-830)"),
    ("admin", "auto.include.jmx.reporter", "was removed in Kafka 4.0 (KIP-830)"),
])
def test_a_removed_key_says_when_it_went_and_what_replaces_it(scope: str, name: str, message: str) -> None:
    err = fails(scope, {name: "1"}, message)
    assert (err.key, err.scope) == (name, scope)
    with pytest.raises(ConfigError, match=re.escape(message)):
        key(scope, name)


def test_every_removed_key_is_refused_with_its_release() -> None:
    for change in config.KEY_HISTORY:
        if change.change == "removed":
            name = change.name.replace("*", "anything")
            fails(change.scope, {name: "x"}, f"{change.scope} config {name!r} was removed in Kafka {change.release} "
                                             f"({change.source}); {change.note}")


def test_a_removed_key_given_to_another_scope_says_where_it_was() -> None:
    fails("topic", {"log.message.format.version": "3.0"},
          "unknown topic config 'log.message.format.version': it was a broker config, removed in Kafka 4.0 (KIP-724)")
    fails("consumer", {"zookeeper.connect": "zk:2181"},
          "unknown consumer config 'zookeeper.connect': it was a broker config, removed in Kafka 4.0 (KIP-500)")


def test_a_removed_key_among_other_problems_is_reported_with_them() -> None:
    with pytest.raises(ConfigError) as info:
        resolve("topic", {"message.format.version": "2.8", "retention.ms": -5})
    assert str(info.value).splitlines()[0] == "2 problems in topic config (nothing was applied):"
    assert "'message.format.version' was removed in Kafka 4.0" in str(info.value)

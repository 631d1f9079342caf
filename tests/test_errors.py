"""Kafka's error table: codes, names and retriable flags, checked against apache/kafka's Errors.java."""
from __future__ import annotations

import pickle
import re

import pytest

import kafkalab.errors as errors
from kafkalab.errors import (
    PROTOCOL_ERRORS,
    BufferExhaustedError,
    CommitFailedError,
    ConfigError,
    InvalidMetadataError,
    InvalidOffsetError,
    InvariantViolation,
    KafkaError,
    KafkaTimeoutError,
    NoOffsetForPartitionError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    OffsetOutOfRangeError,
    RequestTimedOutError,
    RetriableError,
    SimulationError,
    UnknownServerError,
    error_for_code,
    error_for_name,
)

# (code, Kafka name, retriable) from Errors.java and the RetriableException hierarchy of Kafka 4.x.
KAFKA_SAMPLE = [
    (-1, "UNKNOWN_SERVER_ERROR", False),
    (1, "OFFSET_OUT_OF_RANGE", False),
    (2, "CORRUPT_MESSAGE", True),
    (3, "UNKNOWN_TOPIC_OR_PARTITION", True),
    (5, "LEADER_NOT_AVAILABLE", True),
    (6, "NOT_LEADER_OR_FOLLOWER", True),
    (7, "REQUEST_TIMED_OUT", True),
    (8, "BROKER_NOT_AVAILABLE", False),
    (10, "MESSAGE_TOO_LARGE", False),
    (13, "NETWORK_EXCEPTION", True),
    (14, "COORDINATOR_LOAD_IN_PROGRESS", True),
    (15, "COORDINATOR_NOT_AVAILABLE", True),
    (16, "NOT_COORDINATOR", True),
    (18, "RECORD_LIST_TOO_LARGE", False),
    (19, "NOT_ENOUGH_REPLICAS", True),
    (20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", True),
    (22, "ILLEGAL_GENERATION", False),
    (23, "INCONSISTENT_GROUP_PROTOCOL", False),
    (25, "UNKNOWN_MEMBER_ID", False),
    (27, "REBALANCE_IN_PROGRESS", False),
    (36, "TOPIC_ALREADY_EXISTS", False),
    (37, "INVALID_PARTITIONS", False),
    (38, "INVALID_REPLICATION_FACTOR", False),
    (40, "INVALID_CONFIG", False),
    (41, "NOT_CONTROLLER", True),
    (42, "INVALID_REQUEST", False),
    (44, "POLICY_VIOLATION", False),
    (45, "OUT_OF_ORDER_SEQUENCE_NUMBER", False),
    (46, "DUPLICATE_SEQUENCE_NUMBER", False),
    (47, "INVALID_PRODUCER_EPOCH", False),
    (56, "KAFKA_STORAGE_ERROR", True),
    (74, "FENCED_LEADER_EPOCH", True),
    (75, "UNKNOWN_LEADER_EPOCH", True),
    (77, "STALE_BROKER_EPOCH", False),
    (79, "MEMBER_ID_REQUIRED", False),
    (81, "GROUP_MAX_SIZE_REACHED", False),
    (82, "FENCED_INSTANCE_ID", False),
    (87, "INVALID_RECORD", False),
    (90, "PRODUCER_FENCED", False),
    (100, "UNKNOWN_TOPIC_ID", True),
    (106, "FETCH_SESSION_TOPIC_ID_ERROR", True),
    (110, "FENCED_MEMBER_EPOCH", False),
    (111, "UNRELEASED_INSTANCE_ID", False),
    (113, "STALE_MEMBER_EPOCH", False),
    (128, "INVALID_REGULAR_EXPRESSION", False),
]


@pytest.mark.parametrize(("code", "name", "retriable"), KAFKA_SAMPLE)
def test_code_name_and_retriable_match_kafka(code: int, name: str, retriable: bool) -> None:
    cls = error_for_code(code)
    assert cls.code == code
    assert cls.error_name == name
    assert cls.retriable is retriable
    assert error_for_name(name) is cls
    assert issubclass(cls, RetriableError) is retriable


def test_the_brief_names_are_importable_with_their_codes() -> None:
    expected = {
        "NotEnoughReplicasError": 19, "NotEnoughReplicasAfterAppendError": 20, "UnknownTopicOrPartitionError": 3,
        "MessageTooLargeError": 10, "InvalidReplicationFactorError": 38, "NotLeaderOrFollowerError": 6,
        "TopicAlreadyExistsError": 36, "OffsetOutOfRangeError": 1, "CorruptMessageError": 2,
        "RequestTimedOutError": 7, "NotCoordinatorError": 16, "CoordinatorNotAvailableError": 15,
        "CoordinatorLoadInProgressError": 14, "IllegalGenerationError": 22, "UnknownMemberIdError": 25,
        "RebalanceInProgressError": 27, "FencedLeaderEpochError": 74, "UnknownLeaderEpochError": 75,
        "OutOfOrderSequenceNumberError": 45, "DuplicateSequenceNumberError": 46, "InvalidProducerEpochError": 47,
        "ProducerFencedError": 90, "RecordListTooLargeError": 18, "InvalidPartitionsError": 37,
        "PolicyViolationError": 44, "InvalidConfigError": 40, "BrokerNotAvailableError": 8,
        "LeaderNotAvailableError": 5, "NetworkExceptionError": 13, "KafkaStorageError": 56, "InvalidRequestError": 42,
        "UnknownServerError": -1, "StaleBrokerEpochError": 77, "InconsistentGroupProtocolError": 23,
        "GroupMaxSizeReachedError": 81, "FencedInstanceIdError": 82, "MemberIdRequiredError": 79,
        "UnreleasedInstanceIdError": 111, "FencedMemberEpochError": 110, "StaleMemberEpochError": 113,
        "InvalidRecordError": 87,
    }
    for class_name, code in expected.items():
        cls = getattr(errors, class_name)
        assert cls.code == code, class_name
        assert class_name in errors.__all__


def test_every_protocol_error_follows_the_naming_rule_and_is_exported() -> None:
    for code, cls in PROTOCOL_ERRORS.items():
        camel = "".join(word.capitalize() for word in cls.error_name.split("_"))
        assert cls.__name__ == (camel if cls.error_name.endswith("_ERROR") else camel + "Error")
        assert getattr(errors, cls.__name__) is cls
        assert cls.__name__ in errors.__all__
        assert cls.code == code
        assert cls.default_message and cls.default_message.endswith(".")
    assert sorted(PROTOCOL_ERRORS) == [-1, *range(1, 134)]


def test_invalid_metadata_errors_ask_for_a_metadata_refresh() -> None:
    assert issubclass(NotLeaderOrFollowerError, InvalidMetadataError)
    assert NotLeaderOrFollowerError.invalid_metadata and NotLeaderOrFollowerError.retriable
    assert error_for_name("UNKNOWN_TOPIC_OR_PARTITION").invalid_metadata
    assert error_for_name("FENCED_LEADER_EPOCH").invalid_metadata
    assert not NotEnoughReplicasError.invalid_metadata  # retriable, but the metadata is fine
    assert not error_for_name("UNKNOWN_LEADER_EPOCH").invalid_metadata


def test_default_and_custom_messages() -> None:
    err = NotEnoughReplicasError()
    assert err.message == NotEnoughReplicasError.default_message
    assert "min.insync.replicas" in err.message
    assert str(err) == f"NOT_ENOUGH_REPLICAS: {err.message}"
    custom = NotEnoughReplicasError("ISR [1] < min.insync.replicas 2 for t-0")
    assert str(custom) == "NOT_ENOUGH_REPLICAS: ISR [1] < min.insync.replicas 2 for t-0"
    assert repr(custom) == "NotEnoughReplicasError('ISR [1] < min.insync.replicas 2 for t-0')"
    assert isinstance(custom, KafkaError) and isinstance(custom, Exception)
    with pytest.raises(NotEnoughReplicasError, match="NOT_ENOUGH_REPLICAS"):
        raise custom


def test_unknown_code_maps_to_unknown_server_error_like_errors_for_code() -> None:
    assert error_for_code(31337) is UnknownServerError
    assert error_for_code(-2) is UnknownServerError


def test_code_zero_is_none_not_an_error() -> None:
    with pytest.raises(ValueError, match="error code 0 is NONE"):
        error_for_code(0)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown Kafka error name 'NOT_ENOUGH_REPLICA'; did you mean "
                                                   "NOT_ENOUGH_REPLICAS")):
        error_for_name("NOT_ENOUGH_REPLICA")
    with pytest.raises(ValueError, match=r"^unknown Kafka error name 'zzz'$"):
        error_for_name("zzz")


def test_kafka_timeout_error_is_kafkas_timeout_exception() -> None:
    err = KafkaTimeoutError("Expiring 3 record(s) for t-0: 120000 ms has passed since batch creation")
    assert isinstance(err, RequestTimedOutError)
    assert (err.code, err.error_name, err.retriable) == (7, "REQUEST_TIMED_OUT", True)
    assert error_for_code(7) is RequestTimedOutError  # the lookup returns the protocol class, not the client one
    assert issubclass(BufferExhaustedError, KafkaTimeoutError)


def test_client_side_errors() -> None:
    assert (CommitFailedError.code, CommitFailedError.error_name, CommitFailedError.retriable) == (
        -1, "CommitFailedException", False)
    assert issubclass(NoOffsetForPartitionError, InvalidOffsetError)
    assert issubclass(OffsetOutOfRangeError, InvalidOffsetError)
    assert error_for_name("NoOffsetForPartitionException") is NoOffsetForPartitionError
    assert "auto.offset.reset" in NoOffsetForPartitionError().message


def test_a_protocol_error_needs_code_and_name_and_they_are_unique() -> None:
    with pytest.raises(TypeError, match="needs both code= and name="):
        class Half(KafkaError, code=999):  # noqa: F841
            pass
    with pytest.raises(TypeError, match=r"NOT_ENOUGH_REPLICAS \(19\) is already NotEnoughReplicasError"):
        class Twice(RetriableError, code=19, name="NOT_ENOUGH_REPLICAS"):  # noqa: F841
            pass
    assert PROTOCOL_ERRORS[19] is NotEnoughReplicasError


def test_user_subclass_inherits_code_and_name() -> None:
    class MyNotEnough(NotEnoughReplicasError):
        pass

    assert (MyNotEnough.code, MyNotEnough.error_name, MyNotEnough.retriable) == (19, "NOT_ENOUGH_REPLICAS", True)
    assert error_for_code(19) is NotEnoughReplicasError


def test_describe_lists_the_table() -> None:
    frame = errors.describe()
    assert list(frame.columns) == ["code", "name", "class", "retriable", "invalid_metadata", "message"]
    assert len(frame) == len(PROTOCOL_ERRORS)
    row = frame[frame.code == 19].iloc[0]
    assert (row["name"], row["class"], bool(row["retriable"])) == ("NOT_ENOUGH_REPLICAS", "NotEnoughReplicasError", True)
    assert list(frame.code) == sorted(frame.code)


def test_config_error_is_a_value_error_with_context() -> None:
    err = ConfigError("unknown producer config 'lingr.ms'", key="lingr.ms", scope="producer")
    assert isinstance(err, ValueError)
    assert (err.key, err.scope, err.value) == ("lingr.ms", "producer", None)
    assert str(ConfigError("plain")) == "plain"


def test_invariant_violation_carries_seed_and_time() -> None:
    err = InvariantViolation("two leaders in epoch 3", seed=42, time_ms=1234.5)
    assert isinstance(err, AssertionError)
    assert (err.seed, err.time_ms, err.message) == (42, 1234.5, "two leaders in epoch 3")
    assert str(err) == "two leaders in epoch 3 (seed=42, t=1234.5 ms)"
    assert str(InvariantViolation("x")) == "x (seed=None, t=None ms)"


def test_simulation_error_carries_seed_time_and_event() -> None:
    err = SimulationError("handler raised KeyError", seed=7, time_ms=10, event="Fetch(1->2)")
    assert isinstance(err, RuntimeError)
    assert (err.seed, err.time_ms, err.event) == (7, 10, "Fetch(1->2)")
    assert str(err) == "handler raised KeyError"  # the kernel writes seed, time and event into its message
    assert SimulationError("stuck").seed is None


def test_errors_survive_pickling_for_parallel_sweeps() -> None:
    violation = pickle.loads(pickle.dumps(InvariantViolation("hw went back", seed=3, time_ms=99)))
    assert str(violation) == "hw went back (seed=3, t=99 ms)"
    assert (violation.seed, violation.time_ms, violation.message) == (3, 99, "hw went back")
    kafka = pickle.loads(pickle.dumps(NotEnoughReplicasError("isr=[1]")))
    assert type(kafka) is NotEnoughReplicasError and str(kafka) == "NOT_ENOUGH_REPLICAS: isr=[1]"
    config_error = pickle.loads(pickle.dumps(ConfigError("bad", key="acks", scope="producer", value="2")))
    assert (str(config_error), config_error.key, config_error.value) == ("bad", "acks", "2")
    sim = pickle.loads(pickle.dumps(SimulationError("boom", seed=1, time_ms=2, event="e")))
    assert (str(sim), sim.seed, sim.event) == ("boom", 1, "e")

"""Kafka's protocol errors as Python exceptions, and kafkalab's own failures.

How it works. Each Kafka protocol error (``clients/.../common/protocol/Errors.java`` of Apache Kafka 4.x) is one class
statement below: ``class NotEnoughReplicasError(RetriableError, code=19, name="NOT_ENOUGH_REPLICAS")``, whose docstring is
its default message (kafkalab's short wording of Kafka's description). The class keywords register it in
:data:`PROTOCOL_ERRORS`, so the class statements *are* the table, and every error is a real module-level class that
``from kafkalab.errors import NotEnoughReplicasError`` and mypy both see.

- Names: Kafka's error name in CamelCase plus ``Error`` (``NETWORK_EXCEPTION`` -> ``NetworkExceptionError``), except
  names already ending in ``_ERROR`` (``KAFKA_STORAGE_ERROR`` -> ``KafkaStorageError``).
- ``retriable`` follows Java's class hierarchy: a protocol error is retriable exactly when Kafka's exception for it
  extends ``RetriableException``; here, when the class derives from :class:`RetriableError`. Errors whose Java exception
  extends ``InvalidMetadataException`` (the client should refresh its metadata before retrying: NOT_LEADER_OR_FOLLOWER,
  UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH, ...) derive from :class:`InvalidMetadataError` and have
  ``invalid_metadata = True``.
- Lookups: :func:`error_for_code` maps an unknown code to UNKNOWN_SERVER_ERROR, as ``Errors.forCode`` does; code 0
  (NONE) is not an error and raises ``ValueError``.
- Client-side errors that never cross the wire (Kafka's ``CommitFailedException``, ``NoOffsetForPartitionException``)
  have ``code = -1`` (what ``Errors.forException`` reports for them) and use the Java exception name as ``error_name``.
  :class:`KafkaTimeoutError` is Kafka's client-side ``TimeoutException`` (delivery.timeout.ms, max.block.ms and API
  timeouts expiring). Kafka maps that very exception to REQUEST_TIMED_OUT in both directions, so it subclasses
  :class:`RequestTimedOutError` and keeps code 7, ``error_name = "REQUEST_TIMED_OUT"`` and ``retriable = True``;
  ``except RequestTimedOutError`` catches both, ``except KafkaTimeoutError`` only the client-side expiry.

Codes -1..128 and their retriable flags were checked against apache/kafka's Errors.java and exception classes (4.0
development tree); 129..133 (REBOOTSTRAP_REQUIRED, the STREAMS_* errors, SHARE_SESSION_LIMIT_REACHED) were added in
Kafka 4.0/4.1.

Besides Kafka's errors: :class:`ConfigError` (a ``ValueError``) for bad configuration, :class:`InvariantViolation` (an
``AssertionError``) when the simulation breaks one of its own invariants, and :class:`SimulationError` when the
simulation cannot go on; the last two carry the run's seed and virtual time so the failure can be replayed.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TransactionAbortedError",
    # kafkalab's own failures
    "ConfigError", "InvariantViolation", "SimulationError",
    # bases and lookups
    "KafkaError", "RetriableError", "InvalidMetadataError", "InvalidOffsetError", "PROTOCOL_ERRORS",
    "error_for_code", "error_for_name", "describe",
    # client-side errors
    "KafkaTimeoutError", "BufferExhaustedError", "CommitFailedError", "NoOffsetForPartitionError",
    # protocol errors, by code
    "UnknownServerError", "OffsetOutOfRangeError", "CorruptMessageError", "UnknownTopicOrPartitionError",
    "InvalidFetchSizeError", "LeaderNotAvailableError", "NotLeaderOrFollowerError", "RequestTimedOutError",
    "BrokerNotAvailableError", "ReplicaNotAvailableError", "MessageTooLargeError", "StaleControllerEpochError",
    "OffsetMetadataTooLargeError", "NetworkExceptionError", "CoordinatorLoadInProgressError",
    "CoordinatorNotAvailableError", "NotCoordinatorError", "InvalidTopicExceptionError", "InvalidTopicError",
    "RecordListTooLargeError", "NotEnoughReplicasError", "NotEnoughReplicasAfterAppendError",
    "InvalidRequiredAcksError", "IllegalGenerationError", "InconsistentGroupProtocolError", "InvalidGroupIdError",
    "UnknownMemberIdError", "InvalidSessionTimeoutError", "RebalanceInProgressError",
    "InvalidCommitOffsetSizeError", "TopicAuthorizationFailedError", "GroupAuthorizationFailedError",
    "ClusterAuthorizationFailedError", "InvalidTimestampError", "UnsupportedSaslMechanismError",
    "IllegalSaslStateError", "UnsupportedVersionError", "TopicAlreadyExistsError", "InvalidPartitionsError",
    "InvalidReplicationFactorError", "InvalidReplicaAssignmentError", "InvalidConfigError", "NotControllerError",
    "InvalidRequestError", "UnsupportedForMessageFormatError", "PolicyViolationError",
    "OutOfOrderSequenceNumberError", "DuplicateSequenceNumberError", "InvalidProducerEpochError",
    "InvalidTxnStateError", "InvalidProducerIdMappingError", "InvalidTransactionTimeoutError",
    "ConcurrentTransactionsError", "TransactionCoordinatorFencedError", "TransactionalIdAuthorizationFailedError",
    "SecurityDisabledError", "OperationNotAttemptedError", "KafkaStorageError", "LogDirNotFoundError",
    "SaslAuthenticationFailedError", "UnknownProducerIdError", "ReassignmentInProgressError",
    "DelegationTokenAuthDisabledError", "DelegationTokenNotFoundError", "DelegationTokenOwnerMismatchError",
    "DelegationTokenRequestNotAllowedError", "DelegationTokenAuthorizationFailedError",
    "DelegationTokenExpiredError", "InvalidPrincipalTypeError", "NonEmptyGroupError", "GroupIdNotFoundError",
    "FetchSessionIdNotFoundError", "InvalidFetchSessionEpochError", "ListenerNotFoundError",
    "TopicDeletionDisabledError", "FencedLeaderEpochError", "UnknownLeaderEpochError",
    "UnsupportedCompressionTypeError", "StaleBrokerEpochError", "OffsetNotAvailableError",
    "MemberIdRequiredError", "PreferredLeaderNotAvailableError", "GroupMaxSizeReachedError",
    "FencedInstanceIdError", "EligibleLeadersNotAvailableError", "ElectionNotNeededError",
    "NoReassignmentInProgressError", "GroupSubscribedToTopicError", "InvalidRecordError",
    "UnstableOffsetCommitError", "ThrottlingQuotaExceededError", "ProducerFencedError", "ResourceNotFoundError",
    "DuplicateResourceError", "UnacceptableCredentialError", "InconsistentVoterSetError",
    "InvalidUpdateVersionError", "FeatureUpdateFailedError", "PrincipalDeserializationFailureError",
    "SnapshotNotFoundError", "PositionOutOfRangeError", "UnknownTopicIdError", "DuplicateBrokerRegistrationError",
    "BrokerIdNotRegisteredError", "InconsistentTopicIdError", "InconsistentClusterIdError",
    "TransactionalIdNotFoundError", "FetchSessionTopicIdError", "IneligibleReplicaError", "NewLeaderElectedError",
    "OffsetMovedToTieredStorageError", "FencedMemberEpochError", "UnreleasedInstanceIdError",
    "UnsupportedAssignorError", "StaleMemberEpochError", "MismatchedEndpointTypeError",
    "UnsupportedEndpointTypeError", "UnknownControllerIdError", "UnknownSubscriptionIdError",
    "TelemetryTooLargeError", "InvalidRegistrationError", "TransactionAbortableError", "InvalidRecordStateError",
    "ShareSessionNotFoundError", "InvalidShareSessionEpochError", "FencedStateEpochError", "InvalidVoterKeyError",
    "DuplicateVoterError", "VoterNotFoundError", "InvalidRegularExpressionError", "RebootstrapRequiredError",
    "StreamsInvalidTopologyError", "StreamsInvalidTopologyEpochError", "StreamsTopologyFencedError",
    "ShareSessionLimitReachedError",
]

_BY_CODE: dict[int, type[KafkaError]] = {}
_BY_NAME: dict[str, type[KafkaError]] = {}

#: Every Kafka protocol error class, by code (read-only; filled by the class statements below).
PROTOCOL_ERRORS: Mapping[int, type[KafkaError]] = MappingProxyType(_BY_CODE)


class KafkaError(Exception):
    """Base of every Kafka error. A bare KafkaError stands for an error Kafka cannot map: UNKNOWN_SERVER_ERROR."""

    code: ClassVar[int] = -1
    error_name: ClassVar[str] = "UNKNOWN_SERVER_ERROR"
    retriable: ClassVar[bool] = False
    invalid_metadata: ClassVar[bool] = False
    default_message: ClassVar[str] = "The server hit an unexpected error while handling the request."

    def __init_subclass__(cls, *, code: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__doc__:
            cls.default_message = cls.__doc__.strip()
        if code is None and name is None:
            return  # a base class, a client-side error, or a user's subclass: inherits code and name
        if code is None or name is None:
            raise TypeError(f"{cls.__name__}: a protocol error needs both code= and name=")
        if code in _BY_CODE or name in _BY_NAME:
            taken = _BY_CODE.get(code) or _BY_NAME[name]
            raise TypeError(f"{cls.__name__}: Kafka error {name} ({code}) is already {taken.__name__}")
        cls.code = code
        cls.error_name = name
        _BY_CODE[code] = cls
        _BY_NAME[name] = cls

    def __init__(self, message: str | None = None) -> None:
        self.message: str = self.default_message if message is None else message
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.error_name}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class RetriableError(KafkaError):
    """A transient error: retrying the same request may succeed (Kafka's ``RetriableException``)."""

    retriable = True


class InvalidMetadataError(RetriableError):
    """Retriable after a metadata refresh: the client's view of leaders or topics is out of date."""

    invalid_metadata = True


class InvalidOffsetError(KafkaError):
    """The consumer has no valid position for a partition (Kafka's ``InvalidOffsetException``)."""


# --- protocol errors: one class per row of Kafka's Errors table, in code order --------------------------------------


class UnknownServerError(KafkaError, code=-1, name="UNKNOWN_SERVER_ERROR"):
    """The server hit an unexpected error while handling the request."""


class OffsetOutOfRangeError(InvalidOffsetError, code=1, name="OFFSET_OUT_OF_RANGE"):
    """The requested offset is outside the range of offsets the server holds for the partition."""


class CorruptMessageError(RetriableError, code=2, name="CORRUPT_MESSAGE"):
    """The message failed its CRC check, has an invalid size, lacks a key in a compacted topic, or is otherwise corrupt."""


class UnknownTopicOrPartitionError(InvalidMetadataError, code=3, name="UNKNOWN_TOPIC_OR_PARTITION"):
    """This server hosts no such topic-partition."""


class InvalidFetchSizeError(KafkaError, code=4, name="INVALID_FETCH_SIZE"):
    """The requested fetch size is not valid."""


class LeaderNotAvailableError(InvalidMetadataError, code=5, name="LEADER_NOT_AVAILABLE"):
    """The partition has no leader right now; a leader election is under way."""


class NotLeaderOrFollowerError(InvalidMetadataError, code=6, name="NOT_LEADER_OR_FOLLOWER"):
    """This broker is not the leader of the partition (for leader-only requests) or not one of its replicas."""


class RequestTimedOutError(RetriableError, code=7, name="REQUEST_TIMED_OUT"):
    """The request timed out."""


class BrokerNotAvailableError(KafkaError, code=8, name="BROKER_NOT_AVAILABLE"):
    """The broker is not available."""


class ReplicaNotAvailableError(InvalidMetadataError, code=9, name="REPLICA_NOT_AVAILABLE"):
    """The replica is not available for this topic-partition."""


class MessageTooLargeError(KafkaError, code=10, name="MESSAGE_TOO_LARGE"):
    """The request holds a message larger than the largest message size the server accepts."""


class StaleControllerEpochError(KafkaError, code=11, name="STALE_CONTROLLER_EPOCH"):
    """The controller has moved to another node."""


class OffsetMetadataTooLargeError(KafkaError, code=12, name="OFFSET_METADATA_TOO_LARGE"):
    """The metadata attached to the offset commit is too large."""


class NetworkExceptionError(InvalidMetadataError, code=13, name="NETWORK_EXCEPTION"):
    """The connection closed before a response arrived."""


class CoordinatorLoadInProgressError(RetriableError, code=14, name="COORDINATOR_LOAD_IN_PROGRESS"):
    """The coordinator is still loading its state and cannot serve requests yet."""


class CoordinatorNotAvailableError(RetriableError, code=15, name="COORDINATOR_NOT_AVAILABLE"):
    """The coordinator is not available."""


class NotCoordinatorError(RetriableError, code=16, name="NOT_COORDINATOR"):
    """This broker is not the coordinator for the group."""


class InvalidTopicExceptionError(KafkaError, code=17, name="INVALID_TOPIC_EXCEPTION"):
    """The request names an invalid topic (Kafka's ``InvalidTopicException``; also ``kl.errors.InvalidTopicError``)."""


#: The shorter name, as Kafka's exception class is called (``InvalidTopicException``).
InvalidTopicError = InvalidTopicExceptionError


class RecordListTooLargeError(KafkaError, code=18, name="RECORD_LIST_TOO_LARGE"):
    """The request holds a record batch larger than the segment size of the server."""


class NotEnoughReplicasError(RetriableError, code=19, name="NOT_ENOUGH_REPLICAS"):
    """Rejected: the partition has fewer in-sync replicas than min.insync.replicas."""


class NotEnoughReplicasAfterAppendError(RetriableError, code=20, name="NOT_ENOUGH_REPLICAS_AFTER_APPEND"):
    """Appended to the log, but acknowledged by fewer in-sync replicas than required."""


class InvalidRequiredAcksError(KafkaError, code=21, name="INVALID_REQUIRED_ACKS"):
    """The produce request gave an invalid value for required acks."""


class IllegalGenerationError(KafkaError, code=22, name="ILLEGAL_GENERATION"):
    """The group generation id in the request is not valid."""


class InconsistentGroupProtocolError(KafkaError, code=23, name="INCONSISTENT_GROUP_PROTOCOL"):
    """The member's protocols are incompatible with those of the group's members, or the first member gave none."""


class InvalidGroupIdError(KafkaError, code=24, name="INVALID_GROUP_ID"):
    """The group id is not valid."""


class UnknownMemberIdError(KafkaError, code=25, name="UNKNOWN_MEMBER_ID"):
    """The coordinator does not know this member."""


class InvalidSessionTimeoutError(KafkaError, code=26, name="INVALID_SESSION_TIMEOUT"):
    """The session timeout is outside group.min.session.timeout.ms..group.max.session.timeout.ms."""


class RebalanceInProgressError(KafkaError, code=27, name="REBALANCE_IN_PROGRESS"):
    """The group is rebalancing; the member must rejoin."""


class InvalidCommitOffsetSizeError(KafkaError, code=28, name="INVALID_COMMIT_OFFSET_SIZE"):
    """The size of the committed offset data is not valid."""


class TopicAuthorizationFailedError(KafkaError, code=29, name="TOPIC_AUTHORIZATION_FAILED"):
    """Not authorized to access the topic."""


class GroupAuthorizationFailedError(KafkaError, code=30, name="GROUP_AUTHORIZATION_FAILED"):
    """Not authorized to access the group."""


class ClusterAuthorizationFailedError(KafkaError, code=31, name="CLUSTER_AUTHORIZATION_FAILED"):
    """Not authorized to perform a cluster operation."""


class InvalidTimestampError(KafkaError, code=32, name="INVALID_TIMESTAMP"):
    """The message timestamp is outside the accepted range."""


class UnsupportedSaslMechanismError(KafkaError, code=33, name="UNSUPPORTED_SASL_MECHANISM"):
    """The broker does not support the requested SASL mechanism."""


class IllegalSaslStateError(KafkaError, code=34, name="ILLEGAL_SASL_STATE"):
    """The request is not valid in the current SASL state."""


class UnsupportedVersionError(KafkaError, code=35, name="UNSUPPORTED_VERSION"):
    """The API version is not supported."""


class TopicAlreadyExistsError(KafkaError, code=36, name="TOPIC_ALREADY_EXISTS"):
    """A topic with this name exists already."""


class InvalidPartitionsError(KafkaError, code=37, name="INVALID_PARTITIONS"):
    """The number of partitions is not valid."""


class InvalidReplicationFactorError(KafkaError, code=38, name="INVALID_REPLICATION_FACTOR"):
    """The replication factor is not valid."""


class InvalidReplicaAssignmentError(KafkaError, code=39, name="INVALID_REPLICA_ASSIGNMENT"):
    """The replica assignment is not valid."""


class InvalidConfigError(KafkaError, code=40, name="INVALID_CONFIG"):
    """The configuration is not valid."""


class NotControllerError(RetriableError, code=41, name="NOT_CONTROLLER"):
    """This node is not the active controller."""


class InvalidRequestError(KafkaError, code=42, name="INVALID_REQUEST"):
    """The request is malformed or was sent to an incompatible broker."""


class UnsupportedForMessageFormatError(KafkaError, code=43, name="UNSUPPORTED_FOR_MESSAGE_FORMAT"):
    """The broker's message format does not support this request."""


class PolicyViolationError(KafkaError, code=44, name="POLICY_VIOLATION"):
    """The request parameters violate the configured policy."""


class OutOfOrderSequenceNumberError(KafkaError, code=45, name="OUT_OF_ORDER_SEQUENCE_NUMBER"):
    """The broker received a sequence number out of order."""


class DuplicateSequenceNumberError(KafkaError, code=46, name="DUPLICATE_SEQUENCE_NUMBER"):
    """The broker received a duplicate sequence number."""


class InvalidProducerEpochError(KafkaError, code=47, name="INVALID_PRODUCER_EPOCH"):
    """The producer used an old epoch: a newer producer exists, or the broker expired its transaction."""


class InvalidTxnStateError(KafkaError, code=48, name="INVALID_TXN_STATE"):
    """The producer attempted a transactional operation in a state that does not allow it."""


class InvalidProducerIdMappingError(KafkaError, code=49, name="INVALID_PRODUCER_ID_MAPPING"):
    """The producer id is not the one currently assigned to its transactional id."""


class InvalidTransactionTimeoutError(KafkaError, code=50, name="INVALID_TRANSACTION_TIMEOUT"):
    """The transaction timeout exceeds the broker's max.transaction.timeout.ms."""


class ConcurrentTransactionsError(RetriableError, code=51, name="CONCURRENT_TRANSACTIONS"):
    """Another operation on the same transaction is in progress."""


class TransactionCoordinatorFencedError(KafkaError, code=52, name="TRANSACTION_COORDINATOR_FENCED"):
    """The transaction coordinator sending the marker is no longer the coordinator for this producer."""


class TransactionalIdAuthorizationFailedError(KafkaError, code=53, name="TRANSACTIONAL_ID_AUTHORIZATION_FAILED"):
    """Not authorized to use the transactional id."""


class SecurityDisabledError(KafkaError, code=54, name="SECURITY_DISABLED"):
    """Security features are disabled."""


class OperationNotAttemptedError(KafkaError, code=55, name="OPERATION_NOT_ATTEMPTED"):
    """The broker did not try this operation, because other operations of the same batched request failed."""


class KafkaStorageError(InvalidMetadataError, code=56, name="KAFKA_STORAGE_ERROR"):
    """A disk error occurred while accessing a log file."""


class LogDirNotFoundError(KafkaError, code=57, name="LOG_DIR_NOT_FOUND"):
    """The requested log directory is not in the broker's configuration."""


class SaslAuthenticationFailedError(KafkaError, code=58, name="SASL_AUTHENTICATION_FAILED"):
    """SASL authentication failed."""


class UnknownProducerIdError(KafkaError, code=59, name="UNKNOWN_PRODUCER_ID"):
    """The broker has no state for this producer id (for example, its records were deleted by retention)."""


class ReassignmentInProgressError(KafkaError, code=60, name="REASSIGNMENT_IN_PROGRESS"):
    """A partition reassignment is in progress."""


class DelegationTokenAuthDisabledError(KafkaError, code=61, name="DELEGATION_TOKEN_AUTH_DISABLED"):
    """Delegation tokens are not enabled."""


class DelegationTokenNotFoundError(KafkaError, code=62, name="DELEGATION_TOKEN_NOT_FOUND"):
    """The delegation token was not found."""


class DelegationTokenOwnerMismatchError(KafkaError, code=63, name="DELEGATION_TOKEN_OWNER_MISMATCH"):
    """The principal is not a valid owner or renewer of the delegation token."""


class DelegationTokenRequestNotAllowedError(KafkaError, code=64, name="DELEGATION_TOKEN_REQUEST_NOT_ALLOWED"):
    """Delegation token requests are not allowed on this channel."""


class DelegationTokenAuthorizationFailedError(KafkaError, code=65, name="DELEGATION_TOKEN_AUTHORIZATION_FAILED"):
    """Not authorized to use the delegation token."""


class DelegationTokenExpiredError(KafkaError, code=66, name="DELEGATION_TOKEN_EXPIRED"):
    """The delegation token has expired."""


class InvalidPrincipalTypeError(KafkaError, code=67, name="INVALID_PRINCIPAL_TYPE"):
    """The principal type is not supported."""


class NonEmptyGroupError(KafkaError, code=68, name="NON_EMPTY_GROUP"):
    """The group is not empty."""


class GroupIdNotFoundError(KafkaError, code=69, name="GROUP_ID_NOT_FOUND"):
    """No group with this id exists."""


class FetchSessionIdNotFoundError(RetriableError, code=70, name="FETCH_SESSION_ID_NOT_FOUND"):
    """The fetch session id was not found."""


class InvalidFetchSessionEpochError(RetriableError, code=71, name="INVALID_FETCH_SESSION_EPOCH"):
    """The fetch session epoch is not valid."""


class ListenerNotFoundError(InvalidMetadataError, code=72, name="LISTENER_NOT_FOUND"):
    """The leader has no listener matching the one the metadata request came in on."""


class TopicDeletionDisabledError(KafkaError, code=73, name="TOPIC_DELETION_DISABLED"):
    """Deleting topics is disabled."""


class FencedLeaderEpochError(InvalidMetadataError, code=74, name="FENCED_LEADER_EPOCH"):
    """The leader epoch in the request is older than the broker's."""


class UnknownLeaderEpochError(RetriableError, code=75, name="UNKNOWN_LEADER_EPOCH"):
    """The leader epoch in the request is newer than the broker's."""


class UnsupportedCompressionTypeError(KafkaError, code=76, name="UNSUPPORTED_COMPRESSION_TYPE"):
    """The client does not support the partition's compression type."""


class StaleBrokerEpochError(KafkaError, code=77, name="STALE_BROKER_EPOCH"):
    """The broker epoch has changed."""


class OffsetNotAvailableError(RetriableError, code=78, name="OFFSET_NOT_AVAILABLE"):
    """The new leader's high watermark has not caught up yet, so offsets could go backwards."""


class MemberIdRequiredError(KafkaError, code=79, name="MEMBER_ID_REQUIRED"):
    """The member needs a member id before it can join the group."""


class PreferredLeaderNotAvailableError(InvalidMetadataError, code=80, name="PREFERRED_LEADER_NOT_AVAILABLE"):
    """The preferred leader is not available."""


class GroupMaxSizeReachedError(KafkaError, code=81, name="GROUP_MAX_SIZE_REACHED"):
    """The group has reached its maximum size."""


class FencedInstanceIdError(KafkaError, code=82, name="FENCED_INSTANCE_ID"):
    """Another member with the same group.instance.id but a different member id has registered: this one is fenced."""


class EligibleLeadersNotAvailableError(InvalidMetadataError, code=83, name="ELIGIBLE_LEADERS_NOT_AVAILABLE"):
    """No eligible leader is available for the partition."""


class ElectionNotNeededError(InvalidMetadataError, code=84, name="ELECTION_NOT_NEEDED"):
    """The partition does not need a leader election."""


class NoReassignmentInProgressError(KafkaError, code=85, name="NO_REASSIGNMENT_IN_PROGRESS"):
    """No partition reassignment is in progress."""


class GroupSubscribedToTopicError(KafkaError, code=86, name="GROUP_SUBSCRIBED_TO_TOPIC"):
    """Offsets of a topic cannot be deleted while the group is subscribed to it."""


class InvalidRecordError(KafkaError, code=87, name="INVALID_RECORD"):
    """The broker's validation rejected the record."""


class UnstableOffsetCommitError(RetriableError, code=88, name="UNSTABLE_OFFSET_COMMIT"):
    """Unstable offsets must be cleared first."""


class ThrottlingQuotaExceededError(RetriableError, code=89, name="THROTTLING_QUOTA_EXCEEDED"):
    """The throttling quota was exceeded."""


class ProducerFencedError(KafkaError, code=90, name="PRODUCER_FENCED"):
    """A newer producer with the same transactional id has fenced this one."""


class ResourceNotFoundError(KafkaError, code=91, name="RESOURCE_NOT_FOUND"):
    """The request refers to a resource that does not exist."""


class DuplicateResourceError(KafkaError, code=92, name="DUPLICATE_RESOURCE"):
    """The request refers to the same resource twice."""


class UnacceptableCredentialError(KafkaError, code=93, name="UNACCEPTABLE_CREDENTIAL"):
    """The requested credential does not meet the acceptance criteria."""


class InconsistentVoterSetError(KafkaError, code=94, name="INCONSISTENT_VOTER_SET"):
    """The sender or the receiver of a voter-only request is not an expected voter."""


class InvalidUpdateVersionError(KafkaError, code=95, name="INVALID_UPDATE_VERSION"):
    """The update version is not valid."""


class FeatureUpdateFailedError(KafkaError, code=96, name="FEATURE_UPDATE_FAILED"):
    """The finalized features could not be updated because of an unexpected server error."""


class PrincipalDeserializationFailureError(KafkaError, code=97, name="PRINCIPAL_DESERIALIZATION_FAILURE"):
    """The principal of a forwarded request could not be deserialized."""


class SnapshotNotFoundError(KafkaError, code=98, name="SNAPSHOT_NOT_FOUND"):
    """The requested snapshot was not found."""


class PositionOutOfRangeError(KafkaError, code=99, name="POSITION_OUT_OF_RANGE"):
    """The requested snapshot position is negative or beyond the snapshot's size."""


class UnknownTopicIdError(InvalidMetadataError, code=100, name="UNKNOWN_TOPIC_ID"):
    """This server hosts no topic with this topic id."""


class DuplicateBrokerRegistrationError(KafkaError, code=101, name="DUPLICATE_BROKER_REGISTRATION"):
    """The broker id is already in use."""


class BrokerIdNotRegisteredError(KafkaError, code=102, name="BROKER_ID_NOT_REGISTERED"):
    """The broker id is not registered."""


class InconsistentTopicIdError(InvalidMetadataError, code=103, name="INCONSISTENT_TOPIC_ID"):
    """The topic id of the log does not match the topic id in the request."""


class InconsistentClusterIdError(KafkaError, code=104, name="INCONSISTENT_CLUSTER_ID"):
    """The cluster id in the request does not match the server's."""


class TransactionalIdNotFoundError(KafkaError, code=105, name="TRANSACTIONAL_ID_NOT_FOUND"):
    """The transactional id was not found."""


class FetchSessionTopicIdError(RetriableError, code=106, name="FETCH_SESSION_TOPIC_ID_ERROR"):
    """The fetch session used topic ids inconsistently."""


class IneligibleReplicaError(KafkaError, code=107, name="INELIGIBLE_REPLICA"):
    """The proposed ISR contains a replica that is not eligible."""


class NewLeaderElectedError(KafkaError, code=108, name="NEW_LEADER_ELECTED"):
    """The AlterPartition request was applied, but the partition has a new leader."""


class OffsetMovedToTieredStorageError(KafkaError, code=109, name="OFFSET_MOVED_TO_TIERED_STORAGE"):
    """The requested offset has moved to tiered storage."""


class FencedMemberEpochError(KafkaError, code=110, name="FENCED_MEMBER_EPOCH"):
    """The group coordinator fenced the member's epoch; it must give up its partitions and rejoin."""


class UnreleasedInstanceIdError(KafkaError, code=111, name="UNRELEASED_INSTANCE_ID"):
    """Another member of the group still uses this instance id; it must leave first."""


class UnsupportedAssignorError(KafkaError, code=112, name="UNSUPPORTED_ASSIGNOR"):
    """The group does not support the assignor or its version range."""


class StaleMemberEpochError(KafkaError, code=113, name="STALE_MEMBER_EPOCH"):
    """The member epoch is stale; retry with the epoch from the latest ConsumerGroupHeartbeat response."""


class MismatchedEndpointTypeError(KafkaError, code=114, name="MISMATCHED_ENDPOINT_TYPE"):
    """The request was sent to the wrong type of endpoint."""


class UnsupportedEndpointTypeError(KafkaError, code=115, name="UNSUPPORTED_ENDPOINT_TYPE"):
    """This endpoint type is not supported yet."""


class UnknownControllerIdError(KafkaError, code=116, name="UNKNOWN_CONTROLLER_ID"):
    """The controller id is not known."""


class UnknownSubscriptionIdError(KafkaError, code=117, name="UNKNOWN_SUBSCRIPTION_ID"):
    """The telemetry push used an invalid or outdated subscription id."""


class TelemetryTooLargeError(KafkaError, code=118, name="TELEMETRY_TOO_LARGE"):
    """The telemetry push exceeds the largest size the broker accepts."""


class InvalidRegistrationError(KafkaError, code=119, name="INVALID_REGISTRATION"):
    """The controller considers the broker registration invalid."""


class TransactionAbortableError(KafkaError, code=120, name="TRANSACTION_ABORTABLE"):
    """The transaction hit an error; abort it to keep using the transactional id."""


class InvalidRecordStateError(KafkaError, code=121, name="INVALID_RECORD_STATE"):
    """The record state is not valid; its delivery acknowledgement failed."""


class ShareSessionNotFoundError(RetriableError, code=122, name="SHARE_SESSION_NOT_FOUND"):
    """The share session was not found."""


class InvalidShareSessionEpochError(RetriableError, code=123, name="INVALID_SHARE_SESSION_EPOCH"):
    """The share session epoch is not valid."""


class FencedStateEpochError(KafkaError, code=124, name="FENCED_STATE_EPOCH"):
    """The share-group state epoch does not match; the share coordinator rejected the request."""


class InvalidVoterKeyError(KafkaError, code=125, name="INVALID_VOTER_KEY"):
    """The voter key does not match the receiving replica's key."""


class DuplicateVoterError(KafkaError, code=126, name="DUPLICATE_VOTER"):
    """The voter is already in the voter set."""


class VoterNotFoundError(KafkaError, code=127, name="VOTER_NOT_FOUND"):
    """The voter is not in the voter set."""


class InvalidRegularExpressionError(KafkaError, code=128, name="INVALID_REGULAR_EXPRESSION"):
    """The regular expression is not valid."""


class RebootstrapRequiredError(KafkaError, code=129, name="REBOOTSTRAP_REQUIRED"):
    """The client's metadata is stale; it must rebootstrap."""


class StreamsInvalidTopologyError(KafkaError, code=130, name="STREAMS_INVALID_TOPOLOGY"):
    """The topology is not valid."""


class StreamsInvalidTopologyEpochError(KafkaError, code=131, name="STREAMS_INVALID_TOPOLOGY_EPOCH"):
    """The topology epoch is not valid."""


class StreamsTopologyFencedError(KafkaError, code=132, name="STREAMS_TOPOLOGY_FENCED"):
    """The topology epoch is outdated."""


class ShareSessionLimitReachedError(RetriableError, code=133, name="SHARE_SESSION_LIMIT_REACHED"):
    """The share session limit has been reached."""


# --- client-side errors (never sent on the wire) -------------------------------------------------------------------


class KafkaTimeoutError(RequestTimedOutError):
    """A client-side timeout expired (delivery.timeout.ms, max.block.ms, or the call's own timeout)."""


class BufferExhaustedError(KafkaTimeoutError):
    """The producer's buffer.memory stayed full for max.block.ms."""


class CommitFailedError(KafkaError):
    """The offset commit cannot complete: the group rebalanced and the partitions now belong to another member."""

    error_name = "CommitFailedException"


class NoOffsetForPartitionError(InvalidOffsetError):
    """No committed offset for the partition and auto.offset.reset is none."""

    error_name = "NoOffsetForPartitionException"


class TransactionAbortedError(KafkaError):
    """The record's transaction was aborted before the record was sent (Kafka's TransactionAbortedException)."""

    error_name = "TransactionAbortedException"


_CLIENT_ERRORS: tuple[type[KafkaError], ...] = (CommitFailedError, NoOffsetForPartitionError, TransactionAbortedError)


def error_for_code(code: int) -> type[KafkaError]:
    """The error class for a Kafka error code; an unknown code gives UnknownServerError, as ``Errors.forCode`` does."""
    if code == 0:
        raise ValueError("error code 0 is NONE: the request succeeded, there is no error class for it")
    return _BY_CODE.get(code, UnknownServerError)


def error_for_name(name: str) -> type[KafkaError]:
    """The error class for a Kafka error name (``"NOT_ENOUGH_REPLICAS"``) or a client-side exception name."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    for cls in _CLIENT_ERRORS:
        if cls.error_name == name:
            return cls
    close = difflib.get_close_matches(name.upper(), list(_BY_NAME), n=3)
    hint = "; did you mean " + " or ".join(close) + "?" if close else ""
    raise ValueError(f"unknown Kafka error name {name!r}{hint}")


def describe() -> pd.DataFrame:
    """Kafka's error table as a DataFrame: code, name, class, retriable, invalid_metadata, message; by code."""
    import pandas as pd  # local: importing kafkalab.errors must stay cheap

    rows = [
        {"code": code, "name": cls.error_name, "class": cls.__name__, "retriable": cls.retriable,
         "invalid_metadata": cls.invalid_metadata, "message": cls.default_message}
        for code, cls in sorted(_BY_CODE.items())
    ]
    return pd.DataFrame(rows, columns=["code", "name", "class", "retriable", "invalid_metadata", "message"])


# --- kafkalab's own failures ----------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """Bad configuration: an unknown key, a bad value, or a key of another scope. The message says what is allowed."""

    def __init__(self, message: str, *, key: str | None = None, scope: str | None = None,
                 value: object = None) -> None:
        self.key = key
        self.scope = scope
        self.value = value
        super().__init__(message)


class InvariantViolation(AssertionError):
    """The simulation broke one of its own invariants: a bug in kafkalab (or in a model under test), never a Kafka error."""

    def __init__(self, message: str, *, seed: int | None = None, time_ms: float | None = None) -> None:
        self.message = message
        self.seed = seed
        self.time_ms = time_ms
        super().__init__(f"{message} (seed={seed}, t={time_ms} ms)")

    def __reduce__(self) -> tuple[Any, ...]:
        # Survives pickling (parallel sweeps): rebuild from the parts, not from the already-formatted text.
        return (_rebuild_invariant_violation, (type(self), self.message, self.seed, self.time_ms))


def _rebuild_invariant_violation(cls: type[InvariantViolation], message: str, seed: int | None,
                                 time_ms: float | None) -> InvariantViolation:
    return cls(message, seed=seed, time_ms=time_ms)


class SimulationError(RuntimeError):
    """The simulation cannot go on (for example an event handler raised).

    The seed, virtual time and event are attributes; the text is the message as given, because the kernel that raises
    it already writes them into the message (with how to replay).
    """

    def __init__(self, message: str, *, seed: int | None = None, time_ms: float | None = None,
                 event: str | None = None) -> None:
        self.message = message
        self.seed = seed
        self.time_ms = time_ms
        self.event = event
        super().__init__(message)

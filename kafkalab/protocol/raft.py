"""The KRaft RPCs (KIP-595, KIP-630, KIP-996) as frozen values, and what travels inside
them: the LeaderChange control record (Kafka's ``LeaderChangeMessage``) and snapshots.

Field names follow Kafka's request/response schemas (``VoteRequest.json``, ``FetchRequest.json``, ...) where they exist,
in snake case: ``replica_epoch`` (the candidate's epoch), ``last_offset_epoch``, ``fetch_offset``, ``last_fetched_epoch``,
``high_watermark``, ``diverging_epoch``, ``snapshot_id``. Errors are Kafka's error names as strings (``"NONE"``,
``"FENCED_LEADER_EPOCH"``, ...), values in responses as on the wire. ``correlation_id`` matches a response to its request.

Simplifications: one partition (``__cluster_metadata-0``), so the topic/partition envelope is gone; no directory ids,
listeners or endpoints (a node id is its address); a snapshot moves in one FetchSnapshot response rather than in
chunks (its bytes still cross the modelled link); DescribeQuorum is :meth:`kafkalab.raft.node.RaftNode.describe` instead of an RPC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafkalab.common.records import RecordBatch, value_size_bytes

__all__ = [
    "FENCED_LEADER_EPOCH", "NOT_LEADER_OR_FOLLOWER", "UNKNOWN_LEADER_EPOCH", "INCONSISTENT_VOTER_SET",
    "SNAPSHOT_NOT_FOUND", "OFFSET_OUT_OF_RANGE", "VoteRequest", "VoteResponse", "BeginQuorumEpochRequest",
    "BeginQuorumEpochResponse", "EndQuorumEpochRequest", "EndQuorumEpochResponse", "FetchRequest",
    "FetchResponse", "FetchSnapshotRequest", "FetchSnapshotResponse", "RaftMessage", "LeaderChange", "Snapshot",
    "Payload", "message_size_bytes",
]

FENCED_LEADER_EPOCH = "FENCED_LEADER_EPOCH"
NOT_LEADER_OR_FOLLOWER = "NOT_LEADER_OR_FOLLOWER"
UNKNOWN_LEADER_EPOCH = "UNKNOWN_LEADER_EPOCH"
INCONSISTENT_VOTER_SET = "INCONSISTENT_VOTER_SET"
SNAPSHOT_NOT_FOUND = "SNAPSHOT_NOT_FOUND"
OFFSET_OUT_OF_RANGE = "OFFSET_OUT_OF_RANGE"

#: Request/response header and fixed fields, roughly (what a small RPC costs on the modelled link).
_HEADER_BYTES = 64


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """Candidate (or, with ``pre_vote``, prospective candidate) asks for a vote in ``replica_epoch``."""

    replica_epoch: int
    candidate_id: int
    last_offset_epoch: int
    last_offset: int
    pre_vote: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class VoteResponse:
    """``leader_epoch``/``leader_id``: what the voter knows (None = no leader known)."""

    error: str
    leader_epoch: int
    leader_id: int | None
    vote_granted: bool
    pre_vote: bool = False
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class BeginQuorumEpochRequest:
    """A new leader announces itself; resent every fetch timeout / 2 until acknowledged."""

    leader_epoch: int
    leader_id: int


@dataclass(frozen=True, slots=True)
class BeginQuorumEpochResponse:
    error: str
    leader_epoch: int
    leader_id: int | None


@dataclass(frozen=True, slots=True)
class EndQuorumEpochRequest:
    """A resigning leader tells the voters; ``preferred_successors`` (most caught up first) skip the election wait."""

    leader_epoch: int
    leader_id: int
    preferred_successors: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class EndQuorumEpochResponse:
    error: str
    leader_epoch: int
    leader_id: int | None


# ---- replication --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Pull from the leader: also the follower's heartbeat and its report of its (flushed) log end."""

    replica_epoch: int
    replica_id: int
    fetch_offset: int
    last_fetched_epoch: int
    max_wait_ms: float
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """``diverging_epoch = (epoch, end_offset)``: truncate; ``snapshot_id = (end_offset, epoch)``: fetch a snapshot."""

    error: str
    leader_epoch: int
    leader_id: int | None
    high_watermark: int | None = None
    log_start_offset: int = 0
    batches: tuple[RecordBatch, ...] = ()
    diverging_epoch: tuple[int, int] | None = None
    snapshot_id: tuple[int, int] | None = None
    correlation_id: int = 0
    size_bytes: int = field(default=_HEADER_BYTES, compare=False)


@dataclass(frozen=True, slots=True)
class FetchSnapshotRequest:
    replica_epoch: int
    replica_id: int
    snapshot_id: tuple[int, int]
    correlation_id: int = 0


@dataclass(frozen=True, slots=True)
class FetchSnapshotResponse:
    error: str
    leader_epoch: int
    leader_id: int | None
    snapshot: Snapshot | None = None
    correlation_id: int = 0


RaftMessage = (VoteRequest | VoteResponse | BeginQuorumEpochRequest | BeginQuorumEpochResponse | EndQuorumEpochRequest
               | EndQuorumEpochResponse | FetchRequest | FetchResponse | FetchSnapshotRequest | FetchSnapshotResponse)


def message_size_bytes(msg: Any) -> int:
    """Bytes a message occupies on the modelled link: a fixed header plus record batches or snapshot data."""
    if type(msg) is FetchResponse:
        return msg.size_bytes
    if type(msg) is FetchSnapshotResponse and msg.snapshot is not None:
        return _HEADER_BYTES + msg.snapshot.size_bytes
    return _HEADER_BYTES


@dataclass(frozen=True, slots=True)
class LeaderChange:
    """The control record a new leader appends at the start of its epoch (Kafka's ``LeaderChangeMessage``)."""

    leader_id: int
    voters: tuple[int, ...]
    granting_voters: tuple[int, ...]

    def serialized_size(self) -> int:
        return 8 + 4 * (len(self.voters) + len(self.granting_voters))


@dataclass(frozen=True, slots=True)
class Payload:
    """A proposed value that is neither bytes nor sized: stored wrapped, with a size estimated from its ``repr``."""

    value: Any
    size_bytes: int

    def serialized_size(self) -> int:
        return self.size_bytes

    @staticmethod
    def wrap(value: Any) -> Any:
        if type(value) is bytes or callable(getattr(value, "serialized_size", None)):
            return value
        return Payload(value, len(repr(value).encode("utf-8")))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state-machine snapshot (KIP-630): the values that rebuild the state of every record committed below
    ``end_offset`` (the playground's state machine: the committed values themselves; the metadata log's: the records
    ``MetadataImage.write`` gives); ``epoch`` of the last contained record. ``last_contained_log_time_ms`` is what
    ``metadata.max.retention.ms`` ages a snapshot by (Kafka's ``lastContainedLogTimestamp``)."""

    end_offset: int
    epoch: int
    values: tuple[Any, ...]
    size_bytes: int = field(default=-1, compare=False)
    last_contained_log_time_ms: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        if self.size_bytes < 0:
            size = 0
            for value in self.values:
                wrapped = Payload.wrap(value)
                size += max(0, value_size_bytes(wrapped))
            object.__setattr__(self, "size_bytes", size)

    @property
    def snapshot_id(self) -> tuple[int, int]:
        """Kafka's ``OffsetAndEpoch`` naming of a snapshot: (end offset, epoch)."""
        return (self.end_offset, self.epoch)

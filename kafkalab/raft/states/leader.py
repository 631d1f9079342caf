"""The leader of an epoch (Kafka's ``LeaderState``, with the append path KafkaRaftClient runs through its
``BatchAccumulator``).

How it works. On entry the leader knows no replica's progress (:class:`ReplicaState` per voter, end offset unknown),
records its epoch start offset (its log end) and appends a LeaderChange control batch there, then sends
BeginQuorumEpoch to the other voters and resends it every ``begin_quorum_epoch_timeout_ms`` to those that have neither
answered nor fetched.

- Fetch: each Fetch records that the replica fetched and counts toward check quorum. A fetch from offset 0 while a
  snapshot exists, or from before the leader's oldest snapshot (an offset below the log start, or an epoch older
  than that snapshot's) is answered with the latest snapshot id (``validateOffsetAndEpoch``);
  one whose offset and epoch do not match the log with a DivergingEpoch (the largest epoch here not above the
  follower's, and where it ends); otherwise the fetch offset is that replica's end offset and the batches from it are
  returned. An idle fetch (nothing to read, high watermark already told) is parked up to its ``max_wait_ms`` and
  answered early when data is appended or the high watermark moves; a newer fetch from the same replica replaces it.
- High watermark: the ``voters // 2``-th largest voter end offset (the leader's own counts only once flushed), taken
  only above the epoch start offset, so the LeaderChange batch commits first, and never backwards. Each advance
  applies the newly committed values and completes the parked fetches.
- Check quorum: unless a majority (the leader included) fetched within ``check_quorum_timeout_ms`` the leader resigns.
- Appends: :meth:`LeaderState.propose` queues records; after ``append_linger_ms`` they are appended as batches of at
  most :data:`MAX_BATCH_SIZE_BYTES`.
- Resignation: the preferred successors are the other voters by descending end offset (ties by id).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkalab.common.records import Record, RecordBatch, value_size_bytes
from kafkalab.protocol import raft as m
from kafkalab.protocol.common import NONE
from kafkalab.raft.quorum import high_watermark_candidate, majority
from kafkalab.raft.state import Role
from kafkalab.raft.states.base import EpochState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["LeaderState", "ReplicaState", "MAX_BATCH_SIZE_BYTES"]

#: KafkaRaftClient.MAX_BATCH_SIZE_BYTES
MAX_BATCH_SIZE_BYTES = 8 * 1024 * 1024
#: Upper bound of a record's framing around its value (length, attributes, deltas, key, headers count).
_RECORD_OVERHEAD_BYTES = 24


def _value_size(value: Any) -> int:
    kind = type(value)
    if kind is bytes:
        return len(value)
    if kind is m.Payload:
        return int(value.size_bytes)
    return max(0, value_size_bytes(value))


@dataclass(slots=True)
class ReplicaState:
    """The leader's view of one replica (``LeaderState.ReplicaState``): end offset, last fetch, high watermark told."""

    end_offset: int | None = None
    last_fetch_ms: float | None = None
    hw_sent: int | None = None


class LeaderState(EpochState):
    """Replica progress, high watermark, parked fetches, BeginQuorumEpoch resends, check quorum and appends."""

    role = Role.LEADER

    __slots__ = ("replicas", "epoch_start_offset", "fetched_voters", "unacked", "parked", "pending", "pending_bytes",
                 "linger_armed")

    def __init__(self, node: RaftNode) -> None:
        super().__init__(node)
        self.replicas: dict[int, ReplicaState] = {}
        self.epoch_start_offset = 0
        #: voters that fetched since check quorum was last satisfied
        self.fetched_voters: dict[int, None] = {}
        #: voters that neither acknowledged BeginQuorumEpoch nor fetched
        self.unacked: dict[int, None] = {}
        self.parked: dict[int, m.FetchRequest] = {}
        self.pending: list[Record] = []
        self.pending_bytes = 0
        self.linger_armed = False

    def enter(self, now_ms: float, previous: Role | None) -> None:
        node = self.node
        voters = node.voters
        self.replicas = {v: ReplicaState() for v in voters}
        self.epoch_start_offset = node.log.log_end_offset
        # The candidate's tally is gone by now (the node closed that state first), so the record names the leader
        # alone as granting voter; Kafka lists every voter that granted.
        control = m.LeaderChange(node.node_id, voters, (node.node_id,))
        node.log.append_as_leader(RecordBatch((Record(None, control),), is_control=True), node.epoch, now_ms)
        node._request_flush()
        self.unacked = {v: None for v in voters if v != node.node_id}
        self.send_begin_quorum_epoch(now_ms)
        if node.config.check_quorum and len(voters) > 1:
            node.port.set_timer("check_quorum", now_ms + node.config.check_quorum_timeout_ms)

    def close(self) -> list[tuple[int, m.FetchRequest]]:
        parked = list(self.parked.items())
        cancel = self.node.port.cancel_timer
        for replica in self.parked:
            cancel(f"park:{replica}")
        self.parked = {}
        return parked

    # -- appends ----------------------------------------------------------------------------------------------------
    def propose(self, values: Sequence[Any], now_ms: float) -> int | None:
        node = self.node
        pending = self.pending
        offset = node.log.log_end_offset + len(pending)
        wrap = m.Payload.wrap
        size = 0
        for value in values:
            wrapped = wrap(value)
            pending.append(Record(None, wrapped))
            size += _value_size(wrapped)
        self.pending_bytes += size + _RECORD_OVERHEAD_BYTES * len(values)
        if not self.linger_armed:
            self.linger_armed = True
            node.port.set_timer("linger", now_ms + node.config.append_linger_ms)
        return offset

    def on_linger_timeout(self, now_ms: float) -> None:
        self.linger_armed = False
        pending, self.pending = self.pending, []
        total, self.pending_bytes = self.pending_bytes, 0
        if not pending:
            return
        node = self.node
        log, epoch = node.log, node.epoch
        if total <= MAX_BATCH_SIZE_BYTES:
            log.append_as_leader(RecordBatch(tuple(pending)), epoch, now_ms)
        else:
            chunk: list[Record] = []
            size = 0
            for record in pending:
                record_size = _value_size(record.value) + _RECORD_OVERHEAD_BYTES
                if chunk and size + record_size > MAX_BATCH_SIZE_BYTES:
                    log.append_as_leader(RecordBatch(tuple(chunk)), epoch, now_ms)
                    chunk, size = [], 0
                chunk.append(record)
                size += record_size
            log.append_as_leader(RecordBatch(tuple(chunk)), epoch, now_ms)
        node._request_flush()
        self.complete_parked(now_ms)

    # -- high watermark ---------------------------------------------------------------------------------------------
    def on_flushed(self, now_ms: float) -> None:
        """The leader's own end offset counts toward the high watermark only up to what is flushed."""
        node = self.node
        own = self.replicas.get(node.node_id)
        if own is None:
            return
        flushed = node.log.flushed_offset
        if own.end_offset is None or flushed > own.end_offset:
            own.end_offset = flushed
            self.maybe_advance_high_watermark(now_ms)

    def maybe_advance_high_watermark(self, now_ms: float) -> None:
        node = self.node
        replicas = self.replicas
        candidate = high_watermark_candidate([replicas[v].end_offset for v in node.voters])
        if candidate is None or candidate <= self.epoch_start_offset:
            return
        if node.high_watermark is not None and candidate <= node.high_watermark:
            return
        node.high_watermark = candidate
        node._apply()
        self.complete_parked(now_ms)

    # -- quorum -----------------------------------------------------------------------------------------------------
    def send_begin_quorum_epoch(self, now_ms: float) -> None:
        if not self.unacked:
            return
        node = self.node
        request = m.BeginQuorumEpochRequest(node.epoch, node.node_id)
        for voter in self.unacked:
            node._send(voter, request)
        node.port.set_timer("begin_quorum", now_ms + node.config.begin_quorum_epoch_timeout_ms)

    def on_begin_quorum_timeout(self, now_ms: float) -> None:
        self.send_begin_quorum_epoch(now_ms)

    def on_begin_quorum_epoch_response(self, src: int, resp: m.BeginQuorumEpochResponse) -> None:
        if resp.error == NONE and resp.leader_epoch == self.node.epoch:
            self.unacked.pop(src, None)

    def check_quorum_fetch(self, replica: int, now_ms: float) -> None:
        """A voter fetched: once a majority (the leader included) has, check quorum starts a new period."""
        node = self.node
        if replica == node.node_id or replica not in node.voters or not node.config.check_quorum:
            return
        self.fetched_voters[replica] = None
        if len(self.fetched_voters) >= majority(len(node.voters)) - 1:
            self.fetched_voters = {}
            node.port.set_timer("check_quorum", now_ms + node.config.check_quorum_timeout_ms)

    def on_check_quorum_timeout(self, now_ms: float) -> None:
        node = self.node
        if node.config.check_quorum and len(node.voters) > 1:
            node.resign(now_ms)

    def resign(self, now_ms: float) -> bool:
        node = self.node
        others = [v for v in node.voters if v != node.node_id]
        ends: dict[int, int] = {}
        for v in others:
            end = self.replicas[v].end_offset
            ends[v] = -1 if end is None else end
        successors = tuple(sorted(others, key=lambda v: (-ends[v], v)))
        node._transition(Role.RESIGNED, node.epoch, node.node_id, node.voted_id, now_ms,
                         resigned_successors=successors)
        return True

    # -- serving fetches --------------------------------------------------------------------------------------------
    def on_fetch(self, src: int, req: m.FetchRequest, now_ms: float) -> None:
        node = self.node
        replica = self.replicas.get(src)
        if replica is None:
            replica = self.replicas[src] = ReplicaState()
        replica.last_fetch_ms = now_ms
        if src in self.parked:
            # A newer fetch supersedes the parked one (the replica gave up on it).
            del self.parked[src]
            node.port.cancel_timer(f"park:{src}")
        if src in self.unacked:
            del self.unacked[src]
        self.check_quorum_fetch(src, now_ms)
        log = node.log
        offset, last_epoch = req.fetch_offset, req.last_fetched_epoch
        start = log.log_start_offset
        latest = node.snapshot
        earliest = node.earliest_snapshot
        # KafkaRaftClient.tryCompleteFetchRequest and ReplicatedLog.validateOffsetAndEpoch: an empty replica gets the
        # latest snapshot at once; so does one whose position lies before the oldest snapshot (below the log start,
        # at the log start with another epoch, or in an older epoch).
        if latest is not None and latest.end_offset > 0 and (offset == 0 or (
                not (start == 0 and offset == 0) and earliest is not None
                and (offset < start or (offset == start and last_epoch != earliest.epoch)
                     or last_epoch < earliest.epoch))):
            node._send(src, m.FetchResponse(NONE, node.epoch, node.node_id, node.high_watermark, start,
                                            snapshot_id=latest.snapshot_id, correlation_id=req.correlation_id))
            return
        if not (offset == start and (start == 0 or (earliest is not None and last_epoch == earliest.epoch))):
            end_epoch, end_offset = log.end_offset_for_epoch(last_epoch)
            if end_epoch != last_epoch or end_offset < offset:
                node._send(src, m.FetchResponse(NONE, node.epoch, node.node_id, node.high_watermark, start,
                                                diverging_epoch=(end_epoch, end_offset),
                                                correlation_id=req.correlation_id))
                return
        replica.end_offset = offset
        if src in node.voters:
            self.maybe_advance_high_watermark(now_ms)
        if (req.max_wait_ms > 0 and offset >= log.log_end_offset and replica.hw_sent == node.high_watermark):
            self.parked[src] = req
            node.port.set_timer(f"park:{src}", now_ms + req.max_wait_ms)
            return
        self.respond_fetch(src, req, now_ms)

    def respond_fetch(self, src: int, req: m.FetchRequest, now_ms: float) -> None:
        node = self.node
        log = node.log
        offset = req.fetch_offset
        if offset < log.log_start_offset or offset > log.log_end_offset:
            # The log moved under a parked fetch (a snapshot advanced the start): let the replica ask again.
            node._send(src, m.FetchResponse(NONE, node.epoch, node.node_id, node.high_watermark,
                                            log.log_start_offset, correlation_id=req.correlation_id))
            return
        batches = tuple(log.read(offset, node.config.fetch_max_bytes))
        size = 64
        for batch in batches:
            size += batch.size_bytes
        replica = self.replicas.get(src)
        if replica is not None:
            replica.hw_sent = node.high_watermark
        node._send(src, m.FetchResponse(NONE, node.epoch, node.node_id, node.high_watermark, log.log_start_offset,
                                        batches, correlation_id=req.correlation_id, size_bytes=size))

    def on_park_timeout(self, replica: int, now_ms: float) -> None:
        request = self.parked.pop(replica, None)
        if request is not None:
            self.respond_fetch(replica, request, now_ms)

    def complete_parked(self, now_ms: float) -> None:
        if not self.parked:
            return
        parked, self.parked = self.parked, {}
        for replica, request in parked.items():
            self.node.port.cancel_timer(f"park:{replica}")
            self.respond_fetch(replica, request, now_ms)

    def on_fetch_snapshot(self, src: int, req: m.FetchSnapshotRequest, now_ms: float) -> None:
        node = self.node
        self.check_quorum_fetch(src, now_ms)
        snap = node.snapshots.get(req.snapshot_id)
        if snap is None:
            node._send(src, m.FetchSnapshotResponse(m.SNAPSHOT_NOT_FOUND, node.epoch, node.node_id,
                                                    correlation_id=req.correlation_id))
            return
        node._send(src, m.FetchSnapshotResponse(NONE, node.epoch, node.node_id, snap, req.correlation_id))

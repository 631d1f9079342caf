"""A KRaft replica as a sans-I/O state machine (KIP-595 Raft with pull replication, KIP-630 snapshots, KIP-996 pre-vote).

How it works. A :class:`RaftNode` is driven by three inputs, each given the current virtual time: ``handle(src, msg,
now_ms)`` for a message, ``on_timer(name, now_ms)`` when a timer it asked for expires, and ``propose(values, now_ms)``.
Everything it does goes out through a :class:`RaftPort`: ``send``, ``set_timer``/``cancel_timer`` (deadlines by name;
re-setting one moves it), ``persist`` (a value file on the node's disk) and ``flush`` (fsync; the driver answers with
``on_flushed(now_ms)``). Randomness comes from the ``random.Random`` it is handed. It never imports the simulator.

The protocol follows Kafka's ``raft`` module. The node is the facade, as ``KafkaRaftClient`` with its ``QuorumState``
is; what each role keeps and does lives in one state object, ``node.state``, from :mod:`kafkalab.raft.states` (one
module per Kafka ``EpochState`` class: Unattached/Voted, Prospective, Candidate, Leader, Resigned, Follower):

- Roles are :class:`~kafkalab.raft.state.Role` values; every change goes through ``_transition``, checked against the
  table in :mod:`kafkalab.raft.state`: it closes the old state object, persists the quorum-state file if epoch, leader
  or vote changed, and enters a new state object. The epoch rule runs once, before role-specific handling
  (``_observe``, Kafka's ``maybeTransition``): a higher epoch in any message moves the node to Follower (leader known)
  or Unattached; only then does the current state get the input.
- Replication is pull-based (:mod:`~kafkalab.raft.states.leader`, :mod:`~kafkalab.raft.states.follower`,
  :mod:`~kafkalab.raft.states.fetching`). Followers and observers send ``Fetch(fetch_offset, last_fetched_epoch)``; the
  leader answers with batches, a DivergingEpoch (the follower truncates to ``min(own end of that epoch, leader's
  end)``), or a snapshot id (the follower then sends FetchSnapshot). An idle fetch is parked up to
  ``fetch_max_wait_ms`` and answered early when data is appended or the high watermark moves past what that replica
  was last told.
- The high watermark is the ``voters // 2``-th largest voter end offset, applied only above the leader's epoch start
  offset (the LeaderChange control record it appends on election must commit first) and never backwards. Followers
  take ``min(leader HW, own log end)`` from fetch responses. Committed values are applied in order to ``committed``.
- Elections (:mod:`~kafkalab.raft.states.unattached`, :mod:`~kafkalab.raft.states.prospective`,
  :mod:`~kafkalab.raft.states.candidate`, :mod:`~kafkalab.raft.states.resigned`): randomised election timeout
  (``base + random[0, base)``), fixed follower fetch timeout, binary exponential backoff after a lost election,
  BeginQuorumEpoch resent every fetch timeout / 2 until acknowledged, EndQuorumEpoch with preferred successors on
  resignation, check quorum (a leader without fetches from a majority for 1.5 x fetch timeout resigns), pre-vote
  through the Prospective role. The vote rule is each state's ``can_grant_vote`` (Kafka's ``canGrantVote``).
- Durability: the quorum-state file (epoch, leader, vote) is persisted on every change and no message leaves the node
  until that write is flushed, so a vote granted or cast survives a power loss. A follower fetches (reporting its log
  end to the leader) only once its log is flushed to that offset; the leader counts its own end offset only when
  flushed. Hence every entry below a high watermark is durable on a majority.

Deliberate simplifications: a fixed voter set (no KIP-853 reconfiguration); Vote requests are not resent within one
election (the election timeout retries), EndQuorumEpoch is sent once; FetchSnapshot moves the snapshot in one
response; the state machine is the list of committed values, and a snapshot is that list; proposals are appended
after ``append_linger_ms`` in batches of up to 8 MiB (Kafka's BatchAccumulator also drains a full batch early).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kafkalab.log.log_config import LogConfig
from kafkalab.log.partition_log import PartitionLog
from kafkalab.protocol import raft as m
from kafkalab.protocol.common import NONE
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.quorum import is_log_up_to_date
from kafkalab.raft.state import OBSERVER_ROLES, TRANSITIONS, ElectionState, IllegalTransition, Role
from kafkalab.raft.states.base import EpochState
from kafkalab.raft.states.candidate import CandidateState
from kafkalab.raft.states.follower import FollowerState
from kafkalab.raft.states.leader import MAX_BATCH_SIZE_BYTES, LeaderState
from kafkalab.raft.states.prospective import ProspectiveState
from kafkalab.raft.states.resigned import ResignedState
from kafkalab.raft.states.unattached import UnattachedState, VotedState

__all__ = ["RaftNode", "RaftPort", "QUORUM_STATE_KEY", "SNAPSHOT_KEY", "METADATA_LOG_NAME", "MAX_BATCH_SIZE_BYTES",
           "new_metadata_log"]

QUORUM_STATE_KEY = "quorum-state"
SNAPSHOT_KEY = "raft-snapshot"
METADATA_LOG_NAME = "__cluster_metadata-0"


def new_metadata_log() -> PartitionLog:
    """An empty metadata log whose batches may be as large as a KRaft batch."""
    return PartitionLog(LogConfig(max_message_bytes=MAX_BATCH_SIZE_BYTES + 1024), name=METADATA_LOG_NAME)


class RaftPort(Protocol):
    """What a node asks of its driver."""

    def send(self, dst: int, msg: Any) -> None: ...

    def set_timer(self, name: str, at_ms: float) -> None: ...

    def cancel_timer(self, name: str) -> None: ...

    def persist(self, key: str, value: Any) -> None: ...

    def flush(self) -> None: ...


def _unwrap(value: Any) -> Any:
    return value.value if type(value) is m.Payload else value


#: The state class of each role (Resigned is built with its preferred successors).
_STATE_CLASSES: dict[Role, type[EpochState]] = {
    Role.UNATTACHED: UnattachedState, Role.VOTED: VotedState, Role.PROSPECTIVE: ProspectiveState,
    Role.CANDIDATE: CandidateState, Role.LEADER: LeaderState, Role.FOLLOWER: FollowerState,
}
#: Every timer a role may set except the leader's ``park:<replica>``; leaving a role cancels them all.
_ROLE_TIMERS = ("election", "fetch", "request", "check_quorum", "begin_quorum", "linger")


class RaftNode:
    """One KRaft replica. ``voters`` is the static voter set; a node not in it is an observer."""

    def __init__(self, node_id: int, voters: Sequence[int], log: PartitionLog, port: RaftPort, rng: random.Random,
                 config: RaftConfig | None = None, *, election_state: ElectionState | None = None,
                 snapshot: m.Snapshot | None = None) -> None:
        if not isinstance(node_id, int) or isinstance(node_id, bool):
            raise TypeError(f"node_id must be an int, got {type(node_id).__name__} {node_id!r}")
        voter_ids = tuple(sorted(voters))
        if not voter_ids:
            raise ValueError("a KRaft quorum needs at least one voter")
        if len(set(voter_ids)) != len(voter_ids):
            raise ValueError(f"voter ids must be distinct, got {list(voters)}")
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        self.node_id = node_id
        self.voters = voter_ids
        self.is_voter = node_id in voter_ids
        self.config = config if config is not None else RaftConfig()
        self.log = log
        self.port = port
        self.rng = rng
        self._initial_state = election_state if election_state is not None else ElectionState(0)
        self._initial_snapshot = snapshot
        # election state (the quorum-state file)
        self.role = Role.UNATTACHED
        self.epoch = 0
        self.leader_id: int | None = None
        self.voted_id: int | None = None
        # replicated state machine
        self.high_watermark: int | None = None
        self.committed: list[Any] = []
        self.applied_offset = log.log_start_offset
        self.snapshot: m.Snapshot | None = None
        # what outlives one role's state: election correlation id, elections stood in a row, the election deadline an
        # Unattached state may keep, fetch correlation ids, the next voter an observer without a leader asks
        self._election_id = 0
        self._retries = 0
        self._election_deadline: float | None = None
        self._corr = 0
        self._discover_index = 0
        #: the current role's state (replaced on every transition)
        self.state: EpochState = UnattachedState(self)
        # durability
        self._state_version = 0
        self._durable_version = 0
        self._flush_inflight: int | None = None
        self._flush_wanted = False
        self._held: list[tuple[int, int, Any]] = []
        self._snapshot_pending: tuple[int, m.Snapshot] | None = None
        self._started = False
        self._handlers: dict[type, Callable[[int, Any, float], None]] = {
            m.VoteRequest: self._on_vote_request,
            m.VoteResponse: self._on_vote_response,
            m.BeginQuorumEpochRequest: self._on_begin_quorum_epoch,
            m.BeginQuorumEpochResponse: self._on_begin_quorum_epoch_response,
            m.EndQuorumEpochRequest: self._on_end_quorum_epoch,
            m.EndQuorumEpochResponse: self._on_end_quorum_epoch_response,
            m.FetchRequest: self._on_fetch,
            m.FetchResponse: self._on_fetch_response,
            m.FetchSnapshotRequest: self._on_fetch_snapshot,
            m.FetchSnapshotResponse: self._on_fetch_snapshot_response,
        }

    def __repr__(self) -> str:
        return (f"RaftNode({self.node_id}, {self.role.value}, epoch={self.epoch}, leader={self.leader_id}, "
                f"leo={self.log.log_end_offset}, hw={self.high_watermark})")

    # ================================================================================================================
    # inputs
    # ================================================================================================================
    def start(self, now_ms: float) -> None:
        """Recover from durable state (quorum-state, snapshot, log) and enter the initial role (QuorumState.initialize)."""
        if self._started:
            raise RuntimeError(f"node {self.node_id} is already started")
        self._started = True
        snap = self._initial_snapshot
        if snap is not None:
            self.snapshot = snap
            self.committed = list(snap.values)
            self.applied_offset = snap.end_offset
            self.high_watermark = snap.end_offset
            if self.log.log_start_offset < snap.end_offset:
                # The snapshot may still sit unflushed in the page cache: delete the log before it only once it is
                # durable, or a power loss would leave a log that starts after a snapshot that is gone.
                self._state_version += 1
                self._snapshot_pending = (self._state_version, snap)
                self._request_flush()
        else:
            self.applied_offset = self.log.log_start_offset
        state = self._initial_state
        self.epoch = state.epoch
        if state.leader_id == self.node_id and self.is_voter:
            self.role, self.leader_id, self.voted_id = Role.RESIGNED, self.node_id, state.voted_id
        elif state.leader_id is not None and state.leader_id != self.node_id:
            self.role, self.leader_id, self.voted_id = Role.FOLLOWER, state.leader_id, state.voted_id
        elif state.voted_id is not None and self.is_voter:
            self.role, self.voted_id = Role.VOTED, state.voted_id
        else:
            self.role = Role.UNATTACHED
        self._enter(now_ms, resigned_successors=())

    def handle(self, src: int, msg: Any, now_ms: float) -> None:
        """Process one message from ``src``."""
        handler = self._handlers.get(type(msg))
        if handler is None:
            raise TypeError(f"node {self.node_id} got a {type(msg).__name__} from {src}, which is not a KRaft message")
        handler(src, msg, now_ms)

    def on_timer(self, name: str, now_ms: float) -> None:
        """The timer ``name`` (set through the port) expired; the current state decides what it means."""
        state = self.state
        if name == "election":
            state.on_election_timeout(now_ms)
        elif name == "fetch":
            state.on_fetch_timeout(now_ms)
        elif name == "request":
            state.on_request_timeout(now_ms)
        elif name == "linger":
            state.on_linger_timeout(now_ms)
        elif name == "check_quorum":
            state.on_check_quorum_timeout(now_ms)
        elif name == "begin_quorum":
            state.on_begin_quorum_timeout(now_ms)
        elif name.startswith("park:"):
            state.on_park_timeout(int(name[5:]), now_ms)
        else:
            raise ValueError(f"node {self.node_id}: unknown timer {name!r}")

    def on_flushed(self, now_ms: float) -> None:
        """The fsync requested through ``port.flush()`` completed: what was written before it is durable."""
        version = self._flush_inflight
        self._flush_inflight = None
        if version is not None and version > self._durable_version:
            self._durable_version = version
        if self._held:
            ready = [h for h in self._held if h[0] <= self._durable_version]
            if ready:
                self._held = [h for h in self._held if h[0] > self._durable_version]
                for _, dst, msg in ready:
                    self.port.send(dst, msg)
        pending = self._snapshot_pending
        if pending is not None and pending[0] <= self._durable_version:
            self._snapshot_pending = None
            self._install_local_snapshot(pending[1])
        if self._flush_wanted:
            self._flush_wanted = False
            self._request_flush()
        self.state.on_flushed(now_ms)

    def propose(self, values: Sequence[Any], now_ms: float) -> int | None:
        """Append ``values`` (after the append linger) if this node leads; returns the offset of the first, else None."""
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"propose takes a sequence of values, got {type(values).__name__}; "
                            f"wrap a single value in a list")
        if not values:
            raise ValueError("propose needs at least one value")
        return self.state.propose(values, now_ms)

    def resign(self, now_ms: float) -> bool:
        """Leave leadership gracefully (EndQuorumEpoch with preferred successors); False if not the leader."""
        return self.state.resign(now_ms)

    def take_snapshot(self, now_ms: float) -> tuple[int, int] | None:
        """Snapshot the state machine at the applied offset (the high watermark); the log before it is deleted once
        the snapshot is durable. Returns the snapshot id ``(end_offset, epoch)``, or None if there is nothing new."""
        end = self.applied_offset
        latest = self.snapshot.end_offset if self.snapshot is not None else 0
        if self._snapshot_pending is not None:
            latest = max(latest, self._snapshot_pending[1].end_offset)
        if end <= latest:
            return None
        epoch = self.log.epoch_cache.epoch_for_offset(end - 1)
        if epoch is None:
            epoch = self.snapshot.epoch if self.snapshot is not None else 0
        snap = m.Snapshot(end, epoch, tuple(self.committed))
        self.port.persist(SNAPSHOT_KEY, snap)
        self._state_version += 1
        self._snapshot_pending = (self._state_version, snap)
        self._request_flush()
        return snap.snapshot_id

    # ================================================================================================================
    # queries
    # ================================================================================================================
    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    def last_fetched_epoch(self) -> int:
        """Epoch of the last record in the log (or of the snapshot when the log is empty)."""
        if self.log.log_end_offset > self.log.log_start_offset:
            latest = self.log.latest_epoch
            if latest is not None:
                return latest
        return self.snapshot.epoch if self.snapshot is not None else 0

    def describe(self) -> dict[str, Any]:
        return {"node": self.node_id, "role": self.role.value, "epoch": self.epoch, "leader": self.leader_id,
                "voted_for": self.voted_id, "log_start_offset": self.log.log_start_offset,
                "log_end_offset": self.log.log_end_offset, "high_watermark": self.high_watermark,
                "snapshot_id": self.snapshot.snapshot_id if self.snapshot is not None else None,
                "voter": self.is_voter}

    def replica_end_offsets(self) -> dict[int, int | None]:
        """The leader's view of every replica's end offset (empty unless leader)."""
        state = self.state
        return {r: s.end_offset for r, s in state.replicas.items()} if isinstance(state, LeaderState) else {}

    # ================================================================================================================
    # role changes
    # ================================================================================================================
    def _transition(self, to: Role, epoch: int, leader_id: int | None, voted_id: int | None, now_ms: float, *,
                    resigned_successors: tuple[int, ...] = ()) -> None:
        src = self.role
        if to not in TRANSITIONS[src]:
            raise IllegalTransition(f"node {self.node_id}: illegal transition {src.value} -> {to.value} "
                                    f"(epoch {self.epoch} -> {epoch})", from_role=src, to_role=to)
        if not self.is_voter and to not in OBSERVER_ROLES:
            raise IllegalTransition(f"node {self.node_id} is an observer and cannot become {to.value}",
                                    from_role=src, to_role=to)
        if epoch < self.epoch:
            raise IllegalTransition(f"node {self.node_id}: epoch may not go back ({self.epoch} -> {epoch}) in "
                                    f"{src.value} -> {to.value}", from_role=src, to_role=to)
        cancel = self.port.cancel_timer
        for name in _ROLE_TIMERS:
            cancel(name)
        parked = self.state.close()
        changed = (epoch, leader_id, voted_id) != (self.epoch, self.leader_id, self.voted_id)
        self.role, self.epoch, self.leader_id, self.voted_id = to, epoch, leader_id, voted_id
        if changed:
            self.port.persist(QUORUM_STATE_KEY, ElectionState(epoch, leader_id, voted_id))
            self._state_version += 1
            self._request_flush()
        for replica, request in parked:
            self._send(replica, self._fetch_error(request, m.NOT_LEADER_OR_FOLLOWER))
        self._enter(now_ms, resigned_successors=resigned_successors, previous=src)

    def _enter(self, now_ms: float, *, resigned_successors: tuple[int, ...], previous: Role | None = None) -> None:
        role = self.role
        if role is not Role.CANDIDATE and role is not Role.PROSPECTIVE:
            self._retries = 0
        if role is Role.RESIGNED:
            state: EpochState = ResignedState(self, resigned_successors)
        else:
            state = _STATE_CLASSES[role](self)
        self.state = state
        state.enter(now_ms, previous)

    def _observe(self, epoch: int, leader_id: int | None, now_ms: float) -> bool:
        """Kafka's ``maybeTransition``: the epoch rule, applied before any role-specific handling."""
        if epoch > self.epoch:
            if leader_id is not None and leader_id != self.node_id:
                self._transition(Role.FOLLOWER, epoch, leader_id, None, now_ms)
            else:
                self._transition(Role.UNATTACHED, epoch, None, None, now_ms)
            return True
        if (epoch == self.epoch and leader_id is not None and leader_id != self.node_id and self.leader_id is None
                and self.role in (Role.UNATTACHED, Role.VOTED, Role.PROSPECTIVE, Role.CANDIDATE)):
            self._transition(Role.FOLLOWER, epoch, leader_id, self.voted_id, now_ms)
            return True
        return False

    def _start_election(self, now_ms: float) -> None:
        """Prospective of this epoch with pre-vote (keeping a known leader to go back to), else Candidate of the next."""
        if self.config.pre_vote:
            leader = self.leader_id if self.role is Role.FOLLOWER else None
            self._transition(Role.PROSPECTIVE, self.epoch, leader, self.voted_id, now_ms)
        else:
            self._transition(Role.CANDIDATE, self.epoch + 1, None, self.node_id, now_ms)

    # ================================================================================================================
    # messages: the epoch rule here, the rest in the state
    # ================================================================================================================
    def _on_vote_request(self, src: int, req: m.VoteRequest, now_ms: float) -> None:
        if not self.is_voter:
            self._send(src, m.VoteResponse(m.INCONSISTENT_VOTER_SET, self.epoch, self.leader_id, False,
                                           req.pre_vote, req.correlation_id))
            return
        if req.replica_epoch < self.epoch:
            self._send(src, m.VoteResponse(m.FENCED_LEADER_EPOCH, self.epoch, self.leader_id, False, req.pre_vote,
                                           req.correlation_id))
            return
        if not req.pre_vote and req.replica_epoch > self.epoch:
            self._observe(req.replica_epoch, None, now_ms)
        up_to_date = is_log_up_to_date(req.last_offset_epoch, req.last_offset, self.last_fetched_epoch(),
                                       self.log.log_end_offset)
        granted = self.state.can_grant_vote(req.candidate_id, up_to_date, req.pre_vote)
        if granted and not req.pre_vote and self.role in (Role.UNATTACHED, Role.PROSPECTIVE):
            self._transition(Role.VOTED, self.epoch, None, req.candidate_id, now_ms)
        self._send(src, m.VoteResponse(NONE, self.epoch, self.leader_id, granted, req.pre_vote,
                                       req.correlation_id))

    def _on_vote_response(self, src: int, resp: m.VoteResponse, now_ms: float) -> None:
        if not self._observe(resp.leader_epoch, resp.leader_id, now_ms):
            self.state.on_vote_response(src, resp, now_ms)

    def _on_begin_quorum_epoch(self, src: int, req: m.BeginQuorumEpochRequest, now_ms: float) -> None:
        if req.leader_epoch < self.epoch:
            self._send(src, m.BeginQuorumEpochResponse(m.FENCED_LEADER_EPOCH, self.epoch, self._known_leader()))
            return
        self._observe(req.leader_epoch, req.leader_id, now_ms)
        self._send(src, m.BeginQuorumEpochResponse(NONE, self.epoch, self._known_leader()))

    def _on_begin_quorum_epoch_response(self, src: int, resp: m.BeginQuorumEpochResponse, now_ms: float) -> None:
        if not self._observe(resp.leader_epoch, resp.leader_id, now_ms):
            self.state.on_begin_quorum_epoch_response(src, resp)

    def _on_end_quorum_epoch(self, src: int, req: m.EndQuorumEpochRequest, now_ms: float) -> None:
        if req.leader_epoch < self.epoch:
            self._send(src, m.EndQuorumEpochResponse(m.FENCED_LEADER_EPOCH, self.epoch, self._known_leader()))
            return
        self._observe(req.leader_epoch, req.leader_id, now_ms)
        self.state.on_end_quorum_epoch(req, now_ms)
        self._send(src, m.EndQuorumEpochResponse(NONE, self.epoch, self._known_leader()))

    def _on_end_quorum_epoch_response(self, src: int, resp: m.EndQuorumEpochResponse, now_ms: float) -> None:
        self._observe(resp.leader_epoch, resp.leader_id, now_ms)

    def _on_fetch(self, src: int, req: m.FetchRequest, now_ms: float) -> None:
        error = self._leader_request_error(req.replica_epoch)
        if error is not None:
            self._send(src, self._fetch_error(req, error))
            return
        self.state.on_fetch(src, req, now_ms)

    def _on_fetch_response(self, src: int, resp: m.FetchResponse, now_ms: float) -> None:
        if not self._observe(resp.leader_epoch, resp.leader_id, now_ms):
            self.state.on_fetch_response(src, resp, now_ms)

    def _on_fetch_snapshot(self, src: int, req: m.FetchSnapshotRequest, now_ms: float) -> None:
        error = self._leader_request_error(req.replica_epoch)
        if error is not None:
            self._send(src, m.FetchSnapshotResponse(error, self.epoch, self._known_leader(),
                                                    correlation_id=req.correlation_id))
            return
        self.state.on_fetch_snapshot(src, req, now_ms)

    def _on_fetch_snapshot_response(self, src: int, resp: m.FetchSnapshotResponse, now_ms: float) -> None:
        if not self._observe(resp.leader_epoch, resp.leader_id, now_ms):
            self.state.on_fetch_snapshot_response(src, resp, now_ms)

    def _leader_request_error(self, epoch: int) -> str | None:
        """Why a request only the leader of ``epoch`` serves is refused here; None on that leader."""
        if self.role is not Role.LEADER:
            if epoch > self.epoch:
                return m.UNKNOWN_LEADER_EPOCH
            return m.FENCED_LEADER_EPOCH if epoch < self.epoch else m.NOT_LEADER_OR_FOLLOWER
        if epoch < self.epoch:
            return m.FENCED_LEADER_EPOCH
        if epoch > self.epoch:
            return m.UNKNOWN_LEADER_EPOCH
        return None

    def _known_leader(self) -> int | None:
        return None if self.role is Role.RESIGNED else self.leader_id

    def _fetch_error(self, req: m.FetchRequest, error: str) -> m.FetchResponse:
        return m.FetchResponse(error, self.epoch, self._known_leader(), correlation_id=req.correlation_id)

    # ================================================================================================================
    # state machine, snapshots, durability
    # ================================================================================================================
    def _apply(self) -> None:
        """Append the values below the high watermark not yet applied to ``committed`` (control batches skipped)."""
        hw = self.high_watermark
        if hw is None:
            return
        log = self.log
        committed = self.committed
        while self.applied_offset < hw:
            applied = self.applied_offset
            batches = log.read(applied, MAX_BATCH_SIZE_BYTES)
            if not batches:
                return
            for batch in batches:
                if batch.base_offset >= hw:
                    return
                if batch.is_control:
                    if batch.next_offset <= hw:
                        self.applied_offset = batch.next_offset
                        continue
                    return
                if batch.offset_deltas is None and batch.base_offset >= applied and batch.next_offset <= hw:
                    committed.extend([_unwrap(row[1]) for row in batch.rows])
                    self.applied_offset = batch.next_offset
                    continue
                for offset, row in zip(batch.offsets(), batch.rows, strict=True):
                    if offset < applied:
                        continue
                    if offset >= hw:
                        return
                    committed.append(_unwrap(row[1]))
                    self.applied_offset = offset + 1
                self.applied_offset = max(self.applied_offset, min(batch.next_offset, hw))

    def _load_snapshot(self, snap: m.Snapshot, now_ms: float) -> None:
        """A snapshot fetched from the leader replaces the log and the state machine if it is ahead of them."""
        if snap.end_offset > self.applied_offset:
            self.log.truncate_fully_and_start_at(snap.end_offset, now_ms)
            self.snapshot = snap
            self.port.persist(SNAPSHOT_KEY, snap)
            self._state_version += 1
            self._request_flush()
            self.committed = list(snap.values)
            self.applied_offset = snap.end_offset
            if self.high_watermark is None or snap.end_offset > self.high_watermark:
                self.high_watermark = snap.end_offset

    def _install_local_snapshot(self, snap: m.Snapshot) -> None:
        """``snap`` is durable: it becomes the node's snapshot and the log before it is deleted."""
        if self.snapshot is None or snap.end_offset >= self.snapshot.end_offset:
            self.snapshot = snap
        log = self.log
        if log.log_start_offset < snap.end_offset:
            if snap.end_offset <= log.log_end_offset:
                log.advance_log_start(snap.end_offset, high_watermark=snap.end_offset)
            else:
                log.truncate_fully_and_start_at(snap.end_offset)

    def _request_flush(self) -> None:
        if self._flush_inflight is not None:
            self._flush_wanted = True
            return
        self._flush_inflight = self._state_version
        self.port.flush()

    def _send(self, dst: int, msg: Any) -> None:
        if self._durable_version < self._state_version:
            self._held.append((self._state_version, dst, msg))
        else:
            self.port.send(dst, msg)

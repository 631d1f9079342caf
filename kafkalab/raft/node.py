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

- Snapshots (KIP-630, Kafka's ``KafkaMetadataLog`` snapshot handling): the state machine's owner writes one with
  :meth:`RaftNode.create_snapshot` (end offset at most the high watermark, epoch of the last contained record); it
  counts (is frozen) once fsynced. The node keeps every frozen snapshot (``snapshots``, oldest first, stored under
  :data:`SNAPSHOT_KEY` as one value). The log before a snapshot is deleted only by retention:
  :meth:`RaftNode.maybe_clean`, run on the first input after each ``log_clean_interval_ms`` (60 s), deletes the oldest
  snapshot and moves the log start to the next one while the log plus the snapshots exceed
  ``metadata.max.retention.bytes`` or the oldest snapshot is older than ``metadata.max.retention.ms``, never the
  latest. The leader answers a fetch from offset 0 (an empty replica) or from before its oldest snapshot with the
  latest snapshot id; the follower fetches it, fsyncs it, then truncates its log fully at the snapshot's end and
  takes the snapshot as its state. At startup, snapshots below the log start are dropped, a snapshot beyond the log
  replaces it, and the state machine starts from the latest snapshot (KafkaRaftClient loads the latest snapshot
  into a new listener).

Deliberate simplifications: a fixed voter set (no KIP-853 reconfiguration); Vote requests are not resent within one
election (the election timeout retries), EndQuorumEpoch is sent once; FetchSnapshot moves the snapshot in one
response; the playground's state machine is the list of committed values (``committed``), and
:meth:`RaftNode.take_snapshot` snapshots that list and deletes the log before it at once (``deleteBeforeSnapshot``);
the log start offset survives a power loss (Kafka checkpoints it lazily); proposals are appended
after ``append_linger_ms`` in batches of up to 8 MiB (Kafka's BatchAccumulator also drains a full batch early).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kafkalab.errors import InvariantViolation
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
           "new_metadata_log", "read_snapshots"]

QUORUM_STATE_KEY = "quorum-state"
SNAPSHOT_KEY = "raft-snapshot"
METADATA_LOG_NAME = "__cluster_metadata-0"


def new_metadata_log(segment_bytes: int = 1_073_741_824, segment_ms: int = 604_800_000) -> PartitionLog:
    """An empty metadata log whose batches may be as large as a KRaft batch (``metadata.log.segment.bytes`` and
    ``.ms`` roll its segments; time and size retention are off, as KafkaMetadataLog sets them: only snapshots
    move its start)."""
    config = LogConfig(max_message_bytes=MAX_BATCH_SIZE_BYTES + 1024, segment_bytes=segment_bytes,
                       segment_ms=segment_ms, retention_ms=-1, retention_bytes=-1)
    return PartitionLog(config, name=METADATA_LOG_NAME)


def read_snapshots(value: Any) -> tuple[m.Snapshot, ...]:
    """The snapshots stored under :data:`SNAPSHOT_KEY` (a tuple of snapshots, or one snapshot), oldest first."""
    if isinstance(value, m.Snapshot):
        return (value,)
    if isinstance(value, (tuple, list)):
        snaps = [s for s in value if isinstance(s, m.Snapshot)]
        return tuple(sorted(snaps, key=lambda s: s.snapshot_id))
    return ()


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
                 snapshot: m.Snapshot | Sequence[m.Snapshot] | None = None) -> None:
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
        self._initial_snapshots: tuple[m.Snapshot, ...] = read_snapshots(snapshot)
        # election state (the quorum-state file)
        self.role = Role.UNATTACHED
        self.epoch = 0
        self.leader_id: int | None = None
        self.voted_id: int | None = None
        # replicated state machine
        self.high_watermark: int | None = None
        self.committed: list[Any] = []
        self.applied_offset = log.log_start_offset
        #: frozen (durable) snapshots by id ``(end_offset, epoch)``, oldest first (KafkaMetadataLog's ``snapshots``)
        self.snapshots: dict[tuple[int, int], m.Snapshot] = {}
        #: snapshots written but not yet durable: (state version, snapshot, what to do once durable)
        self._snapshots_pending: list[tuple[int, m.Snapshot, str]] = []
        self._next_clean_ms: float | None = None
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
        self._recover_snapshots(now_ms)
        self._next_clean_ms = now_ms + self.config.log_clean_interval_ms
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
        self._maybe_clean(now_ms)

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
        self._maybe_clean(now_ms)

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
        if self._snapshots_pending and self._snapshots_pending[0][0] <= self._durable_version:
            durable = self._durable_version
            frozen = [p for p in self._snapshots_pending if p[0] <= durable]
            self._snapshots_pending = [p for p in self._snapshots_pending if p[0] > durable]
            for _, snap, action in frozen:
                self._on_snapshot_frozen(snap, action, now_ms)
        if self._flush_wanted:
            self._flush_wanted = False
            self._request_flush()
        self.state.on_flushed(now_ms)
        self._maybe_clean(now_ms)

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
        """The playground's snapshot: the committed values at the applied offset (the list *is* that state
        machine), after which the log before it is deleted once the snapshot is durable (``deleteBeforeSnapshot``,
        which Kafka's ``ReplicatedLog`` offers next to retention). Returns the snapshot id ``(end_offset, epoch)``,
        or None if there is nothing new."""
        end = self.applied_offset
        latest = self.latest_snapshot_id()
        if latest is not None and end <= latest[0]:
            return None
        return self.create_snapshot(end, self.committed, now_ms, delete_before=True)

    def create_snapshot(self, end_offset: int, values: Sequence[Any], now_ms: float, *,
                        last_contained_log_time_ms: float | None = None,
                        delete_before: bool = False) -> tuple[int, int] | None:
        """Write a snapshot of the state machine as of ``end_offset`` (Kafka's ``RaftClient.createSnapshot``):
        ``values`` must rebuild the state of every record below it. The epoch is that of the last contained record.
        The snapshot counts (is *frozen*) once it is durable; ``delete_before=True`` then also moves the log start
        to it. Returns the snapshot id, or None when ``end_offset`` is below the log start or that snapshot exists.

        Raises ValueError for an ``end_offset`` above the high watermark (only committed state is snapshotted).
        An empty snapshot (``end_offset`` 0) is never written: Kafka reserves id (0, 0) for the bootstrap checkpoint.
        """
        if isinstance(end_offset, bool) or not isinstance(end_offset, int):
            raise TypeError(f"end_offset must be an int, got {type(end_offset).__name__} {end_offset!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"values must be a sequence of state-machine values, got {type(values).__name__}")
        log = self.log
        if end_offset <= 0 or end_offset < log.log_start_offset:
            return None
        hw = self.high_watermark
        if hw is None or end_offset > hw:
            raise ValueError(f"node {self.node_id}: cannot create a snapshot with end offset {end_offset} greater "
                             f"than the high watermark {hw}")
        epoch = self._epoch_at(end_offset)
        snapshot_id = (end_offset, epoch)
        if snapshot_id in self.snapshots or any(p[1].snapshot_id == snapshot_id for p in self._snapshots_pending):
            return None
        when = now_ms if last_contained_log_time_ms is None else last_contained_log_time_ms
        snap = m.Snapshot(end_offset, epoch, tuple(values), last_contained_log_time_ms=when)
        self._write_snapshot(snap, "delete-before" if delete_before else "keep")
        return snapshot_id

    def delete_before_snapshot(self, snapshot_id: tuple[int, int]) -> bool:
        """Move the log start to a frozen snapshot and forget the snapshots before it (Kafka's
        ``deleteBeforeSnapshot``): only if that snapshot exists, lies above the log start and not past the latest
        snapshot, and the log holds it. Whole segments below the new log start are deleted. Returns whether
        anything changed."""
        latest = self.latest_snapshot_id()
        log = self.log
        offset = snapshot_id[0]
        if (latest is None or snapshot_id not in self.snapshots or offset <= log.log_start_offset
                or offset > latest[0] or offset > log.log_end_offset):
            return False
        hw = self.high_watermark
        log.advance_log_start(offset, high_watermark=max(offset, hw if hw is not None else offset))
        self._forget_snapshots_before(offset)
        return True

    def maybe_clean(self, now_ms: float) -> bool:
        """Delete old snapshots and the log before the next one while ``metadata.max.retention.bytes`` (the log
        plus every snapshot) or ``metadata.max.retention.ms`` (the oldest snapshot's age) is exceeded; the latest
        snapshot always stays (KafkaMetadataLog.maybeClean). Returns whether anything was deleted."""
        cleaned = False
        config = self.config
        if config.metadata_max_retention_bytes >= 0:
            total = [sum(s.size_bytes for s in self.snapshots.values())]
            limit = config.metadata_max_retention_bytes

            def over_size(snap: m.Snapshot) -> bool:
                if self.log.size_bytes + total[0] > limit:
                    total[0] -= snap.size_bytes
                    return True
                return False
            cleaned |= self._clean_snapshots(over_size)
        if config.metadata_max_retention_ms >= 0:
            def too_old(snap: m.Snapshot) -> bool:
                return now_ms - snap.last_contained_log_time_ms > config.metadata_max_retention_ms
            cleaned |= self._clean_snapshots(too_old)
        return cleaned

    def _clean_snapshots(self, should_delete: Callable[[m.Snapshot], bool]) -> bool:
        """Kafka's ``cleanSnapshots``: walk adjacent pairs oldest first; while the older one should go, delete
        everything before the newer one."""
        if len(self.snapshots) < 2:
            return False
        cleaned = False
        ids = list(self.snapshots)
        for older, newer in zip(ids, ids[1:], strict=False):
            snap = self.snapshots.get(older)
            if snap is None or not should_delete(snap):
                return cleaned
            if not self.delete_before_snapshot(newer):
                return cleaned
            cleaned = True
        return cleaned

    # ================================================================================================================
    # queries
    # ================================================================================================================
    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def snapshot(self) -> m.Snapshot | None:
        """The latest frozen snapshot (None before any)."""
        snaps = self.snapshots
        return snaps[next(reversed(snaps))] if snaps else None

    @property
    def earliest_snapshot(self) -> m.Snapshot | None:
        """The oldest frozen snapshot: once the log start moved, the one that ends exactly there."""
        snaps = self.snapshots
        return snaps[next(iter(snaps))] if snaps else None

    def latest_snapshot_id(self) -> tuple[int, int] | None:
        """The id of the latest snapshot, pending ones included."""
        best = next(reversed(self.snapshots)) if self.snapshots else None
        for _, snap, _ in self._snapshots_pending:
            if best is None or snap.snapshot_id > best:
                best = snap.snapshot_id
        return best

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
                "snapshot_count": len(self.snapshots), "voter": self.is_voter}

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

    def _load_snapshot(self, snap: m.Snapshot, now_ms: float) -> bool:
        """A snapshot fetched from the leader: written and fsynced first (Kafka freezes the downloaded file before it
        truncates), then it replaces the log and the state machine if it is ahead of them. True while it waits for
        the fsync (the fetch loop resumes after it)."""
        if snap.end_offset <= self.applied_offset:
            return False
        self._write_snapshot(snap, "fetched")
        return True

    def _write_snapshot(self, snap: m.Snapshot, action: str) -> None:
        self._snapshots_pending.append((self._state_version + 1, snap, action))
        self._persist_snapshots()
        self._state_version += 1
        self._request_flush()

    def _persist_snapshots(self) -> None:
        """The snapshot files of the log directory, as one value: every frozen and pending snapshot, by id."""
        every = dict(self.snapshots)
        for _, snap, _ in self._snapshots_pending:
            every[snap.snapshot_id] = snap
        self.port.persist(SNAPSHOT_KEY, tuple(every[k] for k in sorted(every)))

    def _on_snapshot_frozen(self, snap: m.Snapshot, action: str, now_ms: float) -> None:
        """``snap`` is durable: it joins the node's snapshots; a fetched one then replaces log and state."""
        if snap.end_offset < self.log.log_start_offset:
            return
        self._add_snapshot(snap)
        if action == "delete-before":
            self.delete_before_snapshot(snap.snapshot_id)
        elif action == "fetched" and snap.end_offset > self.applied_offset:
            self._truncate_to_snapshot(snap, now_ms)

    def _add_snapshot(self, snap: m.Snapshot) -> None:
        snaps = self.snapshots
        if snap.snapshot_id in snaps:
            return
        snaps[snap.snapshot_id] = snap
        ids = list(snaps)
        if len(ids) > 1 and ids[-2] > ids[-1]:
            self.snapshots = {k: snaps[k] for k in sorted(ids)}

    def _truncate_to_snapshot(self, snap: m.Snapshot, now_ms: float) -> None:
        """Kafka's ``truncateToLatestSnapshot``: the log restarts empty at the snapshot, older snapshots are
        forgotten, the state machine is the snapshot's."""
        self.log.truncate_fully_and_start_at(snap.end_offset, now_ms)
        self._forget_snapshots_before(snap.end_offset)
        self.committed = list(snap.values)
        self.applied_offset = snap.end_offset
        if self.high_watermark is None or snap.end_offset > self.high_watermark:
            self.high_watermark = snap.end_offset

    def _forget_snapshots_before(self, offset: int) -> None:
        old = [k for k in self.snapshots if k[0] < offset]
        if old:
            for k in old:
                del self.snapshots[k]
            self._persist_snapshots()

    def _recover_snapshots(self, now_ms: float) -> None:
        """Startup (KafkaMetadataLog.recoverSnapshots, then truncateToLatestSnapshot and the listener's load of
        the latest snapshot): snapshots below the log start are dropped; a snapshot beyond the log replaces it; the
        state machine starts from the latest snapshot and the log after it."""
        log = self.log
        for snap in self._initial_snapshots:
            if snap.end_offset >= log.log_start_offset:
                self._add_snapshot(snap)
        latest = self.snapshot
        if log.log_start_offset > 0 and (latest is None or latest.end_offset < log.log_start_offset):
            raise InvariantViolation(f"node {self.node_id}: inconsistent snapshot state: the log starts at "
                                     f"{log.log_start_offset} but the latest snapshot is "
                                     f"{None if latest is None else latest.snapshot_id}", time_ms=now_ms)
        if latest is None:
            self.applied_offset = log.log_start_offset
            return
        log_epoch = log.latest_epoch if log.log_end_offset > log.log_start_offset else None
        log_epoch = 0 if log_epoch is None else log_epoch
        if latest.epoch > log_epoch or (latest.epoch == log_epoch and latest.end_offset > log.log_end_offset):
            self._truncate_to_snapshot(latest, now_ms)
            return
        self.committed = list(latest.values)
        self.applied_offset = latest.end_offset
        self.high_watermark = latest.end_offset

    def _epoch_at(self, end_offset: int) -> int:
        """The epoch of the record before ``end_offset`` (of the snapshot ending there if the log starts there)."""
        if end_offset > self.log.log_start_offset:
            epoch = self.log.epoch_cache.epoch_for_offset(end_offset - 1)
            if epoch is not None:
                return epoch
        for snap_id in self.snapshots:
            if snap_id[0] == end_offset:
                return snap_id[1]
        return 0

    def _maybe_clean(self, now_ms: float) -> None:
        """The log cleaner runs on the first input after its interval passed (KafkaRaftClient.poll calls it)."""
        due = self._next_clean_ms
        if due is not None and now_ms >= due:
            self._next_clean_ms = now_ms + self.config.log_clean_interval_ms
            self.maybe_clean(now_ms)

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

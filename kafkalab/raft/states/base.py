"""What a KRaft replica keeps for one role in one epoch, and what each input does there (Kafka's ``EpochState``).

How it works. A :class:`~kafkalab.raft.node.RaftNode` holds exactly one :class:`EpochState`, ``node.state``; ``start``
builds the first from the durable quorum state. Every role change goes through the node's ``_transition``, which
closes the current state and builds a fresh one for the new role (as Kafka's ``QuorumState`` replaces its
``EpochState``), so every field of a state starts anew on every transition, even Follower -> Follower. The node
applies the epoch rule first and then calls one hook of the current state; a hook ignores its input unless the role
overrides it.

What outlives one state stays on the node: the quorum-state file (epoch, leader, vote), the high watermark and the
applied state machine, durability (held messages, flushes), and the election bookkeeping that carries over from one
state to the next (the retry count, the election correlation id, the election deadline an Unattached state may keep,
the fetch correlation counter). States use the node's underscored services (``_send``, ``_request_flush``,
``_transition``, ``_apply``, ...) directly: they are part of the node's implementation, not callers of a public API.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kafkalab.protocol import raft as m
from kafkalab.raft.state import Role

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from kafkalab.raft.node import RaftNode

__all__ = ["EpochState"]


class EpochState:
    """The base of every role's state: hooks that ignore their input, and the shared election timer."""

    #: The role this class implements (``node.role`` while it is the node's state).
    role: ClassVar[Role]

    __slots__ = ("node",)

    def __init__(self, node: RaftNode) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"{type(self).__name__}(node={self.node.node_id}, epoch={self.node.epoch})"

    # -- lifecycle --------------------------------------------------------------------------------------------------
    def enter(self, now_ms: float, previous: Role | None) -> None:
        """The node just became this role (``previous`` is None when it starts from its durable state)."""

    def close(self) -> list[tuple[int, m.FetchRequest]]:
        """The node leaves this role; returns the parked fetches the node must refuse once its new state is durable."""
        return []

    # -- inputs -----------------------------------------------------------------------------------------------------
    def can_grant_vote(self, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
        """Kafka's ``EpochState.canGrantVote``: may this role vote (or pre-vote) for ``candidate``?"""
        return False

    def propose(self, values: Sequence[Any], now_ms: float) -> int | None:
        """Queue ``values`` for appending; the offset of the first, or None unless leading."""
        return None

    def resign(self, now_ms: float) -> bool:
        """Resign leadership; False unless leading."""
        return False

    def on_flushed(self, now_ms: float) -> None:
        """An fsync completed (after the node released what it held back)."""

    def on_election_timeout(self, now_ms: float) -> None:
        pass

    def on_fetch_timeout(self, now_ms: float) -> None:
        pass

    def on_request_timeout(self, now_ms: float) -> None:
        pass

    def on_linger_timeout(self, now_ms: float) -> None:
        pass

    def on_check_quorum_timeout(self, now_ms: float) -> None:
        pass

    def on_begin_quorum_timeout(self, now_ms: float) -> None:
        pass

    def on_park_timeout(self, replica: int, now_ms: float) -> None:
        pass

    # -- messages, after the epoch rule ----------------------------------------------------------------------------
    def on_vote_response(self, src: int, resp: m.VoteResponse, now_ms: float) -> None:
        pass

    def on_begin_quorum_epoch_response(self, src: int, resp: m.BeginQuorumEpochResponse) -> None:
        pass

    def on_end_quorum_epoch(self, req: m.EndQuorumEpochRequest, now_ms: float) -> None:
        """An EndQuorumEpoch of the current epoch arrived (the node answers it after this hook)."""

    def on_fetch(self, src: int, req: m.FetchRequest, now_ms: float) -> None:
        """A Fetch of this epoch; the node calls it only on the leader (it refuses the request otherwise)."""

    def on_fetch_snapshot(self, src: int, req: m.FetchSnapshotRequest, now_ms: float) -> None:
        """A FetchSnapshot of this epoch; like :meth:`on_fetch`, only the leader gets it."""

    def on_fetch_response(self, src: int, resp: m.FetchResponse, now_ms: float) -> None:
        pass

    def on_fetch_snapshot_response(self, src: int, resp: m.FetchSnapshotResponse, now_ms: float) -> None:
        pass

    # -- shared by the roles that wait for an election ------------------------------------------------------------
    def set_election_timer(self, now_ms: float) -> None:
        """Arm the randomised election timeout (``base + random[0, base)``, or ``base + random * jitter``)."""
        node = self.node
        base = node.config.election_timeout_ms
        jitter = node.config.election_jitter_ms
        if jitter is None:
            timeout = base + (node.rng.randrange(int(base)) if int(base) > 0 else 0)
        else:
            timeout = base + node.rng.random() * jitter
        node._election_deadline = now_ms + timeout
        node.port.set_timer("election", node._election_deadline)

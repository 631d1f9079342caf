"""The roles of a KRaft replica and the legal moves between them, as data (Kafka's ``QuorumState`` and ``EpochState``).

Each role documents its ``action:`` and ``transition:`` lines; :data:`TRANSITIONS` is the table the node's single
``_transition`` checks, so an illegal move raises :class:`IllegalTransition` and changes nothing. Observers (non-voters)
may only be Unattached or Follower (:data:`OBSERVER_ROLES`). :func:`transition_diagram` renders the table (Graphviz
dot), so a drawing cannot drift from the code.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["ElectionState", "Role", "TRANSITIONS", "OBSERVER_ROLES", "IllegalTransition", "transition_diagram"]


class Role(enum.Enum):
    """A replica's role in its current epoch. ``value`` is the name ``RaftCluster.role`` reports."""

    #: action: knows the epoch, no leader, has not voted; a voter waits one randomised election timeout.
    #: transition: Voted (grants a vote), Prospective/Candidate (election timeout), Follower (learns the leader),
    #: Unattached (higher epoch).
    UNATTACHED = "unattached"
    #: action: voted for a candidate in this epoch (durably) and waits for a leader.
    #: transition: Follower, Prospective/Candidate (election timeout), Unattached (higher epoch).
    VOTED = "voted"
    #: action (KIP-996): asks for pre-votes for epoch + 1 without bumping its epoch.
    #: transition: Candidate (majority granted), Follower/Unattached (majority rejected or election timeout),
    #: Voted (grants a vote in its epoch).
    PROSPECTIVE = "prospective"
    #: action: bumped the epoch, voted for itself, asks for votes; backs off after a lost election.
    #: transition: Leader (majority), Candidate/Prospective (after backoff), Follower/Unattached (higher epoch or leader).
    CANDIDATE = "candidate"
    #: action: appends, serves Fetch, computes the high watermark; resigns when it loses the quorum (check quorum).
    #: transition: Resigned, Follower/Unattached (higher epoch).
    LEADER = "leader"
    #: action: a former leader of this epoch that sent EndQuorumEpoch; waits an election timeout.
    #: transition: Prospective/Candidate, Follower/Unattached (higher epoch).
    RESIGNED = "resigned"
    #: action: fetches from the leader; the fetch timeout without a successful fetch starts an election.
    #: transition: Prospective/Candidate (fetch timeout), Follower/Unattached (higher epoch).
    FOLLOWER = "follower"


TRANSITIONS: dict[Role, frozenset[Role]] = {
    Role.UNATTACHED: frozenset({Role.UNATTACHED, Role.VOTED, Role.PROSPECTIVE, Role.CANDIDATE, Role.FOLLOWER}),
    Role.VOTED: frozenset({Role.UNATTACHED, Role.PROSPECTIVE, Role.CANDIDATE, Role.FOLLOWER}),
    Role.PROSPECTIVE: frozenset({Role.UNATTACHED, Role.VOTED, Role.CANDIDATE, Role.FOLLOWER}),
    Role.CANDIDATE: frozenset({Role.UNATTACHED, Role.PROSPECTIVE, Role.CANDIDATE, Role.FOLLOWER, Role.LEADER}),
    Role.LEADER: frozenset({Role.UNATTACHED, Role.FOLLOWER, Role.RESIGNED}),
    Role.RESIGNED: frozenset({Role.UNATTACHED, Role.PROSPECTIVE, Role.CANDIDATE, Role.FOLLOWER}),
    Role.FOLLOWER: frozenset({Role.UNATTACHED, Role.FOLLOWER, Role.PROSPECTIVE, Role.CANDIDATE}),
}

#: Roles an observer (a replica that is not a voter) may hold.
OBSERVER_ROLES: frozenset[Role] = frozenset({Role.UNATTACHED, Role.FOLLOWER})


class IllegalTransition(RuntimeError):
    """A role change the table does not allow (a bug in the node, never a network event)."""

    def __init__(self, message: str, *, from_role: Role, to_role: Role) -> None:
        super().__init__(message)
        self.from_role = from_role
        self.to_role = to_role


def transition_diagram() -> str:
    """The transition table as Graphviz dot source."""
    lines = ["digraph kraft {", "  rankdir=LR;"]
    for src in Role:
        for dst in sorted(TRANSITIONS[src], key=lambda r: r.value):
            lines.append(f'  "{src.value}" -> "{dst.value}";')
    lines.append("}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ElectionState:
    """The quorum-state file (Kafka's ``ElectionState``/``quorum-state``): epoch, known leader, vote cast."""

    epoch: int
    leader_id: int | None = None
    voted_id: int | None = None

"""A replica that knows its epoch but no leader: Unattached, or Voted once it granted its vote in this epoch (Kafka's
``UnattachedState``, which holds the optional voted key that kafkalab models as the separate Voted role).

How it works. An Unattached or Voted voter waits one randomised election timeout and then starts an election
(Prospective with pre-vote, else Candidate). Entering Unattached from a role that was itself waiting for an election
(Unattached, Voted, Prospective, Candidate) keeps the remaining election time instead of drawing a new one, as
``QuorumState.transitionToUnattached`` does: a disruptive candidate bumping the epoch again and again must not postpone
everyone else's election. An Unattached observer has no election timer; it runs the fetch loop
(:mod:`~kafkalab.raft.states.fetching`) against the voters in turn until an answer names the leader.

A fresh quorum starts here: every voter is Unattached in epoch 0 with a timer of ``base + random[0, base)``
(``QuorumState.initialize`` with ``randomElectionTimeoutMs``, 1000..2000 ms by default), so the first voter to expire
is normally elected before any other expires, as in Kafka (measured over seeds 0..199: 199/200 three-voter and
197/200 five-voter RaftCluster boots, and 200/200 ``kl.Cluster`` boots, elect in epoch 1 with one candidacy; see
``tests/raft/test_first_election.py``). The first round after a leader crash does split, in Kafka too: followers
campaign after the fixed fetch timeout, counted from fetch answers the leader sent them together.

The vote rule (``canGrantVote``): a pre-vote is granted to any candidate whose log is at least as up to date; a real
vote only once per epoch (Voted grants again only to the same candidate), and not after the leader of the epoch is
known. Granting a real vote moves Unattached to Voted (the node does that, persisting the vote first).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.protocol import raft as m
from kafkalab.raft.state import Role
from kafkalab.raft.states.base import EpochState
from kafkalab.raft.states.fetching import FetchingState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["UnattachedState", "VotedState", "KEEPS_ELECTION_TIMER", "grant_without_leader"]

#: Roles whose remaining election time carries over into Unattached of a higher epoch.
KEEPS_ELECTION_TIMER = frozenset({Role.UNATTACHED, Role.VOTED, Role.CANDIDATE, Role.PROSPECTIVE})


def grant_without_leader(node: RaftNode, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
    """The vote rule Unattached and Prospective share (Kafka's ``QuorumState.unattachedOrProspectiveCanGrantVote``)."""
    if pre_vote:
        return up_to_date
    if node.voted_id is not None:
        return node.voted_id == candidate
    if node.leader_id is not None:
        return False
    return up_to_date


class UnattachedState(FetchingState):
    """Election timer of a voter, or leader discovery of an observer."""

    role = Role.UNATTACHED

    __slots__ = ()

    def enter(self, now_ms: float, previous: Role | None) -> None:
        node = self.node
        if node.is_voter:
            deadline = node._election_deadline
            if previous in KEEPS_ELECTION_TIMER and deadline is not None:
                node.port.set_timer("election", max(deadline, now_ms))
            else:
                self.set_election_timer(now_ms)
        else:
            self.maybe_fetch(now_ms)

    def can_grant_vote(self, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
        return grant_without_leader(self.node, candidate, up_to_date, pre_vote)

    def on_election_timeout(self, now_ms: float) -> None:
        if self.node.is_voter:
            self.node._start_election(now_ms)

    def on_fetch_response(self, src: int, resp: m.FetchResponse, now_ms: float) -> None:
        # The answer named no leader (else the epoch rule would have made this replica a Follower): ask again later.
        if resp.correlation_id == self.fetch_corr and self.fetch_corr is not None:
            self.retry_fetch_later(now_ms)


class VotedState(EpochState):
    """A voter that granted its vote in this epoch waits an election timeout for the leader."""

    role = Role.VOTED

    __slots__ = ()

    def enter(self, now_ms: float, previous: Role | None) -> None:
        self.set_election_timer(now_ms)

    def can_grant_vote(self, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
        return up_to_date if pre_vote else self.node.voted_id == candidate

    def on_election_timeout(self, now_ms: float) -> None:
        if self.node.is_voter:
            self.node._start_election(now_ms)

"""A voter asking for pre-votes before it disturbs anyone (KIP-996; Kafka's ``ProspectiveState``).

How it works. A voter whose election timeout (or, as a follower, fetch timeout) expired asks the other voters
whether they would vote for it in ``epoch + 1``, without bumping its epoch or voting (see
:mod:`~kafkalab.raft.states.nominee` for the tally). Won: it becomes Candidate of ``epoch + 1``. Lost, or its election
timeout expired first: it goes back to what it was in this epoch, Follower of the leader it knew, Voted if it had
voted, else Unattached. It grants votes as Unattached does (an Unattached replica moves to Voted when it grants a real
vote, and so does a Prospective one).
"""
from __future__ import annotations

from kafkalab.raft.state import Role
from kafkalab.raft.states.nominee import NomineeState
from kafkalab.raft.states.unattached import grant_without_leader

__all__ = ["ProspectiveState"]


class ProspectiveState(NomineeState):
    """Pre-vote election; on losing, back to Follower, Voted or Unattached of the same epoch."""

    role = Role.PROSPECTIVE
    pre_vote = True

    __slots__ = ()

    def can_grant_vote(self, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
        return grant_without_leader(self.node, candidate, up_to_date, pre_vote)

    def on_won(self, now_ms: float) -> None:
        node = self.node
        node._transition(Role.CANDIDATE, node.epoch + 1, None, node.node_id, now_ms)

    def on_lost(self, now_ms: float) -> None:
        self.fall_back(now_ms)

    def on_election_timeout(self, now_ms: float) -> None:
        self.fall_back(now_ms)

    def fall_back(self, now_ms: float) -> None:
        """The pre-vote failed: back to the role this replica had in its epoch."""
        node = self.node
        if node.leader_id is not None:
            node._transition(Role.FOLLOWER, node.epoch, node.leader_id, node.voted_id, now_ms)
        elif node.voted_id is not None:
            node._transition(Role.VOTED, node.epoch, None, node.voted_id, now_ms)
        else:
            node._transition(Role.UNATTACHED, node.epoch, None, None, now_ms)

"""A voter standing for election in a new epoch (Kafka's ``CandidateState``).

How it works. The candidate has bumped the epoch and voted for itself (both durable before any request leaves) and
asks the other voters for their votes (see :mod:`~kafkalab.raft.states.nominee` for the tally). Won: it becomes
Leader of this epoch. Lost (a majority refused) or its election timeout expired: it backs off for a random
``min(100 ms * random[0, 2^retries), election_backoff_max_ms)`` (binary exponential backoff; ``retries``, kept on the
node, counts the Candidate states entered since the voter last held a role other than Prospective or Candidate), then
starts a new election (Prospective with pre-vote, else Candidate of the next epoch). It grants pre-votes to
up-to-date candidates but no real vote in its own epoch.

With ``RaftConfig.election_mode == "paper"`` (kafkalab's knob, not Kafka's) the candidate follows the Raft paper's
Figure 2 instead ("If election timeout elapses: start new election"): there is no backoff. A majority of refusals
changes nothing; the candidate waits out the randomised election timeout it drew on entry, then starts the next
election at once, so every retry draws a fresh timeout and (without pre-vote) bumps the epoch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.raft.quorum import binary_exponential_backoff_ms
from kafkalab.raft.state import Role
from kafkalab.raft.states.nominee import NomineeState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["CandidateState"]


class CandidateState(NomineeState):
    """Real election; on losing, a binary exponential backoff before the next one."""

    role = Role.CANDIDATE
    pre_vote = False

    __slots__ = ("backing_off",)

    def __init__(self, node: RaftNode) -> None:
        super().__init__(node)
        self.backing_off = False

    def enter(self, now_ms: float, previous: Role | None) -> None:
        self.node._retries += 1
        super().enter(now_ms, previous)

    def can_grant_vote(self, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
        return pre_vote and up_to_date

    def on_won(self, now_ms: float) -> None:
        node = self.node
        node._transition(Role.LEADER, node.epoch, node.node_id, node.voted_id, now_ms)

    def on_lost(self, now_ms: float) -> None:
        if self.node.config.election_mode == "paper":
            # Figure 2: only the election timeout ends a candidacy; the lost election just waits for it.
            return
        if not self.backing_off:
            # Refused by a majority: go straight to the random backoff instead of waiting the timeout out.
            self.start_backoff(now_ms)

    def on_election_timeout(self, now_ms: float) -> None:
        if self.backing_off or self.node.config.election_mode == "paper":
            self.node._start_election(now_ms)
        else:
            self.start_backoff(now_ms)

    def start_backoff(self, now_ms: float) -> None:
        node = self.node
        self.backing_off = True
        backoff = binary_exponential_backoff_ms(max(1, node._retries), node.rng, node.config.election_backoff_max_ms)
        node.port.set_timer("election", now_ms + backoff)

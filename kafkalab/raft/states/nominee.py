"""An election in progress, shared by Prospective and Candidate (Kafka's ``NomineeState`` with its
``EpochElection``).

How it works. On entry the nominee starts a new election (a fresh correlation id, kept on the node so that answers to
an earlier election are ignored), counts its own vote, arms a randomised election timeout and asks every other voter
with one VoteRequest carrying its last log epoch and end offset; a single voter wins at once. Each answer of this
election and kind (pre-vote or not), granted or refused, is tallied once per voter; a refusal because of a fenced
epoch counts as a refusal, other errors do not count. A majority of grants wins, a majority of refusals loses; what
follows either way, and what the election timeout does, is up to the role. Vote requests are not resent within one
election: the election timeout retries.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kafkalab.protocol import raft as m
from kafkalab.protocol.common import NONE
from kafkalab.raft.quorum import EpochElection
from kafkalab.raft.state import Role
from kafkalab.raft.states.base import EpochState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["NomineeState"]


class NomineeState(EpochState):
    """The tally and the vote requests of one election; subclasses say what winning and losing mean."""

    #: True for a pre-vote (KIP-996): ask for ``epoch + 1`` without bumping the epoch.
    pre_vote: ClassVar[bool]

    __slots__ = ("election",)

    def __init__(self, node: RaftNode) -> None:
        super().__init__(node)
        self.election = EpochElection(node.voters)

    def enter(self, now_ms: float, previous: Role | None) -> None:
        node = self.node
        node._election_id += 1
        self.election.record(node.node_id, True)
        self.set_election_timer(now_ms)
        if self.election.is_won():
            self.on_won(now_ms)
        else:
            self.send_vote_requests()

    def send_vote_requests(self) -> None:
        node = self.node
        epoch = node.epoch + 1 if self.pre_vote else node.epoch
        request = m.VoteRequest(epoch, node.node_id, node.last_fetched_epoch(), node.log.log_end_offset,
                                self.pre_vote, node._election_id)
        for voter in node.voters:
            if voter != node.node_id:
                node._send(voter, request)

    def on_vote_response(self, src: int, resp: m.VoteResponse, now_ms: float) -> None:
        if resp.correlation_id != self.node._election_id:
            return
        if resp.pre_vote != self.pre_vote:
            return
        if resp.error not in (NONE, m.FENCED_LEADER_EPOCH):
            return
        election = self.election
        election.record(src, resp.vote_granted)
        if election.is_won():
            self.on_won(now_ms)
        elif election.is_lost():
            self.on_lost(now_ms)

    def on_won(self, now_ms: float) -> None:
        """A majority granted."""
        raise NotImplementedError

    def on_lost(self, now_ms: float) -> None:
        """A majority refused."""
        raise NotImplementedError

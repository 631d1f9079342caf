"""A leader that gave up leadership of its epoch (Kafka's ``ResignedState``).

How it works. On entry the former leader arms a randomised election timeout and sends EndQuorumEpoch, with its
preferred successors (the other voters by descending end offset, as the leader ranked them), to every other voter;
each of them then starts its election after a wait that grows with its rank in that list. The resigned node neither
appends, serves fetches nor votes in its epoch; if no other leader shows up (the epoch rule would make it follow
one) its own election timeout starts an election. Kafka resends EndQuorumEpoch until every voter acknowledged it;
kafkalab sends it once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.protocol import raft as m
from kafkalab.raft.state import Role
from kafkalab.raft.states.base import EpochState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["ResignedState"]


class ResignedState(EpochState):
    """EndQuorumEpoch with preferred successors, then an election timeout."""

    role = Role.RESIGNED

    __slots__ = ("preferred_successors",)

    def __init__(self, node: RaftNode, preferred_successors: tuple[int, ...] = ()) -> None:
        super().__init__(node)
        self.preferred_successors = preferred_successors

    def enter(self, now_ms: float, previous: Role | None) -> None:
        self.set_election_timer(now_ms)
        node = self.node
        for voter in node.voters:
            if voter != node.node_id:
                node._send(voter, m.EndQuorumEpochRequest(node.epoch, node.node_id, self.preferred_successors))

    def on_election_timeout(self, now_ms: float) -> None:
        if self.node.is_voter:
            self.node._start_election(now_ms)

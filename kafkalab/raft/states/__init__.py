"""The per-role states of a KRaft replica, one module per Kafka ``EpochState`` class, driven by
:class:`~kafkalab.raft.node.RaftNode`.

The roles and the legal moves between them are data in :mod:`kafkalab.raft.state`; this package holds what each role
keeps and does. The node builds one state object per role change and hands it every input after the epoch rule.

- :mod:`~kafkalab.raft.states.base`: :class:`EpochState`, the hooks every role may override, and the election timer.
- :mod:`~kafkalab.raft.states.unattached`: :class:`UnattachedState` and :class:`VotedState` (Kafka's
  ``UnattachedState``, without and with a vote): election timer, kept across epochs; the vote rule.
- :mod:`~kafkalab.raft.states.nominee`: :class:`NomineeState` (Kafka's ``NomineeState``): one election's tally and
  vote requests, shared by
- :mod:`~kafkalab.raft.states.prospective`: :class:`ProspectiveState` (Kafka's ``ProspectiveState``, KIP-996
  pre-vote): on losing, back to the role it had in the epoch; and
- :mod:`~kafkalab.raft.states.candidate`: :class:`CandidateState` (Kafka's ``CandidateState``): on losing, binary
  exponential backoff (or, with ``election_mode="paper"``, the rest of its election timeout, as in the Raft paper).
- :mod:`~kafkalab.raft.states.leader`: :class:`LeaderState` (Kafka's ``LeaderState``): replica progress, high
  watermark, parked fetches, BeginQuorumEpoch resends, check quorum, appends, resignation.
- :mod:`~kafkalab.raft.states.resigned`: :class:`ResignedState` (Kafka's ``ResignedState``): EndQuorumEpoch with
  preferred successors, then an election timeout.
- :mod:`~kafkalab.raft.states.fetching`: :class:`FetchingState`, the fetch loop shared by followers and observers.
- :mod:`~kafkalab.raft.states.follower`: :class:`FollowerState` (Kafka's ``FollowerState``): fetch timer, fetch
  responses (append, high watermark, truncation), snapshot fetch, EndQuorumEpoch backoff.
"""
from kafkalab.raft.states.base import EpochState
from kafkalab.raft.states.candidate import CandidateState
from kafkalab.raft.states.fetching import FetchingState
from kafkalab.raft.states.follower import FollowerState
from kafkalab.raft.states.leader import LeaderState, ReplicaState
from kafkalab.raft.states.nominee import NomineeState
from kafkalab.raft.states.prospective import ProspectiveState
from kafkalab.raft.states.resigned import ResignedState
from kafkalab.raft.states.unattached import UnattachedState, VotedState

__all__ = ["EpochState", "CandidateState", "FetchingState", "FollowerState", "LeaderState", "NomineeState",
           "ProspectiveState", "ReplicaState", "ResignedState", "UnattachedState", "VotedState"]

"""KRaft: Kafka's Raft (KIP-595, KIP-630 snapshots, KIP-996 pre-vote) as a sans-I/O node, and a playground quorum.

Mirrors Kafka's ``raft`` module. ``RaftNode`` (:mod:`kafkalab.raft.node`, Kafka's ``KafkaRaftClient``) is the
protocol core: it keeps the checked role transitions (:mod:`kafkalab.raft.state`) and the epoch rule, and delegates
what a role does to one object per epoch state in :mod:`kafkalab.raft.states` (``LeaderState``, ``CandidateState``,
``ProspectiveState``, ``FollowerState``, ``UnattachedState``, ``ResignedState``, as Kafka's ``QuorumState`` does).
Its RPCs are :mod:`kafkalab.protocol.raft`; :mod:`kafkalab.raft.quorum` holds the quorum math. ``RaftCluster``
(:mod:`kafkalab.raft.playground`, the one module here that imports the simulator) runs a quorum of nodes in a
simulated world; ``RaftInvariants`` judges every event; :mod:`kafkalab.raft.plot` draws timelines.
"""
from kafkalab.protocol.raft import LeaderChange, Payload, Snapshot
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.invariants import RaftInvariants
from kafkalab.raft.node import RaftNode, RaftPort
from kafkalab.raft.playground import CRASHED, RaftCluster, RaftProcess
from kafkalab.raft.quorum import EpochElection, high_watermark_candidate, is_log_up_to_date, majority
from kafkalab.raft.state import TRANSITIONS, ElectionState, IllegalTransition, Role

__all__ = ["CRASHED", "RaftCluster", "RaftProcess", "RaftConfig", "RaftInvariants", "ElectionState", "LeaderChange",
           "Payload", "Snapshot", "RaftNode", "RaftPort", "EpochElection", "high_watermark_candidate",
           "is_log_up_to_date", "majority", "TRANSITIONS", "IllegalTransition", "Role"]

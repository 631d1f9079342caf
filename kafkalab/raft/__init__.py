"""KRaft: Kafka's Raft (KIP-595, KIP-630 snapshots, KIP-996 pre-vote) as a sans-I/O node, and a playground quorum.

``RaftNode`` (:mod:`kafkalab.raft.node`) is the protocol core; ``RaftCluster`` (:mod:`kafkalab.raft.playground`) runs a
quorum of them in a simulated world; ``RaftInvariants`` judges every event; :mod:`kafkalab.raft.plot` draws timelines.
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

"""kafkalab: Apache Kafka's architecture as a deterministic, in-process simulation.

``import kafkalab as kl`` gives the layers as submodules: ``kl.errors`` (Kafka's error codes), ``kl.config`` (every
config key with Kafka's defaults), ``kl.sim`` (kernel, network, disk, faults), ``kl.log`` (the partitioned log) and
``kl.raft`` (the KRaft quorum and its ``RaftCluster`` playground).
"""
from kafkalab import config, errors, log, sim
from kafkalab import raft

__version__ = "0.1.0"
__all__ = ["config", "errors", "log", "sim", "__version__"]

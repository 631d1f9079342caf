"""kafkalab: Apache Kafka's architecture as a deterministic, in-process simulation.

``import kafkalab as kl`` gives ``kl.Cluster`` (a KRaft-mode Kafka cluster in virtual time), ``kl.TopicPartition``,
and the layers as submodules: ``kl.errors`` (Kafka's error codes), ``kl.config`` (every config key with Kafka's
defaults), ``kl.sim`` (kernel, network, disk, faults), ``kl.log`` (the partitioned log), ``kl.raft`` (the KRaft
quorum and its ``RaftCluster`` playground), ``kl.groups`` (group coordinator, assignors, the group RPCs),
``kl.check`` (histories and checkers), ``kl.viz`` (drawings and the ``ControlRoom``; imported on first use, so
``import kafkalab`` does not load ipywidgets). ``kl.OffsetAndMetadata`` is what ``consumer.committed()`` returns and
``consumer.commit()`` accepts.
"""
from kafkalab import check, config, connect, errors, groups, log, raft, sim
from kafkalab.cluster import Cluster
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition

__version__ = "0.1.0"

__all__ = ["Cluster", "TopicPartition", "OffsetAndMetadata", "check", "config", "connect", "errors", "groups", "log",
           "raft", "sim", "viz", "__version__"]


def __getattr__(name: str) -> object:
    # kl.viz, kl.experiments and kl.workloads import on first use: viz pulls in ipywidgets, networkx and matplotlib,
    # experiments and workloads the whole stack with joblib, Dask and pyarrow; scripts without them need none of it.
    if name in ("viz", "experiments", "workloads"):
        import importlib

        return importlib.import_module(f"kafkalab.{name}")
    raise AttributeError(f"module 'kafkalab' has no attribute {name!r}")

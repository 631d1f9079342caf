"""Brokers: request handling, the replica manager (ISR, high watermark, acks), replica fetchers, the broker node.

Layers, bottom to top: :mod:`~kafkalab.broker.messages` (the RPCs), :mod:`~kafkalab.broker.producer_state`,
:mod:`~kafkalab.broker.partition`, :mod:`~kafkalab.broker.fetcher`, :mod:`~kafkalab.broker.replica_manager`
(sans-I/O), :mod:`~kafkalab.broker.cost` and :mod:`~kafkalab.broker.server` (the World process). Import
``BrokerServer`` from :mod:`kafkalab.broker.server` (it pulls in the simulator).
"""
from kafkalab.broker.cost import CostModel
from kafkalab.broker.messages import TopicPartition
from kafkalab.broker.partition import IsrProposal, Partition, Role
from kafkalab.broker.producer_state import ProducerStateManager
from kafkalab.broker.replica_manager import ReplicaManager, ReplicaManagerPort

__all__ = ["CostModel", "TopicPartition", "IsrProposal", "Partition", "Role", "ProducerStateManager",
           "ReplicaManager", "ReplicaManagerPort"]

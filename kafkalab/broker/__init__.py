"""Brokers: request handling, the replica manager (ISR, high watermark, acks), replica fetchers, the broker node.

Mirrors the broker half of Kafka's ``core`` and ``server`` modules (``KafkaApis``, ``ReplicaManager``, ``Partition``,
``ReplicaFetcherThread``, ``BrokerLifecycleManager``). It reads the cluster metadata only through
:mod:`kafkalab.metadata` and never imports the controller or the simulator.

Layers, bottom to top (the RPCs are :mod:`kafkalab.protocol`): :mod:`~kafkalab.broker.producer_state`,
:mod:`~kafkalab.broker.partition`, :mod:`~kafkalab.broker.fetcher`, :mod:`~kafkalab.broker.replica_manager`
(sans-I/O; it composes :mod:`~kafkalab.broker.produce`, :mod:`~kafkalab.broker.consumer_fetch`,
:mod:`~kafkalab.broker.fetch_sessions` and :mod:`~kafkalab.broker.timers`), :mod:`~kafkalab.broker.cost`,
:mod:`~kafkalab.broker.groups` (the group coordinator's port and FindCoordinator) and :mod:`~kafkalab.broker.server`
(the process shell on a :class:`~kafkalab.ports.ProcessPort`).
"""
from kafkalab.broker.cost import CostModel
from kafkalab.broker.partition import IsrProposal, Partition, Role
from kafkalab.broker.producer_state import ProducerStateManager
from kafkalab.broker.replica_manager import ReplicaManager, ReplicaManagerPort
from kafkalab.common.topic_partition import TopicPartition

__all__ = ["CostModel", "TopicPartition", "IsrProposal", "Partition", "Role", "ProducerStateManager",
           "ReplicaManager", "ReplicaManagerPort"]

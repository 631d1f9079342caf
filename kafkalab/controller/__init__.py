"""The quorum controller (KIP-500, KIP-631): metadata records, the metadata image, replica placement, the controller
RPCs and the sans-I/O :class:`QuorumController`.

It reads and writes the metadata of :mod:`kafkalab.metadata` (records, image, log replica) and answers the RPCs of
:mod:`kafkalab.protocol.controller` and :mod:`kafkalab.protocol.admin`. Here: :mod:`~kafkalab.controller.placement`
(``StripedReplicaPlacer``), :mod:`~kafkalab.controller.partition_change` (``PartitionChangeBuilder``),
:mod:`~kafkalab.controller.heartbeats` (``BrokerHeartbeatManager``), the control managers
:mod:`~kafkalab.controller.cluster_control`, :mod:`~kafkalab.controller.replication_control`,
:mod:`~kafkalab.controller.configuration_control` and :mod:`~kafkalab.controller.producer_id_control`, the facade
:mod:`~kafkalab.controller.quorum_controller` (sans-I/O) that hands requests to them, then the process shell
:mod:`~kafkalab.controller.server` (``ControllerServer``, on a :class:`~kafkalab.ports.ProcessPort`).

Mirrors the ``QuorumController`` and its control managers in Kafka's ``metadata`` module
(``org.apache.kafka.controller``).
"""
from kafkalab.controller.cluster_control import ClusterControlManager
from kafkalab.controller.configuration_control import ConfigurationControlManager
from kafkalab.controller.placement import StripedReplicaPlacer, UsableBroker, place_replicas
from kafkalab.controller.producer_id_control import ProducerIdControlManager
from kafkalab.controller.quorum_controller import (
    BrokerHeartbeatManager,
    ControllerPort,
    QuorumController,
    build_partition_change,
)
from kafkalab.controller.replication_control import ReplicationControlManager
from kafkalab.metadata.image import (
    BrokerRegistration,
    Change,
    MetadataImage,
    PartitionRegistration,
    TopicImage,
)

__all__ = ["BrokerRegistration", "Change", "MetadataImage", "PartitionRegistration", "TopicImage",
           "StripedReplicaPlacer", "UsableBroker", "place_replicas", "BrokerHeartbeatManager", "ControllerPort",
           "QuorumController", "build_partition_change", "ClusterControlManager", "ConfigurationControlManager",
           "ProducerIdControlManager", "ReplicationControlManager"]

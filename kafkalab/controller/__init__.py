"""The quorum controller (KIP-500, KIP-631): metadata records, the metadata image, replica placement, the controller
RPCs and the sans-I/O :class:`QuorumController`.

It reads and writes the metadata of :mod:`kafkalab.metadata` (records, image, log replica) and answers the RPCs of
:mod:`kafkalab.protocol.controller` and :mod:`kafkalab.protocol.admin`. Here: :mod:`~kafkalab.controller.placement` (``StripedReplicaPlacer``), :mod:`~kafkalab.controller.quorum_controller`
(sans-I/O), then the process shell :mod:`~kafkalab.controller.server`
(``ControllerServer``, the process shell on a :class:`~kafkalab.ports.ProcessPort`).
"""
from kafkalab.controller.placement import StripedReplicaPlacer, UsableBroker, place_replicas
from kafkalab.controller.quorum_controller import (
    BrokerHeartbeatManager,
    ControllerPort,
    QuorumController,
    build_partition_change,
)
from kafkalab.metadata.image import (
    BrokerRegistration,
    Change,
    MetadataImage,
    PartitionRegistration,
    TopicImage,
)

__all__ = ["BrokerRegistration", "Change", "MetadataImage", "PartitionRegistration", "TopicImage",
           "StripedReplicaPlacer", "UsableBroker", "place_replicas", "BrokerHeartbeatManager", "ControllerPort",
           "QuorumController", "build_partition_change"]

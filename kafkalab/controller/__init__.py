"""The quorum controller (KIP-500, KIP-631): metadata records, the metadata image, replica placement, the controller
RPCs and the sans-I/O :class:`QuorumController`.

Layers, bottom to top: :mod:`~kafkalab.controller.records` (what the metadata log holds),
:mod:`~kafkalab.controller.image` (the state replayed from it), :mod:`~kafkalab.controller.messages` (broker and admin
RPCs), :mod:`~kafkalab.controller.placement` (``StripedReplicaPlacer``), :mod:`~kafkalab.controller.quorum_controller`
(sans-I/O), then the World adapters :mod:`~kafkalab.controller.driver` and :mod:`~kafkalab.controller.server`
(``ControllerServer``; import it from there, it pulls in the simulator).
"""
from kafkalab.controller.image import (
    BrokerRegistration,
    Change,
    MetadataImage,
    PartitionRegistration,
    TopicImage,
)
from kafkalab.controller.placement import StripedReplicaPlacer, UsableBroker, place_replicas
from kafkalab.controller.quorum_controller import (
    BrokerHeartbeatManager,
    ControllerPort,
    QuorumController,
    build_partition_change,
)

__all__ = ["BrokerRegistration", "Change", "MetadataImage", "PartitionRegistration", "TopicImage",
           "StripedReplicaPlacer", "UsableBroker", "place_replicas", "BrokerHeartbeatManager", "ControllerPort",
           "QuorumController", "build_partition_change"]

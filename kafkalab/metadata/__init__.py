"""The cluster metadata as KRaft keeps it (KIP-500, KIP-631): the records of ``__cluster_metadata``, the image
replayed from them, and the replica of that log every controller and broker runs.

Mirrors Kafka's ``metadata`` module (``org.apache.kafka.metadata``, ``org.apache.kafka.image``), which broker and
controller both use:
- :mod:`.records`: what the quorum controller writes (``RegisterBrokerRecord``, ``PartitionRecord``, ...);
- :mod:`.image`: :class:`MetadataImage`, the state replayed from the log, and the :class:`Change` each record makes
  (Kafka's image and deltas);
- :mod:`.features`: Kafka's feature levels (``metadata.version``, ``eligible.leader.replicas.version``, ...), the
  defaults of each release and the format-time choice a new cluster bootstraps with;
- :mod:`.log_replica`: :class:`MetadataLogReplica`, a KRaft node of ``__cluster_metadata`` on a process port (a voter
  on a controller, an observer on a broker), handing out newly committed records with their offsets and writing
  snapshots of the image;
- :mod:`.snapshot_generator`: :class:`SnapshotGenerator`, when a node snapshots its image (KIP-630; Kafka's
  ``image.publisher.SnapshotGenerator``).
"""
from kafkalab.metadata.image import (
    BrokerRegistration,
    Change,
    MetadataImage,
    PartitionRegistration,
    TopicImage,
)

__all__ = ["BrokerRegistration", "Change", "MetadataImage", "PartitionRegistration", "TopicImage"]

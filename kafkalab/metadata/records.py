"""Metadata records: what the quorum controller writes to ``__cluster_metadata`` (KIP-631).

Every change to the cluster's metadata is one of these frozen records, appended to the KRaft log by the active
controller and replayed, in log order, by every controller and broker into a
:class:`~kafkalab.metadata.image.MetadataImage`. Names and fields follow Kafka's ``metadata/src/main/resources/
common/metadata/*Record.json`` in snake case; what kafkalab does not model (directories, listeners' endpoints,
ACLs, delegation tokens, SCRAM) is left out.

Conventions: ``leader = -1`` means no leader (``NO_LEADER``); a ``PartitionChangeRecord`` field left ``None`` is
unchanged (Kafka's tagged fields with defaults), ``NO_CHANGE`` for ints. Each record knows its serialized size
(roughly Kafka's: a header plus its fields) so metadata traffic costs bandwidth like real metadata.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "NO_LEADER", "NO_CHANGE", "MetadataRecord", "RegisterBrokerRecord", "UnregisterBrokerRecord",
    "BrokerRegistrationChangeRecord", "FenceBrokerRecord", "UnfenceBrokerRecord", "TopicRecord", "PartitionRecord",
    "PartitionChangeRecord", "RemoveTopicRecord", "ConfigRecord", "NoOpRecord", "ProducerIdsRecord",
    "FeatureLevelRecord", "ClientQuotaRecord", "record_size_bytes", "LEADER_RECOVERY_RECOVERED", "LEADER_RECOVERY_RECOVERING",
]

NO_LEADER = -1
#: PartitionChangeRecord: the leader field is unchanged.
NO_CHANGE = -2
LEADER_RECOVERY_RECOVERED = 0
LEADER_RECOVERY_RECOVERING = 1


def record_size_bytes(record: Any) -> int:
    """A serialized-size estimate: a 16-byte frame plus 4 bytes per int, the UTF-8 length of strings, 4 + 4 per
    element of int lists (Kafka's compact arrays are varint-prefixed; close enough for bandwidth)."""
    size = 16
    for f in fields(record):
        value = getattr(record, f.name)
        if value is None or isinstance(value, bool):
            size += 1
        elif isinstance(value, int):
            size += 4
        elif isinstance(value, str):
            size += 2 + len(value.encode("utf-8"))
        elif isinstance(value, tuple):
            size += 4 + sum(4 if isinstance(v, int) else 2 + len(str(v)) for v in value)
        else:
            size += 8
    return size


class MetadataRecord:
    """Base of every metadata record: sized for the log and the network."""

    __slots__ = ()

    def serialized_size(self) -> int:
        return record_size_bytes(self)


@dataclass(frozen=True, slots=True)
class RegisterBrokerRecord(MetadataRecord):
    """A broker registered (or re-registered after a restart) with a new broker epoch; it starts fenced."""

    broker_id: int
    broker_epoch: int
    incarnation_id: str
    rack: str | None = None
    fenced: bool = True
    in_controlled_shutdown: bool = False


@dataclass(frozen=True, slots=True)
class UnregisterBrokerRecord(MetadataRecord):
    broker_id: int
    broker_epoch: int


@dataclass(frozen=True, slots=True)
class BrokerRegistrationChangeRecord(MetadataRecord):
    """Fence/unfence or controlled shutdown of a registered broker (``None`` = unchanged)."""

    broker_id: int
    broker_epoch: int
    fenced: bool | None = None
    in_controlled_shutdown: bool | None = None


@dataclass(frozen=True, slots=True)
class FenceBrokerRecord(MetadataRecord):
    broker_id: int
    broker_epoch: int


@dataclass(frozen=True, slots=True)
class UnfenceBrokerRecord(MetadataRecord):
    broker_id: int
    broker_epoch: int


@dataclass(frozen=True, slots=True)
class TopicRecord(MetadataRecord):
    name: str
    topic_id: str


@dataclass(frozen=True, slots=True)
class PartitionRecord(MetadataRecord):
    """A partition's full state: replicas in preference order, isr, leader (-1 = none), epochs."""

    topic_id: str
    partition_id: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int = 0
    partition_epoch: int = 0
    removing_replicas: tuple[int, ...] = ()
    adding_replicas: tuple[int, ...] = ()
    leader_recovery_state: int = LEADER_RECOVERY_RECOVERED
    eligible_leader_replicas: tuple[int, ...] | None = None   # KIP-966 (only with eligible.leader.replicas.version)
    last_known_elr: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class PartitionChangeRecord(MetadataRecord):
    """A change to one partition. Fields left at None / NO_CHANGE are unchanged. Replaying it bumps the partition
    epoch; a leader change also bumps the leader epoch (Kafka's PartitionRegistration.merge)."""

    topic_id: str
    partition_id: int
    leader: int = NO_CHANGE
    isr: tuple[int, ...] | None = None
    replicas: tuple[int, ...] | None = None
    removing_replicas: tuple[int, ...] | None = None
    adding_replicas: tuple[int, ...] | None = None
    leader_recovery_state: int | None = None
    eligible_leader_replicas: tuple[int, ...] | None = None
    last_known_elr: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class RemoveTopicRecord(MetadataRecord):
    topic_id: str


@dataclass(frozen=True, slots=True)
class ConfigRecord(MetadataRecord):
    """A dynamic config change: ``resource_type`` "topic" or "broker"; ``value`` None deletes the override."""

    resource_type: str
    resource_name: str
    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class ClientQuotaRecord(MetadataRecord):
    """A client quota change (Kafka's ``ClientQuotaRecord``: ``Entity`` [(EntityType, EntityName)], ``Key``,
    ``Value``, ``Remove``). ``entity`` is sorted by type; a ``None`` name is the default entity (KIP-546)."""

    entity: tuple[tuple[str, str | None], ...]
    key: str
    value: float = 0.0
    remove: bool = False


@dataclass(frozen=True, slots=True)
class NoOpRecord(MetadataRecord):
    """Appended by an idle active controller every ``metadata.max.idle.interval.ms`` (KIP-835)."""


@dataclass(frozen=True, slots=True)
class ProducerIdsRecord(MetadataRecord):
    """A block of producer ids handed to a broker (AllocateProducerIds, KIP-730); ``next_producer_id`` is the first
    id not yet allocated."""

    broker_id: int
    broker_epoch: int
    next_producer_id: int


@dataclass(frozen=True, slots=True)
class FeatureLevelRecord(MetadataRecord):
    """A finalized feature level (Kafka's ``FeatureLevelRecord``: ``Name``, ``FeatureLevel``; level 0 removes the
    feature). The bootstrap records of a new cluster (:mod:`kafkalab.metadata.features`)."""

    name: str
    feature_level: int

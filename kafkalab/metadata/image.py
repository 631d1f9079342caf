"""The metadata image: the cluster's metadata as rebuilt by replaying ``__cluster_metadata`` in order (KIP-631).

Every controller and every broker keeps one. The active controller decides from its image and writes records; brokers
act on leadership only through theirs. Replay is deterministic and total: applying the same records in the same order
gives the same image anywhere, which is what makes a new active controller able to take over from the log alone.

Kafka's ``MetadataImage`` is immutable with deltas; here the image is mutable for speed (10,000 partitions replayed
record by record) and :meth:`MetadataImage.replay` returns what changed (a :class:`Change`), which is what a broker
needs to become leader or follower of exactly the partitions that moved. ``offset`` is the last applied log offset
(its drivers move it over control records too, as Kafka's image provenance does).

Snapshots (KIP-630): :meth:`MetadataImage.write` gives the records that rebuild the image (Kafka's
``MetadataImage.write``), and :meth:`MetadataImage.from_records` replays them; replaying a snapshot plus the records
after it gives the image that replaying the whole log gives (a property test checks it).
Replaying a record that refers to something unknown raises :class:`~kafkalab.errors.InvariantViolation`: a log the
controller wrote must always replay.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from kafkalab.errors import InvariantViolation
from kafkalab.metadata.features import METADATA_VERSION
from kafkalab.metadata.records import (
    NO_CHANGE,
    NO_LEADER,
    BrokerRegistrationChangeRecord,
    ClientQuotaRecord,
    ConfigRecord,
    FeatureLevelRecord,
    FenceBrokerRecord,
    MetadataRecord,
    NoOpRecord,
    PartitionChangeRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
    RemoveTopicRecord,
    TopicRecord,
    UnfenceBrokerRecord,
    UnregisterBrokerRecord,
)

__all__ = ["BrokerRegistration", "PartitionRegistration", "TopicImage", "MetadataImage", "Change"]


@dataclass(frozen=True, slots=True)
class BrokerRegistration:
    broker_id: int
    broker_epoch: int
    incarnation_id: str
    rack: str | None = None
    fenced: bool = True
    in_controlled_shutdown: bool = False


@dataclass(frozen=True, slots=True)
class PartitionRegistration:
    """A partition's state in the image (Kafka's ``PartitionRegistration``)."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int
    removing_replicas: tuple[int, ...] = ()
    adding_replicas: tuple[int, ...] = ()
    leader_recovery_state: int = 0
    eligible_leader_replicas: tuple[int, ...] | None = None
    last_known_elr: tuple[int, ...] | None = None

    @property
    def has_leader(self) -> bool:
        return self.leader != NO_LEADER

    def merge(self, change: PartitionChangeRecord) -> PartitionRegistration:
        """Apply a PartitionChangeRecord: unchanged fields stay; the partition epoch always bumps; a leader change
        bumps the leader epoch."""
        leader = self.leader if change.leader == NO_CHANGE else change.leader
        leader_epoch = self.leader_epoch + 1 if leader != self.leader else self.leader_epoch
        return replace(
            self,
            replicas=self.replicas if change.replicas is None else change.replicas,
            isr=self.isr if change.isr is None else change.isr,
            leader=leader,
            leader_epoch=leader_epoch,
            partition_epoch=self.partition_epoch + 1,
            removing_replicas=self.removing_replicas if change.removing_replicas is None else change.removing_replicas,
            adding_replicas=self.adding_replicas if change.adding_replicas is None else change.adding_replicas,
            leader_recovery_state=(self.leader_recovery_state if change.leader_recovery_state is None
                                   else change.leader_recovery_state),
            eligible_leader_replicas=(self.eligible_leader_replicas if change.eligible_leader_replicas is None
                                      else change.eligible_leader_replicas),
            last_known_elr=self.last_known_elr if change.last_known_elr is None else change.last_known_elr,
        )


@dataclass(slots=True)
class TopicImage:
    name: str
    topic_id: str
    partitions: dict[int, PartitionRegistration] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """What one replayed record changed. ``partitions``: (topic name, partition) whose registration changed or
    appeared; ``removed_topics``: names deleted (with every partition); ``brokers``: broker ids touched."""

    partitions: tuple[tuple[str, int], ...] = ()
    removed_topics: tuple[str, ...] = ()
    brokers: tuple[int, ...] = ()
    configs: tuple[tuple[str, str], ...] = ()
    #: client quota entities whose quotas changed (ClientQuotaRecord, KIP-546)
    client_quotas: tuple[tuple[tuple[str, str | None], ...], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.partitions or self.removed_topics or self.brokers or self.configs or self.client_quotas)


_NOTHING = Change()


class MetadataImage:
    """Brokers, topics, partitions, configs, finalized features and the producer-id block, as of log ``offset``."""

    def __init__(self) -> None:
        self.offset = -1
        self.features: dict[str, int] = {}                           # finalized feature levels (FeatureLevelRecord)
        self.brokers: dict[int, BrokerRegistration] = {}
        self.topics: dict[str, TopicImage] = {}
        self.topic_names: dict[str, str] = {}                        # topic id -> name
        self.configs: dict[tuple[str, str], dict[str, str]] = {}     # (resource type, name) -> {key: value}
        #: client quotas (ClientQuotaRecord): entity -> {quota key: value}; Kafka's ClientQuotasImage
        self.client_quotas: dict[tuple[tuple[str, str | None], ...], dict[str, float]] = {}
        self.next_producer_id = 0
        self.records_applied = 0

    # -- queries --------------------------------------------------------------------------------------------------
    def partition(self, topic: str, partition: int) -> PartitionRegistration | None:
        t = self.topics.get(topic)
        return None if t is None else t.partitions.get(partition)

    def unfenced_brokers(self) -> list[int]:
        return sorted(b for b, reg in self.brokers.items() if not reg.fenced)

    def topic_config(self, topic: str) -> dict[str, str]:
        return dict(self.configs.get(("topic", topic), {}))

    def copy(self) -> MetadataImage:
        """An independent copy (registrations are immutable, so only the containers are copied)."""
        other = MetadataImage()
        other.offset = self.offset
        other.features = dict(self.features)
        other.brokers = dict(self.brokers)
        other.topics = {name: TopicImage(t.name, t.topic_id, dict(t.partitions)) for name, t in self.topics.items()}
        other.topic_names = dict(self.topic_names)
        other.configs = {key: dict(values) for key, values in self.configs.items()}
        other.client_quotas = {key: dict(values) for key, values in self.client_quotas.items()}
        other.next_producer_id = self.next_producer_id
        other.records_applied = self.records_applied
        return other

    def state(self) -> tuple[Any, ...]:
        """Everything the image holds except bookkeeping (``records_applied``), for comparing two images."""
        return (self.offset, self.brokers, {n: (t.topic_id, t.partitions) for n, t in self.topics.items()},
                self.configs, self.next_producer_id, self.features, self.client_quotas)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetadataImage) and self.state() == other.state()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = sum(len(t.partitions) for t in self.topics.values())
        return (f"MetadataImage(offset={self.offset}, brokers={len(self.brokers)}, topics={len(self.topics)}, "
                f"partitions={parts})")

    # -- snapshots ------------------------------------------------------------------------------------------------
    def write(self) -> list[MetadataRecord]:
        """The records that rebuild this image from empty (Kafka's ``MetadataImage.write`` through an
        ``ImageWriter``), in Kafka's order: features (``metadata.version`` first), the cluster (one
        RegisterBrokerRecord per broker with its fencing and controlled-shutdown state), topics (a TopicRecord, then
        a PartitionRecord per partition with its current registration), configs, client quotas, the producer-id block. A snapshot
        holds these; :meth:`from_records` replays them."""
        out: list[MetadataRecord] = []
        features = self.features
        if METADATA_VERSION in features:
            out.append(FeatureLevelRecord(METADATA_VERSION, features[METADATA_VERSION]))
        out.extend(FeatureLevelRecord(name, level) for name, level in features.items() if name != METADATA_VERSION)
        for broker_id in sorted(self.brokers):
            broker = self.brokers[broker_id]
            out.append(RegisterBrokerRecord(broker.broker_id, broker.broker_epoch, broker.incarnation_id, broker.rack,
                                            broker.fenced, broker.in_controlled_shutdown))
        for topic in self.topics.values():
            topic_id = topic.topic_id
            out.append(TopicRecord(topic.name, topic_id))
            parts = topic.partitions
            for p in sorted(parts):
                reg = parts[p]
                out.append(PartitionRecord(topic_id, p, reg.replicas, reg.isr, reg.leader, reg.leader_epoch,
                                           reg.partition_epoch, reg.removing_replicas, reg.adding_replicas,
                                           reg.leader_recovery_state, reg.eligible_leader_replicas,
                                           reg.last_known_elr))
        for (resource_type, resource_name), values in self.configs.items():
            out.extend(ConfigRecord(resource_type, resource_name, name, value) for name, value in values.items())
        for entity, quotas in self.client_quotas.items():
            out.extend(ClientQuotaRecord(entity, key, value) for key, value in quotas.items())
        if self.next_producer_id > 0:
            out.append(ProducerIdsRecord(-1, -1, self.next_producer_id))
        return out

    @classmethod
    def from_records(cls, records: Iterable[Any], offset: int) -> MetadataImage:
        """An image rebuilt from a snapshot's records, as of log ``offset`` (the snapshot's end offset - 1)."""
        image = cls()
        replay = image.replay
        for record in records:
            replay(record)
        image.offset = offset
        return image

    # -- replay ---------------------------------------------------------------------------------------------------
    def replay(self, record: Any, offset: int | None = None) -> Change:
        """Apply one record (at log ``offset``) and say what changed."""
        if offset is not None:
            self.offset = offset
        self.records_applied += 1
        kind = type(record)
        if kind is PartitionChangeRecord:
            name = self._topic_name(record.topic_id, record)
            parts = self.topics[name].partitions
            current = parts.get(record.partition_id)
            if current is None:
                raise InvariantViolation(f"PartitionChangeRecord for unknown partition {name}-{record.partition_id}")
            parts[record.partition_id] = current.merge(record)
            return Change(partitions=((name, record.partition_id),))
        if kind is NoOpRecord:
            return _NOTHING
        if kind is PartitionRecord:
            name = self._topic_name(record.topic_id, record)
            self.topics[name].partitions[record.partition_id] = PartitionRegistration(
                record.replicas, record.isr, record.leader, record.leader_epoch, record.partition_epoch,
                record.removing_replicas, record.adding_replicas, record.leader_recovery_state,
                record.eligible_leader_replicas, record.last_known_elr)
            return Change(partitions=((name, record.partition_id),))
        if kind is TopicRecord:
            if record.name in self.topics:
                raise InvariantViolation(f"TopicRecord for existing topic {record.name!r}")
            self.topics[record.name] = TopicImage(record.name, record.topic_id)
            self.topic_names[record.topic_id] = record.name
            return _NOTHING
        if kind is RemoveTopicRecord:
            name = self._topic_name(record.topic_id, record)
            del self.topics[name]
            del self.topic_names[record.topic_id]
            self.configs.pop(("topic", name), None)
            return Change(removed_topics=(name,))
        if kind is RegisterBrokerRecord:
            self.brokers[record.broker_id] = BrokerRegistration(record.broker_id, record.broker_epoch,
                                                                record.incarnation_id, record.rack, record.fenced,
                                                                record.in_controlled_shutdown)
            return Change(brokers=(record.broker_id,))
        if kind in (FenceBrokerRecord, UnfenceBrokerRecord, BrokerRegistrationChangeRecord, UnregisterBrokerRecord):
            reg = self.brokers.get(record.broker_id)
            if reg is None or reg.broker_epoch != record.broker_epoch:
                raise InvariantViolation(f"{kind.__name__} for broker {record.broker_id} epoch "
                                         f"{record.broker_epoch}, but the image has {reg}")
            if kind is UnregisterBrokerRecord:
                del self.brokers[record.broker_id]
            elif kind is FenceBrokerRecord:
                self.brokers[record.broker_id] = replace(reg, fenced=True)
            elif kind is UnfenceBrokerRecord:
                self.brokers[record.broker_id] = replace(reg, fenced=False)
            else:
                self.brokers[record.broker_id] = replace(
                    reg,
                    fenced=reg.fenced if record.fenced is None else record.fenced,
                    in_controlled_shutdown=(reg.in_controlled_shutdown if record.in_controlled_shutdown is None
                                            else record.in_controlled_shutdown))
            return Change(brokers=(record.broker_id,))
        if kind is ConfigRecord:
            key = (record.resource_type, record.resource_name)
            if record.value is None:
                values = self.configs.get(key)
                if values is not None:
                    values.pop(record.name, None)
                    if not values:
                        # a resource without overrides leaves the image (Kafka's ConfigurationDelta.apply)
                        del self.configs[key]
            else:
                self.configs.setdefault(key, {})[record.name] = record.value
            return Change(configs=(key,))
        if kind is ClientQuotaRecord:
            entity = record.entity
            if record.remove:
                quotas = self.client_quotas.get(entity)
                if quotas is not None:
                    quotas.pop(record.key, None)
                    if not quotas:
                        del self.client_quotas[entity]       # as ClientQuotaControlManager.replay
            else:
                self.client_quotas.setdefault(entity, {})[record.key] = record.value
            return Change(client_quotas=(entity,))
        if kind is ProducerIdsRecord:
            self.next_producer_id = record.next_producer_id
            return _NOTHING
        if kind is FeatureLevelRecord:
            if record.feature_level == 0:
                self.features.pop(record.name, None)
            else:
                self.features[record.name] = record.feature_level
            return _NOTHING
        raise InvariantViolation(f"cannot replay {kind.__name__}: not a metadata record")

    def _topic_name(self, topic_id: str, record: Any) -> str:
        name = self.topic_names.get(topic_id)
        if name is None:
            raise InvariantViolation(f"{type(record).__name__} refers to unknown topic id {topic_id!r}")
        return name

"""Topics, partitions and their leaders on the active controller (Kafka's ``ReplicationControlManager``).

How it works. Every decision reads the controller's working image (the committed image plus its own uncommitted
writes) and produces ``TopicRecord``, ``PartitionRecord``, ``PartitionChangeRecord`` and ``RemoveTopicRecord`` rows
that the controller writes; an answer waits for the commit of what was written.

- Leader election and ISR changes go through :func:`~kafkalab.controller.partition_change.build_partition_change`
  (``PartitionChangeBuilder``): it keeps a valid leader, else elects the first ISR member in replica order that is
  unfenced and not shutting down; unclean election (the first live replica, ISR set to it alone, leader recovery
  state RECOVERING) only when the topic's, else the controller's, ``unclean.leader.election.enable`` is true. A
  broker that is fenced, shuts down or re-registers leaves every ISR. With KIP-966's eligible leader replicas off
  (``eligible.leader.replicas.version=0``) an ISR is never emptied: the last member stays and the partition goes
  offline with leader -1. With them on (the 4.1+ default), the ISR may empty; replicas that leave an ISR smaller
  than the topic's effective ``min.insync.replicas`` become ELR and may lead later; a re-registration is an unclean
  shutdown (kafkalab's brokers send no ``previousBrokerEpoch``, so, as Kafka does for a broker that cannot prove a
  clean shutdown, the controller assumes one), which also takes the broker out of every ELR
  (``handleBrokerShutdown``); a change of a topic's ``min.insync.replicas`` clears its ELRs. A broker that is
  unfenced gets the leaderless partitions it may lead. Leader epochs bump on every
  leader change (``PartitionRegistration.merge``), not on an ISR shrink (Kafka >= 3.6). Which brokers may lead or
  join an ISR is the cluster's answer (``ClusterControlManager.isActive``).
- AlterPartition (KIP-497) checks broker epoch, leader epoch, partition epoch and eligibility
  (``validateAlterPartitionData``); the answer carries each partition's state after the write.
- CreateTopics: a name must be valid (``Topic.validate``) and must not collide with an existing topic's once '.' and
  '_' are unified (``validateNewTopicNames``: ``foo_bar`` is refused while ``foo.bar`` exists; as in Kafka, only
  existing topics count, not the others of the same request). ``StripedReplicaPlacer`` over the cluster's usable
  brokers (or a checked manual assignment), ISR =
  the live replicas, leader = the first of them; the topic id is a random UUID from the controller's rng; all
  partitions of a request go in one write. DeleteTopics. CreatePartitions (new partitions get the replication
  factor of partition 0). ElectLeaders (PREFERRED or UNCLEAN, for every partition or the listed ones).
- Preferred-leader election for every partition whose preferred replica may lead but does not
  (``maybeBalancePartitionLeaders``), run by the controller's ``rebalance`` timer; all of them in one write (Kafka
  caps one run at ``maxElectionsPerImbalance`` and runs again).

Cost: fencing, unfencing, controlled shutdown and the imbalance check scan the partitions once (Kafka keeps a
broker -> ISR index and a set of imbalanced partitions instead; fine at 10^4 partitions).

Simplifications: no reassignments and no log directories (Kafka's KRaft controller never read
``leader.imbalance.per.broker.percentage``; Kafka 4.0 removed the key). With ELR on, Kafka also writes a
cluster-level ``min.insync.replicas`` config record and refuses to delete it; kafkalab has no cluster-level dynamic configs, so the controller's static value is the
cluster default. No restart is ever clean (no ``previousBrokerEpoch``), so a cleanly stopped ELR member also leaves
the ELR when it comes back: safe, at some cost in availability.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kafkalab.common.topic import collision_key, validate_topic_name
from kafkalab.config import resolve
from kafkalab.controller.partition_change import (
    ELECTION_ONLINE,
    build_partition_change,
)
from kafkalab.errors import ConfigError, InvalidReplicationFactorError
from kafkalab.metadata.features import elr_enabled
from kafkalab.metadata.image import PartitionRegistration
from kafkalab.metadata.records import (
    LEADER_RECOVERY_RECOVERED,
    LEADER_RECOVERY_RECOVERING,
    NO_CHANGE,
    NO_LEADER,
    MetadataRecord,
    PartitionChangeRecord,
    PartitionRecord,
    RemoveTopicRecord,
    TopicRecord,
)
from kafkalab.protocol import admin as cm
from kafkalab.protocol.common import NONE
from kafkalab.protocol.controller import (
    AlterPartitionItem,
    AlterPartitionItemResult,
    AlterPartitionRequest,
    AlterPartitionResponse,
)

if TYPE_CHECKING:       # the quorum controller builds its managers
    from kafkalab.controller.quorum_controller import QuorumController

__all__ = ["ReplicationControlManager", "MAX_RECORDS_PER_USER_OP"]

#: QuorumController.MAX_RECORDS_PER_USER_OP: an operation that would write more records than this fails as a whole
#: with POLICY_VIOLATION (Kafka's BoundedList throws BoundedListTooLongException, which the controller reports as
#: "Unable to perform excessively large batch operation.").
MAX_RECORDS_PER_USER_OP = 10_000
_TOO_LARGE = "Unable to perform excessively large batch operation."


class ReplicationControlManager:
    """Topics, partitions, ISRs and leaders of one :class:`~kafkalab.controller.quorum_controller.QuorumController`."""

    def __init__(self, controller: QuorumController) -> None:
        self.controller = controller

    # -- elections and ISR changes -----------------------------------------------------------------------------------
    def election_for(self, topic: str) -> str:
        """UNCLEAN where the topic allows it, else ONLINE."""
        unclean = self.controller.configuration_control.unclean_leader_election_enabled(topic)
        return cm.ELECTION_UNCLEAN if unclean else ELECTION_ONLINE

    def elr_enabled(self) -> bool:
        """KIP-966 is on (``isElrEnabled``): the finalized ``eligible.leader.replicas.version`` is 1."""
        return elr_enabled(self.controller.working.features)

    def effective_min_isr(self, topic: str, replication_factor: int) -> int:
        """``getTopicEffectiveMinIsr``: the topic's ``min.insync.replicas`` (its override, else the controller's
        config), capped at the replication factor."""
        ctl = self.controller
        override = ctl.working.configs.get(("topic", topic), {}).get("min.insync.replicas")
        min_isr = int(ctl.config["min.insync.replicas"]) if override is None else int(override)
        return min(min_isr, replication_factor)

    def _change(self, name: str, topic_id: str, pid: int, part: PartitionRegistration, acceptable: Callable[[int], bool],
                elr: bool, **kwargs: Any) -> PartitionChangeRecord | None:
        """``build_partition_change`` with the ELR switch and, when it is on, the topic's effective min ISR."""
        if elr:
            kwargs["elr"] = True
            kwargs["min_isr"] = self.effective_min_isr(name, len(part.replicas))
        return build_partition_change(topic_id, pid, part, acceptable, **kwargs)

    def isr_removal(self, broker_id: int, *, unclean_shutdown: bool = False) -> list[MetadataRecord]:
        """``generateLeaderAndIsrUpdates(brokerToRemove=broker_id)``: leave every ISR and move leadership to another
        ISR member (or to none). Without ELR the last ISR member stays; with ELR the ISR may empty and the replicas
        that leave an ISR below min ISR join the ELR.

        ``unclean_shutdown`` (``handleBrokerShutdown`` with ELR on and a restart that cannot prove a clean shutdown,
        Kafka's ``brokerWithUncleanShutdown``): the broker also leaves every ELR, since its log may have lost records
        it had acknowledged."""
        ctl = self.controller
        is_active = ctl.cluster_control.is_active
        elr = self.elr_enabled()
        unclean = unclean_shutdown and elr
        records: list[MetadataRecord] = []

        def acceptable(b: int) -> bool:
            return is_active(b, broker_id)

        for name, topic in ctl.working.topics.items():
            election: str | None = None
            for pid, part in topic.partitions.items():
                if broker_id not in part.isr and part.leader != broker_id and not (
                        unclean and broker_id in (part.eligible_leader_replicas or ())):
                    continue
                if election is None:
                    election = self.election_for(name)
                target = tuple(r for r in part.isr if r != broker_id)
                change = self._change(name, topic.topic_id, pid, part, acceptable, elr, target_isr=target,
                                      election=election, unclean_shutdown=(broker_id,) if unclean else ())
                if change is not None:
                    records.append(change)
        return records

    def elect_leaderless(self, only_topic: str | None = None) -> list[MetadataRecord]:
        """Elect leaders for partitions without one (``handleBrokerUnfenced``; unclean where the topic allows it;
        with ELR, an unfenced ELR member or the last known leader when the ISR is empty)."""
        ctl = self.controller
        is_active = ctl.cluster_control.is_active
        elr = self.elr_enabled()
        records: list[MetadataRecord] = []
        for name, topic in ctl.working.topics.items():
            if only_topic is not None and name != only_topic:
                continue
            election: str | None = None
            for pid, part in topic.partitions.items():
                if part.leader != NO_LEADER:
                    continue
                if election is None:
                    election = self.election_for(name)
                change = self._change(name, topic.topic_id, pid, part, is_active, elr, election=election)
                if change is not None:
                    records.append(change)
        return records

    def clear_elr(self, topic: str) -> list[MetadataRecord]:
        """``min.insync.replicas`` of ``topic`` changed: the ELR was computed against the old value, so every
        partition's ELR and last-known ELR are cleared (Kafka 4.x: "ELR state will be cleaned" on a min ISR
        change, ``getPartitionElrUpdatesForConfigChanges``)."""
        t = self.controller.working.topics.get(topic)
        if t is None or not self.elr_enabled():
            return []
        return [PartitionChangeRecord(t.topic_id, pid, eligible_leader_replicas=(), last_known_elr=())
                for pid, part in t.partitions.items() if part.eligible_leader_replicas or part.last_known_elr]

    def balance_leaders(self, now_ms: float) -> None:
        """Preferred-leader election for every partition whose preferred replica is a valid leader but does not
        lead (``maybeBalancePartitionLeaders``)."""
        ctl = self.controller
        is_active = ctl.cluster_control.is_active
        records: list[MetadataRecord] = []
        for topic in ctl.working.topics.values():
            for pid, part in topic.partitions.items():
                preferred = part.replicas[0]
                if part.leader == preferred or preferred not in part.isr or not is_active(preferred):
                    continue
                change = self._change(topic.name, topic.topic_id, pid, part, is_active, self.elr_enabled(),
                                      election=cm.ELECTION_PREFERRED)
                if change is not None:
                    records.append(change)
        if records:
            ctl._write(records, now_ms)

    def leads_any(self, broker_id: int) -> bool:
        """Whether ``broker_id`` leads a partition (``BrokersToIsrs.hasLeaderships``)."""
        topics = self.controller.working.topics
        return any(part.leader == broker_id for t in topics.values() for part in t.partitions.values())

    # -- AlterPartition (KIP-497) ------------------------------------------------------------------------------------

    def alter_partition(self, src: int, req: AlterPartitionRequest, now_ms: float) -> None:
        """``alterPartition``: a leader's ISR (and leader recovery state) changes, partition by partition."""
        ctl = self.controller
        is_active = ctl.cluster_control.is_active
        working = ctl.working
        reg = working.brokers.get(req.broker_id)
        if reg is None or reg.broker_epoch != req.broker_epoch:
            ctl.port.send(src, AlterPartitionResponse("STALE_BROKER_EPOCH", correlation_id=req.correlation_id))
            return
        records: list[MetadataRecord] = []
        outcome: list[tuple[AlterPartitionItem, str]] = []
        for item in req.partitions:
            error = self._check_alter_partition(req.broker_id, item)
            if error == NONE:
                topic = working.topics[item.topic]
                part = topic.partitions[item.partition]
                change = self._change(item.topic, topic.topic_id, item.partition, part, is_active,
                                      self.elr_enabled(), target_isr=item.new_isr,
                                      leader_recovery_state=item.leader_recovery_state)
                if change is not None:
                    records.append(change)
            outcome.append((item, error))
        if records and ctl._write(records, now_ms) is None:
            return
        results = []
        for item, error in outcome:
            if error != NONE:
                results.append(AlterPartitionItemResult(item.topic, item.partition, error))
                continue
            part = working.topics[item.topic].partitions[item.partition]
            results.append(AlterPartitionItemResult(item.topic, item.partition, NONE, part.leader,
                                                    part.leader_epoch, part.isr, part.partition_epoch))
        ctl._respond_on_commit(src, req, AlterPartitionResponse(NONE, tuple(results), req.correlation_id))

    def _check_alter_partition(self, broker_id: int, item: AlterPartitionItem) -> str:
        """``ReplicationControlManager.validateAlterPartitionData``: the error for one partition, or NONE."""
        ctl = self.controller
        is_active = ctl.cluster_control.is_active
        topic = ctl.working.topics.get(item.topic)
        part = None if topic is None else topic.partitions.get(item.partition)
        if part is None:
            return "UNKNOWN_TOPIC_OR_PARTITION"
        if item.leader_epoch < part.leader_epoch:
            return "FENCED_LEADER_EPOCH"
        if item.leader_epoch > part.leader_epoch:
            return "NOT_CONTROLLER"
        if broker_id != part.leader:
            return "INVALID_REQUEST"
        if item.partition_epoch != part.partition_epoch:
            return "INVALID_UPDATE_VERSION"
        isr = item.new_isr
        if (len(set(isr)) != len(isr) or any(r not in part.replicas for r in isr) or part.leader not in isr):
            return "INVALID_REQUEST"
        if any(not is_active(r) for r in isr):
            return "INELIGIBLE_REPLICA"
        if (len(isr) > 1 and part.leader_recovery_state == LEADER_RECOVERY_RECOVERING
                and item.leader_recovery_state != LEADER_RECOVERY_RECOVERED):
            return "INVALID_REQUEST"
        return NONE

    # -- topics ------------------------------------------------------------------------------------------------------
    def _new_topic_id(self) -> str:
        return str(uuid.UUID(int=self.controller.rng.getrandbits(128), version=4))

    def _check_assignment(self, replicas: tuple[int, ...], partition: int) -> str | None:
        """What is wrong with a manual assignment of one partition, or None."""
        brokers = self.controller.working.brokers
        if not replicas:
            return f"The manual partition assignment includes an empty replica list for partition {partition}."
        if len(set(replicas)) != len(replicas):
            return f"The manual partition assignment for partition {partition} includes a duplicate replica."
        unknown = [r for r in replicas if r not in brokers]
        if unknown:
            return (f"The manual partition assignment includes broker {unknown[0]}, but no such broker is "
                    f"registered.")
        return None

    def _partition_records(self, topic_id: str, first_partition: int,
                           assignments: Sequence[tuple[int, ...]]) -> tuple[list[MetadataRecord], str | None]:
        """The ``PartitionRecord`` rows of new partitions (ISR = the live replicas, leader = the first of them), or
        the reason none can be created."""
        is_active = self.controller.cluster_control.is_active
        records: list[MetadataRecord] = []
        for i, replicas in enumerate(assignments):
            isr = tuple(r for r in replicas if is_active(r))
            if not isr:
                return [], (f"All brokers specified in the partition assignment for partition "
                            f"{first_partition + i} are fenced or in controlled shutdown.")
            records.append(PartitionRecord(topic_id, first_partition + i, tuple(replicas), isr, isr[0]))
        return records, None

    def _colliding_topics(self, names: Sequence[str]) -> dict[str, list[str]]:
        """Existing topics by collision key, for the keys of ``names`` only (Kafka keeps this index,
        ``topicsWithCollisionChars``, up to date on replay; one scan per request is enough here)."""
        wanted = {k for k in map(collision_key, names) if k is not None}
        index: dict[str, list[str]] = {}
        if wanted:
            for existing in self.controller.working.topics:
                key = collision_key(existing)
                if key is not None and key in wanted:
                    index.setdefault(key, []).append(existing)
        return {key: sorted(existing) for key, existing in index.items()}

    def _create_one(self, t: cm.CreatableTopic, seen: set[str], colliding: dict[str, list[str]],
                    validate_only: bool) -> tuple[cm.CreatableTopicResult, list[MetadataRecord]]:
        ctl = self.controller

        def fail(error: str, message: str) -> tuple[cm.CreatableTopicResult, list[MetadataRecord]]:
            return cm.CreatableTopicResult(t.name, error, message), []

        bad_name = validate_topic_name(t.name)
        if bad_name is not None:
            return fail("INVALID_TOPIC_EXCEPTION", bad_name)
        if t.name in seen:
            return fail("INVALID_REQUEST", "Duplicate topic name.")
        seen.add(t.name)
        if t.name in ctl.working.topics:
            return fail("TOPIC_ALREADY_EXISTS", f"Topic '{t.name}' already exists.")
        key = collision_key(t.name)
        if key is not None and key in colliding:
            return fail("INVALID_TOPIC_EXCEPTION",
                        f"Topic '{t.name}' collides with existing topic: {colliding[key][0]}")
        try:
            topic_config = resolve("topic", dict(t.configs))
        except ConfigError as exc:
            return fail("INVALID_CONFIG", str(exc))
        if t.assignments is not None:
            if t.num_partitions != -1 or t.replication_factor != -1:
                return fail("INVALID_REQUEST", "Both numPartitions or replicationFactor and replicasAssignments "
                                               "were set. Both cannot be used at the same time.")
            if not t.assignments:
                return fail("INVALID_REPLICA_ASSIGNMENT", "The manual partition assignment is empty.")
            for i, replicas in enumerate(t.assignments):
                problem = self._check_assignment(tuple(replicas), i)
                if problem is not None:
                    return fail("INVALID_REPLICA_ASSIGNMENT", problem)
            assignments = [tuple(r) for r in t.assignments]
        else:
            partitions = int(ctl.config["num.partitions"]) if t.num_partitions == -1 else t.num_partitions
            rf = int(ctl.config["default.replication.factor"]) if t.replication_factor == -1 \
                else t.replication_factor
            if partitions <= 0:
                return fail("INVALID_PARTITIONS", "Number of partitions was set to an invalid non-positive value.")
            if rf <= 0:
                return fail("INVALID_REPLICATION_FACTOR",
                            "Replication factor must be larger than 0, or -1 to use the default value.")
            cluster = ctl.cluster_control
            try:
                assignments = cluster.placer.place(cluster.usable_brokers(), partitions, rf)
            except InvalidReplicationFactorError as exc:
                return fail("INVALID_REPLICATION_FACTOR", f"Unable to replicate the partition {rf} time(s): {exc.message}")
        topic_id = self._new_topic_id()
        partition_records, problem = self._partition_records(topic_id, 0, assignments)
        if problem is not None:
            return fail("INVALID_REPLICATION_FACTOR", problem)
        result = cm.CreatableTopicResult(t.name, NONE, None, topic_id, len(assignments), len(assignments[0]))
        if validate_only:
            return result, []
        records: list[MetadataRecord] = [TopicRecord(t.name, topic_id)]
        records.extend(ctl.configuration_control.topic_config_records(t.name, topic_config))
        records.extend(partition_records)
        return result, records

    def _estimated_records(self, t: cm.CreatableTopic) -> int:
        """Records creating ``t`` would write (a topic record, one per config, one per partition), counted before any
        placement so that a huge partition count fails at once instead of being placed first."""
        if t.assignments is not None:
            partitions = len(t.assignments)
        else:
            partitions = int(self.controller.config["num.partitions"]) if t.num_partitions == -1 else t.num_partitions
        return 1 + len(t.configs) + max(partitions, 0)

    def create_topics(self, src: int, req: cm.CreateTopicsRequest, now_ms: float) -> None:
        """``createTopics``: every topic checked on its own, the records of all of them in one write. A request that
        would write more than :data:`MAX_RECORDS_PER_USER_OP` records fails as a whole: every topic is answered
        POLICY_VIOLATION and nothing is written, as Kafka's controller fails the operation. (Kafka counts the records
        of the topics that pass their checks; kafkalab counts every topic's, which differs only when a request is
        both too large and holds invalid topics.)"""
        ctl = self.controller
        if sum(self._estimated_records(t) for t in req.topics) > MAX_RECORDS_PER_USER_OP:
            ctl._respond_on_commit(src, req, cm.CreateTopicsResponse(
                tuple(cm.CreatableTopicResult(t.name, "POLICY_VIOLATION", _TOO_LARGE) for t in req.topics),
                req.correlation_id))
            return
        results: list[cm.CreatableTopicResult] = []
        records: list[MetadataRecord] = []
        seen: set[str] = set()
        colliding = self._colliding_topics([t.name for t in req.topics if isinstance(t.name, str)])
        for t in req.topics:
            result, topic_records = self._create_one(t, seen, colliding, req.validate_only)
            results.append(result)
            records.extend(topic_records)
        if records and ctl._write(records, now_ms) is None:
            return
        ctl._respond_on_commit(src, req, cm.CreateTopicsResponse(tuple(results), req.correlation_id))

    def delete_topics(self, src: int, req: cm.DeleteTopicsRequest, now_ms: float) -> None:
        """``deleteTopics``: a ``RemoveTopicRecord`` per existing topic, in one write."""
        ctl = self.controller
        results = []
        records: list[MetadataRecord] = []
        deleted: set[str] = set()
        for name in req.topic_names:
            topic = ctl.working.topics.get(name)
            if topic is None or name in deleted:
                results.append(cm.DeletableTopicResult(name, "UNKNOWN_TOPIC_OR_PARTITION",
                                                       "This server does not host this topic-partition."))
                continue
            deleted.add(name)
            records.append(RemoveTopicRecord(topic.topic_id))
            results.append(cm.DeletableTopicResult(name, NONE))
        if records and ctl._write(records, now_ms) is None:
            return
        ctl._respond_on_commit(src, req, cm.DeleteTopicsResponse(tuple(results), req.correlation_id))

    def create_partitions(self, src: int, req: cm.CreatePartitionsRequest, now_ms: float) -> None:
        """``createPartitions``: new partitions of existing topics, in one write."""
        ctl = self.controller
        results = []
        records: list[MetadataRecord] = []
        for t in req.topics:
            result, topic_records = self._create_partitions_one(t)
            results.append(result)
            if not req.validate_only:
                records.extend(topic_records)
        if records and ctl._write(records, now_ms) is None:
            return
        ctl._respond_on_commit(src, req, cm.CreatePartitionsResponse(tuple(results), req.correlation_id))

    def _create_partitions_one(self, t: cm.CreatePartitionsTopic
                               ) -> tuple[cm.CreatePartitionsTopicResult, list[MetadataRecord]]:
        ctl = self.controller

        def fail(error: str, message: str) -> tuple[cm.CreatePartitionsTopicResult, list[MetadataRecord]]:
            return cm.CreatePartitionsTopicResult(t.name, error, message), []

        topic = ctl.working.topics.get(t.name)
        if topic is None:
            return fail("UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic-partition.")
        current = len(topic.partitions)
        if t.count < current:
            return fail("INVALID_PARTITIONS", f"The topic {t.name} currently has {current} partition(s); {t.count} "
                                              f"would not be an increase.")
        if t.count == current:
            return fail("INVALID_PARTITIONS", f"Topic already has {current} partition(s).")
        rf = len(topic.partitions[0].replicas) if 0 in topic.partitions else 1
        added = t.count - current
        if t.assignments is not None:
            if len(t.assignments) != added:
                return fail("INVALID_REPLICA_ASSIGNMENT", f"Attempted to add {added} additional partition(s), but "
                                                          f"only {len(t.assignments)} assignment(s) were specified.")
            for i, replicas in enumerate(t.assignments):
                problem = self._check_assignment(tuple(replicas), current + i)
                if problem is None and len(replicas) != rf:
                    problem = (f"The manual partition assignment includes a partition with {len(replicas)} "
                               f"replica(s), but this is not consistent with previous partitions, which have {rf} "
                               f"replica(s).")
                if problem is not None:
                    return fail("INVALID_REPLICA_ASSIGNMENT", problem)
            assignments = [tuple(r) for r in t.assignments]
        else:
            cluster = ctl.cluster_control
            try:
                assignments = cluster.placer.place(cluster.usable_brokers(), added, rf)
            except InvalidReplicationFactorError as exc:
                return fail("INVALID_REPLICATION_FACTOR", f"Unable to replicate the partition {rf} time(s): {exc.message}")
        records, problem = self._partition_records(topic.topic_id, current, assignments)
        if problem is not None:
            return fail("INVALID_REPLICATION_FACTOR", problem)
        return cm.CreatePartitionsTopicResult(t.name, NONE), records

    # -- ElectLeaders (KIP-460) ---------------------------------------------------------------------------------------
    def elect_leaders(self, src: int, req: cm.ElectLeadersRequest, now_ms: float) -> None:
        """``electLeaders``: PREFERRED or UNCLEAN elections for the listed partitions, or for all of them (then
        partitions that need none are left out of the answer)."""
        ctl = self.controller
        is_active = ctl.cluster_control.is_active
        if req.election_type not in (cm.ELECTION_PREFERRED, cm.ELECTION_UNCLEAN):
            ctl.port.send(src, cm.ElectLeadersResponse("INVALID_REQUEST", correlation_id=req.correlation_id))
            return
        working = ctl.working
        explicit = req.partitions is not None
        if req.partitions is None:
            targets = [(name, pid) for name, t in working.topics.items() for pid in t.partitions]
        else:
            targets = list(req.partitions)
        results = []
        records: list[MetadataRecord] = []
        for name, pid in targets:
            topic = working.topics.get(name)
            part = None if topic is None else topic.partitions.get(pid)
            if topic is None or part is None:
                results.append(cm.PartitionElectionResult(name, pid, "UNKNOWN_TOPIC_OR_PARTITION",
                                                          "This server does not host this topic-partition."))
                continue
            if req.election_type == cm.ELECTION_PREFERRED:
                if part.leader == part.replicas[0]:
                    if explicit:
                        results.append(cm.PartitionElectionResult(name, pid, "ELECTION_NOT_NEEDED",
                                                                  "Leader election not needed for topic partition."))
                    continue
            elif part.leader != NO_LEADER:
                if explicit:
                    results.append(cm.PartitionElectionResult(name, pid, "ELECTION_NOT_NEEDED",
                                                              "Leader election not needed for topic partition."))
                continue
            change = self._change(name, topic.topic_id, pid, part, is_active, self.elr_enabled(),
                                  election=req.election_type)
            new_leader = part.leader if change is None or change.leader == NO_CHANGE else change.leader
            if req.election_type == cm.ELECTION_PREFERRED and new_leader != part.replicas[0]:
                results.append(cm.PartitionElectionResult(name, pid, "PREFERRED_LEADER_NOT_AVAILABLE",
                                                          "Failed to elect leader for partition. Preferred replica "
                                                          "is not available."))
                continue
            if new_leader == NO_LEADER:
                results.append(cm.PartitionElectionResult(name, pid, "ELIGIBLE_LEADERS_NOT_AVAILABLE",
                                                          "Failed to elect leader for partition."))
                continue
            if change is not None:
                records.append(change)
            results.append(cm.PartitionElectionResult(name, pid, NONE))
        if records and ctl._write(records, now_ms) is None:
            return
        ctl._respond_on_commit(src, req, cm.ElectLeadersResponse(NONE, tuple(results), req.correlation_id))

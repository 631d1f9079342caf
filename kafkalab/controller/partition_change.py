"""Leader election and ISR changes of one partition: Kafka's ``PartitionChangeBuilder`` (without reassignment), with
KIP-966's eligible leader replicas when the cluster's ``eligible.leader.replicas.version`` is 1, plus topic-name
validation (``Topic.validate`` and the '.'/'_' collision key of ``Topic.unifyCollisionChars``).

:func:`build_partition_change` is a pure function from a partition's registration, a target ISR, an election type
and a liveness predicate to the ``PartitionChangeRecord`` that gets there (or None when nothing changes):

- ONLINE keeps a valid leader (in the target ISR and acceptable: registered, unfenced, not shutting down), else
  elects the first valid replica in replica order, else none (-1);
- PREFERRED tries the first replica first, then the current leader, then the other replicas;
- UNCLEAN, when no ISR member can lead, elects the first acceptable replica, sets the ISR to it alone and marks the
  leader RECOVERING (KIP-704): committed data may be lost;
- without ELR, an empty target ISR is never applied (the last member stays), but it leaves no valid leader.

With eligible leader replicas (KIP-966 part 1; ``PartitionChangeBuilder`` in Kafka 4.x, ``maybePopulateTargetElr``,
``electAnyLeader``, ``canElectLastKnownLeader``, ``maybeUpdateRecordElr``, ``maybeUpdateLastKnownLeader``):

- while the target ISR is smaller than the topic's effective ``min.insync.replicas`` (min of the config and the
  replication factor), replicas leaving the ISR join the ELR, unless they restarted uncleanly; at or above min ISR
  the ELR is empty. ISR and ELR never overlap;
- the ISR may become empty (the last member is fenced); the leader is then -1 and ``last_known_elr`` remembers the
  last leader (Kafka's default ``useLastKnownLeaderInBalancedRecovery``); it is cleared once a leader exists again;
- election order: a valid ISR member; with the ISR empty, an acceptable ELR member (which becomes the ISR alone and
  leaves the ELR); with ISR and ELR empty, the last known leader if it is acceptable (an unclean election: ISR set
  to it, leader recovery RECOVERING; "if acceptable" is Kafka 4.1's rule, KAFKA-19522: 4.0 elected it even while
  fenced); then, if allowed, Kafka's unclean election, which clears the ELR.

Replaying the record bumps the partition epoch, and the leader epoch on a leader change
(:meth:`~kafkalab.metadata.image.PartitionRegistration.merge`); an ISR shrink alone does not bump the leader epoch
(Kafka >= 3.6, KAFKA-15021).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from kafkalab.metadata.image import PartitionRegistration
from kafkalab.metadata.records import LEADER_RECOVERY_RECOVERING, NO_CHANGE, NO_LEADER, PartitionChangeRecord
from kafkalab.protocol.admin import ELECTION_PREFERRED, ELECTION_UNCLEAN

__all__ = ["ELECTION_ONLINE", "build_partition_change"]

ELECTION_ONLINE = "ONLINE"
def build_partition_change(topic_id: str, partition_id: int, part: PartitionRegistration,
                           acceptable: Callable[[int], bool], *, target_isr: Sequence[int] | None = None,
                           election: str = ELECTION_ONLINE,
                           leader_recovery_state: int | None = None, elr: bool = False, min_isr: int = 1,
                           unclean_shutdown: Sequence[int] = ()) -> PartitionChangeRecord | None:
    """Kafka's ``PartitionChangeBuilder.build`` without reassignment: the record that moves ``part`` to
    ``target_isr`` and elects a leader by ``election`` (ONLINE, PREFERRED or UNCLEAN), or None if nothing changes.

    ``elr`` (KIP-966, ``setEligibleLeaderReplicasEnabled``) with the topic's effective ``min_isr``: the ELR and
    last-known ELR are kept up to date, an ELR member may lead when the ISR is empty, then the last known leader, and
    the ISR may become empty. ``unclean_shutdown``: replicas that restarted without proving a clean shutdown; they
    never join the ELR (``setUncleanShutdownReplicas``). Without ``elr`` an empty ``target_isr`` is not applied (the
    last member stays) and no member of it is a valid leader, so the partition loses its leader unless an unclean
    election finds a live replica.
    """
    isr = part.isr if target_isr is None else tuple(target_isr)
    part_elr = part.eligible_leader_replicas or ()
    part_lkelr = part.last_known_elr or ()
    target_elr: tuple[int, ...] = part_elr
    if elr:
        target_elr = _populate_elr(part, isr, min_isr, unclean_shutdown)

    def valid(replica: int) -> bool:
        # maybe an ISR member; with the ISR empty, an ELR member (isValidNewLeader)
        return (replica in isr or (not isr and replica in target_elr)) and acceptable(replica)

    leader = part.leader
    unclean = False
    if election == ELECTION_PREFERRED:
        preferred = part.replicas[0]
        if valid(preferred):
            new_leader = preferred
        elif valid(leader):
            new_leader = leader
        else:
            new_leader = next((r for r in part.replicas[1:] if valid(r)), NO_LEADER)
    elif valid(leader):
        new_leader = leader
    else:
        new_leader = next((r for r in part.replicas if valid(r)), NO_LEADER)
    if new_leader == NO_LEADER and elr and not isr and not target_elr and len(part_lkelr) == 1 \
            and acceptable(part_lkelr[0]):
        new_leader, unclean = part_lkelr[0], True          # the last known leader (canElectLastKnownLeader)
    if new_leader == NO_LEADER and election == ELECTION_UNCLEAN:
        new_leader = next((r for r in part.replicas if acceptable(r)), NO_LEADER)
        unclean = new_leader != NO_LEADER
    record_leader = NO_CHANGE
    record_isr: tuple[int, ...] | None = None
    recovery: int | None = None
    if new_leader != leader:
        if new_leader in target_elr:                        # an ELR member leads: it is the ISR now
            isr = (new_leader,)
            target_elr = tuple(r for r in target_elr if r != new_leader)
        record_leader = new_leader
        if unclean:
            record_isr = (new_leader,)
            if part.leader_recovery_state != LEADER_RECOVERY_RECOVERING:
                recovery = LEADER_RECOVERY_RECOVERING
    record_elr: tuple[int, ...] | None = None
    record_lkelr: tuple[int, ...] | None = None
    if elr or part_elr or part_lkelr:
        # maybeUpdateRecordElr: an unclean election (or ELR off) clears the ELR
        if record_isr is not None or not elr:
            target_elr = ()
        if target_elr != part_elr:
            record_elr = target_elr
    if record_isr is None and (isr or elr) and isr != part.isr:
        record_isr = isr
    if elr:
        # maybeUpdateLastKnownLeader: remember the leader when the ISR first becomes empty; forget it once a leader
        # is there again
        if record_isr == () and part_lkelr != (leader,):
            record_lkelr = (leader,)
        elif (record_leader >= 0 or (leader != NO_LEADER and record_leader != NO_LEADER)) and part_lkelr:
            record_lkelr = ()
    if recovery is None and leader_recovery_state is not None and leader_recovery_state != part.leader_recovery_state:
        recovery = leader_recovery_state
    if (record_leader == NO_CHANGE and record_isr is None and recovery is None and record_elr is None
            and record_lkelr is None):
        return None
    return PartitionChangeRecord(topic_id, partition_id, leader=record_leader, isr=record_isr,
                                 leader_recovery_state=recovery, eligible_leader_replicas=record_elr,
                                 last_known_elr=record_lkelr)


def _populate_elr(part: PartitionRegistration, target_isr: tuple[int, ...], min_isr: int,
                  unclean_shutdown: Sequence[int]) -> tuple[int, ...]:
    """``maybePopulateTargetElr``: with the ISR at or above min ISR there is no ELR; below it, every replica that
    was in the ISR or ELR and is not in the target ISR stays eligible (it holds every committed record, since the HW
    did not move while the ISR was small), except replicas that restarted uncleanly. Sorted by broker id."""
    if len(target_isr) >= min_isr:
        return ()
    candidates = set(part.eligible_leader_replicas or ()) | set(part.isr)
    return tuple(sorted(r for r in candidates if r not in target_isr and r not in unclean_shutdown))

"""KIP-966 part 1 in ``build_partition_change`` (Kafka 4.x ``PartitionChangeBuilder`` with
``setEligibleLeaderReplicasEnabled(true)``), one rule per case, on a partition with replicas 1, 2, 3 and
min.insync.replicas 2."""
from __future__ import annotations

import pytest

from kafkalab.controller.partition_change import ELECTION_ONLINE, build_partition_change
from kafkalab.metadata.image import PartitionRegistration
from kafkalab.metadata.records import LEADER_RECOVERY_RECOVERING, PartitionChangeRecord
from kafkalab.protocol.admin import ELECTION_UNCLEAN


def part(isr: tuple[int, ...], leader: int, elr: tuple[int, ...] = (), lkelr: tuple[int, ...] = ()
         ) -> PartitionRegistration:
    return PartitionRegistration((1, 2, 3), isr, leader, 5, 9, eligible_leader_replicas=elr, last_known_elr=lkelr)


def change(p: PartitionRegistration, live: set[int], target_isr: tuple[int, ...] | None = None,
           election: str = ELECTION_ONLINE, unclean_shutdown: tuple[int, ...] = ()) -> PartitionChangeRecord | None:
    return build_partition_change("id", 0, p, lambda b: b in live, target_isr=target_isr, election=election,
                                  elr=True, min_isr=2, unclean_shutdown=unclean_shutdown)


def test_a_shrink_that_stays_at_min_isr_makes_no_elr() -> None:
    assert change(part((1, 2, 3), 1), {1, 2}, (1, 2)) == PartitionChangeRecord("id", 0, isr=(1, 2))


def test_a_replica_leaving_an_isr_below_min_isr_becomes_eligible() -> None:
    assert change(part((1, 2), 1), {1}, (1,)) == PartitionChangeRecord("id", 0, isr=(1,),
                                                                      eligible_leader_replicas=(2,))


def test_the_last_isr_member_leaving_empties_the_isr_and_is_remembered_as_the_last_leader() -> None:
    assert change(part((1,), 1, elr=(2,)), set(), ()) == PartitionChangeRecord(
        "id", 0, leader=-1, isr=(), eligible_leader_replicas=(1, 2), last_known_elr=(1,))


def test_an_unfenced_elr_member_leads_with_itself_as_the_isr() -> None:
    assert change(part((), -1, elr=(1, 2), lkelr=(1,)), {2}) == PartitionChangeRecord(
        "id", 0, leader=2, isr=(2,), eligible_leader_replicas=(1,), last_known_elr=())


def test_an_unclean_shutdown_leaves_the_elr() -> None:
    assert change(part((), -1, elr=(1, 2), lkelr=(1,)), set(), unclean_shutdown=(2,)) == PartitionChangeRecord(
        "id", 0, eligible_leader_replicas=(1,))


def test_with_isr_and_elr_empty_the_last_known_leader_is_elected_uncleanly_once_unfenced() -> None:
    p = part((), -1, lkelr=(1,))
    assert change(p, {2, 3}) is None                       # fenced: no election; the others never had the data
    assert change(p, {1, 2, 3}) == PartitionChangeRecord("id", 0, leader=1, isr=(1,),
                                                         leader_recovery_state=LEADER_RECOVERY_RECOVERING,
                                                         last_known_elr=())


def test_reaching_min_isr_again_clears_the_elr() -> None:
    assert change(part((2,), 2, elr=(1,)), {1, 2, 3}, (2, 3)) == PartitionChangeRecord(
        "id", 0, isr=(2, 3), eligible_leader_replicas=())


def test_unclean_election_clears_the_elr() -> None:
    # The ELR member 2 is fenced; the topic allows unclean election, so live out-of-sync 3 leads and the ELR goes.
    assert change(part((), -1, elr=(2,), lkelr=(1,)), {3}, election=ELECTION_UNCLEAN) == PartitionChangeRecord(
        "id", 0, leader=3, isr=(3,), leader_recovery_state=LEADER_RECOVERY_RECOVERING, eligible_leader_replicas=(),
        last_known_elr=())


@pytest.mark.parametrize("target", [None, (1, 2, 3)])
def test_nothing_to_do_writes_nothing(target: tuple[int, ...] | None) -> None:
    assert change(part((1, 2, 3), 1), {1, 2, 3}, target) is None

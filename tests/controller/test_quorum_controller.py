"""The QuorumController without a simulator: a fake port plays the KRaft log. Responses wait for commit; an inactive
controller answers NOT_CONTROLLER; leadership loss fails what was pending; the election rules of
PartitionChangeBuilder, one case per rule."""
import random
from collections.abc import Sequence
from typing import Any

import pytest

from kafkalab.controller.quorum_controller import (
    BrokerHeartbeatManager,
    QuorumController,
    build_partition_change,
)
from kafkalab.metadata.image import PartitionRegistration
from kafkalab.metadata.records import NO_CHANGE, MetadataRecord
from kafkalab.protocol import controller as cm
from kafkalab.protocol.admin import (
    ELECTION_PREFERRED,
    DeletableTopicResult,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
)


class FakeLog:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []
        self.log: list[MetadataRecord] = []
        self.timers: dict[str, float] = {}
        self.leader = True

    def send(self, dst: int, msg: Any) -> None:
        self.sent.append((dst, msg))

    def propose(self, records: Sequence[MetadataRecord], now_ms: float) -> int | None:
        if not self.leader:
            return None
        first = len(self.log)
        self.log.extend(records)
        return first

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers[name] = at_ms

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)


def commit_all(qc: QuorumController, port: FakeLog, now: float = 0.0) -> None:
    for offset in range(qc.image.offset + 1, len(port.log)):
        qc.replay(port.log[offset], offset)
    qc.on_committed(len(port.log), now)


def active_controller() -> tuple[QuorumController, FakeLog]:
    """An active controller on an empty log: it has written (and here committed) the bootstrap FeatureLevelRecords,
    so the next record is at offset :data:`BOOT`."""
    port = FakeLog()
    qc = QuorumController(1, port, random.Random(0))
    qc.activate(0.0, 0)
    assert len(port.log) == BOOT
    commit_all(qc, port)
    return qc, port


#: FeatureLevelRecords a new 4.3 cluster bootstraps with: metadata.version, eligible.leader.replicas.version,
#: group.version, share.version, streams.version, transaction.version (kraft.version lives in the Raft log).
BOOT = 6


def test_a_request_is_answered_only_once_its_records_commit() -> None:
    qc, port = active_controller()
    qc.handle(7, cm.BrokerRegistrationRequest(0, "inc-0", correlation_id=1), 10.0)
    assert port.sent == [] and len(port.log) == BOOT + 1
    commit_all(qc, port)
    assert port.sent == [(7, cm.BrokerRegistrationResponse("NONE", broker_epoch=BOOT, correlation_id=1))]


def test_an_inactive_controller_answers_not_controller() -> None:
    port = FakeLog()
    qc = QuorumController(1, port, random.Random(0))
    qc.handle(7, DeleteTopicsRequest(("t",), correlation_id=3), 0.0)
    assert port.sent == [(7, DeleteTopicsResponse((DeletableTopicResult("t", "NOT_CONTROLLER"),), 3))]


def test_losing_leadership_fails_pending_requests() -> None:
    qc, port = active_controller()
    qc.handle(7, cm.BrokerRegistrationRequest(0, "inc-0", correlation_id=1), 10.0)
    qc.deactivate(20.0)
    assert port.sent == [(7, cm.BrokerRegistrationResponse("NOT_CONTROLLER", correlation_id=1))]
    assert port.timers == {}


def test_heartbeat_unfences_once_caught_up_to_the_registration() -> None:
    qc, port = active_controller()
    qc.handle(7, cm.BrokerRegistrationRequest(0, "inc-0", correlation_id=1), 0.0)
    commit_all(qc, port)
    qc.handle(7, cm.BrokerHeartbeatRequest(0, BOOT, current_metadata_offset=BOOT - 1, correlation_id=2), 5.0)
    commit_all(qc, port)
    assert port.sent[-1][1] == cm.BrokerHeartbeatResponse("NONE", is_caught_up=False, is_fenced=True,
                                                          correlation_id=2)
    qc.handle(7, cm.BrokerHeartbeatRequest(0, BOOT, current_metadata_offset=BOOT, correlation_id=3), 10.0)
    commit_all(qc, port)
    assert port.sent[-1][1] == cm.BrokerHeartbeatResponse("NONE", is_caught_up=True, is_fenced=False,
                                                          correlation_id=3)
    assert port.timers["session"] == 10.0 + 9_000


def test_heartbeat_manager_orders_unfenced_brokers_by_last_contact() -> None:
    hb = BrokerHeartbeatManager(9_000)
    hb.touch(1, False, 0)
    hb.touch(2, False, 100)
    hb.touch(1, False, 200)
    hb.touch(3, True, 50)
    assert hb.next_expiry_ms() == 9_100
    assert hb.stale(9_150) == [2]
    assert hb.has_valid_session(3, 9_050) and not hb.has_valid_session(3, 9_051)


PART = PartitionRegistration(replicas=(1, 2, 3), isr=(1, 2, 3), leader=1, leader_epoch=4, partition_epoch=9)


@pytest.mark.parametrize("live,target_isr,election,leader,isr", [
    ({1, 2, 3}, None, "ONLINE", NO_CHANGE, None),               # nothing to do
    ({2, 3}, (2, 3), "ONLINE", 2, (2, 3)),                      # leader fenced: first live ISR member in replica order
    ({1, 2, 3}, (1, 3), "ONLINE", NO_CHANGE, (1, 3)),           # ISR shrink keeps the leader (no epoch bump)
    (set(), (), "ONLINE", -1, None),                            # the last member stays in the ISR; no leader
    ({3}, (1,), "ONLINE", -1, (1,)),                            # only an out-of-sync replica is alive: offline
    ({3}, (1,), "UNCLEAN", 3, (3,)),                            # ... unless unclean election is allowed
    ({1, 2, 3}, None, "PREFERRED", NO_CHANGE, None),
])
def test_partition_change_rules(live: set[int], target_isr: tuple[int, ...] | None, election: str, leader: int,
                                isr: tuple[int, ...] | None) -> None:
    change = build_partition_change("id", 0, PART, lambda b: b in live, target_isr=target_isr, election=election)
    if leader == NO_CHANGE and isr is None:
        assert change is None
        return
    assert change is not None
    assert (change.leader, change.isr) == (leader, isr)
    merged = PART.merge(change)
    assert merged.partition_epoch == 10
    assert merged.leader_epoch == (5 if leader != NO_CHANGE else 4)


def test_preferred_election_moves_leadership_back() -> None:
    part = PartitionRegistration(replicas=(1, 2, 3), isr=(1, 2, 3), leader=2, leader_epoch=4, partition_epoch=9)
    change = build_partition_change("id", 0, part, lambda b: True, election=ELECTION_PREFERRED)
    assert change is not None and change.leader == 1
    assert build_partition_change("id", 0, part, lambda b: True) is None

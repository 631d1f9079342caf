"""When a broker is unfenced, as Kafka does it (KIP-631; ``BrokerLifecycleManager``, ``BrokerServer.startup``,
``BrokerHeartbeatManager.calculateNextBrokerState``).

The story, for every broker at boot and for a restarted one: it registers (RegisterBrokerRecord at offset E, its
broker epoch) and heartbeats with ``want_fence=true`` until the controller answers ``is_caught_up`` (its metadata
offset reached E). Only then is it ready to unfence, and its next heartbeat, sent at once, carries
``want_fence=false``; the controller answers that one by writing the unfence record (a BrokerRegistrationChangeRecord
after E) and saying ``is_fenced=false``. No heartbeat before the caught-up answer asks to be unfenced, so unfencing
takes that one round trip more than granting it on the first heartbeat that shows E applied.
"""
from __future__ import annotations

from typing import Any

import pytest

import kafkalab as kl
from kafkalab.metadata.records import BrokerRegistrationChangeRecord, RegisterBrokerRecord
from kafkalab.protocol import controller as cm
from kafkalab.sim.network import Network
from tests.controller.test_metadata_log import records as metadata_records

Event = tuple[float, Any, Any, Any, Any]        # (sent at, src, dst, message, arrives at)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Every registration and heartbeat message sent, with its send and arrival times."""
    sent: list[Event] = []
    original = Network.send

    def send(self: Network, src: Any, dst: Any, msg: Any, size_bytes: int = 64) -> Any:
        now = self.kernel.now
        arrival = original(self, src, dst, msg, size_bytes)
        if isinstance(msg, (cm.BrokerRegistrationRequest, cm.BrokerRegistrationResponse,
                            cm.BrokerHeartbeatRequest, cm.BrokerHeartbeatResponse)):
            sent.append((now, src, dst, msg, arrival))
        return arrival
    monkeypatch.setattr(Network, "send", send)
    return sent


def unfencing_story(cluster: kl.Cluster, wire: list[Event], broker: int, epoch: int) -> dict[str, Any]:
    """The lifecycle exchange of ``broker`` under ``epoch`` and the records it wrote, checked for Kafka's order."""
    records = metadata_records(cluster.controller(cluster.active_controller))
    (reg_offset,) = [o for o, r in records if isinstance(r, RegisterBrokerRecord) and r.broker_id == broker
                     and r.broker_epoch == epoch]
    (unfence_offset,) = [o for o, r in records if isinstance(r, BrokerRegistrationChangeRecord)
                         and r.broker_id == broker and r.broker_epoch == epoch and r.fenced is False]
    assert reg_offset == epoch                    # the broker epoch is the registration record's offset
    requests = [(t, m) for t, src, _, m, _ in wire if src == broker and isinstance(m, cm.BrokerHeartbeatRequest)
                and m.broker_epoch == epoch]
    answers = {m.correlation_id: (arrival, m) for _, _, dst, m, arrival in wire if dst == broker
               and isinstance(m, cm.BrokerHeartbeatResponse)}
    first_ask = next(i for i, (_, m) in enumerate(requests) if not m.want_fence)
    caught_up = next(i for i, (_, m) in enumerate(requests)
                     if m.correlation_id in answers and answers[m.correlation_id][1].is_caught_up)
    ask_time, ask = requests[first_ask]
    told_time, _ = answers[requests[caught_up][1].correlation_id]
    # every heartbeat up to the one answered "caught up" wanted to stay fenced; the next one asks, sent at once
    assert first_ask == caught_up + 1
    assert all(m.want_fence for _, m in requests[:first_ask])
    assert requests[caught_up][1].current_metadata_offset >= reg_offset
    assert ask_time == told_time
    assert ask.current_metadata_offset >= reg_offset
    # the unfence record is written for that heartbeat, after the registration record, and its answer unfences
    assert reg_offset < unfence_offset and ask.current_metadata_offset < unfence_offset
    answer_time, answer = answers[ask.correlation_id]
    assert answer.is_fenced is False and answer_time > ask_time
    assert all(answers[m.correlation_id][1].is_fenced for _, m in requests[:first_ask] if m.correlation_id in answers)
    return {"reg": reg_offset, "caught_up_hb": caught_up, "unfence": unfence_offset}


def test_every_broker_asks_to_be_unfenced_only_after_the_controller_said_it_caught_up(wire):
    cluster = kl.Cluster(seed=5)
    for broker in cluster.brokers:
        epoch = cluster.broker(broker).lifecycle.broker_epoch
        unfencing_story(cluster, wire, broker, epoch)


def test_a_restarted_broker_is_unfenced_the_same_way_under_its_new_epoch(wire):
    cluster = kl.Cluster(seed=6)
    old_epoch = cluster.broker(2).lifecycle.broker_epoch
    cluster.crash(2)
    cluster.run(500)
    cluster.restart(2)
    assert cluster.run_until(lambda: cluster.broker(2).lifecycle.state.value == "RUNNING", 20_000)
    new_epoch = cluster.broker(2).lifecycle.broker_epoch
    assert new_epoch > old_epoch
    story = unfencing_story(cluster, wire, 2, new_epoch)
    assert story["reg"] == new_epoch
    assert not cluster.image().brokers[2].fenced

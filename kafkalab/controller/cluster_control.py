"""Brokers on the active controller: registration, heartbeats, fencing and controlled shutdown (Kafka's
``ClusterControlManager``, plus the heartbeat handling Kafka keeps in ``ReplicationControlManager``:
``processBrokerHeartbeat`` and ``maybeFenceOneStaleBroker``).

How it works.

- Registration gives a broker epoch = the offset of its RegisterBrokerRecord; a broker starts fenced; a different
  incarnation while the old session is valid gets DUPLICATE_BROKER_REGISTRATION; a re-registration first takes the
  broker out of every ISR, and with KIP-966's ELR on a new incarnation out of every ELR too
  (``handleBrokerShutdown`` with ``isCleanShutdown=false``: kafkalab's brokers keep no clean-shutdown file, so no
  restart can prove ``previousBrokerEpoch``).
- Heartbeat times are soft state of the active controller only (:class:`~kafkalab.controller.heartbeats.
  BrokerHeartbeatManager`, built in :meth:`ClusterControlManager.activate`, dropped on deactivation). A newly active
  controller starts every registered broker's session afresh, so a broker that died just before a failover is
  fenced ``broker.session.timeout.ms`` after the *new* controller took over. Unfenced brokers sit in an ordered
  dict by last contact, so the oldest is first and one timer (``session``, set for the oldest deadline) finds every
  stale broker; each is fenced in its own write (Kafka fences one per scheduled event).
- Next state per heartbeat (``calculateNextBrokerState``): fenced -> unfenced once it does not ``want_fence`` and
  its metadata offset reached its registration record (then leaderless partitions get leaders); ``want_shut_down``
  -> controlled shutdown (leadership and ISR membership move away), then ``should_shut_down`` once it leads nothing
  and every active broker has seen those records (lowest active metadata offset >= its controlled-shutdown offset);
  a fenced broker, or one that leads nothing, may go at once. Fencing takes the broker out of every ISR first.
- A broker may lead or join an ISR when it is registered, unfenced and not in controlled shutdown
  (:meth:`ClusterControlManager.is_active`, Kafka's ``isActive``). New replicas go to the usable brokers
  (registered and not shutting down, fenced ones included) through the ``StripedReplicaPlacer``
  (:mod:`~kafkalab.controller.placement`, Kafka's ``replicaPlacer``).

The partition side of these changes (ISR removal, elections) comes from
:class:`~kafkalab.controller.replication_control.ReplicationControlManager`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.controller.heartbeats import BrokerHeartbeatManager
from kafkalab.controller.placement import StripedReplicaPlacer, UsableBroker
from kafkalab.metadata.records import (
    NO_LEADER,
    BrokerRegistrationChangeRecord,
    MetadataRecord,
    RegisterBrokerRecord,
)
from kafkalab.protocol.common import NONE
from kafkalab.protocol.controller import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
)

if TYPE_CHECKING:       # the quorum controller builds its managers
    from kafkalab.controller.quorum_controller import QuorumController

__all__ = ["ClusterControlManager"]


class ClusterControlManager:
    """Broker registrations and liveness of one :class:`~kafkalab.controller.quorum_controller.QuorumController`."""

    def __init__(self, controller: QuorumController) -> None:
        self.controller = controller
        self.placer = StripedReplicaPlacer(controller.rng)
        #: heartbeat soft state; only while the controller is active
        self.heartbeats: BrokerHeartbeatManager | None = None

    def activate(self, now_ms: float) -> None:
        """Start every registered broker's session afresh and arm the session timer."""
        ctl = self.controller
        hb = BrokerHeartbeatManager(ctl.session_timeout_ms)
        for broker_id in sorted(ctl.image.brokers):
            hb.touch(broker_id, ctl.image.brokers[broker_id].fenced, now_ms)
        self.heartbeats = hb
        self.arm_session_timer()

    def deactivate(self) -> None:
        self.heartbeats = None

    # -- queries -----------------------------------------------------------------------------------------------------
    def is_active(self, broker_id: int, excluded: int = NO_LEADER) -> bool:
        """May lead or join an ISR: registered, unfenced, not in controlled shutdown (``isActive``), and not
        ``excluded``."""
        if broker_id == excluded:
            return False
        reg = self.controller.working.brokers.get(broker_id)
        return reg is not None and not reg.fenced and not reg.in_controlled_shutdown

    def usable_brokers(self) -> list[UsableBroker]:
        """Where new replicas may go (``usableBrokers``): registered and not in controlled shutdown, by id."""
        return [UsableBroker(b, reg.rack, reg.fenced) for b, reg in sorted(self.controller.working.brokers.items())
                if not reg.in_controlled_shutdown]

    def _lowest_active_offset(self) -> int:
        """The lowest metadata offset reported by an active broker (unfenced, not shutting down): a broker in
        controlled shutdown may go once every active broker has seen the records that moved its leadership."""
        assert self.heartbeats is not None
        offsets = self.heartbeats.metadata_offsets
        lowest: int | None = None
        for broker_id, reg in self.controller.working.brokers.items():
            if not reg.fenced and not reg.in_controlled_shutdown:
                offset = offsets.get(broker_id, -1)
                lowest = offset if lowest is None else min(lowest, offset)
        return (1 << 63) - 1 if lowest is None else lowest

    # -- sessions and fencing ----------------------------------------------------------------------------------------
    def arm_session_timer(self) -> None:
        """Set the ``session`` timer for the oldest unfenced broker's deadline (none if every broker is fenced)."""
        assert self.heartbeats is not None
        deadline = self.heartbeats.next_expiry_ms()
        if deadline is not None:
            self.controller.port.set_timer("session", deadline)

    def _fence_records(self, broker_id: int, *, shutdown: bool = False) -> list[MetadataRecord]:
        """``handleBrokerFenced``: leave every ISR, then the registration change that fences the broker."""
        ctl = self.controller
        reg = ctl.working.brokers[broker_id]
        records = ctl.replication_control.isr_removal(broker_id)
        # A fenced broker leaves controlled shutdown (BrokerHeartbeatManager.touch); its next heartbeat may go.
        leaves_shutdown = shutdown or reg.in_controlled_shutdown
        records.append(BrokerRegistrationChangeRecord(broker_id, reg.broker_epoch, fenced=True,
                                                      in_controlled_shutdown=False if leaves_shutdown else None))
        return records

    def fence_stale_brokers(self, now_ms: float) -> None:
        """The ``session`` timer: fence every unfenced broker whose session expired, one write each."""
        ctl = self.controller
        hb = self.heartbeats
        assert hb is not None
        for broker_id in hb.stale(now_ms):
            hb.fenced(broker_id)
            reg = ctl.working.brokers.get(broker_id)
            if reg is None or reg.fenced:
                continue
            if ctl._write(self._fence_records(broker_id), now_ms) is None:
                return
        if ctl.active:
            self.arm_session_timer()

    # -- BrokerRegistration and BrokerHeartbeat -----------------------------------------------------------------------
    def register_broker(self, src: int, req: BrokerRegistrationRequest, now_ms: float) -> None:
        """``registerBroker``: a (re-)registration, fenced, with broker epoch = the offset of its record."""
        ctl = self.controller
        hb = self.heartbeats
        assert hb is not None
        existing = ctl.working.brokers.get(req.broker_id)
        if (existing is not None and existing.incarnation_id != req.incarnation_id
                and hb.has_valid_session(req.broker_id, now_ms)):
            ctl.port.send(src, BrokerRegistrationResponse(
                "DUPLICATE_BROKER_REGISTRATION", error_message="Another broker is registered with that broker id.",
                correlation_id=req.correlation_id))
            return
        # handleBrokerShutdown: a new incarnation cannot prove a clean shutdown (no previousBrokerEpoch here), so with
        # ELR on it also leaves every ELR; without ELR (or the same incarnation) it only leaves the ISRs.
        new_incarnation = existing is not None and existing.incarnation_id != req.incarnation_id
        records: list[MetadataRecord] = [] if existing is None else ctl.replication_control.isr_removal(
            req.broker_id, unclean_shutdown=new_incarnation)
        broker_epoch = ctl._next_write_offset + len(records)
        records.append(RegisterBrokerRecord(req.broker_id, broker_epoch, req.incarnation_id, req.rack, fenced=True))
        if ctl._write(records, now_ms) is None:
            return
        hb.touch(req.broker_id, True, now_ms)
        hb.fenced(req.broker_id)
        ctl._respond_on_commit(src, req, BrokerRegistrationResponse(NONE, broker_epoch,
                                                                  correlation_id=req.correlation_id))

    def process_broker_heartbeat(self, src: int, req: BrokerHeartbeatRequest, now_ms: float) -> None:
        """``processBrokerHeartbeat``: refresh the session, then move the broker to its next state."""
        ctl = self.controller
        hb = self.heartbeats
        assert hb is not None
        reg = ctl.working.brokers.get(req.broker_id)
        if reg is None:
            ctl.port.send(src, BrokerHeartbeatResponse(
                "BROKER_ID_NOT_REGISTERED", error_message=f"Broker {req.broker_id} is not registered.",
                correlation_id=req.correlation_id))
            return
        if reg.broker_epoch != req.broker_epoch:
            ctl.port.send(src, BrokerHeartbeatResponse(
                "STALE_BROKER_EPOCH", error_message=f"Expected broker epoch {reg.broker_epoch}, but got broker "
                                                    f"epoch {req.broker_epoch}",
                correlation_id=req.correlation_id))
            return
        broker_id = req.broker_id
        hb.touch(broker_id, reg.fenced, now_ms)
        hb.metadata_offsets[broker_id] = req.current_metadata_offset
        caught_up = req.current_metadata_offset >= reg.broker_epoch
        should_shut_down = False
        ok = True
        # BrokerHeartbeatManager.calculateNextBrokerState, then the records of the next state.
        if reg.fenced:
            if req.want_shut_down:
                should_shut_down = True                                  # SHUTDOWN_NOW
                hb.fenced(broker_id)
            elif not req.want_fence and caught_up:                       # UNFENCED
                ok = ctl._write([BrokerRegistrationChangeRecord(broker_id, reg.broker_epoch, fenced=False)],
                                now_ms) is not None
                if ok:
                    hb.touch(broker_id, False, now_ms)
                    ok = ctl._write(ctl.replication_control.elect_leaderless(), now_ms) is not None
                    if ok:
                        self.arm_session_timer()
        elif reg.in_controlled_shutdown:
            if (not ctl.replication_control.leads_any(broker_id)
                    and hb.shutdown_offsets.get(broker_id, -1) <= self._lowest_active_offset()):
                should_shut_down = True                                  # SHUTDOWN_NOW
                hb.fenced(broker_id)
                ok = ctl._write(self._fence_records(broker_id, shutdown=True), now_ms) is not None
        elif req.want_fence or (req.want_shut_down and not ctl.replication_control.leads_any(broker_id)):
            should_shut_down = req.want_shut_down                        # FENCED or SHUTDOWN_NOW
            hb.fenced(broker_id)
            ok = ctl._write(self._fence_records(broker_id), now_ms) is not None
        elif req.want_shut_down:                                         # CONTROLLED_SHUTDOWN
            ok = ctl._write([BrokerRegistrationChangeRecord(broker_id, reg.broker_epoch,
                                                            in_controlled_shutdown=True)], now_ms) is not None
            if ok:
                end = ctl._write(ctl.replication_control.isr_removal(broker_id), now_ms)
                ok = end is not None
                if end is not None:
                    hb.shutdown_offsets[broker_id] = end - 1
        if not ok:
            return
        after = ctl.working.brokers[broker_id]
        ctl._respond_on_commit(src, req, BrokerHeartbeatResponse(
            NONE, is_caught_up=caught_up, is_fenced=after.fenced, should_shut_down=should_shut_down,
            correlation_id=req.correlation_id))

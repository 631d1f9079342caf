"""The quorum controller as a sans-I/O state machine (KIP-500, KIP-631; Kafka's ``QuorumController``).

How it works. Every controller replays the committed metadata log into :attr:`QuorumController.image` (its driver calls
:meth:`replay` for each newly committed record, then :meth:`on_committed`). One of them is *active*: its KRaft node
leads and has applied everything up to the start of its own epoch (the driver calls :meth:`activate` then, and
:meth:`deactivate` when leadership is lost). Only the active controller handles requests. Like Kafka's, it decides
from an in-memory state that already includes its own uncommitted writes (:attr:`working`, a copy of the committed
image plus every record it proposed since activation, replayed at once), writes records through ``port.propose``
and answers a request only once its records are committed (Kafka completes the request future on commit; a request
that wrote nothing waits for everything written before it). On deactivation the working state is dropped and pending
requests fail with NOT_CONTROLLER, as Kafka reverts to its last committed snapshot.

What it follows:
- ``ClusterControlManager``: registration gives a broker epoch = the offset of its RegisterBrokerRecord; a broker
  starts fenced; a different incarnation while the old session is valid gets DUPLICATE_BROKER_REGISTRATION; a
  re-registration first takes the broker out of every ISR (``handleBrokerUncleanShutdown``).
- ``BrokerHeartbeatManager``: heartbeat times are soft state of the active controller only. A newly active
  controller starts every registered broker's session afresh, so a broker that died just before a failover is
  fenced ``broker.session.timeout.ms`` after the *new* controller took over. Unfenced brokers sit in an ordered
  dict by last contact, so the oldest is first and one timer (set for the oldest deadline) finds every stale broker.
  Next state per heartbeat (``calculateNextBrokerState``): fenced -> unfenced once it does not ``want_fence`` and
  its metadata offset reached its registration record; ``want_shut_down`` -> controlled shutdown (leadership and
  ISR membership move away), then ``should_shut_down`` once it leads nothing and every active broker has seen
  those records (lowest active metadata offset >= its controlled-shutdown offset); a fenced broker, or one that
  leads nothing, may go at once.
- ``ReplicationControlManager`` / ``PartitionChangeBuilder``: leader election keeps a valid leader, else the first
  ISR member in replica order that is unfenced and not shutting down; unclean election (the first live replica, ISR
  set to it alone, leader recovery state RECOVERING) only when the topic's, else the controller's,
  ``unclean.leader.election.enable`` is true. A fenced broker leaves every ISR unless it would empty it (KIP-966's
  eligible leader replicas are off, so an ISR is never emptied: the last member stays and the partition goes
  offline with leader -1). Leader epochs bump on every leader change (``PartitionRegistration.merge``), not on an
  ISR shrink (Kafka >= 3.6). AlterPartition checks broker epoch, leader epoch, partition epoch and eligibility.
- Topics: CreateTopics (StripedReplicaPlacer, ISR = live replicas, leader = first of them; all partitions of a
  request in one proposal), DeleteTopics, CreatePartitions, IncrementalAlterConfigs (validated by
  :func:`kafkalab.config.resolve`), ElectLeaders, AllocateProducerIds (blocks of 1000, ProducerIdsRecord).
- Periodic work: a NoOpRecord when nothing was written for ``metadata.max.idle.interval.ms`` (KIP-835); preferred
  leader election every ``leader.imbalance.check.interval.seconds`` when ``auto.leader.rebalance.enable``.

The election rules are in :mod:`~kafkalab.controller.partition_change`, the heartbeat soft state in
:mod:`~kafkalab.controller.heartbeats`, placement in :mod:`~kafkalab.controller.placement`.

Cost: no per-partition or per-broker timers; three named timers in all. Fencing, unfencing, controlled shutdown and
the imbalance check scan the partitions once (Kafka keeps a broker -> ISR index instead; fine at 10^4 partitions).

Simplifications: no reassignments, directories, features, ACLs, quotas or delegation tokens; dynamic configs are
topic configs only; ``leader.imbalance.per.broker.percentage`` is ignored (as Kafka's KRaft controller does).
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kafkalab.config import Config, resolve
from kafkalab.controller.configuration_control import ConfigurationControlManager
from kafkalab.controller.heartbeats import BrokerHeartbeatManager
from kafkalab.controller.partition_change import ELECTION_ONLINE, build_partition_change, validate_topic_name
from kafkalab.controller.placement import StripedReplicaPlacer, UsableBroker
from kafkalab.controller.producer_id_control import ProducerIdControlManager
from kafkalab.controller.replication_control import ReplicationControlManager
from kafkalab.errors import InvariantViolation
from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.records import (
    NO_LEADER,
    BrokerRegistrationChangeRecord,
    MetadataRecord,
    NoOpRecord,
    RegisterBrokerRecord,
)
from kafkalab.protocol import admin as cm
from kafkalab.protocol.common import NONE
from kafkalab.protocol.controller import (
    AllocateProducerIdsRequest,
    AllocateProducerIdsResponse,
    AlterPartitionRequest,
    AlterPartitionResponse,
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
)

__all__ = ["ControllerPort", "QuorumController", "BrokerHeartbeatManager", "ELECTION_ONLINE",
           "build_partition_change", "validate_topic_name"]

NOT_CONTROLLER = "NOT_CONTROLLER"


class ControllerPort(Protocol):
    """What a :class:`QuorumController` asks of its driver."""

    def send(self, dst: int, msg: Any) -> None: ...

    def propose(self, records: Sequence[MetadataRecord], now_ms: float) -> int | None:
        """Append records to the metadata log (the KRaft leader's ``propose``); the offset of the first or None."""
        ...

    def set_timer(self, name: str, at_ms: float) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


class QuorumController:
    """The controller state machine of one controller node. See the module docstring for the protocol."""

    def __init__(self, node_id: int, port: ControllerPort, rng: random.Random,
                 config: Config | Mapping[str, Any] | None = None) -> None:
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        self.node_id = node_id
        self.port = port
        self.rng = rng
        self.config = config if isinstance(config, Config) else resolve("broker", dict(config or {}))
        self.session_timeout_ms = float(self.config["broker.session.timeout.ms"])
        self.idle_interval_ms = float(self.config["metadata.max.idle.interval.ms"])
        self.imbalance_interval_ms = float(self.config["leader.imbalance.check.interval.seconds"]) * 1000.0
        self.placer = StripedReplicaPlacer(rng)
        self.image = MetadataImage()
        self.active = False
        self.activated_at_ms: float | None = None
        self._working: MetadataImage | None = None
        self._next_write_offset = 0
        self._committed_end = 0
        self._last_write_ms = 0.0
        self._pending: deque[tuple[int, int, Any, Any]] = deque()
        self.heartbeats: BrokerHeartbeatManager | None = None
        self.records_written = 0
        self.configuration_control = ConfigurationControlManager(self)
        self.replication_control = ReplicationControlManager(self)
        self.producer_id_control = ProducerIdControlManager(self)
        self._handlers: dict[type, Callable[[int, Any, float], None]] = {
            BrokerRegistrationRequest: self._on_register,
            BrokerHeartbeatRequest: self._on_heartbeat,
            AlterPartitionRequest: self.replication_control.alter_partition,
            cm.CreateTopicsRequest: self.replication_control.create_topics,
            cm.DeleteTopicsRequest: self.replication_control.delete_topics,
            cm.CreatePartitionsRequest: self.replication_control.create_partitions,
            cm.IncrementalAlterConfigsRequest: self.configuration_control.incremental_alter_configs,
            cm.ElectLeadersRequest: self.replication_control.elect_leaders,
            AllocateProducerIdsRequest: self.producer_id_control.allocate_producer_ids,
        }

    def __repr__(self) -> str:
        return f"QuorumController({self.node_id}, active={self.active}, image={self.image!r})"

    @property
    def working(self) -> MetadataImage:
        """The state decisions are made from: committed + own uncommitted writes when active, else the image."""
        return self._working if self._working is not None else self.image

    # ================================================================================================================
    # inputs from the driver
    # ================================================================================================================
    def replay(self, record: Any, offset: int | None) -> None:
        """A committed record (every controller, in log order)."""
        self.image.replay(record, offset)

    def reset_image(self, image: MetadataImage) -> None:
        """Replace the committed image (after loading a snapshot)."""
        self.image = image

    def on_committed(self, end_offset: int, now_ms: float) -> None:
        """Everything below ``end_offset`` is committed and replayed: answer the requests waiting for it."""
        self._committed_end = max(self._committed_end, end_offset)
        pending = self._pending
        while pending and pending[0][0] <= self._committed_end:
            _, dst, _, response = pending.popleft()
            self.port.send(dst, response)

    def activate(self, now_ms: float, next_write_offset: int) -> None:
        """This node's KRaft replica leads and has applied everything before its epoch: become the active controller."""
        if self.active:
            return
        self.active = True
        self.activated_at_ms = now_ms
        self._working = self.image.copy()
        self._next_write_offset = next_write_offset
        self._committed_end = max(self._committed_end, next_write_offset)
        self._last_write_ms = now_ms
        hb = BrokerHeartbeatManager(self.session_timeout_ms)
        for broker_id in sorted(self.image.brokers):
            hb.touch(broker_id, self.image.brokers[broker_id].fenced, now_ms)
        self.heartbeats = hb
        self._arm_session_timer()
        self.port.set_timer("noop", now_ms + self.idle_interval_ms)
        if self.config["auto.leader.rebalance.enable"]:
            self.port.set_timer("rebalance", now_ms + self.imbalance_interval_ms)

    def deactivate(self, now_ms: float) -> None:
        """Leadership lost: drop the uncommitted state and fail the waiting requests with NOT_CONTROLLER."""
        if not self.active:
            return
        self.active = False
        self.activated_at_ms = None
        self._working = None
        self.heartbeats = None
        for name in ("session", "noop", "rebalance"):
            self.port.cancel_timer(name)
        pending, self._pending = self._pending, deque()
        for _, dst, request, _ in pending:
            self.port.send(dst, self._error_response(request, NOT_CONTROLLER, None))

    def handle(self, src: int, msg: Any, now_ms: float) -> None:
        """A controller request from ``src``."""
        handler = self._handlers.get(type(msg))
        if handler is None:
            raise TypeError(f"controller {self.node_id} got a {type(msg).__name__} from {src}, which is not a "
                            f"controller request")
        if not self.active:
            self.port.send(src, self._error_response(msg, NOT_CONTROLLER, None))
            return
        handler(src, msg, now_ms)

    def on_timer(self, name: str, now_ms: float) -> None:
        if not self.active:
            return
        if name == "session":
            self._fence_stale_brokers(now_ms)
        elif name == "noop":
            if now_ms >= self._last_write_ms + self.idle_interval_ms:
                self._write([NoOpRecord()], now_ms)
            if self.active:
                self.port.set_timer("noop", self._last_write_ms + self.idle_interval_ms)
        elif name == "rebalance":
            self.replication_control.balance_leaders(now_ms)
            if self.active:
                self.port.set_timer("rebalance", now_ms + self.imbalance_interval_ms)
        else:
            raise ValueError(f"controller {self.node_id}: unknown timer {name!r}")

    # ================================================================================================================
    # writing
    # ================================================================================================================
    def _write(self, records: Sequence[MetadataRecord], now_ms: float) -> int | None:
        """Propose ``records`` and replay them into the working state; the end offset (exclusive) or None."""
        if not records:
            return self._next_write_offset
        first = self.port.propose(list(records), now_ms)
        if first is None:
            self.deactivate(now_ms)
            return None
        if first != self._next_write_offset:
            raise InvariantViolation(f"controller {self.node_id}: records proposed at offset {first}, expected "
                                     f"{self._next_write_offset}")
        working = self.working
        for i, record in enumerate(records):
            working.replay(record, first + i)
        self._next_write_offset = first + len(records)
        self._last_write_ms = now_ms
        self.records_written += len(records)
        return self._next_write_offset

    def _respond_on_commit(self, dst: int, request: Any, response: Any) -> None:
        """Answer once everything written so far is committed (Kafka's deferred event queue)."""
        end = self._next_write_offset
        if end <= self._committed_end and not self._pending:
            self.port.send(dst, response)
        else:
            self._pending.append((end, dst, request, response))

    def _error_response(self, request: Any, error: str, message: str | None) -> Any:
        kind = type(request)
        cid = request.correlation_id
        if kind is BrokerRegistrationRequest:
            return BrokerRegistrationResponse(error, error_message=message, correlation_id=cid)
        if kind is BrokerHeartbeatRequest:
            return BrokerHeartbeatResponse(error, error_message=message, correlation_id=cid)
        if kind is AlterPartitionRequest:
            return AlterPartitionResponse(error, correlation_id=cid)
        if kind is cm.CreateTopicsRequest:
            return cm.CreateTopicsResponse(tuple(cm.CreatableTopicResult(t.name, error, message)
                                                 for t in request.topics), cid)
        if kind is cm.DeleteTopicsRequest:
            return cm.DeleteTopicsResponse(tuple(cm.DeletableTopicResult(n, error, message)
                                                 for n in request.topic_names), cid)
        if kind is cm.CreatePartitionsRequest:
            return cm.CreatePartitionsResponse(tuple(cm.CreatePartitionsTopicResult(t.name, error, message)
                                                     for t in request.topics), cid)
        if kind is cm.IncrementalAlterConfigsRequest:
            return cm.IncrementalAlterConfigsResponse(tuple(
                cm.AlterConfigsResourceResult(r.resource_type, r.resource_name, error, message)
                for r in request.resources), cid)
        if kind is cm.ElectLeadersRequest:
            return cm.ElectLeadersResponse(error, correlation_id=cid)
        if kind is AllocateProducerIdsRequest:
            return AllocateProducerIdsResponse(error, correlation_id=cid)
        raise TypeError(f"not a controller request: {kind.__name__}")

    # ================================================================================================================
    # partition leadership
    # ================================================================================================================
    def _acceptable(self, broker_id: int, excluded: int = NO_LEADER) -> bool:
        """May lead or join an ISR: registered, unfenced, not in controlled shutdown (``ClusterControlManager.isActive``)."""
        if broker_id == excluded:
            return False
        reg = self.working.brokers.get(broker_id)
        return reg is not None and not reg.fenced and not reg.in_controlled_shutdown

    def _lowest_active_offset(self) -> int:
        """The lowest metadata offset reported by an active broker (unfenced, not shutting down): a broker in
        controlled shutdown may go once every active broker has seen the records that moved its leadership."""
        assert self.heartbeats is not None
        offsets = self.heartbeats.metadata_offsets
        lowest: int | None = None
        for broker_id, reg in self.working.brokers.items():
            if not reg.fenced and not reg.in_controlled_shutdown:
                offset = offsets.get(broker_id, -1)
                lowest = offset if lowest is None else min(lowest, offset)
        return (1 << 63) - 1 if lowest is None else lowest

    # ================================================================================================================
    # broker lifecycle
    # ================================================================================================================
    def _arm_session_timer(self) -> None:
        assert self.heartbeats is not None
        deadline = self.heartbeats.next_expiry_ms()
        if deadline is not None:
            self.port.set_timer("session", deadline)

    def _fence_records(self, broker_id: int, *, shutdown: bool = False) -> list[MetadataRecord]:
        reg = self.working.brokers[broker_id]
        records = self.replication_control.isr_removal(broker_id)
        # A fenced broker leaves controlled shutdown (BrokerHeartbeatManager.touch); its next heartbeat may go.
        leaves_shutdown = shutdown or reg.in_controlled_shutdown
        records.append(BrokerRegistrationChangeRecord(broker_id, reg.broker_epoch, fenced=True,
                                                      in_controlled_shutdown=False if leaves_shutdown else None))
        return records

    def _fence_stale_brokers(self, now_ms: float) -> None:
        hb = self.heartbeats
        assert hb is not None
        for broker_id in hb.stale(now_ms):
            hb.fenced(broker_id)
            reg = self.working.brokers.get(broker_id)
            if reg is None or reg.fenced:
                continue
            if self._write(self._fence_records(broker_id), now_ms) is None:
                return
        if self.active:
            self._arm_session_timer()

    def _on_register(self, src: int, req: BrokerRegistrationRequest, now_ms: float) -> None:
        hb = self.heartbeats
        assert hb is not None
        existing = self.working.brokers.get(req.broker_id)
        if (existing is not None and existing.incarnation_id != req.incarnation_id
                and hb.has_valid_session(req.broker_id, now_ms)):
            self.port.send(src, BrokerRegistrationResponse(
                "DUPLICATE_BROKER_REGISTRATION", error_message="Another broker is registered with that broker id.",
                correlation_id=req.correlation_id))
            return
        records: list[MetadataRecord] = self.replication_control.isr_removal(req.broker_id) if existing is not None else []
        broker_epoch = self._next_write_offset + len(records)
        records.append(RegisterBrokerRecord(req.broker_id, broker_epoch, req.incarnation_id, req.rack, fenced=True))
        if self._write(records, now_ms) is None:
            return
        hb.touch(req.broker_id, True, now_ms)
        hb.fenced(req.broker_id)
        self._respond_on_commit(src, req, BrokerRegistrationResponse(NONE, broker_epoch,
                                                                   correlation_id=req.correlation_id))

    def _on_heartbeat(self, src: int, req: BrokerHeartbeatRequest, now_ms: float) -> None:
        hb = self.heartbeats
        assert hb is not None
        reg = self.working.brokers.get(req.broker_id)
        if reg is None:
            self.port.send(src, BrokerHeartbeatResponse(
                "BROKER_ID_NOT_REGISTERED", error_message=f"Broker {req.broker_id} is not registered.",
                correlation_id=req.correlation_id))
            return
        if reg.broker_epoch != req.broker_epoch:
            self.port.send(src, BrokerHeartbeatResponse(
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
                ok = self._write([BrokerRegistrationChangeRecord(broker_id, reg.broker_epoch, fenced=False)],
                                 now_ms) is not None
                if ok:
                    hb.touch(broker_id, False, now_ms)
                    ok = self._write(self.replication_control.elect_leaderless(), now_ms) is not None
                    if ok:
                        self._arm_session_timer()
        elif reg.in_controlled_shutdown:
            if (not self.replication_control.leads_any(broker_id)
                    and hb.shutdown_offsets.get(broker_id, -1) <= self._lowest_active_offset()):
                should_shut_down = True                                  # SHUTDOWN_NOW
                hb.fenced(broker_id)
                ok = self._write(self._fence_records(broker_id, shutdown=True), now_ms) is not None
        elif req.want_fence or (req.want_shut_down and not self.replication_control.leads_any(broker_id)):
            should_shut_down = req.want_shut_down                        # FENCED or SHUTDOWN_NOW
            hb.fenced(broker_id)
            ok = self._write(self._fence_records(broker_id), now_ms) is not None
        elif req.want_shut_down:                                         # CONTROLLED_SHUTDOWN
            ok = self._write([BrokerRegistrationChangeRecord(broker_id, reg.broker_epoch,
                                                             in_controlled_shutdown=True)], now_ms) is not None
            if ok:
                end = self._write(self.replication_control.isr_removal(broker_id), now_ms)
                ok = end is not None
                if end is not None:
                    hb.shutdown_offsets[broker_id] = end - 1
        if not ok:
            return
        after = self.working.brokers[broker_id]
        self._respond_on_commit(src, req, BrokerHeartbeatResponse(
            NONE, is_caught_up=caught_up, is_fenced=after.fenced, should_shut_down=should_shut_down,
            correlation_id=req.correlation_id))

    def _usable_brokers(self) -> list[UsableBroker]:
        return [UsableBroker(b, reg.rack, reg.fenced) for b, reg in sorted(self.working.brokers.items())
                if not reg.in_controlled_shutdown]

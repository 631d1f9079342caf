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

The controller is a facade, as Kafka's is: it owns activation, the working state, writing and the answers that wait
for commit, request dispatch and the timers, and hands each request to the control manager that serves it:

- :mod:`~kafkalab.controller.cluster_control` (``ClusterControlManager``): BrokerRegistration, BrokerHeartbeat,
  session fencing and controlled shutdown, with the heartbeat soft state (:mod:`~kafkalab.controller.heartbeats`)
  and replica placement (:mod:`~kafkalab.controller.placement`);
- :mod:`~kafkalab.controller.replication_control` (``ReplicationControlManager``): CreateTopics, DeleteTopics,
  CreatePartitions, AlterPartition, ElectLeaders, and the ISR changes and elections that broker changes cause (the
  election rules are in :mod:`~kafkalab.controller.partition_change`);
- :mod:`~kafkalab.controller.configuration_control` (``ConfigurationControlManager``): IncrementalAlterConfigs and
  the per-topic ``unclean.leader.election.enable``;
- :mod:`~kafkalab.controller.producer_id_control` (``ProducerIdControlManager``): AllocateProducerIds;
- :mod:`~kafkalab.controller.client_quota_control` (``ClientQuotaControlManager``): AlterClientQuotas and
  DescribeClientQuotas (KIP-546).

A manager decides from :attr:`~QuorumController.working` and writes through the controller: ``_write`` proposes the
records and replays them into the working state at once, ``_respond_on_commit`` queues the answer behind them.
Kafka's managers return a ``ControllerResult`` (records and response) that the controller then writes; here some
handlers write more than once and decide the later records from the state after an earlier write (unfencing, then
elections for leaderless partitions; a config change, then unclean elections), so they write as they go.

Timers: three named timers in all, no per-partition or per-broker ones. ``session`` (the oldest unfenced broker's
session deadline; the cluster manager), ``noop`` (a NoOpRecord when nothing was written for
``metadata.max.idle.interval.ms``, KIP-835) and ``rebalance`` (preferred-leader election every
``leader.imbalance.check.interval.seconds`` when ``auto.leader.rebalance.enable``; the replication manager).

Feature levels (KIP-584, KIP-1022): the controller is formatted with :func:`~kafkalab.metadata.features.
bootstrap_features` (from its config) and, activating on an empty log, writes them as ``FeatureLevelRecord`` rows
before anything else, as Kafka's first active controller writes the bootstrap checkpoint's records. There is no
``FeatureControlManager``: no UpdateFeatures, so levels stay as formatted; managers read them from the image.

Simplifications: no reassignments, directories, feature upgrades, ACLs or delegation tokens; of quotas, client
byte-rate quotas only; dynamic
configs are topic configs only. Each manager's docstring names its own.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kafkalab.common.topic import validate_topic_name
from kafkalab.config import Config, resolve
from kafkalab.controller.client_quota_control import ClientQuotaControlManager
from kafkalab.controller.cluster_control import ClusterControlManager
from kafkalab.controller.configuration_control import ConfigurationControlManager
from kafkalab.controller.heartbeats import BrokerHeartbeatManager
from kafkalab.controller.partition_change import ELECTION_ONLINE, build_partition_change
from kafkalab.controller.placement import StripedReplicaPlacer
from kafkalab.controller.producer_id_control import ProducerIdControlManager
from kafkalab.controller.replication_control import ReplicationControlManager
from kafkalab.errors import InvariantViolation
from kafkalab.metadata.features import METADATA_VERSION, bootstrap_features
from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.records import FeatureLevelRecord, MetadataRecord, NoOpRecord
from kafkalab.protocol import admin as cm
from kafkalab.protocol import quotas as qm
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
        #: the finalized feature levels this cluster is formatted with (raises ConfigError for a bad choice)
        self.bootstrap_features = bootstrap_features(self.config)
        self.image = MetadataImage()
        self.active = False
        self.activated_at_ms: float | None = None
        self._working: MetadataImage | None = None
        self._next_write_offset = 0
        self._committed_end = 0
        self._last_write_ms = 0.0
        self._pending: deque[tuple[int, int, Any, Any]] = deque()
        self.records_written = 0
        self.cluster_control = ClusterControlManager(self)
        self.configuration_control = ConfigurationControlManager(self)
        self.replication_control = ReplicationControlManager(self)
        self.producer_id_control = ProducerIdControlManager(self)
        self.client_quota_control = ClientQuotaControlManager(self)
        self._handlers: dict[type, Callable[[int, Any, float], None]] = {
            BrokerRegistrationRequest: self.cluster_control.register_broker,
            BrokerHeartbeatRequest: self.cluster_control.process_broker_heartbeat,
            AlterPartitionRequest: self.replication_control.alter_partition,
            cm.CreateTopicsRequest: self.replication_control.create_topics,
            cm.DeleteTopicsRequest: self.replication_control.delete_topics,
            cm.CreatePartitionsRequest: self.replication_control.create_partitions,
            cm.IncrementalAlterConfigsRequest: self.configuration_control.incremental_alter_configs,
            cm.ElectLeadersRequest: self.replication_control.elect_leaders,
            AllocateProducerIdsRequest: self.producer_id_control.allocate_producer_ids,
            qm.AlterClientQuotasRequest: self.client_quota_control.alter_client_quotas,
            qm.DescribeClientQuotasRequest: self.client_quota_control.describe_client_quotas,
        }

    def __repr__(self) -> str:
        return f"QuorumController({self.node_id}, active={self.active}, image={self.image!r})"

    @property
    def heartbeats(self) -> BrokerHeartbeatManager | None:
        """The heartbeat soft state (only while active); kept by :attr:`cluster_control`."""
        return self.cluster_control.heartbeats

    @property
    def placer(self) -> StripedReplicaPlacer:
        """The replica placer; kept by :attr:`cluster_control`."""
        return self.cluster_control.placer

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
        self.cluster_control.activate(now_ms)
        self.port.set_timer("noop", now_ms + self.idle_interval_ms)
        if self.config["auto.leader.rebalance.enable"]:
            self.port.set_timer("rebalance", now_ms + self.imbalance_interval_ms)
        if METADATA_VERSION not in self.image.features:
            self._write(self._bootstrap_records(), now_ms)

    def _bootstrap_records(self) -> list[MetadataRecord]:
        """The bootstrap records of an empty log (``ActivationRecordsGenerator.recordsForEmptyLog``): one
        ``FeatureLevelRecord`` per finalized feature, ``metadata.version`` first; level 0 is not written and
        ``kraft.version`` lives in the Raft log, not here."""
        levels = self.bootstrap_features
        names = [METADATA_VERSION] + [n for n in levels if n not in (METADATA_VERSION, "kraft.version")]
        return [FeatureLevelRecord(n, levels[n]) for n in names if levels[n] > 0]

    def deactivate(self, now_ms: float) -> None:
        """Leadership lost: drop the uncommitted state and fail the waiting requests with NOT_CONTROLLER."""
        if not self.active:
            return
        self.active = False
        self.activated_at_ms = None
        self._working = None
        self.cluster_control.deactivate()
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
            self.cluster_control.fence_stale_brokers(now_ms)
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
        if kind is qm.AlterClientQuotasRequest:
            return qm.AlterClientQuotasResponse(tuple(qm.AlterClientQuotasEntryResult(e.entity, error, message)
                                                      for e in request.entries), cid)
        if kind is qm.DescribeClientQuotasRequest:
            return qm.DescribeClientQuotasResponse(error, (), message, cid)
        raise TypeError(f"not a controller request: {kind.__name__}")

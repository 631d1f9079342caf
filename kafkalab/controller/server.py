"""ControllerServer: the World process of a controller node (Kafka's ``ControllerServer`` in KRaft mode).

How it works. The process runs a KRaft *voter* of ``__cluster_metadata`` (:class:`~kafkalab.metadata.log_replica.
MetadataLogReplica`: log, quorum state and snapshot on the node's Disk) and a :class:`~kafkalab.controller.
quorum_controller.QuorumController`. Raft messages go to the replica, controller requests to the controller. After
every input (message, timer, fsync) the server

1. hands the newly committed records, with their offsets, to the controller (``replay``), then tells it how far the
   log is committed (``on_committed``) so it can answer the requests that waited for their records;
2. follows leadership: when the replica leads in epoch ``e`` and has applied everything below the end of its own
   LeaderChange record, the controller is activated (Kafka's ``QuorumMetaLogListener.handleLeaderChange`` fires for
   a new leader only once its epoch start is committed); when it stops leading, or the epoch moves, it is deactivated.

The active controller records metrics of what commits: ``controller.active`` (1/0 on every change),
``controller.broker_registered``/``_fenced``/``_unfenced``/``_controlled_shutdown`` (value: the broker id) and
``controller.leader_changes`` (how many partitions changed leader in one commit).

A request that makes the controller raise and breaks its schema (:func:`~kafkalab.protocol.conformance.violations`:
what Kafka could not have parsed) is counted in ``controller.invalid_requests`` and dropped unanswered, as Kafka closes
such a connection; a well-formed request that raises is a bug and still stops the run.

A restart builds a fresh process from the disk: the latest snapshot, if one was taken, is loaded into a new image and
the log after it is replayed as the high watermark becomes known again, so every controller's image converges to the
same state.

Snapshots (KIP-630): like every Kafka 4 node, each controller, active or standby, snapshots its committed image when
its :class:`~kafkalab.metadata.snapshot_generator.SnapshotGenerator` says so (``metadata.log.max.record.bytes.
between.snapshots`` bytes of committed batches, or ``metadata.log.max.snapshot.interval.ms`` since the last
snapshot); the active controller's uncommitted working state never goes into one. Metric
``metadata.snapshot_generated`` (value: the snapshot's end offset).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafkalab.config import Config, resolve
from kafkalab.controller.quorum_controller import QuorumController
from kafkalab.errors import InvariantViolation
from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.log_replica import MetadataLogReplica
from kafkalab.metadata.records import (
    NO_CHANGE,
    BrokerRegistrationChangeRecord,
    MetadataRecord,
    PartitionChangeRecord,
    RegisterBrokerRecord,
)
from kafkalab.ports import NamedTimers, ProcessPort
from kafkalab.protocol.conformance import violations
from kafkalab.protocol.controller import CONTROLLER_REQUESTS, message_size_bytes
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.state import Role

__all__ = ["ControllerServer"]

_REQUEST_TYPES = frozenset(CONTROLLER_REQUESTS)


class ControllerServer:
    """One controller node: a KRaft voter plus the quorum controller (active on the raft leader only)."""

    def __init__(self, ctx: ProcessPort, voters: Sequence[int], config: Config | Mapping[str, Any] | None = None,
                 raft_config: RaftConfig | None = None) -> None:
        self.ctx = ctx
        self.node_id: int = ctx.node_id  # type: ignore[assignment]
        self.config = config if isinstance(config, Config) else resolve("broker", dict(config or {}))
        raft_config = raft_config if raft_config is not None else RaftConfig.from_config(self.config)
        self.replica = MetadataLogReplica(ctx, voters, raft_config, self._after, metadata_config=self.config)
        self.timers = NamedTimers(ctx, self._on_timer, "controller")
        self.controller = QuorumController(self.node_id, self, ctx.rng("controller"), self.config)
        self._claim: tuple[int, int] | None = None      # (epoch, end offset of its LeaderChange record)
        self._started = False
        self.replica.start()
        self._started = True
        self._after()

    @classmethod
    def factory(cls, voters: Sequence[int], config: Config | Mapping[str, Any] | None = None,
                raft_config: RaftConfig | None = None) -> Callable[[ProcessPort], ControllerServer]:
        """A World node factory: ``world.add_node(3000, ControllerServer.factory((3000, 3001, 3002)))``."""
        return lambda ctx: cls(ctx, voters, config, raft_config)

    # -- queries ----------------------------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.controller.active

    @property
    def image(self) -> MetadataImage:
        """The committed metadata image of this controller."""
        return self.controller.image

    @property
    def raft(self) -> Any:
        return self.replica.node

    # -- World process ----------------------------------------------------------------------------------------------
    def on_message(self, src: Any, msg: Any) -> None:
        if type(msg) in _REQUEST_TYPES:
            try:
                self.controller.handle(src, msg, self.ctx.now)
            except InvariantViolation:
                raise
            except Exception:
                problems = violations(msg)
                if not problems:
                    raise    # a well-formed request broke the controller: our bug, which must stop the run
                # An unparseable request never reaches Kafka's controller: the connection closes, nothing answers.
                self.ctx.record("controller.invalid_requests", 1, api=type(msg).__name__, src=str(src),
                                problem=problems[0])
            self._after()
        else:
            self.replica.handle(src, msg)

    # -- ControllerPort ---------------------------------------------------------------------------------------------
    def send(self, dst: int, msg: Any) -> None:
        self.ctx.send(dst, msg, message_size_bytes(msg))

    def propose(self, records: Sequence[MetadataRecord], now_ms: float) -> int | None:
        return self.replica.node.propose(records, now_ms)

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers.set(name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.timers.cancel(name)

    def _on_timer(self, name: str) -> None:
        self.controller.on_timer(name, self.ctx.now)
        self._after()

    # -- after every input ------------------------------------------------------------------------------------------
    def _after(self) -> None:
        if not self._started:
            return
        now = self.ctx.now
        controller = self.controller
        replica = self.replica
        snapshot, records = replica.drain()
        if snapshot is not None:
            controller.reset_image(MetadataImage.from_records(snapshot.values, snapshot.end_offset - 1))
        for offset, record in records:
            controller.replay(record, offset)
        image = controller.image
        if image.offset < replica.next_offset - 1:
            image.offset = replica.next_offset - 1      # control records count too (the image's provenance)
        replica.maybe_snapshot(image)
        if records and controller.active:
            self._record_events(records)
        node = self.replica.node
        if node.role is Role.LEADER:
            if self._claim is None or self._claim[0] != node.epoch:
                if controller.active:
                    controller.deactivate(now)
                    self.ctx.record("controller.active", 0)
                self._claim = (node.epoch, node.log.log_end_offset)
            if not controller.active and self.replica.next_offset >= self._claim[1]:
                controller.activate(now, node.log.log_end_offset)
                self.ctx.record("controller.active", 1, epoch=node.epoch)
        elif controller.active:
            controller.deactivate(now)
            self.ctx.record("controller.active", 0)
        controller.on_committed(self.replica.next_offset, now)

    def _record_events(self, records: list[tuple[int, Any]]) -> None:
        """Metrics of committed broker and leadership changes (the active controller reports them, once)."""
        record_metric = self.ctx.record
        leader_changes = 0
        for _, record in records:
            kind = type(record)
            if kind is PartitionChangeRecord:
                leader_changes += record.leader != NO_CHANGE
            elif kind is RegisterBrokerRecord:
                record_metric("controller.broker_registered", record.broker_id, broker_epoch=record.broker_epoch)
            elif kind is BrokerRegistrationChangeRecord:
                if record.fenced is not None:
                    record_metric("controller.broker_fenced" if record.fenced else "controller.broker_unfenced",
                                  record.broker_id)
                if record.in_controlled_shutdown:
                    record_metric("controller.broker_controlled_shutdown", record.broker_id)
        if leader_changes:
            record_metric("controller.leader_changes", leader_changes)

    def __repr__(self) -> str:
        node = self.replica.node
        return (f"ControllerServer({self.node_id}, {node.role.value}, epoch={node.epoch}, active={self.active}, "
                f"image={self.image!r})")

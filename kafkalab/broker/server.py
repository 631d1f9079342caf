"""The broker node: a World process that composes metadata, lifecycle and the replica manager (Kafka's
``BrokerServer``).

How it works. :class:`BrokerServer` is what ``World.add_node(id, lambda ctx: BrokerServer(ctx, id, controllers,
config))`` runs. It is the port of the sans-I/O :class:`~kafkalab.broker.replica_manager.ReplicaManager` (messages,
named timers, AlterPartition to the controller, logs on the node's Disk) and dispatches what arrives:

- client requests (Metadata, Produce, Fetch, ListOffsets, InitProducerId) and follower fetches go through the broker's
  request-handler queue (:mod:`kafkalab.broker.cost`), then to the replica manager; Metadata is answered from the
  broker's metadata image, and a missing topic is created through the controller when the broker and the request
  allow it (:mod:`kafkalab.broker.auto_topic_creation`);
- fetch responses from leaders go through the replica fetcher queue to the replica manager's fetchers;
- KRaft messages go to the metadata listener (a KRaft observer, :mod:`kafkalab.broker.metadata`), whose replayed
  changes drive :meth:`ReplicaManager.apply_change`: leadership is acted on only through the image;
- lifecycle messages (registration, heartbeats) go to the lifecycle manager (:mod:`kafkalab.broker.lifecycle`); its
  broker epoch is what AlterPartition and follower fetches carry. The replica manager acts on the image only once the
  broker is registered and has caught up with the metadata log (Kafka installs its metadata publisher then), so a
  restarted broker does not replicate (or rejoin an ISR) on a stale image. :meth:`BrokerServer.begin_controlled_shutdown`
  asks the controller to move leadership away, flushes the logs and stops the process.

Client quotas (KIP-219, :mod:`kafkalab.broker.quotas`): the quota managers come from the metadata image's
``ClientQuotaRecord`` rows; a throttled client's channel is muted for its throttle time: its requests that arrive
meanwhile are held unread, and those already read but not yet handled wait too (Kafka reads one request per
connection at a time, so they would still be in the socket); at the unmute they are read in arrival order.
``quota_metrics()`` lists the broker's per-client sensors.

A request whose sizing or handling raises and that breaks its schema (:func:`~kafkalab.protocol.conformance.violations`:
what Kafka could not have parsed) is counted in ``broker.invalid_requests`` and dropped unanswered, as Kafka closes
such a connection; a well-formed request that raises is a bug and still stops the run.

With ``controller_ids=()`` there is no control plane: tests (and the data-plane playground) hand the broker a
metadata image with :meth:`BrokerServer.apply_image`, and AlterPartition proposals go to ``alter_partition_hook``.

Logs live on the node's Disk (``attach_log``): a process crash keeps them (page cache), a power loss drops their
unflushed suffix, and a restarted broker reopens them from the disk and recovers by fetching from the leader
(truncating on DivergingEpoch). Kafka's defaults mean no fsync per write; the disk's OS writeback flushes.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafkalab.broker.auto_topic_creation import AutoTopicCreationManager, is_valid_topic_name
from kafkalab.broker.cost import DEFAULT_COST, CostModel, HandlerQueue
from kafkalab.broker.groups import TIMER_PREFIX, LocalReply
from kafkalab.broker.hardware import DiskModel, Hardware, ThreadPool
from kafkalab.broker.partition import IsrProposal
from kafkalab.broker.replica_manager import ReplicaManager
from kafkalab.broker.timers import EXPIRY
from kafkalab.broker.txn import CallbackReply
from kafkalab.config import Config, resolve
from kafkalab.errors import InvariantViolation
from kafkalab.groups.hashing import OFFSETS_TOPIC
from kafkalab.log.log_config import LogConfig
from kafkalab.log.partition_log import PartitionLog
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.ports import ProcessPort, TimerHandle
from kafkalab.protocol import controller as cm
from kafkalab.protocol.admin import CreateTopicsResponse
from kafkalab.protocol.common import HEADER_BYTES, NONE, PARTITION_BYTES
from kafkalab.protocol.conformance import violations
from kafkalab.protocol.fetch import FetchRequest, FetchResponse
from kafkalab.protocol.group import GROUP_REQUESTS, FindCoordinatorRequest
from kafkalab.protocol.list_offsets import ListOffsetsRequest
from kafkalab.protocol.metadata import (
    BrokerInfo,
    MetadataRequest,
    MetadataResponse,
    PartitionMetadata,
    TopicMetadata,
)
from kafkalab.protocol.produce import ProduceRequest
from kafkalab.protocol.sizes import message_size_bytes
from kafkalab.protocol.txn import (
    COORDINATOR_TRANSACTION,
    AddOffsetsToTxnRequest,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    InitProducerIdRequest,
    InitProducerIdResponse,
    TxnOffsetCommitRequest,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)

__all__ = ["BrokerServer"]

_LIFECYCLE = "lifecycle:"
_PID_BLOCK = "producer-id-block"
_HW_CHECKPOINT = "hw-checkpoint"
_HW_CHECKPOINT_KEY = "replication-offset-checkpoint"
_PID_RETRY_MS = 100.0
_TXN_REQUESTS = frozenset((AddPartitionsToTxnRequest, AddOffsetsToTxnRequest, EndTxnRequest))
_REQUESTS = (ProduceRequest, FetchRequest, ListOffsetsRequest, InitProducerIdRequest, MetadataRequest,
             WriteTxnMarkersRequest, *_TXN_REQUESTS)
_GROUP_REQUESTS = frozenset((FindCoordinatorRequest, TxnOffsetCommitRequest, *GROUP_REQUESTS))
_ALL_REQUESTS = frozenset(_REQUESTS) | _GROUP_REQUESTS
#: what a throttled client's muted channel holds back: a consumer talks to its group coordinator on a connection of
#: its own (Kafka's coordinator node id), which a fetch throttle does not mute
_MUTABLE_REQUESTS = _ALL_REQUESTS - frozenset(GROUP_REQUESTS)


_CONTROLLER_REQUESTS = frozenset(cm.CONTROLLER_REQUESTS)
_TXN_TIMER = "txn:"
_QUOTA_TIMER = "quota-unmute:"
_TXN_TOPIC = "__transaction_state"


class _PrefixedPort:
    """The lifecycle manager's port: the server's, with its timer names prefixed."""

    __slots__ = ("server", "prefix")

    def __init__(self, server: BrokerServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix

    def send(self, dst: int, msg: Any) -> None:
        self.server.send(dst, msg)

    def set_timer(self, name: str, at_ms: float) -> None:
        self.server.set_timer(self.prefix + name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.server.cancel_timer(self.prefix + name)


class BrokerServer:
    """One broker process. ``config``: broker config overrides (Kafka's dotted names) or a resolved Config."""

    def __init__(self, ctx: ProcessPort, broker_id: int, controller_ids: Sequence[int] = (),
                 config: Mapping[str, Any] | None = None, *, cost: CostModel | None = None,
                 hardware: Hardware | None = None) -> None:
        self.ctx = ctx
        self.broker_id = broker_id
        self.controller_ids = tuple(controller_ids)
        self.config: Config = config if isinstance(config, Config) else resolve("broker", dict(config or {}))
        self.cost = cost or DEFAULT_COST
        self.handler = HandlerQueue(self.cost)
        self.fetcher_queue = HandlerQueue(self.cost)
        # the opt-in hardware model (kafkalab.broker.hardware): network threads, then request-handler threads, then
        # the disk for appends; without it the one handler queue above is the whole cost
        self.hardware = hardware
        if hardware is not None:
            self.network_threads = ThreadPool(hardware.network_threads)
            self.io_threads = ThreadPool(hardware.io_threads)
            self.replica_fetcher = ThreadPool(1)         # num.replica.fetchers = 1
            self.disk_model = DiskModel(hardware)
        self._timers: dict[str, TimerHandle] = {}
        self._timer_labels: dict[str, str] = {}
        # the replication messages' fast path (no hardware model, a cost model that charges): the idle cycle of
        # every follower->leader pair passes through it twice per replica.fetch.wait.max.ms
        self._charged = hardware is None and not self.cost.free
        self.rm = ReplicaManager(broker_id, self, self.config, incarnation=ctx.incarnation, start_ms=ctx.now)
        self.image = MetadataImage()
        self.alter_partition_hook: Callable[[IsrProposal], None] | None = None
        self.alter_partition_log: list[IsrProposal] = []
        self._correlation = 0
        self.metadata: Any = None
        self.lifecycle: Any = None
        self.groups: Any = None              # BrokerGroups: the group coordinator (with a control plane only)
        self.txn: Any = None                 # BrokerTxn: the transaction coordinator (with a control plane only)
        self.auto_topic_creation: AutoTopicCreationManager | None = None     # with a control plane only
        self.auto_create_topics = bool(self.config["auto.create.topics.enable"])
        self.stopped = False
        self.publishing = not self.controller_ids     # act on metadata (at once without a control plane)
        self._pid_next = 0
        self._pid_end = 0
        self._pid_waiting: list[tuple[Any, InitProducerIdRequest]] = []
        self._pid_in_flight: int | None = None
        self._checkpoint_armed = False
        self._checkpoint_interval_ms = float(self.config["replica.high.watermark.checkpoint.interval.ms"])
        # KIP-219 channel muting: a throttled client's requests wait here until its throttle time has passed
        self._muted: dict[Any, float] = {}
        self._held: dict[Any, list[Any]] = {}           # arrived while muted (not read)
        self._held_read: dict[Any, list[Any]] = {}      # read before the mute, not yet handled (see _handle)
        quotas = self.rm.quotas
        quotas.on_throttle = self._mute
        quotas.exempt = _is_local_reply
        quotas.record = ctx.record
        quotas.thread_ms = self._request_thread_ms
        if self.controller_ids:
            self._start_control_plane()

    @classmethod
    def factory(cls, controller_ids: Sequence[int] = (), config: Mapping[str, Any] | None = None, *,
                cost: CostModel | None = None) -> Callable[[ProcessPort], BrokerServer]:
        """A World node factory (the node id is the broker id): ``world.add_node(1, BrokerServer.factory(voters))``."""
        return lambda ctx: cls(ctx, ctx.node_id, controller_ids, config, cost=cost)  # type: ignore[arg-type]

    def describe(self) -> list[dict[str, Any]]:
        """One row per local replica: topic, partition, role, leader, leader_epoch, isr, high_watermark,
        log_end_offset (what ``Cluster.describe_topic`` and live plots sample)."""
        return self.rm.describe()

    # ---- control plane -------------------------------------------------------------------------------------------
    def _start_control_plane(self) -> None:
        from kafkalab.broker.groups import BrokerGroups
        from kafkalab.broker.lifecycle import BrokerLifecycleManager
        from kafkalab.broker.metadata import BrokerMetadataListener
        from kafkalab.broker.txn import BrokerTxn

        self.groups = BrokerGroups(self)
        self.txn = BrokerTxn(self)
        self.auto_topic_creation = AutoTopicCreationManager(self)

        metadata = BrokerMetadataListener(self.ctx, self.controller_ids, self.config)
        self.metadata = metadata
        metadata.add_listener(self._on_metadata_change)
        self.lifecycle = BrokerLifecycleManager.from_config(
            self.broker_id, _PrefixedPort(self, _LIFECYCLE), self.config, controllers=self.controller_ids,
            incarnation_id=f"broker-{self.broker_id}-{self.ctx.incarnation}",
            metadata_offset=lambda: metadata.metadata_offset,
            active_controller=lambda: metadata.active_controller_id,
            on_shutdown=self._on_controlled_shutdown_done)
        metadata.start()
        self.lifecycle.start(self.ctx.now)

    def begin_controlled_shutdown(self) -> None:
        """Ask the controller to move leadership away; the process stops (logs flushed) once it agrees."""
        if self.lifecycle is None:
            self._on_controlled_shutdown_done()
        else:
            self.lifecycle.begin_controlled_shutdown(self.ctx.now)

    def _on_controlled_shutdown_done(self) -> None:
        # A clean shutdown flushes every log (Kafka's LogManager.shutdown), then the process ends.
        ctx = self.ctx
        ctx.disk.fsync_now()
        self.stopped = True
        ctx.halt()

    def _on_metadata_change(self, change: Change, image: MetadataImage) -> None:
        self.image = image
        if change.client_quotas:
            self.rm.quotas.apply(image.client_quotas)       # Kafka's DynamicClientQuotaPublisher
        if self.publishing:
            self.rm.apply_change(image, change, self.ctx.now)
            if self.groups is not None:
                self.groups.on_metadata_change(image, change)
            if self.txn is not None:
                self.txn.on_metadata_change(image, change)

    def _after_lifecycle(self) -> None:
        """Sync the broker epoch; once registered and caught up, start acting on the image (Kafka's BrokerServer
        installs the replica manager's metadata publisher only after the initial catch-up)."""
        lifecycle = self.lifecycle
        if lifecycle is None:
            return
        if lifecycle.broker_epoch != self.rm.broker_epoch:
            self.rm.set_broker_epoch(lifecycle.broker_epoch)
        if not self.publishing and lifecycle.broker_epoch >= 0 and lifecycle.caught_up:
            self.publishing = True
            self.rm.apply_image(self.image, self.ctx.now)
            if self.groups is not None:
                self.groups.sync_leadership()
            if self.txn is not None:
                self.txn.sync_leadership()

    def apply_image(self, image: MetadataImage, change: Change | None = None) -> None:
        """Without a control plane: act on a hand-made image (every partition, or just ``change``)."""
        self.image = image
        if image.client_quotas or self.rm.quotas.enabled:
            self.rm.quotas.apply(image.client_quotas)
        if change is None:
            self.rm.apply_image(image, self.ctx.now)
        else:
            self.rm.apply_change(image, change, self.ctx.now)

    @property
    def active_controller_id(self) -> int | None:
        return None if self.metadata is None else self.metadata.active_controller_id

    # ---- the replica manager's port -----------------------------------------------------------------------------
    def send(self, dst: Any, msg: Any) -> None:
        if type(dst) in _LOCAL_REPLIES:
            dst.deliver(msg)
            return
        kind = type(msg)
        if self.hardware is None and (kind is FetchRequest or kind is FetchResponse):
            self.ctx.send(dst, msg, _fetch_size(msg))
            return
        size = cm.message_size_bytes(msg) if type(msg) in _CONTROLLER_REQUESTS else message_size_bytes(msg)
        if self.hardware is not None and type(msg) is FetchResponse:
            done = self._read_for_fetch(msg)
            if done > self.ctx.now:
                self.ctx.post_at(done, self.ctx.send, dst, msg, size)
                return
        self.ctx.send(dst, msg, size)

    def _read_for_fetch(self, msg: FetchResponse) -> float:
        """When a fetch response's data has been read: at once from the page cache, or from disk when it starts
        more than ``page_cache_mb`` behind the broker's newest byte. How far behind is estimated per partition as its
        log's bytes after the first returned batch, scaled by the broker's bytes written over that log's bytes
        (the page cache holds the newest bytes of all logs, which interleave in time)."""
        disk = self.disk_model
        total = 0
        behind = 0.0
        for tp, part in msg.responses.items():
            if not part.batches:
                continue
            size = part.records_size_bytes
            total += size
            p = self.rm.partitions.get(tp)
            if p is None:
                continue
            log = p.log
            records = max(1, log.log_end_offset - log.log_start_offset)
            log_behind = (log.log_end_offset - part.batches[0].base_offset) * log.size_bytes / records
            scale = disk.written / log.size_bytes if log.size_bytes else 1.0
            behind = max(behind, log_behind * max(1.0, scale))
        if total == 0:
            return self.ctx.now
        return disk.read(self.ctx.now, total, behind)

    def set_timer(self, name: str, at_ms: float) -> None:
        old = self._timers.get(name)
        if old is not None:
            old.cancel()
        ctx = self.ctx
        label = self._timer_labels.get(name)
        if label is None:
            label = self._timer_labels[name] = f"{self.broker_id}:{name}"
        now = ctx.now
        self._timers[name] = ctx.schedule_at(at_ms if at_ms > now else now, self._on_timer, name, name=label)

    def cancel_timer(self, name: str) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()

    def _on_timer(self, name: str) -> None:
        self._timers.pop(name, None)
        if name == EXPIRY:          # the most frequent one: parked fetches expiring (timer names are disjoint)
            self.rm.on_timer(name, self.ctx.now)
            return
        if name == _HW_CHECKPOINT:
            self._write_hw_checkpoint()
            return
        if name == _PID_BLOCK:
            self._pid_in_flight = None
            self._request_producer_ids()
            return
        if name.startswith(_QUOTA_TIMER):
            self._unmute(name)
            return
        if name.startswith(_TXN_TIMER):
            if self.txn is not None:
                rest = name[len(_TXN_TIMER):]
                if rest.startswith("verify:"):
                    self.txn.on_verify_timeout(int(rest[7:]))
                else:
                    self.txn.on_timer(rest)
            return
        if name.startswith(TIMER_PREFIX):
            if self.groups is not None:
                self.groups.on_timer(name[len(TIMER_PREFIX):])
            return
        if name.startswith(_LIFECYCLE):
            if self.lifecycle is not None:
                self.lifecycle.on_timer(name[len(_LIFECYCLE):], self.ctx.now)
                self._after_lifecycle()
            return
        self.rm.on_timer(name, self.ctx.now)

    def alter_partition(self, proposal: IsrProposal) -> None:
        self.alter_partition_log.append(proposal)
        self.ctx.record("alter_partition", len(proposal.new_isr), topic=proposal.topic,
                        partition=proposal.partition, isr=",".join(map(str, proposal.new_isr)))
        if self.alter_partition_hook is not None:
            self.alter_partition_hook(proposal)
            return
        controller = self.active_controller_id
        if controller is None:
            return          # resent by the ISR check while it stays pending
        self._correlation += 1
        item = cm.AlterPartitionItem(proposal.topic, proposal.partition, proposal.leader_epoch, proposal.new_isr,
                                     proposal.partition_epoch)
        self.send(controller, cm.AlterPartitionRequest(self.broker_id, self.rm.broker_epoch, (item,),
                                                       self._correlation))

    def open_log(self, name: str, config: LogConfig) -> PartitionLog:
        disk = self.ctx.disk
        log = disk.log(name)
        if log is None:
            log = PartitionLog(config, name=name, now_ms=self.ctx.now)
            disk.attach_log(name, log)
        return log  # type: ignore[no-any-return]

    def delete_log(self, name: str) -> None:
        self.ctx.disk.detach_log(name)

    def log_appended(self) -> None:
        self.ctx.disk.arm_log_writeback()
        if not self._checkpoint_armed:
            self._checkpoint_armed = True
            self.set_timer(_HW_CHECKPOINT, self.ctx.now + self._checkpoint_interval_ms)

    def read_hw_checkpoint(self) -> Mapping[str, int]:
        value = self.ctx.disk.read(_HW_CHECKPOINT_KEY)
        return dict(value) if value else {}

    def _write_hw_checkpoint(self) -> None:
        """Kafka's ``replication-offset-checkpoint``: every replica's HW, written (to the page cache) only while
        data flows, so an idle broker has no timer."""
        self._checkpoint_armed = False
        self.ctx.disk.write(_HW_CHECKPOINT_KEY, tuple(sorted(self.rm.high_watermarks().items())))

    def _size_or_malformed(self, src: Any, msg: Any) -> int | None:
        """The request's size on the wire for the cost models, or None when it is malformed and was answered so."""
        try:
            return message_size_bytes(msg)
        except InvariantViolation:
            raise
        except Exception:
            if not self._malformed(src, msg):
                raise
            return None

    def _on_request_with_hardware(self, src: Any, msg: Any, kind: type) -> None:
        """A request through the network threads, a request-handler thread and (produce) the disk, then handled."""
        ctx, hw = self.ctx, self.hardware
        assert hw is not None
        size = self._size_or_malformed(src, msg)
        if size is None:
            return
        done = self.network_threads.admit(ctx.now, (hw.network_request_us + size * hw.network_byte_ns * 1e-3) * 1e-3)
        done = self.io_threads.admit(done, (hw.request_us + size * hw.byte_ns * 1e-3) * 1e-3)
        if kind is ProduceRequest:
            done = self.disk_model.append(done, size)
        ctx.post_at(done, self._handle, src, msg)

    # ---- dispatch --------------------------------------------------------------------------------------------------
    def on_message(self, src: Any, msg: Any) -> None:
        kind = type(msg)
        if self._muted and src in self._muted and kind in _MUTABLE_REQUESTS:
            self._held[src].append(msg)         # a muted channel is not read (KIP-219)
            return
        if self._charged:
            # the replication fast path: sizes computed as message_size_bytes computes them, without its dispatch
            if kind is FetchRequest and type(msg.partitions) is dict:
                ctx = self.ctx
                ctx.post_at(self.handler.admit(ctx.now, HEADER_BYTES + PARTITION_BYTES * len(msg.partitions)),
                            self._handle, src, msg)
                return
            if kind is FetchResponse:
                ctx = self.ctx
                ctx.post_at(self.fetcher_queue.admit(ctx.now, _fetch_size(msg)), self._fetch_response, src, msg)
                return
        if kind in _ALL_REQUESTS:
            if self.hardware is not None:
                self._on_request_with_hardware(src, msg, kind)
            elif self.cost.free:
                self._handle(src, msg)
            else:
                size = self._size_or_malformed(src, msg)
                if size is not None:
                    ctx = self.ctx
                    ctx.post_at(self.handler.admit(ctx.now, size), self._handle, src, msg)
            return
        if kind is FetchResponse:
            if self.hardware is not None:
                hw, ctx = self.hardware, self.ctx
                size = message_size_bytes(msg)
                done = self.replica_fetcher.admit(ctx.now, (hw.request_us + size * hw.byte_ns * 1e-3) * 1e-3)
                done = self.disk_model.append(done, size)
                ctx.post_at(done, self._fetch_response, src, msg)
            elif self.cost.free:
                self.rm.on_fetch_response(src, msg, self.ctx.now)
            else:
                ctx = self.ctx
                done = self.fetcher_queue.admit(ctx.now, message_size_bytes(msg))
                ctx.post_at(done, self._fetch_response, src, msg)
            return
        if self.metadata is not None and self.metadata.handle(src, msg):
            return
        if kind is cm.AlterPartitionResponse:
            self._on_alter_partition_response(msg)
            return
        if kind is cm.AllocateProducerIdsResponse:
            self._on_producer_id_block(msg)
            return
        if kind is WriteTxnMarkersResponse:
            if self.txn is not None:
                self.txn.on_marker_response(src, msg)
            return
        if kind is AddPartitionsToTxnResponse:
            if self.txn is not None:
                self.txn.on_verify_response(msg)
            return
        if kind is CreateTopicsResponse:
            # the group coordinator creates __consumer_offsets, the transaction coordinator __transaction_state, auto
            # topic creation every other topic
            if self.txn is not None and any(r.name == _TXN_TOPIC for r in msg.topics):
                self.txn.on_create_topics_response(msg)
            elif self.groups is not None and any(r.name == OFFSETS_TOPIC for r in msg.topics):
                self.groups.on_create_topics_response(msg)
            elif self.auto_topic_creation is not None:
                self.auto_topic_creation.on_create_topics_response(msg)
            return
        if self.lifecycle is not None and self.lifecycle.handle(src, msg, self.ctx.now):
            self._after_lifecycle()

    # ---- client quotas: channel muting (KIP-219) ------------------------------------------------------------------
    def _mute(self, src: Any, throttle_ms: int) -> None:
        """Stop reading ``src``'s requests for ``throttle_ms`` (Kafka's ``ThrottledChannel`` on the delay queue)."""
        until = self.ctx.now + throttle_ms
        if until <= self._muted.get(src, -1.0):
            return
        self._muted[src] = until
        self._held.setdefault(src, [])
        self._held_read.setdefault(src, [])
        self.set_timer(f"{_QUOTA_TIMER}{src}", until)

    def _unmute(self, timer_name: str) -> None:
        src_name = timer_name[len(_QUOTA_TIMER):]
        src = next((s for s in self._muted if str(s) == src_name), None)
        if src is None:
            return
        del self._muted[src]
        read = self._held_read.pop(src, [])
        held = self._held.pop(src, [])
        # in arrival order (those read before the mute came first); one that throttles again mutes the rest anew
        for msg in read:
            if src in self._muted:
                self._held_read[src].append(msg)
            else:
                self._handle(src, msg)
        for msg in held:
            self.on_message(src, msg)

    def _request_thread_ms(self, size_bytes: int) -> float:
        """The request-thread time a client request of ``size_bytes`` costs here (for the request quota, KIP-124):
        the handler queue's service time, or with a hardware model its network and I/O thread times."""
        hw = self.hardware
        if hw is None:
            return self.cost.service_ms(size_bytes)
        return ((hw.network_request_us + size_bytes * hw.network_byte_ns * 1e-3)
                + (hw.request_us + size_bytes * hw.byte_ns * 1e-3)) * 1e-3

    def quota_metrics(self) -> list[dict[str, Any]]:
        """This broker's client quota sensors: quota_type, user, client_id, quota, byte_rate,
        throttle_time_avg_ms, throttle_time_max_ms (see :mod:`kafkalab.broker.quotas`)."""
        return self.rm.quotas.describe(self.ctx.now)

    def _fetch_response(self, src: Any, msg: FetchResponse) -> None:
        self.rm.on_fetch_response(src, msg, self.ctx.now)

    def _handle(self, src: Any, msg: Any) -> None:
        if self._muted and src in self._muted and type(msg) in _MUTABLE_REQUESTS:
            # Kafka reads one request per connection at a time, so a request pipelined behind the one that got
            # throttled is still in the socket when the channel is muted: it waits for the unmute here
            self._held_read[src].append(msg)
            return
        try:
            if type(msg) is FetchRequest:       # the most frequent request (follower fetches): no dispatch chain
                self.rm.handle_fetch(src, msg, self.ctx.now)
            else:
                self._dispatch(src, msg)
        except InvariantViolation:
            raise
        except Exception:
            if not self._malformed(src, msg):
                raise        # a well-formed request broke a handler: our bug, which must stop the run

    def _malformed(self, src: Any, msg: Any) -> bool:
        """Whether a request that made its handling raise breaks its schema (then it is counted and dropped).

        Kafka cannot even parse such a request: no handler runs, the connection is closed, no answer goes back (the
        client's request times out). What a handler did before raising is not undone, so handlers check their input
        before they change state."""
        problems = violations(msg)
        if problems:
            self.ctx.record("broker.invalid_requests", 1, api=type(msg).__name__, src=str(src), problem=problems[0])
        return bool(problems)

    def _dispatch(self, src: Any, msg: Any) -> None:
        now = self.ctx.now
        kind = type(msg)
        if kind is ProduceRequest:
            if msg.transactional_id is not None and self.txn is not None:
                self.txn.produce(src, msg)
            else:
                self.rm.handle_produce(src, msg, now)
        elif kind is FetchRequest:
            self.rm.handle_fetch(src, msg, now)
        elif kind is MetadataRequest:
            self.send(src, self.metadata_response(msg))
        elif kind is ListOffsetsRequest:
            self.rm.handle_list_offsets(src, msg, now)
        elif kind is InitProducerIdRequest:
            if msg.transactional_id is not None and self.txn is not None:
                self.txn.handle(src, msg)
            else:
                self._init_producer_id(src, msg)
        elif kind in _TXN_REQUESTS or kind is WriteTxnMarkersRequest:
            if self.txn is None:
                self.send(src, _no_txn_coordinator(msg))
            elif kind is WriteTxnMarkersRequest:
                self.txn.write_markers(src, msg)
            else:
                self.txn.handle(src, msg)
        elif kind is FindCoordinatorRequest and msg.key_type == COORDINATOR_TRANSACTION and self.txn is not None:
            self.send(src, self.txn.find_coordinator(msg))
        elif kind in _GROUP_REQUESTS:
            if self.groups is not None:
                self.groups.handle(src, msg)
            else:
                self.send(src, _no_coordinator(msg))

    # ---- producer ids (KIP-730) ----------------------------------------------------------------------------------
    def allocate_producer_id(self, callback: Callable[[str, int], None]) -> None:
        """A new producer id for the transaction coordinator, from the same blocks (``ProducerIdManager``)."""
        self._init_producer_id(_PidWaiter(callback), InitProducerIdRequest())

    def _init_producer_id(self, src: Any, req: InitProducerIdRequest) -> None:
        """New producer ids come from a block the controller allocated (``AllocateProducerIds``, blocks of 1000,
        Kafka's ``RPCProducerIdManager``); requests wait while a block is being fetched. Without a control plane the
        replica manager derives ids itself. An epoch bump (KIP-360) needs no new id."""
        if self.metadata is None or req.producer_id >= 0:
            self.rm.handle_init_producer_id(src, req, self.ctx.now)
            return
        if self._pid_next < self._pid_end:
            self._pid_next += 1
            self.send(src, InitProducerIdResponse(NONE, self._pid_next - 1, 0, req.correlation_id))
            return
        self._pid_waiting.append((src, req))
        self._request_producer_ids()

    def _request_producer_ids(self) -> None:
        if self._pid_in_flight is not None or not self._pid_waiting:
            return
        now = self.ctx.now
        epoch = self.rm.broker_epoch
        if epoch < 0:
            self.set_timer(_PID_BLOCK, now + _PID_RETRY_MS)
            return
        controller = self.active_controller_id
        if controller is None:
            controller = self.controller_ids[0]
        self._correlation += 1
        self._pid_in_flight = self._correlation
        self.send(controller, cm.AllocateProducerIdsRequest(self.broker_id, epoch, self._correlation))
        self.set_timer(_PID_BLOCK, now + float(self.config["controller.quorum.request.timeout.ms"]))

    def _on_producer_id_block(self, msg: Any) -> None:
        if msg.correlation_id != self._pid_in_flight:
            return
        self._pid_in_flight = None
        if msg.error != NONE or msg.producer_id_len <= 0:
            self.set_timer(_PID_BLOCK, self.ctx.now + _PID_RETRY_MS)
            return
        self.cancel_timer(_PID_BLOCK)
        self._pid_next = msg.producer_id_start
        self._pid_end = msg.producer_id_start + msg.producer_id_len
        waiting, self._pid_waiting = self._pid_waiting, []
        for src, req in waiting:
            self._init_producer_id(src, req)

    def _on_alter_partition_response(self, msg: Any) -> None:
        if msg.error != NONE:
            for p in self.rm.leading.values():
                if p.pending_isr is not None:
                    self.rm.on_alter_partition_result(p.tp.topic, p.tp.partition, msg.error)
            return
        for r in msg.partitions:
            self.rm.on_alter_partition_result(r.topic, r.partition, r.error, r.leader_epoch, tuple(r.isr),
                                              r.partition_epoch)

    def metadata_response(self, req: MetadataRequest) -> MetadataResponse:
        """Answer a Metadata request from this broker's image. Topics it does not have are created when the broker
        and the request allow it (:mod:`kafkalab.broker.auto_topic_creation`); without auto-creation they are
        UNKNOWN_TOPIC_OR_PARTITION, or INVALID_TOPIC_EXCEPTION for a name Kafka's ``Topic.validate`` refuses."""
        image = self.image
        live = {b: reg for b, reg in sorted(image.brokers.items()) if not reg.fenced}
        brokers = tuple(BrokerInfo(b, reg.rack) for b, reg in live.items())
        names = sorted(image.topics) if req.topics is None else list(req.topics)
        missing: dict[str, TopicMetadata] = {}
        if req.topics is not None:
            absent = [name for name in names if name not in image.topics]
            if absent:
                missing = self._missing_topics(absent, req.allow_auto_topic_creation)
        topics = []
        for name in names:
            topic = image.topics.get(name)
            if topic is None:
                topics.append(missing[name])
                continue
            parts = []
            for index, reg in sorted(topic.partitions.items()):
                offline = tuple(r for r in reg.replicas if r not in live)
                error = NONE if reg.leader >= 0 else "LEADER_NOT_AVAILABLE"
                parts.append(PartitionMetadata(error, index, reg.leader, reg.leader_epoch, reg.replicas, reg.isr,
                                               offline))
            topics.append(TopicMetadata(NONE, name, tuple(parts), name == OFFSETS_TOPIC))
        controller = self.active_controller_id
        return MetadataResponse(brokers, tuple(topics), -1 if controller is None else controller,
                                req.correlation_id)

    def _missing_topics(self, names: list[str], allow_auto_topic_creation: bool) -> dict[str, TopicMetadata]:
        auto = self.auto_topic_creation
        if auto is not None and allow_auto_topic_creation and self.auto_create_topics:
            return auto.create_topics(names)
        return {name: TopicMetadata("UNKNOWN_TOPIC_OR_PARTITION" if is_valid_topic_name(name)
                                    else "INVALID_TOPIC_EXCEPTION", name, (), name == OFFSETS_TOPIC)
                for name in names}

    def __repr__(self) -> str:
        return f"BrokerServer({self.broker_id}, partitions={len(self.rm.partitions)})"


def _fetch_size(msg: FetchRequest | FetchResponse) -> int:
    """``message_size_bytes`` of a fetch request or response, without its type dispatch."""
    if isinstance(msg, FetchResponse):
        responses = msg.responses
        if not responses:
            return HEADER_BYTES
        return HEADER_BYTES + sum(PARTITION_BYTES + r.records_size_bytes for r in responses.values())
    return HEADER_BYTES + PARTITION_BYTES * len(msg.partitions) if msg.partitions else HEADER_BYTES


class _PidWaiter:
    """A reply address inside the broker for a producer id the transaction coordinator asked for."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[str, int], None]) -> None:
        self.callback = callback

    def deliver(self, msg: Any) -> None:
        self.callback(msg.error, msg.producer_id)


_LOCAL_REPLIES = frozenset((LocalReply, CallbackReply, _PidWaiter))


def _is_local_reply(src: Any) -> bool:
    return type(src) in _LOCAL_REPLIES


def _no_txn_coordinator(msg: Any) -> Any:
    """The answer of a broker without a control plane to a transaction request."""
    from kafkalab.protocol import txn as tm

    cid = msg.correlation_id
    error = "COORDINATOR_NOT_AVAILABLE"
    kind = type(msg)
    if kind is tm.AddPartitionsToTxnRequest:
        return tm.AddPartitionsToTxnResponse({tp: error for tp in msg.partitions}, cid)
    if kind is tm.AddOffsetsToTxnRequest:
        return tm.AddOffsetsToTxnResponse(error, cid)
    if kind is tm.WriteTxnMarkersRequest:
        return tm.WriteTxnMarkersResponse({m.producer_id: {tp: "NOT_LEADER_OR_FOLLOWER" for tp in m.partitions}
                                           for m in msg.markers}, cid)
    return tm.EndTxnResponse(error, correlation_id=cid)


def _no_coordinator(msg: Any) -> Any:
    """The answer of a broker without a control plane (and so without a group coordinator) to a group request."""
    from kafkalab.protocol import group as gm
    from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatResponse

    cid = msg.correlation_id
    error = "COORDINATOR_NOT_AVAILABLE"
    kind = type(msg)
    if kind is gm.FindCoordinatorRequest:
        return gm.FindCoordinatorResponse(error, correlation_id=cid,
                                          error_message="This broker runs no group coordinator.")
    if kind is gm.JoinGroupRequest:
        return gm.JoinGroupResponse(error, correlation_id=cid)
    if kind is gm.SyncGroupRequest:
        return gm.SyncGroupResponse(error, correlation_id=cid)
    if kind is gm.HeartbeatRequest:
        return gm.HeartbeatResponse(error, cid)
    if kind is gm.LeaveGroupRequest:
        return gm.LeaveGroupResponse(error, correlation_id=cid)
    if kind is gm.OffsetCommitRequest:
        return gm.OffsetCommitResponse({tp: error for tp in msg.offsets}, cid)
    if kind is gm.OffsetFetchRequest:
        return gm.OffsetFetchResponse(error, correlation_id=cid)
    if kind is TxnOffsetCommitRequest:
        from kafkalab.protocol.txn import TxnOffsetCommitResponse
        return TxnOffsetCommitResponse({tp: error for tp in msg.offsets}, cid)
    return ConsumerGroupHeartbeatResponse(error, correlation_id=cid)

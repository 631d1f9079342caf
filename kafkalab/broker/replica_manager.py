"""The replica manager: produce, fetch, ListOffsets and InitProducerId on one broker (Kafka's ``ReplicaManager``).

Sans-I/O (DESIGN.md principle 3): it gets requests and the time, and acts through a :class:`ReplicaManagerPort`
(send a message, set or cancel a named timer, propose an ISR change to the controller, open a log on the node's
disk). The broker server drives it; tests drive it with a fake port.

How it works. :class:`ReplicaManager` is the facade the broker server calls. It owns the replicas and the
leadership; each request goes to the piece that serves it:

- :mod:`kafkalab.broker.produce`: Produce (``appendRecords``, acks 0/1/all, the delayed produce) and InitProducerId.
- :mod:`kafkalab.broker.consumer_fetch`: consumer fetches (below the HW, parked while there is too little) and
  ListOffsets.
- :mod:`kafkalab.broker.fetch_sessions`: follower fetches in incremental fetch sessions (KIP-227), the follower
  state and the ISR expansion.
- :mod:`kafkalab.broker.timers`: the two timers, ``expiry`` (the deadlines of waiting operations) and ``isr-check``
  (Kafka's ``isr-expiration``: ISR shrinks, stuck proposals resent); the fetchers' own timers pass through.
- :mod:`kafkalab.broker.log_maintenance`: log retention and the log cleaner over every replica hosted here (the
  timers ``log-retention`` and ``log-cleaner``, armed only when some log may have work). A topic's changed log
  configs apply to its live logs.

Leadership comes only from the metadata image: :meth:`ReplicaManager.apply_change` makes this broker leader or
follower of exactly the partitions a replayed record changed (``applyDelta``), hands followers to the replica
fetchers (:mod:`kafkalab.broker.fetcher`) and stops replicas removed from this broker. Losing a leadership fails
the produces waiting on the partition (NOT_LEADER_OR_FOLLOWER), answers its parked consumer fetches and completes
the parked follower fetches on it (DelayedFetch cases A and E), so followers learn the new epoch at once. When a HW
moves, the operations waiting for it complete here (Kafka's ``tryCompleteDelayedRequests``): HW watchers, waiting
produces, parked consumer fetches, and the partition is marked in the follower sessions replicating it.

A restarted broker's replicas start from the HWs in the port's checkpoint (``read_hw_checkpoint``).

Transactions: transaction markers arrive as control batches appended ``from_coordinator`` (WriteTxnMarkers, see
:mod:`kafkalab.broker.txn`); read_committed fetches and the LSO are :mod:`kafkalab.broker.consumer_fetch`'s.

Client byte-rate quotas (:mod:`kafkalab.broker.quotas`) throttle produce answers and consumer fetch answers.
Simplifications: no fetch from followers (KIP-392); the others are named in the modules above.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from kafkalab.broker.consumer_fetch import NOT_LEADER, ConsumerFetch, ConsumerFetches
from kafkalab.broker.fetch_sessions import FetchSessions, FollowerSession
from kafkalab.broker.fetcher import ReplicaFetcherManager
from kafkalab.broker.log_maintenance import LOG_CLEANER, LOG_RETENTION, LogMaintenance
from kafkalab.broker.partition import IsrProposal, Partition, Role
from kafkalab.broker.produce import DelayedProduce, ProduceHandler
from kafkalab.broker.quotas import ClientQuotas
from kafkalab.broker.timers import EXPIRY, ISR_CHECK, ExpiryTimer, IsrCheck, settled
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.config import Config, resolve
from kafkalab.log.log_config import LogConfig
from kafkalab.log.partition_log import PartitionLog
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.protocol.fetch import CONSUMER_REPLICA_ID, FetchRequest, FetchResponse
from kafkalab.protocol.list_offsets import ListOffsetsRequest
from kafkalab.protocol.produce import ProduceRequest
from kafkalab.protocol.txn import InitProducerIdRequest

__all__ = ["ReplicaManager", "ReplicaManagerPort", "DelayedProduce", "ConsumerFetch", "FollowerSession"]


class ReplicaManagerPort(Protocol):
    """What the replica manager may do to the world."""

    def send(self, dst: Any, msg: Any) -> None: ...

    def set_timer(self, name: str, at_ms: float) -> None:
        """Call ``on_timer(name, now)`` at ``at_ms``; replaces a pending timer of that name."""

    def cancel_timer(self, name: str) -> None: ...

    def alter_partition(self, proposal: IsrProposal) -> None:
        """Send AlterPartition for one partition to the active controller (with this broker's epoch)."""

    def open_log(self, name: str, config: LogConfig) -> PartitionLog:
        """The log ``name`` on this node's disk (recovered if it exists, else created and attached)."""
        ...

    def delete_log(self, name: str) -> None: ...

    def log_appended(self) -> None:
        """New unflushed log data (the disk's OS writeback will flush it later)."""

    def read_hw_checkpoint(self) -> Mapping[str, int]:
        """The high watermarks last checkpointed on this node's disk (log name -> HW); empty if none."""
        ...


class ReplicaManager:
    """All partition replicas of one broker."""

    def __init__(self, broker_id: int, port: ReplicaManagerPort, config: Mapping[str, Any] | None = None, *,
                 incarnation: int = 1, start_ms: float = 0.0) -> None:
        self.broker_id = broker_id
        self.port = port
        self.config: Config = config if isinstance(config, Config) else resolve("broker", config)
        self.lag_ms = float(self.config["replica.lag.time.max.ms"])
        self.incarnation = incarnation
        self.broker_epoch = -1
        self.image: MetadataImage | None = None
        self.partitions: dict[TopicPartition, Partition] = {}
        self.leading: dict[TopicPartition, Partition] = {}
        # Leader partitions that the ISR check must look at: some follower may be behind, or a proposal is pending.
        # A partition leaves once every ISR follower has the leader's log end, so an idle check costs nothing.
        self.lagging: dict[TopicPartition, Partition] = {}
        self.sessions: dict[int, FollowerSession] = {}
        self.fetchers = ReplicaFetcherManager(broker_id, port, self.config, on_append=port.log_appended)
        self._topic_configs: dict[str, tuple[LogConfig, int]] = {}
        self._hw_checkpoint_cache: dict[str, int] | None = None
        self._broker_epochs: dict[int, int] = {}
        self._seq = itertools.count()       # tie-breaker of every heap here (expiry, produce waiters, HW watchers)
        self.now_ms = 0.0
        # counters for metrics
        self.produce_requests = 0
        self.fetch_requests = 0
        self.isr_shrinks = 0
        self.isr_expands = 0
        # the pieces (composition); each keeps a reference to this facade for the state they share
        self._expiry = ExpiryTimer(self)
        self._isr = IsrCheck(self)
        #: client byte-rate quotas (KIP-13, KIP-219), fed from the metadata image by the broker server
        self.quotas = ClientQuotas.from_config(self.config)
        self._produce = ProduceHandler(self)
        self._fetch = ConsumerFetches(self)
        self._follower = FetchSessions(self)
        self._logs = LogMaintenance(port, self.partitions, self.config, start_ms)

    # ==== metadata ====================================================================================================
    def set_broker_epoch(self, epoch: int) -> None:
        self.broker_epoch = epoch
        self.fetchers.broker_epoch = epoch

    def _eligible(self, broker: int, broker_epoch: int = -1) -> bool:
        """May ``broker`` join an ISR (Kafka's ``isReplicaIsrEligible``)? Its fetches' broker epoch must be the
        registered one when it sends one (KIP-903)."""
        image = self.image
        if image is None:
            return True
        reg = image.brokers.get(broker)
        if reg is None or reg.fenced or reg.in_controlled_shutdown:
            return False
        return broker_epoch < 0 or broker_epoch == reg.broker_epoch

    def _topic_settings(self, topic: str) -> tuple[LogConfig, int]:
        cached = self._topic_configs.get(topic)
        if cached is None:
            overrides = self.image.topic_config(topic) if self.image is not None else {}
            broker = self.config
            log_config = LogConfig.from_topic_config(overrides, broker=broker)
            min_isr = int(resolve("topic", overrides, broker=broker)["min.insync.replicas"])
            cached = (log_config, min_isr)
            self._topic_configs[topic] = cached
        return cached

    def apply_change(self, image: MetadataImage, change: Change, now_ms: float) -> None:
        """Act on one replayed metadata change: become leader/follower, stop removed replicas, refresh configs."""
        self.now_ms = now_ms
        self.image = image
        for resource_type, name in change.configs:
            if resource_type == "topic":
                self._topic_configs.pop(name, None)
                log_config, min_isr = self._topic_settings(name)
                for tp, p in self.partitions.items():
                    if tp.topic == name:
                        p.min_isr = min_isr
                        self._set_log_config(p, log_config)
                        if p.is_leader:
                            self._after_isr_change(p)
            elif resource_type == "broker":
                self._topic_configs.clear()
                for tp, p in self.partitions.items():
                    self._set_log_config(p, self._topic_settings(tp.topic)[0])
        for topic in change.removed_topics:
            self._topic_configs.pop(topic, None)
            for tp in [tp for tp in self.partitions if tp.topic == topic]:
                self._stop(tp, delete=True)
        for topic, index in change.partitions:
            self._apply_partition(image, TopicPartition(topic, index), now_ms)
        if change.brokers:
            for p in self.leading.values():
                self._follower.mark_expand_candidates(p)
            for b in change.brokers:
                reg = image.brokers.get(b)
                epoch = -1 if reg is None else reg.broker_epoch
                if self._broker_epochs.get(b, epoch) != epoch:
                    # The broker re-registered: a new process, so a fetch in flight to the old one is lost.
                    self.fetchers.reconnect(b, now_ms)
                self._broker_epochs[b] = epoch
        follower = self._follower
        if follower.wake:
            follower.wake_parked()
        if self._logs.pending:
            self._logs.poke(now_ms)

    def _set_log_config(self, p: Partition, log_config: LogConfig) -> None:
        """A topic's log settings changed (``retention.ms``, ``segment.bytes``, ...): they apply to the live log."""
        if p.log.config != log_config:
            p.log.config = log_config
            self._logs.touch(p.tp)

    def _wake_watchers(self, p: Partition) -> None:
        """A leadership change completes parked follower fetches on ``p`` (DelayedFetch cases A and E), so
        followers learn the new epoch or the error at once."""
        tp = p.tp
        if p.consumer_waiters:
            self._fetch.leadership_changed(p)
        wake = self._follower.wake
        for s in p.sessions:
            s.pending[tp] = None
            if s.parked is not None:
                wake[s.replica_id] = s

    def _hw_checkpoint(self) -> Mapping[str, int]:
        if self._hw_checkpoint_cache is None:
            self._hw_checkpoint_cache = dict(self.port.read_hw_checkpoint())
        return self._hw_checkpoint_cache

    def high_watermarks(self) -> dict[str, int]:
        """Log name -> HW of every replica (what the server checkpoints, ``replication-offset-checkpoint``)."""
        return {str(tp): p.high_watermark for tp, p in self.partitions.items()}

    def apply_image(self, image: MetadataImage, now_ms: float) -> None:
        """Apply every partition of ``image`` (a restarted broker catching up, or a hand-made image in tests)."""
        parts = tuple((t, p) for t, topic in image.topics.items() for p in topic.partitions)
        self.apply_change(image, Change(partitions=parts, brokers=tuple(image.brokers)), now_ms)

    def _apply_partition(self, image: MetadataImage, tp: TopicPartition, now_ms: float) -> None:
        reg = image.partition(tp.topic, tp.partition)
        if reg is None or self.broker_id not in reg.replicas:
            if tp in self.partitions:
                self._stop(tp, delete=True)
            return
        p = self.partitions.get(tp)
        if p is None:
            log_config, min_isr = self._topic_settings(tp.topic)
            log = self.port.open_log(str(tp), log_config)
            p = Partition(tp, self.broker_id, log, min_isr=min_isr, lag_ms=self.lag_ms)
            checkpointed = self._hw_checkpoint().get(str(tp))
            if checkpointed is not None:
                p.high_watermark = max(log.log_start_offset, min(checkpointed, log.log_end_offset))
            self.partitions[tp] = p
            self._logs.register(p)
        if reg.leader == self.broker_id:
            was_leader = p.is_leader
            if p.make_leader(reg, now_ms):
                if not was_leader:
                    self.fetchers.remove_partition(tp, now_ms)
                self.leading[tp] = p
                self.lagging[tp] = p
                self._isr.arm(now_ms)
                self._wake_watchers(p)
            self._after_isr_change(p)
        else:
            was_leader = p.is_leader
            if p.make_follower(reg):
                if was_leader:
                    self.leading.pop(tp, None)
                    self.lagging.pop(tp, None)
                    self._fail_waiters(p, NOT_LEADER)
                    self._wake_watchers(p)
                if p.leader_id < 0:
                    self.fetchers.remove_partition(tp, now_ms)
                else:
                    self.fetchers.add_partition(p, now_ms)

    def _stop(self, tp: TopicPartition, *, delete: bool) -> None:
        p = self.partitions.pop(tp)
        self.leading.pop(tp, None)
        self.lagging.pop(tp, None)
        self.fetchers.remove_partition(tp, self.now_ms)
        self._fail_waiters(p, NOT_LEADER)
        for s in p.sessions:
            s.partitions.pop(tp, None)
            s.pending.pop(tp, None)
        p.sessions = []
        self._logs.unregister(p)
        p.make_stopped()
        if delete:
            self.port.delete_log(str(tp))

    # ==== operations waiting on a partition ===========================================================================
    def _fail_waiters(self, p: Partition, error: str) -> None:
        p.hw_watchers = []      # their writer (the group coordinator) learns of the lost leadership by itself
        self._produce.fail_waiters(p, error)
        waiters, p.consumer_waiters = p.consumer_waiters, []
        for cf in waiters:
            if not cf.done:
                self._fetch.complete(cf)

    def _on_hw_advanced(self, p: Partition) -> None:
        """The HW of ``p`` moved: complete what waited for it (Kafka's ``tryCompleteDelayedRequests``)."""
        hw = p.high_watermark
        if p.hw_watchers:
            watchers = p.hw_watchers
            while watchers and watchers[0][0] <= hw:
                heapq.heappop(watchers)[2]()
        waiters = p.produce_waiters
        if waiters:
            produce = self._produce
            while waiters and waiters[0][0] <= hw:
                _, _, op, _tp = heapq.heappop(waiters)
                if not op.done:
                    produce.partition_done(op)
        if p.consumer_waiters:
            parked, p.consumer_waiters = p.consumer_waiters, []
            fetch = self._fetch
            for cf in parked:
                if not cf.done:
                    fetch.try_complete(cf)
        tp = p.tp
        for s in p.sessions:
            s.pending[tp] = None

    def _after_isr_change(self, p: Partition) -> None:
        """The ISR changed (image or AlterPartition answer): the HW may move, waiting produces may fail, an
        out-of-ISR replica may now be added."""
        if not settled(p):
            self.lagging[p.tp] = p
        self._follower.mark_expand_candidates(p)
        if p.maybe_increment_hw():
            self._on_hw_advanced(p)
        if len(p.maximal_isr) < p.min_isr and p.produce_waiters:
            self._produce.not_enough_replicas_after_append(p)

    # ==== requests ====================================================================================================
    def handle_produce(self, src: Any, req: ProduceRequest, now_ms: float, *, from_coordinator: bool = False) -> None:
        self.now_ms = now_ms
        self.produce_requests += 1
        self._produce.handle(src, req, now_ms, from_coordinator=from_coordinator)
        if self._logs.pending:
            self._logs.poke(now_ms)

    def handle_fetch(self, src: Any, req: FetchRequest, now_ms: float) -> None:
        self.now_ms = now_ms
        self.fetch_requests += 1
        follower = self._follower
        if req.replica_id == CONSUMER_REPLICA_ID or req.replica_id < 0:
            self._fetch.fetch(src, req, now_ms)
        else:
            follower.fetch(src, req, now_ms)
        if follower.wake:
            follower.wake_parked()

    def handle_list_offsets(self, src: Any, req: ListOffsetsRequest, now_ms: float) -> None:
        self._fetch.list_offsets(src, req)

    def handle_init_producer_id(self, src: Any, req: InitProducerIdRequest, now_ms: float) -> None:
        self._produce.init_producer_id(src, req)

    # ==== follower side, AlterPartition answers =======================================================================
    def on_fetch_response(self, src: Any, resp: FetchResponse, now_ms: float) -> None:
        self.now_ms = now_ms
        self.fetchers.on_fetch_response(src, resp, now_ms)
        if self._logs.pending:
            self._logs.poke(now_ms)

    def on_alter_partition_result(self, topic: str, partition: int, error: str, leader_epoch: int = -1,
                                  isr: tuple[int, ...] = (), partition_epoch: int = -1) -> None:
        p = self.partitions.get(TopicPartition(topic, partition))
        if p is None:
            return
        if p.on_alter_partition_result(error, leader_epoch, isr, partition_epoch):
            self._after_isr_change(p)

    # ==== timers ======================================================================================================
    def on_timer(self, name: str, now_ms: float) -> None:
        self.now_ms = now_ms
        if name == EXPIRY:
            self._expiry.fire(now_ms)
        elif name == ISR_CHECK:
            self._isr.fire(now_ms)
        elif name == LOG_RETENTION:
            self._logs.on_retention(now_ms)
        elif name == LOG_CLEANER:
            self._logs.on_cleaner(now_ms)
        else:
            self.fetchers.on_timer(name, now_ms)

    # ==== views =======================================================================================================
    def watch_high_watermark(self, tp: TopicPartition, offset: int, callback: Callable[[], None]) -> bool:
        """Call ``callback()`` once the high watermark of ``tp`` (led here) reaches ``offset`` (at once if it has).
        False when this broker does not lead ``tp``. Watchers are dropped, uncalled, when leadership is lost. This
        is how Kafka's coordinator runtime waits for its writes (``PartitionWriter.Listener``)."""
        p = self.partitions.get(tp)
        if p is None or p.role is not Role.LEADER:
            return False
        if p.high_watermark >= offset:
            callback()
        else:
            heapq.heappush(p.hw_watchers, (offset, next(self._seq), callback))
        return True

    def partition(self, topic: str, partition: int) -> Partition | None:
        return self.partitions.get(TopicPartition(topic, partition))

    def describe(self) -> list[dict[str, Any]]:
        """One row per replica: topic, partition, role, leader, leader_epoch, isr, high_watermark, log_end_offset,
        log_start_offset."""
        return [{"topic": tp.topic, "partition": tp.partition, "role": p.role.value, "leader": p.leader_id,
                 "leader_epoch": p.leader_epoch, "isr": p.isr, "high_watermark": p.high_watermark,
                 "log_end_offset": p.log.log_end_offset, "log_start_offset": p.log.log_start_offset}
                for tp, p in sorted(self.partitions.items())]

    @property
    def log_maintenance(self) -> LogMaintenance:
        """Retention and the log cleaner over this broker's replicas (counters: ``segments_deleted``, ...)."""
        return self._logs

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        """The LSO of ``tp`` if this broker has a replica of it (KIP-98)."""
        p = self.partitions.get(tp)
        return None if p is None else p.log.last_stable_offset(p.high_watermark)

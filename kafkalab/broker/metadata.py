"""A broker's view of the cluster metadata (Kafka's ``BrokerMetadataListener`` / ``MetadataLoader`` in KRaft mode).

How it works. A broker runs a KRaft *observer* of ``__cluster_metadata`` (it fetches from the quorum leader, never
votes; its log lives on the broker's Disk). After every input the observer handles, :class:`BrokerMetadataListener`
reads the newly committed records with their offsets, replays each into the broker's
:class:`~kafkalab.metadata.image.MetadataImage` and calls every registered listener with the
:class:`~kafkalab.metadata.image.Change` it produced, so the replica manager becomes leader or follower of exactly
the partitions that changed (no scan of all partitions per record). Brokers act on leadership only through this image
(KIP-631). Its fsyncs touch the metadata log file only, not the broker's partition logs on the same disk.

Interface for the data plane (``BrokerServer``)::

    listener = BrokerMetadataListener(ctx, voters, config)       # creates the observer on ctx.disk
    listener.add_listener(lambda change, image: ...)             # called once per replayed record that changed something
    listener.start()                                             # call once, after listeners are registered
    if listener.handle(src, msg): ...                            # True when msg was a KRaft message it consumed
    listener.image, listener.metadata_offset, listener.active_controller_id

``metadata_offset`` is the highest committed offset applied (control records included), which the lifecycle
manager reports in heartbeats. ``active_controller_id`` is the quorum leader the observer knows (None while unknown).
A snapshot loaded from the leader (a new broker, or one whose metadata log is behind the leader's log start) or found
on disk at a restart replaces the image; listeners then get one ``Change`` naming every partition, removed topic,
broker and client quota entity (old or new). Like every Kafka 4 node the broker snapshots its own image too (:class:`~kafkalab.metadata.
snapshot_generator.SnapshotGenerator`, ``metadata.log.max.record.bytes.between.snapshots`` /
``metadata.log.max.snapshot.interval.ms``), so a restart replays only the log after its latest snapshot.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafkalab.config import Config, resolve
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.metadata.log_replica import MetadataLogReplica
from kafkalab.ports import ProcessPort
from kafkalab.protocol import raft as rm
from kafkalab.raft.config import RaftConfig

__all__ = ["BrokerMetadataListener", "MetadataListenerFn", "RAFT_MESSAGES"]

MetadataListenerFn = Callable[[Change, MetadataImage], None]

#: Message types the metadata observer consumes.
RAFT_MESSAGES: frozenset[type] = frozenset({
    rm.VoteRequest, rm.VoteResponse, rm.BeginQuorumEpochRequest, rm.BeginQuorumEpochResponse,
    rm.EndQuorumEpochRequest, rm.EndQuorumEpochResponse, rm.FetchRequest, rm.FetchResponse,
    rm.FetchSnapshotRequest, rm.FetchSnapshotResponse})


class BrokerMetadataListener:
    """The broker's metadata image, kept up to date by a KRaft observer; see the module docstring."""

    def __init__(self, ctx: ProcessPort, voters: Sequence[int], config: Config | Mapping[str, Any] | None = None,
                 raft_config: RaftConfig | None = None) -> None:
        self.ctx = ctx
        cfg = config if isinstance(config, Config) else resolve("broker", dict(config or {}))
        self.replica = MetadataLogReplica(ctx, voters, raft_config or RaftConfig.from_config(cfg), self._after,
                                          flush_log_only=True, metadata_config=cfg)
        self.image = MetadataImage()
        self._listeners: list[MetadataListenerFn] = []
        self._on_input: list[Callable[[], None]] = []
        self._started = False

    def add_listener(self, fn: MetadataListenerFn) -> None:
        """``fn(change, image)`` after each replayed record that changed something (in log order)."""
        self._listeners.append(fn)

    def add_input_hook(self, fn: Callable[[], None]) -> None:
        """``fn()`` after every input the observer handled, once the records it committed were replayed (the
        lifecycle manager uses it to notice it caught up, or learned a new active controller)."""
        self._on_input.append(fn)

    def start(self) -> None:
        if self._started:
            raise RuntimeError("BrokerMetadataListener.start() was already called")
        self._started = True
        self.replica.start()

    def handle(self, src: int, msg: Any) -> bool:
        """Feed a message to the observer; False (and nothing done) when it is not a KRaft message."""
        if type(msg) not in RAFT_MESSAGES:
            return False
        self.replica.handle(src, msg)
        return True

    @property
    def metadata_offset(self) -> int:
        """The highest committed metadata offset applied here (-1 before any)."""
        return self.replica.next_offset - 1

    @property
    def active_controller_id(self) -> int | None:
        return self.replica.node.leader_id

    def _after(self) -> None:
        if not self._started:
            return
        replica = self.replica
        snapshot, records = replica.drain()
        listeners = self._listeners
        if snapshot is not None:
            image = MetadataImage.from_records(snapshot.values, snapshot.end_offset - 1)
            removed = tuple(sorted(n for n in self.image.topics if n not in image.topics))
            self.image = image
            change = Change(
                partitions=tuple((name, p) for name, t in image.topics.items() for p in t.partitions),
                removed_topics=removed, brokers=tuple(sorted(image.brokers)),
                client_quotas=tuple(dict.fromkeys((*self.image.client_quotas, *image.client_quotas))))
            for fn in listeners:
                fn(change, image)
        image = self.image
        for offset, record in records:
            change = image.replay(record, offset)
            if listeners and not change.empty:
                for fn in listeners:
                    fn(change, image)
        if image.offset < replica.next_offset - 1:
            image.offset = replica.next_offset - 1      # control records count too (the image's provenance)
        replica.maybe_snapshot(image)
        for hook in self._on_input:
            hook()

    def __repr__(self) -> str:
        return (f"BrokerMetadataListener({self.ctx.node_id}, offset={self.metadata_offset}, "
                f"controller={self.active_controller_id}, image={self.image!r})")

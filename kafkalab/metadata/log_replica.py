"""The driver shared by controller and broker processes: a KRaft replica of ``__cluster_metadata`` on a process port
that hands out newly committed records *with their offsets* (Kafka's ``MetadataLoader`` over its ``RaftClient``).

How it works. Timers are :class:`~kafkalab.ports.NamedTimers`, the same lazy named deadlines
:class:`~kafkalab.raft.playground.RaftProcess` uses. :class:`MetadataLogReplica` adapts a
:class:`~kafkalab.raft.node.RaftNode` (voter or observer) to a :class:`~kafkalab.ports.ProcessPort`
the same way RaftProcess does (log, quorum-state and snapshot on the node's Disk, ``flush`` = fsync) and calls
``after_input()`` after every message, timer and fsync completion it handles. With ``flush_log_only`` (brokers:
observers, whose disk also holds every partition log) a flush syncs the metadata log file alone
(``Disk.fsync(files=...)``), as Kafka forces only that file: syncing the whole disk would cost O(partitions) per
metadata append and make data partitions durable as a side effect. The quorum-state file of an observer then stays in
the page cache (an observer's vote state does not matter); a snapshot write forces the snapshot file with it.

Snapshots (KIP-630). :meth:`MetadataLogReplica.drain` hands out a snapshot first when the node loaded one past what
was read (a restart that found one on disk, a follower that fetched one); the owner rebuilds its image from it
(:meth:`~kafkalab.metadata.image.MetadataImage.from_records`). It also counts the bytes of the committed batches it
passed; after replaying them the owner calls :meth:`MetadataLogReplica.maybe_snapshot` with its image, and the
node's :class:`~kafkalab.metadata.snapshot_generator.SnapshotGenerator` decides whether to write that image as a
snapshot (``metadata.log.max.record.bytes.between.snapshots``, ``metadata.log.max.snapshot.interval.ms``). The log
is created with ``metadata.log.segment.bytes``/``.ms``; its start moves only through the Raft node's retention
(``metadata.max.retention.bytes``/``.ms``, read into :class:`~kafkalab.raft.config.RaftConfig`).

Why offsets: ``RaftNode.committed`` lists committed values without control records, so an index there is not a log
offset; broker epochs *are* log offsets (Kafka's). :meth:`MetadataLogReplica.drain` therefore reads the log itself
from where it stopped up to the node's applied offset (``RaftNode.applied_offset``, which only moves over committed
data), skipping control batches. RaftNode offers no commit listener; reading incrementally after each input is the
workaround, and costs nothing when nothing was committed.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafkalab.config import resolve
from kafkalab.errors import InvariantViolation
from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.snapshot_generator import SnapshotGenerator
from kafkalab.ports import NamedTimers, ProcessPort
from kafkalab.protocol.raft import Payload, Snapshot
from kafkalab.protocol.raft import message_size_bytes as raft_message_size_bytes
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.node import (
    METADATA_LOG_NAME,
    QUORUM_STATE_KEY,
    SNAPSHOT_KEY,
    RaftNode,
    new_metadata_log,
    read_snapshots,
)
from kafkalab.raft.state import ElectionState, Role

__all__ = ["MetadataLogReplica"]

_READ_BYTES = 8 * 1024 * 1024


class MetadataLogReplica:
    """A KRaft replica of ``__cluster_metadata`` on a World node (a voter on a controller, an observer on a broker).

    ``after_input()`` runs after every input the node handled; call :meth:`drain` there for newly committed records.
    """

    def __init__(self, ctx: ProcessPort, voters: Sequence[int], config: RaftConfig | None,
                 after_input: Callable[[], None], *, flush_log_only: bool = False,
                 metadata_config: Mapping[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.after_input = after_input
        self.flush_log_only = flush_log_only
        self._snapshot_dirty = False
        cfg = metadata_config if metadata_config is not None else resolve("broker", {})
        disk = ctx.disk
        log = disk.log(METADATA_LOG_NAME)
        if log is None:
            log = new_metadata_log(int(cfg["metadata.log.segment.bytes"]), int(cfg["metadata.log.segment.ms"]))
            disk.attach_log(METADATA_LOG_NAME, log)
        state = disk.read(QUORUM_STATE_KEY)
        snapshot = disk.read(SNAPSHOT_KEY)
        self.timers = NamedTimers(ctx, self._on_timer, "raft")
        node_id: int = ctx.node_id  # type: ignore[assignment]
        self.node = RaftNode(node_id, voters, log, self, ctx.rng("raft"), config,
                             election_state=state if isinstance(state, ElectionState) else None,
                             snapshot=read_snapshots(snapshot))
        #: the next log offset :meth:`drain` will read (everything below it was handed out)
        self.next_offset = 0
        self._snapshot_end = -1
        #: bytes of the committed batches drained since :meth:`maybe_snapshot` last looked, and whether the last
        #: drain stopped on a batch boundary
        self._delta_bytes = 0
        self._batch_aligned = True
        #: Kafka's SnapshotGenerator for this node (its counters start with the process)
        self.snapshot_generator = SnapshotGenerator.from_config(cfg, ctx.now)

    def start(self) -> None:
        self.node.start(self.ctx.now)
        self.after_input()

    def handle(self, src: int, msg: Any) -> None:
        self.node.handle(src, msg, self.ctx.now)
        self.after_input()

    @property
    def is_leader(self) -> bool:
        return self.node.role is Role.LEADER

    # -- RaftPort ---------------------------------------------------------------------------------------------------
    def send(self, dst: int, msg: Any) -> None:
        self.ctx.send(dst, msg, raft_message_size_bytes(msg))

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers.set(name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.timers.cancel(name)

    def persist(self, key: str, value: Any) -> None:
        self.ctx.disk.write(key, value)
        if key == SNAPSHOT_KEY:
            self._snapshot_dirty = True

    def flush(self) -> None:
        disk = self.ctx.disk
        if self.flush_log_only:
            # fsync of the metadata log file alone (FileChannel.force on its segment), not of every log on the disk;
            # a snapshot file is forced too when one was written (Kafka freezes it with an fsync of that file)
            files: tuple[str, ...] = (METADATA_LOG_NAME,)
            if self._snapshot_dirty:
                self._snapshot_dirty = False
                files = (METADATA_LOG_NAME, SNAPSHOT_KEY)
            disk.fsync(self._flushed, name="raft:fsync-log", files=files)
            return
        self._snapshot_dirty = False
        disk.fsync(self._flushed, name="raft:fsync")

    def _flushed(self) -> None:
        self.node.on_flushed(self.ctx.now)
        self.after_input()

    def _on_timer(self, name: str) -> None:
        self.node.on_timer(name, self.ctx.now)
        self.after_input()

    # -- committed records ------------------------------------------------------------------------------------------
    def drain(self) -> tuple[Snapshot | None, list[tuple[int, Any]]]:
        """Newly committed records as ``(offset, record)``; first a snapshot when one was loaded past what was read
        (the caller then rebuilds its state from ``snapshot.values`` before the records)."""
        node = self.node
        loaded: Snapshot | None = None
        snap = node.snapshot
        if snap is not None and snap.end_offset > self.next_offset and snap.end_offset != self._snapshot_end:
            loaded = snap
            self._snapshot_end = snap.end_offset
            self.next_offset = snap.end_offset
            self._delta_bytes = 0
            self._batch_aligned = True
            self.snapshot_generator.reset(self.ctx.now)
        target = node.applied_offset
        out: list[tuple[int, Any]] = []
        log = node.log
        delta = 0
        aligned = self._batch_aligned
        while self.next_offset < target:
            batches = log.read(self.next_offset, _READ_BYTES)
            if not batches:
                break
            progressed = False
            for batch in batches:
                if batch.base_offset >= target:
                    break
                if batch.is_control:
                    if batch.next_offset > target:
                        break
                    self.next_offset = batch.next_offset
                    delta += batch.size_bytes
                    progressed = aligned = True
                    continue
                for offset, record in zip(batch.offsets(), batch.records, strict=True):
                    if offset < self.next_offset:
                        continue
                    if offset >= target:
                        break
                    value = record.value
                    out.append((offset, value.value if type(value) is Payload else value))
                    self.next_offset = offset + 1
                    progressed = True
                aligned = self.next_offset >= batch.next_offset
                if aligned:
                    delta += batch.size_bytes
            if not progressed:
                break
        self._delta_bytes += delta
        self._batch_aligned = aligned
        return loaded, out

    def maybe_snapshot(self, image: MetadataImage) -> tuple[int, int] | None:
        """After the caller replayed what :meth:`drain` returned into ``image`` (which then ends at
        ``next_offset - 1``): let the :class:`~kafkalab.metadata.snapshot_generator.SnapshotGenerator` decide, and
        write the image as a snapshot when it says so. Returns the new snapshot id, or None."""
        delta = self._delta_bytes
        if not delta:
            return None
        self._delta_bytes = 0
        now = self.ctx.now
        generator = self.snapshot_generator
        reason = generator.on_log_delta(delta, now, self._batch_aligned)
        if reason is None:
            return None
        end = self.next_offset
        if image.offset != end - 1:
            raise InvariantViolation(f"node {self.ctx.node_id}: the image is at offset {image.offset} but the "
                                     f"metadata log was replayed to {end - 1}; cannot snapshot it", time_ms=now)
        generator.emitting(now)
        snapshot_id = self.node.create_snapshot(end, image.write(), now)
        if snapshot_id is not None:
            self.ctx.record("metadata.snapshot_generated", end, epoch=snapshot_id[1], reason=reason)
        return snapshot_id

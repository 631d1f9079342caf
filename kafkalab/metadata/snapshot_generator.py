"""When a controller or broker snapshots its metadata image (KIP-630; Kafka's ``SnapshotGenerator`` and
``SnapshotEmitter`` in ``metadata/.../image/publisher``).

How it works. In Kafka 4 every node (the active and standby controllers and every broker) runs one
``SnapshotGenerator`` on its metadata loader (``SharedServer``); the controller's ``QuorumController`` no longer
writes snapshots itself (its ``SnapshotRegistry`` only holds in-memory versions to revert uncommitted state). The
generator counts the bytes of every committed batch the loader replays (``LogDeltaManifest.numBytes``: record and
control batches alike) and, after a replay, decides:

- at least ``metadata.log.max.record.bytes.between.snapshots`` bytes (default 20 MiB) since the last snapshot, or
- ``metadata.log.max.snapshot.interval.ms`` (default 1 h; 0 switches this off) since the last snapshot, checked only
  when new records were replayed (no timer: an idle log is never snapshotted; the active controller's NoOp record
  every ``metadata.max.idle.interval.ms`` counts as new records),

and only when the image ends on a batch boundary (``isOffsetBatchAligned``). The emitter then writes the image as
the records that rebuild it (:meth:`~kafkalab.metadata.image.MetadataImage.write`) through the Raft client's
``createSnapshot``, named by (image offset + 1, epoch of that record). Both counters restart when a snapshot is
emitted, when one is loaded (a follower that fetched one, a restart that read one), and when the process starts.
Deleting the log before a snapshot is the Raft log's business (:meth:`kafkalab.raft.node.RaftNode.maybe_clean`,
``metadata.max.retention.bytes``/``.ms``), not the generator's.

Simplifications: the snapshot is written synchronously (Kafka's emitter runs on its own event queue; here it costs
no virtual time beyond its fsync); ``last_contained_log_time_ms`` is the time the node replayed the last contained
record rather than the leader's append time of that batch.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SnapshotGenerator"]


class SnapshotGenerator:
    """The snapshot trigger of one node: bytes and time since the last snapshot (see the module docstring)."""

    __slots__ = ("max_bytes_since_last_snapshot", "max_interval_ms", "bytes_since_last_snapshot",
                 "last_snapshot_ms", "emitted")

    def __init__(self, max_bytes_since_last_snapshot: int, max_interval_ms: float, now_ms: float) -> None:
        if isinstance(max_bytes_since_last_snapshot, bool) or not isinstance(max_bytes_since_last_snapshot, int) \
                or max_bytes_since_last_snapshot < 1:
            raise ValueError(f"metadata.log.max.record.bytes.between.snapshots must be an int >= 1, got "
                             f"{max_bytes_since_last_snapshot!r}")
        if isinstance(max_interval_ms, bool) or not isinstance(max_interval_ms, int | float) or max_interval_ms < 0:
            raise ValueError(f"metadata.log.max.snapshot.interval.ms must be a number >= 0 (0 disables it), got "
                             f"{max_interval_ms!r}")
        self.max_bytes_since_last_snapshot = max_bytes_since_last_snapshot
        self.max_interval_ms = float(max_interval_ms)
        self.bytes_since_last_snapshot = 0
        self.last_snapshot_ms = now_ms
        #: snapshots this generator asked for
        self.emitted = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], now_ms: float) -> SnapshotGenerator:
        """From a resolved broker config (``metadata.log.max.record.bytes.between.snapshots``,
        ``metadata.log.max.snapshot.interval.ms``)."""
        return cls(int(config["metadata.log.max.record.bytes.between.snapshots"]),
                   float(config["metadata.log.max.snapshot.interval.ms"]), now_ms)

    def reset(self, now_ms: float) -> None:
        """A snapshot was emitted or loaded: both counters start again (``resetSnapshotCounters``)."""
        self.bytes_since_last_snapshot = 0
        self.last_snapshot_ms = now_ms

    def on_log_delta(self, num_bytes: int, now_ms: float, batch_aligned: bool) -> str | None:
        """Committed batches of ``num_bytes`` were replayed: the reason to snapshot now, or None
        (``publishLogDelta``). A snapshot the caller then takes resets the counters through :meth:`emitting`."""
        self.bytes_since_last_snapshot += num_bytes
        if self.bytes_since_last_snapshot >= self.max_bytes_since_last_snapshot:
            reason = f"we have replayed at least {self.max_bytes_since_last_snapshot} bytes"
        elif self.max_interval_ms != 0 and now_ms - self.last_snapshot_ms >= self.max_interval_ms:
            reason = f"we have waited at least {self.max_interval_ms:.0f} ms"
        else:
            return None
        if not batch_aligned:
            return None     # Kafka skips it (the image ends inside a batch) and tries again on the next delta
        return reason

    def emitting(self, now_ms: float) -> None:
        """The caller writes the snapshot now."""
        self.reset(now_ms)
        self.emitted += 1

    def __repr__(self) -> str:
        return (f"SnapshotGenerator(bytes={self.bytes_since_last_snapshot}/{self.max_bytes_since_last_snapshot}, "
                f"last_snapshot_ms={self.last_snapshot_ms}, interval_ms={self.max_interval_ms}, "
                f"emitted={self.emitted})")

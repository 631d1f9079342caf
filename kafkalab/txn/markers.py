"""Writing COMMIT/ABORT markers to every partition of a transaction (Kafka's ``TransactionMarkerChannelManager`` with
its ``TransactionMarkerRequestCompletionHandler``).

How it works. Once PrepareCommit/PrepareAbort is written, :meth:`TransactionMarkerChannel.add` sends one
``WriteTxnMarkers`` entry per partition leader (the leader as the coordinator's broker knows it from its metadata
image), carrying the producer id, the epoch of the prepared state (bumped under transaction version 2), the outcome
and the coordinator epoch. A partition answered NONE is done; a partition without a leader, an error answer
(NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, UNKNOWN_TOPIC_OR_PARTITION, ...) or a request that gets no answer
within ``request.timeout.ms`` is sent again after :data:`RETRY_BACKOFF_MS`, for as long as the coordinator leads the
transaction's partition. When every partition is done, the coordinator writes
CompleteCommit/CompleteAbort. A coordinator that resigns drops its pending markers; its successor finds the prepared
state in the log and sends them again.

TRANSACTION_COORDINATOR_FENCED: the partition leader has seen a marker of this producer from a coordinator with a
newer coordinator epoch (``ProducerAppendInfo.checkCoordinatorEpoch``), so this coordinator was deposed (paused, cut
off) and has not learnt it yet; INVALID_PRODUCER_EPOCH: the leader has a newer producer epoch (the producer moved on
under a newer coordinator). On either, as ``TransactionMarkerRequestCompletionHandler`` does, the coordinator gives
up the transaction's markers (``removeMarkersForTxn``: every partition still pending, no CompleteCommit/CompleteAbort
written) and records ``txn.marker_fenced`` with the error; a newer coordinator owns the transaction.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.txn import TxnMarkerEntry, WriteTxnMarkersRequest, WriteTxnMarkersResponse
from kafkalab.txn.metadata import TransactionMetadata

if TYPE_CHECKING:
    from kafkalab.txn.coordinator import TransactionCoordinator, TxnShard

__all__ = ["TransactionMarkerChannel", "PendingMarkers", "RETRY_BACKOFF_MS"]

#: how long a failed marker waits before it is sent again
RETRY_BACKOFF_MS = 100.0
#: errors after which the coordinator gives the transaction's markers up (a newer epoch owns the producer)
_GIVE_UP = frozenset({"INVALID_PRODUCER_EPOCH", "TRANSACTION_COORDINATOR_FENCED"})


class PendingMarkers:
    """The markers of one transaction still to be written."""

    __slots__ = ("shard", "md", "commit", "producer_id", "producer_epoch", "remaining", "tv")

    def __init__(self, shard: TxnShard, md: TransactionMetadata, commit: bool) -> None:
        self.shard = shard
        self.md = md
        self.commit = commit
        self.producer_id = md.producer_id
        self.producer_epoch = md.producer_epoch
        self.remaining: set[TopicPartition] = set(md.partitions)
        self.tv = md.transaction_version


class TransactionMarkerChannel:
    """The markers in flight of one coordinator."""

    def __init__(self, coordinator: TransactionCoordinator, request_timeout_ms: float) -> None:
        self.coordinator = coordinator
        self.port = coordinator.port
        self.request_timeout_ms = request_timeout_ms
        self._seq = itertools.count(1)
        #: request or retry id -> (markers, partitions, broker sent to or None for a retry timer)
        self.in_flight: dict[int, tuple[PendingMarkers, tuple[TopicPartition, ...], Any]] = {}
        self.markers_sent = 0

    def add(self, shard: TxnShard, md: TransactionMetadata, commit: bool, now_ms: float) -> None:
        entry = PendingMarkers(shard, md, commit)
        if not entry.remaining:
            self.coordinator.complete_markers(shard, md, now_ms)
            return
        self._send(entry, tuple(sorted(entry.remaining)), now_ms)

    def _send(self, entry: PendingMarkers, partitions: tuple[TopicPartition, ...], now_ms: float) -> None:
        by_leader: dict[Any, list[TopicPartition]] = {}
        orphans: list[TopicPartition] = []
        for tp in partitions:
            leader = self.port.leader_for(tp)
            if leader is None:
                orphans.append(tp)
            else:
                by_leader.setdefault(leader, []).append(tp)
        for leader, tps in sorted(by_leader.items(), key=lambda kv: str(kv[0])):
            seq = next(self._seq)
            self.in_flight[seq] = (entry, tuple(tps), leader)
            marker = TxnMarkerEntry(entry.producer_id, entry.producer_epoch, entry.commit, entry.shard.epoch,
                                    tuple(tps), entry.tv)
            self.port.send(leader, WriteTxnMarkersRequest((marker,), seq))
            self.markers_sent += len(tps)
            self.port.set_timer(f"marker:{seq}", now_ms + self.request_timeout_ms)
        if orphans:
            self._retry(entry, tuple(orphans), now_ms)

    def _retry(self, entry: PendingMarkers, partitions: tuple[TopicPartition, ...], now_ms: float) -> None:
        seq = next(self._seq)
        self.in_flight[seq] = (entry, partitions, None)
        self.port.set_timer(f"marker:{seq}", now_ms + RETRY_BACKOFF_MS)

    def _live(self, entry: PendingMarkers) -> bool:
        return self.coordinator.shards.get(entry.shard.partition) is entry.shard

    def on_response(self, src: Any, msg: WriteTxnMarkersResponse, now_ms: float) -> None:
        found = self.in_flight.pop(msg.correlation_id, None)
        if found is None:
            return
        self.port.cancel_timer(f"marker:{msg.correlation_id}")
        entry, tps, _leader = found
        if not self._live(entry):
            return
        errors = msg.errors.get(entry.producer_id, {})
        fenced = [tp for tp in tps if errors.get(tp) in _GIVE_UP]
        if fenced:
            self._give_up(entry, fenced, errors)
            return
        again = []
        for tp in tps:
            error = errors.get(tp, "UNKNOWN_SERVER_ERROR")
            if error == "NONE":
                entry.remaining.discard(tp)
            else:
                self.port.record("txn.marker_retry", 1, error=error, topic=tp.topic, partition=tp.partition)
                again.append(tp)
        if again:
            self._retry(entry, tuple(again), now_ms)
        elif not entry.remaining:
            self.coordinator.complete_markers(entry.shard, entry.md, now_ms)

    def _give_up(self, entry: PendingMarkers, fenced: list[TopicPartition], errors: dict[TopicPartition, str]) -> None:
        """A newer producer or coordinator epoch owns the producer: stop sending this transaction's markers."""
        for tp in fenced:
            self.port.record("txn.marker_fenced", 1, transactional_id=entry.md.transactional_id,
                             coordinator_epoch=entry.shard.epoch, error=errors[tp], topic=tp.topic,
                             partition=tp.partition)
        for seq in sorted(self.in_flight):
            if self.in_flight[seq][0] is entry:
                del self.in_flight[seq]
                self.port.cancel_timer(f"marker:{seq}")
        entry.remaining.clear()

    def on_timeout(self, seq: int, now_ms: float) -> None:
        found = self.in_flight.pop(seq, None)
        if found is None:
            return
        entry, tps, _leader = found
        if self._live(entry):
            self._send(entry, tps, now_ms)

    def remove_for(self, partition: int) -> None:
        """The coordinator resigned ``partition``: forget its markers."""
        for seq in sorted(self.in_flight):
            if self.in_flight[seq][0].shard.partition == partition:
                del self.in_flight[seq]
                self.port.cancel_timer(f"marker:{seq}")

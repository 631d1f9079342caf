"""Consumer fetches and ListOffsets on a leader (the consumer half of Kafka's ``ReplicaManager.fetchMessages`` with
its ``DelayedFetch``, and ``fetchOffsetForTimestamp``), and the reads the follower fetch sessions share.

How it works. A consumer (``replica_id = -1``) reads below the HW of every partition it names. Each partition is
checked by :func:`leader_partition`: UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER, and FENCED_LEADER_EPOCH /
UNKNOWN_LEADER_EPOCH on a stale or future ``current_leader_epoch``; NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH
carry the leader this broker knows (KIP-951). An offset outside the log answers OFFSET_OUT_OF_RANGE. A fetch with
less than ``min_bytes`` (and no error) waits up to ``max_wait_ms``: it is parked in its partitions'
``consumer_waiters`` lists, read again when one of their HWs moves, and answered with what there is at its deadline
(one entry in the expiry heap of :mod:`kafkalab.broker.timers`), or at once when the leadership moves.
A fetch in an incremental fetch session (KIP-227) is handled by :mod:`kafkalab.broker.consumer_sessions`.

Transactions (KIP-98): every answer carries the last stable offset; a ``read_committed`` fetch
(``isolation_level=1``) reads below it instead of the HW and gets the aborted transactions overlapping what it read
(``UnifiedLog.collectAbortedTransactions``), with which the consumer drops aborted batches. ListOffsets LATEST for a
read_committed consumer answers the LSO.

Client quotas (:mod:`kafkalab.broker.quotas`): a consumer fetch's ``max_bytes`` is capped by its fetch quota, and
its answer's bytes count against ``consumer_byte_rate``; a throttled answer carries no data and the throttle time.

Simplifications: ``max_bytes`` of a consumer fetch is spent partition by partition in request order (no round-robin
fairness); ListOffsets by timestamp answers the first batch whose max timestamp reaches it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kafkalab.broker.partition import Partition, Role
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.metadata.image import MetadataImage
from kafkalab.protocol.common import HEADER_BYTES, NONE, PARTITION_BYTES
from kafkalab.protocol.fetch import (
    FINAL_EPOCH,
    INVALID_SESSION_ID,
    FetchPartition,
    FetchRequest,
    FetchResponse,
    PartitionFetchResponse,
)
from kafkalab.protocol.list_offsets import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    ListOffsetsPartitionResponse,
    ListOffsetsRequest,
    ListOffsetsResponse,
)
from kafkalab.protocol.sizes import message_size_bytes

if TYPE_CHECKING:       # the replica manager builds this module's handler
    from kafkalab.broker.replica_manager import ReplicaManager

__all__ = ["ConsumerFetch", "ConsumerFetches", "NOT_LEADER", "UNKNOWN", "error_response", "leader_partition",
           "read_partition", "response_size_bytes"]

NOT_LEADER = "NOT_LEADER_OR_FOLLOWER"
UNKNOWN = "UNKNOWN_TOPIC_OR_PARTITION"


class ConsumerFetch:
    """A parked consumer fetch (Kafka's ``DelayedFetch``)."""

    __slots__ = ("src", "request", "done")

    def __init__(self, src: Any, request: FetchRequest) -> None:
        self.src = src
        self.request = request
        self.done = False


def response_size_bytes(responses: Mapping[TopicPartition, PartitionFetchResponse]) -> int:
    """A fetch response's size as the fetch quota counts it (Kafka's ``FetchContext.getResponseSize``), the same
    as its size on the modelled link."""
    return HEADER_BYTES + sum(PARTITION_BYTES + r.records_size_bytes for r in responses.values())


def error_response(error: str, p: Partition | None) -> PartitionFetchResponse:
    """An error answer; NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH carry the leader this broker knows (KIP-951)."""
    if p is not None and p.leader_id >= 0 and error in (NOT_LEADER, "FENCED_LEADER_EPOCH"):
        return PartitionFetchResponse(error, current_leader=(p.leader_id, p.leader_epoch))
    return PartitionFetchResponse(error)


def leader_partition(partitions: Mapping[TopicPartition, Partition], image: MetadataImage | None,
                     tp: TopicPartition, current_leader_epoch: int) -> tuple[Partition | None, str]:
    """The partition ``tp`` if this broker leads it at ``current_leader_epoch`` (-1: any), else (None, error)."""
    p = partitions.get(tp)
    if p is None:
        known = image is not None and image.partition(tp.topic, tp.partition) is not None
        return None, NOT_LEADER if known else UNKNOWN
    if current_leader_epoch >= 0:
        if current_leader_epoch < p.leader_epoch:
            return None, "FENCED_LEADER_EPOCH"
        if current_leader_epoch > p.leader_epoch:
            return None, "UNKNOWN_LEADER_EPOCH"
    if p.role is not Role.LEADER:
        return None, NOT_LEADER
    return p, NONE


def read_partition(p: Partition, fp: FetchPartition, max_bytes: int, limit: int | None,
                   min_one: bool, isolation_level: int = 0) -> PartitionFetchResponse:
    """Read ``p`` from ``fp.fetch_offset``, below ``limit`` (None: to the log end), at most ``max_bytes`` but at
    least one batch when ``min_one``. ``isolation_level=1`` (read_committed) reads below the LSO instead of
    ``limit`` and adds the aborted transactions."""
    log = p.log
    offset = fp.fetch_offset
    hw = p.high_watermark
    lso = hw if log.txn is None else log.last_stable_offset(hw)
    if offset < log.log_start_offset or offset > log.log_end_offset:
        return PartitionFetchResponse("OFFSET_OUT_OF_RANGE", hw, lso, log.log_start_offset)
    if isolation_level == 1:
        limit = lso
    if offset == limit and isolation_level == 0:
        # Nothing to read (the common case of a consumer fetch over many partitions): one shared empty answer.
        empty = p.empty_read
        if (empty is None or empty.high_watermark != hw or empty.last_stable_offset != lso
                or empty.log_start_offset != log.log_start_offset):
            empty = p.empty_read = PartitionFetchResponse(NONE, hw, lso, log.log_start_offset)
        return empty
    batches = log.read(offset, max_bytes, max_offset=limit, min_one=min_one) if max_bytes > 0 or min_one else []
    aborted: tuple[tuple[int, int], ...] = ()
    if isolation_level == 1 and batches and log.txn is not None:
        aborted = tuple((a.producer_id, a.first_offset)
                        for a in log.aborted_transactions(offset, batches[-1].next_offset))
    return PartitionFetchResponse(NONE, hw, lso, log.log_start_offset, tuple(batches), aborted_transactions=aborted)


class ConsumerFetches:
    """Consumer fetches and ListOffsets of one replica manager."""

    def __init__(self, rm: ReplicaManager) -> None:
        self.rm = rm
        self.port = rm.port
        self.partitions = rm.partitions
        self.fetch_max_bytes = int(rm.config["fetch.max.bytes"])     # the broker's cap on a consumer fetch
        # the sessions module builds on this module's reads, so it is imported here, not at the top
        from kafkalab.broker.consumer_sessions import ConsumerSessions, SessionWatch

        #: incremental fetch sessions (KIP-227) of the consumers that use them
        self.sessions = ConsumerSessions(rm)
        self._watch = SessionWatch

    def read(self, req: FetchRequest) -> tuple[dict[TopicPartition, PartitionFetchResponse], int, bool]:
        """Read every partition of ``req``: (responses, record bytes, any error)."""
        responses: dict[TopicPartition, PartitionFetchResponse] = {}
        partitions = self.partitions
        image = self.rm.image
        budget = min(self.max_bytes(req), self.fetch_max_bytes)
        total = 0
        errors = False
        for tp, fp in req.partitions.items():
            p, error = leader_partition(partitions, image, tp, fp.current_leader_epoch)
            if p is None:
                responses[tp] = error_response(error, partitions.get(tp))
                errors = True
                continue
            r = read_partition(p, fp, min(fp.partition_max_bytes, budget - total), p.high_watermark, total == 0,
                               req.isolation_level)
            if r.error != NONE:
                errors = True
            size = r.records_size_bytes
            total += size
            responses[tp] = r
        return responses, total, errors

    def max_bytes(self, req: FetchRequest) -> int:
        """``req.max_bytes``, capped by what its client's fetch quota allows in one window span (KafkaApis'
        ``getMaxValueInQuotaWindow``)."""
        quotas = self.rm.quotas
        if quotas.enabled:
            cap = quotas.fetch_max_bytes(req.client_id)
            if cap < req.max_bytes:
                return int(cap)
        return req.max_bytes

    def respond(self, src: Any, req: FetchRequest, responses: dict[TopicPartition, PartitionFetchResponse],
                session_id: int = INVALID_SESSION_ID) -> bool:
        """Send a consumer fetch answer. With client quotas its bytes are recorded; a throttled answer goes without
        data, with the throttle time (KafkaApis' ``getThrottledResponse``). False when it was throttled."""
        quotas = self.rm.quotas
        if quotas.enabled:
            throttle = quotas.fetch_throttle_ms(src, req.client_id, response_size_bytes(responses), self.rm.now_ms,
                                                message_size_bytes(req))
            if throttle > 0:
                self.port.send(src, FetchResponse(NONE, {}, req.correlation_id, session_id, throttle))
                return False
        self.port.send(src, FetchResponse(NONE, responses, req.correlation_id, session_id))
        return True

    def fetch(self, src: Any, req: FetchRequest, now_ms: float) -> None:
        """Answer a consumer fetch now, or park it until its partitions' HWs move or ``max_wait_ms`` passes."""
        if (req.session_id != INVALID_SESSION_ID or req.session_epoch != FINAL_EPOCH) and \
                self.sessions.fetch(src, req, now_ms):
            return
        responses, total, errors = self.read(req)
        if errors or total >= req.min_bytes or req.max_wait_ms <= 0:
            self.respond(src, req, responses)
            return
        cf = ConsumerFetch(src, req)
        for tp in req.partitions:
            self.partitions[tp].consumer_waiters.append(cf)
        self.rm._expiry.add(now_ms + req.max_wait_ms, cf)

    def try_complete(self, cf: Any) -> None:
        """A HW of ``cf``'s partitions moved: answer it if it has enough now, else park it again."""
        if type(cf) is not ConsumerFetch:
            self.sessions.hw_moved(cf)          # a session's watch on the partition
            return
        responses, total, errors = self.read(cf.request)
        if errors or total >= cf.request.min_bytes:
            self._finish(cf, responses)
        else:
            for tp in cf.request.partitions:
                p = self.partitions.get(tp)
                if p is not None and cf not in p.consumer_waiters:
                    p.consumer_waiters.append(cf)

    def complete(self, cf: Any) -> None:
        """Answer ``cf`` with what there is (its deadline passed, or a leadership moved)."""
        if type(cf) is not ConsumerFetch:
            sessions = self.sessions
            if type(cf) is self._watch:
                sessions.leadership_lost(cf)
            else:
                sessions.complete(cf)           # a parked session fetch's deadline
            return
        self._finish(cf, self.read(cf.request)[0])

    def _finish(self, cf: ConsumerFetch, responses: dict[TopicPartition, PartitionFetchResponse]) -> None:
        cf.done = True
        for tp in cf.request.partitions:
            p = self.partitions.get(tp)
            if p is not None and cf in p.consumer_waiters:
                p.consumer_waiters.remove(cf)
        self.respond(cf.src, cf.request, responses)

    def leadership_changed(self, p: Partition) -> None:
        """``p``'s leader epoch changed: the sessions reading it read it on their next fetch (a stale
        ``current_leader_epoch`` answers FENCED_LEADER_EPOCH then, as a sessionless fetch's read would)."""
        watch = self._watch
        for w in p.consumer_waiters:
            if type(w) is watch and not w.done:
                w.session.pending[w.tp] = None

    def list_offsets(self, src: Any, req: ListOffsetsRequest) -> None:
        responses: dict[TopicPartition, ListOffsetsPartitionResponse] = {}
        for tp, timestamp in req.partitions.items():
            p, error = leader_partition(self.partitions, self.rm.image, tp, -1)
            if p is None:
                responses[tp] = ListOffsetsPartitionResponse(error)
                continue
            log = p.log
            if timestamp == EARLIEST_TIMESTAMP:
                offset = log.log_start_offset
            elif timestamp == LATEST_TIMESTAMP:
                if req.replica_id >= 0:
                    offset = log.log_end_offset
                elif req.isolation_level == 1:
                    offset = log.last_stable_offset(p.high_watermark)
                else:
                    offset = p.high_watermark
            else:
                offset = -1
                for batch in log.batches():
                    if batch.max_timestamp_ms >= timestamp and batch.base_offset < p.high_watermark:
                        offset = batch.base_offset
                        break
            responses[tp] = ListOffsetsPartitionResponse(NONE, -1, offset, p.leader_epoch)
        self.port.send(src, ListOffsetsResponse(responses, req.correlation_id))

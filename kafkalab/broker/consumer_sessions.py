"""Consumer incremental fetch sessions on a leader (KIP-227; Kafka's ``FetchSession``, ``FetchSessionCache`` and
``IncrementalFetchContext`` for consumers).

How it works. A consumer fetch with ``session_epoch = 0`` (full) names every partition it wants from this broker and
opens a session: the answer carries every partition and a ``session_id``. Later requests carry that id and the next
epoch (1, 2, ...) and name only the partitions added or changed since the last one (a new fetch offset or leader
epoch), listing the ones to drop in ``forgotten``; the answer carries only partitions with news - records, an error,
or a high watermark, last stable offset or log start offset different from the one last sent (Kafka's
``CachedPartition.maybeUpdateResponseData``). Ids are unique per broker across its restarts (the incarnation in the high bits, where Kafka draws
them at random). An unknown id answers FETCH_SESSION_ID_NOT_FOUND and a wrong epoch
INVALID_FETCH_SESSION_EPOCH; the client then starts over with a full request. ``session_epoch = -1`` with an id closes
the session (the fetch is then sessionless).

Kafka reads every partition of the session on every fetch and sends the changed ones. Here a session reads only the
partitions the request names plus those marked ``pending``: a partition is marked when its HW moves or its
leadership changes (a :class:`SessionWatch` per session partition sits in the partition's ``consumer_waiters``, the
same list the replica manager already walks on those events), and it stays marked while it has data the last answer
did not carry (``fetch.max.bytes`` cut it) or an error. A partition the consumer names with an unchanged offset
cannot have news otherwise (a consumer reads below the HW), so the answers are the same, at a cost that grows with
changed partitions, not with the session's size. A fetch with too little waits up to ``max_wait_ms``
(DelayedFetch); a HW move on a session partition reads the pending ones again.

The cache (``FetchSessionCache``) holds at most ``max.incremental.fetch.session.cache.slots`` consumer sessions. A
new session takes a free slot, else evicts the least recently used session unused for at least
``min.incremental.fetch.session.eviction.ms``; with no slot the answer is sessionless (``session_id`` 0) and the
client keeps sending full requests. Simplifications: follower sessions (:mod:`kafkalab.broker.fetch_sessions`) do not
share the cache; eviction is by last use only (Kafka also weighs session size and privileges followers); a log start
offset moved by retention while a caught-up consumer's partition has no other news reaches it with the next news.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from kafkalab.broker.consumer_fetch import error_response, leader_partition, read_partition
from kafkalab.broker.partition import Partition
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.common import NONE
from kafkalab.protocol.fetch import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    INVALID_SESSION_ID,
    FetchPartition,
    FetchRequest,
    FetchResponse,
    PartitionFetchResponse,
)

if TYPE_CHECKING:
    from kafkalab.broker.replica_manager import ReplicaManager

__all__ = ["ConsumerSession", "ConsumerSessions", "SessionWatch", "ParkedSessionFetch"]

_Sent = tuple[int, int, int]        # (HW, LSO, log start) last sent for a partition


class ConsumerSession:
    """One consumer's incremental fetch session on this broker (Kafka's ``FetchSession``)."""

    __slots__ = ("session_id", "epoch", "partitions", "pending", "sent", "watches", "parked", "last_used_ms",
                 "isolation_level")

    def __init__(self, session_id: int, isolation_level: int, now_ms: float) -> None:
        self.session_id = session_id
        self.epoch = 0                     # answers sent; the next incremental request must carry this epoch
        self.partitions: dict[TopicPartition, FetchPartition] = {}
        self.pending: dict[TopicPartition, None] = {}      # partitions to read on the next fetch (news, or unread data)
        self.sent: dict[TopicPartition, _Sent] = {}
        self.watches: dict[TopicPartition, SessionWatch] = {}
        self.parked: ParkedSessionFetch | None = None
        self.last_used_ms = now_ms
        self.isolation_level = isolation_level


class SessionWatch:
    """A session's entry in one partition's ``consumer_waiters``: the replica manager calls the handler's
    ``try_complete`` on a HW move and ``complete`` on lost leadership; both mark the partition pending."""

    __slots__ = ("session", "tp", "partition", "done")

    def __init__(self, session: ConsumerSession, tp: TopicPartition) -> None:
        self.session = session
        self.tp = tp
        self.partition: Partition | None = None     # the partition object it is registered with, None when not
        self.done = False                           # the partition left the session (or the session closed)


class ParkedSessionFetch:
    """A session fetch waiting for data (Kafka's ``DelayedFetch``), in the expiry heap until ``done``."""

    __slots__ = ("session", "src", "request", "full", "done")

    def __init__(self, session: ConsumerSession, src: Any, request: FetchRequest, full: bool) -> None:
        self.session = session
        self.src = src
        self.request = request
        self.full = full
        self.done = False


class ConsumerSessions:
    """The consumer fetch sessions of one replica manager (its fetch session cache for consumers)."""

    def __init__(self, rm: ReplicaManager) -> None:
        self.rm = rm
        self.port = rm.port
        self.partitions = rm.partitions
        self.fetch_max_bytes = int(rm.config["fetch.max.bytes"])
        self.slots = int(rm.config["max.incremental.fetch.session.cache.slots"])
        self.eviction_ms = float(rm.config["min.incremental.fetch.session.eviction.ms"])
        self.sessions: dict[int, ConsumerSession] = {}      # by id, least recently used first
        # Ids never repeat across the broker's restarts (Kafka draws them at random): a consumer holding an id
        # from before a restart gets FETCH_SESSION_ID_NOT_FOUND, never another consumer's session.
        self._ids = itertools.count((int(rm.incarnation) << 20) + 1)
        self.evictions = 0

    # -- requests ----------------------------------------------------------------------------------------------------
    def fetch(self, src: Any, req: FetchRequest, now_ms: float) -> bool:
        """Handle a consumer fetch that uses sessions; False when it is sessionless (the caller answers it)."""
        if req.session_epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            if req.session_id != INVALID_SESSION_ID:
                old = self.sessions.pop(req.session_id, None)
                if old is not None:
                    self.close(old)
            if req.session_epoch == FINAL_EPOCH:
                return False
            s = self._new_session(req.isolation_level, now_ms)
            if s is None:
                return False                                 # no slot: a sessionless full answer
            self._update(s, req)
            self._answer(s, src, req, now_ms, full=True)
            return True
        s = self.sessions.get(req.session_id)
        if s is None:
            self.port.send(src, FetchResponse("FETCH_SESSION_ID_NOT_FOUND", {}, req.correlation_id))
            return True
        if req.session_epoch != s.epoch:
            self.port.send(src, FetchResponse("INVALID_FETCH_SESSION_EPOCH", {}, req.correlation_id))
            return True
        self.sessions[s.session_id] = self.sessions.pop(s.session_id)     # most recently used last
        if s.parked is not None:
            s.parked.done = True
            s.parked = None
        for tp in req.forgotten:
            self._forget(s, tp)
        self._update(s, req)
        self._answer(s, src, req, now_ms, full=False)
        return True

    def _new_session(self, isolation_level: int, now_ms: float) -> ConsumerSession | None:
        if self.slots <= 0:
            return None
        if len(self.sessions) >= self.slots:
            oldest = next(iter(self.sessions.values()))
            if now_ms - oldest.last_used_ms < self.eviction_ms:
                return None
            del self.sessions[oldest.session_id]
            self.close(oldest)
            self.evictions += 1
        s = ConsumerSession(next(self._ids), isolation_level, now_ms)
        self.sessions[s.session_id] = s
        return s

    def _update(self, s: ConsumerSession, req: FetchRequest) -> None:
        """Take the request's added or changed partitions into the session, each read on this fetch."""
        partitions = self.partitions
        for tp, fp in req.partitions.items():
            s.partitions[tp] = fp
            s.pending[tp] = None
            s.sent.pop(tp, None)          # named: answered whatever it holds (Kafka resends a changed partition)
            watch = s.watches.get(tp)
            if watch is None:
                watch = s.watches[tp] = SessionWatch(s, tp)
            p = partitions.get(tp)
            if p is not None and watch.partition is not p:
                watch.partition = p
                p.consumer_waiters.append(watch)

    def _forget(self, s: ConsumerSession, tp: TopicPartition) -> None:
        s.partitions.pop(tp, None)
        s.pending.pop(tp, None)
        s.sent.pop(tp, None)
        watch = s.watches.pop(tp, None)
        if watch is not None:
            watch.done = True
            p = watch.partition
            if p is not None and p.consumer_waiters and p.consumer_waiters[-1] is watch:
                p.consumer_waiters.pop()        # the common case; otherwise it is dropped when next walked

    def close(self, s: ConsumerSession) -> None:
        """``s`` leaves the cache (closed, replaced or evicted)."""
        if s.parked is not None:
            s.parked.done = True
            s.parked = None
        for watch in s.watches.values():
            watch.done = True
        s.watches = {}

    # -- reads and answers -------------------------------------------------------------------------------------------
    def _read(self, s: ConsumerSession, max_bytes: int, full: bool
              ) -> tuple[dict[TopicPartition, PartitionFetchResponse], int, bool]:
        """Read the pending partitions (every one for a full answer): (answers with news, record bytes, errors).
        Afterwards ``pending`` holds the partitions still owed a read: errors, and data the budget left unread."""
        responses: dict[TopicPartition, PartitionFetchResponse] = {}
        partitions = self.partitions
        image = self.rm.image
        budget = min(max_bytes, self.fetch_max_bytes)
        isolation = s.isolation_level
        sent = s.sent
        total = 0
        errors = False
        candidates = s.partitions if full else s.pending
        still: dict[TopicPartition, None] = {}
        for tp in candidates:
            fp = s.partitions.get(tp)
            if fp is None:
                continue
            p, error = leader_partition(partitions, image, tp, fp.current_leader_epoch)
            if p is None:
                responses[tp] = error_response(error, partitions.get(tp))
                errors = True
                still[tp] = None
                sent.pop(tp, None)
                continue
            r = read_partition(p, fp, min(fp.partition_max_bytes, budget - total), p.high_watermark, total == 0,
                               isolation)
            if r.error != NONE:
                errors = True
                still[tp] = None
                sent.pop(tp, None)
                responses[tp] = r
                continue
            if r.batches:
                total += r.records_size_bytes
                responses[tp] = r
                continue
            end = r.last_stable_offset if isolation == 1 else r.high_watermark
            if fp.fetch_offset < end:
                still[tp] = None            # data there, none read (the budget ran out): read it next time
            if full or sent.get(tp) != (r.high_watermark, r.last_stable_offset, r.log_start_offset):
                responses[tp] = r
        s.pending = still
        return responses, total, errors

    def _answer(self, s: ConsumerSession, src: Any, req: FetchRequest, now_ms: float, *, full: bool) -> None:
        s.last_used_ms = now_ms
        responses, total, errors = self._read(s, self.rm._fetch.max_bytes(req), full)
        if errors or total >= req.min_bytes or req.max_wait_ms <= 0:
            self._send(s, src, req, responses)
            return
        s.pending.update(dict.fromkeys(responses))      # read again when it completes
        parked = s.parked = ParkedSessionFetch(s, src, req, full)
        self.rm._expiry.add(now_ms + req.max_wait_ms, parked)

    def _send(self, s: ConsumerSession, src: Any, req: FetchRequest,
              responses: dict[TopicPartition, PartitionFetchResponse]) -> None:
        s.epoch += 1
        if not self.rm._fetch.respond(src, req, responses, s.session_id):
            # throttled by the client's fetch quota: nothing was sent, so every partition with news is read again
            # next time (Kafka's IncrementalFetchContext.getThrottledResponse leaves the session's cache as it was)
            s.pending.update(dict.fromkeys(responses))
            return
        sent = s.sent
        for tp, r in responses.items():
            if r.error == NONE:
                sent[tp] = (r.high_watermark, r.last_stable_offset, r.log_start_offset)

    # -- completion (called through the consumer fetch handler) ------------------------------------------------------
    def hw_moved(self, watch: SessionWatch) -> None:
        """The HW of ``watch``'s partition moved: mark it; a parked fetch answers if it has enough now."""
        p = watch.partition
        if p is not None:
            p.consumer_waiters.append(watch)         # the replica manager took the list: stay registered
        s = watch.session
        s.pending[watch.tp] = None
        parked = s.parked
        if parked is None:
            return
        req = parked.request
        responses, total, errors = self._read(s, self.rm._fetch.max_bytes(req), parked.full)
        if errors or total >= req.min_bytes:
            self._finish(parked, responses)
        else:
            s.pending.update(dict.fromkeys(responses))

    def leadership_lost(self, watch: SessionWatch) -> None:
        """``watch``'s partition is no longer led here: mark it; a parked fetch answers now (with the error)."""
        watch.partition = None
        s = watch.session
        s.pending[watch.tp] = None
        if s.parked is not None:
            self.complete(s.parked)

    def complete(self, parked: ParkedSessionFetch) -> None:
        """Answer ``parked`` with what there is (its deadline passed, or a leadership moved)."""
        s = parked.session
        responses, _, _ = self._read(s, self.rm._fetch.max_bytes(parked.request), parked.full)
        self._finish(parked, responses)

    def _finish(self, parked: ParkedSessionFetch, responses: dict[TopicPartition, PartitionFetchResponse]) -> None:
        parked.done = True
        s = parked.session
        s.parked = None
        self._send(s, parked.src, parked.request, responses)

"""Follower fetches on a leader: incremental fetch sessions (KIP-227, Kafka's ``FetchSession``/``FetchSessionCache``),
the follower fetch state and the ISR expansion (``Partition.updateFollowerFetchState`` and ``maybeExpandIsr``).

How it works. Followers read up to the log end. The leader keeps one session per follower broker: the partitions it
replicates with their last fetch position, the ones with news since the last response (``pending``) and the HW it
last sent for each. A request names only the partitions whose position changed; the response carries only those
with data, an error, a DivergingEpoch (the follower's ``last_fetched_epoch`` diverged), a new HW or a new log
start offset (``CachedPartition.maybeUpdateResponseData``: retention or the cleaner moved it, and the follower's log
start follows the leader's). A fetch with
nothing to send waits up to ``max_wait_ms`` (Kafka's DelayedFetch); an append, a HW move or a log start move marks the partition in
the sessions replicating it, and an append or a leadership change completes a parked session fetch at once (the
caller runs :meth:`FetchSessions.wake_parked` once per request). An idle parked fetch costs one pending message and
one entry in the expiry heap of :mod:`kafkalab.broker.timers`.

Kafka runs the follower-state update and the ISR expansion check for every partition of a session on every fetch;
here that runs for the partitions a request names plus, per session, the few where that follower is out of the ISR
(``expand_candidates``), with the session's cached fetch offset - the same outcome at a cost that does not grow with
idle partitions.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from kafkalab.broker.consumer_fetch import error_response, leader_partition, read_partition
from kafkalab.broker.partition import Partition, Role
from kafkalab.broker.timers import settled
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.common import NONE
from kafkalab.protocol.fetch import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    FetchPartition,
    FetchRequest,
    FetchResponse,
    PartitionFetchResponse,
)

if TYPE_CHECKING:       # the replica manager builds this module's handler
    from kafkalab.broker.replica_manager import ReplicaManager

__all__ = ["FollowerSession", "FetchSessions"]


class FollowerSession:
    """The leader's incremental fetch session with one follower broker (Kafka's ``FetchSession``)."""

    __slots__ = ("replica_id", "session_id", "partitions", "pending", "sent_hw", "parked", "parked_src", "done",
                 "replica_epoch", "expand_candidates", "sent_log_start")

    def __init__(self, replica_id: int, session_id: int) -> None:
        self.replica_id = replica_id
        self.session_id = session_id
        self.partitions: dict[TopicPartition, FetchPartition] = {}
        self.pending: dict[TopicPartition, None] = {}     # partitions with news since the last response
        self.sent_hw: dict[TopicPartition, int] = {}
        self.sent_log_start: dict[TopicPartition, int] = {}   # the log start offset it last sent for each
        self.parked: FetchRequest | None = None
        self.parked_src: Any = None
        self.done = False                                  # replaced by a newer session
        self.replica_epoch = -1                            # the follower's broker epoch in its latest request
        self.expand_candidates: dict[TopicPartition, None] = {}   # partitions where it is out of the ISR


class FetchSessions:
    """The follower fetch sessions of one replica manager (its ``sessions``, by follower broker id)."""

    def __init__(self, rm: ReplicaManager) -> None:
        self.rm = rm
        self.port = rm.port
        self.partitions = rm.partitions
        self.lagging = rm.lagging
        self.sessions = rm.sessions
        self.wake: dict[int, FollowerSession] = {}      # sessions with a parked fetch to complete
        self._session_ids = itertools.count(1)

    def fetch(self, src: Any, req: FetchRequest, now_ms: float) -> None:
        """A follower fetch: update the session, the follower's state and the ISR; answer now or park it."""
        rm = self.rm
        replica = req.replica_id
        if req.session_epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            old = self.sessions.pop(replica, None)
            if old is not None:
                self.close(old)
            # A sessionless follower fetch (FINAL_EPOCH) gets a session too, with id 0: it is replaced each time.
            s = FollowerSession(replica, next(self._session_ids) if req.session_epoch == INITIAL_EPOCH else 0)
            self.sessions[replica] = s
        else:
            existing = self.sessions.get(replica)
            if existing is None or existing.session_id != req.session_id:
                self.port.send(src, FetchResponse("FETCH_SESSION_ID_NOT_FOUND", {}, req.correlation_id))
                return
            s = existing
            for tp in req.forgotten:
                if s.partitions.pop(tp, None) is not None:
                    s.pending.pop(tp, None)
                    s.sent_hw.pop(tp, None)
                    s.sent_log_start.pop(tp, None)
                    p = self.partitions.get(tp)
                    if p is not None and s in p.sessions:
                        p.sessions.remove(s)
        s.parked = None
        s.replica_epoch = req.replica_epoch
        partitions = self.partitions
        named = req.partitions
        candidates: dict[TopicPartition, None] = dict.fromkeys(named) if named else {}
        for tp, fp in named.items():
            if tp not in s.partitions:
                p = partitions.get(tp)
                if p is not None:
                    p.sessions.append(s)
            s.partitions[tp] = fp
            p, error = leader_partition(partitions, rm.image, tp, fp.current_leader_epoch)
            if p is None:
                continue
            state = p.followers.get(replica)
            if state is None or p.diverging_epoch(fp.fetch_offset, fp.last_fetched_epoch) is not None:
                continue
            if fp.fetch_offset > p.log.log_end_offset or fp.fetch_offset < p.log.log_start_offset:
                continue
            p.update_follower_fetch(state, fp.fetch_offset, now_ms)
            state.broker_epoch = req.replica_epoch
            if fp.fetch_offset == p.log.log_end_offset and tp in self.lagging and settled(p):
                del self.lagging[tp]
            if replica not in p.isr:
                self.expand(s, p, now_ms)
            if p.maybe_increment_hw():
                rm._on_hw_advanced(p)
        if s.expand_candidates:
            for tp in list(s.expand_candidates):
                cached = s.partitions.get(tp)
                p = partitions.get(tp)
                if tp in req.partitions or cached is None or p is None:
                    if cached is None or p is None:
                        del s.expand_candidates[tp]
                    continue
                state = p.followers.get(replica)
                if p.role is not Role.LEADER or state is None or replica in p.isr:
                    del s.expand_candidates[tp]
                    continue
                if cached.fetch_offset <= p.log.log_end_offset and \
                        cached.current_leader_epoch in (-1, p.leader_epoch):
                    p.update_follower_fetch(state, cached.fetch_offset, now_ms)   # the session's cached offset
                    state.broker_epoch = req.replica_epoch
                    self.expand(s, p, now_ms)
        if s.pending:
            candidates.update(s.pending)
            s.pending = {}
        if candidates:
            responses, total, news = self._read(s, candidates, req.max_bytes)
        else:           # an idle session's fetch: nothing to read, no partition state touched
            responses, total, news = {}, 0, False
        if news or total >= req.min_bytes or req.max_wait_ms <= 0:
            self._respond(s, src, req, responses)
            return
        if responses:
            s.pending.update(dict.fromkeys(responses))
        s.parked = req
        s.parked_src = src
        rm._expiry.add(now_ms + req.max_wait_ms, (s, req))

    def expand(self, s: FollowerSession, p: Partition, now_ms: float) -> None:
        """Propose adding ``s``'s follower to ``p``'s ISR if it qualifies, else remember to look again."""
        rm = self.rm
        proposal = p.maybe_expand_isr(s.replica_id, now_ms, rm._eligible)
        if proposal is not None:
            rm.isr_expands += 1
            self.lagging[p.tp] = p
            s.expand_candidates.pop(p.tp, None)
            self.port.alter_partition(proposal)
        else:
            s.expand_candidates[p.tp] = None

    def _read(self, s: FollowerSession, candidates: dict[TopicPartition, None], max_bytes: int
              ) -> tuple[dict[TopicPartition, PartitionFetchResponse], int, bool]:
        """Read every candidate partition of a session: (responses with news, record bytes, any error/diverging)."""
        responses: dict[TopicPartition, PartitionFetchResponse] = {}
        partitions = self.partitions
        image = self.rm.image
        total = 0
        news = False
        sent_hw = s.sent_hw
        sent_log_start = s.sent_log_start
        for tp in candidates:
            fp = s.partitions.get(tp)
            if fp is None:
                continue
            p, error = leader_partition(partitions, image, tp, fp.current_leader_epoch)
            if p is None:
                responses[tp] = error_response(error, partitions.get(tp))
                news = True
                continue
            if fp.last_fetched_epoch >= 0:
                diverging = p.diverging_epoch(fp.fetch_offset, fp.last_fetched_epoch)
                if diverging is not None:
                    if diverging[0] < 0:
                        responses[tp] = PartitionFetchResponse("OFFSET_OUT_OF_RANGE", p.high_watermark,
                                                               p.high_watermark, p.log.log_start_offset)
                    else:
                        responses[tp] = PartitionFetchResponse(NONE, p.high_watermark, p.high_watermark,
                                                               p.log.log_start_offset, diverging_epoch=diverging)
                    news = True
                    continue
            r = read_partition(p, fp, min(fp.partition_max_bytes, max_bytes - total), None, total == 0)
            if r.error != NONE:
                news = True
                responses[tp] = r
                continue
            if r.batches:
                total += r.records_size_bytes
                responses[tp] = r
            elif sent_hw.get(tp) != r.high_watermark or sent_log_start.get(tp) != r.log_start_offset:
                responses[tp] = r
        return responses, total, news

    def _respond(self, s: FollowerSession, src: Any, req: FetchRequest,
                 responses: dict[TopicPartition, PartitionFetchResponse]) -> None:
        sent_hw = s.sent_hw
        sent_log_start = s.sent_log_start
        for tp, r in responses.items():
            sent_hw[tp] = r.high_watermark
            sent_log_start[tp] = r.log_start_offset
        self.port.send(src, FetchResponse(NONE, responses, req.correlation_id, s.session_id))

    def complete(self, s: FollowerSession) -> None:
        """Answer ``s``'s parked fetch with what it has now (news came, or its deadline passed)."""
        req = s.parked
        if req is None or s.done:
            return
        s.parked = None
        candidates = s.pending
        if candidates:
            s.pending = {}
            responses, _, _ = self._read(s, candidates, req.max_bytes)
            self._respond(s, s.parked_src, req, responses)
        else:           # expired with no news: the empty answer, no partition state touched
            self.port.send(s.parked_src, FetchResponse(NONE, {}, req.correlation_id, s.session_id))

    def wake_parked(self) -> None:
        """Complete the parked fetches of the sessions in ``wake``."""
        woken, self.wake = self.wake, {}
        for s in woken.values():
            if s.parked is not None:
                self.complete(s)

    def close(self, s: FollowerSession) -> None:
        """``s`` is replaced by a newer session of its follower."""
        s.done = True
        s.parked = None
        for tp in s.partitions:
            p = self.partitions.get(tp)
            if p is not None and s in p.sessions:
                p.sessions.remove(s)

    @staticmethod
    def log_start_moved(p: Partition) -> None:
        """``p``'s log start offset moved (retention or the cleaner deleted segments): the sessions replicating it
        send it on their next answer (Kafka compares it with the cached one on every session fetch); a parked fetch
        is not completed early, as Kafka's DelayedFetch is not."""
        tp = p.tp
        for s in p.sessions:
            s.pending[tp] = None

    def mark_expand_candidates(self, p: Partition) -> None:
        """Replicas out of ``p``'s ISR get ``p`` re-evaluated on their session's next fetch (Kafka runs the
        expansion check for every partition of a fetch session on every fetch; an incremental session does not
        mention a caught-up idle partition, so the leader remembers which ones to look at)."""
        if p.role is not Role.LEADER or len(p.isr) == len(p.replicas):
            return
        tp = p.tp
        broker_id = self.rm.broker_id
        for r in p.replicas:
            if r != broker_id and r not in p.isr:
                session = self.sessions.get(r)
                if session is not None and tp in session.partitions:
                    session.expand_candidates[tp] = None

"""Replica fetchers: a follower pulls its partitions from their leaders (Kafka's ``ReplicaFetcherThread``).

How it works. There is one :class:`FetcherThread` per source (leader) broker, carrying every partition this broker
follows on that leader (``num.replica.fetchers = 1``); :class:`ReplicaFetcherManager` moves partitions between threads
as leadership changes in the metadata image. A thread has at most one fetch in flight. Each response is applied and
the next fetch goes out at once, so replication is a chain of long polls: the leader parks an empty fetch for up to
``replica.fetch.wait.max.ms`` (500 ms) and answers as soon as data is appended.

Fetches use an incremental fetch session (KIP-227): the first request is full (``session_epoch = 0``, every
partition); later ones carry only partitions whose fetch state changed (new log end after an append or a truncation,
a new leader epoch, a partition added) and ``forgotten`` ones. An idle thread's request names no partition at all,
so its cost does not grow with the number of partitions. A session the leader does not know
(FETCH_SESSION_ID_NOT_FOUND, e.g. after its restart) restarts with a full request.

Per partition of a response: records are appended as the leader's very batch objects (zero copy); the follower HW
becomes min(leader HW, own LEO); a DivergingEpoch ``(epoch, end offset)`` truncates the log to min(own end offset of
that epoch, end offset) (``AbstractFetcherThread.truncateOnFetchResponse``, KIP-279/KIP-595) and, when this replica
does not know that epoch, fetches again for another round; OFFSET_OUT_OF_RANGE restarts the log at the leader's log
start (or truncates to the leader's HW); a leader's log start above the follower's (retention, deleteRecords) moves
the follower's up too, never past its HW; any other partition error (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
UNKNOWN_LEADER_EPOCH, ...) takes the partition out of the session for ``replica.fetch.backoff.ms`` until the
metadata image catches up. A request error or no answer within ``replica.socket.timeout.ms`` backs the whole thread
off for ``replica.fetch.backoff.ms`` and restarts its session.

Timers: one per thread, re-armed lazily (it fires at most once per timeout window while fetches flow).

A leader that re-registers (a new broker epoch in the image: a restarted process) gets a new session at once; its
old process would have reset the connection. Otherwise a lost request is noticed by the request timeout.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.common import NONE
from kafkalab.protocol.fetch import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    INVALID_SESSION_ID,
    FetchPartition,
    FetchRequest,
    FetchResponse,
)

if TYPE_CHECKING:
    from kafkalab.broker.partition import Partition

__all__ = ["FetcherThread", "ReplicaFetcherManager", "FETCHER_TIMER_PREFIX"]

FETCHER_TIMER_PREFIX = "fetcher:"
_SESSION_ERRORS = ("FETCH_SESSION_ID_NOT_FOUND", "INVALID_FETCH_SESSION_EPOCH")


class FetcherThread:
    """Fetches every partition this broker follows on one leader."""

    def __init__(self, manager: ReplicaFetcherManager, leader_id: int) -> None:
        self.manager = manager
        self.leader_id = leader_id
        self.timer_name = f"{FETCHER_TIMER_PREFIX}{leader_id}"
        self.partitions: dict[TopicPartition, Partition] = {}
        self.changed: dict[TopicPartition, None] = {}
        self.forgotten: dict[TopicPartition, None] = {}
        self.delayed: dict[TopicPartition, float] = {}
        self.session_id = INVALID_SESSION_ID
        self.session_epoch = INITIAL_EPOCH
        self.in_flight: int | None = None
        self.deadline_ms = 0.0
        self.backoff_until_ms = 0.0
        self.timer_at: float | None = None
        self.fetches = 0

    def __repr__(self) -> str:
        return f"FetcherThread(leader={self.leader_id}, partitions={len(self.partitions)}, session={self.session_id})"

    def _fetch_partition(self, p: Partition) -> FetchPartition:
        log = p.log
        latest = log.latest_epoch
        return FetchPartition(log.log_end_offset, self.manager.fetch_max_bytes, p.leader_epoch,
                              -1 if latest is None else latest, log.log_start_offset)

    def maybe_send(self, now_ms: float) -> None:
        if self.in_flight is not None or now_ms < self.backoff_until_ms or not self.partitions:
            return
        m = self.manager
        if self.session_id == INVALID_SESSION_ID:
            parts = {tp: self._fetch_partition(p) for tp, p in self.partitions.items() if tp not in self.delayed}
            epoch = INITIAL_EPOCH
            forgotten: tuple[TopicPartition, ...] = ()
        elif self.changed:
            parts = {tp: self._fetch_partition(self.partitions[tp]) for tp in self.changed
                     if tp in self.partitions and tp not in self.delayed}
            epoch = self.session_epoch + 1
            forgotten = tuple(self.forgotten)
        else:       # an idle session: the request names no partition
            parts = {}
            epoch = self.session_epoch + 1
            forgotten = tuple(self.forgotten) if self.forgotten else ()
        if self.changed:
            self.changed = {}
        if self.forgotten:
            self.forgotten = {}
        self.session_epoch = epoch
        m._correlation += 1
        cid = self.in_flight = m._correlation
        self.fetches += 1
        deadline = self.deadline_ms = now_ms + m.socket_timeout_ms + m.wait_ms
        m.port.send(self.leader_id, FetchRequest(
            m.broker_id, m.wait_ms, m.min_bytes, m.response_max_bytes, parts, m.broker_epoch, 0, cid,
            self.session_id, epoch, forgotten))
        if self.timer_at is None or deadline < self.timer_at:
            self._arm(deadline)

    def _arm(self, at_ms: float) -> None:
        if self.timer_at is None or at_ms < self.timer_at:
            self.timer_at = at_ms
            self.manager.port.set_timer(self.timer_name, at_ms)

    def _restart_session(self, now_ms: float) -> None:
        self.session_id = INVALID_SESSION_ID
        self.session_epoch = INITIAL_EPOCH
        self.changed = {}
        self.forgotten = {}
        self.backoff_until_ms = now_ms + self.manager.backoff_ms
        self._arm(self.backoff_until_ms)

    def on_timer(self, now_ms: float) -> None:
        self.timer_at = None
        if self.in_flight is not None and now_ms >= self.deadline_ms:
            self.in_flight = None
            self._restart_session(now_ms)
        for tp, until in list(self.delayed.items()):
            if until <= now_ms:
                del self.delayed[tp]
                self.changed[tp] = None
        self.maybe_send(now_ms)
        next_at = [t for t in self.delayed.values()]
        if self.in_flight is not None:
            next_at.append(self.deadline_ms)
        elif self.backoff_until_ms > now_ms:
            next_at.append(self.backoff_until_ms)
        if next_at:
            self._arm(min(next_at))

    def on_response(self, resp: FetchResponse, now_ms: float) -> None:
        if resp.correlation_id != self.in_flight:
            return
        self.in_flight = None
        m = self.manager
        if resp.error != NONE:
            if resp.error in _SESSION_ERRORS:
                self.session_id = INVALID_SESSION_ID
                self.session_epoch = INITIAL_EPOCH
                self.maybe_send(now_ms)
            else:
                self._restart_session(now_ms)
            return
        self.session_id = resp.session_id
        if self.session_id == INVALID_SESSION_ID:
            self.session_epoch = FINAL_EPOCH
        appended = False
        for tp, r in resp.responses.items():
            p = self.partitions.get(tp)
            if p is None:
                continue
            if r.error != NONE:
                if r.error == "OFFSET_OUT_OF_RANGE":
                    if p.log.log_end_offset < r.log_start_offset or r.log_start_offset < 0:
                        p.truncate_fully_and_start_at(max(r.log_start_offset, 0), now_ms)
                    else:
                        p.truncate_to(max(r.high_watermark, p.log.log_start_offset))
                    self.changed[tp] = None
                else:
                    self.delayed[tp] = now_ms + m.backoff_ms
                    self.forgotten[tp] = None
                    self._arm(now_ms + m.backoff_ms)
                m.partition_errors += 1
                continue
            diverging = r.diverging_epoch
            if diverging is not None:
                epoch, end = diverging
                own_epoch, own_end = p.log.end_offset_for_epoch(epoch)
                if own_epoch < 0:
                    target = min(p.high_watermark, end)
                else:
                    target = min(own_end, end)
                p.truncate_to(max(target, p.log.log_start_offset))
                m.truncations += 1
                self.changed[tp] = None
                continue
            batches = r.batches
            if batches:
                log = p.log
                for batch in batches:
                    if batch.next_offset <= log.log_end_offset:
                        continue          # already have it (an answer to a resent fetch)
                    if batch.base_offset > log.log_end_offset and not log.config.compact:
                        m.gaps += 1       # read from a stale offset: fetch again from our log end
                        break
                    log.append_as_follower(batch, now_ms)
                appended = True
                self.changed[tp] = None
            p.follower_update_hw(r.high_watermark)
            leader_start = r.log_start_offset
            if leader_start > p.log.log_start_offset and leader_start <= p.high_watermark:
                # ReplicaFetcherThread.processPartitionData: the follower's log start follows the leader's
                # (maybeIncrementLogStartOffset, LeaderOffsetIncremented), bounded by its own HW.
                p.log.advance_log_start(leader_start, p.high_watermark)
        if appended:
            m.on_append()
        self.maybe_send(now_ms)


class ReplicaFetcherManager:
    """The fetcher threads of one broker, by leader (Kafka's ``ReplicaFetcherManager``)."""

    def __init__(self, broker_id: int, port: Any, config: Mapping[str, Any],
                 on_append: Callable[[], None] | None = None) -> None:
        self.broker_id = broker_id
        self.port = port
        self.broker_epoch = -1
        self.wait_ms = int(config["replica.fetch.wait.max.ms"])
        self.min_bytes = int(config["replica.fetch.min.bytes"])
        self.fetch_max_bytes = int(config["replica.fetch.max.bytes"])
        self.response_max_bytes = int(config["replica.fetch.response.max.bytes"])
        self.socket_timeout_ms = float(config["replica.socket.timeout.ms"])
        self.backoff_ms = float(config["replica.fetch.backoff.ms"])
        self.on_append = on_append or (lambda: None)
        self.threads: dict[int, FetcherThread] = {}
        self.leader_of: dict[TopicPartition, int] = {}
        self._correlation = 0
        self.truncations = 0
        self.partition_errors = 0
        self.gaps = 0

    def next_correlation_id(self) -> int:
        self._correlation += 1
        return self._correlation

    def add_partition(self, p: Partition, now_ms: float) -> None:
        """Fetch ``p`` from ``p.leader_id`` (moving it from another thread if its leader changed)."""
        tp = p.tp
        old = self.leader_of.get(tp)
        if old is not None and old != p.leader_id:
            self.remove_partition(tp, now_ms)
        thread = self.threads.get(p.leader_id)
        if thread is None:
            thread = self.threads[p.leader_id] = FetcherThread(self, p.leader_id)
        self.leader_of[tp] = p.leader_id
        thread.partitions[tp] = p
        thread.delayed.pop(tp, None)
        thread.forgotten.pop(tp, None)
        thread.changed[tp] = None
        thread.maybe_send(now_ms)

    def remove_partition(self, tp: TopicPartition, now_ms: float) -> None:
        leader = self.leader_of.pop(tp, None)
        if leader is None:
            return
        thread = self.threads[leader]
        thread.partitions.pop(tp, None)
        thread.changed.pop(tp, None)
        thread.delayed.pop(tp, None)
        thread.forgotten[tp] = None
        if not thread.partitions:
            del self.threads[leader]
            self.port.cancel_timer(thread.timer_name)

    def reconnect(self, leader_id: int, now_ms: float) -> None:
        """``leader_id`` is a new process (it re-registered): forget the fetch in flight to the old one and start a
        new session at once, as a follower whose connection was reset would."""
        thread = self.threads.get(leader_id)
        if thread is None or thread.in_flight is None:
            return
        thread.in_flight = None
        thread.session_id = INVALID_SESSION_ID
        thread.session_epoch = INITIAL_EPOCH
        thread.changed = {}
        thread.forgotten = {}
        thread.backoff_until_ms = 0.0
        thread.maybe_send(now_ms)

    def on_fetch_response(self, src: Any, resp: FetchResponse, now_ms: float) -> None:
        thread = self.threads.get(src)
        if thread is not None:
            thread.on_response(resp, now_ms)

    def on_timer(self, name: str, now_ms: float) -> None:
        if name.startswith(FETCHER_TIMER_PREFIX):
            thread = self.threads.get(int(name[len(FETCHER_TIMER_PREFIX):]))
            if thread is not None:
                thread.on_timer(now_ms)

"""A replica that knows the leader of its epoch and fetches from it (Kafka's ``FollowerState``, with the handling of
Fetch and FetchSnapshot responses from ``KafkaRaftClient``).

How it works. On entry the follower arms its fetch timer (``fetch_timeout_ms`` plus up to
``fetch_timeout_jitter_ms``) and starts the fetch loop (:mod:`~kafkalab.raft.states.fetching`). Every successful
answer from the leader re-arms the fetch timer; if it expires a voter starts an election (Prospective with pre-vote,
else Candidate) and an observer becomes Unattached to look for a leader again. An answer is one of:

- a DivergingEpoch ``(epoch, end)``: the follower truncates to ``min(own end of that epoch, end)`` (or to ``end`` if it
  has no such epoch) and fetches again;
- a snapshot id: the follower fetches that snapshot (FetchSnapshot); if it is ahead of what it applied, it is
  written and fsynced, then replaces the log (truncated fully at its end) and the state machine, and the follower goes
  on fetching from the snapshot's end;
- batches: appended as follower, then flushed; the high watermark becomes ``min(leader's, own log end)`` if that is
  higher, and newly committed values are applied.

EndQuorumEpoch from its leader makes a voter's fetch timer expire after its rank among the preferred successors
(KIP-595 ``strict exponential backoff``: the first successor at once). A follower that has heard from its leader in
this state refuses pre-votes (KIP-996), and never grants a real vote in its epoch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.protocol import raft as m
from kafkalab.protocol.common import NONE
from kafkalab.raft.quorum import strict_exponential_backoff_ms
from kafkalab.raft.state import Role
from kafkalab.raft.states.fetching import FetchingState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["FollowerState"]


class FollowerState(FetchingState):
    """Fetch timer, fetch-response handling (append, high watermark, truncation) and snapshot fetch."""

    role = Role.FOLLOWER

    __slots__ = ("has_fetched",)

    def __init__(self, node: RaftNode) -> None:
        super().__init__(node)
        #: a fetch from the leader succeeded in this state (KIP-996: then pre-votes are refused)
        self.has_fetched = False

    def enter(self, now_ms: float, previous: Role | None) -> None:
        self.reset_fetch_timer(now_ms)
        self.maybe_fetch(now_ms)

    def reset_fetch_timer(self, now_ms: float) -> None:
        node = self.node
        timeout = node.config.fetch_timeout_ms
        jitter = node.config.fetch_timeout_jitter_ms
        if jitter > 0:
            timeout += node.rng.random() * jitter
        node.port.set_timer("fetch", now_ms + timeout)

    def can_grant_vote(self, candidate: int, up_to_date: bool, pre_vote: bool) -> bool:
        return pre_vote and not self.has_fetched and up_to_date

    def on_fetch_timeout(self, now_ms: float) -> None:
        node = self.node
        if node.is_voter:
            node._start_election(now_ms)
        else:
            node._transition(Role.UNATTACHED, node.epoch, None, None, now_ms)

    def on_end_quorum_epoch(self, req: m.EndQuorumEpochRequest, now_ms: float) -> None:
        node = self.node
        if node.leader_id == req.leader_id and node.is_voter:
            successors = req.preferred_successors
            position = successors.index(node.node_id) if node.node_id in successors else -1
            backoff = strict_exponential_backoff_ms(position, len(successors), node.config.election_backoff_max_ms)
            node.port.set_timer("fetch", now_ms + backoff)

    def on_fetch_response(self, src: int, resp: m.FetchResponse, now_ms: float) -> None:
        if resp.correlation_id != self.fetch_corr or self.fetch_corr is None:
            return
        node = self.node
        if src != node.leader_id:
            return
        if resp.error != NONE:
            self.retry_fetch_later(now_ms)
            return
        self.fetch_corr = None
        node.port.cancel_timer("request")
        self.reset_fetch_timer(now_ms)
        self.has_fetched = True
        log = node.log
        if resp.diverging_epoch is not None:
            epoch, end_offset = resp.diverging_epoch
            local_epoch, local_end = log.end_offset_for_epoch(epoch)
            target = min(local_end, end_offset) if local_epoch >= 0 else end_offset
            log.truncate_to(max(0, target))
            self.maybe_fetch(now_ms)
            return
        if resp.snapshot_id is not None:
            self.fetching_snapshot = resp.snapshot_id
            self.maybe_fetch(now_ms)
            return
        if resp.batches:
            for batch in resp.batches:
                log.append_as_follower(batch, now_ms)
            node._request_flush()
        hw = resp.high_watermark
        if hw is not None:
            hw = min(hw, log.log_end_offset)
            if node.high_watermark is None or hw > node.high_watermark:
                node.high_watermark = hw
                node._apply()
        self.maybe_fetch(now_ms)

    def on_fetch_snapshot_response(self, src: int, resp: m.FetchSnapshotResponse, now_ms: float) -> None:
        if resp.correlation_id != self.fetch_corr or self.fetch_corr is None:
            return
        node = self.node
        if src != node.leader_id:
            return
        self.fetch_corr = None
        self.fetching_snapshot = None
        node.port.cancel_timer("request")
        if resp.error != NONE or resp.snapshot is None:
            self.maybe_fetch(now_ms)
            return
        self.reset_fetch_timer(now_ms)
        self.has_fetched = True
        if node._load_snapshot(resp.snapshot, now_ms):
            # fetch again from the snapshot's end once it is durable and installed
            self.fetch_after_flush = True
            return
        self.maybe_fetch(now_ms)

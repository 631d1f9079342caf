"""The fetch loop of a replica that pulls from a leader: a Follower, or an observer that does not know the leader yet
(what KafkaRaftClient does in ``pollFollower`` and ``pollUnattachedAsObserver`` with its ``RequestManager``).

How it works. At most one Fetch or FetchSnapshot is in flight, known by its correlation id; a response with any other
id is stale and ignored. The fetch offset tells the leader how much of its log this replica holds (the leader counts a
voter's fetch offset toward the high watermark), so a Fetch goes out only once the log is flushed to its end;
otherwise the loop asks for a flush and fetches when it completes. Every request arms the ``request`` timer
(``request_timeout_ms``); if it expires the request is forgotten and the loop fetches again. An error answer retries
after ``retry_backoff_ms``. A Follower fetches from its leader; an observer without a leader asks the voters in turn
(``maybeSendAnyVoterFetch``) until an answer names the leader and the epoch rule makes it a Follower.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafkalab.protocol import raft as m
from kafkalab.raft.state import Role
from kafkalab.raft.states.base import EpochState

if TYPE_CHECKING:
    from kafkalab.raft.node import RaftNode

__all__ = ["FetchingState"]


class FetchingState(EpochState):
    """The in-flight fetch of a Follower or an Unattached observer (an Unattached voter never fetches)."""

    __slots__ = ("fetch_corr", "fetching_snapshot", "fetch_after_flush")

    def __init__(self, node: RaftNode) -> None:
        super().__init__(node)
        #: correlation id of the Fetch/FetchSnapshot in flight
        self.fetch_corr: int | None = None
        #: the leader's snapshot id while this replica fetches that snapshot instead of the log
        self.fetching_snapshot: tuple[int, int] | None = None
        #: a fetch waits for the log to be flushed to its end
        self.fetch_after_flush = False

    def maybe_fetch(self, now_ms: float) -> None:
        """Send the next Fetch (or FetchSnapshot) unless one is in flight."""
        if self.fetch_corr is not None:
            return
        node = self.node
        log = node.log
        if self.role is Role.FOLLOWER:
            target = node.leader_id
        elif not node.is_voter:
            # An observer without a leader asks the voters in turn (KafkaRaftClient.maybeSendAnyVoterFetch).
            voters = node.voters
            target = voters[node._discover_index % len(voters)]
            node._discover_index += 1
        else:
            return
        assert target is not None
        if self.fetching_snapshot is not None:
            node._corr += 1
            self.fetch_corr = node._corr
            node._send(target, m.FetchSnapshotRequest(node.epoch, node.node_id, self.fetching_snapshot, node._corr))
        else:
            if log.flushed_offset < log.log_end_offset:
                # The fetch offset tells the leader what we hold: it must be durable first.
                self.fetch_after_flush = True
                node._request_flush()
                return
            node._corr += 1
            self.fetch_corr = node._corr
            node._send(target, m.FetchRequest(node.epoch, node.node_id, log.log_end_offset, node.last_fetched_epoch(),
                                              node.config.fetch_max_wait_ms, node._corr))
        node.port.set_timer("request", now_ms + node.config.request_timeout_ms)

    def retry_fetch_later(self, now_ms: float) -> None:
        self.fetch_corr = None
        self.node.port.set_timer("request", now_ms + self.node.config.retry_backoff_ms)

    def on_request_timeout(self, now_ms: float) -> None:
        self.fetch_corr = None
        self.maybe_fetch(now_ms)

    def on_flushed(self, now_ms: float) -> None:
        if self.fetch_after_flush:
            self.fetch_after_flush = False
            self.maybe_fetch(now_ms)

"""One partition replica on one broker: leader or follower, ISR, high watermark (Kafka's ``cluster.Partition``).

How it works. The replica's role comes only from the metadata image's :class:`PartitionRegistration`:
:meth:`Partition.make_leader` / :meth:`Partition.make_follower` apply a registration whose leader epoch is newer
(or, same epoch, whose partition epoch is newer: an ISR change); a stale registration is ignored.

As leader it keeps a :class:`FollowerState` per follower (log end offset, last caught-up time, Kafka's
``ReplicaState``), updated from each follower fetch by Kafka's rule (``Replica.updateFetchStateOrThrow``): a fetch at
or past the leader's log end makes the follower caught up now; a fetch at or past the leader's log end *at the
previous fetch* makes it caught up as of that previous fetch.

- ISR and AlterPartition (KIP-497): the leader proposes a new ISR with one request in flight. While it is pending the
  *maximal ISR* (committed ISR plus any replica being added) is what the high watermark waits for, so the HW can never
  pass a replica that a pending shrink has not yet removed (Kafka's ``PendingExpandIsr``/``PendingShrinkIsr``).
  Expand: a follower whose LEO >= HW and >= the leader epoch start offset, on an eligible broker: unfenced, not
  shutting down, and fetching with its current broker epoch (KIP-903: a restarted broker's stale registration does
  not get it back in).
  Shrink: ISR members not caught up within ``replica.lag.time.max.ms`` (checked by the replica manager every lag/2).
- HW = min LEO over the maximal ISR; never backwards; it does not advance while the committed ISR is smaller than
  ``min.insync.replicas`` (KIP-966's rule, KAFKA.md section 3). A new leader keeps its HW and knows no follower's
  LEO until they fetch, so the HW waits for every ISR member's first fetch (Kafka's ``resetReplicaState``).
- Becoming leader stamps the new epoch at the log end in the epoch cache (``maybeAssignEpochStartOffset``): the
  *leader epoch start offset*, the answer to "where did your previous epoch end?" for DivergingEpoch.
- :meth:`diverging_epoch` is ``validateFetchOffsetAndMaybeGetDivergingEpoch``.

A restarted replica starts from the HW its broker last checkpointed (``replication-offset-checkpoint``, written by
the server every ``replica.high.watermark.checkpoint.interval.ms`` while data flows), capped at its log end.

Simplifications: no eligible leader replicas (KIP-966 ELR); no reassignment (adding/removing replicas).
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from kafkalab.broker.producer_state import ProducerStateManager
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.log.epoch_cache import UNDEFINED_EPOCH
from kafkalab.log.partition_log import PartitionLog
from kafkalab.metadata.image import PartitionRegistration

__all__ = ["Role", "FollowerState", "Partition", "IsrProposal"]


class Role(enum.Enum):
    NONE = "none"
    LEADER = "leader"
    FOLLOWER = "follower"


class IsrProposal(NamedTuple):
    """What a leader asks the controller with AlterPartition for one partition."""

    topic: str
    partition: int
    leader_epoch: int
    new_isr: tuple[int, ...]
    partition_epoch: int


@dataclass(slots=True)
class FollowerState:
    """The leader's view of one follower (Kafka's ``ReplicaState``)."""

    broker_id: int
    log_end_offset: int = -1
    last_caught_up_ms: float = 0.0
    last_fetch_leader_leo: int = -1
    last_fetch_ms: float = 0.0
    broker_epoch: int = -1


class Partition:
    """A partition replica: its log, role, ISR view, high watermark, producer state and waiting operations."""

    def __init__(self, tp: TopicPartition, broker_id: int, log: PartitionLog, *, min_isr: int = 1,
                 lag_ms: float = 30_000.0) -> None:
        self.tp = tp
        self.broker_id = broker_id
        self.log = log
        self.min_isr = min_isr
        self.lag_ms = lag_ms
        self.role = Role.NONE
        self.leader_id = -1
        self.leader_epoch = -1
        self.partition_epoch = -1
        self.replicas: tuple[int, ...] = ()
        self.isr: tuple[int, ...] = ()
        self.maximal_isr: tuple[int, ...] = ()
        self.pending_isr: tuple[int, ...] | None = None
        self.pending_since_ms = 0.0
        self.high_watermark = log.log_start_offset
        self.leader_epoch_start_offset = -1
        self.followers: dict[int, FollowerState] = {}
        self.producer_state = ProducerStateManager()
        # Operations waiting on this partition, owned by the replica manager (keyed by partition, as Kafka's
        # purgatories are): delayed produces as a heap of (required offset, seq, op), parked consumer fetches, and
        # the follower fetch sessions that replicate this partition.
        self.produce_waiters: list[Any] = []
        self.consumer_waiters: list[Any] = []
        #: the last answer to a consumer fetch with nothing to read (shared while HW, LSO and log start stay put)
        self.empty_read: Any = None
        self.sessions: list[Any] = []
        #: (offset, seq, callback) heap: in-process writers (the group coordinator) waiting for the HW to pass offset
        self.hw_watchers: list[Any] = []

    def __repr__(self) -> str:
        return (f"Partition({self.tp}, {self.role.value}, leader={self.leader_id}, epoch={self.leader_epoch}, "
                f"isr={self.isr}, hw={self.high_watermark}, leo={self.log.log_end_offset})")

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    # ---- role changes -------------------------------------------------------------------------------------------
    def make_leader(self, reg: PartitionRegistration, now_ms: float) -> bool:
        """Apply a registration naming this broker leader. True if the leader epoch is new (or we were not leader);
        a same-epoch registration with a newer partition epoch only updates replicas and ISR."""
        if reg.leader_epoch < self.leader_epoch:
            return False
        if reg.leader_epoch == self.leader_epoch and self.role is Role.LEADER:
            if reg.partition_epoch > self.partition_epoch:
                self._set_assignment(reg)
                self.pending_isr = None
                self._refresh_maximal()
            return False
        self.role = Role.LEADER
        self.leader_id = self.broker_id
        self.leader_epoch = reg.leader_epoch
        self._set_assignment(reg)
        self.pending_isr = None
        self._refresh_maximal()
        leo = self.log.log_end_offset
        latest = self.log.latest_epoch
        if latest is None or latest < reg.leader_epoch:
            self.log.epoch_cache.assign(reg.leader_epoch, leo)
        self.leader_epoch_start_offset = leo
        self.high_watermark = min(max(self.high_watermark, self.log.log_start_offset), leo)
        self.followers = {r: FollowerState(r, last_caught_up_ms=now_ms if r in reg.isr else 0.0)
                          for r in reg.replicas if r != self.broker_id}
        self.producer_state.rebuild(self.log.batches())
        return True

    def make_follower(self, reg: PartitionRegistration) -> bool:
        """Apply a registration naming another broker (or none) leader. True when the leader or epoch changed."""
        if reg.leader_epoch < self.leader_epoch:
            return False
        if reg.leader_epoch == self.leader_epoch and self.role is Role.FOLLOWER:
            if reg.partition_epoch > self.partition_epoch:
                self._set_assignment(reg)
            return False
        self.role = Role.FOLLOWER
        self.leader_id = reg.leader
        self.leader_epoch = reg.leader_epoch
        self._set_assignment(reg)
        self.pending_isr = None
        self._refresh_maximal()
        self.followers = {}
        self.leader_epoch_start_offset = -1
        self.high_watermark = min(self.high_watermark, self.log.log_end_offset)
        return True

    def make_stopped(self) -> None:
        self.role = Role.NONE
        self.followers = {}
        self.pending_isr = None

    def _set_assignment(self, reg: PartitionRegistration) -> None:
        self.partition_epoch = reg.partition_epoch
        self.replicas = reg.replicas
        self.isr = reg.isr

    def _refresh_maximal(self) -> None:
        pending = self.pending_isr
        if pending is None:
            self.maximal_isr = self.isr
        else:
            self.maximal_isr = self.isr + tuple(r for r in pending if r not in self.isr)

    # ---- ISR changes ----------------------------------------------------------------------------------------------
    def _propose(self, new_isr: tuple[int, ...], now_ms: float) -> IsrProposal:
        self.pending_isr = new_isr
        self.pending_since_ms = now_ms
        self._refresh_maximal()
        return IsrProposal(self.tp.topic, self.tp.partition, self.leader_epoch, new_isr, self.partition_epoch)

    def is_caught_up(self, state: FollowerState, now_ms: float) -> bool:
        return (state.log_end_offset == self.log.log_end_offset
                or now_ms - state.last_caught_up_ms <= self.lag_ms)

    def maybe_shrink_isr(self, now_ms: float) -> IsrProposal | None:
        """Propose removing ISR members that were not caught up within ``replica.lag.time.max.ms``."""
        if self.role is not Role.LEADER or self.pending_isr is not None:
            return None
        out = [r for r in self.isr if r != self.broker_id
               and (r not in self.followers or not self.is_caught_up(self.followers[r], now_ms))]
        if not out:
            return None
        return self._propose(tuple(r for r in self.isr if r not in out), now_ms)

    def maybe_expand_isr(self, follower: int, now_ms: float, eligible: Callable[[int, int], bool]
                         ) -> IsrProposal | None:
        """Propose adding ``follower`` once its LEO >= HW and >= the leader epoch start offset (KIP-497), if
        ``eligible(broker, broker epoch seen in its fetches)`` (unfenced, and that epoch is current: KIP-903)."""
        if self.pending_isr is not None or follower in self.isr or follower not in self.replicas:
            return None
        state = self.followers.get(follower)
        if state is None:
            return None
        leo = state.log_end_offset
        if leo < self.high_watermark or leo < self.leader_epoch_start_offset or not eligible(follower,
                                                                                           state.broker_epoch):
            return None
        return self._propose(self.isr + (follower,), now_ms)

    def on_alter_partition_result(self, error: str, leader_epoch: int, isr: tuple[int, ...],
                                  partition_epoch: int) -> bool:
        """The controller's answer to our proposal. True when the committed ISR changed."""
        if self.role is not Role.LEADER:
            return False
        if error != "NONE":
            self.pending_isr = None
            self._refresh_maximal()
            return False
        if leader_epoch != self.leader_epoch or partition_epoch <= self.partition_epoch:
            return False
        self.isr = isr
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        self._refresh_maximal()
        return True

    # ---- leader: follower fetches and the high watermark ----------------------------------------------------------
    def update_follower_fetch(self, state: FollowerState, fetch_offset: int, now_ms: float) -> None:
        leo = self.log.log_end_offset
        if fetch_offset >= leo:
            state.last_caught_up_ms = max(state.last_caught_up_ms, now_ms)
        elif fetch_offset >= state.last_fetch_leader_leo:
            state.last_caught_up_ms = max(state.last_caught_up_ms, state.last_fetch_ms)
        state.last_fetch_leader_leo = leo
        state.last_fetch_ms = now_ms
        state.log_end_offset = fetch_offset

    def maybe_increment_hw(self) -> bool:
        """HW = min LEO over the maximal ISR (never backwards, held while ISR < min.insync.replicas)."""
        if self.role is not Role.LEADER or len(self.isr) < self.min_isr:
            return False
        new_hw = self.log.log_end_offset
        followers = self.followers
        me = self.broker_id
        for r in self.maximal_isr:
            if r != me:
                state = followers.get(r)
                leo = state.log_end_offset if state is not None else -1
                if leo < new_hw:
                    new_hw = leo
        if new_hw > self.high_watermark:
            self.high_watermark = new_hw
            return True
        return False

    def isr_min_leo(self) -> int:
        """Smallest LEO over the maximal ISR (what the HW would be without the min.insync.replicas rule)."""
        low = self.log.log_end_offset
        for r in self.maximal_isr:
            if r != self.broker_id:
                state = self.followers.get(r)
                low = min(low, state.log_end_offset if state is not None else -1)
        return low

    def diverging_epoch(self, fetch_offset: int, last_fetched_epoch: int) -> tuple[int, int] | None:
        """(epoch, end offset) when a follower's log diverged from ours, else None."""
        if last_fetched_epoch < 0:
            return None
        epoch, end = self.log.end_offset_for_epoch(last_fetched_epoch)
        if epoch == UNDEFINED_EPOCH:
            return (UNDEFINED_EPOCH, -1)
        if end < fetch_offset or epoch < last_fetched_epoch:
            return (epoch, end)
        return None

    # ---- follower -------------------------------------------------------------------------------------------------
    def follower_update_hw(self, leader_hw: int) -> None:
        hw = min(leader_hw, self.log.log_end_offset)
        if hw > self.high_watermark:
            self.high_watermark = hw

    def truncate_to(self, offset: int) -> None:
        if offset >= self.log.log_end_offset:
            # Kafka's UnifiedLog.truncateTo always truncates the epoch cache: a replica that became leader stamped
            # its epoch at the log end and may have been deposed before appending anything; that entry would make
            # it diverge again on every fetch.
            self.log.epoch_cache.truncate_from_end(self.log.log_end_offset)
        self.log.truncate_to(offset)
        if self.high_watermark > self.log.log_end_offset:
            self.high_watermark = self.log.log_end_offset

    def truncate_fully_and_start_at(self, offset: int, now_ms: float) -> None:
        self.log.truncate_fully_and_start_at(offset, now_ms)
        self.high_watermark = offset

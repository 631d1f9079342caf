"""The replica manager's own two timers: the deadlines of waiting operations (Kafka's purgatory expiration, in
``DelayedOperationPurgatory``) and the ISR check (``ReplicaManager``'s ``isr-expiration`` task).

How it works. ``expiry``: every waiting operation (an acks=all produce, a parked consumer fetch, a parked follower
session fetch) has one entry in one heap of (deadline, sequence, operation); a single timer is set for the earliest
deadline and re-armed lazily, only when a new deadline is earlier or the timer fires. An operation completed before
its deadline stays in the heap and is skipped when popped, so completing one costs nothing here. At its deadline an
acks=all produce answers REQUEST_TIMED_OUT for the partitions still waiting; a parked fetch answers what there is.

``isr-check``, every ``replica.lag.time.max.ms / 2`` while this broker leads a partition: shrink the ISR of
partitions whose ISR followers fell behind, and resend an AlterPartition proposal pending for that long. It visits
only the partitions in the replica manager's ``lagging`` set (appended to since every ISR follower last caught up,
or with a proposal pending): a follower with the leader's log end is caught up by Kafka's own rule, so an idle
partition needs no look, and 10,000 idle partitions cost what 10 do.
"""
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from kafkalab.broker.partition import IsrProposal, Partition
from kafkalab.broker.produce import DelayedProduce

if TYPE_CHECKING:       # the replica manager builds these timers
    from kafkalab.broker.replica_manager import ReplicaManager

__all__ = ["EXPIRY", "ISR_CHECK", "ExpiryTimer", "IsrCheck", "settled"]

EXPIRY = "expiry"
ISR_CHECK = "isr-check"


def settled(p: Partition) -> bool:
    """Nothing for the ISR check to do: no proposal pending, every ISR follower has the leader's log end."""
    return p.pending_isr is None and p.isr_min_leo() == p.log.log_end_offset


class ExpiryTimer:
    """The deadlines of all waiting operations of one replica manager, behind the one timer ``expiry``."""

    def __init__(self, rm: ReplicaManager) -> None:
        self.rm = rm
        self.port = rm.port
        self.heap: list[tuple[float, int, Any]] = []
        self.armed_at: float | None = None
        self._seq = rm._seq

    def add(self, deadline: float, op: Any) -> None:
        """Expire ``op`` at ``deadline`` unless it is done by then."""
        heapq.heappush(self.heap, (deadline, next(self._seq), op))
        armed = self.armed_at
        if armed is None or deadline < armed:
            self.armed_at = deadline
            self.port.set_timer(EXPIRY, deadline)

    @staticmethod
    def _op_done(op: Any) -> bool:
        if type(op) is tuple:
            s, req = op
            return bool(s.parked is not req)
        return bool(op.done)

    def fire(self, now_ms: float) -> None:
        """The timer went off: expire every operation whose deadline passed, then re-arm for the next one."""
        self.armed_at = None
        rm = self.rm
        heap = self.heap
        pop = heapq.heappop
        while heap and heap[0][0] <= now_ms:
            op = pop(heap)[2]
            if type(op) is tuple:          # a parked follower session fetch: (session, request)
                s = op[0]
                if s.parked is op[1]:
                    rm._follower.complete(s)
                continue
            if op.done:
                continue
            if type(op) is DelayedProduce:
                rm._produce.expire(op)
            else:
                rm._fetch.complete(op)
        while heap and self._op_done(heap[0][2]):
            pop(heap)
        if heap:
            self.armed_at = heap[0][0]
            self.port.set_timer(EXPIRY, heap[0][0])


class IsrCheck:
    """The periodic ISR check of one replica manager, the timer ``isr-check``."""

    def __init__(self, rm: ReplicaManager) -> None:
        self.rm = rm
        self.port = rm.port
        self.armed = False

    def arm(self, now_ms: float) -> None:
        """Run the check ``lag_ms / 2`` from now unless it is already due."""
        if not self.armed:
            self.armed = True
            self.port.set_timer(ISR_CHECK, now_ms + self.rm.lag_ms / 2)

    def fire(self, now_ms: float) -> None:
        """Kafka's ``isr-expiration`` task: shrink ISRs of lagging followers, resend stuck proposals."""
        self.armed = False
        rm = self.rm
        lagging = rm.lagging
        for tp, p in list(lagging.items()):
            if settled(p):
                del lagging[tp]
                continue
            if p.pending_isr is not None:
                if now_ms - p.pending_since_ms >= rm.lag_ms / 2:
                    p.pending_since_ms = now_ms
                    self.port.alter_partition(IsrProposal(p.tp.topic, p.tp.partition, p.leader_epoch,
                                                          p.pending_isr, p.partition_epoch))
                continue
            proposal = p.maybe_shrink_isr(now_ms)
            if proposal is not None:
                rm.isr_shrinks += 1
                self.port.alter_partition(proposal)
        if rm.leading:
            self.arm(now_ms)

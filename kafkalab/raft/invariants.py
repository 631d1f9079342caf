"""Raft safety invariants, judged from outside the nodes after every event (after Kafka's RaftEventSimulationTest).

The checker never trusts a node's own bookkeeping about what is safe: it keeps its own memory of what it saw (which
node led which epoch, each node's highest epoch and high watermark, the one committed sequence every node must be a
prefix of) and looks at the logs on the disks. Checked incrementally, so it can stay on in benchmarks:

- **single leader per epoch**: no two nodes are ever leader in the same epoch;
- **monotonic epoch** per node (across restarts, down to the durable quorum-state after a power loss);
- **monotonic high watermark** per node incarnation (the HW is not persisted; a restarted node re-learns it);
- **majority reached the high watermark**: when a leader's HW moves to ``h``, a majority of the voters' logs are
  durable (flushed) up to ``h``;
- **committed data consistent**: every node's committed values are a prefix of one sequence;
- **snapshot at log start**: a log whose start offset is above 0 begins exactly where the node's oldest snapshot
  ends (Kafka's check: the log start moves only to a frozen snapshot, and the snapshots before it are forgotten);
- **log matching** (at every new leader, and on demand with :meth:`check_log_matching`): two logs that hold a batch
  with the same base offset and epoch hold identical batches up to it.

A violation raises :class:`~kafkalab.errors.InvariantViolation` with the seed and the virtual time.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kafkalab.errors import InvariantViolation
from kafkalab.log.partition_log import PartitionLog
from kafkalab.raft.node import RaftNode
from kafkalab.raft.quorum import majority
from kafkalab.raft.state import Role

__all__ = ["RaftInvariants"]


class RaftInvariants:
    """One checker per simulated quorum. ``logs()`` returns every voter's log (live or crashed) by node id."""

    def __init__(self, voters: tuple[int, ...], logs: Callable[[], Mapping[int, PartitionLog]], *, seed: int | None,
                 clock: Callable[[], float]) -> None:
        self.voters = voters
        self._logs = logs
        self.seed = seed
        self._clock = clock
        self.leaders: dict[int, int] = {}            # epoch -> leader
        self._epoch: dict[int, int] = {}             # node -> highest epoch seen
        self._hw: dict[int, int] = {}                # node -> highest HW this incarnation
        self._committed_seen: dict[int, tuple[int, int]] = {}   # node -> (id of its list, length checked)
        self.truth: list[Any] = []
        self.checks = 0

    def _fail(self, message: str) -> None:
        raise InvariantViolation(message, seed=self.seed, time_ms=self._clock())

    # -- per event --------------------------------------------------------------------------------------------------
    def check_node(self, node_id: int, node: RaftNode) -> None:
        """Everything that can change when ``node`` handles one event."""
        self.checks += 1
        epoch = node.epoch
        floor = self._epoch.get(node_id, 0)
        if epoch < floor:
            self._fail(f"node {node_id}: epoch went back from {floor} to {epoch}")
        new_epoch = epoch > floor or node_id not in self._epoch
        self._epoch[node_id] = epoch
        if node.role is Role.LEADER:
            leader = self.leaders.setdefault(epoch, node_id)
            if leader != node_id:
                self._fail(f"two leaders in epoch {epoch}: nodes {leader} and {node_id}")
            if new_epoch:
                self.check_log_matching(reference=node_id)
        hw = node.high_watermark
        if hw is not None:
            old = self._hw.get(node_id)
            if old is not None and hw < old:
                self._fail(f"node {node_id}: high watermark went back from {old} to {hw}")
            if old is None or hw > old:
                self._hw[node_id] = hw
                if node.role is Role.LEADER:
                    self._check_majority_reached(node_id, hw)
        self._check_committed(node_id, node)
        start = node.log.log_start_offset
        earliest = node.earliest_snapshot
        if start > 0 and (earliest is None or earliest.end_offset != start):
            snap = None if earliest is None else earliest.snapshot_id
            self._fail(f"node {node_id}: log starts at {start} but its oldest snapshot is {snap}")

    def _check_majority_reached(self, leader: int, hw: int) -> None:
        logs = self._logs()
        reached = [v for v in self.voters if v in logs and logs[v].flushed_offset >= hw]
        if len(reached) < majority(len(self.voters)):
            self._fail(f"leader {leader} moved the high watermark to {hw} but only voters {reached} hold it durably")

    def _check_committed(self, node_id: int, node: RaftNode) -> None:
        values = node.committed
        list_id, checked = self._committed_seen.get(node_id, (0, 0))
        if list_id != id(values) or len(values) < checked:
            checked = 0
        truth = self.truth
        n = len(values)
        if n == checked:
            self._committed_seen[node_id] = (id(values), n)
            return
        for i in range(checked, n):
            value = values[i]
            if i < len(truth):
                if truth[i] is not value and truth[i] != value:
                    self._fail(f"node {node_id} committed {value!r} at index {i} where {truth[i]!r} was committed")
            else:
                truth.append(value)
        self._committed_seen[node_id] = (id(values), n)

    # -- faults -----------------------------------------------------------------------------------------------------
    def on_crash(self, node_id: int, durable_epoch: int | None, power_loss: bool) -> None:
        """A crash ends an incarnation: its HW is forgotten; a power loss may take the epoch back to the durable one."""
        self._hw.pop(node_id, None)
        self._committed_seen.pop(node_id, None)
        if power_loss:
            self._epoch[node_id] = durable_epoch if durable_epoch is not None else 0

    # -- whole logs -------------------------------------------------------------------------------------------------
    def check_log_matching(self, reference: int | None = None) -> None:
        """Log matching between ``reference`` (default: every pair) and the other voters' logs."""
        logs = self._logs()
        ids = [v for v in self.voters if v in logs]
        pairs = ([(reference, other) for other in ids if other != reference] if reference is not None and
                 reference in logs else [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]])
        for a, b in pairs:
            self._match(a, logs[a], b, logs[b])

    def _match(self, a: int, log_a: PartitionLog, b: int, log_b: PartitionLog) -> None:
        index = {(batch.base_offset, batch.partition_leader_epoch): batch for batch in log_a.batches()}
        batches_b = log_b.batches()
        last = -1
        for i, batch in enumerate(batches_b):
            if (batch.base_offset, batch.partition_leader_epoch) in index:
                last = i
        start = max(log_a.log_start_offset, log_b.log_start_offset)
        for batch in batches_b[:last + 1]:
            if batch.base_offset < start:
                continue
            other = index.get((batch.base_offset, batch.partition_leader_epoch))
            if other is None or (other is not batch and other != batch):
                self._fail(f"log matching: nodes {a} and {b} share a later batch but differ at offset "
                           f"{batch.base_offset} (epoch {batch.partition_leader_epoch})")

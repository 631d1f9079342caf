"""The worker group's assignors and the Connect subprotocol (Kafka's ``ConnectProtocol``,
``IncrementalCooperativeConnectProtocol``, ``EagerAssignor``, ``IncrementalCooperativeAssignor``; KIP-415).

How it works. Workers join one classic group with protocol type ``connect``. Each offers the subprotocols its
``connect.protocol`` allows, best first: ``sessioned`` (v2, KIP-507) -> ``compatible`` (v1, KIP-415) -> ``default``
(v0, eager); the group coordinator picks one every member supports. The metadata is a :class:`WorkerState`: the
worker's URL, the config-topic offset it has read, and (v1+) what it runs now. The leader computes an
:class:`ExtendedAssignment` per member; a member behind the assignment's config offset reads up to it before using it.

``default`` (eager): every rebalance revokes everything first; the leader deals sorted connectors, then sorted
tasks, round-robin over the sorted member ids (:func:`eager_assign`, Kafka's ``EagerAssignor``, which sorts too).

``compatible``/``sessioned`` (incremental cooperative): :class:`IncrementalCooperativeAssignor` keeps the previous
assignment between rounds and computes, as Kafka's ``performTaskAssignment`` does: deleted = previous - configured,
lost = previous - active - deleted, created = configured - previous - active, duplicated (run by two members);
deleted and duplicated work is revoked. Lost work waits for its worker up to ``scheduled.rebalance.max.delay.ms``
(``handleLostAssignments``): the first round that sees it schedules a rebalance that far ahead and the assignment
carries the remaining ``delay``; if the worker is back by then it gets its work again (it comes back empty, so it is
the candidate), else the work is spread over the members. Delay 0 reassigns at once (KAFKA-15693). Load-balancing
revocations (``performLoadBalancingRevocations``) take the excess from overloaded workers, and two revoking rounds
in a row back off exponentially (initial 1 ms, x40, capped at the max delay: Kafka's
``consecutiveRevokingRebalancesBackoff``). New and reassigned work goes to the least-loaded workers first (ties by
worker id, ``WorkerLoad.connectorComparator``).

Iteration orders, as Kafka's (:mod:`kafkalab.connect.java_order` computes Java's): members are walked in the order of
the ``HashMap`` keyed by member id (``memberConfigs``/``memberAssignments``: bucket of ``String.hashCode`` spread,
then insertion order), which decides which overloaded worker keeps an extra item in a load-balancing revocation and
which workers become reassignment candidates (a ``Collectors.toSet`` ``HashSet`` added to a ``LinkedHashSet``); a
member's connectors and tasks keep the order its metadata carries (``LinkedHashSet``s), so a revocation takes the
first ones; deleted and duplicated work is revoked in the order of a ``HashSet`` copy of the member's collection
(``intersection``); new work is dealt created-first, then lost work, each sorted (``TreeSet``s), to workers sorted by
load then id (``WorkerLoad`` comparators, a stable sort). What a member reports and receives went through Kafka's
serialization, which reorders lists (:func:`as_read`, :func:`revoked_as_read`; the worker applies them). Checked
against Kafka's own class on 25 recorded scenarios (``tests/connect/data/kafka_assignor_vectors.txt``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkalab.connect.api import ConnectorTaskId
from kafkalab.connect.java_order import copy_capacity, hash_order, revoked_wire_order, wire_order

__all__ = ["WorkerState", "ExtendedAssignment", "ConnectorsAndTasks", "IncrementalCooperativeAssignor",
           "eager_assign", "as_read", "revoked_as_read", "PROTOCOLS", "protocols_for", "NO_ERROR", "CONFIG_MISMATCH", "CONNECT_PROTOCOL_TYPE",
           "protocol_version"]

CONNECT_PROTOCOL_TYPE = "connect"
NO_ERROR = 0
CONFIG_MISMATCH = 1
#: ``connect.protocol`` -> the subprotocols a worker offers, best first (``ConnectProtocolCompatibility``)
PROTOCOLS: dict[str, tuple[str, ...]] = {"eager": ("default",), "compatible": ("compatible", "default"),
                                         "sessioned": ("sessioned", "compatible", "default")}
_VERSIONS = {"default": 0, "compatible": 1, "sessioned": 2}


def protocols_for(connect_protocol: str) -> tuple[str, ...]:
    return PROTOCOLS[connect_protocol]


def protocol_version(name: str | None) -> int:
    return _VERSIONS.get(name or "default", 0)


@dataclass(frozen=True, slots=True)
class ConnectorsAndTasks:
    connectors: tuple[str, ...] = ()
    tasks: tuple[ConnectorTaskId, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.connectors and not self.tasks


@dataclass(frozen=True, slots=True)
class WorkerState:
    """A worker's JoinGroup metadata (``ExtendedWorkerState``; v0 has no assignment)."""

    url: str
    offset: int
    assignment: ConnectorsAndTasks = ConnectorsAndTasks()


@dataclass(frozen=True, slots=True)
class ExtendedAssignment:
    """What the leader gives a member in SyncGroup (``ExtendedAssignment``; v0 has no revocations nor delay)."""

    version: int
    error: int
    leader: str
    leader_url: str
    offset: int
    connectors: tuple[str, ...] = ()
    tasks: tuple[ConnectorTaskId, ...] = ()
    revoked_connectors: tuple[str, ...] = ()
    revoked_tasks: tuple[ConnectorTaskId, ...] = ()
    delay: int = 0


def as_read(connectors: Sequence[str], tasks: Sequence[ConnectorTaskId]) -> ConnectorsAndTasks:
    """An assignment (or a worker's current assignment in its metadata) as the receiver reads it back after Kafka's
    serialization (:func:`~kafkalab.connect.java_order.wire_order`)."""
    c, t = wire_order(connectors, tasks, ConnectorTaskId)
    return ConnectorsAndTasks(tuple(c), tuple(t))


def revoked_as_read(connectors: Sequence[str], tasks: Sequence[ConnectorTaskId]) -> ConnectorsAndTasks:
    """Revocations as the member reads them back (:func:`~kafkalab.connect.java_order.revoked_wire_order`)."""
    c, t = revoked_wire_order(connectors, tasks, ConnectorTaskId)
    return ConnectorsAndTasks(tuple(c), tuple(t))


def eager_assign(members: Iterable[str], connectors: Mapping[str, int]) -> dict[str, ConnectorsAndTasks]:
    """``EagerAssignor.performTaskAssignment``: ``connectors`` maps each connector to its task count."""
    order = sorted(members)
    conns: dict[str, list[str]] = {m: [] for m in order}
    tasks: dict[str, list[ConnectorTaskId]] = {m: [] for m in order}
    i = 0
    names = sorted(connectors)
    for name in names:
        conns[order[i % len(order)]].append(name)
        i += 1
    for name in names:
        for t in range(connectors[name]):
            tasks[order[i % len(order)]].append(ConnectorTaskId(name, t))
            i += 1
    return {m: ConnectorsAndTasks(tuple(conns[m]), tuple(tasks[m])) for m in order}


@dataclass
class _Load:
    worker: str
    connectors: list[str] = field(default_factory=list)
    tasks: list[ConnectorTaskId] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.connectors and not self.tasks


@dataclass(frozen=True, slots=True)
class ClusterAssignment:
    """One round's result: what each member starts and stops, and the delay until the next scheduled rebalance."""

    assigned: dict[str, ConnectorsAndTasks]
    revoked: dict[str, ConnectorsAndTasks]
    all_assigned: dict[str, ConnectorsAndTasks]
    delay: int


class IncrementalCooperativeAssignor:
    """Kafka's ``IncrementalCooperativeAssignor``: state kept by the leader between rounds (a new leader starts
    afresh, as in Kafka)."""

    def __init__(self, max_delay_ms: int) -> None:
        self.max_delay = int(max_delay_ms)
        self.previous_connectors: set[str] = set()
        self.previous_tasks: set[ConnectorTaskId] = set()
        self.revoked_connectors: set[str] = set()
        self.revoked_tasks: set[ConnectorTaskId] = set()
        self.revoked_in_previous = False
        self.candidates: list[str] = []
        self.scheduled_rebalance = 0.0
        self.delay = 0
        self.previous_generation = -1
        self.previous_members: set[str] = set()
        self.successive_revoking = 0

    def _backoff(self, attempts: int) -> int:
        """``ExponentialBackoff(maxDelay == 0 ? 0 : 1, 40, maxDelay, 0).backoff(attempts)``."""
        if self.max_delay == 0:
            return 0
        exp_max = math.log(self.max_delay / 1) / math.log(40) if self.max_delay > 1 else 0.0
        term = 1 * 40 ** min(attempts, exp_max)
        return int(min(term, self.max_delay))

    def assign(self, now_ms: float, configured: Mapping[str, int], members: Mapping[str, ConnectorsAndTasks],
               last_completed_generation: int, generation: int) -> ClusterAssignment:
        """One round of ``performTaskAssignment``: ``configured`` maps each connector to its task count,
        ``members`` each member (in the order the leader read them) to what it reports running, each list in the
        order the member's metadata carries it. Members are walked in ``HashMap`` order (see the module header)."""
        if self.previous_generation != last_completed_generation:
            self.previous_connectors, self.previous_tasks = set(), set()
        conf_conns = set(configured)
        conf_tasks = {ConnectorTaskId(c, t) for c, n in configured.items() for t in range(n)}
        order = hash_order(members)                             # memberAssignments: a HashMap by member id
        held_c = {m: list(dict.fromkeys(members[m].connectors)) for m in order}      # LinkedHashSets
        held_t = {m: list(dict.fromkeys(members[m].tasks)) for m in order}
        active_conns = {c for m in order for c in held_c[m]}
        active_tasks = {t for m in order for t in held_t[m]}
        if self.revoked_connectors or self.revoked_tasks:
            if self.revoked_connectors & active_conns or self.revoked_tasks & active_tasks:
                self.previous_connectors, self.previous_tasks = set(active_conns), set(active_tasks)
            self.revoked_connectors, self.revoked_tasks = set(), set()
        deleted_c = self.previous_connectors - conf_conns
        deleted_t = self.previous_tasks - conf_tasks
        count_c: dict[str, int] = {}
        count_t: dict[ConnectorTaskId, int] = {}
        for m in order:
            for c in held_c[m]:
                count_c[c] = count_c.get(c, 0) + 1
            for t in held_t[m]:
                count_t[t] = count_t.get(t, 0) + 1
        dup_c = {c for c, n in count_c.items() if n > 1}
        dup_t = {t for t, n in count_t.items() if n > 1}
        lost_c = self.previous_connectors - active_conns - deleted_c
        lost_t = self.previous_tasks - active_tasks - deleted_t
        created_c = conf_conns - self.previous_connectors - active_conns
        created_t = conf_tasks - self.previous_tasks - active_tasks
        current = {m: _Load(m, [c for c in held_c[m] if c not in deleted_c],
                            [t for t in held_t[m] if t not in deleted_t]) for m in order}
        # toRevoke: per member, deleted then duplicated work, each in the order of Kafka's intersection (a HashSet
        # copy of the member's collection, filtered), as LinkedHashSets
        to_revoke: dict[str, tuple[dict[str, None], dict[ConnectorTaskId, None]]] = {m: ({}, {}) for m in order}
        nxt = {m: _Load(m, list(held_c[m]), list(held_t[m])) for m in order}
        for doomed_c, doomed_t in ((deleted_c, deleted_t), (dup_c, dup_t)):
            for m in order:
                take_c = [c for c in hash_order(held_c[m], copy_capacity(len(held_c[m]))) if c in doomed_c]
                take_t = [t for t in hash_order(held_t[m], copy_capacity(len(held_t[m]))) if t in doomed_t]
                to_revoke[m][0].update(dict.fromkeys(take_c))
                to_revoke[m][1].update(dict.fromkeys(take_t))
            for m in order:
                nxt[m].connectors = [c for c in nxt[m].connectors if c not in doomed_c]
                nxt[m].tasks = [t for t in nxt[m].tasks if t not in doomed_t]
        loads = [nxt[m] for m in order]
        reassign_c, reassign_t = self._handle_lost(now_ms, lost_c, lost_t, loads)
        if self.delay == 0:
            lb = self._load_balancing(conf_conns, conf_tasks, loads)
            if self.revoked_in_previous and lb:
                self.successive_revoking += 1
                self.delay = self._backoff(self.successive_revoking)
                if self.delay != 0:
                    self.scheduled_rebalance = now_ms + self.delay
                else:
                    self._apply_revocations(lb, to_revoke, nxt)
            elif lb:
                self._apply_revocations(lb, to_revoke, nxt)
                self.revoked_in_previous = True
            elif self.revoked_in_previous:
                self.revoked_in_previous = False
                self.successive_revoking = 0
        else:
            self.revoked_in_previous = False
        # toAssign: the created work (sorted: a TreeSet), then the lost work to reassign (sorted), a LinkedHashSet
        _assign_connectors(loads, list(dict.fromkeys([*sorted(created_c), *sorted(reassign_c)])))
        _assign_tasks(loads, list(dict.fromkeys([*sorted(created_t), *sorted(reassign_t)])))
        assigned: dict[str, ConnectorsAndTasks] = {}
        revoked: dict[str, ConnectorsAndTasks] = {}
        all_assigned: dict[str, ConnectorsAndTasks] = {}
        prev_c: set[str] = set()
        prev_t: set[ConnectorTaskId] = set()
        for m in order:
            now_c, now_t = nxt[m].connectors, nxt[m].tasks
            cur_c, cur_t = set(current[m].connectors), set(current[m].tasks)
            assigned[m] = ConnectorsAndTasks(tuple(c for c in now_c if c not in cur_c),
                                             tuple(t for t in now_t if t not in cur_t))
            rc, rt = to_revoke[m]
            revoked[m] = ConnectorsAndTasks(tuple(rc), tuple(rt))
            all_assigned[m] = ConnectorsAndTasks(tuple(c for c in now_c if c not in rc),
                                                 tuple(t for t in now_t if t not in rt))
            prev_c.update(now_c)
            prev_t.update(now_t)
            prev_c.difference_update(rc)
            prev_t.difference_update(rt)
            self.revoked_connectors.update(rc)
            self.revoked_tasks.update(rt)
        self.previous_connectors = prev_c | lost_c
        self.previous_tasks = prev_t | lost_t
        self.previous_generation = generation
        self.previous_members = set(order)
        return ClusterAssignment(assigned, revoked, all_assigned, self.delay)

    def _apply_revocations(self, lb: dict[str, tuple[list[str], list[ConnectorTaskId]]],
                           to_revoke: dict[str, tuple[dict[str, None], dict[ConnectorTaskId, None]]],
                           nxt: dict[str, _Load]) -> None:
        for m, (rc, rt) in lb.items():
            to_revoke[m][0].update(dict.fromkeys(rc))
            to_revoke[m][1].update(dict.fromkeys(rt))
            nxt[m].connectors = [c for c in nxt[m].connectors if c not in set(rc)]
            nxt[m].tasks = [t for t in nxt[m].tasks if t not in set(rt)]

    def _reset_delay(self) -> None:
        self.candidates = []
        self.scheduled_rebalance = 0.0
        self.delay = 0

    def _handle_lost(self, now: float, lost_c: set[str], lost_t: set[ConnectorTaskId],
                     loads: list[_Load]) -> tuple[set[str], set[ConnectorTaskId]]:
        if not lost_c and not lost_t and not self.revoked_in_previous:
            self._reset_delay()
            return set(), set()
        active = {w.worker for w in loads}
        if self.scheduled_rebalance <= 0 and self.previous_members <= active:
            return set(lost_c), set(lost_t)
        if self.max_delay == 0:
            return set(lost_c), set(lost_t)
        if self.scheduled_rebalance > 0 and now >= self.scheduled_rebalance:
            by_worker = {w.worker: w for w in loads}
            candidates = [by_worker[c] for c in self.candidates if c in by_worker]
            out: tuple[set[str], set[ConnectorTaskId]] = (set(), set())
            if candidates:
                for i, c in enumerate(sorted(lost_c)):
                    candidates[i % len(candidates)].connectors.append(c)
                for i, t in enumerate(sorted(lost_t)):
                    candidates[i % len(candidates)].tasks.append(t)
            else:
                out = (set(lost_c), set(lost_t))
            self._reset_delay()
            self.revoked_in_previous = False
            return out
        # Collectors.toSet() of the empty workers (a HashSet), added to a LinkedHashSet
        for worker in hash_order(w.worker for w in loads if w.empty):
            if worker not in self.candidates:
                self.candidates.append(worker)
        if now < self.scheduled_rebalance:
            diff = self.scheduled_rebalance - now
            self.delay = int(min(diff, self.max_delay)) if diff > 0 else 0
        else:
            self.delay = self.max_delay
        self.scheduled_rebalance = now + self.delay
        return set(), set()

    def _load_balancing(self, conf_c: set[str], conf_t: set[ConnectorTaskId],
                        loads: list[_Load]) -> dict[str, tuple[list[str], list[ConnectorTaskId]]]:
        if all(w.empty for w in loads) or (not conf_c and not conf_t):
            return {}
        rc = _revocations(len(conf_c), loads, lambda w: w.connectors)
        rt = _revocations(len(conf_t), loads, lambda w: w.tasks)
        out: dict[str, tuple[list[str], list[ConnectorTaskId]]] = {}
        for w in loads:
            c, t = rc.get(w.worker, []), rt.get(w.worker, [])
            if c or t:
                out[w.worker] = (list(c), list(t))
        return out


def _revocations(total: int, loads: Sequence[_Load], get: Callable[[_Load], Sequence[Any]]) -> dict[str, list[Any]]:
    """``loadBalancingRevocations`` for connectors or tasks (``get`` picks which)."""
    n = len(loads)
    minimum = total // n
    extra = total % n
    sizes = [len(get(w)) for w in loads]
    at_min = sum(1 for s in sizes if s == minimum)
    at_extra = sum(1 for s in sizes if s == minimum + 1)
    if at_extra == extra and at_min + at_extra == n:
        return {}
    out: dict[str, list[Any]] = {}
    given_extra = 0
    for w, size in zip(loads, sizes, strict=True):
        if size <= minimum:
            continue
        if given_extra < extra:
            given_extra += 1
            if size == minimum + 1:
                continue
            cap = minimum + 1
        else:
            cap = minimum
        out[w.worker] = list(get(w))[: size - cap]
    return out


def _assign_connectors(loads: list[_Load], connectors: list[str]) -> None:
    """``assignConnectors``: fill the least-loaded workers level by level (ties by worker id)."""
    if not connectors:
        return
    loads.sort(key=lambda w: (len(w.connectors), w.worker))
    it = iter(connectors)
    pending = len(connectors)
    while pending:
        first = len(loads[0].connectors)
        upto = next((i for i, w in enumerate(loads) if len(w.connectors) > first), len(loads))
        for w in loads[:upto]:
            w.connectors.append(next(it))
            pending -= 1
            if not pending:
                break


def _assign_tasks(loads: list[_Load], tasks: list[ConnectorTaskId]) -> None:
    if not tasks:
        return
    loads.sort(key=lambda w: (len(w.tasks), w.worker))
    it = iter(tasks)
    pending = len(tasks)
    while pending:
        first = len(loads[0].tasks)
        upto = next((i for i, w in enumerate(loads) if len(w.tasks) > first), len(loads))
        for w in loads[:upto]:
            w.tasks.append(next(it))
            pending -= 1
            if not pending:
                break

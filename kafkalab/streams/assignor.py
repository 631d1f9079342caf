"""Task assignment of a Kafka Streams group (Kafka's ``StreamsPartitionAssignor`` with the
``HighAvailabilityTaskAssignor`` of KIP-441, simplified).

How it works. Every stream thread is a member of the classic group ``application.id`` and subscribes to every source
topic of the topology (repartition topics included). Its subscription's user data is a :class:`SubscriptionInfo`: the
instance (``process_id``) it runs in, the tasks it ran before (active and standby) and, per stateful task, how far
its instance's local state lags the changelog end (Kafka's task offset sums). The group leader runs
:meth:`StreamsAssignor.assign`:

1. Tasks: sub-topology ``s`` has one task per partition of its source topics (``s_p`` reads partition ``p`` of each).
2. Active tasks go to *instances* first: a task stays where it ran (stickiness) as long as that instance is within
   one task of its fair share; other tasks go to the instance whose state for it is most caught up (smallest lag:
   for a stateful task, an instance that held a standby or an old copy restores less), ties to the least-loaded
   instance, then by id. Stateless tasks balance by count.
3. Standbys: each stateful task gets ``num.standby.replicas`` standbys on distinct other instances, preferring an
   instance that already has its state, then the least-loaded.
4. Within an instance, tasks are dealt to its threads: a task stays on the thread that ran it if balance allows,
   the rest round-robin to the threads with the fewest tasks.

Each member's :class:`AssignmentInfo` (in the assignment's user data) lists its active and standby tasks; its
partitions are its active tasks' input partitions.

Warm-ups (KIP-441, ``HighAvailabilityTaskAssignor``): an instance is *caught up* on a stateful task when its lag
is at most ``acceptable.recovery.lag``. When the balanced owner of a stateful task is not caught up and another
instance is, the task stays (active) on the caught-up one and the balanced owner gets a warm-up replica, a standby
that restores in the background, at most ``max.warmup.replicas`` at once; the assignment then asks every member to
rejoin after ``probing.rebalance.interval.ms`` (a probing rebalance), when caught-up warm-ups take their tasks over.
Not modelled: rack awareness, the cooperative protocol (the group rebalances eagerly: every task is suspended at a
rebalance and resumed if it stays), and Kafka's exact balance rule (here a task may stay where it was up to one
task over an instance's fair share).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.group import Assignment, Subscription
from kafkalab.streams.task import TaskId, task_id
from kafkalab.streams.topology import Topology

__all__ = ["SubscriptionInfo", "AssignmentInfo", "StreamsAssignor", "ASSIGNOR_NAME", "assign_tasks"]

ASSIGNOR_NAME = "stream"
_NO_STATE = 1 << 62


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """What a stream thread tells the leader (Kafka's ``SubscriptionInfo``)."""

    process_id: str
    thread: str
    prev_active: tuple[TaskId, ...]
    prev_standby: tuple[TaskId, ...]
    task_lags: tuple[tuple[TaskId, int], ...]     # stateful tasks this instance has state for -> changelog lag


@dataclass(frozen=True, slots=True)
class AssignmentInfo:
    """What the leader tells a stream thread (Kafka's ``AssignmentInfo``)."""

    active: tuple[TaskId, ...]
    standby: tuple[TaskId, ...]
    partitions_by_task: tuple[tuple[TaskId, tuple[TopicPartition, ...]], ...]
    probing_rebalance: bool = False     # warm-ups were placed: rejoin after probing.rebalance.interval.ms


def _task_order(t: TaskId) -> tuple[int, int]:
    s, p = t.split("_")
    return int(s), int(p)


def assign_tasks(tasks: Sequence[TaskId], stateful: set[TaskId], clients: Mapping[str, list[SubscriptionInfo]],
                 standbys: int, *, acceptable_lag: int | None = None, max_warmups: int = 0,
                 warmups_out: dict[str, list[TaskId]] | None = None) -> dict[str, tuple[list[TaskId], list[TaskId]]]:
    """Member thread -> (active tasks, standby tasks); ``clients``: instance -> its threads' subscriptions.
    With ``acceptable_lag`` (KIP-441): a stateful task whose balanced owner is not caught up stays on a caught-up
    instance, and the balanced owner gets a *warm-up* replica (a standby; at most ``max_warmups`` in all), listed
    per instance in ``warmups_out``."""
    names = sorted(clients)
    lags: dict[str, dict[TaskId, int]] = {c: {} for c in names}
    prev: dict[TaskId, str] = {}
    for c in names:
        for info in clients[c]:
            lags[c].update(dict(info.task_lags))
            for t in info.prev_active:
                prev.setdefault(t, c)
    threads = {c: len(clients[c]) for c in names}
    total_threads = sum(threads.values())
    load: dict[str, int] = {c: 0 for c in names}
    owner: dict[TaskId, str] = {}
    ordered = sorted(tasks, key=_task_order)
    stateful_order = [t for t in ordered if t in stateful]
    stateless_order = [t for t in ordered if t not in stateful]
    kind_load: dict[str, int] = {}

    def balanced(n: int, c: str) -> int:
        """A balanced count for ``c`` of ``n`` tasks: its share by threads, rounded up."""
        return -(-n * threads[c] // total_threads)

    def place(group: list[TaskId], n: int, use_lag: bool) -> None:
        """Stateful tasks balance among themselves first, stateless ones after them over the total load (as
        Kafka's assignor balances stateful tasks, then stateless ones): stickiness within a balanced count, then
        the most caught-up (stateful) or least-loaded instance."""
        for t in group:
            was = prev.get(t)
            if was is not None and was in load and kind_load[was] + 1 <= balanced(n, was):
                owner[t] = was
                kind_load[was] += 1
                load[was] += 1
        for t in group:
            if t in owner:
                continue

            def rank(c: str, t: TaskId = t) -> tuple[int, int, float, str]:
                over = kind_load[c] + 1 > balanced(n, c)
                lag = lags[c].get(t, _NO_STATE) if use_lag and not over else 0
                return (1 if over else 0, lag, kind_load[c] / threads[c], c)
            best = min(names, key=rank)
            owner[t] = best
            kind_load[best] += 1
            load[best] += 1
    kind_load = {c: 0 for c in names}
    place(stateful_order, len(stateful_order), True)
    warmups: dict[str, list[TaskId]] = {c: [] for c in names}
    if acceptable_lag is not None:
        budget = max_warmups
        for t in ordered:
            if t not in stateful:
                continue
            target = owner[t]

            def caught_up(c: str, t: TaskId = t) -> bool:
                return lags[c].get(t, _NO_STATE) <= acceptable_lag
            if caught_up(target):
                continue
            ready = [c for c in names if caught_up(c)]
            if not ready:
                continue                    # nobody is caught up: the balanced owner restores it
            was = prev.get(t)

            def most_caught_up(c: str, t: TaskId = t) -> tuple[int, int, str]:
                return lags[c].get(t, _NO_STATE), load[c], c
            keep = was if was is not None and was in ready else min(ready, key=most_caught_up)
            owner[t] = keep
            load[target] -= 1
            load[keep] += 1
            if budget > 0:
                warmups[target].append(t)
                budget -= 1
    kind_load = dict(load)              # stateless tasks even out the total load
    place(stateless_order, len(ordered), False)
    if warmups_out is not None:
        warmups_out.update({c: list(ts) for c, ts in warmups.items() if ts})
    standby_of: dict[str, list[TaskId]] = {c: list(warmups[c]) for c in names}
    for t in ordered:
        if t not in stateful:
            continue
        others = [c for c in names if c != owner[t] and t not in warmups[c]]
        def standby_rank(c: str, t: TaskId = t) -> tuple[int, int, str]:
            return (lags[c].get(t, _NO_STATE), load[c] + len(standby_of[c]), c)
        others.sort(key=standby_rank)
        for other in others[:standbys]:
            standby_of[other].append(t)
    out: dict[str, tuple[list[TaskId], list[TaskId]]] = {}
    for c in names:
        members = sorted(clients[c], key=lambda i: i.thread)
        mine = [t for t in ordered if owner[t] == c]
        per: dict[str, list[TaskId]] = {m.thread: [] for m in members}
        cap = -(-len(mine) // max(1, len(members)))
        rest = []
        for t in mine:
            ran = next((m.thread for m in members if t in m.prev_active), None)
            if ran is not None and len(per[ran]) < cap:
                per[ran].append(t)
            else:
                rest.append(t)
        for t in rest:
            target = min(per, key=lambda th: (len(per[th]), th))
            per[target].append(t)
        sb: dict[str, list[TaskId]] = {m.thread: [] for m in members}
        for i, t in enumerate(standby_of[c]):
            ran = next((m.thread for m in members if t in m.prev_standby), None)
            sb[ran if ran is not None else members[i % len(members)].thread].append(t)
        for m in members:
            out[m.thread] = (per[m.thread], sb[m.thread])
    return out


class StreamsAssignor:
    """The classic-protocol assignor object of one stream thread (``partition.assignment.strategy=stream``)."""

    name = ASSIGNOR_NAME
    supported_protocols = ("eager",)

    def __init__(self, topology: Topology, application_id: str, standbys: int,
                 subscription_info: Callable[[], SubscriptionInfo], *, acceptable_lag: int | None = None,
                 max_warmups: int = 2) -> None:
        self.topology = topology
        self.application_id = application_id
        self.standbys = standbys
        self.acceptable_lag = acceptable_lag
        self.max_warmups = max_warmups
        self._info = subscription_info

    def subscription_user_data(self, topics: Sequence[str], owned: Sequence[TopicPartition], generation: int) -> Any:
        return self._info()

    def tasks(self, partitions_per_topic: Mapping[str, int]) -> dict[TaskId, tuple[TopicPartition, ...]]:
        """Every task and its input partitions, given the partition counts the leader knows."""
        out: dict[TaskId, tuple[TopicPartition, ...]] = {}
        app = self.application_id
        internal = self.topology.internal_repartition
        for sub in self.topology.subtopologies():
            real = [f"{app}-{t}" if t in internal else t for t in sub.source_topics]
            n = max((partitions_per_topic.get(t, 0) for t in real), default=0)
            for p in range(n):
                out[task_id(sub.id, p)] = tuple(TopicPartition(t, p) for t in real
                                                if p < partitions_per_topic.get(t, 0))
        return out

    def assign(self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
               ) -> dict[str, Assignment]:
        tasks = self.tasks(partitions_per_topic)
        stateful_subs = {sub.id for sub in self.topology.subtopologies() if sub.stores}
        stateful = {t for t in tasks if _task_order(t)[0] in stateful_subs}
        clients: dict[str, list[SubscriptionInfo]] = {}
        member_of: dict[str, str] = {}
        for member_id in sorted(subscriptions):
            info = subscriptions[member_id].user_data
            if not isinstance(info, SubscriptionInfo):
                info = SubscriptionInfo(member_id, member_id, (), (), ())
            info = SubscriptionInfo(info.process_id, member_id, info.prev_active, info.prev_standby, info.task_lags)
            clients.setdefault(info.process_id, []).append(info)
            member_of[member_id] = info.process_id
        warmups: dict[str, list[TaskId]] = {}
        result = assign_tasks(list(tasks), stateful, clients, self.standbys, acceptable_lag=self.acceptable_lag,
                              max_warmups=self.max_warmups, warmups_out=warmups)
        out: dict[str, Assignment] = {}
        for member_id in sorted(subscriptions):
            active, standby = result.get(member_id, ([], []))
            parts = tuple(sorted(tp for t in active for tp in tasks[t]))
            info = AssignmentInfo(tuple(active), tuple(standby), tuple((t, tasks[t]) for t in active),
                                  bool(warmups))
            out[member_id] = Assignment(parts, info)
        return out

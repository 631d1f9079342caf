"""KIP-848's server-side assignors (``group.protocol=consumer``): the group coordinator, not a member, computes the
target assignment (Kafka's ``org.apache.kafka.coordinator.group.assignor.UniformAssignor`` and ``RangeAssignor``).

How it works. Each assignor is a pure function of the members (:class:`MemberSpec`: subscribed topics, the
partitions of the current target assignment, instance and rack ids) and the partition count of each topic, and
returns member id -> the member's new target partitions, for every member. It computes the target from scratch: no
partition is held back while it changes owner, because KIP-848's reconciliation hands it over (the coordinator gives
a partition to its new owner only once the old owner stopped reporting it). Topics missing from
``partitions_per_topic`` do not exist yet and are skipped (Kafka's coordinator resolves subscribed names to topic ids
and leaves unknown names out of the assignment spec).

- ``uniform`` (the default of ``group.consumer.assignors``): balance first, then stickiness.
  Homogeneous subscriptions (``UniformHomogeneousAssignmentBuilder``): total P partitions over M members, every member
  gets ``P // M`` and ``P % M`` of them one more; each member keeps its partitions up to its quota, the rest are dealt
  to members under quota. Heterogeneous (``UniformHeterogeneousAssignmentBuilder``): members keep what they still
  subscribe to; unassigned partitions go topic by topic (most partitions per subscriber first) to the least loaded
  subscriber; then, topic by topic and for at most 16 rounds, the last partition of the most loaded subscriber moves
  to the least loaded one while their counts differ by more than one.
- ``range``: per topic, the subscribers sorted as Kafka's ``MemberInfo`` (static members first by instance id, then
  by member id) get contiguous ranges, the first ``P % C`` one more, so co-subscribed topics with equal partition
  counts are co-partitioned. Since KAFKA-16944 (Kafka 3.9/4.0) this assignor keeps no stickiness: it recomputes the
  ranges every time, and static members' instance ids are what keeps an assignment stable across restarts.

Simplifications and choices: no rack awareness (Kafka 4's server assignors do not use racks either). Kafka walks its
members in a Java ``HashMap`` order; kafkalab needs a defined order and uses one that never moves more partitions:
the homogeneous uniform builder gives the ``P % M`` extra partitions to the members owning the most, ties by member
id, so its moves are the minimum any balanced assignment needs (Kafka's arbitrary order may move a few more). Kept
partitions beyond quota are chosen lowest (topic, partition) first. If two members claim one partition, the first
by member id keeps it. The heterogeneous balancing is a direct rendering of Kafka's rules, not its range-bookkeeping
data structure, so with overlapping, unequal subscriptions the exact partitions moved may differ from Kafka's.
"""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kafkalab.common.names import lookup_by_name
from kafkalab.common.topic_partition import TopicPartition

__all__ = ["MemberSpec", "ServerAssignor", "uniform_assign", "range_assign", "SERVER_ASSIGNORS", "get_server_assignor"]

#: rounds of the heterogeneous balancing phase (Kafka's ``MAX_ITERATION_COUNT``)
_MAX_BALANCE_ROUNDS = 16


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """What a server assignor knows of a member: its subscription, its current target assignment, its static
    identity and rack (Kafka's ``MemberSubscription`` plus ``MemberAssignment``)."""

    subscribed_topics: frozenset[str]
    assigned: frozenset[TopicPartition]
    instance_id: str | None = None
    rack_id: str | None = None


ServerAssignor = Callable[[Mapping[str, MemberSpec], Mapping[str, int]], dict[str, frozenset[TopicPartition]]]


def _topics(members: Mapping[str, MemberSpec], partitions_per_topic: Mapping[str, int]) -> dict[str, int]:
    """The subscribed topics that exist, with their partition counts, in name order."""
    wanted = {t for spec in members.values() for t in spec.subscribed_topics}
    return {t: partitions_per_topic[t] for t in sorted(wanted) if partitions_per_topic.get(t, 0) > 0}


def _owned(members: Mapping[str, MemberSpec], order: list[str],
           counts: Mapping[str, int]) -> dict[str, list[TopicPartition]]:
    """Each member's current partitions that it still subscribes to and that exist, sorted; a partition claimed
    twice stays with the first claimant in ``order``."""
    seen: set[TopicPartition] = set()
    owned: dict[str, list[TopicPartition]] = {}
    for m in order:
        spec = members[m]
        mine = [tp for tp in sorted(spec.assigned) if tp.topic in spec.subscribed_topics and tp.topic in counts
                and 0 <= tp.partition < counts[tp.topic] and tp not in seen]
        seen.update(mine)
        owned[m] = mine
    return owned


def uniform_assign(members: Mapping[str, MemberSpec],
                   partitions_per_topic: Mapping[str, int]) -> dict[str, frozenset[TopicPartition]]:
    """KIP-848's ``uniform`` assignor: balanced (within one partition when every member subscribes to the same
    topics), then sticky. Two members of ``t`` with 3 partitions, A owning ``t-0, t-1`` and B nothing:
    A keeps both (it owns the most, so it gets the extra one) and B gets ``t-2``."""
    counts = _topics(members, partitions_per_topic)
    if not members:
        return {}
    if len({frozenset(spec.subscribed_topics & counts.keys()) for spec in members.values()}) == 1:
        result = _uniform_homogeneous(members, counts)
    else:
        result = _UniformHeterogeneous(members, counts).build()
    return {m: frozenset(result[m]) for m in sorted(members)}


def _uniform_homogeneous(members: Mapping[str, MemberSpec],
                         counts: Mapping[str, int]) -> dict[str, list[TopicPartition]]:
    owned = _owned(members, sorted(members), counts)
    total = sum(counts.values())
    min_quota, extra = divmod(total, len(members))
    # the members owning the most get the extra partitions: no other order keeps more partitions in place
    order = sorted(members, key=lambda m: (-len(owned[m]), m))
    taken = {tp for m in order for tp in owned[m]}
    unassigned = [TopicPartition(t, p) for t in counts for p in range(counts[t]) if TopicPartition(t, p) not in taken]
    target: dict[str, list[TopicPartition]] = {}
    unfilled: list[tuple[str, int]] = []
    for i, m in enumerate(order):
        quota = min_quota + (1 if i < extra else 0)
        target[m] = owned[m][:quota]
        unassigned.extend(owned[m][quota:])
        if len(target[m]) < quota:
            unfilled.append((m, quota - len(target[m])))
    position = 0
    for m, room in unfilled:
        target[m].extend(unassigned[position:position + room])
        position += room
    if position < len(unassigned):
        raise AssertionError("uniform assignor left partitions unassigned (a bug in kafkalab)")
    return target


class _UniformHeterogeneous:
    """``UniformHeterogeneousAssignmentBuilder``: keep what is still subscribed, fill the least loaded subscribers,
    then balance topic by topic."""

    def __init__(self, members: Mapping[str, MemberSpec], counts: Mapping[str, int]) -> None:
        self.members = sorted(members)
        self.index = {m: i for i, m in enumerate(self.members)}
        self.counts = counts
        self.subscribers = {t: [m for m in self.members if t in members[m].subscribed_topics] for t in counts}
        self.target = _owned(members, self.members, counts)
        self.owner = {tp: m for m in self.members for tp in self.target[m]}
        self.held = Counter((m, tp.topic) for m in self.members for tp in self.target[m])

    def _topic_order(self, topics: list[str]) -> list[str]:
        # most partitions per subscriber first, then fewer subscribers, then name (Kafka's topicComparator)
        return sorted(topics, key=lambda t: (-self.counts[t] / len(self.subscribers[t]), len(self.subscribers[t]), t))

    def build(self) -> dict[str, list[TopicPartition]]:
        topics = [t for t in self.counts if self.subscribers[t]]
        for topic in self._topic_order(topics):
            free = [p for p in range(self.counts[topic]) if TopicPartition(topic, p) not in self.owner]
            if not free:
                continue
            # least loaded first; among equals, the emptier at the start, then member order (Kafka's balancer)
            heap = [(len(self.target[m]), len(self.target[m]), self.index[m]) for m in self.subscribers[topic]]
            heapq.heapify(heap)
            for p in free:
                size, start, i = heapq.heappop(heap)
                self._give(TopicPartition(topic, p), self.members[i])
                heapq.heappush(heap, (size + 1, start, i))
        movable = self._topic_order([t for t in topics if len(self.subscribers[t]) >= 2])
        for _ in range(_MAX_BALANCE_ROUNDS):
            if not sum(self._balance_topic(t) for t in movable):
                break
        return self.target

    def _give(self, tp: TopicPartition, member: str) -> None:
        old = self.owner.get(tp)
        if old is not None:
            self.target[old].remove(tp)
            self.held[old, tp.topic] -= 1
        self.target[member].append(tp)
        self.held[member, tp.topic] += 1
        self.owner[tp] = member

    def _balance_topic(self, topic: str) -> int:
        moved = 0
        subscribers = self.subscribers[topic]
        while True:
            givers = [m for m in subscribers if self.held[m, topic] > 0]
            if not givers:
                return moved
            giver = max(givers, key=lambda m: (len(self.target[m]), self.index[m]))
            taker = min(subscribers, key=lambda m: (len(self.target[m]), self.index[m]))
            if len(self.target[giver]) - len(self.target[taker]) <= 1:
                return moved
            self._give(max(tp for tp in self.target[giver] if tp.topic == topic), taker)
            moved += 1


def range_assign(members: Mapping[str, MemberSpec],
                 partitions_per_topic: Mapping[str, int]) -> dict[str, frozenset[TopicPartition]]:
    """KIP-848's ``range`` assignor (Kafka 4): per topic, contiguous ranges to the subscribers sorted with static
    members first, the first ``P % C`` get one more. M0, M1 on T1 and T2 of 3 partitions:
    ``M0: T1-0, T1-1, T2-0, T2-1``, ``M1: T1-2, T2-2``. The current assignment does not matter."""
    counts = _topics(members, partitions_per_topic)
    order = sorted(members, key=lambda m: ((0, members[m].instance_id) if members[m].instance_id is not None
                                           else (1, m), m))
    result: dict[str, list[TopicPartition]] = {m: [] for m in members}
    for topic, count in counts.items():
        subscribers = [m for m in order if topic in members[m].subscribed_topics]
        quota, extra = divmod(count, len(subscribers))
        start = 0
        for i, m in enumerate(subscribers):
            end = start + quota + (1 if i < extra else 0)
            result[m].extend(TopicPartition(topic, p) for p in range(start, end))
            start = end
    return {m: frozenset(result[m]) for m in sorted(members)}


#: the server-side assignors by ``group.consumer.assignors`` / ``group.remote.assignor`` name
SERVER_ASSIGNORS: Mapping[str, ServerAssignor] = MappingProxyType({"uniform": uniform_assign, "range": range_assign})

_CLASS_NAMES = {
    "org.apache.kafka.coordinator.group.assignor.uniformassignor": "uniform",
    "org.apache.kafka.coordinator.group.assignor.rangeassignor": "range",
}


def get_server_assignor(name: str) -> ServerAssignor:
    """The server assignor called ``name`` (``"uniform"``, ``"range"``, or Kafka's class name). Unknown names raise
    :class:`~kafkalab.errors.ConfigError` (a ``ValueError``) naming the allowed names and the closest one."""
    return lookup_by_name(name, SERVER_ASSIGNORS, _CLASS_NAMES, what="a server assignor name",  # type: ignore[no-any-return]
                          label="server assignor", key="group.remote.assignor")

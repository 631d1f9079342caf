"""KIP-848's server-side assignors (``group.protocol=consumer``): the group coordinator, not a member, computes the
target assignment (Kafka's ``org.apache.kafka.coordinator.group.assignor.UniformAssignor`` and ``RangeAssignor``).

How it works. Each assignor is a pure function of the members (:class:`MemberSpec`: subscribed topics, the
partitions of the current target assignment, instance and rack ids) and the partition count of each topic, and
returns member id -> the member's new target partitions, for every member. It computes the target from scratch: no
partition is held back while it changes owner, because KIP-848's reconciliation hands it over (the coordinator gives
a partition to its new owner only once the old owner stopped reporting it). Topics missing from
``partitions_per_topic`` do not exist yet and are skipped (Kafka's coordinator resolves subscribed names to topic ids
and leaves unknown names out of the assignment spec).

- ``uniform`` (the default of ``group.consumer.assignors``): balance first, then stickiness. Kafka walks members
  and topics in Java ``HashMap`` order, and kafkalab computes the same order: members by the bucket of their id's
  ``String.hashCode`` (:func:`kafka_member_order`), topics by the bucket of their topic id's ``Uuid.hashCode``,
  partitions of a topic by the bucket of the number, each table sized as Kafka's coordinator sizes it.
  Homogeneous subscriptions (``UniformHomogeneousAssignmentBuilder``, Kafka 4.1's KAFKA-18688 version): total P
  partitions over M members; walking the members in that order, each keeps its partitions, in the order it iterates
  them, up to ``P // M``, or up to one more while fewer than ``P % M`` members have claimed an extra partition (a
  member claims one only by owning that many). The extra partitions left over go to the last members still under
  quota; the partitions nobody holds (topic by topic) and then the ones cut off fill the members under quota, in
  member order. No member loses a partition that a balanced assignment would let it keep.
  Heterogeneous (``UniformHeterogeneousAssignmentBuilder``): members keep what they still subscribe to; topics sorted
  by partitions per subscriber (descending), subscriber count, then topic id (``Uuid.compareTo``) hand their free
  partitions round-robin to their least loaded subscribers (ties by member index, the position in member order);
  then, for at most 16 rounds over the topics with two or more subscribers, the most loaded subscribers give their
  highest partitions of the topic to the least loaded until the two load levels differ by at most one.
- ``range``: per topic, the subscribers sorted as Kafka's ``MemberInfo`` (static members first by instance id, then
  by member id) get contiguous ranges, the first ``P % C`` one more, so co-subscribed topics with equal partition
  counts are co-partitioned. Since KAFKA-16944 (Kafka 3.9/4.0) this assignor keeps no stickiness: it recomputes the
  ranges every time, and static members' instance ids are what keeps an assignment stable across restarts.

Topic ids. Kafka orders topics by their ids, which are random. :func:`uniform_assign` takes the metadata image's ids
(``topic_ids``); a topic without one gets a UUID derived from its name (:func:`topic_id_for_name`), fixed per name,
which keeps runs reproducible and is as good a stand-in for a random id as any.

Simplifications: no rack awareness (Kafka 4's server assignors do not use racks either). Where two keys share a
``HashMap`` bucket Kafka keeps the order it inserted them in, which comes from other maps (the group's members, the
replayed assignment records); kafkalab inserts in member id / topic id / partition order. If two members claim one
partition (never in Kafka's own target assignment) the first in member order keeps it.
"""
from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from kafkalab.common.names import lookup_by_name
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.utils import java_string_hash

__all__ = ["MemberSpec", "ServerAssignor", "uniform_assign", "range_assign", "SERVER_ASSIGNORS", "get_server_assignor",
           "kafka_member_order", "topic_id_for_name"]

#: rounds of the heterogeneous balancing phase (Kafka's ``MAX_ITERATION_COUNT``)
_MAX_BALANCE_ROUNDS = 16
_MASK64 = (1 << 64) - 1
_K = TypeVar("_K", str, int)


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """What a server assignor knows of a member: its subscription, its current target assignment, its static
    identity and rack (Kafka's ``MemberSubscription`` plus ``MemberAssignment``).

    ``assignment_order`` is the order in which Kafka iterates ``assigned`` (its ``Map<Uuid, Set<Integer>>``), when
    that is not the coordinator's own ``HashMap`` order: Kafka's tests build some assignments with
    ``LinkedHashMap``. Empty (the coordinator's case): the ``HashMap`` order, computed from the topic ids."""

    subscribed_topics: frozenset[str]
    assigned: frozenset[TopicPartition]
    instance_id: str | None = None
    rack_id: str | None = None
    assignment_order: tuple[TopicPartition, ...] = ()


ServerAssignor = Callable[[Mapping[str, MemberSpec], Mapping[str, int]], dict[str, frozenset[TopicPartition]]]


# ---- Java's iteration orders -----------------------------------------------------------------------------------------

def _table_size_for(n: int) -> int:
    capacity = 1
    while capacity < n:
        capacity *= 2
    return capacity


def _grown_capacity(n: int) -> int:
    """The table size of a ``new HashMap<>()`` (or ``HashSet``) after ``n`` puts: 16, doubled past 3/4 full."""
    capacity = 16
    while n > capacity * 3 // 4:
        capacity *= 2
    return capacity


def _copied_capacity(n: int) -> int:
    """The table size of ``new HashSet<>(collection)`` of ``n`` elements (Java 17: ``max(n / .75 + 1, 16)``)."""
    return _table_size_for(max(int(n / 0.75) + 1, 16))


def _bucket_order(keys: Iterable[_K], hash32: Callable[[_K], int], capacity: int) -> list[_K]:
    """A Java ``HashMap``'s iteration order of ``keys`` put in this order: by bucket (the spread hash
    ``h ^ (h >>> 16)`` masked by the table size), then insertion order within a bucket."""
    def bucket(key: _K) -> int:
        h = hash32(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)
    return sorted(keys, key=bucket)             # sorted() is stable: a bucket keeps insertion order


def kafka_member_order(member_ids: Iterable[str]) -> list[str]:
    """The order Kafka's assignors walk the members (``GroupSpec.memberIds()``, the keys of the ``HashMap`` that
    ``TargetAssignmentBuilder`` fills): Java ``HashMap`` order of the member ids. Within a bucket Kafka keeps the
    order in which the group's own map handed the members over; kafkalab uses member id order there."""
    ids = sorted(member_ids)
    return _bucket_order(ids, java_string_hash, _grown_capacity(len(ids)))


def topic_id_for_name(name: str) -> str:
    """A stand-in topic id when the caller has none (a UUID derived from the name): Kafka orders topics by their
    random ids, so any fixed id per name is as faithful as another, and this one keeps a run reproducible."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kafkalab:topic:{name}"))


def _uuid_bits(topic_id: str) -> tuple[int, int]:
    """Kafka's ``Uuid`` (most, least significant bits as signed longs) of a topic id, given either as a UUID
    string (kafkalab's metadata) or in Kafka's 22-character URL-safe base64 form."""
    if len(topic_id) == 36:
        value = uuid.UUID(topic_id).int
    else:
        value = int.from_bytes(base64.urlsafe_b64decode(topic_id + "=" * (-len(topic_id) % 4)), "big")
    msb, lsb = value >> 64, value & _MASK64
    return (msb - (1 << 64) if msb >> 63 else msb), (lsb - (1 << 64) if lsb >> 63 else lsb)


def _uuid_hash(topic_id: str) -> int:
    """Kafka's ``Uuid.hashCode``: the xor of the two longs, folded to an int."""
    msb, lsb = _uuid_bits(topic_id)
    xor = (msb ^ lsb) & _MASK64
    return ((xor >> 32) ^ xor) & 0xFFFFFFFF


class _Topics:
    """The subscribed topics that exist, their partition counts and ids, and Kafka's orders over them."""

    def __init__(self, members: Mapping[str, MemberSpec], partitions_per_topic: Mapping[str, int],
                 topic_ids: Mapping[str, str] | None) -> None:
        wanted = {t for spec in members.values() for t in spec.subscribed_topics}
        self.counts = {t: partitions_per_topic[t] for t in sorted(wanted) if partitions_per_topic.get(t, 0) > 0}
        ids = topic_ids or {}
        self.ids = {t: ids.get(t) or topic_id_for_name(t) for t in self.counts}
        self._hash = {t: _uuid_hash(i) for t, i in self.ids.items()}
        self.uuid_key = {t: _uuid_bits(i) for t, i in self.ids.items()}

    def hash_order(self, topics: Iterable[str], capacity: int) -> list[str]:
        # topics enter a map in id order (Kafka's insertion order is its own; this is ours)
        return _bucket_order(sorted(topics, key=self.uuid_key.__getitem__), self._hash.__getitem__, capacity)

    def assignment_order(self, spec: MemberSpec) -> list[TopicPartition]:
        """How Kafka iterates a member's current assignment: a ``HashMap`` of topic id (filled from the target
        assignment record) to a ``HashSet`` of partitions (copied from the record's list)."""
        if spec.assignment_order:
            rest = spec.assigned - set(spec.assignment_order)
            return [tp for tp in spec.assignment_order if tp in spec.assigned] + sorted(rest)
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(spec.assigned):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        known = [t for t in by_topic if t in self.counts]
        order = self.hash_order(known, _grown_capacity(len(by_topic))) + sorted(set(by_topic) - set(known))
        return [TopicPartition(t, p) for t in order
                for p in _bucket_order(by_topic[t], int, _copied_capacity(len(by_topic[t])))]


def _claims(members: Mapping[str, MemberSpec], order: list[str], topics: _Topics) -> dict[str, list[TopicPartition]]:
    """Each member's current partitions that it still subscribes to and that exist, in Kafka's iteration order;
    a partition claimed twice (never in Kafka's own target assignment) stays with the first claimant in ``order``."""
    seen: set[TopicPartition] = set()
    claims: dict[str, list[TopicPartition]] = {}
    for m in order:
        spec = members[m]
        mine = [tp for tp in topics.assignment_order(spec) if tp.topic in spec.subscribed_topics
                and tp.topic in topics.counts and 0 <= tp.partition < topics.counts[tp.topic] and tp not in seen]
        seen.update(mine)
        claims[m] = mine
    return claims


def uniform_assign(members: Mapping[str, MemberSpec], partitions_per_topic: Mapping[str, int],
                   topic_ids: Mapping[str, str] | None = None,
                   heterogeneous: bool | None = None) -> dict[str, frozenset[TopicPartition]]:
    """KIP-848's ``uniform`` assignor: balanced (within one partition when every member subscribes to the same
    topics), then sticky. ``topic_ids`` (topic name -> id) decide Kafka's topic orders; missing ids are derived
    from the names (:func:`topic_id_for_name`). ``heterogeneous`` forces a builder (None: the homogeneous one
    exactly when every member subscribes to the same topic names, as Kafka's ``SubscriptionType``).

    Two members A and B of ``t`` with 3 partitions, B owning ``t-0, t-1``: B keeps both (it owns the one extra
    partition there is to claim) and A gets ``t-2``."""
    if not members:
        return {}
    topics = _Topics(members, partitions_per_topic, topic_ids)
    order = kafka_member_order(members)
    if heterogeneous is None:
        heterogeneous = len({spec.subscribed_topics for spec in members.values()}) > 1
    result: Mapping[str, Iterable[TopicPartition]] = (
        _UniformHeterogeneous(members, order, topics).build() if heterogeneous
        else _uniform_homogeneous(members, order, topics))
    return {m: frozenset(result.get(m, ())) for m in sorted(members)}


def _uniform_homogeneous(members: Mapping[str, MemberSpec], order: list[str],
                         topics: _Topics) -> dict[str, list[TopicPartition]]:
    """``UniformHomogeneousAssignmentBuilder`` as of Kafka 4.1 (KAFKA-18688): every member may keep ``P // M``
    partitions, in its assignment's iteration order, and one more while fewer than ``P % M`` members have claimed an
    extra partition, a claim it keeps only if it owns that many. Partitions past a quota are cut off. Then the
    extra partitions nobody claimed go to the last members still under quota (member order, from the end), and the
    members under quota fill up, in member order, from the partitions nobody holds (topics in ``HashSet`` order)
    followed by the ones cut off."""
    subscribed = members[order[0]].subscribed_topics
    claims = _claims(members, order, topics)
    taken = {tp for m in order for tp in claims[m]}
    existing = [t for t in topics.counts if t in subscribed]
    topic_order = topics.hash_order(existing, _copied_capacity(len(existing)))
    unassigned = [TopicPartition(t, p) for t in topic_order for p in range(topics.counts[t])
                  if TopicPartition(t, p) not in taken]
    min_quota, extra = divmod(sum(topics.counts[t] for t in topic_order), len(order))
    target: dict[str, list[TopicPartition]] = {}
    unfilled: list[str] = []                   # Kafka's MemberWithRemainingQuota list, with room in `room`
    room: dict[str, int] = {}
    for m in order:
        with_extra = extra > 0
        quota = min_quota + with_extra
        by_topic: dict[str, list[TopicPartition]] = {}
        for tp in claims[m]:
            by_topic.setdefault(tp.topic, []).append(tp)
        kept: list[TopicPartition] = []
        for partitions in by_topic.values():
            # a topic's partitions all fit, or the ones past the quota are cut off in iteration order
            kept.extend(partitions[:quota])
            unassigned.extend(partitions[quota:])
            quota -= min(quota, len(partitions))
        target[m] = kept
        if quota > 0 and with_extra:
            quota, with_extra = quota - 1, False          # not full: the extra partition is left for another
        if quota == 0 and with_extra:
            extra -= 1                                    # full with the extra partition: claimed
        if quota > 0 or (extra > 0 and not with_extra):
            unfilled.append(m)
            room[m] = quota
    for m in unfilled[max(0, len(unfilled) - extra):] if extra > 0 else ():
        room[m] += 1                                      # the unclaimed extras, to the last unfilled members
    position = 0
    for m in unfilled:
        target[m].extend(unassigned[position:position + room[m]])
        position += room[m]
    if position < len(unassigned):
        raise AssertionError("uniform assignor left partitions unassigned (a bug in kafkalab)")
    return target


class _Balancer:
    """Kafka's ``MemberAssignmentBalancer``: a topic's subscribers sorted by load (ties by member index), with a
    least loaded range filled round-robin from the left and a most loaded range drained from the right; each range
    grows to the next load level once every member in it has taken (or given) one partition."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.sorted: list[int] = []

    def initialize(self, subscribers: list[int]) -> int:
        self.sorted = sorted(subscribers, key=lambda i: (self.sizes[i], i))
        self.least_end = 0
        self.least_count = self.sizes[self.sorted[0]] - 1
        self.next_least = 0
        self.most_start = self.most_end = len(self.sorted)
        self.most_count = self.sizes[self.sorted[-1]] + 1
        self.next_most = len(self.sorted) - 1
        return self.sizes[self.sorted[-1]] - self.sizes[self.sorted[0]]

    def next_least_loaded(self) -> int:
        if self.next_least >= self.least_end:
            self.least_count += 1
            while self.least_end < len(self.sorted) and self.sizes[self.sorted[self.least_end]] == self.least_count:
                self.least_end += 1
            self.next_least = 0
        member = self.sorted[self.next_least]
        self.next_least += 1
        return member

    def next_most_loaded(self) -> int:
        if self.next_most < self.most_start:
            if self.most_end <= self.most_start and self.most_start > 0:
                self.most_count = self.sizes[self.sorted[self.most_start - 1]]
            else:
                self.most_count -= 1
            while self.most_start > 0 and self.sizes[self.sorted[self.most_start - 1]] == self.most_count:
                self.most_start -= 1
            self.next_most = self.most_end - 1
        if self.next_most < 0:
            return -1
        member = self.sorted[self.next_most]
        self.next_most -= 1
        return member

    def exclude_most_loaded(self) -> None:
        # swap the member just returned with the last of the most loaded range, and shrink the range past it
        i, j = self.next_most + 1, self.most_end - 1
        self.sorted[i], self.sorted[j] = self.sorted[j], self.sorted[i]
        self.most_end -= 1

    def balanced(self) -> bool:
        return self.most_count - self.least_count <= 1


class _UniformHeterogeneous:
    """``UniformHeterogeneousAssignmentBuilder``: members keep what they still subscribe to; each topic's free
    partitions (topics by partitions per subscriber descending, then subscriber count, then topic id) go round-robin
    to its least loaded subscribers; then, for at most 16 rounds over the topics with 2+ subscribers, partitions
    move from the most to the least loaded subscribers, each giver's highest partition of the topic first."""

    def __init__(self, members: Mapping[str, MemberSpec], order: list[str], topics: _Topics) -> None:
        self.members = order
        self.topics = topics
        self.subscribers = {t: [i for i, m in enumerate(order) if t in members[m].subscribed_topics]
                            for t in topics.counts}
        self.subscribers = {t: s for t, s in self.subscribers.items() if s}
        claims = _claims(members, order, topics)
        self.target: dict[str, set[TopicPartition]] = {m: set(claims[m]) for m in order}
        self.owner = {t: [-1] * topics.counts[t] for t in self.subscribers}
        self.sizes = [len(claims[m]) for m in order]
        for i, m in enumerate(order):
            for tp in claims[m]:
                self.owner[tp.topic][tp.partition] = i

    def _sorted_topics(self, topics: Iterable[str]) -> list[str]:
        counts, subs, key = self.topics.counts, self.subscribers, self.topics.uuid_key
        return sorted(topics, key=lambda t: (-(counts[t] / len(subs[t])), len(subs[t]), key[t]))

    def build(self) -> dict[str, set[TopicPartition]]:
        balancer = _Balancer(self.sizes)
        free = {t: [p for p, o in enumerate(self.owner[t]) if o == -1] for t in self.subscribers}
        for topic in self._sorted_topics(t for t in free if free[t]):
            balancer.initialize(self.subscribers[topic])
            for p in free[topic]:
                self._assign(topic, p, balancer.next_least_loaded())
        movable = self._sorted_topics(t for t, s in self.subscribers.items() if len(s) >= 2)
        last = -1
        for _ in range(_MAX_BALANCE_ROUNDS):
            for index, topic in enumerate(movable):
                if index == last:
                    return self.target      # a whole round without a move
                if self._balance_topic(topic, balancer) > 0 or last == -1:
                    last = index
        return self.target

    def _assign(self, topic: str, partition: int, member: int) -> None:
        old = self.owner[topic][partition]
        if old != -1:
            self.target[self.members[old]].discard(TopicPartition(topic, partition))
            self.sizes[old] -= 1
        self.target[self.members[member]].add(TopicPartition(topic, partition))
        self.owner[topic][partition] = member
        self.sizes[member] += 1

    def _balance_topic(self, topic: str, balancer: _Balancer) -> int:
        if balancer.initialize(self.subscribers[topic]) <= 1:
            return 0
        owners = self.owner[topic]
        # the partitions grouped by owner index, ascending; each owner gives from the end of its run
        partitions = sorted(range(len(owners)), key=lambda p: (owners[p], p))
        start: dict[int, int] = {}
        end: dict[int, int] = {}
        for i, p in enumerate(partitions):
            start.setdefault(owners[p], i)
            end[owners[p]] = i + 1
        moved = 0
        while not balancer.balanced():
            giver = balancer.next_most_loaded()
            while giver != -1 and end.get(giver, 0) - start.get(giver, 0) <= 0:
                balancer.exclude_most_loaded()
                giver = balancer.next_most_loaded()
            if giver == -1:
                break
            end[giver] -= 1
            partition = partitions[end[giver]]
            taker = balancer.next_least_loaded()
            if balancer.balanced():
                break
            self._assign(topic, partition, taker)
            moved += 1
        return moved


def range_assign(members: Mapping[str, MemberSpec],
                 partitions_per_topic: Mapping[str, int]) -> dict[str, frozenset[TopicPartition]]:
    """KIP-848's ``range`` assignor (Kafka 4): per topic, contiguous ranges to the subscribers sorted with static
    members first, the first ``P % C`` get one more. M0, M1 on T1 and T2 of 3 partitions:
    ``M0: T1-0, T1-1, T2-0, T2-1``, ``M1: T1-2, T2-2``. The current assignment does not matter."""
    counts = _Topics(members, partitions_per_topic, None).counts
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

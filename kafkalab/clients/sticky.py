"""The sticky assignment engine shared by ``sticky`` and ``cooperative-sticky`` (Kafka's ``AbstractStickyAssignor``),
as one pure function, :func:`sticky_assign`; the assignor classes around it live in :mod:`kafkalab.clients.assignors`.

How it works. Each member's owned partitions and generation come from a ``member_data`` function (the eager
``StickyAssignor`` reads its user data, the cooperative one its v2+ subscription fields). Claims on partitions that
no longer exist (or of topics nobody subscribes to) are dropped; when two members claim one partition, the higher generation wins and in the same
generation neither keeps it. Then one of Kafka's two paths runs:

- every member subscribes to the same topics: ``ConstrainedAssignmentBuilder`` keeps owned partitions up to each
  member's quota (``total // members``, one more for up to ``total % members`` members that own enough) and
  deals the rest round-robin, first to members under the minimum quota, then up to the maximum. It also reports the
  partitions changing owner (``partitionsTransferringOwnership``), which the cooperative assignor holds back.
- otherwise ``GeneralAssignmentBuilder``: keep what is still subscribed, give the rest to the least loaded
  subscriber, then move partitions from fuller to emptier members (remembering moves in ``PartitionMovements`` so a
  partition never ping-pongs) until no move helps, keeping the result only if it is better balanced.

Iteration order. Where Kafka's result depends on the order it walks a Java ``HashMap`` or ``HashSet``, kafkalab walks
it in the same order (:func:`java_hash_order`: by hash bucket, then insertion): the members in the order of the
leader's ``HashMap`` of subscriptions (the String hash of the member id), which decides who keeps a full quota when
more members own one than may keep it and, between owners from equally old generations, whose earlier claim counts;
and a (topic, member pair) set of ``PartitionMovements``, whose first element (by ``TopicPartition.hashCode``) is the
partition swapped back. Members sharing a bucket keep the order the leader's map got them in (the JoinGroup answer's
member order); kafkalab uses member id order there.

Simplifications: in a claim conflict kafkalab compares both claimants' member-data generations (Kafka reads the
earlier claimant's from its Subscription field; the consumer fills both with the same value). "All subscriptions
equal" compares every member's topic set (Kafka skips members until one subscribes to something, so an empty
subscription could slip into its constrained path).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.utils import java_string_hash
from kafkalab.protocol.group import Subscription

__all__ = ["MemberData", "sticky_assign", "java_hash_order", "java_hashmap_order", "grown_capacity",
           "topic_partition_hash"]

#: what a member says it owns and the generation of that claim (None when it says nothing), from its Subscription
MemberData = Callable[[Subscription], tuple[tuple[TopicPartition, ...], "int | None"]]
_Pair = tuple[str, str]
_K = TypeVar("_K")


def grown_capacity(size: int) -> int:
    """The table size of a Java ``HashMap``/``HashSet`` made with ``new`` and grown to ``size`` entries by puts:
    16, doubled whenever it gets more than 3/4 full (tables never shrink)."""
    capacity = 16
    while size > capacity * 3 // 4:
        capacity *= 2
    return capacity


def java_hash_order(keys: Sequence[_K], hash32: Callable[[_K], int], capacity: int) -> list[_K]:
    """The iteration order of a Java ``HashMap`` with this table size holding ``keys``, put in this order: by
    bucket (``(h ^ (h >>> 16)) & (capacity - 1)``), then insertion order within a bucket (resizing keeps it)."""
    def bucket(key: _K) -> int:
        h = hash32(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)   # sorted() is stable, so a bucket keeps insertion order


def java_hashmap_order(keys: Sequence[str]) -> list[str]:
    """The iteration order of a ``new HashMap<String, ?>()`` filled with ``keys`` in this order."""
    return java_hash_order(keys, java_string_hash, grown_capacity(len(keys)))


def topic_partition_hash(tp: TopicPartition) -> int:
    """Kafka's ``TopicPartition.hashCode``: ``31 * (31 + partition) + topic.hashCode()`` in int arithmetic."""
    return (31 * (31 + tp.partition) + java_string_hash(tp.topic)) & 0xFFFFFFFF


def sticky_assign(partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription],
                  member_data: MemberData) -> tuple[dict[str, list[TopicPartition]], dict[TopicPartition, str] | None]:
    """The sticky assignment, and the partitions changing owner (partition -> new owner) when the constrained path
    tracked them (None from the general path, whose caller computes them from the owned partitions)."""
    # Kafka walks the group's subscriptions (and the owned-partition map built from them) in Java HashMap order
    members = java_hashmap_order(sorted(subscriptions))
    counts = {t: partitions_per_topic[t] for t in sorted({t for m in members for t in subscriptions[m].topics})
              if partitions_per_topic.get(t, 0) > 0}
    data = {m: member_data(subscriptions[m]) for m in members}
    generation = {m: _or_default_generation(data[m][1]) for m in members}
    # allSubscriptionsEqual: owned partitions after claim conflicts (the higher generation wins; a tie voids both)
    owned: dict[str, list[TopicPartition]] = {m: [] for m in members}
    claimed_by: dict[TopicPartition, str] = {}
    multiple_owners: set[TopicPartition] = set()
    for m in members:
        for tp in dict.fromkeys(data[m][0]):
            if tp.topic not in counts or not 0 <= tp.partition < counts[tp.topic]:
                continue
            other = claimed_by.get(tp)
            if other is None or generation[m] > generation[other]:
                owned[m].append(tp)
            elif generation[m] == generation[other]:
                multiple_owners.add(tp)
            else:
                continue
            if other is not None and tp in owned[other]:
                owned[other].remove(tp)
            claimed_by[tp] = m
    topic_sets = {frozenset(subscriptions[m].topics) for m in members}
    if len(topic_sets) <= 1:
        return _constrained_assign(counts, members, owned, multiple_owners)
    max_generation = max(generation.values(), default=-1)
    builder = _GeneralAssignment(counts, subscriptions, members, owned, data, max_generation)
    return builder.build(), None


def _or_default_generation(generation: int | None) -> int:
    return -1 if generation is None else generation


def _constrained_assign(counts: Mapping[str, int], members: list[str], owned: dict[str, list[TopicPartition]],
                        multiple_owners: set[TopicPartition],
                        ) -> tuple[dict[str, list[TopicPartition]], dict[TopicPartition, str]]:
    """Kafka's ``ConstrainedAssignmentBuilder`` (every member subscribes to the same topics): keep owned partitions
    up to the member's quota, then deal the rest round-robin to members under minQuota, then up to maxQuota."""
    assignment: dict[str, list[TopicPartition]] = {m: [] for m in members}
    transferring: dict[TopicPartition, str] = {}
    if not members:
        return assignment, transferring
    total = sum(counts.values())
    min_quota, expected_over = divmod(total, len(members))
    max_quota = min_quota + (1 if expected_over else 0)
    over = 0
    maybe_revoked: dict[TopicPartition, str] = {}
    under: list[str] = []
    exactly_min: list[str] = []
    for m in members:
        mine = sorted((tp for tp in owned[m] if tp not in multiple_owners), key=lambda tp: (tp.partition, tp.topic))
        if len(mine) < min_quota:
            keep = len(mine)
            under.append(m)
        elif len(mine) >= max_quota and over < expected_over:
            keep = max_quota
            over += 1
            if over == expected_over:
                exactly_min.clear()
        else:
            keep = min_quota
            if over < expected_over:
                exactly_min.append(m)
        assignment[m].extend(mine[:keep])
        for tp in mine[keep:]:
            maybe_revoked[tp] = m
    taken = {tp for m in members for tp in assignment[m]}
    unassigned = [TopicPartition(t, p) for t in sorted(counts) for p in range(counts[t])
                  if TopicPartition(t, p) not in taken]
    under.sort()
    exactly_min.sort()
    position = 0                               # a cursor over `under`, restarted when it runs off the end
    for tp in unassigned:
        if position < len(under):
            member = under[position]
            position += 1
        elif under:
            member, position = under[0], 1
        elif exactly_min:
            member = exactly_min.pop(0)
        else:
            raise AssertionError(f"sticky assignor: no member left for {tp} (a bug in kafkalab)")
        assignment[member].append(tp)
        if (tp in maybe_revoked and maybe_revoked[tp] != member) or tp in multiple_owners:
            transferring[tp] = member
        size = len(assignment[member])
        if size == min_quota and position > 0 and under[position - 1] == member:
            under.pop(position - 1)
            position -= 1
            exactly_min.append(member)
        elif size == max_quota:
            over += 1
    return assignment, transferring


class _Movements:
    """Kafka's ``PartitionMovements``: who moved which partition where during balancing, so a partition moving back
    along a pair of members it already crossed is swapped for one that crossed that way (no ping-pong). The
    partitions of one (topic, pair) form a Java ``HashSet``, and the swap takes its first element in Java's order,
    so each set remembers the table size it grew to (a set emptied is dropped, as Kafka drops it)."""

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[_Pair, dict[TopicPartition, None]]] = {}
        self.moves: dict[TopicPartition, _Pair] = {}
        self.capacity: dict[tuple[str, _Pair], int] = {}

    def _remove(self, tp: TopicPartition) -> _Pair:
        pair = self.moves.pop(tp)
        pairs = self.by_topic[tp.topic]
        del pairs[pair][tp]
        if not pairs[pair]:
            del pairs[pair]
            del self.capacity[tp.topic, pair]
        if not pairs:
            del self.by_topic[tp.topic]
        return pair

    def _add(self, tp: TopicPartition, pair: _Pair) -> None:
        self.moves[tp] = pair
        partitions = self.by_topic.setdefault(tp.topic, {}).setdefault(pair, {})
        partitions[tp] = None
        key = (tp.topic, pair)
        self.capacity[key] = max(self.capacity.get(key, 16), grown_capacity(len(partitions)))

    def move(self, tp: TopicPartition, old: str, new: str) -> None:
        if tp in self.moves:
            source, _ = self._remove(tp)
            if source != new:
                self._add(tp, (source, new))
        else:
            self._add(tp, (old, new))

    def actual_partition(self, tp: TopicPartition, old: str, new: str) -> TopicPartition:
        if tp.topic not in self.by_topic:
            return tp
        if tp in self.moves:
            old = self.moves[tp][0]
        reverse = self.by_topic[tp.topic].get((new, old))
        if not reverse:
            return tp
        return java_hash_order(list(reverse), topic_partition_hash, self.capacity[tp.topic, (new, old)])[0]


class _GeneralAssignment:
    """Kafka's ``GeneralAssignmentBuilder`` (subscriptions differ): keep what is still valid, give the rest to the
    least loaded subscriber, then move partitions from fuller to emptier members until no move helps; the result
    is kept only if it is better balanced than before the moves (unless starting from nothing)."""

    def __init__(self, counts: Mapping[str, int], subscriptions: Mapping[str, Subscription], members: list[str],
                 owned: dict[str, list[TopicPartition]],
                 data: Mapping[str, tuple[tuple[TopicPartition, ...], int | None]], max_generation: int) -> None:
        self.counts = counts
        self.consumer_topics = {m: [t for t in dict.fromkeys(subscriptions[m].topics) if t in counts] for m in members}
        self.topic_consumers: dict[str, list[str]] = {t: [] for t in counts}
        for m in members:
            for t in self.consumer_topics[m]:
                self.topic_consumers[t].append(m)
        self.current = {m: list(owned[m]) for m in members}
        self.owner = {tp: m for m in members for tp in self.current[m]}
        self.active = set(members)
        self.revocation_required = False
        self.movements = _Movements()
        self.sorted_partitions = [TopicPartition(t, p)
                                  for t in sorted(counts, key=lambda t: (len(self.topic_consumers[t]), t))
                                  for p in range(counts[t])]
        # the latest earlier owner of a partition, from members of an older generation; between equal generations
        # the first member in HashMap order (Kafka's prepopulateCurrentAssignments replaces only a lower one)
        self.previous: dict[TopicPartition, tuple[str, int]] = {}
        for m in members:
            partitions, generation = data[m]
            if generation is None and max_generation > -1:
                generation = -1
            elif generation is None or generation >= max_generation:
                continue
            for tp in partitions:
                if tp not in self.previous or generation > self.previous[tp][1]:
                    self.previous[tp] = (m, generation)

    def _max_size(self, m: str) -> int:
        return sum(self.counts[t] for t in self.consumer_topics[m])

    def _least_loaded(self, topic: str) -> str | None:
        eligible = [m for m in self.topic_consumers[topic] if m in self.active]
        return min(eligible, key=lambda m: (len(self.current[m]), m), default=None)

    def build(self) -> dict[str, list[TopicPartition]]:
        kept: set[TopicPartition] = set()
        for m, partitions in self.current.items():
            for tp in list(partitions):
                if tp.topic not in self.consumer_topics[m]:
                    partitions.remove(tp)
                    del self.owner[tp]
                    self.revocation_required = True
                else:
                    kept.add(tp)
        unassigned = [tp for tp in self.sorted_partitions if tp not in kept]
        initializing = all(not p for p in self.current.values())
        for tp in unassigned:
            member = self._least_loaded(tp.topic)
            if member is not None:
                self._put(tp, member)
        movable_topics = {t for t, c in self.topic_consumers.items() if len(c) >= 2}
        self.sorted_partitions = [tp for tp in self.sorted_partitions if tp.topic in movable_topics]
        unassigned = [tp for tp in unassigned if tp.topic in movable_topics]
        fixed = [m for m in sorted(self.current) if not self._can_move(m, movable_topics)]
        self.active -= set(fixed)
        before = {m: list(self.current[m]) for m in self.active}
        before_owner = dict(self.owner)
        if not self.revocation_required:
            self._reassign(unassigned)
        performed = self._reassign(self.sorted_partitions)
        if not initializing and performed and self._score(self.current) >= self._score(before):
            self.current.update(before)
            self.owner = before_owner
        return self.current

    def _put(self, tp: TopicPartition, member: str) -> None:
        self.current[member].append(tp)
        self.owner[tp] = member

    def _can_move(self, m: str, movable_topics: set[str]) -> bool:
        if len(self.current[m]) < self._max_size(m):
            return True
        return any(tp.topic in movable_topics for tp in self.current[m])

    def _score(self, assignment: Mapping[str, list[TopicPartition]]) -> int:
        sizes = sorted(len(assignment[m]) for m in self.active)
        # the sum of |a - b| over all pairs, from the sorted sizes
        return sum(size * (2 * i - len(sizes) + 1) for i, size in enumerate(sizes))

    def _balanced(self) -> bool:
        sizes = {m: len(self.current[m]) for m in self.active}
        if not sizes or min(sizes.values()) >= max(sizes.values()) - 1:
            return True
        for m in sorted(self.active, key=lambda m: (sizes[m], m)):
            if sizes[m] == self._max_size(m):
                continue
            for t in self.consumer_topics[m]:
                for p in range(self.counts[t]):
                    other = self.owner.get(TopicPartition(t, p))
                    if other is not None and other != m and other in sizes and sizes[m] + 1 < sizes[other]:
                        return False
        return True

    def _reassign(self, partitions: list[TopicPartition]) -> bool:
        performed = False
        modified = True
        while modified:
            modified = False
            for tp in partitions:
                if self._balanced():
                    break
                member = self.owner[tp]
                previous = self.previous.get(tp)
                if (previous is not None and previous[0] in self.active
                        and len(self.current[member]) > len(self.current[previous[0]]) + 1):
                    self._move(tp, previous[0])
                    performed = modified = True
                    continue
                if any(len(self.current[member]) > len(self.current[o]) + 1
                       for o in self.topic_consumers[tp.topic] if o in self.active):
                    target = self._least_loaded(tp.topic)
                    assert target is not None
                    self._move(tp, target)
                    performed = modified = True
        return performed

    def _move(self, tp: TopicPartition, new: str) -> None:
        tp = self.movements.actual_partition(tp, self.owner[tp], new)
        old = self.owner[tp]
        self.movements.move(tp, old, new)
        self.current[old].remove(tp)
        self._put(tp, new)

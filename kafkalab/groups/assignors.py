"""Client-side partition assignors of the classic group protocol, as pure functions (Kafka's ``RangeAssignor``,
``RoundRobinAssignor``, ``StickyAssignor`` and ``CooperativeStickyAssignor``), and how members agree on one.

How it works. The group leader (a consumer) gets every member's :class:`~kafkalab.groups.messages.Subscription` and
the partition count of each subscribed topic, and computes who reads what. An assignor is a stateless object with a
``name``, the rebalance protocols it supports and ``assign(partitions_per_topic, subscriptions)``; one shared
instance per name lives in :data:`ASSIGNORS`. Topics missing from ``partitions_per_topic`` (no metadata) are skipped,
every member gets an :class:`~kafkalab.groups.messages.Assignment` (possibly empty), and each assignment lists its
partitions sorted by (topic, partition). Members are ordered as Kafka's ``MemberInfo``: static members (with a
``group_instance_id``) first, by instance id, then the others by member id.

- ``range``: per topic, the subscribers in that order split the partitions into contiguous ranges; the first
  ``P % C`` get one extra. ``C0: [t0p0, t0p1, t1p0, t1p1], C1: [t0p2, t1p2]`` for two topics of 3 partitions.
- ``roundrobin``: all subscribed partitions sorted by (topic, partition) are dealt to the members in turn, skipping a
  member not subscribed to the partition's topic.
- ``sticky`` / ``cooperative-sticky``: Kafka's ``AbstractStickyAssignor``: balance first (counts within
  one when subscriptions are equal), then keep as many owned partitions as possible. ``sticky`` is eager and reads
  what a member owned from its ``user_data`` (:class:`StickyUserData`, Kafka's StickyAssignor user data v1), since
  an eager member revoked everything before joining; ``cooperative-sticky`` reads ``Subscription.owned_partitions``
  and ``generation_id`` (ConsumerProtocolSubscription v2+). When two members claim one partition, the higher
  generation wins; in the same generation neither keeps it.
- Eager vs cooperative (KIP-429): with ``cooperative-sticky`` a partition that moves from one member to another is
  left out of the new owner's assignment in this round (Kafka's ``partitionsTransferringOwnership`` and
  ``adjustAssignment``); its old owner revokes it, rejoins, and a follow-up rebalance hands it over.
  :func:`rebalance_protocol` is the consumer's choice (ConsumerCoordinator: the highest protocol every configured
  assignor supports) and :func:`choose_protocol` the classic coordinator's vote among members' assignor lists.

Simplifications: no rack-aware assignment (KIP-881): ``partitions_per_topic`` carries counts, not replica racks, so
``rack_id`` is ignored. Kafka walks Java HashMaps in places where the order decides ties (which member keeps its
owned partitions when too many own a full quota, the order of candidates in the general sticky path); kafkalab
uses sorted member ids there, so results equal Kafka's up to those ties. In a claim conflict kafkalab compares both
claimants' member-data generations (Kafka reads the earlier claimant's from its Subscription field; the consumer
fills both with the same value). "All subscriptions equal" compares every member's topic set (Kafka skips members
until one subscribes to something, so an empty subscription could slip into its constrained path).
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from kafkalab.broker.messages import TopicPartition
from kafkalab.errors import ConfigError
from kafkalab.groups.hashing import java_string_hash
from kafkalab.groups.messages import Assignment, Subscription

__all__ = [
    "EAGER", "COOPERATIVE", "StickyUserData", "PartitionAssignor", "RangeAssignor", "RoundRobinAssignor",
    "StickyAssignor", "CooperativeStickyAssignor", "ASSIGNORS", "get_assignor", "choose_protocol",
    "rebalance_protocol", "member_order",
]

#: Kafka's ``RebalanceProtocol`` values, lowest first (the enum's order: EAGER id 0, COOPERATIVE id 1)
EAGER = "eager"
COOPERATIVE = "cooperative"
_PROTOCOL_RANK = {EAGER: 0, COOPERATIVE: 1}


@dataclass(frozen=True, slots=True)
class StickyUserData:
    """What an eager ``sticky`` member puts in ``Subscription.user_data``: the partitions it was assigned and the
    generation of that assignment (Kafka's ``STICKY_ASSIGNOR_USER_DATA_V1``; ``generation=None`` is v0)."""

    partitions: tuple[TopicPartition, ...]
    generation: int | None = None


def member_order(member_id: str, subscription: Subscription) -> tuple[int, str]:
    """Sort key of Kafka's ``MemberInfo``: static members first by ``group.instance.id``, then by member id."""
    if subscription.group_instance_id is not None:
        return (0, subscription.group_instance_id)
    return (1, member_id)


def _sorted_members(subscriptions: Mapping[str, Subscription]) -> list[str]:
    # the member id breaks ties between equal instance ids, which Kafka's coordinator never lets happen
    return sorted(subscriptions, key=lambda m: (member_order(m, subscriptions[m]), m))


def _wrap(result: Mapping[str, Sequence[TopicPartition]],
          subscriptions: Mapping[str, Subscription]) -> dict[str, Assignment]:
    return {m: Assignment(tuple(sorted(result.get(m, ())))) for m in sorted(subscriptions)}


class PartitionAssignor:
    """A client-side assignor (Kafka's ``ConsumerPartitionAssignor``): stateless, one shared instance per name."""

    name: str = ""
    #: the rebalance protocols this assignor supports, in Kafka's order
    supported_protocols: tuple[str, ...] = (EAGER,)

    def assign(self, partitions_per_topic: Mapping[str, int],
               subscriptions: Mapping[str, Subscription]) -> dict[str, Assignment]:
        """Member id -> Assignment for every member, given each known topic's partition count."""
        raise NotImplementedError

    def subscription_user_data(self, topics: Sequence[str], owned: Sequence[TopicPartition],
                               generation: int) -> Any:
        """What a member puts in ``Subscription.user_data`` for this assignor (None unless the assignor needs it).

        ``owned`` is the member's last *assignment* and ``generation`` its generation (what Kafka's assignor remembers
        in ``onAssignment``), not what the member holds right now: an eager member has revoked everything by the
        time it joins, and ``sticky`` needs the last assignment to stay sticky."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class RangeAssignor(PartitionAssignor):
    """Kafka's ``RangeAssignor``: per topic, contiguous ranges to the sorted subscribers, the first ``P % C`` get one
    more. Two members, topics t0 and t1 of 3 partitions: ``C0: [t0p0, t0p1, t1p0, t1p1]``, ``C1: [t0p2, t1p2]``."""

    name = "range"

    def assign(self, partitions_per_topic: Mapping[str, int],
               subscriptions: Mapping[str, Subscription]) -> dict[str, Assignment]:
        result: dict[str, list[TopicPartition]] = {m: [] for m in subscriptions}
        order = _sorted_members(subscriptions)
        for topic in sorted(partitions_per_topic):
            count = partitions_per_topic[topic]
            consumers = [m for m in order if topic in subscriptions[m].topics]
            if count <= 0 or not consumers:
                continue
            quota, extra = divmod(count, len(consumers))
            start = 0
            for i, member in enumerate(consumers):
                size = quota + (1 if i < extra else 0)
                result[member].extend(TopicPartition(topic, p) for p in range(start, start + size))
                start += size
        return _wrap(result, subscriptions)


class RoundRobinAssignor(PartitionAssignor):
    """Kafka's ``RoundRobinAssignor``: partitions sorted by (topic, partition) dealt in turn to the sorted members,
    skipping a member not subscribed to the partition's topic."""

    name = "roundrobin"

    def assign(self, partitions_per_topic: Mapping[str, int],
               subscriptions: Mapping[str, Subscription]) -> dict[str, Assignment]:
        result: dict[str, list[TopicPartition]] = {m: [] for m in subscriptions}
        order = _sorted_members(subscriptions)
        topic_sets = {m: frozenset(subscriptions[m].topics) for m in order}
        topics = sorted({t for m in order for t in topic_sets[m]})
        position = 0
        for topic in topics:
            if topic not in partitions_per_topic:
                continue
            for p in range(partitions_per_topic[topic]):
                # someone subscribes to the topic (it came from a subscription), so this loop ends
                while topic not in topic_sets[order[position % len(order)]]:
                    position += 1
                result[order[position % len(order)]].append(TopicPartition(topic, p))
                position += 1
        return _wrap(result, subscriptions)


class StickyAssignor(PartitionAssignor):
    """Kafka's eager ``StickyAssignor``: balanced, then as sticky as possible; owned partitions come from the
    member's :class:`StickyUserData`."""

    name = "sticky"

    def assign(self, partitions_per_topic: Mapping[str, int],
               subscriptions: Mapping[str, Subscription]) -> dict[str, Assignment]:
        result, _ = _sticky_assign(partitions_per_topic, subscriptions, _sticky_member_data)
        return _wrap(result, subscriptions)

    def subscription_user_data(self, topics: Sequence[str], owned: Sequence[TopicPartition],
                               generation: int) -> Any:
        """The partitions of the last assignment and its generation (None before the first assignment)."""
        if generation < 0 and not owned:
            return None
        return StickyUserData(tuple(sorted(owned)), generation)


class CooperativeStickyAssignor(PartitionAssignor):
    """Kafka's ``CooperativeStickyAssignor``: the sticky assignment minus the partitions changing owner, which the
    follow-up rebalance hands over once their old owners have revoked them (KIP-429)."""

    name = "cooperative-sticky"
    supported_protocols = (COOPERATIVE, EAGER)

    def assign(self, partitions_per_topic: Mapping[str, int],
               subscriptions: Mapping[str, Subscription]) -> dict[str, Assignment]:
        result, transferring = _sticky_assign(partitions_per_topic, subscriptions, _cooperative_member_data)
        if transferring is None:
            # the general path does not track movements: compare with what each member said it owns
            added: dict[TopicPartition, str] = {}
            revoked: set[TopicPartition] = set()
            for member in sorted(result):
                owned = set(subscriptions[member].owned_partitions)
                assigned = set(result[member])
                added.update((tp, member) for tp in result[member] if tp not in owned)
                revoked.update(owned - assigned)
            transferring = {tp: m for tp, m in added.items() if tp in revoked}
        for tp, member in transferring.items():
            result[member] = [p for p in result[member] if p != tp]
        return _wrap(result, subscriptions)


def _sticky_member_data(sub: Subscription) -> tuple[tuple[TopicPartition, ...], int | None]:
    """Kafka's ``StickyAssignor.memberData``: always from user data (an eager member owns nothing when it joins)."""
    data = sub.user_data
    if data is None:
        return (), None
    if not isinstance(data, StickyUserData):
        return (), -1                    # unparsable user data: ignored, as Kafka does
    return tuple(data.partitions), data.generation


def _cooperative_member_data(sub: Subscription) -> tuple[tuple[TopicPartition, ...], int | None]:
    """Kafka's ``CooperativeStickyAssignor.memberData``: the v2+ subscription fields, else the generation in
    user data (an int here)."""
    if sub.generation_id >= 0:
        return tuple(sub.owned_partitions), sub.generation_id
    generation = sub.user_data if isinstance(sub.user_data, int) else (None if sub.user_data is None else -1)
    return tuple(sub.owned_partitions), generation


#: one instance per assignor name, in Kafka's documentation order
ASSIGNORS: Mapping[str, PartitionAssignor] = MappingProxyType({
    a.name: a for a in (RangeAssignor(), RoundRobinAssignor(), StickyAssignor(), CooperativeStickyAssignor())
})

_CLASS_NAMES = {
    "org.apache.kafka.clients.consumer.rangeassignor": "range",
    "org.apache.kafka.clients.consumer.roundrobinassignor": "roundrobin",
    "org.apache.kafka.clients.consumer.stickyassignor": "sticky",
    "org.apache.kafka.clients.consumer.cooperativestickyassignor": "cooperative-sticky",
}


def get_assignor(name: str) -> PartitionAssignor:
    """The assignor for a ``partition.assignment.strategy`` entry: a short name (``"range"``) or Kafka's class name
    (``"org.apache.kafka.clients.consumer.RangeAssignor"`` or ``"RangeAssignor"``). Unknown names raise
    :class:`~kafkalab.errors.ConfigError` (a ``ValueError``) naming the allowed names and the closest one."""
    return lookup_by_name(name, ASSIGNORS, _CLASS_NAMES, what="an assignor name",
                          label="partition.assignment.strategy", key="partition.assignment.strategy", scope="consumer")


def lookup_by_name(name: str, table: Mapping[str, Any], class_names: Mapping[str, str], *, what: str, label: str,
                   key: str, scope: str | None = None) -> Any:
    """``table[name]`` for a short name, Kafka's full class name or its simple class name (case-insensitive);
    otherwise a ConfigError naming what is allowed and the closest name (shared by both assignor registries)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    folded = name.strip().lower()
    if folded in table:
        return table[folded]
    for class_name, short in class_names.items():
        if folded in (class_name, class_name.rsplit(".", 1)[-1]):
            return table[short]
    close = difflib.get_close_matches(folded, list(table), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    extra = {} if scope is None else {"scope": scope}
    raise ConfigError(f"unknown {label} {name!r}: allowed are {', '.join(table)}{hint}", key=key, value=name, **extra)


def rebalance_protocol(assignor_names: Sequence[str]) -> str:
    """The rebalance protocol of a consumer configured with these assignors (ConsumerCoordinator's constructor):
    the highest protocol every one of them supports. ``["range", "cooperative-sticky"]`` -> ``"eager"``;
    ``["cooperative-sticky"]`` -> ``"cooperative"``."""
    assignors = [get_assignor(n) for n in assignor_names]
    if not assignors:
        raise ConfigError("partition.assignment.strategy must name at least one assignor",
                          key="partition.assignment.strategy", scope="consumer")
    common = set(assignors[0].supported_protocols)
    for assignor in assignors[1:]:
        common &= set(assignor.supported_protocols)
    if not common:   # cannot happen with the built-in assignors, which all support eager
        raise ConfigError(f"assignors {[a.name for a in assignors]} have no commonly supported rebalance protocol",
                          key="partition.assignment.strategy", scope="consumer")
    return max(common, key=_PROTOCOL_RANK.__getitem__)


def _java_hashmap_order(keys: Sequence[str]) -> list[str]:
    """The iteration order of a Java ``HashMap<String, ?>`` filled with ``keys`` in this order: by bucket
    (``(h ^ (h >>> 16)) & (capacity - 1)`` with the table grown from 16 at load factor 0.75), then insertion."""
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        h = java_string_hash(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)   # sorted() is stable, so a bucket keeps insertion order


def choose_protocol(member_protocols: Sequence[Sequence[str]]) -> str:
    """The assignor a classic group uses (``ClassicGroup.selectProtocol``): the candidates are the names every member
    supports; each member votes for the first candidate in its own preference list; most votes wins, and a tie goes
    to the name met first in Java's ``HashMap`` iteration order of the vote counts (Kafka takes the first maximum
    of ``votesByProtocol.entrySet().stream()``). ``member_protocols``: each member's names, most preferred first."""
    if not member_protocols:
        raise ValueError("cannot select a protocol for an empty group")
    candidates = set(member_protocols[0])
    for names in member_protocols[1:]:
        candidates &= set(names)
    if not candidates:
        raise ValueError(f"no protocol is supported by every member: {[list(n) for n in member_protocols]}")
    votes: dict[str, int] = {}
    for names in member_protocols:
        vote = next(n for n in names if n in candidates)
        votes[vote] = votes.get(vote, 0) + 1
    best = None
    for name in _java_hashmap_order(list(votes)):
        if best is None or votes[name] > votes[best]:
            best = name
    assert best is not None
    return best


# ---- the sticky engine (Kafka's AbstractStickyAssignor) ------------------------------------------------------------
_MemberData = Callable[[Subscription], tuple[tuple[TopicPartition, ...], "int | None"]]
_Pair = tuple[str, str]


def _sticky_assign(partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription],
                   member_data: _MemberData) -> tuple[dict[str, list[TopicPartition]], dict[TopicPartition, str] | None]:
    """The sticky assignment, and the partitions changing owner (partition -> new owner) when the constrained path
    tracked them (None from the general path, whose caller computes them from the owned partitions)."""
    members = sorted(subscriptions)
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
    builder = _GeneralAssignment(counts, subscriptions, owned, data, max_generation)
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
    along a pair of members it already crossed is swapped for one that crossed that way (no ping-pong)."""

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[_Pair, dict[TopicPartition, None]]] = {}
        self.moves: dict[TopicPartition, _Pair] = {}

    def _remove(self, tp: TopicPartition) -> _Pair:
        pair = self.moves.pop(tp)
        pairs = self.by_topic[tp.topic]
        del pairs[pair][tp]
        if not pairs[pair]:
            del pairs[pair]
        if not pairs:
            del self.by_topic[tp.topic]
        return pair

    def _add(self, tp: TopicPartition, pair: _Pair) -> None:
        self.moves[tp] = pair
        self.by_topic.setdefault(tp.topic, {}).setdefault(pair, {})[tp] = None

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
        return next(iter(reverse)) if reverse else tp


class _GeneralAssignment:
    """Kafka's ``GeneralAssignmentBuilder`` (subscriptions differ): keep what is still valid, give the rest to the
    least loaded subscriber, then move partitions from fuller to emptier members until no move helps; the result
    is kept only if it is better balanced than before the moves (unless starting from nothing)."""

    def __init__(self, counts: Mapping[str, int], subscriptions: Mapping[str, Subscription],
                 owned: dict[str, list[TopicPartition]],
                 data: Mapping[str, tuple[tuple[TopicPartition, ...], int | None]], max_generation: int) -> None:
        self.counts = counts
        members = sorted(subscriptions)
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
        # the latest earlier owner of a partition, from members of an older generation
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

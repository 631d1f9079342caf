"""Client-side partition assignors of the classic group protocol, as pure functions (Kafka's ``RangeAssignor``,
``RoundRobinAssignor``, ``StickyAssignor`` and ``CooperativeStickyAssignor``), and how members agree on one.

How it works. The group leader (a consumer) gets every member's :class:`~kafkalab.protocol.group.Subscription` and
the partition count of each subscribed topic, and computes who reads what. An assignor is a stateless object with a
``name``, the rebalance protocols it supports and ``assign(partitions_per_topic, subscriptions)``; one shared
instance per name lives in :data:`ASSIGNORS`. Topics missing from ``partitions_per_topic`` (no metadata) are skipped,
every member gets an :class:`~kafkalab.protocol.group.Assignment` (possibly empty), and each assignment lists its
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

The sticky engine (Kafka's ``AbstractStickyAssignor``: its constrained and general paths) is
:func:`kafkalab.clients.sticky.sticky_assign`; this module holds the assignor classes, the registry (with
:func:`get_assignor` and :func:`lookup_by_name`) and the negotiation.

Simplifications: no rack-aware assignment (KIP-881): ``partitions_per_topic`` carries counts, not replica racks, so
``rack_id`` is ignored. The sticky engine walks members in Kafka's ``HashMap`` order; its own simplifications (claim
conflicts, "all subscriptions equal") are listed in :mod:`kafkalab.clients.sticky`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from kafkalab.clients.sticky import java_hashmap_order, sticky_assign
from kafkalab.common.names import lookup_by_name
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import ConfigError
from kafkalab.protocol.group import Assignment, Subscription

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
        result, _ = sticky_assign(partitions_per_topic, subscriptions, _sticky_member_data)
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
        result, transferring = sticky_assign(partitions_per_topic, subscriptions, _cooperative_member_data)
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
    for name in java_hashmap_order(list(votes)):
        if best is None or votes[name] > votes[best]:
            best = name
    assert best is not None
    return best

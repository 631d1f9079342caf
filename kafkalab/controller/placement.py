"""Replica placement for new partitions, as Kafka's ``StripedReplicaPlacer`` does (KIP-660, metadata/placement).

How it works. Usable brokers (registered and not in controlled shutdown; fenced ones included) are grouped by rack;
in each rack the brokers form two sorted lists, unfenced and fenced, each starting at a random offset. Racks are
sorted by name (no rack sorts first) and iteration starts at a random rack. For each partition:

1. the first replica (the preferred leader) is the next *unfenced* broker, taken from the first rack (from the
   current rack offset on) that still has one in this round;
2. the other replicas are taken one per rack, walking the racks from the offset and skipping the leader's rack
   once, preferring unfenced brokers, falling back to fenced ones;
3. the rack offset moves by one per partition, and each broker list's offset moves by one per round ("epoch"),
   so leadership and replicas stripe across brokers and racks; once every unfenced broker has led once, racks and
   broker lists are reshuffled so the next stripe differs.

Errors (``InvalidReplicationFactorError``, Kafka's messages): replication factor <= 0, more replicas than registered
brokers, or no unfenced broker at all. Randomness comes only from the ``random.Random`` handed in.

Simplification: Kafka continues the offsets from a topic's existing assignments when partitions are added
(``tryGetPreviousRackOffset``); here every call starts fresh at random offsets.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from kafkalab.errors import InvalidReplicationFactorError

__all__ = ["UsableBroker", "StripedReplicaPlacer", "place_replicas"]


@dataclass(frozen=True, slots=True)
class UsableBroker:
    broker_id: int
    rack: str | None = None
    fenced: bool = False


@dataclass(slots=True)
class _BrokerList:
    brokers: list[int] = field(default_factory=list)
    index: int = 0
    offset: int = 0
    epoch: int = 0

    def initialize(self, rng: random.Random) -> None:
        if self.brokers:
            self.brokers.sort()
            self.offset = rng.randrange(len(self.brokers))

    def shuffle(self, rng: random.Random) -> None:
        rng.shuffle(self.brokers)

    def next(self, epoch: int) -> int:
        """The next broker of this round (``epoch``), or -1 when each was returned once this round."""
        n = len(self.brokers)
        if n == 0:
            return -1
        if self.epoch != epoch:
            self.epoch = epoch
            self.index = 0
            self.offset = (self.offset + 1) % n
        if self.index >= n:
            return -1
        broker = self.brokers[(self.index + self.offset) % n]
        self.index += 1
        return broker


@dataclass(slots=True)
class _Rack:
    unfenced: _BrokerList = field(default_factory=_BrokerList)
    fenced: _BrokerList = field(default_factory=_BrokerList)

    def next(self, epoch: int) -> int:
        broker = self.unfenced.next(epoch)
        return broker if broker >= 0 else self.fenced.next(epoch)


def _rack_key(name: str | None) -> tuple[int, str]:
    return (0, "") if name is None else (1, name)


class _RackList:
    def __init__(self, rng: random.Random, brokers: Iterable[UsableBroker]) -> None:
        self.rng = rng
        self.racks: dict[str | None, _Rack] = {}
        self.total = 0
        self.unfenced = 0
        for b in brokers:
            rack = self.racks.setdefault(b.rack, _Rack())
            (rack.fenced if b.fenced else rack.unfenced).brokers.append(b.broker_id)
            self.total += 1
            self.unfenced += 0 if b.fenced else 1
        self.names = sorted(self.racks, key=_rack_key)
        for name in self.names:
            rack = self.racks[name]
            rack.fenced.initialize(rng)
            rack.unfenced.initialize(rng)
        self.offset = rng.randrange(len(self.names)) if self.names else 0
        self.epoch = 0

    def shuffle(self) -> None:
        self.rng.shuffle(self.names)
        for name in sorted(self.racks, key=_rack_key):
            self.racks[name].fenced.shuffle(self.rng)
            self.racks[name].unfenced.shuffle(self.rng)

    def place(self, replication_factor: int) -> tuple[int, ...]:
        if self.epoch == self.unfenced and self.unfenced > 1:
            self.shuffle()
            self.epoch = 0
        names = self.names
        if self.offset == len(names):
            self.offset = 0
        first = self.offset
        while True:
            leader = self.racks[names[first]].unfenced.next(self.epoch)
            if leader >= 0:
                break
            first = (first + 1) % len(names)
        chosen = [leader]
        rack_index = self.offset
        skip = first
        for _ in range(1, replication_factor):
            broker = -1
            while broker < 0:
                if rack_index == skip:
                    skip = -1
                else:
                    broker = self.racks[names[rack_index]].next(self.epoch)
                rack_index = (rack_index + 1) % len(names)
            chosen.append(broker)
        self.epoch += 1
        self.offset += 1
        return tuple(chosen)


def _check(replication_factor: int, total: int, unfenced: int) -> None:
    if replication_factor <= 0:
        raise InvalidReplicationFactorError(
            f"Invalid replication factor {replication_factor}: the replication factor must be positive.")
    if unfenced == 0:
        raise InvalidReplicationFactorError("All brokers are currently fenced.")
    if replication_factor > total:
        raise InvalidReplicationFactorError(
            f"The target replication factor of {replication_factor} cannot be reached because only {total} "
            f"broker(s) are registered.")


class StripedReplicaPlacer:
    """``place(brokers, num_partitions, replication_factor)`` -> replicas of each partition, preferred leader first."""

    def __init__(self, rng: random.Random) -> None:
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        self.rng = rng

    def place(self, brokers: Iterable[UsableBroker], num_partitions: int,
              replication_factor: int) -> list[tuple[int, ...]]:
        # Sorted so that the rng draws do not depend on the caller's order.
        racks = _RackList(self.rng, sorted(brokers, key=lambda b: b.broker_id))
        _check(replication_factor, racks.total, racks.unfenced)
        return [racks.place(replication_factor) for _ in range(num_partitions)]


def place_replicas(brokers: Iterable[UsableBroker], num_partitions: int, replication_factor: int,
                   rng: random.Random) -> list[tuple[int, ...]]:
    """One-shot :meth:`StripedReplicaPlacer.place`.

    >>> place_replicas([UsableBroker(0), UsableBroker(1), UsableBroker(2)], 3, 2, random.Random(0))
    [(1, 2), (2, 0), (0, 1)]
    """
    return StripedReplicaPlacer(rng).place(brokers, num_partitions, replication_factor)

"""The reference for stickiness: the fewest partition moves of any balanced assignment, by exhaustive search."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from kafkalab.common.topic_partition import TopicPartition


def brute_force_min_moves(counts: Mapping[str, int], members: Sequence[str],
                          previous: Mapping[TopicPartition, str]) -> int:
    """The fewest moves of any assignment with sizes within one (equal subscriptions); a partition moves when its
    previous owner is still a member and does not keep it."""
    partitions = [TopicPartition(t, p) for t in sorted(counts) for p in range(counts[t])]
    low, extra = divmod(len(partitions), len(members))
    size = dict.fromkeys(members, 0)
    best = len(partitions) + 1

    def search(i: int, at_high: int, cost: int) -> None:
        nonlocal best
        if cost >= best:
            return
        if i == len(partitions):
            best = cost
            return
        for m in members:
            if size[m] == low + (1 if extra else 0) or (size[m] == low and at_high == extra):
                continue
            size[m] += 1
            owner = previous.get(partitions[i])
            search(i + 1, at_high + (size[m] == low + 1), cost + (owner in size and owner != m))
            size[m] -= 1

    search(0, 0, 0)
    return best

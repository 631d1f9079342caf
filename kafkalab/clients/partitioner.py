"""Choosing a partition for a record, as Kafka's producer does (``Utils.murmur2``, ``BuiltInPartitioner``).

Keyed records: ``partition = (murmur2(key) & 0x7fffffff) % number_of_partitions``, over *all* partitions of the topic
(available or not), so a key always maps to the same partition while the partition count stays the same. ``murmur2`` is
Kafka's variant of MurmurHash2 (seed 0x9747b28c, m 0x5bd1e995, r 24, 32-bit wrap-around arithmetic, a tail switch that
falls through); it is checked against the test vectors of Kafka's ``UtilsTest``.

Records without a key: KIP-480's sticky partitioning as refined by KIP-794 (Kafka 3.3+). The producer sticks to one
partition until ``batch.size`` bytes were produced to it and the current batch is ready to go, or until twice that
regardless; then it picks the next partition at random, among partitions with a leader, weighted towards partitions
with shorter queues (``partitioner.adaptive.partitioning.enable=true``): a cumulative frequency table built from
``max_queue + 1 - queue`` per partition. Randomness is an input (a ``random.Random`` stream of the producer).
"""
from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

__all__ = ["murmur2", "to_positive", "partition_for_key", "StickyPartitioner"]

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: a signed 32-bit hash of ``data``.

    >>> murmur2(b"21"), murmur2(b"foobar")
    (-973932308, -790332482)
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK
    end4 = length & ~3
    for i in range(0, end4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail == 3:
        h ^= data[end4 + 2] << 16
    if tail >= 2:
        h ^= data[end4 + 1] << 8
    if tail >= 1:
        h ^= data[end4]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(value: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (not abs: MIN_VALUE maps to 0)."""
    return value & 0x7FFFFFFF


def partition_for_key(key: bytes, num_partitions: int) -> int:
    """The partition Kafka's default partitioner gives a keyed record."""
    if num_partitions < 1:
        raise ValueError(f"num_partitions must be >= 1, got {num_partitions}")
    if not isinstance(key, bytes):
        raise TypeError(f"key must be bytes, got {type(key).__name__}; encode it first (e.g. key.encode('utf-8'))")
    return to_positive(murmur2(key)) % num_partitions


class StickyPartitioner:
    """The partition choice for records without a key, for one topic (KIP-480, KIP-794).

    Use: ``p = sp.current(available)`` before appending; after the append ``sp.on_append(n_bytes, batch_ready)``.
    ``update_load(queue_sizes)`` feeds the queue length per partition (with a leader) for adaptive weighting.
    """

    def __init__(self, num_partitions: int, sticky_batch_size: int, rng: random.Random,
                 adaptive: bool = True) -> None:
        if sticky_batch_size < 1:
            raise ValueError(f"sticky_batch_size (batch.size) must be >= 1, got {sticky_batch_size}")
        if num_partitions < 1:
            raise ValueError(f"num_partitions must be >= 1, got {num_partitions}")
        self.num_partitions = num_partitions
        self.sticky_batch_size = sticky_batch_size
        self.rng = rng
        self.adaptive = adaptive
        self._partition: int | None = None
        self._produced_bytes = 0
        self._cft: list[int] | None = None          # cumulative frequency table
        self._cft_ids: list[int] = []
        self.switches = 0

    def _random_int(self) -> int:
        return self.rng.getrandbits(31)  # Utils.toPositive(nextInt()): uniform over [0, 2^31)

    def _next_partition(self, available: Sequence[int]) -> int:
        r = self._random_int()
        if self._cft is None:
            if available:
                return available[r % len(available)]
            return r % self.num_partitions
        weighted = r % self._cft[-1]
        return self._cft_ids[bisect.bisect_right(self._cft, weighted)]

    def current(self, available: Sequence[int] = ()) -> int:
        """The sticky partition (chosen now if there is none). ``available``: partitions that have a leader."""
        if self._partition is None:
            self._partition = self._next_partition(available)
            self._produced_bytes = 0
        return self._partition

    def on_append(self, appended_bytes: int, batch_ready: bool = True) -> None:
        """Count bytes produced to the sticky partition; switch after ``batch.size`` (when the batch is ready to
        send) or unconditionally after twice that. The next partition is drawn by the next :meth:`current`, with
        the availability known then."""
        if self._partition is None:
            return
        self._produced_bytes += appended_bytes
        produced = self._produced_bytes
        if (produced >= self.sticky_batch_size and batch_ready) or produced >= 2 * self.sticky_batch_size:
            self._partition = None
            self.switches += 1

    def update_load(self, queue_sizes: dict[int, int]) -> None:
        """Queue length (batches waiting) per partition with a leader; None-equivalent when equal or too few."""
        if not self.adaptive or self.num_partitions < 2 or not queue_sizes:
            self._cft = None
            return
        ids = sorted(queue_sizes)
        sizes = [queue_sizes[p] for p in ids]
        if len(set(sizes)) == 1 and len(ids) == self.num_partitions:
            self._cft = None
            return
        top = max(sizes) + 1
        running = 0
        cft = []
        for size in sizes:
            running += top - size
            cft.append(running)
        self._cft = cft
        self._cft_ids = ids

"""Kafka's partitioning: murmur2 against Kafka's UtilsTest vectors and a Java-semantics reference; sticky switching."""
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.clients import StickyPartitioner, murmur2, partition_for_key, to_positive


@pytest.mark.parametrize("key, expected", [
    ("21", -973932308), ("foobar", -790332482), ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
])
def test_murmur2_matches_kafka_utils_test_vectors(key, expected):
    assert murmur2(key.encode()) == expected


def java_int(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def reference_murmur2(data: bytes) -> int:
    """A line-by-line transcription of the Java algorithm with Java's signed ints and >>> (a dumb reference)."""
    def ushr(x, n):
        return (x & 0xFFFFFFFF) >> n

    seed, m, r = java_int(0x9747B28C), 0x5BD1E995, 24
    length = len(data)
    signed = [b - 256 if b > 127 else b for b in data]   # Java bytes are signed
    h = java_int(seed ^ length)
    for i in range(length // 4):
        i4 = i * 4
        k = java_int((signed[i4] & 0xFF) + ((signed[i4 + 1] & 0xFF) << 8) + ((signed[i4 + 2] & 0xFF) << 16)
                     + ((signed[i4 + 3] & 0xFF) << 24))
        k = java_int(k * m)
        k = java_int(k ^ ushr(k, r))
        k = java_int(k * m)
        h = java_int(h * m)
        h = java_int(h ^ k)
    rest = length % 4
    base = length & ~3
    if rest >= 3:
        h = java_int(h ^ ((signed[base + 2] & 0xFF) << 16))
    if rest >= 2:
        h = java_int(h ^ ((signed[base + 1] & 0xFF) << 8))
    if rest >= 1:
        h = java_int(h ^ (signed[base] & 0xFF))
        h = java_int(h * m)
    h = java_int(h ^ ushr(h, 13))
    h = java_int(h * m)
    return java_int(h ^ ushr(h, 15))


@given(st.binary(max_size=64))
def test_murmur2_equals_java_semantics_reference(data):
    assert murmur2(data) == reference_murmur2(data)


def test_to_positive_is_not_abs():
    assert to_positive(-2**31) == 0 and to_positive(-1) == 2**31 - 1 and to_positive(5) == 5


def test_keyed_partition_is_stable_and_uses_all_partitions():
    assert partition_for_key(b"21", 6) == to_positive(-973932308) % 6
    counts = Counter(partition_for_key(f"key-{i}".encode(), 6) for i in range(6000))
    assert sorted(counts) == list(range(6)) and min(counts.values()) > 850


def test_keyed_partition_errors():
    with pytest.raises(ValueError, match="num_partitions must be >= 1, got 0"):
        partition_for_key(b"k", 0)
    with pytest.raises(TypeError, match=r"key must be bytes, got str; encode it first \(e.g. key.encode\('utf-8'\)\)"):
        partition_for_key("k", 3)  # type: ignore[arg-type]


def test_sticky_partitioner_switches_after_batch_size_when_ready_and_at_twice_regardless():
    sp = StickyPartitioner(6, sticky_batch_size=1000, rng=random.Random(1), adaptive=False)
    first = sp.current(range(6))
    sp.on_append(600, batch_ready=True)
    assert sp.current(range(6)) == first and sp.switches == 0
    sp.on_append(600, batch_ready=False)          # 1200 >= batch.size but the batch is not ready: stay
    assert sp.switches == 0
    sp.on_append(800, batch_ready=False)          # 2000 >= 2 x batch.size: switch anyway
    assert sp.switches == 1
    sp.current(range(6))
    sp.on_append(1000, batch_ready=True)
    assert sp.switches == 2


def test_sticky_partitioner_prefers_available_partitions_and_short_queues():
    sp = StickyPartitioner(4, 1, random.Random(7), adaptive=True)
    picks = Counter()
    for _ in range(2000):
        picks[sp.current([1, 3])] += 1
        sp.on_append(1)
    assert set(picks) == {1, 3}
    sp.update_load({0: 9, 1: 0, 2: 9, 3: 9})     # partition 1's queue is empty: weights 10, 1, 1, 1 of 13
    weighted = Counter()
    for _ in range(13000):
        weighted[sp.current()] += 1
        sp.on_append(1)
    assert weighted[1] / 13000 == pytest.approx(10 / 13, abs=0.02)
    sp.update_load({0: 2, 1: 2, 2: 2, 3: 2})     # all equal: uniform again
    assert sp._cft is None


def test_sticky_partitioner_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"sticky_batch_size \(batch.size\) must be >= 1, got 0"):
        StickyPartitioner(3, 0, random.Random())

"""Which __consumer_offsets partition coordinates a group: abs(Java String.hashCode(group.id)) % 50 (KAFKA.md 5)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.common.utils import java_string_hash
from kafkalab.groups.hashing import partition_for


def test_my_group_lives_in_partition_12():
    assert partition_for("my-group") == 12
    assert partition_for("my-group", 50) == 12


def test_java_string_hash_matches_java_including_overflow_and_surrogate_pairs():
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322                # "hello".hashCode()
    assert java_string_hash("polygenelubricants") == -(1 << 31)  # Integer.MIN_VALUE
    assert java_string_hash("\N{GRINNING FACE}") == 1772899     # two UTF-16 code units: 0xD83D, 0xDE00


def test_abs_of_min_int_is_zero_as_in_kafka_utils_abs():
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("polygenelubricants", 7) == 0


@given(st.text(max_size=40))
def test_the_hash_is_java_s_polynomial_in_int32(s):
    units = s.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (h * 31 + int.from_bytes(units[i:i + 2], "big")) % (1 << 32)
    assert java_string_hash(s) == (h - (1 << 32) if h >= 1 << 31 else h)
    assert 0 <= partition_for(s) < 50


def test_bad_inputs_say_what_is_allowed():
    with pytest.raises(TypeError, match="group.id must be a str, got int"):
        partition_for(12)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="offsets.topic.num.partitions must be >= 1, got 0"):
        partition_for("g", 0)

"""LeaderEpochCache against the cases of Kafka's LeaderEpochFileCache (assign, endOffsetFor, truncation)."""
import pytest

from kafkalab.log import UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, LeaderEpochCache


def cache(*entries):
    c = LeaderEpochCache()
    for epoch, start in entries:
        c.assign(epoch, start)
    return c


def test_assign_ignores_same_epoch_at_a_later_offset():
    c = cache((1, 0))
    assert not c.assign(1, 5)
    assert c.entries() == [(1, 0)]


def test_assign_removes_non_monotonic_entries():
    c = cache((1, 0), (2, 5), (3, 8))
    assert c.assign(2, 6)   # epoch 2 again, later: 2 and 3 are dropped
    assert c.entries() == [(1, 0), (2, 6)]
    assert c.assign(4, 3)   # a lower start offset drops every entry starting at or after it
    assert c.entries() == [(1, 0), (4, 3)]
    assert c.assign(4, 2)   # same epoch, earlier start: replaced
    assert c.entries() == [(1, 0), (4, 2)]


def test_assign_rejects_negative_entries():
    with pytest.raises(ValueError, match=r"invalid leader epoch entry \(epoch=-1, start_offset=0\)"):
        LeaderEpochCache().assign(-1, 0)


def test_end_offset_for_cases():
    c = cache((2, 10), (4, 20), (6, 30))
    assert c.end_offset_for(UNDEFINED_EPOCH, 40) == (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
    assert c.end_offset_for(6, 40) == (6, 40)
    assert c.end_offset_for(7, 40) == (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
    assert c.end_offset_for(1, 40) == (1, 10)
    assert c.end_offset_for(2, 40) == (2, 20)
    assert c.end_offset_for(3, 40) == (2, 20)
    assert c.end_offset_for(5, 40) == (4, 30)
    assert LeaderEpochCache().end_offset_for(0, 5) == (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)


def test_truncate_from_end_and_start():
    c = cache((2, 10), (4, 20), (6, 30))
    c.truncate_from_end(20)
    assert c.entries() == [(2, 10)]
    c = cache((2, 10), (4, 20), (6, 30))
    c.truncate_from_start(25)
    assert c.entries() == [(4, 25), (6, 30)]
    c.truncate_from_start(30)
    assert c.entries() == [(6, 30)]
    c.truncate_from_start(5)
    assert c.entries() == [(6, 30)]


def test_epoch_for_offset_and_lookups():
    c = cache((2, 10), (4, 20))
    assert [c.epoch_for_offset(o) for o in (5, 10, 19, 20, 99)] == [None, 2, 2, 4, 4]
    assert (c.start_offset(4), c.start_offset(3), c.latest_epoch, len(c)) == (20, None, 4, 2)
    c.clear()
    assert c.latest_epoch is None

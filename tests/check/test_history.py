"""The history's fast paths for producers (invoke_send, ok_sends) record exactly what the general ones do, and its
sealed chunks and open-send bookkeeping keep every event in order and every open operation findable."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.check import history as history_module
from kafkalab.check.history import History


def test_invoke_send_and_ok_sends_record_what_invoke_and_ok_record():
    fast, slow = History(), History()
    rows = [(b"k0", b"v0", 1, ()), (b"k1", b"v1", 1, ()), (None, b"v2", 1, ())]
    fast_ops = [fast.invoke_send(1.0, "producer-1", "t", key, value) for key, value, _, _ in rows]
    slow_ops = [slow.invoke(1.0, "producer-1", "send", topic="t", key=key, value=value) for key, value, _, _ in rows]
    fast.ok_sends(fast_ops, 7.5, "producer-1", "t", 2, rows, 40)
    for i, op in enumerate(slow_ops):
        slow.ok(op, 7.5, partition=2, offset=40 + i)
    assert list(fast.ops) == list(slow.ops)
    assert [op.offset for op in fast.ops if op.type == "ok"] == [40, 41, 42]
    assert fast.open_ops == []


def test_ok_sends_with_unknown_offsets_and_ops_invoked_the_general_way():
    h = History()
    general = h.invoke(0.0, "p", "send", topic="t", key=b"a", value=b"1")
    fast = h.invoke_send(0.0, "p", "t", b"b", b"2")
    h.ok_sends([general, fast], 3.0, "p", "t", 0, [(b"a", b"1", 0, ()), (b"b", b"2", 0, ())], -1)
    oks = [op for op in h.ops if op.type == "ok"]
    assert [(op.op, op.key, op.value, op.offset) for op in oks] == [(general, b"a", b"1", -1), (fast, b"b", b"2", -1)]


def test_fast_sends_fail_info_and_close_like_any_operation_and_complete_once():
    h = History()
    a, b, c = (h.invoke_send(1.0, "p", "t", None, f"v{i}".encode()) for i in range(3))
    poll = h.invoke(2.0, "c", "poll")
    h.fail(a, 3.0, error="NOT_ENOUGH_REPLICAS")
    assert [op.op for op in h.open_ops] == [b, c, poll]
    assert h.close_open(9.0) == 3
    infos = [op for op in h.ops if op.type == "info"]
    assert [(op.op, op.f, op.value) for op in infos] == [(b, "send", b"v1"), (c, "send", b"v2"), (poll, "poll", None)]
    with pytest.raises(ValueError, match=f"operation {a} cannot complete: it was already completed"):
        h.ok_sends([a], 10.0, "p", "t", 0, [(None, b"v0", 0, ())], 5)
    with pytest.raises(ValueError, match="operation 99 cannot complete: it was never invoked"):
        h.ok_send(99, 10.0, 0, 1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=3)), min_size=1, max_size=300))
def test_rows_stay_in_order_and_open_sends_stay_findable_across_sealed_chunks(steps):
    chunk = history_module._CHUNK
    history_module._CHUNK = 7          # seal often
    try:
        h = History()
        open_ops: list[int] = []
        expected = []
        for i, (fast, completes) in enumerate(steps):
            op = h.invoke_send(float(i), "p", "t", None, str(i).encode()) if fast else \
                h.invoke(float(i), "p", "send", topic="t", value=str(i).encode())
            open_ops.append(op)
            expected.append((op, "invoke"))
            for _ in range(min(completes, len(open_ops))):
                done = open_ops.pop(0)
                h.ok_send(done, float(i), 0, done)
                expected.append((done, "ok"))
        assert [(op.op, op.type) for op in h.ops] == expected
        assert [op.op for op in h.open_ops] == sorted(open_ops)
        assert all(op.value == str(op.op).encode() for op in h.ops)
        assert len(h) == len(expected)
    finally:
        history_module._CHUNK = chunk


def test_a_whole_batch_read_is_stored_as_one_entry_and_read_back_record_by_record():
    h = History()
    op = h.invoke(0.0, "consumer-1", "poll")
    rows = ((b"k0", b"v0", 5, ()), (None, b"v1", 5, ()))
    h.ok(op, 1.0, reads=(("t", 3, 10, rows), ("t", 1, 7, b"k", b"x")))
    assert h.ops[-1].reads == (("t", 3, 10, b"k0", b"v0"), ("t", 3, 11, None, b"v1"), ("t", 1, 7, b"k", b"x"))
    frame = h.to_frame()
    assert list(frame[frame["type"] == "ok"]["offset"]) == [10, 11, 7]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=120))
def test_batch_acknowledgements_read_back_as_one_ok_per_record_in_order_across_chunks(batch_sizes):
    chunk = history_module._CHUNK
    history_module._CHUNK = 5
    try:
        fast, slow = History(), History()
        offset = 0
        for b, size in enumerate(batch_sizes):
            rows = tuple((None, f"{b}-{i}".encode(), b, ()) for i in range(size))
            fast_ops = [fast.invoke_send(float(b), "p", "t", None, r[1]) for r in rows]
            slow_ops = [slow.invoke(float(b), "p", "send", topic="t", value=r[1]) for r in rows]
            poll = (fast.invoke(float(b), "c", "poll"), slow.invoke(float(b), "c", "poll"))
            fast.ok_sends(fast_ops, b + 0.5, "p", "t", 1, rows, offset if b % 3 else -1)
            for i, op in enumerate(slow_ops):
                slow.ok(op, b + 0.5, partition=1, offset=offset + i if b % 3 else -1)
            fast.ok(poll[0], b + 0.7)
            slow.ok(poll[1], b + 0.7)
            offset += size
        assert len(fast) == len(slow) == len(fast.ops)
        assert list(fast.ops) == list(slow.ops)
        assert fast.open_ops == [] and fast.close_open(1e9) == 0
    finally:
        history_module._CHUNK = chunk

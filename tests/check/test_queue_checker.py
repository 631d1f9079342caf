"""The queue checker finds each anomaly in a hand-written history, and passes a clean one."""
import pytest

from kafkalab.check import History, check_queue


def send(h, t, proc, value, partition=0, offset=None, outcome="ok", error=None, topic="t"):
    op = h.invoke(t, proc, "send", topic=topic, value=value)
    if outcome == "ok":
        h.ok(op, t + 1, partition=partition, offset=offset)
    elif outcome == "fail":
        h.fail(op, t + 1, error or "NOT_ENOUGH_REPLICAS")
    else:
        h.info(op, t + 1, error=error or "REQUEST_TIMED_OUT")
    return op


def poll(h, t, proc, *reads, topic="t", partition=0):
    op = h.invoke(t, proc, "poll")
    h.ok(op, t + 1, reads=tuple((topic, partition, off, None, val) for off, val in reads))


def test_clean_history_is_valid():
    h = History()
    for i in range(5):
        send(h, i, "p", f"v{i}", offset=i)
    poll(h, 10, "c", (0, "v0"), (1, "v1"))
    poll(h, 12, "c", (2, "v2"), (3, "v3"), (4, "v4"))
    result = check_queue(h)
    assert result.valid
    assert result.summary() == {"valid": True, "acknowledged": 5, "read": 5, "lost_write": 0, "unseen": 0,
                                "duplicate": 0, "inconsistent_offsets": 0, "failed_write_read": 0,
                                "nonmonotonic_send": 0, "nonmonotonic_poll": 0, "poll_skip": 0}


def test_acknowledged_write_below_the_read_frontier_but_never_read_is_lost():
    # acks=1 failover: offset 1 was acknowledged by the old leader, the new leader's offset 1 holds another value
    h = History()
    send(h, 0, "p", "a", offset=0)
    send(h, 1, "p", "lost", offset=1)
    send(h, 5, "p", "b", offset=1)
    poll(h, 10, "c", (0, "a"), (1, "b"))
    result = check_queue(h)
    assert not result.valid
    assert result.count("lost_write") == 1 and result.count("inconsistent_offsets") == 1
    lost = [a for a in result.anomalies if a.kind == "lost_write"][0]
    assert (lost.offset, lost.value, lost.process) == (1, "lost", "p")


def test_unread_writes_beyond_the_frontier_are_only_unseen():
    h = History()
    send(h, 0, "p", "a", offset=0)
    send(h, 1, "p", "b", offset=1)
    poll(h, 10, "c", (0, "a"))
    result = check_queue(h)
    assert result.valid and result.count("unseen") == 1


def test_duplicate_value_at_two_offsets():
    h = History()
    send(h, 0, "p", "x", offset=0)
    poll(h, 10, "c", (0, "x"), (1, "x"))
    result = check_queue(h)
    assert result.count("duplicate") == 1 and not result.valid


def test_failed_send_that_was_read():
    h = History()
    send(h, 0, "p", "ghost", outcome="fail", error="NOT_ENOUGH_REPLICAS")
    poll(h, 10, "c", (0, "ghost"))
    result = check_queue(h)
    assert result.count("failed_write_read") == 1
    assert "NOT_ENOUGH_REPLICAS" in result.to_frame().detail.iloc[0]


def test_unknown_outcome_send_may_or_may_not_appear():
    h = History()
    send(h, 0, "p", "maybe", outcome="info")
    send(h, 1, "p", "never", outcome="info")
    poll(h, 10, "c", (0, "maybe"))
    assert check_queue(h).valid


def test_nonmonotonic_send_and_poll_and_skip():
    h = History()
    send(h, 0, "p", "a", offset=5)
    send(h, 1, "p", "b", offset=3)               # acknowledged below an earlier ack of the same process
    send(h, 2, "q", "c", offset=4)
    poll(h, 10, "c", (3, "b"), (4, "c"))
    poll(h, 12, "c", (4, "c"))                   # repeats offset 4 without a seek
    poll(h, 14, "d", (3, "b"))
    poll(h, 16, "d", (5, "a"))                   # skips the known offset 4
    result = check_queue(h)
    assert result.count("nonmonotonic_send") == 1
    assert result.count("nonmonotonic_poll") == 1
    assert result.count("poll_skip") == 1


def test_a_seek_resets_poll_monotonicity():
    h = History()
    send(h, 0, "p", "a", offset=0)
    poll(h, 10, "c", (0, "a"))
    op = h.invoke(11, "c", "seek", offsets={("t", 0): 0})
    h.ok(op, 11)
    poll(h, 12, "c", (0, "a"))
    assert check_queue(h).valid


def test_history_frame_has_one_row_per_event_and_per_read_record():
    h = History()
    send(h, 0, "p", b"a", offset=0)
    poll(h, 5, "c", (0, b"a"), (1, b"b"))
    df = h.to_frame()
    assert list(df.columns) == ["time_ms", "process", "type", "f", "topic", "partition", "key", "value", "offset",
                                "error", "op"]
    assert df.type.tolist() == ["invoke", "ok", "invoke", "ok", "ok"]
    assert df.offset.tolist()[-2:] == [0, 1]


def test_history_error_paths():
    h = History()
    op = h.invoke(0, "p", "send", topic="t", value=b"x")
    h.ok(op, 1, partition=0, offset=0)
    with pytest.raises(ValueError, match="operation 0 cannot complete: it was already completed"):
        h.fail(op, 2, "UNKNOWN")
    with pytest.raises(ValueError, match="operation 7 cannot complete: it was never invoked"):
        h.ok(7, 2)
    with pytest.raises(ValueError, match="unknown anomaly kind 'lost'; kinds: lost_write, unseen"):
        check_queue(h).count("lost")


def test_close_open_marks_pending_operations_unknown():
    h = History()
    h.invoke(0, "p", "send", topic="t", value=b"x")
    assert h.close_open(9.0) == 1
    assert h.ops[-1].type == "info" and h.ops[-1].error == "process ended" and h.open_ops == []


def test_ops_is_a_live_view_that_grows_with_the_history():
    h = History()
    ops = h.ops
    assert len(ops) == 0
    op = h.invoke(0, "p", "send", topic="t", value=b"x")
    h.ok(op, 1, partition=0, offset=0)
    assert len(ops) == 2 and ops[-1].type == "ok" and [e.type for e in ops] == ["invoke", "ok"]
    assert ops[0:1][0].f == "send" and list(h) == list(ops)

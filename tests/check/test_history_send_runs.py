"""History.invoke_send stores consecutive sends as one send-run row (issue 14); reading it must give exactly the
events the generic ``invoke`` path gives, whatever is interleaved, read or completed in between."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.check.history import History

ACTIONS = st.lists(st.tuples(st.sampled_from(["send", "send", "send", "other", "ok", "read", "tick", "batch"]),
                             st.integers(0, 2), st.integers(0, 5)), max_size=300)


def replay(actions: list[tuple[str, int, int]], fast: bool) -> History:
    h = History()
    now = 0.0
    open_sends: list[int] = []
    sent: dict[int, tuple[str, bytes, bytes]] = {}
    procs = ["p0", "p1", "p2"]
    for kind, a, b in actions:
        if kind == "send":
            key, value = f"k{b}".encode(), f"v{len(open_sends)}".encode()
            if fast:
                op = h.invoke_send(now, procs[a], "t", key, value)
            else:
                op = h.invoke(now, procs[a], "send", topic="t", key=key, value=value)
            open_sends.append(op)
            sent[op] = (procs[a], key, value)
        elif kind == "other":
            h.ok(h.invoke(now, procs[a], "poll", reads=()), now)
        elif kind == "ok" and open_sends:
            h.ok(open_sends.pop(b % len(open_sends)), now, partition=a, offset=b)
        elif kind == "batch" and open_sends and fast:
            # ok_sends completes an open invoke_send operation as a batch-ok row (only the fast side records so)
            op = open_sends.pop(0)
            proc, key, value = sent[op]
            h.ok_sends([op], now, proc, "t", a, [(key, value)], b)
        elif kind == "batch" and open_sends:
            h.ok(open_sends.pop(0), now, partition=a, offset=b)
        elif kind == "read":
            list(h.ops)
        elif kind == "tick":
            now += 1.0
    return h


def test_a_burst_of_sends_reads_as_one_invoke_event_each() -> None:
    h = History()
    ops = [h.invoke_send(5.0, "producer-1", "t", b"k", f"v{i}".encode()) for i in range(10)]
    assert len(h) == 10
    assert [e.op for e in h.ops] == ops
    assert [e.value for e in h.ops] == [f"v{i}".encode() for i in range(10)]
    assert {(e.type, e.f, e.topic, e.time_ms, e.process) for e in h.ops} == {("invoke", "send", "t", 5.0, "producer-1")}
    h.ok_send(ops[3], 7.0, 0, 42)
    assert h.ops[-1].value == b"v3" and h.ops[-1].offset == 42
    assert [e.op for e in h.open_ops] == ops[:3] + ops[4:]


@settings(max_examples=60, deadline=None)
@given(ACTIONS)
def test_send_runs_read_exactly_as_separate_invokes(actions: list[tuple[str, int, int]]) -> None:
    fast, slow = replay(actions, True), replay(actions, False)
    assert len(fast) == len(slow)
    assert list(fast.ops) == list(slow.ops)
    assert fast.open_ops == slow.open_ops
    assert fast.to_frame().equals(slow.to_frame())


SEGMENTS = st.lists(st.tuples(st.sampled_from(["sends", "sends", "other", "tick", "ok"]), st.integers(0, 2),
                              st.integers(0, 12)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(SEGMENTS, st.sampled_from([3, 5, 4096]))
def test_invoke_sends_gives_the_rows_and_ids_of_the_loop_of_invoke_send(segments, chunk):
    """``invoke_sends`` (a producer's ``send_many``) equals the loop of ``invoke_send``: the same ids, events and
    completions, including when the history seals a chunk inside the run."""
    import kafkalab.check.history as module

    def replay_segments(bulk: bool) -> tuple[list[tuple[object, ...]], list[int]]:
        h = History()
        now = 0.0
        ids: list[int] = []
        for kind, proc, n in segments:
            p = f"p{proc}"
            if kind == "sends":
                keys = [f"k{i}".encode() for i in range(n)]
                values = [f"v{len(ids) + i}".encode() for i in range(n)]
                if bulk:
                    first = h.invoke_sends(now, p, "t", keys, values)
                    assert first == (ids[-1] + 1 if ids else first)
                    ids += range(first, first + n)
                else:
                    ids += [h.invoke_send(now, p, "t", k, v) for k, v in zip(keys, values, strict=True)]
            elif kind == "other":
                ids.append(h.invoke(now, p, "poll"))
            elif kind == "tick":
                now += 1.0
            elif kind == "ok" and ids:
                try:
                    h.ok(ids[n % len(ids)], now, partition=proc, offset=n)
                except ValueError:
                    pass             # completed already: both sides refuse it the same way
        return [tuple(op) for op in h], ids

    saved = module._CHUNK
    module._CHUNK = chunk
    try:
        assert replay_segments(True) == replay_segments(False)
    finally:
        module._CHUNK = saved


def test_sealed_send_runs_hold_tuples_the_collector_stops_tracking():
    import gc

    from kafkalab.check import history as hmod

    h = History()
    for t in range(2 * hmod._CHUNK + 10):                 # a new virtual time per send: a send-run row each
        h.invoke_send(float(t), "p", "t", b"k%d" % (t % 3), b"v")
    gc.collect()
    gc.collect()        # a tuple is untracked once what it holds is: the rows in the collection after their keys
    sealed_runs = [row for chunk in h._sealed for row in chunk if row[0] is hmod._SEND_RUN]
    assert len(sealed_runs) >= 2 * hmod._CHUNK
    assert all(type(row[5]) is tuple and not gc.is_tracked(row[5]) and not gc.is_tracked(row) for row in sealed_runs)
    assert [op.value for op in h.open_ops[:2]] == [b"v", b"v"] and len(h.open_ops) == len(h)

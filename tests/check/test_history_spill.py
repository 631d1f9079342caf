"""A history that spills its older events to Parquet reads back exactly as one kept in memory: the same events, the
same frame, the same checker verdicts, the same open operations; its files are deterministic; bad options are
refused at the call."""
from __future__ import annotations

import gc
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.check import History, HistorySpill, analyze, check_queue
from kafkalab.check import history as hmod
from kafkalab.sim import FaultOptions, Nemesis, Tracer

FAULTS = FaultOptions(mean_interval_ms=3_000, min_duration_ms=1_000, max_duration_ms=8_000,
                      kinds=(("crash", 1.0), ("isolate", 1.0), ("partition", 1.0)))


def faulty_run(seed: int, spill: HistorySpill | None) -> tuple[kl.Cluster, Tracer]:
    """acks=1 producers and a consumer group under random crashes and partitions: lost writes, retries, timeouts,
    polls, commits, and operations still open at the end."""
    cluster = kl.Cluster(seed=seed, history_spill=spill)
    tracer = Tracer(cluster.kernel)
    cluster.create_topic("t", partitions=2, replication_factor=3)
    producer = cluster.producer({"acks": "1", "linger.ms": 2, "delivery.timeout.ms": 20_000,
                                 "request.timeout.ms": 3_000})
    consumer = cluster.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["t"])
    Nemesis(cluster).random(20_000, cluster.brokers, FAULTS)
    for i in range(40):
        producer.send_many("t", [f"v{i}-{j}".encode() for j in range(5)], [f"k{j}".encode() for j in range(5)])
        producer.send("t", value=f"one-{i}", key=None)
        consumer.poll(200)
        if i % 10 == 9:
            consumer.commit()
        cluster.run(300)
    cluster.heal()
    for node in cluster.brokers:
        if not cluster.is_alive(node):
            cluster.restart(node)
    for _ in range(20):
        consumer.poll(300)
    producer.send("t", value=b"in flight at the end")
    return cluster, tracer


def test_a_faulty_run_reads_the_same_with_and_without_spilling(tmp_path):
    kept, kept_trace = faulty_run(5, None)
    spilled, spilled_trace = faulty_run(5, HistorySpill(dir=tmp_path / "spill", max_events=60))
    h, s = kept.history, spilled.history
    assert len(s) == len(h) > 500
    assert sorted(p.name for p in (tmp_path / "spill").iterdir())[:2] == ["history-000000.parquet",
                                                                          "history-000001.parquet"]
    assert s._spilled_events > len(s) - 60 - 4096   # almost everything went to disk
    assert list(s.ops) == list(h.ops)
    assert s.open_ops == h.open_ops and s.open_ops      # the last send is still open
    assert s.ops[-1] == h.ops[-1] and s.ops[3] == h.ops[3] and s.ops[-7:] == h.ops[-7:]
    assert s.ops[5:400:7] == h.ops[5:400:7]
    pd.testing.assert_frame_equal(s.to_frame(), h.to_frame())
    a, b = analyze(h), analyze(s)
    assert a.verdict == b.verdict and a.counts == b.counts and a.anomalies.equals(b.anomalies)
    assert check_queue(h) == check_queue(s)
    # the run itself did not change: spilling only moves what the history already recorded
    assert spilled_trace.digest() == kept_trace.digest() and kept_trace.count > 1000
    # the still-open send completes from memory although its neighbours went to disk
    n = s.close_open(spilled.now)
    assert n == h.close_open(kept.now) > 0
    assert list(s.ops) == list(h.ops)
    path = s.save(tmp_path / "saved.parquet")
    assert list(History.load(path).ops) == list(h.ops)


def test_spill_files_are_deterministic(tmp_path):
    for name in ("a", "b"):
        faulty_run(2, HistorySpill(dir=tmp_path / name, max_events=50))
    a = sorted((tmp_path / "a").iterdir())
    b = sorted((tmp_path / "b").iterdir())
    assert [p.name for p in a] == [p.name for p in b] and len(a) >= 3
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))


def test_a_temporary_spill_directory_goes_when_the_history_is_closed_or_collected():
    h = History(spill=HistorySpill(max_events=2))
    for i in range(10):
        h.ok(h.invoke(float(i), "p", "send", topic="t", value=b"x"), float(i) + 0.5, partition=0, offset=i)
    where = h.spill_dir
    assert where is not None and any(where.iterdir())
    h.close()
    assert not where.exists()
    with pytest.raises(ValueError, match="this history was closed: its spilled events in .* are gone"):
        list(h.ops)
    h = History(spill=HistorySpill(max_events=1))
    for i in range(5):
        h.invoke(float(i), "p", "poll")
    where = h.spill_dir
    assert where is not None and where.exists()
    del h
    gc.collect()
    assert not where.exists()


def test_a_named_spill_directory_is_kept(tmp_path):
    h = History(spill=HistorySpill(dir=str(tmp_path / "d"), max_events=1))
    h.invoke(0.0, "p", "poll")
    h.invoke(1.0, "p", "poll")
    h.close()
    assert (tmp_path / "d" / "history-000000.parquet").exists()


def test_bad_spill_options_are_refused_at_the_call(tmp_path):
    with pytest.raises(TypeError, match=r"HistorySpill dir must be a str, a pathlib.Path or None \(a temporary "
                                        r"directory\), got int"):
        HistorySpill(dir=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"HistorySpill max_events must be an int \(events kept in memory\), got str"):
        HistorySpill(max_events="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="HistorySpill max_events must be an int .*got bool"):
        HistorySpill(max_events=True)
    with pytest.raises(ValueError, match="HistorySpill max_events must be >= 1, got 0"):
        HistorySpill(max_events=0)
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError, match=f"HistorySpill dir '{afile}' is a file, not a directory"):
        History(spill=HistorySpill(dir=afile))
    used = tmp_path / "used"
    h = History(spill=HistorySpill(dir=used, max_events=1))
    h.invoke(0.0, "p", "poll")
    h.invoke(0.0, "p", "poll")
    with pytest.raises(FileExistsError, match=f"HistorySpill dir '{used}' already holds spill files "
                                              r"\(history-000000.parquet ...\): name an empty directory"):
        History(spill=HistorySpill(dir=used))
    with pytest.raises(TypeError, match="spill must be a kl.check.HistorySpill or None, got str"):
        History(spill="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"history_spill must be a kl.check.HistorySpill \(or None: keep the whole "
                                        r"history in memory\), got dict"):
        kl.Cluster(brokers=1, controllers=1, history_spill={"max_events": 5})  # type: ignore[arg-type]


# -- property: spilling at any size gives the same history --------------------------------------------------------

PROCS = ["p1", "p2", 7]
KEYS = [None, b"a", b"b", "s", 3]
action = st.one_of(
    st.tuples(st.just("invoke"), st.sampled_from(PROCS), st.sampled_from(["poll", "commit", "assign"])),
    st.tuples(st.just("send"), st.sampled_from(PROCS), st.sampled_from(["t", "u"]), st.sampled_from(KEYS)),
    st.tuples(st.just("sends"), st.sampled_from(PROCS), st.integers(1, 6)),
    st.tuples(st.just("ok_batch"), st.integers(0, 6), st.integers(-1, 100)),
    st.tuples(st.just("complete"), st.integers(0, 30), st.sampled_from(["ok", "fail", "info"])),
    st.tuples(st.just("read"), st.integers(-50, 50)),
    st.tuples(st.just("tick"), st.sampled_from([0.0, 0.5, 2.0])),
)


def replay(h: History, actions: list[tuple[Any, ...]], other: History | None = None) -> list[Any]:
    """Apply ``actions`` to ``h``; what each read saw."""
    now, open_generic, open_sends, seen = 0.0, [], [], []
    for a in actions:
        kind = a[0]
        if kind == "tick":
            now += a[1]
        elif kind == "invoke":
            open_generic.append(h.invoke(now, a[1], a[2]))
        elif kind == "send":
            open_sends.append((h.invoke_send(now, a[1], a[2], a[3], b"v%d" % len(h)), a[1], a[2]))
        elif kind == "sends":
            first = h.invoke_sends(now, a[1], "t", [b"k"] * a[2], [b"w%d" % i for i in range(a[2])])
            open_sends.extend((first + i, a[1], "t") for i in range(a[2]))
        elif kind == "ok_batch" and open_sends:
            _, process, topic = open_sends[0]
            batch = [s for s in open_sends if s[1:] == (process, topic)][:max(1, a[1])]
            for s in batch:
                open_sends.remove(s)
            ids = [s[0] for s in batch]
            h.ok_sends(ids, now, process, topic, 1, [(b"k", b"r%d" % i, None) for i in ids], a[2])
        elif kind == "complete":
            pool = open_generic + [s[0] for s in open_sends]
            if not pool:
                continue
            op_id = sorted(pool)[a[1] % len(pool)]
            if op_id in open_generic:
                open_generic.remove(op_id)
            else:
                open_sends[:] = [s for s in open_sends if s[0] != op_id]
            if a[2] == "ok":
                h.ok(op_id, now, reads=(("t", 0, 4, (("k", b"x", 1), (None, b"y", 2))), ("t", 1, 9, b"z", None)),
                     offsets={("t", 0): 6})
            elif a[2] == "fail":
                h.fail(op_id, now, "NOT_LEADER_OR_FOLLOWER")
            else:
                h.info(op_id, now)
        elif kind == "read" and len(h):
            seen.append(h.ops[a[1] % len(h)])
    return seen


@settings(max_examples=120, deadline=None)
@given(st.lists(action, max_size=60), st.integers(1, 40), st.integers(1, 8))
def test_spilling_at_any_size_gives_the_same_history(actions, max_events, events_per_file):
    plain = History()
    spilled = History(spill=HistorySpill(max_events=max_events))
    with mock.patch.object(hmod, "_SPILL_SLICE", events_per_file):
        check_the_same(actions, plain, spilled)


def check_the_same(actions: list[Any], plain: History, spilled: History) -> None:
    try:
        assert replay(spilled, actions) == replay(plain, actions)
        assert len(spilled) == len(plain)
        assert list(spilled.ops) == list(plain.ops)
        assert spilled.open_ops == plain.open_ops
        n = len(plain)
        for i in (0, n // 2, n - 1, -1):
            if n:
                assert spilled.ops[i] == plain.ops[i]
        assert spilled.ops[1::3] == plain.ops[1::3] and spilled.ops[-5:] == plain.ops[-5:]
        pd.testing.assert_frame_equal(spilled.to_frame(), plain.to_frame())
        # the still-open operations complete from memory
        assert spilled.close_open(99.0) == plain.close_open(99.0)
        assert list(spilled.ops) == list(plain.ops)
    finally:
        spilled.close()


def test_spilled_columns_keep_python_types(tmp_path):
    """Mixed-type columns are stored serialized and come back with their types (1 stays an int, True a bool)."""
    plain, spilled = History(), History(spill=HistorySpill(dir=Path(tmp_path), max_events=1))
    for h in (plain, spilled):
        for i, (process, key) in enumerate([("p", True), (1, 1), (2.5, 1.0), (("a", 1), b"k"), ("p", "k")]):
            h.ok(h.invoke(i, process, "send", topic="t", key=key, value=None), i + 1, partition=0, offset=2**70)
    assert [(type(e.time_ms), type(e.process), type(e.key), e.key) for e in spilled.ops] == \
           [(type(e.time_ms), type(e.process), type(e.key), e.key) for e in plain.ops]
    assert list(spilled.ops) == list(plain.ops)

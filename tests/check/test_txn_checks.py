"""Transactional histories (the shared txn spec): aborted, torn and precommitted reads, and dependency cycles."""
from kafkalab.check import History, analyze
from tests.check.builders import poll, send, txn


def test_committed_transactions_read_whole_and_in_order_are_valid():
    h = History()
    txn(h, 0, "tp", [("t", 0, 0, "a0"), ("t", 1, 0, "a1")])                 # markers take offsets 1 of each
    txn(h, 10, "tp", [("t", 0, 2, "b0"), ("t", 1, 2, "b1")])
    poll(h, 30, "c", ("t", 0, 0, "a0"), ("t", 1, 0, "a1"), ("t", 0, 2, "b0"), ("t", 1, 2, "b1"))
    report = analyze(h, read_committed=True)
    assert report.verdict == "valid", report.anomalies
    assert report.counts["transactions"] == 2 and report.counts["read_committed_processes"] == 1


def test_aborted_writes_are_never_owed_and_read_committed_readers_step_over_them():
    h = History()
    txn(h, 0, "tp", [("t", 0, 0, "a")], outcome="fail")
    send(h, 10, "p", "b", offset=2)
    poll(h, 30, "c", (2, "b"))
    poll(h, 30, "rc", (2, "b"))
    report = analyze(h, read_committed=["rc"])
    assert report.verdict == "valid" and report.count("lost_write") == 0


def test_aborted_read_only_for_read_committed_processes():
    h = History()
    aborted = txn(h, 0, "tp", [("t", 0, 0, "a")], outcome="fail")
    reader = poll(h, 30, "rc", (0, "a"))
    poll(h, 30, "ru", (0, "a"))
    report = analyze(h, read_committed={"rc"})
    rows = report.of("aborted_read")
    assert len(rows) == 1 and rows.process.iloc[0] == "rc" and rows.ops.iloc[0] == (aborted, reader)
    assert report.verdict == "invalid"
    assert analyze(h, read_committed=False).count("aborted_read") == 0


def test_torn_transaction_a_reader_steps_over_part_of_a_committed_transaction():
    h = History()
    t1 = txn(h, 0, "tp", [("t", 0, 0, "x"), ("t", 0, 1, "y")])
    send(h, 10, "p", "z", offset=3)
    poll(h, 30, "rc", (0, "x"))
    poll(h, 32, "rc", (3, "z"))                  # read x, then jumped over y at offset 1
    report = analyze(h, read_committed=True)
    torn = report.of("torn_transaction")
    assert len(torn) == 1 and (torn.value.iloc[0], torn.offset.iloc[0]) == ("y", 1) and torn.ops.iloc[0][0] == t1
    assert report.verdict == "invalid"


def test_precommitted_read_a_record_returned_before_its_transaction_could_commit():
    h = History()
    txn(h, 0, "tp", [("t", 0, 0, "x")], send_acked_at=50)
    poll(h, 20, "rc", (0, "x"))                  # completes at 21 < 50
    report = analyze(h, read_committed=True)
    assert report.count("precommitted_read") == 1 and "before the transaction's last send" in \
        report.of("precommitted_read").detail.iloc[0]
    assert analyze(h, read_committed=False).count("precommitted_read") == 0


def test_write_cycle_g0_is_reported_but_allowed_as_kafka_permits_it():
    # T1 and T2 both write partitions 0 and 1, in opposite orders: ww T1->T2 on p0, T2->T1 on p1
    h = History()
    t1 = txn(h, 0, "p1", [("t", 0, 0, "a0"), ("t", 1, 1, "a1")], tid="tx-1")
    t2 = txn(h, 0, "p2", [("t", 0, 1, "b0"), ("t", 1, 0, "b1")], tid="tx-2")
    poll(h, 30, "c", ("t", 0, 0, "a0"), ("t", 0, 1, "b0"), ("t", 1, 0, "b1"), ("t", 1, 1, "a1"))
    report = analyze(h)
    assert report.count("G0") == 1 and report.verdict == "valid"
    assert sorted(report.of("G0").ops.iloc[0]) == sorted([t1, t2])
    assert {rel for _, _, rel in report.cycles[0]} == {"ww"}
    assert analyze(h, allowed=("unseen",)).verdict == "invalid"
    assert "<img src='data:image/png;base64," in report._repr_html_()


def test_circular_information_flow_g1c_through_consumed_offsets():
    # T1 writes x to "in" and consumes "out" up to T2's y; T2 writes y to "out" and consumes "in" up to T1's x
    h = History()
    t1 = txn(h, 0, "p1", [("in", 0, 0, "x")], offsets={("out", 0): 1}, tid="tx-1", group="g")
    t2 = txn(h, 0, "p2", [("out", 0, 0, "y")], offsets={("in", 0): 1}, tid="tx-2", group="g")
    poll(h, 30, "c", ("in", 0, 0, "x"), ("out", 0, 0, "y"))
    report = analyze(h, read_committed=True)
    assert report.count("G1c") == 1 and report.verdict == "invalid"
    cycle = report.cycles[0]
    assert {(a, b, r) for a, b, r in cycle} == {(t1, t2, "wr"), (t2, t1, "wr")}


def test_read_skew_g_single_through_one_anti_dependency():
    # T1 writes p0 and p1; a read_committed poll sees T1 on p0 but the version before T1's on p1
    h = History()
    before = send(h, 0, "p", "old1", partition=1, offset=0)
    t1 = txn(h, 5, "tp", [("t", 0, 0, "n0"), ("t", 1, 1, "n1")])
    reader = poll(h, 30, "rc", ("t", 0, 0, "n0"), ("t", 1, 0, "old1"))
    poll(h, 40, "c", ("t", 1, 1, "n1"))
    report = analyze(h, read_committed=["rc"])
    assert report.count("G-single") == 1 and report.valid        # Kafka promises no atomic multi-partition reads
    cycle = {(a, b, r) for a, b, r in report.cycles[0]}
    assert cycle == {(t1, reader, "wr"), (reader, t1, "rw")}
    assert before not in {a for a, _, _ in report.cycles[0]}


def test_unknown_outcome_transactions_are_neither_owed_nor_skips():
    h = History()
    txn(h, 0, "tp", [("t", 0, 0, "maybe")], outcome="info")
    send(h, 10, "p", "b", offset=2)
    poll(h, 30, "rc", (2, "b"))
    assert analyze(h, read_committed=True).verdict == "valid"


def test_a_write_and_read_cycle_through_unisolated_writes_is_g1c_ww_and_allowed():
    # T1 appends to p0 first, T2 appends to p0 after it and writes p1, commits; T1 then consumes T2's p1 write
    # (T1 -ww-> T2 -wr-> T1): Kafka does not isolate writes, so this is legal (Jepsen allows G1c with ww edges)
    h = History()
    t1 = h.invoke_txn(0, "p1", "tx-1")
    s = h.invoke(1, "p1", "send", topic="t", value="a")
    h.ok(s, 2, partition=0, offset=0)
    t2 = txn(h, 3, "p2", [("t", 0, 1, "b"), ("t", 1, 0, "c")], tid="tx-2")
    poll(h, 10, "c1", ("t", 1, 0, "c"))
    h.complete_txn(t1, 20, "ok", [("t", 0, 0, None, "a")], {("t", 1): 1}, "g")
    report = analyze(h, read_committed=True)
    assert report.count("G1c-ww") == 1 and report.count("G1c") == 0 and report.verdict == "valid"
    assert {(a, b, r) for a, b, r in report.cycles[0]} == {(t1, t2, "ww"), (t2, t1, "wr")}
    assert analyze(h, read_committed=True, allowed=("unseen",)).verdict == "invalid"


def test_consumed_offsets_are_reads_only_for_transactions_judged_read_committed():
    # the G1c of test_circular_information_flow_g1c_through_consumed_offsets, judged by transactional id
    h = History()
    txn(h, 0, "p1", [("in", 0, 0, "x")], offsets={("out", 0): 1}, tid="tx-1", group="g")
    txn(h, 0, "p2", [("out", 0, 0, "y")], offsets={("in", 0): 1}, tid="tx-2", group="g")
    poll(h, 30, "c", ("in", 0, 0, "x"), ("out", 0, 0, "y"))
    assert analyze(h, read_committed=["tx-1", "tx-2"]).count("G1c") == 1
    assert analyze(h, read_committed=["p1", "p2"]).count("G1c") == 1           # or by producer process
    assert analyze(h, read_committed=["tx-1"]).count("G1c") == 0               # tx-2's consumer read uncommitted
    assert analyze(h, read_committed=False).verdict == "valid"


def test_a_transactions_sends_are_its_own_even_when_its_completion_does_not_list_them():
    # The producer records a write in the txn completion only while the transaction is live; a send acknowledged
    # after a fatal error, or in a transaction that never completed, is still the transaction's (by process)
    h = History()
    aborted = h.invoke_txn(0, "tp", "tx-1")
    s = h.invoke(1, "tp", "send", topic="t", value="late")
    h.ok(s, 5, partition=0, offset=0)
    h.complete_txn(aborted, 6, "fail", [], None, None, error="PRODUCER_FENCED")
    h.invoke_txn(10, "tp", "tx-1")                                     # never completes
    s = h.invoke(11, "tp", "send", topic="t", value="maybe")
    h.ok(s, 12, partition=0, offset=2)
    send(h, 20, "p", "plain", offset=4)
    reader = poll(h, 30, "rc", (0, "late"), (4, "plain"))
    poll(h, 30, "c", (4, "plain"))
    report = analyze(h, read_committed=["rc"])
    assert report.count("lost_write") == 0 and report.count("poll_skip") == 0         # "maybe" is not owed
    rows = report.of("aborted_read")
    assert rows.value.tolist() == ["late"] and rows.ops.iloc[0] == (aborted, reader)
    assert report.verdict == "invalid"


def test_kafka_17754s_shape_a_stuck_send_of_an_aborted_transaction_read_as_committed():
    # Jepsen 2024 / KAFKA-17754 under transaction version 1: transaction N's send is stuck on its connection, the
    # client gives it up (info, no offset, so N's completion does not list it) and aborts N; the late produce lands
    # inside N+1 and commits with it. The send was N's: a read_committed reader of it saw an aborted write.
    h = History()
    n = h.invoke_txn(0, "tp", "jepsen-0")
    a = h.invoke(1, "tp", "send", topic="t", value="t1-a")
    h.ok(a, 2, partition=1, offset=0)
    stuck = h.invoke(3, "tp", "send", topic="t", value="t1-b")
    h.info(stuck, 3_003, error="KafkaTimeoutError")
    h.complete_txn(n, 3_010, "fail", [("t", 1, 0, None, "t1-a")], None, None, error="TRANSACTION_ABORTED")
    txn(h, 3_020, "tp", [("t", 0, 1, "t2-a")], tid="jepsen-0")
    reader = poll(h, 9_000, "rc", (0, "t1-b"), (1, "t2-a"))
    report = analyze(h, read_committed=["rc"])
    rows = report.of("aborted_read")
    assert rows.value.tolist() == ["t1-b"] and rows.ops.iloc[0] == (n, reader)
    assert report.verdict == "invalid"

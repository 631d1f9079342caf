"""Jepsen's 2024 findings on Kafka's transaction protocol, as stories judged from the client history.

KAFKA-17754: under transaction version 1 a produce request of transaction N, stuck on its connection while the
application aborts N, reaches its leader after transaction N+1 added the partition; KIP-890 part 1's verify-only check
passes (same producer id, same epoch, the partition is in the ongoing transaction) and N's record is committed with
N+1: an aborted read, and N is torn. Version 2 refuses the same request with the same seed and the same faults.
KAFKA-17754's lost write: under version 1 a delayed EndTxn(abort) of transaction N, retried elsewhere after a
coordinator failover, reaches the old coordinator once it leads again and aborts N+1, which the application then
commits (its write to the first partition is lost); version 2's epoch bump fences the delayed EndTxn.
KAFKA-17582: an abort does not rewind the consumer; only a seek or a rebalance does.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import kafkalab as kl
from kafkalab.check.history import History
from kafkalab.experiments.exactly_once import judge_transactions, kafka_17754, kafka_17754_lost_write


def test_kafka_17754_under_version_1_a_delayed_produce_of_an_aborted_transaction_commits_with_the_next() -> None:
    r = kafka_17754(1)
    anomalies = r["anomalies"]
    assert list(anomalies["anomaly"]) == ["aborted-read", "torn-transaction"]
    assert list(anomalies["value"])[0] == b"t1-b"
    assert set(anomalies["outcome"]) == {"fail"}                # the transaction the application aborted
    assert r["stuck_error"] == "KafkaTimeoutError"              # the producer gave up on the stuck write
    log = r["log"]
    # N-1's data and marker, N's abort marker, then N's late record inside N+1, all at epoch 0
    assert list(log["kind"]) == ["data", "control", "control", "data", "data", "control"]
    assert list(log["values"])[3:5] == [[b"t1-b"], [b"t2-a"]]
    assert set(log["producer_epoch"]) == {0}
    ops = [op for op in r["cluster"].history.ops if op.f == "txn" and op.type != "invoke"]
    assert [op.type for op in ops] == ["ok", "fail", "ok"]
    stuck = [op for op in r["cluster"].history.ops if op.f == "send" and op.value == b"t1-b"]
    assert [op.type for op in stuck] == ["invoke", "info"]     # its outcome was unknown to the client


def test_version_2_refuses_the_same_delayed_produce_with_the_same_seed_and_faults() -> None:
    r = kafka_17754(2)
    assert r["anomalies"].empty
    log = r["log"]
    assert [b"t1-b"] not in list(log["values"])
    assert list(log["producer_epoch"]) == [0, 1, 2, 3]          # an epoch per transaction, bumped by each EndTxn
    assert r["lso"] == r["hw"]


def test_without_verification_a_late_produce_after_the_abort_hangs_a_transaction_nobody_knows() -> None:
    r = kafka_17754(1, verification=False, next_touches_partition=False)
    assert list(r["log"]["values"])[-1] == [b"t1-b"]            # written after N's abort marker
    assert r["lso"] == 3 and r["hw"] == 4                      # the LSO is stuck at the late record
    c = r["cluster"]
    c.run(120_000)                                              # twice the transaction timeout: the coordinator
    row = c.describe_topic("events").set_index("partition").loc[r["delayed_partition"]]   # knows of nothing
    assert (int(row["last_stable_offset"]), int(row["high_watermark"])) == (3, 4)
    assert c.describe_transactions("jepsen-0")["state"] == "CompleteCommit"


def test_with_verification_a_late_produce_no_transaction_wants_is_refused() -> None:
    r = kafka_17754(1, verification=True, next_touches_partition=False)
    assert r["anomalies"].empty
    assert [b"t1-b"] not in list(r["log"]["values"])
    assert r["lso"] == r["hw"]


def test_kafka_17754_is_deterministic_across_hash_seeds() -> None:
    code = ("from kafkalab.experiments.exactly_once import kafka_17754; r = kafka_17754(1); "
            "print(r['cluster'].now, len(r['cluster'].history), r['anomalies'].to_dict('records'))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "777")]
    assert outs[0] == outs[1] and "aborted-read" in outs[0]


def test_the_scenario_refuses_an_unknown_transaction_version() -> None:
    with pytest.raises(ValueError, match="transaction_version must be 1 or 2, got 3"):
        kafka_17754(3)


def test_the_judge_reports_lost_writes_and_duplicates_from_a_history() -> None:
    h = History()
    t = h.invoke_txn(0.0, "p", "tx")
    a = h.invoke_send(1.0, "p", "out", None, b"a")
    b = h.invoke_send(1.0, "p", "out", None, b"b")
    h.ok(a, 2.0, partition=0, offset=0)
    h.ok(b, 2.0, partition=0, offset=1)
    h.complete_txn(t, 3.0, "ok", [("out", 0, 0, None, b"a"), ("out", 0, 1, None, b"b")], None, None)
    poll = h.invoke(4.0, "c", "poll")
    h.ok(poll, 5.0, reads=(("out", 0, 0, None, b"a"), ("out", 0, 0, None, b"a")))
    judged = judge_transactions(h)
    assert sorted(judged["anomaly"]) == ["duplicate", "lost-write", "torn-transaction"]
    assert judged.set_index("anomaly").loc["lost-write", "value"] == b"b"
    assert judge_transactions(h, readers=["nobody"])["anomaly"].tolist() == ["lost-write", "lost-write"]


def test_kafka_17582_an_abort_does_not_rewind_the_consumer_but_a_seek_or_a_rebalance_does() -> None:
    c = kl.Cluster(brokers=3, controllers=1, seed=5)
    c.create_topic("in", partitions=1, replication_factor=3)
    c.create_topic("out", partitions=1, replication_factor=3)
    src = c.producer({"acks": "all"})
    for i in range(10):
        src.send("in", value=b"%d" % i)
    src.flush()
    tp = kl.TopicPartition("in", 0)
    consumer = c.consumer({"group.id": "app", "auto.offset.reset": "earliest", "enable.auto.commit": False,
                           "isolation.level": "read_committed", "max.poll.records": 4})
    consumer.subscribe(["in"])
    p = c.producer({"transactional.id": "app-0"})
    p.init_transactions()
    first: list[bytes] = []
    while not first:
        first = [r.value for r in consumer.poll(timeout_ms=1_000)]
    assert first == [b"0", b"1", b"2", b"3"]
    p.begin_transaction()
    for v in first:
        p.send("out", value=b"t" + v)
    p.send_offsets_to_transaction({tp: kl.OffsetAndMetadata(4)}, consumer.group_metadata())
    p.abort_transaction()
    # the transaction is gone, its offsets with it, but the consumer's position is where the poll left it
    assert consumer.committed([tp]).get(tp) is None
    assert consumer.position(tp) == 4
    assert [r.value for r in consumer.poll(timeout_ms=1_000)] == [b"4", b"5", b"6", b"7"]   # 0-3 skipped
    # the application's fix: seek back to the committed offsets (here: none, so the beginning)
    consumer.seek(tp, 0)
    assert [r.value for r in consumer.poll(timeout_ms=1_000)] == [b"0", b"1", b"2", b"3"]
    # a rebalance does it too: the partition's new owner starts from the committed offsets
    consumer.close()
    successor = c.consumer({"group.id": "app", "auto.offset.reset": "earliest", "enable.auto.commit": False,
                            "isolation.level": "read_committed", "max.poll.records": 4})
    successor.subscribe(["in"])
    again: list[bytes] = []
    for _ in range(20):
        again = [r.value for r in successor.poll(timeout_ms=1_000)]
        if again:
            break
    assert again == [b"0", b"1", b"2", b"3"]


def test_requests_verified_together_share_one_guard_and_a_marker_ends_it() -> None:
    """Kafka's VerificationStateEntry: a second produce of the producer while a verification is pending presents the
    same guard (so the first one's append does not fail it); a marker clears it, the next transaction gets a new one."""
    from kafkalab.broker.producer_state import ProducerStateManager
    from kafkalab.common.records import ABORT_MARKER, control_batch
    state = ProducerStateManager()
    first = state.start_verification(7)
    assert state.start_verification(7) is first and state.verified(7, first)
    assert state.start_verification(8) is not first
    state.update(control_batch(ABORT_MARKER, 7, 0, 0, 0))
    assert not state.verified(7, first)
    assert state.start_verification(7) is not first


# ---- KAFKA-17754's lost write: a delayed EndTxn(abort) of N aborts N+1 ----------------------------------------------
def test_kafka_17754_under_version_1_a_delayed_abort_of_one_transaction_aborts_the_next_which_then_commits() -> None:
    r = kafka_17754_lost_write(1)
    anomalies = r["anomalies"]
    assert list(anomalies["anomaly"]) == ["lost-write", "torn-transaction"]
    assert list(anomalies["value"])[0] == b"t2-a" and set(anomalies["outcome"]) == {"ok"}
    assert r["committed"]                                      # the application was told N+1 committed
    old, new = r["old_coordinator"], r["new_coordinator"]
    assert old != new
    t = r["transitions"]
    steps = list(zip(t.node, t.previous, t.state, strict=True))
    # N aborted by the new coordinator (the retried EndTxn), N+1 opened there; then the old coordinator, leading again,
    # gets the stuck EndTxn(abort) and aborts N+1; the application's next partition opens a new transaction it commits
    assert steps[5:] == [(new, "Ongoing", "PrepareAbort"), (new, "PrepareAbort", "CompleteAbort"),
                         (new, "CompleteAbort", "Ongoing"),
                         (old, "Ongoing", "PrepareAbort"), (old, "PrepareAbort", "CompleteAbort"),
                         (old, "CompleteAbort", "Ongoing"), (old, "Ongoing", "PrepareCommit"),
                         (old, "PrepareCommit", "CompleteCommit")]
    assert set(t.epoch) == {0}                                 # version 1: one epoch for every transaction
    log = r["log"]
    assert list(log["kind"])[-2:] == ["data", "control"] and list(log["values"])[-2] == [b"t2-a"]
    sends = [op for op in r["cluster"].history.ops if op.f == "send" and op.value == b"t2-a"]
    assert [op.type for op in sends] == ["invoke", "ok"]      # acknowledged


def test_version_2_fences_the_delayed_abort_with_the_same_seed_and_faults() -> None:
    r = kafka_17754_lost_write(2)
    assert r["anomalies"].empty and r["committed"]
    t = r["transitions"]
    old = r["old_coordinator"]
    after_failback = t[(t.node == old) & (t.time_ms > 20_000)]
    assert "PrepareAbort" not in set(after_failback.state)     # the stuck EndTxn carried a fenced epoch
    assert list(after_failback.state)[-2:] == ["PrepareCommit", "CompleteCommit"]
    assert list(r["log"]["producer_epoch"]) == [0, 1, 1, 2, 2, 3]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"transaction_version": 0}, "transaction_version must be 1 or 2, got 0"),
    ({"transaction_version": 1, "delay_ms": 2_000}, r"delay_ms must exceed the producer's request.timeout.ms "
                                                    r"\(3000\), got 2000"),
])
def test_the_lost_write_scenario_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kafka_17754_lost_write(**kwargs)


def test_the_lost_write_scenario_is_deterministic_across_hash_seeds() -> None:
    code = ("from kafkalab.experiments.exactly_once import kafka_17754_lost_write as f; r = f(1, seed=5); "
            "print(r['cluster'].now, len(r['cluster'].history), r['transitions'].to_dict('records'))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "777")]
    assert outs[0] == outs[1] and "PrepareAbort" in outs[0]


def test_the_judge_reads_aborted_reads_from_the_checker_and_skips_unfinished_transactions() -> None:
    h = History()
    aborted = h.invoke_txn(0.0, "p", "tx")
    a = h.invoke_send(1.0, "p", "out", None, b"a")
    h.ok(a, 2.0, partition=0, offset=0)
    h.complete_txn(aborted, 3.0, "fail", [("out", 0, 0, None, b"a")], None, None, error="TRANSACTION_ABORTED")
    h.invoke_txn(4.0, "p", "tx")                                # never completes (the producer crashed)
    b = h.invoke_send(5.0, "p", "out", None, b"b")
    h.ok(b, 6.0, partition=0, offset=2)
    poll = h.invoke(7.0, "c", "poll")
    h.ok(poll, 8.0, reads=(("out", 0, 0, None, b"a"),))
    report = kl.check.analyze(h, read_committed=["c"])
    assert list(report.anomalies.loc[report.anomalies.kind == "aborted_read", "value"]) == [b"a"]
    judged = judge_transactions(h, readers=["c"])
    assert judged[["anomaly", "value", "outcome"]].values.tolist() == [["aborted-read", b"a", "fail"]]
    assert judge_transactions(h, readers=["nobody"]).empty    # nobody read it: no aborted read

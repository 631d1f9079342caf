"""The transaction checks against real simulated runs of the transactional workload (Jepsen's Kafka test with
transactions): under transaction version 2 with crashes, pauses and isolation (no power loss) read_committed
consumers see no aborted write, no torn transaction and no circular information flow; read_uncommitted consumers
judged as read_committed do see aborted writes, and the checker finds exactly those the cluster itself hides from a
read_committed reader."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.check import History, analyze
from kafkalab.workloads import txn

VIOLATIONS = ("aborted_read", "torn_transaction", "precommitted_read", "G1c", "lost_write", "duplicate",
              "inconsistent_offsets", "failed_write_read", "nonmonotonic_poll", "poll_skip")


@pytest.mark.parametrize("seed", [2, 6])
def test_version_2_under_crashes_pauses_and_isolation_is_valid(seed, tmp_path):
    result = txn(seed, duration_ms=20_000, faults=("crash", "pause", "isolate"))
    report = result.report()
    kinds = {d.split()[0] for _, d in result.faults}
    assert {"crash", "restart"} <= kinds and kinds <= {"crash", "restart", "pause", "resume", "isolate", "heal"}
    assert report.verdict == "valid", report.to_text()
    assert all(report.count(k) == 0 for k in VIOLATIONS), report.to_text()
    ends = [o for o in result.history.ops if o.f == "txn" and o.type != "invoke"]
    committed = [o for o in ends if o.type == "ok"]
    aborted = [o for o in ends if o.type == "fail"]
    assert len(committed) > 100 and len(aborted) > 10
    # the read_committed consumers really stepped over aborted writes: some sit below what they read
    reached = {}
    for o in result.history.ops:
        if o.f == "poll" and o.type == "ok":
            for topic, partition, offset, _, _ in o.reads:
                reached[(topic, partition)] = max(offset, reached.get((topic, partition), -1))
    stepped_over = [w for o in aborted for w in o.reads if w[2] < reached.get((w[0], w[1]), -1)]
    assert len(stepped_over) > 5
    # the verdict travels with the saved history, read_committed set included
    loaded = History.load(result.save(tmp_path / "txn.parquet"))
    assert analyze(loaded, read_committed=loaded.metadata["read_committed"]).counts == report.counts


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_no_read_committed_violation_for_any_seed(seed):
    report = txn(seed, duration_ms=12_000).report()
    found = {k: report.count(k) for k in VIOLATIONS if report.count(k)}
    assert report.verdict != "invalid" and not found, f"seed={seed}: {found}; replay: kafkalab replay txn " \
                                                      f"--seed {seed} --param duration_ms=12000"


def test_read_uncommitted_consumers_judged_as_read_committed_show_the_aborted_reads_the_cluster_hides():
    result = txn(3, duration_ms=12_000, isolation="read_uncommitted", judge_as="read_committed",
                 keep_cluster=True)
    report = result.report()
    assert report.verdict == "invalid" and report.count("aborted_read") > 10, report
    # judged as they ran (read_uncommitted), the same history is valid
    final_reader = result.metadata["read_committed"][0]
    assert analyze(result.history, read_committed=[final_reader]).verdict == "valid"
    # the cluster's own answer: what a read_uncommitted reader sees and a read_committed one does not
    cluster = result.cluster
    seen = {}
    for isolation in ("read_uncommitted", "read_committed"):
        reader = cluster.consumer({"auto.offset.reset": "earliest", "isolation.level": isolation})
        reader.assign([kl.TopicPartition("queue", p) for p in range(4)])
        values, idle = set(), 0
        while idle < 4:
            records = reader.poll(500)
            values |= {r.value for r in records}
            idle = 0 if records else idle + 1
        seen[isolation] = values
    hidden = seen["read_uncommitted"] - seen["read_committed"]
    found = set(report.of("aborted_read").value)
    assert found and found <= hidden
    # and every hidden value a client's consumer read, of a transaction the client saw abort, was found
    failed = {w[4] for o in result.history.ops if o.f == "txn" and o.type == "fail" for w in o.reads}
    clients = {f"consumer-{i}" for i in (1, 2, 3)}
    read_by_clients = {r[4] for o in result.history.ops if o.f == "poll" and o.type == "ok"
                       and o.process in clients for r in o.reads}
    assert hidden & failed & read_by_clients == found


DELAYED = dict(duration_ms=15_000, nemesis="none", delay_p=0.05, delay_ms=3_000, request_timeout_ms=1_000,
               delivery_timeout_ms=1_500)


def test_kafka_17754_delayed_produce_requests_under_version_1_are_found_as_aborted_reads():
    # Jepsen's 2024 finding: a produce request delayed on its connection outlives its transaction (the client gives
    # the send up after delivery.timeout.ms, aborts, and starts the next one); under transaction version 1 it lands in
    # the producer's next transaction and commits with it. Version 2 bumps the epoch per transaction and refuses it.
    v1 = txn(2, transaction_version=1, keep_cluster=True, **DELAYED)
    report = v1.report()
    assert any(d.startswith("delay producer-") for _, d in v1.faults)
    assert report.verdict == "invalid" and report.count("aborted_read") > 0, report
    ops = v1.history.ops
    values = set(report.of("aborted_read").value)
    stuck = {o.value: o for o in ops if o.f == "send" and o.value in values and o.type != "invoke"}
    assert stuck and all(o.type == "info" for o in stuck.values())      # the client never learnt their offsets
    aborted = {o.op for o in ops if o.f == "txn" and o.type == "fail"}
    assert {row.ops[0] for row in report.of("aborted_read").itertuples()} <= aborted
    # the cluster's own read_committed reader returns them: they sit inside a committed transaction
    reader = v1.metadata["read_committed"][0]
    assert values <= {r[4] for o in ops if o.f == "poll" and o.process == reader and o.type == "ok" for r in o.reads}
    v2 = txn(2, transaction_version=2, **DELAYED)
    assert [d for _, d in v2.faults if d.startswith("delay")] and v2.report().verdict == "valid", v2.report()

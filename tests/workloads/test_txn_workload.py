"""The transactional workload (Jepsen's Kafka test with transactions): what a run is made of, that the same seed gives
the same run under any hash seed, how its history is judged, and clear errors for bad parameters."""
import collections
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafkalab.sim import Fault
from kafkalab.workloads import WORKLOADS, txn


def test_a_run_interleaves_transactions_of_sends_and_polls_and_aborts_some_at_random():
    result = txn(3, duration_ms=10_000, nemesis="none", abort_p=0.2)
    ops = result.history.ops
    ends = collections.Counter(o.type for o in ops if o.f == "txn" and o.type != "invoke")
    # Without faults nothing is indeterminate: not even a transaction still open when the run's time runs out (its
    # client ends it at once, before the recovery wait outlasts its transaction.timeout.ms)
    assert ends["ok"] > 100 and ends["fail"] > 20 and ends["info"] == 0, ends
    last_begun = max(o.time_ms for o in ops if o.f == "txn" and o.type == "invoke")
    assert max(o.time_ms for o in ops if o.f == "txn" and o.type != "invoke") < last_begun + 1_000
    assert 0.1 < ends["fail"] / (ends["ok"] + ends["fail"]) < 0.3              # abort_p, drawn from the seed
    # transactions of the three producers overlap in time, as Jepsen's concurrent clients' do
    open_now, overlapped = set(), 0
    for o in ops:
        if o.f == "txn":
            if o.type == "invoke":
                overlapped += bool(open_now)
                open_now.add(o.op)
            else:
                open_now.discard(o.op)
    assert overlapped > 50
    committed = [o for o in ops if o.f == "txn" and o.type == "ok"]
    assert any(len(o.reads) >= 2 for o in committed)                            # several sends in one transaction
    assert any(o.offsets and o.key == "txn" for o in committed)                 # consumed offsets committed in it
    assert {o.value for o in committed} == {"txn-0", "txn-1", "txn-2"}
    assert result.metadata["read_committed"][0] == "consumer-4"                  # the final reader
    assert set(result.metadata["read_committed"]) >= {"txn-0", "consumer-1"}
    report = result.report()
    assert report.verdict == "valid", report.to_text()
    assert report.counts["transactions"] == sum(ends.values()) and report.counts["read_committed_processes"] == 4


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000))
def test_without_faults_every_transaction_ends_ok_or_fail_when_the_run_ends(seed):
    # the clients end their open transactions when the time is up, not after the recovery wait: none is left for its
    # coordinator to abort at transaction.timeout.ms (fencing the producer and making the outcome unknown)
    ops = txn(seed, duration_ms=5_000, nemesis="none").history.ops
    ends = [o for o in ops if o.f == "txn" and o.type != "invoke"]
    assert ends and all(o.type in ("ok", "fail") for o in ends), [(o.op, o.type, o.error) for o in ends
                                                                   if o.type == "info"]
    assert len(ends) == sum(o.f == "txn" and o.type == "invoke" for o in ops)
    last_begun = max(o.time_ms for o in ops if o.f == "txn" and o.type == "invoke")
    assert max(o.time_ms for o in ends) < last_begun + 1_000, f"seed={seed}"


def test_the_same_seed_gives_the_same_run_under_any_hash_seed():
    a, b = txn(2, duration_ms=6_000), txn(2, duration_ms=6_000)
    assert a.digest == b.digest and a.faults == b.faults and a.faults
    assert a.history.to_frame().equals(b.history.to_frame())
    assert txn(5, duration_ms=6_000).digest != a.digest
    code = "from kafkalab.workloads import txn; print(txn(2, duration_ms=6_000).digest)"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout.strip() for h in ("0", "91")}
    assert outs == {a.digest}


def test_a_scripted_nemesis_and_version_1_run_and_are_recorded():
    script = [Fault(2_000, "crash", node=1), Fault(6_000, "restart", node=1)]
    result = txn(4, duration_ms=8_000, nemesis=script, transaction_version=1)
    assert [d for _, d in result.faults] == ["crash 1", "restart 1"]
    assert result.metadata["params"]["transaction_version"] == 1
    assert result.history.metadata["config"]["transaction.version"] == 1
    assert result.report().verdict == "valid"


def test_it_is_registered_for_sweeps_and_the_command_line():
    from kafkalab.experiments.registry import get_experiment

    assert WORKLOADS["txn"] is txn
    params = get_experiment("txn").params
    assert params["isolation"] == "read_committed" and params["abort_p"] == 0.1 and params["judge_as"] == ""


def test_bad_parameters_get_clear_errors():
    with pytest.raises(ValueError, match=r"isolation must be one of 'read_committed', 'read_uncommitted', got "
                                         r"'read_comitted' \(did you mean 'read_committed'\?\)"):
        txn(0, isolation="read_comitted")
    with pytest.raises(ValueError, match=r"judge_as must be one of '', 'read_committed', 'read_uncommitted', got "
                                         r"'uncommitted' \(did you mean 'read_uncommitted'\?\)"):
        txn(0, judge_as="uncommitted")
    with pytest.raises(ValueError, match=r"abort_p must be a probability in \[0, 1\], got 1.5"):
        txn(0, abort_p=1.5)
    with pytest.raises(ValueError, match=r"transaction_version must be 1 or 2 .*got 3"):
        txn(0, transaction_version=3)
    with pytest.raises(ValueError, match="max_txn_length must be a positive int, got 0"):
        txn(0, max_txn_length=0)
    with pytest.raises(ValueError, match="fault_interval_ms must be a positive float, got -1"):
        txn(0, fault_interval_ms=-1)
    with pytest.raises(ValueError, match=r"unknown fault kind 'pwoer_loss' \(did you mean 'power_loss'\?\)"):
        txn(0, faults=["pwoer_loss"])


def test_bad_delay_and_timeout_parameters_get_clear_errors():
    with pytest.raises(ValueError, match=r"delay_p must be a probability in \[0, 1\], got -0.1"):
        txn(0, delay_p=-0.1)
    with pytest.raises(ValueError, match="delay_ms must be a positive float, got 0"):
        txn(0, delay_ms=0)
    with pytest.raises(ValueError, match="request_timeout_ms must be a positive int, got 0"):
        txn(0, request_timeout_ms=0)
    with pytest.raises(ValueError, match=r"delivery_timeout_ms must be an int >= request_timeout_ms \+ linger.ms "
                                         r"\(1\) = 5001, as Kafka's producer requires; got 5000"):
        txn(0, delivery_timeout_ms=5_000)

"""The exactly-once experiment's pipeline and hanging-transaction runs (notebook 07): what they measure, and their
argument errors."""
from __future__ import annotations

import pytest

from kafkalab.experiments.exactly_once import hanging_transaction, pipeline


def test_an_application_crash_duplicates_a_batch_at_least_once_and_nothing_with_transactions() -> None:
    alo = pipeline("at_least_once", crashes=2, records=30, seed=1)
    eos = pipeline("exactly_once", crashes=2, records=30, seed=1)
    assert (alo["unique"], alo["missing"]) == (30, 0) and alo["duplicates"] == 5   # one application crash
    assert (eos["unique"], eos["missing"], eos["duplicates"]) == (30, 0, 0)


def test_the_hanging_transaction_holds_the_lso_until_the_timeout_abort() -> None:
    df = hanging_transaction(timeout_ms=10_000, run_ms=25_000)
    open_rows = df[df.state == "Ongoing"]
    assert set(open_rows.last_stable_offset) == {0} and set(open_rows.read) == {0}
    assert open_rows.high_watermark.max() > 5
    done = df[df.state == "CompleteAbort"]
    assert 10_000 < done.time_ms.min() <= 21_000           # timeout 10 s, checked every 10 s
    last = df.iloc[-1]
    assert last.last_stable_offset == last.high_watermark and last.read == last.high_watermark - 2


def test_the_pipeline_names_its_wrong_arguments() -> None:
    with pytest.raises(ValueError, match="guarantee must be 'at_least_once' or 'exactly_once', got 'twice'"):
        pipeline("twice")
    with pytest.raises(ValueError, match="crashes must be >= 0, got -1"):
        pipeline("exactly_once", crashes=-1)

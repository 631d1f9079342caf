"""The coordinator's TransactionMetadata: every legal transition of Kafka's table is accepted, every other one
refused without a change; prepare/complete is two-step; KIP-890's epoch bump at PrepareCommit/PrepareAbort."""
from __future__ import annotations

import itertools

import pytest

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvariantViolation
from kafkalab.txn.metadata import VALID_PREVIOUS_STATES, TransactionMetadata, TransactionState

S = TransactionState
TP = TopicPartition("t", 0)


def test_the_table_is_kafkas() -> None:
    assert {s.value: sorted(p.value for p in prev) for s, prev in VALID_PREVIOUS_STATES.items()} == {
        "Empty": ["CompleteAbort", "CompleteCommit", "Empty"],
        "Ongoing": ["CompleteAbort", "CompleteCommit", "Empty", "Ongoing"],
        "PrepareCommit": ["Ongoing"],
        "PrepareAbort": ["Ongoing", "PrepareEpochFence"],
        "CompleteCommit": ["PrepareCommit"],
        "CompleteAbort": ["PrepareAbort"],
        "PrepareEpochFence": ["Ongoing"],
        "Dead": ["CompleteAbort", "CompleteCommit", "Empty"],
    }


@pytest.mark.parametrize(("source", "target"), list(itertools.product(list(S), list(S))))
def test_every_transition_is_checked(source: TransactionState, target: TransactionState) -> None:
    md = TransactionMetadata("tx", 5, 3, state=source, partitions={TP})
    if source in VALID_PREVIOUS_STATES[target]:
        transit = md.prepare(target, now_ms=10)
        assert md.state is source and md.pending is transit        # nothing applied before the write
        if target is S.DEAD:                                        # Dead is only ever pending (Kafka's too)
            with pytest.raises(InvariantViolation, match="transactional id 'tx': Dead is never completed"):
                md.complete(transit)
            assert md.state is source and md.pending is transit
            return
        md.complete(transit)
        assert md.state is target and md.pending is None
    else:
        with pytest.raises(InvariantViolation, match=rf"transactional id 'tx': illegal transition {source.value} -> "
                           rf"{target.value} \(allowed from: "):
            md.prepare(target, now_ms=10)
        assert md.state is source and md.pending is None


def test_a_second_prepare_and_a_foreign_complete_are_refused() -> None:
    md = TransactionMetadata("tx", 5, 3, state=S.ONGOING, partitions={TP})
    transit = md.prepare_abort_or_commit(True, 10, 2)
    with pytest.raises(InvariantViolation, match="a transition to PrepareCommit is already pending; cannot prepare "
                                                 "PrepareAbort"):
        md.prepare(S.PREPARE_ABORT, now_ms=11)
    other = TransactionMetadata("tx", 5, 3, state=S.ONGOING).prepare(S.PREPARE_ABORT, now_ms=1)
    with pytest.raises(InvariantViolation, match="completing PrepareAbort which is not the pending transition"):
        md.complete(other)
    md.abort_pending()
    assert md.pending is None and md.state is S.ONGOING and transit.producer_epoch == 4


def test_version_2_bumps_the_epoch_when_the_outcome_is_prepared_and_version_1_keeps_it() -> None:
    v2 = TransactionMetadata("tx", 5, 3, state=S.ONGOING, partitions={TP})
    v2.complete(v2.prepare_abort_or_commit(True, 10, 2))
    v1 = TransactionMetadata("tx", 5, 3, state=S.ONGOING, partitions={TP})
    v1.complete(v1.prepare_abort_or_commit(True, 10, 1))
    assert (v2.producer_epoch, v2.last_producer_epoch, v1.producer_epoch) == (4, 3, 3)
    v2.complete(v2.prepare_complete(20))
    assert v2.state is S.COMPLETE_COMMIT and v2.partitions == set()

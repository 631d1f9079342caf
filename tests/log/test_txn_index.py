"""Transactions in the log: ongoing transactions hold the last stable offset, markers complete them, aborts are
indexed per segment, and truncation rebuilds all of it (Kafka's ProducerStateManager + TransactionIndex)."""
from __future__ import annotations

import pytest

from kafkalab.common.records import (
    ABORT_MARKER,
    COMMIT_MARKER,
    Record,
    RecordBatch,
    control_batch,
    control_type,
)
from kafkalab.log.log_config import LogConfig
from kafkalab.log.partition_log import PartitionLog
from kafkalab.log.txn_index import AbortedTxn


def txn_batch(pid: int, n: int = 2, epoch: int = 0, seq: int = 0) -> RecordBatch:
    return RecordBatch(tuple(Record(None, b"v%d" % i) for i in range(n)), producer_id=pid, producer_epoch=epoch,
                       base_sequence=seq, is_transactional=True)


def plain(n: int = 1) -> RecordBatch:
    return RecordBatch(tuple(Record(None, b"p") for _ in range(n)))


def test_a_marker_is_a_control_batch_of_one_record_with_kafkas_key_and_value() -> None:
    commit = control_batch(COMMIT_MARKER, 7, 3, 5, 100)
    assert commit.is_control and commit.is_transactional and commit.record_count == 1
    assert commit.rows[0][0] == b"\x00\x00\x00\x01" and commit.rows[0][1] == b"\x00\x00\x00\x00\x00\x05"
    assert control_type(commit) == COMMIT_MARKER
    assert control_type(control_batch(ABORT_MARKER, 7, 3, 5, 100)) == ABORT_MARKER
    with pytest.raises(ValueError, match=r"marker must be ABORT_MARKER \(0\) or COMMIT_MARKER \(1\), got 2"):
        control_batch(2, 7, 3, 5, 100)


def test_an_open_transaction_holds_the_lso_until_its_marker_is_below_the_high_watermark() -> None:
    log = PartitionLog(name="t-0")
    log.append_as_leader(plain(3), 0)                       # 0..2
    assert not log.has_transactions and log.last_stable_offset(3) == 3
    log.append_as_leader(txn_batch(10), 0)                  # 3..4, producer 10's transaction opens at 3
    log.append_as_leader(plain(1), 0)                       # 5
    assert log.has_transactions
    assert log.last_stable_offset(6) == 3                   # stuck at the open transaction
    assert log.last_stable_offset(2) == 2                   # never above the HW
    log.append_as_leader(control_batch(COMMIT_MARKER, 10, 0, 0, 0), 0)   # marker at 6
    assert log.last_stable_offset(6) == 3                   # marker not replicated yet: still unstable
    assert log.last_stable_offset(7) == 7                   # the HW passed the marker
    assert log.aborted_transactions(0, 7) == []


def test_an_abort_goes_into_the_index_of_the_segment_holding_its_marker() -> None:
    log = PartitionLog(LogConfig(segment_bytes=200), name="t-0")
    log.append_as_leader(txn_batch(10), 0)                  # 0..1
    log.append_as_leader(txn_batch(11), 0)                  # 2..3
    for _ in range(3):
        log.append_as_leader(plain(1), 0)                   # rolls segments
    log.append_as_leader(control_batch(ABORT_MARKER, 10, 0, 0, 0), 0)
    log.append_as_leader(control_batch(COMMIT_MARKER, 11, 0, 0, 0), 0)
    marker = log.log_end_offset - 2
    holding = [s for s in log.segments if s.aborted]
    assert len(log.segments) > 1 and len(holding) == 1
    assert holding[0].base_offset <= marker < (holding[0].next_offset or 0)
    assert holding[0].aborted == [AbortedTxn(10, 0, marker, 2)]   # the LSO then: producer 11's first offset
    assert log.aborted_transactions(0, 1) == [AbortedTxn(10, 0, marker, 2)]
    assert log.aborted_transactions(marker + 1, log.log_end_offset) == []    # wholly before the fetch


def test_truncation_rebuilds_the_open_transactions_and_the_index() -> None:
    log = PartitionLog(name="t-0")
    log.append_as_leader(txn_batch(10), 0)                  # 0..1
    log.append_as_leader(control_batch(ABORT_MARKER, 10, 0, 0, 0), 0)   # 2
    log.append_as_leader(txn_batch(10, epoch=0, seq=2), 0)  # 3..4 a new transaction
    assert log.last_stable_offset(5) == 3
    log.truncate_to(3)                                      # the second transaction is gone
    assert log.last_stable_offset(3) == 3 and log.txn is not None and log.txn.ongoing == {}
    assert log.aborted_transactions(0, 3) == [AbortedTxn(10, 0, 2, 3)]
    log.truncate_to(2)                                      # the abort marker is gone: the first is open again
    assert log.txn.ongoing == {10: 0} and log.aborted_transactions(0, 2) == []
    assert log.last_stable_offset(2) == 0
    log.truncate_fully_and_start_at(10)
    assert log.last_stable_offset(10) == 10


def test_compaction_keeps_markers_and_carries_the_aborted_index() -> None:
    log = PartitionLog(LogConfig(segment_bytes=150, cleanup_policy=("compact",)), name="t-0")
    keyed = RecordBatch((Record(b"k", b"1"),), producer_id=10, producer_epoch=0, base_sequence=0,
                        is_transactional=True)
    log.append_as_leader(keyed, 0)
    log.append_as_leader(control_batch(ABORT_MARKER, 10, 0, 0, 0), 0)
    for i in range(6):
        log.append_as_leader(RecordBatch((Record(b"k", b"%d" % i),)), 0)
    log.compact(0, high_watermark=log.log_end_offset)
    assert any(b.is_control for b in log.batches())
    assert log.aborted_transactions(0, log.log_end_offset) == [AbortedTxn(10, 0, 1, 2)]

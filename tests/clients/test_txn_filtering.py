"""The consumer's side of read_committed: control batches are never handed out, aborted transactions' batches are
dropped under read_committed only (Kafka's CompletedFetch.nextFetchedRecord)."""
from __future__ import annotations

from kafkalab.clients.fetcher import _visible_batches
from kafkalab.common.records import ABORT_MARKER, COMMIT_MARKER, Record, RecordBatch, control_batch


def at(batch: RecordBatch, offset: int) -> RecordBatch:
    return batch.with_offset(offset, 0)


def data(pid: int, n: int = 1, txn: bool = True) -> RecordBatch:
    return RecordBatch(tuple(Record(None, b"%d" % pid) for _ in range(n)), producer_id=pid, producer_epoch=0,
                       base_sequence=0, is_transactional=txn)


def test_aborted_batches_and_markers_are_dropped_under_read_committed_only() -> None:
    fetched = [at(data(1), 0), at(data(2), 1), at(control_batch(ABORT_MARKER, 1, 0, 0, 0), 2),
               at(control_batch(COMMIT_MARKER, 2, 0, 0, 0), 3), at(data(1), 4), at(data(3, txn=False), 5)]
    committed = _visible_batches(fetched, [(1, 0)], 1)
    assert [(b.producer_id, b.base_offset) for b in committed] == [(2, 1), (1, 4), (3, 5)]   # 1's next txn counts
    uncommitted = _visible_batches(fetched, [(1, 0)], 0)
    assert [(b.producer_id, b.base_offset) for b in uncommitted] == [(1, 0), (2, 1), (1, 4), (3, 5)]


def test_an_aborted_transaction_starting_later_does_not_hide_earlier_batches() -> None:
    fetched = [at(data(1), 0), at(control_batch(COMMIT_MARKER, 1, 0, 0, 0), 1), at(data(1), 2),
               at(control_batch(ABORT_MARKER, 1, 0, 0, 0), 3)]
    assert [b.base_offset for b in _visible_batches(fetched, [(1, 2)], 1)] == [0]

"""The cleaner and transactions (Kafka's ``CleanedTransactionMetadata``): aborted data goes, markers go once their
transaction is empty and ``delete.retention.ms`` has passed, and read_committed readers see the same committed data."""
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalab.common.records import ABORT_MARKER, COMMIT_MARKER, control_batch, control_type
from kafkalab.log import LogConfig, PartitionLog, Record, RecordBatch

COMPACT = dict(cleanup_policy=("compact",), segment_bytes=200, delete_retention_ms=1000)


def txn_batch(key, value, pid, seq, epoch=0):
    return RecordBatch((Record(key, value, 0),), producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                       is_transactional=True)


def plain(key, value, pid=99, seq=0):
    return RecordBatch((Record(key, value, 0),), producer_id=pid, producer_epoch=0, base_sequence=seq)


def read_committed(log):
    """``(offset, key, value)`` a read_committed consumer gets from offset 0 (Kafka's fetcher: aborted transactions
    by first offset, a producer's batches skipped from its aborted transaction's first offset to its ABORT marker)."""
    pending = sorted(log.aborted_transactions(log.log_start_offset, log.log_end_offset),
                     key=lambda t: (t.first_offset, t.producer_id))
    aborted, out, i = set(), [], 0
    for b in log.batches():
        while i < len(pending) and pending[i].first_offset <= b.last_offset:
            aborted.add(pending[i].producer_id)
            i += 1
        if b.is_control:
            if control_type(b) == ABORT_MARKER:
                aborted.discard(b.producer_id)
            continue
        if b.is_transactional and b.producer_id in aborted:
            continue
        out.extend((o, r.key, r.value) for o, r in zip(b.offsets(), b.records, strict=True))
    return out


def latest_per_key(rows):
    latest = {}
    for _, key, value in rows:
        latest[key] = value
    return {k: v for k, v in latest.items() if v is not None}


def unclosed_transactions(log):
    """Producers with a transactional data batch (even an emptied one) not followed by a marker: a log replayed into
    producer state would see their transactions as still open (the cleaner must never leave that)."""
    open_pids = set()
    for b in log.batches():
        if b.is_transactional:
            (open_pids.discard if b.is_control else open_pids.add)(b.producer_id)
    return open_pids


def aborted_records_below(log, offset):
    """Records of aborted transactions still in the log below ``offset`` (by replaying markers)."""
    open_txn, txns = {}, []
    for b in log.batches():
        if b.producer_id < 0 or not b.is_transactional:
            continue
        if not b.is_control:
            open_txn.setdefault(b.producer_id, []).append(b)
        elif b.rows:
            batches = open_txn.pop(b.producer_id, [])
            if control_type(b) == ABORT_MARKER:
                txns.extend(batches)
    return [(o, r.key) for b in txns for o, r in zip(b.offsets(), b.records, strict=True) if o < offset]


def story_log():
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader(plain(b"k", b"v0"), 0)                                    # 0
    log.append_as_leader(txn_batch(b"k", b"aborted", pid=7, seq=0), 0)             # 1
    log.append_as_leader(txn_batch(b"j", b"aborted", pid=7, seq=1), 0)             # 2
    log.append_as_leader(control_batch(ABORT_MARKER, 7, 0, 0, 0), 0)               # 3
    log.append_as_leader(txn_batch(b"j", b"kept", pid=7, seq=2), 0)                # 4: 7's last data batch
    log.append_as_leader(control_batch(COMMIT_MARKER, 7, 0, 0, 0), 0)              # 5
    log.roll()
    return log


def layout(log):
    return [(b.base_offset, "marker" if b.is_control else "data", b.record_count) for b in log.batches()]


def test_aborted_data_is_removed_and_the_abort_marker_outlives_it_by_delete_retention():
    log = story_log()
    before = read_committed(log)
    assert before == [(0, b"k", b"v0"), (4, b"j", b"kept")]
    stats = log.compact(now_ms=10)
    # The aborted k@1 does not shadow k@0 (the offset map skips aborted batches); both aborted records are gone; the
    # ABORT marker stays, with its index entry, because this pass read its transaction's batches.
    assert stats.aborted_records_removed == 2 and stats.markers_removed == 0
    assert layout(log) == [(0, "data", 1), (3, "marker", 1), (4, "data", 1), (5, "marker", 1)]
    assert [(e.producer_id, e.first_offset, e.last_offset) for e in log.aborted_transactions(0, 6)] == [(7, 1, 3)]
    assert read_committed(log) == before and aborted_records_below(log, 6) == []
    # Second pass: the transaction is empty, the marker is stamped with a delete horizon (10 + 1000 here at 20: 1020)
    # and its index entry goes; the COMMIT marker stays, its transaction still has j@4.
    log.compact(now_ms=20)
    marker = log.batches()[1]
    assert (marker.base_offset, marker.delete_horizon_ms) == (3, 1020)
    assert log.aborted_transactions(0, 6) == []
    assert log.batches()[3].delete_horizon_ms is None
    log.compact(now_ms=1019)                                 # before the horizon: still there
    assert layout(log)[1] == (3, "marker", 1)
    stats = log.compact(now_ms=1020)
    assert stats.markers_removed == 1
    assert layout(log) == [(0, "data", 1), (4, "data", 1), (5, "marker", 1)]
    assert read_committed(log) == before


def test_a_commit_marker_goes_once_its_data_is_compacted_away_but_a_producers_last_batch_keeps_it():
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader(txn_batch(b"k", b"1", pid=7, seq=0), 0)                   # 0
    log.append_as_leader(control_batch(COMMIT_MARKER, 7, 0, 0, 0), 0)              # 1
    log.append_as_leader(txn_batch(b"k", b"2", pid=8, seq=0), 0)                   # 2: 8's last
    log.append_as_leader(control_batch(COMMIT_MARKER, 8, 0, 0, 0), 0)              # 3
    log.append_as_leader(plain(b"k", b"3", pid=9), 0)                              # 4 overwrites k
    log.append_as_leader(txn_batch(b"x", b"1", pid=7, seq=1), 0)                   # 5: 7's last
    log.append_as_leader(control_batch(COMMIT_MARKER, 7, 0, 0, 0), 0)              # 6
    log.roll()
    log.compact(now_ms=0)       # k@0 and k@2 lose to k@4; 7's batch is dropped, 8's (its last) kept empty
    assert layout(log) == [(1, "marker", 1), (2, "data", 0), (3, "marker", 1), (4, "data", 1), (5, "data", 1),
                           (6, "marker", 1)]
    log.compact(now_ms=0)       # 7's first transaction is empty now: its marker gets a horizon; 8's still has a batch
    assert [b.delete_horizon_ms for b in log.batches()] == [1000, None, None, None, None, None]
    stats = log.compact(now_ms=1000)
    assert stats.markers_removed == 1
    assert layout(log) == [(2, "data", 0), (3, "marker", 1), (4, "data", 1), (5, "data", 1), (6, "marker", 1)]
    assert read_committed(log) == [(4, b"k", b"3"), (5, b"x", b"1")]


def test_an_aborted_producers_last_batch_is_kept_empty_and_so_is_its_index_entry():
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader(txn_batch(b"k", b"1", pid=7, seq=0), 0)                   # 0: 7's last data batch
    log.append_as_leader(control_batch(ABORT_MARKER, 7, 0, 0, 0), 0)               # 1
    log.roll()
    for now in (0, 5000, 10000):
        log.compact(now_ms=now)
        assert layout(log) == [(0, "data", 0), (1, "marker", 1)]
        assert [e.first_offset for e in log.aborted_transactions(0, 2)] == [0]
    assert read_committed(log) == []


def test_a_marker_of_a_bumped_epoch_is_a_producers_last_entry_and_stays():
    from kafkalab.log.cleaner import last_batches_of_producers
    log = PartitionLog(LogConfig(**COMPACT))
    log.append_as_leader(txn_batch(b"k", b"1", pid=7, seq=0), 0)                   # 0
    log.append_as_leader(control_batch(ABORT_MARKER, 7, 1, 0, 0), 0)               # 1: fenced, epoch 1
    log.append_as_leader(plain(b"k", b"2"), 0)                                     # 2
    log.roll()
    assert last_batches_of_producers(log.segments) == {99: 2}
    assert last_batches_of_producers(log.segments, include_markers=True) == {7: 1, 99: 2}
    for now in (0, 0, 5000):
        log.compact(now_ms=now)
    assert layout(log) == [(1, "marker", 1), (2, "data", 1)]


def test_aborted_data_whose_marker_is_past_the_cleaned_range_is_still_removed():
    log = PartitionLog(LogConfig(**{**COMPACT, "segment_bytes": 10_000}))
    log.append_as_leader(txn_batch(b"k", b"aborted", pid=7, seq=0), 0)             # 0
    log.append_as_leader(plain(b"k", b"v"), 0)                                     # 1
    log.roll()
    log.append_as_leader(plain(b"j", b"v", seq=1), 0)                              # 2
    log.append_as_leader(control_batch(ABORT_MARKER, 7, 0, 0, 0), 0)               # 3, in the next segment
    log.append_as_leader(plain(b"y", b"v", seq=2), 0)                              # 4
    log.roll()
    log.append_as_leader(plain(b"z", b"v", seq=3), 0)                              # 5, active
    before = read_committed(log)
    # with the high watermark at 4 only the first segment is cleanable: the marker's segment, which holds the index
    # entry, is not rewritten, yet the entry tells the cleaner that offset 0 is aborted
    stats = log.compact(now_ms=0, high_watermark=4)
    assert (stats.end_offset, stats.aborted_records_removed) == (2, 1)
    assert layout(log)[:2] == [(0, "data", 0), (1, "data", 1)]      # 7's last batch, kept empty
    assert [e.first_offset for e in log.aborted_transactions(0, 6)] == [0]
    assert read_committed(log) == before


# ---- property ---------------------------------------------------------------------------------------------------
KEYS = st.sampled_from([b"a", b"b", b"c", b"d"])
VALUES = st.one_of(st.none(), st.sampled_from([b"1", b"2", b"3"]))
STEP = st.one_of(
    st.tuples(st.just("plain"), st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["commit", "abort"]), st.integers(7, 9),
              st.lists(st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=2), min_size=0, max_size=3)),
    st.tuples(st.just("roll")),
    st.tuples(st.just("clean"), st.integers(0, 1500)),
)


@settings(max_examples=int(os.environ.get("KAFKALAB_LOG_EXAMPLES", "200")), deadline=None)
@given(st.lists(STEP, max_size=25), st.lists(st.integers(0, 3000), min_size=1, max_size=4))
def test_read_committed_latest_values_survive_any_cleaning(steps, passes):
    log = PartitionLog(LogConfig(**COMPACT))
    seqs = {}
    now = 0

    def write(rows, pid, transactional):
        seq = seqs.get(pid, 0)
        seqs[pid] = seq + 1
        batch = RecordBatch(tuple(Record(k, v, now) for k, v in rows), producer_id=pid, producer_epoch=0,
                            base_sequence=seq, is_transactional=transactional)
        log.append_as_leader(batch, 0, now_ms=now)

    for step in steps:
        if step[0] == "plain":
            write(step[1], 99, False)
        elif step[0] in ("commit", "abort"):
            for rows in step[2]:
                write(rows, step[1], True)
            marker = COMMIT_MARKER if step[0] == "commit" else ABORT_MARKER
            log.append_as_leader(control_batch(marker, step[1], 0, 0, now), 0, now_ms=now)
        elif step[0] == "roll":
            log.roll(now)
        else:
            now += step[1]
            log.compact(now_ms=now)
    view = latest_per_key(read_committed(log))
    log.roll(now)
    unclosed = unclosed_transactions(log)
    for gap in passes:
        now += gap
        log.compact(now_ms=now)
        assert latest_per_key(read_committed(log)) == view
        assert aborted_records_below(log, log.first_dirty_offset) == []
        assert unclosed_transactions(log) == unclosed
        assert log.size_bytes == sum(s.size_bytes for s in log.segments)

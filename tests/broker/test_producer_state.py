"""ProducerStateManager: duplicates, sequence and epoch checks, rebuild from the log (Kafka's ProducerStateManagerTest)."""
from kafkalab.broker.producer_state import ProducerStateManager
from kafkalab.log.partition_log import PartitionLog
from kafkalab.protocol.produce import NUM_BATCHES_TO_RETAIN
from tests.broker.harness import batch


def _append(log: PartitionLog, state: ProducerStateManager, n: int, *, pid: int = 7, epoch: int = 0,
            seq: int = 0) -> None:
    b = batch(n, pid=pid, epoch=epoch, seq=seq)
    error, dup = state.check(b)
    assert (error, dup) == ("NONE", None)
    state.update(log.append_as_leader(b, 0))


def test_in_sequence_batches_are_accepted_and_tracked() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 3, seq=0)
    _append(log, state, 2, seq=3)
    assert state.last_sequence(7) == 4


def test_duplicate_of_a_recent_batch_is_answered_with_its_original_offsets() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 3, seq=0)
    _append(log, state, 2, seq=3)
    error, dup = state.check(batch(3, pid=7, epoch=0, seq=0))
    assert error == "NONE" and dup is not None
    assert (dup.first_offset, dup.last_offset) == (0, 2)


def test_only_the_last_five_batches_are_remembered() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    for i in range(NUM_BATCHES_TO_RETAIN + 1):
        _append(log, state, 1, seq=i)
    assert state.check(batch(1, pid=7, epoch=0, seq=0)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)
    assert state.check(batch(1, pid=7, epoch=0, seq=1))[1] is not None


def test_a_gap_in_sequence_is_out_of_order() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 2, seq=0)
    assert state.check(batch(1, pid=7, epoch=0, seq=5)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)


def test_an_older_epoch_is_fenced_and_a_newer_epoch_must_start_at_zero() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 2, epoch=3, seq=0)
    assert state.check(batch(1, pid=7, epoch=2, seq=2)) == ("INVALID_PRODUCER_EPOCH", None)
    assert state.check(batch(1, pid=7, epoch=4, seq=2)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)
    assert state.check(batch(1, pid=7, epoch=4, seq=0)) == ("NONE", None)


def test_an_unknown_producer_may_start_at_any_sequence() -> None:
    assert ProducerStateManager().check(batch(1, pid=9, epoch=0, seq=42)) == ("NONE", None)


def test_sequence_wraps_after_int_max() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 1, seq=2**31 - 1)
    assert state.check(batch(1, pid=7, epoch=0, seq=0)) == ("NONE", None)


def test_rebuild_from_the_log_restores_duplicate_detection() -> None:
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 3, seq=0)
    log.append_as_leader(batch(1), 0)            # a non-idempotent batch in between
    _append(log, state, 2, seq=3)
    fresh = ProducerStateManager()
    fresh.rebuild(log.batches())
    error, dup = fresh.check(batch(2, pid=7, epoch=0, seq=3))
    assert error == "NONE" and dup is not None and dup.first_offset == 4


def _marker(log: PartitionLog, state: ProducerStateManager, *, pid: int = 7, epoch: int = 0) -> None:
    from kafkalab.common.records import COMMIT_MARKER, control_batch
    assert state.check_marker(pid, epoch) == "NONE"
    state.update(log.append_as_leader(control_batch(COMMIT_MARKER, pid, epoch, 0, 0), 0))


def test_after_a_kip890_marker_bumps_the_epoch_the_next_transaction_must_start_at_sequence_zero() -> None:
    """Transaction version 2: the commit marker carries the bumped epoch, so the producer's entry has that epoch and
    no batch. A batch of the next transaction with a later sequence (it overtook the batch with sequence 0, which
    still waits for its KIP-890 verification) is out of order, as in Kafka's ``checkSequence``: were it appended,
    the batch with sequence 0 could never follow it."""
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 6, epoch=1, seq=0)           # transaction 1, epoch 1, sequences 0..5
    _marker(log, state, epoch=2)                     # EndTxn bumped the epoch; the marker carries epoch 2
    assert state.check(batch(1, pid=7, epoch=2, seq=6)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)
    _append(log, state, 6, epoch=2, seq=0)           # sequence 0 first, then 6 follows
    _append(log, state, 1, epoch=2, seq=6)
    assert state.last_sequence(7) == 6


def test_a_marker_of_the_same_epoch_keeps_the_sequence_going() -> None:
    """Transaction version 1: the marker has the producer's epoch; the next transaction continues its sequence."""
    log, state = PartitionLog(), ProducerStateManager()
    _append(log, state, 3, epoch=4, seq=0)
    _marker(log, state, epoch=4)
    assert state.check(batch(1, pid=7, epoch=4, seq=0)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)
    _append(log, state, 1, epoch=4, seq=3)


def test_a_marker_for_a_producer_the_partition_has_no_batch_of_also_asks_for_sequence_zero() -> None:
    """A partition added to the transaction but never written to gets the marker only; then sequences start at 0."""
    log, state = PartitionLog(), ProducerStateManager()
    _marker(log, state, epoch=3)
    assert state.check(batch(1, pid=7, epoch=3, seq=2)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)
    assert state.check(batch(1, pid=7, epoch=3, seq=0)) == ("NONE", None)


def test_a_verification_guard_refuses_a_sequence_above_its_lowest_until_a_transactional_batch_is_appended() -> None:
    """Kafka's VerificationStateEntry: requests verified together share the guard, which keeps their lowest
    sequence (a newer epoch starts it again); a higher batch may not go first, even for a producer the partition
    has no state for. Once a transactional batch is appended the transaction is ongoing and sequences rule alone."""
    from dataclasses import replace
    log, state = PartitionLog(), ProducerStateManager()
    guard = state.start_verification(7, 3, 0)
    assert state.start_verification(7, 1, 0) is guard and guard.lowest_sequence == 1
    assert state.start_verification(7, 2, 0) is guard and guard.lowest_sequence == 1
    assert state.check(batch(1, pid=7, epoch=0, seq=2)) == ("OUT_OF_ORDER_SEQUENCE_NUMBER", None)
    first = replace(batch(1, pid=7, epoch=0, seq=1), is_transactional=True)
    assert state.check(first) == ("NONE", None)
    state.update(log.append_as_leader(first, 0))
    assert state.verified(7, guard)
    assert state.check(batch(1, pid=7, epoch=0, seq=2)) == ("NONE", None)
    assert state.start_verification(8, 5, 0).lowest_sequence == 5
    assert state.start_verification(8, 0, 1).lowest_sequence == 0          # a newer epoch starts again

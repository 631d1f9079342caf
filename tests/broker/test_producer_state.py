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

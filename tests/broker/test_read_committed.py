"""read_committed on the leader: fetches stop at the last stable offset and carry the aborted transactions; markers
come only from the coordinator (KIP-98)."""
from __future__ import annotations

from typing import Any

from kafkalab.common.records import ABORT_MARKER, COMMIT_MARKER, Record, RecordBatch, control_batch
from kafkalab.protocol.fetch import FetchPartition, FetchRequest, FetchResponse
from kafkalab.protocol.list_offsets import LATEST_TIMESTAMP, ListOffsetsRequest, ListOffsetsResponse
from kafkalab.protocol.produce import ProduceResponse
from tests.broker.harness import TP, FakePort, Meta, batch, make_rm, produce


def single_replica_leader() -> tuple[Any, FakePort]:
    rm, port = make_rm(1)
    meta = Meta()
    rm.apply_change(meta.image, meta.create_topic("t", [(1,)]), 0)
    return rm, port


def txn(pid: int, n: int = 2, seq: int = 0) -> RecordBatch:
    return RecordBatch(tuple(Record(None, b"x") for _ in range(n)), producer_id=pid, producer_epoch=0,
                       base_sequence=seq, is_transactional=True)


def fetch(rm: Any, port: FakePort, offset: int, isolation_level: int) -> Any:
    rm.handle_fetch("c", FetchRequest(-1, 0, 1, 1 << 20, {TP: FetchPartition(offset)},
                                      isolation_level=isolation_level), 0)
    return port.only(FetchResponse).responses[TP]


def marker(rm: Any, port: FakePort, kind: int, pid: int) -> str:
    rm.handle_produce("coordinator", produce(control_batch(kind, pid, 0, 0, 0)), 0, from_coordinator=True)
    return str(port.only(ProduceResponse).responses[TP].error)


def test_read_committed_stops_at_the_open_transaction_and_sees_the_abort_list() -> None:
    rm, port = single_replica_leader()
    rm.handle_produce("p", produce(batch(2)), 0)                # 0..1 plain
    rm.handle_produce("p", produce(txn(7)), 0)                  # 2..3 producer 7's transaction
    rm.handle_produce("p", produce(batch(1)), 0)                # 4
    port.take()
    uncommitted = fetch(rm, port, 0, 0)
    assert (uncommitted.high_watermark, uncommitted.last_stable_offset) == (5, 2)
    assert [b.base_offset for b in uncommitted.batches] == [0, 2, 4]
    committed = fetch(rm, port, 0, 1)
    assert [b.base_offset for b in committed.batches] == [0]    # below the LSO only
    rm.handle_list_offsets("c", ListOffsetsRequest({TP: LATEST_TIMESTAMP}, isolation_level=1), 0)
    assert port.only(ListOffsetsResponse).responses[TP].offset == 2
    assert marker(rm, port, ABORT_MARKER, 7) == "NONE"          # 5
    committed = fetch(rm, port, 0, 1)
    assert committed.last_stable_offset == 6
    assert [b.base_offset for b in committed.batches] == [0, 2, 4, 5]
    assert committed.aborted_transactions == ((7, 2),)
    assert fetch(rm, port, 4, 1).aborted_transactions == ((7, 2),)   # its marker (5) is still ahead
    assert fetch(rm, port, 6, 1).aborted_transactions == ()
    rm.handle_produce("p", produce(txn(8, 1)), 0)
    port.take()
    assert marker(rm, port, COMMIT_MARKER, 8) == "NONE"
    assert fetch(rm, port, 6, 1).aborted_transactions == ()
    assert rm.describe()[0]["high_watermark"] == rm.last_stable_offset(TP) == 8


def test_a_client_may_not_write_a_marker_and_an_older_epoch_marker_is_fenced() -> None:
    rm, port = single_replica_leader()
    rm.handle_produce("p", produce(control_batch(COMMIT_MARKER, 7, 0, 0, 0)), 0)
    response = port.only(ProduceResponse).responses[TP]
    assert (response.error, response.error_message) == (
        "INVALID_RECORD", "Control batches may only be written by the transaction coordinator (WriteTxnMarkers).")
    rm.handle_produce("p", produce(RecordBatch((Record(None, b"x"),), producer_id=7, producer_epoch=3,
                                               base_sequence=0, is_transactional=True)), 0)
    port.take()
    rm.handle_produce("c", produce(control_batch(ABORT_MARKER, 7, 2, 0, 0)), 0, from_coordinator=True)
    assert port.only(ProduceResponse).responses[TP].error == "INVALID_PRODUCER_EPOCH"

"""A deposed transaction coordinator cannot write a marker after its successor (KIP-98's coordinator epoch: Kafka's
``ProducerAppendInfo.checkCoordinatorEpoch`` on the partition leader, ``TransactionMarkerRequestCompletionHandler``
on the coordinator)."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import kafkalab as kl
from kafkalab.broker.producer_state import ProducerStateManager, marker_coordinator_epoch
from kafkalab.common.records import COMMIT_MARKER, RecordBatch, control_batch
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC, partition_for
from tests.txn.helpers import cluster, read_all

TID = "zombie-coordinator"


def _markers(c: kl.Cluster, tp: TopicPartition) -> list[RecordBatch]:
    leader = c.leader_for(tp.topic, tp.partition)
    p = c.broker(leader).rm.partition(tp.topic, tp.partition)
    return [b for b in p.log.batches() if b.is_control]


def paused_coordinator_run(seed: int = 7, next_transaction: bool = False) -> dict[str, Any]:
    """A commit whose coordinator is paused (a long GC) with its markers unanswered; the next coordinator completes
    it; the old one resumes and, not knowing yet that it was deposed, sends its marker again. ``next_transaction``:
    the producer commits another transaction on the partition meanwhile (a newer producer epoch there)."""
    c = cluster(seed=seed)
    p = c.producer({"transactional.id": TID})
    p.init_transactions()
    old = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for(TID, 50))
    # the transaction's partition is led elsewhere, so the old coordinator's marker has to cross the network
    index = next(i for i in range(2) if c.leader_for("out", i) != old)
    tp = TopicPartition("out", index)
    data_leader = c.leader_for("out", index)
    p.begin_transaction()
    for i in range(3):
        p.send("out", value=b"v%d" % i, key=b"k", partition=index)
    p.flush()
    p.commit_transaction()                      # PrepareCommit written; the markers are on their way
    assert c.broker(old).txn.coordinator.markers.in_flight
    c.partition([old], [data_leader])           # the marker (or its answer) is lost ...
    c.pause(old)                                # ... and the coordinator freezes before its retry
    c.run(30_000)
    new = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for(TID, 50))
    completed = c.describe_transactions(TID)
    if next_transaction:
        p.begin_transaction()
        p.send("out", value=b"v3", key=b"k", partition=index)
        p.commit_transaction()
        c.run(5_000)
    markers_before_resume = len(_markers(c, tp))
    c.heal()
    c.resume(old)                               # its marker retry timer fires at once, with the old epoch
    c.run(30_000)
    return {"cluster": c, "old": old, "new": new, "tp": tp, "completed": completed,
            "markers_before_resume": markers_before_resume, "markers": _markers(c, tp)}


def test_a_deposed_coordinator_marker_is_fenced_and_not_appended() -> None:
    r = paused_coordinator_run()
    c, old, new = r["cluster"], r["old"], r["new"]
    assert new is not None and new != old
    assert (r["completed"]["state"], r["completed"]["coordinator"]) == ("CompleteCommit", new)
    # the successor wrote exactly one marker with its newer coordinator epoch; the zombie's retry added none
    assert r["markers_before_resume"] == len(r["markers"])
    fenced = c.metrics("txn.marker_fenced")
    assert len(fenced) >= 1 and set(fenced.node) == {old}
    assert set(fenced.transactional_id) == {TID} and set(fenced.error) == {"TRANSACTION_COORDINATOR_FENCED"}
    epochs = [marker_coordinator_epoch(b) for b in r["markers"]]
    assert epochs == sorted(epochs) and epochs[-1] > max(int(e) for e in fenced.coordinator_epoch)
    # the old coordinator gave the markers up (no retry pending) and the transaction stays committed once
    assert not c.broker(old).txn.coordinator.markers.in_flight
    assert c.describe_transactions(TID)["state"] == "CompleteCommit"
    assert read_all(c, "read_committed", "rc") == [b"v0", b"v1", b"v2"]
    # a leader that rebuilds its producer state from this log (failover) knows the newer coordinator epoch
    rebuilt = ProducerStateManager()
    rebuilt.rebuild(r["markers"])
    pid = r["markers"][-1].producer_id
    assert rebuilt.producers[pid].coordinator_epoch == epochs[-1]
    assert rebuilt.check_marker(pid, r["markers"][-1].producer_epoch, epochs[-1] - 1) == "TRANSACTION_COORDINATOR_FENCED"


def test_the_leader_answers_transaction_coordinator_fenced_to_an_older_coordinator_epoch() -> None:
    state = ProducerStateManager()
    state.update(_stored(control_batch(COMMIT_MARKER, 9, 1, 5, 0)))
    assert state.producers[9].coordinator_epoch == 5
    assert state.check_marker(9, 1, 4) == "TRANSACTION_COORDINATOR_FENCED"
    assert state.check_marker(9, 1, 5) == "NONE"
    assert state.check_marker(9, 2, 6) == "NONE"
    # the producer epoch is checked first (Kafka's order in appendEndTxnMarker)
    assert state.check_marker(9, 0, 4) == "INVALID_PRODUCER_EPOCH"


def test_the_coordinator_epoch_survives_data_batches_an_epoch_bump_and_a_rebuild_from_the_log() -> None:
    state = ProducerStateManager()
    marker = _stored(control_batch(COMMIT_MARKER, 9, 1, 5, 0))
    data = _stored(RecordBatch(((b"k", b"v", 0, ()),), producer_id=9, producer_epoch=2, base_sequence=0,
                               is_transactional=True), base_offset=1)
    state.update(marker)
    state.update(data)                          # a newer producer epoch keeps the coordinator epoch
    assert (state.producers[9].producer_epoch, state.producers[9].coordinator_epoch) == (2, 5)
    rebuilt = ProducerStateManager()
    rebuilt.rebuild([marker, data])             # read back from the marker's EndTransactionMarker value
    assert rebuilt.producers[9].coordinator_epoch == 5
    assert rebuilt.check_marker(9, 2, 4) == "TRANSACTION_COORDINATOR_FENCED"


def _stored(batch: RecordBatch, base_offset: int = 0) -> RecordBatch:
    return batch.with_offset(base_offset, 0)


def test_the_fenced_marker_story_is_the_same_under_any_hash_seed() -> None:
    code = ("from tests.txn.test_marker_fencing import paused_coordinator_run as f; r = f(); "
            "c = r['cluster']; print(c.now, len(c.history), c.metrics('txn.marker_fenced').to_dict('records'), "
            "[(b.base_offset, b.producer_epoch) for b in r['markers']])")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "777")]
    assert outs[0] == outs[1] and "zombie-coordinator" in outs[0]


def test_a_deposed_coordinator_marker_older_than_the_producer_epoch_is_given_up() -> None:
    r = paused_coordinator_run(next_transaction=True)
    c, old = r["cluster"], r["old"]
    assert r["markers_before_resume"] == len(r["markers"]) == 3
    fenced = c.metrics("txn.marker_fenced")
    # the producer epoch is checked before the coordinator epoch (ProducerAppendInfo.appendEndTxnMarker)
    assert list(fenced.node) == [old] and list(fenced.error) == ["INVALID_PRODUCER_EPOCH"]
    assert not c.broker(old).txn.coordinator.markers.in_flight
    assert read_all(c, "read_committed", "rc") == [b"v0", b"v1", b"v2", b"v3"]


def test_the_coordinator_epoch_is_read_from_the_marker_value() -> None:
    assert marker_coordinator_epoch(control_batch(COMMIT_MARKER, 9, 1, 12, 0)) == 12
    assert marker_coordinator_epoch(control_batch(COMMIT_MARKER, 9, 1, -1, 0)) == -1
    short = RecordBatch(((b"\x00\x00\x00\x01", b"\x00\x00", 0, ()),), producer_id=9, producer_epoch=1,
                        is_control=True, is_transactional=True)
    assert marker_coordinator_epoch(short) == -1

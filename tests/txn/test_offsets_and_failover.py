"""KIP-447 offset fencing, offsets published only by the COMMIT marker, coordinator failover in the middle of a
commit (the new coordinator writes the markers), and the history of transactions."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC, partition_for
from tests.txn.helpers import cluster, read_all


def committed(c: kl.Cluster, group: str) -> dict[int, int]:
    frame = c.group_offsets(group)
    return {int(r.partition): int(r.committed) for r in frame.itertuples()} if len(frame) else {}


def test_offsets_sent_to_a_transaction_appear_only_when_it_commits() -> None:
    c = cluster(seed=5)
    consumer = c.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["out"])
    for _ in range(10):
        consumer.poll(timeout_ms=300)
    p = c.producer({"transactional.id": "ctp"})
    p.init_transactions()
    p.begin_transaction()
    p.send_offsets_to_transaction({kl.TopicPartition("out", 0): 7}, consumer.group_metadata())
    assert committed(c, "g") == {}                 # pending until the marker
    p.abort_transaction()
    c.run(500)
    assert committed(c, "g") == {}                 # dropped by the ABORT marker
    p.begin_transaction()
    p.send_offsets_to_transaction({kl.TopicPartition("out", 0): 9}, consumer.group_metadata())
    p.commit_transaction()
    c.run(500)
    assert committed(c, "g") == {0: 9}


def test_kip_447_an_older_generation_cannot_commit_offsets() -> None:
    c = cluster(seed=6)
    first = c.consumer({"group.id": "g447", "auto.offset.reset": "earliest"})
    first.subscribe(["out"])
    for _ in range(10):
        first.poll(timeout_ms=300)
    stale = first.group_metadata()
    second = c.consumer({"group.id": "g447", "auto.offset.reset": "earliest"})
    second.subscribe(["out"])
    for _ in range(20):
        first.poll(timeout_ms=200)
        second.poll(timeout_ms=200)
    assert first.group_metadata().generation_id > stale.generation_id
    zombie = c.producer({"transactional.id": "z447"})
    zombie.init_transactions()
    zombie.begin_transaction()
    with pytest.raises(kl.errors.IllegalGenerationError, match="Transactional offset commit failed for group g447: "
                                                               "ILLEGAL_GENERATION"):
        zombie.send_offsets_to_transaction({kl.TopicPartition("out", 0): 3}, stale)
    zombie.abort_transaction()
    zombie.begin_transaction()
    zombie.send_offsets_to_transaction({kl.TopicPartition("out", 0): 3}, first.group_metadata())
    zombie.commit_transaction()


def test_the_new_coordinator_completes_a_commit_the_old_one_decided() -> None:
    c = cluster(seed=7)
    p = c.producer({"transactional.id": "failover"})
    p.init_transactions()
    index = partition_for("failover", 50)
    old = c.leader_for(TRANSACTION_STATE_TOPIC, index)
    p.begin_transaction()
    for i in range(6):
        p.send("out", value=b"v%d" % i, key=b"k%d" % i)
    p.flush()
    p.commit_transaction()           # answered once PrepareCommit is written, before the markers
    assert c.describe_transactions("failover")["state"] == "PrepareCommit"
    assert c.broker(old).txn.coordinator.markers.in_flight
    c.crash(old)                     # the coordinator dies with its markers unanswered
    c.run(30_000)
    new = c.leader_for(TRANSACTION_STATE_TOPIC, index)
    assert new is not None and new != old
    described = c.describe_transactions("failover")
    assert (described["state"], described["coordinator"]) == ("CompleteCommit", new)
    assert c.broker(new).txn.coordinator.markers.markers_sent > 0
    assert read_all(c, "read_committed", "rc") == [b"v%d" % i for i in range(6)]


def test_the_history_records_one_txn_operation_per_transaction() -> None:
    c = cluster(seed=8)
    consumer = c.consumer({"group.id": "gh", "auto.offset.reset": "earliest"})
    consumer.subscribe(["out"])
    for _ in range(10):
        consumer.poll(timeout_ms=300)
    p = c.producer({"transactional.id": "hist"})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"one", key=b"a", partition=1)
    p.send_offsets_to_transaction({kl.TopicPartition("out", 1): 4}, consumer.group_metadata())
    p.commit_transaction()
    p.begin_transaction()
    p.send("out", value=b"two", key=b"b", partition=1)
    p.flush()
    p.abort_transaction()
    txns = [op for op in c.history.ops if op.f == "txn"]
    assert [(op.type, op.value if op.type == "invoke" else op.key) for op in txns] == [
        ("invoke", "hist"), ("ok", "gh"), ("invoke", "hist"), ("fail", None)]
    ok, fail = txns[1], txns[3]
    assert ok.reads == (("out", 1, 0, b"a", b"one"),) and dict(ok.offsets) == {("out", 1): 4}
    assert fail.reads == (("out", 1, 2, b"b", b"two"),) and fail.error == "TRANSACTION_ABORTED"
    frame = c.history.to_frame()
    rows = frame[(frame.f == "txn") & (frame.type != "invoke")]
    assert list(zip(rows.type, rows.value, rows.offset, strict=True)) == [("ok", b"one", 0), ("fail", b"two", 2)]


def test_a_producer_that_crashes_mid_transaction_leaves_an_info_txn() -> None:
    c = cluster(seed=9)
    p = c.producer({"transactional.id": "crashy"})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"maybe", key=b"k")
    p.flush()
    c.crash(p.node_id)
    c.restart(p.node_id)
    txns = [op for op in c.history.ops if op.f == "txn"]
    assert [op.type for op in txns] == ["invoke", "info"]
    assert txns[1].reads == (("out", txns[1].reads[0][1], 0, b"k", b"maybe"),)

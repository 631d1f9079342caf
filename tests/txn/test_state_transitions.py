"""Every legal edge of the transaction coordinator's state table, taken by a cluster scenario that reads like a
story: begin, add partitions, commit, abort, re-initialise, a new incarnation fencing an open transaction, the
timeout abort, expiry to Dead, and a coordinator failover in the middle of a commit. Each story reads the
coordinator's ``txn.state`` records (previous state, state, node); the coverage test runs them all and fails if any
edge of ``VALID_PREVIOUS_STATES`` is not taken. Illegal transitions are refused with their type and message."""
from __future__ import annotations

from collections.abc import Callable

import pytest

import kafkalab as kl
from kafkalab.errors import InvariantViolation
from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC, partition_for
from kafkalab.txn.metadata import VALID_PREVIOUS_STATES, TransactionMetadata, TransactionState
from tests.txn.helpers import cluster, read_all

Edge = tuple[str, str]
EXPIRY = {"transactional.id.expiration.ms": 60_000,
          "transaction.remove.expired.transaction.cleanup.interval.ms": 10_000}


def taken(c: kl.Cluster, tid: str) -> list[Edge]:
    """The transitions of ``tid`` in the order they took effect."""
    frame = c.metrics("txn.state")
    frame = frame[frame.transactional_id == tid]
    return list(zip(frame.previous, frame.state, strict=True))


def nodes(c: kl.Cluster, tid: str, state: str) -> list[int]:
    frame = c.metrics("txn.state")
    return [int(n) for n in frame[(frame.transactional_id == tid) & (frame.state == state)].node]


def metadata(c: kl.Cluster, tid: str) -> TransactionMetadata:
    leader = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for(tid))
    server = c.broker(leader)
    assert server is not None
    return server.txn.coordinator.shards[partition_for(tid)].txns[tid]


# ---- the stories ---------------------------------------------------------------------------------------------------
def story_commit_then_abort_then_commit() -> set[Edge]:
    """A producer initialises, writes to two partitions and commits, aborts the next transaction, commits a third."""
    c = cluster(seed=21)
    p = c.producer({"transactional.id": "story"})
    p.init_transactions()                                        # a new id: Empty, epoch 0
    p.begin_transaction()
    p.send("out", value=b"one", key=b"a", partition=0)
    p.flush()                                                    # the first partition: Empty -> Ongoing
    p.send("out", value=b"two", key=b"b", partition=1)
    p.flush()                                                    # another partition: Ongoing -> Ongoing
    p.commit_transaction()
    p.begin_transaction()
    p.send("out", value=b"dropped", key=b"c", partition=0)
    p.flush()
    p.abort_transaction()
    p.begin_transaction()
    p.send("out", value=b"three", key=b"d", partition=1)
    p.commit_transaction()
    c.run(1_000)
    assert taken(c, "story") == [
        ("Empty", "Empty"), ("Empty", "Ongoing"), ("Ongoing", "Ongoing"),
        ("Ongoing", "PrepareCommit"), ("PrepareCommit", "CompleteCommit"),
        ("CompleteCommit", "Ongoing"), ("Ongoing", "PrepareAbort"), ("PrepareAbort", "CompleteAbort"),
        ("CompleteAbort", "Ongoing"), ("Ongoing", "PrepareCommit"), ("PrepareCommit", "CompleteCommit")]
    assert read_all(c, "read_committed", "rc") == [b"one", b"three", b"two"]
    return set(taken(c, "story"))


def story_reinitialising_after_each_outcome() -> set[Edge]:
    """A restarted application calls init_transactions again: after nothing, after a commit and after an abort."""
    c = cluster(seed=22)
    edges: set[Edge] = set()
    c.producer({"transactional.id": "again"}).init_transactions()
    c.producer({"transactional.id": "again"}).init_transactions()        # Empty -> Empty, epoch 1
    assert taken(c, "again") == [("Empty", "Empty"), ("Empty", "Empty")]
    for tid, commit in (("after-commit", True), ("after-abort", False)):
        p = c.producer({"transactional.id": tid})
        p.init_transactions()
        p.begin_transaction()
        p.send("out", value=tid.encode(), key=b"k")
        p.flush()
        if commit:
            p.commit_transaction()
        else:
            p.abort_transaction()
        c.run(500)
        restarted = c.producer({"transactional.id": tid})
        restarted.init_transactions()
        assert restarted.core.producer_epoch > p.core.producer_epoch
        last = taken(c, tid)[-1]
        assert last == ("CompleteCommit" if commit else "CompleteAbort", "Empty")
        edges |= set(taken(c, tid))
    return edges | set(taken(c, "again"))


def story_a_new_incarnation_fences_the_open_transaction() -> set[Edge]:
    """A zombie has a transaction open when its replacement initialises: the coordinator fences the zombie's epoch
    (PrepareEpochFence, in memory) and aborts its transaction with the fenced epoch."""
    c = cluster(seed=23)
    zombie = c.producer({"transactional.id": "app"})
    zombie.init_transactions()
    zombie.begin_transaction()
    zombie.send("out", value=b"zombie", key=b"k")
    zombie.flush()
    fresh = c.producer({"transactional.id": "app"})
    fresh.init_transactions()
    assert taken(c, "app")[2:] == [("Ongoing", "PrepareEpochFence"), ("PrepareEpochFence", "PrepareAbort"),
                                   ("PrepareAbort", "CompleteAbort"), ("CompleteAbort", "Empty")]
    with pytest.raises(kl.errors.ProducerFencedError):
        zombie.commit_transaction()
    c.run(500)
    assert read_all(c, "read_committed", "rc") == []
    return set(taken(c, "app"))


def story_the_coordinator_times_out_a_hanging_transaction() -> set[Edge]:
    """A producer opens a transaction and goes quiet: after transaction.timeout.ms the coordinator's check fences and
    aborts it, and the LSO moves on."""
    c = cluster(seed=24)
    p = c.producer({"transactional.id": "quiet", "transaction.timeout.ms": 5_000})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"never", key=b"k", partition=0)
    p.flush()
    c.run(12_000)                                                # checked every 10 s
    assert taken(c, "quiet")[2:] == [("Ongoing", "PrepareEpochFence"), ("PrepareEpochFence", "PrepareAbort"),
                                     ("PrepareAbort", "CompleteAbort")]
    stats = c.describe_topic("out")
    assert int(stats.last_stable_offset[0]) == int(stats.high_watermark[0])
    return set(taken(c, "quiet"))


def story_idle_ids_expire_to_dead() -> set[Edge]:
    """Three ids go idle, one after initialising, one after a commit, one after an abort; an hour later none is known
    to its coordinator, each left a tombstone, and an id with a transaction open is still there."""
    c = cluster(seed=25, **EXPIRY)
    c.producer({"transactional.id": "idle-empty"}).init_transactions()
    for tid, commit in (("idle-commit", True), ("idle-abort", False)):
        p = c.producer({"transactional.id": tid})
        p.init_transactions()
        p.begin_transaction()
        p.send("out", value=tid.encode(), key=b"k")
        p.flush()
        if commit:
            p.commit_transaction()
        else:
            p.abort_transaction()
    busy = c.producer({"transactional.id": "busy", "transaction.timeout.ms": 900_000})
    busy.init_transactions()
    busy.begin_transaction()
    busy.send("out", value=b"open", key=b"k")
    busy.flush()
    c.run(90_000)
    known = set(c.list_transactions()["transactional_id"])
    assert known == {"busy"} and c.describe_transactions("busy")["state"] == "Ongoing"
    assert [taken(c, tid)[-1] for tid in ("idle-empty", "idle-commit", "idle-abort")] == [
        ("Empty", "Dead"), ("CompleteCommit", "Dead"), ("CompleteAbort", "Dead")]
    return {e for tid in ("idle-empty", "idle-commit", "idle-abort") for e in taken(c, tid)}


def story_the_new_coordinator_completes_a_commit_the_old_one_prepared() -> set[Edge]:
    """The coordinator writes PrepareCommit and crashes before its markers are answered: the broker that takes over
    its ``__transaction_state`` partition replays it, sends the markers and writes CompleteCommit."""
    c = cluster(seed=26)
    p = c.producer({"transactional.id": "moved"})
    p.init_transactions()
    old = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for("moved"))
    p.begin_transaction()
    for i in range(4):
        p.send("out", value=b"m%d" % i, key=b"k%d" % i)
    p.flush()
    p.commit_transaction()                                       # answered at PrepareCommit
    assert taken(c, "moved")[-1] == ("Ongoing", "PrepareCommit")
    c.crash(old)
    c.run(30_000)
    new = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for("moved"))
    assert new is not None and new != old
    assert taken(c, "moved")[-1] == ("PrepareCommit", "CompleteCommit")
    assert nodes(c, "moved", "PrepareCommit") == [old] and nodes(c, "moved", "CompleteCommit") == [new]
    assert read_all(c, "read_committed", "rc") == [b"m0", b"m1", b"m2", b"m3"]
    return set(taken(c, "moved"))


STORIES: list[Callable[[], set[Edge]]] = [
    story_commit_then_abort_then_commit, story_reinitialising_after_each_outcome,
    story_a_new_incarnation_fences_the_open_transaction, story_the_coordinator_times_out_a_hanging_transaction,
    story_idle_ids_expire_to_dead, story_the_new_coordinator_completes_a_commit_the_old_one_prepared]


@pytest.mark.parametrize("story", STORIES, ids=[s.__name__[6:] for s in STORIES])
def test_story(story: Callable[[], set[Edge]]) -> None:
    assert story()


def test_the_stories_take_every_legal_edge_of_the_table_and_no_other() -> None:
    legal = {(prev.value, state.value) for state, prevs in VALID_PREVIOUS_STATES.items() for prev in prevs}
    seen: set[Edge] = set()
    for story in STORIES:
        seen |= story()
    assert seen <= legal, f"illegal transitions taken: {sorted(seen - legal)}"
    assert seen == legal, f"legal transitions no story takes: {sorted(legal - seen)}"
    assert len(legal) == 16


# ---- illegal transitions -------------------------------------------------------------------------------------------
def test_a_live_coordinators_metadata_refuses_an_illegal_transition_and_keeps_working() -> None:
    c = cluster(seed=27)
    p = c.producer({"transactional.id": "strict"})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"x", key=b"k")
    p.commit_transaction()
    c.run(500)
    md = metadata(c, "strict")
    assert md.state is TransactionState.COMPLETE_COMMIT
    with pytest.raises(InvariantViolation, match=r"^transactional id 'strict': illegal transition CompleteCommit -> "
                                                 r"PrepareCommit \(allowed from: Ongoing\)"):
        md.prepare(TransactionState.PREPARE_COMMIT, now_ms=c.now)
    with pytest.raises(InvariantViolation, match=r"^transactional id 'strict': illegal transition CompleteCommit -> "
                                                 r"PrepareEpochFence \(allowed from: Ongoing\)"):
        md.prepare_fence(c.now)
    assert md.pending is None and md.state is TransactionState.COMPLETE_COMMIT
    dead = md.prepare_dead()
    with pytest.raises(InvariantViolation, match=r"^transactional id 'strict': Dead is never completed; an expired id "
                                                 r"is removed from its coordinator once its tombstone is written"):
        md.complete(dead)
    md.abort_pending()
    p.begin_transaction()                                        # the refused moves changed nothing
    p.send("out", value=b"y", key=b"k")
    p.commit_transaction()
    c.run(500)
    assert read_all(c, "read_committed", "rc") == [b"x", b"y"]


def test_out_of_order_end_txn_is_refused_by_the_coordinator_with_invalid_txn_state() -> None:
    """Abort after the coordinator committed (a retried EndTxn with the other outcome): INVALID_TXN_STATE, as Kafka's
    ``handleEndTransaction`` answers; the committed transaction stays committed."""
    from kafkalab.protocol.txn import EndTxnRequest, EndTxnResponse

    c = cluster(seed=28, tv=1)
    p = c.producer({"transactional.id": "twice"})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"kept", key=b"k")
    p.commit_transaction()
    c.run(500)
    leader = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for("twice"))
    server = c.broker(leader)
    assert server is not None
    answers: list[EndTxnResponse] = []
    coordinator = server.txn.coordinator
    coordinator._end_txn(EndTxnRequest("twice", p.core.producer_id, p.core.producer_epoch, False),
                         answers.append, c.now)
    coordinator._end_txn(EndTxnRequest("twice", p.core.producer_id, p.core.producer_epoch, True),
                         answers.append, c.now)
    assert [a.error for a in answers] == ["INVALID_TXN_STATE", "NONE"]
    assert c.describe_transactions("twice")["state"] == "CompleteCommit"

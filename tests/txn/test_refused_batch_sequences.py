"""A batch the leader refuses leaves no gap in the producer's sequences (Kafka's ``TransactionManager.handleFailedBatch``
with ``adjustSequenceNumbers``): a transactional producer moves the partition's later sequences down
(``TxnPartitionEntry.adjustSequencesDueToFailedBatch``), an idempotent one bumps its epoch.

The story: ``max.message.bytes`` of the topic is 2,000 bytes, so a 5,000-byte record is refused (MESSAGE_TOO_LARGE)
after the producer gave it a sequence. Under transaction version 1 the epoch stays the same across transactions, and
the next batch to that partition used to carry a sequence one past the refused one: OUT_OF_ORDER_SEQUENCE_NUMBER on
every retry, until the coordinator aborted the transaction at its timeout and fenced the producer. An idempotent
producer hit the same loop until ``delivery.timeout.ms`` (120 s).
"""
from __future__ import annotations

from typing import Any

import pytest

import kafkalab as kl
from kafkalab.errors import MessageTooLargeError
from tests.txn.helpers import read_all


def _cluster(tv: int) -> kl.Cluster:
    c = kl.Cluster(brokers=3, controllers=1, seed=1, config={"transaction.version": tv})
    c.create_topic("out", partitions=1, config={"max.message.bytes": 2000})
    return c


def _refused_then_next_transaction(tv: int, pipelined: bool) -> dict[str, Any]:
    c = _cluster(tv)
    p = c.producer({"transactional.id": "gap", "linger.ms": 0})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"a").result()
    big = p.send("out", value=b"x" * 5000)
    behind = None
    if pipelined:
        c.run(0.5)                                      # the big batch is on its way
        assert not big.done()
        behind = p.send("out", value=b"behind")         # a batch of its own, in flight behind the refused one
    with pytest.raises(MessageTooLargeError):
        big.result()
    p.abort_transaction()
    p.begin_transaction()
    p.send("out", value=b"b")
    start = c.now
    p.commit_transaction()
    waited = c.now - start
    c.run(1_000)
    return {"waited_ms": waited, "errors": dict(p.core.error_counts), "committed": read_all(c, "read_committed", "rc"),
            "behind": None if behind is None else (behind.done(), behind.exception())}


@pytest.mark.parametrize("tv", [1, 2])
def test_a_refused_batch_leaves_no_sequence_gap_for_the_next_transaction(tv: int) -> None:
    r = _refused_then_next_transaction(tv, pipelined=False)
    assert r["committed"] == [b"b"]
    assert "OUT_OF_ORDER_SEQUENCE_NUMBER" not in r["errors"] and r["waited_ms"] < 1_000


def test_a_batch_in_flight_behind_the_refused_one_is_resent_with_its_lower_sequence() -> None:
    r = _refused_then_next_transaction(1, pipelined=True)
    # the batch behind went with the old sequence, was refused as out of order once, and was resent with the new
    # one (written in the transaction, which the application then aborted); the next transaction commits at once
    assert r["errors"] == {"MESSAGE_TOO_LARGE": 2, "OUT_OF_ORDER_SEQUENCE_NUMBER": 1}
    assert r["behind"] == (True, None)
    assert r["committed"] == [b"b"] and r["waited_ms"] < 1_000


def test_an_idempotent_producer_bumps_its_epoch_after_a_refused_batch() -> None:
    c = _cluster(2)
    p = c.producer({"enable.idempotence": True, "linger.ms": 0})
    p.send("out", value=b"a").result()
    with pytest.raises(MessageTooLargeError):
        p.send("out", value=b"x" * 5000).result()
    epoch = p.core.producer_epoch
    start = c.now
    assert p.send("out", value=b"b").result().offset == 1
    assert c.now - start < 1_000
    assert p.core.producer_epoch == epoch + 1
    assert "OUT_OF_ORDER_SEQUENCE_NUMBER" not in p.core.error_counts

"""Sequences after a KIP-890 epoch bump: a batch that overtakes the transaction's first one is refused, then retried.

The story (found through Streams' ``exactly_once_v2``, fk_scenario seed 3). Under transaction version 2 every EndTxn
bumps the producer epoch and the commit marker carries the new epoch, so after the marker the partition remembers the
producer at that epoch with no batch. The next transaction's first batch (sequence 0) waits at the leader for its
KIP-890 verification, which the coordinator answers CONCURRENT_TRANSACTIONS while the previous transaction's markers
are still being written; the leader asks again every 20 ms, then gives up and answers CONCURRENT_TRANSACTIONS, and the
producer retries the batch. A second batch (sequence 1), sent while the first waited, is verified once the markers
are written, before the first is back. Kafka's ``ProducerAppendInfo.checkSequence`` refuses it (the entry's last
sequence is -1: the next must be 0) and the producer retries it behind the first; kafkalab used to accept any sequence
from an entry with no batch, so the second batch went into the log first, the first then got
OUT_OF_ORDER_SEQUENCE_NUMBER on every retry (the producer, which had sequence 1 acknowledged, kept retrying it, as
Kafka's ``canRetry`` does for a batch that is not the next sequence), the commit waited on it until the coordinator aborted the transaction at its
timeout and fenced the producer, and the transaction's records were lost.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import kafkalab as kl
from tests.txn.helpers import cluster, read_all


def _overtaking_batch(seed: int = 1) -> dict[str, Any]:
    c = cluster(seed=seed)                              # transaction version 2, the default
    p = c.producer({"transactional.id": "seq", "linger.ms": 0})
    p.init_transactions()
    coordinator = c.describe_transactions("seq")["coordinator"]
    leaders = {i: c.leader_for("out", i) for i in range(2)}
    fast, slow = next((f, s) for f in range(2) for s in range(2)
                      if f != s and leaders[s] not in (coordinator, leaders[f]))
    p.begin_transaction()
    p.send("out", value=b"t1-fast", partition=fast)
    p.send("out", value=b"t1-slow", partition=slow)
    p.flush()
    c.slow_link(coordinator, leaders[slow], 30, symmetric=False)   # one COMMIT marker takes 30 ms
    p.commit_transaction()                              # answered once PrepareCommit is written
    epoch_after_commit = p.core.producer_epoch
    p.begin_transaction()
    first = p.send("out", value=b"t2-first", partition=fast)       # sequence 0 of the new epoch
    c.run(25)
    story = {"state": c.describe_transactions("seq")["state"], "first_pending": not first.done()}
    second = p.send("out", value=b"t2-second", partition=fast)     # sequence 1, verified before the first
    p.commit_transaction()
    c.run(1_000)
    log = [(b.base_sequence, b.producer_epoch, [r.value for r in b.records])
           for b in c.broker(leaders[fast]).rm.partitions[kl.TopicPartition("out", fast)].log.batches()
           if not b.is_control and b.producer_epoch == epoch_after_commit]
    return {**story, "errors": dict(p.core.error_counts), "committed": read_all(c, "read_committed", "rc"),
            "log": log, "offsets": (first.result().offset, second.result().offset)}


def test_a_batch_that_overtakes_the_first_of_a_new_epoch_is_refused_and_follows_it() -> None:
    r = _overtaking_batch()
    assert r["state"] == "PrepareCommit" and r["first_pending"]     # the second goes while the first waits
    assert r["errors"] == {"CONCURRENT_TRANSACTIONS": 1, "OUT_OF_ORDER_SEQUENCE_NUMBER": 1}
    assert r["log"] == [(0, r["log"][0][1], [b"t2-first"]), (1, r["log"][0][1], [b"t2-second"])]
    assert r["offsets"][0] < r["offsets"][1]
    assert r["committed"] == [b"t1-fast", b"t1-slow", b"t2-first", b"t2-second"]


def test_on_a_partition_new_to_the_producer_the_verification_keeps_the_lowest_sequence_first() -> None:
    """The same race where the partition knows nothing of the producer yet (its first transaction wrote elsewhere):
    any sequence would do for an unknown producer, so Kafka's ``VerificationStateEntry`` keeps the lowest sequence
    verified with the guard and refuses a higher one until the producer's first transactional batch is appended.
    Without it the second batch went first and the first was refused as out of order, failing the transaction."""
    c = cluster(seed=1)
    c.create_topic("other", partitions=1)
    p = c.producer({"transactional.id": "fresh", "linger.ms": 0})
    p.init_transactions()
    coordinator = c.describe_transactions("fresh")["coordinator"]
    other_leader = c.leader_for("other", 0)
    part = next(i for i in range(2) if c.leader_for("out", i) != other_leader)
    assert other_leader != coordinator
    p.begin_transaction()
    p.send("other", value=b"t1").result()
    c.slow_link(coordinator, other_leader, 30, symmetric=False)    # its COMMIT marker takes 30 ms
    p.commit_transaction()
    p.begin_transaction()
    first = p.send("out", value=b"t2-first", partition=part)       # "out" has never seen this producer
    c.run(10)
    assert not first.done()
    second = p.send("out", value=b"t2-second", partition=part)
    p.commit_transaction()
    c.run(500)
    assert first.result().offset < second.result().offset
    assert p.core.error_counts == {"OUT_OF_ORDER_SEQUENCE_NUMBER": 1}                # the second, once
    assert read_all(c, "read_committed", "rc") == [b"t2-first", b"t2-second"]


def test_the_overtaking_story_is_the_same_under_any_hash_seed() -> None:
    code = ("from tests.txn.test_sequence_after_epoch_bump import _overtaking_batch as o; r = o(); "
            "print(r['log'], r['offsets'], sorted(r['errors'].items()))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "977")]
    assert outs[0] == outs[1] and outs[0]

"""Transactional-id expiration (``TransactionStateManager.removeExpiredTransactionalIds``): an idle id expires to Dead,
its tombstone goes to ``__transaction_state``, a failover does not bring it back, and a later InitProducerId starts
from scratch; ids with an open transaction never expire; the two configs are checked at the call."""
from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kafkalab as kl
from kafkalab.errors import ConfigError, TransactionalIdNotFoundError
from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC, partition_for
from kafkalab.txn.metadata import VALID_PREVIOUS_STATES, txn_key
from tests.txn.helpers import cluster, read_all

EXPIRY = {"transactional.id.expiration.ms": 60_000,
          "transaction.remove.expired.transaction.cleanup.interval.ms": 10_000}


def states(c: kl.Cluster, tid: str) -> list[tuple[str, str]]:
    frame = c.metrics("txn.state")
    frame = frame[frame.transactional_id == tid]
    return list(zip(frame.previous, frame.state, strict=True))


def tombstones(c: kl.Cluster, tid: str) -> int:
    """Tombstones of ``tid`` in the leader's replica of its ``__transaction_state`` partition."""
    leader = c.describe_topic(TRANSACTION_STATE_TOPIC).set_index("partition").loc[partition_for(tid), "leader"]
    server = c.broker(int(leader))
    assert server is not None
    p = server.rm.partition(TRANSACTION_STATE_TOPIC, partition_for(tid))
    assert p is not None
    return sum(1 for b in p.log.batches() for key, value, _ts, _h in b.rows if key == txn_key(tid) and value is None)


def test_an_idle_id_expires_to_dead_and_a_new_producer_starts_from_scratch() -> None:
    c = cluster(**EXPIRY)
    old = c.producer({"transactional.id": "idle"})
    old.init_transactions()
    old.begin_transaction()
    old.send("out", value=b"before", key=b"k")
    old.commit_transaction()
    first_pid = old.core.producer_id
    c.run(40_000)                                   # idle for less than the expiration: still there
    assert c.describe_transactions("idle")["state"] == "CompleteCommit"
    c.run(40_000)                                   # idle for 60 s by the 70 s check
    with pytest.raises(TransactionalIdNotFoundError, match="transactional id 'idle' is not known to its coordinator"):
        c.describe_transactions("idle")
    assert states(c, "idle")[-1] == ("CompleteCommit", "Dead")
    assert tombstones(c, "idle") == 1
    assert list(c.list_transactions().get("transactional_id", [])) == []
    with pytest.raises(kl.errors.KafkaError, match="INVALID_PRODUCER_ID_MAPPING"):
        old.begin_transaction()
        old.send("out", value=b"stale", key=b"k")
        old.commit_transaction()
    fresh = c.producer({"transactional.id": "idle"})
    fresh.init_transactions()
    assert fresh.core.producer_id != first_pid and fresh.core.producer_epoch == 0
    fresh.begin_transaction()
    fresh.send("out", value=b"after", key=b"k")
    fresh.commit_transaction()
    c.run(1_000)
    assert read_all(c, "read_committed", "rc") == [b"after", b"before"]


def test_an_id_with_a_transaction_open_does_not_expire_however_long_it_is_idle() -> None:
    c = cluster(**EXPIRY)
    p = c.producer({"transactional.id": "slow", "transaction.timeout.ms": 900_000})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"open", key=b"k")
    p.flush()
    c.run(300_000)                                  # five expiration periods, the transaction still open
    assert c.describe_transactions("slow")["state"] == "Ongoing"
    p.commit_transaction()                          # the coordinator still knows it: the commit goes through
    c.run(1_000)
    assert read_all(c, "read_committed", "rc") == [b"open"]
    c.run(80_000)                                   # now idle in CompleteCommit: it expires
    assert "slow" not in set(c.list_transactions().get("transactional_id", []))


def test_an_expired_id_stays_gone_after_its_coordinator_fails_over() -> None:
    c = cluster(seed=3, **EXPIRY)
    p = c.producer({"transactional.id": "gone"})
    p.init_transactions()
    c.run(80_000)
    assert states(c, "gone")[-1] == ("Empty", "Dead")
    old = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for("gone"))
    c.crash(old)
    c.run(30_000)
    new = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for("gone"))
    assert new is not None and new != old
    with pytest.raises(TransactionalIdNotFoundError, match="transactional id 'gone' is not known"):
        c.describe_transactions("gone")         # the replay read the tombstone last
    fresh = c.producer({"transactional.id": "gone"})
    fresh.init_transactions()
    assert fresh.core.producer_id != p.core.producer_id


def test_a_tombstone_that_cannot_be_written_leaves_the_id_until_a_later_check() -> None:
    c = cluster(seed=4, **EXPIRY)
    p = c.producer({"transactional.id": "stuck"})
    p.init_transactions()
    index = partition_for("stuck")
    leader = c.leader_for(TRANSACTION_STATE_TOPIC, index)
    followers = [b for b in c.describe_topic(TRANSACTION_STATE_TOPIC).set_index("partition").loc[index, "replicas"]
                 if b != leader]
    for b in followers:
        c.crash(b)                                  # min.insync.replicas 2 cannot be met
    c.run(80_000)
    assert c.describe_transactions("stuck")["state"] == "Empty"      # the write failed: nothing changed
    assert c.describe_transactions("stuck")["pending_state"] is None
    assert states(c, "stuck") == [("Empty", "Empty")]
    for b in followers:
        c.restart(b)
    c.run(60_000)
    assert states(c, "stuck")[-1] == ("Empty", "Dead")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("transactional.id.expiration.ms", 0,
     "invalid value 0 for broker config 'transactional.id.expiration.ms' (int): value must be in [1, ...]"),
    ("transaction.remove.expired.transaction.cleanup.interval.ms", "hourly",
     "invalid value 'hourly' for broker config 'transaction.remove.expired.transaction.cleanup.interval.ms' (int): "
     "expected an int; allowed: [1, ...]"),
    ("transactional.id.expiraton.ms", 5,
     "unknown broker config 'transactional.id.expiraton.ms': did you mean 'transactional.id.expiration.ms'"),
])
def test_the_expiration_configs_are_checked_at_the_call(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        kl.Cluster(brokers=1, config={key: value})


def test_the_defaults_are_kafkas() -> None:
    c = kl.Cluster(brokers=1)
    server = c.broker(1)
    assert server is not None
    coordinator = server.txn.coordinator
    assert (coordinator.expiration_ms, coordinator.expire_interval_ms) == (604_800_000, 3_600_000)


def expiry_run() -> str:
    c = cluster(seed=9, **EXPIRY)
    for tid in ("a", "b", "c"):
        p = c.producer({"transactional.id": tid})
        p.init_transactions()
        p.begin_transaction()
        p.send("out", value=tid.encode(), key=b"k")
        p.commit_transaction()
        c.run(7_000)
    c.producer({"transactional.id": "a"}).init_transactions()
    c.run(90_000)
    frame = c.metrics("txn.state")
    return repr(list(zip(frame.time_ms, frame.node, frame.transactional_id, frame.state, strict=True)))


def test_expiration_is_deterministic_across_hash_seeds() -> None:
    code = "from tests.txn.test_expiration import expiry_run; print(expiry_run())"
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=dict(os.environ, PYTHONHASHSEED=h)).stdout.strip() for h in ("1", "777")]
    assert outs[0] == outs[1] == expiry_run()
    assert "Dead" in outs[0]


def loaded(c: kl.Cluster, tid: str) -> bool:
    """The broker leading ``tid``'s ``__transaction_state`` partition has loaded it (a failover is over)."""
    leader = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for(tid))
    server = None if leader is None else c.broker(leader)
    shard = None if server is None else server.txn.coordinator.shards.get(partition_for(tid))
    return shard is not None and not shard.loading


def state_or_gone(c: kl.Cluster, tid: str) -> str:
    assert c.run_until(lambda: loaded(c, tid), 60_000), f"{tid}'s coordinator did not load in 60 s"
    try:
        return str(c.describe_transactions(tid)["state"])
    except TransactionalIdNotFoundError:
        return "expired"


STEPS = st.lists(st.sampled_from(["commit", "abort", "open", "idle", "crash-coordinator"]), min_size=2, max_size=6)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), steps=STEPS)
def test_only_idle_ids_expire_and_every_transition_is_legal(seed: int, steps: list[str]) -> None:
    """Random transactions of three ids, idle periods and coordinator crashes: an id with a transaction open is never
    expired, an id idle past the expiration (plus one check interval) always is, every recorded transition is an
    edge of Kafka's table, and an expired id's next InitProducerId gets a new producer id."""
    c = cluster(seed=seed, **EXPIRY)
    rng = random.Random(seed)
    producers: dict[str, Any] = {}
    pids: dict[str, int] = {}
    for step in steps:
        tid = rng.choice(["x", "y", "z"])
        if step in ("commit", "abort", "open"):
            p = producers.get(tid)
            if p is None:
                p = producers[tid] = c.producer({"transactional.id": tid, "transaction.timeout.ms": 900_000})
                p.init_transactions(timeout_ms=120_000)
                pids.setdefault(tid, p.core.producer_id)
            try:
                if p.core.txn.state.value != "IN_TRANSACTION":
                    p.begin_transaction()
                p.send("out", value=f"{tid}{rng.random()}".encode(), key=b"k")
                if step == "commit":
                    p.commit_transaction(timeout_ms=60_000)
                elif step == "abort":
                    p.abort_transaction(timeout_ms=60_000)
                else:
                    p.flush(timeout_ms=60_000)
            except kl.errors.KafkaError:
                producers.pop(tid, None)        # fenced or gave up: a new incarnation next time
        elif step == "idle":
            c.run(30_000)
        elif pids:                              # the coordinator of an id in use crashes and comes back
            leader = c.leader_for(TRANSACTION_STATE_TOPIC, partition_for(rng.choice(sorted(pids))))
            if leader is not None:
                c.crash(leader)
                c.run(5_000)
                c.restart(leader)
    c.run(1_000)
    before = {tid: state_or_gone(c, tid) for tid in sorted(pids)}
    c.run(90_000)                               # 60 s expiration + 10 s checks + slack
    frame = c.list_transactions()
    known = set(frame["transactional_id"]) if len(frame) else set()
    open_ids = {tid for tid, state in before.items() if state == "Ongoing"}
    assert known == open_ids, f"expected only {sorted(open_ids)} left, got {sorted(known)} (seed={seed}, {steps})"
    legal = {(prev.value, state.value) for state, prevs in VALID_PREVIOUS_STATES.items() for prev in prevs}
    transitions = c.metrics("txn.state")
    taken = set(zip(transitions.previous, transitions.state, strict=True)) if len(transitions) else set()
    assert taken <= legal, f"illegal transitions {sorted(taken - legal)} (seed={seed}, steps={steps})"
    for tid in sorted(set(pids) - known):
        fresh = c.producer({"transactional.id": tid})
        fresh.init_transactions(timeout_ms=120_000)
        assert fresh.core.producer_id != pids[tid]

"""Transactions end to end, as stories: commit and abort seen by read_committed and read_uncommitted consumers, the
LSO held by an open transaction until the coordinator's timeout aborts it, zombie fencing, transaction version 2's
epoch bump beside version 1, and the cluster's describe/list views."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.errors import TransactionalIdNotFoundError
from tests.txn.helpers import cluster, hw, lso, read_all


def test_committed_records_are_read_and_aborted_ones_only_by_read_uncommitted() -> None:
    c = cluster()
    p = c.producer({"transactional.id": "tx-1"})
    p.init_transactions()
    p.begin_transaction()
    for i in range(4):
        p.send("out", value=b"c%d" % i, key=b"k%d" % i)
    p.commit_transaction()
    p.begin_transaction()
    for i in range(3):
        p.send("out", value=b"a%d" % i, key=b"k%d" % i)
    p.flush()
    p.abort_transaction()
    c.run(1_000)
    assert lso(c) == hw(c)                  # both markers written and replicated: nothing open
    assert read_all(c, "read_committed", "rc") == [b"c0", b"c1", b"c2", b"c3"]
    assert read_all(c, "read_uncommitted", "ru") == [b"a0", b"a1", b"a2", b"c0", b"c1", b"c2", b"c3"]
    d = c.describe_transactions("tx-1")
    assert (d["state"], d["producer_epoch"], d["transaction_version"], d["partitions"]) == ("CompleteAbort", 2, 2, [])
    assert list(c.list_transactions()["transactional_id"]) == ["tx-1"]


def test_an_open_transaction_holds_the_lso_until_the_coordinator_times_it_out() -> None:
    c = cluster()
    p = c.producer({"transactional.id": "hang", "transaction.timeout.ms": 15_000})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"x", key=b"k0", partition=0)
    p.flush()
    assert lso(c)[0] == 0 and hw(c)[0] == 1        # the LSO is stuck at the open transaction
    c.run(10_000)
    assert lso(c)[0] == 0 and c.describe_transactions("hang")["state"] == "Ongoing"
    c.run(20_000)                                   # 15 s timeout, checked every 10 s
    assert c.describe_transactions("hang")["state"] == "CompleteAbort"
    assert lso(c)[0] == hw(c)[0] == 2              # the abort marker
    with pytest.raises(kl.errors.ProducerFencedError):
        p.commit_transaction()                      # the coordinator bumped the epoch when it aborted


def test_a_new_incarnation_fences_the_zombie_and_aborts_its_transaction() -> None:
    c = cluster()
    zombie = c.producer({"transactional.id": "app-0"})
    zombie.init_transactions()
    zombie.begin_transaction()
    zombie.send("out", value=b"zombie", key=b"k0")
    zombie.flush()
    fresh = c.producer({"transactional.id": "app-0"})
    fresh.init_transactions()                       # fences the zombie, aborts its transaction (after a retry)
    assert fresh.core.producer_id == zombie.core.producer_id
    assert fresh.core.producer_epoch > zombie.core.producer_epoch
    fresh.begin_transaction()
    fresh.send("out", value=b"fresh", key=b"k0")
    fresh.commit_transaction()
    zombie.send("out", value=b"late", key=b"k1")
    with pytest.raises(kl.errors.ProducerFencedError, match="PRODUCER_FENCED"):
        zombie.commit_transaction()
    with pytest.raises(kl.errors.ProducerFencedError, match="fatal state"):
        zombie.begin_transaction()
    c.run(1_000)
    assert read_all(c, "read_committed", "rc") == [b"fresh"]


@pytest.mark.parametrize(("tv", "bumps"), [(2, True), (1, False)])
def test_version_2_bumps_the_epoch_at_every_transaction_and_version_1_does_not(tv: int, bumps: bool) -> None:
    c = cluster(tv=tv)
    p = c.producer({"transactional.id": "tx"})
    p.init_transactions()
    assert p.core.txn.transaction_version == tv
    epochs = [p.core.producer_epoch]
    for n in range(3):
        p.begin_transaction()
        p.send("out", value=b"%d" % n, key=b"k")
        p.commit_transaction()
        epochs.append(p.core.producer_epoch)
    assert epochs == ([0, 1, 2, 3] if bumps else [0, 0, 0, 0])
    c.run(1_000)
    assert read_all(c, "read_committed", "rc") == [b"0", b"1", b"2"]


def test_describe_transactions_of_an_unknown_id_names_the_known_ones() -> None:
    c = cluster()
    p = c.producer({"transactional.id": "orders-tx"})
    p.init_transactions()
    with pytest.raises(TransactionalIdNotFoundError, match=r"transactional id 'orders-t' is not known to its "
                       r"coordinator \(transactional ids: orders-tx\); did you mean 'orders-tx'\?"):
        c.describe_transactions("orders-t")
    with pytest.raises(TypeError, match="transactional_id must be a str, got int"):
        c.describe_transactions(7)  # type: ignore[arg-type]

"""``cluster.describe_transactions`` while the coordinator fails over: Kafka's DescribeTransactions answers
COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS then and the admin client retries, so the
call drives the simulation until the new coordinator has loaded the id's ``__transaction_state`` partition."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.errors import KafkaTimeoutError
from kafkalab.txn.coordinator import TRANSACTION_STATE_TOPIC, partition_for
from tests.txn.helpers import cluster

TID = "described"
INDEX = partition_for(TID, 50)


def committed_once(seed: int = 3) -> tuple[kl.Cluster, int]:
    c = cluster(seed=seed)
    p = c.producer({"transactional.id": TID})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"v", key=b"k")
    p.commit_transaction()
    c.run(1_000)
    old = c.leader_for(TRANSACTION_STATE_TOPIC, INDEX)
    assert c.describe_transactions(TID)["state"] == "CompleteCommit"
    return c, old


def test_describe_right_after_the_coordinator_crashes_waits_for_the_new_one_to_load() -> None:
    c, old = committed_once()
    c.crash(old)
    start = c.now
    described = c.describe_transactions(TID)      # before: "not known to its coordinator"
    new = c.leader_for(TRANSACTION_STATE_TOPIC, INDEX)
    assert new is not None and new != old
    assert (described["state"], described["coordinator"]) == ("CompleteCommit", new)
    assert c.now > start                          # the call drove the simulation through the failover
    loaded = c.metrics("txn.coordinator_loaded")
    loaded = loaded[(loaded.node == new) & (loaded.partition == INDEX)]
    assert len(loaded) == 1 and float(loaded.time_ms.iloc[0]) <= c.now


def test_a_paused_coordinator_is_not_answering_until_the_timeout() -> None:
    c, old = committed_once()
    c.pause(old)
    with pytest.raises(KafkaTimeoutError, match=rf"describe_transactions\('described'\) got no answer within 500 ms: "
                                                rf"its coordinator, broker {old} \(leader of __transaction_state "
                                                rf"partition {INDEX}\), is paused \(COORDINATOR_NOT_AVAILABLE\)"):
        c.describe_transactions(TID, timeout_ms=500)
    # a longer wait sees the controller move the partition and the new coordinator answer
    described = c.describe_transactions(TID)
    assert described["coordinator"] != old and described["state"] == "CompleteCommit"


def test_a_coordinator_still_loading_is_named_in_the_timeout() -> None:
    c, old = committed_once()
    c.crash(old)
    assert c.run_until(lambda: any(
        b is not None and b.txn is not None and INDEX in b.txn.coordinator.shards
        and b.txn.coordinator.shards[INDEX].loading for b in (c.broker(n) for n in c.brokers)), 60_000)
    new = c.leader_for(TRANSACTION_STATE_TOPIC, INDEX)
    with pytest.raises(KafkaTimeoutError, match=rf"got no answer within 0 ms: broker {new} is still loading "
                                                rf"__transaction_state partition {INDEX} "
                                                rf"\(COORDINATOR_LOAD_IN_PROGRESS\)"):
        c.describe_transactions(TID, timeout_ms=0)
    assert c.describe_transactions(TID)["coordinator"] == new


def test_an_unknown_id_is_still_not_found_once_the_coordinator_answers() -> None:
    c, _old = committed_once()
    with pytest.raises(kl.errors.TransactionalIdNotFoundError, match="'describe' is not known to its coordinator"):
        c.describe_transactions("describe")


@pytest.mark.parametrize(("timeout_ms", "error", "message"), [
    (-1, ValueError, r"Invalid negative timeout -1: timeout_ms must be >= 0"),
    ("1s", TypeError, r"timeout_ms must be a number of milliseconds >= 0, got str '1s'"),
    (None, TypeError, r"timeout_ms must be a number of milliseconds >= 0, got NoneType None"),
])
def test_describe_refuses_a_bad_timeout(timeout_ms: object, error: type[Exception], message: str) -> None:
    c = cluster()
    with pytest.raises(error, match=message):
        c.describe_transactions(TID, timeout_ms=timeout_ms)  # type: ignore[arg-type]

"""Error paths that need the cluster to produce them, each with its type and Kafka's message: a producer id its
coordinator does not map to the transactional id, a coordinator still loading, CONCURRENT_TRANSACTIONS retried
inside the client, a write the leader's KIP-890 check refuses, a commit retried after a client-side timeout, and
OffsetFetch answering UNSTABLE_OFFSET_COMMIT while a transactional offset commit is pending (KIP-447)."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.clients.transactions import GroupMetadata
from kafkalab.errors import (
    InvalidProducerIdMappingError,
    InvalidTxnStateError,
    KafkaTimeoutError,
    TransactionAbortableError,
)
from kafkalab.txn.coordinator import partition_for
from tests.txn.helpers import cluster, read_all


def _retries(c: kl.Cluster, node: str) -> list[str]:
    m = c.metrics()
    rows = m[(m.metric == "producer.txn_retry") & (m.node == node)]
    return list(rows["error"]) if "error" in rows else []


def test_a_producer_id_the_coordinator_does_not_map_to_the_transactional_id_is_fatal() -> None:
    c = cluster(tv=1, seed=4)
    p = c.producer({"transactional.id": "mapping"})
    p.init_transactions()
    p.core.producer_id += 1000      # as if the coordinator had expired the id (transactional.id.expiration.ms)
    p.begin_transaction()
    f = p.send("out", value=b"x", partition=0)
    with pytest.raises(InvalidProducerIdMappingError, match=r"^INVALID_PRODUCER_ID_MAPPING: TransactionalId mapping: "
                       r"the producer is in a fatal state \(INVALID_PRODUCER_ID_MAPPING\): AddPartitionsToTxn "
                       r"failed: INVALID_PRODUCER_ID_MAPPING; close it$"):
        p.commit_transaction()
    assert isinstance(f.exception(), InvalidProducerIdMappingError)
    with pytest.raises(InvalidProducerIdMappingError, match="fatal state"):
        p.abort_transaction()


def test_a_coordinator_still_loading_its_partition_is_retried_until_it_has_loaded() -> None:
    c = cluster(seed=5)
    first = c.producer({"transactional.id": "loading"})
    first.init_transactions()
    coordinator = c.broker(c.describe_transactions("loading")["coordinator"]).txn.coordinator
    shard = coordinator.shards[partition_for("loading")]
    shard.loading = True            # the load a failover starts (its modelled replay is too short to catch)
    assert coordinator._shard_for("loading") == (None, "COORDINATOR_LOAD_IN_PROGRESS")
    p = c.producer({"transactional.id": "loading"})
    with pytest.raises(KafkaTimeoutError, match="timed out after 2000 ms of virtual time waiting for "
                                                "initTransactions"):
        p.init_transactions(timeout_ms=2_000)
    assert set(_retries(c, p.node_id)) == {"COORDINATOR_LOAD_IN_PROGRESS"}
    shard.loading = False
    p.init_transactions()
    assert p.core.producer_epoch > first.core.producer_epoch


def test_concurrent_transactions_is_retried_inside_the_client_until_the_markers_are_written() -> None:
    c = cluster(tv=1, seed=4)
    p = c.producer({"transactional.id": "conc"})
    p.init_transactions()
    coordinator = c.describe_transactions("conc")["coordinator"]
    leader = c.leader_for("out", 0)
    p.begin_transaction()
    p.send("out", value=b"c1", partition=0)
    p.flush()
    c.slow_link(coordinator, leader, 2_000, symmetric=False)   # the COMMIT marker takes 2 s to its leader
    p.commit_transaction()                                      # answered once PrepareCommit is written
    assert c.describe_transactions("conc")["state"] == "PrepareCommit"
    c.slow_link(coordinator, leader, 0.5, symmetric=False)
    start = c.now
    p.begin_transaction()
    p.send("out", value=b"c2", partition=0)
    p.commit_transaction()                                      # no error reaches the application
    assert c.now - start > 1_500
    assert set(_retries(c, p.node_id)) == {"CONCURRENT_TRANSACTIONS"}
    c.run(1_000)
    assert read_all(c, "read_committed", "rc") == [b"c1", b"c2"]


def test_a_write_the_leaders_kip_890_check_refuses_makes_the_transaction_abortable() -> None:
    c = cluster(tv=1, seed=4)
    p = c.producer({"transactional.id": "buggy"})
    p.init_transactions()
    p.begin_transaction()
    p.core.txn.added.add(kl.TopicPartition("out", 0))   # a buggy client writes before adding the partition (KIP-890)
    f = p.send("out", value=b"x", partition=0)
    with pytest.raises(TransactionAbortableError, match=r"^TRANSACTION_ABORTABLE: Cannot commit transaction since a "
                       r"record of it failed: TRANSACTION_ABORTABLE: The transaction hit an error; abort it to keep "
                       r"using the transactional id\.; abort_transaction\(\) first$"):
        p.commit_transaction()
    assert isinstance(f.exception(), TransactionAbortableError)
    # the coordinator never saw this transaction: its EndTxn is refused as well
    with pytest.raises(InvalidTxnStateError, match="^INVALID_TXN_STATE: EndTxn failed: INVALID_TXN_STATE$"):
        p.abort_transaction()
    c.run(1_000)
    assert read_all(c, "read_uncommitted", "ru") == []          # nothing was written


@pytest.mark.parametrize("tv", [1, 2])
def test_a_commit_that_timed_out_is_finished_by_calling_commit_again_and_nothing_else_meanwhile(tv: int) -> None:
    c = cluster(tv=tv, seed=4)
    p = c.producer({"transactional.id": "slow"})
    p.init_transactions()
    epoch = p.core.producer_epoch
    coordinator = c.describe_transactions("slow")["coordinator"]
    partition = next(i for i in range(2) if c.leader_for("out", i) != coordinator)
    p.begin_transaction()
    p.send("out", value=b"v", partition=partition)
    p.flush()
    c.slow_link(p.node_id, coordinator, 3_000, symmetric=False)  # EndTxn takes 3 s to arrive
    with pytest.raises(KafkaTimeoutError, match="timed out after 1000 ms of virtual time waiting for "
                                                "commitTransaction"):
        p.commit_transaction(timeout_ms=1_000)
    pending = "because the previous call to `commitTransaction` timed out and must be retried"
    with pytest.raises(InvalidTxnStateError, match=f"Cannot attempt operation `beginTransaction` {pending}"):
        p.begin_transaction()
    with pytest.raises(InvalidTxnStateError, match=f"Cannot attempt operation `abortTransaction` {pending}"):
        p.abort_transaction()
    consumer = c.consumer({"group.id": "g"})
    with pytest.raises(InvalidTxnStateError, match=f"Cannot attempt operation `sendOffsetsToTransaction` {pending}"):
        p.send_offsets_to_transaction({kl.TopicPartition("out", 0): 1}, consumer.group_metadata())
    c.slow_link(p.node_id, coordinator, 0.5, symmetric=False)
    p.commit_transaction()                                      # resumes the same EndTxn
    assert c.describe_transactions("slow")["state"] in ("PrepareCommit", "CompleteCommit")
    assert p.core.producer_epoch == epoch + (1 if tv == 2 else 0)   # one EndTxn: one bump under version 2
    p.begin_transaction()                                       # and the producer goes on
    p.send("out", value=b"w", partition=partition)
    p.commit_transaction()
    c.run(1_000)
    assert read_all(c, "read_committed", "rc") == [b"v", b"w"]


def test_an_abort_that_timed_out_is_finished_by_calling_abort_again() -> None:
    c = cluster(seed=4)
    p = c.producer({"transactional.id": "slow-abort"})
    p.init_transactions()
    coordinator = c.describe_transactions("slow-abort")["coordinator"]
    partition = next(i for i in range(2) if c.leader_for("out", i) != coordinator)
    p.begin_transaction()
    p.send("out", value=b"gone", partition=partition)
    p.flush()
    c.slow_link(p.node_id, coordinator, 3_000, symmetric=False)
    with pytest.raises(KafkaTimeoutError, match="waiting for abortTransaction"):
        p.abort_transaction(timeout_ms=1_000)
    with pytest.raises(InvalidTxnStateError, match="Cannot attempt operation `commitTransaction` because the "
                                                   "previous call to `abortTransaction` timed out"):
        p.commit_transaction()
    p.abort_transaction()
    c.run(4_000)
    assert c.describe_transactions("slow-abort")["state"] == "CompleteAbort"
    assert read_all(c, "read_committed", "rc") == []


def test_offset_fetch_answers_unstable_offset_commit_while_a_transactional_commit_is_pending() -> None:
    c = cluster(seed=6)
    tp = kl.TopicPartition("out", 0)
    p = c.producer({"transactional.id": "offsets"})
    p.init_transactions()
    p.begin_transaction()
    p.send("out", value=b"x", partition=1)
    p.send_offsets_to_transaction({tp: kl.OffsetAndMetadata(5)}, GroupMetadata("app"))
    reader = c.consumer({"group.id": "app", "enable.auto.commit": False})
    with pytest.raises(KafkaTimeoutError, match=r"last error: UNSTABLE_OFFSET_COMMIT"):
        reader.committed([tp], timeout_ms=2_000)      # the consumer retries (require_stable) until it gives up
    p.commit_transaction()
    assert reader.committed([tp], timeout_ms=5_000)[tp] == kl.OffsetAndMetadata(5)
    # an aborted transaction's offsets release the partition too, and are gone
    p.begin_transaction()
    p.send("out", value=b"y", partition=1)
    p.send_offsets_to_transaction({tp: kl.OffsetAndMetadata(9)}, GroupMetadata("app"))
    p.abort_transaction()
    assert reader.committed([tp], timeout_ms=5_000)[tp] == kl.OffsetAndMetadata(5)


def test_under_version_2_the_leaders_retry_concurrent_transactions_themselves() -> None:
    """KAFKA-18654 (Kafka 4.0): a leader's AddPartitionsToTxn that meets another leader's add, or the previous
    transaction's markers, is retried by the leader every 20 ms for up to 100 ms; the producer never sees it."""
    c = cluster(tv=2, seed=4)
    assert c.leader_for("out", 0) != c.leader_for("out", 1)
    p = c.producer({"transactional.id": "two-leaders"})
    p.init_transactions()
    for n in range(4):
        p.begin_transaction()
        p.send("out", value=b"a%d" % n, partition=0)
        p.send("out", value=b"b%d" % n, partition=1)
        p.commit_transaction()
    m = c.metrics()
    errors = m[(m.metric == "producer.errors") & (m.node == p.node_id)]
    assert errors.empty and not _retries(c, p.node_id)
    c.run(1_000)
    assert len(read_all(c, "read_committed", "rc")) == 8

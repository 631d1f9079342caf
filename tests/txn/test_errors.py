"""Every error path of the transactional producer: the type and Kafka's message."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.errors import ConfigError, InvalidTxnStateError, TransactionAbortableError
from tests.txn.helpers import cluster


@pytest.fixture(scope="module")
def c() -> kl.Cluster:
    return cluster(seed=3)


def test_calls_out_of_order_get_kafkas_invalid_txn_state_messages(c: kl.Cluster) -> None:
    p = c.producer({"transactional.id": "order"})
    with pytest.raises(InvalidTxnStateError, match="Cannot perform a 'send' before completing a call to "
                                                   "initTransactions when transactions are enabled."):
        p.send("out", value=b"x")
    with pytest.raises(InvalidTxnStateError, match="TransactionalId order: Invalid transition attempted from state "
                                                   "UNINITIALIZED to state IN_TRANSACTION"):
        p.begin_transaction()
    p.init_transactions()
    with pytest.raises(InvalidTxnStateError, match="TransactionalId order: Invalid transition attempted from state "
                                                   "READY to state INITIALIZING"):
        p.init_transactions()
    with pytest.raises(InvalidTxnStateError, match="^INVALID_TXN_STATE: Cannot call send in state READY$"):
        p.send("out", value=b"x")
    with pytest.raises(InvalidTxnStateError, match="Invalid transition attempted from state READY to state "
                                                   "COMMITTING_TRANSACTION"):
        p.commit_transaction()
    with pytest.raises(InvalidTxnStateError, match="Invalid transition attempted from state READY to state "
                                                   "ABORTING_TRANSACTION"):
        p.abort_transaction()
    consumer = c.consumer({"group.id": "g-order"})
    with pytest.raises(InvalidTxnStateError, match=r"Cannot send offsets if a transaction is not in progress "
                                                   r"\(currentState= READY\)"):
        p.send_offsets_to_transaction({kl.TopicPartition("out", 0): 1}, consumer.group_metadata())
    p.begin_transaction()
    with pytest.raises(InvalidTxnStateError, match="Invalid transition attempted from state IN_TRANSACTION to state "
                                                   "IN_TRANSACTION"):
        p.begin_transaction()
    p.commit_transaction()
    with pytest.raises(InvalidTxnStateError, match="Invalid transition attempted from state READY to state "
                                                   "COMMITTING_TRANSACTION"):
        p.commit_transaction()          # commit twice


def test_transactional_methods_need_a_transactional_id_and_group_metadata_a_group(c: kl.Cluster) -> None:
    p = c.producer({})
    with pytest.raises(InvalidTxnStateError, match="Cannot use transactional methods without enabling transactions "
                                                   "by setting the transactional.id configuration property"):
        p.init_transactions()
    q = c.producer({"transactional.id": "md"})
    q.init_transactions()
    q.begin_transaction()
    with pytest.raises(TypeError, match="group_metadata must be consumer.group_metadata\\(\\), got str"):
        q.send_offsets_to_transaction({}, "g")
    with pytest.raises(kl.errors.InvalidGroupIdError, match="you must provide a valid group.id"):
        c.consumer({}).group_metadata()


def test_a_transactional_id_requires_idempotence() -> None:
    with pytest.raises(ConfigError, match="Cannot set a transactional.id without also enabling idempotence"):
        cluster(seed=4, brokers=1).producer({"transactional.id": "x", "enable.idempotence": False})


def test_a_timeout_above_the_brokers_maximum_is_fatal(c: kl.Cluster) -> None:
    p = c.producer({"transactional.id": "slow", "transaction.timeout.ms": 1_000_000})
    with pytest.raises(kl.errors.InvalidTransactionTimeoutError, match="INVALID_TRANSACTION_TIMEOUT"):
        p.init_transactions()


def test_a_failed_record_makes_the_transaction_abortable(c: kl.Cluster) -> None:
    p = c.producer({"transactional.id": "big", "max.request.size": 2_000_000})
    p.init_transactions()
    p.begin_transaction()
    fut = p.send("out", value=b"x" * 1_500_000, partition=0)    # above the topic's max.message.bytes
    with pytest.raises(TransactionAbortableError, match="Cannot commit transaction since a record of it failed"):
        p.commit_transaction()
    assert isinstance(fut.exception(), kl.errors.MessageTooLargeError)
    with pytest.raises(TransactionAbortableError, match="Cannot perform send because at least one previous "
                                                        "transactional or idempotent request has failed"):
        p.send("out", value=b"y")
    with pytest.raises(TransactionAbortableError, match="Cannot commit transaction since at least one previous "
                                                        "transactional call has failed"):
        p.commit_transaction()
    p.abort_transaction()                                       # the application aborts and goes on
    p.begin_transaction()
    p.send("out", value=b"ok", partition=0)
    p.commit_transaction()

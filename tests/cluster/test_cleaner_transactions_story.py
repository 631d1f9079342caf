"""A compacted topic written by a transactional producer that aborts some transactions: the brokers' log cleaner
removes the aborted records (Kafka's ``CleanedTransactionMetadata``), later the markers of emptied transactions, and a
read_committed consumer reading from the beginning sees the same latest values as before cleaning."""
import kafkalab as kl
from kafkalab.common.records import ABORT_MARKER, control_type


def replicas(cluster, topic):
    return {b: cluster.broker(b).rm.partition(topic, 0) for b in cluster.brokers
            if cluster.broker(b) is not None and cluster.broker(b).rm.partition(topic, 0) is not None}


def latest_values(cluster, isolation, group):
    reader = cluster.consumer({"group.id": group, "auto.offset.reset": "earliest", "isolation.level": isolation})
    reader.assign([kl.TopicPartition("profiles", 0)])
    latest = {}
    for _ in range(8):
        latest.update({r.key: r.value for r in reader.poll(500)})
    reader.close()
    return latest


def values_in_log(log):
    return [row[1] for b in log.batches() if not b.is_control for row in b.rows]


def test_the_cleaner_removes_aborted_transactions_and_read_committed_readers_see_no_difference():
    cluster = kl.Cluster(seed=14, config={"log.cleaner.backoff.ms": 2_000})
    cluster.create_topic("profiles", replication_factor=3,
                         config={"cleanup.policy": "compact", "segment.ms": 5_000, "min.cleanable.dirty.ratio": 0.1,
                                 "delete.retention.ms": 30_000})
    txn = cluster.producer({"transactional.id": "profiles-writer"})
    txn.init_transactions()
    for values, commit in (({"alice": "a1", "bob": "b1"}, True), ({"alice": "BAD", "carol": "BAD"}, False),
                           ({"bob": "b2"}, True), ({"bob": "BAD", "dave": "BAD"}, False),
                           ({"erin": "e1"}, True)):
        txn.begin_transaction()
        for key, value in values.items():
            txn.send("profiles", key=key, value=value)
        cluster.run(200)                        # the records reach the log before the outcome is decided
        if commit:
            txn.commit_transaction()
        else:
            txn.abort_transaction()
        cluster.run(500)
    expected = {b"alice": b"a1", b"bob": b"b2", b"erin": b"e1"}
    assert latest_values(cluster, "read_committed", "before") == expected
    assert b"BAD" in latest_values(cluster, "read_uncommitted", "before-uncommitted").values()
    filler = cluster.producer({"linger.ms": 0})
    for i in range(20):                         # plain writes roll segments so the transactional ones can be cleaned
        filler.send("profiles", key="filler", value=f"f{i}")
        cluster.run(1_000)
    reps = replicas(cluster, "profiles")
    assert len(reps) == 3
    for p in reps.values():
        assert cluster.broker(p.broker_id).rm.log_maintenance.cleaner_runs
        assert b"BAD" not in values_in_log(p.log)                 # every replica's cleaner dropped the aborted data
    expected[b"filler"] = b"f19"
    assert latest_values(cluster, "read_committed", "after") == expected
    assert latest_values(cluster, "read_uncommitted", "after-uncommitted") == expected
    # The ABORT markers outlive their transactions' data by delete.retention.ms, then go too.
    leader = reps[int(cluster.describe_topic("profiles").iloc[0]["leader"])]
    aborts_before = sum(1 for b in leader.log.batches() if b.is_control and b.rows and control_type(b) == ABORT_MARKER)
    for i in range(40):
        filler.send("profiles", key="filler", value=f"g{i}")
        cluster.run(1_000)
    aborts_after = sum(1 for b in leader.log.batches() if b.is_control and b.rows and control_type(b) == ABORT_MARKER)
    assert (aborts_before, aborts_after) == (2, 0)
    assert leader.log.aborted_transactions(0, leader.log.log_end_offset) == []
    expected[b"filler"] = b"g39"
    assert latest_values(cluster, "read_committed", "later") == expected


def cleaned_layout(seed):
    cluster = kl.Cluster(seed=seed, config={"log.cleaner.backoff.ms": 2_000})
    cluster.create_topic("profiles", replication_factor=3,
                         config={"cleanup.policy": "compact", "segment.ms": 5_000, "min.cleanable.dirty.ratio": 0.1,
                                 "delete.retention.ms": 10_000})
    txn = cluster.producer({"transactional.id": "w"})
    txn.init_transactions()
    for i in range(6):
        txn.begin_transaction()
        txn.send("profiles", key=f"k{i % 3}", value=f"v{i}")
        cluster.run(200)
        txn.commit_transaction() if i % 2 else txn.abort_transaction()
        cluster.run(1_500)
    filler = cluster.producer({"linger.ms": 0})
    for i in range(30):
        filler.send("profiles", key="filler", value=f"f{i}")
        cluster.run(1_000)
    return {b: [(x.base_offset, x.last_offset, x.record_count, x.is_control, x.delete_horizon_ms)
                for x in p.log.batches()] + [(e.producer_id, e.first_offset, e.last_offset)
                                              for e in p.log.aborted_transactions(0, p.log.log_end_offset)]
            for b, p in sorted(replicas(cluster, "profiles").items())}


def test_cleaning_transactions_is_deterministic():
    first = cleaned_layout(5)
    assert first == cleaned_layout(5)
    assert all(not any(row[3] and row[2] == 0 for row in rows if len(row) == 5) for rows in first.values())

"""The log cleaner keeps each producer's last batch (Kafka's ``RETAIN_EMPTY`` for ``isBatchLastRecordOfProducer``),
so a leader that rebuilds producer state from a cleaned log still accepts the producer's next sequence."""
import kafkalab as kl
from kafkalab.broker.producer_state import ProducerStateManager


def replicas(cluster, topic):
    return {b: cluster.broker(b).rm.partition(topic, 0) for b in cluster.brokers
            if cluster.broker(b) is not None and cluster.broker(b).rm.partition(topic, 0) is not None}


def test_an_idempotent_producer_keeps_sending_after_the_cleaner_ran_and_a_new_leader_took_over():
    cluster = kl.Cluster(seed=8, config={"log.cleaner.backoff.ms": 2_000})
    cluster.create_topic("profiles", replication_factor=3,
                         config={"cleanup.policy": "compact", "segment.ms": 5_000, "min.cleanable.dirty.ratio": 0.1})
    alice = cluster.producer({"linger.ms": 0})
    other = cluster.producer({"linger.ms": 0})
    sent = [alice.send("profiles", key="alice", value="a1")]
    cluster.run(1_000)
    sent.append(alice.send("profiles", key="bob", value="b1"))      # alice's last batch: sequence 1
    cluster.run(1_000)
    for i in range(12):                                              # another producer overwrites bob
        sent.append(other.send("profiles", key="bob", value=f"b{i + 2}"))
        cluster.run(1_000)
    cluster.run(10_000)
    assert all(f.done() and f.exception() is None for f in sent)
    reps = replicas(cluster, "profiles")
    assert len(reps) == 3
    for p in reps.values():
        assert cluster.broker(p.broker_id).rm.log_maintenance.cleaner_runs       # every replica cleaned its log
        first, second = p.log.batches()[:2]
        # alice's "bob" record is gone, but her last batch stays as an empty batch with its offset and sequence
        assert (first.base_offset, first.base_sequence, first.record_count) == (0, 0, 1)
        assert (second.base_offset, second.base_sequence, second.last_offset, second.record_count) == (1, 1, 1, 0)
        rebuilt = ProducerStateManager()
        rebuilt.rebuild(p.log.batches())
        assert rebuilt.last_sequence(first.producer_id) == 1
    # The leader crashes; the new leader rebuilds producer state from its cleaned log.
    leader = int(cluster.describe_topic("profiles").iloc[0]["leader"])
    cluster.crash(leader)
    cluster.run(20_000)
    assert int(cluster.describe_topic("profiles").iloc[0]["leader"]) != leader
    more = [alice.send("profiles", key="carol", value="c1"), alice.send("profiles", key="dave", value="d1")]
    assert cluster.run_until(lambda: all(f.done() for f in more), 60_000)
    assert [f.exception() for f in more] == [None, None]       # no OUT_OF_ORDER_SEQUENCE_NUMBER
    new_leader = replicas(cluster, "profiles")[int(cluster.describe_topic("profiles").iloc[0]["leader"])]
    assert new_leader.producer_state.last_sequence(first.producer_id) == 3
    reader = cluster.consumer({"auto.offset.reset": "earliest"})
    reader.assign([kl.TopicPartition("profiles", 0)])
    latest = {}
    for _ in range(6):
        latest.update({r.key: r.value for r in reader.poll(500)})
    assert latest == {b"alice": b"a1", b"bob": b"b13", b"carol": b"c1", b"dave": b"d1"}

"""The consumer's group API: error paths of the facade, and end-to-end groups on a kl.Cluster (both protocols)."""
import pytest

import kafkalab as kl
from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.errors import FencedInstanceIdError, InvalidGroupIdError
from tests.clients.fake_coordinator import GroupFakeCluster

TP0 = TopicPartition("t", 0)
NO_GROUP = ("To use the group management or offset commit APIs, you must provide a valid group.id in the consumer "
            "configuration.")


def fake_consumer(config=None):
    cluster = GroupFakeCluster(3)
    cluster.create_topic("t", 2)
    return cluster, KafkaConsumer(config if config is not None else {"group.id": "g"}, world=cluster.world,
                                  bootstrap=cluster.broker_ids, history=cluster.history)


# -- error paths -----------------------------------------------------------------------------------------------------
def test_group_calls_without_group_id_raise_invalid_group_id():
    _, consumer = fake_consumer({})
    for call in (lambda: consumer.subscribe(["t"]), lambda: consumer.commit(), lambda: consumer.committed([TP0])):
        with pytest.raises(InvalidGroupIdError) as info:
            call()
        assert info.value.message == NO_GROUP


def test_subscribe_and_assign_are_mutually_exclusive():
    _, consumer = fake_consumer()
    consumer.assign([TP0])
    with pytest.raises(RuntimeError, match=r"^Subscription to topics, partitions and pattern are mutually exclusive: "
                                           r"this consumer was assigned \[TopicPartition"):
        consumer.subscribe(["t"])
    consumer.unsubscribe()
    consumer.subscribe(["t"])
    with pytest.raises(RuntimeError, match=r"^Subscription to topics, partitions and pattern are mutually exclusive: "
                                           r"this consumer subscribed to \['t'\]; call unsubscribe\(\) before"):
        consumer.assign([TP0])


def test_subscribe_rejects_a_bare_string_bad_names_and_bad_callbacks():
    _, consumer = fake_consumer()
    with pytest.raises(TypeError, match=r"subscribe\(\) takes a list of topic names, got str 't'; use "
                                        r"subscribe\(\['t'\]\)"):
        consumer.subscribe("t")
    with pytest.raises(TypeError, match=r"subscribe\(\) takes a list of topic names, got int 5"):
        consumer.subscribe(5)
    with pytest.raises(TypeError, match=r"topic names must be str, got int 1 in \['t', 1\]"):
        consumer.subscribe(["t", 1])
    with pytest.raises(ValueError, match="cannot contain null or empty topic"):
        consumer.subscribe(["t", " "])
    with pytest.raises(TypeError, match=r"on_assign must be a callable taking \(consumer, partitions\) or None, got "
                                        r"int"):
        consumer.subscribe(["t"], on_assign=5)


def test_subscribe_to_nothing_unsubscribes():
    cluster, consumer = fake_consumer()
    consumer.subscribe(["t"])
    consumer.subscribe([])
    assert consumer.subscription() == set()
    assert [op.f for op in cluster.history.ops if op.type == "ok"] == ["subscribe", "unsubscribe"]


def test_commit_and_committed_reject_bad_arguments():
    _, consumer = fake_consumer()
    with pytest.raises(TypeError, match=r"commit\(\) offsets must be a dict of TopicPartition -> offset, got list"):
        consumer.commit([TP0])
    with pytest.raises(TypeError, match=r"commit\(\) offsets are keyed by TopicPartition\(topic, partition\), got 't'"):
        consumer.commit({"t": 1})
    with pytest.raises(TypeError, match=r"commit\(\) offset of t-0 must be an int or OffsetAndMetadata, "
                                        r"got str '1'"):
        consumer.commit({TP0: "1"})
    with pytest.raises(ValueError, match="Invalid negative offset -1 for partition t-0"):
        consumer.commit({TP0: -1})
    with pytest.raises(TypeError, match=r"callback must be a callable taking \(offsets, error\) or None, got int"):
        consumer.commit(callback=3)
    with pytest.raises(TypeError, match=r"committed\(\) takes a collection of partitions, got the single partition "
                                        r"t-0; use committed\(\[TopicPartition"):
        consumer.committed(TP0)
    with pytest.raises(TypeError, match=r"committed\(\) takes TopicPartition\(topic, partition\) values, got 't'"):
        consumer.committed(["t"])


def test_commit_and_committed_with_explicit_offsets_against_the_fake():
    cluster, consumer = fake_consumer({"group.id": "g", "enable.auto.commit": False})
    consumer.assign([TP0])
    consumer.commit({TP0: OffsetAndMetadata(7, metadata="m"), ("t", 1): 3})
    assert consumer.committed([TP0, ("t", 1)]) == {TP0: OffsetAndMetadata(7, metadata="m"),
                                                   TopicPartition("t", 1): OffsetAndMetadata(3)}
    commits = [op for op in cluster.history.ops if op.f == "commit" and op.type == "ok"]
    assert dict(commits[0].offsets) == {("t", 0): 7, ("t", 1): 3}


def test_calls_after_close_raise():
    _, consumer = fake_consumer()
    consumer.close()
    with pytest.raises(RuntimeError, match="This consumer has already been closed."):
        consumer.subscribe(["t"])


# -- end to end on a kl.Cluster ---------------------------------------------------------------------------------------
def produce(cluster, n, topic="t"):
    producer = cluster.producer()
    for i in range(n):
        producer.send(topic, value=f"v{i}", key=f"k{i}")
    producer.flush()


def group_cluster(partitions=6, records=60, seed=1):
    cluster = kl.Cluster(3, seed=seed)
    cluster.create_topic("t", partitions, replication_factor=3)
    produce(cluster, records)
    return cluster


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_three_consumers_split_six_partitions_and_read_every_record_once(protocol):
    cluster = group_cluster()
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False, "group.protocol": protocol}
    consumers = [cluster.consumer(cfg) for _ in range(3)]
    for c in consumers:
        c.subscribe(["t"])
    seen = []
    for _ in range(40):
        for c in consumers:
            records = c.poll(200)
            seen += [(r.partition, r.offset) for r in records]
            if records:
                c.commit()
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 60
    assignments = [c.assignment() for c in consumers]
    assert [len(a) for a in assignments] == [2, 2, 2]
    assert set().union(*assignments) == {TopicPartition("t", p) for p in range(6)}
    end = {TopicPartition("t", p): OffsetAndMetadata(c.highwater(TopicPartition("t", p)))
           for c in consumers for p in range(6) if TopicPartition("t", p) in c.assignment()}
    assert consumers[0].committed(sorted(end)) == {tp: OffsetAndMetadata(o.offset, o.leader_epoch)
                                                   for tp, o in end.items()}


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_crashed_consumer_s_partitions_move_after_the_session_timeout(protocol):
    cluster = group_cluster(records=0)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", "group.protocol": protocol}
    if protocol == "classic":
        cfg["session.timeout.ms"] = 10000
    session_ms = 10000 if protocol == "classic" else 45000     # KIP-848: the broker's group.consumer.session.timeout.ms
    a, b = cluster.consumer(cfg), cluster.consumer(cfg)
    a.subscribe(["t"])
    b.subscribe(["t"])
    for _ in range(30):
        a.poll(200)
        b.poll(200)
    assert len(a.assignment()) == 3 and len(b.assignment()) == 3
    cluster.crash(b.node_id)
    crashed_at = cluster.now
    moved_at = None
    while cluster.now < crashed_at + session_ms + 20000:
        a.poll(500)
        if len(a.assignment()) == 6 and moved_at is None:
            moved_at = cluster.now
    assert moved_at is not None
    assert crashed_at + session_ms * 0.8 <= moved_at <= crashed_at + session_ms + 10000


def test_offsets_survive_a_member_change():
    cluster = group_cluster(partitions=2, records=40)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False, "max.poll.records": 10}
    first = cluster.consumer(cfg)
    first.subscribe(["t"])
    read = []
    while len(read) < 20:
        read += first.poll(200)
    first.commit()
    first.close()
    second = cluster.consumer(cfg)
    second.subscribe(["t"])
    rest = []
    for _ in range(20):
        rest += second.poll(200)
    assert len(read) + len(rest) == 40
    assert not {(r.partition, r.offset) for r in read} & {(r.partition, r.offset) for r in rest}


def test_a_static_member_restarted_within_the_session_timeout_keeps_its_partitions_without_a_rebalance():
    cluster = group_cluster(records=0)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest"}
    other = cluster.consumer(cfg)
    static = cluster.consumer({**cfg, "group.instance.id": "static-1"})
    revoked = []
    other.subscribe(["t"], on_revoke=lambda c, tps: revoked.append(tps))
    static.subscribe(["t"])
    for _ in range(40):
        other.poll(200)
        static.poll(200)
    before = (other.assignment(), static.assignment())
    generation = other.group.generation
    revokes = len(revoked)
    cluster.crash(static.node_id)
    cluster.run(5000)
    cluster.restart(static.node_id)
    for _ in range(20):
        other.poll(200)
        static.poll(200)
    assert (other.assignment(), static.assignment()) == before
    assert other.group.generation == generation and len(revoked) == revokes


def test_two_processes_with_one_group_instance_id_fence_the_older_one_fatally():
    """KIP-345: a second process joining with a live member's group.instance.id replaces it; the first one's next
    heartbeat gets FENCED_INSTANCE_ID, which Kafka raises to the application instead of rejoining."""
    cluster = group_cluster(records=0)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", "group.instance.id": "same"}
    first = cluster.consumer(cfg)
    first.subscribe(["t"])
    for _ in range(40):
        first.poll(200)
    assert len(first.assignment()) == 6
    second = cluster.consumer(cfg)
    second.subscribe(["t"])
    with pytest.raises(FencedInstanceIdError, match="group.instance.id 'same' was fenced by another member"):
        for _ in range(40):
            second.poll(200)
            first.poll(200)
    assert len(second.assignment()) == 6
    with pytest.raises(FencedInstanceIdError):
        first.poll(0)


def owners(consumers):
    """partition -> the live consumers that fetch it now."""
    out = {}
    for c in consumers:
        if c.core.port.alive and not c._closed:
            for tp in c.assignment():
                out.setdefault(tp, []).append(c.node_id)
    return out


@pytest.mark.parametrize("config", [{"partition.assignment.strategy": "cooperative-sticky"},
                                    {"group.protocol": "consumer"}], ids=["cooperative", "kip848"])
def test_incremental_protocols_never_give_a_partition_two_owners_and_keep_unmoved_ones(config):
    cluster = group_cluster(records=0)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", **config}
    lost_or_revoked = []
    first = cluster.consumer(cfg)
    first.subscribe(["t"], on_revoke=lambda c, tps: lost_or_revoked.append(tps))
    for _ in range(20):
        first.poll(200)
    assert len(first.assignment()) == 6
    others = [cluster.consumer(cfg) for _ in range(2)]
    for c in others:
        c.subscribe(["t"])
    consumers = [first, *others]
    for _ in range(60):
        for c in consumers:
            c.poll(100)
            assert all(len(v) == 1 for v in owners(consumers).values())
    assert [len(c.assignment()) for c in consumers] == [2, 2, 2]
    assert sum(len(t) for t in lost_or_revoked) == 4      # only what moved was revoked


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_random_member_churn_keeps_ownership_disjoint_and_reads_every_record(protocol):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=12, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["crash", "restart", "poll", "produce"]), st.integers(0, 2)),
                    min_size=3, max_size=8), st.integers(0, 2**16))
    def run(steps, seed):
        cluster = kl.Cluster(3, seed=seed)
        cluster.create_topic("t", 4, replication_factor=3)
        producer = cluster.producer()
        cfg = {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False,
               "group.protocol": protocol, **({"session.timeout.ms": 6000} if protocol == "classic" else {})}
        consumers = [cluster.consumer(cfg) for _ in range(3)]
        for c in consumers:
            c.subscribe(["t"])
        read, sent = set(), 0

        def poll_round(ms):
            for c in consumers:
                if c.core.port.alive:
                    records = c.poll(ms)
                    read.update(r.value for r in records)
                    if records:
                        try:
                            c.commit()
                        except kl.errors.KafkaError:
                            pass        # a rebalance took the partitions: another member reads them again
        for op, i in steps:
            c = consumers[i]
            if op == "crash" and c.core.port.alive:
                cluster.crash(c.node_id)
            elif op == "restart" and not c.core.port.alive:
                cluster.restart(c.node_id)
            elif op == "produce":
                for _ in range(5):
                    producer.send("t", value=f"v{sent}".encode())
                    sent += 1
                producer.flush()
            poll_round(300)
        for c in consumers:
            if not c.core.port.alive:
                cluster.restart(c.node_id)
        deadline = cluster.now + 120000
        while cluster.now < deadline and len(read) < sent:
            poll_round(500)
        assert read == {f"v{n}".encode() for n in range(sent)}
        stable = [c for c in consumers if c.group.state == "stable"]
        by_tp = owners(stable)
        assert all(len(v) == 1 for v in by_tp.values())
    run()


def test_a_restarted_static_leader_causes_no_rebalance():
    cluster = group_cluster(records=0)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest"}
    leader = cluster.consumer({**cfg, "group.instance.id": "static-leader"})
    leader.subscribe(["t"])
    for _ in range(30):          # group.initial.rebalance.delay.ms passes
        leader.poll(200)
    assert leader.group.is_leader()
    other = cluster.consumer(cfg)
    other.subscribe(["t"])
    for _ in range(40):
        leader.poll(200)
        other.poll(200)
    generation = other.group.generation
    before = (leader.assignment(), other.assignment())
    cluster.crash(leader.node_id)
    cluster.run(3000)
    cluster.restart(leader.node_id)
    for _ in range(60):
        leader.poll(200)
        other.poll(200)
    assert (leader.assignment(), other.assignment()) == before
    assert other.group.generation == generation == leader.group.generation


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_the_group_survives_a_coordinator_crash(protocol):
    cluster = kl.Cluster(3, seed=3)
    cluster.create_topic("t", 3, replication_factor=3)
    cfg = {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False, "group.protocol": protocol}
    consumer = cluster.consumer(cfg)
    consumer.subscribe(["t"])
    for _ in range(30):
        consumer.poll(200)
    produce(cluster, 10)
    got = []
    for _ in range(10):
        got += consumer.poll(200)
    consumer.commit()
    coordinator = consumer.group.coordinator
    cluster.crash(coordinator)
    producer = cluster.producer()
    for i in range(10, 20):
        producer.send("t", value=f"v{i}")
    producer.flush()
    for _ in range(100):
        records = consumer.poll(500)
        got += records
        if records:
            consumer.commit()
    assert sorted(r.value for r in got) == sorted(f"v{i}".encode() for i in range(20))
    assert consumer.group.coordinator not in (None, coordinator) and consumer.group.state == "stable"
    committed = consumer.committed([TopicPartition("t", p) for p in range(3)])
    assert sum(o.offset for o in committed.values() if o is not None) == 20


def test_the_coordinator_picks_the_first_strategy_every_member_supports():
    cluster = group_cluster(records=0)
    a = cluster.consumer({"group.id": "g", "partition.assignment.strategy": "roundrobin,range"})
    b = cluster.consumer({"group.id": "g", "partition.assignment.strategy": "range"})
    a.subscribe(["t"])
    b.subscribe(["t"])
    for _ in range(30):
        a.poll(200)
        b.poll(200)
    assert a.group.protocol_name == b.group.protocol_name == "range"
    assert sorted(tp.partition for tp in a.assignment() | b.assignment()) == list(range(6))

"""Consumer scenarios against the fake brokers: resets, seek, long polls, errors, history."""
import pytest

from kafkalab.clients.consumer import KafkaConsumer
from kafkalab.clients.producer import ClientCrashedError
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import InvalidGroupIdError, NoOffsetForPartitionError, OffsetOutOfRangeError
from tests.clients.fake_broker import FakeCluster

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)


def setup(partitions=1, config=None, records=0):
    cluster = FakeCluster(3)
    cluster.create_topic("t", partitions)
    for p in range(partitions):
        if records:
            cluster.append_records(TopicPartition("t", p), [f"p{p}-{i}".encode() for i in range(records)])
    consumer = KafkaConsumer(config or {}, world=cluster.world, bootstrap=cluster.broker_ids,
                             history=cluster.history)
    return cluster, consumer


def values(records):
    return [r.value for r in records]


def test_poll_from_earliest_reads_everything_in_order():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=5)
    consumer.assign([TP0])
    records = consumer.poll(1000)
    assert values(records) == [f"p0-{i}".encode() for i in range(5)]
    assert [r.offset for r in records] == list(range(5))
    assert consumer.position(TP0) == 5


def test_poll_from_latest_sees_only_new_records():
    cluster, consumer = setup(config={"auto.offset.reset": "latest"}, records=5)
    consumer.assign([TP0])
    assert consumer.position(TP0) == 5
    assert consumer.poll(100) == []
    cluster.append_records(TP0, [b"new"])
    records = consumer.poll(1000)
    assert [(r.offset, r.value) for r in records] == [(5, b"new")]


def test_reset_none_raises_no_offset_for_partition():
    cluster, consumer = setup(config={"auto.offset.reset": "none"}, records=1)
    consumer.assign([TP0])
    with pytest.raises(NoOffsetForPartitionError) as info:
        consumer.poll(100)
    assert str(info.value) == ("NoOffsetForPartitionException: Undefined offset with no reset policy for partitions: "
                               "[t-0]")
    with pytest.raises(NoOffsetForPartitionError):
        consumer.position(TP0)
    consumer.seek(TP0, 0)
    assert values(consumer.poll(1000)) == [b"p0-0"]


def test_seek_moves_the_position_and_drops_buffered_data():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest", "max.poll.records": 2}, records=6)
    consumer.assign([TP0])
    assert [r.offset for r in consumer.poll(1000)] == [0, 1]
    consumer.seek(TP0, 4)
    assert consumer.position(TP0) == 4
    assert [r.offset for r in consumer.poll(1000)] == [4, 5]
    consumer.seek(TP0, 1)
    assert [r.offset for r in consumer.poll(1000)] == [1, 2]


def test_max_poll_records_splits_a_fetch_across_polls_without_refetching():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest", "max.poll.records": 3}, records=7)
    consumer.assign([TP0])
    got = []
    while len(got) < 7:
        got += [r.offset for r in consumer.poll(1000)]
    assert got == list(range(7))
    cluster.world.run(5)       # the prefetch for offset 7 left as the buffer emptied
    fetch_offsets = [req.partitions[TP0].fetch_offset for _, req in cluster.fetch_requests]
    assert fetch_offsets[:2] == [0, 7]


def test_out_of_range_resets_by_policy():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=3)
    consumer.assign([TP0])
    consumer.seek(TP0, 100)
    records = consumer.poll(1000)
    assert [r.offset for r in records] == [0, 1, 2]


def test_out_of_range_with_reset_none_raises():
    cluster, consumer = setup(config={"auto.offset.reset": "none"}, records=3)
    consumer.assign([TP0])
    consumer.seek(TP0, 100)
    with pytest.raises(OffsetOutOfRangeError, match="out of range for partition t-0"):
        consumer.poll(1000)
    assert cluster.history.ops[-1].type == "fail"
    assert cluster.history.ops[-1].error == "OFFSET_OUT_OF_RANGE"


def test_long_poll_returns_as_soon_as_new_data_arrives():
    cluster, consumer = setup(config={"auto.offset.reset": "latest", "fetch.max.wait.ms": 500})
    consumer.assign([TP0])
    consumer.position(TP0)
    cluster.world.kernel.schedule(1234, cluster.append_records, TP0, [b"late"])
    start = cluster.now
    records = consumer.poll(10_000)
    assert values(records) == [b"late"]
    assert 1234 <= cluster.now - start < 1240
    # the broker parked the fetches: a few requests in 1.2 s, not one per millisecond
    assert len(cluster.fetch_requests) <= 5


def test_poll_timeout_passes_when_nothing_arrives():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"})
    consumer.assign([TP0])
    start = cluster.now
    assert consumer.poll(2000) == []
    assert cluster.now == pytest.approx(start + 2000)


def test_one_fetch_per_leader_covers_its_partitions():
    cluster, consumer = setup(partitions=6, config={"auto.offset.reset": "earliest"}, records=2)
    consumer.assign([TopicPartition("t", p) for p in range(6)])
    got = []
    while len(got) < 12:
        got += consumer.poll(1000)
    first_round = {}
    for broker, req in cluster.fetch_requests:
        first_round.setdefault(broker, set(req.partitions))
    assert first_round == {1: {TopicPartition("t", 0), TopicPartition("t", 3)},
                           2: {TopicPartition("t", 1), TopicPartition("t", 4)},
                           3: {TopicPartition("t", 2), TopicPartition("t", 5)}}
    assert all(req.replica_id == -1 for _, req in cluster.fetch_requests)


def test_leader_change_refreshes_metadata_and_fetches_from_new_leader():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=2)
    consumer.assign([TP0])
    assert len(consumer.poll(1000)) == 2
    old = cluster.leaders[TP0]
    cluster.move_leader(TP0, 3 if old != 3 else 2)
    cluster.append_records(TP0, [b"after"])
    records = consumer.poll(3000)
    assert values(records) == [b"after"]
    assert cluster.fetch_requests[-1][0] == cluster.leaders[TP0]


def test_new_leader_hint_in_a_fetch_error_is_followed_without_metadata_refresh():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=1)
    cluster.leader_hints = True
    consumer.assign([TP0])
    consumer.poll(1000)
    old = cluster.leaders[TP0]
    cluster.move_leader(TP0, 3 if old != 3 else 2)
    cluster.append_records(TP0, [b"x"])
    before = cluster.metadata_requests
    assert values(consumer.poll(3000)) == [b"x"]
    assert cluster.metadata_requests == before
    assert consumer.core.metadata.partition(TP0).leader_epoch == 1


def test_fenced_leader_epoch_triggers_metadata_refresh():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=1)
    consumer.assign([TP0])
    consumer.poll(1000)
    cluster.epochs[TP0] += 1        # a new epoch the consumer has not seen: the broker fences its fetches
    cluster.append_records(TP0, [b"x"])
    before = cluster.metadata_requests
    assert values(consumer.poll(3000)) == [b"x"]
    assert cluster.metadata_requests > before
    epochs = [req.partitions[TP0].current_leader_epoch for _, req in cluster.fetch_requests]
    assert epochs[0] == 0 and epochs[-1] == 1


def test_history_records_assign_seek_and_polls_with_reads():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=2)
    consumer.assign([TP0])
    consumer.poll(1000)
    consumer.seek(TP0, 0)
    frame = cluster.history.to_frame()
    assert frame[["type", "f"]].values.tolist() == [
        ["invoke", "assign"], ["ok", "assign"], ["invoke", "poll"], ["ok", "poll"], ["ok", "poll"],
        ["invoke", "seek"], ["ok", "seek"]]
    reads = frame[(frame.f == "poll") & (frame.type == "ok")]
    assert reads[["topic", "partition", "offset", "value"]].values.tolist() == [["t", 0, 0, b"p0-0"],
                                                                              ["t", 0, 1, b"p0-1"]]
    seek = [o for o in cluster.history.ops if o.f == "seek" and o.type == "ok"][0]
    assert dict(seek.offsets) == {("t", 0): 0}


def test_group_calls_without_a_group_id_say_so():
    cluster, consumer = setup()
    message = r"To use the group management or offset commit APIs, you must provide a valid group.id"
    for call in (lambda: consumer.subscribe(["t"]), lambda: consumer.commit(), lambda: consumer.committed([TP0])):
        with pytest.raises(InvalidGroupIdError, match=message):
            call()


def test_poll_without_assignment_and_seek_of_unassigned_partition():
    cluster, consumer = setup()
    with pytest.raises(RuntimeError, match="not subscribed to any topics or assigned any partitions"):
        consumer.poll(0)
    consumer.assign([TP0])
    with pytest.raises(ValueError, match=r"partition t-1 is not assigned to this consumer \(assigned: t-0\)"):
        consumer.seek(TP1, 0)
    with pytest.raises(TypeError, match="assign\\(\\) takes TopicPartition"):
        consumer.assign(["t"])


def test_crashed_consumer_poll_raises_and_restart_keeps_assignment():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest"}, records=3)
    consumer.assign([TP0])
    assert len(consumer.poll(1000)) == 3
    cluster.world.crash(consumer.node_id)
    with pytest.raises(ClientCrashedError):
        consumer.poll(100)
    cluster.world.restart(consumer.node_id)
    assert consumer.assignment() == {TP0}
    assert [r.offset for r in consumer.poll(1000)] == [0, 1, 2]   # no committed offsets: earliest again


def test_seek_to_beginning_and_end():
    cluster, consumer = setup(config={"auto.offset.reset": "latest"}, records=4)
    consumer.assign([TP0])
    consumer.seek_to_beginning()
    assert consumer.position(TP0) == 0
    consumer.seek_to_end([TP0])
    assert consumer.position(TP0) == 4
    assert consumer.highwater(TP0) is None or consumer.highwater(TP0) == 4


def test_fetch_requests_carry_the_fetch_settings():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest", "fetch.max.wait.ms": 250,
                                      "fetch.min.bytes": 1000, "fetch.max.bytes": 70_000,
                                      "max.partition.fetch.bytes": 5000, "isolation.level": "read_committed"},
                              records=1)
    consumer.assign([TP0])
    consumer.poll(1000)
    _, request = cluster.fetch_requests[0]
    assert (request.replica_id, request.max_wait_ms, request.min_bytes, request.max_bytes,
            request.isolation_level) == (-1, 250, 1000, 70_000, 1)
    assert request.partitions[TP0].partition_max_bytes == 5000
    assert request.partitions[TP0].current_leader_epoch == 0


def test_metadata_is_refreshed_every_metadata_max_age_ms():
    cluster, consumer = setup(config={"auto.offset.reset": "earliest", "metadata.max.age.ms": 1000})
    consumer.assign([TP0])
    consumer.poll(100)
    before = cluster.metadata_requests
    cluster.world.run(5000)
    assert 4 <= cluster.metadata_requests - before <= 6

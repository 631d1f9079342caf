"""Producer scenarios against the fake brokers: batching, partitioning, retries, idempotence, timeouts, errors."""
import pytest

from kafkalab.clients.accumulator import ProducerBatch
from kafkalab.clients.partitioner import partition_for_key
from kafkalab.clients.producer import ClientCrashedError, KafkaProducer
from kafkalab.common.records import Record, RecordBatch
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import (
    BufferExhaustedError,
    ConfigError,
    KafkaTimeoutError,
    MessageTooLargeError,
    NotEnoughReplicasError,
)
from tests.clients.fake_broker import FakeCluster


def setup(partitions=3, brokers=3, config=None, topic="t"):
    cluster = FakeCluster(brokers)
    cluster.create_topic(topic, partitions)
    producer = KafkaProducer(config or {}, world=cluster.world, bootstrap=cluster.broker_ids, history=cluster.history)
    return cluster, producer


def produce_batches(cluster):
    return [(b, tp, batch) for b, req in cluster.produce_requests for tp, batch in req.batches.items()]


def test_linger_batches_records_into_one_request_per_broker():
    cluster, producer = setup(partitions=1, config={"linger.ms": 20})
    futures = [producer.send("t", value=f"v{i}") for i in range(50)]
    assert futures[-1].result().offset == 49
    assert len(cluster.produce_requests) == 1
    batch = produce_batches(cluster)[0][2]
    assert batch.record_count == 50
    # the batch left when linger.ms expired after its creation (metadata took ~1 ms of the 20)
    assert 20 <= cluster.now < 23
    assert [f.result().offset for f in futures] == list(range(50))


def test_batch_size_closes_batches_and_sends_without_waiting_for_linger():
    cluster, producer = setup(partitions=1, config={"linger.ms": 10_000, "batch.size": 1000})
    producer.partitions_for("t")
    futures = [producer.send("t", value=b"x" * 100) for _ in range(30)]
    futures[0].result()
    assert cluster.now < 100, "full batches go at once, not after linger.ms"
    sizes = [batch.size_bytes for _, _, batch in produce_batches(cluster)]
    assert all(size <= 1000 for size in sizes)
    assert produce_batches(cluster)[0][2].record_count == 8   # 61 + 8 * 113 = 965; a ninth would pass 1000


def test_incremental_batch_size_matches_record_batch_sizing():
    cluster, producer = setup(partitions=1, config={"linger.ms": 50})
    values = [b"", b"a" * 63, b"b" * 64, b"c" * 300, None, b"d" * 9000]
    keys = [None, b"k", b"key" * 40, None, b"z", b""]
    futures = [producer.send("t", value=v, key=k, timestamp_ms=1000 + 77 * i) for i, (k, v) in
               enumerate(zip(keys, values, strict=True))]
    futures.append(producer.send("t", value=b"h", headers={"trace": b"1", "n": None}, timestamp_ms=900))
    producer.flush()
    for _, _, batch in produce_batches(cluster):
        assert batch.size_bytes == RecordBatch(batch.records).size_bytes
    assert sum(b.record_count for _, _, b in produce_batches(cluster)) == 7


def test_keyed_records_go_to_the_murmur2_partition():
    cluster, producer = setup(partitions=6, brokers=3)
    keys = [f"user-{i}".encode() for i in range(40)]
    futures = {k: producer.send("t", value=b"v", key=k) for k in keys}
    producer.flush()
    for key, future in futures.items():
        assert future.result().partition == partition_for_key(key, 6)
    for tp in cluster.logs:
        log_keys = [r.key for b in cluster.logs[tp].batches() for r in b.records]
        assert all(partition_for_key(k, 6) == tp.partition for k in log_keys)


def test_explicit_partition_wins_over_the_key():
    cluster, producer = setup(partitions=3)
    assert producer.send("t", value=b"v", key=b"k", partition=2).result().partition == 2


def test_sticky_partitioning_stays_until_batch_size_then_switches():
    cluster, producer = setup(partitions=4, config={"batch.size": 2000, "linger.ms": 1000})
    producer.partitions_for("t")
    futures = [producer.send("t", value=b"x" * 90) for _ in range(200)]
    producer.flush()
    partitions = [f.result().partition for f in futures]
    sticky = producer.core._sticky["t"]
    # records of ~100 bytes never fill a batch exactly, so the switch comes at 2 x batch.size (KIP-794)
    size = producer.core.accumulator.last_append_size
    per_switch = -(-4000 // size)
    assert sticky.switches == 200 // per_switch
    change = next(i for i in range(1, 200) if partitions[i] != partitions[i - 1])
    assert change % per_switch == 0
    assert len(set(partitions)) >= 2


def test_retry_after_not_leader_refreshes_metadata_and_lands_on_new_leader():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0})
    tp = TopicPartition("t", 0)
    assert producer.send("t", value=b"a").result().offset == 0
    old = cluster.leaders[tp]
    new = 2 if old != 2 else 3
    cluster.move_leader(tp, new)
    before = cluster.metadata_requests
    meta = producer.send("t", value=b"b").result()
    assert meta.offset == 1
    assert cluster.metadata_requests > before
    brokers = [b for b, _, _ in produce_batches(cluster)]
    # a retry may beat the metadata refresh (both wait about retry.backoff.ms) and hit the old leader once more
    assert brokers[0] == old and brokers[-1] == new and set(brokers[1:-1]) <= {old}
    assert producer.metrics()["errors"] == {"NOT_LEADER_OR_FOLLOWER": len(brokers) - 2}
    assert cluster.values(tp) == [b"a", b"b"]


def test_retriable_error_backs_off_exponentially():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0, "retry.backoff.ms": 100,
                                                    "retry.backoff.max.ms": 1000})
    tp = TopicPartition("t", 0)
    producer.partitions_for("t")
    cluster.produce_errors[tp] = ["NOT_ENOUGH_REPLICAS"] * 4
    times = []
    orig = cluster.world.processes[cluster.leaders[tp]].on_message

    def spy(src, msg):
        if type(msg).__name__ == "ProduceRequest":
            times.append(cluster.now)
        orig(src, msg)
    cluster.world.processes[cluster.leaders[tp]].on_message = spy
    assert producer.send("t", value=b"a").result().offset == 0
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 4
    for gap, base in zip(gaps, [100, 200, 400, 800], strict=True):
        assert 0.8 * base - 2 <= gap <= 1.2 * base + 2


def test_non_retriable_error_fails_the_batch_with_the_kafka_error():
    cluster, producer = setup(partitions=1)
    cluster.produce_errors[TopicPartition("t", 0)] = ["INVALID_RECORD"]
    future = producer.send("t", value=b"a")
    with pytest.raises(Exception) as info:
        future.result()
    assert type(info.value).__name__ == "InvalidRecordError"
    frame = cluster.history.to_frame()
    assert frame.iloc[-1]["type"] == "fail" and frame.iloc[-1]["error"] == "INVALID_RECORD"


@pytest.mark.parametrize("error, outcome", [("NOT_ENOUGH_REPLICAS", "fail"),
                                            ("NOT_ENOUGH_REPLICAS_AFTER_APPEND", "info"),
                                            ("REQUEST_TIMED_OUT", "info")])
def test_an_error_after_a_possible_append_is_info_in_the_history(error, outcome):
    cluster, producer = setup(partitions=1, config={"retries": 0, "enable.idempotence": False})
    cluster.produce_errors[TopicPartition("t", 0)] = [error]
    assert type(producer.send("t", value=b"a").exception()).__name__ == "NoneType"   # pending
    producer.flush()
    last = cluster.history.ops[-1]
    assert (last.type, last.error) == (outcome, error)


def test_retries_zero_gives_up_after_one_attempt():
    cluster, producer = setup(partitions=1, config={"retries": 0, "enable.idempotence": False})
    cluster.produce_errors[TopicPartition("t", 0)] = ["NOT_ENOUGH_REPLICAS"]
    with pytest.raises(NotEnoughReplicasError):
        producer.send("t", value=b"a").result()


def test_idempotent_retries_after_lost_answers_leave_no_duplicates():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0, "request.timeout.ms": 500})
    tp = TopicPartition("t", 0)
    producer.partitions_for("t")
    cluster.swallow_produce = 3      # written, but the answers are lost: the producer resends
    futures = [producer.send("t", value=f"v{i}") for i in range(10)]
    producer.flush()
    assert cluster.values(tp) == [f"v{i}".encode() for i in range(10)]
    assert [f.result().offset for f in futures] == list(range(10))
    sequences = [(b.producer_id, b.base_sequence) for _, _, b in produce_batches(cluster)]
    assert len(sequences) > len(set(sequences)), "some batch was sent twice with the same sequence"
    assert producer.metrics()["disconnects"] >= 1


def test_idempotent_sequences_continue_across_batches_and_retries():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0})
    tp = TopicPartition("t", 0)
    producer.partitions_for("t")
    cluster.produce_errors[tp] = ["NOT_LEADER_OR_FOLLOWER", "NOT_ENOUGH_REPLICAS"]
    futures = [producer.send("t", value=f"v{i}") for i in range(20)]
    producer.flush()
    assert cluster.values(tp) == [f"v{i}".encode() for i in range(20)]
    appended = [b for b in cluster.logs[tp].batches()]
    seqs = [b.base_sequence for b in appended]
    counts = [b.record_count for b in appended]
    assert seqs == [sum(counts[:i]) for i in range(len(counts))]
    assert all(b.producer_id == appended[0].producer_id >= 0 for b in appended)
    assert all(f.done() and f.exception() is None for f in futures)


def test_non_idempotent_retry_after_lost_answer_duplicates():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0, "request.timeout.ms": 500, "acks": 1})
    assert not producer.idempotent
    tp = TopicPartition("t", 0)
    producer.partitions_for("t")
    cluster.swallow_produce = 1
    producer.send("t", value=b"once").result()
    assert cluster.values(tp) == [b"once", b"once"]


def test_delivery_timeout_expires_batches_and_history_says_info_when_maybe_written():
    cluster, producer = setup(partitions=1, config={"delivery.timeout.ms": 3000, "request.timeout.ms": 1000,
                                                    "linger.ms": 0})
    producer.partitions_for("t")
    cluster.drop_produce = 1000
    future = producer.send("t", value=b"lost?")
    with pytest.raises(KafkaTimeoutError) as info:
        future.result()
    assert "has passed since batch creation" in str(info.value)
    assert 3000 <= cluster.now <= 3100
    last = cluster.history.ops[-1]
    assert (last.type, last.error) == ("info", "REQUEST_TIMED_OUT")


def test_delivery_timeout_of_a_never_sent_batch_is_a_fail():
    cluster, producer = setup(partitions=1, config={"delivery.timeout.ms": 2000, "request.timeout.ms": 1000,
                                                    "linger.ms": 0})
    producer.partitions_for("t")
    cluster.leaders[TopicPartition("t", 0)] = -1     # leaderless: nothing can be sent
    future = producer.send("t", value=b"x")
    with pytest.raises(KafkaTimeoutError):
        future.result()
    assert cluster.history.ops[-1].type == "fail"


def test_max_block_ms_on_unknown_topic():
    cluster, producer = setup(config={"max.block.ms": 1500})
    calls = []
    future = producer.send("missing", value=b"x", on_delivery=lambda m, e: calls.append((m, e)))
    assert future.done()
    assert isinstance(future.exception(), KafkaTimeoutError)
    assert str(future.exception()) == "REQUEST_TIMED_OUT: Topic missing not present in metadata after 1500 ms."
    assert 1500 <= cluster.now <= 1510
    assert calls == [(None, future.exception())]
    ops = cluster.history.ops
    assert [(o.type, o.f, o.topic) for o in ops] == [("invoke", "send", "missing"), ("fail", "send", "missing")]
    assert ops[1].error == "REQUEST_TIMED_OUT"


def test_partition_beyond_the_topic_times_out_with_kafkas_message():
    cluster, producer = setup(partitions=2, config={"max.block.ms": 500})
    future = producer.send("t", value=b"x", partition=5)
    assert "Partition 5 of topic t with partition count 2 is not present in metadata after 500 ms." in \
        str(future.exception())


def test_buffer_exhaustion_blocks_then_raises_buffer_exhausted():
    cluster, producer = setup(partitions=1, config={"buffer.memory": 4096, "batch.size": 1024, "max.block.ms": 700,
                                                    "linger.ms": 0, "request.timeout.ms": 10_000})
    producer.partitions_for("t")
    cluster.drop_produce = 1000                   # nothing ever completes, memory is never freed
    futures = [producer.send("t", value=b"x" * 900) for _ in range(5)]
    assert [f.done() for f in futures[:4]] == [False] * 4
    assert isinstance(futures[4].exception(), BufferExhaustedError)
    assert "Failed to allocate 1024 bytes within the configured max blocking time 700 ms" in \
        str(futures[4].exception())


def test_buffer_full_blocks_until_memory_frees():
    cluster, producer = setup(partitions=1, config={"buffer.memory": 4096, "batch.size": 1024, "linger.ms": 0})
    producer.partitions_for("t")
    futures = [producer.send("t", value=b"x" * 900) for _ in range(20)]
    assert all(f.exception() is None for f in futures if f.done())
    producer.flush()
    assert [f.result().offset for f in futures] == list(range(20))


def test_message_too_large_fails_before_sending():
    cluster, producer = setup(partitions=1, config={"max.request.size": 1000})
    calls = []
    future = producer.send("t", value=b"x" * 1000, on_delivery=lambda m, e: calls.append(e))
    with pytest.raises(MessageTooLargeError) as info:
        future.result()
    # Kafka compares its upper-bound estimate (61 + 21 + 1 + 2 + 1000 + 1), not the true 1070 bytes
    assert str(info.value) == ("MESSAGE_TOO_LARGE: The message is 1086 bytes when serialized which is larger than "
                               "1000, which is the value of the max.request.size configuration.")
    assert calls == [info.value]
    assert cluster.produce_requests == []
    assert cluster.history.ops[-1].type == "fail" and cluster.history.ops[-1].error == "MESSAGE_TOO_LARGE"


def test_acks_zero_completes_on_send_with_offset_minus_one():
    cluster, producer = setup(partitions=1, config={"acks": 0})
    assert not producer.idempotent
    future = producer.send("t", value=b"fire")
    meta = future.result()
    assert meta.offset == -1 and meta.partition == 0
    cluster.world.run(5)     # the future completed as the request left; let it arrive
    assert cluster.values(TopicPartition("t", 0)) == [b"fire"]
    ok = [o for o in cluster.history.ops if o.type == "ok"]
    assert ok[0].offset == -1


def test_futures_and_callbacks_complete_in_order_per_partition():
    cluster, producer = setup(partitions=2, config={"batch.size": 300, "linger.ms": 2})
    seen = []
    futures = []
    for i in range(60):
        futures.append(producer.send("t", value=f"{i:03d}", partition=i % 2,
                                     on_delivery=lambda m, e, i=i: seen.append((m.partition, m.offset, i))))
    producer.flush()
    for p in (0, 1):
        mine = [(off, i) for part, off, i in seen if part == p]
        assert [off for off, _ in mine] == sorted(off for off, _ in mine)
        assert [i for _, i in mine] == sorted(i for _, i in mine)
    assert len(seen) == 60


def test_history_frame_shape_for_sends():
    cluster, producer = setup(partitions=1)
    producer.send("t", value="hello", key="k").result()
    frame = cluster.history.to_frame()
    assert list(frame.columns) == ["time_ms", "process", "type", "f", "topic", "partition", "key", "value", "offset",
                                   "error", "op"]
    assert frame["type"].tolist() == ["invoke", "ok"]
    ok = frame.iloc[1]
    assert (ok.process, ok.f, ok.topic, ok.partition, ok.key, ok.value, ok.offset) == \
        ("producer-1", "send", "t", 0, b"k", b"hello", 0)


def test_client_crashed_mid_flight_leaves_info_ops():
    cluster, producer = setup(partitions=1, config={"linger.ms": 100})
    producer.partitions_for("t")
    futures = [producer.send("t", value=f"v{i}") for i in range(3)]
    cluster.world.run(10)
    cluster.world.crash(producer.node_id)
    with pytest.raises(ClientCrashedError):
        futures[0].result()
    with pytest.raises(ClientCrashedError):
        producer.send("t", value=b"after")
    assert len(cluster.history.open_ops) == 3
    cluster.world.restart(producer.node_id)
    assert [o.type for o in cluster.history.ops[-3:]] == ["info"] * 3
    assert producer.send("t", value=b"again").result().offset == 0


def test_explicit_idempotence_with_acks_1_is_a_config_error():
    cluster = FakeCluster(1)
    with pytest.raises(ConfigError) as info:
        KafkaProducer({"enable.idempotence": True, "acks": "1"}, world=cluster.world, bootstrap=[1])
    assert "Must set acks to all in order to use the idempotent producer" in str(info.value)
    assert info.value.key == "acks"


def test_delivery_timeout_below_linger_plus_request_timeout_is_a_config_error():
    cluster = FakeCluster(1)
    with pytest.raises(ConfigError) as info:
        KafkaProducer({"delivery.timeout.ms": 1000, "request.timeout.ms": 1000}, world=cluster.world, bootstrap=[1])
    assert str(info.value) == ("delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms "
                               "(got 1000 < 5 + 1000)")
    producer = KafkaProducer({"request.timeout.ms": 200_000}, world=cluster.world, bootstrap=[1])
    assert producer.core.delivery_timeout_ms == 200_005     # the default is raised quietly, as Kafka does


def test_default_idempotence_switches_off_quietly_with_acks_1():
    cluster = FakeCluster(1)
    assert not KafkaProducer({"acks": 1}, world=cluster.world, bootstrap=[1]).idempotent
    assert KafkaProducer({}, world=cluster.world, bootstrap=[1], node_id="p2").idempotent


def test_explicit_idempotence_with_six_in_flight_is_a_config_error():
    cluster = FakeCluster(1)
    with pytest.raises(ConfigError, match="max.in.flight.requests.per.connection to at most 5"):
        KafkaProducer({"enable.idempotence": "true", "max.in.flight.requests.per.connection": 6},
                      world=cluster.world, bootstrap=[1])


@pytest.mark.parametrize("bad, what", [(42, "value"), ({"a": 1}, "value"), (3.5, "value")])
def test_non_bytes_values_are_a_type_error_saying_how_to_serialize(bad, what):
    cluster, producer = setup()
    with pytest.raises(TypeError) as info:
        producer.send("t", value=bad)
    assert f"record {what} must be bytes, str (encoded as UTF-8) or None, got {type(bad).__name__}" in str(info.value)
    assert "serialize it first" in str(info.value)
    assert len(cluster.history) == 0


def test_non_bytes_key_is_a_type_error():
    cluster, producer = setup()
    with pytest.raises(TypeError, match="record key must be bytes"):
        producer.send("t", value=b"v", key=7)


def test_str_is_utf8():
    cluster, producer = setup(partitions=1)
    producer.send("t", value="héllo", key="ké").result()
    record = cluster.logs[TopicPartition("t", 0)].batches()[0].records[0]
    assert (record.key, record.value) == ("ké".encode(), "héllo".encode())


def test_close_flushes_then_refuses_sends():
    cluster, producer = setup(partitions=1, config={"linger.ms": 1000})
    future = producer.send("t", value=b"last")
    producer.close()
    assert future.result().offset == 0
    with pytest.raises(RuntimeError, match="after producer has been closed"):
        producer.send("t", value=b"x")


def test_max_in_flight_limits_requests_per_broker():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0, "batch.size": 200,
                                                    "max.in.flight.requests.per.connection": 2,
                                                    "request.timeout.ms": 60_000, "delivery.timeout.ms": 120_000})
    producer.partitions_for("t")
    cluster.drop_produce = 1000
    for _ in range(10):
        producer.send("t", value=b"x" * 150)
    cluster.world.run(50)
    assert len(cluster.produce_requests) == 2
    assert producer.core.network.in_flight_count(1) == 2


def test_out_of_order_for_the_first_unacked_batch_fails_it_and_bumps_the_epoch():
    cluster, producer = setup(partitions=1, config={"linger.ms": 0})
    tp = TopicPartition("t", 0)
    producer.send("t", value=b"a").result()
    epoch = producer.core.producer_epoch
    cluster.produce_errors[tp] = ["OUT_OF_ORDER_SEQUENCE_NUMBER"]
    failed = producer.send("t", value=b"b")
    with pytest.raises(Exception) as info:
        failed.result()
    assert type(info.value).__name__ == "OutOfOrderSequenceNumberError"
    assert producer.send("t", value=b"c").result().offset == 1
    assert producer.core.producer_epoch == epoch + 1
    assert cluster.values(tp) == [b"a", b"c"]
    assert cluster.logs[tp].batches()[-1].base_sequence == 0


def test_producer_batch_repr_and_metrics():
    cluster, producer = setup(partitions=1)
    producer.send("t", value=b"a").result()
    m = producer.metrics()
    assert m["records_sent"] == 1 and m["batches_sent"] == 1 and m["producer_id"] >= 1000
    frame = cluster.world.metrics()
    assert {"producer.request", "producer.acked", "client.request.latency_ms"} <= set(frame["metric"])
    batch = ProducerBatch(TopicPartition("t", 0), 0.0, 0, 16384, 1)
    batch.records.append(Record(None, b"x"))
    assert "1 records" in repr(batch)


def test_producer_metadata_is_refreshed_every_metadata_max_age_ms_and_idles_without_timers():
    cluster, producer = setup(partitions=1, config={"metadata.max.age.ms": 1000})
    producer.send("t", value=b"a").result()
    before = cluster.metadata_requests
    events = cluster.world.kernel.events_processed
    cluster.world.run(10_000)
    assert 9 <= cluster.metadata_requests - before <= 11
    # idle: a metadata round trip per second and nothing else (no per-partition or per-record polling)
    assert cluster.world.kernel.events_processed - events < 10 * 6


def test_bootstrap_servers_choose_the_first_brokers_asked():
    cluster = FakeCluster(3)
    cluster.create_topic("t", 1)
    seen = []
    for b in cluster.broker_ids:
        orig = cluster.world.processes[b].on_message

        def spy(src, msg, b=b, orig=orig):
            if type(msg).__name__ == "MetadataRequest":
                seen.append(b)
            orig(src, msg)
        cluster.world.processes[b].on_message = spy
    producer = KafkaProducer({"bootstrap.servers": "2:9092"}, world=cluster.world, bootstrap=cluster.broker_ids)
    producer.partitions_for("t")
    assert seen == [2]
    with pytest.raises(ConfigError) as info:
        KafkaProducer({"bootstrap.servers": "7"}, world=cluster.world, bootstrap=cluster.broker_ids, node_id="p9")
    assert str(info.value) == "bootstrap.servers names '7', which is not a broker of this cluster; brokers: 1, 2, 3"


def test_send_from_inside_a_simulation_event_with_max_block_zero_never_drives():
    cluster, producer = setup(partitions=1, config={"max.block.ms": 0})
    futures = []

    def load():          # an open-loop load generator running inside the simulation
        futures.append(producer.send("t", value=b"x"))
    cluster.world.kernel.schedule(1, load)           # no metadata yet: fails at once instead of blocking
    cluster.world.run(5)
    assert "Topic t not present in metadata after 0 ms." in str(futures[0].exception())
    producer.partitions_for("t", timeout_ms=1000)
    for i in range(20):
        cluster.world.kernel.schedule(i, load)
    cluster.world.run(100)
    assert [f.result().offset for f in futures[1:]] == list(range(20))


def test_client_crashing_while_send_blocks_leaves_an_info_op():
    cluster, producer = setup(partitions=1, config={"max.block.ms": 5000})
    cluster.world.kernel.schedule(100, cluster.world.crash, producer.node_id)
    with pytest.raises(ClientCrashedError):
        producer.send("missing", value=b"x")       # waits for metadata that never comes; the client dies
    assert [(o.type, o.f) for o in cluster.history.ops] == [("invoke", "send"), ("info", "send")]


def test_a_retried_batch_skips_its_backoff_once_the_leader_epoch_moves_kip_951():
    from kafkalab.clients.accumulator import RecordAccumulator

    acc = RecordAccumulator(batch_size=16384, linger_ms=0, buffer_memory=1 << 20, delivery_timeout_ms=120_000,
                            waiter=None, on_new_batch=lambda b: None, on_batch_full=lambda b: None)
    tp = TopicPartition("t", 0)
    batch = ProducerBatch(tp, 0.0, 0, 100, 0)
    batch.attempts, batch.retry_at_ms, batch.retry_leader_epoch = 1, 500.0, 3
    acc.reenqueue(batch, by_sequence=False)
    epochs = {tp: 3}
    ready, next_check, _ = acc.ready(lambda _tp: 1, 10.0, epochs.__getitem__)
    assert ready == {} and next_check == 490.0           # same leader epoch: wait out the backoff
    epochs[tp] = 4
    ready, _, _ = acc.ready(lambda _tp: 1, 10.0, epochs.__getitem__)
    assert ready == {1: [tp]}                              # a newer leader: go now
    assert acc.drain(1, [tp], 1 << 20, 10.0, lambda b: True, epochs.__getitem__) == [batch]

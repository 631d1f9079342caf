"""The clients through the real BrokerServer (data plane without a controller: tests/broker/harness.DataPlane)."""
from kafkalab.check.history import History
from kafkalab.check.queue_checker import check_queue
from kafkalab.clients import KafkaConsumer, KafkaProducer
from kafkalab.common.topic_partition import TopicPartition
from tests.broker.harness import DataPlane


def test_produce_and_consume_through_broker_servers_with_replication():
    dp = DataPlane((1, 2, 3), config={"min.insync.replicas": 2})
    dp.create_topic("t", [(1, 2, 3), (2, 3, 1), (3, 1, 2)])
    dp.run(10)
    history = History()
    producer = KafkaProducer({"linger.ms": 2}, world=dp.world, bootstrap=[1, 2, 3], history=history)
    futures = [producer.send("t", value=f"v{i}", key=f"k{i % 7}") for i in range(300)]
    producer.flush()
    metas = [f.result() for f in futures]
    assert {m.partition for m in metas} == {0, 1, 2}
    consumer = KafkaConsumer({"auto.offset.reset": "earliest"}, world=dp.world, bootstrap=[1, 2, 3], history=history)
    consumer.assign([TopicPartition("t", p) for p in range(3)])
    read = []
    while len(read) < 300:
        batch = consumer.poll(2000)
        assert batch, "the consumer stalled"
        read += batch
    assert sorted(r.value for r in read) == sorted(f"v{i}".encode() for i in range(300))
    by_offset = {(m.partition, m.offset): f"v{i}".encode() for i, m in enumerate(metas)}
    assert all(by_offset[(r.partition, r.offset)] == r.value for r in read)
    check = check_queue(history)
    assert check.valid, check.anomalies[:3]
    assert check.acknowledged == 300


def test_leader_failover_retries_to_the_new_leader_without_duplicates():
    dp = DataPlane((1, 2, 3), config={"min.insync.replicas": 2})
    dp.create_topic("t", [(1, 2, 3)])
    dp.run(10)
    history = History()
    producer = KafkaProducer({"linger.ms": 0}, world=dp.world, bootstrap=[1, 2, 3], history=history)
    assert producer.send("t", value=b"before").result().offset == 0
    dp.world.crash(1)
    dp.elect("t", 0, leader=2, isr=(2, 3))
    assert producer.send("t", value=b"after").result().offset == 1
    consumer = KafkaConsumer({"auto.offset.reset": "earliest"}, world=dp.world, bootstrap=[2, 3], history=history)
    consumer.assign([TopicPartition("t", 0)])
    values = []
    while len(values) < 2:
        values += [r.value for r in consumer.poll(2000)]
    assert values == [b"before", b"after"]
    assert check_queue(history).valid

"""Connectors with real data (SQLite source and sink over files in tmp_path, standalone mode with an offsets file)
and KIP-298 error handling: a poison record in a sink goes to the dead-letter queue with Kafka's context headers
under errors.tolerance=all, and fails the task under none."""
import sqlite3

import kafkalab as kl
from kafkalab.connect.error_handling import DLQ_HEADERS
from tests.connect.conftest import start


def test_sqlite_rows_stream_into_kafka_and_upsert_into_another_database(tmp_path):
    src_db, dst_db = tmp_path / "shop.db", tmp_path / "copy.db"
    con = sqlite3.connect(src_db)
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, qty INTEGER, updated INTEGER)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", [(i, f"item{i}", i * 2, 1000 + i) for i in range(1, 6)])
    con.commit()
    cluster, connect = start(seed=21)
    connect.create_connector("db-src", {"connector.class": "SqliteSource", "connection.url": f"jdbc:sqlite:{src_db}",
                                        "mode": "timestamp+incrementing", "timestamp.column.name": "updated",
                                        "incrementing.column.name": "id", "table.whitelist": "orders",
                                        "topic.prefix": "db-", "poll.interval.ms": 1000,
                                        "transforms": "key", "transforms.key.type":
                                        "org.apache.kafka.connect.transforms.ValueToKey", "transforms.key.fields": "id"})
    connect.create_connector("db-sink", {"connector.class": "SqliteSink", "connection.url": str(dst_db),
                                         "topics": "db-orders", "insert.mode": "upsert", "pk.mode": "record_key",
                                         "auto.create": "true", "table.name.format": "orders_copy"})
    assert connect.wait_until_running("db-src") and connect.wait_until_running("db-sink")
    cluster.run(10_000)
    con.execute("UPDATE orders SET qty = 99, updated = 2000 WHERE id = 3")        # timestamp mode reads updates
    con.execute("INSERT INTO orders VALUES (6, 'item6', 12, 1006)")
    con.commit()
    con.close()
    cluster.run(10_000)
    out = sqlite3.connect(dst_db).execute("SELECT id, item, qty FROM orders_copy ORDER BY id").fetchall()
    assert out == [(1, "item1", 2), (2, "item2", 4), (3, "item3", 99), (4, "item4", 8), (5, "item5", 10),
                   (6, "item6", 12)]
    assert [v["id"] for *_, v in connect.observer.source_acks] == [1, 2, 3, 4, 5, 6, 3]


def poison_pipeline(tolerance: str, seed: int):
    cluster, connect = start(seed=seed, topics={"in": 1})
    producer = cluster.producer()
    for value in (b'{"n": 1}', b"not json {", b'{"n": 3}'):
        producer.send("in", value=value, key=b"k", headers=[("origin", b"test")])
    producer.flush()
    connect.create_connector("snk", {
        "connector.class": "FileStreamSink", "file": "/dev/null", "topics": "in",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "errors.tolerance": tolerance, "errors.deadletterqueue.topic.name": "dlq",
        "errors.deadletterqueue.topic.replication.factor": 1,
        "errors.deadletterqueue.context.headers.enable": "true", "errors.log.enable": "true"})
    cluster.run(15_000)
    return cluster, connect


def test_a_poison_record_goes_to_the_dead_letter_queue_with_kafkas_context_headers():
    cluster, connect = poison_pipeline("all", 22)
    assert [v for *_, v in connect.observer.sink_puts] == [{"n": 1}, {"n": 3}]
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("dlq", 0)])
    dead = consumer.poll(2_000)
    assert len(dead) == 1 and dead[0].value == b"not json {" and dead[0].key == b"k"
    headers = dict(dead[0].headers)
    assert headers["origin"] == b"test"                                       # the original headers are kept
    assert [h for h, _ in dead[0].headers if h.startswith("__connect.errors.")] == list(DLQ_HEADERS)
    assert headers["__connect.errors.topic"] == b"in" and headers["__connect.errors.partition"] == b"0"
    assert headers["__connect.errors.offset"] == b"1" and headers["__connect.errors.connector.name"] == b"snk"
    assert headers["__connect.errors.task.id"] == b"0" and headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert headers["__connect.errors.class.name"] == b"JsonConverter"
    assert headers["__connect.errors.exception.class.name"] == b"org.apache.kafka.connect.errors.DataException"
    assert headers["__connect.errors.exception.message"].startswith(
        b"Converting byte[] to Kafka Connect data failed due to serialization error of topic in")
    assert b"Traceback" in headers["__connect.errors.exception.stacktrace"]
    assert connect.status("snk")["tasks"][0]["state"] == "RUNNING"
    logged = cluster.metrics("connect.error")
    assert len(logged) == 1 and logged["stage"].iloc[0] == "VALUE_CONVERTER"


def test_under_errors_tolerance_none_the_poison_record_fails_the_task_with_its_trace():
    _cluster, connect = poison_pipeline("none", 23)
    task = connect.status("snk")["tasks"][0]
    assert task["state"] == "FAILED"
    assert "Tolerance exceeded in error handler" in task["trace"]
    # Kafka converts the whole polled batch before put(): the batch with the poison record is never put
    assert connect.observer.sink_puts == []


def test_a_standalone_worker_keeps_source_offsets_in_its_file_across_a_restart(tmp_path):
    src, offsets = tmp_path / "in.txt", tmp_path / "offsets.json"
    src.write_text("a\nb\n")
    cluster = kl.Cluster(brokers=1, seed=24)
    connect = cluster.connect(workers=1, mode="standalone", offsets_file=str(offsets),
                              config={"offset.flush.interval.ms": 2_000})
    connect.observer.keep = True
    config = {"connector.class": "FileStreamSource", "file": str(src), "topic": "t"}
    connect.create_connector("src", config)
    cluster.run(5_000)
    assert offsets.exists()
    cluster.crash(connect.workers[0])
    cluster.restart(connect.workers[0])
    assert connect.connectors() == []                      # standalone: REST-created connectors are not kept
    src.write_text("a\nb\nc\n")
    connect.create_connector("src", config)
    cluster.run(5_000)
    assert [v for *_, v in connect.observer.source_acks] == ["a", "b", "c"]


def test_worker_config_errors_name_the_key():
    cluster = kl.Cluster(brokers=1, seed=25)
    import pytest
    with pytest.raises(kl.errors.ConfigError, match="unknown worker config 'conect.protocol'; did you mean "
                                                    "'connect.protocol'"):
        cluster.connect(workers=1, config={"conect.protocol": "eager"})
    with pytest.raises(kl.errors.ConfigError, match="invalid value 'lazy' for worker config 'connect.protocol'"):
        cluster.connect(workers=1, config={"connect.protocol": "lazy"})
    with pytest.raises(kl.errors.ConfigError, match="exactly.once.source.support is a distributed-mode key"):
        cluster.connect(workers=1, mode="standalone", config={"exactly.once.source.support": "enabled"})
    with pytest.raises(kl.errors.ConfigError, match="invalid value 'on' for worker config "
                                                    "'exactly.once.source.support'"):
        cluster.connect(workers=1, config={"exactly.once.source.support": "on"})
    with pytest.raises(ValueError, match="workers must be 1 with mode='standalone', got 2"):
        cluster.connect(workers=2, mode="standalone")
    with pytest.raises(ValueError, match="mode must be 'distributed' or 'standalone', got 'cluster'"):
        cluster.connect(workers=1, mode="cluster")


class Counter(kl.connect.SourceConnector):
    def start(self, props):
        self.props = dict(props)

    def task_class(self):
        return CounterTask

    def task_configs(self, max_tasks):
        return [{"topic": self.props["topic"], "upto": self.props.get("upto", "5")}]


class CounterTask(kl.connect.SourceTask):
    def start(self, props):
        self.topic, self.upto = props["topic"], int(props["upto"])
        last = self.context.offset_storage_reader.offset({"counter": "c"})
        self.n = last["n"] + 1 if last else 0
        self.committed_records = 0

    def poll(self):
        if self.n >= self.upto:
            return None
        record = kl.connect.SourceRecord.of({"counter": "c"}, {"n": self.n}, self.topic, self.n, key=str(self.n))
        self.n += 1
        return [record]

    def commit_record(self, record, metadata):
        self.committed_records += 1


def test_a_connector_written_in_python_runs_like_a_built_in_one():
    name = kl.connect.register_plugin(Counter)
    assert name == "tests.connect.test_connectors_errors.Counter"
    cluster, connect = start(seed=26, workers=1)
    connect.create_connector("count", {"connector.class": "Counter", "topic": "counts", "upto": "7",
                                       "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
    assert connect.wait_until_running("count")
    cluster.run(5_000)
    assert [v for *_, v in connect.observer.source_acks] == list(range(7))
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("counts", 0)])
    assert sorted(int(r.value) for r in consumer.poll(2_000)) == list(range(7))

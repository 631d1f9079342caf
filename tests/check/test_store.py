"""Histories saved as Parquet come back equal: every event, polls' reads, producers' batch rows, open operations,
and the run's metadata (seed, config) that travels with them."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kafkalab as kl
from kafkalab.check import History, analyze
from tests.check.builders import poll, send, txn


def test_round_trip_of_every_kind_of_event(tmp_path):
    h = History(metadata={"seed": 7, "config": {"acks": "all"}})
    send(h, 0, "producer-1", b"bytes", offset=0, key=b"k")
    send(h, 1, 3, "text", offset=1, key="k2")                    # an int process id and str values
    send(h, 2, "producer-1", 42, outcome="fail", error="NOT_ENOUGH_REPLICAS")
    send(h, 3, "producer-1", 2.5, outcome="info")
    send(h, 4, "producer-1", True, offset=2)
    fast = [h.invoke_send(5.0, "producer-2", "t", None, f"b{i}".encode()) for i in range(3)]
    h.ok_sends(fast, 6.0, "producer-2", "t", 1, [(None, f"b{i}".encode(), 0, ()) for i in range(3)], 10)
    poll(h, 7, "c", (0, b"bytes"), (1, "text"))
    batch_poll = h.invoke(8.0, "c", "poll")                       # how a consumer records a whole fetched batch
    h.ok(batch_poll, 9.0, reads=(("t", 1, 10, [(None, b"b0"), (None, b"b1"), (b"k", b"b2")]),))
    commit = h.invoke(10.0, "c", "commit", offsets={("t", 0): 2, ("t", 1): 13})
    h.ok(commit, 11.0, offsets={("t", 0): 2, ("t", 1): 13})
    txn(h, 12, "tp", [("t", 0, 5, b"x")], offsets={("in", 0): 4}, group="g")
    still_open = h.invoke(20.0, "c", "poll")
    path = h.save(tmp_path / "h.parquet", metadata={"workload": "test"})
    loaded = History.load(path)
    assert list(loaded.ops) == list(h.ops)
    assert loaded.ops[-1].op == still_open and [o.op for o in loaded.open_ops] == [still_open]
    batch = [o for o in loaded.ops if o.op == batch_poll and o.type == "ok"][0]
    assert batch.reads == (("t", 1, 10, None, b"b0"), ("t", 1, 11, None, b"b1"), ("t", 1, 12, b"k", b"b2"))
    assert loaded.metadata == {"seed": 7, "config": {"acks": "all"}, "workload": "test"}
    assert loaded.to_frame().equals(h.to_frame())
    next_op = loaded.invoke(30.0, "c", "poll")                    # the loaded history goes on recording
    assert next_op == still_open + 1
    loaded.ok(still_open, 31.0, reads=())
    assert loaded.open_ops[0].op == next_op and loaded.ops[-1].type == "ok"


def test_a_cluster_history_carries_its_seed_and_config(tmp_path):
    cluster = kl.Cluster(brokers=1, controllers=1, seed=11, config={"min.insync.replicas": 1})
    cluster.create_topic("t", partitions=1, replication_factor=1)
    producer = cluster.producer({"acks": "1", "linger.ms": 2})
    for i in range(20):
        producer.send("t", value=f"v{i}")
    producer.flush()
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition("t", 0)])
    while len([r for o in cluster.history.ops if o.f == "poll" and o.type == "ok" for r in o.reads]) < 20:
        consumer.poll(200)
    path = cluster.history.save(tmp_path / "run.parquet")
    loaded = History.load(path)
    assert loaded.metadata["seed"] == 11 and loaded.metadata["config"] == {"min.insync.replicas": 1}
    assert list(loaded.ops) == list(cluster.history.ops)
    assert analyze(loaded).counts == analyze(cluster.history).counts and analyze(loaded).verdict == "valid"


def test_saving_and_loading_errors_are_clear(tmp_path):
    h = History()
    op = h.invoke(0, "p", "send", topic="t", value=("a", "tuple"))
    h.ok(op, 1, partition=0, offset=0)
    with pytest.raises(TypeError, match="cannot save a value of type tuple: keys, values and process ids must be "
                                        "bytes, str, int, float, bool or None"):
        h.save(tmp_path / "bad.parquet")
    with pytest.raises(FileNotFoundError, match="no history file at .*missing.parquet"):
        History.load(tmp_path / "missing.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="is a Parquet file but not a kafkalab history"):
        History.load(tmp_path / "other.parquet")
    good = History()
    path = good.save(tmp_path / "v.parquet")
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({b"kafkalab": b'{"format": 99}'}), path)
    with pytest.raises(ValueError, match="holds history format 99; this kafkalab reads format 1"):
        History.load(path)

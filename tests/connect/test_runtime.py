"""Distributed Connect as stories: real files through source, topic and sink; a worker crash and what the
scheduled rebalance delay does with its tasks; at-least-once re-delivery counted; internal topics that survive every
worker; a non-compacted internal topic refused with Kafka's message."""
import pytest

import kafkalab as kl
from tests.connect.conftest import acked_counts, owner_of, put_counts, start


def test_a_file_flows_through_a_source_connector_a_topic_and_a_sink_connector(tmp_path):
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("".join(f"line {i}\n" for i in range(50)))
    cluster, connect = start(seed=1)
    connect.create_connector("src", {"connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
                                     "file": str(src), "topic": "lines"})
    connect.create_connector("sink", {"connector.class": "FileStreamSink", "file": str(dst), "topics": "lines"})
    assert connect.wait_until_running("src") and connect.wait_until_running("sink")
    with src.open("a") as f:                                  # the file grows while the connector runs
        f.write("line 50\nline 51 without newline")
    cluster.run(70_000)                                         # past one offset flush (60 s)
    assert dst.read_text().splitlines() == [f"line {i}" for i in range(51)]
    offsets = connect.offsets("src")
    assert offsets == [{"partition": {"filename": str(src)}, "offset": {"position": len(
        "".join(f"line {i}\n" for i in range(51)))}}]
    status = connect.status("src")
    assert status["connector"]["state"] == "RUNNING" and status["tasks"][0]["state"] == "RUNNING"
    assert status["type"] == "source"


def datagen(connect, iterations=600, tasks=2, interval=50):
    connect.create_connector("gen", {"connector.class": "DatagenSource", "kafka.topic": "orders",
                                     "quickstart": "orders", "max.interval": interval, "iterations": iterations,
                                     "tasks.max": tasks})


def test_a_worker_crash_redelivers_what_was_produced_since_the_last_offset_flush():
    cluster, connect = start(seed=2, topics={"orders": 3},
                             config={"scheduled.rebalance.max.delay.ms": 0, "offset.flush.interval.ms": 10_000})
    datagen(connect, iterations=1_000)
    assert connect.wait_until_running("gen")
    cluster.run(14_000)                                         # 4 s after the first flush at 10 s
    victim = owner_of(connect, "gen-0")
    cluster.crash(victim)
    cluster.run(60_000)
    counts = acked_counts(connect)
    assert sorted(counts) == list(range(1_000))                 # every record reached Kafka ...
    duplicates = sum(n - 1 for n in counts.values())
    assert 0 < duplicates <= 4_000 // 50 + 20                   # ... and those after the last flush twice
    assert all(n <= 2 for n in counts.values())


def test_a_departed_workers_tasks_wait_the_scheduled_delay_then_move():
    cluster, connect = start(seed=3, topics={"orders": 3}, config={"scheduled.rebalance.max.delay.ms": 60_000})
    datagen(connect, iterations=-1, tasks=3, interval=200)
    assert connect.wait_until_running("gen", tasks=3)
    victim = owner_of(connect, "gen-0")
    lost = connect.assignments()[victim]
    crashed_at = cluster.now
    cluster.crash(victim)
    cluster.run(30_000)                                         # past the session timeout: still unassigned
    running = [x for items in connect.assignments().values() for x in items]
    assert not set(lost) & set(running)
    assert cluster.run_until(lambda: set(lost) <= {x for v in connect.assignments().values() for x in v}, 60_000)
    assert cluster.now - crashed_at >= 60_000                   # moved only once the delay ran out


def test_with_delay_zero_a_departed_workers_tasks_move_after_the_session_timeout():
    cluster, connect = start(seed=3, topics={"orders": 3}, config={"scheduled.rebalance.max.delay.ms": 0})
    datagen(connect, iterations=-1, tasks=3, interval=200)
    assert connect.wait_until_running("gen", tasks=3)
    victim = owner_of(connect, "gen-0")
    lost = connect.assignments()[victim]
    crashed_at = cluster.now
    cluster.crash(victim)
    assert cluster.run_until(lambda: set(lost) <= {x for v in connect.assignments().values() for x in v}, 60_000)
    assert 10_000 <= cluster.now - crashed_at < 20_000          # the 10 s session timeout, then one rebalance


def test_eager_protocol_stops_every_task_for_a_rebalance_and_cooperative_does_not():
    results = {}
    for protocol in ("eager", "sessioned"):
        cluster, connect = start(seed=4, topics={"orders": 3}, config={"connect.protocol": protocol})
        datagen(connect, iterations=-1, tasks=3, interval=200)
        assert connect.wait_until_running("gen", tasks=3)
        cluster.run(5_000)
        connect.create_connector("gen2", {"connector.class": "DatagenSource", "kafka.topic": "orders",
                                          "max.interval": 200, "iterations": -1, "tasks.max": 1})
        assert connect.wait_until_running("gen2")
        results[protocol] = len(cluster.metrics("connect.revoke_all"))
    assert results["eager"] > 0                                  # eager revoked everything before rejoining
    assert results["sessioned"] == 0


def test_internal_topics_bring_back_connectors_statuses_and_offsets_after_every_worker_restarts(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("".join(f"r{i}\n" for i in range(20)))
    cluster, connect = start(seed=5, config={"offset.flush.interval.ms": 5_000})
    connect.create_connector("src", {"connector.class": "FileStreamSource", "file": str(src), "topic": "t"})
    assert connect.wait_until_running("src")
    cluster.run(10_000)
    for w in connect.workers:
        cluster.crash(w)
    cluster.run(1_000)
    for w in connect.workers:
        cluster.restart(w)
    assert connect.wait_until_running("src", timeout_ms=120_000)
    assert connect.connectors() == ["src"]
    assert connect.offsets("src")[0]["offset"] == {"position": sum(len(f"r{i}\n") for i in range(20))}
    with src.open("a") as f:
        f.write("r20\n")
    cluster.run(5_000)
    values = [v for *_, v in connect.observer.source_acks]
    assert values == [f"r{i}" for i in range(21)]               # nothing re-read: the offset came back from Kafka


def test_an_internal_topic_that_is_not_compacted_is_refused_with_kafkas_message():
    cluster = kl.Cluster(brokers=3, seed=6)
    cluster.create_topic("connect-offsets", partitions=25, config={"cleanup.policy": "delete"})
    with pytest.raises(kl.errors.ConfigError) as err:
        cluster.connect(workers=1)
    assert str(err.value).startswith(
        "Topic 'connect-offsets' supplied via the 'offset.storage.topic' property is required to have "
        "'cleanup.policy=compact' to guarantee consistency and durability of source connector offsets, but found "
        "the topic currently has 'cleanup.policy=delete'.")


def test_internal_topics_are_created_compacted_with_kafkas_partition_counts():
    cluster, _connect = start(workers=1, seed=7)
    image = cluster.image()
    assert {t: len(image.topics[t].partitions) for t in ("connect-configs", "connect-offsets", "connect-status")} == \
        {"connect-configs": 1, "connect-offsets": 25, "connect-status": 5}
    assert all(image.topic_config(t)["cleanup.policy"] == "compact"
               for t in ("connect-configs", "connect-offsets", "connect-status"))
    assert list(cluster.describe_topic("connect-configs")["replicas"][0]).__len__() == 3


def test_sink_records_reach_the_sink_once_each_without_faults():
    cluster, connect = start(seed=8, topics={"orders": 3})
    datagen(connect, iterations=300, tasks=2, interval=20)
    connect.create_connector("snk", {"connector.class": "FileStreamSink", "file": "/dev/null", "topics": "orders"})
    assert connect.wait_until_running("snk")
    cluster.run(20_000)
    assert put_counts(connect) == {i: 1 for i in range(300)}

"""KIP-875 for sink connectors: ``/connectors/{c}/offsets`` reads, alters and resets the sink's consumer group offsets
as Kafka's ``Worker`` does (through the group coordinator's OffsetCommit, OffsetDelete and DeleteGroups), and a sink
started again resumes where the offsets say."""
import pytest

import kafkalab as kl
from kafkalab.connect.sink_offsets import parse_sink_offsets, sink_group_id
from tests.connect.conftest import start

SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRINGS = {"value.converter": "org.apache.kafka.connect.storage.StringConverter",
           "key.converter": "org.apache.kafka.connect.storage.StringConverter"}
NOT_STOPPED = ("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for "
               "the specified connector by issuing a 'PUT' request to the '/connectors/sink/stop' endpoint")
ZOMBIES = ("either because its tasks haven't stopped completely yet or the connector was resumed before the request to "
           "{verb} its offsets could be successfully completed. If the connector is in a stopped state, this operation "
           "can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be restarted to "
           "get rid of the zombie sink tasks.")


def _offsets(*items):
    return {"offsets": [{"partition": {"kafka_topic": t, "kafka_partition": p}, "offset": {"kafka_offset": o}}
                        for t, p, o in items]}


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _stop(cluster, connect, name):
    assert connect.rest("PUT", f"/connectors/{name}/stop").status == 204
    assert cluster.run_until(lambda: connect.status(name)["connector"]["state"] == "STOPPED"
                             and connect.status(name)["tasks"] == [], 30_000)
    cluster.run(2_000)          # the tasks' consumers leave the group


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("sinkoffsets")
    cluster, connect = start(seed=5, topics={"in": 2})
    producer = cluster.producer()
    for i in range(10):
        producer.send("in", value=f"p{i % 2}-{i // 2}", partition=i % 2)
    producer.flush()
    connect.create_connector("sink", {"connector.class": SINK, "topics": "in", "file": str(d / "out.txt"), **STRINGS})
    assert cluster.run_until(lambda: len(_lines(d / "out.txt")) == 10, 120_000)
    cluster.run(61_000)         # one offset flush: the task commits what it put
    return cluster, connect, d


def test_get_answers_the_consumer_groups_committed_offsets_while_the_sink_runs(env):
    cluster, connect, _d = env
    assert cluster.group_offsets("connect-sink")["committed"].tolist() == [5, 5]
    r = connect.rest("GET", "/connectors/sink/offsets")
    assert r.status == 200 and r.body == _offsets(("in", 0, 5), ("in", 1, 5))
    follower = next(w for w in connect.workers if w != connect.leader)
    assert connect.rest("GET", "/connectors/sink/offsets", worker=follower).body == r.body   # any worker answers
    assert connect.offsets("sink") == r.body["offsets"]
    assert connect.rest("GET", "/connectors/nope/offsets").body == {"error_code": 404,
                                                                   "message": "Connector nope not found"}


def test_alter_and_reset_are_refused_unless_the_connector_is_stopped(env):
    _cluster, connect, _d = env
    for method, body in (("PATCH", _offsets(("in", 0, 1))), ("DELETE", None)):
        assert connect.rest(method, "/connectors/sink/offsets", body).body == {"error_code": 400,
                                                                             "message": NOT_STOPPED}
    assert connect.rest("PATCH", "/connectors/sink/offsets", {"offsets": []}).body == {
        "error_code": 400, "message": "Partitions / offsets need to be provided for an alter offsets request"}
    assert connect.rest("PATCH", "/connectors/nope/offsets", _offsets(("in", 0, 1))).status == 404


def test_malformed_sink_offsets_get_kafkas_400_messages(env):
    cluster, connect, _d = env
    _stop(cluster, connect, "sink")
    # a graceful stop is no failure: the consumer's close revokes the partitions of an already stopped task, which
    # Kafka's WorkerSinkTask skips (it used to flush the closed file here and report FAILED with a traceback)
    metrics = cluster.metrics()
    assert metrics[metrics.metric == "connect.task_failed"].empty
    cases = [
        ([{"offset": {"kafka_offset": 1}}], "The partition for a sink connector offset cannot be null or missing"),
        ([{"partition": {"kafka_topic": "in"}, "offset": None}],
         "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'"),
        ([{"partition": {"kafka_topic": None, "kafka_partition": 0}, "offset": None}],
         "Kafka topic names must be valid strings and may not be null"),
        ([{"partition": {"kafka_topic": "in", "kafka_partition": None}, "offset": None}],
         "Kafka partitions must be valid numbers and may not be null"),
        ([{"partition": {"kafka_topic": "in", "kafka_partition": "zero"}, "offset": None}],
         "Failed to parse the following Kafka partition value in the provided offsets: 'zero'. Partition values for "
         "sink connectors need to be integers."),
        ([{"partition": {"kafka_topic": "in", "kafka_partition": 0}, "offset": {"position": 3}}],
         "The offset for a sink connector should either be null or contain the key 'kafka_offset'"),
        ([{"partition": {"kafka_topic": "in", "kafka_partition": 0}, "offset": {"kafka_offset": "1.5"}}],
         "Failed to parse the following Kafka offset value in the provided offsets: '1.5'. Offset values for sink "
         "connectors need to be integers."),
    ]
    for entries, message in cases:
        assert connect.rest("PATCH", "/connectors/sink/offsets", {"offsets": entries}).body == \
            {"error_code": 400, "message": message}, entries
    r = connect.rest("PATCH", "/connectors/sink/offsets", _offsets(("in", 0, -3)))
    assert r.body == {"error_code": 500, "message": "Failed to modify offsets for sink connector sink"}
    assert connect.rest("GET", "/connectors/sink/offsets").body == _offsets(("in", 0, 5), ("in", 1, 5))  # untouched


def test_patch_commits_and_deletes_offsets_and_the_sink_resumes_there(env):
    cluster, connect, d = env                      # stopped by the previous test
    assert connect.status("sink")["connector"]["state"] == "STOPPED"
    body = {"offsets": [{"partition": {"kafka_topic": "in", "kafka_partition": "0"}, "offset": {"kafka_offset": "3"}},
                        {"partition": {"kafka_topic": "in", "kafka_partition": 1}, "offset": None}]}
    follower = next(w for w in connect.workers if w != connect.leader)
    r = connect.rest("PATCH", "/connectors/sink/offsets", body, worker=follower)       # forwarded to the leader
    assert r == (200, {"message": "The offsets for this connector have been altered successfully"})
    assert connect.rest("GET", "/connectors/sink/offsets").body == _offsets(("in", 0, 3))
    before = _lines(d / "out.txt")
    assert connect.rest("PUT", "/connectors/sink/resume").status == 202
    # partition 0 from offset 3 (2 records), partition 1 from the beginning (auto.offset.reset=earliest: 5 records)
    assert cluster.run_until(lambda: len(_lines(d / "out.txt")) >= len(before) + 7, 120_000)
    cluster.run(5_000)
    again = _lines(d / "out.txt")[len(before):]
    assert sorted(again) == ["p0-3", "p0-4", "p1-0", "p1-1", "p1-2", "p1-3", "p1-4"]


def test_delete_resets_the_group_and_the_restarted_sink_reads_everything_again(env):
    cluster, connect, d = env
    cluster.run(61_000)
    _stop(cluster, connect, "sink")
    assert connect.rest("GET", "/connectors/sink/offsets").body == _offsets(("in", 0, 5), ("in", 1, 5))
    r = connect.rest("DELETE", "/connectors/sink/offsets")
    assert r == (200, {"message": "The offsets for this connector have been reset successfully"})
    assert connect.rest("GET", "/connectors/sink/offsets").body == {"offsets": []}
    with pytest.raises(kl.errors.GroupIdNotFoundError):
        cluster.describe_group("connect-sink")                                   # the group itself is gone
    # a reset is idempotent: the group is already gone (GROUP_ID_NOT_FOUND counts as done)
    assert connect.rest("DELETE", "/connectors/sink/offsets").status == 200
    before = _lines(d / "out.txt")
    assert connect.rest("PUT", "/connectors/sink/resume").status == 202
    assert cluster.run_until(lambda: len(_lines(d / "out.txt")) >= len(before) + 10, 120_000)
    cluster.run(5_000)
    assert sorted(_lines(d / "out.txt")[len(before):]) == sorted(f"p{i % 2}-{i // 2}" for i in range(10))


def test_a_group_with_live_members_refuses_alter_and_reset_with_kafkas_zombie_message(env, tmp_path):
    cluster, connect, _d = env
    config = {"connector.class": SINK, "topics": "in", "file": str(tmp_path / "z.txt"),
              "consumer.override.group.id": "shared", **STRINGS}
    connect.create_connector("zombie", config)
    assert cluster.run_until(lambda: len(_lines(tmp_path / "z.txt")) == 10, 120_000)
    cluster.run(61_000)
    assert connect.rest("GET", "/connectors/zombie/offsets").body == _offsets(("in", 0, 5), ("in", 1, 5))
    _stop(cluster, connect, "zombie")
    outsider = cluster.consumer({"group.id": "shared", "auto.offset.reset": "earliest"})   # a zombie task's stand-in
    outsider.subscribe(["in"])
    assert cluster.run_until(lambda: bool(outsider.poll(0)) or bool(outsider.assignment()), 30_000)
    alter = "Failed to alter consumer group offsets for connector zombie " + ZOMBIES.format(verb="alter")
    reset = "Failed to reset consumer group offsets for connector zombie " + ZOMBIES.format(verb="reset")
    r = connect.rest("PATCH", "/connectors/zombie/offsets", _offsets(("in", 0, 1)))      # UNKNOWN_MEMBER_ID
    assert r == (500, {"error_code": 500, "message": alter})
    r = connect.rest("PATCH", "/connectors/zombie/offsets",                              # GROUP_SUBSCRIBED_TO_TOPIC
                     {"offsets": [{"partition": {"kafka_topic": "in", "kafka_partition": 0}, "offset": None}]})
    assert r == (500, {"error_code": 500, "message": alter})
    assert connect.rest("DELETE", "/connectors/zombie/offsets") == (500, {"error_code": 500, "message": reset})
    outsider.close()
    cluster.run(1_000)
    assert connect.rest("DELETE", "/connectors/zombie/offsets").status == 200
    assert connect.rest("GET", "/connectors/zombie/offsets").body == {"offsets": []}


class _Keeper(kl.connect.SinkConnector):
    """A sink that keeps offsets elsewhere (alter_offsets says False) or refuses external changes."""

    refuse = False

    def start(self, props):
        self.props = dict(props)

    def task_class(self):
        return _KeeperTask

    def task_configs(self, max_tasks):
        return [dict(self.props)]

    def alter_offsets(self, connector_config, offsets):
        if connector_config.get("refuse") == "true":
            raise NotImplementedError
        return False


class _KeeperTask(kl.connect.SinkTask):
    def start(self, props):
        pass

    def put(self, records):
        pass


def test_the_connectors_alter_offsets_decides_the_message_or_refuses(env):
    cluster, connect, _d = env
    kl.connect.register_plugin(_Keeper, "Keeper")
    connect.create_connector("keeper", {"connector.class": "Keeper", "topics": "in", **STRINGS})
    connect.create_connector("refuser", {"connector.class": "Keeper", "topics": "in", "refuse": "true", **STRINGS})
    assert connect.wait_until_running("keeper") and connect.wait_until_running("refuser")
    _stop(cluster, connect, "keeper")
    _stop(cluster, connect, "refuser")
    r = connect.rest("PATCH", "/connectors/keeper/offsets", _offsets(("in", 0, 2)))
    assert r.body == {"message": "The Connect framework-managed offsets for this connector have been altered "
                                 "successfully. However, if this connector manages offsets externally, they will "
                                 "need to be manually altered in the system that the connector uses."}
    assert connect.rest("GET", "/connectors/keeper/offsets").body == _offsets(("in", 0, 2), ("in", 1, 5))
    r = connect.rest("DELETE", "/connectors/keeper/offsets")
    assert r.body["message"].startswith("The Connect framework-managed offsets for this connector have been reset")
    r = connect.rest("PATCH", "/connectors/refuser/offsets", _offsets(("in", 0, 2)))
    assert r == (500, {"error_code": 500, "message": "Failed to modify offsets for connector refuser because it "
                                                     "doesn't support external modification of offsets"})


def test_group_id_and_parser_helpers():
    assert sink_group_id({}, "s", {}) == "connect-s"
    assert sink_group_id({"consumer.group.id": "w"}, "s", {}) == "w"
    assert sink_group_id({"consumer.group.id": "w"}, "s", {"consumer.override.group.id": "c"}) == "c"
    parsed = parse_sink_offsets([{"partition": {"kafka_topic": "t", "kafka_partition": "+7"},
                                  "offset": {"kafka_offset": 9}}])
    assert parsed == {kl.TopicPartition("t", 7): 9}
    with pytest.raises(ValueError, match="Partition values for sink connectors need to be integers"):
        parse_sink_offsets([{"partition": {"kafka_topic": "t", "kafka_partition": 2**31}, "offset": None}])
    with pytest.raises(ValueError, match="'true'"):
        parse_sink_offsets([{"partition": {"kafka_topic": "t", "kafka_partition": True}, "offset": None}])


def sink_offsets_digest(seed: int) -> str:
    """A sink whose offsets are read, altered and reset over REST, as a kernel trace digest."""
    from kafkalab.sim import Tracer
    cluster, connect = start(seed=seed, topics={"in": 2})
    tracer = Tracer(cluster.kernel)
    producer = cluster.producer()
    for i in range(20):
        producer.send("in", value=f"v{i}", partition=i % 2)
    producer.flush()
    connect.create_connector("s", {"connector.class": SINK, "topics": "in", "file": "/dev/null", **STRINGS})
    cluster.run(70_000)
    _stop(cluster, connect, "s")
    answers = [connect.rest("GET", "/connectors/s/offsets").body,
               connect.rest("PATCH", "/connectors/s/offsets", _offsets(("in", 0, 4))).body,
               connect.rest("DELETE", "/connectors/s/offsets").body]
    return f"{tracer.digest()} {tracer.count} {answers}"


def test_same_seed_same_sink_offsets_trace_under_other_hash_seeds():
    import os
    import subprocess
    import sys
    first = sink_offsets_digest(2)
    assert first == sink_offsets_digest(2)
    assert first != sink_offsets_digest(3)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = "import tests.connect.test_sink_offsets as t; print(t.sink_offsets_digest(2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                         env=dict(os.environ, PYTHONHASHSEED="777"))
    assert out.stdout.strip() == first

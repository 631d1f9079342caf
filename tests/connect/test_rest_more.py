"""The REST answers the other REST tests leave out: the two 409s Kafka gives while the group is in flux, the
``initial_state`` of a new connector, restart flags, plugin configs, a PATCH that removes a key, a restart forwarded
to the worker that runs the connector."""
import pytest

from kafkalab.connect.rest import LEADER_UNKNOWN, REBALANCE_EXPECTED
from tests.connect.conftest import start

SRC = {"connector.class": "FileStreamSource", "file": "/dev/null", "topic": "x"}


@pytest.fixture(scope="module")
def env():
    return start(seed=21)


def test_a_leader_with_a_rebalance_pending_answers_409(env):
    cluster, connect = env
    leader = connect.leader
    assert connect.rest("POST", "/connectors", {"name": "busy", "config": SRC}, worker=leader).status == 201
    assert connect.wait_until_running("busy")
    w = connect.worker(leader)
    # Kafka's checkRebalanceNeeded: the herder learned of a config change that needs a rebalance it has not run yet
    # (here the flag is set by hand: the worker queues REST requests while its own rejoin is pending, so the window
    # is a herder turn wide)
    w.needs_reconfig_rebalance = True
    try:
        for method, path, body in (("GET", "/connectors", None), ("GET", "/connectors/busy", None),
                                   ("GET", "/connectors/busy/config", None), ("GET", "/connectors/busy/tasks", None),
                                   ("PUT", "/connectors/busy/config", dict(SRC)), ("PUT", "/connectors/busy/stop", None),
                                   ("DELETE", "/connectors/busy/offsets", None)):
            r = connect.rest(method, path, body, worker=leader)
            assert r == (409, {"error_code": 409, "message": REBALANCE_EXPECTED}), (method, path, r)
    finally:
        w.needs_reconfig_rebalance = False
    assert connect.rest("GET", "/connectors/busy/tasks", worker=leader).status == 200


def test_a_worker_that_knows_no_leader_answers_writes_with_409(env):
    cluster, connect = env
    follower = next(w for w in connect.workers if w != connect.leader)
    w = connect.worker(follower)
    known = w.leader_url
    w.leader_url = None                      # a member that has not learned the leader's URL yet
    try:
        r = connect.rest("PUT", "/connectors/busy/config", dict(SRC), worker=follower)
        assert r == (409, {"error_code": 409, "message": LEADER_UNKNOWN})
        assert connect.rest("GET", "/connectors", worker=follower).status == 200       # reads are local
    finally:
        w.leader_url = known


def test_initial_state_of_a_new_connector(env):
    cluster, connect = env
    r = connect.rest("POST", "/connectors", {"name": "parked", "config": SRC, "initial_state": "STOPPED"})
    assert r.status == 201
    def stopped():
        r = connect.rest("GET", "/connectors/parked/status")
        return r.status == 200 and r.body["connector"]["state"] == "STOPPED"
    assert cluster.run_until(stopped, 30_000)
    assert connect.status("parked")["tasks"] == []
    r = connect.rest("POST", "/connectors", {"name": "odd", "config": SRC, "initial_state": "SLEEPING"})
    assert r == (400, {"error_code": 400, "message": "Invalid initial state 'SLEEPING': one of RUNNING, PAUSED, "
                                                     "STOPPED"})


def test_restart_flags(env):
    cluster, connect = env
    assert connect.wait_until_running("busy")
    r = connect.rest("POST", "/connectors/busy/restart?includeTasks=maybe")
    assert r == (400, {"error_code": 400, "message": "includeTasks and onlyFailed must be true or false"})
    r = connect.rest("POST", "/connectors/busy/restart?includeTasks=true&onlyFailed=true")
    assert r.status == 202                                           # nothing failed: nothing restarts
    assert r.body["connector"]["state"] == "RUNNING" and [t["state"] for t in r.body["tasks"]] == ["RUNNING"]
    owner = connect.status("busy")["connector"]["worker_id"].split(":")[0]
    other = next(w for w in connect.workers if w != owner)
    assert connect.rest("POST", "/connectors/busy/restart", worker=other).status == 204    # forwarded to its owner
    assert connect.rest("POST", "/connectors/nope/restart").status == 404


def test_plugin_configs_and_a_patch_that_removes_a_key(env):
    _cluster, connect = env
    fields = connect.rest("GET", "/connector-plugins/FileStreamSource/config").body
    assert {"file", "topic", "tasks.max"} <= {f["name"] for f in fields}
    assert set(fields[0]) == {"name", "type", "required", "default_value", "importance", "documentation", "group"}
    assert connect.rest("GET", "/connector-plugins/Nope/config").body == {"error_code": 404,
                                                                         "message": "Unknown plugin Nope."}
    r = connect.rest("PATCH", "/connectors/busy/config", {"batch.size": "7"})
    assert r.status == 200 and r.body["config"]["batch.size"] == "7"
    r = connect.rest("PATCH", "/connectors/busy/config", {"batch.size": None})
    assert r.status == 200 and "batch.size" not in r.body["config"]


def test_a_source_connectors_alter_offsets_validates_and_decides_the_message(env):
    cluster, connect = env
    assert connect.rest("PUT", "/connectors/busy/stop").status == 204
    assert cluster.run_until(lambda: connect.status("busy")["connector"]["state"] == "STOPPED", 30_000)
    part = {"filename": "/dev/null"}
    for offset, message in (({"position": "3"}, "The value for the 'position' key in the offset is expected to be a "
                                                "Long value"),
                            ({"position": -1}, "The value for the 'position' key in the offset should be a "
                                               "non-negative value"),
                            ({"pos": 1}, "Offset objects should either be null or contain the key 'position'")):
        r = connect.rest("PATCH", "/connectors/busy/offsets", {"offsets": [{"partition": part, "offset": offset}]})
        assert r == (500, {"error_code": 500, "message": message}), offset
    r = connect.rest("PATCH", "/connectors/busy/offsets", {"offsets": [{"partition": {"file": "x"},
                                                                        "offset": {"position": 1}}]})
    assert r.body == {"error_code": 500, "message": "Partition objects should contain the key 'filename'"}
    connect.create_connector("gen", {"connector.class": "DatagenSource", "kafka.topic": "g", "iterations": 5})
    assert connect.wait_until_running("gen")
    assert connect.rest("PUT", "/connectors/gen/stop").status == 204
    assert cluster.run_until(lambda: connect.status("gen")["tasks"] == [], 30_000)
    r = connect.rest("PATCH", "/connectors/gen/offsets", {"offsets": [{"partition": {"task": 0},
                                                                       "offset": {"seq": 1}}]})
    assert r == (200, {"message": "The Connect framework-managed offsets for this connector have been altered "
                                  "successfully. However, if this connector manages offsets externally, they will "
                                  "need to be manually altered in the system that the connector uses."})
    assert connect.rest("DELETE", "/connectors/gen/offsets").body["message"].startswith(
        "The Connect framework-managed offsets for this connector have been reset successfully.")

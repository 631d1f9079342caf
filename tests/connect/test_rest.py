"""The REST API as Kafka answers it: every path with its status code and JSON shape, the errors (404, 409, 400
with Kafka's bodies), forwarding to the leader, offsets (KIP-875), plugins and config validation (ConfigInfos)."""
import pytest

from tests.connect.conftest import start

FILE_SRC = "org.apache.kafka.connect.file.FileStreamSourceConnector"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("rest")
    (d / "in.txt").write_text("a\nb\nc\n")
    cluster, connect = start(seed=11)
    return cluster, connect, d


def test_create_read_update_patch_and_delete_a_connector(env):
    cluster, connect, d = env
    follower = next(w for w in connect.workers if w != connect.leader)
    config = {"connector.class": "FileStreamSource", "file": str(d / "in.txt"), "topic": "letters"}
    r = connect.rest("POST", "/connectors", {"name": "src", "config": config}, worker=follower)   # forwarded
    assert r.status == 201
    assert r.body == {"name": "src", "config": {**config, "name": "src"}, "tasks": [], "type": "source"}
    assert connect.rest("POST", "/connectors", {"name": "src", "config": config}).body == \
        {"error_code": 409, "message": "Connector src already exists"}
    assert connect.wait_until_running("src")
    assert connect.rest("GET", "/connectors").body == ["src"]
    info = connect.rest("GET", "/connectors/src").body
    assert info["tasks"] == [{"connector": "src", "task": 0}]
    assert connect.rest("GET", "/connectors/src/config").body == {**config, "name": "src"}
    tasks = connect.rest("GET", "/connectors/src/tasks").body
    assert tasks[0]["id"] == {"connector": "src", "task": 0} and tasks[0]["config"]["file"] == str(d / "in.txt")
    st = connect.rest("GET", "/connectors/src/tasks/0/status")
    assert st.status == 200 and st.body["id"] == 0 and st.body["state"] == "RUNNING"
    assert st.body["worker_id"].endswith(":8083") and "trace" not in st.body
    expanded = connect.rest("GET", "/connectors?expand=status&expand=info").body
    assert set(expanded["src"]) == {"status", "info"} and expanded["src"]["status"]["connector"]["state"] == "RUNNING"
    r = connect.rest("PUT", "/connectors/src/config", {**config, "batch.size": "10"})
    assert r.status == 200 and r.body["config"]["batch.size"] == "10"
    r = connect.rest("PATCH", "/connectors/src/config", {"batch.size": "20"})
    assert r.status == 200 and r.body["config"]["batch.size"] == "20" and r.body["config"]["topic"] == "letters"
    r = connect.rest("PUT", "/connectors/other/config", {**config})
    assert r.status == 201 and r.body["name"] == "other"
    assert connect.rest("DELETE", "/connectors/other").status == 204
    cluster.run(5_000)
    assert connect.connectors() == ["src"]


def test_pause_resume_stop_restart_and_topics(env):
    cluster, connect, d = env
    assert connect.rest("PUT", "/connectors/src/pause").status == 202
    assert cluster.run_until(lambda: connect.status("src")["connector"]["state"] == "PAUSED"
                             and connect.status("src")["tasks"][0]["state"] == "PAUSED", 30_000)
    assert connect.rest("PUT", "/connectors/src/resume").status == 202
    assert connect.wait_until_running("src")
    assert connect.rest("POST", "/connectors/src/restart").status == 204
    r = connect.rest("POST", "/connectors/src/restart?includeTasks=true&onlyFailed=false")
    assert r.status == 202 and r.body["connector"]["state"] == "RESTARTING"
    assert [t["state"] for t in r.body["tasks"]] == ["RESTARTING"]
    assert connect.rest("POST", "/connectors/src/tasks/0/restart").status == 204
    assert connect.wait_until_running("src")
    cluster.run(3_000)
    assert connect.rest("GET", "/connectors/src/topics").body == {"src": {"topics": ["letters"]}}
    assert connect.rest("PUT", "/connectors/src/topics/reset").status == 202
    cluster.run(1_000)
    assert connect.rest("GET", "/connectors/src/topics").body == {"src": {"topics": []}}


def test_offsets_can_be_read_and_only_changed_once_the_connector_is_stopped(env):
    cluster, connect, d = env
    cluster.run(61_000)                                                          # one offset flush
    part = {"filename": str(d / "in.txt")}
    assert connect.rest("GET", "/connectors/src/offsets").body == {"offsets": [{"partition": part,
                                                                                 "offset": {"position": 6}}]}
    r = connect.rest("PATCH", "/connectors/src/offsets", {"offsets": [{"partition": part, "offset": {"position": 2}}]})
    assert r.status == 400 and r.body["message"].startswith("Connectors must be in the STOPPED state before their "
                                                            "offsets can be modified.")
    assert connect.rest("PUT", "/connectors/src/stop").status == 204
    assert cluster.run_until(lambda: connect.status("src")["connector"]["state"] == "STOPPED", 30_000)
    assert connect.status("src")["tasks"] == []
    r = connect.rest("PATCH", "/connectors/src/offsets", {"offsets": [{"partition": part, "offset": {"position": 2}}]})
    assert r.body == {"message": "The offsets for this connector have been altered successfully"}
    cluster.run(1_000)
    assert connect.offsets("src")[0]["offset"] == {"position": 2}
    assert connect.rest("DELETE", "/connectors/src/offsets").body == \
        {"message": "The offsets for this connector have been reset successfully"}
    cluster.run(1_000)
    assert connect.offsets("src") == []
    assert connect.rest("PATCH", "/connectors/src/offsets", {}).body == {
        "error_code": 400, "message": "Partitions / offsets need to be provided for an alter offsets request"}


def test_unknown_connectors_paths_and_methods(env):
    _cluster, connect, _d = env
    for method, path in (("GET", "/connectors/nope"), ("GET", "/connectors/nope/config"),
                         ("GET", "/connectors/nope/status"), ("PUT", "/connectors/nope/pause"),
                         ("DELETE", "/connectors/nope"), ("PATCH", "/connectors/nope/config")):
        r = connect.rest(method, path, {} if method == "PATCH" else None)
        assert r == (404, {"error_code": 404, "message": "Connector nope not found"}), (method, path, r)
    assert connect.rest("GET", "/connectors/src/tasks/9/status").status == 404
    assert connect.rest("GET", "/nothing").body == {"error_code": 404, "message": "HTTP 404 Not Found"}
    assert connect.rest("DELETE", "/connectors").body == {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}
    assert connect.rest("GET", "/").body["version"] == "4.0.0"


def test_bad_configs_are_400_with_kafkas_text(env):
    _cluster, connect, _d = env
    r = connect.rest("POST", "/connectors", {"name": "bad", "config": {"connector.class": "FileStreamSource",
                                                                        "tasks.max": "0"}})
    assert r.status == 400
    assert r.body["message"].startswith("Connector configuration is invalid and contains the following 3 error(s):")
    assert "Invalid value 0 for configuration tasks.max: Value must be at least 1" in r.body["message"]
    assert 'Missing required configuration "file" which has no default value.' in r.body["message"]
    r = connect.rest("POST", "/connectors", {"name": "x", "config": {"connector.class": "NoSuchConnector"}})
    assert r.status == 400 and r.body["message"].startswith(
        "Failed to find any class that implements Connector and which name matches NoSuchConnector")
    r = connect.rest("PUT", "/connectors/a/config", {"name": "b", "connector.class": FILE_SRC})
    assert r.body == {"error_code": 400, "message": "Connector name configuration (b) doesn't match connector name "
                                                    "in the URL (a)"}


def test_plugins_and_the_validate_endpoint(env):
    _cluster, connect, _d = env
    plugins = connect.rest("GET", "/connector-plugins").body
    assert {"class": FILE_SRC, "type": "source", "version": "4.0.0"} in plugins
    r = connect.rest("PUT", "/connector-plugins/FileStreamSink/config/validate",
                     {"name": "s", "topics": "a", "topics.regex": "b.*", "errors.tolerance": "some"})
    assert r.status == 200
    body = r.body
    assert body["name"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"
    assert set(body) == {"name", "error_count", "groups", "configs"}
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"] if c["value"]["errors"]}
    assert errors == {"errors.tolerance": ["Invalid value some for configuration errors.tolerance: String must be "
                                           "one of: none, all"],
                      "topics": ["topics and topics.regex are mutually exclusive options, but both are set."],
                      "file": ['Missing required configuration "file" which has no default value.']}
    assert body["error_count"] == 3
    first = body["configs"][0]
    assert set(first) == {"definition", "value"} and first["definition"]["name"] == "name"
    assert set(first["value"]) == {"name", "value", "recommended_values", "errors", "visible"}
    r = connect.rest("PUT", "/connector-plugins/FileStreamSink/config/validate", {"connector.class": FILE_SRC})
    assert r.body["message"] == f"Included connector type {FILE_SRC} does not match request type FileStreamSink"


def test_rest_arguments_are_checked_at_the_call(env):
    _cluster, connect, _d = env
    with pytest.raises(ValueError, match="method must be one of GET, POST, PUT, PATCH, DELETE, got 'FETCH'"):
        connect.rest("FETCH", "/connectors")
    with pytest.raises(ValueError, match="path must be a str starting with '/'"):
        connect.rest("GET", "connectors")
    with pytest.raises(TypeError, match="body must be JSON-serializable"):
        connect.rest("POST", "/connectors", {"name": object()})
    with pytest.raises(KeyError, match="unknown worker 'connect-9'"):
        connect.rest("GET", "/connectors", worker="connect-9")

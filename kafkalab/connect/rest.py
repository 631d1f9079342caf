"""Kafka Connect's REST API (``ConnectorsResource``, ``ConnectorPluginsResource``, ``RootResource``) served by a
worker in its herder turn: paths, JSON bodies and status codes as Kafka's, errors as ``{"error_code", "message"}``.

How it works. :func:`serve` routes ``(method, path, body)`` and answers through ``reply(status, body)``. Reads are
answered from the worker's own view (the configs and status topics it has read). Writes that only the leader may make
(create, update, patch, delete, stop, restart with ``includeTasks``/``onlyFailed``, offsets) are forwarded to the
leader over the network when this worker is not it (``RestForward``; a REST hop in Kafka), and answered 409
``Cannot complete request because of a conflicting operation (e.g. worker rebalance)`` while no leader is known. A
leader that has a rebalance pending answers 409 ``Request cannot be completed because a rebalance is expected``
(``checkRebalanceNeeded``). ``POST /connectors/{c}/restart`` without parameters and
``POST /connectors/{c}/tasks/{t}/restart`` go to the worker running it (``NotAssignedException`` + forward).

Bad configs are 400 with Kafka's ``Connector configuration is invalid and contains the following N error(s)`` text;
``PUT /connector-plugins/{plugin}/config/validate`` answers the ``ConfigInfos`` shape
(:func:`kafkalab.connect.config_def.validate`). ``/connectors/{c}/offsets`` (KIP-875) reads and writes a source
connector's offsets topic, and a sink connector's consumer group through :mod:`kafkalab.connect.sink_offsets`
(GET on any worker; PATCH and DELETE on the leader, for a STOPPED connector only). Source connector configs are checked for KIP-618 as
``DistributedHerder`` does (``exactly.once.support=required`` against the worker and the connector's
``exactly_once_support``, ``transaction.boundary=connector`` against ``can_define_transaction_boundaries``);
``PUT /connectors/{c}/fence`` is Kafka's internal zombie-fencing endpoint, served by the leader.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from kafkalab.connect.api import ConnectorTaskId, ConnectorTransactionBoundaries, ExactlyOnceSupport
from kafkalab.connect.config_def import COMMON_FIELDS, SINK_FIELDS, SOURCE_FIELDS, ConfigField, validate
from kafkalab.connect.converters import converter_for
from kafkalab.connect.sink_offsets import (
    SinkOffsetsError,
    call_alter_offsets,
    get_sink_offsets,
    modify_sink_offsets,
    parse_sink_offsets,
    success_message,
)
from kafkalab.connect.stores import offset_key
from kafkalab.connect.transforms import build_chain
from kafkalab.errors import ConfigError

if TYPE_CHECKING:
    from kafkalab.connect.worker import Worker

__all__ = ["serve", "error_body", "validate_connector", "REBALANCE_EXPECTED", "LEADER_UNKNOWN"]

Reply = Callable[[int, Any], None]
REBALANCE_EXPECTED = "Request cannot be completed because a rebalance is expected"
LEADER_UNKNOWN = "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"
_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error_code": status, "message": message}


def _not_found(name: str) -> tuple[int, Any]:
    return 404, error_body(404, f"Connector {name} not found")


# -- validation ---------------------------------------------------------------------------------------------------------
def validate_connector(worker: Worker, config: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``AbstractHerder.validateConnectorConfig``: (ConfigInfos, None), or (None, message) when the class is unknown."""
    plugins = worker.spec.plugins
    class_name = str(config.get("connector.class", "") or "")
    if not class_name:
        return None, "Connector config {} contains no connector type".format(
            "{" + ", ".join(f"{k}={v}" for k, v in sorted(config.items())) + "}")
    try:
        cls = plugins.connector_class(class_name)
    except LookupError as exc:
        return None, str(exc)
    fields: list[ConfigField] = list(COMMON_FIELDS)
    fields += list(SINK_FIELDS if cls.type == "sink" else SOURCE_FIELDS)
    try:
        own = cls().config_def()
    except Exception as exc:  # noqa: BLE001 - a broken config_def() is the connector's error
        own = []
        extra_err = {"connector.class": [f"config_def() failed: {exc}"]}
    else:
        extra_err = {}
    fields += own
    extra: dict[str, list[str]] = dict(extra_err)
    name = str(config.get("name", "") or "")
    if not name.strip():
        extra.setdefault("name", []).append("Invalid value  for configuration name: String may not be empty")
    elif _NAME_CHARS.search(name):
        extra.setdefault("name", []).append(f"Invalid value {name} for configuration name: String may not contain "
                                            f"control sequences but had the following ASCII chars: ...")
    try:
        build_chain(config)
    except ConfigError as exc:
        extra.setdefault(exc.key or "transforms", []).append(str(exc))
    for which in ("key.converter", "value.converter", "header.converter"):
        if config.get(which):
            try:
                converter_for(str(config[which]), {}, which == "key.converter")
            except LookupError as exc:
                extra.setdefault(which, []).append(f"Invalid value {config[which]} for configuration {which}: "
                                                   f"{exc}")
    if cls.type == "sink":
        topics = [t.strip() for t in str(config.get("topics", "") or "").split(",") if t.strip()]
        regex = str(config.get("topics.regex", "") or "")
        if topics and regex:
            extra.setdefault("topics", []).append(
                "topics and topics.regex are mutually exclusive options, but both are set.")
        elif not topics and not regex:
            extra.setdefault("topics", []).append("Must configure one of topics or topics.regex")
        dlq = str(config.get("errors.deadletterqueue.topic.name", "") or "")
        if dlq and dlq in topics:
            extra.setdefault("errors.deadletterqueue.topic.name", []).append(
                f"The DLQ topic '{dlq}' may not be included in the list of topics ('topics={','.join(topics)}') "
                f"to consume")
    if cls.type == "source":
        _validate_exactly_once(worker, cls, config, extra)
    defined = {f.name for f in fields}
    extra_known = {k: v for k, v in extra.items() if k in defined}
    extra_unknown = {k: v for k, v in extra.items() if k not in defined}
    infos = validate(plugins.class_name(class_name), fields, config, {**extra_known, **extra_unknown})
    return infos, None


def _validate_exactly_once(worker: Worker, cls: type, config: Mapping[str, Any], extra: dict[str, list[str]]) -> None:
    """``DistributedHerder.validateSourceConnectorExactlyOnceSupport`` and ``...TransactionBoundary``."""
    raw = {str(k): _s(v) for k, v in config.items()}
    level = str(config.get("exactly.once.support") or "requested").strip().lower()
    if level == "required":
        problems = extra.setdefault("exactly.once.support", [])
        if not worker.exactly_once:
            problems.append("This worker does not have exactly-once source support enabled.")
        try:
            support = cls().exactly_once_support(raw)
        except Exception as exc:  # noqa: BLE001 - Kafka reports the connector's failure as a validation error
            problems.append(_unexpected(exc))
        else:
            if support is None:
                problems.append(
                    "The connector does not implement the API required for preflight validation of exactly-once "
                    "source support. Please consult the documentation for the connector to determine whether it "
                    "supports exactly-once semantics, and then consider reconfiguring the connector to use the value "
                    "\"requested\" for this property (which will disable this preflight check and allow the "
                    "connector to be created).")
            elif support is not ExactlyOnceSupport.SUPPORTED:
                problems.append("The connector does not support exactly-once semantics with the provided "
                                "configuration.")
        if not problems:
            extra.pop("exactly.once.support")
    if str(config.get("transaction.boundary") or "poll").strip().lower() == "connector":
        try:
            boundaries = cls().can_define_transaction_boundaries(raw)
        except Exception as exc:  # noqa: BLE001
            extra.setdefault("transaction.boundary", []).append(_unexpected(exc))
            return
        if boundaries is None:
            extra.setdefault("transaction.boundary", []).append(
                "This connector has returned a null value from its canDefineTransactionBoundaries method, which is "
                "not permitted. The connector will be treated as if it cannot define its own transaction "
                "boundaries, and cannot be configured with 'transaction.boundary' set to 'connector'.")
        elif boundaries is not ConnectorTransactionBoundaries.SUPPORTED:
            extra.setdefault("transaction.boundary", []).append(
                "The connector does not support connector-defined transaction boundaries with the given "
                "configuration. Please reconfigure it to use a different transaction boundary definition.")


def _unexpected(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"An unexpected error occurred during validation: {text}" if text else \
        "An unexpected error occurred during validation; please see the worker logs for more details."


def _invalid_message(infos: Mapping[str, Any]) -> str:
    errors = [e for c in infos["configs"] for e in c["value"]["errors"]]
    return (f"Connector configuration is invalid and contains the following {len(errors)} error(s):\n"
            + "\n".join(errors) + "\nYou can also find the above list of errors at the endpoint "
            "`/connector-plugins/{connectorType}/config/validate`")


# -- shapes -------------------------------------------------------------------------------------------------------------
def _info(worker: Worker, name: str) -> dict[str, Any]:
    config = worker.config.connectors[name]
    try:
        kind = worker.spec.plugins.connector_class(config.get("connector.class", "")).type
    except LookupError:
        kind = "unknown"
    return {"name": name, "config": dict(config),
            "tasks": [{"connector": t.connector, "task": t.task} for t in worker.config.tasks(name)], "type": kind}


def _state(s: Any, extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(extra)
    out.update({"state": s.state, "worker_id": s.worker_id})
    if s.trace:
        out["trace"] = s.trace
    return out


def _status(worker: Worker, name: str) -> tuple[int, Any]:
    conn = worker.statuses.connectors.get(name)
    if conn is None:
        return 404, error_body(404, f"No status found for connector {name}")
    tasks = [_state(s, {"id": t.task}) for t, s in sorted(worker.statuses.tasks.items()) if t.connector == name
             and t in set(worker.config.tasks(name))]
    config = worker.config.connectors.get(name, {})
    try:
        kind = worker.spec.plugins.connector_class(config.get("connector.class", "")).type
    except LookupError:
        kind = "unknown"
    return 200, {"name": name, "connector": _state(conn, {}), "tasks": tasks, "type": kind}


# -- routing ------------------------------------------------------------------------------------------------------------
def serve(worker: Worker, method: str, path: str, body: Any, reply: Reply) -> None:
    """Answer one request (see the module header)."""
    raw_path, _, query = path.partition("?")
    params = parse_qs(query, keep_blank_values=True)
    parts = [unquote(p) for p in raw_path.strip("/").split("/") if p]
    if worker.phase == "failed":
        reply(500, error_body(500, worker.startup_error or "the worker failed to start"))
        return
    try:
        status, out = _route(worker, method.upper(), parts, params, body, reply, path)
    except _Deferred:
        return
    reply(status, out)


class _Deferred(Exception):
    """The answer comes later (a forward, or a write read back)."""


def _leader_or_forward(worker: Worker, method: str, path: str, body: Any, reply: Reply) -> bool:
    """True when this worker is the leader; otherwise forward (or answer 409) and defer."""
    if worker.is_leader():
        if worker.needs_reconfig_rebalance:
            reply(409, error_body(409, REBALANCE_EXPECTED))
            raise _Deferred
        return True
    leader = worker.leader_node()
    if leader is None or leader == worker.node_id:
        reply(409, error_body(409, LEADER_UNKNOWN))
        raise _Deferred
    worker.forward(leader, method, path, body, reply)
    raise _Deferred


def _route(worker: Worker, method: str, parts: list[str], params: dict[str, list[str]], body: Any, reply: Reply,
           path: str) -> tuple[int, Any]:
    if not parts:
        if method == "GET":
            return 200, {"version": "4.0.0", "commit": "kafkalab", "kafka_cluster_id": "kafkalab"}
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    if parts[0] == "connector-plugins":
        return _plugins(worker, method, parts[1:], body)
    if parts[0] != "connectors":
        return 404, error_body(404, "HTTP 404 Not Found")
    if len(parts) == 1:
        if method == "GET":
            if worker.needs_reconfig_rebalance:
                return 409, error_body(409, REBALANCE_EXPECTED)
            names = sorted(worker.config.connectors)
            expand = params.get("expand")
            if not expand:
                return 200, names
            out: dict[str, Any] = {}
            for name in names:
                entry: dict[str, Any] = {}
                if "status" in expand:
                    st, sb = _status(worker, name)
                    if st != 200:
                        continue
                    entry["status"] = sb
                if "info" in expand:
                    entry["info"] = _info(worker, name)
                out[name] = entry
            return 200, out
        if method == "POST":
            return _create(worker, body, reply, path)
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    name = parts[1]
    rest = parts[2:]
    exists = name in worker.config.connectors
    if not rest:
        if method == "GET":
            if worker.needs_reconfig_rebalance:
                return 409, error_body(409, REBALANCE_EXPECTED)
            return (200, _info(worker, name)) if exists else _not_found(name)
        if method == "DELETE":
            _leader_or_forward(worker, method, path, body, reply)
            if not exists:
                return _not_found(name)
            _write_and_reply(worker, [(f"connector-{name}", None), (f"target-state-{name}", None)], reply, 204, None)
            raise _Deferred
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    op = rest[0]
    if op == "config" and len(rest) == 1:
        if method == "GET":
            if worker.needs_reconfig_rebalance:
                return 409, error_body(409, REBALANCE_EXPECTED)
            return (200, dict(worker.config.connectors[name])) if exists else _not_found(name)
        if method == "PUT":
            if not isinstance(body, Mapping):
                return 400, error_body(400, "Request body must be a JSON object of connector config strings")
            config = {str(k): _s(v) for k, v in body.items()}
            if config.get("name") is not None and config["name"] != name:
                return 400, error_body(400, f"Connector name configuration ({config['name']}) doesn't match "
                                            f"connector name in the URL ({name})")
            config["name"] = name
            return _put_config(worker, name, config, reply, path, body, allow_existing=True)
        if method == "PATCH":
            if not isinstance(body, Mapping):
                return 400, error_body(400, "Request body must be a JSON object")
            _leader_or_forward(worker, method, path, body, reply)
            if not exists:
                return _not_found(name)
            merged = dict(worker.config.connectors[name])
            for k, v in body.items():
                if v is None:
                    merged.pop(str(k), None)
                else:
                    merged[str(k)] = _s(v)
            if merged.get("name", name) != name:
                return 400, error_body(400, f"Connector name configuration ({merged['name']}) doesn't match "
                                            f"connector name in the URL ({name})")
            return _put_config(worker, name, merged, reply, path, body, allow_existing=True, patch=True)
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    if not exists and not (op == "offsets" and method == "GET"):
        return _not_found(name)
    if op == "status" and method == "GET":
        return _status(worker, name)
    if op == "tasks" and len(rest) == 1 and method == "GET":
        if worker.needs_reconfig_rebalance:
            return 409, error_body(409, REBALANCE_EXPECTED)
        return 200, [{"id": {"connector": t.connector, "task": t.task}, "config": dict(worker.config.task_configs[t])}
                     for t in worker.config.tasks(name)]
    if op == "tasks" and len(rest) == 3 and rest[2] in ("status", "restart"):
        if not rest[1].lstrip("-").isdigit():
            return 404, error_body(404, "HTTP 404 Not Found")
        tid = ConnectorTaskId(name, int(rest[1]))
        if rest[2] == "status" and method == "GET":
            s = worker.statuses.tasks.get(tid)
            if s is None or tid not in set(worker.config.tasks(name)):
                return 404, error_body(404, f"No status found for task {tid}")
            return 200, _state(s, {"id": tid.task})
        if rest[2] == "restart" and method == "POST":
            if tid not in set(worker.config.tasks(name)):
                return 404, error_body(404, f"Unknown task: {tid}")
            if tid in worker.tasks or not worker.distributed:
                worker.restart_task_here(tid)
                return 204, None
            owner = worker.statuses.tasks.get(tid)
            node = worker.spec.node_for_url(f"http://{owner.worker_id}/") if owner is not None else None
            if node is None or node == worker.node_id:
                return 409, error_body(409, "Cannot restart task since it is not assigned to this member")
            worker.forward(node, method, path, body, reply)
            raise _Deferred
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    if op == "restart" and method == "POST":
        include = _flag(params, "includeTasks")
        only_failed = _flag(params, "onlyFailed")
        if include is None or only_failed is None:
            return 400, error_body(400, "includeTasks and onlyFailed must be true or false")
        if not include and not only_failed:
            if name in worker.connectors or not worker.distributed:
                worker.restart_connector_here(name)
                return 204, None
            owner_id = worker.owner_of(name)
            node = worker.spec.node_for_url(f"http://{owner_id}/") if owner_id else None
            if node is None or node == worker.node_id:
                return 409, error_body(409, "Cannot restart connector since it is not assigned to this member")
            worker.forward(node, method, path, body, reply)
            raise _Deferred
        _leader_or_forward(worker, method, path, body, reply)
        st, plan = _status(worker, name)
        if st != 200:
            return 404, error_body(404, f"Status for connector {name} not found")
        if not only_failed or plan["connector"]["state"] == "FAILED":
            plan["connector"]["state"] = "RESTARTING"
        for t in plan["tasks"]:
            if include and (not only_failed or t["state"] == "FAILED"):
                t["state"] = "RESTARTING"
        _write_and_reply(worker, [(f"restart-connector-{name}", {"include-tasks": include,
                                                                 "only-failed": only_failed})], reply, 202, plan)
        raise _Deferred
    if op in ("pause", "resume") and method == "PUT":
        if op == "resume" and worker.config.target_states.get(name) == "STARTED":
            return 202, None
        state = "PAUSED" if op == "pause" else "STARTED"
        worker.write_config(f"target-state-{name}", {"state": state, "state.v2": state})
        return 202, None
    if op == "stop" and method == "PUT":
        _leader_or_forward(worker, method, path, body, reply)
        _write_and_reply(worker, [(f"commit-{name}", {"tasks": 0}),
                                  (f"target-state-{name}", {"state": "PAUSED", "state.v2": "STOPPED"})],
                         reply, 204, None)
        raise _Deferred
    if op == "topics":
        if len(rest) == 1 and method == "GET":
            return 200, {name: {"topics": worker.statuses.active_topics(name)}}
        if len(rest) == 2 and rest[1] == "reset" and method == "PUT":
            for key in sorted(k for k, t in worker.statuses.topics.items() if t.get("connector") == name):
                worker._write("status", key.encode(), None)
            return 202, None
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    if op == "offsets":
        return _offsets(worker, name, method, body, reply, path)
    if op == "fence" and len(rest) == 1:
        if method != "PUT":
            return 405, error_body(405, "HTTP 405 Method Not Allowed")
        # Kafka's internal endpoint (InternalConnectResource): a task's preflight zombie fencing, on the leader
        if worker.is_leader():
            worker.fence_zombies(name, reply)
            raise _Deferred
        leader = worker.leader_node()
        if leader is None or leader == worker.node_id:
            return 409, error_body(409, LEADER_UNKNOWN)
        worker.forward(leader, method, path, body, reply)
        raise _Deferred
    return 404, error_body(404, "HTTP 404 Not Found")


def _s(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def _flag(params: dict[str, list[str]], key: str) -> bool | None:
    values = params.get(key)
    if not values:
        return False
    text = values[-1].strip().lower()
    if text in ("true", ""):
        return True
    if text == "false":
        return False
    return None


def _write_and_reply(worker: Worker, records: list[tuple[str, Any]], reply: Reply, status: int, body: Any) -> None:
    """Write config records; reply once the last one was read back (or failed)."""
    remaining = [len(records)]
    last = [-1]

    def written(metadata: Any, error: Any) -> None:
        remaining[0] -= 1
        if error is not None:
            reply(500, error_body(500, f"Failed to write to the config topic: {error}"))
            remaining[0] = -100
            return
        if metadata is not None:
            last[0] = max(last[0], metadata.offset)
        if remaining[0] == 0:
            worker._after_config(last[0], lambda: reply(status, body() if callable(body) else body))
    for key, value in records:
        worker.write_config(key, value, written)


def _create(worker: Worker, body: Any, reply: Reply, path: str) -> tuple[int, Any]:
    if not isinstance(body, Mapping):
        return 400, error_body(400, "Request body must be a JSON object with \"name\" and \"config\"")
    name = str(body.get("name") or "").strip()
    config_in = body.get("config")
    if not isinstance(config_in, Mapping):
        return 400, error_body(400, "Connector config must be a JSON object of strings (the \"config\" field)")
    config = {str(k): _s(v) for k, v in config_in.items()}
    if config.get("name") is not None and config["name"] != name:
        return 400, error_body(400, f"Connector name configuration ({config['name']}) doesn't match connector "
                                    f"name in the URL ({name})")
    config["name"] = name
    initial = body.get("initial_state")
    if initial is not None and str(initial).upper() not in ("RUNNING", "PAUSED", "STOPPED"):
        return 400, error_body(400, f"Invalid initial state {initial!r}: one of RUNNING, PAUSED, STOPPED")
    return _put_config(worker, name, config, reply, path, body, allow_existing=False,
                       initial=str(initial).upper() if initial else None)


def _put_config(worker: Worker, name: str, config: dict[str, str], reply: Reply, path: str, body: Any, *,
                allow_existing: bool, patch: bool = False, initial: str | None = None) -> tuple[int, Any]:
    infos, problem = validate_connector(worker, config)
    if problem is not None:
        return 400, error_body(400, problem)
    assert infos is not None
    if infos["error_count"]:
        return 400, error_body(400, _invalid_message(infos))
    method = "PATCH" if patch else ("PUT" if allow_existing else "POST")
    _leader_or_forward(worker, method, path, body, reply)
    exists = name in worker.config.connectors
    if exists and not allow_existing:
        return 409, error_body(409, f"Connector {name} already exists")
    records: list[tuple[str, Any]] = [(f"connector-{name}", {"properties": config})]
    if not exists:
        state = {"RUNNING": "STARTED", None: "STARTED"}.get(initial, initial)
        records.append((f"target-state-{name}", {"state": "PAUSED" if state == "STOPPED" else state,
                                                 "state.v2": state}))
    status = 200 if exists else 201
    _write_and_reply(worker, records, reply, status, lambda: _info(worker, name))
    raise _Deferred


def _offsets(worker: Worker, name: str, method: str, body: Any, reply: Reply, path: str) -> tuple[int, Any]:
    config = worker.config.connectors.get(name)
    if config is None:
        return _not_found(name)
    try:
        kind = worker.spec.plugins.connector_class(config.get("connector.class", "")).type
    except LookupError:
        kind = "unknown"
    if kind == "sink" and method == "GET":
        get_sink_offsets(worker, name, config, reply)
        raise _Deferred
    if method == "GET":
        return 200, {"offsets": [{"partition": p, "offset": o} for p, o in worker.offsets.of(name)]}
    if method not in ("PATCH", "DELETE"):
        return 405, error_body(405, "HTTP 405 Method Not Allowed")
    if method == "PATCH" and (not isinstance(body, Mapping) or not body.get("offsets")):
        return 400, error_body(400, "Partitions / offsets need to be provided for an alter offsets request")
    _leader_or_forward(worker, method, path, body, reply)
    if worker.config.target_states.get(name) != "STOPPED" or worker.config.tasks(name):
        return 400, error_body(400, "Connectors must be in the STOPPED state before their offsets can be modified. "
                                    "This can be done for the specified connector by issuing a 'PUT' request to "
                                    f"the '/connectors/{name}/stop' endpoint")
    if kind == "sink":
        try:
            parsed = parse_sink_offsets(body["offsets"]) if method == "PATCH" else None
        except SinkOffsetsError as exc:
            return 400, error_body(400, str(exc))
        modify_sink_offsets(worker, name, config, parsed, reply)
        raise _Deferred
    if method == "PATCH":
        items = [(e.get("partition"), e.get("offset")) for e in body["offsets"]]
    else:
        items = [(p, None) for p, _ in worker.offsets.of(name)]
    for partition, _offset in items:
        if not isinstance(partition, Mapping):
            return 400, error_body(400, "The partitions for a source connector must be JSON objects")
    altered = call_alter_offsets(worker, name, config, list(items), reply, kind="source")
    if altered is None:
        raise _Deferred
    message = success_message(altered, reset=method == "DELETE")["message"]
    if not items:
        return 200, {"message": message}
    remaining = [len(items)]

    def written(metadata: Any, error: Any) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            reply(200 if error is None else 500, {"message": message} if error is None else
                  error_body(500, f"Failed to write offsets: {error}"))
    for partition, offset in items:
        worker._write("offset", offset_key(name, partition), offset, written)
    raise _Deferred


def _plugins(worker: Worker, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
    plugins = worker.spec.plugins
    if not parts:
        return (200, plugins.list()) if method == "GET" else (405, error_body(405, "HTTP 405 Method Not Allowed"))
    plugin = parts[0]
    if parts[1:] == ["config", "validate"] and method == "PUT":
        if not isinstance(body, Mapping):
            return 400, error_body(400, "Request body must be a JSON object of connector config strings")
        config = {str(k): _s(v) for k, v in body.items()}
        included = config.get("connector.class")
        if included is not None:
            try:
                same = plugins.class_name(included) == plugins.class_name(plugin)
            except LookupError:
                same = False
            if not same:
                return 400, error_body(400, f"Included connector type {included} does not match request type "
                                            f"{plugin}")
        config["connector.class"] = plugin
        infos, problem = validate_connector(worker, config)
        if problem is not None:
            return 400, error_body(400, problem)
        return 200, infos
    if parts[1:] == ["config"] and method == "GET":
        try:
            cls = plugins.connector_class(plugin)
        except LookupError:
            return 404, error_body(404, f"Unknown plugin {plugin}.")
        fields = list(COMMON_FIELDS) + list(SINK_FIELDS if cls.type == "sink" else SOURCE_FIELDS) + \
            list(cls().config_def())
        return 200, [{"name": f.name, "type": f.type, "required": f.required, "default_value":
                      None if f.default is None else _s(f.default), "importance": f.importance,
                      "documentation": f.doc, "group": f.group} for f in fields]
    return 404, error_body(404, "HTTP 404 Not Found")

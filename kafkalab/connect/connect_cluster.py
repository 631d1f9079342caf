"""``cluster.connect(...)``: a Kafka Connect cluster whose workers are nodes of the simulation, and the Python
helpers over its REST API.

How it works. :class:`ConnectCluster` adds one node per worker (``connect-1``, ``connect-2``, ...; URLs
``http://connect-1:8083/``) to the cluster's World as servers, so ``cluster.crash``, ``restart``, ``pause``,
``isolate`` and ``partition`` act on them like on brokers. Each incarnation runs a
:class:`~kafkalab.connect.worker.Worker`, which starts from what the internal topics hold. The constructor drives the
simulation until every worker joined the group (distributed) or started (standalone); a worker that refuses to start
(a non-compacted internal topic) makes it raise :class:`~kafkalab.errors.ConfigError` with Kafka's message.

``rest(method, path, body=None, worker=None)`` sends a request to one worker (the first live one by default), drives
the simulation until the answer (forwards to the leader happen over the network, in virtual time) and returns a
:class:`RestResponse` ``(status, body)``; no answer within ``timeout_ms`` (90 s, Kafka's REST timeout) is Kafka's 500
``Request timed out``. The helpers (``create_connector``, ``status``, ``pause``, ...) call it, retry a 409 (a
rebalance is under way) a few times in virtual time, and raise :class:`ConnectRestError` for other errors.
``describe()`` is a DataFrame of workers, connectors and tasks with their states.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from kafkalab.connect.api import ConnectorTaskId
from kafkalab.connect.config_def import resolve_worker
from kafkalab.connect.plugins import Plugins
from kafkalab.connect.worker import Observer, Worker, WorkerSpec
from kafkalab.errors import ConfigError

__all__ = ["ConnectCluster", "RestResponse", "ConnectRestError", "DESCRIBE_COLUMNS"]

_REST_TIMEOUT_MS = 90_000.0
DESCRIBE_COLUMNS = ("kind", "name", "task", "state", "worker_id", "target_state", "running_on", "alive", "leader",
                    "generation")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class RestResponse(NamedTuple):
    """An HTTP answer of the Connect REST API: status code and JSON body (None for 204/202 without body)."""

    status: int
    body: Any


class ConnectRestError(Exception):
    """A REST call answered with an error status; ``status`` and ``body`` are the answer's."""

    def __init__(self, status: int, body: Any, what: str) -> None:
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{what}: HTTP {status}: {message}")


class ConnectCluster:
    """Kafka Connect workers on a :class:`~kafkalab.cluster.Cluster` (DESIGN.md's ``cluster.connect(...)``)."""

    def __init__(self, cluster: Any, workers: int = 3, config: Mapping[str, Any] | None = None,
                 mode: str = "distributed", offsets_file: str | None = None, timeout_ms: float = 120_000.0) -> None:
        if mode not in ("distributed", "standalone"):
            raise ValueError(f"mode must be 'distributed' or 'standalone', got {mode!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}")
        if mode == "standalone" and workers != 1:
            raise ValueError(f"a standalone Connect worker is alone: workers must be 1 with mode='standalone', got "
                             f"{workers}")
        self.cluster = cluster
        self.mode = mode
        overrides = dict(config or {})
        if offsets_file is not None:
            overrides["offset.storage.file.filename"] = offsets_file
        self.worker_config = resolve_worker(overrides, mode=mode)
        self.plugins = Plugins()
        self.observer = Observer()
        self.workers: list[str] = []
        self._urls: dict[str, str] = {}
        for _ in range(workers):
            node = cluster._client_id("connect", None)
            while node in cluster.nodes:
                node = cluster._client_id("connect", None)
            url = f"http://{node}:{self.worker_config['rest.advertised.port']}/"
            spec = WorkerSpec(node, url, self.worker_config, mode, list(cluster.brokers), list(cluster.controllers),
                              len(cluster.brokers), self._policy, self._node_for_url, self.plugins, self.observer,
                              self.worker_config.get("offset.storage.file.filename"))
            self.workers.append(node)
            self._urls[url] = node
            cluster.add_node(node, lambda ctx, s=spec: Worker(ctx, s), server=True)
            cluster.clients.append(node)
        if not cluster.run_until(self._started, timeout_ms):
            phases = {w: (p.phase if (p := self.worker(w)) is not None else "down") for w in self.workers}
            raise TimeoutError(f"the Connect workers did not start within {timeout_ms:.0f} virtual ms: {phases}")
        failed = [p for w in self.workers if (p := self.worker(w)) is not None and p.phase == "failed"]
        if failed:
            raise ConfigError(failed[0].startup_error or "a Connect worker failed to start",
                              key="config.storage.topic", scope="worker")

    # -- nodes -------------------------------------------------------------------------------------------------------
    def _policy(self, topic: str) -> str | None:
        image = self.cluster.image()
        if topic not in image.topics:
            return None
        policy = image.topic_config(topic).get("cleanup.policy")
        if policy is None:
            policy = ",".join(self.cluster.config["log.cleanup.policy"])
        return str(policy)

    def _node_for_url(self, url: str) -> str | None:
        node = self._urls.get(url)
        if node is None:
            host = url.split("//", 1)[-1].split(":", 1)[0].rstrip("/")
            node = host if host in self.workers else None
        return node

    def _started(self) -> bool:
        procs = [self.worker(w) for w in self.workers]
        if any(p is not None and p.phase == "failed" for p in procs):
            return True
        return all(p is not None and p.phase == "running" for p in procs)

    def worker(self, node: str) -> Worker | None:
        """The running Worker process of ``node`` (None while it is down)."""
        if node not in self.workers:
            raise KeyError(f"unknown worker {node!r}; workers: {', '.join(self.workers)}")
        return self.cluster.processes.get(node)  # type: ignore[no-any-return]

    @property
    def leader(self) -> str | None:
        """The worker leading the group now (None while there is none)."""
        for w in self.workers:
            p = self.worker(w)
            if p is not None and p.is_leader():
                return w
        return None

    # -- REST --------------------------------------------------------------------------------------------------------
    def rest(self, method: str, path: str, body: Any = None, worker: str | None = None,
             timeout_ms: float = _REST_TIMEOUT_MS) -> RestResponse:
        """One REST request to a worker (see the module header)."""
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise ValueError(f"method must be one of {', '.join(_METHODS)}, got {method!r}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must be a str starting with '/', such as '/connectors', got {path!r}")
        try:
            payload = None if body is None else json.loads(json.dumps(body))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"body must be JSON-serializable (dicts, lists, str, numbers, bool, None): {exc}") from None
        target = worker if worker is not None else next((w for w in self.workers if self.worker(w) is not None), None)
        if target is None:
            raise ConnectionRefusedError(f"every Connect worker is down ({', '.join(self.workers)})")
        proc = self.worker(target)
        if proc is None:
            live = [w for w in self.workers if self.worker(w) is not None]
            raise ConnectionRefusedError(f"worker {target!r} is down; live workers: {', '.join(live) or 'none'}")
        answer: list[tuple[int, Any]] = []
        proc.handle_rest(method.upper(), path, payload, lambda status, out: answer.append((status, out)))
        self.cluster.run_until(lambda: bool(answer), timeout_ms)
        if not answer:
            return RestResponse(500, {"error_code": 500, "message": "Request timed out"})
        status, out = answer[0]
        return RestResponse(status, None if out is None else json.loads(json.dumps(out)))

    def _call(self, method: str, path: str, body: Any, what: str, ok: tuple[int, ...], retries: int = 20) -> Any:
        for _ in range(retries):
            response = self.rest(method, path, body)
            if response.status == 409 and "rebalance" in str(response.body):
                self.cluster.run(250.0)
                continue
            if response.status not in ok:
                raise ConnectRestError(response.status, response.body, what)
            return response.body
        raise ConnectRestError(response.status, response.body, what)

    def create_connector(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """POST /connectors; the ConnectorInfo body."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict of connector config keys, got {type(config).__name__}")
        return self._call("POST", "/connectors", {"name": name, "config": dict(config)},  # type: ignore[no-any-return]
                          f"create connector {name!r}", (201,))

    def put_config(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /connectors/{name}/config (create or update)."""
        return self._call("PUT", f"/connectors/{name}/config", dict(config),  # type: ignore[no-any-return]
                          f"put config of {name!r}", (200, 201))

    def connectors(self) -> list[str]:
        return self._call("GET", "/connectors", None, "list connectors", (200,))  # type: ignore[no-any-return]

    def status(self, name: str) -> dict[str, Any]:
        """GET /connectors/{name}/status."""
        return self._call("GET", f"/connectors/{name}/status", None,  # type: ignore[no-any-return]
                          f"status of {name!r}", (200,))

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{name}/pause", None, f"pause {name!r}", (202,))

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{name}/resume", None, f"resume {name!r}", (202,))

    def stop(self, name: str) -> None:
        self._call("PUT", f"/connectors/{name}/stop", None, f"stop {name!r}", (204,))

    def restart(self, name: str, include_tasks: bool = False, only_failed: bool = False) -> Any:
        query = f"?includeTasks={str(include_tasks).lower()}&onlyFailed={str(only_failed).lower()}"
        return self._call("POST", f"/connectors/{name}/restart{query}", None, f"restart {name!r}", (202, 204))

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/connectors/{name}", None, f"delete {name!r}", (204,))

    def offsets(self, name: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/connectors/{name}/offsets", None,  # type: ignore[no-any-return]
                          f"offsets of {name!r}", (200,))["offsets"]

    def wait_until_running(self, name: str, tasks: int | None = None, timeout_ms: float = 60_000.0) -> bool:
        """Drive the simulation until the connector and its tasks (``tasks`` of them, default: as configured) are
        RUNNING on the status topic as some live worker reads it."""
        def running() -> bool:
            for w in self.workers:
                p = self.worker(w)
                if p is None or p.phase != "running":
                    continue
                conn = p.statuses.connectors.get(name)
                if conn is None or conn.state != "RUNNING":
                    return False
                want = p.config.tasks(name)
                if not want or (tasks is not None and len(want) != tasks):
                    return False
                return all((s := p.statuses.tasks.get(t)) is not None and s.state == "RUNNING" for t in want)
            return False
        return self.cluster.run_until(running, timeout_ms)  # type: ignore[no-any-return]

    # -- observation -------------------------------------------------------------------------------------------------
    def describe(self) -> pd.DataFrame:
        """Workers, connectors and tasks: one row each (see ``DESCRIBE_COLUMNS``); states from the status topic as
        the first live worker reads it, ``running_on`` from the workers themselves."""
        rows: list[dict[str, Any]] = []
        view: Worker | None = None
        running: dict[str, str] = {}
        for w in self.workers:
            p = self.worker(w)
            rows.append({"kind": "worker", "name": w, "alive": p is not None,
                         "state": p.phase if p is not None else "down",
                         "leader": p.is_leader() if p is not None else False,
                         "generation": p.generation if p is not None else None,
                         "worker_id": p.worker_id if p is not None else None})
            if p is not None:
                view = view or p
                for c in p.connectors:
                    running[c] = w
                for t in p.tasks:
                    running[str(t)] = w
        if view is not None:
            for name in sorted(view.config.connectors):
                s = view.statuses.connectors.get(name)
                rows.append({"kind": "connector", "name": name, "state": s.state if s else "UNASSIGNED",
                             "worker_id": s.worker_id if s else None,
                             "target_state": view.config.target_states.get(name), "running_on": running.get(name)})
                for t in view.config.tasks(name):
                    ts = view.statuses.tasks.get(t)
                    rows.append({"kind": "task", "name": name, "task": t.task,
                                 "state": ts.state if ts else "UNASSIGNED", "worker_id": ts.worker_id if ts else None,
                                 "target_state": view.config.target_states.get(name),
                                 "running_on": running.get(str(ConnectorTaskId(name, t.task)))})
        return pd.DataFrame(rows, columns=list(DESCRIBE_COLUMNS))

    def assignments(self) -> dict[str, list[str]]:
        """What each live worker runs now: connector names and task ids (``name-n``)."""
        out: dict[str, list[str]] = {}
        for w in self.workers:
            p = self.worker(w)
            if p is not None:
                out[w] = sorted(p.connectors) + sorted(str(t) for t in p.tasks)
        return out

    def __repr__(self) -> str:
        return f"ConnectCluster(workers={self.workers}, mode={self.mode!r}, leader={self.leader!r})"

"""A Connect worker process: Kafka's ``Worker`` and ``DistributedHerder`` (``StandaloneHerder`` with
``mode="standalone"``) as one process of the simulation.

How it works. A worker node starts its services the way ``DistributedHerder.startServices`` does: it creates the
three internal topics (configs 1 partition, offsets ``offset.storage.partitions``, status
``status.storage.partitions``, all ``cleanup.policy=compact``, replication factor from the worker config, at most the
number of brokers), refusing an existing topic that is not compacted with Kafka's message, then reads all three to
the end and joins the worker group (:class:`~kafkalab.connect.coordinator.WorkerCoordinator`). Everything after that
is driven by what it reads and by the group:

- configs topic -> :class:`~kafkalab.connect.stores.ClusterConfigState`. The leader asks for a rebalance when a
  connector appears or disappears or its task set is committed (``needsReconfigRebalance``); under a cooperative
  subprotocol every worker first stops its own tasks of a connector whose task configs changed
  (``processTaskConfigUpdatesWithIncrementalCooperative``). A changed connector config restarts the connector where it
  runs; a target state pauses, resumes or stops it and its tasks where they run; a restart request restarts what it
  names where it runs.
- assignments (:meth:`Worker.on_assignment`) start and stop connectors and tasks; a member behind the assignment's
  config offset reads up to it first (``worker.sync.timeout.ms``; then it leaves and retries after
  ``worker.unsync.backoff.ms``); a revocation is followed by a rejoin once the revoked work stopped; a ``delay``
  schedules the next rebalance (KIP-415's scheduled rebalance).
- a running connector generates its task configs (``Connector.task_configs(tasks.max)``) and sends them to the
  leader, which writes them with their commit record (Kafka's internal ``PUT /connectors/{c}/tasks``; inter-worker
  messages here, without the sessioned protocol's request signatures).

REST requests (:mod:`kafkalab.connect.rest`) are answered in the herder's turn: while the worker has not joined a
stable generation they wait; a request only the leader can serve is forwarded to it over the network. Statuses are
written by the worker running the connector or task, with the worker's group generation.

Exactly-once sources (``exactly.once.source.support=enabled``, KIP-618) run their source tasks as
:class:`~kafkalab.connect.exactly_once.ExactlyOnceWorkerSourceTask` and read the offsets topic read_committed; the
leader answers the tasks' zombie fencing requests (:meth:`Worker.fence_zombies`).

Standalone mode: one worker, no group and no internal topics; configs and statuses live in memory (lost on restart,
as Kafka's standalone worker loses connectors created over REST), offsets in ``offset.storage.file.filename`` (a real
file written at every offset commit, read at start).
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kafkalab.clients.admin import GroupAdminCore
from kafkalab.clients.fetcher import ConsumerCore
from kafkalab.config import resolve
from kafkalab.connect.api import (
    ConnectException,
    ConnectorContext,
    ConnectorTaskId,
    OffsetStorageReader,
    SinkRecord,
    SourceRecord,
)
from kafkalab.connect.assignor import (
    CONFIG_MISMATCH,
    NO_ERROR,
    ConnectorsAndTasks,
    ExtendedAssignment,
    IncrementalCooperativeAssignor,
    WorkerState,
    as_read,
    eager_assign,
    protocol_version,
    revoked_as_read,
)
from kafkalab.connect.coordinator import WorkerCoordinator
from kafkalab.connect.exactly_once import ExactlyOnceWorkerSourceTask, fence_zombie_source_tasks
from kafkalab.connect.mux import Mux
from kafkalab.connect.stores import (
    ClusterConfigState,
    OffsetState,
    StatusState,
    json_bytes,
    offset_key,
    parse_json,
)
from kafkalab.connect.transactional import FENCE_TIMEOUT_MS, ProducerFencer
from kafkalab.connect.worker_clients import KafkaBasedLog, TopicAdmin, WorkerProducer, no_drive
from kafkalab.connect.worker_task import WorkerSinkTask, WorkerSourceTask, WorkerTask, trace_of
from kafkalab.protocol import admin as cm

__all__ = ["Worker", "WorkerSpec", "RestForward", "RestReply", "TaskConfigsPut", "Observer"]

_TOPIC_PURPOSE = {"config.storage.topic": "connector configurations",
                  "offset.storage.topic": "source connector offsets",
                  "status.storage.topic": "connector and task statuses"}


@dataclass(frozen=True, slots=True)
class RestForward:
    """A REST request forwarded to the leader (Kafka's ``RestClient`` call with ``forward=false``)."""

    request_id: int
    method: str
    path: str
    body: Any


@dataclass(frozen=True, slots=True)
class RestReply:
    request_id: int
    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class TaskConfigsPut:
    """A connector's new task configs sent to the leader (Kafka's internal ``PUT /connectors/{c}/tasks``)."""

    connector: str
    configs: tuple[tuple[tuple[str, str], ...], ...]


class Observer:
    """What the facade learns from workers for tests and checkers (outside Kafka's semantics: a tap)."""

    def __init__(self) -> None:
        self.source_acks: list[tuple[float, str, str, int, Any, Any]] = []
        self.sink_puts: list[tuple[float, str, str, int, int, Any, Any]] = []
        self.keep = False

    def source_ack(self, now: float, worker: str, task: ConnectorTaskId, record: SourceRecord, metadata: Any) -> None:
        if self.keep:
            self.source_acks.append((now, worker, str(task), metadata.partition if metadata else -1,
                                     record.source_offset, record.value))

    def sink_put(self, now: float, worker: str, task: ConnectorTaskId, batch: list[SinkRecord]) -> None:
        if self.keep:
            self.sink_puts.extend((now, worker, str(task), r.kafka_partition or 0, r.kafka_offset, r.key, r.value)
                                  for r in batch)


@dataclass
class WorkerSpec:
    """How the facade wires one worker node."""

    node_id: str
    url: str
    worker_config: dict[str, Any]
    mode: str
    bootstrap: list[Any]
    controllers: list[Any]
    broker_count: int
    describe_policy: Callable[[str], str | None]
    node_for_url: Callable[[str], Any]
    plugins: Any
    observer: Observer = field(default_factory=Observer)
    offsets_file: str | None = None


class WorkerConnector:
    """Kafka's ``WorkerConnector``: one connector instance on this worker."""

    def __init__(self, name: str, config: dict[str, str], cls: type) -> None:
        self.name = name
        self.config = config
        self.cls = cls
        self.instance: Any = None
        self.state = "UNASSIGNED"


class Worker:
    """One incarnation of a Connect worker node."""

    def __init__(self, ctx: Any, spec: WorkerSpec) -> None:
        self.ctx = ctx
        self.spec = spec
        self.node_id = spec.node_id
        self.worker_id = spec.url.split("//", 1)[-1].rstrip("/")
        self.worker_config = spec.worker_config
        self.bootstrap = spec.bootstrap
        self.distributed = spec.mode == "distributed"
        #: KIP-618: source tasks run with transactions (``exactly.once.source.support=enabled``)
        self.exactly_once = self.distributed and self.worker_config["exactly.once.source.support"] == "enabled"
        self.fencings: dict[str, list[Callable[[int, Any], None]]] = {}
        self._fencer: ProducerFencer | None = None
        self._group_admin: GroupAdminCore | None = None
        self.mux = Mux(ctx)
        self.internal_producer = WorkerProducer(self.mux, "internal-producer", spec.bootstrap)
        producer_overrides = {k[len("producer."):]: v for k, v in self.worker_config.items()
                              if k.startswith("producer.")}
        self.task_producer = WorkerProducer(self.mux, "task-producer", spec.bootstrap, producer_overrides)
        self.admin = TopicAdmin(self.mux, "admin", spec.controllers, spec.describe_policy)
        self.config = ClusterConfigState()
        self.statuses = StatusState()
        self.offsets = OffsetState()
        self.connectors: dict[str, WorkerConnector] = {}
        self.tasks: dict[ConnectorTaskId, WorkerTask] = {}
        self.assigned_connectors: list[str] = []
        self.assigned_tasks: list[ConnectorTaskId] = []
        self.generation = -1
        self.leader_url: str | None = None
        self.phase = "starting"
        self.startup_error: str | None = None
        self.needs_reconfig_rebalance = False
        self.rest_queue: list[tuple[str, str, Any, Callable[[int, Any], None]]] = []
        self._forwards: dict[int, Callable[[int, Any], None]] = {}
        self._next_forward = 1
        self._config_waiters: list[tuple[int, Callable[[], None]]] = []
        self._stops_in_flight = 0
        self._rejoin_after_stops = False
        self._pending_assignment: ExtendedAssignment | None = None
        self._sync_deadline: float | None = None
        self._rejoin_timer: Any = None
        self._tick_timer: Any = None
        self._topics_ok: dict[str, bool] = {}
        self._ensured_topics: set[str] = set()
        self._noted_topics: set[str] = set()
        self._fake_offset = 0
        #: task starts and stops on this incarnation (what a rebalance cost the tasks here)
        self.tasks_started = 0
        self.tasks_stopped = 0
        self.assignor = IncrementalCooperativeAssignor(int(self.worker_config["scheduled.rebalance.max.delay.ms"]))
        self.coordinator: WorkerCoordinator | None = None
        self.logs: dict[str, KafkaBasedLog] = {}
        self.rebalance_log: list[tuple[float, int, tuple[str, ...], tuple[str, ...], tuple[str, ...],
                                       tuple[str, ...], int]] = []
        if self.distributed:
            self._start_distributed()
        else:
            self._start_standalone()

    # -- the node ----------------------------------------------------------------------------------------------------
    def on_message(self, src: Any, msg: Any) -> None:
        if self.mux.dispatch(src, msg):
            return
        if isinstance(msg, RestForward):
            def reply(status: int, body: Any, rid: int = msg.request_id, to: Any = src) -> None:
                self.ctx.send(to, RestReply(rid, status, body), 256)
            self.handle_rest(msg.method, msg.path, msg.body, reply, forwarded=True)
        elif isinstance(msg, RestReply):
            callback = self._forwards.pop(msg.request_id, None)
            if callback is not None:
                callback(msg.status, msg.body)
        elif isinstance(msg, TaskConfigsPut):
            self._leader_put_task_configs(msg.connector, [dict(c) for c in msg.configs])

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.ctx.record(metric, value, **labels)

    def wakeup(self) -> None:
        if self._tick_timer is None and self.ctx.alive:
            self._tick_timer = self.ctx.set_timer(0.0, self._tick, name="herder-tick")

    def _tick(self) -> None:
        self._tick_timer = None
        if self.coordinator is not None:
            self.coordinator.poll()
        self._serve_queue()

    # -- services ----------------------------------------------------------------------------------------------------
    def _start_distributed(self) -> None:
        cfg = self.worker_config
        specs = (("config.storage.topic", 1, "config.storage.replication.factor"),
                 ("offset.storage.topic", int(cfg["offset.storage.partitions"]), "offset.storage.replication.factor"),
                 ("status.storage.topic", int(cfg["status.storage.partitions"]), "status.storage.replication.factor"))
        for key, partitions, rf_key in specs:
            topic = str(cfg[key])
            rf = int(cfg[rf_key])
            rf = min(rf, self.spec.broker_count) if rf > 0 else -1
            self.admin.create(cm.CreatableTopic(topic, partitions, rf, None, (("cleanup.policy", "compact"),)),
                              functools.partial(self._topic_created, key, topic))

    def _topic_created(self, key: str, topic: str, error: str, message: str | None) -> None:
        if error not in ("NONE", "TOPIC_ALREADY_EXISTS"):
            self.ctx.set_timer(1_000.0, lambda: self._start_distributed_one(key), name="create-topic-retry")
            return
        if error == "TOPIC_ALREADY_EXISTS":
            policy = self.spec.describe_policy(topic)
            policies = sorted(p.strip() for p in (policy or "").split(",") if p.strip())
            if policies and policies != ["compact"]:
                self.startup_error = (
                    f"Topic '{topic}' supplied via the '{key}' property is required to have 'cleanup.policy=compact' "
                    f"to guarantee consistency and durability of {_TOPIC_PURPOSE[key]}, but found the topic "
                    f"currently has 'cleanup.policy={','.join(policies)}'. Continuing would likely result in "
                    f"eventually losing {_TOPIC_PURPOSE[key]} and problems restarting this Connect cluster in the "
                    f"future. Change the '{key}' property in the Connect worker configurations to use a topic with "
                    f"'cleanup.policy=compact'.")
                self.phase = "failed"
                self.record("connect.worker_failed", 1, reason="non-compacted internal topic", topic=topic)
                return
        self._topics_ok[key] = True
        if len(self._topics_ok) == 3 and self.phase == "starting":
            self.phase = "reading"
            cfg = self.worker_config
            self.logs = {
                "config": KafkaBasedLog(self.mux, "config-log", str(cfg["config.storage.topic"]), self.bootstrap,
                                        self._on_config_record, self._on_progress),
                "offset": KafkaBasedLog(self.mux, "offset-log", str(cfg["offset.storage.topic"]), self.bootstrap,
                                        self._on_offset_record, self._on_progress,
                                        read_committed=self.exactly_once),
                "status": KafkaBasedLog(self.mux, "status-log", str(cfg["status.storage.topic"]), self.bootstrap,
                                        self._on_status_record, self._on_progress)}
            for log in self.logs.values():
                log.start()

    def _start_distributed_one(self, key: str) -> None:
        cfg = self.worker_config
        partitions = {"config.storage.topic": 1, "offset.storage.topic": int(cfg["offset.storage.partitions"]),
                      "status.storage.topic": int(cfg["status.storage.partitions"])}[key]
        rf_key = key.replace(".topic", ".replication.factor")
        rf = int(cfg[rf_key])
        rf = min(rf, self.spec.broker_count) if rf > 0 else -1
        topic = str(cfg[key])
        self.admin.create(cm.CreatableTopic(topic, partitions, rf, None, (("cleanup.policy", "compact"),)),
                          lambda error, message: self._topic_created(key, topic, error, message))

    def _on_progress(self) -> None:
        if self.phase == "reading" and all(log.caught_up() for log in self.logs.values()):
            self.phase = "joining"
            config = resolve("consumer", {
                "group.id": str(self.worker_config["group.id"]),
                "session.timeout.ms": int(self.worker_config["session.timeout.ms"]),
                "heartbeat.interval.ms": int(self.worker_config["heartbeat.interval.ms"]),
                "max.poll.interval.ms": int(self.worker_config["rebalance.timeout.ms"]),
                "enable.auto.commit": False})
            port = self.mux.port("group", self._on_group_message)
            core = ConsumerCore(port, config, bootstrap=self.bootstrap, drive=no_drive, history=None)
            self.coordinator = WorkerCoordinator(core, self, str(self.worker_config["connect.protocol"]))
            self._group_core = core
            self.record("connect.worker_started", 1)
            self.coordinator.poll()
        self._run_config_waiters()
        if self._pending_assignment is not None:
            self._try_apply_pending()

    def _on_group_message(self, src: Any, msg: Any) -> None:
        self._group_core.on_message(src, msg)

    def _start_standalone(self) -> None:
        path = self.spec.offsets_file
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for k, v in json.load(f):
                    self.offsets.apply(k.encode(), None if v is None else json.dumps(v).encode())
        self.phase = "running"
        self.generation = 0
        self.leader_url = self.spec.url
        self.record("connect.worker_started", 1)

    # -- the internal topics ---------------------------------------------------------------------------------------
    def _on_config_record(self, record: Any) -> None:
        key = record[4].decode() if record[4] is not None else ""
        self._apply_config(key, parse_json(record[5]), record[2])

    def _apply_config(self, key: str, value: Any, offset: int) -> None:
        change = self.config.apply(key, value, offset)
        if change is None:
            return
        what, name = change
        self.record("connect.config_record", 1, change=what, connector=name)
        leader = self.is_leader()
        if what == "connector-added":
            if leader:
                self._request_rebalance("connector added")
        elif what == "connector-removed":
            self._stop_connector_and_tasks(name)
            if leader:
                self._request_rebalance("connector removed")
        elif what == "connector-updated":
            wc = self.connectors.get(name)
            if wc is not None:
                self._stop_connector(name, then=functools.partial(self._start_connector, name))
        elif what == "tasks-committed":
            if self.distributed and self.coordinator is not None and self.coordinator.cooperative:
                mine = [t for t in self.assigned_tasks if t.connector == name]
                for t in mine:
                    self._stop_task(t)
                self.assigned_tasks = [t for t in self.assigned_tasks if t.connector != name]
            if leader:
                self._request_rebalance("task configs committed")
        elif what == "target-state":
            self._apply_target_state(name)
        elif what == "restart":
            if value is not None:
                self._handle_restart_request(name, bool(value.get("include-tasks")), bool(value.get("only-failed")))
        if not self.distributed:
            self._standalone_reconcile()

    def _on_status_record(self, record: Any) -> None:
        key = record[4].decode() if record[4] is not None else ""
        self.statuses.apply(key, parse_json(record[5]))

    def _on_offset_record(self, record: Any) -> None:
        self.offsets.apply(record[4], record[5])

    def _write(self, store: str, key: bytes, value: Any, callback: Callable[[Any, Any], None] | None = None) -> None:
        """Write one record to an internal store (standalone: apply at once)."""
        cb = callback or (lambda md, err: None)
        if not self.distributed:
            self._fake_offset += 1
            if store == "config":
                self._apply_config(key.decode(), value, self._fake_offset)
            elif store == "status":
                self.statuses.apply(key.decode(), value)
            else:
                self.offsets.apply(key, json_bytes(value))
                self._save_offsets_file()
            cb(None, None)
            return
        topic = str(self.worker_config[f"{store}.storage.topic"])
        self.internal_producer.send(topic, key, json_bytes(value), cb)

    def _save_offsets_file(self) -> None:
        path = self.spec.offsets_file
        if not path:
            return
        rows = [[json.dumps([c, json.loads(p)], separators=(",", ":"), sort_keys=True), v]
                for (c, p), v in sorted(self.offsets.offsets.items())]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(rows, f)

    def write_config(self, key: str, value: Any, callback: Callable[[Any, Any], None] | None = None) -> None:
        self._write("config", key.encode(), value, callback)

    def write_offset(self, connector: str, partition: Mapping[str, Any], offset: Any,
                     done: Callable[[Any], None]) -> None:
        self._write("offset", offset_key(connector, partition), offset, lambda md, err: done(err))

    def task_status(self, task_id: ConnectorTaskId, state: str, trace: str | None) -> None:
        self._write("status", f"status-task-{task_id.connector}-{task_id.task}".encode(),
                    {"state": state, "trace": trace, "worker_id": self.worker_id, "generation": self.generation})

    def connector_status(self, name: str, state: str, trace: str | None = None) -> None:
        self._write("status", f"status-connector-{name}".encode(),
                    {"state": state, "trace": trace, "worker_id": self.worker_id, "generation": self.generation})

    def note_topic(self, task_id: ConnectorTaskId, topic: str) -> None:
        """KIP-558: the first record of a connector to a topic records it as active."""
        key = f"status-topic-{topic}:connector-{task_id.connector}"
        if key in self.statuses.topics or key in self._noted_topics:
            return
        self._noted_topics.add(key)
        self._write("status", key.encode(), {"topic": {"name": topic, "connector": task_id.connector,
                                                        "task": task_id.task,
                                                        "discoverTimestamp": int(self.ctx.now)}})

    def ensure_topic(self, topic: str, partitions: int, rf: int) -> None:
        if topic in self._ensured_topics:
            return
        self._ensured_topics.add(topic)
        rf = min(rf, self.spec.broker_count) if rf > 0 else -1
        self.admin.create(cm.CreatableTopic(topic, partitions, rf), lambda error, message: None)

    def on_source_ack(self, task_id: ConnectorTaskId, record: SourceRecord, metadata: Any) -> None:
        self.spec.observer.source_ack(self.ctx.now, self.node_id, task_id, record, metadata)

    def on_sink_put(self, task_id: ConnectorTaskId, batch: list[SinkRecord]) -> None:
        self.spec.observer.sink_put(self.ctx.now, self.node_id, task_id, batch)

    def _after_config(self, offset: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the config log was read past ``offset`` (the leader reads its own writes back)."""
        if self.config.offset > offset:
            fn()
        else:
            self._config_waiters.append((offset, fn))

    def after_config(self, offset: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` once this worker read the config topic past ``offset``."""
        self._after_config(offset, fn)

    def _run_config_waiters(self) -> None:
        if not self._config_waiters:
            return
        ready = [fn for off, fn in self._config_waiters if self.config.offset > off]
        self._config_waiters = [(off, fn) for off, fn in self._config_waiters if self.config.offset <= off]
        for fn in ready:
            fn()

    # -- exactly-once sources (KIP-618) ----------------------------------------------------------------------------
    def fencer(self) -> ProducerFencer:
        """The leader's ``fenceProducers`` client (made on first use)."""
        if self._fencer is None:
            self._fencer = ProducerFencer(self.mux, "fencer", self.bootstrap)
        return self._fencer

    def group_admin(self) -> GroupAdminCore:
        """The admin client for sink connectors' consumer groups (KIP-875 offsets; made on first use)."""
        if self._group_admin is None:
            holder: list[GroupAdminCore] = []
            port = self.mux.port("group-admin", lambda src, msg: holder[0].on_message(src, msg))
            holder.append(GroupAdminCore(port, self.bootstrap))
            self._group_admin = holder[0]
        return self._group_admin

    def fence_zombies(self, name: str, reply: Callable[[int, Any], None]) -> None:
        """The leader's zombie fencing round for connector ``name`` (:func:`fence_zombie_source_tasks`)."""
        fence_zombie_source_tasks(self, name, reply)

    def fence_zombies_for_task(self, task_id: ConnectorTaskId, done: Callable[[str | None], None]) -> None:
        """A task's preflight fencing: done by this worker when it leads, else ``PUT /connectors/{c}/fence``
        forwarded to the leader; ``done(None)`` or ``done(error message)`` once, within Connect's REST timeout."""
        finished = [False]

        def once(error: str | None) -> None:
            if not finished[0]:
                finished[0] = True
                done(error)

        def replied(status: int, body: Any) -> None:
            if status < 300:
                once(None)
            else:
                once(body.get("message") if isinstance(body, Mapping) else str(body))
        self.ctx.set_timer(FENCE_TIMEOUT_MS, lambda: once("Request timed out while waiting for the leader to fence "
                                                          "zombie tasks"), name=f"fence-timeout-{task_id}")
        if self.is_leader():
            self.fence_zombies(task_id.connector, replied)
            return
        leader = self.leader_node()
        if leader is None or leader == self.node_id:
            once("Cannot complete request because the leader is unknown")
            return
        self.forward(leader, "PUT", f"/connectors/{quote(task_id.connector, safe='')}/fence", None, replied)

    def read_offsets_topic(self, topic: str, name: str, done: Callable[[OffsetState], None]) -> None:
        """Read an offsets topic to its end with isolation level read_committed (creating a connector's own
        offsets topic like the worker's when it is missing); ``done(state)`` then, and the reader closes."""
        state = OffsetState()
        holder: list[KafkaBasedLog] = []

        def progress() -> None:
            log = holder[0] if holder else None
            if log is not None and not log.closed and log.caught_up():
                log.close()
                done(state)

        def created(error: str, message: str | None) -> None:
            if error not in ("NONE", "TOPIC_ALREADY_EXISTS"):
                self.ctx.set_timer(1_000.0, lambda: create(), name="offsets-topic-retry")
                return
            log = KafkaBasedLog(self.mux, name, topic, self.bootstrap, lambda r: state.apply(r[4], r[5]), progress,
                                read_committed=True)
            holder.append(log)
            log.start()

        def create() -> None:
            cfg = self.worker_config
            rf = int(cfg["offset.storage.replication.factor"])
            rf = min(rf, self.spec.broker_count) if rf > 0 else -1
            self.admin.create(cm.CreatableTopic(topic, int(cfg["offset.storage.partitions"]), rf, None,
                                                (("cleanup.policy", "compact"),)), created)
        if topic == str(self.worker_config["offset.storage.topic"]):
            created("NONE", None)
        else:
            create()

    # -- the group ---------------------------------------------------------------------------------------------------
    def is_leader(self) -> bool:
        if not self.distributed:
            return True
        return self.coordinator is not None and self.coordinator.is_leader() and self.coordinator.state == "stable"

    def leader_node(self) -> Any:
        if not self.distributed:
            return self.node_id
        if self.leader_url is None:
            return None
        return self.spec.node_for_url(self.leader_url)

    def may_join(self) -> bool:
        return self.phase in ("joining", "running") and self._stops_in_flight == 0 and self._sync_deadline is None

    def _request_rebalance(self, reason: str) -> None:
        self.needs_reconfig_rebalance = True
        if self.coordinator is not None:
            self.coordinator.request_rejoin(reason)

    def member_metadata(self, protocol: str) -> WorkerState:
        if protocol_version(protocol) == 0:
            return WorkerState(self.spec.url, self.config.offset)
        return WorkerState(self.spec.url, self.config.offset,
                           ConnectorsAndTasks(tuple(self.assigned_connectors), tuple(self.assigned_tasks)))

    def perform_assignment(self, protocol: str, members: Mapping[str, Any], generation: int,
                           last_completed: int) -> dict[str, ExtendedAssignment]:
        """The leader's ``performAssignment`` (eager or incremental cooperative)."""
        states = {m: (s if isinstance(s, WorkerState) else WorkerState("", -1)) for m, s in members.items()}
        max_offset = max(s.offset for s in states.values())
        leader_id = self.coordinator.member_id if self.coordinator is not None else ""
        leader_url = states.get(leader_id, WorkerState(self.spec.url, -1)).url
        version = protocol_version(protocol)
        if self.config.offset < max_offset:
            self.record("connect.config_mismatch", 1, leader_offset=self.config.offset, max_offset=max_offset)
            return {m: ExtendedAssignment(version, CONFIG_MISMATCH, leader_id, leader_url, max_offset) for m in states}
        configured = {c: n for c, n in self.config.configured().items() if c not in self.config.inconsistent}
        self.needs_reconfig_rebalance = False
        # what travels is serialized (ConnectProtocol): each side reads lists back in the wire's order
        if version == 0:
            result = eager_assign(states, configured)
            eager = {m: as_read(result[m].connectors, result[m].tasks) for m in sorted(states)}
            return {m: ExtendedAssignment(0, NO_ERROR, leader_id, leader_url, self.config.offset,
                                          eager[m].connectors, eager[m].tasks) for m in sorted(states)}
        round_ = self.assignor.assign(self.ctx.now, configured,
                                      {m: as_read(s.assignment.connectors, s.assignment.tasks)
                                       for m, s in states.items()}, last_completed, generation)
        self.record("connect.assignment", 1, generation=generation, delay=round_.delay,
                    revoked=sum(len(r.connectors) + len(r.tasks) for r in round_.revoked.values()))
        out = {}
        for m in sorted(states):
            a = as_read(round_.assigned[m].connectors, round_.assigned[m].tasks)
            r = revoked_as_read(round_.revoked[m].connectors, round_.revoked[m].tasks)
            out[m] = ExtendedAssignment(version, NO_ERROR, leader_id, leader_url, self.config.offset,
                                        a.connectors, a.tasks, r.connectors, r.tasks, round_.delay)
        return out

    def on_assignment(self, assignment: Any, generation: int) -> None:
        if not isinstance(assignment, ExtendedAssignment):
            assignment = ExtendedAssignment(0, NO_ERROR, "", "", -1)
        self.generation = generation
        self.leader_url = assignment.leader_url or None
        self.rebalance_log.append((self.ctx.now, generation, tuple(assignment.connectors),
                                   tuple(str(t) for t in assignment.tasks), tuple(assignment.revoked_connectors),
                                   tuple(str(t) for t in assignment.revoked_tasks), assignment.delay))
        if assignment.error == CONFIG_MISMATCH:
            self._pending_assignment = assignment
            self._sync_deadline = self.ctx.now + float(self.worker_config["worker.sync.timeout.ms"])
            self.ctx.set_timer(float(self.worker_config["worker.sync.timeout.ms"]), self._sync_timeout,
                               name="worker-sync-timeout")
            self._try_apply_pending()
            return
        self._pending_assignment = assignment
        if self.config.offset < assignment.offset:
            self._sync_deadline = self.ctx.now + float(self.worker_config["worker.sync.timeout.ms"])
            self.ctx.set_timer(float(self.worker_config["worker.sync.timeout.ms"]), self._sync_timeout,
                               name="worker-sync-timeout")
        self._try_apply_pending()

    def _try_apply_pending(self) -> None:
        a = self._pending_assignment
        if a is None or self.config.offset < a.offset:
            return
        self._pending_assignment = None
        self._sync_deadline = None
        if a.error == CONFIG_MISMATCH:
            if self.coordinator is not None:
                self.coordinator.request_rejoin("config mismatch: caught up, rejoining")
            return
        self._apply_assignment(a)

    def _sync_timeout(self) -> None:
        if self._pending_assignment is None or self._sync_deadline is None:
            return
        if self.ctx.now < self._sync_deadline:
            return
        # Kafka: leave the group and back off worker.unsync.backoff.ms before rejoining
        self.record("connect.worker_unsync", 1)
        self._pending_assignment = None
        self._sync_deadline = None
        self.on_revoke_all("could not catch up with the config topic")
        if self.coordinator is not None:
            self.coordinator.close(self.ctx.now)
            self.ctx.set_timer(float(self.worker_config["worker.unsync.backoff.ms"]), self._rejoin_fresh,
                               name="worker-unsync-backoff")

    def _rejoin_fresh(self) -> None:
        self.phase = "reading"
        self.coordinator = None
        self._on_progress()

    def _apply_assignment(self, a: ExtendedAssignment) -> None:
        self.phase = "running"
        if a.version == 0:
            self.assigned_connectors = list(a.connectors)
            self.assigned_tasks = list(a.tasks)
            for name in a.connectors:
                self._start_connector(name)
            for t in a.tasks:
                self._start_task(t)
        else:
            revoked_c, revoked_t = set(a.revoked_connectors), set(a.revoked_tasks)
            for name in a.revoked_connectors:
                self._stop_connector(name)
            for t in a.revoked_tasks:
                self._stop_task(t)
            # WorkerCoordinator.onJoinComplete: the new assignment, then what is left of the previous snapshot
            self.assigned_connectors = list(dict.fromkeys(
                [*a.connectors, *(c for c in self.assigned_connectors if c not in revoked_c)]))
            self.assigned_tasks = list(dict.fromkeys(
                [*a.tasks, *(t for t in self.assigned_tasks if t not in revoked_t)]))
            for name in a.connectors:
                self._start_connector(name)
            for t in a.tasks:
                self._start_task(t)
            if revoked_c or revoked_t:
                self._rejoin_after_stops = True
                self._maybe_rejoin_after_stops()
        if a.delay > 0:
            if self._rejoin_timer is not None:
                self._rejoin_timer.cancel()
            self._rejoin_timer = self.ctx.set_timer(float(a.delay), self._scheduled_rebalance,
                                                    name="scheduled-rebalance")
        self._serve_queue()

    def _scheduled_rebalance(self) -> None:
        self._rejoin_timer = None
        if self.coordinator is not None:
            self.coordinator.request_rejoin("scheduled rebalance")

    def _maybe_rejoin_after_stops(self) -> None:
        if self._rejoin_after_stops and self._stops_in_flight == 0 and self.coordinator is not None:
            self._rejoin_after_stops = False
            self.coordinator.request_rejoin("revoked connectors or tasks")

    def on_revoke_all(self, reason: str) -> None:
        """Stop everything this worker runs (eager join prepare; the coordinator unreachable)."""
        if self.assigned_connectors or self.assigned_tasks:
            self.record("connect.revoke_all", 1, reason=reason)
        for name in list(self.connectors):
            self._stop_connector(name)
        for t in list(self.tasks):
            self._stop_task(t)
        self.assigned_connectors = []
        self.assigned_tasks = []

    # -- standalone ----------------------------------------------------------------------------------------------------
    def _standalone_reconcile(self) -> None:
        for name in sorted(self.config.connectors):
            if name not in self.connectors:
                self.assigned_connectors.append(name)
                self._start_connector(name)
        wanted = {t for c in self.config.connectors for t in self.config.tasks(c)}
        for t in sorted(wanted):
            if t not in self.tasks and self.config.target_states.get(t.connector) != "STOPPED":
                self.assigned_tasks.append(t)
                self._start_task(t)

    # -- connectors ----------------------------------------------------------------------------------------------------
    def _start_connector(self, name: str) -> None:
        config = self.config.connectors.get(name)
        if config is None or name in self.connectors:
            return
        target = self.config.target_states.get(name, "STARTED")
        try:
            cls = self.spec.plugins.connector_class(config.get("connector.class", ""))
        except LookupError as exc:
            self.connector_status(name, "FAILED", str(exc))
            return
        wc = WorkerConnector(name, dict(config), cls)
        self.connectors[name] = wc
        if target == "STOPPED":
            wc.state = "STOPPED"
            self.connector_status(name, "STOPPED")
            return
        if target == "PAUSED":
            wc.state = "PAUSED"
            self.connector_status(name, "PAUSED")
            return
        self._run_connector(wc)

    def _run_connector(self, wc: WorkerConnector) -> None:
        try:
            instance = wc.cls()
            reader = OffsetStorageReader(self.offsets.lookup(wc.name))
            instance.initialize(ConnectorContext(lambda n=wc.name: self._reconfigure_tasks(n),
                                                 lambda exc, n=wc.name: self._connector_failed(n, exc), reader))
            instance.start(dict(wc.config))
        except Exception as exc:  # noqa: BLE001 - a connector's start() failure is its FAILED status
            wc.state = "FAILED"
            self.connector_status(wc.name, "FAILED", trace_of(exc))
            return
        wc.instance = instance
        wc.state = "RUNNING"
        self.connector_status(wc.name, "RUNNING")
        self._reconfigure_tasks(wc.name)

    def _connector_failed(self, name: str, exc: BaseException) -> None:
        wc = self.connectors.get(name)
        if wc is not None:
            wc.state = "FAILED"
            self.connector_status(name, "FAILED", trace_of(exc))

    def _reconfigure_tasks(self, name: str, attempt: int = 0) -> None:
        """``reconfigureConnectorTasksWithRetry``: new task configs go to the leader if they changed; checked again
        with backoff (250 ms doubling to 60 s, Kafka's) until the configs topic has them, since the leader may die
        with the request."""
        wc = self.connectors.get(name)
        if wc is None or wc.instance is None or wc.state != "RUNNING":
            return
        max_tasks = int(wc.config.get("tasks.max", 1))
        try:
            configs = [dict(c) for c in wc.instance.task_configs(max_tasks)]
        except Exception as exc:  # noqa: BLE001
            self._connector_failed(name, exc)
            return
        enforce = str(wc.config.get("tasks.max.enforce", "true")).lower() == "true"
        if len(configs) > max_tasks and enforce:
            self._connector_failed(name, ConnectException(
                f"The connector {name} has generated {len(configs)} tasks, which is greater than {max_tasks}, the "
                f"maximum number of tasks it is configured to create. "))
            return
        task_cls = wc.instance.task_class()
        for c in configs:
            c.setdefault("task.class", f"{task_cls.__module__}.{task_cls.__qualname__}")
        current = [self.config.task_configs.get(t) for t in self.config.tasks(name)]
        if current == configs and name not in self.config.inconsistent:
            return
        payload = TaskConfigsPut(name, tuple(tuple(sorted(c.items())) for c in configs))
        leader = self.leader_node()
        if leader == self.node_id or not self.distributed:
            self._leader_put_task_configs(name, configs)
        elif leader is not None:
            self.ctx.send(leader, payload, 512)
        if self.distributed:
            delay = min(250.0 * 2 ** attempt, 60_000.0)
            self.ctx.set_timer(delay, functools.partial(self._reconfigure_tasks, name, attempt + 1),
                               name="task-reconfig-retry")

    def _leader_put_task_configs(self, name: str, configs: list[dict[str, str]]) -> None:
        if not self.is_leader():
            leader = self.leader_node()
            if leader is not None and leader != self.node_id:
                self.ctx.send(leader, TaskConfigsPut(name, tuple(tuple(sorted(c.items())) for c in configs)), 512)
            return
        if name not in self.config.connectors:
            return
        if self.config.target_states.get(name) == "STOPPED" and configs:
            return           # "Cannot submit non-empty set of task configs for stopped connector"
        for i, c in enumerate(configs):
            self.write_config(f"task-{name}-{i}", {"properties": c})
        self.write_config(f"commit-{name}", {"tasks": len(configs)})

    def _stop_connector(self, name: str, then: Callable[[], None] | None = None) -> None:
        wc = self.connectors.pop(name, None)
        if wc is not None and wc.instance is not None:
            try:
                wc.instance.stop()
            except Exception:  # noqa: BLE001 - Kafka logs a failing stop()
                pass
        if wc is not None and wc.state != "FAILED" and name in self.config.connectors \
                and self.config.target_states.get(name) != "STOPPED":
            self.connector_status(name, "UNASSIGNED")
        if then is not None:
            then()

    def _apply_target_state(self, name: str) -> None:
        target = self.config.target_states.get(name, "STARTED")
        wc = self.connectors.get(name)
        if wc is not None:
            if target == "STARTED" and wc.state in ("PAUSED", "STOPPED"):
                self._run_connector(wc)
            elif target == "PAUSED" and wc.state == "RUNNING":
                if wc.instance is not None:
                    wc.instance.stop()
                wc.instance = None
                wc.state = "PAUSED"
                self.connector_status(name, "PAUSED")
            elif target == "STOPPED" and wc.state != "STOPPED":
                if wc.instance is not None:
                    try:
                        wc.instance.stop()
                    except Exception:  # noqa: BLE001
                        pass
                wc.instance = None
                wc.state = "STOPPED"
                self.connector_status(name, "STOPPED")
        for t, task in list(self.tasks.items()):
            if t.connector == name:
                if target == "STOPPED":
                    self._stop_task(t)
                else:
                    task.transition(target)

    def _stop_connector_and_tasks(self, name: str) -> None:
        self._stop_connector(name)
        for t in [t for t in self.tasks if t.connector == name]:
            self._stop_task(t)
        self.assigned_connectors = [c for c in self.assigned_connectors if c != name]
        self.assigned_tasks = [t for t in self.assigned_tasks if t.connector != name]

    # -- tasks -------------------------------------------------------------------------------------------------------
    def _start_task(self, task_id: ConnectorTaskId) -> None:
        if task_id in self.tasks:
            return
        conn = self.config.connectors.get(task_id.connector)
        tconf = self.config.task_configs.get(task_id)
        if conn is None or tconf is None:
            return
        target = self.config.target_states.get(task_id.connector, "STARTED")
        if target == "STOPPED":
            return
        try:
            cls = self.spec.plugins.connector_class(conn.get("connector.class", ""))
            task_cls = cls().task_class()
            runner_cls: type[WorkerTask] = WorkerSinkTask if getattr(cls, "type", "") == "sink" else \
                ExactlyOnceWorkerSourceTask if self.exactly_once else WorkerSourceTask
            runner = runner_cls(self, task_id, conn, tconf, task_cls, target)
        except Exception as exc:  # noqa: BLE001 - a task that cannot be built is FAILED with the reason
            self.task_status(task_id, "FAILED", trace_of(exc))
            return
        self.tasks[task_id] = runner
        self.tasks_started += 1
        runner.start()

    def _stop_task(self, task_id: ConnectorTaskId, then: Callable[[], None] | None = None) -> None:
        runner = self.tasks.pop(task_id, None)
        if runner is None:
            if then is not None:
                then()
            return
        self._stops_in_flight += 1
        self.tasks_stopped += 1
        was_failed = runner.state == "FAILED"

        def stopped() -> None:
            self._stops_in_flight -= 1
            if not was_failed and task_id.connector in self.config.connectors:
                self.task_status(task_id, "UNASSIGNED", None)
            if then is not None:
                then()
            self._maybe_rejoin_after_stops()
            self.wakeup()
        deadline_ms = float(self.worker_config["task.shutdown.graceful.timeout.ms"])
        done = [False]

        def once() -> None:
            if not done[0]:
                done[0] = True
                stopped()
        runner.stop(once)
        if not done[0]:
            self.ctx.set_timer(deadline_ms + 1.0, once, name=f"task-stop-timeout-{task_id}")

    def _handle_restart_request(self, name: str, include_tasks: bool, only_failed: bool) -> None:
        """A restart request from the configs topic: restart what this worker runs of it."""
        wc = self.connectors.get(name)
        if wc is not None and (not only_failed or wc.state == "FAILED"):
            self.connector_status(name, "RESTARTING")
            self._stop_connector(name, then=lambda: self._start_connector(name))
        if include_tasks:
            for t in sorted(t for t in self.tasks if t.connector == name):
                if only_failed and self.tasks[t].state != "FAILED":
                    continue
                self.task_status(t, "RESTARTING", None)
                self._stop_task(t, then=functools.partial(self._start_task, t))

    def restart_connector_here(self, name: str) -> None:
        self._stop_connector(name, then=lambda: self._start_connector(name))

    def restart_task_here(self, task_id: ConnectorTaskId) -> None:
        if task_id in self.tasks:
            self._stop_task(task_id, then=lambda: self._start_task(task_id))
        else:
            self._start_task(task_id)

    # -- REST ----------------------------------------------------------------------------------------------------------
    def handle_rest(self, method: str, path: str, body: Any, reply: Callable[[int, Any], None],
                    forwarded: bool = False) -> None:
        """Answer one REST request now or in the herder's next turn (``reply(status, body)``)."""
        self.rest_queue.append((method, path, body, reply))
        self.wakeup()

    def _ready_for_requests(self) -> bool:
        if self.phase == "failed":
            return True
        if self.phase != "running" or self._pending_assignment is not None:
            return False
        # the herder answers between rebalances (Kafka's tick: the rebalance first, then the request queue)
        c = self.coordinator
        return c is None or (c.state == "stable" and not c.rejoin_needed)

    def _serve_queue(self) -> None:
        if not self.rest_queue or not self._ready_for_requests():
            return
        from kafkalab.connect.rest import serve
        queue, self.rest_queue = self.rest_queue, []
        for method, path, body, reply in queue:
            serve(self, method, path, body, reply)

    def forward(self, node: Any, method: str, path: str, body: Any, reply: Callable[[int, Any], None]) -> None:
        rid = self._next_forward + (self.ctx.incarnation << 40)
        self._next_forward += 1
        self._forwards[rid] = reply
        self.ctx.send(node, RestForward(rid, method, path, body), 512)

    def owner_of(self, name: str) -> str | None:
        status = self.statuses.connectors.get(name)
        return status.worker_id if status is not None else None

    def describe_running(self) -> dict[str, Any]:
        """What this worker runs now (for ``connect.describe()``)."""
        return {"connectors": {n: wc.state for n, wc in sorted(self.connectors.items())},
                "tasks": {str(t): r.state for t, r in sorted(self.tasks.items())}}

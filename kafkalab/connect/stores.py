"""The worker's three stores over compacted topics (Kafka's ``KafkaConfigBackingStore``,
``KafkaOffsetBackingStore``, ``KafkaStatusBackingStore``) and their in-memory/file twins for standalone mode.

How it works. Every worker reads all three topics from the start (:class:`~.worker_clients.KafkaBasedLog`) and
replays each record into the state here, so a worker restarted after all others died rebuilds configs, offsets and
statuses from the topics alone. Writes go through the worker's producer; the state changes only when the record is
read back, as in Kafka (the writer reads its own write like everyone else).

Record formats are Kafka's (values JSON, as the internal JsonConverter with ``schemas.enable=false`` writes them):

- configs topic: ``connector-<name>`` -> ``{"properties": {...}}`` (null = deleted), ``task-<name>-<n>`` ->
  ``{"properties": {...}}``, ``commit-<name>`` -> ``{"tasks": n}`` (task configs take effect only with their
  commit record, so a worker never sees half a set), ``target-state-<name>`` -> ``{"state": ..., "state.v2": ...}``
  (STOPPED is written as PAUSED in the v1 field, as Kafka does for older workers), ``restart-connector-<name>`` ->
  ``{"include-tasks": bool, "only-failed": bool}``, ``tasks-fencing-<name>`` -> ``{"task-count": n}`` (KIP-618's
  task count record: the leader fenced the producers of the connector's older task generations; task configs
  committed after the last one leave the connector *pending fencing*, and each commit is a new task generation);
- offsets topic: key ``["<connector>", {source partition}]`` -> the source offset (null = reset, KIP-875);
- status topic: ``status-connector-<name>`` / ``status-task-<name>-<n>`` -> ``{"state", "trace", "worker_id",
  "generation"}``; ``status-topic-<topic>:connector-<name>`` -> ``{"topic": {...}}`` (KIP-558 active topics).

A status write from an older generation does not replace a newer one from another worker (Kafka's
``KafkaStatusBackingStore`` conflict rule), so a zombie worker's late write does not hide the new owner's status.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafkalab.connect.api import ConnectorTaskId

__all__ = ["ClusterConfigState", "StatusState", "OffsetState", "TaskStatus", "offset_key", "json_bytes",
           "parse_json"]


def json_bytes(value: Any) -> bytes | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def parse_json(data: bytes | None) -> Any:
    return None if data is None else json.loads(data.decode())


def offset_key(connector: str, partition: Mapping[str, Any]) -> bytes:
    """The offsets topic key of a source partition (``OffsetUtils``: ``["name", {partition}]``)."""
    return json.dumps([connector, dict(partition)], separators=(",", ":"), sort_keys=True).encode()


@dataclass
class ClusterConfigState:
    """Kafka's ``ClusterConfigState``: what the configs topic says, as of ``offset`` (the next offset to read)."""

    offset: int = -1
    connectors: dict[str, dict[str, str]] = field(default_factory=dict)
    target_states: dict[str, str] = field(default_factory=dict)
    task_configs: dict[ConnectorTaskId, dict[str, str]] = field(default_factory=dict)
    task_counts: dict[str, int] = field(default_factory=dict)
    inconsistent: set[str] = field(default_factory=set)
    _deferred: dict[str, dict[int, dict[str, str]]] = field(default_factory=dict)
    #: KIP-618: the last task count record, the task generation (0 at the first commit) and connectors whose
    #: committed task configs came after their last task count record (Kafka's ``connectorsPendingFencing``)
    task_count_records: dict[str, int] = field(default_factory=dict)
    task_generations: dict[str, int] = field(default_factory=dict)
    pending_fencing: set[str] = field(default_factory=set)

    def tasks(self, connector: str) -> list[ConnectorTaskId]:
        return [ConnectorTaskId(connector, i) for i in range(self.task_counts.get(connector, 0))]

    def configured(self) -> dict[str, int]:
        """connector -> task count, for the assignor."""
        return {c: self.task_counts.get(c, 0) for c in sorted(self.connectors)}

    def apply(self, key: str, value: Any, offset: int) -> tuple[str, str] | None:
        """Replay one record; returns (what changed, connector name) for the herder, or None."""
        self.offset = offset + 1
        if key.startswith("connector-"):
            name = key[len("connector-"):]
            if value is None:
                self.connectors.pop(name, None)
                self.target_states.pop(name, None)
                for t in self.tasks(name):
                    self.task_configs.pop(t, None)
                self.task_counts.pop(name, None)
                self._deferred.pop(name, None)
                return "connector-removed", name
            new = name not in self.connectors
            self.connectors[name] = dict(value.get("properties", {}))
            self.target_states.setdefault(name, "STARTED")
            return ("connector-added" if new else "connector-updated"), name
        if key.startswith("target-state-"):
            name = key[len("target-state-"):]
            if value is None:
                self.target_states.pop(name, None)
                return None
            self.target_states[name] = value.get("state.v2") or value.get("state") or "STARTED"
            return "target-state", name
        if key.startswith("task-"):
            name, _, num = key[len("task-"):].rpartition("-")
            if value is not None and num.isdigit():
                self._deferred.setdefault(name, {})[int(num)] = dict(value.get("properties", {}))
            return None
        if key.startswith("commit-"):
            name = key[len("commit-"):]
            count = int((value or {}).get("tasks", 0))
            pending = self._deferred.pop(name, {})
            self.pending_fencing.add(name)       # even an inconsistent set, as Kafka does
            if any(i not in pending for i in range(count)):
                self.inconsistent.add(name)      # Kafka's "inconsistent" connectors: wait for a full set
                return None
            self.inconsistent.discard(name)
            for t in self.tasks(name):
                self.task_configs.pop(t, None)
            for i in range(count):
                self.task_configs[ConnectorTaskId(name, i)] = pending[i]
            self.task_counts[name] = count
            self.task_generations[name] = self.task_generations.get(name, -1) + 1
            return "tasks-committed", name
        if key.startswith("tasks-fencing-"):
            name = key[len("tasks-fencing-"):]
            if isinstance(value, dict) and "task-count" in value:
                self.task_count_records[name] = int(value["task-count"])
                self.pending_fencing.discard(name)
            return None
        if key.startswith("restart-connector-"):
            return "restart", key[len("restart-connector-"):]
        return None

    def copy(self) -> ClusterConfigState:
        return ClusterConfigState(self.offset, {k: dict(v) for k, v in self.connectors.items()},
                                  dict(self.target_states), {k: dict(v) for k, v in self.task_configs.items()},
                                  dict(self.task_counts), set(self.inconsistent),
                                  {k: dict(v) for k, v in self._deferred.items()}, dict(self.task_count_records),
                                  dict(self.task_generations), set(self.pending_fencing))


@dataclass(frozen=True)
class TaskStatus:
    """A connector's or task's status as the status topic holds it."""

    state: str
    worker_id: str
    generation: int
    trace: str | None = None


class StatusState:
    """Connector and task statuses and active topics, replayed from the status topic."""

    def __init__(self) -> None:
        self.connectors: dict[str, TaskStatus] = {}
        self.tasks: dict[ConnectorTaskId, TaskStatus] = {}
        self.topics: dict[str, dict[str, Any]] = {}

    def apply(self, key: str, value: Any) -> None:
        if key.startswith("status-connector-"):
            self._put(self.connectors, key[len("status-connector-"):], value)
        elif key.startswith("status-task-"):
            name, _, num = key[len("status-task-"):].rpartition("-")
            if num.isdigit():
                self._put(self.tasks, ConnectorTaskId(name, int(num)), value)
        elif key.startswith("status-topic-"):
            if value is None:
                self.topics.pop(key, None)
            else:
                self.topics[key] = dict(value.get("topic", {}))

    @staticmethod
    def _put(table: dict[Any, TaskStatus], who: Any, value: Any) -> None:
        if value is None:
            table.pop(who, None)
            return
        new = TaskStatus(value["state"], value.get("worker_id", ""), int(value.get("generation", -1)),
                         value.get("trace"))
        old = table.get(who)
        if old is not None and new.generation < old.generation and new.worker_id != old.worker_id:
            return       # a late write from an older generation (KafkaStatusBackingStore)
        table[who] = new

    def active_topics(self, connector: str) -> list[str]:
        return sorted({t["name"] for t in self.topics.values() if t.get("connector") == connector})


class OffsetState:
    """Source offsets by (connector, partition JSON), replayed from the offsets topic (or loaded from a file)."""

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, str], Any] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        try:
            connector, partition = json.loads(key.decode())
        except (ValueError, TypeError):
            return        # not a Connect offsets record: ignored, as Kafka's KafkaOffsetBackingStore logs and skips
        pkey = (str(connector), json.dumps(partition, separators=(",", ":"), sort_keys=True))
        if value is None:
            self.offsets.pop(pkey, None)
        else:
            self.offsets[pkey] = json.loads(value.decode())

    def lookup(self, connector: str) -> Callable[[Mapping[str, Any]], Any]:
        def get(partition: Mapping[str, Any]) -> Any:
            found = self.offsets.get((connector, json.dumps(dict(partition), separators=(",", ":"),
                                                            sort_keys=True)))
            return dict(found) if isinstance(found, dict) else found
        return get

    def of(self, connector: str) -> list[tuple[dict[str, Any], Any]]:
        return [(json.loads(p), v) for (c, p), v in sorted(self.offsets.items()) if c == connector]

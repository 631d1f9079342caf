"""``KafkaStreams``: a Kafka Streams application of N instances, each a node of the simulation (what
``cluster.streams(topology, config, instances=N)`` returns).

How it works. Starting the app plans partition counts (:func:`~kafkalab.streams.topology.plan_partitions`: a join of
topics with different counts fails here), creates the internal topics (repartition topics; changelogs compacted) as
Kafka's ``InternalTopicManager`` does, checks that every source, sink and store has a serde, and adds one client node
per instance (``<application.id>-1``, ...). An instance node runs ``num.stream.threads``
:class:`~kafkalab.streams.thread.StreamThread` s; each thread's three clients (main consumer, restore consumer,
producer) live on the instance's node through a sub-port with its own range of correlation ids, so the node's
messages are routed to the right client by the id of the request they answer. Crashing the instance node kills every
thread at once, as killing the JVM does; ``cluster.restart`` starts them again, and they rejoin the group and restore
from the instance's state directory (held here, per instance: it survives crashes, like a disk).

Observation: :meth:`KafkaStreams.tasks` (a DataFrame of every task on every live instance), :meth:`store`
(an interactive query over the running active tasks of every live instance), :meth:`query_metadata_for_key`
(which instance hosts a key, as Kafka's ``queryMetadataForKey``), :meth:`restorations` (start, end and
records of each restoration), :meth:`state`, and the metrics the threads record (``streams.processed``,
``streams.commit_latency_ms``, ``streams.restore_records``, ``streams.dropped_records``: null keys and late
records, per task).
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from kafkalab.clients.network import _INCARNATION_STRIDE
from kafkalab.clients.partitioner import partition_for_key
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.streams.config import streams_config
from kafkalab.streams.errors import InvalidStateStoreException, StreamsException, UnknownStateStoreException
from kafkalab.streams.global_thread import GlobalStreamThread
from kafkalab.streams.task import default_serdes
from kafkalab.streams.thread import StandbyTask, StreamThread
from kafkalab.streams.topology import SINK, SOURCE, Topology, plan_partitions
from kafkalab.streams.window_state import read_only_store

__all__ = ["KafkaStreams", "KeyQueryMetadata", "StreamsInstance"]

#: sub-ports per thread (main consumer, restore consumer, producer)
_PORTS_PER_THREAD = 3
_MAX_SUBPORTS = 256


class _SubPort:
    """One client's view of its instance's node: the same clock, timers, node id and network, but its own RNG
    streams and its own range of correlation ids (``incarnation``), so answers find their client."""

    def __init__(self, ctx: Any, slot: int, name: str) -> None:
        self._ctx = ctx
        self.node_id = ctx.node_id
        self.incarnation = ctx.incarnation * _MAX_SUBPORTS + slot
        self.disk = ctx.disk
        self._name = name

    @property
    def now(self) -> float:
        return float(self._ctx.now)

    @property
    def alive(self) -> bool:
        return bool(self._ctx.alive)

    def send(self, dst: Any, msg: Any, size_bytes: int = 64) -> None:
        self._ctx.send(dst, msg, size_bytes)

    def set_timer(self, delay_ms: float, callback: Any, *args: Any, name: str | None = None) -> Any:
        return self._ctx.set_timer(delay_ms, callback, *args, name=name)

    def schedule_at(self, at_ms: float, callback: Any, *args: Any, name: str | None = None) -> Any:
        return self._ctx.schedule_at(at_ms, callback, *args, name=name)

    def post_at(self, at_ms: float, callback: Any, *args: Any) -> None:
        self._ctx.post_at(at_ms, callback, *args)

    def halt(self) -> None:
        self._ctx.halt()

    def rng(self, name: str) -> Any:
        return self._ctx.rng(f"{self._name}/{name}")

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self._ctx.record(metric, value, **labels)


class StreamsInstance:
    """One incarnation of an instance node: its threads and the routing of its node's messages."""

    def __init__(self, ctx: Any, app: KafkaStreams, instance_id: str) -> None:
        self.ctx = ctx
        self.app = app
        self.instance_id = instance_id
        self.threads: list[StreamThread] = []
        self._routes: dict[int, Any] = {}
        self._handlers: list[Any] = []
        self.global_thread: GlobalStreamThread | None = None
        n_threads = int(app.config["num.stream.threads"])
        if app.topology.global_groups():
            port = _SubPort(ctx, 1 + n_threads * _PORTS_PER_THREAD, "GlobalStreamThread/consumer")
            self.global_thread = GlobalStreamThread(self, port)
            self._routes[port.incarnation] = self.global_thread.on_message_core()
            self._handlers.append(self.global_thread.on_message_core())
        for i in range(int(app.config["num.stream.threads"])):
            base = 1 + i * _PORTS_PER_THREAD
            ports = tuple(_SubPort(ctx, base + k, f"StreamThread-{i + 1}/{kind}")
                          for k, kind in enumerate(("consumer", "restore-consumer", "producer")))
            thread = StreamThread(self, i + 1, ports)       # type: ignore[arg-type]
            for port, handler in zip(ports, thread.on_message_cores(), strict=True):
                self._routes[port.incarnation] = handler
                self._handlers.append(handler)
            self.threads.append(thread)

    def on_message(self, src: Any, msg: Any) -> None:
        cid = getattr(msg, "correlation_id", None)
        if cid is None:
            for handler in self._handlers:      # a connection reset reaches every client of the node
                handler(src, msg)
            return
        handler = self._routes.get((cid - 1) // _INCARNATION_STRIDE)
        if handler is not None:
            handler(src, msg)

    @property
    def global_stores(self) -> dict[str, Any] | None:
        return None if self.global_thread is None else self.global_thread.stores

    def global_ready(self) -> bool:
        """Whether the global stores are bootstrapped (stream threads process only then)."""
        return self.global_thread is None or self.global_thread.ready

    def take_standby(self, tid: str) -> StandbyTask | None:
        """A standby of ``tid`` on another thread of this instance, handed over for promotion."""
        for thread in self.threads:
            standby = thread.standbys.pop(tid, None)
            if standby is not None:
                thread.standby_restore.pop(tid, None)
                return standby
        return None


class KeyQueryMetadata(NamedTuple):
    """Where a key of a store lives (Kafka's ``KeyQueryMetadata``): the instance running the active task that owns the
    key's partition (None while no live instance runs it, Kafka's ``NOT_AVAILABLE``), the instances holding standbys
    of that task, and the partition (-1 for a global store, which every instance holds)."""

    active_host: str | None
    standby_hosts: tuple[str, ...]
    partition: int


class KafkaStreams:
    """A running Kafka Streams application (DESIGN.md's ``cluster.streams(topology, config, instances=N)``)."""

    def __init__(self, world: Any, topology: Topology, config: Mapping[str, Any] | None, instances: int = 1, *,
                 process_cost_ms: float = 0.01, restore_cost_ms: float = 0.02) -> None:
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a Topology (builder.build()), got {type(topology).__name__}")
        if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
            raise ValueError(f"instances must be an int >= 1, got {instances!r}")
        self.world = world
        self.topology = topology
        self.config = streams_config(config)
        self.application_id = self.config.application_id
        self.process_cost_ms = float(process_cost_ms)      # thread time per processed record (100k records/s)
        self.restore_cost_ms = float(restore_cost_ms)      # ... per restored changelog record (50k records/s)
        self.key_serde, self.value_serde = default_serdes(self.config)
        self._check_serdes()
        self.bootstrap = list(world.brokers)
        self.counts = plan_partitions(topology, self.application_id, self._existing_partitions)
        self._create_internal_topics()
        self.source_topics = sorted({self._real(t) for sub in topology.subtopologies() for t in sub.source_topics})
        self._state_dirs: dict[str, dict[str, dict[str, tuple[dict[Any, Any], int]]]] = {}
        self._restores: list[dict[str, Any]] = []
        self.instances: list[str] = []
        self._processes: dict[str, StreamsInstance] = {}
        self.closed = False
        for i in range(instances):
            node = f"{self.application_id}-{i + 1}"
            if node in world.nodes:
                raise ValueError(f"node {node!r} already exists: is another app using application.id "
                                 f"{self.application_id!r}?")
            self.instances.append(node)
            world.add_node(node, self._factory(node), server=False)
            world.clients.append(node)

    # -- setup --------------------------------------------------------------------------------------------------------
    def _real(self, topic: str) -> str:
        return f"{self.application_id}-{topic}" if topic in self.topology.internal_repartition else topic

    def _existing_partitions(self, topic: str) -> int | None:
        t = self.world.image().topics.get(topic)
        return None if t is None else len(t.partitions)

    def _check_serdes(self) -> None:
        topo = self.topology
        for node in topo.nodes.values():
            if node.kind in (SOURCE, SINK):
                for part, own, default in (("key", node.key_serde, self.key_serde),
                                           ("value", node.value_serde, self.value_serde)):
                    if own is None and default is None:
                        raise StreamsException(f"{node.kind} {node.name}: no {part} serde given and "
                                               f"'default.{part}.serde' is not set")
        for store in topo.stores.values():
            if (store.key_serde or self.key_serde) is None or (store.value_serde or self.value_serde) is None:
                raise StreamsException(f"store {store.name}: no serde given and 'default.key.serde'/"
                                       f"'default.value.serde' is not set")

    def _create_internal_topics(self) -> None:
        rf = int(self.config["replication.factor"])
        existing = self.world.image().topics
        for t in self.topology.internal_topics(
                self.application_id, int(self.config["windowstore.changelog.additional.retention.ms"])):
            if t.name in existing:
                continue
            self.world.create_topic(t.name, partitions=self.counts[t.name],
                                    replication_factor=None if rf < 0 else rf, config=dict(t.config))

    def _factory(self, node: str) -> Any:
        def start(ctx: Any) -> StreamsInstance:
            process = StreamsInstance(ctx, self, node)
            self._processes[node] = process
            return process
        return start

    # -- the state directory -------------------------------------------------------------------------------------------
    def state_dir(self, instance: str) -> dict[str, dict[str, tuple[dict[Any, Any], int]]]:
        """task -> store -> (snapshot, changelog offset) on ``instance``'s disk."""
        return self._state_dirs.setdefault(instance, {})

    def changelog_lag(self, tid: str, offsets: Mapping[str, int]) -> int:
        """How far local state at ``offsets`` is behind the changelogs' ends (the leader's estimate)."""
        sid, p = tid.split("_")
        sub = self.topology.subtopology(int(sid))
        lag = 0
        for s in sub.stores:
            if not self.topology.stores[s].logged:
                continue
            end = self._end_offset(TopicPartition(f"{self.application_id}-{s}-changelog", int(p)))
            lag += max(0, end - offsets.get(s, 0))
        return lag

    def last_stable_offset(self, tp: TopicPartition) -> int:
        """A changelog partition's last stable offset: where a ``read_committed`` restoration ends (Kafka's restore
        consumer asks ListOffsets under read_committed; here the partition leader's answer is read directly)."""
        reg = self.world.image().partition(tp.topic, tp.partition)
        broker = self.world.broker(reg.leader) if reg is not None and reg.leader >= 0 else None
        if broker is None:
            return 1 << 62
        lso = broker.rm.last_stable_offset(tp)
        return 1 << 62 if lso is None else int(lso)

    def _end_offset(self, tp: TopicPartition) -> int:
        # The assignor's lag estimate needs changelog end offsets, which Kafka's leader gets with a ListOffsets call;
        # here the leader's answer is read from the partition leader's high watermark.
        reg = self.world.image().partition(tp.topic, tp.partition)
        broker = self.world.broker(reg.leader) if reg is not None and reg.leader >= 0 else None
        part = broker.rm.partition(tp.topic, tp.partition) if broker is not None else None
        return part.high_watermark if part is not None else 0

    def record_restore(self, tid: str, thread: StreamThread, phase: str, value: int) -> None:
        now = thread.port.now
        if phase == "start":
            self._restores.append({"task": tid, "instance": thread.instance.instance_id, "thread": thread.name,
                                   "start_ms": now, "end_ms": None, "records": None})
            return
        for row in reversed(self._restores):
            if row["task"] == tid and row["thread"] == thread.name and row["end_ms"] is None:
                row["end_ms"], row["records"] = now, value
                thread.port.record("streams.restore_records", value, task=tid)
                return

    # -- observation ---------------------------------------------------------------------------------------------------
    def _live(self) -> list[StreamsInstance]:
        return [p for node, p in self._processes.items() if self.world.is_alive(node) and
                self.world.processes.get(node) is p]

    def threads(self) -> list[StreamThread]:
        return [t for p in self._live() for t in p.threads]

    def state(self) -> str:
        """Kafka's ``KafkaStreams.State``: RUNNING when every live thread runs, REBALANCING while one does not,
        ERROR when a thread died, NOT_RUNNING when closed or no instance is alive."""
        threads = self.threads()
        if self.closed or not threads:
            return "NOT_RUNNING"
        if any(t.state == "DEAD" for t in threads):
            return "ERROR"
        if all(t.state == "RUNNING" and not t.restoring for t in threads):
            return "RUNNING"
        return "REBALANCING"

    def tasks(self) -> pd.DataFrame:
        """One row per task on a live instance: task, instance, thread, kind (active/standby), partitions,
        restoring, processed (records), store_entries."""
        rows = []
        for t in self.threads():
            for tid, task in sorted(t.tasks.items()):
                rows.append({"task": tid, "instance": t.instance.instance_id, "thread": t.name, "kind": "active",
                             "partitions": ",".join(str(tp) for tp in sorted(task.queues)),
                             "restoring": tid in t.restoring, "processed": task.processed,
                             "store_entries": sum(len(s) for s in task.stores.values())})
            for tid, sb in sorted(t.standbys.items()):
                rows.append({"task": tid, "instance": t.instance.instance_id, "thread": t.name, "kind": "standby",
                             "partitions": "", "restoring": False, "processed": 0,
                             "store_entries": sum(len(s) for s in sb.stores.values())})
        return pd.DataFrame(rows, columns=["task", "instance", "thread", "kind", "partitions", "restoring",
                                           "processed", "store_entries"])

    def restoration_count(self) -> int:
        """How many restorations have started so far (cheap enough for a ``run_until`` predicate)."""
        return len(self._restores)

    def restorations(self) -> pd.DataFrame:
        """Each restoration: task, instance, thread, start_ms, end_ms (None while restoring), records."""
        return pd.DataFrame(self._restores, columns=["task", "instance", "thread", "start_ms", "end_ms", "records"])

    def _check_store_name(self, name: str) -> None:
        if name not in self.topology.stores:
            close = difflib.get_close_matches(name, list(self.topology.stores), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownStateStoreException(f"Cannot get state store {name} because no such store is registered in "
                                             f"the topology (stores: {', '.join(self.topology.stores) or 'none'})"
                                             f"{hint}")

    def query_metadata_for_key(self, store: str, key: Any) -> KeyQueryMetadata:
        """Which instance hosts ``key`` of ``store`` (Kafka's ``KafkaStreams.queryMetadataForKey`` with the default
        partitioner): the key serialized with the store's key serde, murmur2 over the partition count of the store's
        sub-topology, gives the partition and so the task ``<sub-topology>_<partition>``; the answer names the live
        instance running that task as active and those holding it as a standby."""
        self._check_store_name(store)
        if key is None:
            raise ValueError("key must not be None (Kafka: 'key cannot be null')")
        live = [p.instance_id for p in self._live()]
        if self.topology.is_global_store(store):
            return KeyQueryMetadata(live[0] if live else None, (), -1)
        sub = next(s for s in self.topology.subtopologies() if store in s.stores)
        partitions = max(self.counts[self._real(t)] for t in sub.source_topics)
        key_serde = self.topology.stores[store].key_serde or self.key_serde
        assert key_serde is not None        # _check_serdes refused a store without one
        data = key_serde.serialize(key)
        assert data is not None
        partition = partition_for_key(data, partitions)
        tid = f"{sub.id}_{partition}"
        active: str | None = None
        standbys: list[str] = []
        for t in self.threads():
            host = t.instance.instance_id
            if tid in t.tasks:
                active = host
            elif tid in t.standbys and host not in standbys:
                standbys.append(host)
        return KeyQueryMetadata(active, tuple(sorted(standbys)), partition)

    def store(self, name: str) -> Any:
        """Interactive query: the store ``name`` over every running active task of every live instance."""
        self._check_store_name(name)
        if self.state() == "NOT_RUNNING":
            raise InvalidStateStoreException(f"Cannot get state store {name} because the stream thread is "
                                             f"NOT_RUNNING, not RUNNING")
        if self.topology.is_global_store(name):
            ready = [p.global_thread for p in self._live() if p.global_thread is not None and p.global_thread.ready]
            return read_only_store(name, "kv", [ready[0].stores[name]] if ready else [])
        parts = [task.stores[name] for t in self.threads() for tid, task in sorted(t.tasks.items())
                 if name in task.stores and tid not in t.restoring]
        return read_only_store(name, self.topology.stores[name].kind, parts)

    def processed(self) -> int:
        """Records processed by the live instances' current threads."""
        return sum(t.processed for t in self.threads())

    def close(self) -> None:
        """Stop every thread (each leaves the group)."""
        for t in self.threads():
            t.stop()
        self.closed = True

    def __repr__(self) -> str:
        return f"KafkaStreams({self.application_id!r}, instances={self.instances}, state={self.state()})"

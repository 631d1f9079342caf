"""A stream task: one sub-topology on one partition of its input topics (Kafka's ``StreamTask``,
``PartitionGroup``, ``ProcessorNode``, ``ProcessorContextImpl``, ``PunctuationQueue``).

How it works. A :class:`StreamTask` instantiates its sub-topology's nodes (a new processor from each supplier) and
stores, and keeps one FIFO of raw records per input partition. :meth:`StreamTask.process_one` takes the head record
with the smallest timestamp across the partitions (``PartitionGroup.nextRecord``: timestamp order within a task;
offset order within a partition), advances the task's *stream time* to the largest timestamp seen, deserializes it
with its source's serdes and pushes it depth-first through the nodes (``context.forward`` calls the children at once,
as Kafka's does). Sinks serialize and hand the record to the :class:`~kafkalab.streams.collector.RecordCollector`; a
logged store sends each write to its changelog partition (``<application.id>-<store>-changelog``, partition =
the task's partition) through the same collector. After each record, stream-time punctuators that are due fire;
wall-clock ones fire from :meth:`StreamTask.punctuate_wall_clock`.

Commit (driven by the thread or the test driver): :meth:`prepare_commit` flushes the stores' record caches (which is
when cached aggregations emit downstream) and returns the offsets to commit: for each input partition, the offset
after the last record processed (``StreamTask.committableOffsetsAndMetadata``). The caller flushes the collector
before committing them, which is what makes at-least-once hold: an offset is only committed once everything its
records produced is acknowledged.

Waiting for data (``max.task.idle.ms``, KIP-695; :meth:`StreamTask.ready_to_process`, Kafka's
``PartitionGroup.readyToProcess``): a task with several input partitions processes only when each has buffered
records, or when an empty one has no more data on the broker (its lag, as the consumer last heard it, is 0) and has
been idle for ``max.task.idle.ms`` of wall-clock time (0, the default, does not wait once the lag is 0; -1 never
waits). An unknown or positive lag makes it wait. Giving up on a partition is counted (``enforced_processing``):
the records may then be processed out of timestamp order. The test driver does not wait.

Simplifications: no timestamp extractor other than the record's own timestamp; a record whose key or value cannot
be deserialized stops the task (Kafka's default ``LogAndFailExceptionHandler``).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.streams.errors import StreamsException, TopologyException
from kafkalab.streams.processor import STREAM_TIME, WALL_CLOCK_TIME, Punctuation, Record, RecordMetadata
from kafkalab.streams.serdes import Serde, change_serde, serde
from kafkalab.streams.state import KeyValueStore, ThreadCache
from kafkalab.streams.topology import PROCESSOR, SINK, SOURCE, NodeDef, Subtopology, Topology
from kafkalab.streams.window_state import make_store
from kafkalab.streams.windows import WindowedSerde

__all__ = ["StreamTask", "TaskId", "RawRecord", "task_id", "default_serdes", "NodeContext", "global_stores"]

TaskId = str
#: (topic, partition, offset, timestamp_ms, key bytes, value bytes, headers)
RawRecord = tuple[str, int, int, int, bytes | None, bytes | None, tuple[Any, ...]]


def task_id(subtopology: int, partition: int) -> TaskId:
    """Kafka's ``TaskId`` text: ``<subtopology>_<partition>``."""
    return f"{subtopology}_{partition}"


class _Node:
    __slots__ = ("name", "kind", "processor", "children", "by_name", "context", "defn")

    def __init__(self, defn: NodeDef) -> None:
        self.name = defn.name
        self.kind = defn.kind
        self.defn = defn
        self.processor: Any = None
        self.children: list[_Node] = []
        self.by_name: dict[str, _Node] = {}
        self.context: NodeContext | None = None


class NodeContext:
    """The :class:`~kafkalab.streams.processor.ProcessorContext` one node's processor gets."""

    def __init__(self, task: StreamTask, node: _Node) -> None:
        self._task = task
        self._node = node

    @property
    def application_id(self) -> str:
        return self._task.application_id

    @property
    def task_id(self) -> str:
        return self._task.id

    def forward(self, record: Record, child: str | None = None) -> None:
        """Pass ``record`` to every child, or to the child named ``child``."""
        node = self._node
        if child is not None:
            target = node.by_name.get(child)
            if target is None:
                raise StreamsException(f"Unknown downstream node: {child} (children of {node.name}: "
                                       f"{', '.join(node.by_name) or 'none'})")
            self._task._deliver(target, record)
            return
        for c in node.children:
            self._task._deliver(c, record)

    def get_state_store(self, name: str) -> Any:
        """A store this processor was connected to, or a global store (any processor may read those)."""
        shared = self._task.global_stores
        if shared is not None and name in shared and name not in self._node.defn.stores:
            return shared[name]
        if name not in self._node.defn.stores:
            known = ", ".join(self._node.defn.stores) or "none"
            raise StreamsException(f"Processor {self._node.name} has no access to StateStore {name} as the store "
                                   f"is not connected to the processor (its stores: {known}).")
        return self._task.stores[name]

    def schedule(self, interval_ms: float, kind: str, callback: Callable[[int], Any]) -> Punctuation:
        """Call ``callback(timestamp)`` every ``interval_ms`` of stream time or of (virtual) wall-clock time."""
        if kind not in (STREAM_TIME, WALL_CLOCK_TIME):
            raise ValueError(f"punctuation type must be STREAM_TIME or WALL_CLOCK_TIME, got {kind!r}")
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int | float) or interval_ms < 1:
            raise ValueError(f"The minimum supported scheduling interval is 1 millisecond, got {interval_ms!r}")
        task = self._task
        start = task.stream_time if kind == STREAM_TIME else task.clock()
        first = (start + interval_ms) if kind == WALL_CLOCK_TIME or start >= 0 else -1.0
        p = Punctuation(float(interval_ms), kind, callback, first, self._node.name)
        task.punctuations.append(p)
        return p

    def record_metadata(self) -> RecordMetadata | None:
        return self._task.current

    def current_stream_time_ms(self) -> int:
        return int(self._task.stream_time)

    def current_system_time_ms(self) -> int:
        return int(self._task.clock())

    def commit(self) -> None:
        """Ask for a commit as soon as possible (Kafka's ``context.commit()``)."""
        self._task.commit_requested = True

    def dropped_record(self) -> None:
        self._task.dropped_records += 1

    def app_config(self, name: str, default: Any = None) -> Any:
        """The app's value of config ``name`` (``context.appConfigs()``), or ``default``."""
        config = self._task.config
        if config is None:
            return default
        try:
            return config[name]
        except Exception:
            return default

    def task_local(self, key: str, factory: Callable[[], Any]) -> Any:
        """One object per task shared by the processors that ask for ``key`` (Kafka's per-task suppliers, such
        as the stream-stream join's ``TimeTrackerSupplier``)."""
        shared = self._task.shared
        if key not in shared:
            shared[key] = factory()
        return shared[key]

    def task_local_drop(self, key: str) -> None:
        self._task.shared.pop(key, None)


class StreamTask:
    """One active task. ``collector`` sends records; ``resolve_topic`` maps a topology topic to the real one."""

    def __init__(self, topology: Topology, sub: Subtopology, partition: int, *, application_id: str,
                 collector: Any, key_serde: Serde | None, value_serde: Serde | None,
                 clock: Callable[[], float], cache: ThreadCache | None = None,
                 restored: dict[str, dict[Any, Any]] | None = None, config: Any = None,
                 global_stores: dict[str, KeyValueStore] | None = None) -> None:
        self.topology = topology
        self.sub = sub
        self.partition = partition
        self.id = task_id(sub.id, partition)
        self.application_id = application_id
        self.collector = collector
        self.default_key_serde = key_serde
        self.default_value_serde = value_serde
        self.clock = clock
        self.config = config
        self.global_stores = global_stores
        self.shared: dict[str, Any] = {}
        self.stream_time = -1.0
        self.current: RecordMetadata | None = None
        self.commit_requested = False
        self.dropped_records = 0
        self.dropped_reported = 0
        self.enforced_processing = 0
        self.idle_deadlines: dict[TopicPartition, float] = {}
        idle = config["max.task.idle.ms"] if config is not None and "max.task.idle.ms" in config else 0
        self.max_task_idle_ms = float(idle)
        self.processed = 0
        self.punctuations: list[Punctuation] = []
        self.queues: dict[TopicPartition, deque[RawRecord]] = {
            TopicPartition(self.resolve_topic(t), partition): deque() for t in sub.source_topics}
        self.consumed: dict[TopicPartition, int] = {}          # partition -> next offset to commit
        self._source_of = {self.resolve_topic(t): n for n in sub.nodes
                           if (d := topology.nodes[n]).kind == SOURCE for t in d.topics}
        self.stores: dict[str, KeyValueStore] = {}
        for s in sub.stores:
            sd = topology.stores[s]
            if global_stores is not None and s in global_stores:
                self.stores[s] = global_stores[s]       # a global task updates the instance's shared copy
                continue
            ks = self._serde(sd.key_serde, key_serde, f"store {s} key", "default.key.serde")
            vs = self._serde(sd.value_serde, value_serde, f"store {s} value", "default.value.serde")
            log = self._changelog_writer(s, sd.kind) if sd.logged else None
            store = make_store(sd, ks, vs, log=log, cache=cache, default_value_serde=value_serde)
            if restored and s in restored:
                store.load(restored[s])
            self.stores[s] = store
        self.nodes: dict[str, _Node] = {n: _Node(topology.nodes[n]) for n in sub.nodes}
        for node in self.nodes.values():
            for p in node.defn.predecessors:
                parent = self.nodes[p]
                parent.children.append(node)
                parent.by_name[node.name] = node
        for node in self.nodes.values():
            node.context = NodeContext(self, node)
            if node.kind == PROCESSOR:
                assert node.defn.supplier is not None
                node.processor = node.defn.supplier()
                if not hasattr(node.processor, "process"):
                    raise TopologyException(f"processor {node.name}: its supplier returned "
                                            f"{type(node.processor).__name__}, not a Processor")
        for node in self.nodes.values():       # init after every node exists (a processor may forward in init)
            if node.kind == PROCESSOR:
                node.processor.init(node.context)

    # -- names and serdes ---------------------------------------------------------------------------------------------
    def resolve_topic(self, topic: str) -> str:
        return f"{self.application_id}-{topic}" if topic in self.topology.internal_repartition else topic

    def changelog_topic(self, store: str) -> str:
        return f"{self.application_id}-{store}-changelog"

    @staticmethod
    def _serde(own: Serde | None, default: Serde | None, what: str, key: str) -> Serde:
        if isinstance(own, WindowedSerde):
            own = own.resolve(default)
        if own is not None:
            return own
        if default is None:
            raise StreamsException(f"{what}: no serde given and {key!r} is not set; pass a serde in the DSL or "
                                   f"set {key!r} (string, json, long, integer, double, bytes)")
        return default

    def _changelog_writer(self, store: str, kind: str) -> Callable[[Any, Any, int], None]:
        topic = self.changelog_topic(store)
        collector = self.collector
        partition = self.partition
        stores = self.stores

        def write(key: Any, value: Any, timestamp: int) -> None:
            st = stores[store]          # the store's own (composite, for window stores) serdes
            collector.send(topic, st.key_serde.serialize(key), st.value_serde.serialize(value), int(timestamp),
                           partition, ())
        return write

    # -- input --------------------------------------------------------------------------------------------------------
    def add_records(self, records: list[RawRecord]) -> None:
        queues = self.queues
        for r in records:
            queues[TopicPartition(r[0], r[1])].append(r)

    def ready_to_process(self, now: float, lag_of: Callable[[TopicPartition], int]) -> bool:
        """Whether the task may process now (see the module docstring); ``lag_of(tp)``: the consumer's lag of an
        input partition (-1 when unknown)."""
        queues = self.queues
        if len(queues) == 1 or self.max_task_idle_ms < 0:
            return True
        queued = enforced = False
        for tp, q in queues.items():
            if q:
                self.idle_deadlines.pop(tp, None)
                queued = True
                continue
            lag = lag_of(tp)
            if lag != 0:
                self.idle_deadlines.pop(tp, None)
                return False
            deadline = self.idle_deadlines.setdefault(tp, now + self.max_task_idle_ms)
            if now < deadline:
                return False
            enforced = True
        if not enforced:
            return True
        if not queued:
            return False
        self.enforced_processing += 1
        return True

    def buffered(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def process_one(self) -> bool:
        """Process the buffered record with the smallest timestamp; False when nothing is buffered."""
        best: deque[RawRecord] | None = None
        best_ts = 0
        for q in self.queues.values():
            if q and (best is None or q[0][3] < best_ts):
                best, best_ts = q, q[0][3]
        if best is None:
            return False
        raw = best.popleft()
        topic, partition, offset, ts, kb, vb, headers = raw
        if ts > self.stream_time:
            self.stream_time = float(ts)
        node = self.nodes[self._source_of[topic]]
        d = node.defn
        try:
            key = self._serde(d.key_serde, self.default_key_serde, f"source {d.name} key",
                              "default.key.serde").deserialize(kb)
            vs = self._serde(d.value_serde, self.default_value_serde, f"source {d.name} value",
                             "default.value.serde")
            value = (change_serde(vs) if d.wrap_change else vs).deserialize(vb)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StreamsException(f"Deserialization exception handler is set to fail upon a deserialization error. "
                                   f"Record at {topic}-{partition} offset {offset}: {exc}") from exc
        self.current = RecordMetadata(topic, partition, offset)
        record = Record(key, value, ts, headers)
        for child in node.children:
            self._deliver(child, record)
        self.current = None
        self.consumed[TopicPartition(topic, partition)] = offset + 1
        self.processed += 1
        self._punctuate_stream_time()
        return True

    def _deliver(self, node: _Node, record: Record) -> None:
        if node.kind == SINK:
            self._sink(node, record)
        else:
            node.processor.process(record)

    def _sink(self, node: _Node, record: Record) -> None:
        d = node.defn
        topic = d.topic
        if topic is None:
            assert d.extractor is not None
            topic = d.extractor(record.key, record.value, self.current)
        real = self.resolve_topic(topic)
        ks = self._serde(d.key_serde, self.default_key_serde, f"sink {d.name} key", "default.key.serde")
        vs = self._serde(d.value_serde, self.default_value_serde, f"sink {d.name} value", "default.value.serde")
        if d.wrap_change:
            vs = change_serde(vs)
        kb = ks.serialize(record.key)
        vb = vs.serialize(record.value)
        partition = None
        if d.partitioner is not None:
            n = self.collector.partitions_for(real)
            partition = d.partitioner(record.key, record.value, n) if n else None
        self.collector.send(real, kb, vb, int(record.timestamp), partition, record.headers)

    # -- punctuation --------------------------------------------------------------------------------------------------
    def _punctuate_stream_time(self) -> None:
        if not self.punctuations:
            return
        now = self.stream_time
        for p in list(self.punctuations):
            if p.kind != STREAM_TIME or p.cancelled:
                continue
            if p.next_ms < 0:            # scheduled before any record: the first one anchors it
                p.next_ms = now + p.interval_ms
                continue
            if now >= p.next_ms:
                self._fire(p, now)

    def punctuate_wall_clock(self) -> int:
        """Fire wall-clock punctuators that are due; how many fired."""
        fired = 0
        now = self.clock()
        for p in list(self.punctuations):
            if p.kind == WALL_CLOCK_TIME and not p.cancelled and now >= p.next_ms:
                self._fire(p, now)
                fired += 1
        return fired

    def _fire(self, p: Punctuation, now: float) -> None:
        p.callback(int(now))
        # Kafka's PunctuationSchedule.next: the next multiple of the interval after now, no catch-up bursts
        p.next_ms = p.next_ms + p.interval_ms * (1 + (now - p.next_ms) // p.interval_ms)

    # -- commit and close ---------------------------------------------------------------------------------------------
    def prepare_commit(self) -> dict[TopicPartition, int]:
        """Flush the record caches (emitting cached updates) and return the offsets to commit."""
        for store in self.stores.values():
            store.flush()
        self.commit_requested = False
        return dict(self.consumed)

    def close(self, clean: bool = True) -> None:
        for node in self.nodes.values():
            if node.kind == PROCESSOR:
                node.processor.close()
        if not clean:
            for store in self.stores.values():
                store.drop_cache()
        for store in self.stores.values():
            store.open = False

    def __repr__(self) -> str:
        return f"StreamTask({self.id}, {self.buffered()} buffered, stream_time={self.stream_time:.0f})"


def global_stores(topology: Topology, key_serde: Serde | None, value_serde: Serde | None
                  ) -> dict[str, KeyValueStore]:
    """One instance's copies of the topology's global stores (never logged: the topic is their changelog)."""
    out: dict[str, KeyValueStore] = {}
    for g in topology.global_groups():
        for s in g.stores:
            sd = topology.stores[s]
            ks = StreamTask._serde(sd.key_serde, key_serde, f"global store {s} key", "default.key.serde")
            vs = StreamTask._serde(sd.value_serde, value_serde, f"global store {s} value", "default.value.serde")
            out[s] = make_store(sd, ks, vs)
    return out


def default_serdes(config: Any) -> tuple[Serde | None, Serde | None]:
    """The app's default key and value serdes (None where not set)."""
    k, v = config["default.key.serde"], config["default.value.serde"]
    return (None if k is None else serde(k, "default.key.serde"), None if v is None else serde(v,
                                                                                           "default.value.serde"))

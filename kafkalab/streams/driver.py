"""``TopologyTestDriver``: run a topology without a cluster, with several partitions per topic (Kafka's
``TopologyTestDriver``, extended as KIP-1238 proposes).

How it works. The driver plans partition counts as the app would (``partitions={"orders": 3}``; a topic not named has
one; repartition topics and changelogs follow :func:`~kafkalab.streams.topology.plan_partitions`, so a join of topics
with different counts fails here as it fails in Kafka), and creates one
:class:`~kafkalab.streams.task.StreamTask` per (sub-topology, partition). Each topic is a list of records per
partition. :meth:`pipe_input` serializes a record, puts it on the partition its key hashes to (murmur2, the
producer's default partitioner; or ``partition=``), then processes until every task is idle, including what went
through repartition topics, and commits (flushes the record caches), as Kafka's driver does after each input record:
so the output shows every update. :meth:`read_key_values` reads an output topic in the order records were written
(across partitions) and consumes them; :meth:`read_records` gives partitions and timestamps too.
:meth:`advance_wall_clock` moves virtual wall-clock time and fires wall-clock punctuators.

The driver and the cluster runtime share the task code; what differs is the collector (here: append to an in-memory
topic at once) and that nothing can fail or be duplicated.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafkalab.clients.partitioner import partition_for_key
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.streams.config import streams_config
from kafkalab.streams.errors import InvalidStateStoreException
from kafkalab.streams.serdes import Serde, serde
from kafkalab.streams.state import ReadOnlyKeyValueStore, ThreadCache
from kafkalab.streams.task import StreamTask, default_serdes, global_stores
from kafkalab.streams.topology import SOURCE, Topology, plan_partitions
from kafkalab.streams.window_state import ReadOnlySessionStore, ReadOnlyWindowStore, read_only_store
from kafkalab.streams.windows import WindowedSerde

__all__ = ["TopologyTestDriver", "OutputRecord"]


class OutputRecord(tuple[str, int, Any, Any, int]):
    """(topic, partition, key, value, timestamp_ms) of a record read from an output topic."""

    __slots__ = ()

    @property
    def topic(self) -> str:
        return self[0]

    @property
    def partition(self) -> int:
        return self[1]

    @property
    def key(self) -> Any:
        return self[2]

    @property
    def value(self) -> Any:
        return self[3]

    @property
    def timestamp_ms(self) -> int:
        return self[4]


class _DriverCollector:
    def __init__(self, driver: TopologyTestDriver) -> None:
        self.driver = driver

    def partitions_for(self, topic: str) -> int:
        return self.driver._count(topic)

    def send(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, partition: int | None,
             headers: Any) -> None:
        self.driver._append(topic, key, value, timestamp, partition, headers)


class TopologyTestDriver:
    """Drive ``topology`` by hand: ``pipe_input``, ``read_key_values``, ``get_key_value_store``,
    ``advance_wall_clock``. ``config``: streams config (``application.id`` defaults to ``"test-driver"``)."""

    def __init__(self, topology: Topology, config: Mapping[str, Any] | None = None, *,
                 partitions: Mapping[str, int] | None = None, wall_clock_ms: int = 0) -> None:
        if not isinstance(topology, Topology):
            raise TypeError(f"topology must be a Topology (builder.build()), got {type(topology).__name__}")
        # like Kafka's driver, emit a left/outer stream-stream join's non-joined records without a wall-clock wait
        cfg = {"application.id": "test-driver", "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__": 0,
               **dict(config or {})}
        self.config = streams_config(cfg)
        self.app_id = self.config.application_id
        self.topology = topology
        self.wall_clock_ms = float(wall_clock_ms)
        self._given = dict(partitions or {})
        for t, n in self._given.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"partitions[{t!r}] must be an int >= 1, got {n!r}")
        self.counts = plan_partitions(topology, self.app_id, lambda t: self._given.get(t, 1))
        self.key_serde, self.value_serde = default_serdes(self.config)
        self.topics: dict[str, list[list[tuple[Any, ...]]]] = {}
        self._written: list[tuple[str, int, int]] = []            # (topic, partition, offset) in write order
        self._read: dict[str, int] = {}
        self._rr: dict[str, int] = {}
        self.cache = ThreadCache(int(self.config["statestore.cache.max.bytes"]))
        collector = _DriverCollector(self)
        self.tasks: dict[str, StreamTask] = {}
        self._owner: dict[TopicPartition, StreamTask] = {}
        self.global_stores = global_stores(topology, self.key_serde, self.value_serde)
        # global tasks (one per partition of a global topic) update the shared global stores as records arrive
        for sub in [*topology.subtopologies(), *topology.global_groups()]:
            n = max((self._count(self._real(t)) for t in sub.source_topics), default=1)
            for p in range(n):
                task = StreamTask(topology, sub, p, application_id=self.app_id, collector=collector,
                                  key_serde=self.key_serde, value_serde=self.value_serde,
                                  clock=lambda: self.wall_clock_ms, cache=self.cache, config=self.config,
                                  global_stores=self.global_stores)
                self.tasks[task.id] = task
                for tp in task.queues:
                    self._owner[tp] = task

    # -- topics -------------------------------------------------------------------------------------------------------
    def _real(self, topic: str) -> str:
        return f"{self.app_id}-{topic}" if topic in self.topology.internal_repartition else topic

    def _count(self, topic: str) -> int:
        return self.counts.get(topic) or self._given.get(topic, 1)

    def _append(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, partition: int | None,
                headers: Any) -> None:
        n = self._count(topic)
        if partition is None:
            if key is not None:
                partition = partition_for_key(key, n)
            else:
                partition = self._rr.get(topic, 0) % n
                self._rr[topic] = partition + 1
        if not 0 <= partition < n:
            raise ValueError(f"topic {topic!r} has partitions 0..{n - 1}, got partition {partition}")
        parts = self.topics.setdefault(topic, [[] for _ in range(n)])
        offset = len(parts[partition])
        parts[partition].append((key, value, timestamp, headers))
        self._written.append((topic, partition, offset))
        task = self._owner.get(TopicPartition(topic, partition))
        if task is not None:
            task.add_records([(topic, partition, offset, timestamp, key, value, tuple(headers or ()))])

    def _source_serdes(self, topic: str) -> tuple[Serde | None, Serde | None]:
        for node in self.topology.nodes.values():
            if node.kind == SOURCE and topic in node.topics:
                return node.key_serde or self.key_serde, node.value_serde or self.value_serde
        return self.key_serde, self.value_serde

    # -- input --------------------------------------------------------------------------------------------------------
    def pipe_input(self, topic: str, key: Any = None, value: Any = None, timestamp_ms: int | None = None, *,
                   partition: int | None = None, key_serde: Any = None, value_serde: Any = None) -> None:
        """Write one record to ``topic`` (serialized with the source's serdes unless given), then process
        everything it causes and commit."""
        if not isinstance(topic, str) or not any(topic in n.topics for n in self.topology.nodes.values()
                                                 if n.kind == SOURCE):
            sources = sorted(t for n in self.topology.nodes.values() if n.kind == SOURCE for t in n.topics
                             if t not in self.topology.internal_repartition)
            raise ValueError(f"topic {topic!r} is not a source topic of the topology (sources: "
                             f"{', '.join(sources)})")
        ks, vs = self._source_serdes(topic)
        ks = serde(key_serde, "key_serde") if key_serde is not None else ks
        vs = serde(value_serde, "value_serde") if value_serde is not None else vs
        kb = _ser(ks, key, "key", topic)
        vb = _ser(vs, value, "value", topic)
        ts = int(self.wall_clock_ms if timestamp_ms is None else timestamp_ms)
        self._append(topic, kb, vb, ts, partition, ())
        self._run()

    def pipe_inputs(self, topic: str, records: list[tuple[Any, ...]]) -> None:
        """``pipe_input`` for each (key, value) or (key, value, timestamp_ms)."""
        for r in records:
            self.pipe_input(topic, *r)

    def _run(self) -> None:
        busy = True
        while busy:
            busy = False
            for task in self.tasks.values():
                while task.process_one():
                    busy = True
            if not busy:
                for task in self.tasks.values():
                    task.prepare_commit()
                busy = any(t.buffered() for t in self.tasks.values())

    def advance_wall_clock(self, ms: float) -> None:
        """Move wall-clock time forward and fire the wall-clock punctuators that are due."""
        if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
            raise ValueError(f"ms must be a number >= 0, got {ms!r}")
        self.wall_clock_ms += ms
        for task in self.tasks.values():
            task.punctuate_wall_clock()
        self._run()

    # -- output -------------------------------------------------------------------------------------------------------
    def read_records(self, topic: str, *, key_serde: Any = None, value_serde: Any = None) -> list[OutputRecord]:
        """Unread records of ``topic`` in the order they were written (and mark them read)."""
        if not isinstance(topic, str) or topic not in self.topics:
            known = ", ".join(sorted(self.topics)) or "none"
            if isinstance(topic, str) and topic in self.counts or isinstance(topic, str):
                if topic in self.counts or self._is_sink(topic):
                    return []
            raise ValueError(f"no topic {topic!r} was written by the topology (topics: {known})")
        sink_ks, sink_vs = self._sink_serdes(topic)
        ks = serde(key_serde, "key_serde") if key_serde is not None else sink_ks
        vs = serde(value_serde, "value_serde") if value_serde is not None else sink_vs
        start = self._read.get(topic, 0)
        mine = [(t, p, o) for t, p, o in self._written if t == topic]
        self._read[topic] = len(mine)
        out = []
        for t, p, o in mine[start:]:
            kb, vb, ts, _h = self.topics[t][p][o]
            out.append(OutputRecord((t, p, _de(ks, kb), _de(vs, vb), ts)))
        return out

    def _sink_serdes(self, topic: str) -> tuple[Serde | None, Serde | None]:
        """The serdes of the sink writing ``topic`` (the defaults where it has none)."""
        for node in self.topology.nodes.values():
            if node.topic == topic:
                ks = node.key_serde.resolve(self.key_serde) if isinstance(node.key_serde, WindowedSerde) else \
                    node.key_serde
                return ks or self.key_serde, node.value_serde or self.value_serde
        return self.key_serde, self.value_serde

    def _is_sink(self, topic: str) -> bool:
        return any(n.topic == topic for n in self.topology.nodes.values())

    def read_key_values(self, topic: str, *, key_serde: Any = None, value_serde: Any = None) -> list[tuple[Any, Any]]:
        """Unread (key, value) pairs of ``topic`` in write order."""
        return [(r.key, r.value) for r in self.read_records(topic, key_serde=key_serde, value_serde=value_serde)]

    def get_key_value_store(self, name: str) -> ReadOnlyKeyValueStore:
        """Every partition's part of the key-value store ``name``."""
        return self._store(name, "kv")

    def get_window_store(self, name: str) -> ReadOnlyWindowStore:
        """Every partition's part of the window store ``name`` (``fetch(key, time_from, time_to)``, ``all()``)."""
        return self._store(name, "window")

    def get_session_store(self, name: str) -> ReadOnlySessionStore:
        """Every partition's part of the session store ``name`` (``fetch(key)``, ``all()``)."""
        return self._store(name, "session")

    def _store(self, name: str, kind: str) -> Any:
        if name not in self.topology.stores:
            import difflib

            from kafkalab.streams.errors import UnknownStateStoreException
            close = difflib.get_close_matches(name, list(self.topology.stores), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownStateStoreException(f"Cannot get state store {name} because no such store is registered "
                                             f"in the topology (stores: {', '.join(self.topology.stores) or 'none'})"
                                             f"{hint}")
        actual = self.topology.stores[name].kind
        if actual != kind:
            what = {"kv": "key-value", "window": "window", "session": "session"}
            getter = {"kv": "get_key_value_store", "window": "get_window_store", "session": "get_session_store"}
            raise InvalidStateStoreException(f"store {name} is a {what[actual]} store, not a {what[kind]} store; "
                                             f"use {getter[actual]}({name!r})")
        parts = list({id(st): st for t in self.tasks.values() if (st := t.stores.get(name)) is not None}.values())
        return read_only_store(name, kind, parts)

    def dropped_records(self) -> int:
        return sum(t.dropped_records for t in self.tasks.values())

    def close(self) -> None:
        for task in self.tasks.values():
            task.close()


def _ser(s: Serde | None, obj: Any, what: str, topic: str) -> bytes | None:
    if obj is None:
        return None
    if s is None:
        if isinstance(obj, bytes):
            return obj
        raise ValueError(f"no {what} serde for topic {topic!r}: give the source a {what}_serde, set "
                         f"'default.{what}.serde', or pass {what}_serde= to pipe_input")
    return s.serialize(obj)


def _de(s: Serde | None, data: bytes | None) -> Any:
    if data is None or s is None:
        return data
    return s.deserialize(data)

"""``Topology``: sources, processors, sinks and state stores, grouped into sub-topologies (Kafka's
``InternalTopologyBuilder`` and ``TopologyDescription``).

How it works. A :class:`Topology` is built node by node, by hand (the Processor API: :meth:`Topology.add_source`,
:meth:`~Topology.add_processor`, :meth:`~Topology.add_sink`, :meth:`~Topology.add_state_store`) or by the DSL
(:class:`~kafkalab.streams.dsl.StreamsBuilder`), in the order Kafka's builder receives them. Nodes joined by an edge
or by a shared state store form one *sub-topology* (Kafka's node groups: a union-find over those links); numbering
follows the first node of each group in insertion order, so upstream sub-topologies come first. A sink to an internal
repartition topic and the source reading it are not linked: the topic is where one sub-topology ends and the next
begins, and that is why a ``group_by`` splits a topology in two.

:meth:`Topology.describe` gives a :class:`TopologyDescription` whose text is Kafka's ``TopologyDescription.toString``:
``Topologies:`` then, per sub-topology, its nodes ordered by the size of the sub-tree under them (largest first, then
by name, Kafka's ``NodeComparator``), each with ``-->`` successors and ``<--`` predecessors. Internal topics appear
there without the application id; the runtime names them ``<application.id>-<name>-repartition`` and
``<application.id>-<store>-changelog`` (:meth:`Topology.internal_topics`), changelogs compacted.

Global stores (:meth:`Topology.add_global_store`, ``builder.global_table``) form their own node groups, numbered
with the others and printed as Kafka prints them ("for global store (will not generate tasks)"); they generate no
tasks. Not modelled: pattern subscriptions, named topologies.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkalab.clients.sticky import java_hashmap_order
from kafkalab.streams.errors import TopologyException
from kafkalab.streams.serdes import Serde, serde

__all__ = ["Topology", "TopologyDescription", "NodeDef", "StoreDef", "Subtopology", "InternalTopic",
           "SOURCE", "PROCESSOR", "SINK", "plan_partitions", "upstream_sources"]

SOURCE, PROCESSOR, SINK = "source", "processor", "sink"
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")


@dataclass(slots=True)
class NodeDef:
    """One node: a source (``topics``), a processor (``supplier``, ``stores``) or a sink (``topic`` or
    ``extractor``)."""

    name: str
    kind: str
    predecessors: list[str] = field(default_factory=list)
    topics: tuple[str, ...] = ()
    supplier: Callable[[], Any] | None = None
    stores: list[str] = field(default_factory=list)
    topic: str | None = None
    extractor: Callable[[Any, Any, Any], str] | None = None
    key_serde: Serde | None = None
    value_serde: Serde | None = None
    partitioner: Callable[[Any, Any, int], int] | None = None
    wrap_change: bool = False       # a KTable group_by repartition topic: values are Change(new, old)


@dataclass(slots=True)
class StoreDef:
    """A key-value state store: its serdes (None: the app's defaults), whether a changelog backs it (``logged``) and
    whether a record cache folds its updates (``cached``)."""

    name: str
    key_serde: Serde | None = None
    value_serde: Serde | None = None
    logged: bool = True
    cached: bool = True
    kind: str = "kv"                # "kv", "window" or "session"
    timestamped: bool = True
    window_size_ms: int = 0         # window and session stores: window size and retention (ms)
    retention_ms: int = 0
    retain_duplicates: bool = False  # the window stores of a stream-stream join keep every record
    other_value_serde: Serde | None = None     # an outer-join store: the right side's values


@dataclass(frozen=True, slots=True)
class InternalTopic:
    """A topic the application creates: its name without the application id, kind and topic configs."""

    name: str
    kind: str                       # "repartition" or "changelog"
    subtopology: int
    config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Subtopology:
    """One node group: its id, node names (insertion order), source topics, stores, and the internal repartition
    topics it reads."""

    id: int
    nodes: tuple[str, ...]
    source_topics: tuple[str, ...]
    stores: tuple[str, ...]
    repartition_sources: tuple[str, ...]
    sink_topics: tuple[str, ...]
    is_global: bool = False         # a global store's source and processor: no tasks (every instance runs it)


class Topology:
    """A processor topology (Kafka's ``Topology``). Add nodes with the Processor API or build one with
    :class:`~kafkalab.streams.dsl.StreamsBuilder`."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeDef] = {}
        self.stores: dict[str, StoreDef] = {}
        self.internal_repartition: dict[str, int | None] = {}     # topic (no app id) -> partitions or None
        self.copartition_groups: list[tuple[str, ...]] = []
        self.global_sources: dict[str, str] = {}                  # global source node -> its store
        self._groups: list[Subtopology] | None = None
        self._all_groups: list[Subtopology] = []

    # -- the Processor API ------------------------------------------------------------------------------------------
    def add_source(self, name: str, *topics: str, key_serde: Any = None, value_serde: Any = None) -> Topology:
        """A source reading ``topics`` (Kafka's ``addSource``)."""
        self._check_new(name)
        if not topics:
            raise TopologyException(f"source {name!r} needs at least one topic")
        for t in topics:
            if not isinstance(t, str) or not t:
                raise TypeError(f"source topics must be non-empty str, got {type(t).__name__} {t!r}")
            for other in self.nodes.values():
                if other.kind == SOURCE and t in other.topics:
                    raise TopologyException(f"Topic {t} has already been registered by another source.")
        self.nodes[name] = NodeDef(name, SOURCE, topics=tuple(topics),
                                   key_serde=_opt_serde(key_serde, "key_serde"),
                                   value_serde=_opt_serde(value_serde, "value_serde"))
        self._groups = None
        return self

    def add_processor(self, name: str, supplier: Callable[[], Any], *parents: str) -> Topology:
        """A processor made by ``supplier()`` (a :class:`~kafkalab.streams.processor.Processor`), child of
        ``parents`` (Kafka's ``addProcessor``)."""
        self._check_new(name)
        if not callable(supplier):
            raise TypeError(f"supplier of processor {name!r} must be callable (a Processor class or a function "
                            f"returning a new Processor), got {type(supplier).__name__}")
        self._check_parents(name, parents)
        self.nodes[name] = NodeDef(name, PROCESSOR, list(parents), supplier=supplier)
        self._groups = None
        return self

    def add_sink(self, name: str, topic: str | Callable[[Any, Any, Any], str], *parents: str, key_serde: Any = None,
                 value_serde: Any = None, partitioner: Callable[[Any, Any, int], int] | None = None) -> Topology:
        """A sink writing to ``topic`` (or to ``topic(key, value, record_context)`` per record) (``addSink``)."""
        self._check_new(name)
        self._check_parents(name, parents)
        node = NodeDef(name, SINK, list(parents), key_serde=_opt_serde(key_serde, "key_serde"),
                       value_serde=_opt_serde(value_serde, "value_serde"), partitioner=partitioner)
        if isinstance(topic, str) and topic:
            node.topic = topic
        elif callable(topic):
            node.extractor = topic
        else:
            raise TypeError(f"sink {name!r}: topic must be a topic name or a function of (key, value, "
                            f"record_context) returning one, got {type(topic).__name__} {topic!r}")
        self.nodes[name] = node
        self._groups = None
        return self

    def add_state_store(self, store: StoreDef | str, *processors: str, key_serde: Any = None,
                        value_serde: Any = None, logged: bool = True, cached: bool = False) -> Topology:
        """A key-value store (a :class:`StoreDef` or a name), connected to ``processors`` (``addStateStore``)."""
        if isinstance(store, str):
            store = StoreDef(store, _opt_serde(key_serde, "key_serde"), _opt_serde(value_serde, "value_serde"),
                             logged, cached, timestamped=False)
        if not _LEGAL_NAME.fullmatch(store.name):
            raise TopologyException(f"store name {store.name!r} is illegal: use ASCII letters, digits, '.', '_' "
                                    f"and '-'")
        if store.name in self.stores:
            raise TopologyException(f"StateStore {store.name} is already added.")
        self.stores[store.name] = store
        for p in processors:
            self.connect_processor_and_state_stores(p, store.name)
        self._groups = None
        return self

    def add_global_store(self, store: StoreDef, source: str, topic: str, processor: str,
                         supplier: Callable[[], Any], *, key_serde: Any = None, value_serde: Any = None) -> Topology:
        """A global store (Kafka's ``addGlobalStore``): ``source`` reads every partition of ``topic`` on every
        instance and ``processor`` (made by ``supplier``) keeps ``store`` up to date; any processor may read the
        store without being connected to it. The topic is the store's changelog (no other is created)."""
        store.logged = False
        store.cached = False
        self.add_source(source, topic, key_serde=key_serde, value_serde=value_serde)
        self.add_processor(processor, supplier, source)
        self.add_state_store(store, processor)
        self.global_sources[source] = store.name
        self._groups = None
        return self

    def is_global_store(self, name: str) -> bool:
        return name in self.global_sources.values()

    def connect_processor_and_state_stores(self, processor: str, *stores: str) -> Topology:
        """Give ``processor`` access to ``stores`` (Kafka's ``connectProcessorAndStateStores``)."""
        node = self.nodes.get(processor)
        if node is None or node.kind != PROCESSOR:
            raise TopologyException(f"Processor {processor} is not added yet.")
        for s in stores:
            if s not in self.stores:
                raise TopologyException(f"StateStore {s} is not added yet.")
            if s not in node.stores:
                node.stores.append(s)
        self._groups = None
        return self

    # -- checks -------------------------------------------------------------------------------------------------------
    def _check_new(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"node name must be a non-empty str, got {type(name).__name__} {name!r}")
        if name in self.nodes:
            raise TopologyException(f"Processor {name} is already added.")

    def _check_parents(self, name: str, parents: Sequence[str]) -> None:
        if not parents:
            raise TopologyException(f"Processor {name} must have at least one parent")
        for p in parents:
            if p == name:
                raise TopologyException(f"Processor {name} cannot be a predecessor of itself.")
            parent = self.nodes.get(p)
            if parent is None:
                raise TopologyException(f"Parent processor {p} is not added yet for {name}")
            if parent.kind == SINK:
                raise TopologyException(f"Sink {p} cannot be used a parent.")

    # -- structure ----------------------------------------------------------------------------------------------------
    def children(self, name: str) -> list[str]:
        """Successors of a node, in insertion order (the order records are forwarded in)."""
        return [n.name for n in self.nodes.values() if name in n.predecessors]

    def subtopologies(self) -> list[Subtopology]:
        """The node groups that generate tasks, numbered as Kafka numbers them (global store groups take numbers
        too, as in Kafka, so ids may skip one)."""
        if self._groups is None:
            self._all_groups = self._make_groups()
            self._groups = [g for g in self._all_groups if not g.is_global]
        return self._groups

    def global_groups(self) -> list[Subtopology]:
        """The node groups of global stores (a source and its processor each)."""
        self.subtopologies()
        return [g for g in self._all_groups if g.is_global]

    def subtopology(self, sid: int) -> Subtopology:
        """The task-generating sub-topology with id ``sid``."""
        for sub in self.subtopologies():
            if sub.id == sid:
                return sub
        raise KeyError(sid)

    def _make_groups(self) -> list[Subtopology]:
        parent: dict[str, str] = {n: n for n in self.nodes}

        def root(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        def unite(a: str, b: str) -> None:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[rb] = ra
        for node in self.nodes.values():
            for p in node.predecessors:
                unite(p, node.name)
        store_users: dict[str, str] = {}
        for node in self.nodes.values():
            for s in node.stores:
                if s in store_users:
                    unite(store_users[s], node.name)
                else:
                    store_users[s] = node.name
        order: dict[str, list[str]] = {}
        for name in self.nodes:
            order.setdefault(root(name), []).append(name)
        groups = []
        for gid, names in enumerate(order.values()):
            nodes = [self.nodes[n] for n in names]
            sources = tuple(t for n in nodes if n.kind == SOURCE for t in n.topics)
            stores = tuple(dict.fromkeys(s for n in nodes for s in n.stores))
            groups.append(Subtopology(gid, tuple(names), sources, stores,
                                      tuple(t for t in sources if t in self.internal_repartition),
                                      tuple(n.topic for n in nodes if n.kind == SINK and n.topic is not None),
                                      any(n in self.global_sources for n in names)))
        return groups

    def subtopology_of(self, node: str) -> int:
        for sub in self.subtopologies():
            if node in sub.nodes:
                return sub.id
        raise KeyError(node)

    def internal_topics(self, application_id: str, additional_retention_ms: int = 86400000
                        ) -> list[InternalTopic]:
        """Every repartition and changelog topic of this topology, named for ``application_id``; a window or
        session store's changelog is ``compact,delete`` with ``retention.ms`` = the store's retention plus
        ``additional_retention_ms`` (``windowstore.changelog.additional.retention.ms``)."""
        out = []
        for sub in self.subtopologies():
            for t in sub.repartition_sources:
                out.append(InternalTopic(f"{application_id}-{t}", "repartition", sub.id,
                                         (("cleanup.policy", "delete"), ("retention.ms", "-1"))))
            for s in sub.stores:
                sd = self.stores[s]
                if not sd.logged:
                    continue
                config: tuple[tuple[str, str], ...] = (("cleanup.policy", "compact"),)
                if sd.kind in ("window", "session"):
                    config = (("cleanup.policy", "compact,delete"),
                              ("retention.ms", str(sd.retention_ms + additional_retention_ms)))
                out.append(InternalTopic(f"{application_id}-{s}-changelog", "changelog", sub.id, config))
        return out

    def describe(self) -> TopologyDescription:
        """The topology as Kafka's ``TopologyDescription`` prints it (``print(topology.describe())``)."""
        return TopologyDescription(self)

    def __repr__(self) -> str:
        return f"Topology({len(self.subtopologies())} sub-topologies, {len(self.nodes)} nodes)"


def upstream_sources(topology: Topology, node: str) -> list[str]:
    """The source topics (topology names) whose records reach ``node`` inside its sub-topology."""
    seen: dict[str, None] = {}
    stack = [node]
    topics: dict[str, None] = {}
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen[n] = None
        d = topology.nodes[n]
        if d.kind == SOURCE:
            topics.update(dict.fromkeys(d.topics))
        stack.extend(d.predecessors)
    return list(topics)


def plan_partitions(topology: Topology, application_id: str, known: Callable[[str], int | None]
                    ) -> dict[str, int]:
    """Partition counts of every topic the app reads and of its internal topics (real names), as Kafka's
    ``RepartitionTopics`` and ``CopartitionedTopicsEnforcer`` decide them: a repartition topic gets the most
    partitions of the source topics of the sub-topologies writing to it (unless ``repartition(num_partitions=)`` set
    it); the topics of a join must have the same count, except repartition topics, which take the others' count;
    a changelog has one partition per task of its sub-topology. ``known(topic)``: an external topic's count (None:
    it does not exist, a TopologyException)."""
    internal = topology.internal_repartition
    real = {t: (f"{application_id}-{t}" if t in internal else t) for sub in topology.subtopologies()
            for t in sub.source_topics}
    counts: dict[str, int] = {}
    for sub in topology.subtopologies():
        for t in sub.source_topics:
            if t in internal:
                continue
            n = known(t)
            if n is None:
                raise TopologyException(f"source topic {t!r} does not exist (create it before starting the app)")
            counts[t] = n
    for t, n in internal.items():
        if n is not None:
            counts[t] = n
    writers: dict[str, list[Subtopology]] = {}
    for sub in topology.subtopologies():
        for t in sub.sink_topics:
            if t in internal:
                writers.setdefault(t, []).append(sub)
    for _ in range(len(internal) + 1):
        for t in internal:
            if t in counts:
                continue
            ups = [c for sub in writers.get(t, []) for s in sub.source_topics if (c := counts.get(s)) is not None]
            if ups:
                counts[t] = max(ups)
    for group in topology.copartition_groups:
        topics = list(dict.fromkeys(t for n in group for t in upstream_sources(topology, n)))
        fixed = {t: counts[t] for t in topics if t not in internal or internal[t] is not None}
        if len(set(fixed.values())) > 1:
            raise TopologyException(f"Topics not co-partitioned: [{','.join(sorted(fixed))}] (partitions: "
                                    + ", ".join(f"{t}={n}" for t, n in sorted(fixed.items())) + ")")
        if fixed:
            target = next(iter(fixed.values()))
            for t in topics:
                if t in internal and internal[t] is None:
                    counts[t] = target
    for sub in topology.global_groups():
        for t in sub.source_topics:
            n = known(t)
            if n is None:
                raise TopologyException(f"global table topic {t!r} does not exist (create it before starting the "
                                        f"app)")
            counts[t] = n
            real[t] = t
    out = {real[t]: n for t, n in counts.items() if t in real}
    for sub in topology.subtopologies():
        tasks = max((counts.get(t, 1) for t in sub.source_topics), default=1)
        for s in sub.stores:
            if topology.stores[s].logged:
                out[f"{application_id}-{s}-changelog"] = tasks
    return out


def _opt_serde(spec: Any, what: str) -> Serde | None:
    return None if spec is None else serde(spec, what)


class TopologyDescription:
    """Kafka's ``TopologyDescription``: ``str()`` is its text; ``subtopologies`` the node groups."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.subtopologies = topology.subtopologies()

    def _layout(self, names: Iterable[str]) -> tuple[dict[str, int], dict[str, list[str]], dict[str, list[str]]]:
        """Kafka's ``describeSubtopology``, done its way: nodes visited in Java ``HashMap`` order; each one links to
        its predecessors (inserted into sorted sets with the sizes *of that moment*, as a ``TreeSet`` does) and adds
        its size so far to them and, through the links made so far, to their ancestors. So a size is not always the
        true sub-tree size, and successor lists can be ordered by stale sizes: that is what Kafka prints."""
        members = set(names)
        topo = self.topology
        size = {n: 1 for n in members}
        preds: dict[str, list[str]] = {n: [] for n in members}
        succs: dict[str, list[str]] = {n: [] for n in members}

        def before(a: str, b: str) -> bool:
            return (-size[a], a) < (-size[b], b)

        def insert(into: list[str], n: str) -> None:
            i = 0
            while i < len(into) and not before(n, into[i]):
                i += 1
            into.insert(i, n)

        def update(n: str, delta: int) -> None:
            size[n] += delta
            for q in preds[n]:
                update(q, delta)
        for n in java_hashmap_order(sorted(members)):
            for p in topo.nodes[n].predecessors:
                if p in members:
                    insert(preds[n], p)
                    insert(succs[p], n)
                    update(p, size[n])
        return size, preds, succs

    def _node_text(self, name: str, preds: list[str], succs: list[str]) -> str:
        node = self.topology.nodes[name]
        succ_text = ", ".join(succs) or "none"
        pred_text = ", ".join(preds) or "none"
        if node.kind == SOURCE:
            return f"Source: {name} (topics: [{', '.join(node.topics)}])\n      --> {succ_text}"
        if node.kind == SINK:
            target = f"topic: {node.topic}" if node.topic is not None else \
                f"extractor class: {getattr(node.extractor, '__name__', 'extractor')}"
            return f"Sink: {name} ({target})\n      <-- {pred_text}"
        return (f"Processor: {name} (stores: [{', '.join(node.stores)}])\n      --> {succ_text}\n"
                f"      <-- {pred_text}")

    def to_networkx(self) -> Any:
        """The topology as a ``networkx.DiGraph``: one node per source, processor, sink, store and topic (attribute
        ``kind``: source, processor, sink, store, topic; ``subtopology`` for processing nodes), edges in the
        direction records flow (topic -> source -> ... -> sink -> topic; processor <-> store as processor -> store)."""
        import networkx as nx
        g = nx.DiGraph()
        topo = self.topology
        for sub in [*self.subtopologies, *topo.global_groups()]:
            for name in sub.nodes:
                node = topo.nodes[name]
                g.add_node(name, kind=node.kind, subtopology=sub.id)
                for p in node.predecessors:
                    g.add_edge(p, name)
                for t in node.topics:
                    g.add_node(f"topic:{t}", kind="topic", subtopology=-1)
                    g.add_edge(f"topic:{t}", name)
                if node.kind == SINK and node.topic is not None:
                    g.add_node(f"topic:{node.topic}", kind="topic", subtopology=-1)
                    g.add_edge(name, f"topic:{node.topic}")
                for s in node.stores:
                    g.add_node(f"store:{s}", kind="store", subtopology=sub.id)
                    g.add_edge(name, f"store:{s}")
        return g

    def __str__(self) -> str:
        texts: list[tuple[int, str]] = []
        for sub in self.subtopologies:
            size, preds, succs = self._layout(sub.nodes)
            order = sorted(sub.nodes, key=lambda n: (-size[n], n))
            lines = "".join(f"    {self._node_text(n, preds[n], succs[n])}\n" for n in order)
            texts.append((sub.id, f"  Sub-topology: {sub.id}\n{lines}\n"))
        for g in self.topology.global_groups():
            source = next(n for n in g.nodes if n in self.topology.global_sources)
            processor = next(n for n in g.nodes if n != source)
            texts.append((g.id, f"  Sub-topology: {g.id} for global store (will not generate tasks)\n"
                                f"    {self._node_text(source, [], [processor])}\n"
                                f"    {self._node_text(processor, [source], [])}\n"))
        return "Topologies:\n " + "".join(t for _i, t in sorted(texts))

    def __repr__(self) -> str:
        return str(self)

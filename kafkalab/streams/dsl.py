"""The DSL: ``StreamsBuilder``, ``KStream``, ``KGroupedStream``, ``KTable``, ``KGroupedTable`` (Kafka's
``InternalStreamsBuilder``, ``KStreamImpl``, ``KGroupedStreamImpl``, ``KTableImpl``, ``KGroupedTableImpl``).

How it works. Every operator adds its nodes to one :class:`~kafkalab.streams.topology.Topology` at once, named as
Kafka names them: a prefix and the builder's counter (``KSTREAM-FILTER-0000000001``), one counter for processor and
store names alike (``KSTREAM-AGGREGATE-STATE-STORE-0000000002``), burned in Kafka's order even where a name is not
used, so that ``topology.describe()`` reads like Kafka's for the same program. A key-changing operator (``map``,
``select_key``, ``flat_map``, ``group_by``) marks the stream *repartition required*; the next aggregation or join
then goes through ``<store or node name>-repartition`` (a filter, a sink, and a source that starts a new
sub-topology), as ``GroupedStreamAggregateBuilder`` and ``repartitionForJoin`` do.

Serdes travel with streams as Kafka's do: a source's serdes stay through ``filter``/``peek``; ``map_values``
forgets the value serde, ``map``/``select_key`` both; ``count`` produces ``long`` values. Where a serde is needed and
none is known, the app's ``default.key.serde``/``default.value.serde`` applies at run time.

Functions: predicates, mappers and key selectors take ``(key, value)``; ``map_values``/``flat_map_values`` take the
value; aggregators take ``(key, value, aggregate)``; reducers ``(aggregate, value)``; joiners ``(left, right)``.
Windowed aggregations live in :mod:`kafkalab.streams.dsl_windowed` (``grouped.windowed_by(...)``).
Stream-stream joins (``join``/``left_join``/``outer_join`` with ``JoinWindows``) follow ``KStreamImplJoin``: a
windowed node and a join node per side, a merge, two window stores retaining duplicates and, for left and outer
joins, the shared outer-join store. ``KTable.suppress`` is in :mod:`kafkalab.streams.suppress`. ``builder.global_table`` gives a
:class:`GlobalKTable` (a global store on every instance) that streams join by a selected key. The KTable
foreign-key join (``table.join(other, foreign_key_extractor, joiner)``) is :mod:`kafkalab.streams.fk_join`. Not
modelled (yet): topology optimization.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kafkalab.streams import dsl_processors as dp
from kafkalab.streams.errors import TopologyException
from kafkalab.streams.serdes import Serde, change_serde, serde
from kafkalab.streams.topology import StoreDef, Topology

__all__ = ["StreamsBuilder", "KStream", "KTable", "KGroupedStream", "KGroupedTable", "BranchedKStream",
           "GlobalKTable", "change_serde"]


class _Names:
    """The builder's one counter (``InternalStreamsBuilder.index``)."""

    def __init__(self) -> None:
        self.index = 0

    def processor(self, prefix: str) -> str:
        name = f"{prefix}{self.index:010d}"
        self.index += 1
        return name

    def store(self, prefix: str) -> str:
        name = f"{prefix}STATE-STORE-{self.index:010d}"
        self.index += 1
        return name


def _check_fn(fn: Any, what: str, args: str) -> None:
    if not callable(fn):
        raise TypeError(f"{what} must be a function of {args}, got {type(fn).__name__} {fn!r}")


def _opt(spec: Any, what: str) -> Serde | None:
    return None if spec is None else serde(spec, what)


class StreamsBuilder:
    """Build a topology with the DSL; :meth:`build` returns it (Kafka's ``StreamsBuilder``)."""

    def __init__(self) -> None:
        self.topology = Topology()
        self.names = _Names()
        self._built = False

    def stream(self, topics: str | Sequence[str], *, key_serde: Any = None, value_serde: Any = None) -> KStream:
        """A stream of the records of ``topics`` (a name or a list)."""
        names = [topics] if isinstance(topics, str) else list(topics)
        if not names or not all(isinstance(t, str) and t for t in names):
            raise TypeError(f"topics must be a topic name or a list of topic names, got {topics!r}")
        name = self.names.processor("KSTREAM-SOURCE-")
        ks, vs = _opt(key_serde, "key_serde"), _opt(value_serde, "value_serde")
        self.topology.add_source(name, *names, key_serde=ks, value_serde=vs)
        return KStream(self, name, ks, vs, False)

    def table(self, topic: str, *, key_serde: Any = None, value_serde: Any = None,
              materialized: str | None = None) -> KTable:
        """A table of the latest value per key of ``topic`` (``materialized``: a queryable store name)."""
        if not isinstance(topic, str) or not topic:
            raise TypeError(f"topic must be a topic name, got {topic!r}")
        store = materialized if materialized is not None else self.names.store(f"{topic}-")
        source = self.names.processor("KSTREAM-SOURCE-")
        name = self.names.processor("KTABLE-SOURCE-")
        ks, vs = _opt(key_serde, "key_serde"), _opt(value_serde, "value_serde")
        self.topology.add_source(source, topic, key_serde=ks, value_serde=vs)
        table = KTable(self, name, ks, vs, store_name=store, source_nodes=(source,))
        self.topology.add_processor(name, lambda: dp.TableSource(table._materialized_store(), table._send_old),
                                    source)
        if materialized is not None:
            table._materialize()
        return table

    def global_table(self, topic: str, *, key_serde: Any = None, value_serde: Any = None,
                     materialized: str | None = None) -> GlobalKTable:
        """A table of ``topic`` replicated in full on every instance (Kafka's ``globalTable``): its store is
        filled from every partition of the topic before the app processes, and any stream may join it without
        co-partitioning, by a key it computes from each record."""
        if not isinstance(topic, str) or not topic:
            raise TypeError(f"topic must be a topic name, got {topic!r}")
        store = materialized if materialized is not None else self.names.store(f"{topic}-")
        source = self.names.processor("KSTREAM-SOURCE-")
        name = self.names.processor("KTABLE-SOURCE-")
        ks, vs = _opt(key_serde, "key_serde"), _opt(value_serde, "value_serde")
        self.topology.add_global_store(StoreDef(store, ks, vs), source, topic, name,
                                       lambda: dp.TableSource(store, lambda: False), key_serde=ks, value_serde=vs)
        return GlobalKTable(store, topic, ks, vs)

    def add_state_store(self, name: str, *, key_serde: Any = None, value_serde: Any = None, logged: bool = True,
                        cached: bool = False) -> StreamsBuilder:
        """A key-value store for ``process()`` processors to use by name."""
        self.topology.add_state_store(name, key_serde=key_serde, value_serde=value_serde, logged=logged,
                                      cached=cached)
        return self

    def build(self) -> Topology:
        """The topology built so far."""
        self._built = True
        return self.topology


class GlobalKTable:
    """A table every instance holds in full (Kafka's ``GlobalKTable``); join a stream to it with
    ``stream.join(global_table, joiner, key_selector=...)``."""

    def __init__(self, store_name: str, topic: str, key_serde: Serde | None, value_serde: Serde | None) -> None:
        self.store_name, self.topic, self.key_serde, self.value_serde = store_name, topic, key_serde, value_serde

    def __repr__(self) -> str:
        return f"GlobalKTable({self.topic!r}, store={self.store_name!r})"


class KStream:
    """A record stream (Kafka's ``KStream``)."""

    def __init__(self, builder: StreamsBuilder, name: str, key_serde: Serde | None, value_serde: Serde | None,
                 repartition_required: bool) -> None:
        self.builder = builder
        self.name = name
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.repartition_required = repartition_required

    def _add(self, prefix: str, supplier: Callable[[], Any], *, key_serde: Serde | None, value_serde: Serde | None,
             repartition: bool | None = None, name: str | None = None) -> KStream:
        node = name if name is not None else self.builder.names.processor(prefix)
        self.builder.topology.add_processor(node, supplier, self.name)
        return KStream(self.builder, node, key_serde, value_serde,
                       self.repartition_required if repartition is None else repartition)

    # -- stateless ------------------------------------------------------------------------------------------------
    def filter(self, predicate: Callable[[Any, Any], Any]) -> KStream:
        """Keep records for which ``predicate(key, value)`` holds."""
        _check_fn(predicate, "predicate", "(key, value)")
        return self._add("KSTREAM-FILTER-", lambda: dp.Filter(predicate), key_serde=self.key_serde,
                         value_serde=self.value_serde)

    def filter_not(self, predicate: Callable[[Any, Any], Any]) -> KStream:
        """Drop records for which ``predicate(key, value)`` holds."""
        _check_fn(predicate, "predicate", "(key, value)")
        return self._add("KSTREAM-FILTER-", lambda: dp.Filter(predicate, negate=True), key_serde=self.key_serde,
                         value_serde=self.value_serde)

    def map(self, mapper: Callable[[Any, Any], tuple[Any, Any]]) -> KStream:
        """``mapper(key, value) -> (key, value)``; the stream needs repartitioning before grouping or joining."""
        _check_fn(mapper, "mapper", "(key, value) returning a (key, value) pair")
        return self._add("KSTREAM-MAP-", lambda: dp.MapKV(mapper), key_serde=None, value_serde=None,
                         repartition=True)

    def map_values(self, mapper: Callable[[Any], Any]) -> KStream:
        """``mapper(value) -> value``; keys (and partitioning) stay."""
        _check_fn(mapper, "mapper", "(value)")
        return self._add("KSTREAM-MAPVALUES-", lambda: dp.MapValues(mapper), key_serde=self.key_serde,
                         value_serde=None)

    def flat_map(self, mapper: Callable[[Any, Any], Any]) -> KStream:
        """``mapper(key, value) -> iterable of (key, value)``."""
        _check_fn(mapper, "mapper", "(key, value) returning (key, value) pairs")
        return self._add("KSTREAM-FLATMAP-", lambda: dp.FlatMap(mapper), key_serde=None, value_serde=None,
                         repartition=True)

    def flat_map_values(self, mapper: Callable[[Any], Any]) -> KStream:
        """``mapper(value) -> iterable of values``, each with the record's key."""
        _check_fn(mapper, "mapper", "(value) returning values")
        return self._add("KSTREAM-FLATMAPVALUES-", lambda: dp.FlatMapValues(mapper), key_serde=self.key_serde,
                         value_serde=None)

    def select_key(self, selector: Callable[[Any, Any], Any]) -> KStream:
        """A new key ``selector(key, value)``."""
        _check_fn(selector, "selector", "(key, value)")
        return self._add("KSTREAM-KEY-SELECT-", lambda: dp.SelectKey(selector), key_serde=None,
                         value_serde=self.value_serde, repartition=True)

    def peek(self, action: Callable[[Any, Any], Any]) -> KStream:
        """Call ``action(key, value)`` and pass the record on."""
        _check_fn(action, "action", "(key, value)")
        return self._add("KSTREAM-PEEK-", lambda: dp.Peek(action), key_serde=self.key_serde,
                         value_serde=self.value_serde)

    def foreach(self, action: Callable[[Any, Any], Any]) -> None:
        """Call ``action(key, value)`` for each record (a terminal operation)."""
        _check_fn(action, "action", "(key, value)")
        self._add("KSTREAM-FOREACH-", lambda: dp.Peek(action, forward=False), key_serde=None, value_serde=None)

    def merge(self, other: KStream) -> KStream:
        """The records of both streams."""
        if not isinstance(other, KStream):
            raise TypeError(f"merge() takes a KStream, got {type(other).__name__}")
        node = self.builder.names.processor("KSTREAM-MERGE-")
        self.builder.topology.add_processor(node, dp.PassThrough, self.name, other.name)
        same_k = self.key_serde if self.key_serde == other.key_serde else None
        same_v = self.value_serde if self.value_serde == other.value_serde else None
        return KStream(self.builder, node, same_k, same_v, self.repartition_required or other.repartition_required)

    def split(self, name: str | None = None) -> BranchedKStream:
        """Branches by predicate: ``.branch(pred, name=...)``... then ``.default_branch()`` or
        ``.no_default_branch()``, a dict of branch name -> KStream."""
        splitter = self.builder.names.processor("KSTREAM-BRANCH-") if name is None else name
        if name is not None:
            self.builder.names.processor("KSTREAM-BRANCH-")
        return BranchedKStream(self, splitter)

    def process(self, supplier: Callable[[], Any], *stores: str, name: str | None = None) -> KStream:
        """A Processor API processor (``supplier()`` makes one per task) with access to ``stores``."""
        _check_fn(supplier, "supplier", "() returning a Processor (a Processor subclass works)")
        node = self.builder.names.processor("KSTREAM-PROCESSOR-")
        node = node if name is None else name
        self.builder.topology.add_processor(node, supplier, self.name)
        for s in stores:
            if s not in self.builder.topology.stores:
                known = ", ".join(sorted(self.builder.topology.stores)) or "none"
                raise TopologyException(f"StateStore {s} is not added yet (stores: {known}); add it with "
                                        f"builder.add_state_store({s!r})")
            self.builder.topology.connect_processor_and_state_stores(node, s)
        return KStream(self.builder, node, None, None, True)

    # -- sinks --------------------------------------------------------------------------------------------------------
    def to(self, topic: str | Callable[[Any, Any, Any], str], *, key_serde: Any = None, value_serde: Any = None,
           partitioner: Callable[[Any, Any, int], int] | None = None) -> None:
        """Write to ``topic``, or to the topic ``topic(key, value, record_context)`` names per record."""
        name = self.builder.names.processor("KSTREAM-SINK-")
        ks = _opt(key_serde, "key_serde") or self.key_serde
        vs = _opt(value_serde, "value_serde") or self.value_serde
        self.builder.topology.add_sink(name, topic, self.name, key_serde=ks, value_serde=vs, partitioner=partitioner)

    def repartition(self, *, name: str | None = None, num_partitions: int | None = None, key_serde: Any = None,
                    value_serde: Any = None) -> KStream:
        """Through ``<application.id>-<name>-repartition`` (default name ``KSTREAM-REPARTITION-<n>``)."""
        if num_partitions is not None and (isinstance(num_partitions, bool) or not isinstance(num_partitions, int)
                                           or num_partitions < 1):
            raise ValueError(f"num_partitions must be an int >= 1 or None, got {num_partitions!r}")
        prefix = name if name is not None else self.builder.names.processor("KSTREAM-REPARTITION-")
        ks = _opt(key_serde, "key_serde") or self.key_serde
        vs = _opt(value_serde, "value_serde") or self.value_serde
        source = _repartition(self.builder, self.name, prefix, ks, vs, num_partitions)
        return KStream(self.builder, source, ks, vs, False)

    # -- grouping and joins ---------------------------------------------------------------------------------------
    def group_by_key(self, *, key_serde: Any = None, value_serde: Any = None) -> KGroupedStream:
        """Group by the current key (repartitioned first if a key-changing operator came before)."""
        return KGroupedStream(self, _opt(key_serde, "key_serde") or self.key_serde,
                              _opt(value_serde, "value_serde") or self.value_serde, self.repartition_required)

    def group_by(self, selector: Callable[[Any, Any], Any], *, key_serde: Any = None,
                 value_serde: Any = None) -> KGroupedStream:
        """Group by ``selector(key, value)`` (a select_key, then a repartition at the aggregation)."""
        _check_fn(selector, "selector", "(key, value)")
        keyed = self.select_key(selector)
        return KGroupedStream(keyed, _opt(key_serde, "key_serde"), _opt(value_serde, "value_serde") or
                              self.value_serde, True)

    def join(self, other: KTable | KStream | GlobalKTable, joiner: Callable[[Any, Any], Any], windows: Any = None,
             *, key_serde: Any = None, value_serde: Any = None, other_value_serde: Any = None,
             key_selector: Callable[[Any, Any], Any] | None = None) -> KStream:
        """With a KTable: each record joined with the table's current value of its key (records without one are
        dropped). With a KStream and ``windows`` (:class:`~kafkalab.streams.windows.JoinWindows`): each pair of
        records of the same key within the windows, ``joiner(this, other)``. With a :class:`GlobalKTable`: each
        record joined with the global table's value of ``key_selector(key, value)``."""
        if isinstance(other, GlobalKTable):
            self._no_windows(windows)
            return self._global_join(other, joiner, key_selector, left=False)
        if isinstance(other, KStream):
            return self._stream_join(other, joiner, windows, False, False, key_serde, value_serde,
                                     other_value_serde)
        self._no_windows(windows)
        return self._table_join(other, joiner, left=False)

    def left_join(self, other: KTable | KStream | GlobalKTable, joiner: Callable[[Any, Any], Any],
                  windows: Any = None, *, key_serde: Any = None, value_serde: Any = None,
                  other_value_serde: Any = None, key_selector: Callable[[Any, Any], Any] | None = None) -> KStream:
        """Like :meth:`join`, and records without a match are joined with None (for a stream-stream join: once
        their window has closed)."""
        if isinstance(other, GlobalKTable):
            self._no_windows(windows)
            return self._global_join(other, joiner, key_selector, left=True)
        if isinstance(other, KStream):
            return self._stream_join(other, joiner, windows, True, False, key_serde, value_serde, other_value_serde)
        self._no_windows(windows)
        return self._table_join(other, joiner, left=True)

    def outer_join(self, other: KStream, joiner: Callable[[Any, Any], Any], windows: Any, *, key_serde: Any = None,
                   value_serde: Any = None, other_value_serde: Any = None) -> KStream:
        """A windowed stream-stream join where records of either side without a match are joined with None once
        their window has closed."""
        if not isinstance(other, KStream):
            raise TypeError(f"outer_join() of a KStream takes another KStream, got {type(other).__name__}")
        return self._stream_join(other, joiner, windows, True, True, key_serde, value_serde, other_value_serde)

    def _global_join(self, table: GlobalKTable, joiner: Callable[[Any, Any], Any],
                     key_selector: Callable[[Any, Any], Any] | None, left: bool) -> KStream:
        _check_fn(joiner, "joiner", "(stream_value, table_value)")
        if key_selector is None:
            raise TypeError("a join with a GlobalKTable needs key_selector=, a function of (key, value) giving the "
                            "global table's key to look up")
        _check_fn(key_selector, "key_selector", "(key, value)")
        name = self.builder.names.processor("KSTREAM-LEFTJOIN-" if left else "KSTREAM-JOIN-")
        store = table.store_name
        self.builder.topology.add_processor(name, lambda: dp.GlobalTableJoin(store, key_selector, joiner, left),
                                            self.name)
        return KStream(self.builder, name, self.key_serde, None, self.repartition_required)

    @staticmethod
    def _no_windows(windows: Any) -> None:
        if windows is not None:
            raise TypeError("a stream-table join takes no windows (JoinWindows are for joining two KStreams)")

    def _stream_join(self, other: KStream, joiner: Callable[[Any, Any], Any], windows: Any, left_outer: bool,
                     right_outer: bool, key_serde: Any, value_serde: Any, other_value_serde: Any) -> KStream:
        from kafkalab.streams import join_processors as jp
        from kafkalab.streams.windows import JoinWindows
        if not isinstance(windows, JoinWindows):
            raise TypeError(f"a stream-stream join needs JoinWindows, e.g. join(other, joiner, "
                            f"ks.JoinWindows.of_time_difference_and_grace(5000, 1000)), got "
                            f"{type(windows).__name__} {windows!r}")
        _check_fn(joiner, "joiner", "(this_value, other_value)")
        b = self.builder
        this: KStream = self.repartition(name=f"{self.name}-left") if self.repartition_required else self
        that: KStream = other.repartition(name=f"{other.name}-right") if other.repartition_required else other
        ks = _opt(key_serde, "key_serde") or this.key_serde or that.key_serde
        vs = _opt(value_serde, "value_serde") or this.value_serde
        ovs = _opt(other_value_serde, "other_value_serde") or that.value_serde
        names = b.names
        this_windowed = names.processor("KSTREAM-WINDOWED-")
        other_windowed = names.processor("KSTREAM-WINDOWED-")
        join_this = names.processor("KSTREAM-OUTERTHIS-" if right_outer else "KSTREAM-JOINTHIS-")
        join_other = names.processor("KSTREAM-OUTEROTHER-" if left_outer else "KSTREAM-JOINOTHER-")
        merge = names.processor("KSTREAM-MERGE-")
        this_store, other_store = f"{join_this}-store", f"{join_other}-store"
        index = join_this[len("KSTREAM-OUTERTHIS-" if right_outer else "KSTREAM-JOINTHIS-"):]
        outer_store = f"KSTREAM-OUTERSHARED-{index}-store" if left_outer else None
        retention = windows.size() + windows.grace_ms
        topo = b.topology
        topo.add_processor(this_windowed, lambda: jp.JoinWindowNode(this_store), this.name)
        topo.add_processor(other_windowed, lambda: jp.JoinWindowNode(other_store), that.name)
        topo.add_processor(join_this, lambda: jp.StreamStreamJoin(
            other_store, windows, joiner, left_side=True, outer=left_outer, outer_store=outer_store,
            tracker_key=merge), this_windowed)
        topo.add_processor(join_other, lambda: jp.StreamStreamJoin(
            this_store, windows, joiner, left_side=False, outer=right_outer, outer_store=outer_store,
            tracker_key=merge), other_windowed)
        topo.add_processor(merge, dp.PassThrough, join_this, join_other)
        for store, vserde, users in ((this_store, vs, (this_windowed, join_other)),
                                     (other_store, ovs, (other_windowed, join_this))):
            topo.add_state_store(StoreDef(store, ks, vserde, cached=False, kind="window", timestamped=False,
                                          window_size_ms=windows.size(), retention_ms=retention,
                                          retain_duplicates=True), *users)
        if outer_store is not None:
            topo.add_state_store(StoreDef(outer_store, ks, vs, cached=False, kind="outer-join",
                                          other_value_serde=ovs), join_this, join_other)
        topo.copartition_groups.append((this.name, that.name))
        return KStream(b, merge, ks, None, False)

    def _table_join(self, table: Any, joiner: Callable[[Any, Any], Any], left: bool) -> KStream:
        if not isinstance(table, KTable):
            raise TypeError(f"join() takes a KTable, or a KStream with JoinWindows, got {type(table).__name__}")
        _check_fn(joiner, "joiner", "(stream_value, table_value)")
        stream: KStream = self
        if self.repartition_required:
            stream = self.repartition(name=f"{self.name}")       # Kafka's repartitionForJoin: "<node>-repartition"
        name = self.builder.names.processor("KSTREAM-LEFTJOIN-" if left else "KSTREAM-JOIN-")
        getter, stores = table._value_getter()
        self.builder.topology.add_processor(name, lambda: dp.StreamTableJoin(getter, joiner, left), stream.name)
        for s in stores:
            self.builder.topology.connect_processor_and_state_stores(name, s)
        self.builder.topology.copartition_groups.append((stream.name, *table.source_nodes))
        return KStream(self.builder, name, stream.key_serde, None, False)

    def to_table(self, *, materialized: str | None = None) -> KTable:
        """This stream read as a changelog: the latest value per key."""
        name = self.builder.names.processor("KSTREAM-TOTABLE-")
        store = materialized if materialized is not None else self.builder.names.store("KSTREAM-TOTABLE-")
        stream = self.repartition(name=self.name) if self.repartition_required else self
        table = KTable(self.builder, name, stream.key_serde, stream.value_serde, store_name=store,
                       source_nodes=(stream.name,))
        self.builder.topology.add_processor(name, lambda: dp.TableSource(table._materialized_store(),
                                                                         table._send_old), stream.name)
        if materialized is not None:
            table._materialize()
        return table

    def __repr__(self) -> str:
        return f"KStream({self.name})"


def _repartition(builder: StreamsBuilder, parent: str, prefix: str, key_serde: Serde | None,
                 value_serde: Serde | None, partitions: int | None, with_filter: bool = True) -> str:
    """``createRepartitionedSource``: burn sink, filter, source names; generated names when the prefix is one."""
    import re

    topic = prefix if prefix.endswith("-repartition") else f"{prefix}-repartition"
    gen_sink = builder.names.processor("KSTREAM-SINK-")
    gen_filter = builder.names.processor("KSTREAM-FILTER-") if with_filter else None
    gen_source = builder.names.processor("KSTREAM-SOURCE-")
    if re.fullmatch(r"KSTREAM.*-[0-9]{10}", prefix):
        sink, filt, source = gen_sink, gen_filter, gen_source
    else:
        sink, filt, source = f"{topic}-sink", f"{topic}-filter" if with_filter else None, f"{topic}-source"
    topo = builder.topology
    if topic in topo.internal_repartition:
        raise TopologyException(f"Following topics have already been registered: [{topic}]; name repartition "
                                f"topics uniquely")
    topo.internal_repartition[topic] = partitions
    last = parent
    if filt is not None:
        topo.add_processor(filt, lambda: dp.Filter(lambda k, v: True), parent)
        last = filt
    topo.add_sink(sink, topic, last, key_serde=key_serde, value_serde=value_serde)
    topo.add_source(source, topic, key_serde=key_serde, value_serde=value_serde)
    return source


class BranchedKStream:
    """The result of ``split()``: add branches, then ``default_branch()`` or ``no_default_branch()``."""

    def __init__(self, stream: KStream, splitter: str) -> None:
        self.stream = stream
        self.splitter = splitter
        self.predicates: list[Callable[[Any, Any], Any] | None] = []
        self.children: list[str] = []
        self.branches: dict[str, KStream] = {}
        preds, kids = self.predicates, self.children
        stream.builder.topology.add_processor(splitter, lambda: dp.Branch(preds, kids), stream.name)

    def _branch(self, predicate: Callable[[Any, Any], Any] | None, index: int, name: str | None) -> None:
        child = f"{self.splitter}{index if name is None else name}"
        self.predicates.append(predicate)
        self.children.append(child)
        self.stream.builder.names.processor(child)       # Kafka burns an index here too
        self.stream.builder.topology.add_processor(child, dp.PassThrough, self.splitter)
        s = self.stream
        self.branches[child] = KStream(s.builder, child, s.key_serde, s.value_serde, s.repartition_required)

    def branch(self, predicate: Callable[[Any, Any], Any], *, name: str | None = None) -> BranchedKStream:
        """A branch for records where ``predicate(key, value)`` holds (and no earlier branch's did)."""
        _check_fn(predicate, "predicate", "(key, value)")
        self._branch(predicate, len(self.predicates) + 1, name)
        return self

    def default_branch(self, *, name: str | None = None) -> dict[str, KStream]:
        """The rest; returns every branch by name (``<splitter><index or name>``)."""
        self._branch(None, 0, name)
        return dict(self.branches)

    def no_default_branch(self) -> dict[str, KStream]:
        return dict(self.branches)


class KGroupedStream:
    """A stream grouped by key, ready to aggregate (Kafka's ``KGroupedStream``)."""

    def __init__(self, stream: KStream, key_serde: Serde | None, value_serde: Serde | None,
                 repartition_required: bool) -> None:
        self.stream, self.key_serde, self.value_serde = stream, key_serde, value_serde
        self.repartition_required = repartition_required

    def _aggregate(self, prefix: str, initializer: Callable[[], Any] | None,
                   aggregator: Callable[[Any, Any, Any], Any], value_serde: Serde | None,
                   materialized: str | None) -> KTable:
        b = self.stream.builder
        store = materialized if materialized is not None else b.names.store(prefix)
        name = b.names.processor(prefix)
        parent = self.stream.name
        source_nodes: tuple[str, ...] = (parent,)
        if self.repartition_required:
            parent = _repartition(b, parent, store, self.key_serde, self.value_serde, None)
            source_nodes = (parent,)
        table = KTable(b, name, self.key_serde, value_serde, store_name=store, source_nodes=source_nodes)
        b.topology.add_processor(name, lambda: dp.StreamAggregate(store, initializer, aggregator, table._send_old),
                                 parent)
        b.topology.add_state_store(StoreDef(store, self.key_serde, value_serde), name)
        table._materialized = True
        return table

    def windowed_by(self, windows: Any) -> Any:
        """Aggregate per key *and window*: ``TimeWindows`` or ``SlidingWindows`` give a
        :class:`~kafkalab.streams.dsl_windowed.TimeWindowedKStream`, ``SessionWindows`` a
        :class:`~kafkalab.streams.dsl_windowed.SessionWindowedKStream`."""
        from kafkalab.streams.dsl_windowed import SessionWindowedKStream, TimeWindowedKStream
        from kafkalab.streams.windows import SessionWindows, SlidingWindows, TimeWindows
        if isinstance(windows, TimeWindows | SlidingWindows):
            return TimeWindowedKStream(self, windows)
        if isinstance(windows, SessionWindows):
            return SessionWindowedKStream(self, windows)
        raise TypeError(f"windowed_by() takes TimeWindows, SlidingWindows or SessionWindows, got "
                        f"{type(windows).__name__} {windows!r}")

    def count(self, *, materialized: str | None = None) -> KTable:
        """Records per key, as a table of ``long`` counts."""
        return self._aggregate("KSTREAM-AGGREGATE-", lambda: 0, lambda k, v, agg: agg + 1, serde("long"),
                               materialized)

    def reduce(self, reducer: Callable[[Any, Any], Any], *, materialized: str | None = None) -> KTable:
        """``reducer(aggregate, value)``; the first value of a key is its aggregate."""
        _check_fn(reducer, "reducer", "(aggregate, value)")
        return self._aggregate("KSTREAM-REDUCE-", None, lambda k, v, agg: reducer(agg, v), self.value_serde,
                               materialized)

    def aggregate(self, initializer: Callable[[], Any], aggregator: Callable[[Any, Any, Any], Any], *,
                  value_serde: Any = None, materialized: str | None = None) -> KTable:
        """``aggregator(key, value, aggregate)`` starting from ``initializer()``."""
        _check_fn(initializer, "initializer", "()")
        _check_fn(aggregator, "aggregator", "(key, value, aggregate)")
        return self._aggregate("KSTREAM-AGGREGATE-", initializer, aggregator, _opt(value_serde, "value_serde"),
                               materialized)


class KTable:
    """A changelog stream read as a table (Kafka's ``KTable``)."""

    def __init__(self, builder: StreamsBuilder, name: str, key_serde: Serde | None, value_serde: Serde | None, *,
                 store_name: str | None = None, source_nodes: tuple[str, ...] = (), parent: KTable | None = None,
                 transform: Callable[[Callable[[Any], Any]], Callable[[Any], Any]] | None = None,
                 getter: tuple[dp.ValueGetter, tuple[str, ...]] | None = None) -> None:
        self.builder = builder
        self.name = name
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.store_name = store_name
        self.source_nodes = source_nodes
        self._materialized = False
        self._parent = parent
        self._transform = transform
        self._getter = getter
        self.send_old_values = False
        self._windowed = False          # keys are Windowed (a windowed aggregation's result)
        self._grace_ms: int | None = None   # a windowed aggregation's grace (suppress until the window closes)

    def _send_old(self) -> bool:
        return self.send_old_values

    def _enable_send_old(self) -> None:
        """Downstream needs old values (Kafka's ``enableSendingOldValues``): a derived table asks its parent; a
        source table materializes its store, which knows the old value."""
        self.send_old_values = True
        if self._parent is not None:
            self._parent._enable_send_old()
        elif self.store_name is not None:
            self._materialize()

    def _materialized_store(self) -> str | None:
        return self.store_name if self._materialized else None

    def _materialize(self) -> None:
        """A source or to_table table gets its store now (a join or a query needs it)."""
        if self._materialized:
            return
        assert self.store_name is not None
        self.builder.topology.add_state_store(StoreDef(self.store_name, self.key_serde, self.value_serde),
                                              self.name)
        self._materialized = True

    def _value_getter(self) -> tuple[dp.ValueGetter, tuple[str, ...]]:
        if self.store_name is not None:
            self._materialize()
            return dp.StoreGetter(self.store_name), (self.store_name,)
        if self._getter is not None:
            return self._getter
        assert self._parent is not None and self._transform is not None
        parent_getter, stores = self._parent._value_getter()
        transform = self._transform

        def make(ctx: Any) -> Callable[[Any], Any]:
            return transform(parent_getter(ctx))
        return make, stores

    def _derive(self, prefix: str, supplier: Callable[[KTable], Any], value_serde: Serde | None,
                transform: Callable[[Callable[[Any], Any]], Callable[[Any], Any]]) -> KTable:
        b = self.builder
        name = b.names.processor(prefix)
        table = KTable(b, name, self.key_serde, value_serde, source_nodes=self.source_nodes, parent=self,
                       transform=transform)
        b.topology.add_processor(name, lambda: supplier(table), self.name)
        return table

    def filter(self, predicate: Callable[[Any, Any], Any]) -> KTable:
        """Keys whose value passes ``predicate(key, value)``; a value that stops passing becomes a deletion."""
        return self._filter(predicate, False)

    def filter_not(self, predicate: Callable[[Any, Any], Any]) -> KTable:
        """Keys whose value fails ``predicate(key, value)``."""
        return self._filter(predicate, True)

    def _filter(self, predicate: Callable[[Any, Any], Any], negate: bool) -> KTable:
        _check_fn(predicate, "predicate", "(key, value)")

        def transform(get: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def f(k: Any) -> Any:
                v = get(k)
                return v if v is not None and bool(predicate(k, v)) != negate else None
            return f
        return self._derive("KTABLE-FILTER-", lambda t: dp.TableFilter(predicate, negate, t._send_old),
                            self.value_serde, transform)

    def map_values(self, mapper: Callable[[Any], Any]) -> KTable:
        """Each value mapped by ``mapper(value)``."""
        _check_fn(mapper, "mapper", "(value)")

        def transform(get: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def f(k: Any) -> Any:
                v = get(k)
                return None if v is None else mapper(v)
            return f
        return self._derive("KTABLE-MAPVALUES-", lambda t: dp.TableMapValues(mapper, t._send_old), None, transform)

    def _window_grace(self) -> int | None:
        table: KTable | None = self
        while table is not None:
            if table._grace_ms is not None:
                return table._grace_ms
            table = table._parent
        return None

    def suppress(self, suppressed: Any) -> KTable:
        """Hold updates back (:class:`~kafkalab.streams.suppress.Suppressed`): only each window's final result
        (``until_window_closes``), or each key's latest update after a time limit (``until_time_limit``)."""
        from kafkalab.streams.suppress import Suppressed, SuppressProcessor
        if not isinstance(suppressed, Suppressed):
            raise TypeError(f"suppress() takes a Suppressed (Suppressed.until_window_closes(...) or "
                            f"Suppressed.until_time_limit(...)), got {type(suppressed).__name__}")
        b = self.builder
        name = suppressed.name if suppressed.name is not None else b.names.processor("KTABLE-SUPPRESS-")
        store = f"{suppressed.name}-store" if suppressed.name is not None else b.names.store("KTABLE-SUPPRESS-")
        grace = self._window_grace()
        if suppressed.final_results and grace is None:
            raise ValueError(f"Window close time is only defined for windowed computations. Got [{self.name}].")
        self._enable_send_old()
        b.topology.add_processor(name, lambda: SuppressProcessor(store, suppressed, grace or 0), self.name)
        b.topology.add_state_store(StoreDef(store, self.key_serde, self.value_serde, cached=False, kind="suppress"),
                                   name)

        def identity(get: Callable[[Any], Any]) -> Callable[[Any], Any]:
            return get
        table = KTable(b, name, self.key_serde, self.value_serde, source_nodes=self.source_nodes, parent=self,
                       transform=identity)
        table._windowed = self._windowed
        return table

    def to_stream(self) -> KStream:
        """Every update of the table as a record (a deletion is a record with value None)."""
        name = self.builder.names.processor("KTABLE-TOSTREAM-")
        self.builder.topology.add_processor(name, dp.TableToStream, self.name)
        return KStream(self.builder, name, self.key_serde, self.value_serde, False)

    def group_by(self, selector: Callable[[Any, Any], tuple[Any, Any]], *, key_serde: Any = None,
                 value_serde: Any = None) -> KGroupedTable:
        """Re-key each row by ``selector(key, value) -> (new_key, new_value)``; aggregations subtract the old row
        and add the new one."""
        _check_fn(selector, "selector", "(key, value) returning a (key, value) pair")
        self._enable_send_old()
        name = self.builder.names.processor("KTABLE-SELECT-")
        self.builder.topology.add_processor(name, lambda: dp.TableRepartitionMap(selector), self.name)
        return KGroupedTable(self.builder, name, _opt(key_serde, "key_serde"), _opt(value_serde, "value_serde"))

    def join(self, other: KTable, *functions: Callable[..., Any], foreign_key_extractor: Any = None,
             joiner: Any = None, name: str | None = None, materialized: str | None = None) -> KTable:
        """``join(other, joiner)``: keys present in both tables, valued ``joiner(this, other)`` (the tables must be
        co-partitioned). ``join(other, foreign_key_extractor, joiner)``: the foreign-key join (KIP-213, see
        :mod:`kafkalab.streams.fk_join`): each row of this table joined with the row of ``other`` whose key is
        ``foreign_key_extractor(value)`` (or ``(key, value)``); rows without a match are left out. ``name``
        prefixes the join's node and topic names, ``materialized`` names its result store."""
        return self._join_dispatch("join", other, functions, foreign_key_extractor, joiner, name, materialized)

    def left_join(self, other: KTable, *functions: Callable[..., Any], foreign_key_extractor: Any = None,
                  joiner: Any = None, name: str | None = None, materialized: str | None = None) -> KTable:
        """Every key of this table, ``joiner(this, other or None)``; with a ``foreign_key_extractor``, the left
        foreign-key join (a row without a match, or with a null foreign key, is joined with None)."""
        return self._join_dispatch("left_join", other, functions, foreign_key_extractor, joiner, name, materialized)

    def _join_dispatch(self, op: str, other: Any, functions: tuple[Any, ...], extractor: Any, joiner: Any,
                       name: str | None, materialized: str | None) -> KTable:
        usage = f"{op}(other, joiner) or {op}(other, foreign_key_extractor, joiner)"
        if len(functions) > 2 or (len(functions) == 2 and (extractor is not None or joiner is not None)) or \
                (len(functions) == 1 and extractor is not None and joiner is not None):
            raise TypeError(f"{op}() takes {usage}, got {len(functions)} positional functions"
                            + (" and keyword functions" if extractor is not None or joiner is not None else ""))
        if len(functions) == 2:
            extractor, joiner = functions
        elif len(functions) == 1:
            if joiner is None:
                joiner = functions[0]
            else:
                extractor = functions[0]
        if joiner is None:
            raise TypeError(f"{op}() needs a joiner: {usage}")
        left = op == "left_join"
        if extractor is not None:
            from kafkalab.streams.fk_join import foreign_key_join
            return foreign_key_join(self, other, extractor, joiner, left_join=left, name=name,
                                    materialized=materialized)
        if name is not None or materialized is not None:
            raise TypeError(f"{op}(): name= and materialized= are modelled for the foreign-key join only "
                            f"({op}(other, foreign_key_extractor, joiner, ...))")
        return self._join(other, joiner, True, not left)

    def outer_join(self, other: KTable, joiner: Callable[[Any, Any], Any]) -> KTable:
        """Keys of either table, ``joiner(this or None, other or None)``."""
        return self._join(other, joiner, False, False)

    def _join(self, other: KTable, joiner: Callable[[Any, Any], Any], this_required: bool,
              other_required: bool) -> KTable:
        if not isinstance(other, KTable):
            raise TypeError(f"a KTable joins another KTable here, got {type(other).__name__}")
        _check_fn(joiner, "joiner", "(this_value, other_value)")
        b = self.builder
        merge = b.names.processor("KTABLE-MERGE-")
        if not this_required:
            self._enable_send_old()
        if not other_required:
            other._enable_send_old()
        this_name = b.names.processor("KTABLE-JOINTHIS-")
        other_name = b.names.processor("KTABLE-JOINOTHER-")
        this_getter, this_stores = self._value_getter()
        other_getter, other_stores = other._value_getter()

        def reverse(a: Any, c: Any) -> Any:
            return joiner(c, a)
        result_holder: list[KTable] = []
        b.topology.add_processor(this_name, lambda: dp.TableTableJoin(
            other_getter, joiner, this_required, other_required, result_holder[0]._send_old), self.name)
        b.topology.add_processor(other_name, lambda: dp.TableTableJoin(
            this_getter, reverse, other_required, this_required, result_holder[0]._send_old), other.name)
        for s in other_stores:
            b.topology.connect_processor_and_state_stores(this_name, s)
        for s in this_stores:
            b.topology.connect_processor_and_state_stores(other_name, s)
        b.topology.add_processor(merge, dp.PassThrough, this_name, other_name)
        b.topology.copartition_groups.append((*self.source_nodes, *other.source_nodes))

        def joined(ctx: Any) -> Callable[[Any], Any]:
            g1, g2 = this_getter(ctx), other_getter(ctx)

            def f(k: Any) -> Any:
                a, c = g1(k), g2(k)
                if (a is None and this_required) or (c is None and other_required) or (a is None and c is None):
                    return None
                return joiner(a, c)
            return f
        result = KTable(b, merge, self.key_serde, None, source_nodes=(*self.source_nodes, *other.source_nodes),
                        getter=(joined, (*this_stores, *other_stores)))
        result_holder.append(result)
        return result

    def __repr__(self) -> str:
        return f"KTable({self.name})"


class KGroupedTable:
    """A table re-grouped by a new key, ready to aggregate with subtraction (Kafka's ``KGroupedTable``)."""

    def __init__(self, builder: StreamsBuilder, name: str, key_serde: Serde | None, value_serde: Serde | None
                 ) -> None:
        self.builder, self.name, self.key_serde, self.value_serde = builder, name, key_serde, value_serde

    def _aggregate(self, prefix: str, initializer: Callable[[], Any], adder: Callable[[Any, Any, Any], Any],
                   subtractor: Callable[[Any, Any, Any], Any], value_serde: Serde | None,
                   materialized: str | None) -> KTable:
        b = self.builder
        store = materialized if materialized is not None else b.names.store(prefix)
        sink = b.names.processor("KSTREAM-SINK-")
        source = b.names.processor("KSTREAM-SOURCE-")
        name = b.names.processor(prefix)
        topic = f"{store}-repartition"
        topo = b.topology
        topo.internal_repartition[topic] = None
        topo.add_sink(sink, topic, self.name, key_serde=self.key_serde, value_serde=self.value_serde)
        topo.add_source(source, topic, key_serde=self.key_serde, value_serde=self.value_serde)
        topo.nodes[sink].wrap_change = topo.nodes[source].wrap_change = True
        table = KTable(b, name, self.key_serde, value_serde, store_name=store, source_nodes=(source,))
        topo.add_processor(name, lambda: dp.TableAggregate(store, initializer, adder, subtractor, table._send_old),
                           source)
        topo.add_state_store(StoreDef(store, self.key_serde, value_serde), name)
        table._materialized = True
        return table

    def count(self, *, materialized: str | None = None) -> KTable:
        """Rows per new key (a row that moves away is subtracted)."""
        return self._aggregate("KTABLE-AGGREGATE-", lambda: 0, lambda k, v, a: a + 1, lambda k, v, a: a - 1,
                               serde("long"), materialized)

    def reduce(self, adder: Callable[[Any, Any], Any], subtractor: Callable[[Any, Any], Any], *,
               materialized: str | None = None) -> KTable:
        """``adder(aggregate, value)`` and ``subtractor(aggregate, old_value)``."""
        _check_fn(adder, "adder", "(aggregate, value)")
        _check_fn(subtractor, "subtractor", "(aggregate, value)")
        return self._aggregate("KTABLE-REDUCE-", lambda: None,
                               lambda k, v, a: v if a is None else adder(a, v),
                               lambda k, v, a: subtractor(a, v), self.value_serde, materialized)

    def aggregate(self, initializer: Callable[[], Any], adder: Callable[[Any, Any, Any], Any],
                  subtractor: Callable[[Any, Any, Any], Any], *, value_serde: Any = None,
                  materialized: str | None = None) -> KTable:
        """``adder(key, value, aggregate)`` / ``subtractor(key, old_value, aggregate)`` from ``initializer()``."""
        _check_fn(initializer, "initializer", "()")
        _check_fn(adder, "adder", "(key, value, aggregate)")
        _check_fn(subtractor, "subtractor", "(key, value, aggregate)")
        return self._aggregate("KTABLE-AGGREGATE-", initializer, adder, subtractor,
                               _opt(value_serde, "value_serde"), materialized)

"""The processors behind the DSL's operators (Kafka's ``KStreamFilter``, ``KStreamMap``, ``KStreamAggregate``,
``KTableSource``, ``KTableFilter``, ``KTableRepartitionMap``, ``KTableAggregate``, ``KStreamKTableJoin``,
``KTableKTableInnerJoin`` ... in ``kstream/internals``).

How it works. Each class is a :class:`~kafkalab.streams.processor.Processor` built by the DSL with the user's
function. Stream processors see plain values; table processors see :class:`~kafkalab.streams.processor.Change`
values (new and old) and forward changes. Aggregations and table sources write their store and forward through the
store's flush listener, so the record cache decides when downstream sees an update (at once with the cache off, at
commit or eviction with it on). A record with a null key is dropped by aggregations and table sources (Kafka logs
and counts it in ``dropped-records``); the task counts them here.

A table's *value getter* (:class:`ValueGetter`) reads the current value of a key for joins: from its store when the
table is materialized, else through its parent's getter with the table's own filter or mapper applied (Kafka's
``KTableValueGetterSupplier``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.streams.processor import Change, Processor, ProcessorContext, Record

__all__ = ["Filter", "MapKV", "MapValues", "FlatMap", "FlatMapValues", "SelectKey", "Peek", "PassThrough",
           "Branch", "StreamAggregate", "TableSource", "TableFilter", "TableMapValues", "TableToStream",
           "TableRepartitionMap", "TableAggregate", "StreamTableJoin", "TableTableJoin", "ValueGetter",
           "StoreGetter", "GlobalTableJoin"]

ValueGetter = Callable[[ProcessorContext], Callable[[Any], Any]]


def StoreGetter(store: str) -> ValueGetter:
    """The value getter of a materialized table: its store."""
    def make(ctx: ProcessorContext) -> Callable[[Any], Any]:
        kv = ctx.get_state_store(store)
        return kv.get
    return make


class Filter(Processor):
    def __init__(self, predicate: Callable[[Any, Any], Any], negate: bool = False) -> None:
        self.predicate, self.negate = predicate, negate

    def process(self, record: Record) -> None:
        if bool(self.predicate(record.key, record.value)) != self.negate:
            self.context.forward(record)


class MapKV(Processor):
    def __init__(self, mapper: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        self.mapper = mapper

    def process(self, record: Record) -> None:
        key, value = _pair(self.mapper(record.key, record.value), "map")
        self.context.forward(Record(key, value, record.timestamp, record.headers))


class MapValues(Processor):
    def __init__(self, mapper: Callable[[Any], Any]) -> None:
        self.mapper = mapper

    def process(self, record: Record) -> None:
        self.context.forward(record.with_value(self.mapper(record.value)))


class FlatMap(Processor):
    def __init__(self, mapper: Callable[[Any, Any], Any]) -> None:
        self.mapper = mapper

    def process(self, record: Record) -> None:
        for pair in self.mapper(record.key, record.value) or ():
            key, value = _pair(pair, "flat_map")
            self.context.forward(Record(key, value, record.timestamp, record.headers))


class FlatMapValues(Processor):
    def __init__(self, mapper: Callable[[Any], Any]) -> None:
        self.mapper = mapper

    def process(self, record: Record) -> None:
        for value in self.mapper(record.value) or ():
            self.context.forward(record.with_value(value))


class SelectKey(Processor):
    def __init__(self, selector: Callable[[Any, Any], Any]) -> None:
        self.selector = selector

    def process(self, record: Record) -> None:
        self.context.forward(record.with_key(self.selector(record.key, record.value)))


class Peek(Processor):
    """``peek`` forwards after the action; ``foreach`` (``forward=False``) is a terminal node."""

    def __init__(self, action: Callable[[Any, Any], Any], forward: bool = True) -> None:
        self.action, self.forward = action, forward

    def process(self, record: Record) -> None:
        self.action(record.key, record.value)
        if self.forward:
            self.context.forward(record)


class PassThrough(Processor):
    def process(self, record: Record) -> None:
        self.context.forward(record)


class Branch(Processor):
    """``split()``: the record goes to the first branch whose predicate holds (``None`` predicate: the default
    branch), by child name (Kafka's ``KStreamBranch``)."""

    def __init__(self, predicates: list[Callable[[Any, Any], Any] | None], children: list[str]) -> None:
        self.predicates, self.children = predicates, children

    def process(self, record: Record) -> None:
        for predicate, child in zip(self.predicates, self.children, strict=True):
            if predicate is None or predicate(record.key, record.value):
                self.context.forward(record, child)
                return


class DroppedCounter(Processor):
    """A processor that drops records it cannot use (a null key) and tells its context (``dropped_record``)."""

    def _drop(self) -> None:
        counter = getattr(self.context, "dropped_record", None)
        if counter is not None:
            counter()


def _forwarding_listener(ctx: ProcessorContext, send_old: Callable[[], bool]
                         ) -> Callable[[Any, Any, Any, int], None]:
    def listener(key: Any, new: Any, old: Any, timestamp: int) -> None:
        ctx.forward(Record(key, Change(new, old if send_old() else None), timestamp))
    return listener


class StreamAggregate(DroppedCounter):
    """``count``/``reduce``/``aggregate`` of a grouped stream (``KStreamAggregate``, ``KStreamReduce``):
    ``initializer()`` then ``aggregator(key, value, aggregate)``; ``initializer=None`` makes it a reduce (the
    first value is the aggregate)."""

    def __init__(self, store: str, initializer: Callable[[], Any] | None, aggregator: Callable[[Any, Any, Any], Any],
                 send_old: Callable[[], bool]) -> None:
        self.store_name, self.initializer, self.aggregator, self.send_old = store, initializer, aggregator, send_old

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(self.store_name)
        self.store.flush_listener = _forwarding_listener(context, self.send_old)

    def process(self, record: Record) -> None:
        if record.key is None or record.value is None:
            self._drop()
            return
        old = self.store.get(record.key)
        if old is None:
            new = record.value if self.initializer is None else \
                self.aggregator(record.key, record.value, self.initializer())
        else:
            new = self.aggregator(record.key, record.value, old)
        self.store.put(record.key, new, record.timestamp)


class TableSource(DroppedCounter):
    """``builder.table``'s processor (``KTableSource``): upserts the store when materialized; forwards changes."""

    def __init__(self, store: str | None, send_old: Callable[[], bool]) -> None:
        self.store_name, self.send_old = store, send_old
        self.store: Any = None

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        if self.store_name is not None:
            self.store = context.get_state_store(self.store_name)
            self.store.flush_listener = _forwarding_listener(context, self.send_old)

    def process(self, record: Record) -> None:
        if record.key is None:
            self._drop()
            return
        if self.store is None:
            self.context.forward(record.with_value(Change(record.value, None)))
        else:
            self.store.put(record.key, record.value, record.timestamp)


class TableFilter(Processor):
    def __init__(self, predicate: Callable[[Any, Any], Any], negate: bool, send_old: Callable[[], bool]) -> None:
        self.predicate, self.negate, self.send_old = predicate, negate, send_old

    def _keep(self, key: Any, value: Any) -> Any:
        if value is None:
            return None
        return value if bool(self.predicate(key, value)) != self.negate else None

    def process(self, record: Record) -> None:
        change: Change = record.value
        new = self._keep(record.key, change.new)
        old = self._keep(record.key, change.old) if self.send_old() else None
        if new is None and old is None:
            return          # Kafka: nothing to say downstream
        self.context.forward(record.with_value(Change(new, old)))


class TableMapValues(Processor):
    def __init__(self, mapper: Callable[[Any], Any], send_old: Callable[[], bool]) -> None:
        self.mapper, self.send_old = mapper, send_old

    def process(self, record: Record) -> None:
        change: Change = record.value
        new = None if change.new is None else self.mapper(change.new)
        old = None if change.old is None or not self.send_old() else self.mapper(change.old)
        self.context.forward(record.with_value(Change(new, old)))


class TableToStream(Processor):
    def process(self, record: Record) -> None:
        self.context.forward(record.with_value(record.value.new))


class TableRepartitionMap(Processor):
    """``KTable.group_by`` (``KTableRepartitionMap``): the old value is subtracted under its old key and the new one
    added under its new key; one record carries both when the key stays."""

    def __init__(self, selector: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        self.selector = selector

    def process(self, record: Record) -> None:
        change: Change = record.value
        new = None if change.new is None else _pair(self.selector(record.key, change.new), "group_by")
        old = None if change.old is None else _pair(self.selector(record.key, change.old), "group_by")
        ts, hdrs = record.timestamp, record.headers
        if new is not None and old is not None and new[0] == old[0]:
            self.context.forward(Record(new[0], Change(new[1], old[1]), ts, hdrs))
            return
        if old is not None:
            self.context.forward(Record(old[0], Change(None, old[1]), ts, hdrs))
        if new is not None:
            self.context.forward(Record(new[0], Change(new[1], None), ts, hdrs))


class TableAggregate(DroppedCounter):
    """``KGroupedTable`` ``count``/``reduce``/``aggregate`` (``KTableAggregate``): subtract the old value, add the
    new one."""

    def __init__(self, store: str, initializer: Callable[[], Any], adder: Callable[[Any, Any, Any], Any],
                 subtractor: Callable[[Any, Any, Any], Any], send_old: Callable[[], bool]) -> None:
        self.store_name, self.initializer, self.adder, self.subtractor, self.send_old = \
            store, initializer, adder, subtractor, send_old

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(self.store_name)
        self.store.flush_listener = _forwarding_listener(context, self.send_old)

    def process(self, record: Record) -> None:
        if record.key is None:
            self._drop()
            return
        change: Change = record.value
        agg = self.store.get(record.key)
        if agg is None:
            agg = self.initializer()
        if change.old is not None:
            agg = self.subtractor(record.key, change.old, agg)
        if change.new is not None:
            agg = self.adder(record.key, change.new, agg)
        self.store.put(record.key, agg, record.timestamp)


class StreamTableJoin(Processor):
    """``KStream.join/left_join(table)`` (``KStreamKTableJoin``): each stream record looks the key up in the table
    as it is now; an inner join drops records without a match."""

    def __init__(self, getter: ValueGetter, joiner: Callable[[Any, Any], Any], left: bool) -> None:
        self.getter_factory, self.joiner, self.left = getter, joiner, left

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.getter = self.getter_factory(context)

    def process(self, record: Record) -> None:
        other = None if record.key is None else self.getter(record.key)
        if other is None and not self.left:
            return
        if record.key is None and not self.left:
            return
        self.context.forward(record.with_value(self.joiner(record.value, other)))


class TableTableJoin(Processor):
    """One side of a KTable-KTable join (``KTableKTableInnerJoin``/``LeftJoin``/``RightJoin``/``OuterJoin``):
    ``this_required``/``other_required`` say which side must have a value for a result."""

    def __init__(self, other_getter: ValueGetter, joiner: Callable[[Any, Any], Any], this_required: bool,
                 other_required: bool, send_old: Callable[[], bool]) -> None:
        self.getter_factory, self.joiner = other_getter, joiner
        self.this_required, self.other_required, self.send_old = this_required, other_required, send_old

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.other = self.getter_factory(context)

    def _join(self, this: Any, other: Any) -> Any:
        if this is None and other is None:
            return None
        if (this is None and self.this_required) or (other is None and self.other_required):
            return None
        return self.joiner(this, other)

    def process(self, record: Record) -> None:
        if record.key is None:
            return
        change: Change = record.value
        other = self.other(record.key)
        new = self._join(change.new, other)
        old = self._join(change.old, other) if self.send_old() else None
        if new is None and old is None and change.new is not None:
            return
        self.context.forward(record.with_value(Change(new, old)))


class GlobalTableJoin(DroppedCounter):
    """``KStream.join/left_join(global_table)`` (``KStreamGlobalKTableJoin``): look ``key_selector(key, value)``
    up in the instance's global store; an inner join drops records without a match (and records whose selected
    key is None)."""

    def __init__(self, store: str, key_selector: Callable[[Any, Any], Any], joiner: Callable[[Any, Any], Any],
                 left: bool) -> None:
        self.store_name, self.key_selector, self.joiner, self.left = store, key_selector, joiner, left

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        if record.value is None:
            self._drop()
            return
        mapped = self.key_selector(record.key, record.value)
        other = None if mapped is None else self.store.get(mapped)
        if other is None and not self.left:
            if mapped is None:
                self._drop()
            return
        self.context.forward(record.with_value(self.joiner(record.value, other)))


def _pair(result: Any, op: str) -> tuple[Any, Any]:
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise TypeError(f"the function given to {op}() must return a (key, value) pair, got "
                        f"{type(result).__name__} {result!r}")
    return result[0], result[1]

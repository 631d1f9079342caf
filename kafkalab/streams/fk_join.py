"""The KTable-KTable foreign-key join (KIP-213): ``left.join(right, foreign_key_extractor, joiner)`` and
``left_join``, as Kafka's ``KTableImpl.doJoinOnForeignKey`` builds it from the processors of
``kstream/internals/foreignkeyjoin`` (``SubscriptionSendProcessorSupplier``, ``SubscriptionReceiveProcessorSupplier``,
``SubscriptionJoinProcessorSupplier``, ``ForeignTableJoinProcessorSupplier``, ``ResponseJoinProcessorSupplier``).

How it works. The two tables need not be co-partitioned: each left row *subscribes* to the right row its foreign key
names. (1) On the left, :class:`SubscriptionSend` turns each change of a row into subscription messages keyed by the
foreign key (old and new), with an :class:`~kafkalab.streams.fk_wire.Instruction`, the Murmur3-128 hash of the new
left value and the row's partition, written to ``<app>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic``, which is
co-partitioned with the right table. (2) On the right, :class:`SubscriptionReceive` keeps the subscription in
``KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-<n>`` (keyed by foreign key then primary key; logged, not cached) or
deletes it, and :class:`SubscriptionJoin` answers with the right table's current value; when a right row changes,
:class:`ForeignTableJoin` prefix-scans the store and answers every subscriber. Answers go to
``<app>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic``, each to the left row's own partition (the partitioner reads
the partition the subscription carried). (3) Back on the left, :class:`ResponseJoin` drops an answer whose hash is
not the hash of the row's current value (the row changed again while the answer travelled: a newer answer is on its
way), then emits ``joiner(left, right)``, or a tombstone where an inner join has no match (a left join:
``joiner(left, None)``), into the result table (a ``KTableSource``, materialized only when asked or needed).

Which answers the left side asks for follows ``SubscriptionSendProcessorSupplier`` as Kafka's trunk has it in late
2025, after KAFKA-16407 and KAFKA-18713 (the October 2024 source snapshot predates them): a changed foreign key
unsubscribes the old one without an answer, so a left join no longer emits a spurious ``joiner(left, None)`` that
could race the new key's answer; an inner join clears its result when the key becomes null; an update keeping its
key asks for an answer only if there is a match. Stale answers are counted as dropped records, as the 2024 source
counts them.

Timestamps: a result carries the timestamp of the record that caused it (Kafka takes the larger of the
subscription's and the right row's; stores here keep no timestamps). Not modelled: versioned tables (KIP-914),
custom ``TableJoined`` partitioners.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kafkalab.streams.dsl_processors import DroppedCounter, TableSource
from kafkalab.streams.errors import StreamsException
from kafkalab.streams.fk_wire import (
    SUBSCRIPTION_RESPONSE_SERDE,
    SUBSCRIPTION_WRAPPER_SERDE,
    Instruction,
    SubscriptionResponseWrapper,
    SubscriptionWrapper,
    combined_key,
    fk_prefix,
    murmur3_hash128,
    split_combined_key,
)
from kafkalab.streams.processor import Change, ProcessorContext, Record
from kafkalab.streams.serdes import Serde, serde
from kafkalab.streams.topology import StoreDef

if TYPE_CHECKING:
    from kafkalab.streams.dsl import KTable

__all__ = ["SubscriptionSend", "SubscriptionReceive", "SubscriptionJoin", "ForeignTableJoin", "ResponseJoin",
           "foreign_key_join"]

_FK_JOIN = "KTABLE-FK-JOIN-"


def _resolve(context: ProcessorContext, own: Serde | None, key: str, what: str) -> Serde:
    """``own`` or the app's default serde (``key``): what Kafka's processors take from ``context.keySerde()``."""
    if own is not None:
        return own
    spec = getattr(context, "app_config", lambda k, d=None: d)(key, None)
    if spec is None:
        raise StreamsException(f"{what}: no serde given and {key!r} is not set; pass a serde in the DSL or set "
                               f"{key!r} (string, json, long, integer, double, bytes)")
    return serde(spec, key)


def _partition(context: ProcessorContext) -> int:
    meta = context.record_metadata()
    return meta.partition if meta is not None else int(context.task_id.split("_")[1])


class SubscriptionSend(DroppedCounter):
    """``SubscriptionSendProcessorSupplier``: a left row's change becomes subscriptions to its old and new foreign
    keys. ``extractor(key, value)`` gives the foreign key."""

    def __init__(self, extractor: Callable[[Any, Any], Any], left_join: bool, key_serde: Serde | None,
                 value_serde: Serde | None, fk_serde: Serde | None) -> None:
        self.extractor, self.left_join = extractor, left_join
        self.serdes = (key_serde, value_serde, fk_serde)

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        ks, vs, fs = self.serdes
        self.key_serde = _resolve(context, ks, "default.key.serde", "foreign-key join primary key")
        self.value_serde = _resolve(context, vs, "default.value.serde", "foreign-key join left value")
        self.fk_serde = _resolve(context, fs, "default.key.serde", "foreign-key join foreign key")

    def process(self, record: Record) -> None:
        change: Change = record.value
        self._hash: tuple[int, int] | None = None
        self._hashed = False
        key, old, new = record.key, change.old, change.new
        if key is None:
            self._drop()
            return
        old_fk = None if old is None else self.extractor(key, old)
        if self.left_join:
            if old is None and new is None:
                return                  # an idempotent delete: nothing to say
            new_fk = None if new is None else self.extractor(key, new)
            if old_fk is not None and self._fk_bytes(new_fk) != self._fk_bytes(old_fk):
                self._send(record, old_fk, Instruction.DELETE_KEY_NO_PROPAGATE)
            # always one answer back, from the new key (a null key too: no subscription is kept for it)
            self._send(record, new_fk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)
            return
        if new is None:
            if old_fk is not None:
                self._send(record, old_fk, Instruction.DELETE_KEY_AND_PROPAGATE)
            return
        new_fk = self.extractor(key, new)
        if new_fk is None:
            self._drop()                # Kafka: "Skipping record due to null foreign key"
            if old_fk is not None:      # and clear what the old key joined
                self._send(record, old_fk, Instruction.DELETE_KEY_AND_PROPAGATE)
        elif old_fk is not None and self._fk_bytes(new_fk) != self._fk_bytes(old_fk):
            self._send(record, old_fk, Instruction.DELETE_KEY_NO_PROPAGATE)
            # the old key may have joined: answer even without a match, to clear that result
            self._send(record, new_fk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)
        else:
            # an insert, or the same key: without a match there was no result before either
            self._send(record, new_fk, Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)

    def _fk_bytes(self, fk: Any) -> bytes | None:
        return self.fk_serde.serialize(fk)

    def _value_hash(self, value: Any) -> tuple[int, int] | None:
        if not self._hashed:            # one hash per record, shared by both subscriptions it sends
            data = self.value_serde.serialize(value)
            self._hash = None if data is None else murmur3_hash128(data)
            self._hashed = True
        return self._hash

    def _send(self, record: Record, fk: Any, instruction: Instruction) -> None:
        pk_bytes = self.key_serde.serialize(record.key)
        assert pk_bytes is not None
        wrapper = SubscriptionWrapper(self._value_hash(record.value.new), instruction, pk_bytes,
                                      _partition(self.context))
        self.context.forward(Record(fk, wrapper, record.timestamp, record.headers))


class SubscriptionReceive(DroppedCounter):
    """``SubscriptionReceiveProcessorSupplier``: keep (or delete) the subscription in the store, keyed by the
    combined key, and pass ``(fk, Change(new, old))`` on."""

    def __init__(self, store: str, fk_serde: Serde | None) -> None:
        self.store_name, self.own_fk_serde = store, fk_serde

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(self.store_name)
        self.fk_serde = _resolve(context, self.own_fk_serde, "default.key.serde", "foreign-key join foreign key")

    def process(self, record: Record) -> None:
        wrapper: SubscriptionWrapper = record.value
        if record.key is None:
            if wrapper.instruction is not Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
                self._drop()
                return
            self.context.forward(record.with_value((None, Change(wrapper, None))))
            return
        fk_bytes = self.fk_serde.serialize(record.key)
        assert fk_bytes is not None
        ck = combined_key(fk_bytes, wrapper.primary_key_bytes)
        old = self.store.get(ck)
        if wrapper.instruction in (Instruction.DELETE_KEY_AND_PROPAGATE, Instruction.DELETE_KEY_NO_PROPAGATE):
            self.store.delete(ck, record.timestamp)
        else:
            self.store.put(ck, wrapper, record.timestamp)
        self.context.forward(record.with_value((ck, Change(wrapper, old))))


class _Responder(DroppedCounter):
    """Answers to the left side: the primary key back as an object, the foreign value as bytes."""

    def __init__(self, key_serde: Serde | None, foreign_value_serde: Serde | None) -> None:
        self.own_serdes = (key_serde, foreign_value_serde)

    def _init_serdes(self, context: ProcessorContext) -> None:
        ks, vs = self.own_serdes
        self.key_serde = _resolve(context, ks, "default.key.serde", "foreign-key join primary key")
        self.foreign_value_serde = _resolve(context, vs, "default.value.serde", "foreign-key join right value")

    def _answer(self, record: Record, pk_bytes: bytes, h: tuple[int, int] | None, foreign: Any,
                partition: int) -> None:
        response = SubscriptionResponseWrapper(h, self.foreign_value_serde.serialize(foreign), partition)
        self.context.forward(Record(self.key_serde.deserialize(pk_bytes), response, record.timestamp,
                                    record.headers))


class SubscriptionJoin(_Responder):
    """``SubscriptionJoinProcessorSupplier``: answer a subscription with the right table's value of its key, as its
    instruction says."""

    def __init__(self, getter: Callable[[ProcessorContext], Callable[[Any], Any]], key_serde: Serde | None,
                 foreign_value_serde: Serde | None) -> None:
        super().__init__(key_serde, foreign_value_serde)
        self.getter_factory = getter

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.foreign = self.getter_factory(context)
        self._init_serdes(context)

    def process(self, record: Record) -> None:
        wrapper: SubscriptionWrapper = record.value[1].new
        foreign = None if record.key is None else self.foreign(record.key)
        instruction = wrapper.instruction
        if instruction is Instruction.DELETE_KEY_NO_PROPAGATE:
            return
        if instruction is Instruction.DELETE_KEY_AND_PROPAGATE:
            foreign = None
        elif instruction is Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE and foreign is None:
            return
        self._answer(record, wrapper.primary_key_bytes, wrapper.hash, foreign, wrapper.primary_partition)


class ForeignTableJoin(_Responder):
    """``ForeignTableJoinProcessorSupplier``: a right row's change goes to every subscriber of its key (a prefix
    scan of the subscription store, in primary-key byte order)."""

    def __init__(self, store: str, key_serde: Serde | None, fk_serde: Serde | None,
                 foreign_value_serde: Serde | None) -> None:
        super().__init__(key_serde, foreign_value_serde)
        self.store_name, self.own_fk_serde = store, fk_serde

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(self.store_name)
        self.fk_serde = _resolve(context, self.own_fk_serde, "default.key.serde", "foreign-key join foreign key")
        self._init_serdes(context)

    def process(self, record: Record) -> None:
        if record.key is None:
            self._drop()
            return
        fk_bytes = self.fk_serde.serialize(record.key)
        assert fk_bytes is not None
        prefix = fk_prefix(fk_bytes)
        change: Change = record.value
        for ck, wrapper in list(self.store.prefix_scan(prefix)):
            _fk, pk_bytes = split_combined_key(ck)
            self._answer(record, pk_bytes, wrapper.hash, change.new, wrapper.primary_partition)


class ResponseJoin(DroppedCounter):
    """``ResponseJoinProcessorSupplier``: drop stale answers (hash mismatch), then join or emit a tombstone."""

    def __init__(self, getter: Callable[[ProcessorContext], Callable[[Any], Any]], joiner: Callable[[Any, Any], Any],
                 left_join: bool, value_serde: Serde | None, foreign_value_serde: Serde | None) -> None:
        self.getter_factory, self.joiner, self.left_join = getter, joiner, left_join
        self.own_serdes = (value_serde, foreign_value_serde)
        self.stale_responses = 0

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.current = self.getter_factory(context)
        vs, fvs = self.own_serdes
        self.value_serde = _resolve(context, vs, "default.value.serde", "foreign-key join left value")
        self.foreign_value_serde = _resolve(context, fvs, "default.value.serde", "foreign-key join right value")

    def process(self, record: Record) -> None:
        response: SubscriptionResponseWrapper = record.value
        current = None if record.key is None else self.current(record.key)
        data = None if current is None else self.value_serde.serialize(current)
        current_hash = None if data is None else murmur3_hash128(data)
        if response.original_value_hash != current_hash:
            self.stale_responses += 1
            self._drop()                # the row changed since: a newer answer is on its way
            return
        foreign = self.foreign_value_serde.deserialize(response.foreign_value_bytes)
        if foreign is None and (not self.left_join or current is None):
            result = None
        else:
            result = self.joiner(current, foreign)
        self.context.forward(record.with_value(result))


def _extractor(fn: Any) -> Callable[[Any, Any], Any]:
    """A function of the value (Kafka's ``Function<V, KO>``) or of (key, value) (Kafka 4's ``BiFunction``)."""
    if not callable(fn):
        raise TypeError(f"foreign_key_extractor must be a function of (value) or of (key, value) giving the right "
                        f"table's key, got {type(fn).__name__} {fn!r}")
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
        two = len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        two = False
    if two:
        return fn  # type: ignore[no-any-return]
    return lambda _key, value: fn(value)


def foreign_key_join(left: KTable, right: Any, extractor: Any, joiner: Any, *, left_join: bool,
                     name: str | None, materialized: str | None) -> KTable:
    """``KTableImpl.doJoinOnForeignKey``: add the join's nodes, topics and stores; return the result table."""
    from kafkalab.streams.dsl import KTable
    if not isinstance(right, KTable):
        raise TypeError(f"a foreign-key join joins another KTable, got {type(right).__name__}")
    extract = _extractor(extractor)
    if not callable(joiner):
        raise TypeError(f"joiner must be a function of (left_value, right_value), got {type(joiner).__name__} "
                        f"{joiner!r}")
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be a non-empty str (the prefix of the join's node and topic names), got {name!r}")
    if materialized is not None and (not isinstance(materialized, str) or not materialized):
        raise TypeError(f"materialized must be a store name (a non-empty str), got {materialized!r}")
    b, topo = left.builder, left.builder.topology
    right._enable_send_old()
    left._enable_send_old()

    def named(suffix: str, prefix: str) -> str:
        return f"{name}{suffix}" if name is not None else b.names.processor(prefix)
    sub_topic = named("-subscription-registration", _FK_JOIN + "SUBSCRIPTION-REGISTRATION-") + "-topic"
    topo.internal_repartition[sub_topic] = None
    ks, vs, fks, fvs = left.key_serde, left.value_serde, right.key_serde, right.value_serde
    send = named("-subscription-registration-processor", _FK_JOIN + "SUBSCRIPTION-REGISTRATION-")
    topo.add_processor(send, lambda: SubscriptionSend(extract, left_join, ks, vs, fks), left.name)
    sub_sink = named("-subscription-registration-sink", "KTABLE-SINK-")
    topo.add_sink(sub_sink, sub_topic, send, key_serde=fks, value_serde=SUBSCRIPTION_WRAPPER_SERDE)
    sub_source = named("-subscription-registration-source", "KTABLE-SOURCE-")
    topo.add_source(sub_source, sub_topic, key_serde=fks, value_serde=SUBSCRIPTION_WRAPPER_SERDE)
    topo.copartition_groups.append((*right.source_nodes, sub_source))
    store = named("-subscription-store", _FK_JOIN + "SUBSCRIPTION-STATE-STORE-")
    receive = named("-subscription-receive", _FK_JOIN + "SUBSCRIPTION-PROCESSOR-")
    topo.add_processor(receive, lambda: SubscriptionReceive(store, fks), sub_source)
    topo.add_state_store(StoreDef(store, serde("bytes"), SUBSCRIPTION_WRAPPER_SERDE, cached=False), receive)
    right_getter, right_stores = right._value_getter()
    join_foreign = named("-subscription-join-foreign", _FK_JOIN + "SUBSCRIPTION-PROCESSOR-")
    topo.add_processor(join_foreign, lambda: SubscriptionJoin(right_getter, ks, fvs), receive)
    topo.connect_processor_and_state_stores(join_foreign, *right_stores)
    foreign_join = named("-foreign-join-subscription", _FK_JOIN + "SUBSCRIPTION-PROCESSOR-")
    topo.add_processor(foreign_join, lambda: ForeignTableJoin(store, ks, fks, fvs), right.name)
    topo.connect_processor_and_state_stores(foreign_join, store)
    resp_topic = named("-subscription-response", _FK_JOIN + "SUBSCRIPTION-RESPONSE-") + "-topic"
    topo.internal_repartition[resp_topic] = None
    resp_sink = named("-subscription-response-sink", "KTABLE-SINK-")
    topo.add_sink(resp_sink, resp_topic, join_foreign, foreign_join, key_serde=ks,
                  value_serde=SUBSCRIPTION_RESPONSE_SERDE,
                  partitioner=lambda _k, response, _n: response.primary_partition)
    resp_source = named("-subscription-response-source", "KTABLE-SOURCE-")
    topo.add_source(resp_source, resp_topic, key_serde=ks, value_serde=SUBSCRIPTION_RESPONSE_SERDE)
    topo.copartition_groups.append((*left.source_nodes, resp_source))
    left_getter, left_stores = left._value_getter()
    resolver = named("-subscription-response-resolver", _FK_JOIN + "SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-")
    topo.add_processor(resolver, lambda: ResponseJoin(left_getter, joiner, left_join, vs, fvs), resp_source)
    topo.connect_processor_and_state_stores(resolver, *left_stores)
    output = named("-result", _FK_JOIN + "OUTPUT-")
    result_store = materialized if materialized is not None else b.names.store(_FK_JOIN + "OUTPUT-")
    result = KTable(b, output, ks, None, store_name=result_store, source_nodes=(*left.source_nodes, resp_source))
    topo.add_processor(output, lambda: TableSource(result._materialized_store(), result._send_old), resolver)
    if materialized is not None:
        result._materialize()
    return result

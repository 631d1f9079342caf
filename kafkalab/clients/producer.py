"""The producer a notebook holds: ``KafkaProducer``'s public side (serialization, config rules, blocking calls).

How it works. :class:`KafkaProducer` lives outside the simulation. ``world.add_node(node_id, factory,
server=False)`` makes it a client node; each incarnation of that node runs a
:class:`~kafkalab.clients.sender.ProducerCore` (accumulator, metadata, sender, idempotence) inside the simulation.
The facade drives the simulation (the ``drive`` callable, ``kernel.run_until`` by default) only when it must block:
metadata for a new topic, a full buffer, ``future.result()``, ``flush()``.

``send()``: check the arguments (``ProducerRecord``'s checks: a negative ``timestamp_ms`` or ``partition`` is a ValueError
with Kafka's IllegalArgumentException text; a wrong type is a TypeError naming the argument; all before anything is
recorded or sent), serialize (bytes; ``str`` as UTF-8; anything else is a TypeError saying how to serialize; a ``str``
with a lone surrogate is a ValueError, where Java's ``StringSerializer`` would silently send ``?``), record the
invocation in the history, wait for the topic's metadata (up to ``max.block.ms``), choose the partition
(``partition_for_key`` for keyed records, KIP-794 sticky partitioning otherwise), check the size against
``max.request.size`` and ``buffer.memory``, append to the accumulator (blocking up to ``max.block.ms`` for memory),
return a future. Failures before the append complete the future with the error (Kafka's ``FutureFailure``), call
``on_delivery`` and are ``fail`` in the history. A ``partition`` beyond the topic's known partition count is not refused
at the call: as ``KafkaProducer.waitOnMetadata`` does (the metadata may be stale), it asks for fresh metadata on every
round of the wait, up to ``max.block.ms``, and then fails the future with Kafka's "Partition 7 of topic t with partition
count 3 is not present in metadata" timeout. A topic that does not exist is created by the broker the metadata request
reaches when its ``auto.create.topics.enable`` is on (Kafka's default; the producer's requests always allow it); when
it is off, the send times out with Kafka's "Topic x not present in metadata" text, to which kafkalab adds the closest
existing topic ("did you mean 'orders'?"). A name a broker calls invalid fails the send with InvalidTopicError
("Invalid topics: [a b]") as soon as the answer arrives.

Idempotence and acks follow Kafka's ``ProducerConfig``: ``enable.idempotence=true`` set explicitly with acks other than
all (or with more than 5 requests in flight, or retries=0) is a ConfigError; left at its default, idempotence quietly
switches off in those cases.

A crashed client (``cluster.crash(producer.node_id)``) loses what it had queued or in flight: its futures raise
:class:`~kafkalab.clients.futures.ClientCrashedError`, its open sends become ``info`` when it restarts (or when the
history is closed), and a restart starts a fresh incarnation with a new producer id.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from kafkalab.check.history import History
from kafkalab.clients.accumulator import _SMALL, _VARINT
from kafkalab.clients.bulk import BulkFutures, append_run, plan_eligible
from kafkalab.clients.counted import CountedDeliveryCallback, CountedFuture, send_counted
from kafkalab.clients.futures import (
    ClientCrashedError,
    DeliveryCallback,
    Drive,
    FutureRecordMetadata,
    check_send_target,
    check_timeout_ms,
)
from kafkalab.clients.metadata import bootstrap_nodes
from kafkalab.clients.sender import Blocked, ProducerCore
from kafkalab.clients.transactions import TxnState
from kafkalab.common.records import Header, size_of_varint
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.config import Config, resolve
from kafkalab.errors import (
    ConfigError,
    InvalidTopicError,
    InvalidTxnStateError,
    KafkaTimeoutError,
    MessageTooLargeError,
    TransactionAbortableError,
    TransactionAbortedError,
    error_for_name,
)

__all__ = ["KafkaProducer", "ProducerCore", "producer_config", "to_bytes", "to_headers", "ClientCrashedError",
           "check_timeout_ms"]

NodeId = Hashable


# -- serialization ----------------------------------------------------------------------------------------------------
def to_bytes(value: Any, what: str) -> bytes | None:
    """Keys and values are bytes; ``str`` is encoded as UTF-8; anything else is a TypeError saying what to do."""
    if value is None or type(value) is bytes:
        return value
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Java's StringSerializer would quietly send '?' for a lone surrogate; a changed record is worse than a
            # refused one, so this refuses it (see the module docstring).
            raise ValueError(f"record {what} is a str that cannot be encoded as UTF-8 ({exc.reason} at index "
                             f"{exc.start}: {value[exc.start:exc.end]!r}); pass bytes or a valid str") from None
    if isinstance(value, bytes):
        return bytes(value)
    raise TypeError(
        f"record {what} must be bytes, str (encoded as UTF-8) or None, got {type(value).__name__}; serialize it "
        f"first, e.g. json.dumps(obj).encode() or str(n).encode() or n.to_bytes(8, 'big')")


def to_headers(headers: Any) -> tuple[Header, ...]:
    """Headers as Kafka has them: (str key, bytes value) pairs; a dict or a list of pairs is accepted."""
    if headers is None:
        return ()
    if isinstance(headers, str | bytes) or not isinstance(headers, Mapping | Iterable):
        raise TypeError(f"headers must be a dict or a list of (str key, bytes value) pairs or None, got "
                        f"{type(headers).__name__} {headers!r}")
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[Header] = []
    for item in items:
        try:
            key, value = item
        except (TypeError, ValueError):
            raise TypeError(f"headers must be (key, value) pairs or a dict, got {item!r}") from None
        if not isinstance(key, str):
            raise TypeError(f"header key must be str, got {type(key).__name__} {key!r}")
        out.append((key, to_bytes(value, "header value")))
    return tuple(out)


def _check_send_args(topic: Any, partition: Any, timestamp_ms: Any, on_delivery: Any) -> None:
    """``ProducerRecord``'s constructor checks (IllegalArgumentException there, ValueError here) and the types."""
    check_send_target(topic, partition, on_delivery)
    if timestamp_ms is not None:
        if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
            raise TypeError(f"timestamp_ms must be an int (ms since the epoch, Kafka's long) or None, got "
                            f"{type(timestamp_ms).__name__} {timestamp_ms!r}")
        if timestamp_ms < 0:
            raise ValueError(f"Invalid timestamp: {timestamp_ms}. Timestamp should always be non-negative or null. "
                             f"(timestamp_ms={timestamp_ms!r})")


# -- configuration ----------------------------------------------------------------------------------------------------
def producer_config(overrides: Mapping[str, Any] | Config | None) -> tuple[Config, bool]:
    """The resolved config and whether idempotence is on (``ProducerConfig.postProcessAndValidateIdempotenceConfigs``
    and ``KafkaProducer.configureDeliveryTimeout``)."""
    config = overrides if isinstance(overrides, Config) else resolve("producer", overrides)
    linger_and_request_ms = config["linger.ms"] + config["request.timeout.ms"]
    if "delivery.timeout.ms" in config.overrides and config["delivery.timeout.ms"] < linger_and_request_ms:
        raise ConfigError(f"delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms "
                          f"(got {config['delivery.timeout.ms']} < {config['linger.ms']} + "
                          f"{config['request.timeout.ms']})", key="delivery.timeout.ms", scope="producer",
                          value=config["delivery.timeout.ms"])
    explicit = "enable.idempotence" in config.overrides
    idempotent = bool(config["enable.idempotence"])
    if config["transactional.id"] is not None:
        if not idempotent:
            raise ConfigError("Cannot set a transactional.id without also enabling idempotence. (transactional.id="
                              f"{config['transactional.id']!r} with enable.idempotence=false)",
                              key="enable.idempotence", scope="producer", value=False)
        explicit = True         # KafkaProducer: a transactional producer must be idempotent, so acks=all etc.
    if not idempotent:
        return config, False
    problems = []
    if config["acks"] != "all":
        problems.append(("acks", config["acks"], "Must set acks to all in order to use the idempotent producer. "
                         "Otherwise we cannot guarantee idempotence.", "set acks=all"))
    if config["max.in.flight.requests.per.connection"] > 5:
        problems.append(("max.in.flight.requests.per.connection", config["max.in.flight.requests.per.connection"],
                         "Must set max.in.flight.requests.per.connection to at most 5 when using the idempotent "
                         "producer.", "set it to 5 or less"))
    if config["retries"] == 0:
        problems.append(("retries", 0, "Must set retries to non-zero when using the idempotent producer.",
                         "set retries above 0"))
    if problems and explicit:
        key, value, message, fix = problems[0]
        raise ConfigError(f"{message} (enable.idempotence=true was set explicitly with {key}={value}; {fix}, or "
                          f"drop enable.idempotence to let it switch off)", key=key, scope="producer", value=value)
    return config, not problems


# -- the facade -------------------------------------------------------------------------------------------------------
class KafkaProducer:
    """A producer on node ``node_id`` of ``world`` (DESIGN.md's ``cluster.producer(config)``).

    ``world`` needs ``add_node(node_id, factory, server=False)``; ``bootstrap`` lists the broker nodes to ask for
    metadata first; ``broker_node`` maps a broker id in metadata to its node (identity by default); ``drive`` runs the
    simulation (``drive(predicate, timeout_ms) -> bool``, default ``world.run_until``); ``history`` receives every
    send (None: not recorded).
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, world: Any, bootstrap: Sequence[NodeId],
                 node_id: NodeId = "producer-1", drive: Drive | None = None, history: History | None = None,
                 broker_node: Callable[[int], NodeId] | None = None) -> None:
        self.config, self.idempotent = producer_config(config)
        self.node_id = node_id
        self.history = history
        self._world = world
        self._drive: Drive = drive if drive is not None else world.run_until
        self._bootstrap = bootstrap_nodes(self.config["bootstrap.servers"], bootstrap, broker_node,
                                          getattr(world, "nodes", None))
        self._broker_node = broker_node
        self._core: ProducerCore | None = None
        self.cores: list[ProducerCore] = []      # every incarnation, oldest first
        self._closed = False
        self._max_block_ms = float(self.config["max.block.ms"])
        self._drives = 0                         # how often a send() ran the simulation (for send_many)
        world.add_node(node_id, self._start, server=False)

    def _start(self, ctx: Any) -> ProducerCore:
        old = self._core
        if old is not None:
            old.abandon(f"{self.node_id} crashed")
            if old.txn is not None:
                old.txn.abandon()          # the transaction's outcome is unknown: info in the history
        core = ProducerCore(ctx, self.config, self.idempotent, bootstrap=self._bootstrap, drive=self._drive,
                            history=self.history, broker_node=self._broker_node,
                            topic_names=getattr(self._world, "topics", None))
        self._core = core
        self.cores.append(core)
        return core

    @property
    def core(self) -> ProducerCore:
        core = self._core
        if core is None:  # pragma: no cover - add_node starts the node at once
            raise RuntimeError(f"producer {self.node_id!r} has not started")
        return core

    def _live_core(self) -> ProducerCore:
        if self._closed:
            raise RuntimeError("Cannot perform operation after producer has been closed")
        core = self.core
        if not core.port.alive:
            raise ClientCrashedError(f"{self.node_id} is crashed; cluster.restart({self.node_id!r}) starts a new "
                                     f"incarnation")
        return core

    def send(self, topic: str, value: Any = None, key: Any = None, partition: int | None = None,
             timestamp_ms: int | None = None, headers: Any = None,
             on_delivery: DeliveryCallback | None = None) -> FutureRecordMetadata:
        """Queue one record; a future of its :class:`RecordMetadata`. Blocks (drives the simulation) up to
        ``max.block.ms`` for the topic's metadata or for buffer memory; failures then are in the future."""
        # The common case in one frame (issue 14): bytes key and value, no partition, timestamp, headers or callback,
        # a live non-transactional producer that knows the topic and the key's partition, and an open batch with
        # room. It does what the full path below does (History.invoke_send, ProducerCore.try_send and
        # RecordAccumulator.append's inlined branch), in the same order, and decides before it changes anything, so
        # every other case takes the full path unchanged. Keep the three in step.
        core = self._core
        if (partition is None and timestamp_ms is None and headers is None and on_delivery is None
                and type(topic) is str and type(value) is bytes and type(key) is bytes and core is not None and core.txn is None
                and not self._closed and not core.ignore_keys):
            port = core.port
            tps = core._tps.get(topic)
            cache = core._key_cache.get(topic)
            if tps is not None and cache is not None and port.alive:
                p = cache.get(key)
                klen = len(key)
                vlen = len(value)
                if p is not None and klen + vlen <= core._size_unchecked:
                    acc = core.accumulator
                    dq = acc.queues.get(tps[p])
                    if dq:
                        batch = dq[-1]
                        if not batch.closed:
                            records = batch.records
                            n = len(records)
                            now = port.now
                            ts = int(now)
                            ts_delta = ts - batch.base_ts
                            if n < _SMALL and 0 <= ts_delta < _SMALL and klen < _SMALL and vlen < _SMALL:
                                body = (2 + _VARINT[n] + _VARINT[ts_delta] + _VARINT[klen] + klen + _VARINT[vlen]
                                        + vlen)
                                size = body + (_VARINT[body] if body < _SMALL else size_of_varint(body))
                                total = batch.size_bytes + size
                                if total <= acc.batch_size:
                                    history = self.history
                                    op = -1 if history is None else history.invoke_send(now, self.node_id, topic,
                                                                                        key, value)
                                    max_ts = batch.max_ts
                                    if ts > max_ts:
                                        batch.max_ts = ts
                                    elif ts == max_ts:
                                        ts = max_ts    # the same int object: 28 bytes less per retained record
                                    records.append((key, value, ts, ()))
                                    batch.ops.append(op)
                                    batch.size_bytes = total
                                    acc.last_append_size = size
                                    if total == acc.batch_size:
                                        acc._full(batch)
                                    acc.last_append_full = batch.closed
                                    return FutureRecordMetadata(batch, n, acc.waiter)
        return self._send(topic, value, key, partition, timestamp_ms, headers, on_delivery)

    def _send(self, topic: str, value: Any, key: Any, partition: int | None, timestamp_ms: int | None,
              headers: Any, on_delivery: DeliveryCallback | None) -> FutureRecordMetadata:
        """:meth:`send`'s full path: every argument checked and converted, every case."""
        if partition is not None or timestamp_ms is not None or on_delivery is not None or type(topic) is not str:
            _check_send_args(topic, partition, timestamp_ms, on_delivery)
        elif not topic:
            raise ValueError("topic must be a non-empty str, got ''")
        if value is not None and type(value) is not bytes:
            value = to_bytes(value, "value")
        if key is not None and type(key) is not bytes:
            key = to_bytes(key, "key")
        hdrs = to_headers(headers) if headers is not None else ()
        core = self._core
        if core is None or self._closed or not core.port.alive:
            core = self._live_core()       # raises the reason
        if core.txn is not None:
            core.txn.check_send()
        history = self.history
        now = core.port.now
        op = history.invoke_send(now, self.node_id, topic, key, value) if history is not None else -1
        try:
            return core.try_send(op, topic, key, value, partition, timestamp_ms, hdrs, on_delivery, now)
        except Blocked as blocked:
            return self._send_blocking(core, op, blocked, topic, key, value, partition, timestamp_ms, hdrs,
                                       on_delivery)
        except (MessageTooLargeError, InvalidTopicError) as exc:
            return core.fail_send(op, exc, on_delivery)

    def send_many(self, topic: str, values: Sequence[Any], keys: Sequence[Any] | None = None
                  ) -> Sequence[FutureRecordMetadata]:
        """``[send(topic, value, key) for value, key in zip(values, keys)]`` in one call: the same records, the same
        history and the same trace as that loop (a test checks it), at less cost per record, for workloads that
        own their data (a benchmark, a load generator). ``keys``: None (every key None) or one per value.

        With keys, the records ``send()``'s common case takes are appended a batch at a time
        (:mod:`kafkalab.clients.bulk`) and the result is a :class:`~kafkalab.clients.bulk.BulkFutures`: a sequence
        of one future per record, in order, built when first read (``len`` builds nothing); each is the future
        ``send()`` would have returned for that record. Without keys it is a list."""
        if type(topic) is not str:
            _check_send_args(topic, None, None, None)
        if not topic:
            raise ValueError("topic must be a non-empty str, got ''")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise TypeError(f"values must be a sequence (list or tuple) of record values, got "
                            f"{type(values).__name__}")
        if keys is not None:
            if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
                raise TypeError(f"keys must be None or a sequence (list or tuple) of record keys, got "
                                f"{type(keys).__name__}")
            if len(keys) != len(values):
                raise ValueError(f"keys must have one key per value: got {len(keys)} keys for {len(values)} values")
        if keys is not None:
            if type(values) is not list:
                values = list(values)
            if type(keys) is not list:
                keys = list(keys)
            n = len(values)
            bulk = BulkFutures()
            first_core = self._core
            bad, kvs = plan_eligible(keys, values, first_core._size_unchecked if first_core is not None else -1)
            bad.append(n)
            b = 0
            i = 0
            send = self.send
            while i < n:
                while bad[b] < i:
                    b += 1
                stop = bad[b]
                live = self._core
                if (i < stop and live is not None and live.txn is None and not self._closed and not live.ignore_keys
                        and live.port.alive):
                    i = append_run(self, live, topic, keys, values, i, stop, kvs, bulk)  # send()'s common case
                if i < n:
                    bulk.add(send(topic, values[i], keys[i]))          # every other case, one record
                    i += 1
            return bulk
        futures: list[FutureRecordMetadata] = []
        append = futures.append
        history = self.history
        node_id = self.node_id
        core: ProducerCore | None = None
        for i, value in enumerate(values):
            if core is None:
                core = self._live_core()   # first, and after the simulation ran (it may have crashed or closed)
                port = core.port
                try_send = core.try_send
            key = None if keys is None else keys[i]
            if value is not None and type(value) is not bytes:
                value = to_bytes(value, "value")
            if key is not None and type(key) is not bytes:
                key = to_bytes(key, "key")
            if core.txn is not None:
                core.txn.check_send()
            now = port.now
            op = history.invoke_send(now, node_id, topic, key, value) if history is not None else -1
            try:
                append(try_send(op, topic, key, value, None, None, (), None, now))
            except Blocked as blocked:
                append(self._send_blocking(core, op, blocked, topic, key, value, None, None, (), None))
                core = None
            except (MessageTooLargeError, InvalidTopicError) as exc:
                append(core.fail_send(op, exc, None))
        return futures

    def send_counted(self, topic: str, records: int, record_bytes: int, partition: int | None = None,
                     on_delivery: CountedDeliveryCallback | None = None) -> CountedFuture:
        """Send ``records`` keyless records of ``record_bytes`` random bytes each as counts, not objects (the
        ``kafka-producer-perf-test`` workload; :mod:`kafkalab.clients.counted`): the batches, sizes and timing of the
        loop of ``send(topic, value)`` with such values, at a cost per batch. Blocks like ``send()`` for metadata and
        ``buffer.memory``; returns one :class:`~kafkalab.clients.counted.CountedFuture` for the run, and calls
        ``on_delivery(CountedMetadata | None, error | None)`` once per batch the run went into. Not recorded in the
        history; refused (ConfigError) on a transactional producer."""
        return send_counted(self, topic, records, record_bytes, partition, on_delivery)

    def _send_blocking(self, core: ProducerCore, op: int, blocked: Blocked, topic: str, key: bytes | None,
                       value: bytes | None, partition: int | None, timestamp_ms: int | None,
                       headers: tuple[Header, ...], on_delivery: DeliveryCallback | None) -> FutureRecordMetadata:
        port = core.port
        start = port.now
        deadline = start + self._max_block_ms
        self._drives += 1            # send_many's bulk path plans again after the simulation ran
        while True:
            remaining = deadline - port.now
            if remaining > 0:
                core.accumulator.exhausted = True
                self._drive(lambda p=blocked.predicate: not port.alive or p(), remaining)  # type: ignore[misc]
                core.accumulator.exhausted = False
            if not port.alive:
                if self.history is not None and op >= 0:
                    self.history.info(op, port.now)      # crashed while send() blocked: never appended
                raise core._crashed_error("metadata or buffer memory")
            if not blocked.predicate():
                return core.fail_send(op, blocked.error(self._max_block_ms), on_delivery)
            try:
                return core.try_send(op, topic, key, value, partition, timestamp_ms, headers, on_delivery)
            except Blocked as again:
                blocked = again
            except (MessageTooLargeError, InvalidTopicError) as exc:
                return core.fail_send(op, exc, on_delivery)

    def flush(self, timeout_ms: float | None = None) -> None:
        """Send everything queued now and drive the simulation until all of it is acknowledged or failed."""
        check_timeout_ms(timeout_ms)
        core = self._live_core()
        flushed = core.begin_flush()
        try:
            if not flushed():
                core._wait(flushed, timeout_ms, "flush() to complete")
        finally:
            core.end_flush()

    def close(self, timeout_ms: float | None = None) -> None:
        """Flush (up to ``timeout_ms``), then stop; batches still pending then fail ("Producer is closed forcefully")."""
        check_timeout_ms(timeout_ms)
        if self._closed:
            return
        core = self.core
        if core.port.alive:
            core.accumulator.closing = True
            try:
                self.flush(timeout_ms)
            except KafkaTimeoutError:
                pass
            core.abort_incomplete("Producer is closed forcefully.")
            core.closed = True
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    # -- transactions (KIP-98; Kafka's KafkaProducer.initTransactions ... abortTransaction) ----------------------
    def _txn(self) -> Any:
        core = self._live_core()
        if core.txn is None:
            raise InvalidTxnStateError("Cannot use transactional methods without enabling transactions by setting "
                                       "the transactional.id configuration property")
        return core.txn

    def _await(self, call: Any, timeout_ms: float | None, what: str) -> None:
        check_timeout_ms(timeout_ms)
        core = self.core
        core._wait(lambda: call.done, self._max_block_ms if timeout_ms is None else timeout_ms, what)

    def init_transactions(self, timeout_ms: float | None = None) -> None:
        """Register the transactional id with its coordinator: fences older producers with the same id (their
        open transaction is aborted) and gets this one's producer id and epoch. Blocks up to ``timeout_ms``
        (default ``max.block.ms``)."""
        txn = self._txn()
        txn.transition(TxnState.INITIALIZING)
        call = txn.init_call()
        try:
            self._await(call, timeout_ms, "initTransactions")
        except KafkaTimeoutError:
            txn.state = TxnState.UNINITIALIZED
            raise
        txn.on_initialized(call)

    def begin_transaction(self) -> None:
        """Start a transaction (local only: the coordinator hears of it with the first partition or offsets)."""
        self._txn().begin()

    def send_offsets_to_transaction(self, offsets: Mapping[Any, Any], group_metadata: Any,
                                    timeout_ms: float | None = None) -> None:
        """Commit ``offsets`` ({TopicPartition: OffsetAndMetadata or int}) for the consumer group of
        ``group_metadata`` (``consumer.group_metadata()``) as part of the transaction (KIP-447: the group
        coordinator refuses them from an older generation)."""
        from kafkalab.clients.transactions import GroupMetadata
        txn = self._txn()
        if not isinstance(group_metadata, GroupMetadata):
            raise TypeError(f"group_metadata must be consumer.group_metadata(), got {type(group_metadata).__name__}")
        txn.check_not_pending("sendOffsetsToTransaction")
        if txn.state is not TxnState.IN_TRANSACTION:
            if txn.state is TxnState.FATAL_ERROR:
                raise txn._fatal()
            raise InvalidTxnStateError(f"Cannot send offsets if a transaction is not in progress (currentState= "
                                       f"{txn.state.value})")
        normalized = {TopicPartition(*tp): o if isinstance(o, OffsetAndMetadata) else OffsetAndMetadata(int(o))
                      for tp, o in offsets.items()}
        add = txn.add_offsets_call(group_metadata.group_id)
        self._await(add, timeout_ms, "AddOffsetsToTxn")
        if add.error is not None:
            txn.abortable(error_for_name(add.error)(f"AddOffsetsToTxn failed: {add.error}"))
            raise txn.last_error
        commit = txn.txn_offset_commit_call(normalized, group_metadata)
        self._await(commit, timeout_ms, "TxnOffsetCommit")
        if commit.error is not None:
            error = error_for_name(commit.error)(
                f"Transactional offset commit failed for group {group_metadata.group_id}: {commit.error}")
            txn.abortable(error)
            raise error
        txn.group_id = group_metadata.group_id
        for tp, om in normalized.items():
            txn.offsets[(tp.topic, tp.partition)] = om.offset

    def commit_transaction(self, timeout_ms: float | None = None) -> None:
        """Flush the transaction's records, then commit it (EndTxn). A failed record makes it raise
        TransactionAbortableError: abort and retry. ``timeout_ms=None`` drives the simulation up to
        ``max.block.ms``; after a KafkaTimeoutError, call it again to finish the same commit."""
        txn = self._txn()
        pending = txn.pending_for(True)
        if pending is None:
            if txn.state is TxnState.ABORTABLE_ERROR:
                raise TransactionAbortableError(f"Cannot commit transaction since at least one previous "
                                                f"transactional call has failed: {txn.last_error}; "
                                                f"abort_transaction() first")
            txn.transition(TxnState.COMMITTING_TRANSACTION)
            pending = txn.start_end(True)
        self._end_transaction(txn, pending, timeout_ms)

    def abort_transaction(self, timeout_ms: float | None = None) -> None:
        """Abort the transaction: queued records fail, in-flight ones complete, then EndTxn(abort). After a
        KafkaTimeoutError, call it again to finish the same abort."""
        txn = self._txn()
        pending = txn.pending_for(False)
        if pending is None:
            txn.transition(TxnState.ABORTING_TRANSACTION)
            pending = txn.start_end(False)
            core = self.core
            for dq in list(core.accumulator.queues.values()):
                for batch in list(dq):
                    if not batch.done and not batch.in_flight and batch.base_sequence < 0:
                        dq.remove(batch)
                        core._fail(batch, TransactionAbortedError("Failing batch since transaction was aborted"),
                                   core.port.now)
        self._end_transaction(txn, pending, timeout_ms)

    def _end_transaction(self, txn: Any, pending: Any, timeout_ms: float | None) -> None:
        """Flush, then EndTxn; a KafkaTimeoutError leaves ``pending`` for the next call of the same method."""
        commit = pending.commit
        if not pending.requested:
            self.flush(timeout_ms)
            if commit and txn.state is not TxnState.COMMITTING_TRANSACTION:
                txn.pending_end = None
                if txn.state is TxnState.FATAL_ERROR:
                    raise txn._fatal()
                raise TransactionAbortableError(f"Cannot commit transaction since a record of it failed: "
                                                f"{txn.last_error}; abort_transaction() first")
            pending.call = txn.end_call(commit)
            pending.requested = True
        if pending.call is not None:
            self._await(pending.call, timeout_ms, pending.operation)
        txn.pending_end = None
        txn.on_ended(pending.call, commit)

    def metrics(self) -> dict[str, Any]:
        """Counters of the current incarnation (records and batches sent, retries, errors, producer id)."""
        return self.core.metrics()

    def partitions_for(self, topic: str, timeout_ms: float | None = None) -> list[int]:
        """The topic's partitions, waiting up to ``timeout_ms`` (default max.block.ms) for metadata."""
        _check_send_args(topic, None, None, None)
        check_timeout_ms(timeout_ms)
        core = self._live_core()
        md = core.metadata
        md.add_topics((topic,))
        core.wakeup()
        if md.partition_count(topic) is None:
            core._wait(lambda: md.partition_count(topic) is not None,
                       self._max_block_ms if timeout_ms is None else timeout_ms, f"metadata of topic {topic}")
        return list(range(md.partition_count(topic) or 0))

    def __repr__(self) -> str:
        return f"KafkaProducer({self.node_id!r}, acks={self.config['acks']}, idempotent={self.idempotent})"


"""The producer inside the simulation: one incarnation of a client node (Kafka's ``Sender``, the send half of
``KafkaProducer`` and, for idempotence, ``TransactionManager``).

How it works. A :class:`ProducerCore` owns the :class:`~.accumulator.RecordAccumulator`, the
:class:`~.metadata.ClientMetadata` and a :class:`~.network.NetworkClient`, and talks to the world only through a
:class:`~.network.ClientPort` (a World ``ProcessContext``), so it never imports the simulator. The facade
(:class:`~kafkalab.clients.producer.KafkaProducer`) calls :meth:`ProducerCore.try_send`; when that must wait it raises
:class:`Blocked` and the facade drives the simulation.

The sender (``Sender.runOnce``) wakes when a batch fills, when a linger or backoff ends, on every answer and when a
refresh or an expiry is due; there is no periodic timer. Each wake-up: refresh metadata if due, get a producer id,
expire batches past ``delivery.timeout.ms`` (queued or in flight), then, round after round while something goes out,
for every ready broker below ``max.in.flight.requests.per.connection`` drain one batch per partition into one
``ProduceRequest``.

The core is one object written in three modules: this one (sending, the sender loop, metadata, flush and close),
:mod:`~kafkalab.clients.produce_requests` (a request's answer, retries, completion, expiry) and
:mod:`~kafkalab.clients.idempotence` (producer id, epoch, sequences), the bases of :class:`ProducerCore`
(``ProducerCore`` -> ``ProduceRequestsMixin`` -> ``IdempotenceMixin``) rather than objects of their own, so every
attribute stays on the core and ``try_send``, the package's hottest path, reaches its state without a hop.

Simplifications (deliberate): see the two modules above; besides them, no compression and no
``partitioner.availability.timeout.ms``.
"""
from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from kafkalab.check.history import History
from kafkalab.clients.accumulator import NeedMemory, ProducerBatch, RecordAccumulator, estimate_record_size
from kafkalab.clients.futures import ClientCrashedError, DeliveryCallback, Drive, FutureRecordMetadata
from kafkalab.clients.metadata import ClientMetadata
from kafkalab.clients.network import ClientPort, NetworkClient
from kafkalab.clients.partitioner import StickyPartitioner, partition_for_key
from kafkalab.clients.produce_requests import ProduceRequestsMixin
from kafkalab.common.records import Header
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.config import Config
from kafkalab.errors import (
    BufferExhaustedError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageTooLargeError,
)
from kafkalab.protocol.metadata import MetadataResponse
from kafkalab.protocol.produce import NUM_BATCHES_TO_RETAIN

__all__ = ["ProducerCore", "Blocked"]

NodeId = Hashable
_KEY_CACHE_LIMIT = 1 << 17


class Blocked(Exception):
    """``send()`` must wait: for metadata of a topic or for buffer memory."""

    def __init__(self, predicate: Callable[[], bool], error: Callable[[float], KafkaError]) -> None:
        super().__init__()
        self.predicate = predicate
        self.error = error


class ProducerCore(ProduceRequestsMixin):
    """One incarnation of a producer inside the simulation (accumulator, metadata, sender, idempotence)."""

    def __init__(self, port: ClientPort, config: Config, idempotent: bool, *, bootstrap: Sequence[NodeId],
                 drive: Drive, history: History | None, broker_node: Callable[[int], NodeId] | None = None,
                 topic_names: Callable[[], Sequence[str]] | None = None) -> None:
        self.port = port
        self.node_id = port.node_id
        self.config = config
        self.idempotent = idempotent
        self.drive = drive
        self.history = history
        self.bootstrap = list(bootstrap)
        self.acks = {"all": -1, "1": 1, "0": 0}[config["acks"]]
        self.client_id = str(config["client.id"] or port.node_id)      # the request header's client id (quotas)
        self.batch_size = int(config["batch.size"])
        self.max_request_size = int(config["max.request.size"])
        self.buffer_memory = int(config["buffer.memory"])
        self.max_block_ms = float(config["max.block.ms"])
        self.request_timeout_ms = float(config["request.timeout.ms"])
        # Kafka raises delivery.timeout.ms to linger.ms + request.timeout.ms when it was left at its default.
        self.delivery_timeout_ms = float(max(config["delivery.timeout.ms"],
                                             config["linger.ms"] + config["request.timeout.ms"]))
        self.retries = int(config["retries"])
        self.retry_backoff_ms = float(config["retry.backoff.ms"])
        self.retry_backoff_max_ms = max(float(config["retry.backoff.max.ms"]), self.retry_backoff_ms)
        self.ignore_keys = bool(config["partitioner.ignore.keys"])
        self.adaptive = bool(config["partitioner.adaptive.partitioning.enable"])
        self.metadata = ClientMetadata(float(config["metadata.max.age.ms"]), self.retry_backoff_ms,
                                       self.retry_backoff_max_ms, broker_node)
        self.network = NetworkClient(port, request_timeout_ms=self.request_timeout_ms,
                                     reconnect_backoff_ms=float(config["reconnect.backoff.ms"]),
                                     max_in_flight=int(config["max.in.flight.requests.per.connection"]),
                                     on_disconnect=lambda node: self.metadata.request_update())
        self.accumulator = RecordAccumulator(
            batch_size=self.batch_size, linger_ms=float(config["linger.ms"]), buffer_memory=self.buffer_memory,
            delivery_timeout_ms=self.delivery_timeout_ms, waiter=self, on_new_batch=self._on_new_batch,
            on_batch_full=self._on_batch_full)
        self._rng = port.rng("producer")
        self._timer: Any = None
        self._timer_at = float("inf")
        self._tps: dict[str, list[TopicPartition]] = {}
        # KafkaProducer.waitOnMetadata: while a send waits for a topic (or for a partition beyond the count known),
        # every metadata answer that still lacks it asks for another (topic -> partition count needed).
        self._awaiting: dict[str, int] = {}
        self._topic_names = topic_names
        self._key_cache: dict[str, dict[bytes, int]] = {}    # key -> partition, per topic (murmur2 is slow here)
        self._size_unchecked = min(self.max_request_size, self.buffer_memory) - 128
        self._sticky: dict[str, StickyPartitioner] = {}
        self._available: dict[str, list[int]] = {}
        self._in_flight: dict[TopicPartition, list[ProducerBatch]] = {}
        self._in_flight_index: dict[TopicPartition, int] = {}      # order of first send, for ordered walks
        # idempotence: a partition's unacknowledged batches (in flight to any broker), at most the broker's five
        self._max_unacked = min(int(config["max.in.flight.requests.per.connection"]), NUM_BATCHES_TO_RETAIN)
        # idempotence (TransactionManager)
        self.producer_id = -1
        self.producer_epoch = -1
        self._next_sequence: dict[TopicPartition, int] = {}
        self._last_acked: dict[TopicPartition, int] = {}
        self._init_in_flight = False
        self._init_retry_at = 0.0
        self._init_attempts = 0
        self._bump_epoch = False
        self.closed = False
        #: the transaction manager when ``transactional.id`` is set (:mod:`kafkalab.clients.transactions`)
        self.txn: Any = None
        tid = config["transactional.id"]
        if tid is not None:
            from kafkalab.clients.transactions import TransactionManager
            self.txn = TransactionManager(self, tid, int(config["transaction.timeout.ms"]))
        # metrics counters (also recorded as they change)
        self.records_sent = 0
        self.batches_sent = 0
        self.retried_batches = 0
        self.error_counts: dict[str, int] = {}
        self._wakeup_at(0.0)

    # -- the port's side -------------------------------------------------------------------------------------------
    def on_message(self, src: Any, msg: Any) -> None:
        self.network.on_message(src, msg)

    @property
    def alive(self) -> bool:
        return self.port.alive

    # -- sending (called by the facade) -------------------------------------------------------------------------
    def invoke(self, topic: str, key: bytes | None, value: bytes | None) -> int:
        history = self.history
        if history is None:
            return -1
        return history.invoke(self.port.now, self.node_id, "send", topic=topic, key=key, value=value)

    def try_send(self, op: int, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                 timestamp_ms: int | None, headers: tuple[Header, ...],
                 callback: DeliveryCallback | None, now: float | None = None) -> FutureRecordMetadata:
        """Append one record; raises :class:`Blocked` when it must wait (metadata, memory). ``now``: the clock, when
        the caller has just read it."""
        tps = self._tps.get(topic)
        if tps is None or (partition is not None and not 0 <= partition < len(tps)):
            tps = self._topic_partitions(topic, partition)
            now = None
        if now is None:
            now = self.port.now
        if partition is None:
            if key is not None and not self.ignore_keys:
                cache = self._key_cache.get(topic)
                if cache is None:
                    cache = self._key_cache[topic] = {}
                partition = cache.get(key)
                if partition is None:
                    if len(cache) >= _KEY_CACHE_LIMIT:
                        cache.clear()
                    partition = cache[key] = partition_for_key(key, len(tps))
                sticky = None
            else:
                sticky = self._sticky_for(topic, len(tps))
                partition = sticky.current(self._available.get(topic, ()))
        else:
            sticky = None
        if headers or (0 if key is None else len(key)) + (0 if value is None else len(value)) > self._size_unchecked:
            self._check_size(key, value, headers)
        ts = int(now) if timestamp_ms is None else int(timestamp_ms)
        acc = self.accumulator
        try:
            future = acc.append(tps[partition], key, value, ts, headers, op, callback, now)
        except NeedMemory as need:
            self._wakeup_at(now)
            size = need.size_bytes
            raise Blocked(lambda: acc.available_memory >= size, functools.partial(self._buffer_error, size)) from None
        if sticky is not None:
            sticky.on_append(acc.last_append_size, acc.last_append_full)
        return future

    def _topic_partitions(self, topic: str, partition: int | None) -> list[TopicPartition]:
        md = self.metadata
        if md.topic_errors.get(topic) == "INVALID_TOPIC_EXCEPTION":
            # Metadata.maybeThrowExceptionForTopic: a broker said the name is invalid (Topic.validate)
            self._awaiting.pop(topic, None)
            raise InvalidTopicError(f"Invalid topics: [{topic}]")
        md.add_topics((topic,))
        if md.partition_count(topic) is None or (partition is not None and partition >= (md.partition_count(topic) or 0)):
            needed = 1 if partition is None else partition + 1
            self._awaiting[topic] = max(needed, self._awaiting.get(topic, 0))
            md.request_update()          # the metadata may be stale (partitions added since): ask again
            self._wakeup_at(self.port.now)

            def known() -> bool:
                n = md.partition_count(topic)
                return (n is not None and (partition is None or partition < n)
                        or md.topic_errors.get(topic) == "INVALID_TOPIC_EXCEPTION")
            raise Blocked(known, functools.partial(self._metadata_error, topic, partition))
        if partition is not None and partition < 0:
            raise Blocked(lambda: False, functools.partial(self._metadata_error, topic, partition))
        return self._refresh_tps(topic)

    def _refresh_tps(self, topic: str) -> list[TopicPartition]:
        n = self.metadata.partition_count(topic) or 0
        tps = self._tps.get(topic)
        if tps is None or len(tps) != n:
            tps = self._tps[topic] = [TopicPartition(topic, p) for p in range(n)]
            self._key_cache.pop(topic, None)
        return tps

    def _metadata_error(self, topic: str, partition: int | None, waited_ms: float) -> KafkaError:
        self._awaiting.pop(topic, None)          # nobody waits any more
        n = self.metadata.partition_count(topic)
        if partition is not None and n is not None:
            return KafkaTimeoutError(f"Partition {partition} of topic {topic} with partition count {n} is not "
                                     f"present in metadata after {waited_ms:g} ms.")
        message = f"Topic {topic} not present in metadata after {waited_ms:g} ms."
        close = difflib.get_close_matches(topic, self._topic_names(), n=1) if self._topic_names is not None else []
        if close and close[0] != topic:
            # kafkalab's addition to Kafka's text: the closest topic that exists (a typo is the usual cause)
            message = f"{message[:-1]}; did you mean {close[0]!r}?"
        return KafkaTimeoutError(message)

    def _buffer_error(self, size: int, waited_ms: float) -> KafkaError:
        return BufferExhaustedError(
            f"Failed to allocate {size} bytes within the configured max blocking time {waited_ms:g} ms. Total "
            f"memory: {self.buffer_memory} bytes. Available memory: {self.accumulator.available_memory} bytes. "
            f"Poolable size: {self.batch_size} bytes")

    def _check_size(self, key: bytes | None, value: bytes | None, headers: tuple[Header, ...]) -> None:
        size = estimate_record_size(key, value, headers)
        if size > self.max_request_size:
            raise MessageTooLargeError(
                f"The message is {size} bytes when serialized which is larger than {self.max_request_size}, which "
                f"is the value of the max.request.size configuration.")
        if size > self.buffer_memory:
            raise MessageTooLargeError(
                f"The message is {size} bytes when serialized which is larger than the total memory buffer you have "
                f"configured with the buffer.memory configuration.")

    def _sticky_for(self, topic: str, n: int) -> StickyPartitioner:
        sticky = self._sticky.get(topic)
        if sticky is None or sticky.num_partitions != n:
            sticky = self._sticky[topic] = StickyPartitioner(n, self.batch_size, self.port.rng(f"partitioner/{topic}"),
                                                             self.adaptive)
            self._available[topic] = self.metadata.available_partitions(topic)
        return sticky

    def fail_send(self, op: int, error: BaseException, callback: DeliveryCallback | None) -> FutureRecordMetadata:
        """A send that never reached a batch: ``fail`` in the history, the callback, a failed future."""
        if self.history is not None and op >= 0:
            self.history.fail(op, self.port.now, error=getattr(error, "error_name", type(error).__name__))
        self._count_error(error)
        if callback is not None:
            callback(None, error)
        return FutureRecordMetadata(None, 0, self, error)

    def _wait(self, predicate: Callable[[], bool], timeout_ms: float | None, what: str) -> None:
        """Drive the simulation until ``predicate()``; KafkaTimeoutError after ``timeout_ms`` (default: the longest
        Kafka lets a send take), ClientCrashedError if this incarnation dies first."""
        if timeout_ms is None:
            timeout_ms = self.delivery_timeout_ms + self.request_timeout_ms
        port = self.port
        if not port.alive:
            raise self._crashed_error(what)
        self.drive(lambda: not port.alive or predicate(), timeout_ms)
        if predicate():
            return
        if not port.alive:
            raise self._crashed_error(what)
        raise KafkaTimeoutError(f"timed out after {timeout_ms:g} ms of virtual time waiting for {what}")

    def _crashed_error(self, what: str) -> ClientCrashedError:
        return ClientCrashedError(f"{self.node_id} crashed while waiting for {what}; the outcome is unknown (the "
                                  f"history records it as info)")

    # -- the sender loop ----------------------------------------------------------------------------------------
    def _on_new_batch(self, batch: ProducerBatch) -> None:
        at = batch.created_ms + self.accumulator.linger_ms
        if at < self._timer_at:
            self._wakeup_at(at)

    def _on_batch_full(self, batch: ProducerBatch) -> None:
        if self._timer_at > self.port.now:
            self._wakeup_at(self.port.now)

    def _wakeup_at(self, at_ms: float) -> None:
        if at_ms >= self._timer_at or self.closed and not self.accumulator.incomplete:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at_ms
        self._timer = self.port.set_timer(max(0.0, at_ms - self.port.now), self._run_once, name="sender")

    def wakeup(self) -> None:
        self._wakeup_at(self.port.now)

    def _run_once(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        port = self.port
        now = port.now
        md = self.metadata
        acc = self.accumulator
        next_ms = float("inf")
        if md.time_to_next_update_ms(now) <= 0 and (md.wanted or not md.brokers):
            self._send_metadata(now)
        txn = self.txn
        if txn is not None:
            txn.on_wakeup()
        elif self.idempotent and (self.producer_id < 0 or self._bump_epoch):
            next_ms = min(next_ms, self._maybe_init_producer_id(now))
        self._expire(now)
        if not self.idempotent or (self.producer_id >= 0 and not self._bump_epoch):
            network = self.network
            for _round in range(network.max_in_flight + 1):
                # Kafka's sender loops runOnce: ready, then one drain per ready broker, until nothing more can go.
                ready, next_check, unknown = acc.ready(md.leader_node, now, self._leader_epoch)
                if unknown:
                    md.add_topics(unknown)
                    md.request_update()
                sent = False
                for node, tps in ready.items():
                    if not network.is_ready(node, now):
                        wait = network.backoff_remaining_ms(node, now)
                        if wait > 0:
                            next_check = min(next_check, wait)
                        continue    # below the in-flight limit again when an answer arrives, which wakes us
                    batches = acc.drain(node, tps, self.max_request_size, now, self._may_send, self._leader_epoch)
                    if batches:
                        self._send_produce(node, batches, now)
                        sent = True
                if not sent:
                    break
            next_ms = min(next_ms, next_check)
            self._update_load()
        md_wait = md.time_to_next_update_ms(now)
        if md.wanted:
            next_ms = min(next_ms, md_wait)
        next_ms = min(next_ms, acc.next_expiry_ms() - now, self._next_in_flight_expiry_ms() - now)
        if next_ms < float("inf"):
            self._wakeup_at(now + max(next_ms, 0.0))

    def _update_load(self) -> None:
        if not self._sticky:
            return
        for topic, sticky in self._sticky.items():
            available = self._available.get(topic)
            if available:
                sticky.update_load(self.accumulator.queue_sizes(topic, available))

    # -- metadata ------------------------------------------------------------------------------------------------
    def _send_metadata(self, now: float) -> None:
        self.network.request_metadata(self.metadata, self.bootstrap, now, self._rng, self._on_metadata)

    def _on_metadata(self, response: Any, error: str | None) -> None:
        now = self.port.now
        if error is not None or not isinstance(response, MetadataResponse):
            self.metadata.failed(now)
        else:
            self.metadata.update(response, now)
            for topic in self._sticky:
                self._available[topic] = self.metadata.available_partitions(topic)
            for topic in list(self._tps):
                self._refresh_tps(topic)
            if self._awaiting:
                self._still_awaiting()
        self.port.record("producer.metadata_refresh", 1, ok=error is None)
        self.wakeup()

    def _still_awaiting(self) -> None:
        """The next round of ``waitOnMetadata`` for each topic a send still waits for: request another update."""
        md = self.metadata
        for topic, needed in list(self._awaiting.items()):
            if (md.partition_count(topic) or 0) >= needed:
                del self._awaiting[topic]
            else:
                md.request_update()

    # -- flush and close -----------------------------------------------------------------------------------------
    def begin_flush(self) -> Callable[[], bool]:
        """Make every batch ready now; a predicate that holds once the batches existing now are all done."""
        acc = self.accumulator
        pending = list(acc.incomplete)
        acc.flushing += 1
        self.wakeup()
        position = [0]

        def flushed() -> bool:
            i = position[0]
            while i < len(pending) and pending[i].done:
                i += 1
            position[0] = i
            return i == len(pending)
        return flushed

    def end_flush(self) -> None:
        self.accumulator.flushing = max(0, self.accumulator.flushing - 1)

    def abort_incomplete(self, reason: str) -> None:
        """Fail every batch not done (a forced close): ``info`` where it may be in the log."""
        now = self.port.now
        for batch in list(self.accumulator.incomplete):
            if batch.done:
                continue
            if batch.in_flight:
                batch.maybe_written = True
            self._fail(batch, KafkaError(reason), now)
        self.accumulator.abort_all()
        for pending in self._in_flight.values():
            pending.clear()

    def abandon(self, reason: str) -> int:
        """This incarnation is gone (crashed): its open operations end as ``info``; returns how many."""
        history = self.history
        count = 0
        now = self.port.now
        for batch in list(self.accumulator.incomplete):
            if batch.done:
                continue
            batch.done = True
            batch.error = ClientCrashedError(reason)
            if history is not None:
                for op in batch.ops:
                    history.info(op, now, error=None)
                    count += 1
        return count

    def unacknowledged_batches(self) -> dict[TopicPartition, int]:
        """Per partition, the batches sent whose outcome is still unknown: in flight (to any broker, the previous
        leader included, and expired ones until their answer or disconnect) or queued for a retry with a sequence."""
        out: dict[TopicPartition, int] = {}
        for tp in self.in_flight_partitions():
            pending = self._in_flight[tp]
            if pending:
                out[tp] = len(pending)
        for tp, dq in self.accumulator.queues.items():
            queued = sum(1 for batch in dq if batch.base_sequence >= 0 and not batch.done)
            if queued:
                out[tp] = out.get(tp, 0) + queued
        return out

    def metrics(self) -> dict[str, Any]:
        """Counters of this incarnation."""
        return {"records_sent": self.records_sent, "batches_sent": self.batches_sent,
                "retried_batches": self.retried_batches, "requests_sent": self.network.requests_sent,
                "disconnects": self.network.disconnects, "errors": dict(self.error_counts),
                "producer_id": self.producer_id, "producer_epoch": self.producer_epoch,
                "buffer_available_bytes": self.accumulator.available_memory,
                **self.network.throttle_metrics("ProduceResponse", "produce")}


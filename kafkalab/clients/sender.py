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

Answers: success completes the batch's futures in order (offset = base offset + index; -1 with acks=0, where the
batch completes as the request is sent) and calls ``on_delivery``. A retriable error re-enqueues the batch after
exponential backoff (``retry.backoff.ms`` doubling up to ``retry.backoff.max.ms``, 20% jitter) while ``retries`` and
``delivery.timeout.ms`` allow; invalid-metadata errors (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ...) and
dropped connections also request a metadata refresh. A batch that ends after an attempt without an answer (timeout,
dropped connection) is ``info`` in the history (it may be in the log); otherwise a failure is ``fail``.

Idempotence (KIP-98, KIP-360): the producer gets an id and epoch (``InitProducerId``) before its first batch; each
partition's batches carry consecutive sequence numbers, assigned when a batch is first drained and kept across retries.
A retried batch is re-enqueued in sequence order and is sent only when no other batch of its partition is in flight,
so the log never sees a gap or a reordering, and the broker answers a resent duplicate with its original offset
(Kafka's ``RecordAccumulator.drain`` drains a retry only when it is the partition's first in-flight sequence). New
batches of a partition wait while one of its retries is in flight, and while it has as many unacknowledged batches as
``max.in.flight.requests.per.connection`` (at most 5), counting those still in flight to a previous leader: the leader
remembers only the producer's last five batches (``NUM_BATCHES_TO_RETAIN``), and a retry older than those could only
ever get OUT_OF_ORDER_SEQUENCE_NUMBER.
OUT_OF_ORDER_SEQUENCE_NUMBER answering a batch behind a failed one is retried; answering the partition's lowest
unacknowledged batch (the broker lost the producer's state) fails that batch and bumps the epoch.

Simplifications (deliberate): an epoch bump (after a fatal sequence error, or after a batch with a sequence expired)
waits for every request in flight, then restarts all partitions' sequences at 0 under the new epoch (Kafka bumps
per partition where it can). Retried batches of one partition go one request at a time (Kafka pipelines them once the
first is through), and no new batch of the partition goes with them. The bound of five unacknowledged batches holds
per partition across brokers (Kafka's comes from the per-connection in-flight limit). A batch rejected with
MESSAGE_TOO_LARGE fails instead of being split. NOT_LEADER_OR_FOLLOWER answers carry no new-leader hint (KIP-951): the
client learns the leader from a metadata refresh. No compression, no transactions, no
``partitioner.availability.timeout.ms``.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from kafkalab.broker.messages import (
    NONE,
    InitProducerIdRequest,
    InitProducerIdResponse,
    MetadataResponse,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
)
from kafkalab.broker.producer_state import NUM_BATCHES_TO_RETAIN
from kafkalab.check.history import History
from kafkalab.clients.accumulator import NeedMemory, ProducerBatch, RecordAccumulator, estimate_record_size
from kafkalab.clients.futures import ClientCrashedError, DeliveryCallback, Drive, FutureRecordMetadata
from kafkalab.clients.metadata import ClientMetadata
from kafkalab.clients.network import NETWORK_EXCEPTION, REQUEST_TIMED_OUT, ClientPort, NetworkClient
from kafkalab.clients.partitioner import StickyPartitioner, partition_for_key
from kafkalab.config import Config
from kafkalab.errors import (
    BufferExhaustedError,
    KafkaError,
    KafkaTimeoutError,
    MessageTooLargeError,
    OutOfOrderSequenceNumberError,
    error_for_name,
)
from kafkalab.log.records import Header

__all__ = ["ProducerCore", "Blocked"]

NodeId = Hashable
_SEQUENCE_MOD = 1 << 31
_KEY_CACHE_LIMIT = 1 << 17
_OUT_OF_ORDER = "OUT_OF_ORDER_SEQUENCE_NUMBER"
_UNKNOWN_PRODUCER = "UNKNOWN_PRODUCER_ID"
_DUPLICATE = "DUPLICATE_SEQUENCE_NUMBER"
#: Answers after which the records may be in the leader's log: appended but not acknowledged by the ISR in time
#: (REQUEST_TIMED_OUT from a delayed produce), appended then the ISR shrank (..._AFTER_APPEND), or unknown.
_MAYBE_APPENDED = frozenset({"REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "UNKNOWN_SERVER_ERROR",
                             NETWORK_EXCEPTION})


class Blocked(Exception):
    """``send()`` must wait: for metadata of a topic or for buffer memory."""

    def __init__(self, predicate: Callable[[], bool], error: Callable[[float], KafkaError]) -> None:
        super().__init__()
        self.predicate = predicate
        self.error = error


class ProducerCore:
    """One incarnation of a producer inside the simulation (accumulator, metadata, sender, idempotence)."""

    def __init__(self, port: ClientPort, config: Config, idempotent: bool, *, bootstrap: Sequence[NodeId],
                 drive: Drive, history: History | None, broker_node: Callable[[int], NodeId] | None = None) -> None:
        self.port = port
        self.node_id = port.node_id
        self.config = config
        self.idempotent = idempotent
        self.drive = drive
        self.history = history
        self.bootstrap = list(bootstrap)
        self.acks = {"all": -1, "1": 1, "0": 0}[config["acks"]]
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
        self._key_cache: dict[str, dict[bytes, int]] = {}    # key -> partition, per topic (murmur2 is slow here)
        self._size_unchecked = min(self.max_request_size, self.buffer_memory) - 128
        self._sticky: dict[str, StickyPartitioner] = {}
        self._available: dict[str, list[int]] = {}
        self._in_flight: dict[TopicPartition, list[ProducerBatch]] = {}
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
        md.add_topics((topic,))
        if md.partition_count(topic) is None or (partition is not None and partition >= (md.partition_count(topic) or 0)):
            self._wakeup_at(self.port.now)

            def known() -> bool:
                n = md.partition_count(topic)
                return n is not None and (partition is None or partition < n)
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
        n = self.metadata.partition_count(topic)
        if partition is not None and n is not None:
            return KafkaTimeoutError(f"Partition {partition} of topic {topic} with partition count {n} is not "
                                     f"present in metadata after {waited_ms:g} ms.")
        return KafkaTimeoutError(f"Topic {topic} not present in metadata after {waited_ms:g} ms.")

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
        if self.idempotent and (self.producer_id < 0 or self._bump_epoch):
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

    def _may_send(self, batch: ProducerBatch) -> bool:
        """Idempotence keeps a partition's sequences in order and within the leader's memory of the producer.

        A batch that already has a sequence (a retry) goes only when nothing else of its partition is in flight. A
        new batch waits while a retry of its partition is in flight (a retry goes alone), and while the partition
        has ``max.in.flight.requests.per.connection`` batches in flight, to any broker: after a leader change the
        requests to the previous leader stay unacknowledged until they are answered or time out, and a sixth batch
        would push the oldest out of the five the new leader remembers (``NUM_BATCHES_TO_RETAIN``), so its retry
        could only get OUT_OF_ORDER_SEQUENCE_NUMBER. (A batch put back for a retry is queued ahead of every new
        batch, so a new batch at the head of its queue means the partition's unacknowledged batches are the ones
        in flight.)"""
        if not self.idempotent:
            return True
        pending = self._in_flight.get(batch.tp)
        if not pending:
            return True
        if batch.base_sequence >= 0 or len(pending) >= self._max_unacked:
            return False
        for other in pending:
            if other.attempts:
                return False
        return True

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
        self.port.record("producer.metadata_refresh", 1, ok=error is None)
        self.wakeup()

    # -- idempotence ---------------------------------------------------------------------------------------------
    def _maybe_init_producer_id(self, now: float) -> float:
        """Ask for a producer id (or an epoch bump once nothing is in flight); the wait before trying again."""
        if self._init_in_flight:
            return float("inf")
        if self._bump_epoch and any(self._in_flight.values()):
            return float("inf")      # answers wake us
        if now < self._init_retry_at:
            return self._init_retry_at - now
        nodes = list(self.metadata.brokers.values()) or self.bootstrap
        node = self.network.least_loaded(nodes, now, self._rng)
        if node is None:
            return max(self.retry_backoff_ms, self.network.min_backoff_remaining_ms(nodes, now))
        pid, epoch = (self.producer_id, self.producer_epoch) if self._bump_epoch else (-1, -1)
        self._init_in_flight = True
        self.network.send(node, lambda cid: InitProducerIdRequest(None, 60_000, pid, epoch, cid),
                          self._on_init_producer_id)
        return float("inf")

    def _on_init_producer_id(self, response: Any, error: str | None) -> None:
        self._init_in_flight = False
        now = self.port.now
        if error is None and isinstance(response, InitProducerIdResponse) and response.error == NONE:
            self.producer_id = response.producer_id
            self.producer_epoch = response.producer_epoch
            self._init_attempts = 0
            if self._bump_epoch:
                self._reset_sequences()
            self._bump_epoch = False
            self.port.record("producer.producer_id", self.producer_id, epoch=self.producer_epoch)
        else:
            self._init_attempts += 1
            self._init_retry_at = now + self._backoff_ms(self._init_attempts)
            self.metadata.request_update()
        self.wakeup()

    def _reset_sequences(self) -> None:
        """A new epoch: every partition's sequence starts again at 0; batches never sent get new ones.

        A queued batch that was sent before and may be in the log already (its answer was lost) cannot be resent
        under the new epoch: the broker could not recognise it and would append it twice. It fails instead, with
        its outcome unknown, as Kafka fails a batch whose sequence is unresolved when it bumps the epoch."""
        self._next_sequence.clear()
        self._last_acked.clear()
        now = self.port.now
        for dq in self.accumulator.queues.values():
            unresolved = [batch for batch in dq if batch.maybe_written and not batch.done]
            for batch in unresolved:
                dq.remove(batch)
                self._fail(batch, OutOfOrderSequenceNumberError(
                    f"batch of {len(batch.records)} record(s) for {batch.tp[0]}-{batch.tp[1]} may have been "
                    f"written under the previous producer epoch; not resent under the new one"), now)
            for batch in dq:
                batch.base_sequence = -1
                batch.built = None

    def _request_epoch_bump(self) -> None:
        if self.idempotent and not self._bump_epoch:
            self._bump_epoch = True
            self.port.record("producer.epoch_bump", 1)

    # -- produce requests ----------------------------------------------------------------------------------------
    def _send_produce(self, node: NodeId, batches: list[ProducerBatch], now: float) -> None:
        wire = {}
        pid, epoch = self.producer_id, self.producer_epoch
        records = 0
        size = 0
        for batch in batches:
            tp = batch.tp
            if self.idempotent:
                if batch.base_sequence < 0:
                    seq = self._next_sequence.get(tp, 0)
                    batch.base_sequence = seq
                    self._next_sequence[tp] = (seq + len(batch.records)) % _SEQUENCE_MOD
                wire[tp] = batch.build(pid, epoch, batch.base_sequence)
            else:
                wire[tp] = batch.build(-1, -1, -1)
            batch.producer_id, batch.producer_epoch = pid, epoch
            batch.last_attempt_ms = now
            batch.in_flight = True
            self._in_flight.setdefault(tp, []).append(batch)
            records += len(batch.records)
            size += batch.size_bytes
        acks = self.acks
        timeout = int(self.request_timeout_ms)
        self.network.send(node, lambda cid: ProduceRequest(acks, timeout, wire, cid),
                          functools.partial(self._on_produce_response, batches), expect_response=acks != 0)
        self.records_sent += records
        self.batches_sent += len(batches)
        self.port.record("producer.request", records, batches=len(batches), bytes=size, broker=str(node))
        if acks == 0:
            for batch in batches:
                self._done_in_flight(batch)
                self._complete(batch, -1, -1, now)

    def _done_in_flight(self, batch: ProducerBatch) -> None:
        batch.in_flight = False
        pending = self._in_flight.get(batch.tp)
        if pending:
            try:
                pending.remove(batch)
            except ValueError:
                pass

    def _on_produce_response(self, batches: list[ProducerBatch], response: Any, error: str | None) -> None:
        now = self.port.now
        for batch in batches:
            self._done_in_flight(batch)
            if batch.done:
                continue      # expired while in flight; the answer comes too late
            if error is not None:
                batch.maybe_written = True
                self._fail_or_retry(batch, error, now)
                continue
            part = response.responses.get(batch.tp) if isinstance(response, ProduceResponse) else None
            if part is None:
                batch.maybe_written = True
                self._fail_or_retry(batch, NETWORK_EXCEPTION, now)
            elif part.error == NONE or part.error == _DUPLICATE:
                self._complete(batch, part.base_offset, part.log_append_time_ms, now)
            else:
                self._fail_or_retry(batch, part.error, now, part.error_message)
        self.wakeup()

    def _fail_or_retry(self, batch: ProducerBatch, error: str, now: float, message: str | None = None) -> None:
        cls = error_for_name(error)
        if error in _MAYBE_APPENDED:
            batch.maybe_written = True
        self.error_counts[error] = self.error_counts.get(error, 0) + 1
        self.port.record("producer.errors", 1, error=error, topic=batch.tp[0], partition=batch.tp[1])
        if cls.invalid_metadata or error in (REQUEST_TIMED_OUT, NETWORK_EXCEPTION):
            self.metadata.request_update()
        retriable = cls.retriable
        if self.idempotent and error in (_OUT_OF_ORDER, _UNKNOWN_PRODUCER):
            first_unacked = self._last_acked.get(batch.tp, -1) + 1
            if batch.base_sequence == first_unacked % _SEQUENCE_MOD:
                self._request_epoch_bump()     # the broker lost our state: this batch fails, the epoch moves on
                retriable = False
            else:
                retriable = True               # behind a batch that failed: resend in order
        if (retriable and batch.attempts < self.retries and now < batch.created_ms + self.delivery_timeout_ms
                and not self.closed):
            batch.attempts += 1
            batch.retry_at_ms = now + self._backoff_ms(batch.attempts)
            batch.retry_leader_epoch = self._leader_epoch(batch.tp)
            self.accumulator.reenqueue(batch, self.idempotent)
            self.retried_batches += 1
            self.port.record("producer.retries", 1, error=error, topic=batch.tp[0], partition=batch.tp[1])
            return
        if retriable and self.idempotent and batch.base_sequence >= 0:
            self._request_epoch_bump()   # a sequence that may or may not be in the log: start a new epoch
        self._fail(batch, cls(message) if message else cls(), now)

    def _leader_epoch(self, tp: TopicPartition) -> int:
        """The leader epoch the metadata names for ``tp`` (-1 when unknown)."""
        info = self.metadata.partition(tp)
        return -1 if info is None else info.leader_epoch

    def _backoff_ms(self, attempts: int) -> float:
        """Kafka's ``ExponentialBackoff``: retry.backoff.ms * 2^(attempts-1), capped, with 20% jitter."""
        base = min(self.retry_backoff_max_ms, self.retry_backoff_ms * 2 ** max(0, attempts - 1))
        if base <= 0:
            return 0.0
        jitter = 0.2 * base * (2 * self._rng.random() - 1)
        return float(max(0.0, min(self.retry_backoff_max_ms * 1.2, base + jitter)))

    # -- completion ----------------------------------------------------------------------------------------------
    def _complete(self, batch: ProducerBatch, base_offset: int, log_append_time_ms: int, now: float) -> None:
        batch.done = True
        batch.base_offset = base_offset if self.acks != 0 else -1
        batch.log_append_time_ms = log_append_time_ms
        self.accumulator.release(batch)
        if self.idempotent and batch.base_sequence >= 0:
            last = batch.base_sequence + len(batch.records) - 1
            if last > self._last_acked.get(batch.tp, -1):
                self._last_acked[batch.tp] = last
        history = self.history
        if history is not None:
            history.ok_sends(batch.ops, now, self.node_id, batch.tp[0], batch.tp[1], batch.records,
                             base_offset if base_offset >= 0 and self.acks != 0 else -1)
        self.port.record("producer.acked", len(batch.records), topic=batch.tp[0], partition=batch.tp[1],
                         latency_ms=now - batch.created_ms)
        if batch.callbacks:
            for index, callback in batch.callbacks:
                callback(batch.metadata(index), None)

    def _fail(self, batch: ProducerBatch, error: KafkaError, now: float) -> None:
        batch.done = True
        batch.error = error
        self.accumulator.release(batch)
        history = self.history
        if history is not None:
            record = history.info if batch.maybe_written else history.fail
            for op in batch.ops:
                record(op, now, error=error.error_name)
        self._count_error(error)
        self.port.record("producer.failed", len(batch.records), error=error.error_name, topic=batch.tp[0],
                         partition=batch.tp[1])
        if batch.callbacks:
            for _index, callback in batch.callbacks:
                callback(None, error)

    def _count_error(self, error: BaseException) -> None:
        name = getattr(error, "error_name", type(error).__name__)
        self.error_counts[name] = self.error_counts.get(name, 0) + 1

    def _expire(self, now: float) -> None:
        for batch in self.accumulator.expired(now):
            self._expire_one(batch, now)
        for pending in self._in_flight.values():
            for batch in pending:
                if not batch.done and batch.created_ms + self.delivery_timeout_ms <= now:
                    batch.maybe_written = True
                    self._expire_one(batch, now)

    def _expire_one(self, batch: ProducerBatch, now: float) -> None:
        if batch.base_sequence >= 0:
            self._request_epoch_bump()
        elapsed = now - batch.created_ms
        self._fail(batch, KafkaTimeoutError(
            f"Expiring {len(batch.records)} record(s) for {batch.tp[0]}-{batch.tp[1]}:{elapsed:g} ms has passed "
            f"since batch creation"), now)

    def _next_in_flight_expiry_ms(self) -> float:
        oldest = float("inf")
        for pending in self._in_flight.values():
            for batch in pending:
                if not batch.done and batch.created_ms < oldest:
                    oldest = batch.created_ms
        return oldest + self.delivery_timeout_ms

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
        for tp, pending in self._in_flight.items():
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
                "buffer_available_bytes": self.accumulator.available_memory}

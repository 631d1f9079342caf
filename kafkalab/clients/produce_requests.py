"""A produce request's life in the producer: sent, answered, retried, completed or expired (Kafka's
``Sender.sendProduceRequest``, ``Sender.handleProduceResponse``, ``completeBatch``, ``failBatch`` and the expiry of
``RecordAccumulator.expiredBatches`` / ``Sender.getExpiredInflightBatches``).

How it works. The sender loop drains batches into one ``ProduceRequest`` per broker; each batch is then in flight
until its answer. Success completes the batch's futures in order (offset = base offset + index; -1 with acks=0, where
the batch completes as the request is sent) and calls ``on_delivery``. A retriable error re-enqueues the batch after
exponential backoff (``retry.backoff.ms`` doubling up to ``retry.backoff.max.ms``, 20% jitter) while ``retries`` and
``delivery.timeout.ms`` allow; invalid-metadata errors (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ...) and
dropped connections also request a metadata refresh. A batch that ends after an attempt without an answer (timeout,
dropped connection) is ``info`` in the history (it may be in the log); otherwise a failure is ``fail``. A batch past
``delivery.timeout.ms`` expires, queued or in flight (an answer that comes later is ignored).

Simplifications (deliberate): a batch rejected with MESSAGE_TOO_LARGE fails instead of being split.
NOT_LEADER_OR_FOLLOWER answers carry no new-leader hint (KIP-951): the client learns the leader from a metadata
refresh.

:class:`ProduceRequestsMixin` is one part of :class:`~kafkalab.clients.sender.ProducerCore`, not an object of its
own: its state (batches in flight, counters) lives on the core, set up by ``ProducerCore.__init__``.
"""
from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any

from kafkalab.check.history import History
from kafkalab.clients.accumulator import ProducerBatch
from kafkalab.clients.idempotence import IdempotenceMixin
from kafkalab.clients.network import NETWORK_EXCEPTION, REQUEST_TIMED_OUT
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import KafkaError, KafkaTimeoutError, error_for_name
from kafkalab.protocol.common import NONE
from kafkalab.protocol.produce import ProduceRequest, ProduceResponse

__all__ = ["ProduceRequestsMixin"]

NodeId = Hashable
_OUT_OF_ORDER = "OUT_OF_ORDER_SEQUENCE_NUMBER"
_UNKNOWN_PRODUCER = "UNKNOWN_PRODUCER_ID"
_DUPLICATE = "DUPLICATE_SEQUENCE_NUMBER"
#: Answers after which the records may be in the leader's log: appended but not acknowledged by the ISR in time
#: (REQUEST_TIMED_OUT from a delayed produce), appended then the ISR shrank (..._AFTER_APPEND), or unknown.
_MAYBE_APPENDED = frozenset({"REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "UNKNOWN_SERVER_ERROR",
                             NETWORK_EXCEPTION})


class ProduceRequestsMixin(IdempotenceMixin):
    """Produce requests, their answers, retries, completion and expiry for a
    :class:`~kafkalab.clients.sender.ProducerCore`."""

    # Set by ProducerCore.__init__ (besides those IdempotenceMixin names).
    history: History | None
    node_id: Hashable
    acks: int
    client_id: str
    request_timeout_ms: float
    delivery_timeout_ms: float
    retries: int
    retry_backoff_max_ms: float
    closed: bool
    records_sent: int
    batches_sent: int
    retried_batches: int
    error_counts: dict[str, int]
    txn: Any

    # -- produce requests ----------------------------------------------------------------------------------------
    def _send_produce(self, node: NodeId, batches: list[ProducerBatch], now: float) -> None:
        wire = {}
        pid, epoch = self.producer_id, self.producer_epoch
        txn = self.txn
        records = 0
        size = 0
        for batch in batches:
            tp = batch.tp
            if self.idempotent:
                built = wire[tp] = batch.build(pid, epoch, self._sequence_for(batch))
                if txn is not None and not built.is_transactional:
                    object.__setattr__(built, "is_transactional", True)
            else:
                wire[tp] = batch.build(-1, -1, -1)
            batch.producer_id, batch.producer_epoch = pid, epoch
            batch.last_attempt_ms = now
            batch.in_flight = True
            pending = self._in_flight.get(tp)
            if pending is None:
                pending = self._in_flight[tp] = []
                if tp not in self._in_flight_index:
                    self._in_flight_index[tp] = len(self._in_flight_index)
            pending.append(batch)
            records += len(batch.records)
            size += batch.size_bytes
        acks = self.acks
        timeout = int(self.request_timeout_ms)
        tid = None if txn is None else txn.transactional_id
        client_id = self.client_id
        self.network.send(node, lambda cid: ProduceRequest(acks, timeout, wire, cid, tid, client_id),
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
            if not pending:
                # only partitions with batches in flight stay, so a wake-up's expiry check costs what is in flight
                del self._in_flight[batch.tp]

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
            retriable = self._retry_sequence_error(batch)
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
        elif self.idempotent and batch.base_sequence >= 0 and error not in (_OUT_OF_ORDER, _UNKNOWN_PRODUCER):
            self._sequence_gap(batch)    # refused, so not in the log: its sequence must not be a gap
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
            self._acked_sequence(batch)
        history = self.history
        if self.txn is not None and base_offset >= 0:
            self.txn.record_write(batch.tp[0], batch.tp[1], base_offset, batch.records)
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
        if self.txn is not None:
            self.txn.abortable(error)
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
        if self._next_in_flight_expiry_ms() > now:
            return
        for tp in self.in_flight_partitions():
            for batch in self._in_flight[tp]:
                if not batch.done and batch.created_ms + self.delivery_timeout_ms <= now:
                    batch.maybe_written = True
                    self._expire_one(batch, now)

    def in_flight_partitions(self) -> list[TopicPartition]:
        """Partitions with batches in flight, in the order they first had one."""
        index = self._in_flight_index
        return sorted(self._in_flight, key=index.__getitem__)

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

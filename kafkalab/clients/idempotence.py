"""The idempotent producer's bookkeeping: producer id, epoch and per-partition sequences (Kafka's
``TransactionManager``, its idempotence half).

How it works (KIP-98, KIP-360). The producer gets an id and epoch (``InitProducerId``) before its first batch; each
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

A batch the leader refused (not a sequence error) leaves a gap: an idempotent producer bumps the epoch, a transactional
one moves the partition's later sequences down (:meth:`IdempotenceMixin._sequence_gap`).

Simplifications (deliberate): an epoch bump (after a fatal sequence error, or after a batch with a sequence expired)
waits for every request in flight, then restarts all partitions' sequences at 0 under the new epoch (Kafka bumps
per partition where it can). Retried batches of one partition go one request at a time (Kafka pipelines them once the
first is through), and no new batch of the partition goes with them. The bound of five unacknowledged batches holds
per partition across brokers (Kafka's comes from the per-connection in-flight limit). The transaction half is
:mod:`kafkalab.clients.transactions`.

:class:`IdempotenceMixin` is one part of :class:`~kafkalab.clients.sender.ProducerCore`, not an object of its own:
its state lives on the core (``ProducerCore.__init__`` sets it up), so the attributes the facade and the tests read
(``producer_id``, ``producer_epoch``) stay plain attributes and the sender loop reaches them without a hop.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from random import Random
from typing import Any

from kafkalab.clients.accumulator import ProducerBatch, RecordAccumulator
from kafkalab.clients.metadata import ClientMetadata
from kafkalab.clients.network import ClientPort, NetworkClient
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.errors import KafkaError, OutOfOrderSequenceNumberError
from kafkalab.protocol.common import NONE
from kafkalab.protocol.txn import InitProducerIdRequest, InitProducerIdResponse

__all__ = ["IdempotenceMixin"]

#: Sequence numbers wrap at 2^31 (an int32 on the wire).
_SEQUENCE_MOD = 1 << 31


class IdempotenceMixin:
    """Producer id, epoch and sequences of a :class:`~kafkalab.clients.sender.ProducerCore` (``TransactionManager``)."""

    # Set by ProducerCore.__init__.
    port: ClientPort
    idempotent: bool
    bootstrap: list[Hashable]
    metadata: ClientMetadata
    network: NetworkClient
    accumulator: RecordAccumulator
    retry_backoff_ms: float
    _rng: Random
    _in_flight: dict[TopicPartition, list[ProducerBatch]]
    _in_flight_index: dict[TopicPartition, int]
    _max_unacked: int
    producer_id: int
    producer_epoch: int
    _next_sequence: dict[TopicPartition, int]
    _last_acked: dict[TopicPartition, int]
    _init_in_flight: bool
    _init_retry_at: float
    _init_attempts: int
    _bump_epoch: bool
    # Defined by ProducerCore and ProduceRequestsMixin.
    wakeup: Callable[[], None]
    _backoff_ms: Callable[[int], float]
    _fail: Callable[[ProducerBatch, KafkaError, float], None]
    txn: Any

    # -- what may be drained (RecordAccumulator.drain asks per batch) ---------------------------------------------
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
        txn = self.txn
        if txn is not None and not txn.may_send(batch.tp):
            return False
        pending = self._in_flight.get(batch.tp)
        if not pending:
            return True
        if batch.base_sequence >= 0 or len(pending) >= self._max_unacked:
            return False
        for other in pending:
            if other.attempts:
                return False
        return True

    # -- producer id and epoch (InitProducerId) --------------------------------------------------------------------
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
        if self.txn is not None:
            return      # a transactional producer aborts instead; the epoch moves with InitProducerId or EndTxn
        if self.idempotent and not self._bump_epoch:
            self._bump_epoch = True
            self.port.record("producer.epoch_bump", 1)

    # -- sequences (called per batch by ProduceRequestsMixin) ----------------------------------------------------
    def _sequence_for(self, batch: ProducerBatch) -> int:
        """The batch's base sequence: the partition's next one when it is first drained, the same on every retry."""
        if batch.base_sequence < 0:
            seq = self._next_sequence.get(batch.tp, 0)
            batch.base_sequence = seq
            self._next_sequence[batch.tp] = (seq + len(batch.records)) % _SEQUENCE_MOD
        return batch.base_sequence

    def _acked_sequence(self, batch: ProducerBatch) -> None:
        """The batch (which has a sequence) is acknowledged: its partition's last acknowledged sequence moves up."""
        last = batch.base_sequence + len(batch.records) - 1
        if last > self._last_acked.get(batch.tp, -1):
            self._last_acked[batch.tp] = last

    def _retry_sequence_error(self, batch: ProducerBatch) -> bool:
        """OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID: whether the batch may be retried.

        For the partition's lowest unacknowledged batch the broker lost the producer's state: the batch fails and the
        epoch moves on. A batch behind one that failed is resent in order, and so is a batch whose sequence moved
        down after an earlier one failed (it went out with its old one: Kafka's ``sequenceHasBeenReset``)."""
        if batch.sequence_reset:
            return True
        first_unacked = self._last_acked.get(batch.tp, -1) + 1
        if batch.base_sequence == first_unacked % _SEQUENCE_MOD:
            self._request_epoch_bump()
            return False
        return True

    def _sequence_gap(self, batch: ProducerBatch) -> None:
        """A batch with a sequence failed with an error that means the leader refused it (MESSAGE_TOO_LARGE,
        INVALID_TXN_STATE, ...): its sequences are not in the log, and a later batch would meet a gap there
        (Kafka's ``TransactionManager.handleFailedBatch`` with ``adjustSequenceNumbers``).

        An idempotent producer starts a new epoch (Kafka bumps the partition's). A transactional one keeps its epoch
        for the transaction, so the partition's later sequences move down by the batch's record count, queued and in
        flight (those in flight get OUT_OF_ORDER_SEQUENCE_NUMBER and are resent with the new one), as
        ``TxnPartitionEntry.adjustSequencesDueToFailedBatch``."""
        if self.txn is None:
            self._request_epoch_bump()
            return
        tp, base, count = batch.tp, batch.base_sequence, len(batch.records)
        nxt = self._next_sequence.get(tp)
        if nxt is None or nxt < base + count:
            return          # the partition's sequences were started again meanwhile (a new epoch)
        self._next_sequence[tp] = nxt - count
        later = [b for b in self._in_flight.get(tp, ()) if b is not batch]
        later += [b for b in self.accumulator.queues.get(tp, ()) if b is not batch]
        for other in later:
            if not other.done and other.base_sequence > base:
                other.base_sequence -= count
                other.sequence_reset = True

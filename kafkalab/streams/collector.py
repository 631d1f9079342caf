"""The record collector and the commit path of a stream thread (Kafka's ``RecordCollectorImpl``,
``StreamsProducer`` and ``TaskExecutor.commitOffsetsOrTransaction``).

How it works. :class:`ProducerCollector` hands every record a task produces (sink, changelog, repartition) to the
thread's producer core without blocking: a record that must wait for metadata is queued, in order, and retried on
the next thread loop. Delivery callbacks keep, per changelog partition, the offset of the last acknowledged write
(what a checkpoint records) and the first send error (which fails the thread, as Kafka's ``RecordCollectorImpl``
re-throws it at the next send or flush).

The commit path is the seam for exactly-once. :class:`AtLeastOnceCommit` is ``processing.guarantee=at_least_once``:
flush the producer (every record sent so far acknowledged), *then* commit the consumed offsets with the group.
Committing offsets only after the output is durable is the whole guarantee: a crash between the two re-processes
the records since the last commit, so output and changelog get duplicates, never holes. ``exactly_once_v2``
(KIP-447) plugs in here as another class with the same two calls: ``begin`` opens a transaction before the first
send of a commit interval, and ``commit`` sends the offsets to the transaction (``send_offsets_to_transaction`` with
the consumer's group metadata) and commits it, so output, changelog writes and offsets become visible together:
:class:`~kafkalab.streams.eos.ExactlyOnceV2Commit`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.clients.sender import Blocked
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.streams.errors import StreamsException

__all__ = ["ProducerCollector", "AtLeastOnceCommit"]


class ProducerCollector:
    """Sends records through a :class:`~kafkalab.clients.sender.ProducerCore` without blocking."""

    def __init__(self, producer: Any, history: Any = None, node_id: Any = None) -> None:
        self.producer = producer
        self.history = history
        self.node_id = node_id
        self._queued: list[tuple[str, bytes | None, bytes | None, int, int | None, Any]] = []
        self.acked_offsets: dict[TopicPartition, int] = {}       # partition -> last acknowledged offset
        self.error: BaseException | None = None
        self.sent = 0
        self._flushed: Callable[[], bool] | None = None
        self._flush_sent = 0        # records handed to the producer when the flush began
        #: called before each record is handed to the producer (EOS: opens the transaction)
        self.before_send: Callable[[], None] | None = None

    def partitions_for(self, topic: str) -> int | None:
        return self.producer.metadata.partition_count(topic)

    def send(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, partition: int | None,
             headers: Any) -> None:
        if self.error is not None:
            raise StreamsException(f"Error encountered sending record to topic {topic}: {self.error}")
        if self._queued:
            self._queued.append((topic, key, value, timestamp, partition, headers))
            return
        if not self._try(topic, key, value, timestamp, partition, headers):
            self._queued.append((topic, key, value, timestamp, partition, headers))

    def _try(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, partition: int | None,
             headers: Any) -> bool:
        core = self.producer
        if self.before_send is not None:
            self.before_send()
        op = self.history.invoke_send(core.port.now, self.node_id, topic, key, value) \
            if self.history is not None else -1
        try:
            core.try_send(op, topic, key, value, partition, timestamp, tuple(headers or ()), self._on_delivery)
        except Blocked:
            if self.history is not None and op >= 0:
                self.history.info(op, core.port.now)
            return False
        self.sent += 1
        return True

    def _on_delivery(self, metadata: Any, error: BaseException | None) -> None:
        if error is not None:
            if self.error is None:
                self.error = error
            return
        tp = TopicPartition(metadata.topic, metadata.partition)
        if metadata.offset > self.acked_offsets.get(tp, -1):
            self.acked_offsets[tp] = metadata.offset

    def retry_queued(self) -> None:
        """Send what waited for metadata, in order, as far as it goes."""
        while self._queued:
            if not self._try(*self._queued[0]):
                return
            self._queued.pop(0)

    @property
    def queued(self) -> int:
        return len(self._queued)

    def begin_flush(self) -> None:
        self.retry_queued()
        self._flushed = self.producer.begin_flush()
        self._flush_sent = self.sent

    def flushed(self) -> bool:
        """Whether every record handed over so far is acknowledged (and nothing is still queued).

        Records that waited in the queue and went to the producer after :meth:`begin_flush` (from here or from the
        thread's loop) are waited for too: they belong to what is being committed (Kafka's ``send`` blocks until
        it is handed over, so its ``flush`` covers them), and a commit that ran ahead of them would commit the
        input offsets without the output (under exactly-once, they would reach the broker after the transaction
        ended, and be fenced)."""
        self.retry_queued()
        if self._queued or self._flushed is None:
            return False
        if self.sent != self._flush_sent:
            self.producer.end_flush()
            self._flushed = self.producer.begin_flush()
            self._flush_sent = self.sent
        if not self._flushed():
            return False
        self.producer.end_flush()
        self._flushed = None
        return True


class AtLeastOnceCommit:
    """``at_least_once``: flush the producer, then commit offsets (see the module docstring)."""

    name = "at_least_once"

    def begin(self, collector: ProducerCollector) -> None:
        """Called before the first send of a commit interval (a transaction begins here under EOS)."""

    def start_commit(self, collector: ProducerCollector) -> None:
        collector.begin_flush()

    def ready(self, collector: ProducerCollector) -> bool:
        return collector.flushed()

    def commit(self, group: Any, offsets: dict[TopicPartition, int], deadline_ms: float,
               done: Callable[[Any], None]) -> None:
        group.commit({tp: OffsetAndMetadata(o) for tp, o in sorted(offsets.items())}, done, deadline_ms=deadline_ms)

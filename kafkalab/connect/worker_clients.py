"""The Kafka clients a worker runs inside the simulation: a non-blocking producer, ``KafkaBasedLog`` and the
in-process admin that creates the internal topics (Kafka's ``KafkaBasedLog``, ``TopicAdmin``).

How it works. :class:`WorkerProducer` wraps a :class:`~kafkalab.clients.sender.ProducerCore`: ``send`` appends at
once or, when the producer must wait (metadata of a new topic, buffer memory), queues the record and tries again
whenever the producer hears from a broker; nothing blocks, because a worker is a process of the simulation.
Records are sent with ``acks=all``, one request in flight per broker and an unbounded delivery timeout, the settings
Kafka's ``Worker.baseProducerConfigs`` forces, so a source task's records are retried until they land.

:class:`KafkaBasedLog` reads every partition of one topic from the beginning with a group-less
:class:`~kafkalab.clients.fetcher.ConsumerCore` and hands each record to a callback as it arrives (woken by the
fetch answers, no polling timer); ``caught_up()`` is Kafka's ``readToEnd`` test (every partition fetched at least
once and read up to its high watermark). Writes go through the worker's internal producer. A ``read_committed``
log (the offsets topics when exactly-once sources are enabled) reads to its *last stable offset* instead: its end is
what ``ListOffsets(LATEST)`` with isolation level read_committed answers, as Kafka's ``readToEnd`` asks the
consumer's ``endOffsets``, so an open transaction of another task does not hold the reader back.

:class:`TopicAdmin` sends ``CreateTopics`` to the controllers (the active one answers; NOT_CONTROLLER or silence
moves to the next), like Kafka's worker creating its internal topics with an admin client. An existing topic must
have ``cleanup.policy=compact`` (``verifyTopicCleanupPolicyOnlyCompact``); kafkalab has no DescribeConfigs RPC, so
the policy is read through ``describe_policy`` (the cluster's metadata image), a named simplification.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kafkalab.clients.fetcher import ConsumerCore
from kafkalab.clients.producer import producer_config
from kafkalab.clients.sender import Blocked, ProducerCore
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.common.types import ConsumerRecord
from kafkalab.config import resolve
from kafkalab.connect.mux import Mux
from kafkalab.errors import KafkaError
from kafkalab.protocol import admin as cm
from kafkalab.protocol.list_offsets import LATEST_TIMESTAMP, ListOffsetsRequest, ListOffsetsResponse

__all__ = ["WorkerProducer", "KafkaBasedLog", "TopicAdmin", "no_drive"]

_INT_MAX = 2**31 - 1
_RETRY_MS = 50.0


def no_drive(predicate: Callable[[], bool], timeout_ms: float) -> bool:
    """Clients inside a worker never block: a drive request is a bug in the worker."""
    raise RuntimeError("a Connect worker's client tried to block inside the simulation")


class WorkerProducer:
    """A producer of the worker (Kafka's worker producer settings; ``overrides`` from ``producer.*``)."""

    def __init__(self, mux: Mux, name: str, bootstrap: Sequence[Any], overrides: dict[str, Any] | None = None,
                 *, idempotent: bool = False) -> None:
        cfg = {"acks": "all", "max.in.flight.requests.per.connection": 1, "enable.idempotence": idempotent,
               "delivery.timeout.ms": _INT_MAX, "linger.ms": 0}
        cfg.update(overrides or {})
        config, idem = producer_config(cfg)
        self.port = mux.port(name, self._on_message, self._retry_pending)
        self.core = ProducerCore(self.port, config, idem, bootstrap=bootstrap, drive=no_drive, history=None)
        self.core.metadata.allow_auto_topic_creation = True
        self._pending: list[tuple[Any, ...]] = []
        self._timer: Any = None
        self.sent = 0

    def _on_message(self, src: Any, msg: Any) -> None:
        self.core.on_message(src, msg)

    def send(self, topic: str, key: bytes | None, value: bytes | None, callback: Callable[[Any, Any], None],
             headers: tuple[tuple[str, bytes | None], ...] = (), partition: int | None = None,
             timestamp_ms: int | None = None) -> None:
        """Append one record; ``callback(metadata, error)`` runs when it is acknowledged or failed."""
        item = (topic, key, value, partition, timestamp_ms, headers, callback)
        if self._pending or not self._try(item):
            self._pending.append(item)
            self._arm()

    def _try(self, item: tuple[Any, ...]) -> bool:
        """Append ``item``; False when the producer must wait (the caller queues it)."""
        topic, key, value, partition, ts, headers, callback = item
        try:
            self.core.try_send(-1, topic, key, value, partition, ts, headers, callback)
        except Blocked:
            return False
        except KafkaError as exc:
            callback(None, exc)
        self.sent += 1
        return True

    def _arm(self) -> None:
        if self._timer is None and self.port.alive:
            self._timer = self.port.set_timer(_RETRY_MS, self._on_timer, name="worker-producer-retry")

    def _on_timer(self) -> None:
        self._timer = None
        self._retry_pending()

    def _retry_pending(self) -> None:
        while self._pending:
            if not self._try(self._pending[0]):
                self._arm()
                return
            self._pending.pop(0)

    @property
    def pending(self) -> int:
        """Records waiting to be appended (metadata or memory)."""
        return len(self._pending)


class KafkaBasedLog:
    """Every record of ``topic`` from the start, handed to ``on_record(record)`` as it arrives."""

    def __init__(self, mux: Mux, name: str, topic: str, bootstrap: Sequence[Any],
                 on_record: Callable[[ConsumerRecord], None], on_progress: Callable[[], None], *,
                 read_committed: bool = False) -> None:
        self.topic = topic
        self.on_record = on_record
        self.on_progress = on_progress
        self.read_committed = read_committed
        overrides: dict[str, Any] = {"auto.offset.reset": "earliest", "enable.auto.commit": False}
        if read_committed:
            overrides["isolation.level"] = "read_committed"
        config = resolve("consumer", overrides)
        self.mux = mux
        self.port = mux.port(name, self._on_message, self._after)
        self.core = ConsumerCore(self.port, config, bootstrap=bootstrap, drive=no_drive, history=None)
        self.core.metadata.allow_auto_topic_creation = False
        self.partitions = 0
        self.records_read = 0
        self.started = False
        self._ends: dict[TopicPartition, int] = {}
        self._ends_asked = False
        self.closed = False

    def start(self) -> None:
        """Start reading (once the topic exists)."""
        self.started = True
        self.core.metadata.add_topics((self.topic,))
        self.core.metadata.request_update()
        self.core.wakeup()

    def _on_message(self, src: Any, msg: Any) -> None:
        self.core.on_message(src, msg)

    def _after(self) -> None:
        if self.closed:
            return
        core = self.core
        if not self.partitions:
            n = core.metadata.partition_count(self.topic)
            if n:
                self.partitions = n
                core.set_assignment([TopicPartition(self.topic, p) for p in range(n)])
                if self.read_committed:
                    self._ask_ends()
        if core.has_records():
            for record in core.collect(1 << 30):
                self.records_read += 1
                self.on_record(record)
        self.on_progress()

    def caught_up(self) -> bool:
        """Kafka's ``readToEnd``: every partition fetched and read up to its high watermark (read_committed: up to
        the end offset ListOffsets gave when reading started, the last stable offset then)."""
        if not self.partitions:
            return False
        if self.read_committed:
            if len(self._ends) < self.partitions:
                return False
            for tp, state in self.core.assignment.items():
                if state.position is None or state.position < self._ends[tp]:
                    return False
            return True
        for state in self.core.assignment.values():
            if state.position is None or state.high_watermark < 0 or state.position < state.high_watermark:
                return False
        return True

    def _ask_ends(self) -> None:
        """ListOffsets(LATEST, read_committed) to each partition's leader; unanswered ones are asked again."""
        if self.closed:
            return
        core = self.core
        by_node: dict[Any, dict[TopicPartition, int]] = {}
        missing = False
        for tp in core.assignment:
            if tp in self._ends:
                continue
            leader = core.metadata.leader_node(tp)
            if leader is None:
                missing = True
                continue
            by_node.setdefault(leader, {})[tp] = LATEST_TIMESTAMP
        if missing:
            core.metadata.request_update()
            core.wakeup()
        for node, parts in by_node.items():
            core.network.send(node, lambda cid, parts=parts: ListOffsetsRequest(  # type: ignore[misc]
                parts, isolation_level=1, correlation_id=cid), self._on_ends)
        if missing or not by_node and len(self._ends) < self.partitions:
            self.port.set_timer(_RETRY_MS * 2, self._ask_ends, name="log-end-offsets-retry")

    def _on_ends(self, response: Any, error: str | None) -> None:
        retry = False
        if error is None and isinstance(response, ListOffsetsResponse):
            for tp, part in response.responses.items():
                if part.error == "NONE":
                    self._ends[tp] = part.offset
                else:
                    retry = True
        else:
            retry = True
        if retry:
            self.core.metadata.request_update()
            self.port.set_timer(_RETRY_MS * 2, self._ask_ends, name="log-end-offsets-retry")

    def close(self) -> None:
        """Stop reading (a task's offsets reader, once read to the end)."""
        self.closed = True
        self.core.abandon()
        self.mux.release(self.port)

    def end_offsets(self) -> dict[int, int]:
        return {tp.partition: s.position or 0 for tp, s in self.core.assignment.items()}


class TopicAdmin:
    """Creates topics from inside a worker (CreateTopics to the controllers, like an admin client)."""

    def __init__(self, mux: Mux, name: str, controllers: Sequence[Any],
                 describe_policy: Callable[[str], str | None]) -> None:
        self.port = mux.port(name, self._on_message)
        self.controllers = list(controllers)
        self.describe_policy = describe_policy
        self._next = 0
        self._corr = 0
        self._waiting: dict[int, tuple[cm.CreatableTopic, Callable[[str, str | None], None], Any]] = {}

    def create(self, topic: cm.CreatableTopic, callback: Callable[[str, str | None], None]) -> None:
        """``callback(error_name, message)``: NONE or TOPIC_ALREADY_EXISTS are success (the topic exists)."""
        self._corr += 1
        cid = self._corr + (1 << 32) * self.port.incarnation
        target = self.controllers[self._next % len(self.controllers)]
        request = cm.CreateTopicsRequest((topic,), correlation_id=cid)
        self.port.send(target, request)
        timer = self.port.set_timer(2_000.0, self._timeout, cid, name="admin-timeout")
        self._waiting[cid] = (topic, callback, timer)

    def _timeout(self, cid: int) -> None:
        entry = self._waiting.pop(cid, None)
        if entry is not None:
            self._next += 1
            self.create(entry[0], entry[1])

    def _on_message(self, src: Any, msg: Any) -> None:
        cid = getattr(msg, "correlation_id", None)
        entry = self._waiting.pop(cid, None) if isinstance(cid, int) else None
        if entry is None:
            return
        topic, callback, timer = entry
        timer.cancel()
        result = msg.topics[0] if getattr(msg, "topics", None) else None
        error = getattr(msg, "error", None) or (result.error if result is not None else "UNKNOWN_SERVER_ERROR")
        if error in ("NOT_CONTROLLER", "REQUEST_TIMED_OUT"):
            self._next += 1
            self.port.set_timer(50.0, lambda: self.create(topic, callback), name="admin-retry")
            return
        callback(error, result.error_message if result is not None else None)

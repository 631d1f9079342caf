"""The traffic of the control room: a producer at a set rate and consumer groups, all running inside the simulation.

How it works. The control room's clients must keep working while the simulation advances in slices, so none of them
is driven from outside (``future.result()`` or ``consumer.poll()`` would run the whole world). :class:`ProducerApp`
is an application thread on the producer's own node: a timer every ``tick_ms`` of virtual time that hands
``rate * tick_ms / 1000`` records to ``producer.send`` (fractions carry over to the next tick). It never lets ``send``
block (which would re-enter the simulation from inside an event): while the topic's metadata is unknown or
``buffer.memory`` is nearly exhausted it skips the tick and counts the records it could not offer (``blocked``), as
an application that drops or defers work under back-pressure would. Each acknowledgement and error arrives through
``on_delivery``.

Consumers are :class:`~kafkalab.experiments.consumer_app.ConsumerApp` poll loops (one per member, commits every
second) sharing one :class:`LatencyRecorder` per group: the experiments' ownership recorder, plus the end-to-end
latency of every record processed (processing time minus the record's timestamp, which the producer set when it
called ``send``), as Kafka's ``EndToEndLatency`` tool measures it.

Everything here runs on kernel timers and the node's own RNG-free logic, so the same actions at the same virtual
times give the same trace (:func:`kafkalab.viz.room_model.replay` relies on it).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.experiments.consumer_app import ConsumerApp, GroupRecorder

__all__ = ["ProducerApp", "LatencyRecorder", "ConsumerGroupApps", "CONSUMER_DEFAULTS"]

#: What the room's consumers change from Kafka's defaults: read from the start, commit every second (so the lag
#: plot follows consumption closely), Kafka's classic protocol unless the group asks for another.
CONSUMER_DEFAULTS: dict[str, Any] = {"auto.offset.reset": "earliest", "auto.commit.interval.ms": 1000}
_MIN_FREE_BUFFER_BYTES = 64 * 1024


class ProducerApp:
    """Send ``rate`` records per second of virtual time to ``topic`` from a timer on the producer's node."""

    def __init__(self, producer: Any, topic: str, *, rate: float = 0.0, value_bytes: int = 100,
                 tick_ms: float = 10.0) -> None:
        if tick_ms <= 0:
            raise ValueError(f"tick_ms must be > 0, got {tick_ms!r}")
        self.producer = producer
        self.topic = topic
        self.rate = float(rate)
        self.value = b"x" * int(value_bytes)
        self.tick_ms = float(tick_ms)
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.blocked = 0
        self.errors: dict[str, int] = {}
        self.latencies_ms: list[float] = []     # send -> acknowledgement, drained by the sampler
        self._carry = 0.0
        self._started = False

    def set_rate(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            raise ValueError(f"producer rate must be a number of records per second >= 0, got {rate!r}")
        self.rate = float(rate)

    def start(self) -> None:
        """Start the timer in the producer's current incarnation (idempotent)."""
        if not self._started:
            self._started = True
            self.producer.core.port.set_timer(self.tick_ms, self._tick, name="room:produce")

    def _tick(self) -> None:
        core = self.producer.core
        port = core.port
        if not port.alive or self.producer.closed:
            self._started = False
            return
        port.set_timer(self.tick_ms, self._tick, name="room:produce")
        self._carry += self.rate * self.tick_ms / 1000.0
        n = int(self._carry)
        if n <= 0:
            return
        self._carry -= n
        if (core.metadata.partition_count(self.topic) is None
                or core.accumulator.available_memory < _MIN_FREE_BUFFER_BYTES):
            self.blocked += n
            return
        now = port.now
        for _ in range(n):
            self.sent += 1
            self.producer.send(self.topic, value=self.value, key=None,
                               on_delivery=lambda md, err, t=now: self._delivered(md, err, t))

    def _delivered(self, _metadata: Any, error: BaseException | None, sent_ms: float) -> None:
        if error is None:
            self.acked += 1
            self.latencies_ms.append(self.producer.core.port.now - sent_ms)
        else:
            self.failed += 1
            name = type(error).__name__
            self.errors[name] = self.errors.get(name, 0) + 1


class LatencyRecorder(GroupRecorder):
    """A group's ownership recorder that also keeps each processed record's end-to-end latency (ms)."""

    def __init__(self, kernel: Any, partitions: list[TopicPartition]) -> None:
        super().__init__(kernel, partitions)
        self.latencies_ms: list[float] = []

    def process(self, consumer: str, records: list[Any]) -> None:
        super().process(consumer, records)
        now = float(self.kernel.now)
        self.latencies_ms.extend(now - r.timestamp_ms for r in records)


class ConsumerGroupApps:
    """The members of one consumer group in the room: add one, stop the newest, count what they processed."""

    def __init__(self, cluster: Any, group: str, topic: str, *, config: Mapping[str, Any] | None = None) -> None:
        self.cluster = cluster
        self.group = group
        self.topic = topic
        self.config = {**CONSUMER_DEFAULTS, **dict(config or {}), "group.id": group}
        partitions = cluster.image().topics[topic].partitions
        self.recorder = LatencyRecorder(cluster.kernel, [TopicPartition(topic, p) for p in sorted(partitions)])
        self.apps: list[ConsumerApp] = []

    @property
    def members(self) -> list[str]:
        """Node ids of the members that have not been asked to leave."""
        return [a.name for a in self.apps if not a.stopping]

    def add(self) -> str:
        """Start one more member (a new client node); returns its node id."""
        consumer = self.cluster.consumer(self.config)
        app = ConsumerApp(consumer, self.recorder, process_ms=0.05, idle_poll_ms=20.0)
        app.subscribe([self.topic])
        app.start()
        self.apps.append(app)
        return app.name

    def remove(self) -> str:
        """Stop the newest running member gracefully (commit, LeaveGroup, then its process exits)."""
        running = [a for a in self.apps if not a.stopping]
        if not running:
            raise ValueError(f"group {self.group!r} has no running consumer to remove; add one first")
        app = running[-1]
        cluster = self.cluster
        node = app.consumer.node_id

        def exit_process() -> None:
            cluster.kernel.schedule(50.0, exit_now, name="room:consumer-exit")

        def exit_now() -> None:
            if cluster.is_alive(node):
                cluster.crash(node)

        app.stop_gracefully(exit_process)
        return app.name

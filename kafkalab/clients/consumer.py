"""The consumer a notebook holds: ``KafkaConsumer`` without groups (``assign``, ``seek``, ``position``, ``poll``).

How it works. :class:`KafkaConsumer` lives outside the simulation; ``world.add_node(node_id, factory, server=False)``
makes it a client node whose every incarnation runs a :class:`~kafkalab.clients.fetcher.ConsumerCore` (positions,
offset resets, the long-poll fetcher). ``poll(timeout_ms)`` hands out buffered records at once, else drives the
simulation (the ``drive`` callable, ``kernel.run_until`` by default) until records arrive, an error must be raised,
or ``timeout_ms`` of virtual time passed. ``position()`` drives until the offset reset is done.

Groups come with issue 5: ``subscribe``/``commit``/``committed`` raise NotImplementedError now. They slot in through
``ConsumerCore.set_assignment`` (the one place assignment changes) and ``ConsumerCore.committed_offset`` (where a
position comes from before ``auto.offset.reset``).

History: every ``poll`` is an invoke and an ``ok`` carrying its reads (``fail`` with the error it raised, ``info``
when the client crashed meanwhile); ``assign`` and ``seek`` are recorded with their offsets. A restarted consumer
keeps its assignment, not its positions (there are no committed offsets yet).
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from kafkalab.broker.messages import TopicPartition
from kafkalab.check.history import History
from kafkalab.clients.fetcher import ConsumerCore, PartitionState
from kafkalab.clients.futures import ClientCrashedError, ConsumerRecord, Drive
from kafkalab.clients.metadata import bootstrap_nodes
from kafkalab.config import Config, resolve
from kafkalab.errors import KafkaError, KafkaTimeoutError

__all__ = ["KafkaConsumer", "ConsumerCore", "PartitionState", "GROUPS_NOT_YET"]

NodeId = Hashable
GROUPS_NOT_YET = "consumer groups arrive with issue 5: use assign()"
#: (topic, partition, offset, key, value) of a ConsumerRecord: the history's ReadRecord
_READ_FIELDS = operator.itemgetter(0, 1, 2, 4, 5)


class KafkaConsumer:
    """A consumer on node ``node_id`` of ``world`` (DESIGN.md's ``cluster.consumer(config)``), without groups yet.

    ``world``, ``bootstrap``, ``drive``, ``history`` and ``broker_node`` as for
    :class:`~kafkalab.clients.producer.KafkaProducer`.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, world: Any, bootstrap: Sequence[NodeId],
                 node_id: NodeId = "consumer-1", drive: Drive | None = None, history: History | None = None,
                 broker_node: Callable[[int], NodeId] | None = None) -> None:
        self.config = config if isinstance(config, Config) else resolve("consumer", config)
        self.node_id = node_id
        self.history = history
        self._drive: Drive = drive if drive is not None else world.run_until
        self._bootstrap = bootstrap_nodes(self.config["bootstrap.servers"], bootstrap, broker_node,
                                          getattr(world, "nodes", None))
        self._broker_node = broker_node
        self._core: ConsumerCore | None = None
        self._assigned: list[TopicPartition] = []
        self._closed = False
        world.add_node(node_id, self._start, server=False)

    def _start(self, ctx: Any) -> ConsumerCore:
        old = self._core
        if old is not None:
            old.abandon()
        core = ConsumerCore(ctx, self.config, bootstrap=self._bootstrap, drive=self._drive, history=self.history,
                            broker_node=self._broker_node)
        self._core = core
        if self._assigned:
            core.set_assignment(self._assigned)   # a restarted consumer has its assignment, not its positions
        return core

    @property
    def core(self) -> ConsumerCore:
        if self._core is None:  # pragma: no cover - add_node starts the node at once
            raise RuntimeError(f"consumer {self.node_id!r} has not started")
        return self._core

    def _live_core(self) -> ConsumerCore:
        if self._closed:
            raise RuntimeError("This consumer has already been closed.")
        core = self.core
        if not core.port.alive:
            raise ClientCrashedError(f"{self.node_id} is crashed; cluster.restart({self.node_id!r}) starts a new "
                                     f"incarnation")
        return core

    def _record(self, f: str, offsets: Mapping[tuple[str, int], int] | None = None) -> None:
        if self.history is not None:
            now = self.core.port.now
            op = self.history.invoke(now, self.node_id, f)
            self.history.ok(op, now, offsets=dict(offsets or {}))

    # -- assignment ----------------------------------------------------------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition | tuple[str, int]]) -> None:
        """Consume exactly these partitions (replaces the previous assignment)."""
        core = self._live_core()
        tps = []
        for tp in partitions:
            if not isinstance(tp, tuple) or len(tp) != 2 or not isinstance(tp[0], str) or not isinstance(tp[1], int):
                raise TypeError(f"assign() takes TopicPartition(topic, partition) values, got {tp!r}")
            tps.append(TopicPartition(tp[0], tp[1]))
        self._assigned = list(dict.fromkeys(tps))
        core.set_assignment(self._assigned)
        self._record("assign", {(tp.topic, tp.partition): -1 for tp in self._assigned})

    def assignment(self) -> set[TopicPartition]:
        return set(self.core.assignment)

    def subscribe(self, topics: Any, on_assign: Any = None, on_revoke: Any = None, on_lost: Any = None) -> None:
        raise NotImplementedError(GROUPS_NOT_YET)

    def unsubscribe(self) -> None:
        raise NotImplementedError(GROUPS_NOT_YET)

    def commit(self, offsets: Any = None) -> None:
        raise NotImplementedError(GROUPS_NOT_YET)

    def committed(self, partitions: Any) -> None:
        raise NotImplementedError(GROUPS_NOT_YET)

    # -- positions -----------------------------------------------------------------------------------------------
    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        """Fetch ``tp`` from ``offset`` on the next poll."""
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"seek offset must be an int >= 0, got {offset!r}")
        core = self._live_core()
        tp = TopicPartition(tp[0], tp[1])
        core.seek(tp, offset)
        self._record("seek", {(tp.topic, tp.partition): offset})

    def seek_to_beginning(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        self._seek_to(partitions, "earliest")

    def seek_to_end(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        self._seek_to(partitions, "latest")

    def _seek_to(self, partitions: Iterable[TopicPartition] | None, strategy: str) -> None:
        core = self._live_core()
        tps = list(core.assignment) if partitions is None else [TopicPartition(t, p) for t, p in partitions]
        for tp in tps:
            core.seek_to(tp, strategy)
        self._record("seek", {(tp.topic, tp.partition): -1 for tp in tps})

    def position(self, tp: TopicPartition | tuple[str, int], timeout_ms: float | None = None) -> int:
        """The offset of the next record ``poll`` returns for ``tp``; drives the simulation until it is known."""
        core = self._live_core()
        tp = TopicPartition(tp[0], tp[1])
        state = core._state(tp)
        if state.position is None:
            core.wakeup()
            self._wait(lambda: state.position is not None or core.pending_error() is not None,
                       core.default_api_timeout_ms if timeout_ms is None else timeout_ms,
                       f"the position of {tp}")
            error = core.pending_error()
            if state.position is None and error is not None:
                raise error
        assert state.position is not None
        return state.position

    def highwater(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        """The partition's high watermark from the last fetch answer (None before one)."""
        state = self.core._state(TopicPartition(tp[0], tp[1]))
        return state.high_watermark if state.high_watermark >= 0 else None

    # -- polling -------------------------------------------------------------------------------------------------
    def poll(self, timeout_ms: float = 0) -> list[ConsumerRecord]:
        """Records fetched for the assigned partitions, at most ``max.poll.records``. Drives the simulation up to
        ``timeout_ms`` and returns as soon as there are records."""
        core = self._live_core()
        if not core.assignment:
            raise RuntimeError("Consumer is not subscribed to any topics or assigned any partitions")
        history = self.history
        op = history.invoke(core.port.now, self.node_id, "poll") if history is not None else -1
        try:
            error = core.pending_error()
            if error is not None:
                raise error
            records = core.collect(core.max_poll_records)
            if not records and timeout_ms > 0:
                core.wakeup()
                port = core.port
                self._drive(lambda: not port.alive or core.has_records() or core.pending_error() is not None,
                            timeout_ms)
                if not port.alive:
                    raise ClientCrashedError(f"{self.node_id} crashed during poll()")
                error = core.pending_error()
                if error is not None:
                    raise error
                records = core.collect(core.max_poll_records)
        except KafkaError as exc:
            if history is not None:
                if isinstance(exc, ClientCrashedError):
                    history.info(op, core.port.now)
                else:
                    history.fail(op, core.port.now, error=exc.error_name)
            raise
        if history is not None:
            history.ok(op, core.port.now, reads=tuple(map(_READ_FIELDS, records)))
        core.port.record("consumer.poll", len(records))
        return records

    def _wait(self, predicate: Callable[[], bool], timeout_ms: float, what: str) -> None:
        core = self.core
        port = core.port
        self._drive(lambda: not port.alive or predicate(), timeout_ms)
        if not port.alive:
            raise ClientCrashedError(f"{self.node_id} crashed while waiting for {what}")
        if not predicate():
            raise KafkaTimeoutError(f"timed out after {timeout_ms:g} ms of virtual time waiting for {what}")

    def close(self) -> None:
        """Stop fetching; later calls raise."""
        if self._closed:
            return
        if self._core is not None:
            self._core.closed = True
        self._closed = True

    def metrics(self) -> dict[str, Any]:
        core = self.core
        return {"records_fetched": core.records_fetched, "fetches_sent": core.fetches_sent,
                "requests_sent": core.network.requests_sent, "disconnects": core.network.disconnects}

    def __repr__(self) -> str:
        return f"KafkaConsumer({self.node_id!r}, assigned={sorted(self.core.assignment)})"

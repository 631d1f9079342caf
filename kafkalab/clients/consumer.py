"""The consumer a notebook holds: ``KafkaConsumer`` with ``assign``/``seek``/``position``/``poll`` and consumer
groups (``subscribe``, ``commit``, ``committed``, ``close``).

How it works. :class:`KafkaConsumer` lives outside the simulation; ``world.add_node(node_id, factory, server=False)``
makes it a client node whose every incarnation runs a :class:`~kafkalab.clients.fetcher.ConsumerCore` (positions,
offset resets, the long-poll fetcher) and, with a ``group.id``, a group client:
:class:`~kafkalab.clients.classic_member.ClassicMembership` (``group.protocol=classic``) or
:class:`~kafkalab.clients.consumer_member.ConsumerProtocolMembership` (``group.protocol=consumer``, KIP-848).
``poll(timeout_ms)`` tells the group client the application polled (joins, rebalance callbacks and auto-commits
happen there, as in Kafka's ``poll``), hands out buffered records at once, else drives the simulation (the ``drive``
callable, ``kernel.run_until`` by default) until records arrive, the group needs the application again, an error must
be raised, or ``timeout_ms`` of virtual time passed. Heartbeats run on timers of the consumer's node, so they go on
while the notebook does not poll (Kafka's heartbeat thread); a member that does not poll for
``max.poll.interval.ms`` leaves the group.

Rebalance callbacks ``on_assign``/``on_revoke``/``on_lost`` get ``(consumer, [TopicPartition, ...])`` (sorted) and
run inside ``poll()`` (or ``close()``/``unsubscribe()``), outside simulation events, so they may call ``commit()``.
Without ``on_lost``, lost partitions go to ``on_revoke`` (Kafka's default ``onPartitionsLost``).

``commit(offsets=None, asynchronous=False, callback=None)``: the positions of the assignment (or ``offsets``, a mapping
of partition to offset or :class:`~kafkalab.common.topic_partition.OffsetAndMetadata`); synchronous by default (drives the
simulation, retries retriable errors up to ``default.api.timeout.ms``, raises ``CommitFailedError`` when the group
moved on); ``asynchronous=True`` returns at once and calls ``callback(offsets, error)`` in a later ``poll()``.
``committed(partitions)`` returns ``{partition: OffsetAndMetadata or None}``.

History: every ``poll`` is an invoke and an ``ok`` carrying its reads (``fail`` with the error it raised, ``info``
when the client crashed meanwhile); ``assign``, ``seek``, ``subscribe`` and ``unsubscribe`` are recorded, the group
client records every commit (``f="commit"``) and every assignment change (``f="rebalance"``, the new partitions at
offset -1). A restarted consumer keeps its assignment or subscription, not its positions: a dynamic member joins as
a new member, a static one (``group.instance.id``) under the same instance id.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kafkalab.check.history import History
from kafkalab.clients.classic_member import ClassicMembership
from kafkalab.clients.consumer_member import ConsumerProtocolMembership
from kafkalab.clients.counted import PartitionCounts, collect_counts
from kafkalab.clients.fetcher import ConsumerCore, PartitionState
from kafkalab.clients.futures import ClientCrashedError, Drive
from kafkalab.clients.group_common import NO_GROUP_ID_MESSAGE, GroupMembership
from kafkalab.clients.metadata import bootstrap_nodes
from kafkalab.clients.producer import check_timeout_ms
from kafkalab.common.records import CountedRecordsError
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.common.types import ConsumerRecord
from kafkalab.config import Config, resolve
from kafkalab.errors import ConfigError, InvalidGroupIdError, KafkaError, KafkaTimeoutError

__all__ = ["KafkaConsumer", "ConsumerCore", "PartitionState", "RebalanceCallback", "CommitResultCallback",
           "MUTUALLY_EXCLUSIVE", "new_membership"]

NodeId = Hashable
#: ``callback(consumer, partitions)`` of subscribe()'s on_assign / on_revoke / on_lost
_T = TypeVar("_T")

RebalanceCallback = Callable[["KafkaConsumer", list[TopicPartition]], Any]
#: ``callback(offsets, error)`` of an asynchronous commit (error None when committed)
CommitResultCallback = Callable[[dict[TopicPartition, OffsetAndMetadata], KafkaError | None], Any]
#: Kafka's IllegalStateException text when subscribe() and assign() are mixed
MUTUALLY_EXCLUSIVE = "Subscription to topics, partitions and pattern are mutually exclusive"


def new_membership(core: ConsumerCore) -> GroupMembership:
    """The group client ``core.config`` asks for (``group.protocol``), attached to ``core``; needs ``group.id``.

    For experiments that drive consumers inside the simulation: ``m = new_membership(core)``,
    ``m.subscribe(topics, listener)``, then from a timer ``core.collect(n)`` and ``m.on_app_poll(now_ms)``."""
    if core.config["group.protocol"] == "consumer":
        return ConsumerProtocolMembership(core)
    return ClassicMembership(core)


class _Listener:
    """The group client's listener: the user's callbacks with ``(consumer, sorted partitions)``."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        callback = self.consumer._on_revoke
        if callback is not None:
            callback(self.consumer, sorted(partitions))

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        callback = self.consumer._on_assign
        if callback is not None:
            callback(self.consumer, sorted(partitions))

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None:
        callback = self.consumer._on_lost
        if callback is None:
            self.on_partitions_revoked(partitions)      # Kafka's default onPartitionsLost
        else:
            callback(self.consumer, sorted(partitions))


#: ConsumerConfig's CLASSIC_PROTOCOL_UNSUPPORTED_CONFIGS and CONSUMER_PROTOCOL_UNSUPPORTED_CONFIGS (Kafka 4.0)
_UNSUPPORTED_KEYS = {"classic": ("group.remote.assignor",),
                     "consumer": ("partition.assignment.strategy", "heartbeat.interval.ms", "session.timeout.ms")}


def _check_protocol_keys(config: Config, given: Mapping[str, Any] | None) -> None:
    """``ConsumerConfig.checkUnsupportedConfigsPostProcess``: a key the chosen ``group.protocol`` does not use, set
    explicitly to something not blank, is a ConfigError naming every such key (under KIP-848 the broker assigns
    partitions and owns the session and heartbeat timeouts)."""
    protocol = config["group.protocol"]
    raw = given if given is not None and not isinstance(given, Config) else config.overrides
    bad = [key for key in _UNSUPPORTED_KEYS.get(protocol, ())
           if key in raw and raw[key] is not None and str(raw[key]).strip() != ""]
    if bad:
        raise ConfigError(f"{', '.join(bad)} cannot be set when group.protocol={protocol.upper()}", key=bad[0],
                          scope="consumer", value=raw[bad[0]])


class KafkaConsumer:
    """A consumer on node ``node_id`` of ``world`` (DESIGN.md's ``cluster.consumer(config)``).

    ``world``, ``bootstrap``, ``drive``, ``history`` and ``broker_node`` as for
    :class:`~kafkalab.clients.producer.KafkaProducer`.
    """

    #: a pattern subscription (set by subscribe(pattern=...)); a class default keeps it out of the constructor
    _pattern: re.Pattern[str] | str | None = None

    def __init__(self, config: Mapping[str, Any] | None = None, *, world: Any, bootstrap: Sequence[NodeId],
                 node_id: NodeId = "consumer-1", drive: Drive | None = None, history: History | None = None,
                 broker_node: Callable[[int], NodeId] | None = None) -> None:
        self.config = config if isinstance(config, Config) else resolve("consumer", config)
        _check_protocol_keys(self.config, config)
        self.node_id = node_id
        self.history = history
        self._drive: Drive = drive if drive is not None else world.run_until
        self._bootstrap = bootstrap_nodes(self.config["bootstrap.servers"], bootstrap, broker_node,
                                          getattr(world, "nodes", None))
        self._broker_node = broker_node
        self._core: ConsumerCore | None = None
        self._group: GroupMembership | None = None
        self._assigned: list[TopicPartition] = []
        self._subscription: tuple[str, ...] = ()
        self._on_assign: RebalanceCallback | None = None
        self._on_revoke: RebalanceCallback | None = None
        self._on_lost: RebalanceCallback | None = None
        self._listener = _Listener(self)
        self._closed = False
        world.add_node(node_id, self._start, server=False)

    def _start(self, ctx: Any) -> ConsumerCore:
        old = self._core
        if old is not None:
            old.abandon()
            if self._group is not None:
                self._group.closed = True
        core = ConsumerCore(ctx, self.config, bootstrap=self._bootstrap, drive=self._drive, history=self.history,
                            broker_node=self._broker_node)
        core.metadata.allow_auto_topic_creation = bool(self.config["allow.auto.create.topics"])
        self._core = core
        self._group = new_membership(core) if self.config["group.id"] else None
        if self._subscription and self._group is not None:
            self._group.subscribe(self._subscription, self._listener)   # rejoins; a static member as itself
        elif self._pattern is not None and self._group is not None:
            self._group.subscribe_pattern(self._pattern, self._listener)
        elif self._assigned:
            core.set_assignment(self._assigned)   # a restarted consumer has its assignment, not its positions
        return core

    @property
    def core(self) -> ConsumerCore:
        if self._core is None:  # pragma: no cover - add_node starts the node at once
            raise RuntimeError(f"consumer {self.node_id!r} has not started")
        return self._core

    @property
    def group(self) -> GroupMembership | None:
        """The current incarnation's group client (None without ``group.id``)."""
        return self._group

    def _live_core(self) -> ConsumerCore:
        if self._closed:
            raise RuntimeError("This consumer has already been closed.")
        core = self.core
        if not core.port.alive:
            raise ClientCrashedError(f"{self.node_id} is crashed; cluster.restart({self.node_id!r}) starts a new "
                                     f"incarnation")
        return core

    def _live_group(self) -> GroupMembership:
        self._live_core()
        if self._group is None:
            raise InvalidGroupIdError(NO_GROUP_ID_MESSAGE)
        return self._group

    def _record(self, f: str, offsets: Mapping[tuple[str, int], int] | None = None, topic: str | None = None) -> None:
        if self.history is not None:
            now = self.core.port.now
            op = self.history.invoke(now, self.node_id, f, topic=topic)
            self.history.ok(op, now, offsets=dict(offsets or {}))

    # -- assignment ----------------------------------------------------------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition | tuple[str, int]]) -> None:
        """Consume exactly these partitions (replaces the previous assignment)."""
        if isinstance(partitions, str | bytes | TopicPartition) or not isinstance(partitions, Iterable):
            raise TypeError(f"assign() takes a collection of TopicPartition(topic, partition) values, got "
                            f"{type(partitions).__name__} {partitions!r}")
        core = self._live_core()
        if self._subscription or self._pattern is not None:
            raise RuntimeError(f"{MUTUALLY_EXCLUSIVE}: this consumer subscribed to {self._subscribed_to()}; call "
                               f"unsubscribe() before assign()")
        tps = []
        for tp in partitions:
            if not isinstance(tp, tuple) or len(tp) != 2 or not isinstance(tp[0], str) or not isinstance(tp[1], int):
                raise TypeError(f"assign() takes TopicPartition(topic, partition) values, got {tp!r}")
            tps.append(TopicPartition(tp[0], tp[1]))
        self._assigned = list(dict.fromkeys(tps))
        core.set_assignment(self._assigned)
        self._record("assign", {(tp.topic, tp.partition): -1 for tp in self._assigned})

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer fetches now (a subscribed member's share of the group)."""
        return set(self.core.assignment)

    def subscription(self) -> set[str]:
        """The topics subscribed to (empty after assign() or unsubscribe()). With a pattern: the topics it matches
        now; for a regex the coordinator resolves (a str under ``group.protocol=consumer``), the topics of the
        current assignment."""
        if self._pattern is not None:
            group = self._group
            if isinstance(self._pattern, re.Pattern) and group is not None:
                return set(group.subscription)
            return {tp.topic for tp in self.core.assignment}
        return set(self._subscription)

    def subscribe(self, topics: Iterable[str] | re.Pattern[str] | None = None,
                  on_assign: RebalanceCallback | None = None, on_revoke: RebalanceCallback | None = None,
                  on_lost: RebalanceCallback | None = None, *, pattern: re.Pattern[str] | str | None = None) -> None:
        """Join the ``group.id`` group for ``topics``, or for every topic ``pattern`` matches (a str or a compiled
        ``re.Pattern``, matched in full as Java's ``Matcher.matches``; a compiled pattern may also come first, as
        Kafka's ``subscribe(Pattern)``); the join happens in the next ``poll()``. Callbacks get
        ``(consumer, [TopicPartition, ...])``; ``on_lost`` defaults to ``on_revoke``. An empty list unsubscribes.

        A pattern is matched here against all topics, refreshed every ``metadata.max.age.ms``: a topic created later
        joins the subscription at the next refresh (Kafka's ``subscribe(Pattern)``; a str that does not compile
        raises ``re.error`` as ``Pattern.compile`` would). Except a str under ``group.protocol=consumer``: that is
        Kafka 4's ``subscribe(SubscriptionPattern)``, a regex the coordinator resolves (KIP-848's
        ``SubscribedTopicRegex``, RE2J syntax) at most every 10 s; it is not compiled here, and one the coordinator
        refuses makes a later ``poll()`` raise ``InvalidRegularExpressionError``."""
        if isinstance(topics, re.Pattern):
            topics, pattern = (None, topics) if pattern is None else (topics, pattern)
        if pattern is not None:
            if topics is not None:
                raise TypeError(f"subscribe() takes topics or pattern=, not both (got topics={topics!r} and "
                                f"pattern={pattern!r})")
            self._subscribe_pattern(pattern, on_assign, on_revoke, on_lost)
            return
        if topics is None:
            raise TypeError("subscribe() needs a list of topic names or pattern= (a str or compiled re.Pattern)")
        if isinstance(topics, str | bytes) or not isinstance(topics, Iterable):
            hint = f"; use subscribe([{topics!r}])" if isinstance(topics, str) else ""
            raise TypeError(f"subscribe() takes a list of topic names, got {type(topics).__name__} {topics!r}{hint}")
        names = list(topics)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"topic names must be str, got {type(name).__name__} {name!r} in {names!r}")
            if not name.strip():
                raise ValueError(f"Topic collection to subscribe to cannot contain null or empty topic: {names!r}")
        _check_callbacks(on_assign, on_revoke, on_lost)
        if not names:
            self.unsubscribe()
            return
        group = self._live_group()
        if self._assigned:
            raise RuntimeError(f"{MUTUALLY_EXCLUSIVE}: this consumer was assigned {sorted(self._assigned)}; call "
                               f"unsubscribe() before subscribe()")
        if self._pattern is not None:
            raise RuntimeError(f"{MUTUALLY_EXCLUSIVE}: this consumer subscribed to {self._subscribed_to()}; call "
                               f"unsubscribe() before subscribe()")
        self._on_assign, self._on_revoke, self._on_lost = on_assign, on_revoke, on_lost
        self._subscription = tuple(sorted(set(names)))
        group.subscribe(self._subscription, self._listener)
        self._record("subscribe", topic=",".join(self._subscription))

    def _subscribe_pattern(self, pattern: re.Pattern[str] | str, on_assign: RebalanceCallback | None,
                           on_revoke: RebalanceCallback | None, on_lost: RebalanceCallback | None) -> None:
        if isinstance(pattern, re.Pattern):
            if not isinstance(pattern.pattern, str):
                raise TypeError(f"pattern must match str topic names, got a bytes pattern {pattern.pattern!r}")
            text = pattern.pattern
        elif isinstance(pattern, str):
            text = pattern
        else:
            raise TypeError(f"pattern must be a str or a compiled re.Pattern, got {type(pattern).__name__} "
                            f"{pattern!r}")
        if not text:
            raise ValueError("Topic pattern to subscribe to cannot be empty")
        _check_callbacks(on_assign, on_revoke, on_lost)
        group = self._live_group()
        if self._assigned:
            raise RuntimeError(f"{MUTUALLY_EXCLUSIVE}: this consumer was assigned {sorted(self._assigned)}; call "
                               f"unsubscribe() before subscribe()")
        if self._subscription:
            raise RuntimeError(f"{MUTUALLY_EXCLUSIVE}: this consumer subscribed to {self._subscribed_to()}; call "
                               f"unsubscribe() before subscribe(pattern=...)")
        subscribed: re.Pattern[str] | str
        if group.protocol == "consumer" and isinstance(pattern, str):
            subscribed = text           # Kafka's SubscriptionPattern: the coordinator compiles and resolves it
        else:
            subscribed = pattern if isinstance(pattern, re.Pattern) else re.compile(text)   # re.error as Java's
        self._on_assign, self._on_revoke, self._on_lost = on_assign, on_revoke, on_lost
        self._pattern = subscribed
        group.subscribe_pattern(subscribed, self._listener)
        self._record("subscribe", topic=f"pattern:{text}")

    def _subscribed_to(self) -> str:
        if self._pattern is not None:
            text = self._pattern.pattern if isinstance(self._pattern, re.Pattern) else self._pattern
            return f"the pattern {text!r}"
        return str(list(self._subscription))

    def unsubscribe(self) -> None:
        """Leave the group (revoking the partitions first) or drop a manual assignment."""
        core = self._live_core()
        if (self._subscription or self._pattern is not None) and self._group is not None:
            self._group.unsubscribe()
        self._subscription = ()
        self._pattern = None
        self._assigned = []
        core.set_assignment([])
        self._record("unsubscribe")

    # -- offsets ---------------------------------------------------------------------------------------------------
    def group_metadata(self) -> Any:
        """The group identity a transactional producer commits this consumer's offsets with (Kafka's
        ``ConsumerGroupMetadata``: group id, generation or KIP-848 member epoch, member id, instance id;
        KIP-447)."""
        from kafkalab.clients.transactions import GroupMetadata
        group = self.core.group
        if group is None:
            raise InvalidGroupIdError("To use the group management or offset commit APIs, you must provide a valid "
                                      "group.id in the consumer configuration.")
        generation: Any = getattr(group, "member_epoch", None)
        if generation is None:
            generation = getattr(group, "generation", -1)
        return GroupMetadata(group.group_id, int(generation), str(group.member_id), group.instance_id)

    def commit(self, offsets: Mapping[Any, int | OffsetAndMetadata] | None = None, asynchronous: bool = False,
               callback: CommitResultCallback | None = None, timeout_ms: float | None = None) -> None:
        """Commit ``offsets`` ({partition: next offset to read}) or, with None, the positions of the assignment.

        Synchronous by default: drives the simulation until the coordinator answered, retrying retriable errors up
        to ``timeout_ms`` (default ``default.api.timeout.ms``); raises the error (``CommitFailedError`` when the
        group rebalanced without this member). ``asynchronous=True`` returns at once; ``callback(offsets, error)``
        runs in a later ``poll()`` (Kafka's ``commitAsync``)."""
        group = self._live_group()
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be a callable taking (offsets, error) or None, got "
                            f"{type(callback).__name__}")
        if not isinstance(asynchronous, bool):
            raise TypeError(f"asynchronous must be a bool, got {type(asynchronous).__name__} {asynchronous!r}")
        check_timeout_ms(timeout_ms)
        parsed = None if offsets is None else _parse_offsets(offsets)
        if parsed is None:
            parsed = group.current_positions()
        core = self.core
        if asynchronous:
            def done_async(error: KafkaError | None) -> None:
                if callback is not None:
                    group.add_app_task(lambda: callback(dict(parsed), error))
            group.commit(parsed, done_async)
            return
        result: list[KafkaError | None] = []
        timeout = core.default_api_timeout_ms if timeout_ms is None else float(timeout_ms)
        group.commit(parsed, result.append, deadline_ms=core.port.now + timeout)
        if not result:
            self._wait(lambda: bool(result), timeout + core.request_timeout_ms, "the offset commit")
        error = result[0]
        if callback is not None:
            callback(dict(parsed), error)
        if error is not None:
            raise error

    def committed(self, partitions: Iterable[TopicPartition | tuple[str, int]],
                  timeout_ms: float | None = None) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """The group's committed offsets of ``partitions`` (None where nothing is committed); drives the
        simulation up to ``timeout_ms`` (default ``default.api.timeout.ms``)."""
        group = self._live_group()
        check_timeout_ms(timeout_ms)
        if isinstance(partitions, TopicPartition):
            raise TypeError(f"committed() takes a collection of partitions, got the single partition {partitions}; "
                            f"use committed([{partitions!r}])")
        if isinstance(partitions, str | bytes) or not isinstance(partitions, Iterable):
            raise TypeError(f"committed() takes a collection of TopicPartition(topic, partition) values, got "
                            f"{type(partitions).__name__} {partitions!r}")
        tps = []
        for tp in partitions:
            if not isinstance(tp, tuple) or len(tp) != 2 or not isinstance(tp[0], str) or not isinstance(tp[1], int):
                raise TypeError(f"committed() takes TopicPartition(topic, partition) values, got {tp!r}")
            tps.append(TopicPartition(tp[0], tp[1]))
        core = self.core
        timeout = core.default_api_timeout_ms if timeout_ms is None else float(timeout_ms)
        result: list[Any] = []
        group.fetch_committed(tps, result.append, deadline_ms=core.port.now + timeout)
        if not result:
            self._wait(lambda: bool(result), timeout + core.request_timeout_ms, "the committed offsets")
        if isinstance(result[0], KafkaError):
            raise result[0]
        return dict(result[0])

    # -- positions -----------------------------------------------------------------------------------------------
    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        """Fetch ``tp`` from ``offset`` on the next poll."""
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError(f"offset must be an int >= 0, got {type(offset).__name__} {offset!r}")
        if offset < 0:
            raise ValueError(f"seek offset must not be a negative number (offset={offset})")
        tp = _topic_partition(tp)
        core = self._live_core()
        core.seek(tp, offset)
        self._record("seek", {(tp.topic, tp.partition): offset})

    def seek_to_beginning(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        self._seek_to(partitions, "earliest")

    def seek_to_end(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        self._seek_to(partitions, "latest")

    def _seek_to(self, partitions: Iterable[TopicPartition] | None, strategy: str) -> None:
        core = self._live_core()
        tps = list(core.assignment) if partitions is None else _topic_partitions(partitions, "partitions")
        for tp in tps:
            core.seek_to(tp, strategy)
        self._record("seek", {(tp.topic, tp.partition): -1 for tp in tps})

    def position(self, tp: TopicPartition | tuple[str, int], timeout_ms: float | None = None) -> int:
        """The offset of the next record ``poll`` returns for ``tp``; drives the simulation until it is known."""
        tp = _topic_partition(tp)
        check_timeout_ms(timeout_ms)
        core = self._live_core()
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
        state = self.core._state(_topic_partition(tp))
        return state.high_watermark if state.high_watermark >= 0 else None

    # -- polling -------------------------------------------------------------------------------------------------
    def poll(self, timeout_ms: float = 0) -> list[ConsumerRecord]:
        """Records fetched for the assigned partitions, at most ``max.poll.records``. Runs the group's due work
        (joins, rebalance callbacks, auto-commit), drives the simulation up to ``timeout_ms`` and returns as soon as
        there are records."""
        check_timeout_ms(timeout_ms, allow_none=False)
        core = self._live_core()
        if not core.assignment and not self._subscription and self._pattern is None:
            raise RuntimeError("Consumer is not subscribed to any topics or assigned any partitions")
        history = self.history
        op = history.invoke(core.port.now, self.node_id, "poll") if history is not None else -1
        port = core.port
        reads: list[tuple[Any, ...]] = []      # what the history records: see ConsumerCore.collect
        try:
            records = self._drive_poll(core, functools.partial(self._poll_once, core, reads), timeout_ms, "poll()")
        except KafkaError as exc:
            if history is not None:
                if isinstance(exc, ClientCrashedError):
                    history.info(op, port.now)
                else:
                    history.fail(op, port.now, error=exc.error_name)
            raise
        except CountedRecordsError:
            if history is not None:
                history.fail(op, port.now, error="CountedRecordsError")
            raise
        if history is not None:
            history.ok(op, port.now, reads=tuple(reads))
        port.record("consumer.poll", len(records))
        return records

    def poll_counts(self, timeout_ms: float = 0) -> list[PartitionCounts]:
        """:meth:`poll` for counted records (``producer.send_counted``; real records are counted too): what poll would
        hand out, as one :class:`~kafkalab.clients.counted.PartitionCounts` per partition (records, bytes, offset
        range, timestamp runs) and no record objects, whole batches at a time (``max.poll.records`` does not cut
        them), as ``kafka-consumer-perf-test`` only counts. Runs the group's due work and drives the simulation up
        to ``timeout_ms`` like poll. Not recorded in the history (:mod:`kafkalab.clients.counted`)."""
        check_timeout_ms(timeout_ms, allow_none=False)
        core = self._live_core()
        if not core.assignment and not self._subscription and self._pattern is None:
            raise RuntimeError("Consumer is not subscribed to any topics or assigned any partitions")
        counts = self._drive_poll(core, functools.partial(self._poll_counts_once, core), timeout_ms, "poll_counts()")
        core.port.record("consumer.poll", sum(c.records for c in counts))
        return counts

    def _drive_poll(self, core: ConsumerCore, once: Callable[[], _T], timeout_ms: float, what: str) -> _T:
        """Take what ``once`` hands out; while it is nothing, run the group's due work and drive the simulation
        until data is ready, the group wants the application's next poll, or ``timeout_ms`` has passed."""
        port = core.port
        deadline = port.now + max(0.0, timeout_ms)
        result = once()
        spins = 0
        while not result and port.now < deadline:
            core.wakeup()
            before = port.now
            until = deadline
            if self._group is not None:
                due = self._group.next_app_poll_ms()
                if due > port.now:
                    until = min(until, due)
            self._drive(functools.partial(self._poll_ready, core), until - port.now)
            if not port.alive:
                raise ClientCrashedError(f"{self.node_id} crashed during {what}")
            result = once()
            spins = spins + 1 if port.now == before else 0
            if spins > 100:        # the group keeps asking for polls at one instant: let time pass instead
                break
        return result

    def _poll_counts_once(self, core: ConsumerCore) -> list[PartitionCounts]:
        self._before_hand_out(core, "poll_counts()")
        return collect_counts(core)

    def _poll_ready(self, core: ConsumerCore) -> bool:
        group = self._group
        return (not core.port.alive or core.has_records() or core.pending_error() is not None
                or (group is not None and (group.needs_app_poll() or group.pending_error() is not None)))

    def _poll_once(self, core: ConsumerCore, reads: list[tuple[Any, ...]]) -> list[ConsumerRecord]:
        self._before_hand_out(core, "poll()")
        return core.collect(core.max_poll_records, reads)

    def _before_hand_out(self, core: ConsumerCore, what: str) -> None:
        """The group's due work for an application poll, then any error the group or the fetcher holds."""
        group = self._group
        if group is not None:
            group.on_app_poll(core.port.now)
            if not core.port.alive:
                raise ClientCrashedError(f"{self.node_id} crashed during {what}")
            group_error = group.pending_error()
            if group_error is not None:
                raise group_error
        error = core.pending_error()
        if error is not None:
            raise error

    def _wait(self, predicate: Callable[[], bool], timeout_ms: float, what: str) -> None:
        core = self.core
        port = core.port
        self._drive(lambda: not port.alive or predicate(), timeout_ms)
        if not port.alive:
            raise ClientCrashedError(f"{self.node_id} crashed while waiting for {what}")
        if not predicate():
            raise KafkaTimeoutError(f"timed out after {timeout_ms:g} ms of virtual time waiting for {what}")

    def close(self, timeout_ms: float | None = None) -> None:
        """Commit the positions (with ``enable.auto.commit``), revoke the partitions, leave the group (a static
        member does not: KIP-345) and stop fetching; later calls raise."""
        check_timeout_ms(timeout_ms)
        if self._closed:
            return
        core = self._core
        group = self._group
        if core is not None and group is not None and core.port.alive and not group.closed:
            if group.auto_commit and group.current_positions():
                try:
                    self.commit(timeout_ms=timeout_ms)
                except KafkaError:
                    pass      # Kafka logs a failed commit on close and goes on
            group.close(core.port.now)
            leaving = getattr(group, "leaving", False)
            if leaving:
                port = core.port
                self._drive(lambda: not port.alive or not getattr(group, "leaving", False),
                            core.request_timeout_ms if timeout_ms is None else timeout_ms)
        if core is not None:
            core.closed = True
        self._closed = True

    def metrics(self) -> dict[str, Any]:
        core = self.core
        out: dict[str, Any] = {"records_fetched": core.records_fetched, "fetches_sent": core.fetches_sent,
               "requests_sent": core.network.requests_sent, "disconnects": core.network.disconnects,
               **core.network.throttle_metrics("FetchResponse", "fetch")}
        group = self._group
        if group is not None:
            out.update(member_id=group.member_id, group_state=group.state, commits_sent=group.commits_sent,
                       rebalances=getattr(group, "rebalances", getattr(group, "reconciliations", 0)))
        return out

    def __repr__(self) -> str:
        return f"KafkaConsumer({self.node_id!r}, assigned={sorted(self.core.assignment)})"


def _check_callbacks(on_assign: Any, on_revoke: Any, on_lost: Any) -> None:
    for label, callback in (("on_assign", on_assign), ("on_revoke", on_revoke), ("on_lost", on_lost)):
        if callback is not None and not callable(callback):
            raise TypeError(f"{label} must be a callable taking (consumer, partitions) or None, got "
                            f"{type(callback).__name__}")


def _parse_offsets(offsets: Mapping[Any, int | OffsetAndMetadata]) -> dict[TopicPartition, OffsetAndMetadata]:
    if not isinstance(offsets, Mapping):
        raise TypeError(f"commit() offsets must be a dict of TopicPartition -> offset, got "
                        f"{type(offsets).__name__}")
    out: dict[TopicPartition, OffsetAndMetadata] = {}
    for tp, value in offsets.items():
        if not isinstance(tp, tuple) or len(tp) != 2 or not isinstance(tp[0], str) or not isinstance(tp[1], int):
            raise TypeError(f"commit() offsets are keyed by TopicPartition(topic, partition), got {tp!r}")
        if isinstance(value, OffsetAndMetadata):
            om = value
        elif isinstance(value, int) and not isinstance(value, bool):
            om = OffsetAndMetadata(value)
        else:
            raise TypeError(f"commit() offset of {tp} must be an int or OffsetAndMetadata, got "
                            f"{type(value).__name__} {value!r}")
        if om.offset < 0:
            raise ValueError(f"Invalid negative offset {om.offset} for partition {TopicPartition(tp[0], tp[1])}")
        out[TopicPartition(tp[0], tp[1])] = om
    return out


def _topic_partition(tp: Any, name: str = "tp") -> TopicPartition:
    """A ``TopicPartition`` or a (str, int) pair; anything else is a TypeError naming the argument."""
    if (isinstance(tp, tuple) and len(tp) == 2 and isinstance(tp[0], str) and isinstance(tp[1], int)
            and not isinstance(tp[1], bool)):
        return TopicPartition(tp[0], tp[1])
    raise TypeError(f"{name} must be a TopicPartition(topic, partition), got {type(tp).__name__} {tp!r}")


def _topic_partitions(partitions: Any, name: str) -> list[TopicPartition]:
    if isinstance(partitions, str | bytes) or not isinstance(partitions, Iterable) or (
            isinstance(partitions, TopicPartition)):
        raise TypeError(f"{name} must be a collection of TopicPartition(topic, partition) values, got "
                        f"{type(partitions).__name__} {partitions!r}")
    out = []
    for tp in partitions:
        try:
            out.append(_topic_partition(tp))
        except TypeError:
            raise TypeError(f"{name} must hold TopicPartition(topic, partition) values, got "
                            f"{type(tp).__name__} {tp!r}") from None
    return out

"""What every consumer-group member shares: the coordinator, offsets, auto-commit, the rebalance listener and the
poll clock (the parts of Kafka's ``AbstractCoordinator``/``ConsumerCoordinator`` and of the new consumer's
``CoordinatorRequestManager``/``CommitRequestManager`` that do not depend on the rebalance protocol).

How it works. A :class:`GroupMembership` lives inside the simulation next to one incarnation's
:class:`~kafkalab.clients.fetcher.ConsumerCore` and talks through the core's ``NetworkClient``; it never blocks.
The application side (the :class:`~kafkalab.clients.consumer.KafkaConsumer` facade, or an experiment's timer) calls
:meth:`GroupMembership.on_app_poll` whenever the application polls: that resets the ``max.poll.interval.ms`` clock,
runs the rebalance-listener callbacks that are due (they run in the application's poll, as Kafka's do), attempts an
auto-commit when ``auto.commit.interval.ms`` passed (Kafka's ``maybeAutoCommitOffsetsAsync`` in ``poll``) and lets a
pending join proceed. :meth:`GroupMembership.needs_app_poll` says when progress waits on such a poll.

Coordinator discovery (``FindCoordinator``) goes to the least-loaded known broker (the bootstrap list before any is
known). NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and a dropped connection forget the coordinator; the next request
finds it again (Kafka's ``markCoordinatorUnknown``). COORDINATOR_LOAD_IN_PROGRESS is retried after
``retry.backoff.ms``.

Offsets: :meth:`GroupMembership.commit` sends ``OffsetCommit`` (the current positions of the assignment when no
offsets are given) with the member's generation (classic) or member epoch (KIP-848); :meth:`fetch_committed` sends
``OffsetFetch``. New partitions of an assignment get their committed offsets before they become fetchable
(:meth:`GroupMembership.apply_assignment`); the core's ``committed_offset`` hook hands them out, else
``auto.offset.reset`` decides. Every commit is recorded in the history (``f="commit"``; ``ok`` with the offsets,
``fail`` with the error, ``info`` when the outcome is unknown), every assignment change as ``f="rebalance"`` with the
new partitions at offset -1.

The base class is also the group client of a consumer that uses ``assign()`` with a ``group.id``: it commits with
generation -1 and no member id, as Kafka does for manual assignment.

Simplifications: no client-side session timeout (Kafka's heartbeat thread marks the coordinator unknown when no
heartbeat succeeded for ``session.timeout.ms``; here the request timeout does that), no leader epochs in commits,
metadata strings are empty.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kafkalab.clients.network import NetworkClient
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.errors import (
    CommitFailedError,
    InvalidGroupIdError,
    KafkaError,
    KafkaTimeoutError,
    RebalanceInProgressError,
    error_for_name,
)
from kafkalab.ports import ConnectionReset
from kafkalab.protocol.consumer_group import ConsumerGroupHeartbeatResponse
from kafkalab.protocol.group import (
    NO_GENERATION,
    UNKNOWN_MEMBER_ID,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    HeartbeatResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupResponse,
)

if TYPE_CHECKING:
    from kafkalab.clients.fetcher import ConsumerCore

__all__ = ["RebalanceListener", "NoopRebalanceListener", "GroupMembership", "CommitCallback", "FetchCallback",
           "COORDINATOR_ERRORS", "NO_GROUP_ID_MESSAGE", "COMMIT_FAILED_MESSAGE", "sorted_tps"]

NodeId = Hashable
#: ``callback(error)``: None when committed.
CommitCallback = Callable[[KafkaError | None], None]
#: ``callback(result)``: partition -> committed offset (None where nothing is committed), or the error.
FetchCallback = Callable[[dict[TopicPartition, OffsetAndMetadata | None] | KafkaError], None]

#: answers that arrive on the group connection
GROUP_RESPONSES = (FindCoordinatorResponse, JoinGroupResponse, SyncGroupResponse, HeartbeatResponse, LeaveGroupResponse,
                   OffsetCommitResponse, OffsetFetchResponse, ConsumerGroupHeartbeatResponse)
#: errors after which the coordinator must be found again
COORDINATOR_ERRORS = frozenset({"NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE", "REQUEST_TIMED_OUT",
                                "NETWORK_EXCEPTION"})
_RETRY_LATER = frozenset({"COORDINATOR_LOAD_IN_PROGRESS", "UNSTABLE_OFFSET_COMMIT", "REBALANCE_IN_PROGRESS"})
_UNKNOWN_OUTCOME = frozenset({"REQUEST_TIMED_OUT", "NETWORK_EXCEPTION"})
NO_GROUP_ID_MESSAGE = ("To use the group management or offset commit APIs, you must provide a valid group.id in the "
                       "consumer configuration.")
COMMIT_FAILED_MESSAGE = (
    "Commit cannot be completed since the group has already rebalanced and assigned the partitions to another member. "
    "This means that the time between subsequent calls to poll() was longer than the configured max.poll.interval.ms, "
    "which typically implies that the poll loop is spending too much time message processing. You can address this "
    "either by increasing max.poll.interval.ms or by reducing the maximum size of batches returned in poll() with "
    "max.poll.records.")


class RebalanceListener(Protocol):
    """Kafka's ``ConsumerRebalanceListener``; each method gets the partitions sorted."""

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None: ...

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None: ...

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None: ...


class NoopRebalanceListener:
    """A listener that does nothing."""

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None: ...

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None: ...

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None: ...


class GroupMembership:
    """The group client of one consumer incarnation; subclasses add a rebalance protocol.

    The base class alone serves a consumer with ``assign()`` and a ``group.id``: commit and committed work,
    subscribe does not.
    """

    protocol = "none"

    def __init__(self, core: ConsumerCore) -> None:
        config = core.config
        group_id = config["group.id"]
        if not group_id:
            raise InvalidGroupIdError(NO_GROUP_ID_MESSAGE)
        self.core = core
        self.port = core.port
        self.group_id: str = group_id
        self.instance_id: str | None = config["group.instance.id"]
        self.auto_commit = bool(config["enable.auto.commit"])
        self.auto_commit_interval_ms = float(config["auto.commit.interval.ms"])
        self.max_poll_interval_ms = float(config["max.poll.interval.ms"])
        self.retry_backoff_ms = float(config["retry.backoff.ms"])
        self.default_api_timeout_ms = float(config["default.api.timeout.ms"])
        # The coordinator gets a connection of its own, as in Kafka (its node id there is MAX_VALUE - broker id).
        self.network = NetworkClient(core.port, request_timeout_ms=float(config["request.timeout.ms"]),
                                     reconnect_backoff_ms=float(config["reconnect.backoff.ms"]), max_in_flight=10)
        self.coordinator: NodeId | None = None
        self._finding = False
        self._coordinator_waiters: list[Callable[[KafkaError | None], None]] = []
        self._rng = core.port.rng("group")
        self.listener: RebalanceListener = NoopRebalanceListener()
        self.subscription: tuple[str, ...] = ()
        #: a pattern subscription: compiled (the classic protocol matches it on the client) or the regex text a
        #: KIP-848 member sends to the coordinator; None for a subscription by names
        self.pattern: re.Pattern[str] | str | None = None
        self.last_poll_ms = core.port.now
        self.next_auto_commit_ms = core.port.now + self.auto_commit_interval_ms
        self._app_tasks: list[Callable[[], None]] = []
        self._committed_cache: dict[TopicPartition, int] = {}
        self._fatal: KafkaError | None = None
        self._assign_seq = 0                # bumped by every assignment change: a stale offset fetch is dropped
        self.closed = False
        self.commits_sent = 0
        core.group = self

    # -- the interface every membership has ------------------------------------------------------------------------
    @property
    def assignment(self) -> list[TopicPartition]:
        """The partitions this member owns now (those the core fetches)."""
        return list(self.core.assignment)

    @property
    def member_id(self) -> str:
        return UNKNOWN_MEMBER_ID

    @property
    def state(self) -> str:
        return "manual"

    @property
    def subscribed(self) -> bool:
        """Whether the member follows a subscription (names or a pattern, which may match nothing yet)."""
        return bool(self.subscription) or self.pattern is not None

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        raise RuntimeError("this group client serves assign() only; subscribe() needs a rebalance protocol")

    def subscribe_pattern(self, pattern: re.Pattern[str] | str, listener: RebalanceListener) -> None:
        raise RuntimeError("this group client serves assign() only; subscribe() needs a rebalance protocol")

    def unsubscribe(self) -> None:
        self.subscription = ()
        self.pattern = None

    def needs_app_poll(self) -> bool:
        """Whether progress waits on the application: listener callbacks to run, a join to start."""
        return bool(self._app_tasks)

    def on_app_poll(self, now_ms: float) -> None:
        """The application polled: reset the poll clock, run due callbacks, auto-commit when the interval passed."""
        self.last_poll_ms = now_ms
        self.run_app_tasks()
        self.maybe_auto_commit(now_ms)

    def next_app_poll_ms(self) -> float:
        """When a long ``poll()`` should run :meth:`on_app_poll` again though nothing happened: at the next
        auto-commit, and often enough that the poll clock never runs out inside one ``poll()`` (Kafka's ``poll`` loop
        bounds each wait by the coordinator's next deadline and resets the poll timer every round)."""
        due = self.last_poll_ms + self.max_poll_interval_ms / 2
        if self.auto_commit and self.may_auto_commit() and self.core.assignment:
            due = min(due, self.next_auto_commit_ms)
        return due

    def pending_error(self) -> KafkaError | None:
        """A fatal group error the next poll() raises (INCONSISTENT_GROUP_PROTOCOL, GROUP_MAX_SIZE_REACHED, ...)."""
        return self._fatal

    def close(self, now_ms: float) -> None:
        """Stop: no more timers or requests (subclasses leave the group first)."""
        self.closed = True

    # -- application tasks (listener callbacks run in the application's poll) ---------------------------------------
    def add_app_task(self, task: Callable[[], None]) -> None:
        self._app_tasks.append(task)

    def run_app_tasks(self) -> None:
        while self._app_tasks and not self.closed:
            task = self._app_tasks.pop(0)
            task()

    def _alive(self) -> bool:
        return not self.closed and not self.core.closed and self.port.alive

    def set_timer(self, delay_ms: float, callback: Callable[[], None], name: str) -> Any:
        def fire() -> None:
            if self._alive():
                callback()
        return self.port.set_timer(max(0.0, delay_ms), fire, name=name)

    # -- coordinator -------------------------------------------------------------------------------------------------
    def with_coordinator(self, then: Callable[[KafkaError | None], None]) -> None:
        """Call ``then(None)`` once the coordinator is known (finding it first if need be)."""
        if self.coordinator is not None:
            then(None)
            return
        self._coordinator_waiters.append(then)
        if not self._finding:
            self._find_coordinator()

    def coordinator_unknown(self, reason: str) -> None:
        """Forget the coordinator (Kafka's ``markCoordinatorUnknown``); the next request finds it again."""
        if self.coordinator is not None:
            self.port.record("consumer.coordinator_unknown", 1, reason=reason)
        self.coordinator = None

    def _find_coordinator(self) -> None:
        if not self._alive():
            return
        core = self.core
        now = self.port.now
        nodes = list(core.metadata.brokers.values()) or list(core.bootstrap)
        node = self.network.least_loaded(nodes, now, self._rng)
        if node is None:
            wait = self.network.min_backoff_remaining_ms(nodes, now)
            self._finding = True
            self.set_timer(max(wait, self.retry_backoff_ms), self._retry_find, "find-coordinator")
            return
        self._finding = True
        self.network.send(node, lambda cid: FindCoordinatorRequest(self.group_id, correlation_id=cid),
                          self._on_find_coordinator)

    def _retry_find(self) -> None:
        self._finding = False
        if self._coordinator_waiters:
            self._find_coordinator()

    def _on_find_coordinator(self, response: Any, error: str | None) -> None:
        if not self._alive():
            return
        if error is None and isinstance(response, FindCoordinatorResponse) and response.error == "NONE":
            self._finding = False
            self.coordinator = self.core.metadata._broker_node(response.node_id)
            self.port.record("consumer.coordinator_found", 1, coordinator=str(self.coordinator))
            waiters, self._coordinator_waiters = self._coordinator_waiters, []
            for then in waiters:
                then(None)
            return
        self.set_timer(self.retry_backoff_ms, self._retry_find, "find-coordinator")

    def on_message(self, src: Any, msg: Any) -> bool:
        """The core hands every message here first: True when it was an answer on the group connection. A reset
        reaches both connections (the core's too)."""
        if type(msg) is ConnectionReset:
            self.network.on_message(src, msg)
            return False
        if isinstance(msg, GROUP_RESPONSES):
            self.network.on_message(src, msg)
            return True
        return False

    def send_to_coordinator(self, build: Callable[[int], Any], callback: Callable[[Any, str | None], None],
                            timeout_ms: float | None = None) -> None:
        """Send ``build(correlation_id)`` to the coordinator; ``callback(response, error)`` where ``error`` is a
        transport error (the coordinator is then forgotten). ``timeout_ms`` overrides ``request.timeout.ms`` (a
        JoinGroup waits up to the rebalance timeout at the coordinator)."""
        def go(_: KafkaError | None) -> None:
            if not self._alive():
                return
            if self.coordinator is None:
                self.with_coordinator(go)
                return
            # a coordinator whose connection just dropped is not tried again before reconnect.backoff.ms (Kafka's
            # NetworkClient keeps the request until the node is ready), else a dead one would be hammered
            wait = self.network.backoff_remaining_ms(self.coordinator, self.port.now)
            if wait > 0:
                self.set_timer(wait, lambda: go(None), "coordinator-backoff")
                return

            def answered(response: Any, error: str | None) -> None:
                if not self._alive():
                    return
                if error is not None:
                    self.coordinator_unknown(error)
                callback(response, error)
            self.send_raw(self.coordinator, build, answered, timeout_ms)
        self.with_coordinator(go)

    def send_raw(self, node: NodeId, build: Callable[[int], Any], callback: Callable[[Any, str | None], None],
                 timeout_ms: float | None = None) -> None:
        """Send on the group connection with its own request timeout (Kafka computes one per request)."""
        network = self.network
        if timeout_ms is None:
            network.send(node, build, callback)
            return
        normal = network.request_timeout_ms
        network.request_timeout_ms = max(normal, timeout_ms)
        try:
            network.send(node, build, callback)
        finally:
            network.request_timeout_ms = normal

    # -- offsets ---------------------------------------------------------------------------------------------------
    def commit_identity(self) -> tuple[int, str]:
        """(generation or member epoch, member id) to commit with; raises when this member may not commit now."""
        return NO_GENERATION, UNKNOWN_MEMBER_ID

    def current_positions(self, partitions: Iterable[TopicPartition] | None = None) -> dict[TopicPartition,
                                                                                          OffsetAndMetadata]:
        """The consumed positions (next offset to read) of the assigned partitions that have one."""
        out: dict[TopicPartition, OffsetAndMetadata] = {}
        wanted = None if partitions is None else set(partitions)
        for tp, state in self.core.assignment.items():
            if state.position is not None and (wanted is None or tp in wanted):
                out[tp] = OffsetAndMetadata(state.position)
        return out

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None, callback: CommitCallback,
               deadline_ms: float | None = None) -> None:
        """Commit ``offsets`` (None: the current positions of the assignment). ``deadline_ms`` None is an async
        commit (no retries); otherwise retriable errors are retried until then (a sync commit)."""
        if offsets is None:
            offsets = self.current_positions()
        offsets = dict(sorted(offsets.items()))
        history = self.core.history
        op = history.invoke(self.port.now, self.core.node_id, "commit",
                            offsets={(tp.topic, tp.partition): o.offset for tp, o in offsets.items()}) \
            if history is not None else -1

        def done(error: KafkaError | None, unknown: bool = False) -> None:
            if history is not None:
                if error is None:
                    history.ok(op, self.port.now,
                               offsets={(tp.topic, tp.partition): o.offset for tp, o in offsets.items()})
                elif unknown:
                    history.info(op, self.port.now, error=error.error_name)
                else:
                    history.fail(op, self.port.now, error=error.error_name)
            if error is None:
                self.port.record("consumer.commit", len(offsets))
            callback(error)

        if not offsets:
            done(None)
            return
        # the timeout the caller gave, for the error text (Kafka names the commitSync timeout, not the default)
        timeout_ms = None if deadline_ms is None else deadline_ms - self.port.now
        self._commit_attempt(offsets, done, deadline_ms, timeout_ms)

    def _commit_attempt(self, offsets: dict[TopicPartition, OffsetAndMetadata],
                        done: Callable[[KafkaError | None, bool], None], deadline_ms: float | None,
                        timeout_ms: float | None) -> None:
        if not self._alive():
            return
        try:
            generation, member_id = self.commit_identity()
        except KafkaError as exc:
            done(exc, False)
            return
        self.commits_sent += 1

        def retry_or_fail(exc: KafkaError, unknown: bool) -> None:
            if deadline_ms is not None and self.port.now + self.retry_backoff_ms < deadline_ms:
                self.set_timer(self.retry_backoff_ms,
                               lambda: self._commit_attempt(offsets, done, deadline_ms, timeout_ms), "commit-retry")
            else:
                done(exc if timeout_ms is None else KafkaTimeoutError(
                    f"Timeout of {timeout_ms:g}ms expired before successfully committing offsets "
                    f"{_describe(offsets)} (last error: {exc.error_name})"), unknown)

        def answered(response: Any, error: str | None) -> None:
            if error is not None or not isinstance(response, OffsetCommitResponse):
                retry_or_fail(error_for_name(error or "UNKNOWN_SERVER_ERROR")(), error in _UNKNOWN_OUTCOME)
                return
            errors = sorted({e for e in response.errors.values() if e != "NONE"})
            if not errors:
                done(None, False)
                return
            name = errors[0]
            if name in COORDINATOR_ERRORS:
                self.coordinator_unknown(name)
                retry_or_fail(error_for_name(name)(), False)
            elif name in ("UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION", "FENCED_INSTANCE_ID", "FENCED_MEMBER_EPOCH"):
                self.on_commit_fenced(name)
                done(CommitFailedError(COMMIT_FAILED_MESSAGE), False)
            elif name == "REBALANCE_IN_PROGRESS":
                done(RebalanceInProgressError(
                    "Offset commit cannot be completed since the consumer is undergoing a rebalance for auto "
                    "partition assignment. You can try completing the rebalance by calling poll() and then retry "
                    "the operation."), False)
            elif name == "STALE_MEMBER_EPOCH" or name in _RETRY_LATER or error_for_name(name).retriable:
                retry_or_fail(error_for_name(name)(), False)
            else:
                done(error_for_name(name)(), False)

        self.send_to_coordinator(lambda cid: OffsetCommitRequest(
            self.group_id, generation, member_id, self.instance_id, offsets, correlation_id=cid), answered)

    def on_commit_fenced(self, error: str) -> None:
        """A commit learnt that this member is no longer in the group (subclasses reset and rejoin)."""

    def fetch_committed(self, partitions: Iterable[TopicPartition], callback: FetchCallback,
                        deadline_ms: float | None = None) -> None:
        """The group's committed offsets of ``partitions`` (None where nothing is committed); retriable errors are
        retried until ``deadline_ms`` (default: ``default.api.timeout.ms`` from now)."""
        tps = tuple(sorted(set(partitions)))
        if deadline_ms is None:
            deadline_ms = self.port.now + self.default_api_timeout_ms
        self._fetch_attempt(tps, callback, deadline_ms, deadline_ms - self.port.now)

    def fetch_identity(self) -> tuple[str | None, int]:
        """(member id, member epoch) an OffsetFetch carries (KIP-848 members only)."""
        return None, -1

    def _fetch_attempt(self, tps: tuple[TopicPartition, ...], callback: FetchCallback, deadline_ms: float,
                       timeout_ms: float) -> None:
        """One OffsetFetch; ``timeout_ms`` is what the caller allowed in all (for the timeout's message)."""
        if not self._alive():
            return
        if not tps:
            callback({})
            return

        def retry(name: str) -> None:
            if self.port.now + self.retry_backoff_ms < deadline_ms:
                self.set_timer(self.retry_backoff_ms,
                               lambda: self._fetch_attempt(tps, callback, deadline_ms, timeout_ms), "offset-fetch-retry")
            else:
                callback(KafkaTimeoutError(f"Timeout of {timeout_ms:g}ms expired before the last "
                                           f"committed offset for partitions {list(map(str, tps))} could be "
                                           f"determined (last error: {name})"))

        def answered(response: Any, error: str | None) -> None:
            if error is not None or not isinstance(response, OffsetFetchResponse):
                retry(error or "UNKNOWN_SERVER_ERROR")
                return
            if response.error != "NONE":
                if response.error in COORDINATOR_ERRORS:
                    self.coordinator_unknown(response.error)
                    retry(response.error)
                elif response.error in _RETRY_LATER or response.error == "STALE_MEMBER_EPOCH" \
                        or error_for_name(response.error).retriable:
                    retry(response.error)
                else:
                    callback(error_for_name(response.error)())
                return
            result: dict[TopicPartition, OffsetAndMetadata | None] = {}
            for tp in tps:
                got = response.offsets.get(tp)
                result[tp] = got if got is not None and got.offset >= 0 else None
            callback(result)

        member_id, epoch = self.fetch_identity()
        self.send_to_coordinator(lambda cid: OffsetFetchRequest(self.group_id, tps, member_id=member_id,
                                                                member_epoch=epoch, correlation_id=cid), answered)

    # -- assignment changes --------------------------------------------------------------------------------------------
    def committed_offset(self, tp: TopicPartition) -> int | None:
        """The core's hook: the committed offset fetched for a newly assigned partition (once)."""
        return self._committed_cache.pop(tp, None)

    def apply_assignment(self, partitions: Iterable[TopicPartition], then: Callable[[], None] | None = None) -> None:
        """Make ``partitions`` the assignment: first fetch the committed offsets of those not assigned now, so they
        start from the commit (else ``auto.offset.reset``); then ``then()``."""
        new = sorted(set(partitions))
        added = [tp for tp in new if tp not in self.core.assignment]
        seq = self._assign_seq

        def fetched(result: dict[TopicPartition, OffsetAndMetadata | None] | KafkaError) -> None:
            if not self._alive() or seq != self._assign_seq:
                return
            if isinstance(result, KafkaError):
                self.port.record("consumer.offset_fetch_failed", 1, error=result.error_name)
            else:
                for tp, om in result.items():
                    if om is not None:
                        self._committed_cache[tp] = om.offset
            self.set_partitions(new)
            self._committed_cache.clear()
            if then is not None:
                then()

        if added:
            self.fetch_committed(added, fetched)
        else:
            self.set_partitions(new)
            if then is not None:
                then()

    def mark_pending_revocation(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop handing out and fetching records of partitions a rebalance is about to take (Kafka's
        ``markPendingRevocation``), so nothing is consumed after the commit that precedes their revocation."""
        for tp in partitions:
            state = self.core.assignment.get(tp)
            if state is not None:
                state.pending_revocation = True

    def set_partitions(self, partitions: Sequence[TopicPartition]) -> None:
        """Change what the core fetches now, and record it in the history (``f="rebalance"``)."""
        core = self.core
        self._assign_seq += 1
        before = list(core.assignment)
        core.set_assignment(partitions)
        if list(core.assignment) == before:
            return
        history = core.history
        if history is not None:
            now = self.port.now
            op = history.invoke(now, core.node_id, "rebalance")
            history.ok(op, now, offsets={(tp.topic, tp.partition): -1 for tp in partitions})
        self.port.record("consumer.assignment", len(partitions), protocol=self.protocol)

    # -- auto-commit ---------------------------------------------------------------------------------------------------
    def maybe_auto_commit(self, now_ms: float) -> None:
        """Kafka's ``maybeAutoCommitOffsetsAsync``: commit the positions when ``auto.commit.interval.ms`` passed."""
        if not self.auto_commit or now_ms < self.next_auto_commit_ms or not self.may_auto_commit():
            return
        self.next_auto_commit_ms = now_ms + self.auto_commit_interval_ms
        offsets = self.current_positions()
        if offsets:
            self.commit(offsets, lambda error: None)

    def may_auto_commit(self) -> bool:
        """Whether an auto-commit may go now (a member in the middle of a rebalance waits)."""
        return True

    def fail(self, error: KafkaError) -> None:
        """A fatal error: the next poll() raises it."""
        self._fatal = error


def _describe(offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> str:
    return "{" + ", ".join(f"{tp}={o.offset}" for tp, o in offsets.items()) + "}"


def sorted_tps(partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
    return sorted(set(partitions))


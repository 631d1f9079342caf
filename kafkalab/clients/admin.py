"""The admin client: topic and config management sent straight to the KRaft controllers (KIP-919).

Kafka 3.7+ lets an admin client bootstrap from the controllers (``--bootstrap-controller``); kafkalab's admin always
does: it sends CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs and ElectLeaders to the
controller it believes active, and on NOT_CONTROLLER or a request timeout tries the next controller in order. It is a
network node like any client (``node_id``), so it can be partitioned away from the quorum.

Client quotas (KIP-546): :meth:`AdminClient.alter_client_quotas` and :meth:`AdminClient.describe_client_quotas` send
AlterClientQuotas and DescribeClientQuotas to the controller, which writes ``ClientQuotaRecord`` rows every broker
replays (:mod:`kafkalab.controller.client_quota_control`, :mod:`kafkalab.broker.quotas`). A refused entity raises
:class:`~kafkalab.errors.InvalidRequestError` with the controller's message (what was wrong, what is allowed).

Consumer group administration goes to the group coordinators instead (Kafka's admin looks each group's coordinator
up with FindCoordinator): :class:`GroupAdminCore` is the non-blocking part (a port, a bootstrap list, callbacks),
usable inside a process such as a Connect worker, with Kafka's ``listConsumerGroupOffsets``,
``alterConsumerGroupOffsets`` (an OffsetCommit with generation -1 and no member id, which a non-empty classic group
refuses with UNKNOWN_MEMBER_ID), ``deleteConsumerGroupOffsets`` (OffsetDelete) and ``deleteConsumerGroups``
(DeleteGroups, one request per group). NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE look the coordinator up again,
COORDINATOR_LOAD_IN_PROGRESS (and REBALANCE_IN_PROGRESS for a commit, UNSTABLE_OFFSET_COMMIT for a fetch) retry
after ``retry.backoff.ms`` (100 ms), a lost request is retried, and past ``timeout_ms`` the call fails with
REQUEST_TIMED_OUT, as the admin client's per-call timeouts do. :class:`GroupAdminClient` is its blocking facade.

The facade drives the simulation (``drive(predicate, timeout_ms)``) until the answer arrives; the answers are the
controller's response messages, which the Cluster facade turns into Kafka errors. A request whose fields break its
schema (a wrong type: what Kafka's client could not serialize) is a TypeError before anything is sent.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafkalab.clients.futures import check_timeout_ms
from kafkalab.clients.network import NetworkClient
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.errors import KafkaTimeoutError, error_for_name
from kafkalab.ports import ProcessPort
from kafkalab.protocol import admin as cm
from kafkalab.protocol import quotas as qm
from kafkalab.protocol.conformance import violations
from kafkalab.protocol.controller import message_size_bytes
from kafkalab.protocol.group import (
    NO_GENERATION,
    UNKNOWN_MEMBER_ID,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
)
from kafkalab.protocol.group_admin import (
    DeleteGroupsRequest,
    DeleteGroupsResponse,
    OffsetDeleteRequest,
    OffsetDeleteResponse,
)
from kafkalab.protocol.quotas import QuotaEntity, canonical_entity, describe_entity

__all__ = ["AdminClient", "GroupAdminCore", "GroupAdminClient"]

Drive = Callable[[Callable[[], bool], float], bool]


class _AdminProcess:
    def __init__(self, ctx: ProcessPort) -> None:
        self.ctx = ctx
        self.responses: dict[int, Any] = {}

    def on_message(self, src: Any, msg: Any) -> None:
        corr = getattr(msg, "correlation_id", None)
        if corr is not None:
            self.responses[corr] = msg


class AdminClient:
    """Requests to the active controller, retried across controllers until ``timeout_ms``."""

    def __init__(self, world: Any, controllers: Sequence[int], *, node_id: Any = "admin", drive: Drive | None = None,
                 active_hint: Callable[[], int | None] | None = None, request_timeout_ms: float = 2_000.0) -> None:
        if not controllers:
            raise ValueError("an admin client needs at least one controller to talk to")
        self.world = world
        self.controllers = list(controllers)
        self.node_id = node_id
        self._drive: Drive = drive if drive is not None else world.run_until
        self._hint = active_hint
        self.request_timeout_ms = request_timeout_ms
        self._corr = 0
        self._next = 0
        world.add_node(node_id, _AdminProcess, server=False)

    @property
    def _process(self) -> _AdminProcess | None:
        return self.world.processes.get(self.node_id)  # type: ignore[no-any-return]

    def request(self, build: Callable[[int], Any], timeout_ms: float = 30_000.0) -> Any:
        """Send ``build(correlation_id)`` to the active controller; retry elsewhere on NOT_CONTROLLER or silence."""
        check_timeout_ms(timeout_ms, allow_none=False)
        problems = violations(build(0))
        if problems:
            raise TypeError(f"malformed admin request: {'; '.join(problems)}")
        deadline = self.world.now + timeout_ms
        last_error = "no controller answered"
        while self.world.now < deadline:
            proc = self._process
            if proc is None:
                raise KafkaTimeoutError(f"admin client {self.node_id!r} is crashed")
            hinted = self._hint() if self._hint is not None else None
            target = hinted if hinted is not None else self.controllers[self._next % len(self.controllers)]
            self._corr += 1
            corr = self._corr
            msg = build(corr)
            proc.ctx.send(target, msg, size_bytes=message_size_bytes(msg))
            wait = min(self.request_timeout_ms, max(deadline - self.world.now, 0.0))
            self._drive(lambda c=corr, p=proc: c in p.responses, wait)  # type: ignore[misc]
            response = proc.responses.pop(corr, None)
            if response is None:
                last_error = f"controller {target} did not answer within {wait:.0f} ms"
                self._next += 1
                continue
            error = getattr(response, "error", None)
            if error == "NOT_CONTROLLER":
                last_error = f"controller {target} is not the active controller"
                self._next += 1
                if hinted is not None:
                    self._drive(lambda: False, 50.0)   # the hint is stale: let the election settle a little
                continue
            return response
        raise KafkaTimeoutError(f"admin request timed out after {timeout_ms:.0f} ms: {last_error}")

    def create_topics(self, topics: Sequence[cm.CreatableTopic], timeout_ms: float = 30_000.0,
                      validate_only: bool = False) -> cm.CreateTopicsResponse:
        items = tuple(topics)      # build() runs once to check and once per attempt: an iterator would run dry
        return self.request(lambda c: cm.CreateTopicsRequest(items, validate_only, correlation_id=c),  # type: ignore[no-any-return]
                            timeout_ms)

    def delete_topics(self, names: Sequence[str], timeout_ms: float = 30_000.0) -> cm.DeleteTopicsResponse:
        items = tuple(names)
        return self.request(lambda c: cm.DeleteTopicsRequest(items, correlation_id=c),  # type: ignore[no-any-return]
                            timeout_ms)

    def create_partitions(self, topics: Sequence[cm.CreatePartitionsTopic],
                          timeout_ms: float = 30_000.0) -> cm.CreatePartitionsResponse:
        items = tuple(topics)
        return self.request(lambda c: cm.CreatePartitionsRequest(items, correlation_id=c),  # type: ignore[no-any-return]
                            timeout_ms)

    def alter_configs(self, resources: Sequence[cm.AlterConfigsResource],
                      timeout_ms: float = 30_000.0) -> cm.IncrementalAlterConfigsResponse:
        items = tuple(resources)
        return self.request(lambda c: cm.IncrementalAlterConfigsRequest(items, correlation_id=c),  # type: ignore[no-any-return]
                            timeout_ms)

    def elect_leaders(self, election_type: str = cm.ELECTION_PREFERRED,
                      partitions: Sequence[tuple[str, int]] | None = None,
                      timeout_ms: float = 30_000.0) -> cm.ElectLeadersResponse:
        parts = tuple(partitions) if partitions is not None else None
        return self.request(lambda c: cm.ElectLeadersRequest(election_type, parts, correlation_id=c),  # type: ignore[no-any-return]
                            timeout_ms)

    def alter_client_quotas(self, alterations: Sequence[tuple[Any, Mapping[str, float | None]]], *,
                            validate_only: bool = False, timeout_ms: float = 30_000.0) -> None:
        """Set or remove client quotas (Kafka's ``Admin.alterClientQuotas``, KIP-546). Each alteration is
        ``(entity, {key: value})``: the entity a dict of entity type (``"user"``, ``"client-id"``) to name, None
        naming the default entity; a value of None removes the key. E.g.
        ``admin.alter_client_quotas([({"client-id": "app"}, {"producer_byte_rate": 1_048_576})])``.
        Raises InvalidRequestError (naming the entity) for the first entity the controller refused; the others
        are applied all the same, as Kafka applies each entity on its own."""
        entries = []
        for item in alterations:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping)):
                raise TypeError(f"an alteration is (entity, {{quota key: value or None}}), got {item!r}")
            entity = canonical_entity(item[0])
            ops = []
            for key, value in item[1].items():
                if not isinstance(key, str):
                    raise TypeError(f"a quota key is a str such as 'producer_byte_rate', got {key!r}")
                if value is None:
                    ops.append(qm.ClientQuotaOp(key, 0.0, True))
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    ops.append(qm.ClientQuotaOp(key, float(value)))
                else:
                    raise TypeError(f"quota {key!r}: a value is a number (bytes per second) or None to remove it, "
                                    f"got {type(value).__name__} {value!r}")
            entries.append(qm.ClientQuotaAlteration(entity, tuple(ops)))
        items = tuple(entries)
        response = self.request(lambda c: qm.AlterClientQuotasRequest(items, validate_only, c), timeout_ms)
        for result in response.entries:
            if result.error != "NONE":
                raise error_for_name(result.error)(
                    f"client quotas of {describe_entity(result.entity)}: {result.error_message}")

    def describe_client_quotas(self, components: Mapping[str, str | None] | Sequence[qm.ClientQuotaFilterComponent]
                               = (), *, strict: bool = False,
                               timeout_ms: float = 30_000.0) -> dict[QuotaEntity, dict[str, float]]:
        """The quotas of the entities matching a filter (Kafka's ``Admin.describeClientQuotas``): ``{entity type:
        name}`` matches that name exactly (None: the default entity), or :class:`~kafkalab.protocol.quotas.
        ClientQuotaFilterComponent` values (``match_type`` MATCH_ANY matches every name of a type); no component
        matches every entity, ``strict`` only entities of exactly the named types. -> {entity: {key: value}}."""
        if isinstance(components, Mapping):
            parts = tuple(qm.ClientQuotaFilterComponent(t, qm.MATCH_DEFAULT if n is None else qm.MATCH_EXACT, n)
                          for t, n in components.items())
        else:
            parts = tuple(components)
        response = self.request(lambda c: qm.DescribeClientQuotasRequest(parts, strict, c), timeout_ms)
        if response.error != "NONE":
            raise error_for_name(response.error)(f"describe client quotas: {response.error_message}")
        return {e.entity: dict(e.values) for e in response.entries}


#: answers that send the request to a freshly looked-up coordinator
_UNMAPPED = frozenset({"NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE"})
#: answers retried at the same coordinator after the backoff
_RETRIABLE = frozenset({"COORDINATOR_LOAD_IN_PROGRESS", "REBALANCE_IN_PROGRESS", "UNSTABLE_OFFSET_COMMIT",
                        "REQUEST_TIMED_OUT", "NETWORK_EXCEPTION"})
#: Kafka's admin ``retry.backoff.ms`` and ``default.api.timeout.ms``
RETRY_BACKOFF_MS = 100.0
DEFAULT_API_TIMEOUT_MS = 60_000.0

Outcome = Callable[[Any, "str | None"], None]
#: what a coordinator's answer means: ("retry" | "find" | "done", value, error)
Interpret = Callable[[Any], tuple[str, Any, "str | None"]]


class GroupAdminCore:
    """Consumer group administration from inside a process: each call ends in ``done(value, error)`` exactly once,
    ``error`` a Kafka error name (None on success)."""

    def __init__(self, port: Any, bootstrap: Sequence[Any], *, request_timeout_ms: float = 30_000.0,
                 retry_backoff_ms: float = RETRY_BACKOFF_MS) -> None:
        if not bootstrap:
            raise ValueError("a group admin client needs at least one broker in bootstrap")
        self.port = port
        self.bootstrap = list(bootstrap)
        self.retry_backoff_ms = retry_backoff_ms
        self.network = NetworkClient(port, request_timeout_ms=request_timeout_ms, reconnect_backoff_ms=50.0,
                                     max_in_flight=5)
        self._rng = port.rng("group-admin")

    def on_message(self, src: Any, msg: Any) -> None:
        self.network.on_message(src, msg)

    # ---- Kafka's Admin calls ---------------------------------------------------------------------------------------
    def list_offsets(self, group_id: str, done: Outcome, timeout_ms: float = DEFAULT_API_TIMEOUT_MS) -> None:
        """``listConsumerGroupOffsets``: ``done({TopicPartition: OffsetAndMetadata}, None)`` (every committed
        partition, sorted; {} for an unknown group), or ``done(None, error)``."""
        _check_group(group_id)

        def interpret(r: Any) -> tuple[str, Any, str | None]:
            if not isinstance(r, OffsetFetchResponse):
                return "find", None, None
            if r.error == "NONE":
                return "done", {tp: om for tp, om in sorted(r.offsets.items()) if om.offset >= 0}, None
            return _verdict(r.error)
        self._call(group_id, lambda cid: OffsetFetchRequest(group_id, None, require_stable=False, correlation_id=cid),
                   interpret, done, timeout_ms)

    def alter_offsets(self, group_id: str, offsets: Mapping[TopicPartition, OffsetAndMetadata], done: Outcome,
                      timeout_ms: float = DEFAULT_API_TIMEOUT_MS) -> None:
        """``alterConsumerGroupOffsets``: an OffsetCommit as a member-less client; ``done({tp: error}, None)`` when
        every partition was committed, else ``done({tp: error}, first error)``."""
        _check_group(group_id)
        items = _check_offsets(offsets)

        def interpret(r: Any) -> tuple[str, Any, str | None]:
            if not isinstance(r, OffsetCommitResponse):
                return "find", None, None
            errors = dict(r.errors)
            for error in errors.values():
                if error in _UNMAPPED:
                    return "find", None, None
                if error in _RETRIABLE:
                    return "retry", None, None
            failed = [e for e in errors.values() if e != "NONE"]
            return "done", errors, failed[0] if failed else None
        self._call(group_id, lambda cid: OffsetCommitRequest(group_id, NO_GENERATION, UNKNOWN_MEMBER_ID, None, items,
                                                             correlation_id=cid), interpret, done, timeout_ms)

    def delete_offsets(self, group_id: str, partitions: Sequence[TopicPartition], done: Outcome,
                       timeout_ms: float = DEFAULT_API_TIMEOUT_MS) -> None:
        """``deleteConsumerGroupOffsets`` (OffsetDelete): ``done({tp: error}, first error or None)``; a group-level
        error fails every partition with it."""
        _check_group(group_id)
        parts = _check_partitions(partitions)

        def interpret(r: Any) -> tuple[str, Any, str | None]:
            if not isinstance(r, OffsetDeleteResponse):
                return "find", None, None
            if r.error != "NONE":
                how, _, error = _verdict(r.error)
                return how, {tp: r.error for tp in parts}, error
            errors = {tp: r.errors.get(tp, "NONE") for tp in parts}
            failed = [e for e in errors.values() if e != "NONE"]
            return "done", errors, failed[0] if failed else None
        self._call(group_id, lambda cid: OffsetDeleteRequest(group_id, parts, correlation_id=cid), interpret, done,
                   timeout_ms)

    def delete_groups(self, group_ids: Sequence[str], done: Outcome,
                      timeout_ms: float = DEFAULT_API_TIMEOUT_MS) -> None:
        """``deleteConsumerGroups`` (DeleteGroups, a request per group to its coordinator): ``done({group: error},
        first error or None)``, in the order asked."""
        if isinstance(group_ids, str):
            raise TypeError(f"group_ids must be a list of group ids, not a str; did you mean [{group_ids!r}]?")
        ids = list(dict.fromkeys(group_ids))
        for group_id in ids:
            _check_group(group_id)
        results: dict[str, str] = {}

        def one(group_id: str, value: Any, error: str | None) -> None:
            results[group_id] = error or "NONE"
            if len(results) == len(ids):
                ordered = {g: results[g] for g in ids}
                failed = [e for e in ordered.values() if e != "NONE"]
                done(ordered, failed[0] if failed else None)
        if not ids:
            done({}, None)
            return
        for group_id in ids:
            def interpret(r: Any, g: str = group_id) -> tuple[str, Any, str | None]:
                if not isinstance(r, DeleteGroupsResponse):
                    return "find", None, None
                return _verdict(r.results.get(g, "UNKNOWN_SERVER_ERROR"))
            self._call(group_id, lambda cid, g=group_id: DeleteGroupsRequest((g,), correlation_id=cid),  # type: ignore[misc]
                       interpret, lambda v, e, g=group_id: one(g, v, e), timeout_ms)  # type: ignore[misc]

    # ---- the request loop -----------------------------------------------------------------------------------------
    def _call(self, group_id: str, build: Callable[[int], Any], interpret: Interpret, done: Outcome,
              timeout_ms: float) -> None:
        finished = [False]
        deadline = self.port.now + timeout_ms
        timer: list[Any] = []

        def finish(value: Any, error: str | None) -> None:
            if not finished[0]:
                finished[0] = True
                if timer:
                    timer[0].cancel()
                done(value, error)

        def later(fn: Callable[[], None]) -> None:
            if self.port.now + self.retry_backoff_ms >= deadline:
                finish(None, "REQUEST_TIMED_OUT")
            else:
                self.port.set_timer(self.retry_backoff_ms, fn, name="group-admin-retry")

        def find() -> None:
            if finished[0]:
                return
            node = self.network.least_loaded(self.bootstrap, self.port.now, self._rng)
            if node is None:
                later(find)
                return

            def found(response: Any, error: str | None) -> None:
                if error is None and isinstance(response, FindCoordinatorResponse) and response.error == "NONE":
                    ask(response.node_id)
                else:
                    later(find)
            self.network.send(node, lambda cid: FindCoordinatorRequest(group_id, correlation_id=cid), found)

        def ask(coordinator: Any) -> None:
            if finished[0]:
                return

            def answered(response: Any, error: str | None) -> None:
                if finished[0]:
                    return
                if error is not None:
                    later(find)
                    return
                how, value, failure = interpret(response)
                if how == "done":
                    finish(value, failure)
                elif how == "retry":
                    later(lambda: ask(coordinator))
                else:
                    later(find)
            self.network.send(coordinator, build, answered)
        timer.append(self.port.set_timer(timeout_ms, lambda: finish(None, "REQUEST_TIMED_OUT"),
                                         name="group-admin-timeout"))
        find()


def _check_group(group_id: Any) -> None:
    if not isinstance(group_id, str):
        raise TypeError(f"group_id must be a str, got {type(group_id).__name__} {group_id!r}")


def _check_partitions(partitions: Any) -> tuple[TopicPartition, ...]:
    if isinstance(partitions, (str, TopicPartition)):
        raise TypeError(f"partitions must be a list of TopicPartition, got a single {type(partitions).__name__}; "
                        f"wrap it in a list")
    parts = tuple(partitions)
    for tp in parts:
        if not isinstance(tp, TopicPartition):
            raise TypeError(f"partitions must hold TopicPartition values, got {type(tp).__name__} {tp!r}")
    return parts


def _check_offsets(offsets: Any) -> dict[TopicPartition, OffsetAndMetadata]:
    if not isinstance(offsets, Mapping):
        raise TypeError(f"offsets must be a dict of TopicPartition -> OffsetAndMetadata, got {type(offsets).__name__}")
    checked: dict[TopicPartition, OffsetAndMetadata] = {}
    for tp, om in offsets.items():
        _check_partitions([tp])
        if not isinstance(om, OffsetAndMetadata):
            raise TypeError(f"offsets[{tp}] must be an OffsetAndMetadata, got {type(om).__name__} {om!r} "
                            f"(write OffsetAndMetadata({om!r}))")
        if om.offset < 0:
            raise ValueError(f"offsets[{tp}]: offset must be >= 0, got {om.offset} (Kafka's OffsetAndMetadata "
                             f"refuses negative offsets)")
        checked[tp] = om
    return checked


def _verdict(error: str) -> tuple[str, Any, str | None]:
    if error in _UNMAPPED:
        return "find", None, None
    if error in _RETRIABLE:
        return "retry", None, None
    return "done", None, None if error == "NONE" else error


class _GroupAdminProcess:
    def __init__(self, ctx: ProcessPort) -> None:
        self.ctx = ctx
        self.core: GroupAdminCore | None = None

    def on_message(self, src: Any, msg: Any) -> None:
        if self.core is not None:
            self.core.on_message(src, msg)


class GroupAdminClient:
    """The blocking facade of :class:`GroupAdminCore`: a client node that drives the simulation until each call is
    answered, raising the Kafka error (``GroupIdNotFoundError``, ``NonEmptyGroupError``,
    ``GroupSubscribedToTopicError``, ``UnknownMemberIdError``, ...) of a failed call."""

    def __init__(self, world: Any, brokers: Sequence[int], *, node_id: Any = "group-admin",
                 drive: Drive | None = None) -> None:
        self.world = world
        self.node_id = node_id
        self.brokers = list(brokers)
        self._drive: Drive = drive if drive is not None else world.run_until
        world.add_node(node_id, _GroupAdminProcess, server=False)

    def _core(self) -> GroupAdminCore:
        proc = self.world.processes.get(self.node_id)
        if proc is None:
            raise KafkaTimeoutError(f"group admin client {self.node_id!r} is crashed")
        if proc.core is None:
            proc.core = GroupAdminCore(proc.ctx, self.brokers)
        return proc.core  # type: ignore[no-any-return]

    def _run(self, start: Callable[[GroupAdminCore, Outcome], None], timeout_ms: float) -> Any:
        check_timeout_ms(timeout_ms, allow_none=False)
        box: list[tuple[Any, str | None]] = []
        start(self._core(), lambda value, error: box.append((value, error)))
        self._drive(lambda: bool(box), timeout_ms + 1.0)
        if not box:
            raise KafkaTimeoutError(f"group admin call timed out after {timeout_ms:.0f} ms")
        value, error = box[0]
        if error == "REQUEST_TIMED_OUT" and value is None:      # the call's own timeout (Kafka's TimeoutException)
            raise KafkaTimeoutError(f"group admin call timed out after {timeout_ms:.0f} ms (REQUEST_TIMED_OUT)")
        if error is not None:
            raise error_for_name(error)(f"{error} (answer: {value})")
        return value

    def list_consumer_group_offsets(self, group_id: str, timeout_ms: float = DEFAULT_API_TIMEOUT_MS
                                    ) -> dict[TopicPartition, OffsetAndMetadata]:
        """The group's committed offsets ({} for a group without any)."""
        return self._run(lambda c, d: c.list_offsets(group_id, d, timeout_ms), timeout_ms)  # type: ignore[no-any-return]

    def alter_consumer_group_offsets(self, group_id: str, offsets: Mapping[TopicPartition, OffsetAndMetadata],
                                     timeout_ms: float = DEFAULT_API_TIMEOUT_MS) -> dict[TopicPartition, str]:
        """Commit ``offsets`` for the group as a member-less client (refused while the group has members)."""
        return self._run(lambda c, d: c.alter_offsets(group_id, offsets, d, timeout_ms), timeout_ms)  # type: ignore[no-any-return]

    def delete_consumer_group_offsets(self, group_id: str, partitions: Sequence[TopicPartition],
                                      timeout_ms: float = DEFAULT_API_TIMEOUT_MS) -> dict[TopicPartition, str]:
        """Delete the group's committed offsets of ``partitions`` (OffsetDelete)."""
        return self._run(lambda c, d: c.delete_offsets(group_id, partitions, d, timeout_ms), timeout_ms)  # type: ignore[no-any-return]

    def delete_consumer_groups(self, group_ids: Sequence[str], timeout_ms: float = DEFAULT_API_TIMEOUT_MS
                               ) -> dict[str, str]:
        """Delete the groups (DeleteGroups); raises the first group's error."""
        return self._run(lambda c, d: c.delete_groups(group_ids, d, timeout_ms), timeout_ms)  # type: ignore[no-any-return]

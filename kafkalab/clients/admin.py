"""The admin client: topic and config management sent straight to the KRaft controllers (KIP-919).

Kafka 3.7+ lets an admin client bootstrap from the controllers (``--bootstrap-controller``); kafkalab's admin always
does: it sends CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs and ElectLeaders to the
controller it believes active, and on NOT_CONTROLLER or a request timeout tries the next controller in order. It is a
network node like any client (``node_id``), so it can be partitioned away from the quorum.

The facade drives the simulation (``drive(predicate, timeout_ms)``) until the answer arrives; the answers are the
controller's response messages, which the Cluster facade turns into Kafka errors. A request whose fields break its
schema (a wrong type: what Kafka's client could not serialize) is a TypeError before anything is sent.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kafkalab.clients.futures import check_timeout_ms
from kafkalab.errors import KafkaTimeoutError
from kafkalab.ports import ProcessPort
from kafkalab.protocol import admin as cm
from kafkalab.protocol.conformance import violations
from kafkalab.protocol.controller import message_size_bytes

__all__ = ["AdminClient"]

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

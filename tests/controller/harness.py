"""A control plane to tell stories with: 3 controllers and 3 brokers that run only the metadata listener and the
lifecycle manager (the data plane is not part of these tests), plus an admin client node.

Node ids: brokers 0, 1, 2; controllers 3000, 3001, 3002; the admin client "admin".
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kafkalab.broker.lifecycle import BrokerLifecycleManager, BrokerState
from kafkalab.broker.metadata import BrokerMetadataListener
from kafkalab.controller.server import ControllerServer
from kafkalab.metadata.image import Change, MetadataImage
from kafkalab.ports import NamedTimers
from kafkalab.protocol import admin as cm
from kafkalab.protocol.controller import message_size_bytes
from kafkalab.sim.world import ProcessContext, World

BROKERS = (0, 1, 2)
CONTROLLERS = (3000, 3001, 3002)


class MiniBroker:
    """A broker process without a data plane: metadata observer + lifecycle manager."""

    def __init__(self, ctx: ProcessContext, controllers: tuple[int, ...], config: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.broker_id: int = ctx.node_id  # type: ignore[assignment]
        self.metadata = BrokerMetadataListener(ctx, controllers, config)
        self.changes: list[Change] = []
        self.metadata.add_listener(lambda change, image: self.changes.append(change))
        self.timers = NamedTimers(ctx, self._on_timer, "lifecycle")
        self.stopped = False
        self.lifecycle = BrokerLifecycleManager(
            self.broker_id, self, controllers=controllers,
            incarnation_id=f"{self.broker_id}-{ctx.incarnation}-{ctx.rng('incarnation').getrandbits(32):08x}",
            metadata_offset=lambda: self.metadata.metadata_offset,
            active_controller=lambda: self.metadata.active_controller_id,
            heartbeat_interval_ms=float(config.get("broker.heartbeat.interval.ms", 2000)),
            on_shutdown=self._stop)
        self.metadata.start()
        self.lifecycle.start(ctx.now)

    @property
    def image(self) -> MetadataImage:
        return self.metadata.image

    def on_message(self, src: Any, msg: Any) -> None:
        if self.stopped:
            return
        if not self.metadata.handle(src, msg):
            self.lifecycle.handle(src, msg, self.ctx.now)

    # lifecycle port
    def send(self, dst: int, msg: Any) -> None:
        self.ctx.send(dst, msg, message_size_bytes(msg))

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers.set(name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.timers.cancel(name)

    def _on_timer(self, name: str) -> None:
        if not self.stopped:
            self.lifecycle.on_timer(name, self.ctx.now)

    def _stop(self) -> None:
        self.stopped = True
        self.ctx.world.kernel.call_soon(self.ctx.world.crash, self.broker_id)


class Admin:
    """A client node that collects controller responses by correlation id."""

    def __init__(self, ctx: ProcessContext) -> None:
        self.ctx = ctx
        self.responses: dict[int, Any] = {}

    def on_message(self, src: Any, msg: Any) -> None:
        if hasattr(msg, "correlation_id"):          # a ConnectionReset has none
            self.responses[msg.correlation_id] = msg


class ControlPlane:
    def __init__(self, seed: int = 0, config: Mapping[str, Any] | None = None, brokers: tuple[int, ...] = BROKERS,
                 controllers: tuple[int, ...] = CONTROLLERS) -> None:
        self.config = dict(config or {})
        self.world = World(seed)
        self.kernel = self.world.kernel
        self.broker_ids = brokers
        self.controller_ids = controllers
        for c in controllers:
            self.world.add_node(c, ControllerServer.factory(controllers, self.config))
        for b in brokers:
            self.world.add_node(b, self._broker_factory())
        self.world.add_node("admin", Admin, server=False)
        self._corr = 0

    def _broker_factory(self) -> Callable[[ProcessContext], MiniBroker]:
        return lambda ctx: MiniBroker(ctx, self.controller_ids, self.config)

    # -- time -------------------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.kernel.now

    def run(self, ms: float) -> None:
        self.world.run(ms)

    def run_until(self, predicate: Callable[[], bool], timeout_ms: float = 60_000) -> bool:
        return self.world.run_until(predicate, timeout_ms)

    # -- nodes ------------------------------------------------------------------------------------------------------
    def controller(self, node: int) -> ControllerServer:
        proc = self.world.processes[node]
        assert isinstance(proc, ControllerServer), f"controller {node} is down"
        return proc

    def broker(self, node: int) -> MiniBroker:
        proc = self.world.processes[node]
        assert isinstance(proc, MiniBroker), f"broker {node} is down"
        return proc

    def active_controller(self) -> int | None:
        for c in self.controller_ids:
            proc = self.world.processes[c]
            if isinstance(proc, ControllerServer) and proc.active:
                return c
        return None

    def active(self) -> ControllerServer:
        c = self.active_controller()
        assert c is not None, "no active controller"
        return self.controller(c)

    def image(self) -> MetadataImage:
        """The active controller's committed image."""
        return self.active().image

    def unfenced(self) -> list[int]:
        c = self.active_controller()
        return [] if c is None else self.controller(c).image.unfenced_brokers()

    def boot(self, timeout_ms: float = 30_000) -> None:
        def booted() -> bool:
            return self.unfenced() == sorted(self.broker_ids) and all(
                self.broker(b).lifecycle.state is BrokerState.RUNNING for b in self.broker_ids)
        assert self.run_until(booted, timeout_ms), "cluster did not boot"

    def crash(self, node: Any) -> None:
        self.world.crash(node)

    def restart(self, node: Any) -> None:
        self.world.restart(node)

    # -- requests ---------------------------------------------------------------------------------------------------
    def request(self, msg: Any, timeout_ms: float = 30_000) -> Any:
        """Send ``msg`` to the active controller and run until it answers (retrying on NOT_CONTROLLER)."""
        deadline = self.now + timeout_ms
        admin = self.world.processes["admin"]
        assert isinstance(admin, Admin)
        while self.now < deadline:
            if not self.run_until(lambda: self.active_controller() is not None, deadline - self.now):
                break
            self._corr += 1
            corr = self._corr
            sent = dataclasses.replace(msg, correlation_id=corr)
            self.world.network.send("admin", self.active_controller(), sent, message_size_bytes(sent))
            self.run_until(lambda corr=corr: corr in admin.responses, min(5_000, deadline - self.now))
            response = admin.responses.get(corr)
            if response is not None and not _not_controller(response):
                return response
        raise TimeoutError(f"no answer to {msg} within {timeout_ms} ms")

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 3,
                     configs: Mapping[str, str] | None = None) -> cm.CreatableTopicResult:
        resp = self.request(cm.CreateTopicsRequest((cm.CreatableTopic(
            name, partitions, replication_factor, configs=tuple((configs or {}).items())),)))
        return resp.topics[0]

    def partition(self, topic: str, partition: int = 0) -> Any:
        part = self.image().partition(topic, partition)
        assert part is not None, f"{topic}-{partition} does not exist"
        return part


def _not_controller(response: Any) -> bool:
    if getattr(response, "error", None) == "NOT_CONTROLLER":
        return True
    for f in dataclasses.fields(response):
        items = getattr(response, f.name)
        if isinstance(items, tuple) and items and dataclasses.is_dataclass(items[0]):
            if any(getattr(i, "error", None) == "NOT_CONTROLLER" for i in items):
                return True
    return False


__all__ = ["BROKERS", "CONTROLLERS", "MiniBroker", "Admin", "ControlPlane", "BrokerState"]

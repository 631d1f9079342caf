"""A simulated world: kernel, network, disks and the processes that run on them, with crash/restart/pause.

How it works. A :class:`World` owns one :class:`~kafkalab.sim.kernel.Kernel`, one
:class:`~kafkalab.sim.network.Network` and one :class:`~kafkalab.sim.disk.Disk` per node. A node is started from a
*factory*: ``factory(ctx) -> process``, where ``ctx`` is a :class:`ProcessContext` (the port of DESIGN.md principle 3:
send, timers, disk, named randomness, metrics, the time) and the process has ``on_message(src, msg)``. A crash kills the
node's :class:`~kafkalab.sim.kernel.Owner` (all its timers and pending deliveries die), takes it off the network, and for
a power loss drops its disk's unflushed data; a restart calls the factory again with a fresh context and the same disk,
so the new process starts from durable state only. RaftCluster and Cluster are Worlds.

Protocol cores never see this module: their drivers (the processes) translate between the core's messages and timers and
the context.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Protocol

from kafkalab.ports import ProcessPort, Storage
from kafkalab.sim.disk import Disk
from kafkalab.sim.kernel import Kernel, Owner, Timer
from kafkalab.sim.metrics import Metrics
from kafkalab.sim.network import LinkSpec, Network

__all__ = ["World", "ProcessContext", "Process"]

NodeId = Hashable


class Process(Protocol):
    def on_message(self, src: Any, msg: Any) -> None: ...


class ProcessContext:
    """What a running process may touch: its node id, the clock, timers, the network, its disk and its RNG streams.

    The simulator's implementation of :class:`kafkalab.ports.ProcessPort`: timers and events are kernel events owned
    by this incarnation, ``disk`` is the node's :class:`~kafkalab.sim.disk.Disk`. Shells use only the port's members;
    ``world``, ``kernel`` and ``owner`` are for the simulator's own wiring.
    """

    __slots__ = ("node_id", "world", "kernel", "owner", "disk", "metrics", "incarnation")

    def __init__(self, world: World, node_id: NodeId, owner: Owner, incarnation: int) -> None:
        self.node_id = node_id
        self.world = world
        self.kernel = world.kernel
        self.owner = owner
        self.disk = world.disks[node_id]
        self.metrics = world.recorder
        self.incarnation = incarnation

    @property
    def now(self) -> float:
        return self.kernel.now

    @property
    def alive(self) -> bool:
        return self.owner.alive

    def send(self, dst: NodeId, msg: Any, size_bytes: int = 64) -> None:
        """Send a message; it is lost if this process is dead, the link is cut, or the destination is down."""
        if self.owner.alive:
            self.world.network.send(self.node_id, dst, msg, size_bytes)

    def set_timer(self, delay_ms: float, callback: Callable[..., Any], *args: Any, name: str | None = None) -> Timer:
        """A timer that dies with this process."""
        return self.kernel.schedule(delay_ms, callback, *args, owner=self.owner, name=name)

    def schedule_at(self, at_ms: float, callback: Callable[..., Any], *args: Any, name: str | None = None) -> Timer:
        """A timer at virtual time ``at_ms`` that dies with this process."""
        return self.kernel.schedule_at(at_ms, callback, *args, owner=self.owner, name=name)

    def post_at(self, at_ms: float, callback: Callable[..., Any], *args: Any) -> None:
        """An event at ``at_ms`` nobody cancels (the kernel's fast path); it dies with this process."""
        self.kernel.post_at(at_ms, callback, *args, owner=self.owner)

    def halt(self) -> None:
        """Crash this node at the current time, after the event being handled (Kafka's ``Exit.halt``)."""
        self.kernel.post(0.0, self.world.crash, self.node_id)

    def rng(self, name: str) -> random.Random:
        """The node's random stream ``name`` (continues across restarts)."""
        return self.kernel.rng(f"{self.node_id}/{name}")

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.metrics.record(self.node_id, metric, value, **labels)


#: ``factory(port) -> process``: what starts one incarnation of a node (given a ProcessContext, typed by its port).
Factory = Callable[[ProcessPort], Process]


class World:
    """Kernel + network + disks + processes, with the faults a nemesis can inject."""

    def __init__(self, seed: int = 0, network: LinkSpec | None = None, *, fsync_latency_ms: float = 1.0,
                 writeback_interval_ms: float | None = 30_000.0, trace_messages: bool = False) -> None:
        self.kernel = Kernel(seed)
        self.seed = seed
        self.network = Network(self.kernel, network, trace=trace_messages)
        self.recorder = Metrics(self.kernel)
        self.disks: dict[NodeId, Disk] = {}
        self.processes: dict[NodeId, Process | None] = {}
        self._factories: dict[NodeId, Factory] = {}
        self._owners: dict[NodeId, Owner] = {}
        self._incarnations: dict[NodeId, int] = {}
        self._servers: dict[NodeId, bool] = {}
        self._fsync_latency_ms = fsync_latency_ms
        self._writeback_interval_ms = writeback_interval_ms

    # -- time ---------------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.kernel.now

    def run(self, ms: float) -> None:
        """Advance virtual time by ``ms``."""
        self.kernel.run(ms)

    def run_until(self, predicate: Callable[[], bool], timeout_ms: float) -> bool:
        """Run until ``predicate()`` holds or ``timeout_ms`` of virtual time pass; returns whether it held."""
        return self.kernel.run_until(predicate, timeout_ms)

    def metrics(self, metric: str | None = None) -> Any:
        """Every metric recorded so far (or one metric) as a tidy DataFrame: time_ms, node, metric, value, labels.

        Components write through ``world.recorder`` (a :class:`~kafkalab.sim.metrics.Metrics`).
        """
        return self.recorder.to_frame(metric)

    # -- nodes --------------------------------------------------------------------------------------------------
    def add_node(self, node_id: NodeId, factory: Factory, *, server: bool = True, start: bool = True) -> None:
        """Create a node with its own disk; ``server=False`` for clients (kept out of ``isolate``)."""
        if node_id in self._factories:
            raise ValueError(f"node {node_id!r} already exists")
        self._factories[node_id] = factory
        self._servers[node_id] = server
        self.disks[node_id] = Disk(self.kernel, node_id, fsync_latency_ms=self._fsync_latency_ms,
                                   writeback_interval_ms=self._writeback_interval_ms)
        owner = Owner(str(node_id))
        owner.alive = False
        self._owners[node_id] = owner
        self._incarnations[node_id] = 0
        self.processes[node_id] = None
        self.network.register(node_id, self._dispatch_to(node_id), owner, server=server)
        self.network.down(node_id)
        if start:
            self._start(node_id)

    def _dispatch_to(self, node_id: NodeId) -> Callable[[Any, Any], None]:
        def dispatch(src: Any, msg: Any) -> None:
            process = self.processes[node_id]
            if process is not None:
                process.on_message(src, msg)
        return dispatch

    def _start(self, node_id: NodeId) -> None:
        incarnation = self._incarnations[node_id] + 1
        self._incarnations[node_id] = incarnation
        owner = Owner(f"{node_id}" if incarnation == 1 else f"{node_id}#{incarnation}")
        self._owners[node_id] = owner
        disk = self.disks[node_id]
        disk.owner = owner
        self.network.attach(node_id, self._dispatch_to(node_id), owner)
        ctx = ProcessContext(self, node_id, owner, incarnation)
        self.processes[node_id] = self._factories[node_id](ctx)
        self.kernel.trace(f"start {node_id} incarnation {incarnation}")

    def _check(self, node_id: NodeId) -> None:
        if node_id not in self._factories:
            known = ", ".join(repr(n) for n in self._factories) or "none"
            raise KeyError(f"unknown node {node_id!r}; nodes: {known}")

    def is_alive(self, node_id: NodeId) -> bool:
        self._check(node_id)
        return self._owners[node_id].alive

    def alive_nodes(self) -> list[NodeId]:
        return [n for n in self._factories if self._owners[n].alive]

    @property
    def nodes(self) -> list[NodeId]:
        return list(self._factories)

    # -- faults -------------------------------------------------------------------------------------------------
    def crash(self, node_id: NodeId, lose_unflushed: bool = False) -> None:
        """Kill the process (its timers and in-flight deliveries die). ``lose_unflushed=True``: power loss."""
        self._check(node_id)
        owner = self._owners[node_id]
        if owner.alive:
            self.kernel.kill(owner)
            self.network.down(node_id, host_up=not lose_unflushed)
            self.processes[node_id] = None
        elif lose_unflushed:
            self.network.down(node_id, host_up=False)
        if lose_unflushed:
            self.disks[node_id].power_loss()
        self.kernel.trace(f"crash {node_id}{' power-loss' if lose_unflushed else ''}")
        self.recorder.record(node_id, "crash", 1, power_loss=lose_unflushed)

    def restart(self, node_id: NodeId) -> None:
        """Start a crashed node again from its durable state (a running node is crashed first)."""
        self._check(node_id)
        if self._owners[node_id].alive:
            self.crash(node_id)
        self._start(node_id)
        self.recorder.record(node_id, "restart", 1)

    def pause(self, node_id: NodeId) -> None:
        """Freeze a process (SIGSTOP, a long GC): it neither runs timers nor handles messages until resumed."""
        self._check(node_id)
        self.kernel.pause(self._owners[node_id])
        self.kernel.trace(f"pause {node_id}")

    def resume(self, node_id: NodeId) -> None:
        self._check(node_id)
        self.kernel.resume(self._owners[node_id])
        self.kernel.trace(f"resume {node_id}")

    def isolate(self, node_id: NodeId) -> None:
        """Cut ``node_id`` from every other server; clients keep their links."""
        self._check(node_id)
        self.network.isolate(node_id)
        self.kernel.trace(f"isolate {node_id}")

    def partition(self, *groups: Iterable[NodeId]) -> None:
        """Cut every link between nodes of different groups; nodes in no group keep all their links."""
        materialised = [list(g) for g in groups]
        self.network.partition(*materialised)
        self.kernel.trace(f"partition {materialised}")

    def heal(self) -> None:
        """Remove every partition, isolation and one-way cut."""
        self.network.heal()
        self.kernel.trace("heal")

    def slow_link(self, a: NodeId, b: NodeId, latency_ms: float, *, symmetric: bool = True) -> None:
        """Give one link a different latency (both directions unless symmetric=False)."""
        self.network.set_link(a, b, latency_ms=latency_ms, symmetric=symmetric)
        self.kernel.trace(f"slow-link {a}-{b} {latency_ms}")



# mypy checks here that the simulator's context and disk implement the port (structural typing, no inheritance).
def _implements_port(ctx: ProcessContext) -> ProcessPort:
    return ctx


def _implements_storage(disk: Disk) -> Storage:
    return disk

"""RaftCluster: a KRaft quorum in a simulated world, to poke at from a notebook (the Raft playground).

This is the one module of :mod:`kafkalab.raft` that imports the simulator: it wires nodes onto a
:class:`~kafkalab.sim.world.World`. Everything else in the package is sans-I/O.

How it works. A :class:`RaftCluster` is a :class:`~kafkalab.sim.world.World` with one node per voter (ids ``1..voters``)
and per observer (the ids after them). Each node's process (:class:`RaftProcess`) wraps a sans-I/O
:class:`~kafkalab.raft.node.RaftNode` and adapts its port to the process port (:class:`kafkalab.ports.ProcessPort`,
which the World implements): messages go on the modelled network
(sized by their record batches), the quorum-state and snapshot files and the ``__cluster_metadata-0`` log live on the
node's :class:`~kafkalab.sim.disk.Disk` (so a restart recovers from them and a power loss drops what was not flushed),
and ``flush`` is the disk's fsync. Timers are lazy: the node sets deadlines by name as often as it likes; at most one
kernel event per name is pending, and when it fires early it re-arms for the current deadline, so moving a fetch
timeout on every response costs nothing.

After every event a node handles (message, timer, fsync completion) the driver records role/epoch/leader changes in the
timeline, metrics and event trace, and runs the :class:`~kafkalab.raft.invariants.RaftInvariants` checker on that node
(``invariants=False`` switches it off).

Roles are reported as strings: ``"leader"``, ``"follower"``, ``"candidate"``, ``"prospective"``, ``"unattached"``,
``"voted"``, ``"resigned"``, and ``"crashed"`` for a node that is down.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kafkalab.log.partition_log import PartitionLog
from kafkalab.ports import NamedTimers, ProcessPort
from kafkalab.protocol.raft import message_size_bytes
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.invariants import RaftInvariants
from kafkalab.raft.node import (
    METADATA_LOG_NAME,
    QUORUM_STATE_KEY,
    SNAPSHOT_KEY,
    RaftNode,
    new_metadata_log,
    read_snapshots,
)
from kafkalab.raft.state import ElectionState, Role
from kafkalab.sim.network import LinkSpec
from kafkalab.sim.world import World

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from kafkalab.viz.live import LiveFigure

__all__ = ["RaftCluster", "RaftProcess", "CRASHED"]

CRASHED = "crashed"


class RaftProcess:
    """One incarnation of a KRaft node in a World: the node plus the port it talks through."""

    def __init__(self, cluster: RaftCluster, ctx: ProcessPort) -> None:
        self.cluster = cluster
        self.ctx = ctx
        self.node_id: int = ctx.node_id  # type: ignore[assignment]
        disk = ctx.disk
        log = disk.log(METADATA_LOG_NAME)
        if log is None:
            log = new_metadata_log()
            disk.attach_log(METADATA_LOG_NAME, log)
        self.timers = NamedTimers(ctx, self._on_timer, "raft")
        state = disk.read(QUORUM_STATE_KEY)
        snapshot = disk.read(SNAPSHOT_KEY)
        self.node = RaftNode(self.node_id, cluster.voters, log, self, ctx.rng("raft"), cluster.config,
                             election_state=state if isinstance(state, ElectionState) else None,
                             snapshot=read_snapshots(snapshot))

    # -- World's Process interface --------------------------------------------------------------------------------
    def on_message(self, src: Any, msg: Any) -> None:
        self.node.handle(src, msg, self.ctx.now)
        self.cluster._after(self.node_id)

    # -- RaftPort ---------------------------------------------------------------------------------------------------
    def send(self, dst: int, msg: Any) -> None:
        self.ctx.send(dst, msg, message_size_bytes(msg))

    def set_timer(self, name: str, at_ms: float) -> None:
        self.timers.set(name, at_ms)

    def cancel_timer(self, name: str) -> None:
        self.timers.cancel(name)

    def _on_timer(self, name: str) -> None:
        self.node.on_timer(name, self.ctx.now)
        self.cluster._after(self.node_id)

    def persist(self, key: str, value: Any) -> None:
        self.ctx.disk.write(key, value)

    def flush(self) -> None:
        self.ctx.disk.fsync(self._flushed, name="raft:fsync")

    def _flushed(self) -> None:
        self.node.on_flushed(self.ctx.now)
        self.cluster._after(self.node_id)


class RaftCluster:
    """A simulated KRaft quorum: ``voters`` voters, ``observers`` observers, one seed.

    >>> rc = RaftCluster(voters=3, seed=1)
    >>> rc.run_until(lambda: rc.leader() is not None, 10_000)
    True
    >>> offset = rc.propose(b"x"); rc.run(200); rc.committed(rc.leader())
    [b'x']

    ``election_timeout_ms``, ``fetch_timeout_ms``, ``pre_vote``, ``check_quorum`` and ``**knobs`` (any
    :class:`~kafkalab.raft.config.RaftConfig` field, e.g. ``fetch_max_wait_ms=75``, ``append_linger_ms=0``,
    ``fetch_timeout_jitter_ms=150``) override ``config``, a mapping of Kafka's ``controller.quorum.*`` keys.
    ``network`` is the default :class:`~kafkalab.sim.network.LinkSpec`; ``fsync_latency_ms`` the disks' fsync time.
    """

    def __init__(self, voters: int = 5, seed: int = 0, election_timeout_ms: float = 1000,
                 fetch_timeout_ms: float = 2000, pre_vote: bool = True, check_quorum: bool = True,
                 network: LinkSpec | None = None, observers: int = 0, *, config: Mapping[str, Any] | None = None,
                 invariants: bool = True, fsync_latency_ms: float = 1.0, trace_messages: bool = False,
                 **knobs: Any) -> None:
        if not isinstance(voters, int) or isinstance(voters, bool) or voters < 1:
            raise ValueError(f"voters must be an int >= 1, got {voters!r}")
        if not isinstance(observers, int) or isinstance(observers, bool) or observers < 0:
            raise ValueError(f"observers must be an int >= 0, got {observers!r}")
        if network is not None and not isinstance(network, LinkSpec):
            raise TypeError(f"network must be a kafkalab.sim.LinkSpec or None, got {type(network).__name__}")
        RaftConfig.check_knobs(knobs)
        self.config = RaftConfig.from_config(config, election_timeout_ms=election_timeout_ms,
                                             fetch_timeout_ms=fetch_timeout_ms, pre_vote=pre_vote,
                                             check_quorum=check_quorum, **knobs)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
        self.seed = seed
        self.world = World(seed, network, fsync_latency_ms=fsync_latency_ms, trace_messages=trace_messages)
        self.kernel = self.world.kernel
        self.voters: tuple[int, ...] = tuple(range(1, voters + 1))
        self.observers: tuple[int, ...] = tuple(range(voters + 1, voters + observers + 1))
        self._procs: dict[int, RaftProcess] = {}
        self._last: dict[int, tuple[str, int, int | None]] = {}
        self._timeline: list[tuple[float, int, str, int, int | None]] = []
        self._hw_seen: dict[int, int | None] = {}
        self.invariants: RaftInvariants | None = (
            RaftInvariants(self.voters, self._voter_logs, seed=seed, clock=lambda: self.kernel.now)
            if invariants else None)
        for node_id in self.voters + self.observers:
            self.world.add_node(node_id, self._factory(node_id))

    def _factory(self, node_id: int) -> Callable[[ProcessPort], RaftProcess]:
        def start(ctx: ProcessPort) -> RaftProcess:
            proc = RaftProcess(self, ctx)
            self._procs[node_id] = proc
            self._hw_seen[node_id] = None
            proc.node.start(ctx.now)
            self._after(node_id)
            return proc
        return start

    def _voter_logs(self) -> dict[int, PartitionLog]:
        logs: dict[int, PartitionLog] = {}
        for v in self.voters:
            log = self.world.disks[v].log(METADATA_LOG_NAME)
            if log is not None:
                logs[v] = log
        return logs

    def _after(self, node_id: int) -> None:
        """Bookkeeping after ``node_id`` handled an event: timeline, metrics, trace, invariants."""
        node = self._procs[node_id].node
        state = (node.role.value, node.epoch, node.leader_id)
        if self._last.get(node_id) != state:
            self._last[node_id] = state
            self._timeline.append((self.kernel.now, node_id, state[0], state[1], state[2]))
            self.kernel.trace(f"raft {node_id} {state[0]} epoch={state[1]} leader={state[2]}")
            self.world.recorder.record(node_id, "raft.role", state[0], epoch=state[1], leader=state[2])
        hw = node.high_watermark
        if hw != self._hw_seen.get(node_id):
            self._hw_seen[node_id] = hw
            self.world.recorder.record(node_id, "raft.high_watermark", hw)
        if self.invariants is not None:
            self.invariants.check_node(node_id, node)

    # -- time -------------------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.kernel.now

    @property
    def nodes(self) -> list[int]:
        return list(self.voters + self.observers)

    def run(self, ms: float) -> None:
        """Advance virtual time by ``ms``."""
        self.world.run(ms)

    def run_until(self, predicate: Callable[[], bool], timeout_ms: float) -> bool:
        """Run until ``predicate()`` holds or ``timeout_ms`` pass; returns whether it held."""
        return self.world.run_until(predicate, timeout_ms)

    # -- state ------------------------------------------------------------------------------------------------------
    def _check(self, node: int) -> None:
        if node not in self._procs:
            raise KeyError(f"unknown node {node!r}; nodes: {', '.join(map(str, self.nodes))}")

    def node(self, node: int) -> RaftNode | None:
        """The live :class:`RaftNode` of ``node``, or None while it is down."""
        self._check(node)
        return self._procs[node].node if self.world.is_alive(node) else None

    def _any_node(self, node: int) -> RaftNode:
        self._check(node)
        return self._procs[node].node

    def leader(self) -> int | None:
        """A live node that is leader in the highest epoch any live node knows, or None."""
        live = [self._procs[n].node for n in self.nodes if self.world.is_alive(n)]
        if not live:
            return None
        top = max(n.epoch for n in live)
        for n in live:
            if n.role is Role.LEADER and n.epoch == top:
                return n.node_id
        return None

    def epoch(self, node: int) -> int:
        """The node's epoch (for a crashed node: the last one it knew)."""
        return self._any_node(node).epoch

    def role(self, node: int) -> str:
        """The node's role as a string; ``"crashed"`` while it is down."""
        n = self._any_node(node)
        return n.role.value if self.world.is_alive(node) else CRASHED

    def high_watermark(self, node: int) -> int:
        """The node's high watermark; 0 while it knows none."""
        hw = self._any_node(node).high_watermark
        return 0 if hw is None else hw

    def log_end_offset(self, node: int) -> int:
        self._check(node)
        return self._procs[node].node.log.log_end_offset

    def committed(self, node: int) -> list[Any]:
        """Values committed (applied) on ``node``, in order (a copy; for a crashed node, what it had applied)."""
        return list(self._any_node(node).committed)

    def committed_count(self, node: int) -> int:
        """How many values ``node`` has applied (cheap enough for ``run_until`` predicates)."""
        return len(self._any_node(node).committed)

    def propose(self, value: Any) -> int | None:
        """Propose one value to the current leader; returns its offset, or None when there is no leader."""
        offsets = self.propose_many([value])
        return None if offsets is None else offsets[0]

    def propose_many(self, values: Iterable[Any]) -> list[int] | None:
        """Propose several values at once (one batch); their offsets, or None when there is no leader."""
        values = list(values)
        if not values:
            raise ValueError("propose_many needs at least one value")
        leader = self.leader()
        if leader is None:
            return None
        first = self._procs[leader].node.propose(values, self.kernel.now)
        self._after(leader)
        if first is None:
            return None
        return list(range(first, first + len(values)))

    def resign(self, node: int) -> bool:
        """Graceful resignation of a leader (EndQuorumEpoch with preferred successors); False if it does not lead."""
        n = self.node(node)
        if n is None:
            return False
        done = n.resign(self.kernel.now)
        self._after(node)
        return done

    def snapshot(self, node: int) -> tuple[int, int] | None:
        """Snapshot ``node``'s state machine at its high watermark (KIP-630); the snapshot id or None."""
        n = self.node(node)
        if n is None:
            raise RuntimeError(f"node {node} is down; restart it before taking a snapshot")
        snap = n.take_snapshot(self.kernel.now)
        self._after(node)
        return snap

    def check(self) -> None:
        """Run the whole-log invariants now (log matching between every pair of voters)."""
        if self.invariants is not None:
            self.invariants.check_log_matching()

    # -- faults -----------------------------------------------------------------------------------------------------
    def crash(self, node: int, lose_unflushed: bool = False) -> None:
        """Kill the node's process; ``lose_unflushed=True`` is a power loss (unflushed log and files are lost)."""
        self._check(node)
        durable = self.world.disks[node].durable(QUORUM_STATE_KEY)
        was_alive = self.world.is_alive(node)
        self.world.crash(node, lose_unflushed=lose_unflushed)
        if self.invariants is not None and (was_alive or lose_unflushed):
            self.invariants.on_crash(node, durable.epoch if isinstance(durable, ElectionState) else None,
                                     lose_unflushed)
        if was_alive:
            epoch = self._procs[node].node.epoch
            self._last[node] = (CRASHED, epoch, None)
            self._timeline.append((self.kernel.now, node, CRASHED, epoch, None))

    def restart(self, node: int) -> None:
        """Start the node again from its durable state (a running node is crashed first)."""
        self._check(node)
        if self.world.is_alive(node):
            self.crash(node)
        self.world.restart(node)

    def pause(self, node: int) -> None:
        self.world.pause(node)

    def resume(self, node: int) -> None:
        self.world.resume(node)

    def isolate(self, node: int) -> None:
        self.world.isolate(node)

    def partition(self, *groups: Iterable[int]) -> None:
        self.world.partition(*groups)

    def heal(self) -> None:
        self.world.heal()

    # -- frames -----------------------------------------------------------------------------------------------------
    def metrics(self) -> pd.DataFrame:
        return self.world.metrics()

    def timeline(self) -> pd.DataFrame:
        """One row per role/epoch/leader change: time_ms, node, role, epoch, leader."""
        import pandas as pd

        return pd.DataFrame(self._timeline, columns=["time_ms", "node", "role", "epoch", "leader"])

    def describe(self) -> pd.DataFrame:
        """One row per node: node, role, epoch, leader, log_end_offset, high_watermark, voted_for (+ more)."""
        import pandas as pd

        rows = []
        for n in self.nodes:
            info = self._procs[n].node.describe()
            info["role"] = self.role(n)
            rows.append(info)
        columns = ["node", "role", "epoch", "leader", "log_end_offset", "high_watermark", "voted_for",
                   "log_start_offset", "snapshot_id", "voter"]
        return pd.DataFrame(rows, columns=columns)

    def plot_timeline(self, **kwargs: Any) -> Figure:
        """The role timeline as a matplotlib Figure (see :func:`kafkalab.raft.plot.plot_timeline`)."""
        from kafkalab.raft.plot import plot_timeline

        return plot_timeline(self, **kwargs)

    def live_timeline(self, **kwargs: Any) -> LiveFigure:
        """A live timeline redrawn as the simulation runs (see :func:`kafkalab.raft.plot.live_timeline`)."""
        from kafkalab.raft.plot import live_timeline

        return live_timeline(self, **kwargs)

    def __repr__(self) -> str:
        return (f"RaftCluster(voters={len(self.voters)}, observers={len(self.observers)}, seed={self.seed}, "
                f"now={self.now} ms, leader={self.leader()})")

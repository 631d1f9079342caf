"""The control room without its widgets: a cluster, its traffic, the action log, samples over virtual time, replay.

How it works. A :class:`RoomModel` wraps one :class:`~kafkalab.Cluster`. Everything that changes the run goes through
:meth:`RoomModel.apply` as an :class:`Action` ``(time_ms, action, target, value)`` from :data:`ACTIONS`, applied at
the current virtual time between slices of simulation and appended to :attr:`RoomModel.log`. Setting the room up is
actions too (``create_topic``, ``start_producer``, ``producer_rate``, ``add_consumer``), so the log alone rebuilds the
run: :func:`replay` calls ``cluster_factory()`` (which must boot the same cluster from the same seed), makes an empty
room on it, and applies each action at its recorded time; its :meth:`RoomModel.trace_digest` (a
:class:`~kafkalab.sim.trace.Tracer` over every event from the room's creation on) then equals the original's.
Named scenarios (:mod:`kafkalab.viz.room_scenarios`) are one action each: their later steps are kernel timers, so
they replay by themselves.

Time only advances in :meth:`RoomModel.advance` (``cluster.run``). Slices may be any size: the kernel runs every
event due by the slice's end, and nothing the room does between slices is an event, so ten slices of 100 ms and one
of 1000 ms give the same trace. Samples for the plots are taken by a kernel timer every ``sample_ms`` of virtual time
(a read-only look at the cluster and the clients' counters), so the curves do not depend on the pace either. The
wall clock appears only in :mod:`kafkalab.viz.control_room`, which decides how big the next slice is.

Direct calls on the cluster from a code cell still work (it is the same object) but are not in the log; only what
goes through the room replays.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kafkalab.groups.hashing import OFFSETS_TOPIC
from kafkalab.sim.trace import Tracer
from kafkalab.viz.room_workload import ConsumerGroupApps, ProducerApp

__all__ = ["Action", "ACTIONS", "ACTION_COLUMNS", "SAMPLE_COLUMNS", "RoomModel", "replay"]

#: Every action the room knows, and what its ``target`` and ``value`` are.
ACTIONS: dict[str, str] = {
    "create_topic": "target: topic name; value: {'partitions', 'replication_factor', 'config'}",
    "start_producer": "target: topic; value: the producer's config (Kafka's keys)",
    "producer_rate": "value: records per second of virtual time (>= 0)",
    "add_consumer": "target: group id (a new member subscribes to the room's topic)",
    "remove_consumer": "target: group id (its newest member leaves gracefully)",
    "crash": "target: node id (process crash)",
    "power_loss": "target: node id (crash and lose what the disk had not flushed)",
    "restart": "target: node id (a crashed node starts from its durable state)",
    "pause": "target: node id (SIGSTOP: no timers, no messages)",
    "resume": "target: node id",
    "isolate": "target: node id (cut from every other server)",
    "heal": "no target (remove every partition and isolation)",
    "scenario": "target: scenario name (see kafkalab.viz.room_scenarios.SCENARIOS)",
}
#: Columns of :attr:`RoomModel.actions`.
ACTION_COLUMNS = ("time_ms", "action", "target", "value")
#: Columns of :meth:`RoomModel.samples`.
SAMPLE_COLUMNS = ("time_ms", "produced_per_s", "consumed_per_s", "produce_errors_per_s", "e2e_p50_ms", "e2e_p99_ms",
                  "under_replicated", "offline", "active_controller", "metadata_epoch", "metadata_offset")


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the room did, at virtual time ``time_ms``."""

    time_ms: float
    action: str
    target: Any = None
    value: Any = None


class RoomModel:
    """The control room's state and logic, with no widgets (tests drive it directly)."""

    def __init__(self, cluster: Any, *, sample_ms: float = 200.0) -> None:
        if sample_ms <= 0:
            raise ValueError(f"sample_ms must be > 0, got {sample_ms!r}")
        self.cluster = cluster
        self.sample_ms = float(sample_ms)
        self.tracer = Tracer(cluster.kernel)
        self.log: list[Action] = []
        self.topic: str | None = None
        self.producer: ProducerApp | None = None
        self.groups: dict[str, ConsumerGroupApps] = {}
        self.paused: set[Hashable] = set()
        self.notes: list[tuple[float, str]] = []      # what scenarios did, for the room's log (not replayed)
        self._rows: list[tuple[Any, ...]] = []
        self._lag: list[tuple[float, str, int]] = []
        self._isr: list[tuple[float, int, int]] = []
        self._last: tuple[float, int, int, int] | None = None
        self._sampling = False
        self.on_sample: list[Callable[[], None]] = []

    # ---- time -------------------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.cluster.now)

    def advance(self, ms: float) -> None:
        """Run the simulation ``ms`` of virtual time further (every event due by then)."""
        if ms < 0:
            raise ValueError(f"advance(ms) needs ms >= 0, got {ms!r}")
        if ms > 0:
            self.cluster.run(ms)

    def advance_to(self, time_ms: float) -> None:
        """Run until the clock reads exactly ``time_ms`` (not in the past)."""
        if time_ms < self.now:
            raise ValueError(f"cannot go back to {time_ms} ms: the clock is at {self.now} ms")
        for _ in range(4):       # a + (b - a) can miss b by one ulp; a second tiny step lands on it
            if self.now >= time_ms:
                break
            self.cluster.run(time_ms - self.now)

    def trace_digest(self) -> str:
        """SHA-256 of every event since the room was created: equal digests, identical runs."""
        return self.tracer.digest()

    # ---- actions ----------------------------------------------------------------------------------------------------
    def apply(self, action: str, target: Any = None, value: Any = None) -> Action:
        """Do ``action`` now and log it. Bad input raises before anything happens (nothing is logged then)."""
        if action not in ACTIONS:
            close = difflib.get_close_matches(str(action), list(ACTIONS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown room action {action!r}; actions: {', '.join(ACTIONS)}{hint}")
        record = Action(self.now, action, target, value)
        getattr(self, f"_do_{action}")(target, value)
        self.log.append(record)
        return record

    @property
    def actions(self) -> pd.DataFrame:
        """Every action so far, one row each (:data:`ACTION_COLUMNS`), in the order they were applied."""
        return pd.DataFrame([(a.time_ms, a.action, a.target, a.value) for a in self.log], columns=list(ACTION_COLUMNS))

    def _node(self, target: Any, action: str) -> Hashable:
        servers = list(self.cluster.controllers) + list(self.cluster.brokers)
        if target not in servers:
            close = difflib.get_close_matches(str(target), [str(s) for s in servers], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"{action} needs a server node id; servers: {', '.join(map(str, servers))}, got "
                             f"{target!r}{hint}")
        return target  # type: ignore[no-any-return]

    def _do_create_topic(self, target: Any, value: Any) -> None:
        if self.topic is not None:
            raise ValueError(f"the room already has its topic {self.topic!r}")
        spec = dict(value or {})
        self.cluster.create_topic(target, partitions=spec.get("partitions", 3),
                                  replication_factor=spec.get("replication_factor"), config=spec.get("config"))
        self.topic = target
        self._start_sampling()

    def _do_start_producer(self, target: Any, value: Any) -> None:
        if self.producer is not None:
            raise ValueError("the room already has its producer")
        topic = self._need_topic("start_producer")
        producer = self.cluster.producer(dict(value or {}))
        producer.partitions_for(topic)             # metadata now, so the app never has to wait for it in an event
        self.producer = ProducerApp(producer, topic)
        self.producer.start()

    def _do_producer_rate(self, target: Any, value: Any) -> None:
        if self.producer is None:
            raise ValueError("producer_rate needs the room's producer: apply start_producer first")
        self.producer.set_rate(value)

    def _do_add_consumer(self, target: Any, value: Any) -> None:
        topic = self._need_topic("add_consumer")
        if not isinstance(target, str) or not target:
            raise ValueError(f"add_consumer needs a group id (a non-empty str), got {target!r}")
        group = self.groups.get(target)
        if group is None:
            group = self.groups[target] = ConsumerGroupApps(self.cluster, target, topic, config=value)
        group.add()

    def _do_remove_consumer(self, target: Any, value: Any) -> None:
        group = self.groups.get(target)
        if group is None:
            close = difflib.get_close_matches(str(target), list(self.groups), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"remove_consumer: no group {target!r} in the room (groups: "
                             f"{', '.join(self.groups) or 'none'}){hint}")
        group.remove()

    def _do_crash(self, target: Any, value: Any) -> None:
        self.cluster.crash(self._node(target, "crash"))
        self.paused.discard(target)

    def _do_power_loss(self, target: Any, value: Any) -> None:
        self.cluster.crash(self._node(target, "power_loss"), lose_unflushed=True)
        self.paused.discard(target)

    def _do_restart(self, target: Any, value: Any) -> None:
        self.cluster.restart(self._node(target, "restart"))

    def _do_pause(self, target: Any, value: Any) -> None:
        node = self._node(target, "pause")
        if not self.cluster.is_alive(node):
            raise ValueError(f"node {node} is down; restart it before pausing it")
        self.cluster.pause(node)
        self.paused.add(node)

    def _do_resume(self, target: Any, value: Any) -> None:
        node = self._node(target, "resume")
        if node not in self.paused:
            raise ValueError(f"node {node} is not paused (paused: {sorted(self.paused, key=str) or 'none'})")
        self.cluster.resume(node)
        self.paused.discard(node)

    def _do_isolate(self, target: Any, value: Any) -> None:
        self.cluster.isolate(self._node(target, "isolate"))

    def _do_heal(self, target: Any, value: Any) -> None:
        self.cluster.heal()

    def _do_scenario(self, target: Any, value: Any) -> None:
        from kafkalab.viz.room_scenarios import start_scenario

        start_scenario(self, target)

    def _need_topic(self, action: str) -> str:
        if self.topic is None:
            raise ValueError(f"{action} needs the room's topic: apply create_topic first")
        return self.topic

    def note(self, text: str) -> None:
        """A line for the room's log (what a scenario did); not an action, not replayed (it replays itself)."""
        self.notes.append((self.now, text))

    # ---- samples ----------------------------------------------------------------------------------------------------
    def _start_sampling(self) -> None:
        if not self._sampling:
            self._sampling = True
            self._last = (self.now, 0, 0, 0)
            self.cluster.kernel.schedule(self.sample_ms, self._sample, name="room:sample")

    def _sample(self) -> None:
        cluster = self.cluster
        cluster.kernel.schedule(self.sample_ms, self._sample, name="room:sample")
        now = self.now
        prod = self.producer
        acked = prod.acked if prod is not None else 0
        failed = prod.failed if prod is not None else 0
        consumed = sum(g.recorder.processed_count for g in self.groups.values())
        assert self._last is not None
        t0, acked0, consumed0, failed0 = self._last
        dt_s = max(now - t0, 1e-9) / 1000.0
        self._last = (now, acked, consumed, failed)
        latencies: list[float] = []
        for g in self.groups.values():
            latencies += g.recorder.latencies_ms
            g.recorder.latencies_ms.clear()
        if prod is not None:
            prod.latencies_ms.clear()
        p50, p99 = (np.percentile(latencies, [50, 99]).tolist() if latencies else (np.nan, np.nan))
        image = cluster.image()
        urp = offline = 0
        topic = image.topics.get(self.topic) if self.topic is not None else None
        for p, reg in sorted(topic.partitions.items()) if topic is not None else ():
            # the room's topic only: the 50 partitions of __consumer_offsets would dwarf it
            if reg.leader < 0:
                offline += 1
            elif len(reg.isr) < len(reg.replicas):
                urp += 1
            self._isr.append((now, p, len(reg.isr) if reg.leader >= 0 else 0))
        active = cluster.active_controller
        server = cluster.controller(active) if active is not None else None
        epoch = server.raft.epoch if server is not None else np.nan
        self._rows.append((now, (acked - acked0) / dt_s, (consumed - consumed0) / dt_s, (failed - failed0) / dt_s,
                           p50, p99, urp, offline, active, epoch, image.offset))
        for name, g in self.groups.items():
            self._lag.append((now, name, self._group_lag(g)))
        for hook in self.on_sample:
            hook()

    def _group_lag(self, group: ConsumerGroupApps) -> int:
        """Records in the topic the group has not committed yet (Kafka's consumer-group lag), summed."""
        cluster = self.cluster
        committed = {}
        coordinator = cluster._coordinator(group.group)
        if coordinator is not None:
            committed = {tp.partition: om.offset for tp, om in coordinator.committed(group.group).items()
                         if tp.topic == group.topic}
        lag = 0
        image = cluster.image()
        topic = image.topics.get(group.topic)
        for p, reg in (topic.partitions.items() if topic is not None else ()):
            broker = cluster.broker(reg.leader) if reg.leader >= 0 else None
            part = broker.rm.partition(group.topic, p) if broker is not None else None
            if part is not None:
                lag += max(0, part.high_watermark - committed.get(p, 0))
        return lag

    def samples(self) -> pd.DataFrame:
        """The room's time series so far, one row per sample (:data:`SAMPLE_COLUMNS`)."""
        return pd.DataFrame(self._rows, columns=list(SAMPLE_COLUMNS))

    def lag(self) -> pd.DataFrame:
        """Consumer lag per group over time: time_ms, group, lag."""
        return pd.DataFrame(self._lag, columns=["time_ms", "group", "lag"])

    def isr_sizes(self) -> pd.DataFrame:
        """ISR size of each partition of the room's topic over time (0 while offline): time_ms, partition, isr."""
        return pd.DataFrame(self._isr, columns=["time_ms", "partition", "isr"])

    # ---- what the views show ----------------------------------------------------------------------------------------
    def partition_table(self) -> pd.DataFrame:
        """The room's topic as ``describe_topic`` gives it (LSO appears once the cluster reports it)."""
        if self.topic is None:
            return pd.DataFrame()
        frame = self.cluster.describe_topic(self.topic)
        columns = ["partition", "leader", "leader_epoch", "replicas", "isr", "elr", "last_known_elr",
                   "high_watermark", "log_end_offset", "last_stable_offset"]
        return frame[[c for c in columns if c in frame.columns]]

    def topology(self) -> Any:
        """The cluster's :class:`~kafkalab.viz.topology.TopologyView` with the room's paused nodes, without the
        internal ``__consumer_offsets`` partitions (50 of them would bury the room's topic)."""
        view = self.cluster.topology()
        view.partitions = [p for p in view.partitions if p.topic != OFFSETS_TOPIC]
        view.paused = sorted(self.paused, key=str)
        return view

    def servers(self) -> list[Hashable]:
        return list(self.cluster.controllers) + list(self.cluster.brokers)


def _apply_all(model: RoomModel, actions: Sequence[Action]) -> None:
    for a in actions:
        model.advance_to(a.time_ms)
        model.apply(a.action, a.target, a.value)


def _as_actions(actions: pd.DataFrame | Sequence[Action | Mapping[str, Any]]) -> list[Action]:
    if isinstance(actions, pd.DataFrame):
        missing = [c for c in ACTION_COLUMNS if c not in actions.columns]
        if missing:
            raise ValueError(f"actions frame lacks column(s) {missing}; expected {list(ACTION_COLUMNS)} "
                             f"(room.actions has them)")
        rows = actions[list(ACTION_COLUMNS)].itertuples(index=False, name=None)
        return [Action(float(t), str(a), _plain(tg), _plain(v)) for t, a, tg, v in rows]
    out = []
    for a in actions:
        out.append(a if isinstance(a, Action) else Action(float(a["time_ms"]), a["action"], a.get("target"),
                                                         a.get("value")))
    return out


def _plain(value: Any) -> Any:
    """pandas hands numbers back as numpy scalars; node ids and rates are plain Python values in the room."""
    if isinstance(value, np.generic):
        return value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def replay(cluster_factory: Callable[[], Any], actions: pd.DataFrame | Sequence[Action | Mapping[str, Any]], *,
           until_ms: float | None = None, sample_ms: float = 200.0) -> RoomModel:
    """Rebuild a control room's run: a fresh cluster from ``cluster_factory()``, an empty room on it, each action at
    its virtual time, then run on to ``until_ms`` (default: the last action). Returns the room's model; its
    ``trace_digest()`` equals the original room's when the factory boots the same cluster (same seed and config)
    and ``sample_ms`` is the original room's."""
    if not callable(cluster_factory):
        raise TypeError(f"cluster_factory must be a callable returning a fresh Cluster (e.g. lambda: "
                        f"kl.Cluster(seed=0)), got {type(cluster_factory).__name__}")
    steps = _as_actions(actions)
    model = RoomModel(cluster_factory(), sample_ms=sample_ms)
    if steps and steps[0].time_ms < model.now:
        raise ValueError(f"the first action is at {steps[0].time_ms} ms but the factory's cluster is already at "
                         f"{model.now} ms: it does not boot the cluster the actions were recorded on")
    _apply_all(model, steps)
    if until_ms is not None:
        model.advance_to(until_ms)
    return model

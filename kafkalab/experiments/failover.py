"""Failover and durability of a replicated partition: how long a producer waits, and what it loses.

What it measures (issue 4, notebook 03).

(a) **Failover** (:func:`failover_trial`, :func:`failover`). A producer writes steadily (one record every
``send_interval_ms``, acks=all, ``linger.ms=5``) to a partition with three replicas; then the partition leader is
crashed, isolated from the other servers (clients still reach it, as in Jepsen's partition nemesis) or shut down
cleanly (``begin_controlled_shutdown``, KIP-631's controlled shutdown). The **unavailability window** is read from the
client history only: the acknowledgement times of the producer's writes (``ok`` completions of ``send``) form a
sequence; the window is the largest gap between two consecutive acknowledgements among the gaps that end after the
fault. Without stragglers (an answer already on its way when the fault hit) that is exactly "from the last
acknowledged write before the fault to the first acknowledged write after it". Its parts, each from an event time:

- ``before_fault``: last acknowledgement -> fault (at most one send interval plus a round trip);
- ``detection``: fault -> the active controller commits the broker's fencing (``controller.broker_fenced`` in
  ``cluster.metrics()``; after ``broker.session.timeout.ms`` without a heartbeat, KIP-631) or, for a controlled shutdown,
  its ``controller.broker_controlled_shutdown`` record;
- ``election``: -> the PartitionChangeRecord naming the new leader is committed (the active controller's image);
- ``propagation``: -> the new leader's broker has applied it from the metadata log and acts as leader;
- ``client``: -> the producer has learnt the new leader and its first write there is acknowledged.

The last three come from a probe that looks at the controller's image and every replica after each simulation event and
stamps the virtual time of each change (the facade reads, it never decides). Boundaries are clamped to be monotonic,
so the parts are non-negative and add up to the window.

kafkalab models no TCP connections: a crashed broker falls silent (a power cut, a kernel panic), where a killed Kafka
process on a live host would reset its connections. A client learns of it only when ``request.timeout.ms`` expires
(Kafka's ``NetworkClient.handleTimedOutRequests``). Kafka's default 30 s would then hide every broker-side timeout, so
the trials use ``request.timeout.ms=1000`` unless told otherwise (the notebook shows the default too).

(b) **Durability** (:func:`durability_trial`, :func:`durability_matrix`): acks 0/1/all x ``min.insync.replicas`` 1/2 x
``unclean.leader.election.enable`` off/on x ``eligible.leader.replicas.version`` 0/1 (KIP-966's eligible leader
replicas: off is the Kafka 4.0 default, on the 4.1+ default), under four fault schedules:

- ``isolation``: the leader is cut off from every other server for 12-20 s (past the 9 s session timeout, so a new
  leader is elected), clients still reach it, then the network heals (Jepsen 2013's partition; the faithfulness
  test's story);
- ``isr_shrink``: Jepsen 2013's loss: the two followers are cut off from the leader (the controllers still reach
  everyone) until the leader has shrunk the ISR to itself (``replica.lag.time.max.ms``); then the leader crashes, and
  the controller may elect an out-of-sync follower only if unclean election is on; later the old leader restarts;
  the lone leader takes writes for 1-5 s before it crashes;
- ``power_loss``: one follower crashes, the ISR shrinks to two, writes go on; then a power cut takes the leader and the
  other follower together (``lose_unflushed=True``: Kafka does not fsync per write) and all three restart. This loses
  acknowledged writes even with acks=all and min.insync.replicas=2: the case KIP-966 (eligible leader replicas) targets.
  The first crash comes 5-40 s into the run, so the 30 s OS writeback has flushed more or less of the log.
- ``last_isr_power_loss``: KIP-966's own case. One follower crashes (the ISR shrinks to two), the other is cut off
  from every server until it is fenced (the ISR is the leader alone: below ``min.insync.replicas=2`` acks=all writes
  are refused and the HW stops); the lone leader runs on for 1-5 s, then loses power; the network heals and the
  leader and the crashed follower restart. Without ELR the dead leader stays the ISR and is elected again with what
  its disk kept; with ELR the cut-off follower, which left an ISR below min ISR holding every committed record, is
  elected as soon as it is unfenced.

Every duration marked as a range is drawn from the seed (stream ``experiment/durability``), so seeds differ in
timing, not only in the simulation's own randomness.

The audit never reads the system's counters: after the fault, the network heals, every broker runs again, and a fresh
consumer reads the partition from the earliest offset. ``lost`` = values whose send was acknowledged (``ok`` in the
history) but that are not in that final log; ``duplicates`` = values found more than once in it. ``check_queue`` (the
history checker, after Jepsen's kafka workload) is run over the same history as a cross-check: ``lost_by_checker``
counts its ``lost_write`` and ``unseen`` anomalies (the audit read the whole log, so an acknowledged value never read is
lost); it cannot see acks=0 writes, whose offsets the client never learns.

acks=0 writes are never acknowledged (the producer completes them with offset -1 as soon as they are sent), so they
are counted apart: ``acknowledged`` and ``lost`` count acks=1/all writes only (0 for acks=0); ``unacknowledged`` is
the number of acks=0 sends the producer completed and ``unacknowledged_missing`` how many of them the final log lacks.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import kafkalab as kl
from kafkalab.check import check_queue
from kafkalab.experiments.provenance import DATA_DIR, code_version, write_result
from kafkalab.experiments.sweep import sweep
from kafkalab.experiments.trace import traced

__all__ = [
    "FAULTS", "DURABILITY_FAULTS", "SCENARIOS", "FAILOVER_COLUMNS", "PART_COLUMNS", "DURABILITY_COLUMNS",
    "ReplicaTimeline", "failover_trial", "failover", "failover_parts", "failover_summary",
    "durability_trial", "durability_matrix", "durability_summary", "DATA_DIR", "main",
]

#: Faults of the failover experiment.
FAULTS: tuple[str, ...] = ("crash", "isolate", "controlled_shutdown")
#: Fault schedules of the durability matrix.
DURABILITY_FAULTS: tuple[str, ...] = ("isolation", "isr_shrink", "power_loss", "last_isr_power_loss")
#: The failover scenarios the notebook compares: name -> failover_trial keyword arguments.
SCENARIOS: dict[str, dict[str, Any]] = {
    "crash, default 9 s session": {"fault": "crash", "session_timeout_ms": 9000, "heartbeat_interval_ms": 2000},
    "crash, tuned 3 s session": {"fault": "crash", "session_timeout_ms": 3000, "heartbeat_interval_ms": 1000},
    "isolate, default 9 s session": {"fault": "isolate", "session_timeout_ms": 9000, "heartbeat_interval_ms": 2000},
    "controlled shutdown": {"fault": "controlled_shutdown", "session_timeout_ms": 9000,
                            "heartbeat_interval_ms": 2000},
}
PART_COLUMNS: tuple[str, ...] = ("before_fault_ms", "detection_ms", "election_ms", "propagation_ms", "client_ms")
FAILOVER_COLUMNS: tuple[str, ...] = (
    "scenario", "fault", "seed", "session_timeout_ms", "heartbeat_interval_ms", "request_timeout_ms", "old_leader",
    "new_leader", "fault_ms", "window_start_ms", "window_end_ms", "unavailable_ms", *PART_COLUMNS, "acknowledged",
    "errors")
DURABILITY_COLUMNS: tuple[str, ...] = (
    "acks", "min_isr", "unclean", "elr", "fault", "seed", "acknowledged", "lost", "unacknowledged",
    "unacknowledged_missing", "duplicates", "unavailable_ms", "lost_by_checker", "final_log_size")
TOPIC = "events"
_ACKS = ("0", "1", "all")


# ---------------------------------------------------------------------------------------------------------------
# Watching a partition
# ---------------------------------------------------------------------------------------------------------------
class _LeadershipProbe:
    """Stamps the virtual time at which the committed leadership of one partition (the active controller's image) and
    each broker's replica of it (role, leader epoch) change. It runs as a kernel trace hook, which is called before
    each event: a change seen there happened in the previous event, at that event's time."""

    def __init__(self, cluster: kl.Cluster, topic: str, partition: int) -> None:
        self.cluster = cluster
        self.topic = topic
        self.partition = partition
        self.rows: list[tuple[float, str, Any, Any]] = []
        self._state: dict[str, Any] = {}
        self._last_ms = cluster.now
        self._observe(cluster.now)
        cluster.kernel.add_trace_hook(self._hook)

    def _hook(self, time_ms: float, _label: str) -> None:
        self._observe(self._last_ms)
        self._last_ms = time_ms

    def _observe(self, at_ms: float) -> None:
        cluster = self.cluster
        reg = cluster.image().partition(self.topic, self.partition)
        self._change(at_ms, "controller", None if reg is None else (reg.leader, reg.leader_epoch, tuple(reg.isr)))
        for b in cluster.brokers:
            broker = cluster.broker(b)
            part = broker.rm.partition(self.topic, self.partition) if broker is not None else None
            self._change(at_ms, f"broker-{b}", None if part is None else (part.role.value, part.leader_epoch))

    def _change(self, at_ms: float, who: str, value: Any) -> None:
        if self._state.get(who, ()) != value:
            self._state[who] = value
            self.rows.append((at_ms, who, value, None))

    def close(self) -> None:
        self.cluster.kernel.remove_trace_hook(self._hook)
        self._observe(self._last_ms)

    def elected(self, after_ms: float, old_leader: int) -> tuple[float, int, int] | None:
        """(time, new leader, leader epoch) of the first committed leadership after ``after_ms`` away from the old."""
        for time_ms, who, value, _ in self.rows:
            if who == "controller" and time_ms >= after_ms and value is not None and value[0] not in (-1, old_leader):
                return time_ms, value[0], value[1]
        return None

    def applied(self, after_ms: float, broker: int, leader_epoch: int) -> float | None:
        """When ``broker`` acted as leader in ``leader_epoch`` (or later), at or after ``after_ms``."""
        for time_ms, who, value, _ in self.rows:
            if (who == f"broker-{broker}" and time_ms >= after_ms and value is not None and value[0] == "leader"
                    and value[1] >= leader_epoch):
                return time_ms
        return None


@dataclass
class ReplicaTimeline:
    """Samples each replica's log end offset and high watermark and the ISR size of one partition, for live plots.

    Pass :meth:`sample` and :meth:`draw` to :meth:`kafkalab.viz.LiveFigure.every`, or read :meth:`to_frame`
    (time_ms, broker, log_end_offset, high_watermark, isr_size, leader).
    """

    cluster: kl.Cluster
    topic: str = TOPIC
    partition: int = 0
    marks: list[tuple[float, str]] = field(default_factory=list)
    rows: list[tuple[float, int, float, float, int, int]] = field(default_factory=list)

    def sample(self, now_ms: float) -> None:
        cluster = self.cluster
        reg = cluster.image().partition(self.topic, self.partition)
        if reg is None:
            return
        for b in reg.replicas:
            broker = cluster.broker(b)
            part = broker.rm.partition(self.topic, self.partition) if broker is not None else None
            leo = float("nan") if part is None else float(part.log.log_end_offset)
            hw = float("nan") if part is None else float(part.high_watermark)
            self.rows.append((now_ms, b, leo, hw, len(reg.isr), reg.leader))

    def mark(self, label: str) -> None:
        """A labelled vertical line at the current virtual time (the fault, the election, ...)."""
        self.marks.append((self.cluster.now, label))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["time_ms", "broker", "log_end_offset", "high_watermark", "isr_size",
                                                "leader"])

    def draw(self, fig: Any, now_ms: float) -> None:
        fig.clear()
        fig.set_layout_engine("none")
        grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), left=0.08, right=0.98, bottom=0.12, top=0.9, hspace=0.1)
        ax = fig.add_subplot(grid[0])
        ax_isr = fig.add_subplot(grid[1], sharex=ax)
        frame = self.to_frame()
        colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
        # Replicas in sync draw the same line: each log end offset is drawn thinner than the one before, on top of
        # it, and the high watermarks' dashes take turns, so every replica stays visible where they agree.
        replicas = frame["broker"].nunique()
        for i, (b, rows) in enumerate(frame.groupby("broker", sort=True)):
            t = rows["time_ms"] / 1000
            width = max(8.0 - 2.75 * i, 2.0)
            ax.plot(t, rows["log_end_offset"], color=colors[i % len(colors)], lw=width, alpha=0.75,
                    solid_capstyle="butt", label=f"broker {b} log end offset", zorder=2 + i)
            ax.plot(t, rows["high_watermark"], color=colors[i % len(colors)], ls=(2.0 * i, (2.0, 2.0 * max(replicas - 1, 1))), lw=1.0,
                    label=f"broker {b} high watermark", zorder=10 + i)
        if len(frame):
            isr = frame.drop_duplicates("time_ms")
            ax_isr.step(isr["time_ms"] / 1000, isr["isr_size"], where="post", color="black")
            leader = isr["leader"].iloc[-1]
            ax.set_title(f"{self.topic}-{self.partition} at t = {now_ms / 1000:.1f} s: leader "
                         f"{'none' if leader < 0 else leader}, ISR size {isr['isr_size'].iloc[-1]}", fontsize=10)
        for time_ms, label in self.marks:
            for a in (ax, ax_isr):
                a.axvline(time_ms / 1000, color="grey", lw=1, ls=":")
            ax.annotate(label, (time_ms / 1000, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=8, color="dimgrey", ha="right", va="bottom")
        ax.set_ylabel("offset")
        ax.legend(loc="upper left", fontsize=7, ncol=3)
        ax.tick_params(labelbottom=False)
        ax_isr.set_ylabel("ISR size")
        ax_isr.set_ylim(0, 3.5)
        ax_isr.set_xlabel("virtual time (s)")


# ---------------------------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------------------------
class _SteadyWriter:
    """Sends one unique value every ``interval_ms`` of virtual time from inside the simulation (never blocks)."""

    def __init__(self, cluster: kl.Cluster, producer: Any, interval_ms: float, prefix: str = "w") -> None:
        self.producer = producer
        self.interval_ms = interval_ms
        self.prefix = prefix
        self.sent = 0
        self.running = True
        cluster.kernel.repeat(interval_ms, self._tick, name="experiment:writer")

    def _tick(self) -> float | None:
        if not self.running:
            return None
        self.sent += 1
        self.producer.send(TOPIC, value=f"{self.prefix}{self.sent}")
        return self.interval_ms

    def stop(self) -> None:
        self.running = False


def _ack_times(history: Any, process: Any) -> list[float]:
    return sorted(e.time_ms for e in history.ops if e.type == "ok" and e.f == "send" and e.process == process)


def _window(acks: Sequence[float], fault_ms: float) -> tuple[float, float]:
    """The largest gap between consecutive acknowledgements among those ending after the fault (NaN if none)."""
    best = (float("nan"), float("nan"))
    previous: float | None = None
    for t in acks:
        if previous is not None and t > fault_ms and not (best[1] - best[0] >= t - previous):
            best = (previous, t)
        previous = t
    return best


def _check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of milliseconds, got {value!r}")


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    out = list(seeds)
    if not out or not all(isinstance(s, int) and not isinstance(s, bool) for s in out):
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {out!r}")
    return out


# ---------------------------------------------------------------------------------------------------------------
# (a) Failover
# ---------------------------------------------------------------------------------------------------------------
def failover_trial(seed: int = 0, *, fault: str = "crash", session_timeout_ms: int = 9000,
                   heartbeat_interval_ms: int = 2000, request_timeout_ms: int = 1000,
                   send_interval_ms: float = 10.0, linger_ms: int = 5, warmup_ms: float = 2000.0,
                   horizon_ms: float = 120_000.0, scenario: str | None = None,
                   timeline: Callable[[kl.Cluster], ReplicaTimeline] | None = None,
                   on_cluster: Callable[[kl.Cluster, ReplicaTimeline | None], None] | None = None) -> pd.DataFrame:
    """One failover: a steady acks=all producer, the leader of ``events-0`` fails, the window and its parts.

    Returns a one-row DataFrame with :data:`FAILOVER_COLUMNS`. The fault lands at a uniformly random moment within one
    heartbeat interval after ``warmup_ms`` (drawn from the seed), since detection depends on when the last heartbeat
    left. ``timeline`` (e.g. ``ReplicaTimeline``) is built on the cluster before the fault, and ``on_cluster`` is
    called with the cluster and that timeline right after the cluster boots (to attach a live figure).
    """
    _check_choice("fault", fault, FAULTS)
    for name, value in (("session_timeout_ms", session_timeout_ms), ("heartbeat_interval_ms", heartbeat_interval_ms),
                        ("request_timeout_ms", request_timeout_ms), ("send_interval_ms", send_interval_ms),
                        ("horizon_ms", horizon_ms)):
        _check_positive(name, value)
    if heartbeat_interval_ms >= session_timeout_ms:
        raise ValueError(f"heartbeat_interval_ms ({heartbeat_interval_ms}) must be below session_timeout_ms "
                         f"({session_timeout_ms}), or every broker would be fenced between two heartbeats")
    cluster = traced(kl.Cluster(brokers=3, controllers=3, seed=seed, config={
        "broker.session.timeout.ms": session_timeout_ms, "broker.heartbeat.interval.ms": heartbeat_interval_ms,
        "min.insync.replicas": 2}))
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": "all", "linger.ms": linger_ms, "request.timeout.ms": request_timeout_ms,
                                 "delivery.timeout.ms": max(120_000, int(horizon_ms)), "max.block.ms": 0})
    producer.partitions_for(TOPIC, timeout_ms=10_000)
    line = timeline(cluster) if timeline is not None else None
    if on_cluster is not None:
        on_cluster(cluster, line)
    writer = _SteadyWriter(cluster, producer, send_interval_ms)
    phase_ms = cluster.kernel.rng("experiment/failover").uniform(0.0, heartbeat_interval_ms)
    cluster.run(warmup_ms + phase_ms)
    old_leader = cluster.leader_for(TOPIC, 0)
    if old_leader is None:
        raise RuntimeError(f"no leader for {TOPIC}-0 before the fault (seed={seed})")
    probe = _LeadershipProbe(cluster, TOPIC, 0)
    fault_ms = cluster.now
    if line is not None:
        line.mark(f"{fault.replace('_', ' ')} {old_leader}")
    if fault == "crash":
        cluster.crash(old_leader)
    elif fault == "isolate":
        cluster.isolate(old_leader)
    else:
        broker = cluster.broker(old_leader)
        assert broker is not None
        broker.begin_controlled_shutdown()
    process = producer.node_id

    history_ops = cluster.history.ops
    seen = len(history_ops)
    acks_after: list[float] = []

    def recovered() -> bool:
        nonlocal seen
        ops = history_ops
        for i in range(seen, len(ops)):
            e = ops[i]
            if e.type == "ok" and e.f == "send" and e.process == process:
                acks_after.append(e.time_ms)
        seen = len(ops)
        elected = probe.elected(fault_ms, old_leader)
        return elected is not None and sum(1 for t in acks_after if t > elected[0]) >= 20

    cluster.run_until(recovered, horizon_ms)
    cluster.run(200.0)
    writer.stop()
    probe.close()
    if line is not None:
        elected_at = probe.elected(fault_ms, old_leader)
        if elected_at is not None:
            line.marks.append((elected_at[0], f"leader {elected_at[1]} elected"))
    row = _failover_row(cluster, probe, fault_ms, old_leader, process)
    row.update(scenario=scenario if scenario is not None else fault, fault=fault, seed=seed,
               session_timeout_ms=session_timeout_ms, heartbeat_interval_ms=heartbeat_interval_ms,
               request_timeout_ms=request_timeout_ms)
    return pd.DataFrame([row], columns=list(FAILOVER_COLUMNS))


def _failover_row(cluster: kl.Cluster, probe: _LeadershipProbe, fault_ms: float, old_leader: int,
                  process: Any) -> dict[str, Any]:
    acks = _ack_times(cluster.history, process)
    start, end = _window(acks, fault_ms)
    metrics = cluster.metrics()
    detect_metrics = ("controller.broker_fenced", "controller.broker_controlled_shutdown")
    detected = metrics[metrics["metric"].isin(detect_metrics) & (metrics["value"] == old_leader)
                       & (metrics["time_ms"] >= fault_ms)]["time_ms"]
    elected = probe.elected(fault_ms, old_leader)
    applied = probe.applied(elected[0], elected[1], elected[2]) if elected is not None else None
    nan = float("nan")
    marks = [fault_ms, float(detected.min()) if len(detected) else nan, elected[0] if elected else nan,
             applied if applied is not None else nan]
    # Monotonic boundaries inside the window: the parts are non-negative and add up to it.
    bounds = [start]
    for m in marks:
        m = bounds[-1] if m != m else m  # a missing event (NaN) takes no time of its own
        bounds.append(min(max(m, bounds[-1]), end))
    bounds.append(end)
    parts = {name: bounds[i + 1] - bounds[i] for i, name in enumerate(PART_COLUMNS)}
    errors = sum(1 for e in cluster.history.ops if e.process == process and e.f == "send" and e.type in ("fail", "info"))
    return {"old_leader": old_leader, "new_leader": elected[1] if elected else None, "fault_ms": fault_ms,
            "window_start_ms": start, "window_end_ms": end, "unavailable_ms": end - start, **parts,
            "acknowledged": len(acks), "errors": errors}


def failover(seeds: Iterable[int] = range(5), scenarios: Mapping[str, Mapping[str, Any]] | None = None, *,
             n_jobs: int = 1, progress: bool | None = None, **overrides: Any) -> pd.DataFrame:
    """Every scenario (default :data:`SCENARIOS`) over every seed: one row per trial (:data:`FAILOVER_COLUMNS`),
    through :func:`~kafkalab.experiments.sweep` (``n_jobs`` worker processes; the frame is the same for any;
    ``progress``: a ``tqdm.auto`` bar, by default only with workers)."""
    seed_list = _check_seeds(seeds)
    chosen = dict(SCENARIOS if scenarios is None else scenarios)
    if not chosen:
        raise ValueError("scenarios must name at least one scenario")
    points = [{"scenario": name, **dict(kwargs), **overrides} for name, kwargs in chosen.items()]
    return sweep(failover_trial, points, seed_list, n_jobs=n_jobs, label=False, progress=n_jobs != 1 if progress is None else progress)


def failover_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """Tidy parts for stacked bars: scenario, seed, part, ms (one row per trial and part)."""
    missing = [c for c in ("scenario", "seed", *PART_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"not a failover frame: missing columns {', '.join(missing)}")
    long = frame.melt(id_vars=["scenario", "seed"], value_vars=list(PART_COLUMNS), var_name="part", value_name="ms")
    long["part"] = long["part"].str.removesuffix("_ms")
    return long


def failover_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: trials, median/min/max window and the median of each part (ms)."""
    grouped = frame.groupby("scenario", sort=False)
    summary = grouped["unavailable_ms"].agg(trials="count", median_ms="median", min_ms="min", max_ms="max")
    parts = grouped[list(PART_COLUMNS)].median()
    parts.columns = [f"median_{c}" for c in parts.columns]
    return summary.join(parts).reset_index()


# ---------------------------------------------------------------------------------------------------------------
# (b) Durability
# ---------------------------------------------------------------------------------------------------------------
def _read_all(cluster: kl.Cluster, timeout_ms: float = 20_000.0) -> list[bytes]:
    consumer = cluster.consumer({"auto.offset.reset": "earliest"})
    consumer.assign([kl.TopicPartition(TOPIC, 0)])
    values: list[bytes] = []
    deadline = cluster.now + timeout_ms
    idle = 0
    while cluster.now < deadline and idle < 5:
        batch = consumer.poll(300)
        values += [r.value for r in batch]
        idle = 0 if batch else idle + 1
    consumer.close()
    return values


def durability_trial(acks: str | int = "all", min_isr: int = 2, unclean: bool = False, fault: str = "isolation",
                     seed: int = 0, *, elr: int = 1, send_interval_ms: float = 20.0) -> pd.DataFrame:
    """One cell of the durability matrix for one seed: a one-row DataFrame with :data:`DURABILITY_COLUMNS`.
    ``elr``: the cluster's ``eligible.leader.replicas.version`` (1, the Kafka 4.1+ default, or 0)."""
    acks = str(acks)
    _check_choice("acks", acks, _ACKS)
    _check_choice("min_isr", min_isr, (1, 2))
    _check_choice("unclean", unclean, (False, True))
    _check_choice("elr", elr, (0, 1))
    _check_choice("fault", fault, DURABILITY_FAULTS)
    _check_positive("send_interval_ms", send_interval_ms)
    cluster = traced(kl.Cluster(brokers=3, controllers=3, seed=seed, config={
        "min.insync.replicas": min_isr, "unclean.leader.election.enable": unclean,
        "eligible.leader.replicas.version": elr}))
    cluster.create_topic(TOPIC, partitions=1, replication_factor=3)
    producer = cluster.producer({"acks": acks, "linger.ms": 0, "request.timeout.ms": 5_000,
                                 "delivery.timeout.ms": 120_000, "max.block.ms": 0})
    producer.partitions_for(TOPIC, timeout_ms=10_000)
    writer = _SteadyWriter(cluster, producer, send_interval_ms)
    rng = cluster.kernel.rng("experiment/durability")   # the seed picks the fault timings
    cluster.run(rng.uniform(1_000.0, 3_000.0))
    leader = cluster.leader_for(TOPIC, 0)
    if leader is None:
        raise RuntimeError(f"no leader for {TOPIC}-0 before the fault (seed={seed})")
    followers = [b for b in cluster.brokers if b != leader]

    def isr() -> list[int]:
        reg = cluster.image().partition(TOPIC, 0)
        return [] if reg is None else list(reg.isr)

    fault_ms = cluster.now
    if fault == "isolation":
        cluster.isolate(leader)
        cluster.run(rng.uniform(12_000.0, 20_000.0))  # past the 9 s session timeout: a new leader is elected
        cluster.heal()
    elif fault == "isr_shrink":
        cluster.partition([leader], followers)        # controllers and clients are in no group: they reach everyone
        cluster.run_until(lambda: isr() == [leader], 60_000.0)
        cluster.run(rng.uniform(1_000.0, 5_000.0))   # acknowledged writes that only the leader holds
        fault_ms = cluster.now
        cluster.crash(leader)
        cluster.heal()
        cluster.run(12_000.0)                         # fenced; a follower leads only if unclean election is on
        cluster.restart(leader)
    elif fault == "last_isr_power_loss":
        lagging, survivor = followers
        cluster.crash(lagging)
        cluster.run_until(lambda: sorted(isr()) == sorted([leader, survivor]), 60_000.0)
        cluster.isolate(survivor)                     # fenced: the ISR is the leader alone, below min ISR 2
        cluster.run_until(lambda: isr() == [leader], 60_000.0)
        cluster.run(rng.uniform(1_000.0, 5_000.0))   # acks=all refused (min ISR 2); acks=1 taken by the leader alone
        fault_ms = cluster.now
        cluster.crash(leader, lose_unflushed=True)
        cluster.run(12_000.0)                         # fenced: the last ISR member is gone
        cluster.heal()                                # with ELR the survivor leads once unfenced
        cluster.run(5_000.0)
        for b in (leader, lagging):
            cluster.restart(b)
    else:
        cluster.run(rng.uniform(5_000.0, 40_000.0))  # the OS writes back every 30 s: some of this is flushed
        fault_ms = cluster.now
        lagging, survivor = followers
        cluster.crash(lagging)
        cluster.run_until(lambda: sorted(isr()) == sorted([leader, survivor]), 60_000.0)
        cluster.run(rng.uniform(1_000.0, 5_000.0))   # acknowledged writes held by two page caches only
        cluster.crash(leader, lose_unflushed=True)
        cluster.crash(survivor, lose_unflushed=True)
        for b in (survivor, leader, lagging):
            cluster.restart(b)
    cluster.run_until(lambda: cluster.leader_for(TOPIC, 0) is not None, 60_000.0)
    cluster.run(10_000.0)                             # clients find the leader again; writes resume
    writer.stop()
    try:
        producer.flush(60_000.0)
    except kl.errors.KafkaError:
        pass                                          # undelivered sends end as fail/info in the history
    cluster.run(5_000.0)                              # old leaders truncate and catch up
    final = _read_all(cluster)
    completed = [e.value for e in cluster.history.ops
                 if e.type == "ok" and e.f == "send" and e.process == producer.node_id]
    acked = completed if acks != "0" else []          # acks=0: completed on sending, never acknowledged
    unacked = completed if acks == "0" else []
    in_log = set(final)
    counts: dict[bytes, int] = {}
    for v in final:
        counts[v] = counts.get(v, 0) + 1
    check = check_queue(cluster.history)
    start, end = _window(_ack_times(cluster.history, producer.node_id), fault_ms)
    row = {"acks": acks, "min_isr": min_isr, "unclean": unclean, "elr": elr, "fault": fault, "seed": seed,
           "acknowledged": len(acked), "lost": sum(1 for v in acked if v not in in_log),
           "unacknowledged": len(unacked), "unacknowledged_missing": sum(1 for v in unacked if v not in in_log),
           "duplicates": sum(1 for c in counts.values() if c > 1), "unavailable_ms": end - start,
           "lost_by_checker": check.count("lost_write") + check.count("unseen"), "final_log_size": len(final)}
    return pd.DataFrame([row], columns=list(DURABILITY_COLUMNS))


def durability_matrix(seeds: Iterable[int] = (0,), *, acks: Iterable[str | int] = _ACKS,
                      min_isr: Iterable[int] = (1, 2), unclean: Iterable[bool] = (False, True),
                      faults: Iterable[str] = DURABILITY_FAULTS, elr: Iterable[int] = (0, 1),
                      n_jobs: int = 1, progress: bool | None = None) -> pd.DataFrame:
    """Every (acks, min_isr, unclean, elr, fault, seed): one row each (:data:`DURABILITY_COLUMNS`), through
    :func:`~kafkalab.experiments.sweep` (``progress``: a ``tqdm.auto`` bar, by default only with workers)."""
    seed_list = _check_seeds(seeds)
    points = [{"acks": a, "min_isr": m, "unclean": u, "fault": f, "elr": e} for f in faults for a in acks
              for m in min_isr for u in unclean for e in elr]
    if not points:
        raise ValueError("durability_matrix needs at least one value of acks, min_isr, unclean, elr and faults")
    return sweep(durability_trial, points, seed_list, n_jobs=n_jobs, label=False, progress=n_jobs != 1 if progress is None else progress)


def durability_summary(frame: pd.DataFrame, values: str = "lost") -> pd.DataFrame:
    """``values`` (acknowledged writes lost) summed over seeds, one row per (acks, min_isr, unclean), one column per
    (fault, elr): the ELR setting beside each fault. A frame without an ``elr`` column (older data) has one column
    per fault. For acks=0 rows ``lost`` is 0 by definition: see ``unacknowledged_missing``."""
    columns = ["fault", "elr"] if "elr" in frame.columns else "fault"
    table = frame.pivot_table(index=["acks", "min_isr", "unclean"], columns=columns, values=values, aggfunc="sum",
                              sort=False)
    order = [f for f in DURABILITY_FAULTS if f in table.columns.get_level_values(0)]
    if isinstance(table.columns, pd.MultiIndex):
        return table.reindex(columns=sorted(table.columns, key=lambda c: (order.index(c[0]), c[1])))
    return table.reindex(columns=order)


# ---------------------------------------------------------------------------------------------------------------
# Full-size results for data/ (python -m kafkalab.experiments)
# ---------------------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Write ``data/failover_trials.parquet`` and ``data/durability_matrix.parquet`` (+ ``.json`` provenance).

    ``python -m kafkalab.experiments.failover [--seeds N] [--durability-seeds N] [--jobs N] [--out DIR]``
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kafkalab.experiments.failover", description=main.__doc__)
    parser.add_argument("--seeds", type=int, default=100, help="failover trials per scenario")
    parser.add_argument("--durability-seeds", type=int, default=5, help="seeds per durability cell")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--durability-only", action="store_true", help="skip the failover trials")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (kafkalab.experiments.sweep)")
    args = parser.parse_args(argv)
    version = code_version()
    if not args.durability_only:
        _failover_main(args.seeds, args.out, version, args.jobs)
    matrix = durability_matrix(range(args.durability_seeds), n_jobs=args.jobs, progress=True)
    extra = " --durability-only" if args.durability_only else ""
    write_result(matrix, args.out, "durability_matrix", {"code_version": version,
        "what": "acknowledged writes lost per acks x min.insync.replicas x unclean election x "
                "eligible.leader.replicas.version x fault, audited from the final log and the client history; acks=0 "
                "writes are counted apart (unacknowledged, unacknowledged_missing)",
        "produced_by": "kafkalab.experiments.failover.durability_matrix",
        "command": f"python -m kafkalab.experiments.failover --durability-seeds {args.durability_seeds}{extra}",
        "seeds": f"range({args.durability_seeds})", "faults": list(DURABILITY_FAULTS),
        "config": {"brokers": 3, "controllers": 3, "replication_factor": 3, "linger.ms": 0,
                   "request.timeout.ms": 5000, "send_interval_ms": 20, "eligible.leader.replicas.version": [0, 1]}})
    print(durability_summary(matrix).to_string())
    print(f"wrote durability_matrix (.parquet, .json) to {args.out}", file=sys.stderr)
    return 0


def _failover_main(seeds: int, out: Path, version: Any, n_jobs: int = 1) -> None:
    trials = failover(range(seeds), n_jobs=n_jobs, progress=True)
    write_result(trials, out, "failover_trials", {"code_version": version,
        "what": "unavailability window seen by an acks=all producer when the partition leader fails, and its parts",
        "produced_by": "kafkalab.experiments.failover.failover",
        "command": f"python -m kafkalab.experiments.failover --seeds {seeds}",
        "seeds": f"range({seeds})", "scenarios": SCENARIOS,
        "config": {"brokers": 3, "controllers": 3, "replication_factor": 3, "min.insync.replicas": 2, "acks": "all",
                   "linger.ms": 5, "request.timeout.ms": 1000, "send_interval_ms": 10},
        "summary": json.loads(failover_summary(trials).to_json(orient="records"))})
    print(failover_summary(trials).round(0).to_string(index=False))
    print(f"wrote failover_trials (.parquet, .json) to {out}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())

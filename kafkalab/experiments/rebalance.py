"""Consumer-group rebalancing: what each rebalance protocol costs a group that keeps consuming (issue 5, notebook 04).

What it measures. A group of consumers reads one topic while a producer writes to every partition at a steady rate
(one record to every partition every ``send_interval_ms``, ``acks=1``). Each consumer runs its poll loop
inside the simulation (:class:`~kafkalab.experiments.consumer_app.ConsumerApp`: poll, process each record in
``process_ms``, auto-commit every 5 s as Kafka's default does). Once every partition is owned, the group is balanced
and ``warmup_ms`` (10 s, past the first auto-commits) plus a random phase within one auto-commit interval (drawn from
the seed) have passed, one of four things happens (:data:`SCENARIOS`):

- ``scale_out``: ``added`` consumers join (3 -> 6 by default);
- ``rolling_restart``: every member in turn stops gracefully (commit, revoke, LeaveGroup unless static; what
  ``close()`` does), its process exits, and it starts again ``restart_delay_ms`` later; the next member follows
  ``restart_gap_ms`` after the previous one;
- ``crash``: one member's process dies (no LeaveGroup): the coordinator notices after ``session.timeout.ms`` (45 s);
- ``stuck``: one member's poll loop stops for ``stuck_ms`` (30 s) while its heartbeats go on; the scenario sets
  ``max.poll.interval.ms`` to 15 s (Kafka's default is 5 min; 15 s keeps the run short) so the member is thrown out.

each under one of four protocols (:data:`PROTOCOLS`): ``eager`` (classic, ``range``: every rebalance revokes
everything), ``cooperative`` (classic, ``cooperative-sticky``, KIP-429: only what moves is revoked, in a second
rebalance), ``static`` (classic, ``range``, ``group.instance.id`` per consumer, KIP-345: a restart within the
session timeout is no rebalance; range, so that it differs from ``eager`` by static membership alone) and ``kip848``
(``group.protocol=consumer``, the broker's ``uniform`` assignor, members reconcile one by one).

Per run (:func:`rebalance_trial`), over the window from the fault to ``horizon_ms`` later: the time each partition had
no consuming owner (mean and worst partition), the stop-the-world time (no partition of the group consumed at all),
partitions moved, rebalances (bumps of the coordinator's generation or group epoch), records processed more than
once (uncommitted progress read again by the next owner or by a restarted consumer), and the lag over time
(committed lag ``high watermark - committed offset`` and the records not yet processed, summed over the partitions,
every ``sample_ms``). :func:`rebalance` runs the grid; :func:`rebalance_summary` is the table.

The KIP-848 anchor (:func:`growth_trial`): the claim "a group with 10 consumers adding 900 partitions completes
rebalancing in 5 seconds instead of 103 seconds" (librdkafka's INTRODUCTION.md, KIP-848 section, v2.12; repeated by
Karafka's documentation). The sentence gives no setup (client, partition counts, configs); the Kafka developers
presented their performance tests of the protocol at Current 2024 ("The Performance of Kafka's New Consumer Rebalance
Protocol"). Here: 10 consumers own a topic of ``initial`` partitions (100), and at a random moment the topic grows to
``initial + 900``; the time is from the partition increase until every partition is owned. The notebook explains
what dominates each protocol.

Simplifications: ownership is the rebalance listener's account (``on_partitions_assigned`` to
``on_partitions_revoked``/``lost``), so a partition is "consumed" from the callback on, though its first fetch comes a
round trip later; an idle poll loop polls every ``idle_poll_ms`` rather than returning the moment data arrives.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import kafkalab as kl
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.experiments.consumer_app import ConsumerApp, GroupRecorder
from kafkalab.experiments.provenance import DATA_DIR, code_version, write_result
from kafkalab.experiments.sweep import sweep
from kafkalab.experiments.trace import traced

__all__ = ["PROTOCOLS", "SCENARIOS", "RUN_COLUMNS", "LAG_COLUMNS", "GROWTH_COLUMNS", "TOPIC", "GROUP",
           "RebalanceRun", "consumer_config", "rebalance_trial", "rebalance", "rebalance_summary", "growth_trial",
           "growth", "LagPlot", "DATA_DIR", "main"]

TOPIC = "events"
GROUP = "app"
#: Rebalance protocols: consumer config of each (``static`` adds ``group.instance.id`` per consumer).
PROTOCOLS: dict[str, dict[str, Any]] = {
    "eager": {"group.protocol": "classic", "partition.assignment.strategy": ["range"]},
    "cooperative": {"group.protocol": "classic", "partition.assignment.strategy": ["cooperative-sticky"]},
    "static": {"group.protocol": "classic", "partition.assignment.strategy": ["range"]},
    "kip848": {"group.protocol": "consumer"},
}
SCENARIOS: tuple[str, ...] = ("scale_out", "rolling_restart", "crash", "stuck")
RUN_COLUMNS = ("scenario", "protocol", "seed", "consumers", "partitions", "fault_ms", "no_owner_ms_mean",
               "no_owner_ms_max", "stop_the_world_ms", "partitions_moved", "rebalances", "settle_ms", "duplicates",
               "processed", "max_lag", "end_lag")
LAG_COLUMNS = ("scenario", "protocol", "seed", "time_ms", "since_fault_ms", "committed_lag", "unprocessed")
GROWTH_COLUMNS = ("protocol", "seed", "consumers", "initial_partitions", "final_partitions", "phase_ms",
                  "first_reaction_ms",
                  "all_owned_ms", "partitions_moved", "stop_the_world_ms")
_SETUP_TIMEOUT_MS = 120_000.0


@dataclass
class RebalanceRun:
    """One trial: ``row`` (one-row frame, :data:`RUN_COLUMNS`), ``lag`` (:data:`LAG_COLUMNS`), ``events`` (the
    ownership log) and the cluster it ran on."""

    row: pd.DataFrame
    lag: pd.DataFrame
    events: pd.DataFrame
    cluster: Any


def _check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        import difflib
        close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}{hint}")


def _check_count(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def consumer_config(protocol: str, node: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The consumer config of one member under ``protocol`` (``auto.offset.reset=earliest``, else Kafka's defaults)."""
    _check_choice("protocol", protocol, PROTOCOLS)
    cfg: dict[str, Any] = {"group.id": GROUP, "auto.offset.reset": "earliest", **PROTOCOLS[protocol]}
    if protocol == "static":
        cfg["group.instance.id"] = node
    cfg.update(overrides or {})
    return cfg


class _Group:
    """The cluster, the producer and the consumer apps of one trial."""

    def __init__(self, seed: int, protocol: str, partitions: int, send_interval_ms: float | None,
                 process_ms: float, idle_poll_ms: float, overrides: Mapping[str, Any] | None,
                 brokers: int = 3) -> None:
        self.cluster = cluster = traced(kl.Cluster(brokers=brokers, controllers=1, seed=seed))
        self.protocol = protocol
        self.overrides = dict(overrides or {})
        self.process_ms, self.idle_poll_ms = process_ms, idle_poll_ms
        cluster.create_topic(TOPIC, partitions=partitions, replication_factor=1)
        self.partitions = partitions
        self.recorder = GroupRecorder(cluster.kernel, [TopicPartition(TOPIC, p) for p in range(partitions)])
        self.apps: list[ConsumerApp] = []
        self.sent = 0
        self.writing = send_interval_ms is not None
        if send_interval_ms is not None:
            self.producer = cluster.producer({"acks": 1, "linger.ms": 5})
            interval = float(send_interval_ms)

            def tick() -> float | None:
                if not self.writing:
                    return None
                for p in range(self.partitions):
                    self.producer.send(TOPIC, value=b"x", partition=p)
                self.sent += self.partitions
                return interval
            cluster.kernel.repeat(interval, tick, name="experiment:writer")

    def add_consumer(self) -> ConsumerApp:
        node = f"consumer-{len(self.apps) + 1}"
        consumer = self.cluster.consumer(consumer_config(self.protocol, node, self.overrides), node_id=node)
        app = ConsumerApp(consumer, self.recorder, process_ms=self.process_ms, idle_poll_ms=self.idle_poll_ms)
        app.subscribe([TOPIC])
        app.start()
        self.apps.append(app)
        return app

    def all_owned(self) -> bool:
        return self.recorder.all_owned()

    def settled(self) -> bool:
        """Every partition owned and the live members balanced (shares differ by at most one), as range and
        uniform leave a group over one topic; a KIP-848 group converging member by member is not settled yet."""
        if not self.all_owned():
            return False
        live = [a for a in self.apps if self.cluster.is_alive(a.consumer.node_id)]
        shares = [len(self.recorder.owned.get(a.name, ())) for a in live]
        return not shares or max(shares) - min(shares) <= 1

    def crash(self, app: ConsumerApp) -> None:
        self.cluster.crash(app.consumer.node_id)
        self.recorder.crashed(app.name)

    def restart(self, app: ConsumerApp) -> None:
        self.cluster.restart(app.consumer.node_id)
        app.start()

    def lag(self) -> tuple[int, int]:
        """(committed lag, records not yet processed), summed over the partitions."""
        cluster = self.cluster
        frame = cluster.group_offsets(GROUP)
        committed = {int(p): int(c) for p, c in zip(frame["partition"].tolist(), frame["committed"].tolist(),
                                                    strict=True)}
        total = unprocessed = 0
        for p in range(self.partitions):
            leader = cluster.leader_for(TOPIC, p)
            broker = cluster.broker(leader) if leader is not None else None
            part = broker.rm.partition(TOPIC, p) if broker is not None else None
            if part is None:
                continue
            hw = part.high_watermark
            total += max(0, hw - committed.get(p, 0))
            unprocessed += max(0, hw - self.recorder.max_processed.get(TopicPartition(TOPIC, p), -1) - 1)
        return total, unprocessed


def rebalance_trial(scenario: str = "scale_out", protocol: str = "eager", seed: int = 0, *, consumers: int = 3,
                    added: int = 3, partitions: int = 12, send_interval_ms: float = 100.0, process_ms: float = 1.0,
                    idle_poll_ms: float = 20.0, horizon_ms: float = 60_000.0, restart_delay_ms: float = 3_000.0,
                    restart_gap_ms: float = 10_000.0, stuck_ms: float = 30_000.0, warmup_ms: float = 10_000.0,
                    stuck_max_poll_interval_ms: int = 15_000, sample_ms: float = 500.0,
                    on_cluster: Callable[[kl.Cluster, Any], None] | None = None) -> RebalanceRun:
    """One scenario under one protocol (see the module docstring). ``on_cluster(cluster, group)`` runs once the
    group is settled, before the fault (attach a :class:`LagPlot` there)."""
    _check_choice("scenario", scenario, SCENARIOS)
    _check_choice("protocol", protocol, PROTOCOLS)
    for name, value in (("consumers", consumers), ("partitions", partitions)):
        _check_count(name, value)
    _check_count("added", added, 0)
    overrides = {"max.poll.interval.ms": stuck_max_poll_interval_ms} if scenario == "stuck" else {}
    g = _Group(seed, protocol, partitions, send_interval_ms, process_ms, idle_poll_ms, overrides)
    cluster = g.cluster
    for _ in range(consumers):
        g.add_consumer()
    if not cluster.run_until(g.settled, _SETUP_TIMEOUT_MS):
        raise kl.errors.KafkaTimeoutError(f"the group did not settle within {_SETUP_TIMEOUT_MS:.0f} ms "
                                          f"(seed={seed}, protocol={protocol}): unowned {g.recorder.unowned()}")
    # Past the first auto-commit (a fault right after the join would replay everything), then a random phase within
    # one auto-commit interval, drawn from the seed: how much uncommitted progress a fault meets depends on it.
    phase_ms = cluster.kernel.rng("experiment/rebalance").uniform(0.0, 5_000.0)
    cluster.run(warmup_ms + phase_ms)
    samples: list[tuple[float, int, int]] = []

    def sample() -> float:
        committed, unprocessed = g.lag()
        samples.append((cluster.now, committed, unprocessed))
        return sample_ms
    sample()
    cluster.kernel.repeat(sample_ms, sample, name="experiment:lag")
    if on_cluster is not None:
        on_cluster(cluster, g)
    fault_ms = cluster.now
    end_ms = fault_ms + horizon_ms
    epoch_before = _group_epoch(cluster)
    first = g.apps[0]
    if scenario == "scale_out":
        for _ in range(added):
            g.add_consumer()
    elif scenario == "crash":
        g.crash(first)
    elif scenario == "stuck":
        first.stall()
        cluster.kernel.schedule(stuck_ms, first.resume, name="experiment:resume")
    else:   # rolling_restart
        for i, app in enumerate(list(g.apps)):
            cluster.kernel.schedule(i * restart_gap_ms, _restart_later, g, app, restart_delay_ms,
                                    name="experiment:stop")
    cluster.run(end_ms - cluster.now)
    g.writing = False
    m = g.recorder.metrics(fault_ms, end_ms)
    after = [s for s in samples if s[0] >= fault_ms]
    row = {"scenario": scenario, "protocol": protocol, "seed": seed, "consumers": consumers,
           "partitions": partitions, "fault_ms": fault_ms, "no_owner_ms_mean": m.no_owner_ms_mean,
           "no_owner_ms_max": m.no_owner_ms_max, "stop_the_world_ms": m.stop_the_world_ms,
           "partitions_moved": m.partitions_moved, "rebalances": _group_epoch(cluster) - epoch_before,
           "settle_ms": m.settle_ms, "duplicates": g.recorder.duplicates(), "processed": g.recorder.processed_count, "max_lag": max((s[1] for s in after), default=0),
           "end_lag": after[-1][1] if after else 0}
    lag = pd.DataFrame([{"scenario": scenario, "protocol": protocol, "seed": seed, "time_ms": t,
                         "since_fault_ms": t - fault_ms, "committed_lag": c, "unprocessed": u}
                        for t, c, u in samples], columns=list(LAG_COLUMNS))
    return RebalanceRun(pd.DataFrame([row], columns=list(RUN_COLUMNS)), lag, g.recorder.events_frame(), cluster)


def _group_epoch(cluster: kl.Cluster) -> int:
    """The coordinator's generation (classic) or group epoch (KIP-848): each bump is one rebalance."""
    described = cluster.describe_group(GROUP)
    return int(described.get("generation", described.get("group_epoch", 0)))


def _restart_later(g: _Group, app: ConsumerApp, delay_ms: float) -> None:
    """Stop ``app`` gracefully, let its process exit a moment later (the LeaveGroup leaves first), restart it."""
    def exit_process() -> None:
        g.cluster.kernel.schedule(50.0, exit_now, name="experiment:exit")

    def exit_now() -> None:
        if g.cluster.is_alive(app.consumer.node_id):
            g.crash(app)
        g.cluster.kernel.schedule(max(0.0, delay_ms - 50.0), g.restart, app, name="experiment:restart")
    app.stop_gracefully(exit_process)


def _trial_frames(scenario: str, protocol: str, seed: int, **kwargs: Any) -> pd.DataFrame:
    """One trial's row, its lag frame riding along in a ``_lag`` column (so a sweep carries both)."""
    run = rebalance_trial(scenario, protocol, seed, **kwargs)
    row = run.row.copy()
    row["_lag"] = pd.Series([run.lag], index=row.index, dtype=object)
    return row


def rebalance(seeds: Iterable[int] = (0,), scenarios: Iterable[str] = SCENARIOS,
              protocols: Iterable[str] = tuple(PROTOCOLS), *, n_jobs: int = 1,
              progress: bool | None = None, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every scenario x protocol x seed: (runs, lag), two tidy frames (:data:`RUN_COLUMNS`, :data:`LAG_COLUMNS`),
    through :func:`~kafkalab.experiments.sweep` (``n_jobs`` worker processes; ``progress``: a ``tqdm.auto`` bar, by
    default only with workers)."""
    points = [{"scenario": sc, "protocol": p, **kwargs} for sc in scenarios for p in protocols]
    frame = sweep(_trial_frames, points, list(seeds), n_jobs=n_jobs, label=False, progress=n_jobs != 1 if progress is None else progress)
    return frame.drop(columns="_lag"), pd.concat(list(frame["_lag"]), ignore_index=True)


def rebalance_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Medians per scenario and protocol, in seconds where a time."""
    metrics = ["no_owner_ms_mean", "no_owner_ms_max", "stop_the_world_ms", "settle_ms"]
    table = runs.groupby(["scenario", "protocol"], sort=False).agg(
        {**{m: "median" for m in metrics}, "partitions_moved": "median", "duplicates": "median",
         "rebalances": "median", "max_lag": "median", "seed": "count"}).rename(columns={"seed": "runs"})
    for m in metrics:
        table[m.replace("_ms", "_s")] = table.pop(m) / 1000.0
    return table.reset_index()[["scenario", "protocol", "runs", "no_owner_s_mean", "no_owner_s_max",
                                "stop_the_world_s", "settle_s", "partitions_moved", "rebalances", "duplicates", "max_lag"]]


# ---------------------------------------------------------------------------------------------------------------
# The KIP-848 anchor: 10 consumers, 900 partitions added
# ---------------------------------------------------------------------------------------------------------------
def growth_trial(protocol: str = "kip848", seed: int = 0, *, consumers: int = 10, initial: int = 100,
                 added: int = 900, phase_ms: float | None = None, timeout_ms: float = 600_000.0,
                 idle_poll_ms: float = 100.0, overrides: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A settled group of ``consumers`` on ``initial`` partitions; ``phase_ms`` later (default: drawn from the seed,
    uniform over one ``metadata.max.age.ms`` = 5 min, since a real change comes at no particular moment) the topic
    grows by ``added``. One row (:data:`GROWTH_COLUMNS`): ``first_reaction_ms`` = partition increase -> the first
    ownership change, ``all_owned_ms`` = -> every partition owned. No producer (the claim is about the rebalance).
    ``overrides``: consumer config on top of the protocol's (e.g. a shorter ``metadata.max.age.ms``)."""
    _check_choice("protocol", protocol, PROTOCOLS)
    _check_count("consumers", consumers)
    _check_count("initial", initial)
    _check_count("added", added)
    g = _Group(seed, protocol, initial, None, 1.0, idle_poll_ms, overrides)
    cluster = g.cluster
    for _ in range(consumers):
        g.add_consumer()
    if not cluster.run_until(g.settled, _SETUP_TIMEOUT_MS):
        raise kl.errors.KafkaTimeoutError(f"the group did not settle (seed={seed}, protocol={protocol})")
    if phase_ms is None:
        phase_ms = cluster.kernel.rng("experiment/growth").uniform(0.0, 300_000.0)
    cluster.run(float(phase_ms))
    start = cluster.now
    before = len(g.recorder.events)
    g.partitions = initial + added
    g.recorder.add_partitions(TopicPartition(TOPIC, p) for p in range(initial, initial + added))
    cluster.create_partitions(TOPIC, initial + added)
    done = cluster.run_until(g.all_owned, timeout_ms - (cluster.now - start))
    end = cluster.now
    reacted = [e[0] for e in g.recorder.events[before:] if e[3]]
    m = g.recorder.metrics(start, end)
    nan = float("nan")
    row = {"protocol": protocol, "seed": seed, "consumers": consumers, "initial_partitions": initial,
           "final_partitions": initial + added, "phase_ms": phase_ms, "first_reaction_ms": (reacted[0] - start) if reacted else nan,
           "all_owned_ms": (end - start) if done else nan, "partitions_moved": m.partitions_moved,
           "stop_the_world_ms": m.stop_the_world_ms}
    return pd.DataFrame([row], columns=list(GROWTH_COLUMNS))


def growth(seeds: Iterable[int] = (0,), protocols: Iterable[str] = ("eager", "cooperative", "kip848"), *,
           n_jobs: int = 1, progress: bool | None = None, **kwargs: Any) -> pd.DataFrame:
    """:func:`growth_trial` per protocol and seed, through :func:`~kafkalab.experiments.sweep` (``progress``: a
    ``tqdm.auto`` bar, by default only with workers)."""
    points = [{"protocol": p, **kwargs} for p in protocols]
    return sweep(growth_trial, points, list(seeds), n_jobs=n_jobs, label=False, progress=n_jobs != 1 if progress is None else progress)


# ---------------------------------------------------------------------------------------------------------------
# Live plot
# ---------------------------------------------------------------------------------------------------------------
class LagPlot:
    """Lag and the owner of every partition over time, for :meth:`kafkalab.viz.LiveFigure.every`:
    ``live.every(cluster.kernel, 250, plot.draw, sample=plot.sample)`` from ``rebalance_trial``'s ``on_cluster``
    (after ``plot.attach(group)``). The lower panel has one row per partition, coloured by its owner; white = no
    owner, grey = an owner whose poll loop is stuck."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.group: Any = None
        self.times: list[float] = []
        self.lag: list[int] = []
        self.unprocessed: list[int] = []
        self.owners: list[list[float]] = []        # per sample: owner index per partition (nan: none; -1: stuck)
        self.names: list[str] = []
        self.fault_ms: float | None = None

    def attach(self, group: Any) -> None:
        self.group = group
        self.fault_ms = float(group.cluster.now)

    def sample(self, now_ms: float) -> None:
        g = self.group
        if g is None:
            return
        committed, unprocessed = g.lag()
        self.times.append(now_ms / 1000.0)
        self.lag.append(committed)
        self.unprocessed.append(unprocessed)
        self.names = [a.name for a in g.apps]
        stuck = {a.name for a in g.apps if a.stalled}
        column = [float("nan")] * len(g.recorder.partitions)
        index = {tp: i for i, tp in enumerate(g.recorder.partitions)}
        for k, name in enumerate(self.names):
            for tp in g.recorder.owned.get(name, ()):
                if tp in index:
                    column[index[tp]] = -1.0 if name in stuck else float(k)
        self.owners.append(column)

    def draw(self, fig: Any, now_ms: float) -> None:
        import numpy as np
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        fig.clear()
        ax_lag, ax_own = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.2))
        ax_lag.plot(self.times, self.lag, color="tab:red", lw=0.8, label="committed lag")
        ax_lag.plot(self.times, self.unprocessed, color="black", lw=1.5, label="not yet processed")
        ax_lag.set_ylabel("records")
        ax_lag.legend(fontsize=7, loc="upper left")
        ax_lag.set_title(self.title or f"t = {now_ms / 1000:.1f} s")
        palette = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                   "tab:cyan", "tab:red", "gold"]
        if self.owners and len(self.times) > 1:
            rows = max(len(c) for c in self.owners)
            grid = np.full((rows, len(self.owners)), np.nan)
            for j, column in enumerate(self.owners):
                grid[:len(column), j] = column
            colors = ["lightgray"] + [palette[k % len(palette)] for k in range(len(self.names))]
            step = self.times[-1] - self.times[-2]
            ax_own.imshow(grid + 1, aspect="auto", interpolation="nearest", origin="lower",
                          cmap=ListedColormap(colors), vmin=-0.5, vmax=len(colors) - 0.5,
                          extent=(self.times[0], self.times[-1] + step, -0.5, rows - 0.5))
            handles = [Patch(color=colors[k + 1], label=name) for k, name in enumerate(self.names)]
            ax_own.legend(handles=handles, fontsize=7, ncol=min(6, len(handles)), loc="upper left",
                          bbox_to_anchor=(0, -0.22))
        ax_own.set_ylabel("partition")
        ax_own.set_xlabel("virtual time (s)")
        for ax in (ax_lag, ax_own):
            if self.fault_ms is not None:
                ax.axvline(self.fault_ms / 1000.0, color="black", lw=0.8, ls=":")
        ax_lag.grid(alpha=0.3)


# ---------------------------------------------------------------------------------------------------------------
# Full-size results for data/ (python -m kafkalab.experiments)
# ---------------------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Write ``data/rebalance_runs.parquet``, ``rebalance_lag.parquet`` and ``rebalance_growth.parquet`` (+ ``.json``).

    ``python -m kafkalab.experiments.rebalance [--seeds N] [--growth-seeds N] [--out DIR]``
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kafkalab.experiments.rebalance", description=main.__doc__)
    parser.add_argument("--seeds", type=int, default=10, help="runs per scenario and protocol")
    parser.add_argument("--growth-seeds", type=int, default=10, help="runs of the 900-partition growth per protocol")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (kafkalab.experiments.sweep)")
    args = parser.parse_args(argv)
    version = code_version()
    runs, lag = rebalance(range(args.seeds), n_jobs=args.jobs, progress=True)
    config = {"brokers": 3, "controllers": 1, "partitions": 12, "consumers": 3, "added": 3,
              "send_interval_ms": 100, "process_ms": 1, "idle_poll_ms": 20, "horizon_ms": 60_000,
              "restart_delay_ms": 3000, "restart_gap_ms": 10_000, "stuck_ms": 30_000, "warmup_ms": 10_000,
              "stuck max.poll.interval.ms": 15_000, "auto.offset.reset": "earliest", "protocols": PROTOCOLS}
    command = f"python -m kafkalab.experiments.rebalance --seeds {args.seeds} --growth-seeds {args.growth_seeds}"
    write_result(runs, args.out, "rebalance_runs", {"code_version": version,
        "what": "per scenario x protocol x seed: time without a consuming owner, stop-the-world, partitions moved, "
                "records processed twice, committed lag",
        "produced_by": "kafkalab.experiments.rebalance.rebalance", "command": command,
        "seeds": f"range({args.seeds})", "config": config,
        "summary": json.loads(rebalance_summary(runs).to_json(orient="records"))})
    write_result(lag, args.out, "rebalance_lag", {"code_version": version,
        "what": "committed lag and unprocessed records over time, every 500 ms, per run",
        "produced_by": "kafkalab.experiments.rebalance.rebalance", "command": command,
        "seeds": f"range({args.seeds})", "config": config})
    grown = growth(range(args.growth_seeds), n_jobs=args.jobs, progress=True)
    write_result(grown, args.out, "rebalance_growth", {"code_version": version,
        "what": "10 consumers, topic grows from 100 to 1000 partitions: time until every partition is owned "
                "(the KIP-848 claim: 5 s instead of 103 s)",
        "produced_by": "kafkalab.experiments.rebalance.growth", "command": command,
        "seeds": f"range({args.growth_seeds})",
        "config": {"brokers": 3, "controllers": 1, "consumers": 10, "initial": 100, "added": 900,
                   "idle_poll_ms": 100, "phase_ms": "uniform(0, 300000) from the seed"}})
    print(rebalance_summary(runs).round(2).to_string(index=False))
    print(grown.groupby("protocol")[["first_reaction_ms", "all_owned_ms"]].median().round(0).to_string())
    print(f"wrote rebalance_runs, rebalance_lag and rebalance_growth (.parquet, .json) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

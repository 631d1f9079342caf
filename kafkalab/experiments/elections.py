"""Leader elections in the KRaft quorum, measured the way the Raft paper measured them.

What it reproduces. Ongaro and Ousterhout (USENIX ATC 2014, extended version, section 9.3, Figure 16) crashed the leader
of a five-server cluster (broadcast time about 15 ms) 1000 times per election-timeout range and plotted the CDF of the
time to detect the crash and elect a new leader. Ongaro's thesis (Stanford 2014, chapter 9) gives the probability that
the first election round ends in a split vote. KIP-595 (KRaft) and KIP-996 (pre-vote) say how Kafka's quorum differs.

How a Figure 16 trial runs (:func:`figure16_trial`), all on a fresh :class:`kafkalab.raft.RaftCluster` with its own seed
derived from ``(seed, range, trial)``, so any trial replays alone:

1. Raft's classic timing on KRaft's timers. A KRaft follower becomes a candidate when it has had no successful fetch
   from the leader for ``fetch_timeout_ms``; Raft's follower does so when it has heard nothing from the leader for a
   randomised election timeout. With ``fetch_timeout_ms=LO`` and ``fetch_timeout_jitter_ms=HI-LO`` the follower timeout
   is uniform in [LO, HI) from the last message from the leader, which is Raft's rule. A candidate's election timeout
   is ``election_timeout_ms=LO`` plus ``random[0, HI-LO)`` (``election_jitter_ms``). The leader parks an idle fetch for
   ``fetch_max_wait_ms=LO/2``: the paper's heartbeat interval, half the minimum timeout. The leader appends at once
   (``append.linger.ms=0``). Pre-vote (KIP-996) and check-quorum are off, because the paper's Raft had neither.
   What a candidate that has not won does next is the one thing the two lines (``election_mode``, :data:`MODES`)
   change:

   - ``"paper"``, the paper's Raft (Figure 2, "If election timeout elapses: start new election"): it waits out the
     fresh randomised election timeout it drew when it stood, then stands again in the next epoch. Nothing else is
     random, so with fixed timeouts (150-150) rounds split for as long as the timers stay in step, as in the paper.
   - ``"kraft"``, Kafka's KafkaRaftClient: a candidate rejected by a majority, or whose timeout expired, first waits a
     *random* backoff, ``min(100 ms * random(2^retries), election.backoff.max.ms)`` (Kafka's default cap, 1000 ms),
     then stands again. That second source of randomness is why "150-150" does not livelock in KRaft.
     ``election_backoff_max_ms=0`` is not the paper's Raft either: a rejected candidate then retries at once, so ties
     repeat every round trip.

   One more KRaft behaviour stays in both lines, because it is Kafka's and the brief of the paper mode is the retry
   rule only: a voter that sees a higher epoch becomes Unattached with a fresh election timeout, so an ineligible
   candidate delays the eligible ones (the paper's Figure 2 restarts a follower's timer only for the current leader
   or a granted vote).
2. The voters start a couple of milliseconds apart (so even fixed timeouts elect a first leader), elect a leader and
   commit a few records on a fast LAN (0.05 ms one way, 0.05 ms fsync), so every follower is caught up and has a fetch
   parked at the leader.
3. The synchronized heartbeat: one record is proposed, and the leader answers every parked fetch at once. To give the
   servers different log lengths (so some candidates are not eligible) the answers to ``lagging`` followers are lost
   on the way (a one-way cut from the leader): those followers lack the record, and their last message from the
   leader is the one before, a fraction of a millisecond earlier (the LAN and its fsync take 0.05 ms here).
4. Only then do the links get the paper's broadcast time (one-way latency ``broadcast_ms / 2``, fsync ``fsync_ms``),
   for the election's Vote requests. Why not earlier: in a pull model a follower hears from its leader once per ``fetch_max_wait_ms`` +
   round trip, so a steady 15 ms round trip under a 12 ms timeout would never keep a leader (Raft's timing requirement
   broadcastTime << electionTimeout, made literal); and the paper's 15 ms was mostly the fsync behind votes and
   entries, while its heartbeats were cheap.
5. The leader crashes uniformly within its heartbeat interval after that broadcast. Downtime is the virtual time from
   the crash until a live node leads an epoch above the crashed leader's; ``election_rounds`` is how many epochs that
   took (each candidacy bumps the epoch when pre-vote is off). A trial still without a leader after
   ``max_downtime_ms`` is *censored* (the paper's 150-150 line ran past 10 s).

Split votes (:func:`split_vote_rate`) follow the thesis' definition: the first election round after the crash (epoch
e+1) fails to produce a leader. Timeouts are uniform over a range R, the one-way latency is a fixed fraction ``l`` of R
(no jitter), every alive follower's timer starts at the same synchronized heartbeat and all logs are equal, which is
the model behind the closed form :func:`split_vote_probability`.

Simplification: the network has one latency for every message at a time, where the paper's cluster had cheap
heartbeats and slow (fsynced) votes; step 4 switches the latency between the heartbeat and the election.
"""
from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kafkalab.experiments.provenance import DATA_DIR, code_version, write_result
from kafkalab.experiments.sweep import sweep
from kafkalab.experiments.trace import traced
from kafkalab.raft import RaftCluster, RaftConfig
from kafkalab.sim.kernel import derive_seed
from kafkalab.sim.network import LinkSpec

__all__ = [
    "FIGURE16_RANGES", "TOP_RANGES", "BOTTOM_RANGES", "MODES", "Figure16Setup",
    "parse_range", "split_vote_probability", "split_vote_probability_exact",
    "figure16_trial", "figure16", "figure16_modes", "figure16_summary", "paper_figure16", "compare_with_paper",
    "compare_modes_with_paper",
    "split_vote_trial", "split_vote_rate", "kraft_default_election", "prevote_runs", "prevote_demo", "quorum_story",
    "DATA_DIR", "main",
]

#: Figure 16's lines: the top graph varies the randomness, the bottom graph scales the minimum timeout.
TOP_RANGES: tuple[str, ...] = ("150-150", "150-151", "150-155", "150-175", "150-200", "150-300")
BOTTOM_RANGES: tuple[str, ...] = ("12-24", "25-50", "50-100", "100-200", "150-300")
FIGURE16_RANGES: tuple[str, ...] = TOP_RANGES + BOTTOM_RANGES[:-1]
#: The two lines of the redrawn figure: the paper's Raft (Figure 2's retry) and KRaft (random backoff); see
#: :class:`kafkalab.raft.RaftConfig` ``election_mode``.
MODES: tuple[str, ...] = ("paper", "kraft")


_RANGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")


def parse_range(timeout_range: str) -> tuple[float, float]:
    """``"150-155"`` -> ``(150.0, 155.0)``: election timeouts uniform in [LO, HI] ms.

    >>> parse_range("12-24")
    (12.0, 24.0)
    """
    if not isinstance(timeout_range, str):
        raise TypeError(f"timeout range must be a string like '150-300', got {type(timeout_range).__name__} "
                        f"{timeout_range!r}")
    match = _RANGE_RE.match(timeout_range)
    if match is None:
        raise ValueError(f"unknown timeout range {timeout_range!r}: expected 'LO-HI' in ms, e.g. '150-300'; "
                         f"the paper's ranges are {', '.join(FIGURE16_RANGES)}")
    lo, hi = float(match.group(1)), float(match.group(2))
    if lo <= 0 or hi < lo:
        raise ValueError(f"timeout range {timeout_range!r} needs 0 < LO <= HI, got LO={lo:g}, HI={hi:g}")
    return lo, hi


def _check_trials(trials: int) -> None:
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ValueError(f"trials must be a positive int, got {trials!r}")


# ---------------------------------------------------------------------------------------------------------------
# The thesis' closed form
# ---------------------------------------------------------------------------------------------------------------
def _check_cluster(n: int, s: int, latency_fraction: float) -> None:
    if n < 1 or s < 1 or s > n:
        raise ValueError(f"need 1 <= s <= n (s alive of n voters), got n={n}, s={s}")
    if not 0.0 <= latency_fraction <= 1.0:
        raise ValueError(f"latency fraction l must be in [0, 1] (one-way latency / timeout range), got {latency_fraction}")


def split_vote_probability(n: int, s: int, latency_fraction: float) -> float:
    """Ongaro's closed form for a split first round: ``sum_{k=c-1..s} C(s,k) l^k (1-l)^(s-k)``, ``c = s - n//2 + 1``.

    ``c`` is the number of simultaneous candidates that guarantees nobody gets a majority; the sum is the chance that
    at least ``c - 1`` more servers time out within the one-way latency ``l`` (a fraction of the timeout range) of the
    first one, before its vote request reaches them. It reads like an approximation (``s`` binomial trials where only
    the ``s - 1`` others can join), but for uniform timers it is exact: :func:`split_vote_probability_exact`
    integrates the order statistics and agrees to the fourth digit.

    >>> round(100 * split_vote_probability(5, 4, 0.1), 1)
    5.2
    """
    _check_cluster(n, s, latency_fraction)
    c = s - n // 2 + 1
    lat = latency_fraction
    return float(sum(math.comb(s, k) * lat ** k * (1 - lat) ** (s - k) for k in range(max(c - 1, 0), s + 1)))


def split_vote_probability_exact(n: int, s: int, latency_fraction: float, grid: int = 20_001) -> float:
    """The thesis' model computed from first principles, as a check on the closed form.

    ``s`` timers uniform on [0, 1]; the first fires at ``m``; each of the other ``s - 1`` becomes a candidate too if it
    fires before ``m + l``; the round splits iff at least ``c - 1`` do. Integrates over the density of the minimum,
    ``s (1-m)^(s-1)``, numerically.
    """
    _check_cluster(n, s, latency_fraction)
    c = s - n // 2 + 1
    need = max(c - 1, 0)
    if need == 0:
        return 1.0
    if s - 1 < need:
        return 0.0
    m = np.linspace(0.0, 1.0, grid)
    p = np.minimum(1.0, latency_fraction / np.maximum(1.0 - m, 1e-300))
    tail = np.zeros_like(m)
    for k in range(need, s):
        tail += math.comb(s - 1, k) * p ** k * (1 - p) ** (s - 1 - k)
    density = s * (1.0 - m) ** (s - 1)
    return float(np.trapezoid(density * tail, m))


# ---------------------------------------------------------------------------------------------------------------
# Building and driving a quorum
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Figure16Setup:
    """The knobs of one Figure 16 trial (see the module docstring for what each step does)."""

    broadcast_ms: float = 15.0      # round trip during the election (the paper's "broadcast time")
    fsync_ms: float = 1.0           # fsync during the election (a vote is durable before it is sent)
    lan_latency_ms: float = 0.05    # one-way latency and fsync while the leader is healthy (the heartbeats)
    jitter_ms: float = 0.0          # extra per-message delay, uniform in [0, jitter_ms)
    lagging: int = 2                # followers that miss the last record (ineligible candidates)
    max_downtime_ms: float = 10_000.0
    voters: int = 5
    #: cap of KRaft's backoff after a lost election (Kafka's default, controller.quorum.election.backoff.max.ms)
    election_backoff_max_ms: float = 1000.0
    #: ``"kraft"`` (backoff after a lost election) or ``"paper"`` (Figure 2: a fresh election timeout, no backoff)
    election_mode: str = "kraft"

    def __post_init__(self) -> None:
        if min(self.broadcast_ms, self.fsync_ms, self.lan_latency_ms, self.jitter_ms) < 0:
            raise ValueError(f"latencies must be >= 0, got {self}")
        if not 0 <= self.lagging < self.voters - 1:
            raise ValueError(f"lagging must be in [0, voters - 2], got lagging={self.lagging} with {self.voters} voters")
        if self.max_downtime_ms <= 0:
            raise ValueError(f"max_downtime_ms must be > 0, got {self.max_downtime_ms}")
        RaftConfig(election_mode=self.election_mode)   # a bad mode fails here, naming the allowed ones


def _raft_cluster(voters: int, seed: int, lo: float, hi: float, latency_ms: float, *, pre_vote: bool = False,
                  check_quorum: bool = False, jitter_ms: float = 0.0, backoff_max_ms: float | None = None,
                  fsync_latency_ms: float = 1.0, election_mode: str = "kraft") -> RaftCluster:
    return traced(RaftCluster(voters=voters, seed=seed, election_timeout_ms=lo, fetch_timeout_ms=lo,
                              pre_vote=pre_vote, check_quorum=check_quorum,
                              network=LinkSpec(latency_ms=latency_ms, jitter_ms=jitter_ms,
                                               bandwidth_bytes_per_ms=None),
                              fetch_timeout_jitter_ms=hi - lo, election_jitter_ms=hi - lo, fetch_max_wait_ms=lo / 2,
                              election_backoff_max_ms=1000.0 if backoff_max_ms is None else backoff_max_ms,
                              append_linger_ms=0, fsync_latency_ms=fsync_latency_ms, election_mode=election_mode))


def _set_latency(rc: RaftCluster, latency_ms: float, jitter_ms: float) -> None:
    net = rc.world.network
    nodes = list(rc.nodes)
    for a in nodes:
        for b in nodes:
            if a != b:
                net.set_link(a, b, latency_ms=latency_ms, jitter_ms=jitter_ms, symmetric=False)


def _has_leader(rc: RaftCluster) -> bool:
    return rc.leader() is not None


def _committed_or_deposed(rc: RaftCluster, leader: Any, last: int, alive: Sequence[Any]) -> bool:
    return rc.leader() != leader or all(rc.high_watermark(n) > last for n in alive)


def _campaigning(rc: RaftCluster, nodes: Sequence[Any]) -> bool:
    return any(rc.role(n) in _CAMPAIGNING for n in nodes)


def _elected_after(rc: RaftCluster, old_epoch: int) -> bool:
    return _new_leader(rc, old_epoch) is not None


def _new_leader(rc: RaftCluster, old_epoch: int) -> Any:
    leader = rc.leader()
    if leader is not None and rc.epoch(leader) > old_epoch:
        return leader
    return None


def _staggered_start(rc: RaftCluster, gap_ms: float) -> None:
    """Start the voters ``gap_ms`` apart, so the first election cannot tie even with fixed timeouts (150-150)."""
    nodes = list(rc.nodes)
    for node in nodes[1:]:
        rc.crash(node)
    for node in nodes[1:]:
        rc.run(gap_ms)
        rc.restart(node)


def _settle(rc: RaftCluster, timeout_ms: float, records: int = 2, quiet_ms: float = 0.0, park_ms: float = 2.0) -> Any:
    """Elect a leader that stays, commit ``records`` records everywhere, and leave every follower with a fetch parked.

    ``quiet_ms``: how long a new leader must last before we use it (a rival candidacy may still be under way);
    ``park_ms``: time for the followers' next fetches to reach the leader and park there.
    """
    deadline = rc.now + timeout_ms
    while rc.now < deadline:
        if not rc.run_until(partial(_has_leader, rc), deadline - rc.now):
            break
        rc.run(quiet_ms)
        leader = rc.leader()
        if leader is None:
            continue
        offsets = rc.propose_many([f"setup-{i}".encode() for i in range(records)])
        if offsets is None:
            continue
        alive = [n for n in rc.nodes if rc.world.is_alive(n)]
        done = partial(_committed_or_deposed, rc, leader, offsets[-1], alive)
        rc.run_until(done, max(0.0, deadline - rc.now))
        if rc.leader() == leader and done():
            rc.run(park_ms)
            if rc.leader() == leader:
                return leader
    raise RuntimeError(f"no stable leader with committed setup records within {timeout_ms} ms (seed={rc.world.seed})")


def _sent(rc: RaftCluster, src: Any) -> dict[Any, int]:
    return {row["dst"]: row["sent"] for row in rc.world.network.stats() if row["src"] == src}


def _sync_heartbeat(rc: RaftCluster, leader: Any, cut: Sequence[Any], timeout_ms: float) -> float:
    """Append one record, so the leader answers every parked fetch at once; ``cut`` followers lose the answer.

    Returns when the answers to every other live follower are on the wire.
    """
    net = rc.world.network
    for node in cut:
        net.cut(leader, node)
    before = _sent(rc, leader)
    receivers = [n for n in rc.nodes if n != leader and n not in cut and rc.world.is_alive(n)]
    if rc.propose(b"sync-heartbeat") is None:
        raise RuntimeError(f"the leader refused the heartbeat record (seed={rc.world.seed})")

    def answered() -> bool:
        sent = _sent(rc, leader)
        return all(sent.get(n, 0) > before.get(n, 0) for n in receivers)

    if not rc.run_until(answered, timeout_ms):
        raise RuntimeError(f"the leader did not answer the parked fetches (seed={rc.world.seed})")
    rc.run(0.0)
    return float(rc.now)


def figure16_trial(timeout_range: str, seed: int, setup: Figure16Setup | None = None) -> dict[str, Any]:
    """One leader crash under Raft's classic timing; returns a row of :func:`figure16` (replays alone from ``seed``)."""
    setup = setup or Figure16Setup()
    lo, hi = parse_range(timeout_range)
    rng = np.random.default_rng(derive_seed(seed, "figure16/trial"))
    rc = _raft_cluster(setup.voters, seed, lo, hi, setup.lan_latency_ms, backoff_max_ms=setup.election_backoff_max_ms,
                       fsync_latency_ms=setup.lan_latency_ms, election_mode=setup.election_mode)
    _staggered_start(rc, gap_ms=min(2.0, lo / (2 * setup.voters)))
    leader = _settle(rc, timeout_ms=100 * hi + 10_000, quiet_ms=hi, park_ms=8 * setup.lan_latency_ms + 0.1)
    epoch0 = rc.epoch(leader)
    followers = [n for n in rc.nodes if n != leader]
    lagging = [followers[i] for i in sorted(rng.choice(len(followers), size=setup.lagging, replace=False))]
    sent_at = _sync_heartbeat(rc, leader, lagging, timeout_ms=hi + setup.broadcast_ms + 100)
    _set_latency(rc, setup.broadcast_ms / 2, setup.jitter_ms)
    for disk in rc.world.disks.values():
        disk.fsync_latency_ms = setup.fsync_ms
    heartbeat_ms = lo / 2
    crash_offset = float(rng.uniform(0.0, heartbeat_ms))
    rc.run(max(0.0, sent_at + crash_offset - rc.now))
    crash_at = float(rc.now)
    # the one-way cuts stay: they only touch messages from the dead leader
    rc.crash(leader)
    elected = rc.run_until(partial(_elected_after, rc, epoch0), setup.max_downtime_ms)
    new_leader = _new_leader(rc, epoch0) if elected else None
    top_epoch = max(rc.epoch(n) for n in rc.nodes if rc.world.is_alive(n))
    return {
        "mode": setup.election_mode, "timeout_range": timeout_range, "lo_ms": lo, "hi_ms": hi, "seed": seed,
        "downtime_ms": float(rc.now) - crash_at if elected else setup.max_downtime_ms, "censored": not elected,
        "election_rounds": (rc.epoch(new_leader) if new_leader is not None else top_epoch) - epoch0,
        "crash_offset_ms": crash_offset, "old_leader": leader,
        "new_leader": new_leader, "lagging": ",".join(str(n) for n in lagging),
    }


def _ranges(ranges: Iterable[str] | None) -> list[str]:
    chosen = list(FIGURE16_RANGES if ranges is None else ranges)
    if not chosen:
        raise ValueError("ranges is empty: give at least one 'LO-HI' string, or None for the paper's ten")
    for r in chosen:
        parse_range(r)
    return chosen


def _figure16_row(timeout_range: str, seed: int, *, base: Figure16Setup, sweep_seed: int) -> dict[str, Any]:
    """Trial number ``seed`` of a range (its own seed derived from the sweep's), as :func:`figure16` rows it."""
    row = figure16_trial(timeout_range, derive_seed(sweep_seed, f"figure16/{timeout_range}/{seed}"), base)
    row["trial"] = seed
    return row


def figure16(trials: int = 1000, seed: int = 0, ranges: Iterable[str] | None = None, *,
             setup: Figure16Setup | None = None, n_jobs: int = 1, progress: bool | None = None,
             **setup_changes: Any) -> pd.DataFrame:
    """The paper's Figure 16: ``trials`` leader crashes per timeout range, one row per trial.

    Columns: mode (``election_mode``), timeout_range, lo_ms, hi_ms, trial, seed (replay one trial with
    :func:`figure16_trial`), downtime_ms, censored (no leader within ``max_downtime_ms``), election_rounds,
    crash_offset_ms, old_leader, new_leader, lagging. ``setup_changes`` override :class:`Figure16Setup` fields, e.g.
    ``broadcast_ms=5`` or ``election_mode="paper"``. Trials run through :func:`~kafkalab.experiments.sweep`
    (``n_jobs`` worker processes; the same frame for any); ``progress``: a ``tqdm.auto`` bar (default: with workers).
    """
    _check_trials(trials)
    chosen = _ranges(ranges)
    base = setup or Figure16Setup()
    if setup_changes:
        base = Figure16Setup(**{**asdict(base), **setup_changes})
    frame = sweep(partial(_figure16_row, base=base, sweep_seed=seed), {"timeout_range": chosen}, range(trials),
                  n_jobs=n_jobs, label=False, progress=n_jobs != 1 if progress is None else progress)
    order = ["mode", "timeout_range", "lo_ms", "hi_ms", "trial", "seed", "downtime_ms", "censored", "election_rounds",
             "crash_offset_ms", "old_leader", "new_leader", "lagging"]
    return frame[order]


def figure16_modes(trials: int = 1000, seed: int = 0, ranges: Iterable[str] | None = None, *,
                   modes: Sequence[str] = MODES, setup: Figure16Setup | None = None, n_jobs: int = 1,
                   progress: bool | None = None, **setup_changes: Any) -> pd.DataFrame:
    """:func:`figure16` once per ``election_mode`` (the paper's Raft, then KRaft), concatenated.

    Both modes run the same trial seeds, so trial ``i`` of a range has the same crash moment and the same lagging
    followers in every mode: the lines differ only by what a candidate does after a round without a winner.
    """
    if isinstance(modes, str) or not modes:
        raise ValueError(f"modes must be a non-empty sequence of election modes from {MODES}, got {modes!r}")
    frames = [figure16(trials, seed, ranges, setup=setup, n_jobs=n_jobs, progress=progress, **{**setup_changes, "election_mode": mode})
              for mode in modes]
    return pd.concat(frames, ignore_index=True)


def _modes_of(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``mode`` column (a result saved before the modes existed is KRaft's)."""
    return frame if "mode" in frame.columns else frame.assign(mode="kraft")


def figure16_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per mode and range: trials, censored, mean/median/p99/max downtime (censored trials count at the cap), mean
    rounds."""
    grouped = _modes_of(frame).groupby(["mode", "timeout_range"], sort=False)
    out = pd.DataFrame({
        "trials": grouped.size(),
        "censored": grouped["censored"].sum().astype(int),
        "mean_ms": grouped["downtime_ms"].mean(),
        "median_ms": grouped["downtime_ms"].median(),
        "p99_ms": grouped["downtime_ms"].quantile(0.99),
        "max_ms": grouped["downtime_ms"].max(),
        "mean_rounds": grouped["election_rounds"].mean(),
    })
    return out.reset_index()


def paper_figure16(path: Path | None = None) -> pd.DataFrame:
    """The paper's published numbers (``data/raft_figure16_paper.csv``): timeout_range, statistic, value, unit, quote."""
    return pd.read_csv(path or DATA_DIR / "raft_figure16_paper.csv")


def compare_with_paper(frame: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each downtime number the paper states, beside the same statistic of ``frame`` (a :func:`figure16` result).

    Columns: timeout_range, statistic, paper, kafkalab, trials; with a ``mode`` column first when ``frame`` holds more
    than one mode (:func:`figure16_modes`). For the paper's "consistently longer than 10 s" (150-150) the kafkalab
    value is the share of trials (in %) that reached the bound or were censored.
    """
    paper = paper_figure16() if paper is None else paper
    frame = _modes_of(frame)
    modes = list(dict.fromkeys(frame["mode"]))
    rows = []
    for mode in modes:
        of_mode = frame[frame["mode"] == mode]
        for rec in paper.to_dict("records"):
            timeout_range, stat, published = str(rec["timeout_range"]), str(rec["statistic"]), float(rec["value"])
            ours = of_mode[of_mode["timeout_range"] == timeout_range]
            if stat in ("trials", "recommended") or ours.empty:
                continue
            downtime = ours["downtime_ms"]
            if stat == "downtime_lower_bound_ms":
                value = 100.0 * float(((downtime >= published) | ours["censored"]).mean())
                statistic, paper_value = f"% of trials >= {published:g} ms", 100.0
            else:
                how = {"median_downtime_ms": "median", "mean_downtime_ms": "mean", "max_downtime_ms": "max"}
                value = float(getattr(downtime, how[stat])())
                statistic, paper_value = stat, published
            rows.append({"mode": mode, "timeout_range": timeout_range, "statistic": statistic, "paper": paper_value,
                         "kafkalab": value, "trials": len(ours)})
    columns = ["timeout_range", "statistic", "paper", "kafkalab", "trials"]
    table = pd.DataFrame(rows, columns=["mode", *columns])
    return table if len(modes) > 1 else table[columns]


def compare_modes_with_paper(frame: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`compare_with_paper` with one column per mode: timeout_range, statistic, published (the paper's
    number), then ``<mode> mode`` for each mode of ``frame`` (in its order), and trials (per mode, the smallest)."""
    frame = _modes_of(frame)
    long = compare_with_paper(frame, paper)
    if "mode" not in long.columns:
        long = long.assign(mode=frame["mode"].iloc[0])
    keys = ["timeout_range", "statistic", "paper"]
    wide = long.pivot_table(index=keys, columns="mode", values="kafkalab", sort=False)
    order = [m for m in dict.fromkeys(frame["mode"]) if m in wide.columns]
    wide = wide[order]
    wide.columns = [f"{m} mode" for m in order]
    trials = long.groupby(keys, sort=False)["trials"].min()
    return wide.join(trials).reset_index().rename(columns={"paper": "published"})


# ---------------------------------------------------------------------------------------------------------------
# Split votes against the closed form
# ---------------------------------------------------------------------------------------------------------------
def split_vote_trial(n: int, s: int, latency_fraction: float, seed: int, *, timeout_ms: float = 150.0,
                     range_ms: float = 150.0) -> dict[str, Any]:
    """One crash in the thesis' model: did the first round (epoch e+1) produce a leader?"""
    _check_cluster(n, s, latency_fraction)
    if s < n // 2 + 1:
        raise ValueError(f"s={s} alive of n={n} is no majority: no round can produce a leader")
    if s == n:
        raise ValueError(f"s={s} alive of n={n}: the crashed leader is one of the n, so s <= n - 1")
    # fsync takes no time here: a vote request leaves after the candidate's vote is flushed, and the model's latency is
    # the request's whole head start
    rc = _raft_cluster(n, seed, timeout_ms, timeout_ms + range_ms, 0.5, fsync_latency_ms=0.0)
    _staggered_start(rc, gap_ms=2.0)
    leader = _settle(rc, timeout_ms=100 * (timeout_ms + range_ms) + 10_000, quiet_ms=timeout_ms + range_ms)
    epoch0 = rc.epoch(leader)
    followers = [n_ for n_ in rc.nodes if n_ != leader]
    for node in followers[s:]:
        rc.crash(node)
    rc.run(2.0)
    _sync_heartbeat(rc, leader, (), timeout_ms=timeout_ms + range_ms)
    _set_latency(rc, latency_fraction * range_ms, 0.0)
    rc.crash(leader)
    elected = rc.run_until(partial(_elected_after, rc, epoch0), 20 * (timeout_ms + range_ms))
    first = _new_leader(rc, epoch0) if elected else None
    epoch = rc.epoch(first) if first is not None else None
    return {"n": n, "s": s, "l": latency_fraction, "seed": seed, "leader_epoch_delta": None if epoch is None
            else epoch - epoch0, "split": epoch is None or epoch > epoch0 + 1}


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _split_trial(n: int, s: int, lat: float, seed: int, *, sweep_seed: int, timeout_ms: float,
                 range_ms: float) -> dict[str, Any]:
    trial_seed = derive_seed(sweep_seed, f"split/{n}/{s}/{lat}/{seed}")
    return {"split": bool(split_vote_trial(n, s, lat, trial_seed, timeout_ms=timeout_ms, range_ms=range_ms)["split"])}


def split_vote_rate(clusters: Sequence[tuple[int, int]] = ((3, 2), (5, 4), (5, 3), (7, 6)),
                    latencies: Sequence[float] = (0.01, 0.05, 0.1, 0.2), trials: int = 200, seed: int = 0, *,
                    timeout_ms: float = 150.0, range_ms: float = 150.0, n_jobs: int = 1,
                    progress: bool | None = None) -> pd.DataFrame:
    """Measured split-vote probability per (n, s, l) beside the thesis' formula and the exact model.

    Columns: n, s, l, latency_ms, trials, splits, measured, ci_low, ci_high (95% Wilson), formula, exact_model
    (the model integrated numerically; it equals the formula).
    """
    _check_trials(trials)
    cells: list[dict[str, Any]] = [{"n": n, "s": s, "lat": lat} for n, s in clusters for lat in latencies]
    trial_rows = sweep(partial(_split_trial, sweep_seed=seed, timeout_ms=timeout_ms, range_ms=range_ms), cells,
                       range(trials), n_jobs=n_jobs, progress=n_jobs != 1 if progress is None else progress) if cells else None
    rows = []
    for i, cell in enumerate(cells):                 # the sweep's rows come cell by cell, trials in order
        n, s, lat = cell["n"], cell["s"], cell["lat"]
        assert trial_rows is not None
        splits = int(trial_rows["split"].iloc[i * trials:(i + 1) * trials].sum())
        low, high = _wilson(splits, trials)
        rows.append({"n": n, "s": s, "l": lat, "latency_ms": lat * range_ms, "trials": trials, "splits": splits,
                     "measured": splits / trials, "ci_low": low, "ci_high": high,
                     "formula": split_vote_probability(n, s, lat),
                     "exact_model": split_vote_probability_exact(n, s, lat)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# What a Kafka operator sees, and pre-vote
# ---------------------------------------------------------------------------------------------------------------
_CAMPAIGNING = ("candidate", "prospective")


def _kraft_default_trial(seed: int, *, sweep_seed: int, voters: int, max_downtime_ms: float) -> dict[str, Any]:
    """Trial number ``seed`` of :func:`kraft_default_election` (its own seed derived from the sweep's)."""
    trial = seed
    trial_seed = derive_seed(sweep_seed, f"kraft-default/{trial}")
    rng = np.random.default_rng(derive_seed(trial_seed, "crash-time"))
    rc = traced(RaftCluster(voters=voters, seed=trial_seed))
    rc.run_until(partial(_has_leader, rc), 60_000)
    rc.run(1_000.0 + float(rng.uniform(0.0, 2_000.0)))
    leader = rc.leader()
    if leader is None:
        raise RuntimeError(f"no stable leader before the crash (seed={trial_seed})")
    epoch0 = rc.epoch(leader)
    crash_at = float(rc.now)
    rc.crash(leader)
    alive = [n for n in rc.nodes if n != leader]
    rc.run_until(partial(_campaigning, rc, alive), max_downtime_ms)
    detect = float(rc.now) - crash_at
    elected = rc.run_until(partial(_elected_after, rc, epoch0),
                           max(0.0, crash_at + max_downtime_ms - float(rc.now)))
    new_leader = _new_leader(rc, epoch0) if elected else None
    return {"trial": trial, "seed": trial_seed, "detect_ms": detect,
            "downtime_ms": float(rc.now) - crash_at,
            "election_rounds": None if new_leader is None else rc.epoch(new_leader) - epoch0,
            "censored": not elected}


def kraft_default_election(trials: int = 100, seed: int = 0, *, voters: int = 5,
                           max_downtime_ms: float = 60_000.0, n_jobs: int = 1,
                           progress: bool | None = None) -> pd.DataFrame:
    """Leader crashes under KRaft's defaults (fetch timeout 2000, election timeout 1000, pre-vote and check-quorum on).

    The crash lands at a uniformly random moment of a quiet quorum. Columns: trial, seed, detect_ms (crash until some
    node starts campaigning), downtime_ms (crash until a new leader), election_rounds (epochs it took), censored.
    Trials run through :func:`~kafkalab.experiments.sweep`.
    """
    _check_trials(trials)
    return sweep(partial(_kraft_default_trial, sweep_seed=seed, voters=voters, max_downtime_ms=max_downtime_ms),
                 None, range(trials), n_jobs=n_jobs, label=False, progress=n_jobs != 1 if progress is None else progress)


def prevote_runs(seed: int = 0, *, isolation_ms: float = 10_000.0, after_ms: float = 5_000.0,
                 voters: int = 5) -> list[tuple[dict[str, Any], RaftCluster]]:
    """The runs behind :func:`prevote_demo`: ``(row, cluster)`` for pre-vote off, then on (plot the clusters)."""
    runs = []
    for pre_vote in (False, True):
        rc = traced(RaftCluster(voters=voters, seed=seed, pre_vote=pre_vote, check_quorum=True))
        rc.run_until(partial(_has_leader, rc), 60_000)
        rc.run(1_000.0)
        leader = rc.leader()
        if leader is None:
            raise RuntimeError(f"no stable leader before the isolation (seed={seed})")
        epoch_before = rc.epoch(leader)
        isolated = next(n for n in rc.nodes if n != leader)
        isolated_at = float(rc.now)
        rc.isolate(isolated)
        steps = 10
        for i in range(steps):
            rc.propose(f"while-isolated-{i}".encode())
            rc.run(isolation_ms / steps)
        isolated_epoch = rc.epoch(isolated)
        healed_at = float(rc.now)
        rc.heal()
        rc.run(after_ms)
        leader_after = rc.leader()
        epoch_after = rc.epoch(leader_after) if leader_after is not None else max(rc.epoch(n) for n in rc.nodes)
        row = {"pre_vote": pre_vote, "seed": seed, "leader_before": leader, "epoch_before": epoch_before,
               "isolated": isolated, "isolated_epoch_at_heal": isolated_epoch,
               "leader_after": leader_after, "epoch_after": epoch_after,
               "leader_changed": leader_after != leader, "disrupted": epoch_after != epoch_before,
               "isolated_at_ms": isolated_at, "healed_at_ms": healed_at}
        runs.append((row, rc))
    return runs


def prevote_demo(seed: int = 0, *, isolation_ms: float = 10_000.0, after_ms: float = 5_000.0,
                 voters: int = 5) -> pd.DataFrame:
    """A follower is cut off for ``isolation_ms`` while the leader keeps committing, then rejoins; pre-vote off and on.

    One row per setting: pre_vote, seed, leader_before, epoch_before, isolated, isolated_epoch_at_heal, leader_after,
    epoch_after, leader_changed, disrupted (the quorum's epoch moved because of the rejoining node), isolated_at_ms,
    healed_at_ms. Check quorum is on in both (Kafka's default).
    """
    return pd.DataFrame([row for row, _ in prevote_runs(seed, isolation_ms=isolation_ms, after_ms=after_ms,
                                                        voters=voters)])


def quorum_story(rc: RaftCluster, *, settle_ms: float = 3_000.0) -> Iterator[dict[str, Any]]:
    """Drive ``rc`` (a 5-voter RaftCluster) through a crash, a restart, an isolated voter and a 2|3 partition that
    strands the leader in the minority; yield one dict per step (time_ms, step, leader, epoch) for a live timeline.
    """
    def state(step: str) -> dict[str, Any]:
        leader = rc.leader()
        return {"time_ms": float(rc.now), "step": step, "leader": leader,
                "epoch": None if leader is None else rc.epoch(leader)}

    def wait_for_leader(excluding: int | None = None, timeout_ms: float = 30_000.0) -> int:
        rc.run_until(lambda: rc.leader() is not None and rc.leader() != excluding, timeout_ms)
        leader = rc.leader()
        if leader is None:
            raise RuntimeError(f"no leader within {timeout_ms} ms (seed={rc.seed}, t={rc.now} ms)")
        return leader

    wait_for_leader()
    yield state("first leader elected")
    rc.run(settle_ms)
    old = wait_for_leader()
    rc.crash(old)
    yield state(f"crash leader {old}")
    wait_for_leader(excluding=old)
    yield state("new leader elected")
    rc.run(settle_ms)
    rc.restart(old)
    yield state(f"restart {old}")
    rc.run(settle_ms)
    leader = wait_for_leader()
    loner = next(n for n in rc.nodes if n != leader)
    rc.isolate(loner)
    yield state(f"isolate {loner}")
    rc.run(2 * settle_ms)
    rc.heal()
    yield state(f"heal: {loner} returns")
    rc.run(settle_ms)
    leader = wait_for_leader()
    others = [n for n in rc.nodes if n != leader]
    minority = [leader, others[0]]
    majority = others[1:]
    rc.partition(minority, majority)
    yield state(f"partition {minority} | {majority}")
    wait_for_leader(excluding=leader)
    yield state("majority side elects a leader")
    rc.run(2 * settle_ms)
    rc.heal()
    yield state("heal")
    rc.run(settle_ms)
    yield state("end")


# ---------------------------------------------------------------------------------------------------------------
# Full-size results for data/ (make experiments)
# ---------------------------------------------------------------------------------------------------------------
#: What the election experiments run on: a result from modified copies of these is flagged in its provenance.
_INPUTS = ("kafkalab/sim", "kafkalab/log", "kafkalab/raft", "kafkalab/experiments", "kafkalab/config.py")


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``data/raft_figure16.parquet`` (+ ``.json`` provenance) at full size, 1000 trials per range and mode, and
    the split-vote table ``data/raft_split_votes.parquet`` (+ ``.json``), 2000 crashes per cell (``--split-trials 0``
    skips).

    ``python -m kafkalab.experiments.elections [--trials N] [--seed S] [--modes paper,kraft] [--split-trials N]
    [--out DIR]``
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kafkalab.experiments.elections", description=main.__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default=",".join(MODES), help="election modes, comma-separated (paper, kraft)")
    parser.add_argument("--split-trials", type=int, default=2000, help="crashes per split-vote cell (0: skip)")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (kafkalab.experiments.sweep)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    setup = Figure16Setup()
    frame = figure16_modes(trials=args.trials, seed=args.seed, modes=modes, setup=setup, n_jobs=args.jobs,
                           progress=True)
    summary = figure16_summary(frame)
    provenance = {
        "what": "Raft paper Figure 16 redrawn on kafkalab's KRaft quorum: downtime after a leader crash per timeout "
                "range, for the paper's Raft (election_mode=paper) and KRaft (election_mode=kraft)",
        "produced_by": "kafkalab.experiments.elections.figure16_modes",
        "command": f"python -m kafkalab.experiments.elections --trials {args.trials} --seed {args.seed} "
                   f"--modes {','.join(modes)}",
        "code_version": code_version(_INPUTS),
        "seed": args.seed,
        "trials_per_range": args.trials,
        "modes": modes,
        "ranges": list(FIGURE16_RANGES),
        "setup": asdict(setup),
        "timing": "fetch_timeout_ms=LO, fetch_timeout_jitter_ms=HI-LO, election_timeout_ms=LO, election_jitter_ms=HI-LO, "
                  "fetch_max_wait_ms=LO/2, pre_vote=False, check_quorum=False; election_mode per row (mode column): "
                  "paper = a candidate without a win waits a fresh election timeout, kraft = random backoff "
                  "min(100 ms * random(2^retries), election_backoff_max_ms)",
        "summary": json.loads(summary.to_json(orient="records")),
        "paper": "data/raft_figure16_paper.csv",
    }
    result_path = write_result(frame, args.out, "raft_figure16", provenance)
    print(summary.to_string(index=False))
    print(f"wrote {result_path} and {result_path.with_suffix('.json')}", file=sys.stderr)
    if args.split_trials:
        split = split_vote_rate(trials=args.split_trials, seed=args.seed, n_jobs=args.jobs, progress=True)
        split_provenance = {
            "what": "first-round split votes after a leader crash, measured on kafkalab's KRaft quorum, beside "
                    "Ongaro's closed form (thesis ch. 9) and the same model integrated numerically",
            "produced_by": "kafkalab.experiments.elections.split_vote_rate",
            "command": f"python -m kafkalab.experiments.elections --split-trials {args.split_trials} "
                       f"--seed {args.seed}",
            "code_version": code_version(_INPUTS),
            "seed": args.seed,
            "trials_per_cell": args.split_trials,
            "timing": "timeouts 150-300 ms (fetch and election), fixed one-way latency l x 150 ms, no jitter, fsync 0, "
                      "equal logs, pre_vote=False, election_mode=kraft (only the first round counts)",
        }
        split_path = write_result(split, args.out, "raft_split_votes", split_provenance)
        print(split.round(4).to_string(index=False))
        print(f"wrote {split_path} and {split_path.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

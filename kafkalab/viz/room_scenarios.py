"""Named scenarios for the control room's buttons: each starts now and runs its later steps on kernel timers.

How it works. A scenario is one room action (``scenario``, target = its name). Its first step happens at once; later
steps are kernel timers (named ``room:scenario:...``), and waits ("until every partition is back in full ISR") are
checks every ``_POLL_MS`` of virtual time, so a replay that applies the same action at the same time runs the same
steps at the same times. Faults applied from those timers are simulation events (the cluster's lenient meaning, as a
Nemesis schedule's), and each step leaves a note in the room's log.

- ``leader_failover``: crash the leader of partition 0 of the room's topic; restart it 20 s later. The controller
  fences the broker after ``broker.session.timeout.ms`` (9 s) and elects a new leader from the ISR; after the restart
  the broker catches up and rejoins the ISR.
- ``rolling_restart``: restart the brokers one at a time, each once every partition of the room's topic is back to
  its full ISR (as an operator's rolling restart waits for under-replicated partitions to reach 0).
- ``scale_out``: two more consumers join the room's first group, 3 s apart: two rebalances.
- ``network_partition``: the leader of partition 0 keeps the controllers but loses the other brokers for 45 s. Its
  followers stop fetching, the ISR shrinks to the leader after ``replica.lag.time.max.ms`` (30 s) and, with
  ``min.insync.replicas=2``, ``acks=all`` writes to that partition stall and then fail with NOT_ENOUGH_REPLICAS; the
  other brokers, cut from the controllers, are fenced and their partitions move. Then the network heals.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

__all__ = ["SCENARIOS", "start_scenario"]

_POLL_MS = 500.0
_FAILOVER_RESTART_MS = 20_000.0
_PARTITION_MS = 45_000.0
_SCALE_OUT_GAP_MS = 3_000.0

#: name -> what it does, in one line (the buttons' tooltips).
SCENARIOS: dict[str, str] = {
    "leader_failover": "crash the leader of partition 0; restart it 20 s later",
    "rolling_restart": "restart every broker in turn, each once the ISR is full again",
    "scale_out": "two more consumers join the first group, 3 s apart",
    "network_partition": "cut the leader of partition 0 from the other brokers for 45 s, then heal",
}


def start_scenario(model: Any, name: Any) -> None:
    """Start scenario ``name`` on the room ``model`` now (ValueError naming the scenarios for an unknown name)."""
    if name not in SCENARIOS:
        close = difflib.get_close_matches(str(name), list(SCENARIOS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}{hint}")
    {"leader_failover": _leader_failover, "rolling_restart": _rolling_restart, "scale_out": _scale_out,
     "network_partition": _network_partition}[name](model)


def _later(model: Any, delay_ms: float, what: str, fn: Callable[[], None]) -> None:
    model.cluster.kernel.schedule(delay_ms, fn, name=f"room:scenario:{what}")


def _leader_of_p0(model: Any, scenario: str) -> int:
    topic = model._need_topic(scenario)
    leader = model.cluster.leader_for(topic, 0)
    if leader is None:
        raise ValueError(f"{scenario}: partition 0 of {topic!r} has no leader right now; heal or restart first")
    return int(leader)


def _leader_failover(model: Any) -> None:
    cluster = model.cluster
    victim = _leader_of_p0(model, "leader_failover")
    cluster.crash(victim)
    model.note(f"leader_failover: crashed broker {victim}, the leader of partition 0")

    def restart() -> None:
        if not cluster.is_alive(victim):
            cluster.restart(victim)
            model.note(f"leader_failover: restarted broker {victim}")
    _later(model, _FAILOVER_RESTART_MS, "failover-restart", restart)


def _full_isr(model: Any) -> bool:
    image = model.cluster.image()
    topic = image.topics.get(model.topic)
    return topic is not None and all(reg.leader >= 0 and len(reg.isr) == len(reg.replicas)
                                     for reg in topic.partitions.values())


def _rolling_restart(model: Any) -> None:
    cluster = model.cluster
    model._need_topic("rolling_restart")
    todo = list(cluster.brokers)

    def next_broker() -> None:
        if not todo:
            model.note("rolling_restart: done")
            return
        if not _full_isr(model):
            _later(model, _POLL_MS, "rolling-wait", next_broker)
            return
        broker = todo.pop(0)
        if cluster.is_alive(broker):
            cluster.crash(broker)
        cluster.restart(broker)
        model.note(f"rolling_restart: restarted broker {broker}")
        _later(model, _POLL_MS, "rolling-wait", next_broker)
    next_broker()


def _scale_out(model: Any) -> None:
    if not model.groups:
        raise ValueError("scale_out needs a consumer group in the room: add a consumer first")
    group = next(iter(model.groups.values()))

    def add() -> None:
        member = group.add()
        model.note(f"scale_out: {member} joined group {group.group!r}")
    add()
    _later(model, _SCALE_OUT_GAP_MS, "scale-out", add)


def _network_partition(model: Any) -> None:
    cluster = model.cluster
    leader = _leader_of_p0(model, "network_partition")
    others = [b for b in cluster.brokers if b != leader]
    side = [leader, *cluster.controllers]
    cluster.partition(side, others)
    model.note(f"network_partition: {side} | {others}")

    def heal() -> None:
        cluster.heal()
        model.note("network_partition: healed")
    _later(model, _PARTITION_MS, "heal", heal)

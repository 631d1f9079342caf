"""Consumer applications that run inside the simulation, and a recorder of who owned which partition when.

How it works. Many consumers of one group must consume at the same time in virtual time, so an experiment cannot call
``consumer.poll()`` on each in turn from outside the simulation (``poll`` drives the whole world). A
:class:`ConsumerApp` is the application's poll loop instead: a timer on the consumer's own node (it dies with the
process) that does what one iteration of a Java poll loop does:

1. ``group.on_app_poll(now)``: the group client's work that runs in the application's thread in Kafka (rebalance
   listener callbacks, the join, auto-commit every ``auto.commit.interval.ms``, the ``max.poll.interval.ms`` clock);
2. ``core.collect(max.poll.records)``: the buffered records, positions advance;
3. "process" them: each record costs ``process_ms`` of the application's time, and the next poll comes that much
   later; with nothing to process the loop polls again after ``idle_poll_ms`` (a ``poll(timeout)`` that returns
   empty; a real one returns as soon as data arrives, so this adds up to ``idle_poll_ms`` of latency).

The app can *stall* (stop polling, a stuck handler or a long GC of the application thread only: heartbeats go on,
as Kafka's heartbeat thread does) and *stop gracefully* (commit the positions, ``close`` the group client: revoke,
LeaveGroup unless static, then the process exits), both from inside the simulation.

:class:`GroupRecorder` is the listener of every app: it stamps each ``on_partitions_assigned/revoked/lost``, crash,
restart and stall with the virtual time, and each processed record (partition, offset) with who processed it. From
those it derives, over a window: the time each partition had no *consuming* owner (an owner that is alive and
polling), the group-wide stop-the-world time (no partition of the group consumed at all), partitions moved (a
partition assigned to a consumer other than its last owner), and records processed more than once (uncommitted
progress replayed by the next owner or by a restarted one). Consumers are identified by node id, so a restarted
consumer that gets its partitions back did not move them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kafkalab.common.topic_partition import TopicPartition

__all__ = ["ConsumerApp", "GroupRecorder", "OwnershipMetrics", "EVENT_COLUMNS"]

#: Columns of :meth:`GroupRecorder.events_frame`.
EVENT_COLUMNS = ("time_ms", "consumer", "event", "partitions")


@dataclass(frozen=True, slots=True)
class OwnershipMetrics:
    """What :meth:`GroupRecorder.metrics` derives for one window (times in ms)."""

    no_owner_ms_mean: float        # per partition: time without a consuming owner, mean over the partitions
    no_owner_ms_max: float         # ... and the worst partition
    stop_the_world_ms: float       # time during which no partition of the group was consumed
    partitions_moved: int          # assignments to a consumer other than the partition's previous owner
    settle_ms: float               # window start -> the last ownership change in the window (0 if none)
    ownership_changes: int         # assigned/revoked/lost callbacks and crashes in the window


class GroupRecorder:
    """Ownership and processing log of one consumer group, shared by its :class:`ConsumerApp` s.

    ``partitions``: every partition of the subscribed topic(s), the set whose ownership is judged.
    """

    def __init__(self, kernel: Any, partitions: Iterable[TopicPartition]) -> None:
        self.kernel = kernel
        self.partitions: list[TopicPartition] = sorted(partitions)
        self.events: list[tuple[float, str, str, tuple[TopicPartition, ...]]] = []
        self.owned: dict[str, set[TopicPartition]] = {}
        self._owners: dict[TopicPartition, int] = {}                  # partition -> how many consumers own it
        self._judged = set(self.partitions)
        self._covered = 0                                             # judged partitions with an owner
        self.processed: dict[TopicPartition, dict[int, int]] = {}   # partition -> offset -> times processed
        self.processed_count = 0
        self.max_processed: dict[TopicPartition, int] = {}

    def add_partitions(self, partitions: Iterable[TopicPartition]) -> None:
        self.partitions = sorted(set(self.partitions) | set(partitions))
        self._judged = set(self.partitions)
        self._covered = sum(1 for tp in self.partitions if self._owners.get(tp))

    # -- what happens ------------------------------------------------------------------------------------------------
    def _event(self, consumer: str, event: str, partitions: Iterable[TopicPartition] = ()) -> None:
        self.events.append((float(self.kernel.now), consumer, event, tuple(sorted(partitions))))

    def _take(self, consumer: str, partitions: Iterable[TopicPartition]) -> None:
        mine = self.owned.setdefault(consumer, set())
        for tp in partitions:
            if tp not in mine:
                mine.add(tp)
                n = self._owners[tp] = self._owners.get(tp, 0) + 1
                if n == 1 and tp in self._judged:
                    self._covered += 1

    def _drop(self, consumer: str, partitions: Iterable[TopicPartition]) -> None:
        mine = self.owned.setdefault(consumer, set())
        for tp in partitions:
            if tp in mine:
                mine.discard(tp)
                n = self._owners[tp] = self._owners[tp] - 1
                if n == 0 and tp in self._judged:
                    self._covered -= 1

    def assigned(self, consumer: str, partitions: list[TopicPartition]) -> None:
        self._take(consumer, partitions)
        self._event(consumer, "assigned", partitions)

    def revoked(self, consumer: str, partitions: list[TopicPartition]) -> None:
        self._drop(consumer, partitions)
        self._event(consumer, "revoked", partitions)

    def lost(self, consumer: str, partitions: list[TopicPartition]) -> None:
        self._drop(consumer, partitions)
        self._event(consumer, "lost", partitions)

    def crashed(self, consumer: str) -> None:
        """The consumer's process died: whatever it owned is no longer consumed (no callback runs)."""
        gone = sorted(self.owned.get(consumer, ()))
        self._drop(consumer, gone)
        self._event(consumer, "crashed", gone)

    def started(self, consumer: str) -> None:
        self._event(consumer, "started")

    def stalled(self, consumer: str, on: bool) -> None:
        self._event(consumer, "stalled" if on else "resumed")

    def process(self, consumer: str, records: list[Any]) -> None:
        processed = self.processed
        for record in records:
            tp = TopicPartition(record[0], record[1])
            seen = processed.get(tp)
            if seen is None:
                seen = processed[tp] = {}
            offset = record[2]
            seen[offset] = seen.get(offset, 0) + 1
            if offset > self.max_processed.get(tp, -1):
                self.max_processed[tp] = offset
        self.processed_count += len(records)

    # -- what it means -----------------------------------------------------------------------------------------------
    def duplicates(self) -> int:
        """Records processed more than once (each extra processing counts)."""
        return sum(n - 1 for seen in self.processed.values() for n in seen.values() if n > 1)

    def unowned(self) -> list[TopicPartition]:
        """Partitions no consumer owns now (by the listener's account)."""
        owners = self._owners
        return [tp for tp in self.partitions if not owners.get(tp)]

    def all_owned(self) -> bool:
        """Whether every partition has an owner now (cheap: a predicate checked after every simulation event)."""
        return self._covered == len(self.partitions)

    def events_frame(self) -> pd.DataFrame:
        rows = [{"time_ms": t, "consumer": c, "event": e, "partitions": ",".join(f"{tp.topic}-{tp.partition}"
                                                                                   for tp in parts)}
                for t, c, e, parts in self.events]
        return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))

    def metrics(self, start_ms: float, end_ms: float) -> OwnershipMetrics:
        """Replay the events and measure over ``[start_ms, end_ms]``.

        A partition is *consumed* while some consumer that is alive and not stalled owns it (by the listener's
        account). Assignments up to ``start_ms`` set the previous owners; moves count after it."""
        owned: dict[str, set[TopicPartition]] = {}
        active: dict[str, bool] = {}
        count = {tp: 0 for tp in self.partitions}
        gap = {tp: 0.0 for tp in self.partitions}
        last_owner: dict[TopicPartition, str] = {}
        stw = 0.0
        moved = 0
        changes = 0
        last_change = start_ms
        clock = start_ms

        def advance(to_ms: float) -> None:
            nonlocal clock, stw
            to_ms = min(to_ms, end_ms)
            if to_ms <= clock:
                return
            dt = to_ms - clock
            idle = 0
            for tp, n in count.items():
                if n == 0:
                    gap[tp] += dt
                    idle += 1
            if idle == len(count) and count:
                stw += dt
            clock = to_ms

        def change(consumer: str, parts: Iterable[TopicPartition], delta: int) -> None:
            if not active.get(consumer, False):
                return
            for tp in parts:
                if tp in count:
                    count[tp] += delta

        for t, consumer, event, parts in self.events:
            advance(max(t, start_ms))
            mine = owned.setdefault(consumer, set())
            in_window = start_ms <= t <= end_ms
            if event == "started":
                active[consumer] = True
                mine.clear()
            elif event == "assigned":
                new = [tp for tp in parts if tp not in mine]
                mine.update(new)
                change(consumer, new, +1)
                for tp in parts:
                    # strictly after the start: an assignment landing at the very instant the window opens (the
                    # one that settled the group) is still the group's starting point
                    if start_ms < t <= end_ms and last_owner.get(tp, consumer) != consumer:
                        moved += 1
                    last_owner[tp] = consumer
            elif event in ("revoked", "lost"):
                gone = [tp for tp in parts if tp in mine]
                mine.difference_update(gone)
                change(consumer, gone, -1)
            elif event == "crashed":
                change(consumer, list(mine), -1)
                mine.clear()
                active[consumer] = False
            elif event == "stalled":
                change(consumer, list(mine), -1)
                active[consumer] = False
            elif event == "resumed":
                active[consumer] = True
                change(consumer, list(mine), +1)
            if in_window and event in ("assigned", "revoked", "lost", "crashed") and parts:
                changes += 1
                last_change = t
        advance(end_ms)
        values = list(gap.values()) or [0.0]
        return OwnershipMetrics(sum(values) / len(values), max(values), stw, moved, last_change - start_ms, changes)


class ConsumerApp:
    """The poll loop of one :class:`~kafkalab.clients.consumer.KafkaConsumer` inside the simulation.

    Subscribe the consumer with :meth:`subscribe` (it wires the recorder as the rebalance listener), then
    :meth:`start`; after a ``cluster.restart(node)`` call :meth:`start` again for the new incarnation.
    """

    def __init__(self, consumer: Any, recorder: GroupRecorder, *, process_ms: float = 1.0,
                 idle_poll_ms: float = 20.0) -> None:
        self.consumer = consumer
        self.name = str(consumer.node_id)
        self.recorder = recorder
        self.process_ms = float(process_ms)
        self.idle_poll_ms = float(idle_poll_ms)
        self.stalled = False
        self.stopping = False
        self.polls = 0
        self._core: Any = None

    def subscribe(self, topics: list[str]) -> None:
        name, rec = self.name, self.recorder
        self.consumer.subscribe(topics, on_assign=lambda _c, parts: rec.assigned(name, parts),
                                on_revoke=lambda _c, parts: rec.revoked(name, parts),
                                on_lost=lambda _c, parts: rec.lost(name, parts))

    def start(self) -> None:
        """Start polling in the consumer's current incarnation."""
        core = self.consumer.core
        self._core = core
        self.stalled = False
        self.stopping = False
        self.recorder.started(self.name)
        core.port.set_timer(0.0, self._tick, name="app-poll")

    def _tick(self) -> None:
        core = self._core
        if core is not self.consumer.core or not core.port.alive or core.closed or self.stopping:
            return
        if self.stalled:
            return          # resume() schedules the next poll
        group = self.consumer.group
        now = core.port.now
        if group is not None and not group.closed:
            group.on_app_poll(now)
        self.polls += 1
        records = core.collect(core.max_poll_records)
        if records:
            self.recorder.process(self.name, records)
            delay = max(len(records) * self.process_ms, 0.001)
        else:
            delay = self.idle_poll_ms
        core.port.set_timer(delay, self._tick, name="app-poll")

    # -- faults of the application -----------------------------------------------------------------------------------
    def stall(self) -> None:
        """Stop polling (a stuck record handler): heartbeats go on, ``max.poll.interval.ms`` runs."""
        if not self.stalled:
            self.stalled = True
            self.recorder.stalled(self.name, True)

    def resume(self) -> None:
        if self.stalled:
            self.stalled = False
            self.recorder.stalled(self.name, False)
            if self._core is not None and self._core.port.alive:
                self._core.port.set_timer(0.0, self._tick, name="app-poll")

    def stop_gracefully(self, then: Any = None) -> None:
        """What ``consumer.close()`` does, without blocking: commit the positions (with auto-commit), then close the
        group client (revoke, LeaveGroup unless static, KIP-345), then ``then()`` (e.g. exit the process)."""
        self.stopping = True
        group = self.consumer.group

        def close(_error: Any = None) -> None:
            if group is not None and not group.closed and self._core is not None and self._core.port.alive:
                group.close(self._core.port.now)
            if then is not None:
                then()

        if group is not None and not group.closed and group.auto_commit and group.current_positions():
            group.commit(None, close, deadline_ms=self._core.port.now + 5_000.0)
        else:
            close()

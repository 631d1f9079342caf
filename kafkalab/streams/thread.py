"""A stream thread inside a simulated instance (Kafka's ``StreamThread``, ``TaskManager``, ``StandbyTask`` and
``StoreChangelogReader``).

How it works. Each thread owns three clients on its instance's node: the *main consumer* (a classic member of the
group ``application.id`` whose assignor is :class:`~kafkalab.streams.assignor.StreamsAssignor`), the *restore
consumer* (no group; assigned changelog partitions by hand) and a *producer* for sinks, repartition topics and
changelogs. Its loop (``runOnce``) is a timer on the node: poll the group client (rebalance callbacks run here), hand
fetched records to their tasks, restore and update standbys from the restore consumer (``max.poll.records`` a loop,
each costing ``restore_cost_ms``), process records task by task (each record costs ``process_cost_ms`` of the
thread's time), fire wall-clock punctuators, and commit every
``commit.interval.ms`` through the commit path (:mod:`kafkalab.streams.collector`): caches flushed, producer flushed,
offsets committed; the thread does not process while it commits, as Kafka's commit blocks the thread.

Tasks. An assigned stateful task first *restores*: its stores start from the instance's local state (the state
directory: the last checkpoint, or a standby's copy) and replay their changelog from that offset up to the
changelog's end; only then does it process (Kafka's RESTORING -> RUNNING). A standby task applies its changelog
continuously, so a standby promoted to active restores only the tail. At an (eager) rebalance every active task is
suspended; tasks assigned again resume where they were (their consumer positions are moved back to what they
processed), the others are closed dirty (caches dropped; local state kept in the state directory with the offset
of its last acknowledged changelog write: replaying a changelog from there is idempotent, values not deltas).
A checkpoint (snapshot + changelog offset per store) is written to the state directory at every commit, so a
restarted instance restores only the tail.

Simplification: the state directory is the instance's durable state held by the app (it survives crashes; a power
loss does not lose it); a thread error (a send that failed for good) kills the thread and is reported in
``app.state()``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.clients.classic_member import ClassicMembership
from kafkalab.clients.fetcher import ConsumerCore
from kafkalab.clients.producer import producer_config
from kafkalab.clients.sender import ProducerCore
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.streams.assignor import AssignmentInfo, StreamsAssignor, SubscriptionInfo
from kafkalab.streams.collector import AtLeastOnceCommit, ProducerCollector
from kafkalab.streams.config import EXACTLY_ONCE_V2
from kafkalab.streams.eos import ExactlyOnceV2Commit
from kafkalab.streams.state import KeyValueStore, ThreadCache
from kafkalab.streams.task import StreamTask, TaskId
from kafkalab.streams.window_state import make_store

__all__ = ["StreamThread", "StandbyTask", "Restoration"]

_IDLE_POLL_MS = 5.0
_COMMIT_POLL_MS = 1.0
_MAX_PER_TICK = 200


class Restoration:
    """One changelog partition being replayed into a store (of an active or a standby task)."""

    __slots__ = ("store", "tp", "position", "records")

    def __init__(self, store: KeyValueStore, tp: TopicPartition, start: int) -> None:
        self.store, self.tp, self.position, self.records = store, tp, start, 0


class StandbyTask:
    """A warm copy of a stateful task's stores, kept up to date from the changelog (Kafka's ``StandbyTask``)."""

    def __init__(self, tid: TaskId, stores: dict[str, KeyValueStore], offsets: dict[str, int]) -> None:
        self.id = tid
        self.stores = stores
        self.offsets = offsets


class StreamThread:
    """One stream thread of an instance; ``ports`` are its three clients' sub-ports (main, restore, producer)."""

    def __init__(self, instance: Any, index: int, ports: tuple[Any, Any, Any]) -> None:
        self.instance = instance
        app = instance.app
        self.app = app
        self.name = f"{instance.instance_id}-StreamThread-{index}"
        self.index = index
        cfg = app.config
        self.commit_interval_ms = float(cfg.commit_interval_ms)
        self.process_cost_ms = app.process_cost_ms
        world = app.world
        bootstrap = app.bootstrap
        self.main = ConsumerCore(ports[0], cfg.main_consumer(f"{self.name}-consumer"), bootstrap=bootstrap,
                                 drive=world.run_until, history=None)
        self.main.metadata.allow_auto_topic_creation = False
        self.restore = ConsumerCore(ports[1], cfg.restore_consumer(f"{self.name}-restore-consumer"),
                                    bootstrap=bootstrap, drive=world.run_until, history=None)
        pcfg, idempotent = producer_config(cfg.producer(f"{self.name}-producer",
                                                        transactional_id=f"{app.application_id}-"
                                                        f"{instance.instance_id}-{index}"))
        self.producer = ProducerCore(ports[2], pcfg, idempotent, bootstrap=bootstrap, drive=world.run_until,
                                     history=None)
        self.collector = ProducerCollector(self.producer)
        self.eos = cfg["processing.guarantee"] == EXACTLY_ONCE_V2
        self.commit_path: Any = AtLeastOnceCommit()
        if self.eos:
            eos_path = ExactlyOnceV2Commit(self.producer, ports[2])
            self.collector.before_send = eos_path.before_send
            self.commit_path = eos_path
        self.cache = ThreadCache(int(cfg["statestore.cache.max.bytes"]) // int(cfg["num.stream.threads"]))
        self.assignor = StreamsAssignor(app.topology, app.application_id, int(cfg["num.standby.replicas"]),
                                        self._subscription_info, acceptable_lag=int(cfg["acceptable.recovery.lag"]),
                                        max_warmups=int(cfg["max.warmup.replicas"]))
        self.probing_interval_ms = float(cfg["probing.rebalance.interval.ms"])
        self._probe_due: float | None = None
        self.group = ClassicMembership(self.main, assignor_lookup=lambda _name: self.assignor)
        self.main.group = self.group
        self.tasks: dict[TaskId, StreamTask] = {}
        self.restoring: dict[TaskId, list[Restoration]] = {}
        self.standbys: dict[TaskId, StandbyTask] = {}
        self.standby_restore: dict[TaskId, list[Restoration]] = {}
        self.suspended: dict[TaskId, StreamTask] = {}
        self.partitions_of: dict[TaskId, tuple[TopicPartition, ...]] = {}
        self.owner_of: dict[TopicPartition, StreamTask] = {}
        self.port = ports[0]
        self.last_commit_ms = self.port.now
        self.committing: dict[TopicPartition, int] | None = None
        self.commit_started_ms = 0.0
        self.state = "STARTING"
        self.error: BaseException | None = None
        self.processed = 0
        self.commits = 0
        self.group.subscribe(app.source_topics, self)
        self.port.set_timer(0.0, self._tick, name="stream-thread")

    # -- the group's listener ----------------------------------------------------------------------------------------
    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        """Eager rebalance: suspend every active task (its queued records are dropped; positions move back on
        resume)."""
        self.state = "PARTITIONS_REVOKED"
        if self.eos:
            self.commit_path.abort_open("tasks revoked by a rebalance")
            self._close_all_dirty()
            return
        for tid, task in sorted(self.tasks.items()):
            for q in task.queues.values():
                q.clear()
            self.suspended[tid] = task
        self.tasks = {}
        self.owner_of = {}

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None:
        self.on_partitions_revoked(partitions)

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        self.state = "PARTITIONS_ASSIGNED"
        info = self.group.assignment_user_data
        if not isinstance(info, AssignmentInfo):
            info = AssignmentInfo((), (), ())
        parts = dict(info.partitions_by_task)
        for tid in sorted(self.suspended):
            if tid not in info.active:
                self._close_active(self.suspended.pop(tid))
        for tid in sorted(self.standbys):
            if tid not in info.standby and tid not in info.active:
                self._save_standby(self.standbys.pop(tid))
                self.standby_restore.pop(tid, None)
        for tid in info.active:
            self.partitions_of[tid] = parts.get(tid, ())
            task = self.suspended.pop(tid, None)
            if task is not None:
                self.tasks[tid] = task
                for tp, offset in task.consumed.items():
                    if tp in self.main.assignment:
                        self.main.seek(tp, offset)
            else:
                self.tasks[tid] = self._create_active(tid)
        for tid in info.standby:
            if tid not in self.standbys:
                self._create_standby(tid)
        self.owner_of = {tp: task for task in self.tasks.values() for tp in task.queues}
        self._assign_restore_consumer()
        self.state = "RUNNING"
        if info.probing_rebalance:          # KIP-441: come back once the warm-ups had time to catch up
            due = self.port.now + self.probing_interval_ms
            self._probe_due = due
            self.port.record("streams.probing_rebalance_scheduled", 1, thread=self.name)
            self.port.set_timer(self.probing_interval_ms, lambda: self._probe(due), name="probing-rebalance")
        else:
            self._probe_due = None

    def _probe(self, due: float) -> None:
        if self._probe_due == due and self.port.alive and self.state not in ("DEAD", "PENDING_SHUTDOWN"):
            self._probe_due = None
            self.group.rejoin_needed = True

    # -- tasks -------------------------------------------------------------------------------------------------------
    def _sub(self, tid: TaskId) -> Any:
        sid, p = tid.split("_")
        return self.app.topology.subtopology(int(sid)), int(p)

    def _local_state(self, tid: TaskId) -> tuple[dict[str, dict[Any, Any]], dict[str, int]]:
        """(store snapshots, changelog offsets) the instance has for ``tid``: a standby here, else the state dir."""
        standby = self.standbys.pop(tid, None) or self.instance.take_standby(tid)
        if standby is not None:
            self.standby_restore.pop(tid, None)
            return {s: st.snapshot() for s, st in standby.stores.items()}, dict(standby.offsets)
        saved = self.app.state_dir(self.instance.instance_id).get(tid)
        if saved is None:
            return {}, {}
        return {s: dict(d) for s, (d, _o) in saved.items()}, {s: o for s, (_d, o) in saved.items()}

    def _create_active(self, tid: TaskId) -> StreamTask:
        sub, p = self._sub(tid)
        snapshots, offsets = self._local_state(tid)
        task = StreamTask(self.app.topology, sub, p, application_id=self.app.application_id,
                          collector=self.collector, key_serde=self.app.key_serde, value_serde=self.app.value_serde,
                          clock=lambda: self.port.now, cache=self.cache, restored=snapshots,
                          config=self.app.config, global_stores=self.instance.global_stores)
        rest = []
        for s, store in task.stores.items():
            if self.app.topology.stores[s].logged:
                tp = TopicPartition(task.changelog_topic(s), p)
                rest.append(Restoration(store, tp, offsets.get(s, 0)))
        if rest:
            self.restoring[tid] = rest
            self.app.record_restore(tid, self, "start", sum(1 for _ in rest))
        return task

    def _create_standby(self, tid: TaskId) -> None:
        sub, p = self._sub(tid)
        snapshots, offsets = self._local_state(tid)
        stores = {}
        rest = []
        for s in sub.stores:
            d = self.app.topology.stores[s]
            if not d.logged:
                continue
            ks = d.key_serde or self.app.key_serde
            vs = d.value_serde or self.app.value_serde
            assert ks is not None and vs is not None
            store = make_store(d, ks, vs, default_value_serde=self.app.value_serde)
            store.load(snapshots.get(s, {}))
            stores[s] = store
            rest.append(Restoration(store, TopicPartition(f"{self.app.application_id}-{s}-changelog", p),
                                    offsets.get(s, 0)))
        self.standbys[tid] = StandbyTask(tid, stores, {s: offsets.get(s, 0) for s in stores})
        self.standby_restore[tid] = rest

    def _close_all_dirty(self) -> None:
        """EOS: every active task closed dirty; its in-memory state is thrown away (the state directory keeps the
        checkpoint of the last commit, which is where it restores from)."""
        for tid in sorted(set(self.tasks) | set(self.suspended)):
            task = self.tasks.pop(tid, None) or self.suspended.pop(tid)
            task.close(clean=False)
            self.restoring.pop(tid, None)
        self.owner_of = {}
        self.committing = None

    def _task_migrated(self) -> None:
        """EOS: the transaction failed and was aborted: re-initialize every task and rejoin the group (Kafka's
        ``TaskMigratedException`` handling)."""
        reason = self.commit_path.migrated
        self.commit_path.migrated = None
        self.port.record("streams.task_migrated", 1, thread=self.name, reason=str(reason))
        self._close_all_dirty()
        self.collector.error = None
        if reason in ("ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID"):
            self.group.on_commit_fenced(str(reason))
        self.group.rejoin_needed = True
        self.state = "PARTITIONS_REVOKED"

    def _close_active(self, task: StreamTask) -> None:
        task.close(clean=False)
        self.restoring.pop(task.id, None)
        if self.eos:
            return          # uncommitted writes may be in the stores: keep the last commit's checkpoint
        saved = {}
        for s, store in task.stores.items():
            if self.app.topology.stores[s].logged:
                tp = TopicPartition(task.changelog_topic(s), task.partition)
                acked = self.collector.acked_offsets.get(tp)
                saved[s] = (store.snapshot(), 0 if acked is None else acked + 1)
        if saved:
            self.app.state_dir(self.instance.instance_id)[task.id] = saved

    def _save_standby(self, standby: StandbyTask) -> None:
        self.app.state_dir(self.instance.instance_id)[standby.id] = {
            s: (st.snapshot(), standby.offsets.get(s, 0)) for s, st in standby.stores.items()}

    def _assign_restore_consumer(self) -> None:
        wanted: dict[TopicPartition, int] = {}
        for rests in list(self.restoring.values()) + list(self.standby_restore.values()):
            for r in rests:
                wanted[r.tp] = r.position
        current = self.restore.assignment
        self.restore.set_assignment(sorted(wanted))
        for tp, offset in wanted.items():
            state = current.get(tp)
            if state is None or state.position != offset:
                self.restore.seek(tp, offset)

    # -- the loop ----------------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        port = self.port
        if not port.alive or self.state in ("DEAD", "PENDING_SHUTDOWN"):
            return
        try:
            delay = self._run_once(port.now)
        except Exception as exc:        # a thread that fails dies, as Kafka's StreamThread does
            self.error = exc
            self.state = "DEAD"
            port.record("streams.thread_died", 1, thread=self.name, error=type(exc).__name__)
            return
        port.set_timer(delay, self._tick, name="stream-thread")

    def _run_once(self, now: float) -> float:
        if not self.group.closed:
            self.group.on_app_poll(now)
        if self.collector.error is not None:
            if not self.eos:
                raise self.collector.error
            if not self.commit_path.busy():
                self.commit_path.fail(self.collector.error)
        for r in self.main.collect(self.main.max_poll_records):
            task = self.owner_of.get(TopicPartition(r.topic, r.partition))
            if task is not None:
                task.add_records([(r.topic, r.partition, r.offset, r.timestamp_ms, r.key, r.value, r.headers)])
        restored = self._restore_step()
        self.collector.retry_queued()
        if self.committing is not None:
            if self.commit_path.ready(self.collector):
                offsets, self.committing = self.committing, None
                self._send_commit(offsets, now)
            if not self.eos or not self.commit_path.busy():
                return _COMMIT_POLL_MS
        if self.eos:
            self.commit_path.poll()
            if self.commit_path.migrated is not None and self.commit_path.phase not in ("abort-flush", "abort-end"):
                self._task_migrated()
            if not self.commit_path.ready_to_process():
                return _COMMIT_POLL_MS
        if not self.instance.global_ready():
            return _IDLE_POLL_MS            # the global stores are still bootstrapping
        processed = 0
        running = [t for tid, t in sorted(self.tasks.items()) if tid not in self.restoring]
        for task in running:
            n = 0
            while n < _MAX_PER_TICK and task.ready_to_process(now, self._lag) and task.process_one():
                n += 1
            processed += n
        for task in running:
            task.punctuate_wall_clock()
            if task.dropped_records > task.dropped_reported:
                self.port.record("streams.dropped_records", task.dropped_records - task.dropped_reported,
                                 task=task.id, thread=self.name)
                task.dropped_reported = task.dropped_records
        self.processed += processed
        if processed:
            self.port.record("streams.processed", processed, thread=self.name)
        if (now - self.last_commit_ms >= self.commit_interval_ms or any(t.commit_requested for t in running)) \
                and self.state == "RUNNING" and self.tasks:
            self._start_commit(now)
            return _COMMIT_POLL_MS
        busy = processed * self.process_cost_ms + restored * self.app.restore_cost_ms
        return busy if busy > 0 else _IDLE_POLL_MS

    def _restore_step(self) -> int:
        """Apply up to ``max.poll.records`` changelog records; how many were applied."""
        records = self.restore.collect(self.restore.max_poll_records)
        if records:
            index: dict[TopicPartition, Restoration] = {
                r.tp: r for rests in list(self.restoring.values()) + list(self.standby_restore.values())
                for r in rests}
            for rec in records:
                target = index.get(TopicPartition(rec.topic, rec.partition))
                if target is not None:
                    target.store.restore(rec.key, rec.value)
                    target.records += 1
                    target.position = rec.offset + 1
        for tid, standby in self.standbys.items():
            for r in self.standby_restore.get(tid, ()):
                standby.offsets[r.store.name] = r.position
        done = []
        for tid, rests in self.restoring.items():
            if all(self._caught_up(r) for r in rests):
                done.append(tid)
        for tid in done:
            rests = self.restoring.pop(tid)
            self.app.record_restore(tid, self, "end", sum(r.records for r in rests))
        if done:
            self._assign_restore_consumer()
        return len(records)

    def _lag(self, tp: TopicPartition) -> int:
        """The main consumer's lag of an input partition as last fetched (-1: not known yet), against the end its
        isolation level reads to: the last stable offset under ``read_committed`` (exactly_once_v2), else the high
        watermark (Kafka's ``consumer.currentLag``: ``SubscriptionState.partitionLag``). Records of an open
        transaction are not lag a read_committed consumer could fetch."""
        state = self.main.assignment.get(tp)
        if state is None or state.position is None:
            return -1
        end = state.last_stable_offset if self.main.isolation_level == 1 else state.high_watermark
        if end < 0:
            return -1
        return max(0, end - state.position)

    def _caught_up(self, r: Restoration) -> bool:
        state = self.restore.assignment.get(r.tp)
        if state is None or state.high_watermark < 0 or state.position is None:
            return False
        end = self.app.last_stable_offset(r.tp) if self.eos else state.high_watermark
        return state.position >= end

    # -- commit --------------------------------------------------------------------------------------------------------
    def _start_commit(self, now: float) -> None:
        offsets: dict[TopicPartition, int] = {}
        for tid, task in sorted(self.tasks.items()):
            if tid not in self.restoring:
                offsets.update(task.prepare_commit())
        self.committing = offsets
        self.commit_started_ms = now
        self.commit_path.start_commit(self.collector)

    def _send_commit(self, offsets: dict[TopicPartition, int], now: float) -> None:
        tasks = dict(self.tasks)

        def done(error: Any) -> None:
            self.last_commit_ms = self.port.now
            if error is None:
                self.commits += 1
                self.port.record("streams.commit_latency_ms", self.port.now - self.commit_started_ms,
                                 thread=self.name)
                self._checkpoint(tasks)
            else:
                self.port.record("streams.commit_failed", 1, thread=self.name,
                                 error=getattr(error, "error_name", type(error).__name__))
        if not offsets:
            done(None)
            return
        self.last_commit_ms = now
        self.commit_path.commit(self.group, offsets, now + 60_000.0, done)

    def _checkpoint(self, tasks: dict[TaskId, StreamTask]) -> None:
        state_dir = self.app.state_dir(self.instance.instance_id)
        for tid, task in tasks.items():
            if tid in self.restoring:
                continue
            saved = {}
            for s, store in task.stores.items():
                if self.app.topology.stores[s].logged:
                    acked = self.collector.acked_offsets.get(TopicPartition(task.changelog_topic(s), task.partition))
                    saved[s] = (store.snapshot(), 0 if acked is None else acked + 1)
            if saved:
                state_dir[tid] = saved
        for standby in self.standbys.values():
            self._save_standby(standby)

    # -- what the assignor needs ---------------------------------------------------------------------------------------
    def _subscription_info(self) -> SubscriptionInfo:
        lags: dict[TaskId, int] = {}
        state_dir = self.app.state_dir(self.instance.instance_id)
        for tid in sorted(state_dir):
            lags[tid] = self.app.changelog_lag(tid, {s: o for s, (_d, o) in state_dir[tid].items()})
        for tid, standby in self.standbys.items():
            lags[tid] = self.app.changelog_lag(tid, standby.offsets)
        for tid in list(self.tasks) + list(self.suspended):
            lags[tid] = 0
        prev_active = tuple(sorted(set(self.tasks) | set(self.suspended)))
        return SubscriptionInfo(str(self.instance.instance_id), self.name, prev_active,
                                tuple(sorted(self.standbys)), tuple(sorted(lags.items())))

    def stop(self) -> None:
        self.state = "PENDING_SHUTDOWN"
        if not self.group.closed and self.port.alive:
            self.group.close(self.port.now)

    def on_message_cores(self) -> list[Callable[[Any, Any], None]]:
        return [self.main.on_message, self.restore.on_message, self.producer.on_message]

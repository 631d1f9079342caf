"""The global stream thread of an instance (Kafka's ``GlobalStreamThread``, ``GlobalStateManagerImpl`` and
``GlobalStateUpdateTask``).

How it works. An instance whose topology has global stores (``builder.global_table``) runs one more client on its
node: a consumer with no group, assigned *every* partition of every global topic from the beginning. It feeds the
records to one :class:`~kafkalab.streams.task.StreamTask` per global partition whose only store is the instance's
shared copy of the global store, so the global table's processor (a table source) keeps it up to date. The thread is
*ready* once it has read each partition up to its end (its high watermark, or the last stable offset under
exactly-once) after starting: until then the instance's stream threads do not process, as Kafka starts its stream
threads only after the global stores are bootstrapped. After that it keeps consuming, so every instance sees every
update of a global table, late or not.

Simplification: no global checkpoint; a restarted instance reads its global topics from the beginning (Kafka keeps a
checkpoint file of global offsets on disk).
"""
from __future__ import annotations

from typing import Any

from kafkalab.clients.fetcher import ConsumerCore
from kafkalab.common.topic_partition import TopicPartition
from kafkalab.streams.task import StreamTask, global_stores

__all__ = ["GlobalStreamThread"]

_IDLE_POLL_MS = 5.0


class _NoOutput:
    """Global tasks write nothing (their store has no changelog and their processor no children)."""

    def partitions_for(self, topic: str) -> int | None:
        return None

    def send(self, *args: Any) -> None:
        raise AssertionError("a global task tried to produce a record")


class GlobalStreamThread:
    """One instance's global thread: ``stores`` are the instance's copies of the global stores."""

    def __init__(self, instance: Any, port: Any) -> None:
        app = instance.app
        self.app = app
        self.port = port
        self.name = f"{instance.instance_id}-GlobalStreamThread"
        topology = app.topology
        self.stores = global_stores(topology, app.key_serde, app.value_serde)
        self.consumer = ConsumerCore(port, app.config.restore_consumer(f"{self.name}-global-consumer"),
                                     bootstrap=app.bootstrap, drive=app.world.run_until, history=None)
        self.tasks: dict[TopicPartition, StreamTask] = {}
        for g in topology.global_groups():
            for topic in g.source_topics:
                for p in range(app.counts[topic]):
                    task = StreamTask(topology, g, p, application_id=app.application_id, collector=_NoOutput(),
                                      key_serde=app.key_serde, value_serde=app.value_serde,
                                      clock=lambda: self.port.now, config=app.config, global_stores=self.stores)
                    self.tasks[TopicPartition(topic, p)] = task
        tps = sorted(self.tasks)
        self.consumer.set_assignment(tps)
        for tp in tps:
            self.consumer.seek(tp, 0)
        self.ready = not tps
        self.processed = 0
        port.set_timer(0.0, self._tick, name="global-stream-thread")

    def _caught_up(self) -> bool:
        for tp in self.tasks:
            state = self.consumer.assignment.get(tp)
            if state is None or state.high_watermark < 0 or state.position is None:
                return False
            end = self.app.last_stable_offset(tp) if self.app.config.eos else state.high_watermark
            if state.position < end:
                return False
        return True

    def _tick(self) -> None:
        if not self.port.alive:
            return
        records = self.consumer.collect(self.consumer.max_poll_records)
        for r in records:
            task = self.tasks.get(TopicPartition(r.topic, r.partition))
            if task is not None:
                task.add_records([(r.topic, r.partition, r.offset, r.timestamp_ms, r.key, r.value, r.headers)])
        n = 0
        for task in self.tasks.values():
            while task.process_one():
                n += 1
        self.processed += n
        if not self.ready and self._caught_up():
            self.ready = True
            self.port.record("streams.global_restored", self.processed, thread=self.name)
        busy = n * self.app.restore_cost_ms
        self.port.set_timer(busy if busy > 0 else _IDLE_POLL_MS, self._tick, name="global-stream-thread")

    def on_message_core(self) -> Any:
        return self.consumer.on_message

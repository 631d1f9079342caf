"""Exactly-once source tasks (KIP-618): Kafka's ``ExactlyOnceWorkerSourceTask``, its transaction boundaries and the
leader's zombie fencing (``DistributedHerder.fenceZombieSourceTasks``).

How it works. With ``exactly.once.source.support=enabled`` on the workers, every source task starts in Kafka's order:

1. *preflight fencing*: the task asks the leader (its own herder, or ``PUT /connectors/{name}/fence`` forwarded to
   it) to fence the connector's older task generations. The leader does so only when the connector is *pending
   fencing* (task configs committed after its last task count record): it fences the transactional ids of the last
   recorded task count with :class:`~kafkalab.connect.transactional.ProducerFencer` (unless both the old and the new
   generation have one task, whose new producer fences the old itself), then writes the task count record
   ``tasks-fencing-<name>`` and answers once it read the record back. Concurrent requests for one connector share
   one fencing;
2. ``initTransactions`` on the task's transactional producer (``<group.id>-<connector>-<task>``), which aborts
   whatever transaction a zombie with the same id left open;
3. the post-producer check: the connector has not generated newer task configs, and the task is still assigned
   here (Kafka's ``verifyTaskGenerationAndOwnership`` and its messages);
4. the offsets: the connector's offsets topic (``offsets.storage.topic`` or the worker's, created compacted if
   missing) read to its end with isolation level read_committed, so the task starts from the offsets of committed
   transactions only, falling back to the worker's global offsets topic for partitions the connector's has not;
5. ``SourceTask.initialize``/``start`` and the poll loop.

Records go to the transactional producer, a transaction opening with the first record after a commit. A record's
source offset is noted when it is *dispatched* (Kafka's ``OffsetStorageWriter.offset`` in ``recordDispatched``) and
the noted offsets are written to the offsets topic in the same transaction as the records, just before the commit,
so a transaction's records and their offsets become visible together or not at all. When to commit is the
``transaction.boundary``: ``poll`` after every batch ``poll()`` returned, ``interval`` after the first batch at
least ``transaction.boundary.interval.ms`` (default ``offset.flush.interval.ms``) after the last commit,
``connector`` when the task's :class:`~kafkalab.connect.api.TransactionContext` asks, after a batch or a given record;
an abort drops the records and still commits their offsets in a new transaction. The loop waits while a commit is
under way. A graceful stop or a pause commits a final transaction (``connector``: only when asked). A commit that
fails fails the task with Kafka's messages (a fenced zombie's commit fails with PRODUCER_FENCED or
INVALID_PRODUCER_EPOCH, and the task is FAILED).

Simplifications (named): the config topic is written without the leader's transactional producer (Kafka fences a
zombie *leader* from the config topic too); the post-producer check reads the config state the worker has (Kafka
reads the config topic to its end first); after start the task looks offsets up in what it read then plus its own
commits (Kafka's reader keeps consuming the topic); a commit waits for its records without ``max.block.ms``
(the coordinator aborts a transaction older than ``transaction.timeout.ms``, and the commit then fails); KIP-875's
offset changes for a source connector are not preceded by a fencing round.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from kafkalab.connect.api import (
    ConnectException,
    ConnectorTaskId,
    OffsetStorageReader,
    SourceRecord,
    TransactionContext,
)
from kafkalab.connect.stores import OffsetState, json_bytes, offset_key
from kafkalab.connect.transactional import FENCE_TIMEOUT_MS, TransactionalProducer, task_transactional_id
from kafkalab.connect.worker_task import WorkerSourceTask
from kafkalab.errors import KafkaError

__all__ = ["ExactlyOnceWorkerSourceTask", "fence_zombie_source_tasks", "BOUNDARIES", "transaction_timeout_message"]

#: ``transaction.boundary`` values (Kafka's ``SourceTask.TransactionBoundary``)
BOUNDARIES = ("poll", "interval", "connector")

Reply = Callable[[int, Any], None]


def transaction_timeout_message(task_id: ConnectorTaskId) -> str:
    """Kafka's text when a commit fails with INVALID_PRODUCER_EPOCH (the transaction outlived its timeout)."""
    return (f"The task {task_id} was unable to finish writing records to Kafka before its producer transaction "
            f"expired. It may be necessary to reconfigure this connector in order for it to run healthily with "
            f"exactly-once support. Options for this include: tune the connector's producer configuration for "
            f"higher throughput, increase the transaction timeout for the connector's producers, decrease the offset "
            f"commit interval (if using interval-based transaction boundaries), or use the 'poll' transaction "
            f"boundary (if the connector is not already configured to use it).")


def _prefixed(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}


class ExactlyOnceWorkerSourceTask(WorkerSourceTask):
    """A source task whose records and offsets are written in transactions (see the module header)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cc, w = self.connector_config, self.worker
        self.boundary = str(cc.get("transaction.boundary") or "poll").strip().lower()
        interval = cc.get("transaction.boundary.interval.ms")
        self.interval_ms = float(interval) if interval not in (None, "") else \
            float(w.worker_config["offset.flush.interval.ms"])
        self.global_offsets_topic = str(w.worker_config["offset.storage.topic"])
        self.offsets_topic = str(cc.get("offsets.storage.topic") or "").strip() or self.global_offsets_topic
        self.transaction_context = TransactionContext() if self.boundary == "connector" else None
        self.transactional_id = task_transactional_id(str(w.worker_config["group.id"]), self.id.connector,
                                                      self.id.task)
        self.generation = w.config.task_generations.get(self.id.connector)
        self.producer: TransactionalProducer | None = None
        self.txn_open = False
        self.txn_size = 0
        self.noted_offsets: dict[str, tuple[Mapping[str, Any], Any]] = {}
        self.committable: list[tuple[SourceRecord, Any]] = []
        self.transactions_committed = 0
        self.transactions_aborted = 0
        self.read_offsets: OffsetState | None = None
        self._in_commit = False
        self._last_commit_ms = 0.0

    # -- start: fencing, initTransactions, the checks, the offsets -------------------------------------------------
    def _gone(self) -> bool:
        return self.stopped or self.stopping

    def start(self) -> None:
        self.worker.fence_zombies_for_task(self.id, self._after_fencing)

    def _after_fencing(self, error: str | None) -> None:
        if self._gone():
            return
        if error is not None:
            self.fail(ConnectException(f"Failed to perform round of zombie fencing: {error}"))
            return
        overrides = _prefixed(self.worker.worker_config, "producer.")
        overrides.update(_prefixed(self.connector_config, "producer.override."))
        try:
            self.producer = TransactionalProducer(self.worker.mux, f"txn-producer-{self.id}", self.worker.bootstrap,
                                                  self.transactional_id, overrides)
        except Exception as exc:  # noqa: BLE001 - a bad producer override fails the task with its message
            self.fail(exc)
            return
        self.producer.init(self._after_init)

    def _after_init(self, error: KafkaError | None) -> None:
        if self._gone():
            return
        if error is not None:
            self.fail(error)
            return
        if self.worker.config.task_generations.get(self.id.connector) != self.generation:
            self.fail(ConnectException(f"Cannot start source task {self.id} with exactly-once support as the "
                                       f"connector has already generated a new set of task configs"))
            return
        if self.id not in self.worker.assigned_tasks:
            self.fail(ConnectException(f"Cannot start source task {self.id} as it has already been revoked from "
                                       f"this worker"))
            return
        self.worker.read_offsets_topic(self.offsets_topic, f"offset-reader-{self.id}", self._after_offsets)

    def _after_offsets(self, state: OffsetState) -> None:
        if self._gone():
            return
        self.read_offsets = state
        self._last_commit_ms = self.worker.ctx.now
        self._start_task(OffsetStorageReader(self._lookup), self.transaction_context)

    def _lookup(self, partition: Mapping[str, Any]) -> Any:
        found = self.read_offsets.lookup(self.id.connector)(partition) if self.read_offsets is not None else None
        if found is None and self.offsets_topic != self.global_offsets_topic:
            found = self.worker.offsets.lookup(self.id.connector)(partition)
        return found

    # -- the loop's hooks -------------------------------------------------------------------------------------------
    def iterate(self) -> None:
        if self._in_commit:
            return                       # the commit's end resumes the loop
        super().iterate()

    def _poll_delay_ms(self) -> float:
        delay = super()._poll_delay_ms()
        if self.boundary == "interval" and (self.txn_open or self.noted_offsets):
            # Kafka's poll() returns within its own timeout and the loop checks the interval then; a simulated
            # task that sleeps longer still sees its transaction committed on time
            delay = min(delay, max(0.0, self._last_commit_ms + self.interval_ms - self.worker.ctx.now))
        return delay

    def _backlog(self) -> int:
        return self.producer.pending if self.producer is not None else 0

    def _dispatch(self, record: SourceRecord, transformed: SourceRecord, key: bytes | None, value: bytes | None,
                  headers: tuple[Any, ...]) -> bool:
        if transformed.topic == self.offsets_topic:
            self.fail(ConnectException("Source tasks may not produce to their own offsets topics when exactly-once "
                                       "support is enabled"))
            return False
        producer = self.producer
        assert producer is not None
        try:
            if not self.txn_open:
                producer.begin()
                self.txn_open = True
            producer.send(transformed.topic, key, value, self._on_sent(record), headers=headers,
                          partition=transformed.kafka_partition, timestamp_ms=transformed.timestamp)
        except KafkaError as exc:
            self.fail(_wrapped(ConnectException(f"Unrecoverable exception trying to send: {exc}"), exc))
            return False
        if record.source_partition is not None and record.source_offset is not None:
            key_ = json.dumps(dict(record.source_partition), separators=(",", ":"), sort_keys=True)
            self.noted_offsets[key_] = (record.source_partition, record.source_offset)
        self.txn_size += 1
        return not self._boundary(self._decide_record, record)

    def _on_sent(self, record: SourceRecord) -> Callable[[Any, Any], None]:
        def done(metadata: Any, error: Any) -> None:
            if error is not None or self.stopped:
                return                   # Kafka: a failed send surfaces when the transaction commits
            self.records_acked += 1
            self.committable.append((record, metadata))
            self.worker.on_source_ack(self.id, record, metadata)
        return done

    def _record_dropped(self, record: SourceRecord) -> bool:
        self.committable.append((record, None))
        return not self._boundary(self._decide_record, record)

    def _batch_dispatched(self) -> bool:
        return self._boundary(self._decide_batch, None)

    # -- transaction boundaries (Kafka's TransactionBoundaryManager) --------------------------------------------------
    def _decide_record(self, record: SourceRecord | None) -> str | None:
        ctx = self.transaction_context
        if ctx is None or record is None:
            return None
        if ctx.should_abort_on(record):
            return "abort"
        return "commit" if ctx.should_commit_on(record) else None

    def _decide_batch(self, _record: SourceRecord | None) -> str | None:
        if self.boundary == "poll":
            return "commit"
        if self.boundary == "interval":
            now = self.worker.ctx.now
            if now >= self._last_commit_ms + self.interval_ms:
                self._last_commit_ms = now
                return "commit"
            return None
        ctx = self.transaction_context
        assert ctx is not None
        if ctx.should_abort_batch():
            return "abort"
        return "commit" if ctx.should_commit_batch() else None

    def _boundary(self, decide: Callable[[SourceRecord | None], str | None], record: SourceRecord | None) -> bool:
        """Decide and, when it says so, start a commit (or an abort and a commit); True when one started."""
        try:
            decision = decide(record)
        except ConnectException as exc:
            self.fail(exc)
            return True
        if decision is None:
            return False
        if not self.txn_open and not self.noted_offsets:
            self._commit_records()       # nothing to commit or abort: Kafka skips the producer, commits the task
            return False
        self._in_commit = True
        self._end_transaction(decision, self._resume)
        return True

    def _resume(self, ok: bool) -> None:
        self._in_commit = False
        if ok and not self._gone() and self.state == "RUNNING":
            self._schedule(0.0, self.iterate)

    # -- commit and abort -------------------------------------------------------------------------------------------
    def _end_transaction(self, decision: str, done: Callable[[bool], None]) -> None:
        if decision == "abort" and self.txn_open:
            producer = self.producer
            assert producer is not None

            def aborted(error: KafkaError | None) -> None:
                self.txn_open = False
                if error is not None:
                    self.fail(_wrapped(ConnectException(f"Failed to abort the transaction of task {self.id}: "
                                                        f"{error}"), error))
                    done(False)
                    return
                self.transactions_aborted += 1
                self.worker.record("connect.transaction", self.txn_size, connector=self.id.connector,
                                   task=self.id.task, outcome="abort")
                self.txn_size = 0
                self._commit_transaction(done)
            producer.abort(aborted)
            return
        self._commit_transaction(done)

    def _commit_transaction(self, done: Callable[[bool], None]) -> None:
        """Kafka's ``commitTransaction``: the noted offsets into the transaction, then commit it."""
        offsets, self.noted_offsets = self.noted_offsets, {}
        if not self.txn_open and not offsets:
            self._commit_records()
            done(True)
            return
        producer = self.producer
        assert producer is not None
        try:
            if not self.txn_open:
                producer.begin()
                self.txn_open = True
            for _key, (partition, offset) in sorted(offsets.items()):
                producer.send(self.offsets_topic, offset_key(self.id.connector, partition), json_bytes(offset),
                              _ignore)
        except KafkaError as exc:
            self.fail(_wrapped(ConnectException(f"Failed to flush offsets and/or records for task {self.id}: "
                                                f"{exc}"), exc))
            done(False)
            return
        producer.commit(lambda error: self._committed(error, offsets, done))

    def _committed(self, error: KafkaError | None, offsets: dict[str, tuple[Mapping[str, Any], Any]],
                   done: Callable[[bool], None]) -> None:
        self.txn_open = False
        if self.stopped:
            return
        if error is not None:
            self.offset_commit_failures += 1
            self.worker.record("connect.transaction_failed", 1, connector=self.id.connector, task=self.id.task,
                               error=error.error_name)
            if error.error_name == "INVALID_PRODUCER_EPOCH":
                exc = ConnectException(transaction_timeout_message(self.id))
            else:
                exc = ConnectException(f"Failed to flush offsets and/or records for task {self.id}: {error}")
            self.fail(_wrapped(exc, error))
            done(False)
            return
        self.transactions_committed += 1
        self.offset_commits += 1
        self.worker.record("connect.transaction", self.txn_size, connector=self.id.connector, task=self.id.task,
                           outcome="commit")
        self.txn_size = 0
        if self.read_offsets is not None:
            for partition, offset in offsets.values():
                self.read_offsets.apply(offset_key(self.id.connector, partition), json_bytes(offset))
        if self.offsets_topic != self.global_offsets_topic:
            # Kafka's ConnectorOffsetBackingStore writes the worker's global store second, outside the transaction
            for partition, offset in offsets.values():
                self.worker.write_offset(self.id.connector, partition, offset, _ignore_one)
        self._commit_records()
        done(True)

    def _commit_records(self) -> None:
        records, self.committable = self.committable, []
        for record, metadata in records:
            self._commit_record(record, metadata)
        self._task_commit()

    # -- pause, stop, failure ---------------------------------------------------------------------------------------
    def on_pause(self) -> None:
        super().on_pause()
        # Kafka commits at once so that a paused task leaves no hanging transaction behind
        if not self._in_commit and self.producer is not None and self.task is not None:
            self._final(lambda ok: None)

    def _final(self, done: Callable[[bool], None]) -> None:
        if self.boundary == "connector":
            self._boundary_final(done)
            return
        self._in_commit = True

        def end(ok: bool) -> None:
            self._in_commit = False
            done(ok)
        self._end_transaction("commit", end)

    def _boundary_final(self, done: Callable[[bool], None]) -> None:
        try:
            decision = self._decide_batch(None)
        except ConnectException as exc:
            self.fail(exc)
            done(False)
            return
        if decision is None:
            done(True)
            return
        self._in_commit = True

        def end(ok: bool) -> None:
            self._in_commit = False
            done(ok)
        self._end_transaction(decision, end)

    def stop(self, done: Callable[[], None]) -> None:
        """Graceful stop: the final transaction (poll/interval; connector only when asked), then close."""
        if self.stopped:
            done()
            return
        self.stopping = True
        self._cancel()

        def finish() -> None:
            self._close_quietly()
            self._close_producer()
            self.stopped = True
            done()
        if self.task is None or self.producer is None or self.state == "FAILED":
            finish()
            return

        def when_idle() -> None:
            if self.stopped:
                done()
                return
            if self._in_commit:
                self.worker.ctx.set_timer(10.0, when_idle, name=f"task-stop-{self.id}")
                return
            self._final(lambda ok: finish())
        when_idle()

    def fail(self, exc: BaseException) -> None:
        super().fail(exc)
        self._close_producer()

    def _close_producer(self) -> None:
        if self.producer is not None and not self.producer.closed:
            self.producer.close()


def _ignore(metadata: Any, error: Any) -> None:
    """Offset records of a transaction: their failure fails the commit."""


def _ignore_one(error: Any) -> None:
    """The secondary (worker-global) offset write is best effort, as Kafka's."""


def _wrapped(exc: ConnectException, cause: BaseException) -> ConnectException:
    exc.__cause__ = cause
    return exc


# -- the leader's side ------------------------------------------------------------------------------------------------
def fence_zombie_source_tasks(worker: Any, name: str, reply: Reply) -> None:
    """``DistributedHerder.doFenceZombieSourceTasks`` on the leader; ``reply(status, body)``: 204 when the
    connector's older task generations are fenced and its task count record is read back."""
    cfg = worker.config
    if name not in cfg.connectors:
        reply(404, {"error_code": 404, "message": f"Connector {name} not found"})
        return
    try:
        kind = worker.spec.plugins.connector_class(cfg.connectors[name].get("connector.class", "")).type
    except LookupError:
        kind = "unknown"
    if kind != "source":
        reply(400, {"error_code": 400, "message": f"Connector {name} is not a source connector"})
        return
    waiting = worker.fencings.get(name)
    if waiting is not None:
        waiting.append(reply)
        return
    if name not in cfg.pending_fencing:
        reply(204, None)        # the task count record is newer than the task configs: nothing to fence
        return
    worker.fencings[name] = [reply]
    task_count = cfg.task_counts.get(name, 0)
    record = cfg.task_count_records.get(name)
    generation = cfg.task_generations.get(name)

    def finish(status: int, body: Any) -> None:
        for r in worker.fencings.pop(name, []):
            r(status, body)

    def written(metadata: Any, error: Any) -> None:
        if error is not None:
            finish(500, {"error_code": 500, "message": f"Failed to write the task count record of connector "
                                                       f"{name}: {error}"})
        elif metadata is None:
            finish(204, None)
        else:
            worker.after_config(metadata.offset, lambda: finish(204, None))

    def write_record() -> None:
        worker.record("connect.task_count_record", task_count, connector=name)
        worker.write_config(f"tasks-fencing-{name}", {"task-count": task_count}, written)

    def fenced(error: str | None) -> None:
        if error is not None:
            finish(500, {"error_code": 500, "message": f"Failed to perform zombie fencing: {error}"})
        elif cfg.task_generations.get(name) != generation:
            finish(409, {"error_code": 409, "message": "Fencing failed because new task configurations were "
                                                       "generated for the connector"})
        else:
            write_record()
    if record is not None and (record != 1 or task_count != 1):
        group = str(worker.worker_config["group.id"])
        ids = [task_transactional_id(group, name, i) for i in range(record)]
        worker.record("connect.zombie_fencing", record, connector=name)
        worker.fencer().fence(ids, fenced, FENCE_TIMEOUT_MS)
    else:
        write_record()

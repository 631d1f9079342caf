"""Running tasks: Kafka's ``WorkerSourceTask``/``AbstractWorkerSourceTask``, ``SubmittedRecords``,
``OffsetStorageWriter`` and ``WorkerSinkTask``, as timer-driven loops on the worker's node.

How it works. A *source* task loops: ``poll()`` the connector's task; for each record apply the transformation
chain, convert key, value and headers, and hand the bytes to the worker's producer; then poll again at once, or
after :meth:`~kafkalab.connect.api.SourceTask.poll_delay_ms` when the poll was empty. Each record's source offset is
*submitted* (``SubmittedRecords``): per source partition, in order, and committable only once it and every earlier
record of that partition are acknowledged. Every ``offset.flush.interval.ms`` the committable offsets are written to
the offsets topic (``OffsetStorageWriter``: one write per source partition, waiting for outstanding records at most
``offset.flush.timeout.ms``), and ``SourceTask.commit()`` runs once they are acknowledged. A task that stops
cleanly (revoked, paused-and-deleted) commits once more; a *crashed* worker loses whatever was produced after the
last flush from its offsets, so the task's next owner re-reads from the committed offset and re-delivers those
records: at-least-once, counted by the tests and the notebook.

Exactly-once sources (KIP-618) subclass this loop (:mod:`kafkalab.connect.exactly_once`): its hooks
``_dispatch``, ``_record_dropped`` and ``_batch_dispatched`` write records and offsets in transactions instead.

A *sink* task owns a consumer in group ``connect-<connector>`` (Kafka's ``SinkUtils.consumerGroupId``), with the
worker's consumer settings (``enable.auto.commit=false``, ``auto.offset.reset=earliest``) and ``consumer.override.*``
from the connector. Its loop polls (group work, rebalance callbacks), converts and transforms each record
(KIP-298 tolerance; failures go to the dead-letter queue), ``put``s the batch, and every ``offset.flush.interval.ms``
calls ``pre_commit`` (which flushes by default) and commits the returned offsets asynchronously. On a rebalance it
does what ``WorkerSinkTask.HandleRebalance`` does: revoked partitions are flushed and committed, then ``close``d;
lost partitions are closed without a commit; assigned partitions are ``open``ed. A ``RetriableException`` from
``put`` retries the same batch after the context's timeout (default 300 ms); any other failure fails the task.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kafkalab.clients.classic_member import ClassicMembership
from kafkalab.clients.fetcher import ConsumerCore
from kafkalab.common.topic_partition import OffsetAndMetadata, TopicPartition
from kafkalab.config import resolve
from kafkalab.connect.api import (
    ConnectException,
    ConnectorTaskId,
    OffsetStorageReader,
    RetriableException,
    SinkRecord,
    SinkTask,
    SinkTaskContext,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from kafkalab.connect.converters import Converter, converter_for
from kafkalab.connect.error_handling import (
    TOLERANCE_EXCEEDED,
    ErrorRecord,
    ToleranceOperator,
    dlq_headers,
    stack_trace,
)
from kafkalab.connect.transforms import TransformChain, build_chain
from kafkalab.connect.worker_clients import no_drive

__all__ = ["WorkerTask", "WorkerSourceTask", "WorkerSinkTask", "SubmittedRecords", "trace_of"]


def trace_of(exc: BaseException) -> str:
    """A task's failure trace (Kafka shows the Java stack trace in the status)."""
    return stack_trace(exc)


def _prefixed(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}


def make_converters(connector_config: Mapping[str, Any], worker_config: Mapping[str, Any]
                    ) -> tuple[Converter, Converter, Converter]:
    """Key, value and header converters: the connector's own, else the worker's (Kafka's ``Worker.startTask``)."""
    out = []
    for which in ("key.converter", "value.converter", "header.converter"):
        if connector_config.get(which):
            name, props = connector_config[which], _prefixed(connector_config, which + ".")
        else:
            name, props = worker_config[which], _prefixed(worker_config, which + ".")
        out.append(converter_for(str(name), props, is_key=which == "key.converter"))
    return out[0], out[1], out[2]


class SubmittedRecords:
    """Kafka's ``SubmittedRecords``: offsets per source partition, committable once acknowledged in order."""

    def __init__(self) -> None:
        self._pending: dict[str, list[list[Any]]] = {}      # partition JSON -> [[offset, acked], ...]
        self._partitions: dict[str, Mapping[str, Any]] = {}
        self.outstanding = 0

    def submit(self, partition: Mapping[str, Any] | None, offset: Mapping[str, Any] | None) -> list[Any]:
        import json
        entry: list[Any] = [offset, False, None]
        self.outstanding += 1
        if partition is None or offset is None:
            return entry
        key = json.dumps(dict(partition), separators=(",", ":"), sort_keys=True)
        self._partitions[key] = dict(partition)
        self._pending.setdefault(key, []).append(entry)
        entry[2] = key
        return entry

    def ack(self, entry: list[Any]) -> None:
        if not entry[1]:
            entry[1] = True
            self.outstanding -= 1

    def committable(self) -> dict[str, tuple[Mapping[str, Any], Any]]:
        """The newest acknowledged-in-order offset per partition; removes what it returns."""
        out: dict[str, tuple[Mapping[str, Any], Any]] = {}
        for key in sorted(self._pending):
            queue = self._pending[key]
            n = 0
            while n < len(queue) and queue[n][1]:
                n += 1
            if n:
                out[key] = (self._partitions[key], queue[n - 1][0])
                del queue[:n]
        return out


class WorkerTask:
    """What every task runner has: identity, configs, status, converters, transforms and the error handler."""

    kind = "task"

    def __init__(self, worker: Any, task_id: ConnectorTaskId, connector_config: Mapping[str, Any],
                 task_config: Mapping[str, Any], task_class: type, target_state: str) -> None:
        self.worker = worker
        self.id = task_id
        self.connector_config = dict(connector_config)
        self.task_config = dict(task_config)
        self.task_class = task_class
        self.target_state = target_state
        self.state = "UNASSIGNED"
        self.trace: str | None = None
        self.stopping = False
        self.stopped = False
        #: the connector's task was stopped (Kafka's ``WorkerSinkTask.taskStopped``): rebalance callbacks skip it
        self.task_stopped = False
        self.task: Any = None
        self.chain: TransformChain = build_chain(self.connector_config)
        self.key_converter, self.value_converter, self.header_converter = make_converters(
            self.connector_config, worker.worker_config)
        self.errors = ToleranceOperator(self.connector_config, self._report_error)
        self.error_log: list[ErrorRecord] = []
        self._timer: Any = None

    # -- status ------------------------------------------------------------------------------------------------------
    def _status(self, state: str, trace: str | None = None) -> None:
        self.state = state
        self.trace = trace
        self.worker.task_status(self.id, state, trace)

    def fail(self, exc: BaseException) -> None:
        if self.stopped:
            return
        self.worker.record("connect.task_failed", 1, connector=self.id.connector, task=self.id.task,
                           error=type(exc).__name__)
        self._cancel()
        self._status("FAILED", trace_of(exc))
        self._close_quietly()
        self.stopped = True

    def _close_quietly(self) -> None:
        self.task_stopped = True
        try:
            if self.task is not None:
                self.task.stop()
        except Exception:  # noqa: BLE001 - a failing stop() must not hide the task's own failure
            pass

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, delay_ms: float, fn: Callable[[], None]) -> None:
        self._cancel()
        self._timer = self.worker.ctx.set_timer(max(0.0, delay_ms), self._fire, fn, name=f"task-{self.id}")

    def _fire(self, fn: Callable[[], None]) -> None:
        self._timer = None
        if not self.stopped:
            fn()

    def _report_error(self, error: ErrorRecord) -> None:
        self.error_log.append(error)
        if str(self.connector_config.get("errors.log.enable", "false")).lower() == "true":
            labels: dict[str, Any] = {"connector": self.id.connector, "task": self.id.task, "stage": error.stage,
                                      "class_name": error.class_name, "error": type(error.exception).__name__}
            if str(self.connector_config.get("errors.log.include.messages", "false")).lower() == "true":
                labels.update(topic=error.topic, partition=error.partition, offset=error.offset)
            self.worker.record("connect.error", 1, **labels)

    def transition(self, target: str) -> None:
        """The connector's target state changed (pause/resume)."""
        self.target_state = target
        if self.stopped or self.state == "FAILED":
            return
        if target == "PAUSED" and self.state == "RUNNING":
            self._status("PAUSED")
            self.on_pause()
        elif target == "STARTED" and self.state == "PAUSED":
            self._status("RUNNING")
            self.on_resume()

    def on_pause(self) -> None:
        self._cancel()

    def on_resume(self) -> None:
        self._schedule(0.0, self.iterate)

    def start(self) -> None:
        raise NotImplementedError

    def iterate(self) -> None:
        raise NotImplementedError

    def stop(self, done: Callable[[], None]) -> None:
        raise NotImplementedError


class WorkerSourceTask(WorkerTask):
    """A source task's loop, its producer sends and its offset commits (at-least-once)."""

    kind = "source"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted = SubmittedRecords()
        self.to_send: list[SourceRecord] = []
        self.records_polled = 0
        self.records_sent = 0
        self.records_acked = 0
        self.records_filtered = 0
        self.offset_commits = 0
        self.offset_commit_failures = 0
        self._flush_timer: Any = None
        self._committing = False
        self.topics: set[str] = set()

    def start(self) -> None:
        self._start_task(OffsetStorageReader(self.worker.offsets.lookup(self.id.connector)))
        interval = float(self.worker.worker_config["offset.flush.interval.ms"])
        self._flush_timer = self.worker.ctx.set_timer(interval, self._periodic_commit, name=f"offset-flush-{self.id}")

    def _start_task(self, reader: OffsetStorageReader, transaction_context: Any = None) -> bool:
        """Instantiate, initialize and start the connector's task, then run the loop; False when it failed."""
        try:
            task = self.task_class()
            if not isinstance(task, SourceTask):
                raise ConnectException(f"{self.task_class.__name__} is not a SourceTask")
            self.task = task
            task.initialize(SourceTaskContext(self.task_config, reader, lambda: self.worker.ctx.now,
                                              transaction_context))
            task.start(dict(self.task_config))
        except Exception as exc:  # noqa: BLE001 - a connector's start() failure fails the task (with its trace)
            self.fail(exc)
            return False
        if self.target_state == "PAUSED":
            self._status("PAUSED")
        else:
            self._status("RUNNING")
            self._schedule(0.0, self.iterate)
        return True

    def iterate(self) -> None:
        if self.stopped or self.stopping or self.state != "RUNNING":
            return
        if self._backlog():
            self._schedule(10.0, self.iterate)          # the producer waits for metadata or memory
            return
        if not self.to_send:
            try:
                polled = self.task.poll()
            except RetriableException:
                self._schedule(self.task.poll_delay_ms(), self.iterate)
                return
            except Exception as exc:  # noqa: BLE001 - poll() failures fail the task (not tolerated, as Kafka)
                self.fail(exc)
                return
            if not polled:
                if not self._batch_dispatched():
                    self._schedule(self._poll_delay_ms(), self.iterate)
                return
            self.records_polled += len(polled)
            self.to_send = list(polled)
        if not self._send():
            return
        if not self._batch_dispatched():
            self._schedule(0.0, self.iterate)

    def _poll_delay_ms(self) -> float:
        """When to poll again after an empty poll (the task's stand-in for its blocking poll)."""
        return float(self.task.poll_delay_ms())

    def _backlog(self) -> int:
        """Records the producer could not take yet (metadata, memory)."""
        return self.worker.task_producer.pending

    def _batch_dispatched(self) -> bool:
        """After a poll's batch went to the producer (or an empty poll): True when the hook took the loop over
        (exactly-once sources commit their transaction here)."""
        return False

    def _send(self) -> bool:
        """Convert and produce ``to_send``; False when the task failed or must wait for a retry."""
        now = self.worker.ctx.now
        while self.to_send:
            record = self.to_send[0]
            where = (record.topic, record.kafka_partition, None)
            out = self.errors.execute(now, "TRANSFORMATION", "TransformationChain",
                                      lambda r=record: self.chain.apply(r), where)  # type: ignore[misc]
            if not out.ok:
                if self._handle(out):
                    continue
                return False
            transformed = out.value
            if transformed is None:
                self.to_send.pop(0)
                self.records_filtered += 1
                if not self._record_dropped(record):
                    return False
                continue
            converted = self._convert(now, transformed)
            if converted is None:
                if self._last_outcome_retry:
                    return False
                if self.stopped:
                    return False
                self.to_send.pop(0)
                continue
            key, value, headers = converted
            self.to_send.pop(0)
            self.topics.add(transformed.topic)
            self.worker.note_topic(self.id, transformed.topic)
            self.records_sent += 1
            if not self._dispatch(record, transformed, key, value, headers):
                return False
        return True

    def _record_dropped(self, record: SourceRecord) -> bool:
        """A record the transformations filtered out: its offset is committable at once."""
        entry = self.submitted.submit(record.source_partition, record.source_offset)
        self.submitted.ack(entry)
        self._commit_record(record, None)
        return True

    def _dispatch(self, record: SourceRecord, transformed: SourceRecord, key: bytes | None, value: bytes | None,
                  headers: tuple[Any, ...]) -> bool:
        """Hand one converted record to the producer; False when the loop must stop here."""
        entry = self.submitted.submit(record.source_partition, record.source_offset)
        self.worker.task_producer.send(
            transformed.topic, key, value, self._on_ack(record, entry), headers=headers,
            partition=transformed.kafka_partition, timestamp_ms=transformed.timestamp)
        return True

    _last_outcome_retry = False

    def _handle(self, out: Any) -> bool:
        """A failed stage: True to go on with the next record (tolerated), False to stop here."""
        self._last_outcome_retry = False
        if out.retry_at_ms is not None:
            self._last_outcome_retry = True
            self._schedule(out.retry_at_ms - self.worker.ctx.now, self.iterate)
            return False
        if out.tolerated:
            self.to_send.pop(0)
            return True
        self.fail(ConnectException(f"{TOLERANCE_EXCEEDED}: {out.error}"))
        return False

    def _convert(self, now: float, r: Any) -> tuple[bytes | None, bytes | None, tuple[Any, ...]] | None:
        where = (r.topic, r.kafka_partition, None)
        self._last_outcome_retry = False
        k = self.errors.execute(now, "KEY_CONVERTER", type(self.key_converter).__name__,
                                lambda: self.key_converter.from_connect_data(r.topic, r.key_schema, r.key), where)
        if not k.ok:
            self._handle_conv(k)
            return None
        v = self.errors.execute(now, "VALUE_CONVERTER", type(self.value_converter).__name__,
                                lambda: self.value_converter.from_connect_data(r.topic, r.value_schema, r.value), where)
        if not v.ok:
            self._handle_conv(v)
            return None
        h = self.errors.execute(now, "HEADER_CONVERTER", type(self.header_converter).__name__,
                                lambda: tuple((name, self.header_converter.from_connect_data(r.topic, None, val))
                                              for name, val in r.headers), where)
        if not h.ok:
            self._handle_conv(h)
            return None
        return k.value, v.value, h.value

    def _handle_conv(self, out: Any) -> None:
        if out.retry_at_ms is not None:
            self._last_outcome_retry = True
            self._schedule(out.retry_at_ms - self.worker.ctx.now, self.iterate)
        elif not out.tolerated:
            self.fail(ConnectException(f"{TOLERANCE_EXCEEDED}: {out.error}"))

    def _on_ack(self, record: SourceRecord, entry: list[Any]) -> Callable[[Any, Any], None]:
        def done(metadata: Any, error: Any) -> None:
            if self.stopped and error is not None:
                return
            if error is not None:
                self.fail(ConnectException(f"Unrecoverable exception from producer send callback: {error}"))
                return
            self.records_acked += 1
            self.submitted.ack(entry)
            self.worker.on_source_ack(self.id, record, metadata)
            self._commit_record(record, metadata)
        return done

    def _commit_record(self, record: SourceRecord, metadata: Any) -> None:
        try:
            self.task.commit_record(record, metadata)
        except Exception:  # noqa: BLE001 - Kafka logs and ignores commitRecord failures
            pass

    # -- offsets -------------------------------------------------------------------------------------------------------
    def _periodic_commit(self) -> None:
        self._flush_timer = None
        if self.stopped:
            return
        self.commit(lambda ok: None)
        interval = float(self.worker.worker_config["offset.flush.interval.ms"])
        self._flush_timer = self.worker.ctx.set_timer(interval, self._periodic_commit, name=f"offset-flush-{self.id}")

    def commit(self, done: Callable[[bool], None]) -> None:
        """``commitOffsets``: write the committable offsets, then ``SourceTask.commit()``."""
        if self._committing:
            done(False)
            return
        offsets = self.submitted.committable()
        if not offsets:
            self._task_commit()
            done(True)
            return
        self._committing = True
        remaining = [len(offsets)]
        failed = [False]

        def written(error: Any) -> None:
            remaining[0] -= 1
            if error is not None:
                failed[0] = True
            if remaining[0] == 0:
                self._committing = False
                if failed[0]:
                    self.offset_commit_failures += 1
                    done(False)
                    return
                self.offset_commits += 1
                self.worker.record("connect.offset_commit", len(offsets), connector=self.id.connector,
                                   task=self.id.task)
                self._task_commit()
                done(True)
        for _key, (partition, offset) in offsets.items():
            self.worker.write_offset(self.id.connector, partition, offset, written)

    def _task_commit(self) -> None:
        try:
            self.task.commit()
        except Exception:  # noqa: BLE001 - Kafka logs commit() failures
            pass

    def stop(self, done: Callable[[], None]) -> None:
        """Graceful stop: stop polling, wait for outstanding records (up to ``offset.flush.timeout.ms``), commit."""
        if self.stopped:
            done()
            return
        self.stopping = True
        self._cancel()
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        deadline = self.worker.ctx.now + float(self.worker.worker_config["offset.flush.timeout.ms"])

        def finish() -> None:
            self._close_quietly()
            self.stopped = True
            done()

        def wait() -> None:
            if self.state == "FAILED":
                finish()
                return
            if self.submitted.outstanding and self.worker.ctx.now < deadline:
                self.worker.ctx.set_timer(10.0, wait, name=f"task-stop-{self.id}")
                return
            self.commit(lambda ok: finish())
        wait()


class WorkerSinkTask(WorkerTask):
    """A sink task's consumer, loop, commits and rebalance handling."""

    kind = "sink"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current_offsets: dict[TopicPartition, int] = {}
        self.last_committed: dict[TopicPartition, int] = {}
        self.records_read = 0
        self.records_put = 0
        self.records_dlq = 0
        self.commits = 0
        self.rebalances = 0
        self.paused_parts: set[TopicPartition] = set()
        self._retry_batch: list[SinkRecord] | None = None
        self._retry_timeout_ms = 300.0
        self._commit_requested = False
        self._next_commit_ms = 0.0
        self.core: ConsumerCore | None = None
        self.group: Any = None
        self.port: Any = None

    # -- the consumer ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        w = self.worker
        overrides = {"group.id": f"connect-{self.id.connector}", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"}
        overrides.update(_prefixed(w.worker_config, "consumer."))
        overrides.update(_prefixed(self.connector_config, "consumer.override."))
        try:
            config = resolve("consumer", overrides)
            task = self.task_class()
            if not isinstance(task, SinkTask):
                raise ConnectException(f"{self.task_class.__name__} is not a SinkTask")
            self.task = task
            task.initialize(SinkTaskContext(self.task_config, self))
            task.start(dict(self.task_config))
        except Exception as exc:  # noqa: BLE001 - start() failures fail the task
            self.fail(exc)
            return
        self.port = w.mux.port(f"sink-{self.id}", self._on_message, self._after_message)
        self.core = ConsumerCore(self.port, config, bootstrap=w.bootstrap, drive=no_drive, history=None)
        self.group = ClassicMembership(self.core)
        topics = [t.strip() for t in str(self.connector_config.get("topics", "")).split(",") if t.strip()]
        regex = str(self.connector_config.get("topics.regex", "") or "")
        if regex:
            self.group.subscribe_pattern(regex, self)
        else:
            self.group.subscribe(topics, self)
        dlq = str(self.connector_config.get("errors.deadletterqueue.topic.name", "") or "")
        if dlq:
            rf = int(self.connector_config.get("errors.deadletterqueue.topic.replication.factor", 3))
            w.ensure_topic(dlq, 1, rf)
        self._next_commit_ms = w.ctx.now + float(w.worker_config["offset.flush.interval.ms"])
        if self.target_state == "PAUSED":
            self._status("PAUSED")
        else:
            self._status("RUNNING")
        self._schedule(0.0, self.iterate)

    def _on_message(self, src: Any, msg: Any) -> None:
        if self.core is not None:
            self.core.on_message(src, msg)

    def _after_message(self) -> None:
        if self.stopped or self.core is None or self.state != "RUNNING" or self._timer is None:
            return
        if self.core.has_records() or self.group.needs_app_poll():
            self._schedule(0.0, self.iterate)

    # -- the rebalance listener (WorkerSinkTask.HandleRebalance) ----------------------------------------------------
    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        self.rebalances += 1
        for tp in partitions:
            state = self.core.assignment.get(tp) if self.core is not None else None
            if state is not None and state.position is not None:
                self.current_offsets[tp] = state.position
                self.last_committed[tp] = state.position
        try:
            self.task.open(list(partitions))
        except Exception as exc:  # noqa: BLE001 - open() failure fails the task
            self.fail(exc)

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        self.rebalances += 1
        if not partitions or self.task_stopped:      # Kafka: "Skipping partition revocation callback as task has
            return                                   # already been stopped" (the consumer's close revokes them)
        mine = {tp: off for tp, off in self.current_offsets.items() if tp in set(partitions)}
        try:
            committable = self.task.pre_commit({tp: OffsetAndMetadata(o) for tp, o in mine.items()})
            self._commit(committable)
            self.task.close(list(partitions))
        except Exception as exc:  # noqa: BLE001 - flush/close failure fails the task
            self.fail(exc)
        for tp in partitions:
            self.current_offsets.pop(tp, None)

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None:
        self.rebalances += 1
        if self.task_stopped:
            return
        try:
            self.task.close(list(partitions))
        except Exception as exc:  # noqa: BLE001
            self.fail(exc)
        for tp in partitions:
            self.current_offsets.pop(tp, None)

    # -- SinkTaskContext's runtime side --------------------------------------------------------------------------------
    def rewind(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            if self.core is not None and tp in self.core.assignment:
                self.core.seek(tp, int(offset))
                self.current_offsets[tp] = int(offset)

    def set_retry_timeout(self, timeout_ms: int) -> None:
        self._retry_timeout_ms = float(timeout_ms)

    def assignment(self) -> list[TopicPartition]:
        return list(self.core.assignment) if self.core is not None else []

    def pause_partitions(self, partitions: Any) -> None:
        self.paused_parts.update(partitions)

    def resume_partitions(self, partitions: Any) -> None:
        self.paused_parts.difference_update(partitions)

    def request_commit(self) -> None:
        self._commit_requested = True

    # -- the loop --------------------------------------------------------------------------------------------------
    def iterate(self) -> None:
        if self.stopped or self.stopping or self.state != "RUNNING" or self.core is None:
            return
        now = self.worker.ctx.now
        self.group.on_app_poll(now)
        if self.stopped:
            return
        if self._retry_batch is not None:
            batch, self._retry_batch = self._retry_batch, None
            if not self._put(batch):
                return
        else:
            records = self.core.collect(self.core.max_poll_records)
            if records:
                self.records_read += len(records)
                batch = []
                for record in records:
                    converted = self._convert(now, record)
                    if converted is False:
                        return
                    if isinstance(converted, SinkRecord):
                        batch.append(converted)
                    self.current_offsets[TopicPartition(record[0], record[1])] = record[2] + 1
                if batch and not self._put(batch):
                    return
                if self.stopped:
                    return
        if now >= self._next_commit_ms or self._commit_requested:
            self._commit_requested = False
            self._next_commit_ms = now + float(self.worker.worker_config["offset.flush.interval.ms"])
            self._periodic_commit()
        if self.stopped:
            return
        busy = self.core.has_records() or self.group.needs_app_poll()
        self._schedule(0.0 if busy else min(1000.0, max(self._next_commit_ms - now, 1.0)), self.iterate)

    def _convert(self, now: float, rec: Any) -> SinkRecord | None | bool:
        """Convert and transform one consumed record: the SinkRecord, None (skipped), False (task failed)."""
        topic, partition, offset, ts, key, value, headers = rec
        where = (topic, partition, offset)
        stages = (("KEY_CONVERTER", self.key_converter, key), ("VALUE_CONVERTER", self.value_converter, value))
        out: list[Any] = []
        for stage, conv, data in stages:
            o = self.errors.execute(now, stage, type(conv).__name__,
                                    lambda c=conv, d=data: c.to_connect_data(topic, d), where)  # type: ignore[misc]
            if not o.ok:
                return self._conversion_failed(o, rec)
            out.append(o.value)
        h = self.errors.execute(now, "HEADER_CONVERTER", type(self.header_converter).__name__,
                                lambda: tuple((k, self.header_converter.to_connect_data(topic, v)[1])
                                              for k, v in (headers or ())), where)
        if not h.ok:
            return self._conversion_failed(h, rec)
        (ks, kv), (vs, vv) = out
        record = SinkRecord(topic, partition, ks, kv, vs, vv, ts, h.value, offset, topic, partition)
        t = self.errors.execute(now, "TRANSFORMATION", "TransformationChain", lambda: self.chain.apply(record), where)
        if not t.ok:
            return self._conversion_failed(t, rec)
        return t.value  # type: ignore[no-any-return]

    def _conversion_failed(self, outcome: Any, rec: Any) -> None | bool:
        if outcome.retry_at_ms is not None:
            # retried in virtual time: rewind to this record and come back then
            tp = TopicPartition(rec[0], rec[1])
            self.core.seek(tp, rec[2])  # type: ignore[union-attr]
            self._schedule(outcome.retry_at_ms - self.worker.ctx.now, self.iterate)
            return False
        if outcome.tolerated:
            self._to_dlq(rec)
            return None
        self.fail(ConnectException(f"{TOLERANCE_EXCEEDED}: {outcome.error}"))
        return False

    def _to_dlq(self, rec: Any) -> None:
        dlq = str(self.connector_config.get("errors.deadletterqueue.topic.name", "") or "")
        if not dlq:
            return
        topic, partition, offset, ts, key, value, headers = rec
        extra: tuple[Any, ...] = ()
        if str(self.connector_config.get("errors.deadletterqueue.context.headers.enable", "false")).lower() == "true" \
                and self.error_log:
            extra = dlq_headers(self.error_log[-1], self.id.connector, self.id.task)
        self.records_dlq += 1
        self.worker.task_producer.send(dlq, key, value, lambda md, err: None, headers=tuple(headers or ()) + extra,
                                       timestamp_ms=ts)

    def _put(self, batch: list[SinkRecord]) -> bool:
        try:
            self.task.put(batch)
        except RetriableException:
            self._retry_batch = batch
            self._schedule(self._retry_timeout_ms, self.iterate)
            return False
        except Exception as exc:  # noqa: BLE001 - put() failures are not tolerated (KIP-298)
            self.fail(ConnectException(f"Exiting WorkerSinkTask due to unrecoverable exception: {exc}"))
            return False
        self.records_put += len(batch)
        self.worker.on_sink_put(self.id, batch)
        return True

    # -- commits ---------------------------------------------------------------------------------------------------
    def _periodic_commit(self) -> None:
        if not self.current_offsets or self.group.state != "stable":
            return
        try:
            offsets = self.task.pre_commit({tp: OffsetAndMetadata(o) for tp, o in self.current_offsets.items()})
        except Exception as exc:  # noqa: BLE001 - Kafka: a failed flush skips this commit and rewinds
            self.worker.record("connect.sink_flush_failed", 1, connector=self.id.connector, error=type(exc).__name__)
            return
        self._commit(offsets)

    def _commit(self, offsets: Mapping[Any, Any]) -> None:
        todo = {tp: (o if isinstance(o, OffsetAndMetadata) else OffsetAndMetadata(int(o))) for tp, o in offsets.items()
                if self.last_committed.get(tp) != (o.offset if isinstance(o, OffsetAndMetadata) else int(o))}
        if not todo:
            return

        def committed(error: Any) -> None:
            if error is None:
                self.commits += 1
                for tp, o in todo.items():
                    self.last_committed[tp] = o.offset
        try:
            self.group.commit(todo, committed)
        except Exception:  # noqa: BLE001 - a commit refused mid-rebalance is retried at the next interval
            pass

    def stop(self, done: Callable[[], None]) -> None:
        """Graceful stop: flush and commit what was put, close the partitions, leave the group."""
        if self.stopped:
            done()
            return
        self.stopping = True
        self._cancel()
        if self.state != "FAILED" and self.core is not None and self.current_offsets:
            try:
                parts = list(self.current_offsets)
                offsets = self.task.pre_commit({tp: OffsetAndMetadata(o) for tp, o in self.current_offsets.items()})
                self._commit(offsets)
                self.task.close(parts)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        self._close_quietly()

        def leave() -> None:
            if self.group is not None and not self.group.closed:
                self.group.close(self.worker.ctx.now)
            if self.core is not None:
                self.core.abandon()
            self.stopped = True
            done()
        # give the async commit a moment to land before the LeaveGroup (Kafka's close commits synchronously)
        self.worker.ctx.set_timer(50.0, leave, name=f"sink-stop-{self.id}")

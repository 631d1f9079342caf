"""Error handling in connectors (KIP-298): Kafka's ``RetryWithToleranceOperator``, ``ProcessingContext``,
``LogReporter`` and ``DeadLetterQueueReporter``.

How it works. Every conversion and transformation of a record runs through :meth:`ToleranceOperator.execute` with
its *stage* (``KEY_CONVERTER``, ``VALUE_CONVERTER``, ``HEADER_CONVERTER``, ``TRANSFORMATION``) and the class doing it.
A :class:`~kafkalab.connect.api.RetriableException` is retried with exponential backoff (300 ms doubling, capped at
``errors.retry.delay.max.ms``) until ``errors.retry.timeout`` (0 = never, -1 = forever); the retry waits in virtual
time, so :meth:`execute` answers ``RETRY_AT`` and the task runs the record again then. A failure that is not
retried, or whose retries ran out, is tolerated under ``errors.tolerance=all`` (the record is skipped and reported)
and fails the task under ``none`` with Kafka's ``Tolerance exceeded in error handler``.

Reporters: with ``errors.log.enable`` the error is recorded as a metric event (``connect.error`` with the stage and
class; ``errors.log.include.messages`` adds the record's coordinates). For sink connectors with
``errors.deadletterqueue.topic.name``, the original consumed record (key and value bytes, headers) is produced to that
topic, with Kafka's ``__connect.errors.*`` context headers when
``errors.deadletterqueue.context.headers.enable=true``. Errors in ``SinkTask.put`` and ``SourceTask.poll`` are not
tolerated (as in Kafka): they fail the task.
"""
from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafkalab.connect.api import ConnectException, DataException, RetriableException

__all__ = ["stack_trace", "ToleranceOperator", "Outcome", "DLQ_HEADERS", "dlq_headers", "java_class_name", "ErrorRecord",
           "TOLERANCE_EXCEEDED"]

TOLERANCE_EXCEEDED = "Tolerance exceeded in error handler"
#: ``DeadLetterQueueReporter``'s header names
DLQ_HEADERS = ("__connect.errors.topic", "__connect.errors.partition", "__connect.errors.offset",
               "__connect.errors.connector.name", "__connect.errors.task.id", "__connect.errors.stage",
               "__connect.errors.class.name", "__connect.errors.exception.class.name",
               "__connect.errors.exception.message", "__connect.errors.exception.stacktrace")
_JAVA_NAMES = {DataException: "org.apache.kafka.connect.errors.DataException",
               RetriableException: "org.apache.kafka.connect.errors.RetriableException",
               ConnectException: "org.apache.kafka.connect.errors.ConnectException"}
_INITIAL_BACKOFF_MS = 300.0


def java_class_name(exc: BaseException) -> str:
    """Kafka's class name for Connect's own exceptions, else the Python class's qualified name."""
    for cls in type(exc).__mro__:
        if cls in _JAVA_NAMES and cls is type(exc):
            return _JAVA_NAMES[cls]
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One reported error (what ``errors.log.enable`` logs and the DLQ headers carry)."""

    time_ms: float
    stage: str
    class_name: str
    exception: BaseException
    topic: str | None
    partition: int | None
    offset: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """``ok`` with ``value``; or ``retry_at_ms`` (run the record again then); or ``failed`` (``tolerated``: skip)."""

    ok: bool
    value: Any = None
    retry_at_ms: float | None = None
    tolerated: bool = False
    error: BaseException | None = None


class ToleranceOperator:
    """Kafka's ``RetryWithToleranceOperator`` for one task."""

    def __init__(self, config: dict[str, Any], report: Callable[[ErrorRecord], None]) -> None:
        self.retry_timeout_ms = float(config.get("errors.retry.timeout", 0))
        self.retry_delay_max_ms = float(config.get("errors.retry.delay.max.ms", 60_000))
        self.tolerance = str(config.get("errors.tolerance", "none"))
        self.report = report
        self.total_errors = 0
        self.total_skipped = 0
        self.total_retries = 0
        self._attempt_started: float | None = None
        self._attempts = 0

    def execute(self, now_ms: float, stage: str, class_name: str, fn: Callable[[], Any],
                where: tuple[str | None, int | None, int | None]) -> Outcome:
        try:
            value = fn()
        except RetriableException as exc:
            if self._attempt_started is None:
                self._attempt_started = now_ms
            elapsed = now_ms - self._attempt_started
            if self.retry_timeout_ms < 0 or elapsed < self.retry_timeout_ms:
                self._attempts += 1
                self.total_retries += 1
                delay = min(_INITIAL_BACKOFF_MS * 2 ** (self._attempts - 1), self.retry_delay_max_ms)
                if self.retry_timeout_ms >= 0:
                    delay = min(delay, max(self.retry_timeout_ms - elapsed, 0.0))
                return Outcome(False, retry_at_ms=now_ms + max(delay, 1.0), error=exc)
            return self._failed(now_ms, stage, class_name, exc, where)
        except Exception as exc:  # noqa: BLE001 - any connector, converter or SMT error is handled per KIP-298
            return self._failed(now_ms, stage, class_name, exc, where)
        self._attempt_started = None
        self._attempts = 0
        return Outcome(True, value)

    def _failed(self, now_ms: float, stage: str, class_name: str, exc: BaseException,
                where: tuple[str | None, int | None, int | None]) -> Outcome:
        self._attempt_started = None
        self._attempts = 0
        self.total_errors += 1
        self.report(ErrorRecord(now_ms, stage, class_name, exc, *where))
        if self.tolerance == "all":
            self.total_skipped += 1
            return Outcome(False, tolerated=True, error=exc)
        return Outcome(False, tolerated=False, error=exc)


def stack_trace(exc: BaseException) -> str:
    """The exception's stack trace as Kafka prints a Java one into a status or a DLQ header, with each frame's file
    reduced to its base name: the text (and so its size on the wire and the run's trace) must not depend on where the
    code is checked out or which process defined it (a notebook cell's file is under a per-kernel temporary folder)."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    seen: set[int] = set()
    todo = [te]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        for frame in t.stack:
            frame.filename = os.path.basename(frame.filename)
        todo.extend(x for x in (t.__cause__, t.__context__) if x is not None)
    return "".join(te.format())


def dlq_headers(error: ErrorRecord, connector: str, task: int) -> tuple[tuple[str, bytes | None], ...]:
    """``DeadLetterQueueReporter.populateContextHeaders``: the context headers, values UTF-8."""
    exc = error.exception
    trace = stack_trace(exc)

    def text(v: Any) -> bytes | None:
        return None if v is None else str(v).encode("utf-8")
    return ((DLQ_HEADERS[0], text(error.topic)), (DLQ_HEADERS[1], text(error.partition)),
            (DLQ_HEADERS[2], text(error.offset)), (DLQ_HEADERS[3], text(connector)), (DLQ_HEADERS[4], text(task)),
            (DLQ_HEADERS[5], text(error.stage)), (DLQ_HEADERS[6], text(error.class_name)),
            (DLQ_HEADERS[7], text(java_class_name(exc))), (DLQ_HEADERS[8], text(str(exc))),
            (DLQ_HEADERS[9], text(trace)))

"""The Processor API: records, processors, their context and punctuators (Kafka's ``api.Processor``,
``api.Record``, ``api.ProcessorContext``, ``Punctuator``).

How it works. A :class:`Processor` gets :meth:`~Processor.init` with its :class:`ProcessorContext` once per task,
then :meth:`~Processor.process` for each :class:`Record` that reaches its node, and :meth:`~Processor.close` when the
task closes. It passes records on with ``context.forward(record)`` (to every child, or to one child by name), reads
and writes the stores it was connected to with ``context.get_state_store(name)``, and schedules punctuators with
``context.schedule(interval_ms, STREAM_TIME | WALL_CLOCK_TIME, callback)``: stream-time punctuators fire as the
task's stream time (the largest timestamp it has processed) passes each interval, wall-clock ones as the virtual
clock does (Kafka's ``PunctuationQueue``: a punctuator that falls behind fires once and is rescheduled to the next
interval after now, not once per missed interval).

:class:`Change` is the value a KTable's processors pass each other: the new and the old value of a key (Kafka's
``Change``); a KTable sink writes only the new one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

__all__ = ["Record", "Change", "Processor", "ProcessorContext", "Punctuation", "STREAM_TIME", "WALL_CLOCK_TIME",
           "RecordMetadata"]

STREAM_TIME = "STREAM_TIME"
WALL_CLOCK_TIME = "WALL_CLOCK_TIME"


@dataclass(frozen=True, slots=True)
class Record:
    """A record inside a topology: key, value, timestamp (ms) and headers (Kafka's ``api.Record``)."""

    key: Any
    value: Any
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...] = ()

    def with_key(self, key: Any) -> Record:
        return replace(self, key=key)

    def with_value(self, value: Any) -> Record:
        return replace(self, value=value)

    def with_timestamp(self, timestamp: int) -> Record:
        return replace(self, timestamp=int(timestamp))


@dataclass(frozen=True, slots=True)
class Change:
    """A KTable update: the key's ``new`` and ``old`` value (None for a new key or a deletion)."""

    new: Any
    old: Any = None


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    """Where the record being processed came from (Kafka's ``RecordMetadata`` of ``ProcessorContext``)."""

    topic: str | None
    partition: int
    offset: int


class Punctuation:
    """A scheduled punctuator; ``cancel()`` stops it (Kafka's ``Cancellable``)."""

    __slots__ = ("interval_ms", "kind", "callback", "next_ms", "cancelled", "node")

    def __init__(self, interval_ms: float, kind: str, callback: Callable[[int], Any], next_ms: float,
                 node: str) -> None:
        self.interval_ms = interval_ms
        self.kind = kind
        self.callback = callback
        self.next_ms = next_ms
        self.cancelled = False
        self.node = node

    def cancel(self) -> None:
        self.cancelled = True


class ProcessorContext(Protocol):
    """What a processor may use (Kafka's ``api.ProcessorContext``)."""

    @property
    def application_id(self) -> str: ...

    @property
    def task_id(self) -> str: ...

    def forward(self, record: Record, child: str | None = None) -> None: ...

    def get_state_store(self, name: str) -> Any: ...

    def schedule(self, interval_ms: float, kind: str, callback: Callable[[int], Any]) -> Punctuation: ...

    def record_metadata(self) -> RecordMetadata | None: ...

    def current_stream_time_ms(self) -> int: ...

    def current_system_time_ms(self) -> int: ...

    def commit(self) -> None: ...


class Processor:
    """Subclass and override :meth:`process` (and :meth:`init`/:meth:`close` when needed)."""

    context: ProcessorContext

    def init(self, context: ProcessorContext) -> None:
        """Called once when the task starts; keep the context to forward records and reach stores."""
        self.context = context

    def process(self, record: Record) -> None:
        """Handle one record."""
        raise NotImplementedError

    def close(self) -> None:
        """Called when the task closes (migrates, the app closes)."""

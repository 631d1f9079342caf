"""What a client call hands back: ``RecordMetadata``, ``ConsumerRecord`` and the future of one ``send``.

A future here is not a thread primitive. Nothing happens between two notebook cells unless somebody advances the
simulation, so ``fut.result(timeout_ms)`` *drives* it: it calls the ``drive(predicate, timeout_ms)`` callable the
client was given (the Cluster passes ``kernel.run_until``) until the record's batch completes. ``done()`` and
``exception()`` never drive; they report what is known at the current virtual time.

A future points at its record's batch and index instead of holding a result of its own: completing a batch of 500
records costs one assignment, and ``RecordMetadata`` is built only when somebody asks (the hot path of a million
``send()`` calls stays small). A future that failed before its record reached a batch (an unknown topic after
``max.block.ms``, a record larger than ``max.request.size``) holds its exception instead, as Kafka's
``FutureFailure`` does.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from kafkalab.common.types import ConsumerRecord, RecordMetadata
from kafkalab.errors import KafkaError, KafkaTimeoutError

if TYPE_CHECKING:
    from kafkalab.clients.accumulator import ProducerBatch

__all__ = ["RecordMetadata", "ConsumerRecord", "FutureRecordMetadata", "Drive", "DeliveryCallback", "ClientCrashedError",
           "check_timeout_ms", "check_send_target"]

#: ``drive(predicate, timeout_ms) -> bool``: run the simulation until ``predicate()`` holds or the time passes.
Drive = Callable[[Callable[[], bool], float], bool]


def check_send_target(topic: Any, partition: Any, on_delivery: Any, callback_args: str = "metadata, error") -> None:
    """The checks ``ProducerRecord``'s constructor makes of a send's topic and partition (IllegalArgumentException
    there, ValueError here), and that ``on_delivery`` is a callable taking ``(callback_args)`` or None."""
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, got {type(topic).__name__} {topic!r}")
    if not topic:
        raise ValueError("topic must be a non-empty str, got ''")
    if partition is not None:
        if isinstance(partition, bool) or not isinstance(partition, int):
            raise TypeError(f"partition must be an int or None, got {type(partition).__name__} {partition!r}")
        if partition < 0:
            raise ValueError(f"Invalid partition: {partition}. Partition number should always be non-negative or "
                             f"null. (partition={partition!r})")
    if on_delivery is not None and not callable(on_delivery):
        raise TypeError(f"on_delivery must be a callable taking ({callback_args}) or None, got "
                        f"{type(on_delivery).__name__}")


def check_timeout_ms(value: Any, name: str = "timeout_ms", *, allow_none: bool = True) -> float | None:
    """A timeout argument as Kafka takes it: a finite number of milliseconds >= 0 (None where a default applies).

    Kafka's ``Timer`` refuses a negative timeout with IllegalArgumentException "Invalid negative timeout -5"; here that
    is a ValueError with Kafka's words and the argument's name. ``bool`` is not a number of milliseconds."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        allowed = "a number of milliseconds >= 0" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number of milliseconds >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"Invalid negative timeout {value:g}: {name} must be >= 0")
    return value


class ClientCrashedError(KafkaError):
    """The client process crashed (``cluster.crash(client.node_id)``): what it had in flight has an unknown outcome."""


#: ``on_delivery(metadata, exception)``: exactly one of them is None.
DeliveryCallback = Callable[[RecordMetadata | None, BaseException | None], None]


class _Waiter(Protocol):
    """What a future needs from its producer: a way to drive the simulation and a bound on how long it may take."""

    def _wait(self, predicate: Callable[[], bool], timeout_ms: float | None, what: str) -> None: ...


class FutureRecordMetadata:
    """The outcome of one ``producer.send()``.

    ``result(timeout_ms=None)`` drives the simulation until the record is acknowledged and returns its
    :class:`RecordMetadata`, or raises the Kafka error it failed with. Without a timeout it waits at most what Kafka
    promises (``delivery.timeout.ms``, plus ``request.timeout.ms`` for the last answer).
    """

    __slots__ = ("_batch", "_index", "_waiter", "_error")

    def __init__(self, batch: ProducerBatch | None, index: int, waiter: _Waiter,
                 error: BaseException | None = None) -> None:
        self._batch = batch
        self._index = index
        self._waiter = waiter
        self._error = error

    def done(self) -> bool:
        """Whether the outcome is known now (no simulation time passes)."""
        if self._error is not None:
            return True
        batch = self._batch
        return batch is not None and batch.done

    def exception(self) -> BaseException | None:
        """The error the send failed with, or None (also None while it is still pending: see :meth:`done`)."""
        if self._error is not None:
            return self._error
        batch = self._batch
        if batch is None or not batch.done:
            return None
        return batch.error

    def result(self, timeout_ms: float | None = None) -> RecordMetadata:
        """Drive the simulation until this record is acknowledged; its metadata, or raise its error.

        Raises :class:`~kafkalab.errors.KafkaTimeoutError` if ``timeout_ms`` of virtual time pass first; a negative,
        infinite or non-numeric ``timeout_ms`` is refused (:func:`check_timeout_ms`) even when the outcome is known.
        """
        check_timeout_ms(timeout_ms)
        if not self.done():
            self._waiter._wait(self.done, timeout_ms, "the send to complete")
        error = self.exception()
        if error is not None:
            raise error
        metadata = self.metadata()
        if metadata is None:  # pragma: no cover - done() and no error means the batch completed
            raise KafkaError("the send completed without metadata")
        return metadata

    def metadata(self) -> RecordMetadata | None:
        """The record's metadata once acknowledged, else None (no simulation time passes)."""
        batch = self._batch
        if self._error is not None or batch is None or not batch.done or batch.error is not None:
            return None
        return batch.metadata(self._index)

    def __repr__(self) -> str:
        if not self.done():
            return "FutureRecordMetadata(pending)"
        error = self.exception()
        return f"FutureRecordMetadata({error!r})" if error is not None else f"FutureRecordMetadata({self.metadata()})"


def timeout_error(what: str, timeout_ms: float) -> KafkaTimeoutError:
    return KafkaTimeoutError(f"timed out after {timeout_ms:g} ms of virtual time waiting for {what}")

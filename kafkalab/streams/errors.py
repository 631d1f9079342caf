"""Kafka Streams' own exceptions (``org.apache.kafka.streams.errors``).

How it works. These are client-side errors with no protocol error code, so they are plain exceptions, not
:class:`~kafkalab.errors.KafkaError` s: :class:`StreamsException` is the base (Kafka's ``StreamsException``),
:class:`TopologyException` a topology that cannot be built or run (its message starts with Kafka's
``"Invalid topology: "``), :class:`InvalidStateStoreException` an interactive query of a store that is not there or
not queryable now (Kafka's ``InvalidStateStoreException`` and its ``UnknownStateStoreException`` subclass).
"""
from __future__ import annotations

__all__ = ["StreamsException", "TopologyException", "InvalidStateStoreException", "UnknownStateStoreException"]


class StreamsException(Exception):
    """A Kafka Streams error (Kafka's ``StreamsException``)."""


class TopologyException(StreamsException):
    """A topology that cannot be built (Kafka's ``TopologyException``: ``"Invalid topology: <why>"``)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Invalid topology: {message}")


class InvalidStateStoreException(StreamsException):
    """A state store cannot be queried now (migrating, restoring, or the instance is not running)."""


class UnknownStateStoreException(InvalidStateStoreException):
    """No store of that name exists in the topology."""

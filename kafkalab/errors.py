"""Kafka's protocol errors and kafkalab's own failures (placeholder; the full table is being written)."""
from __future__ import annotations

__all__ = ["KafkaError", "ConfigError", "InvariantViolation", "SimulationError"]


class KafkaError(Exception):
    code: int = -1
    retriable: bool = False


class ConfigError(ValueError):
    def __init__(self, message: str, *, key: str | None = None, scope: str | None = None,
                 value: object = None) -> None:
        self.key = key
        self.scope = scope
        self.value = value
        super().__init__(message)


class InvariantViolation(AssertionError):
    def __init__(self, message: str, *, seed: int | None = None, time_ms: float | None = None) -> None:
        self.seed = seed
        self.time_ms = time_ms
        super().__init__(f"{message} (seed={seed}, t={time_ms} ms)")


class SimulationError(RuntimeError):
    def __init__(self, message: str, *, seed: int | None = None, time_ms: float | None = None,
                 event: str | None = None) -> None:
        self.seed = seed
        self.time_ms = time_ms
        self.event = event
        super().__init__(message)

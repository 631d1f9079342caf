"""The broker's cost model: how long a broker is busy with each request, so throughput experiments mean something.

How it works. Link bandwidth and latency come from the network model (the simulator's links, 1 Gbit/s by
default). On top of that each broker has one *request-handler queue*: a request that arrives waits FIFO until the
handler is free, then occupies it for ``request_ms + size_bytes * byte_ns / 1e6`` ms, and only then is handled (its
response sent, or parked as a delayed operation). Follower fetch responses are charged the same way on a second queue,
the broker's replica fetcher (Kafka runs fetchers on their own threads). A request that costs nothing is handled at
once. ``CostModel(request_ms=0, byte_ns=0)`` turns the model off.

Default numbers, for a commodity 2014-era server (the three machines of Kreps's "2 million writes per second" post:
6-core 2.5 GHz Xeon, 7200 rpm SATA disks, 1 GbE; KAFKA.md section 7):
- ``request_ms = 0.05``: per-request work (parse, purgatory, response) of roughly 50 us. Kafka brokers of that era
  sustain some 20,000 small requests per second per broker with several I/O threads; one queue at 50 us gives the
  same ceiling.
- ``byte_ns = 1.5``: per-byte work (CRC check, copying into the page cache, i.e. memcpy plus checksum at about
  650 MB/s). 100 MB/s of produce costs 15% of the handler; a 1 GbE link (125 MB/s) saturates before the handler does,
  as in Kreps's measurements where the single producer ran at 78 MB/s.
Kafka has ``num.io.threads = 8`` handlers; this model keeps one queue per broker (the brief's simplification) whose
constants are per broker, not per thread.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CostModel", "HandlerQueue", "DEFAULT_COST"]


@dataclass(frozen=True, slots=True)
class CostModel:
    """Broker service time per request: ``request_ms`` fixed plus ``byte_ns`` per byte of the message."""

    request_ms: float = 0.05
    byte_ns: float = 1.5

    def __post_init__(self) -> None:
        if self.request_ms < 0 or self.byte_ns < 0:
            raise ValueError(f"CostModel: request_ms and byte_ns must be >= 0, got {self.request_ms}, {self.byte_ns}")

    def service_ms(self, size_bytes: int) -> float:
        return self.request_ms + size_bytes * self.byte_ns * 1e-6

    @property
    def free(self) -> bool:
        return self.request_ms == 0 and self.byte_ns == 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> CostModel:
        """``{"request_ms": 0.1, "byte_ns": 2}``; unknown keys raise a ValueError naming the allowed ones."""
        values = dict(values or {})
        unknown = sorted(set(values) - {"request_ms", "byte_ns"})
        if unknown:
            raise ValueError(f"CostModel: unknown keys {unknown}; allowed: 'request_ms', 'byte_ns'")
        return cls(**{k: float(v) for k, v in values.items()})


DEFAULT_COST = CostModel()


class HandlerQueue:
    """One FIFO server: :meth:`admit` says when a job of ``size_bytes`` arriving at ``now_ms`` is done."""

    __slots__ = ("cost", "free_at_ms", "busy_ms", "jobs")

    def __init__(self, cost: CostModel) -> None:
        self.cost = cost
        self.free_at_ms = 0.0
        self.busy_ms = 0.0
        self.jobs = 0

    def admit(self, now_ms: float, size_bytes: int) -> float:
        service = self.cost.request_ms + size_bytes * self.cost.byte_ns * 1e-6
        start = self.free_at_ms if self.free_at_ms > now_ms else now_ms
        done = start + service
        self.free_at_ms = done
        self.busy_ms += service
        self.jobs += 1
        return done

    def utilisation(self, now_ms: float) -> float:
        return self.busy_ms / now_ms if now_ms > 0 else 0.0

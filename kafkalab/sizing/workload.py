"""The sizing workload: what kafka-producer-perf-test and the OpenMessaging Benchmark ask of a cluster.

How it works. :class:`SizingWorkload` is a frozen description: ``producers`` producers offer ``rate`` records per
second between them (``None``: as fast as ``buffer.memory`` and ``max.in.flight.requests.per.connection`` let them),
records of ``record_size`` bytes of random payload (no key), for ``duration_s`` virtual seconds or ``records``
records; one topic of ``partitions`` partitions at ``replication_factor``; ``consumers`` consumers in one group
reading everything, starting ``consumer_lag_s`` after the producers (a consumer that is far behind reads from disk
once its data has left the page cache). Producer settings use Kafka's names in Python form (``acks``,
``linger_ms``, ``batch_size``, ``buffer_memory``, ``max_in_flight``). Validation names the argument, what is allowed
and the closest valid name.

Record sizes follow Kafka's v2 format (``DefaultRecord``): a record of ``n`` payload bytes without key or headers
takes ``n`` plus its varint length prefix, attributes, timestamp and offset deltas, key length (-1) and header count;
a batch adds 61 bytes (``DefaultRecordBatch.RECORD_BATCH_OVERHEAD``).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields
from typing import Any

from kafkalab.common.records import size_of_varint

__all__ = ["SizingWorkload", "record_bytes", "BATCH_OVERHEAD"]

BATCH_OVERHEAD = 61


def record_bytes(record_size: int) -> int:
    """Bytes one keyless, header-less record of ``record_size`` payload bytes takes inside a v2 batch (deltas of a
    mid-batch record: timestamp delta 1 byte, offset delta 2 bytes)."""
    body = 1 + 1 + 2 + 1 + size_of_varint(record_size) + record_size + 1
    return body + size_of_varint(body)


_ACKS = {"0": 0, "1": 1, "all": -1, "-1": -1}


@dataclass(frozen=True, slots=True)
class SizingWorkload:
    """One perf-test / OMB style run. See the module docstring; ``rate`` is records per second for all producers."""

    producers: int = 1
    rate: float | None = 100_000.0
    record_size: int = 1024
    duration_s: float = 10.0
    records: int | None = None
    partitions: int = 6
    replication_factor: int = 3
    acks: str = "all"
    linger_ms: float = 5.0
    batch_size: int = 16_384
    buffer_memory: int = 33_554_432
    max_in_flight: int = 5
    consumers: int = 1
    consumer_lag_s: float = 0.0
    producer_us_per_record: float = 0.0
    consumer_us_per_record: float = 0.0
    warmup_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("producers", "record_size", "partitions", "replication_factor", "batch_size", "buffer_memory",
                     "max_in_flight"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"sizing: {name} must be an int >= 1, got {value!r}")
        if not isinstance(self.consumers, int) or isinstance(self.consumers, bool) or self.consumers < 0:
            raise ValueError(f"sizing: consumers must be an int >= 0, got {self.consumers!r}")
        if self.rate is not None and (not _number(self.rate) or self.rate <= 0):
            raise ValueError(f"sizing: rate must be records per second > 0, or None (as fast as possible), "
                             f"got {self.rate!r}")
        if not _number(self.duration_s) or self.duration_s <= 0 or math.isinf(self.duration_s):
            raise ValueError(f"sizing: duration_s must be a finite number of seconds > 0, got {self.duration_s!r}")
        if self.records is not None and (not isinstance(self.records, int) or isinstance(self.records, bool)
                                         or self.records < 1):
            raise ValueError(f"sizing: records must be an int >= 1 or None, got {self.records!r}")
        for name in ("linger_ms", "consumer_lag_s", "producer_us_per_record", "consumer_us_per_record"):
            value = getattr(self, name)
            if not _number(value) or value < 0:
                raise ValueError(f"sizing: {name} must be a number >= 0, got {value!r}")
        if self.warmup_s is not None and (not _number(self.warmup_s) or not 0 <= self.warmup_s < self.duration_s):
            raise ValueError(f"sizing: warmup_s must be in [0, duration_s={self.duration_s}), got {self.warmup_s!r}")
        if str(self.acks) not in _ACKS:
            raise ValueError(f"sizing: acks must be one of 'all', '1', '0' (or -1), got {self.acks!r}")
        if self.record_size + 100 > self.batch_size * 64:
            raise ValueError(f"sizing: record_size {self.record_size} is far larger than batch_size "
                             f"{self.batch_size}; raise batch_size")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SizingWorkload:
        """Build from keyword arguments; an unknown one raises a TypeError naming the closest parameter."""
        names = [f.name for f in fields(cls)]
        for key in kwargs:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise TypeError(f"sizing: unknown parameter {key!r}{hint}; parameters: {', '.join(names)}")
        return cls(**kwargs)

    @property
    def acks_level(self) -> int:
        """-1 (all), 1 or 0."""
        return _ACKS[str(self.acks)]

    @property
    def record_wire_bytes(self) -> int:
        return record_bytes(self.record_size)

    @property
    def records_per_batch(self) -> int:
        """How many records fill ``batch.size`` (at least one: a larger record makes a batch of its own)."""
        return max(1, (self.batch_size - BATCH_OVERHEAD) // self.record_wire_bytes)

    @property
    def warmup(self) -> float:
        """Seconds left out of the steady-state throughput at the start (default a tenth of the run, at most 5 s)."""
        return self.warmup_s if self.warmup_s is not None else min(5.0, self.duration_s / 10)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)

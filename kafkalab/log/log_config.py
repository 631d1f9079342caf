"""Typed per-partition log settings: Kafka's topic-level log configs (``LogConfig`` in Kafka's ``storage`` module).

The log core takes this dataclass, with units in the field names; Kafka's dotted names (``segment.bytes``, ...) are
read once by :meth:`LogConfig.from_topic_config`, which defers to :func:`kafkalab.config.resolve` for the key list,
parsing and validation when that module is available. Defaults are Kafka 4.x's.

The constructor only checks that values make sense for the model (positive sizes, known policies); it deliberately
allows sizes below Kafka's broker minimums (``segment.bytes`` >= 1 MiB) so notebooks can show segment rolls with few
records.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafkalab.config import resolve

__all__ = ["LogConfig", "LONG_MAX"]

LONG_MAX = 9_223_372_036_854_775_807
_POLICIES = ("compact", "delete")

# dotted Kafka name -> LogConfig field
_FIELDS = {
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "segment.jitter.ms": "segment_jitter_ms",
    "retention.ms": "retention_ms",
    "retention.bytes": "retention_bytes",
    "cleanup.policy": "cleanup_policy",
    "delete.retention.ms": "delete_retention_ms",
    "min.compaction.lag.ms": "min_compaction_lag_ms",
    "max.compaction.lag.ms": "max_compaction_lag_ms",
    "min.cleanable.dirty.ratio": "min_cleanable_dirty_ratio",
    "max.message.bytes": "max_message_bytes",
    "flush.messages": "flush_messages",
    "flush.ms": "flush_ms",
}


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Kafka 4.x topic log configs, typed. ``cleanup_policy`` is a tuple such as ``("compact", "delete")``."""

    segment_bytes: int = 1_073_741_824
    segment_ms: int = 604_800_000
    segment_jitter_ms: int = 0
    retention_ms: int = 604_800_000
    retention_bytes: int = -1
    cleanup_policy: tuple[str, ...] = ("delete",)
    delete_retention_ms: int = 86_400_000
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = LONG_MAX
    min_cleanable_dirty_ratio: float = 0.5
    max_message_bytes: int = 1_048_588
    flush_messages: int = LONG_MAX
    flush_ms: int = LONG_MAX

    def __post_init__(self) -> None:
        policy = self.cleanup_policy
        if isinstance(policy, str):
            policy = tuple(p.strip() for p in policy.split(",") if p.strip())
        else:
            policy = tuple(policy)
        for p in policy:
            if p not in _POLICIES:
                raise ValueError(f"cleanup_policy: unknown policy {p!r}; allowed: 'delete', 'compact' or both")
        object.__setattr__(self, "cleanup_policy", tuple(sorted(set(policy))))
        for name in ("segment_bytes", "segment_ms", "max_message_bytes", "flush_messages", "flush_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("delete_retention_ms", "min_compaction_lag_ms", "segment_jitter_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_compaction_lag_ms < 1:
            raise ValueError(f"max_compaction_lag_ms must be >= 1, got {self.max_compaction_lag_ms}")
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms:
            raise ValueError(f"conflict: min_compaction_lag_ms ({self.min_compaction_lag_ms}) > "
                             f"max_compaction_lag_ms ({self.max_compaction_lag_ms}); allowed: min <= max")
        if not 0.0 <= self.min_cleanable_dirty_ratio <= 1.0:
            raise ValueError(f"min_cleanable_dirty_ratio must be in [0, 1], got {self.min_cleanable_dirty_ratio}")

    @property
    def compact(self) -> bool:
        return "compact" in self.cleanup_policy

    @property
    def delete(self) -> bool:
        return "delete" in self.cleanup_policy

    @property
    def max_segment_ms(self) -> int:
        """``LogConfig.maxSegmentMs``: a compacted log rolls its active segment by ``max.compaction.lag.ms`` too
        (KIP-354), since the cleaner never touches the active segment."""
        if self.compact and self.max_compaction_lag_ms > 0:
            return min(self.max_compaction_lag_ms, self.segment_ms)
        return self.segment_ms

    @classmethod
    def from_topic_config(cls, config: Mapping[str, Any] | None = None, *,
                          broker: Mapping[str, Any] | None = None) -> LogConfig:
        """Build from Kafka's dotted topic config names, e.g. ``{"segment.bytes": "1048576"}``.

        :func:`kafkalab.config.resolve` parses, validates (with Kafka's ranges: ``segment.bytes`` >= 1 MiB) and fills
        defaults, from ``broker`` synonyms such as ``log.retention.ms`` when a broker config is given. Topic keys that
        are not log settings (``min.insync.replicas``, ...) are ignored here.
        """
        resolved = resolve("topic", dict(config or {}), broker=broker)
        kwargs: dict[str, Any] = {}
        for key, name in _FIELDS.items():
            if key in resolved:
                kwargs[name] = _coerce(name, resolved[key])
        return cls(**kwargs)


def _coerce(name: str, value: Any) -> Any:
    if name == "cleanup_policy":
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return tuple(_as_iterable(value))
    if name == "min_cleanable_dirty_ratio":
        return float(value)
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    return int(value)


def _as_iterable(value: Any) -> Iterable[str]:
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    raise ValueError(f"cleanup.policy: expected a string or a list, got {value!r}")

"""What a data-plane message (produce, fetch, metadata, list offsets, producer ids) costs on the modelled link: a
header, a little per partition, and the record bytes. The group, controller and raft families size their own.
"""
from __future__ import annotations

from typing import Any

from kafkalab.protocol.common import HEADER_BYTES as _HEADER_BYTES
from kafkalab.protocol.common import PARTITION_BYTES as _PARTITION_BYTES
from kafkalab.protocol.fetch import FetchResponse
from kafkalab.protocol.produce import ProduceRequest

__all__ = [
    "message_size_bytes",
]

def message_size_bytes(msg: Any) -> int:
    """What a message costs on the modelled link: a header, a little per partition, and the record bytes."""
    size = _HEADER_BYTES
    if isinstance(msg, ProduceRequest):
        size += sum(_PARTITION_BYTES + b.size_bytes for b in msg.batches.values())
    elif isinstance(msg, FetchResponse):
        size += sum(_PARTITION_BYTES + r.records_size_bytes for r in msg.responses.values())
    else:
        parts = getattr(msg, "partitions", None) or getattr(msg, "responses", None) or getattr(msg, "topics", None)
        if parts:
            size += _PARTITION_BYTES * len(parts)
    return size

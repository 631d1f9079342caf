"""Small functions Kafka keeps in ``org.apache.kafka.common.utils.Utils`` and the JDK, that more than one layer needs
with Java's exact results: :func:`java_string_hash` (``String.hashCode``, which places a group or a transactional id
on its coordinator partition and orders Java ``HashMap`` iteration).
"""
from __future__ import annotations

__all__ = ["java_string_hash"]


def java_string_hash(s: str) -> int:
    """Java's ``String.hashCode()``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units, as a signed int32."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h

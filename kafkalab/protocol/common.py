"""What every RPC family shares: the error name of success and what a message header costs on the modelled link.

Errors travel as Kafka's error names (``"NONE"``, ``"NOT_LEADER_OR_FOLLOWER"``, ...);
``kafkalab.errors.error_for_name`` turns one into the exception a client raises.
"""
from __future__ import annotations

__all__ = [
    "NONE", "HEADER_BYTES", "PARTITION_BYTES",
]

#: The error name of success in every response.
NONE = "NONE"

#: Request/response header and fixed fields, roughly (what a small RPC costs on the modelled link).
HEADER_BYTES = 64
#: What one partition entry adds to a request or response, roughly.
PARTITION_BYTES = 32

"""What a transport tells an endpoint besides messages (the bottom layer: imported by the network and by protocol
cores alike, so a core can react to a connection event without importing the simulator).

:class:`ConnectionReset` is a TCP reset from ``peer``: its process is gone (crashed, or restarted since the
connection was made) while its host is up, so the host's kernel answers the next segment with RST. A powered-off host
sends nothing, and a partition eats the segment silently: then only a request timeout tells.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ConnectionReset"]


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """Delivered as a message from ``peer`` to a node whose earlier message reached ``peer``'s dead process."""

    peer: Any

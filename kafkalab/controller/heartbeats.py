"""The active controller's soft state about broker liveness (Kafka's ``BrokerHeartbeatManager``).

Last contact and last reported metadata offset of every broker, and the unfenced brokers in an insertion-ordered dict
by last contact (a heartbeat moves a broker to the end), so the oldest is first: one timer set for the oldest deadline
finds every stale broker, with no per-broker timers or polling. It lives only on the active controller and is built
afresh (every broker's contact = now) when a controller becomes active, which is why fencing takes longer after a
controller failover.
"""
from __future__ import annotations

from collections import OrderedDict

__all__ = ["BrokerHeartbeatManager"]


class BrokerHeartbeatManager:
    """Soft state of the active controller (Kafka's ``BrokerHeartbeatManager``): last contact of every broker, the
    unfenced ones ordered by last contact (oldest first), and controlled-shutdown offsets."""

    def __init__(self, session_timeout_ms: float) -> None:
        self.session_timeout_ms = session_timeout_ms
        self.last_contact: dict[int, float] = {}
        self.unfenced: OrderedDict[int, float] = OrderedDict()
        self.shutdown_offsets: dict[int, int] = {}
        #: the metadata offset each broker reported last (-1 until it heartbeats to this controller)
        self.metadata_offsets: dict[int, int] = {}

    def touch(self, broker_id: int, fenced: bool, now_ms: float) -> None:
        self.last_contact[broker_id] = now_ms
        if fenced:
            self.unfenced.pop(broker_id, None)
        else:
            self.unfenced.pop(broker_id, None)
            self.unfenced[broker_id] = now_ms

    def fenced(self, broker_id: int) -> None:
        self.unfenced.pop(broker_id, None)
        self.shutdown_offsets.pop(broker_id, None)

    def has_valid_session(self, broker_id: int, now_ms: float) -> bool:
        contact = self.last_contact.get(broker_id)
        return contact is not None and contact + self.session_timeout_ms >= now_ms

    def next_expiry_ms(self) -> float | None:
        for contact in self.unfenced.values():
            return contact + self.session_timeout_ms
        return None

    def stale(self, now_ms: float) -> list[int]:
        """Unfenced brokers whose session expired, oldest first."""
        out = []
        for broker_id, contact in self.unfenced.items():
            if contact + self.session_timeout_ms > now_ms:
                break
            out.append(broker_id)
        return out

"""Many Kafka clients on one worker node: a port per client, answers routed back by correlation id.

How it works. A Connect worker is one process (one simulation node) that holds many clients, as Kafka's worker JVM
does: the producer, the group member, the three ``KafkaBasedLog`` consumers of the internal topics, an admin client
and one consumer per sink task. Each gets a :class:`SubPort` of the node's port with a *slot* of its own. Kafka's
clients number their requests from ``incarnation * 2**32`` (:class:`~kafkalab.clients.network.NetworkClient`), so a
SubPort presents ``incarnation * 2**16 + slot`` as its incarnation and the answers of slot ``k`` carry correlation
ids in a range no other slot uses; :meth:`Mux.dispatch` hands each answer to its slot's handler. A connection reset
(a broker died) reaches every slot, as it breaks every connection of the process. After a slot handled a message its
``after`` hook runs (the worker's log readers and sink tasks wake there when records arrived, so nothing polls on a
timer while idle).

Crash, pause, restart and isolation act on the node, so on every client of the worker at once.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kafkalab.ports import ConnectionReset

__all__ = ["SubPort", "Mux", "SLOT_STRIDE"]

#: slots per incarnation (the worker allocates slots as sink tasks come and go)
SLOT_STRIDE = 1 << 16
_CORRELATION_STRIDE = 1 << 32


class SubPort:
    """The node's port as one client sees it (a :class:`~kafkalab.clients.network.ClientPort`)."""

    def __init__(self, ctx: Any, slot: int, name: str) -> None:
        self.ctx = ctx
        self.slot = slot
        self.name = name
        self.node_id = ctx.node_id
        self.incarnation = int(getattr(ctx, "incarnation", 0) or 0) * SLOT_STRIDE + slot

    @property
    def now(self) -> float:
        return float(self.ctx.now)

    @property
    def alive(self) -> bool:
        return bool(self.ctx.alive)

    def send(self, dst: Any, msg: Any, size_bytes: int = 64) -> None:
        self.ctx.send(dst, msg, size_bytes)

    def set_timer(self, delay_ms: float, callback: Callable[..., Any], *args: Any, name: str | None = None) -> Any:
        return self.ctx.set_timer(delay_ms, callback, *args, name=name)

    def rng(self, name: str) -> random.Random:
        return self.ctx.rng(f"{self.name}/{name}")  # type: ignore[no-any-return]

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        self.ctx.record(metric, value, **labels)


class Mux:
    """Routes a worker node's incoming answers to the client slot that sent the request."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._handlers: dict[int, tuple[Callable[[Any, Any], Any], Callable[[], None] | None]] = {}
        self._next_slot = 1

    def port(self, name: str, handler: Callable[[Any, Any], Any], after: Callable[[], None] | None = None
             ) -> SubPort:
        slot = self._next_slot
        self._next_slot += 1
        if slot >= SLOT_STRIDE:
            raise RuntimeError(f"worker {self.ctx.node_id}: more than {SLOT_STRIDE - 1} clients in one incarnation")
        self._handlers[slot] = (handler, after)
        return SubPort(self.ctx, slot, name)

    def release(self, port: SubPort) -> None:
        """A client closed: answers still on their way to it are dropped."""
        self._handlers.pop(port.slot, None)

    def dispatch(self, src: Any, msg: Any) -> bool:
        """Deliver an answer to its slot; False when it is not one (an inter-worker message)."""
        if type(msg) is ConnectionReset:
            for handler, after in list(self._handlers.values()):
                handler(src, msg)
                if after is not None:
                    after()
            return True
        cid = getattr(msg, "correlation_id", None)
        if not isinstance(cid, int) or cid < _CORRELATION_STRIDE:
            return False
        slot = ((cid - 1) // _CORRELATION_STRIDE) % SLOT_STRIDE
        entry = self._handlers.get(slot)
        if entry is None:
            return True             # an answer for a client that is gone
        handler, after = entry
        handler(src, msg)
        if after is not None:
            after()
        return True

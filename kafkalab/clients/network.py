"""Requests and their answers over the client's connections (Kafka's ``NetworkClient``), plus the client port.

How it works. A client talks to brokers through a :class:`ClientPort`: send a message, set a timer, read the clock,
draw randomness, record a metric. A World's ``ProcessContext`` is one; the client cores never import the simulator.
Each request gets a correlation id; the answer is matched by (broker, correlation id) and handed to the callback the
request was sent with. Per broker at most ``max_in_flight`` requests wait for answers.

A request unanswered after ``request.timeout.ms`` drops the whole connection, as Kafka's
``NetworkClient.handleTimedOutRequests`` does: that request completes as REQUEST_TIMED_OUT, every other request in
flight to the broker as NETWORK_EXCEPTION (the answers arriving later are ignored), and the broker is not used again
for ``reconnect.backoff.ms``. Both errors mean the outcome is unknown: the request may have been handled.

Client quotas (KIP-219): an answer carrying ``throttle_time_ms`` > 0 (produce and fetch answers) makes the broker
not ready for that long (Kafka's ``NetworkClient.maybeThrottle``: the connection's ``throttleUntilTimeMs``), since
the broker has muted the channel anyway; :meth:`NetworkClient.backoff_remaining_ms` includes it, so a sender or
fetcher waiting on the broker wakes when it ends. Each answer's throttle time is kept per response type in Kafka's
``Avg``/``Max`` over the client metrics window (``metrics.num.samples`` 2 of ``metrics.sample.window.ms`` 30 s):
:meth:`NetworkClient.throttle_time` gives the producer's ``produce-throttle-time-avg/max`` and the consumer's
``fetch-throttle-time-avg/max``. Deviation: answers are counted from the first throttled one on (Kafka counts every
answer; before a first throttle they all say 0, and counting them would cost every run without quotas).

Simplification: connections are not modelled (no connect handshake); a broker is reachable unless it is backing off.
Each incarnation of a client node numbers its requests in its own range, so an answer meant for a crashed
incarnation (which in Kafka would arrive on a connection that no longer exists) is ignored by the next one.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from kafkalab.clients.metadata import ClientMetadata
from kafkalab.common.sampled_stats import Avg, Max
from kafkalab.ports import ConnectionReset
from kafkalab.protocol.sizes import message_size_bytes

__all__ = ["ClientPort", "TimerHandle", "NetworkClient", "REQUEST_TIMED_OUT", "NETWORK_EXCEPTION"]

NodeId = Hashable
REQUEST_TIMED_OUT = "REQUEST_TIMED_OUT"
NETWORK_EXCEPTION = "NETWORK_EXCEPTION"

#: correlation ids of one incarnation of a client node (see ``NetworkClient.__init__``)
_INCARNATION_STRIDE = 1 << 32

#: ``callback(response, error)``: the response, or None and REQUEST_TIMED_OUT / NETWORK_EXCEPTION.
ResponseCallback = Callable[[Any, str | None], None]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class ClientPort(Protocol):
    """What a client core may touch: the part of :class:`kafkalab.ports.ProcessPort` it uses (so a test can hand it a
    small fake; the simulator's ``ProcessContext`` satisfies both)."""

    node_id: Any

    @property
    def now(self) -> float: ...

    @property
    def alive(self) -> bool: ...

    def send(self, dst: Any, msg: Any, size_bytes: int = 64) -> None: ...

    def set_timer(self, delay_ms: float, callback: Callable[..., Any], *args: Any,
                  name: str | None = None) -> Any: ...

    def rng(self, name: str) -> random.Random: ...

    def record(self, metric: str, value: Any, **labels: Any) -> None: ...


class _InFlight:
    __slots__ = ("request", "sent_ms", "callback", "timer")

    def __init__(self, request: Any, sent_ms: float, callback: ResponseCallback, timer: Any) -> None:
        self.request = request
        self.sent_ms = sent_ms
        self.callback = callback
        self.timer = timer


class NetworkClient:
    """Correlated requests per broker with timeouts, in-flight limits and reconnect backoff."""

    def __init__(self, port: ClientPort, *, request_timeout_ms: float, reconnect_backoff_ms: float,
                 max_in_flight: int, on_disconnect: Callable[[NodeId], None] | None = None) -> None:
        self.port = port
        self.request_timeout_ms = request_timeout_ms
        self.reconnect_backoff_ms = reconnect_backoff_ms
        self.max_in_flight = max_in_flight
        self.on_disconnect = on_disconnect
        # A restarted client is a new process on new connections: an answer to its previous incarnation's request
        # must never complete one of its own. There are no connections to close here, so each incarnation numbers
        # its requests in a range of its own, and such a late answer matches nothing in flight and is dropped.
        self._next_correlation_id = 1 + _INCARNATION_STRIDE * int(getattr(port, "incarnation", 0) or 0)
        self._in_flight: dict[NodeId, dict[int, _InFlight]] = {}
        self._backoff_until: dict[NodeId, float] = {}
        self._throttle_until: dict[NodeId, float] = {}          # KIP-219, per broker
        self._throttle_stats: dict[str, tuple[Avg, Max]] = {}   # per response type: the client metrics window
        self.requests_sent = 0
        self.disconnects = 0

    def in_flight_count(self, node: NodeId) -> int:
        pending = self._in_flight.get(node)
        return len(pending) if pending else 0

    def total_in_flight(self) -> int:
        return sum(len(p) for p in self._in_flight.values())

    def is_ready(self, node: NodeId, now_ms: float) -> bool:
        """Whether a request may go to ``node`` now: not backing off and below the in-flight limit."""
        if self._backoff_until.get(node, -1.0) > now_ms:
            return False
        if self._throttle_until and self._throttle_until.get(node, -1.0) > now_ms:
            return False
        pending = self._in_flight.get(node)
        return pending is None or len(pending) < self.max_in_flight

    def backoff_remaining_ms(self, node: NodeId, now_ms: float) -> float:
        """How long until ``node`` may be sent to again: reconnect backoff, or a broker's throttle (KIP-219)."""
        wait = self._backoff_until.get(node, -1.0) - now_ms
        if self._throttle_until:
            wait = max(wait, self._throttle_until.get(node, -1.0) - now_ms)
        return max(0.0, wait)

    def min_backoff_remaining_ms(self, nodes: list[NodeId], now_ms: float) -> float:
        """How long until one of ``nodes`` may be used again (0 when one may be used now)."""
        if not nodes:
            return float("inf")
        return min(self.backoff_remaining_ms(node, now_ms) for node in nodes)

    def least_loaded(self, nodes: list[NodeId], now_ms: float, rng: random.Random) -> NodeId | None:
        """The reachable node with the fewest requests in flight, starting the scan at a random offset (Kafka's
        ``leastLoadedNode``); None when every node is backing off."""
        if not nodes:
            return None
        start = rng.randrange(len(nodes))
        best: NodeId | None = None
        best_load = 1 << 30
        for i in range(len(nodes)):
            node = nodes[(start + i) % len(nodes)]
            if self._backoff_until.get(node, -1.0) > now_ms:
                continue
            load = self.in_flight_count(node)
            if load < best_load:
                best, best_load = node, load
        return best

    def request_metadata(self, metadata: ClientMetadata, bootstrap: list[NodeId], now_ms: float, rng: random.Random,
                         callback: ResponseCallback) -> None:
        """Ask the least-loaded known broker (the bootstrap list before any is known) for ``metadata``'s topics
        (Kafka's ``NetworkClient.maybeUpdate``); when every one is backing off, ``metadata`` waits until the first
        may be used."""
        nodes = list(metadata.brokers.values()) or bootstrap
        node = self.least_loaded(nodes, now_ms, rng)
        if node is None:
            metadata.blocked_until_ms = now_ms + self.min_backoff_remaining_ms(nodes, now_ms)
            return
        self.send(node, lambda cid: metadata.request(cid, now_ms), callback)

    def send(self, node: NodeId, build: Callable[[int], Any], callback: ResponseCallback,
             expect_response: bool = True) -> int:
        """Send ``build(correlation_id)`` to ``node``; ``callback`` gets the answer (not called when
        ``expect_response`` is False: acks=0 produce requests have no answer)."""
        correlation_id = self._next_correlation_id
        self._next_correlation_id += 1
        request = build(correlation_id)
        port = self.port
        port.send(node, request, message_size_bytes(request))
        self.requests_sent += 1
        if expect_response:
            timer = port.set_timer(self.request_timeout_ms, self._timed_out, node, correlation_id,
                                   name="request-timeout")
            self._in_flight.setdefault(node, {})[correlation_id] = _InFlight(request, port.now, callback, timer)
        return correlation_id

    def on_message(self, src: NodeId, msg: Any) -> bool:
        """Hand an answer to its request's callback. False when it matches nothing in flight (a late answer on a
        dropped connection, or not a response). A :class:`~kafkalab.ports.ConnectionReset` from a broker whose
        process died drops the connection at once (what a TCP RST does), instead of waiting for request.timeout.ms."""
        if type(msg) is ConnectionReset:
            self.disconnect(src)
            return True
        correlation_id = getattr(msg, "correlation_id", None)
        pending = self._in_flight.get(src)
        if pending is None or correlation_id is None:
            return False
        entry = pending.pop(correlation_id, None)
        if entry is None:
            return False
        entry.timer.cancel()
        self.port.record("client.request.latency_ms", self.port.now - entry.sent_ms, kind=type(entry.request).__name__)
        throttle = getattr(msg, "throttle_time_ms", None)
        if throttle is not None and (throttle or self._throttle_stats):
            self._throttled(src, type(msg).__name__, throttle)
        entry.callback(msg, None)
        return True

    def _throttled(self, node: NodeId, kind: str, throttle_ms: int) -> None:
        now = self.port.now
        stats = self._throttle_stats.get(kind)
        if stats is None:       # nothing is recorded until a broker first throttles (no quotas, no cost)
            stats = self._throttle_stats[kind] = (Avg(2, 30_000.0), Max(2, 30_000.0))
        stats[0].record(throttle_ms, now)
        stats[1].record(throttle_ms, now)
        if throttle_ms > 0:
            until = now + throttle_ms
            if until > self._throttle_until.get(node, -1.0):
                self._throttle_until[node] = until

    def throttle_time(self, kind: str) -> tuple[float, float]:
        """(avg, max) throttle time in ms of the answers of type ``kind`` ("ProduceResponse", "FetchResponse") in
        the metrics window, as Kafka's ``produce-throttle-time-avg/max`` and ``fetch-throttle-time-avg/max``
        (NaN before any throttled answer)."""
        stats = self._throttle_stats.get(kind)
        if stats is None:
            return (float("nan"), float("nan"))
        now = self.port.now
        return (stats[0].measure(now), stats[1].measure(now))

    def throttle_metrics(self, kind: str, prefix: str) -> dict[str, float]:
        """Kafka's ``<prefix>-throttle-time-avg`` and ``<prefix>-throttle-time-max`` for answers of type ``kind``."""
        avg, peak = self.throttle_time(kind)
        return {f"{prefix}-throttle-time-avg": avg, f"{prefix}-throttle-time-max": peak}

    def _timed_out(self, node: NodeId, correlation_id: int) -> None:
        self.disconnect(node, timed_out=correlation_id)

    def disconnect(self, node: NodeId, timed_out: int | None = None) -> None:
        """Drop the connection to ``node``: fail everything in flight to it and back off before reconnecting."""
        pending = self._in_flight.pop(node, None)
        self._backoff_until[node] = self.port.now + self.reconnect_backoff_ms
        self.disconnects += 1
        self.port.record("client.disconnects", 1, broker=str(node), timed_out=timed_out is not None)
        if self.on_disconnect is not None:
            self.on_disconnect(node)
        if not pending:
            return
        for correlation_id in sorted(pending):
            entry = pending[correlation_id]
            entry.timer.cancel()
            entry.callback(None, REQUEST_TIMED_OUT if correlation_id == timed_out else NETWORK_EXCEPTION)

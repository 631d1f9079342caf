"""The network: latency, jitter, bandwidth, loss, per-link FIFO delivery and partitions.

How it works. Each ordered pair of nodes (src, dst) is a link that behaves like one TCP connection:
- A message of ``size_bytes`` occupies the link for ``size_bytes / bandwidth_bytes_per_ms`` ms; messages queue FIFO behind
  each other (serialisation delay), so a large fetch response delays the small heartbeat behind it, as on a real wire.
- It then travels ``latency_ms + jitter``, where jitter is drawn uniformly from ``[0, jitter_ms)`` from the link's own
  random stream (``net/<src>-><dst>``). Delivery is in order: a message never overtakes the one sent before it on the
  same link (its arrival is at least the previous arrival), which is what TCP guarantees.
- With probability ``loss`` a message is silently dropped (a model knob for lossy links; Kafka's TCP would retransmit).
- A message is dropped at delivery time if the link is cut then (partitions also eat what is in flight, as a broken TCP
  connection does), if the destination is down, or if it restarted since the message was sent (a new incarnation
  does not get the old connection's bytes).

Partitions follow Jepsen's nemesis: ``partition(*groups)`` cuts every link between nodes of different groups, nodes
named in no group keep all their links; ``isolate(n)`` cuts n from every other *server* (nodes registered with
``server=True``); ``cut(a, b)`` is a one-way cut; ``heal()`` restores everything. Cuts compose: a link is up only when no
fault cuts it.

Simplification: no TCP congestion control or retransmission; bandwidth is per direction per link. Per-link
``LinkSpec`` overrides model one slow or lossy link.

A shared NIC (opt-in, :meth:`Network.set_nic`; the hardware model of :mod:`kafkalab.broker.hardware`): a node with a
NIC serialises every message it sends through one NIC-out queue and every message it receives through one NIC-in
queue, each FIFO at the NIC's rate, shared by all its links. A message leaves when both its link and the sender's
NIC-out have carried it (the two run side by side, so an idle NIC adds no delay to a link of the same rate) and
arrives when the receiver's NIC-in has taken it in (contention there delays it; an idle NIC-in does not). The NIC-in
is booked when the message is sent, into the earliest free gap at or after the message's own arrival
(:class:`NicInQueue`), so a large message sent early but arriving late does not hold up a small one that arrives
before it. Nodes without a NIC behave exactly as before.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from heapq import heappush
from typing import Any

from kafkalab.ports import ConnectionReset
from kafkalab.sim.kernel import Kernel, Owner

__all__ = ["LinkSpec", "Network", "ConnectionReset", "GIGABIT_BYTES_PER_MS", "NicInQueue"]

NodeId = Hashable
Handler = Callable[[Any, Any], None]

#: 1 Gbit/s in bytes per virtual millisecond.
GIGABIT_BYTES_PER_MS = 125_000.0


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """How one direction of a link behaves.

    latency_ms: one-way propagation delay. jitter_ms: extra delay drawn uniformly from [0, jitter_ms).
    bandwidth_bytes_per_ms: serialisation rate (None = infinite). loss: probability a message is dropped.
    """

    latency_ms: float = 0.5
    jitter_ms: float = 0.1
    bandwidth_bytes_per_ms: float | None = GIGABIT_BYTES_PER_MS
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.jitter_ms < 0:
            raise ValueError(f"jitter_ms must be >= 0, got {self.jitter_ms}")
        if self.bandwidth_bytes_per_ms is not None and self.bandwidth_bytes_per_ms <= 0:
            raise ValueError(f"bandwidth_bytes_per_ms must be > 0 or None (infinite), got {self.bandwidth_bytes_per_ms}")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"loss must be a probability in [0, 1], got {self.loss}")


class NicInQueue:
    """A receiving NIC: busy intervals booked in any order, each into the earliest gap that fits it.

    ``book(reach, size, now)``: a message whose last byte would reach an idle NIC at ``reach`` occupies
    ``size / rate`` ms ending at ``reach`` or, if that overlaps earlier bookings, in the first later gap that holds
    it; returns when it has been taken in. Intervals that ended before ``now`` are forgotten.
    """

    __slots__ = ("rate", "_busy")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._busy: list[list[float]] = []      # sorted, non-overlapping [start, end]

    @property
    def free_at(self) -> float:
        return self._busy[-1][1] if self._busy else 0.0

    def book(self, reach: float, size: float, now: float) -> float:
        busy = self._busy
        while busy and busy[0][1] <= now:
            busy.pop(0)
        need = size / self.rate
        start = reach - need
        index = 0
        for index, (b_start, b_end) in enumerate(busy):   # noqa: B007 - index is used after the loop
            if b_end <= start:
                continue
            if b_start >= start + need:
                break
            start = b_end
        else:
            index = len(busy)
        end = start + need
        # insert [start, end] at index, merging with touching neighbours so the list stays short
        if index < len(busy) and busy[index][0] <= end:
            busy[index][0] = start
            if index > 0 and busy[index - 1][1] >= start:
                busy[index - 1][1] = busy[index][1]
                del busy[index]
        elif index > 0 and busy[index - 1][1] >= start:
            busy[index - 1][1] = end
        else:
            busy.insert(index, [start, end])
        return end


class _Link:
    __slots__ = ("spec", "free_at", "last_arrival", "rng", "sent", "delivered", "dropped", "bytes")

    def __init__(self, spec: LinkSpec, rng: random.Random) -> None:
        self.spec = spec
        self.free_at = 0.0
        self.last_arrival = 0.0
        self.rng = rng
        self.sent = 0
        self.delivered = 0
        self.dropped = 0
        self.bytes = 0


class _Endpoint:
    __slots__ = ("node", "handler", "owner", "up", "host_up", "incarnation", "server", "resets")

    def __init__(self, node: NodeId, handler: Handler, owner: Owner, server: bool, resets: bool) -> None:
        self.node = node
        self.handler = handler
        self.owner = owner
        self.up = True
        self.host_up = True
        self.incarnation = 0
        self.server = server
        self.resets = resets


class Network:
    """Message delivery between registered nodes in virtual time."""

    def __init__(self, kernel: Kernel, default: LinkSpec | None = None, *, trace: bool = False) -> None:
        self.kernel = kernel
        self.default = default or LinkSpec()
        self._endpoints: dict[NodeId, _Endpoint] = {}
        self._links: dict[tuple[NodeId, NodeId], _Link] = {}
        self._overrides: dict[tuple[NodeId, NodeId], LinkSpec] = {}
        self._group_of: dict[NodeId, int] | None = None   # partition(): node -> group index
        self._isolated: dict[NodeId, None] = {}            # ordered set
        self._one_way: dict[tuple[NodeId, NodeId], None] = {}
        self._trace = trace
        self.messages_sent = 0
        self.messages_dropped = 0
        self._nic_out: dict[NodeId, list[float]] = {}      # node -> [bytes per ms, free at]
        self._nic_in: dict[NodeId, NicInQueue] = {}

    # -- membership -----------------------------------------------------------------------------------------------
    def register(self, node: NodeId, handler: Handler, owner: Owner | None = None, *, server: bool = True,
                 resets: bool | None = None) -> None:
        """Attach ``node``: ``handler(src, msg)`` receives its messages. ``server=False`` for clients.

        ``resets``: whether this node is told, with a :class:`ConnectionReset`, when a message it sent reached a
        dead process on a live host (default: clients yes, servers no).
        """
        if node in self._endpoints:
            raise ValueError(f"node {node!r} is already registered on this network")
        self._endpoints[node] = _Endpoint(node, handler, owner or Owner(str(node)), server,
                                          (not server) if resets is None else resets)

    def attach(self, node: NodeId, handler: Handler, owner: Owner) -> None:
        """Re-attach a restarted node: a new handler and incarnation; messages to the old one are dropped."""
        ep = self._endpoint(node)
        ep.handler = handler
        ep.owner = owner
        ep.incarnation += 1
        ep.up = True
        ep.host_up = True

    def down(self, node: NodeId, host_up: bool = True) -> None:
        """The node's process died: it receives nothing until :meth:`attach`.

        With its host up (a process crash), the host's kernel closes the process's sockets: every peer that asked
        for resets and has a connection to it (it sent it something) gets a :class:`ConnectionReset` at once, as a
        Kafka client sees a broker's ``kill -9`` as a disconnect. ``host_up=False`` (power loss): nobody is told.
        """
        ep = self._endpoint(node)
        ep.up = False
        ep.host_up = host_up
        ep.incarnation += 1
        if host_up:
            for src, dst in list(self._links):
                if dst != node:
                    continue
                peer = self._endpoints.get(src)
                if peer is not None and peer.resets and peer.up and self.connected(node, src):
                    self.send(node, src, ConnectionReset(node), size_bytes=40)

    @property
    def nodes(self) -> list[NodeId]:
        return list(self._endpoints)

    def is_up(self, node: NodeId) -> bool:
        return self._endpoint(node).up

    def _endpoint(self, node: NodeId) -> _Endpoint:
        try:
            return self._endpoints[node]
        except KeyError:
            known = ", ".join(repr(n) for n in self._endpoints) or "none"
            raise KeyError(f"unknown node {node!r}; registered nodes: {known}") from None

    # -- links ------------------------------------------------------------------------------------------------------
    def set_link(self, src: NodeId, dst: NodeId, spec: LinkSpec | None = None, *, symmetric: bool = True,
                 **changes: Any) -> None:
        """Override one link (both directions unless ``symmetric=False``), e.g. ``set_link(1, 2, latency_ms=50)``."""
        self._endpoint(src)
        self._endpoint(dst)
        pairs = [(src, dst), (dst, src)] if symmetric else [(src, dst)]
        for pair in pairs:
            base = spec or self._overrides.get(pair, self.default)
            new = replace(base, **changes) if changes else base
            self._overrides[pair] = new
            if pair in self._links:
                self._links[pair].spec = new

    def reset_link(self, src: NodeId, dst: NodeId, *, symmetric: bool = True) -> None:
        """Drop a link override: the link uses the network default again."""
        pairs = [(src, dst), (dst, src)] if symmetric else [(src, dst)]
        for pair in pairs:
            self._overrides.pop(pair, None)
            if pair in self._links:
                self._links[pair].spec = self.default

    def set_nic(self, node: NodeId, out_bytes_per_ms: float | None, in_bytes_per_ms: float | None = None) -> None:
        """Give ``node`` a NIC shared by all its links: ``out_bytes_per_ms`` for what it sends, ``in_bytes_per_ms``
        (default the same) for what it receives; None removes that direction's limit."""
        self._endpoint(node)
        if in_bytes_per_ms is None:
            in_bytes_per_ms = out_bytes_per_ms
        for rate, name in ((out_bytes_per_ms, "out_bytes_per_ms"), (in_bytes_per_ms, "in_bytes_per_ms")):
            if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0):
                raise ValueError(f"set_nic: {name} must be a number > 0 or None, got {rate!r}")
        if out_bytes_per_ms is None:
            self._nic_out.pop(node, None)
        else:
            self._nic_out[node] = [float(out_bytes_per_ms), 0.0]
        if in_bytes_per_ms is None:
            self._nic_in.pop(node, None)
        else:
            self._nic_in[node] = NicInQueue(float(in_bytes_per_ms))

    def nic_busy_until(self, node: NodeId) -> tuple[float, float]:
        """(NIC-out, NIC-in) free times of ``node`` (0 without a NIC): how far its NIC is booked."""
        out, inn = self._nic_out.get(node), self._nic_in.get(node)
        return (out[1] if out else 0.0, inn.free_at if inn else 0.0)

    def link_spec(self, src: NodeId, dst: NodeId) -> LinkSpec:
        return self._overrides.get((src, dst), self.default)

    def _link(self, src: NodeId, dst: NodeId) -> _Link:
        link = self._links.get((src, dst))
        if link is None:
            spec = self._overrides.get((src, dst), self.default)
            link = self._links[(src, dst)] = _Link(spec, self.kernel.rng(f"net/{src}->{dst}"))
        return link

    # -- faults -----------------------------------------------------------------------------------------------------
    def partition(self, *groups: Iterable[NodeId]) -> None:
        """Cut every link between nodes of different groups; nodes in no group keep their links (Jepsen's rule).

        Replaces an earlier ``partition``; isolation and one-way cuts stay until :meth:`heal`.
        """
        group_of: dict[NodeId, int] = {}
        for index, group in enumerate(groups):
            for node in group:
                self._endpoint(node)
                if node in group_of:
                    raise ValueError(f"node {node!r} is named in two partition groups")
                group_of[node] = index
        self._group_of = group_of or None

    def isolate(self, node: NodeId) -> None:
        """Cut ``node`` from every other server; clients (``server=False``) can still reach it."""
        self._endpoint(node)
        self._isolated[node] = None

    def cut(self, src: NodeId, dst: NodeId) -> None:
        """One-way cut: messages from ``src`` to ``dst`` are lost; ``dst`` can still send to ``src``."""
        self._endpoint(src)
        self._endpoint(dst)
        self._one_way[(src, dst)] = None

    def heal(self) -> None:
        """Remove every partition, isolation and cut (link overrides stay)."""
        self._group_of = None
        self._isolated.clear()
        self._one_way.clear()

    def connected(self, src: NodeId, dst: NodeId) -> bool:
        """Whether a message from src to dst would get through the current cuts (ignoring loss and crashes)."""
        if src == dst:
            return True
        if self._one_way and (src, dst) in self._one_way:
            return False
        if self._isolated and (src in self._isolated or dst in self._isolated):
            a, b = self._endpoints.get(src), self._endpoints.get(dst)
            if a is not None and b is not None and a.server and b.server:
                return False
        group_of = self._group_of
        if group_of is not None:
            gs, gd = group_of.get(src), group_of.get(dst)
            if gs is not None and gd is not None and gs != gd:
                return False
        return True

    def cuts(self) -> list[tuple[NodeId, NodeId]]:
        """Every ordered pair of registered nodes that cannot talk now (for drawings)."""
        nodes = list(self._endpoints)
        return [(a, b) for a in nodes for b in nodes if a != b and not self.connected(a, b)]

    # -- sending ----------------------------------------------------------------------------------------------------
    def send(self, src: NodeId, dst: NodeId, msg: Any, size_bytes: int = 64) -> float | None:
        """Send ``msg`` from src to dst; returns the planned arrival time, or None if it was lost on the way out.

        A message to oneself is delivered on the next tick without touching a link.
        """
        kernel = self.kernel
        self.messages_sent += 1
        dst_ep = self._endpoints.get(dst)
        if dst_ep is None:
            self._endpoint(dst)  # raises a clear KeyError
            raise AssertionError("unreachable")
        if src == dst:
            kernel.post(0.0, self._deliver, src, dst_ep, dst_ep.incarnation, msg, owner=dst_ep.owner)
            return kernel.now
        bounce = not dst_ep.up   # nobody listens: the message is lost, and a live host answers with a reset
        if (self._group_of is not None or self._isolated or self._one_way) and not self.connected(src, dst):
            self.messages_dropped += 1
            return None
        link = self._links.get((src, dst))
        if link is None:
            link = self._link(src, dst)
        spec = link.spec
        link.sent += 1
        link.bytes += size_bytes
        if spec.loss and link.rng.random() < spec.loss:
            link.dropped += 1
            self.messages_dropped += 1
            return None
        now = kernel.now
        start = link.free_at if link.free_at > now else now
        if spec.bandwidth_bytes_per_ms is not None:
            start += size_bytes / spec.bandwidth_bytes_per_ms
        link.free_at = start
        if self._nic_out or self._nic_in:
            start = self._through_nics(src, dst, now, start, size_bytes, spec.latency_ms)
        arrival = start + spec.latency_ms
        if spec.jitter_ms:
            arrival += link.rng.random() * spec.jitter_ms
        if arrival < link.last_arrival:
            arrival = link.last_arrival
        link.last_arrival = arrival
        if bounce:
            self.messages_dropped += 1
            link.dropped += 1
            if dst_ep.host_up and type(msg) is not ConnectionReset:
                kernel.post_at(arrival, self._bounce, src, dst_ep)
            return arrival
        # the kernel's post_at entry, pushed here: this is the hot path of every message
        heappush(kernel._heap, [arrival, next(kernel._seq), self._deliver, (src, dst_ep, dst_ep.incarnation, msg),
                                dst_ep.owner, None, False])
        return arrival

    def _through_nics(self, src: NodeId, dst: NodeId, now: float, link_done: float, size: int,
                      latency_ms: float) -> float:
        """When a message whose link finished it at ``link_done`` has also passed the sender's NIC-out and the
        receiver's NIC-in (returned as a departure time; the caller adds latency and jitter)."""
        done = link_done
        out = self._nic_out.get(src)
        if out is not None:
            begin = out[1] if out[1] > now else now
            out[1] = begin + size / out[0]
            if out[1] > done:
                done = out[1]
        inn = self._nic_in.get(dst)
        if inn is not None:
            done = inn.book(done + latency_ms, size, now) - latency_ms
        return done

    def _bounce(self, src: NodeId, ep: _Endpoint) -> None:
        """A segment reached a live host whose process is gone: its kernel answers with RST (if the sender wants
        resets and the way back is open)."""
        sender = self._endpoints.get(src)
        if ep.host_up and sender is not None and sender.resets and sender.up and self.connected(ep.node, src):
            self.send(ep.node, src, ConnectionReset(ep.node), size_bytes=40)

    def _deliver(self, src: NodeId, ep: _Endpoint, incarnation: int, msg: Any) -> None:
        # connected() is only asked while some fault cuts links (it is True otherwise; this runs for every message)
        if not ep.up or ep.incarnation != incarnation or (
                (self._group_of is not None or self._isolated or self._one_way) and not self.connected(src, ep.node)):
            self.messages_dropped += 1
            link = self._links.get((src, ep.node))
            if link is not None:
                link.dropped += 1
            if ep.host_up and type(msg) is not ConnectionReset and self.connected(src, ep.node):
                sender = self._endpoints.get(src)
                if sender is not None and sender.resets and sender.up:
                    self.send(ep.node, src, ConnectionReset(ep.node), size_bytes=40)
            return
        link = self._links.get((src, ep.node))
        if link is not None:
            link.delivered += 1
        if self._trace:
            self.kernel.trace(f"deliver {src}->{ep.node} {type(msg).__name__}")
        ep.handler(src, msg)

    def stats(self) -> list[dict[str, Any]]:
        """Per-link counters: src, dst, sent, delivered, dropped, bytes."""
        return [dict(src=s, dst=d, sent=ln.sent, delivered=ln.delivered, dropped=ln.dropped, bytes=ln.bytes)
                for (s, d), ln in self._links.items()]

"""The process port: everything a protocol shell may ask of the world it runs in (DESIGN.md principle 3).

How it works. A protocol core (Raft node, quorum controller, replica manager, group coordinator, client state
machines) is pure: messages and the current time in, messages and timer requests out. Around each core sits a thin
*shell* (``RaftProcess``, ``MetadataLogReplica``, ``ControllerServer``, ``BrokerServer``, the client cores) that is
started with a :class:`ProcessPort` and talks to the world only through it: send a message, set a timer, read the
clock, draw from a named random stream, record a metric, write and fsync durable storage, halt itself. Nothing in a
shell imports the simulator: :class:`kafkalab.sim.world.ProcessContext` implements this port in virtual time, and a
real transport (asyncio sockets, a wall clock, files) could implement it too.

Also here, because every layer reacts to it: :class:`ConnectionReset`, what a transport delivers instead of an
answer when the peer's process is gone, and :class:`NamedTimers`, lazy deadlines by name built on the port alone.

This is Kafka's split between the protocol classes and ``NetworkClient``/``Time``/``KafkaScheduler``/``LogManager``
that they are handed; the port is a :class:`typing.Protocol`, so any object with these members is one.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ProcessPort", "Storage", "FlushableLog", "TimerHandle", "NamedTimers", "ConnectionReset", "NodeId"]

#: What names a node: an int for servers (broker and controller ids), any hashable for clients.
NodeId = Hashable


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """Delivered as a message from ``peer`` to a node whose earlier message reached ``peer``'s dead process.

    It is a TCP reset: ``peer``'s process is gone (crashed, or restarted since the connection was made) while its host
    is up, so the host's kernel answers the next segment with RST. A powered-off host sends nothing, and a partition
    eats the segment silently: then only a request timeout tells.
    """

    peer: Any


class TimerHandle(Protocol):
    """A pending callback: ``cancel()`` it; ``callback`` is None once it ran or was cancelled."""

    @property
    def time_ms(self) -> float: ...

    @property
    def callback(self) -> Callable[..., Any] | None: ...

    def cancel(self) -> None: ...


class FlushableLog(Protocol):
    """A log kept on storage whose unflushed suffix a power loss drops (a partition log, the metadata log)."""

    @property
    def log_end_offset(self) -> int: ...

    @property
    def flushed_offset(self) -> int: ...

    def flush(self, up_to_offset: int | None = None) -> object: ...

    def drop_unflushed(self) -> object: ...


class Storage(Protocol):
    """A node's durable storage: named values (small files) and attached logs, with the page cache between them and
    the platter. ``write`` lands in the page cache; ``fsync`` makes what was written durable and then calls back."""

    def write(self, key: str, value: Any) -> None: ...

    def read(self, key: str, default: Any = None) -> Any: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> list[str]: ...

    def attach_log(self, name: str, log: FlushableLog) -> None: ...

    def log(self, name: str) -> Any: ...

    def detach_log(self, name: str) -> None: ...

    @property
    def logs(self) -> dict[str, FlushableLog]: ...

    def fsync(self, callback: Callable[[], Any] | None = None, *, name: str = "fsync",
              files: Iterable[str] | None = None) -> TimerHandle: ...

    def fsync_now(self) -> None: ...

    def arm_log_writeback(self) -> None: ...


class ProcessPort(Protocol):
    """What one incarnation of a process may touch: its id, the clock, the network, timers, randomness, metrics and
    its storage. A crash ends the incarnation: its timers and pending callbacks never run, and a restart hands the
    new incarnation a new port over the same storage."""

    @property
    def node_id(self) -> Any: ...

    @property
    def incarnation(self) -> int: ...

    @property
    def now(self) -> float: ...

    @property
    def alive(self) -> bool: ...

    @property
    def disk(self) -> Storage: ...

    def send(self, dst: Any, msg: Any, size_bytes: int = 64) -> None:
        """Send ``msg``; lost if this process is dead, the link is cut or ``dst`` is down."""

    def set_timer(self, delay_ms: float, callback: Callable[..., Any], *args: Any,
                  name: str | None = None) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay_ms``, unless this process dies first."""

    def schedule_at(self, at_ms: float, callback: Callable[..., Any], *args: Any,
                    name: str | None = None) -> TimerHandle:
        """Run ``callback(*args)`` at time ``at_ms`` (not in the past), unless this process dies first."""

    def post_at(self, at_ms: float, callback: Callable[..., Any], *args: Any) -> None:
        """Like :meth:`schedule_at` without a handle (nobody cancels it): the cheap path for queued work."""

    def rng(self, name: str) -> random.Random:
        """This node's random stream ``name`` (it continues across restarts)."""

    def record(self, metric: str, value: Any, **labels: Any) -> None:
        """Record a metric sample at the current time."""

    def halt(self) -> None:
        """End this process once the current event is handled; its timers die with it. Kafka's ``Exit.halt`` after
        a fatal error, or the end of a clean shutdown once the shell flushed what it must."""


class NamedTimers:
    """Deadlines by name on a process port; ``callback(name)`` runs when one is due.

    Lazy: a name may be set as often as one likes, and at most one port timer per name is pending. Moving a deadline
    later leaves the pending timer alone; when it fires early it re-arms for the current deadline. So moving a fetch
    timeout on every response costs nothing.
    """

    def __init__(self, port: ProcessPort, callback: Callable[[str], None], label: str = "timer") -> None:
        self.port = port
        self.callback = callback
        self.label = label
        self._deadlines: dict[str, float] = {}
        self._timers: dict[str, TimerHandle] = {}

    def set(self, name: str, at_ms: float) -> None:
        self._deadlines[name] = at_ms
        timer = self._timers.get(name)
        if timer is not None and timer.callback is not None:
            if timer.time_ms <= at_ms:
                return      # it fires first and re-arms for the new deadline
            timer.cancel()
        port = self.port
        self._timers[name] = port.schedule_at(max(at_ms, port.now), self._fire, name, name=f"{self.label}:{name}")

    def cancel(self, name: str) -> None:
        self._deadlines.pop(name, None)

    def deadline(self, name: str) -> float | None:
        return self._deadlines.get(name)

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        at = self._deadlines.get(name)
        if at is None:
            return
        port = self.port
        if at > port.now:
            self._timers[name] = port.schedule_at(at, self._fire, name, name=f"{self.label}:{name}")
            return
        del self._deadlines[name]
        self.callback(name)

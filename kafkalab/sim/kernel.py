"""The discrete-event kernel: one virtual clock, one event heap, named random streams.

How it works (after SimPy's core, without its generator processes): pending events live in a binary heap of
``(time_ms, seq, Timer)`` tuples. ``seq`` is a global counter, so events due at the same virtual time run in the order
they were scheduled and the tuple comparison never reaches the Timer object. That tie-break is what makes a run
deterministic. Cancelling a timer only clears its callback; the heap entry is skipped when it surfaces (lazy deletion,
O(1) cancel).

Every timer may belong to an :class:`Owner`, one incarnation of a simulated process. Crashing the owner kills all of its
timers at once (they are skipped when they surface); a restarted process gets a new Owner. Pausing an owner (SIGSTOP)
parks its due timers until it is resumed, when they run in their original order.

Randomness comes only from :meth:`Kernel.rng`: a stream per name, seeded from ``sha256(f"{seed}/{name}")``. Adding a
component that draws from a new stream never changes what another stream draws, and Python's per-process ``hash()``
salt plays no part.

An exception escaping a callback stops the run with :class:`~kafkalab.errors.SimulationError`, naming the event, the
virtual time and the seed; :class:`~kafkalab.errors.InvariantViolation` passes through unchanged (it carries both).
"""
from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from typing import Any

from kafkalab.errors import InvariantViolation, SimulationError

__all__ = ["Kernel", "Owner", "Timer", "derive_seed"]

TraceHook = Callable[[float, str], None]


def derive_seed(seed: int, name: str) -> int:
    """A 64-bit seed for the stream ``name`` of run ``seed``, stable across processes and Python versions."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Owner:
    """One incarnation of a simulated process. Its timers die with it; a restart makes a new Owner."""

    __slots__ = ("name", "alive", "paused", "_parked")

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = True
        self.paused = False
        self._parked: list[Timer] = []

    def __repr__(self) -> str:
        state = "alive" if self.alive else "dead"
        return f"Owner({self.name!r}, {state}{', paused' if self.paused else ''})"


class Timer:
    """A scheduled callback. ``cancel()`` is O(1); a cancelled or fired timer is inactive."""

    __slots__ = ("time_ms", "callback", "args", "owner", "name")

    def __init__(self, time_ms: float, callback: Callable[..., Any] | None, args: tuple[Any, ...],
                 owner: Owner | None, name: str | None) -> None:
        self.time_ms = time_ms
        self.callback = callback
        self.args = args
        self.owner = owner
        self.name = name

    def cancel(self) -> None:
        self.callback = None
        self.args = ()

    @property
    def active(self) -> bool:
        return self.callback is not None and (self.owner is None or self.owner.alive)

    def label(self) -> str:
        if self.name is not None:
            return self.name
        cb = self.callback
        return getattr(cb, "__qualname__", None) or repr(cb)

    def __repr__(self) -> str:
        return f"Timer({self.label()!r} at {self.time_ms} ms{'' if self.active else ', inactive'})"


class Kernel:
    """A deterministic discrete-event simulator with a virtual clock in milliseconds.

    >>> k = Kernel(seed=1)
    >>> log = []
    >>> _ = k.schedule(5, log.append, "b"); _ = k.schedule(1, log.append, "a")
    >>> k.run(10); log, k.now
    (['a', 'b'], 10.0)
    """

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
        self.seed = seed
        self.now = 0.0
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0
        self._rngs: dict[str, random.Random] = {}
        self._trace_hooks: list[TraceHook] = []
        self._stopped = False
        self.events_processed = 0

    # -- scheduling ----------------------------------------------------------------------------------------------
    def schedule(self, delay_ms: float, callback: Callable[..., Any], *args: Any,
                 owner: Owner | None = None, name: str | None = None) -> Timer:
        """Run ``callback(*args)`` ``delay_ms`` from now. ``owner``: the process whose crash cancels it."""
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms} (event {name or callback!r})")
        return self.schedule_at(self.now + delay_ms, callback, *args, owner=owner, name=name)

    def schedule_at(self, time_ms: float, callback: Callable[..., Any], *args: Any,
                    owner: Owner | None = None, name: str | None = None) -> Timer:
        """Run ``callback(*args)`` at virtual time ``time_ms`` (not in the past)."""
        if time_ms < self.now:
            raise ValueError(f"cannot schedule at {time_ms} ms: the clock is already at {self.now} ms")
        timer = Timer(time_ms, callback, args, owner, name)
        self._seq += 1
        heapq.heappush(self._heap, (time_ms, self._seq, timer))
        return timer

    def call_soon(self, callback: Callable[..., Any], *args: Any, owner: Owner | None = None,
                  name: str | None = None) -> Timer:
        """Run ``callback(*args)`` at the current time, after every event already due now."""
        return self.schedule_at(self.now, callback, *args, owner=owner, name=name)

    # -- owners ---------------------------------------------------------------------------------------------------
    def kill(self, owner: Owner) -> None:
        """End an incarnation: none of its timers will run (parked ones included)."""
        owner.alive = False
        owner.paused = False
        owner._parked.clear()

    def pause(self, owner: Owner) -> None:
        """Freeze a process: its timers that come due wait until :meth:`resume`."""
        owner.paused = True

    def resume(self, owner: Owner) -> None:
        """Unfreeze a process: timers that came due while it was paused run now, in their original order."""
        if not owner.paused:
            return
        owner.paused = False
        parked, owner._parked = owner._parked, []
        for timer in parked:
            self._seq += 1
            timer.time_ms = self.now
            heapq.heappush(self._heap, (self.now, self._seq, timer))

    # -- randomness and tracing --------------------------------------------------------------------------------
    def rng(self, name: str) -> random.Random:
        """The random stream ``name`` of this run (the same object for the same name)."""
        stream = self._rngs.get(name)
        if stream is None:
            stream = self._rngs[name] = random.Random(derive_seed(self.seed, name))
        return stream

    def add_trace_hook(self, hook: TraceHook) -> None:
        """Call ``hook(time_ms, label)`` for every event that runs and every :meth:`trace` line."""
        self._trace_hooks.append(hook)

    def remove_trace_hook(self, hook: TraceHook) -> None:
        self._trace_hooks.remove(hook)

    def trace(self, line: str) -> None:
        """Components describe what happened (a message delivered, a role change) for the trace."""
        for hook in self._trace_hooks:
            hook(self.now, line)

    # -- running ----------------------------------------------------------------------------------------------
    def peek(self) -> float | None:
        """Time of the next pending entry (possibly a cancelled one), or None."""
        return self._heap[0][0] if self._heap else None

    def stop(self) -> None:
        """Make the current ``run``/``run_until`` return after the event being processed."""
        self._stopped = True

    def step(self) -> bool:
        """Run the next live event. Returns False when nothing is pending."""
        heap = self._heap
        while heap:
            time_ms, _, timer = heapq.heappop(heap)
            if self._fire(time_ms, timer):
                return True
        return False

    def _fire(self, time_ms: float, timer: Timer) -> bool:
        callback = timer.callback
        if callback is None:
            return False
        owner = timer.owner
        if owner is not None:
            if not owner.alive:
                return False
            if owner.paused:
                owner._parked.append(timer)
                return False
        self.now = time_ms
        timer.callback = None
        self.events_processed += 1
        if self._trace_hooks:
            label = timer.label()
            for hook in self._trace_hooks:
                hook(time_ms, label if owner is None else f"{owner.name}:{label}")
        try:
            callback(*timer.args)
        except InvariantViolation:
            raise
        except Exception as exc:
            event = timer.name or str(getattr(callback, "__qualname__", repr(callback)))
            where = f" on {owner.name}" if owner is not None else ""
            raise SimulationError(
                f"event {event!r}{where} at t={time_ms} ms raised {type(exc).__name__}: {exc} "
                f"(seed={self.seed}; replay with the same seed and config)",
                seed=self.seed, time_ms=time_ms, event=event) from exc
        return True

    def run(self, ms: float) -> None:
        """Advance virtual time by ``ms``, running every event due up to and including ``now + ms``."""
        if ms < 0:
            raise ValueError(f"run(ms) needs ms >= 0, got {ms}")
        self.run_to(self.now + ms)

    def run_to(self, until_ms: float) -> None:
        """Run every event due at or before ``until_ms``; the clock ends at ``until_ms`` (or where stop() was called)."""
        heap = self._heap
        fire = self._fire
        pop = heapq.heappop
        self._stopped = False
        while heap and heap[0][0] <= until_ms:
            time_ms, _, timer = pop(heap)
            fire(time_ms, timer)
            if self._stopped:
                self._stopped = False
                return
        if until_ms > self.now:
            self.now = until_ms

    def run_until(self, predicate: Callable[[], bool], timeout_ms: float) -> bool:
        """Run events until ``predicate()`` is true (checked before and after each event) or ``timeout_ms`` passes.

        Returns whether the predicate held. On success the clock stays at the event that made it true; on timeout it
        ends at ``now + timeout_ms``.
        """
        if timeout_ms < 0:
            raise ValueError(f"run_until needs timeout_ms >= 0, got {timeout_ms}")
        if predicate():
            return True
        deadline = self.now + timeout_ms
        heap = self._heap
        fire = self._fire
        pop = heapq.heappop
        while heap and heap[0][0] <= deadline:
            time_ms, _, timer = pop(heap)
            if fire(time_ms, timer) and predicate():
                return True
        if deadline > self.now:
            self.now = deadline
        return bool(predicate())

    def pending(self) -> int:
        """Heap entries still queued (cancelled ones included until they surface)."""
        return len(self._heap)

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
import itertools
import random
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from kafkalab.errors import InvariantViolation, SimulationError

__all__ = ["Kernel", "Owner", "Timer", "derive_seed"]

TraceHook = Callable[[float, str], None]
_NO_LIMIT = 1 << 62


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
        self._parked: list[list[Any]] = []

    def __repr__(self) -> str:
        state = "alive" if self.alive else "dead"
        return f"Owner({self.name!r}, {state}{', paused' if self.paused else ''})"


class Timer(list):  # type: ignore[type-arg]
    """A scheduled callback, which is also its own heap entry
    ``[time_ms, seq, callback, args, owner, name, repeating]``.

    Heap entries are lists so that the heap compares them in C (time, then the unique seq) and so that creating one
    costs no Python ``__init__``. ``cancel()`` is O(1); a cancelled or fired timer is inactive.
    """

    __slots__ = ()

    @property
    def time_ms(self) -> float:
        return self[0]  # type: ignore[no-any-return]

    @property
    def callback(self) -> Callable[..., Any] | None:
        return self[2]  # type: ignore[no-any-return]

    @property
    def owner(self) -> Owner | None:
        return self[4]  # type: ignore[no-any-return]

    @property
    def name(self) -> str | None:
        return self[5]  # type: ignore[no-any-return]

    def cancel(self) -> None:
        self[2] = None
        self[3] = ()

    @property
    def active(self) -> bool:
        owner = self[4]
        return self[2] is not None and (owner is None or owner.alive)

    def label(self) -> str:
        return _label(self)

    def __repr__(self) -> str:
        return f"Timer({_label(self)!r} at {self[0]} ms{'' if self.active else ', inactive'})"


def _label(entry: list[Any]) -> str:  # entry: a heap entry, or its first six fields
    if entry[5] is not None:
        return str(entry[5])
    cb = entry[2]
    return str(getattr(cb, "__qualname__", None) or repr(cb))


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
        self._heap: list[list[Any]] = []
        self._seq = itertools.count(1)
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
        timer = Timer((self.now + delay_ms, next(self._seq), callback, args, owner, name, False))
        heappush(self._heap, timer)
        return timer

    def schedule_at(self, time_ms: float, callback: Callable[..., Any], *args: Any,
                    owner: Owner | None = None, name: str | None = None) -> Timer:
        """Run ``callback(*args)`` at virtual time ``time_ms`` (not in the past)."""
        if time_ms < self.now:
            raise ValueError(f"cannot schedule at {time_ms} ms: the clock is already at {self.now} ms")
        timer = Timer((time_ms, next(self._seq), callback, args, owner, name, False))
        heappush(self._heap, timer)
        return timer

    def post(self, delay_ms: float, callback: Callable[..., Any], *args: Any, owner: Owner | None = None) -> None:
        """Fast path for events nobody cancels (deliveries, self-rescheduling ticks): like ``schedule``, no handle.

        ``delay_ms`` must be >= 0; it is not checked here, the hot path of every message.
        """
        heappush(self._heap, [self.now + delay_ms, next(self._seq), callback, args, owner, None, False])

    def post_at(self, time_ms: float, callback: Callable[..., Any], *args: Any, owner: Owner | None = None) -> None:
        """Fast path of ``schedule_at`` (``time_ms >= now`` is the caller's promise). ``Network.send`` pushes this
        same entry inline for every message (one call less on the hottest path): keep the two in step."""
        heappush(self._heap, [time_ms, next(self._seq), callback, args, owner, None, False])

    def repeat(self, delay_ms: float, callback: Callable[..., float | None], *args: Any,
               owner: Owner | None = None, name: str | None = None) -> Timer:
        """A self-rescheduling timer: run ``callback(*args)`` after ``delay_ms``; while it returns a number of ms,
        run it again that much later (heartbeats, periodic checks). Returning None, or ``cancel()``, ends it.

        The entry is reused, so a periodic timer costs no allocation per firing.
        """
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms} (event {name or callback!r})")
        timer = Timer((self.now + delay_ms, next(self._seq), callback, args, owner, name, True))
        heappush(self._heap, timer)
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
        for entry in parked:
            entry[0] = self.now
            entry[1] = next(self._seq)
            heappush(self._heap, entry)

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
        return self._heap[0][0] if self._heap else None  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Make the current ``run``/``run_until`` return after the event being processed."""
        self._stopped = True

    def step(self) -> bool:
        """Run the next live event. Returns False when nothing is pending."""
        while self._heap:
            if self._run_entries(float("inf"), 1):
                return True
        return False

    def _run_entries(self, until_ms: float, limit: int, predicate: Callable[[], bool] | None = None) -> int:
        """Run up to ``limit`` live events due by ``until_ms``; stop early on stop() or when ``predicate()`` holds.

        The one hot loop of the simulator: everything it touches is a local.
        """
        heap = self._heap
        pop = heappop
        hooks = self._trace_hooks
        ran = 0
        self._stopped = False
        while heap and heap[0][0] <= until_ms:
            entry = pop(heap)
            callback = entry[2]
            if callback is None:
                continue
            owner = entry[4]
            if owner is not None and (owner.paused or not owner.alive):
                if owner.alive:
                    owner._parked.append(entry)
                continue
            time_ms = self.now = entry[0]
            ran += 1
            if hooks:
                label = _label(entry)
                if owner is not None:
                    label = f"{owner.name}:{label}"
                for hook in hooks:
                    hook(time_ms, label)
            try:
                if entry[6]:
                    again = callback(*entry[3])
                    if again is not None and entry[2] is not None:
                        entry[0] = time_ms + again
                        entry[1] = next(self._seq)
                        heappush(heap, entry)
                    else:
                        entry[2] = None
                else:
                    entry[2] = None
                    callback(*entry[3])
            except InvariantViolation:
                self.events_processed += ran
                raise
            except Exception as exc:
                self.events_processed += ran
                entry[2] = None
                event = _label([None, None, callback, None, None, entry[5]])
                where = f" on {owner.name}" if owner is not None else ""
                raise SimulationError(
                    f"event {event!r}{where} at t={time_ms} ms raised {type(exc).__name__}: {exc} "
                    f"(seed={self.seed}; replay with the same seed and config)",
                    seed=self.seed, time_ms=time_ms, event=event) from exc
            if ran >= limit or self._stopped or (predicate is not None and predicate()):
                break
        self.events_processed += ran
        return ran

    def run(self, ms: float) -> None:
        """Advance virtual time by ``ms``, running every event due up to and including ``now + ms``."""
        if ms < 0:
            raise ValueError(f"run(ms) needs ms >= 0, got {ms}")
        self.run_to(self.now + ms)

    def run_to(self, until_ms: float) -> None:
        """Run every event due at or before ``until_ms``; the clock ends at ``until_ms`` (or where stop() was called)."""
        self._run_entries(until_ms, _NO_LIMIT)
        if self._stopped:
            self._stopped = False
            return
        if until_ms > self.now and until_ms != float("inf"):
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
        while self._heap and self._heap[0][0] <= deadline:
            self._run_entries(deadline, _NO_LIMIT, predicate)
            if predicate():
                return True
            if self._stopped:
                self._stopped = False
                return False
        if deadline > self.now and deadline != float("inf"):
            self.now = deadline
        return bool(predicate())

    def pending(self) -> int:
        """Heap entries still queued (cancelled ones included until they surface)."""
        return len(self._heap)

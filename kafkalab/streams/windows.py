"""Window specifications and windowed keys (Kafka's ``TimeWindows``, ``SlidingWindows``, ``SessionWindows``,
``JoinWindows``, ``Windowed``, ``TimeWindow``, ``SessionWindow`` and ``WindowedSerdes``).

How it works. A window specification is a frozen value built by Kafka's factory names in Python spelling, with
durations in milliseconds (an ``int`` or a ``datetime.timedelta``):

- ``TimeWindows.of_size_with_no_grace(size)`` / ``of_size_and_grace(size, grace)``, then ``.advance_by(advance)``
  for hopping windows. A record at ``t`` falls into every window ``[start, start + size)`` with ``start`` a multiple
  of ``advance`` and ``start <= t < start + size`` (``TimeWindows.windowsFor``); starts are never negative.
- ``SlidingWindows.of_time_difference_and_grace(diff, grace)`` (KIP-450): windows ``[start, start + diff]``, both
  ends inclusive, one for each distinct set of records that lie within ``diff`` of each other.
- ``SessionWindows.of_inactivity_gap_and_grace(gap, grace)``: records of a key closer than ``gap`` form one session
  ``[first, last]``.
- ``JoinWindows.of_time_difference_and_grace(diff, grace)``, ``.before(ms)``, ``.after(ms)``: a record at ``t`` joins
  records of the other stream in ``[t - before, t + after]``.

A window *closes* when stream time passes its end plus the grace period; a record for a closed window is late and
dropped (and counted). :class:`Windowed` is the key of a windowed table: the record key and its :class:`Window`; its
text is Kafka's ``[key@start/end]``. :func:`windowed_serde` writes it as Kafka's ``TimeWindowedSerializer`` does (key
bytes, then the 8-byte window start) or, for sessions, as ``SessionWindowedSerializer`` does (key bytes, 8-byte end,
8-byte start); a time-windowed key is read back with the window size, as ``TimeWindowedDeserializer`` needs it.
"""
from __future__ import annotations

import datetime
import struct
from dataclasses import dataclass, replace
from typing import Any

from kafkalab.streams.serdes import Serde

__all__ = ["TimeWindows", "SlidingWindows", "SessionWindows", "JoinWindows", "Window", "Windowed",
           "WindowedSerde", "windowed_serde", "duration_ms"]

_TS = struct.Struct(">q")


def duration_ms(value: Any, what: str) -> int:
    """``value`` (an int of milliseconds or a ``timedelta``) as whole milliseconds; negative is an error."""
    if isinstance(value, datetime.timedelta):
        ms = value // datetime.timedelta(milliseconds=1)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of milliseconds or a datetime.timedelta, got "
                        f"{type(value).__name__} {value!r}")
    else:
        ms = value
    if ms < 0:
        raise ValueError(f"{what} must not be negative, got {ms} ms")
    return int(ms)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A window's bounds in ms: ``[start, end)`` for time windows, ``[start, end]`` for sliding and session ones."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Windowed:
    """The key of a windowed aggregation: the record ``key`` and its ``window`` (Kafka's ``Windowed``)."""

    key: Any
    window: Window

    def __str__(self) -> str:
        return f"[{self.key}@{self.window.start}/{self.window.end}]"


@dataclass(frozen=True, slots=True)
class TimeWindows:
    """Tumbling (``advance == size``) or hopping windows of ``size_ms`` (Kafka's ``TimeWindows``)."""

    size_ms: int
    advance_ms: int
    grace_ms: int

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ValueError("Window size (sizeMs) must be larger than zero.")
        if self.advance_ms <= 0 or self.advance_ms > self.size_ms:
            raise ValueError(f"Window advancement interval should be more than zero and less than window duration "
                             f"which is {self.size_ms} ms, but given advancement interval is: {self.advance_ms} ms")

    @classmethod
    def of_size_with_no_grace(cls, size: Any) -> TimeWindows:
        """Tumbling windows of ``size``; a record after its window's end is late."""
        return cls.of_size_and_grace(size, 0)

    @classmethod
    def of_size_and_grace(cls, size: Any, grace: Any) -> TimeWindows:
        """Tumbling windows of ``size`` that accept out-of-order records until ``grace`` after their end."""
        s = duration_ms(size, "size")
        return cls(s, s, duration_ms(grace, "grace"))

    def advance_by(self, advance: Any) -> TimeWindows:
        """Hopping windows: a new one starts every ``advance``."""
        return TimeWindows(self.size_ms, duration_ms(advance, "advance"), self.grace_ms)

    def windows_for(self, timestamp: int) -> list[Window]:
        """Every window ``timestamp`` falls into, earliest first (``TimeWindows.windowsFor``)."""
        start = (max(0, timestamp - self.size_ms + self.advance_ms) // self.advance_ms) * self.advance_ms
        out = []
        while start <= timestamp:
            out.append(Window(start, start + self.size_ms))
            start += self.advance_ms
        return out

    def size(self) -> int:
        return self.size_ms


@dataclass(frozen=True, slots=True)
class SlidingWindows:
    """Windows of ``time_difference_ms`` that slide with the records (KIP-450, Kafka's ``SlidingWindows``)."""

    time_difference_ms: int
    grace_ms: int

    @classmethod
    def of_time_difference_with_no_grace(cls, time_difference: Any) -> SlidingWindows:
        return cls(duration_ms(time_difference, "time_difference"), 0)

    @classmethod
    def of_time_difference_and_grace(cls, time_difference: Any, grace: Any) -> SlidingWindows:
        """Records within ``time_difference`` of each other share a window; ``grace`` admits late ones."""
        return cls(duration_ms(time_difference, "time_difference"), duration_ms(grace, "grace"))


@dataclass(frozen=True, slots=True)
class SessionWindows:
    """Sessions of activity separated by more than ``inactivity_gap_ms`` (Kafka's ``SessionWindows``)."""

    inactivity_gap_ms: int
    grace_ms: int

    def __post_init__(self) -> None:
        if self.inactivity_gap_ms <= 0:
            raise ValueError("Gap time cannot be zero or negative.")

    @classmethod
    def of_inactivity_gap_with_no_grace(cls, gap: Any) -> SessionWindows:
        return cls(duration_ms(gap, "gap"), 0)

    @classmethod
    def of_inactivity_gap_and_grace(cls, gap: Any, grace: Any) -> SessionWindows:
        """Sessions that end after ``gap`` without records; ``grace`` admits late ones."""
        return cls(duration_ms(gap, "gap"), duration_ms(grace, "grace"))


@dataclass(frozen=True, slots=True)
class JoinWindows:
    """How far apart two records of a stream-stream join may be (Kafka's ``JoinWindows``): a record at ``t`` of
    this stream joins records of the other at ``t - before_ms`` through ``t + after_ms``."""

    before_ms: int
    after_ms: int
    grace_ms: int

    def __post_init__(self) -> None:
        if self.before_ms + self.after_ms < 0:
            raise ValueError("Window interval (ie, beforeMs+afterMs) must not be negative.")

    @classmethod
    def of_time_difference_with_no_grace(cls, time_difference: Any) -> JoinWindows:
        d = duration_ms(time_difference, "time_difference")
        return cls(d, d, 0)

    @classmethod
    def of_time_difference_and_grace(cls, time_difference: Any, grace: Any) -> JoinWindows:
        """Symmetric windows of ``time_difference``; ``grace`` admits late records."""
        d = duration_ms(time_difference, "time_difference")
        return cls(d, d, duration_ms(grace, "grace"))

    def before(self, time_difference: Any) -> JoinWindows:
        """How far back in time a record joins (may be negative, as long as before + after >= 0)."""
        return replace(self, before_ms=_signed_ms(time_difference, "time_difference"))

    def after(self, time_difference: Any) -> JoinWindows:
        """How far forward in time a record joins."""
        return replace(self, after_ms=_signed_ms(time_difference, "time_difference"))

    def size(self) -> int:
        return self.before_ms + self.after_ms


def _signed_ms(value: Any, what: str) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value // datetime.timedelta(milliseconds=1))
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of milliseconds or a datetime.timedelta, got "
                        f"{type(value).__name__} {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class WindowedSerde(Serde):
    """The serde of :class:`Windowed` keys around an ``inner`` key serde (None: the app's default key serde,
    resolved by :meth:`resolve` when the task starts, as Kafka configures a wrapping serde)."""

    inner: Serde | None = None
    session: bool = False
    size_ms: int = 0

    def resolve(self, default: Serde | None) -> WindowedSerde | None:
        """This serde with its inner serde set (None when neither it nor ``default`` is known)."""
        if self.inner is not None:
            return self
        return None if default is None else windowed_serde(default, session=self.session, size_ms=self.size_ms)


def windowed_serde(inner: Serde | None, *, session: bool = False, size_ms: int = 0) -> WindowedSerde:
    """Kafka's ``TimeWindowedSerde`` (``session=False``; ``size_ms`` gives the end back on reading) or
    ``SessionWindowedSerde``."""
    def to_bytes(w: Any) -> bytes:
        if inner is None:
            raise TypeError("windowed serde: no inner key serde (set default.key.serde)")
        if not isinstance(w, Windowed):
            raise TypeError(f"a windowed key must be a Windowed, got {type(w).__name__}")
        kb = inner.serialize(w.key) or b""
        if session:
            return kb + _TS.pack(w.window.end) + _TS.pack(w.window.start)
        return kb + _TS.pack(w.window.start)

    def from_bytes(b: bytes) -> Any:
        if inner is None:
            raise TypeError("windowed serde: no inner key serde (set default.key.serde)")
        if session:
            end, start = _TS.unpack_from(b, len(b) - 16)[0], _TS.unpack_from(b, len(b) - 8)[0]
            return Windowed(inner.deserialize(b[:-16]), Window(start, end))
        start = _TS.unpack_from(b, len(b) - 8)[0]
        return Windowed(inner.deserialize(b[:-8]), Window(start, start + size_ms))
    name = f"{'session' if session else 'time'}-windowed({'default' if inner is None else inner.name})"
    return WindowedSerde(name, to_bytes, from_bytes, inner, session, size_ms)

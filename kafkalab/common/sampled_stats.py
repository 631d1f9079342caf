"""Windowed statistics as Kafka's metrics library keeps them (``org.apache.kafka.common.metrics.stats``).

How it works. A :class:`SampledStat` keeps up to ``samples + 1`` samples, each covering ``window_ms`` from its start
(Kafka's ``MetricConfig.samples`` / ``timeWindowMs``; the extra one is Kafka's "overlapping sample"). A value recorded
when the current sample is complete (older than ``window_ms``) starts the next sample, reusing the oldest slot. Before
a measurement, samples whose last event is ``samples * window_ms`` old are reset (``purgeObsoleteSamples``).
:class:`Rate` divides the windowed sum by :meth:`Rate.window_size_ms`: the time since the oldest sample started, but
never less than ``samples - 1`` full windows (so a fresh sensor does not report a huge rate from one event), and at
least 1 ms. :class:`Avg` and :class:`Max` combine the same samples as Kafka's ``Avg`` and ``Max``.

Times are the simulation's virtual milliseconds (floats); Kafka reads a long millisecond clock. Nothing here reads a
clock: every call is handed ``now_ms``.
"""
from __future__ import annotations

import math

__all__ = ["SampledStat", "Rate", "Avg", "Max"]


class _Sample:
    __slots__ = ("event_count", "start_ms", "last_event_ms", "value")

    def __init__(self, initial: float, now_ms: float) -> None:
        self.event_count = 0
        self.start_ms = now_ms
        self.last_event_ms = now_ms
        self.value = initial

    def reset(self, initial: float, now_ms: float) -> None:
        self.event_count = 0
        self.start_ms = now_ms
        self.last_event_ms = now_ms
        self.value = initial


class SampledStat:
    """Kafka's ``SampledStat`` over ``samples`` windows of ``window_ms``; subclasses say how a value updates a
    sample and how samples combine."""

    __slots__ = ("samples", "window_ms", "_initial", "_current", "_list")

    def __init__(self, samples: int, window_ms: float, initial: float = 0.0) -> None:
        if samples < 1 or window_ms <= 0:
            raise ValueError(f"SampledStat: samples must be >= 1 and window_ms > 0, got {samples}, {window_ms}")
        self.samples = samples
        self.window_ms = window_ms
        self._initial = initial
        self._current = 0
        self._list: list[_Sample] = []

    def _update(self, sample: _Sample, value: float) -> None:
        sample.value += value

    def _combine(self, now_ms: float) -> float:
        return sum(s.value for s in self._list)

    def record(self, value: float, now_ms: float) -> None:
        """Add ``value`` at ``now_ms`` to the current sample (a new one when it is complete)."""
        sample = self._current_sample(now_ms)
        if now_ms - sample.start_ms >= self.window_ms:
            sample = self._advance(now_ms)
        self._update(sample, value)
        sample.event_count += 1
        sample.last_event_ms = now_ms

    def _current_sample(self, now_ms: float) -> _Sample:
        if not self._list:
            self._list.append(_Sample(self._initial, now_ms))
        return self._list[self._current]

    def _advance(self, now_ms: float) -> _Sample:
        self._current = (self._current + 1) % (self.samples + 1)
        if self._current >= len(self._list):
            sample = _Sample(self._initial, now_ms)
            self._list.append(sample)
            return sample
        sample = self._list[self._current]
        sample.reset(self._initial, now_ms)
        return sample

    def purge(self, now_ms: float) -> None:
        """Reset the samples with no event in the last ``samples * window_ms`` (``purgeObsoleteSamples``)."""
        expire = self.samples * self.window_ms
        for s in self._list:
            if now_ms - s.last_event_ms >= expire:
                s.reset(self._initial, now_ms)

    def oldest_start_ms(self, now_ms: float) -> float:
        if not self._list:
            self._list.append(_Sample(self._initial, now_ms))
        return min(s.start_ms for s in self._list)

    def measure(self, now_ms: float) -> float:
        self.purge(now_ms)
        return self._combine(now_ms)


class Rate(SampledStat):
    """Kafka's ``Rate`` over a ``WindowedSum``: units per second."""

    __slots__ = ()

    def window_size_ms(self, now_ms: float) -> float:
        """The span the windowed sum is divided by (``Rate.windowSize``)."""
        self.purge(now_ms)
        elapsed = now_ms - self.oldest_start_ms(now_ms)
        full = int(elapsed // self.window_ms)
        minimum = self.samples - 1
        if full < minimum:
            elapsed += (minimum - full) * self.window_ms
        return max(elapsed, 1.0)

    def measure(self, now_ms: float) -> float:
        total = super().measure(now_ms)
        return total / (self.window_size_ms(now_ms) / 1000.0)


class Avg(SampledStat):
    """Kafka's ``Avg``: the mean of the values recorded in the retained samples (NaN when there are none)."""

    __slots__ = ()

    def _combine(self, now_ms: float) -> float:
        count = sum(s.event_count for s in self._list)
        return sum(s.value for s in self._list) / count if count else math.nan


class Max(SampledStat):
    """Kafka's ``Max``: the largest value recorded in the retained samples (NaN when there are none)."""

    __slots__ = ()

    def __init__(self, samples: int, window_ms: float) -> None:
        super().__init__(samples, window_ms, -math.inf)

    def _update(self, sample: _Sample, value: float) -> None:
        if value > sample.value:
            sample.value = value

    def _combine(self, now_ms: float) -> float:
        values = [s.value for s in self._list if s.event_count > 0]
        return max(values) if values else math.nan

"""The processors of windowed aggregations (Kafka's ``KStreamWindowAggregate``, ``KStreamSlidingWindowAggregate`` and
``KStreamSessionWindowAggregate`` in ``kstream/internals``).

How it works. Each processor keeps its *observed stream time* (the largest timestamp it has seen, per task) and the
*window close time* = observed stream time - grace (for sessions, also - the inactivity gap, as Kafka 4 computes
it). A record whose window ends at or before the close time (sliding windows: strictly before) is *late*: it is
dropped and counted in the task's dropped records (Kafka's ``dropped-records`` sensor, and the "Skipping record for
expired window" log line). Otherwise it updates the windows it falls into:

- time windows: every window of ``TimeWindows.windows_for(t)``; the stored timestamp is the largest record
  timestamp of the window, which becomes the output record's timestamp.
- sliding windows (KIP-450): the record's *left* window ``[t - d, t]`` is created (its aggregate taken from the
  previous window when records lie within it), existing windows that contain ``t`` are updated, the *right* window
  ``[t + 1, t + 1 + d]`` of the record is created when later records fall in it, and so is the right window of the
  previous record; records before ``d`` go into the window ``[0, d]`` (``processEarly``), exactly as Kafka's
  in-order algorithm does.
- session windows: every session of the key within the gap of ``t`` is merged (aggregates combined by the
  ``merger``) into one; the merged ones are removed (a tombstone downstream) and the new session stored. Session
  updates carry the session's end as their timestamp.

Updates reach downstream through the store's flush listener (at once, or at commit with the record cache), as
``Change(new, old)`` keyed by :class:`~kafkalab.streams.windows.Windowed`.

Not modelled: ``emitStrategy(onWindowClose)`` (KIP-825); use ``suppress(untilWindowCloses)``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalab.streams.dsl_processors import DroppedCounter
from kafkalab.streams.processor import Change, ProcessorContext, Record
from kafkalab.streams.windows import SessionWindows, SlidingWindows, TimeWindows, Window

__all__ = ["WindowAggregate", "SlidingWindowAggregate", "SessionWindowAggregate"]

Aggregator = Callable[[Any, Any, Any], Any]


class _WindowedAggregate(DroppedCounter):
    def __init__(self, store: str, initializer: Callable[[], Any], aggregator: Aggregator,
                 send_old: Callable[[], bool]) -> None:
        self.store_name, self.initializer, self.aggregator, self.send_old = store, initializer, aggregator, send_old
        self.observed_stream_time = -1

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store: Any = context.get_state_store(self.store_name)
        store, send_old = self.store, self.send_old

        def listener(ck: Any, new: Any, old: Any, timestamp: int) -> None:
            new_v = None if new is None else new[0]
            old_v = None if old is None or not send_old() else old[0]
            context.forward(Record(store.windowed(ck), Change(new_v, old_v), timestamp))
        self.store.flush_listener = listener

    def _observe(self, timestamp: int, grace_ms: int) -> int:
        if timestamp > self.observed_stream_time:
            self.observed_stream_time = timestamp
        return self.observed_stream_time - grace_ms


class WindowAggregate(_WindowedAggregate):
    """Tumbling and hopping windows (``KStreamWindowAggregate``)."""

    def __init__(self, store: str, windows: TimeWindows, initializer: Callable[[], Any], aggregator: Aggregator,
                 send_old: Callable[[], bool]) -> None:
        super().__init__(store, initializer, aggregator, send_old)
        self.windows = windows

    def process(self, record: Record) -> None:
        if record.key is None:
            self._drop()
            return
        ts = record.timestamp
        close = self._observe(ts, self.windows.grace_ms)
        for w in self.windows.windows_for(ts):
            if w.end <= close:
                self._drop()            # "Skipping record for expired window"
                continue
            old = self.store.fetch(record.key, w.start)
            if old is None or old[0] is None:
                agg, new_ts = self.initializer(), ts
            else:
                agg, new_ts = old[0], max(ts, old[1])
            self.store.put_window(record.key, (self.aggregator(record.key, record.value, agg), new_ts), w.start,
                                  new_ts)


class SlidingWindowAggregate(_WindowedAggregate):
    """Sliding windows (``KStreamSlidingWindowAggregate``, its in-order variant)."""

    def __init__(self, store: str, windows: SlidingWindows, initializer: Callable[[], Any], aggregator: Aggregator,
                 send_old: Callable[[], bool]) -> None:
        super().__init__(store, initializer, aggregator, send_old)
        self.windows = windows
        self.diff = windows.time_difference_ms

    def process(self, record: Record) -> None:
        if record.key is None or record.value is None:
            self._drop()
            return
        ts = record.timestamp
        close = self._observe(ts, self.windows.grace_ms)
        if ts + self.diff < close:
            self._drop()
            return
        if ts < self.diff:
            self._process_early(record, close)
            return
        d = self.diff
        starts: set[int] = set()
        left_agg = right_agg = None
        left_created = right_created = False
        previous: int | None = None
        for start, vt in self.store.fetch_range(record.key, max(0, ts - 2 * d), ts + 1):
            starts.add(start)
            end = start + d
            if end < ts:
                left_agg, previous = vt, vt[1]
            elif end == ts:
                left_created = True
                if vt[1] < ts:
                    previous = vt[1]
                self._update(Window(start, end), vt, record, close)
            elif start <= ts:
                right_agg = vt
                self._update(Window(start, end), vt, record, close)
            elif start == ts + 1:
                right_created = True
        if previous is not None:
            prev_right = previous + 1
            if prev_right not in starts and prev_right + d >= ts:
                self._update(Window(prev_right, prev_right + d), (self.initializer(), ts), record, close)
        if not left_created:
            if previous is not None and ts - d <= previous and left_agg is not None:
                vt = (left_agg[0], ts)
            else:
                vt = (self.initializer(), ts)
            self._update(Window(ts - d, ts), vt, record, close)
        if not right_created and right_agg is not None and right_agg[1] > ts:
            self._put(record.key, Window(ts + 1, ts + 1 + d), right_agg)

    def _process_early(self, record: Record, close: int) -> None:
        ts, d = record.timestamp, self.diff
        combined: tuple[Window, Any] | None = None
        right_agg = None
        right_created = False
        starts: set[int] = set()
        previous: int | None = None
        for start, vt in self.store.fetch_range(record.key, 0, ts + 1):
            starts.add(start)
            if start == 0:
                combined = (Window(0, d), vt)
                if vt[1] < ts:
                    previous = vt[1]
            elif start <= ts:
                right_agg = vt
                self._update(Window(start, start + d), vt, record, close)
            elif start == ts + 1:
                right_created = True
        if right_agg is None and combined is not None and combined[1][1] > ts:
            right_agg = combined[1]
        if not right_created and right_agg is not None and right_agg[1] > ts:
            self._put(record.key, Window(ts + 1, ts + 1 + d), right_agg)
        if previous is not None and previous + 1 not in starts:
            self._update(Window(previous + 1, previous + 1 + d), (self.initializer(), ts), record, close)
        if combined is None:
            self._update(Window(0, d), (self.initializer(), ts), record, close)
        else:
            self._update(combined[0], combined[1], record, close)

    def _update(self, window: Window, vt: Any, record: Record, close: int) -> None:
        if window.end < close:
            self._drop()
            return
        old = vt[0] if vt is not None else None
        new = self.aggregator(record.key, record.value, old)
        new_ts = record.timestamp if old is None else max(record.timestamp, vt[1])
        self._put(record.key, window, (new, new_ts))

    def _put(self, key: Any, window: Window, vt: Any) -> None:
        self.store.put_window(key, vt, window.start, vt[1])


class SessionWindowAggregate(DroppedCounter):
    """Session windows (``KStreamSessionWindowAggregate``): ``merger(key, agg1, agg2)`` combines sessions."""

    def __init__(self, store: str, windows: SessionWindows, initializer: Callable[[], Any], aggregator: Aggregator,
                 merger: Callable[[Any, Any, Any], Any], send_old: Callable[[], bool]) -> None:
        self.store_name, self.windows, self.initializer, self.aggregator, self.merger, self.send_old = \
            store, windows, initializer, aggregator, merger, send_old
        self.observed_stream_time = -1

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store: Any = context.get_state_store(self.store_name)
        store, send_old = self.store, self.send_old

        def listener(ck: Any, new: Any, old: Any, _timestamp: int) -> None:
            context.forward(Record(store.windowed(ck), Change(new, old if send_old() else None), int(ck[2])))
        self.store.flush_listener = listener

    def process(self, record: Record) -> None:
        if record.key is None:
            self._drop()
            return
        ts = record.timestamp
        gap = self.windows.inactivity_gap_ms
        self.observed_stream_time = max(self.observed_stream_time, ts)
        close = self.observed_stream_time - self.windows.grace_ms - gap
        new_window = Window(ts, ts)
        merged_window = new_window
        agg = self.initializer()
        merged = self.store.find_sessions(record.key, ts - gap, ts + gap)
        for window, value in merged:
            agg = self.merger(record.key, agg, value)
            merged_window = Window(min(merged_window.start, window.start), max(merged_window.end, window.end))
        if merged_window.end < close:
            self._drop()                # "Skipping record for expired window"
            return
        if merged_window != new_window:
            for window, _value in merged:
                self.store.put_session(record.key, window, None, window.end)
        agg = self.aggregator(record.key, record.value, agg)
        self.store.put_session(record.key, merged_window, agg, merged_window.end)

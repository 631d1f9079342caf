"""Hypothesis: PartitionLog against a dumb list-based reference under random appends, truncations, power losses,
retention, deleteRecords and compaction, with a follower replicating by Kafka's rules (epoch-based truncation).

Replay a failure with the seed Hypothesis prints: ``pytest tests/log/test_properties.py --hypothesis-seed=<seed>``.
"""
from __future__ import annotations

import os

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kafkalab.errors import OffsetOutOfRangeError
from kafkalab.log import LogConfig, PartitionLog, Record

KEYS = [b"a", b"b", b"c", b"d", None]


def dumb_end_offset_for(entries, epoch, log_end):
    if epoch == -1:
        return -1, -1
    if entries and entries[-1][0] == epoch:
        return epoch, log_end
    higher = [e for e in entries if e[0] > epoch]
    if not higher:
        return -1, -1
    lower = [e for e in entries if e[0] <= epoch]
    return (lower[-1][0] if lower else epoch), higher[0][1]


class LogMachine(RuleBasedStateMachine):
    @initialize(segment_bytes=st.integers(100, 400),
                policy=st.sampled_from([("delete",), ("compact",), ("compact", "delete")]),
                retention_ms=st.sampled_from([-1, 0, 50, 200]),
                retention_bytes=st.sampled_from([-1, 0, 300, 1000]),
                delete_retention_ms=st.sampled_from([0, 30]),
                min_compaction_lag_ms=st.sampled_from([0, 40]))
    def setup(self, segment_bytes, policy, retention_ms, retention_bytes, delete_retention_ms,
              min_compaction_lag_ms):
        self.config = LogConfig(segment_bytes=segment_bytes, cleanup_policy=policy, retention_ms=retention_ms,
                                retention_bytes=retention_bytes, delete_retention_ms=delete_retention_ms,
                                min_compaction_lag_ms=min_compaction_lag_ms)
        self.log = PartitionLog(self.config, name="leader")
        self.follower = PartitionLog(self.config, name="follower")
        self.now = 0
        self.epoch = 0
        # reference: live records {offset: (key, value)}, batch ranges, (base, epoch) of every appended batch
        self.records: dict[int, tuple[bytes | None, bytes | None]] = {}
        self.ranges: list[tuple[int, int]] = []
        self.entries: list[tuple[int, int]] = []  # the epoch cache, kept the dumb way
        self.horizons: dict[int, int] = {}
        self.start = 0
        self.end = 0
        self.flushed_at_least = 0

    # ---- reference helpers ---------------------------------------------------------------------------------------
    def ref_truncate(self, offset):
        if offset >= self.end:
            # Kafka's truncateTo at or past the end still trims the epoch cache to the log end
            self.entries = [(e, b) for e, b in self.entries if b < self.end]
            return
        for base, last in self.ranges:
            if base < offset <= last:
                offset = base
        self.end = offset
        self.start = min(self.start, offset)
        self.records = {o: r for o, r in self.records.items() if o < offset}
        self.ranges = [(b, last) for b, last in self.ranges if b < offset]
        self.entries = [(e, b) for e, b in self.entries if b < offset]
        self.horizons = {o: h for o, h in self.horizons.items() if o < offset}

    def ref_start(self, start):
        # Records below the log start stay in the log (and here) until their whole segment is deleted; the cleaner
        # still sees them, readers do not.
        assert start >= self.start
        self.start = start
        first_base = self.log.segments[0].base_offset
        self.records = {o: r for o, r in self.records.items() if o >= first_base}
        self.ranges = [(b, last) for b, last in self.ranges if last >= first_base]
        before = [e for e in self.entries if e[1] <= start]
        if before:
            self.entries = [(before[-1][0], start)] + [e for e in self.entries if e[1] > start]

    def visible(self):
        return {o: r for o, r in self.records.items() if o >= self.start}

    # ---- rules -------------------------------------------------------------------------------------------------------
    @rule(data=st.data(), n=st.integers(1, 3), dt=st.integers(0, 30))
    def append(self, data, n, dt):
        self.now += dt
        compact = self.config.compact
        records = []
        for _ in range(n):
            key = data.draw(st.sampled_from(KEYS[:-1] if compact else KEYS))
            value = data.draw(st.sampled_from([b"x", b"yy" * 10, None] if compact else [b"x", b"yy" * 10]))
            records.append(Record(key, value, self.now))
        batch = self.log.append_as_leader(records, self.epoch, now_ms=self.now)
        assert batch.base_offset == self.end
        for i, r in enumerate(records):
            self.records[self.end + i] = (r.key, r.value)
        self.ranges.append((self.end, self.end + n - 1))
        if not self.entries or self.entries[-1][0] != self.epoch:
            # an epoch that starts where the previous one started replaces it (that one holds no records)
            self.entries = [(e, b) for e, b in self.entries if b < self.end] + [(self.epoch, self.end)]
        self.end += n

    @rule(data=st.data())
    def truncate_and_elect(self, data):
        offset = data.draw(st.integers(self.start, self.end + 2))
        assert self.log.truncate_to(offset) == min(self.end, offset) or offset < self.end
        self.ref_truncate(offset)
        self.flushed_at_least = min(self.flushed_at_least, self.end)
        self.epoch += 1

    @rule(up_to=st.none() | st.integers(0, 60))
    def flush(self, up_to):
        self.log.flush(up_to)
        self.flushed_at_least = max(self.flushed_at_least, min(self.end, self.end if up_to is None else up_to))

    @rule()
    def power_loss(self):
        flushed = self.log.flushed_offset
        assert flushed >= min(self.flushed_at_least, self.end)
        self.log.drop_unflushed()
        if flushed < self.end:          # nothing lost: not even the epoch cache changes
            self.ref_truncate(flushed)
        self.flushed_at_least = min(self.flushed_at_least, self.end)
        self.epoch += 1

    @rule(dt=st.integers(0, 100))
    def retention(self, dt):
        self.now += dt
        self.log.delete_old_segments(self.now)
        assert self.log.delete_old_segments(self.now) == 0  # a pass leaves nothing deletable
        new_start = self.log.log_start_offset
        assert new_start in {self.start, self.end} | {s.base_offset for s in self.log.segments}
        self.ref_start(new_start)

    @rule(data=st.data())
    def delete_records(self, data):
        offset = data.draw(st.integers(self.start, self.end))
        self.log.advance_log_start(offset)
        self.ref_start(max(self.start, offset))

    @rule(dt=st.integers(0, 60))
    def compact(self, dt):
        self.now += dt
        stats = self.log.compact(self.now)
        if stats is None:
            return
        end = stats.end_offset
        latest = {}
        for offset in sorted(self.records):
            key = self.records[offset][0]
            if offset < end and key is not None:
                latest[key] = offset
        for offset in sorted(o for o in self.records if o < end):
            key, value = self.records[offset]
            if key is None or latest[key] != offset:
                del self.records[offset]
            elif value is None:
                horizon = self.horizons.get(offset)
                if horizon is not None and self.now >= horizon:
                    del self.records[offset]
                elif horizon is None:
                    self.horizons[offset] = self.now + self.config.delete_retention_ms
        self.ranges = [(b, last) for b, last in self.ranges
                       if b >= end or any(b <= o <= last for o in self.records)]
        assert stats.records_read >= stats.records_removed >= stats.tombstones_removed >= 0

    @rule()
    def replicate(self):
        leader, follower = self.log, self.follower
        if follower.latest_epoch is not None:
            epoch, end = leader.end_offset_for_epoch(follower.latest_epoch)
            if epoch == -1:
                return  # the leader has not written in its epoch yet: Kafka's follower would wait
            follower.truncate_to(min(end, follower.end_offset_for_epoch(epoch)[1]))
        if not leader.log_start_offset < follower.log_end_offset <= leader.log_end_offset:
            # out of range (or exactly at the leader's start, which may sit inside a batch): restart there
            follower.truncate_fully_and_start_at(leader.log_start_offset)
        while follower.log_end_offset < leader.log_end_offset:
            try:
                batches = leader.read(follower.log_end_offset, max_bytes=250)
            except OffsetOutOfRangeError:
                raise AssertionError("follower fetch out of range after reconciliation") from None
            if not batches:
                follower.truncate_fully_and_start_at(leader.log_end_offset)
                break
            for batch in batches:
                follower.append_as_follower(batch, now_ms=self.now)
                assert follower.batches()[-1] is batch
        assert follower.log_end_offset == leader.log_end_offset

    # ---- invariants --------------------------------------------------------------------------------------------------
    @invariant()
    def offsets_match(self):
        assert (self.log.log_start_offset, self.log.log_end_offset) == (self.start, self.end)
        assert self.start <= self.log.flushed_offset <= self.end or self.log.flushed_offset == self.end

    @invariant()
    def contents_match(self):
        live = {}
        for batch in self.log.batches():
            for offset, record in zip(batch.offsets(), batch.records, strict=True):
                assert offset not in live
                live[offset] = (record.key, record.value)
        assert {o: r for o, r in live.items() if o >= self.start} == self.visible()

    @invariant()
    def segments_are_consistent(self):
        segments = self.log.segments
        assert self.log.size_bytes == sum(s.size_bytes for s in segments)
        for i, segment in enumerate(segments):
            assert segment.size_bytes == sum(b.size_bytes for b in segment.batches)
            upper = segments[i + 1].base_offset if i + 1 < len(segments) else self.end
            assert all(segment.base_offset <= b.base_offset and b.last_offset < upper for b in segment.batches)
            bases = [b.base_offset for b in segment.batches]
            assert bases == sorted(bases) and bases == segment.bases

    @invariant()
    def epoch_cache_matches(self):
        entries = self.entries
        assert self.log.epoch_cache.entries() == entries
        for epoch in range(-1, self.epoch + 2):
            assert self.log.end_offset_for_epoch(epoch) == dumb_end_offset_for(entries, epoch, self.end)

    @invariant()
    def reads_find_the_next_records(self):
        for offset in {self.start, (self.start + self.end) // 2, self.end}:
            batches = self.log.read(offset)
            later = sorted(o for o in self.visible() if o >= offset)
            if batches:
                first = [o for b in batches for o in b.offsets() if o >= offset]
                if first:
                    assert first[0] == later[0]
                else:  # the cleaner emptied the batch's tail: a consumer goes on from the batch's next offset
                    assert not later or later[0] >= batches[-1].next_offset
            else:
                assert offset == self.end or not later


TestPartitionLog = LogMachine.TestCase
TestPartitionLog.settings = settings(max_examples=int(os.environ.get("KAFKALAB_LOG_EXAMPLES", "200")), stateful_step_count=40, deadline=None)

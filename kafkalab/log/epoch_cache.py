"""The leader epoch cache: which leader epoch started at which offset (KIP-101, KIP-279).

Follows Kafka's ``LeaderEpochFileCache`` (storage/.../internals/epoch): entries ``(epoch, start_offset)`` strictly
increasing in both fields; :meth:`assign` drops entries that would break monotonicity; :meth:`end_offset_for` answers
the OffsetsForLeaderEpoch / DivergingEpoch question "where did epoch E end?" with the same five cases as
``endOffsetFor``. Truncation from the end (follower truncation, power loss) and from the start (retention,
deleteRecords) keep the cache consistent with the log. The checkpoint file is not modelled: the cache is in memory and
survives a crash with the log (a simplification: Kafka rebuilds it from the checkpoint and the segments).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

__all__ = ["LeaderEpochCache", "UNDEFINED_EPOCH", "UNDEFINED_EPOCH_OFFSET"]

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class LeaderEpochCache:
    """Epoch -> start offset, as two parallel sorted lists (the cache holds one entry per leader change)."""

    __slots__ = ("_epochs", "_starts")

    def __init__(self) -> None:
        self._epochs: list[int] = []
        self._starts: list[int] = []

    def entries(self) -> list[tuple[int, int]]:
        """``[(epoch, start_offset), ...]`` in epoch order."""
        return list(zip(self._epochs, self._starts, strict=True))

    def __len__(self) -> int:
        return len(self._epochs)

    def __repr__(self) -> str:
        return f"LeaderEpochCache({self.entries()})"

    @property
    def latest_epoch(self) -> int | None:
        return self._epochs[-1] if self._epochs else None

    def start_offset(self, epoch: int) -> int | None:
        i = bisect_left(self._epochs, epoch)
        if i < len(self._epochs) and self._epochs[i] == epoch:
            return self._starts[i]
        return None

    def assign(self, epoch: int, start_offset: int) -> bool:
        """Record that ``epoch`` starts at ``start_offset``; returns whether the cache changed."""
        if epoch < 0 or start_offset < 0:
            raise ValueError(f"invalid leader epoch entry (epoch={epoch}, start_offset={start_offset})")
        epochs, starts = self._epochs, self._starts
        if epochs and epochs[-1] == epoch and start_offset >= starts[-1]:
            return False
        # Remove entries that would violate monotonicity (maybeTruncateNonMonotonicEntries).
        while epochs and (epochs[-1] >= epoch or starts[-1] >= start_offset):
            epochs.pop()
            starts.pop()
        epochs.append(epoch)
        starts.append(start_offset)
        return True

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """``(epoch, end_offset)``: the largest known epoch <= ``requested_epoch`` and where it ended.

        The end is the start offset of the next larger epoch, or ``log_end_offset`` for the latest epoch. A requested
        epoch below every cached one answers ``(requested_epoch, start of the first cached epoch)``; an undefined or
        too-large epoch answers ``(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)``, exactly as Kafka's ``endOffsetFor``.
        """
        epochs = self._epochs
        if requested_epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if epochs and epochs[-1] == requested_epoch:
            return requested_epoch, log_end_offset
        higher = bisect_right(epochs, requested_epoch)
        if higher == len(epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            return requested_epoch, self._starts[0]
        return epochs[higher - 1], self._starts[higher]

    def epoch_for_offset(self, offset: int) -> int | None:
        """The epoch whose range holds ``offset`` (``epochForOffset``), or None before the first entry."""
        i = bisect_right(self._starts, offset)
        return self._epochs[i - 1] if i else None

    def truncate_from_end(self, end_offset: int) -> None:
        """Drop entries starting at or after ``end_offset`` (the log was truncated to it)."""
        if end_offset < 0:
            return
        while self._starts and self._starts[-1] >= end_offset:
            self._epochs.pop()
            self._starts.pop()

    def truncate_from_start(self, start_offset: int) -> None:
        """Drop entries wholly before ``start_offset``; the last of them is kept, moved to ``start_offset``."""
        i = bisect_right(self._starts, start_offset)
        if i == 0:
            return
        keep_epoch = self._epochs[i - 1]
        del self._epochs[:i]
        del self._starts[:i]
        self._epochs.insert(0, keep_epoch)
        self._starts.insert(0, start_offset)

    def clear(self) -> None:
        self._epochs.clear()
        self._starts.clear()

"""Quorum arithmetic of KRaft: majorities, the high watermark, the vote rule, election tallies and backoffs.

Pure functions (and one tally class) so they can be tested against dumb references:

- :func:`high_watermark_candidate`: sort the voters' end offsets descending and take index ``voters // 2`` (LeaderState
  ``maybeUpdateHighWatermark``); the leader applies it only above its epoch start offset and never backwards.
- :func:`is_log_up_to_date`: grant only if the candidate's ``(last epoch, last offset)`` is at least ours, epoch first.
- :class:`EpochElection`: granted/rejected votes of one election (Kafka's ``EpochElection``); won on a majority of
  grants, lost once a majority rejected.
- :func:`binary_exponential_backoff_ms`: after a lost election, ``min(100 ms * random.nextInt(2^retries), max)``, as
  KafkaRaftClient draws it (so 0 is possible); :func:`strict_exponential_backoff_ms`: the wait of the ``position``-th
  preferred successor after EndQuorumEpoch (0 for the first).
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

__all__ = ["majority", "high_watermark_candidate", "is_log_up_to_date", "EpochElection",
           "binary_exponential_backoff_ms", "strict_exponential_backoff_ms", "RETRY_BACKOFF_BASE_MS"]

#: KafkaRaftClient.RETRY_BACKOFF_BASE_MS
RETRY_BACKOFF_BASE_MS = 100


def majority(voters: int) -> int:
    """Votes needed out of ``voters``: ``voters // 2 + 1``."""
    if voters < 1:
        raise ValueError(f"a quorum needs at least one voter, got {voters}")
    return voters // 2 + 1


def high_watermark_candidate(end_offsets: Sequence[int | None]) -> int | None:
    """The largest offset a majority of voters reached: the ``len // 2``-th largest end offset (None = unknown)."""
    if not end_offsets:
        raise ValueError("high_watermark_candidate needs the end offset of every voter (got none)")
    ordered = sorted(end_offsets, key=lambda o: -1 if o is None else o, reverse=True)
    return ordered[len(ordered) // 2]


def is_log_up_to_date(candidate_last_epoch: int, candidate_end_offset: int, last_epoch: int,
                      end_offset: int) -> bool:
    """The vote rule: the candidate's log is at least as up to date as ours (epoch first, then end offset)."""
    return (candidate_last_epoch, candidate_end_offset) >= (last_epoch, end_offset)


class EpochElection:
    """Votes of one election among ``voters``: each voter is granted, rejected or not yet heard from."""

    __slots__ = ("voters", "_granted", "_rejected")

    def __init__(self, voters: Iterable[int]) -> None:
        self.voters = tuple(voters)
        if not self.voters:
            raise ValueError("an election needs at least one voter")
        self._granted: dict[int, None] = {}
        self._rejected: dict[int, None] = {}

    def record(self, voter: int, granted: bool) -> bool:
        """Record a vote; returns False if ``voter`` already voted or is not a voter."""
        if voter not in self.voters or voter in self._granted or voter in self._rejected:
            return False
        (self._granted if granted else self._rejected)[voter] = None
        return True

    @property
    def granted(self) -> tuple[int, ...]:
        return tuple(self._granted)

    @property
    def rejected(self) -> tuple[int, ...]:
        return tuple(self._rejected)

    def unrecorded(self) -> tuple[int, ...]:
        return tuple(v for v in self.voters if v not in self._granted and v not in self._rejected)

    def is_won(self) -> bool:
        return len(self._granted) >= majority(len(self.voters))

    def is_lost(self) -> bool:
        """A majority rejected: this election cannot be won any more."""
        return len(self._rejected) >= majority(len(self.voters))

    def __repr__(self) -> str:
        return f"EpochElection(granted={self.granted}, rejected={self.rejected}, voters={self.voters})"


def binary_exponential_backoff_ms(retries: int, rng: random.Random, max_ms: float) -> float:
    """Backoff after the ``retries``-th lost election: ``min(100 * rng.randrange(2**retries), max_ms)``."""
    if retries <= 0:
        raise ValueError(f"retries must be > 0, got {retries}")
    return float(min(RETRY_BACKOFF_BASE_MS * rng.randrange(2 << min(20, retries - 1)), max_ms))


def strict_exponential_backoff_ms(position: int, total: int, max_ms: float) -> float:
    """Election wait of the successor at ``position`` in a resigning leader's preferred list of ``total``.

    The first successor starts at once; the others wait ``max >> (total - 1)`` doubled per position; a node not in
    the list (position < 0 or >= total) waits the full ``max_ms``.
    """
    if position == 0:
        return 0.0
    if position < 0 or position >= total:
        return float(max_ms)
    base = int(max_ms) >> (total - 1)
    return float(min(max_ms, base << (position - 1)))

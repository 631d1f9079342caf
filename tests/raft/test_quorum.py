"""Quorum math against dumb references, backoffs, the role table and RaftConfig."""
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalab.errors import ConfigError
from kafkalab.raft.config import RaftConfig
from kafkalab.raft.quorum import (
    EpochElection,
    binary_exponential_backoff_ms,
    high_watermark_candidate,
    is_log_up_to_date,
    majority,
    strict_exponential_backoff_ms,
)
from kafkalab.raft.state import OBSERVER_ROLES, TRANSITIONS, Role, transition_diagram


def reference_high_watermark(offsets):
    """The largest offset that at least a majority of voters have reached (brute force)."""
    known = [o for o in offsets if o is not None]
    best = None
    for candidate in known:
        if sum(1 for o in known if o >= candidate) >= len(offsets) // 2 + 1:
            best = candidate if best is None else max(best, candidate)
    return best


@given(st.lists(st.one_of(st.none(), st.integers(0, 50)), min_size=1, max_size=9))
def test_high_watermark_matches_the_brute_force_reference(offsets):
    assert high_watermark_candidate(offsets) == reference_high_watermark(offsets)


def test_high_watermark_of_five_voters_is_the_third_largest():
    assert high_watermark_candidate([10, 7, 3, 9, 1]) == 7
    assert high_watermark_candidate([10, None, None, 9, 1]) == 1
    assert high_watermark_candidate([10, None, None, None, 9]) is None


def test_high_watermark_needs_offsets():
    with pytest.raises(ValueError, match="end offset of every voter"):
        high_watermark_candidate([])


@given(st.integers(1, 101))
def test_majority_is_more_than_half(n):
    assert majority(n) > n / 2 and majority(n) - 1 <= n / 2


def test_majority_of_no_voters_is_an_error():
    with pytest.raises(ValueError, match="at least one voter"):
        majority(0)


@given(st.integers(0, 5), st.integers(0, 20), st.integers(0, 5), st.integers(0, 20))
def test_vote_rule_compares_epoch_first_then_offset(ce, co, e, o):
    expected = ce > e or (ce == e and co >= o)
    assert is_log_up_to_date(ce, co, e, o) == expected


@given(st.integers(1, 7), st.lists(st.tuples(st.integers(0, 8), st.booleans()), max_size=20))
def test_epoch_election_tallies_like_counting(n, votes):
    voters = list(range(n))
    election = EpochElection(voters)
    seen = {}
    for voter, granted in votes:
        recorded = election.record(voter, granted)
        assert recorded == (voter in voters and voter not in seen)
        if recorded:
            seen[voter] = granted
    granted = sum(1 for g in seen.values() if g)
    rejected = len(seen) - granted
    assert election.is_won() == (granted >= n // 2 + 1)
    assert election.is_lost() == (rejected >= n // 2 + 1)
    assert set(election.unrecorded()) == set(voters) - set(seen)


def test_epoch_election_needs_voters():
    with pytest.raises(ValueError, match="at least one voter"):
        EpochElection([])


@given(st.integers(1, 30), st.integers(0, 2**32))
def test_binary_backoff_is_a_multiple_of_100_below_the_cap(retries, seed):
    backoff = binary_exponential_backoff_ms(retries, random.Random(seed), 1000)
    assert 0 <= backoff <= 1000
    assert backoff == 1000 or backoff % 100 == 0
    assert backoff <= 100 * (2 ** min(retries, 21) - 1)


def test_binary_backoff_rejects_zero_retries():
    with pytest.raises(ValueError, match="retries must be > 0"):
        binary_exponential_backoff_ms(0, random.Random(0), 1000)


def test_strict_backoff_lets_the_first_successor_go_at_once():
    assert strict_exponential_backoff_ms(0, 4, 1000) == 0
    assert strict_exponential_backoff_ms(1, 4, 1000) == 125
    assert strict_exponential_backoff_ms(2, 4, 1000) == 250
    assert strict_exponential_backoff_ms(3, 4, 1000) == 500
    assert strict_exponential_backoff_ms(-1, 4, 1000) == 1000
    assert strict_exponential_backoff_ms(4, 4, 1000) == 1000


def test_role_table_is_closed_and_observers_stay_simple():
    for targets in TRANSITIONS.values():
        assert targets <= set(Role)
    assert Role.LEADER not in TRANSITIONS[Role.UNATTACHED]
    assert Role.LEADER in TRANSITIONS[Role.CANDIDATE]
    assert OBSERVER_ROLES == {Role.UNATTACHED, Role.FOLLOWER}
    assert '"candidate" -> "leader";' in transition_diagram()


def test_raft_config_defaults_are_kafkas():
    config = RaftConfig.from_config()
    assert (config.election_timeout_ms, config.fetch_timeout_ms, config.election_backoff_max_ms,
            config.append_linger_ms, config.request_timeout_ms, config.retry_backoff_ms) == (1000, 2000, 1000, 25,
                                                                                              2000, 20)
    assert config.check_quorum_timeout_ms == 3000 and config.begin_quorum_epoch_timeout_ms == 1000
    assert config.fetch_max_wait_ms == 500 and config.pre_vote and config.check_quorum


def test_raft_config_reads_kafka_keys_and_knobs():
    config = RaftConfig.from_config({"controller.quorum.fetch.timeout.ms": "150"}, fetch_timeout_jitter_ms=150)
    assert config.fetch_timeout_ms == 150 and config.fetch_timeout_jitter_ms == 150


def test_raft_config_rejects_an_unknown_knob_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown Raft setting 'fetch_max_wait'.*did you mean 'fetch_max_wait_ms'"):
        RaftConfig.from_config(None, fetch_max_wait=3)


def test_raft_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="election_timeout_ms must be a number > 0, got 0"):
        RaftConfig(election_timeout_ms=0)
    with pytest.raises(ConfigError, match="election_jitter_ms must be None or a number >= 0"):
        RaftConfig(election_jitter_ms=-1)
    with pytest.raises(ConfigError, match="pre_vote must be True or False"):
        RaftConfig(pre_vote="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="controller.quorum.fetch.timeout.ms"):
        RaftConfig.from_config({"controller.quorum.fetch.timeout.ms": -5})


def test_a_value_whose_fsync_died_in_a_crash_is_made_durable_by_the_next_fsync():
    """Regression (kafkalab.sim.disk): an fsync cut short by a crash used to forget the keys it had captured."""
    from kafkalab.sim.disk import Disk
    from kafkalab.sim.kernel import Kernel, Owner

    kernel = Kernel(0)
    disk = Disk(kernel, 1, writeback_interval_ms=None)
    first = Owner("1")
    disk.owner = first
    disk.write("raft-snapshot", "S")
    disk.fsync()
    kernel.kill(first)                      # crash before the fsync completes
    kernel.run(10)
    disk.owner = Owner("1#2")
    disk.fsync()
    kernel.run(10)
    disk.power_loss()
    assert disk.read("raft-snapshot") == "S"

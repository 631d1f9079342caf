"""Elections experiments: the thesis' closed form, Figure 16's shape, pre-vote, and the error paths."""
import math

import pandas as pd
import pytest

from kafkalab.experiments import elections as el


# -- the closed form -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("latency, percent", [(0.01, 0.06), (0.1, 5.2), (0.2, 18.1)])
def test_closed_form_reproduces_the_thesis_numbers_for_five_servers_four_alive(latency, percent):
    assert round(100 * el.split_vote_probability(5, 4, latency), 2 if percent < 1 else 1) == percent


def test_closed_form_agrees_with_the_model_integrated_from_first_principles():
    for n, s in [(3, 2), (5, 4), (5, 3), (7, 6), (7, 4)]:
        for latency in (0.01, 0.1, 0.3):
            assert math.isclose(el.split_vote_probability(n, s, latency),
                                el.split_vote_probability_exact(n, s, latency), abs_tol=1e-4)


def test_closed_form_edges():
    assert el.split_vote_probability(5, 4, 0.0) == 0.0
    assert el.split_vote_probability(5, 4, 1.0) == 1.0


@pytest.mark.parametrize("n, s, latency, message", [
    (5, 6, 0.1, "need 1 <= s <= n"),
    (5, 0, 0.1, "need 1 <= s <= n"),
    (5, 4, 1.5, "latency fraction l must be in [0, 1]"),
])
def test_closed_form_rejects_impossible_clusters(n, s, latency, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        el.split_vote_probability(n, s, latency)


# -- ranges and arguments --------------------------------------------------------------------------------------------
def test_parse_range():
    assert el.parse_range("150-155") == (150.0, 155.0)
    assert el.parse_range("12-24") == (12.0, 24.0)
    assert len(el.FIGURE16_RANGES) == 10


@pytest.mark.parametrize("bad, message", [
    ("fast", "unknown timeout range 'fast': expected 'LO-HI' in ms"),
    ("150", "unknown timeout range '150'"),
    ("300-150", "needs 0 < LO <= HI, got LO=300, HI=150"),
    ("0-10", "needs 0 < LO <= HI"),
])
def test_bad_range_strings_raise_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        el.figure16(trials=1, ranges=[bad])


def test_range_must_be_a_string():
    with pytest.raises(TypeError, match="timeout range must be a string like '150-300', got int 150"):
        el.parse_range(150)  # type: ignore[arg-type]


@pytest.mark.parametrize("trials", [0, -3, 2.5, True])
def test_bad_trials_raise_a_clear_error(trials):
    with pytest.raises(ValueError, match="trials must be a positive int"):
        el.figure16(trials=trials, ranges=["150-300"])


def test_empty_ranges_raise():
    with pytest.raises(ValueError, match="ranges is empty"):
        el.figure16(trials=1, ranges=[])


def test_bad_setup_raises():
    with pytest.raises(ValueError, match="lagging must be in"):
        el.Figure16Setup(lagging=4)


def test_paper_anchors_are_in_data():
    paper = el.paper_figure16()
    value = paper.set_index(["timeout_range", "statistic"])["value"]
    assert value[("150-155", "median_downtime_ms")] == 287
    assert value[("150-200", "max_downtime_ms")] == 513
    assert value[("12-24", "mean_downtime_ms")] == 35
    assert value[("12-24", "max_downtime_ms")] == 152
    assert value[("150-150", "downtime_lower_bound_ms")] == 10_000


# -- the simulation --------------------------------------------------------------------------------------------------
def test_figure16_returns_one_tidy_row_per_trial_and_is_deterministic_per_seed():
    first = el.figure16(trials=3, seed=7, ranges=["150-300", "50-100"])
    again = el.figure16(trials=3, seed=7, ranges=["150-300", "50-100"])
    other = el.figure16(trials=3, seed=8, ranges=["150-300", "50-100"])
    for column in ("timeout_range", "trial", "seed", "downtime_ms", "election_rounds", "censored"):
        assert column in first.columns
    assert len(first) == 6
    assert list(first["timeout_range"]) == ["150-300"] * 3 + ["50-100"] * 3
    pd.testing.assert_frame_equal(first, again)
    assert not first["downtime_ms"].equals(other["downtime_ms"])
    assert (first["election_rounds"] >= 1).all()
    # the leader crashes within half the minimum timeout after the heartbeat: downtime >= LO/2 or so
    assert (first["downtime_ms"] >= first["lo_ms"] / 2).all()


def test_any_trial_replays_alone_from_its_seed():
    frame = el.figure16(trials=2, seed=3, ranges=["100-200"])
    row = frame.iloc[1]
    alone = el.figure16_trial("100-200", int(row["seed"]))
    assert alone["downtime_ms"] == row["downtime_ms"]
    assert alone["election_rounds"] == row["election_rounds"]


def test_figure16_shape_more_randomness_means_fewer_rounds():
    frame = el.figure16(trials=12, seed=0, ranges=["150-151", "150-300"])
    rounds = frame.groupby("timeout_range")["election_rounds"].mean()
    assert rounds["150-151"] > rounds["150-300"]
    assert not frame["censored"].any()


def test_without_any_randomness_fixed_timeouts_split_votes_until_the_cap():
    # KRaft's random backoff after a lost election is the only randomness left; with it off, 150-150 never elects
    frame = el.figure16(trials=3, seed=0, ranges=["150-150", "150-300"], election_backoff_max_ms=0, lagging=0,
                        max_downtime_ms=1_000)
    fixed = frame[frame["timeout_range"] == "150-150"]
    assert fixed["censored"].all()
    assert (fixed["downtime_ms"] == 1_000).all()
    assert (fixed["election_rounds"] > 10).all()
    assert not frame.loc[frame["timeout_range"] == "150-300", "censored"].any()


def test_paper_mode_fixed_timeouts_split_votes_until_the_cap_while_kraft_breaks_the_tie():
    """The paper's Raft has no randomness left at 150-150 (Figure 2's retry draws from an empty range): every round
    splits. KRaft's random backoff after a lost election breaks the tie in the same trials."""
    frame = el.figure16_modes(trials=3, seed=0, ranges=["150-150"], max_downtime_ms=2_000)
    paper, kraft = frame[frame["mode"] == "paper"], frame[frame["mode"] == "kraft"]
    assert paper["censored"].all() and (paper["downtime_ms"] == 2_000).all()
    assert (paper["election_rounds"] >= 10).all()   # one epoch per 150 ms round, no backoff between them
    assert not kraft["censored"].any()
    assert list(paper["seed"]) == list(kraft["seed"])   # same crashes in both lines
    assert list(paper["crash_offset_ms"]) == list(kraft["crash_offset_ms"])


def test_paper_mode_with_a_little_randomness_elects_and_is_deterministic():
    first = el.figure16(trials=4, seed=2, ranges=["150-200"], election_mode="paper")
    again = el.figure16(trials=4, seed=2, ranges=["150-200"], election_mode="paper")
    pd.testing.assert_frame_equal(first, again)
    assert (first["mode"] == "paper").all() and not first["censored"].any()
    row = first.iloc[2]
    alone = el.figure16_trial("150-200", int(row["seed"]), el.Figure16Setup(election_mode="paper"))
    assert alone["downtime_ms"] == row["downtime_ms"]


def test_summary_and_comparison_keep_the_modes_apart():
    frame = pd.DataFrame({"mode": ["paper"] * 3 + ["kraft"] * 3, "timeout_range": ["150-155"] * 6,
                          "downtime_ms": [280, 300, 320, 200, 210, 220], "censored": [False] * 6,
                          "election_rounds": [2, 3, 4, 2, 2, 2]})
    summary = el.figure16_summary(frame).set_index("mode")
    assert summary.loc["paper", "median_ms"] == 300 and summary.loc["kraft", "median_ms"] == 210
    wide = el.compare_modes_with_paper(frame)
    assert list(wide.columns) == ["timeout_range", "statistic", "published", "paper mode", "kraft mode", "trials"]
    assert wide.iloc[0].to_dict() == {"timeout_range": "150-155", "statistic": "median_downtime_ms",
                                      "published": 287.0, "paper mode": 300.0, "kraft mode": 210.0, "trials": 3}
    # a saved result from before the modes existed reads as KRaft's
    old = frame[frame["mode"] == "kraft"].drop(columns="mode")
    assert el.figure16_summary(old)["mode"].tolist() == ["kraft"]


@pytest.mark.parametrize("modes, error, message", [
    ("paper", ValueError, "modes must be a non-empty sequence"),
    ([], ValueError, "modes must be a non-empty sequence"),
    (["papr"], ValueError, r"unknown RaftConfig.election_mode 'papr'.*did you mean 'paper'\?"),
])
def test_bad_modes_raise_a_clear_error(modes, error, message):
    with pytest.raises(error, match=message):
        el.figure16_modes(trials=1, ranges=["150-300"], modes=modes)


def test_bad_mode_in_the_setup_names_the_closest():
    from kafkalab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"election_mode 'Kraft'.*did you mean 'kraft'\?"):
        el.Figure16Setup(election_mode="Kraft")


def test_split_votes_grow_with_latency():
    low = el.split_vote_rate(clusters=[(5, 4)], latencies=[0.001], trials=15, seed=1)
    high = el.split_vote_rate(clusters=[(5, 4)], latencies=[0.5], trials=15, seed=1)
    assert low["splits"].iloc[0] == 0
    assert high["measured"].iloc[0] > 0.2
    assert list(high.columns[:4]) == ["n", "s", "l", "latency_ms"]


@pytest.mark.parametrize("n, s, message", [(5, 2, "s=2 alive of n=5 is no majority"),
                                           (5, 5, "s <= n - 1")])
def test_split_vote_trial_rejects_impossible_cells(n, s, message):
    with pytest.raises(ValueError, match=message):
        el.split_vote_trial(n, s, 0.1, seed=0)


def test_prevote_keeps_the_epoch_and_its_absence_bumps_it():
    demo = el.prevote_demo(seed=0).set_index("pre_vote")
    off, on = demo.loc[False], demo.loc[True]
    assert on["epoch_after"] == on["epoch_before"]
    assert not on["disrupted"] and not on["leader_changed"]
    assert on["isolated_epoch_at_heal"] == on["epoch_before"]
    assert off["isolated_epoch_at_heal"] > off["epoch_before"]
    assert off["epoch_after"] > off["epoch_before"]
    assert off["disrupted"]


def test_kraft_defaults_take_about_the_fetch_timeout():
    frame = el.kraft_default_election(trials=3, seed=0)
    assert list(frame.columns) == ["trial", "seed", "detect_ms", "downtime_ms", "election_rounds", "censored"]
    assert not frame["censored"].any()
    # nobody notices before the fetch timeout minus one parked fetch (2000 - 500 ms)
    assert (frame["detect_ms"] >= 1_400).all()
    assert (frame["downtime_ms"] < 6_000).all()


def test_compare_with_paper_puts_each_published_number_beside_ours():
    frame = pd.DataFrame({"timeout_range": ["150-155"] * 3 + ["150-150"] * 2, "downtime_ms": [200, 290, 400, 900, 10_000],
                          "censored": [False, False, False, False, True]})
    table = el.compare_with_paper(frame).set_index(["timeout_range", "statistic"])
    assert table.loc[("150-155", "median_downtime_ms"), "paper"] == 287
    assert table.loc[("150-155", "median_downtime_ms"), "kafkalab"] == 290
    assert table.loc[("150-150", "% of trials >= 10000 ms"), "kafkalab"] == 50.0
    assert "12-24" not in table.index.get_level_values(0)  # no trials of ours for that range: no row


def test_quorum_story_tells_a_crash_and_a_partition_with_a_leader_after_each_election():
    from kafkalab.raft import RaftCluster

    rc = RaftCluster(voters=5, seed=0)
    steps = list(el.quorum_story(rc, settle_ms=1_000))
    names = [s["step"] for s in steps]
    assert names[0] == "first leader elected" and names[-1] == "end"
    crash = next(s for s in steps if s["step"].startswith("crash leader"))
    assert crash["leader"] is None
    elected = next(s for s in steps if s["step"] == "new leader elected")
    assert elected["leader"] is not None and elected["epoch"] > steps[0]["epoch"]
    assert steps[-1]["leader"] is not None
    assert [s["time_ms"] for s in steps] == sorted(s["time_ms"] for s in steps)

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

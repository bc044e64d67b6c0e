"""Hybrid green / amber / red assessment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskfuncs import RiskInputError
from riskfuncs.assessment import RatingThresholds, hybrid_assessment
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.scenarios import scenario_library
from riskfuncs.stress import stress_test

RANK = {"green": 0, "amber": 1, "red": 2}


def test_discipline_limits_set_the_amber_levels() -> None:
    # DisciplineLimits: leverage at most 5x and margin at least 30% above the requirement pass.
    passing = hybrid_assessment(leverage=[5.0], margin_buffer=[0.30])
    assert passing.positions["rating"].tolist() == ["green"]
    assert passing.positions["reasons"].tolist() == [""]
    assert passing.rating == "green" and passing.reasons == ("all 1 position green",)
    failing = hybrid_assessment(leverage=[5.01], margin_buffer=[0.29])
    assert failing.positions["rating"].tolist() == ["amber"]
    assert failing.positions["reasons"].iloc[0] == (
        "margin buffer 29.0% (amber: below 30%); leverage 5.0x (amber: above 5x)"
    )


@pytest.mark.parametrize(
    ("distance", "rating"),
    [(0.25, "green"), (0.20, "green"), (0.1999, "amber"), (0.10, "amber"), (0.0999, "red"),
     (0.0, "red"), (-0.05, "red"), (math.inf, "green")],
)
def test_distance_levels_are_strict(distance: float, rating: str) -> None:
    assert hybrid_assessment(distance_to_liquidation=[distance]).rating == rating


def test_at_or_past_liquidation_is_red_whatever_the_thresholds() -> None:
    loose = RatingThresholds(distance_amber=-0.5, distance_red=-0.9, buffer_amber=-0.5,
                             buffer_red=-0.9)
    result = hybrid_assessment(distance_to_liquidation=[0.0, 0.05], margin_buffer=[0.4, -0.1],
                               thresholds=loose)
    assert result.positions["rating"].tolist() == ["red", "red"]
    assert "at or past liquidation" in result.positions["reasons"].iloc[0]
    assert result.positions["reasons"].iloc[1] == "margin buffer -10.0% (at or past liquidation)"


def test_missing_data_is_never_a_pass() -> None:
    result = hybrid_assessment(distance_to_liquidation=[np.nan, 0.5],
                               worst_scenario_liquidated=[False, None])
    assert result.positions["rating"].tolist() == ["amber", "amber"]
    assert result.positions["reasons"].tolist() == [
        "distance to liquidation unknown (missing data)", "worst scenario unknown (missing data)",
    ]
    assert "1 position amber: distance to liquidation unknown" in result.reasons


def test_worst_scenario_rating_is_data() -> None:
    flags = [True, False]
    assert hybrid_assessment(worst_scenario_liquidated=flags).positions["rating"].tolist() == [
        "amber", "green"]
    red = hybrid_assessment(worst_scenario_liquidated=flags,
                            thresholds={"worst_scenario_rating": "red"})
    assert red.positions["rating"].tolist() == ["red", "green"]
    assert red.reasons[1] == "1 position red: liquidated in the worst stress scenario"


def test_book_rating_counts_positions_per_measure() -> None:
    result = hybrid_assessment(
        distance_to_liquidation=[0.5, 0.15, 0.05],
        liquidation_probability=[0.0, 0.02, 0.5],
        var_fraction=[0.05, 0.05, 0.3],
    )
    assert result.rating == "red"
    assert result.reasons == (
        "1 of 3 positions red, 1 amber",
        "1 position red: distance to liquidation below 10%",
        "1 position amber: distance to liquidation below 20%",
        "1 position red: liquidation probability above 5%",
        "1 position amber: liquidation probability above 1%",
        "1 position red: VaR above 25%",
    )


def test_series_index_is_kept_and_inputs_are_not_mutated() -> None:
    distance = pd.Series([0.3, 0.05], index=["btc", "eth"])
    leverage = np.array([2.0, np.nan])
    before = (distance.copy(), leverage.copy())
    result = hybrid_assessment(distance_to_liquidation=distance, leverage=leverage)
    assert list(result.positions.index) == ["btc", "eth"]
    assert result.positions.loc["eth", "rating"] == "red"
    pd.testing.assert_series_equal(distance, before[0])
    np.testing.assert_array_equal(leverage, before[1])


def test_vector_equals_loop_of_single_positions() -> None:
    rng = np.random.default_rng(11)
    n = 40
    inputs = {
        "distance_to_liquidation": rng.uniform(-0.05, 0.4, n),
        "liquidation_probability": rng.uniform(0, 0.1, n),
        "margin_buffer": rng.uniform(-0.1, 1.0, n),
        "leverage": rng.uniform(0, 15, n),
        "worst_scenario_liquidated": rng.random(n) < 0.3,
        "var_fraction": rng.uniform(0, 0.4, n),
    }
    inputs["leverage"][3] = np.nan
    for name, value in [("distance_to_liquidation", 0.5), ("liquidation_probability", 0.001),
                        ("margin_buffer", 2.0), ("leverage", 2.0),
                        ("worst_scenario_liquidated", False), ("var_fraction", 0.02)]:
        inputs[name][0] = value  # one position passes everything
    whole = hybrid_assessment(**inputs)
    for i in range(n):
        one = hybrid_assessment(**{k: v[i:i + 1] for k, v in inputs.items()})
        assert one.positions["rating"].iloc[0] == whole.positions["rating"].iloc[i]
        assert one.positions["reasons"].iloc[0] == whole.positions["reasons"].iloc[i]
    assert {"green", "amber", "red"} == set(whole.positions["rating"])


@given(
    distance=st.floats(-0.5, 1.0), worse_by=st.floats(0.0, 0.5),
    leverage=st.floats(0.0, 20.0), more=st.floats(0.0, 10.0),
)
def test_a_worse_measure_never_improves_the_rating(
    distance: float, worse_by: float, leverage: float, more: float
) -> None:
    base = hybrid_assessment(distance_to_liquidation=[distance], leverage=[leverage]).rating
    worse = hybrid_assessment(distance_to_liquidation=[distance - worse_by],
                              leverage=[leverage + more]).rating
    assert RANK[worse] >= RANK[base]


def test_with_stress_and_portfolio_figures() -> None:
    # 1 BTC long at 60,000, 12,000 isolated margin, MMR 0.5%: liquidation at 48,241.21, i.e.
    # 19.6% away (amber: below 20%); buffer 12,000 / 300 - 1 = 39 and leverage 5x pass; the
    # worst library scenario (BTC -52%, 12 Mar 2020) liquidates it (amber).
    book = pd.DataFrame({"exchange": ["binance"], "symbol": ["BTC/USDT:USDT"], "side": ["long"],
                         "contracts": [1.0], "entryPrice": [60_000.0], "markPrice": [60_000.0],
                         "collateral": [12_000.0], "maintenanceMarginRate": [0.005]})
    margins = portfolio_margin(book)
    stress = stress_test(book, list(scenario_library()))
    worst = stress.scenario_names.get_loc(stress.worst.index[0])
    result = hybrid_assessment(
        distance_to_liquidation=margins["distance_to_liquidation"],
        margin_buffer=margins["margin_buffer"],
        leverage=margins["leverage"],
        worst_scenario_liquidated=pd.Series(stress.liquidated[:, worst], index=book.index),
    )
    assert margins["distance_to_liquidation"].iloc[0] == pytest.approx(0.19598, abs=1e-5)
    assert result.rating == "amber"
    assert result.positions["reasons"].iloc[0] == (
        "distance to liquidation 19.6% (amber: below 20%); "
        "liquidated in the worst stress scenario (amber)"
    )


@pytest.mark.parametrize(
    ("kwargs", "start"),
    [
        ({}, "hybrid_assessment needs at least one measure"),
        ({"leverage": [1.0, 2.0], "margin_buffer": [0.5]},
         "measures must have one value per position each"),
        ({"liquidation_probability": [1.5]}, "liquidation_probability must be in [0, 1]"),
        ({"leverage": [-1.0]}, "leverage must be >= 0"),
        ({"worst_scenario_liquidated": ["maybe"]}, "worst_scenario_liquidated must be True"),
        ({"leverage": [1.0], "thresholds": {"leverage_cap": 3}}, "thresholds must use the names"),
        ({"leverage": [1.0], "thresholds": {"leverage_amber": 12.0}},
         "leverage_amber must be <= leverage_red = 10 (got 12)"),
        ({"leverage": [1.0], "thresholds": {"distance_red": 0.3}},
         "distance_red must be <= distance_amber = 0.2 (got 0.3)"),
        ({"leverage": [1.0], "thresholds": {"worst_scenario_rating": "pink"}},
         "worst_scenario_rating must be one of amber, red"),
    ],
)
def test_nonsense_is_named(kwargs: dict[str, object], start: str) -> None:
    with pytest.raises(RiskInputError) as error:
        hybrid_assessment(**kwargs)  # type: ignore[arg-type]
    assert str(error.value).startswith(start)


def test_series_with_different_indexes_are_refused() -> None:
    with pytest.raises(RiskInputError, match="all Series arguments must share the same index"):
        hybrid_assessment(leverage=pd.Series([1.0], index=["a"]),
                          margin_buffer=pd.Series([1.0], index=["b"]))


def test_cap_buffer_rates_against_the_initial_margin_at_the_cap() -> None:
    # 45x: 340% above maintenance yet far under the initial margin at 5x: amber on the cap
    # buffer, not green; a negative balance (below -100%) is red.
    result = hybrid_assessment(margin_buffer=[3.4, 3.4, 3.4], cap_buffer=[0.5, -0.89, -1.2])
    assert result.positions["rating"].tolist() == ["green", "amber", "red"]
    assert result.positions["reasons"].iloc[1] == (
        "buffer at the leverage cap -89.0% (amber: below 30%)")
    assert result.positions["reasons"].iloc[2] == (
        "buffer at the leverage cap -120.0% (red: below -100%)")


def test_stop_beyond_liquidation_is_amber_and_unknown_is_not_a_pass() -> None:
    result = hybrid_assessment(stop_beyond_liquidation=[True, False, None])
    assert result.positions["rating"].tolist() == ["amber", "green", "amber"]
    assert result.positions["reasons"].iloc[0] == (
        "stop-loss beyond the liquidation price (amber)")
    assert "1 position amber: stop-loss beyond the liquidation price" in result.reasons
    with pytest.raises(RiskInputError, match="stop_beyond_liquidation must be True or False"):
        hybrid_assessment(stop_beyond_liquidation=["maybe"])

"""Scenario data model, built-in library, SPAN grid and price scan range."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats

from riskfuncs import RiskInputError
from riskfuncs.scenarios import (
    DEFAULT_BETA,
    SPAN_EXTREME_WEIGHT,
    Scenario,
    exchange_default_scenario,
    get_scenario,
    price_scan_range,
    scenario_library,
    span_grid,
)

# ------------------------------------------------------------------ library contents


def test_library_names_are_unique_and_found_by_name() -> None:
    names = [s.name for s in scenario_library()]
    assert len(names) == len(set(names))
    for name in names:
        assert get_scenario(name.upper().replace(" ", "  ")) is get_scenario(name)


def test_library_has_the_required_scenarios() -> None:
    names = {s.name for s in scenario_library()}
    required = {
        "BTC -15% 1h", "BTC -30% 1h", "BTC -50% 24h", "Black Thursday 2020", "China ban 2021",
        "LUNA/UST 2022", "FTX 2022", "USDC depeg 2023", "Yen carry 2024", "Tariff cascade 2025",
        "Funding +0.3%/8h 3d", "Funding -0.3%/8h 3d",
    }
    assert required <= names


def test_every_scenario_names_public_sources_and_sane_bounds() -> None:
    for scenario in scenario_library():
        assert scenario.sources, scenario.name
        assert all(isinstance(s, str) and len(s) > 5 for s in scenario.sources)
        assert scenario.description
        assert 0 < scenario.horizon_hours <= 24 * 7
        for asset, move in scenario.moves.items():
            # Majors' worst day on record is about -52% (12 Mar 2020); only collapsing tokens
            # (LUNA/UST, FTT) fall further. The library's rises are at most +30%.
            limit = -0.6 if asset in {"BTC", "ETH", "SOL"} else -1.0
            assert limit < move <= 0.30, (scenario.name, asset, move)
        for asset in ("BTC", "ETH", "DOGE"):
            assert -0.90 <= scenario.price_move(asset) <= 0.60
        assert all(0 < h <= 0.9 for h in scenario.collateral_haircuts.values())
        assert all(0 < lgd <= 1 for lgd in scenario.exchange_default.values())
        assert abs(scenario.funding_rate) <= 0.00375  # BitMEX's cap, 0.375% per 8 h


def test_historical_scenarios_carry_their_start_date() -> None:
    expected = {
        "Black Thursday 2020": date(2020, 3, 12),
        "China ban 2021": date(2021, 5, 19),
        "LUNA/UST 2022": date(2022, 5, 7),
        "FTX 2022": date(2022, 11, 6),
        "USDC depeg 2023": date(2023, 3, 10),
        "Yen carry 2024": date(2024, 8, 5),
        "Tariff cascade 2025": date(2025, 10, 10),
    }
    for name, day in expected.items():
        assert get_scenario(name).date == day


@pytest.mark.parametrize(
    ("name", "asset", "before", "after"),
    [
        # blog.btcmex.com "Black Thursday": BTC 7,900 -> ~3,800
        ("Black Thursday 2020", "BTC", 7_900, 3_800),
        # CoinDesk data via baystreet.ca: BTC ~21k -> 15.48k; FTT 25.77 -> 2.68
        ("FTX 2022", "BTC", 21_000, 15_480),
        ("FTX 2022", "FTT", 25.77, 2.68),
        # CoinChapter: BTC 58,350 -> 49,513; ETH 2,695 -> ~2,111
        ("Yen carry 2024", "BTC", 58_350, 49_513),
        ("Yen carry 2024", "ETH", 2_695, 2_111),
        # ainvest.com / tradesilvania.com: BTC 122.6k -> 104.8k
        ("Tariff cascade 2025", "BTC", 122_600, 104_800),
        # 19 May 2021, Bybt via newsbreak: BTC 43k -> ~30k
        ("China ban 2021", "BTC", 43_000, 30_000),
    ],
)
def test_historical_moves_match_the_cited_prices(
    name: str, asset: str, before: float, after: float
) -> None:
    # Library moves are the cited prices rounded to a whole or half percent: tolerance 0.01.
    assert get_scenario(name).moves[asset] == pytest.approx(after / before - 1.0, abs=0.01)


def test_usdc_depeg_haircut_covers_the_reported_low() -> None:
    # Cointelegraph: USDC low 0.8774, 0.86-0.88 by venue -> haircut between 12% and 14%.
    cut = get_scenario("USDC depeg 2023").haircut("usdc")
    assert 1 - 0.8774 <= cut <= 1 - 0.86


def test_ftx_scenario_defaults_the_venue() -> None:
    ftx = get_scenario("FTX 2022")
    assert ftx.loss_given_default("FTX") == 1.0
    assert ftx.loss_given_default("binance") == 0.0


def test_funding_shocks_are_three_days_of_eight_hour_payments() -> None:
    up, down = get_scenario("Funding +0.3%/8h 3d"), get_scenario("Funding -0.3%/8h 3d")
    assert (up.funding_rate, up.funding_intervals, up.horizon_hours) == (0.003, 9, 72.0)
    assert down.cumulative_funding_rate == pytest.approx(-0.027)
    assert up.moves == {} and up.price_move("BTC") == 0.0


def test_unknown_scenario_lists_the_known_names() -> None:
    with pytest.raises(RiskInputError) as error:
        get_scenario("BTC -99% 1h")
    message = str(error.value)
    assert message.startswith("scenario must be one of ")
    assert "BTC -30% 1h" in message and "FTX 2022" in message
    assert "'BTC -99% 1h'" in message


# ------------------------------------------------------------------ betas and caps


def test_synthetic_shock_spreads_to_other_assets_by_beta() -> None:
    shock = get_scenario("BTC -30% 1h")
    assert shock.price_move("BTC") == -0.30
    assert shock.price_move("eth") == pytest.approx(-0.39)  # ETH 1.3x
    assert shock.price_move("DOGE") == pytest.approx(-0.60)  # alts 2x
    assert shock.price_move("USDC") == 0.0  # a stablecoin base does not follow BTC
    assert get_scenario("BTC -50% 24h").price_move("SOL") == -0.90  # capped at -90%


def test_beta_precedence_listed_move_then_caller_then_scenario_then_default() -> None:
    scenario = Scenario("s", moves={"BTC": -0.2, "SOL": -0.5}, betas={"ETH": 1.5, "XRP": 3.0})
    assert scenario.price_move("SOL", betas={"SOL": 1.0}) == -0.5
    assert scenario.price_move("ETH", betas={"eth": 0.5}) == pytest.approx(-0.1)
    assert scenario.price_move("ETH") == pytest.approx(-0.3)
    assert scenario.price_move("ADA") == pytest.approx(-0.2 * DEFAULT_BETA)
    assert scenario.price_move("XRP") == pytest.approx(-0.6)


@given(
    reference=st.floats(-0.99, 2.0),
    beta=st.floats(-5.0, 5.0),
    floor=st.floats(-0.99, 0.0),
    cap=st.floats(0.0, 5.0),
)
def test_derived_moves_stay_within_floor_and_cap(
    reference: float, beta: float, floor: float, cap: float
) -> None:
    scenario = Scenario("s", moves={"BTC": reference}, move_floor=floor, move_cap=cap)
    move = scenario.price_move("ALT", betas={"ALT": beta})
    assert floor <= move <= cap
    assert move > -1.0
    unclipped = beta * reference
    if floor <= unclipped <= cap:
        assert move == pytest.approx(unclipped)


# ------------------------------------------------------------------ data model rules


def test_scenario_is_frozen_and_copies_its_mappings() -> None:
    moves = {"btc": -0.1}
    scenario = Scenario("s", moves=moves, collateral_haircuts={"usdc": 0.1})
    moves["btc"] = -0.9
    assert scenario.moves == {"BTC": -0.1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.name = "t"  # type: ignore[misc]
    with pytest.raises(TypeError):
        scenario.moves["BTC"] = 0.5  # type: ignore[index]
    assert hash(scenario) == hash(Scenario("s", moves={"BTC": -0.1}))


@pytest.mark.parametrize(
    ("kwargs", "start"),
    [
        ({"moves": {"BTC": -1.0}}, "moves['BTC'] must be > -1"),
        ({"moves": {"BTC": "a lot"}}, "moves['BTC'] must be a number"),
        ({"collateral_haircuts": {"USDC": 1.3}}, "collateral_haircuts['USDC'] must be in [0, 1]"),
        ({"exchange_default": {"ftx": -0.1}}, "exchange_default['ftx'] must be in [0, 1]"),
        ({"funding_intervals": -1}, "funding_intervals must be a whole number >= 0"),
        ({"funding_intervals": 2.5}, "funding_intervals must be a whole number >= 0"),
        ({"funding_rate": 1.5}, "funding_rate must be a fraction"),
        ({"volatility_shock": 0.0}, "volatility_shock must be > 0"),
        ({"horizon_hours": 0.0}, "horizon_hours must be > 0"),
        ({"weight": 1.5}, "weight must be in (0, 1]"),
        ({"move_floor": -1.0}, "move_floor must be in (-1, 0]"),
    ],
)
def test_scenario_rejects_nonsense(kwargs: dict[str, object], start: str) -> None:
    with pytest.raises(RiskInputError) as error:
        Scenario("bad", **kwargs)  # type: ignore[arg-type]
    assert str(error.value).startswith(start)
    assert "(got " in str(error.value)


def test_scenario_needs_a_name() -> None:
    with pytest.raises(RiskInputError, match="name must be a non-empty text"):
        Scenario("  ")


def test_exchange_default_scenario() -> None:
    scenario = exchange_default_scenario("OKX", loss_given_default=0.4)
    assert scenario.name == "OKX default"
    assert scenario.loss_given_default("okx") == 0.4
    assert scenario.moves == {}
    with pytest.raises(RiskInputError, match=r"exchange_default\['OKX'\] must be in \[0, 1\]"):
        exchange_default_scenario("OKX", loss_given_default=1.2)


# ------------------------------------------------------------------ SPAN grid


def test_span_grid_matches_the_cme_risk_array_layout() -> None:
    # CME SPAN risk array: 0, +-1/3, +-2/3, +-1 scan range, each with vol up and down, then
    # +-X extremes at 35% (cmegroup.com SPAN overview; McMillan ch. 34).
    grid = span_grid(0.09, extreme_multiple=2.0, volatility_scan_range=0.25)
    assert len(grid) == 16
    price = [s.moves["BTC"] for s in grid]
    expected = [0, 0, 1, 1, -1, -1, 2, 2, -2, -2, 3, 3, -3, -3]
    assert_allclose(price[:14], np.array(expected) / 3 * 0.09, atol=1e-12)
    assert price[14:] == pytest.approx([0.18, -0.18])
    assert [s.weight for s in grid] == [1.0] * 14 + [SPAN_EXTREME_WEIGHT] * 2
    assert [s.volatility_shock for s in grid[:4]] == [1.25, 0.75, 1.25, 0.75]
    assert [s.volatility_shock for s in grid[14:]] == [1.0, 1.0]
    # For a linear perpetual only 7 price points plus 2 extremes are distinct.
    assert len({round(p, 12) for p in price[:14]}) == 7
    assert len({s.name for s in grid}) == 16


def test_span_grid_moves_other_assets_by_beta() -> None:
    grid = span_grid(0.1, asset="eth")
    assert grid[12].moves == {"ETH": -0.1}
    assert grid[12].price_move("SOL") == pytest.approx(-0.2)


@pytest.mark.parametrize(
    ("args", "kwargs", "start"),
    [
        ((0.0,), {}, "price_scan_range must be in (0, 1)"),
        ((0.6,), {}, "extreme_multiple must be < 1/price_scan_range"),
        ((0.1,), {"extreme_multiple": 0.5}, "extreme_multiple must be >= 1"),
        ((0.1,), {"volatility_scan_range": -0.1}, "volatility_scan_range must be in [0, 1)"),
    ],
)
def test_span_grid_rejects_nonsense(
    args: tuple[float], kwargs: dict[str, float], start: str
) -> None:
    with pytest.raises(RiskInputError) as error:
        span_grid(*args, **kwargs)
    assert str(error.value).startswith(start)


# ------------------------------------------------------------------ price scan range


def test_price_scan_range_against_scipy_normal_quantile() -> None:
    # Reference: scipy.stats.norm.ppf (z_0.99 = 2.326348, standard normal tables); the only
    # difference from the standard library's NormalDist is rounding: tolerance 1e-12.
    for vol, conf, days, year in [(0.6, 0.99, 1, 365), (0.8, 0.975, 2, 365), (0.2, 0.99, 1, 252)]:
        expected = stats.norm.ppf(conf) * vol * math.sqrt(days / year)
        got = price_scan_range(vol, confidence=conf, horizon_days=days, periods_per_year=year)
        assert got == pytest.approx(expected, rel=1e-12)
    assert price_scan_range(0.6) == pytest.approx(2.3263478740 * 0.6 / math.sqrt(365), rel=1e-9)


def test_price_scan_range_container_contract() -> None:
    vols = [0.3, np.nan, 0.9]
    array = price_scan_range(vols)
    assert isinstance(array, np.ndarray)
    assert np.isnan(array[1])
    assert_allclose(array[[0, 2]], [price_scan_range(0.3), price_scan_range(0.9)], rtol=1e-15)
    series = pd.Series(vols, index=["BTC", "ETH", "SOL"])
    out = price_scan_range(series, horizon_days=4)
    assert isinstance(out, pd.Series) and list(out.index) == ["BTC", "ETH", "SOL"]
    assert out["BTC"] == pytest.approx(2 * price_scan_range(0.3))  # sqrt(4) scaling
    assert isinstance(price_scan_range(0.5), float)
    assert series.tolist()[1] != series.tolist()[1]  # input untouched (NaN stays NaN)
    assert series.tolist()[0] == 0.3


@pytest.mark.parametrize(
    ("vol", "kwargs", "start"),
    [
        (-0.1, {}, "volatility must be >= 0"),
        (0.5, {"confidence": 0.4}, "confidence must be in (0.5, 1)"),
        (0.5, {"confidence": 1.0}, "confidence must be in (0.5, 1)"),
        (0.5, {"horizon_days": 0}, "horizon_days must be > 0"),
        (0.5, {"periods_per_year": -1}, "periods_per_year must be > 0"),
    ],
)
def test_price_scan_range_rejects_nonsense(
    vol: float, kwargs: dict[str, float], start: str
) -> None:
    with pytest.raises(RiskInputError) as error:
        price_scan_range(vol, **kwargs)
    assert str(error.value).startswith(start)


@given(st.floats(0.01, 3.0), st.floats(0.51, 0.999), st.floats(0.1, 30.0))
def test_price_scan_range_grows_with_volatility_confidence_and_horizon(
    vol: float, confidence: float, days: float
) -> None:
    base = price_scan_range(vol, confidence=confidence, horizon_days=days)
    assert base > 0
    assert price_scan_range(vol * 1.1, confidence=confidence, horizon_days=days) > base
    assert price_scan_range(vol, confidence=min(0.9999, confidence + 0.0005),
                            horizon_days=days) > base
    assert price_scan_range(vol, confidence=confidence, horizon_days=days * 2) == pytest.approx(
        base * math.sqrt(2)
    )

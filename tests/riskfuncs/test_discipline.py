"""Discipline checks, position sizing and the all-in-one report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from riskfuncs import RiskInputError
from riskfuncs.counterparty import diversification_check, exposure_by_exchange
from riskfuncs.discipline import (
    CHECK_COLUMNS,
    DisciplineLimits,
    check_diversification,
    check_leverage,
    check_margin_buffer,
    check_model_freshness,
    check_stop_loss,
    discipline_report,
    position_size,
    risk_audit,
)
from riskfuncs.margin import margin_buffer, unrealized_pnl
from riskfuncs.portfolio import portfolio_margin

prices = st.floats(1.0, 1e6, allow_nan=False)


def _passed(frame: pd.DataFrame) -> list[bool | None]:
    return [None if value is pd.NA else bool(value) for value in frame["passed"]]


# ------------------------------------------------------------------ position size


def test_position_size_published_example() -> None:
    # kulkalotar.com "Stock Position Size Calculator (Risk-Based)", worked example: account
    # $50,000, 1 % risk = $500, entry 42, stop 39 -> risk/share 3 -> 166 shares (rounded down
    # from 166.67). Exact arithmetic; the page rounds down to whole shares.
    size = position_size(50_000, 0.01, 42, 39, side="long")
    assert size == pytest.approx(500 / 3, rel=1e-12)
    assert math.floor(size) == 166


@given(st.floats(1.0, 1e9), st.floats(1e-4, 1.0), prices, st.floats(0.01, 0.99),
       st.sampled_from(["long", "short"]), st.sampled_from(["linear", "inverse"]))
@settings(max_examples=200, deadline=None)
def test_position_size_loses_exactly_the_risk_at_the_stop(
    equity: float, risk: float, entry: float, move: float, side: str, contract: str
) -> None:
    stop = entry * (1 - move) if side == "long" else entry * (1 + move)
    size = position_size(equity, risk, entry, stop, side=side, contract=contract)
    # The core's unrealised PnL at the stop is the reference for the loss.
    loss = -unrealized_pnl(side, entry, stop, size, contract=contract)
    assert loss == pytest.approx(equity * risk, rel=1e-9)


@given(st.floats(1.0, 1e6), st.floats(1e-3, 0.1), prices, st.floats(0.01, 0.5),
       st.floats(0.0, 0.002), st.sampled_from(["long", "short"]))
@settings(deadline=None)
def test_position_size_with_fees_counts_both_fills(
    equity: float, risk: float, entry: float, move: float, fee: float, side: str
) -> None:
    stop = entry * (1 - move) if side == "long" else entry * (1 + move)
    size = position_size(equity, risk, entry, stop, side=side, fee_rate=fee)
    fees = fee * size * (entry + stop)
    loss = -unrealized_pnl(side, entry, stop, size) + fees
    assert loss == pytest.approx(equity * risk, rel=1e-9)
    inverse = position_size(equity, risk, entry, stop, side=side, contract="inverse",
                            fee_rate=fee)
    inverse_fees = fee * inverse * (1 / entry + 1 / stop)
    inverse_loss = -unrealized_pnl(side, entry, stop, inverse, contract="inverse") + inverse_fees
    assert inverse_loss == pytest.approx(equity * risk, rel=1e-9)


def test_position_size_validation() -> None:
    with pytest.raises(RiskInputError, match=r"^stop_price must be below entry_price for a long"):
        position_size(10_000, 0.01, 100, 105, side="long")
    with pytest.raises(RiskInputError, match=r"^stop_price must be below .* \(got 95\)"):
        position_size(10_000, 0.01, 100, 95, side="short")
    with pytest.raises(RiskInputError, match=r"^risk_fraction must be in \(0, 1\] .*\(got 2\)"):
        position_size(10_000, 2, 100, 95, side="long")
    with pytest.raises(RiskInputError, match=r"^contract must be one of linear, inverse"):
        position_size(10_000, 0.01, 100, 95, side="long", contract="quanto")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match=r"^side must be long or short \(got 'up'\)"):
        position_size(10_000, 0.01, 100, 95, side="up")
    assert math.isnan(position_size(math.nan, 0.01, 100, 95, side="long"))
    # A missing entry or stop price is missing market data: NaN, not a misplaced stop.
    assert math.isnan(position_size(10_000, 0.01, math.nan, 95, side="long"))
    assert math.isnan(position_size(10_000, 0.01, 100, math.nan, side="short"))


def test_position_size_vector_series_and_no_mutation() -> None:
    equity = pd.Series([10_000.0, 20_000.0, 5_000.0], index=["a", "b", "c"])
    entry = np.array([100.0, 50.0, 3_000.0])
    stop = np.array([95.0, 55.0, 2_900.0])
    sides = np.array(["long", "short", "long"], dtype=object)
    saved = (equity.copy(), entry.copy(), stop.copy(), sides.copy())
    sizes = position_size(equity, 0.02, entry, stop, side=sides)
    assert isinstance(sizes, pd.Series) and sizes.index.equals(equity.index)
    loop = [position_size(e, 0.02, p, s, side=d)
            for e, p, s, d in zip(equity, entry, stop, sides, strict=True)]
    assert_allclose(sizes.to_numpy(), loop, rtol=1e-15)
    pd.testing.assert_series_equal(equity, saved[0])
    assert_allclose(entry, saved[1])
    assert_allclose(stop, saved[2])
    assert (sides == saved[3]).all()


# ------------------------------------------------------------------ single checks


def test_check_table_shape() -> None:
    for frame in (check_leverage(3.0), check_margin_buffer(2.0, 1.0),
                  check_stop_loss("long", 100, 95, 90), check_model_freshness(0.5),
                  check_diversification({"a": 1, "b": 1})):
        assert tuple(frame.columns) == CHECK_COLUMNS
        assert len(frame) == 1
        assert str(frame["passed"].dtype) == "boolean"
        assert frame.loc[0, "message"]


def test_check_leverage() -> None:
    assert _passed(check_leverage([4.99, 5.0, 5.01, np.inf, np.nan])) == [
        True, True, False, False, None]
    row = check_leverage(10.0, cap=5.0).iloc[0]
    assert row["value"] == 10.0 and row["limit"] == 5.0
    # Halve the notional or double the margin: both bring 10x to 5x.
    assert row["message"] == ("leverage 10x is above your 5x cap: cut the position by 50% "
                              "or add 100% more margin")
    assert "margin balance is gone" in check_leverage(np.inf).loc[0, "message"]
    with pytest.raises(RiskInputError, match=r"^leverage must be >= 0 \(got -2\)"):
        check_leverage(-2)
    with pytest.raises(RiskInputError, match=r"^cap must be > 0 \(got 0\)"):
        check_leverage(2, cap=0)


def test_check_margin_buffer_uses_core_buffer_and_top_up_is_enough() -> None:
    balance = np.array([1_300.0, 1_299.0, 900.0, 5_000.0])
    requirement = np.array([1_000.0, 1_000.0, 1_000.0, 1_000.0])
    frame = check_margin_buffer(balance, requirement)
    assert_allclose(frame["value"], margin_buffer(balance, requirement))
    assert _passed(frame) == [True, False, False, True]
    assert "can be liquidated now" in frame.loc[2, "message"]
    # The top-up the message names brings the buffer to exactly the minimum.
    assert "add 1 margin" in frame.loc[1, "message"]
    assert margin_buffer(1_299.0 + 1.0, 1_000.0) == pytest.approx(0.30)
    with pytest.raises(RiskInputError, match=r"^requirement must be > 0 \(got 0\)"):
        check_margin_buffer(100, 0)
    assert _passed(check_margin_buffer(np.nan, 100)) == [None]


@pytest.mark.parametrize(
    ("side", "entry", "stop", "liq", "passed", "words"),
    [
        ("long", 100, 95, 90, True, "fires before liquidation"),
        ("long", 100, 89, 90, False, "liquidated first"),
        ("long", 100, 90, 90, False, "liquidated first"),  # a tie is a fail: slippage
        ("long", 100, 101, 90, False, "wrong side of entry"),
        ("short", 100, 105, 110, True, "fires before liquidation"),
        ("short", 100, 111, 110, False, "liquidated first"),
        ("short", 100, 99, 110, False, "wrong side of entry"),
        ("long", 100, 50, 0.0, True, "cannot be liquidated"),  # fully collateralised long
        ("short", 100, 150, math.inf, True, "cannot be liquidated"),  # inverse short
        ("long", 100, math.nan, 0.0, False, "place one below 100"),
        ("long", 100, math.nan, 90, False, "no stop-loss set"),
        ("long", 100, 95, math.nan, None, "cannot be checked"),
    ],
)
def test_check_stop_loss(side: str, entry: float, stop: float, liq: float,
                         passed: bool | None, words: str) -> None:
    frame = check_stop_loss(side, entry, stop, liq)
    assert _passed(frame) == [passed]
    assert words in frame.loc[0, "message"]


def test_check_stop_loss_trailing_stop_against_mark() -> None:
    # A long up from 100 to 120 with its stop at 110 locks in profit: fine against the mark.
    assert _passed(check_stop_loss("long", 100, 110, 80)) == [False]
    assert _passed(check_stop_loss("long", 100, 110, 80, mark_price=120)) == [True]
    assert _passed(check_stop_loss("long", 100, 110, 80, mark_price=105)) == [False]


def test_check_model_freshness() -> None:
    assert _passed(check_model_freshness([0.0, 1.0, 1.5, np.nan])) == [True, True, False, None]
    assert _passed(check_model_freshness(6.0, max_age_days=7.0)) == [True]
    assert check_model_freshness(0.2).loc[0, "scope"] == "portfolio"
    with pytest.raises(RiskInputError, match=r"^last_volatility_update_age_days must be >= 0"):
        check_model_freshness(-1.0)


def test_check_diversification_reuses_counterparty_result() -> None:
    exposures = {"binance": 80.0, "okx": 20.0}
    row = check_diversification(exposures).iloc[0]
    result = diversification_check(exposures)
    assert row["message"] == result.reason
    assert bool(row["passed"]) is result.passed
    assert row["value"] == pytest.approx(0.8) and row["limit"] == 0.5


def test_checks_vector_equals_loop_and_keep_series_labels() -> None:
    rng = np.random.default_rng(3)
    leverage = pd.Series(rng.uniform(0, 10, 25), index=[f"p{i}" for i in range(25)])
    saved = leverage.copy()
    table = check_leverage(leverage)
    assert table["scope"].tolist() == list(leverage.index)
    for i, value in enumerate(leverage):
        one = check_leverage(value)
        assert table.loc[i, "message"] == one.loc[0, "message"]
        assert bool(table.loc[i, "passed"]) == bool(one.loc[0, "passed"])
    pd.testing.assert_series_equal(leverage, saved)

    sides = rng.choice(["long", "short"], 25)
    entry = rng.uniform(50, 150, 25)
    stop = entry * (1 + rng.uniform(-0.2, 0.2, 25))
    liq = entry * (1 + rng.uniform(-0.3, 0.3, 25))
    table = check_stop_loss(sides, entry, stop, liq)
    for i in range(25):
        one = check_stop_loss(sides[i], entry[i], stop[i], liq[i])
        assert table.loc[i, "message"] == one.loc[0, "message"]
        assert _passed(table.iloc[[i]]) == _passed(one)

    balance, need = rng.uniform(0, 3_000, 25), rng.uniform(100, 2_000, 25)
    table = check_margin_buffer(balance, need)
    loop = [check_margin_buffer(b, n).loc[0, "message"] for b, n in
            zip(balance, need, strict=True)]
    assert table["message"].tolist() == loop


# ------------------------------------------------------------------ all together


def test_risk_audit_runs_what_is_given() -> None:
    audit = risk_audit(leverage=[3.0, 8.0], side=["long", "short"], entry_price=[100, 100],
                       stop_price=[95, np.nan], liquidation_price=[80, 120],
                       exposures={"a": 1.0, "b": 1.0}, volatility_age_days=2.0,
                       scope=["BTC", "ETH"])
    assert audit["check"].tolist() == ["leverage", "leverage", "stop_loss", "stop_loss",
                                       "diversification", "model_freshness"]
    assert audit["scope"].tolist()[:4] == ["BTC", "ETH", "BTC", "ETH"]
    assert _passed(audit) == [True, False, True, False, True, False]
    assert audit.index.equals(pd.RangeIndex(6))
    strict = risk_audit(leverage=3.0, limits=DisciplineLimits(leverage_cap=2.0))
    assert _passed(strict) == [False]
    with pytest.raises(RiskInputError, match="at least one input"):
        risk_audit()
    with pytest.raises(RiskInputError, match="margin_balance and requirement"):
        risk_audit(margin_balance=100)
    with pytest.raises(RiskInputError, match="side, entry_price and liquidation_price"):
        risk_audit(stop_price=95)
    with pytest.raises(RiskInputError, match=r"^leverage_cap must be > 0 \(got -1\)"):
        DisciplineLimits(leverage_cap=-1)


def _book() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exchange": ["binance", "binance", "okx", "bybit"],
            "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BTC/USD:BTC"],
            "side": ["long", "short", "long", "short"],
            "contracts": [1.0, 20.0, 100.0, 200.0],
            "contractSize": [1.0, 1.0, 1.0, 100.0],
            "entryPrice": [60_000.0, 3_000.0, 150.0, 50_000.0],
            "markPrice": [61_000.0, 3_100.0, 140.0, 52_000.0],
            "collateral": [20_000.0, 20_000.0, 2_000.0, 0.2],
            "marginMode": ["cross", "cross", "isolated", "isolated"],
            "contractType": ["linear", "linear", "linear", "inverse"],
            "maintenanceMarginRate": [0.004, 0.005, 0.01, 0.005],
            "stopLossPrice": [57_000.0, 2_800.0, 135.0, np.nan],
        }
    )


def test_discipline_report_on_a_book() -> None:
    book = _book()
    before = book.copy()
    report = discipline_report(book, volatility_age_days=0.5)
    pd.testing.assert_frame_equal(book, before)
    assert tuple(report.columns) == CHECK_COLUMNS
    margins = portfolio_margin(book)
    by_check = {name: part.reset_index(drop=True) for name, part in report.groupby("check")}
    # Leverage: one row per position (the core's effective leverage) + one per cross account.
    leverage = by_check["leverage"]
    assert len(leverage) == 5
    assert_allclose(leverage["value"][:4], margins["leverage"], rtol=1e-12)
    cross = book["marginMode"] == "cross"
    account_notional = margins.loc[cross, "notional"].sum()
    account_balance = margins.loc[cross, "margin_balance"].iloc[0]
    assert leverage.loc[4, "value"] == pytest.approx(account_notional / account_balance)
    assert leverage.loc[4, "scope"] == "binance:USDT cross account"
    # Margin buffer: isolated positions one by one, the cross account once.
    buffers = by_check["margin_buffer"]
    assert len(buffers) == 3
    account_mm = margins.loc[cross, "maintenance_margin"].sum()
    assert buffers.loc[2, "value"] == pytest.approx(account_balance / account_mm - 1)
    # Stop-losses: the ETH short stop 2,800 sits below the mark 3,100: wrong side for a short.
    stops = by_check["stop_loss"]
    assert _passed(stops) == [True, False, True, False]
    assert "wrong side of the mark price" in stops.loc[1, "message"]
    assert "no stop-loss set" in stops.loc[3, "message"]
    assert stops["scope"].tolist()[0] == "binance BTC/USDT:USDT long"
    # Diversification uses the counterparty exposure.
    diversification = by_check["diversification"].iloc[0]
    expected = diversification_check(exposure_by_exchange(book))
    assert diversification["message"] == expected.reason
    assert _passed(by_check["model_freshness"]) == [True]
    # Every failed row tells the trader what to do.
    for message in report.loc[report["passed"] == False, "message"]:  # noqa: E712
        assert ":" in message


def test_discipline_report_missing_data_is_unknown_never_a_pass() -> None:
    # BTC's mark price is missing: the binance cross account's balance, leverage, buffer and
    # the liquidation prices of both its positions rest on it, so none of them may pass. The
    # SOL side is missing: its leverage is unknown, not "margin balance gone".
    book = _book()
    book.loc[0, "markPrice"] = np.nan
    book.loc[2, "side"] = None
    report = discipline_report(book)
    cross_or_sol = report["scope"].str.startswith(("binance", "okx"))
    checks = report[cross_or_sol & report["check"].isin(["leverage", "margin_buffer",
                                                         "stop_loss"])]
    assert len(checks) == 9  # leverage: 3 positions + 1 account; 2 buffers; 3 stops
    assert checks["passed"].isna().all()
    assert "okx SOL/USDT:USDT" in checks["scope"].tolist()  # no side word when unknown
    assert not checks["message"].str.contains("gone").any()
    # The isolated inverse position on bybit is untouched by the gaps.
    bybit = report[report["scope"].str.startswith("bybit") & (report["check"] == "leverage")]
    assert _passed(bybit) == [True]


def test_discipline_report_edge_cases() -> None:
    assert discipline_report(_book().iloc[:0]).empty
    no_stops = _book().drop(columns="stopLossPrice")
    stops = discipline_report(no_stops).query("check == 'stop_loss'")
    assert not stops["passed"].any()
    with pytest.raises(RiskInputError, match="positions must be a DataFrame"):
        discipline_report([1, 2])  # type: ignore[arg-type]


@given(st.floats(0.0, 100.0), st.floats(0.5, 20.0))
@settings(deadline=None)
def test_leverage_check_agrees_with_cap(leverage: float, cap: float) -> None:
    assume(not math.isclose(leverage, cap))
    assert _passed(check_leverage(leverage, cap=cap)) == [leverage <= cap]

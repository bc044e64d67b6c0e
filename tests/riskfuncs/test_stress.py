"""Scenario stress testing of a book of positions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import riskfuncs.stress as stress_module
from riskfuncs import RiskInputError
from riskfuncs.funding import funding_payment
from riskfuncs.liquidation import liquidation_price
from riskfuncs.margin import maintenance_margin
from riskfuncs.scenarios import (
    Scenario,
    exchange_default_scenario,
    get_scenario,
    scenario_library,
    span_grid,
)
from riskfuncs.stress import StressResult, stress_test

# Binance FAQ "Leverage and Margin of USDⓈ-M Futures" (older BTCUSDT brackets; amounts follow
# the bracket recurrence: 50 at 50k, 1,300 at 250k).
BTC_TIERS = [
    {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004},
    {"minNotional": 50_000, "maxNotional": 250_000, "maintenanceMarginRate": 0.005},
    {"minNotional": 250_000, "maxNotional": 1_000_000, "maintenanceMarginRate": 0.01},
    {"minNotional": 1_000_000, "maxNotional": 10_000_000, "maintenanceMarginRate": 0.025},
]
# A coin-denominated table for inverse contracts (notional in BTC).
COIN_TIERS = [
    {"minNotional": 0, "maxNotional": 5, "maintenanceMarginRate": 0.005},
    {"minNotional": 5, "maxNotional": 20, "maintenanceMarginRate": 0.01},
    {"minNotional": 20, "maxNotional": 1_000, "maintenanceMarginRate": 0.02},
]


def book(**columns: Any) -> pd.DataFrame:
    """A one-or-more-row book with defaults: binance, BTC/USDT:USDT, linear, isolated."""
    n = max([len(v) for v in columns.values() if isinstance(v, list)], default=1)
    defaults: dict[str, Any] = {
        "exchange": "binance", "symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1.0,
        "entryPrice": 60_000.0, "markPrice": 60_000.0, "collateral": 12_000.0,
        "maintenanceMarginRate": 0.005,
    }
    data = {**defaults, **columns}
    return pd.DataFrame({k: v if isinstance(v, list) else [v] * n for k, v in data.items()})


def move(name: str, **moves: float) -> Scenario:
    return Scenario(name, moves={k.upper(): v for k, v in moves.items()})


# ------------------------------------------------------------------ hand-computed references


def test_long_btc_minus_30_percent_is_liquidated_with_a_6000_gap() -> None:
    # 1 BTC long at 60,000 with 12,000 isolated margin (5x), MMR 0.5%.
    # BTC -30% -> 42,000: PnL = 1 x (42,000 - 60,000) = -18,000; balance = 12,000 - 18,000 =
    # -6,000; MM = 42,000 x 0.5% = 210 >= -6,000 -> liquidated; shortfall = 6,000 (the gap
    # beyond the margin). Binance's isolated formula puts the liquidation price at
    # (60,000 - 12,000) / (1 - 0.005) = 48,241.21, well above 42,000.
    result = stress_test(book(), ["BTC -15% 1h", "BTC -30% 1h"])
    assert_allclose(result.price[0], [51_000.0, 42_000.0])
    assert_allclose(result.pnl[0], [-9_000.0, -18_000.0])
    assert_allclose(result.maintenance_margin[0], [255.0, 210.0])
    assert_allclose(result.margin_balance[0], [3_000.0, -6_000.0])
    assert_array_equal(result.liquidated[0], [False, True])
    assert_allclose(result.shortfall[0], [0.0, 6_000.0])
    assert_allclose(result.margin_ratio[0], [255.0 / 3_000.0, np.inf])
    row = result.by_scenario.loc["BTC -30% 1h"]
    assert row["equity_before"] == 12_000.0
    assert row["equity_after"] == 0.0  # a liquidated account keeps nothing
    assert row["loss"] == 12_000.0
    assert row["shortfall"] == 6_000.0
    assert row["positions_liquidated"] == 1
    assert result.worst.index[0] == "BTC -30% 1h"
    assert result.worst["equity_left"].iloc[0] == 0.0
    assert liquidation_price("long", 60_000, 1, 12_000, maintenance_margin_rate=0.005) == (
        pytest.approx(48_241.206, rel=1e-7)
    )


def test_short_and_inverse_hand_cases() -> None:
    # Short 2 ETH at 3,000 (mark 3,000), 1,500 isolated margin, MMR 1%. BTC +30% -> ETH +39%:
    # price 4,170, PnL = -2 x 1,170 = -2,340, balance -840, liquidated, shortfall 840.
    short = book(symbol="ETH/USDT:USDT", side="short", contracts=2.0, entryPrice=3_000.0,
                 markPrice=3_000.0, collateral=1_500.0, maintenanceMarginRate=0.01)
    result = stress_test(short, "BTC +30% 1h")
    assert result.price[0, 0] == pytest.approx(4_170.0)
    assert result.pnl[0, 0] == pytest.approx(-2_340.0)
    assert result.shortfall[0, 0] == pytest.approx(840.0)
    assert bool(result.liquidated[0, 0])

    # Inverse long: 10,000 USD of BTC/USD:BTC at 50,000 (0.2 BTC), 0.1 BTC margin, MMR 0.5%.
    # BTC -15% -> 42,500: PnL = 10,000 x (1/50,000 - 1/42,500) = -0.0352941 BTC; balance
    # 0.0647059 BTC; MM = 10,000/42,500 x 0.5% = 0.00117647 BTC -> not liquidated.
    # In quote: equity before 0.1 x 50,000 = 5,000, after 0.0647059 x 42,500 = 2,750: the
    # coin-margined long loses on the position and on its collateral.
    inverse = book(symbol="BTC/USD:BTC", contractType="inverse", contracts=100.0,
                   contractSize=100.0, entryPrice=50_000.0, markPrice=50_000.0, collateral=0.1)
    result = stress_test(inverse, "BTC -15% 1h")
    assert result.pnl[0, 0] == pytest.approx(10_000 * (1 / 50_000 - 1 / 42_500), rel=1e-12)
    assert result.maintenance_margin[0, 0] == pytest.approx(10_000 / 42_500 * 0.005, rel=1e-12)
    row = result.by_scenario.iloc[0]
    assert row["equity_before"] == pytest.approx(5_000.0)
    assert row["equity_after"] == pytest.approx(2_750.0)
    assert row["pnl"] == pytest.approx(-1_500.0)  # -0.0352941 BTC x 42,500
    assert not bool(result.liquidated[0, 0])


def test_cross_positions_share_the_wallet() -> None:
    # Binance cross wallet of 10,000 USDT: long 1 BTC at 60,000 and short 10 ETH at 3,000.
    # BTC -30% (ETH -39%): BTC PnL -18,000, ETH PnL +11,700; balance 10,000 - 6,300 = 3,700;
    # MM = 42,000 x 0.5% + 18,300 x 0.5% = 301.5 -> the account survives. Isolated with 5,000
    # each, the BTC leg would be liquidated (5,000 - 18,000 < 210).
    positions = book(symbol=["BTC/USDT:USDT", "ETH/USDT:USDT"], side=["long", "short"],
                     contracts=[1.0, 10.0], entryPrice=[60_000.0, 3_000.0],
                     markPrice=[60_000.0, 3_000.0], collateral=10_000.0, marginMode="cross")
    result = stress_test(positions, ["BTC -30% 1h", "BTC -50% 24h"])
    assert len(result.accounts) == 1
    assert result.accounts["account"].iloc[0] == "binance:USDT"
    assert_allclose(result.pnl[:, 0], [-18_000.0, 11_700.0])
    assert_allclose(result.margin_balance[:, 0], [3_700.0, 3_700.0])
    assert_allclose(result.maintenance_margin[:, 0], [210.0, 91.5])
    assert result.account_requirement[0, 0] == pytest.approx(301.5)
    assert result.margin_ratio[0, 0] == pytest.approx(301.5 / 3_700.0)
    assert not result.liquidated[:, 0].any()
    # BTC -50% (ETH -65%): -30,000 + 19,500 -> balance -500: the whole account goes.
    assert_allclose(result.margin_balance[:, 1], [-500.0, -500.0])
    assert result.liquidated[:, 1].all()
    row = result.by_scenario.iloc[1]
    assert (row["positions_liquidated"], row["accounts_liquidated"]) == (2, 1)
    assert row["shortfall"] == pytest.approx(500.0)  # counted once per account

    isolated = positions.assign(marginMode="isolated", collateral=5_000.0)
    assert bool(stress_test(isolated, "BTC -30% 1h").liquidated[0, 0])


def test_cross_accounts_are_split_by_exchange_and_settlement_currency() -> None:
    positions = book(exchange=["binance", "binance", "okx"],
                     symbol=["BTC/USDT:USDT", "BTC/USDC:USDC", "BTC/USDT:USDT"],
                     marginMode="cross", collateral=[20_000.0, 5_000.0, 20_000.0])
    result = stress_test(positions, "BTC -30% 1h")
    assert list(result.accounts["account"]) == ["binance:USDT", "binance:USDC", "okx:USDT"]
    assert_array_equal(result.liquidated[:, 0], [False, True, False])


def test_repeated_index_labels_keep_isolated_positions_apart() -> None:
    positions = book(collateral=[12_000.0, 30_000.0]).set_axis(["a", "a"])
    result = stress_test(positions, "BTC -30% 1h")
    assert len(result.accounts) == 2
    assert_array_equal(result.liquidated[:, 0], [True, False])
    assert list(result.table("pnl").index) == ["a", "a"]


def test_cross_rows_must_carry_one_wallet_balance() -> None:
    positions = book(symbol=["BTC/USDT:USDT", "ETH/USDT:USDT"], marginMode="cross",
                     collateral=[10_000.0, 9_000.0])
    with pytest.raises(RiskInputError, match="collateral must be one wallet balance on every "
                                             "cross row of binance:USDT"):
        stress_test(positions, "BTC -30% 1h")


def test_exchange_default_loses_the_equity_left_there() -> None:
    # Long 0.1 BTC on FTX with 6,000 margin (mark 61,000 over entry 60,000: equity 6,100) and
    # the same on Binance. FTX fails with LGD 0.5 and prices do not move: loss 3,050.
    positions = book(exchange=["ftx", "binance"], contracts=0.1, markPrice=61_000.0,
                     collateral=6_000.0)
    result = stress_test(positions, exchange_default_scenario("FTX", loss_given_default=0.5))
    row = result.by_scenario.iloc[0]
    assert row["equity_before"] == pytest.approx(12_200.0)
    assert row["default_loss"] == pytest.approx(3_050.0)
    assert row["equity_left"] == pytest.approx(9_150.0)
    assert row["loss"] == pytest.approx(3_050.0)
    assert not result.liquidated.any()
    # The library's FTX event: BTC -26% and the venue lost in full (LGD 1).
    ftx = stress_test(positions, "FTX 2022").by_scenario.iloc[0]
    left = 6_000.0 + 0.1 * (61_000.0 * 0.74 - 60_000.0)
    assert ftx["default_loss"] == pytest.approx(left)
    assert ftx["equity_left"] == pytest.approx(left)


def test_stablecoin_haircut_cuts_collateral_and_can_liquidate() -> None:
    # 1,000 USDC of margin behind a 100,000 notional with MMR 0.9% (MM 900): a 13% haircut
    # leaves 870 < 900 -> liquidated by the depeg alone. USDT collateral is untouched.
    positions = book(symbol=["BTC/USDC:USDC", "BTC/USDT:USDT", "BTC/USDT:USDT"],
                     contracts=100_000 / 60_000, collateral=[1_000.0, 1_000.0, 1_000.0],
                     maintenanceMarginRate=0.009, collateralCurrency=[None, None, "usdc"])
    result = stress_test(positions, "USDC depeg 2023")
    assert_allclose(result.margin_balance[:, 0], [870.0, 1_000.0, 870.0])
    assert_array_equal(result.liquidated[:, 0], [True, False, True])
    assert_allclose(result.pnl[:, 0], 0.0)
    row = result.by_scenario.iloc[0]
    assert row["haircut_loss"] == pytest.approx(260.0)
    assert row["equity_after"] == pytest.approx(1_000.0)
    assert row["loss"] == pytest.approx(2_000.0)


def test_funding_is_paid_for_every_interval() -> None:
    # +0.3% per 8 h for 9 intervals on 60,000 of notional: longs pay 1,620, shorts receive it.
    # Inverse: 10,000 USD at 60,000 is 1/6 BTC; 0.027 of it is 0.0045 BTC = 270 USDT.
    positions = book(symbol=["BTC/USDT:USDT", "BTC/USDT:USDT", "BTC/USD:BTC"],
                     side=["long", "short", "long"], contracts=[1.0, 1.0, 10_000.0],
                     contractType=["linear", "linear", "inverse"],
                     collateral=[12_000.0, 12_000.0, 0.05])
    result = stress_test(positions, ["Funding +0.3%/8h 3d", "Funding -0.3%/8h 3d"])
    assert_allclose(result.pnl[:, 0], [-1_620.0, 1_620.0, -0.0045], rtol=1e-12)
    assert_allclose(result.pnl[:, 1], [1_620.0, -1_620.0, 0.0045], rtol=1e-12)
    assert result.by_scenario["funding"].iloc[0] == pytest.approx(-1_620.0 + 1_620.0 - 270.0)
    # The same as nine payments of the core funding formula.
    nine = [9 * funding_payment(side, q, 60_000.0, 0.003, contract=kind)
            for side, q, kind in [("long", 1.0, "linear"), ("short", 1.0, "linear"),
                                  ("long", 10_000.0, "inverse")]]
    assert_allclose(result.pnl[:, 0], nine, rtol=1e-12)


def test_funding_and_a_move_combine_and_can_tip_an_account() -> None:
    # 1 BTC long with 2,000 margin at 60,000: BTC -2% costs 1,200 (balance 800 > MM 294);
    # with 0.3% x 9 funding on 58,800 (1,587.6 paid) the balance is -787.6: liquidated.
    scenario = Scenario("slide", moves={"BTC": -0.02}, funding_rate=0.003, funding_intervals=9)
    result = stress_test(book(collateral=2_000.0), [move("dip", btc=-0.02), scenario])
    assert_allclose(result.margin_balance[0], [800.0, 800.0 - 1_587.6])
    assert_array_equal(result.liquidated[0], [False, True])


def test_tiers_use_the_tier_of_the_moved_notional() -> None:
    # 10 BTC at 50,000 = 500,000 -> tier 3: 500,000 x 1% - 1,300 = 3,700 (Binance FAQ).
    # -50% -> 250,000, still tier 3 (floor inclusive): 2,500 - 1,300 = 1,200.
    # -60% -> 200,000, tier 2: 200,000 x 0.5% - 50 = 950.
    positions = book(contracts=10.0, entryPrice=50_000.0, markPrice=50_000.0,
                     collateral=200_000.0, maintenanceMarginRate=np.nan)
    scenarios = [move("flat", btc=0.0), move("-50%", btc=-0.5), move("-60%", btc=-0.6)]
    result = stress_test(positions, scenarios, tiers={"BTC/USDT:USDT": BTC_TIERS})
    assert_allclose(result.maintenance_margin[0], [3_700.0, 1_200.0, 950.0])
    expected = maintenance_margin(10.0, np.array([50_000.0, 25_000.0, 20_000.0]), tiers=BTC_TIERS)
    assert_allclose(result.maintenance_margin[0], expected, rtol=1e-15)


def test_entry_value_venues_evaluate_maintenance_at_entry() -> None:
    # Bybit and BitMEX hold maintenance margin at entry value: 60,000 x 0.5% = 300 whatever
    # the move; Binance re-evaluates it at the moved price (42,000 x 0.5% = 210).
    positions = book(exchange=["bybit", "bitmex", "binance"], collateral=30_000.0)
    result = stress_test(positions, "BTC -30% 1h")
    assert_allclose(result.maintenance_margin[:, 0], [300.0, 300.0, 210.0])


def test_closing_fee_adds_to_the_requirement() -> None:
    # Gate-style: taker 0.06% of the moved notional on top of MM: 42,000 x 0.56% = 235.2.
    positions = book(exchange="gate", collateral=30_000.0, feeRate=0.0006)
    result = stress_test(positions, "BTC -30% 1h")
    assert result.maintenance_margin[0, 0] == pytest.approx(210.0)
    assert result.account_requirement[0, 0] == pytest.approx(235.2)


def test_hyperliquid_rate_comes_from_max_leverage() -> None:
    # Hyperliquid: MMR = 1 / (2 x max leverage) = 1/80 at 40x; 42,000 / 80 = 525.
    positions = book(exchange="hyperliquid", maintenanceMarginRate=np.nan, maxLeverage=40.0)
    result = stress_test(positions, "BTC -30% 1h")
    assert result.maintenance_margin[0, 0] == pytest.approx(525.0)


def test_span_scan_risk_weighs_the_extremes_at_35_percent() -> None:
    # McMillan's S&P example: with X = 2 the extreme counts 0.70 of the range loss, so the
    # worst is the full -1 range move; with X = 3 it counts 1.05 and the extreme wins.
    positions = book(collateral=1_000_000.0)  # no liquidation: PnL is linear in the move
    two = stress_test(positions, span_grid(0.10, extreme_multiple=2.0))
    range_loss = two.by_scenario.loc["SPAN 13: price -1 vol up", "loss"]
    assert range_loss == pytest.approx(6_000.0)  # 1 BTC x 60,000 x 10%
    assert two.worst.index[0] == "SPAN 13: price -1 vol up"
    extreme = two.by_scenario.loc["SPAN 16: price -2x extreme"]
    assert extreme["weighted_loss"] == pytest.approx(0.70 * range_loss)
    three = stress_test(positions, span_grid(0.10, extreme_multiple=3.0))
    assert three.worst.index[0] == "SPAN 16: price -3x extreme"
    assert three.worst["weighted_loss"].iloc[0] == pytest.approx(1.05 * range_loss)


def test_missing_market_data_flows_through_as_nan() -> None:
    positions = book(markPrice=[60_000.0, np.nan])
    result = stress_test(positions, "BTC -30% 1h")
    assert np.isnan(result.pnl[1, 0]) and np.isnan(result.margin_balance[1, 0])
    assert not result.liquidated[1, 0]
    assert np.isnan(result.margin_ratio[1, 0])
    assert result.pnl[0, 0] == -18_000.0
    assert np.isnan(result.by_scenario["pnl"].iloc[0])


# ------------------------------------------------------------------ liquidation consistency


@st.composite
def positions_near_liquidation(draw: st.DrawFn) -> dict[str, Any]:
    contract = draw(st.sampled_from(["linear", "inverse"]))
    exchanges = ["binance", "bybit", "okx", "gate", "generic", "bitmex"]
    if contract == "linear":
        exchanges += ["hyperliquid", "dydx"]
    exchange = draw(st.sampled_from(exchanges))
    side = draw(st.sampled_from(["long", "short"]))
    entry = draw(st.floats(100.0, 100_000.0))
    quantity = draw(st.floats(0.01, 50.0)) if contract == "linear" else draw(
        st.floats(100.0, 1_000_000.0))
    value = quantity * entry if contract == "linear" else quantity / entry
    leverage = draw(st.floats(1.2, 50.0))
    tiered = exchange != "hyperliquid" and draw(st.booleans())
    return {
        "contract": contract, "exchange": exchange, "side": side, "entry": entry,
        "mark": entry * draw(st.floats(0.8, 1.2)), "quantity": quantity,
        "collateral": value / leverage, "tiered": tiered,
        "rate": draw(st.floats(0.001, 0.02)), "fee": draw(st.sampled_from([0.0, 0.0005])),
        "max_leverage": draw(st.floats(3.0, 50.0)),
    }


@settings(max_examples=300, deadline=None)
@given(positions_near_liquidation())
def test_a_move_just_past_the_liquidation_price_liquidates(p: dict[str, Any]) -> None:
    tiers = COIN_TIERS if p["contract"] == "inverse" else BTC_TIERS
    symbol = "BTC/USD:BTC" if p["contract"] == "inverse" else "BTC/USDT:USDT"
    rates: dict[str, Any] = {}
    if p["exchange"] == "hyperliquid":
        rates["max_leverage"] = p["max_leverage"]
    elif p["tiered"]:
        rates["tiers"] = tiers
    else:
        rates["maintenance_margin_rate"] = p["rate"]
    lp = liquidation_price(
        p["side"], p["entry"], p["quantity"], p["collateral"], exchange=p["exchange"],
        contract=p["contract"], fee_rate=p["fee"], **rates,
    )
    assume(0.0 < lp < math.inf and lp > 1e-6 * p["entry"])
    s = 1.0 if p["side"] == "long" else -1.0
    eps = 1e-7
    past, before = lp * (1.0 - s * eps), lp * (1.0 + s * eps)
    positions = book(
        exchange=p["exchange"], symbol=symbol, side=p["side"], contracts=p["quantity"],
        contractType=p["contract"], entryPrice=p["entry"], markPrice=p["mark"],
        collateral=p["collateral"], feeRate=p["fee"], maxLeverage=p["max_leverage"],
        maintenanceMarginRate=np.nan if "maintenance_margin_rate" not in rates else p["rate"],
    )
    scenarios = [move("past", btc=past / p["mark"] - 1.0),
                 move("before", btc=before / p["mark"] - 1.0)]
    result = stress_test(positions, scenarios,
                         tiers={symbol: tiers} if "tiers" in rates else None)
    assert_array_equal(result.liquidated[0], [True, False])


# ------------------------------------------------------------------ vector == loop


def mixed_book() -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(7)
    n = 14
    exchange = rng.choice(["binance", "bybit", "ftx", "okx"], n)
    symbol = rng.choice(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDC:USDC", "BTC/USD:BTC"], n)
    inverse = symbol == "BTC/USD:BTC"
    mark = np.select([symbol == "ETH/USDT:USDT", symbol == "SOL/USDC:USDC"], [3_000.0, 150.0],
                     60_000.0)
    contracts = np.where(inverse, rng.uniform(5_000, 50_000, n), rng.uniform(0.5, 5, n))
    value = np.where(inverse, contracts / mark, contracts * mark)
    cross = rng.random(n) < 0.5
    positions = pd.DataFrame({
        "exchange": exchange, "symbol": symbol,
        "side": rng.choice(["long", "short"], n), "contracts": contracts,
        "entryPrice": mark * rng.uniform(0.9, 1.1, n), "markPrice": mark,
        "collateral": value * rng.uniform(0.05, 0.5, n),
        "marginMode": np.where(cross, "cross", "isolated"),
        "contractType": np.where(inverse, "inverse", "linear"),
        "maintenanceMarginRate": rng.choice([0.004, 0.005, 0.01], n),
        "feeRate": rng.choice([0.0, 0.0005], n),
        "collateralCurrency": rng.choice(["", "USDC"], n, p=[0.7, 0.3]),
    }, index=[f"p{i}" for i in range(n)])
    positions.loc[inverse, "collateralCurrency"] = ""
    # Cross rows of one account carry the one wallet balance.
    keys = positions["exchange"] + ":" + positions["symbol"].str.split(":").str[1]
    first = positions.assign(key=keys)[cross].groupby("key")["collateral"].transform("first")
    positions.loc[cross, "collateral"] = first * 3
    for key in keys[cross].unique():
        rows = cross & (keys == key).to_numpy()
        currency = positions.loc[rows, "collateralCurrency"].iloc[0]
        positions.loc[rows, "collateralCurrency"] = currency
    return positions, {"BTC/USDT:USDT": BTC_TIERS}


def library_and_more() -> list[Scenario]:
    return [*scenario_library(), *span_grid(0.08),
            exchange_default_scenario("okx", loss_given_default=0.6)]


def test_vector_equals_loop_over_accounts_and_scenarios() -> None:
    positions, tiers = mixed_book()
    scenarios = library_and_more()
    whole = stress_test(positions, scenarios, tiers=tiers)
    additive = ["pnl", "funding", "haircut_loss", "equity_before", "equity_after",
                "default_loss", "positions_liquidated", "accounts_liquidated", "shortfall"]
    summed = pd.DataFrame(0.0, index=whole.by_scenario.index, columns=additive)
    for account in whole.accounts["account"]:
        rows = np.flatnonzero(whole.positions["account"].to_numpy() == account)
        for j, scenario in enumerate(scenarios):
            part = stress_test(positions.iloc[rows], scenario, tiers=tiers)
            for name in ("pnl", "maintenance_margin", "margin_balance", "shortfall",
                         "margin_ratio", "price"):
                assert_allclose(getattr(part, name)[:, 0], getattr(whole, name)[rows, j],
                                rtol=1e-12, atol=1e-9, err_msg=f"{name} {account} {scenario.name}")
            assert_array_equal(part.liquidated[:, 0], whole.liquidated[rows, j])
            summed.loc[scenario.name] += part.by_scenario.iloc[0][additive].astype(float)
    assert_allclose(summed.to_numpy(), whole.by_scenario[additive].to_numpy(dtype=float),
                    rtol=1e-12, atol=1e-6)
    # The mix really exercises shared wallets, coin accounts and several outcomes.
    assert (whole.accounts["positions"] > 1).any()
    assert whole.positions["contract"].eq("inverse").any()
    assert whole.liquidated.any() and not whole.liquidated.all()


def reference_isolated(row: pd.Series, scenario: Scenario) -> tuple[float, float, float, bool]:
    """The module docstring's formulas for one isolated, untiered position, in plain Python."""
    s = 1.0 if row["side"] == "long" else -1.0
    q = row["contracts"]
    asset = row["symbol"].split("/")[0]
    price = row["markPrice"] * (1.0 + scenario.price_move(asset))
    inverse = row["contractType"] == "inverse"
    if inverse:
        upnl = s * q * (1 / row["entryPrice"] - 1 / price)
        upnl_now = s * q * (1 / row["entryPrice"] - 1 / row["markPrice"])
        value, entry_value = q / price, q / row["entryPrice"]
    else:
        upnl = s * q * (price - row["entryPrice"])
        upnl_now = s * q * (row["markPrice"] - row["entryPrice"])
        value, entry_value = q * price, q * row["entryPrice"]
    funding = -s * value * scenario.funding_rate * scenario.funding_intervals
    currency = row["collateralCurrency"] or row["symbol"].split(":")[1]
    balance = row["collateral"] * (1.0 - scenario.haircut(currency)) + upnl + funding
    basis = entry_value if row["exchange"] in ("bybit", "bitmex") else value
    fee_basis = basis
    if row["exchange"] == "bybit":
        # Bybit "fee to close": taker rate x value at the bankruptcy price.
        sigma = -s if inverse else s
        fee_basis = max((entry_value - sigma * row["collateral"]) / (1 - sigma * row["feeRate"]),
                        0.0)
    requirement = basis * row["maintenanceMarginRate"] + row["feeRate"] * fee_basis
    return upnl - upnl_now + funding, balance, requirement, requirement >= balance


def test_matches_an_independent_scalar_reference() -> None:
    positions, _ = mixed_book()
    positions = positions.assign(marginMode="isolated",
                                 collateral=positions["collateral"] / 2.0)
    scenarios = library_and_more()
    result = stress_test(positions, scenarios)
    for i, (_, row) in enumerate(positions.iterrows()):
        for j, scenario in enumerate(scenarios):
            pnl, balance, requirement, liquidated = reference_isolated(row, scenario)
            assert result.pnl[i, j] == pytest.approx(pnl, rel=1e-12, abs=1e-9)
            assert result.margin_balance[i, j] == pytest.approx(balance, rel=1e-12, abs=1e-9)
            assert result.account_requirement[i, j] == pytest.approx(requirement, rel=1e-12)
            assert result.liquidated[i, j] == liquidated


def test_block_processing_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    positions, tiers = mixed_book()
    scenarios = library_and_more()
    one_pass = stress_test(positions, scenarios, tiers=tiers)
    monkeypatch.setattr(stress_module, "_BLOCK_ELEMENTS", 3 * len(positions))
    blocks = stress_test(positions, scenarios, tiers=tiers)
    for name in ("pnl", "maintenance_margin", "account_balance", "account_requirement"):
        assert_array_equal(getattr(blocks, name), getattr(one_pass, name))
    pd.testing.assert_frame_equal(blocks.by_scenario, one_pass.by_scenario)


def test_inputs_are_not_mutated() -> None:
    positions, tiers = mixed_book()
    scenarios = library_and_more()
    before = positions.copy(deep=True)
    tier_copy = [dict(t) for t in tiers["BTC/USDT:USDT"]]
    betas = {"SOL": 1.7}
    stress_test(positions, scenarios, tiers=tiers, betas=betas)
    pd.testing.assert_frame_equal(positions, before)
    assert tiers["BTC/USDT:USDT"] == tier_copy
    assert betas == {"SOL": 1.7}
    assert scenarios == library_and_more()


# ------------------------------------------------------------------ result shape and errors


def test_result_tables_and_long_format() -> None:
    positions, tiers = mixed_book()
    scenarios = [get_scenario("BTC -30% 1h"), get_scenario("FTX 2022")]
    result = stress_test(positions, scenarios, tiers=tiers, betas={"SOL": 3.0})
    assert isinstance(result, StressResult)
    wide = result.table("liquidated")
    assert list(wide.index) == list(positions.index)
    assert list(wide.columns) == ["BTC -30% 1h", "FTX 2022"]
    long = result.by_position()
    assert len(long) == len(positions) * 2
    assert list(long.columns[:4]) == ["position", "scenario", "account", "asset"]
    first = long[(long["position"] == "p3") & (long["scenario"] == "FTX 2022")].iloc[0]
    assert first["pnl"] == result.pnl[3, 1]
    sol = positions["symbol"].str.startswith("SOL").to_numpy()
    assert_allclose(result.price[sol, 0], positions["markPrice"][sol] * (1 - 0.9))  # capped
    with pytest.raises(RiskInputError, match="measure must be one of price, pnl"):
        result.table("delta")  # type: ignore[arg-type]


def test_worst_picks_the_largest_weighted_loss() -> None:
    result = stress_test(book(side="short", collateral=30_000.0),
                         list(scenario_library()))
    assert result.worst.index[0] == "BTC +30% 1h"
    assert result.worst["loss"].iloc[0] == result.by_scenario["loss"].max()


@pytest.mark.parametrize(
    ("change", "start"),
    [
        ({"symbol": "bitcoin"}, "symbol (row 0) must name a market such as BTC/USDT:USDT, "
         "BTCUSDT or BTC-USDT-SWAP (got 'bitcoin')"),
        ({"symbol": "BTC/USD:USDT", "contractType": "inverse"},
         "symbol (row 0) must settle in its base coin for an inverse contract "
         "(got 'BTC/USD:USDT')"),
        ({"contracts": 0.0}, "contracts must be > 0"),
        ({"markPrice": -1.0}, "markPrice must be > 0"),
        ({"collateral": -5.0}, "collateral must be >= 0"),
        ({"maintenanceMarginRate": np.nan},
         "maintenanceMarginRate (row 0) must be given, or tiers for 'BTC/USDT:USDT' (got none)"),
        ({"maintenanceMarginRate": 1.5}, "maintenanceMarginRate must be in [0, 1)"),
        ({"marginMode": "portfolio"},
         "marginMode (row 0) must be one of isolated, cross (got 'portfolio')"),
        ({"side": "flat"}, "side (row 0) must be long or short (got 'flat')"),
        ({"contracts": "many"}, "contracts (row 0) must be a number (got 'many')"),
    ],
)
def test_bad_positions_are_named(change: dict[str, Any], start: str) -> None:
    with pytest.raises(RiskInputError) as error:
        stress_test(book(**change), "BTC -30% 1h")
    assert str(error.value).startswith(start)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(RiskInputError, match="positions must have a markPrice column"):
        stress_test(book().drop(columns="markPrice"), "BTC -30% 1h")
    with pytest.raises(RiskInputError, match="scenario must be one of"):
        stress_test(book(), "BTC -99%")
    with pytest.raises(RiskInputError, match="scenarios must have unique names"):
        stress_test(book(), ["BTC -30% 1h", get_scenario("BTC -30% 1h")])
    with pytest.raises(RiskInputError, match="scenarios must hold at least one"):
        stress_test(book(), [])
    with pytest.raises(RiskInputError, match=r"betas\['SOL'\] must be finite"):
        stress_test(book(), "BTC -30% 1h", betas={"sol": math.nan})
    with pytest.raises(RiskInputError, match="positions must be a DataFrame"):
        stress_test([1, 2], "BTC -30% 1h")  # type: ignore[arg-type]


def test_missing_market_data_is_counted_as_unknown_not_safe() -> None:
    book = pd.DataFrame(
        {
            "exchange": ["binance", "binance"],
            "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
            "side": ["long", "long"],
            "contracts": [1.0, 10.0],
            "entryPrice": [60_000.0, 3_000.0],
            "markPrice": [60_000.0, np.nan],
            "collateral": [12_000.0, 3_000.0],
            "maintenanceMarginRate": [0.005, 0.005],
        }
    )
    row = stress_test(book, "BTC -30% 1h").by_scenario.iloc[0]
    assert row["positions_liquidated"] == 1  # the BTC long, as in the worked example
    assert row["positions_unknown"] == 1  # the ETH long without a mark price
    assert np.isnan(row["loss"])  # a book with an unknown position has no known loss

"""Unified accounts: collateral haircuts, the account ratio in each venue's convention, and
the price of each asset that liquidates the whole account."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskfuncs import RiskInputError, portfolio_margin
from riskfuncs.accounts import (
    MODES,
    account_margin,
    account_stress,
    collateral_tables,
    collateral_tiers,
    collateral_value,
    conversion_rates,
    parse_collateral_tiers,
    scenario_margin,
    tiered_add_on,
)
from riskfuncs.data.collateral import COLLATERAL_TABLES

REFERENCE = Path(__file__).parents[1] / "reference" / "collateral"

#: OKX help "Multi-currency margin mode": BTC discount tiers (coin units).
OKX_BTC = [{"minAmount": 0, "maxAmount": 20, "ratio": 0.98},
           {"minAmount": 20, "maxAmount": 25, "ratio": 0.975},
           {"minAmount": 25, "maxAmount": 30, "ratio": 0.97},
           {"minAmount": 30, "maxAmount": 50, "ratio": 0.965},
           {"minAmount": 50, "maxAmount": 70, "ratio": 0.96},
           {"minAmount": 70, "maxAmount": 90, "ratio": 0.955},
           {"minAmount": 90, "maxAmount": 110, "ratio": 0.95}]
#: Bybit help "Assets Collateral Value Ratio List (UTA)": the BTC tiers of its example.
BYBIT_BTC: list[dict[str, float | None]] = [{"minAmount": 0, "maxAmount": 10, "ratio": 0.98},
             {"minAmount": 10, "maxAmount": 20, "ratio": 0.95},
             {"minAmount": 20, "maxAmount": 30, "ratio": 0.90},
             {"minAmount": 30, "maxAmount": 40, "ratio": 0.85},
             {"minAmount": 40, "maxAmount": 50, "ratio": 0.80},
             {"minAmount": 50, "maxAmount": None, "ratio": 0.0}]


def _book(*rows: tuple[str, str, float, float, float, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["symbol", "side", "contracts", "entryPrice", "markPrice",
                                       "maintenanceMarginRate"])


def test_okx_tiered_discount_reference_value() -> None:
    # 1,176,000 + 292,500 + 291,000 + 1,158,000 + 1,152,000 + 1,146,000 + 570,000.
    assert collateral_value(100, 60_000, OKX_BTC) == pytest.approx(5_785_500, rel=1e-15)
    frame = pd.DataFrame(OKX_BTC)
    values = collateral_value(np.array([10.0, 100.0, -1.0]), 60_000, frame)
    assert values.tolist() == pytest.approx([588_000, 5_785_500, -60_000], rel=1e-15)
    series = pd.Series([5.0, 25.0], index=["a", "b"])
    assert collateral_value(series, 1.0, OKX_BTC).index.tolist() == ["a", "b"]


def test_binance_multi_assets_conversion_rates() -> None:
    bid, ask = conversion_rates(0.99, bid_buffer=0.01, ask_buffer=0.005)
    assert (bid, ask) == (pytest.approx(0.9801, rel=1e-15), pytest.approx(0.99495, rel=1e-15))


@pytest.mark.parametrize(("tiers", "message"), [
    ([{"minAmount": 5, "maxAmount": None, "ratio": 0.9}], "must start at 0"),
    ([{"minAmount": 0, "maxAmount": 5, "ratio": 1.0},
      {"minValue": 5, "maxValue": None, "ratio": 0.9}], "one unit"),
    ([{"minAmount": 0, "maxAmount": None, "ratio": 1.2}], r"tiers ratio must be in \[0, 1\]"),
    ([{"minAmount": 0, "maxAmount": None}], "must have ratio"),
    ("0.9", "must be a ratio or a list"),
])
def test_bad_collateral_tiers_are_refused(tiers: object, message: str) -> None:
    with pytest.raises(RiskInputError, match=message):
        collateral_value(1.0, 1.0, tiers)  # type: ignore[arg-type]


def test_dydx_cross_reference_value_through_the_account() -> None:
    # dYdX Chain "Liquidations": deposit 1,000, short 3 ETH at 3,000, MMF 5%:
    # p' = (e - s p) / (|s| MMF - s) = 10,000 / 3.15.
    state = account_margin(_book(("ETH/USD:USDC", "short", 3, 3000, 3000, 0.05)),
                           {"USDC": 1000}, mode="dydx_cross")
    price = state.positions["account_liquidation_price"].iloc[0]
    assert price == pytest.approx(10_000 / 3.15, rel=1e-12)
    assert state.ratio == pytest.approx(450 / 1000, rel=1e-15) and not state.liquidated


@pytest.mark.parametrize("seed", range(25))
def test_one_position_without_haircut_is_todays_cross_result(seed: int) -> None:
    rng = np.random.default_rng(seed)
    side = str(rng.choice(["long", "short"]))
    entry = float(rng.uniform(100, 100_000))
    mark = entry * float(rng.uniform(0.9, 1.1))
    qty = float(rng.uniform(0.01, 50))
    wallet = qty * entry * float(rng.uniform(0.05, 0.8))
    rate = float(rng.uniform(0.002, 0.05))
    book = _book(("BTC/USDT:USDT", side, qty, entry, mark, rate))
    state = account_margin(book, {"USDT": wallet}, mode="binance_multi_assets")
    cross = portfolio_margin(book.assign(exchange="binance", marginMode="cross",
                                         collateral=wallet))
    expected = cross["liquidation_price"].iloc[0]
    found = state.positions["account_liquidation_price"].iloc[0]
    assert found == pytest.approx(expected, rel=1e-12, abs=1e-9)


def _mixed_book() -> pd.DataFrame:
    return pd.DataFrame({
        "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"],
        "side": ["long", "short", "long"], "contracts": [2.0, 40.0, 300.0],
        "entryPrice": [60_000.0, 3_000.0, 150.0], "markPrice": [58_000.0, 3_100.0, 140.0],
        "maintenanceMarginRate": [0.005, 0.006, 0.01], "feeRate": [0.0005, 0.0005, 0.0005],
    })


@pytest.mark.parametrize("mode", sorted(MODES))
def test_at_the_account_liquidation_price_the_ratio_equals_its_trigger(mode: str) -> None:
    balances = {"USDT": 20_000.0, "BTC": 1.5, "ETH": -2.0}
    prices = {"BTC": 58_000.0, "ETH": 3_100.0}
    state = account_margin(_mixed_book(), balances, mode=mode,  # type: ignore[arg-type]
                           prices=prices, collateral_tiers={"BTC": BYBIT_BTC, "ETH": 0.9})
    checked = 0
    for asset, price in zip(state.positions["asset"],
                            state.positions["account_liquidation_price"], strict=True):
        if price in (0.0, np.inf):  # never liquidates it: even a zero price leaves margin
            assert asset == "SOL", (mode, asset)
            continue
        checked += 1
        book = _mixed_book()
        book.loc[book["symbol"].str.startswith(asset + "/"), "markPrice"] = price
        moved = account_margin(book, balances, mode=mode,  # type: ignore[arg-type]
                               prices={**prices, asset: price},
                               collateral_tiers={"BTC": BYBIT_BTC, "ETH": 0.9})
        m = MODES[mode]
        if m.convention == "equity-requirement":
            assert moved.ratio == pytest.approx(0.0, abs=1e-6 * moved.requirement)
        else:
            assert moved.ratio == pytest.approx(m.trigger, rel=1e-9), (mode, asset)
    assert checked >= 2


def test_bybit_uta_values_coins_after_haircut_and_pnl_in_the_settle_coin() -> None:
    # 15 BTC: 10 at 98% and 5 at 95% of 60,000 = 873,000; USDT 10,000 plus the ETH short's
    # PnL of -4,000 (40 x (3,000 - 3,100)) at 100%: 6,000. Margin balance 879,000.
    book = _book(("ETH/USDT:USDT", "short", 40, 3000, 3100, 0.01))
    state = account_margin(book, {"BTC": 15, "USDT": 10_000}, mode="bybit_uta",
                           prices={"BTC": 60_000}, collateral_tiers={"BTC": BYBIT_BTC})
    assert state.equity == pytest.approx(873_000 + 6_000, rel=1e-15)
    assert state.requirement == pytest.approx(40 * 3100 * 0.01, rel=1e-15)
    assert state.ratio == pytest.approx(1240 / 879_000, rel=1e-15)
    assert state.ratio_name == "Account MM Rate" and not state.liquidated
    assert state.coins.loc["BTC", "value"] == pytest.approx(873_000, rel=1e-15)
    # Hyperliquid and dYdX margin without haircuts: the same coins count in full.
    plain = account_margin(book, {"BTC": 15, "USDT": 10_000}, mode="dydx_cross",
                           prices={"BTC": 60_000}, collateral_tiers={"BTC": BYBIT_BTC})
    assert plain.equity == pytest.approx(900_000 + 6_000, rel=1e-15)


def test_okx_counts_every_position_liquidation_fee() -> None:
    # The same account as riskfuncs.portfolio_margin's OKX fee case: 41,838.27 for BTC.
    book = pd.DataFrame({"symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"], "side": ["long", "short"],
                         "contracts": [1.0, 100.0], "entryPrice": [60_000.0, 3_000.0],
                         "markPrice": [60_000.0, 3_000.0], "maintenanceMarginRate": [0.004, 0.005],
                         "feeRate": [0.0005, 0.0005]})
    state = account_margin(book, {"USDT": 20_000}, mode="okx_multi_currency")
    btc = state.positions.set_index("asset")["account_liquidation_price"]["BTC"]
    assert btc == pytest.approx(41_650 / 0.9955, rel=1e-12)
    assert state.ratio_name == "margin ratio"
    assert state.ratio == pytest.approx(20_000 / (240 + 1500 + 30 + 150), rel=1e-15)


def test_a_collateral_coin_has_its_own_liquidation_price() -> None:
    # Only BTC collateral behind an ETH short: BTC falling liquidates the account.
    book = _book(("ETH/USDT:USDT", "short", 10, 3000, 3000, 0.01))
    state = account_margin(book, {"BTC": 1.0}, mode="bybit_uta", prices={"BTC": 60_000},
                           collateral_tiers={"BTC": 0.9})
    # 0.9 x P = 300 (MM of 30,000 at 1%): P = 333.33.
    assert state.coins.loc["BTC", "account_liquidation_price"] == pytest.approx(300 / 0.9,
                                                                                rel=1e-12)
    assert state.positions["account_liquidation_price"].iloc[0] > 3000
    # USDT is a coin of the account too (the short settles in it, with no balance): a USDT
    # price moves only the USD value of the short's maintenance margin, never to 0 equity.
    assert state.coins.loc["USDT", "account_liquidation_price"] == pytest.approx(
        0.9 * 60_000 / 300, rel=1e-12)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_at_each_coins_account_liquidation_price_the_ratio_equals_its_trigger(
        mode: str) -> None:
    # Every coin held, stablecoins included: moving that coin alone to its account
    # liquidation price (marks quoted in it held) puts the account on its trigger.
    balances = {"USDT": 9_000.0, "USDC": 4_000.0, "BTC": 0.4, "ETH": -2.0}
    prices = {"BTC": 58_000.0, "ETH": 3_100.0, "USDC": 0.9995}
    book = _mixed_book()
    book.loc[2, "symbol"] = "SOL/USDC:USDC"
    tiers = {"BTC": BYBIT_BTC, "ETH": 0.9, "USDC": 0.98}
    state = account_margin(book, balances, mode=mode,  # type: ignore[arg-type]
                           prices=prices, collateral_tiers=tiers)
    m = MODES[mode]
    assert set(state.coins.index) == {"BTC", "ETH", "USDC", "USDT"}
    checked = 0
    for coin, price in state.coins["account_liquidation_price"].items():
        if price in (0.0, np.inf):
            continue
        checked += 1
        moved = book.copy()
        if coin in ("BTC", "ETH"):  # a traded asset moves its positions' marks too
            moved.loc[moved["symbol"].str.startswith(coin + "/"), "markPrice"] = price
        there = account_margin(moved, balances, mode=mode,  # type: ignore[arg-type]
                               prices={**prices, coin: price}, collateral_tiers=tiers)
        if m.convention == "equity-requirement":
            assert there.ratio == pytest.approx(0.0, abs=1e-6 * there.requirement), coin
        else:
            assert there.ratio == pytest.approx(m.trigger, rel=1e-9), (mode, coin)
    assert checked >= 2, state.coins


def test_a_settle_coin_off_its_peg_converts_pnl_and_maintenance_alike() -> None:
    # SOL/USDC long settled in USDC at 0.98: its PnL (-3,000 USDC) and maintenance margin
    # (42,000 x 1% = 420 USDC) are in USDC, each worth 0.98 USD. By hand: equity =
    # (10,000 - 3,000) x 0.98 = 6,860; requirement 420 x 0.98 = 411.6.
    book = _book(("SOL/USDC:USDC", "long", 300, 150, 140, 0.01))
    state = account_margin(book, {"USDC": 10_000.0}, mode="bybit_uta", prices={"USDC": 0.98})
    assert state.equity == pytest.approx(7_000 * 0.98, rel=1e-15)
    assert state.requirement == pytest.approx(420 * 0.98, rel=1e-15)
    assert state.positions["maintenance_margin"].iloc[0] == pytest.approx(411.6, rel=1e-15)
    assert state.ratio == pytest.approx(420 / 7_000, rel=1e-14)
    # The ratio is unchanged by the settle coin's price when it is the only coin held, so its
    # account liquidation price is the same as at par.
    par = account_margin(book, {"USDC": 10_000.0}, mode="bybit_uta")
    assert state.positions["account_liquidation_price"].iloc[0] == pytest.approx(
        par.positions["account_liquidation_price"].iloc[0], rel=1e-12)


def test_the_book_is_read_by_the_positions_schema() -> None:
    # Exchange ids and aliases as the positions table accepts them: BTCUSDT and XBTUSDT read
    # as BTC settled in USDT, quantity for contracts, a ccxt side word.
    plain = _book(("BTC/USDT:USDT", "long", 2, 60_000, 58_000, 0.005),
                  ("ETH/USDT:USDT", "short", 40, 3_000, 3_100, 0.006))
    aliased = pd.DataFrame({"symbol": ["XBTUSDT", "ETHUSDT"], "side": ["buy", "sell"],
                            "quantity": [2.0, 40.0], "entryPrice": [60_000.0, 3_000.0],
                            "markPrice": [58_000.0, 3_100.0],
                            "maintenanceMarginRate": [0.005, 0.006]}, index=["a", "b"])
    one = account_margin(plain, {"USDT": 20_000, "BTC": 0.5}, mode="bybit_uta")
    two = account_margin(aliased, {"USDT": 20_000, "BTC": 0.5}, mode="bybit_uta")
    assert two.positions["asset"].tolist() == ["BTC", "ETH"]
    assert list(two.positions.index) == ["a", "b"]
    assert two.equity == one.equity and two.requirement == one.requirement
    np.testing.assert_array_equal(two.positions["account_liquidation_price"],
                                  one.positions["account_liquidation_price"])
    with pytest.raises(RiskInputError, match=r"^side \(row b\) must be long or short"):
        account_margin(aliased.assign(side=["buy", None]), {"USDT": 1}, mode="bybit_uta")
    with pytest.raises(RiskInputError, match=r"^symbol \(row a\) must name a market"):
        account_margin(aliased.assign(symbol=["??", "ETHUSDT"]), {"USDT": 1}, mode="bybit_uta")
    with pytest.raises(RiskInputError, match=r"^contracts \(row b\) must be > 0"):
        account_margin(aliased.assign(quantity=[1.0, 0.0]), {"USDT": 1}, mode="bybit_uta")


def test_okx_tiers_count_the_tier_rate_alone_as_its_position_rule_does() -> None:
    # OKX values a position at its tier's rate with no maintenance amount; a tier table with
    # amounts (as ccxt rebuilds them) must not change the OKX account, and one position
    # alone reproduces portfolio_margin's OKX cross liquidation price.
    tiers = [{"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004,
              "maxLeverage": 100},
             {"minNotional": 50_000, "maxNotional": 500_000, "maintenanceMarginRate": 0.01,
              "maxLeverage": 50}]
    book = _book(("BTC/USDT:USDT", "long", 2, 60_000, 60_000, np.nan))
    state = account_margin(book, {"USDT": 30_000}, mode="okx_multi_currency",
                           tiers={"BTC/USDT:USDT": tiers})
    assert state.positions["maintenance_margin"].iloc[0] == pytest.approx(120_000 * 0.01,
                                                                          rel=1e-15)
    cross = portfolio_margin(book.assign(exchange="okx", marginMode="cross", collateral=30_000),
                             tiers={"BTC/USDT:USDT": tiers})
    assert state.positions["account_liquidation_price"].iloc[0] == pytest.approx(
        cross["liquidation_price"].iloc[0], rel=1e-12)


def test_refusals_name_the_argument() -> None:
    book = _book(("BTC/USDT:USDT", "long", 1, 60_000, 60_000, 0.005))
    with pytest.raises(RiskInputError, match=r"^mode must be one of"):
        account_margin(book, {"USDT": 1}, mode="bitget_uta")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="prices must give the USD price of SOL"):
        account_margin(book, {"USDT": 1, "SOL": 5}, mode="bybit_uta")
    with pytest.raises(RiskInputError, match="linear contracts only"):
        account_margin(book.assign(contractType="inverse"), {"BTC": 1}, mode="bybit_uta")
    with pytest.raises(RiskInputError,
                       match=r"maintenanceMarginRate \(row 0\) must be given, or tiers"):
        account_margin(book.assign(maintenanceMarginRate=np.nan), {"USDT": 1},
                       mode="bybit_uta")


# --- haircut tables as data, and the venues' API responses -------------------------------


def _response(name: str) -> object:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))["response"]


def test_okx_reference_value_through_the_stored_table() -> None:
    # OKX help "Multi-currency margin mode": 100 BTC at 60,000 = 5,785,500 USD (exact sum).
    tiers = collateral_tiers("okx_multi_currency", "btc")
    assert collateral_value(100, 60_000, tiers) == pytest.approx(5_785_500, rel=1e-15)
    # The same records as a DataFrame (an open bound becomes NaN) value the same.
    assert collateral_value(100, 60_000, pd.DataFrame(tiers)) == pytest.approx(5_785_500,
                                                                              rel=1e-15)
    frame = collateral_tables("okx_multi_currency")
    assert collateral_value(100, 60_000, frame[["lower", "upper", "ratio"]].rename(
        columns={"lower": "minAmount", "upper": "maxAmount"})) == pytest.approx(5_785_500,
                                                                                rel=1e-15)


def test_binance_usd_value_tiers_reproduce_binances_worked_example() -> None:
    # Binance FAQ "Binance Cross Margin Collateral Haircuts" (Example 1, scenario 1,
    # https://www.binance.com/en-BH/support/faq/binance-cross-margin-collateral-haircuts-
    # 4bec9126c021472285b20874f9380dfb, retrieved 2026-12-01): 6,000 BTC at 20,000 USDT with
    # tiers in USDT value -> 119,500,000 USDT. Exact: the page's own sum.
    tiers = [{"minValue": 0, "maxValue": 100e6, "ratio": 1.0},
             {"minValue": 100e6, "maxValue": 120e6, "ratio": 0.975},
             {"minValue": 120e6, "maxValue": 150e6, "ratio": 0.95},
             {"minValue": 150e6, "maxValue": 180e6, "ratio": 0.90},
             {"minValue": 180e6, "maxValue": 200e6, "ratio": 0.85}]
    assert collateral_value(6_000, 20_000, tiers) == pytest.approx(119_500_000, rel=1e-15)
    # USD tiers move with the price: the same coins at twice the price reach further tiers.
    doubled = 100e6 + 20e6 * 0.975 + 30e6 * 0.95 + 30e6 * 0.90 + 20e6 * 0.85
    assert collateral_value(6_000, 40_000, tiers) == pytest.approx(doubled, rel=1e-15)


def test_every_stored_table_has_provenance_and_valid_tiers() -> None:
    for (venue, coin), table in COLLATERAL_TABLES.items():
        assert table.source.count("http") >= 1, (venue, coin)
        assert table.effective == "" or len(table.effective) == 10
        # The loader's records pass collateral_value's checks; 1 coin is worth at most 1 USD.
        value = collateral_value(1.0, 1.0, collateral_tiers(venue, coin))
        assert 0.0 <= value <= 1.0
    frame = collateral_tables()
    assert set(frame["unit"]) == {"coin", "usd"}
    assert len(frame) == sum(len(t.bounds) for t in COLLATERAL_TABLES.values())


def test_binance_pm_pro_table_as_announced() -> None:
    # Binance announcement of October 2025 (PM Pro, after 2025-10-24): ORDI rank 8,
    # 0-200k 100%, 200k-400k 80%, 400k-800k 70%, 800k-1M 40%, above 20% (USD value).
    tiers = collateral_tiers("binance_portfolio_pro", "ORDI")
    value = collateral_value(100_000, 10.0, tiers)  # 1,000,000 USD of ORDI
    assert value == pytest.approx(200_000 + 160_000 + 280_000 + 80_000, rel=1e-15)


def test_refusals_of_the_loader_name_venue_and_coin() -> None:
    with pytest.raises(RiskInputError, match=r"^venue must be one of"):
        collateral_tiers("kraken", "BTC")
    with pytest.raises(RiskInputError, match="coin 'DOGE' has no stored okx_multi_currency"):
        collateral_tiers("okx_multi_currency", "DOGE")


def test_bybit_documented_response_is_parsed() -> None:
    tiers = parse_collateral_tiers(_response("bybit_spot_margin_collateral.json"), venue="bybit")
    assert tiers == {"BTC": [{"minAmount": 0.0, "maxAmount": 1_000_000.0, "ratio": 0.85},
                             {"minAmount": 1_000_000.0, "maxAmount": None, "ratio": 0.0}]}
    assert collateral_value(2.0, 50_000, tiers["BTC"]) == pytest.approx(85_000, rel=1e-15)


def test_okx_documented_response_is_parsed_with_its_floor_rate() -> None:
    response = _response("okx_discount_rate_interest_free_quota.json")
    tiers = parse_collateral_tiers(response, venue="okx")["BTC"]
    assert tiers == [{"minAmount": 0.0, "maxAmount": 20.0, "ratio": 0.98},
                     {"minAmount": 20.0, "maxAmount": 25.0, "ratio": 0.9775},
                     {"minAmount": 25.0, "maxAmount": None, "ratio": 0.0}]
    # 30 BTC: 20 at 98%, 5 at 97.75%, the 5 past the last tier at minDiscountRate 0.
    assert collateral_value(30, 1.0, tiers) == pytest.approx(20 * 0.98 + 5 * 0.9775, rel=1e-15)
    # The deprecated discountInfo shape (no floor rate) reads the same tiers.
    old = {"data": [{"ccy": "BTC", "discountInfo": response["data"][0]["details"]}]}  # type: ignore[index]
    assert parse_collateral_tiers(old, venue="okx")["BTC"] == tiers[:2]


def test_binance_pm_documented_responses_are_parsed() -> None:
    tiers = parse_collateral_tiers(_response("binance_portfolio_collateral_rate_v2.json"),
                                   venue="binance_portfolio")
    assert tiers["USDT"][1] == {"minValue": 1000.0, "maxValue": 2000.0, "ratio": 0.9999}
    # 1,500 USD of BNB: 1,000 at 100% and 500 at 90%.
    assert collateral_value(3.0, 500.0, tiers["BNB"]) == pytest.approx(1_450, rel=1e-15)
    # Binance API docs "Portfolio Margin Collateral Rate" (v1): one flat rate per asset.
    flat = parse_collateral_tiers([{"asset": "USDC", "collateralRate": "1.0000"},
                                   {"asset": "BUSD", "collateralRate": "1.0000"}],
                                  venue="binance_portfolio")
    assert flat["USDC"] == [{"minAmount": 0.0, "maxAmount": None, "ratio": 1.0}]


def test_bad_responses_are_refused_naming_the_field() -> None:
    with pytest.raises(RiskInputError, match="response collateralRatio must be a number"):
        parse_collateral_tiers({"result": {"list": [{"currency": "BTC", "collateralRatioList": [
            {"minQty": "0", "maxQty": "", "collateralRatio": "n/a"}]}]}}, venue="bybit")
    with pytest.raises(RiskInputError, match="response must hold a list under data"):
        parse_collateral_tiers({"code": "0"}, venue="okx")
    with pytest.raises(RiskInputError, match=r"response BTC tiers ratio must be in \[0, 1\]"):
        parse_collateral_tiers({"data": [{"ccy": "BTC", "details": [
            {"minAmt": "0", "maxAmt": "", "discountRate": "1.5"}]}]}, venue="okx")


# --- scenario-based portfolio margin (approximation) ---------------------------------------


def _hand_worst_losses(rows: list[tuple[str, str, float, float]],
                       grid: list[tuple[str, float]]) -> dict[str, float]:
    """Worst loss per underlying, one scenario and one position at a time."""
    out: dict[str, float] = {}
    for unit in {r[0] for r in rows}:
        worst = 0.0
        for target, move in grid:
            if target not in ("*", unit):
                continue
            pnl = 0.0
            for asset, side, qty, mark in rows:
                if asset == unit:
                    pnl += (qty if side == "long" else -qty) * (mark * (1 + move) - mark)
            worst = max(worst, -pnl)
        out[unit] = worst
    return out


@pytest.mark.parametrize("seed", range(20))
def test_scenario_margin_is_the_hand_computed_worst_loss_of_the_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = [(str(rng.choice(["BTC", "ETH", "SOL"])), str(rng.choice(["long", "short"])),
             float(rng.uniform(0.1, 20)), float(rng.uniform(10, 90_000))) for _ in range(6)]
    # Each underlying's mark is one price: the last drawn for it.
    marks = {r[0]: r[3] for r in rows}
    rows = [(a, side, q, marks[a]) for a, side, q, _ in rows]
    grid = [("*", float(m)) for m in rng.uniform(-0.3, 0.3, size=5)] + \
        [(str(rng.choice(list(marks))), float(rng.uniform(-0.5, 0.5)))]
    book = pd.DataFrame({"symbol": [f"{a}/USDT:USDT" for a, *_ in rows],
                         "side": [r[1] for r in rows], "contracts": [r[2] for r in rows],
                         "markPrice": [r[3] for r in rows]})
    scenarios = pd.DataFrame({"underlying": [g[0] for g in grid],
                              "price_move": [g[1] for g in grid]})
    result = scenario_margin(book, scenarios)
    expected = _hand_worst_losses(rows, grid)
    assert result.units["worst_loss"].to_dict() == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert result.maintenance == pytest.approx(sum(expected.values()), rel=1e-12, abs=1e-9)
    assert (result.units["basis"] == "approximation").all()
    assert result.basis == result.units.attrs["basis"] == "approximation"
    # Doubling every position doubles the requirement; a wider grid never lowers it.
    doubled = scenario_margin(book.assign(contracts=book["contracts"] * 2), scenarios)
    assert doubled.maintenance == pytest.approx(2 * result.maintenance, rel=1e-12, abs=1e-9)
    wider = pd.concat([scenarios, pd.DataFrame({"price_move": [-0.6, 0.6]})],
                      ignore_index=True)
    assert scenario_margin(book, wider).maintenance >= result.maintenance


def test_scenario_margin_counts_spot_vega_and_add_ons_in_the_unit() -> None:
    # A BTC short hedged by BTC held: the unit's delta is 1 BTC x 50,000 - 1 BTC x 50,000 = 0,
    # so only the vega leg loses: 2,000 USD per vol unit x 0.5 down = 1,000; add-on 300.
    book = pd.DataFrame({"symbol": ["BTC/USDT:USDT"], "side": ["short"], "contracts": [1.0],
                         "markPrice": [50_000.0], "vega": [2_000.0]})
    grid = pd.DataFrame({"price_move": [-0.15, 0.15, 0.0], "vol_move": [0.0, 0.0, -0.5]},
                        index=["down", "up", "vol down"])
    result = scenario_margin(book, grid, balances={"BTC": 1.0, "USDT": 10_000},
                             add_ons={"BTC": 300.0})
    row = result.units.loc["BTC"]
    assert (row["worst_loss"], row["worst_scenario"], row["maintenance"]) == \
        (pytest.approx(1_000, rel=1e-12), "vol down", pytest.approx(1_300, rel=1e-12))
    assert result.grid.loc["down", "BTC"] == pytest.approx(0.0, abs=1e-9)


def test_okx_stablecoin_depeg_add_on_reference_value() -> None:
    # OKX notice "OKX will update margin calculation rules for the portfolio margin mode"
    # (December 2024), MR9 example as copied by a secondary source: 1M x 0.75% + 4M x 1.75% +
    # 5M x 2.5% = 202,500 USD. Exact: the notice's own sum.
    tiers: list[dict[str, float | None]] = [
        {"minValue": 0, "maxValue": 1e6, "rate": 0.0075},
        {"minValue": 1e6, "maxValue": 5e6, "rate": 0.0175},
        {"minValue": 5e6, "maxValue": None, "rate": 0.025}]
    assert tiered_add_on(10e6, tiers) == pytest.approx(202_500, rel=1e-15)
    assert tiered_add_on(np.array([0.5e6, 2e6]), tiers).tolist() == pytest.approx(
        [3_750, 7_500 + 17_500], rel=1e-15)


def test_scenario_margin_refusals_name_the_argument() -> None:
    book = _book(("BTC/USDT:USDT", "long", 1, 60_000, 60_000, 0.005))
    with pytest.raises(RiskInputError, match="scenarios must have a price_move column"):
        scenario_margin(book, pd.DataFrame({"move": [0.1]}))
    with pytest.raises(RiskInputError, match="scenarios has no row for underlying BTC"):
        scenario_margin(book, pd.DataFrame({"underlying": ["ETH"], "price_move": [0.1]}))
    with pytest.raises(RiskInputError, match="add_ons ETH names no risk unit"):
        scenario_margin(book, pd.DataFrame({"price_move": [0.1]}), add_ons={"ETH": 1.0})
    with pytest.raises(RiskInputError, match="scenarios price_move must be > -1"):
        scenario_margin(book, pd.DataFrame({"price_move": [-1.5]}))


# --- joint account stress ----------------------------------------------------------------

_BALANCES = {"USDT": 20_000.0, "BTC": 1.5, "ETH": -2.0}
_PRICES = {"BTC": 58_000.0, "ETH": 3_100.0}
_HAIRCUTS: dict[str, list[dict[str, float | None]] | float] = {"BTC": BYBIT_BTC, "ETH": 0.9}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_scenario_to_the_account_liquidation_price_lands_on_the_trigger(mode: str) -> None:
    state = account_margin(_mixed_book(), _BALANCES, mode=mode,  # type: ignore[arg-type]
                           prices=_PRICES, collateral_tiers=_HAIRCUTS)
    reference = {"SOL": 140.0, **_PRICES}
    scenarios = {
        asset: {asset: price / reference[asset] - 1.0}
        for asset, price in zip(state.positions["asset"],
                                state.positions["account_liquidation_price"], strict=True)
        if 0.0 < price < np.inf}
    assert len(scenarios) >= 2
    out = account_stress(_mixed_book(), _BALANCES, scenarios, mode=mode,  # type: ignore[arg-type]
                         prices=_PRICES, collateral_tiers=_HAIRCUTS)
    m = MODES[mode]
    for asset, row in out.iterrows():
        assert row["margin_left"] == pytest.approx(0.0, abs=1e-9 * row["requirement"]), asset
        if m.convention == "equity-requirement":
            assert row["ratio"] == pytest.approx(0.0, abs=1e-6 * row["requirement"])
        else:
            assert row["ratio"] == pytest.approx(m.trigger, rel=1e-9), (mode, asset)
        assert row["trigger"] == m.trigger and row["ratio_name"] == m.ratio_name


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_joint_scenario_is_the_account_at_the_moved_prices(mode: str) -> None:
    # Every asset and coin at once: the same as account_margin with every price moved, each
    # mark (quoted in USDT) the asset's moved USD price over USDT's moved price.
    moves = {"BTC": -0.2, "ETH": 0.15, "SOL": -0.3, "USDT": -0.02}
    scenarios = pd.DataFrame([moves, {"BTC": 0.1}], index=["crash", "btc up"])
    out = account_stress(_mixed_book(), _BALANCES, scenarios, mode=mode,  # type: ignore[arg-type]
                         prices=_PRICES, collateral_tiers=_HAIRCUTS)
    reference = {"SOL": 140.0, "USDT": 1.0, **_PRICES}
    for name in scenarios.index:
        row = scenarios.loc[name]
        moved = {str(c): reference[str(c)] * (1 + float(v)) for c, v in row.items()
                 if not np.isnan(v)}
        book = _mixed_book()
        usdt = moved.get("USDT", 1.0)
        for asset in ("BTC", "ETH", "SOL"):
            rows = book["symbol"].str.startswith(asset + "/")
            book.loc[rows, "markPrice"] = book.loc[rows, "markPrice"] * (
                moved.get(asset, reference[asset]) / reference[asset]) / usdt
        expected = account_margin(book, _BALANCES, mode=mode,  # type: ignore[arg-type]
                                  prices={**_PRICES, **moved}, collateral_tiers=_HAIRCUTS)
        got = out.loc[name]
        assert (got["equity"], got["requirement"]) == (
            pytest.approx(expected.equity, rel=1e-12), pytest.approx(expected.requirement,
                                                                    rel=1e-12))
        assert got["liquidated"] == expected.liquidated


def test_account_stress_by_hand_for_bybit_uta() -> None:
    # 15 BTC collateral (Bybit's example tiers) and 10,000 USDT behind a 40 ETH short at 3,000
    # (MMR 1%). BTC -10% and ETH +5%: BTC 54,000 -> (10 x 0.98 + 5 x 0.95) x 54,000 =
    # 785,700; USDT 10,000 - 40 x 150 = 4,000; MM 40 x 3,150 x 1% = 1,260.
    book = _book(("ETH/USDT:USDT", "short", 40, 3000, 3000, 0.01))
    out = account_stress(book, {"BTC": 15, "USDT": 10_000},
                         pd.DataFrame({"BTC": [-0.1], "ETH": [0.05], "XRP": [-0.5]}),
                         mode="bybit_uta", prices={"BTC": 60_000},
                         collateral_tiers={"BTC": BYBIT_BTC})
    row = out.iloc[0]
    assert row["equity"] == pytest.approx(785_700 + 4_000, rel=1e-15)
    assert row["requirement"] == pytest.approx(1_260, rel=1e-15)
    assert row["ratio"] == pytest.approx(1_260 / 789_700, rel=1e-15)
    assert not row["liquidated"] and row["ratio_name"] == "Account MM Rate"


def test_account_stress_refusals_name_the_argument() -> None:
    book = _book(("BTC/USDT:USDT", "long", 1, 60_000, 60_000, 0.005))
    with pytest.raises(RiskInputError, match="scenarios BTC must be > -1"):
        account_stress(book, {"USDT": 1_000}, {"wipe": {"BTC": -1.0}}, mode="bybit_uta")
    with pytest.raises(RiskInputError, match="scenarios must have at least one scenario"):
        account_stress(book, {"USDT": 1_000}, pd.DataFrame(), mode="bybit_uta")
    with pytest.raises(RiskInputError, match="scenarios must be a DataFrame, a mapping of "
                       "scenario to moves or stress scenarios"):
        account_stress(book, {"USDT": 1_000}, [0.1], mode="bybit_uta")  # type: ignore[arg-type]


# --- Binance Multi-Assets bid/ask conversion rates -----------------------------------------

#: Binance FAQ c983a9268cfa4e70a4916c276bb3b7bc "How to Calculate Margin in Multi-Assets Mode":
#: USDTUSD index 0.99 with bid buffer 0.01 and ask buffer 0.005; USDCUSD 1, 0, 0.
_BINANCE_FAQ_BOOK = pd.DataFrame({
    "symbol": ["BTC/USDT:USDT", "ETH/USDC:USDC"], "side": ["long", "long"],
    "contracts": [0.5, 20.0], "entryPrice": [20_000.0, 600.0], "markPrice": [20_000.0, 600.0],
    "maintenanceMarginRate": [0.008, 0.01]})


def test_binance_multi_assets_documented_example_at_the_bid_and_ask_rates() -> None:
    # "Account Equity = sum min(assetEquity*bidRate, assetEquity*askRate) = 200 * 0.9801 +
    # 220 * 1 = 416.02"; account maintenance margin 0.5 x 20,000 x 0.8% x 0.99495 +
    # 20 x 600 x 1% x 1 = 199.596; "Margin Ratio = 199.596 / 416.02 = 0.47977 = 47.98%".
    state = account_margin(_BINANCE_FAQ_BOOK, {"USDT": 200.0, "USDC": 220.0},
                           mode="binance_multi_assets", prices={"USDT": 0.99, "USDC": 1.0},
                           conversion_buffers={"USDT": (0.01, 0.005), "USDC": (0.0, 0.0)})
    assert state.equity == pytest.approx(416.02, rel=1e-14)
    assert state.requirement == pytest.approx(199.596, rel=1e-14)
    assert state.ratio == pytest.approx(199.596 / 416.02, rel=1e-14)
    assert round(state.ratio * 100, 2) == 47.98
    assert state.coins.loc["USDT", "bid_rate"] == pytest.approx(0.9801, rel=1e-15)
    assert state.coins.loc["USDT", "ask_rate"] == pytest.approx(0.99495, rel=1e-15)
    assert state.positions["maintenance_margin"].tolist() == pytest.approx(
        [80 * 0.99495, 120.0], rel=1e-14)
    # Without the buffers the same account is valued at the index prices, as before.
    before = account_margin(_BINANCE_FAQ_BOOK, {"USDT": 200.0, "USDC": 220.0},
                            mode="binance_multi_assets", prices={"USDT": 0.99})
    assert before.equity == pytest.approx(200 * 0.99 + 220, rel=1e-15)
    # Each maintenance margin in its settle coin at that coin's index price: USDT at 0.99.
    assert before.requirement == pytest.approx(80 * 0.99 + 120, rel=1e-15)
    assert "bid_rate" not in before.coins


def test_binance_bid_ask_by_hand_with_a_debt_a_loss_and_a_haircut() -> None:
    # 1 BTC collateral (index 60,000, buffers 0.2% / 0.3%, collateral ratio 95%) and -500 USDT
    # behind a 0.5 BTCUSDT long from 62,000 marked 60,000 (PnL -1,000 USDT, MMR 0.8%).
    # USDT equity -1,500 owed: at the ask 0.99 x 1.005 = 0.99495 -> -1,492.425.
    # BTC equity 1 held: at the bid 60,000 x 0.998 = 59,880, x 95% = 56,886.
    # Maintenance 0.5 x 60,000 x 0.8% = 240 USDT at the ask: 238.788.
    book = _book(("BTC/USDT:USDT", "long", 0.5, 62_000, 60_000, 0.008))
    state = account_margin(book, {"USDT": -500.0, "BTC": 1.0}, mode="binance_multi_assets",
                           prices={"USDT": 0.99, "BTC": 60_000}, collateral_tiers={"BTC": 0.95},
                           conversion_buffers={"USDT": (0.01, 0.005), "BTC": (0.002, 0.003)})
    assert state.equity == pytest.approx(56_886 - 1_492.425, rel=1e-14)
    assert state.requirement == pytest.approx(238.788, rel=1e-14)
    assert state.ratio == pytest.approx(238.788 / (56_886 - 1_492.425), rel=1e-14)
    assert state.coins.loc["USDT", "value"] == pytest.approx(-1_492.425, rel=1e-14)
    assert state.coins.loc["BTC", "value"] == pytest.approx(56_886, rel=1e-14)


def test_zero_buffers_at_a_dollar_are_todays_result() -> None:
    balances = {"USDT": 20_000.0, "BTC": 1.5, "ETH": -2.0}
    plain = account_margin(_mixed_book(), balances, mode="binance_multi_assets",
                           prices=_PRICES, collateral_tiers=_HAIRCUTS)
    zero = account_margin(_mixed_book(), balances, mode="binance_multi_assets",
                          prices=_PRICES, collateral_tiers=_HAIRCUTS,
                          conversion_buffers={"USDT": (0.0, 0.0)})
    assert zero.equity == pytest.approx(plain.equity, rel=1e-15)
    assert zero.requirement == pytest.approx(plain.requirement, rel=1e-15)
    assert zero.positions["account_liquidation_price"].tolist() == pytest.approx(
        plain.positions["account_liquidation_price"].tolist(), rel=1e-12)


_BUFFERS = {"USDT": (0.01, 0.005), "BTC": (0.002, 0.003), "ETH": (0.004, 0.006)}


def test_with_conversion_rates_the_ratio_is_its_trigger_at_each_liquidation_price() -> None:
    balances = {"USDT": 20_000.0, "BTC": 1.5, "ETH": -2.0}
    prices = {**_PRICES, "USDT": 0.995}
    state = account_margin(_mixed_book(), balances, mode="binance_multi_assets", prices=prices,
                           collateral_tiers=_HAIRCUTS, conversion_buffers=_BUFFERS)
    checked = 0
    for asset, price in zip(state.positions["asset"],
                            state.positions["account_liquidation_price"], strict=True):
        if not 0.0 < price < np.inf:
            continue
        checked += 1
        book = _mixed_book()
        book.loc[book["symbol"].str.startswith(asset + "/"), "markPrice"] = price
        moved = account_margin(book, balances, mode="binance_multi_assets",
                               prices={**prices, asset: price}, collateral_tiers=_HAIRCUTS,
                               conversion_buffers=_BUFFERS)
        assert moved.ratio == pytest.approx(1.0, rel=1e-9), asset
    assert checked >= 2
    # The joint stress moves each coin's bid and ask rates with its price, and the marks
    # quoted in USDT up by 1 / 0.97 (every asset's USD price held).
    out = account_stress(_mixed_book(), balances, {"usdt off peg": {"USDT": -0.03}},
                         mode="binance_multi_assets", prices=prices,
                         collateral_tiers=_HAIRCUTS, conversion_buffers=_BUFFERS)
    repriced = _mixed_book()
    repriced["markPrice"] /= 0.97
    expected = account_margin(repriced, balances, mode="binance_multi_assets",
                              prices={**prices, "USDT": 0.995 * 0.97},
                              collateral_tiers=_HAIRCUTS, conversion_buffers=_BUFFERS)
    assert out.loc["usdt off peg", "equity"] == pytest.approx(expected.equity, rel=1e-12)
    assert out.loc["usdt off peg", "requirement"] == pytest.approx(expected.requirement,
                                                                   rel=1e-12)


@pytest.mark.parametrize(("mode", "buffers", "message"), [
    ("bybit_uta", {"USDT": (0.01, 0.005)}, "use them with mode binance_multi_assets"),
    ("binance_multi_assets", {"USDT": (1.0, 0.005)},
     r"conversion_buffers USDT bid buffer must be in \[0, 1\) \(got 1.0\)"),
    ("binance_multi_assets", {"usdt": (0.01, -0.1)},
     r"conversion_buffers USDT ask buffer must be >= 0"),
    ("binance_multi_assets", {"USDT": 0.01}, "must be two numbers: bid buffer, ask buffer"),
])
def test_conversion_buffer_refusals_name_the_argument(mode: str, buffers: object,
                                                      message: str) -> None:
    with pytest.raises(RiskInputError, match=message):
        account_margin(_BINANCE_FAQ_BOOK, {"USDT": 200.0}, mode=mode,  # type: ignore[arg-type]
                       conversion_buffers=buffers)  # type: ignore[arg-type]


def test_a_book_read_without_collateral_is_refused_where_collateral_is_needed() -> None:
    from riskfuncs.book import as_book

    book = _book(("BTC/USDT:USDT", "long", 1, 60_000, 60_000, 0.005))
    with pytest.raises(RiskInputError, match=r"^positions must have a collateral column$"):
        as_book(book)
    read = as_book(book, collateral=False)
    assert np.isnan(read.values("collateral")).all()
    assert account_margin(read, {"USDT": 5_000}, mode="bybit_uta").equity == 5_000
    with pytest.raises(RiskInputError, match=r"^positions must have a collateral column$"):
        portfolio_margin(read)


def test_library_scenarios_move_every_asset_and_coin_of_the_account() -> None:
    # "BTC -30% 1h": BTC -30%, ETH 1.3 x -30% = -39%, SOL 2 x -30% = -60%, USDT unmoved; a
    # USDC depeg scenario (collateral haircut 13%) moves USDC to 0.87. Each row equals the
    # account at the moved prices given as a table.
    from riskfuncs.scenarios import Scenario, get_scenario

    book = _mixed_book()
    balances = {"USDT": 30_000.0, "USDC": 10_000.0, "BTC": 0.5}
    depeg = Scenario("USDC depeg", collateral_haircuts={"USDC": 0.13}, funding_rate=0.001,
                     funding_intervals=3)
    out = account_stress(book, balances, ["BTC -30% 1h", depeg], mode="bybit_uta",
                         collateral_tiers={"BTC": BYBIT_BTC})
    assert list(out.index) == ["BTC -30% 1h", "USDC depeg"]
    by_hand = account_stress(book, balances, pd.DataFrame(
        {"BTC": [-0.30, 0.0], "ETH": [-0.39, 0.0], "SOL": [-0.60, 0.0], "USDC": [0.0, -0.13]},
        index=["BTC -30% 1h", "USDC depeg"]), mode="bybit_uta",
        collateral_tiers={"BTC": BYBIT_BTC})
    crash = out.loc["BTC -30% 1h"]
    assert get_scenario("BTC -30% 1h").price_move("ETH") == pytest.approx(-0.39, abs=1e-15)
    for column in ("equity", "requirement", "ratio"):
        assert crash[column] == pytest.approx(by_hand.loc["BTC -30% 1h", column], rel=1e-12)
    assert crash["funding"] == 0.0
    # Funding 0.3% of each notional at the marks: longs pay, the ETH short receives.
    notional = book["contracts"] * book["markPrice"]
    signs = np.where(book["side"] == "long", 1.0, -1.0)
    received = float((-signs * notional * 0.003).sum())
    assert out.loc["USDC depeg", "funding"] == pytest.approx(received, rel=1e-12)
    assert out.loc["USDC depeg", "equity"] == pytest.approx(
        by_hand.loc["USDC depeg", "equity"] + received, rel=1e-12)
    with pytest.raises(RiskInputError, match=r"^scenario must be one of"):
        account_stress(book, balances, "BTC -99% 1h", mode="bybit_uta")


def test_a_collateral_ratio_outside_0_1_is_refused_naming_the_coin() -> None:
    with pytest.raises(RiskInputError, match=r"^tiers must be a ratio in \[0, 1\] or a list "
                                             r"of collateral tiers \(got 1.5\)$"):
        collateral_value(1, 100, 1.5)
    book = _book(("BTC/USDT:USDT", "long", 1, 60_000, 60_000, 0.005))
    with pytest.raises(RiskInputError, match=r"^collateral_tiers BTC must be a ratio in"):
        account_margin(book, {"USDT": 1_000, "BTC": 1}, mode="bybit_uta",
                       collateral_tiers={"btc": 1.5})
    gap = [{"minAmount": 0, "maxAmount": 10, "ratio": 0.95},
           {"minAmount": 20, "maxAmount": None, "ratio": 0.9}]
    with pytest.raises(RiskInputError, match=r"^collateral_tiers ETH must start at 0 and each "
                                             r"tier end where the next begins$"):
        account_margin(book, {"USDT": 1_000}, mode="bybit_uta",
                       collateral_tiers={"ETH": gap})


def test_a_position_quoted_in_a_coin_is_valued_in_usd_through_that_coin() -> None:
    # An ETH/BTC linear perpetual settled in BTC, marked 0.05 BTC, BTC at 60,000 USD: ETH is
    # worth 3,000 USD unless priced; the position's PnL and maintenance are in BTC. Its
    # account liquidation price is its mark in BTC; ETH's (coins) is in USD. XBT is BTC in
    # balances and prices as in symbols.
    book = _book(("ETH/BTC:BTC", "long", 100, 0.052, 0.05, 0.01))
    state = account_margin(book, {"XBT": 0.5, "ETH": 2.0}, mode="bybit_uta",
                           prices={"xbt": 60_000})
    assert state.coins.loc["ETH", "price"] == pytest.approx(3_000, rel=1e-15)
    # BTC: 0.5 + PnL 100 x (0.05 - 0.052) = 0.3 BTC = 18,000 USD; ETH 2 x 3,000.
    assert state.equity == pytest.approx(18_000 + 6_000, rel=1e-12)
    assert state.requirement == pytest.approx(100 * 0.05 * 0.01 * 60_000, rel=1e-12)
    mark_there = state.positions["account_liquidation_price"].iloc[0]
    usd_there = state.coins.loc["ETH", "account_liquidation_price"]
    assert mark_there == pytest.approx(usd_there / 60_000, rel=1e-12)
    # By hand, with x the mark in BTC: equity (0.5 + 100 (x - 0.052)) 60,000 + 2 x 60,000 x
    # = requirement 100 x 0.01 x 60,000: x (6,000,000 + 120,000 - 60,000) = 282,000.
    assert mark_there == pytest.approx(282_000 / 6_060_000, rel=1e-12)


def test_marks_on_one_asset_move_in_proportion_and_index_prices_need_not_be_marks() -> None:
    # A perpetual marked 60,000 and a dated future marked 60,600 on BTC, BTC's index 59,900:
    # at the account liquidation price each position is at its own mark there, the index
    # moved by the same factor, and the account sits on its trigger.
    book = _book(("BTC/USDT:USDT", "long", 1, 61_000, 60_000, 0.005),
                 ("BTC/USDT:USDT-261225", "long", 1, 61_500, 60_600, 0.005))
    balances, prices = {"USDT": 20_000.0, "BTC": 0.1}, {"BTC": 59_900.0}
    state = account_margin(book, balances, mode="bybit_uta", prices=prices)
    there = state.positions["account_liquidation_price"].to_numpy()
    factor = there[0] / 60_000
    assert there[1] == pytest.approx(60_600 * factor, rel=1e-12)
    assert state.coins.loc["BTC", "account_liquidation_price"] == pytest.approx(
        59_900 * factor, rel=1e-12)
    moved = account_margin(book.assign(markPrice=there), balances, mode="bybit_uta",
                           prices={"BTC": 59_900 * factor})
    assert moved.ratio == pytest.approx(1.0, rel=1e-9)


def test_a_joint_move_reprices_each_mark_by_its_asset_over_its_quote_coin() -> None:
    # Short 10 ETH/BTC at 0.05 (settled in BTC) and long 0.1 BTC/USDT at 60,000; 0.2 BTC and
    # 100 USDT held; MMR 1%. BTC and ETH both -30%: ETH/BTC holds at 0.05, BTC is 42,000.
    # By hand: BTC equity 0.2 (no ETH/BTC PnL) x 42,000 = 8,400; USDT 100 + 0.1 x (42,000 -
    # 60,000) = -1,700; equity 6,700. Requirement: ETH/BTC 10 x 0.05 x 1% BTC x 42,000 = 210
    # and BTC/USDT 0.1 x 42,000 x 1% = 42: 252.
    book = pd.DataFrame({"symbol": ["ETH/BTC:BTC", "BTC/USDT:USDT"], "side": ["short", "long"],
                         "contracts": [10.0, 0.1], "entryPrice": [0.05, 60_000.0],
                         "markPrice": [0.05, 60_000.0], "maintenanceMarginRate": [0.01, 0.01]})
    out = account_stress(book, {"BTC": 0.2, "USDT": 100.0},
                         {"both -30%": {"BTC": -0.3, "ETH": -0.3}}, mode="bybit_uta")
    assert out.loc["both -30%", "equity"] == pytest.approx(6_700, rel=1e-12)
    assert out.loc["both -30%", "requirement"] == pytest.approx(252, rel=1e-12)
    # USDC 5% off its peg, BTC's USD price held: BTC/USDC rises to 60,000 / 0.95 and the short
    # loses 0.5 x (63,157.89 - 60,000) USDC, each worth 0.95 USD.
    short = _book(("BTC/USDC:USDC", "short", 0.5, 60_000, 60_000, 0.01))
    depeg = account_stress(short, {"USDC": 10_000.0}, {"usdc -5%": {"USDC": -0.05}},
                           mode="bybit_uta", prices={"BTC": 60_000})
    loss = 0.5 * (60_000 / 0.95 - 60_000)
    assert depeg.loc["usdc -5%", "equity"] == pytest.approx((10_000 - loss) * 0.95, rel=1e-12)


def test_dollar_balances_do_not_follow_btc_in_library_scenarios() -> None:
    # USD, BUSD, PYUSD and USD1 are dollars: "BTC -30% 1h" leaves them where they are.
    from riskfuncs.scenarios import get_scenario

    crash = get_scenario("BTC -30% 1h")
    assert [crash.price_move(c) for c in ("USD", "BUSD", "PYUSD", "USD1")] == [0.0] * 4
    book = _book(("ETH/USD:USDC", "short", 1, 3_000, 3_000, 0.01))
    out = account_stress(book, {"USD": 1_000.0, "USDC": 3_000.0}, "BTC -30% 1h",
                         mode="dydx_cross")
    # ETH -39%: the short gains 1,170 USDC; USD and USDC stay at 1.
    assert out.loc["BTC -30% 1h", "equity"] == pytest.approx(1_000 + 3_000 + 1_170, rel=1e-12)


def test_refusals_of_coins_named_twice_missing_numbers_and_inverse_symbols() -> None:
    book = _book(("BTC/USDT:USDT", "long", 1, 60_000, 60_000, 0.005))
    for kwargs, message in [
        ({"balances": {"XBT": 0.1, "BTC": 0.2}},
         r"^balances must name each coin once \('XBT' and 'BTC' are both BTC\)$"),
        ({"balances": {"USDT": 1}, "prices": {"btc": 1, "XBT": 2}},
         r"^prices must name each coin once"),
        ({"balances": {"USDT": 1}, "collateral_tiers": {"BTC": 0.9, "xbt": 0.5}},
         r"^collateral_tiers must name each coin once"),
        ({"balances": {"USDT": float("nan")}}, r"^balances USDT must be a number \(got nan\)$"),
        ({"balances": {"USDT": "lots"}}, r"^balances USDT must be a number \(got 'lots'\)$"),
    ]:
        with pytest.raises(RiskInputError, match=message):
            account_margin(book, mode="bybit_uta", **kwargs)  # type: ignore[arg-type]
    inverse = _book(("BTC/USD:BTC", "long", 50_000, 60_000, 60_000, 0.005))
    with pytest.raises(RiskInputError, match=r"^symbol \(row 0\) must be a linear contract"):
        account_margin(inverse, {"BTC": 1}, mode="bybit_uta", prices={"BTC": 60_000})
    with pytest.raises(RiskInputError, match=r"^scenarios must name each coin once"):
        account_stress(book, {"USDT": 1_000}, pd.DataFrame({"XBT": [-0.1], "BTC": [-0.2]}),
                       mode="bybit_uta")
    # A scenario column XBT moves BTC.
    moved = account_stress(book, {"USDT": 1_000}, {"s": {"XBT": -0.01}}, mode="bybit_uta")
    assert moved.loc["s", "equity"] == pytest.approx(1_000 - 600, rel=1e-12)


def test_a_tuple_of_tiers_is_a_table() -> None:
    tiers = tuple(OKX_BTC[:4])
    assert len(tiers) == 4
    assert collateral_value(25, 60_000, tiers) == pytest.approx(
        collateral_value(25, 60_000, list(tiers)), rel=1e-15)

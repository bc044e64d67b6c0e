"""The unified-account cell functions through xlwings' own CallUDF path: the numbers equal
riskfuncs.accounts, bad input is one line naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskfuncs import accounts, var
from riskfuncs.liquidation import NEVER_LIQUIDATED
from tests.addin.excel.excel_side import Excel, Range

OKX_BTC = [["minAmount", "maxAmount", "ratio"], [0, 20, 0.98], [20, 25, 0.975], [25, 30, 0.97],
           [30, 50, 0.965], [50, 70, 0.96], [70, 90, 0.955], [90, 110, 0.95]]


def test_collateral_value_cells(excel: Excel) -> None:
    # OKX's tiered discount example: 100 BTC at 60,000 -> 5,785,500.
    assert excel.call("PERP_COLLATERAL_VALUE", 100.0, 60_000.0, Range(OKX_BTC)) == 5_785_500.0
    assert excel.call("PERP_COLLATERAL_VALUE", 2.0, 50_000.0, None, 0.9) == pytest.approx(90_000)
    assert excel.call("PERP_COLLATERAL_VALUE", Range([[10.0], [-1.0]]), 1_000.0,
                      Range(OKX_BTC)) == [[9_800.0], [-1_000.0]]
    text = excel.call("PERP_COLLATERAL_VALUE", 1.0, 1.0, Range(OKX_BTC), 0.5)
    assert text == "#VALUE! give tiers or ratio, not both" or "not both" in str(text)


def test_account_margin_cells(excel: Excel) -> None:
    positions: list[list[Any]] = [
        ["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate",
         "feeRate"],
        ["BTC/USDT:USDT", "long", 1.0, 60_000.0, 60_000.0, 0.004, 0.0005],
        ["ETH/USDT:USDT", "short", 100.0, 3_000.0, 3_000.0, 0.005, 0.0005]]
    balances = [["coin", "balance"], ["USDT", 20_000.0]]
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(positions), Range(balances),
                     "okx_multi_currency")
    frame = _frame(positions)
    state = accounts.account_margin(frame, {"USDT": 20_000.0}, mode="okx_multi_currency")
    assert got[0] == ["equity (USD)", state.equity]
    assert got[2] == ["margin ratio", state.ratio]
    assert got[4] == ["liquidated", "no"]
    assert got[7][0] == "BTC/USDT:USDT"
    assert got[7][1] == pytest.approx(41_650 / 0.9955, rel=1e-12)
    bad = excel.call("PERP_ACCOUNT_MARGIN", Range(positions), Range(balances), "bitget_uta")
    assert isinstance(bad, str) and "mode must be one of" in bad and "\n" not in bad


def test_liquidation_ladder_cells(excel: Excel) -> None:
    from riskfuncs import liquidation_steps

    got = excel.call("PERP_LIQ_STEPS", "long", 100_000.0, 2.0, 10_000.0, "hyperliquid", None,
                     None, 40.0)
    steps = liquidation_steps("long", 100_000, 2, 10_000, exchange="hyperliquid",
                              max_leverage=40)
    assert got[0] == ["price", "closed", "remaining", "what happens"]
    assert [row[:3] for row in got[1:]] == [[s.price, s.closed, s.remaining] for s in steps]
    bad = excel.call("PERP_LIQ_STEPS", "long", 100_000.0, 2.0, 10_000.0, "bybit", 0.005)
    assert isinstance(bad, str) and "tiers" in bad and "\n" not in bad


def test_liquidation_price_takes_the_margin_mode(excel: Excel) -> None:
    # A cross wallet 2,000x one small position is no unit mix-up.
    args = ("long", 100.0, 1.0, 200_000.0, "binance", None, 0.01)
    assert "at most 1000x" in str(excel.call("PERP_LIQ_PRICE", *args))
    assert excel.call("PERP_LIQ_PRICE", *args, None, None, None, None, None, None,
                      "cross") == 0.0


# --- Binance Multi-Assets conversion rates, joint stress, haircut tables, portfolio margin -----

#: Binance FAQ c983a9268cfa4e70a4916c276bb3b7bc: 200 USDT at index 0.99 (bid buffer 0.01, ask
#: buffer 0.005) and 220 USDC behind 0.5 BTCUSDT at 20,000 (MMR 0.8%) and 20 ETHUSDC at 600.
FAQ_POSITIONS: list[list[Any]] = [
    ["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate"],
    ["BTC/USDT:USDT", "long", 0.5, 20_000.0, 20_000.0, 0.008],
    ["ETH/USDC:USDC", "long", 20.0, 600.0, 600.0, 0.01]]
FAQ_BALANCES = [["coin", "balance", "price", "bid_buffer", "ask_buffer"],
                ["USDT", 200.0, 0.99, 0.01, 0.005], ["USDC", 220.0, 1.0, None, None]]


def _frame(rows: list[list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows[1:], columns=list(rows[0]))


def test_account_margin_cells_at_binances_bid_and_ask_rates(excel: Excel) -> None:
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(FAQ_POSITIONS), Range(FAQ_BALANCES),
                     "binance_multi_assets")
    state = accounts.account_margin(
        _frame(FAQ_POSITIONS), {"USDT": 200.0, "USDC": 220.0}, mode="binance_multi_assets",
        prices={"USDT": 0.99, "USDC": 1.0}, conversion_buffers={"USDT": (0.01, 0.005)})
    assert got[0][1] == pytest.approx(state.equity, rel=1e-12)
    assert got[0][1] == pytest.approx(416.02, rel=1e-12)  # the FAQ's account equity
    assert got[1][1] == pytest.approx(199.596, rel=1e-12)  # its maintenance margin
    assert got[2] == ["account margin ratio", pytest.approx(199.596 / 416.02, rel=1e-12)]
    bad = excel.call("PERP_ACCOUNT_MARGIN", Range(FAQ_POSITIONS), Range(FAQ_BALANCES),
                     "bybit_uta")
    assert isinstance(bad, str) and "\n" not in bad
    assert "balances bid_buffer and ask_buffer" in bad and "binance_multi_assets" in bad
    # Buffer columns left empty are no buffers: any mode takes the table.
    empty = [[*FAQ_BALANCES[0]], ["USDT", 200.0, 0.99, None, None], ["USDC", 220.0, 1.0, None,
                                                                    None]]
    plain = accounts.account_margin(_frame(FAQ_POSITIONS), {"USDT": 200.0, "USDC": 220.0},
                                    mode="bybit_uta", prices={"USDT": 0.99})
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(FAQ_POSITIONS), Range(empty), "bybit_uta")
    assert got[0][1] == pytest.approx(plain.equity, rel=1e-12)
    assert got[1][1] == pytest.approx(plain.requirement, rel=1e-12)


MIXED_POSITIONS: list[list[Any]] = [
    ["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate",
     "feeRate"],
    ["BTC/USDT:USDT", "long", 2.0, 60_000.0, 58_000.0, 0.005, 0.0005],
    ["ETH/USDT:USDT", "short", 40.0, 3_000.0, 3_100.0, 0.006, 0.0005]]
MIXED_BALANCES = [["coin", "balance", "price", "ratio"], ["USDT", 20_000.0, None, None],
                  ["BTC", 1.5, 58_000.0, 0.95], ["ETH", -2.0, 3_100.0, 0.9]]
MIXED = {"balances": {"USDT": 20_000.0, "BTC": 1.5, "ETH": -2.0},
         "prices": {"BTC": 58_000.0, "ETH": 3_100.0},
         "collateral_tiers": {"BTC": 0.95, "ETH": 0.9}}


@pytest.mark.parametrize("mode", ["bybit_uta", "okx_multi_currency", "binance_portfolio"])
def test_account_stress_cells_equal_riskfuncs(excel: Excel, mode: str) -> None:
    scenarios = [["name", "BTC", "ETH", "USDT"], ["crash", -0.3, -0.4, -0.02],
                 ["squeeze", 0.05, 0.25, None], ["calm", None, None, None],
                 ["eth +90%", None, 0.9, None]]
    got = excel.call("PERP_ACCOUNT_STRESS", Range(MIXED_POSITIONS), Range(MIXED_BALANCES),
                     Range(scenarios), mode)
    moves = pd.DataFrame([[-0.3, -0.4, -0.02], [0.05, 0.25, np.nan], [np.nan] * 3,
                          [np.nan, 0.9, np.nan]],
                         index=["crash", "squeeze", "calm", "eth +90%"],
                         columns=["BTC", "ETH", "USDT"])
    expected = accounts.account_stress(_frame(MIXED_POSITIONS), **MIXED,  # type: ignore[arg-type]
                                       scenarios=moves, mode=mode)  # type: ignore[arg-type]
    assert got[0] == ["scenario", *expected.columns]
    assert {"equity", "requirement", "ratio", "ratio_name", "trigger", "liquidated",
            "margin_left"} <= set(got[0])
    assert [row[0] for row in got[1:]] == ["crash", "squeeze", "calm", "eth +90%"]
    liquidated = got[0].index("liquidated")
    assert [row[liquidated] for row in got[1:]] == [False, False, False, True]  # ETH +90%
    for row, (_, want) in zip(got[1:], expected.iterrows(), strict=True):
        for value, column in zip(row[1:], got[0][1:], strict=True):
            if value == "inf":  # no equity left: the ratio shows the word
                assert want[column] == np.inf, column
            elif isinstance(value, float):
                assert value == pytest.approx(float(want[column]), rel=1e-12), column
            else:
                assert value == want[column], column
    bad = excel.call("PERP_ACCOUNT_STRESS", Range(MIXED_POSITIONS), Range(MIXED_BALANCES),
                     Range([["name", "BTC"], ["crash", "-30%"]]), mode)
    assert bad == "scenarios BTC must hold price moves as fractions (-0.3 = 30% down)"


@pytest.mark.parametrize(("venue", "coin", "amount", "price"), [
    ("okx_multi_currency", "BTC", 100.0, 60_000.0),  # OKX's example: 5,785,500
    ("bybit_uta", "BTC", 60.0, 60_000.0),  # past the open last tier (ratio 0)
    ("binance_portfolio_pro", "FIL", 2_000_000.0, 5.0),  # tiers in USD value
])
def test_stored_collateral_tiers_spill_as_the_range_collateral_value_takes(
        excel: Excel, venue: str, coin: str, amount: float, price: float) -> None:
    records = accounts.collateral_tiers(venue, coin)
    got = excel.call("PERP_COLLATERAL_TIERS", venue, coin)
    unit = ["minValue", "maxValue"] if "minValue" in records[0] else ["minAmount", "maxAmount"]
    assert got[0] == [*unit, "ratio"]
    assert got[1:] == [[r[unit[0]], "" if r[unit[1]] is None else r[unit[1]], r["ratio"]]
                       for r in records]
    value = excel.call("PERP_COLLATERAL_VALUE", amount, price, Range(got))
    assert value == pytest.approx(accounts.collateral_value(amount, price, records), rel=1e-12)
    if venue == "okx_multi_currency":
        assert value == pytest.approx(5_785_500, rel=1e-12)
    bad = excel.call("PERP_COLLATERAL_TIERS", venue, "NOPE")
    assert isinstance(bad, str) and "\n" not in bad and "coin 'NOPE' has no stored" in bad


OKX_MR9: list[list[Any]] = [["minValue", "maxValue", "rate"], [0, 1e6, 0.0075], [1e6, 5e6, 0.0175],
           [5e6, None, 0.025]]


def test_tiered_add_on_cells(excel: Excel) -> None:
    # OKX's stablecoin depeg add-on example: 10,000,000 USD -> 202,500.
    assert excel.call("PERP_TIERED_ADD_ON", 10_000_000.0, Range(OKX_MR9)) == pytest.approx(
        202_500, rel=1e-12)
    tiers = _frame(OKX_MR9)
    got = excel.call("PERP_TIERED_ADD_ON", Range([[500_000.0], [3e6]]), Range(OKX_MR9))
    assert got == [[pytest.approx(v, rel=1e-12)]
                   for v in accounts.tiered_add_on(np.array([500_000.0, 3e6]), tiers)]
    bad = excel.call("PERP_TIERED_ADD_ON", -1.0, Range(OKX_MR9))
    assert bad == "value must be >= 0 (got -1)"


def test_scenario_margin_cells_label_every_row_approximation(excel: Excel) -> None:
    positions: list[list[Any]] = [["symbol", "side", "contracts", "markPrice", "vega"],
                                  ["BTC/USDT:USDT", "long", 2.0, 50_000.0, None],
                                  ["BTC/USDC:USDC", "short", 1.0, 50_000.0, None],
                                  ["ETH/USDT:USDT", "short", 30.0, 3_000.0, 150.0]]
    grid = [["name", "price_move", "vol_move", "underlying"],
            ["down 15%", -0.15, 0.3, None], ["up 15%", 0.15, -0.1, "*"],
            ["flat", 0.0, 0.0, None], ["eth gap", 0.25, 0.5, "ETH"]]
    balances = [["coin", "balance", "price"], ["BTC", 0.5, None], ["USDT", 10_000.0, None]]
    add_on = excel.call("PERP_TIERED_ADD_ON", 3_000_000.0, Range(OKX_MR9))
    got = excel.call("PERP_SCENARIO_MARGIN", Range(positions), Range(grid), Range(balances),
                     Range([["BTC", add_on]]))
    scenarios = pd.DataFrame({"price_move": [-0.15, 0.15, 0.0, 0.25],
                              "vol_move": [0.3, -0.1, 0.0, 0.5],
                              "underlying": [None, "*", None, "ETH"]},
                             index=["down 15%", "up 15%", "flat", "eth gap"])
    expected = accounts.scenario_margin(_frame(positions), scenarios,
                                        balances={"BTC": 0.5, "USDT": 10_000.0},
                                        add_ons={"BTC": add_on})
    assert got[0] == ["underlying", "worst_loss", "worst_scenario", "add_on", "maintenance",
                      "basis"]
    units = expected.units
    assert [row[0] for row in got[1:-1]] == list(units.index)
    for row, (_, want) in zip(got[1:-1], units.iterrows(), strict=True):
        assert row[1] == pytest.approx(want["worst_loss"], rel=1e-12)
        assert row[2] == want["worst_scenario"]
        assert row[3] == pytest.approx(want["add_on"], rel=1e-12)
        assert row[4] == pytest.approx(want["maintenance"], rel=1e-12)
    assert got[-1][0] == "total"
    assert got[-1][4] == pytest.approx(expected.maintenance, rel=1e-12)
    assert {row[5] for row in got[1:]} == {"approximation"}
    # By hand: BTC is net long 1.5 BTC (2 - 1 + 0.5 held) x 50,000 = 75,000: worst -15%.
    assert got[1][:3] == ["BTC", pytest.approx(11_250, rel=1e-12), "down 15%"]
    bad = excel.call("PERP_SCENARIO_MARGIN", Range(positions), Range([["name"], ["x"]]))
    assert bad == "scenarios must have a price_move column (fraction)"


def test_book_var_cells_equal_riskfuncs(excel: Excel) -> None:
    import datetime as dt
    import warnings

    rng = np.random.default_rng(7)
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(300)]
    btc, eth = rng.normal(0, 0.03, 300), rng.normal(0, 0.04, 300)
    eth[5] = np.nan  # a missing day: the joint history drops it
    returns = [["date", "BTC", "ETH"], *([d, b, None if np.isnan(e) else e]
                                         for d, b, e in zip(days, btc, eth, strict=True))]
    exposures = [["position", "USD"], ["BTC/USDT:USDT", 60_000.0], ["BTC/USD:BTC", -20_000.0],
                 ["ETH", -30_000.0], ["SOL/USDT:USDT", 5_000.0]]
    got = excel.call("PERP_BOOK_VAR", Range(returns), Range(exposures), 0.975)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 300 returns: no short-history warning either way
        book = var.book_var(pd.DataFrame({"BTC": btc, "ETH": eth}),
                            pd.Series([60_000.0, -20_000.0, -30_000.0, 5_000.0]),
                            assets=["BTC", "BTC", "ETH", "SOL"], confidence=0.975)
    figures = {row[0]: row[1] for row in got[:9]}
    assert figures["historical VaR (USD)"] == pytest.approx(book.historical_var, rel=1e-12)
    assert figures["historical ES (USD)"] == pytest.approx(book.historical_es, rel=1e-12)
    assert figures["normal VaR (USD)"] == pytest.approx(book.normal_var, rel=1e-12)
    assert figures["normal ES (USD)"] == pytest.approx(book.normal_es, rel=1e-12)
    assert figures["joint observations"] == 299
    assert figures["coverage (share of the book)"] == pytest.approx(110 / 115, rel=1e-12)
    assert figures["covered assets"] == "BTC, ETH"
    assert figures["assets without history"] == "SOL"
    assert got[10] == ["asset", "exposure", "volatility", "historical_var", "normal_var"]
    per_asset = book.per_asset
    for row in got[11:]:
        assert row[1:] == [pytest.approx(v, rel=1e-12) for v in per_asset.loc[row[0]]]
    assert [row[0] for row in got[11:]] == ["BTC", "ETH"]
    assert {len(row) for row in got} == {5}
    bad = excel.call("PERP_BOOK_VAR", Range([[0.01, 0.02], [0.0, -0.01]]), Range(exposures))
    assert bad == "returns must have a header row naming the asset of each column (BTC, ETH...)"


# --- tiered haircut tables: a collateral_tiers range, or a venue's stored table by name ---------

#: 100 BTC behind a flat ETH short (entry = mark: no PnL), so the equity is the BTC alone.
HAIRCUT_POSITIONS: list[list[Any]] = [
    ["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate"],
    ["ETH/USDT:USDT", "short", 500.0, 3_000.0, 3_000.0, 0.005]]
BTC_HELD = [["coin", "balance", "price", "ratio"], ["BTC", 100.0, 60_000.0, None],
            ["USDT", 0.0, None, None]]
#: OKX's tiered discount table with a coin column, as a user types it beside the balances.
OKX_BY_COIN = [["coin", *OKX_BTC[0]], *(["BTC", *row] for row in OKX_BTC[1:])]


def _with_ratio(ratio: Any, rows: list[list[Any]] = BTC_HELD) -> list[list[Any]]:
    return [rows[0], [*rows[1][:3], ratio], *rows[2:]]


@pytest.mark.parametrize("mode", ["okx_multi_currency", "bybit_uta", "binance_portfolio"])
def test_okx_tiered_discount_example_through_the_account_cells(excel: Excel, mode: str) -> None:
    """OKX's help page example: 100 BTC at 60,000 under its seven discount tiers is worth
    5,785,500 USD; given as a range, as the venue's stored table ("okx") or its name, the
    account equity is that figure exactly (the short has no PnL), and equals riskfuncs."""
    state = accounts.account_margin(
        _frame(HAIRCUT_POSITIONS), {"BTC": 100.0, "USDT": 0.0}, mode=mode,  # type: ignore[arg-type]
        prices={"BTC": 60_000.0},
        collateral_tiers={"BTC": accounts.collateral_tiers("okx_multi_currency", "BTC")})
    assert state.equity == 5_785_500.0
    ways = [(Range(BTC_HELD), Range(OKX_BY_COIN)),
            (Range(_with_ratio("okx")), None),
            (Range(_with_ratio(" OKX_Multi_Currency ")), None)]
    for balances, tiers in ways:
        got = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), balances, mode, None,
                         tiers)
        assert got[0] == ["equity (USD)", 5_785_500.0]
        assert got[1][1] == pytest.approx(state.requirement, rel=1e-12)
        assert got[2] == [state.ratio_name, pytest.approx(state.ratio, rel=1e-12)]
        liquidation = state.positions["account_liquidation_price"].iloc[0]
        assert got[7] == ["ETH/USDT:USDT", pytest.approx(liquidation, rel=1e-12)]
    # One ratio for every amount (the old way) is not the tiered figure: 100 x 60,000 x 0.98.
    flat = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(_with_ratio(0.98)),
                      mode)
    assert flat[0] == ["equity (USD)", pytest.approx(5_880_000.0, rel=1e-12)]


def test_tiers_in_usd_value_and_the_stress_path(excel: Excel) -> None:
    """Binance Portfolio Margin Pro's FIL tiers are in USD value, so a price move changes the
    haircut: 2,000,000 FIL at 5 (10M USD) is worth 200k + 200k x 0.8 + 400k x 0.7 + 200k x 0.4
    + 9M x 0.2 = 2,520,000; at 2.5 (5M USD) 200k + 160k + 280k + 80k + 4M x 0.2 = 1,520,000."""
    fil = accounts.collateral_tiers("binance_portfolio_pro", "FIL")
    tiers = [["coin", "minValue", "maxValue", "ratio"],
             *(["fil", t["minValue"], t["maxValue"], t["ratio"]] for t in fil)]
    balances = [["coin", "balance", "price", "ratio"], ["FIL", 2_000_000.0, 5.0, None],
                ["USDT", 0.0, None, None]]
    scenarios = [["name", "FIL"], ["flat", None], ["FIL -50%", -0.5]]
    for tier_range, balance_rows in ((Range(tiers), balances),
                                     (None, _with_ratio("binance_portfolio_pro", balances))):
        got = excel.call("PERP_ACCOUNT_STRESS", Range(HAIRCUT_POSITIONS), Range(balance_rows),
                         Range(scenarios), "binance_portfolio", None, tier_range)
        equity = got[0].index("equity")
        assert [[row[0], row[equity]] for row in got[1:]] == [
            ["flat", pytest.approx(2_520_000, rel=1e-12)],
            ["FIL -50%", pytest.approx(1_520_000, rel=1e-12)]]
        expected = accounts.account_stress(
            _frame(HAIRCUT_POSITIONS), {"FIL": 2_000_000.0, "USDT": 0.0},
            pd.DataFrame({"FIL": [np.nan, -0.5]}, index=["flat", "FIL -50%"]),
            mode="binance_portfolio", prices={"FIL": 5.0}, collateral_tiers={"FIL": fil})
        for row, (_, want) in zip(got[1:], expected.iterrows(), strict=True):
            for column in ("equity", "requirement", "ratio", "margin_left"):
                assert row[got[0].index(column)] == pytest.approx(float(want[column]), rel=1e-12)


def test_several_coins_in_one_range_equal_riskfuncs(excel: Excel) -> None:
    """Coins in any order and case, tiers out of order, an empty row, a coin the account does
    not hold, ratios and venue names in balances beside them: as riskfuncs takes the tables."""
    tiers: list[list[Any]] = [
        ["coin", "minAmount", "maxAmount", "ratio", "note"],
        ["eth", 50.0, None, 0.8, "above 50"], ["BTC", 0.0, 1.0, 0.95, None],
        [None, None, None, None, None], ["ETH", 0.0, 50.0, 0.9, "first 50"],
        ["BTC", 1.0, None, 0.9, None], ["SOL", 0.0, None, 0.5, "not held"]]
    balances = [["coin", "balance", "price", "ratio"], ["USDT", 20_000.0, None, "bybit"],
                ["BTC", 1.5, 58_000.0, None], ["ETH", 60.0, 3_100.0, None],
                ["XRP", 1_000.0, 0.5, 0.9]]
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(MIXED_POSITIONS), Range(balances),
                     "bybit_uta", None, Range(tiers))
    haircuts = {"BTC": [{"minAmount": 0.0, "maxAmount": 1.0, "ratio": 0.95},
                        {"minAmount": 1.0, "maxAmount": None, "ratio": 0.9}],
                "ETH": [{"minAmount": 0.0, "maxAmount": 50.0, "ratio": 0.9},
                        {"minAmount": 50.0, "maxAmount": None, "ratio": 0.8}],
                "USDT": accounts.collateral_tiers("bybit_uta", "USDT"), "XRP": 0.9}
    state = accounts.account_margin(
        _frame(MIXED_POSITIONS), {"USDT": 20_000.0, "BTC": 1.5, "ETH": 60.0, "XRP": 1_000.0},
        mode="bybit_uta", prices={"BTC": 58_000.0, "ETH": 3_100.0, "XRP": 0.5},
        collateral_tiers=haircuts)  # type: ignore[arg-type]
    assert got[0][1] == pytest.approx(state.equity, rel=1e-12)
    assert got[1][1] == pytest.approx(state.requirement, rel=1e-12)
    prices = dict(zip(state.positions["symbol"], state.positions["account_liquidation_price"],
                      strict=True))
    for symbol, price in got[7:9]:
        if prices[symbol] in (0.0, np.inf):  # no price of that asset liquidates the account
            assert price == NEVER_LIQUIDATED, symbol
        else:
            assert price == pytest.approx(prices[symbol], rel=1e-12)
    assert NEVER_LIQUIDATED in [price for _, price in got[7:9]]  # the long BTC beside BTC held


BAD_TIERS = [
    # (what the user did, tier rows under the header, the one line the cell shows)
    ("a gap between tiers", [["BTC", 0, 20, 0.98], ["BTC", 20, 25, 0.975], ["BTC", 26, 30, 0.97]],
     "collateral_tiers BTC (row 3) must start at 0 and each tier end where the next begins"),
    ("not from 0", [["BTC", 5, 20, 0.98], ["BTC", 20, None, 0.9]],
     "collateral_tiers BTC (row 1) must start at 0 and each tier end where the next begins"),
    ("a ratio above 1, rows out of order", [["BTC", 20, None, 0.9], ["BTC", 0, 20, 98]],
     "collateral_tiers BTC (row 2) ratio must be in [0, 1] (got 98)"),
    ("text in a number column", [["BTC", 0, None, "98%"]],
     "collateral_tiers (row 1) ratio must be a number (got '98%')"),
    ("no ratio", [["BTC", 0, None, None]], "collateral_tiers (row 1) ratio must be given "
     "(98% = 0.98)"),
    ("no coin", [[None, 0, None, 0.9]],
     "collateral_tiers (row 1) coin must name the coin of the tier, e.g. BTC"),
    ("coins and USD on one row", [["BTC", 0, None, 0.9, 0, None]],
     "collateral_tiers (row 1) must give minAmount, maxAmount (coins) or minValue, maxValue "
     "(USD), not both"),
    ("coins and USD in one table", [["BTC", 0, 10, 0.9, None, None],
                                    ["BTC", None, None, 0.8, 600_000, None]],
     "collateral_tiers BTC (row 2) must give every tier in one unit: minAmount/maxAmount "
     "(coins) or minValue/maxValue (USD), not both"),
]


@pytest.mark.parametrize(("case", "rows", "message"), BAD_TIERS, ids=[c[0] for c in BAD_TIERS])
def test_a_broken_tier_range_is_one_line_naming_its_row(excel: Excel, case: str,
                                                        rows: list[list[Any]],
                                                        message: str) -> None:
    header = ["coin", "minAmount", "maxAmount", "ratio", "minValue", "maxValue"]
    grid = [header[:max(len(r) for r in rows)], *rows]
    scenarios = Range([["name", "BTC"], ["x", -0.1]])
    for function, extra in (("PERP_ACCOUNT_MARGIN", ()), ("PERP_ACCOUNT_STRESS", (scenarios,))):
        got = excel.call(function, Range(HAIRCUT_POSITIONS), Range(BTC_HELD), *extra,
                         "okx_multi_currency", None, Range(grid))
        assert got == message


BAD_RATIOS = [
    (1.5, "balances BTC (row 1) ratio must be in [0, 1] (got 1.5)"),
    ("binance", "balances BTC (row 1) ratio 'binance': names 3 stored haircut tables "
     "(binance_multi_assets, binance_portfolio, binance_portfolio_pro): type one of them"),
    ("kraken", "balances BTC (row 1) ratio 'kraken': must be a collateral ratio (0.95) or a "
     "venue with stored haircut tables: binance_multi_assets, binance_portfolio, "
     "binance_portfolio_pro, bybit_uta, okx_multi_currency (got 'kraken')"),
    ("binance_portfolio", "balances BTC (row 1) ratio 'binance_portfolio': coin 'BTC' has no "
     "stored binance_portfolio table (stored: EGLD, FLOW, GALA, GMT, IOTA, IOTX, KAVA, PAXG, "
     "QNT, VET, XTZ); pass its tiers from the venue's API"),
]


@pytest.mark.parametrize(("ratio", "message"), BAD_RATIOS, ids=[str(r) for r, _ in BAD_RATIOS])
def test_a_bad_ratio_cell_is_one_line_naming_its_row(excel: Excel, ratio: Any,
                                                     message: str) -> None:
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS),
                     Range(_with_ratio(ratio)), "okx_multi_currency")
    assert got == message


def test_ratio_cell_and_tier_rows_for_one_coin_are_refused(excel: Excel) -> None:
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(_with_ratio(0.9)),
                     "okx_multi_currency", None, Range(OKX_BY_COIN))
    assert got == ("balances BTC (row 1) ratio must be empty: collateral_tiers gives BTC's "
                   "tiers (give them once)")
    no_coin = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(BTC_HELD),
                         "okx_multi_currency", None, Range(OKX_BTC))
    assert no_coin == ("collateral_tiers must have a header row: coin, minAmount, maxAmount, "
                       "ratio (or coin, minValue, maxValue, ratio for tiers in USD)")


def test_an_exchange_name_takes_the_account_modes_own_table(excel: Excel) -> None:
    """"binance" names three stored tables: in a binance_portfolio account it is that mode's
    (GALA 40%), not Portfolio Margin Pro's USD tiers; "okx" has one table, whatever the mode."""
    balances = [["coin", "balance", "price", "ratio"], ["GALA", 100_000.0, 0.02, "binance"]]
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(balances),
                     "binance_portfolio")
    assert got[0] == ["equity (USD)", pytest.approx(100_000 * 0.02 * 0.4, rel=1e-12)]
    okx = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(_with_ratio("okx")),
                     "bybit_uta")
    assert okx[0] == ["equity (USD)", 5_785_500.0]


def test_scenario_margin_reads_no_ratio_column(excel: Excel) -> None:
    """PERP_SCENARIO_MARGIN takes balances for their amounts and prices only."""
    positions = [["symbol", "side", "contracts", "markPrice"],
                 ["BTC/USDT:USDT", "long", 1.0, 50_000.0]]
    balances = [["coin", "balance", "price", "ratio"], ["BTC", 0.5, None, "kraken"]]
    got = excel.call("PERP_SCENARIO_MARGIN", Range(positions),
                     Range([["name", "price_move"], ["down", -0.1]]), Range(balances))
    assert got[1][:3] == ["BTC", pytest.approx(7_500, rel=1e-12), "down"]


def _coin_rows(got: list[list[Any]]) -> dict[str, Any]:
    """The coins PERP_ACCOUNT_MARGIN spills under the positions, after a blank row."""
    start = got.index(["coin", "account liquidation price"])
    assert got[start - 1] == ["", ""]
    return {coin: price for coin, price in got[start + 1:]}


def test_account_margin_lists_every_coin_with_its_account_liquidation_price(
        excel: Excel) -> None:
    """Below the positions, each coin of the account with the price of that coin that
    liquidates the account (riskfuncs' AccountMargin.coins); no such price shows "never".

    By hand (OKX, liquidation at equity = requirement): the ETH short needs 0.5% x 500 x 3,000
    = 7,500 USDT; 100 BTC under OKX's tiers count 5,785,500 / 60,000 = 96.425 coins at any BTC
    price, so BTC liquidates the account at 7,500 / 96.425; USDT, the coin of the requirement,
    at 5,785,500 / 7,500 = 771.4."""
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(BTC_HELD),
                     "okx_multi_currency", None, Range(OKX_BY_COIN))
    assert got[:8] == excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS),
                                 Range(_with_ratio("okx")), "okx_multi_currency")[:8]
    coins = _coin_rows(got)
    assert list(coins) == ["BTC", "USDT"]
    assert coins["BTC"] == pytest.approx(7_500 / 96.425, rel=1e-9)  # bisection: 1e-9 is ample
    assert coins["USDT"] == pytest.approx(771.4, rel=1e-9)
    state = accounts.account_margin(
        _frame(HAIRCUT_POSITIONS), {"BTC": 100.0, "USDT": 0.0}, mode="okx_multi_currency",
        prices={"BTC": 60_000.0},
        collateral_tiers={"BTC": accounts.collateral_tiers("okx_multi_currency", "BTC")})
    assert coins == {c: pytest.approx(p, rel=1e-12)
                     for c, p in state.coins["account_liquidation_price"].items()}
    assert {len(row) for row in got} == {2}


def test_a_coin_no_price_of_which_liquidates_shows_never(excel: Excel) -> None:
    """20,000 USDT carry the ETH short's 7,500 alone: BTC falling to 0 leaves the account
    safe, and so does USDT at any price (equity 58,800 + 20,000 p against 7,500 p): riskfuncs
    says 0.0 or inf, the cell "never"."""
    balances = [["coin", "balance", "price", "ratio"], ["BTC", 1.0, 60_000.0, "okx"],
                ["USDT", 20_000.0, None, None]]
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(HAIRCUT_POSITIONS), Range(balances),
                     "okx_multi_currency")
    state = accounts.account_margin(
        _frame(HAIRCUT_POSITIONS), {"BTC": 1.0, "USDT": 20_000.0}, mode="okx_multi_currency",
        prices={"BTC": 60_000.0},
        collateral_tiers={"BTC": accounts.collateral_tiers("okx_multi_currency", "BTC")})
    assert state.coins["account_liquidation_price"].isin([0.0, np.inf]).all()
    assert _coin_rows(got) == {"BTC": NEVER_LIQUIDATED, "USDT": NEVER_LIQUIDATED}


def test_account_stress_cells_take_library_scenario_names(excel: Excel) -> None:
    # A column of names from PERP_SCENARIOS: the same rows as riskfuncs.account_stress with
    # those library scenarios (every asset moved by its beta, funding paid).
    names = [["BTC -30% 1h"], [None], ["Funding +0.3%/8h 3d"]]
    got = excel.call("PERP_ACCOUNT_STRESS", Range(MIXED_POSITIONS), Range(MIXED_BALANCES),
                     Range(names), "bybit_uta")
    expected = accounts.account_stress(  # type: ignore[call-overload]
        _frame(MIXED_POSITIONS), **MIXED, scenarios=["BTC -30% 1h", "Funding +0.3%/8h 3d"],
        mode="bybit_uta")
    assert got[0] == ["scenario", *expected.columns]
    assert [row[0] for row in got[1:]] == ["BTC -30% 1h", "Funding +0.3%/8h 3d"]
    for row, (_, want) in zip(got[1:], expected.iterrows(), strict=True):
        for column in ("funding", "equity", "requirement", "margin_left"):
            assert row[got[0].index(column)] == pytest.approx(float(want[column]),
                                                              rel=1e-12), column
    assert got[2][got[0].index("funding")] != 0.0  # the funding scenario pays or receives
    bad = excel.call("PERP_ACCOUNT_STRESS", Range(MIXED_POSITIONS), Range(MIXED_BALANCES),
                     Range([["BTC -99% 1h"]]), "bybit_uta")
    assert bad == ("scenarios 'BTC -99% 1h' must be a scenario name from PERP_SCENARIOS, or "
                   "the range a table of moves with a header row")
    # A Name header in any case is the name column; a first row of numbers is no header.
    table = [["Name", "BTC"], ["crash", -0.3]]
    got = excel.call("PERP_ACCOUNT_STRESS", Range(MIXED_POSITIONS), Range(MIXED_BALANCES),
                     Range(table), "bybit_uta")
    assert [row[0] for row in got[1:]] == ["crash"]
    headless = excel.call("PERP_ACCOUNT_STRESS", Range(MIXED_POSITIONS), Range(MIXED_BALANCES),
                          Range([[-0.3, -0.4]]), "bybit_uta")
    assert headless == ("scenarios must start with a header row: name, then one column per "
                        "asset or coin (BTC, ETH, USDT...)")


def test_balance_rows_must_name_each_coin_once(excel: Excel) -> None:
    # Two USDT rows, or XBT beside BTC, are refused naming the row, as the Accounts sheet
    # flags COIN LISTED TWICE; a row without a coin is named too.
    positions = Range(MIXED_POSITIONS)
    for rows, message in [
        ([["USDT", 20_000.0], ["USDT", 1.0]],
         "balances USDT (row 2) must be listed once (row 1 has it too)"),
        ([["BTC", 1.0], ["xbt", 0.5]],
         "balances BTC (row 2) must be listed once (row 1 has it too)"),
        ([["USDT", 20_000.0], [None, 1.0]], "balances coin (row 2) must be given"),
    ]:
        got = excel.call("PERP_ACCOUNT_MARGIN", positions,
                         Range([["coin", "balance"], *rows]), "bybit_uta")
        assert got == message

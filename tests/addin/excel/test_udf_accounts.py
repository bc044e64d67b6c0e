"""The unified-account cell functions through xlwings' own CallUDF path: the numbers equal
riskfuncs.accounts, bad input is one line naming the argument."""

from __future__ import annotations

import pandas as pd
import pytest

from riskfuncs import accounts
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
    positions = [["symbol", "side", "contracts", "entryPrice", "markPrice",
                  "maintenanceMarginRate", "feeRate"],
                 ["BTC/USDT:USDT", "long", 1.0, 60_000.0, 60_000.0, 0.004, 0.0005],
                 ["ETH/USDT:USDT", "short", 100.0, 3_000.0, 3_000.0, 0.005, 0.0005]]
    balances = [["coin", "balance"], ["USDT", 20_000.0]]
    got = excel.call("PERP_ACCOUNT_MARGIN", Range(positions), Range(balances),
                     "okx_multi_currency")
    frame = pd.DataFrame(positions[1:], columns=positions[0])
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

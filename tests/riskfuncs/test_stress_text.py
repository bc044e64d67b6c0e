"""stress_test reads its text columns once per distinct value: the same answer as the book
written out in its canonical words, row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose, assert_array_equal

from riskfuncs.scenarios import Scenario
from riskfuncs.stress import stress_test

SCENARIOS = [
    Scenario("down", moves={"BTC": -0.3, "ETH": -0.4}, collateral_haircuts={"USDC": 0.1},
             funding_rate=0.001, funding_intervals=3),
    Scenario("up", moves={"BTC": 0.2}, exchange_default={"okx": 0.5}),
]


def spelled(words: bool) -> pd.DataFrame:
    """Six positions: cross accounts on two venues interleaved with isolated ones, written in
    loose words (case, spaces, missing values) or in the words they stand for."""
    loose = {
        "exchange": [" Binance", "OKX ", "binance", None, "okx", "BINANCE"],
        "marginMode": ["Cross", "cross ", None, "isolated", "CROSS", "cross"],
        "contractType": ["Linear", None, "linear ", "", "linear", "LINEAR"],
        "collateralCurrency": [None, "usdc", " ", "USDT", "Usdc", ""],
    }
    canonical = {
        "exchange": ["binance", "okx", "binance", "generic", "okx", "binance"],
        "marginMode": ["cross", "cross", "isolated", "isolated", "cross", "cross"],
        "contractType": ["linear"] * 6,
        "collateralCurrency": ["USDT", "USDC", "USDT", "USDT", "USDC", "USDT"],
    }
    return pd.DataFrame({
        **(loose if words else canonical),
        "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT", "ETH/USDT:USDT", "BTC/USDT:USDT",
                   "BTC/USDT:USDT", "ETH/USDT:USDT"],
        "side": ["long", "short", "long", "long", "long", "short"],
        "contracts": [1.0, 10.0, 5.0, 0.5, 0.2, 3.0],
        "entryPrice": [60_000.0, 3_000.0, 3_100.0, 58_000.0, 61_000.0, 2_900.0],
        "markPrice": [60_000.0, 3_000.0, 3_000.0, 60_000.0, 60_000.0, 3_000.0],
        "collateral": [20_000.0, 9_000.0, 1_500.0, 6_000.0, 9_000.0, 20_000.0],
        "maintenanceMarginRate": [0.005, 0.01, 0.01, 0.005, 0.005, 0.01],
        "feeRate": [0.0005] * 6,
    }, index=[10, 11, 12, 10, 14, 15])


def test_loose_words_read_as_the_words_they_stand_for() -> None:
    loose = stress_test(spelled(True), SCENARIOS)
    plain = stress_test(spelled(False), SCENARIOS)
    for name in ("pnl", "maintenance_margin", "account_balance", "account_requirement",
                 "account_of_position"):
        assert_array_equal(getattr(loose, name), getattr(plain, name))
    pd.testing.assert_frame_equal(loose.by_scenario, plain.by_scenario)
    pd.testing.assert_frame_equal(loose.accounts, plain.accounts)
    # Two cross accounts (binance and okx, USDT) and the two isolated rows of their own.
    assert loose.accounts["account"].tolist() == [
        "binance:USDT", "okx:USDT", "binance:USDT:isolated:2", "generic:USDT:isolated:3"]
    assert loose.accounts["positions"].tolist() == [2, 2, 1, 1]


def test_a_shared_account_adds_its_members_and_skips_the_rows_between() -> None:
    book = spelled(False)
    result = stress_test(book, SCENARIOS)
    sign = np.where(book["side"] == "long", 1.0, -1.0)
    upnl_now = sign * book["contracts"].to_numpy() * (book["markPrice"] - book["entryPrice"])
    after = result.pnl + upnl_now.to_numpy()[:, None]  # uPnL + funding after each scenario
    # binance:USDT holds rows 0 and 5 (row 2, binance too, is isolated); USDT is not haircut.
    assert_allclose(result.account_balance[0], 20_000.0 + after[0] + after[5], rtol=1e-12)
    assert_allclose(result.account_balance[2], 1_500.0 + after[2], rtol=1e-12)

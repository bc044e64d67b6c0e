"""portfolio_margin on books that leave columns out, hold them as integers or with gaps, or mix
isolated and cross rows in one venue: the same answers as the book written out in full."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskfuncs.portfolio import portfolio_margin


def minimal() -> pd.DataFrame:
    return pd.DataFrame({
        "side": ["long", "short", "long"],
        "contracts": [1, 10, 2],  # integers
        "entryPrice": [60_000.0, 3_000.0, 150.0],
        "markPrice": [61_000.0, 3_100.0, 140.0],
        "collateral": [6_000.0, 3_000.0, 60.0],
        "maintenanceMarginRate": [0.004, 0.005, 0.01],
        "contractSize": [1.0, np.nan, 1.0],  # a gap reads as the default
    }, index=["a", "b", "a"])


def written_out() -> pd.DataFrame:
    book = minimal()
    book["contracts"] = book["contracts"].astype(float)
    book["contractSize"] = 1.0
    book["exchange"] = "generic"
    book["symbol"] = ""
    book["marginMode"] = "isolated"
    book["contractType"] = "linear"
    book["maintenanceAmount"] = 0.0
    book["feeRate"] = 0.0
    return book


def test_left_out_columns_take_their_defaults() -> None:
    pd.testing.assert_frame_equal(portfolio_margin(minimal()), portfolio_margin(written_out()))


def test_the_result_is_its_own_data() -> None:
    book = written_out()
    before = book.copy(deep=True)
    result = portfolio_margin(book)
    result.loc[:, "quantity"] = -1.0
    result.loc[:, "margin_balance"] = -1.0
    pd.testing.assert_frame_equal(book, before)


def test_isolated_and_cross_rows_of_one_venue() -> None:
    # Rows 0 and 2 share a binance USDT wallet; rows 1 and 3 are isolated on the same venue.
    book = pd.DataFrame({
        "exchange": ["binance"] * 4,
        "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT", "ETH/USDT:USDT", "BTC/USDT:USDT"],
        "side": ["long", "short", "short", "long"], "contracts": [1.0, 10.0, 5.0, 0.5],
        "entryPrice": [60_000.0, 3_000.0, 3_000.0, 58_000.0],
        "markPrice": [61_000.0, 3_100.0, 3_100.0, 61_000.0],
        "collateral": [20_000.0, 3_000.0, 20_000.0, 5_000.0],
        "marginMode": ["cross", "isolated", "cross", "isolated"],
        "maintenanceMarginRate": [0.004, 0.005, 0.005, 0.004], "feeRate": [0.0005] * 4,
    })
    whole = portfolio_margin(book)
    cross = portfolio_margin(book.iloc[[0, 2]])
    isolated = portfolio_margin(book.iloc[[1, 3]])
    pd.testing.assert_frame_equal(whole.iloc[[0, 2]], cross)
    pd.testing.assert_frame_equal(whole.iloc[[1, 3]], isolated)
    assert whole["margin_balance"].iloc[0] == whole["margin_balance"].iloc[2]
    assert whole["margin_balance"].iloc[0] == 20_000.0 + 1_000.0 - 500.0

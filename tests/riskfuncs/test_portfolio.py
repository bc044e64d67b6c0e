"""portfolio_margin: one call per book, equal to the single-position functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskfuncs import (
    RiskInputError,
    liquidation_price,
    maintenance_margin,
    portfolio_margin,
    unrealized_pnl,
)
from tests.riskfuncs.test_liquidation import BTCUSDT_TIERS


def _book() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exchange": ["binance", "binance", "binance", "bybit", "hyperliquid", "binance"],
            "symbol": [
                "BTC/USDT:USDT",
                "ETH/USDT:USDT",
                "SOL/USDT:USDT",
                "BTC/USDT:USDT",
                "ETH/USDC:USDC",
                "BTC/USD:BTC",
            ],
            "side": ["long", "short", "long", "short", "long", "long"],
            "contracts": [2.0, 30.0, 100.0, 1.0, 5.0, 100.0],
            "contractSize": [1.0, 1.0, 1.0, 1.0, 1.0, 100.0],
            "entryPrice": [60_000.0, 3_000.0, 150.0, 61_000.0, 3_050.0, 58_000.0],
            "markPrice": [62_000.0, 3_100.0, 140.0, 62_000.0, 3_100.0, 62_000.0],
            "collateral": [20_000.0, 20_000.0, 20_000.0, 6_100.0, 3_050.0, 0.05],
            "marginMode": ["cross", "cross", "cross", "isolated", "isolated", "isolated"],
            "contractType": ["linear"] * 5 + ["inverse"],
            "maintenanceMarginRate": [np.nan, 0.005, 0.01, 0.005, np.nan, 0.004],
            "maxLeverage": [np.nan, np.nan, np.nan, np.nan, 25.0, np.nan],
        },
        index=[f"pos{i}" for i in range(6)],
    )


def test_cross_account_shares_the_wallet() -> None:
    book = _book()
    result = portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    assert result.index.equals(book.index)
    cross = book.index[:3]
    mm = np.array(
        [
            maintenance_margin(2, 62_000, tiers=BTCUSDT_TIERS),
            maintenance_margin(30, 3_100, maintenance_margin_rate=0.005),
            maintenance_margin(100, 140, maintenance_margin_rate=0.01),
        ]
    )
    pnl = np.array(
        [
            unrealized_pnl("long", 60_000, 62_000, 2),
            unrealized_pnl("short", 3_000, 3_100, 30),
            unrealized_pnl("long", 150, 140, 100),
        ]
    )
    # Binance cross: the wallet less the others' maintenance margin plus the others' uPnL.
    expected_eth = liquidation_price(
        "short",
        3_000,
        30,
        20_000,
        maintenance_margin_rate=0.005,
        other_maintenance_margin=mm[0] + mm[2],
        other_unrealized_pnl=pnl[0] + pnl[2],
    )
    assert result.loc["pos1", "liquidation_price"] == pytest.approx(expected_eth, rel=1e-12)
    assert (result.loc[cross, "margin_balance"] == 20_000 + pnl.sum()).all()
    assert result.loc["pos0", "margin_ratio"] == pytest.approx(mm.sum() / (20_000 + pnl.sum()))
    assert set(result.loc[cross, "account"]) == {"binance:USDT"}
    assert result.loc["pos5", "account"] == "binance:BTC"


def test_isolated_rows_equal_single_calls() -> None:
    result = portfolio_margin(_book(), tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    bybit = liquidation_price("short", 61_000, 1, 6_100, exchange="bybit", tiers=BTCUSDT_TIERS)
    hyper = liquidation_price("long", 3_050, 5, 3_050, exchange="hyperliquid", max_leverage=25)
    coin = liquidation_price(
        "long", 58_000, 10_000, 0.05, contract="inverse", maintenance_margin_rate=0.004
    )
    np.testing.assert_allclose(
        result["liquidation_price"].iloc[3:], [bybit, hyper, coin], rtol=1e-12
    )
    assert result.loc["pos5", "unrealized_pnl"] == pytest.approx(
        unrealized_pnl("long", 58_000, 62_000, 10_000, contract="inverse")
    )


def test_venues_map_to_rules_and_the_rule_is_reported() -> None:
    book = _book().assign(exchange=["binanceusdm"] * 3 + ["bybit", "hyperliquid", "deribit"])
    result = portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    assert result["rule"].tolist() == ["binance"] * 3 + ["bybit", "hyperliquid", "generic"]
    # Deribit is valued generically: the generic rule equals Binance's for this inverse row.
    reference = portfolio_margin(_book(), tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    assert result.loc["pos5", "liquidation_price"] == reference.loc["pos5", "liquidation_price"]


def test_missing_market_data_makes_the_account_unknown_not_safe() -> None:
    book = _book()
    book.loc["pos2", "markPrice"] = np.nan  # one cross member without a mark price
    book.loc["pos4", "markPrice"] = np.nan  # an isolated position without one
    result = portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    cross = ["pos0", "pos1", "pos2"]
    for column in ("margin_balance", "margin_ratio", "margin_buffer", "leverage"):
        assert result.loc[cross, column].isna().all(), column
        assert np.isnan(result.loc["pos4", column]), column
    assert result.loc[cross, "liquidation_price"].isna().all()
    # Other accounts are untouched.
    assert result.loc[["pos3", "pos5"]].notna().all().all()


def test_tiers_by_exchange_and_symbol_win_over_tiers_by_symbol() -> None:
    flat = [{"minNotional": 0, "maxNotional": 1e12, "maintenanceMarginRate": 0.02}]
    book = _book()
    by_symbol = portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    by_venue = portfolio_margin(
        book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS, ("bybit", "BTC/USDT:USDT"): flat}
    )
    bybit = liquidation_price("short", 61_000, 1, 6_100, exchange="bybit", tiers=flat)
    assert by_venue.loc["pos3", "liquidation_price"] == pytest.approx(bybit, rel=1e-12)
    assert by_venue.loc["pos0", "liquidation_price"] == by_symbol.loc["pos0", "liquidation_price"]


def test_input_frame_is_not_modified() -> None:
    book = _book()
    before = book.copy()
    portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    pd.testing.assert_frame_equal(book, before)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"side": ["long", "short", "long", "short", "long", "hold"]},
         r"side \(row pos5\) must be long or short \(got 'hold'\)"),
        ({"rule": ["binance"] * 5 + ["mtgox"]}, r"rule \(row pos5\) must be one of"),
        (
            {"collateral": [20_000.0, 19_000.0, 20_000.0, 6_100.0, 3_050.0, 0.05]},
            r"^collateral must be one wallet balance on every cross row of binance:USDT \(got "
            r"20000 in row pos0, 19000 in row pos1\)",
        ),
    ],
)
def test_bad_books_are_refused(change: dict[str, list[object]], message: str) -> None:
    book = _book().assign(**change)
    with pytest.raises(RiskInputError, match=message):
        portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})


def test_missing_rate_names_the_row() -> None:
    with pytest.raises(RiskInputError, match=r"^maintenanceMarginRate \(row pos0\) must be "
                                             r"given, or tiers for 'BTC/USDT:USDT' \(got none\)"):
        portfolio_margin(_book())


def test_a_cross_account_requirement_counts_every_position_closing_fee() -> None:
    # OKX: cross margin ratio = adjusted equity / (MMR + liquidation cost) over the account. A
    # 1 BTC long at 60,000 and a 100 ETH short at 3,000 sharing 20,000, rates 0.4% / 0.5%, taker
    # 0.05%: the BTC liquidation price solves
    # 20,000 + (P - 60,000) = 0.45% P + 100 x 3,000 x (0.5% + 0.05%)  ->  P = 41,650 / 0.9955.
    book = pd.DataFrame({
        "exchange": ["okx", "okx"], "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
        "side": ["long", "short"], "contracts": [1.0, 100.0],
        "entryPrice": [60_000.0, 3_000.0], "markPrice": [60_000.0, 3_000.0],
        "collateral": [20_000.0, 20_000.0], "marginMode": ["cross", "cross"],
        "maintenanceMarginRate": [0.004, 0.005], "feeRate": [0.0005, 0.0005]})
    result = portfolio_margin(book)
    assert result["liquidation_price"].iloc[0] == pytest.approx(41_650 / 0.9955, rel=1e-12)
    # Only the own fee counted (the former rule) would give 41,687.59.
    assert abs(result["liquidation_price"].iloc[0] - 41_687.59) > 150


def test_text_is_read_per_distinct_value_with_the_same_answers() -> None:
    """A large book repeats few venues: the result equals the book's rows valued one by one,
    whatever the case and spacing of the words, and a bad word is named at its first row."""
    book = _book()
    big = pd.concat([book] * 50, ignore_index=True)
    big["exchange"] = np.where(np.arange(len(big)) % 2 == 0, big["exchange"],
                               big["exchange"].str.upper())
    big["marginMode"] = np.where(np.arange(len(big)) % 3 == 0, big["marginMode"].str.title(),
                                 big["marginMode"])
    tiers = {"BTC/USDT:USDT": BTCUSDT_TIERS}
    whole = portfolio_margin(big, tiers=tiers)
    alone = portfolio_margin(book, tiers=tiers)
    expected = pd.concat([alone] * 50, ignore_index=True)
    # Cross accounts span the copies: 50 times the positions share one wallet, so only the
    # isolated rows are comparable one by one.
    isolated = (big["marginMode"].str.lower() == "isolated").to_numpy()
    pd.testing.assert_frame_equal(whole[isolated], expected[isolated])
    assert set(whole["account"]) == set(alone["account"])
    bad = big.assign(contractType=["linear"] * 7 + ["perpetual"] + ["linear"] * (len(big) - 8))
    with pytest.raises(RiskInputError, match=r"^contractType \(row 7\) must be one of"):
        portfolio_margin(bad, tiers=tiers)
    bad = big.assign(marginMode=["cross"] * 11 + ["portfolio"] * (len(big) - 11))
    with pytest.raises(RiskInputError, match=r"^marginMode \(row 11\) must be one of"):
        portfolio_margin(bad, tiers=tiers)


def test_the_first_differing_cross_account_is_named() -> None:
    book = pd.DataFrame({
        "exchange": ["okx", "binance", "okx", "binance"], "symbol": ["BTC/USDT:USDT"] * 4,
        "side": ["long"] * 4, "contracts": [1.0] * 4, "entryPrice": [60_000.0] * 4,
        "markPrice": [60_000.0] * 4, "collateral": [10_000.0, 20_000.0, 11_000.0, 21_000.0],
        "marginMode": ["cross"] * 4, "maintenanceMarginRate": [0.005] * 4,
    }, index=["a", "b", "c", "d"])
    # Both accounts differ; the message names the first row that differs (in the book's order),
    # its account and that account's first row; the fields point at the row.
    with pytest.raises(RiskInputError, match=r"cross row of okx:USDT \(got 10000 in row a, "
                                             r"11000 in row c\)$") as error:
        portfolio_margin(book)
    assert (error.value.argument, error.value.position, error.value.value) == (
        "collateral", 2, 11_000.0)


def test_a_refusal_names_the_book_row_and_column_as_fields() -> None:
    book = _book()
    book.loc["pos4", "collateral"] = -5.0  # an isolated row with a negative margin
    with pytest.raises(RiskInputError) as info:
        portfolio_margin(book, tiers={"BTC/USDT:USDT": BTCUSDT_TIERS})
    exc = info.value
    assert str(exc) == "collateral (row pos4) must be >= 0 (got -5)"
    assert (exc.argument, exc.position, exc.value, exc.rule) == (
        "collateral", list(book.index).index("pos4"), -5.0, "be >= 0")

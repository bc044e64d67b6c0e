"""The positions schema: one reading of a book (columns, defaults, aliases, rule, account, the
one-wallet rule) that every book-level function goes through, with the same answers for a
DataFrame and for its Book."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from riskfuncs import RiskInputError
from riskfuncs.batch import account_key, batch
from riskfuncs.book import BOOK_COLUMNS, Book, account_of, as_book
from riskfuncs.counterparty import exposure_by_exchange
from riskfuncs.discipline import discipline_report
from riskfuncs.portfolio import POSITION_COLUMNS, portfolio_margin
from riskfuncs.scenarios import Scenario
from riskfuncs.stress import stress_test


def one(**columns: Any) -> pd.DataFrame:
    """A one-row book: a BTC long on Binance, isolated, 10x."""
    row = {"exchange": "binance", "symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1.0,
           "entryPrice": 60_000.0, "markPrice": 60_000.0, "collateral": 6_000.0,
           "maintenanceMarginRate": 0.005}
    row.update(columns)
    return pd.DataFrame({k: [v] for k, v in row.items()}, index=["p"])


# ---------------------------------------------------------------------------------------------
# The schema


def test_columns_are_declared_once_with_their_facts() -> None:
    names = [c.name for c in BOOK_COLUMNS]
    assert len(names) == len(set(names))
    aliases = [a for c in BOOK_COLUMNS for a in c.aliases]
    assert not set(aliases) & set(names)
    # portfolio's column list is the schema's position columns, in the schema's order.
    assert list(POSITION_COLUMNS) == [c.name for c in BOOK_COLUMNS if c.group == "position"]
    required = {c.name for c in BOOK_COLUMNS if c.default is None}
    assert required == {"side", "contracts", "entryPrice", "markPrice", "collateral"}
    for column in BOOK_COLUMNS:
        assert column.kind in ("number", "text")
        if column.kind == "number":
            assert column.unit, f"{column.name} has no unit"
    ccxt = {c.name: c.ccxt for c in BOOK_COLUMNS if c.ccxt}
    assert ccxt["contracts"] == "contracts" and ccxt["stopLossPrice"] == "stopLossPrice"
    assert "collateral" not in ccxt  # ccxt's collateral includes uPnL: not the same field


def test_defaults_fill_missing_columns_and_empty_cells() -> None:
    positions = one(contractSize=np.nan, feeRate=None, marginMode=" ", contractType=None,
                    exchange="")
    book = as_book(positions.drop(columns="maintenanceMarginRate"))
    assert book.values("contractSize").tolist() == [1.0]
    assert book.values("feeRate").tolist() == [0.0]
    assert book.values("maintenanceAmount").tolist() == [0.0]
    assert math.isnan(book.values("maintenanceMarginRate")[0])  # missing data, not a default
    assert book.cross.tolist() == [False]
    assert book.text("contractType").tolist() == ["linear"]
    assert book.text("exchange").tolist() == ["generic"]
    assert book.rule.tolist() == ["generic"]
    assert "feeRate" in book.given and "maxLeverage" not in book.given


def test_numbers_are_floats_and_words_canonical() -> None:
    positions = one(contracts="2", exchange=" OKX ", marginMode="CROSS", contractType="Linear",
                    side="Sell", symbol=" BTC-USDT-SWAP ")
    book = as_book(positions)
    assert book.values("contracts").dtype == np.float64 and book.quantity.tolist() == [2.0]
    assert book.text("exchange").tolist() == ["okx"]
    assert book.text("symbol").tolist() == ["BTC-USDT-SWAP"]
    assert book.cross.tolist() == [True] and book.sign.tolist() == [-1.0]
    assert book.account_keys.tolist() == ["okx:USDT"]
    # Read-only: a Book is what the functions share, nobody writes into it.
    with pytest.raises(ValueError):
        book.values("contracts")[0] = 5.0


def test_quantity_is_contracts_times_contract_size() -> None:
    by_contracts = one(contracts=0.5)
    by_quantity = by_contracts.rename(columns={"contracts": "quantity"})
    assert as_book(by_quantity).quantity.tolist() == [0.5]
    pd.testing.assert_frame_equal(portfolio_margin(by_quantity), portfolio_margin(by_contracts))
    scenario = Scenario("down", moves={"BTC": -0.1})
    assert_array_equal(stress_test(by_quantity, scenario).pnl,
                       stress_test(by_contracts, scenario).pnl)
    # A quantity already counts the contract size: a size other than 1 beside it is refused,
    # with the same words by every function.
    doubled = by_quantity.assign(contractSize=2.0)
    messages = set()
    for call in (portfolio_margin, lambda b: stress_test(b, scenario), exposure_by_exchange,
                 discipline_report, as_book):
        with pytest.raises(RiskInputError) as error:
            call(doubled)
        messages.add(str(error.value))
        assert (error.value.argument, error.value.position, error.value.value) == (
            "contractSize", 0, 2.0)
    assert messages == {"contractSize (row p) must be 1 beside a quantity column (quantity is "
                        "contracts x contractSize) (got 2)"}


@pytest.mark.parametrize(
    ("change", "message", "argument"),
    [
        ({"contracts": "two"}, "contracts (row p) must be a number (got 'two')", "contracts"),
        ({"marginMode": "portfolio"},
         "marginMode (row p) must be one of isolated, cross (got 'portfolio')", "marginMode"),
        ({"contractType": "quanto"},
         "contractType (row p) must be one of linear, inverse (got 'quanto')", "contractType"),
        ({"rule": "mtgox"}, "rule (row p) must be one of binance, bybit, okx, gate, "
                            "hyperliquid, dydx, bitmex, generic (got 'mtgox')", "rule"),
        ({"side": "hold"}, "side (row p) must be long or short (got 'hold')", "side"),
    ],
)
def test_refusals_name_the_column_row_and_rule(change: dict[str, Any], message: str,
                                               argument: str) -> None:
    positions = pd.concat([one(), one(**change).rename(index={"p": "q"})]).rename(
        index={"q": "p"})  # the bad row is the second, labelled p like the first
    with pytest.raises(RiskInputError) as error:
        as_book(positions)
    assert str(error.value) == message
    assert (error.value.argument, error.value.position) == (argument, 1)
    assert error.value.rule and error.value.rule in message


def test_a_missing_required_column_is_named() -> None:
    with pytest.raises(RiskInputError, match=r"^positions must have a markPrice column$"):
        as_book(one().drop(columns="markPrice"))
    with pytest.raises(RiskInputError, match=r"^positions must be a DataFrame \(got list\)"):
        as_book([1, 2])  # type: ignore[arg-type]


def test_a_book_passes_through_and_an_empty_book_reads() -> None:
    book = as_book(one())
    assert as_book(book) is book
    empty = as_book(one().iloc[:0])
    assert len(empty) == 0 and empty.accounts.tolist() == []


# ---------------------------------------------------------------------------------------------
# Accounts: the settle currency from one symbol parser


@pytest.mark.parametrize(
    ("exchange", "symbol", "contract", "account"),
    [
        ("binanceusdm", "BTC/USDT:USDT-240628", "linear", "binanceusdm:USDT"),
        ("binance", "BTCUSDT", "linear", "binance:USDT"),
        ("bitmex", "XBTUSD", "inverse", "bitmex:BTC"),
        ("okx", "BTC-USDT-SWAP", "linear", "okx:USDT"),
        ("okx", "BTC-USD-SWAP", "inverse", "okx:BTC"),
        ("bybit", "BTC/USD:BTC", "inverse", "bybit:BTC"),
        ("bybit", "BTC/USD:BTC", "linear", "bybit:BTC"),  # the symbol's settle wins
        ("binancecoinm", "BTCUSD_PERP", "inverse", "binancecoinm:BTC"),
    ],
)
def test_account_keys(exchange: str, symbol: str, contract: str, account: str) -> None:
    assert account_of(exchange, symbol, contract) == account
    coin = {"contracts": 6_000.0, "collateral": 0.01} if contract == "inverse" else {}
    positions = one(exchange=exchange, symbol=symbol, contractType=contract, **coin)
    assert as_book(positions).account_keys.tolist() == [account]
    assert account_key(positions).tolist() == [account]
    assert portfolio_margin(positions)["account"].tolist() == [account]


def test_a_symbol_naming_no_market_keeps_the_former_keys() -> None:
    assert account_of("deribit", "", "linear") == "deribit:QUOTE"
    assert account_of("deribit", "", "inverse") == "deribit:COIN"
    assert account_of("deribit", "perp", "inverse") == "deribit:PERP"


def test_dated_and_perpetual_futures_of_one_settle_share_a_cross_wallet() -> None:
    positions = pd.concat([one(symbol="BTC/USDT:USDT-240628"), one(symbol="BTCUSDT")],
                          ignore_index=True).assign(marginMode="cross", collateral=20_000.0)
    margins = portfolio_margin(positions)
    assert margins["account"].tolist() == ["binance:USDT"] * 2
    # One wallet: each row's balance is the wallet plus both positions' uPnL (0 at entry).
    assert margins["margin_balance"].tolist() == [20_000.0, 20_000.0]


# ---------------------------------------------------------------------------------------------
# The rules every function shares


def test_the_one_wallet_rule_is_worded_once() -> None:
    positions = pd.DataFrame({
        "exchange": ["binance", "binance", "okx"], "symbol": ["BTC/USDT:USDT", "ETHUSDT",
                                                              "BTC-USDT-SWAP"],
        "side": ["long", "short", "long"], "contracts": [1.0, 10.0, 1.0],
        "entryPrice": [60_000.0, 3_000.0, 60_000.0], "markPrice": [60_000.0, 3_000.0, 60_000.0],
        "collateral": [20_000.0, 19_000.0, 5_000.0], "marginMode": ["cross", "cross", "cross"],
        "maintenanceMarginRate": [0.005, 0.01, 0.005]}, index=["a", "b", "c"])
    messages = set()
    for call in (as_book, portfolio_margin, exposure_by_exchange, discipline_report, batch,
                 lambda b: stress_test(b, "BTC -30% 1h")):
        with pytest.raises(RiskInputError) as error:
            call(positions)
        messages.add(str(error.value))
        assert (error.value.argument, error.value.position, error.value.value) == (
            "collateral", 1, 19_000.0)
    assert messages == {"collateral must be one wallet balance on every cross row of "
                        "binance:USDT (got 20000 in row a, 19000 in row b)"}


@pytest.mark.parametrize("rule", [None, "bybit", "okx"])
def test_the_rule_column_values_the_row_in_both_margin_and_stress(rule: str | None) -> None:
    # A Kraken long valued with Binance's rule (the venue's) or with the rule column's: the
    # liquidation price portfolio_margin gives is where stress_test's move liquidates it.
    positions = one(exchange="kraken", entryPrice=20_000.0, markPrice=20_000.0,
                    collateral=2_000.0, feeRate=0.0006, maintenanceMarginRate=0.01)
    if rule is not None:
        positions = positions.assign(rule=rule)
    margins = portfolio_margin(positions)
    assert margins["rule"].tolist() == [rule or "binance"]
    price = float(margins["liquidation_price"].iloc[0])
    moves = [price / 20_000.0 * (1 + 1e-7) - 1, price / 20_000.0 * (1 - 1e-7) - 1]
    result = stress_test(positions, [Scenario("above", moves={"BTC": moves[0]}),
                                     Scenario("below", moves={"BTC": moves[1]})])
    assert result.liquidated[0].tolist() == [False, True]


def test_the_rule_column_changes_the_answer() -> None:
    positions = one(exchange="kraken", entryPrice=20_000.0, markPrice=20_000.0,
                    collateral=2_000.0, feeRate=0.0006, maintenanceMarginRate=0.01)
    venue = portfolio_margin(positions)["liquidation_price"].iloc[0]
    bybit = portfolio_margin(positions.assign(rule="bybit"))["liquidation_price"].iloc[0]
    assert abs(venue - bybit) > 1.0


def test_stress_reads_exchange_ids_but_needs_a_market() -> None:
    scenario = Scenario("down", moves={"BTC": -0.1})
    ids = stress_test(one(symbol="BTCUSDT"), scenario)
    unified = stress_test(one(symbol="BTC/USDT:USDT"), scenario)
    assert_array_equal(ids.pnl, unified.pnl)
    assert ids.positions["asset"].tolist() == ["BTC"]
    with pytest.raises(RiskInputError) as error:
        stress_test(one(symbol="bitcoin"), scenario)
    assert (error.value.argument, error.value.position) == ("symbol", 0)


# ---------------------------------------------------------------------------------------------
# A DataFrame and its Book give the same answers

MENU = (  # exchange as typed, symbol, contract type, settle (for the cross wallet)
    ("binanceusdm", "BTC/USDT:USDT", "linear"),
    (" Bybit", "ETHUSDT", "linear"),
    ("okx", "BTC-USDT-SWAP", "linear"),
    ("bitmex", "XBTUSD", "inverse"),
    ("kraken", "BTC/USD:BTC", "inverse"),
    ("gate.io", "BTC/USDT:USDT-240628", "linear"),
    ("hyperliquid", "ETH/USDC:USDC", "linear"),
)


@st.composite
def books(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        exchange, symbol, contract = MENU[draw(st.integers(0, len(MENU) - 1))]
        price = 3_000.0 if "ETH" in symbol else 60_000.0
        inverse = contract == "inverse"
        cross = draw(st.booleans())
        rows.append({
            "exchange": exchange, "symbol": symbol, "contractType": contract,
            "side": draw(st.sampled_from(["long", "short"])),
            "contracts": draw(st.floats(0.1, 5.0)) * (1_000.0 if inverse else 1.0),
            "entryPrice": price * draw(st.floats(0.9, 1.1)),
            "markPrice": price * draw(st.floats(0.9, 1.1)),
            "collateral": (1.0 if inverse else 30_000.0) if cross else (
                draw(st.floats(0.01, 0.1)) if inverse else draw(st.floats(500.0, 5_000.0))),
            "marginMode": "cross" if cross else "isolated",
            "maintenanceMarginRate": draw(st.floats(0.004, 0.01)),
            "feeRate": 0.0005,
            "rule": draw(st.sampled_from(["", "", "bybit", "binance"])),
            "stopLossPrice": np.nan,
        })
    frame = pd.DataFrame(rows, index=[f"r{i}" for i in range(n)])
    if draw(st.booleans()):
        frame = frame.rename(columns={"contracts": "quantity"})
    return frame


@settings(max_examples=25, deadline=None)
@given(books())
def test_each_function_gives_the_same_for_a_dataframe_and_its_book(positions: pd.DataFrame
                                                                    ) -> None:
    book = as_book(positions)
    assert isinstance(book, Book)
    pd.testing.assert_frame_equal(portfolio_margin(positions), portfolio_margin(book))
    pd.testing.assert_series_equal(exposure_by_exchange(positions), exposure_by_exchange(book))
    pd.testing.assert_frame_equal(discipline_report(positions), discipline_report(book))
    pd.testing.assert_series_equal(account_key(positions), account_key(book))
    scenarios: list[Scenario | str] = [
        "BTC -30% 1h", Scenario("mixed", moves={"BTC": 0.1, "ETH": -0.2})]
    pd.testing.assert_frame_equal(batch(positions, scenarios=scenarios),
                                  batch(book, scenarios=scenarios))
    framed, booked = stress_test(positions, scenarios), stress_test(book, scenarios)
    for name in ("pnl", "maintenance_margin", "account_balance", "account_requirement",
                 "account_of_position"):
        assert_array_equal(getattr(framed, name), getattr(booked, name))
    pd.testing.assert_frame_equal(framed.by_scenario, booked.by_scenario)
    pd.testing.assert_frame_equal(framed.positions, booked.positions)
    pd.testing.assert_frame_equal(framed.accounts, booked.accounts)
    # Every function reads the same accounts and rules from it.
    assert portfolio_margin(book)["account"].tolist() == book.account_keys.tolist()
    assert portfolio_margin(book)["rule"].tolist() == book.rule.tolist()


def test_sides_given_as_plus_and_minus_one_read_as_long_and_short() -> None:
    # BOOK_COLUMNS: "long/short (also buy/sell, +1/-1)"; a bad number names its own row.
    from riskfuncs import portfolio_margin

    words = pd.DataFrame({"side": ["long", "short"], "contracts": [1.0, 1.0],
                          "entryPrice": [100.0, 100.0], "markPrice": [100.0, 100.0],
                          "collateral": [10.0, 10.0], "maintenanceMarginRate": [0.01, 0.01]},
                         index=["a", "b"])
    numbers = words.assign(side=[1, -1])
    pd.testing.assert_frame_equal(portfolio_margin(numbers), portfolio_margin(words))
    assert as_book(words.assign(side=[1.0, np.nan])).sign.tolist()[0] == 1.0
    with pytest.raises(RiskInputError, match=r"^side \(row b\) must be long or short \(got 2\)$"):
        as_book(words.assign(side=[1, 2]))

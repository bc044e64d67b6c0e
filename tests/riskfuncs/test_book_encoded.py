"""Encoded text columns: a book whose text arrives as pandas ``category`` columns or as Arrow
dictionary-encoded columns (a Parquet read) is read through its codes and gives exactly what
the same book with plain text gives, whatever the categories' order, unused categories and
missing values; ``portfolio_margin`` gives the same figures whatever the size of the blocks it
works through."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from numpy.testing import assert_array_equal

import riskfuncs.portfolio
from riskfuncs import RiskInputError
from riskfuncs.batch import batch
from riskfuncs.book import Book, as_book
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.stress import stress_test
from riskfuncs.tiers import resolve_tier_tables
from tests.riskfuncs.test_book import books
from tests.riskfuncs.test_liquidation import BTCUSDT_TIERS

pa = pytest.importorskip("pyarrow")

TEXT = ("exchange", "symbol", "side", "marginMode", "contractType", "rule", "collateralCurrency")
TIERS = {"BTC/USDT:USDT": BTCUSDT_TIERS}


def mixed_book(n: int = 600, seed: int = 5) -> pd.DataFrame:
    """Venues in several spellings and settle currencies, linear and inverse, cross and
    isolated, a rule override, tiers for one symbol, fee rates, and missing words (a missing
    side is unknown; a missing margin mode, contract type or rule takes its default)."""
    rng = np.random.default_rng(seed)
    menu = [  # exchange as typed, symbol, contract type, price
        ("binanceusdm", "BTC/USDT:USDT", "linear", 60_000.0),
        (" Bybit", "ETHUSDT", "linear", 3_000.0),
        ("OKX", "BTC-USDT-SWAP", "linear", 60_000.0),
        ("bitmex", "XBTUSD", "inverse", 60_000.0),
        ("kraken", "BTC/USD:BTC", "inverse", 60_000.0),
        ("gate.io", "BTC/USDT:USDT-240628", "linear", 60_000.0),
        ("deribit", "SOL/USDT:USDT", "linear", 150.0),
    ]
    pick = rng.integers(0, len(menu), n)
    exchange, symbol, contract, price = (np.array([row[k] for row in menu], dtype=object)[pick]
                                         for k in range(4))
    price = price.astype(float)
    inverse = contract == "inverse"
    cross = rng.random(n) < 0.4
    qty = np.where(inverse, 2_000.0, 1.0) * rng.uniform(0.1, 3.0, n)
    wallet = {key: float(rng.uniform(20_000, 90_000)) for key in set(exchange)}
    collateral = np.where(
        cross, [wallet[e] / (60_000.0 if i else 1.0) for e, i in zip(exchange, inverse,
                                                                     strict=True)],
        np.where(inverse, qty / price * 0.2, qty * price * rng.uniform(0.05, 0.5, n)))
    side = rng.choice(np.array(["long", "short", "Sell", " BUY", None], dtype=object), n,
                      p=[0.4, 0.4, 0.08, 0.08, 0.04])
    mode = np.where(cross, rng.choice(np.array(["cross", "CROSS"], dtype=object), n),
                    rng.choice(np.array(["isolated", None, ""], dtype=object), n))
    return pd.DataFrame({
        "exchange": exchange, "symbol": symbol, "side": side,
        "contracts": qty, "entryPrice": price * rng.uniform(0.9, 1.1, n),
        "markPrice": price * rng.uniform(0.9, 1.1, n), "collateral": collateral,
        "marginMode": mode,
        "contractType": np.where(rng.random(n) < 0.5, contract, np.where(inverse, contract,
                                                                          None)),
        "maintenanceMarginRate": rng.choice([0.004, 0.005, 0.01], n),
        "feeRate": rng.choice([0.0, 0.0005], n),
        "rule": rng.choice(np.array(["", "", "", "bybit", None], dtype=object), n),
        "collateralCurrency": rng.choice(np.array(["", "usdt", None], dtype=object), n),
    }, index=[f"p{i}" for i in range(n)])


def categorical(positions: pd.DataFrame, *, extra: dict[str, list[Any]] | None = None,
                reverse: bool = False) -> pd.DataFrame:
    """The same book with each text column a pandas Categorical, optionally with categories no
    row uses and the categories in reverse order."""
    out = positions.copy()
    for name in TEXT:
        if name not in out:
            continue
        values = out[name].astype(object)
        present = [v for v in pd.unique(values) if isinstance(v, str)]
        categories = present + [v for v in (extra or {}).get(name, []) if v not in present]
        if reverse:
            categories = categories[::-1]
        out[name] = pd.Categorical(values, categories=categories)
    return out


def dictionary(positions: pd.DataFrame) -> pd.DataFrame:
    """The same book with each text column Arrow dictionary-encoded, in two chunks with
    different dictionaries (as a Parquet file of two row groups may read back)."""
    out = positions.copy()
    half = len(out) // 2
    for name in TEXT:
        if name not in out:
            continue
        values = [None if not isinstance(v, str) else v for v in out[name]]
        chunks = [pa.array(part, type=pa.string()).dictionary_encode()
                  for part in (values[:half], values[half:])]
        out[name] = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks)),
                              index=out.index)
    return out


def assert_same_book(left: Book, right: Book) -> None:
    for name in ("venue", "venue_row", "cross", "account", "accounts"):
        assert_array_equal(getattr(left, name), getattr(right, name))
    assert_array_equal(left.sign, right.sign)  # NaN where the side is missing, in both
    pd.testing.assert_frame_equal(left.venues, right.venues)
    assert_array_equal(left.collateral_currency[0], right.collateral_currency[0])
    assert left.collateral_currency[1] == right.collateral_currency[1]


@pytest.mark.parametrize("encode", [
    categorical,
    lambda book: categorical(book, reverse=True,
                             extra={"side": ["sideways"], "marginMode": ["portfolio"],
                                    "exchange": ["mtgox"], "rule": ["nobody"]}),
    dictionary,
], ids=["category", "category-unused-reversed", "arrow-dictionary"])
def test_an_encoded_book_gives_what_the_text_book_gives(encode: Any) -> None:
    text = mixed_book()
    encoded = encode(text)
    assert all(not pd.api.types.is_object_dtype(encoded[name]) for name in TEXT)
    assert_same_book(as_book(text), as_book(encoded))
    pd.testing.assert_frame_equal(portfolio_margin(encoded, tiers=TIERS),
                                  portfolio_margin(text, tiers=TIERS), check_exact=True)
    # Stress needs every side: the rows that give one.
    text = text[text["side"].notna()]
    encoded = encode(text)
    scenarios = ["BTC -30% 1h"]
    pd.testing.assert_frame_equal(batch(encoded, tiers=TIERS, scenarios=scenarios),
                                  batch(text, tiers=TIERS, scenarios=scenarios),
                                  check_exact=True)
    framed, coded = stress_test(text, scenarios, tiers=TIERS), stress_test(
        encoded, scenarios, tiers=TIERS)
    assert_array_equal(framed.pnl, coded.pnl)
    pd.testing.assert_frame_equal(framed.accounts, coded.accounts)


@settings(max_examples=25, deadline=None)
@given(books())
def test_encoded_small_books_agree(positions: pd.DataFrame) -> None:
    text = positions.astype({name: object for name in TEXT if name in positions})
    for encoded in (categorical(text), dictionary(text)):
        assert_same_book(as_book(text), as_book(encoded))
        pd.testing.assert_frame_equal(portfolio_margin(encoded), portfolio_margin(text),
                                      check_exact=True)


@pytest.mark.parametrize(("column", "word", "message"), [
    ("side", "sideways", r"^side \(row p7\) must be long or short \(got 'sideways'\)"),
    ("marginMode", "portfolio", r"^marginMode \(row p7\) must be one of isolated, cross"),
    ("contractType", "perpetual", r"^contractType \(row p7\) must be one of linear, inverse"),
])
def test_a_bad_word_in_use_is_refused_as_in_the_text_book(column: str, word: str,
                                                         message: str) -> None:
    text = mixed_book(40)
    text[column] = text[column].astype(object)
    text.loc[["p7", "p30"], column] = word
    for book in (text, categorical(text), categorical(text, reverse=True), dictionary(text)):
        with pytest.raises(RiskInputError, match=message):
            portfolio_margin(book, tiers=TIERS)


@pytest.mark.parametrize("venues", [
    None,  # more than eight venue groups: the groups found by sorting
    ["binanceusdm", "OKX"],  # a few: one pass each
])
def test_the_blocks_of_the_liquidation_pass_do_not_change_the_figures(
        monkeypatch: pytest.MonkeyPatch, venues: list[str] | None) -> None:
    book = mixed_book(500, seed=9)
    if venues is not None:
        book = book[book["exchange"].isin(venues)]
        book = book.set_axis([f"p{i}" for i in range(len(book))])
        read = as_book(book)
        labels = resolve_tier_tables(read.venues["exchange"], read.venues["symbol"], TIERS)[1]
        codes, kinds = riskfuncs.portfolio._liquidation_groups(read.venue, read.venues, labels,
                                                               read.cross)
        assert len(kinds) <= 16 and len(np.unique(codes)) >= 4
    whole = portfolio_margin(book, tiers=TIERS)
    late = book.index[~as_book(book).cross][-1]  # an isolated row far down the book
    for rows in (1, 7, 64):  # one row per block; blocks that split groups and accounts
        monkeypatch.setattr(riskfuncs.portfolio, "_BLOCK", rows)
        pd.testing.assert_frame_equal(portfolio_margin(book, tiers=TIERS), whole,
                                      check_exact=True)
        # A refusal in a later block names its row of the book.
        bad = book.copy()
        bad.loc[late, "collateral"] = -1.0
        with pytest.raises(RiskInputError, match=rf"^collateral \(row {late}\) must be >= 0"):
            portfolio_margin(bad, tiers=TIERS)

"""The report's account view: the workbook's Accounts sheet read back and computed with
riskfuncs.accounts, its levels at the watch command's thresholds, and the section in the text
and HTML report.

Reference values (tests/riskfuncs/test_accounts.py, with their sources there): OKX's fee case
(BTC's account liquidation price 41,650 / 0.9955 = 41,838.27, margin ratio 20,000 / 1,920),
Bybit UTA's haircut example (equity 879,000: 15 BTC after the BTC tiers and 10,000 USDT less a
4,000 loss) and dYdX's (short 3 ETH at 3,000, deposit 1,000, MMF 5%: 3,174.60). Tolerance 1e-12
relative: the report calls riskfuncs on the same numbers the workbook holds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from addin.reader import read_filled_workbook
from addin.report import render
from addin.report.accounts_view import AccountSummary, level_of_use
from addin.report.pipeline import assess_book
from addin.report.render import price as price_text
from addin.workbook import builder, layout
from tests.addin.workbook.inputs import Extra, fill
from tests.addin.workbook.test_accounts_sheet import _book as book_of
from tests.addin.workbook.test_accounts_sheet import (
    _expected,
    _extra,
    _position,
    _reference_variants,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("accounts_report") / "full.xlsx"
    return builder.write_template(layout.TEMPLATES["credit-risk-assessment"], path)


def _assess(template: Path, path: Path, book: Any, extra: Extra) -> Any:
    fill(template, path, book, extra)
    read = read_filled_workbook(path)
    assert read.ok, read.problems
    return assess_book(read)


@pytest.fixture(scope="module")
def reference(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    book, accounts, balances = _reference_variants()["okx_fee"]
    out = _assess(template, tmp_path_factory.mktemp("ref") / "okx_fee.xlsx", book,
                  _extra(accounts, balances))
    return out, book, accounts, balances


def _by_exchange(assessment: Any) -> dict[str, AccountSummary]:
    return {a.exchange: a for a in assessment.accounts.accounts}


def test_reference_accounts(reference: Any) -> None:
    assessment, book, accounts, balances = reference
    found = _by_exchange(assessment)
    okx, bybit, dydx = found["okx"], found["bybit"], found["dydx"]
    assert okx.assets[0].asset == "BTC"
    assert okx.assets[0].liquidation_price == pytest.approx(41_650 / 0.9955, rel=1e-12)
    assert okx.ratio == pytest.approx(20_000 / 1_920, rel=1e-12)
    assert bybit.equity == pytest.approx(879_000, rel=1e-12)
    assert bybit.requirement == pytest.approx(1_240, rel=1e-12)
    assert dydx.assets[0].liquidation_price == pytest.approx(10_000 / 3.15, rel=1e-12)
    assert dydx.use == pytest.approx(0.45, rel=1e-12) and dydx.level == "green"
    # Every figure is riskfuncs' on the workbook's inputs.
    for exchange, mode in zip(accounts["exchange"], accounts["mode"], strict=True):
        state = _expected(book, exchange, mode, balances)
        mine = found[exchange]
        assert (mine.mode, mine.ratio_name, mine.liquidated) == (mode, state.ratio_name,
                                                                   state.liquidated)
        for key in ("equity", "requirement", "ratio", "trigger"):
            assert getattr(mine, key) == pytest.approx(getattr(state, key), rel=1e-12), key
        prices = state.positions.drop_duplicates("asset")["account_liquidation_price"]
        assert [a.liquidation_price for a in mine.assets] == pytest.approx(list(prices),
                                                                           rel=1e-12)
        # Every coin held (stablecoins too) with riskfuncs' public account liquidation price.
        coins = state.coins["account_liquidation_price"]
        assert [c.coin for c in mine.coins] == list(coins.index)
        assert [c.liquidation_price or 0.0 for c in mine.coins] == pytest.approx(
            [p if 0 < p < math.inf else 0.0 for p in coins], rel=1e-12)
        assert [c.value for c in mine.coins] == pytest.approx(list(state.coins["value"]),
                                                              rel=1e-12)


@pytest.mark.parametrize(("use", "liquidated", "level"), [
    (0.0, False, "green"), (0.4999, False, "green"), (0.5, False, "amber"),
    (0.7999, False, "amber"), (0.8, False, "red"), (0.1, True, "red"),
    (math.nan, False, "red"),
])
def test_levels_are_the_watch_commands(use: float, liquidated: bool, level: str) -> None:
    assert (layout.ACCOUNT_USE_AMBER, layout.ACCOUNT_USE_RED) == (0.5, 0.8)
    assert level_of_use(use, liquidated) == level


def test_a_stretched_account_is_an_alert_and_a_bad_one_says_why(
        template: Path, tmp_path: Path) -> None:
    # OKX: wallet 2,600 against a requirement of 1,920: 74% of the trigger used (amber);
    # Bybit: 1,300 against 1,240 at a 1% rate: 95% (red); Gate's haircut table is missing.
    rows = [
        _position("okx", "BTC/USDT:USDT", "long", 1.0, 60_000, 60_000, 0.004, fee=0.0005),
        _position("okx", "ETH/USDT:USDT", "short", 100.0, 3_000, 3_000, 0.005, fee=0.0005),
        _position("bybit", "ETH/USDT:USDT", "short", 40.0, 3_100, 3_100, 0.01),
        _position("gate", "ETH/USDT:USDT", "short", 1.0, 3_000, 3_000, 0.01),
    ]
    accounts = pd.DataFrame({"exchange": ["okx", "bybit", "gate"],
                             "mode": ["okx_multi_currency", "bybit_uta", "bybit_uta"]})
    balances = pd.DataFrame([
        {"exchange": "okx", "coin": "USDT", "amount": 2_600.0},
        {"exchange": "bybit", "coin": "USDT", "amount": 1_300.0},
        {"exchange": "gate", "coin": "USDT", "amount": 100.0, "haircut_table": "MISSING"},
    ])
    assessment = _assess(template, tmp_path / "stretched.xlsx", book_of(rows),
                         _extra(accounts, balances))
    found = _by_exchange(assessment)
    assert found["okx"].use == pytest.approx(1_920 / 2_600, rel=1e-12)
    assert found["okx"].level == "amber"
    assert found["bybit"].use == pytest.approx(1_240 / 1_300, rel=1e-12)
    assert found["bybit"].level == "red"
    assert found["gate"].level == "amber" and "MISSING" in found["gate"].problem.upper()
    alerts = {a.subject: a for a in assessment.alerts}
    assert alerts["okx account"].level == "amber" and "74%" in alerts["okx account"].text
    assert alerts["bybit account"].level == "red"
    assert "not assessed" in alerts["gate account"].text
    text = render(assessment, "text")
    assert "[RED] bybit (bybit_uta, 1 position(s)): Account MM Rate 95.38%" in text
    # A line of its own, the position counted: the next account starts on the next line.
    assert "  [AMBER] gate (bybit_uta, 1 position(s)): not assessed, haircut table 'MISSING' " \
        "of USDT not found\n" in text


def test_the_section_in_text_and_html(reference: Any) -> None:
    assessment = reference[0]
    text = render(assessment, "text")
    section = text[text.index("UNIFIED ACCOUNTS"):]
    assert "okx (okx_multi_currency, 2 position(s)): margin ratio 1041.67%, trigger <= 100%" \
        in section
    assert "BTC      mark       60,000.0  account liq. price       41,838.3  (-30.27%)" \
        in section
    assert "3,174.60" in section
    html = render(assessment, "html")
    part = html[html.index("Unified accounts"):]
    assert "okx_multi_currency, 2 position(s)" in part
    assert "BTC 41,838.3 (-30.27%)" in part and "ETH 3,174.60 (5.82%)" in part
    assert render(assessment, "json").count('"liquidation_price"') >= 4


def test_binance_multi_assets_with_buffers(template: Path, tmp_path: Path) -> None:
    """Binance's FAQ example through the report: the sheet's bid/ask buffers are used, as
    account_margin(conversion_buffers=...) takes them (416.02, 199.596, 47.98%)."""
    book, accounts, balances = _reference_variants()["binance_faq"]
    assessment = _assess(template, tmp_path / "faq.xlsx", book, _extra(accounts, balances))
    found = _by_exchange(assessment)["binance"]
    assert found.problem == "" and found.note == ""
    assert found.equity == pytest.approx(416.02, rel=1e-12)
    assert found.requirement == pytest.approx(199.596, rel=1e-12)
    assert round(found.ratio, 4) == 0.4798
    state = _expected(book, "binance", "binance_multi_assets", balances)
    assert [c.liquidation_price or 0.0 for c in found.coins] == pytest.approx(
        [p if 0 < p < math.inf else 0.0 for p in state.coins["account_liquidation_price"]],
        rel=1e-12)


def test_coin_liquidation_prices_in_text_and_html(template: Path, tmp_path: Path) -> None:
    """Per coin held, its account liquidation price: OKX's 100 BTC (5,785,500 USD after the
    discount tiers) behind an ETH short needing 805 USDT liquidate at 805 / 96.425 = 8.348 USD
    a BTC; USDT, owed (the short's 500 loss) and the coin of the 305 requirement, liquidates
    it only far above 1 (riskfuncs' figure)."""
    book, accounts, balances = _reference_variants()["okx_discount"]
    assessment = _assess(template, tmp_path / "discount.xlsx", book,
                         _extra(accounts, balances))
    okx = _by_exchange(assessment)["okx"]
    btc, usdt = (next(c for c in okx.coins if c.coin == coin) for coin in ("BTC", "USDT"))
    wanted = 805 / (5_785_500 / 60_000)
    assert btc.liquidation_price == pytest.approx(wanted, rel=1e-12)
    assert btc.value == pytest.approx(5_785_500, rel=1e-12)
    state = _expected(book, "okx", "okx_multi_currency", balances)
    assert usdt.liquidation_price == pytest.approx(
        state.coins.loc["USDT", "account_liquidation_price"], rel=1e-12)
    assert usdt.liquidation_price > 1
    text = render(assessment, "text")
    section = text[text.index("UNIFIED ACCOUNTS"):]
    move = f"({wanted / 60_000 - 1:.2%})"
    assert (f"BTC      held   100.00000000  price     60,000.0  value      5,785,500 USD  "
            f"account liq. price {price_text(wanted):>12}  {move}") in section
    assert "USDT     held           0.00" in section
    assert f"account liq. price {price_text(usdt.liquidation_price):>12}" in section
    html = render(assessment, "html")
    part = html[html.index("Unified accounts"):]
    assert "Per coin held" in part and f"BTC {price_text(wanted)} {move}" in part


def test_balance_rows_not_used_are_named(template: Path, tmp_path: Path) -> None:
    """A balance row of an exchange missing from the Accounts table is listed with the reason
    (and is an amber alert), with or without any account listed."""
    book, accounts, balances = _reference_variants()["okx_fee"]
    extra_rows = pd.DataFrame([{"exchange": "mexc", "coin": "USDT", "amount": 1_500.0},
                               {"exchange": "kraken", "coin": "BTC", "amount": 0.25}])
    with_rows = pd.concat([balances, extra_rows], ignore_index=True)
    assessment = _assess(template, tmp_path / "unused.xlsx", book, _extra(accounts, with_rows))
    unused = assessment.accounts.unused
    assert [(u.exchange, u.coin) for u in unused] == [("mexc", "USDT"), ("kraken", "BTC")]
    assert all("not in the Accounts table" in u.reason for u in unused)
    alerts = {a.subject: a for a in assessment.alerts}
    assert alerts["Accounts sheet balances"].level == "amber"
    assert "2 balance row(s) not used: mexc USDT 1,500" in alerts["Accounts sheet balances"].text
    text = render(assessment, "text")
    assert "Balance rows not used (2):" in text and "kraken BTC 0.25: its exchange" in text
    assert "mexc USDT 1,500: its exchange" in render(assessment, "html")
    # No account listed at all: the rows are still named, not dropped.
    none = _assess(template, tmp_path / "unused_only.xlsx", book,
                   _extra(accounts.iloc[:0], extra_rows))
    assert none.accounts is not None and none.accounts.accounts == []
    assert len(none.accounts.unused) == 2
    assert "Balance rows not used (2):" in render(none, "text")


def test_no_accounts_no_section(template: Path, tmp_path: Path) -> None:
    rows = [_position("okx", "BTC/USDT:USDT", "long", 1.0, 60_000, 60_000, 0.004)]
    assessment = _assess(template, tmp_path / "none.xlsx", book_of(rows), Extra({}, {}))
    assert assessment.accounts is None
    assert "UNIFIED ACCOUNTS" not in render(assessment, "text")


def test_an_asset_quoted_in_a_coin_shows_its_price_in_that_coin(template: Path,
                                                                  tmp_path: Path) -> None:
    """ETH/BTC settled in BTC (OKX, BTC at 60,000): ETH's account liquidation price is the
    position's mark there, in BTC, and says so; ETH/USDC's stays in dollars, unnamed."""
    book, accounts, balances = _reference_variants()["settle_priced"]
    assessment = _assess(template, tmp_path / "priced.xlsx", book, _extra(accounts, balances))
    okx = _by_exchange(assessment)["okx"]
    eth = next(a for a in okx.assets if a.asset == "ETH")
    state = _expected(book, "okx", "okx_multi_currency", balances)
    wanted = state.positions.set_index("asset").loc["ETH", "account_liquidation_price"]
    assert eth.quoted_in == "BTC" and eth.unit == "BTC"
    assert eth.liquidation_price == pytest.approx(wanted, rel=1e-12)
    assert eth.liquidation_price < 1  # a price in BTC, not in USD
    bybit_eth = next(a for a in _by_exchange(assessment)["bybit"].assets if a.asset == "ETH")
    assert bybit_eth.quoted_in == "USDC" and bybit_eth.unit == ""
    text = render(assessment, "text")
    assert f"account liq. price {price_text(eth.liquidation_price):>14} BTC" in text
    html = render(assessment, "html")
    assert f"ETH {price_text(eth.liquidation_price)} BTC (" in html

"""The Accounts sheet, recalculated by LibreOffice, equals riskfuncs.accounts.account_margin.

Workbooks filled from the complete template, all recalculated in one LibreOffice run:

* ``okx_fee``: OKX multi-currency, long 1 BTC and short 100 ETH at 3,000, wallet 20,000 USDT,
  rates 0.4% / 0.5%, taker 0.05%: the account liquidation price of BTC is 41,650 / 0.9955 =
  41,838.27 (tests/riskfuncs/test_accounts.py), ratio 20,000 / 1,920; a Bybit UTA account with
  15 BTC after Bybit's published BTC tiers and 10,000 USDT behind a 40 ETH short
  (equity 879,000, requirement 1,240); dYdX's example (deposit 1,000 USDC, short 3 ETH at
  3,000, MMF 5%: 3,174.60).
* ``okx_discount``: OKX's tiered discount example, 100 BTC at 60,000 worth 5,785,500 USD.
* ``binance_faq``: Binance's Multi-Assets example (FAQ c983a9268cfa4e70a4916c276bb3b7bc):
  200 USDT at index 0.99 with bid/ask buffers 0.01/0.005 and 220 USDC behind 0.5 BTCUSDT at
  20,000 (MMR 0.8%) and 20 ETHUSDC at 600 (MMR 1%): equity 416.02, maintenance 199.596,
  margin ratio 47.98%.
* ``settle_priced``: settle coins away from 1 USD: a Bybit account whose positions settle in
  USDC at 0.998, a BTC-settled linear book (ETH/BTC:BTC, maintenance in BTC at 60,000 USD),
  and a BitMEX-style XBT symbol read as BTC.
* ``usd_tiers``: Binance Portfolio Margin with Portfolio Margin Pro's tiers by USD value
  (riskfuncs' stored rank-10 table), on a traded coin and on a coin held only.
* ``random_<seed>``: random accounts on Bybit, OKX, Binance (Portfolio Margin), Binance
  Multi-Assets (as "bitget", with bid/ask buffers), Hyperliquid and dYdX: linear cross
  positions (tier tables on BTC and ETH), isolated rows and rows of other exchanges that are
  no member, coins held and borrowed with haircut tables by coins held and by USD value.
* ``problems``: every input problem the sheet names instead of a figure.
* the blank template: every formula copes with empty input.

Tolerance: relative 1e-9, as the other sheets (LibreOffice keeps 15 significant digits and
sums in another order); margin left, a difference, to 1e-9 of the equity. Every computed
account, balance and position cell is compared.
"""

from __future__ import annotations

import math
import shutil
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from addin.workbook import builder, layout, recalc
from addin.workbook.prefill import HAIRCUT_VENUES, haircut_name
from riskfuncs._errors import RiskInputError
from riskfuncs.accounts import (
    MODES,
    account_margin,
    collateral_tables,
    collateral_tiers,
    collateral_value,
)
from riskfuncs.liquidation import NEVER_LIQUIDATED
from riskfuncs.venues import coin_name
from tests.addin.workbook.inputs import BTC_LINEAR, ETH_LINEAR, Book, Extra, fill, tier_frame

pytestmark = pytest.mark.libreoffice

REL = 1e-9
SHEET = layout.ACCOUNTS
UA, BAL, HC, ACP = (SHEET.table(k) for k in ("unified_accounts", "balances", "haircuts",
                                              "account_positions"))
ERRORS = ("#VALUE!", "#NAME?", "#N/A", "#DIV/0!", "#NUM!", "#REF!", "Err:")

Tiers = list[tuple[float, float | None, float]]
#: Binance Portfolio Margin Pro's rank-10 tiers by USD value (riskfuncs' stored table).
PRO_RANK_10: Tiers = [(t["minValue"], t["maxValue"], t["ratio"])  # type: ignore[misc]
                      for t in collateral_tiers("binance_portfolio_pro", "GALA")]
USD_TABLES = {"PRO_RANK_10"}
#: Bybit help "Assets Collateral Value Ratio List (UTA)": the BTC tiers of its example.
BYBIT_BTC: Tiers = [(0, 10, 0.98), (10, 20, 0.95), (20, 30, 0.90), (30, 40, 0.85),
                    (40, 50, 0.80), (50, None, 0.0)]
#: OKX help "Multi-currency margin mode": BTC discount tiers.
OKX_BTC: Tiers = [(0, 20, 0.98), (20, 25, 0.975), (25, 30, 0.97), (30, 50, 0.965),
                  (50, 70, 0.96), (70, 90, 0.955), (90, 110, 0.95)]
#: A USDT table with a cut for large amounts, and a flat ratio.
USDT_TIERS: Tiers = [(0, 50_000, 1.0), (50_000, None, 0.9)]
ETH_FLAT: Tiers = [(0, None, 0.9)]
#: Tables riskfuncs refuses: a gap between tiers, a first tier not from 0, a ratio above 1.
BROKEN: dict[str, Tiers] = {"GAPPED": [(0, 10, 0.9), (12, None, 0.8)],
                            "LATE_START": [(5, None, 0.9)], "OVER_ONE": [(0, None, 1.2)]}
HAIRCUTS: dict[str, Tiers] = {"BYBIT_BTC": BYBIT_BTC, "OKX_BTC": OKX_BTC,
                              "USDT_TIERS": USDT_TIERS, "ETH_FLAT": ETH_FLAT,
                              "PRO_RANK_10": PRO_RANK_10}
TIERS: dict[str, Any] = {"BTC/USDT:USDT": BTC_LINEAR, "ETH/USDT:USDT": ETH_LINEAR}


def _haircut_rows(broken: bool = False) -> pd.DataFrame:
    tables = {**HAIRCUTS, **(BROKEN if broken else {})}
    return pd.DataFrame([{"table": name, "unit": "usd" if name in USD_TABLES else "coin",
                          "min_amount": lo, "max_amount": hi, "ratio": ratio}
                         for name, rows in tables.items() for lo, hi, ratio in rows])


def _records(name: str) -> list[dict[str, Any]]:
    rows = HAIRCUTS.get(name) or BROKEN[name]
    low, high = ("minValue", "maxValue") if name in USD_TABLES else ("minAmount", "maxAmount")
    return [{low: lo, high: hi, "ratio": ratio} for lo, hi, ratio in rows]


def _position(exchange: str, symbol: str, side: str, size: float, entry: float, mark: float,
              rate: float | None = None, *, fee: float | None = None, mode: str = "cross",
              contract: str = "linear", max_leverage: float | None = None) -> dict[str, Any]:
    table = symbol if rate is None and max_leverage is None and symbol in TIERS else None
    return {"exchange": exchange, "symbol": symbol, "contract": contract, "side": side,
            "size": size, "entry_price": entry, "mark_price": mark, "collateral": 1_000.0,
            "margin_mode": mode, "leverage": None, "tier_table": table,
            "maintenance_margin_rate": rate, "maintenance_amount": None, "fee_rate": fee,
            "max_leverage": max_leverage, "stop_price": None}


def _book(rows: list[dict[str, Any]]) -> Book:
    frame = pd.DataFrame(rows)
    used = set(frame.loc[frame["tier_table"].notna(), "symbol"])
    return Book(frame, {s: tier_frame(TIERS[s]) for s in used})


def _reference_variants() -> dict[str, tuple[Book, pd.DataFrame, pd.DataFrame]]:
    okx_fee = [
        _position("okx", "BTC/USDT:USDT", "long", 1.0, 60_000, 60_000, 0.004, fee=0.0005),
        _position("okx", "ETH/USDT:USDT", "short", 100.0, 3_000, 3_000, 0.005, fee=0.0005),
        _position("bybit", "ETH/USDT:USDT", "short", 40.0, 3_000, 3_100, 0.01),
        _position("dydx", "ETH/USD:USDC", "short", 3.0, 3_000, 3_000, 0.05),
    ]
    accounts = pd.DataFrame({"exchange": ["okx", "bybit", "dydx"],
                             "mode": ["okx_multi_currency", "bybit_uta", "dydx_cross"]})
    balances = pd.DataFrame([
        {"exchange": "okx", "coin": "USDT", "amount": 20_000.0},
        {"exchange": "bybit", "coin": "BTC", "amount": 15.0, "price": 60_000.0,
         "haircut_table": "BYBIT_BTC"},
        {"exchange": "bybit", "coin": "USDT", "amount": 10_000.0},
        {"exchange": "dydx", "coin": "USDC", "amount": 1_000.0},
    ])
    discount = [_position("okx", "ETH/USDT:USDT", "short", 10.0, 3_000, 3_050, 0.01)]
    discount_balances = pd.DataFrame([
        {"exchange": "okx", "coin": "BTC", "amount": 100.0, "price": 60_000.0,
         "haircut_table": "OKX_BTC"},
        {"exchange": "okx", "coin": "USDT", "amount": 0.0},
    ])
    # Far from the mark: ETH's short crosses a maintenance tier (1M notional at 3,333.33)
    # and the USDT wallet the haircut's 50,000 boundary on the way.
    segments = [
        _position("bybit", "ETH/USDT:USDT", "short", 300.0, 3_000, 3_000),
        _position("bybit", "BTC/USDT:USDT", "long", 2.0, 60_000, 60_000),
    ]
    segment_accounts = pd.DataFrame({"exchange": ["bybit"], "mode": ["bybit_uta"]})
    segment_balances = pd.DataFrame([
        {"exchange": "bybit", "coin": "USDT", "amount": 700_000.0,
         "haircut_table": "USDT_TIERS"},
    ])
    # Binance FAQ "How to Calculate Margin in Multi-Assets Mode".
    faq = [_position("binance", "BTC/USDT:USDT", "long", 0.5, 20_000, 20_000, 0.008),
           _position("binance", "ETH/USDC:USDC", "long", 20.0, 600, 600, 0.01)]
    faq_accounts = pd.DataFrame({"exchange": ["binance"], "mode": ["binance_multi_assets"]})
    faq_balances = pd.DataFrame([
        {"exchange": "binance", "coin": "USDT", "amount": 200.0, "price": 0.99,
         "bid_buffer": 0.01, "ask_buffer": 0.005},
        {"exchange": "binance", "coin": "USDC", "amount": 220.0},
    ])
    # Settle coins away from 1 USD; an XBT symbol is BTC.
    priced = [
        _position("bybit", "ETH/USDC:USDC", "short", 20.0, 3_000, 3_050, 0.01),
        _position("bybit", "XBT/USDC:USDC", "long", 0.5, 61_000, 60_000, 0.005),
        _position("okx", "ETH/BTC:BTC", "long", 40.0, 0.052, 0.05, 0.01, fee=0.0005),
        _position("okx", "SOL/USDT:USDT", "short", 100.0, 150, 152, 0.02, fee=0.0005),
    ]
    priced_accounts = pd.DataFrame({"exchange": ["bybit", "okx"],
                                    "mode": ["bybit_uta", "okx_multi_currency"]})
    priced_balances = pd.DataFrame([
        {"exchange": "bybit", "coin": "USDC", "amount": 12_000.0, "price": 0.998},
        {"exchange": "bybit", "coin": "xbt", "amount": 0.2, "price": 60_000.0,  # BTC
         "haircut_table": "BYBIT_BTC"},
        {"exchange": "okx", "coin": "BTC", "amount": 0.3, "price": 60_000.0,
         "haircut_table": "OKX_BTC"},
        {"exchange": "okx", "coin": "USDT", "amount": 2_000.0, "price": 1.001},
    ])
    # Binance Portfolio Margin Pro tiers by USD value: on GALA (traded) and ORDI (held).
    pro = [_position("binance", "GALA/USDT:USDT", "long", 5e6, 0.05, 0.04, 0.02),
           _position("binance", "BTC/USDT:USDT", "short", 3.0, 60_000, 62_000, 0.005)]
    pro_accounts = pd.DataFrame({"exchange": ["binance"], "mode": ["binance_portfolio"]})
    pro_balances = pd.DataFrame([
        {"exchange": "binance", "coin": "GALA", "amount": 8e6, "price": 0.04,
         "haircut_table": "PRO_RANK_10"},
        {"exchange": "binance", "coin": "ORDI", "amount": 20_000.0, "price": 25.0,
         "haircut_table": "PRO_RANK_10"},
        {"exchange": "binance", "coin": "USDT", "amount": 5_000.0},
    ])
    return {
        "binance_faq": (_book(faq), faq_accounts, faq_balances),
        "settle_priced": (_book(priced), priced_accounts, priced_balances),
        "usd_tiers": (_book(pro), pro_accounts, pro_balances),
        "okx_fee": (_book(okx_fee), accounts, balances),
        "okx_discount": (_book(discount), accounts.iloc[:1], discount_balances),
        "segments": (_book(segments), segment_accounts, segment_balances),
    }


VENUE_MODES = {"bybit": "bybit_uta", "okx": "okx_multi_currency",
               "binance": "binance_portfolio", "bitget": "binance_multi_assets",
               "hyperliquid": "hyperliquid_cross", "dydx": "dydx_cross"}
PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0, "DOGE": 0.15}


def _random_variant(seed: int) -> tuple[Book, pd.DataFrame, pd.DataFrame]:
    """Linear cross positions on the listed venues, plus rows that are no member."""
    rng = np.random.default_rng(seed)
    rows = []
    for venue in VENUE_MODES:
        for _ in range(int(rng.integers(2, 7))):
            asset = str(rng.choice(list(PRICES)))
            entry = PRICES[asset] * rng.uniform(0.85, 1.15)
            mark = entry * rng.uniform(0.9, 1.1)
            size = float(np.exp(rng.uniform(np.log(2_000), np.log(4e6)))) / entry
            symbol = f"{asset}/USDT:USDT"
            rate = None if symbol in TIERS else float(rng.choice([0.004, 0.005, 0.01, 0.02]))
            max_leverage = None
            if venue == "hyperliquid" and rate is not None and rng.random() < 0.5:
                rate, max_leverage = None, float(rng.choice([20, 40, 50]))
            fee = float(rng.choice([0.0002, 0.0005])) if rng.random() < 0.6 else None
            rows.append(_position(venue, symbol, str(rng.choice(["long", "short"])), size,
                                  entry, mark, rate, fee=fee, max_leverage=max_leverage))
    # Not members: an isolated row, and cross rows of an exchange with no account.
    rows.append(_position("bybit", "BTC/USDT:USDT", "long", 1.0, 60_000, 59_000, mode="isolated"))
    rows.append(_position("gate", "ETH/USDT:USDT", "short", 5.0, 3_000, 3_100, 0.01))
    order = rng.permutation(len(rows))
    book = _book([rows[i] for i in order])
    accounts = pd.DataFrame({"exchange": list(VENUE_MODES), "mode": list(VENUE_MODES.values())})
    balances = []
    for venue, mode in VENUE_MODES.items():
        gross = sum(r["size"] * r["mark_price"] for r in rows if r["exchange"] == venue)

        def buffers(mode: str = mode) -> dict[str, float]:
            if mode != "binance_multi_assets":
                return {}
            return {"bid_buffer": float(rng.choice([0.0, 0.002, 0.01])),
                    "ask_buffer": float(rng.choice([0.0, 0.003, 0.005]))}

        balances.append({"exchange": venue, "coin": "USDT",
                         "amount": gross * rng.uniform(0.02, 0.4),
                         "haircut_table": "USDT_TIERS" if rng.random() < 0.5 else None,
                         "price": 0.9995 if venue in ("binance", "bitget") else None,
                         **buffers()})
        if rng.random() < 0.7:
            tables = ["BYBIT_BTC", "OKX_BTC", "PRO_RANK_10"]
            balances.append({"exchange": venue, "coin": "BTC",
                             "amount": float(rng.uniform(-3, 60)),
                             "haircut_table": str(rng.choice(tables)),
                             "price": PRICES["BTC"] * rng.uniform(0.98, 1.02), **buffers()})
        if rng.random() < 0.5:
            balances.append({"exchange": venue, "coin": "ETH",
                             "amount": float(rng.uniform(-20, 40)),
                             "haircut_table": str(rng.choice(["ETH_FLAT", "PRO_RANK_10"])),
                             **buffers()})
    balances_frame = pd.DataFrame(balances)
    # A coin without a price and no position on it cannot be valued: price it.
    for i, b in balances_frame.iterrows():
        traded = any(r["exchange"] == b["exchange"] and r["symbol"].startswith(b["coin"] + "/")
                     for r in rows)
        if b["coin"] == "ETH" and not traded:
            balances_frame.loc[i, "price"] = PRICES["ETH"]
    return book, accounts, balances_frame


def _problem_variant() -> tuple[Book, pd.DataFrame, pd.DataFrame]:
    rows = [
        _position("bybit", "BTC/USDT:USDT", "long", 1.0, 60_000, 60_000, 0.005),
        _position("okx", "ETH/USDT:USDT", "long", 1.0, 3_000, 3_000, 0.005),
        _position("binance", "ETH/USDT:USDT", "long", 1.0, 3_000, 3_000, 0.005),
        _position("gate", "BTC/USD:BTC", "long", 1_000.0, 60_000, 60_000, 0.005,
                  contract="inverse"),
        _position("hyperliquid", "BTC/USDT:USDT", "long", 1.0, 60_000, 60_000, 0.005),
        _position("hyperliquid", "BTC/USDC:USDC", "short", 0.5, 60_000, 60_000, 0.005),
        _position("dydx", "SOL/USD:USDC", "long", 10.0, 150, 150, None),  # MMR missing
        _position("bitget", "BTC/USDT:USDT", "long", 1.0, 60_000, 60_000, 0.005),
    ]
    accounts = pd.DataFrame({
        "exchange": ["bybit", "okx", "binance", "gate", "hyperliquid", "dydx", "bitget",
                     "kucoin"],
        "mode": ["bybit_uta", None, "binance_multi_assets", "bybit_uta", "hyperliquid_cross",
                 "dydx_cross", "bybit_uta", "bybit_uta"]})
    balances = pd.DataFrame([
        {"exchange": "bybit", "coin": "XRP", "amount": 100.0},  # no price, no position
        {"exchange": "bybit", "coin": "USDT", "amount": 1_000.0, "haircut_table": "NOPE"},
        {"exchange": "hyperliquid", "coin": "USDC", "amount": 5_000.0},
        {"exchange": "dydx", "coin": "USDC", "amount": 5_000.0},
        {"exchange": "mexc", "coin": "USDT", "amount": 1.0},
        {"exchange": "bitget", "coin": "USDT", "amount": None},
        {"exchange": "bitget", "coin": "USDT", "amount": 5.0},
        *({"exchange": "kucoin", "coin": coin, "amount": 1.0, "price": 10.0,
           "haircut_table": name} for coin, name in zip(("BTC", "ETH", "SOL"), BROKEN,
                                                        strict=True)),
        # Buffers outside Multi-Assets, and out of range.
        {"exchange": "dydx", "coin": "USDT", "amount": 1.0, "bid_buffer": 0.01},
        {"exchange": "binance", "coin": "USDT", "amount": 1_000.0, "bid_buffer": 1.0,
         "ask_buffer": 0.005},
        {"exchange": "binance", "coin": "USDC", "amount": 1_000.0, "ask_buffer": 0.005},
    ])
    return _book(rows), accounts, balances


def _extra(accounts: pd.DataFrame, balances: pd.DataFrame, broken: bool = False) -> Extra:
    return Extra({("accounts", "unified_accounts"): accounts, ("accounts", "balances"): balances,
                  ("accounts", "haircuts"): _haircut_rows(broken)}, {})


RANDOM_SEEDS = (11, 12, 13, 14)


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Book, pd.DataFrame,
                                                                        pd.DataFrame]]:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("accounts")
    builder.build_all(work / "blank")
    template = work / "blank" / layout.TEMPLATES["credit-risk-assessment"].filename
    variants = {**_reference_variants(),
                **{f"random_{s}": _random_variant(s) for s in RANDOM_SEEDS},
                "problems": _problem_variant()}
    prepared = []
    for name, (book, accounts, balances) in variants.items():
        path = work / f"{name}.xlsx"
        fill(template, path, book, _extra(accounts, balances, broken=name == "problems"))
        prepared.append((name, path, book, accounts, balances))
    blank = work / "blank_copy.xlsx"
    shutil.copyfile(template, blank)
    prepared.append(("blank", blank, Book(pd.DataFrame(), {}), pd.DataFrame(), pd.DataFrame()))
    outputs = recalc.recalculate([p for _, p, *_ in prepared], work / "out")
    return {name: (load_workbook(out, data_only=True)[SHEET.title], book, accounts, balances)
            for (name, _, book, accounts, balances), out in zip(prepared, outputs, strict=True)}


# --------------------------------------------------------------------------------------------
# Expected values

def _members(book: Book, exchange: str) -> pd.DataFrame:
    p = book.positions
    return p[(p["exchange"] == exchange) & (p["margin_mode"] == "cross")]


def _inputs(book: Book, exchange: str, balances: pd.DataFrame) -> tuple[Any, ...]:
    """riskfuncs.accounts' arguments for one account: book, balances, prices, haircuts, bid
    and ask buffers."""
    rows = _members(book, exchange)
    rate = rows["maintenance_margin_rate"].astype(float)
    hyper = rows["max_leverage"].notna() & rate.isna() & rows["tier_table"].isna()
    rate = rate.where(~hyper, 1 / (2 * rows["max_leverage"].astype(float)))
    frame = pd.DataFrame({
        "symbol": rows["symbol"], "side": rows["side"], "contracts": rows["size"].astype(float),
        "entryPrice": rows["entry_price"].astype(float),
        "markPrice": rows["mark_price"].astype(float), "maintenanceMarginRate": rate,
        "maintenanceAmount": rows["maintenance_amount"].astype(float),
        "feeRate": rows["fee_rate"].astype(float),
    })
    mine = balances[balances["exchange"] == exchange]
    prices = {r["coin"]: float(r["price"]) for _, r in mine.iterrows()
              if "price" in r and not pd.isna(r["price"])}
    tables = {r["coin"]: _records(r["haircut_table"]) for _, r in mine.iterrows()
              if "haircut_table" in r and isinstance(r["haircut_table"], str)}
    coins = dict(zip(mine["coin"], mine["amount"].astype(float), strict=True))

    def buffer(record: Any, key: str) -> float:
        value = record.get(key)
        return 0.0 if value is None or pd.isna(value) else float(value)

    buffers = {r["coin"]: (buffer(r, "bid_buffer"), buffer(r, "ask_buffer"))
               for r in mine.to_dict("records")}
    return frame, coins, prices, tables, buffers


def _expected(book: Book, exchange: str, mode: str, balances: pd.DataFrame) -> Any:
    """account_margin on the sheet's inputs; Binance Multi-Assets with its buffers (a blank
    one is 0), as the sheet always reads that mode."""
    frame, coins, prices, tables, buffers = _inputs(book, exchange, balances)
    return account_margin(frame, coins, mode=mode,  # type: ignore[arg-type]
                          prices=prices, collateral_tiers=tables, tiers=book.tiers,
                          conversion_buffers=buffers if mode == "binance_multi_assets"
                          else None)


def _cell(ws: Any, table: layout.Table, i: int, key: str) -> Any:
    """A recalculated cell; an empty text reads back as None, and is "" here."""
    value = ws.cell(table.first_row + i, table.column_index(key)).value
    return "" if value is None else value


def _close(found: Any, expected: float, rel: float = REL, abs_: float = 0.0) -> bool:
    if isinstance(found, bool) or not isinstance(found, int | float):
        return False
    return math.isclose(float(found), expected, rel_tol=rel, abs_tol=abs_)


def _check_account(ws: Any, book: Book, accounts: pd.DataFrame, balances: pd.DataFrame,
                   i: int) -> int:
    """Compare account row i, its balance rows and its position rows; returns cells checked."""
    exchange, mode = accounts["exchange"].iloc[i], accounts["mode"].iloc[i]
    state = _expected(book, exchange, mode, balances)
    m = MODES[mode]
    k = m.trigger if m.convention == "equity/requirement" else (
        1.0 if m.convention == "equity-requirement" else 1.0 / m.trigger)
    assert _cell(ws, UA, i, "problem") == ""
    assert _cell(ws, UA, i, "ratio_name") == m.ratio_name
    assert _close(_cell(ws, UA, i, "equity"), state.equity), (exchange, "equity")
    assert _close(_cell(ws, UA, i, "requirement"), state.requirement), (exchange, "requirement")
    ratio = _cell(ws, UA, i, "ratio")
    if math.isinf(state.ratio):
        assert isinstance(ratio, str)
    else:
        scale = abs(state.equity) if m.convention == "equity-requirement" else 0.0
        assert _close(ratio, state.ratio, abs_=REL * scale), (exchange, ratio, state.ratio)
    assert _close(_cell(ws, UA, i, "trigger"), state.trigger)
    assert _cell(ws, UA, i, "liquidated") == ("yes" if state.liquidated else "no")
    left = state.equity - k * state.requirement
    assert _close(_cell(ws, UA, i, "margin_left"), left, abs_=REL * abs(state.equity))
    use = k * state.requirement / state.equity if state.equity > 0 else None
    if use is not None:
        assert _close(_cell(ws, UA, i, "use"), use)
        level = "red" if state.liquidated or use >= layout.ACCOUNT_USE_RED else (
            "amber" if use >= layout.ACCOUNT_USE_AMBER else "green")
        assert _cell(ws, UA, i, "level") == level
    checked = 8
    for j in range(len(balances)):
        if balances["exchange"].iloc[j] != exchange:
            continue
        coin = balances["coin"].iloc[j]
        row = state.coins.loc[coin_name(coin)]
        for key, expected in (("price_used", row["price"]), ("pnl", row["unrealized_pnl"]),
                              ("equity", row["equity"]), ("value", row["value"])):
            scale = abs(row["balance"]) * row["price"] + abs(row["value"]) + 1.0
            assert _close(_cell(ws, BAL, j, key), float(expected), abs_=REL * scale), \
                (exchange, coin, key, _cell(ws, BAL, j, key), expected)
            checked += 1
        assert _cell(ws, BAL, j, "problem") == ""
        price = _cell(ws, BAL, j, "liquidation_price")
        wanted = row["account_liquidation_price"]
        if wanted in (0.0, np.inf):
            assert price == NEVER_LIQUIDATED, (exchange, coin, price, wanted)
        else:
            assert _close(price, wanted), (exchange, coin, price, wanted)
        checked += 1
    members = _members(book, exchange)
    for n, (row_index, expected_row) in enumerate(zip(members.index, state.positions.itertuples(),
                                                      strict=True)):
        r = int(row_index)
        assert _cell(ws, ACP, r, "exchange") == exchange
        assert _cell(ws, ACP, r, "asset") == expected_row.asset
        assert _cell(ws, ACP, r, "settle") == expected_row.settle
        assert _close(_cell(ws, ACP, r, "maintenance"), expected_row.maintenance_margin)
        assert _close(_cell(ws, ACP, r, "pnl"), expected_row.unrealized_pnl,
                      abs_=REL * expected_row.notional_usd)
        assert _close(_cell(ws, ACP, r, "liquidation_fee"), expected_row.liquidation_fee,
                      abs_=1e-12)
        price = _cell(ws, ACP, r, "liquidation_price")
        wanted = expected_row.account_liquidation_price
        if wanted in (0.0, np.inf):
            assert price == NEVER_LIQUIDATED, (exchange, expected_row.symbol, price)
        else:
            assert _close(price, wanted), (exchange, expected_row.symbol, price, wanted)
            assert _close(_cell(ws, ACP, r, "move"),
                          wanted / members["mark_price"].iloc[n] - 1, abs_=1e-12)
        assert _cell(ws, ACP, r, "problem") == ""
        checked += 5
    return checked


def _no_errors(ws: Any) -> None:
    for row in ws.iter_rows(min_row=1, max_row=ACP.last_row):
        for cell in row:
            if isinstance(cell.value, str):
                assert not cell.value.startswith(ERRORS), (cell.coordinate, cell.value)


# --------------------------------------------------------------------------------------------
# The venues' published examples

def test_okx_fee_example_and_bybit_and_dydx(sheets: dict[str, Any]) -> None:
    ws, book, accounts, balances = sheets["okx_fee"]
    _no_errors(ws)
    # OKX: BTC's account liquidation price 41,650 / 0.9955 = 41,838.27, ratio 20,000 / 1,920.
    assert _close(_cell(ws, ACP, 0, "liquidation_price"), 41_650 / 0.9955, rel=1e-12)
    assert _close(_cell(ws, UA, 0, "ratio"), 20_000 / (240 + 1500 + 30 + 150), rel=1e-12)
    # Bybit UTA: 15 BTC after the tiers (873,000) and 10,000 USDT less the short's 4,000 loss.
    assert _close(_cell(ws, UA, 1, "equity"), 879_000, rel=1e-12)
    assert _close(_cell(ws, UA, 1, "requirement"), 1_240, rel=1e-12)
    assert _close(_cell(ws, BAL, 1, "value"), 873_000, rel=1e-12)
    # dYdX Chain: p' = 10,000 / 3.15.
    assert _close(_cell(ws, ACP, 3, "liquidation_price"), 10_000 / 3.15, rel=1e-12)
    assert sum(_check_account(ws, book, accounts, balances, i) for i in range(3)) > 30


def test_binance_multi_assets_faq_example(sheets: dict[str, Any]) -> None:
    ws, book, accounts, balances = sheets["binance_faq"]
    _no_errors(ws)
    # 200 USDT at the bid rate 0.99 x 0.99 = 0.9801 plus 220 USDC; the BTCUSDT maintenance
    # (80 USDT) at the ask rate 0.99 x 1.005 = 0.99495 plus ETHUSDC's 120 USDC.
    assert _close(_cell(ws, UA, 0, "equity"), 200 * 0.9801 + 220, rel=1e-12)
    assert _close(_cell(ws, UA, 0, "requirement"), 80 * 0.99495 + 120, rel=1e-12)
    assert round(_cell(ws, UA, 0, "ratio"), 4) == 0.4798
    assert _close(_cell(ws, ACP, 0, "maintenance"), 80 * 0.99495, rel=1e-12)
    assert _check_account(ws, book, accounts, balances, 0) > 15


def test_settle_coins_priced_away_from_one(sheets: dict[str, Any]) -> None:
    """The requirement counts each maintenance margin in USD at its settle coin's price:
    USDC at 0.998, BTC at 60,000 for an ETH/BTC book; XBT/USDC is BTC's."""
    ws, book, accounts, balances = sheets["settle_priced"]
    _no_errors(ws)
    bybit = (20 * 3_050 * 0.01 + 0.5 * 60_000 * 0.005) * 0.998
    assert _close(_cell(ws, UA, 0, "requirement"), bybit, rel=1e-12)
    okx = 40 * 0.05 * (0.01 + 0.0005) * 60_000 + 100 * 152 * (0.02 + 0.0005) * 1.001
    assert _close(_cell(ws, UA, 1, "requirement"), okx, rel=1e-12)
    assert (_cell(ws, ACP, 1, "asset"), _cell(ws, ACP, 1, "settle")) == ("BTC", "USDC")
    assert _cell(ws, ACP, 2, "settle") == "BTC"
    # The XBT position moves with the BTC balance: one account liquidation price for both.
    assert _cell(ws, BAL, 1, "liquidation_price") == _cell(ws, ACP, 1, "liquidation_price")
    assert sum(_check_account(ws, book, accounts, balances, i) for i in range(2)) > 30


def test_usd_value_haircut_tiers(sheets: dict[str, Any]) -> None:
    """Binance Portfolio Margin Pro's tiers by USD value: 20,000 ORDI at 25 (500,000 USD) is
    50,000 + 40,000 + 50,000 + 40,000 + 10,000 = 190,000 after the rank-10 tiers."""
    ws, book, accounts, balances = sheets["usd_tiers"]
    _no_errors(ws)
    assert _close(_cell(ws, BAL, 1, "value"), 190_000, rel=1e-12)
    assert collateral_value(20_000, 25, _records("PRO_RANK_10")) == pytest.approx(190_000)
    assert _check_account(ws, book, accounts, balances, 0) > 15
    # GALA's price crosses three USD tiers of its own balance (200,000, 100,000 and 50,000 USD)
    # on the way to liquidation.
    gala = _cell(ws, ACP, 0, "liquidation_price")
    assert 8e6 * gala < 50_000 and 8e6 * 0.04 > 200_000


def test_okx_tiered_discount_example(sheets: dict[str, Any]) -> None:
    ws, book, accounts, balances = sheets["okx_discount"]
    _no_errors(ws)
    assert _close(_cell(ws, BAL, 0, "value"), 5_785_500, rel=1e-12)
    # No BTC position: BTC's price liquidates the account where 96.425 BTC after the discount
    # (5,785,500 / 60,000) cover the ETH short's 305 maintenance and its 500 loss in USDT.
    assert _close(_cell(ws, BAL, 0, "liquidation_price"), 805 / (5_785_500 / 60_000), rel=1e-12)
    assert collateral_value(100, 60_000, _records("OKX_BTC")) == pytest.approx(5_785_500)
    _check_account(ws, book, accounts, balances, 0)


def test_the_price_is_exact_across_tier_and_haircut_breakpoints(sheets: dict[str, Any]) -> None:
    ws, book, accounts, balances = sheets["segments"]
    _no_errors(ws)
    _check_account(ws, book, accounts, balances, 0)
    path = [_cell(ws, ACP, 0, f"p_{n}") for n in range(layout.ACCOUNT_STEPS + 1)]
    # Newton walked through several segments before it repeated the root.
    assert len({round(p, 6) for p in path}) >= 3, path
    eth = _cell(ws, ACP, 0, "liquidation_price")
    assert 300 * eth > 1_000_000 and 700_000 - 300 * (eth - 3_000) < 50_000


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_accounts_agree_with_riskfuncs(sheets: dict[str, Any], seed: int) -> None:
    ws, book, accounts, balances = sheets[f"random_{seed}"]
    _no_errors(ws)
    checked = sum(_check_account(ws, book, accounts, balances, i) for i in range(len(accounts)))
    assert checked > 60
    # Rows that are no member stay blank.
    p = book.positions
    outside = p.index[(p["margin_mode"] != "cross") | ~p["exchange"].isin(list(VENUE_MODES))]
    assert len(outside) == 2
    for r in outside:
        assert _cell(ws, ACP, int(r), "exchange") == ""
        assert _cell(ws, ACP, int(r), "liquidation_price") == ""


# --------------------------------------------------------------------------------------------
# Problems are shown, never a figure

def test_problems_show_instead_of_figures(sheets: dict[str, Any]) -> None:
    ws, book, accounts, balances = sheets["problems"]
    _no_errors(ws)
    expected = {
        "bybit": layout.PROBLEM_BALANCES, "okx": layout.PROBLEM_MODE_MISSING,
        "binance": layout.PROBLEM_BALANCES, "gate": layout.PROBLEM_INVERSE,
        "hyperliquid": "", "dydx": layout.PROBLEM_ACCOUNT, "bitget": layout.PROBLEM_BALANCES,
        "kucoin": layout.PROBLEM_NO_POSITIONS,
    }
    for i, exchange in enumerate(accounts["exchange"]):
        problem = _cell(ws, UA, i, "problem")
        assert problem == expected[exchange], (exchange, problem)
        if problem:
            for key in ("equity", "requirement", "ratio", "margin_left", "liquidated"):
                assert _cell(ws, UA, i, key) == problem, (exchange, key)
            assert _cell(ws, UA, i, "level") == "amber"
    bal = [_cell(ws, BAL, j, "problem") for j in range(len(balances))]
    assert bal == [layout.PROBLEM_PRICE_MISSING, layout.PROBLEM_HAIRCUT_MISSING, "", "",
                   layout.PROBLEM_ACCOUNT_NOT_LISTED, layout.PROBLEM_AMOUNT_MISSING,
                   layout.PROBLEM_COIN_TWICE, *[layout.PROBLEM_HAIRCUT_BROKEN] * 3,
                   layout.PROBLEM_BUFFER_MODE, layout.PROBLEM_BUFFER_RANGE, ""]
    for name in BROKEN:  # riskfuncs refuses each of them too
        with pytest.raises(RiskInputError):
            collateral_value(1.0, 10.0, _records(name))
    assert _cell(ws, BAL, 0, "value") == layout.PROBLEM_PRICE_MISSING
    # Per position: its account's problem, or the asset's (BTC settled in USDT and USDC).
    prices = [_cell(ws, ACP, r, "liquidation_price") for r in range(len(book.positions))]
    assert prices[0] == layout.PROBLEM_BALANCES
    assert prices[2] == layout.PROBLEM_BALANCES
    assert prices[4] == prices[5] == layout.PROBLEM_SETTLE_COINS
    assert prices[6] == layout.PROBLEM_ACCOUNT
    assert _cell(ws, ACP, 6, "maintenance") == layout.PROBLEM_MMR_MISSING
    assert _cell(ws, ACP, 4, "problem") == layout.PROBLEM_SETTLE_COINS
    # Hyperliquid's account itself is fine: its figures are numbers.
    assert isinstance(_cell(ws, UA, 4, "equity"), int | float)
    assert ws[SHEET.field_cell("accounts")].value == len(accounts)


def test_blank_template_shows_nothing(sheets: dict[str, Any]) -> None:
    ws = sheets["blank"][0]
    _no_errors(ws)
    for table in (UA, BAL, ACP):
        for col in table.formulas():
            for i in range(table.rows):
                assert _cell(ws, table, i, col.key) in ("", None, 0), (table.key, col.key, i)
    assert ws[SHEET.field_cell("accounts")].value == 0
    # The haircut tables start as riskfuncs' stored ones (coin tiers, and Binance Portfolio
    # Margin Pro's by USD value).
    stored = collateral_tables()
    stored = stored[stored["venue"].isin(HAIRCUT_VENUES)]
    assert set(stored["unit"]) == {"coin", "usd"}
    keys = ("table", "unit", "min_amount", "max_amount", "ratio")
    rows = [tuple(_cell(ws, HC, i, k) for k in keys) for i in range(len(stored))]
    assert rows == [(haircut_name(v, c), u, lo, "" if math.isnan(hi) else hi, r)
                    for v, c, u, lo, hi, r in stored[["venue", "coin", "unit", "lower", "upper",
                                                      "ratio"]].itertuples(index=False)]
    assert _cell(ws, HC, len(stored), "table") == ""



def test_print_area_of_a_filled_book(tmp_path: Any) -> None:
    """fit_print_areas: no account listed prints the heading and the empty accounts table (the
    demo's page count); a listed account prints the filled rows of each table (the starting
    haircut tables with the ones written here) and one row per position."""
    template = builder.write_template(layout.TEMPLATES["credit-risk-assessment"],
                                      tmp_path / "full.xlsx")
    book, accounts, balances = _reference_variants()["okx_fee"]
    areas = {}
    for name, extra in (("none", Extra({}, {})), ("listed", _extra(accounts, balances))):
        fill(template, tmp_path / f"{name}.xlsx", book, extra)
        wb = load_workbook(tmp_path / f"{name}.xlsx")
        builder.fit_print_areas(wb)
        areas[name] = str(wb[SHEET.title].print_area).replace(f"'{SHEET.title}'!", "")
    assert areas["none"] == f"$A$1:$M${UA.header_row + 1}"
    spans = [(1, UA.header_row + len(accounts)),
             (BAL.header_row - 1, BAL.header_row + len(balances)),
             (HC.header_row - 1, HC.header_row + len(_haircut_rows())),
             (ACP.header_row - 1, ACP.header_row + len(book.positions))]
    assert areas["listed"] == ",".join(f"$A${a}:$M${b}" for a, b in spans)

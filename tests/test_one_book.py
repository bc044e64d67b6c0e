"""One mixed book through every surface gives the same figures.

Venues named as traders and ccxt name them (``binanceusdm``, ``gate.io``, ``okx``, ``kraken``
valued with Binance's rule), linear and inverse, isolated and a cross account of two rows, a
tier table, fees where the venue counts them and Hyperliquid's margin from its max leverage:
the library (``riskfuncs``), the ``PERP_PORTFOLIO`` cell through the Calc host's xlwings
conversion, the report of the filled workbook, and the workbook itself recalculated in
LibreOffice agree on every liquidation price, the stress losses, the exposure per venue and the
discipline checks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from addin.calc import host
from addin.fill.writer import fill_workbook
from addin.reader.exchange_data import PositionInput
from addin.report.pipeline import assess_file
from addin.workbook import layout, recalc
from riskfuncs.counterparty import exposure_by_exchange
from riskfuncs.discipline import discipline_report
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.scenarios import scenario_library
from riskfuncs.stress import stress_test

REL = 1e-9

#: Binance BTCUSDT brackets (floor, MMR, cum), as in the workbook tests.
BTC_TIERS = [
    {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004,
     "maintenanceAmount": 0, "maxLeverage": 125},
    {"minNotional": 50_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.005,
     "maintenanceAmount": 50, "maxLeverage": 100},
    {"minNotional": 600_000, "maxNotional": 3_000_000, "maintenanceMarginRate": 0.0065,
     "maintenanceAmount": 950, "maxLeverage": 75},
]

#: (workbook inputs in layout keys) one row per position.
ROWS: list[dict[str, Any]] = [
    {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "side": "long", "size": 2.0,
     "entry_price": 60_000.0, "mark_price": 61_500.0, "collateral": 14_000.0,
     "margin_mode": "isolated", "leverage": 10.0, "tier_table": "BTC/USDT:USDT",
     "stop_price": 55_000.0},
    {"exchange": "binance", "symbol": "ETH/USDT:USDT", "side": "short", "size": 30.0,
     "entry_price": 3_000.0, "mark_price": 3_100.0, "collateral": 25_000.0,
     "margin_mode": "cross", "maintenance_margin_rate": 0.005, "fee_rate": 0.0004},
    {"exchange": "binance", "symbol": "SOL/USDT:USDT", "side": "long", "size": 400.0,
     "entry_price": 150.0, "mark_price": 140.0, "collateral": 25_000.0,
     "margin_mode": "cross", "maintenance_margin_rate": 0.01, "fee_rate": 0.0004,
     "stop_price": 120.0},
    {"exchange": "okx", "symbol": "BTC/USD:BTC", "side": "long", "contract": "inverse",
     "size": 50_000.0, "entry_price": 60_500.0, "mark_price": 61_500.0, "collateral": 0.3,
     "margin_mode": "isolated", "maintenance_margin_rate": 0.005, "fee_rate": 0.0005},
    {"exchange": "bybit", "symbol": "ETH/USDT:USDT", "side": "short", "size": 10.0,
     "entry_price": 3_050.0, "mark_price": 3_100.0, "collateral": 3_000.0,
     "margin_mode": "isolated", "maintenance_margin_rate": 0.005, "fee_rate": 0.00055,
     "stop_price": 3_400.0},
    {"exchange": "gate.io", "symbol": "DOGE/USDT:USDT", "side": "long", "size": 100_000.0,
     "entry_price": 0.16, "mark_price": 0.1588, "collateral": 2_000.0,
     "margin_mode": "isolated", "maintenance_margin_rate": 0.01, "fee_rate": 0.00075},
    {"exchange": "hyperliquid", "symbol": "ETH/USDC:USDC", "side": "long", "size": 5.0,
     "entry_price": 3_000.0, "mark_price": 3_100.0, "collateral": 2_000.0,
     "margin_mode": "isolated", "max_leverage": 50.0},
    {"exchange": "kraken", "symbol": "BTC/USD:USD", "side": "short", "size": 0.5,
     "entry_price": 61_000.0, "mark_price": 61_500.0, "collateral": 5_000.0,
     "margin_mode": "isolated", "maintenance_margin_rate": 0.004},
]

CCXT = {"exchange": "exchange", "symbol": "symbol", "side": "side", "size": "contracts",
        "entry_price": "entryPrice", "mark_price": "markPrice", "collateral": "collateral",
        "margin_mode": "marginMode", "contract": "contractType", "leverage": "leverage",
        "maintenance_margin_rate": "maintenanceMarginRate", "fee_rate": "feeRate",
        "max_leverage": "maxLeverage", "stop_price": "stopLossPrice"}


def book() -> pd.DataFrame:
    """The book in ccxt Position columns, as a trader's script passes it to riskfuncs."""
    frame = pd.DataFrame([{CCXT[k]: v for k, v in row.items() if k in CCXT} for row in ROWS])
    frame["contractType"] = frame["contractType"].fillna("linear")
    return frame


TIERS = {("binanceusdm", "BTC/USDT:USDT"): pd.DataFrame(BTC_TIERS).astype(float)}


@pytest.fixture(scope="module")
def library() -> pd.DataFrame:
    return portfolio_margin(book(), tiers=TIERS)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = layout.TEMPLATES["credit-risk-assessment"]
    wb = fill_workbook(template, [PositionInput(dict(row)) for row in ROWS],
                       {"BTC/USDT:USDT": BTC_TIERS})
    path = tmp_path_factory.mktemp("one-book") / "book.xlsx"
    wb.save(path)
    return path


def _close(got: Any, expected: float) -> bool:
    if math.isinf(expected) or expected == 0.0:
        return got in ("never", "reached", 0, 0.0, math.inf) or got == expected
    return isinstance(got, float) and math.isclose(got, expected, rel_tol=REL)


def test_the_cell_gives_the_library_figures(library: pd.DataFrame) -> None:
    frame = book()
    rows = [tuple("" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in frame.itertuples(index=False)]
    positions = (tuple(frame.columns), *rows)
    tiers = pd.DataFrame(BTC_TIERS)
    tier_grid = (("exchange", "symbol", *tiers.columns),
                 *(("binanceusdm", "BTC/USDT:USDT", *row) for row in tiers.itertuples(index=False)))
    grid = host.call("PERP_PORTFOLIO", [positions, tier_grid])
    header = list(grid[0])
    prices = [row[header.index("liquidation_price")] for row in grid[1:]]
    assert len(prices) == len(ROWS)
    for got, expected in zip(prices, library["liquidation_price"], strict=True):
        assert _close(got, float(expected)), (got, expected)


def test_the_report_gives_the_library_figures(filled: Path, library: pd.DataFrame) -> None:
    report = assess_file(filled).assessment
    assert report is not None
    first = layout.POSITIONS.table("positions").first_row
    by_row = {r.row: r for r in report.positions}
    for i, expected in enumerate(library["liquidation_price"]):
        assert _close(by_row[first + i].liquidation_price, float(expected)), i
    # Rules: the aliases take their venue's rule, Kraken Binance's.
    assert list(library["rule"]) == ["binance", "binance", "binance", "okx", "bybit", "gate",
                                     "hyperliquid", "binance"]
    # Stress: the same library scenarios, the same losses.
    stress = stress_test(book(), list(scenario_library()), tiers=TIERS).by_scenario
    compared = [s for s in report.scenarios if s.name in stress.index]
    assert len(compared) >= 10  # the library's events (the sheet adds its SPAN scan rows)
    for scenario in compared:
        expected_loss = float(np.asarray(stress.loc[scenario.name, "loss"]))
        assert math.isclose(scenario.loss, expected_loss, rel_tol=REL, abs_tol=1e-6), scenario.name
        assert scenario.positions_liquidated == stress.loc[scenario.name, "positions_liquidated"]
    # Discipline: the leverage and stop-loss checks per position are discipline_report's
    # (the margin-buffer check is the report's own, at the leverage cap).
    checks = discipline_report(book(), tiers=TIERS)
    for name in ("leverage", "stop_loss"):
        mine = [(c.scope, c.passed) for c in report.audit if c.check == name]
        theirs = [(str(r.scope), bool(r.passed)) for r in checks.itertuples() if r.check == name]
        assert mine == theirs and mine, name
    # Exposure per venue, as the counterparty functions give it.
    exposures = exposure_by_exchange(book())
    assert report.counterparty is not None
    assert {e.exchange: e.exposure for e in report.counterparty.exchanges} == pytest.approx(
        exposures.to_dict(), rel=REL)


@pytest.mark.libreoffice
def test_the_workbook_gives_the_library_figures(filled: Path, library: pd.DataFrame,
                                                tmp_path: Path) -> None:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    out = recalc.recalculate([filled], tmp_path)[0]
    wb = load_workbook(out, data_only=True)
    ws = wb[layout.POSITIONS.title]
    table = layout.POSITIONS.table("positions")

    def column(key: str) -> list[Any]:
        letter = table.column_letter(key)
        return [ws[f"{letter}{table.first_row + i}"].value for i in range(len(ROWS))]

    for i, (got, expected) in enumerate(zip(column("liquidation_price"),
                                            library["liquidation_price"], strict=True)):
        assert _close(got, float(expected)), (i, got, expected)
    assert column("rule") == list(library["rule"])
    for key, source in (("maintenance_margin", "maintenance_margin"),
                        ("margin_balance", "margin_balance")):
        np.testing.assert_allclose(np.asarray(column(key), dtype=float),
                                   library[source].to_numpy(dtype=float), rtol=REL)
    # The stress sheet's worst case is the library's.
    stress = stress_test(book(), list(scenario_library()), tiers=TIERS)
    worst = stress.worst.iloc[0]
    names = {f.key: f.name for f in layout.STRESS.fields}
    ref = wb.defined_names[names["worst_loss"]].attr_text.split("!")
    got = wb[ref[0].strip("'")][ref[1].replace("$", "")].value
    assert math.isclose(got, float(worst["loss"]), rel_tol=REL)

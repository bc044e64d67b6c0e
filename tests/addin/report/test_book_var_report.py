"""The report's book VaR: the demo's figures against an independent computation from the
sample files, against the workbook's own Prices sheet recalculated by LibreOffice, and a book
with an asset that has no price history (named, never counted as riskless)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from scipy import stats

from addin._resources import templates_dir
from addin.fill import writer
from addin.reader import exchange_data as data
from addin.reader import read_filled_workbook
from addin.report import render
from addin.report.pipeline import assess_book
from addin.workbook import layout, recalc
from tests.addin.report.workbooks import sample_book

SAMPLE = templates_dir() / "sample"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    path = sample_book(tmp_path_factory.mktemp("book") / "demo.xlsx")
    book = read_filled_workbook(path)
    assert book.ok, book.problems
    return path, assess_book(book)


def _sample_pnl() -> tuple[pd.Series, float]:
    """The demo book's daily P&L computed here from the sample files alone: closes by symbol
    from ohlcv.json, USD exposures from positions.json (linear: contracts x size x mark;
    inverse: contracts x size USD), long +, short -."""
    bars = json.loads((SAMPLE / "ohlcv.json").read_text())
    closes = pd.DataFrame({s.split("/")[0]: [b[4] for b in rows] for s, rows in bars.items()})
    returns = (closes / closes.shift(1) - 1).iloc[1:]
    positions = json.loads((SAMPLE / "positions.json").read_text())["positions"]
    pnl = pd.Series(0.0, index=returns.index)
    gross = 0.0
    for p in positions:
        quantity = p["contracts"] * p["contractSize"]
        value = quantity if p["symbol"].endswith(":BTC") else quantity * p["markPrice"]
        gross += value
        pnl += (value if p["side"] == "long" else -value) * returns[p["symbol"].split("/")[0]]
    return pnl, gross


def test_demo_book_var_from_the_sample_files(demo: tuple[Path, Any]) -> None:
    """Historical VaR and ES from numpy.percentile (linear) and a tail mean; normal VaR and ES
    from scipy.stats.norm with the P&L's mean and standard deviation (ddof 1). 1e-9 relative:
    the same arithmetic in another order."""
    _, assessment = demo
    b = assessment.book_risk
    pnl, gross = _sample_pnl()
    q = float(np.percentile(pnl, 1))
    assert b.historical_var == pytest.approx(-q, rel=1e-9)
    assert b.historical_es == pytest.approx(-float(pnl[pnl <= q].mean()), rel=1e-9)
    mean, sd = float(pnl.mean()), float(pnl.std(ddof=1))
    assert b.normal_var == pytest.approx(-stats.norm.ppf(0.01, mean, sd), rel=1e-9)
    es = -mean + sd * stats.norm.pdf(stats.norm.ppf(0.99)) / 0.01
    assert b.normal_es == pytest.approx(es, rel=1e-9)
    assert b.observations == len(pnl) == 119
    assert b.book_value == pytest.approx(gross) and b.coverage == pytest.approx(1.0)
    assert set(b.covered) == {"BTC", "ETH", "SOL", "DOGE"} and b.missing == ()
    # Diversification: the assets alone add up to more than the book.
    assert b.standalone_var > b.historical_var


@pytest.mark.libreoffice
def test_demo_workbook_shows_the_reports_figures(demo: tuple[Path, Any], tmp_path: Path
                                                 ) -> None:
    """The filled demo recalculated by LibreOffice: the Prices sheet and the Dashboard show the
    report's book figures (1e-9 relative)."""
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    path, assessment = demo
    out, = recalc.recalculate([path], tmp_path)
    wb = load_workbook(out, data_only=True)
    sheet = layout.PRICES
    ws = wb[sheet.title]
    b = assessment.book_risk
    for key in ("historical_var", "historical_es", "normal_var", "normal_es", "coverage"):
        assert ws[sheet.field_cell(key)].value == pytest.approx(getattr(b, key), rel=1e-9), key
    assert ws[sheet.field_cell("observations")].value == b.observations
    dash = wb[layout.DASHBOARD.title]
    assert dash[layout.DASHBOARD.field_cell("var_usd")].value == pytest.approx(
        b.historical_var, rel=1e-9)
    table = sheet.table("book_assets")
    shown = {ws.cell(table.first_row + i, 1).value: table.first_row + i
             for i in range(table.rows)}
    for asset in b.assets:
        row = shown[asset.asset]
        for key in ("exposure", "volatility", "historical_var", "normal_var"):
            got = ws.cell(row, table.column_index(key)).value
            assert got == pytest.approx(getattr(asset, key), rel=1e-9), (asset.asset, key)


def test_an_asset_without_history_is_named(tmp_path: Path) -> None:
    """A PEPE position with no price column: left out of the figures and named in the report;
    the coverage is the other positions' share of the gross value."""
    positions = json.loads((SAMPLE / "positions.json").read_text())
    positions["positions"].append({
        "exchange": "bybit", "symbol": "1000PEPE/USDT:USDT", "side": "long", "contracts": 1e6,
        "contractSize": 1, "entryPrice": 0.0121, "markPrice": 0.0125, "positionMargin": 5000.0,
        "marginMode": "isolated", "leverage": 3, "maintenanceMarginPercentage": 0.01})
    export = tmp_path / "positions.json"
    export.write_text(json.dumps(positions))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.ExportNote)
        loaded = data.load_export(export).positions
    wb = writer.fill_workbook(layout.TEMPLATES["credit-risk-assessment"], loaded,
                            data.load_tiers(SAMPLE / "tiers.json"))
    writer.fill_market_data(wb, loaded, prices=data.load_ohlcv(SAMPLE / "ohlcv.json"),
                          histories=data.load_price_histories(SAMPLE / "ohlcv.json"))
    path = tmp_path / "book.xlsx"
    wb.save(path)
    assessment = assess_book(read_filled_workbook(path))
    b = assessment.book_risk
    assert b.missing == ("1000PEPE",)
    assert b.uncovered_positions == ("1000PEPE/USDT:USDT long (bybit)",)
    assert b.coverage == pytest.approx(209_300 / 221_800)
    _, demo_assessment = _demo_alone(tmp_path)
    assert b.historical_var == pytest.approx(demo_assessment.book_risk.historical_var)
    text = render(assessment, "text")
    assert "209,300 of a 221,800 USD book (94%); no price history for 1000PEPE" in text
    assert "Not covered, no price history on the Prices sheet: 1000PEPE/USDT:USDT long" in text


def _demo_alone(tmp_path: Path) -> tuple[Path, Any]:
    path = sample_book(tmp_path / "demo.xlsx")
    return path, assess_book(read_filled_workbook(path))


def test_fill_writes_one_column_per_asset(tmp_path: Path) -> None:
    """The sample's four symbols land in four columns, largest gross value first, under their
    asset names, on the same 120 days."""
    path = sample_book(tmp_path / "demo.xlsx")
    ws = load_workbook(path)[layout.PRICES.title]
    table = layout.PRICES.table("prices")
    heads = [ws.cell(table.header_row, table.column_index(f"close_{k}")).value
             for k in range(1, 6)]
    assert heads == ["BTC", "SOL", "ETH", "DOGE", "Asset 5"]
    bars = json.loads((SAMPLE / "ohlcv.json").read_text())["SOL/USDT:USDT"]
    col = table.column_index("close_2")
    assert [ws.cell(table.first_row + i, col).value for i in range(120)] == [
        b[4] for b in bars]
    assert ws.cell(table.first_row + 120, col).value is None

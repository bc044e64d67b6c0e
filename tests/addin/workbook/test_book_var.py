"""The Prices sheet's book VaR and ES, recalculated by LibreOffice, equal riskfuncs.book_var.

Three workbooks in one LibreOffice run, each the complete template with 220 seeded random
positions (BTC, ETH, SOL and DOGE; linear and inverse):

* ``partial``: closes of BTC, ETH (named " eth " in its header: spaces and case do not
  matter), SOL and XRP (held by no position); ETH starts 15 days late, DOGE has no column.
  Simple returns, 99%, 10 periods.
* ``full``: all four assets, log returns, 95%, 1 period; BTC a second time (a duplicate,
  left out).
* ``blank``: no prices: every figure "n/a", never 0.

Tolerance: relative 1e-9, as the other sheets (LibreOffice keeps 15 significant digits; the
order of the sums differs). The P&L column, a sum that can cancel to near zero, is compared to
1e-9 of its largest magnitude.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from addin.workbook import builder, layout, recalc
from riskfuncs.var import BookVar, ShortHistoryWarning, book_var
from tests.addin.workbook.inputs import Book, fill, random_book

pytestmark = pytest.mark.libreoffice

REL = 1e-9
SHEET = layout.PRICES
PX = SHEET.table("prices")
ASSETS = SHEET.table("book_assets")
ERRORS = ("#VALUE!", "#NAME?", "#N/A", "#DIV/0!", "#NUM!", "#REF!", "Err:")


def _closes(seed: int, n: int = 250) -> pd.DataFrame:
    """Correlated daily closes (a common t-distributed factor), oldest first."""
    rng = np.random.default_rng(seed)
    common = rng.standard_t(4, n) * 0.02
    start = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0, "DOGE": 0.15, "XRP": 0.6}
    beta = {"BTC": 1.0, "ETH": 1.2, "SOL": 1.6, "DOGE": 1.9, "XRP": 1.1}
    data = {a: p0 * np.exp(np.cumsum(beta[a] * common + rng.normal(0, 0.012, n)))
            for a, p0 in start.items()}
    return pd.DataFrame(data, index=[dt.datetime(2026, 1, 1) + dt.timedelta(days=i)
                                     for i in range(n)])


VARIANTS: dict[str, dict[str, Any]] = {
    "partial": {"columns": ["BTC", " eth ", "SOL", "XRP"], "late": {" eth ": 15},
                "fields": {"return_kind": "simple", "confidence": 0.99, "horizon_periods": 10}},
    "full": {"columns": ["BTC", "ETH", "SOL", "DOGE", "BTC"], "late": {},
             "fields": {"return_kind": "log", "confidence": 0.95, "horizon_periods": 1}},
    "blank": {"columns": [], "late": {}, "fields": {}},
}


def _write_prices(path: Path, closes: pd.DataFrame, variant: dict[str, Any]) -> pd.DataFrame:
    """Put the variant's columns into the Prices sheet; returns what was written."""
    wb = load_workbook(path)
    ws = wb[SHEET.title]
    written = {}
    for k, name in enumerate(variant["columns"], start=1):
        col = PX.column_index(f"close_{k}")
        ws.cell(PX.header_row, col).value = name
        series = closes[name.strip().upper()].copy()
        series.iloc[: variant["late"].get(name, 0)] = np.nan
        for i, value in enumerate(series):
            ws.cell(PX.first_row + i, col).value = None if math.isnan(value) else float(value)
        written[name] = series
    if variant["columns"]:
        for i, when in enumerate(closes.index):
            ws.cell(PX.first_row + i, PX.column_index("date")).value = when
    vol = layout.VOLATILITY
    for key, value in variant["fields"].items():
        wb[vol.title][vol.field_cell(key)].value = value
    wb.save(path)
    return pd.DataFrame(written, index=closes.index)


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Book, pd.DataFrame, Any]]:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("book_var")
    builder.build_all(work / "blank")
    template = work / "blank" / layout.TEMPLATES["credit-risk-assessment"].filename
    book = random_book(220, 4242)
    closes = _closes(99)
    prepared = []
    for name, variant in VARIANTS.items():
        path = work / f"{name}.xlsx"
        fill(template, path, book)
        prepared.append((name, path, _write_prices(path, closes, variant)))
    outputs = recalc.recalculate([p for _, p, _ in prepared], work / "out")
    return {name: (book, written, load_workbook(out, data_only=True))
            for (name, _, written), out in zip(prepared, outputs, strict=True)}


def _expected(book: Book, written: pd.DataFrame, variant: dict[str, Any]) -> BookVar:
    """riskfuncs on the same inputs: returns from the closes, exposures from the positions."""
    p = book.positions
    value = np.where(p["contract"] == "inverse", p["size"], p["size"] * p["mark_price"])
    exposures = pd.Series(np.where(p["side"] == "short", -value, value), index=p.index)
    assets = p["symbol"].str.partition("/")[0].tolist()
    closes = written.loc[:, ~written.columns.str.strip().str.upper().duplicated()]
    if variant["fields"].get("return_kind") == "log":
        returns = np.log(closes / closes.shift(1)).iloc[1:]
    else:
        returns = (closes / closes.shift(1) - 1).iloc[1:]
    fields = variant["fields"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortHistoryWarning)
        return book_var(returns, exposures, assets=assets,
                        confidence=fields.get("confidence", 0.99),
                        horizon=fields.get("horizon_periods", 1))


def _field(wb: Any, key: str) -> Any:
    return wb[SHEET.title][SHEET.field_cell(key)].value


def _column(wb: Any, table: layout.Table, key: str) -> list[Any]:
    ws, col = wb[SHEET.title], table.column_index(key)
    return [ws.cell(table.first_row + i, col).value for i in range(table.rows)]


@pytest.mark.parametrize("name", ["partial", "full"])
def test_book_figures_agree_with_riskfuncs(books: dict[str, Any], name: str) -> None:
    book, written, wb = books[name]
    expected = _expected(book, written, VARIANTS[name])
    for key in ("historical_var", "historical_es", "normal_var", "normal_es"):
        assert _field(wb, key) == pytest.approx(getattr(expected, key), rel=REL), key
    assert _field(wb, "observations") == expected.observations
    assert _field(wb, "assets_covered") == len(expected.covered)
    assert _field(wb, "book_value") == pytest.approx(expected.book_value, rel=REL)
    assert _field(wb, "covered_value") == pytest.approx(expected.covered_value, rel=REL)
    assert _field(wb, "coverage") == pytest.approx(expected.coverage, rel=REL)
    assert _field(wb, "not_covered") == int((~expected.positions_covered).sum())
    dash = layout.DASHBOARD
    ws = wb[dash.title]
    assert ws[dash.field_cell("var_usd")].value == pytest.approx(expected.historical_var, rel=REL)
    assert ws[dash.field_cell("es_usd")].value == pytest.approx(expected.historical_es, rel=REL)


@pytest.mark.parametrize("name", ["partial", "full"])
def test_per_asset_and_pnl_agree(books: dict[str, Any], name: str) -> None:
    book, written, wb = books[name]
    expected = _expected(book, written, VARIANTS[name])
    assets = _column(wb, ASSETS, "asset")
    status = _column(wb, ASSETS, "status")
    shown = {str(a).strip().upper(): i for i, (a, s) in enumerate(zip(assets, status,
                                                                      strict=True))
             if s == "yes"}
    assert sorted(shown) == sorted(expected.covered)
    for key in ("exposure", "volatility", "historical_var", "normal_var"):
        got = _column(wb, ASSETS, key)
        for asset, row in expected.per_asset.iterrows():
            assert got[shown[str(asset)]] == pytest.approx(row[key], rel=REL), (asset, key)
    pnl = [v for v in _column(wb, PX, "pnl") if isinstance(v, int | float)]
    scale = float(np.abs(expected.pnl).max())
    np.testing.assert_allclose(pnl, expected.pnl.to_numpy(), rtol=0, atol=REL * scale)
    if name == "partial":
        assert status[3] == "not held"  # XRP
        assert status[4:] == ["not held"] * 4  # the template's "Asset 5".."Asset 8"
        covered = _column(wb, SHEET.table("book_positions"), "covered")[:220]
        doge = book.positions["symbol"].str.startswith("DOGE/").to_numpy()
        assert {covered[i] for i in np.flatnonzero(doge)} == {"no history"}
        assert {covered[i] for i in np.flatnonzero(~doge)} == {"yes"}
    else:
        assert status[4] == "duplicate"


def test_blank_prices_are_not_zero(books: dict[str, Any]) -> None:
    _, _, wb = books["blank"]
    for key in ("historical_var", "historical_es", "normal_var", "normal_es"):
        assert _field(wb, key) == "n/a"
    assert _field(wb, "coverage") == 0
    assert _field(wb, "not_covered") == 220


@pytest.mark.parametrize("name", list(VARIANTS))
def test_no_error_cells(books: dict[str, Any], name: str) -> None:
    ws = books[name][2][SHEET.title]
    bad = [c.coordinate for row in ws.iter_rows() for c in row
           if isinstance(c.value, str) and c.value.startswith(ERRORS)]
    assert bad == []

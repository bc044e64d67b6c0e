"""fill writes text from an export as text, numbers only as numbers; check flags a formula in
any input cell; fill refuses or reports every change it would make to an export's values."""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from addin.fill import writer
from addin.reader import exchange_data as data
from addin.reader import read_filled_workbook
from addin.reader.exchange_data import ExportError
from addin.workbook import layout
from tests.addin.report.workbooks import TEMPLATE, cell, sample_book

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd|' /C calc'!A0", "+1+1",
           "-2+3", "@SUM(A1)"]


def position(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "exchange": "binance", "symbol": "BTC/USDT:USDT", "side": "long", "contracts": 0.5,
        "contractSize": 1.0, "entryPrice": 60000.0, "markPrice": 61000.0, "collateral": 6000.0,
        "marginMode": "isolated", "maintenanceMarginRate": 0.004, "leverage": 5.0}
    base.update(changes)
    return base


def export(tmp_path: Path, positions: list[dict[str, Any]]) -> data.Export:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"positions": positions}))
    return data.load_export(path)


def formula_cells(path: Path) -> list[str]:
    """Every cell of every sheet that holds a formula, straight from the XML."""
    import re

    found = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                text = archive.read(name).decode()
                found += [f"{name}:{m}" for m in re.findall(
                    r'(?i)<c r="([A-Z]+\d+)"[^>]*>\s*<f>[^<]*(?:HYPERLINK|cmd|1\+1|2\+3|SUM\(A1)',
                    text)]
    return found


def test_export_text_is_written_as_text_never_a_formula(tmp_path: Path) -> None:
    # The venue is kept as the export names it (lower case): any text reaches the workbook.
    loaded = export(tmp_path, [position(exchange=text, contracts=1.0 + i)
                               for i, text in enumerate(HOSTILE)])
    venues = [p.values["exchange"] for p in loaded.positions]
    wb = writer.fill_workbook(TEMPLATE, loaded.positions)
    text = HOSTILE[1]
    writer.fill_market_data(wb, loaded.positions,
                          prices=(text, [(dt.datetime(2026, 1, 1), 60000.0)]),
                          exchanges=[{"exchange": text, "loss_given_default": 0.5}],
                          funding=(text, [{"time": dt.datetime(2026, 1, 1), "rate": 0.0001}]))
    out = tmp_path / "book.xlsx"
    wb.save(out)
    assert formula_cells(out) == []
    written = load_workbook(out)
    book = read_filled_workbook(out)
    for i, venue in enumerate(venues):
        assert venue[:1] == HOSTILE[i][:1]
        sheet, address = cell("exchange", i)
        assert written[sheet][address].data_type == "s"
        assert written[sheet][address].value == venue
        assert written[sheet][address].quotePrefix  # shown as typed, never evaluated on edit
    assert list(book.tables["positions"]["exchange"]) == venues
    assert not any("holds a formula" in p.what for p in book.problems)


def test_tier_table_names_are_text(tmp_path: Path) -> None:
    loaded = export(tmp_path, [position()])
    name = "=HYPERLINK(\"x\")"
    tiers = {name: [{"minNotional": 0, "maxNotional": 1e6, "maintenanceMarginRate": 0.004,
                     "maintenanceAmount": 0, "maxLeverage": 100}]}
    for p in loaded.positions:
        values = p.values
        values["tier_table"], values["maintenance_margin_rate"] = name, None
    wb = writer.fill_workbook(TEMPLATE, loaded.positions, tiers)
    out = tmp_path / "tiers.xlsx"
    wb.save(out)
    assert formula_cells(out) == []


@pytest.fixture(scope="module")
def blank() -> Workbook:
    return writer.fill_workbook(TEMPLATE, [])


@pytest.mark.parametrize("value", ["=1+1", "0.5; =HYPERLINK(1)", True, math.inf, math.nan,
                                   [1, 2]])
def test_numeric_cells_only_ever_get_numbers(blank: Workbook, value: Any) -> None:
    with pytest.raises(ExportError, match=r"Exchange Scorecard .* row 1: "):
        writer.fill_market_data(blank, [], exchanges=[{"exchange": "binance",
                                                     "loss_given_default": value}])


def test_numeric_text_and_control_characters(blank: Workbook) -> None:
    wb = blank
    writer.fill_market_data(wb, [], exchanges=[{"exchange": "okx", "loss_given_default": "0.5"}])
    sheet = layout.SHEETS["scorecard"]
    table = sheet.table("exchanges")
    assert wb[sheet.title].cell(table.first_row, table.column_index(
        "loss_given_default")).value == 0.5
    with pytest.raises(ExportError, match="control character"):
        writer.fill_market_data(wb, [], exchanges=[{"exchange": "ok\x1bx"}])


def test_check_flags_a_formula_in_an_input_cell(tmp_path: Path) -> None:
    path = sample_book(tmp_path / "sample.xlsx")
    wb = load_workbook(path)
    sheet, side = cell("side")
    wb[sheet][side] = '=IF(1=1,"short","long")'
    wb.save(path)
    book = read_filled_workbook(path)
    flagged = [p for p in book.problems if p.cell == side]
    assert flagged and "holds a formula" in flagged[0].what
    assert book.tables["positions"]["side"].isna().iloc[0]


# ---- fill never silently changes an export's values (parse_position's number reading) ----

@pytest.mark.parametrize("size", [0, -1, False, "false", math.nan, "NaN", math.inf])
def test_bad_contract_sizes_are_refused(tmp_path: Path, size: Any) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"positions": [position(contractSize=size)]}))
    with pytest.raises(ExportError, match="contractSize"):
        data.load_export(path)


@pytest.mark.parametrize("stop", ["Infinity", "-Infinity", math.inf])
def test_an_infinite_stop_loss_is_refused(tmp_path: Path, stop: Any) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"positions": [position(stopLossPrice=stop)]}))
    with pytest.raises(ExportError, match="stopLossPrice"):
        data.load_export(path)


def test_truncated_history_is_reported(tmp_path: Path, blank: Workbook) -> None:
    loaded = export(tmp_path, [position()])
    wb = blank
    start = dt.datetime(2025, 1, 1)
    bars = [(start + dt.timedelta(days=i), 60000.0 + i) for i in range(450)]
    funding = [{"time": start + dt.timedelta(hours=8 * i), "rate": 0.0001} for i in range(300)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.fill_market_data(wb, loaded.positions, prices=("BTC/USDT:USDT", bars),
                              funding=("BTC/USDT:USDT", funding))
    notes = [str(w.message) for w in caught if issubclass(w.category, data.ExportNote)]
    assert any("450 price bars" in n and "400" in n for n in notes), notes
    assert any("300 funding records" in n and "270" in n for n in notes), notes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what fits is written without a note
        writer.fill_market_data(wb, loaded.positions, prices=("BTC/USDT:USDT", bars[:400]),
                              funding=("BTC/USDT:USDT", funding[:270]))


def test_control_characters_are_refused_and_never_echoed(tmp_path: Path) -> None:
    loaded = export(tmp_path, [position(symbol="BTC/USDT:USDT\x1b[31m")])
    with pytest.raises(ExportError, match="control character") as caught:
        writer.fill_workbook(TEMPLATE, loaded.positions)
    assert "\x1b" not in str(caught.value)

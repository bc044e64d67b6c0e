"""Filled workbooks for the tests, written by the same code `perprisk fill` uses."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from addin._resources import templates_dir
from addin.fill import writer
from addin.reader import exchange_data as data
from addin.workbook import layout

TEMPLATE = layout.TEMPLATES["credit-risk-assessment"]


def sample_book(path: Path) -> Path:
    """The bundled demo data, filled in."""
    sample = templates_dir() / "sample"
    positions = data.load_positions(sample / "positions.json")
    wb = writer.fill_workbook(TEMPLATE, positions, data.load_tiers(sample / "tiers.json"))
    writer.fill_market_data(wb, positions, prices=data.load_ohlcv(sample / "ohlcv.json"),
                          exchanges=data.load_exchanges(sample / "exchanges.json"),
                          funding=data.load_funding(sample / "funding.json"),
                          histories=data.load_price_histories(sample / "ohlcv.json"))
    wb.save(path)
    return path


def book_from_positions(path: Path, positions: list[dict[str, Any]]) -> Path:
    """A workbook holding only these ccxt-shaped positions."""
    export = path.with_suffix(".json")
    export.write_text(json.dumps({"positions": positions}))
    with warnings.catch_warnings():
        # These positions carry their account's wallet on each cross row, as intended.
        warnings.simplefilter("ignore", data.ExportNote)
        loaded = data.load_positions(export)
    wb = writer.fill_workbook(TEMPLATE, loaded)
    wb.save(path)
    return path


def cell(column: str, index: int = 0) -> tuple[str, str]:
    """(sheet title, address) of a position input: ``index`` counts from the first row."""
    sheet = layout.POSITIONS
    table = sheet.table("positions")
    return sheet.title, f"{table.column_letter(column)}{table.first_row + index}"

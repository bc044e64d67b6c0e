"""Several OHLCV series into the Prices sheet: from ``perprisk fetch``'s export (one series
per symbol held) and from a ``--prices`` file of several symbols."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from addin.fill import writer
from addin.reader import exchange_data as data
from addin.workbook import layout

TEMPLATE = layout.TEMPLATES["credit-risk-assessment"]
DAY = 86_400_000
START = 1_730_419_200_000  # 2024-11-01 00:00 UTC


def _bars(first: float, n: int, start: int = START) -> list[list[float]]:
    return [[start + i * DAY, first, first, first, first * (1 + 0.01 * i), 100.0]
            for i in range(n)]


def _position(symbol: str, side: str, contracts: float, mark: float) -> dict[str, Any]:
    return {"symbol": symbol, "side": side, "contracts": contracts, "contractSize": 1,
            "entryPrice": mark, "markPrice": mark, "positionMargin": contracts * mark / 5,
            "marginMode": "isolated", "leverage": 5, "maintenanceMarginPercentage": 0.005}


def _venue(positions: list[dict[str, Any]], ohlcv: dict[str, Any]) -> dict[str, Any]:
    return {"positions": positions, "balance": None, "markets": {}, "tiers": {},
            "funding": {}, "ohlcv": ohlcv, "account": {"type": None}, "errors": []}


def _prices(wb: Workbook) -> tuple[list[Any], list[list[Any]]]:
    ws = wb[layout.PRICES.title]
    table = layout.PRICES.table("prices")
    cols = [table.column_index("date")] + [table.column_index(f"close_{k}")
                                            for k in range(1, layout.PRICE_ASSETS + 1)]
    heads = [ws.cell(table.header_row, c).value for c in cols[1:]]
    rows = [[ws.cell(r, c).value for c in cols] for r in range(table.first_row, table.last_row + 1)]
    return heads, [r for r in rows if any(v is not None for v in r)]


def test_fetch_export_gives_one_column_per_asset(tmp_path: Path) -> None:
    """BTC held on two venues (the larger position's bars count), ETH on one, SOL held with no
    bars: two columns, largest gross value first; days aligned, a day ETH lacks stays blank."""
    eth_bars = _bars(3000.0, 4, START + DAY)  # ETH starts a day later
    export = {"perprisk_export": 1, "venues": {
        "binanceusdm": _venue([_position("BTC/USDT:USDT", "long", 1.0, 60_000.0),
                               _position("SOL/USDT:USDT", "long", 10.0, 150.0)],
                              {"BTC/USDT:USDT": _bars(60_000.0, 5)}),
        "bybit": _venue([_position("ETH/USDT:USDT", "short", 30.0, 3000.0),
                         _position("BTC/USDT:USDT", "short", 0.1, 60_000.0)],
                        {"ETH/USDT:USDT": eth_bars,
                         "BTC/USDT:USDT": _bars(1.0, 5)}),
    }}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.ExportNote)
        loaded = data.load_export(path)
    assert list(loaded.histories) == ["ETH", "BTC"]  # 90,000 USD of ETH, 66,000 of BTC
    assert loaded.histories["BTC"][0][1] == 60_000.0  # binance's bars: the larger BTC position
    wb = writer.fill_workbook(TEMPLATE, loaded.positions, loaded.tiers)
    writer.fill_market_data(wb, loaded.positions, histories=loaded.histories)
    heads, rows = _prices(wb)
    assert heads[:3] == ["ETH", "BTC", "Asset 3"]
    assert [r[0] for r in rows] == [dt.datetime(2024, 11, 1) + dt.timedelta(days=i)
                                    for i in range(5)]
    assert rows[0][1] is None and rows[1][1] == 3000.0
    assert [r[2] for r in rows] == [b[4] for b in _bars(60_000.0, 5)]


def test_prices_file_of_several_symbols(tmp_path: Path) -> None:
    path = tmp_path / "ohlcv.json"
    path.write_text(json.dumps({"BTC/USDT:USDT": _bars(60_000.0, 3),
                                "BTC/USD:BTC": _bars(1.0, 3),  # same asset: the first counts
                                "eth/usdt:usdt": _bars(3000.0, 3)}))
    histories = data.load_price_histories(path)
    assert list(histories) == ["BTC", "ETH"]
    assert histories["BTC"][0][1] == 60_000.0


def test_capacity_is_noted(tmp_path: Path) -> None:
    """More assets than columns keep the largest held; more days than rows the latest."""
    symbols = [f"C{i}/USDT:USDT" for i in range(layout.PRICE_ASSETS + 2)]
    positions = [_position(s, "long", 1.0 + i, 10.0) for i, s in enumerate(symbols)]
    path = tmp_path / "positions.json"
    path.write_text(json.dumps({"binanceusdm": positions}))
    loaded = data.load_export(path).positions
    wb = writer.fill_workbook(TEMPLATE, loaded)
    rows = layout.PRICES.table("prices").rows
    histories = {s.split("/")[0]: [(dt.datetime(2024, 1, 1) + dt.timedelta(days=d), 10.0)
                                   for d in range(rows + 5)] for s in symbols}
    with pytest.warns(data.ExportNote) as caught:
        writer.fill_market_data(wb, loaded, histories=histories)
    notes = [str(w.message) for w in caught]
    assert any("C1, C0 left out of the book VaR" in n for n in notes), notes
    assert any(f"the most recent {rows} written" in n for n in notes), notes
    heads, written = _prices(wb)
    assert heads[0] == f"C{layout.PRICE_ASSETS + 1}" and len(written) == rows
    assert written[0][0] == dt.datetime(2024, 1, 6)


def test_a_header_cannot_smuggle_a_formula(tmp_path: Path) -> None:
    """Asset names come from exports: one that starts with "=" is written as text."""
    path = tmp_path / "positions.json"
    path.write_text(json.dumps({"binanceusdm": [_position("=1+1/USDT:USDT", "long", 1, 10.0)]}))
    loaded = data.load_export(path).positions
    wb = writer.fill_workbook(TEMPLATE, loaded)
    writer.fill_market_data(wb, loaded, histories={"=1+1": [(dt.datetime(2024, 1, 1), 1.0)]})
    ws = wb[layout.PRICES.title]
    table = layout.PRICES.table("prices")
    cell = ws.cell(table.header_row, table.column_index("close_1"))
    assert cell.value == "=1+1" and cell.data_type == "s" and cell.quotePrefix

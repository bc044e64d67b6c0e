"""Number formats that fit the magnitude: prices to their significant digits, coin amounts to
eight decimals, in the blank template and in what LibreOffice prints."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from addin.workbook import builder, layout, recalc
from tests.addin.report.workbooks import book_from_positions

PRICES = ("entry_price", "mark_price", "stop_price", "exchange_liquidation_price",
          "liquidation_price")


def test_price_size_and_coin_formats_in_the_template() -> None:
    wb = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    ws = wb[layout.POSITIONS.title]
    t = layout.POSITIONS.table("positions")
    for key in PRICES:
        cell = ws[f"{t.column_letter(key)}{t.first_row}"]
        assert cell.number_format == layout.PRICE_FORMAT, key
    assert ws[f"{t.column_letter('size')}{t.first_row}"].number_format == layout.SIZE_FORMAT
    coin: dict[str, Any] = {}
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            if rule.dxf is not None and rule.dxf.numFmt is not None:
                coin[str(cf.sqref)] = rule
    contract = f"${t.column_letter('contract')}{t.first_row}"
    for key in builder.COIN_AMOUNT_COLUMNS:
        letter = t.column_letter(key)
        rule = coin[f"{letter}{t.first_row}:{letter}{t.last_row}"]
        assert rule.dxf.numFmt.formatCode == layout.COIN_FORMAT
        assert rule.formula == [f'LOWER(TRIM({contract}))="inverse"']



def _rules(ws: Any, sqref: str) -> list[tuple[list[str], str]]:
    """(formula, fill colour) of the conditional rules on one range."""
    out = []
    for cf in ws.conditional_formatting:
        if str(cf.sqref) == sqref:
            for rule in cf.rules:
                fill = rule.dxf.fill.fgColor.rgb if rule.dxf is not None and rule.dxf.fill else ""
                out.append((list(rule.formula), str(fill)))
    return out


def test_levels_and_alerts_have_fills_distinct_from_the_input_yellow() -> None:
    """Positions and the Dashboard's ranking take their fill from the Level (red, amber);
    a failed proof of reserves is red on the Scorecard; probabilities above the report's
    amber and red levels are filled as such. None of them is the input cells' yellow."""
    from riskfuncs.assessment import RatingThresholds

    wb = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    input_yellow = builder.INPUT_FILL.fgColor.rgb
    alert, warn = builder.ALERT_FILL.fgColor.rgb, builder.WARN_FILL.fgColor.rgb
    assert len({input_yellow, alert, warn}) == 3
    for sheet, table in ((layout.POSITIONS, "positions"), (layout.DASHBOARD, "closest")):
        t = sheet.table(table)
        level = f"${t.column_letter('level')}{t.first_row}"
        found = [r for cf in wb[sheet.title].conditional_formatting for r in cf.rules]
        formulas = {(tuple(r.formula), str(r.dxf.fill.fgColor.rgb)) for r in found
                    if r.dxf is not None and r.dxf.fill is not None}
        assert any(f[0].startswith(f'OR({level}="red"') and c == alert for f, c in formulas)
        assert ((f'{level}="amber"',), warn) in formulas
    t = layout.SCORECARD.table("exchanges")
    letter = t.column_letter("proof_of_reserves_checked")
    rules = _rules(wb[layout.SCORECARD.title], f"{letter}{t.first_row}:{letter}{t.last_row}")
    assert ([f'{letter}{t.first_row}="failed"'], alert) in rules
    t = layout.VOLATILITY.table("probability")
    letter = t.column_letter("probability")
    rules = _rules(wb[layout.VOLATILITY.title], f"{letter}{t.first_row}:{letter}{t.last_row}")
    levels = RatingThresholds()
    cell = f"{letter}{t.first_row}"
    assert rules == [([f"AND(ISNUMBER({cell}),{cell}>{levels.probability_red})"], alert),
                     ([f"AND(ISNUMBER({cell}),{cell}>{levels.probability_amber})"], warn)]


PEPE = {"exchange": "binance", "symbol": "PEPE/USDT:USDT", "side": "long",
        "contracts": 1e9, "contractSize": 1.0, "entryPrice": 0.00001200,
        "markPrice": 0.00001234, "collateral": 4000.0, "marginMode": "isolated",
        "maintenanceMarginRate": 0.01, "leverage": 3.0}
COIN = {"exchange": "okx", "symbol": "BTC/USD:BTC", "side": "long", "contracts": 200.0,
        "contractSize": 1.0, "entryPrice": 60500.0, "markPrice": 61850.0,
        "collateral": 0.0027, "marginMode": "isolated", "maintenanceMarginRate": 0.005,
        "leverage": 2.0}
DOGE = {"exchange": "bybit", "symbol": "DOGE/USDT:USDT", "side": "short",
        "contracts": 1000.0, "contractSize": 1.0, "entryPrice": 0.1612,
        "markPrice": 0.1588, "collateral": 60.0, "marginMode": "isolated",
        "maintenanceMarginRate": 0.005, "leverage": 3.0}


@pytest.mark.libreoffice
def test_printed_prices_and_coin_amounts_keep_their_digits(tmp_path: Path) -> None:
    """What LibreOffice prints: PEPE at 0.00001234 (not 0.00), DOGE at 0.1612 (not 0.16), a
    0.0026 BTC collateral with its eight decimals (not 0.00), on a row filled by its level."""
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext)")
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    book = book_from_positions(tmp_path / "formats.xlsx", [PEPE, COIN, DOGE])
    pdf = recalc.render_pdf([book], tmp_path / "pdf")[0]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    # The Positions & Margin row (it names the contract), not the dashboard's summary.
    rows = {symbol: next(line for line in text.splitlines()
                         if symbol in line and ("linear" in line or "inverse" in line))
            for symbol in ("PEPE/USDT:USDT", "BTC/USD:BTC", "DOGE/USDT:USDT")}
    assert "0.00001234" in rows["PEPE/USDT:USDT"] and "0.000012 " in rows["PEPE/USDT:USDT"]
    assert " 0.1612 " in rows["DOGE/USDT:USDT"] and " 0.1588 " in rows["DOGE/USDT:USDT"]
    # The coin margin as written (the export's 0.0027 BTC less its unrealised PnL: margin
    # without PnL, as the reader takes it), printed to eight decimals on an amber row too.
    from openpyxl import load_workbook

    t = layout.POSITIONS.table("positions")
    written = load_workbook(book)[layout.POSITIONS.title][
        f"{t.column_letter('collateral')}{t.first_row + 1}"].value
    assert 0.0026 < written < 0.0027
    assert f"{written:.8f}" in rows["BTC/USD:BTC"] and "61,850.00" in rows["BTC/USD:BTC"]
    assert " 0.00 " not in rows["PEPE/USDT:USDT"] + rows["BTC/USD:BTC"]

"""The Scorecard's concentration counts every venue held, listed on the scorecard or not, as
the report does (its shares are of all exposure)."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from addin.reader import read_filled_workbook
from addin.report.assessment import positions_frame
from addin.workbook import layout, recalc
from riskfuncs.counterparty import concentration, exposure_by_exchange
from tests.addin.report.workbooks import book_from_positions

pytestmark = pytest.mark.libreoffice

ROWS = [
    {"exchange": "binance", "symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1.0,
     "entryPrice": 60000.0, "markPrice": 61000.0, "collateral": 10000.0},
    {"exchange": "bybit", "symbol": "ETH/USDT:USDT", "side": "short", "contracts": 5.0,
     "entryPrice": 3000.0, "markPrice": 3100.0, "collateral": 4000.0},
    {"exchange": "okx", "symbol": "SOL/USDT:USDT", "side": "long", "contracts": 50.0,
     "entryPrice": 150.0, "markPrice": 140.0, "collateral": 3000.0},
]


def test_unlisted_venues_count_in_the_concentration(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    tmp = tmp_path_factory.mktemp("concentration")
    rows = [{**r, "contractSize": 1.0, "marginMode": "isolated",
             "maintenanceMarginRate": 0.005, "leverage": 5.0} for r in ROWS]
    path = book_from_positions(tmp / "book.xlsx", rows)
    wb = load_workbook(path)
    table = layout.SCORECARD.table("exchanges")
    ws = wb[layout.SCORECARD.title]
    for row in range(table.first_row, table.last_row + 1):  # only binance is scored
        ws[f"{table.column_letter('exchange')}{row}"] = None
    ws[f"{table.column_letter('exchange')}{table.first_row}"] = "binance"
    wb.save(path)
    result = load_workbook(recalc.recalculate([path], tmp / "out")[0], data_only=True)

    def named(name: str) -> float:
        sheet, cell = result.defined_names[name].attr_text.split("!")
        return float(result[sheet.strip("'")][cell.replace("$", "")].value)

    # riskfuncs on the workbook's own inputs (fill keeps the margin without the PnL).
    frame = positions_frame(read_filled_workbook(path).tables["positions"])
    shares = exposure_by_exchange(frame)
    assert len(shares) == 3
    expected = concentration(shares)
    assert named("Score_Hhi") == pytest.approx(float(expected.hhi), rel=1e-9)
    assert named("Score_EffectiveVenues") == pytest.approx(float(expected.effective_venues),
                                                           rel=1e-9)
    assert named("Score_LargestShare") == pytest.approx(float(shares.max() / shares.sum()))
    # Listing one of three venues used to give a concentration of that venue alone.
    binance_only = float((shares["binance"] / shares.sum()) ** 2)
    assert named("Score_Hhi") != pytest.approx(binance_only)

"""The workbook and the report of it tell one story: the same level per position, the same red
and amber counts, the same risk-audit checklist with the same statuses.

The demo workbook (what ``perprisk demo`` writes) and an edited copy of it are recalculated in
LibreOffice; the report is computed by riskfuncs from the same file's inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from addin.cli import main
from addin.report.pipeline import assess_file
from addin.workbook import layout, recalc
from addin.workbook.texts import load_texts

pytestmark = pytest.mark.libreoffice

POS = layout.POSITIONS.table("positions")


def _cell(ws: Any, key: str, i: int) -> Any:
    return ws[f"{POS.column_letter(key)}{POS.first_row + i}"]


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("story")
    assert main(["demo", "--out", str(work / "demo")]) == 0
    demo = work / "demo" / "demo-assessment.xlsx"
    # Edited: the SOL long gets a stop-loss below its liquidation price (amber: the exchange
    # liquidates first) and the OKX inverse long twice the leverage cap's size (red).
    edited = work / "edited.xlsx"
    wb = load_workbook(demo)
    ws = wb[layout.POSITIONS.title]
    symbols = [_cell(ws, "symbol", i).value for i in range(POS.rows)]
    sol, okx = symbols.index("SOL/USDT:USDT"), symbols.index("BTC/USD:BTC")
    _cell(ws, "stop_price", sol).value = 60.0  # liquidation is about 78.6
    _cell(ws, "size", okx).value = _cell(ws, "size", okx).value * 9
    wb.save(edited)
    out = recalc.recalculate([demo, edited], work / "recalculated")
    return {"demo": (demo, load_workbook(out[0], data_only=True)),
            "edited": (edited, load_workbook(out[1], data_only=True))}


def _field(wb: Any, sheet: layout.Sheet, key: str) -> Any:
    f = next(f for f in sheet.fields if f.key == key)
    ref = wb.defined_names[f.name].attr_text
    title, cell = ref.split("!")
    return wb[title.strip("'")][cell.replace("$", "")].value


@pytest.mark.parametrize("variant", ["demo", "edited"])
def test_workbook_and_report_tell_one_story(books: dict[str, tuple[Path, Any]],
                                            variant: str) -> None:
    path, result = books[variant]
    report = assess_file(path).assessment
    assert report is not None
    ws = result[layout.POSITIONS.title]
    n = len(report.positions)
    workbook_levels = {POS.first_row + i: _cell(ws, "level", i).value for i in range(n)}
    assert {r.row: r.level for r in report.positions} == workbook_levels
    assert _field(result, layout.DASHBOARD, "red") == report.totals.red
    assert _field(result, layout.DASHBOARD, "amber") == report.totals.amber
    checks = layout.AUDIT.table("checks")
    audit = result[layout.AUDIT.title]
    status = [audit[f"{checks.column_letter('status')}{checks.first_row + i}"].value
              for i in range(len(load_texts()["audit"]))]
    assert [item.status for item in report.risk_audit] == status
    assert _field(result, layout.DASHBOARD, "audit") == report.risk_audit_summary
    # The book's VaR and how much of the book it covers, as the report says them.
    assert report.book_risk is not None
    assert _field(result, layout.DASHBOARD, "var_coverage") == pytest.approx(
        report.book_risk.coverage, rel=1e-9)
    # The Dashboard's ranking: the chart's bar of each row sits in its level's column only.
    near = layout.DASHBOARD.table("closest")
    dash = result[layout.DASHBOARD.title]
    for i in range(n):
        level = dash[f"{near.column_letter('level')}{near.first_row + i}"].value
        assert level in layout.LEVEL_COLOURS
        for colour in layout.LEVEL_COLOURS:
            bar = dash[f"{near.column_letter(f'{colour}_distance')}{near.first_row + i}"].value
            assert isinstance(bar, float) if colour == level else bar == "#N/A", (i, colour)
    if variant == "demo":
        assert (report.totals.red, report.totals.amber) == (2, 4)
        doge = next(r for r in report.positions if r.symbol.startswith("DOGE"))
        assert doge.reasons == (
            "its cross account is liquidated in the worst stress scenario (amber)",)
        row = doge.row - POS.first_row
        assert _cell(ws, "alert", row).value == load_texts()["alerts"]["worst_case_account"]
    else:
        by_symbol = {r.symbol: r for r in report.positions}
        assert "stop-loss beyond the liquidation price (amber)" in by_symbol[
            "SOL/USDT:USDT"].reasons
        assert by_symbol["BTC/USD:BTC"].level == "red"

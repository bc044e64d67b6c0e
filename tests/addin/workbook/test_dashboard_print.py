"""The Dashboard opens and prints first, alerts never look like inputs, the dashboard chart
speaks of the same loss as its figure, and a filled book prints its filled rows only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from addin.cli import main
from addin.workbook import builder, layout, recalc


def test_dashboard_is_the_first_sheet_and_the_active_one() -> None:
    wb = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    assert wb.sheetnames[0] == layout.DASHBOARD.title and wb.active.title == "Dashboard"
    # A focused template without a dashboard still opens on its instructions.
    monitor = builder.build_workbook(layout.TEMPLATES["position-margin-monitor"])
    assert monitor.sheetnames[0] == layout.INSTRUCTIONS.title


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour[-6:]
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def test_alert_fills_are_not_the_input_yellow() -> None:
    """Each alert fill differs from the input fill and from each other by a clear margin
    (the old amber FFEB9C was a shade of the input FFF2CC)."""
    fills = {name: _rgb(str(fill.fgColor.rgb)) for name, fill in (
        ("input", builder.INPUT_FILL), ("red", builder.ALERT_FILL),
        ("amber", builder.WARN_FILL))}
    assert _rgb("FFEB9C") != fills["amber"]
    for a, b in (("input", "red"), ("input", "amber"), ("red", "amber")):
        distance = sum((x - y) ** 2 for x, y in zip(fills[a], fills[b], strict=True)) ** 0.5
        assert distance > 60, (a, b, distance)
    old = sum((x - y) ** 2 for x, y in zip(fills["input"], _rgb("FFEB9C"), strict=True)) ** 0.5
    assert old < 60  # what the test would have caught


def test_dashboard_chart_plots_the_scenario_loss() -> None:
    chart = next(c for c in layout.DASHBOARD.charts if c.key == "stress")
    assert chart.values == ("stress", "scenarios", "loss") and "Loss" in chart.title


@pytest.mark.libreoffice
def test_the_demo_prints_the_dashboard_first_in_a_few_pages(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext)")
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    assert main(["demo", "--out", str(tmp_path)]) == 0
    pdf = recalc.render_pdf([tmp_path / "demo-assessment.xlsx"], tmp_path / "pdf")[0]

    def page(n: int) -> str:
        return subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
                              check=True, capture_output=True, text=True).stdout

    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    assert page(1).lstrip().startswith("Dashboard")
    # Sixty with the empty capacity rows, thirty with the 120 days of daily closes (inputs,
    # not printed in a filled book: the figures they feed are); what is left is the
    # instructions, the stress scenarios and one or two pages a sheet.
    assert pages <= 22, pages
    # Every filled position is still printed.
    text = "".join(page(n) for n in range(1, pages + 1))
    for symbol in ("ETH/USDT:USDT", "DOGE/USDT:USDT", "BTC/USD:BTC"):
        assert text.count(symbol) >= 2, symbol


def test_print_areas_end_at_the_filled_rows(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    assert main(["demo", "--out", str(tmp_path)]) == 0
    wb = load_workbook(tmp_path / "demo-assessment.xlsx")
    t = layout.POSITIONS.table("positions")
    area = str(wb[layout.POSITIONS.title].print_area)
    assert area.endswith(f"${t.first_row + 5}"), area  # six positions
    blank = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    assert str(blank[layout.POSITIONS.title].print_area).endswith(f"${t.last_row}")
    # The daily closes are inputs: a filled book prints the figures around them, not them.
    for sheet, key in ((layout.VOLATILITY, "history"), (layout.PRICES, "prices")):
        table = sheet.table(key)
        areas = str(wb[sheet.title].print_area).replace("$", "").split(",")
        for area in areas:
            top, bottom = (int("".join(ch for ch in part if ch.isdigit()))
                           for part in area.split("!")[-1].split(":"))
            assert bottom < table.header_row or top > table.last_row, (sheet.key, area)
        header = int(str(wb[sheet.title].print_title_rows).split(":")[0].strip("$"))
        assert header != table.header_row, sheet.key  # no repeated header of it either


def test_dashboard_closest_rows_carry_their_alert_colour() -> None:
    wb = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    t = layout.DASHBOARD.table("closest")
    rules = {str(cf.sqref): [r for r in cf.rules]
             for cf in wb[layout.DASHBOARD.title].conditional_formatting}
    chosen = rules[f"A{t.first_row}:C{t.last_row}"]
    assert [r.dxf.fill.fgColor.rgb[-6:] for r in chosen] == [
        str(builder.ALERT_FILL.fgColor.rgb)[-6:], str(builder.WARN_FILL.fgColor.rgb)[-6:]]
    level = t.column_letter("level")
    assert chosen[0].formula[0].startswith(f'OR(${level}{t.first_row}="red"')
    assert chosen[1].formula[0] == f'${level}{t.first_row}="amber"'
    assert layout.PROBLEM_MMR_MISSING in chosen[0].formula[0]


def test_closest_block_never_refers_to_its_own_cells() -> None:
    """Plainly acyclic: no formula of the closest-to-liquidation table names a cell of the
    table's helper column (it once did, inside ROWS(D$22:D22), which a second engine read as
    a cycle)."""
    import re

    wb = builder.build_workbook(layout.TEMPLATES["credit-risk-assessment"])
    ws = wb[layout.DASHBOARD.title]
    t = layout.DASHBOARD.table("closest")
    own = t.column_letter("row")
    for row in range(t.first_row, t.last_row + 1):
        formula = str(ws[f"{own}{row}"].value)
        assert not re.search(rf"\$?{own}\$?\d", formula), formula
        assert f"ROW()-{t.first_row - 1}" in formula

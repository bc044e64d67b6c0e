"""The Prices sheet as a person sees it: every price column visible, assets named in yellow
header cells the trader types into, no formula reaching past its own sheet's capacity."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from addin.workbook import builder, layout

SHEET = layout.PRICES


def test_no_hidden_helper_column_hides_a_shown_one() -> None:
    """A column is hidden for the whole sheet: a helper column of one table must not sit over
    a shown column of another (a hidden per-position helper once hid two close columns)."""
    for sheet in layout.ALL_SHEETS:
        if sheet.hidden:
            continue
        hidden = {i for t in sheet.tables for i, c in enumerate(t.columns) if c.hidden}
        shown = {i for t in sheet.tables for i, c in enumerate(t.columns) if not c.hidden}
        assert not hidden & shown, sheet.key


def test_asset_headers_are_inputs(tmp_path: Path) -> None:
    builder.build_all(tmp_path)
    wb = load_workbook(tmp_path / layout.TEMPLATES["credit-risk-assessment"].filename)
    ws = wb[SHEET.title]
    table = SHEET.table("prices")
    for k in range(1, layout.PRICE_ASSETS + 1):
        col = table.column_index(f"close_{k}")
        head = ws.cell(table.header_row, col)
        assert head.value == f"Asset {k}"
        assert head.protection.locked is False and head.fill.fgColor.rgb.endswith("FFF2CC")
        assert not ws.column_dimensions[head.column_letter].hidden
    assert ws.cell(table.header_row, table.column_index("date")).protection.locked is not False
    # Printed, the pages after the first are closes: they repeat the closes' header.
    assert ws.print_title_rows.replace("$", "") == f"{table.header_row}:{table.header_row}"
    # The sheet sits right after Volatility & VaR, whose settings its formulas read.
    names = [s.key for s in layout.ALL_SHEETS]
    assert names.index("prices") == names.index("volatility") + 1

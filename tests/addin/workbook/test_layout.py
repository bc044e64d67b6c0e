"""The declarative layout is consistent: names unique and valid, tables not overlapping."""

from __future__ import annotations

import re

import pytest

from addin.workbook import layout

CELL_LIKE = re.compile(r"^[A-Za-z]{1,3}[0-9]+$|^[RrCc][0-9]*$")


def all_names() -> list[str]:
    return [name for sheet in layout.ALL_SHEETS for name, _ in layout.iter_names(sheet)]


def test_defined_names_are_unique_and_not_cell_references() -> None:
    names = all_names()
    assert len(names) == len(set(n.upper() for n in names))
    for name in names:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), name
        assert not CELL_LIKE.match(name), name


@pytest.mark.parametrize("sheet", layout.ALL_SHEETS, ids=lambda s: s.key)
def test_tables_sit_below_fields_without_overlap(sheet: layout.Sheet) -> None:
    row = layout.FIRST_FIELD_ROW + len(sheet.fields)
    for table in sheet.tables:
        assert table.header_row > row
        keys = [c.key for c in table.columns]
        assert len(keys) == len(set(keys))
        row = table.last_row


def test_every_template_names_known_sheets_and_has_unique_files() -> None:
    files = [t.filename for t in layout.TEMPLATES.values()]
    assert len(files) == len(set(files))
    for template in layout.TEMPLATES.values():
        assert set(template.sheets) <= set(layout.SHEETS)
        assert layout.template_for_tag(template.tag) is template
    assert layout.template_for_tag("credit-risk-assessment@999") is None
    assert layout.template_for_tag("nonsense") is None


def test_field_and_column_lookups_agree_with_positions() -> None:
    positions = layout.POSITIONS.table("positions")
    assert positions.column_letter("exchange") == "A"
    assert positions.name_of("entry_price") == "Pos_EntryPrice"
    assert layout.POSITIONS.field_cell("leverage_cap") == f"B{layout.FIRST_FIELD_ROW}"
    with pytest.raises(KeyError):
        positions.column("no_such_column")

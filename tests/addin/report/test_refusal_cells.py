"""A refusal of riskfuncs reaches the trader with its sheet and cell, taken from the error's
structured fields (argument, position), never by re-running riskfuncs' checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from addin.reader import WorkbookError, read_filled_workbook
from addin.report import assess_file, pipeline
from riskfuncs import RiskInputError
from tests.addin.report.workbooks import sample_book


def test_the_refused_position_is_named_by_cell(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    book_path = sample_book(tmp_path / "book.xlsx")
    book = read_filled_workbook(book_path)
    table = book.tables["positions"]
    refusal = RiskInputError("collateral (row 12) must be >= 0 (got -5)", argument="collateral",
                             position=1, value=-5.0, rule="be >= 0")

    def refuse(*args: object, **kwargs: object) -> None:
        raise refusal

    monkeypatch.setattr(pipeline, "assess_book", refuse)
    with pytest.raises(WorkbookError) as info:
        assess_file(book_path)
    sheet, cell = book.table_cell("positions", "collateral", int(table.index[1]))
    assert str(info.value) == (f"book.xlsx: {sheet}!{cell}: collateral (row 12) must be >= 0 "
                               "(got -5)")
    # Without a position (a book-wide rule) the line is the refusal itself.
    monkeypatch.setattr(pipeline, "assess_book", lambda *a, **k: (_ for _ in ()).throw(
        RiskInputError("scenarios must be unique")))
    with pytest.raises(WorkbookError, match=r"^book.xlsx: scenarios must be unique$"):
        assess_file(book_path)

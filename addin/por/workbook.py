"""A checked proof of reserves written into a workbook's Exchange Scorecard.

``perprisk por verify PROOF --workbook BOOK.xlsx`` lays the result over the exchange's row of
the Exchanges table (a new row when the exchange is not listed): *Proof of reserves checked*
(verified or failed), *Proof date*, *Reserve ratio*, *Proof failed at*, and the *Proof of
reserves* sub-score when the check gives one (0 for a failed proof; from the reserve ratio and
the snapshot's age for a verified one). The other sub-scores are left as they are. The workbook
is read first by perprisk's own reader (its template, version and limits), then written with
openpyxl, keeping its formulas, validations, formats and charts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from addin.por.verify import ProofError
from addin.workbook import layout

__all__ = ["write_proof"]

#: Row keys ``scorecard_row`` gives, written into the Exchanges table's columns of that name.
PROOF_COLUMNS = ("proof_of_reserves_checked", "proof_of_reserves_date", "reserve_ratio",
                 "proof_of_reserves_failed_at")


def _same_venue(a: Any, b: str) -> bool:
    from riskfuncs.venues import venue_name

    return isinstance(a, str) and a.strip() != "" and venue_name(a) == venue_name(b)


def write_proof(path: Path, row: Mapping[str, Any]) -> int:
    """Write ``row`` (from :func:`addin.por.verify.scorecard_row`) into the workbook at
    ``path``; returns the Exchanges table row (1 = first) it went to.

    Raises :class:`ProofError` (one line naming the file) when the file is not a current
    perprisk workbook with an Exchange Scorecard, or its Exchanges table is full.
    """
    from openpyxl import load_workbook

    from addin.reader import WorkbookError, read_filled_workbook

    name = path.name
    try:
        book = read_filled_workbook(path)
    except (WorkbookError, OSError) as exc:
        raise ProofError(str(exc).splitlines()[0] if str(exc) else f"{name}: cannot read it"
                         ) from None
    if "scorecard" not in layout.sheet_closure(book.template.sheets):
        raise ProofError(f"{name}: template {book.template.id} has no Exchange Scorecard sheet")
    sheet, table = layout.SCORECARD, layout.SCORECARD.table("exchanges")
    wb = load_workbook(path)
    ws = wb[sheet.title]
    column = table.column_index
    exchange = str(row["exchange"])
    rows = range(table.first_row, table.first_row + table.rows)
    target = next((r for r in rows if _same_venue(ws.cell(r, column("exchange")).value,
                                                  exchange)), None)
    if target is None:
        target = next((r for r in rows if ws.cell(r, column("exchange")).value in (None, "")),
                      None)
        if target is None:
            raise ProofError(f"{name}: {sheet.title} {table.title} is full ({table.rows} rows) "
                             f"and does not list {exchange}")
        ws.cell(target, column("exchange")).value = exchange
    values: dict[str, Any] = {
        "proof_of_reserves_checked": row["proof_of_reserves_checked"],
        "proof_of_reserves_date": (dt.date.fromisoformat(row["proof_of_reserves_date"])
                                   if row.get("proof_of_reserves_date") else None),
        "reserve_ratio": row.get("reserve_ratio"),
        "proof_of_reserves_failed_at": row.get("proof_of_reserves_failed_at"),
    }
    if "proof_of_reserves" in row:
        values["proof_of_reserves"] = row["proof_of_reserves"]
    for key, value in values.items():
        cell = ws.cell(target, column(key))
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # the verifier's words, never a formula
            cell.quotePrefix = value.startswith(("=", "+", "-", "@"))
    try:
        wb.save(path)
    except OSError as exc:
        raise ProofError(f"{name}: cannot write the workbook ({exc.strerror or exc})") from None
    return target - table.first_row + 1

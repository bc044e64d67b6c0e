"""``perprisk fetch --out BOOK.xlsx`` fills the Prices sheet: one close column per asset held,
from the daily bars fetch reads for every symbol, and the report's book VaR says what it
covers. (The recordings hold a few bars per venue, served for every symbol: this checks where
the bars go, not what they say.)"""

from __future__ import annotations

from typing import Any

from addin.reader import read_filled_workbook
from addin.report.pipeline import assess_book
from addin.workbook import layout
from tests.addin.fetch.conftest import VENUES
from tests.addin.fetch.replay_server import ReplayServer


def test_every_asset_held_gets_a_price_column(run_fetch: Any, replay: ReplayServer,
                                              keys_env: Any) -> None:
    run = run_fetch(*VENUES, out="book.xlsx")
    assert run.path.is_file(), run.err
    book = read_filled_workbook(run.path)
    held = {str(s).partition("/")[0].upper() for s in book.tables["positions"]["symbol"]}
    names = [book.headers[("prices", f"close_{k}")] for k in range(1, layout.PRICE_ASSETS + 1)]
    named = {n for n in names if n and not str(n).startswith("Asset ")}
    assert named == held
    prices = book.tables["prices"]
    for k, name in enumerate(names, start=1):
        if name in held:
            assert prices[f"close_{k}"].notna().sum() >= 1, name
    assert book.ok, book.problems
    risk = assess_book(book).book_risk
    assert set(risk.covered) | set(risk.missing) == held
    assert risk.covered_value <= risk.book_value

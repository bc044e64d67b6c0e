"""Blank templates built once, and each template filled with seeded random input and
recalculated in LibreOffice once per test session (one soffice call for all of them)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from addin.workbook import builder, layout, recalc
from riskfuncs.portfolio import portfolio_margin
from tests.addin.workbook.inputs import Book, Extra, fill, portfolio_frame, random_book

POSITIONS = 220  # the issue asks for at least 200 random positions per template
SEEDS = {template_id: 1000 + i for i, template_id in enumerate(layout.TEMPLATES)}
FULL = "credit-risk-assessment"
LOG_VARIANT = "credit-risk-assessment (log returns)"
BLANK = "credit-risk-assessment (blank)"
FEW = "credit-risk-assessment (few positions)"


@dataclass
class Filled:
    """One template filled with known input, and its LibreOffice recalculation."""

    template: layout.Template
    book: Book
    extra: Extra
    filled: Path
    result: Workbook  # recalculated, data_only

    def sheet(self, key: str) -> object:
        return self.result[layout.SHEETS[key].title]


@pytest.fixture(scope="session")
def blank_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blank")
    builder.build_all(out)
    return out


def custom_scenarios() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenarios that touch the book: a USDT haircut, a venue default, a funding spike."""
    rows = pd.DataFrame([
        {"name": "USDT -10%", "haircut_currency": "USDT", "haircut": 0.10, "weight": 1.0,
         "horizon_hours": 24},
        {"name": "Binance fails", "default_exchange": "binance", "default_lgd": 0.6,
         "weight": 0.5, "horizon_hours": 24},
        {"name": "Funding spike", "funding_rate": 0.002, "funding_intervals": 9,
         "horizon_hours": 72},
    ])
    moves = pd.DataFrame([
        {"scenario": "Binance fails", "asset": "BTC", "move": -0.10},
        {"scenario": "Funding spike", "asset": "ETH", "move": 0.20},
        {"scenario": "Funding spike", "asset": "DOGE", "move": -0.35},
    ])
    return rows, moves


def price_history(rng: np.random.Generator, n: int) -> pd.DataFrame:
    returns = rng.standard_t(4, n) * 0.03
    prices = 60_000 * np.exp(np.cumsum(np.concatenate([[0.0], returns[1:]])))
    start = dt.datetime(2026, 1, 1)
    return pd.DataFrame({"date": [start + dt.timedelta(days=i) for i in range(n)],
                         "price": prices})


def extra_input(book: Book, seed: int) -> Extra:
    rng = np.random.default_rng(seed + 7)
    scen, moves = custom_scenarios()
    positions = book.positions
    exchanges = sorted(set(positions["exchange"]))
    factors = {f: rng.uniform(0, 1, len(exchanges)).round(4) for f in layout.FACTORS}
    score_rows = pd.DataFrame({"exchange": exchanges, **factors,
                               "loss_given_default": rng.uniform(0.2, 1.0, len(exchanges))})
    funded = positions.index[(positions["symbol"] == "BTC/USDT:USDT")][0]
    log = pd.DataFrame({
        "time": [dt.datetime(2026, 3, 1) + dt.timedelta(hours=8 * i) for i in range(200)],
        "rate": rng.normal(0.0001, 0.0003, 200),
        "mark_price": 60_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 200))),
    })
    overrides = pd.DataFrame({"volatility": np.where(rng.random(len(positions)) < 0.3,
                                                     rng.uniform(0.3, 1.5, len(positions)),
                                                     np.nan)})
    return Extra(
        tables={
            ("stress", "scenarios"): scen,
            ("stress", "moves"): moves,
            ("volatility", "history"): price_history(rng, 320),
            ("volatility", "probability"): overrides,
            ("scorecard", "exchanges"): score_rows,
            ("funding", "log"): log,
        },
        fields={
            ("volatility", "horizon_periods"): 10,
            ("volatility", "probability_days"): 3,
            ("volatility", "drift"): 0.05,
            ("funding", "position_row"): int(funded) + 1,
            ("audit", "date"): dt.datetime(2026, 11, 20),
        },
        append=(("stress", "scenarios"), ("stress", "moves")),
    )


def few_positions(book: Book) -> Book:
    """Fewer positions than the Dashboard ranks: isolated rows of ``book`` (their figures do
    not depend on the rows left out) with two past liquidation, one that can never be
    liquidated, and one row twice (a tie the ranking must not repeat)."""
    isolated = book.positions[book.positions["margin_mode"] == "isolated"]
    distance = portfolio_margin(portfolio_frame(Book(isolated, book.tiers)),
                                tiers=book.tiers)["distance_to_liquidation"]
    past = list(isolated.index[(distance <= 0).to_numpy()][:2])
    never = list(isolated.index[(distance == np.inf).to_numpy()][:1])
    others = list(isolated.index[(np.isfinite(distance) & (distance > 0)).to_numpy()][:5])
    rows = [*others[:3], past[0], others[1], *never, *others[3:], *past[1:]]
    return Book(book.positions.loc[rows].reset_index(drop=True), book.tiers)


MANUAL_ANSWERS = ("yes", "no", "n/a", "", "yes", "no")


def _answers(path: Path) -> None:
    """Tick the manual checks (the answer column sits between computed columns)."""
    wb = load_workbook(path)
    if layout.AUDIT.title in wb.sheetnames:
        ws, table = wb[layout.AUDIT.title], layout.AUDIT.table("checks")
        col = table.column_index("answer")
        for i in range(table.rows):
            ws.cell(table.first_row + i, col).value = MANUAL_ANSWERS[i % 6] or None
        wb.save(path)


@pytest.fixture(scope="session")
def recalculated(blank_dir: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[dict[str, Filled]]:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("filled")
    prepared = []
    for template in layout.TEMPLATES.values():
        seed = SEEDS[template.id]
        book = random_book(POSITIONS, seed)
        extra = extra_input(book, seed)
        path = work / template.filename
        fill(blank_dir / template.filename, path, book, extra)
        _answers(path)
        prepared.append((template.id, template, book, extra, path))
    # The complete workbook once more with log returns, in the same LibreOffice run.
    template = layout.TEMPLATES[FULL]
    book = random_book(POSITIONS, 77)
    extra = extra_input(book, 77)
    extra.fields[("volatility", "return_kind")] = "log"
    path = work / "log-returns.xlsx"
    fill(blank_dir / template.filename, path, book, extra)
    prepared.append((LOG_VARIANT, template, book, extra, path))
    # A handful of positions, fewer than the Dashboard's ranking holds.
    few = few_positions(book)
    path = work / "few-positions.xlsx"
    fill(blank_dir / template.filename, path, few)
    prepared.append((FEW, template, few, Extra({}, {}), path))
    # And the blank workbook as built: every formula must cope with empty input.
    blank = work / "blank.xlsx"  # its own name: outputs are named after their inputs
    shutil.copyfile(blank_dir / template.filename, blank)
    prepared.append((BLANK, template, Book(book.positions.iloc[:0], {}), Extra({}, {}), blank))
    outputs = recalc.recalculate([p for *_, p in prepared], work / "recalculated")
    yield {
        key: Filled(template, book, extra, path, load_workbook(out, data_only=True))
        for (key, template, book, extra, path), out in zip(prepared, outputs, strict=True)
    }

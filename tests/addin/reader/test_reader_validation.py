"""Reading filled workbooks: problems named by sheet and cell, the file never touched."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from addin.cli import main
from addin.reader import describe, read_filled_workbook
from addin.report import assess_file
from addin.workbook import layout
from tests.addin.report.workbooks import book_from_positions, cell, sample_book

# Binance's liquidation calculator, two longs sharing a cross wallet of 1,535,443.01 USDT (as
# stored in freqtrade's tests/exchange/test_binance.py, "From calc example"): ETHUSDT
# liquidates at 1,153.26 and BTCUSDT at 26,316.89; the calculator shows 2 decimals.
BINANCE_CROSS = [
    {"exchange": "binanceusdm", "symbol": "ETH/USDT:USDT", "side": "long",
     "contracts": 3683.979, "entryPrice": 1456.84, "markPrice": 1335.18,
     "collateral": 1535443.01, "marginMode": "cross", "leverage": 10,
     "maintenanceMarginPercentage": 0.1, "maintenanceAmount": 135365},
    {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "side": "long",
     "contracts": 109.488, "entryPrice": 32481.98, "markPrice": 31967.27,
     "collateral": 1535443.01, "marginMode": "cross", "leverage": 10,
     "maintenanceMarginPercentage": 0.025, "maintenanceAmount": 16300},
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_book(tmp_path_factory.mktemp("books") / "sample.xlsx")


def test_the_filled_sample_is_clean(sample: Path) -> None:
    book = read_filled_workbook(sample)
    assert book.problems == []
    assert book.template.tag == layout.TEMPLATES["credit-risk-assessment"].tag
    assert len(book.tables["positions"]) == 6


def test_reading_and_reporting_never_touch_the_file(sample: Path) -> None:
    before = (hashlib.sha256(sample.read_bytes()).hexdigest(), sample.stat().st_mtime_ns)
    read_filled_workbook(sample)
    assess_file(sample)
    assert main(["check", str(sample)]) == 0
    after = (hashlib.sha256(sample.read_bytes()).hexdigest(), sample.stat().st_mtime_ns)
    assert before == after


def test_published_liquidation_prices_through_the_workbook(tmp_path: Path) -> None:
    path = tmp_path / "binance.xlsx"
    export = [dict(p) for p in BINANCE_CROSS]
    book_from_positions(path, export)
    wb = load_workbook(path)
    sheet, address = cell("maintenance_amount")
    wb[sheet][address] = 135365.0  # ccxt positions carry no maintenance amount: typed in
    wb[sheet][cell("maintenance_amount", 1)[1]] = 16300.0
    wb.save(path)
    outcome = assess_file(path)
    assert outcome.assessment is not None, outcome.book.problems
    by_symbol = {p.symbol: p for p in outcome.assessment.positions}
    assert by_symbol["ETH/USDT:USDT"].liquidation_price == pytest.approx(1153.26, abs=0.005)
    assert by_symbol["BTC/USDT:USDT"].liquidation_price == pytest.approx(26316.89, abs=0.005)


def _break(path: Path, edits: dict[str, object]) -> None:
    wb = load_workbook(path)
    ws = wb[layout.POSITIONS.title]
    for address, value in edits.items():
        ws[address] = value
    wb.save(path)


def test_every_problem_is_named_by_sheet_and_cell(sample: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(sample.read_bytes())
    sheet, entry = cell("entry_price", 0)
    planted = {
        entry: "abc",
        cell("side", 1)[1]: "sideways",
        cell("exchange", 2)[1]: 42,
        cell("size", 3)[1]: -1,
        cell("mark_price", 4)[1]: None,
        cell("leverage", 5)[1]: -2,
        cell("liquidation_price", 0)[1]: 12345.0,  # a formula overwritten by a value
    }
    _break(path, planted)
    problems = [str(p) for p in read_filled_workbook(path).problems]
    def rule(key: str) -> str:
        return describe(layout.POSITIONS.table("positions").column(key).rule)

    expected = {
        entry: f"Entry price: 'abc' is text, not a number; expected {rule('entry_price')}",
        cell("side", 1)[1]: "Side: 'sideways' is not an allowed value; expected one of long, short",
        cell("exchange", 2)[1]: "Exchange: 42 is a number, not a venue name; expected a venue name",
        cell("size", 3)[1]: f"Size: -1 is too small; expected {rule('size')}",
        cell("mark_price", 4)[1]: f"Mark price is empty; expected {rule('mark_price')}",
        cell("leverage", 5)[1]: f"Leverage: -2 is too small; expected {rule('leverage')}",
        cell("liquidation_price", 0)[1]: "the formula of 'Liq. price' was replaced by the value "
                                         "12345",
    }
    for address, text in expected.items():
        assert any(p.startswith(f"{sheet}!{address}: ") and text in p for p in problems), (
            address, problems)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{sheet}!{entry}: Entry price" in out
    assert main(["report", str(path)]) == 1  # no report on invalid inputs


def test_cross_sheet_checks(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "tiers.xlsx"
    path.write_bytes(sample.read_bytes())
    sheet, tier = cell("tier_table", 2)
    _break(path, {tier: "no such table", cell("maintenance_margin_rate", 2)[1]: None,
                  cell("collateral", 3)[1]: 12.0})  # rows 2 and 3 share a bybit cross wallet
    problems = [str(p) for p in read_filled_workbook(path).problems]
    assert any(p.startswith(f"{sheet}!{tier}: tier table 'no such table' is not on the Tiers")
               for p in problems), problems
    collateral = cell("collateral", 3)[1]
    assert any(p.startswith(f"{sheet}!{collateral}: cross collateral 12 differs") for p in problems)


def test_report_ignores_cached_formula_values(sample: Path, tmp_path: Path) -> None:
    """A stale cached result in the file (as Excel leaves after an edit) is never used."""
    path = tmp_path / "stale.xlsx"
    sheet_title, address = cell("liquidation_price", 0)
    with zipfile.ZipFile(sample) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                # give the liquidation-price formula cell a cached value of 1.0
                data = re.sub(rb'(<c r="' + address.encode() + rb'"[^>]*>)(<f>[^<]*</f>)<v\s*/?>'
                              rb'(?:</v>)?', rb"\1\2<v>1</v>", data)
            dst.writestr(info, data)
    assert b"<v>1</v>" in b"".join(zipfile.ZipFile(path).read(n) for n in zipfile.ZipFile(
        path).namelist() if n.startswith("xl/worksheets/"))
    stale = assess_file(path).assessment
    fresh = assess_file(sample).assessment
    assert stale is not None and fresh is not None
    row = int(address[len(address.rstrip("0123456789")):])
    figure = next(p for p in stale.positions if p.row == row)
    assert figure.liquidation_price != 1.0
    assert figure.liquidation_price == next(
        p.liquidation_price for p in fresh.positions if p.row == row)
    assert sheet_title == layout.POSITIONS.title


def _table_cell(sheet_key: str, table_key: str, column: str, index: int = 0) -> tuple[str, str]:
    sheet = layout.SHEETS[sheet_key]
    table = sheet.table(table_key)
    return sheet.title, f"{table.column_letter(column)}{table.first_row + index}"


def _edit(path: Path, edits: dict[tuple[str, str], object]) -> None:
    wb = load_workbook(path)
    for (title, address), value in edits.items():
        wb[title][address] = value
    wb.save(path)


def test_symbols_scenario_names_and_factors_are_checked(sample: Path, tmp_path: Path) -> None:
    """Inputs riskfuncs would refuse are named by cell instead of failing the report."""
    path = tmp_path / "names.xlsx"
    path.write_bytes(sample.read_bytes())
    symbol = cell("symbol", 0)
    name_2 = _table_cell("stress", "scenarios", "name", 1)
    factor = _table_cell("scorecard", "weights", "factor", 0)
    wb = load_workbook(path)
    first_name = wb[name_2[0]][_table_cell("stress", "scenarios", "name", 0)[1]].value
    _edit(path, {symbol: "BTCUSDT", name_2: f" {str(first_name).upper()} ", factor: "hype"})
    problems = [str(p) for p in read_filled_workbook(path).problems]
    expected = {
        symbol: "'BTCUSDT' is not a ccxt symbol",
        name_2: "is already named in row",
        factor: "'hype' is not a score factor; expected one of proof_of_reserves,",
    }
    for (title, address), text in expected.items():
        assert any(p.startswith(f"{title}!{address}: ") and text in p for p in problems), (
            address, problems)


def test_inverse_symbol_must_settle_in_its_coin(sample: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inverse.xlsx"
    path.write_bytes(sample.read_bytes())
    _edit(path, {cell("contract", 0): "inverse", cell("symbol", 0): "BTC/USDT:USDT"})
    assert main(["report", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{'!'.join(cell('symbol', 0))}: inverse contract 'BTC/USDT:USDT' does not settle" in err
    assert "Traceback" not in err


def test_a_move_must_name_a_listed_scenario(sample: Path, tmp_path: Path) -> None:
    """Excel's lookups ignore case, so the report does too; a move naming no scenario would
    leave that scenario without its move (a loss of zero) and is a problem."""
    path = tmp_path / "moves.xlsx"
    path.write_bytes(sample.read_bytes())
    move = _table_cell("stress", "moves", "scenario", 0)
    wb = load_workbook(path)
    named = str(wb[move[0]][move[1]].value)
    _edit(path, {move: named.lower()})
    lowered = assess_file(path).assessment
    fresh = assess_file(sample).assessment
    assert lowered is not None and fresh is not None
    loss = {s.name: s.loss for s in fresh.scenarios}
    assert loss[named] > 0
    assert {s.name: s.loss for s in lowered.scenarios} == loss
    _edit(path, {move: "no such scenario"})
    problems = [str(p) for p in read_filled_workbook(path).problems]
    assert problems == [f"{move[0]}!{move[1]}: scenario 'no such scenario' is not in the "
                        "Scenarios table; expected the name of a scenario listed above"]


def test_funding_follows_the_table_row_not_the_filled_count(sample: Path,
                                                            tmp_path: Path) -> None:
    """The Funding sheet reads row n of the Positions table (INDEX(Pos_..., n)); a blank row
    above must not shift it onto another position."""
    fresh = assess_file(sample).assessment
    assert fresh is not None and fresh.funding is not None
    table = layout.POSITIONS.table("positions")
    path = tmp_path / "gap.xlsx"
    path.write_bytes(sample.read_bytes())
    _edit(path, {cell(c.key, 0): None for c in table.inputs()})
    gap = assess_file(path).assessment
    assert gap is not None
    assert gap.funding is None
    assert any("funding needs a position in row 1 " in n for n in gap.notes), gap.notes
    second = tmp_path / "second.xlsx"
    second.write_bytes(sample.read_bytes())
    wb = load_workbook(second)
    (title, ref), = list(wb.defined_names["Fund_PositionRow"].destinations)
    wb[title][ref.replace("$", "")] = 2
    wb.save(second)
    shifted = assess_file(second).assessment
    assert shifted is not None and shifted.funding is not None
    row_2 = next(p for p in fresh.positions if p.row == table.first_row + 1)
    assert shifted.funding.position.startswith(f"{row_2.symbol} {row_2.side}")

"""No silent zero: a blank or textual maintenance rate, or a tier table that does not exist,
shows in its row (figures and Alert) as the problem it is, recalculated in LibreOffice."""

from __future__ import annotations

from typing import Any

import pytest
from openpyxl import load_workbook

from addin.workbook import layout, recalc
from tests.addin.report.workbooks import book_from_positions

pytestmark = pytest.mark.libreoffice

ROW = {"exchange": "binance", "side": "long", "contracts": 1.0, "contractSize": 1.0,
       "entryPrice": 60000.0, "markPrice": 61000.0, "collateral": 10000.0,
       "marginMode": "isolated", "maintenanceMarginRate": 0.004, "leverage": 5.0}
SHOWN = ("maintenance_margin", "liquidation_price", "distance_to_liquidation",
         "margin_ratio", "margin_buffer", "alert")


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, layout.Table]:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    tmp = tmp_path_factory.mktemp("problems")
    rows = [
        {**ROW, "symbol": "BTC/USDT:USDT"},  # 0: fine
        {**ROW, "symbol": "ETH/USDT:USDT"},  # 1: MMR cleared
        {**ROW, "symbol": "SOL/USDT:USDT"},  # 2: MMR typed as text
        {**ROW, "symbol": "DOGE/USDT:USDT"},  # 3: misspelt tier table
        {**ROW, "exchange": "bybit", "symbol": "XRP/USDT:USDT", "marginMode": "cross"},  # 4
        {**ROW, "exchange": "bybit", "symbol": "ADA/USDT:USDT", "marginMode": "cross"},  # 5
    ]
    path = book_from_positions(tmp / "problems.xlsx", rows)
    wb = load_workbook(path)
    ws = wb[layout.POSITIONS.title]
    t = layout.POSITIONS.table("positions")

    def at(key: str, i: int) -> str:
        return f"{t.column_letter(key)}{t.first_row + i}"

    ws[at("maintenance_margin_rate", 1)] = None
    ws[at("maintenance_margin_rate", 2)] = "0.5%"
    ws[at("maintenance_margin_rate", 3)] = None
    ws[at("tier_table", 3)] = "binance-doge-typo"
    ws[at("maintenance_margin_rate", 4)] = None  # the cross account's sibling (5) is unknown too
    wb.save(path)
    out = recalc.recalculate([path], tmp / "out")[0]
    return load_workbook(out, data_only=True)[layout.POSITIONS.title], t


def _row(ws: Any, t: layout.Table, i: int) -> dict[str, Any]:
    return {key: ws[f"{t.column_letter(key)}{t.first_row + i}"].value for key in SHOWN}


@pytest.mark.parametrize(("index", "problem"), [
    (1, layout.PROBLEM_MMR_MISSING), (2, layout.PROBLEM_MMR_TEXT),
    (3, layout.PROBLEM_TIER_MISSING), (4, layout.PROBLEM_MMR_MISSING),
    (5, layout.PROBLEM_ACCOUNT),
])
def test_the_row_shows_its_problem_not_a_zero_maintenance(
        recalculated: tuple[Any, layout.Table], index: int, problem: str) -> None:
    ws, t = recalculated
    assert _row(ws, t, index) == dict.fromkeys(SHOWN, problem)


def test_a_complete_row_is_computed_and_no_cell_is_an_error(
        recalculated: tuple[Any, layout.Table]) -> None:
    ws, t = recalculated
    fine = _row(ws, t, 0)
    assert fine["maintenance_margin"] == pytest.approx(61000.0 * 0.004)
    assert isinstance(fine["liquidation_price"], float) and fine["liquidation_price"] > 0
    errors = [cell.coordinate for row in ws.iter_rows() for cell in row
              if isinstance(cell.value, str) and cell.value.startswith(("#", "Err:"))]
    assert errors == []


def test_the_dashboard_counts_problem_rows_as_alerts(
        recalculated: tuple[Any, layout.Table]) -> None:
    ws, _ = recalculated
    dash = ws.parent[layout.DASHBOARD.title]
    names = ws.parent.defined_names
    target = names["Dash_Amber"].attr_text.split("!")[1].replace("$", "")
    levels = [ws[f"{layout.POSITIONS.table('positions').column_letter('level')}"
                 f"{layout.POSITIONS.table('positions').first_row + i}"].value for i in range(6)]
    assert levels[1:] == ["amber"] * 5  # unknown is not a pass: amber, as in the report
    assert dash[target].value == levels.count("amber")


def test_the_stress_sheet_counts_problem_rows_as_unknown_never_as_zero_maintenance(
        recalculated: tuple[Any, layout.Table]) -> None:
    """A row (or cross account) whose maintenance is unknown is neither liquidated nor safe in
    any scenario: counted under Unknown (riskfuncs refuses such a row outright), and the
    liquidations are those of the rows that are known, as riskfuncs.stress_test gives them."""
    import pandas as pd

    from riskfuncs.stress import stress_test

    ws, _ = recalculated
    stress = ws.parent[layout.STRESS.title]
    t = layout.STRESS.table("scenarios")

    def col(key: str) -> list[Any]:
        return [stress[f"{t.column_letter(key)}{t.first_row + j}"].value for j in range(t.rows)]

    names = [n for n in col("name") if n]
    unknown = col("positions_unknown")[:len(names)]
    liquidated = col("positions_liquidated")[:len(names)]
    assert unknown == [5] * len(names)
    rows = [{**ROW, "symbol": s} for s in ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT",
                                           "DOGE/USDT:USDT")]
    rows += [{**ROW, "exchange": "bybit", "symbol": s, "marginMode": "cross"}
             for s in ("XRP/USDT:USDT", "ADA/USDT:USDT")]
    frame = pd.DataFrame(rows).iloc[[0]]  # the one row whose maintenance is known
    from riskfuncs.scenarios import scenario_library

    library = {s.name: s for s in scenario_library()}
    chosen = [library[n] for n in names if n in library]
    assert chosen  # the default library is on the sheet
    expected = stress_test(frame, chosen).by_scenario
    for name, liq in zip(names, liquidated, strict=True):
        if name in library:
            assert liq == expected.loc[name, "positions_liquidated"], name


def test_the_audit_buffer_check_does_not_pass_unknown_maintenance(
        recalculated: tuple[Any, layout.Table]) -> None:
    """The complete rows sit far above their maintenance; the book still fails the buffer
    check while some row's maintenance is unknown."""
    from addin.workbook.texts import load_texts

    ws, _ = recalculated
    audit = ws.parent[layout.AUDIT.title]
    t = layout.AUDIT.table("checks")
    ids = [item["id"] for item in load_texts()["audit"]]
    status = audit[f"{t.column_letter('status')}{t.first_row + ids.index('buffer')}"].value
    assert status == "FAIL"

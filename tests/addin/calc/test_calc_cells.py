"""PERP_ formulas typed into real LibreOffice Calc cells, recalculated, compared with riskfuncs.

PerpRisk.oxt is built and installed into a private profile (conftest), then one headless Calc
session fills a sheet (positions, a tier table), enters scalar formulas, array formulas over
ranges, a table argument, a table result and bad input, recalculates, saves the sheet as .ods
and .xlsx and reopens both. Every number must equal riskfuncs on the same inputs to 1e-12
(relative); every message must be the one line the Excel function shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from addin.calc.formulas import convert_workbook
from addin.calc.oxt import programmatic_name
from addin.excel import udfs
from addin.excel.errors import cell_message
from riskfuncs import RiskInputError, accounts, discipline, liquidation, margin, tiers
from tests.addin.calc.conftest import CalcSession, install_into, session_for

pytestmark = pytest.mark.libreoffice

TOLERANCE = 1e-12

# Binance USDⓈ-M BTCUSDT brackets 1-3 (public leverage-bracket table), with its header row.
TIER_ROWS: list[list[Any]] = [
    ["minNotional", "maxNotional", "maintenanceMarginRate", "maintenanceAmount", "maxLeverage"],
    [0, 50_000, 0.004, 0, 125],
    [50_000, 600_000, 0.005, 50, 100],
    [600_000, 3_000_000, 0.01, 3_050, 75],
]
TIER_FRAME = pd.DataFrame(TIER_ROWS[1:], columns=TIER_ROWS[0]).astype(float)
# Positions in B20:F24: side, entry, quantity, collateral, mark (row 22 has no mark price).
POSITIONS: list[list[Any]] = [
    ["long", 60_000.0, 0.5, 3_000.0, 61_500.0],
    ["short", 3_000.0, 2.0, 600.0, 2_950.0],
    ["long", 150.0, 40.0, 900.0, None],
    ["short", 64_000.0, 1.5, 12_000.0, 66_100.0],
    ["long", 0.52, 25_000.0, 2_000.0, 0.49],
]
SIDE, ENTRY, QTY, COLL, MARK = (np.array([row[i] for row in POSITIONS], dtype=object)
                                for i in range(5))


# A unified account in A41:F42 (positions), H41:K43 (balances) and M41:P48 (OKX's discount
# tiers for BTC with a coin column): 100 BTC at 60,000 behind a flat ETH short.
ACCOUNT_POSITIONS: list[list[Any]] = [
    ["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate"],
    ["ETH/USDT:USDT", "short", 500.0, 3_000.0, 3_000.0, 0.005]]
ACCOUNT_BALANCES: list[list[Any]] = [["coin", "balance", "price", "ratio"],
                                     ["BTC", 100.0, 60_000.0, None], ["USDT", 0.0, None, None]]
OKX_BTC_TIERS: list[list[Any]] = [["coin", "minAmount", "maxAmount", "ratio"], *(
    ["BTC", t["minAmount"], t["maxAmount"], t["ratio"]]
    for t in accounts.collateral_tiers("okx_multi_currency", "BTC"))]
ACCOUNT_TABLES = (("A", 41, ACCOUNT_POSITIONS), ("H", 41, ACCOUNT_BALANCES),
                  ("M", 41, OKX_BTC_TIERS), ("H", 45, [["coin", "balance", "price", "ratio"],
                                                        ["BTC", 100.0, 60_000.0, "okx"],
                                                        ["USDT", 0.0, None, None]]))


def _placed(column: str, row: int, grid: list[list[Any]]) -> dict[str, Any]:
    first = ord(column)
    return {f"{chr(first + c)}{row + r}": value for r, cells in enumerate(grid)
            for c, value in enumerate(cells)}


def _account_rows(mode: str) -> list[list[Any]]:
    """What PERP_ACCOUNT_MARGIN spills for the account above, from riskfuncs."""
    state = accounts.account_margin(
        pd.DataFrame(ACCOUNT_POSITIONS[1:], columns=ACCOUNT_POSITIONS[0]),
        {"BTC": 100.0, "USDT": 0.0}, mode=mode, prices={"BTC": 60_000.0},  # type: ignore[arg-type]
        collateral_tiers={"BTC": accounts.collateral_tiers("okx_multi_currency", "BTC")})
    assert state.equity == 5_785_500.0  # OKX's help page: 100 BTC at 60,000 under its tiers
    return [["equity (USD)", state.equity], ["requirement (USD)", state.requirement],
            [state.ratio_name, state.ratio], ["liquidated at", state.trigger],
            ["liquidated", "no"], ["", ""], ["symbol", "account liquidation price"],
            *([s, p] for s, p in zip(state.positions["symbol"],
                                     state.positions["account_liquidation_price"], strict=True)),
            ["", ""], ["coin", "account liquidation price"],
            *([c, p] for c, p in state.coins["account_liquidation_price"].items())]


def _account_stress_case() -> Case:
    """PERP_ACCOUNT_STRESS with the tiers range: BTC -50% halves the BTC's value (coin tiers)."""
    frame = accounts.account_stress(
        pd.DataFrame(ACCOUNT_POSITIONS[1:], columns=ACCOUNT_POSITIONS[0]),
        {"BTC": 100.0, "USDT": 0.0}, {"BTC -50%": {"BTC": -0.5}}, mode="okx_multi_currency",
        prices={"BTC": 60_000.0},
        collateral_tiers={"BTC": accounts.collateral_tiers("okx_multi_currency", "BTC")})
    assert frame["equity"].iloc[0] == 5_785_500.0 / 2
    last = chr(ord("G") + len(frame.columns))
    return Case("account stress, tiers range", f"G50:{last}51",
                '=PERP_ACCOUNT_STRESS(A41:F42;H41:K43;R41:S42;"okx_multi_currency";;M41:P48)',
                [["scenario", *frame.columns], ["BTC -50%", *frame.iloc[0].tolist()]])


def _column(values: Any) -> list[list[Any]]:
    return [[v] for v in np.asarray(values, dtype=float).ravel().tolist()]


def _message(call: Any) -> str:
    try:
        call()
    except RiskInputError as exc:
        return cell_message(exc)
    raise AssertionError("expected a RiskInputError")


@dataclass(frozen=True)
class Case:
    key: str
    target: str  # a cell, or a range for an array formula
    formula: str
    expected: list[list[Any]]  # floats, texts ("" = empty result), bools


def _cases() -> list[Case]:
    mark = np.array([np.nan if v is None else v for v in MARK], dtype=float)
    leverage = np.array([[3.0], [7.0]])
    checks = discipline.check_leverage(leverage, cap=5.0)
    check_rows = [list(checks.columns)] + [
        ["inf" if isinstance(v, float) and math.isinf(v) else v for v in row]
        for row in checks.itertuples(index=False)
    ]
    return [
        Case("notional", "A1", "=PERP_NOTIONAL(0.5;60000)",
             [[margin.notional(0.5, 60_000.0)]]),
        Case("liq binance", "A2", '=PERP_LIQ_PRICE("long";60000;0.5;3000;"binance";;0.004)',
             [[liquidation.liquidation_price("long", 60_000.0, 0.5, 3_000.0, exchange="binance",
                                             maintenance_margin_rate=0.004)]]),
        Case("liq bybit short", "A3",
             '=PERP_LIQ_PRICE("short";3000;2;600;"bybit";"linear";0.005)',
             [[liquidation.liquidation_price("short", 3_000.0, 2.0, 600.0, exchange="bybit",
                                             contract="linear", maintenance_margin_rate=0.005)]]),
        Case("initial margin inverse", "A4", '=PERP_INITIAL_MARGIN(1000;60000;10;"inverse")',
             [[margin.initial_margin(1_000.0, 60_000.0, leverage=10.0, contract="inverse")]]),
        Case("tier", "A5", "=PERP_TIER(75000;$H$20:$L$23)",
             [[float(tiers.tier_for_notional(75_000.0, TIER_FRAME))]]),
        Case("liq range", "N20:N24",
             '=PERP_LIQ_PRICE(B20:B24;C20:C24;D20:D24;E20:E24;"bybit";;0.005)',
             _column(liquidation.liquidation_price(
                 SIDE.astype(str), ENTRY.astype(float), QTY.astype(float), COLL.astype(float),
                 exchange="bybit", maintenance_margin_rate=0.005))),
        Case("pnl range, one mark missing", "O20:O24",
             "=PERP_UNREALIZED_PNL(B20:B24;C20:C24;F20:F24;D20:D24)",
             [["" if math.isnan(v[0]) else v[0]] for v in _column(margin.unrealized_pnl(
                 SIDE.astype(str), ENTRY.astype(float), mark, QTY.astype(float)))]),
        Case("maintenance from a tier table", "P20:P24",
             "=PERP_MAINT_MARGIN(D20:D24;C20:C24;;;$H$20:$L$23)",
             _column(margin.maintenance_margin(QTY.astype(float), ENTRY.astype(float),
                                               tiers=TIER_FRAME))),
        Case("check table", "A30:F32", "=PERP_CHECK_LEVERAGE(B35:B36;5)", check_rows),
        # A stored haircut table spilled, then read back as the tiers of another function.
        Case("collateral tiers", "R20:T27", '=PERP_COLLATERAL_TIERS("okx_multi_currency";"BTC")',
             [["minAmount", "maxAmount", "ratio"], *(
                 [r["minAmount"], r["maxAmount"], r["ratio"]]
                 for r in accounts.collateral_tiers("okx_multi_currency", "BTC"))]),
        Case("collateral value of the spilled tiers", "A10",
             "=PERP_COLLATERAL_VALUE(100;60000;R20:T27)",
             [[accounts.collateral_value(100.0, 60_000.0, accounts.collateral_tiers(
                 "okx_multi_currency", "BTC"))]]),
        Case("account margin, tiers range", "A50:B61",
             '=PERP_ACCOUNT_MARGIN(A41:F42;H41:K43;"okx_multi_currency";;M41:P48)',
             _account_rows("okx_multi_currency")),
        Case("account margin, stored table by venue", "D50:E61",
             '=PERP_ACCOUNT_MARGIN(A41:F42;H45:K47;"bybit_uta")', _account_rows("bybit_uta")),
        _account_stress_case(),
        Case("account margin, a gap in the tiers", "A63",
             '=PERP_ACCOUNT_MARGIN(A41:F42;H41:K43;"okx_multi_currency";;U41:X44)',
             [["collateral_tiers BTC (row 3) must start at 0 and each tier end where the next "
               "begins"]]),
        Case("bad quantity", "A6", "=PERP_NOTIONAL(-1;60000)",
             [[_message(lambda: margin.notional(-1.0, 60_000.0))]]),
        Case("bad leverage", "A7", "=PERP_INITIAL_MARGIN(1;60000;-5)",
             [[_message(lambda: margin.initial_margin(1.0, 60_000.0, leverage=-5.0))]]),
        Case("bad side", "A8", '=PERP_LIQ_PRICE("sideways";60000;0.5;3000)',
             [[udfs.PERP_LIQ_PRICE([["sideways"]], [[60_000.0]], [[0.5]], [[3_000.0]])]]),
        Case("required argument missing", "A9", "=PERP_NOTIONAL(0.5)", [["price is required"]]),
        # One message for the call; Calc repeats a single value over the array range.
        Case("bad quantity in a range", "N26:N27", "=PERP_NOTIONAL(B26:B27;C26:C27)",
             [[_message(lambda: margin.notional(np.array([[1.0], [-2.0]]), 100.0))]] * 2),
    ]


CASES = _cases()
DATA: dict[str, Any] = {
    **{f"{col}{20 + r}": value for r, row in enumerate(POSITIONS)
       for col, value in zip("BCDEF", row, strict=True)},
    **{f"{col}{20 + r}": value for r, row in enumerate(TIER_ROWS)
       for col, value in zip("HIJKL", row, strict=True)},
    "B26": 1.0, "B27": -2.0, "C26": 100.0, "C27": 100.0, "B35": 3.0, "B36": 7.0,
    **{address: value for column, row, grid in ACCOUNT_TABLES
       for address, value in _placed(column, row, grid).items()},
    "R41": "name", "S41": "BTC", "R42": "BTC -50%", "S42": -0.5,
    # U41:X44: OKX's first three tiers, the third starting at 26, not 25: a gap
    **_placed("U", 41, [*OKX_BTC_TIERS[:3], ["BTC", 26.0, 30.0, 0.97]]),
}
KEPT = ("A1", "A2", "N20:N24", "P20:P24")  # read again after saving and reopening


def _formula_step(case: Case) -> dict[str, Any]:
    if ":" in case.target:
        return {"do": "array", "range": case.target, "formula": case.formula}
    return {"do": "formula", "cell": case.target, "formula": case.formula}


EXCEL_FORMULAS = {
    "A1": "=PERP_NOTIONAL(0.5,60000)",
    "A2": '=PERP_LIQ_PRICE("long",60000,0.5,3000,"binance",,0.004)',
    "A3": '=LEN("PERP_NOTIONAL(")',
}


def _excel_workbook(path: Path) -> Path:
    """A workbook as Excel stores PERP_ formulas (written by openpyxl), with an array formula."""
    from openpyxl import Workbook
    from openpyxl.worksheet.formula import ArrayFormula

    book = Workbook()
    sheet = book.active
    for address, formula in EXCEL_FORMULAS.items():
        sheet[address] = formula
    for address, value in {"B4": 0.5, "B5": 2.0, "C4": 60_000.0, "C5": 3_000.0}.items():
        sheet[address] = value
    sheet["A4"] = ArrayFormula("A4:A5", "=PERP_NOTIONAL(B4:B5,C4:C5)")
    book.save(path)
    return path


@pytest.fixture(scope="module")
def results(calc_session: CalcSession) -> dict[str, Any]:
    root = calc_session.root
    from_excel = _excel_workbook(root / "from-excel.xlsx")
    assert convert_workbook(from_excel, root / "for-calc.xlsx", to="libreoffice") == 3
    for key, path in (("excel as is", from_excel), ("converted", root / "for-calc.xlsx")):
        calc_session.add(
            {"do": "open", "path": str(path)},
            {"do": "recalc"},
            {"do": "read", "range": "A1:A5", "key": key},
            {"do": "close"},
        )
    reads = [{"do": "read", "range": c.target, "key": c.key} for c in CASES]
    calc_session.add(
        {"do": "new"},
        {"do": "values", "cells": DATA},
        *(_formula_step(c) for c in CASES),
        {"do": "recalc"},
        *reads,
        {"do": "functions", "prefix": "PERP_", "key": "wizard"},
        {"do": "save", "path": str(root / "saved.ods"), "filter": "calc8"},
        {"do": "save", "path": str(root / "saved.xlsx"), "filter": "Calc Office Open XML"},
        {"do": "close"},
    )
    for suffix in ("ods", "xlsx"):
        calc_session.add(
            {"do": "open", "path": str(root / f"saved.{suffix}")},
            {"do": "recalc"},
            *({"do": "read", "range": target, "key": f"{suffix} {target}"} for target in KEPT),
            {"do": "close"},
        )
    return calc_session.run()


def _matches(cell: dict[str, Any], expected: Any) -> bool:
    if cell["error"]:
        return False
    if isinstance(expected, bool | np.bool_):
        return cell["result"] == "number" and cell["value"] == float(expected)
    if isinstance(expected, str):
        return cell["result"] == "text" and cell["text"] == expected
    number = float(expected)
    return cell["result"] == "number" and math.isclose(
        cell["value"], number, rel_tol=TOLERANCE, abs_tol=TOLERANCE
    )


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_cell_equals_riskfuncs(results: dict[str, Any], case: Case) -> None:
    cells = results[case.key]
    assert len(cells) == len(case.expected) and len(cells[0]) == len(case.expected[0])
    shown = [[(c["value"], c["text"], c["error"]) for c in row] for row in cells]
    for row, expected_row in zip(cells, case.expected, strict=True):
        for cell, expected in zip(row, expected_row, strict=True):
            assert _matches(cell, expected), (shown, case.expected)


def test_messages_are_one_line_as_in_excel(results: dict[str, Any]) -> None:
    assert results["bad quantity"][0][0]["text"] == "quantity must be > 0 (got -1)"
    assert results["bad quantity"][0][0]["text"] == udfs.PERP_NOTIONAL([[-1.0]], [[60_000.0]])
    for key in ("bad quantity", "bad leverage", "bad side", "required argument missing"):
        assert "\n" not in results[key][0][0]["text"]


def test_saved_files_keep_the_functions(results: dict[str, Any]) -> None:
    """.ods and .xlsx written by Calc reopen in Calc with the same results; both store the
    function under its programmatic name."""
    for suffix in ("ods", "xlsx"):
        for target in KEPT:
            again = results[f"{suffix} {target}"]
            first = next(results[c.key] for c in CASES if c.target == target)
            assert [[c["value"] for c in row] for row in again] == [
                [c["value"] for c in row] for row in first
            ]
            assert all(not c["error"] for row in again for c in row)
    assert programmatic_name("PERP_NOTIONAL") in results["ods A1"][0][0]["formula"]


def test_saved_xlsx_stores_the_programmatic_name(calc_session: CalcSession,
                                                 results: dict[str, Any]) -> None:
    import zipfile

    sheet = zipfile.ZipFile(Path(calc_session.root) / "saved.xlsx").read(
        "xl/worksheets/sheet1.xml").decode("utf-8")
    assert f"<f aca=\"false\">{programmatic_name('PERP_NOTIONAL')}(0.5,60000)</f>" in sheet


def test_excel_workbook_needs_converting_for_calc(results: dict[str, Any]) -> None:
    """Calc reads PERP_ formulas from an Excel file only once they carry its programmatic name
    (``perprisk addin convert --for libreoffice``); string literals are left alone."""
    as_is = results["excel as is"]
    assert as_is[0][0]["text"] == "#NAME?" and as_is[0][0]["error"]
    converted = [row[0] for row in results["converted"]]
    assert not any(cell["error"] for cell in converted)
    expected = [
        margin.notional(0.5, 60_000.0),
        liquidation.liquidation_price("long", 60_000.0, 0.5, 3_000.0, exchange="binance",
                                      maintenance_margin_rate=0.004),
        len("PERP_NOTIONAL("),
        margin.notional(0.5, 60_000.0),
        margin.notional(2.0, 3_000.0),
    ]
    for cell, value in zip(converted, expected, strict=True):
        assert _matches(cell, value), (converted, expected)


def test_calc_workbook_converts_back_for_excel(calc_session: CalcSession,
                                              results: dict[str, Any], tmp_path: Path) -> None:
    import zipfile

    target = tmp_path / "for-excel.xlsx"
    assert convert_workbook(Path(calc_session.root) / "saved.xlsx", target, to="excel") > 0
    sheet = zipfile.ZipFile(target).read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "ORG.PERPRISK" not in sheet
    assert '<f aca="false">PERP_NOTIONAL(0.5,60000)</f>' in sheet
    assert 'PERP_LIQ_PRICE(B20:B24,C20:C24,D20:D24,E20:E24,"bybit",,0.005)' in sheet


def test_without_numpy_every_cell_says_what_to_do(tmp_path: Path) -> None:
    """Installed with no folders for LibreOffice's Python: a one-line hint, not Err:."""
    session = session_for(tmp_path, install_into(tmp_path, python_paths=[]))
    session.add(
        {"do": "new"},
        {"do": "formula", "cell": "A1", "formula": "=PERP_NOTIONAL(0.5;60000)"},
        {"do": "recalc"},
        {"do": "read", "range": "A1", "key": "hint"},
    )
    cell = session.run()["hint"][0][0]
    assert not cell["error"] and cell["result"] == "text"
    assert cell["text"].startswith("perprisk cannot run in LibreOffice's Python")
    assert cell["text"].endswith("run perprisk addin install --libreoffice")


def test_function_wizard_lists_every_function_with_its_help(results: dict[str, Any]) -> None:
    """Calc's own function list (the Function Wizard's) shows the Excel names and help texts."""
    from addin.excel import spec

    wizard = results["wizard"]
    assert sorted(wizard) == sorted(f.name for f in spec.functions())
    for function in spec.functions():
        shown = wizard[function.name]
        assert shown["description"] == function.summary
        assert [a["name"] for a in shown["arguments"]] == [a.name for a in function.arguments]
        for argument, listed in zip(function.arguments, shown["arguments"], strict=True):
            assert listed["description"].endswith(" ".join(argument.doc.split()))

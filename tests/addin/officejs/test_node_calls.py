"""The served functions.js run in real Node against the real server, compared with riskfuncs.

Node loads functions.js as served, with a stand-in ``CustomFunctions`` global (Microsoft's
runtime comes from its CDN, which a test cannot use), so every ``associate`` call is recorded;
the associated functions are then called as Excel calls them (each argument a 2-D array, an
omitted optional one ``null``) and send real HTTPS requests to ``perprisk serve``. Numbers must
equal riskfuncs on the same inputs to 1e-12 (relative: both sides run the same float formulas;
the margin is JSON's round trip, which is exact for doubles); every message must be the line
the Excel cell shows, from xlwings' own Windows call path (tests/addin/excel).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from addin.excel import spec
from addin.officejs import files
from riskfuncs import discipline, liquidation, margin
from tests.addin.excel.conftest import COM_SERVER, MODULE_NAME
from tests.addin.excel.excel_side import Excel, block
from tests.addin.officejs.conftest import Server

NODE = shutil.which("node") or "/usr/bin/node"
SCRIPT = Path(__file__).with_name("call_functions.mjs")
TOLERANCE = 1e-12

TIER_ROWS: list[list[Any]] = [  # Binance USDⓈ-M BTCUSDT brackets 1-3, with the header row
    ["minNotional", "maxNotional", "maintenanceMarginRate", "maintenanceAmount", "maxLeverage"],
    [0, 50_000, 0.004, 0, 125],
    [50_000, 600_000, 0.005, 50, 100],
    [600_000, 3_000_000, 0.01, 3_050, 75],
]
TIERS = pd.DataFrame(TIER_ROWS[1:], columns=TIER_ROWS[0]).astype(float)
POSITIONS: list[list[Any]] = [  # side, entry, quantity, collateral, mark ("" = empty cell)
    ["long", 60_000.0, 0.5, 3_000.0, 61_500.0],
    ["short", 3_000.0, 2.0, 600.0, 2_950.0],
    ["long", 150.0, 40.0, 900.0, ""],
    ["short", 64_000.0, 1.5, 12_000.0, 66_100.0],
    ["long", 0.52, 25_000.0, 2_000.0, 0.49],
]


def _col(i: int) -> list[list[Any]]:
    return [[row[i]] for row in POSITIONS]


def _floats(i: int) -> np.ndarray:
    return np.array([np.nan if row[i] == "" else row[i] for row in POSITIONS], dtype=float)


SIDES = np.array([row[0] for row in POSITIONS])
ENTRY, QTY, COLL, MARK = (_floats(i) for i in range(1, 5))


def _column(values: Any) -> list[list[Any]]:
    return [["" if math.isnan(v) else v] for v in np.asarray(values, dtype=float).ravel()]


def _args(name: str, **values: Any) -> list[Any]:
    """Office.js arguments by the spec's argument names: omitted ones are null, as Excel sends."""
    names = [argument.name for argument in spec.function(name).arguments]
    unknown = sorted(set(values) - set(names))
    assert not unknown, f"{name} has no argument {unknown}"
    given = [values.get(argument) for argument in names]
    while given and given[-1] is None:
        given.pop()
    return given


def _excel(name: str, *args: Any) -> Any:
    """What the cell shows in Excel (xlwings' CallUDF with the VBA wrapper's arguments)."""
    return Excel(COM_SERVER, MODULE_NAME).call(name, *args)


# (key, function, Office.js arguments, expected rows or ("error", message))
CASES: list[tuple[str, str, list[Any], Any]] = [
    ("scalar notional", "PERP_NOTIONAL", [[[0.5]], [[60_000]]],
     [[margin.notional(0.5, 60_000.0)]]),
    ("scalar liquidation, binance", "PERP_LIQ_PRICE",
     _args("PERP_LIQ_PRICE", side=[["long"]], entry_price=[[60_000]], quantity=[[0.5]],
           collateral=[[3_000]], exchange=[["binance"]], maintenance_margin_rate=[[0.004]]),
     [[liquidation.liquidation_price("long", 60_000.0, 0.5, 3_000.0, exchange="binance",
                                     maintenance_margin_rate=0.004)]]),
    ("range liquidation, bybit", "PERP_LIQ_PRICE",
     _args("PERP_LIQ_PRICE", side=_col(0), entry_price=_col(1), quantity=_col(2),
           collateral=_col(3), exchange=[["bybit"]], maintenance_margin_rate=[[0.005]]),
     _column(liquidation.liquidation_price(SIDES, ENTRY, QTY, COLL, exchange="bybit",
                                           maintenance_margin_rate=0.005))),
    ("range pnl with an empty mark", "PERP_UNREALIZED_PNL",
     _args("PERP_UNREALIZED_PNL", side=_col(0), entry_price=_col(1), mark_price=_col(4),
           quantity=_col(2)),
     _column(margin.unrealized_pnl(SIDES, ENTRY, MARK, QTY))),
    ("maintenance from a tier table", "PERP_MAINT_MARGIN",
     _args("PERP_MAINT_MARGIN", quantity=_col(2), price=_col(1), tiers=TIER_ROWS),
     _column(margin.maintenance_margin(QTY, ENTRY, tiers=TIERS))),
    ("table result", "PERP_CHECK_LEVERAGE", [[[3.0], [7.0]], [[5]]],
     [list(map(str, discipline.check_leverage(np.array([[3.0], [7.0]]), cap=5.0).columns)),
      *(list(row) for row in discipline.check_leverage(
          np.array([[3.0], [7.0]]), cap=5.0).itertuples(index=False))]),
    ("bad quantity", "PERP_NOTIONAL", [[[-1]], [[60_000]]],
     ("error", _excel("PERP_NOTIONAL", -1.0, 60_000.0))),
    ("bad quantity in a range", "PERP_NOTIONAL", [[[1], [-2]], [[100]]],
     ("error", _excel("PERP_NOTIONAL", block([[1.0], [-2.0]]), 100.0))),
    ("bad side", "PERP_LIQ_PRICE", [[["sideways"]], [[60_000]], [[0.5]], [[3_000]]],
     ("error", _excel("PERP_LIQ_PRICE", "sideways", 60_000.0, 0.5, 3_000.0))),
    ("text for a number", "PERP_INITIAL_MARGIN", [[[1]], [["abc"]], [[10]]],
     ("error", _excel("PERP_INITIAL_MARGIN", 1.0, "abc", 10.0))),
    ("required argument missing", "PERP_NOTIONAL", [[[0.5]]],
     ("error", _excel("PERP_NOTIONAL", 0.5))),
]


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, bool | np.bool_):
        return got is bool(expected)
    if isinstance(expected, float | int | np.number) and not isinstance(got, bool | str):
        return math.isclose(float(got), float(expected), rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return bool(got == expected)


@pytest.fixture(scope="module")
def node_run(server: Server) -> dict[str, Any]:
    calls = [{"id": files.function_id(name), "args": args} for _, name, args, _ in CASES]
    environment = {**os.environ, "NODE_EXTRA_CA_CERTS": str(server.authority)}
    done = subprocess.run(
        [NODE, str(SCRIPT), server.base_url], input=json.dumps(calls), capture_output=True,
        text=True, env=environment, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_every_spec_function_is_associated_with_its_arity(node_run: dict[str, Any]) -> None:
    metadata = {entry["id"]: entry for entry in node_run["metadata"]["functions"]}
    expected = {files.function_id(f.name): len(f.arguments) for f in spec.functions()}
    assert node_run["arity"] == expected
    assert {name: len(entry["parameters"]) for name, entry in metadata.items()} == expected


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_call_through_node_equals_riskfuncs_and_excel(
    node_run: dict[str, Any], case: tuple[str, str, list[Any], Any]
) -> None:
    key, _, _, expected = case
    answer = node_run["results"][[c[0] for c in CASES].index(key)]
    if isinstance(expected, tuple):
        message = expected[1]
        assert isinstance(message, str) and message  # the Excel cell's line
        assert answer == {"error": {"code": "#VALUE!", "message": message}}
        return
    rows = answer["result"]
    assert [len(row) for row in rows] == [len(row) for row in expected], rows
    mismatches = [
        (r, c, got, want)
        for r, (row, wanted) in enumerate(zip(rows, expected, strict=True))
        for c, (got, want) in enumerate(zip(row, wanted, strict=True))
        if not _same(got, want)
    ]
    assert mismatches == []


def test_a_stopped_server_shows_not_available(tmp_path: Path, server: Server) -> None:
    """functions.js pointing at a port nobody listens on: #N/A saying the server is not running."""
    script = tmp_path / "call.mjs"
    script.write_text(SCRIPT.read_text(encoding="utf-8").replace(
        "await (await fetch(`${base}/functions.js`)).text()",
        "(await (await fetch(`${base}/functions.js`)).text()).replace(base, 'https://127.0.0.1:9')",
    ), encoding="utf-8")
    environment = {**os.environ, "NODE_EXTRA_CA_CERTS": str(server.authority)}
    done = subprocess.run(
        [NODE, str(script), server.base_url],
        input=json.dumps([{"id": "PERP.NOTIONAL", "args": [[[1]], [[2]]]}]),
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"] == [{"error": {
        "code": "#N/A", "message": "perprisk serve is not running at https://127.0.0.1:9"}}]

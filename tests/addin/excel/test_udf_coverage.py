"""Every public riskfuncs capability, and every parameter of it, is reachable from a cell.

Each public function of riskfuncs is the source of a PERP_ function, called by one, or listed
below with the reason it is not a cell function of its own. Each parameter of a PERP_ function's
riskfuncs callable is one of its cell arguments or excluded in its spec with a reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from typing import Literal

import numpy as np
import pytest

import riskfuncs
from addin.excel import declare, spec
from addin.excel.declare import Cell
from riskfuncs._typing import FloatLike  # the demo's annotations name it

NOT_CELL_FUNCTIONS = {
    "tiers.as_tier_table": "conversion: every tiers argument takes a tier range directly",
    "portfolio.account_of": "the account key is the account column of PERP_PORTFOLIO",
    "book.account_of": "the account key is the account column of PERP_PORTFOLIO",
    "book.as_book": "reads the positions table inside every book function (PERP_PORTFOLIO, "
                    "PERP_STRESS, PERP_EXPOSURE_BY_EXCHANGE, PERP_DISCIPLINE_REPORT); a cell "
                    "passes its range",
    "scenarios.get_scenario": "scenario names are accepted wherever scenarios are",
    "scenarios.exchange_default_scenario": 'scenario name "default <exchange> [lgd]"',
    "volatility.as_history": "input reader used inside the volatility functions",
    "volatility.same_shape": "input check used inside the volatility functions",
    "volatility.require_periods_per_year": "input check used inside the volatility functions",
    "probability.normal_cdf": "numeric helper; Excel has NORM.S.DIST",
    "probability.log_normal_cdf": "numeric helper; Excel has NORM.S.DIST and LN",
    "batch.batch": "a whole-book batch for cluster engines; PERP_PORTFOLIO and PERP_STRESS are "
                   "its cell forms",
    "batch.account_key": "the partition key for cluster engines (PERP_PORTFOLIO's account column)",
    "accounts.conversion_rates": "index x (1 - bid buffer) is one multiplication in a cell",
    "accounts.collateral_tables": "lists the stored haircut tables (data with sources), no formula",
    "accounts.parse_collateral_tiers": "reads a venue's API response (JSON), an adapter's job",
    "venues.known_venue": 'PERP_EXCHANGE_RULE answers it: "generic" for a venue without a rule',
    "venues.venue_key": "spelling normaliser (trim, lower case) used inside PERP_EXCHANGE_RULE",
    "venues.parse_symbol": "symbol reader used by every book function; a cell's symbol is text",
    "venues.venue_name": "a cell already holds the venue name the trader typed",
}


def _public_functions() -> dict[str, types.FunctionType]:
    found = {}
    for info in pkgutil.iter_modules(riskfuncs.__path__):
        if info.name.startswith("_") or info.name == "data":
            continue
        module = importlib.import_module(f"riskfuncs.{info.name}")
        names = getattr(module, "__all__", None) or [
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__
        ]
        for name in names:
            value = getattr(module, name)
            if inspect.isfunction(value) and not name.startswith("_"):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_function_has_a_cell_function(udf_module: types.ModuleType) -> None:
    sources = {cell.source for cell in udf_module.CELLS}
    body = inspect.getsource(udf_module)  # functions a hand-written cell body calls
    uncovered = [
        qualified
        for qualified, function in _public_functions().items()
        if qualified not in NOT_CELL_FUNCTIONS and function not in sources
        and f".{qualified.split('.')[1]}(" not in body
    ]
    assert uncovered == [], f"no PERP_ function calls {uncovered}"
    assert set(NOT_CELL_FUNCTIONS) <= set(_public_functions()), "stale exclusion"


def missing_parameters(cell: Cell, function: spec.CellFunction) -> list[str]:
    """The public parameters of ``cell.source`` with neither a cell argument nor a reason."""
    reached = {argument.parameter.split(".")[0] for argument in function.arguments}
    return [
        name for name in inspect.signature(cell.source).parameters
        if name not in reached and not function.excluded.get(name, "").strip()
    ]


def _declared(udf_module: types.ModuleType) -> list[tuple[Cell, spec.CellFunction]]:
    return list(zip(udf_module.CELLS, spec.functions(), strict=True))


def test_every_riskfuncs_parameter_has_a_cell_argument_or_a_reason(
    udf_module: types.ModuleType,
) -> None:
    missing = {
        cell.name: names
        for cell, function in _declared(udf_module)
        if (names := missing_parameters(cell, function))
    }
    assert missing == {}, f"riskfuncs parameters with no cell argument and no reason: {missing}"


def test_exclusions_and_renames_name_real_parameters(udf_module: types.ModuleType) -> None:
    for cell, function in _declared(udf_module):
        parameters = inspect.signature(cell.source).parameters
        assert set(cell.excluded) <= set(parameters), (cell.name, "stale exclusion")
        assert set(cell.rename) <= set(parameters), (cell.name, "stale rename")
        for argument in function.arguments:
            assert argument.parameter.split(".")[0] in {*parameters, ""}, (cell.name, argument)
            if not argument.parameter:  # a cell-only argument feeds the hand-written body
                assert cell.call is not None, (cell.name, argument.name)


def test_the_known_gaps_are_closed() -> None:
    """Parameters the hand-written declarations had lost reach Excel, appended as optional."""
    for name, argument in (("PERP_BANKRUPTCY_PRICE", "fee_rate"),
                           ("PERP_DISCIPLINE_REPORT", "tiers"),
                           ("PERP_EXPECTED_SHORTFALL", "quantile_method")):
        arguments = spec.function(name).arguments
        assert arguments[-1].name == argument and arguments[-1].optional, name


# A riskfuncs-style function as a contributor would add it, to show what the generator derives.
def _demo(
    quantity: FloatLike,
    *,
    mode: Literal["plain", "doubled"] = "plain",
    new_rate: FloatLike = 0.5,
    note: object = None,
) -> object:
    """Demo value of a position for the generator.

    Parameters
    ----------
    quantity : float, array-like or Series
        Position size in ``coins`` (> 0).
    mode : {"plain", "doubled"}
    new_rate : float, array-like or Series, default 0.5
        A rate added later, as a fraction; see :func:`riskfuncs.margin.notional`.
    note : object
        Anything.
    """
    factor = 2.0 if mode == "doubled" else 1.0
    return np.asarray(quantity, dtype=float) * factor + new_rate


def test_a_new_parameter_reaches_excel_with_its_docstring_help(
    udf_module: types.ModuleType,
) -> None:
    cell = Cell("PERP_DEMO", _demo, excluded={"note": "free text has no cell form"})
    made = declare.define(cell, {}, __name__)
    function = made.function
    assert [(a.name, a.optional) for a in function.arguments] == [
        ("quantity", False), ("mode", True), ("new_rate", True)]
    docs = {a.name: a.doc for a in function.arguments}
    assert docs == {
        "quantity": "Position size in coins (> 0).",
        "mode": 'One of "plain", "doubled". Default "plain".',
        "new_rate": "A rate added later, as a fraction; see notional. Default 0.5.",
    }
    assert function.description == "Demo value of a position for the generator."
    assert missing_parameters(cell, function) == []
    # The UDF xlwings sees: decorated, with the cell arguments as its signature.
    assert [a["name"] for a in made.udf.__xlfunc__["args"]] == ["quantity", "mode", "new_rate"]
    assert made.udf.__xlfunc__["args"][0]["options"]["ndim"] == 2
    assert made.udf([[1.0], [2.0]], None, None) == [[1.5], [2.5]]
    assert made.udf(1.0, "doubled", 0.25) == 2.25
    assert made.udf() == "quantity is required"


def test_a_parameter_of_unknown_kind_is_reported_until_excluded() -> None:
    cell = Cell("PERP_DEMO", _demo)
    function = declare.cell_function(cell, {})
    assert "note" not in [a.name for a in function.arguments]
    assert missing_parameters(cell, function) == ["note"]


@pytest.mark.parametrize("reason", ["", "  "])
def test_an_exclusion_needs_a_reason(reason: str) -> None:
    cell = Cell("PERP_DEMO", _demo, excluded={"note": reason})
    assert missing_parameters(cell, declare.cell_function(cell, {})) == ["note"]

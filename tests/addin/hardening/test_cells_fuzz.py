"""Every cell function, called through xlwings' own Windows code path with what Excel can hand
over (numbers, text, TRUE/FALSE, empty and error cells, omitted arguments, dates, one- and
two-dimensional ranges): only numbers, arrays or one line of text come back, never a
traceback or an "unexpected error"."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.addin.excel.conftest import COM_SERVER, MODULE_NAME, UDF_MODULE
from tests.addin.excel.excel_side import ERROR_CODES, MISSING, Excel, Range, variant

EXCEL = Excel(COM_SERVER, MODULE_NAME)
FUNCTIONS: dict[str, list[str]] = {
    name: list(inspect.signature(inspect.unwrap(func)).parameters)
    for name, func in sorted(vars(UDF_MODULE).items())
    if name.startswith("PERP_") and hasattr(func, "__xlfunc__")
}

WORDS = ["long", "short", "linear", "inverse", "isolated", "cross", "binance", "bybit", "okx",
         "hyperliquid", "simple", "log", "normal", "bootstrap", "abc", " ", "TRUE", "1e9",
         "=1+1", "\u202e", "minNotional"]
numbers = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 0.004, 100.0, 60_000.0, 1e9, 1e308, -1e308, 5e-324,
                     2.0**53]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(min_value=-10, max_value=1_000).map(float),
)
scalars = st.one_of(
    numbers,
    st.sampled_from(WORDS),
    st.text(max_size=8),
    st.booleans(),
    st.just(None),
    st.sampled_from(sorted(ERROR_CODES)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
)
columns = st.lists(scalars, min_size=1, max_size=6).map(lambda v: Range([[x] for x in v]))
rows = st.lists(scalars, min_size=1, max_size=6).map(lambda v: Range([v]))
grids = st.integers(1, 4).flatmap(lambda width: st.lists(
    st.lists(scalars, min_size=width, max_size=width), min_size=1, max_size=6)).map(Range)
headed = st.lists(st.lists(numbers, min_size=5, max_size=5), min_size=1, max_size=4).map(
    lambda body: Range([["minNotional", "maxNotional", "maintenanceMarginRate",
                         "maintenanceAmount", "maxLeverage"], *body]))
# A literal argument reaches Python as pywin32 hands over one cell (dates as COM times, error
# cells as codes); a cell reference as a Range.
argument = st.one_of(scalars.map(variant), scalars.map(Range), st.just(MISSING), columns, rows,
                     grids, headed)


def _is_range(value: Any) -> bool:
    return isinstance(value, Range) and isinstance(value.Value, tuple)


def _acceptable(name: str, result: Any) -> str | None:
    """None when ``result`` is a number, an array or one line of text; else what is wrong."""
    if isinstance(result, bool | int | float):
        return None
    if isinstance(result, list):
        return None  # arrays: their cells were checked marshallable by Excel.call
    if not isinstance(result, str):
        return f"returned {type(result).__name__}"
    if "\n" in result or "Traceback" in result:
        return "a multi-line text (traceback)"
    if result.startswith("unexpected error"):
        return "an unexpected error"
    if len(result) > 255:
        return "a text longer than a cell shows"
    if " must " in result and re.match(r"^[A-Za-z_]\w*[ :]", result) is None:
        return "a message that does not start with the argument it is about"
    return None


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_cell_functions_return_numbers_arrays_or_one_line(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(FUNCTIONS)), label="function")
    params = FUNCTIONS[name]
    args = []
    for param in params:
        args.append(data.draw(argument, label=param))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy overflow, short-history notes
        result = EXCEL.call(name, *args)
    wrong = _acceptable(name, result)
    assert wrong is None, f"{name}: {wrong}: {str(result)[:300]!r}"


@pytest.mark.parametrize(("name", "param"), [
    ("PERP_CHECK_LEVERAGE", "cap"), ("PERP_PRICE_SCAN_RANGE", "confidence"),
    ("PERP_CUMULATIVE_FUNDING", "mark_prices"), ("PERP_CUMULATIVE_FUNDING", "rates"),
    ("PERP_LIQ_PRICE_AFTER_FUNDING", "mark_prices"), ("PERP_LIQ_PRICE_AFTER_FUNDING", "rates"),
])
def test_a_range_where_one_value_or_one_column_is_expected_is_one_line(name: str,
                                                                        param: str) -> None:
    args: list[Any] = [1.0] * len(FUNCTIONS[name])
    args[FUNCTIONS[name].index(param)] = Range([[0.5, 0.6], [0.7, 0.8]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = EXCEL.call(name, *args)
    assert _acceptable(name, result) is None, result
    assert isinstance(result, str) and param in result, result


# --- the specific cases, each on its own -------------------------------------------------------

def _call(name: str, *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return EXCEL.call(name, *args)


CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("TRUE as a side", lambda: _call("PERP_UNREALIZED_PNL", True, 1.0, 2.0, 1.0),
     "side must be long or short (got TRUE)"),
    ("FALSE in a range of sides",
     lambda: _call("PERP_LIQ_PRICE", Range([["long"], [False]]), 60_000.0, 1.0, 5_000.0,
                   MISSING, MISSING, 0.004),
     "side must be long or short (got FALSE)"),
    ("a range as the decay factor",
     lambda: _call("PERP_EWMA_VOLATILITY", Range([[0.01], [0.02], [-0.01]]),
                   Range([[0.9], [0.94]])),
     "lam must be a single cell (got a range of 2 cells)"),
    ("a range as periods per year",
     lambda: _call("PERP_VOLATILITY", Range([[0.01], [0.02]]), Range([[365.0, 252.0]])),
     "periods_per_year must be a single cell (got a range of 2 cells)"),
    ("a billion Monte Carlo paths",
     lambda: _call("PERP_MONTE_CARLO_VAR", Range([[0.01], [-0.02], [0.03]]), MISSING,
                   MISSING, 1e9),
     "paths must be at most 1,000,000 (got 1e+09)"),
    ("a negative seed",
     lambda: _call("PERP_MONTE_CARLO_VAR", Range([[0.01], [-0.02], [0.03]]), MISSING,
                   MISSING, MISSING, -1.0),
     "seed must be 0 or more (got -1)"),
    ("one price to PERP_RETURNS", lambda: _call("PERP_RETURNS", Range([[100.0]])),
     "the history must hold at least two rows"),
]


@pytest.mark.parametrize(("case", "call", "says"), CASES, ids=[c[0] for c in CASES])
def test_each_case_is_one_line_naming_the_argument(case: str, call: Callable[[], Any],
                                                   says: str) -> None:
    result = call()
    assert isinstance(result, str) and result.startswith(says), (case, result)
    assert _acceptable("", result) is None

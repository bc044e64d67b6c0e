"""One cell-function call from Office.js, evaluated as Excel's and Calc's cells evaluate it.

Office.js hands a custom function each argument as a 2-D array of numbers, texts and booleans
(empty cells as ``""`` or ``null``) and an omitted optional argument as ``null``. Those are the
plain values LibreOffice hands over, so :func:`addin.calc.host.cell_arguments` turns them into
exactly what xlwings gives the Excel function (its own conversion pipelines); the function
called is the one Excel calls (:mod:`addin.excel.udfs`), without its cell error handling (the
function it wraps); the result goes back as rows of cells through xlwings' writer, TRUE/FALSE
as booleans as Excel shows them.

Unlike a classic xlwings cell, an Office.js function can show a real error value, so a bad input
is raised as :class:`CellError` carrying the very line Excel's cell would show, and the add-in
turns it into ``#VALUE!`` with that line.

Examples
--------
>>> evaluate("PERP_NOTIONAL", [[[0.5], [2]], [[60000], [3000]]])
[[30000.0], [6000.0]]
>>> checks = evaluate("PERP_CHECK_LEVERAGE", [[[3]], None])
>>> checks[0][2], checks[1][2]
('passed', True)
>>> evaluate("PERP_NOTIONAL", [[[-1]], [[100]]])
Traceback (most recent call last):
...
addin.officejs.evaluate.CellError: quantity must be > 0 (got -1)
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
from xlwings import conversion
from xlwings.conversion.framework import ConversionContext

from addin.calc import host
from addin.excel import spec
from addin.excel.errors import cell_message

__all__ = ["CellError", "evaluate"]


class CellError(Exception):
    """A call Excel would answer with a one-line message: the message is ``str(error)``."""


@cache
def _cell_function(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The function Excel calls and the one under its error handling (which raises)."""
    declared: Callable[..., Any] = getattr(importlib.import_module(spec.UDF_MODULE), name)
    return declared, inspect.unwrap(declared)


def evaluate(name: str, values: Sequence[Any]) -> list[list[Any]]:
    """The result rows of ``name`` for the Office.js argument values; raises :class:`CellError`.

    ``name`` must be a function of the spec (``KeyError`` otherwise).
    """
    function = spec.function(name)
    declared, raising = _cell_function(name)
    try:
        arguments = host.cell_arguments(function, values)
    except Exception as exc:
        raise CellError(cell_message(exc)) from exc
    if len(arguments) < sum(not argument.optional for argument in function.arguments):
        # Too few arguments: the cell's own line naming the first one missing.
        raise CellError(str(declared(*arguments)))
    try:
        result = raising(*arguments)
    except Exception as exc:
        raise CellError(cell_message(exc)) from exc
    return _rows(_write(result, function.returns))


class _OfficeValues:
    """The engine part xlwings' writer asks to clean each result cell, for Office.js.

    As Calc's (:mod:`addin.calc.host`) except that TRUE/FALSE stay booleans, which Office.js
    shows as TRUE/FALSE like Excel's xlwings cells; JSON has no NaN or infinity, so such a cell
    is left empty, as a missing result is.
    """

    name = "officejs"
    type = "remote"

    @staticmethod
    def prepare_xl_data_element(value: Any, date_format: Any = None) -> Any:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        cell = host.result_grid([[value]])[0][0]
        return "" if isinstance(cell, float) and not math.isfinite(cell) else cell


class _Engine:
    impl = _OfficeValues()
    name = "officejs"
    type = "remote"


def _write(value: Any, options: Mapping[str, Any]) -> Any:
    """A result as xlwings hands it to Excel (``conversion.write``), cleaned for Office.js."""
    convert = options.get("convert")
    accessor: Any = conversion.accessors.get(convert, convert)
    context: Any = ConversionContext.__new__(ConversionContext)
    context.range, context.value, context.source_value = None, value, value
    context.meta = {"write_property": "raw_value"}
    context.engine = _Engine()
    accessor.router(value, None, options).writer(dict(options))(context)
    return context.value


def _rows(value: Any) -> list[list[Any]]:
    """Any written result as rectangular rows (as the Calc host shapes them), each value as
    Office.js takes it."""
    return [list(row) for row in host.result_grid(value, _OfficeValues.prepare_xl_data_element)]

"""Calling the ``PERP_`` functions from a spreadsheet that hands over plain values.

LibreOffice Calc gives an add-in function each argument as a UNO ``any``: a number or a text for
one cell or a constant, a tuple of row tuples for a range (empty cells as ``None``), and nothing
(``None``) for an argument left out. This module turns those values into exactly what xlwings
gives the Excel function (it runs xlwings' own conversion pipelines: ``ndim=2`` grids, tables with
a header row as ``pd.DataFrame``, 1-D lists), calls the very function Excel calls
(:mod:`addin.excel.udfs`), and turns the result into a rectangular tuple of row tuples of numbers
and texts, which Calc shows in the cell or, entered as an array formula, over a range.

So a number is the same number and a bad input the same one-line message in both programs.

Examples
--------
>>> call("PERP_NOTIONAL", (0.5, 60000.0))
((30000.0,),)
>>> call("PERP_NOTIONAL", ((((1.0,), (2.0,)), 100.0)))
((100.0,), (200.0,))
>>> call("PERP_NOTIONAL", (-1.0, 100.0))
(('quantity must be > 0 (got -1)',),)
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from xlwings import conversion
from xlwings.conversion.framework import ConversionContext

from addin.excel import spec
from addin.excel.errors import cell_message

__all__ = ["Grid", "call", "cell_arguments", "result_grid"]

Grid = tuple[tuple[Any, ...], ...]

#: Excel's day zero, which LibreOffice shares for every date after February 1900.
EPOCH = dt.datetime(1899, 12, 30)


class _CalcValues:
    """The engine part xlwings' pipelines ask to clean values, for values Calc hands over.

    Mirrors xlwings' Windows engine (``xlwings._xlwindows.Engine``): an empty cell reads as
    ``None`` (or the ``empty`` option), numbers pass (through the ``numbers`` option if given);
    on the way out, NaN and ``None`` become empty text and numpy numbers plain floats.
    """

    name = "libreoffice"
    type = "desktop"

    @staticmethod
    def clean_value_data(
        data: Sequence[Sequence[Any]],
        datetime_builder: Any,
        empty_as: Any,
        number_builder: Any,
        err_to_str: bool,
    ) -> list[list[Any]]:
        def clean(value: Any) -> Any:
            if value is None or (isinstance(value, str) and value == ""):
                return empty_as
            if number_builder is not None and isinstance(value, float):
                return number_builder(value)
            return value

        return [[clean(value) for value in row] for row in data]

    @staticmethod
    def prepare_xl_data_element(value: Any, date_format: Any = None) -> Any:
        return _cell_value(value)


class _Engine:
    impl = _CalcValues()
    name = "libreoffice"
    type = "desktop"


_ENGINE = _Engine()


def _context(value: Any) -> Any:
    context: Any = ConversionContext.__new__(ConversionContext)
    context.range = None
    context.value = value
    context.source_value = value
    context.meta = {}
    context.engine = _ENGINE
    return context


def _read(value: Any, options: Mapping[str, Any]) -> Any:
    """One argument as xlwings hands it to the Excel function (``conversion.read``)."""
    convert = options.get("convert")
    accessor: Any = conversion.accessors.get(convert, convert)
    pipeline = accessor.reader(dict(options))
    context = _context(value)
    pipeline(context)
    return context.value


def _write(value: Any, options: Mapping[str, Any]) -> Any:
    """A result as xlwings hands it to Excel (``conversion.write``): 2-D lists or a scalar."""
    convert = options.get("convert")
    accessor: Any = conversion.accessors.get(convert, convert)
    pipeline = accessor.router(value, None, options)
    context = _context(value)
    context.meta["write_property"] = "raw_value"
    pipeline.writer(dict(options))(context)
    return context.value


def _cell_value(value: Any) -> Any:
    """One result cell as Calc takes it: a float or a text (TRUE/FALSE as 1/0)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        # Calc reads a UNO boolean inside an array result as 1 whatever its value: hand 1 or 0.
        return 1.0 if value else 0.0
    if isinstance(value, int | float | np.number):
        number = float(value)
        return "" if math.isnan(number) else number
    if isinstance(value, dt.datetime):
        return (value.replace(tzinfo=None) - EPOCH).total_seconds() / 86400.0
    if isinstance(value, dt.date):
        return float((value - EPOCH.date()).days)
    return str(value)


def result_grid(value: Any, cell: Callable[[Any], Any] | None = None) -> Grid:
    """Any result as a rectangular, non-empty tuple of row tuples (short rows padded with "").

    A flat list is one row, as Excel shows a one-dimensional array. ``cell`` converts each
    value (default: what a Calc cell takes).
    """
    convert = _cell_value if cell is None else cell
    if isinstance(value, tuple | list) and any(isinstance(row, tuple | list) for row in value):
        rows = [list(row) if isinstance(row, tuple | list) else [row] for row in value]
    elif isinstance(value, tuple | list):
        rows = [list(value)]
    else:
        rows = [[value]]
    rows = rows or [[""]]
    width = max(1, *(len(row) for row in rows))
    return tuple(
        tuple(convert(v) for v in row) + ("",) * (width - len(row)) for row in rows
    )


def cell_arguments(function: spec.CellFunction, values: Sequence[Any]) -> list[Any]:
    """The arguments Excel's xlwings would pass for these Calc values.

    An argument left out (``None``) is omitted, as when Excel's VBA wrapper passes "missing":
    the function's default applies, and a required one missing gives ``<name> is required``.
    """
    given = list(values[: len(function.arguments)])
    while given and given[-1] is None:
        given.pop()
    arguments = []
    for argument, value in zip(function.arguments, given, strict=False):
        arguments.append(None if value is None else _read(value, argument.options))
    return arguments


@cache
def _implementation(name: str) -> Callable[..., Any]:
    module = importlib.import_module(spec.UDF_MODULE)
    implementation: Callable[..., Any] = getattr(module, name)
    return implementation


def call(name: str, values: Sequence[Any]) -> Grid:
    """Call the cell function ``name`` with the values Calc passed; never raises."""
    try:
        function = spec.function(name)
        result = _implementation(name)(*cell_arguments(function, values))
        return result_grid(_write(result, function.returns))
    except Exception as exc:  # a cell shows one line, whatever went wrong
        return ((cell_message(exc),),)

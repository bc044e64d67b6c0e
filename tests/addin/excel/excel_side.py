"""The Excel side of a classic xlwings UDF call, as pywin32 presents it to Python.

A formula ``=PERP_X(A1, 2)`` runs the VBA wrapper from ``xlwings_udfs``, which calls
``XLPy.CallUDF(module, name, Array(args), ActiveWorkbook, Application.Caller)`` over COM. What
arrives in ``XLPython.CallUDF``:

* a cell reference -> a COM Range; xlwings reads ``Range.Value`` (scalar for one cell, tuple of
  row tuples otherwise; empty -> None, numbers -> float, dates -> pywintypes datetime in UTC,
  error cells -> int codes, Currency-formatted numbers -> Decimal with 4 decimals);
* a literal or computed argument -> the same Variant forms without the Range;
* an omitted Optional argument -> the int DISP_E_PARAMNOTFOUND.

If the Python call raises, pywin32 describes it as ``"Unexpected Python Error: " + traceback``
(win32com ErrorUtils.cpp), the xlwings DLL drops that header and reverses the traceback lines
(xlwingsdll dispatch.cpp) and the wrapper writes ``Err.Description`` into the cell.
"""

from __future__ import annotations

import datetime as dt
import decimal
import traceback
import types
from collections.abc import Sequence
from typing import Any

from tests.addin.excel.win32_standins import UTC, ComTime

MISSING = -2147352572  # DISP_E_PARAMNOTFOUND: VBA's value for an omitted Optional Variant
ERROR_CODES = {
    "#DIV/0!": -2146826281,
    "#N/A": -2146826246,
    "#NAME?": -2146826259,
    "#NULL!": -2146826288,
    "#NUM!": -2146826252,
    "#REF!": -2146826265,
    "#VALUE!": -2146826273,
}
RANGE_IID = "{00020846-0000-0000-C000-000000000046}"


def currency(value: float | str) -> decimal.Decimal:
    """A Currency-formatted cell: VT_CY reaches Python as a Decimal rounded to 4 places."""
    return decimal.Decimal(str(value)).quantize(decimal.Decimal("0.0001"))


def variant(value: Any) -> Any:
    """What pywin32 hands over for one cell holding ``value`` (a friendly Python value)."""
    if value is None or value == "":
        return None
    if isinstance(value, (bool, decimal.Decimal)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return ERROR_CODES.get(value, value)
    if isinstance(value, dt.datetime):
        return ComTime(
            value.year, value.month, value.day, value.hour, value.minute, value.second, tzinfo=UTC
        )
    if isinstance(value, dt.date):
        return ComTime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def block(rows: Sequence[Sequence[Any]]) -> tuple[tuple[Any, ...], ...]:
    """A multi-cell Variant (a computed array such as ``=F(A1:B2*1)``)."""
    return tuple(tuple(variant(v) for v in row) for row in rows)


class _TypeInfo:
    def GetTypeAttr(self) -> Any:
        return types.SimpleNamespace(iid=RANGE_IID)


class _OleObject:
    def GetTypeInfo(self) -> _TypeInfo:
        return _TypeInfo()


class Sheet:
    def __init__(self, name: str = "Sheet1") -> None:
        self.Name = name
        self.Parent = types.SimpleNamespace(
            Name="Book1.xlsm", Application=types.SimpleNamespace(Hwnd=1, Version="16.0")
        )


class Range:
    """A COM Range as xlwings sees a cell-reference argument or ``Application.Caller``.

    ``value`` is one cell's value or rows of values; ``raw`` hands over a prebuilt Variant
    (used by the benchmark to keep fixture building out of the timing).
    """

    CLSID = RANGE_IID

    def __init__(
        self, value: Any = None, *, row: int = 1, column: int = 1, raw: Any = None
    ) -> None:
        self._oleobj_ = _OleObject()
        self.Worksheet = Sheet()
        self.Row, self.Column = row, column
        if raw is not None:
            self._value = raw
        elif isinstance(value, (list, tuple)):
            rows = [r if isinstance(r, (list, tuple)) else [r] for r in value]
            self._value = block(rows)
        else:
            self._value = variant(value)
        shape = (
            (len(self._value), len(self._value[0])) if isinstance(self._value, tuple) else (1, 1)
        )
        self.Rows = types.SimpleNamespace(Count=shape[0])
        self.Columns = types.SimpleNamespace(Count=shape[1])
        self.Count = shape[0] * shape[1]

    @property
    def Value(self) -> Any:
        return self._value

    @property
    def Address(self) -> str:
        return f"${chr(64 + self.Column)}${self.Row}"


def cell_text_for(exc: BaseException) -> str:
    """The text a cell shows when the Python call raised (pywin32 + xlwings DLL rewrite)."""
    description = "Unexpected Python Error: " + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__, chain=False)
    )
    lines = description.split("\n")
    if lines[0] != "Unexpected Python Error: Traceback (most recent call last):":
        return description
    return "\n".join(line for line in reversed(lines[1:]) if line)


def _marshallable(value: Any, depth: int = 0) -> bool:
    plain = (type(None), bool, int, float, str, dt.datetime, decimal.Decimal)
    if isinstance(value, plain):
        return True
    if isinstance(value, (list, tuple)) and depth < 2:
        return all(_marshallable(v, depth + 1) for v in value)
    return False


class Excel:
    """Calls UDFs the way the generated VBA wrapper does, returning what the cell holds."""

    def __init__(self, com_server: types.ModuleType, module_name: str) -> None:
        self.server = com_server.XLPython()
        self.module_name = module_name

    def call(self, name: str, *args: Any, caller: Any = None) -> Any:
        try:
            result = self.server.CallUDF(
                self.module_name, name, tuple(args), None, caller if caller else Range(row=9)
            )
        except Exception as exc:  # what COM does with any Python exception
            return cell_text_for(exc)
        if not _marshallable(result):
            raise AssertionError(f"{name} returned {type(result).__name__}, not a COM Variant")
        return result

"""Turning what xlwings reads from cells into riskfuncs inputs, and results back into cells.

What arrives (classic xlwings on Windows Excel, after xlwings' own cleaning):

* numbers as float; Currency/Accounting-formatted numbers as ``decimal.Decimal`` rounded to 4
  places (pywin32's VT_CY); dates as ``datetime``; text as str; TRUE/FALSE as bool;
* empty cells and error cells (#N/A, #DIV/0!, ...) as None;
* arguments declared with ``ndim=2`` as a list of rows, even for one cell.

Conventions here: empty and error cells are missing data (NaN), which riskfuncs lets flow
through to a NaN result; a date in a number argument is its Excel serial number, as in native
formulas; text where a number belongs is an input error naming the argument. Percentages are
fractions, as Excel stores them (a cell showing 0.5% holds 0.005).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs import RiskInputError

__all__ = [
    "EXCEL_EPOCH",
    "MAX_ARRAY_TEXT",
    "cells_out",
    "column_values",
    "fit_rows",
    "fit_text",
    "flag",
    "frame_out",
    "history",
    "number",
    "numbers",
    "option",
    "optional_numbers",
    "optional_table",
    "pairs",
    "path_out",
    "per_series_out",
    "rows_out",
    "series",
    "setting",
    "sides",
    "table",
    "texts",
    "whole",
    "words",
]

#: Day 0 of Excel's 1900 date system as used by serial numbers after 1900-03-01.
EXCEL_EPOCH = dt.datetime(1899, 12, 30)

FloatArray = npt.NDArray[np.float64]


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def _serial(value: dt.date) -> float:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return (value.replace(tzinfo=None) - EXCEL_EPOCH).total_seconds() / 86400.0


def _to_float(name: str, value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise RiskInputError(f"{name} must be a number (got {_describe(value)})")
    if isinstance(value, (float, int, decimal.Decimal, np.number)):
        return float(value)
    if isinstance(value, dt.date):
        return _serial(value)
    if isinstance(value, str) and value.strip() == "":
        return math.nan
    raise RiskInputError(f"{name} must be a number (got {_describe(value)})")


def _grid(value: Any) -> list[list[Any]]:
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (list, tuple)):
            return [list(row) for row in value]
        return [list(value)]
    return [[value]]


def numbers(name: str, value: Any) -> float | FloatArray:
    """A number argument: one cell gives a float, a range gives a 2-D float array."""
    grid = _grid(value)
    if len(grid) == 1 and len(grid[0]) == 1:
        return _to_float(name, grid[0][0])
    try:  # fast path: plain floats and empty cells only
        if all(type(v) is float for row in grid for v in row):
            return np.array(grid, dtype=float)
    except (TypeError, ValueError):
        pass
    return np.array([[_to_float(name, v) for v in row] for row in grid], dtype=float)


def series(name: str, value: Any) -> FloatArray:
    """A one-column or one-row range as a 1-D float array (a history or a schedule)."""
    grid = _grid(value)
    if len(grid) > 1 and any(len(row) > 1 for row in grid):
        raise RiskInputError(
            f"{name} must be one column or one row (got {len(grid)} rows x {len(grid[0])} columns)"
        )
    return np.array([_to_float(name, v) for row in grid for v in row], dtype=float)


def column_values(name: str, value: Any, *, flags: bool = False) -> FloatArray:
    """One value per position from a column (or row) range, as a 1-D float array.

    With ``flags``, TRUE/FALSE cells give 1.0/0.0 (empty cells stay NaN, i.e. unknown).
    """
    grid = _grid(value)
    cells_ = [v for row in grid for v in row]
    if flags:
        cells_ = [float(v) if isinstance(v, bool) else v for v in cells_]
    if len(grid) > 1 and any(len(row) > 1 for row in grid):
        raise RiskInputError(f"{name} must be one column or one row (got {len(grid)} rows)")
    return np.array([_to_float(name, v) for v in cells_], dtype=float)


def number(name: str, value: Any) -> float:
    """A one-cell number argument (a setting such as a confidence level)."""
    result = numbers(name, value)
    if isinstance(result, np.ndarray):
        raise RiskInputError(f"{name} must be a single cell (got a {_shape(result)} range)")
    return result


#: Arguments that are one setting of the whole calculation wherever a function takes them (a
#: decay factor, a limit, the periods in a year): a range there is refused with a message
#: rather than reaching a formula that expects one number.
SETTINGS = frozenset({
    "extreme_multiple", "horizon_days", "lam", "leverage_cap", "max_age_days", "max_share",
    "max_venue_share", "minimum", "minimum_margin_buffer", "periods_per_year", "ratio",
    "target_ratio", "volatility_scan_range",
})


def optional_numbers(name: str, value: Any) -> float | FloatArray | None:
    """Like :func:`numbers`, but an omitted argument or one empty cell stays None.

    An argument named in :data:`SETTINGS` must be one cell."""
    if value is None or (isinstance(value, list) and _grid(value) == [[None]]):
        return None
    if name in SETTINGS:
        return setting(name, value)
    return numbers(name, value)


def setting(name: str, value: Any) -> float | None:
    """A one-cell number that sets the whole calculation; None when omitted or empty."""
    grid = _grid(value)
    if len(grid) != 1 or len(grid[0]) != 1:
        count = sum(len(row) for row in grid)
        raise RiskInputError(f"{name} must be a single cell (got a range of {count} cells)")
    result = _to_float(name, grid[0][0])
    return None if math.isnan(result) else result


def _shape(array: FloatArray) -> str:
    return "x".join(str(n) for n in array.shape)


def texts(name: str, value: Any) -> Any:
    """A text argument that may be a range (e.g. sides): str/None, or a 2-D object array."""
    grid = _grid(value)
    if len(grid) == 1 and len(grid[0]) == 1:
        return grid[0][0]
    return np.array(grid, dtype=object)


def sides(value: Any) -> Any:
    """Sides as riskfuncs takes them: words or +1/-1; empty cells stay missing.

    TRUE and FALSE are refused: Excel hands them over as booleans, which Python counts as 1
    and 0, so TRUE would silently read as a long."""
    grid = _grid(value)
    for row in grid:
        for v in row:
            if isinstance(v, bool):
                raise RiskInputError(f"side must be long or short (got {_describe(v)})")
    cleaned = [[float(v) if isinstance(v, decimal.Decimal) else v for v in row] for row in grid]
    return texts("side", cleaned)


def option(name: str, value: Any, default: str) -> Any:
    """A one-cell text option (exchange, contract, ...); an empty cell means the default.

    Returned as typed by the user: riskfuncs checks it against the allowed values.
    """
    grid = _grid(value)
    if len(grid) != 1 or len(grid[0]) != 1:
        raise RiskInputError(f"{name} must be a single cell (got a {len(grid)}-row range)")
    cell = grid[0][0]
    if cell is None or (isinstance(cell, str) and cell.strip() == ""):
        return default
    if not isinstance(cell, str):
        raise RiskInputError(f"{name} must be text such as {default!r} (got {_describe(cell)})")
    return cell.strip()


def _single(name: str, value: Any) -> Any:
    grid = _grid(value)
    if len(grid) != 1 or len(grid[0]) != 1:
        raise RiskInputError(f"{name} must be a single cell (got {len(grid)}x{len(grid[0])} cells)")
    cell = grid[0][0]
    return None if isinstance(cell, str) and cell.strip() == "" else cell


def flag(name: str, value: Any, default: bool | None) -> bool | None:
    """A TRUE/FALSE argument (also 1/0); empty means the default."""
    cell = _single(name, value)
    if cell is None:
        return default
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, (float, int)) and cell in (0, 1):
        return bool(cell)
    if isinstance(cell, str) and cell.strip().upper() in ("TRUE", "FALSE"):
        return cell.strip().upper() == "TRUE"
    raise RiskInputError(f"{name} must be TRUE or FALSE (got {_describe(cell)})")


#: Largest counts a cell function accepts: more simulated paths take minutes and gigabytes for
#: a figure that no longer moves (the error of a Monte Carlo quantile falls as 1/sqrt(paths)).
MAX_COUNTS = {"paths": 1_000_000, "checks": 1_000_000}


def whole(name: str, value: Any, default: int | None) -> int | None:
    """A whole-number argument (a count, a seed); empty means the default.

    Counts in :data:`MAX_COUNTS` are capped; a seed is 0 or more."""
    cell = _single(name, value)
    if cell is None:
        return default
    if isinstance(cell, bool):
        raise RiskInputError(f"{name} must be a whole number (got {_describe(cell)})")
    number_value = _to_float(name, cell)
    if not math.isfinite(number_value) or number_value != int(number_value):
        raise RiskInputError(f"{name} must be a whole number (got {_describe(cell)})")
    most = MAX_COUNTS.get(name)
    if most is not None and number_value > most:
        raise RiskInputError(
            f"{name} must be at most {most:,} (got {number_value:g}): more take minutes and "
            "gigabytes without changing the figure")
    if name == "seed" and number_value < 0:
        raise RiskInputError(f"seed must be 0 or more (got {number_value:g})")
    return int(number_value)


def words(name: str, value: Any) -> list[str]:
    """The text of every filled cell of a range, row by row (names of scenarios, ...)."""
    found = []
    for row in _grid(value):
        for cell in row:
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            if not isinstance(cell, str):
                raise RiskInputError(f"{name} must be text (got {_describe(cell)})")
            found.append(cell.strip())
    return found


def pairs(name: str, value: Any) -> dict[str, float]:
    """A two-column range of name | number (a first row with text in both is a header)."""
    grid = [row for row in _grid(value) if any(v is not None for v in row)]
    if any(len(row) != 2 for row in grid):
        raise RiskInputError(f"{name} must be two columns: name and value")
    if grid and isinstance(grid[0][1], str):
        grid = grid[1:]
    return {str(key).strip(): _to_float(f"{name} {key}", v) for key, v in grid}


def _all_dates(values: list[Any]) -> bool:
    filled = [v for v in values if v is not None]
    return bool(filled) and all(isinstance(v, dt.date) for v in filled)


def history(name: str, value: Any) -> tuple[FloatArray, list[str] | None]:
    """A price or return history: rows are periods (oldest first), columns are assets.

    A first row of text is taken as asset names; a leading column of dates is dropped; rows
    with no value at all (the unused bottom of a range) are dropped. One column gives a 1-D
    array, several a (periods x assets) array.
    """
    grid = [row for row in _grid(value) if any(v is not None for v in row)]
    names = None
    if grid and all(v is None or isinstance(v, str) for v in grid[0]):
        names = ["" if v is None else str(v).strip() for v in grid[0]]
        grid = grid[1:]
    while grid and len(grid[0]) > 1 and _all_dates([row[0] for row in grid]):
        grid = [row[1:] for row in grid]
        names = names[1:] if names else names
    if not grid:
        raise RiskInputError(f"{name} must hold at least one row of numbers")
    values = np.array([[_to_float(name, v) for v in row] for row in grid], dtype=float)
    if values.shape[1] == 1:
        return values[:, 0], names
    return values, names


def per_series_out(result: Any, names: list[str] | None) -> Any:
    """One figure per asset: a number for one asset, else one row (under the names, if any)."""
    values = np.atleast_1d(np.asarray(result, dtype=float))
    if values.size == 1:
        return cells_out(float(values[0]))
    row = cells_out(values.reshape(1, -1))
    return [list(names), *row] if names and len(names) == values.size else row


def path_out(result: Any, names: list[str] | None) -> Any:
    """A series per asset (periods x assets), under the names when there are several assets."""
    values = np.asarray(result, dtype=float)
    if values.size == 0:
        raise RiskInputError("the history must hold at least two rows (one row gives no result)")
    rows = cells_out(values.reshape(len(values), -1))
    columns = 1 if values.ndim == 1 else values.shape[1]
    return [list(names), *rows] if names and columns > 1 and len(names) == columns else rows


def _numeric_column(name: str, column: pd.Series) -> pd.Series:
    values = column.to_numpy()
    if column.dtype.kind == "f":
        return column
    converted = [_to_float(f"{name} {column.name}", v) for v in values]
    return pd.Series(converted, index=column.index, name=column.name, dtype=float)


def _is_text_column(column: pd.Series) -> bool:
    """True when every filled cell holds text (a free-text column such as a note)."""
    filled = [
        v for v in column.to_numpy() if not (v is None or (isinstance(v, float) and math.isnan(v)))
    ]
    return bool(filled) and all(isinstance(v, str) for v in filled)


def _blank(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Empty cells of an object array: None, NaN or an empty string."""
    blank: npt.NDArray[np.bool_] = pd.isna(values) | (values == "")
    return blank


def _fill_blanks(values: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
    """A copy of an object array with its empty cells replaced by ``fill``."""
    filled = values.copy()
    filled[_blank(values)] = fill
    return filled


def table(
    name: str,
    frame: Any,
    *,
    text_columns: Sequence[str] = (),
    number_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """A range with a header row, read by xlwings as a DataFrame.

    Header names are stripped; empty rows at the bottom (the unused part of a selected range)
    are dropped, so results line up with the sheet's rows; columns named in ``text_columns``, or
    not in ``number_columns`` and holding only text, are kept as text (empty -> None); every
    other column becomes float (Decimal, dates and empty cells included).
    """
    if not isinstance(frame, pd.DataFrame):
        raise RiskInputError(f"{name} must be a range with a header row")
    headers = ["" if c is None else str(c).strip() for c in frame.columns]
    if "" in headers:
        raise RiskInputError(
            f"{name} header must name every column (column {headers.index('') + 1} is empty)"
        )
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        raise RiskInputError(f"{name} header must name each column once ({repeated[0]} repeats)")
    rows = len(frame)
    while rows and _blank(frame.iloc[rows - 1].to_numpy(dtype=object)).all():
        rows -= 1
    frame = frame.iloc[:rows].set_axis(headers, axis=1).reset_index(drop=True)
    columns: dict[str, pd.Series] = {}
    for header in headers:
        column = frame[header]
        if header in text_columns or (header not in number_columns and _is_text_column(column)):
            values = column.to_numpy(dtype=object)
            columns[header] = pd.Series(_fill_blanks(values, None), index=frame.index, dtype=object)
        else:
            columns[header] = _numeric_column(name, column)
    return pd.DataFrame(columns, index=frame.index)


def optional_table(name: str, frame: Any, **options: Any) -> pd.DataFrame | None:
    """:func:`table` for an optional argument: omitted or an empty cell gives None."""
    if frame is None:
        return None
    if isinstance(frame, pd.DataFrame) and frame.shape[0] == 0 and frame.columns.isna().all():
        return None
    return table(name, frame, **options)


#: Excel returns #VALUE! for a text longer than this inside an array a function returns.
MAX_ARRAY_TEXT = 255


def fit_text(value: Any) -> Any:
    """Shorten text that would turn a spilled array into #VALUE!; other values pass through."""
    if isinstance(value, str) and len(value) > MAX_ARRAY_TEXT:
        return value[: MAX_ARRAY_TEXT - 3] + "..."
    return value


def fit_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """:func:`fit_text` over every cell of a result table."""
    return [[fit_text(v) for v in row] for row in rows]


def _cell(value: float, inf_text: str) -> float | str:
    if math.isinf(value):
        return inf_text if value > 0 else "-" + inf_text
    return value


def cells_out(result: Any, *, inf_text: str = "inf") -> Any:
    """A riskfuncs result as cell values.

    Finite numbers pass through; NaN (missing input) is left to xlwings, which writes an empty
    string; +/-inf becomes the text ``inf_text`` (e.g. "unreachable" for a liquidation price that
    no price reaches), because Excel has no infinity. A 2-D array spills as it is; a 1-D array
    spills down one column.
    """
    if isinstance(result, pd.Series):
        result = result.to_numpy()
    array = np.asarray(result, dtype=float)
    if array.ndim == 0:
        return _cell(float(array), inf_text)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if np.isinf(array).any():
        return [[_cell(v, inf_text) for v in row] for row in array.tolist()]
    return array.tolist()


def _plain(value: Any) -> Any:
    """numpy/pandas scalars as the Python values pywin32 can hand to Excel."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def frame_out(
    frame: pd.DataFrame, *, inf_text: Mapping[str, str] | None = None, default_inf_text: str = "inf"
) -> pd.DataFrame:
    """A result table for xlwings to write with its header: +/-inf as text, NaN left empty.

    ``inf_text`` names the text per column (e.g. "unreachable" for a liquidation price); values
    in text and flag columns become plain Python values.
    """
    out = frame.copy()
    texts = inf_text or {}
    for name in out.columns:
        column = out[name]
        if column.dtype.kind == "f":
            if np.isinf(column.to_numpy()).any():
                word = texts.get(str(name), default_inf_text)
                out[name] = column.astype(object).map(
                    lambda v, word=word: _cell(v, word) if isinstance(v, float) else v
                )
        elif column.dtype.kind in "OUT" or isinstance(column.dtype, pd.StringDtype):
            values = column.to_numpy(dtype=object)
            out[name] = pd.Series(
                [fit_text(v) for v in _fill_blanks(values, None)], index=out.index, dtype=object
            )
        elif column.dtype.kind not in "iu":
            out[name] = column.astype(object).map(_plain)
    return out


def rows_out(frame: pd.DataFrame, *, inf_text: Mapping[str, str] | None = None) -> list[list[Any]]:
    """A result table as the rows Excel receives, header first, built column by column.

    The same cell values xlwings' writer produces (NaN -> "", numpy scalars -> Python values),
    plus +/-inf as text, but vectorised: for functions declared ``@xw.ret("raw")`` whose tables
    run to many thousand rows, where cleaning cell by cell would dominate the call.
    """
    texts = inf_text or {}
    columns = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind == "f":
            values = column.to_numpy(dtype=float)
            cells_ = values.astype(object)
            cells_[np.isnan(values)] = ""
            word = texts.get(str(name), "inf")
            cells_[np.isposinf(values)] = word
            cells_[np.isneginf(values)] = "-" + word
        elif column.dtype.kind in "iu":  # Excel numbers are doubles
            cells_ = column.to_numpy(dtype=float).astype(object)
        elif column.dtype.kind == "b":
            cells_ = np.array(column.to_numpy().tolist(), dtype=object)
        else:
            raw = column.to_numpy(dtype=object)
            cells_ = _fill_blanks(raw, "")
            if any(isinstance(v, str) and len(v) > MAX_ARRAY_TEXT for v in cells_):
                cells_ = np.array([fit_text(v) for v in cells_], dtype=object)
            cells_ = (
                np.array([_plain(v) for v in cells_], dtype=object)
                if any(isinstance(v, np.generic) for v in cells_[:1])
                else cells_
            )
        columns.append(cells_)
    body = np.column_stack(columns).tolist() if columns and len(frame) else []
    return [[str(name) for name in frame.columns], *body]

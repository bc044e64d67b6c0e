"""Cell functions generated from riskfuncs signatures and docstrings plus a short spec.

A :class:`Cell` names the Excel function and the riskfuncs callable behind it and says only
what the signature cannot: arguments whose cells are ranges, tables or tier tables rather than
what the annotation suggests (:class:`Kind`), renamed or cell-only arguments, the Excel order of
the existing arguments, parameters left out (each with its reason) and how the result spills.
Everything else is read from riskfuncs:

* every parameter of the callable becomes a cell argument, in signature order after the ones
  the spec orders; a parameter with a default is optional and, when the cell is empty, is not
  passed, so riskfuncs' own default applies;
* how a cell is read follows the annotation (``FloatLike`` a range of numbers, ``SideLike`` a
  range of sides, a ``Literal`` one cell of text, ``float`` one number, ``int`` a whole number,
  ``bool`` TRUE/FALSE, ``TierLike`` a tier table, ``HistoryLike`` a price or return history);
  a parameter whose default is a dataclass of limits gives one cell argument per field;
* the argument help is the parameter's text in the numpydoc Parameters (or Attributes) section,
  unless the spec or the shared cell wording says it in a trader's words; the description is the
  docstring's first line.

:func:`define` turns a :class:`Cell` into an ordinary xlwings UDF: a function with the cell
arguments as its Python signature, wrapped by :func:`~addin.excel.errors.shows_errors` and
decorated with ``xw.func``, ``xw.arg`` and ``xw.ret`` exactly as a hand-written one, so the VBA
wrappers xlwings generates and ``xw.import_udfs`` see the same declarations.

A parameter whose reading cannot be inferred and is neither given a kind nor excluded gets no
cell argument; ``tests/addin/excel/test_udf_coverage.py`` names it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xlwings as xw

from addin.excel import cells
from addin.excel.errors import shows_errors
from addin.excel.spec import Argument, CellFunction
from riskfuncs import RiskInputError, portfolio

__all__ = [
    "OMIT",
    "Cell",
    "Declared",
    "Kind",
    "cell_function",
    "define",
    "frame",
    "numbers",
    "parameter_docs",
    "path",
    "per_cell",
    "per_series",
    "table",
]

CATEGORY = "PerpRisk"
MAX_HELP = 255  # Excel's limit for a function wizard text


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: An optional argument left empty: not passed, so the riskfuncs default applies.
OMIT: Any = _Marker("OMIT")
#: A required argument.
REQUIRED: Any = _Marker("REQUIRED")

Reader = Callable[[str, Any, Any], Any]  # (argument name, what xlwings read, default) -> value
Spill = Callable[[Any, "list[str] | None"], Any]  # (riskfuncs result, asset names) -> cells


@dataclass(frozen=True)
class Kind:
    """How one cell argument is read: xlwings' conversion options and the reader.

    The reader gets the argument's name, what xlwings read and the default (:data:`REQUIRED`,
    :data:`OMIT` or a value) and returns the riskfuncs value, the default when the cell is empty.
    With ``labels`` it returns ``(values, asset names)``; the names label the result.
    """

    name: str
    read: Reader
    options: Mapping[str, Any] = field(default_factory=dict)
    labels: bool = False
    doc: str = ""  # the help of every argument read this way, unless the spec says otherwise


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, list) and cells._grid(value) == [[None]])


def _numbers(name: str, value: Any, default: Any) -> Any:
    if default is REQUIRED:
        return cells.numbers(name, value)
    got = cells.optional_numbers(name, value)
    return default if got is None else got


def _number(name: str, value: Any, default: Any) -> Any:
    if default is not REQUIRED and cells.optional_numbers(name, value) is None:
        return default
    return cells.number(name, value)


def _sides(name: str, value: Any, default: Any) -> Any:
    return default if default is not REQUIRED and _empty(value) else cells.sides(value)


def _text(name: str, value: Any, default: Any) -> Any:
    word = default if isinstance(default, str) else ""
    got = cells.option(name, value, word)
    return default if got == "" and default is not REQUIRED else got


def _given(name: str, got: Any, default: Any) -> Any:
    """``got``, or the default when the cell was empty (a required argument must be given)."""
    if got is not None:
        return got
    if default is REQUIRED:
        raise RiskInputError(f"{name} is required")
    return default


def _flag(name: str, value: Any, default: Any) -> Any:
    return _given(name, cells.flag(name, value, None), default)


def _whole(name: str, value: Any, default: Any) -> Any:
    return _given(name, cells.whole(name, value, None), default)


def _series(name: str, value: Any, default: Any) -> Any:
    return default if default is not REQUIRED and _empty(value) else cells.series(name, value)


def _history(name: str, value: Any, default: Any) -> Any:
    return cells.history(name, value)


def _column(flags: bool) -> Reader:
    def read(name: str, value: Any, default: Any) -> Any:
        if default is not REQUIRED and value is None:
            return default
        return cells.column_values(name, value, flags=flags)

    return read


def _pairs(name: str, value: Any, default: Any) -> Any:
    return default if default is not REQUIRED and value is None else cells.pairs(name, value)


def _exposures(name: str, value: Any, default: Any) -> Any:
    if default is not REQUIRED and value is None:
        return default
    return pd.Series(cells.pairs(name, value), dtype=float)


TABLE_OPTIONS: Mapping[str, Any] = {"convert": pd.DataFrame, "index": False, "header": True}
RANGE_OPTIONS: Mapping[str, Any] = {"ndim": 2}


def table(name: str, text_columns: tuple[str, ...] = (),
          number_columns: tuple[str, ...] = (), doc: str = "") -> Kind:
    """A range with a header row, columns found by name (see :func:`cells.table`)."""

    def read(argument: str, value: Any, default: Any) -> Any:
        options = {"text_columns": text_columns, "number_columns": number_columns}
        if default is REQUIRED:
            return cells.table(argument, value, **options)
        got = cells.optional_table(argument, value, **options)
        return default if got is None else got

    return Kind(name, read, TABLE_OPTIONS, doc=doc)


TIER_COLUMNS = (
    "minNotional", "maxNotional", "maintenanceMarginRate", "maintenanceAmount", "maxLeverage",
)
POSITION_TEXT_COLUMNS = (
    "exchange", "symbol", "side", "marginMode", "contractType", "currency", "collateralCurrency",
)
POSITION_NUMBER_COLUMNS = (
    *(c for c in portfolio.POSITION_COLUMNS if c not in POSITION_TEXT_COLUMNS), "stopLossPrice",
)


def _tiers_by_symbol(name: str, value: Any, default: Any) -> Any:
    frame = cells.optional_table(
        name, value, text_columns=("symbol",), number_columns=TIER_COLUMNS
    )
    if frame is None:
        return default
    if "symbol" not in frame:
        raise RiskInputError(f"{name} must have a symbol column to apply to positions")
    return {
        str(symbol): rows.drop(columns="symbol").reset_index(drop=True)
        for symbol, rows in frame.groupby("symbol", sort=False)
    }


RANGE = Kind("range of numbers", _numbers, RANGE_OPTIONS)
NUMBER = Kind("one number", _number)
SIDES = Kind("range of sides", _sides, RANGE_OPTIONS)
TEXT = Kind("one word", _text)
FLAG = Kind("TRUE/FALSE", _flag)
WHOLE = Kind("whole number", _whole)
SERIES = Kind("one column or row of numbers", _series, RANGE_OPTIONS)
HISTORY = Kind("history", _history, RANGE_OPTIONS, labels=True)
COLUMN = Kind("one value per position", _column(flags=False), RANGE_OPTIONS)
FLAGS = Kind("TRUE/FALSE per position", _column(flags=True), RANGE_OPTIONS)
PAIRS = Kind("two columns: name | number", _pairs, RANGE_OPTIONS)
EXPOSURES = Kind(
    "two columns: exchange | exposure", _exposures, RANGE_OPTIONS,
    doc="Two columns: exchange | exposure (e.g. the PERP_EXPOSURE_BY_EXCHANGE table).",
)
TIERS = table(
    "tier table", number_columns=TIER_COLUMNS,
    doc="Leverage tiers: a range with header row minNotional, maxNotional, "
    "maintenanceMarginRate and optional maintenanceAmount, maxLeverage.",
)
TIERS_BY_SYMBOL = Kind(
    "tier tables by symbol", _tiers_by_symbol, TABLE_OPTIONS,
    doc="Optional leverage tiers of several markets: header row with symbol plus the tier "
    "columns (minNotional, maxNotional, maintenanceMarginRate, ...).",
)
POSITIONS = table(
    "positions", POSITION_TEXT_COLUMNS, POSITION_NUMBER_COLUMNS,
    doc="Positions with a header row (ccxt names): symbol, side, contracts, entryPrice, "
    "markPrice, collateral; optional exchange, contractSize, marginMode, contractType, "
    "maintenanceMarginRate, feeRate.",
)

#: Annotations (as riskfuncs writes them) whose cell reading needs no spec.
KINDS_BY_ANNOTATION: Mapping[str, Kind] = {
    "FloatLike": RANGE,
    "FloatLike | None": RANGE,
    "SideLike": SIDES,
    "SideLike | None": SIDES,
    "HistoryLike": HISTORY,
    "TierLike": TIERS,
    "TierLike | None": TIERS,
    "TierMap | None": TIERS_BY_SYMBOL,
    "Mapping[str, TierLike] | None": TIERS_BY_SYMBOL,
    "pd.DataFrame": POSITIONS,
    "pd.DataFrame | Book": POSITIONS,
    "float": NUMBER,
    "float | None": NUMBER,
    "int": WHOLE,
    "int | None": WHOLE,
    "bool": FLAG,
    "str": TEXT,
    "MarginModeLike": TEXT,
}


def _literal(hint: Any) -> bool:
    """A Literal, or a Literal or None: a word from a fixed list."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    words = [m for m in (typing.get_args(hint) if union else (hint,)) if m is not type(None)]
    return bool(words) and all(typing.get_origin(m) is typing.Literal for m in words)


def inferred_kind(source: Callable[..., Any], parameter: inspect.Parameter) -> Kind | None:
    """The reading of ``parameter`` that its annotation implies, or None if it is not clear."""
    annotation = parameter.annotation
    if isinstance(annotation, str) and annotation in KINDS_BY_ANNOTATION:
        return KINDS_BY_ANNOTATION[annotation]
    try:  # the one annotation, in the module that wrote it
        hint = eval(annotation, getattr(source, "__globals__", {})) \
            if isinstance(annotation, str) else annotation
    except Exception:  # a name riskfuncs only imports for type checking
        return None
    return TEXT if hint is not None and _literal(hint) else None


# --- numpydoc -----------------------------------------------------------------------------------

_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]*\.)?([^`]+)`")


def plain(text: str) -> str:
    """Docstring markup as the plain text a function wizard shows.

    >>> plain("Binance ``cum``, see :func:`riskfuncs.tiers.as_tier_table` and :math:`\\\\sqrt{h}`")
    'Binance cum, see as_tier_table and \\\\sqrt{h}'
    """
    text = _ROLE.sub(r"\1", text)
    return " ".join(text.replace("``", "").replace("`", "").split())


def parameter_docs(source: Any) -> dict[str, tuple[str, str]]:
    """``name -> (type, description)`` from the Parameters and Attributes sections.

    >>> parameter_docs(parameter_docs)
    {}
    """
    lines = (inspect.getdoc(source) or "").splitlines()
    found: dict[str, tuple[str, str]] = {}
    section = ""
    names: list[str] = []
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if following and set(following.strip()) == {"-"} and line.strip():
            section = line.strip()
            names = []
            continue
        if set(line.strip()) == {"-"} or section not in ("Parameters", "Attributes"):
            continue
        if line and not line[0].isspace():
            head, _, kind = line.partition(" : ")
            names = [n.strip() for n in head.split(",")]
            for name in names:
                found[name] = (kind.strip(), "")
        elif line.strip():
            for name in names:
                kind, text = found[name]
                found[name] = (kind, f"{text} {line.strip()}".strip())
    return found


def _shorten(text: str) -> str:
    """At most :data:`MAX_HELP` characters, cut at a sentence end where there is one."""
    if len(text) <= MAX_HELP:
        return text
    cut = text.rfind(". ", 0, MAX_HELP - 1)
    return text[: cut + 1] if cut > 40 else text[: MAX_HELP - 3] + "..."


def _default_text(default: Any) -> str:
    if isinstance(default, bool):
        return "TRUE" if default else "FALSE"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, str):
        return f'"{default}"'
    return str(default)


def _help(kind: str, text: str, default: Any) -> str:
    """The wizard text from a numpydoc entry: its description (else its type), and the default."""
    words = plain(text) or (
        "One of " + plain(kind).strip("{}") + "." if kind.startswith("{") else plain(kind)
    )
    if default not in (OMIT, REQUIRED, None) and "default" not in words.lower():
        words = f"{words.rstrip('.')}. Default {_default_text(default)}."
    return _shorten(words)


# --- the spec -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One ``PERP_`` function: its Excel name, the riskfuncs callable and what the signature
    does not say.

    ``order`` lists the cell arguments that come first, in their Excel order (cell names); every
    other parameter follows in signature order. ``kinds``, ``docs`` and ``defaults`` are keyed
    by cell name; ``rename`` maps a riskfuncs parameter to its cell name (VBA keywords such as
    ``open`` and ``name`` cannot be argument names). A name in ``order`` that is no parameter is a
    cell-only argument for ``call``: give its kind and help (and a default if optional).
    ``call`` replaces the riskfuncs call when the cell is more than one call; it receives the
    arguments by riskfuncs name. ``spill`` turns the result into cells.
    """

    name: str
    source: Callable[..., Any]
    description: str = ""
    order: tuple[str, ...] = ()
    kinds: Mapping[str, Kind] = field(default_factory=dict)
    docs: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    rename: Mapping[str, str] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)
    call: Callable[..., Any] | None = None
    spill: Spill | None = None
    returns: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Argument:
    name: str  # in the cell
    parameter: str  # the riskfuncs parameter it feeds ("" for a cell-only argument)
    fieldname: str  # the field of a limits dataclass, else ""
    kind: Kind
    default: Any  # REQUIRED, OMIT or a value
    doc: str


def _qualified(source: Callable[..., Any]) -> str:
    return f"{source.__module__}.{source.__qualname__}"


def _arguments(cell: Cell, shared_help: Mapping[str, str]) -> list[_Argument]:
    signature = inspect.signature(cell.source)
    documented = parameter_docs(cell.source)
    made: dict[str, _Argument] = {}

    def add(name: str, parameter: str, fieldname: str, kind: Kind | None, default: Any,
            entry: tuple[str, str]) -> None:
        kind = cell.kinds.get(name, kind)
        if kind is None:
            return  # not inferable: the coverage test names it
        default = cell.defaults.get(name, default)
        doc = (cell.docs.get(name) or kind.doc or shared_help.get(name)
               or _help(*entry, default))
        made[name] = _Argument(name, parameter, fieldname, kind, default, doc)

    for parameter in signature.parameters.values():
        if parameter.name in cell.excluded:
            continue
        name = cell.rename.get(parameter.name, parameter.name)
        # An optional parameter's cell default is riskfuncs' own: passing it equals omitting it.
        default = REQUIRED if parameter.default is inspect.Parameter.empty else parameter.default
        if dataclasses.is_dataclass(parameter.default) and name not in cell.kinds:
            limits = parameter_docs(type(parameter.default))
            for item in dataclasses.fields(parameter.default):
                add(item.name, parameter.name, item.name,
                    KINDS_BY_ANNOTATION.get(str(item.type)), item.default,
                    limits.get(item.name, ("", "")))
            continue
        add(name, parameter.name, "", inferred_kind(cell.source, parameter), default,
            documented.get(parameter.name, ("", "")))
    for name in cell.order:
        if name not in made and name in cell.kinds:  # a cell-only argument
            add(name, "", "", None, REQUIRED, ("", ""))
    first = [made[name] for name in cell.order if name in made]
    rest = [argument for name, argument in made.items() if name not in cell.order]
    ordered = first + rest
    seen_optional = False
    for argument in ordered:
        if argument.default is REQUIRED and seen_optional:
            raise TypeError(f"{cell.name}: required {argument.name} after an optional argument")
        seen_optional = seen_optional or argument.default is not REQUIRED
    return ordered


def _description(cell: Cell) -> str:
    if cell.description:
        return cell.description
    lines = (inspect.getdoc(cell.source) or "").strip().splitlines()
    return plain(lines[0]) if lines else ""


def numbers(inf_text: str = "inf") -> Spill:
    """Numbers in the caller's shape; +/-inf as ``inf_text``."""
    return lambda result, names: cells.cells_out(result, inf_text=inf_text)


def per_series(result: Any, names: list[str] | None) -> Any:
    """One figure per asset of a history (see :func:`cells.per_series_out`)."""
    return cells.per_series_out(result, names)


def path(result: Any, names: list[str] | None) -> Any:
    """A series per asset of a history (see :func:`cells.path_out`)."""
    return cells.path_out(result, names)


def frame(inf_text: Mapping[str, str] | None = None, default_inf_text: str = "inf") -> Spill:
    """A result table with its header row (see :func:`cells.frame_out`)."""
    return lambda result, names: cells.frame_out(
        result, inf_text=inf_text, default_inf_text=default_inf_text
    )


@dataclass(frozen=True)
class Declared:
    """A generated cell function: its declaration for every host and its xlwings UDF."""

    function: CellFunction
    udf: Callable[..., Any]


def cell_function(cell: Cell, shared_help: Mapping[str, str]) -> CellFunction:
    """The declaration every spreadsheet host reads (:mod:`addin.excel.spec`)."""
    return CellFunction(
        name=cell.name,
        description=_description(cell),
        category=CATEGORY,
        arguments=tuple(
            Argument(a.name, a.doc, a.default is not REQUIRED, dict(a.kind.options),
                     parameter=".".join(p for p in (a.parameter, a.fieldname) if p))
            for a in _arguments(cell, shared_help)
        ),
        returns=dict(cell.returns),
        options={"category": CATEGORY},
        source=_qualified(cell.source),
        excluded=dict(cell.excluded),
    )


def define(cell: Cell, shared_help: Mapping[str, str], module: str) -> Declared:
    """The xlwings UDF for ``cell``: a function with the cell arguments as its signature,
    showing errors as one line, decorated with ``xw.func``/``xw.arg``/``xw.ret``."""
    arguments = _arguments(cell, shared_help)
    source = cell.source
    call = cell.call or source
    spill = cell.spill or numbers()
    limits: dict[str, Any] = {
        p.name: p.default for p in inspect.signature(source).parameters.values()
        if dataclasses.is_dataclass(p.default)
    }

    def run(*values: Any) -> Any:
        given: dict[str, Any] = {}
        fields: dict[str, dict[str, Any]] = {}
        names = None
        # Arguments left out at the end (a host passes only those given) read as empty cells.
        padded = (*values, *(None,) * (len(arguments) - len(values)))
        for argument, value in zip(arguments, padded, strict=True):
            got = argument.kind.read(argument.name, value, argument.default)
            if got is OMIT:
                continue
            if argument.kind.labels:
                got, labels = got
                names = labels if names is None else names
            if argument.fieldname:
                fields.setdefault(argument.parameter, {})[argument.fieldname] = got
            else:
                given[argument.parameter or argument.name] = got
        for parameter, chosen in fields.items():
            given[parameter] = dataclasses.replace(limits[parameter], **chosen)
        return spill(call(**given), names)

    function = cell_function(cell, shared_help)
    run.__name__ = run.__qualname__ = cell.name
    run.__doc__ = function.description
    run.__module__ = module
    run.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(
            a.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Any,
            default=inspect.Parameter.empty if a.default is REQUIRED else None,
        )
        for a in arguments
    ])
    run.__annotations__ = {**{a.name: Any for a in arguments}, "return": Any}
    udf: Any = shows_errors(run)
    for argument in reversed(arguments):
        udf = xw.arg(argument.name, doc=argument.doc, **argument.kind.options)(udf)
    if cell.returns:
        udf = xw.ret(**cell.returns)(udf)
    udf = xw.func(category=CATEGORY)(udf)
    return Declared(function, udf)


def per_cell(name: str, each: Callable[[Any], Any], value: Any) -> Any:
    """``each`` over every cell of a text range: one result per cell, one value for one cell."""
    grid = value if isinstance(value, list) else [[value]]
    results = [[each(cells.option(name, v, "")) for v in row] for row in grid]
    return results[0][0] if len(results) == 1 and len(results[0]) == 1 else results


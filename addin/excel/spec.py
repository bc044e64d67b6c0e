"""The cell functions as every spreadsheet host sees them, read from the Excel declarations.

:mod:`addin.excel.udfs` is the one place where a ``PERP_`` function is declared: its name, its
arguments (Python signature), its help texts (``@xw.arg(..., doc=...)``, first docstring line) and
how xlwings converts each argument (``ndim=2``, ``pd.DataFrame`` with a header row, ...). This
module reads those declarations by running the module's decorators with a recorder, on any
platform, so the LibreOffice add-in, the ready .xlam and the reference page are derived from
them and nothing is retyped per function.

Examples
--------
>>> liq = function("PERP_LIQ_PRICE")
>>> liq.arguments[0].name, liq.arguments[0].optional, liq.arguments[0].options
('side', False, {'ndim': 2})
>>> liq.idl_arguments[:3]
('side', 'entryPrice', 'quantity')
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import xlwings

__all__ = ["Argument", "CellFunction", "function", "functions", "idl_identifier"]

UDF_MODULE = "addin.excel.udfs"

# Words UNO IDL reserves; an argument named like one gets a suffix in the IDL (never in a cell).
_KEYWORDS = """any attribute boolean bound byte char const constants constrained double enum
exception false float get hyper in inout interface long maybeambiguous maybedefault maybevoid
module needs observes oneway optional out property published raises readonly removable service
sequence set short singleton string struct transient true type typedef unsigned void"""
IDL_KEYWORDS = frozenset(_KEYWORDS.split())


@dataclass(frozen=True)
class Argument:
    """One argument: its Python name, help text, whether it may be left out, xlwings options."""

    name: str
    doc: str
    optional: bool
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def idl_name(self) -> str:
        return idl_identifier(self.name)


@dataclass(frozen=True)
class CellFunction:
    """One ``PERP_`` function with everything a host needs to declare and call it."""

    name: str
    description: str
    category: str
    arguments: tuple[Argument, ...]
    returns: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # xw.func's (volatile, ...)

    @property
    def idl_arguments(self) -> tuple[str, ...]:
        return tuple(argument.idl_name for argument in self.arguments)

    @property
    def summary(self) -> str:
        """The first docstring line: what a function wizard shows."""
        lines = self.description.strip().splitlines()
        return lines[0].strip() if lines else ""


def idl_identifier(name: str) -> str:
    """``entry_price`` -> ``entryPrice``, the UNO naming style; keywords get a suffix.

    >>> idl_identifier("other_unrealized_pnl"), idl_identifier("bound"), idl_identifier("pd_1y")
    ('otherUnrealizedPnl', 'boundValue', 'pd1y')
    """
    head, *rest = name.split("_")
    camel = head + "".join(part[:1].upper() + part[1:] for part in rest)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", camel):
        raise ValueError(f"argument name {name!r} cannot be an IDL identifier")
    return camel + "Value" if camel.lower() in IDL_KEYWORDS else camel


class _Recorder:
    """Stands in for ``xw.func``/``xw.arg``/``xw.ret`` and keeps every option they are given."""

    def __init__(self) -> None:
        self.options: dict[Callable[..., Any], dict[str, Any]] = {}
        self.arguments: dict[Callable[..., Any], dict[str, dict[str, Any]]] = {}
        self.returns: dict[Callable[..., Any], dict[str, Any]] = {}

    def func(self, f: Any = None, **options: Any) -> Any:
        def mark(g: Callable[..., Any]) -> Callable[..., Any]:
            self.options[g] = dict(options)
            return g

        return mark if f is None else mark(f)

    def arg(self, name: str, convert: Any = None, **options: Any) -> Any:
        def mark(g: Callable[..., Any]) -> Callable[..., Any]:
            recorded = dict(options)
            if convert is not None:
                recorded["convert"] = convert
            self.arguments.setdefault(g, {})[name] = recorded
            return g

        return mark

    def ret(self, convert: Any = None, **options: Any) -> Any:
        def mark(g: Callable[..., Any]) -> Callable[..., Any]:
            recorded = dict(options)
            if convert is not None:
                recorded["convert"] = convert
            self.returns[g] = recorded
            return g

        return mark

    def cell_function(self, f: Callable[..., Any]) -> CellFunction:
        declared = self.arguments.get(f, {})
        arguments = []
        for position, parameter in enumerate(inspect.signature(f).parameters.values()):
            options = dict(declared.get(parameter.name, {}))
            doc = str(options.pop("doc", f"Positional argument {position + 1}"))
            arguments.append(
                Argument(
                    parameter.name,
                    doc,
                    parameter.default is not inspect.Parameter.empty,
                    options,
                )
            )
        options = self.options.get(f, {})
        return CellFunction(
            name=f.__name__,
            description=inspect.getdoc(f) or "",
            category=str(options.get("category", "xlwings")),
            arguments=tuple(arguments),
            returns=self.returns.get(f, {}),
            options=options,
        )


@contextmanager
def _recording(recorder: _Recorder) -> Iterator[None]:
    saved = {name: getattr(xlwings, name) for name in ("func", "arg", "ret")}
    for name in saved:
        setattr(xlwings, name, getattr(recorder, name))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(xlwings, name, value)


def _declared_in_order(module: types.ModuleType) -> list[Callable[..., Any]]:
    found = [
        value
        for name, value in vars(module).items()
        if name.startswith("PERP_") and callable(value)
    ]
    return sorted(found, key=lambda f: inspect.unwrap(f).__code__.co_firstlineno)


@cache
def functions() -> tuple[CellFunction, ...]:
    """Every ``PERP_`` function of :mod:`addin.excel.udfs`, in declaration order."""
    spec = importlib.util.find_spec(UDF_MODULE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(UDF_MODULE)
    private = importlib.util.spec_from_file_location("_perprisk_cell_declarations", spec.origin)
    if private is None or private.loader is None:
        raise ModuleNotFoundError(UDF_MODULE)
    module = importlib.util.module_from_spec(private)
    recorder = _Recorder()
    with _recording(recorder):
        private.loader.exec_module(module)
    return tuple(recorder.cell_function(f) for f in _declared_in_order(module))


def function(name: str) -> CellFunction:
    """One function by its cell name, e.g. ``PERP_LIQ_PRICE``."""
    for candidate in functions():
        if candidate.name == name:
            return candidate
    raise KeyError(name)

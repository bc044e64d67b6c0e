"""The cell functions as every spreadsheet host sees them.

:mod:`addin.excel.udfs` declares each ``PERP_`` function as a short spec over a riskfuncs
callable; :mod:`addin.excel.declare` derives from it, on any platform, the function's name, its
arguments, their help texts, how xlwings converts each one (``ndim=2``, ``pd.DataFrame`` with a
header row, ...) and the xlwings UDF itself. The LibreOffice add-in, the ready .xlam and the
reference page read the same declarations here, so nothing is retyped per function.

Examples
--------
>>> liq = function("PERP_LIQ_PRICE")
>>> liq.arguments[0].name, liq.arguments[0].optional, liq.arguments[0].options
('side', False, {'ndim': 2})
>>> liq.idl_arguments[:3]
('side', 'entryPrice', 'quantity')
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

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
    parameter: str = ""  # the riskfuncs parameter it feeds (limits fields as "limits.cap")

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
    source: str = ""  # the riskfuncs callable, e.g. "riskfuncs.liquidation.liquidation_price"
    excluded: Mapping[str, str] = field(default_factory=dict)  # parameter -> why no cell argument

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


@cache
def functions() -> tuple[CellFunction, ...]:
    """Every ``PERP_`` function of :mod:`addin.excel.udfs`, in declaration order."""
    module = importlib.import_module(UDF_MODULE)
    declared: tuple[CellFunction, ...] = module.CELL_FUNCTIONS
    return declared


def function(name: str) -> CellFunction:
    """One function by its cell name, e.g. ``PERP_LIQ_PRICE``."""
    for candidate in functions():
        if candidate.name == name:
            return candidate
    raise KeyError(name)

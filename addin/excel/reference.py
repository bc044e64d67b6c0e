"""The cell-function reference (markdown), generated from the UDF declarations.

The descriptions Excel's function wizard shows come from the xlwings decorators that
:mod:`addin.excel.udfs` generates; this module renders the same text, so ``docs/functions.md``
cannot say something the add-in does not. Where xlwings records nothing (its decorators are
no-ops without pywin32, i.e. outside Windows), the same declarations are read from
:mod:`addin.excel.spec`.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ArgumentInfo", "FunctionInfo", "functions", "render_markdown", "udf_functions"]

UDF_MODULE = "addin.excel.udfs"


@dataclass(frozen=True)
class ArgumentInfo:
    name: str
    doc: str
    optional: bool


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    description: str
    category: str
    arguments: tuple[ArgumentInfo, ...]

    @property
    def signature(self) -> str:
        names = [f"[{a.name}]" if a.optional else a.name for a in self.arguments]
        return f"{self.name}({', '.join(names)})"


def _from_xlfunc(meta: dict[str, Any]) -> FunctionInfo:
    """Read xlwings' own metadata (``func.__xlfunc__``, set by xlwings.udfs.xlfunc/xlarg)."""
    return FunctionInfo(
        name=meta["name"],
        description=meta["ret"]["doc"],
        category=str(meta["category"]),
        arguments=tuple(ArgumentInfo(a["name"], a["doc"], "optional" in a) for a in meta["args"]),
    )


def _defined_order(module: types.ModuleType) -> list[Callable[..., Any]]:
    """The module's PERP_ functions in the order they are declared (:mod:`addin.excel.spec`)."""
    from addin.excel import spec

    return [getattr(module, f.name) for f in spec.functions()]


def udf_functions(module: types.ModuleType) -> list[FunctionInfo]:
    """Function info from a UDF module whose decorators recorded xlwings metadata."""
    return [_from_xlfunc(f.__xlfunc__) for f in _defined_order(module)]  # type: ignore[attr-defined]


def _recorded_functions() -> list[FunctionInfo]:
    """The wizard's view of the declarations, read by :mod:`addin.excel.spec` (the one record
    of the PERP_ declarations every host is built from) where xlwings keeps no metadata."""
    from addin.excel import spec

    return [FunctionInfo(f.name, f.description, f.category,
                         tuple(ArgumentInfo(a.name, a.doc, a.optional) for a in f.arguments))
            for f in spec.functions()]


def functions() -> list[FunctionInfo]:
    """Every PERP_ function as the function wizard describes it, in declaration order."""
    module = importlib.import_module(UDF_MODULE)
    if all(hasattr(f, "__xlfunc__") for f in _defined_order(module)):
        return udf_functions(module)
    return _recorded_functions()


_INTRO = """\
# perprisk cell functions

Generated from the function declarations by `perprisk addin reference`; do not edit by hand.
Every function is in the Excel category **{category}** and shows these descriptions in the
Insert Function wizard.

## Conventions

- **Ranges**: wherever a function takes one number it also takes a range, and spills one result
  per cell (`=PERP_LIQ_PRICE(A2:A50, B2:B50, C2:C50, D2:D50)`). A column and a row combine into a
  grid, as in numpy broadcasting.
- **Tables**: `positions`, `tiers` and price histories are ranges *with a header row*; columns
  are found by name, in any order.
- **Percentages are fractions**, as Excel stores them: a cell showing 0.5% holds 0.005.
- **Currency cells and dates**: Currency/Accounting-formatted cells reach Python rounded to 4
  decimals (Excel's Currency type) and work like numbers; a date in a number argument counts
  as its Excel serial number.
- **Optional arguments** (in brackets below) may be omitted or left as an empty cell.
- **Missing data**: an empty or error cell (#N/A) in market data gives an empty result cell
  (an empty *text*, so `ISBLANK` is FALSE).
- **Unreachable results**: a price that no move reaches shows the text `never` (for
  example the liquidation price of an inverse short with enough collateral); a limit that does not
  bind shows `no limit`. A position every price already liquidates (a cross wallet below its
  requirement at any price) shows `reached`.
- **Errors**: a bad input shows one line of text naming the argument and the rule, e.g.
  `leverage must be > 0 (got -5)`. It is text, not an Excel error value: `ISERROR()` is FALSE and
  arithmetic on it gives #VALUE!. In a dependent formula test it with `ISNUMBER()` or `ISTEXT()`:
  `=IF(ISNUMBER(B2), B2 * 2, "check inputs")`.

## Functions

"""


def _cell_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(infos: list[FunctionInfo]) -> str:
    """The reference page for ``infos``."""
    categories = sorted({info.category for info in infos})
    parts = [_INTRO.format(category=", ".join(categories))]
    parts.extend(f"- [`{info.name}`](#{info.name.lower()})\n" for info in infos)
    for info in infos:
        parts.append(
            f"\n### {info.name}\n\n`={info.signature}`\n\n{_cell_text(info.description)}\n"
        )
        if info.arguments:
            parts.append("\n| argument | description |\n| --- | --- |\n")
            for argument in info.arguments:
                name = f"{argument.name} (optional)" if argument.optional else argument.name
                parts.append(f"| `{name}` | {_cell_text(argument.doc)} |\n")
    return "".join(parts)


def write_reference(path: Path) -> Path:
    """Write the reference page to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(functions()), encoding="utf-8")
    return path

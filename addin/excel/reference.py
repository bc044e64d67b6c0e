"""The cell-function reference (markdown), generated from the UDF declarations.

The descriptions Excel's function wizard shows come from the xlwings decorators in
:mod:`addin.excel.udfs`; this module renders the same text, so ``docs/functions.md`` cannot say
something the add-in does not. Where xlwings records nothing (its decorators are no-ops without
pywin32, i.e. outside Windows), the declarations are read by running the module's decorators
with a small recorder instead.
"""

from __future__ import annotations

import importlib.util
import inspect
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlwings

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
    found = [
        value
        for name, value in vars(module).items()
        if name.startswith("PERP_") and callable(value)
    ]
    return sorted(found, key=lambda f: inspect.unwrap(f).__code__.co_firstlineno)


def udf_functions(module: types.ModuleType) -> list[FunctionInfo]:
    """Function info from a UDF module whose decorators recorded xlwings metadata."""
    return [_from_xlfunc(f.__xlfunc__) for f in _defined_order(module)]  # type: ignore[attr-defined]


class _Recorder:
    """Stands in for xw.func/xw.arg/xw.ret, keeping what the function wizard would get."""

    def __init__(self) -> None:
        self.categories: dict[Callable[..., Any], str] = {}
        self.docs: dict[Callable[..., Any], dict[str, str]] = {}

    def func(self, f: Any = None, **options: Any) -> Any:
        def mark(g: Callable[..., Any]) -> Callable[..., Any]:
            self.categories[g] = str(options.get("category", "xlwings"))
            return g

        return mark if f is None else mark(f)

    def arg(self, name: str, convert: Any = None, **options: Any) -> Any:
        def mark(g: Callable[..., Any]) -> Callable[..., Any]:
            if "doc" in options:
                self.docs.setdefault(g, {})[name] = options["doc"]
            return g

        return mark

    def ret(self, convert: Any = None, **options: Any) -> Any:
        return lambda g: g

    def info(self, f: Callable[..., Any]) -> FunctionInfo:
        parameters = inspect.signature(f).parameters.values()
        docs = self.docs.get(f, {})
        return FunctionInfo(
            name=f.__name__,
            description=f.__doc__ or "",
            category=self.categories.get(f, "xlwings"),
            arguments=tuple(
                ArgumentInfo(
                    p.name,
                    docs.get(p.name, f"Positional argument {position + 1}"),
                    p.default is not inspect.Parameter.empty,
                )
                for position, p in enumerate(parameters)
            ),
        )


@contextmanager
def _recording_decorators(recorder: _Recorder) -> Iterator[None]:
    saved = {name: getattr(xlwings, name) for name in ("func", "arg", "ret")}
    for name in saved:
        setattr(xlwings, name, getattr(recorder, name))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(xlwings, name, value)


def _recorded_functions() -> list[FunctionInfo]:
    spec = importlib.util.find_spec(UDF_MODULE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(UDF_MODULE)
    private = importlib.util.spec_from_file_location("_perprisk_udf_declarations", spec.origin)
    if private is None or private.loader is None:
        raise ModuleNotFoundError(UDF_MODULE)
    module = importlib.util.module_from_spec(private)
    recorder = _Recorder()
    with _recording_decorators(recorder):
        private.loader.exec_module(module)
    return [recorder.info(f) for f in _defined_order(module)]


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
  bind shows `no limit`.
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

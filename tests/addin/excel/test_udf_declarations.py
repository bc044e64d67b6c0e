"""What Excel learns about the cell functions: VBA wrappers, function wizard texts, categories.

The golden file is exactly the module the ribbon's "Import Functions" writes into a workbook
(xlwings.udfs.import_udfs). If a name, argument or flag changes, this test fails until the golden
file is regenerated, a reminder that traders must click Import Functions again. Regenerate with

    PERPRISK_UPDATE_GOLDEN=1 python3 -m pytest tests/addin/excel/test_udf_declarations.py
"""

from __future__ import annotations

import inspect
import io
import os
import re
import types
from pathlib import Path
from typing import Any

import pytest

from addin.excel import errors, reference

GOLDEN = Path(__file__).parent / "golden" / "perprisk_udfs.bas"
ADDIN_NAME = "PerpRisk.xlam"
MODULE_NAME = "addin.excel.udfs"


class _Components:
    def __init__(self, workbook: RecordingWorkbook) -> None:
        self.workbook = workbook

    def __call__(self, name: str) -> str:
        return name

    def Remove(self, component: str) -> None:
        self.workbook.calls.append(("Remove", component))

    def Import(self, path: str) -> None:
        self.workbook.imported = Path(path).read_text()
        self.workbook.calls.append(("Import", "xlwings_udfs"))


class _Application:
    Version = "16.0"

    def __init__(self, workbook: RecordingWorkbook) -> None:
        self.workbook = workbook

    def MacroOptions(self, macro: str, **options: Any) -> None:
        self.workbook.macro_options[macro] = options


class _NoSheets(list[Any]):
    Count = 0


class RecordingWorkbook:
    """The workbook COM object import_udfs talks to, recording what it is asked to do."""

    def __init__(self, name: str) -> None:
        self.Name = name
        self.calls: list[tuple[str, str]] = []
        self.macro_options: dict[str, dict[str, Any]] = {}
        self.imported = ""
        self.VBProject = types.SimpleNamespace(VBComponents=_Components(self))
        self.Application = _Application(self)
        self.Worksheets = _NoSheets()  # no embedded-code sheets


@pytest.fixture(scope="module")
def imported(xlwings_udfs: types.ModuleType, udf_module: types.ModuleType) -> RecordingWorkbook:
    workbook = RecordingWorkbook(ADDIN_NAME)
    xlwings_udfs.import_udfs(MODULE_NAME, workbook)
    return workbook


def _perp_functions(module: types.ModuleType) -> dict[str, Any]:
    return {name: f for name, f in vars(module).items() if name.startswith("PERP_")}


def _signatures(vba: str) -> dict[str, list[str]]:
    """``PERP_X -> its VBA arguments`` from the wrappers' Function lines."""
    found = re.findall(r"^Function (PERP_\w+)\((.*)\)$", vba, flags=re.M)
    return {name: [a.removeprefix("Optional ") for a in args.split(", ") if a]
            for name, args in found}


def moved_arguments(before: str, after: str) -> list[str]:
    """Functions whose existing cell arguments would move or vanish from ``before`` to ``after``.

    A trader's formulas pass arguments by position: an existing function keeps its name and its
    arguments in their places; a new argument may only follow them.
    """
    old, new = _signatures(before), _signatures(after)
    return [name for name, args in old.items() if new.get(name, [])[: len(args)] != args]


def test_a_new_argument_may_follow_but_not_move_or_drop_existing_ones() -> None:
    before = "Function PERP_A(x, Optional y)\nFunction PERP_B(x)\n"
    assert moved_arguments(before, before + "Function PERP_C(x)\n") == []
    assert moved_arguments(before, before.replace("y)", "y, Optional z)")) == []
    assert moved_arguments(before, before.replace("x, Optional y", "x, Optional z, Optional y")) \
        == ["PERP_A"]
    assert moved_arguments(before, before.replace("(x, Optional y)", "(x)")) == ["PERP_A"]
    assert moved_arguments(before, before.replace("PERP_B", "PERP_BB")) == ["PERP_B"]


def test_import_functions_writes_the_golden_vba_module(imported: RecordingWorkbook) -> None:
    assert imported.calls == [("Remove", "xlwings_udfs"), ("Import", "xlwings_udfs")]
    generated = imported.imported.replace("\r\n", "\n")
    moved = moved_arguments(GOLDEN.read_text(), generated)
    assert moved == [], (
        f"existing cell arguments would move or vanish in {moved}: keep their order in the "
        "spec (Cell order=...) and let new arguments follow"
    )
    if os.environ.get("PERPRISK_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(generated)
    assert generated == GOLDEN.read_text(), (
        "the VBA wrappers changed: regenerate the golden file (see module docstring); traders "
        "must click Import Functions again after upgrading"
    )


def test_import_into_a_workbook_differs_only_in_the_workbook_passed(
    xlwings_udfs: types.ModuleType, udf_module: types.ModuleType
) -> None:
    """Import Functions on a trader's .xlsm passes ThisWorkbook instead of the add-in's book."""
    buffer = io.StringIO()
    xlwings_udfs.generate_vba_wrapper(
        MODULE_NAME, udf_module, buffer, RecordingWorkbook("Risk.xlsm")
    )
    header, body = GOLDEN.read_text().split("\n", 3)[:3], GOLDEN.read_text().split("\n", 3)[3]
    assert header[0] == 'Attribute VB_Name = "xlwings_udfs"'
    assert buffer.getvalue() == body.replace("ActiveWorkbook", "ThisWorkbook")


def test_golden_module_wraps_every_function_with_error_text_fallback(
    udf_module: types.ModuleType,
) -> None:
    vba = GOLDEN.read_text()
    assert vba.startswith('Attribute VB_Name = "xlwings_udfs"\n')
    declared = re.findall(r"^Function (PERP_\w+)\(", vba, flags=re.M)
    assert sorted(declared) == sorted(_perp_functions(udf_module))
    for name in declared:
        assert f'{name} = XLPy.CallUDF("{MODULE_NAME}", "{name}", Array(' in vba
        assert f"{name} = Err.Description" in vba


def test_optional_arguments_are_optional_in_vba(udf_module: types.ModuleType) -> None:
    vba = GOLDEN.read_text()
    for name, func in _perp_functions(udf_module).items():
        parts = []
        for parameter in inspect.signature(func).parameters.values():
            optional = parameter.default is not inspect.Parameter.empty
            parts.append(f"Optional {parameter.name}" if optional else parameter.name)
        assert f"Function {name}({', '.join(parts)})" in vba


def test_function_wizard_gets_a_description_category_and_argument_help(
    imported: RecordingWorkbook, udf_module: types.ModuleType
) -> None:
    functions = _perp_functions(udf_module)
    assert set(imported.macro_options) == {f"'{ADDIN_NAME}'!{name}" for name in functions}
    for name, func in functions.items():
        options = imported.macro_options[f"'{ADDIN_NAME}'!{name}"]
        description = options["Description"]
        assert description == func.__doc__, "xlwings truncates at 255: keep it whole"
        assert 20 <= len(description) <= 255 and "\n" not in description, name
        assert options["Category"] == "PerpRisk"
        arguments = func.__xlfunc__["args"]
        assert options["ArgumentDescriptions"] == ([a["doc"] for a in arguments] or None)
        for argument in arguments:
            assert 10 <= len(argument["doc"]) <= 255, (name, argument["name"])
            assert not argument["doc"].startswith("Positional argument"), (name, argument["name"])


# Statements and keywords VBA will not take as a parameter name (Office VBA language reference).
VBA_RESERVED = frozenset(
    [
        "and",
        "as",
        "boolean",
        "byref",
        "byte",
        "byval",
        "call",
        "case",
        "close",
        "const",
        "currency",
        "date",
        "debug",
        "declare",
        "dim",
        "do",
        "double",
        "each",
        "else",
        "elseif",
        "empty",
        "end",
        "enum",
        "eqv",
        "erase",
        "error",
        "event",
        "exit",
        "false",
        "for",
        "friend",
        "function",
        "get",
        "global",
        "gosub",
        "goto",
        "if",
        "imp",
        "implements",
        "in",
        "input",
        "integer",
        "is",
        "let",
        "like",
        "line",
        "lock",
        "long",
        "loop",
        "lset",
        "me",
        "mod",
        "name",
        "new",
        "next",
        "not",
        "nothing",
        "null",
        "on",
        "open",
        "option",
        "optional",
        "or",
        "paramarray",
        "preserve",
        "print",
        "private",
        "public",
        "put",
        "raiseevent",
        "redim",
        "rem",
        "resume",
        "return",
        "rset",
        "seek",
        "select",
        "set",
        "single",
        "static",
        "step",
        "stop",
        "string",
        "sub",
        "then",
        "to",
        "true",
        "type",
        "typeof",
        "until",
        "variant",
        "wend",
        "while",
        "width",
        "with",
        "withevents",
        "write",
        "xor",
    ]
)


def test_names_are_valid_vba_and_not_cell_references(udf_module: types.ModuleType) -> None:
    for name, func in _perp_functions(udf_module).items():
        assert re.fullmatch(r"PERP_[A-Z0-9_]+", name), name
        assert not re.fullmatch(r"[A-Z]{1,3}[0-9]+", name.split("_", 1)[1]), name
        for parameter in inspect.signature(func).parameters:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", parameter), (name, parameter)
            assert parameter not in VBA_RESERVED, (name, parameter)
        assert func.__xlfunc__["async_mode"] is None and not func.__xlfunc__["volatile"]


def test_every_function_turns_exceptions_into_one_line(udf_module: types.ModuleType) -> None:
    for name, func in _perp_functions(udf_module).items():
        wrapped = inspect.unwrap(func)
        assert wrapped is not func, f"{name} is not wrapped by shows_errors"
        assert func.__code__ is errors.shows_errors(wrapped).__code__, name


def test_reference_recorder_reads_the_same_declarations_as_xlwings(
    udf_module: types.ModuleType,
) -> None:
    """Outside Windows the reference page is built by a recorder: it must agree with xlwings."""
    assert reference._recorded_functions() == reference.udf_functions(udf_module)


def test_function_reference_page_is_generated_from_the_declarations(
    repo_root: Path, udf_module: types.ModuleType
) -> None:
    page = repo_root / "docs" / "functions.md"
    expected = reference.render_markdown(reference.udf_functions(udf_module))
    assert page.read_text(encoding="utf-8") == expected, (
        "docs/functions.md is stale: run `perprisk addin reference --output docs/functions.md`"
    )

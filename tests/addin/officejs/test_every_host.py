"""Every spec function reaches every spreadsheet host, with its arguments in order.

One spec (:mod:`addin.excel.spec`) drives all hosts; this fails when any host's files miss a
function or an argument: the ready .xlam's VBA module and the golden module xlwings' own Import
Functions writes (Windows Excel), the committed type library source and the Function Wizard
registry of the LibreOffice add-in, the Office.js metadata and associations (Excel on Mac, web,
Windows), and the xlwings Lite main.py (Python in the browser).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from lxml import etree

from addin.calc import oxt
from addin.excel import addin_project, spec
from addin.lite.script import main_py
from addin.officejs import files

ROOT = Path(__file__).resolve().parents[3]
EXPECTED = {f.name: [a.name for a in f.arguments] for f in spec.functions()}


def _vba(source: str) -> dict[str, list[str]]:
    found = {}
    for name, arguments in re.findall(r"^Function (PERP_\w+)\(([^)]*)\)", source, re.MULTILINE):
        found[name] = [a.replace("Optional ", "").strip() for a in arguments.split(",")
                       if a.strip()]
    return found


def _idl(source: str) -> dict[str, list[str]]:
    return {name: re.findall(r"\[in\] any (\w+)", arguments)
            for name, arguments in re.findall(r"> (PERP_\w+)\(([^)]*)\);", source)}


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(addin_project.udf_wrappers, id="xlam module"),
        pytest.param(lambda: (ROOT / "tests/addin/excel/golden/perprisk_udfs.bas").read_text(
            encoding="utf-8"), id="xlwings Import Functions (golden)"),
    ],
)
def test_windows_excel_vba_declares_every_function(source: object) -> None:
    assert callable(source)
    assert _vba(source()) == EXPECTED


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(oxt.idl_source, id="generated"),
        pytest.param(lambda: (ROOT / "addin/calc/XPerpRisk.idl").read_text(encoding="utf-8"),
                     id="committed type library source"),
    ],
)
def test_libreoffice_interface_declares_every_function(source: object) -> None:
    assert callable(source)
    assert _idl(source()) == {f.name: list(f.idl_arguments) for f in spec.functions()}


def test_libreoffice_function_wizard_lists_every_function() -> None:
    ns = {"oor": "http://openoffice.org/2001/registry"}
    tree = etree.fromstring(oxt.calc_addins_xcu().encode("utf-8"))
    found = {
        node.get("{http://openoffice.org/2001/registry}name"): [
            parameter.get("{http://openoffice.org/2001/registry}name")
            for parameter in node.xpath("node[@oor:name='Parameters']/node",
                                        namespaces=ns)
        ]
        for node in tree.xpath(".//node[@oor:name='AddInFunctions']/node", namespaces=ns)
    }
    assert found == {f.name: list(f.idl_arguments) for f in spec.functions()}


def test_officejs_metadata_and_script_declare_every_function() -> None:
    metadata = {entry["name"]: [p["name"] for p in entry["parameters"]]
                for entry in files.functions_metadata()["functions"]}
    assert metadata == EXPECTED
    script = files.functions_js()
    associated = dict(re.findall(
        r'CustomFunctions\.associate\("([\w.]+)", function \(([^)]*)\)', script))
    assert associated == {files.function_id(name): ", ".join(arguments)
                          for name, arguments in EXPECTED.items()}


def test_xlwings_lite_main_declares_every_function() -> None:
    tree = ast.parse(main_py())
    found = {
        node.name: [a.arg for a in node.args.args]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Name) and d.id == "func" for d in node.decorator_list)
    }
    assert found == EXPECTED

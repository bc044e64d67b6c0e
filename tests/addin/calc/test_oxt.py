"""PerpRisk.oxt is derived from the Excel declarations, and its Python side equals Excel's.

No LibreOffice needed here except ``unoidl-write`` for the type-library check. The shipped copy
of the type library (``addin/calc/XPerpRisk.idl`` and ``.rdb``, used where the LibreOffice SDK is
missing) must match the declarations; after a signature change regenerate it with

    PERPRISK_UPDATE_GOLDEN=1 python3 -m pytest tests/addin/calc/test_oxt.py
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
import os
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

from addin.calc import host, install, oxt
from addin.excel import reference, spec
from addin.workbook.commands import write_oxt_file
from tests.addin.excel.excel_side import MISSING, Excel, Range
from tests.addin.excel.win32_standins import load_windows_udf_stack

OOR = "{http://openoffice.org/2001/registry}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _udf_names() -> list[str]:
    module = importlib.import_module(spec.UDF_MODULE)
    return sorted(name for name in vars(module) if name.startswith("PERP_"))


def test_every_excel_function_is_in_the_calc_add_in(tmp_path: Path) -> None:
    names = _udf_names()
    assert sorted(f.name for f in spec.functions()) == names
    path = oxt.write_oxt(tmp_path)
    with zipfile.ZipFile(path) as archive:
        listed = json.loads(archive.read("perprisk_functions.json"))
        xcu = ET.fromstring(archive.read("CalcAddIns.xcu"))
        manifest = archive.read("META-INF/manifest.xml").decode("utf-8")
        for part in ("XPerpRisk.rdb", "CalcAddIns.xcu", "perprisk_calc.py"):
            assert f'manifest:full-path="{part}"' in manifest
            assert part in archive.namelist()
    module = importlib.import_module(spec.UDF_MODULE)
    assert listed == {
        name: len(inspect.signature(getattr(module, name)).parameters) for name in names
    }
    idl = oxt.idl_source()
    for name in names:
        assert f" {name}(" in idl
    declared = xcu.findall(f".//node[@{OOR}name='AddInFunctions']/node")
    assert sorted(node.get(f"{OOR}name") or "" for node in declared) == names


def _prop(node: ET.Element, name: str) -> ET.Element:
    found = node.find(f"prop[@{OOR}name='{name}']/value")
    assert found is not None, name
    return found


def test_function_wizard_texts_are_excels() -> None:
    """Calc's Function Wizard shows what Excel's shows (read back by an independent reader)."""
    xcu = ET.fromstring(oxt.calc_addins_xcu())
    nodes = {
        node.get(f"{OOR}name"): node
        for node in xcu.findall(f".//node[@{OOR}name='AddInFunctions']/node")
    }
    for info in reference.functions():
        node = nodes[info.name]
        assert _prop(node, "DisplayName").text == info.name
        assert _prop(node, "Description").text == info.description.strip().splitlines()[0]
        compatibility = _prop(node, "CompatibilityName")
        assert compatibility.text == info.name and compatibility.get(XML_LANG) == "en-US"
        parameters = node.findall(f"node[@{OOR}name='Parameters']/node")
        assert len(parameters) == len(info.arguments)
        for parameter, argument in zip(parameters, info.arguments, strict=True):
            assert parameter.get(f"{OOR}name") == spec.idl_identifier(argument.name)
            assert _prop(parameter, "DisplayName").text == argument.name
            doc = " ".join(argument.doc.split())
            help_text = _prop(parameter, "Description").text
            assert help_text == (f"(optional) {doc}" if argument.optional else doc)


def test_shipped_type_library_matches_the_declarations() -> None:
    idl = oxt.idl_source()
    tool = oxt.find_unoidl_write()
    if os.environ.get("PERPRISK_UPDATE_GOLDEN"):
        oxt.SHIPPED_IDL.write_text(idl, encoding="utf-8")
        oxt.SHIPPED_RDB.write_bytes(oxt.compile_idl(idl, tool))
    assert oxt.SHIPPED_IDL.read_text(encoding="utf-8") == idl, (
        "cell functions changed: regenerate with PERPRISK_UPDATE_GOLDEN=1 (see module docstring)"
    )
    if tool is None:
        pytest.skip("unoidl-write (libreoffice-dev) not installed")
    assert oxt.compile_idl(idl, tool) == oxt.SHIPPED_RDB.read_bytes()


def test_without_the_sdk_the_shipped_library_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oxt, "find_unoidl_write", lambda: None)
    assert oxt.type_library() == oxt.SHIPPED_RDB.read_bytes()
    with pytest.raises(oxt.SdkMissingError, match="libreoffice-dev"):
        oxt.type_library(oxt.idl_source() + "// changed\n")


def test_build_writes_the_oxt_and_keeps_a_foreign_file(tmp_path: Path) -> None:
    written = write_oxt_file(tmp_path)
    assert written == tmp_path / oxt.OXT_NAME and zipfile.is_zipfile(written)
    assert write_oxt_file(tmp_path) == written  # ours: rewritten
    written.write_bytes(b"somebody else's file")
    assert write_oxt_file(tmp_path) is None


def test_install_as_root_needs_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "_is_root", lambda: True)
    report = install.install_libreoffice(unopkg="/nonexistent/unopkg")
    assert not report.installed and "--shared" in report.text()


def test_install_without_libreoffice_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(install, "find_unopkg", lambda: None)
    report = install.install_libreoffice()
    assert not report.installed and "LibreOffice" in report.lines[0]


@pytest.mark.parametrize("platform", ["win32", "darwin", "linux"])
def test_install_explains_how_numpy_reaches_libreoffice_python(platform: str) -> None:
    advice = " ".join(install.python_advice(platform))
    assert "perprisk" in advice and "Python" in advice
    if platform != "linux":
        assert "pip install" in advice


def test_environment_paths_find_this_perprisk() -> None:
    import riskfuncs

    paths = install.environment_paths()
    found = Path(riskfuncs.__file__).resolve().parent.parent
    assert any(
        Path(p) == found or (Path(p) / "riskfuncs").exists() or list(Path(p).glob("*.pth"))
        for p in paths
    )


def test_host_doctests() -> None:
    for module in (spec, host):
        assert doctest.testmod(module).failed == 0


# --- the same cell, Calc's way and Excel's way ------------------------------------------------

TIERS = [
    ["minNotional", "maxNotional", "maintenanceMarginRate", "maintenanceAmount", "maxLeverage"],
    [0, 50_000, 0.004, 0, 125],
    [50_000, 600_000, 0.005, 50, 100],
]
POSITIONS = [
    ["exchange", "symbol", "side", "contracts", "entryPrice", "markPrice", "collateral",
     "maintenanceMarginRate"],
    ["binance", "BTC/USDT:USDT", "long", 0.5, 60_000, 61_000, 3_000, 0.004],
    ["bybit", "ETH/USDT:USDT", "short", 2, 3_000, 2_950, 600, 0.005],
]
# (function, arguments): a list is a range of cells, None an argument left out.
CALLS: list[tuple[str, list[Any]]] = [
    ("PERP_NOTIONAL", [0.5, 60_000.0]),
    ("PERP_NOTIONAL", [[[1.0], [2.0]], 100.0, "inverse"]),
    ("PERP_NOTIONAL", [-1.0, 60_000.0]),
    ("PERP_NOTIONAL", [0.5]),
    ("PERP_LIQ_PRICE", ["long", 60_000.0, 0.5, 3_000.0, "binance", None, 0.004]),
    ("PERP_LIQ_PRICE", [[["long"], ["short"]], [[60_000.0], [3_000.0]], [[0.5], [2.0]],
                        [[3_000.0], [600.0]], "bybit", None, 0.005]),
    ("PERP_LIQ_PRICE", ["short", 64_000.0, 1_000.0, 1.0, "binance", "inverse", 0.004]),
    ("PERP_LIQ_PRICE", ["sideways", 60_000.0, 0.5, 3_000.0]),
    ("PERP_MAINT_MARGIN", [[[0.5], [20.0]], 60_000.0, None, None, TIERS]),
    ("PERP_TIER", [75_000.0, TIERS]),
    ("PERP_UNREALIZED_PNL", [[["long"], ["short"]], [[100.0], [100.0]], [[110.0], [None]], 2.0]),
    ("PERP_EXCHANGE_RULE", [[["binanceusdm", "bybit", "kraken"]]]),
    ("PERP_CHECK_LEVERAGE", [[[3.0], [7.0]], 5.0]),
    ("PERP_PORTFOLIO", [POSITIONS]),
    ("PERP_MAX_LEVERAGE_FOR_MOVE", [0.3, "long", 0.005]),
    ("PERP_COLLATERAL_TIERS", ["bybit_uta", "BTC"]),
    ("PERP_COLLATERAL_VALUE", [60.0, 60_000.0, [["minAmount", "maxAmount", "ratio"],
                                                [0, 10, 0.98], [10, None, 0.95]]]),
    ("PERP_TIERED_ADD_ON", [[[5e5], [1e7]], [["minValue", "maxValue", "rate"], [0, 1e6, 0.0075],
                                             [1e6, 5e6, 0.0175], [5e6, None, 0.025]]]),
    ("PERP_ACCOUNT_STRESS", [
        [["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate"],
         ["BTC/USDT:USDT", "long", 0.5, 20_000.0, 20_000.0, 0.008],
         ["ETH/USDC:USDC", "long", 20.0, 600.0, 600.0, 0.01]],
        [["coin", "balance", "price", "bid_buffer", "ask_buffer"],
         ["USDT", 200.0, 0.99, 0.01, 0.005], ["USDC", 220.0, 1.0, None, None]],
        [["name", "BTC", "ETH"], ["down", -0.1, -0.2], ["up", 0.1, None]],
        "binance_multi_assets"]),
    ("PERP_ACCOUNT_MARGIN", [
        [["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate"],
         ["ETH/USDT:USDT", "short", 500.0, 3_000.0, 3_100.0, 0.005]],
        [["coin", "balance", "price", "ratio"], ["BTC", 100.0, 60_000.0, None],
         ["USDT", 1_000.0, None, "bybit"]],
        "okx_multi_currency", None,
        [["coin", "minAmount", "maxAmount", "ratio"], ["BTC", 0, 20, 0.98], ["BTC", 20, 25, 0.975],
         ["BTC", 25, 30, 0.97], ["BTC", 30, 50, 0.965], ["BTC", 50, 70, 0.96],
         ["BTC", 70, 90, 0.955], ["BTC", 90, 110, 0.95]]]),
    ("PERP_ACCOUNT_MARGIN", [
        [["symbol", "side", "contracts", "entryPrice", "markPrice", "maintenanceMarginRate"],
         ["ETH/USDT:USDT", "short", 500.0, 3_000.0, 3_100.0, 0.005]],
        [["coin", "balance", "price", "ratio"], ["BTC", 100.0, 60_000.0, "okx"]],
        "okx_multi_currency", None, [["coin", "minAmount", "ratio"], ["BTC", 5, 0.9]]]),
    ("PERP_SCENARIO_MARGIN", [
        [["symbol", "side", "contracts", "markPrice"], ["BTC/USDT:USDT", "long", 1.0, 50_000.0]],
        [["name", "price_move"], ["down", -0.1], ["up", 0.1]]]),
    ("PERP_BOOK_VAR", [[["BTC", "ETH"], *([0.01 * ((7 * i) % 11 - 5), 0.01 * ((5 * i) % 13 - 6)]
                                          for i in range(40))],
                       [["BTC/USDT:USDT", 1000.0], ["ETH", -500.0], ["SOL", 200.0]], 0.95]),
]


def _excel_argument(value: Any) -> Any:
    if value is None:
        return MISSING
    if isinstance(value, list):
        return Range(value)
    return value


def _calc_argument(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(tuple(row) for row in value)
    return value


def _grid(value: Any) -> list[list[Any]]:
    """A cell result as rows; a flat list is one row, as Excel shows a 1-D array."""
    if isinstance(value, list | tuple) and not any(isinstance(r, list | tuple) for r in value):
        value = [value]
    rows = value if isinstance(value, list | tuple) else [[value]]
    rows = [list(r) if isinstance(r, list | tuple) else [r] for r in rows]
    return [[float(v) if isinstance(v, bool) else ("" if v is None else v) for v in r]
            for r in rows]


@pytest.fixture(scope="module")
def excel() -> Excel:
    _, com_server = load_windows_udf_stack()
    module = sys.modules.get(spec.UDF_MODULE)
    if module is not None and not hasattr(module.PERP_LIQ_PRICE, "__xlfunc__"):
        importlib.reload(module)
    importlib.import_module(spec.UDF_MODULE)
    return Excel(com_server, spec.UDF_MODULE)


@pytest.mark.parametrize(
    ("name", "arguments"), CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CALLS)]
)
def test_calc_gets_what_excel_shows(excel: Excel, name: str, arguments: list[Any]) -> None:
    """Through xlwings' real Windows call path and through the Calc host: the same cells."""
    in_excel = excel.call(name, *(_excel_argument(a) for a in arguments))
    in_calc = host.call(name, tuple(_calc_argument(a) for a in arguments))
    assert _grid(in_calc) == _grid(in_excel)


def test_cli_routes_libreoffice_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from addin.cli import main

    seen: dict[str, Any] = {}

    def fake(**options: Any) -> install.CalcInstallReport:
        seen.update(options)
        return install.CalcInstallReport(True, ["installed"])

    monkeypatch.setattr(install, "install_libreoffice", fake)
    profile = tmp_path / "profile"
    assert main(["addin", "install", "--libreoffice", "--shared", "--profile", str(profile)]) == 0
    assert seen == {"shared": True, "profile": profile}
    assert capsys.readouterr().out == "installed\n"


def test_cli_convert_writes_a_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import Workbook, load_workbook

    from addin.cli import main

    book = Workbook()
    book.active["A1"] = "=PERP_NOTIONAL(0.5,60000)*2"
    book.save(tmp_path / "book.xlsx")
    assert main(["addin", "convert", str(tmp_path / "book.xlsx"), "--for", "libreoffice"]) == 0
    assert "1 formulas rewritten" in capsys.readouterr().out
    converted = load_workbook(tmp_path / "book-libreoffice.xlsx").active["A1"].value
    assert converted == "=ORG.PERPRISK.CALC.PERPRISK.PERP_NOTIONAL(0.5,60000)*2"
    back = tmp_path / "back.xlsx"
    assert main(["addin", "convert", str(tmp_path / "book-libreoffice.xlsx"), "--for", "excel",
                 "-o", str(back)]) == 0
    assert load_workbook(back).active["A1"].value == "=PERP_NOTIONAL(0.5,60000)*2"
    assert main(["addin", "convert", str(back), "--for", "excel", "-o", str(back)]) == 1


def test_libreoffice_python_version_is_read_from_its_bridge() -> None:
    bridge = Path("/usr/lib/libreoffice/program/libpyuno.so")
    if not bridge.is_file():
        pytest.skip("no LibreOffice Python bridge here")
    import re as regex

    found = regex.search(rb"libpython3\.(\d+)", bridge.read_bytes())
    assert found is not None
    unopkg = install.find_unopkg() or "/usr/bin/unopkg"
    assert install.libreoffice_python_version(unopkg) == (3, int(found.group(1)))

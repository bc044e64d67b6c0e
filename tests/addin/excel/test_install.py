"""``perprisk addin install|reference`` and the PerpRisk.xlam built from xlwings' template."""

from __future__ import annotations

import re
import sys
import xml.dom.minidom
import zipfile
from pathlib import Path

import pytest

from addin import cli
from addin.excel import addin_file, install
from addin.excel.addin_project import ready_vba_project


def _sheet_settings(xlam: Path) -> dict[str, str]:
    """Column A label -> column B text of the add-in's settings sheet."""
    with zipfile.ZipFile(xlam) as z:
        labels = re.findall(r"<si><t>(.*?)</t></si>", z.read("xl/sharedStrings.xml").decode())
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    settings = {}
    for row in re.findall(r"<row [^>]*>(.*?)</row>", sheet, flags=re.S):
        label = re.search(r'<c r="A\d+"[^>]*t="s"[^>]*><v>(\d+)</v>', row)
        value = re.search(r'<c r="B\d+" t="inlineStr"><is><t>(.*?)</t>', row)
        if label and value:
            settings[labels[int(label.group(1))]] = value.group(1)
    return settings


def test_addin_is_xlwings_template_with_settings_filled(tmp_path: Path) -> None:
    interpreter = r"C:\Users\trader\perprisk\.venv\Scripts\pythonw.exe"
    xlam = addin_file.write_addin(tmp_path, interpreter=interpreter, pythonpath=r"C:\extra & co")
    assert xlam.name == "PerpRisk.xlam"
    assert _sheet_settings(xlam) == {
        "UDF Modules": "addin.excel.udfs",
        "Interpreter_Win": interpreter,
        "PYTHONPATH": r"C:\extra &amp; co",  # XML-escaped in the part
    }
    with zipfile.ZipFile(xlam) as made, zipfile.ZipFile(addin_file.TEMPLATE) as template:
        assert sorted(made.namelist()) == sorted(template.namelist())
        # The VBA project is written from source (xlwings' code plus the wrappers, see
        # test_ready_addin.py); the package is still an add-in.
        assert made.read("xl/vbaProject.bin") == ready_vba_project(template)
        assert b"addin.macroEnabled.main+xml" in made.read("[Content_Types].xml")
        workbook = made.read("xl/workbook.xml").decode()
        for part in ("xl/workbook.xml", "xl/worksheets/sheet1.xml"):
            xml.dom.minidom.parseString(made.read(part))  # still well-formed
    assert '<sheet name="myaddin.conf"' in workbook  # active settings sheet (PROJECT_NAME)
    assert "absPath" not in workbook


def test_addin_without_interpreter_leaves_xlwings_default(tmp_path: Path) -> None:
    assert _sheet_settings(addin_file.write_addin(tmp_path)) == {"UDF Modules": "addin.excel.udfs"}


def test_windows_install_registers_module_and_interpreter(tmp_path: Path) -> None:
    config = tmp_path / ".xlwings" / "xlwings.conf"
    config.parent.mkdir()
    config.write_text('"LICENSE_KEY","abc"\n"UDF MODULES","mymodels"\n"INTERPRETER_WIN","old"\n')
    python = str(tmp_path / "python.exe")
    report = install.install(
        platform="win32", home=tmp_path, interpreter=python, addin_dir=tmp_path / "addin"
    )
    assert report.installed
    assert config.read_text().splitlines() == [
        '"LICENSE_KEY","abc"',
        f'"INTERPRETER_WIN","{python}"',
        '"UDF MODULES","mymodels;addin.excel.udfs"',
    ]
    assert (tmp_path / "addin" / "PerpRisk.xlam").exists()
    assert "Import Functions" in report.text()
    # Running it again changes nothing.
    install.install(platform="win32", home=tmp_path, interpreter=python, addin_dir=tmp_path / "a")
    assert config.read_text().count("addin.excel.udfs") == 1


def test_pythonw_is_preferred_when_present(tmp_path: Path) -> None:
    (tmp_path / "pythonw.exe").touch()
    assert install.pythonw_for(str(tmp_path / "python.exe")) == str(tmp_path / "pythonw.exe")
    assert install.pythonw_for(str(tmp_path / "python3")) == str(tmp_path / "python3")


@pytest.mark.parametrize(("platform", "system"), [("darwin", "macOS"), ("linux", "Linux")])
def test_other_platforms_get_an_explanation(tmp_path: Path, platform: str, system: str) -> None:
    report = install.install(platform=platform, home=tmp_path)
    assert not report.installed
    assert f"this {system} machine" in report.text() and "workbooks" in report.text()
    assert not (tmp_path / ".xlwings").exists()


@pytest.mark.skipif(sys.platform.startswith("win"), reason="would install for real")
def test_cli_install_and_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["addin", "install"]) == 1
    assert "Nothing was installed" in capsys.readouterr().out
    out = tmp_path / "functions.md"
    assert cli.main(["addin", "reference", "--output", str(out)]) == 0
    assert "### PERP_LIQ_PRICE" in out.read_text()
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert cli.main(["addin", "file", "--out", str(tmp_path / "dist")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'dist' / 'PerpRisk.xlam'}\n"
    assert cli.main(["addin", "reference"]) == 0
    assert capsys.readouterr().out.startswith("# perprisk cell functions")

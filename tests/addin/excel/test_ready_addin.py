"""The ready PerpRisk.xlam: its VBA project, written from source, read back by oletools.

An independent reader (oletools' olevba: its own compound-file parser, dir-stream parser and
decompressor) must decode every module of the written project back to the source it came from,
and the function wrappers must equal the golden file, i.e. exactly what xlwings' own
``import_udfs`` writes into a workbook. Not covered here: opening the add-in in Excel (there is
no Excel on this machine); Excel compiles source-only projects on load per [MS-OVBA].
"""

from __future__ import annotations

import io
import os
import re
import struct
import types
import warnings
import zipfile
from pathlib import Path

import olefile
import pytest

with warnings.catch_warnings():  # oletools 0.60 uses pyparsing names deprecated since 3.0
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser, decompress_stream

from addin.excel import addin_project, vba_project
from addin.excel.addin_file import TEMPLATE, write_addin

GOLDEN = Path(__file__).parent / "golden" / "perprisk_udfs.bas"


def _modules(path: Path | str, data: bytes | None = None) -> dict[str, str]:
    parser = VBA_Parser(str(path), data=data)
    try:
        return {
            stream.split("/")[-1]: code.replace("\r\n", "\n")
            for _, stream, _, code in parser.extract_macros()
        }
    finally:
        parser.close()


@pytest.fixture(scope="module")
def xlam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_addin(tmp_path_factory.mktemp("xlam"), interpreter=r"C:\Python\pythonw.exe")


def test_olevba_decodes_every_module_to_its_source(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as package:
        expected = {m.name: m.source.replace("\r\n", "\n") for m in
                    addin_project.addin_modules(package)}
    decoded = _modules(xlam)
    assert sorted(decoded) == sorted(expected) == sorted(
        ["ThisWorkbook", "Sheet2", "Dictionary", "xlwings", "xlwings_udfs"]
    )
    for name, source in expected.items():
        assert decoded[name] == source, name


def test_wrappers_equal_what_xlwings_import_functions_writes(xlam: Path) -> None:
    assert _modules(xlam)["xlwings_udfs"] == GOLDEN.read_text(encoding="utf-8")


def test_modules_equal_the_xlwings_template_project(xlam: Path) -> None:
    """xlwings' add-in module and its Dictionary class as in xlwings' own add-in template (the
    VBE only changed the case of an identifier there); the sample module is left out."""
    template = _modules(TEMPLATE)
    ours = _modules(xlam)
    assert ours["xlwings"] == template["xlwings"]
    assert ours["Dictionary"].lower() == template["Dictionary"].lower()
    assert ours["ThisWorkbook"].startswith(template["ThisWorkbook"])  # plus Workbook_Open
    assert ours["Sheet2"] == template["Sheet2"]
    assert "Module1" in template and "Module1" not in ours


def _decrypt(hex_text: str) -> bytes:
    data = bytes.fromhex(hex_text)
    seed, version_enc, key_enc = data[:3]
    assert seed ^ version_enc == 2
    unencrypted_1, encrypted_1, encrypted_2 = seed ^ key_enc, key_enc, version_enc
    plain = []
    for byte in data[3:]:
        value = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte, value
        plain.append(value)
    plain = plain[(seed & 6) // 2 :]
    length = struct.unpack("<I", bytes(plain[:4]))[0]
    assert len(plain) == 4 + length
    return bytes(plain[4:])


def test_project_is_source_only_unprotected_and_visible(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as package:
        ole = olefile.OleFileIO(io.BytesIO(package.read("xl/vbaProject.bin")))
    assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("cc61ffff000300")
    project = ole.openstream("PROJECT").read().decode("cp1252")
    fields = dict(line.split("=", 1) for line in project.splitlines() if "=" in line)
    project_id = fields["ID"].strip('"')
    assert fields["Name"] == '"PerpRisk"'
    assert _decrypt(fields["CMG"].strip('"')) == bytes(4)  # not protected
    assert _decrypt(fields["DPB"].strip('"')) == b"\x00"  # no password
    assert _decrypt(fields["GC"].strip('"')) == b"\xff"  # visible
    # The key is the project ID's byte sum: the template's own fields decrypt the same way.
    assert sum(project_id.encode()) & 0xFF == bytes.fromhex(fields["CMG"].strip('"'))[0] ^ (
        bytes.fromhex(fields["CMG"].strip('"'))[2]
    )
    with zipfile.ZipFile(TEMPLATE) as package:
        template = olefile.OleFileIO(io.BytesIO(package.read("xl/vbaProject.bin")))
    template_fields = dict(
        line.split("=", 1)
        for line in template.openstream("PROJECT").read().decode("cp1252").splitlines()
        if "=" in line
    )
    assert _decrypt(template_fields["CMG"].strip('"')) == bytes(4)
    assert _decrypt(template_fields["GC"].strip('"')) == b"\xff"


def test_the_add_in_keeps_its_settings(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as package:
        workbook = package.read("xl/workbook.xml").decode("utf-8")
        sheet = package.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert 'name="myaddin.conf"' in workbook and "addin.excel.udfs" in sheet
    assert "C:\\Python\\pythonw.exe" in sheet


def test_template_project_kept_on_request(tmp_path: Path) -> None:
    kept = write_addin(tmp_path, ready=False)
    with zipfile.ZipFile(kept) as ours, zipfile.ZipFile(TEMPLATE) as template:
        assert ours.read("xl/vbaProject.bin") == template.read("xl/vbaProject.bin")


@pytest.mark.parametrize("size", [0, 1, 7, 4095, 4096, 4097, 12_000, 50_000])
def test_compression_round_trips_through_olevba(size: int) -> None:
    text = (GOLDEN.read_bytes() * 100)[:size // 2] + os.urandom(size - size // 2)[: size // 8]
    assert bytes(decompress_stream(bytearray(vba_project.compress(text)))) == text


def test_compound_file_is_read_by_olefile() -> None:
    streams = {
        "PROJECT": b"small",
        "VBA/big": bytes(range(256)) * 40,
        "VBA/dir": b"x" * 4095,
        "VBA/a": b"",
        "Other/deeper": b"y" * 5000,
    }
    ole = olefile.OleFileIO(io.BytesIO(vba_project.compound_file(streams)))
    for path, data in streams.items():
        assert ole.openstream(path).read() == data
    assert sorted("/".join(p) for p in ole.listdir()) == sorted(streams)


_STRING = r'"((?:[^"]|"")*)"'


def _wizard_calls(source: str) -> dict[str, dict[str, object]]:
    """The MacroOptions texts in the ThisWorkbook source, per function."""
    calls: dict[str, dict[str, object]] = {}
    for block in re.findall(r"Private Sub Describe_(\w+)\(\)\n(.*?)\nEnd Sub", source, re.S):
        name, body = block
        description = re.search(r"Description:=" + _STRING, body)
        category = re.search(r"Category:=" + _STRING, body)
        assert description is not None and category is not None
        arguments = body.split("ArgumentDescriptions:=Array(", 1)
        docs = re.findall(r"^\s+" + _STRING, arguments[1], re.M) if len(arguments) > 1 else []
        calls[name] = {
            "Description": description.group(1).replace('""', '"'),
            "Category": category.group(1),
            "ArgumentDescriptions": [d.replace('""', '"') for d in docs] or None,
        }
    return calls


def test_wizard_texts_are_what_import_functions_sets(
    xlam: Path, xlwings_udfs: types.ModuleType, udf_module: types.ModuleType
) -> None:
    """Workbook_Open calls MacroOptions with the texts xlwings' import_udfs passes."""
    from tests.addin.excel.test_udf_declarations import RecordingWorkbook

    workbook = RecordingWorkbook("PerpRisk.xlam")
    xlwings_udfs.import_udfs("addin.excel.udfs", workbook)
    ours = _wizard_calls(_modules(xlam)["ThisWorkbook"])
    assert "Private Sub Workbook_Open()" in _modules(xlam)["ThisWorkbook"]

    def plain(text: object) -> object:
        return " ".join(str(text).split()) if isinstance(text, str) else text

    expected = {
        macro.split("!", 1)[1]: {
            "Description": plain(options["Description"]),
            "Category": options["Category"],
            "ArgumentDescriptions": None
            if options["ArgumentDescriptions"] is None
            else [plain(d) for d in options["ArgumentDescriptions"]],
        }
        for macro, options in workbook.macro_options.items()
    }
    assert ours == expected

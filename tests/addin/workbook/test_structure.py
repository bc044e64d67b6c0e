"""What every built workbook carries: names, validations, protection, print setup, the template
identifier, Calibri, formulas Excel 2010 and LibreOffice 7.4 both compute; and the build's
promise never to overwrite a file it did not write."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.formula import Tokenizer
from openpyxl.formula.tokenizer import Token

from addin import cli
from addin.workbook import builder, formulas, layout, recalc

TEMPLATES = list(layout.TEMPLATES.values())


@pytest.fixture(scope="module")
def books(blank_dir: Path) -> dict[str, Any]:
    return {t.id: load_workbook(blank_dir / t.filename) for t in TEMPLATES}


def visible_sheets(template: layout.Template) -> list[layout.Sheet]:
    return [layout.SHEETS[k] for k in layout.sheet_closure(template.sheets)]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_sheets_names_and_identifier(books: dict[str, Any], template: layout.Template) -> None:
    wb = books[template.id]
    sheets = visible_sheets(template)
    assert wb.sheetnames == [s.title for s in sheets] + [layout.META_SHEET]
    assert wb[layout.META_SHEET].sheet_state == "veryHidden"
    assert wb[layout.META_SHEET]["B1"].value == template.id
    assert wb[layout.META_SHEET]["B2"].value == template.version
    tag = wb.defined_names[layout.TEMPLATE_ID_NAME]
    assert tag.hidden and tag.attr_text == f'"{template.tag}"'
    for sheet in sheets:
        assert (wb[sheet.title].sheet_state == "hidden") == sheet.hidden
        for name, ref in layout.iter_names(sheet):
            assert wb.defined_names[name].attr_text == ref


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_validations_protection_and_print_setup(books: dict[str, Any],
                                                template: layout.Template) -> None:
    wb = books[template.id]
    for sheet in visible_sheets(template):
        ws = wb[sheet.title]
        assert ws.protection.sheet and not ws.protection.password
        assert ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
        assert ws.print_area and ws.freeze_panes
        validated = {str(r) for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges}
        for table in sheet.tables:
            # The header each printed page repeats: the sheet's choice, else its first table's.
            titles = sheet.table(sheet.print_titles) if sheet.print_titles else sheet.tables[0]
            head = titles.header_row
            # The dashboard prints on one page: no repeated header, no frozen table top.
            assert ws.print_title_rows == (None if sheet.charts else f"${head}:${head}")
            for col in table.columns:
                letter = table.column_letter(col.key)
                top = ws[f"{letter}{table.first_row}"]
                if col.role == "input":
                    assert top.protection.locked is False, col.key
                    if col.rule.kind != "text" and not sheet.hidden:
                        assert f"{letter}{table.first_row}:{letter}{table.last_row}" in \
                            validated, col.key
                else:
                    assert top.protection.locked is True, col.key
                    assert top.data_type == "f" or top.value in (None, "") or \
                        isinstance(top.value, str), col.key
        for f in sheet.fields:
            cell = ws[sheet.field_cell(f.key)]
            assert cell.protection.locked is (f.role == "formula"), f.key


def test_list_and_bound_validations_carry_messages(books: dict[str, Any]) -> None:
    ws = books["credit-risk-assessment"][layout.POSITIONS.title]
    t = layout.POSITIONS.table("positions")
    by_range = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}

    def rule(key: str) -> Any:
        letter = t.column_letter(key)
        return by_range[f"{letter}{t.first_row}:{letter}{t.last_row}"]

    for key, allowed in (("side", layout.SIDES), ("contract", layout.CONTRACTS),
                         ("margin_mode", layout.MARGIN_MODES)):
        dv = rule(key)
        assert dv.type == "list" and dv.formula1 == '"' + ",".join(allowed) + '"'
        assert dv.showErrorMessage and dv.error
    # The venue list only suggests: bitget or kraken are typed in and kept.
    venue = rule("exchange")
    assert venue.type == "list" and venue.formula1 == '"' + ",".join(layout.VENUES) + '"'
    assert not venue.showErrorMessage
    size = rule("size")
    assert (size.type, size.operator, size.formula1) == ("decimal", "greaterThan", "0")
    assert size.showErrorMessage and size.error and size.showInputMessage and size.prompt
    mmr = rule("maintenance_margin_rate")
    assert mmr.operator == "between" and float(mmr.formula2) < 1


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_formulas_use_only_functions_both_engines_compute(books: dict[str, Any],
                                                          template: layout.Template) -> None:
    problems = []
    functions: set[str] = set()
    seen: set[str] = set()
    for ws in books[template.id].worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                shape = re.sub(r"\d+", "0", cell.value)  # rows differ, functions do not
                if shape in seen:
                    continue
                seen.add(shape)
                problems += [f"{ws.title}!{cell.coordinate}: {p}"
                             for p in formulas.lint(cell.value)]
                functions |= {tok.value[:-1].lstrip(":") for tok in Tokenizer(cell.value).items
                              if tok.type == Token.FUNC and tok.subtype == Token.OPEN}
    assert not problems, problems[:5]
    assert functions  # the lint saw formulas


def test_lint_catches_unprefixed_and_unsupported_functions() -> None:
    assert formulas.lint("=NORM.S.DIST(1,TRUE)") == ["NORM.S.DIST needs the _xlfn. prefix"]
    assert formulas.lint("=_xlfn.XLOOKUP(1,A1:A2,B1:B2)") == \
        ["XLOOKUP is not computed by LibreOffice 7.4"]
    assert formulas.lint("=_xlfn.MINIFS(A1:A2,B1:B2,1)") == ["MINIFS is newer than Excel 2010"]
    assert formulas.lint("=_xlfn.NORM.S.DIST(1,TRUE)+SUMPRODUCT(A1:A2)") == []


def test_every_cell_is_calibri(books: dict[str, Any]) -> None:
    wb = books["credit-risk-assessment"]
    fonts = {cell.font.name for ws in wb.worksheets if ws.title != layout.META_SHEET
             for row in ws.iter_rows(max_row=40) for cell in row if cell.value is not None}
    assert fonts == {"Calibri"}


def test_focused_templates_share_the_sheet_definitions(books: dict[str, Any]) -> None:
    """A sheet in a focused template is cell for cell the complete workbook's sheet, but for
    the Positions columns that read a sheet the focused template does not have (the
    liquidation probability and the worst stress case behind the Level): blank there."""
    full_id = "credit-risk-assessment"
    full = books[full_id]
    positions = layout.POSITIONS.table("positions")
    elsewhere = {positions.column_index(k) - 1 for k in ("liquidation_probability",
                                                          "worst_case_liquidated")}
    for template in TEMPLATES:
        for key in ("positions", "tiers", "scorecard"):
            if key not in layout.sheet_closure(template.sheets):
                continue
            title = layout.SHEETS[key].title
            a, b = full[title], books[template.id][title]
            skip = elsewhere if key == "positions" and template.id != full_id else set()
            assert [[c.value for i, c in enumerate(r) if i not in skip]
                    for r in a.iter_rows(max_row=60)] == \
                   [[c.value for i, c in enumerate(r) if i not in skip]
                    for r in b.iter_rows(max_row=60)], (template.id, key)
            closure = layout.sheet_closure(template.sheets)
            for i, needs in zip(sorted(skip), ("volatility", "stress"), strict=False):
                first = positions.first_row
                if key == "positions" and needs not in closure:  # blank, never a dead reference
                    assert b.cell(first, i + 1).value == f'=IF(E{first}="","","")', needs


# --------------------------------------------------------------------------------------------
# The output folder

def test_rebuild_replaces_own_files_and_keeps_others(tmp_path: Path) -> None:
    only = [layout.TEMPLATES["risk-audit"], layout.TEMPLATES["exchange-scorecard"]]
    first = builder.build_all(tmp_path, only)
    assert [p.name for p in first.written] == [t.filename for t in only]
    manifest = json.loads((tmp_path / builder.MANIFEST).read_text())
    assert set(manifest["files"]) == {t.filename for t in only}

    again = builder.build_all(tmp_path, only)  # unchanged files are the build's own
    assert again.skipped == []
    filled = tmp_path / only[0].filename
    filled.write_bytes(filled.read_bytes() + b"trader")  # a trader saved over it
    stranger = tmp_path / only[1].filename
    stranger.unlink()
    stranger.write_bytes(b"not ours")
    (tmp_path / builder.MANIFEST).write_text(json.dumps({"files": {}}))  # and lost the record
    third = builder.build_all(tmp_path, only)
    assert sorted(third.skipped) == sorted([filled, stranger])
    assert filled.read_bytes().endswith(b"trader") and stranger.read_bytes() == b"not ours"


def test_cli_build_reports_kept_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "risk-audit.xlsx").write_bytes(b"my own audit")
    code = cli.main(["build", "--out", str(tmp_path), "--template", "risk-audit",
                     "--template", "exchange-scorecard"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "wrote" in out and "exchange-scorecard.xlsx" in out
    assert "kept" in err and "risk-audit.xlsx" in err
    assert (tmp_path / "risk-audit.xlsx").read_bytes() == b"my own audit"


def test_full_build_ships_the_addin_file_and_keeps_a_foreign_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["build", "--out", str(tmp_path)]) == 0
    addin_file = tmp_path / "PerpRisk.xlam"
    with zipfile.ZipFile(addin_file) as package:
        assert "xl/vbaProject.bin" in package.namelist()
    assert "PerpRisk.xlam" in builder.read_manifest(tmp_path)
    addin_file.write_bytes(b"my customised add-in")
    capsys.readouterr()
    assert cli.main(["build", "--out", str(tmp_path)]) == 1
    assert "kept" in capsys.readouterr().err
    assert addin_file.read_bytes() == b"my customised add-in"


def test_missing_libreoffice_gives_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PERPRISK_SOFFICE", raising=False)
    code = cli.main(["build", "--out", str(tmp_path / "out"), "--template", "risk-audit",
                     "--pdf"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "apt-get install libreoffice-calc-nogui" in err
    with pytest.raises(recalc.LibreOfficeError):
        recalc.soffice_path()


@pytest.mark.libreoffice
def test_pdf_preview_is_written_and_recorded(tmp_path: Path) -> None:
    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    code = cli.main(["build", "--out", str(tmp_path), "--template", "exchange-scorecard",
                     "--pdf"])
    assert code == 0
    pdf = tmp_path / "exchange-scorecard.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    manifest = json.loads((tmp_path / builder.MANIFEST).read_text())
    assert "exchange-scorecard.pdf" in manifest["files"]


def test_alerts_are_conditionally_formatted(books: dict[str, Any]) -> None:
    wb = books["credit-risk-assessment"]
    for sheet in (layout.POSITIONS, layout.STRESS, layout.AUDIT, layout.VOLATILITY):
        rules = [rule for cf in wb[sheet.title].conditional_formatting for rule in cf.rules
                 if rule.dxf.numFmt is None]  # the coin-amount number formats fill nothing
        assert rules and all(rule.dxf.fill is not None for rule in rules), sheet.key
    texts = " ".join(rule.formula[0] for cf in wb[layout.POSITIONS.title].conditional_formatting
                     for rule in cf.rules)
    level = layout.POSITIONS.table("positions").column_letter("level")
    assert f'${level}' in texts and '="red"' in texts and '="amber"' in texts

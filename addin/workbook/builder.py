"""Write the blank assessment workbooks from the declarations in :mod:`addin.workbook.layout`.

One function writes one sheet whatever template it lands in, so the focused templates share the
complete workbook's sheet definitions instead of copying them. Formulas come from
:mod:`addin.workbook.formulas`, wording from ``templates/workbook``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.formatting.rule import FormulaRule
from openpyxl.formatting.rule import Rule as ConditionalRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.styles.numbers import NumberFormat
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from addin import __version__
from addin.workbook import formulas, layout, prefill
from addin.workbook.layout import Column, Field, Rule, Sheet, Table, Template
from addin.workbook.texts import load_texts
from riskfuncs.accounts import MODES as ACCOUNT_MODE_TABLE
from riskfuncs.assessment import RatingThresholds

FONT = "Calibri"
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
# Alert fills are never the inputs' pale yellow: red is rose, amber a clear orange.
ALERT_FILL = PatternFill("solid", fgColor="FF9C9C")
WARN_FILL = PatternFill("solid", fgColor="FFC46B")
GOOD_FILL = PatternFill("solid", fgColor="C6EFCE")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
UNLOCKED = Protection(locked=False)
LOCKED = Protection(locked=True)

MANIFEST = ".perprisk-build.json"


def _font(**kw: Any) -> Font:
    return Font(name=FONT, **kw)


BODY = _font(size=10)
BOLD = _font(size=10, bold=True)
HEADER = _font(size=10, bold=True, color="FFFFFF")
HEADING = _font(size=14, bold=True, color="1F4E78")
SUBTLE = _font(size=10, italic=True, color="595959")


# --------------------------------------------------------------------------------------------
# Validation

def _validation(rule: Rule, label: str, help_text: str) -> DataValidation | None:
    title = label[:32]
    if rule.kind == "choice":
        dv = DataValidation(type="list", formula1='"' + ",".join(rule.choices) + '"',
                            allow_blank=not rule.required)
        dv.error = f"{label} must be one of: {', '.join(rule.choices)}"
    elif rule.kind == "venue":
        # Suggestions only: any venue name is accepted.
        dv = DataValidation(type="list", formula1='"' + ",".join(rule.choices) + '"',
                            allow_blank=not rule.required, showErrorMessage=False)
    elif rule.kind in ("number", "percent", "integer"):
        kind = "whole" if rule.kind == "integer" else "decimal"
        low, high = rule.minimum, rule.maximum
        if low is not None and high is not None:
            dv = DataValidation(type=kind, operator="between", formula1=repr(low),
                                formula2=repr(high), allow_blank=True)
            dv.error = f"{label} must be between {low:g} and {high:g}"
        elif low is not None:
            op = "greaterThan" if rule.exclusive_minimum else "greaterThanOrEqual"
            dv = DataValidation(type=kind, operator=op, formula1=repr(low), allow_blank=True)
            dv.error = f"{label} must be {'>' if rule.exclusive_minimum else '>='} {low:g}"
        elif high is not None:
            dv = DataValidation(type=kind, operator="lessThanOrEqual", formula1=repr(high),
                                allow_blank=True)
            dv.error = f"{label} must be <= {high:g}"
        else:
            dv = DataValidation(type=kind, operator="between", formula1="-1E+307",
                                formula2="1E+307", allow_blank=True)
            dv.error = f"{label} must be a number"
        if rule.kind == "percent":
            dv.error += " (a fraction: 0.5% = 0.005)"
    elif rule.kind == "date":
        dv = DataValidation(type="date", operator="greaterThan", formula1="36526",
                            allow_blank=True)
        dv.error = f"{label} must be a date after 2000-01-01"
    else:
        return None
    dv.errorTitle = title
    dv.errorStyle = "stop"
    dv.showErrorMessage = rule.kind != "venue"
    if help_text:
        dv.promptTitle = title
        dv.prompt = help_text[:255]
        dv.showInputMessage = True
    return dv


# --------------------------------------------------------------------------------------------
# Sheets

@dataclass
class SheetWriter:
    """Writes one declared sheet into a workbook."""

    ws: Worksheet
    sheet: Sheet
    ctx: formulas.Context
    validations: list[DataValidation] = field(default_factory=list)

    def write(self) -> None:
        ws, sheet = self.ws, self.sheet
        ws.sheet_properties.tabColor = "1F4E78"
        ws.cell(layout.HEADING_ROW, 1, sheet.heading).font = HEADING
        ws.cell(layout.DESCRIPTION_ROW, 1, sheet.description).font = SUBTLE
        if sheet.text_source:
            self._write_text(load_texts(sheet.text_source))
        if sheet.hidden:
            ws.sheet_state = "hidden"
        field_formulas, table_formulas = formulas.formulas_for(sheet, self.ctx)
        for f in sheet.fields:
            self._write_field(f, field_formulas.get(f.key))
        for table in sheet.tables:
            self._write_table(table, table_formulas.get(table.key, {}))
        for dv in self.validations:
            ws.add_data_validation(dv)
        self._layout()

    # -- pieces ----------------------------------------------------------------------------
    def _write_text(self, content: Mapping[str, Any]) -> None:
        ws = self.ws
        row = layout.FIRST_FIELD_ROW
        for section in content["sections"]:
            if section.get("sheet") and not self.ctx.has(section["sheet"]):
                continue
            ws.cell(row, 1, section["heading"]).font = _font(size=12, bold=True, color="1F4E78")
            row += 1
            for paragraph in section["paragraphs"]:
                cell = ws.cell(row, 1, paragraph)
                cell.font = BODY
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                # Row height by hand: LibreOffice and Excel do not grow rows on load.
                ws.row_dimensions[row].height = 14 * (1 + len(paragraph) // 120)
                row += 1
            row += 1
        ws.column_dimensions["A"].width = 125
        self._text_rows = row - 1

    def _write_field(self, f: Field, formula: str | None) -> None:
        ws, row = self.ws, self.sheet.field_row(f.key)
        label = ws.cell(row, 1, f.label)
        label.font = BOLD
        value = ws.cell(row, 2)
        value.font = BODY
        value.number_format = f.number_format
        value.border = BORDER
        if f.role == "input":
            value.value = prefill.field_value(self.sheet, f, self.ctx.sheets)
            value.fill = INPUT_FILL
            value.protection = UNLOCKED
            dv = _validation(f.rule, f.label, f.help)
            if dv is not None:
                dv.add(value.coordinate)
                self.validations.append(dv)
        else:
            if formula is None:
                raise KeyError(f"no formula for field {self.sheet.key}.{f.key}")
            value.value = formula
            value.protection = LOCKED
        if f.help:
            note = ws.cell(row, 3, f.help)
            note.font = SUBTLE

    def _write_table(self, table: Table, column_formulas: formulas.ColumnFormulas) -> None:
        ws = self.ws
        ws.cell(table.header_row - 1, 1, table.title).font = _font(size=12, bold=True,
                                                                     color="1F4E78")
        for i, col in enumerate(table.columns, start=1):
            head = ws.cell(table.header_row, i, col.header)
            head.font = HEADER
            head.fill = HEADER_FILL
            head.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            head.border = BORDER
            if col.header_input:  # the header names the column's content: the trader's input
                head.fill = INPUT_FILL
                head.font = _font(size=10, bold=True)
                head.protection = UNLOCKED
            letter = get_column_letter(i)
            dim = ws.column_dimensions[letter]
            dim.width = max(dim.width or 0, col.width)
            if col.hidden:
                dim.hidden = True
            formula = column_formulas.get(col.key) if col.role == "formula" else None
            if col.role == "formula" and formula is None:
                raise KeyError(f"no formula for column {self.sheet.key}.{table.key}.{col.key}")
            self._fill_column(table, i, col, formula)
            if col.role == "input" and not self.sheet.hidden:
                dv = _validation(col.rule, col.header, _help(col))
                if dv is not None:
                    dv.add(f"{letter}{table.first_row}:{letter}{table.last_row}")
                    self.validations.append(dv)
        ws.row_dimensions[table.header_row].height = 30
        for i, record in enumerate(prefill.table_rows(self.sheet, table)):
            for key, value in record.items():
                if value is not None:
                    ws.cell(table.first_row + i, table.column_index(key), value)

    def _fill_column(self, table: Table, index: int, col: Column,
                     formula: str | list[str] | None) -> None:
        ws = self.ws
        plain = self.sheet.hidden or col.hidden  # working cells nobody sees: no styling
        for offset, row in enumerate(range(table.first_row, table.last_row + 1)):
            cell = ws.cell(row, index)
            if not plain:
                cell.font = BODY
                cell.number_format = col.number_format
                cell.border = BORDER
            if formula is None:
                cell.fill = INPUT_FILL
                cell.protection = UNLOCKED
            elif isinstance(formula, str):
                cell.value = formulas.row_formula(formula, row, table)
            else:
                cell.value = formula[offset] or None

    def _layout(self) -> None:
        ws, sheet = self.ws, self.sheet
        if sheet.fields and not sheet.text_source:
            label = min(44, max(len(f.label) for f in sheet.fields) + 2)
            ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, label)
            ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width or 0, 18)
        if sheet.tables and not sheet.charts:  # the dashboard scrolls as one page
            first = sheet.tables[0]
            # Wide tables keep their first two columns (exchange, symbol...) in view too.
            column = "C" if len(first.columns) > 12 and not sheet.hidden else "A"
            ws.freeze_panes = f"{column}{first.first_row}"
            titles = print_titles_table(sheet)
            ws.print_title_rows = f"{titles.header_row}:{titles.header_row}"
        else:
            ws.freeze_panes = f"A{layout.FIRST_FIELD_ROW}"
        last_col = _last_visible_column(sheet)
        last_row = getattr(self, "_text_rows", sheet.last_row)
        if sheet.fields:  # the help texts next to the fields run over a few columns
            last_col = max(last_col, FIELD_HELP_LAST_COLUMN)
        if sheet.charts:  # the charts sit right of the figures: print them too (hidden helper
            # columns under them take no width, so the area reaches that much further)
            hidden = max((sum(c.hidden for c in t.columns) for t in sheet.tables), default=0)
            last_col = max(last_col, CHART_LAST_COLUMN + hidden)
            last_row = max(last_row, CHART_LAST_ROW)
        if sheet.hidden:  # LibreOffice prints hidden sheets too: only their heading
            last_col, last_row = 3, layout.DESCRIPTION_ROW
        ws.print_area = f"A1:{get_column_letter(last_col)}{last_row}"
        if not sheet.text_source:  # the description wraps within the printed width
            ws.merge_cells(start_row=layout.DESCRIPTION_ROW, start_column=1,
                           end_row=layout.DESCRIPTION_ROW, end_column=min(last_col, 12))
            ws.cell(layout.DESCRIPTION_ROW, 1).alignment = Alignment(wrap_text=True,
                                                                     vertical="top")
            ws.row_dimensions[layout.DESCRIPTION_ROW].height = 28
        ws.page_setup.orientation = "landscape"
        # Wide tables go on A3 so that fitting them to one page wide keeps the text legible.
        ws.page_setup.paperSize = (ws.PAPERSIZE_A3 if _print_width(sheet) > A4_CHARACTERS
                                   else ws.PAPERSIZE_A4)
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1 if sheet.charts else 0  # the dashboard on one page
        ws.print_options.gridLines = False
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.oddFooter.center.text = "&A - page &P of &N"
        ws.protection.sheet = True  # no password: protection guards against slips, not people
        ws.protection.formatColumns = False
        ws.protection.formatRows = False


def _help(col: Column) -> str:
    text = col.help
    if col.default is not None and "blank" not in text.lower():
        text = f"{text} Blank = {col.default}.".strip()
    return text


# Characters of column width an A4 landscape page holds at 100% in Calibri 10 (about 150 at
# the page's margins; fit-to-width shrinks anything wider).
A4_CHARACTERS = 150
CHART_LAST_COLUMN = 14  # charts are anchored in column E and 16 cm wide
FIELD_HELP_LAST_COLUMN = 9
CHART_LAST_ROW = 62  # three charts of 9 cm stacked from row 4


def _print_width(sheet: Sheet) -> float:
    widest = 0.0
    for table in sheet.tables:
        widest = max(widest, sum(c.width for c in table.columns if not c.hidden))
    return widest


def _last_visible_column(sheet: Sheet) -> int:
    last = 3 if sheet.fields else 1
    for table in sheet.tables:
        for i, col in enumerate(table.columns, start=1):
            if not col.hidden:
                last = max(last, i)
    return last


# --------------------------------------------------------------------------------------------
# Workbooks

def build_workbook(template: Template) -> Workbook:
    """The blank workbook of one template, in memory."""
    keys = layout.sheet_closure(template.sheets)
    ctx = formulas.Context(frozenset(keys))
    wb = Workbook()
    wb.remove(wb.active)
    for key in keys:
        sheet = layout.SHEETS[key]
        SheetWriter(wb.create_sheet(sheet.title), sheet, ctx).write()
        for name, ref in layout.iter_names(sheet):
            wb.defined_names[name] = DefinedName(name, attr_text=ref)
    _add_conditional_formats(wb, keys)
    _add_charts(wb, keys)
    _add_identifier(wb, template)
    wb.active = 0
    wb.properties.title = template.title
    wb.properties.creator = "perprisk"
    return wb


def _add_identifier(wb: Workbook, template: Template) -> None:
    wb.defined_names[layout.TEMPLATE_ID_NAME] = DefinedName(
        layout.TEMPLATE_ID_NAME, attr_text=f'"{template.tag}"', hidden=True)
    meta = wb.create_sheet(layout.META_SHEET)
    for row, (key, value) in enumerate(
            (("template", template.id), ("version", template.version),
             ("generator", f"perprisk {__version__}")), start=1):
        meta.cell(row, 1, key)
        meta.cell(row, 2, value)
    meta.sheet_state = "veryHidden"
    meta.protection.sheet = True


def _status_colours(ws: Worksheet, cells: str, first: str, red: str, green: str | None) -> None:
    """Red where the first cell of ``cells`` (relative to each row) equals ``red``, green for
    ``green``."""
    ws.conditional_formatting.add(cells, FormulaRule(formula=[f'{first}="{red}"'],
                                                     fill=ALERT_FILL))
    if green is not None:
        ws.conditional_formatting.add(cells, FormulaRule(formula=[f'{first}="{green}"'],
                                                         fill=GOOD_FILL))


def _add_conditional_formats(wb: Workbook, keys: Sequence[str]) -> None:
    if "audit" in keys:
        t = layout.AUDIT.table("checks")
        letter = t.column_letter("status")
        _status_colours(wb[layout.AUDIT.title], f"{letter}{t.first_row}:{letter}{t.last_row}",
                        f"{letter}{t.first_row}", "FAIL", "PASS")
    if "scorecard" in keys:  # a failed proof of reserves is a red alert: its cells say so
        t = layout.SCORECARD.table("exchanges")
        letter = t.column_letter("proof_of_reserves_checked")
        _status_colours(wb[layout.SCORECARD.title], f"{letter}{t.first_row}:{letter}{t.last_row}",
                        f"{letter}{t.first_row}", "failed", "verified")
    if "stress" in keys:
        t = layout.STRESS.table("scenarios")
        last = get_column_letter(_last_visible_column(layout.STRESS))
        _status_colours(wb[layout.STRESS.title], f"A{t.first_row}:{last}{t.last_row}",
                        f"${t.column_letter('worst')}{t.first_row}", "WORST", None)
    if "volatility" in keys:
        t = layout.VOLATILITY.table("probability")
        letter = t.column_letter("probability")
        levels = RatingThresholds()  # the report's levels of the liquidation probability
        for level, fill in ((levels.probability_red, ALERT_FILL),
                            (levels.probability_amber, WARN_FILL)):
            wb[layout.VOLATILITY.title].conditional_formatting.add(
                f"{letter}{t.first_row}:{letter}{t.last_row}",
                FormulaRule(formula=[f'AND(ISNUMBER({letter}{t.first_row}),'
                                     f'{letter}{t.first_row}>{level})'], fill=fill,
                            stopIfTrue=True))
    if "positions" in keys:
        sheet = layout.POSITIONS
        t = sheet.table("positions")
        ws = wb[sheet.title]
        rng = f"A{t.first_row}:{get_column_letter(_last_visible_column(sheet))}{t.last_row}"
        _coin_amounts(ws, t, filled=True)
        _level_colours(ws, rng, t)
        _coin_amounts(ws, t, filled=False)
    if "accounts" in keys:
        _account_formats(wb[layout.ACCOUNTS.title])
    if "dashboard" in keys:  # the closest-to-liquidation rows carry their level's colour too
        t = layout.DASHBOARD.table("closest")
        ws = wb[layout.DASHBOARD.title]
        rng = f"A{t.first_row}:{get_column_letter(_last_visible_column(layout.DASHBOARD))}" \
              f"{t.last_row}"
        _level_colours(ws, rng, t)


def _level_fills(t: Table) -> tuple[tuple[str, PatternFill], ...]:
    """(condition on the row's first cell, fill): red for a red Level or an input problem (so
    it cannot be missed), amber for an amber one; never the input yellow."""
    level = f"${t.column_letter('level')}{t.first_row}"
    alert = f"${t.column_letter('alert')}{t.first_row}"
    problems = ",".join(f'{alert}="{word}"' for word in layout.PROBLEMS)
    return ((f'OR({level}="red",{problems})', ALERT_FILL), (f'{level}="amber"', WARN_FILL))


def _level_colours(ws: Worksheet, rng: str, t: Table) -> None:
    """Red and amber fills from the row's Level (the report's rating)."""
    for condition, fill in _level_fills(t):
        ws.conditional_formatting.add(rng, FormulaRule(formula=[condition], fill=fill,
                                                       stopIfTrue=True))


#: Positions columns holding an amount in the settlement currency: the coin, for inverse rows.
COIN_AMOUNT_COLUMNS = ("collateral", "maintenance_amount", "notional", "initial_margin",
                       "maintenance_margin", "unrealized_pnl", "margin_balance")


def _coin_amounts(ws: Worksheet, t: Table, *, filled: bool) -> None:
    """Eight decimals for the amounts of coin-margined rows (0.0027 BTC never reads 0.00).

    LibreOffice applies one conditional style to a cell, the first whose condition holds, so a
    coin amount on a red or amber row needs a style with both the fill and the format: with
    ``filled`` those come first (before the row's fills), without it the format alone comes
    last (after them)."""
    contract = f"${t.column_letter('contract')}{t.first_row}"
    inverse = f'LOWER(TRIM({contract}))="inverse"'
    number = NumberFormat(numFmtId=COIN_FORMAT_ID, formatCode=layout.COIN_FORMAT)
    rules = ([(f"AND({condition},{inverse})", DifferentialStyle(numFmt=number, fill=fill))
              for condition, fill in _level_fills(t)] if filled
             else [(inverse, DifferentialStyle(numFmt=number))])
    for key in COIN_AMOUNT_COLUMNS:
        letter = t.column_letter(key)
        for formula, style in rules:
            ws.conditional_formatting.add(
                f"{letter}{t.first_row}:{letter}{t.last_row}",
                ConditionalRule(type="expression", dxf=style, formula=[formula],
                                stopIfTrue=True))


#: Id of the coin number format in the conditional styles (custom formats start at 164).
COIN_FORMAT_ID = 190
#: Id of the USD format of an account ratio stated in USD (Hyperliquid's margin available).
USD_RATIO_FORMAT_ID = 191


def _account_formats(ws: Worksheet) -> None:
    """Accounts: each account row in its level's colour (a problem is amber), the ratio and
    trigger of a mode whose ratio is a USD amount (Hyperliquid) in USD rather than percent."""
    t = layout.ACCOUNTS.table("unified_accounts")
    level = f"${t.column_letter('level')}{t.first_row}"
    rng = f"A{t.first_row}:{get_column_letter(len(t.columns))}{t.last_row}"
    ws.conditional_formatting.add(rng, FormulaRule(formula=[f'{level}="red"'], fill=ALERT_FILL,
                                                   stopIfTrue=True))
    ws.conditional_formatting.add(rng, FormulaRule(formula=[f'{level}="amber"'],
                                                   fill=WARN_FILL))
    usd_modes = [name for name, m in ACCOUNT_MODE_TABLE.items()
                 if m.convention == "equity-requirement"]
    mode = f"${t.column_letter('mode')}{t.first_row}"
    style = DifferentialStyle(numFmt=NumberFormat(numFmtId=USD_RATIO_FORMAT_ID,
                                                  formatCode='#,##0.00" USD"'))
    for key in ("ratio", "trigger"):
        letter = t.column_letter(key)
        ws.conditional_formatting.add(
            f"{letter}{t.first_row}:{letter}{t.last_row}",
            ConditionalRule(type="expression", dxf=style,
                            formula=["OR(" + ",".join(f'{mode}="{m}"' for m in usd_modes)
                                     + ")"]))
    p = layout.ACCOUNTS.table("account_positions")
    problem = f"${p.column_letter('problem')}{p.first_row}"
    ws.conditional_formatting.add(
        f"A{p.first_row}:{get_column_letter(_last_visible_column(layout.ACCOUNTS))}{p.last_row}",
        FormulaRule(formula=[f'{problem}<>""'], fill=WARN_FILL))


def _add_charts(wb: Workbook, keys: Sequence[str]) -> None:
    for key in keys:
        sheet = layout.SHEETS[key]
        for spec in sheet.charts:
            if spec.categories[0] not in keys or spec.values[0] not in keys:
                continue
            chart = BarChart()
            chart.type = "bar"
            chart.title = spec.title
            chart.legend = None
            chart.y_axis.title = spec.y_title
            chart.height, chart.width = 9, 16
            chart.x_axis.tickLblPos = "low"  # category labels clear of negative bars
            chart.y_axis.number_format = spec.number_format
            chart.y_axis.majorGridlines = None
            chart.visible_cells_only = False  # labels may come from a hidden helper column
            if spec.top_down:  # categories run bottom-up unless the axis is reversed
                chart.x_axis.scaling.orientation = "maxMin"
                chart.y_axis.crosses = "max"  # keeps the value axis at the bottom
            values = [(*spec.values, "")] if not spec.series else list(spec.series)
            for source in values:
                chart.add_data(_column_ref(wb, source), titles_from_data=False)
            chart.set_categories(_column_ref(wb, spec.categories))
            for series, (*_, colour) in zip(chart.series, values, strict=True):
                if colour:
                    series.graphicalProperties.solidFill = colour
                    series.graphicalProperties.line.solidFill = colour
            if spec.series:  # one bar per row: the other levels' columns are #N/A
                chart.grouping = "stacked"
                chart.overlap = 100
                chart.gapWidth = 40
                chart.x_axis.tickLblSkip = 1  # every position named
            if spec.data_labels:
                chart.dataLabels = DataLabelList(
                    showVal=True, showCatName=False, showSerName=False, showLegendKey=False,
                    showPercent=False, numFmt=spec.number_format, dLblPos="outEnd")
            wb[sheet.title].add_chart(chart, spec.anchor)


def _column_ref(wb: Workbook, source: tuple[str, ...]) -> Reference:
    """The rows of one table column: (sheet key, table key, column key, ...)."""
    src_sheet = layout.SHEETS[source[0]]
    table = src_sheet.table(source[1])
    col = table.column_index(source[2])
    return Reference(wb[src_sheet.title], min_col=col, max_col=col,
                     min_row=table.first_row, max_row=table.last_row)


def write_template(template: Template, path: Path) -> Path:
    build_workbook(template).save(path)
    return path


# --------------------------------------------------------------------------------------------
# The output folder and its manifest

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class BuildResult:
    written: list[Path]
    skipped: list[Path]


def build_all(out_dir: Path, templates: Iterable[Template] | None = None) -> BuildResult:
    """Write every template into ``out_dir``, never replacing a file this build did not write.

    A manifest (``.perprisk-build.json``) records the SHA-256 of each file written. A file that
    is not in it, or whose content changed since (a trader filled it in), is left alone and
    reported in ``skipped``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out_dir)
    result = BuildResult([], [])
    for template in templates if templates is not None else layout.TEMPLATES.values():
        target = out_dir / template.filename
        if not owned(target, manifest):
            result.skipped.append(target)
            continue
        tmp = target.with_name(f".{target.name}.tmp")
        write_template(template, tmp)
        tmp.replace(target)
        manifest[target.name] = _digest(target)
        result.written.append(target)
    write_manifest(out_dir, manifest)
    return result


def owned(target: Path, manifest: Mapping[str, str]) -> bool:
    """True if ``target`` is absent or exactly what an earlier build wrote."""
    if not target.exists():
        return True
    return manifest.get(target.name) == _digest(target)


def read_manifest(out_dir: Path) -> dict[str, str]:
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in files.items()}


def write_manifest(out_dir: Path, files: Mapping[str, str]) -> None:
    path = out_dir / MANIFEST
    payload = {"generator": f"perprisk {__version__}", "files": dict(sorted(files.items()))}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def record_file(out_dir: Path, path: Path) -> None:
    """Add a file the build wrote (a PDF preview, say) to the manifest."""
    manifest = read_manifest(out_dir)
    manifest[path.name] = _digest(path)
    write_manifest(out_dir, manifest)


# --------------------------------------------------------------------------------------------
# Print areas of a filled workbook

def print_titles_table(sheet: Sheet) -> Table:
    """The table whose header repeats on each printed page: the sheet's choice, else its first."""
    return sheet.table(sheet.print_titles) if sheet.print_titles else sheet.tables[0]


def fit_print_areas(wb: Workbook) -> None:
    """Print what is filled, not the empty capacity: each sheet prints its fields and, for each
    table, the header and the rows down to the last filled one (an empty table its header
    only); a table with one row per position (probabilities, funding) prints the positions'
    rows. A sheet with tables stacked below an empty capacity prints them as separate ranges.

    The blank template prints each table whole; a filled six-position book printed that way
    is some sixty pages, most of them empty rows. Call this on a filled workbook before it is
    saved. The Dashboard (one page with its charts) and hidden sheets are left as they are.
    """
    positions = _filled_rows(wb, layout.POSITIONS, layout.POSITIONS.table("positions")) \
        if layout.POSITIONS.title in wb.sheetnames else 0
    for sheet in layout.ALL_SHEETS:
        if sheet.title not in wb.sheetnames or sheet.charts or sheet.hidden or not sheet.tables:
            continue
        ws = wb[sheet.title]
        area = ws.print_area
        if not area:
            continue
        last_cell = str(area).split("!")[-1].replace("$", "").partition(":")[2]
        column = "".join(ch for ch in last_cell if ch.isalpha())
        if sheet is layout.ACCOUNTS and not _filled_rows(wb, sheet, sheet.tables[0]):
            # No unified account listed: the heading and the empty accounts table, not the
            # starting haircut tables and a blank row per position.
            ws.print_area = f"A1:{column}{sheet.tables[0].header_row + 1}"
            continue
        spans: list[tuple[int, int]] = []
        start = 1
        for table in sheet.tables:
            if not table.printed:  # input data: the figures it feeds are printed instead
                if not spans:  # the fields above it
                    spans.append((start, table.header_row - 2))
                continue
            if table.rows == layout.POSITION_ROWS and sheet is not layout.POSITIONS:
                filled = positions  # one row per position, whatever its own inputs
            elif not table.inputs():
                filled = table.rows  # a fixed summary (the Prices sheet's per-asset rows)
            else:
                filled = _filled_rows(wb, sheet, table)
            end = table.header_row + max(filled, 1)
            if spans and table.header_row - 1 > spans[-1][1] + 2:  # an empty stretch between
                spans.append((table.header_row - 1, end))  # its title row, then the table
            elif spans:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        ws.print_area = [f"A{first}:{column}{last}" for first, last in spans]
        titles = print_titles_table(sheet)
        if not titles.printed:  # repeat the header of a table that is printed
            shown = next((t for t in sheet.tables if t.printed), None)
            ws.print_title_rows = (f"{shown.header_row}:{shown.header_row}" if shown
                                   else None)


def _filled_rows(wb: Workbook, sheet: Sheet, table: Table) -> int:
    """Rows of ``table`` down to the last one holding a value that is not a formula (an input
    or a prefilled text); 0 when none does."""
    ws = wb[sheet.title]
    letters = [table.column_letter(c.key) for c in table.columns]
    for row in range(table.last_row, table.first_row - 1, -1):
        for letter in letters:
            value = ws[f"{letter}{row}"].value
            if value not in (None, "") and not (isinstance(value, str)
                                                and value.startswith("=")):
                return row - table.header_row
    return 0

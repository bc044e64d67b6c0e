"""The one declarative definition of the assessment workbooks.

Everything that says *where* something lives in a perprisk workbook is here, and only here: the
sheets and their order, the input fields (one labelled cell each) and tables (a header row over
a fixed number of rows), which cells are inputs and which are formulas, the defined names, the
validation rules, and the template identifiers. The builder writes workbooks from it and the
reader finds inputs with it, so the two can never disagree.

Shape of a sheet (1-based rows)::

    row 1            heading                    (Sheet.heading)
    row 2            one-line description       (Sheet.description)
    rows 4..         fields: label in A, value in B, unit/help in C   (Sheet.fields)
    blank row
    next row         table header               (Table.columns[*].header)
    rows below       Table.rows data rows       (inputs unlocked, formulas locked)
    blank row, next table ...

Use :meth:`Sheet.field_cell`, :meth:`Sheet.table_top` / :meth:`Table.first_row` and
:meth:`Table.column_letter` rather than counting rows: positions follow from the definitions.

Every input field has a defined name (``Field.name``, workbook scope, pointing at its cell) and
every table column a defined name ``<Table.prefix>_<Column.name_part>`` over its data rows, e.g.
``Pos_EntryPrice`` = ``'Positions & Margin'!$F$12:$F$261``. Tables are plain ranges, not Excel
table objects: structured references break some readers, defined names do not.

The template identifier is stored twice so any reader finds it: a hidden defined name
``PerpRisk_Template`` whose value is the text ``"<template id>@<version>"`` and a very hidden
sheet ``_perprisk`` holding ``template``, ``version`` and ``generator`` in A1:B3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from openpyxl.utils import get_column_letter

#: Bump when an input moves, is renamed or changes meaning; the reader refuses unknown versions.
LAYOUT_VERSION = 1

#: Hidden workbook-scope defined name whose value is ``"<template id>@<version>"``.
TEMPLATE_ID_NAME = "PerpRisk_Template"
#: Very hidden sheet: ``template`` / ``version`` / ``generator`` in A1:A3, their values in B1:B3.
META_SHEET = "_perprisk"

Role = Literal["input", "formula"]
Kind = Literal["text", "number", "integer", "choice", "date", "percent"]

HEADING_ROW = 1
DESCRIPTION_ROW = 2
FIRST_FIELD_ROW = 4

# Allowed values of the list validations, lower case as riskfuncs expects them.
EXCHANGES: tuple[str, ...] = (
    "binance", "bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex", "generic",
)
#: Exchanges whose maintenance margin is evaluated at the entry value (the others: at the
#: liquidation price). Mirrors riskfuncs.liquidation.
ENTRY_BASIS_EXCHANGES: tuple[str, ...] = ("bybit", "bitmex")
SIDES: tuple[str, ...] = ("long", "short")
CONTRACTS: tuple[str, ...] = ("linear", "inverse")
MARGIN_MODES: tuple[str, ...] = ("isolated", "cross")
YES_NO: tuple[str, ...] = ("yes", "no", "n/a")


@dataclass(frozen=True)
class Rule:
    """Validation of one input cell or column.

    ``kind`` picks the Excel validation type: ``choice`` is a list (``choices``), ``number`` a
    decimal, ``integer`` a whole number, ``date`` a date, ``percent`` a decimal shown as percent;
    ``text`` has no validation. Bounds are inclusive unless ``exclusive_minimum`` is set (the
    builder then writes a strict ``greaterThan`` rule).
    """

    kind: Kind = "number"
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    required: bool = False


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes
    ----------
    key : str
        Stable snake_case identifier (the reader's key; never shown).
    header : str
        Header text in the workbook.
    role : {"input", "formula"}
        Inputs are unlocked and validated; formula columns are locked and computed.
    rule : Rule
        Validation of an input column (ignored for formulas).
    default : str, float or None
        Value a blank input stands for (documented in the input message).
    number_format : str
        Excel number format of the data cells.
    width : float
        Column width in characters.
    help : str
        Input message shown when the cell is selected (inputs) or the meaning (formulas).
    hidden : bool
        Helper column, hidden and not printed.
    """

    key: str
    header: str
    role: Role = "input"
    rule: Rule = Rule()
    default: str | float | None = None
    number_format: str = "General"
    width: float = 12.0
    help: str = ""
    hidden: bool = False

    @property
    def name_part(self) -> str:
        """CamelCase form of the key used in defined names (``entry_price`` -> ``EntryPrice``)."""
        return "".join(part[:1].upper() + part[1:] for part in self.key.split("_"))


@dataclass(frozen=True)
class Field:
    """One labelled cell: label in column A, value in column B, unit or help in column C.

    ``name`` is the workbook-scope defined name of the value cell. ``value`` is what the blank
    template holds (a default setting for inputs; ignored for formulas).
    """

    key: str
    label: str
    name: str
    role: Role = "input"
    rule: Rule = Rule()
    value: str | float | None = None
    number_format: str = "General"
    help: str = ""


@dataclass(frozen=True)
class Table:
    """A header row over ``rows`` data rows, starting in column A.

    ``prefix`` starts the defined names of its columns (``Pos`` -> ``Pos_EntryPrice``).
    ``first_row`` is filled in by :class:`Sheet` (it depends on what is above the table).
    """

    key: str
    title: str
    prefix: str
    columns: tuple[Column, ...]
    rows: int
    header_row: int = 0

    @property
    def first_row(self) -> int:
        """First data row (1-based)."""
        return self.header_row + 1

    @property
    def last_row(self) -> int:
        return self.header_row + self.rows

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(f"table {self.key} has no column {key!r}")

    def column_index(self, key: str) -> int:
        """1-based column number of a column."""
        for i, col in enumerate(self.columns, start=1):
            if col.key == key:
                return i
        raise KeyError(f"table {self.key} has no column {key!r}")

    def column_letter(self, key: str) -> str:
        return str(get_column_letter(self.column_index(key)))

    def name_of(self, key: str) -> str:
        """Defined name of a column's data range."""
        return f"{self.prefix}_{self.column(key).name_part}"

    def inputs(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "input")

    def formulas(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "formula")


@dataclass(frozen=True)
class Chart:
    """A bar chart: categories and values are (table key, column key) on this sheet or another."""

    key: str
    title: str
    categories: tuple[str, str, str]  # sheet key, table key, column key
    values: tuple[str, str, str]
    anchor: str
    y_title: str = ""


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a heading, fields, then tables stacked downwards, charts on the right."""

    key: str
    title: str
    heading: str
    description: str
    fields: tuple[Field, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    #: sheets whose cells this sheet's formulas read (the builder includes them in a template)
    requires: tuple[str, ...] = ()
    #: for text-only sheets (Instructions): the JSON file in templates/workbook with the text
    text_source: str | None = None

    def __post_init__(self) -> None:
        # Place the tables below the fields: one blank row, a table title row, the header row.
        row = FIRST_FIELD_ROW + len(self.fields) + (1 if self.fields else 0)
        placed = []
        for table in self.tables:
            header = row + 1
            placed.append(Table(table.key, table.title, table.prefix, table.columns,
                                table.rows, header_row=header))
            row = header + table.rows + 2
        object.__setattr__(self, "tables", tuple(placed))

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(f"sheet {self.key} has no field {key!r}")

    def field_row(self, key: str) -> int:
        for i, f in enumerate(self.fields):
            if f.key == key:
                return FIRST_FIELD_ROW + i
        raise KeyError(f"sheet {self.key} has no field {key!r}")

    def field_cell(self, key: str) -> str:
        """Address of a field's value cell, e.g. ``"B5"``."""
        return f"B{self.field_row(key)}"

    def table(self, key: str) -> Table:
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(f"sheet {self.key} has no table {key!r}")

    def table_top(self, key: str) -> int:
        """Row of the table's title (one above its header)."""
        return self.table(key).header_row - 1

    @property
    def width(self) -> int:
        """Number of used columns (at least 3 for the field block)."""
        widest = max((len(t.columns) for t in self.tables), default=0)
        return max(3, widest)

    @property
    def last_row(self) -> int:
        if self.tables:
            return self.tables[-1].last_row
        if self.fields:
            return FIRST_FIELD_ROW + len(self.fields) - 1
        return DESCRIPTION_ROW

    def quoted(self) -> str:
        """Sheet name as written in a formula reference: ``'Positions & Margin'``."""
        return "'" + self.title.replace("'", "''") + "'"


@dataclass(frozen=True)
class Template:
    """One workbook that build.py writes: an id, a version and the sheets it holds."""

    id: str
    version: int
    title: str
    filename: str
    sheets: tuple[str, ...]

    @property
    def tag(self) -> str:
        """The identifier stored in the workbook: ``"<id>@<version>"``."""
        return f"{self.id}@{self.version}"


# --------------------------------------------------------------------------------------------
# Helpers to keep the definitions below short.

def _num(key: str, header: str, *, minimum: float | None = None, maximum: float | None = None,
         exclusive_minimum: bool = False, required: bool = False, fmt: str = "#,##0.00",
         width: float = 12.0, help: str = "", default: float | None = None) -> Column:
    return Column(key, header, "input",
                  Rule("number", (), minimum, maximum, exclusive_minimum, required),
                  default=default, number_format=fmt, width=width, help=help)


def _pct(key: str, header: str, *, minimum: float | None = 0.0, maximum: float | None = 1.0,
         exclusive_minimum: bool = False, required: bool = False, fmt: str = "0.00%",
         width: float = 11.0, help: str = "", default: float | None = None) -> Column:
    return Column(key, header, "input",
                  Rule("percent", (), minimum, maximum, exclusive_minimum, required),
                  default=default, number_format=fmt, width=width, help=help)


def _choice(key: str, header: str, choices: tuple[str, ...], *, required: bool = False,
            width: float = 11.0, help: str = "", default: str | None = None) -> Column:
    return Column(key, header, "input", Rule("choice", choices, required=required),
                  default=default, width=width, help=help)


def _text(key: str, header: str, *, required: bool = False, width: float = 14.0,
          help: str = "") -> Column:
    return Column(key, header, "input", Rule("text", required=required), width=width, help=help)


def _date(key: str, header: str, *, required: bool = False, width: float = 12.0,
          help: str = "") -> Column:
    return Column(key, header, "input", Rule("date", required=required),
                  number_format="yyyy-mm-dd", width=width, help=help)


def _out(key: str, header: str, *, fmt: str = "#,##0.00", width: float = 12.0, help: str = "",
         hidden: bool = False) -> Column:
    return Column(key, header, "formula", number_format=fmt, width=width, help=help,
                  hidden=hidden)


def _setting(key: str, label: str, name: str, value: float | str | None, *, kind: Kind = "number",
             minimum: float | None = None, maximum: float | None = None,
             exclusive_minimum: bool = False, choices: tuple[str, ...] = (),
             fmt: str = "General", help: str = "") -> Field:
    return Field(key, label, name, "input",
                 Rule(kind, choices, minimum, maximum, exclusive_minimum, required=True),
                 value=value, number_format=fmt, help=help)


def _result(key: str, label: str, name: str, *, fmt: str = "#,##0.00", help: str = "") -> Field:
    return Field(key, label, name, "formula", number_format=fmt, help=help)


# --------------------------------------------------------------------------------------------
# Capacities: rows each table offers. Tests fill at least 200 positions.
POSITION_ROWS = 250
TIER_ROWS = 60
SCENARIO_ROWS = 40
BETA_ROWS = 20
EXCHANGE_ROWS = 12
PRICE_ROWS = 400
FUNDING_ROWS = 270
AUDIT_ROWS = 14

POSITIONS = Sheet(
    key="positions",
    title="Positions & Margin",
    heading="Positions & Margin",
    description="One row per open position. Yellow cells are inputs; everything else is computed.",
    fields=(
        _setting("leverage_cap", "Leverage cap (x)", "Set_LeverageCap", 5, minimum=0,
                 exclusive_minimum=True, fmt="0.0", help="The guide's rule: at most 5x."),
        _setting("buffer_rule", "Minimum margin buffer", "Set_BufferRule", 0.30, kind="percent",
                 minimum=0, maximum=10, fmt="0%",
                 help="Margin balance at least this far above maintenance (guide: 30%)."),
        _setting("alert_distance", "Alert when distance to liquidation below", "Set_AlertDistance",
                 0.10, kind="percent", minimum=0, maximum=1, fmt="0%",
                 help="Adverse move (fraction of mark) that triggers the red alert."),
        _result("position_count", "Positions", "Pos_Count", fmt="0"),
    ),
    tables=(
        Table("positions", "Positions", "Pos", (
            _choice("exchange", "Exchange", EXCHANGES, required=True,
                    help="Venue: picks the liquidation rule."),
            _text("symbol", "Symbol", required=True, help="e.g. BTC/USDT:USDT"),
            _choice("contract", "Contract", CONTRACTS, default="linear",
                    help="linear (USDT-margined) or inverse (coin-margined). Blank = linear."),
            _choice("side", "Side", SIDES, required=True, width=8),
            _num("size", "Size", minimum=0, exclusive_minimum=True, required=True, fmt="#,##0.####",
                 help="Base units (linear) or USD size (inverse)."),
            _num("entry_price", "Entry price", minimum=0, exclusive_minimum=True, required=True),
            _num("mark_price", "Mark price", minimum=0, exclusive_minimum=True, required=True),
            _num("collateral", "Collateral", minimum=0, required=True,
                 help="Isolated margin, or the cross wallet balance (quote; coin if inverse)."),
            _choice("margin_mode", "Margin mode", MARGIN_MODES, default="isolated",
                    help="isolated or cross. Cross rows of one exchange and contract share the "
                         "wallet in Collateral."),
            _num("leverage", "Leverage", minimum=0, exclusive_minimum=True, fmt="0.0", width=9,
                 help="Leverage set on the exchange, for the initial margin. Blank = the "
                      "isolated margin is the initial margin."),
            _text("tier_table", "Tier table", width=16,
                  help="Tier table on the Tiers sheet. Blank = the table named like the symbol, "
                       "if any, else MMR and amount."),
            _pct("maintenance_margin_rate", "MMR", maximum=0.999999, fmt="0.000%",
                 help="Maintenance margin rate (0.5% = 0.005) when no tier table is named."),
            _num("maintenance_amount", "Maint. amount", minimum=0, default=0.0,
                 help="Maintenance amount (cum) deducted; blank = 0."),
            _pct("fee_rate", "Fee rate", maximum=0.1, fmt="0.000%", default=0.0,
                 help="Closing taker fee added to the maintenance rate; blank = 0."),
            _num("max_leverage", "Max leverage", minimum=1, fmt="0", width=9,
                 help="hyperliquid without MMR: the market's max leverage (MMR = 1/(2 x max))."),
            _num("stop_price", "Stop-loss", minimum=0, help="Stop-loss price, blank if none."),
            _out("notional", "Notional",
                 help="Q x mark (linear, quote) or N / mark (inverse, coin)."),
            _out("value_usd", "Value (USD)", help="Position value in USD: Q x mark or N."),
            _out("initial_margin", "Initial margin",
                 help="Notional / leverage (blank leverage: the isolated margin)."),
            _out("maintenance_margin", "Maint. margin", help="Notional at mark x MMR - amount."),
            _out("unrealized_pnl", "Unrealised PnL"),
            _out("margin_balance", "Margin balance",
                 help="Collateral + PnL (cross: the account's wallet + all its PnL)."),
            _out("liquidation_price", "Liq. price",
                 help="Price at which the exchange liquidates; 0 = never (long)."),
            _out("distance_to_liquidation", "Distance", fmt="0.00%",
                 help="Adverse move (fraction of mark) to liquidation."),
            _out("margin_ratio", "Margin ratio", fmt="0.00%",
                 help="Maintenance / balance (cross: the account's); 100% = liquidation."),
            _out("margin_buffer", "Buffer", fmt="0.00%",
                 help="Balance / maintenance - 1 (cross: the account's)."),
            _out("effective_leverage", "Eff. leverage", fmt="0.00",
                 help="Notional / margin balance."),
            _out("alert", "Alert", width=22),
            # Hidden helper columns used by the liquidation formula.
            _out("account", "Account", hidden=True,
                 help="exchange:settle currency, the wallet cross positions share."),
            _out("requirement", "Requirement", hidden=True,
                 help="Maintenance margin of the position (cross: of the account)."),
            _out("tier_key", "Tier key", hidden=True),
            _out("sign", "Sign", hidden=True, fmt="0"),
            _out("entry_notional", "Entry notional", hidden=True),
            _out("tier_start", "Tier start", hidden=True, fmt="0"),
            _out("tier_count", "Tier count", hidden=True, fmt="0"),
            _out("base_rate", "Base MMR", hidden=True, fmt="0.0000%"),
            _out("mark_tier", "Tier at mark", hidden=True, fmt="0"),
            _out("effective_balance", "Effective balance", hidden=True),
            _out("target", "Target", hidden=True),
            _out("liquidation_tier", "Tier at liq.", hidden=True, fmt="0"),
            _out("liquidation_rate", "Rate at liq.", hidden=True, fmt="0.0000%"),
            _out("liquidation_amount", "Amount at liq.", hidden=True),
            _out("liquidation_notional", "Liq. notional", hidden=True),
        ), POSITION_ROWS),
    ),
    requires=("tiers",),
)

TIERS = Sheet(
    key="tiers",
    title="Tiers",
    heading="Leverage tiers",
    description="Tier tables as data (ccxt LeverageTier shape), one block of rows per table, "
                "floors ascending. Positions name a table in their 'Tier table' column.",
    fields=(
        _setting("as_of", "Tiers as of", "Tiers_AsOf", None, kind="date", fmt="yyyy-mm-dd",
                 help="Date the tier tables were copied from the exchange."),
    ),
    tables=(
        Table("tiers", "Tier tables", "Tier", (
            _text("table", "Tier table", required=True, width=18),
            Column("tier", "Tier", "input", Rule("integer", minimum=1, required=True), width=6,
                   number_format="0"),
            _num("min_notional", "Min notional", minimum=0, required=True, fmt="#,##0"),
            _num("max_notional", "Max notional", minimum=0, required=True, fmt="#,##0"),
            _pct("maintenance_margin_rate", "MMR", maximum=0.999999, required=True, fmt="0.000%"),
            _num("maintenance_amount", "Maint. amount (cum)", minimum=0, fmt="#,##0.00", width=16),
            _num("max_leverage", "Max leverage", minimum=1, fmt="0", width=12),
            _out("amount_used", "Amount used", width=14,
                 help="Maint. amount, or derived with cum_k = cum_(k-1) + floor_k x dMMR."),
            _out("amount_derived", "Derived amount", hidden=True),
        ), TIER_ROWS),
    ),
)

INSTRUCTIONS = Sheet(
    key="instructions",
    title="Instructions",
    heading="Credit Risk Assessment",
    description="How to fill this workbook and what each sheet answers.",
    text_source="instructions.json",
)

ALL_SHEETS: tuple[Sheet, ...] = (INSTRUCTIONS, POSITIONS, TIERS)
SHEETS: dict[str, Sheet] = {s.key: s for s in ALL_SHEETS}

TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template("credit-risk-assessment", LAYOUT_VERSION, "Credit Risk Assessment",
                 "credit-risk-assessment.xlsx", tuple(s.key for s in ALL_SHEETS)),
        Template("position-margin-monitor", LAYOUT_VERSION, "Position & Margin Monitor",
                 "position-margin-monitor.xlsx", ("instructions", "positions", "tiers")),
    )
}


def sheet_closure(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The sheets a template needs: the listed ones plus what their formulas read, in book order."""
    wanted = set(keys)
    changed = True
    while changed:
        changed = False
        for key in list(wanted):
            for dep in SHEETS[key].requires:
                if dep not in wanted:
                    wanted.add(dep)
                    changed = True
    return tuple(s.key for s in ALL_SHEETS if s.key in wanted)


def iter_names(sheet: Sheet) -> Iterator[tuple[str, str]]:
    """(defined name, absolute reference) for every field and table column of a sheet."""
    for f in sheet.fields:
        yield f.name, f"{sheet.quoted()}!$B${sheet.field_row(f.key)}"
    for t in sheet.tables:
        for c in t.columns:
            letter = t.column_letter(c.key)
            span = f"${letter}${t.first_row}:${letter}${t.last_row}"
            yield t.name_of(c.key), f"{sheet.quoted()}!{span}"


def template_for_tag(tag: str) -> Template | None:
    """The template a stored ``"<id>@<version>"`` identifier names, or None if unknown."""
    ident, _, version = tag.partition("@")
    template = TEMPLATES.get(ident)
    if template is None or str(template.version) != version:
        return None
    return template

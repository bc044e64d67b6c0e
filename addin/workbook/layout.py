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
    next row         table title                (Table.title)
    next row         table header               (Table.header_row, Table.columns[*].header)
    rows below       Table.rows data rows       (inputs unlocked, formulas locked)
    blank row, next table ...

Every field and column is an input (yellow, unlocked, validated by its :class:`Rule`) or a
formula (locked; :mod:`addin.workbook.formulas` has the formula). ``Column.default`` is what a
blank input stands for. Hidden columns and hidden sheets (``Sheet.hidden``, the Stress Grid)
hold intermediate results. Some input tables start filled (the scenario library, score
weights, grade bands, a tier snapshot: :mod:`addin.workbook.prefill`); they stay inputs.
Templates (:data:`TEMPLATES`) list sheet keys; :func:`sheet_closure` adds the sheets their
formulas read.

Use :meth:`Sheet.field_cell`, :meth:`Sheet.table_top` / :meth:`Table.first_row` and
:meth:`Table.column_letter` rather than counting rows: positions follow from the definitions.

Every input field has a defined name (``Field.name``, workbook scope, pointing at its cell) and
every table column a defined name ``<Table.prefix>_<Column.name_part>`` over its data rows, e.g.
``Pos_EntryPrice`` = ``'Positions & Margin'!$F$11:$F$260``. Tables are plain ranges, not Excel
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

from riskfuncs.accounts import MODES as ACCOUNT_MODE_TABLE
from riskfuncs.liquidation import EXCHANGE_RULES
from riskfuncs.venues import VENUE_RULES
from riskfuncs.venues import VENUES as VENUE_TABLE

#: Bump when an input moves, is renamed or changes meaning, or a computed column or table is
#: added (the reader checks every formula column); the reader refuses unknown versions.
#: 2: closest-to-liquidation ranking on the Dashboard, scenario labels.
#: 3: any venue name; Rule, Exchange liq. price and vs exchange columns on Positions.
#: 4: input problems on Positions (a missing or textual MMR, an unknown tier table) shown in
#:    the row instead of a computed zero maintenance; the Dashboard is the first sheet; the
#:    Scorecard's concentration over every venue held (venue exposure helper).
#: 5: "never" for a liquidation price or distance no price reaches (was "none"/"unreachable").
#: 6: the Scorecard's proof-of-reserves columns (checked, date, reserve ratio, failed at) and
#:    its count of failed proofs; a failed proof counts 0 in the score.
#: 7: the Prices sheet (a close column per asset, named in its header; the book's VaR and ES
#:    and their coverage); the Dashboard's VaR and ES are the book's.
#: 8: the Accounts sheet (unified accounts: balances by coin with each coin's account
#:    liquidation price, haircut tiers, the account ratio and each position's account
#:    liquidation price).
#: 9: Accounts sheet: Binance Multi-Assets computed (bid and ask buffers on Balances by coin);
#:    haircut tiers by coins held or by USD value (a Unit column); PnL, equity and maintenance
#:    in the settle coin, the requirement in USD at its price; every coin's account
#:    liquidation price, stablecoins included; XBT read as BTC.
#: 10: Accounts sheet: Newton steps in the first mark on an asset, every mark on it moving in
#:    proportion; a traded coin's liquidation price in USD; a balance row's coin read as
#:    riskfuncs reads it (XBT is BTC, a hidden Coin read column).
LAYOUT_VERSION = 10

#: What a Positions row shows, in its maintenance, liquidation, distance, ratio, buffer and
#: Alert cells, when its maintenance margin cannot be known: never a computed zero.
PROBLEM_MMR_MISSING = "MMR MISSING"
PROBLEM_MMR_TEXT = "MMR NOT A NUMBER"
PROBLEM_TIER_MISSING = "TIER TABLE NOT FOUND"
PROBLEM_ACCOUNT = "MMR MISSING IN ACCOUNT"
PROBLEMS = (PROBLEM_MMR_MISSING, PROBLEM_MMR_TEXT, PROBLEM_TIER_MISSING, PROBLEM_ACCOUNT)

#: Bar colours of the levels on charts (the report's chart colours).
LEVEL_COLOURS = {"red": "C92A2A", "amber": "E67700", "green": "2F9E44"}

#: Prices to the digits their size needs: 61,850.00, 146.90, 78.6195, 0.1612, 0.00001234
#: (never 0.00 for a PEPE-sized price). Prices are never negative.
PRICE_FORMAT = "[>=1000]#,##0.00;[>=1]#,##0.00##;0.00########"
#: Amounts in the quote currency; a coin-margined (inverse) row shows them with eight
#: decimals through a conditional format (COIN_FORMAT), so 0.0027 BTC never reads 0.00.
AMOUNT_FORMAT = "#,##0.00"
COIN_FORMAT = "#,##0.00000000"
#: Sizes: whole lots with separators, up to eight decimals for fractions of a coin.
SIZE_FORMAT = "#,##0.########"

#: Hidden workbook-scope defined name whose value is ``"<template id>@<version>"``.
TEMPLATE_ID_NAME = "PerpRisk_Template"
#: Very hidden sheet: ``template`` / ``version`` / ``generator`` in A1:A3, their values in B1:B3.
META_SHEET = "_perprisk"

Role = Literal["input", "formula"]
Kind = Literal["text", "number", "integer", "choice", "venue", "date", "percent"]

HEADING_ROW = 1
DESCRIPTION_ROW = 2
FIRST_FIELD_ROW = 4

# Allowed values of the list validations, lower case as riskfuncs expects them.
EXCHANGES: tuple[str, ...] = tuple(EXCHANGE_RULES)
#: Venues offered in the Exchange drop-downs: those with a published rule. Any other venue name
#: is accepted too (its positions are valued with the generic rule, shown in the Rule column).
VENUES: tuple[str, ...] = tuple(VENUE_TABLE)
#: Venue names and ccxt ids the workbook maps to a rule (riskfuncs.venues.VENUE_RULES).
VENUE_RULE_MAP: tuple[tuple[str, str], ...] = tuple(sorted(VENUE_RULES.items()))
#: Exchanges whose maintenance margin is evaluated at the entry value (the others: at the
#: liquidation price), from riskfuncs.liquidation's rule table.
ENTRY_BASIS_EXCHANGES: tuple[str, ...] = tuple(
    name for name, rule in EXCHANGE_RULES.items() if rule.maintenance_basis == "entry")
#: Exchanges that charge the closing fee on the value at the bankruptcy price (Bybit).
BANKRUPTCY_FEE_EXCHANGES: tuple[str, ...] = tuple(
    name for name, rule in EXCHANGE_RULES.items()
    if getattr(rule, "fee_on_bankruptcy_value", False))
#: Exchanges that charge the whole position at its tier's rate, with no maintenance amount (OKX).
WHOLE_POSITION_EXCHANGES: tuple[str, ...] = tuple(
    name for name, rule in EXCHANGE_RULES.items() if not rule.tier_amounts)
SIDES: tuple[str, ...] = ("long", "short")
CONTRACTS: tuple[str, ...] = ("linear", "inverse")
MARGIN_MODES: tuple[str, ...] = ("isolated", "cross")
YES_NO: tuple[str, ...] = ("yes", "no", "n/a")


@dataclass(frozen=True)
class Rule:
    """Validation of one input cell or column.

    ``kind`` picks the Excel validation type: ``choice`` is a list (``choices``), ``number`` a
    decimal, ``integer`` a whole number, ``date`` a date, ``percent`` a decimal shown as percent;
    ``venue`` offers ``choices`` in a drop-down but accepts any name; ``text`` has no
    validation. Bounds are inclusive unless ``exclusive_minimum`` is set (the
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
    header_input : bool
        The header cell is an input too (yellow, unlocked): it names what the column holds,
        e.g. the asset of a price column; ``header`` is what the blank template shows there.
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
    header_input: bool = False

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
    #: False for input data a filled workbook does not print (the daily closes behind the
    #: volatility and the book's VaR: a hundred days on six pages); the blank form prints it.
    printed: bool = True

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
    number_format: str = "#,##0"
    #: first category at the top (a ranking) instead of Excel's bottom-up order
    top_down: bool = False
    #: More value columns drawn as stacked series of these colours (hex RGB) instead of the
    #: one ``values`` column: a row's value sits in the column of its level, so each bar has
    #: its level's colour.
    series: tuple[tuple[str, str, str, str], ...] = ()
    #: each bar's value written at its end (a bar too short to see still reads)
    data_labels: bool = False


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
    #: a working sheet kept out of sight (and out of print)
    hidden: bool = False
    #: the table whose header repeats on every printed page (default: the first table)
    print_titles: str | None = None

    def __post_init__(self) -> None:
        # Place the tables below the fields: one blank row, a table title row, the header row.
        row = FIRST_FIELD_ROW + len(self.fields) + (1 if self.fields else 0)
        placed = []
        for table in self.tables:
            header = row + 1
            placed.append(Table(table.key, table.title, table.prefix, table.columns,
                                table.rows, header_row=header, printed=table.printed))
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
         width: float = 10.5, help: str = "", default: float | None = None) -> Column:
    return Column(key, header, "input",
                  Rule("number", (), minimum, maximum, exclusive_minimum, required),
                  default=default, number_format=fmt, width=width, help=help)


def _pct(key: str, header: str, *, minimum: float | None = 0.0, maximum: float | None = 1.0,
         exclusive_minimum: bool = False, required: bool = False, fmt: str = "0.00%",
         width: float = 9.0, help: str = "", default: float | None = None) -> Column:
    return Column(key, header, "input",
                  Rule("percent", (), minimum, maximum, exclusive_minimum, required),
                  default=default, number_format=fmt, width=width, help=help)


def _choice(key: str, header: str, choices: tuple[str, ...], *, required: bool = False,
            width: float = 9.5, help: str = "", default: str | None = None) -> Column:
    return Column(key, header, "input", Rule("choice", choices, required=required),
                  default=default, width=width, help=help)


def _venue(key: str, header: str, *, required: bool = False, width: float = 12.0,
           help: str = "") -> Column:
    return Column(key, header, "input", Rule("venue", VENUES, required=required), width=width,
                  help=help)


def _text(key: str, header: str, *, required: bool = False, width: float = 14.0,
          help: str = "") -> Column:
    return Column(key, header, "input", Rule("text", required=required), width=width, help=help)


def _date(key: str, header: str, *, required: bool = False, width: float = 12.0,
          help: str = "", fmt: str = "yyyy-mm-dd") -> Column:
    return Column(key, header, "input", Rule("date", required=required),
                  number_format=fmt, width=width, help=help)


def _out(key: str, header: str, *, fmt: str = "#,##0.00", width: float = 10.5, help: str = "",
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
SCENARIO_ROWS = 36
MOVE_ROWS = 60
BETA_ROWS = 12
EXCHANGE_ROWS = 10
GRADE_ROWS = 7
PRICE_ROWS = 400
PRICE_ASSETS = 8  # price columns on the Prices sheet (one per asset held)
FUNDING_ROWS = 270
AUDIT_ROWS = 14
CLOSEST_ROWS = 15  # the Dashboard's closest-to-liquidation ranking

#: SPAN grid rows are named "SPAN k" (riskfuncs.scenarios.span_grid's name up to the colon), the
#: rest of that name is their description; readers recognise the rows by this short name.
SPAN_PREFIX = "SPAN "

#: Due-diligence factors, as riskfuncs.data.score_weights.FACTORS, with their column headers.
FACTOR_HEADERS: dict[str, str] = {
    "proof_of_reserves": "Proof of reserves",
    "audit": "Audit",
    "licence": "Licence",
    "jurisdiction": "Jurisdiction",
    "insurance_fund": "Insurance fund",
    "incident_history": "Incident history",
    "transparency": "Transparency",
}
FACTORS: tuple[str, ...] = tuple(FACTOR_HEADERS)
#: What ``perprisk por verify`` found of an exchange's inclusion proof (blank: not checked).
PROOF_RESULTS: tuple[str, ...] = ("verified", "failed")

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
                 help="Margin balance at least this far above the initial margin at the "
                      "leverage cap (guide: 30%)."),
        _setting("alert_distance", "Alert when distance to liquidation below", "Set_AlertDistance",
                 0.10, kind="percent", minimum=0, maximum=1, fmt="0%",
                 help="Adverse move (fraction of mark) that triggers the red alert."),
        _result("position_count", "Positions", "Pos_Count", fmt="0"),
    ),
    tables=(
        Table("positions", "Positions", "Pos", (
            _venue("exchange", "Exchange", required=True,
                   help="Venue name or ccxt id (binance, bybit, bitget, ...): picks the "
                        "liquidation rule, shown in Rule; a venue without its own published "
                        "rule uses the generic one."),
            _text("symbol", "Symbol", required=True, width=15, help="e.g. BTC/USDT:USDT"),
            _choice("contract", "Contract", CONTRACTS, default="linear",
                    help="linear (USDT-margined) or inverse (coin-margined). Blank = linear."),
            _choice("side", "Side", SIDES, required=True, width=8,
                    help="long or short."),
            _num("size", "Size", minimum=0, exclusive_minimum=True, required=True,
                 fmt=SIZE_FORMAT,
                 help="Base units (linear) or USD size (inverse)."),
            _num("entry_price", "Entry price", fmt=PRICE_FORMAT, minimum=0,
                 exclusive_minimum=True, required=True,
                 help="Average entry price, quote currency per coin (USD for inverse)."),
            _num("mark_price", "Mark price", fmt=PRICE_FORMAT, minimum=0,
                 exclusive_minimum=True, required=True,
                 help="Exchange mark price now: liquidation is triggered by the mark price."),
            _num("collateral", "Collateral", minimum=0, required=True,
                 help="Isolated margin, or the cross wallet balance (quote; coin if inverse)."),
            _choice("margin_mode", "Margin mode", MARGIN_MODES, default="isolated",
                    help="isolated or cross. Cross rows of one exchange and contract share the "
                         "wallet in Collateral."),
            _num("leverage", "Leverage", minimum=0, exclusive_minimum=True, fmt="0.0", width=9,
                 help="Leverage set on the exchange, for the initial margin. Blank = the "
                      "isolated margin is the initial margin."),
            _text("tier_table", "Tier table", width=16,
                  help="Name of a tier table on the Tiers sheet (one venue's brackets). "
                       "Blank = the MMR and amount typed in this row."),
            _pct("maintenance_margin_rate", "MMR", maximum=0.999999, fmt="0.000%",
                 help="Maintenance margin rate (0.5% = 0.005) when no tier table is named."),
            _num("maintenance_amount", "Maint. amount", minimum=0, default=0.0,
                 help="Maintenance amount (cum) deducted; blank = 0."),
            _pct("fee_rate", "Fee rate", maximum=0.1, fmt="0.000%", default=0.0,
                 help="Closing taker fee added to the maintenance rate; blank = 0."),
            _num("max_leverage", "Max leverage", minimum=1, fmt="0", width=9,
                 help="hyperliquid without MMR: the market's max leverage (MMR = 1/(2 x max))."),
            _num("stop_price", "Stop-loss", fmt=PRICE_FORMAT, minimum=0, exclusive_minimum=True,
                 help="Stop-loss price, blank if none. It should fire before the liquidation "
                      "price, on the losing side of the mark."),
            _num("exchange_liquidation_price", "Exchange liq. price", fmt=PRICE_FORMAT,
                 minimum=0, exclusive_minimum=True,
                 help="The liquidation price the exchange shows for this position, blank if "
                      "none: compared with the computed one in 'vs exchange'."),
            _out("rule", "Rule", width=9,
                 help="The published liquidation rule used for this venue (generic: a venue "
                      "without its own)."),
            _out("notional", "Notional",
                 help="Q x mark (linear, quote) or N / mark (inverse, coin)."),
            _out("value_usd", "Value (USD)", help="Position value in USD: Q x mark or N."),
            _out("initial_margin", "Initial margin",
                 help="Notional / leverage (blank leverage: the isolated margin)."),
            _out("maintenance_margin", "Maint. margin", help="Notional at mark x MMR - amount."),
            _out("unrealized_pnl", "Unrealised PnL"),
            _out("margin_balance", "Margin balance",
                 help="Collateral + PnL (cross: the account's wallet + all its PnL)."),
            _out("liquidation_price", "Liq. price", fmt=PRICE_FORMAT,
                 help="Price at which the exchange liquidates; \"never\" (0 for a linear "
                      "long) when no price does."),
            _out("distance_to_liquidation", "Distance", fmt="0.00%",
                 help="Adverse move (fraction of mark) to liquidation."),
            _out("liquidation_difference", "vs exchange", fmt="0.00%", width=9,
                 help="Computed liquidation price / the exchange's - 1; above 0.1% either way "
                      "an input differs from the exchange's (fee, tier, wallet)."),
            _out("margin_ratio", "Margin ratio", fmt="0.00%",
                 help="Maintenance / balance (cross: the account's); 100% = liquidation."),
            _out("margin_buffer", "Buffer at cap", fmt="0.00%",
                 help="Balance / (notional / leverage cap) - 1 (cross: the account's balance "
                      "over all its notional): 0% = at the cap, below the rule = amber."),
            _out("effective_leverage", "Eff. leverage", fmt="0.00",
                 help="Notional / margin balance."),
            _out("level", "Level", width=8,
                 help="red, amber or green: the report's rules (distance, liquidation "
                      "probability, buffer at cap, leverage, worst stress case, stop-loss)."),
            _out("alert", "Alert", width=24,
                 help="The most urgent reason for the level; ok when green."),
            # Hidden helper columns used by the liquidation formula.
            _out("account", "Account", hidden=True,
                 help="exchange:settle currency, the wallet cross positions share."),
            _out("requirement", "Requirement", hidden=True,
                 help="Maintenance margin of the position (cross: of the account)."),
            _out("tier_key", "Tier key", hidden=True),
            _out("asset", "Asset", hidden=True, help="Base currency of the symbol."),
            _out("settle", "Settle", hidden=True, help="Settlement currency of the account."),
            _out("account_lead", "Account lead", hidden=True, fmt="0",
                 help="1 on the first row of each margin account (isolated: every row)."),
            _out("account_size", "Account rows", hidden=True, fmt="0"),
            _out("account_pnl", "Account uPnL", hidden=True),
            _out("closing_fee", "Closing fee", hidden=True,
                 help="Fee rate x notional at the mark: part of a cross account's requirement."),
            _out("stop_check", "Stop check", hidden=True,
                 help="ok, missing, beyond (past the liquidation price) or wrong side (of "
                      "the mark)."),
            _out("exposure_usd", "Exposure (USD)", hidden=True,
                 help="Equity the exchange owes on this account, floored at 0, in USD "
                      "(counted on the account's first row)."),
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
            # Hidden helpers of the Dashboard's closest-to-liquidation table.
            _out("closeness", "Closeness", hidden=True, fmt="0.0000%",
                 help="Distance floored at 0 (reached or past = 0); blank if never reachable."),
            _out("closeness_rank", "Closeness rank", hidden=True, fmt="0",
                 help="1 = nearest to liquidation; ties in table order, so no rank repeats."),
            # Hidden helpers of the input problems (layout.PROBLEMS).
            _out("input_problem", "Input problem", hidden=True,
                 help="MMR MISSING, MMR NOT A NUMBER or TIER TABLE NOT FOUND; blank if none."),
            _out("problem_flag", "Problem flag", hidden=True, fmt="0",
                 help="1 where the row has an input problem."),
            _out("problem", "Problem", hidden=True,
                 help="The row's input problem, or for a cross row one of its account's."),
            # Hidden inputs of the Level from the other sheets (blank without them).
            _out("liquidation_probability", "P(liquidation)", hidden=True, fmt="0.00%",
                 help="From the Volatility & VaR sheet's table, this row."),
            _out("worst_case_liquidated", "Worst case liquidated", hidden=True, fmt="0",
                 help="1 when the worst stress scenario liquidates this row's account."),
            _out("venue_exposure", "Venue exposure (USD)", hidden=True,
                 help="Exposure of this row's exchange, all its accounts: the Scorecard's "
                      "concentration counts every venue, listed there or not."),
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
            _text("table", "Tier table", required=True, width=18,
                  help="Name positions use in their 'Tier table' cell; one venue's brackets."),
            Column("tier", "Tier", "input", Rule("integer", minimum=1, required=True), width=6,
                   number_format="0"),
            _num("min_notional", "Min notional", minimum=0, required=True, fmt="#,##0",
                 help="Position value where this tier starts: USDT for linear, coin for inverse."),
            _num("max_notional", "Max notional", minimum=0, required=True, fmt="#,##0",
                 help="Where this tier ends: the next tier's min notional."),
            _pct("maintenance_margin_rate", "MMR", maximum=0.999999, required=True, fmt="0.000%",
                 help="Maintenance margin rate of the tier (0.5% = 0.005)."),
            _num("maintenance_amount", "Maint. amount (cum)", minimum=0, fmt="#,##0.00", width=16,
                 help="Binance 'cum' / Bybit 'MM deduction'. Blank = derived from the rates."),
            _num("max_leverage", "Max leverage", minimum=1, fmt="0", width=12,
                 help="Highest leverage the exchange allows in this tier."),
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

STRESS = Sheet(
    key="stress",
    title="Stress Test",
    heading="Stress Test",
    description="Scenarios applied to every position; a liquidated account loses its margin. "
                "Totals in USD (coin amounts at the scenario's price).",
    fields=(
        _setting("reference_asset", "Reference asset", "Stress_ReferenceAsset", "BTC",
                 kind="text", help="Assets a scenario does not list follow this one x beta."),
        _setting("default_beta", "Beta of unlisted assets", "Stress_DefaultBeta", 2.0,
                 fmt="0.00", help="Alts move 2x the reference asset unless a beta is given."),
        _setting("move_floor", "Derived move floor", "Stress_MoveFloor", -0.90, kind="percent",
                 minimum=-0.999999, maximum=0, fmt="0%",
                 help="A beta-derived move never falls below this (-90%)."),
        _setting("move_cap", "Derived move cap", "Stress_MoveCap", 3.0, kind="percent",
                 minimum=0, fmt="0%", help="A beta-derived move never rises above this."),
        _setting("price_scan_range", "SPAN price scan range", "Stress_ScanRange", 0.06,
                 kind="percent", minimum=0, exclusive_minimum=True, maximum=0.49, fmt="0.0%",
                 help="One-day move the SPAN grid scans (e.g. the 99% move)."),
        _result("equity_before", "Equity now (USD)", "Stress_EquityBefore"),
        _result("worst_scenario", "Worst scenario", "Stress_WorstScenario", fmt="@"),
        _result("worst_loss", "Worst loss (USD)", "Stress_WorstLoss"),
        _result("worst_liquidated", "Positions liquidated in it", "Stress_WorstLiquidated",
                fmt="0"),
        _result("worst_equity_left", "Equity left in it (USD)", "Stress_WorstEquityLeft"),
    ),
    tables=(
        Table("scenarios", "Scenarios", "Scen", (
            _text("name", "Scenario", width=24, help="Unique name."),
            _text("description", "Description", width=30, help="What the scenario is, in words."),
            _pct("funding_rate", "Funding rate", minimum=-0.5, maximum=0.5, fmt="0.000%",
                 help="Per interval, paid by longs when positive."),
            Column("funding_intervals", "Intervals", "input",
                   Rule("integer", minimum=0), width=9, number_format="0",
                   help="How many funding intervals the rate is paid for."),
            _text("haircut_currency", "Haircut ccy", width=10,
                  help="Collateral currency that loses value (e.g. USDC)."),
            _pct("haircut", "Haircut", fmt="0%",
                 help="Value lost by that collateral (USDC in March 2023: 13%)."),
            _text("default_exchange", "Exchange fails", width=12,
                  help="Venue that defaults in this scenario (any name, e.g. ftx)."),
            _pct("default_lgd", "LGD", fmt="0%", help="Loss given default on equity there."),
            _pct("weight", "Weight", minimum=0, exclusive_minimum=True, fmt="0%", default=1.0,
                 help="Share of the loss counted (SPAN extremes 35%). Blank = 100%."),
            _num("horizon_hours", "Hours", minimum=0, exclusive_minimum=True, fmt="0",
                 width=7, default=1.0, help="How long the move takes. Blank = 1 hour."),
            _out("reference_move", "Ref. move", fmt="0.0%", width=9),
            _out("pnl", "PnL"),
            _out("funding", "Funding"),
            _out("haircut_loss", "Haircut loss"),
            _out("equity_after", "Equity after"),
            _out("default_loss", "Default loss"),
            _out("equity_left", "Equity left"),
            _out("loss", "Loss"),
            _out("weighted_loss", "Weighted loss"),
            _out("loss_fraction", "Loss %", fmt="0.0%", width=8),
            _out("positions_liquidated", "Liquidated", fmt="0", width=10),
            _out("accounts_liquidated", "Accounts liq.", fmt="0", width=10),
            _out("positions_unknown", "Unknown", fmt="0", width=9,
                 help="Positions whose account has an input problem (e.g. MMR missing): "
                      "neither counted as liquidated nor as safe; fix them on Positions."),
            _out("shortfall", "Shortfall"),
            _out("worst", "Worst", width=8),
            _out("cumulative_rate", "Cum. funding rate", hidden=True, fmt="0.000%"),
            _out("label", "Label", hidden=True,
                 help="What charts and the worst-case figures call the scenario: the name, "
                      "with the description after a SPAN grid row's short name."),
        ), SCENARIO_ROWS),
        Table("moves", "Price moves per scenario and asset", "Move", (
            _text("scenario", "Scenario", width=24),
            _text("asset", "Asset", width=30),
            _pct("move", "Move", minimum=-0.999999, maximum=100, fmt="0.0%",
                 help="Fraction of mark: -30% = -0.3."),
        ), MOVE_ROWS),
        Table("betas", "Betas to the reference asset", "Beta", (
            _text("asset", "Asset", width=24),
            _num("beta", "Beta", fmt="0.00", width=30),
        ), BETA_ROWS),
    ),
    requires=("positions", "stress_grid"),
)


def _grid_columns() -> tuple[Column, ...]:
    per_row = (
        _out("active", "Active", fmt="0"), _out("inverse", "Inverse", fmt="0"),
        _out("sign", "Side sign", fmt="0"), _out("size", "Size"),
        _out("beta", "Beta", fmt="0.00"), _out("entry_basis", "Entry basis", fmt="0"),
        _out("lead", "Lead", fmt="0"), _out("account_size", "Account rows", fmt="0"),
        _out("fee_value", "Fee base", help="Bybit isolated: value at the bankruptcy price; "
                                           "else -1 (the value at the moved price is used)."),
        _out("wallet", "Wallet"), _out("upnl_now", "uPnL now"),
        _out("account_pnl", "Account uPnL"), _out("mark", "Mark"),
        _out("unknown", "Unknown", fmt="0",
             help="1 when the row's account has an input problem: not stressed."),
        _out("worst_liquidated", "Worst liquidated", fmt="0",
             help="Account lead rows: 1 when the worst scenario liquidates the account."),
    )
    blocks: list[Column] = []
    for measure, header in (("price", "Price"), ("after", "uPnL+funding"), ("need", "Need"),
                            ("balance", "Acc. balance"), ("requirement", "Acc. requirement")):
        blocks.extend(_out(f"{measure}_{j}", f"{header} {j}") for j in range(1, SCENARIO_ROWS + 1))
    return (*per_row, *blocks)


STRESS_GRID = Sheet(
    key="stress_grid",
    title="Stress Grid",
    heading="Stress Grid (working)",
    description="Per position and scenario: price, uPnL plus funding, requirement; per account: "
                "balance and requirement. Rows follow the Positions table, columns the "
                "scenarios.",
    tables=(Table("grid", "Working", "SG", _grid_columns(), POSITION_ROWS),),
    requires=("positions", "stress"),
    hidden=True,
)

VOLATILITY = Sheet(
    key="volatility",
    title="Volatility & VaR",
    heading="Volatility & VaR",
    description="Price history in; returns, EWMA volatility, VaR and expected shortfall out "
                "(losses as positive fractions), and each position's liquidation probability.",
    fields=(
        _setting("asset", "Asset of the history", "Vol_Asset", "BTC", kind="text"),
        _setting("return_kind", "Returns", "Vol_ReturnKind", "simple", kind="choice",
                 choices=("simple", "log"), help="simple: P/P0 - 1; log: ln(P/P0)."),
        _setting("confidence", "Confidence", "Vol_Confidence", 0.99, kind="percent",
                 minimum=0.5, maximum=0.9999, fmt="0.0%"),
        _setting("ewma_lambda", "EWMA lambda", "Vol_Lambda", 0.94, minimum=0,
                 exclusive_minimum=True, maximum=0.9999, fmt="0.00",
                 help="RiskMetrics: 0.94 for daily data."),
        _setting("periods_per_year", "Periods per year", "Vol_PeriodsPerYear", 365, minimum=0,
                 exclusive_minimum=True, fmt="0", help="365 for daily crypto bars."),
        _setting("horizon_periods", "VaR horizon (periods)", "Vol_Horizon", 1, minimum=0,
                 exclusive_minimum=True, fmt="0.##",
                 help="Scaled by sqrt(h): ignores volatility clustering."),
        _setting("exposure", "Exposure (USD)", "Vol_Exposure", None, minimum=0,
                 fmt="#,##0.00", help="Value the VaR applies to; the template sums the "
                                      "positions in the asset."),
        _setting("probability_days", "Liquidation horizon (days)", "Vol_ProbabilityDays", 1,
                 minimum=0, exclusive_minimum=True, fmt="0.##"),
        _setting("drift", "Annual drift", "Vol_Drift", 0.0, kind="percent", minimum=-10,
                 maximum=10, fmt="0%"),
        _result("observations", "Returns", "Vol_Observations", fmt="0"),
        _result("close_to_close", "Volatility, close to close (annual)", "Vol_CloseToClose",
                fmt="0.00%"),
        _result("ewma_backcast", "EWMA start variance (per period)", "Vol_Backcast",
                fmt="0.000000"),
        _result("ewma_volatility", "EWMA volatility (annual)", "Vol_EwmaVolatility",
                fmt="0.00%"),
        _result("historical_var", "Historical VaR (1 period)", "Vol_HistoricalVar",
                fmt="0.00%"),
        _result("historical_es", "Historical ES (1 period)", "Vol_HistoricalEs", fmt="0.00%"),
        _result("normal_var", "Normal VaR (1 period)", "Vol_NormalVar", fmt="0.00%"),
        _result("normal_es", "Normal ES (1 period)", "Vol_NormalEs", fmt="0.00%"),
        _result("var_horizon", "Historical VaR over horizon", "Vol_VarHorizon", fmt="0.00%"),
        _result("es_horizon", "Historical ES over horizon", "Vol_EsHorizon", fmt="0.00%"),
        _result("var_usd", "VaR (USD)", "Vol_VarUsd"),
        _result("es_usd", "ES (USD)", "Vol_EsUsd"),
    ),
    tables=(
        Table("history", "Price history (oldest first)", "Hist", (
            _date("date", "Date", help="One row per day, oldest first, no gaps."),
            _num("price", "Close", minimum=0, exclusive_minimum=True, fmt=PRICE_FORMAT,
                 help="Closing price of the day."),
            _out("return", "Return", fmt="0.000%"),
            _out("ewma_variance", "EWMA variance", fmt="0.00000000", width=14),
            # Working columns, shown: hidden, they would hide the probability table's
            # volatility override, volatility and distance columns below them.
            _out("valid", "Return counted", fmt="0", width=9, help="1 when the row has a return."),
            _out("value", "Return or 0", fmt="0.000%", width=9),
            _out("backcast_weight", "Backcast weight", fmt="0.0000", width=9,
                 help="Weight of the return in the EWMA start variance (first 75 returns)."),
        ), PRICE_ROWS, printed=False),
        Table("probability", "Liquidation probability per position", "Prob", (
            _out("symbol", "Symbol", width=18),
            _out("side", "Side", width=8),
            _out("mark_price", "Mark price", fmt=PRICE_FORMAT),
            _out("liquidation_price", "Liq. price", fmt=PRICE_FORMAT),
            _pct("volatility", "Volatility override", maximum=20, exclusive_minimum=True,
                 fmt="0.0%", width=12,
                 help="Annual volatility of this asset; blank = the EWMA volatility above."),
            _out("volatility_used", "Volatility", fmt="0.0%"),
            _out("distance_sigmas", "Distance (sigmas)", fmt="0.00"),
            _out("probability", "P(liquidation)", fmt="0.00%"),
            _out("log_distance", "Log distance", hidden=True, fmt="0.0000"),
        ), POSITION_ROWS),
    ),
    requires=("positions",),
)


def _price_columns() -> tuple[Column, ...]:
    closes = tuple(
        Column(f"close_{k}", f"Asset {k}", "input",
               Rule("number", (), 0.0, None, exclusive_minimum=True),
               number_format=PRICE_FORMAT, width=11.0, header_input=True,
               help="Closing price of the day. Type the asset (e.g. BTC, as in BTC/USDT:USDT) "
                    "in the yellow header above.")
        for k in range(1, PRICE_ASSETS + 1))
    returns = tuple(_out(f"return_{k}", f"Return {k}", hidden=True, fmt="0.000%")
                    for k in range(1, PRICE_ASSETS + 1))
    joint = tuple(_out(f"joint_{k}", f"Joint return {k}", hidden=True, fmt="0.000%")
                  for k in range(1, PRICE_ASSETS + 1))
    return (
        _date("date", "Date", help="One row per day, oldest first, no gaps."),
        *closes,
        _out("pnl", "Book P&L (USD)", width=13,
             help="Net exposures x returns of the date; blank unless every covered asset has "
                  "a return that day."),
        _out("valid", "Joint", hidden=True, fmt="0"),
        _out("pnl_value", "P&L or 0", hidden=True),
        *returns,
        *joint,
    )


PRICES = Sheet(
    key="prices",
    title="Prices",
    heading="Prices & book VaR",
    description="Daily closes of every asset held, one column each, the asset named in the "
                "yellow header. The book's P&L of a date is the net exposures times the "
                "returns; its historical and normal VaR and ES over the horizon (confidence, "
                "returns and horizon of Volatility & VaR), and what they cover.",
    fields=(
        _result("assets_covered", "Assets held with a price history", "Book_AssetsCovered",
                fmt="0"),
        _result("observations", "Joint returns (dates all covered assets share)",
                "Book_Observations", fmt="0"),
        _result("book_value", "Gross position value (USD)", "Book_GrossValue"),
        _result("covered_value", "Covered by the VaR (USD)", "Book_CoveredValue"),
        _result("coverage", "Coverage (share of the book)", "Book_Coverage", fmt="0.0%"),
        _result("not_covered", "Positions without a price history", "Book_NotCovered",
                fmt="0", help="Listed below as no history: left out of the VaR, not riskless."),
        _result("historical_var", "Historical VaR over horizon (USD)", "Book_HistoricalVar"),
        _result("historical_es", "Historical ES over horizon (USD)", "Book_HistoricalEs"),
        _result("normal_var", "Normal VaR over horizon (USD)", "Book_NormalVar",
                help="Mean and covariance of the joint returns: sd = sqrt(e' S e)."),
        _result("normal_es", "Normal ES over horizon (USD)", "Book_NormalEs"),
    ),
    tables=(
        Table("book_assets", "Per asset (the price columns, in order)", "BookAsset", (
            _out("asset", "Asset", width=10),
            _out("status", "In the VaR", width=12,
                 help="yes; no history (held, fewer than 2 returns); not held; duplicate."),
            _out("exposure", "Net exposure (USD)", width=13,
                 help="Longs + , shorts -, every position on the asset."),
            _out("gross", "Gross value (USD)", width=13),
            _out("returns", "Returns", fmt="0", width=8),
            _out("volatility", "Volatility (per period)", fmt="0.00%", width=11,
                 help="Standard deviation of its returns on the joint dates."),
            _out("historical_var", "Historical VaR alone (USD)", width=13),
            _out("normal_var", "Normal VaR alone (USD)", width=13),
        ), PRICE_ASSETS),
        Table("prices", "Daily closes (oldest first)", "Px", _price_columns(), PRICE_ROWS,
              printed=False),
        Table("book_positions", "Coverage per position", "BookPos", (
            _out("symbol", "Symbol", width=18),
            _out("asset", "Asset", width=10),
            _out("exposure", "Exposure (USD)", width=13, help="Value, long +, short -."),
            # Visible: a hidden column would hide the price columns above it too.
            _out("covered", "In the VaR", width=12),
            _out("gross", "Gross (USD)", width=13),
            _out("column", "Price column", fmt="0", width=8,
                 help="Which close column holds the position's asset."),
        ), POSITION_ROWS),
    ),
    requires=("positions", "volatility"),
    print_titles="prices",  # the pages after the first are the closes
)

SCORECARD = Sheet(
    key="scorecard",
    title="Exchange Scorecard",
    heading="Exchange Scorecard",
    description="Due-diligence sub-scores (0 = worst, 1 = best) weighted into a score, a grade "
                "and a probability of default; exposure from the positions.",
    fields=(
        _setting("horizon_years", "PD horizon (years)", "Score_HorizonYears", 1.0, minimum=0,
                 fmt="0.00", help="Expected loss over this horizon (1 month = 0.0833)."),
        _setting("max_share", "Largest share allowed on one exchange", "Score_MaxShare", 0.5,
                 kind="percent", minimum=0, maximum=1, fmt="0%"),
        _setting("min_venues", "Fewest exchanges to spread over", "Score_MinVenues", 2,
                 kind="integer", minimum=1, fmt="0"),
        _setting("min_score", "Lowest acceptable score", "Score_MinScore", 55, minimum=0,
                 maximum=100, fmt="0"),
        _result("total_exposure", "Exposure, all exchanges (USD)", "Score_TotalExposure"),
        _result("expected_loss", "Expected loss (USD)", "Score_ExpectedLoss"),
        _result("hhi", "Concentration (Herfindahl)", "Score_Hhi", fmt="0.000"),
        _result("effective_venues", "Effective number of exchanges", "Score_EffectiveVenues",
                fmt="0.00"),
        _result("largest_share", "Largest share", "Score_LargestShare", fmt="0.0%"),
        _result("proofs_failed", "Proofs of reserves failed (red alerts)", "Score_ProofsFailed",
                fmt="0", help="Exchanges whose inclusion proof failed: each is a red alert in "
                              "the report."),
    ),
    tables=(
        Table("exchanges", "Exchanges", "Exch", (
            _venue("exchange", "Exchange"),
            *(_pct(f, FACTOR_HEADERS[f], fmt="0.00", width=11,
                   help="Sub-score in [0, 1], 1 = best.") for f in FACTORS),
            _pct("loss_given_default", "LGD", fmt="0%", width=8,
                 help="Fraction of the exposure lost if the exchange fails."),
            _choice("proof_of_reserves_checked", "Proof of reserves checked", PROOF_RESULTS,
                    width=15, help="verified or failed, as 'perprisk por verify' found your "
                                   "inclusion proof; blank = not checked. A failed proof "
                                   "counts 0 for Proof of reserves and is a red alert."),
            _date("proof_of_reserves_date", "Proof date", width=11,
                  help="Date of the reserve snapshot the checked proof belongs to."),
            _num("reserve_ratio", "Reserve ratio", minimum=0, fmt="0.0%", width=9,
                 help="Reserves / customer liabilities published with the proof "
                      "(105% = 1.05); with the date it gives the Proof of reserves sub-score."),
            _text("proof_of_reserves_failed_at", "Proof failed at", width=24,
                  help="The check that failed (leaf, level N or root) and why."),
            _out("score", "Score", fmt="0.0", width=8),
            _out("grade", "Grade", width=7),
            _out("probability_of_default", "PD 1y", fmt="0.00%", width=8),
            _out("probability_over_horizon", "PD horizon", fmt="0.00%", width=9),
            _out("exposure", "Exposure (USD)"),
            _out("share", "Share", fmt="0.0%", width=8),
            _out("expected_loss", "Expected loss"),
        ), EXCHANGE_ROWS),
        Table("weights", "Factor weights", "Weight", (
            _text("factor", "Factor", width=12),
            _num("weight", "Weight", minimum=0, fmt="0.00"),
            _out("normalised", "Normalised", fmt="0.0%"),
        ), len(FACTORS)),
        Table("grades", "Grades and PD bands (best first)", "Grade", (
            _text("grade", "Grade", width=12),
            _num("min_score", "Min score", minimum=0, maximum=100, fmt="0"),
            _pct("pd_low", "PD low", fmt="0.00%"),
            _pct("pd_high", "PD high", fmt="0.00%"),
            _pct("probability_of_default", "PD used", fmt="0.00%"),
        ), GRADE_ROWS),
    ),
    requires=("positions",),
)

FUNDING = Sheet(
    key="funding",
    title="Funding",
    heading="Funding",
    description="Funding rates log for one symbol: payments of one position, cumulative cost, "
                "annualised rate, and every position's liquidation price after the funding.",
    fields=(
        _setting("symbol", "Symbol of the log", "Fund_Symbol", "BTC/USDT:USDT", kind="text"),
        _setting("position_row", "Position (row in the Positions table)", "Fund_PositionRow", 1,
                 kind="integer", minimum=1, maximum=POSITION_ROWS, fmt="0",
                 help="Whose payments the log column shows."),
        _setting("intervals_per_year", "Funding intervals per year", "Fund_IntervalsPerYear",
                 1095, minimum=0, exclusive_minimum=True, fmt="0",
                 help="3 a day (8-hour funding) = 1095."),
        _result("intervals", "Intervals logged", "Fund_Intervals", fmt="0"),
        _result("average_rate", "Average rate per interval", "Fund_AverageRate",
                fmt="0.0000%"),
        _result("annualised_rate", "Annualised rate", "Fund_AnnualisedRate", fmt="0.00%"),
        _result("total_payment", "Received by the position (- = paid)",
                "Fund_TotalPayment"),
    ),
    tables=(
        Table("log", "Funding log", "FundLog", (
            _date("time", "Time (UTC)", width=16, fmt="yyyy-mm-dd hh:mm",
                  help="Funding timestamp, oldest first."),
            _pct("rate", "Rate", minimum=-0.5, maximum=0.5, fmt="0.0000%",
                 help="Funding rate of the interval (0.01% = 0.0001); longs pay when positive."),
            _num("mark_price", "Mark price", minimum=0, exclusive_minimum=True,
                 fmt=PRICE_FORMAT, help="Mark price at the funding time."),
            _out("payment", "Payment"),
            _out("cumulative", "Cumulative"),
            # Shown: hidden, it would hide the Liq. price after column of the table below.
            _out("linear_unit", "Per unit (linear)", fmt="0.000000",
                 help="Mark price x rate of the interval: per unit of a linear contract."),
            _out("inverse_unit", "Per unit (inverse)", hidden=True, fmt="0.0000000000"),
        ), FUNDING_ROWS),
        Table("after", "Liquidation price after the logged funding", "FundLiq", (
            _out("symbol", "Symbol", width=18),
            _out("side", "Side", width=8),
            _out("paid", "Funding received"),
            _out("collateral_after", "Collateral after"),
            _out("liquidation_price_now", "Liq. price now", fmt=PRICE_FORMAT),
            _out("liquidation_price", "Liq. price after", fmt=PRICE_FORMAT),
            _out("effective_balance", "Balance", hidden=True),
            _out("target", "Target", hidden=True),
            _out("liquidation_tier", "Tier", hidden=True, fmt="0"),
            _out("liquidation_rate", "Rate", hidden=True, fmt="0.0000%"),
            _out("liquidation_amount", "Amount", hidden=True),
            _out("liquidation_notional", "Notional", hidden=True),
        ), POSITION_ROWS),
    ),
    requires=("positions",),
)

AUDIT = Sheet(
    key="audit",
    title="Risk Audit",
    heading="Risk Audit",
    description="The guide's checklist: computed where the workbook knows the answer, ticked "
                "by you otherwise. Date and sign off at the top.",
    fields=(
        _setting("date", "Audit date", "Audit_Date", None, kind="date", fmt="yyyy-mm-dd"),
        _setting("reviewer", "Reviewed by", "Audit_Reviewer", None, kind="text"),
        _setting("sign_off", "Signed off (name)", "Audit_SignOff", None, kind="text"),
        _setting("max_data_age", "Price data at most this many days old", "Audit_MaxDataAge",
                 7, minimum=0, fmt="0"),
        _result("passed", "Checks passed", "Audit_Passed", fmt="0"),
        _result("failed", "Checks failed", "Audit_Failed", fmt="0"),
        _result("open", "Checks to tick", "Audit_Open", fmt="0"),
    ),
    tables=(
        Table("checks", "Checklist", "Check", (
            _out("item", "Check", width=68),
            _out("how", "How", width=10),
            _out("computed", "Computed", width=10),
            _choice("answer", "Your answer", YES_NO, width=11,
                    help="For checks the workbook cannot compute: yes, no or n/a."),
            _out("status", "Status", width=9),
            _out("evidence", "Evidence", width=34),
            _text("note", "Note", width=30),
        ), AUDIT_ROWS),
    ),
    requires=("positions",),
)

# --------------------------------------------------------------------------------------------
# Unified accounts (riskfuncs.accounts): the account view of cross positions on one exchange.

ACCOUNT_ROWS = 8
BALANCE_ROWS = 24
HAIRCUT_ROWS = 80
#: Newton steps of the account liquidation price (formulas.account_positions_table): the
#: account's margin left is concave and piecewise linear in one asset's price, so each step
#: lands on the next segment towards the root and the last steps repeat it exactly.
ACCOUNT_STEPS = 12

#: Account modes whose figures the sheet computes: every mode of riskfuncs.accounts.MODES
#: (Binance Multi-Assets with its bid/ask conversion buffers, as account_margin's
#: conversion_buffers; a blank buffer is 0). A mode typed outside the list shows MODE NOT
#: COVERED.
ACCOUNT_MODES: tuple[str, ...] = tuple(ACCOUNT_MODE_TABLE)
ACCOUNT_MODES_COVERED: tuple[str, ...] = ACCOUNT_MODES
#: The mode whose balances take bid/ask conversion buffers.
CONVERSION_MODE = "binance_multi_assets"
#: Units of a haircut table's bounds: coins held, or their USD value (riskfuncs.accounts).
HAIRCUT_UNITS: tuple[str, ...] = ("coin", "usd")
#: What an account row, a balance row or a position row shows instead of a figure.
PROBLEM_MODE_MISSING = "MODE MISSING"
PROBLEM_MODE_NOT_COVERED = "MODE NOT COVERED"
PROBLEM_NO_POSITIONS = "NO CROSS POSITIONS"
PROBLEM_INVERSE = "INVERSE IN ACCOUNT"
PROBLEM_ACCOUNT_NOT_LISTED = "ACCOUNT NOT LISTED"
PROBLEM_PRICE_MISSING = "PRICE MISSING"
PROBLEM_HAIRCUT_MISSING = "HAIRCUT TABLE NOT FOUND"
PROBLEM_HAIRCUT_BROKEN = "HAIRCUT TABLE BROKEN"
PROBLEM_COIN_TWICE = "COIN LISTED TWICE"
PROBLEM_BALANCES = "BALANCE PROBLEM"
PROBLEM_SETTLE_COINS = "SEVERAL SETTLE COINS"
PROBLEM_OWN_SETTLE = "SETTLED IN THIS ASSET"
PROBLEM_NOT_SOLVED = "NOT SOLVED"
PROBLEM_AMOUNT_MISSING = "AMOUNT MISSING"
PROBLEM_EXCHANGE_TWICE = "EXCHANGE LISTED TWICE"
PROBLEM_BUFFER_MODE = "BUFFER NOT MULTI-ASSETS"
PROBLEM_BUFFER_RANGE = "BUFFER OUT OF RANGE"
ACCOUNT_PROBLEMS = (PROBLEM_MODE_MISSING, PROBLEM_MODE_NOT_COVERED, PROBLEM_NO_POSITIONS,
                    PROBLEM_AMOUNT_MISSING, PROBLEM_EXCHANGE_TWICE,
                    PROBLEM_INVERSE, PROBLEM_ACCOUNT_NOT_LISTED, PROBLEM_PRICE_MISSING,
                    PROBLEM_HAIRCUT_MISSING, PROBLEM_HAIRCUT_BROKEN, PROBLEM_COIN_TWICE,
                    PROBLEM_BALANCES, PROBLEM_BUFFER_MODE, PROBLEM_BUFFER_RANGE,
                    PROBLEM_SETTLE_COINS, PROBLEM_OWN_SETTLE, PROBLEM_NOT_SOLVED,
                    *PROBLEMS)
#: Levels of an account by the share of its trigger used (k x requirement / equity; 100% =
#: liquidation): the levels perprisk watch gives the exchange's own account ratio.
ACCOUNT_USE_AMBER = 0.5
ACCOUNT_USE_RED = 0.8

ACCOUNTS = Sheet(
    key="accounts",
    title="Accounts",
    heading="Unified accounts",
    description="Cross positions of one exchange margined as one account (Bybit UTA, OKX "
                "multi-currency, Binance Multi-Assets and Portfolio Margin, Hyperliquid, "
                "dYdX): coins after "
                "their haircut, the account ratio against its trigger, and the price of each "
                "asset that liquidates the whole account.",
    fields=(
        _result("accounts", "Unified accounts", "Acct_Count", fmt="0"),
        _result("red", "Accounts on red alert", "Acct_Red", fmt="0",
                help=f"Trigger {ACCOUNT_USE_RED:.0%} used or more, or liquidated; amber "
                     f"from {ACCOUNT_USE_AMBER:.0%}."),
        _result("amber", "Accounts on amber alert", "Acct_Amber", fmt="0"),
    ),
    tables=(
        Table("unified_accounts", "Accounts (one per exchange)", "UA", (
            _venue("exchange", "Exchange", required=True, width=12,
                   help="The exchange of the account: every cross row of it on Positions & "
                        "Margin belongs to the account, whatever its settle coin."),
            _choice("mode", "Mode", ACCOUNT_MODES, required=True, width=20,
                    help="bybit_uta, binance_multi_assets (coins at their bid/ask "
                         "conversion rates: buffers on Balances by coin), binance_portfolio, "
                         "okx_multi_currency, hyperliquid_cross or dydx_cross."),
            _out("ratio_name", "Ratio", width=25, help="The venue's name for its ratio."),
            _out("equity", "Equity (USD)", width=13,
                 help="Coins after their haircut (borrowing in full), PnL in the settle coin."),
            _out("requirement", "Requirement", width=12,
                 help="Maintenance margin of the positions (OKX: plus their liquidation fees), "
                      "in USD at each settle coin's price (Multi-Assets: its ask rate)."),
            _out("ratio", "Account ratio", fmt="0.00%", width=16,
                 help="In the venue's convention (Hyperliquid: equity - maintenance, USD)."),
            _out("trigger", "Trigger", fmt="0.00%", width=9),
            _out("use", "Trigger used", fmt="0.0%", width=9,
                 help="k x requirement / equity: 100% = liquidation."),
            _out("margin_left", "Margin left (USD)", width=13,
                 help="Equity - k x requirement: the account is liquidated at 0."),
            _out("liquidated", "Liquidated", width=9),
            _out("level", "Level", width=8),
            _out("positions", "Positions", fmt="0", width=9),
            _out("problem", "Problem", width=22),
        ), ACCOUNT_ROWS),
        Table("balances", "Balances by coin", "Bal", (
            _venue("exchange", "Exchange", required=True, width=12,
                   help="The account (an exchange of the Accounts table)."),
            _text("coin", "Coin", required=True, width=16, help="e.g. USDT, BTC."),
            _num("amount", "Amount", fmt=SIZE_FORMAT, width=13, required=True,
                 help="Wallet balance in the coin, before PnL; negative = borrowed; 0 for a "
                      "settle coin with no balance."),
            _num("price", "Price (USD)", minimum=0, exclusive_minimum=True, fmt=PRICE_FORMAT,
                 help="Index price. Blank: 1 for USD, USDT, USDC; else the mark of the "
                      "account's first position on the coin."),
            _pct("bid_buffer", "Bid buffer", fmt="0.000%", width=9,
                 help="Binance Multi-Assets only (GET /fapi/v1/assetIndex bidBuffer): a "
                      "positive equity converts at price x (1 - bid buffer). Blank = 0."),
            _pct("ask_buffer", "Ask buffer", maximum=None, fmt="0.000%", width=9,
                 help="Binance Multi-Assets only (askBuffer): a negative equity and the "
                      "maintenance of positions settled in the coin convert at price x "
                      "(1 + ask buffer). Blank = 0."),
            _text("haircut_table", "Haircut table", width=16,
                  help="Name of a table below (collateral value ratio tiers); blank = 100%."),
            _out("price_used", "Price used", fmt=PRICE_FORMAT, width=11),
            _out("pnl", "PnL settled", fmt=SIZE_FORMAT, width=13,
                 help="Unrealised PnL of the account's positions settled in this coin (in "
                      "the coin: marks are quoted in it)."),
            _out("equity", "Equity (coins)", fmt=SIZE_FORMAT, width=17,
                 help="Amount + PnL settled."),
            _out("value", "Value (USD)", width=13,
                 help="Equity x price (Multi-Assets: the bid rate, the ask rate when "
                      "negative), each slice at its tier's ratio; negative (borrowed) in full."),
            _out("liquidation_price", "Account liq. price", fmt=PRICE_FORMAT, width=13,
                 help="Price of the coin that liquidates the account, every other price held "
                      "(a coin traded too: its positions' price); never: no price does. "
                      "Stablecoins too: the depeg that liquidates."),
            _out("problem", "Problem", width=22),
            # Working columns (hidden: right of every shown column of the sheet).
            _out("coin_used", "Coin read", hidden=True,
                 help="The coin as riskfuncs names it: upper case, XBT read as BTC."),
            _out("hc_start", "Haircut start", hidden=True, fmt="0"),
            _out("hc_count", "Haircut count", hidden=True, fmt="0"),
            _out("hc_usd", "Haircut in USD", hidden=True, fmt="0"),
            _out("factor", "Rate / price", hidden=True,
                 help="The conversion rate used over the index price (1 outside "
                      "Multi-Assets)."),
            _out("coin_requirement", "Requirement per unit of price", hidden=True,
                 help="USD requirement of the positions settled in the coin / its price."),
            _out("other", "Margin left without the coin", hidden=True),
            *(_out(f"p_{n}", f"Price {n}", hidden=True) for n in range(ACCOUNT_STEPS + 1)),
        ), BALANCE_ROWS),
        Table("haircuts", "Haircut tiers (collateral value ratio by coins held or USD value)",
              "Hc", (
            _text("table", "Haircut table", required=True, width=12,
                  help="Name balances use; one block of rows per table, bounds ascending "
                       "from 0, each tier starting where the one above ends, one unit (else "
                       "the balance shows HAIRCUT TABLE BROKEN)."),
            _choice("unit", "Unit", HAIRCUT_UNITS, width=9,
                    help="coin: the bounds are coins held (Bybit, OKX); usd: their USD value "
                         "(Binance Portfolio Margin Pro's Floor and Cap). Blank = coin."),
            _num("min_amount", "Min", minimum=0, required=True, fmt=SIZE_FORMAT,
                 width=16, help="Coins held (or USD value) where the tier starts (first "
                                "tier: 0)."),
            _num("max_amount", "Max", minimum=0, fmt=SIZE_FORMAT, width=13,
                 help="Where it ends (the next tier's min); blank = no end. Past a last "
                      "end the excess counts 0."),
            _pct("ratio", "Ratio", fmt="0.00%", width=11, required=True,
                 help="Collateral value ratio of the slice (98% = 0.98)."),
        ), HAIRCUT_ROWS),
        Table("account_positions", "Account liquidation price per position", "AccPos", (
            _out("exchange", "Exchange", width=12,
                 help="Blank: the Positions row is not a cross row of a listed account."),
            _out("symbol", "Symbol", width=16),
            _out("side", "Side", width=13),
            _out("size", "Size", fmt=SIZE_FORMAT, width=16),
            _out("mark_price", "Mark price", fmt=PRICE_FORMAT, width=13),
            _out("asset", "Asset", width=9),
            _out("settle", "Settle", width=9),
            _out("pnl", "Unrealised PnL", fmt=SIZE_FORMAT, width=13,
                 help="In the settle coin (marks are quoted in it)."),
            _out("maintenance", "Maint. margin", width=13,
                 help="At the mark: tier rate x value - the tier's amount (OKX: no amount), "
                      "in USD at the settle coin's price (Multi-Assets: its ask rate)."),
            _out("liquidation_fee", "Liq. fee", width=9,
                 help="OKX: fee rate x value (USD), counted in the requirement."),
            _out("liquidation_price", "Account liq. price", fmt=PRICE_FORMAT, width=13,
                 help="This position's mark at which its asset liquidates the account, every "
                      "other price held (every position on the asset moves in proportion); "
                      "never: no price does."),
            _out("move", "Move to liq.", fmt="0.00%", width=9,
                 help="Account liq. price / mark - 1."),
            _out("problem", "Problem", width=20),
            # Working columns (hidden: right of every shown column of the sheet).
            _out("member", "Member", hidden=True, fmt="0"),
            _out("key", "Key", hidden=True, help="exchange|asset."),
            _out("k", "k", hidden=True, help="Share of the requirement at the trigger."),
            _out("fee_used", "Fee used", hidden=True),
            _out("keep", "Tier amounts kept", hidden=True, fmt="0",
                 help="0 where the mode's venue charges the whole position at its tier's rate."),
            _out("mark_0", "First mark on the asset", hidden=True,
                 help="The Newton price is the mark of the account's first position on the "
                      "asset; every other mark on it moves in proportion."),
            _out("scale", "Mark / first mark", hidden=True),
            _out("usd_per_mark", "Asset USD price / first mark", hidden=True),
            _out("signed_size", "Signed size", hidden=True),
            _out("signed_weight", "Signed size x mark / first mark", hidden=True),
            _out("signed_entry", "Signed size x entry", hidden=True),
            _out("unlisted_pnl", "PnL of an unlisted settle coin", hidden=True),
            _out("pair_size", "Net size on the asset", hidden=True),
            _out("pair_entry", "Net size x entry on the asset", hidden=True),
            _out("settle_row", "Settle coin's balance row", hidden=True, fmt="0"),
            _out("settle_amount", "Settle coin amount", hidden=True),
            _out("settle_price", "Settle coin price", hidden=True),
            _out("settle_bid", "Settle coin bid rate", hidden=True),
            _out("settle_ask", "Settle coin ask rate", hidden=True),
            _out("hc_start", "Haircut start", hidden=True, fmt="0"),
            _out("hc_count", "Haircut count", hidden=True, fmt="0"),
            _out("hc_usd", "Haircut in USD", hidden=True, fmt="0"),
            _out("asset_row", "Asset coin's balance row", hidden=True, fmt="0"),
            _out("asset_amount", "Asset coin amount", hidden=True),
            _out("asset_factor", "Asset rate / price", hidden=True),
            _out("asset_hc_start", "Asset haircut start", hidden=True, fmt="0"),
            _out("asset_hc_count", "Asset haircut count", hidden=True, fmt="0"),
            _out("asset_hc_usd", "Asset haircut in USD", hidden=True, fmt="0"),
            _out("other_equity", "Other equity", hidden=True),
            _out("other_requirement", "Other requirement", hidden=True),
            _out("other_pnl", "Other PnL in the settle coin", hidden=True),
            _out("pre_problem", "Input problem", hidden=True),
            *(c for n in range(ACCOUNT_STEPS + 1) for c in (
                _out(f"p_{n}", f"Price {n}", hidden=True),
                _out(f"h_{n}", f"Settle held {n}", hidden=True),
                _out(f"m_{n}", f"Maintenance {n}", hidden=True),
                _out(f"d_{n}", f"Slope {n}", hidden=True))),
        ), POSITION_ROWS),
    ),
    requires=("positions",),
    print_titles="account_positions",  # the pages after the first are the positions
)

DASHBOARD = Sheet(
    key="dashboard",
    title="Dashboard",
    heading="Dashboard",
    description="Key figures and alerts of the whole assessment.",
    fields=(
        _result("positions", "Positions", "Dash_Positions", fmt="0"),
        _result("gross_value", "Gross position value (USD)", "Dash_GrossValue"),
        _result("equity", "Equity (USD)", "Dash_Equity"),
        _result("min_distance", "Closest distance to liquidation", "Dash_MinDistance",
                fmt="0.00%"),
        _result("red", "Positions on red alert", "Dash_Red", fmt="0"),
        _result("amber", "Positions on amber alert", "Dash_Amber", fmt="0"),
        _result("worst_scenario", "Worst stress scenario", "Dash_WorstScenario", fmt="@"),
        _result("worst_loss", "Its loss (USD)", "Dash_WorstLoss"),
        _result("worst_liquidated", "Positions it liquidates", "Dash_WorstLiquidated", fmt="0"),
        _result("var_usd", "Historical VaR over horizon (USD)", "Dash_VarUsd"),
        _result("es_usd", "Historical ES over horizon (USD)", "Dash_EsUsd"),
        _result("var_coverage", "VaR covers (share of the book)", "Dash_VarCoverage",
                fmt="0.0%"),
        _result("max_probability", "Highest liquidation probability", "Dash_MaxProbability",
                fmt="0.00%"),
        _result("expected_loss", "Exchange expected loss (USD)", "Dash_ExpectedLoss"),
        _result("effective_venues", "Effective number of exchanges", "Dash_EffectiveVenues",
                fmt="0.00"),
        _result("audit", "Risk audit", "Dash_Audit", fmt="@"),
    ),
    tables=(
        Table("closest", "Closest to liquidation", "Near", (
            _out("position", "Position", width=34,
                 help="Symbol, side and exchange of the position."),
            _out("distance", "Distance", fmt="0.00%",
                 help="Adverse move (fraction of mark) to liquidation; 0 = reached or past."),
            _out("alert", "Alert", width=24),
            _out("row", "Positions row", hidden=True, fmt="0"),
            _out("level", "Level", hidden=True, help="The row's level: its fill."),
            *(_out(f"{level}_distance", f"{level.title()} distance", hidden=True,
                   fmt="0.00%", help=f"The distance on {level} rows (the chart's {level} bars).")
              for level in ("red", "amber", "green")),
        ), CLOSEST_ROWS),
    ),
    charts=(
        Chart("closest", "Closest to liquidation",
              ("dashboard", "closest", "position"), ("dashboard", "closest", "distance"), "E4",
              "adverse move to liquidation (red: under the alert distance)", "0%",
              top_down=True,
              series=tuple(("dashboard", "closest", f"{level}_distance", colour)
                           for level, colour in LEVEL_COLOURS.items()),
              data_labels=True),
        # The loss the worst-case figure quotes: haircuts and venue defaults included.
        Chart("stress", "Loss per stress scenario (USD)", ("stress", "scenarios", "label"),
              ("stress", "scenarios", "loss"), "E23", "USD, + = loss"),
        Chart("exposure", "Exposure per exchange (USD)", ("scorecard", "exchanges", "exchange"),
              ("scorecard", "exchanges", "exposure"), "E42", "USD"),
    ),
    requires=("positions", "stress", "volatility", "prices", "scorecard", "audit"),
)

#: Book order: the Dashboard first, so it is the sheet that opens and the first printed page.
ALL_SHEETS: tuple[Sheet, ...] = (DASHBOARD, INSTRUCTIONS, POSITIONS, STRESS, SCORECARD,
                                 VOLATILITY, PRICES, FUNDING, AUDIT, ACCOUNTS, TIERS,
                                 STRESS_GRID)
SHEETS: dict[str, Sheet] = {s.key: s for s in ALL_SHEETS}

TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template("credit-risk-assessment", LAYOUT_VERSION, "Credit Risk Assessment",
                 "credit-risk-assessment.xlsx", tuple(s.key for s in ALL_SHEETS)),
        Template("position-margin-monitor", LAYOUT_VERSION, "Position & Margin Monitor",
                 "position-margin-monitor.xlsx", ("instructions", "positions", "tiers")),
        Template("stress-test", LAYOUT_VERSION, "Stress Test",
                 "stress-test.xlsx", ("instructions", "stress")),
        Template("exchange-scorecard", LAYOUT_VERSION, "Exchange Scorecard",
                 "exchange-scorecard.xlsx", ("instructions", "scorecard")),
        Template("risk-audit", LAYOUT_VERSION, "Risk Audit",
                 "risk-audit.xlsx", ("instructions", "audit")),
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

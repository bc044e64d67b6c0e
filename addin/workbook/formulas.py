"""The spreadsheet formulas of every computed cell, as text.

Each formula mirrors one riskfuncs function on the same inputs, written only with functions that
Excel 2010+ and LibreOffice 7.4 both compute (functions newer than the OOXML spec carry the
``_xlfn.`` prefix Excel expects). Row formulas are templates with ``{r}`` for the row number.

The liquidation price follows :func:`riskfuncs.liquidation.liquidation_price`: in notional space
with ``x_e`` the entry notional, ``sigma = s`` (linear) or ``-s`` (inverse) and ``W`` the
effective collateral, the balance condition ``W + sigma (x - x_e) = x (MMR_k + fee) - cum_k``
gives ``x = (t - sigma cum_k) / (1 - sigma (MMR_k + fee))`` with ``t = x_e - sigma W``; the tier
``k`` is the number of tiers whose ``phi_k = floor_k (1 - sigma (MMR_k + fee)) + sigma cum_k`` is
at most ``t`` (one SUMPRODUCT). Entry-value venues use ``x = x_e + sigma (MM_e - W)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from openpyxl.formula import Tokenizer
from openpyxl.formula.tokenizer import Token
from openpyxl.utils import FORMULAE

from addin.workbook import layout
from addin.workbook.layout import Sheet, Table
from addin.workbook.texts import load_texts

# Functions LibreOffice 7.4 cannot compute (measured); they must never appear in a template.
LO74_MISSING = frozenset({
    "XLOOKUP", "XMATCH", "LET", "LAMBDA", "FILTER", "UNIQUE", "SORT", "SORTBY", "SEQUENCE",
    "RANDARRAY", "TEXTBEFORE", "TEXTAFTER", "TEXTSPLIT", "VSTACK", "HSTACK", "TAKE", "DROP",
    "CHOOSECOLS", "CHOOSEROWS", "TOCOL", "TOROW", "WRAPROWS", "WRAPCOLS", "EXPAND",
})


@dataclass(frozen=True)
class Context:
    """What a formula may refer to: the sheets present in the workbook being built."""

    sheets: frozenset[str]

    def has(self, key: str) -> bool:
        return key in self.sheets


class Row:
    """Same-row references into one table: ``row("size")`` -> ``"E{r}"``."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __call__(self, key: str) -> str:
        return f"{self.table.column_letter(key)}{{r}}"

    def name(self, key: str) -> str:
        return self.table.name_of(key)

    def previous(self, key: str) -> str:
        return f"{self.table.column_letter(key)}{{p}}"


def _list(values: tuple[str, ...]) -> str:
    return ",".join(f'"{v}"' for v in values)


def _slice(name: str, start: str, count: str) -> str:
    """Rows ``start .. start+count-1`` of a named column, as a range (INDEX:INDEX)."""
    return f"INDEX({name},{start}):INDEX({name},{start}+{count}-1)"


# --------------------------------------------------------------------------------------------
# Positions & Margin

def positions_table(ctx: Context) -> dict[str, str]:
    t = layout.POSITIONS.table("positions")
    c = Row(t)
    tiers = layout.TIERS.table("tiers")
    tier_floor, tier_cap = tiers.name_of("min_notional"), tiers.name_of("max_notional")
    tier_rate, tier_amount = tiers.name_of("maintenance_margin_rate"), tiers.name_of("amount_used")
    start, count = c("tier_start"), c("tier_count")

    def at_tier(name: str, k: str) -> str:
        return f"INDEX({name},{start}+{k}-1)"

    inverse = f'{c("contract")}="inverse"'
    side = f'IF({c("side")}="long",1,-1)'
    cross = f'{c("margin_mode")}="cross"'
    entry_basis = "OR(" + ",".join(f'{c("exchange")}="{e}"' for e in
                                   layout.ENTRY_BASIS_EXCHANGES) + ")"
    sigma, xe, w = c("sign"), c("entry_notional"), c("effective_balance")
    fee = f'N({c("fee_rate")})'
    rate_k, amount_k, k = c("liquidation_rate"), c("liquidation_amount"), c("liquidation_tier")
    mm, pnl, balance = c("maintenance_margin"), c("unrealized_pnl"), c("margin_balance")
    lp, mark = c("liquidation_price"), c("mark_price")
    phi = (f"SUMPRODUCT(--({_slice(tier_floor, start, count)}*(1-{sigma}*"
           f"({_slice(tier_rate, start, count)}+{fee}))+{sigma}*"
           f"{_slice(tier_amount, start, count)}<={c('target')}))")
    same_account = (f'{c.name("account")},{c("account")},{c.name("margin_mode")},"cross"')
    solved = f"({c('target')}-{sigma}*{amount_k})/(1-{sigma}*{rate_k})"

    f = {
        "notional": f'IF({inverse},{c("size")}/{mark},{c("size")}*{mark})',
        "value_usd": f'IF({inverse},{c("size")},{c("size")}*{mark})',
        "initial_margin": (
            f'IF({c("leverage")}="",IF({cross},"",{c("collateral")}),'
            f'{c("notional")}/{c("leverage")})'
        ),
        "maintenance_margin": (
            f'{c("notional")}*IF({count}=0,{c("base_rate")},'
            f'{at_tier(tier_rate, c("mark_tier"))})'
            f'-IF({count}=0,N({c("maintenance_amount")}),{at_tier(tier_amount, c("mark_tier"))})'
        ),
        "unrealized_pnl": (
            f'{side}*{c("size")}*IF({inverse},1/{c("entry_price")}-1/{mark},'
            f'{mark}-{c("entry_price")})'
        ),
        "margin_balance": (
            f'{c("collateral")}+IF({cross},SUMIFS({c.name("unrealized_pnl")},{same_account}),'
            f'{pnl})'
        ),
        "liquidation_price": (
            f'IF({c("liquidation_notional")}<=0,IF({inverse},"none",0),'
            f'IF({inverse},{c("size")}/{c("liquidation_notional")},'
            f'{c("liquidation_notional")}/{c("size")}))'
        ),
        "distance_to_liquidation": f'IF({lp}="none","none",{side}*({mark}-{lp})/{mark})',
        "requirement": f'IF({cross},SUMIFS({c.name("maintenance_margin")},{same_account}),{mm})',
        "margin_ratio": f'IF({balance}>0,{c("requirement")}/{balance},"no balance")',
        "margin_buffer": (
            f'IF({c("requirement")}>0,{balance}/{c("requirement")}-1,"no requirement")'
        ),
        "effective_leverage": f'IF({balance}>0,{c("notional")}/{balance},"no balance")',
        "alert": _alert(c),
        "account": _account(c),
        "sign": f"{side}*IF({inverse},-1,1)",
        "entry_notional": (
            f'IF({inverse},{c("size")}/{c("entry_price")},{c("size")}*{c("entry_price")})'
        ),
        "tier_key": (
            f'IF({c("tier_table")}<>"",{c("tier_table")},'
            f'IF(COUNTIF({tiers.name_of("table")},{c("symbol")})>0,{c("symbol")},""))'
        ),
        "tier_start": (
            f'IF({c("tier_key")}="",0,MATCH({c("tier_key")},{tiers.name_of("table")},0))'
        ),
        "tier_count": (
            f'IF({c("tier_key")}="",0,COUNTIF({tiers.name_of("table")},{c("tier_key")}))'
        ),
        "base_rate": (
            f'IF({count}>0,"",IF(AND({c("exchange")}="hyperliquid",{c("maintenance_margin_rate")}=""),'
            f'1/(2*{c("max_leverage")}),N({c("maintenance_margin_rate")})))'
        ),
        "mark_tier": (
            f'IF({count}=0,0,MAX(1,COUNTIF({_slice(tier_floor, start, count)},'
            f'"<="&{c("notional")})))'
        ),
        "effective_balance": (
            f'{c("collateral")}+IF({cross},'
            f'-(SUMIFS({c.name("maintenance_margin")},{same_account})-{mm})'
            f'+(SUMIFS({c.name("unrealized_pnl")},{same_account})-{pnl}),0)'
        ),
        "target": f"{xe}-{sigma}*{w}",
        "liquidation_tier": (
            f'IF({count}=0,0,IF({entry_basis},MAX(1,COUNTIF({_slice(tier_floor, start, count)},'
            f'"<="&{xe})),MAX(1,{phi})))'
        ),
        "liquidation_rate": (
            f'IF({count}=0,{c("base_rate")},{at_tier(tier_rate, k)})+{fee}'
        ),
        "liquidation_amount": (
            f'IF({count}=0,N({c("maintenance_amount")}),{at_tier(tier_amount, k)})'
        ),
        "liquidation_notional": (
            f"IF({entry_basis},{xe}+{sigma}*({xe}*{rate_k}-{amount_k}-{w}),"
            f"IF(AND({count}>0,{k}<{count}),MIN({solved},{at_tier(tier_cap, k)}),{solved}))"
        ),
    }
    return {key: f'=IF({c("size")}="","",{body})' for key, body in f.items()}


def _account(c: Row) -> str:
    """``exchange:SETTLE`` as riskfuncs.portfolio.account_of derives it from a ccxt symbol."""
    sym, inverse = c("symbol"), f'{c("contract")}="inverse"'
    after = f'MID({sym},FIND(":",{sym})+1,999)'
    quote = f'MID({sym},FIND("/",{sym})+1,999)'
    base = f'LEFT({sym},FIND("/",{sym})-1)'
    settle = (
        f'IF(ISNUMBER(FIND(":",{sym})),LEFT({after},FIND("-",{after}&"-")-1),'
        f'IF(ISNUMBER(FIND("/",{sym})),IF({inverse},{base},{quote}),'
        f'IF({inverse},IF({sym}="","coin",{sym}),"quote")))'
    )
    return f'{c("exchange")}&":"&UPPER({settle})'


def _alert(c: Row) -> str:
    texts = load_texts()["alerts"]
    dist, buf, lev = c("distance_to_liquidation"), c("margin_buffer"), c("effective_leverage")
    lp, stop = c("liquidation_price"), c("stop_price")
    stop_wrong = (
        f'AND({stop}<>"",{lp}<>"none",IF({c("side")}="long",{stop}<={lp},{stop}>={lp}))'
    )
    return (
        f'IF(AND({dist}<>"none",N({dist})<=0),"{texts["liquidated"]}",'
        f'IF(AND({dist}<>"none",N({dist})<Set_AlertDistance),"{texts["near_liquidation"]}",'
        f'IF(AND(ISNUMBER({buf}),N({buf})<Set_BufferRule),"{texts["buffer"]}",'
        f'IF(OR(ISTEXT({lev}),N({lev})>Set_LeverageCap),"{texts["leverage"]}",'
        f'IF({stop_wrong},"{texts["stop"]}","{texts["ok"]}")))))'
    )


def positions_fields(ctx: Context) -> dict[str, str]:
    t = layout.POSITIONS.table("positions")
    return {"position_count": f"=COUNT({t.name_of('size')})"}


# --------------------------------------------------------------------------------------------
# Tiers

def tiers_table(ctx: Context) -> dict[str, str]:
    c = Row(layout.TIERS.table("tiers"))
    new_table = f'{c("table")}<>{c.previous("table")}'
    derived = (f'IF({new_table},0,{c.previous("amount_derived")}+{c("min_notional")}*'
               f'({c("maintenance_margin_rate")}-{c.previous("maintenance_margin_rate")}))')
    return {
        "amount_derived": f'=IF({c("table")}="","",{derived})',
        "amount_used": (
            f'=IF({c("table")}="","",IF({c("maintenance_amount")}="",'
            f'{c("amount_derived")},{c("maintenance_amount")}))'
        ),
    }


# --------------------------------------------------------------------------------------------
# Registry: which formulas fill which sheet.

TableFormulas = Callable[[Context], Mapping[str, str]]

TABLE_FORMULAS: dict[tuple[str, str], TableFormulas] = {
    ("positions", "positions"): positions_table,
    ("tiers", "tiers"): tiers_table,
}
FIELD_FORMULAS: dict[str, TableFormulas] = {
    "positions": positions_fields,
}


def row_formula(template: str, row: int) -> str:
    """Fill a row template: ``{r}`` is the row, ``{p}`` the row above (the header on the first
    data row, which no table value equals)."""
    return template.replace("{r}", str(row)).replace("{p}", str(row - 1))


def formulas_for(sheet: Sheet, ctx: Context) -> tuple[Mapping[str, str],
                                                      dict[str, Mapping[str, str]]]:
    """(field formulas, {table key: column formulas}) of one sheet in a given workbook."""
    fields = FIELD_FORMULAS[sheet.key](ctx) if sheet.key in FIELD_FORMULAS else {}
    tables = {t.key: TABLE_FORMULAS[(sheet.key, t.key)](ctx) for t in sheet.tables
              if (sheet.key, t.key) in TABLE_FORMULAS}
    return fields, tables


def lint(formula: str) -> list[str]:
    """Problems Excel or LibreOffice 7.4 would show as #NAME?: unprefixed new functions, and
    functions LibreOffice 7.4 lacks."""
    problems = []
    for token in Tokenizer(formula).items:
        if token.type != Token.FUNC or token.subtype != Token.OPEN:
            continue
        name = token.value[:-1].upper()
        bare = name.removeprefix("_XLFN._XLWS.").removeprefix("_XLFN.")
        if not name.startswith("_XLFN.") and name not in FORMULAE:
            problems.append(f"{name} needs the _xlfn. prefix")
        if bare in LO74_MISSING:
            problems.append(f"{bare} is not computed by LibreOffice 7.4")
    return problems

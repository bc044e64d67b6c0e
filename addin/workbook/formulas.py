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
from addin.workbook.layout import SPAN_PREFIX, Sheet, Table
from addin.workbook.texts import load_texts
from riskfuncs.accounts import MODES as ACCOUNT_MODE_TABLE
from riskfuncs.accounts import USD_COINS
from riskfuncs.assessment import RatingThresholds
from riskfuncs.liquidation import ALREADY_LIQUIDATED as REACHED
from riskfuncs.liquidation import EXCHANGE_RULES
from riskfuncs.liquidation import NEVER_LIQUIDATED as NEVER
from riskfuncs.venues import COIN_ALIASES

# Functions LibreOffice 7.4 cannot compute (measured); they must never appear in a template.
LO74_MISSING = frozenset({
    "XLOOKUP", "XMATCH", "LET", "LAMBDA", "FILTER", "UNIQUE", "SORT", "SORTBY", "SEQUENCE",
    "RANDARRAY", "TEXTBEFORE", "TEXTAFTER", "TEXTSPLIT", "VSTACK", "HSTACK", "TAKE", "DROP",
    "CHOOSECOLS", "CHOOSEROWS", "TOCOL", "TOROW", "WRAPROWS", "WRAPCOLS", "EXPAND",
})


# Functions Excel 2010 introduced (written with the _xlfn. prefix). Anything else behind the
# prefix is newer (MINIFS, IFS, TEXTJOIN: Excel 2019; XLOOKUP, LET: Microsoft 365) and would
# show #NAME? in Excel 2010-2016.
EXCEL_2010_XLFN = frozenset({
    "AGGREGATE", "BETA.DIST", "BETA.INV", "BINOM.DIST", "BINOM.INV", "CEILING.PRECISE",
    "CHISQ.DIST", "CHISQ.INV", "CONFIDENCE.NORM", "CONFIDENCE.T", "COVARIANCE.P",
    "COVARIANCE.S", "EXPON.DIST", "F.DIST", "F.INV", "FLOOR.PRECISE", "GAMMA.DIST",
    "GAMMA.INV", "LOGNORM.DIST", "LOGNORM.INV", "MODE.MULT", "MODE.SNGL", "NETWORKDAYS.INTL",
    "NORM.DIST", "NORM.INV", "NORM.S.DIST", "NORM.S.INV", "PERCENTILE.EXC", "PERCENTILE.INC",
    "PERCENTRANK.EXC", "PERCENTRANK.INC", "POISSON.DIST", "QUARTILE.EXC", "QUARTILE.INC",
    "RANK.AVG", "RANK.EQ", "STDEV.P", "STDEV.S", "T.DIST", "T.DIST.2T", "T.DIST.RT", "T.INV",
    "T.INV.2T", "T.TEST", "VAR.P", "VAR.S", "WEIBULL.DIST", "WORKDAY.INTL", "Z.TEST",
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

POS = layout.POSITIONS
POS_TABLE = POS.table("positions")
TIER_TABLE = layout.TIERS.table("tiers")


def _pos(key: str) -> str:
    """The Positions row that lines up with this row (``{pr}``), from another sheet."""
    return f"{POS.quoted()}!{POS_TABLE.column_letter(key)}{{pr}}"


def _header_span(table: Table, key: str) -> str:
    """From the header row (absolute) down to the row above this one."""
    letter = table.column_letter(key)
    return f"{letter}${table.header_row}:{letter}{{p}}"


Get = Callable[[str], str]


def _tier_at(start: str, name: str, k: str) -> str:
    return f"INDEX({name},{start}+{k}-1)"


def _tier_terms(value: str, start: str, count: str) -> tuple[str, str, str]:
    """(tier k, its rate, its amount) of a position value in the row's tier table on the Tiers
    sheet: the last tier whose floor is at most the value (riskfuncs.tiers)."""
    k = f'MAX(1,COUNTIF({_slice(TIER_TABLE.name_of("min_notional"), start, count)},"<="&{value}))'
    return (k, _tier_at(start, TIER_TABLE.name_of("maintenance_margin_rate"), k),
            _tier_at(start, TIER_TABLE.name_of("amount_used"), k))


def _solver(src: Get, own: Get, fee: str) -> dict[str, str]:
    """Target, tier, rate, amount, notional and price at liquidation (riskfuncs.liquidation).

    ``src`` reads the position's inputs and static helpers (size, contract, exchange, sign,
    entry_notional, tier_start, tier_count, base_rate, maintenance_amount), ``own`` this row's
    cells (effective_balance and the outputs).
    """
    floor, cap = TIER_TABLE.name_of("min_notional"), TIER_TABLE.name_of("max_notional")
    rate, amount = (TIER_TABLE.name_of("maintenance_margin_rate"),
                    TIER_TABLE.name_of("amount_used"))
    start, count = src("tier_start"), src("tier_count")
    sigma, xe, w = src("sign"), src("entry_notional"), own("effective_balance")
    entry_basis = _entry_basis(src("rule"))
    k, rate_k = own("liquidation_tier"), own("liquidation_rate")
    amount_k = own("liquidation_amount")
    keep = _amount_kept(src("rule"))
    phi = (f"SUMPRODUCT(--({_slice(floor, start, count)}*(1-{sigma}*"
           f"({_slice(rate, start, count)}+{fee}))+{sigma}*{keep}*"
           f"{_slice(amount, start, count)}<={own('target')}))")
    solved = f"({own('target')}-{sigma}*{amount_k})/(1-{sigma}*{rate_k})"
    x, size = own("liquidation_notional"), src("size")
    return {
        "target": f"{xe}-{sigma}*{w}",
        "liquidation_tier": (
            f'IF({count}=0,0,IF({entry_basis},MAX(1,COUNTIF({_slice(floor, start, count)},'
            f'"<="&{xe})),MAX(1,{phi})))'
        ),
        "liquidation_rate": f"IF({count}=0,{src('base_rate')},{_tier_at(start, rate, k)})+{fee}",
        "liquidation_amount": (
            f"IF({count}=0,N({src('maintenance_amount')}),{keep}*{_tier_at(start, amount, k)})"
        ),
        "liquidation_notional": (
            f"IF({entry_basis},{xe}+{sigma}*({xe}*({rate_k}-{fee})-{amount_k}+{fee}*"
            f"IF({_any_of(src('rule'), layout.BANKRUPTCY_FEE_EXCHANGES)},"
            f"({xe}-{sigma}*{w})/(1-{sigma}*{fee}),{xe})-{w}),"
            f"IF(AND({count}>0,{k}<{count}),MIN({solved},{_tier_at(start, cap, k)}),{solved}))"
        ),
        "liquidation_price": (
            f'IF({x}<=0,IF({src("contract")}="inverse","{NEVER}",0),'
            f'IF({src("contract")}="inverse",{size}/{x},{x}/{size}))'
        ),
    }


def _rule_of(venue: str) -> str:
    """The rule set of a venue cell, as riskfuncs.venues.rule_for_venue gives it."""
    keys = ",".join(f'"{k}"' for k, _ in layout.VENUE_RULE_MAP)
    rules = ",".join(f'"{r}"' for _, r in layout.VENUE_RULE_MAP)
    return f'IFERROR(INDEX({{{rules}}},MATCH(LOWER(TRIM({venue})),{{{keys}}},0)),"generic")'


def _any_of(cell: str, values: tuple[str, ...]) -> str:
    if not values:
        return "FALSE"
    return "OR(" + ",".join(f'{cell}="{v}"' for v in values) + ")"


def _amount_kept(rule: str) -> str:
    """1, or 0 where the venue charges the whole position at its tier's rate (no amount)."""
    return f"IF({_any_of(rule, layout.WHOLE_POSITION_EXCHANGES)},0,1)"


def _entry_basis(exchange: str) -> str:
    return _any_of(exchange, layout.ENTRY_BASIS_EXCHANGES)


def positions_table(ctx: Context) -> dict[str, str]:
    c = Row(POS_TABLE)
    tier_rate, tier_amount = (TIER_TABLE.name_of("maintenance_margin_rate"),
                              TIER_TABLE.name_of("amount_used"))
    start, count = c("tier_start"), c("tier_count")
    inverse = f'{c("contract")}="inverse"'
    side = f'IF({c("side")}="long",1,-1)'
    cross = f'{c("margin_mode")}="cross"'
    mm, pnl, balance = c("maintenance_margin"), c("unrealized_pnl"), c("margin_balance")
    lp, mark = c("liquidation_price"), c("mark_price")
    same_account = f'{c.name("account")},{c("account")},{c.name("margin_mode")},"cross"'
    stop = c("stop_price")
    # riskfuncs.discipline.check_stop_loss (against the mark): the stop fires before the
    # liquidation price and on the losing side of the mark. An inverse "never" price is +inf.
    stop_before = (f'IF({lp}="{NEVER}",{side}=-1,{side}*({stop}-{lp})>0)')
    stop_loss_side = f"{side}*({mark}-{stop})>0"

    f = {
        "notional": f'IF({inverse},{c("size")}/{mark},{c("size")}*{mark})',
        "value_usd": f'IF({inverse},{c("size")},{c("size")}*{mark})',
        "initial_margin": (
            f'IF({c("leverage")}="",IF({cross},"",{c("collateral")}),'
            f'{c("notional")}/{c("leverage")})'
        ),
        "maintenance_margin": (
            f'{c("notional")}*IF({count}=0,{c("base_rate")},'
            f'{_tier_at(start, tier_rate, c("mark_tier"))})'
            f'-IF({count}=0,N({c("maintenance_amount")}),{_amount_kept(c("rule"))}*'
            f'{_tier_at(start, tier_amount, c("mark_tier"))})'
        ),
        "unrealized_pnl": (
            f'{side}*{c("size")}*IF({inverse},1/{c("entry_price")}-1/{mark},'
            f'{mark}-{c("entry_price")})'
        ),
        "margin_balance": (
            f'{c("collateral")}+IF({cross},SUMIFS({c.name("unrealized_pnl")},{same_account}),'
            f'{pnl})'
        ),
        "distance_to_liquidation": (
            f'IF({lp}="{NEVER}",IF({side}=1,"{REACHED}","{NEVER}"),{side}*({mark}-{lp})/{mark})'
        ),
        "requirement": f'IF({cross},SUMIFS({c.name("maintenance_margin")},{same_account}),{mm})',
        "margin_ratio": f'IF({balance}>0,{c("requirement")}/{balance},"no balance")',
        # The buffer rule at the leverage cap (addin.report.assessment.buffer_at_cap): the
        # balance over the initial margin the position (cross: its account) needs at the cap.
        "margin_buffer": (
            f'{balance}/(IF({cross},SUMIFS({c.name("notional")},{same_account}),'
            f'{c("notional")})/Set_LeverageCap)-1'
        ),
        "effective_leverage": f'IF({balance}>0,{c("notional")}/{balance},"no balance")',
        "level": _level(c),
        "alert": _alert(c),
        "liquidation_probability": (
            f'IFERROR(INDEX({PROB.name_of("probability")},ROW()-{POS_TABLE.first_row - 1}),"")'
            if ctx.has("volatility") else '""'
        ),
        "worst_case_liquidated": _worst_case_liquidated(c) if ctx.has("stress") else '""',
        "rule": _rule_of(c("exchange")),
        "liquidation_difference": (
            f'IF(OR({c("exchange_liquidation_price")}="",NOT(ISNUMBER({lp}))),"",'
            f'IF({lp}<=0,"",{lp}/{c("exchange_liquidation_price")}-1))'
        ),
        "account": _account(c),
        # Only a table the row names: a table is one venue's, so none is applied by symbol alone.
        "tier_key": f'IF({c("tier_table")}<>"",{c("tier_table")},"")',
        "asset": f'UPPER(TRIM(LEFT({c("symbol")},FIND("/",{c("symbol")}&"/")-1)))',
        "settle": f'MID({c("account")},FIND(":",{c("account")})+1,99)',
        "account_lead": (
            f'IF({cross},IF(COUNTIFS({_header_span(POS_TABLE, "account")},{c("account")},'
            f'{_header_span(POS_TABLE, "margin_mode")},"cross")=0,1,0),1)'
        ),
        "account_size": (
            f'IF({cross},COUNTIFS({c.name("account")},{c("account")},'
            f'{c.name("margin_mode")},"cross"),1)'
        ),
        "account_pnl": f'IF({cross},SUMIFS({c.name("unrealized_pnl")},{same_account}),{pnl})',
        "stop_check": (
            f'IF({stop}="","missing",IF(AND(ISTEXT({lp}),{lp}<>"{NEVER}"),"unknown",'
            f'IF(NOT({stop_before}),"beyond",'
            f'IF({stop_loss_side},"ok","wrong side"))))'
        ),
        "exposure_usd": (
            f'IF({c("account_lead")}=1,MAX(0,{c("collateral")}+{c("account_pnl")})*'
            f'IF({inverse},IF({cross},AVERAGEIFS({c.name("mark_price")},{same_account}),'
            f'{mark}),1),0)'
        ),
        "sign": f"{side}*IF({inverse},-1,1)",
        "entry_notional": (
            f'IF({inverse},{c("size")}/{c("entry_price")},{c("size")}*{c("entry_price")})'
        ),
        "tier_start": (
            f'IF({c("tier_key")}="",0,IFERROR(MATCH({c("tier_key")},'
            f'{TIER_TABLE.name_of("table")},0),0))'
        ),
        "tier_count": (
            f'IF({c("tier_key")}="",0,COUNTIF({TIER_TABLE.name_of("table")},{c("tier_key")}))'
        ),
        "base_rate": (
            f'IF({count}>0,"",IF(AND({c("rule")}="hyperliquid",'
            f'{c("maintenance_margin_rate")}=""),1/(2*{c("max_leverage")}),'
            f'N({c("maintenance_margin_rate")})))'
        ),
        "mark_tier": f'IF({count}=0,0,{_tier_terms(c("notional"), start, count)[0]})',
        # Cross: the others' maintenance margin and closing fee (OKX's "MMR + liquidation
        # cost" counts every position of the account) come off the wallet, their PnL adds.
        "closing_fee": f'N({c("fee_rate")})*{c("notional")}',
        "effective_balance": (
            f'{c("collateral")}+IF({cross},'
            f'-(SUMIFS({c.name("maintenance_margin")},{same_account})-N({mm}))'
            f'-(SUMIFS({c.name("closing_fee")},{same_account})-{c("closing_fee")})'
            f'+(SUMIFS({c.name("unrealized_pnl")},{same_account})-{pnl}),0)'
        ),
    }
    f.update(_solver(c, c, f'N({c("fee_rate")})'))
    # No silent zero: a row whose maintenance rate is blank, typed as text, or whose tier
    # table does not exist shows the problem in its figures and its Alert, and a cross row
    # shows that one of its account's rows has one (their shared requirement is unknown).
    mmr, max_leverage = c("maintenance_margin_rate"), c("max_leverage")
    f["input_problem"] = (
        f'IF({count}>0,"",IF({c("tier_key")}<>"","{layout.PROBLEM_TIER_MISSING}",'
        f'IF(AND({c("rule")}="hyperliquid",{mmr}=""),'
        f'IF(ISNUMBER({max_leverage}),"","{layout.PROBLEM_MMR_MISSING}"),'
        f'IF({mmr}="","{layout.PROBLEM_MMR_MISSING}",'
        f'IF(ISNUMBER({mmr}),"","{layout.PROBLEM_MMR_TEXT}")))))'
    )
    f["problem_flag"] = f'IF({c("input_problem")}="",0,1)'
    f["problem"] = (
        f'IF({c("input_problem")}<>"",{c("input_problem")},'
        f'IF(AND({cross},SUMIFS({c.name("problem_flag")},{same_account})>0),'
        f'"{layout.PROBLEM_ACCOUNT}",""))'
    )
    f["venue_exposure"] = (
        f'SUMIFS({c.name("exposure_usd")},{c.name("exchange")},{c("exchange")})'
    )
    problem = c("problem")
    for key in ("maintenance_margin", "requirement", "liquidation_price",
                "distance_to_liquidation", "margin_ratio", "margin_buffer", "alert"):
        f[key] = f'IF({problem}<>"",{problem},{f[key]})'
    f["level"] = f'IF({problem}<>"","amber",{f["level"]})'
    dist, near = c("distance_to_liquidation"), c("closeness")
    # Only a number ranks: "never" and a problem text are never "closest at 0".
    f["closeness"] = f'IF(ISNUMBER({dist}),MAX(0,{dist}),IF({dist}="{REACHED}",0,""))'
    # Rank = nearer rows + equal rows above + 1: a permutation, so ties never repeat a row.
    f["closeness_rank"] = (
        f'IF({near}="","",SUMPRODUCT(--({c.name("closeness")}<{near}))+'
        f'SUMPRODUCT(--({_header_span(POS_TABLE, "closeness")}={near}))+1)'
    )
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


#: The rating's levels (riskfuncs.assessment.RatingThresholds defaults where the workbook has
#: no setting): liquidation probability amber / red, and the cap buffer's red (no margin left).
RATING = RatingThresholds()


def _alert_rules(c: Row) -> tuple[tuple[str, str, str], ...]:
    """(level, condition, alert text) in the order the Alert column names them: the rules of
    :func:`riskfuncs.assessment.hybrid_assessment` with the report's thresholds
    (addin.report.assessment.thresholds_for). A measure the row does not have is not a pass
    or a fail: text cells ("never", "n/a", blank) only match the rules written for them."""
    texts = load_texts()["alerts"]
    dist, buf, lev = c("distance_to_liquidation"), c("margin_buffer"), c("effective_leverage")
    prob = c("liquidation_probability")
    return (
        ("red", f'OR({dist}="{REACHED}",AND(ISNUMBER({dist}),{dist}<=0))', texts["liquidated"]),
        ("red", f"AND(ISNUMBER({dist}),{dist}<Set_AlertDistance)", texts["near_liquidation"]),
        ("red", f"AND(ISNUMBER({prob}),{prob}>{RATING.probability_red})", texts["probability"]),
        ("red", f"OR(ISTEXT({lev}),N({lev})>2*Set_LeverageCap)", texts["leverage"]),
        ("red", f"AND(ISNUMBER({buf}),{buf}<{RATING.cap_buffer_red})", texts["buffer"]),
        ("amber", f"AND(ISNUMBER({dist}),{dist}<2*Set_AlertDistance)", texts["close"]),
        ("amber", f"AND(ISNUMBER({prob}),{prob}>{RATING.probability_amber})",
         texts["probability"]),
        ("amber", f"N({lev})>Set_LeverageCap", texts["leverage"]),
        ("amber", f"AND(ISNUMBER({buf}),{buf}<Set_BufferRule)", texts["buffer"]),
        ("amber", f'AND({c("worst_case_liquidated")}=1,{c("margin_mode")}="cross")',
         texts["worst_case_account"]),
        ("amber", f'{c("worst_case_liquidated")}=1', texts["worst_case"]),
        ("amber", f'{c("stop_check")}="beyond"', texts["stop"]),
    )


def _level(c: Row) -> str:
    """red, amber or green; a row with an input problem is amber (unknown is not a pass)."""
    rules = _alert_rules(c)
    red = ",".join(cond for level, cond, _ in rules if level == "red")
    amber = ",".join(cond for level, cond, _ in rules if level == "amber")
    return f'IF(OR({red}),"red",IF(OR({amber}),"amber","green"))'


def _alert(c: Row) -> str:
    body = f'"{load_texts()["alerts"]["ok"]}"'
    for _, cond, text in reversed(_alert_rules(c)):
        body = f'IF({cond},"{text}",{body})'
    return body


def _worst_case_liquidated(c: Row) -> str:
    """1 when the worst stress scenario liquidates the row's account (Stress Grid, lead rows)."""
    k = f"ROW()-{POS_TABLE.first_row - 1}"
    flags = GRID.name_of("worst_liquidated")
    return (f'IF({c("margin_mode")}="cross",IF(SUMIFS({flags},{c.name("account")},'
            f'{c("account")},{c.name("margin_mode")},"cross")>0,1,0),INDEX({flags},{k}))')


def positions_fields(ctx: Context) -> dict[str, str]:
    return {"position_count": f"=COUNT({POS_TABLE.name_of('size')})"}


# --------------------------------------------------------------------------------------------
# Stress Test and its working grid

STRESS = layout.STRESS
SCEN = STRESS.table("scenarios")
GRID_SHEET = layout.STRESS_GRID
GRID = GRID_SHEET.table("grid")
MOVES = STRESS.table("moves")
BETAS = STRESS.table("betas")


def _scenario_cell(key: str, j: int) -> str:
    """Absolute address of scenario ``j``'s cell (1-based) on the Stress Test sheet."""
    return f"{STRESS.quoted()}!${SCEN.column_letter(key)}${SCEN.first_row + j - 1}"


def _grid_column(measure: str, j: int) -> str:
    letter = GRID.column_letter(f"{measure}_{j}")
    return f"{GRID_SHEET.quoted()}!${letter}${GRID.first_row}:${letter}${GRID.last_row}"


def grid_table(ctx: Context) -> dict[str, str]:
    c = Row(GRID)
    active = f'{_pos("size")}=""'
    per_row = {
        "active": f"IF({active},0,1)",
        "inverse": f'IF({active},0,IF({_pos("contract")}="inverse",1,0))',
        "sign": f'IF({active},0,IF({_pos("side")}="long",1,-1))',
        "size": f'N({_pos("size")})',
        "beta": (
            f'IF({active},0,IFERROR(VLOOKUP({_pos("asset")},{STRESS.quoted()}!'
            f'${BETAS.column_letter("asset")}${BETAS.first_row}:'
            f'${BETAS.column_letter("beta")}${BETAS.last_row},2,FALSE),Stress_DefaultBeta))'
        ),
        "entry_basis": f"IF({active},0,IF({_entry_basis(_pos('rule'))},1,0))",
        "lead": f'N({_pos("account_lead")})',
        "account_size": f'N({_pos("account_size")})',
        # Bybit charges the closing fee of an isolated position on its bankruptcy value.
        "fee_value": (
            f'IF(AND({_pos("size")}<>"",{_pos("margin_mode")}<>"cross",'
            f'{_any_of(_pos("rule"), layout.BANKRUPTCY_FEE_EXCHANGES)}),'
            f'MAX(0,({_pos("entry_notional")}-{_pos("sign")}*{_pos("collateral")})/'
            f'(1-{_pos("sign")}*N({_pos("fee_rate")}))),-1)'
        ),
        "wallet": f'N({_pos("collateral")})',
        "upnl_now": f'N({_pos("unrealized_pnl")})',
        "account_pnl": f'N({_pos("account_pnl")})',
        "mark": f'N({_pos("mark_price")})',
        # An account with an input problem (MMR missing, ...) has no known requirement: it is
        # counted apart, never stressed as zero maintenance (riskfuncs: positions_unknown).
        "unknown": f'IF({active},0,IF({_pos("problem")}<>"",1,0))',
        "worst_liquidated": _worst_liquidated(c),
    }
    out = {k: f"={v}" for k, v in per_row.items()}
    start, count = _pos("tier_start"), _pos("tier_count")
    pos_account, pos_mode = POS_TABLE.name_of("account"), POS_TABLE.name_of("margin_mode")
    for j in range(1, SCEN.rows + 1):
        name = _scenario_cell("name", j)
        skip = f'OR({c("active")}=0,{name}="")'
        asset = _pos("asset")
        listed = (f"COUNTIFS({MOVES.name_of('scenario')},{name},"
                  f"{MOVES.name_of('asset')},{asset})")
        explicit = (f"SUMIFS({MOVES.name_of('move')},{MOVES.name_of('scenario')},{name},"
                    f"{MOVES.name_of('asset')},{asset})")
        derived = (f"MIN(MAX({c('beta')}*{_scenario_cell('reference_move', j)},"
                   f"Stress_MoveFloor),Stress_MoveCap)")
        move = f"IF({listed}>0,{explicit},{derived})"
        price = c(f"price_{j}")
        entry = _pos("entry_price")
        at = f"IF({c('entry_basis')}=1,{entry},{price})"
        value = f"IF({c('inverse')}=1,{c('size')}/{at},{c('size')}*{at})"
        _, rate_k, amount_k = _tier_terms(value, start, count)
        rate_at = f"IF({count}=0,{_pos('base_rate')},{rate_k})"
        amount_at = (f"IF({count}=0,N({_pos('maintenance_amount')}),"
                     f"{_amount_kept(_pos('rule'))}*{amount_k})")
        cum = _scenario_cell("cumulative_rate", j)
        cut = (f'IF(UPPER({_pos("settle")})=UPPER({_scenario_cell("haircut_currency", j)}),'
               f'N({_scenario_cell("haircut", j)}),0)')
        cross = f'{_pos("margin_mode")}="cross"'
        out[f"price_{j}"] = f"=IF({skip},0,{_pos('mark_price')}*(1+{move}))"
        out[f"after_{j}"] = (
            f"=IF({skip},0,{c('sign')}*{c('size')}*IF({c('inverse')}=1,"
            f"1/{entry}-1/{price}-{cum}/{price},{price}-{entry}-{price}*{cum}))"
        )
        fee_base = f"IF({c('fee_value')}<0,{value},{c('fee_value')})"
        out[f"need_{j}"] = (
            f"=IF({skip},0,{value}*{rate_at}-{amount_at}+N({_pos('fee_rate')})*{fee_base})"
        )
        out[f"balance_{j}"] = (
            f"=IF(OR({c('lead')}=0,{name}=\"\"),0,{c('wallet')}*(1-{cut})+IF({cross},"
            f'SUMIFS({_grid_column("after", j)},{pos_account},{_pos("account")},'
            f'{pos_mode},"cross"),{c(f"after_{j}")}))'
        )
        out[f"requirement_{j}"] = (
            f"=IF(OR({c('lead')}=0,{name}=\"\"),0,IF({cross},"
            f'SUMIFS({_grid_column("need", j)},{pos_account},{_pos("account")},'
            f'{pos_mode},"cross"),{c(f"need_{j}")}))'
        )
    return out


def _worst_liquidated(c: Row) -> str:
    """Lead rows: 1 when the worst scenario's requirement reaches the account's balance."""
    j = f'MATCH(Stress_WorstScenario,{SCEN.name_of("label")},0)'

    def block(measure: str) -> str:
        first, last = (GRID.column_letter(f"{measure}_{k}") for k in (1, SCEN.rows))
        return f"${first}{{r}}:${last}{{r}}"

    return (f'IF(OR({c("lead")}=0,{c("unknown")}=1,Stress_WorstScenario=""),0,'
            f'IFERROR(IF(INDEX({block("requirement")},1,{j})>=INDEX({block("balance")},1,{j}),'
            f'1,0),0))')


def scenarios_table(ctx: Context) -> dict[str, str | list[str]]:
    c = Row(SCEN)
    columns: dict[str, list[str]] = {}
    g = GRID.name_of
    for j in range(1, SCEN.rows + 1):
        price, bal, req = (_grid_column(m, j) for m in ("price", "balance", "requirement"))
        after = _grid_column("after", j)
        quote = f"({g('inverse')}*{price}+1-{g('inverse')})"
        unknown = g("unknown")
        alive = f"(({req}<{bal})+{unknown}>0)"
        liquidated = f"({req}>={bal})*(1-{unknown})"
        body = {
            "cumulative_rate": f'N({c("funding_rate")})*N({c("funding_intervals")})',
            "reference_move": (
                f"SUMIFS({MOVES.name_of('move')},{MOVES.name_of('scenario')},{c('name')},"
                f"{MOVES.name_of('asset')},Stress_ReferenceAsset)"
            ),
            "pnl": f"SUMPRODUCT({after}-{g('upnl_now')},{quote})",
            "funding": (
                f"-{c('cumulative_rate')}*SUMPRODUCT({g('sign')},{g('size')}*"
                f"({g('inverse')}+(1-{g('inverse')})*{price}))"
            ),
            "haircut_loss": (
                f"N({c('haircut')})*SUMPRODUCT({g('lead')}*{g('wallet')}*"
                f"({POS_TABLE.name_of('settle')}=UPPER({c('haircut_currency')}))*{quote})"
            ),
            "equity_after": f"SUMPRODUCT({g('lead')}*{alive}*{bal}*{quote})",
            "default_loss": (
                f"N({c('default_lgd')})*SUMPRODUCT({g('lead')}*"
                f"({POS_TABLE.name_of('exchange')}={c('default_exchange')})*{alive}*"
                f"({bal}>0)*{bal}*{quote})"
            ),
            "equity_left": f"{c('equity_after')}-{c('default_loss')}",
            "loss": f"Stress_EquityBefore-{c('equity_left')}",
            "weighted_loss": f"IF({c('weight')}=\"\",1,{c('weight')})*{c('loss')}",
            "loss_fraction": (
                f'IF(Stress_EquityBefore=0,"n/a",{c("loss")}/Stress_EquityBefore)'
            ),
            "positions_liquidated": (
                f"SUMPRODUCT({g('lead')}*{liquidated}*{g('account_size')})"
            ),
            "accounts_liquidated": f"SUMPRODUCT({g('lead')}*{liquidated})",
            "positions_unknown": f"SUMPRODUCT({g('lead')}*{unknown}*{g('account_size')})",
            "shortfall": f"SUMPRODUCT({g('lead')}*({bal}<0)*(-{bal})*{quote})",
            "worst": f'IF({c("label")}=Stress_WorstScenario,"WORST","")',
            # The grid's short names (kept: addin.report finds SPAN rows by them) read better
            # with their description.
            "label": (
                f'IF(AND(LEFT({c("name")},{len(SPAN_PREFIX)})="{SPAN_PREFIX}",'
                f'{c("description")}<>""),{c("name")}&": "&{c("description")},{c("name")})'
            ),
        }
        row = SCEN.first_row + j - 1
        for key, text in body.items():
            formula = f'=IF({c("name")}="","",{text})'
            columns.setdefault(key, []).append(row_formula(formula, row))
    return dict(columns)


def stress_fields(ctx: Context) -> dict[str, str]:
    g = GRID.name_of
    match = (f"MATCH(MAX({SCEN.name_of('weighted_loss')}),"
             f"{SCEN.name_of('weighted_loss')},0)")

    def worst(key: str) -> str:
        # No positions, no worst case (every loss would be 0).
        return (f'=IF(COUNT({POS_TABLE.name_of("size")})=0,"",'
                f'IFERROR(INDEX({SCEN.name_of(key)},{match}),""))')

    return {
        "equity_before": (
            f"=SUMPRODUCT({g('lead')}*({g('wallet')}+{g('account_pnl')})*"
            f"({g('inverse')}*{g('mark')}+1-{g('inverse')}))"
        ),
        "worst_scenario": worst("label"),
        "worst_loss": worst("loss"),
        "worst_liquidated": worst("positions_liquidated"),
        "worst_equity_left": worst("equity_left"),
    }


# --------------------------------------------------------------------------------------------
# Volatility & VaR

VOL = layout.VOLATILITY
HIST = VOL.table("history")
PROB = VOL.table("probability")


def history_table(ctx: Context) -> dict[str, str]:
    c = Row(HIST)
    first_return = HIST.first_row + 1
    price, prev = c("price"), c.previous("price")
    valid = c("valid")
    return {
        "valid": f"=IF(AND(ISNUMBER({price}),ISNUMBER({prev})),1,0)",
        "return": (
            f'=IF({valid}=1,IF(Vol_ReturnKind="log",LN({price}/{prev}),{price}/{prev}-1),"")'
        ),
        "value": f"=IF({valid}=1,{c('return')},0)",
        # riskfuncs.volatility backcast: the first 75 squared returns weighted 0.94^i.
        "backcast_weight": (
            f"=IF(AND({valid}=1,{{r}}-{first_return}<75),0.94^({{r}}-{first_return}),0)"
        ),
        "ewma_variance": (
            f'=IF({valid}=0,"",IF({{r}}={first_return},Vol_Backcast,'
            f"Vol_Lambda*{c.previous('ewma_variance')}+(1-Vol_Lambda)*{c.previous('return')}^2))"
        ),
    }


def volatility_fields(ctx: Context) -> dict[str, str]:
    ret, value, valid = HIST.name_of("return"), HIST.name_of("value"), HIST.name_of("valid")
    n = "Vol_Observations"
    tail = f"({value}<=-Vol_HistoricalVar)*{valid}"
    return {
        "observations": f"=COUNT({ret})",
        "close_to_close": f'=IF({n}>1,_xlfn.STDEV.S({ret})*SQRT(Vol_PeriodsPerYear),"n/a")',
        "ewma_backcast": (
            f'=IF({n}=0,"n/a",SUMPRODUCT({HIST.name_of("backcast_weight")},{value}^2)/'
            f'SUM({HIST.name_of("backcast_weight")}))'
        ),
        "ewma_volatility": (
            f'=IF({n}=0,"n/a",SQRT((Vol_Lambda*INDEX({HIST.name_of("ewma_variance")},{n}+1)+'
            f'(1-Vol_Lambda)*INDEX({ret},{n}+1)^2)*Vol_PeriodsPerYear))'
        ),
        "historical_var": f'=IF({n}=0,"n/a",-_xlfn.PERCENTILE.INC({ret},1-Vol_Confidence))',
        "historical_es": (
            f'=IF({n}=0,"n/a",-SUMPRODUCT({tail},{value})/SUMPRODUCT({tail}))'
        ),
        "normal_var": (
            f'=IF({n}<2,"n/a",-(AVERAGE({ret})+_xlfn.NORM.S.INV(1-Vol_Confidence)*'
            f"_xlfn.STDEV.S({ret})))"
        ),
        "normal_es": (
            f'=IF({n}<2,"n/a",-AVERAGE({ret})+_xlfn.STDEV.S({ret})*'
            f"_xlfn.NORM.S.DIST(_xlfn.NORM.S.INV(Vol_Confidence),FALSE)/(1-Vol_Confidence))"
        ),
        "var_horizon": f'=IF({n}=0,"n/a",Vol_HistoricalVar*SQRT(Vol_Horizon))',
        "es_horizon": f'=IF({n}=0,"n/a",Vol_HistoricalEs*SQRT(Vol_Horizon))',
        # A cleared exposure cell is unknown, not zero: a VaR of 0 would read as safe.
        "var_usd": f'=IF(OR({n}=0,NOT(ISNUMBER(Vol_Exposure))),"n/a",Vol_Exposure*Vol_VarHorizon)',
        "es_usd": f'=IF(OR({n}=0,NOT(ISNUMBER(Vol_Exposure))),"n/a",Vol_Exposure*Vol_EsHorizon)',
    }


def probability_table(ctx: Context) -> dict[str, str]:
    c = Row(PROB)
    lp, mark, d = _pos("liquidation_price"), _pos("mark_price"), c("log_distance")
    side = f'IF({_pos("side")}="long",1,-1)'
    sigma = c("volatility_used")
    years = "(Vol_ProbabilityDays/365)"
    scale = f"({sigma}*SQRT({years}))"
    m = f"(-{side}*(Vol_Drift-{sigma}^2/2))"
    body = {
        "symbol": _pos("symbol"),
        "side": _pos("side"),
        "mark_price": mark,
        "liquidation_price": lp,
        "volatility_used": f'IF({c("volatility")}="",Vol_EwmaVolatility,{c("volatility")})',
        # A liquidation price of 0 (linear) or none (inverse) cannot be reached from one side
        # and is already passed from the other (a cross wallet below its requirement).
        "log_distance": (
            f'IF(AND(ISTEXT({lp}),{lp}<>"{NEVER}"),{lp},'
            f'IF({lp}="{NEVER}",IF({side}=1,"{REACHED}","{NEVER}"),'
            f'IF({lp}=0,IF({side}=1,"{NEVER}","{REACHED}"),'
            f"{side}*(LN({mark})-LN({lp})))))"
        ),
        # No price history and no override: no volatility, so "n/a" rather than #VALUE!.
        "distance_sigmas": (
            f'IF(ISTEXT({d}),{d},IF({d}=0,0,IF(ISNUMBER({sigma}),{d}/{scale},"n/a")))'
        ),
        "probability": (
            f'IF({d}="{NEVER}",0,IF({d}="{REACHED}",1,IF(ISTEXT({d}),{d},'
            f'IF(NOT(ISNUMBER({sigma})),"n/a",'
            f"MIN(1,MAX(0,"
            f"_xlfn.NORM.S.DIST((-{d}+{m}*{years})/{scale},TRUE)+EXP(2*{m}*{d}/{sigma}^2)*"
            f"_xlfn.NORM.S.DIST((-{d}-{m}*{years})/{scale},TRUE)))))))"
        ),
    }
    return {k: f'=IF({_pos("size")}="","",{v})' for k, v in body.items()}


# --------------------------------------------------------------------------------------------
# Prices & book VaR (riskfuncs.var.book_var)

PRICES = layout.PRICES
PX = PRICES.table("prices")
BOOK_ASSETS = PRICES.table("book_assets")
BOOK_POS = PRICES.table("book_positions")
ASSET_COLUMNS = tuple(range(1, layout.PRICE_ASSETS + 1))


def _asset_headers() -> str:
    """The price table's header cells, where the trader names each column's asset."""
    first, last = PX.column_letter("close_1"), PX.column_letter(f"close_{layout.PRICE_ASSETS}")
    return f"{PRICES.quoted()}!${first}${PX.header_row}:${last}${PX.header_row}"


def _close_rows(k: int, shift: int) -> str:
    """Closes of price column ``k`` on rows 2.. (``shift`` 1) or on the rows before (0)."""
    letter = PX.column_letter(f"close_{k}")
    first, last = PX.first_row + shift, PX.last_row - 1 + shift
    return f"{PRICES.quoted()}!${letter}${first}:${letter}${last}"


def _asset(key: str, k: int) -> str:
    return f"INDEX({BOOK_ASSETS.name_of(key)},{k})"


def prices_table(ctx: Context) -> dict[str, str]:
    c = Row(PX)
    f: dict[str, str] = {}
    for k in ASSET_COLUMNS:
        now, before = c(f"close_{k}"), c.previous(f"close_{k}")
        f[f"return_{k}"] = (
            f"=IF(AND(ISNUMBER({now}),ISNUMBER({before})),"
            f'IF(Vol_ReturnKind="log",LN({now}/{before}),{now}/{before}-1),"")'
        )
    valid = c("valid")
    # A date counts when every covered asset has a return on it (the joint history).
    joint = ",".join(f'OR({_asset("status", k)}<>"yes",ISNUMBER({c(f"return_{k}")}))'
                     for k in ASSET_COLUMNS)
    f["valid"] = f"=IF(AND(Book_AssetsCovered>0,{joint}),1,0)"
    terms = "+".join(
        f'IF({_asset("status", k)}="yes",{_asset("exposure", k)}*{c(f"return_{k}")},0)'
        for k in ASSET_COLUMNS)
    f["pnl"] = f'=IF({valid}=1,{terms},"")'
    f["pnl_value"] = f"=IF({valid}=1,{c('pnl')},0)"
    for k in ASSET_COLUMNS:
        f[f"joint_{k}"] = (
            f'=IF(AND({valid}=1,{_asset("status", k)}="yes"),{c(f"return_{k}")},"")'
        )
    return f


def book_assets_table(ctx: Context) -> dict[str, list[str]]:
    """One row per price column: row k reads the header and returns of column k."""
    headers = _asset_headers()
    horizon, conf = "SQRT(Vol_Horizon)", "Vol_Confidence"
    out: dict[str, list[str]] = {col.key: [] for col in BOOK_ASSETS.columns}
    for k in ASSET_COLUMNS:
        r = BOOK_ASSETS.first_row + k - 1
        asset, status, e = (f"{BOOK_ASSETS.column_letter(key)}{r}"
                            for key in ("asset", "status", "exposure"))
        joint = PX.name_of(f"joint_{k}")
        rows = {
            "asset": f'=IF(TRIM(INDEX({headers},1,{k}))="","",TRIM(INDEX({headers},1,{k})))',
            "status": (
                f'=IF({asset}="","",IF(IFERROR(MATCH({asset},{BOOK_ASSETS.name_of("asset")},0),{k})<{k},'
                f'"duplicate",'
                f'IF(COUNTIF({BOOK_POS.name_of("asset")},{asset})=0,"not held",'
                f'IF({BOOK_ASSETS.column_letter("returns")}{r}>=2,"yes","no history"))))'
            ),
            "exposure": (f'=IF({asset}="","",SUMIFS({BOOK_POS.name_of("exposure")},'
                         f'{BOOK_POS.name_of("asset")},{asset}))'),
            "gross": (f'=IF({asset}="","",SUMIFS({BOOK_POS.name_of("gross")},'
                      f'{BOOK_POS.name_of("asset")},{asset}))'),
            # Counted from the closes themselves (a close on the date and the day before),
            # not from the return column: LibreOffice's threaded calculation of formula
            # groups then never waits on a group through this cell.
            "returns": (
                f'=IF({asset}="","",SUMPRODUCT(ISNUMBER({_close_rows(k, 1)})*'
                f"ISNUMBER({_close_rows(k, 0)})))"
            ),
            "volatility": (f'=IF({status}<>"yes","",IF(Book_Observations<2,"n/a",'
                           f"_xlfn.STDEV.S({joint})))"),
            # Alone: the loss quantile of exposure x return; a short's is the upper tail.
            "historical_var": (
                f'=IF({status}<>"yes","",IF(Book_Observations=0,"n/a",'
                f"-{e}*_xlfn.PERCENTILE.INC({joint},IF({e}>=0,1-{conf},{conf}))*{horizon}))"
            ),
            "normal_var": (
                f'=IF({status}<>"yes","",IF(Book_Observations<2,"n/a",'
                f"-({e}*AVERAGE({joint})+_xlfn.NORM.S.INV(1-{conf})*ABS({e})*"
                f"_xlfn.STDEV.S({joint}))*{horizon}))"
            ),
        }
        for key, formula in rows.items():
            out[key].append(formula)
    return out


def book_positions_table(ctx: Context) -> dict[str, str]:
    c = Row(BOOK_POS)
    symbol, column = c("symbol"), c("column")
    body = {
        "symbol": _pos("symbol"),
        "asset": f'TRIM(LEFT({symbol},FIND("/",{symbol}&"/")-1))',
        "exposure": f'IF({_pos("side")}="short",-1,1)*{_pos("value_usd")}',
        "gross": f'ABS({c("exposure")})',
        "column": f'IFERROR(MATCH({c("asset")},{BOOK_ASSETS.name_of("asset")},0),"")',
        "covered": (f'IF({column}="","no history",'
                    f'IF(INDEX({BOOK_ASSETS.name_of("status")},{column})="yes","yes",'
                    f'"no history"))'),
    }
    return {k: f'=IF({_pos("size")}="","",{v})' for k, v in body.items()}


def prices_fields(ctx: Context) -> dict[str, str]:
    pnl, value, valid = PX.name_of("pnl"), PX.name_of("pnl_value"), PX.name_of("valid")
    n, conf, horizon = "Book_Observations", "Vol_Confidence", "SQRT(Vol_Horizon)"
    tail = f"({value}<=_xlfn.PERCENTILE.INC({pnl},1-{conf}))*{valid}"
    gross, covered = BOOK_POS.name_of("gross"), BOOK_POS.name_of("covered")
    return {
        "assets_covered": f'=COUNTIF({BOOK_ASSETS.name_of("status")},"yes")',
        "observations": f"=SUM({valid})",
        "book_value": f"=SUM({gross})",
        "covered_value": f'=SUMIFS({gross},{covered},"yes")',
        "coverage": '=IF(Book_GrossValue>0,Book_CoveredValue/Book_GrossValue,"n/a")',
        "not_covered": f'=COUNTIF({covered},"no history")',
        "historical_var": (
            f'=IF({n}=0,"n/a",-_xlfn.PERCENTILE.INC({pnl},1-{conf})*{horizon})'
        ),
        "historical_es": (
            f'=IF({n}=0,"n/a",-SUMPRODUCT({tail},{value})/SUMPRODUCT({tail})*{horizon})'
        ),
        "normal_var": (
            f'=IF({n}<2,"n/a",-(AVERAGE({pnl})+_xlfn.NORM.S.INV(1-{conf})*'
            f"_xlfn.STDEV.S({pnl}))*{horizon})"
        ),
        "normal_es": (
            f'=IF({n}<2,"n/a",(-AVERAGE({pnl})+_xlfn.STDEV.S({pnl})*'
            f"_xlfn.NORM.S.DIST(_xlfn.NORM.S.INV({conf}),FALSE)/(1-{conf}))*{horizon})"
        ),
    }


# --------------------------------------------------------------------------------------------
# Exchange Scorecard

SCORE = layout.SCORECARD
EXCH = SCORE.table("exchanges")
WEIGHTS = SCORE.table("weights")
GRADES = SCORE.table("grades")


def exchanges_table(ctx: Context) -> dict[str, str]:
    c = Row(EXCH)

    def sub_score(factor: str) -> str:
        # A failed proof of reserves counts 0, whatever the sub-score typed beside it.
        if factor == "proof_of_reserves":
            return f'IF({c("proof_of_reserves_checked")}="failed",0,N({c(factor)}))'
        return f"N({c(factor)})"

    weighted = "+".join(
        f'{sub_score(f)}*SUMIF({WEIGHTS.name_of("factor")},"{f}",{WEIGHTS.name_of("normalised")})'
        for f in layout.FACTORS
    )
    band = (f"1+SUMPRODUCT(({GRADES.name_of('min_score')}>{c('score')})*"
            f"({GRADES.name_of('grade')}<>\"\"))")
    body = {
        "score": f"100*({weighted})",
        "grade": f"INDEX({GRADES.name_of('grade')},{band})",
        "probability_of_default": f"INDEX({GRADES.name_of('probability_of_default')},{band})",
        "probability_over_horizon": (
            f"1-(1-{c('probability_of_default')})^Score_HorizonYears"
        ),
        "exposure": (
            f"SUMIFS({POS_TABLE.name_of('exposure_usd')},{POS_TABLE.name_of('exchange')},"
            f"{c('exchange')})"
        ),
        "share": f'IF(Score_TotalExposure>0,{c("exposure")}/Score_TotalExposure,"")',
        "expected_loss": (
            f"{c('exposure')}*{c('probability_over_horizon')}*N({c('loss_given_default')})"
        ),
    }
    return {k: f'=IF({c("exchange")}="","",{v})' for k, v in body.items()}


def weights_table(ctx: Context) -> dict[str, str]:
    c = Row(WEIGHTS)
    return {"normalised": f'=IF({c("factor")}="","",N({c("weight")})/'
                          f'SUM({WEIGHTS.name_of("weight")}))'}


def scorecard_fields(ctx: Context) -> dict[str, str]:
    exposure, venue = POS_TABLE.name_of("exposure_usd"), POS_TABLE.name_of("venue_exposure")
    return {
        "total_exposure": f"=SUM({POS_TABLE.name_of('exposure_usd')})",
        "expected_loss": f"=SUM({EXCH.name_of('expected_loss')})",
        # Over every venue held, listed on the scorecard or not (the shares are of all
        # exposure): sum over venues of E_v^2 = sum over rows of e_i * E_venue(i).
        "hhi": (f'=IF(N(Score_TotalExposure)>0,SUMPRODUCT({exposure},{venue})/'
                'Score_TotalExposure^2,"n/a")'),
        "effective_venues": '=IF(ISNUMBER(Score_Hhi),1/Score_Hhi,"n/a")',
        "largest_share": (f'=IF(N(Score_TotalExposure)>0,MAX({venue})/Score_TotalExposure,'
                          '"n/a")'),
        "proofs_failed": f'=COUNTIF({EXCH.name_of("proof_of_reserves_checked")},"failed")',
    }


# --------------------------------------------------------------------------------------------
# Funding

FUND = layout.FUNDING
FLOG = FUND.table("log")
FLIQ = FUND.table("after")


def _selected(key: str) -> str:
    return f"INDEX({POS_TABLE.name_of(key)},Fund_PositionRow)"


def funding_log_table(ctx: Context) -> dict[str, str]:
    c = Row(FLOG)
    rate, mark = c("rate"), c("mark_price")
    both = f"AND(ISNUMBER({rate}),ISNUMBER({mark}))"
    side = f'IF({_selected("side")}="long",1,-1)'
    value = (f'IF({_selected("contract")}="inverse",{_selected("size")}/{mark},'
             f'{_selected("size")}*{mark})')
    first = f"{FLOG.column_letter('payment')}${FLOG.first_row}"
    return {
        "linear_unit": f"=IF({both},{mark}*{rate},0)",
        "inverse_unit": f"=IF({both},{rate}/{mark},0)",
        "payment": f'=IF(OR(NOT({both}),{_selected("size")}=""),"",-{side}*{value}*{rate})',
        "cumulative": f'=IF({c("payment")}="","",SUM({first}:{c("payment")}))',
    }


def funding_fields(ctx: Context) -> dict[str, str]:
    rate = FLOG.name_of("rate")
    return {
        "intervals": f"=COUNT({rate})",
        "average_rate": f'=IF(Fund_Intervals=0,"n/a",AVERAGE({rate}))',
        "annualised_rate": '=IF(Fund_Intervals=0,"n/a",Fund_AverageRate*Fund_IntervalsPerYear)',
        "total_payment": f"=SUM({FLOG.name_of('payment')})",
    }


def funding_after_table(ctx: Context) -> dict[str, str]:
    c = Row(FLIQ)
    side = f'IF({_pos("side")}="long",1,-1)'
    per_unit = (f'IF({_pos("contract")}="inverse",SUM({FLOG.name_of("inverse_unit")}),'
                f'SUM({FLOG.name_of("linear_unit")}))')
    body = {
        "symbol": _pos("symbol"),
        "side": _pos("side"),
        "paid": f'-{side}*{_pos("size")}*{per_unit}',
        "collateral_after": f'MAX({_pos("collateral")}+{c("paid")},0)',
        "liquidation_price_now": _pos("liquidation_price"),
        "effective_balance": c("collateral_after"),
    }
    body.update(_solver(_pos, c, f'N({_pos("fee_rate")})'))
    # A row whose maintenance cannot be known shows its problem, never a price from zero.
    body["liquidation_price"] = (f'IF({_pos("problem")}<>"",{_pos("problem")},'
                                 f'{body["liquidation_price"]})')
    skip = f'OR({_pos("size")}="",{_pos("symbol")}<>Fund_Symbol)'
    return {k: f'=IF({skip},"",{v})' for k, v in body.items()}


# --------------------------------------------------------------------------------------------
# Risk Audit

AUDIT = layout.AUDIT
CHECKS = AUDIT.table("checks")


def _computed_checks(ctx: Context) -> dict[str, tuple[str, str]]:
    """check id -> (status formula, evidence formula), for the checks this workbook can compute."""
    p = POS_TABLE.name_of
    n = f"COUNT({p('size')})"
    red = (f'(COUNTIF({p("distance_to_liquidation")},"<"&Set_AlertDistance)+'
           f'COUNTIF({p("distance_to_liquidation")},"{REACHED}"))')
    checks = {
        "leverage": (
            f'IF({n}=0,"N/A",IF(COUNTIF({p("effective_leverage")},">"&Set_LeverageCap)+'
            f'COUNTIF({p("effective_leverage")},"no balance")=0,"PASS","FAIL"))',
            f'IF({n}=0,"","highest "&TEXT(MAX({p("effective_leverage")}),"0.0")&"x, cap "&'
            f'Set_LeverageCap&"x")',
        ),
        # Never a pass for a position red on distance (a 45x position sits 340% above its
        # maintenance 1.7% from liquidation) nor for one whose maintenance is unknown.
        "buffer": (
            f'IF({n}=0,"N/A",IF(COUNTIF({p("margin_buffer")},"<"&Set_BufferRule)+{red}+'
            f'SUM({p("problem_flag")})=0,"PASS","FAIL"))',
            f'IF({n}=0,"",COUNTIF({p("margin_buffer")},"<"&Set_BufferRule)&'
            f'" position(s) below "&TEXT(Set_BufferRule,"0%")&IF({red}>0,", "&{red}&'
            f'" red on distance",""))',
        ),
        "distance": (
            f'IF({n}=0,"N/A",IF(COUNTIF({p("distance_to_liquidation")},"<"&Set_AlertDistance)'
            f'+COUNTIF({p("distance_to_liquidation")},"{REACHED}")=0,"PASS","FAIL"))',
            f'IF({n}=0,"","closest "&TEXT(MIN({p("distance_to_liquidation")}),"0.0%"))',
        ),
        "stops": (
            f'IF({n}=0,"N/A",IF(COUNTIF({p("stop_check")},"ok")={n},"PASS","FAIL"))',
            f'IF({n}=0,"",COUNTIF({p("stop_check")},"missing")&" missing, "&'
            f'COUNTIF({p("stop_check")},"beyond")&" past the liquidation price, "&'
            f'COUNTIF({p("stop_check")},"wrong side")&" on the wrong side of the mark")',
        ),
        "alerts": (
            f'IF({n}=0,"N/A",IF(COUNTIF({p("level")},"green")={n},"PASS","FAIL"))',
            f'IF({n}=0,"",COUNTIF({p("level")},"red")&" red, "&COUNTIF({p("level")},"amber")&'
            f'" amber")',
        ),
    }
    if ctx.has("stress"):
        checks["stress"] = (
            'IF(Stress_WorstScenario="","N/A",IF(Stress_WorstLiquidated=0,"PASS","FAIL"))',
            'IF(Stress_WorstScenario="","",Stress_WorstScenario&": "&Stress_WorstLiquidated&'
            '" liquidated, loss "&TEXT(Stress_WorstLoss,"#,##0"))',
        )
    if ctx.has("scorecard"):
        checks["spread"] = (
            'IF(NOT(ISNUMBER(Score_LargestShare)),"N/A",'
            f'IF(AND(Score_LargestShare<=Score_MaxShare,COUNTIF({EXCH.name_of("exposure")},">0")'
            '>=Score_MinVenues),"PASS","FAIL"))',
            'IF(NOT(ISNUMBER(Score_LargestShare)),"","largest share "&'
            'TEXT(Score_LargestShare,"0%")&", "&TEXT(Score_EffectiveVenues,"0.0")&" venues")',
        )
        checks["scores"] = (
            f'IF(COUNT({EXCH.name_of("score")})=0,"N/A",IF(COUNTIFS({EXCH.name_of("exposure")},'
            f'">0",{EXCH.name_of("score")},"<"&Score_MinScore)=0,"PASS","FAIL"))',
            f'IF(COUNT({EXCH.name_of("score")})=0,"",COUNTIFS({EXCH.name_of("exposure")},">0",'
            f'{EXCH.name_of("score")},"<"&Score_MinScore)&" exchange(s) with exposure score '
            f'below "&Score_MinScore)',
        )
    if ctx.has("volatility"):
        checks["freshness"] = (
            f'IF(OR(Audit_Date="",COUNT({HIST.name_of("date")})=0),"N/A",'
            f'IF(Audit_Date-MAX({HIST.name_of("date")})<=Audit_MaxDataAge,"PASS","FAIL"))',
            f'IF(COUNT({HIST.name_of("date")})=0,"","last price "&'
            f'TEXT(MAX({HIST.name_of("date")}),"yyyy-mm-dd"))',
        )
    return checks


def checks_table(ctx: Context) -> dict[str, str | list[str]]:
    items = load_texts()["audit"]
    computed = _computed_checks(ctx)
    c = Row(CHECKS)
    columns: dict[str, list[str]] = {k: [] for k in ("item", "how", "computed", "status",
                                                     "evidence")}
    for i in range(CHECKS.rows):
        row = CHECKS.first_row + i
        item = items[i] if i < len(items) else None
        known = item is not None and item["id"] in computed
        columns["item"].append(item["text"] if item else "")
        columns["how"].append(("computed" if known else "you tick") if item else "")
        status, evidence = computed[item["id"]] if known and item else ('""', '""')
        columns["computed"].append(f"={status}" if known else "")
        columns["evidence"].append(f"={evidence}" if known else "")
        answer, comp = c("answer"), c("computed")
        columns["status"].append(row_formula(
            f'=IF({c("item")}="","",IF({comp}<>"",{comp},IF({answer}="yes","PASS",'
            f'IF({answer}="no","FAIL",IF({answer}="n/a","N/A","OPEN")))))', row))
    return dict(columns)


def audit_fields(ctx: Context) -> dict[str, str]:
    status = CHECKS.name_of("status")
    return {
        "passed": f'=COUNTIF({status},"PASS")',
        "failed": f'=COUNTIF({status},"FAIL")',
        "open": f'=COUNTIF({status},"OPEN")',
    }


# --------------------------------------------------------------------------------------------
# Dashboard

NEAR = layout.DASHBOARD.table("closest")


def dashboard_fields(ctx: Context) -> dict[str, str]:
    p = POS_TABLE.name_of
    return {
        "positions": f"=COUNT({p('size')})",
        "gross_value": f"=SUM({p('value_usd')})",
        "equity": "=Stress_EquityBefore",
        "min_distance": (
            f'=IF(COUNT({p("distance_to_liquidation")})=0,"n/a",'
            f'MIN({p("distance_to_liquidation")}))'
        ),
        "red": f'=COUNTIF({p("level")},"red")',
        "amber": f'=COUNTIF({p("level")},"amber")',
        "worst_scenario": "=Stress_WorstScenario",
        "worst_loss": "=Stress_WorstLoss",
        "worst_liquidated": "=Stress_WorstLiquidated",
        # The book's (every asset with a price history on Prices), not one asset's.
        "var_usd": "=Book_HistoricalVar",
        "es_usd": "=Book_HistoricalEs",
        "var_coverage": "=Book_Coverage",
        "max_probability": (
            f'=IF(COUNT({PROB.name_of("probability")})=0,"n/a",'
            f'MAX({PROB.name_of("probability")}))'
        ),
        "expected_loss": "=Score_ExpectedLoss",
        "effective_venues": "=Score_EffectiveVenues",
        "audit": '=Audit_Passed&" passed, "&Audit_Failed&" failed, "&Audit_Open&" to tick"',
    }


def closest_table(ctx: Context) -> dict[str, str]:
    """The positions nearest to liquidation, nearest first, through Pos_ClosenessRank."""
    c = Row(NEAR)
    p = POS_TABLE.name_of
    # The k-th row of the table, from the row number alone: ROWS() over a range ending in
    # this very cell read as a cycle to an engine that follows references literally.
    k = f"(ROW()-{NEAR.first_row - 1})"
    row = c("row")
    return {
        "row": f'=IF({k}>COUNT({p("closeness_rank")}),"",MATCH({k},{p("closeness_rank")},0))',
        "position": (
            f'=IF({row}="","",INDEX({p("symbol")},{row})&" "&INDEX({p("side")},{row})&" "&'
            f'INDEX({p("exchange")},{row}))'
        ),
        "distance": f'=IF({row}="","",INDEX({p("closeness")},{row}))',
        "alert": f'=IF({row}="","",INDEX({p("alert")},{row}))',
        "level": f'=IF({row}="","",INDEX({p("level")},{row}))',
        # One column per level, #N/A elsewhere: a chart draws no bar for #N/A.
        **{f"{level}_distance": (f'=IF(AND({c("level")}="{level}",ISNUMBER({c("distance")})),'
                                 f'{c("distance")},NA())')
           for level in layout.LEVEL_COLOURS},
    }


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
# Accounts (riskfuncs.accounts.account_margin): unified accounts of cross positions

ACC = layout.ACCOUNTS
UA = ACC.table("unified_accounts")
BAL = ACC.table("balances")
HC = ACC.table("haircuts")
ACP = ACC.table("account_positions")
#: riskfuncs.accounts' ratio conventions, numbered for the formulas.
_CONVENTIONS = {"requirement/equity": 1, "equity/requirement": 2, "equity-requirement": 3}


def _mode_value(mode: str, values: list[str]) -> str:
    """One value per account mode (riskfuncs.accounts.MODES order), picked by the mode cell."""
    return f'INDEX({{{",".join(values)}}},MATCH({mode},{{{_list(layout.ACCOUNT_MODES)}}},0))'


def _keeps_amounts(mode: object) -> bool:
    """Whether the mode's venue deducts a tier's maintenance amount (OKX: the whole position
    at its tier's rate), as riskfuncs.accounts reads its rule."""
    rule = EXCHANGE_RULES.get(str(getattr(mode, "rule", "generic")))
    return rule is None or rule.tier_amounts


def _mode_of(mode: str) -> dict[str, str]:
    modes = [ACCOUNT_MODE_TABLE[m] for m in layout.ACCOUNT_MODES]
    return {
        "k": _mode_value(mode, [repr(m.requirement_share) for m in modes]),
        "trigger": _mode_value(mode, [repr(m.trigger) for m in modes]),
        "convention": _mode_value(mode, [str(_CONVENTIONS[m.convention]) for m in modes]),
        "fees": _mode_value(mode, ["1" if m.fees_in_requirement else "0" for m in modes]),
        "haircuts": _mode_value(mode, ["1" if m.haircuts else "0" for m in modes]),
        "keep": _mode_value(mode, ["1" if _keeps_amounts(m) else "0" for m in modes]),
        "name": _mode_value(mode, [f'"{m.ratio_name}"' for m in modes]),
    }


def _tiered(x: str, start: str, count: str) -> str:
    """Sum over a haircut table's tiers of ratio x the slice of ``x`` (>= 0) in the tier; past
    a finite last cap the excess counts 0 (riskfuncs.accounts._weighted_value)."""
    lo, hi = _slice(HC.name_of("min_amount"), start, count), \
        _slice(HC.name_of("max_amount"), start, count)
    ratio = _slice(HC.name_of("ratio"), start, count)
    return f'SUMPRODUCT({ratio}*({x}>{lo})*(({x}-{lo})-({hi}<>"")*({x}>{hi})*({x}-{hi})))'


def _ratio_at(x: str, start: str, count: str) -> str:
    """The ratio of the tier ``x`` is in (0 past a finite last cap)."""
    lo, hi = _slice(HC.name_of("min_amount"), start, count), \
        _slice(HC.name_of("max_amount"), start, count)
    ratio = _slice(HC.name_of("ratio"), start, count)
    return f'SUMPRODUCT({ratio}*({x}>={lo})*((({hi}="")+({x}<{hi}))>0))'


def _haircut_value(h: str, rate: str, start: str, count: str, usd: str) -> str:
    """riskfuncs.accounts.collateral_value of ``h`` coins at ``rate`` USD each: each slice at
    its tier's ratio, slices of coins held (``usd`` 0) or of their USD value (``usd`` 1); a
    negative amount (borrowing) in full."""
    return (f'IF({h}<0,{h}*{rate},IF({count}=0,{h}*{rate},IF({usd}=1,'
            f'{_tiered(f"({h})*({rate})", start, count)},'
            f'{rate}*{_tiered(h, start, count)})))')


def _haircut_d_amount(h: str, rate: str, start: str, count: str, usd: str) -> str:
    """d value / d coins at ``h``: the rate x the ratio of the tier ``h`` is in."""
    return (f'{rate}*IF({h}<0,1,IF({count}=0,1,IF({usd}=1,'
            f'{_ratio_at(f"({h})*({rate})", start, count)},{_ratio_at(h, start, count)})))')


def _haircut_d_rate(h: str, rate: str, start: str, count: str, usd: str) -> str:
    """d value / d rate at ``h`` coins."""
    return (f'IF({h}<0,{h},IF({count}=0,{h},IF({usd}=1,'
            f'{h}*{_ratio_at(f"({h})*({rate})", start, count)},{_tiered(h, start, count)})))')


def _haircut_broken(name: str) -> str:
    """TRUE when a haircut table is not as riskfuncs.accounts accepts it: its rows together,
    the first from 0, each tier starting where the one above ends, every ratio in [0, 1], one
    unit (coin or usd) for every tier."""
    start = f"MATCH({name},{HC.name_of('table')},0)"
    count = f"COUNTIF({HC.name_of('table')},{name})"
    low, high = HC.name_of("min_amount"), HC.name_of("max_amount")
    ratio = _slice(HC.name_of("ratio"), start, count)
    unit = _slice(HC.name_of("unit"), start, count)
    gaps = (f"SUMPRODUCT(--(INDEX({high},{start}):INDEX({high},{start}+{count}-2)"
            f"<>INDEX({low},{start}+1):INDEX({low},{start}+{count}-1)))")
    return (f'OR(SUMPRODUCT(--({_slice(HC.name_of("table"), start, count)}<>{name}))>0,'
            f'N(INDEX({low},{start}))<>0,'
            f'SUMPRODUCT(--(NOT(ISNUMBER({ratio}))))>0,'
            f'SUMPRODUCT(({ratio}<0)+({ratio}>1))>0,'
            f'SUMPRODUCT(({unit}<>"")*({unit}<>"coin")*({unit}<>"usd"))>0,'
            f'AND(COUNTIF({unit},"usd")>0,COUNTIF({unit},"usd")<{count}),'
            f'IF({count}>1,{gaps}>0,FALSE))')


def _in_accounts(exchange: str, key: str) -> str:
    """A cell of the Accounts table row of an exchange."""
    return f"INDEX({UA.name_of(key)},MATCH({exchange},{UA.name_of('exchange')},0))"


def _coin(cell: str) -> str:
    """A coin as riskfuncs.venues.coin_name spells it (BitMEX's XBT is BTC)."""
    for alias, coin in COIN_ALIASES.items():
        cell = f'IF({cell}="{alias}","{coin}",{cell})'
    return cell


def _is_usd(cell: str) -> str:
    """TRUE for a coin riskfuncs.accounts takes at 1 USD unless priced."""
    return "OR(" + ",".join(f'{cell}="{u}"' for u in USD_COINS) + ")"


def unified_accounts_table(ctx: Context) -> dict[str, str]:
    c = Row(UA)
    e, mode = c("exchange"), c("mode")
    m = _mode_of(mode)
    pos = POS_TABLE.name_of
    acp = ACP.name_of
    equity, req, problem = c("equity"), c("requirement"), c("problem")
    covered = f'ISNUMBER(MATCH({mode},{{{_list(layout.ACCOUNT_MODES_COVERED)}}},0))'
    cross = f'{pos("exchange")},{e},{pos("margin_mode")},"cross"'
    f = {
        "positions": f'COUNTIFS({acp("exchange")},{e})',
        "problem": (
            f'IF(COUNTIF({c.name("exchange")},{e})>1,"{layout.PROBLEM_EXCHANGE_TWICE}",'
            f'IF({mode}="","{layout.PROBLEM_MODE_MISSING}",'
            f'IF(NOT({covered}),"{layout.PROBLEM_MODE_NOT_COVERED}",'
            f'IF({c("positions")}=0,"{layout.PROBLEM_NO_POSITIONS}",'
            f'IF(COUNTIFS({cross},{pos("contract")},"inverse")>0,"{layout.PROBLEM_INVERSE}",'
            f'IF(SUMIFS({pos("problem_flag")},{cross})>0,"{layout.PROBLEM_ACCOUNT}",'
            f'IF(COUNTIFS({BAL.name_of("exchange")},{e},{BAL.name_of("problem")},"?*")>0,'
            f'"{layout.PROBLEM_BALANCES}",'
            f'IF(COUNTIFS({acp("exchange")},{e},{acp("unlisted_pnl")},'
            f'"{layout.PROBLEM_PRICE_MISSING}")>0,"{layout.PROBLEM_PRICE_MISSING}",""))))))))'
        ),
        "ratio_name": m["name"],
        "equity": (f'SUMIFS({BAL.name_of("value")},{BAL.name_of("exchange")},{e})'
                   f'+SUMIFS({acp("unlisted_pnl")},{acp("exchange")},{e})'),
        "requirement": (f'SUMIFS({acp("maintenance")},{acp("exchange")},{e})'
                        f'+SUMIFS({acp("liquidation_fee")},{acp("exchange")},{e})'),
        "ratio": (
            f'IF({m["convention"]}=1,IF({equity}>0,{req}/{equity},"no equity"),'
            f'IF({m["convention"]}=2,IF({req}>0,{equity}/{req},"no requirement"),'
            f'{equity}-{req}))'
        ),
        "trigger": m["trigger"],
        "use": f'IF({equity}>0,{m["k"]}*{req}/{equity},"no equity")',
        "margin_left": f'{equity}-{m["k"]}*{req}',
        "liquidated": (
            f'IF({m["convention"]}=1,IF({equity}<=0,"yes",IF({req}/{equity}>={c("trigger")},'
            f'"yes","no")),IF({m["convention"]}=2,IF({req}<=0,"no",IF({equity}/{req}<='
            f'{c("trigger")},"yes","no")),IF({equity}-{req}<=0,"yes","no")))'
        ),
        "level": (
            f'IF({c("liquidated")}="yes","red",IF(NOT(ISNUMBER({c("use")})),"red",'
            f'IF({c("use")}>={layout.ACCOUNT_USE_RED},"red",'
            f'IF({c("use")}>={layout.ACCOUNT_USE_AMBER},"amber","green"))))'
        ),
    }
    for key in ("ratio_name", "equity", "requirement", "ratio", "trigger", "use",
                "margin_left", "liquidated"):
        f[key] = f'IF({problem}<>"",{problem},{f[key]})'
    f["level"] = f'IF({problem}<>"","amber",{f["level"]})'
    return {key: f'=IF({e}="","",{body})' for key, body in f.items()}


def _never_or(last: str, before: str, slope: str) -> str:
    """The last Newton price: never (0 or a flat margin left), the price once it repeats, or
    NOT SOLVED while it still moves."""
    return (f'IF(OR({last}=0,{slope}=0),"{NEVER}",IF(ABS({last}-{before})<=1E-12*{last},'
            f'{last},"{layout.PROBLEM_NOT_SOLVED}"))')


def balances_table(ctx: Context) -> dict[str, str]:
    """Per coin of a listed account: its equity in the coin (wallet + PnL of the positions
    settled in it), its USD value after the haircut at the index price (Binance Multi-Assets:
    the bid rate, the ask rate when negative), and the price of the coin that liquidates the
    account. A coin no position trades: with P its price, the account's margin left is
    ``other + V(P) - k x R_c x P`` (``V`` the coin's value after the haircut, ``R_c`` the USD
    requirement per unit of price of the positions settled in it), concave and piecewise
    linear in P, solved by Newton's steps as on the positions table (one step when linear)."""
    c = Row(BAL)
    e, coin, table = c("exchange"), c("coin"), c("haircut_table")
    coin_key = c("coin_used")
    usd = _is_usd(coin_key)
    mode = _in_accounts(e, "mode")
    bid, ask = c("bid_buffer"), c("ask_buffer")
    problem = c("problem")
    traded_row = f'MATCH({e}&"|"&{coin_key},{ACP.name_of("key")},0)'
    quote = f'INDEX({ACP.name_of("settle")},{traded_row})'
    quote_given = (f'COUNTIFS({c.name("exchange")},{e},{c.name("coin_used")},{quote},'
                   f'{c.name("price")},"<>")')
    quote_usd = _is_usd(quote)
    quote_price = (f'IF({quote_given}>0,SUMIFS({c.name("price")},{c.name("exchange")},{e},'
                   f'{c.name("coin_used")},{quote}),IF({quote_usd},1,NA()))')
    bad_bid = f'AND({bid}<>"",OR(NOT(ISNUMBER({bid})),N({bid})<0,N({bid})>=1))'
    bad_ask = f'AND({ask}<>"",OR(NOT(ISNUMBER({ask})),N({ask})<0))'
    f = {
        "coin_used": _coin(f"UPPER(TRIM({coin}))"),
        "problem": (
            f'IF(ISNA(MATCH({e},{UA.name_of("exchange")},0)),'
            f'"{layout.PROBLEM_ACCOUNT_NOT_LISTED}",'
            f'IF(NOT(ISNUMBER({c("amount")})),"{layout.PROBLEM_AMOUNT_MISSING}",'
            f'IF(ISTEXT({c("price_used")}),"{layout.PROBLEM_PRICE_MISSING}",'
            f'IF(AND(OR({bid}<>"",{ask}<>""),{mode}<>"{layout.CONVERSION_MODE}"),'
            f'"{layout.PROBLEM_BUFFER_MODE}",'
            f'IF(OR({bad_bid},{bad_ask}),"{layout.PROBLEM_BUFFER_RANGE}",'
            f'IF(AND({table}<>"",COUNTIF({HC.name_of("table")},{table})=0),'
            f'"{layout.PROBLEM_HAIRCUT_MISSING}",'
            f'IF(IF({table}="",FALSE,{_haircut_broken(table)}),"{layout.PROBLEM_HAIRCUT_BROKEN}",'
            f'IF(COUNTIFS({c.name("exchange")},{e},{c.name("coin_used")},{coin_key})>1,'
            f'"{layout.PROBLEM_COIN_TWICE}",""))))))))'
        ),
        # riskfuncs: the price given, USD coins 1, else a position's mark on the coin times
        # the USD price of the coin it is quoted in (its price given, or 1 for a USD coin).
        "price_used": (
            f'IF({c("price")}<>"",{c("price")},IF({usd},1,'
            f'IFERROR(INDEX({ACP.name_of("mark_price")},{traded_row})*{quote_price},'
            f'"{layout.PROBLEM_PRICE_MISSING}")))'
        ),
        "pnl": (f'SUMIFS({ACP.name_of("pnl")},{ACP.name_of("exchange")},{e},'
                f'{ACP.name_of("settle")},{coin_key})'),
        "equity": f'{c("amount")}+{c("pnl")}',
        "factor": f'IF({c("equity")}<0,1+N({ask}),1-N({bid}))',
        "hc_count": (f'IF(OR({table}="",{_mode_of(mode)["haircuts"]}<>1),0,'
                     f'COUNTIF({HC.name_of("table")},{table}))'),
        "hc_start": f'IF({c("hc_count")}=0,0,MATCH({table},{HC.name_of("table")},0))',
        "hc_usd": (f'IF({c("hc_count")}=0,0,IF(INDEX({HC.name_of("unit")},{c("hc_start")})'
                   f'="usd",1,0))'),
    }
    hc = (c("hc_start"), c("hc_count"), c("hc_usd"))
    f["value"] = _haircut_value(c("equity"), f'{c("price_used")}*{c("factor")}', *hc)
    # The coin's price that liquidates the account (Newton's steps from its price).
    k = _mode_of(mode)["k"]
    acp_usd = (f'SUMIFS({ACP.name_of("maintenance")},{ACP.name_of("exchange")},{e},'
               f'{ACP.name_of("settle")},{coin_key})+SUMIFS({ACP.name_of("liquidation_fee")},'
               f'{ACP.name_of("exchange")},{e},{ACP.name_of("settle")},{coin_key})')
    f["coin_requirement"] = f'({acp_usd})/{c("price_used")}'
    f["other"] = (f'{_in_accounts(e, "equity")}-{c("value")}-{k}*'
                  f'({_in_accounts(e, "requirement")}-{c("coin_requirement")}*{c("price_used")})')

    def margin_left(n: int) -> tuple[str, str]:
        p = c(f"p_{n}")
        rate = f'{p}*{c("factor")}'
        value = _haircut_value(c("equity"), rate, *hc)
        slope = f'{c("factor")}*{_haircut_d_rate(c("equity"), rate, *hc)}'
        return (f'{c("other")}+{value}-{k}*{c("coin_requirement")}*{p}',
                f'{slope}-{k}*{c("coin_requirement")}')

    steps = layout.ACCOUNT_STEPS
    f["p_0"] = c("price_used")
    for n in range(steps):
        fn, dn = margin_left(n)
        p = c(f"p_{n}")
        f[f"p_{n + 1}"] = f"IF({dn}=0,{p},MAX(0,{p}-({fn})/({dn})))"
    _, d_last = margin_left(steps)
    pair = f'{e}&"|"&{coin_key}'
    account_problem = _in_accounts(e, "problem")
    # A traded coin: its first position's mark there, in USD.
    first = f'MATCH({pair},{ACP.name_of("key")},0)'
    traded = f'INDEX({ACP.name_of("liquidation_price")},{first})'
    f["liquidation_price"] = (
        f'IF({account_problem}<>"",{account_problem},'
        f'IF(COUNTIF({ACP.name_of("key")},{pair})>0,'
        f'IF(ISNUMBER({traded}),{traded}*INDEX({ACP.name_of("usd_per_mark")},{first}),'
        f'{traded}),{_never_or(c(f"p_{steps}"), c(f"p_{steps - 1}"), d_last)}))'
    )
    for key in ("pnl", "equity", "value", "liquidation_price"):
        f[key] = f'IF({problem}<>"",{problem},{f[key]})'
    # The working columns wait for a clean row and account: no error value, even hidden.
    working = ("coin_requirement", "other", *(f"p_{n}" for n in range(steps + 1)))
    for key in working:
        f[key] = (f'IF(OR({problem}<>"",IFERROR({account_problem},"?")<>""),"",'
                  f'{f[key]})')
    for key in ("factor", "hc_count", "hc_start", "hc_usd"):
        f[key] = f'IF({problem}<>"","",{f[key]})'
    return {key: f'=IF(AND({e}="",{coin}=""),"",{body})' for key, body in f.items()}


def account_positions_table(ctx: Context) -> dict[str, str]:
    """Per Positions row in a listed account: its maintenance at the mark and the price of its
    asset that liquidates the whole account (riskfuncs.accounts: every position on the asset
    moves, every other price is held).

    With P the asset's price (quoted in the settle coin), the account's margin left is
    ``f(P) = E_other + V_s(h(P)) + V_A(P) - k (R_other + a_s sum m_i(P))`` where ``h(P)`` is
    the settle coin's equity (wallet + PnL, in the coin), ``V_s`` its USD value after the
    haircut tiers at its price (Binance Multi-Assets: the bid rate, the ask rate when
    negative), ``V_A`` the value of the asset's own balance at P, ``m_i`` each position's
    tiered maintenance (and OKX's liquidation fee) at P in the settle coin and ``a_s`` the
    settle coin's price (Multi-Assets: its ask rate). ``f`` is piecewise linear and concave
    (haircut ratios fall and maintenance rates rise with size), so Newton's step
    ``P - f/f'`` with the slope of the segment at P reaches the root segment in as many steps
    as segments it crosses and then repeats the exact root; after layout.ACCOUNT_STEPS steps a
    price still moving shows NOT SOLVED, never a figure. A step below 0 stops at 0: no price
    above 0 liquidates the account on that side ("never"), as riskfuncs' bisection finds.
    """
    c = Row(ACP)
    bal = BAL.name_of
    e, asset, settle, key = c("exchange"), c("asset"), c("settle"), c("key")
    mode = _in_accounts(e, "mode")
    m = _mode_of(mode)
    member = c("member")
    size = c("size")
    tier_start, tier_count = _pos("tier_start"), _pos("tier_count")
    side = f'IF({_pos("side")}="long",1,-1)'

    def maintenance(price: str, scale: str = "1") -> tuple[str, str]:
        """(maintenance, the slope in P of maintenance + fee) of this position at its mark
        ``price`` = ``scale`` x P, in the settle coin."""
        value = f"{size}*{price}"
        _, rate_k, amount_k = _tier_terms(value, tier_start, tier_count)
        mm = (f'IF({tier_count}=0,{value}*{_pos("base_rate")}-N({_pos("maintenance_amount")}),'
              f'{value}*{rate_k}-{c("keep")}*{amount_k})')
        slope = (f'{scale}*{size}*(IF({tier_count}=0,{_pos("base_rate")},{rate_k})'
                 f'+{c("fee_used")})')
        return mm, slope

    hc = (c("hc_start"), c("hc_count"), c("hc_usd"))
    asset_hc = (c("asset_hc_start"), c("asset_hc_count"), c("asset_hc_usd"))

    def margin_left(n: int) -> tuple[str, str]:
        """(f, f') at the n-th price."""
        h, p = c(f"h_{n}"), c(f"p_{n}")
        rate = f'IF({h}<0,{c("settle_ask")},{c("settle_bid")})'
        asset_rate = f'{p}*{c("usd_per_mark")}*{c("asset_factor")}'
        value = _haircut_value(h, rate, *hc)
        slope = _haircut_d_amount(h, rate, *hc)
        asset_value = _haircut_value(c("asset_amount"), asset_rate, *asset_hc)
        asset_slope = (f'{c("usd_per_mark")}*{c("asset_factor")}*'
                       f'{_haircut_d_rate(c("asset_amount"), asset_rate, *asset_hc)}')
        f = (f'{c("other_equity")}+{value}+{asset_value}-{c("k")}*'
             f'({c("other_requirement")}+{c("settle_ask")}*'
             f'SUMIFS({c.name(f"m_{n}")},{c.name("key")},{key}))')
        d = (f'{slope}*{c("pair_size")}+{asset_slope}-{c("k")}*{c("settle_ask")}*'
             f'SUMIFS({c.name(f"d_{n}")},{c.name("key")},{key})')
        return f, d

    listed = f'COUNTIFS({bal("exchange")},{e},{bal("coin_used")},{asset})'
    settle_listed = f'COUNTIFS({bal("exchange")},{e},{bal("coin_used")},{settle})'
    bal_row = f"(ROW({bal('coin')})-{BAL.first_row - 1})"
    mark_now = f'{size}*{_pos("mark_price")}'
    mm_now, _ = maintenance(_pos("mark_price"))
    usd_settle = _is_usd(settle)

    def settle_rate(buffer: str, sign: str) -> str:
        row = c("settle_row")
        return (f'IF({row}=0,1,IFERROR(INDEX({bal("price_used")},{row})*'
                f'(1{sign}N(INDEX({bal(buffer)},{row}))),"{layout.PROBLEM_PRICE_MISSING}"))')

    def in_usd(amount: str) -> str:
        ask = c("settle_ask")
        return f'IF(ISNUMBER({ask}),({amount})*{ask},{ask})'

    def balance_of(row: str, column: str) -> str:
        return f'IF({row}=0,0,INDEX({bal(column)},{row}))'

    f: dict[str, str] = {
        "exchange": _pos("exchange"),
        "symbol": _pos("symbol"),
        "side": _pos("side"),
        "size": _pos("size"),
        "mark_price": _pos("mark_price"),
        "asset": _coin(_pos("asset")),
        "settle": _coin(_pos("settle")),
        "key": f'{e}&"|"&{asset}',
        "k": f'IFERROR({m["k"]},"")',
        "fee_used": f'IFERROR({m["fees"]},0)*N({_pos("fee_rate")})',
        "keep": f'IFERROR({m["keep"]},1)',
        "mark_0": f'INDEX({c.name("mark_price")},MATCH({key},{c.name("key")},0))',
        "scale": f'{_pos("mark_price")}/{c("mark_0")}',
        # The asset's USD price per unit of the first mark (riskfuncs: the coin's index
        # price, else its mark times its settle coin's price).
        "usd_per_mark": (f'IF({listed}=0,{c("settle_price")},SUMIFS({bal("price_used")},'
                         f'{bal("exchange")},{e},{bal("coin_used")},{asset})/{c("mark_0")})'),
        "signed_size": f"{side}*{size}",
        "signed_weight": f'{c("signed_size")}*{c("scale")}',
        "signed_entry": f'{c("signed_size")}*{_pos("entry_price")}',
        "pnl": f'{c("signed_size")}*({_pos("mark_price")}-{_pos("entry_price")})',
        "settle_row": (f'IF({settle_listed}=0,0,SUMPRODUCT(({bal("exchange")}={e})*'
                       f'({bal("coin_used")}={settle})*{bal_row}))'),
        "settle_bid": settle_rate("bid_buffer", "-"),
        "settle_ask": settle_rate("ask_buffer", "+"),
        "maintenance": in_usd(mm_now),
        "liquidation_fee": in_usd(f'{c("fee_used")}*{mark_now}'),
        # A settle coin with no balance row: riskfuncs takes USD, USDT and USDC at 1 and
        # needs the price of any other.
        "unlisted_pnl": (f'IF({settle_listed}=0,IF({usd_settle},{c("pnl")},'
                         f'"{layout.PROBLEM_PRICE_MISSING}"),0)'),
        "pre_problem": (
            f'IF({_in_accounts(e, "problem")}<>"",{_in_accounts(e, "problem")},'
            f'IF(COUNTIFS({c.name("key")},{key},{c.name("settle")},"<>"&{settle})>0,'
            f'"{layout.PROBLEM_SETTLE_COINS}",'
            f'IF(COUNTIFS({c.name("exchange")},{e},{c.name("settle")},{asset})>0,'
            f'"{layout.PROBLEM_OWN_SETTLE}","")))'
        ),
        "pair_size": f'SUMIFS({c.name("signed_weight")},{c.name("key")},{key})',
        "pair_entry": f'SUMIFS({c.name("signed_entry")},{c.name("key")},{key})',
        "settle_amount": balance_of(c("settle_row"), "amount"),
        "settle_price": (f'IF({c("settle_row")}=0,1,'
                         f'INDEX({bal("price_used")},{c("settle_row")}))'),
        "hc_start": balance_of(c("settle_row"), "hc_start"),
        "hc_count": balance_of(c("settle_row"), "hc_count"),
        "hc_usd": balance_of(c("settle_row"), "hc_usd"),
        "asset_row": (f'IF({listed}=0,0,SUMPRODUCT(({bal("exchange")}={e})*'
                      f'({bal("coin_used")}={asset})*{bal_row}))'),
        "asset_amount": balance_of(c("asset_row"), "amount"),
        "asset_factor": f'IF({c("asset_row")}=0,1,INDEX({bal("factor")},{c("asset_row")}))',
        "asset_hc_start": balance_of(c("asset_row"), "hc_start"),
        "asset_hc_count": balance_of(c("asset_row"), "hc_count"),
        "asset_hc_usd": balance_of(c("asset_row"), "hc_usd"),
        "other_equity": (
            f'{_in_accounts(e, "equity")}-IF({c("settle_row")}=0,'
            f'SUMIFS({c.name("unlisted_pnl")},{c.name("exchange")},{e},{c.name("settle")},'
            f'{settle}),INDEX({bal("value")},{c("settle_row")}))'
            f'-SUMIFS({bal("value")},{bal("exchange")},{e},{bal("coin_used")},{asset})'
        ),
        "other_requirement": (
            f'{_in_accounts(e, "requirement")}-SUMIFS({c.name("maintenance")},'
            f'{c.name("key")},{key})-SUMIFS({c.name("liquidation_fee")},{c.name("key")},{key})'
        ),
        "other_pnl": (
            f'SUMIFS({c.name("pnl")},{c.name("exchange")},{e},{c.name("settle")},{settle})'
            f'-SUMIFS({c.name("pnl")},{c.name("key")},{key})'
        ),
        # Newton's price is the first mark on the asset; each mark moves in proportion.
        "p_0": c("mark_0"),
    }
    steps = layout.ACCOUNT_STEPS
    for n in range(steps + 1):
        p = c(f"p_{n}")
        f[f"h_{n}"] = (f'{c("settle_amount")}+{c("other_pnl")}+{c("pair_size")}*{p}'
                       f'-{c("pair_entry")}')
        mm, f[f"d_{n}"] = maintenance(f'{c("scale")}*{p}', c("scale"))
        f[f"m_{n}"] = f'{mm}+{c("fee_used")}*{size}*{c("scale")}*{p}'
        if n < steps:
            fn, dn = margin_left(n)
            f[f"p_{n + 1}"] = f"IF({dn}=0,{p},MAX(0,{p}-({fn})/({dn})))"
    _, d_last = margin_left(steps)
    pre = c("pre_problem")
    solved = _never_or(c(f"p_{steps}"), c(f"p_{steps - 1}"), d_last)
    f["liquidation_price"] = (  # this position's mark there
        f'IF({pre}<>"",{pre},IF(ISNUMBER({solved}),{c("scale")}*{solved},{solved}))'
    )
    lp = c("liquidation_price")
    f["move"] = f'IF(ISNUMBER({lp}),{lp}/{c("mark_price")}-1,"")'
    f["problem"] = (f'IF(AND(ISTEXT({lp}),{lp}<>"{NEVER}"),{lp},'
                    f'IF({_pos("input_problem")}<>"",{_pos("input_problem")},""))')
    own = _pos("input_problem")
    for key_ in ("maintenance", "liquidation_fee"):
        f[key_] = f'IF({own}<>"",{own},{f[key_]})'
    # The working columns wait for a clean account: no error value, even hidden.
    working = ("mark_0", "scale", "usd_per_mark", "signed_weight",
               "pair_size", "pair_entry", "settle_amount", "settle_price",
               "hc_count", "hc_start", "hc_usd", "asset_row", "asset_amount", "asset_factor",
               "asset_hc_start", "asset_hc_count", "asset_hc_usd", "other_equity",
               "other_requirement", "other_pnl",
               *(f"{x}_{n}" for n in range(steps + 1) for x in "phmd"))
    for key_ in working:
        f[key_] = f'IF({pre}<>"","",{f[key_]})'
    out = {key_: f'=IF({member}<>1,"",{body})' for key_, body in f.items()}
    out["member"] = (f'=IF({_pos("size")}="",0,IF(AND({_pos("margin_mode")}="cross",'
                     f'ISNUMBER(MATCH({_pos("exchange")},{UA.name_of("exchange")},0))),1,0))')
    return out


def accounts_fields(ctx: Context) -> dict[str, str]:
    level = UA.name_of("level")
    return {
        "accounts": f'=COUNTIF({UA.name_of("exchange")},"?*")',
        "red": f'=COUNTIF({level},"red")',
        "amber": f'=COUNTIF({level},"amber")',
    }


# --------------------------------------------------------------------------------------------
# Registry: which formulas fill which sheet.

ColumnFormulas = Mapping[str, str | list[str]]
TableFormulas = Callable[[Context], ColumnFormulas]
FieldFormulas = Callable[[Context], Mapping[str, str]]

TABLE_FORMULAS: dict[tuple[str, str], TableFormulas] = {
    ("positions", "positions"): positions_table,
    ("tiers", "tiers"): tiers_table,
    ("stress_grid", "grid"): grid_table,
    ("stress", "scenarios"): scenarios_table,
    ("volatility", "history"): history_table,
    ("volatility", "probability"): probability_table,
    ("prices", "prices"): prices_table,
    ("prices", "book_assets"): book_assets_table,
    ("prices", "book_positions"): book_positions_table,
    ("scorecard", "exchanges"): exchanges_table,
    ("scorecard", "weights"): weights_table,
    ("funding", "log"): funding_log_table,
    ("funding", "after"): funding_after_table,
    ("audit", "checks"): checks_table,
    ("dashboard", "closest"): closest_table,
    ("accounts", "unified_accounts"): unified_accounts_table,
    ("accounts", "balances"): balances_table,
    ("accounts", "account_positions"): account_positions_table,
}
FIELD_FORMULAS: dict[str, FieldFormulas] = {
    "positions": positions_fields,
    "stress": stress_fields,
    "volatility": volatility_fields,
    "prices": prices_fields,
    "scorecard": scorecard_fields,
    "funding": funding_fields,
    "audit": audit_fields,
    "dashboard": dashboard_fields,
    "accounts": accounts_fields,
}


def row_formula(template: str, row: int, table: Table | None = None) -> str:
    """Fill a row template: ``{r}`` is the row, ``{p}`` the row above (the header on the first
    data row, which no table value equals), ``{pr}`` the Positions row in line with it."""
    text = template.replace("{r}", str(row)).replace("{p}", str(row - 1))
    if "{pr}" in text and table is not None:
        text = text.replace("{pr}", str(row - table.first_row + POS_TABLE.first_row))
    return text


def formulas_for(sheet: Sheet, ctx: Context) -> tuple[Mapping[str, str],
                                                      dict[str, ColumnFormulas]]:
    """(field formulas, {table key: column formulas}) of one sheet in a given workbook."""
    fields = FIELD_FORMULAS[sheet.key](ctx) if sheet.key in FIELD_FORMULAS else {}
    tables = {t.key: TABLE_FORMULAS[(sheet.key, t.key)](ctx) for t in sheet.tables
              if (sheet.key, t.key) in TABLE_FORMULAS}
    return fields, tables


def lint(formula: str) -> list[str]:
    """Problems Excel 2010 or LibreOffice 7.4 would show as #NAME?: unprefixed new functions,
    functions newer than Excel 2010, functions LibreOffice 7.4 lacks."""
    problems = []
    for token in Tokenizer(formula).items:
        if token.type != Token.FUNC or token.subtype != Token.OPEN:
            continue
        name = token.value[:-1].lstrip(":").upper()  # INDEX(..):INDEX(..) tokenises as ":INDEX("
        bare = name.removeprefix("_XLFN._XLWS.").removeprefix("_XLFN.")
        if not name.startswith("_XLFN.") and name not in FORMULAE:
            problems.append(f"{name} needs the _xlfn. prefix")
        if bare in LO74_MISSING:
            problems.append(f"{bare} is not computed by LibreOffice 7.4")
        elif name.startswith("_XLFN.") and bare not in EXCEL_2010_XLFN:
            problems.append(f"{bare} is newer than Excel 2010")
    return problems

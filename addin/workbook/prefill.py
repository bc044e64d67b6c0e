"""Starting values of input tables: the scenario library, score weights and grades (taken from
riskfuncs, so there is one source of truth), and the tier snapshot kept in templates/workbook.
They are ordinary inputs: the trader may change or clear them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from addin.workbook import layout
from addin.workbook.texts import load_texts
from riskfuncs.accounts import collateral_tables
from riskfuncs.data.score_weights import DEFAULT_WEIGHTS, GRADE_BANDS
from riskfuncs.scenarios import DEFAULT_BETAS, scenario_library, span_grid

Rows = list[dict[str, Any]]

#: SPAN grid moves in thirds of the price scan range (same order as riskfuncs.scenarios.span_grid).
_SPAN_THIRDS = (0, 0, 1, 1, -1, -1, 2, 2, -2, -2, 3, 3, -3, -3)


def _span_move(number: int) -> str:
    """The move of SPAN scenario ``number`` as a formula of the scan-range field."""
    if number <= len(_SPAN_THIRDS):
        thirds = _SPAN_THIRDS[number - 1]
        return "=0" if thirds == 0 else f"=Stress_ScanRange*{thirds}/3"
    return "=Stress_ScanRange*2" if number == 15 else "=-Stress_ScanRange*2"


def scenarios() -> tuple[Rows, Rows]:
    """(scenario rows, move rows): the library, then the SPAN grid at the template's scan range."""
    rows: Rows = []
    moves: Rows = []
    for s in scenario_library():
        haircuts = sorted(s.collateral_haircuts.items())
        defaults = sorted(s.exchange_default.items())
        rows.append({
            "name": s.name, "description": s.description[:120],
            "funding_rate": s.funding_rate or None,
            "funding_intervals": s.funding_intervals or None,
            # One haircut currency per scenario: the workbook keeps the first (LUNA's UST).
            "haircut_currency": haircuts[0][0] if haircuts else None,
            "haircut": haircuts[0][1] if haircuts else None,
            "default_exchange": defaults[0][0] if defaults else None,
            "default_lgd": defaults[0][1] if defaults else None,
            "weight": s.weight, "horizon_hours": s.horizon_hours,
        })
        moves.extend({"scenario": s.name, "asset": asset, "move": move}
                     for asset, move in s.moves.items())
    for number, s in enumerate(span_grid(0.06), start=1):
        # riskfuncs names the rows "SPAN k: price +1/3 vol up": the short name goes in Name
        # (what readers match), the rest in Description; the Label column joins them again.
        short, _, description = s.name.partition(": ")
        if not short.startswith(layout.SPAN_PREFIX):
            raise ValueError(f"unexpected SPAN scenario name {s.name!r}")
        rows.append({"name": short, "description": description,
                     "weight": s.weight, "horizon_hours": s.horizon_hours})
        moves.append({"scenario": short, "asset": s.reference_asset,
                      "move": _span_move(number)})
    return rows, moves


def _stress_scenarios() -> Rows:
    return scenarios()[0]


def _stress_moves() -> Rows:
    return scenarios()[1]


def _betas() -> Rows:
    return [{"asset": a, "beta": b} for a, b in DEFAULT_BETAS.items()]


def _weights() -> Rows:
    return [{"factor": f, "weight": w} for f, w in DEFAULT_WEIGHTS.as_dict().items()]


def _grades() -> Rows:
    return [{"grade": b.grade, "min_score": b.min_score, "pd_low": b.pd_low,
             "pd_high": b.pd_high, "probability_of_default": b.probability_of_default}
            for b in GRADE_BANDS]


def _tiers() -> Rows:
    data = load_texts("tiers.json")
    rows: Rows = []
    for table in data["tables"]:
        for k, tier in enumerate(table["tiers"], start=1):
            rows.append({"table": table["name"], "tier": k, "min_notional": tier[0],
                         "max_notional": tier[1], "maintenance_margin_rate": tier[2],
                         "maintenance_amount": tier[3], "max_leverage": tier[4]})
    return rows


#: Haircut tables the Accounts sheet starts with: riskfuncs' stored tables
#: (riskfuncs.data.collateral, each with its venue, date and source), named PREFIX_COIN
#: (BYBIT_BTC, OKX_BTC, BINANCE_PRO_ORDI, ...); Binance Portfolio Margin Pro's tiers are by USD
#: value (unit usd), the others by coins held.
HAIRCUT_PREFIXES = {"bybit_uta": "BYBIT", "okx_multi_currency": "OKX",
                    "binance_multi_assets": "BINANCE_MA", "binance_portfolio": "BINANCE_PM",
                    "binance_portfolio_pro": "BINANCE_PRO"}
HAIRCUT_VENUES = tuple(HAIRCUT_PREFIXES)


def haircut_name(venue: str, coin: str) -> str:
    """The starting name of a stored haircut table on the Accounts sheet."""
    return f"{HAIRCUT_PREFIXES[venue]}_{coin}".upper()


def _haircuts() -> Rows:
    stored = collateral_tables()
    rows: Rows = []
    for (venue, coin), tiers in stored.groupby(["venue", "coin"], sort=False):
        if venue not in HAIRCUT_PREFIXES:
            continue
        for record in tiers.to_dict("records"):
            upper = record["upper"]
            rows.append({"table": haircut_name(str(venue), str(coin)), "unit": record["unit"],
                         "min_amount": record["lower"],
                         "max_amount": None if upper != upper else upper,
                         "ratio": record["ratio"]})
    return rows


def tiers_as_of() -> dt.date:
    return dt.date.fromisoformat(load_texts("tiers.json")["as_of"])


TABLES: dict[tuple[str, str], Callable[[], Rows]] = {
    ("stress", "scenarios"): _stress_scenarios,
    ("stress", "moves"): _stress_moves,
    ("stress", "betas"): _betas,
    ("scorecard", "weights"): _weights,
    ("scorecard", "grades"): _grades,
    ("tiers", "tiers"): _tiers,
    ("accounts", "haircuts"): _haircuts,
}


def table_rows(sheet: layout.Sheet, table: layout.Table) -> Rows:
    maker = TABLES.get((sheet.key, table.key))
    rows = maker() if maker else []
    if len(rows) > table.rows:
        raise ValueError(f"{len(rows)} starting rows do not fit {sheet.key}.{table.key}")
    return rows


def field_value(sheet: layout.Sheet, field: layout.Field, sheets: frozenset[str]) -> Any:
    """A field's starting value; a few default to a formula over another sheet."""
    if sheet.key == "tiers" and field.key == "as_of":
        return tiers_as_of()
    if sheet.key == "volatility" and field.key == "exposure" and "positions" in sheets:
        return (f"=SUMIFS({layout.POSITIONS.table('positions').name_of('value_usd')},"
                f"{layout.POSITIONS.table('positions').name_of('asset')},Vol_Asset)")
    return field.value

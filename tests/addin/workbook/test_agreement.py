"""Every computed cell of every template, recalculated by LibreOffice, equals riskfuncs.

Each template is filled with 220 seeded random positions (eight exchanges, linear and inverse,
isolated and cross, tier tables with and without amounts, fees, Hyperliquid's max-leverage rule)
plus a price history, a funding log, exchange sub-scores and extra stress scenarios; the
expected values come from riskfuncs on the same inputs (an independent Python computation where
riskfuncs has no counterpart, noted at each check).

Tolerance: relative 1e-9. LibreOffice stores results with 15 significant digits, so agreement is
limited to about 1e-15 relative by storage; 1e-9 leaves room for the different order of floating
point operations. Where a figure is a difference that cancels to near zero (a PnL sum, a buffer
at the rule) the tolerance is 1e-9 of the largest magnitude in that column instead.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from addin.report.assessment import (
    Settings,
    buffer_at_cap,
    stop_beyond_liquidation,
    thresholds_for,
)
from addin.workbook import layout
from addin.workbook.texts import load_texts
from riskfuncs import counterparty as cp
from riskfuncs import discipline as dc
from riskfuncs import funding as fd
from riskfuncs import probability as pr
from riskfuncs import var as vr
from riskfuncs import volatility as vo
from riskfuncs.assessment import hybrid_assessment
from riskfuncs.data.score_weights import DEFAULT_WEIGHTS
from riskfuncs.liquidation import bankruptcy_price, liquidation_price
from riskfuncs.margin import notional
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.scenarios import Scenario, span_grid
from riskfuncs.stress import stress_test
from riskfuncs.tiers import as_tier_table
from tests.addin.workbook.conftest import (
    BLANK,
    FEW,
    FULL,
    LOG_VARIANT,
    MANUAL_ANSWERS,
    Filled,
)
from tests.addin.workbook.inputs import portfolio_frame

pytestmark = pytest.mark.libreoffice

REL = 1e-9


# --------------------------------------------------------------------------------------------
# Reading values back

def column(filled: Filled, sheet_key: str, table_key: str, key: str, n: int | None = None
           ) -> list[Any]:
    sheet = layout.SHEETS[sheet_key]
    table = sheet.table(table_key)
    ws: Any = filled.sheet(sheet_key)
    index = table.column_index(key)
    rows = table.rows if n is None else n
    return [ws.cell(table.first_row + i, index).value for i in range(rows)]


def field(filled: Filled, sheet_key: str, key: str) -> Any:
    sheet = layout.SHEETS[sheet_key]
    ws: Any = filled.sheet(sheet_key)
    return ws[sheet.field_cell(key)].value


def agree(got: Sequence[Any], expected: Iterable[Any], what: str, *,
          infinite: str | tuple[str, str] | None = None, scale: float | None = None) -> None:
    """Compare cell values with expected numbers (or texts).

    ``infinite`` is the text the workbook shows where riskfuncs returns inf (or a pair: for
    +inf and -inf). ``scale`` turns
    the tolerance absolute (REL x scale) for figures that cancel to near zero.
    """
    expected = list(expected)
    assert len(got) == len(expected), what
    finite = [abs(e) for e in expected if isinstance(e, float | int) and math.isfinite(e)]
    floor = REL * (scale if scale is not None else 0.0) if finite else 0.0
    bad = []
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if isinstance(e, str):
            ok = g == e
        elif e is None or (isinstance(e, float) and math.isnan(e)):
            ok = g in (None, "")
        elif math.isinf(e):
            texts = (infinite, infinite) if isinstance(infinite, str) else infinite
            ok = texts is not None and g == texts[0 if e > 0 else 1]
        else:
            ok = (isinstance(g, int | float) and not isinstance(g, bool)
                  and math.isclose(g, e, rel_tol=REL, abs_tol=floor))
        if not ok:
            bad.append(f"{what}[{i}]: workbook {g!r}, expected {e!r}")
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(bad[:5])


def col_scale(values: Iterable[Any]) -> float:
    finite = [abs(float(v)) for v in values if isinstance(v, float | int) and math.isfinite(v)]
    return max(finite, default=1.0)


# --------------------------------------------------------------------------------------------
# No error cell anywhere

def _chart_gaps() -> set[tuple[str, int]]:
    """(sheet title, column number) of the hidden columns that hold #N/A on purpose: a chart
    draws no bar for #N/A (the Dashboard's bar per level: a row's value sits in its level's
    column only)."""
    t = layout.DASHBOARD.table("closest")
    return {(layout.DASHBOARD.title, t.column_index(f"{level}_distance"))
            for level in layout.LEVEL_COLOURS}


def test_no_error_cell_in_any_recalculated_template(recalculated: dict[str, Filled]) -> None:
    problems = []
    gaps = _chart_gaps()
    for template_id, filled in recalculated.items():
        for ws in filled.result.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    value = cell.value
                    if (ws.title, cell.column) in gaps and value == "#N/A":
                        continue
                    if isinstance(value, str) and (value.startswith("#") or
                                                   value.startswith("Err:")):
                        problems.append(f"{template_id} {ws.title}!{cell.coordinate}: {value}")
    assert not problems, f"{len(problems)} error cells, first: {problems[:5]}"


def test_blank_workbook_shows_no_figures(recalculated: dict[str, Filled]) -> None:
    blank = recalculated[BLANK]
    assert field(blank, "positions", "position_count") == 0
    assert field(blank, "stress", "worst_scenario") in (None, "")
    assert field(blank, "volatility", "historical_var") == "n/a"
    assert set(column(blank, "positions", "positions", "liquidation_price")) <= {None, ""}
    assert field(blank, "dashboard", "audit") == "0 passed, 0 failed, 5 to tick"
    for key in ("position", "distance", "alert", "row"):
        assert set(column(blank, "dashboard", "closest", key)) <= {None, ""}, key


# --------------------------------------------------------------------------------------------
# Positions & Margin (every template has it)

POSITION_COLUMNS = {  # workbook column -> riskfuncs.portfolio_margin column
    "notional": "notional",
    "initial_margin": "initial_margin",
    "maintenance_margin": "maintenance_margin",
    "unrealized_pnl": "unrealized_pnl",
    "margin_balance": "margin_balance",
    "liquidation_price": "liquidation_price",
    "distance_to_liquidation": "distance_to_liquidation",
    "margin_ratio": "margin_ratio",
    "margin_buffer": "cap_buffer",  # the buffer rule at the leverage cap (report's measure)
    "effective_leverage": "leverage",
    "account": "account",
}
INFINITE_TEXT: dict[str, str | tuple[str, str]] = {
                 "liquidation_price": "never", "distance_to_liquidation": ("never", "reached"),
                 "margin_ratio": "no balance", "margin_buffer": "no requirement",
                 "effective_leverage": "no balance"}


def expected_portfolio(filled: Filled) -> pd.DataFrame:
    return portfolio_margin(portfolio_frame(filled.book), tiers=filled.book.tiers)


@pytest.mark.parametrize("template_id", list(layout.TEMPLATES))
def test_positions_match_riskfuncs_portfolio_margin(recalculated: dict[str, Filled],
                                                    template_id: str) -> None:
    filled = recalculated[template_id]
    n = len(filled.book.positions)
    expected = expected_portfolio(filled)
    expected["cap_buffer"] = buffer_at_cap(portfolio_frame(filled.book), expected, 5.0)
    for key, source in POSITION_COLUMNS.items():
        values = expected[source].tolist()
        if key == "initial_margin":  # riskfuncs gives NaN for cross rows without leverage
            values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        agree(column(filled, "positions", "positions", key, n), values, key,
              infinite=INFINITE_TEXT.get(key), scale=col_scale(values))
    # Blank rows stay blank.
    assert set(column(filled, "positions", "positions", "liquidation_price")[n:]) <= {None, ""}
    if template_id == "position-margin-monitor":  # the unreachable cases are in the book
        lp = expected["liquidation_price"]
        sides = filled.book.positions["side"]
        assert ((lp == 0) & (sides == "long")).sum() > 0  # fully collateralised long: 0
        assert (np.isinf(lp) & (sides == "short")).sum() > 0  # inverse short: "none"


def test_positions_helpers_and_alerts(recalculated: dict[str, Filled]) -> None:
    """Value in USD, entry notional, tiers and the alert text: an independent computation."""
    filled = recalculated["position-margin-monitor"]
    p = filled.book.positions
    n = len(p)
    inverse = (p["contract"] == "inverse").to_numpy()
    size, mark, entry = (p[k].to_numpy(float) for k in ("size", "mark_price", "entry_price"))
    agree(column(filled, "positions", "positions", "value_usd", n),
          np.where(inverse, size, size * mark).tolist(), "value_usd")
    entry_value = [notional(q, e, contract=c)
                   for q, e, c in zip(size, entry, p["contract"], strict=True)]
    agree(column(filled, "positions", "positions", "entry_notional", n), entry_value,
          "entry_notional")
    # The tier at the liquidation notional is the one riskfuncs.tiers gives for it.
    x = column(filled, "positions", "positions", "liquidation_notional", n)
    tiers_used = column(filled, "positions", "positions", "liquidation_tier", n)
    for i, symbol in enumerate(p["symbol"]):
        if symbol in filled.book.tiers and p["exchange"].iloc[i] not in \
                layout.ENTRY_BASIS_EXCHANGES and isinstance(x[i], float) and x[i] > 0:
            table = as_tier_table(filled.book.tiers[symbol])
            assert tiers_used[i] == table.index_for(np.asarray(x[i])) + 1, i

    # Level and alert: riskfuncs.assessment.hybrid_assessment with the report's thresholds,
    # on riskfuncs' own figures (this template has no stress or volatility sheet).
    expected = expected_portfolio(filled)
    frame = portfolio_frame(filled.book).assign(
        stopLossPrice=p["stop_price"].to_numpy(dtype=float))
    settings = Settings()
    liquidation = expected["liquidation_price"].to_numpy(dtype=float)
    distance = expected["distance_to_liquidation"].to_numpy(dtype=float)
    rating = hybrid_assessment(
        distance_to_liquidation=np.where(np.isneginf(distance), 0.0, distance),
        cap_buffer=buffer_at_cap(frame, expected, settings.leverage_cap),
        leverage=expected["leverage"].to_numpy(dtype=float),
        stop_beyond_liquidation=stop_beyond_liquidation(frame, liquidation),
        thresholds=thresholds_for(settings)).positions["rating"].tolist()
    levels = column(filled, "positions", "positions", "level", n)
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(levels, rating, strict=True)) if a != b]
    assert not diff, diff[:5]
    assert {"red", "amber", "green"} <= set(rating)  # the random book reaches every level
    texts = load_texts()["alerts"]
    alerts = column(filled, "positions", "positions", "alert", n)
    red_texts = {texts[k] for k in ("liquidated", "near_liquidation", "probability", "leverage",
                                    "buffer")}
    for level, alert in zip(levels, alerts, strict=True):
        assert (alert == texts["ok"]) == (level == "green")
        if level == "red":
            assert alert in red_texts
    assert len(set(alerts)) >= 4  # the random book reaches most alert branches


def test_tier_amounts_match_riskfuncs(recalculated: dict[str, Filled]) -> None:
    filled = recalculated["position-margin-monitor"]
    expected: list[float] = []
    for frame in filled.book.tiers.values():
        expected.extend(as_tier_table(frame).maintenance_amounts.tolist())
    agree(column(filled, "tiers", "tiers", "amount_used", len(expected)), expected,
          "amount_used", scale=col_scale(expected))


# --------------------------------------------------------------------------------------------
# Stress Test

def scenarios_from_workbook(filled: Filled) -> list[Scenario]:
    """The scenarios as the workbook holds them after recalculation (SPAN moves included)."""
    names = [v for v in column(filled, "stress", "scenarios", "name") if v]
    table = {key: column(filled, "stress", "scenarios", key, len(names))
             for key in ("funding_rate", "funding_intervals", "haircut_currency", "haircut",
                         "default_exchange", "default_lgd", "weight", "horizon_hours")}
    moves: dict[str, dict[str, float]] = {name: {} for name in names}
    for scen, asset, move in zip(column(filled, "stress", "moves", "scenario"),
                                 column(filled, "stress", "moves", "asset"),
                                 column(filled, "stress", "moves", "move"), strict=True):
        if scen:
            moves[scen][asset] = float(move)
    betas = {a: float(b) for a, b in zip(column(filled, "stress", "betas", "asset"),
                                         column(filled, "stress", "betas", "beta"), strict=True)
             if a}
    out = []
    for i, name in enumerate(names):
        t = {k: v[i] for k, v in table.items()}
        out.append(Scenario(
            name, moves=moves[name], betas=betas,
            reference_asset=field(filled, "stress", "reference_asset"),
            default_beta=field(filled, "stress", "default_beta"),
            move_floor=field(filled, "stress", "move_floor"),
            move_cap=field(filled, "stress", "move_cap"),
            funding_rate=t["funding_rate"] or 0.0,
            funding_intervals=int(t["funding_intervals"] or 0),
            collateral_haircuts={t["haircut_currency"]: t["haircut"]}
            if t["haircut_currency"] else {},
            exchange_default={t["default_exchange"]: t["default_lgd"]}
            if t["default_exchange"] else {},
            weight=t["weight"] or 1.0, horizon_hours=t["horizon_hours"] or 1.0,
        ))
    return out


@pytest.mark.parametrize("template_id", [FULL, "stress-test"])
def test_stress_matches_riskfuncs_stress_test(recalculated: dict[str, Filled],
                                              template_id: str) -> None:
    filled = recalculated[template_id]
    scenarios = scenarios_from_workbook(filled)
    assert len(scenarios) == 34  # 15 library + 16 SPAN + 3 custom
    result = stress_test(portfolio_frame(filled.book), scenarios, tiers=filled.book.tiers)
    m = len(scenarios)
    by = result.by_scenario
    for key in ("pnl", "funding", "haircut_loss", "equity_after", "default_loss",
                "equity_left", "loss", "weighted_loss", "loss_fraction",
                "positions_liquidated", "accounts_liquidated", "shortfall"):
        values = by[key].tolist()
        agree(column(filled, "stress", "scenarios", key, m), values, f"stress {key}",
              scale=col_scale(by["equity_before"].tolist() + values))
    worst = by.index[int(np.argmax(by["weighted_loss"].to_numpy()))]
    # Charts and the worst case name a SPAN row by riskfuncs' full name ("SPAN 3: price +1/3
    # vol up"); the Name cell keeps the short "SPAN 3" that the report matches.
    grid = span_grid(field(filled, "stress", "price_scan_range"))
    full_names = {f"SPAN {k}": s.name for k, s in enumerate(grid, start=1)}
    agree(column(filled, "stress", "scenarios", "label", m),
          [full_names.get(s.name, s.name) for s in scenarios], "scenario labels")
    assert field(filled, "stress", "worst_scenario") == full_names.get(worst, worst)
    agree([field(filled, "stress", "equity_before")], [by["equity_before"].iloc[0]],
          "equity_before")
    agree([field(filled, "stress", "worst_loss")], [by.loc[worst, "loss"]], "worst_loss")
    assert column(filled, "stress", "scenarios", "worst", m).count("WORST") == 1
    # The SPAN rows follow riskfuncs.scenarios.span_grid at the template's scan range.
    span_moves = [s.moves["BTC"] for s in scenarios if s.name.startswith("SPAN")]
    agree(span_moves, [s.moves["BTC"] for s in grid], "span moves")
    assert [s.weight for s in scenarios if s.name.startswith("SPAN")] == [s.weight for s in grid]

    # The working grid, position by position.
    n = len(filled.book.positions)
    price, pnl = result.price, result.pnl
    lead = column(filled, "stress_grid", "grid", "lead", n)
    upnl_now = np.array(column(filled, "stress_grid", "grid", "upnl_now", n), dtype=float)
    p = filled.book.positions
    fee = p["fee_rate"].fillna(0).to_numpy(float)
    inverse = (p["contract"] == "inverse").to_numpy()
    size = p["size"].to_numpy(float)
    # Bybit's closing fee on the bankruptcy value of an isolated position (riskfuncs.liquidation).
    fee_value = np.array(column(filled, "stress_grid", "grid", "fee_value", n), dtype=float)
    on_bankruptcy = (p["exchange"].isin(layout.BANKRUPTCY_FEE_EXCHANGES)
                     & (p["margin_mode"] != "cross")).to_numpy()
    bp = [bankruptcy_price(r["side"], r["entry_price"], r["size"], r["collateral"],
                           contract=r["contract"], fee_rate=0.0 if pd.isna(r["fee_rate"])
                           else r["fee_rate"]) for _, r in p.iterrows()]
    x_b = [0.0 if b in (0.0, math.inf) else notional(q, b, contract=c)
           for b, q, c in zip(bp, size, p["contract"], strict=True)]
    agree(fee_value[on_bankruptcy].tolist(), np.asarray(x_b)[on_bankruptcy].tolist(),
          "bankruptcy value")
    assert (fee_value[~on_bankruptcy] == -1).all()
    for j in range(m):
        k = j + 1
        agree(column(filled, "stress_grid", "grid", f"price_{k}", n), price[:, j].tolist(),
              f"price {k}")
        after = np.array(column(filled, "stress_grid", "grid", f"after_{k}", n), dtype=float)
        agree((after - upnl_now).tolist(), pnl[:, j].tolist(), f"pnl {k}",
              scale=col_scale(np.abs(after).tolist() + np.abs(upnl_now).tolist()))
        need = np.array(column(filled, "stress_grid", "grid", f"need_{k}", n), dtype=float)
        at = np.where(filled.book.positions["exchange"].isin(layout.ENTRY_BASIS_EXCHANGES),
                      filled.book.positions["entry_price"].to_numpy(float), price[:, j])
        value = np.where(inverse, size / at, size * at)
        value = np.where(fee_value >= 0, fee_value, value)
        agree((need - fee * value).tolist(), result.maintenance_margin[:, j].tolist(),
              f"maintenance {k}", scale=col_scale(need.tolist()))
        balance = column(filled, "stress_grid", "grid", f"balance_{k}", n)
        requirement = column(filled, "stress_grid", "grid", f"requirement_{k}", n)
        rows = [i for i in range(n) if lead[i] == 1]
        agree([balance[i] for i in rows], result.margin_balance[rows, j].tolist(),
              f"balance {k}", scale=col_scale(balance))
        account_req = result.account_requirement[result.account_of_position]
        agree([requirement[i] for i in rows], account_req[rows, j].tolist(),
              f"requirement {k}", scale=col_scale(requirement))


# --------------------------------------------------------------------------------------------
# Volatility & VaR

@pytest.mark.parametrize(("variant", "kind"), [(FULL, "simple"), (LOG_VARIANT, "log")])
def test_volatility_and_var_match_riskfuncs(recalculated: dict[str, Filled], variant: str,
                                            kind: str) -> None:
    filled = recalculated[variant]
    assert field(filled, "volatility", "return_kind") == kind
    prices = filled.extra.tables[("volatility", "history")]["price"].to_numpy(float)
    r = vo.returns(prices, kind=kind)
    n = len(prices)
    agree(column(filled, "volatility", "history", "return", n), [None, *r.tolist()], "returns")
    warnings.simplefilter("ignore", vr.ShortHistoryWarning)
    c, lam, ppy, h = 0.99, 0.94, 365, field(filled, "volatility", "horizon_periods")
    path = vo.ewma_volatility_path(r, lam=lam, periods_per_year=1)
    agree(column(filled, "volatility", "history", "ewma_variance", n),
          [None, *(path**2).tolist()], "ewma variance")
    weights = 0.94 ** np.arange(min(75, len(r)))
    backcast = float(weights @ r[: len(weights)] ** 2 / weights.sum())  # independent
    var = vr.historical_var(r, confidence=c)
    es = vr.expected_shortfall(r, confidence=c)
    expected = {
        "observations": len(r),
        "close_to_close": vo.close_to_close_volatility(r, periods_per_year=ppy),
        "ewma_backcast": backcast,
        "ewma_volatility": vo.ewma_volatility(r, lam=lam, periods_per_year=ppy),
        "historical_var": var,
        "historical_es": es,
        "normal_var": vr.parametric_var(r, confidence=c),
        "normal_es": vr.expected_shortfall(r, confidence=c, method="normal"),
        "var_horizon": vr.scale_to_horizon(var, h),
        "es_horizon": vr.scale_to_horizon(es, h),
    }
    for key, value in expected.items():
        agree([field(filled, "volatility", key)], [float(value)], key)
    exposure = field(filled, "volatility", "exposure")
    p = filled.book.positions
    btc = p["symbol"].str.startswith("BTC/")
    usd = np.where(p["contract"] == "inverse", p["size"], p["size"] * p["mark_price"])
    agree([exposure], [float(usd[btc.to_numpy()].sum())], "exposure")
    agree([field(filled, "volatility", "var_usd")], [exposure * expected["var_horizon"]],
          "var usd")


def test_liquidation_probabilities_match_riskfuncs(recalculated: dict[str, Filled]) -> None:
    filled = recalculated[FULL]
    n = len(filled.book.positions)
    portfolio = expected_portfolio(filled)
    ewma = field(filled, "volatility", "ewma_volatility")
    overrides = filled.extra.tables[("volatility", "probability")]["volatility"]
    vol = np.where(overrides.isna(), ewma, overrides).astype(float)
    years = field(filled, "volatility", "probability_days") / 365
    drift = field(filled, "volatility", "drift")
    sides = filled.book.positions["side"].to_numpy()
    lp = portfolio["liquidation_price"].to_numpy(float)
    mark = filled.book.positions["mark_price"].to_numpy(float)
    probability = [pr.liquidation_probability(m, q, v, years, side=s, drift=drift)
                   for m, q, v, s in zip(mark, lp, vol, sides, strict=True)]
    sigmas = [pr.liquidation_distance_sigmas(m, q, v, years, side=s)
              for m, q, v, s in zip(mark, lp, vol, sides, strict=True)]
    # Probabilities far in the normal tail are compared to 1e-15 absolute as well: both sides
    # are exact there only to the precision of the normal CDF.
    got = column(filled, "volatility", "probability", "probability", n)
    bad = [i for i, (g, e) in enumerate(zip(got, probability, strict=True))
           if not math.isclose(g, e, rel_tol=REL, abs_tol=1e-15)]
    assert not bad, [(got[i], probability[i]) for i in bad[:5]]
    agree(column(filled, "volatility", "probability", "distance_sigmas", n), sigmas,
          "sigmas", infinite=("never", "reached"))
    assert 0 < sum(p > 0.01 for p in probability) < n  # both tails of the book are exercised


# --------------------------------------------------------------------------------------------
# Exchange Scorecard

@pytest.mark.parametrize("template_id", [FULL, "exchange-scorecard"])
def test_scorecard_matches_riskfuncs_counterparty(recalculated: dict[str, Filled],
                                                  template_id: str) -> None:
    filled = recalculated[template_id]
    rows = filled.extra.tables[("scorecard", "exchanges")]
    m = len(rows)
    score = cp.exchange_score(rows[list(layout.FACTORS)])
    agree(column(filled, "scorecard", "exchanges", "score", m), score.tolist(), "score")
    assert column(filled, "scorecard", "exchanges", "grade", m) == \
        cp.exchange_grade(score).tolist()
    pd_1y = cp.exchange_probability_of_default(score)
    agree(column(filled, "scorecard", "exchanges", "probability_of_default", m),
          pd_1y.tolist(), "pd")
    horizon = field(filled, "scorecard", "horizon_years")
    pd_h = cp.probability_of_default_over(pd_1y, horizon)
    agree(column(filled, "scorecard", "exchanges", "probability_over_horizon", m),
          pd_h.tolist(), "pd horizon")
    exposure = cp.exposure_by_exchange(portfolio_frame(filled.book)).reindex(rows["exchange"])
    agree(column(filled, "scorecard", "exchanges", "exposure", m), exposure.tolist(),
          "exposure", scale=col_scale(exposure.tolist()))
    loss = cp.expected_loss(exposure.to_numpy(), pd_h.to_numpy(),
                            rows["loss_given_default"].to_numpy())
    agree(column(filled, "scorecard", "exchanges", "expected_loss", m), loss.tolist(), "EL")
    agree(column(filled, "scorecard", "exchanges", "share", m),
          (exposure / exposure.sum()).tolist(), "share")
    weights = DEFAULT_WEIGHTS.normalised()
    agree(column(filled, "scorecard", "weights", "normalised", len(weights)),
          list(weights.values()), "normalised weights")
    conc = cp.concentration(exposure)
    agree([field(filled, "scorecard", "hhi")], [float(conc.hhi)], "hhi")
    agree([field(filled, "scorecard", "effective_venues")], [float(conc.effective_venues)],
          "effective venues")
    agree([field(filled, "scorecard", "expected_loss")], [float(loss.sum())], "total EL")


# --------------------------------------------------------------------------------------------
# Funding

def test_funding_matches_riskfuncs(recalculated: dict[str, Filled]) -> None:
    filled = recalculated[FULL]
    log = filled.extra.tables[("funding", "log")]
    rates, marks = log["rate"].to_numpy(float), log["mark_price"].to_numpy(float)
    k = len(log)
    p = filled.book.positions
    row = filled.extra.fields[("funding", "position_row")] - 1
    pos = p.iloc[row]
    payments = fd.funding_payment(pos["side"], pos["size"], marks, rates,
                                  contract=pos["contract"])
    agree(column(filled, "funding", "log", "payment", k), payments.tolist(), "payment",
          scale=col_scale(payments.tolist()))
    cumulative = fd.cumulative_funding(pos["side"], pos["size"], marks, rates,
                                       contract=pos["contract"])
    agree(column(filled, "funding", "log", "cumulative", k), cumulative.tolist(), "cumulative",
          scale=col_scale(payments.tolist()))
    agree([field(filled, "funding", "annualised_rate")], [float(rates.mean() * 1095)],
          "annualised (mean rate x 1095, independent)")
    symbol = field(filled, "funding", "symbol")
    n = len(p)
    got = column(filled, "funding", "after", "liquidation_price", n)
    checked = 0
    for i in range(n):
        r = p.iloc[i]
        if r["symbol"] != symbol:
            assert got[i] in (None, ""), i
            continue
        tiers = filled.book.tiers.get(symbol)
        kwargs: dict[str, Any] = ({"tiers": tiers} if tiers is not None else {
            "maintenance_margin_rate": r["maintenance_margin_rate"]
            if not pd.isna(r["maintenance_margin_rate"]) else None,
            "maintenance_amount": 0.0 if pd.isna(r["maintenance_amount"])
            else r["maintenance_amount"],
            "max_leverage": None if pd.isna(r["max_leverage"]) else r["max_leverage"]})
        expected = fd.liquidation_price_after_funding(
            r["side"], r["entry_price"], r["size"], r["collateral"], marks, rates,
            exchange=r["exchange"], contract=r["contract"],
            fee_rate=0.0 if pd.isna(r["fee_rate"]) else r["fee_rate"], **kwargs)
        agree([got[i]], [expected], f"after funding {i}")
        paid = fd.cumulative_funding(r["side"], r["size"], marks, rates,
                                     contract=r["contract"])[-1]
        agree(column(filled, "funding", "after", "paid", n)[i:i + 1], [paid], f"paid {i}")
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------------------------
# Risk Audit and Dashboard

def verdict(table: pd.DataFrame) -> str:
    return "PASS" if bool((table["passed"] == 1).all()) else "FAIL"


@pytest.mark.parametrize("template_id", [FULL, "risk-audit"])
def test_audit_statuses_match_riskfuncs_discipline(recalculated: dict[str, Filled],
                                                   template_id: str) -> None:
    """Computed checks against riskfuncs.discipline on riskfuncs' own figures (the distance
    check, which discipline has no function for, against the portfolio's distances)."""
    filled = recalculated[template_id]
    portfolio = expected_portfolio(filled)
    p = filled.book.positions
    items = load_texts()["audit"]
    status = column(filled, "audit", "checks", "status", len(items))
    by_id = dict(zip([i["id"] for i in items], status, strict=True))
    assert by_id["leverage"] == verdict(dc.check_leverage(portfolio["leverage"], cap=5))
    balance = portfolio["margin_balance"]
    # The buffer rule at the cap: the balance over the initial margin at 5x (account's).
    requirement = balance / (1 + buffer_at_cap(portfolio_frame(filled.book), portfolio, 5.0))
    dist = portfolio["distance_to_liquidation"]
    near = (dist[np.isfinite(dist)] < 0.10).any() or (dist == -np.inf).any()
    # The buffer check never passes a book with a position red on distance.
    assert by_id["buffer"] == ("FAIL" if near else verdict(
        dc.check_margin_buffer(balance, requirement, minimum=0.30)))
    stops = dc.check_stop_loss(p["side"], p["entry_price"], p["stop_price"].astype(float),
                               portfolio["liquidation_price"], mark_price=p["mark_price"])
    assert by_id["stops"] == verdict(stops)
    if template_id == "risk-audit":  # no stress, scorecard or volatility sheet: you tick
        for key in ("stress", "spread", "scores", "freshness"):
            assert by_id[key] in ("PASS", "FAIL", "N/A", "OPEN")
        assert column(filled, "audit", "checks", "how", len(items))[5] == "you tick"
        return
    exposure = cp.exposure_by_exchange(portfolio_frame(filled.book))
    assert by_id["spread"] == verdict(dc.check_diversification(exposure, max_share=0.5,
                                                               min_venues=2))
    assert by_id["distance"] == ("FAIL" if near else "PASS")
    last = filled.extra.tables[("volatility", "history")]["date"].max()
    age = (dt.datetime(2026, 11, 20) - last).days
    assert by_id["freshness"] == verdict(dc.check_model_freshness(age, max_age_days=7))
    for i, item in enumerate(items):
        if item["id"] in ("reconciled", "tiers_fresh", "reserves", "api_keys", "funding_plan"):
            answer = MANUAL_ANSWERS[i % len(MANUAL_ANSWERS)]
            expected = {"yes": "PASS", "no": "FAIL", "n/a": "N/A", "": "OPEN"}[answer]
            assert by_id[item["id"]] == expected, item["id"]
    assert field(filled, "audit", "passed") == status.count("PASS")
    assert field(filled, "audit", "open") == status.count("OPEN")


def test_dashboard_figures(recalculated: dict[str, Filled]) -> None:
    filled = recalculated[FULL]
    portfolio = expected_portfolio(filled)
    dist = portfolio["distance_to_liquidation"]
    agree([field(filled, "dashboard", "min_distance")], [float(dist[np.isfinite(dist)].min())],
          "min distance")
    assert field(filled, "dashboard", "positions") == len(filled.book.positions)
    assert field(filled, "dashboard", "worst_scenario") == field(filled, "stress",
                                                                 "worst_scenario")
    # The book's VaR (the Prices sheet; test_book_var checks it against riskfuncs.book_var).
    agree([field(filled, "dashboard", "var_usd")], [field(filled, "prices", "historical_var")],
          "var usd")
    probabilities = column(filled, "volatility", "probability", "probability",
                           len(filled.book.positions))
    agree([field(filled, "dashboard", "max_probability")], [max(probabilities)], "max P")


@pytest.mark.parametrize("variant", [FULL, FEW])
def test_dashboard_closest_to_liquidation(recalculated: dict[str, Filled], variant: str) -> None:
    """The ranking against riskfuncs.portfolio_margin's distances sorted in Python: nearest
    first, reached or past liquidation as 0, never reachable (+inf) left out, ties in table
    order, blank rows after the last position."""
    filled = recalculated[variant]
    p = filled.book.positions
    rows = layout.DASHBOARD.table("closest").rows
    distance = expected_portfolio(filled)["distance_to_liquidation"].tolist()
    ranked = sorted((max(d, 0.0), i) for i, d in enumerate(distance) if d != math.inf)[:rows]
    blank: list[Any] = [None] * (rows - len(ranked))
    got = {key: column(filled, "dashboard", "closest", key)
           for key in ("position", "distance", "alert", "row")}
    errors = [f"{key}[{i}]: {v}" for key, values in got.items() for i, v in enumerate(values)
              if isinstance(v, str) and (v.startswith("#") or v.startswith("Err:"))]
    assert not errors, errors
    agree(got["row"], [i + 1 for _, i in ranked] + blank, "closest row")
    agree(got["position"], [f"{p['symbol'].iloc[i]} {p['side'].iloc[i]} {p['exchange'].iloc[i]}"
                            for _, i in ranked] + blank, "closest position")
    agree(got["distance"], [d for d, _ in ranked] + blank, "closest distance")
    alerts = column(filled, "positions", "positions", "alert", len(p))
    agree(got["alert"], [alerts[i] for _, i in ranked] + blank, "closest alert")
    liquidated = load_texts()["alerts"]["liquidated"]
    assert all(got["alert"][k] == liquidated for k, (d, _) in enumerate(ranked) if d == 0)
    if variant == FEW:  # the cases the ranking must handle are in the book
        assert len(ranked) < rows and math.inf in distance
        assert [d for d, _ in ranked[:2]] == [0.0, 0.0]
        assert len({d for d, _ in ranked}) < len(ranked)  # a tie


def test_liquidation_reference_case(recalculated: dict[str, Filled]) -> None:
    """Binance's published example, through the whole formula chain of a filled row."""
    filled = recalculated["position-margin-monitor"]
    p = filled.book.positions
    lp = column(filled, "positions", "positions", "liquidation_price", len(p))
    i = int(np.flatnonzero((p["exchange"] == "binance").to_numpy()
                           & p["maintenance_margin_rate"].notna().to_numpy()
                           & (p["margin_mode"] == "isolated").to_numpy())[0])
    r = p.iloc[i]
    expected = liquidation_price(
        r["side"], r["entry_price"], r["size"], r["collateral"], contract=r["contract"],
        maintenance_margin_rate=r["maintenance_margin_rate"],
        maintenance_amount=0.0 if pd.isna(r["maintenance_amount"]) else r["maintenance_amount"],
        fee_rate=0.0 if pd.isna(r["fee_rate"]) else r["fee_rate"])
    agree([lp[i]], [expected], "binance isolated row")


"""Every figure of the manual, computed by riskfuncs while building.

:func:`build_context` makes the calls and returns a :class:`ManualContext`; the templates only
format what it holds. Inputs of the worked examples are the module constants below (or the
bundled sample data in ``templates/sample``); results are never written down by hand.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

import riskfuncs as rf
from addin import __version__
from addin._resources import templates_dir
from addin.reader.exchange_data import load_export, load_funding, load_ohlcv, load_tiers
from addin.report.assessment import positions_frame
from addin.watch.levels import Thresholds, level_for
from addin.workbook import layout
from riskfuncs.counterparty import LgdPrior

# ----------------------------------------------------------------------------------------------
# Inputs of the worked examples (results are computed from these).

#: The one position every venue's worked example liquidates: long 1 BTC at 60,000 with 6,000
#: USDT of margin (10x), at each venue's maintenance rate and fee.
EXAMPLE_ENTRY = 60_000.0
EXAMPLE_QUANTITY = 1.0
EXAMPLE_COLLATERAL = 6_000.0


@dataclass(frozen=True)
class VenueInputs:
    """What a venue's worked example passes to ``liquidation_price`` besides the position."""

    venue: str
    title: str
    maintenance_margin_rate: float | None = None
    fee_rate: float = 0.0
    max_leverage: float | None = None
    use_sample_tiers: bool = False
    #: how the venue's fees enter, in a trader's words
    fees: str = "none"
    #: the stablecoin the example's margin is in
    settle: str = "USDT"


VENUE_INPUTS: tuple[VenueInputs, ...] = (
    VenueInputs("binance", "Binance USDS-M", use_sample_tiers=True,
                fees="none in the published formula"),
    VenueInputs("bybit", "Bybit", maintenance_margin_rate=0.005, fee_rate=0.00055,
                fees="the fee to close (the taker rate on the position's value at the "
                     "bankruptcy price) is kept back from the margin"),
    VenueInputs("okx", "OKX", maintenance_margin_rate=0.004, fee_rate=0.0005,
                fees="the taker fee to close at the liquidation price is added to the "
                     "requirement"),
    VenueInputs("gate", "Gate", maintenance_margin_rate=0.005, fee_rate=0.00075,
                fees="the taker fee is added to the maintenance rate"),
    VenueInputs("hyperliquid", "Hyperliquid", max_leverage=40.0, settle="USDC"),
    VenueInputs("dydx", "dYdX v4", maintenance_margin_rate=0.03, settle="USDC"),
    VenueInputs("bitmex", "BitMEX", maintenance_margin_rate=0.005, fee_rate=0.00075,
                fees="the exit taker fee (and any funding charged) is added to the "
                     "maintenance rate"),
)

#: Margin and collateral chapter: one position at a maintenance rate, the buffer rule applied.
BUFFER_MMR = 0.005
STRESS_MOVES = (0.15, 0.30, 0.50)
#: A unified account: a BTC long and an ETH short on one USDT wallet plus some BTC.
UNIFIED_MODE: Final = "bybit_uta"
UNIFIED_BOOK = {
    "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"], "side": ["long", "short"],
    "contracts": [1.0, 10.0], "entryPrice": [60_000.0, 3_000.0],
    "markPrice": [61_000.0, 3_100.0], "maintenanceMarginRate": [0.005, 0.005],
}
UNIFIED_BALANCES = {"USDT": 8_000.0, "BTC": 0.1}
UNIFIED_HAIRCUTS = {"BTC": 0.95}
#: OKX's tiered discount table for BTC collateral (OKX "Tiered discount rate").
OKX_BTC_DISCOUNT = (
    {"minAmount": 0, "maxAmount": 20, "ratio": 0.98},
    {"minAmount": 20, "maxAmount": 25, "ratio": 0.975},
    {"minAmount": 25, "maxAmount": 30, "ratio": 0.97},
    {"minAmount": 30, "maxAmount": 50, "ratio": 0.965},
    {"minAmount": 50, "maxAmount": 70, "ratio": 0.96},
    {"minAmount": 70, "maxAmount": 90, "ratio": 0.955},
    {"minAmount": 90, "maxAmount": 110, "ratio": 0.95},
)
COLLATERAL_BTC = 100.0
COLLATERAL_BTC_PRICE = 60_000.0
STABLE_BALANCE = 10_000.0
#: Position sizing: equity, the share of it a stop may lose, entry and stop.
SIZING = {"equity": 50_000.0, "risk_fraction": 0.01, "entry": 60_000.0, "stop": 57_000.0,
          "fee_rate": 0.0005}
SIZING_LEVERAGES = (3.0, 5.0, 10.0, 20.0)
#: Scorecard sub-score examples: reserves 105% attested 20 days ago, insurance fund 1bn against
#: 30bn open interest, one incident and two auto-deleveraging events in the period.
RESERVE_EXAMPLE = (1.05, 20.0)
INSURANCE_EXAMPLE = (1.0e9, 30.0e9)
INCIDENT_EXAMPLE = (1.0, 2.0)
PD_HORIZON_YEARS = 0.25
#: Funding: a premium index, and one interval on the sample BTC long.
PREMIUM_EXAMPLES = (0.0, 0.0003, 0.0012, -0.0010)
#: Quantitative models.
VAR_CONFIDENCE = 0.99
VAR_HORIZON_DAYS = 10.0
PROBABILITY_HORIZONS_DAYS = (1.0, 7.0, 30.0)
#: The 2022 case study: the year's two events in the scenario library.
CASE_SCENARIOS = ("LUNA/UST 2022", "FTX 2022")
CASE_DEFAULT_VENUE = "okx"
#: The loss given default a venue failure takes: FTX's as the library's FTX 2022 event states it.
CASE_DEFAULT_EVENT = "FTX 2022"
CASE_DEFAULT_OF = "ftx"
HEADLINE_SCENARIO = "BTC -30% 1h"
#: The loss-given-default priors the diversification chapter lists, with their names in print.
LGD_PRIORS: dict[LgdPrior, str] = {
    "ftx": "FTX", "mt_gox": "Mt. Gox", "quadrigacx": "QuadrigaCX", "celsius": "Celsius",
    "voyager": "Voyager", "bitfinex_2016": "Bitfinex hack", "opaque_offshore":
    "an opaque offshore venue (prior)", "regulated_segregated": "a regulated venue with "
    "segregated client assets (prior)",
}

SAMPLE_FILES = ("positions.json", "tiers.json", "ohlcv.json", "funding.json", "exchanges.json")


# ----------------------------------------------------------------------------------------------
# What the templates read.

@dataclass(frozen=True)
class VenueExample:
    """A venue's worked example: inputs and what ``liquidation_price`` gives."""

    venue: str
    title: str
    settle: str
    basis: str
    fees: str
    source: str
    maintenance_margin_rate: float
    fee_rate: float
    max_leverage: float | None
    tiered: bool
    tier: int
    #: the long's position value at its liquidation price
    liquidation_notional: float
    liquidation_long: float
    liquidation_short: float
    bankruptcy_long: float
    distance_long: float
    distance_short: float
    #: equity left at the long's liquidation price, and that as a share of the position value
    equity_at_liquidation: float
    effective_rate: float


@dataclass(frozen=True)
class Pointer:
    """Where a chapter's subject lives in the product."""

    functions: tuple[tuple[str, str], ...]  # (signature, description)
    sheets: tuple[str, ...]                  # "Sheet title (file.xlsx)"
    commands: tuple[str, ...]


@dataclass
class ManualContext:
    """Everything the templates show, computed while building."""

    version: str
    built: str
    example: dict[str, float]
    venues: list[VenueExample]
    book: dict[str, Any]
    models: dict[str, Any]
    stress: dict[str, Any]
    margin: dict[str, Any]
    sizing: dict[str, Any]
    diversification: dict[str, Any]
    scorecard: dict[str, Any]
    funding: dict[str, Any]
    alerts: dict[str, Any]
    case: dict[str, Any]
    checklist: list[dict[str, Any]]
    pointers: dict[str, Pointer]
    charts: dict[str, bytes] = field(default_factory=dict)

    def venue(self, name: str) -> VenueExample:
        for example in self.venues:
            if example.venue == name:
                return example
        raise KeyError(name)


def _f(value: Any) -> float:
    return float(np.asarray(value, dtype=float))


def sample_dir() -> Path:
    return templates_dir() / "sample"


# ----------------------------------------------------------------------------------------------
# Chapters

def _venue_examples(sample_tiers: Mapping[str, Sequence[Mapping[str, Any]]]
                    ) -> list[VenueExample]:
    out = []
    btc_tiers = sample_tiers.get("BTC/USDT:USDT")
    for spec in VENUE_INPUTS:
        rule = rf.EXCHANGE_RULES[spec.venue]
        kwargs: dict[str, Any] = {"exchange": spec.venue, "fee_rate": spec.fee_rate}
        if spec.use_sample_tiers and btc_tiers:
            kwargs["tiers"] = list(btc_tiers)
        elif spec.max_leverage is not None:
            kwargs["max_leverage"] = spec.max_leverage
        else:
            kwargs["maintenance_margin_rate"] = spec.maintenance_margin_rate
        args = (EXAMPLE_ENTRY, EXAMPLE_QUANTITY, EXAMPLE_COLLATERAL)
        long_ = _f(rf.liquidation_price("long", *args, **kwargs))
        short = _f(rf.liquidation_price("short", *args, **kwargs))
        bankrupt = _f(rf.bankruptcy_price("long", *args))
        equity = EXAMPLE_COLLATERAL + _f(rf.unrealized_pnl("long", EXAMPLE_ENTRY, long_,
                                                           EXAMPLE_QUANTITY))
        value = _f(rf.notional(EXAMPLE_QUANTITY, long_))
        tier = 0
        if "tiers" in kwargs:
            tier = int(_f(rf.tier_for_notional(value, kwargs["tiers"])))
            rate = float(kwargs["tiers"][tier - 1]["maintenanceMarginRate"])
        elif spec.max_leverage is not None:
            rate = 1.0 / (2.0 * spec.max_leverage)
        else:
            rate = float(spec.maintenance_margin_rate or 0.0)
        out.append(VenueExample(
            venue=spec.venue, title=spec.title, settle=spec.settle,
            basis=rule.maintenance_basis, fees=spec.fees,
            source=rule.source, maintenance_margin_rate=rate, fee_rate=spec.fee_rate,
            max_leverage=spec.max_leverage, tiered="tiers" in kwargs, tier=tier,
            liquidation_notional=value,
            liquidation_long=long_, liquidation_short=short, bankruptcy_long=bankrupt,
            distance_long=_f(rf.distance_to_liquidation("long", EXAMPLE_ENTRY, long_)),
            distance_short=_f(rf.distance_to_liquidation("short", EXAMPLE_ENTRY, short)),
            equity_at_liquidation=equity, effective_rate=equity / value,
        ))
    return out


def _header(sheet: layout.Sheet, table: str, key: str) -> str:
    for column in sheet.table(table).columns:
        if column.key == key:
            return column.header
    raise KeyError(f"{sheet.key}.{table} has no column {key!r}")


def _book(frame: pd.DataFrame, tiers: rf.TierTable | None = None) -> dict[str, Any]:
    margins = rf.portfolio_margin(frame)
    rows = []
    for i in frame.index:
        p, m = frame.loc[i], margins.loc[i]
        rows.append({
            "exchange": p["exchange"], "symbol": p["symbol"], "contract": p["contractType"],
            "side": p["side"], "size": p["contracts"], "entry_price": p["entryPrice"],
            "mark_price": p["markPrice"], "collateral": p["collateral"],
            "margin_mode": p["marginMode"], "maintenance_margin_rate": p["maintenanceMarginRate"],
            "stop_price": p["stopLossPrice"], "rule": m["rule"],
            "liquidation_price": m["liquidation_price"],
            "distance_to_liquidation": m["distance_to_liquidation"],
            "margin_buffer": m["margin_buffer"], "effective_leverage": m["leverage"],
            "label": f"{p['exchange']} {p['symbol'].split(':')[0]} {p['side']}",
        })
    keys = ("exchange", "symbol", "side", "size", "entry_price", "mark_price", "collateral",
            "margin_mode", "liquidation_price", "distance_to_liquidation", "margin_buffer",
            "effective_leverage")
    headers = {k: _header(layout.POSITIONS, "positions", k) for k in keys}
    closest = min(rows, key=lambda r: float(r["distance_to_liquidation"]))
    return {"rows": rows, "headers": headers, "count": len(rows),
            "venues": sorted({r["exchange"] for r in rows}), "closest": closest,
            "margins": margins}


def _models(frame: pd.DataFrame, closes: np.ndarray, book: dict[str, Any]) -> dict[str, Any]:
    r = np.asarray(rf.returns(closes), dtype=float)
    vol_cc = _f(rf.close_to_close_volatility(r))
    vol_ewma = _f(rf.ewma_volatility(r))
    daily_ewma = _f(rf.ewma_volatility(r, periods_per_year=1))
    hist = _f(rf.historical_var(r, confidence=VAR_CONFIDENCE))
    normal = _f(rf.parametric_var(r, confidence=VAR_CONFIDENCE))
    cornish = _f(rf.parametric_var(r, confidence=VAR_CONFIDENCE, distribution="cornish_fisher"))
    es = _f(rf.expected_shortfall(r, confidence=VAR_CONFIDENCE))
    btc = next(row for row in book["rows"] if row["symbol"] == "BTC/USDT:USDT")
    value = float(btc["size"]) * float(btc["mark_price"])
    probabilities = []
    for row in book["rows"]:
        if not str(row["symbol"]).startswith("BTC/"):
            continue
        probs = [_f(rf.liquidation_probability(row["mark_price"], row["liquidation_price"],
                                               vol_ewma, days / 365.0, side=row["side"]))
                 for days in PROBABILITY_HORIZONS_DAYS]
        sigmas = _f(rf.liquidation_distance_sigmas(row["mark_price"], row["liquidation_price"],
                                                   vol_ewma, 1 / 365.0, side=row["side"]))
        probabilities.append({"label": row["label"], "distance": row["distance_to_liquidation"],
                              "sigmas": sigmas, "probabilities": probs})
    return {
        "lam": float(inspect.signature(rf.ewma_volatility).parameters["lam"].default),
        "periods_per_year": float(
            inspect.signature(rf.ewma_volatility).parameters["periods_per_year"].default),
        "tail": 1.0 - VAR_CONFIDENCE,
        "observations": len(r), "closes": len(closes), "first_close": float(closes[0]),
        "last_close": float(closes[-1]),
        "vol_cc": vol_cc, "vol_ewma": vol_ewma, "daily_ewma": daily_ewma,
        "confidence": VAR_CONFIDENCE, "var_hist": hist, "var_normal": normal,
        "var_cornish": cornish, "es_hist": es,
        "horizon_days": VAR_HORIZON_DAYS,
        "var_hist_horizon": _f(rf.scale_to_horizon(hist, VAR_HORIZON_DAYS)),
        "btc_label": btc["label"], "btc_value": value,
        "var_usd": hist * value, "es_usd": es * value,
        "horizons": PROBABILITY_HORIZONS_DAYS, "probabilities": probabilities,
    }


def _stress(frame: pd.DataFrame, book: dict[str, Any]) -> dict[str, Any]:
    library = rf.scenario_library()
    result = rf.stress_test(frame, list(library))
    by = result.by_scenario
    scenarios: list[dict[str, Any]] = []
    for s in library:
        row = by.loc[s.name]
        scenarios.append({
            "name": s.name, "horizon_hours": s.horizon_hours, "btc_move": s.moves.get("BTC"),
            "description": s.description, "loss": _f(row["loss"]),
            "loss_fraction": _f(row["loss_fraction"]),
            "liquidated": int(_f(row["positions_liquidated"])),
            "equity_left": _f(row["equity_left"]), "shortfall": _f(row["shortfall"]),
        })
    worst = max(scenarios, key=lambda s: s["loss"])
    head = by.loc[HEADLINE_SCENARIO]
    liquidated = result.table("liquidated")[HEADLINE_SCENARIO]
    headline_positions = [row["label"] for row, hit in
                          zip(book["rows"], liquidated.to_numpy(), strict=True) if bool(hit)]
    rating = rf.hybrid_assessment(
        distance_to_liquidation=book["margins"]["distance_to_liquidation"],
        margin_buffer=book["margins"]["margin_buffer"], leverage=book["margins"]["leverage"],
        worst_scenario_liquidated=result.table("liquidated")[worst["name"]],
    )
    ratings = [{"label": row["label"], "rating": str(rating.positions["rating"].iloc[i]),
                "reasons": str(rating.positions["reasons"].iloc[i])}
               for i, row in enumerate(book["rows"])]
    return {
        "count": len(library), "scenarios": scenarios, "worst": worst,
        "headline": HEADLINE_SCENARIO,
        "headline_btc_move": rf.get_scenario(HEADLINE_SCENARIO).moves["BTC"],
        "eth_beta": rf.DEFAULT_BETAS["ETH"], "default_beta": rf.Scenario("x").default_beta,
        "equity_before": _f(head["equity_before"]), "headline_loss": _f(head["loss"]),
        "headline_fraction": _f(head["loss_fraction"]),
        "headline_left": _f(head["equity_left"]),
        "headline_liquidated": headline_positions, "rating": rating.rating,
        "rating_reasons": list(rating.reasons), "ratings": ratings,
    }


def _margin() -> dict[str, Any]:
    notional = _f(rf.notional(EXAMPLE_QUANTITY, EXAMPLE_ENTRY))
    maintenance = _f(rf.maintenance_margin(EXAMPLE_QUANTITY, EXAMPLE_ENTRY,
                                           maintenance_margin_rate=BUFFER_MMR))
    minimum = rf.DisciplineLimits().minimum_margin_buffer
    needed = maintenance * (1 + minimum)
    buffer_at_example = _f(rf.margin_buffer(EXAMPLE_COLLATERAL, maintenance))
    moves = [{"move": m, "leverage": _f(rf.max_leverage_for_move(
        m, side="long", maintenance_margin_rate=BUFFER_MMR, buffer=minimum))}
        for m in STRESS_MOVES]
    okx_value = _f(rf.collateral_value(COLLATERAL_BTC, COLLATERAL_BTC_PRICE,
                                       list(OKX_BTC_DISCOUNT)))
    usdc = rf.get_scenario("USDC depeg 2023").collateral_haircuts["USDC"]
    usdc_value = _f(rf.collateral_value(STABLE_BALANCE, 1.0 - usdc))
    book = pd.DataFrame(UNIFIED_BOOK)
    state = rf.account_margin(book, UNIFIED_BALANCES, mode=UNIFIED_MODE,
                              collateral_tiers=UNIFIED_HAIRCUTS)
    positions = [{"symbol": s, "side": sd, "contracts": c, "entry": e, "mark": mk,
                  "maintenance": float(mm), "liquidation": float(liq)}
                 for s, sd, c, e, mk, mm, liq in zip(
                     book["symbol"], book["side"], book["contracts"], book["entryPrice"],
                     book["markPrice"], state.positions["maintenance_margin"],
                     state.positions["account_liquidation_price"], strict=True)]
    coins = [{"coin": str(c), "balance": float(r["balance"]), "price": float(r["price"]),
              "value": float(r["value"])} for c, r in state.coins.iterrows()]
    return {
        "mmr": BUFFER_MMR, "notional": notional, "maintenance": maintenance,
        "minimum": minimum, "needed": needed, "collateral": EXAMPLE_COLLATERAL,
        "buffer_at_example": buffer_at_example, "moves": moves,
        "okx_btc": COLLATERAL_BTC, "okx_price": COLLATERAL_BTC_PRICE,
        "okx_full": COLLATERAL_BTC * COLLATERAL_BTC_PRICE, "okx_value": okx_value,
        "okx_top_ratio": OKX_BTC_DISCOUNT[0]["ratio"],
        "usdc_haircut": usdc, "usdc_balance": STABLE_BALANCE, "usdc_value": usdc_value,
        "unified_mode": UNIFIED_MODE, "unified_positions": positions, "unified_coins": coins,
        "unified_haircut": UNIFIED_HAIRCUTS["BTC"],
        "equity": state.equity, "requirement": state.requirement, "ratio": state.ratio,
        "ratio_name": state.ratio_name, "trigger": state.trigger,
        "liquidated": state.liquidated,
    }


def _sizing(frame: pd.DataFrame) -> dict[str, Any]:
    s = SIZING
    quantity = _f(rf.position_size(s["equity"], s["risk_fraction"], s["entry"], s["stop"],
                                   side="long"))
    with_fees = _f(rf.position_size(s["equity"], s["risk_fraction"], s["entry"], s["stop"],
                                    side="long", fee_rate=s["fee_rate"]))
    leverage = quantity * s["entry"] / s["equity"]
    checks = []
    for lev in (*SIZING_LEVERAGES, leverage):
        row = rf.check_leverage(lev).iloc[0]
        checks.append({"leverage": lev, "passed": bool(row["passed"]),
                       "message": str(row["message"])})
    report = rf.discipline_report(frame)
    failed = [{"check": str(r["check"]), "scope": str(r["scope"]), "message": str(r["message"])}
              for _, r in report.iterrows() if not bool(r["passed"])]
    limits = rf.DisciplineLimits()
    return {**s, "quantity": quantity, "quantity_fees": with_fees, "leverage": leverage,
            "loss_at_stop": quantity * (s["entry"] - s["stop"]), "checks": checks,
            "report_count": len(report), "failed": failed, "limits": limits,
            "cap_move": 1.0 / limits.leverage_cap,
            "cap_moves": [{"move": m, "leverage": 1.0 / m} for m in STRESS_MOVES]}


def _exchanges() -> dict[str, dict[str, Any]]:
    data = json.loads((sample_dir() / "exchanges.json").read_text(encoding="utf-8"))
    return {str(e["exchange"]): e for e in data["exchanges"]}


def _scorecard(facts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    rows = []
    for name, e in facts.items():
        factors = {k: e[k] for k in rf.DEFAULT_WEIGHTS.as_dict()} \
            if hasattr(rf.DEFAULT_WEIGHTS, "as_dict") else \
            {k: v for k, v in e.items() if k not in ("exchange", "loss_given_default")}
        score = _f(rf.exchange_score(factors))
        pd1 = _f(rf.exchange_probability_of_default(score))
        rows.append({"exchange": name, "factors": factors, "score": score,
                     "grade": str(rf.exchange_grade(score)), "pd": pd1,
                     "pd_horizon": _f(rf.probability_of_default_over(pd1, PD_HORIZON_YEARS)),
                     "lgd": float(e["loss_given_default"])})
    weights: list[dict[str, Any]] = [{"factor": k, "weight": float(v)} for k, v in
               zip(rf.DEFAULT_WEIGHTS.__dataclass_fields__,
                   (getattr(rf.DEFAULT_WEIGHTS, k)
                    for k in rf.DEFAULT_WEIGHTS.__dataclass_fields__), strict=True)]
    factor_headers = {w["factor"]: _header(layout.SCORECARD, "exchanges", w["factor"])
                      for w in weights}
    bands = [{"grade": b.grade, "min_score": b.min_score, "pd": b.probability_of_default}
             for b in rf.GRADE_BANDS]
    return {
        "rows": rows, "weights": weights, "factor_headers": factor_headers, "bands": bands,
        "horizon": PD_HORIZON_YEARS,
        "reserve": (*RESERVE_EXAMPLE, _f(rf.reserve_subscore(*RESERVE_EXAMPLE))),
        "insurance": (*INSURANCE_EXAMPLE, _f(rf.insurance_fund_subscore(*INSURANCE_EXAMPLE))),
        "incident": (*INCIDENT_EXAMPLE, _f(rf.incident_subscore(*INCIDENT_EXAMPLE))),
    }


def _diversification(frame: pd.DataFrame, scorecard: dict[str, Any]) -> dict[str, Any]:
    exposures = rf.exposure_by_exchange(frame)
    total = float(exposures.sum())
    conc = rf.concentration(exposures)
    check = rf.diversification_check(exposures)
    by_venue = {r["exchange"]: r for r in scorecard["rows"]}
    rows = []
    for venue, exposure in exposures.items():
        card = by_venue.get(str(venue))
        pd_h = card["pd_horizon"] if card else math.nan
        lgd = card["lgd"] if card else math.nan
        rows.append({"exchange": str(venue), "exposure": float(exposure),
                     "share": float(exposure) / total, "pd": pd_h, "lgd": lgd,
                     "expected_loss": _f(rf.expected_loss(float(exposure), pd_h, lgd))})
    priors = [{"name": label, "lgd": rf.loss_given_default_prior(n)}
              for n, label in LGD_PRIORS.items()]
    return {"rows": rows, "total": total, "hhi": conc.hhi,
            "effective_venues": conc.effective_venues, "passed": check.passed,
            "reason": check.reason, "max_share": check.max_share,
            "min_venues": check.min_venues, "largest": check.largest_venue,
            "largest_share": check.largest_share,
            "expected_loss": sum(r["expected_loss"] for r in rows), "priors": priors,
            "horizon": PD_HORIZON_YEARS}


def _funding(frame: pd.DataFrame, book: dict[str, Any]) -> dict[str, Any]:
    symbol, log = load_funding(sample_dir() / "funding.json")
    rates = np.array([row["rate"] for row in log], dtype=float)
    marks = np.array([row["mark_price"] for row in log], dtype=float)
    position = next(r for r in book["rows"] if r["symbol"] == symbol)
    i = next(j for j, r in enumerate(book["rows"]) if r is position)
    p = frame.iloc[i]
    payment = _f(rf.funding_payment(position["side"], position["size"], marks[0], rates[0]))
    total = np.asarray(rf.cumulative_funding(position["side"], float(position["size"]), marks,
                                             rates), dtype=float)
    after = _f(rf.liquidation_price_after_funding(
        position["side"], p["entryPrice"], p["contracts"], p["collateral"], marks, rates,
        exchange=position["rule"], maintenance_margin_rate=p["maintenanceMarginRate"]))
    premiums = [{"premium": x, "rate": _f(rf.funding_rate(x))} for x in PREMIUM_EXAMPLES]
    defaults = inspect.signature(rf.funding_rate).parameters
    spike = rf.get_scenario("Funding +0.3%/8h 3d")
    spike_result = rf.stress_test(frame, spike).by_scenario.iloc[0]
    return {"symbol": symbol, "label": position["label"], "intervals": len(log),
            "first_rate": float(rates[0]), "mark": float(marks[0]), "payment": payment,
            "total": float(total[-1]), "average_rate": float(rates.mean()),
            "annualised": float(rates.mean()) * 3 * 365,
            "liquidation_now": position["liquidation_price"], "liquidation_after": after,
            "premiums": premiums, "interest": float(defaults["interest_rate"].default),
            "clamp": float(defaults["clamp"].default), "spike_name": spike.name,
            "spike_rate": spike.funding_rate,
            "spike_intervals": spike.funding_intervals,
            "spike_funding": _f(spike_result["funding"]),
            "spike_liquidated": int(_f(spike_result["positions_liquidated"]))}


def _alerts(book: dict[str, Any]) -> dict[str, Any]:
    t = Thresholds()
    rows = [{"label": r["label"], "distance": r["distance_to_liquidation"],
             "level": level_for(float(r["distance_to_liquidation"]), "green", t)}
            for r in book["rows"]]
    # A red position recovering: where it turns amber again, with the hysteresis band.
    back = t.red + t.hysteresis
    return {"red": t.red, "amber": t.amber, "hysteresis": t.hysteresis,
            "cooldown_minutes": t.cooldown / 60.0, "rows": rows, "back_to_amber": back,
            "still_red": level_for(t.red + t.hysteresis / 2, "red", t),
            "now_amber": level_for(back, "red", t)}


def _case(frame: pd.DataFrame, book: dict[str, Any]) -> dict[str, Any]:
    lgd = rf.get_scenario(CASE_DEFAULT_EVENT).exchange_default[CASE_DEFAULT_OF]
    default = rf.exchange_default_scenario(CASE_DEFAULT_VENUE, loss_given_default=lgd)
    scenarios: list[rf.Scenario | str] = [*CASE_SCENARIOS, default]
    result = rf.stress_test(frame, scenarios)
    liquidated = result.table("liquidated")
    events = []
    for s in result.scenarios:
        row = result.by_scenario.loc[s.name]
        hit = [r["label"] for r, h in zip(book["rows"], liquidated[s.name].to_numpy(),
                                          strict=True) if bool(h)]
        events.append({"name": s.name, "description": s.description,
                       "moves": dict(s.moves), "haircuts": dict(s.collateral_haircuts),
                       "defaults": dict(s.exchange_default), "loss": _f(row["loss"]),
                       "fraction": _f(row["loss_fraction"]),
                       "default_loss": _f(row["default_loss"]),
                       "liquidated": hit, "equity_left": _f(row["equity_left"])})
    return {"events": events, "venue": CASE_DEFAULT_VENUE, "lgd": lgd,
            "equity_before": float(result.by_scenario["equity_before"].iloc[0])}


def _checklist(frame: pd.DataFrame, book: dict[str, Any], stress: dict[str, Any],
               diversification: dict[str, Any]) -> list[dict[str, Any]]:
    texts = json.loads((templates_dir() / "workbook" / "texts.json").read_text(encoding="utf-8"))
    report = rf.discipline_report(frame)

    def status(check: str) -> str:
        rows = report[report["check"] == check]
        if rows.empty:
            return ""
        bad = int((~rows["passed"].astype(bool)).sum())
        return "passed" if bad == 0 else f"{bad} of {len(rows)} failed"

    alert = Thresholds().red
    close = sum(1 for r in book["rows"] if float(r["distance_to_liquidation"]) < alert)
    computed = {
        "leverage": status("leverage"), "buffer": status("margin_buffer"),
        "stops": status("stop_loss"),
        "distance": "passed" if close == 0 else f"{close} of {book['count']} failed",
        "stress": "passed" if stress["worst"]["liquidated"] == 0 else
        f"{stress['worst']['liquidated']} of {book['count']} liquidated",
        "spread": "passed" if diversification["passed"] else "failed",
    }
    return [{"id": item["id"], "text": item["text"], "demo": computed.get(item["id"], "")}
            for item in texts["audit"]]


# ----------------------------------------------------------------------------------------------
# Where each chapter points

CHAPTER_POINTERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "credit-risk": (("PERP_PORTFOLIO", "PERP_ASSESSMENT", "PERP_BOOK_RATING"),
                    ("dashboard",), ("perprisk demo", "perprisk report BOOK.xlsx")),
    "liquidation": (("PERP_LIQ_PRICE", "PERP_BANKRUPTCY_PRICE", "PERP_EXCHANGE_RULE",
                     "PERP_LIQ_DISTANCE", "PERP_TIER"),
                    ("positions", "tiers"), ("perprisk fetch", "perprisk fill")),
    "models": (("PERP_EWMA_VOLATILITY", "PERP_HISTORICAL_VAR", "PERP_EXPECTED_SHORTFALL",
                "PERP_LIQ_PROBABILITY", "PERP_STRESS", "PERP_SCENARIOS"),
               ("volatility", "stress"), ("perprisk report BOOK.xlsx",)),
    "margin": (("PERP_MARGIN_BUFFER", "PERP_MAX_LEVERAGE_FOR_MOVE", "PERP_COLLATERAL_VALUE",
                "PERP_ACCOUNT_MARGIN"), ("positions",), ("perprisk check BOOK.xlsx",)),
    "sizing": (("PERP_POSITION_SIZE", "PERP_CHECK_LEVERAGE", "PERP_CHECK_MARGIN_BUFFER",
                "PERP_CHECK_STOP_LOSS", "PERP_DISCIPLINE_REPORT"),
               ("positions", "audit"), ("perprisk report BOOK.xlsx",)),
    "diversification": (("PERP_EXPOSURE_BY_EXCHANGE", "PERP_CONCENTRATION",
                         "PERP_EXPECTED_LOSS", "PERP_DIVERSIFICATION_CHECK"),
                        ("scorecard",), ("perprisk report BOOK.xlsx",)),
    "scorecard": (("PERP_EXCHANGE_SCORE", "PERP_EXCHANGE_GRADE", "PERP_EXCHANGE_PD",
                   "PERP_RESERVE_SUBSCORE", "PERP_INSURANCE_SUBSCORE",
                   "PERP_INCIDENT_SUBSCORE"),
                  ("scorecard",), ("perprisk por verify PROOF.json",)),
    "funding": (("PERP_FUNDING_RATE", "PERP_FUNDING_PAYMENT", "PERP_CUMULATIVE_FUNDING",
                 "PERP_LIQ_PRICE_AFTER_FUNDING"), ("funding",), ("perprisk fetch",)),
    "alerts": (("PERP_LIQ_DISTANCE", "PERP_LIQ_DISTANCE_SIGMAS"), ("dashboard",),
               ("perprisk watch --exchange ID", "perprisk email BOOK.xlsx --to ADDRESS")),
    "case-2022": (("PERP_STRESS", "PERP_STRESS_POSITIONS", "PERP_SCENARIO_MOVE"),
                  ("stress",), ("perprisk report BOOK.xlsx",)),
    "checklist": (("PERP_RISK_AUDIT", "PERP_DISCIPLINE_REPORT"), ("audit",),
                  ("perprisk check BOOK.xlsx", "perprisk report BOOK.xlsx")),
}


def _pointers() -> dict[str, Pointer]:
    from addin.excel.reference import functions

    infos = {f.name: f for f in functions()}
    sheets = {s.key: s for s in layout.ALL_SHEETS}

    def where(key: str) -> str:
        files = [t.filename for t in layout.TEMPLATES.values() if key in t.sheets]
        return f"{sheets[key].title} ({', '.join(files)})"

    out = {}
    for chapter, (names, sheet_keys, commands) in CHAPTER_POINTERS.items():
        missing = [n for n in names if n not in infos]
        if missing:
            raise KeyError(f"chapter {chapter}: no cell function {', '.join(missing)}")
        out[chapter] = Pointer(
            functions=tuple((infos[n].signature, infos[n].description) for n in names),
            sheets=tuple(where(k) for k in sheet_keys), commands=commands)
    return out


def build_context(*, when: dt.datetime | None = None) -> ManualContext:
    """Make every call the manual shows, on the bundled sample data."""
    sample = sample_dir()
    export = load_export(sample / "positions.json")
    records = [p.values for p in export.positions]  # noqa: PD011 - a dict
    table = pd.DataFrame(records, index=pd.RangeIndex(1, len(records) + 1))
    frame = positions_frame(table)
    sample_tiers = load_tiers(sample / "tiers.json")
    _, bars = load_ohlcv(sample / "ohlcv.json")
    closes = np.array([close for _, close in bars], dtype=float)
    book = _book(frame)
    stress = _stress(frame, book)
    scorecard = _scorecard(_exchanges())
    diversification = _diversification(frame, scorecard)
    stamp = (when or dt.datetime.now(dt.UTC)).strftime("%-d %B %Y")
    return ManualContext(
        version=__version__, built=stamp,
        example={"entry": EXAMPLE_ENTRY, "quantity": EXAMPLE_QUANTITY,
                 "collateral": EXAMPLE_COLLATERAL,
                 "leverage": EXAMPLE_QUANTITY * EXAMPLE_ENTRY / EXAMPLE_COLLATERAL},
        venues=_venue_examples(sample_tiers), book=book, models=_models(frame, closes, book),
        stress=stress, margin=_margin(), sizing=_sizing(frame),
        diversification=diversification, scorecard=scorecard,
        funding=_funding(frame, book), alerts=_alerts(book), case=_case(frame, book),
        checklist=_checklist(frame, book, stress, diversification), pointers=_pointers(),
    )

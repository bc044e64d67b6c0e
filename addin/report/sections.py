"""Assessment sections read from the workbook's other sheets, each computed with riskfuncs.

* stress scenarios and betas from the Stress Test sheet (the trader's own scenario library);
* exchange scores, grades, default probabilities and expected loss from the Exchange Scorecard,
  with each checked proof of reserves (a failed one counts 0 and is a red alert);
* volatility, VaR and expected shortfall from the price history on Volatility & VaR, and the
  probability that each position is liquidated within the chosen number of days;
* the answers of the Risk Audit checklist.

Each builder returns None when its sheet is not filled in, so the report says what is missing
instead of showing numbers nobody entered.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from addin.reader import FilledWorkbook
from addin.reader.filled import is_blank, name_key
from addin.report.assessment import amount_currency
from riskfuncs.counterparty import (
    exchange_grade,
    exchange_probability_of_default,
    exchange_score,
    expected_loss,
    probability_of_default_over,
)
from riskfuncs.data.score_weights import FACTORS, GradeBand, ScoreWeights
from riskfuncs.scenarios import Scenario, span_grid
from riskfuncs.var import (
    ShortHistoryWarning,
    book_var,
    expected_shortfall,
    historical_var,
    parametric_var,
    scale_to_horizon,
)
from riskfuncs.volatility import ewma_volatility, returns


def _get(record: Mapping[Any, Any], key: str, default: Any = None) -> Any:
    value = record.get(key)
    return default if is_blank(value) else value


# ----------------------------------------------------------------------------------------------
# Stress scenarios

def scenarios_of(book: FilledWorkbook) -> tuple[tuple[Scenario, ...], dict[str, float]] | None:
    """The Stress Test sheet's scenarios and betas, or None when it has none."""
    table = book.tables.get("scenarios")
    if table is None or table.empty:
        return None
    settings = book.fields.get("stress", {})
    moves: dict[str, dict[str, float]] = {}
    move_table = book.tables.get("moves")
    if move_table is not None:
        for record in move_table.to_dict("records"):
            name, asset, move = (_get(record, k) for k in ("scenario", "asset", "move"))
            if name is None or asset is None or move is None:
                continue
            moves.setdefault(name_key(name), {})[str(asset).strip().upper()] = float(move)
    betas: dict[str, float] = {}
    beta_table = book.tables.get("betas")
    if beta_table is not None:
        for record in beta_table.to_dict("records"):
            if not is_blank(record.get("asset")) and not is_blank(record.get("beta")):
                betas[str(record["asset"]).strip().upper()] = float(record["beta"])
    span = _span_moves(settings)
    scenarios: list[Scenario] = []
    for record in table.to_dict("records"):
        name = _get(record, "name")
        if name is None:
            continue
        name = str(name).strip()
        key = name_key(name)
        if key not in moves and name.upper() in span:
            moves[key] = span[name.upper()]
        haircut_currency = _get(record, "haircut_currency")
        default_exchange = _get(record, "default_exchange")
        scenarios.append(Scenario(
            name,
            description=str(_get(record, "description", "")),
            moves=moves.get(key, {}),
            reference_asset=str(_get(settings, "reference_asset", "BTC")),
            betas=betas or None,
            default_beta=float(_get(settings, "default_beta", 2.0)),
            move_floor=float(_get(settings, "move_floor", -0.9)),
            move_cap=float(_get(settings, "move_cap", 3.0)),
            funding_rate=float(_get(record, "funding_rate", 0.0)),
            funding_intervals=int(_get(record, "funding_intervals", 0)),
            collateral_haircuts={str(haircut_currency): float(_get(record, "haircut", 0.0))}
            if haircut_currency else {},
            exchange_default={str(default_exchange): float(_get(record, "default_lgd", 0.75))}
            if default_exchange else {},
            horizon_hours=float(_get(record, "horizon_hours", 1.0)),
            weight=float(_get(record, "weight", 1.0)),
        ))
    return (tuple(scenarios), betas) if scenarios else None


def _span_moves(settings: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Moves of the template's "SPAN k" rows, whose move cells are formulas of the scan range:
    recomputed with :func:`riskfuncs.scenarios.span_grid`, never read from cached values."""
    scan = _get(settings, "price_scan_range")
    if scan is None:
        return {}
    asset = str(_get(settings, "reference_asset", "BTC")).upper()
    grid = span_grid(float(scan), asset=asset)
    return {f"SPAN {k}": dict(s.moves) for k, s in enumerate(grid, start=1)}


# ----------------------------------------------------------------------------------------------
# Exchange scorecard

@dataclass(frozen=True)
class ExchangeScore:
    exchange: str
    score: float
    grade: str
    probability_of_default: float  # over the horizon
    loss_given_default: float
    exposure: float
    expected_loss: float
    below_minimum: bool
    proof_of_reserves: float = math.nan  # the sub-score the score used (0 for a failed proof)
    proof_checked: str = ""  # "verified", "failed" or "" (not checked)
    proof_date: str | None = None  # the reserve snapshot's date, ISO
    reserve_ratio: float = math.nan
    proof_failed_at: str = ""  # the check that failed and why


@dataclass(frozen=True)
class Scorecard:
    horizon_years: float
    minimum_score: float
    exchanges: tuple[ExchangeScore, ...]
    total_expected_loss: float


def scorecard_of(book: FilledWorkbook, exposures: pd.Series) -> Scorecard | None:
    table = book.tables.get("exchanges")
    if table is None or table.empty:
        return None
    settings = book.fields.get("scorecard", {})
    horizon = float(_get(settings, "horizon_years", 1.0))
    minimum = float(_get(settings, "min_score", 55.0))
    weights_table = book.tables.get("weights")
    weights: ScoreWeights | Mapping[str, float] | None = None
    if weights_table is not None and not weights_table.empty:
        weights = {name_key(r["factor"]): float(r["weight"])
                   for r in weights_table.to_dict("records")
                   if not is_blank(r.get("factor")) and not is_blank(r.get("weight"))}
    bands = _bands(book)
    factors = pd.DataFrame({f: pd.to_numeric(table[f], errors="coerce") for f in FACTORS
                            if f in table}, index=table.index)
    checked = [_proof_result(r) for r in table.to_dict("records")]
    if "proof_of_reserves" in factors:  # a failed proof counts 0, as the workbook's Score
        failed = pd.Series([c == "failed" for c in checked], index=table.index)
        factors["proof_of_reserves"] = factors["proof_of_reserves"].mask(failed, 0.0)
    scores = exchange_score(factors, **({"weights": weights} if weights else {}))
    band_args: dict[str, Any] = {"bands": bands} if bands else {}
    grades = exchange_grade(scores, **band_args)
    pd_1y = exchange_probability_of_default(scores, **band_args)
    pd_h = probability_of_default_over(pd_1y, horizon)
    rows: list[ExchangeScore] = []
    exposure_by_name = {str(k).lower(): float(v) for k, v in exposures.items()}
    for i, record in enumerate(table.to_dict("records")):
        name = str(_get(record, "exchange", "")).lower()
        lgd = float(_get(record, "loss_given_default", math.nan))
        exposure = exposure_by_name.get(name, 0.0)
        score = float(scores.iloc[i])
        probability = float(pd_h.iloc[i])
        loss = float(expected_loss(exposure, probability, lgd)) if math.isfinite(
            lgd) and math.isfinite(probability) else math.nan
        when = _get(record, "proof_of_reserves_date")
        rows.append(ExchangeScore(
            exchange=name, score=score, grade=str(grades.iloc[i]),
            probability_of_default=probability, loss_given_default=lgd, exposure=exposure,
            expected_loss=loss, below_minimum=math.isfinite(score) and score < minimum,
            proof_of_reserves=float(factors["proof_of_reserves"].iloc[i])
            if "proof_of_reserves" in factors else math.nan,
            proof_checked=checked[i],
            proof_date=when.isoformat() if hasattr(when, "isoformat") else None,
            reserve_ratio=float(_get(record, "reserve_ratio", math.nan)),
            proof_failed_at=str(_get(record, "proof_of_reserves_failed_at", "")),
        ))
    total = float(np.nansum([r.expected_loss for r in rows]))
    return Scorecard(horizon, minimum, tuple(rows), total)


def _proof_result(record: Mapping[Any, Any]) -> str:
    return str(_get(record, "proof_of_reserves_checked", "")).strip().lower()


def proof_alerts(scorecard: Scorecard | None) -> list[Any]:
    """A red alert for every exchange whose proof of reserves failed, naming the exchange and
    the check that failed (the Scorecard's Proofs of reserves failed counts the same rows)."""
    from addin.report.assessment import Alert

    out = []
    for e in scorecard.exchanges if scorecard is not None else ():
        if e.proof_checked != "failed":
            continue
        where = e.proof_failed_at or "a check not recorded on the Scorecard"
        of = f" (snapshot of {e.proof_date})" if e.proof_date else ""
        out.append(Alert("red", f"proof of reserves: {e.exchange}",
                         f"the inclusion proof{of} failed at {where}; its proof-of-reserves "
                         "sub-score counts 0"))
    return out


def _bands(book: FilledWorkbook) -> tuple[GradeBand, ...] | None:
    table = book.tables.get("grades")
    if table is None or table.empty:
        return None
    bands = [GradeBand(str(r["grade"]), float(r["min_score"]), float(r["pd_low"]),
                       float(r["pd_high"]), float(r["probability_of_default"]))
             for r in table.to_dict("records")
             if not any(is_blank(r.get(k)) for k in ("grade", "min_score", "pd_low", "pd_high",
                                                     "probability_of_default"))]
    return tuple(sorted(bands, key=lambda b: -b.min_score)) or None


# ----------------------------------------------------------------------------------------------
# Volatility, VaR, liquidation probability

@dataclass(frozen=True)
class MarketRisk:
    asset: str
    observations: int
    confidence: float
    horizon_periods: float
    ewma_volatility: float  # annualised
    historical_var: float  # fraction of exposure over the horizon
    historical_es: float
    normal_var: float
    normal_es: float
    exposure: float
    var_usd: float
    es_usd: float
    probability_days: float
    #: Gross USD value of the positions on ``asset`` and of the whole book: the VaR covers
    #: the first only (set by the pipeline; NaN when unknown).
    covered_value: float = math.nan
    book_value: float = math.nan

    @property
    def coverage(self) -> float:
        """Share of the book's gross value the VaR covers (NaN when unknown)."""
        if not (self.book_value > 0):
            return math.nan
        return self.covered_value / self.book_value


def market_risk_of(book: FilledWorkbook, default_exposure: float) -> MarketRisk | None:
    table = book.tables.get("history")
    if table is None or len(table) < 3:
        return None
    settings = book.fields.get("volatility", {})
    prices = pd.to_numeric(table["price"], errors="coerce")
    if "date" in table:
        order = pd.Series(table["date"].to_numpy(), index=table.index)
        prices = prices.loc[order.sort_values(kind="stable").index]
    kind = str(_get(settings, "return_kind", "simple"))
    period = returns(prices.to_numpy(dtype=float), kind=cast(Any, kind))
    period = np.asarray(period, dtype=float)
    period = period[np.isfinite(period)]
    confidence = float(_get(settings, "confidence", 0.99))
    horizon = float(_get(settings, "horizon_periods", 1.0))
    exposure = float(_get(settings, "exposure", default_exposure))
    def scaled(value: Any) -> float:
        return _scalar(scale_to_horizon(_scalar(value), horizon))

    h_var = scaled(historical_var(period, confidence=confidence))
    h_es = scaled(expected_shortfall(period, confidence=confidence))
    n_var = scaled(parametric_var(period, confidence=confidence))
    n_es = scaled(expected_shortfall(period, confidence=confidence, method="normal"))
    vol = _scalar(ewma_volatility(period, lam=float(_get(settings, "ewma_lambda", 0.94)),
                                  periods_per_year=float(_get(settings, "periods_per_year", 365))))
    return MarketRisk(
        asset=str(_get(settings, "asset", "BTC")), observations=int(period.size),
        confidence=confidence, horizon_periods=horizon, ewma_volatility=vol,
        historical_var=h_var, historical_es=h_es, normal_var=n_var, normal_es=n_es,
        exposure=exposure, var_usd=abs(exposure) * h_var, es_usd=abs(exposure) * h_es,
        probability_days=float(_get(settings, "probability_days", 1.0)),
    )


@dataclass(frozen=True)
class AssetRisk:
    """One asset of the book VaR, alone: USD over the horizon."""

    asset: str
    exposure: float  # net USD, long +
    volatility: float  # per period, on the joint dates
    historical_var: float
    normal_var: float


@dataclass(frozen=True)
class BookRisk:
    """The book's VaR and ES across every asset with a price history on the Prices sheet
    (:func:`riskfuncs.var.book_var`), USD over the horizon, and what they cover."""

    confidence: float
    horizon_periods: float
    observations: int
    historical_var: float
    historical_es: float
    normal_var: float
    normal_es: float
    covered: tuple[str, ...]  # assets in the figures
    missing: tuple[str, ...]  # assets held without a history: left out, not riskless
    covered_value: float  # gross USD of the covered positions
    book_value: float
    coverage: float  # covered_value / book_value
    uncovered_positions: tuple[str, ...]  # "SYMBOL side (exchange)"
    assets: tuple[AssetRisk, ...]

    @property
    def standalone_var(self) -> float:
        """Sum of the assets' historical VaRs alone: the book's is lower by diversification."""
        return float(sum(a.historical_var for a in self.assets))


def book_risk_of(book: FilledWorkbook, positions: pd.DataFrame) -> BookRisk | None:
    """The Prices sheet's closes and the positions, as the sheet's formulas take them: the
    columns' assets from their headers (the first of a repeated name), the rows in sheet
    order, returns of the Volatility & VaR settings; None when the sheet has no closes."""
    from addin.workbook import layout

    table = book.tables.get("prices")
    if table is None or table.empty or positions.empty:
        return None
    columns: dict[str, str] = {}
    for k in range(1, layout.PRICE_ASSETS + 1):
        head = book.headers.get(("prices", f"close_{k}"))
        name = "" if head is None else str(head).strip().upper()
        if name and name not in columns:
            columns[name] = f"close_{k}"
    if not columns:
        return None
    rows = pd.RangeIndex(int(table.index.min()), int(table.index.max()) + 1)
    closes = pd.DataFrame({a: pd.to_numeric(table[c], errors="coerce") for a, c in
                           columns.items()}).reindex(rows).astype(float)
    settings = book.fields.get("volatility", {})
    ratio = closes / closes.shift(1)
    log = str(_get(settings, "return_kind", "simple")) == "log"
    period = pd.DataFrame(np.log(ratio) if log else ratio - 1, index=rows)
    quantity = positions["contracts"] * positions["contractSize"]
    inverse = positions["contractType"].str.lower() == "inverse"
    value = np.where(inverse, quantity, quantity * positions["markPrice"])
    short = positions["side"].str.lower() == "short"
    exposures = pd.Series(np.where(short, -value, value), index=positions.index, dtype=float)
    assets = positions["symbol"].str.partition("/")[0].str.strip().str.upper()
    confidence = float(_get(settings, "confidence", 0.99))
    horizon = float(_get(settings, "horizon_periods", 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortHistoryWarning)
        result = book_var(period.iloc[1:], exposures, assets=assets.tolist(),
                          confidence=confidence, horizon=horizon)
    uncovered = positions.loc[~result.positions_covered.to_numpy()]
    return BookRisk(
        confidence=confidence, horizon_periods=horizon, observations=result.observations,
        historical_var=result.historical_var, historical_es=result.historical_es,
        normal_var=result.normal_var, normal_es=result.normal_es,
        covered=result.covered, missing=result.missing, covered_value=result.covered_value,
        book_value=result.book_value, coverage=result.coverage,
        uncovered_positions=tuple(f"{r.symbol} {str(r.side).lower()} ({r.exchange})"
                                  for r in uncovered.itertuples()),
        assets=tuple(AssetRisk(str(a), float(r["exposure"]), float(r["volatility"]),
                               float(r["historical_var"]), float(r["normal_var"]))
                     for a, r in result.per_asset.iterrows()),
    )


def _scalar(value: Any) -> float:
    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def volatilities_of(book: FilledWorkbook, rows: pd.Index, market: MarketRisk | None
                    ) -> np.ndarray | None:
    """Annualised volatility per position row: the Volatility sheet's per-position entry, else
    the EWMA volatility of its price history; None when neither is there."""
    table = book.tables.get("probability")
    per_row: dict[int, float] = {}
    if table is not None and not table.empty:
        first_prob = book.first_rows["probability"]
        first_pos = book.first_rows["positions"]
        for row, value in zip(table.index, table["volatility"], strict=True):
            if not is_blank(value):
                per_row[int(row) - first_prob + first_pos] = float(value)
    fallback = market.ewma_volatility if market is not None else math.nan
    vols = np.array([per_row.get(int(r), fallback) for r in rows], dtype=float)
    return None if np.isnan(vols).all() else vols


# ----------------------------------------------------------------------------------------------
# Risk audit checklist

@dataclass(frozen=True)
class Checklist:
    yes: int
    no: int
    not_applicable: int
    unanswered: int
    no_rows: tuple[int, ...]
    date: str
    reviewer: str
    sign_off: str


def checklist_of(book: FilledWorkbook) -> Checklist | None:
    table = book.tables.get("checks")
    if table is None or table.empty:
        return None
    from addin.workbook import layout

    sheet = layout.SHEETS["audit"]
    total = sheet.table("checks").rows
    answers = [str(a).lower() for a in table["answer"] if not is_blank(a)]
    settings = book.fields.get("audit", {})
    return Checklist(
        yes=answers.count("yes"), no=answers.count("no"), not_applicable=answers.count("n/a"),
        unanswered=total - len(answers),
        no_rows=tuple(int(r) for r, a in zip(table.index, table["answer"], strict=True)
                      if str(a).lower() == "no"),
        date=str(_get(settings, "date", "")), reviewer=str(_get(settings, "reviewer", "")),
        sign_off=str(_get(settings, "sign_off", "")),
    )


# ----------------------------------------------------------------------------------------------
# Funding

@dataclass(frozen=True)
class FundingSummary:
    symbol: str
    position: str
    intervals: int
    average_rate: float  # per interval
    annualised_rate: float
    total_payment: float  # cash flow to the holder over the log (negative = paid)
    currency: str
    #: The log's times and the running total after each interval (the funding chart).
    times: tuple[str, ...] = ()
    running: tuple[float, ...] = ()


def funding_of(book: FilledWorkbook, positions: pd.DataFrame) -> FundingSummary | None:
    """Funding paid or received by the Funding sheet's position over its rate log.

    The position is row ``n`` of the Positions table, as the sheet's ``INDEX(Pos_..., n)``
    formulas read it, not the n-th filled row: blank rows above it must not shift it.
    """
    from riskfuncs.funding import cumulative_funding

    log = book.tables.get("log")
    if log is None or log.empty or positions.empty:
        return None
    settings = book.fields.get("funding", {})
    row = book.first_rows["positions"] + int(_get(settings, "position_row", 1)) - 1
    if row not in positions.index:
        return None
    position = positions.loc[[row]].iloc[0]
    if "time" in log:
        log = log.sort_values("time", kind="stable")
    rates = pd.to_numeric(log["rate"], errors="coerce").to_numpy(dtype=float)
    marks = pd.to_numeric(log["mark_price"], errors="coerce").to_numpy(dtype=float)
    marks = np.where(np.isnan(marks), float(position["markPrice"]), marks)
    contract = str(position["contractType"]).lower()
    quantity = float(position["contracts"]) * float(position["contractSize"])
    running = np.asarray(cumulative_funding(
        str(position["side"]), quantity, marks, rates,
        contract=cast(Any, contract)), dtype=float)
    per_year = float(_get(settings, "intervals_per_year", 1095.0))
    average = float(np.nanmean(rates))
    symbol = str(position["symbol"])
    return FundingSummary(
        symbol=str(_get(settings, "symbol", symbol)),
        position=f"{symbol} {str(position['side']).lower()} ({position['exchange']})",
        intervals=int(np.isfinite(rates).sum()), average_rate=average,
        annualised_rate=average * per_year, total_payment=float(running[-1]),
        currency=amount_currency(symbol, contract),
        times=tuple(str(t) for t in log["time"]) if "time" in log else tuple(
            str(i + 1) for i in range(len(running))),
        running=tuple(float(x) for x in running),
    )

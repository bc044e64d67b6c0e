"""The full assessment of a filled workbook, computed with riskfuncs from its inputs.

Nothing here reads a formula result from the workbook: every figure comes from
:func:`riskfuncs.portfolio.portfolio_margin`, :func:`riskfuncs.stress.stress_test`,
:mod:`riskfuncs.counterparty` and :func:`riskfuncs.discipline.discipline_report` applied to the
inputs the reader returned. Sections whose inputs the workbook does not carry are left out with
a note saying what is missing, never filled with made-up numbers.

Ratings per position come from :func:`riskfuncs.assessment.hybrid_assessment` with the
workbook's own rules as levels (:func:`thresholds_for`): red when the adverse move to liquidation
is below the alert distance, at or past liquidation, or leverage is over twice the cap; amber
within twice the alert distance, under the buffer rule (margin above the initial margin at the
leverage cap), over the leverage cap, with a stop-loss beyond the liquidation price, or
liquidated in the worst stress scenario; green otherwise. The workbook's Level column applies
the same rules in its own formulas, so both count the same alerts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskfuncs.assessment import RatingThresholds, hybrid_assessment
from riskfuncs.book import as_book
from riskfuncs.counterparty import concentration, diversification_check, exposure_by_exchange
from riskfuncs.discipline import DisciplineLimits, discipline_report
from riskfuncs.liquidation import ALREADY_LIQUIDATED, NEVER_LIQUIDATED, liquidation_state
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.probability import liquidation_probability
from riskfuncs.scenarios import Scenario, scenario_library
from riskfuncs.stress import stress_test
from riskfuncs.tiers import TierMap

LEVELS = ("red", "amber", "green")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class Settings:
    leverage_cap: float = 5.0
    buffer_rule: float = 0.30
    alert_distance: float = 0.10


@dataclass(frozen=True)
class PositionResult:
    row: int
    exchange: str
    symbol: str
    side: str
    contract: str
    margin_mode: str
    size: float
    entry_price: float
    mark_price: float
    notional: float
    value_usd: float
    unrealized_pnl: float
    margin_balance: float
    maintenance_margin: float
    liquidation_price: float
    distance_to_liquidation: float
    margin_ratio: float
    margin_buffer: float
    leverage: float
    stop_price: float
    liquidation_probability: float  # within the assessment's probability horizon; NaN = unknown
    level: str
    reasons: tuple[str, ...]
    exchange_liquidation_price: float = math.nan  # what the exchange shows; NaN = none given
    #: Margin above the initial margin at the leverage cap (the buffer rule's measure; for a
    #: cross position, its account's); NaN when unknown.
    cap_buffer: float = math.nan
    #: Annualised volatility the liquidation probability used; NaN when none was known.
    volatility: float = math.nan

    @property
    def liquidation_state(self) -> str | None:
        """"never" or "reached" when the price is a bound (0 or inf: which one depends on the
        side), None for a price a move can reach."""
        state = liquidation_state(self.side, self.liquidation_price)
        return None if state is None else str(state)

    @property
    def liquidation_difference(self) -> float:
        """Computed liquidation price / the exchange's - 1 (NaN when either is missing)."""
        theirs, ours = self.exchange_liquidation_price, self.liquidation_price
        if not (theirs > 0 and ours > 0 and math.isfinite(ours)):
            return math.nan
        return ours / theirs - 1.0

    @property
    def differs_from_exchange(self) -> bool:
        """True when the computed price is more than 0.1% away from the exchange's."""
        return abs(self.liquidation_difference) > EXCHANGE_PRICE_TOLERANCE

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.side} ({self.exchange})"

    @property
    def currency(self) -> str:
        return amount_currency(self.symbol, self.contract)


def amount_currency(symbol: str, contract: str) -> str:
    """Currency of a position's amounts: the settle currency of a ccxt symbol, else the quote
    for linear contracts and the coin for inverse ones."""
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    if contract == "inverse":
        return settle or base or "coin"
    return settle or quote or "quote"


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    description: str
    horizon_hours: float
    pnl: float
    loss: float
    loss_fraction: float
    positions_liquidated: int
    accounts_liquidated: int
    shortfall: float
    positions_unknown: int = 0  # missing data: neither counted as liquidated nor as safe


@dataclass(frozen=True)
class ExchangeExposure:
    exchange: str
    exposure: float
    share: float


@dataclass(frozen=True)
class Counterparty:
    exchanges: tuple[ExchangeExposure, ...]
    total_exposure: float
    hhi: float
    effective_venues: float
    diversified: bool | None
    verdict: str


@dataclass(frozen=True)
class AuditCheck:
    check: str
    scope: str
    passed: bool | None
    value: float
    limit: float
    message: str


@dataclass(frozen=True)
class Alert:
    level: str
    subject: str
    text: str
    row: int | None = None  # the position's workbook row; None for the whole book


@dataclass(frozen=True)
class Totals:
    positions: int
    value_usd: float
    unrealized_pnl_usd: float
    margin_balance_usd: float
    red: int
    amber: int


@dataclass
class Assessment:
    """Everything the report shows; :meth:`to_dict` gives the JSON form."""

    source: str
    template: str
    generated: str
    settings: Settings
    totals: Totals
    positions: list[PositionResult] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    worst_scenario: ScenarioResult | None = None
    counterparty: Counterparty | None = None
    audit: list[AuditCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    probability_days: float = 1.0
    drift: float = 0.0  # annual drift of the liquidation probabilities
    scorecard: Any = None  # sections.Scorecard
    market: Any = None  # sections.MarketRisk
    book_risk: Any = None  # sections.BookRisk: VaR and ES of every asset with a history
    checklist: Any = None  # sections.Checklist
    #: The workbook's Risk Audit checklist judged by its own rules (audit.ChecklistItem).
    risk_audit: list[Any] = field(default_factory=list)
    funding: Any = None  # sections.FundingSummary
    accounts: Any = None  # accounts_view.AccountView: the Accounts sheet's unified accounts

    @property
    def worst_alert(self) -> Alert | None:
        return self.alerts[0] if self.alerts else None

    @property
    def audit_passed(self) -> bool | None:
        """False when a check failed; None when none ran or one could not be judged (missing
        data is not a pass); True only when every check passed."""
        results = [c.passed for c in self.audit]
        if False in results:
            return False
        if not results or None in results:
            return None
        return True

    @property
    def risk_audit_summary(self) -> str:
        """The checklist's count, worded as the workbook dashboard's Risk audit line:
        ``"0 passed, 8 failed, 5 to tick"``."""
        count = {s: sum(i.status == s for i in self.risk_audit) for s in ("PASS", "FAIL", "OPEN")}
        return f"{count['PASS']} passed, {count['FAIL']} failed, {count['OPEN']} to tick"

    def to_dict(self) -> dict[str, Any]:
        data = _clean(asdict(self))
        data["worst_alert"] = _clean(asdict(self.worst_alert)) if self.worst_alert else None
        data["audit_passed"] = self.audit_passed
        data["risk_audit_summary"] = self.risk_audit_summary
        return data  # type: ignore[no-any-return]


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, tuples lists."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ----------------------------------------------------------------------------------------------
# From reader output to ccxt-shaped frames

#: A computed liquidation price further than this from the exchange's own is flagged: some input
#: (fee rate, tier table, wallet) differs from what the exchange uses.
EXCHANGE_PRICE_TOLERANCE = 0.001


def positions_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Workbook position rows (layout column keys) as ccxt ``Position`` columns."""
    def col(key: str, default: Any = np.nan) -> pd.Series:
        if key in table:
            return table[key]
        return pd.Series([default] * len(table), index=table.index, dtype=object)

    def num(key: str) -> pd.Series:
        return pd.to_numeric(col(key), errors="coerce").astype(float)

    return pd.DataFrame({
        "exchange": col("exchange").astype(str),
        "symbol": col("symbol").astype(str),
        "side": col("side").astype(str),
        "contracts": num("size"),
        "contractSize": 1.0,
        "entryPrice": num("entry_price"),
        "markPrice": num("mark_price"),
        "collateral": num("collateral"),
        "marginMode": col("margin_mode", "isolated").fillna("isolated").astype(str),
        "contractType": col("contract", "linear").fillna("linear").astype(str),
        "maintenanceMarginRate": num("maintenance_margin_rate"),
        "maintenanceAmount": num("maintenance_amount").fillna(0.0),
        "leverage": num("leverage"),
        "feeRate": num("fee_rate").fillna(0.0),
        "maxLeverage": num("max_leverage"),
        "stopLossPrice": num("stop_price"),
        "exchangeLiquidationPrice": num("exchange_liquidation_price"),
    }, index=table.index)


def tiers_by_symbol(table: pd.DataFrame, tier_tables: Mapping[str, pd.DataFrame]
                    ) -> dict[tuple[str, str], pd.DataFrame]:
    """Map each position's (venue, symbol) to the tier table its row names (riskfuncs looks a
    table up by venue and symbol first): one venue's BTC/USDT:USDT brackets are not another's."""
    out: dict[tuple[str, str], pd.DataFrame] = {}
    if "tier_table" not in table:
        return out
    for venue, symbol, name in zip(table["exchange"], table["symbol"], table["tier_table"],
                                   strict=True):
        if isinstance(name, str) and name.strip():
            key = name.strip().lower()
            if key in tier_tables:
                out.setdefault((str(venue).strip().lower(), str(symbol)), tier_tables[key])
    return out


# ----------------------------------------------------------------------------------------------
# The computation

_WORST_REASON = "liquidated in the worst stress scenario"


def thresholds_for(settings: Settings) -> RatingThresholds:
    """The workbook's rules as rating levels: red below the alert distance, amber below twice
    it; amber under the buffer rule at the leverage cap and over the cap, red at twice the cap."""
    return RatingThresholds(
        distance_red=settings.alert_distance, distance_amber=2 * settings.alert_distance,
        cap_buffer_amber=settings.buffer_rule,
        leverage_amber=settings.leverage_cap, leverage_red=2 * settings.leverage_cap,
    )


def stop_check(side: str, stop: float, liquidation: float, mark: float) -> str:
    """ok, missing, unknown (no liquidation price), beyond (at or past the liquidation price:
    the exchange liquidates first) or wrong side (of the mark): the workbook's Stop check."""
    if not stop > 0:
        return "missing"
    if math.isnan(liquidation):
        return "unknown"
    sign = 1.0 if str(side).lower() == "long" else -1.0
    if not sign * (stop - liquidation) > 0:
        return "beyond"
    return "ok" if sign * (mark - stop) > 0 else "wrong side"


def stop_beyond_liquidation(positions: pd.DataFrame, liquidation: np.ndarray) -> np.ndarray:
    """Per row: True when the stop-loss is beyond the liquidation price, False when it fires
    before it or no stop is set (a missing stop is the audit's), None when the liquidation
    price is unknown (:func:`stop_check`)."""
    stops = pd.to_numeric(positions.get("stopLossPrice", pd.Series(np.nan, positions.index)),
                          errors="coerce").to_numpy(dtype=float)
    marks = positions["markPrice"].to_numpy(dtype=float)
    verdicts = {"beyond": True, "unknown": None}
    out = np.empty(len(positions), dtype=object)
    for i, (side, stop, liq, mark) in enumerate(zip(positions["side"], stops, liquidation,
                                                     marks, strict=True)):
        out[i] = verdicts.get(stop_check(side, stop, liq, mark), False)
    return out


def _usd(amount: float, contract: str, mark: float) -> float:
    return amount * mark if contract == "inverse" else amount


def assess(
    positions: pd.DataFrame,
    *,
    settings: Settings = Settings(),
    tiers: TierMap | None = None,
    scenarios: tuple[Scenario, ...] | None = None,
    betas: Mapping[str, float] | None = None,
    volatility: np.ndarray | None = None,
    probability_days: float = 1.0,
    drift: float = 0.0,
    source: str = "",
    template: str = "",
    now: dt.datetime | None = None,
) -> Assessment:
    """Compute the assessment of a book given as ccxt ``Position`` columns.

    ``positions`` is what :func:`positions_frame` returns (index: workbook rows); ``tiers`` maps
    symbols to tier tables; ``scenarios`` defaults to the riskfuncs scenario library and
    ``betas`` overrides their betas. ``volatility`` (annualised, one per position, NaN when
    unknown) switches on the probability of liquidation within ``probability_days``.
    """
    generated = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    notes: list[str] = []
    if positions.empty:
        return Assessment(source, template, generated, settings,
                          Totals(0, 0.0, 0.0, 0.0, 0, 0), notes=["no positions in the workbook"])
    book = as_book(positions)  # the positions read once, for every figure below
    margins = portfolio_margin(book, tiers=tiers)
    distance = margins["distance_to_liquidation"].to_numpy(dtype=float).copy()
    liquidation = margins["liquidation_price"].to_numpy(dtype=float)
    # 0 and inf are never liquidated on one side and already liquidated on the other.
    states = np.asarray(liquidation_state(positions["side"].to_numpy(dtype=object),
                                          liquidation), dtype=object)
    distance[states == NEVER_LIQUIDATED] = math.inf
    distance[(states == ALREADY_LIQUIDATED) & ~(distance <= 0)] = 0.0

    chosen = scenarios if scenarios is not None else scenario_library()
    scenario_rows: list[ScenarioResult] = []
    worst: ScenarioResult | None = None
    worst_liquidated: np.ndarray | None = None
    if chosen:
        stress = stress_test(book, list(chosen), tiers=tiers, betas=betas)
        table = stress.by_scenario
        for scenario in chosen:
            s = table.loc[scenario.name].to_dict()
            scenario_rows.append(ScenarioResult(
                name=scenario.name, description=scenario.description,
                horizon_hours=float(scenario.horizon_hours), pnl=float(s["pnl"]),
                loss=float(s["loss"]), loss_fraction=float(s["loss_fraction"]),
                positions_liquidated=int(s["positions_liquidated"]),
                accounts_liquidated=int(s["accounts_liquidated"]),
                shortfall=float(s["shortfall"]),
                positions_unknown=int(s.get("positions_unknown", 0)),
            ))
        worst_name = str(stress.worst.index[0])
        worst = next(r for r in scenario_rows if r.name == worst_name)
        worst_liquidated = stress.liquidated[:, [s.name for s in chosen].index(worst_name)]

    probability: np.ndarray | None = None
    if volatility is not None:
        probability = np.asarray(liquidation_probability(
            positions["markPrice"].to_numpy(dtype=float), liquidation,
            np.asarray(volatility, dtype=float), probability_days / 365.0,
            side=positions["side"].to_numpy(dtype=object), drift=drift), dtype=float)

    cap_buffers = buffer_at_cap(positions, margins, settings.leverage_cap)
    rating = hybrid_assessment(
        distance_to_liquidation=pd.Series(distance, index=positions.index),
        liquidation_probability=None if probability is None else pd.Series(
            probability, index=positions.index),
        cap_buffer=pd.Series(cap_buffers, index=positions.index),
        leverage=margins["leverage"],
        worst_scenario_liquidated=None if worst_liquidated is None else pd.Series(
            worst_liquidated, index=positions.index),
        stop_beyond_liquidation=pd.Series(stop_beyond_liquidation(positions, liquidation),
                                          index=positions.index),
        thresholds=thresholds_for(settings),
    ).positions

    results: list[PositionResult] = []
    records = positions.to_dict("records")
    figures = margins.to_dict("records")
    ratings = rating["rating"].tolist()
    # A cross position is liquidated with its account (a short can go in a crash): say so.
    reasons = [
        str(text).replace(_WORST_REASON, f"its cross account is {_WORST_REASON}")
        if str(mode).lower() == "cross" else str(text)
        for text, mode in zip(rating["reasons"], positions["marginMode"], strict=True)
    ]
    for i, (row, p, m) in enumerate(zip(positions.index, records, figures, strict=True)):
        contract = str(p["contractType"]).lower()
        mark = float(p["markPrice"])
        results.append(PositionResult(
            row=int(row), exchange=str(p["exchange"]), symbol=str(p["symbol"]),
            side=str(p["side"]).lower(), contract=contract,
            margin_mode=str(p["marginMode"]).lower(), size=float(p["contracts"]),
            entry_price=float(p["entryPrice"]), mark_price=mark,
            notional=float(m["notional"]), value_usd=_usd(float(m["notional"]), contract, mark),
            unrealized_pnl=float(m["unrealized_pnl"]), margin_balance=float(m["margin_balance"]),
            maintenance_margin=float(m["maintenance_margin"]),
            liquidation_price=float(liquidation[i]),
            distance_to_liquidation=float(distance[i]),
            margin_ratio=float(m["margin_ratio"]), margin_buffer=float(m["margin_buffer"]),
            leverage=float(m["leverage"]), stop_price=float(p.get("stopLossPrice", math.nan)),
            liquidation_probability=math.nan if probability is None else float(probability[i]),
            level=str(ratings[i]),
            reasons=tuple(r for r in str(reasons[i]).split("; ") if r),
            exchange_liquidation_price=float(p.get("exchangeLiquidationPrice", math.nan)),
            cap_buffer=float(cap_buffers[i]),
            volatility=math.nan if volatility is None else float(volatility[i]),
        ))
    results.sort(key=lambda r: (LEVEL_RANK[r.level], _sort_distance(r.distance_to_liquidation)))
    alerts = [Alert(r.level, r.label, "; ".join(r.reasons), r.row)
              for r in results if r.level != "green"]
    if worst is not None and worst.positions_liquidated:
        alerts.append(Alert(
            "amber", f"stress: {worst.name}",
            f"would liquidate {worst.positions_liquidated} position(s) and lose "
            f"{worst.loss:,.0f} USD ({worst.loss_fraction:.0%} of equity)"))

    exposures = exposure_by_exchange(book)
    total = float(exposures.sum())
    shares = exposures / total if total > 0 else exposures * np.nan
    conc = concentration(exposures)
    check = diversification_check(exposures, max_share=DisciplineLimits().max_venue_share)
    counterparty = Counterparty(
        exchanges=tuple(ExchangeExposure(str(e), float(exposures[e]), float(shares[e]))
                        for e in exposures.sort_values(ascending=False).index),
        total_exposure=total, hhi=float(conc.hhi), effective_venues=float(conc.effective_venues),
        diversified=check.passed, verdict=check.reason,
    )

    limits = DisciplineLimits(leverage_cap=settings.leverage_cap,
                              minimum_margin_buffer=settings.buffer_rule)
    audit_table = discipline_report(book, limits=limits, tiers=tiers)
    audit = [
        AuditCheck(check=str(r["check"]), scope=str(r["scope"]),
                   passed=None if pd.isna(r["passed"]) else bool(r["passed"]),
                   value=float(r["value"]) if pd.notna(r["value"]) else math.nan,
                   limit=float(r["limit"]) if pd.notna(r["limit"]) else math.nan,
                   message=str(r["message"]))
        for _, r in audit_table.iterrows()
    ]
    audit = _buffer_at_cap(audit, positions, margins, distance, settings)
    unknown = max((r.positions_unknown for r in scenario_rows), default=0)
    if unknown:
        alerts.append(Alert(
            "amber", "stress: missing data",
            f"{unknown} position(s) could not be stressed; their losses are not in the totals"))
    alerts.sort(key=lambda a: LEVEL_RANK[a.level])

    reds = sum(r.level == "red" for r in results)
    ambers = sum(r.level == "amber" for r in results)
    marks = positions["markPrice"].to_numpy(dtype=float)
    inverse = positions["contractType"].str.lower().to_numpy() == "inverse"
    factor = np.where(inverse, marks, 1.0)
    totals = Totals(
        positions=len(results),
        value_usd=float(np.nansum(np.where(inverse, margins["notional"] * marks,
                                           margins["notional"]))),
        unrealized_pnl_usd=float(np.nansum(margins["unrealized_pnl"].to_numpy() * factor)),
        margin_balance_usd=_balance_usd(positions, margins, factor),
        red=reds, amber=ambers,
    )
    for r in sorted(results, key=lambda r: r.row):
        if r.differs_from_exchange:
            notes.append(
                f"{r.label}, row {r.row}: liquidation price {r.liquidation_price:,.6g} here but "
                f"{r.exchange_liquidation_price:,.6g} on the exchange "
                f"({r.liquidation_difference:+.2%}); an input differs from the exchange's (fee "
                "rate, tier table, wallet or the other positions of the account): the exchange's "
                "price is the one that triggers")
    if probability is None:
        notes.append("liquidation probabilities need a volatility: fill the price history or "
                     "the per-position volatilities on the Volatility & VaR sheet")
    return Assessment(source, template, generated, settings, totals, results, alerts,
                      scenario_rows, worst, counterparty, audit, notes,
                      probability_days=probability_days, drift=drift)


def buffer_at_cap(positions: pd.DataFrame, margins: pd.DataFrame, cap: float) -> np.ndarray:
    """Margin balance over the initial margin at the leverage ``cap``, minus 1, per row.

    ``balance / (notional / cap) - 1``, in the position's own currency: 0 means the position
    is exactly at the cap, 0.30 that it could lose 30% of its margin before reaching it. A
    cross position gets its account's figure (the account's balance over all its positions'
    notional). This is the measure of the buffer rule: "above maintenance" is not, because
    maintenance is a sliver of the notional and a 45x position can sit 340% above it 1.7%
    from liquidation.
    """
    notional = margins["notional"].to_numpy(dtype=float)
    balance = margins["margin_balance"].to_numpy(dtype=float)
    cross = (positions["marginMode"].astype(str).str.lower() == "cross").to_numpy()
    if cross.any():
        account = margins["account"].to_numpy()
        frame = pd.DataFrame({"account": account[cross], "notional": notional[cross],
                              "balance": balance[cross]})
        grouped = frame.groupby("account", sort=False)
        notional = notional.copy()
        balance = balance.copy()
        notional[cross] = grouped["notional"].transform("sum").to_numpy()
        balance[cross] = grouped["balance"].transform("first").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        required = notional / cap
        return np.where(required > 0, balance / required - 1.0, np.nan)


def _buffer_at_cap(audit: list[AuditCheck], positions: pd.DataFrame, margins: pd.DataFrame,
                   distance: np.ndarray, settings: Settings) -> list[AuditCheck]:
    """The audit's margin-buffer checks measured against the initial margin at the leverage
    cap (:func:`buffer_at_cap`), and failed for any position red on distance, whatever its
    margin: a check may never pass what the alerts call red."""
    cap, rule = settings.leverage_cap, settings.buffer_rule
    buffers = buffer_at_cap(positions, margins, cap)
    notional = margins["notional"].to_numpy(dtype=float)
    cross = (positions["marginMode"].astype(str).str.lower() == "cross").to_numpy()
    account = margins["account"].to_numpy()
    scopes: dict[str, tuple[float, float, list[tuple[str, float]]]] = {}
    for i, (exchange, symbol, side) in enumerate(zip(
            positions["exchange"].astype(str), positions["symbol"].astype(str),
            positions["side"].astype(str).str.lower(), strict=True)):
        scope = f"{account[i]} cross account" if cross[i] else f"{exchange} {symbol} {side}"
        required = (notional[cross & (account == account[i])].sum() if cross[i]
                    else notional[i]) / cap
        _, _, reds = scopes.setdefault(scope, (float(buffers[i]), float(required), []))
        if distance[i] < settings.alert_distance:
            reds.append((f"{symbol} {side}", float(distance[i])))
    out: list[AuditCheck] = []
    for check in audit:
        if check.check != "margin_buffer" or check.scope not in scopes:
            out.append(check)
            continue
        value, required, reds = scopes[check.scope]
        text = f"the initial margin at your {cap:g}x cap"
        passed: bool | None
        if reds:
            name, how_far = min(reds, key=lambda r: r[1])
            passed = False
            message = (f"{name} is {how_far:.1%} from liquidation (red): no margin buffer "
                       "makes that safe; add margin or reduce the position")
        elif not math.isfinite(value):
            passed, message = None, check.message
        elif value < rule:
            passed = False
            top_up = (rule - value) * required
            where = f"{-value:.0%} below" if value < 0 else f"only {value:.0%} above"
            message = (f"margin is {where} {text} (minimum {rule:.0%} above): add "
                       f"{top_up:,.4g} margin or reduce the position")
        else:
            passed = True
            shown = "more than 10 times" if value > 10 else f"{value:.0%} above"
            message = f"margin is {shown} {text} (minimum {rule:.0%} above)"
        out.append(AuditCheck(check.check, check.scope, passed, value, rule, message))
    return out


def _sort_distance(distance: float) -> float:
    return math.inf if math.isnan(distance) else distance


def _balance_usd(positions: pd.DataFrame, margins: pd.DataFrame, factor: np.ndarray) -> float:
    """Margin balance summed once per account (cross rows repeat the account balance)."""
    cross = positions["marginMode"].str.lower().to_numpy() == "cross"
    balance = margins["margin_balance"].to_numpy() * factor
    isolated = float(np.nansum(balance[~cross]))
    per_account = pd.Series(balance[cross], index=margins["account"].to_numpy()[cross])
    return isolated + float(per_account.groupby(level=0).first().sum())

"""Render an assessment as text, HTML or JSON from the jinja2 templates in templates/email.

HTML is autoescaped (every workbook-supplied text, such as a symbol or a file name, is escaped)
and every template runs with StrictUndefined, so a missing value is an error rather than an
empty cell in a risk report. Only the plain-text and JSON templates are exempt from escaping:
escaping ``&`` as ``&amp;`` in a text email would be wrong, and JSON is produced by the
``tojson`` filter.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from addin._resources import templates_dir
from addin.report import chart
from addin.report.assessment import Assessment
from addin.report.chart import DistanceBar, LossBar
from riskfuncs.assessment import RatingThresholds
from riskfuncs.discipline import DisciplineLimits
from riskfuncs.liquidation import ALREADY_LIQUIDATED, NEVER_LIQUIDATED
from riskfuncs.probability import liquidation_probability

Format = Literal["text", "html", "json"]
FORMATS: tuple[Format, ...] = ("text", "html", "json")
TEMPLATE_FOR: dict[str, str] = {"text": "report.txt.j2", "html": "report.html.j2",
                                "json": "report.json.j2"}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def money(value: Any, digits: int = 2) -> str:
    """1,234.56; "n/a" when missing."""
    if not _finite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def percent(value: Any, digits: int = 1) -> str:
    """4.2%; "never" for an unreachable liquidation, "n/a" when missing."""
    if isinstance(value, float) and math.isinf(value):
        return NEVER_LIQUIDATED
    if not _finite(value):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def price(value: Any) -> str:
    """A price to six significant digits, trailing zeros dropped down to two decimals:
    61,850.00, 0.1612, 0.00001234 (never 0.00); "never" for 0 or inf (no price liquidates)."""
    if isinstance(value, float) and math.isinf(value):
        return NEVER_LIQUIDATED
    if not _finite(value):
        return "n/a"
    if value == 0:
        return NEVER_LIQUIDATED
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, min(12, 5 - magnitude))
    text = f"{value:,.{decimals}f}"
    if decimals > 2:
        text = text.rstrip("0")
        whole, _, fraction = text.partition(".")
        text = f"{whole}.{fraction.ljust(2, '0')}"
    return text


#: Currencies whose amounts are shown to the cent; any other (a coin) gets eight decimals.
CASH_CURRENCIES = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USDE",
                             "EUR", "GBP", "quote"})


def amount(value: Any, currency: str) -> str:
    """An amount in ``currency``: 1,234.56 in a dollar or other cash currency, eight decimals
    in a coin (0.00270000 BTC, never 0.00)."""
    digits = 2 if str(currency) in CASH_CURRENCIES else 8
    return money(value, digits)


def buffer(value: Any) -> str:
    """A margin buffer as a percentage; past 1,000% it is shown as ">1,000%": at that size the
    exact figure says nothing more."""
    if _finite(value) and value > 10:
        return ">1,000%"
    return percent(value, 0)


def times(value: Any) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if not _finite(value):
        return "n/a"
    return f"{value:.1f}x"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "email")),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2", "xml"),
            disabled_extensions=("txt", "txt.j2", "json.j2"),
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, percent=percent, price=price, times=times, amount=amount,
                       buffer=buffer)
    return env


def position_label(symbol: str, side: str, exchange: str) -> str:
    """``ETH/USDT short, binance``: the pair without its settle part, the side, the venue."""
    pair = symbol.partition(":")[0]
    return f"{pair} {side.lower()}, {exchange}"


@dataclass(frozen=True)
class ChartImage:
    """One chart of the report: shown through ``cid:{content_id}`` in an email."""

    content_id: str
    alt: str
    png: bytes


_SPAN_ROW = re.compile(r"SPAN \d+", re.IGNORECASE)


def loss_bars(assessment: Assessment) -> list[LossBar]:
    """Scenario losses as charted, largest first: the same ``loss`` as the worst-case figure
    (haircuts and venue defaults included). SPAN scan rows are grouped into their worst one."""
    worst = assessment.worst_scenario.name if assessment.worst_scenario else None
    span = [s for s in assessment.scenarios if _SPAN_ROW.fullmatch(s.name.strip())]
    bars = [LossBar(s.name, s.loss, s.name == worst) for s in assessment.scenarios
            if s not in span]
    if span:
        top = max(span, key=lambda s: s.loss if math.isfinite(s.loss) else -math.inf)
        bars.append(LossBar(f"SPAN scan: worst of {len(span)} ({top.name})", top.loss,
                            top.name == worst))
    return sorted(bars, key=lambda b: -b.loss if math.isfinite(b.loss) else math.inf)


def distance_bars(assessment: Assessment) -> list[DistanceBar]:
    """Positions as charted, most urgent first (the assessment's order)."""
    return [DistanceBar(position_label(p.symbol, p.side, p.exchange), p.distance_to_liquidation,
                        p.level) for p in assessment.positions]


def probability_curves(assessment: Assessment) -> list[chart.ProbabilityCurve]:
    """The most urgent positions with a volatility: their chance of liquidation within each of
    the chart's horizons (riskfuncs.probability.liquidation_probability with the report's
    drift; 0 for a position never liquidated, 1 for one already past)."""
    years = np.asarray(chart.HORIZON_DAYS) / 365.0
    out: list[chart.ProbabilityCurve] = []
    for p in assessment.positions:
        if len(out) == chart.MAX_CURVES:
            break
        if not (math.isfinite(p.volatility) and p.volatility > 0):
            continue
        state = p.liquidation_state
        if state in (NEVER_LIQUIDATED, ALREADY_LIQUIDATED):
            values = [0.0 if state == NEVER_LIQUIDATED else 1.0] * len(chart.HORIZON_DAYS)
        elif math.isfinite(p.liquidation_price) and p.liquidation_price > 0:
            values = np.asarray(liquidation_probability(  # every horizon in one call
                p.mark_price, p.liquidation_price, p.volatility, years, side=p.side,
                drift=assessment.drift), dtype=float).tolist()
        else:
            continue
        out.append(chart.ProbabilityCurve(position_label(p.symbol, p.side, p.exchange),
                                          tuple(values), p.level))
    return out


def charts(assessment: Assessment) -> dict[str, ChartImage]:
    """The report's charts by section: ``distance`` always, ``loss`` when there are scenarios,
    ``venues`` when there is exchange exposure, ``probability`` when positions have a
    volatility, ``funding`` when the workbook has a funding log."""
    out = {"distance": ChartImage(
        "chart", "Distance to liquidation per position, most urgent first, with the alert "
        "thresholds", chart.png(chart.distance_figure(
            distance_bars(assessment), alert_distance=assessment.settings.alert_distance)))}
    if assessment.scenarios:
        out["loss"] = ChartImage("chart-loss", "Loss per stress scenario", chart.png(
            chart.loss_figure(loss_bars(assessment))))
    if assessment.counterparty is not None and assessment.counterparty.exchanges:
        venues = [chart.VenueBar(e.exchange, e.share, e.exposure)
                  for e in assessment.counterparty.exchanges]
        out["venues"] = ChartImage("chart-venues", "Exposure by venue with the concentration "
                                   "limit", chart.png(chart.venue_figure(
                                       venues, limit=DisciplineLimits().max_venue_share)))
    curves = probability_curves(assessment)
    if curves:
        levels = RatingThresholds()
        out["probability"] = ChartImage(
            "chart-probability", "Chance of liquidation by horizon for the most urgent "
            "positions", chart.png(chart.probability_figure(
                curves, amber=levels.probability_amber, red=levels.probability_red,
                horizon_days=assessment.probability_days)))
    funding = assessment.funding
    if funding is not None and len(funding.running) >= 2:
        out["funding"] = ChartImage(
            "chart-funding", "Funding received or paid, running total", chart.png(
                chart.funding_figure(funding.times, funding.running, position=funding.position,
                                     currency=funding.currency)))
    return out


def chart_png(assessment: Assessment) -> bytes:
    """The first chart: distance to liquidation per position, alert thresholds drawn."""
    return charts(assessment)["distance"].png


def render(assessment: Assessment, fmt: Format, *, images: dict[str, ChartImage] | None = None,
           inline: bool = True, max_positions: int | None = None) -> str:
    """Render one format. HTML shows the charts (``images``, drawn when not given) as data:
    URIs, or, with ``inline=False`` (an email), as ``cid:`` references to the images sent
    with it. ``max_positions`` lists only the most urgent positions in text and HTML (JSON
    always holds them all)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    shown = len(assessment.positions) if max_positions is None else max_positions
    # Only position alerts are cut to the most urgent: a book-wide alert (stress, missing
    # data) is always listed, however many positions come before it.
    listed = {id(alert) for alert in
              [alert for alert in assessment.alerts if alert.row is not None][:shown]}
    alerts = [alert for alert in assessment.alerts if alert.row is None or id(alert) in listed]
    context: dict[str, Any] = {"a": assessment, "data": assessment.to_dict(),
                               "max_positions": shown, "alerts": alerts,
                               "more_alerts": len(assessment.alerts) - len(alerts)}
    if fmt == "html":
        drawn = images if images is not None else charts(assessment)
        context["charts"] = {
            key: {"alt": image.alt, "src": (
                "data:image/png;base64," + base64.b64encode(image.png).decode("ascii")
                if inline else f"cid:{image.content_id}")}
            for key, image in drawn.items()}
    return environment().get_template(TEMPLATE_FOR[fmt]).render(**context)


def render_subject(assessment: Assessment) -> str:
    """One-line subject naming the worst alert; whitespace from workbook text is collapsed."""
    text = environment().get_template("subject.txt.j2").render(a=assessment)
    return re.sub(r"\s+", " ", text).strip()

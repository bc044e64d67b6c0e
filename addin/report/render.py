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
from functools import lru_cache
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from addin._resources import templates_dir
from addin.report.assessment import Assessment
from addin.report.chart import DistanceBar, PnlBar, risk_chart

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
        return "never"
    if not _finite(value):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def price(value: Any) -> str:
    """A price with about six significant digits; "none" for 0 (no liquidation)."""
    if isinstance(value, float) and math.isinf(value):
        return "none"
    if not _finite(value):
        return "n/a"
    if value == 0:
        return "none"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, min(8, 5 - magnitude))
    return f"{value:,.{decimals}f}"


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
    env.filters.update(money=money, percent=percent, price=price, times=times)
    return env


def _short_label(symbol: str, side: str, exchange: str) -> str:
    """``ETH/USDT S BIN``: the pair without its settle part, the side, the venue."""
    pair = symbol.partition(":")[0]
    return f"{pair} {side[:1].upper()} {exchange[:3].upper()}"


def chart_png(assessment: Assessment) -> bytes:
    """The report chart: distance to liquidation per position, PnL per scenario."""
    bars = [DistanceBar(_short_label(p.symbol, p.side, p.exchange), p.distance_to_liquidation,
                        p.level) for p in assessment.positions]
    worst_first = sorted(assessment.scenarios, key=lambda s: -s.loss if s.loss == s.loss else 0)
    pnl = [PnlBar(s.name, -s.loss) for s in worst_first]
    return risk_chart(bars, pnl, alert_distance=assessment.settings.alert_distance)


def render(assessment: Assessment, fmt: Format, *, chart_src: str | None = None,
           chart: bytes | None = None, max_positions: int | None = None) -> str:
    """Render one format. For HTML the chart is inlined as a data: URI unless ``chart_src``
    (e.g. ``cid:chart`` in an email) says where it is. ``max_positions`` lists only the most
    urgent positions in text and HTML (JSON always holds them all)."""
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
        if chart_src is None:
            png = chart if chart is not None else chart_png(assessment)
            chart_src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        context["chart_src"] = chart_src
    return environment().get_template(TEMPLATE_FOR[fmt]).render(**context)


def render_subject(assessment: Assessment) -> str:
    """One-line subject naming the worst alert; whitespace from workbook text is collapsed."""
    text = environment().get_template("subject.txt.j2").render(a=assessment)
    return re.sub(r"\s+", " ", text).strip()

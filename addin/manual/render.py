"""Render the manual: the context through the jinja2 templates in ``templates/manual`` to HTML,
and the HTML to PDF with WeasyPrint (table of contents and page numbers from CSS paged media).

The number formats live here, as jinja2 filters, so that a test can format a riskfuncs value
exactly as the manual prints it.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from addin._resources import templates_dir
from addin.manual.context import ManualContext, build_context

Paper = Literal["a4", "letter"]
PAPERS: dict[str, str] = {"a4": "A4", "letter": "letter"}
#: Page sizes in PDF points (1/72 inch), for checks.
PAGE_POINTS: dict[str, tuple[float, float]] = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}


class ManualError(RuntimeError):
    """The manual cannot be written (missing PDF engine, unwritable path)."""


# ----------------------------------------------------------------------------------------------
# Number formats

def _bad(value: Any) -> str | None:
    if value is None:
        return "–"
    x = float(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "never"
    return None


def price(value: Any) -> str:
    """A price: two decimals from 100 up, four from 1, six below (thousands separated)."""
    if (bad := _bad(value)) is not None:
        return bad
    x = float(value)
    if abs(x) >= 100:
        return f"{x:,.2f}"
    if abs(x) >= 1:
        return f"{x:,.4f}"
    return f"{x:,.6f}"


def money(value: Any, decimals: int = 0) -> str:
    """An amount in whole units (or ``decimals``), thousands separated, minus sign for losses."""
    if (bad := _bad(value)) is not None:
        return bad
    return f"{float(value):,.{decimals}f}".replace("-", "−")


def pct(value: Any, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.1404 -> 14.0%."""
    if (bad := _bad(value)) is not None:
        return bad
    return f"{float(value) * 100:,.{decimals}f}%".replace("-", "−")


def signed_pct(value: Any, decimals: int = 0) -> str:
    """A move as a signed percentage: -0.3 -> −30%."""
    if (bad := _bad(value)) is not None:
        return bad
    x = float(value) * 100
    return ("+" if x > 0 else "") + f"{x:,.{decimals}f}%".replace("-", "−")


def num(value: Any, decimals: int = 2) -> str:
    if (bad := _bad(value)) is not None:
        return bad
    return f"{float(value):,.{decimals}f}"


def lev(value: Any) -> str:
    """A leverage: 6.95x."""
    if (bad := _bad(value)) is not None:
        return bad
    return f"{float(value):,.2f}x"


def prob(value: Any) -> str:
    """A probability: percent with one decimal, or 'below 0.01%' when tiny."""
    if (bad := _bad(value)) is not None:
        return bad
    x = float(value)
    if x < 1e-4:
        return "below 0.01%"
    return pct(x, 2 if x < 0.01 else 1)


FILTERS = {"price": price, "money": money, "pct": pct, "signed_pct": signed_pct, "num": num,
           "lev": lev, "prob": prob}


# ----------------------------------------------------------------------------------------------
# Charts (the report's plotting code)

def draw_charts(ctx: ManualContext) -> dict[str, bytes]:
    """The distance, stress-loss and venue charts as PNG bytes, drawn by the report's code."""
    import matplotlib.pyplot as plt

    from addin.report import chart

    alert = ctx.alerts["red"]
    rows = sorted(ctx.book["rows"], key=lambda r: float(r["distance_to_liquidation"]))
    level = {r["label"]: r["level"] for r in ctx.alerts["rows"]}
    figures = {
        "distance": chart.distance_figure(
            [chart.DistanceBar(r["label"], float(r["distance_to_liquidation"]),
                               level[r["label"]]) for r in rows], alert_distance=alert),
        "loss": chart.loss_figure(
            [chart.LossBar(s["name"], s["loss"], s["name"] == ctx.stress["worst"]["name"])
             for s in sorted(ctx.stress["scenarios"], key=lambda s: -s["loss"])]),
        "venues": chart.venue_figure(
            [chart.VenueBar(r["exchange"], r["share"], r["exposure"])
             for r in sorted(ctx.diversification["rows"], key=lambda r: -r["share"])],
            limit=ctx.diversification["max_share"]),
    }
    out = {}
    for name, fig in figures.items():
        out[name] = chart.png(fig)
        plt.close(fig)
    return out


# ----------------------------------------------------------------------------------------------
# HTML and PDF

def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "manual")),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_html(ctx: ManualContext, *, paper: Paper = "a4") -> str:
    if paper not in PAPERS:
        raise ManualError(f"paper must be a4 or letter (got {paper!r})")
    images = {name: "data:image/png;base64," + base64.b64encode(data).decode("ascii")
              for name, data in ctx.charts.items()}
    html = environment().get_template("manual.html.j2").render(
        m=ctx, paper=PAPERS[paper], paper_label=PAPERS[paper].capitalize(), charts=images)
    # Binance writes "USDⓈ-M"; the print fonts have no circled S, and "USDS-M" is its plain form.
    return html.replace("\u24c8", "S")


def write_pdf(html: str, out: Path) -> Path:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:  # OSError: pango missing
        raise ManualError(
            "the manual needs WeasyPrint and pango: pip install 'perprisk[manual]' "
            f"(and on Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0): {exc}"
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    HTML(string=html, base_url=str(templates_dir() / "manual")).write_pdf(str(out))
    return out


def build_manual(out: Path, *, paper: Paper = "a4", ctx: ManualContext | None = None) -> Path:
    """Compute every figure, draw the charts and write the PDF to ``out``."""
    if ctx is None:
        ctx = build_context()
    if not ctx.charts:
        ctx.charts = draw_charts(ctx)
    return write_pdf(render_html(ctx, paper=paper), out)

"""The report charts: what each one draws, in the report's own terms, legible on a phone."""

from __future__ import annotations

import email
import email.policy
import io
import math
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from addin.delivery.email import email_for
from addin.report import Assessment, assess_file, chart, render
from addin.report.chart import DistanceBar, VenueBar
from addin.report.render import charts, distance_bars, loss_bars, probability_curves
from riskfuncs.discipline import DisciplineLimits
from tests.addin.report.workbooks import sample_book


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Assessment:
    path = sample_book(tmp_path_factory.mktemp("charts") / "demo.xlsx")
    assessment = assess_file(path).assessment
    assert assessment is not None
    return assessment


def _bars(fig: Figure) -> list[Rectangle]:
    """The value bars (the grey tracks behind them left out), top row first."""
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)
            and p.get_facecolor()[:3] != pytest.approx((0xf1 / 255, 0xf3 / 255, 0xf5 / 255))
            and p.get_height() < 1]
    return sorted(bars, key=lambda p: p.get_y())


def _texts(fig: Figure) -> list[Text]:
    found = [t for t in fig.findobj(Text) if t.get_text().strip()]
    return found


def _hex(color: Any) -> str:
    from matplotlib.colors import to_hex

    return str(to_hex(color))


def test_every_text_is_legible_on_a_phone(demo: Assessment) -> None:
    """At 370 CSS pixels wide (a 390-pixel phone less its margins) no text is under 10 px."""
    figures = [chart.distance_figure(distance_bars(demo), alert_distance=0.1),
               chart.loss_figure(loss_bars(demo)),
               chart.venue_figure([VenueBar("bybit", 0.52, 28160.0)], limit=0.5),
               chart.probability_figure(probability_curves(demo), amber=0.01, red=0.05),
               chart.funding_figure(("2024-11-25T00:00:00", "2024-11-25T08:00:00"),
                                    (-5.0, -10.5), position="BTC/USDT long, binance",
                                    currency="USDT")]
    for fig in figures:
        px_per_point = chart.PHONE_WIDTH_PX / (fig.get_figwidth() * 72)
        for text in _texts(fig):
            assert float(text.get_fontsize()) * px_per_point >= chart.MIN_PHONE_PX, text.get_text()


def test_png_is_high_dpi_and_the_shown_width_is_at_most_half_its_pixels(demo: Assessment) -> None:
    images = charts(demo)
    assert set(images) == {"distance", "loss", "venues", "probability", "funding"}
    html = render(demo, "html")
    for image in images.values():
        pixels = imread(io.BytesIO(image.png), format="png")
        assert pixels.shape[1] >= 2 * 480  # shown at most 480 CSS pixels wide: 2x or more
        assert image.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert html.count('<img src="data:image/png;base64,') == 5
    assert 'max-width: 480px' in html and 'name="viewport"' in html


def test_distance_chart_draws_the_thresholds_and_the_most_urgent_first() -> None:
    bars = [DistanceBar("ETH/USDT short, binance", 0.017, "red"),
            DistanceBar("BTC/USDT long, binance", 0.14, "amber"),
            DistanceBar("DOGE/USDT short, bybit", 1.15, "amber"),
            DistanceBar("BTC/USD long, okx", math.inf, "green")]
    fig = chart.distance_figure(bars, alert_distance=0.10)
    ax = fig.axes[0]
    lines = {round(float(np.asarray(line.get_xdata())[0]), 6): _hex(line.get_color())
             for line in ax.get_lines() if line.get_linestyle() == "--"}
    assert lines == {0.1: chart.RED, 0.2: chart.AMBER}
    words = [t.get_text() for t in _texts(fig)]
    assert "- - red zone: under 10.0%" in words and "- - amber: under 20.0%" in words
    drawn = _bars(fig)
    assert [_hex(b.get_facecolor()) for b in drawn] == [chart.RED, chart.AMBER, chart.AMBER,
                                                       chart.GREEN]
    assert drawn[0].get_width() == pytest.approx(0.017)  # to scale, not hidden
    # The most urgent is the largest, boldest text; a marker sits on its short bar.
    label = next(t for t in _texts(fig) if t.get_text() == "ETH/USDT short, binance")
    others = [t for t in _texts(fig) if t.get_text() == "BTC/USDT long, binance"]
    assert label.get_fontweight() == "bold"
    assert float(label.get_fontsize()) > float(others[0].get_fontsize())
    assert [line for line in ax.get_lines() if line.get_marker() == "o"]
    # Off the scale: an arrow and the real value; never liquidated says so.
    assert "114.9% \u25b6" not in words and "115% \u25b6" in words
    assert "never liquidated" in words


def test_no_positions_is_said_on_the_chart() -> None:
    fig = chart.distance_figure([], alert_distance=0.10)
    assert "no positions" in [t.get_text() for t in _texts(fig)]


def test_loss_chart_shows_the_report_loss_haircuts_and_defaults_included(demo: Assessment) -> None:
    """Bars are the scenario ``loss`` the worst-case figure quotes, not the price PnL: USDC
    depeg (a haircut, no price move) shows its 221 loss; Black Thursday its 32,261."""
    bars = loss_bars(demo)
    by_name = {b.label: b for b in bars}
    worst = demo.worst_scenario
    assert worst is not None
    assert by_name[worst.name].worst and by_name[worst.name].loss == worst.loss
    depeg = next(s for s in demo.scenarios if s.name.startswith("USDC"))
    assert depeg.pnl == 0 and by_name[depeg.name].loss == depeg.loss > 0
    # Sixteen SPAN rows are one bar, their worst; the rest keep their full names.
    span = [b for b in bars if b.label.startswith("SPAN")]
    assert len(span) == 1 and "worst of 16" in span[0].label
    assert [b.loss for b in bars] == sorted((b.loss for b in bars), reverse=True)
    fig = chart.loss_figure(bars)
    drawn = _bars(fig)
    # Losses to scale; gains beyond half the largest loss cut there and marked with an arrow.
    largest = bars[0].loss
    assert [b.get_width() for b in drawn] == pytest.approx(
        [max(b.loss, -chart.GAIN_SHARE * largest) for b in bars])
    assert [b.loss for b in bars if b.loss < -chart.GAIN_SHARE * largest] == [
        b.loss for b in bars[-2:]]
    words = [t.get_text() for t in _texts(fig)]
    assert f"{worst.name}  (worst case)" in words and "Tariff cascade 2025" in words
    assert f"{worst.loss:,.0f}" in words  # the figure the report's worst case quotes
    assert any("haircuts, venue defaults" in w for w in words)
    assert f"\u25c0 +{-bars[-1].loss:,.0f}" in words


def test_venue_chart_draws_the_concentration_limit(demo: Assessment) -> None:
    fig = charts(demo)
    limit = DisciplineLimits().max_venue_share
    figure = chart.venue_figure([VenueBar("bybit", 0.52, 28160.0), VenueBar("okx", 0.29, 1.0)],
                                limit=limit)
    ax = figure.axes[0]
    assert [float(np.asarray(line.get_xdata())[0]) for line in ax.get_lines()] == [limit]
    assert [_hex(b.get_facecolor()) for b in _bars(figure)] == [chart.RED, "#1f4e78"]
    assert f"limit {limit * 100:.1f}%" in [t.get_text() for t in _texts(figure)]
    assert fig["venues"].content_id == "chart-venues"


def test_email_carries_each_chart_once_and_references_it(demo: Assessment) -> None:
    msg: EmailMessage = email_for(demo, b"PK\x03\x04", filename="demo.xlsx",
                                  sender="a@example.test", to=["b@example.test"])
    parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None
    body = html.get_content()
    ids = [p["Content-ID"].strip("<>") for p in parsed.walk()
           if p.get_content_type() == "image/png"]
    assert sorted(ids) == ["chart", "chart-funding", "chart-loss", "chart-probability",
                           "chart-venues"]
    for cid in ids:
        assert body.count(f'src="cid:{cid}"') == 1
    assert "data:image" not in body


def test_same_book_same_png(demo: Assessment) -> None:
    first = charts(demo)["distance"].png
    assert charts(demo)["distance"].png == first
    assert np.asarray(imread(io.BytesIO(first), format="png")).ndim == 3


def test_no_hand_written_encoder_left() -> None:
    report = Path(chart.__file__).parent
    assert not (report / "_font.py").exists()
    assert "zlib" not in Path(chart.__file__).read_text()


def test_probability_chart_is_riskfuncs_by_horizon_for_the_most_urgent(demo: Assessment) -> None:
    """Each curve is liquidation_probability at 1..30 days with the report's volatility and
    drift; the most urgent positions in the report's order, red and amber levels drawn."""
    from riskfuncs.probability import liquidation_probability

    curves = probability_curves(demo)
    assert 1 <= len(curves) <= chart.MAX_CURVES
    urgent = [p for p in demo.positions if math.isfinite(p.volatility)][:len(curves)]
    for curve, p in zip(curves, urgent, strict=True):
        assert curve.level == p.level and p.side in curve.label
        expected = [float(np.asarray(liquidation_probability(
            p.mark_price, p.liquidation_price, p.volatility, d / 365, side=p.side,
            drift=demo.drift))) for d in chart.HORIZON_DAYS]
        assert curve.probabilities == pytest.approx(expected, rel=1e-12, abs=1e-15)
        # The report's own horizon's figure is the table's P(liq).
        assert curve.probabilities[0] == pytest.approx(p.liquidation_probability, rel=1e-9)
        assert list(curve.probabilities) == sorted(curve.probabilities)  # longer, likelier
    figure = chart.probability_figure(curves, amber=0.01, red=0.05)
    levels = sorted(float(np.asarray(line.get_ydata())[0]) for line in figure.axes[0].get_lines()
                    if line.get_linestyle() == "--" and len(np.asarray(line.get_ydata())) == 2)
    assert levels == [0.01, 0.05]


def test_funding_chart_ends_at_the_total_paid(demo: Assessment) -> None:
    funding = demo.funding
    assert funding is not None and len(funding.running) == funding.intervals
    assert funding.running[-1] == pytest.approx(funding.total_payment, rel=1e-15)
    figure = chart.funding_figure(funding.times, funding.running, position=funding.position,
                                  currency=funding.currency)
    drawn = [line for line in figure.axes[0].get_lines() if len(line.get_xdata()) > 2]
    assert list(np.asarray(drawn[0].get_ydata())) == list(funding.running)
    word = "received" if funding.total_payment >= 0 else "paid"
    assert f"{word} {abs(funding.total_payment):,.6g} {funding.currency}" in [
        t.get_text() for t in _texts(figure)]

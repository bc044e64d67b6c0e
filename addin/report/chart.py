"""The report charts, drawn with matplotlib (Agg: no display needed) as high-DPI PNG.

Three charts, each readable on its own and on a 390-pixel phone screen:

* :func:`distance_figure`: the adverse move to liquidation per position, most urgent at the top,
  the red and amber alert zones shaded and their thresholds drawn, the most urgent position's
  label and value the largest on the chart;
* :func:`loss_figure`: the loss per stress scenario in the terms of the report's worst-case
  figure (the fall in margin equity: price move, liquidations, collateral haircuts and venue
  defaults), scenario names in full, SPAN scan rows grouped into their worst;
* :func:`venue_figure`: each venue's share of exchange exposure against the concentration limit;
* :func:`probability_figure`: the probability of touching the liquidation price within a horizon,
  from a day to a month, for the riskiest positions, the amber and red levels drawn;
* :func:`funding_figure`: funding received (+) or paid (-) over the funding log, running total.

Every chart is :data:`WIDTH_INCHES` wide and drawn so that its smallest text is still about
:data:`MIN_PHONE_PX` pixels high when the image is shown :data:`PHONE_WIDTH_PX` pixels wide.
Labels sit on their own line above each bar, so a long name never squeezes the bars.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

RED = "#c92a2a"
AMBER = "#e67700"
GREEN = "#2f9e44"
GREY = "#868e96"
INK = "#212529"
RED_ZONE = "#ffe3e3"
AMBER_ZONE = "#fff3bf"
TRACK = "#f1f3f5"
LEVEL_COLORS = {"red": RED, "amber": AMBER, "green": GREEN}

#: Width of every chart, in inches (72 points each).
WIDTH_INCHES = 5.0
#: Pixels per inch of the PNG: 5 inches give 1,100 pixels, sharp on a high-DPI screen.
DPI = 220
#: The narrowest screen the charts are drawn for, and the smallest text height there.
PHONE_WIDTH_PX = 370
MIN_PHONE_PX = 10.0
#: Font sizes in points; BASE at 5 inches shown 370 pixels wide is 11.3 pixels high.
BASE = 11.0
SMALL = 10.0
LARGE = 13.0
TITLE = 13.0
MAX_ROWS = 20
#: The loss chart's gain side is at most this share of its largest loss (gains are cut there).
GAIN_SHARE = 0.5
ROW_INCHES = 0.62
HEADER_INCHES = 1.15
FOOTER_INCHES = 0.45


@dataclass(frozen=True)
class DistanceBar:
    """One position: ``distance`` is the adverse move to liquidation as a fraction of the mark
    (inf: never liquidated; NaN: unknown), ``level`` red, amber or green."""

    label: str
    distance: float
    level: str


@dataclass(frozen=True)
class LossBar:
    """One scenario: ``loss`` in the report currency, positive for a loss, negative for a gain."""

    label: str
    loss: float
    worst: bool = False


@dataclass(frozen=True)
class VenueBar:
    """One venue: ``share`` of exchange exposure (fraction) and the ``exposure`` itself."""

    label: str
    share: float
    exposure: float


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%" if abs(value) < 1 else f"{value * 100:,.0f}%"


def _money(value: float) -> str:
    """Whole units with separators, as the report's tables show them (32,261); millions and
    billions shortened (4.2M) so a value keeps to the chart's margin."""
    size = abs(value)
    sign = "-" if value < 0 else ""
    for unit, div in (("B", 1e9), ("M", 1e6)):
        if size >= div:
            return f"{sign}{size / div:,.1f}{unit}"
    return f"{sign}{size:,.0f}"


def _axis_money(value: float) -> str:
    size = abs(value)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if size >= div:
            return f"{value / div:,.0f}{unit}"
    return f"{value:,.0f}"


def _figure(rows: int, title: str, subtitle: str) -> tuple[Figure, float]:
    """A figure sized for ``rows`` bars; returns it and the axes' top as a figure fraction."""
    height = HEADER_INCHES + ROW_INCHES * max(rows, 1) + FOOTER_INCHES
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    fig.text(0.03, 1 - 0.12 / height, title, ha="left", va="top", fontsize=TITLE,
             fontweight="bold", color=INK)
    fig.text(0.03, 1 - 0.45 / height, subtitle, ha="left", va="top", fontsize=SMALL, color=GREY)
    return fig, 1 - HEADER_INCHES / height


def _axes(fig: Figure, top: float, rows: int) -> tuple[Axes, float]:
    height = fig.get_figheight()
    bottom = FOOTER_INCHES / height
    ax = fig.add_axes((0.03, bottom, 0.75, top - bottom))
    ax.set_ylim(max(rows, 1) - 0.5, -0.75)  # row 0 at the top, room for its label
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GREY)
    ax.tick_params(axis="x", labelsize=SMALL, colors=GREY)
    return ax, bottom


def _label(ax: Axes, y: float, text: str, *, color: str = INK, bold: bool = False,
           size: float = BASE) -> None:
    # On a white box above the zone shading and the threshold lines, so no line crosses it.
    ax.text(0.0, y - 0.30, text, transform=ax.get_yaxis_transform(),
            ha="left", va="bottom", fontsize=size, color=color, zorder=5,
            fontweight="bold" if bold else "normal", clip_on=False,
            bbox={"boxstyle": "square,pad=0.08", "facecolor": "white", "edgecolor": "none"})


def _more(fig: Figure, hidden: int, what: str) -> None:
    if hidden:
        fig.text(0.03, 0.02, f"+{hidden} more {what} in the tables", fontsize=SMALL,
                 color=GREY, ha="left", va="bottom")


def distance_figure(bars: Sequence[DistanceBar], *, alert_distance: float) -> Figure:
    """Distance to liquidation, most urgent first (the order given), alert zones drawn.

    The red zone runs from 0 to ``alert_distance``, the amber zone to twice it; distances beyond
    the scale end in an arrow with their value. The first (most urgent) position's name and
    value are larger and bold, so the shortest bar is the one the eye finds first.
    """
    shown = list(bars[:MAX_ROWS])
    fig, top = _figure(len(shown), "Distance to liquidation",
                       "adverse price move that liquidates, % of mark; most urgent first")
    ax, _ = _axes(fig, top, len(shown))
    finite = [b.distance for b in shown if math.isfinite(b.distance) and b.distance >= 0]
    scale = max(3 * alert_distance, min(max(finite, default=0.0) * 1.1, 6 * alert_distance),
                0.01)
    ax.set_xlim(0, scale)
    ax.axvspan(0, alert_distance, color=RED_ZONE, zorder=0)
    ax.axvspan(alert_distance, min(2 * alert_distance, scale), color=AMBER_ZONE, zorder=0)
    # The thresholds are named once, in a key under the title, never over the lines.
    height = fig.get_figheight()
    for x, color, text, left in (
            (alert_distance, RED, f"red zone: under {_percent(alert_distance)}", 0.03),
            (2 * alert_distance, AMBER, f"amber: under {_percent(2 * alert_distance)}", 0.50)):
        if x < scale:
            ax.axvline(x, color=color, linewidth=1.6, linestyle="--", zorder=3)
        fig.text(left, 1 - 0.72 / height, f"- - {text}", ha="left", va="top", fontsize=SMALL,
                 color=color, fontweight="bold")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v * 100:.0f}%")
    for y, bar in enumerate(shown):
        urgent = y == 0 and bar.level != "green"
        color = LEVEL_COLORS.get(bar.level, GREY)
        ax.barh(y, scale, height=0.42, color=TRACK, zorder=1)
        value: str
        if math.isnan(bar.distance):
            value, end = "unknown", 0.0
        elif math.isinf(bar.distance):
            value, end = "never liquidated", scale
            ax.barh(y, scale, height=0.42, color=GREEN, zorder=2)
        else:
            end = min(max(bar.distance, 0.0), scale)
            ax.barh(y, end, height=0.42, color=color, zorder=2)
            value = _percent(bar.distance)
            if bar.distance > scale:
                value += " \u25b6"
            if urgent:  # the shortest bar still stands out: a marker at its end
                ax.plot([end], [y], marker="o", markersize=11, color=color, zorder=4,
                        markeredgecolor="white", markeredgewidth=1.5)
        _label(ax, y, bar.label, color=color if bar.level == "red" else INK, bold=urgent,
               size=LARGE if urgent else BASE)
        ax.text(1.02, y, value, transform=ax.get_yaxis_transform(), ha="left", va="center",
                fontsize=LARGE if urgent else BASE, color=color,
                fontweight="bold" if bar.level != "green" else "normal", clip_on=False)
    if not shown:
        ax.text(0.5, 0, "no positions", transform=ax.get_yaxis_transform(), ha="center",
                va="center", fontsize=LARGE, color=RED, fontweight="bold")
    _more(fig, len(bars) - len(shown), "positions")
    return fig


def loss_figure(bars: Sequence[LossBar], *, currency: str = "USD") -> Figure:
    """Loss per scenario, largest first (the order given); gains drawn left of zero in green.

    The scenario marked ``worst`` (the report's worst case) is labelled so, in bold.
    """
    shown = list(bars[:MAX_ROWS])
    fig, top = _figure(len(shown), f"Loss per stress scenario ({currency})",
                       "fall in margin equity: price, liquidations, haircuts, venue defaults")
    ax, _ = _axes(fig, top, len(shown))
    finite = [b.loss for b in shown if math.isfinite(b.loss)]
    high = max([*finite, 0.0])
    # Losses get the width: gains past half the largest loss are cut, marked with an arrow.
    floor = -GAIN_SHARE * high if high > 0 else min([*finite, -1.0])
    low = max(min([*finite, 0.0]), floor)
    span = (high - low) or 1.0
    ax.set_xlim(low - 0.02 * span, high + 0.02 * span)
    ax.axvline(0, color=INK, linewidth=1.0, zorder=3)
    ax.xaxis.set_major_formatter(lambda v, _pos: _axis_money(v))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    for y, bar in enumerate(shown):
        label = f"{bar.label}  (worst case)" if bar.worst else bar.label
        if not math.isfinite(bar.loss):
            _label(ax, y, label, color=GREY)
            ax.text(1.02, y, "n/a", transform=ax.get_yaxis_transform(), ha="left",
                    va="center", fontsize=BASE, color=GREY, clip_on=False)
            continue
        color = RED if bar.loss > 0 else GREEN
        cut = bar.loss < low
        ax.barh(y, max(bar.loss, low), height=0.42, color=color, zorder=2,
                edgecolor=INK if bar.worst else color, linewidth=1.5 if bar.worst else 0)
        _label(ax, y, label, bold=bar.worst)
        shown_value = _money(bar.loss) if bar.loss >= 0 else f"+{_money(-bar.loss)}"
        if cut:
            shown_value = "\u25c0 " + shown_value
        ax.text(1.02, y, shown_value, transform=ax.get_yaxis_transform(), ha="left",
                va="center", fontsize=BASE, color=color,
                fontweight="bold" if bar.worst else "normal", clip_on=False)
    if not shown:
        ax.text(0.5, 0, "no scenarios", transform=ax.get_yaxis_transform(), ha="center",
                va="center", fontsize=LARGE, color=GREY)
    _more(fig, len(bars) - len(shown), "scenarios")
    fig.text(0.97, 0.02, "+ = gain", fontsize=SMALL, color=GREY, ha="right", va="bottom")
    return fig


def venue_figure(bars: Sequence[VenueBar], *, limit: float) -> Figure:
    """Each venue's share of exchange exposure, the concentration ``limit`` drawn as a line;
    a venue over the limit is red."""
    shown = list(bars[:MAX_ROWS])
    fig, top = _figure(len(shown), "Exposure by venue",
                       f"share of exchange exposure; limit {_percent(limit)} a venue")
    ax, _ = _axes(fig, top, len(shown))
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v * 100:.0f}%")
    ax.axvspan(limit, 1, color=RED_ZONE, zorder=0)
    ax.axvline(limit, color=RED, linewidth=1.6, linestyle="--", zorder=3)
    ax.text(limit, 1.0, f"limit {_percent(limit)}", transform=ax.get_xaxis_transform(),
            ha="left", va="bottom", fontsize=SMALL, color=RED, fontweight="bold")
    for y, bar in enumerate(shown):
        over = math.isfinite(bar.share) and bar.share > limit
        color = RED if over else "#1f4e78"
        ax.barh(y, 1, height=0.42, color=TRACK, zorder=1)
        if math.isfinite(bar.share):
            ax.barh(y, bar.share, height=0.42, color=color, zorder=2)
        _label(ax, y, f"{bar.label}  {_money(bar.exposure)} USD", bold=over,
               color=RED if over else INK)
        ax.text(1.02, y, _percent(bar.share) if math.isfinite(bar.share) else "n/a",
                transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=BASE,
                color=color, fontweight="bold" if over else "normal", clip_on=False)
    if not shown:
        ax.text(0.5, 0, "no exposure", transform=ax.get_yaxis_transform(), ha="center",
                va="center", fontsize=LARGE, color=GREY)
    _more(fig, len(bars) - len(shown), "venues")
    return fig


@dataclass(frozen=True)
class ProbabilityCurve:
    """One position: ``probabilities`` of liquidation within each of the figure's horizons."""

    label: str
    probabilities: tuple[float, ...]
    level: str


#: Horizons of the probability chart, in days.
HORIZON_DAYS: tuple[float, ...] = (1, 2, 3, 5, 7, 10, 14, 21, 30)
#: Positions the probability chart shows (the most urgent ones).
MAX_CURVES = 5
#: Height of the line charts' plot area, in inches.
PLOT_INCHES = 2.6


def _line_figure(title: str, subtitle: str, legend_rows: int) -> tuple[Figure, Axes]:
    """A chart with one plot area and room for a key of ``legend_rows`` lines below it."""
    key = 0.30 * legend_rows
    height = HEADER_INCHES + PLOT_INCHES + FOOTER_INCHES + 0.25 + key
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    fig.text(0.03, 1 - 0.12 / height, title, ha="left", va="top", fontsize=TITLE,
             fontweight="bold", color=INK)
    fig.text(0.03, 1 - 0.45 / height, subtitle, ha="left", va="top", fontsize=SMALL, color=GREY)
    bottom = (FOOTER_INCHES + 0.25 + key) / height
    ax = fig.add_axes((0.14, bottom, 0.80, PLOT_INCHES / height))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("bottom", "left"):
        ax.spines[side].set_color(GREY)
    ax.tick_params(labelsize=SMALL, colors=GREY)
    ax.grid(axis="y", color=TRACK, linewidth=1.0, zorder=0)
    return fig, ax


def probability_figure(curves: Sequence[ProbabilityCurve], *, amber: float, red: float,
                       horizon_days: float = 1.0) -> Figure:
    """Probability of liquidation within 1 to 30 days, one line per position (most urgent
    first, the order given; at most :data:`MAX_CURVES`), on a 0-100% scale with the amber
    and red levels drawn and the report's own horizon marked. Each line ends in its value at
    30 days; the key below names the positions in their level's colour."""
    shown = list(curves[:MAX_CURVES])
    fig, ax = _line_figure("Chance of liquidation by horizon",
                           "probability of touching the liquidation price within the horizon",
                           len(shown))
    days = HORIZON_DAYS
    ax.set_xlim(days[0], days[-1])
    ax.set_ylim(0, 1)
    ax.set_xscale("log")
    ax.set_xticks(days, [f"{d:g}d" for d in days])
    ax.minorticks_off()
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v * 100:.0f}%")
    for level, color in ((red, RED), (amber, AMBER)):
        ax.axhline(level, color=color, linewidth=1.4, linestyle="--", zorder=2)
    ax.axvline(horizon_days, color=GREY, linewidth=1.0, linestyle=":", zorder=2)
    ax.text(horizon_days, 1.0, f" report: {horizon_days:g}d", transform=ax.get_xaxis_transform(),
            ha="left", va="bottom", fontsize=SMALL, color=GREY)
    styles: tuple[Literal["-", "--", "-.", ":"], ...] = ("-", "--", "-.", ":")
    height = fig.get_figheight()
    for i, curve in enumerate(shown):
        color = LEVEL_COLORS.get(curve.level, GREY)
        values = [p if math.isfinite(p) else math.nan for p in curve.probabilities]
        ax.plot(days, values, color=color, linewidth=2.6 if i == 0 else 1.8,
                linestyle=styles[i % len(styles)], zorder=4, marker="o", markersize=3)
        last = values[-1]
        end = "n/a" if math.isnan(last) else _percent(last)
        y = (FOOTER_INCHES + 0.30 * (len(shown) - i) - 0.12) / height
        fig.add_artist(Line2D([0.03, 0.11], [y, y], color=color, linewidth=2.6 if i == 0 else 1.8,
                              linestyle=styles[i % len(styles)]))
        fig.text(0.13, y, f"{curve.label}: {end} in {days[-1]:g}d", ha="left",
                 va="center", fontsize=LARGE if i == 0 else BASE, color=color,
                 fontweight="bold" if i == 0 else "normal")
    if not shown:
        ax.text(0.5, 0.5, "no volatility: probabilities unknown", transform=ax.transAxes,
                ha="center", va="center", fontsize=LARGE, color=GREY)
    fig.text(0.03, 0.02, f"- - red above {_percent(red)}, amber above {_percent(amber)}",
             fontsize=SMALL, color=GREY, ha="left", va="bottom")
    return fig


def funding_figure(times: Sequence[str], running: Sequence[float], *, position: str,
                   currency: str) -> Figure:
    """Funding received (+) or paid (-) over the log, as a running total in ``currency``:
    the area under the line green while received, red while paid."""
    fig, ax = _line_figure(f"Funding, running total ({currency})",
                           f"{position}: + received, - paid", 0)
    x = list(range(len(running)))
    values = [v if math.isfinite(v) else math.nan for v in running]
    ax.axhline(0, color=INK, linewidth=1.0, zorder=2)
    ax.plot(x, values, color=INK, linewidth=1.8, zorder=4)
    ax.fill_between(x, values, 0, where=[v >= 0 for v in values], color=GREEN, alpha=0.35,
                    interpolate=True, zorder=3)
    ax.fill_between(x, values, 0, where=[v < 0 for v in values], color=RED, alpha=0.35,
                    interpolate=True, zorder=3)
    ax.yaxis.set_major_formatter(lambda v, _pos: _axis_money(v) if abs(v) >= 1 else f"{v:.4g}")
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ticks = sorted({0, (len(x) - 1) // 2, len(x) - 1}) if x else []
    ax.set_xticks(ticks, [_short_time(times[i]) for i in ticks])
    labels = ax.get_xticklabels()
    if labels:  # the ends inside the figure
        labels[0].set_horizontalalignment("left")
        labels[-1].set_horizontalalignment("right")
    if x:
        ax.set_xlim(0, max(len(x) - 1, 1))
        total = values[-1]
        word = "received" if total >= 0 else "paid"
        ax.text(1.0, 1.02, f"{word} {abs(total):,.6g} {currency}", transform=ax.transAxes,
                ha="right",
                va="bottom", fontsize=LARGE, fontweight="bold",
                color=GREEN if total >= 0 else RED)
    return fig


def _short_time(text: str) -> str:
    """``2024-11-20T08:00:00`` -> ``Nov 20 08h``, ``2024-11-20`` -> ``Nov 20``; other text as
    given, cut to 11 characters."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:11]
    return when.strftime("%b %d %Hh" if len(text) > 10 and when.hour else "%b %d")


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes at :data:`DPI` (no timestamp or software tag: same input, same
    bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white",
                metadata={"Software": None})
    return buffer.getvalue()

"""The report chart as a PNG, drawn with numpy and zlib only.

Two horizontal bar panels: distance to liquidation per position (most urgent first, coloured by
alert level, the alert threshold drawn as a line) and profit and loss per stress scenario
(losses left of zero in red, gains right in green). The PNG encoder follows the PNG
specification (W3C, https://www.w3.org/TR/png/): signature, IHDR, one zlib-compressed IDAT of
filter-type-0 scanlines, IEND, each chunk with its CRC-32.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from addin.report._font import WIDTH as GLYPH_W
from addin.report._font import glyph

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
INK: Color = (33, 37, 41)
GREY: Color = (173, 181, 189)
LIGHT: Color = (233, 236, 239)
RED: Color = (201, 42, 42)
AMBER: Color = (230, 146, 0)
GREEN: Color = (47, 158, 68)
LEVEL_COLORS: dict[str, Color] = {"red": RED, "amber": AMBER, "green": GREEN}

WIDTH = 900
SCALE = 2  # glyph pixel size
ROW = 24
LABEL_W = 20 * (GLYPH_W + 1) * SCALE
BAR_X0 = 20 + LABEL_W + 10
BAR_X1 = WIDTH - 130
MAX_ROWS = 20


def encode_png(pixels: npt.NDArray[np.uint8]) -> bytes:
    """Encode an (height, width, 3) uint8 RGB array as PNG bytes."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError("pixels must be a (height, width, 3) uint8 array")
    height, width, _ = pixels.shape
    raw = np.zeros((height, 1 + width * 3), dtype=np.uint8)  # filter byte 0 = None per row
    raw[:, 1:] = pixels.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.pixels = np.empty((height, width, 3), dtype=np.uint8)
        self.pixels[:] = WHITE

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        h, w, _ = self.pixels.shape
        xa, xb = sorted((round(x0), round(x1)))
        ya, yb = sorted((round(y0), round(y1)))
        xa, xb, ya, yb = max(xa, 0), min(xb, w), max(ya, 0), min(yb, h)
        if xa < xb and ya < yb:
            self.pixels[ya:yb, xa:xb] = color

    def text(self, x: int, y: int, text: str, color: Color = INK, scale: int = SCALE,
             align: str = "left") -> None:
        advance = (GLYPH_W + 1) * scale
        if align == "right":
            x -= advance * len(text)
        for i, char in enumerate(text):
            for r, row in enumerate(glyph(char)):
                for c, on in enumerate(row):
                    if on:
                        gx, gy = x + i * advance + c * scale, y + r * scale
                        self.rect(gx, gy, gx + scale, gy + scale, color)


@dataclass(frozen=True)
class DistanceBar:
    label: str
    distance: float  # fraction of mark; inf = never liquidated; NaN = unknown
    level: str  # "red", "amber" or "green"


@dataclass(frozen=True)
class PnlBar:
    label: str
    pnl: float


def _fit(label: str, limit: int = 20) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "."


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _money(value: float) -> str:
    sign = "-" if value < 0 else "+"
    size = abs(value)
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if size >= div:
            return f"{sign}{size / div:.1f}{unit}"
    return f"{sign}{size:.0f}"


def risk_chart(
    distances: Sequence[DistanceBar],
    scenarios: Sequence[PnlBar],
    *,
    alert_distance: float,
    currency: str = "USD",
) -> bytes:
    """Draw both panels and return the PNG bytes (at most 20 bars each, in the given order)."""
    shown = list(distances[:MAX_ROWS])
    shown_pnl = list(scenarios[:MAX_ROWS])
    more = len(distances) - len(shown)
    more_pnl = len(scenarios) - len(shown_pnl)
    height = (48 + ROW * max(len(shown), 1) + (ROW if more else 0) + 30
              + 40 + ROW * max(len(shown_pnl), 1) + (ROW if more_pnl else 0) + 30)
    canvas = Canvas(WIDTH, height)
    y = 12
    canvas.text(20, y, "DISTANCE TO LIQUIDATION (ADVERSE MOVE, % OF MARK)")
    y += 36
    finite = [d.distance for d in shown if math.isfinite(d.distance)]
    top = max([*finite, alert_distance * 2, 0.01])
    span = BAR_X1 - BAR_X0
    panel_top = y
    for bar in shown:
        canvas.text(20, y + 4, _fit(bar.label))
        canvas.rect(BAR_X0, y + 2, BAR_X1, y + ROW - 4, LIGHT)
        color = LEVEL_COLORS.get(bar.level, GREY)
        if math.isnan(bar.distance):
            canvas.text(BAR_X0 + 6, y + 4, "N/A", GREY)
        elif math.isinf(bar.distance):
            canvas.rect(BAR_X0, y + 2, BAR_X1, y + ROW - 4, GREEN)
            canvas.text(BAR_X1 + 8, y + 4, "NEVER")
        else:
            end = BAR_X0 + span * max(bar.distance, 0.0) / top
            canvas.rect(BAR_X0, y + 2, max(end, BAR_X0 + 2), y + ROW - 4, color)
            canvas.text(BAR_X1 + 8, y + 4, _percent(bar.distance))
        y += ROW
    if not shown:
        canvas.text(BAR_X0, y + 4, "NO POSITIONS", GREY)
        y += ROW
    threshold_x = BAR_X0 + span * alert_distance / top
    canvas.rect(threshold_x - 1, panel_top - 4, threshold_x + 1, y, INK)
    canvas.text(int(threshold_x) + 4, panel_top - 14, f"ALERT {_percent(alert_distance)}",
                INK, scale=1)
    if more:
        canvas.text(20, y + 4, f"+{more} MORE", GREY)
        y += ROW
    y += 30

    canvas.text(20, y, f"PROFIT AND LOSS PER STRESS SCENARIO ({currency})")
    y += 28
    largest = max([abs(b.pnl) for b in shown_pnl if math.isfinite(b.pnl)] + [1e-12])
    zero_x = (BAR_X0 + BAR_X1) / 2
    half = span / 2
    panel_top = y
    for pnl_bar in shown_pnl:
        canvas.text(20, y + 4, _fit(pnl_bar.label))
        canvas.rect(BAR_X0, y + 2, BAR_X1, y + ROW - 4, LIGHT)
        if math.isfinite(pnl_bar.pnl):
            end = zero_x + half * pnl_bar.pnl / largest
            canvas.rect(zero_x, y + 2, end, y + ROW - 4, RED if pnl_bar.pnl < 0 else GREEN)
            canvas.text(BAR_X1 + 8, y + 4, _money(pnl_bar.pnl))
        else:
            canvas.text(BAR_X1 + 8, y + 4, "N/A", GREY)
        y += ROW
    if not shown_pnl:
        canvas.text(BAR_X0, y + 4, "NO SCENARIOS", GREY)
        y += ROW
    canvas.rect(zero_x - 1, panel_top - 4, zero_x + 1, y, INK)
    if more_pnl:
        canvas.text(20, y + 4, f"+{more_pnl} MORE", GREY)
    return encode_png(canvas.pixels)

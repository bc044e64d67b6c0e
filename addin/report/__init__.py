"""The assessment of a filled workbook and its report (text, HTML with its charts, JSON);
:mod:`addin.delivery` emails it."""

from __future__ import annotations

from addin.report.assessment import Assessment, Settings, assess, positions_frame
from addin.report.pipeline import Outcome, assess_book, assess_file
from addin.report.render import FORMATS, chart_png, render, render_subject

__all__ = [
    "FORMATS",
    "Assessment",
    "Outcome",
    "Settings",
    "assess",
    "assess_book",
    "assess_file",
    "chart_png",
    "positions_frame",
    "render",
    "render_subject",
]

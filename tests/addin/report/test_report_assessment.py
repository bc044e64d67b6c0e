"""The assessment: recomputed with riskfuncs, checked against published exchange examples."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from jinja2 import UndefinedError

from addin.report import assess, render, render_subject
from addin.report.assessment import Alert, AuditCheck, Settings
from addin.report.render import environment
from riskfuncs.portfolio import portfolio_margin

# Binance's own liquidation calculator, two longs sharing one cross wallet of 1,535,443.01
# USDT, as stored in freqtrade's tests (tests/exchange/test_binance.py, "From calc example"):
# ETHUSDT liquidates at 1,153.26 and BTCUSDT at 26,316.89. The calculator shows two decimals,
# hence the 0.005 tolerance. Same case as tests/reference/exchange_examples.csv.
BINANCE_CROSS = pd.DataFrame({
    "exchange": ["binance", "binance"],
    "symbol": ["ETH/USDT:USDT", "BTC/USDT:USDT"],
    "side": ["long", "long"],
    "contracts": [3683.979, 109.488], "contractSize": [1.0, 1.0],
    "entryPrice": [1456.84, 32481.98], "markPrice": [1335.18, 31967.27],
    "collateral": [1535443.01, 1535443.01],
    "marginMode": ["cross", "cross"], "contractType": ["linear", "linear"],
    "maintenanceMarginRate": [0.1, 0.025], "maintenanceAmount": [135365.0, 16300.0],
    "leverage": [np.nan, np.nan], "feeRate": [0.0, 0.0], "maxLeverage": [np.nan, np.nan],
    "stopLossPrice": [np.nan, np.nan],
}, index=[11, 12])
BINANCE_EXPECTED = {11: 1153.26, 12: 26316.89}

# dYdX v4 documentation, isolated short: 3 ETH at 3,000 with 1,000 USDC, MMR 5% -> 3,174.60
# (tests/reference/exchange_examples.csv, dydx-isolated-short; 0.005 for the 2-decimal value).
DYDX_SHORT = pd.DataFrame({
    "exchange": ["dydx"], "symbol": ["ETH/USD:USDC"], "side": ["short"], "contracts": [3.0],
    "contractSize": [1.0], "entryPrice": [3000.0], "markPrice": [3000.0],
    "collateral": [1000.0], "marginMode": ["isolated"], "contractType": ["linear"],
    "maintenanceMarginRate": [0.05], "maintenanceAmount": [0.0], "leverage": [np.nan],
    "feeRate": [0.0], "maxLeverage": [np.nan], "stopLossPrice": [np.nan],
}, index=[20])


def book() -> pd.DataFrame:
    return pd.concat([BINANCE_CROSS, DYDX_SHORT])


def test_liquidation_prices_match_the_published_examples() -> None:
    result = assess(book(), scenarios=())
    by_row = {p.row: p for p in result.positions}
    for row, expected in BINANCE_EXPECTED.items():
        assert by_row[row].liquidation_price == pytest.approx(expected, abs=0.005)
    assert by_row[20].liquidation_price == pytest.approx(3174.60, abs=0.005)


def test_every_position_figure_is_riskfuncs_on_the_same_inputs() -> None:
    positions = book()
    expected = portfolio_margin(positions)
    result = assess(positions, scenarios=())
    for p in result.positions:
        row = expected.loc[p.row]
        for name in ("liquidation_price", "margin_ratio", "margin_buffer", "notional",
                     "unrealized_pnl", "margin_balance", "leverage"):
            assert getattr(p, name) == row[name], name


def test_alert_levels_follow_the_settings() -> None:
    positions = DYDX_SHORT.copy()
    # distance (3174.6 - 3000) / 3000 = 5.8%: red under a 10% alert, amber under 5%
    assert assess(positions, scenarios=()).positions[0].level == "red"
    relaxed = assess(positions, settings=Settings(alert_distance=0.05, leverage_cap=20),
                     scenarios=())
    assert relaxed.positions[0].level == "amber"
    calm = assess(positions, settings=Settings(alert_distance=0.02, leverage_cap=20),
                  scenarios=())
    assert calm.positions[0].level == "green" and calm.alerts == []


def test_positions_are_ranked_by_urgency() -> None:
    result = assess(book(), scenarios=None)
    ranks = [("red", "amber", "green").index(p.level) for p in result.positions]
    assert ranks == sorted(ranks)
    reds = [p.distance_to_liquidation for p in result.positions if p.level == "red"]
    assert reds == sorted(reds)
    assert result.worst_alert is not None and result.worst_alert.level == "red"


def test_stress_and_counterparty_sections() -> None:
    result = assess(book())
    assert result.worst_scenario is not None
    assert result.worst_scenario.loss == max(s.loss for s in result.scenarios)
    assert result.counterparty is not None
    shares = [e.share for e in result.counterparty.exchanges]
    assert math.isclose(sum(shares), 1.0)
    assert result.audit and result.audit_passed is False  # no stop-losses set


def test_positions_without_a_mark_price_are_not_shown_as_safe_under_stress() -> None:
    positions = book()
    positions.loc[20, "markPrice"] = np.nan
    result = assess(positions)
    assert result.scenarios and all(s.positions_unknown == 1 for s in result.scenarios)
    assert any(a.subject == "stress: missing data" and a.level == "amber"
               for a in result.alerts), result.alerts
    assert "unknown (missing data): 1" in render(result, "text")
    assert "+1 unknown: missing data" in render(result, "html")


def test_an_audit_check_without_data_is_not_a_pass() -> None:
    result = assess(book())
    passed = AuditCheck("stop-loss", "book", True, 1.0, 1.0, "")
    unknown = AuditCheck("leverage", "row 20", None, math.nan, 5.0, "leverage unknown")
    failed = AuditCheck("buffer", "row 11", False, 0.1, 0.3, "buffer 10%")
    result.audit = [passed, unknown]
    assert result.audit_passed is None
    assert "Risk audit: INCOMPLETE (missing data)" in render(result, "text")
    assert "incomplete (missing data)" in render(result, "html")
    result.audit = [passed, unknown, failed]
    assert result.audit_passed is False
    result.audit = [passed]
    assert result.audit_passed is True
    assert "Risk audit: PASSED" in render(result, "text")


def test_json_report_round_trips_with_the_numbers() -> None:
    result = assess(book())
    data = json.loads(render(result, "json"))
    rows = {p["row"]: p for p in data["positions"]}
    assert rows[11]["liquidation_price"] == pytest.approx(1153.26, abs=0.005)
    assert data["worst_alert"]["level"] == "red"


def test_text_and_html_say_the_numbers() -> None:
    result = assess(book())
    text = render(result, "text")
    html = render(result, "html")
    assert "1,153.26" in text and "26,316.9" in text and "3,174.60" in text
    assert "1,153.26" in html and "data:image/png;base64," in html


def test_workbook_text_is_escaped_in_html_not_in_text() -> None:
    positions = DYDX_SHORT.copy()
    positions["symbol"] = ["<script>alert(1)</script>/USD:USDC"]
    result = assess(positions, source="a&b.xlsx", scenarios=())
    html = render(result, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b.xlsx" in html
    assert "<script>alert(1)</script>" in render(result, "text")


def test_templates_are_strict() -> None:
    result = assess(DYDX_SHORT, scenarios=())
    with pytest.raises(UndefinedError):
        environment().get_template("report.html.j2").render(  # no charts
            a=result, data={}, max_positions=1)


def test_subject_names_the_worst_alert_on_one_line() -> None:
    positions = DYDX_SHORT.copy()
    positions["symbol"] = ["ETH\r\nBcc: x@example.test"]
    subject = render_subject(assess(positions, source="desk.xlsx", scenarios=()))
    assert "\r" not in subject and "\n" not in subject
    assert subject.startswith(
        "perprisk RED: ETH Bcc: x@example.test short (dydx), distance to liquidation 5.8%")
    assert subject.endswith("| desk.xlsx")


def test_long_books_list_the_most_urgent_positions_first() -> None:
    result = assess(book(), scenarios=())
    text = render(result, "text", max_positions=1)
    html = render(result, "html", max_positions=1)
    first, second = result.positions[0], result.positions[1]
    assert first.label in text and f"{second.label[:28]} " not in text
    assert "2 more position(s), less urgent" in text and "2 more position(s)" in html


def test_book_wide_alerts_are_listed_however_many_positions_are() -> None:
    """The full report once hid the stress alert behind the cut meant for position alerts."""
    result = assess(book())
    book_wide = Alert("amber", "stress: test", "would liquidate 2 position(s)")
    position_alerts = [a for a in result.alerts if a.row is not None]
    assert position_alerts, "the sample book has positions near liquidation"
    result.alerts = [*position_alerts, book_wide]
    for max_positions in (None, 1):
        for fmt in ("text", "html"):
            out = render(result, fmt, max_positions=max_positions)  # type: ignore[arg-type]
            assert "stress: test" in out, (fmt, max_positions)
            assert position_alerts[0].subject in out
    text = render(result, "text", max_positions=1)
    hidden = len(position_alerts) - 1
    assert (f"... {hidden} more alert(s)" in text) == (hidden > 0)

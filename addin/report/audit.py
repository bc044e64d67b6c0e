"""The Risk Audit checklist as the workbook computes it, for the report.

The workbook's Risk Audit sheet lists the guide's checklist (``templates/workbook/texts.json``,
``audit``): checks it computes from the other sheets and checks the trader ticks. The report
names the same checklist, each computed check judged by the same rule as the sheet's formula
(``addin.workbook.formulas._computed_checks``) and the ticked ones read from the answers, so the
dashboard's "0 passed, 8 failed, 5 to tick" and the report's summary are one figure. Under each
check the report lists the per-position findings of :func:`riskfuncs.discipline.discipline_report`
that explain it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from addin.report.assessment import Assessment, AuditCheck, stop_check
from addin.workbook.texts import load_texts
from riskfuncs.discipline import DisciplineLimits

#: Which checklist item each discipline_report check explains.
EXPLAINS = {"leverage": "leverage", "margin_buffer": "buffer", "stop_loss": "stops",
            "diversification": "spread", "model_freshness": "freshness"}

PASS, FAIL, NOT_APPLICABLE, OPEN = "PASS", "FAIL", "N/A", "OPEN"


@dataclass(frozen=True)
class ChecklistItem:
    """One line of the checklist: its status, the evidence and the findings behind it."""

    id: str
    text: str
    status: str  # PASS, FAIL, N/A or OPEN (a ticked check not answered yet)
    computed: bool
    evidence: str = ""
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditContext:
    """What the checklist needs besides the assessment (the workbook's own settings)."""

    answers: Mapping[str, str] | None = None  # item id -> yes / no / n/a
    max_share: float = DisciplineLimits().max_venue_share
    min_venues: int = DisciplineLimits().min_venues
    audit_date: dt.date | None = None
    last_price: dt.date | None = None
    max_data_age: float = 7.0
    has_stress: bool = True
    has_scorecard: bool = True
    has_history: bool = True


def checklist(a: Assessment, context: AuditContext = AuditContext()) -> list[ChecklistItem]:
    """The workbook's checklist judged from the assessment, in the sheet's order."""
    computed = _computed(a, context)
    findings: dict[str, list[str]] = {}
    for check in a.audit:
        item = EXPLAINS.get(check.check)
        if item and check.passed is not True:
            findings.setdefault(item, []).append(_finding(check))
    out = []
    for entry in load_texts()["audit"]:
        key, text = str(entry["id"]), str(entry["text"])
        if key in computed:
            status, evidence = computed[key]
            out.append(ChecklistItem(key, text, status, True, evidence,
                                     tuple(findings.get(key, ()))))
            continue
        answer = str((context.answers or {}).get(key) or "").strip().lower()
        status = {"yes": PASS, "no": FAIL, "n/a": NOT_APPLICABLE}.get(answer, OPEN)
        out.append(ChecklistItem(key, text, status, False, "you tick"))
    return out


def _finding(check: AuditCheck) -> str:
    what = "unknown (missing data)" if check.passed is None else check.message
    return f"{check.scope}: {what}"


def _computed(a: Assessment, c: AuditContext) -> dict[str, tuple[str, str]]:
    """id -> (status, evidence) for the checks the workbook computes, by the sheet's rules."""
    s, rows = a.settings, a.positions
    if not rows:
        out = {key: (NOT_APPLICABLE, "") for key in ("leverage", "buffer", "distance", "stops",
                                                     "alerts")}
    else:
        leverage = [r.leverage for r in rows]
        over = sum(not (x <= s.leverage_cap) for x in leverage)  # NaN: no balance, fails
        distances = [r.distance_to_liquidation for r in rows]
        red = sum(d < s.alert_distance for d in distances)
        unknown = sum(math.isnan(d) for d in distances)
        below = sum(r.cap_buffer < s.buffer_rule for r in rows)
        stops = [stop_check(r.side, r.stop_price, r.liquidation_price, r.mark_price)
                 for r in rows]
        reds, ambers = (sum(r.level == level for r in rows) for level in ("red", "amber"))
        finite = [x for x in leverage if math.isfinite(x)]
        known = [d for d in distances if math.isfinite(d)]
        out = {
            "leverage": (_verdict(over == 0),
                         f"highest {max(finite, default=math.nan):.1f}x, cap {s.leverage_cap:g}x"),
            "buffer": (_verdict(below + red + unknown == 0),
                       f"{below} position(s) below {s.buffer_rule:.0%}"
                       + (f", {red} red on distance" if red else "")),
            "distance": (_verdict(red + unknown == 0),
                         f"closest {min(known):.1%}" if known else "none reachable"),
            "stops": (_verdict(all(x == "ok" for x in stops)),
                      f"{stops.count('missing')} missing, {stops.count('beyond')} past the "
                      f"liquidation price, {stops.count('wrong side')} on the wrong side of "
                      "the mark"),
            "alerts": (_verdict(reds + ambers == 0), f"{reds} red, {ambers} amber"),
        }
    worst = a.worst_scenario
    if c.has_stress:
        out["stress"] = (
            (NOT_APPLICABLE, "") if worst is None or not rows else
            (_verdict(worst.positions_liquidated == 0),
             f"{worst.name}: {worst.positions_liquidated} liquidated, loss {worst.loss:,.0f}"))
    cp = a.counterparty
    if c.has_scorecard and cp is not None and cp.total_exposure > 0:
        largest = max(e.share for e in cp.exchanges)
        venues = sum(e.exposure > 0 for e in cp.exchanges)
        out["spread"] = (_verdict(largest <= c.max_share and venues >= c.min_venues),
                         f"largest share {largest:.0%}, {cp.effective_venues:.1f} venues")
    elif c.has_scorecard:
        out["spread"] = (NOT_APPLICABLE, "")
    card = a.scorecard
    if c.has_scorecard:
        if card is None or not card.exchanges:
            out["scores"] = (NOT_APPLICABLE, "")
        else:
            low = sum(e.exposure > 0 and e.score < card.minimum_score for e in card.exchanges)
            out["scores"] = (_verdict(low == 0), f"{low} exchange(s) with exposure score below "
                                                 f"{card.minimum_score:g}")
    if c.has_history:
        last = c.last_price
        if c.audit_date is None or last is None:
            out["freshness"] = (NOT_APPLICABLE, f"last price {last:%Y-%m-%d}" if last else "")
        else:
            fresh = (c.audit_date - last).days <= c.max_data_age
            out["freshness"] = (_verdict(fresh), f"last price {last:%Y-%m-%d}")
    return out


def _verdict(passed: bool) -> str:
    return PASS if passed else FAIL

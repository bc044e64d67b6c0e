"""Workbook file -> validated inputs -> assessment -> rendered report or email."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from addin.reader import FilledWorkbook, read_filled_workbook, tier_frames
from addin.reader.exchange_data import Export
from addin.reader.safety import DEFAULT_LIMITS, Limits, WorkbookError
from addin.report import accounts_view, audit, sections
from addin.report.assessment import (
    LEVEL_RANK,
    Assessment,
    Settings,
    assess,
    positions_frame,
    tiers_by_symbol,
)
from addin.workbook.texts import load_texts
from riskfuncs import RiskInputError
from riskfuncs.counterparty import exposure_by_exchange


@dataclass
class Outcome:
    """A workbook read and, when its inputs are valid, assessed."""

    book: FilledWorkbook
    assessment: Assessment | None


def _number(values: dict[str, Any], key: str, default: float) -> float:
    """A setting the reader typed as a number, else ``default`` (blank or invalid)."""
    value = values.get(key)
    return float(value) if isinstance(value, int | float) else default


def settings_of(book: FilledWorkbook) -> Settings:
    values: dict[str, Any] = book.fields.get("positions", {})
    defaults = Settings()
    return Settings(
        leverage_cap=_number(values, "leverage_cap", defaults.leverage_cap),
        buffer_rule=_number(values, "buffer_rule", defaults.buffer_rule),
        alert_distance=_number(values, "alert_distance", defaults.alert_distance),
    )


def audit_context(book: FilledWorkbook, has: set[str]) -> audit.AuditContext:
    """The Risk Audit's answers, date and limits as the workbook holds them."""
    items = [str(entry["id"]) for entry in load_texts()["audit"]]
    checks = book.tables.get("checks", pd.DataFrame())
    first = book.first_rows.get("checks", 0)
    answers = {items[row - first]: str(answer) for row, answer in
               zip(checks.index, checks.get("answer", pd.Series(dtype=object)), strict=True)
               if 0 <= row - first < len(items) and isinstance(answer, str)}
    settings = book.fields.get("audit", {})
    card = book.fields.get("scorecard", {})
    history = book.tables.get("history")
    dates = pd.to_datetime(history["date"], errors="coerce").dropna() if (
        history is not None and "date" in history) else pd.Series(dtype="datetime64[ns]")
    defaults = audit.AuditContext()
    when = settings.get("date")
    return audit.AuditContext(
        answers=answers,
        max_share=_number(card, "max_share", defaults.max_share),
        min_venues=int(_number(card, "min_venues", defaults.min_venues)),
        audit_date=when.date() if isinstance(when, dt.datetime) else (
            when if isinstance(when, dt.date) else None),
        last_price=dates.max().date() if len(dates) else None,
        max_data_age=_number(settings, "max_data_age", defaults.max_data_age),
        has_stress="stress" in has, has_scorecard="scorecard" in has,
        has_history="volatility" in has,
    )


def _asset_exposure(frame: pd.DataFrame, asset: str) -> float:
    """Signed USD value of the positions on ``asset`` (the VaR exposure when none is given)."""
    base = frame["symbol"].str.partition("/")[0].str.upper()
    sign = np.where(frame["side"].str.lower() == "short", -1.0, 1.0)
    inverse = frame["contractType"].str.lower() == "inverse"
    quantity = frame["contracts"] * frame["contractSize"]
    value = np.where(inverse, quantity, quantity * frame["markPrice"])
    return float(np.nansum(np.where(base == asset.upper(), sign * value, 0.0)))


def _asset_value(frame: pd.DataFrame, asset: str) -> float:
    """Gross USD value of the positions on ``asset`` (longs and shorts alike)."""
    base = frame["symbol"].str.partition("/")[0].str.upper()
    inverse = frame["contractType"].str.lower() == "inverse"
    quantity = frame["contracts"] * frame["contractSize"]
    value = np.where(inverse, quantity, quantity * frame["markPrice"])
    return float(np.nansum(np.where(base == asset.upper(), np.abs(value), 0.0)))


def assess_book(book: FilledWorkbook, *, now: dt.datetime | None = None) -> Assessment:
    """The full assessment from a validated workbook's inputs.

    Sections whose sheet the template has but the trader left empty get a note; sections whose
    sheet the template does not have are left out silently.
    """
    from addin.workbook import layout

    has = set(layout.sheet_closure(book.template.sheets))
    table = book.tables.get("positions", pd.DataFrame())
    tiers_table = book.tables.get("tiers")
    tier_tables = tier_frames(tiers_table) if tiers_table is not None else {}
    frame = positions_frame(table)
    notes: list[str] = []
    library = sections.scenarios_of(book)
    if library is None and "stress" in has:
        notes.append("the Stress Test sheet lists no scenarios: the built-in library was used")
    asset = str(book.fields.get("volatility", {}).get("asset") or "BTC")
    market = sections.market_risk_of(book, _asset_exposure(frame, asset)) if len(frame) else None
    if market is None and "volatility" in has:
        notes.append("VaR and expected shortfall need a price history on the Volatility & VaR "
                     "sheet")
    vol_settings = book.fields.get("volatility", {})
    assessment = assess(
        frame, settings=settings_of(book), tiers=tiers_by_symbol(table, tier_tables) or None,
        scenarios=library[0] if library else None, betas=library[1] if library else None,
        volatility=sections.volatilities_of(book, frame.index, market) if len(frame) else None,
        probability_days=float(vol_settings.get("probability_days") or 1.0),
        drift=float(vol_settings.get("drift") or 0.0),
        source=book.path.name, template=book.template.tag, now=now,
    )
    if market is not None:
        # The VaR is of one asset's price history: say how much of the book that is.
        market = dataclasses.replace(market, covered_value=_asset_value(frame, asset),
                                     book_value=assessment.totals.value_usd)
    assessment.market = market
    assessment.book_risk = sections.book_risk_of(book, frame) if len(frame) else None
    if assessment.book_risk is None and "prices" in has and len(frame):
        notes.append("the book's VaR and expected shortfall need daily closes of the assets "
                     "held on the Prices sheet")
    exposures = exposure_by_exchange(frame) if len(frame) else pd.Series(dtype=float)
    assessment.scorecard = sections.scorecard_of(book, exposures)
    # A proof of reserves that failed on the Scorecard is a red alert of the whole book.
    failed = [a for a in sections.proof_alerts(assessment.scorecard) if a not in assessment.alerts]
    assessment.alerts = sorted([*assessment.alerts, *failed], key=lambda a: LEVEL_RANK[a.level])
    if assessment.scorecard is None and "scorecard" in has:
        notes.append("exchange scores and expected loss need the Exchange Scorecard filled in")
    # Unified accounts (the Accounts sheet): an account near its trigger is an alert too.
    assessment.accounts = accounts_view.account_view(book, tier_tables)
    if assessment.accounts is not None:
        assessment.alerts = sorted([*assessment.alerts,
                                    *accounts_view.account_alerts(assessment.accounts)],
                                   key=lambda a: LEVEL_RANK[a.level])
    assessment.checklist = sections.checklist_of(book)
    if "audit" in has:
        assessment.risk_audit = audit.checklist(assessment, audit_context(book, has))
    assessment.funding = sections.funding_of(book, frame)
    log = book.tables.get("log")
    if assessment.funding is None and log is not None and len(log) and len(frame):
        row = book.fields.get("funding", {}).get("position_row") or 1
        notes.append(f"funding needs a position in row {row:g} of the Positions table, named "
                     "on the Funding sheet")
    if "positions" in has and frame.empty:
        from addin.report.assessment import Alert

        # Nothing assessed is never "no alerts": the subject, the body and the exit say so.
        assessment.alerts.insert(0, Alert("red", NO_POSITIONS, "the workbook holds no "
                                          "position: nothing was assessed"))
    assessment.notes.extend(notes)
    return assessment


#: Subject of the alert for a book without positions (an export's says the same).
NO_POSITIONS = "no positions"


#: Subject of the alert for a venue an export could not read.
NOT_READ = "not read"


def assess_export(path: Path, *, now: dt.datetime | None = None) -> Assessment:
    """The positions assessment straight from an export (``perprisk fetch --format json`` or a
    ccxt positions file), with the workbook's default rules: every position, however many
    (a workbook holds 250), with nothing to fill in first.

    A venue the export could not read is a red alert, never an account without positions.
    Raises :class:`addin.reader.exchange_data.ExportError` for an export it cannot read.
    """
    from addin.reader.exchange_data import load_export

    return assess_loaded(load_export(path), path.name, now=now)


def export_frame(export: Export) -> pd.DataFrame:
    """An export's positions as the assessment takes them (ccxt columns), numbered from 1 in
    the export's order."""
    records = [position.values for position in export.positions]  # noqa: PD011 - a dict
    table = pd.DataFrame(records, index=pd.RangeIndex(1, len(records) + 1))
    if "tier_table" not in table:
        table["tier_table"] = None
    return positions_frame(table)


def assess_loaded(export: Export, source: str, *, now: dt.datetime | None = None) -> Assessment:
    """:func:`assess_export` of an export already read (``source`` names it)."""
    from addin.report.assessment import Alert

    frame = export_frame(export)
    records = [position.values for position in export.positions]  # noqa: PD011 - a dict
    tiers = {(str(r["exchange"]).lower(), str(r["symbol"])): export.tiers[str(r["tier_table"])]
             for r in records if r.get("tier_table")}
    try:
        assessment = assess(frame, settings=Settings(), tiers=tiers or None,
                            source=source, template="export", now=now)
    except RiskInputError as exc:
        raise WorkbookError(f"{source}: {str(exc).splitlines()[0]}") from None
    for error in export.errors:
        assessment.alerts.insert(0, Alert("red", NOT_READ, error))
    if not export.positions and not export.errors:
        assessment.alerts.append(Alert("amber", "no positions", "the export holds no open "
                                       "position: nothing was assessed"))
    assessment.risk_audit = audit.checklist(assessment, audit.AuditContext(
        has_stress=True, has_scorecard=False, has_history=False))
    assessment.notes.extend(export.notes + export.skipped)
    assessment.notes.append("positions numbered in the export's order; the workbook's sheets "
                            "(stress library, scorecard, VaR) need perprisk fill")
    return assessment


def assess_file(path: Path, *, limits: Limits = DEFAULT_LIMITS,
                now: dt.datetime | None = None) -> Outcome:
    """Read and validate; assess only when there is no problem.

    Raises WorkbookError when the file cannot be read at all, or when riskfuncs refuses an
    input the reader let through: its one-line message, not a traceback, reaches the trader.
    """
    book = read_filled_workbook(path, limits=limits)
    if book.problems:
        return Outcome(book, None)
    try:
        return Outcome(book, assess_book(book, now=now))
    except RiskInputError as exc:
        raise WorkbookError(f"{book.path.name}: {_where(book, exc)}") from None


#: ccxt column names of the positions frame (report.assessment.positions_frame) and the
#: workbook columns they come from.
_POSITION_KEYS = {"entryPrice": "entry_price", "markPrice": "mark_price", "contracts": "size",
                  "collateral": "collateral", "maintenanceMarginRate": "maintenance_margin_rate",
                  "maintenanceAmount": "maintenance_amount", "leverage": "leverage",
                  "feeRate": "fee_rate", "maxLeverage": "max_leverage", "side": "side"}


def _where(book: FilledWorkbook, exc: RiskInputError) -> str:
    """The refusal's first line, led by the sheet and cell when riskfuncs says which position
    and argument it refused (its structured fields), so no check is repeated here."""
    text = str(exc).splitlines()[0]
    key = _POSITION_KEYS.get(str(exc.argument))
    table = book.tables.get("positions")
    if key is None or not isinstance(exc.position, int) or table is None \
            or not 0 <= exc.position < len(table):
        return text
    try:
        sheet, cell = book.table_cell("positions", key, int(table.index[exc.position]))
    except (KeyError, TypeError, ValueError):
        return text
    return f"{sheet}!{cell}: {text}"


def assess_bytes(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS,
                 now: dt.datetime | None = None) -> Outcome:
    """:func:`assess_file` on a workbook already read into memory, known by its file ``name``.

    The caller reads the file once and attaches exactly these bytes, so the report can never
    describe a different version of the file than the one sent. The reader works on files: the
    bytes go to a private temporary copy (removed afterwards), named ``name``.
    """
    safe = Path(name).name.replace("\0", "") or "workbook.xlsx"
    with tempfile.TemporaryDirectory(prefix="perprisk-") as tmp:
        path = Path(tmp) / safe
        try:
            path.write_bytes(data)
        except OSError:  # a name this file system refuses: the content is what matters
            path = Path(tmp) / "workbook.xlsx"
            path.write_bytes(data)
        return assess_file(path, limits=limits, now=now)

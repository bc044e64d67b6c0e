"""Writing a workbook from an export's inputs: ``perprisk fill``, ``perprisk demo``.

:mod:`addin.reader.exchange_data` reads an export into :class:`PositionInput` rows and market
data; this module writes them into a blank template from the builder, every value checked
against its column's rule (numbers into numeric cells, text always as text: a leading "=" never
becomes a formula).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from addin.reader.ccxt_positions import ExportError, read_number
from addin.reader.exchange_data import ExportNote, PositionInput, asset_of, gross_value
from addin.workbook import layout
from addin.workbook.layout import Rule, Template

__all__ = ["fill_market_data", "fill_prices", "fill_workbook", "net_exposure"]


def fill_workbook(template: Template, positions: Sequence[PositionInput],
                  tiers: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> Workbook:
    """A blank template from the builder, with the positions (and tiers) written in.

    A position names its tier table in ``tier_table`` (see :func:`load_export`); a position
    without one uses the table of its symbol in ``tiers`` when there is one. More positions than
    the template holds are refused with the list of those that do not fit.
    """
    from addin.workbook.builder import build_workbook

    wb = build_workbook(template)
    sheet = layout.POSITIONS
    table = sheet.table("positions")
    if len(positions) > table.rows:
        left = [p.label for p in positions[table.rows:]]
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise ExportError(f"{len(positions)} positions, but the template holds {table.rows}; "
                          f"these do not fit: {shown}. Split the export by venue (perprisk "
                          "fetch --exchange ...) or use the JSON export and perprisk report")
    tiers = dict(tiers or {})
    ws = wb[sheet.title]
    keys = {c.key for c in table.inputs()}
    used: set[str] = set()
    for i, position in enumerate(positions):
        row = table.first_row + i
        values = dict(position.values)
        name = values.get("tier_table")
        if name is None and values["symbol"] in tiers:
            name = values["tier_table"] = values["symbol"]
            values["maintenance_margin_rate"] = None
        if name is not None:
            if name not in tiers:
                raise ExportError(f"{position.label}: tier table {name!r} is not in the export")
            used.add(name)
        for key, value in values.items():
            if value is None or key not in keys:
                continue
            column = table.column(key)
            _put(ws, row, table.column_index(key), value, column.rule,
                 f"{position.label}: {column.header}")
    if used:
        _write_tiers(wb, {name: tiers[name] for name in sorted(used)})
    return wb


def _write_tiers(wb: Workbook, tiers: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Write tier tables; a table of the same name already in the template is replaced."""
    sheet = layout.TIERS
    table = sheet.table("tiers")
    ws = wb[sheet.title]
    name_col = table.column_index("table")
    replaced = {name.strip().lower() for name in tiers}
    input_cols = [table.column_index(c.key) for c in table.inputs()]
    free: list[int] = []
    for row in range(table.first_row, table.last_row + 1):
        name = ws.cell(row, name_col).value
        if name is None or str(name).strip().lower() in replaced:
            for col in input_cols:
                ws.cell(row, col).value = None
            free.append(row)
    rows = iter(free)
    for name, items in tiers.items():
        where = f"tier table {name}"
        ordered = sorted(items, key=lambda t: read_number(
            t.get("minNotional"), where, "minNotional", required=True) or 0.0)
        for n, tier in enumerate(ordered, start=1):
            target = next(rows, None)
            if target is None:
                raise ExportError(f"{where}: the tier tables hold more rows than the "
                                  f"{table.rows} the template has")
            row = target
            raw_info = tier.get("info")
            info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
            amount = tier.get("maintenanceAmount")
            for key in ("cum", "mmDeduction"):  # Binance, Bybit
                amount = amount if amount not in (None, "") else info.get(key)
            at = f"{where} tier {n}"
            values = {
                "table": name, "tier": n,
                "min_notional": read_number(tier.get("minNotional"), at, "minNotional",
                                        required=True),
                "max_notional": read_number(tier.get("maxNotional"), at, "maxNotional"),
                "maintenance_margin_rate": read_number(tier.get("maintenanceMarginRate"), at,
                                                   "maintenanceMarginRate", required=True),
                "maintenance_amount": read_number(amount, at, "maintenance amount"),
                "max_leverage": read_number(tier.get("maxLeverage"), at, "maxLeverage"),
            }
            for key, value in values.items():
                if value is not None:
                    column = table.column(key)
                    _put(ws, row, table.column_index(key), value, column.rule,
                         f"{at}: {column.header}")


def net_exposure(positions: Sequence[PositionInput], asset: str) -> float:
    """Signed USD value of the positions on ``asset`` (longs +, shorts -)."""
    total = 0.0
    for position in positions:
        v = position.values
        if str(v["symbol"]).partition("/")[0].upper() != asset.upper():
            continue
        value = v["size"] if v["contract"] == "inverse" else v["size"] * v["mark_price"]
        total += value if v["side"] == "long" else -value
    return total


def _write_rows(wb: Workbook, sheet_key: str, table_key: str,
                rows: Sequence[Mapping[str, Any]]) -> None:
    sheet = layout.SHEETS[sheet_key]
    table = sheet.table(table_key)
    if len(rows) > table.rows:
        raise ExportError(f"{len(rows)} rows for {sheet.title} {table.title}, but the template "
                          f"holds {table.rows}; keep the most recent {table.rows}")
    ws = wb[sheet.title]
    columns = {c.key: c for c in table.inputs()}
    for i, values in enumerate(rows):
        for key, value in values.items():
            column = columns.get(key)
            if column is not None and value is not None:
                _put(ws, table.first_row + i, table.column_index(key), value, column.rule,
                     f"{sheet.title} {table.title} row {i + 1}: {column.header}")


def _write_field(wb: Workbook, sheet_key: str, field_key: str, value: Any) -> None:
    sheet = layout.SHEETS[sheet_key]
    f = sheet.field(field_key)
    _put(wb[sheet.title], sheet.field_row(field_key), 2, value, f.rule,
         f"{sheet.title} {f.label}")


#: What makes a spreadsheet read typed text as a formula (OWASP "CSV injection"): such text
#: is written as a string with Excel's quote prefix, so it shows as typed and never runs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC_KINDS = frozenset({"number", "percent", "integer"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _put(ws: Worksheet, row: int, col: int, value: Any, rule: Rule, where: str) -> None:
    """Write one value from an export: numbers into numeric cells (anything else is refused),
    text always as text (a leading "=" never becomes a formula)."""
    cell = ws.cell(row, col)
    if rule.kind in _NUMERIC_KINDS:
        cell.value = read_number(value, where, "the value", required=True)
        return
    if isinstance(value, dt.date) or (
            isinstance(value, int | float) and not isinstance(value, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ExportError(f"{where}: {value!r} is not a finite number")
        cell.value = value
        return
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text):
        shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", where)
        raise ExportError(f"{shown}: {text[:40]!r} holds a control character; expected plain "
                          "text")
    cell.value = text
    cell.data_type = "s"
    if text.startswith(_FORMULA_STARTS):
        cell.quotePrefix = True


def fill_market_data(
    wb: Workbook,
    positions: Sequence[PositionInput],
    *,
    prices: tuple[str, list[tuple[dt.datetime, float]]] | None = None,
    exchanges: Sequence[Mapping[str, Any]] | None = None,
    funding: tuple[str, list[dict[str, Any]]] | None = None,
    histories: Mapping[str, Sequence[tuple[dt.datetime, float]]] | None = None,
) -> None:
    """Price history (Volatility & VaR), exchange facts (Scorecard), a funding log and the
    daily closes of every asset held (Prices, for the book's VaR)."""
    if histories and "prices" in layout.SHEETS and layout.PRICES.title in wb.sheetnames:
        fill_prices(wb, positions, histories)
    if prices is not None and "volatility" in layout.SHEETS:
        symbol, bars = prices
        kept = _most_recent(bars, "volatility", "history", f"{symbol or 'price history'}",
                            "price bars")
        _write_rows(wb, "volatility", "history",
                    [{"date": when, "price": close} for when, close in kept])
        asset = symbol.partition("/")[0].upper() if symbol else "BTC"
        if symbol:
            _write_field(wb, "volatility", "asset", asset)
        _write_field(wb, "volatility", "exposure", abs(net_exposure(positions, asset)))
    if exchanges is not None and "scorecard" in layout.SHEETS:
        _write_rows(wb, "scorecard", "exchanges", exchanges)
    if funding is not None and "funding" in layout.SHEETS:
        symbol, rows = funding
        _write_rows(wb, "funding", "log", _most_recent(
            rows, "funding", "log", f"{symbol or 'funding log'}", "funding records"))
        if symbol:
            _write_field(wb, "funding", "symbol", symbol)
            match = next((i for i, p in enumerate(positions, start=1)
                          if p.values["symbol"] == symbol), None)
            if match is not None:
                _write_field(wb, "funding", "position_row", match)


def _most_recent(rows: Sequence[Any], sheet_key: str, table_key: str, what: str,
                 kind: str) -> Sequence[Any]:
    """The most recent rows the table holds (the rows come oldest first), with a note when
    older ones are left out."""
    capacity = layout.SHEETS[sheet_key].table(table_key).rows
    if len(rows) > capacity:
        warnings.warn(ExportNote(
            f"{what}: {len(rows)} {kind}, the workbook holds {capacity}: the most recent "
            f"{capacity} written, the older {len(rows) - capacity} left out"), stacklevel=3)
    return rows[-capacity:]


def fill_prices(wb: Workbook, positions: Sequence[PositionInput],
                histories: Mapping[str, Sequence[tuple[dt.datetime, float]]]) -> None:
    """The Prices sheet: one close column per asset (named in its header), by day.

    Assets go in the order of their gross value in the book, held ones first; dates are the
    union of the series' days (a day an asset has no bar stays blank: its return is left out
    of the joint history). Past the sheet's columns or rows the largest assets and the most
    recent days are kept, with a note.
    """
    sheet = layout.PRICES
    table = sheet.table("prices")
    gross: dict[str, float] = {}
    for position in positions:
        asset = asset_of(position.values["symbol"])
        gross[asset] = gross.get(asset, 0.0) + gross_value(position)
    assets = sorted((a for a in histories if histories[a]), key=lambda a: -gross.get(a, 0.0))
    if len(assets) > layout.PRICE_ASSETS:
        left = assets[layout.PRICE_ASSETS:]
        warnings.warn(ExportNote(
            f"price histories of {len(assets)} assets, the Prices sheet holds "
            f"{layout.PRICE_ASSETS}: {', '.join(left)} left out of the book VaR"), stacklevel=2)
        assets = assets[:layout.PRICE_ASSETS]
    closes: dict[str, dict[dt.date, float]] = {
        a: {when.date(): close for when, close in histories[a]} for a in assets}
    days = sorted(set().union(*(c.keys() for c in closes.values()))) if closes else []
    if len(days) > table.rows:
        warnings.warn(ExportNote(
            f"price histories over {len(days)} days, the Prices sheet holds {table.rows}: the "
            f"most recent {table.rows} written"), stacklevel=2)
        days = days[-table.rows:]
    ws = wb[sheet.title]
    for k, asset in enumerate(assets, start=1):
        _put(ws, table.header_row, table.column_index(f"close_{k}"), asset, Rule("text"),
             f"{sheet.title} price column {k} header")
    _write_rows(wb, "prices", "prices", [
        {"date": dt.datetime(day.year, day.month, day.day),
         **{f"close_{k}": closes[a].get(day) for k, a in enumerate(assets, start=1)}}
        for day in days])

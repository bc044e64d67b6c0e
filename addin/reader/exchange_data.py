"""Exchange exports (ccxt shapes) into workbook inputs: ``perprisk fill``.

Accepted positions exports, JSON or CSV, with ccxt ``Position`` field names
(https://docs.ccxt.com/#/README?id=position-structure):

* JSON: a list of positions; ``{"positions": [...], "balances": {...}}``; or
  ``{exchange_id: [positions...]}``. Each position may carry ``exchange``.
* CSV: one position per line, ccxt field names as headers.

Fields used: ``exchange``, ``symbol``, ``side``, ``contracts``, ``contractSize``, ``entryPrice``,
``markPrice``, ``collateral``, ``marginMode`` (or ``marginType``), ``leverage``,
``maintenanceMarginPercentage`` (ccxt's name for the maintenance margin rate),
``stopLossPrice``, and optionally ``contractType``/``linear``/``inverse``, ``feeRate``. A symbol
settled in its base currency (``BTC/USD:BTC``) is an inverse contract.

Cross-margin rows need the account's wallet balance, which a ccxt position does not carry: give
it in ``balances`` (``{"bybit:USDT": 30000}``), or make every cross row of the account carry the
same ``collateral``.

Tiers: ccxt ``fetch_leverage_tiers`` output ``{symbol: [LeverageTier...]}``, optionally keyed by
exchange first.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from addin.workbook import layout
from addin.workbook.layout import Template

EXCHANGE_ALIASES = {
    "binanceusdm": "binance", "binancecoinm": "binance", "binance": "binance",
    "bybit": "bybit", "okx": "okx", "okex": "okx", "okex5": "okx", "gate": "gate",
    "gateio": "gate", "hyperliquid": "hyperliquid", "dydx": "dydx", "dydxv4": "dydx",
    "bitmex": "bitmex",
}


class ExportNote(UserWarning):
    """Something in an export that fill accepted but a trader should know about."""


class ExportError(ValueError):
    """An export file cannot be turned into workbook inputs; the message says where."""


@dataclass(frozen=True)
class PositionInput:
    """One position in layout column keys."""

    values: dict[str, Any]


def normalise_exchange(name: str) -> str:
    key = str(name or "").strip().lower()
    return EXCHANGE_ALIASES.get(key, key if key in layout.EXCHANGES else "generic")


def _number(value: Any, where: str, field: str, *, required: bool = False) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ExportError(f"{where}: {field} is missing; expected a number")
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ExportError(f"{where}: {field} is {value!r}; expected a number") from None
    if math.isnan(number):
        if required:
            raise ExportError(f"{where}: {field} is missing; expected a number")
        return None
    return number


def _contract(raw: Mapping[str, Any], symbol: str) -> str:
    kind = str(raw.get("contractType") or "").strip().lower()
    if kind in layout.CONTRACTS:
        return kind
    if str(raw.get("inverse", "")).lower() in ("true", "1"):
        return "inverse"
    pair, _, settle = symbol.partition(":")
    base = pair.partition("/")[0]
    return "inverse" if settle and settle.split("-")[0].upper() == base.upper() else "linear"


def _settle(symbol: str, contract: str) -> str:
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    return (settle.split("-")[0] or (base if contract == "inverse" else quote)).upper()


def load_positions(path: Path, *, default_exchange: str = "generic") -> list[PositionInput]:
    """Read a positions export into layout inputs (validated for what fill needs)."""
    raw_rows, balances = _raw_positions(path, default_exchange)
    out: list[PositionInput] = []
    used_balances: set[str] = set()
    guessed: set[str] = set()
    for i, raw in enumerate(raw_rows, start=1):
        where = f"{path.name} position {i}"
        symbol = str(raw.get("symbol") or "").strip()
        if not symbol:
            raise ExportError(f"{where}: symbol is missing; expected e.g. BTC/USDT:USDT")
        side = str(raw.get("side") or "").strip().lower()
        side = {"buy": "long", "sell": "short"}.get(side, side)
        if side not in layout.SIDES:
            raise ExportError(f"{where}: side is {raw.get('side')!r}; expected long or short")
        contract = _contract(raw, symbol)
        venue = str(raw.get("exchange") or default_exchange)
        exchange = normalise_exchange(venue)
        if exchange == "generic" and venue.strip().lower() != "generic":
            warnings.warn(ExportNote(
                f"{where}: exchange {venue!r} has no published rule here; valued with the "
                f"generic rule (known: {', '.join(layout.EXCHANGES)}; or pass --exchange)"),
                stacklevel=2)
        contracts = _number(raw.get("contracts"), where, "contracts", required=True)
        contract_size = _number(raw.get("contractSize"), where, "contractSize") or 1.0
        size = (contracts or 0.0) * contract_size
        mode = str(raw.get("marginMode") or raw.get("marginType") or "isolated").strip().lower()
        mode = "cross" if mode == "crossed" else mode
        if mode not in layout.MARGIN_MODES:
            raise ExportError(f"{where}: marginMode is {mode!r}; expected isolated or cross")
        collateral = _number(raw.get("collateral"), where, "collateral")
        if mode == "cross":
            account = f"{exchange}:{_settle(symbol, contract)}"
            as_written = f"{venue.strip().lower()}:{_settle(symbol, contract)}"
            key = account if account in balances else as_written
            if key in balances:
                collateral = balances[key]
                used_balances.add(key)
            else:
                guessed.add(account)
        if collateral is None:
            raise ExportError(f"{where}: collateral is missing; expected the isolated margin "
                              "or the cross wallet balance")
        out.append(PositionInput({
            "exchange": exchange, "symbol": symbol, "contract": contract, "side": side,
            "size": abs(size), "entry_price": _number(raw.get("entryPrice"), where, "entryPrice",
                                                      required=True),
            "mark_price": _number(raw.get("markPrice"), where, "markPrice", required=True),
            "collateral": collateral, "margin_mode": mode,
            "leverage": _number(raw.get("leverage"), where, "leverage"),
            "maintenance_margin_rate": _number(
                raw.get("maintenanceMarginPercentage", raw.get("maintenanceMarginRate")), where,
                "maintenanceMarginPercentage"),
            "fee_rate": _number(raw.get("feeRate"), where, "feeRate"),
            "max_leverage": _number(raw.get("maxLeverage"), where, "maxLeverage"),
            "stop_price": _number(raw.get("stopLossPrice"), where, "stopLossPrice"),
        }))
    _check_cross_wallets(out, path.name)
    for account in sorted(guessed):
        warnings.warn(ExportNote(
            f'{path.name}: no wallet balance for the cross account {account}; its positions\' '
            f'collateral is used as the wallet (give "balances": {{"{account}": ...}})'),
            stacklevel=2)
    for account in sorted(set(balances) - used_balances):
        warnings.warn(ExportNote(
            f'{path.name}: "balances" names {account}, which no cross position uses '
            "(check the exchange:SETTLE spelling)"), stacklevel=2)
    return out


def _raw_positions(path: Path, default_exchange: str
                   ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return [dict(row) for row in csv.DictReader(handle)], {}
        except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
            raise ExportError(f"{path.name}: cannot read the CSV ({exc})") from None
    data = _load_json(path, "positions")
    balances: dict[str, float] = {}
    if isinstance(data, dict) and "positions" in data:
        given = data.get("balances") or {}
        if not isinstance(given, dict):
            raise ExportError(f'{path.name}: "balances" must map "exchange:SETTLE" to a number')
        balances = {_account_key(str(k)): _number(v, path.name, f"balances {k}", required=True)
                    or 0.0 for k, v in given.items()}
        data = data["positions"]
    if isinstance(data, dict):
        rows = []
        for exchange, items in data.items():
            if not isinstance(items, list):
                raise ExportError(f"{path.name}: {exchange} must hold a list of positions")
            rows += [{"exchange": exchange, **item} for item in items]
        return rows, balances
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return [{"exchange": default_exchange, **item} for item in data], balances
    raise ExportError(f"{path.name}: expected a list of ccxt positions")


def _account_key(key: str) -> str:
    exchange, _, settle = key.partition(":")
    venue = exchange.strip().lower()
    # An unknown venue keeps its own name: it is matched against the export's exchange field.
    known = normalise_exchange(venue)
    return f"{venue if known == 'generic' else known}:{settle.upper()}"


def _check_cross_wallets(rows: Sequence[PositionInput], name: str) -> None:
    seen: dict[str, float] = {}
    for row in rows:
        v = row.values
        if v["margin_mode"] != "cross":
            continue
        account = f"{v['exchange']}:{_settle(v['symbol'], v['contract'])}"
        first = seen.setdefault(account, v["collateral"])
        if not math.isclose(first, v["collateral"], rel_tol=1e-12):
            raise ExportError(
                f"{name}: cross positions of {account} carry different collateral "
                f"({first:g} and {v['collateral']:g}); give the account's wallet balance in "
                f'"balances": {{"{account}": ...}}')


def load_tiers(path: Path) -> dict[str, list[dict[str, Any]]]:
    """ccxt leverage tiers by symbol (an exchange level above the symbols is flattened)."""
    data = _load_json(path, "tiers")
    if not isinstance(data, dict):
        raise ExportError(f"{path.name}: expected {{symbol: [tiers...]}}")
    out: dict[str, list[dict[str, Any]]] = {}
    for key, value in data.items():
        if isinstance(value, list):
            out[str(key)] = value
        elif isinstance(value, dict):
            for symbol, tiers in value.items():
                if isinstance(tiers, list):
                    out[str(symbol)] = tiers
    for symbol, tiers in out.items():
        if not all(isinstance(t, dict) and "minNotional" in t for t in tiers):
            raise ExportError(
                f"{path.name}: tiers of {symbol} must be ccxt leverage tiers (mappings with "
                "minNotional, maxNotional, maintenanceMarginRate); is this a tiers file?")
    return out


def fill_workbook(template: Template, positions: Sequence[PositionInput],
                  tiers: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> Workbook:
    """A blank template from the builder, with the positions (and tiers) written in."""
    from addin.workbook.builder import build_workbook

    wb = build_workbook(template)
    sheet = layout.POSITIONS
    table = sheet.table("positions")
    if len(positions) > table.rows:
        raise ExportError(f"{len(positions)} positions, but the template holds {table.rows}; "
                          "split the export into several workbooks")
    tiers = dict(tiers or {})
    ws = wb[sheet.title]
    used_tiers = {p.values["symbol"] for p in positions} & set(tiers)
    for i, position in enumerate(positions):
        row = table.first_row + i
        values = dict(position.values)
        if values["symbol"] in used_tiers and "tier_table" in {c.key for c in table.columns}:
            values["tier_table"] = values["symbol"]
            values["maintenance_margin_rate"] = None
        for key, value in values.items():
            if value is None:
                continue
            ws.cell(row, table.column_index(key), value)
    if used_tiers:
        _write_tiers(wb, {s: tiers[s] for s in sorted(used_tiers)})
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
    for symbol, items in tiers.items():
        for n, tier in enumerate(sorted(items, key=lambda t: float(t["minNotional"])), start=1):
            target = next(rows, None)
            if target is None:
                raise ExportError(f"more tier rows than the {table.rows} the template holds")
            row = target
            info = tier.get("info") or {}
            amount = tier.get("maintenanceAmount", info.get("cum"))
            values = {
                "table": symbol, "tier": n, "min_notional": float(tier["minNotional"]),
                "max_notional": float(tier["maxNotional"]),
                "maintenance_margin_rate": float(tier["maintenanceMarginRate"]),
                "maintenance_amount": None if amount in (None, "") else float(amount),
                "max_leverage": None if tier.get("maxLeverage") in (None, "") else float(
                    tier["maxLeverage"]),
            }
            for key, value in values.items():
                if value is not None:
                    ws.cell(row, table.column_index(key), value)


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path.name}: cannot read {what} ({exc})") from None


def _by_symbol(data: Any, path: Path, what: str) -> tuple[str, list[Any]]:
    """The first (symbol, rows) of ``{symbol: [rows]}``; a bare list has no symbol."""
    if isinstance(data, list):
        return "", data
    if isinstance(data, dict):
        for key, rows in data.items():
            if isinstance(rows, list) and not str(key).startswith("_"):
                return str(key), rows
    raise ExportError(f"{path.name}: expected {{symbol: [{what}...]}}")


def load_ohlcv(path: Path) -> tuple[str, list[tuple[dt.datetime, float]]]:
    """ccxt ``fetch_ohlcv`` bars -> (symbol, [(time, close)]), oldest first."""
    symbol, rows = _by_symbol(_load_json(path, "OHLCV bars"), path, "OHLCV bars")
    out = []
    for i, bar in enumerate(rows, start=1):
        if not isinstance(bar, list | tuple) or len(bar) < 5:
            raise ExportError(f"{path.name} bar {i}: expected [timestamp, open, high, low, "
                              "close, volume]")
        when = dt.datetime.fromtimestamp(float(bar[0]) / 1000, tz=dt.UTC).replace(tzinfo=None)
        close = _number(bar[4], f"{path.name} bar {i}", "close", required=True)
        out.append((when, float(close or 0.0)))
    return symbol, sorted(out)


def load_exchanges(path: Path) -> list[dict[str, Any]]:
    """Scorecard facts: ``{"exchanges": [{exchange, <factor>: sub-score, loss_given_default}]}``."""
    data = _load_json(path, "exchange facts")
    rows = data.get("exchanges") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ExportError(f"{path.name}: expected {{\"exchanges\": [{{\"exchange\": ...}}]}}")
    return [dict(r, exchange=normalise_exchange(str(r.get("exchange", "")))) for r in rows]


def load_funding(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """ccxt ``fetch_funding_rate_history`` -> (symbol, rows of time, rate, mark price)."""
    symbol, rows = _by_symbol(_load_json(path, "funding history"), path, "funding rates")
    out = []
    for i, item in enumerate(rows, start=1):
        where = f"{path.name} funding {i}"
        if not isinstance(item, dict):
            raise ExportError(f"{where}: expected a ccxt funding-rate record")
        stamp = _number(item.get("timestamp"), where, "timestamp", required=True)
        out.append({
            "time": dt.datetime.fromtimestamp((stamp or 0) / 1000, tz=dt.UTC).replace(
                tzinfo=None),
            "rate": _number(item.get("fundingRate"), where, "fundingRate", required=True),
            "mark_price": _number(item.get("markPrice"), where, "markPrice"),
        })
        symbol = symbol or str(item.get("symbol") or "")
    return symbol, sorted(out, key=lambda r: r["time"])


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
    keys = {c.key for c in table.inputs()}
    for i, values in enumerate(rows):
        for key, value in values.items():
            if key in keys and value is not None:
                ws.cell(table.first_row + i, table.column_index(key), value)


def _write_field(wb: Workbook, sheet_key: str, field_key: str, value: Any) -> None:
    sheet = layout.SHEETS[sheet_key]
    wb[sheet.title][sheet.field_cell(field_key)] = value


def fill_market_data(
    wb: Workbook,
    positions: Sequence[PositionInput],
    *,
    prices: tuple[str, list[tuple[dt.datetime, float]]] | None = None,
    exchanges: Sequence[Mapping[str, Any]] | None = None,
    funding: tuple[str, list[dict[str, Any]]] | None = None,
) -> None:
    """Price history (Volatility & VaR), exchange facts (Scorecard) and a funding log."""
    if prices is not None and "volatility" in layout.SHEETS:
        symbol, bars = prices
        capacity = layout.SHEETS["volatility"].table("history").rows
        _write_rows(wb, "volatility", "history",
                    [{"date": when, "price": close} for when, close in bars[-capacity:]])
        asset = symbol.partition("/")[0].upper() if symbol else "BTC"
        if symbol:
            _write_field(wb, "volatility", "asset", asset)
        _write_field(wb, "volatility", "exposure", abs(net_exposure(positions, asset)))
    if exchanges is not None and "scorecard" in layout.SHEETS:
        _write_rows(wb, "scorecard", "exchanges", exchanges)
    if funding is not None and "funding" in layout.SHEETS:
        symbol, rows = funding
        capacity = layout.SHEETS["funding"].table("log").rows
        _write_rows(wb, "funding", "log", rows[-capacity:])
        if symbol:
            _write_field(wb, "funding", "symbol", symbol)
            match = next((i for i, p in enumerate(positions, start=1)
                          if p.values["symbol"] == symbol), None)
            if match is not None:
                _write_field(wb, "funding", "position_row", match)

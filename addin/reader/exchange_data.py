"""Exchange exports (ccxt shapes) read into workbook inputs (``perprisk fill`` writes them with
:mod:`addin.fill`; ``perprisk fetch`` writes the exports).

Accepted positions exports, JSON or CSV, with ccxt ``Position`` field names
(https://docs.ccxt.com/#/README?id=position-structure):

* the export ``perprisk fetch --format json`` writes: ``{"perprisk_export": 1, "venues":
  {venue: {"positions", "balance", "markets", "tiers", "funding", "ohlcv", "account",
  "errors"}}}`` (ccxt structures, each with the exchange's raw payload in ``info``);
* a list of positions; ``{"positions": [...], "balances": {...}}``; or
  ``{exchange_id: [positions...]}``. Each position may carry ``exchange``;
* CSV: one position per line, ccxt field names as headers.

What each field means per venue, and which raw field is read where ccxt's unified one includes
unrealised PnL or is derived, is in :mod:`addin.reader.ccxt_positions`. A position with size 0
is flat: it is skipped and listed. The venue is kept as given (``bitget`` stays ``bitget``); its
rule is :func:`riskfuncs.venues.rule_for_venue` and is shown beside it.

Cross-margin rows need the account's wallet balance (without unrealised PnL): from the
export's ccxt ``balance`` (the exchange's raw wallet field), from ``balances``
(``{"bybit:USDT": 30000}``), from a ``walletBalance`` field, or, in a hand-written export without
raw payloads, the ``collateral`` every cross row of the account carries.

Tiers: ccxt ``fetch_leverage_tiers`` output ``{symbol: [LeverageTier...]}``, optionally keyed by
exchange first. OKX tiers are bounded by contracts and charge the whole position at the tier's
rate: an OKX position gets its tier's rate, not a table.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addin.reader.ccxt_positions import (
    CcxtPosition,
    ExportError,
    Market,
    parse_position,
    read_number,
    tier_for_contracts,
    wallet_of,
)
from riskfuncs.venues import RULES, known_venue, rule_for_venue, venue_key, venue_name

__all__ = [
    "Export",
    "ExportError",
    "ExportNote",
    "PositionInput",
    "asset_of",
    "gross_value",
    "load_export",
    "load_positions",
    "load_tiers",
]

#: Version of the export ``perprisk fetch --format json`` writes.
EXPORT_VERSION = 1


class ExportNote(UserWarning):
    """Something in an export that fill accepted but a trader should know about."""


@dataclass(frozen=True)
class PositionInput:
    """One position in layout column keys, and where each figure came from."""

    values: dict[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        v = self.values
        return f"{v['exchange']} {v['symbol']} {v['side']}"


@dataclass
class Export:
    """Everything an export holds, as workbook inputs."""

    positions: list[PositionInput]
    tiers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    prices: tuple[str, list[tuple[dt.datetime, float]]] | None = None
    funding: tuple[str, list[dict[str, Any]]] | None = None
    #: Daily closes per asset held ("BTC": [(time, close)]), for the Prices sheet.
    histories: dict[str, list[tuple[dt.datetime, float]]] = field(default_factory=dict)


def _settle(symbol: str, contract: str) -> str:
    return Market.from_symbol(symbol, contract).settle


@dataclass
class _Venue:
    """One venue's part of an export."""

    name: str
    positions: list[dict[str, Any]]
    balance: Mapping[str, Any] | None = None
    markets: Mapping[str, Any] = field(default_factory=dict)
    tiers: Mapping[str, Any] = field(default_factory=dict)
    funding: Mapping[str, Any] = field(default_factory=dict)
    ohlcv: Mapping[str, Any] = field(default_factory=dict)
    account: Mapping[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def load_positions(path: Path, *, default_exchange: str | None = None) -> list[PositionInput]:
    """Read a positions export into layout inputs; notes are issued as :class:`ExportNote`."""
    export = load_export(path, default_exchange=default_exchange)
    for note in export.notes:
        warnings.warn(ExportNote(note), stacklevel=2)
    return export.positions


def load_export(path: Path, *, default_exchange: str | None = None,
                tiers: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> Export:
    """Read an export (any accepted shape) into workbook inputs.

    ``default_exchange`` names the venue of positions that carry none; without it such an
    export is refused (a venue's rule changes the liquidation price). ``tiers`` are tier tables
    by symbol from a separate file (``--tiers``), used where the export holds none.
    """
    venues, balances = _read_venues(path, default_exchange)
    export = Export([])
    given_tiers = dict(tiers or {})
    for venue in venues:
        export.errors += venue.errors
        _load_venue(venue, balances, given_tiers, export, path.name)
    _check_cross_wallets(export.positions, path.name)
    unused = sorted(set(balances) - {_account(p) for p in export.positions})
    for account in unused:
        export.notes.append(
            f'{path.name}: "balances" names {account}, which no cross position uses (check the '
            "exchange:SETTLE spelling)")
    export.prices, export.funding = _market_data(venues, export.positions)
    export.histories = _histories(venues, export.positions)
    return export


def _account(position: PositionInput) -> str:
    v = position.values
    return f"{venue_name(v['exchange'])}:{_settle(v['symbol'], v['contract'])}"


def _load_venue(venue: _Venue, balances: Mapping[str, float],
                given_tiers: Mapping[str, Sequence[Mapping[str, Any]]], export: Export,
                name: str) -> None:
    rule = rule_for_venue(venue.name)
    if not known_venue(venue.name) and venue_key(venue.name) != "generic":
        export.notes.append(
            f"{name}: {venue.name} has no published rule here; its positions are valued with "
            f"the generic rule (rules: {', '.join(r for r in RULES if r != 'generic')})")
    loaded: list[tuple[CcxtPosition, dict[str, Any], str]] = []
    for i, raw in enumerate(venue.positions, start=1):
        where = f"{name} {venue.name} position {i}"
        if not isinstance(raw, Mapping):
            raise ExportError(f"{where}: expected a ccxt position (a mapping), got "
                              f"{type(raw).__name__}")
        symbol = str(raw.get("symbol") or "").strip()
        if symbol:
            where = f"{name} {venue.name} {symbol} (position {i})"
        market_data = venue.markets.get(symbol)
        market = Market.from_ccxt(market_data) if isinstance(market_data, Mapping) else None
        fee = market.taker if market is not None and rule in _TAKER_FEE_RULES else None
        parsed = parse_position(raw, venue=venue.name, where=where, market=market,
                                account=venue.account, fee_rate=fee)
        if parsed is None:
            side = str(raw.get("side") or "").strip()
            export.skipped.append(f"{venue.name} {symbol or '?'} {side}".rstrip()
                                  + ": size 0 (flat), skipped")
            continue
        export.notes += parsed.notes
        loaded.append((parsed, dict(raw), where))
    # Hedge mode: a long and a short of one symbol are two positions; both stay.
    for parsed, raw, where in loaded:
        values, sources = parsed.values, parsed.sources
        if values["margin_mode"] == "cross":
            _cross_wallet(values, sources, raw, venue, balances, export, where, rule)
        table = venue.tiers.get(values["symbol"])
        if table is None:
            table = given_tiers.get(values["symbol"])
        if table is not None:
            _use_tiers(values, sources, table, venue, rule, raw, export, where)
        if values.get("tier_table") is None and values.get("maintenance_margin_rate") is None \
                and not values.get("max_leverage"):
            raise ExportError(f"{where}: no maintenance margin rate; give tiers (perprisk fetch "
                              "pulls them) or maintenanceMarginPercentage")
        export.positions.append(PositionInput(values, sources))


#: Rules whose published formula charges the closing (taker) fee: the market's taker fee is
#: used when the export gives no fee rate (the account's own fee tier may be lower).
_TAKER_FEE_RULES = frozenset({"bybit", "okx", "gate"})


def _cross_wallet(values: dict[str, Any], sources: dict[str, str], raw: Mapping[str, Any],
                  venue: _Venue, balances: Mapping[str, float], export: Export, where: str,
                  rule: str) -> None:
    settle = _settle(values["symbol"], values["contract"])
    account = f"{venue_name(venue.name)}:{settle}"
    wallet: float | None = None
    source = ""
    if account in balances:
        wallet, source = balances[account], f'"balances" {account}'
    if wallet is None:
        wallet, source = wallet_of(rule, venue.balance, settle, venue.account)
    if wallet is None:
        wallet = read_number(raw.get("walletBalance"), where, "walletBalance")
        source = "export walletBalance"
    if wallet is None and not isinstance(raw.get("info"), Mapping):
        # A hand-written export: every cross row of the account carries its wallet.
        wallet = read_number(raw.get("collateral"), where, "collateral")
        source = "collateral of the account's cross rows"
        note = (f"no wallet balance for the cross account {account}; its positions' collateral "
                f'is used as the wallet (give "balances": {{"{account}": ...}})')
        if wallet is not None and note not in export.notes:
            export.notes.append(note)
    if wallet is None:
        given = f' ("balances" names {", ".join(sorted(balances))})' if balances else ""
        raise ExportError(
            f"{where}: no wallet balance for the cross account {account}{given}; give it as "
            f'"balances": {{"{account}": ...}} or fetch the account with perprisk fetch '
            "(its balance carries the wallet)")
    if rule == "bybit" and str(venue.account.get("type") or "").lower() == "unified":
        if source.startswith("Bybit UNIFIED margin balance"):
            note = (f"{venue.name}: Bybit unified account valued as one cross account in "
                    f"{settle}: its margin balance counts every collateral coin after Bybit's "
                    "haircut at today's prices; a fall of those coins themselves is left out "
                    "of the workbook's liquidation price (riskfuncs.account_margin has it)")
        else:
            note = (f"{venue.name}: Bybit unified account valued as one cross account of its "
                    f"{settle} wallet only: the export has no margin balance, so other coins "
                    "held as collateral are not counted")
        if note not in export.notes:
            export.notes.append(note)
    values["collateral"], sources["collateral"] = wallet, source


def _use_tiers(values: dict[str, Any], sources: dict[str, str],
               table: Sequence[Mapping[str, Any]], venue: _Venue, rule: str,
               raw: Mapping[str, Any], export: Export, where: str) -> None:
    if not isinstance(table, Sequence) or not all(isinstance(t, Mapping) for t in table):
        raise ExportError(f"{where}: tiers of {values['symbol']} must be a list of ccxt "
                          "leverage tiers")
    if rule == "okx":
        contracts = read_number(raw.get("contracts"), where, "contracts", required=True) or 0.0
        tier = tier_for_contracts(table, contracts, where)
        values["maintenance_margin_rate"] = read_number(tier.get("maintenanceMarginRate"), where,
                                                    "tier maintenanceMarginRate", required=True)
        values["maintenance_amount"] = 0.0
        sources["maintenance_margin_rate"] = (
            f"OKX tier {tier.get('tier', '?')} at {abs(contracts):g} contracts (whole position "
            "at the tier's rate)")
        return
    name = f"{venue_name(venue.name)} {values['symbol']}" if venue.tiers else values["symbol"]
    export.tiers[name] = [dict(t) for t in table]
    values["tier_table"] = name
    values["maintenance_margin_rate"] = None
    sources["maintenance_margin_rate"] = f"tier table {name}"


def _read_venues(path: Path, default_exchange: str | None
                 ) -> tuple[list[_Venue], dict[str, float]]:
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                rows = [dict(row) for row in csv.DictReader(handle)]
        except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
            raise ExportError(f"{path.name}: cannot read the CSV ({exc})") from None
        return _group(rows, default_exchange, path.name), {}
    data = _load_json(path, "positions")
    if isinstance(data, dict) and "perprisk_export" in data:
        return _export_venues(data, path.name), {}
    balances: dict[str, float] = {}
    if isinstance(data, dict) and "positions" in data:
        given = data.get("balances") or {}
        if not isinstance(given, dict):
            raise ExportError(f'{path.name}: "balances" must map "exchange:SETTLE" to a number')
        balances = {_account_key(str(k)): read_number(v, path.name, f"balances {k}", required=True)
                    or 0.0 for k, v in given.items()}
        data = data["positions"]
    if isinstance(data, dict):
        venues = []
        for exchange, items in data.items():
            if not isinstance(items, list):
                raise ExportError(f"{path.name}: {exchange} must hold a list of positions")
            venues.append(_Venue(str(exchange).strip(), items))
        return venues, balances
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return _group(data, default_exchange, path.name), balances
    raise ExportError(f"{path.name}: expected a list of ccxt positions")


def _group(rows: list[dict[str, Any]], default_exchange: str | None, name: str) -> list[_Venue]:
    """Positions by venue, in the order venues first appear."""
    venues: dict[str, _Venue] = {}
    for i, row in enumerate(rows, start=1):
        venue = row.get("exchange")
        if venue is not None and not isinstance(venue, str):
            raise ExportError(f"{name} position {i}: exchange is {venue!r}; expected a venue "
                              "name such as binanceusdm")
        venue = (venue or "").strip() or default_exchange
        if not venue:
            raise ExportError(
                f"{name} position {i}: the export does not say which exchange it comes from; "
                "pass --exchange (e.g. --exchange binanceusdm): the venue's rule sets the "
                "liquidation price")
        venues.setdefault(venue, _Venue(venue, [])).positions.append(row)
    return list(venues.values())


def _export_venues(data: Mapping[str, Any], name: str) -> list[_Venue]:
    version = data.get("perprisk_export")
    if version != EXPORT_VERSION:
        raise ExportError(f"{name}: export version {version!r}; this perprisk reads version "
                          f"{EXPORT_VERSION} (fetch the account again)")
    venues = data.get("venues")
    if not isinstance(venues, Mapping):
        raise ExportError(f'{name}: "venues" must map each exchange to its data')
    out = []
    for venue, part in venues.items():
        if not isinstance(part, Mapping):
            raise ExportError(f"{name}: venue {venue} must hold its positions and balance")

        def mapping(key: str, part: Mapping[str, Any] = part, venue: str = str(venue)
                    ) -> Mapping[str, Any]:
            value = part.get(key) or {}
            if not isinstance(value, Mapping):
                raise ExportError(f"{name}: {venue} {key} must be a mapping")
            return value

        positions = part.get("positions")
        errors = [_error_text(str(venue), e) for e in part.get("errors") or ()]
        if positions is None and not errors:
            raise ExportError(f"{name}: {venue} has no positions list")
        if not isinstance(positions, list | None):
            raise ExportError(f"{name}: {venue} positions must be a list")
        balance = part.get("balance")
        out.append(_Venue(str(venue), list(positions or ()),
                          balance if isinstance(balance, Mapping) else None,
                          mapping("markets"), mapping("tiers"), mapping("funding"),
                          mapping("ohlcv"), mapping("account"), errors))
    return out


def _error_text(venue: str, error: Any) -> str:
    """One line ``venue: what: message`` for an error recorded in an export (fetch writes
    messages that already start with the venue; they are not prefixed twice)."""
    if not isinstance(error, Mapping):
        text = str(error)
    else:
        what, message = str(error.get("what") or ""), str(error.get("message") or "")
        text = message if not what or message.startswith(f"{venue}:") or \
            message.startswith(f"{what}:") else f"{what}: {message}"
    return text if text.startswith(f"{venue}:") else f"{venue}: {text}"


def _market_data(venues: Sequence[_Venue], positions: Sequence[PositionInput]
                 ) -> tuple[tuple[str, list[tuple[dt.datetime, float]]] | None,
                            tuple[str, list[dict[str, Any]]] | None]:
    """Price history and funding log of the largest position's symbol, from an export that
    carries them (``perprisk fetch``)."""
    by_value = sorted(positions, key=lambda p: -abs(
        p.values["size"] * (1.0 if p.values["contract"] == "inverse" else p.values["mark_price"])))
    prices = funding = None
    for position in by_value:
        symbol = position.values["symbol"]
        for venue in venues:
            if venue_name(venue.name) != position.values["exchange"]:
                continue
            if prices is None and venue.ohlcv.get(symbol):
                prices = (symbol, _bars(venue.ohlcv[symbol], f"{venue.name} {symbol} OHLCV"))
            if funding is None and venue.funding.get(symbol):
                funding = (symbol, _funding_rows(venue.funding[symbol],
                                                 f"{venue.name} {symbol} funding"))
    return prices, funding


def gross_value(position: PositionInput) -> float:
    """Absolute USD value of a position (size x mark; the USD size for inverse)."""
    v = position.values
    return abs(float(v["size"]) * (1.0 if v["contract"] == "inverse" else float(v["mark_price"])))


def asset_of(symbol: str) -> str:
    """The asset a symbol's price follows: ``BTC`` for ``BTC/USDT:USDT`` and ``BTC/USD:BTC``."""
    return symbol.partition("/")[0].strip().upper()


def _histories(venues: Sequence[_Venue], positions: Sequence[PositionInput]
               ) -> dict[str, list[tuple[dt.datetime, float]]]:
    """One daily close series per asset held (``perprisk fetch`` writes one per symbol): that
    of the asset's largest position whose venue carries bars, largest asset first."""
    out: dict[str, list[tuple[dt.datetime, float]]] = {}
    for position in sorted(positions, key=lambda p: -gross_value(p)):
        symbol = position.values["symbol"]
        asset = asset_of(symbol)
        for venue in venues:
            if asset in out or venue_name(venue.name) != position.values["exchange"]:
                continue
            if venue.ohlcv.get(symbol):
                out[asset] = _bars(venue.ohlcv[symbol], f"{venue.name} {symbol} OHLCV")
    return out


def _account_key(key: str) -> str:
    exchange, _, settle = key.partition(":")
    return f"{venue_name(exchange)}:{settle.strip().upper()}"


def _check_cross_wallets(rows: Sequence[PositionInput], name: str) -> None:
    seen: dict[str, float] = {}
    for row in rows:
        v = row.values
        if v["margin_mode"] != "cross":
            continue
        account = _account(row)
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


def _bars(rows: Sequence[Any], where: str) -> list[tuple[dt.datetime, float]]:
    out = []
    for i, bar in enumerate(rows, start=1):
        if not isinstance(bar, list | tuple) or len(bar) < 5:
            raise ExportError(f"{where} bar {i}: expected [timestamp, open, high, low, "
                              "close, volume]")
        stamp = read_number(bar[0], f"{where} bar {i}", "timestamp", required=True) or 0.0
        close = read_number(bar[4], f"{where} bar {i}", "close", required=True)
        out.append((_when(stamp, f"{where} bar {i}"), float(close or 0.0)))
    return sorted(out)


def _when(stamp_ms: float, where: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(stamp_ms / 1000, tz=dt.UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise ExportError(f"{where}: timestamp {stamp_ms:g} is not a time in milliseconds"
                          ) from None


def load_ohlcv(path: Path) -> tuple[str, list[tuple[dt.datetime, float]]]:
    """ccxt ``fetch_ohlcv`` bars -> (symbol, [(time, close)]), oldest first."""
    symbol, rows = _by_symbol(_load_json(path, "OHLCV bars"), path, "OHLCV bars")
    return symbol, _bars(rows, path.name)


def load_price_histories(path: Path) -> dict[str, list[tuple[dt.datetime, float]]]:
    """ccxt ``fetch_ohlcv`` bars of several symbols ``{symbol: [[ts, o, h, l, c, v]...]}`` ->
    ``{asset: [(time, close)]}``, oldest first; the first symbol of an asset counts."""
    data = _load_json(path, "OHLCV bars")
    if not isinstance(data, dict):
        raise ExportError(f"{path.name}: expected {{symbol: [OHLCV bars...]}}")
    out: dict[str, list[tuple[dt.datetime, float]]] = {}
    for symbol, rows in data.items():
        if str(symbol).startswith("_"):
            continue
        if not isinstance(rows, list):
            raise ExportError(f"{path.name}: {symbol}: expected a list of OHLCV bars")
        asset = asset_of(str(symbol))
        if asset and asset not in out:
            out[asset] = _bars(rows, f"{path.name} {symbol}")
    if not out:
        raise ExportError(f"{path.name}: expected {{symbol: [OHLCV bars...]}}")
    return out


def load_exchanges(path: Path) -> list[dict[str, Any]]:
    """Scorecard facts: ``{"exchanges": [{exchange, <factor>: sub-score, loss_given_default}]}``."""
    data = _load_json(path, "exchange facts")
    rows = data.get("exchanges") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ExportError(f"{path.name}: expected {{\"exchanges\": [{{\"exchange\": ...}}]}}")
    return [dict(r, exchange=venue_name(r.get("exchange", ""))) for r in rows]


def _funding_rows(rows: Sequence[Any], where: str) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(rows, start=1):
        at = f"{where} {i}"
        if not isinstance(item, Mapping):
            raise ExportError(f"{at}: expected a ccxt funding-rate record")
        stamp = read_number(item.get("timestamp"), at, "timestamp", required=True) or 0.0
        out.append({
            "time": _when(stamp, at),
            "rate": read_number(item.get("fundingRate"), at, "fundingRate", required=True),
            "mark_price": read_number(item.get("markPrice"), at, "markPrice"),
        })
    return sorted(out, key=lambda r: r["time"])


def load_funding(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """ccxt ``fetch_funding_rate_history`` -> (symbol, rows of time, rate, mark price)."""
    symbol, rows = _by_symbol(_load_json(path, "funding history"), path, "funding rates")
    if not symbol:
        first = next((r for r in rows if isinstance(r, Mapping)), {})
        symbol = str(first.get("symbol") or "")
    return symbol, _funding_rows(rows, f"{path.name} funding")

"""An account straight from the exchange, through ccxt: the data behind ``perprisk fetch``.

For each venue (a ccxt exchange id) this pulls the positions (``fetch_positions``), the balance
(``fetch_balance``), account facts (unified or classic), and for every held symbol its market,
leverage tiers (``fetch_market_leverage_tiers`` or ``fetch_leverage_tiers``), funding-rate history
(``fetch_funding_rate_history``, perpetuals only) and daily OHLCV (``fetch_ohlcv``). The result is
the export ``perprisk fill --positions`` reads::

    {"perprisk_export": 1, "fetched_at": "...Z",
     "venues": {"<ccxt id>": {"positions": [...] or null, "balance": {...} or null,
                              "markets": {symbol: {...}}, "tiers": {symbol: [...]},
                              "funding": {symbol: [...]}, "ohlcv": {symbol: [[ts, o, h, l, c, v]]},
                              "account": {"type": "unified" | "classic" | null, ...},
                              "errors": [{"what": "positions", "message": "one line"}]}}}

ccxt structures are kept as ccxt returns them (``info`` included). ``positions`` is null, never an
empty list, when they could not be read: an empty list means the exchange said "no positions".

Nothing here parses arguments or prints; ``addin.accounts.commands`` is the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import ccxt

from addin.accounts.keys import Credentials, RedactingFilter, Redactor, needed_env_names

EXPORT_VERSION = 1
#: The market fields the export keeps for every held symbol.
MARKET_FIELDS = ("symbol", "base", "quote", "settle", "linear", "inverse", "contractSize",
                 "taker", "maker", "expiry", "type", "id")
#: Market types loaded per venue: perpetuals and dated futures only (fewer calls, less data).
MARKET_TYPES: dict[str, list[str]] = {
    "bybit": ["linear", "inverse"], "okx": ["swap", "future"], "gate": ["swap", "future"],
    "hyperliquid": ["swap"],
}
#: Calls of fetch_positions per venue, when one call does not cover every settle currency.
POSITION_SCOPES: dict[str, list[dict[str, str]]] = {
    "bybit": [{}, {"settleCoin": "USDC"}, {"subType": "inverse"}],  # linear USDT, USDC, inverse
    "gate": [{}, {"settle": "btc"}],  # USDT- and BTC-settled perpetuals
}
#: Parameters of fetch_balance per venue (the derivatives wallet, not the spot one).
BALANCE_PARAMS: dict[str, dict[str, str]] = {"gate": {"type": "swap"}}
#: Venues whose leverage tiers are a signed (private) call.
PRIVATE_TIERS = frozenset({"binanceusdm", "binancecoinm"})
#: Venues the export format, the replay tests and the README cover.
SUPPORTED = ("binanceusdm", "binancecoinm", "bybit", "okx", "gate", "hyperliquid")


class FetchError(Exception):
    """A venue cannot be set up (unknown id, no testnet); the message is one line."""


class Progress(Protocol):
    """What fetch reports while it works (a progress bar, or nothing)."""

    def expect(self, calls: int) -> None: ...

    def done(self, label: str) -> None: ...


class _NoProgress:
    def expect(self, calls: int) -> None:
        pass

    def done(self, label: str) -> None:
        pass


@dataclass(frozen=True)
class FetchSettings:
    """How to reach the exchanges. ``timeout`` in seconds per answer; ``days`` of daily prices
    (funding rates: the venue's most recent page).

    ``api_base`` (a URL, or {venue: URL}) sends every REST call of a venue to that host (a mirror
    or a local replay), keeping each endpoint's path. ``symbols`` are fetched (market data only)
    on every venue that lists them, held or not.
    """

    testnet: bool = False
    api_base: str | Mapping[str, str] | None = None
    timeout: float = 30.0
    days: int = 90
    symbols: tuple[str, ...] = ()
    attempts: int = 4
    backoff: float = 1.0
    backoff_cap: float = 8.0

    def base_for(self, venue: str) -> str | None:
        if isinstance(self.api_base, Mapping):
            return self.api_base.get(venue) or self.api_base.get("*")
        return self.api_base


@dataclass
class VenueResult:
    """One venue's part of the export, and whether its positions were read."""

    venue: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[dict[str, str]]:
        return list(self.data.get("errors", []))

    @property
    def positions_read(self) -> bool:
        return isinstance(self.data.get("positions"), list)


def rewrite_api_urls(urls: Any, base: str) -> Any:
    """Every URL string in ``urls`` (nested dicts and lists) with scheme and host replaced by
    ``base``'s, keeping the path (after ``base``'s own path, if it has one).

    >>> rewrite_api_urls({"a": "https://fapi.binance.com/fapi/v1", "b": {"c": "https://api.{hostname}"}},
    ...                  "http://127.0.0.1:8080")
    {'a': 'http://127.0.0.1:8080/fapi/v1', 'b': {'c': 'http://127.0.0.1:8080'}}
    """
    target = urlsplit(base)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise FetchError(f"--api-base {base!r}: expected http(s)://HOST[:PORT][/PATH]")
    prefix = f"{target.scheme}://{target.netloc}{target.path.rstrip('/')}"

    def rewrite(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if isinstance(value, str) and re.match(r"^(https?|wss?)://", value):
            parts = urlsplit(value)
            return prefix + parts.path + (f"?{parts.query}" if parts.query else "")
        return value

    return rewrite(urls)


def make_exchange(venue: str, credentials: Credentials, settings: FetchSettings) -> Any:
    """A configured ccxt exchange (rate limiting on, the venue's derivatives markets only)."""
    if venue not in ccxt.exchanges:
        raise FetchError(f"{venue}: not a ccxt exchange id (supported: {', '.join(SUPPORTED)})")
    config: dict[str, Any] = {**credentials.ccxt_config(), "enableRateLimit": True,
                              "timeout": max(1, int(settings.timeout * 1000))}
    exchange = getattr(ccxt, venue)(config)
    # Currencies are a private call on some venues and not needed: markets carry the codes.
    exchange.has = dict(exchange.has, fetchCurrencies=False)
    if venue in MARKET_TYPES:
        options = exchange.options.get("fetchMarkets")
        options = dict(options) if isinstance(options, dict) else {}
        exchange.options["fetchMarkets"] = {**options, "types": MARKET_TYPES[venue]}
    if settings.testnet:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.BaseError as exc:
            raise FetchError(f"{venue}: no testnet through ccxt ({_one_line(str(exc))})") from None
    base = settings.base_for(venue)
    if base:
        exchange.urls["api"] = rewrite_api_urls(exchange.urls["api"], base)
    return exchange


# ----------------------------------------------------------------------------------------------
# Error messages: one line, naming the venue and what to do, never a secret.

_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")
_STATUS = re.compile(r"https?://\S+\s+([1-5]\d\d)\b")


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(_URL_QUERY.sub(r"\1", text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def http_status(exc: BaseException) -> str | None:
    """The HTTP status behind a ccxt error: from the requests error ccxt raised it over, else
    from the "METHOD URL STATUS" ccxt writes into its message; None without an answer."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        response = getattr(link, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return str(code)
        link = link.__cause__ or link.__context__
    match = _STATUS.search(str(exc))
    return match.group(1) if match else None


_MESSAGE_KEYS = ("msg", "retMsg", "message", "error", "label", "ret_msg")


def _exchange_message(text: str) -> str | None:
    """The exchange's own words in the JSON body ccxt quotes in its message, if any."""
    start = text.find("{")
    while start >= 0:
        try:
            body, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(body, dict):
            words = [str(body[k]) for k in _MESSAGE_KEYS if body.get(k) not in (None, "")]
            code = next((body[k] for k in ("code", "retCode", "ret_code") if k in body), None)
            if words:
                return (f"{code}: " if code not in (None, "", 0, "0") else "") + words[0]
        return None
    return None


def describe_failure(venue: str, what: str, exc: BaseException, *, settings: FetchSettings,
                     redact: Redactor) -> str:
    """One line: the venue, the call, what went wrong and what to do."""
    raw = str(exc)
    detail = _one_line(redact(_exchange_message(raw) or (
        raw[len(venue):].strip() if raw.startswith(venue) else raw)))
    names = needed_env_names(venue)
    keys = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    status = http_status(exc)
    if isinstance(exc, ccxt.PermissionDenied):
        return (f"{venue}: {what}: the API key lacks a permission ({detail}); enable read "
                "access for this key on the exchange (positions, balances)")
    if isinstance(exc, ccxt.AuthenticationError):
        return (f"{venue}: {what}: the exchange refused the API key ({detail}); check {keys} "
                f"(or [{venue}] in the key file, --config), its expiry and IP whitelist")
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return (f"{venue}: {what}: rate limited by the exchange (HTTP {status or '429'}) after "
                f"{settings.attempts} attempts; wait a minute and rerun")
    if isinstance(exc, ccxt.RequestTimeout):
        return (f"{venue}: {what}: no answer within {settings.timeout:g} s; rerun later or "
                "raise --timeout")
    if isinstance(exc, ccxt.InvalidNonce):
        return (f"{venue}: {what}: the exchange refused the request's time stamp ({detail}); "
                "set the computer's clock right (e.g. timedatectl set-ntp true) and rerun")
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        if status in ("403", "451"):
            return (f"{venue}: {what}: the exchange answered HTTP {status} ({detail}); access "
                    "refused from this network (a restricted region, or the key's IP whitelist)")
        if status and status.startswith("4"):
            return (f"{venue}: {what}: the exchange answered HTTP {status} ({detail}); "
                    + ("check --api-base" if settings.base_for(venue) else
                       "the endpoint may have moved: check for a newer perprisk"))
        return (f"{venue}: {what}: the exchange is unavailable (HTTP {status or '5xx'}, "
                "maintenance or overload); rerun later")
    if isinstance(exc, ccxt.NetworkError):
        return (f"{venue}: {what}: cannot reach the exchange ({detail}); check the network"
                + (" and --api-base" if settings.base_for(venue) else ""))
    if isinstance(exc, ccxt.NotSupported):
        return f"{venue}: {what}: not offered through ccxt for this venue ({detail})"
    if isinstance(exc, ccxt.BaseError):
        answered = f"answered HTTP {status}" if status else "answered"
        return f"{venue}: {what}: the exchange {answered} with an error ({detail})"
    return f"{venue}: {what}: {type(exc).__name__}: {detail}"


def no_key_message(venue: str) -> str:
    names = needed_env_names(venue)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    what = "a wallet address" if venue == "hyperliquid" else "a read-only API key"
    public = ("leverage brackets need it too; funding and prices do not (--symbol)"
              if venue in PRIVATE_TIERS else "public market data needs none (--symbol)")
    return (f"{venue}: positions need {what}: set {listed} (or [{venue}] in the key file, "
            f"--config); {public}")


# ----------------------------------------------------------------------------------------------


class _VenueFetch:
    def __init__(self, venue: str, credentials: Credentials, settings: FetchSettings,
                 progress: Progress, redact: Redactor, sleep: Callable[[float], None]) -> None:
        self.venue = venue
        self.credentials = credentials
        self.settings = settings
        self.progress = progress
        self.redact = redact
        self.sleep = sleep
        self.stopped = False  # the venue stopped answering usefully: ask nothing more
        self.key_refused = False  # the key was refused: ask nothing more that needs it
        self.data: dict[str, Any] = {
            "positions": None, "balance": None, "markets": {}, "tiers": {}, "funding": {},
            "ohlcv": {}, "account": {"type": None}, "errors": [],
        }

    def error(self, what: str, message: str) -> None:
        self.data["errors"].append({"what": what, "message": self.redact(message)})

    def call(self, what: str, fn: Callable[..., Any], *args: Any, private: bool = False) -> Any:
        """``fn(*args)`` with retries on rate limits; None (and an error) on failure.

        ``private`` calls need the key; once the exchange refused it they are not made again,
        while public market data is still asked for."""
        if self.stopped or (private and self.key_refused):
            self.progress.done(f"{self.venue} {what} (skipped)")
            return None
        try:
            for attempt in range(1, self.settings.attempts + 1):
                try:
                    return fn(*args)
                except (ccxt.DDoSProtection, ccxt.RateLimitExceeded):
                    if attempt >= self.settings.attempts:
                        raise
                    self.sleep(min(self.settings.backoff_cap,
                                   self.settings.backoff * 2 ** (attempt - 1)))
        except Exception as exc:
            self.error(what.split(" ")[0], describe_failure(
                self.venue, what, exc, settings=self.settings, redact=self.redact))
            if isinstance(exc, ccxt.AuthenticationError):
                self.key_refused = True
            elif _venue_fatal(exc):
                self.stopped = True
            return None
        finally:
            self.progress.done(f"{self.venue} {what}")
        return None

    def run(self) -> dict[str, Any]:
        try:
            exchange = make_exchange(self.venue, self.credentials, self.settings)
        except FetchError as exc:
            self.error("setup", self.redact(str(exc)))
            return self.data
        except Exception as exc:  # ccxt refusing its configuration
            self.error("setup", describe_failure(self.venue, "setup", exc,
                                                 settings=self.settings, redact=self.redact))
            return self.data
        self.progress.expect(1)
        if self.call("markets", exchange.load_markets) is None:
            return self.data
        if self.credentials.can_read_account():
            scopes = POSITION_SCOPES.get(self.venue, [{}])
            self.progress.expect(2 + len(scopes))
            positions: list[Any] | None = []
            for scope in scopes:
                part = self.call("positions", exchange.fetch_positions, None, dict(scope),
                                 private=True)
                if part is None or positions is None:
                    positions = None  # one scope missing: the list is not the whole account
                else:
                    positions.extend(part)
            self.data["positions"] = positions
            balance = self.call("balance", exchange.fetch_balance,
                                dict(BALANCE_PARAMS.get(self.venue, {})), private=True)
            if balance is not None:
                self.data["balance"] = balance
            self.data["account"] = self.account(exchange)
        else:
            self.error("positions", no_key_message(self.venue))
        held = sorted({str(p["symbol"]) for p in self.data["positions"] or ()
                       if p.get("symbol") and _nonzero(p.get("contracts"))})
        asked = [s for s in self.settings.symbols if s in exchange.markets and s not in held]
        known = []
        for symbol in held + asked:
            market = (exchange.markets or {}).get(symbol)
            if market is None:  # a position in a market type not loaded: said, never dropped
                self.error("markets", f"{self.venue}: markets: {symbol} is held but not among "
                                      "the markets perprisk loads (perpetuals and futures); "
                                      "its tiers, funding and prices are missing")
                continue
            self.data["markets"][symbol] = _market_fields(market)
            known.append(symbol)
        self.market_data(exchange, known)
        return self.data

    def account(self, exchange: Any) -> dict[str, Any]:
        facts: dict[str, Any] = {"type": None}
        if self.venue in ("binanceusdm", "binancecoinm"):
            facts["type"] = "classic"  # a portfolio-margin account does not answer these APIs
            info = (self.data["balance"] or {}).get("info")
            if isinstance(info, dict) and "multiAssetsMargin" in info:
                facts["multiAssetsMargin"] = info["multiAssetsMargin"]
            return facts
        self.progress.expect(1)
        if self.venue == "bybit":
            # https://bybit-exchange.github.io/docs/v5/account/account-info
            response = self.call("account", exchange.privateGetV5AccountInfo, private=True)
            result = (response or {}).get("result") or {}
            status = _int(result.get("unifiedMarginStatus"))
            if status is not None:
                facts["unifiedMarginStatus"] = status
                facts["type"] = "unified" if status >= 3 else "classic"
                for key in ("marginMode", "isMasterTrader", "spotHedgingStatus"):
                    if key in result:
                        facts[key] = result[key]
        elif self.venue == "okx":
            # https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-account-configuration
            response = self.call("account", exchange.privateGetAccountConfig, private=True)
            rows = (response or {}).get("data") or [{}]
            config = rows[0] if rows and isinstance(rows[0], dict) else {}
            level = _int(config.get("acctLv"))
            if level is not None:
                facts["acctLv"] = level
                facts["posMode"] = config.get("posMode")
                # 3 multi-currency margin, 4 portfolio margin: one margin pool across assets.
                facts["type"] = "unified" if level >= 3 else "classic"
        elif self.venue == "gate":
            # https://www.gate.com/docs/developers/apiv4/#retrieve-user-account-information
            response = self.call("account", exchange.privateAccountGetDetail, private=True)
            mode = _int(((response or {}).get("key") or {}).get("mode"))
            if mode is not None:
                facts["keyMode"] = mode
                facts["type"] = "unified" if mode == 2 else "classic"
        elif self.venue == "hyperliquid":
            # "unifiedAccount" | "portfolioMargin" | "disabled" | "default" | "dexAbstraction"
            response = self.call("account", exchange.publicPostInfo, {
                "type": "userAbstraction", "user": self.credentials.wallet_address})
            if isinstance(response, str) and response:
                facts["abstraction"] = response
                facts["type"] = ("unified" if response in ("unifiedAccount", "portfolioMargin")
                                 else "classic")
        else:
            self.progress.done(f"{self.venue} account")
        return facts

    def market_data(self, exchange: Any, symbols: Sequence[str]) -> None:
        if not symbols:
            return
        has = exchange.has
        per_symbol_tiers = has.get("fetchMarketLeverageTiers") is True
        bulk_tiers = not per_symbol_tiers and has.get("fetchLeverageTiers") is True
        if self.venue in PRIVATE_TIERS and not self.credentials.can_read_account():
            bulk_tiers = per_symbol_tiers = False  # said in the no-key message
        self.progress.expect(len(symbols) * (2 + per_symbol_tiers) + bulk_tiers)
        if bulk_tiers:
            tiers = self.call("tiers", exchange.fetch_leverage_tiers, list(symbols),
                              private=self.venue in PRIVATE_TIERS)
            for symbol in symbols:
                if tiers and symbol in tiers:
                    self.data["tiers"][symbol] = tiers[symbol]
        for symbol in symbols:
            market = exchange.markets[symbol]
            if per_symbol_tiers:
                tiers = self.call(f"tiers {symbol}", exchange.fetch_market_leverage_tiers, symbol)
                if tiers is not None:
                    self.data["tiers"][symbol] = tiers
            if market.get("swap") and has.get("fetchFundingRateHistory"):
                # The venue's default page: its most recent rates (no since, which ccxt would
                # also use to filter the answer).
                funding = self.call(f"funding {symbol}", exchange.fetch_funding_rate_history,
                                    symbol)
                if funding is not None:
                    self.data["funding"][symbol] = funding
            else:
                self.progress.done(f"{self.venue} funding {symbol} (not a perpetual)")
            bars = self.call(f"ohlcv {symbol}", exchange.fetch_ohlcv, symbol, "1d", None,
                             self.settings.days)
            if bars is not None:
                self.data["ohlcv"][symbol] = bars


def _venue_fatal(exc: BaseException) -> bool:
    """True when the venue's other calls would fail the same way: a refused key, a venue that
    does not answer, answers 5xx or keeps rate limiting. A 4xx on one endpoint is not."""
    if isinstance(exc, ccxt.AuthenticationError | ccxt.RequestTimeout | ccxt.DDoSProtection
                  | ccxt.RateLimitExceeded):
        return True
    if isinstance(exc, ccxt.NetworkError):
        status = http_status(exc)
        return status is None or status.startswith("5")
    return False


def _nonzero(value: Any) -> bool:
    try:
        return float(value) != 0.0
    except (TypeError, ValueError):
        return value is not None  # an unreadable size is kept: never dropped silently


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _market_fields(market: Mapping[str, Any]) -> dict[str, Any]:
    return {key: market.get(key) for key in MARKET_FIELDS}


def _json_safe(value: Any) -> Any:
    """ccxt data as JSON: NaN and infinities become null, tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


_CCXT_LOGGER = "ccxt"


def fetch_venues(venues: Iterable[str], credentials: Mapping[str, Credentials],
                 settings: FetchSettings, *, progress: Progress | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 now: dt.datetime | None = None) -> tuple[dict[str, Any], list[VenueResult]]:
    """Fetch every venue, the venues side by side (one thread each; the calls to one venue one
    after the other, under ccxt's rate limiter). A failing venue does not stop the others.

    Returns the export (secrets scrubbed, JSON-safe) and one result per venue, in the order given.
    """
    venues = list(dict.fromkeys(venues))
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    redact = Redactor(s for c in credentials.values() for s in c.secrets())
    shown = progress or _NoProgress()

    def one(venue: str) -> VenueResult:
        creds = credentials.get(venue) or Credentials(venue=venue)
        data = _VenueFetch(venue, creds, settings, shown, redact, sleep).run()
        return VenueResult(venue, redact.scrub(_json_safe(data)))

    # ccxt logs request headers (the API key among them) at debug level: mask them.
    log_filter = RedactingFilter(redact)
    loggers = [logging.getLogger(_CCXT_LOGGER), logging.getLogger("ccxt.base.exchange")]
    for logger in loggers:
        logger.addFilter(log_filter)
    pool = ThreadPoolExecutor(max_workers=max(1, len(venues)), thread_name_prefix="fetch")
    try:
        results = list(pool.map(one, venues))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)
    export = {
        "perprisk_export": EXPORT_VERSION,
        "fetched_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "venues": {r.venue: r.data for r in results},
    }
    return export, results

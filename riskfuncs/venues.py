"""The one venue registry: which published rule set values a position on a venue.

A venue is named as the trader knows it or as ccxt does (``binanceusdm``, ``bybit``, ``okx``);
its *rule* is the rule set :mod:`riskfuncs.liquidation` implements for it (``binance``, ``bybit``,
...). Venues with no rule of their own are valued with the ``generic`` rule, and every reader
shows the rule it used beside the venue name, which is kept as given.

Examples
--------
>>> rule_for_venue("binanceusdm"), rule_for_venue("Gate.io"), rule_for_venue("deribit")
('binance', 'gate', 'generic')
>>> rule_for_venue("krakenfutures"), venue_name("krakenfutures")
('binance', 'kraken')
>>> known_venue("okex5"), known_venue("deribit")
(True, False)
>>> venue_name("binanceusdm"), venue_name(" Deribit ")
('binance', 'deribit')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "RULES", "VENUES", "VENUE_ALIASES", "VENUE_RULES", "Symbol", "known_venue", "parse_symbol",
    "rule_for_venue", "venue_key", "venue_name",
]

#: Rule sets, in the order they are listed to users.
RULES: tuple[str, ...] = (
    "binance", "bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex", "generic",
)

#: Venues (lower case) and the rule set that reproduces their published formula. The venues
#: that give a rule its name value with it; the others follow their own published pages, which
#: tests/reference/venue_rules.json cites with what each one shares with that rule and where it
#: differs (e.g. Bitget has added an unpublished offset since 2025-09).
VENUES: Mapping[str, str] = MappingProxyType({
    **{rule: rule for rule in RULES if rule != "generic"},
    "phemex": "gate",  # USDT-M isolated: taker fee added to the rate at the liquidation price
    "bitget": "gate",  # isolated: [margin - Q EP s] / [Q (MMR + taker - s)]
    "bingx": "gate",  # (MM + closing fee) / (margin + uPnL) at 100%
    "kucoin": "gate",  # current page: fee added to the rate at the liquidation price
    "kraken": "binance",  # maintenance margin at the liquidation price, no fee
    "mexc": "bybit",  # worked example: maintenance margin on entry value
    "htx": "okx",  # whole position at its rate (adjustment factor / leverage), no amount
})

#: Other spellings and ccxt ids of those venues.
VENUE_ALIASES: Mapping[str, str] = MappingProxyType({
    # Binance: ccxt ids of the USD-M and COIN-M futures classes, and common spellings.
    "binanceusdm": "binance", "binancecoinm": "binance", "binancefutures": "binance",
    # OKX: ccxt's former id and spellings of the v5 API.
    "okex": "okx", "okex5": "okx", "okx5": "okx",
    # Gate: ccxt id and the former brand.
    "gateio": "gate", "gate.io": "gate",
    # dYdX: the v4 chain.
    "dydxv4": "dydx", "dydx4": "dydx",
    "kucoinfutures": "kucoin", "krakenfutures": "kraken", "huobi": "htx",
})

#: Every spelling (venue name or ccxt id, lower case) with the rule set that values it.
VENUE_RULES: Mapping[str, str] = MappingProxyType({
    "generic": "generic", **VENUES,
    **{alias: VENUES[venue] for alias, venue in VENUE_ALIASES.items()},
})


def venue_key(venue: object) -> str:
    """A venue name as the registry looks it up: stripped and lower case."""
    return str(venue if venue is not None else "").strip().lower()


def known_venue(venue: object) -> bool:
    """True when the venue's published rule is implemented (not valued generically)."""
    return venue_name(venue) in VENUES


def rule_for_venue(venue: object) -> str:
    """Name of the rule set that applies to a venue: a rule name, a ccxt id, else "generic".

    A position on a venue without its own published rule (Kraken, Deribit, ...) is valued with
    the generic rule, maintenance margin at the liquidation price; :func:`portfolio_margin`
    reports the rule it used next to every row so that a misspelt venue does not go unseen.

    Examples
    --------
    >>> rule_for_venue("binanceusdm"), rule_for_venue("Bybit"), rule_for_venue("deribit")
    ('binance', 'bybit', 'generic')
    """
    return VENUES.get(venue_name(venue), "generic")


def venue_name(venue: object) -> str:
    """The venue as perprisk shows and groups it: a known venue's own name (``binanceusdm`` and
    ``binancecoinm`` are both Binance, one counterparty), any other name as given, lower case.
    """
    key = venue_key(venue)
    return VENUE_ALIASES.get(key, key)


#: Quote currencies recognised at the end of an exchange symbol without separators
#: (``BTCUSDT``), longest first so that ``USDC`` wins over ``USD``. TUSD is left out: BitMEX's
#: ``XBTUSD`` would read as XB against TUSD.
_QUOTES: tuple[str, ...] = ("FDUSD", "USDT", "USDC", "BUSD", "USDE", "USD1", "DAI", "USD",
                            "EUR", "BTC", "ETH")
#: Exchange spellings of coins (BitMEX writes bitcoin XBT).
COIN_ALIASES: Mapping[str, str] = MappingProxyType({"XBT": "BTC"})


def coin_name(coin: object) -> str:
    """A coin as perprisk names it: stripped, upper case, exchange spellings read as the coin
    (BitMEX's ``XBT`` is ``BTC``), as :func:`parse_symbol` reads the coins of a symbol.

    Examples
    --------
    >>> coin_name(" xbt"), coin_name("usdt")
    ('BTC', 'USDT')
    """
    key = str(coin if coin is not None else "").strip().upper()
    return COIN_ALIASES.get(key, key)


@dataclass(frozen=True)
class Symbol:
    """A market as a symbol names it: base, quote and settle currencies, expiry, contract type.

    ``contract`` is "inverse" when the market settles in its base currency, else "linear";
    ``expiry`` is the dated future's ``YYMMDD`` (None for a perpetual).
    """

    base: str
    quote: str
    settle: str
    expiry: str | None = None

    @property
    def contract(self) -> str:
        return "inverse" if self.settle == self.base else "linear"

    @property
    def unified(self) -> str:
        """The ccxt unified symbol (``BTC/USDT:USDT``, ``ETH/USD:ETH-210430``)."""
        tail = f"-{self.expiry}" if self.expiry else ""
        return f"{self.base}/{self.quote}:{self.settle}{tail}"


def parse_symbol(symbol: object, contract: str | None = None) -> Symbol:
    """Base, quote, settle and expiry of a market symbol, however the venue writes it.

    Accepts ccxt unified symbols (``BTC/USDT:USDT``, ``BTC/USD:BTC``, dated
    ``BTC/USDT:USDT-240628``), spot-style pairs (``BTC/USDT``: settle in the quote, or in the
    base for ``contract="inverse"``), exchange ids without separators (``BTCUSDT``, BitMEX
    ``XBTUSD``: a USD-quoted market without a settle is inverse), OKX instrument ids
    (``BTC-USDT-SWAP``, ``BTC-USD-SWAP``, ``ETH-USD-210430``) and Binance COIN-M ids
    (``BTCUSD_PERP``, ``BTCUSD_240628``).

    Examples
    --------
    >>> parse_symbol("BTC/USDT:USDT-240628")
    Symbol(base='BTC', quote='USDT', settle='USDT', expiry='240628')
    >>> parse_symbol("BTCUSDT").unified, parse_symbol("XBTUSD").unified
    ('BTC/USDT:USDT', 'BTC/USD:BTC')
    >>> parse_symbol("BTC-USD-SWAP").contract, parse_symbol("BTCUSD_PERP").contract
    ('inverse', 'inverse')
    """
    text = str(symbol if symbol is not None else "").strip().upper()
    if not text:
        raise ValueError("symbol is empty; expected e.g. BTC/USDT:USDT")
    if "/" in text:
        pair, _, rest = text.partition(":")
        base, _, quote = pair.partition("/")
        settle, _, expiry = rest.partition("-")
        if not settle:
            settle = base if contract == "inverse" else quote
        return _symbol(base, quote, settle, expiry or None, text)
    if "-" in text:  # OKX: BASE-QUOTE-SWAP or BASE-QUOTE-YYMMDD
        parts = text.split("-")
        if len(parts) >= 2:
            base, quote = parts[0], parts[1]
            dated = parts[2] if len(parts) > 2 and parts[2].isdigit() else None
            settle = base if quote == "USD" else quote
            return _symbol(base, quote, settle, dated, text)
    pair, _, suffix = text.partition("_")  # Binance COIN-M: BTCUSD_PERP, BTCUSD_240628
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            base = pair[: -len(quote)]
            inverse = contract == "inverse" or (contract is None and quote == "USD")
            return _symbol(base, quote, base if inverse else quote,
                           suffix if suffix.isdigit() else None, text)
    raise ValueError(f"symbol {symbol!r} names no market perprisk can read; expected e.g. "
                     "BTC/USDT:USDT, BTCUSDT or BTC-USDT-SWAP")


def _symbol(base: str, quote: str, settle: str, expiry: str | None, text: str) -> Symbol:
    base, quote, settle = (COIN_ALIASES.get(c, c) for c in (base, quote, settle))
    if not (base and quote and settle):
        raise ValueError(f"symbol {text!r} must name a base and a quote currency, e.g. "
                         "BTC/USDT:USDT")
    return Symbol(base, quote, settle, expiry)

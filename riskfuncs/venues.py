"""The one venue registry: which published rule set values a position on a venue.

A venue is named as the trader knows it or as ccxt does (``binanceusdm``, ``bybit``, ``okx``);
its *rule* is the rule set :mod:`riskfuncs.liquidation` implements for it (``binance``, ``bybit``,
...). Venues with no rule of their own are valued with the ``generic`` rule, and every reader
shows the rule it used beside the venue name, which is kept as given.

Examples
--------
>>> rule_for_venue("binanceusdm"), rule_for_venue("Gate.io"), rule_for_venue("bitget")
('binance', 'gate', 'generic')
>>> known_venue("okex5"), known_venue("kraken")
(True, False)
>>> venue_name("binanceusdm"), venue_name(" Bitget ")
('binance', 'bitget')
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["RULES", "VENUE_RULES", "known_venue", "rule_for_venue", "venue_key", "venue_name"]

#: Rule sets, in the order they are listed to users.
RULES: tuple[str, ...] = (
    "binance", "bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex", "generic",
)

#: Venue names and ccxt ids (lower case) of the venues whose published rule is implemented.
VENUE_RULES: Mapping[str, str] = MappingProxyType({
    **{rule: rule for rule in RULES},
    # Binance: ccxt ids of the USD-M and COIN-M futures classes, and common spellings.
    "binanceusdm": "binance", "binancecoinm": "binance", "binancefutures": "binance",
    # OKX: ccxt's former id and spellings of the v5 API.
    "okex": "okx", "okex5": "okx", "okx5": "okx",
    # Gate: ccxt id and the former brand.
    "gateio": "gate", "gate.io": "gate",
    # dYdX: the v4 chain.
    "dydxv4": "dydx", "dydx4": "dydx",
})


def venue_key(venue: object) -> str:
    """A venue name as the registry looks it up: stripped and lower case."""
    return str(venue if venue is not None else "").strip().lower()


def known_venue(venue: object) -> bool:
    """True when the venue has a published rule of its own (not the generic one)."""
    return venue_key(venue) in VENUE_RULES and venue_key(venue) != "generic"


def rule_for_venue(venue: object) -> str:
    """Name of the rule set that applies to a venue: a rule name, a ccxt id, else "generic".

    A position on a venue without its own published rule (Kraken, Deribit, ...) is valued with
    the generic rule, maintenance margin at the liquidation price; :func:`portfolio_margin`
    reports the rule it used next to every row so that a misspelt venue does not go unseen.

    Examples
    --------
    >>> rule_for_venue("binanceusdm"), rule_for_venue("Bybit"), rule_for_venue("kraken")
    ('binance', 'bybit', 'generic')
    """
    return VENUE_RULES.get(venue_key(venue), "generic")


def venue_name(venue: object) -> str:
    """The venue as perprisk shows and groups it: a known venue's own name (``binanceusdm`` and
    ``binancecoinm`` are both Binance, one counterparty), any other name as given, lower case.
    """
    key = venue_key(venue)
    rule = VENUE_RULES.get(key)
    return rule if rule is not None and rule != "generic" else key

"""One venue registry and one symbol parser, for every reader."""

from __future__ import annotations

import pytest

from riskfuncs.venues import known_venue, parse_symbol, rule_for_venue, venue_name


@pytest.mark.parametrize(("venue", "rule"), [
    ("binanceusdm", "binance"), ("binancecoinm", "binance"), ("binancefutures", "binance"),
    ("okx5", "okx"), ("okex5", "okx"), ("okex", "okx"), ("gate.io", "gate"), ("gateio", "gate"),
    ("dydx4", "dydx"), ("dydxv4", "dydx"), (" Bybit ", "bybit"), ("deribit", "generic"),
    ("coinbaseinternational", "generic"),
])
def test_one_alias_table_for_every_reader(venue: str, rule: str) -> None:
    assert rule_for_venue(venue) == rule
    assert known_venue(venue) == (rule != "generic")
    assert venue_name(venue) == (rule if rule != "generic" else venue.strip().lower())


@pytest.mark.parametrize(("venue", "name", "rule"), [
    ("phemex", "phemex", "gate"), ("bitget", "bitget", "gate"), ("bingx", "bingx", "gate"),
    ("kucoinfutures", "kucoin", "gate"), ("krakenfutures", "kraken", "binance"),
    ("mexc", "mexc", "bybit"), ("huobi", "htx", "okx"),
])
def test_venues_valued_with_the_rule_their_published_formula_shares(
        venue: str, name: str, rule: str) -> None:
    # tests/reference/venue_rules.json: each venue's page and what it shares with the rule;
    # tests/reference/exchange_examples.csv checks their worked examples with that rule.
    assert (venue_name(venue), rule_for_venue(venue), known_venue(venue)) == (name, rule, True)


def test_the_registry_matches_the_researched_venue_rules() -> None:
    import json
    from pathlib import Path

    from riskfuncs.venues import VENUES

    data = json.loads((Path(__file__).parents[1] / "reference" / "venue_rules.json").read_text())
    for entry in data:
        shape = entry["rule_shape"]
        venue = entry["venue"].replace(" ", "")
        if shape is None or shape == "generic":
            assert venue_name(venue) not in VENUES, venue
        else:
            assert VENUES[venue] == shape, venue


@pytest.mark.parametrize(("symbol", "base", "quote", "settle", "expiry", "contract"), [
    ("BTC/USDT:USDT", "BTC", "USDT", "USDT", None, "linear"),
    ("BTC/USDT:USDT-240628", "BTC", "USDT", "USDT", "240628", "linear"),
    ("BTC/USD:BTC", "BTC", "USD", "BTC", None, "inverse"),
    ("ETH/USD:ETH-210430", "ETH", "USD", "ETH", "210430", "inverse"),
    ("BTC/USD1:USD1", "BTC", "USD1", "USD1", None, "linear"),
    ("ETH/BTC:BTC", "ETH", "BTC", "BTC", None, "linear"),
    ("BTC/USDT", "BTC", "USDT", "USDT", None, "linear"),
    ("BTCUSDT", "BTC", "USDT", "USDT", None, "linear"),
    ("1000PEPEUSDT", "1000PEPE", "USDT", "USDT", None, "linear"),
    ("XBTUSD", "BTC", "USD", "BTC", None, "inverse"),
    ("BTC-USDT-SWAP", "BTC", "USDT", "USDT", None, "linear"),
    ("BTC-USD-SWAP", "BTC", "USD", "BTC", None, "inverse"),
    ("ETH-USD-210430", "ETH", "USD", "ETH", "210430", "inverse"),
    ("BTCUSD_PERP", "BTC", "USD", "BTC", None, "inverse"),
    ("BTCUSD_240628", "BTC", "USD", "BTC", "240628", "inverse"),
])
def test_symbols_however_the_venue_writes_them(symbol: str, base: str, quote: str,
                                               settle: str, expiry: str | None,
                                               contract: str) -> None:
    parsed = parse_symbol(symbol)
    assert (parsed.base, parsed.quote, parsed.settle, parsed.expiry) == (
        base, quote, settle, expiry)
    assert parsed.contract == contract
    assert parse_symbol(parsed.unified) == parsed


def test_a_pair_without_settle_follows_the_contract() -> None:
    assert parse_symbol("BTC/USD", "inverse").settle == "BTC"
    assert parse_symbol("BTC/USD").settle == "USD"
    with pytest.raises(ValueError, match="names no market"):
        parse_symbol("HELLO")
    with pytest.raises(ValueError, match="symbol is empty"):
        parse_symbol("  ")

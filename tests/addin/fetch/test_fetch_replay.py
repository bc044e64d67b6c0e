"""``perprisk fetch`` through the real ccxt library against documented responses replayed on
127.0.0.1: what lands in the export, venue by venue."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from addin.cli import main
from tests.addin.fetch.conftest import FAKE_KEYS, VENUES, WALLET, Run, assert_no_secret
from tests.addin.fetch.replay_server import RECORDINGS, ReplayServer, Route, Seen

MARKET_FIELDS = {"symbol", "base", "quote", "settle", "linear", "inverse", "contractSize",
                 "taker", "maker", "expiry", "type", "id"}

# The liquidation price each exchange reported in its documented position payload.
EXCHANGE_LIQUIDATION = {
    ("binanceusdm", "BTC/USDT:USDT"): 5930.78,
    ("binancecoinm", "BTC/USD:BTC"): 25119.9744576,
    ("bybit", "XRP/USDT:USDT"): 0.0001,
    ("okx", "BTC/USDT:USDT"): 12608.959083877446,
    ("hyperliquid", "ETH/USDC:USDC"): 2866.26936529,
}


@dataclass
class AllVenues:
    run: Run
    seen: list[Seen]
    unmatched: list[Seen]


@pytest.fixture(scope="module")
def all_venues(replay_server: ReplayServer, tmp_path_factory: pytest.TempPathFactory,
               ) -> AllVenues:
    """One fetch of all six venues (shared by the tests that only read its result)."""
    replay_server.reset()
    path = tmp_path_factory.mktemp("all") / "export.json"
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("no-config")))
        for venue, keys in FAKE_KEYS.items():
            for suffix, value in keys.items():
                mp.setenv(f"PERPRISK_{venue.upper()}_{suffix}", value)
        mp.setenv("PERPRISK_HYPERLIQUID_WALLET_ADDRESS", WALLET)
        argv = ["fetch", "--out", str(path), "--api-base", replay_server.url, "--quiet"]
        for venue in VENUES:
            argv += ["--exchange", venue]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    result = AllVenues(Run(code, out.getvalue(), err.getvalue(), path),
                       list(replay_server.seen), list(replay_server.unmatched))
    replay_server.reset()
    return result


def test_every_venue_lands_with_exit_0(all_venues: AllVenues) -> None:
    run = all_venues.run
    assert run.code == 0, run.err
    assert run.err == ""
    assert all_venues.unmatched == []
    export = run.export()
    assert export["perprisk_export"] == 1
    assert export["fetched_at"].endswith("Z")
    assert list(export["venues"]) == list(VENUES)
    for venue, data in export["venues"].items():
        assert set(data) == {"positions", "balance", "markets", "tiers", "funding", "ohlcv",
                             "account", "errors"}, venue
        assert data["errors"] == [], venue
        assert isinstance(data["positions"], list) and data["positions"], venue
        assert data["balance"] and "info" in data["balance"], venue
        held = {p["symbol"] for p in data["positions"]}
        assert set(data["markets"]) == held, venue
        for market in data["markets"].values():
            assert set(market) == MARKET_FIELDS
        assert set(data["ohlcv"]) == held and all(data["ohlcv"].values()), venue
        assert set(data["funding"]) == held and all(data["funding"].values()), venue
        if venue != "hyperliquid":  # ccxt offers no Hyperliquid tiers
            assert set(data["tiers"]) == held and all(data["tiers"].values()), venue
    for line in run.out.splitlines()[1:]:
        assert "open position(s)" in line


def test_positions_are_ccxt_structures_with_the_exchange_payload(
        all_venues: AllVenues) -> None:
    venues = all_venues.run.export()["venues"]
    for (venue, symbol), liquidation in EXCHANGE_LIQUIDATION.items():
        position = next(p for p in venues[venue]["positions"] if p["symbol"] == symbol)
        assert position["liquidationPrice"] == pytest.approx(liquidation, rel=1e-12)
        assert isinstance(position["info"], dict) and position["info"], venue
        assert {"contracts", "entryPrice", "markPrice", "collateral", "marginMode"} <= set(position)
    # Binance: the payload is passed on untouched (the reader takes positionMargin from it).
    binance = venues["binanceusdm"]["positions"][0]
    documented = json.loads((RECORDINGS / "binanceusdm" / "positionRisk.json").read_text())
    assert binance["info"] == documented["response"][0]
    inverse = venues["binancecoinm"]["markets"]["BTC/USD:BTC"]
    assert inverse["inverse"] is True and inverse["contractSize"] == 100


def test_account_facts(all_venues: AllVenues) -> None:
    venues = all_venues.run.export()["venues"]
    assert venues["bybit"]["account"] == {
        "type": "unified", "unifiedMarginStatus": 4, "marginMode": "REGULAR_MARGIN",
        "isMasterTrader": False, "spotHedgingStatus": "OFF"}
    assert venues["okx"]["account"]["type"] == "classic"
    assert venues["okx"]["account"]["acctLv"] == 2
    assert venues["gate"]["account"] == {"type": "classic", "keyMode": 1}
    assert venues["hyperliquid"]["account"] == {"type": "classic", "abstraction": "default"}
    assert venues["binanceusdm"]["account"]["type"] == "classic"
    # Bybit's unified wallet (accountType=UNIFIED) and every settle scope of positions.
    assert venues["bybit"]["balance"]["info"]["result"]["list"][0]["accountType"] == "UNIFIED"
    assert {p["symbol"] for p in venues["bybit"]["positions"]} == {"XRP/USDT:USDT",
                                                                   "BTC/USD:BTC"}
    # Gate: USDT- and BTC-settled perpetuals are separate calls; both are asked.
    assert {s.path for s in all_venues.seen if s.path.endswith("/positions")} >= {
        "/api/v4/futures/usdt/positions", "/api/v4/futures/btc/positions"}


def test_requests_are_signed_by_ccxt_with_the_key(all_venues: AllVenues) -> None:
    binance = [s for s in all_venues.seen if s.path == "/fapi/v3/positionRisk"]
    assert binance and binance[0].headers.get("X-MBX-APIKEY") == FAKE_KEYS["binanceusdm"][
        "API_KEY"]
    assert "signature" in binance[0].query
    bybit = [s for s in all_venues.seen if s.path == "/v5/position/list"]
    assert {s.query.get("category") for s in bybit} == {"linear", "inverse"}
    assert all(s.headers.get("X-BAPI-SIGN") for s in bybit)
    okx = [s for s in all_venues.seen if s.path == "/api/v5/account/positions"]
    assert okx[0].headers.get("OK-ACCESS-PASSPHRASE") == FAKE_KEYS["okx"]["PASSWORD"]
    hyperliquid = [json.loads(s.body) for s in all_venues.seen if s.path == "/info"]
    assert {"type": "clearinghouseState", "user": WALLET} in hyperliquid


def test_no_secret_in_any_output(all_venues: AllVenues) -> None:
    run = all_venues.run
    # Bybit echoes the API key in /v5/user/query-api: it must not travel on.
    assert any(s.path == "/v5/user/query-api" for s in all_venues.seen)
    assert_no_secret(run.out, run.err, run.path.read_bytes())


def test_only_the_held_symbols_market_data_is_asked_for(
        all_venues: AllVenues) -> None:
    risk = [s.query.get("symbol") for s in all_venues.seen if s.path == "/v5/market/risk-limit"]
    assert sorted(risk) == ["BTCUSD", "XRPUSDT"]


def test_more_positions_than_a_workbook_holds_are_all_exported(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    documented = json.loads((RECORDINGS / "binanceusdm" / "positionRisk.json").read_text())
    many = []
    for i in range(300):
        row = dict(documented["response"][0])
        row["positionAmt"] = f"{1 + i / 1000:.3f}"
        row["updateTime"] = 1625474304765 + i
        many.append(row)
    replay.routes.insert(0, Route("binanceusdm", "GET", "/fapi/v3/positionRisk", response=many))
    run = run_fetch("binanceusdm")
    assert run.code == 0, run.err
    positions = run.export()["venues"]["binanceusdm"]["positions"]
    assert len(positions) == 300
    assert sorted(p["contracts"] for p in positions) == [round(1 + i / 1000, 3) for i in range(300)]
    assert "300 position(s)" in run.out


def test_flat_account_is_an_empty_list_not_null(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    replay.routes.insert(0, Route("gate", "GET", "/api/v4/futures/usdt/positions", response=[]))
    run = run_fetch("gate")
    assert run.code == 0, run.err
    data = run.export()["venues"]["gate"]
    assert data["positions"] == []
    assert data["markets"] == {} and data["tiers"] == {}
    assert "gate: 0 open position(s)" in run.out


def test_symbol_option_fetches_public_data_without_a_key(
        run_fetch: Any, replay: ReplayServer, keys_env: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix in ("API_KEY", "SECRET", "PASSWORD"):
        monkeypatch.delenv(f"PERPRISK_OKX_{suffix}")
    run = run_fetch("okx", extra=("--symbol", "BTC/USDT:USDT"))
    assert run.code == 1
    assert run.error_lines() == [
        "okx: positions need a read-only API key: set PERPRISK_OKX_API_KEY, PERPRISK_OKX_SECRET "
        "and PERPRISK_OKX_PASSWORD (or [okx] in the key file, --config); public market data "
        "needs none (--symbol)"]
    data = run.export()["venues"]["okx"]
    assert data["positions"] is None  # unknown, never "no positions"
    assert data["errors"][0]["what"] == "positions"
    assert data["tiers"]["BTC/USDT:USDT"] and data["ohlcv"]["BTC/USDT:USDT"]
    assert data["funding"]["BTC/USDT:USDT"]
    assert not any(s.path.startswith("/api/v5/account") for s in replay.seen)
    assert "okx: positions NOT read" in run.out


def test_recordings_name_their_source() -> None:
    files = sorted(RECORDINGS.glob("*/*.json"))
    assert {f.parent.name for f in files} == set(VENUES)
    for file in files:
        data = json.loads(file.read_text(encoding="utf-8"))
        assert data["_source"].startswith("https://"), file
        assert file.stat().st_size < 20_000, f"{file}: keep recordings small"


def test_a_position_in_a_market_not_loaded_is_kept_and_said(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    documented = json.loads((RECORDINGS / "bybit" / "positions_linear_usdt.json").read_text())
    response = json.loads(json.dumps(documented["response"]))
    extra = dict(response["result"]["list"][0], symbol="SOLUSDT")
    response["result"]["list"].append(extra)
    replay.routes.insert(0, Route("bybit", "GET", "/v5/position/list",
                                  query={"category": "linear", "settleCoin": "USDT"},
                                  response=response))
    run = run_fetch("bybit")
    assert run.code == 1
    data = run.export()["venues"]["bybit"]
    assert len(data["positions"]) == 3
    [line] = run.error_lines()
    assert line.startswith("bybit: markets: ") and "is held but not among the markets" in line
    assert set(data["markets"]) == {"XRP/USDT:USDT", "BTC/USD:BTC"}


def test_riskfuncs_and_the_cli_start_without_ccxt() -> None:
    code = ("import sys, riskfuncs, addin.cli\n"
            "addin.cli.build_parser()\n"
            "print('ccxt' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

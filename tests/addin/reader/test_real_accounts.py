"""Real accounts in: the exchanges' documented payloads through the real ccxt library, into the
workbook, compared with the liquidation price each exchange itself reported.

Two paths, one export:

* ``perprisk fetch`` against the replay server (real ccxt requests, signing and parsing of the
  recorded responses in ``tests/reference/exchanges/``), its JSON export read by
  ``perprisk fill``, the workbook assessed by the library and recalculated by LibreOffice;
* a payload parsed by ccxt's own ``parse_position`` (no server) for shapes the replay does not
  serve (Bybit classic isolated).

Tolerances: Binance 0.01% (its prices carry 2 to 8 decimals), elsewhere 0.1%, as the issue
sets; where the documented example is itself incoherent (its fields come from different
accounts) the test says which fields disagree and checks that the report flags the difference.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from addin.fill.commands import fill_from_export
from addin.reader.exchange_data import load_export
from addin.report import assess_file
from tests.addin.fetch.conftest import FAKE_KEYS, VENUES, WALLET
from tests.addin.fetch.conftest import replay_server as replay_server  # the session's server

ccxt = pytest.importorskip("ccxt")

#: (venue, symbol, side) -> (the exchange's liquidation price, relative tolerance, why).
EXACT: dict[tuple[str, str, str], tuple[float, float, str]] = {
    ("binance", "BTC/USDT:USDT", "long"): (
        5930.78, 1e-4,
        "USD-M positionRisk hedge-mode example; isolated margin = isolatedMargin - "
        "unRealizedProfit (13,200.71), bracket 2 at the liquidation notional"),
    ("binance", "BTC/USD:BTC", "long"): (
        25119.97445760, 1e-9,
        "COIN-M positionRisk example; isolatedWallet 0.00268058 BTC, bracket 1 (0.4%)"),
    ("hyperliquid", "ETH/USDC:USDC", "long"): (
        2866.26936529, 1e-6,
        "clearinghouseState example; margin = marginUsed - unrealizedPnl, MMR = 1/(2 x 50)"),
}

#: Documented examples that cannot be reproduced from the documented payloads alone.
EXPLAINED: dict[tuple[str, str, str], str] = {
    ("bybit", "XRP/USDT:USDT", "long"): (
        "Bybit's position-list example (100 XRP long at 0.3615, liqPrice 0.0001) and its "
        "wallet-balance example (3 USDT) are from different accounts: 3 USDT cannot carry a "
        "36 USDT long down to 0.0001"),
    ("okx", "BTC/USDT:USDT", "long"): (
        "OKX's positions example is internally inconsistent (markPx 4,786 against avgPx "
        "34,131 and last 34,134; liqPx 12,609) and cross: its account balance example is "
        "another account's"),
}


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory,
            replay_server: Any) -> Iterator[Path]:
    """One ``perprisk fetch`` of every recorded venue into a JSON export."""
    from addin.accounts import commands
    from addin.cli import main

    saved = dict(os.environ)
    folder = tmp_path_factory.mktemp("real")
    try:
        for venue, keys in FAKE_KEYS.items():
            for suffix, value in keys.items():
                os.environ[f"PERPRISK_{venue.upper()}_{suffix}"] = value
        os.environ["PERPRISK_HYPERLIQUID_WALLET_ADDRESS"] = WALLET
        os.environ["XDG_CONFIG_HOME"] = str(folder / "no-config")
        backoff = commands.RETRY_BACKOFF
        commands.RETRY_BACKOFF = 0.01
        replay_server.reset()
        export = folder / "export.json"
        argv = ["fetch", "--out", str(export), "--quiet", "--timeout", "5",
                "--api-base", replay_server.url]
        for venue in VENUES:
            argv += ["--exchange", venue]
        assert main(argv) == 0
        commands.RETRY_BACKOFF = backoff
        yield export
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def filled(fetched: Path) -> Path:
    book = fetched.with_name("book.xlsx")
    assert fill_from_export(fetched, book) == 0
    return book


def _key(p: Any) -> tuple[str, str, str]:
    return (p.exchange, p.symbol, p.side)


def test_fetch_and_fill_reproduce_the_exchange_liquidation_prices(filled: Path) -> None:
    outcome = assess_file(filled)
    assert outcome.assessment is not None, outcome.book.problems
    by_key = {_key(p): p for p in outcome.assessment.positions}
    for key, (expected, tolerance, why) in EXACT.items():
        position = by_key[key]
        assert position.exchange_liquidation_price == pytest.approx(expected, rel=1e-12), key
        assert position.liquidation_price == pytest.approx(expected, rel=tolerance), (key, why)
        assert not position.differs_from_exchange
    notes = " ".join(outcome.assessment.notes)
    for key, why in EXPLAINED.items():
        position = by_key[key]
        # Not reproducible from these payloads: the report shows both and says so.
        assert position.differs_from_exchange, (key, why)
        assert f"{position.label}, row {position.row}: liquidation price" in notes, why


def test_no_figure_comes_from_ccxt_collateral(fetched: Path) -> None:
    """ccxt's collateral includes unrealised PnL: the workbook margin never equals it where
    the PnL is not zero, and equals the exchange's margin field."""
    data = json.loads(fetched.read_text())
    export = load_export(fetched)
    raw = {(venue, p["symbol"]): p for venue, part in data["venues"].items()
           for p in part["positions"]}
    usdm = next(p for p in export.positions if p.values["symbol"] == "BTC/USDT:USDT"
                and p.values["exchange"] == "binance")
    ccxt_position = raw[("binanceusdm", "BTC/USDT:USDT")]
    assert ccxt_position["collateral"] == pytest.approx(15517.54150468)
    assert usdm.values["collateral"] == pytest.approx(15517.54150468 - 2316.83423560, rel=1e-12)
    assert usdm.sources["collateral"].startswith("Binance isolated")
    coinm = next(p for p in export.positions if p.values["symbol"] == "BTC/USD:BTC"
                 and p.values["exchange"] == "binance")
    assert coinm.values["collateral"] == 0.00268058  # isolatedWallet, not 0.00274471
    assert coinm.values["size"] == 200.0  # 2 contracts x 100 USD


def test_bybit_unified_account_is_one_cross_account_and_says_so(fetched: Path) -> None:
    export = load_export(fetched)
    bybit = [p for p in export.positions if p.values["exchange"] == "bybit"]
    assert bybit and all(p.values["margin_mode"] == "cross" for p in bybit)
    assert all("unified account" in p.sources["margin_mode"].lower() for p in bybit)
    usdt = next(p for p in bybit if p.values["symbol"] == "XRP/USDT:USDT")
    # Bybit's margin balance 3.00326056 USD less perp uPnL 0, at USDT's 3.00326056 / 3 USD.
    assert usdt.values["collateral"] == pytest.approx(3.0, rel=1e-12)
    assert usdt.sources["collateral"].startswith("Bybit UNIFIED margin balance")
    assert any("Bybit unified account valued as one cross account" in n for n in export.notes)


def test_bybit_unified_wallet_counts_other_collateral_after_haircut() -> None:
    from addin.reader.ccxt_positions import wallet_of

    # 1 BTC held at 60,000 with a 0.98 collateral value ratio (58,800) and 4,500 USDT at
    # 1.0001 USD: margin balance 63,300.45 USD with a perp uPnL of -500 USD.
    balance = {"info": {"result": {"list": [{
        "accountType": "UNIFIED", "totalMarginBalance": "62800.45", "totalPerpUPL": "-500",
        "coin": [{"coin": "BTC", "walletBalance": "1", "equity": "1", "usdValue": "60000"},
                 {"coin": "USDT", "walletBalance": "5000", "equity": "4500",
                  "usdValue": "4500.45"}]}]}}}
    wallet, source = wallet_of("bybit", balance, "USDT")
    assert wallet == pytest.approx((62_800.45 + 500) / 1.0001, rel=1e-12)
    assert source.startswith("Bybit UNIFIED margin balance")
    # A classic (CONTRACT) account: the coin's own wallet.
    balance["info"]["result"]["list"][0]["accountType"] = "CONTRACT"
    assert wallet_of("bybit", balance, "USDT") == (5000.0, "Bybit CONTRACT USDT walletBalance")


@pytest.mark.libreoffice
def test_the_workbook_formulas_give_the_same_prices(filled: Path, tmp_path: Path) -> None:
    """The filled workbook recalculated by LibreOffice: its own formulas, not the library."""
    from openpyxl import load_workbook

    from addin.workbook import layout, recalc

    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:  # pragma: no cover - CI installs LibreOffice
        pytest.skip(str(exc))
    (done,) = recalc.recalculate([filled], tmp_path)
    ws = load_workbook(done, data_only=True)[layout.POSITIONS.title]
    table = layout.POSITIONS.table("positions")
    seen = 0
    for row in range(table.first_row, table.first_row + 10):
        def cell(key: str, row: int = row) -> Any:
            return ws.cell(row, table.column_index(key)).value
        if cell("size") in (None, ""):
            break
        key = (cell("exchange"), cell("symbol"), cell("side"))
        if key in EXACT:
            expected, tolerance, why = EXACT[key]
            assert cell("liquidation_price") == pytest.approx(expected, rel=tolerance), why
            assert abs(cell("liquidation_difference")) <= tolerance
            seen += 1
        if key in EXPLAINED:
            assert abs(cell("liquidation_difference")) > 0.001, EXPLAINED[key]
        assert cell("rule") == ("generic" if cell("exchange") not in layout.VENUES
                                else cell("exchange"))
    assert seen == len(EXACT)


# --------------------------------------------------------------------------------------------
# Shapes the replay does not serve: ccxt's own parser on the documented payload.

#: Bybit v5 GET /v5/position/list, classic account linear example as quoted in ccxt
#: bybit.parse_position (https://bybit-exchange.github.io/docs/v5/position): isolated
#: (tradeMode 1), positionBalance = initial margin + fee to close, liqPrice 919.10.
BYBIT_CLASSIC = {
    "positionIdx": 0, "riskId": "11", "symbol": "ETHUSDT", "side": "Buy", "size": "0.10",
    "positionValue": "119.845", "entryPrice": "1198.45", "tradeMode": 1, "autoAddMargin": 0,
    "leverage": "4.2", "positionBalance": "28.58931118", "liqPrice": "919.10",
    "bustPrice": "913.15", "takeProfit": "0.00", "stopLoss": "0.00", "trailingStop": "0.00",
    "unrealisedPnl": "0.083", "createdTime": "1669097244192", "updatedTime": "1669413126190",
    "tpSlMode": "Full", "riskLimitValue": "900000", "activePrice": "0.00",
}


def _bybit_with_market() -> Any:
    exchange = ccxt.bybit()
    exchange.set_markets([{
        "id": "ETHUSDT", "symbol": "ETH/USDT:USDT", "base": "ETH", "quote": "USDT",
        "settle": "USDT", "type": "swap", "spot": False, "margin": False, "swap": True,
        "future": False, "option": False, "contract": True, "linear": True, "inverse": False,
        "contractSize": 1.0, "taker": 0.0006, "maker": 0.0001, "active": True,
        "precision": {"amount": 0.01, "price": 0.05}, "limits": {}, "info": {},
    }])
    return exchange


def test_bybit_classic_isolated_stop_zero_and_mark_from_the_market(tmp_path: Path) -> None:
    exchange = _bybit_with_market()
    position = exchange.parse_position(BYBIT_CLASSIC)
    assert position["marginMode"] is None  # ccxt leaves it empty: read from tradeMode
    assert position["stopLossPrice"] == 0.0  # "0.00" means no stop
    assert position["markPrice"] is None  # this payload has no mark: named, not guessed
    export = {"perprisk_export": 1, "venues": {"bybit": {
        "positions": [position],
        "markets": {"ETH/USDT:USDT": {"symbol": "ETH/USDT:USDT", "linear": True,
                                      "inverse": False, "contractSize": 1.0,
                                      "taker": 0.0006, "settle": "USDT"}},
    }}}
    path = tmp_path / "bybit.json"
    path.write_text(json.dumps(export))
    with pytest.raises(ValueError, match=r"ETH/USDT:USDT \(position 1\): markPrice is missing"):
        load_export(path)
    position["markPrice"] = 1199.28  # entry + uPnL / size: the mark when the payload was taken
    path.write_text(json.dumps(export))
    loaded = load_export(path).positions[0]
    v = loaded.values
    assert v["margin_mode"] == "isolated" and v["stop_price"] is None
    assert v["collateral"] == 28.58931118
    assert loaded.sources["collateral"] == "Bybit positionBalance"
    assert v["fee_rate"] == 0.0006 and loaded.sources["fee_rate"] == "market taker fee"
    from riskfuncs import liquidation_price

    # ccxt derives the rate from the liquidation and bankruptcy prices (0.4965%); risk limit
    # riskId 11 of ETHUSDT is 0.5%: with it, Bybit's fee-to-close rule gives 919.10.
    assert v["maintenance_margin_rate"] == pytest.approx(0.595 / 119.845, rel=1e-6)
    exact = liquidation_price("long", v["entry_price"], v["size"], v["collateral"],
                              exchange="bybit", maintenance_margin_rate=0.005,
                              fee_rate=v["fee_rate"])
    # 919.097: Bybit rounds a long's liquidation price up to the 0.05 tick of ETHUSDT.
    assert exact == pytest.approx(919.10, abs=0.05)
    assert v["exchange_liquidation_price"] == 919.10
    assert not math.isnan(exact)


# --------------------------------------------------------------------------------------------
# Real payloads users and ccxt's source quoted, with the price the exchange reported.

REAL = json.loads((Path(__file__).parents[2] / "reference" / "ccxt" /
                   "real_positions.json").read_text(encoding="utf-8"))["cases"]


def _ccxt_market(venue: str, facts: dict[str, Any]) -> dict[str, Any]:
    """A ccxt market structure from the facts the case states (ccxt's own keys)."""
    kind = facts["type"]
    return {
        "id": facts["id"], "symbol": facts["symbol"], "base": facts["base"],
        "quote": facts["quote"], "settle": facts["settle"], "baseId": facts["base"],
        "quoteId": facts["quote"], "settleId": facts["settle"], "type": kind, "spot": False,
        "margin": False, "swap": kind == "swap", "future": kind == "future", "option": False,
        "contract": True, "linear": facts["linear"], "inverse": not facts["linear"],
        "contractSize": facts["contractSize"], "taker": facts["taker"], "maker": 0.0002,
        "active": True, "precision": {"amount": 1, "price": facts["tick"]}, "limits": {},
        "expiry": None, "expiryDatetime": None, "info": {},
    }


def _parsed(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    exchange = getattr(ccxt, case["venue"])()
    market = _ccxt_market(case["venue"], case["market"])
    exchange.set_markets([market])
    parse = (exchange.parse_position_risk if case["venue"].startswith("binance")
             else exchange.parse_position)
    position = parse(dict(case["position"]))
    if position.get("markPrice") is None and "mark_price" in case:
        position["markPrice"] = case["mark_price"]  # what fetch takes from the ticker
    return position, market


@pytest.fixture(scope="module")
def real_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every real case, parsed by ccxt, in one export, filled into one workbook."""
    venues: dict[str, Any] = {}
    for case in REAL:
        position, market = _parsed(case)
        part = venues.setdefault(case["venue"], {"positions": [], "markets": {}, "tiers": {}})
        part["positions"].append(position)
        part["markets"][market["symbol"]] = market
        if case["tiers"]:
            part["tiers"][market["symbol"]] = case["tiers"]
    folder = tmp_path_factory.mktemp("real-cases")
    export = folder / "export.json"
    export.write_text(json.dumps({"perprisk_export": 1, "venues": venues}))
    book = folder / "book.xlsx"
    assert fill_from_export(export, book) == 0
    return book


def test_real_payloads_reproduce_the_exchange_price(real_book: Path) -> None:
    outcome = assess_file(real_book)
    assert outcome.assessment is not None, outcome.book.problems
    found = {(p.symbol, p.side): p for p in outcome.assessment.positions}
    assert len(found) == len(REAL)
    for case in REAL:
        expected = case["exchange_liquidation_price"]
        position = next(p for p in found.values()
                        if p.exchange_liquidation_price == pytest.approx(expected, rel=1e-12))
        # 0.01% on Binance, 0.1% elsewhere; OKX places its price one tick past the formula's
        # (0.00001 of a 0.0117 price is 0.086%), Gate and Bybit round to the tick.
        tolerance = 1e-4 if case["venue"].startswith("binance") else 1e-3
        assert position.liquidation_price == pytest.approx(expected, rel=tolerance), (
            case["kind"], case["source_url"])
        tick = case["market"]["tick"]
        assert abs(position.liquidation_price - expected) <= 1.0001 * tick, case["kind"]

"""``perprisk fetch`` when an exchange refuses, throttles, fails, hangs or is unreachable: one
line per failure naming the venue and what to do, the other venues still land, exit code 1,
nothing half-written, and no secret anywhere (ccxt's own error text included)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.addin.fetch.conftest import Run, assert_no_secret
from tests.addin.fetch.replay_server import ECHO_KEY, ReplayServer, closed_port

# Error bodies in each exchange's documented error shape; where the key is echoed back, the
# replay puts the caller's real key there.
BINANCE_BAD_KEY = {"code": -2015, "msg": f"Invalid API-key, IP, or permissions for action. "
                                         f"key={ECHO_KEY}"}
BYBIT_NO_PERMISSION = {"retCode": 10005, "retMsg": "Permission denied, please check your API "
                                                   "key permissions.", "result": {},
                       "retExtInfo": {}, "time": 1697684980172}
GATE_RATE_LIMIT = {"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"}
OKX_UNAVAILABLE = {"code": "50001", "msg": "Service temporarily unavailable. Try again later",
                   "data": []}


def assert_clean_failure(run: Run, venue: str, *, what: str, says: str,
                         others: tuple[str, ...]) -> dict[str, Any]:
    """The failing venue is named in one line and marked unread; the others land."""
    assert run.code == 1
    lines = run.error_lines()
    mine = [line for line in lines if line.startswith(f"{venue}: ")]
    assert len(mine) == 1, lines
    assert mine[0].startswith(f"{venue}: {what}"), mine[0]
    assert says in mine[0], mine[0]
    assert len(mine[0]) < 400
    export = run.export()
    data = export["venues"][venue]
    assert data["positions"] is None  # never "no positions"
    assert [e["message"] for e in data["errors"]] == mine
    assert f"{venue}: positions NOT read" in run.out
    for other in others:
        assert export["venues"][other]["errors"] == [], other
        assert export["venues"][other]["positions"], other
    assert_no_secret(run.out, run.err, run.path.read_bytes())
    assert leftovers(run.path.parent) == []
    return data


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or
                  p.name.endswith(".partial"))


def test_bad_key(run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    replay.fault = {"/fapi/v1/leverageBracket": ("status", 401, BINANCE_BAD_KEY),
                    "/fapi/v3/": ("status", 401, BINANCE_BAD_KEY)}
    run = run_fetch("binanceusdm", "bybit")
    assert_clean_failure(run, "binanceusdm", what="positions",
                         says="the exchange refused the API key", others=("bybit",))
    line = run.error_lines()[0]
    assert "PERPRISK_BINANCEUSDM_API_KEY and PERPRISK_BINANCEUSDM_SECRET" in line
    assert "***" in line  # the key the exchange echoed, masked
    # One refusal is enough: the balance is not asked for with the same key.
    assert not replay.requests_to("/fapi/v3/account")


@pytest.mark.parametrize(("venue", "fault", "other"), [
    ("bybit", {"/v5/position/list": ("status", 200, BYBIT_NO_PERMISSION)}, "gate"),
    ("gate", {"/api/v4/futures/usdt/positions": ("status", 403, {
        "label": "FORBIDDEN", "message": "API key has no permission for futures"})}, "bybit"),
])
def test_missing_permission(run_fetch: Any, replay: ReplayServer, keys_env: Any, venue: str,
                            fault: dict[str, Any], other: str) -> None:
    replay.fault = fault
    run = run_fetch(venue, other)
    assert_clean_failure(run, venue, what="positions", says="lacks a permission",
                         others=(other,))
    assert "enable read access" in run.error_lines()[0]


def test_rate_limit_then_success_is_retried(run_fetch: Any, replay: ReplayServer,
                                            keys_env: Any) -> None:
    replay.fault = {"/api/v4/futures/usdt/positions": ("status", 429, GATE_RATE_LIMIT, 2)}
    run = run_fetch("gate")
    assert run.code == 0, run.err
    assert len(replay.requests_to("/api/v4/futures/usdt/positions")) == 3
    assert run.export()["venues"]["gate"]["positions"]


def test_rate_limit_that_does_not_end(run_fetch: Any, replay: ReplayServer,
                                      keys_env: Any) -> None:
    replay.fault = {"/api/v4/futures/usdt/positions": ("status", 429, GATE_RATE_LIMIT)}
    run = run_fetch("gate", "okx")
    assert_clean_failure(run, "gate", what="positions", says="rate limited by the exchange",
                         others=("okx",))
    assert "after 4 attempts; wait a minute and rerun" in run.error_lines()[0]
    assert len(replay.requests_to("/api/v4/futures/usdt/positions")) == 4


def test_exchange_unavailable_5xx(run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    replay.fault = {"/api/v5/account/positions": ("status", 503, OKX_UNAVAILABLE)}
    run = run_fetch("okx", "hyperliquid")
    assert_clean_failure(run, "okx", what="positions", says="the exchange is unavailable "
                         "(HTTP 503", others=("hyperliquid",))
    assert run.error_lines()[0].endswith("rerun later")


def test_timeout(run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    replay.fault = {"/info": "hang"}
    started = time.monotonic()
    run = run_fetch("hyperliquid", "binancecoinm", extra=("--timeout", "1"))
    elapsed = time.monotonic() - started
    data = assert_clean_failure(run, "hyperliquid", what="markets", says="no answer within 1 s",
                                others=("binancecoinm",))
    assert "raise --timeout" in run.error_lines()[0]
    assert data["markets"] == {}
    assert elapsed < 15  # one timeout, then the venue is left alone


def test_venue_down_connection_refused(run_fetch: Any, replay: ReplayServer,
                                       keys_env: Any) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    run = run_fetch("gate", "bybit", extra=("--api-base", f"gate={down}"))
    assert_clean_failure(run, "gate", what="markets", says="cannot reach the exchange",
                         others=("bybit",))
    assert run.error_lines()[0].endswith("check the network and --api-base")
    assert not replay.requests_to("/api/v4/")


def test_connection_closed_without_answer(run_fetch: Any, replay: ReplayServer,
                                          keys_env: Any) -> None:
    replay.fault = {"/api/v5/account/balance": "close"}
    run = run_fetch("okx", "binanceusdm")
    assert run.code == 1
    [line] = run.error_lines()
    assert line.startswith("okx: balance: cannot reach the exchange")
    data = run.export()["venues"]["okx"]
    assert data["positions"]  # read before the balance failed
    assert data["balance"] is None
    assert run.export()["venues"]["binanceusdm"]["errors"] == []
    assert_no_secret(run.out, run.err, run.path.read_bytes())


def test_a_404_on_one_endpoint_does_not_stop_the_venue(run_fetch: Any, replay: ReplayServer,
                                                       keys_env: Any) -> None:
    replay.fault = {"/api/v4/futures/usdt/funding_rate": ("status", 404,
                                                          {"label": "NOT_FOUND"})}
    run = run_fetch("gate")
    assert run.code == 1
    [line] = run.error_lines()
    assert line == ("gate: funding BTC/USDT:USDT: the exchange answered HTTP 404 with an error "
                    "(NOT_FOUND)")
    data = run.export()["venues"]["gate"]
    assert data["positions"] and data["ohlcv"]["BTC/USDT:USDT"]
    assert "BTC/USDT:USDT" not in data["funding"]


def test_every_venue_failing_writes_no_workbook(run_fetch: Any, replay: ReplayServer,
                                                keys_env: Any) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    run = run_fetch("gate", "okx", out="book.xlsx", api_base=False,
                    extra=("--api-base", down))
    assert run.code == 1
    lines = run.error_lines()
    assert [line.split(":")[0] for line in lines[:2]] == ["gate", "okx"]
    assert lines[-1] == f"{run.path}: not written: no exchange's positions could be read"
    assert not run.path.exists()
    assert leftovers(run.path.parent) == []


def test_a_failed_write_leaves_nothing_behind(run_fetch: Any, replay: ReplayServer,
                                              keys_env: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    run = run_fetch("gate")
    assert run.code == 1
    assert run.error_lines() == [f"{run.path}: cannot write the export (No space left on "
                                 "device)"]
    assert not run.path.exists()
    assert leftovers(run.path.parent) == []


def test_an_existing_output_is_kept_without_force(run_fetch: Any, replay: ReplayServer,
                                                  keys_env: Any, tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text("mine")
    run = run_fetch("gate")
    assert run.code == 1
    assert run.error_lines() == [f"{tmp_path / 'export.json'} exists; pass --force to "
                                 "overwrite it"]
    assert (tmp_path / "export.json").read_text() == "mine"
    assert replay.seen == []


def test_a_refused_balance_keeps_the_positions_and_the_market_data(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    replay.fault = {"/v5/account/wallet-balance": ("status", 200, BYBIT_NO_PERMISSION)}
    run = run_fetch("bybit")
    assert run.code == 1
    [line] = run.error_lines()
    assert line.startswith("bybit: balance: the API key lacks a permission")
    data = run.export()["venues"]["bybit"]
    assert data["balance"] is None and len(data["positions"]) == 2
    # Public market data does not need the key: still fetched for every held symbol.
    for part in ("tiers", "funding", "ohlcv"):
        assert set(data[part]) == {"XRP/USDT:USDT", "BTC/USD:BTC"}, part
    assert_no_secret(run.out, run.err, run.path.read_bytes())


def test_binance_without_a_key_fetches_public_data_only(
        run_fetch: Any, replay: ReplayServer, keys_env: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERPRISK_BINANCEUSDM_API_KEY")
    monkeypatch.delenv("PERPRISK_BINANCEUSDM_SECRET")
    run = run_fetch("binanceusdm", extra=("--symbol", "BTC/USDT:USDT"))
    assert run.code == 1
    [line] = run.error_lines()
    assert line == ("binanceusdm: positions need a read-only API key: set "
                    "PERPRISK_BINANCEUSDM_API_KEY and PERPRISK_BINANCEUSDM_SECRET (or "
                    "[binanceusdm] in the key file, --config); leverage brackets need it too; "
                    "funding and prices do not (--symbol)")
    data = run.export()["venues"]["binanceusdm"]
    assert data["positions"] is None and data["tiers"] == {}
    assert data["funding"]["BTC/USDT:USDT"] and data["ohlcv"]["BTC/USDT:USDT"]
    assert not replay.requests_to("/fapi/v1/leverageBracket")
    assert all("signature" not in s.query for s in replay.seen)


@pytest.mark.parametrize(("fault", "says"), [
    (("status", 400, {"code": -1021, "msg": "Timestamp for this request is outside of the "
                                            "recvWindow."}),
     "the exchange refused the request's time stamp (-1021: Timestamp for this request is "
     "outside of the recvWindow.); set the computer's clock right"),
    (("status", 403, "<html>403 Forbidden</html>"),
     "the exchange answered HTTP 403 (GET http://127.0.0.1"),
])
def test_clock_and_region_refusals(run_fetch: Any, replay: ReplayServer, keys_env: Any,
                                   fault: tuple[Any, ...], says: str) -> None:
    replay.fault = {"/dapi/v2/leverageBracket": fault}
    run = run_fetch("binancecoinm")
    assert run.code == 1
    [line] = run.error_lines()
    assert line.startswith(f"binancecoinm: positions: {says}"), line
    if "403" in says:
        assert line.endswith("access refused from this network (a restricted region, or the "
                             "key's IP whitelist)")

"""``perprisk watch`` end to end on loopback: the replayed exchange driven through a price path,
a webhook receiver recording what arrives, state across restarts, faults."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from addin.cli import main
from addin.watch.levels import Observation, Thresholds, level_for, transitions
from tests.addin.fetch.conftest import FAKE_KEYS
from tests.addin.fetch.conftest import replay_server as replay_server  # the session's server
from tests.addin.fetch.replay_server import ReplayServer, closed_port
from tests.addin.mail.smtp_fixtures import test_ca as test_ca  # the session's test CA

# --------------------------------------------------------------------------------------------
# Levels


def test_hysteresis_and_levels() -> None:
    t = Thresholds(red=0.10, amber=0.20, hysteresis=0.01)
    assert level_for(0.09, "green", t) == "red"
    assert level_for(0.105, "red", t) == "red"  # inside the band: still red
    assert level_for(0.111, "red", t) == "amber"
    assert level_for(0.205, "amber", t) == "amber"
    assert level_for(0.25, "red", t) == "green"
    assert level_for(float("inf"), "amber", t) == "green"
    assert level_for(float("nan"), "amber", t) == "amber"  # no figure: nothing changes
    with pytest.raises(ValueError, match="0 < red < amber"):
        Thresholds(red=0.3, amber=0.2).check()


def test_a_wobble_at_a_threshold_sends_one_alert() -> None:
    t = Thresholds(red=0.10, amber=0.20, hysteresis=0.01, cooldown=0)
    levels: dict[str, str] = {}
    sent: list[str] = []
    for distance in (0.30, 0.099, 0.101, 0.0995, 0.104, 0.098, 0.25, 0.24):
        levels, events = transitions([Observation("k", "BTC long", distance)], levels, {}, t,
                                     now=0.0)
        sent += [e.level for e in events]
    assert sent == ["red", "green"]


def test_cooldown_holds_back_a_repeat_of_the_same_alert() -> None:
    t = Thresholds(hysteresis=0.0, cooldown=600)
    obs = [Observation("k", "BTC long", 0.05)]
    _, events = transitions(obs, {"k": "amber"}, {"k": ("red", 1000.0)}, t, now=1300.0)
    assert events == []  # red went out 300 s ago
    _, events = transitions(obs, {"k": "amber"}, {"k": ("red", 1000.0)}, t, now=1700.0)
    assert [e.level for e in events] == ["red"]


# --------------------------------------------------------------------------------------------
# End to end


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every JSON body; ``fail`` answers 500."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(body)
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def position(replay_server: ReplayServer) -> Iterator[dict[str, Any]]:
    """The replayed Binance USD-M BTC long (liquidation 5,930.78): tests set its mark."""
    route = next(r for r in replay_server.routes if r.file == "binanceusdm/positionRisk.json")
    original = json.dumps(route.response)
    replay_server.reset()
    yield route.response[0]
    route.response = json.loads(original)
    replay_server.reset()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PERPRISK_"):
            monkeypatch.delenv(name)
    # Beside the test's folder, not in it: libraries (matplotlib) create their config there.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path.parent / f"{tmp_path.name}-config"))
    for suffix, value in FAKE_KEYS["binanceusdm"].items():
        monkeypatch.setenv(f"PERPRISK_BINANCEUSDM_{suffix}", value)


def _tick(replay: ReplayServer, receiver: Receiver, state: Path, *extra: str,
          api_base: str | None = None) -> int:
    return main(["watch", "--once", "--quiet", "--exchange", "binanceusdm", "--timeout", "5",
                 "--api-base", api_base or replay.url, "--webhook", receiver.url,
                 "--state", str(state), "--cooldown", "0", *extra])


def _mark_for(distance: float) -> float:
    return 5930.78 / (1 - distance)  # distance = (mark - liquidation) / mark


def test_a_price_path_sends_each_crossing_once_across_restarts(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path) -> None:
    state = tmp_path / "watch.sqlite"
    path = [0.25, 0.15, 0.15, 0.08, 0.105, 0.09, 0.12, 0.215, 0.30]
    for distance in path:
        position["markPrice"] = f"{_mark_for(distance):.8f}"
        # A fresh State each tick: everything it knows comes from the SQLite file.
        assert _tick(replay_server, receiver, state) == 0
    got = [(b["key"], b["level"], b["previous"]) for b in receiver.bodies]
    key = "binance|BTC/USDT:USDT|long"
    assert got == [
        (key, "amber", "green"),  # 15%
        (key, "red", "amber"),  # 8%; 10.5% stays red inside the band, 9% is no news
        (key, "amber", "red"),  # 12% clears 10% + 1%
        (key, "green", "amber"),  # 21.5% clears 20% + 1%: all clear
    ]
    assert len({b["id"] for b in receiver.bodies}) == len(receiver.bodies)
    assert receiver.bodies[-1]["subject"] == "perprisk all clear: BTC/USDT:USDT long (binance)"
    assert "from liquidation" in receiver.bodies[1]["text"]


def test_a_failed_webhook_is_retried_next_tick_and_a_dead_venue_is_an_alert(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "watch.sqlite"
    position["markPrice"] = f"{_mark_for(0.05):.8f}"
    receiver.fail = 1
    assert _tick(replay_server, receiver, state) == 1  # red, but the webhook said 500
    assert receiver.bodies == []
    assert "HTTP 500" in capsys.readouterr().err
    assert _tick(replay_server, receiver, state) == 0  # delivered now, exactly once
    assert [b["level"] for b in receiver.bodies] == ["red"]
    # The exchange goes away: its data is an alert of its own, never an all clear.
    down = f"http://127.0.0.1:{closed_port()}"
    assert _tick(replay_server, receiver, state, api_base=down) == 1
    assert receiver.bodies[-1]["key"] == "venue|binanceusdm"
    assert receiver.bodies[-1]["level"] == "red"
    assert "not read" in receiver.bodies[-1]["text"]
    assert len(receiver.bodies) == 2  # the position keeps its last level: nothing cleared
    # Back again: the venue clears; the position, still red, sends nothing new.
    assert _tick(replay_server, receiver, state) == 0
    assert [(b["key"], b["level"]) for b in receiver.bodies[2:]] == [
        ("venue|binanceusdm", "green")]


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["watch", "--once", "--exchange", "binanceusdm", "--state",
                 str(tmp_path / "s.sqlite")]) == 2
    assert "give at least one --webhook or --email-to" in capsys.readouterr().err
    assert main(["watch", "--once", "--exchange", "binanceusdm", "--webhook", "teams=http://x",
                 "--state", str(tmp_path / "s.sqlite")]) == 2
    assert "the kind must be json, slack, discord or telegram" in capsys.readouterr().err


def test_slack_telegram_and_email_channels(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_ca: Any) -> None:
    from tests.addin.mail.smtp_fixtures import PASSWORD, USER, start_server

    smtp = start_server(test_ca)
    try:
        monkeypatch.setenv("PERPRISK_SMTP_PASSWORD", PASSWORD)
        position["markPrice"] = f"{_mark_for(0.05):.8f}"
        telegram = receiver.url.replace("/hook", "/botTOKEN123/sendMessage?chat_id=42")
        code = main(["watch", "--once", "--quiet", "--exchange", "binanceusdm",
                     "--api-base", replay_server.url, "--state", str(tmp_path / "s.sqlite"),
                     "--webhook", f"slack={receiver.url}", "--webhook", f"telegram={telegram}",
                     "--email-to", "desk@example.com", "--smtp-host", "127.0.0.1",
                     "--smtp-port", str(smtp.port), "--user", USER,
                     "--cafile", str(smtp.ca.ca_cert)])
        assert code == 0
        slack, tg = receiver.bodies
        assert slack["text"].startswith("\U0001f534 perprisk RED: BTC/USDT:USDT long (binance)")
        assert tg == {"chat_id": "42", "text": slack["text"]}
        (envelope,) = smtp.sink.envelopes
        assert envelope.rcpt_tos == ["desk@example.com"]
        assert b"Subject: perprisk RED: BTC/USDT:USDT long (binance)" in envelope.content
    finally:
        smtp.controller.stop()


def test_a_funding_spike_against_the_position_is_an_alert(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path) -> None:
    route = next(r for r in replay_server.routes if r.file == "binanceusdm/fundingRate.json")
    original = json.dumps(route.response)
    try:
        state = tmp_path / "watch.sqlite"
        position["markPrice"] = f"{_mark_for(0.30):.8f}"  # far from liquidation: green
        assert _tick(replay_server, receiver, state) == 0
        assert receiver.bodies == []  # the recorded rates (last +0.01%) charge the long little
        route.response[-1]["fundingRate"] = "0.00300000"  # 0.3% per interval, longs pay
        assert _tick(replay_server, receiver, state) == 0
        (alert,) = receiver.bodies
        assert alert["key"] == "binance|BTC/USDT:USDT|long|funding"
        assert alert["level"] == "amber" and "+0.3000% per interval, against" in alert["text"]
    finally:
        route.response = json.loads(original)


def test_stop_beyond_liquidation_and_venue_share_checks(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from addin.watch.commands import Watch, _stop_check

    long = SimpleNamespace(stop_price=5_900.0, liquidation_price=5_930.78, side="long")
    assert _stop_check("k", "BTC long", long).forced == "amber"
    long.stop_price = 6_000.0
    assert _stop_check("k", "BTC long", long).forced == "green"
    short = SimpleNamespace(stop_price=3_300.0, liquidation_price=3_200.0, side="short")
    assert _stop_check("k", "ETH short", short).forced == "amber"
    watch = Watch([], {}, None, Thresholds(), [], None, venue_limit=0.5)  # type: ignore[arg-type]

    def venue(margin: float) -> dict[str, Any]:
        return {"positions": [{"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1.0,
                               "entryPrice": 60_000.0, "markPrice": 60_000.0,
                               "positionMargin": margin, "marginMode": "isolated",
                               "maintenanceMarginPercentage": 0.005}]}
    from addin.reader.exchange_data import load_export

    export = tmp_path / "export.json"
    export.write_text(json.dumps({"perprisk_export": 1, "venues": {
        "binanceusdm": venue(7_000.0), "bybit": venue(3_000.0)}}))
    shares = watch._venue_shares(load_export(export))
    by_key = {o.key: o for o in shares}
    assert by_key["share|binance"].forced == "amber" and "70%" in by_key["share|binance"].detail
    assert by_key["share|bybit"].forced == "green"


def test_a_daily_summary_goes_out_once_a_day(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path) -> None:
    state = tmp_path / "watch.sqlite"
    position["markPrice"] = f"{_mark_for(0.15):.8f}"
    for _ in range(2):  # two ticks after the summary time: one summary
        _tick(replay_server, receiver, state, "--summary-at", "00:00")
    summaries = [b for b in receiver.bodies if b["key"].startswith("summary|")]
    assert len(summaries) == 1
    assert summaries[0]["level"] == "amber"
    assert summaries[0]["text"].startswith("0 red, 1 amber")
    assert "amber BTC/USDT:USDT long (binance)" in summaries[0]["text"]


def test_a_high_chance_of_liquidation_within_a_day_is_an_alert(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path) -> None:
    route = next(r for r in replay_server.routes if r.file == "binanceusdm/klines.json")
    original = json.dumps(route.response)
    try:
        state = tmp_path / "watch.sqlite"
        position["markPrice"] = f"{_mark_for(0.25):.8f}"  # 25% from liquidation: green
        assert _tick(replay_server, receiver, state) == 0
        assert receiver.bodies == []  # one recorded close: no volatility, no verdict
        # 60 daily closes swinging 25% a day: about 480% a year, so 25% can go in a day.
        day = 86_400_000
        route.response = [[1_700_000_000_000 + i * day, "1", "1", "1",
                           f"{6_000 * (1.25 if i % 2 else 1.0):.2f}", "1", 0, "0", 1, "0", "0",
                           "0"] for i in range(60)]
        assert _tick(replay_server, receiver, state) == 0
        (alert,) = receiver.bodies
        assert alert["key"] == "binance|BTC/USDT:USDT|long|probability"
        assert alert["level"] == "amber" and "within a day" in alert["text"]
    finally:
        route.response = json.loads(original)


def test_kill_9_mid_delivery_then_restart_sends_one_alert_id(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    state = tmp_path / "watch.sqlite"
    position["markPrice"] = f"{_mark_for(0.05):.8f}"  # red
    arrived = threading.Event()
    release = threading.Event()
    handler_class = receiver.server.RequestHandlerClass
    original_post = handler_class.do_POST  # type: ignore[attr-defined]

    def slow_post(self: Any) -> None:
        arrived.set()
        release.wait(10)  # hold the answer: the watch is killed while it waits
        original_post(self)

    handler_class.do_POST = slow_post  # type: ignore[attr-defined]
    argv = ["watch", "--once", "--quiet", "--exchange", "binanceusdm", "--timeout", "5",
            "--api-base", replay_server.url, "--webhook", receiver.url, "--state", str(state)]
    code = f"import sys; from addin.cli import main; sys.exit(main({argv!r}))"
    child = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
    try:
        assert arrived.wait(60), "the watch never posted"
        child.send_signal(signal.SIGKILL)  # kill -9 with the alert in flight
        child.wait(10)
    finally:
        release.set()
        child.kill()
    time.sleep(0.2)
    handler_class.do_POST = original_post  # type: ignore[attr-defined]
    # The first POST was answered after the kill: the receiver may or may not have it. A
    # restart re-sends what was not marked sent, with the same id; a third run sends nothing.
    assert _tick(replay_server, receiver, state) == 0
    assert _tick(replay_server, receiver, state) == 0
    ids = [b["id"] for b in receiver.bodies]
    assert 1 <= len(ids) <= 2 and len(set(ids)) == 1, ids
    assert receiver.bodies[-1]["level"] == "red"


def test_the_account_maintenance_ratio_the_exchange_reports_is_an_alert(
        replay_server: ReplayServer, receiver: Receiver, keys: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix, value in FAKE_KEYS["bybit"].items():
        monkeypatch.setenv(f"PERPRISK_BYBIT_{suffix}", value)
    route = next(r for r in replay_server.routes if r.file == "bybit/wallet_balance.json")
    original = json.dumps(route.response)
    state = tmp_path / "watch.sqlite"

    def tick() -> int:
        return main(["watch", "--once", "--quiet", "--exchange", "bybit", "--timeout", "5",
                     "--api-base", replay_server.url, "--webhook", receiver.url,
                     "--state", str(state), "--cooldown", "0"])

    try:
        tick()  # the recorded unified account: Account MM Rate 0
        assert not [b for b in receiver.bodies if b["key"] == "account|bybit"]
        route.response["result"]["list"][0]["accountMMRate"] = "0.85"
        tick()
        (alert,) = [b for b in receiver.bodies if b["key"] == "account|bybit"]
        assert alert["level"] == "red" and "maintenance at 85% of the margin balance" in (
            alert["text"])
    finally:
        route.response = json.loads(original)


def test_account_ratios_from_each_venue_s_payload() -> None:
    from addin.watch.commands import _account_ratio

    assert _account_ratio("binanceusdm", {"totalMaintMargin": "50",
                                          "totalMarginBalance": "100"}) == 0.5
    assert _account_ratio("okx", {"data": [{"mgnRatio": "4"}]}) == 0.25
    assert _account_ratio("gate", {"total": "1"}) is None


# --------------------------------------------------------------------------------------------
# What a person sees each tick


def _shown_tick(replay: ReplayServer, receiver: Receiver, state: Path, *extra: str,
                api_base: str | None = None) -> int:
    return main(["watch", "--once", "--exchange", "binanceusdm", "--timeout", "5",
                 "--api-base", api_base or replay.url, "--webhook", receiver.url,
                 "--state", str(state), "--cooldown", "0", *extra])


def test_piped_output_is_the_plain_table(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    position["markPrice"] = f"{_mark_for(0.05):.8f}"  # red
    assert _shown_tick(replay_server, receiver, tmp_path / "s.sqlite") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  \d+ watched", lines[0])
    assert f"  red    {'BTC/USDT:USDT long (binance)':<40}     5.0%" in lines
    assert "  green  binanceusdm data" in out
    assert "\x1b" not in out and "Alerts sent" not in out  # no terminal codes in a log


def test_on_a_terminal_the_live_view_shows_the_tick_and_what_was_sent(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    state = tmp_path / "s.sqlite"
    position["markPrice"] = f"{_mark_for(0.05):.8f}"  # red
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setenv("COLUMNS", "200")
    assert _shown_tick(replay_server, receiver, state) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "RED" in text and "BTC/USDT:USDT long (binance)" in text and "5.0%" in text
    venue = next(line for line in text.splitlines() if "binanceusdm" in line)
    assert "read" in venue and re.search(r"\d\d:\d\d:\d\d", venue) and " 0s " in venue
    sent = text[text.index("Alerts sent this tick"):]
    assert "perprisk RED: BTC/USDT:USDT long (binance)" in sent and "1 delivered" in sent
    assert [b["level"] for b in receiver.bodies] == ["red"]
    # The venue goes away: not read, with when it last answered (kept in the state file).
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    assert _shown_tick(replay_server, receiver, state,
                       api_base=f"http://127.0.0.1:{closed_port()}") == 1
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    venue = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("binanceusdm"))
    assert "NOT READ" in venue and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", venue)
    held = next(line for line in text.splitlines() if "BTC/USDT:USDT long (binance)" in line)
    assert "RED" in held and "not read" in held  # its last level, until the venue answers
    assert "perprisk RED: binanceusdm data" in text[text.index("Alerts sent this tick"):]


def test_without_rich_a_terminal_gets_the_plain_table(
        replay_server: ReplayServer, position: dict[str, Any], receiver: Receiver,
        keys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from addin.watch import view

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(view, "rich_available", lambda: False)
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    position["markPrice"] = f"{_mark_for(0.15):.8f}"  # amber
    assert _shown_tick(replay_server, receiver, tmp_path / "s.sqlite") == 0
    lines = screen.getvalue().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  \d+ watched", lines[0])
    assert f"  amber  {'BTC/USDT:USDT long (binance)':<40}    15.0%" in lines
    assert "\x1b" not in screen.getvalue()

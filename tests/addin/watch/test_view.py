"""The live view of ``perprisk watch``: one known tick rendered to a recording console, the
in-place refresh on a terminal, and the plain table wherever there is no terminal."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from typing import Any

import pytest

from addin.watch import view as view_module
from addin.watch.levels import Event, Observation
from addin.watch.view import LiveView, PlainView, make_view, render, snapshot

#: The live view's tests need rich; the plain table's do not (it is what runs without rich).
needs_rich = pytest.mark.skipif(not view_module.rich_available(), reason="rich not installed")

NOW = dt.datetime(2026, 12, 1, 14, 30, 0, tzinfo=dt.UTC)
BTC = "binance|BTC/USDT:USDT|long"
ETH = "bybit|ETH/USDT:USDT|short"


def known_tick() -> Any:
    """Two venues, one read now and one last read 5 min 7 s ago; a red BTC long whose stop is
    past its liquidation price, a green ETH short; two alerts, one still waiting for a
    channel."""
    observations = [
        Observation("venue|binanceusdm", "binanceusdm data", None, "answering again",
                    forced="green"),
        Observation("venue|bybit", "bybit data", None, "positions not read: timed out (the "
                    "last known levels stay until it answers)", forced="red"),
        Observation(BTC, "BTC/USDT:USDT long (binance)", 0.0800,
                    "mark 6,446.5, liquidation 5,930.78"),
        Observation(BTC + "|stop", "stop-loss of BTC/USDT:USDT long (binance)", None,
                    "stop 5,900 is past the liquidation price 5,930.78: the exchange "
                    "liquidates first", forced="amber"),
        Observation(ETH, "ETH/USDT:USDT short (bybit)", 0.3512, "mark 3,100, liquidation 4,188.7"),
        Observation(ETH + "|funding", "funding on ETH/USDT:USDT short (bybit)", None,
                    "latest rate +0.0100% per interval, for the position", forced="green"),
        Observation("account|binanceusdm", "binanceusdm account", None, "maintenance at 85%",
                    forced="red", figure=0.853),
        Observation("share|binance", "exposure on binance", None, "62% of the equity",
                    forced="amber", figure=0.62),
        Observation("share|bybit", "exposure on bybit", None, "38% of the equity",
                    forced="green", figure=0.38),
    ]
    levels = {BTC: "red", BTC + "|stop": "amber", ETH: "green", ETH + "|funding": "green",
              "venue|binanceusdm": "green", "venue|bybit": "red", "account|binanceusdm": "red",
              "share|binance": "amber", "share|bybit": "green"}
    red = Event(BTC, "BTC/USDT:USDT long (binance)", "red", "amber",
                "8.0% from liquidation; mark 6,446.5, liquidation 5,930.78")
    down = Event("venue|bybit", "bybit data", "red", "green", "positions not read: timed out")
    sent = [(red, "json:127.0.0.1#aa", True), (red, "email:desk@example.com", True),
            (down, "json:127.0.0.1#aa", True), (down, "email:desk@example.com", False)]
    reads = {"binanceusdm": NOW.timestamp(), "bybit": NOW.timestamp() - 307}
    return snapshot(NOW, observations, levels, last_reads=reads, sent=sent, interval=60)


def recorded(renderable: Any) -> Any:
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor",
                      file=io.StringIO())
    console.print(renderable)
    return console


@needs_rich
def test_a_known_tick_shows_levels_distances_venues_and_the_alerts_sent() -> None:
    snap = known_tick()
    console = recorded(render(snap))
    text = console.export_text(clear=False)
    lines = text.splitlines()
    assert lines[0].startswith("perprisk watch  last tick 2026-12-01 14:30:00 UTC  every 60s")
    assert "1 red  0 amber  1 green" in lines[0]
    # The red position comes first, with its distance and the check that is not green.
    btc = next(i for i, line in enumerate(lines) if "BTC/USDT:USDT long (binance)" in line)
    eth = next(i for i, line in enumerate(lines) if "ETH/USDT:USDT short (bybit)" in line)
    assert btc < eth
    assert "RED" in lines[btc] and "8.0%" in lines[btc]
    assert "AMBER stop-loss of BTC/USDT:USDT long (binance)" in lines[btc]
    assert "GREEN" in lines[eth] and "35.1%" in lines[eth] and "all green" in lines[eth]
    # Venues: read now (age 0 s), not read (last read 5 min 7 s ago), the account ratio, shares.
    binance = next(line for line in lines if line.lstrip("│ ").startswith("binanceusdm"))
    assert "read" in binance and "2026-12-01 14:30:00" in binance and " 0s " in binance
    assert "85.3%" in binance and "62%" in binance
    bybit = next(line for line in lines if line.lstrip("│ ").startswith("bybit "))
    assert "NOT READ" in bybit and "2026-12-01 14:24:53" in bybit and "5m 07s" in bybit
    assert "38%" in bybit
    assert "bybit: positions not read: timed out" in text
    # The alerts this tick handed over: one per event, with how many channels took it.
    sent = text[text.index("Alerts sent this tick"):]
    assert "perprisk RED: BTC/USDT:USDT long (binance)" in sent
    assert "2 delivered" in sent and "1 delivered, 1 waiting" in sent


@needs_rich
def test_levels_are_coloured() -> None:
    from rich.text import Text

    from addin.watch.view import FIGURES, STYLES

    styled = recorded(render(known_tick())).export_text(styles=True)

    def shown(word: str, level: str, styles: Mapping[str, str] = STYLES) -> bool:
        code = recorded(Text("X", style=styles[level])).export_text(styles=True).split("X")[0]
        return re.search(re.escape(code) + r"\s*" + re.escape(word), styled) is not None

    # Red on a red background, amber orange, green green: each level word in its colour, each
    # figure in its level's colour.
    assert recorded(Text("X", style=STYLES["red"])).export_text(styles=True).startswith(
        "\x1b[1;37;41m")
    assert shown("RED", "red") and shown("8.0%", "red", FIGURES)
    assert shown("AMBER", "amber") and shown("GREEN", "green") and shown("35.1%", "green")
    assert shown("NOT READ", "red")  # the venue that did not answer
    assert shown("85.3%", "red", FIGURES) and shown("62%", "amber", FIGURES)
    assert not shown("AMBER", "red")


@needs_rich
def test_a_quiet_tick_says_no_alert_was_sent() -> None:
    snap = snapshot(NOW, [Observation(BTC, "BTC/USDT:USDT long (binance)", float("inf"))],
                    {BTC: "green"})
    text = recorded(render(snap)).export_text()
    assert "never" in text and "Alerts sent this tick: none" in text


@needs_rich
def test_positions_of_a_venue_not_read_keep_their_last_level() -> None:
    observations = [
        Observation("venue|binanceusdm", "binanceusdm data", None, "answering again",
                    forced="green"),
        Observation("venue|bybit", "bybit data", None, "positions not read: timed out",
                    forced="red"),
        Observation(BTC, "BTC/USDT:USDT long (binance)", 0.30, "mark 8,500, liquidation 5,950"),
    ]
    levels = {BTC: "green", "venue|binanceusdm": "green", "venue|bybit": "red"}
    known = {**levels, ETH: "red", ETH + "|funding": "amber",
             "binance|SOL/USDT:USDT|long": "amber"}  # SOL: closed on a venue that answered
    snap = snapshot(NOW, observations, levels, known=known)
    assert [(p.label, p.level) for p in snap.positions] == [
        ("ETH/USDT:USDT short (bybit)", "red"), ("BTC/USDT:USDT long (binance)", "green")]
    assert snap.counts == {"red": 1, "amber": 0, "green": 1}
    text = recorded(render(snap)).export_text()
    eth = next(line for line in text.splitlines() if "ETH/USDT:USDT short (bybit)" in line)
    assert "RED" in eth and "not read" in eth and "last known level: bybit not read" in eth
    assert "all green" not in eth  # its other checks are not known this tick either
    assert "SOL" not in text


@needs_rich
def test_live_view_redraws_in_place_on_a_terminal() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system="standard")
    live = LiveView(console)
    live.show(known_tick())
    first = out.getvalue()
    live.show(snapshot(NOW + dt.timedelta(seconds=60), [
        Observation(BTC, "BTC/USDT:USDT long (binance)", 0.2500)], {BTC: "green"}))
    live.close()
    second = out.getvalue()[len(first):]
    # The second tick moves the cursor back up over the first and erases it: one view.
    assert "\x1b[2K" in second and "\x1b[1A" in second
    assert "25.0%" in second and "14:31:00" in second


def test_the_plain_table_where_there_is_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(make_view(stream=io.StringIO()), PlainView)  # piped or logged
    assert isinstance(make_view(stream=Terminal(), plain=True), PlainView)  # --plain
    if view_module.rich_available():
        assert isinstance(make_view(stream=Terminal()), LiveView)
    monkeypatch.setattr(view_module, "rich_available", lambda: False)  # rich not installed
    assert isinstance(make_view(stream=Terminal()), PlainView)
    out = io.StringIO()
    PlainView(out).show(known_tick())
    lines = out.getvalue().splitlines()
    assert lines[0] == "2026-12-01 14:30:00 UTC  9 watched"
    assert lines[3] == f"  red    {'BTC/USDT:USDT long (binance)':<40}     8.0%"
    assert "\x1b" not in out.getvalue()


def test_rich_missing_is_seen_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_rich(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "rich" or name.startswith("rich."):
            raise ImportError("No module named 'rich'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rich)
    assert view_module.rich_available() is False

"""What ``perprisk watch`` shows on each tick: a live terminal view, or the plain per-tick table.

On a terminal the view redraws in place (rich's ``Live``): each position's level in its colour
(red, amber, green), its distance to liquidation and the other checks that are not green; per
venue whether its data was read, the last time it was, how old the data is, the account's own
maintenance ratio and the venue's share of the equity; and the alerts this tick delivered (or
left waiting). When standard output is not a terminal, ``--plain`` is given, or rich is not
installed, each tick prints the plain table instead, a few lines a log file keeps.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from addin.watch.levels import RANK, Event, Observation

__all__ = ["LiveView", "PlainView", "PositionLine", "SentLine", "Snapshot", "VenueLine",
           "View", "make_view", "rich_available", "snapshot"]

#: Colours of the levels in the live view (amber is orange, as the webhooks' markers).
STYLES: Mapping[str, str] = {"red": "bold white on red", "amber": "bold dark_orange",
                             "green": "green"}
#: Colours of the figures (a distance, a ratio) in their level's colour, without the badge.
FIGURES: Mapping[str, str] = {"red": "bold red", "amber": "bold dark_orange", "green": "green"}


@dataclass(frozen=True)
class PositionLine:
    """One position: its level from the distance, and its other checks that are not green."""

    label: str
    exchange: str
    level: str
    distance: float
    detail: str
    checks: tuple[tuple[str, str, str], ...]  # (check, level, detail)


@dataclass(frozen=True)
class VenueLine:
    """One venue on this tick: read or not, when it last was, the account ratio, the share."""

    venue: str
    read: bool | None  # None: not fetched (a venue only seen through its positions)
    last_read: dt.datetime | None
    age_seconds: float | None
    account_ratio: float | None
    account_level: str | None
    share: float | None
    share_level: str | None
    detail: str


@dataclass(frozen=True)
class SentLine:
    """An alert this tick handed to the channels: how many took it, how many wait."""

    level: str
    subject: str
    text: str
    delivered: int
    waiting: int


@dataclass(frozen=True)
class Snapshot:
    """Everything one tick shows."""

    now: dt.datetime
    observations: tuple[Observation, ...]
    levels: Mapping[str, str]
    positions: tuple[PositionLine, ...]
    venues: tuple[VenueLine, ...]
    sent: tuple[SentLine, ...]
    others: tuple[tuple[str, str, str], ...]  # (label, level, detail): e.g. the assessment
    interval: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {level: sum(1 for p in self.positions if p.level == level)
                for level in ("red", "amber", "green")}


def _venue_of(key: str) -> str:
    return key.split("|", 1)[1] if "|" in key else key


def snapshot(now: dt.datetime, observations: Sequence[Observation], levels: Mapping[str, str],
             *, last_reads: Mapping[str, float] | None = None,
             sent: Sequence[tuple[Event, str, bool]] = (),
             interval: float | None = None,
             known: Mapping[str, str] | None = None) -> Snapshot:
    """The view of one tick.

    ``last_reads``: per ccxt venue id, the time (seconds) its positions were last read, this
    tick included. ``sent``: (event, channel, delivered) for every hand-over this tick.
    ``known``: the last level of every key the state remembers: the positions of a venue not
    read this tick are shown with it (they keep it until the venue answers).
    """
    from riskfuncs.venues import venue_name

    reads = dict(last_reads or {})
    positions: list[PositionLine] = []
    for obs in observations:
        if obs.distance is None:
            continue
        prefix = obs.key + "|"
        checks = tuple((o.label, levels.get(o.key, "green"), o.detail) for o in observations
                       if o.key.startswith(prefix) and levels.get(o.key, "green") != "green")
        exchange = obs.key.split("|", 1)[0]
        positions.append(PositionLine(obs.label, exchange, levels.get(obs.key, "green"),
                                      obs.distance, obs.detail, checks))
    unread = {venue_name(o.key.split("|", 1)[1]) for o in observations
              if o.key.startswith("venue|") and o.forced == "red"}
    seen = {o.key for o in observations}
    for key, kept in (known or {}).items():
        parts = key.split("|")
        if len(parts) == 3 and parts[0] in unread and key not in seen:
            exchange, symbol, side = parts
            positions.append(PositionLine(f"{symbol} {side} ({exchange})", exchange, kept,
                                          math.nan, f"last known level: {exchange} not read "
                                          "this tick", ()))
    positions.sort(key=lambda p: (-RANK[p.level], p.distance if not math.isnan(p.distance)
                                  else math.inf, p.label))

    venues: dict[str, dict[str, Any]] = {}

    def venue(name: str) -> dict[str, Any]:
        return venues.setdefault(name, {"read": None, "ratio": None, "ratio_level": None,
                                        "share": None, "share_level": None, "detail": ""})

    for obs in observations:
        kind = obs.key.split("|", 1)[0]
        if kind == "venue":
            v = venue(_venue_of(obs.key))
            v["read"] = obs.forced != "red"
            v["detail"] = "" if v["read"] else obs.detail
        elif kind == "account":
            v = venue(_venue_of(obs.key))
            v["ratio"], v["ratio_level"] = obs.figure, levels.get(obs.key)
    for obs in observations:  # shares are per venue name (Binance USD-M and COIN-M: one)
        if obs.key.startswith("share|"):
            for ccxt_id, v in venues.items():
                if venue_name(ccxt_id) == _venue_of(obs.key):
                    v["share"], v["share_level"] = obs.figure, levels.get(obs.key)
    lines = []
    for name, v in venues.items():
        last = reads.get(name)
        lines.append(VenueLine(
            name, v["read"], None if last is None else dt.datetime.fromtimestamp(last, dt.UTC),
            None if last is None else max(0.0, now.timestamp() - last), v["ratio"],
            v["ratio_level"], v["share"], v["share_level"], v["detail"]))

    grouped: dict[tuple[str, str], list[bool]] = {}
    events: dict[tuple[str, str], Event] = {}
    for event, _channel, delivered in sent:
        grouped.setdefault((event.key, event.level), []).append(delivered)
        events[(event.key, event.level)] = event
    sent_lines = tuple(SentLine(events[k].level, events[k].subject, events[k].text, sum(flags),
                                len(flags) - sum(flags)) for k, flags in grouped.items())
    grouped_kinds = {"venue", "account", "share"}
    position_keys = tuple(o.key + "|" for o in observations if o.distance is not None)
    others = tuple((o.label, levels.get(o.key, "green"), o.detail) for o in observations
                   if o.distance is None and o.key.split("|", 1)[0] not in grouped_kinds
                   and not o.key.startswith(position_keys))
    return Snapshot(now, tuple(observations), dict(levels), tuple(positions), tuple(lines),
                    sent_lines, others, interval)


# --------------------------------------------------------------------------------------------
# Text pieces


def distance_text(distance: float) -> str:
    """A distance to liquidation as the view shows it.

    >>> distance_text(0.1234), distance_text(float("inf")), distance_text(0.0)
    ('12.3%', 'never', 'reached')
    >>> distance_text(float("nan"))  # a position of a venue that did not answer
    'not read'
    """
    if math.isnan(distance):
        return "not read"
    if math.isinf(distance):
        return "never"
    if distance <= 0:
        return "reached"
    return f"{distance:.1%}"


def age_text(seconds: float | None) -> str:
    """An age in the largest unit that keeps it short.

    >>> age_text(4), age_text(125), age_text(7_300), age_text(200_000), age_text(None)
    ('4s', '2m 05s', '2h 01m', '2d 07h', '-')
    """
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86_400}d {s % 86_400 // 3600:02d}h"


def rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def render(snap: Snapshot) -> Any:
    """The live view of one tick as a rich renderable (rich must be installed)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    def level(name: str | None) -> Text:
        return Text(name.upper() if name else "-", style=STYLES.get(name or "", ""))

    counts = snap.counts
    head = Text.assemble(
        ("perprisk watch", "bold"), f"  last tick {snap.now:%Y-%m-%d %H:%M:%S} UTC",
        (f"  every {snap.interval:g}s" if snap.interval else ""), "   ",
        (f"{counts['red']} red", STYLES["red"] if counts["red"] else "dim"), "  ",
        (f"{counts['amber']} amber", STYLES["amber"] if counts["amber"] else "dim"), "  ",
        (f"{counts['green']} green", STYLES["green"]))

    positions = Table(title="Positions", title_justify="left", expand=False)
    for header, justify in (("Level", "center"), ("Position", "left"),
                            ("To liquidation", "right"), ("Mark, liquidation", "left"),
                            ("Other checks", "left")):
        positions.add_column(header, justify=justify)  # type: ignore[arg-type]
    for p in snap.positions:
        checks = Text()
        for i, (check, check_level, detail) in enumerate(p.checks):
            if i:
                checks.append("\n")
            checks.append(check_level.upper(), style=STYLES.get(check_level, ""))
            checks.append(f" {check}: {detail}")
        positions.add_row(level(p.level), p.label,
                          Text(distance_text(p.distance), style=FIGURES.get(p.level, "")),
                          p.detail, checks if p.checks else Text(
                              "-" if math.isnan(p.distance) else "all green", style="dim"))
    if not snap.positions:
        positions.add_row("-", Text("no open position read", style="dim"), "", "", "")

    venues = Table(title="Venues", title_justify="left")
    for header, justify in (("Venue", "left"), ("Data", "left"), ("Last read (UTC)", "left"),
                            ("Data age", "right"), ("Account ratio", "right"),
                            ("Share of equity", "right")):
        venues.add_column(header, justify=justify)  # type: ignore[arg-type]
    for v in snap.venues:
        data = (Text("read", style=STYLES["green"]) if v.read
                else Text("NOT READ", style=STYLES["red"]) if v.read is False else Text("-"))
        ratio = Text("-") if v.account_ratio is None else Text(
            f"{v.account_ratio:.1%}", style=FIGURES.get(v.account_level or "", ""))
        share = Text("-") if v.share is None else Text(
            f"{v.share:.0%}", style=FIGURES.get(v.share_level or "", ""))
        venues.add_row(v.venue, data, "-" if v.last_read is None
                       else f"{v.last_read:%Y-%m-%d %H:%M:%S}", age_text(v.age_seconds),
                       ratio, share)
    parts: list[Any] = [head, positions, venues]
    for v in snap.venues:
        if v.read is False and v.detail:
            parts.append(Text(f"{v.venue}: {v.detail}", style="red"))
    for label, other_level, detail in snap.others:
        parts.append(Text.assemble(level(other_level), f" {label}: {detail}"))

    if snap.sent:
        sent = Table(title="Alerts sent this tick", title_justify="left")
        for header in ("Level", "Alert", "Text", "Channels"):
            sent.add_column(header)
        for s in snap.sent:
            channels = f"{s.delivered} delivered" + (f", {s.waiting} waiting"
                                                     if s.waiting else "")
            sent.add_row(level(s.level), s.subject, s.text,
                         Text(channels, style="red" if s.waiting else ""))
        parts.append(sent)
    else:
        parts.append(Text("Alerts sent this tick: none", style="dim"))
    return Group(*parts)


# --------------------------------------------------------------------------------------------
# Views


class View(Protocol):
    def show(self, snap: Snapshot) -> None: ...

    def close(self) -> None: ...


class PlainView:
    """The plain per-tick table: a time line, then one line per watched thing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def show(self, snap: Snapshot) -> None:
        out = self.stream or sys.stdout
        print(f"{snap.now:%Y-%m-%d %H:%M:%S} UTC  {len(snap.observations)} watched", file=out)
        for obs in snap.observations:
            distance = "" if obs.distance is None else f"{obs.distance:8.1%}"
            print(f"  {snap.levels.get(obs.key, '?'):5}  {obs.label:<40} {distance}", file=out)
        out.flush()

    def close(self) -> None:
        pass


class LiveView:
    """The view redrawn in place on a terminal (rich ``Live``); the last one stays on screen."""

    def __init__(self, console: Any | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=False,
                         redirect_stderr=False, redirect_stdout=False)
        self.started = False

    def show(self, snap: Snapshot) -> None:
        self.live.update(render(snap), refresh=self.started)
        if not self.started:
            self.live.start(refresh=True)
            self.started = True

    def close(self) -> None:
        if self.started:
            self.live.stop()
            self.started = False


def make_view(*, plain: bool = False, stream: TextIO | None = None) -> View:
    """The live view on a terminal with rich installed; else (or with ``plain``) the table."""
    out = stream or sys.stdout
    isatty = getattr(out, "isatty", None)
    if plain or not (callable(isatty) and isatty()) or not rich_available():
        return PlainView(stream)
    from rich.console import Console

    return LiveView(Console(file=out))

"""``perprisk watch``: poll the accounts, recompute the assessment, alert on crossings.

Each tick fetches the accounts (as ``perprisk fetch`` does), assesses every position with the
workbook's default rules, compares each position's distance to liquidation with the thresholds
(with hysteresis), and sends what changed to every channel. State lives in SQLite
(``--state``, default ``~/.local/state/perprisk/watch.sqlite``), so a restart neither re-sends
nor forgets. ``--once`` runs one tick (for cron); otherwise ticks run every ``--interval``
seconds until Ctrl-C. On a terminal the ticks redraw one live view in place (each position's
level in colour, distance to liquidation, per venue the data's age and the account ratio, the
alerts just sent); piped, logged or with ``--plain`` each tick prints a plain table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from addin._commands import err as _err
from addin.watch.channels import Channel, ChannelError, Email, parse_webhook
from addin.watch.levels import Event, Observation, Thresholds, transitions
from addin.watch.state import State
from addin.watch.view import View, make_view, snapshot


def default_state_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "perprisk" / "watch.sqlite"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch", help="poll your accounts and alert when a position nears liquidation",
        description=__doc__)
    parser.add_argument("--exchange", action="append", required=True, metavar="ID",
                        help="ccxt exchange id to watch (repeatable)")
    parser.add_argument("--interval", type=float, default=60.0, metavar="SECONDS",
                        help="seconds between ticks (default 60)")
    parser.add_argument("--once", action="store_true", help="run one tick and exit (for cron)")
    parser.add_argument("--webhook", action="append", default=[], metavar="[KIND=]URL",
                        help="send alerts here: json=URL (default), slack=URL, discord=URL or "
                             "telegram=https://api.telegram.org/bot<token>/sendMessage?chat_id=ID"
                             " (repeatable)")
    parser.add_argument("--email-to", metavar="ADDRESS", help="also send alerts by email")
    parser.add_argument("--from", dest="sender", metavar="ADDRESS",
                        help="email sender (default: --email-to)")
    parser.add_argument("--smtp-host", metavar="HOST")
    parser.add_argument("--smtp-port", type=int, metavar="PORT")
    parser.add_argument("--security", choices=("starttls", "ssl", "none"), default="starttls")
    parser.add_argument("--user", metavar="NAME",
                        help="SMTP user; the password is read from PERPRISK_SMTP_PASSWORD")
    parser.add_argument("--cafile", metavar="FILE",
                        help="trust this CA file for the SMTP server's certificate")
    parser.add_argument("--red", type=float, default=0.10, metavar="FRACTION",
                        help="red below this distance to liquidation (default 0.10)")
    parser.add_argument("--amber", type=float, default=0.20, metavar="FRACTION",
                        help="amber below this distance (default 0.20)")
    parser.add_argument("--hysteresis", type=float, default=0.01, metavar="FRACTION",
                        help="a level improves only once the distance clears its threshold by "
                             "this much (default 0.01)")
    parser.add_argument("--cooldown", type=float, default=600.0, metavar="SECONDS",
                        help="the same alert for the same position at most once in this time "
                             "(default 600)")
    parser.add_argument("--funding-limit", type=float, default=0.001, metavar="RATE",
                        help="amber when the latest funding rate charges a position more than "
                             "this per interval (default 0.001 = 0.1%%)")
    parser.add_argument("--probability-limit", type=float, default=0.05, metavar="FRACTION",
                        help="amber when the chance of touching the liquidation price within a "
                             "day, from the daily closes' EWMA volatility, is above this "
                             "(default 0.05)")
    parser.add_argument("--venue-limit", type=float, default=0.5, metavar="FRACTION",
                        help="amber when one venue holds more than this share of the equity on "
                             "exchanges (default 0.5)")
    parser.add_argument("--summary-at", metavar="HH:MM",
                        help="also send a daily summary at this UTC time (the first tick after "
                             "it)")
    parser.add_argument("--state", type=Path, metavar="FILE",
                        help="state file (default ~/.local/state/perprisk/watch.sqlite)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="API key file, as for fetch")
    parser.add_argument("--api-base", action="append", default=[], metavar="[ID=]URL",
                        help="send every REST call of a venue to URL (mirror or replay)")
    parser.add_argument("--testnet", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    parser.add_argument("--plain", action="store_true",
                        help="print a plain table each tick, even on a terminal (the live view "
                             "is used only on a terminal with rich installed)")
    parser.set_defaults(func=cmd_watch)


def _channels(args: argparse.Namespace) -> list[Channel]:
    channels: list[Channel] = [parse_webhook(spec) for spec in args.webhook]
    if args.email_to:
        if not args.smtp_host:
            raise ValueError("--email-to needs --smtp-host")
        from addin.mail.message import build_message
        from addin.mail.smtp import SmtpConnection, send_with_retries, settings_from_env

        settings = settings_from_env(args.smtp_host, port=args.smtp_port,
                                     security=args.security, user=args.user,
                                     timeout=args.timeout, cafile=args.cafile)
        sender, to = args.sender or args.email_to, args.email_to

        def send(subject: str, text: str, message_id: str) -> None:
            msg = build_message(sender=sender, to=[to], subject=subject, text=text,
                                html=f"<p>{text}</p>".replace("\n", "<br>"),
                                message_id=f"<{message_id}@perprisk.watch>")
            with SmtpConnection(settings) as connection:
                send_with_retries(connection, msg, attempts=2, backoff=1.0)

        channels.append(Email(send, to))
    if not channels:
        raise ValueError("give at least one --webhook or --email-to: alerts need somewhere to go")
    return channels


def cmd_watch(args: argparse.Namespace) -> int:
    thresholds = Thresholds(args.red, args.amber, args.hysteresis, args.cooldown)
    from addin.mail.message import MailError

    try:
        thresholds.check()
        channels = _channels(args)
        summary_at = (dt.time.fromisoformat(args.summary_at) if args.summary_at else None)
    except (ValueError, MailError) as exc:
        _err(f"perprisk watch: {exc}")
        return EXIT_USAGE
    from addin.accounts.commands import api_bases
    from addin.accounts.fetch import FetchSettings
    from addin.accounts.keys import KeyConfigError, load_credentials

    venues = list(dict.fromkeys(v.strip().lower() for v in args.exchange))
    try:
        credentials = load_credentials(venues, config=args.config)
    except KeyConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    settings = FetchSettings(testnet=args.testnet, api_base=api_bases(args.api_base) or None,
                             timeout=args.timeout, days=30, attempts=2, backoff=1.0)
    state = State(args.state or default_state_path())
    view = None if args.quiet else make_view(plain=args.plain)
    watch = Watch(venues, credentials, settings, thresholds, channels, state,
                  quiet=args.quiet, funding_limit=args.funding_limit,
                  venue_limit=args.venue_limit, summary_at=summary_at,
                  probability_limit=args.probability_limit, view=view,
                  interval=None if args.once else args.interval)
    try:
        if args.once:
            return watch.tick()
        while True:
            started = time.monotonic()
            watch.tick()
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        print("perprisk watch: stopped", file=sys.stderr)
        return EXIT_OK
    finally:
        if view is not None:
            view.close()
        state.close()


def _account_ratio(venue: str, info: Any) -> float | None:
    """Maintenance / margin balance of a whole account from the exchange's raw balance:
    Bybit's Account MM Rate, Binance's totalMaintMargin / totalMarginBalance, the inverse of
    OKX's margin ratio. None where the payload has no such figure (an isolated-only account)."""
    from riskfuncs.venues import rule_for_venue

    def number(value: Any) -> float | None:
        try:
            result = float(value)
        except (TypeError, ValueError):
            return None
        return result if result == result else None

    if not isinstance(info, dict):
        return None
    rule = rule_for_venue(venue)
    if rule == "bybit":
        result = info.get("result") if isinstance(info.get("result"), dict) else info
        for item in (result or {}).get("list") or ():
            rate = number(item.get("accountMMRate")) if isinstance(item, dict) else None
            if rate is not None:
                return rate
    if rule == "binance":
        maintenance = number(info.get("totalMaintMargin"))
        balance = number(info.get("totalMarginBalance"))
        if maintenance is not None and balance:
            return maintenance / balance
    if rule == "okx":
        for item in info.get("data") or ():
            ratio = number(item.get("mgnRatio")) if isinstance(item, dict) else None
            if ratio:
                return 1.0 / ratio
    return None


def _stop_check(key: str, label: str, p: Any) -> Observation:
    """Amber when the stop-loss would fire only past the liquidation price (or is missing a
    side): the stop cannot save the position."""
    import math

    stop, liq, side = p.stop_price, p.liquidation_price, p.side
    beyond = (not math.isnan(stop) and liq > 0 and math.isfinite(liq)
              and ((side == "long" and stop <= liq) or (side == "short" and stop >= liq)))
    return Observation(f"{key}|stop", f"stop-loss of {label}", None,
                       f"stop {stop:,.6g} is past the liquidation price {liq:,.6g}: "
                       "the exchange liquidates first" if beyond else "stop before liquidation",
                       forced="amber" if beyond else "green")


class Watch:
    """One watch: each :meth:`tick` fetches, assesses, records what changed and delivers."""

    def __init__(self, venues: Sequence[str], credentials: Any, settings: Any,
                 thresholds: Thresholds, channels: Sequence[Channel], state: State, *,
                 quiet: bool = False, clock: Callable[[], dt.datetime] | None = None,
                 funding_limit: float = 0.001, venue_limit: float = 0.5,
                 summary_at: dt.time | None = None, probability_limit: float = 0.05,
                 view: View | None = None, interval: float | None = None) -> None:
        self.venues, self.credentials, self.settings = list(venues), credentials, settings
        self.thresholds, self.channels, self.state = thresholds, list(channels), state
        self.quiet = quiet
        self.funding_limit, self.venue_limit = funding_limit, venue_limit
        self.summary_at = summary_at
        self.probability_limit = probability_limit
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.view, self.interval = view, interval
        self.handed: list[tuple[Event, str, bool]] = []  # this tick's (event, channel, taken)

    def observe(self) -> list[Observation]:
        """This tick's observations: every position's distance, and each venue read or not."""
        from addin.accounts.fetch import fetch_venues
        from addin.reader.exchange_data import ExportError, load_export
        from addin.reader.safety import WorkbookError
        from addin.report.pipeline import assess_loaded

        export, results = fetch_venues(self.venues, self.credentials, self.settings)
        observations = []
        for result in results:
            errors = "; ".join(e.get("message", "") for e in result.errors)
            if result.positions_read:
                observations.append(Observation(f"venue|{result.venue}", f"{result.venue} data",
                                                None, "answering again", forced="green"))
            else:
                observations.append(Observation(
                    f"venue|{result.venue}", f"{result.venue} data", None,
                    f"positions not read: {errors or 'no answer'} (the last known levels stay "
                    "until it answers)", forced="red"))
        # The export is read once a tick: the same reading feeds every check below.
        with tempfile.TemporaryDirectory(prefix="perprisk-watch-") as folder:
            path = Path(folder) / "export.json"
            path.write_text(json.dumps(export), encoding="utf-8")
            try:
                loaded = load_export(path)
                assessment = assess_loaded(loaded, path.name)
            except (ExportError, WorkbookError) as exc:
                observations.append(Observation("assessment", "assessment", None,
                                                 str(exc).splitlines()[0], forced="red"))
                return observations
        for p in assessment.positions:
            name = f"{p.symbol} {p.side} ({p.exchange})"
            key = f"{p.exchange}|{p.symbol}|{p.side}"
            observations.append(Observation(
                key, name, float(p.distance_to_liquidation),
                f"mark {p.mark_price:,.6g}, liquidation {p.liquidation_price:,.6g}"))
            observations.append(_stop_check(key, name, p))
        observations += self._funding(export, assessment.positions)
        observations += self._probabilities(export, assessment.positions)
        observations += self._account_ratios(export)
        observations += self._venue_shares(loaded)
        return observations

    def _funding(self, export: dict[str, Any], positions: Sequence[Any]) -> list[Observation]:
        """Amber where the latest funding rate charges a position more than the limit."""
        from riskfuncs.venues import venue_name

        latest: dict[tuple[str, str], float] = {}
        for venue, part in (export.get("venues") or {}).items():
            for symbol, rows in (part.get("funding") or {}).items():
                rates = [r for r in rows or () if isinstance(r, dict)
                         and isinstance(r.get("fundingRate"), int | float)]
                if rates:
                    newest = max(rates, key=lambda r: r.get("timestamp") or 0)
                    latest[(venue_name(venue), symbol)] = float(newest["fundingRate"])
        out = []
        for p in positions:
            rate = latest.get((p.exchange, p.symbol))
            if rate is None:
                continue
            charged = rate if p.side == "long" else -rate  # longs pay a positive rate
            level = "amber" if charged > self.funding_limit else "green"
            out.append(Observation(
                f"{p.exchange}|{p.symbol}|{p.side}|funding", f"funding on {p.symbol} {p.side} "
                f"({p.exchange})", None, f"latest rate {rate:+.4%} per interval, "
                f"{'against' if charged > 0 else 'for'} the position (limit "
                f"{self.funding_limit:.3%})", forced=level))
        return out

    def _probabilities(self, export: dict[str, Any], positions: Sequence[Any]
                       ) -> list[Observation]:
        """Amber where the one-day chance of touching the liquidation price is above the
        limit, with the EWMA volatility of the symbol's recent daily closes (fetch pulls
        them); nothing where fewer than ten closes are there (no figure, no verdict)."""
        import math

        import numpy as np

        from riskfuncs import ewma_volatility, liquidation_probability
        from riskfuncs.venues import venue_name

        closes: dict[tuple[str, str], list[float]] = {}
        for venue, part in (export.get("venues") or {}).items():
            for symbol, bars in (part.get("ohlcv") or {}).items():
                values = [float(b[4]) for b in bars or () if isinstance(b, list) and len(b) > 4
                          and isinstance(b[4], int | float) and b[4] > 0]
                closes[(venue_name(venue), symbol)] = values
        out = []
        for p in positions:
            series = closes.get((p.exchange, p.symbol), [])
            if len(series) < 10 or not (p.liquidation_price > 0
                                        and math.isfinite(p.liquidation_price)):
                continue
            returns = np.diff(np.log(np.asarray(series)))
            vol = float(np.asarray(ewma_volatility(returns, periods_per_year=365), dtype=float))
            chance = float(np.asarray(liquidation_probability(
                p.mark_price, p.liquidation_price, vol, 1 / 365, side=p.side), dtype=float))
            out.append(Observation(
                f"{p.exchange}|{p.symbol}|{p.side}|probability",
                f"liquidation chance of {p.symbol} {p.side} ({p.exchange})", None,
                f"{chance:.1%} within a day at {vol:.0%} a year (limit "
                f"{self.probability_limit:.0%})",
                forced="amber" if chance > self.probability_limit else "green"))
        return out

    def _account_ratios(self, export: dict[str, Any]) -> list[Observation]:
        """The account's own maintenance ratio, as the exchange reports it for a cross or
        unified account (maintenance / margin balance; liquidation at 100%): amber from
        50%, red from 80%."""
        out = []
        for venue, part in (export.get("venues") or {}).items():
            ratio = _account_ratio(venue, (part.get("balance") or {}).get("info"))
            if ratio is None:
                continue
            level = "red" if ratio >= 0.8 else "amber" if ratio >= 0.5 else "green"
            out.append(Observation(
                f"account|{venue}", f"{venue} account", None,
                f"maintenance at {ratio:.0%} of the margin balance (liquidation at 100%; amber "
                "from 50%, red from 80%)", forced=level, figure=ratio))
        return out

    def _venue_shares(self, loaded: Any) -> list[Observation]:
        """Amber where one venue holds more than the limit of the equity on exchanges."""
        from addin.report.pipeline import export_frame
        from riskfuncs import exposure_by_exchange

        if len({p.values["exchange"] for p in loaded.positions}) < 2:
            return []  # one venue: its share is the whole book by construction
        exposure = exposure_by_exchange(export_frame(loaded))
        total = float(exposure.sum())
        if not total > 0:
            return []
        return [Observation(f"share|{venue}", f"exposure on {venue}", None,
                            f"{value / total:.0%} of the equity on exchanges (limit "
                            f"{self.venue_limit:.0%})",
                            forced="amber" if value / total > self.venue_limit else "green",
                            figure=value / total)
                for venue, value in exposure.items()]

    def tick(self) -> int:
        now = self.clock()
        observations = self.observe()
        levels, events = transitions(observations, self.state.levels(),
                                     self.state.last_sent(), self.thresholds, now.timestamp())
        # Positions not seen this tick (closed, or their venue not read) keep their last level.
        self.state.record(levels, events, [c.name for c in self.channels], now)
        for obs in observations:
            if obs.key.startswith("venue|") and obs.forced == "green":
                self.state.venue_read(obs.key.split("|", 1)[1], now)
        self.summarise(now, observations, levels)
        undelivered = self.deliver(now)
        if not self.quiet:
            from addin.watch.view import PlainView

            (self.view or PlainView()).show(snapshot(
                now, observations, levels, last_reads=self.state.venue_reads(),
                sent=self.handed, interval=self.interval, known=self.state.levels()))
        failed_venue = any(o.forced == "red" for o in observations)
        return EXIT_PROBLEMS if undelivered or failed_venue else EXIT_OK

    def summarise(self, now: dt.datetime, observations: Sequence[Observation],
                  levels: dict[str, str]) -> None:
        """Queue the daily summary once the day's summary time has passed."""
        if self.summary_at is None or now.time().replace(tzinfo=None) < self.summary_at:
            return
        day = now.date().isoformat()
        if not self.state.summary_due(day):
            return
        from addin.watch.levels import RANK

        counts = {level: sum(1 for o in observations if levels.get(o.key) == level)
                  for level in ("red", "amber", "green")}
        worst = max((levels.get(o.key, "green") for o in observations),
                    key=lambda level: RANK[level], default="green")
        urgent = [f"{levels[o.key]} {o.label}" for o in observations
                  if levels.get(o.key) in ("red", "amber")]
        text = (f"{counts['red']} red, {counts['amber']} amber, {counts['green']} green"
                + (": " + "; ".join(urgent) if urgent else ": nothing needs attention"))
        event = Event(f"summary|{day}", f"daily summary {day}", worst, "", text)
        self.state.record_summary(day, event, [c.name for c in self.channels], now)

    def deliver(self, now: dt.datetime) -> int:
        """Send every waiting event; returns how many are still waiting."""
        by_name = {c.name: c for c in self.channels}
        waiting = 0
        self.handed = []
        for item in self.state.pending():
            channel = by_name.get(item.channel)
            if channel is None:
                continue  # a channel no longer configured: kept, not sent elsewhere
            try:
                channel.send(item.event, f"perprisk-{item.id}")
            except ChannelError as exc:
                self.state.failed(item, str(exc))
                _err(f"perprisk watch: {exc}; kept for the next tick")
                waiting += 1
                self.handed.append((item.event, item.channel, False))
            else:
                self.state.sent(item, now)
                self.handed.append((item.event, item.channel, True))
        return waiting

"""What ``perprisk watch`` remembers between ticks and across restarts (SQLite).

``levels``: the last level of every watched key. ``venue_reads``: when each venue's positions
were last read (the view's data age, right after a restart too). ``outbox``: one row per
(event, channel), written in the same transaction as the new levels, marked sent when the
channel accepted it. A restart therefore neither re-sends what was delivered nor forgets what
was not: undelivered rows are retried on the next tick, each with its row id as the message
id, so a receiver can drop the one duplicate a crash between "accepted" and "marked sent"
could cause.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from addin.watch.levels import Event

__all__ = ["Pending", "State"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS levels (
    key TEXT PRIMARY KEY, level TEXT NOT NULL, since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, key TEXT NOT NULL,
    level TEXT NOT NULL, event TEXT NOT NULL, created TEXT NOT NULL, created_ts REAL NOT NULL,
    sent TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sent, id);
CREATE TABLE IF NOT EXISTS summaries (day TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS venue_reads (venue TEXT PRIMARY KEY, read_ts REAL NOT NULL);
"""


@dataclass(frozen=True)
class Pending:
    """An event waiting for one channel."""

    id: int
    channel: str
    event: Event
    attempts: int


class State:
    """The watch's SQLite file (created on first use, with its folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def levels(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, level FROM levels").fetchall())

    def last_sent(self) -> dict[str, tuple[str, float]]:
        """Per key, the level and time of the newest event (sent or waiting)."""
        rows = self._db.execute(
            "SELECT key, level, MAX(created_ts) FROM outbox GROUP BY key").fetchall()
        return {key: (level, float(ts)) for key, level, ts in rows}

    def record(self, levels: dict[str, str], events: Sequence[Event],
               channels: Sequence[str], now: dt.datetime) -> None:
        """The new levels and one outbox row per event and channel, all or nothing."""
        stamp = now.isoformat(timespec="seconds")
        with self._transaction() as db:
            for key, level in levels.items():
                db.execute("INSERT INTO levels (key, level, since) VALUES (?, ?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET level = excluded.level, since = "
                           "CASE WHEN levels.level = excluded.level THEN levels.since "
                           "ELSE excluded.since END", (key, level, stamp))
            for event in events:
                body = json.dumps(event.__dict__)
                for channel in channels:
                    db.execute("INSERT INTO outbox (channel, key, level, event, created, "
                               "created_ts) VALUES (?, ?, ?, ?, ?, ?)",
                               (channel, event.key, event.level, body, stamp, now.timestamp()))

    def venue_read(self, venue: str, now: dt.datetime) -> None:
        self._db.execute("INSERT INTO venue_reads (venue, read_ts) VALUES (?, ?) ON CONFLICT"
                         "(venue) DO UPDATE SET read_ts = excluded.read_ts",
                         (venue, now.timestamp()))

    def venue_reads(self) -> dict[str, float]:
        """Per venue (ccxt id), the time in seconds its positions were last read."""
        return {str(v): float(t) for v, t in
                self._db.execute("SELECT venue, read_ts FROM venue_reads")}

    def summary_due(self, day: str) -> bool:
        return self._db.execute("SELECT 1 FROM summaries WHERE day = ?", (day,)).fetchone() is None

    def record_summary(self, day: str, event: Event, channels: Sequence[str],
                       now: dt.datetime) -> None:
        """The day's summary, queued once per day whatever the restarts."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM summaries WHERE day = ?", (day,)).fetchone():
                return
            db.execute("INSERT INTO summaries (day, created) VALUES (?, ?)",
                       (day, now.isoformat(timespec="seconds")))
            body = json.dumps(event.__dict__)
            for channel in channels:
                db.execute("INSERT INTO outbox (channel, key, level, event, created, "
                           "created_ts) VALUES (?, ?, ?, ?, ?, ?)",
                           (channel, event.key, event.level, body,
                            now.isoformat(timespec="seconds"), now.timestamp()))

    def pending(self) -> list[Pending]:
        rows = self._db.execute("SELECT id, channel, event, attempts FROM outbox WHERE sent IS "
                                "NULL ORDER BY id").fetchall()
        return [Pending(int(i), str(c), Event(**json.loads(e)), int(a)) for i, c, e, a in rows]

    def sent(self, item: Pending, now: dt.datetime) -> None:
        self._db.execute("UPDATE outbox SET sent = ?, attempts = attempts + 1 WHERE id = ?",
                         (now.isoformat(timespec="seconds"), item.id))

    def failed(self, item: Pending, error: str) -> None:
        self._db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                         (error[:500], item.id))

    def delivered(self) -> list[tuple[str, str, str]]:
        """(channel, key, level) of every delivered event, oldest first (for summaries)."""
        return [(str(c), str(k), str(v)) for c, k, v in self._db.execute(
            "SELECT channel, key, level FROM outbox WHERE sent IS NOT NULL ORDER BY id")]

"""A local, append-only record of what was sent, so a rerun never sends a message twice.

One JSON object per line. Before a message goes out a ``sending`` line is written, after the
server confirms it a ``sent`` line, after a failure a ``failed`` line. A rerun skips every key
whose last state is ``sent`` and retries the rest with the same Message-ID, so that even in the
one case SMTP cannot rule out (the server accepted but the connection dropped before its 250
reached us) a mail client can recognise the copy. Each line is flushed and fsynced before the
next step, so a crash loses at most the line being written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

State = Literal["sending", "sent", "failed"]


def default_log_path() -> Path:
    """``$XDG_STATE_HOME/perprisk/send-log.jsonl`` (``~/.local/state`` when unset)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "perprisk" / "send-log.jsonl"


def message_key(content: bytes, recipients: Iterable[str]) -> str:
    """Identify 'this workbook to these people': same bytes and same recipients = same key."""
    digest = hashlib.sha256(content)
    digest.update(b"\0")
    digest.update("\n".join(sorted(r.strip().lower() for r in recipients)).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class LogEntry:
    key: str
    state: State
    label: str
    message_id: str
    time: str
    detail: str = ""


class SendLog:
    """The log file and the last state of each key."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last: dict[str, LogEntry] = {}
        if self.path.exists():
            # errors="replace": a line torn inside a multi-byte character fails as JSON
            # below and is skipped, instead of making the whole log unreadable.
            with self.path.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    entry = _parse(line)
                    if entry is not None:
                        self._last[entry.key] = entry

    def last(self, key: str) -> LogEntry | None:
        return self._last.get(key)

    def was_sent(self, key: str) -> bool:
        entry = self._last.get(key)
        return entry is not None and entry.state == "sent"

    def message_id_for(self, key: str) -> str | None:
        entry = self._last.get(key)
        return entry.message_id if entry is not None else None

    def record(
        self, key: str, state: State, *, label: str, message_id: str, detail: str = ""
    ) -> LogEntry:
        entry = LogEntry(
            key=key, state=state, label=label, message_id=message_id,
            time=datetime.now(UTC).isoformat(timespec="seconds"), detail=detail,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry.__dict__, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._last[key] = entry
        return entry

    def entries(self) -> list[LogEntry]:
        return list(self._last.values())


def _parse(line: str) -> LogEntry | None:
    try:
        raw: Any = json.loads(line)
        return LogEntry(
            key=str(raw["key"]), state=raw["state"], label=str(raw.get("label", "")),
            message_id=str(raw.get("message_id", "")), time=str(raw.get("time", "")),
            detail=str(raw.get("detail", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line after a crash is ignored, not fatal

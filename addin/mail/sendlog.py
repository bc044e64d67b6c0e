"""A local, append-only record of what was sent to whom, so a rerun never sends a copy twice.

One JSON object per line, the last line of a key being its state. Before each attempt a
``sending`` line names the recipients about to be sent to; after it a ``sent`` line (everyone
has it) or a ``failed`` line records each recipient's outcome (``delivered``, ``deferred``,
``refused``, ``unconfirmed``). A rerun sends only to recipients not yet delivered, with the same
Message-ID, which is derived from the message key so that two runs that both build the message
give it the same id.

Several runs may share one log: :meth:`SendLog.lock` takes an exclusive ``flock`` on the file
and reads what other runs appended since, so a message is checked, sent and recorded by one run
while the others wait and then skip it. If a run dies in the middle of an attempt, its last line
for that key stays ``sending``: those recipients count as *unconfirmed* (they may have the
message) and get at most one more copy.

Lines are flushed and fsynced before the next step; a torn last line (a crash mid-write) is
skipped, and the next line starts on a fresh line. Logs written before per-recipient records
(lines without ``recipients``) are read as before: ``sent`` means everyone has it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from addin.mail.smtp import Deadline, Outcome, RecipientStatus

State = Literal["sending", "sent", "failed"]
_OUTCOMES = set(get_args(Outcome))


class SendLogBusyError(OSError):
    """Another run held the send log for longer than this run may wait."""


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


def message_id_for_key(key: str, domain: str) -> str:
    """The Message-ID of the message ``key``: the same in every run and every process."""
    host = domain.strip("[]") or "localhost"
    return f"<perprisk.{key[:40]}@{host}>"


@dataclass(frozen=True)
class LogEntry:
    key: str
    state: State
    label: str
    message_id: str
    time: str
    detail: str = ""
    recipients: Mapping[str, RecipientStatus] | None = None
    attempting: tuple[str, ...] = ()

    def to_json(self) -> str:
        raw: dict[str, Any] = {
            "key": self.key, "state": self.state, "label": self.label,
            "message_id": self.message_id, "time": self.time, "detail": self.detail,
        }
        if self.recipients is not None:
            raw["recipients"] = {
                r: {"outcome": s.outcome, "detail": s.detail, "resent": s.resent}
                for r, s in self.recipients.items()}
        if self.attempting:
            raw["attempting"] = list(self.attempting)
        return json.dumps(raw, ensure_ascii=False)


class SendLog:
    """The log file and the last state of each key."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last: dict[str, LogEntry] = {}
        self._offset = 0
        self._fd: int | None = None
        self._depth = 0
        if self.path.exists():
            # Reading now makes an unreadable log (a folder, no permission) an error up front.
            with self.path.open("rb") as handle:
                self._consume(handle.read())

    # --- reading ------------------------------------------------------------------------------

    def _consume(self, data: bytes) -> None:
        end = data.rfind(b"\n") + 1
        for raw in data[:end].splitlines():
            # errors="replace": a line torn inside a multi-byte character fails as JSON
            # below and is skipped, instead of making the whole log unreadable.
            entry = _parse(raw.decode("utf-8", "replace"))
            if entry is not None:
                self._last[entry.key] = entry
        self._offset += end

    def _refresh(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size > self._offset:
            self._consume(os.pread(fd, size - self._offset, self._offset))

    def last(self, key: str) -> LogEntry | None:
        return self._last.get(key)

    def was_sent(self, key: str) -> bool:
        entry = self._last.get(key)
        return entry is not None and entry.state == "sent"

    def message_id_for(self, key: str) -> str | None:
        entry = self._last.get(key)
        return entry.message_id if entry is not None and entry.message_id else None

    def status_for(self, key: str, recipients: Sequence[str]) -> dict[str, RecipientStatus]:
        """Where each recipient stands for ``key``, as a rerun should start from.

        Recipients refused or deferred earlier are pending again (a rerun retries them);
        delivered ones are done; unconfirmed ones keep whether they were already resent.
        """
        status = {r: RecipientStatus() for r in recipients}
        entry = self._last.get(key)
        if entry is None:
            return status
        if entry.recipients is None:  # a log line from before per-recipient records
            if entry.state == "sent":
                for state in status.values():
                    state.outcome, state.detail = "delivered", entry.detail
            elif entry.state == "sending":
                for state in status.values():
                    state.outcome = "unconfirmed"
                    state.detail = "a run stopped while sending it"
            return status
        # Addresses compare as the message key does: "DESK@x" and "desk@x" are one person.
        known = {r.strip().lower(): s for r, s in entry.recipients.items()}
        for rcpt in recipients:
            old = known.get(rcpt.strip().lower())
            if old is not None:
                status[rcpt] = RecipientStatus(old.outcome, old.detail, old.resent)
        if entry.state == "sending":
            attempting = {r.strip().lower() for r in entry.attempting}
            for rcpt, stopped in status.items():
                if rcpt.strip().lower() in attempting and stopped.outcome != "delivered":
                    stopped.outcome = "unconfirmed"
                    stopped.detail = "a run stopped while sending it"
        for state in status.values():
            if state.outcome in ("refused", "deferred"):
                state.outcome = "pending"
        return status

    def entries(self) -> list[LogEntry]:
        return list(self._last.values())

    # --- locking and writing -----------------------------------------------------------------

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        return self._fd

    @contextlib.contextmanager
    def lock(self, deadline: Deadline | None = None) -> Iterator[None]:
        """Hold the log exclusively (other runs wait), having read what they appended.

        Raises SendLogBusyError if ``deadline`` passes while another run holds it.
        """
        fd = self._open()
        if self._depth == 0:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                if deadline is not None and deadline.remaining() <= 0:
                    raise SendLogBusyError(
                        errno.EWOULDBLOCK,
                        f"in use by another perprisk run until {deadline.what} passed")
                time.sleep(0.02)
            self._refresh(fd)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def record(
        self, key: str, state: State, *, label: str, message_id: str, detail: str = "",
        recipients: Mapping[str, RecipientStatus] | None = None,
        attempting: Sequence[str] = (),
    ) -> LogEntry:
        entry = LogEntry(
            key=key, state=state, label=label, message_id=message_id,
            time=datetime.now(UTC).isoformat(timespec="seconds"), detail=detail,
            recipients=None if recipients is None else {
                r: RecipientStatus(s.outcome, s.detail, s.resent) for r, s in recipients.items()},
            attempting=tuple(attempting),
        )
        with self.lock():
            fd = self._open()
            self._refresh(fd)
            size = os.fstat(fd).st_size
            prefix = b""
            if size and os.pread(fd, 1, size - 1) != b"\n":
                prefix = b"\n"  # a torn line before: do not glue this one to it
            line = prefix + (entry.to_json() + "\n").encode("utf-8")
            os.write(fd, line)
            os.fsync(fd)
            self._offset = size + len(line)
        self._last[key] = entry
        return entry

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _recipients(raw: Any) -> dict[str, RecipientStatus] | None:
    if not isinstance(raw, dict):
        return None
    found: dict[str, RecipientStatus] = {}
    for rcpt, value in raw.items():
        if not isinstance(value, dict) or value.get("outcome") not in _OUTCOMES:
            return None
        found[str(rcpt)] = RecipientStatus(
            value["outcome"], str(value.get("detail", "")), bool(value.get("resent", False)))
    return found


def _parse(line: str) -> LogEntry | None:
    try:
        raw: Any = json.loads(line)
        state = raw["state"]
        if state not in ("sending", "sent", "failed"):
            return None
        attempting = raw.get("attempting", [])
        return LogEntry(
            key=str(raw["key"]), state=state, label=str(raw.get("label", "")),
            message_id=str(raw.get("message_id", "")), time=str(raw.get("time", "")),
            detail=str(raw.get("detail", "")),
            recipients=_recipients(raw["recipients"]) if "recipients" in raw else None,
            attempting=tuple(str(r) for r in attempting) if isinstance(attempting, list) else (),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a torn last line after a crash is ignored, not fatal

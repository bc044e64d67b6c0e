"""Send many messages over one connection, with a progress bar, the send log and a summary."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from tqdm import tqdm

from addin.mail.message import is_unsafe_char, recipients
from addin.mail.sendlog import SendLog, SendLogBusyError, message_id_for_key
from addin.mail.smtp import (
    MAX_BACKOFF,
    Deadline,
    Delivery,
    RecipientStatus,
    SmtpConnection,
    SmtpSettings,
    deliver,
)


@dataclass
class Outgoing:
    """One message to send; ``key`` identifies it in the send log (see ``message_key``)."""

    label: str
    key: str
    message: EmailMessage


@dataclass
class BatchResult:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [
            f"sent {len(self.sent)}, already sent earlier {len(self.skipped)}, "
            f"failed {len(self.failed)}"
        ]
        lines += [f"  FAILED {shown(label)}: {_without_name(label, why)}"
                  for label, why in self.failed]
        lines += [f"  NOTE {shown(label)}: {why}" for label, why in self.notes]
        return "\n".join(lines)


def _without_name(label: str, why: str) -> str:
    """A reason that starts with the file's own name (the reader's messages do) without it:
    the summary line names the file already."""
    name = label.replace("\\", "/").rsplit("/", 1)[-1]
    return why[len(name) + 2:] if why.startswith(f"{name}: ") else why


def shown(label: str) -> str:
    """``label`` safe to print: control and bidi characters as visible escapes."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if is_unsafe_char(ch) else ch
                   for ch in label)


def _use_message_id(msg: EmailMessage, message_id: str) -> None:
    del msg["Message-ID"]
    msg["Message-ID"] = message_id


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _failure(delivery: Delivery) -> str:
    parts: list[str] = []
    delivered = delivery.having("delivered")
    if delivered:
        parts.append(f"delivered to {', '.join(delivered)}")
    for rcpt, state in delivery.status.items():
        if state.outcome == "unconfirmed":
            parts.append(f"{rcpt}: possibly delivered ({state.detail}); not sent again, "
                         "to avoid more copies: ask the recipient")
        elif state.outcome != "delivered":
            parts.append(f"not to {rcpt}: {state.detail}")
    parts += delivery.notes
    text = "; ".join(parts)
    return f"{text} (after {_plural(delivery.attempts, 'attempt')})"


def send_batch(
    items: Sequence[Outgoing],
    settings: SmtpSettings,
    log: SendLog,
    *,
    attempts: int = 4,
    backoff: float = 2.0,
    max_backoff: float = MAX_BACKOFF,
    message_deadline: float | None = None,
    run_deadline: float | Deadline | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> BatchResult:
    """Send each item to whoever does not have it yet; record every outcome in the log.

    The log is locked while an item is checked, sent and recorded, so runs sharing it never
    send the same item twice. ``message_deadline`` bounds each item (lock wait, connection,
    retries) and ``run_deadline`` the whole call: seconds from now, or a Deadline already
    running.
    """
    result = BatchResult()
    run_by = (Deadline.after(run_deadline, f"the run deadline ({run_deadline:g} s)")
              if isinstance(run_deadline, int | float) else run_deadline)
    with SmtpConnection(settings) as connection:
        for item in tqdm(items, desc="sending", unit="msg", disable=not progress):
            if run_by is not None and run_by.remaining() <= 0:
                result.failed.append((item.label, f"not attempted: {run_by.what} had passed"))
                continue
            message_by = (Deadline.after(message_deadline,
                                         f"the per-message deadline ({message_deadline:g} s)")
                          if message_deadline is not None else None)
            deadline = Deadline.earliest(message_by, run_by)
            try:
                with log.lock(deadline):
                    delivery = _send_one(item, connection, log, attempts=attempts,
                                         backoff=backoff, max_backoff=max_backoff,
                                         deadline=deadline, sleep=sleep)
            except SendLogBusyError as exc:
                result.failed.append((item.label, f"send log {exc.strerror}"))
                continue
            if delivery is None:
                result.skipped.append(item.label)
                unconfirmed = [r for r, s in log.status_for(
                    item.key, recipients(item.message)).items() if s.outcome == "unconfirmed"]
                if unconfirmed:
                    result.notes.append((item.label, (
                        f"possibly delivered earlier to {', '.join(unconfirmed)} (no reply "
                        "came after the whole message was sent); not sent again")))
            elif delivery.complete:
                result.sent.append(item.label)
                if delivery.resent_unconfirmed:
                    result.notes.append((item.label, (
                        "no reply came after the whole message was sent to "
                        f"{', '.join(delivery.resent_unconfirmed)}; sent once more with the "
                        f"same Message-ID {item.message['Message-ID']}, so a second copy, if "
                        "any, is recognisable")))
            else:
                result.failed.append((item.label, _failure(delivery)))
    return result


def _send_one(item: Outgoing, connection: SmtpConnection, log: SendLog, *, attempts: int,
              backoff: float, max_backoff: float, deadline: Deadline | None,
              sleep: Callable[[float], None]) -> Delivery | None:
    """Send ``item`` (the log is locked); None when nobody needs it any more."""
    status = log.status_for(item.key, recipients(item.message))
    if not any(s.retryable for s in status.values()):
        return None
    domain = item.message["From"].addresses[0].domain
    message_id = log.message_id_for(item.key) or message_id_for_key(item.key, domain)
    _use_message_id(item.message, message_id)

    def before_attempt(targets: Sequence[str], current: Mapping[str, RecipientStatus]) -> None:
        log.record(item.key, "sending", label=item.label, message_id=message_id,
                   recipients=current, attempting=targets)

    delivery = deliver(connection, item.message, status, attempts=attempts, backoff=backoff,
                       max_backoff=max_backoff, deadline=deadline, sleep=sleep,
                       before_attempt=before_attempt)
    done = delivery.complete
    log.record(item.key, "sent" if done else "failed", label=item.label,
               message_id=message_id, recipients=delivery.status,
               detail=_plural(delivery.attempts, "attempt") if done else _failure(delivery))
    return delivery


def _safe_stem(label: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(label).stem).strip("._")
    return stem or "message"


def write_eml(items: Sequence[Outgoing], directory: Path) -> list[Path]:
    """Write each message as ``<stem>.eml`` (CRLF line ends, as sent) instead of sending."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for item in items:
        stem = _safe_stem(item.label)
        name, n = f"{stem}.eml", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.eml"
        used.add(name)
        path = directory / name
        path.write_bytes(item.message.as_bytes(policy=SMTP))
        written.append(path)
    return written

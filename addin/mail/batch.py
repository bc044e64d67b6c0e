"""Send many messages over one connection, with a progress bar, the send log and a summary."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from tqdm import tqdm

from addin.mail.sendlog import SendLog, State
from addin.mail.smtp import (
    PartialDeliveryError,
    SendError,
    SmtpConnection,
    SmtpSettings,
    send_with_retries,
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

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [
            f"sent {len(self.sent)}, already sent earlier {len(self.skipped)}, "
            f"failed {len(self.failed)}"
        ]
        lines += [f"  FAILED {label}: {why}" for label, why in self.failed]
        return "\n".join(lines)


def _use_message_id(msg: EmailMessage, message_id: str) -> None:
    del msg["Message-ID"]
    msg["Message-ID"] = message_id


def send_batch(
    items: Sequence[Outgoing],
    settings: SmtpSettings,
    log: SendLog,
    *,
    attempts: int = 4,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> BatchResult:
    """Send each item unless the log says it was sent; record every outcome in the log."""
    result = BatchResult()
    with SmtpConnection(settings) as connection:
        for item in tqdm(items, desc="sending", unit="msg", disable=not progress):
            if log.was_sent(item.key):
                result.skipped.append(item.label)
                continue
            previous_id = log.message_id_for(item.key)
            if previous_id:
                _use_message_id(item.message, previous_id)
            message_id = str(item.message["Message-ID"])
            log.record(item.key, "sending", label=item.label, message_id=message_id)
            try:
                tries = send_with_retries(
                    connection, item.message, attempts=attempts, backoff=backoff, sleep=sleep
                )
            except SendError as exc:
                detail = f"{exc} (after {exc.attempts} attempt{'s' if exc.attempts > 1 else ''})"
                # A partial delivery is logged as sent so that no recipient gets it twice.
                state: State = "sent" if isinstance(exc, PartialDeliveryError) else "failed"
                log.record(item.key, state, label=item.label, message_id=message_id,
                           detail=detail)
                result.failed.append((item.label, detail))
                continue
            log.record(item.key, "sent", label=item.label, message_id=message_id,
                       detail=f"{tries} attempt{'s' if tries > 1 else ''}")
            result.sent.append(item.label)
    return result


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

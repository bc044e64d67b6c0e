"""Email for assessments: build the message, send it over SMTP, never twice.

- :mod:`addin.mail.message`: HTML + plain-text bodies, inline chart, the workbook attached byte
  for byte; header values carrying CR/LF are refused.
- :mod:`addin.mail.smtp`: one SMTP connection (STARTTLS, implicit TLS or none; AUTH), with
  retries and backoff on temporary failures.
- :mod:`addin.mail.sendlog`: an append-only local log so a rerun skips what was sent and retries
  what failed.
- :mod:`addin.mail.batch`: many messages, a progress bar, a summary.
"""

from __future__ import annotations

from addin.mail.batch import BatchResult, Outgoing, send_batch, write_eml
from addin.mail.message import Attachment, InlineImage, MailError, build_message
from addin.mail.sendlog import SendLog
from addin.mail.smtp import (
    PASSWORD_ENV,
    PermanentSendError,
    SmtpSettings,
    TemporarySendError,
    send_with_retries,
)

__all__ = [
    "PASSWORD_ENV",
    "Attachment",
    "BatchResult",
    "InlineImage",
    "MailError",
    "Outgoing",
    "PermanentSendError",
    "SendLog",
    "SmtpSettings",
    "TemporarySendError",
    "build_message",
    "send_batch",
    "send_with_retries",
    "write_eml",
]

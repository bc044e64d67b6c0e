"""Email for assessments: build the message, send it over SMTP, never twice.

- :mod:`addin.mail.message`: HTML + plain-text bodies, inline chart, the workbook attached byte
  for byte; addresses parsed as RFC 5322 lists; CR/LF in a header refused, control and bidi
  characters kept out of subjects and attachment names.
- :mod:`addin.mail.content`: a file read once after checking it is a regular file of sane size;
  its MIME type from its content; the VBA projects it carries.
- :mod:`addin.mail.isolated`: one file's work in a forked child, so a crash is that file's.
- :mod:`addin.mail.smtp`: one SMTP connection (STARTTLS, implicit TLS or none; AUTH), outcomes
  per recipient, retries with capped backoff, deadlines that also cut a trickling server off,
  at most one resend when the reply to a fully sent message was lost; credentials redacted.
- :mod:`addin.mail.sendlog`: an append-only, locked local log of each recipient's outcome, so
  reruns and concurrent runs send only to those who do not have the message yet.
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

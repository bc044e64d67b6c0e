"""Send messages over SMTP: STARTTLS, implicit TLS or plain; optional AUTH; retries.

A failure is *temporary* when the server answered 4xx (RFC 5321 section 4.2.1: "transient
negative completion") or the connection could not be made or was dropped before the server
confirmed the message with 250 after DATA; those are retried with exponential backoff. A 5xx
answer is *permanent* and never retried. The server takes responsibility for a message only
once it has answered 250 to the end of DATA (RFC 5321 section 4.1.1.4), so a message cut off
mid-transfer has not been delivered and resending it cannot duplicate it.

The password is read from the environment variable ``PERPRISK_SMTP_PASSWORD`` and nowhere else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from addin.mail.message import MailError, recipients

PASSWORD_ENV = "PERPRISK_SMTP_PASSWORD"

Security = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}


class SendError(Exception):
    """Sending failed; ``attempts`` says how many tries were made."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class TemporarySendError(SendError):
    """4xx answer, refused or dropped connection: worth retrying later."""


class PermanentSendError(SendError):
    """5xx answer or a TLS/authentication failure: retrying will not help."""


class PartialDeliveryError(PermanentSendError):
    """The server took the message for some recipients and refused others.

    Never retried: resending would deliver a second copy to those who got the first.
    """


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect. ``password`` is never printed (repr hides it)."""

    host: str
    port: int | None = None
    security: Security = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    cafile: str | None = None
    context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @property
    def resolved_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    def check(self) -> None:
        """Refuse settings that would fail or leak the password."""
        if self.security not in DEFAULT_PORTS:
            raise MailError(f"security must be one of starttls, ssl, none (got {self.security!r})")
        if self.user and self.password is None:
            raise MailError(f"--user {self.user} needs the password in {PASSWORD_ENV}")
        if self.user and self.security == "none" and not _is_loopback(self.host):
            raise MailError(
                "--no-tls with --user would send the password in clear; use --starttls or --ssl"
            )

    def ssl_context(self) -> ssl.SSLContext:
        return self.context or ssl.create_default_context(cafile=self.cafile)


def settings_from_env(
    host: str,
    *,
    port: int | None = None,
    security: Security = "starttls",
    user: str | None = None,
    timeout: float = 30.0,
    cafile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SmtpSettings:
    """Build settings taking the password from ``PERPRISK_SMTP_PASSWORD`` only."""
    env = os.environ if environ is None else environ
    password = env.get(PASSWORD_ENV) if user else None
    settings = SmtpSettings(
        host=host, port=port, security=security, user=user, password=password,
        timeout=timeout, cafile=cafile,
    )
    settings.check()
    return settings


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {msg.decode('utf-8', 'replace')}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def classify(exc: BaseException) -> type[SendError]:
    """Temporary or permanent, following the SMTP reply class."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return TemporarySendError if codes and all(400 <= c < 500 for c in codes) else (
            PermanentSendError)
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return PermanentSendError
    if isinstance(exc, smtplib.SMTPResponseException):
        return TemporarySendError if 400 <= exc.smtp_code < 500 else PermanentSendError
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentSendError
    if isinstance(exc, smtplib.SMTPException) and not isinstance(
            exc, smtplib.SMTPServerDisconnected):
        return PermanentSendError  # e.g. no usable AUTH mechanism
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | socket.timeout
                  | TimeoutError | ssl.SSLError | OSError):
        return TemporarySendError
    return PermanentSendError


class SmtpConnection:
    """One session with the server, opened lazily and reopened after a failure."""

    def __init__(self, settings: SmtpSettings) -> None:
        settings.check()
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                s.host, s.resolved_port, timeout=s.timeout, context=s.ssl_context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.resolved_port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise PermanentSendError(f"{s.host} does not offer STARTTLS")
                smtp.starttls(context=s.ssl_context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
        except BaseException:
            _quietly_close(smtp)
            raise
        self._smtp = smtp
        return smtp

    def send(self, msg: EmailMessage) -> None:
        """Send once; raises the raw smtplib/socket error on failure (connection then reset)."""
        rcpts = recipients(msg)
        sender = msg["From"].addresses[0].addr_spec
        try:
            smtp = self.open()
            refused = smtp.send_message(msg, from_addr=sender, to_addrs=rcpts)
        except BaseException:
            self.close()
            raise
        if refused:
            taken = sorted(set(rcpts) - set(refused))
            raise PartialDeliveryError(
                f"delivered to {', '.join(taken)}; refused for "
                + "; ".join(f"{r}: {code} {text.decode('utf-8', 'replace')}"
                            for r, (code, text) in refused.items()))

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(smtp)

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


def send_with_retries(
    connection: SmtpConnection,
    msg: EmailMessage,
    *,
    attempts: int = 4,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send ``msg``, retrying temporary failures with backoff ``backoff * 2**k`` seconds.

    Returns the number of attempts used; raises TemporarySendError after the last attempt or
    PermanentSendError at once.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1 (got {attempts})")
    for attempt in range(1, attempts + 1):
        try:
            connection.send(msg)
            return attempt
        except SendError as exc:
            exc.attempts = attempt
            if isinstance(exc, PermanentSendError) or attempt == attempts:
                raise
        except Exception as exc:
            kind = classify(exc)
            if kind is PermanentSendError or attempt == attempts:
                raise kind(_describe(exc), attempts=attempt) from exc
        sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover

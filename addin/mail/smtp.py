"""Send messages over SMTP: STARTTLS, implicit TLS or plain; optional AUTH; retries.

Each recipient's outcome is its own (RFC 5321 replies are per recipient at RCPT, per message at
the end of DATA):

- ``delivered``: the server answered 250 to the end of DATA with that recipient accepted;
- ``deferred``: a 4xx answer, or the connection failed or was dropped *before* the whole message
  was sent. The server has not taken the message, so sending again cannot duplicate it; retried
  with backoff (``backoff * 2**k`` seconds, never more than ``max_backoff``);
- ``refused``: a 5xx answer or a TLS/authentication failure: not retried in this run;
- ``unconfirmed``: the whole message was sent and no reply came (connection lost or deadline).
  The server may well have taken it (RFC 5321 section 4.1.1.4 puts responsibility at the 250
  reply, which is what was lost), so it is sent again **at most once**, with the same
  Message-ID, so that a duplicate, if any, is recognisable.

Time is bounded twice: every socket operation by ``timeout``, and each attempt by a
:class:`Deadline` (per message and per run, whichever comes first). A watchdog shuts the socket
down when the deadline passes, so a server trickling its greeting a byte at a time cannot hold a
run forever.

The password is read from the environment variable ``PERPRISK_SMTP_PASSWORD`` and nowhere else,
and it (and the user name, and their base64 forms as AUTH sends them) is replaced by ``***`` in
every server reply this module reports.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any, Literal, cast

from addin.mail.message import MailError, recipients

PASSWORD_ENV = "PERPRISK_SMTP_PASSWORD"

Security = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}

#: Default cap on one wait between attempts (seconds).
MAX_BACKOFF = 60.0

Outcome = Literal["pending", "delivered", "deferred", "refused", "unconfirmed"]


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
    """The server took the message for some recipients and not for others."""


class UnconfirmedSendError(SendError):
    """The whole message was sent but no reply came: it may have been delivered."""


@dataclass(frozen=True)
class Deadline:
    """A point in time (``time.monotonic()``) and what it is called in messages."""

    at: float
    what: str

    @classmethod
    def after(cls, seconds: float, what: str) -> Deadline:
        return cls(time.monotonic() + seconds, what)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @staticmethod
    def earliest(*deadlines: Deadline | None) -> Deadline | None:
        given = [d for d in deadlines if d is not None]
        return min(given, key=lambda d: d.at) if given else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


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
            raise MailError(f"--user needs the password in {PASSWORD_ENV}")
        if self.user and self.security == "none" and not _is_loopback(self.host):
            raise MailError(
                "--no-tls with --user would send the password in clear; use --starttls or --ssl"
            )

    def ssl_context(self) -> ssl.SSLContext:
        return self.context or ssl.create_default_context(cafile=self.cafile)

    def redact(self, text: str) -> str:
        """``text`` with the password and the user (plain and as AUTH encodes them) as ***."""
        secrets: set[str] = set()
        user, password = self.user or "", self.password or ""
        if password:
            secrets |= {password, _b64(password), _b64(f"\0{user}\0{password}"),
                        _b64(f"{user}\0{user}\0{password}")}
        if user:
            secrets |= {user, _b64(user)}
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= 3:
                text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
        return text


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


def _reply_text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_reply_text(exc.smtp_error)}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {_reply_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def classify(exc: BaseException) -> type[SendError]:
    """Temporary or permanent, following the SMTP reply class."""
    if isinstance(exc, SendError):
        return type(exc)
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


# --- the watchdog: a deadline that also interrupts a read in progress ----------------------------

class _Watchdog:
    """Shuts the watched sockets down when the armed deadline passes."""

    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self.fired: Deadline | None = None

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired is not None
        if fired:
            _shutdown(sock)

    def forget(self) -> None:
        with self._lock:
            self._sockets.clear()

    def arm(self, deadline: Deadline | None) -> None:
        self.disarm()
        self.fired = None
        if deadline is None:
            return
        timer = threading.Timer(max(0.0, deadline.remaining()), self._fire, (deadline,))
        timer.daemon = True
        self._timer = timer
        timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self, deadline: Deadline) -> None:
        with self._lock:
            self.fired = deadline
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    # The plain socket call on the descriptor: a blocked read (TLS or not) then returns at once.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedContext:
    """Wraps an SSLContext so each TLS socket is watched before its handshake starts."""

    def __init__(self, context: ssl.SSLContext, watchdog: _Watchdog) -> None:
        self._context = context
        self._watchdog = watchdog

    def wrap_socket(self, sock: socket.socket, server_hostname: str | None = None,
                    **_: Any) -> ssl.SSLSocket:
        wrapped = self._context.wrap_socket(sock, server_hostname=server_hostname,
                                            do_handshake_on_connect=False)
        self._watchdog.watch(wrapped)
        try:
            wrapped.do_handshake()
        except BaseException:
            wrapped.close()
            raise
        return wrapped


class _WatchedSMTP(smtplib.SMTP):
    watchdog: _Watchdog
    tls: _WatchedContext | None = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout, self.source_address)
        self.watchdog.watch(sock)
        if self.tls is not None:
            return self.tls.wrap_socket(sock, server_hostname=host)
        return sock


# --- one connection, one transaction ----------------------------------------------------------

@dataclass(frozen=True)
class Result:
    """What one attempt did for one recipient."""

    outcome: Outcome
    detail: str = ""


def _dot_stuffed(payload: bytes) -> bytes:
    data = re.sub(rb"(?m)^\.", b"..", payload)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpConnection:
    """One session with the server, opened lazily and reopened after a failure."""

    def __init__(self, settings: SmtpSettings) -> None:
        settings.check()
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._watchdog = _Watchdog()

    def open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        smtp = _WatchedSMTP(timeout=s.timeout)
        smtp.watchdog = self._watchdog
        smtp._host = s.host  # type: ignore[attr-defined]  # STARTTLS checks the certificate for it
        if s.security == "ssl":
            smtp.tls = _WatchedContext(s.ssl_context(), self._watchdog)
        try:
            code, greeting = smtp.connect(s.host, s.resolved_port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, greeting)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise PermanentSendError(f"{s.host} does not offer STARTTLS")
                smtp.starttls(context=cast(ssl.SSLContext,
                                           _WatchedContext(s.ssl_context(), self._watchdog)))
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
        except BaseException:
            _quietly_close(smtp)
            self._watchdog.forget()
            raise
        self._smtp = smtp
        return smtp

    def transact(self, msg: EmailMessage, rcpts: Sequence[str],
                 deadline: Deadline | None = None) -> dict[str, Result]:
        """One attempt to send ``msg`` to ``rcpts``; never raises for a send failure.

        Returns each recipient's :class:`Result`. Server text in the details is redacted.
        """
        results: dict[str, Result] = {}
        accepted: list[str] = []
        data_sent = False
        redact = self.settings.redact
        if deadline is not None and deadline.remaining() <= 0:
            why = f"not attempted: {deadline.what} had passed"
            return {r: Result("deferred", why) for r in rcpts}
        self._watchdog.arm(deadline)
        try:
            smtp = self.open()
            sender = msg["From"].addresses[0].addr_spec
            options: list[str] = []
            policy = SMTP_POLICY
            if not all(a.isascii() for a in [sender, *rcpts]):
                if not smtp.has_extn("smtputf8"):
                    raise PermanentSendError(
                        f"{self.settings.host} does not offer SMTPUTF8, needed for a non-ASCII "
                        "address")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
                policy = SMTP_POLICY.clone(utf8=True)
            payload = _dot_stuffed(msg.as_bytes(policy=policy))
            code, text = smtp.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, sender)
            for rcpt in rcpts:
                code, text = smtp.rcpt(rcpt)
                if code in (250, 251):
                    accepted.append(rcpt)
                    continue
                outcome: Outcome = "deferred" if 400 <= code < 500 else "refused"
                results[rcpt] = Result(outcome, redact(f"{code} {_reply_text(text)}"))
                if code == 421:  # the server is closing the session
                    raise smtplib.SMTPServerDisconnected(f"{code} {_reply_text(text)}")
            if not accepted:
                self._reset(smtp)
                return results
            code, text = smtp.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, text)
            smtp.send(payload)
            data_sent = True
            code, text = smtp.getreply()
            detail = redact(f"{code} {_reply_text(text)}")
            final: Outcome = ("delivered" if code == 250 else
                              "deferred" if 400 <= code < 500 else "refused")
            for rcpt in accepted:
                results[rcpt] = Result(final, detail)
            if code == 421:
                self.close(graceful=False)
        except Exception as exc:
            fired = self._watchdog.fired
            self.close(graceful=False)  # the session is in an unknown state: no QUIT
            if fired is not None:
                kind: type[SendError] = TemporarySendError
                detail = f"gave up: {fired.what} passed"
            else:
                kind = classify(exc)
                detail = redact(str(exc) if isinstance(exc, SendError) else _describe(exc))
            for rcpt in rcpts:
                if rcpt in results:
                    continue
                if data_sent and rcpt in accepted:
                    results[rcpt] = Result(
                        "unconfirmed", f"no reply after the whole message was sent ({detail})")
                else:
                    results[rcpt] = Result(
                        "deferred" if kind is TemporarySendError else "refused", detail)
        finally:
            self._watchdog.disarm()
        return results

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()

    def send(self, msg: EmailMessage) -> None:
        """Send once to every recipient; raise a SendError unless all were delivered."""
        results = self.transact(msg, recipients(msg))
        error = _error_for(results, 1)
        if error is not None:
            raise error

    def close(self, *, graceful: bool = True) -> None:
        """End the session: QUIT (bounded in time) when ``graceful``, else just hang up."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            if graceful:
                self._watchdog.arm(Deadline.after(min(self.settings.timeout, 10.0),
                                                  "the time allowed for QUIT"))
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    _quietly_close(smtp)
                finally:
                    self._watchdog.disarm()
            else:
                _quietly_close(smtp)
        self._watchdog.forget()

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


# --- retries -------------------------------------------------------------------------------------

@dataclass
class RecipientStatus:
    """Where one recipient stands; ``resent`` = already sent again after an unconfirmed try."""

    outcome: Outcome = "pending"
    detail: str = ""
    resent: bool = False

    @property
    def retryable(self) -> bool:
        if self.outcome == "unconfirmed":
            return not self.resent
        return self.outcome in ("pending", "deferred")


@dataclass
class Delivery:
    """The result of :func:`deliver`: each recipient's status and what happened on the way."""

    status: dict[str, RecipientStatus]
    attempts: int = 0
    notes: list[str] = field(default_factory=list)
    resent_unconfirmed: list[str] = field(default_factory=list)

    def having(self, *outcomes: Outcome) -> list[str]:
        return [r for r, s in self.status.items() if s.outcome in outcomes]

    @property
    def complete(self) -> bool:
        return all(s.outcome == "delivered" for s in self.status.values())


def _error_for(results: Mapping[str, Result | RecipientStatus], attempts: int) -> SendError | None:
    bad = {r: s for r, s in results.items() if s.outcome != "delivered"}
    if not bad:
        return None
    text = "; ".join(f"{r}: {s.detail}" for r, s in bad.items())
    delivered = [r for r, s in results.items() if s.outcome == "delivered"]
    if delivered:
        return PartialDeliveryError(
            f"delivered to {', '.join(delivered)}; not to " + text, attempts=attempts)
    outcomes = {s.outcome for s in bad.values()}
    if "unconfirmed" in outcomes:
        return UnconfirmedSendError(text, attempts=attempts)
    if outcomes <= {"deferred", "pending"}:
        return TemporarySendError(text, attempts=attempts)
    return PermanentSendError(text, attempts=attempts)


def deliver(
    connection: SmtpConnection,
    msg: EmailMessage,
    status: Mapping[str, RecipientStatus] | Iterable[str] | None = None,
    *,
    attempts: int = 4,
    backoff: float = 2.0,
    max_backoff: float = MAX_BACKOFF,
    deadline: Deadline | None = None,
    sleep: Callable[[float], None] = time.sleep,
    before_attempt: Callable[[Sequence[str], Mapping[str, RecipientStatus]], None] | None = None,
) -> Delivery:
    """Send ``msg`` to every recipient not yet delivered, retrying only those worth it.

    ``status`` is where each recipient stands (a rerun passes what the send log says; by default
    every envelope recipient of ``msg`` is pending). ``before_attempt(targets, status)`` runs
    before each attempt, so a caller can write down who is about to be sent to. Waits between
    attempts are ``backoff * 2**k`` capped at ``max_backoff``; no wait runs past ``deadline``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1 (got {attempts})")
    if status is None:
        status = recipients(msg)
    if isinstance(status, Mapping):
        current = {r: RecipientStatus(s.outcome, s.detail, s.resent) for r, s in status.items()}
    else:
        current = {r: RecipientStatus() for r in status}
    delivery = Delivery(current)
    for attempt in range(1, attempts + 1):
        targets = [r for r, s in current.items() if s.retryable]
        if not targets:
            break
        for rcpt in targets:
            if current[rcpt].outcome == "unconfirmed":
                current[rcpt].resent = True
                delivery.resent_unconfirmed.append(rcpt)
        if before_attempt is not None:
            before_attempt(targets, current)
        delivery.attempts = attempt
        for rcpt, result in connection.transact(msg, targets, deadline).items():
            state = current[rcpt]
            if state.resent and result.outcome != "delivered":
                # Sent once already with no reply: it may be there. Never a third copy.
                state.outcome, state.detail = "unconfirmed", result.detail
            else:
                state.outcome, state.detail = result.outcome, result.detail
        if not any(s.retryable for s in current.values()) or attempt == attempts:
            break
        wait = min(backoff * 2 ** (attempt - 1), max_backoff)
        if deadline is not None and deadline.remaining() < wait:
            delivery.notes.append(f"stopped retrying: {deadline.what} would pass before the "
                                  f"next attempt")
            break
        sleep(wait)
    return delivery


def send_with_retries(
    connection: SmtpConnection,
    msg: EmailMessage,
    *,
    attempts: int = 4,
    backoff: float = 2.0,
    max_backoff: float = MAX_BACKOFF,
    deadline: Deadline | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send ``msg`` to all its recipients with :func:`deliver`; return the attempts used.

    Raises a SendError (PartialDeliveryError, UnconfirmedSendError, TemporarySendError or
    PermanentSendError) unless every recipient got it.
    """
    delivery = deliver(connection, msg, attempts=attempts, backoff=backoff,
                       max_backoff=max_backoff, deadline=deadline, sleep=sleep)
    error = _error_for(delivery.status, delivery.attempts)
    if error is not None:
        raise error
    return delivery.attempts

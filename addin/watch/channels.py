"""Where alerts go: webhooks (a JSON POST, Slack, Discord, a Telegram bot) and email.

Each channel takes an :class:`~addin.watch.levels.Event` and its outbox id and either returns
(the receiver accepted it: any 2xx) or raises :class:`ChannelError` with one line saying what
went wrong; the watch keeps the event and tries again on the next tick.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from addin.watch.levels import Event

__all__ = ["Channel", "ChannelError", "Email", "Webhook", "parse_webhook"]

WebhookKind = Literal["json", "slack", "discord", "telegram"]
_EMOJI = {"red": "\U0001f534", "amber": "\U0001f7e0", "green": "\U0001f7e2"}


class ChannelError(Exception):
    """A channel refused or could not take a message (one line)."""


class Channel:
    name: str

    def send(self, event: Event, message_id: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class Webhook(Channel):
    """A POST of the event to ``url``, shaped for ``kind``.

    ``json``: ``{"id", "level", "previous", "subject", "text", "key"}``; ``slack``:
    ``{"text"}`` (incoming webhook); ``discord``: ``{"content"}``; ``telegram``: the bot API's
    ``sendMessage`` (``url`` is ``https://api.telegram.org/bot<token>/sendMessage?chat_id=<id>``:
    the token is part of the URL and never printed).
    """

    kind: WebhookKind
    url: str
    timeout: float = 10.0

    @property
    def name(self) -> str:  # type: ignore[override]
        """``kind:host#digest``: one name per URL, without the URL's secrets (a bot token)."""
        digest = hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:8]
        return f"{self.kind}:{urlsplit(self.url).hostname}#{digest}"

    def payload(self, event: Event, message_id: str) -> dict[str, object]:
        line = f"{_EMOJI.get(event.level, '')} {event.subject}: {event.text}".strip()
        if self.kind == "slack":
            return {"text": line}
        if self.kind == "discord":
            return {"content": line}
        if self.kind == "telegram":
            chat = dict(p.split("=", 1) for p in urlsplit(self.url).query.split("&") if "=" in p)
            return {"chat_id": chat.get("chat_id", ""), "text": line}
        return {"id": message_id, "key": event.key, "level": event.level,
                "previous": event.previous, "subject": event.subject, "text": event.text}

    def send(self, event: Event, message_id: str) -> None:
        url = self.url.split("?", 1)[0] if self.kind == "telegram" else self.url
        data = json.dumps(self.payload(event, message_id)).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": message_id,
            "User-Agent": "perprisk-watch"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"{self.name}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"{self.name}: cannot reach it ({reason})") from None
        if not 200 <= status < 300:
            raise ChannelError(f"{self.name}: HTTP {status}")


def parse_webhook(spec: str) -> Webhook:
    """``KIND=URL`` (kind json, slack, discord or telegram) or a bare URL (json)."""
    kind, sep, url = spec.partition("=")
    if not sep or "://" in kind:
        kind, url = "json", spec
    kind = kind.strip().lower()
    if kind not in ("json", "slack", "discord", "telegram"):
        raise ValueError(f"--webhook {spec!r}: the kind must be json, slack, discord or "
                         "telegram (KIND=URL)")
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"--webhook {kind}: expected an http(s) URL")
    return Webhook(kind, url)  # type: ignore[arg-type]


@dataclass
class Email(Channel):
    """Alerts by email through the same SMTP sender as ``perprisk email``."""

    send_message: Callable[[str, str, str], None]  # (subject, text, message id)
    to: str

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"email:{self.to}"

    def send(self, event: Event, message_id: str) -> None:
        try:
            self.send_message(event.subject, f"{event.subject}\n\n{event.text}\n", message_id)
        except Exception as exc:  # the SMTP layer's errors are one line each
            raise ChannelError(f"{self.name}: {str(exc).splitlines()[0] if str(exc) else exc}"
                               ) from None

"""Read-only exchange API keys for ``perprisk fetch``, and keeping them out of everything we write.

Keys come from the environment (``PERPRISK_<EXCHANGE>_API_KEY``, ``_SECRET``, ``_PASSWORD``, with
EXCHANGE the upper-cased ccxt id, e.g. ``PERPRISK_BINANCEUSDM_API_KEY``; Hyperliquid reads with a
wallet address, ``PERPRISK_HYPERLIQUID_WALLET_ADDRESS``) or from a TOML file with one table per
exchange::

    [bybit]
    api_key = "..."
    secret = "..."

    [okx]
    api_key = "..."
    secret = "..."
    password = "..."

    [hyperliquid]
    wallet_address = "0x..."

The environment wins over the file, field by field. The file must not be readable by the group or
by others (``chmod 600 FILE``); one that is is refused. No secret value appears in a message of
this module; ``Redactor`` scrubs them from any text (ccxt error messages included).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Field name in the TOML file -> suffix of the environment variable.
FIELDS: dict[str, str] = {
    "api_key": "API_KEY", "secret": "SECRET", "password": "PASSWORD",
    "wallet_address": "WALLET_ADDRESS",
}
#: Fields whose values are secret (a wallet address is public).
SECRET_FIELDS = ("api_key", "secret", "password")
#: Venues that read an account with a public wallet address instead of an API key.
ADDRESS_VENUES = frozenset({"hyperliquid"})
#: Venues whose API keys come with a passphrase.
PASSWORD_VENUES = frozenset({"okx", "kucoin", "kucoinfutures", "bitget"})

MASK = "***"


class KeyConfigError(ValueError):
    """The key configuration cannot be used; the message says how to fix it (no secret in it)."""


@dataclass(frozen=True)
class Credentials:
    """One venue's credentials. ``repr`` never shows a value."""

    venue: str
    api_key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    wallet_address: str | None = field(default=None, repr=False)

    def can_read_account(self) -> bool:
        """True when the account (positions, balances) can be read with these credentials."""
        if self.venue in ADDRESS_VENUES:
            return bool(self.wallet_address)
        if self.venue in PASSWORD_VENUES and not self.password:
            return False
        return bool(self.api_key and self.secret)

    def secrets(self) -> list[str]:
        return [v for v in (self.api_key, self.secret, self.password) if v]

    def ccxt_config(self) -> dict[str, str]:
        """The ccxt constructor fields these credentials set."""
        names = {"api_key": "apiKey", "secret": "secret", "password": "password",
                 "wallet_address": "walletAddress"}
        return {names[k]: v for k in FIELDS if (v := getattr(self, k))}


def env_name(venue: str, field_name: str) -> str:
    return f"PERPRISK_{re.sub(r'[^A-Z0-9]', '_', venue.upper())}_{FIELDS[field_name]}"


def needed_env_names(venue: str) -> list[str]:
    """The environment variables a venue needs to read an account."""
    if venue in ADDRESS_VENUES:
        return [env_name(venue, "wallet_address")]
    wanted = ["api_key", "secret"] + (["password"] if venue in PASSWORD_VENUES else [])
    return [env_name(venue, f) for f in wanted]


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "perprisk" / "keys.toml"


def read_config(path: Path) -> dict[str, dict[str, str]]:
    """The key file's tables, after checking that only its owner can read it."""
    try:
        info = path.stat()
    except OSError as exc:
        raise KeyConfigError(f"{path}: cannot read the key file ({exc.strerror or exc})") from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyConfigError(
            f"{path}: the key file is readable by others (mode {stat.S_IMODE(info.st_mode):o}); "
            f"refused. Fix it with: chmod 600 {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyConfigError(f"{path}: cannot read the key file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:  # its message gives a position, never the text
        raise KeyConfigError(f"{path}: not valid TOML ({exc})") from None
    out: dict[str, dict[str, str]] = {}
    for venue, table in data.items():
        if not isinstance(table, dict):
            raise KeyConfigError(f"{path}: {venue} must be a table ([{venue}] with api_key, "
                                 "secret, ...)")
        unknown = sorted(set(table) - set(FIELDS))
        if unknown:
            raise KeyConfigError(f"{path}: [{venue}] has unknown field(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(FIELDS)}")
        bad = [k for k, v in table.items() if not isinstance(v, str)]
        if bad:
            raise KeyConfigError(f"{path}: [{venue}] {', '.join(bad)} must be text (quoted)")
        out[str(venue).lower()] = {k: str(v).strip() for k, v in table.items()}
    return out


def load_credentials(venues: Iterable[str], *, config: Path | None = None,
                     environ: Mapping[str, str] | None = None) -> dict[str, Credentials]:
    """Credentials for each venue from the environment, then the key file.

    ``config`` None reads the default file if it exists; a given ``config`` must exist.
    """
    env = os.environ if environ is None else environ
    path = config if config is not None else default_config_path(env)
    tables = read_config(path) if config is not None or path.is_file() else {}
    out: dict[str, Credentials] = {}
    for venue in venues:
        table = tables.get(venue, {})
        values: dict[str, Any] = {}
        for name in FIELDS:
            value = env.get(env_name(venue, name), "").strip() or table.get(name) or None
            values[name] = value
        out[venue] = Credentials(venue=venue, **values)
    return out


class Redactor:
    """Replaces every known secret in text (or in nested data) with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for value in secrets:
            # A very short value would mangle every message; no real key is that short.
            if value and len(value) >= 4 and value not in self._secrets:
                self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, MASK)
        return text

    def scrub(self, data: Any) -> Any:
        """A copy of JSON-like ``data`` with every secret masked, in keys and values."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, Mapping):
            return {self(str(k)) if isinstance(k, str) else k: self.scrub(v)
                    for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.scrub(v) for v in data]
        return data


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record it passes (ccxt logs request headers,
    API key included, at debug level)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor:
            try:
                message = record.getMessage()
            except Exception:  # a record whose arguments do not format: leave it as it is
                return True
            record.msg = self.redactor(message)
            record.args = None
        return True

"""Fixtures for ``perprisk fetch``: the replay server, fake keys, and a runner of the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from addin.accounts import commands
from addin.cli import main
from tests.addin.fetch.replay_server import ReplayServer, load_routes

VENUES = ("binanceusdm", "binancecoinm", "bybit", "okx", "gate", "hyperliquid")
WALLET = "0x0000000000000000000000000000000000000001"

#: Distinctive fake credentials: none of these strings may appear in anything fetch writes.
FAKE_KEYS: dict[str, dict[str, str]] = {
    venue: {"API_KEY": f"pk{venue}KEYq7Zx31", "SECRET": f"pk{venue}SECRETw9Vb52",
            "PASSWORD": f"pk{venue}PASSr4Tn88"}
    for venue in VENUES if venue != "hyperliquid"
}
SECRETS = [value for keys in FAKE_KEYS.values() for value in keys.values()]


@pytest.fixture(scope="session")
def replay_server() -> Iterator[ReplayServer]:
    server = ReplayServer(load_routes()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def replay(replay_server: ReplayServer) -> Iterator[ReplayServer]:
    """The session's replay server, with no fault and an empty request log."""
    replay_server.reset()
    routes = list(replay_server.routes)
    yield replay_server
    replay_server.routes = routes
    replay_server.reset()


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Fake keys for every venue in the environment; no key file of the user is read."""
    for name in list(__import__("os").environ):
        if name.startswith("PERPRISK_"):
            monkeypatch.delenv(name)
    # Beside the test's folder, not in it: libraries (matplotlib) create their config there.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path.parent / f"{tmp_path.name}-config"))
    for venue, keys in FAKE_KEYS.items():
        for suffix, value in keys.items():
            monkeypatch.setenv(f"PERPRISK_{venue.upper()}_{suffix}", value)
    monkeypatch.setenv("PERPRISK_HYPERLIQUID_WALLET_ADDRESS", WALLET)
    monkeypatch.setattr(commands, "RETRY_BACKOFF", 0.01)
    return FAKE_KEYS


@dataclass
class Run:
    code: int
    out: str
    err: str
    path: Path

    def export(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def run_fetch(replay: ReplayServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Any:
    """Run ``perprisk fetch`` against the replay server; returns a ``Run``."""

    def run(*venues: str, out: str = "export.json", extra: tuple[str, ...] = (),
            api_base: bool = True) -> Run:
        path = tmp_path / out
        argv = ["fetch", "--out", str(path), "--timeout", "5", "--quiet"]
        for venue in venues:
            argv += ["--exchange", venue]
        if api_base:
            argv += ["--api-base", replay.url]
        argv += list(extra)
        code = main(argv)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err, path)

    return run


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode("utf-8") if isinstance(text, str) else text
        for secret in SECRETS:
            assert secret.encode() not in data, f"secret {secret[:6]}... leaked"

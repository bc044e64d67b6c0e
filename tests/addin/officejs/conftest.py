"""A real ``perprisk serve`` on 127.0.0.1 (HTTPS with its own certificate) for the tests."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Small enough that a test can exceed it cheaply, large enough for every call the tests make.
TEST_MAX_BODY = 65_536


@dataclass(frozen=True)
class Server:
    base_url: str
    authority: Path
    port: int
    output: Path  # what perprisk serve printed

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.authority))

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url + path, context=self.context(), timeout=30) as r:
            body: bytes = r.read()
            return body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(
    process: subprocess.Popen[str], port: int, log: Path, deadline: float = 60.0
) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            raise AssertionError(f"perprisk serve stopped (exit code {process.returncode}): "
                                 f"{log.read_text(encoding='utf-8')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"perprisk serve did not listen on port {port} in {deadline} s")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    certificates = tmp_path_factory.mktemp("https")
    output = certificates.parent / "serve-output.txt"
    port = free_port()
    with output.open("w", encoding="utf-8") as printed:
        process = subprocess.Popen(
            [sys.executable, "-m", "addin.cli", "serve", "--port", str(port),
             "--cert-dir", str(certificates), "--max-body", str(TEST_MAX_BODY)],
            stdout=printed, stderr=subprocess.STDOUT, text=True,
        )
        try:
            wait_until_up(process, port, output)
            yield Server(f"https://localhost:{port}", certificates / "perprisk-ca.pem", port,
                         output)
        finally:
            process.terminate()
            process.wait(timeout=30)

"""What ``perprisk serve`` lets through: loopback clients only (unless allowed), bodies up to a
limit, CORS for Office's origins only, and the add-in files it serves."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from addin.cli import main
from addin.officejs import files
from addin.officejs.server import create_app
from tests.addin.officejs.conftest import TEST_MAX_BODY, Server, free_port


def _request(
    host: str, port: int, method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection: http.client.HTTPConnection = (
        http.client.HTTPSConnection(host, port, context=context, timeout=30) if context
        else http.client.HTTPConnection(host, port, timeout=30)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _own_address() -> str:
    """This machine's address on its network (not loopback), or skip."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            pytest.skip("this machine has no network address other than loopback")
        address: str = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no network address other than loopback")
    return address


class _Running:
    """``create_app`` under a real uvicorn listening on every address (plain HTTP)."""

    def __init__(self, **options: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(create_app(**options), host="0.0.0.0", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Running:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


CALL = json.dumps({"args": [[[0.5]], [[60000]]]}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def listening_everywhere() -> Iterator[tuple[_Running, _Running]]:
    with _Running() as strict, _Running(allow_remote=True) as open_:
        yield strict, open_


def test_other_computers_are_refused_unless_allowed(
    listening_everywhere: tuple[_Running, _Running],
) -> None:
    strict, open_ = listening_everywhere
    address = _own_address()
    status, _, body = _request(address, strict.port, "POST", "/udf/PERP_NOTIONAL", CALL,
                               JSON_HEADERS)
    assert status == 403
    assert "this computer only" in json.loads(body)["error"]
    status, _, body = _request("127.0.0.1", strict.port, "POST", "/udf/PERP_NOTIONAL", CALL,
                               JSON_HEADERS)
    assert (status, json.loads(body)) == (200, {"result": [[30000.0]]})
    status, _, body = _request(address, open_.port, "POST", "/udf/PERP_NOTIONAL", CALL,
                               JSON_HEADERS)
    assert (status, json.loads(body)) == (200, {"result": [[30000.0]]})


def test_the_command_refuses_a_network_address_without_allow_remote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "perprisk serve: --host 0.0.0.0 must be a loopback address unless --allow-remote"
    )
    assert main(["serve", "--max-body", "0", "--port", "1"]) == 2
    assert "--max-body must be > 0 (got 0)" in capsys.readouterr().err


def test_bodies_over_the_limit_get_413_declared_or_streamed(server: Server) -> None:
    big = b"[" + b" " * TEST_MAX_BODY + b"]"
    context = server.context()
    status, _, body = _request("127.0.0.1", server.port, "POST", "/udf/PERP_NOTIONAL", big,
                               JSON_HEADERS, context)
    assert status == 413
    assert json.loads(body) == {"error": f"request body must be at most {TEST_MAX_BODY} bytes"}

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * (TEST_MAX_BODY // 3)

    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context,
                                             timeout=30)
    try:
        connection.request("POST", "/udf/PERP_NOTIONAL", body=chunks(),
                           headers={**JSON_HEADERS, "Transfer-Encoding": "chunked"},
                           encode_chunked=True)
        assert connection.getresponse().status == 413
    finally:
        connection.close()
    status, _, _ = _request("127.0.0.1", server.port, "POST", "/udf/PERP_NOTIONAL", CALL,
                            JSON_HEADERS, context)
    assert status == 200


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://excel.officeapps.live.com", True),
        ("https://localhost:{port}", True),
        ("https://example.com", False),
        ("https://officeapps.live.com.example.com", False),
        ("http://excel.officeapps.live.com", False),
    ],
)
def test_cors_answers_office_and_the_own_origin_only(
    server: Server, origin: str, allowed: bool
) -> None:
    origin = origin.format(port=server.port)
    status, headers, _ = _request(
        "127.0.0.1", server.port, "OPTIONS", "/udf/PERP_NOTIONAL",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
        context=server.context(),
    )
    if allowed:
        assert status == 200
        assert headers["access-control-allow-origin"] == origin
    else:
        assert status == 400
        assert "access-control-allow-origin" not in headers


def test_unknown_function_and_malformed_bodies_get_one_line(server: Server) -> None:
    context = server.context()
    for path, body, status, error in [
        ("/udf/PERP_NOPE", CALL, 404, "no cell function named PERP_NOPE"),
        ("/udf/PERP_NOTIONAL", b"not json", 400, "request body must be JSON"),
        ("/udf/PERP_NOTIONAL", b'{"args": 3}', 400, 'request body must be {"args": [...]}'),
    ]:
        got, _, answer = _request("127.0.0.1", server.port, "POST", path, body, JSON_HEADERS,
                                  context)
        assert (got, json.loads(answer)) == (status, {"error": error})


def test_served_files_are_the_generated_ones(server: Server) -> None:
    assert server.get("/functions.js").decode() == files.functions_js(server.base_url)
    assert json.loads(server.get("/functions.json")) == files.functions_metadata()
    assert server.get("/manifest.xml").decode() == files.manifest_xml(server.base_url)
    assert b"custom-functions-runtime.js" in server.get("/functions.html")
    for size in (32, 64):
        icon = server.get(f"/icon-{size}.png")
        assert icon[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(icon[16:20], "big") == size  # IHDR width


def test_the_certificate_is_checked_for_localhost(server: Server) -> None:
    """The server's certificate verifies against the local authority, by name."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw, \
            server.context().wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() is not None
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")


def test_a_simple_cross_origin_call_from_office_gets_its_answer_readable(server: Server) -> None:
    """What Excel's JavaScript-only runtime sends: a POST of text/plain, no preflight."""
    for origin, readable in (("https://excel.officeapps.live.com", True),
                             ("https://example.com", False)):
        status, headers, body = _request(
            "127.0.0.1", server.port, "POST", "/udf/PERP_NOTIONAL", CALL,
            {"Content-Type": "text/plain", "Origin": origin}, server.context(),
        )
        assert (status, json.loads(body)) == (200, {"result": [[30000.0]]})
        assert (headers.get("access-control-allow-origin") == origin) is readable
    assert '"Content-Type": "text/plain"' in files.functions_js(server.base_url)


def test_first_start_says_how_to_trust_the_certificate_and_sideload(server: Server) -> None:
    printed = server.output.read_text(encoding="utf-8")
    authority = str(server.authority)
    assert f"made the HTTPS certificate in {server.authority.parent}" in printed
    assert f'/Library/Keychains/System.keychain "{authority}"' in printed  # macOS
    assert f'certutil -user -addstore Root "{authority}"' in printed  # Windows
    assert f"Sideload {server.base_url}/manifest.xml in Excel" in printed


def test_the_command_names_a_bad_or_busy_port(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err.strip() == (
        "perprisk serve: --port must be 1 to 65535 (got 70000)")
    assert main(["serve", "--port", str(server.port)]) == 1  # the test server holds it
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"perprisk serve: port {server.port} on 127.0.0.1 cannot be used (")
    assert error.endswith("); choose another with --port") and "\n" not in error

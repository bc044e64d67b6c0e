"""A local HTTP server that replays recorded exchange responses, for testing ``perprisk fetch``
through the real ccxt library (its signing, parsing and error mapping) without the internet.

Recordings live in ``tests/reference/exchanges/<ccxt id>/*.json``; each file is one route::

    {"_source": "the API documentation page the shape follows",
     "method": "GET", "path": "/fapi/v2/positionRisk",
     "query": {"symbol": "BTCUSDT"},        # optional: these query parameters must match
     "body": {"type": "meta"},              # optional: these JSON body keys must match (POST)
     "status": 200, "response": ...}        # the JSON body sent back

A request is matched on (method, path); among the routes of that pair the one whose ``query``
and ``body`` constraints all hold and that names the most of them wins. Anything unmatched is
logged in ``server.unmatched`` and answered 404 with a JSON body.

Faults, per test: ``server.fault = {"/fapi/": ("status", 429), "/v5/": "hang", "/api/v5": "close"}``
maps a path prefix to ``("status", code[, body])`` (answered instead of the recording),
``"hang"`` (no answer until the client gives up) or ``"close"`` (connection closed with no
answer). ``("status", 429, body, n)`` answers the fault ``n`` times, then the recording.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RECORDINGS = Path(__file__).resolve().parents[2] / "reference" / "exchanges"


@dataclass
class Route:
    venue: str
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    response: Any = None
    source: str = ""
    file: str = ""

    def matches(self, query: Mapping[str, str], body: Mapping[str, Any]) -> bool:
        return (all(query.get(k) == str(v) for k, v in self.query.items())
                and all(body.get(k) == v for k, v in self.body.items()))


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    status: int


def load_routes(venues: list[str] | None = None, root: Path = RECORDINGS) -> list[Route]:
    routes: list[Route] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if venues is not None and folder.name not in venues:
            continue
        for file in sorted(folder.glob("*.json")):
            data = json.loads(file.read_text(encoding="utf-8"))
            routes.append(Route(
                venue=folder.name, method=data.get("method", "GET").upper(), path=data["path"],
                query={k: str(v) for k, v in data.get("query", {}).items()},
                body=dict(data.get("body", {})), status=int(data.get("status", 200)),
                response=data.get("response"), source=data.get("_source", ""),
                file=f"{folder.name}/{file.name}"))
    return routes


class ReplayServer:
    """Threaded replay server on 127.0.0.1 (an ephemeral port)."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.fault: dict[str, Any] = {}
        self.seen: list[Seen] = []
        self.unmatched: list[Seen] = []
        self._lock = threading.Lock()
        self._fault_counts: dict[str, int] = {}
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._handle(self)

            def do_POST(self) -> None:
                server._handle(self)

            def do_DELETE(self) -> None:
                server._handle(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a connection the "close" fault dropped: expected, not news

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset(self) -> None:
        with self._lock:
            self.fault = {}
            self._fault_counts = {}
            self.seen.clear()
            self.unmatched.clear()

    def requests_to(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    # ------------------------------------------------------------------------------------------

    def _find(self, method: str, path: str, query: Mapping[str, str],
              body: Mapping[str, Any]) -> Route | None:
        best: Route | None = None
        for route in self.routes:
            if route.method != method or route.path != path or not route.matches(query, body):
                continue
            if best is None or len(route.query) + len(route.body) > len(best.query) + len(
                    best.body):
                best = route
        return best

    def _fault_for(self, path: str) -> Any:
        with self._lock:
            for prefix, fault in self.fault.items():
                if not path.startswith(prefix):
                    continue
                if isinstance(fault, tuple) and len(fault) >= 4:
                    used = self._fault_counts.get(prefix, 0)
                    if used >= fault[3]:
                        return None
                    self._fault_counts[prefix] = used + 1
                return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        body: dict[str, Any] = {}
        if raw:
            try:
                parsed = json.loads(raw)
                body = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                body = dict(parse_qsl(raw, keep_blank_values=True))
        seen = Seen(handler.command, parts.path, query, dict(handler.headers.items()), raw, 0)
        with self._lock:
            self.seen.append(seen)
        fault = self._fault_for(parts.path)
        if fault == "hang":
            self._stop.wait(30)
            return
        if fault == "close":
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(fault, tuple) and fault[0] == "status":
            status = int(fault[1])
            payload: Any = fault[2] if len(fault) > 2 and fault[2] is not None else {
                "code": status, "msg": f"replayed fault {status}"}
            self._send(handler, seen, status, _echo_key(payload, handler.headers))
            return
        route = self._find(handler.command, parts.path, query, body)
        if route is None:
            with self._lock:
                self.unmatched.append(seen)
            self._send(handler, seen, 404, {"error": f"no recording for {handler.command} "
                                                    f"{parts.path}"})
            return
        self._send(handler, seen, route.status, _echo_key(route.response, handler.headers))

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, seen: Seen, status: int, payload: Any) -> None:
        seen.status = status
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass


#: Headers that carry the API key, per venue (Binance, Bybit, OKX, Gate).
KEY_HEADERS = ("X-MBX-APIKEY", "X-BAPI-API-KEY", "OK-ACCESS-KEY", "KEY")
#: A recording may hold this placeholder where the exchange echoes the caller's API key (Bybit's
#: /v5/user/query-api does): the replay puts the key of the request there, as the exchange would.
ECHO_KEY = "<<request api key>>"


def _echo_key(payload: Any, headers: Any) -> Any:
    key = next((headers.get(h) for h in KEY_HEADERS if headers.get(h)), "")
    if not key:
        return payload
    return json.loads(json.dumps(payload).replace(ECHO_KEY, json.dumps(key)[1:-1]))


def closed_port() -> int:
    """A local port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(routes: list[Route]) -> Iterator[ReplayServer]:
    server = ReplayServer(routes).start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":  # python -m tests.addin.fetch.replay_server: serve until Ctrl-C
    srv = ReplayServer(load_routes()).start()
    print(srv.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()

"""``perprisk serve``: the HTTPS server behind the Office.js add-in (FastAPI + uvicorn).

Routes: ``GET /functions.json``, ``/functions.js``, ``/functions.html``, ``/manifest.xml``,
``/icon-32.png``, ``/icon-64.png``, and ``POST /udf/{name}`` with ``{"args": [...]}`` (one 2-D
array or ``null`` per argument), which answers ``{"result": [[...]]}`` or, for an input Excel's
cell would answer with a message, HTTP 400 ``{"error": "<the one-line message>"}``. The add-in
sends that JSON as ``text/plain``: a "simple" request, the only kind of cross-origin request
Excel's JavaScript-only custom-functions runtime makes.

Guards: clients other than this computer (loopback) get 403 unless ``allow_remote``; a request
body over ``max_body`` bytes gets 413 before it is read in full; cross-origin requests are
allowed only from the server's own origin and Office's web hosts, for GET and POST.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from addin.excel import spec
from addin.officejs import files
from addin.officejs.evaluate import CellError, evaluate

__all__ = ["MAX_BODY", "OFFICE_ORIGINS", "create_app"]

#: Largest request body accepted: a range of about a hundred thousand cells.
MAX_BODY = 8 * 1024 * 1024

#: Origins of Excel on the web and of Office's add-in hosts (besides the server's own).
OFFICE_ORIGINS = (
    r"https://([a-z0-9-]+\.)*(officeapps\.live\.com|office\.com|office365\.com|"
    r"microsoft365\.com|sharepoint\.com|officeppe\.com)"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length",
                                                              str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


class _Guard:
    """Loopback-only clients and a body size limit, checked before the app sees a request."""

    def __init__(self, app: ASGIApp, *, allow_remote: bool, max_body: int) -> None:
        self.app = app
        self.allow_remote = allow_remote
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if not self.allow_remote and not _is_loopback(client[0] if client else None):
            await _refuse(send, 403, "perprisk serve answers this computer only "
                                     "(start it with --allow-remote to change that)")
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _refuse(send, 413, f"request body must be at most {self.max_body} bytes")
            return
        # Read the whole body here (stopping at the limit), then hand it to the app.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body:
                await _refuse(send, 413, f"request body must be at most {self.max_body} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def create_app(
    base_url: str = files.BASE_URL, *, allow_remote: bool = False, max_body: int = MAX_BODY
) -> ASGIApp:
    """The add-in's ASGI application, with files that point at ``base_url``."""
    app = FastAPI(title="perprisk", docs_url=None, redoc_url=None, openapi_url=None)
    script = files.functions_js(base_url)
    metadata = json.dumps(files.functions_metadata(), indent=2)
    manifest = files.manifest_xml(base_url)
    page = files.functions_html()
    icons = {size: files.icon_png(size) for size in (32, 64)}
    names = {function.name for function in spec.functions()}

    @app.get("/functions.json")
    def metadata_file() -> Response:
        return Response(metadata, media_type="application/json")

    @app.get("/functions.js")
    def script_file() -> Response:
        return Response(script, media_type="text/javascript")

    @app.get("/functions.html")
    def page_file() -> Response:
        return Response(page, media_type="text/html")

    @app.get("/manifest.xml")
    def manifest_file() -> Response:
        return Response(manifest, media_type="application/xml")

    @app.get("/icon-32.png")
    def small_icon() -> Response:
        return Response(icons[32], media_type="image/png")

    @app.get("/icon-64.png")
    def large_icon() -> Response:
        return Response(icons[64], media_type="image/png")

    @app.get("/")
    def index() -> Response:
        return Response(
            "perprisk cell functions: sideload manifest.xml in Excel\n", media_type="text/plain"
        )

    @app.post("/udf/{name}")
    async def call(name: str, request: Request) -> Response:
        if name not in names:
            return JSONResponse({"error": f"no cell function named {name}"}, status_code=404)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "request body must be JSON"}, status_code=400)
        arguments = payload.get("args") if isinstance(payload, dict) else None
        if not isinstance(arguments, list):
            return JSONResponse(
                {"error": 'request body must be {"args": [...]}'}, status_code=400
            )
        try:
            # In a worker thread: a long calculation (a Monte Carlo) leaves other cells served.
            result = await run_in_threadpool(evaluate, name, arguments)
        except CellError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"result": result})

    app.add_middleware(
        CORSMiddleware,
        allow_origins=[base_url.rstrip("/")],
        allow_origin_regex=OFFICE_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        max_age=600,
    )
    return _Guard(app, allow_remote=allow_remote, max_body=max_body)

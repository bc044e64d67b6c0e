"""``perprisk serve``: the local HTTPS server of the Office.js add-in (Excel: Mac, web, Windows)."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _port_problem(host: str, port: int) -> str:
    """Why ``host:port`` cannot be listened on (in use, not allowed), or "" when it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return ""


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from addin.officejs.certificate import ensure_certificate, trust_instructions
    from addin.officejs.server import MAX_BODY, create_app

    host: str = args.host
    if not args.allow_remote and host not in ("127.0.0.1", "::1", "localhost"):
        print(f"perprisk serve: --host {host} must be a loopback address unless --allow-remote",
              file=sys.stderr)
        return 2
    max_body: int = MAX_BODY if args.max_body is None else args.max_body
    if max_body <= 0:
        print(f"perprisk serve: --max-body must be > 0 (got {args.max_body})", file=sys.stderr)
        return 2
    if not 1 <= args.port <= 65535:
        print(f"perprisk serve: --port must be 1 to 65535 (got {args.port})", file=sys.stderr)
        return 2
    problem = _port_problem(host, args.port)
    if problem:
        print(f"perprisk serve: port {args.port} on {host} cannot be used ({problem}); "
              "choose another with --port", file=sys.stderr)
        return 1
    certificate = ensure_certificate(args.cert_dir)
    base_url = f"https://localhost:{args.port}"
    app = create_app(base_url, allow_remote=args.allow_remote, max_body=max_body)
    made = "made" if certificate.created else "using"
    print(f"perprisk serve: {made} the HTTPS certificate in {certificate.authority.parent}")
    if certificate.created:
        print(trust_instructions(certificate.authority), end="")
    print(f"Sideload {base_url}/manifest.xml in Excel (save it as a file first); "
          f"functions are =PERPRISK.PERP_... Press Ctrl+C to stop.", flush=True)
    uvicorn.run(
        app, host=host, port=args.port, ssl_certfile=str(certificate.certificate),
        ssl_keyfile=str(certificate.key), log_level=args.log_level,
    )
    return 0


def register(subparsers: Any) -> None:
    """Add ``perprisk serve`` to the ``perprisk`` parser."""
    serve = subparsers.add_parser(
        "serve",
        help="run the HTTPS server of the Office.js add-in (Excel on Mac, the web and Windows)",
        description="Serves the PERP_ functions to Excel as Office.js custom functions: "
        "functions.json, functions.js, functions.html and manifest.xml (sideload it), and "
        "evaluates each cell's call. Makes a localhost HTTPS certificate on first use.",
    )
    serve.add_argument("--port", type=int, default=8443, help="port (default 8443)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--allow-remote", action="store_true",
        help="answer other computers too (default: this computer only)",
    )
    serve.add_argument(
        "--max-body", type=int, default=None,
        help="largest request body in bytes (default 8 MiB)",
    )
    serve.add_argument(
        "--cert-dir", type=Path, default=None,
        help="folder of the HTTPS certificate (default: your state folder, perprisk/https)",
    )
    serve.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info"),
        help="server log detail (default warning)",
    )
    serve.set_defaults(func=_serve)

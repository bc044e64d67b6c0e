"""``perprisk lite``: the files to run the ``PERP_`` functions in xlwings Lite."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _lite(args: argparse.Namespace) -> int:
    from addin.lite.script import main_py, requirements_txt
    from addin.lite.wheels import write_wheels

    out: Path = args.out
    wheels = write_wheels(out)
    (out / "main.py").write_text(main_py(), encoding="utf-8")
    (out / "requirements.txt").write_text(requirements_txt(args.wheel_url), encoding="utf-8")
    for path in (*wheels, out / "main.py", out / "requirements.txt"):
        print(f"wrote {path}")
    print("Host the two wheels where Excel can fetch them (HTTPS, CORS allowed), give "
          "requirements.txt their address (--wheel-url) and paste main.py and "
          "requirements.txt into xlwings Lite's editor.")
    return 0


def register(subparsers: Any) -> None:
    """Add ``perprisk lite`` to the ``perprisk`` parser."""
    lite = subparsers.add_parser(
        "lite",
        help="write main.py, requirements.txt and the riskfuncs and perprisk-cells wheels "
        "for xlwings Lite (Python in the browser)",
    )
    lite.add_argument("--out", type=Path, default=Path("dist") / "lite",
                      help="folder (default dist/lite)")
    lite.add_argument("--wheel-url", default="",
                      help="where the wheels will be hosted, for requirements.txt "
                      "(e.g. https://example.org/wheels)")
    lite.set_defaults(func=_lite)

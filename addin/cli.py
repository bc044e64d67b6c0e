"""The ``perprisk`` command line.

Each group of commands lives in its own module that exposes ``register(subparsers)``; a command's
handler is stored as ``func`` and returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from addin import __version__

# Modules that add sub-commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "addin.host_commands",
    "addin.officejs.commands",
    "addin.lite.commands",
    "addin.reader.commands",
    "addin.fill.commands",
    "addin.report.commands",
    "addin.delivery.commands",
    "addin.demo",
    "addin.workbook.commands",
    "addin.accounts.commands",
    "addin.watch.commands",
    "addin.scale.commands",
    "addin.por.commands",
    "addin.manual.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perprisk",
        description="Credit risk for perpetual futures: workbooks, reports, email, Excel add-in.",
    )
    parser.add_argument("--version", action="version", version=f"perprisk {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

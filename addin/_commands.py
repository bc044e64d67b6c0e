"""What every ``perprisk`` command shares: exit codes, the one-line error, argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Exit codes: done; something is wrong with an input or an outcome; the command line itself.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def err(text: str) -> None:
    """One line to stderr: what went wrong and what to do."""
    print(text, file=sys.stderr)


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number of ``kind`` above zero, else a usage error."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
        return value
    return parse


def printable(text: str) -> str:
    """Text from an export as the terminal may show it: control and bidi-override characters
    escaped (a venue or symbol name is the export's, not ours)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def print_problems(path: Path, problems: Sequence[Any]) -> None:
    err(f"{path}: {len(problems)} problem(s); fix them (perprisk check) before reporting")
    for problem in problems:
        err(f"  {problem}")


def reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)

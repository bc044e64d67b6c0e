"""The README's reference and quick start cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import riskfuncs

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_public_riskfuncs_name_is_documented() -> None:
    missing = [name for name in riskfuncs.__all__ if f"`{name}" not in README
               and not re.search(rf"`{re.escape(name)}\(", README)]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in README and "make test" in ci

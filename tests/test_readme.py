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


def test_python_example_runs_and_gives_the_numbers_it_shows() -> None:
    block = README.split("## Python library in two minutes", 1)[1].split("```python", 1)[1]
    code = block.split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own example
    rf = namespace["rf"]
    shown = re.search(r"maintenance_margin_rate=0.004\)\s+# ([\d.]+)", code)
    assert shown is not None
    value = rf.liquidation_price(  # type: ignore[attr-defined]
        "long", 60_000, 1, 6_000, maintenance_margin_rate=0.004
    )
    assert round(value, 2) == float(shown.group(1))

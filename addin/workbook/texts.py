"""The workbook wording (instructions, alerts, checklist, scenario library) kept as data in
``templates/workbook/*.json``."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from addin._resources import templates_dir


@cache
def load_texts(name: str = "texts.json") -> Any:
    """Parsed JSON file from templates/workbook (cached: the files are read once)."""
    path = templates_dir() / "workbook" / name
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)

"""Where the declarative content in ``templates/`` lives, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path


def templates_dir() -> Path:
    """Return the templates folder: ``addin/templates`` in a wheel, ``templates/`` in a checkout."""
    packaged = Path(__file__).resolve().parent / "templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"perprisk templates not found (looked in {packaged} and {checkout})")

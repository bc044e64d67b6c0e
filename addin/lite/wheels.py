"""Two pure-Python wheels for xlwings Lite (Pyodide), written with the standard library.

* ``riskfuncs``: the numerical library alone; its metadata requires numpy and pandas only (the
  same specifiers as perprisk's own ``pyproject.toml``), both of which Pyodide ships.
* ``perprisk-cells``: the cell layer the Excel add-in runs (``addin.excel.udfs`` and exactly the
  ``addin`` modules it imports), requiring riskfuncs and xlwings (which xlwings Lite supplies).

``pip install perprisk`` still installs everything; these wheels are for hosts that can only
take pure-Python packages with Pyodide's own numpy and pandas.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

from addin import __version__

__all__ = ["CELL_MODULE", "cell_layer_files", "library_requirements", "write_wheels"]

ROOT = Path(__file__).resolve().parents[2]
CELL_MODULE = "addin.excel.udfs"
#: The date every file in the wheels carries, so the same source gives the same bytes.
STAMP = (2020, 1, 1, 0, 0, 0)


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def library_requirements() -> list[str]:
    """perprisk's own numpy and pandas requirements, exactly as ``pyproject.toml`` states them."""
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    found = [
        requirement for requirement in project["dependencies"]
        if requirement.split(">")[0].split("<")[0].split("=")[0].strip() in ("numpy", "pandas")
    ]
    if len(found) != 2:
        raise ValueError(f"pyproject.toml must require numpy and pandas (found {found})")
    return found


def _package_files(package: str) -> list[Path]:
    folder = ROOT / package
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".typed", ".json",
                                                                         ".csv")
    )


def cell_layer_files() -> list[Path]:
    """The ``addin`` files that importing :data:`CELL_MODULE` loads (in a fresh interpreter)."""
    code = (
        "import json, sys\n"
        f"import {CELL_MODULE}\n"
        "print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())\n"
        "    if (n == 'addin' or n.startswith('addin.')) and getattr(m, '__file__', None))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    files = [Path(f).resolve() for f in json.loads(done.stdout)]
    outside = [f for f in files if ROOT not in f.parents]
    if outside:
        raise RuntimeError(f"perprisk is imported from elsewhere than {ROOT}: {outside[0]}")
    typed = ROOT / "addin" / "py.typed"
    return sorted({*files, *([typed] if typed.exists() else [])})


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(out: Path, name: str, summary: str, requires: Iterable[str],
           files: Iterable[Path]) -> Path:
    distribution = name.replace("-", "_")
    info = f"{distribution}-{__version__}.dist-info"
    metadata = "".join([
        "Metadata-Version: 2.1\n",
        f"Name: {name}\n",
        f"Version: {__version__}\n",
        f"Summary: {summary}\n",
        "License: MIT\n",
        "Requires-Python: >=3.11\n",
        *(f"Requires-Dist: {requirement}\n" for requirement in requires),
    ])
    wheel = ("Wheel-Version: 1.0\nGenerator: perprisk\nRoot-Is-Purelib: true\n"
             "Tag: py3-none-any\n")
    entries = [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in files]
    entries += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel.encode())]
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{distribution}-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries:
            item = zipfile.ZipInfo(path, STAMP)
            item.compress_type = zipfile.ZIP_DEFLATED
            item.external_attr = 0o644 << 16
            archive.writestr(item, data)
    return target


def write_wheels(out: Path) -> tuple[Path, Path]:
    """Write the ``riskfuncs`` and ``perprisk-cells`` wheels into ``out``."""
    library = _wheel(
        out, "riskfuncs",
        "Exchange-accurate credit risk for perpetual futures (numpy and pandas only)",
        library_requirements(), _package_files("riskfuncs"),
    )
    cells = _wheel(
        out, "perprisk-cells",
        "perprisk's PERP_ cell functions for Python-in-the-browser spreadsheets",
        [f"riskfuncs=={__version__}", "xlwings"], cell_layer_files(),
    )
    return library, cells

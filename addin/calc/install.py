"""``perprisk addin install --libreoffice``: add the PERP_ functions to LibreOffice Calc.

The command builds ``PerpRisk.oxt`` (:mod:`addin.calc.oxt`) with this Python environment's
import folders recorded in it, and registers it with LibreOffice's ``unopkg``: per user by
default, for every user of the machine with ``--shared`` (which needs administrator rights; as
root unopkg accepts nothing else). LibreOffice runs the functions in *its own* Python, which must
be able to import numpy, pandas and perprisk: :func:`python_advice` says how on each system.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from addin.calc import oxt

__all__ = [
    "CalcInstallReport",
    "environment_paths",
    "find_unopkg",
    "install_libreoffice",
    "libreoffice_python_version",
    "python_advice",
    "unopkg_command",
]

UNOPKG_NAMES = ("unopkg", "unopkg.com", "unopkg.exe")


@dataclass
class CalcInstallReport:
    """What the LibreOffice install did, as lines to print."""

    installed: bool
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def find_unopkg() -> str | None:
    """LibreOffice's extension manager (``PERPRISK_UNOPKG``, the PATH, or the program folder)."""
    configured = os.environ.get("PERPRISK_UNOPKG")
    if configured:
        return configured
    for name in UNOPKG_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for program in oxt.PROGRAM_DIRS:
        for name in UNOPKG_NAMES:
            candidate = Path(program) / name
            if candidate.is_file():
                return str(candidate)
        macos = Path(program).parent / "MacOS" / "unopkg"
        if macos.is_file():
            return str(macos)
    return None


def environment_paths() -> list[str]:
    """Folders LibreOffice's Python needs to import perprisk, numpy and pandas from here:
    this environment's site-packages, and the source tree when perprisk runs from a checkout."""
    paths: list[str] = []
    for key in ("purelib", "platlib"):
        folder = sysconfig.get_paths()[key]
        if folder not in paths:
            paths.append(folder)
    source = str(Path(oxt.__file__).resolve().parents[2])
    if not any(Path(source) == Path(p) for p in paths) and (Path(source) / "riskfuncs").is_dir():
        paths.append(source)
    return paths


def libreoffice_python_version(unopkg: str | None) -> tuple[int, int] | None:
    """The Python version LibreOffice embeds, read from its Python bridge library if possible."""
    if unopkg is None:
        return None
    # unopkg may be a wrapper script outside the program folder (Debian: /usr/bin/unopkg).
    programs = [Path(unopkg).resolve().parent, *(Path(p) for p in oxt.PROGRAM_DIRS)]
    programs += [p.parent / "Frameworks" for p in programs]  # macOS bundle
    candidates = [
        library
        for program in programs
        for pattern in ("libpyuno*", "pyuno*")
        for library in program.glob(pattern)
    ]
    for library in candidates:
        try:
            data = library.read_bytes()
        except OSError:
            continue
        found = re.search(rb"libpython3\.(\d+)|python3(\d+)\.dll", data)
        if found:
            return 3, int(found.group(1) or found.group(2))
    return None


def python_advice(platform: str = sys.platform) -> list[str]:
    """How numpy, pandas and perprisk reach LibreOffice's Python on this kind of system."""
    if platform.startswith("win"):
        return [
            "LibreOffice on Windows runs its own bundled Python. Install perprisk into it once,",
            "from a Command Prompt (adjust the folder to your LibreOffice installation):",
            r'  "C:\Program Files\LibreOffice\program\python.exe" -m ensurepip',
            r'  "C:\Program Files\LibreOffice\program\python.exe" -m pip install perprisk',
            "or set PERPRISK_PYTHONPATH to the site-packages of a Python of the same version.",
        ]
    if platform == "darwin":
        return [
            "LibreOffice on macOS runs its own bundled Python. Install perprisk into it once:",
            "  /Applications/LibreOffice.app/Contents/Resources/python -m ensurepip --user",
            "  /Applications/LibreOffice.app/Contents/Resources/python -m pip install --user "
            "perprisk",
            "or set PERPRISK_PYTHONPATH to the site-packages of a Python of the same version.",
        ]
    return [
        "LibreOffice on Linux runs the system Python 3 (python3-uno). The add-in imports perprisk,",
        "numpy and pandas from this environment's folders, recorded in the add-in; that needs a",
        "Python of the same minor version (python3 --version). If it differs, create the",
        "environment with the system Python: python3 -m venv ~/.perprisk && ~/.perprisk/bin/pip",
        "install perprisk, then run ~/.perprisk/bin/perprisk addin install --libreoffice again.",
        "Also needed: LibreOffice's Python bridge (Debian/Ubuntu: sudo apt-get install",
        "python3-uno).",
    ]


def unopkg_command(
    unopkg: str, oxt_path: Path, *, shared: bool = False, profile: Path | None = None
) -> list[str]:
    """The ``unopkg add`` command line (``profile``: a private LibreOffice user folder)."""
    command = [unopkg, "add", "--force", "--suppress-license"]
    if shared:
        command.append("--shared")
    if profile is not None:
        command.append(f"-env:UserInstallation={profile.resolve().as_uri()}")
    command.append(str(oxt_path))
    return command


def _shared_cache_folder(unopkg: str) -> None:
    """Debian links LibreOffice's shared extension cache to /var/spool/libreoffice, which a
    fresh system may lack; unopkg --shared then fails, so create the link's target."""
    cache = Path(unopkg).resolve().parent.parent / "share" / "uno_packages" / "cache"
    if cache.is_symlink() and not cache.exists():
        target = Path(os.readlink(cache))
        (target if target.is_absolute() else cache.parent / target).mkdir(
            parents=True, exist_ok=True
        )


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def install_libreoffice(
    *,
    shared: bool = False,
    profile: Path | None = None,
    python_paths: Sequence[str] | None = None,
    unopkg: str | None = None,
    extra_env: Sequence[str] = (),
    platform: str = sys.platform,
) -> CalcInstallReport:
    """Build PerpRisk.oxt for this environment and register it with LibreOffice.

    ``extra_env``: further ``-env:NAME=value`` settings for unopkg (e.g. a private shared
    extension folder, ``UNO_SHARED_PACKAGES_CACHE``, so a test installs nothing system-wide).
    """
    tool = unopkg or find_unopkg()
    if tool is None:
        return CalcInstallReport(
            False,
            [
                "LibreOffice's unopkg not found: install LibreOffice (Debian/Ubuntu: sudo apt-get",
                "install libreoffice-calc python3-uno) or set",
                "PERPRISK_UNOPKG to the unopkg program in LibreOffice's program folder.",
            ],
        )
    if _is_root() and not shared:
        return CalcInstallReport(
            False,
            [
                "LibreOffice's unopkg does not install extensions for root's own profile.",
                "Run the command as the user who uses LibreOffice, or add --shared to install",
                "the functions for every user of this machine.",
            ],
        )
    paths = list(environment_paths() if python_paths is None else python_paths)
    lines: list[str] = []
    version = libreoffice_python_version(tool)
    here = sys.version_info[:2]
    if platform.startswith("linux") and version is not None and version != here:
        lines += [
            f"Warning: LibreOffice runs Python {version[0]}.{version[1]}, this is Python "
            f"{here[0]}.{here[1]}: numpy from here will not load there.",
        ]
    if shared and not any("UNO_SHARED_PACKAGES_CACHE" in e for e in extra_env):
        _shared_cache_folder(tool)
    with tempfile.TemporaryDirectory(prefix="perprisk-oxt-") as scratch:
        built = oxt.write_oxt(Path(scratch), python_paths=paths)
        command = [*unopkg_command(tool, built, shared=shared, profile=profile)]
        command[2:2] = list(extra_env)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        output = (done.stderr + done.stdout).strip().splitlines()
        detail = next((line for line in output if "ERROR" in line), output[-1] if output else "")
        return CalcInstallReport(False, [*lines, f"unopkg failed: {detail}".rstrip(": ")])
    where = "for every user" if shared else "for this user"
    lines += [
        f"Installed the PERP_ functions in LibreOffice {where} ({oxt.OXT_NAME}).",
        "LibreOffice's Python will import perprisk, numpy and pandas from:",
        *(f"  {p}" for p in paths),
        "",
        *python_advice(platform),
        "",
        'Restart LibreOffice, then type e.g. =PERP_LIQ_PRICE("long"; 60000; 0.5; 3000) in a cell.',
        "For a range of positions enter the formula as an array formula (Ctrl+Shift+Enter).",
    ]
    return CalcInstallReport(True, lines)

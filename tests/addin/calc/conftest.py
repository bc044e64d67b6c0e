"""PerpRisk.oxt installed into a private LibreOffice profile, and one headless Calc session.

The add-in is installed the way a user installs it (``install_libreoffice``, i.e. ``perprisk addin
install --libreoffice``): built for this environment, registered by LibreOffice's ``unopkg``. As
a normal user it goes into the private profile (``-env:UserInstallation``). As root (CI) unopkg
only accepts ``--shared``, so the shared extension folder is redirected into the test's own
directory (``-env:UNO_SHARED_PACKAGES_CACHE``) and nothing is installed system-wide.

Every test module adds steps to one job; the session runs them all in one soffice process
(``drive_calc.py`` under LibreOffice's Python), so LibreOffice starts once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from addin.calc.install import install_libreoffice

# Runs under LibreOffice's Python (it imports uno), never inside pytest.
collect_ignore = ["drive_calc.py"]

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "drive_calc.py"


def libreoffice_python() -> str | None:
    """The Python that LibreOffice runs (python3-uno on Debian), if it can import uno."""
    candidate = os.environ.get("PERPRISK_LO_PYTHON", "/usr/bin/python3")
    if not Path(candidate).is_file():
        return None
    done = subprocess.run([candidate, "-c", "import uno"], capture_output=True, check=False)
    return candidate if done.returncode == 0 else None


@dataclass
class CalcSession:
    """Steps collected from the test modules, run in one LibreOffice process on first use."""

    root: Path
    soffice: list[str]
    python: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] | None = None

    def add(self, *steps: dict[str, Any]) -> None:
        if self.results is not None:
            raise RuntimeError("the LibreOffice session already ran")
        self.steps.extend(steps)

    def run(self) -> dict[str, Any]:
        if self.results is None:
            job = self.root / "job.json"
            out = self.root / "results.json"
            job.write_text(
                json.dumps({"pipe": f"perprisk_calc_{os.getpid()}_{self.root.name}",
                            "soffice": self.soffice,
                            "steps": self.steps}),
                encoding="utf-8",
            )
            done = subprocess.run(
                [self.python, str(DRIVER), str(job), str(out)],
                capture_output=True, text=True, timeout=300, check=False,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            self.results = json.loads(out.read_text(encoding="utf-8"))
        return self.results


def install_into(root: Path, python_paths: list[str] | None = None) -> list[str]:
    """Install the add-in into a private profile under ``root``; the soffice -env options."""
    if shutil.which("soffice") is None or shutil.which("unopkg") is None:
        pytest.skip("LibreOffice (soffice, unopkg) missing: run scripts/install-system-deps.sh")
    profile = root / "profile"
    env = [f"-env:UserInstallation={profile.as_uri()}"]
    extra: list[str] = []
    as_root = os.geteuid() == 0
    if as_root:
        extra = [f"-env:UNO_SHARED_PACKAGES_CACHE={(root / 'shared' / 'cache').as_uri()}"]
    report = install_libreoffice(
        shared=as_root, profile=profile, extra_env=extra, python_paths=python_paths
    )
    assert report.installed, report.text()
    return env + extra


def session_for(root: Path, options: list[str]) -> CalcSession:
    python = libreoffice_python()
    if python is None:
        pytest.skip("LibreOffice's Python cannot import uno: install python3-uno")
    soffice = [shutil.which("soffice") or "soffice", "--headless", "--invisible", "--norestore",
               "--nologo", "--nodefault", *options]
    return CalcSession(root, soffice, python)


@pytest.fixture(scope="session")
def calc_session(tmp_path_factory: pytest.TempPathFactory) -> CalcSession:
    """The add-in installed as ``perprisk addin install --libreoffice`` does, and a session."""
    root = tmp_path_factory.mktemp("calc")
    return session_for(root, install_into(root))


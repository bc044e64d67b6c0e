"""``perprisk addin install``: make the cell functions available to Excel on this machine.

Classic xlwings UDFs run in Windows desktop Excel only (Python is reached over COM). On Windows
the command

1. registers the UDF module and this Python in the xlwings user config
   (``%USERPROFILE%\\.xlwings\\xlwings.conf``, keys ``UDF MODULES`` and ``INTERPRETER_WIN``), which
   the xlwings ribbon's "Import Functions" reads, keeping any other modules already listed;
2. writes ``PerpRisk.xlam`` (see :mod:`addin.excel.addin_file`) configured for this Python, with
   every function's VBA wrapper already inside (no "Import Functions" needed).

On macOS and Linux nothing is installed: the command says what works there instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from addin.excel.addin_file import ADDIN_NAME, UDF_MODULES, write_addin

__all__ = ["InstallReport", "install", "pythonw_for", "update_xlwings_config"]

NOT_WINDOWS = """\
The PERP_ cell functions are classic xlwings functions: they need Windows with desktop Excel,
which reaches Python over COM. Nothing was installed on this {system} machine.

What works here instead:
  - the assessment workbooks: every result is a native formula, so they work in Excel for Mac,
    Excel on the web, LibreOffice and for recipients without Python;
  - the same PERP_ functions in LibreOffice Calc: `perprisk addin install --libreoffice`;
  - the same numbers from Python: `import riskfuncs` (the library behind every cell function);
  - the function reference, to prepare sheets for Windows users: `perprisk addin reference`.
On a Windows PC with Excel, run `pip install perprisk` and `perprisk addin install` there.
"""


@dataclass
class InstallReport:
    """What ``install`` did (or would do), as lines to print."""

    installed: bool
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def pythonw_for(interpreter: str) -> str:
    """The windowless ``pythonw.exe`` next to ``python.exe`` (no console window per call)."""
    path = Path(interpreter)
    candidate = path.with_name("pythonw.exe")
    return str(candidate) if path.name.lower() == "python.exe" and candidate.exists() else str(path)


def _quoted(line: str) -> tuple[str, str] | None:
    parts = line.strip().split('","', 1)
    if len(parts) != 2 or not parts[0].startswith('"') or not parts[1].endswith('"'):
        return None
    return parts[0][1:], parts[1][:-1]


def update_xlwings_config(path: Path, interpreter: str, module: str = UDF_MODULES) -> list[str]:
    """Set ``INTERPRETER_WIN`` and add ``module`` to ``UDF MODULES`` in an xlwings config file.

    The file holds lines ``"KEY","value"`` (the format ``xlwings config create`` writes). Other
    keys and other UDF modules are kept. Returns the lines written.
    """
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept: list[str] = []
    modules: list[str] = []
    for line in lines:
        pair = _quoted(line)
        key = pair[0].upper() if pair else ""
        if pair and key == "UDF MODULES":
            modules = [m for m in pair[1].split(";") if m]
        elif pair and key == "INTERPRETER_WIN":
            continue
        elif line.strip():
            kept.append(line)
    if module not in modules:
        modules.append(module)
    written = [*kept, f'"INTERPRETER_WIN","{interpreter}"', f'"UDF MODULES","{";".join(modules)}"']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(written) + "\n", encoding="utf-8")
    return written


def install(
    *,
    platform: str = sys.platform,
    home: Path | None = None,
    interpreter: str = sys.executable,
    addin_dir: Path | None = None,
) -> InstallReport:
    """Register the cell functions for Windows Excel, or explain what is possible elsewhere."""
    if not platform.startswith("win"):
        system = (
            "macOS"
            if platform == "darwin"
            else "Linux"
            if platform.startswith("linux")
            else platform
        )
        return InstallReport(False, NOT_WINDOWS.format(system=system).splitlines())
    home = home or Path.home()
    python = pythonw_for(interpreter)
    config = home / ".xlwings" / "xlwings.conf"
    update_xlwings_config(config, python)
    appdata = Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))
    xlam = write_addin(addin_dir or appdata / "perprisk", interpreter=python)
    return InstallReport(
        True,
        [
            f"Registered {UDF_MODULES} with Python {python}",
            f"  in {config}",
            f"Wrote the add-in {xlam}",
            "",
            f"Next, in Excel (once): load {ADDIN_NAME} (File > Options > Add-ins > Excel Add-ins >",
            "  Go > Browse). It already holds every PERP_ function: type =PERP_ in any cell.",
            "  After upgrading perprisk, run `perprisk addin install` again.",
            "",
            "If the add-in does not load, or to keep the functions inside one workbook instead:",
            "  1. File > Options > Trust Center > Trust Center Settings > Macro Settings:",
            "     tick 'Trust access to the VBA project object model'.",
            "  2. If the xlwings tab is missing: run `xlwings addin install` and restart Excel.",
            "  3. Open your workbook, save it as .xlsm, then xlwings tab > Import Functions.",
            "     The PERP_ functions appear under Formulas > Insert Function > PerpRisk.",
            "  After upgrading perprisk, click Import Functions again.",
        ],
    )

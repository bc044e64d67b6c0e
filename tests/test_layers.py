"""The math layer must not pull in anything that faces Excel, files or email."""

from __future__ import annotations

import subprocess
import sys


def test_importing_riskfuncs_loads_no_adapter_library() -> None:
    code = (
        "import sys, riskfuncs\n"
        "banned = {'xlwings', 'openpyxl', 'jinja2', 'addin', 'smtplib', 'python_calamine'}\n"
        "print(sorted(banned & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

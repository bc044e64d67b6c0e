"""Build dist/: every blank assessment workbook (optionally with PDF previews), the Excel add-in
file and the LibreOffice Calc add-in (PerpRisk.oxt).

    python build.py [--out DIR] [--pdf] [--template ID]

The same as ``perprisk build``; runs from a source checkout without installing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from addin.workbook.commands import main

if __name__ == "__main__":
    raise SystemExit(main())

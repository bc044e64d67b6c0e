"""Build dist/: every blank assessment workbook (optionally with PDF previews), the Excel add-in
file and the LibreOffice Calc add-in (PerpRisk.oxt).

    python build.py [--out DIR] [--pdf] [--template ID]
    python build.py --manual [--out FILE.pdf] [--paper a4|letter]   (the credit-risk manual)
    python build.py --lite [--out DIR] [--wheel-url URL]   (riskfuncs alone and xlwings Lite files)

The same as ``perprisk build``; runs from a source checkout without installing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from addin.workbook.commands import main

if __name__ == "__main__":
    if "--manual" in sys.argv[1:]:
        from addin.manual.commands import main as manual_main

        raise SystemExit(manual_main([a for a in sys.argv[1:] if a != "--manual"]))
    if "--lite" in sys.argv[1:]:
        from addin.cli import main as cli_main

        raise SystemExit(cli_main(["lite", *[a for a in sys.argv[1:] if a != "--lite"]]))
    raise SystemExit(main())

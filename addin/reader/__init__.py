"""Read filled perprisk workbooks safely and validate their inputs.

:func:`read_filled_workbook` recognises the template and version, reads every input by its
defined name, and lists each problem as ``Sheet!Cell: what is wrong; expected ...``. Hostile
files (zip bombs, XML entity declarations, enormous sheets, files that are no workbook) raise
:class:`WorkbookError` subclasses with a clear message before any parser runs.
"""

from __future__ import annotations

from addin.reader.filled import (
    FilledWorkbook,
    Problem,
    describe,
    read_filled_workbook,
    tier_frames,
)
from addin.reader.safety import (
    DEFAULT_LIMITS,
    HostileFileError,
    Limits,
    NotAWorkbookError,
    WorkbookError,
)

__all__ = [
    "DEFAULT_LIMITS",
    "FilledWorkbook",
    "HostileFileError",
    "Limits",
    "NotAWorkbookError",
    "Problem",
    "WorkbookError",
    "describe",
    "read_filled_workbook",
    "tier_frames",
]

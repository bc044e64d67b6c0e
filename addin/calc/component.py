"""The Python UNO component of the LibreOffice add-in (shipped in PerpRisk.oxt as perprisk_calc.py).

LibreOffice loads this file with its own Python. It

1. puts on ``sys.path`` the folders listed in ``perprisk_paths.json`` next to it (written by
   ``perprisk addin install --libreoffice``: the site-packages of the Python environment where
   perprisk, numpy and pandas are installed) and in the ``PERPRISK_PYTHONPATH`` environment
   variable, ahead of LibreOffice's own folders;
2. declares one method per function listed in ``perprisk_functions.json`` (written by the build,
   the same list as the type library), each handing its arguments to
   :func:`addin.calc.host.call`, which calls the Excel function itself.

If perprisk cannot be imported in LibreOffice's Python, every cell shows one line saying so
instead of a LibreOffice error.
"""

from __future__ import annotations

import json
import os
import site
import sys
from collections.abc import Callable
from typing import Any

import unohelper

try:
    from org.perprisk.calc import XPerpRisk

    _BASES: tuple[type, ...] = (unohelper.Base, XPerpRisk)
except ImportError:  # unopkg registering the component before the type library is live
    _BASES = (unohelper.Base,)

IMPLEMENTATION = "org.perprisk.calc.PerpRisk"
SERVICE = "com.sun.star.sheet.AddIn"
HERE = os.path.dirname(os.path.abspath(globals().get("__file__", "") or "."))
PATHS_FILE = "perprisk_paths.json"
FUNCTIONS_FILE = "perprisk_functions.json"


def _read_json(name: str, default: Any) -> Any:
    try:
        with open(os.path.join(HERE, name), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def _add_paths() -> None:
    folders = [*_read_json(PATHS_FILE, []), *os.environ.get("PERPRISK_PYTHONPATH", "").split(
        os.pathsep
    )]
    for folder in reversed([f for f in folders if f and os.path.isdir(f)]):
        before = list(sys.path)
        site.addsitedir(folder)  # also reads .pth files (an editable install of perprisk)
        added = [p for p in sys.path if p not in before]
        sys.path[:] = added + [p for p in sys.path if p not in added]


_add_paths()

_call: Callable[[str, tuple[Any, ...]], Any] | None = None
_problem = ""
try:
    from addin.calc.host import call as _host_call

    _call = _host_call
except Exception as exc:  # shown in every cell instead
    _problem = (
        f"perprisk cannot run in LibreOffice's Python ({type(exc).__name__}: "
        f"{str(exc).splitlines()[0] if str(exc) else ''}); run perprisk addin install --libreoffice"
    )


def _init(self: Any, context: Any) -> None:
    self.context = context


# The add-in object Calc creates: one method per function, added below.
PerpRiskAddIn = type("PerpRiskAddIn", _BASES, {"__init__": _init})


def _method(name: str) -> Callable[..., Any]:
    def cell_function(self: Any, *values: Any) -> Any:
        if _call is None:
            return ((_problem,),)
        return _call(name, values)

    cell_function.__name__ = name
    return cell_function


for _name in _read_json(FUNCTIONS_FILE, {}):
    setattr(PerpRiskAddIn, _name, _method(_name))

# pythonloader looks this name up.
g_ImplementationHelper = unohelper.ImplementationHelper()  # noqa: N816
g_ImplementationHelper.addImplementation(PerpRiskAddIn, IMPLEMENTATION, (SERVICE,))

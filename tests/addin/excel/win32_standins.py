"""Stand-ins for the pywin32 modules that xlwings' Windows UDF code imports.

With these in ``sys.modules`` the genuine ``xlwings._xlwindows``, ``xlwings.udfs`` and
``xlwings.com_server`` import on any platform, so tests run xlwings' own decorators, VBA wrapper
generation, ``import_udfs`` and ``XLPython.CallUDF`` (argument cleaning, converters, return
reshaping). Only what those modules touch at import time and on the call path is provided; COM
marshalling itself (done by pywin32 on Windows) is emulated by ``excel_side``.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import sys
import types
from typing import Any

import xlwings


class ComError(Exception):
    """``pywintypes.com_error``: (hresult, strerror, excepinfo, argerror)."""

    def __init__(
        self, hresult: int = 0, strerror: str = "", excepinfo: Any = None, argerror: Any = None
    ) -> None:
        super().__init__(hresult, strerror, excepinfo, argerror)
        self.hresult = hresult


class ComTime(dt.datetime):
    """``pywintypes.TimeType``: pywin32 hands COM dates over as this tz-aware datetime."""


class _Utc(dt.tzinfo):
    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "UTC"


UTC = _Utc()


class _Inert:
    """Any attribute, any call: for Windows-only ctypes handles that are touched but unused."""

    def __getattr__(self, name: str) -> _Inert:
        return _Inert()

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    module.__file__ = f"<stand-in {name}>"
    sys.modules[name] = module
    return module


def _not_wrapped(obj: Any) -> Any:
    # xlwings' FromVariant falls back to the plain value when unwrap fails.
    raise ValueError("not a wrapped Python object")


def _install_modules() -> None:
    if "pythoncom" in sys.modules and getattr(sys.modules["pythoncom"], "__file__", "").startswith(
        "<stand-in"
    ):
        return
    idispatch = "{00020400-0000-0000-C000-000000000046}"
    _module("pywintypes", com_error=ComError, TimeType=ComTime, datetime=ComTime, IID=str.upper)
    _module(
        "pythoncom",
        com_error=ComError,
        CoInitialize=lambda: None,
        CoUninitialize=lambda: None,
        IID_IDispatch=idispatch,
        IID_IEnumVARIANT="{00020404-0000-0000-C000-000000000046}",
        TypeIIDs={idispatch: type("PyIDispatch", (), {})},
        VT_ERROR=10,
        # Cross-thread marshalling of a Range (caller argument): in one process, pass it through.
        CoMarshalInterThreadInterfaceInStream=lambda iid, obj: obj,
        CoGetInterfaceAndReleaseStream=lambda stream, iid: stream,
    )
    _module("win32api", GetCurrentThreadId=lambda: 1)
    for name in ("win32con", "win32event", "win32gui"):
        _module(name)
    _module("win32process", GetWindowThreadProcessId=lambda hwnd: (1, 4242))
    _module("win32timezone", TimeZoneInfo=types.SimpleNamespace(utc=lambda: UTC))

    base = type("DispatchBase", (), {"__init__": lambda self, *a, **k: None})
    win32com = _module("win32com", __path__=[])
    client = _module(
        "win32com.client",
        Dispatch=lambda obj, *a, **k: obj,
        DispatchEx=lambda obj, *a, **k: obj,
        CDispatch=base,
        CoClassBaseClass=base,
        DispatchBaseClass=base,
        VARIANT=lambda vt, value: ("VARIANT", vt, value),
    )
    client.gencache = _module("win32com.client.gencache", EnsureModule=lambda *a, **k: None)
    win32com.client = client
    server = _module("win32com.server", __path__=[])
    server.util = _module(
        "win32com.server.util", wrap=lambda obj, *a, **k: obj, unwrap=_not_wrapped
    )
    server.dispatcher = _module("win32com.server.dispatcher")
    server.policy = _module("win32com.server.policy", DefaultPolicy=object)
    server.exception = _module("win32com.server.exception", COMException=ComError)
    win32com.server = server

    for handle in ("windll", "oledll"):
        if not hasattr(ctypes, handle):
            setattr(ctypes, handle, _Inert())


def load_windows_udf_stack() -> tuple[types.ModuleType, types.ModuleType]:
    """Import xlwings' real Windows UDF modules and bind the decorators as on Windows.

    Returns ``(xlwings.udfs, xlwings.com_server)``. Must run before any UDF module is imported,
    because on other platforms ``xw.func``/``xw.arg``/``xw.ret`` record nothing.
    """
    _install_modules()
    real_pydll = ctypes.PyDLL
    ctypes.PyDLL = lambda *a, **k: _Inert()  # type: ignore[assignment,misc]
    try:
        from xlwings import _xlwindows
    finally:
        ctypes.PyDLL = real_pydll  # type: ignore[misc]
    if "excel" not in [engine.name for engine in xlwings.engines]:
        xlwings.engines.add(xlwings.Engine(impl=_xlwindows.engine))
    xlwings.engines.active = xlwings.engines["excel"]

    from xlwings import com_server, udfs

    # What xlwings/__init__.py binds when pywin32 is present.
    xlwings.func = udfs.xlfunc
    xlwings.arg = udfs.xlarg
    xlwings.ret = udfs.xlret
    xlwings.sub = xlwings.script = udfs.xlsub
    return udfs, com_server

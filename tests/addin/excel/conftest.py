"""Load xlwings' real Windows UDF stack (with pywin32 stand-ins) before the UDF module."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from tests.addin.excel.excel_side import Excel
from tests.addin.excel.win32_standins import load_windows_udf_stack

XLWINGS_UDFS, COM_SERVER = load_windows_udf_stack()
MODULE_NAME = "addin.excel.udfs"

# Imported earlier with the platform's no-op decorators (e.g. by a CLI test)? Decorate again.
if MODULE_NAME in sys.modules and not hasattr(
    sys.modules[MODULE_NAME].PERP_LIQ_PRICE, "__xlfunc__"
):
    importlib.reload(sys.modules[MODULE_NAME])
UDF_MODULE = importlib.import_module(MODULE_NAME)


@pytest.fixture(scope="session")
def udf_module() -> types.ModuleType:
    return UDF_MODULE


@pytest.fixture(scope="session")
def xlwings_udfs() -> types.ModuleType:
    return XLWINGS_UDFS


@pytest.fixture(scope="session")
def excel() -> Excel:
    return Excel(COM_SERVER, MODULE_NAME)

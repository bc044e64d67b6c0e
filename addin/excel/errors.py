"""How a failed cell function shows up in Excel: one short line, never a traceback.

Classic xlwings cannot hand Excel a real error value (#VALUE!, #N/A): when the Python function
raises, the VBA wrapper writes the exception text into the cell, traceback included. So every
``PERP_`` function catches its own exceptions and returns the first line of the message as the
cell's text, e.g. ``leverage must be > 0 (got -5)``.

How a dependent formula sees it: the cell holds TEXT. ``ISERROR(A1)`` is FALSE and ``A1 + 1``
gives #VALUE!. Test the cell with ``ISNUMBER(A1)`` (a result) or ``ISTEXT(A1)`` (a message), e.g.
``=IF(ISNUMBER(A1), A1 * 2, "check inputs")``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from riskfuncs import RiskInputError

__all__ = ["MAX_CELL_TEXT", "cell_message", "shows_errors"]

#: Excel rejects longer strings inside returned arrays (#VALUE!), and a cell line should be short.
MAX_CELL_TEXT = 255

F = TypeVar("F", bound=Callable[..., Any])


def cell_message(exc: BaseException) -> str:
    """The one line a cell shows for ``exc``.

    Input errors (:class:`riskfuncs.RiskInputError`) already read ``<argument> must <rule>
    (got <value>)`` and are shown as they are. Anything else is unexpected, so the line says so
    and names the exception type.

    Examples
    --------
    >>> cell_message(RiskInputError("leverage must be > 0 (got -5)"))
    'leverage must be > 0 (got -5)'
    >>> cell_message(ZeroDivisionError("float division by zero"))
    'unexpected error (ZeroDivisionError): float division by zero'
    """
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if not isinstance(exc, RiskInputError):
        first = f"unexpected error ({type(exc).__name__}): {first}".rstrip(": ")
    if len(first) > MAX_CELL_TEXT:
        # Keep the offending value: cut the middle (a long list of allowed values), not the end.
        cut = first.rfind(" (got ")
        tail = first[cut:] if cut > 0 and len(first) - cut < MAX_CELL_TEXT // 2 else ""
        first = first[: MAX_CELL_TEXT - 3 - len(tail)] + "..." + tail
    return first


def shows_errors(func: F) -> F:
    """Make ``func`` return :func:`cell_message` text instead of raising.

    Applied under the xlwings decorators: ``functools.wraps`` keeps the name, docstring and
    signature (``__wrapped__``) that xlwings reads to build the VBA wrapper.
    """

    required = [
        name for name, parameter in inspect.signature(func).parameters.items()
        if parameter.default is inspect.Parameter.empty
    ]

    @functools.wraps(func)
    def in_cell(*args: Any) -> Any:
        if len(args) < len(required):
            # Excel let the formula through with too few arguments: name the first one missing.
            return f"{required[len(args)]} is required"
        try:
            return func(*args)
        except Exception as exc:  # a cell must show a line, whatever went wrong
            return cell_message(exc)

    return in_cell  # type: ignore[return-value]

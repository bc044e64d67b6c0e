"""Exceptions raised by riskfuncs.

::

    RiskFuncsError
     └── RiskInputError (also a ValueError): an argument breaks a rule

The first line of every message names the argument, the rule and the value, short enough to
show in a spreadsheet cell: ``leverage must be > 0 (got -5)``.
"""

from __future__ import annotations


class RiskFuncsError(Exception):
    """Base class for every error riskfuncs raises on purpose."""


class RiskInputError(RiskFuncsError, ValueError):
    """An argument breaks a rule; the message names the argument, the rule and the value.

    The same facts are fields, so a reader can point at the spreadsheet cell without parsing
    the message: ``argument`` (the parameter, e.g. ``"leverage"``), ``position`` (the
    0-based index of the first bad element of an array argument, a tuple for 2-D, None for a
    scalar), ``value`` (that element) and ``rule`` (e.g. ``"be > 0"``). Any of them is None
    when the check that raised does not know it.

    Examples
    --------
    >>> from riskfuncs import initial_margin
    >>> try:
    ...     initial_margin([1.0, 2.0], 100.0, leverage=[5.0, -5.0])
    ... except RiskInputError as exc:
    ...     print(exc.argument, exc.position, exc.value, exc.rule)
    leverage 1 -5.0 be > 0
    """

    def __init__(self, message: str, *, argument: str | None = None,
                 position: int | tuple[int, ...] | None = None, value: object = None,
                 rule: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument
        self.position = position
        self.value = value
        self.rule = rule

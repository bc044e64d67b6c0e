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
    """An argument breaks a rule; the message names the argument, the rule and the value."""

"""perprisk's user-facing layer: Excel cell functions, workbooks, reports, email and the CLI.

Everything numerical comes from :mod:`riskfuncs`; this package only converts, reads, writes and
sends.
"""

__version__ = "0.1.0"

"""Accounts straight from the exchanges through ccxt (``perprisk fetch``).

``keys`` reads read-only API keys and keeps them out of everything written; ``fetch`` pulls
positions, balances and market data into the export ``perprisk fill`` reads; ``commands`` is the
command line. ccxt is imported only here, never by ``riskfuncs``.
"""

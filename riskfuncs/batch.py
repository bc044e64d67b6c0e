"""Books beyond one machine: one pure DataFrame-in, DataFrame-out function per batch.

:func:`batch` takes a positions table (ccxt column names, as :func:`portfolio_margin`) and
returns one row of results per position, with the same index, so it plugs into any engine that
hands pandas batches to a function: Dask ``map_partitions``, Spark ``applyInPandas``, Ray and
Polars ``map_batches``. Cross-margined positions share a wallet, so the positions of one account
must be in the same batch: group or shuffle on :func:`account_key` first (a batch that holds
only part of an account gives that account's figures as if the rest did not exist).

Examples
--------
>>> import pandas as pd
>>> book = pd.DataFrame({"exchange": ["bybit"] * 2, "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
...                      "side": ["long", "short"], "contracts": [1.0, 10.0],
...                      "entryPrice": [60_000.0, 3_000.0], "markPrice": [60_000.0, 3_000.0],
...                      "collateral": [20_000.0, 20_000.0], "marginMode": ["cross"] * 2,
...                      "maintenanceMarginRate": [0.005, 0.01]})
>>> account_key(book).tolist()
['bybit:USDT', 'bybit:USDT']
>>> batch(book)["liquidation_price"].round(2).tolist()
[40600.0, 4940.0]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from riskfuncs.book import Book, as_book
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.scenarios import Scenario
from riskfuncs.stress import stress_test
from riskfuncs.tiers import TierMap

__all__ = ["account_key", "batch"]


def _blocks_constructor() -> Callable[..., pd.DataFrame] | None:
    """pandas 3's ``pandas.api.internals.create_dataframe_from_blocks`` (a frame from 2-D
    blocks as they are), or None before pandas 3."""
    try:
        module = importlib.import_module("pandas.api.internals")
    except ImportError:  # pragma: no cover - pandas 2
        return None
    found: Callable[..., pd.DataFrame] | None = getattr(
        module, "create_dataframe_from_blocks", None)
    return found


_from_blocks = _blocks_constructor()


def account_key(positions: pd.DataFrame | Book) -> pd.Series:
    """The partition key that keeps each margin account whole: ``exchange:SETTLE``, the
    account :func:`riskfuncs.book.as_book` gives every row (read once per venue combination).

    Every position of a cross account has its account's key; isolated positions get the same
    key as their venue's cross account, which only makes groups a little coarser.
    """
    book = as_book(positions)
    return pd.Series(book.account_keys, index=book.index, name="account", dtype=object)


def batch(
    positions: pd.DataFrame | Book,
    *,
    tiers: TierMap | None = None,
    scenarios: Scenario | str | Sequence[Scenario | str] | None = None,
) -> pd.DataFrame:
    """Margin, liquidation and (optionally) stress results for every position of a batch.

    Parameters
    ----------
    positions : DataFrame or Book
        As :func:`portfolio_margin` takes it; each account whole (see :func:`account_key`).
        A DataFrame is read once (:func:`riskfuncs.book.as_book`) for both calls.
    tiers : mapping, optional
        Tier tables by symbol or ``(exchange, symbol)``.
    scenarios : Scenario, library name or a sequence of them, optional
        Adds, per scenario, the position's PnL (``pnl: <name>``, settlement currency) and
        whether its margin account is liquidated (``liquidated: <name>``).

    Returns
    -------
    DataFrame
        :data:`riskfuncs.portfolio.RESULT_COLUMNS`, then the stress columns; same index as
        ``positions``. An empty batch gives an empty frame with those columns.
    """
    if len(positions) == 0:
        return _empty(scenarios)
    book = as_book(positions)
    result = portfolio_margin(book, tiers=tiers)
    if scenarios is None:
        return result
    stressed = stress_test(book, scenarios, tiers=tiers)
    liquidated = stressed.liquidated  # the requirement reaches the balance, as stress_test
    names = [s.name for s in stressed.scenarios]
    return pd.concat([result, _stress_columns(stressed.pnl, liquidated, names, result.index)],
                     axis=1)


def _stress_columns(pnl: np.ndarray, liquidated: np.ndarray, names: Sequence[str],
                    index: pd.Index) -> pd.DataFrame:
    """``pnl: <name>`` and ``liquidated: <name>`` per scenario, in turn, on the arrays as they
    are: a frame keeps each dtype's columns as one 2-D block, here ``pnl.T`` and
    ``liquidated.T`` with every other column, so nothing is copied (pandas 3; concatenating it
    beside the margin columns copies nothing either). Older pandas builds the blocks by copying
    the columns."""
    columns = pd.Index([f"{kind}: {name}" for name in names for kind in ("pnl", "liquidated")])
    if _from_blocks is not None:
        every_other = np.arange(0, 2 * len(names), 2, dtype=np.intp)
        return _from_blocks([(pnl.T, every_other), (liquidated.T, every_other + 1)],
                            index=index, columns=columns)
    values: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        values[f"pnl: {name}"] = pnl[:, j]
        values[f"liquidated: {name}"] = liquidated[:, j]
    return pd.DataFrame(values, index=index, columns=columns)


def _empty(scenarios: Scenario | str | Sequence[Scenario | str] | None) -> pd.DataFrame:
    from riskfuncs.portfolio import RESULT_COLUMNS
    from riskfuncs.scenarios import get_scenario

    columns = list(RESULT_COLUMNS)
    if scenarios is not None:
        items = [scenarios] if isinstance(scenarios, Scenario | str) else list(scenarios)
        for item in items:
            name = item.name if isinstance(item, Scenario) else get_scenario(item).name
            columns += [f"pnl: {name}", f"liquidated: {name}"]
    return pd.DataFrame(columns=columns)

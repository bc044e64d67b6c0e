"""``perprisk margin`` and ``perprisk stress``: a positions table in Parquet, any size, on Dask.

The positions are read lazily, shuffled so that every margin account is whole in one
partition (:func:`riskfuncs.batch.account_key`), and each partition goes through
:func:`riskfuncs.batch.batch`; the results are written as Parquet, partition by partition, so
a book larger than memory streams through. One process by default; ``--scheduler ADDRESS``
runs on a ``dask.distributed`` cluster. The figures are the same on one core or many.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, err, positive

#: Input columns written back beside the results, so each row says which position it is.
KEPT = ("id", "exchange", "symbol", "side")


def register(subparsers: Any) -> None:
    for name, about in (
        ("margin", "margin, liquidation price and distance for every position of a large book"),
        ("stress", "stress scenarios over a large book (margin figures and, per scenario, PnL "
                   "and whether the position's account is liquidated)"),
    ):
        parser = subparsers.add_parser(name, help=about, description=__doc__)
        parser.add_argument("--positions", type=Path, required=True, metavar="BOOK.parquet",
                            help="positions with ccxt column names (a file or a folder of parts)")
        parser.add_argument("--out", type=Path, required=True, metavar="RESULTS.parquet",
                            help="a folder of Parquet parts, one per partition")
        parser.add_argument("--tiers", type=Path, metavar="TIERS.json",
                            help="ccxt leverage tiers {symbol: [tiers]}")
        if name == "stress":
            parser.add_argument("--scenario", action="append", metavar="NAME",
                                help="a scenario of the library (repeatable; default: all)")
        parser.add_argument("--partitions", type=positive(int), metavar="N",
                            help="partitions after grouping by account (default: as read)")
        parser.add_argument("--scheduler", metavar="ADDRESS",
                            help="a dask.distributed scheduler (tcp://host:8786); default: this "
                                 "process")
        parser.add_argument("--force", action="store_true", help="replace --out if it exists")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.set_defaults(func=cmd_scale, stress=name == "stress")


def _missing_dask() -> str:
    return ("large books need Dask and Parquet support: pip install 'perprisk[scale]' "
            "(dask[dataframe], distributed, pyarrow)")


def cmd_scale(args: argparse.Namespace) -> int:
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:
        err(_missing_dask())
        return EXIT_PROBLEMS
    from riskfuncs import RiskInputError
    from riskfuncs.batch import account_key, batch
    from riskfuncs.scenarios import scenario_library

    if args.out.exists() and not args.force:
        err(f"{args.out} exists; pass --force to replace it")
        return EXIT_PROBLEMS
    tiers = None
    if args.tiers is not None:
        from addin.reader.exchange_data import ExportError, load_tiers

        try:
            tiers = load_tiers(args.tiers)
        except ExportError as exc:
            err(str(exc))
            return EXIT_PROBLEMS
    scenarios: Any = None
    if args.stress:
        scenarios = args.scenario or [s.name for s in scenario_library()]
    try:
        book = dd.read_parquet(args.positions)
    except Exception as exc:  # pyarrow's errors name the file's problem
        err(f"{args.positions}: cannot read the positions ({str(exc).splitlines()[0]})")
        return EXIT_PROBLEMS
    if "symbol" not in book.columns:
        err(f"{args.positions}: positions need a symbol column (ccxt names: symbol, side, "
            "contracts, entryPrice, markPrice, collateral, ...)")
        return EXIT_PROBLEMS
    keyed = book.assign(account=book.map_partitions(account_key, meta=("account", "object")))
    shuffled = keyed.shuffle(on="account", npartitions=args.partitions)
    kept = [c for c in KEPT if c in book.columns]

    def run(part: Any) -> Any:
        import pandas as pd

        out = batch(part.drop(columns="account"), tiers=tiers, scenarios=scenarios)
        return pd.concat([part[kept], out], axis=1)

    try:
        sample = keyed.head(64, npartitions=-1)
        if len(sample) == 0:
            err(f"{args.positions}: no positions")
            return EXIT_PROBLEMS
        meta = run(sample).iloc[:0]
        results = shuffled.map_partitions(run, meta=meta)
        client = None
        if args.scheduler:
            from distributed import Client

            client = Client(args.scheduler)
        try:
            write = results.to_parquet(args.out, overwrite=args.force, compute=False)
            if args.quiet or client is not None or not sys.stderr.isatty():
                dask.compute(write)
            else:
                from dask.diagnostics import ProgressBar

                with ProgressBar(out=sys.stderr):
                    dask.compute(write)
        finally:
            if client is not None:
                client.close()
    except RiskInputError as exc:
        err(f"{args.positions}: {str(exc).splitlines()[0]}")
        return EXIT_PROBLEMS
    written = dd.read_parquet(args.out)
    print(json.dumps({"out": str(args.out), "positions": len(written),
                      "partitions": int(written.npartitions)}))
    return EXIT_OK

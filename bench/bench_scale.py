"""Large books: positions x scenarios from Parquet on a local Dask cluster, beside one process.

Writes a synthetic book (cross accounts on five venues, isolated positions) to Parquet in row
groups, then runs the route ``perprisk stress`` takes: read lazily, key each position by its
margin account (``riskfuncs.batch.account_key``), shuffle on that key so no account is split,
``riskfuncs.batch.batch`` with the stress scenarios on each partition, results written back to
Parquet (PnL and liquidated per scenario, beside the margin figures). It runs

- in one process, Dask's default scheduler (threads), as ``perprisk stress`` runs without
  ``--scheduler``: the baseline;
- on a ``dask.distributed.LocalCluster`` of worker processes (one thread each).

Each run starts from a fresh process, so the peak resident memory it prints (``ru_maxrss``) is
that run's own: the single process's, and each worker's. Throughput is position x scenario pairs
per second. Nothing is asserted. (Holding a 10M x 100 book's results in memory at once would
need about 30 GB; partition by partition, as here, is the only way on a 24 GiB machine.)

Run: python bench/bench_scale.py [POSITIONS] [SCENARIOS] [WORKERS]
(defaults 10,000,000 x 100 on 2 workers: minutes and several GB; try 200000 20 for a look).

Measured 2026-12-01 on 2 cores (AMD EPYC, 24 GiB RAM, Linux, Python 3.11, Dask 2026.8.0),
10M x 100 at 4020735: one process 111.2 s (9.0 M pairs/s, peak 8.6 GiB), 2 workers 95.5 s
(10.5 M pairs/s, peak 4.5 GiB per worker). Earlier runs and what the time goes to:
bench/README.md.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskfuncs.batch import account_key, batch
from riskfuncs.scenarios import Scenario


def book(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    venues = np.array(["binance", "bybit", "okx", "gate", "hyperliquid"])
    exchange = venues[rng.integers(0, 5, n)]
    base = np.array(["BTC", "ETH", "SOL"])[rng.integers(0, 3, n)]
    price = np.select([base == "BTC", base == "ETH"], [60_000.0, 3_000.0], 150.0)
    entry = price * rng.uniform(0.9, 1.1, n)
    qty = 10_000 / entry * rng.uniform(0.2, 3, n)
    cross = rng.random(n) < 0.5
    account_index = rng.integers(0, max(1, n // 50), n)  # cross accounts of ~50 positions
    wallet = 100_000 + (account_index % 997) * 10.0
    return pd.DataFrame({
        "id": np.arange(n), "exchange": np.where(cross, "acct" + account_index.astype(str),
                                                 exchange),
        "symbol": np.char.add(base, "/USDT:USDT"), "side": np.where(rng.random(n) < 0.5,
                                                                     "long", "short"),
        "contracts": qty, "entryPrice": entry, "markPrice": entry * rng.uniform(0.95, 1.05, n),
        "collateral": np.where(cross, wallet, qty * entry * 0.3),
        "marginMode": np.where(cross, "cross", "isolated"),
        "maintenanceMarginRate": 0.005, "feeRate": 0.0005,
    })


def scenarios(count: int) -> list[Scenario]:
    moves = np.linspace(-0.5, 0.5, count)
    return [Scenario(f"BTC {m:+.1%}", description="grid move", moves={"BTC": float(m)})
            for m in moves]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stress_book(source: Path, out: Path, count: int) -> None:
    """The book's stress results from Parquet to Parquet, partition by partition, on whatever
    Dask scheduler is current."""
    import dask.dataframe as dd

    grid = scenarios(count)
    ddf = dd.read_parquet(source, split_row_groups=True)
    keyed = ddf.assign(account=ddf.map_partitions(account_key, meta=("account", "object")))
    meta = batch(keyed.head(64).drop(columns="account"), scenarios=grid).iloc[:0]
    results = keyed.shuffle(on="account").map_partitions(
        lambda p: batch(p.drop(columns="account"), scenarios=grid), meta=meta)
    results.to_parquet(out)


def one_process(source: Path, out: Path, count: int) -> tuple[float, float]:
    """Seconds and peak resident MiB of :func:`stress_book` in this process (run it in a fresh
    one: the peak is the process's)."""
    start = time.perf_counter()
    stress_book(source, out, count)
    return time.perf_counter() - start, peak_mib()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory(prefix="perprisk-bench-") as folder:
        source = Path(folder) / "book.parquet"
        frame = book(n)
        frame.to_parquet(source, row_group_size=200_000)
        del frame
        pairs = n * k
        print(f"book: {n:,} positions x {k} scenarios = {pairs:,} pairs, "
              f"{pairs / 200_000 / k:,.0f} row groups of 200,000 positions")

        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
            single, single_peak = child.submit(
                one_process, source, Path(folder) / "one.parquet", k).result()
        print(f"one process:    {single:8.1f} s  {pairs / single:14,.0f} pairs/s  "
              f"peak {single_peak:8,.0f} MiB")
        shutil.rmtree(Path(folder) / "one.parquet")

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            start = time.perf_counter()
            stress_book(source, Path(folder) / "out.parquet", k)
            cluster_time = time.perf_counter() - start
            peaks = client.run(peak_mib)
        print(f"{workers} workers:      {cluster_time:8.1f} s  {pairs / cluster_time:14,.0f} "
              f"pairs/s  peak per worker " + ", ".join(f"{p:,.0f}" for p in peaks.values())
              + " MiB")
        print(f"cluster / one process: {cluster_time / single:.2f}x the time")


if __name__ == "__main__":
    main()

"""Books beyond one machine: riskfuncs.batch through pandas and Dask (threads and a cluster of
processes) gives identical figures when accounts are kept whole; the Parquet CLI round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from addin.cli import main
from riskfuncs.batch import account_key, batch

dd = pytest.importorskip("dask.dataframe")


def _book(n: int = 2_000, seed: int = 7) -> pd.DataFrame:
    """Positions on 40 cross accounts and many isolated ones, shuffled so that every cross
    account spans what become partition borders."""
    rng = np.random.default_rng(seed)
    venues = np.array(["binance", "bybit", "okx", "gate", "kraken"])
    exchange = venues[rng.integers(0, len(venues), n)]
    settle = np.array(["USDT", "USDC"])[rng.integers(0, 2, n)]
    base = np.array(["BTC", "ETH", "SOL", "DOGE"])[rng.integers(0, 4, n)]
    price = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0, "DOGE": 0.16}
    entry = np.array([price[b] for b in base]) * rng.uniform(0.9, 1.1, n)
    qty = 20_000 / entry * rng.uniform(0.2, 2.0, n)
    cross = rng.random(n) < 0.6
    wallets = {f"{e}:{s}": float(rng.uniform(20_000, 200_000)) for e in venues
               for s in ("USDT", "USDC")}
    collateral = np.where(cross, [wallets[f"{e}:{s}"] for e, s in zip(exchange, settle,
                                                                      strict=True)],
                          qty * entry * rng.uniform(0.1, 0.5, n))
    frame = pd.DataFrame({
        "id": np.arange(n), "exchange": exchange,
        "symbol": [f"{b}/{s}:{s}" for b, s in zip(base, settle, strict=True)],
        "side": np.where(rng.random(n) < 0.5, "long", "short"), "contracts": qty,
        "entryPrice": entry, "markPrice": entry * rng.uniform(0.95, 1.05, n),
        "collateral": collateral, "marginMode": np.where(cross, "cross", "isolated"),
        "maintenanceMarginRate": rng.uniform(0.004, 0.02, n), "feeRate": 0.0005,
    })
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_index().astype({"account": object, "rule": object})


def test_dask_partitions_keep_accounts_whole_and_give_the_pandas_figures() -> None:
    book = _book()
    expected = batch(book)
    ddf = dd.from_pandas(book, npartitions=8)
    keyed = ddf.assign(account_key=ddf.map_partitions(account_key, meta=("account", "object")))
    whole = keyed.shuffle(on="account_key", npartitions=4).map_partitions(
        lambda p: batch(p.drop(columns="account_key")), meta=expected.iloc[:0])
    got = whole.compute(scheduler="threads")
    # Account sums add the same terms in another order: equal to the last bits, not to them.
    pd.testing.assert_frame_equal(_sorted(got), _sorted(expected), rtol=1e-12)
    # Split accounts (no shuffle) are wrong: the test can tell.
    split = ddf.map_partitions(batch, meta=expected.iloc[:0]).compute(scheduler="threads")
    differs = ~np.isclose(_sorted(split)["liquidation_price"],
                          _sorted(expected)["liquidation_price"], equal_nan=True)
    assert differs.sum() > 100


def test_stress_columns_through_a_cluster_of_processes() -> None:
    distributed = pytest.importorskip("distributed")
    book = _book(600, seed=3)
    scenarios = ["BTC -30% 1h", "FTX 2022"]
    expected = batch(book, scenarios=scenarios)
    assert {"pnl: BTC -30% 1h", "liquidated: FTX 2022"} <= set(expected.columns)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ddf = dd.from_pandas(book, npartitions=6)
        keyed = ddf.assign(account_key=ddf.map_partitions(account_key,
                                                          meta=("account", "object")))
        result = keyed.shuffle(on="account_key", npartitions=3).map_partitions(
            _stress_part, scenarios, meta=expected.iloc[:0])
        got = client.compute(result).result()
    # Account sums add the same terms in another order: equal to the last bits, not to them.
    pd.testing.assert_frame_equal(_sorted(got), _sorted(expected), rtol=1e-12)


def _stress_part(part: pd.DataFrame, scenarios: list[str]) -> pd.DataFrame:
    return batch(part.drop(columns="account_key"), scenarios=scenarios)


def test_margin_and_stress_commands_read_and_write_parquet(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _book(1_500, seed=11)
    source = tmp_path / "book.parquet"
    book.to_parquet(source)
    out = tmp_path / "results.parquet"
    assert main(["margin", "--positions", str(source), "--out", str(out), "--partitions", "3",
                 "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["positions"] == len(book) and summary["partitions"] == 3
    got = pd.read_parquet(out).set_index("id").sort_index()
    expected = batch(book).set_index(book["id"]).sort_index()
    np.testing.assert_array_equal(got["liquidation_price"].to_numpy(),
                                  expected["liquidation_price"].to_numpy())
    assert (got["symbol"] == book.set_index("id").sort_index()["symbol"]).all()
    # stress with two scenarios; --out exists now: refused without --force
    assert main(["stress", "--positions", str(source), "--out", str(out), "--quiet",
                 "--scenario", "BTC -30% 1h"]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["stress", "--positions", str(source), "--out", str(out), "--quiet", "--force",
                 "--scenario", "BTC -30% 1h", "--scenario", "LUNA/UST 2022"]) == 0
    stressed = pd.read_parquet(out)
    assert {"pnl: BTC -30% 1h", "liquidated: LUNA/UST 2022"} <= set(stressed.columns)
    assert len(stressed) == len(book)


def test_a_book_that_is_not_positions_is_one_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"price": [1.0]}).to_parquet(bad)
    assert main(["margin", "--positions", str(bad), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 1
    assert "positions need a symbol column" in capsys.readouterr().err
    assert main(["margin", "--positions", str(tmp_path / "none.parquet"), "--out",
                 str(tmp_path / "o"), "--quiet"]) == 1
    assert "cannot read the positions" in capsys.readouterr().err

"""``perprisk fetch --out BOOK.xlsx``: the fetched export filled into the assessment workbook in
one step (through ``perprisk fill``'s export reader), complete or not at all."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.addin.fetch.conftest import VENUES, assert_no_secret
from tests.addin.fetch.replay_server import ReplayServer, closed_port


def workbook_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as book:
        return b"".join(book.read(name) for name in book.namelist())


def positions_in(path: Path) -> int:
    from addin.reader import read_filled_workbook

    # What the workbook check says of the figures is perprisk fill's business (tested there).
    return len(read_filled_workbook(path).tables["positions"])


def test_every_venue_into_one_workbook(run_fetch: Any, replay: ReplayServer,
                                       keys_env: Any) -> None:
    run = run_fetch(*VENUES, out="book.xlsx")
    assert run.path.is_file(), run.err
    assert f"{run.path}:" in run.out and "position(s) written" in run.out
    assert positions_in(run.path) == 7  # one per venue, two on Bybit
    assert_no_secret(run.out, run.err, run.path.read_bytes(), workbook_bytes(run.path))
    assert sorted(p.name for p in run.path.parent.iterdir()) == ["book.xlsx"]
    assert ".perprisk-fetch" not in run.out + run.err and "fetch.json" not in run.out + run.err
    # Every venue answered: any exit 1 is the workbook check's finding, said by fill.
    assert "not in the workbook" not in run.err
    assert run.code == (1 if "problem(s)" in run.err else 0), run.err


def test_a_venue_down_still_writes_the_others_and_says_it_once(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    run = run_fetch("gate", "hyperliquid", out="book.xlsx",
                    extra=("--api-base", f"gate={down}"))
    assert run.code == 1
    assert run.path.is_file()
    assert positions_in(run.path) == 1
    said = [line for line in run.error_lines() if "gate: markets: cannot reach the exchange"
            in line]
    assert len(said) == 1, run.err
    assert "gate: positions NOT read" in run.out
    assert_no_secret(run.out, run.err, workbook_bytes(run.path))
    assert sorted(p.name for p in run.path.parent.iterdir()) == ["book.xlsx"]


def test_fetched_workbook_reproduces_the_exchanges_liquidation_prices(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    """From the exchange's answer to the report, the liquidation price perprisk computes is the
    one the exchange reported in its documented payload (to the cent)."""
    from addin.report import assess_file

    run = run_fetch("binanceusdm", "binancecoinm", "hyperliquid", out="book.xlsx")
    assert run.code == 0, run.err
    outcome = assess_file(run.path)
    assert outcome.assessment is not None, outcome.book.problems
    found = {(p.symbol, p.contract): (p.liquidation_price, p.exchange_liquidation_price)
             for p in outcome.assessment.positions}
    for key, reported in {("BTC/USDT:USDT", "linear"): 5930.78,
                          ("BTC/USD:BTC", "inverse"): 25119.9744576,
                          ("ETH/USDC:USDC", "linear"): 2866.26936529}.items():
        ours, theirs = found[key]
        assert theirs == pytest.approx(reported, abs=1e-6), key
        assert ours == pytest.approx(reported, abs=0.01), key


def test_an_account_larger_than_the_workbook_is_never_cut_silently(
        run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    import json

    from tests.addin.fetch.replay_server import RECORDINGS, Route

    documented = json.loads((RECORDINGS / "binanceusdm" / "positionRisk.json").read_text())
    many = [dict(documented["response"][0], positionAmt=f"{1 + i / 1000:.3f}")
            for i in range(300)]
    replay.routes.insert(0, Route("binanceusdm", "GET", "/fapi/v3/positionRisk", response=many))
    run = run_fetch("binanceusdm", out="book.xlsx")
    assert run.code == 1
    assert "300 positions" in run.err  # said, with the positions that do not fit
    assert not run.path.exists() or positions_in(run.path) == 300
    assert sorted(p.name for p in run.path.parent.iterdir()) in ([], ["book.xlsx"])

"""The manual: built for real (A4 and Letter), its text read back with pdftotext, and a sample of
its figures checked against riskfuncs called here on the same inputs."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import riskfuncs as rf
from addin.cli import main as cli_main
from addin.manual import context as C  # noqa: N812
from addin.manual.render import PAGE_POINTS, build_manual, draw_charts, money, pct, price

pytest.importorskip("weasyprint")
pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or
                                shutil.which("pdfinfo") is None,
                                reason="needs poppler-utils (pdftotext, pdfinfo)")


@dataclass
class Built:
    ctx: C.ManualContext
    a4: Path
    letter: Path


def _text(pdf: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run(["pdftotext", *pages, str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return " ".join(out.split())  # one line: a figure may wrap in a table cell


def _info(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                         text=True).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines()
                                               if ":" in line)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    out = tmp_path_factory.mktemp("manual")
    ctx = C.build_context()
    ctx.charts = draw_charts(ctx)
    a4 = build_manual(out / "manual-a4.pdf", paper="a4", ctx=ctx)
    # Letter through the command line, as a user runs it.
    assert cli_main(["manual", "--out", str(out / "manual-letter.pdf"), "--paper", "letter"]) == 0
    yield Built(ctx, a4, out / "manual-letter.pdf")


def test_page_sizes(built: Built) -> None:
    for pdf, paper in ((built.a4, "a4"), (built.letter, "letter")):
        size = _info(pdf)["Page size"]
        width, height = (float(x) for x in re.findall(r"[\d.]+", size)[:2])
        assert (width, height) == pytest.approx(PAGE_POINTS[paper], abs=0.5), (paper, size)
        assert int(_info(pdf)["Pages"]) >= 12


def test_table_of_contents_points_at_each_chapter(built: Built) -> None:
    toc = _text(built.a4, 2)
    assert "Contents" in toc
    pages = int(_info(built.a4)["Pages"])
    found = re.findall(r"(\d+)\. ([A-Z][^.]*?)[ .]*?(\d+)(?= \d+\. | Page)", toc)
    titles = [t for _, t, _ in found]
    assert len(found) == 11, toc
    assert "How liquidation works, venue by venue" in titles
    for number, title, page in found:
        assert 3 <= int(page) <= pages
        # The page the contents names opens with the chapter's heading.
        assert f"{number}. {title}" in _text(built.a4, int(page)), (title, page)


def test_page_numbers(built: Built) -> None:
    pages = int(_info(built.a4)["Pages"])
    assert f"Page 3 of {pages}" in _text(built.a4, 3)
    assert f"Page {pages} of {pages}" in _text(built.a4, pages)
    assert "Page 1 of" not in _text(built.a4, 1)  # the cover has none


def test_binance_worked_example_is_riskfuncs(built: Built) -> None:
    from addin.reader.exchange_data import load_tiers

    tiers = load_tiers(C.sample_dir() / "tiers.json")["BTC/USDT:USDT"]
    expected = rf.liquidation_price("long", 60_000, 1, 6_000, exchange="binance", tiers=tiers)
    example = built.ctx.venue("binance")
    assert example.liquidation_long == expected
    text = _text(built.a4)
    assert f"liquidated at {price(expected)}" in text
    assert price(expected) in _text(built.letter)


@pytest.mark.parametrize("venue", ["bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex"])
def test_every_venue_example_is_riskfuncs(built: Built, venue: str) -> None:
    spec = next(v for v in C.VENUE_INPUTS if v.venue == venue)
    kwargs = {"exchange": venue, "fee_rate": spec.fee_rate}
    if spec.max_leverage is not None:
        kwargs["max_leverage"] = spec.max_leverage
    else:
        kwargs["maintenance_margin_rate"] = spec.maintenance_margin_rate
    long_ = rf.liquidation_price("long", C.EXAMPLE_ENTRY, C.EXAMPLE_QUANTITY,
                                 C.EXAMPLE_COLLATERAL, **kwargs)
    short = rf.liquidation_price("short", C.EXAMPLE_ENTRY, C.EXAMPLE_QUANTITY,
                                 C.EXAMPLE_COLLATERAL, **kwargs)
    text = _text(built.a4)
    assert f"The long is liquidated at {price(long_)}" in text
    assert f"the short at {price(short)}" in text


def test_stress_and_book_figures_are_riskfuncs(built: Built) -> None:
    import pandas as pd

    from addin.reader.exchange_data import load_export
    from addin.report.assessment import positions_frame

    export = load_export(C.sample_dir() / "positions.json")
    records = [p.values for p in export.positions]  # noqa: PD011 - a dict
    frame = positions_frame(pd.DataFrame(records))
    text = _text(built.a4)
    head = rf.stress_test(frame, "BTC -30% 1h").by_scenario.iloc[0]
    assert f"loses {money(head['loss'])} USD" in text
    conc = rf.concentration(rf.exposure_by_exchange(frame))
    assert f"{conc.hhi:.3f}" in text
    distance = rf.portfolio_margin(frame)["distance_to_liquidation"].min()
    assert pct(distance) in text


def test_every_number_is_formatted(built: Built) -> None:
    text = _text(built.a4)
    # No raw floats or template leftovers reach the page.
    assert not re.search(r"\d\.\d{7,}", text)
    assert "{{" not in text and "nan" not in text.split()


def test_build_py_routes_manual(repo_root: Path, tmp_path: Path) -> None:
    """``python build.py --manual`` reaches the manual's own arguments (refused early here: the
    full build is the fixture's)."""
    import sys

    done = subprocess.run([sys.executable, str(repo_root / "build.py"), "--manual", "--out",
                           str(tmp_path / "manual.txt")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "--out must name a .pdf file" in done.stderr


def test_margin_and_sizing_figures_are_riskfuncs(built: Built) -> None:
    import pandas as pd

    from addin.manual.render import lev, num

    text = _text(built.a4)
    state = rf.account_margin(pd.DataFrame(C.UNIFIED_BOOK), C.UNIFIED_BALANCES,
                              mode=C.UNIFIED_MODE, collateral_tiers=C.UNIFIED_HAIRCUTS)
    for liq in state.positions["account_liquidation_price"]:
        assert price(liq) in text
    assert f"equity is {money(state.equity, 2)} USD" in text
    okx = rf.collateral_value(C.COLLATERAL_BTC, C.COLLATERAL_BTC_PRICE, list(C.OKX_BTC_DISCOUNT))
    assert f"counts as {money(okx)} USD" in text
    survive = rf.max_leverage_for_move(0.30, side="long", maintenance_margin_rate=C.BUFFER_MMR,
                                       buffer=0.30)
    assert lev(survive) in text
    s = C.SIZING
    size = rf.position_size(s["equity"], s["risk_fraction"], s["entry"], s["stop"], side="long")
    assert f"the size is {num(size, 4)} BTC" in text

"""`perprisk fill`, `report` and `demo` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addin._resources import templates_dir
from addin.cli import main
from addin.reader import read_filled_workbook

SAMPLE = templates_dir() / "sample"


def test_fill_from_csv_gives_a_clean_workbook(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(SAMPLE / "positions.csv"), "--out", str(out)]) == 0
    book = read_filled_workbook(out)
    assert book.problems == []
    table = book.tables["positions"]
    assert list(table["symbol"])[:2] == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert list(table["exchange"]) == ["binance", "binance", "bybit", "bybit", "okx",
                                       "hyperliquid"]
    assert list(table["contract"])[4] == "inverse"  # BTC/USD:BTC settles in its base
    assert main(["fill", "--positions", str(SAMPLE / "positions.csv"), "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def test_fill_names_the_bad_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "bad.json"
    export.write_text(json.dumps([{"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1,
                                   "entryPrice": "lots", "markPrice": 1, "collateral": 1}]))
    out = tmp_path / "x.xlsx"
    # No exchange field and no --exchange: refused, the venue's rule sets the price.
    assert main(["fill", "--positions", str(export), "--out", str(out)]) == 1
    assert "does not say which exchange it comes from; pass --exchange" in (
        capsys.readouterr().err)
    assert main(["fill", "--positions", str(export), "--exchange", "bybit", "--out",
                 str(out)]) == 1
    assert ("bad.json bybit BTC/USDT:USDT (position 1): entryPrice is 'lots'; expected a "
            "number") in capsys.readouterr().err
    assert not out.exists()


def test_fill_says_what_it_guessed_and_what_the_export_got_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = json.loads((SAMPLE / "positions.json").read_text())
    export["positions"][0]["exchange"] = "binanse"  # a typo: valued generically, said so
    export["positions"][1]["leverage"] = -15  # written, then named by cell
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    assert main(["fill", "--positions", str(path), "--out", str(tmp_path / "x.xlsx")]) == 1
    err = capsys.readouterr().err
    assert ("binanse has no published rule here; its positions are valued with the generic "
            "rule") in err
    assert "Positions & Margin!J12: Leverage: -15 is too small" in err
    # A misspelt account: the wallet is not guessed from a real ccxt export's positions, and
    # the refusal names the spelling that did not match.
    export["balances"] = {"bybt:USDT": 30_000}
    for position in export["positions"]:
        position["info"] = {}
    path.write_text(json.dumps(export))
    assert main(["fill", "--positions", str(path), "--out", str(tmp_path / "y.xlsx")]) == 1
    err = capsys.readouterr().err
    assert ('no wallet balance for the cross account bybit:USDT ("balances" names bybt:USDT)'
            in err)
    assert not (tmp_path / "y.xlsx").exists()


def test_fill_refuses_a_file_that_is_not_tiers(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fill", "--positions", str(SAMPLE / "positions.json"), "--tiers",
                 str(SAMPLE / "ohlcv.json"), "--out", str(tmp_path / "x.xlsx")])
    assert code == 1
    assert "ohlcv.json: tiers of BTC/USDT:USDT must be ccxt leverage tiers" in (
        capsys.readouterr().err)


def test_demo_writes_a_book_and_its_reports(tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    book = tmp_path / "demo-assessment.xlsx"
    assert read_filled_workbook(book).problems == []
    html = (tmp_path / "demo-report.html").read_text()
    assert '<img src="data:image/png;base64,' in html
    data = json.loads((tmp_path / "demo-report.json").read_text())
    assert len(data["positions"]) == 6 and data["scorecard"] and data["market"]
    # SPAN rows: moves recomputed from the scan range (their cells are formulas); for linear
    # perpetuals the vol-up and vol-down twins lose the same, the extremes lose the most.
    span = {s["name"]: s["loss"] for s in data["scenarios"] if s["name"].startswith("SPAN")}
    assert len(span) == 16 and span["SPAN 3"] == span["SPAN 4"] != 0
    assert max(abs(v) for v in span.values()) in (abs(span["SPAN 15"]), abs(span["SPAN 16"]))
    # Funding paid by the 0.8 BTC long over the sample's 8-hour rates: notional x sum of rates.
    rates = [r["fundingRate"] for r in json.loads((SAMPLE / "funding.json").read_text())[
        "BTC/USDT:USDT"]]
    assert data["funding"]["total_payment"] == pytest.approx(-0.8 * 61850.0 * sum(rates))
    assert main(["report", str(book), "--format", "json", "--out",
                 str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert [p["liquidation_price"] for p in again["positions"]] == [
        p["liquidation_price"] for p in data["positions"]]


def test_scorecard_template_without_positions(tmp_path: Path) -> None:
    import pandas as pd

    from addin.fill import writer
    from addin.reader import exchange_data
    from addin.report import assess_file
    from addin.workbook import layout
    from riskfuncs.counterparty import exchange_grade, exchange_score

    facts = exchange_data.load_exchanges(SAMPLE / "exchanges.json")
    wb = writer.fill_workbook(layout.TEMPLATES["exchange-scorecard"], [])
    writer.fill_market_data(wb, [], exchanges=facts)
    path = tmp_path / "scorecard.xlsx"
    wb.save(path)
    outcome = assess_file(path)
    assert outcome.assessment is not None, outcome.book.problems
    card = outcome.assessment.scorecard
    assert card is not None
    weights = {str(r["factor"]): float(r["weight"])
               for r in outcome.book.tables["weights"].to_dict("records")}
    expected = exchange_score(pd.DataFrame(facts), weights=weights)
    assert [e.score for e in card.exchanges] == pytest.approx(list(expected))
    assert [e.grade for e in card.exchanges] == list(exchange_grade(expected))
    assert card.total_expected_loss == 0.0  # no positions, nothing owed


def test_an_input_riskfuncs_refuses_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever the reader lets through and riskfuncs refuses ends as one line, exit 1."""
    from addin.report import pipeline
    from riskfuncs import RiskInputError

    assert main(["demo", "--out", str(tmp_path)]) == 0
    capsys.readouterr()

    def refuse(*args: object, **kwargs: object) -> None:
        raise RiskInputError("leverage must be > 0 (got -5)\nmore detail")

    monkeypatch.setattr(pipeline, "assess_book", refuse)
    assert main(["report", str(tmp_path / "demo-assessment.xlsx")]) == 1
    assert capsys.readouterr().err == "demo-assessment.xlsx: leverage must be > 0 (got -5)\n"


def test_unreadable_exports_and_unwritable_outputs_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    occupied = tmp_path / "file"
    occupied.write_text("")
    csv_file = tmp_path / "latin.csv"
    csv_file.write_bytes(b"\xff\xfesymbol\n")
    balances = tmp_path / "balances.json"
    balances.write_text(json.dumps({"positions": [], "balances": {"binance:USDT": "lots"}}))
    cases = {
        ("fill", "--positions", str(csv_file), "--out", str(tmp_path / "a.xlsx")):
            "latin.csv: cannot read the CSV (",
        ("fill", "--positions", str(balances), "--out", str(tmp_path / "b.xlsx")):
            "balances.json: balances binance:USDT is 'lots'; expected a number",
        ("fill", "--positions", str(SAMPLE / "positions.json"), "--out",
         str(occupied / "c.xlsx")): f"{occupied / 'c.xlsx'}: cannot write the workbook (",
        ("demo", "--out", str(occupied)): f"{occupied}: cannot write the demo (",
    }
    for args, message in cases.items():
        assert main(list(args)) == 1, args
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, (args, err)

"""A checked proof of reserves in the workbook and the report: ``perprisk por verify
--workbook`` writes it into the Exchange Scorecard, a failed proof is a red alert in the report
(text and JSON) naming the exchange and the failed check, a verified one gives the
proof-of-reserves sub-score with its date and reserve ratio; LibreOffice computes the same
score and counts the failed proof."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from addin.cli import main
from addin.workbook import layout
from riskfuncs.counterparty import exchange_score, reserve_subscore

REF = Path(__file__).resolve().parents[2] / "reference" / "por"
OKX = REF / "okx" / "merkle_proof_file.json"
SAMPLE = Path(__file__).resolve().parents[3] / "templates" / "sample"
TEMPLATE = "exchange-scorecard"


def _book(tmp_path: Path) -> Path:
    """The sample positions and exchange facts filled into the Exchange Scorecard template."""
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(SAMPLE / "positions.json"), "--exchanges",
                 str(SAMPLE / "exchanges.json"), "--template", TEMPLATE, "--out",
                 str(book)]) == 0
    return book


def _tampered(tmp_path: Path) -> Path:
    proof = json.loads(OKX.read_text(encoding="utf-8"))
    proof["self"]["balances"]["USDT"] = "19398.33550813"  # one satoshi-sized change
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(proof), encoding="utf-8")
    return path


def _report(book: Path, tmp_path: Path, fmt: str) -> str:
    out = tmp_path / f"report.{fmt if fmt != 'text' else 'txt'}"
    main(["report", str(book), "--format", fmt, "--out", str(out)])
    return out.read_text(encoding="utf-8")


def _sample_weights() -> dict[str, float]:
    from addin.workbook.prefill import table_rows

    rows = table_rows(layout.SCORECARD, layout.SCORECARD.table("weights"))
    return {str(r["factor"]): float(r["weight"]) for r in rows}


def _expected_score(exchange: str, proof_of_reserves: float) -> float:
    facts = {r["exchange"]: r for r in json.loads(
        (SAMPLE / "exchanges.json").read_text(encoding="utf-8"))["exchanges"]}
    row = dict(facts[exchange], proof_of_reserves=proof_of_reserves)
    frame = pd.DataFrame([{f: row[f] for f in layout.FACTORS}])
    return float(exchange_score(frame, weights=_sample_weights()).iloc[0])


def test_a_tampered_proof_is_a_red_alert_in_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _book(tmp_path)
    capsys.readouterr()
    assert main(["por", "verify", str(_tampered(tmp_path)), "--exchange", "okx",
                 "--attested", "2026-11-20", "--today", "2026-12-01",
                 "--workbook", str(book)]) == 1
    out = capsys.readouterr().out
    assert "INVALID: failed at leaf" in out
    assert f"{book}: Exchange Scorecard row 3 (okx): proof failed" in out
    data = json.loads(_report(book, tmp_path, "json"))
    (alert,) = [a for a in data["alerts"] if a["subject"].startswith("proof of reserves")]
    assert alert["level"] == "red" and alert["subject"] == "proof of reserves: okx"
    assert alert["text"].startswith("the inclusion proof (snapshot of 2026-11-20) failed at "
                                    "leaf: sha256(nonce + balances) is ")
    assert alert["text"].endswith("its proof-of-reserves sub-score counts 0")
    assert data["worst_alert"]["level"] == "red"
    okx = next(e for e in data["scorecard"]["exchanges"] if e["exchange"] == "okx")
    assert okx["proof_checked"] == "failed" and okx["proof_of_reserves"] == 0.0
    assert okx["proof_failed_at"].startswith("leaf: ")
    assert okx["score"] == pytest.approx(_expected_score("okx", 0.0), rel=1e-12)
    # The other exchanges: not checked, no alert, their typed sub-score used.
    binance = next(e for e in data["scorecard"]["exchanges"] if e["exchange"] == "binance")
    assert binance["proof_checked"] == "" and binance["proof_of_reserves"] == 0.8
    text = _report(book, tmp_path, "text")
    assert "proof of reserves: okx" in text and "failed at leaf: sha256(nonce + balances)" in text


def test_a_failed_proof_counts_0_even_over_a_typed_sub_score(tmp_path: Path) -> None:
    """The sample's 0.8 for OKX stays in its cell only when no proof failed: checked 'failed'
    wins, in the report as in the workbook's formula (see the LibreOffice test)."""
    book = _book(tmp_path)
    from openpyxl import load_workbook

    wb = load_workbook(book)
    ws, table = wb[layout.SCORECARD.title], layout.SCORECARD.table("exchanges")
    row = table.first_row + 2  # okx in the sample
    assert ws.cell(row, table.column_index("exchange")).value == "okx"
    ws.cell(row, table.column_index("proof_of_reserves_checked")).value = "failed"
    wb.save(book)
    data = json.loads(_report(book, tmp_path, "json"))
    okx = next(e for e in data["scorecard"]["exchanges"] if e["exchange"] == "okx")
    assert okx["proof_of_reserves"] == 0.0
    assert okx["score"] == pytest.approx(_expected_score("okx", 0.0), rel=1e-12)
    (alert,) = [a for a in data["alerts"] if a["subject"] == "proof of reserves: okx"]
    assert "failed at a check not recorded on the Scorecard" in alert["text"]


def test_a_verified_proof_gives_the_sub_score_with_its_date_and_ratio(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _book(tmp_path)
    assert main(["por", "verify", str(OKX), "--reserve-ratio", "0.95", "--attested",
                 "2026-11-01", "--today", "2026-12-01", "--workbook", str(book)]) == 0
    assert "Exchange Scorecard row 3 (okx): proof verified" in capsys.readouterr().out
    from addin.reader import read_filled_workbook

    table = read_filled_workbook(book).tables["exchanges"]
    okx = table[table["exchange"] == "okx"].iloc[0]
    expected = float(reserve_subscore(0.95, 30))
    assert okx["proof_of_reserves"] == pytest.approx(expected, abs=1e-6)
    assert okx["proof_of_reserves_checked"] == "verified"
    assert str(okx["proof_of_reserves_date"]) == "2026-11-01" and okx["reserve_ratio"] == 0.95
    assert okx["audit"] == 0.5  # the other sub-scores as they were
    data = json.loads(_report(book, tmp_path, "json"))
    assert not [a for a in data["alerts"] if a["subject"].startswith("proof of reserves")]
    scored = next(e for e in data["scorecard"]["exchanges"] if e["exchange"] == "okx")
    assert scored["proof_checked"] == "verified" and scored["proof_date"] == "2026-11-01"
    assert scored["reserve_ratio"] == 0.95
    assert scored["proof_of_reserves"] == pytest.approx(expected, abs=1e-6)
    assert scored["score"] == pytest.approx(_expected_score("okx", expected), rel=1e-9)


def test_a_venue_not_listed_gets_a_new_row_and_a_failure_clears_on_a_new_check(
        tmp_path: Path) -> None:
    book = _book(tmp_path)
    assert main(["por", "verify", str(_tampered(tmp_path)), "--exchange", "bitmex",
                 "--workbook", str(book)]) == 1
    from addin.reader import read_filled_workbook

    table = read_filled_workbook(book).tables["exchanges"]
    bitmex = table[table["exchange"] == "bitmex"].iloc[0]
    assert bitmex["proof_of_reserves_checked"] == "failed" and bitmex["proof_of_reserves"] == 0
    assert len(table) == len(json.loads((SAMPLE / "exchanges.json").read_text())["exchanges"]) + 1
    # Checked again with a good proof: verified, the failure text gone.
    assert main(["por", "verify", str(OKX), "--exchange", "bitmex", "--workbook",
                 str(book)]) == 0
    table = read_filled_workbook(book).tables["exchanges"]
    bitmex = table[table["exchange"] == "bitmex"].iloc[0]
    assert bitmex["proof_of_reserves_checked"] == "verified"
    failed_at = bitmex["proof_of_reserves_failed_at"]
    assert failed_at is None or (isinstance(failed_at, float) and math.isnan(failed_at)) \
        or failed_at == ""


def test_a_workbook_without_a_scorecard_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "monitor.xlsx"
    assert main(["fill", "--positions", str(SAMPLE / "positions.json"), "--template",
                 "position-margin-monitor", "--out", str(book)]) == 0
    capsys.readouterr()
    assert main(["por", "verify", str(OKX), "--workbook", str(book)]) == 2
    err = capsys.readouterr().err
    assert err == ("perprisk por verify: monitor.xlsx: template position-margin-monitor has no "
                   "Exchange Scorecard sheet\n")
    not_a_book = tmp_path / "notes.xlsx"
    not_a_book.write_bytes(b"not a workbook")
    assert main(["por", "verify", str(OKX), "--workbook", str(not_a_book)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.xlsx" in err


@pytest.mark.libreoffice
def test_the_workbook_scores_a_failed_proof_0_and_counts_it(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from addin.workbook import recalc

    try:
        recalc.soffice_path()
    except recalc.LibreOfficeError as exc:
        pytest.skip(str(exc))
    book = _book(tmp_path)
    assert main(["por", "verify", str(_tampered(tmp_path)), "--exchange", "okx",
                 "--workbook", str(book)]) == 1
    assert main(["por", "verify", str(OKX), "--exchange", "bybit", "--reserve-ratio", "0.97",
                 "--attested", "2026-10-01", "--today", "2026-12-01",
                 "--workbook", str(book)]) == 0
    # Binance marked failed by hand, its typed 0.8 left in the cell: the formula counts 0.
    edit = load_workbook(book)
    ws, table = edit[layout.SCORECARD.title], layout.SCORECARD.table("exchanges")
    assert ws.cell(table.first_row, table.column_index("exchange")).value == "binance"
    ws.cell(table.first_row, table.column_index("proof_of_reserves_checked")).value = "failed"
    edit.save(book)
    (out,) = recalc.recalculate([book], tmp_path / "recalculated")
    wb = load_workbook(out, data_only=True)
    ws = wb[layout.SCORECARD.title]
    sheet = layout.SCORECARD

    def cell(exchange: str, key: str) -> Any:
        for r in range(table.first_row, table.first_row + table.rows):
            if ws.cell(r, table.column_index("exchange")).value == exchange:
                return ws.cell(r, table.column_index(key)).value
        raise AssertionError(f"{exchange} not on the scorecard")

    # LibreOffice keeps 15 significant digits: compared to 1e-12 relative.
    assert cell("okx", "proof_of_reserves") == 0  # written by por verify
    assert cell("okx", "score") == pytest.approx(_expected_score("okx", 0.0), rel=1e-12)
    assert cell("binance", "proof_of_reserves") == 0.8  # typed, and not counted
    assert cell("binance", "score") == pytest.approx(_expected_score("binance", 0.0),
                                                     rel=1e-12)
    bybit = round(float(reserve_subscore(0.97, 61)), 6)  # as por verify writes it
    assert cell("bybit", "proof_of_reserves") == bybit
    assert cell("bybit", "score") == pytest.approx(_expected_score("bybit", bybit), rel=1e-12)
    assert cell("bybit", "reserve_ratio") == 0.97
    assert ws[sheet.field_cell("proofs_failed")].value == 2
    data = json.loads(_report(book, tmp_path, "json"))
    scores = {e["exchange"]: e["score"] for e in data["scorecard"]["exchanges"]}
    for exchange in ("okx", "bybit", "binance"):  # the report scores as the workbook does
        assert scores[exchange] == pytest.approx(cell(exchange, "score"), rel=1e-12)
    red = sorted(a["subject"] for a in data["alerts"]
                 if a["subject"].startswith("proof of reserves"))
    assert red == ["proof of reserves: binance", "proof of reserves: okx"]


def test_the_json_rows_reach_the_report_through_fill(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``por verify --json --merge`` then ``fill --exchanges``: the same columns, the same
    red alert."""
    assert main(["por", "verify", str(_tampered(tmp_path)), "--json", "--attested",
                 "2026-11-20", "--today", "2026-12-01", "--merge",
                 str(SAMPLE / "exchanges.json")]) == 1
    checked = tmp_path / "checked.json"
    checked.write_text(capsys.readouterr().out, encoding="utf-8")
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(SAMPLE / "positions.json"), "--exchanges",
                 str(checked), "--template", TEMPLATE, "--out", str(book)]) == 0
    data = json.loads(_report(book, tmp_path, "json"))
    (alert,) = [a for a in data["alerts"] if a["subject"].startswith("proof of reserves")]
    assert alert == {"level": "red", "subject": "proof of reserves: okx", "row": None,
                     "text": alert["text"]}
    assert "(snapshot of 2026-11-20) failed at leaf: sha256(nonce + balances)" in alert["text"]
    okx = next(e for e in data["scorecard"]["exchanges"] if e["exchange"] == "okx")
    assert okx["proof_checked"] == "failed" and okx["proof_of_reserves"] == 0.0


def test_writing_keeps_the_workbook_s_charts_validations_and_formats(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book = tmp_path / "full.xlsx"
    assert main(["fill", "--positions", str(SAMPLE / "positions.json"), "--exchanges",
                 str(SAMPLE / "exchanges.json"), "--out", str(book)]) == 0

    def parts() -> dict[str, tuple[int, int, int]]:
        wb = load_workbook(book)
        return {ws.title: (len(ws._charts), len(ws.data_validations.dataValidation),
                           len(ws.conditional_formatting)) for ws in wb}

    before = parts()
    assert sum(charts for charts, _, _ in before.values()) >= 3  # the Dashboard's charts
    assert main(["por", "verify", str(_tampered(tmp_path)), "--exchange", "okx",
                 "--workbook", str(book)]) == 1
    assert parts() == before
    from addin.reader import read_filled_workbook

    assert read_filled_workbook(book).problems == []

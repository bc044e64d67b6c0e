"""`perprisk report` and `demo` outputs: the format follows the file name, an empty book is
loud, and an edited demo workbook is never overwritten without --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addin.cli import main
from addin.delivery.email import email_for
from addin.reader import read_filled_workbook
from addin.report import render, render_subject
from addin.report.pipeline import assess_book
from tests.addin.report.workbooks import book_from_positions


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


def test_out_extension_chooses_the_format(demo_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    book = str(demo_dir / "demo-assessment.xlsx")
    assert main(["report", book, "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", book, "--out", str(tmp_path / "r.JSON")]) == 0
    assert len(json.loads((tmp_path / "r.JSON").read_text())["positions"]) == 6
    assert main(["report", book, "--out", str(tmp_path / "r.txt")]) == 0
    assert (tmp_path / "r.txt").read_text().startswith("perprisk credit-risk assessment")
    assert "r.html: html report written" in capsys.readouterr().out


def test_a_format_that_contradicts_the_name_is_a_usage_error(
        demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = str(demo_dir / "demo-assessment.xlsx")
    assert main(["report", book, "--format", "text", "--out", str(tmp_path / "r.html")]) == 2
    assert "--format text but --out r.html is html" in capsys.readouterr().err
    assert main(["report", book, "--out", str(tmp_path / "r.pdf")]) == 2
    assert "no format for .pdf" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written
    # An explicit format with a neutral name is honoured.
    assert main(["report", book, "--format", "html", "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report").read_text().startswith("<!DOCTYPE html>")


def test_an_empty_book_is_loud_everywhere(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    book = book_from_positions(tmp_path / "empty.xlsx", [])
    assert main(["report", str(book)]) == 1
    assert "no position" in capsys.readouterr().err
    # Assessed anyway, the book's report says so in the subject, the alerts and the email.
    assessment = assess_book(read_filled_workbook(book))
    assert [(a.level, a.subject) for a in assessment.alerts] == [("red", "no positions")]
    subject = render_subject(assessment)
    assert subject.startswith("perprisk RED: no positions") and "OK" not in subject
    msg = email_for(assessment, book.read_bytes(), filename=book.name,
                    sender="a@example.test", to=["b@example.test"])
    assert msg["Subject"] == subject
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None and "[RED] no positions" in text.get_content()
    assert "OK: no alerts" not in text.get_content()
    assert "no positions" in render(assessment, "html")


def test_an_empty_export_exits_1_unless_allowed(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "empty.json"
    export.write_text(json.dumps({"positions": []}))
    assert main(["report", str(export)]) == 1
    captured = capsys.readouterr()
    assert "empty.json: no positions: nothing was assessed (--allow-empty exits 0)" in (
        captured.err)
    assert "no positions" in captured.out and "OK: no alerts" not in captured.out
    assert main(["report", str(export), "--allow-empty", "--out", str(tmp_path / "e.html")]) == 0
    assert "no positions" in (tmp_path / "e.html").read_text()


def test_demo_keeps_an_edited_workbook(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "demo-assessment.xlsx"
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert main(["demo", "--out", str(tmp_path)]) == 0  # its own output: rewritten freely
    from openpyxl import load_workbook

    wb = load_workbook(book)
    wb.active["A1"] = "my notes"
    wb.save(book)
    edited = book.read_bytes()
    capsys.readouterr()
    assert main(["demo", "--out", str(tmp_path)]) == 1
    assert "was changed since perprisk demo wrote it; pass --force" in capsys.readouterr().err
    assert book.read_bytes() == edited
    assert main(["demo", "--out", str(tmp_path), "--force"]) == 0
    assert book.read_bytes() != edited


def test_demo_never_overwrites_a_workbook_it_did_not_write(tmp_path: Path) -> None:
    book = tmp_path / "demo-assessment.xlsx"
    book.write_bytes(b"someone else's file")
    assert main(["demo", "--out", str(tmp_path)]) == 1
    assert book.read_bytes() == b"someone else's file"


def test_var_says_what_it_covers(demo_dir: Path) -> None:
    """The demo's VaR is the book's: every asset held has a price history, so it covers the
    whole 209,300 USD book (tests/addin/report/test_book_var_report.py checks the figures);
    BTC's own VaR (69,480 USD of it) is still shown, as BTC alone."""
    text = (demo_dir / "demo-report.txt").read_text()
    assert "covers BTC, SOL, ETH, DOGE: 209,300 of a 209,300 USD book (100%)" in text
    assert "MARKET RISK, BTC ALONE" in text
    html = (demo_dir / "demo-report.html").read_text()
    assert "covers BTC, SOL, ETH, DOGE: 209,300 of a 209,300 USD book (100%)" in html
    data = json.loads((demo_dir / "demo-report.json").read_text())
    assert data["book_risk"]["covered_value"] == pytest.approx(209_300.0)
    assert data["book_risk"]["missing"] == []
    assert data["market"]["covered_value"] == pytest.approx(69480.0)

"""`perprisk email` end to end: a filled workbook to a real SMTP server (STARTTLS + AUTH)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from addin.cli import main
from addin.mail.smtp import PASSWORD_ENV
from addin.report import assess_file
from addin.report.render import percent, price
from tests.addin.mail.smtp_fixtures import PASSWORD, USER, Server
from tests.addin.report.workbooks import sample_book

pytestmark = pytest.mark.smtp


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_book(tmp_path_factory.mktemp("mailbooks") / "desk-book.xlsx")


def send_args(server: Server, book: Path, log: Path, *extra: str) -> list[str]:
    return ["email", str(book), "--to", "Desk <desk@example.test>", "--cc", "head@example.test",
            "--from", "risk@example.test", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(server.port), "--starttls", "--user", USER,
            "--cafile", str(server.ca.ca_cert), "--send-log", str(log), *extra]


def parsed(server: Server, i: int = 0) -> EmailMessage:
    got = email.message_from_bytes(server.sink.envelopes[i].original_content,
                                   policy=email.policy.default)
    assert isinstance(got, EmailMessage)
    return got


def test_email_arrives_with_the_right_numbers_and_the_workbook(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    log = tmp_path / "sent.jsonl"
    assert main(send_args(smtp_server, book, log)) == 0
    assert len(smtp_server.sink.envelopes) == 1
    env = smtp_server.sink.envelopes[0]
    assert sorted(env.rcpt_tos) == ["desk@example.test", "head@example.test"]
    msg = parsed(smtp_server)

    assessment = assess_file(book).assessment
    assert assessment is not None and assessment.worst_alert is not None
    worst = assessment.worst_alert
    assert msg["Subject"].startswith(f"perprisk {worst.level.upper()}: {worst.subject}")
    assert msg["Subject"].endswith(f"| {book.name}")
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    for position in assessment.positions:
        assert price(position.liquidation_price) in text_body
        assert price(position.liquidation_price) in html_body
        assert percent(position.distance_to_liquidation) in html_body
    assert 'src="cid:chart"' in html_body
    attachment = next(iter(msg.iter_attachments()))
    assert attachment.get_filename() == book.name
    assert attachment.get_content() == book.read_bytes()

    # A rerun finds the message in the send log and sends nothing, however the same
    # recipients are spelled.
    assert main(send_args(smtp_server, book, log)) == 0
    respelled = send_args(smtp_server, book, log)
    respelled[respelled.index("Desk <desk@example.test>")] = "DESK@example.test"
    assert main(respelled) == 0
    assert len(smtp_server.sink.envelopes) == 1
    out = capsys.readouterr().out
    assert out.count("already sent earlier 1") == 2
    assert PASSWORD not in out and PASSWORD not in log.read_text()


def test_dry_run_writes_eml_and_sends_nothing(book: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    assert main(["email", str(book), "--to", "a@example.test", "--dry-run", str(outbox),
                 "--send-log", str(tmp_path / "log.jsonl")]) == 0
    (eml,) = outbox.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert next(iter(msg.iter_attachments())).get_content() == book.read_bytes()  # type: ignore[attr-defined]


def test_invalid_workbook_is_not_sent(smtp_server: Server, book: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    assert main(send_args(smtp_server, bad, tmp_path / "l.jsonl")) == 1
    assert smtp_server.sink.envelopes == []


def test_missing_password_and_header_injection_are_refused(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert main(send_args(smtp_server, book, tmp_path / "l.jsonl")) == 2
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert main(send_args(smtp_server, book, tmp_path / "l.jsonl",
                          "--subject", "daily\r\nBcc: x@example.test")) == 1
    assert smtp_server.sink.envelopes == []


def test_server_down_fails_with_nonzero_exit(book: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tests.addin.mail.smtp_fixtures import free_port

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    args = ["email", str(book), "--to", "a@example.test", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(free_port()), "--no-tls", "--attempts", "1",
            "--send-log", str(tmp_path / "l.jsonl")]
    assert main(args) == 1
    assert "failed 1" in capsys.readouterr().out


def test_bad_options_end_as_one_line(book: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Usage mistakes are said once, before any workbook is read or any log line written."""
    base = ["email", str(book), "--dry-run", str(tmp_path / "out")]
    assert main([*base, "--to", "desk", "--send-log", str(tmp_path / "l.jsonl")]) == 2
    assert capsys.readouterr().err == (
        "to must be an email address like name@example.com (got 'desk')\n")
    assert main([*base, "--to", "a@example.test", "--send-log", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"send log {tmp_path}: ")
    assert not (tmp_path / "out").exists()
    occupied = tmp_path / "file"
    occupied.write_text("")
    assert main(["email", str(book), "--to", "a@example.test", "--dry-run", str(occupied),
                 "--send-log", str(tmp_path / "l.jsonl")]) == 1
    assert capsys.readouterr().err.startswith(f"--dry-run {occupied}: ")
    for option in ("--attempts", "--timeout"):
        with pytest.raises(SystemExit) as exit_info:
            main([*base, "--to", "a@example.test", option, "0"])
        assert exit_info.value.code == 2
        assert f"argument {option}: must be > 0 (got 0)" in capsys.readouterr().err

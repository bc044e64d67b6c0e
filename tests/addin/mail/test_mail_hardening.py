"""`perprisk email` under hostile servers, hostile files and concurrent runs.

Each test drives a real SMTP server on loopback (aiosmtpd) or the real CLI and checks what
arrived (messages parsed back), what the send log says and the exit code.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from addin.cli import main
from addin.mail import Attachment, Outgoing, SendLog, SmtpSettings, build_message, send_batch
from addin.mail.message import XLSM_TYPE, XLSX_TYPE
from addin.mail.sendlog import message_id_for_key, message_key
from addin.mail.smtp import PASSWORD_ENV
from addin.report import assess_file
from addin.report.render import price
from tests.addin.mail.smtp_fixtures import (
    PASSWORD,
    USER,
    CertAuthority,
    Server,
    start_server,
)
from tests.addin.report.workbooks import book_from_positions, sample_book

pytestmark = pytest.mark.smtp

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_book(tmp_path_factory.mktemp("hardbooks") / "desk-book.xlsx")


def send_args(server: Server, files: list[Path], log: Path, *extra: str) -> list[str]:
    return ["email", *map(str, files), "--to", "Desk <desk@example.test>",
            "--cc", "head@example.test", "--from", "risk@example.test",
            "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port), "--starttls",
            "--user", USER, "--cafile", str(server.ca.ca_cert), "--send-log", str(log),
            "--max-backoff", "0.05", *extra]


def parse(raw: bytes) -> EmailMessage:
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(got, EmailMessage)
    return got


def received(server: Server, i: int = 0) -> EmailMessage:
    return parse(server.sink.envelopes[i].original_content)


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- data loss and duplicates -------------------------------------------------------------------

def test_a_recipient_deferred_with_451_is_retried_later_and_alone(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    log = tmp_path / "sent.jsonl"
    smtp_server.sink.defer["head@example.test"] = 100  # busy for the whole first run
    assert main(send_args(smtp_server, [book], log, "--attempts", "2")) == 1
    out = capsys.readouterr().out
    assert "failed 1" in out and "not to head@example.test: 451" in out
    assert [e.rcpt_tos for e in smtp_server.sink.envelopes] == [["desk@example.test"]]
    last = log_lines(log)[-1]
    assert last["state"] == "failed"
    assert last["recipients"]["desk@example.test"]["outcome"] == "delivered"
    assert last["recipients"]["head@example.test"]["outcome"] == "deferred"

    smtp_server.sink.defer.clear()
    smtp_server.sink.rcpt_calls.clear()
    assert main(send_args(smtp_server, [book], log)) == 0
    assert "sent 1, already sent earlier 0, failed 0" in capsys.readouterr().out
    assert smtp_server.sink.rcpt_calls == ["head@example.test"]  # desk@ is not sent it again
    assert [e.rcpt_tos for e in smtp_server.sink.envelopes] == [
        ["desk@example.test"], ["head@example.test"]]
    assert received(smtp_server, 0)["Message-ID"] == received(smtp_server, 1)["Message-ID"]

    assert main(send_args(smtp_server, [book], log)) == 0
    assert "already sent earlier 1" in capsys.readouterr().out
    assert len(smtp_server.sink.envelopes) == 2


def outgoing(i: int) -> Outgoing:
    payload = f"workbook {i}".encode() * 20
    msg = build_message(sender="risk@example.test", to=["desk@example.test"],
                        subject=f"report {i}", text="t", html="<p>h</p>",
                        attachments=[Attachment(f"b{i}.xlsx", payload)])
    return Outgoing(f"b{i}.xlsx", message_key(payload, ["desk@example.test"]), msg)


def settings(server: Server) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD,
                        timeout=5, context=server.ca.client_context())


def test_two_runs_sharing_a_send_log_deliver_each_message_once(
        smtp_server: Server, tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    count = 20
    start = threading.Barrier(2)
    results: list[Any] = []

    def run() -> None:
        items = [outgoing(i) for i in range(count)]  # each run builds its own messages
        log = SendLog(path)  # its own descriptor: flock treats it like another process
        start.wait()
        results.append(send_batch(items, settings(smtp_server), log, progress=False))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2
    assert len(smtp_server.sink.envelopes) == count
    assert sum(len(r.sent) for r in results) == count  # between them, each message once
    assert all(len(r.sent) + len(r.skipped) == count and r.ok for r in results)
    ids = {str(received(smtp_server, i)["Subject"]): str(received(smtp_server, i)["Message-ID"])
           for i in range(count)}
    assert len(ids) == count and len(set(ids.values())) == count
    for i in range(count):  # the id is the key's, whichever run sent it
        assert ids[f"report {i}"] == message_id_for_key(outgoing(i).key, "example.test")


def test_an_old_send_log_is_still_honoured(smtp_server: Server, tmp_path: Path) -> None:
    """Lines written before per-recipient records: sent = done, failed = retry everyone."""
    path = tmp_path / "old.jsonl"
    done, failed = outgoing(1), outgoing(2)
    path.write_text(
        json.dumps({"key": done.key, "state": "sent", "label": "b1.xlsx",
                    "message_id": "<old-1@example.test>", "time": "2026-01-01T00:00:00+00:00",
                    "detail": "1 attempt"}) + "\n"
        + json.dumps({"key": failed.key, "state": "failed", "label": "b2.xlsx",
                      "message_id": "<old-2@example.test>", "time": "2026-01-01T00:00:00+00:00",
                      "detail": "451 (after 4 attempts)"}) + "\n"
        + '{"key": "torn", "sta')
    result = send_batch([done, failed], settings(smtp_server), SendLog(path), progress=False)
    assert result.skipped == ["b1.xlsx"] and result.sent == ["b2.xlsx"]
    assert received(smtp_server)["Message-ID"] == "<old-2@example.test>"  # its first id kept
    lines = path.read_text().splitlines()
    assert lines[2] == '{"key": "torn", "sta'  # the torn line is left alone, not glued to
    assert json.loads(lines[-1])["state"] == "sent"


def test_unconfirmed_delivery_is_resent_once_and_said_in_the_summary(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    log = tmp_path / "sent.jsonl"
    smtp_server.sink.script[:] = ["drop"] * 10
    assert main(send_args(smtp_server, [book], log)) == 1
    out = capsys.readouterr().out
    assert "possibly delivered" in out and "not sent again" in out
    assert smtp_server.sink.data_calls == 2
    assert main(send_args(smtp_server, [book], log)) == 0
    assert "possibly delivered earlier" in capsys.readouterr().out
    assert smtp_server.sink.data_calls == 2  # a rerun adds no third copy
    ids = {str(parse(raw)["Message-ID"]) for raw in smtp_server.sink.seen}
    assert len(ids) == 1


# --- one file's failure is that file's ----------------------------------------------------------

def hostile_book(good: Path, target: Path) -> Path:
    """A workbook whose shared-strings count makes the native reader abort the process."""
    strings = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats'
               '.org/spreadsheetml/2006/main" count="4000000000" uniqueCount="4000000000">'
               "<si><t>x</t></si></sst>")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(target, "w",
                                                          zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            data = source.read(name)
            if name == "[Content_Types].xml":
                data = data.replace(b"</Types>", (
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                    b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", (
                    b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/sharedStrings" '
                    b'Target="sharedStrings.xml"/></Relationships>'))
            out.writestr(name, data)
        out.writestr("xl/sharedStrings.xml", strings)
    return target


CLI_CODE = ("import resource, sys\n"
            "from addin.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(f'PEAK_KIB {peak}', file=sys.stderr)\n"
            "sys.exit(rc)\n")


def _limit_memory() -> None:  # keeps a regression from eating the machine
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


def start_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The CLI in its own process (a crash or a hang must not take pytest with it)."""
    return subprocess.Popen([sys.executable, "-c", CLI_CODE, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})}, preexec_fn=_limit_memory)


def run_cli(args: list[str], timeout: float = 90,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    process = start_cli(args, env)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def position(contracts: float) -> dict[str, Any]:
    return {"exchange": "bybit", "symbol": "ETH/USDT:USDT", "side": "short",
            "contracts": contracts, "contractSize": 1, "entryPrice": 3000.0, "markPrice": 3100.0,
            "positionMargin": 900.0, "collateral": 900.0, "marginMode": "isolated",
            "leverage": 10, "maintenanceMarginPercentage": 0.005}


def test_two_processes_sharing_a_send_log_send_each_workbook_once(
        smtp_server: Server, tmp_path: Path) -> None:
    books = [book_from_positions(tmp_path / f"b{i}.xlsx", [position(i + 1)]) for i in range(3)]
    log = tmp_path / "shared.jsonl"
    runs = [start_cli(send_args(smtp_server, books, log), env={PASSWORD_ENV: PASSWORD})
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert len(smtp_server.sink.envelopes) == 3
    summaries = [out for out, _ in outputs]
    sent = sum(int(re.findall(r"^sent (\d+)", out, re.M)[0]) for out in summaries)
    skipped = sum(int(re.findall(r"already sent earlier (\d+)", out)[0]) for out in summaries)
    assert (sent, skipped) == (3, 3)
    ids = [str(received(smtp_server, i)["Message-ID"]) for i in range(3)]
    assert len(set(ids)) == 3


def test_a_quoted_display_name_with_a_comma_is_one_recipient(book: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "out"
    assert main(["email", str(book), "--to", '"Doe, Jane" <jane@example.com>',
                 "--dry-run", str(outbox), "--send-log", str(tmp_path / "l.jsonl")]) == 0
    (eml,) = outbox.glob("*.eml")
    to = parse(eml.read_bytes())["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [("Doe, Jane", "jane@example.com")]


def test_a_workbook_that_crashes_the_reader_fails_alone(
        smtp_server: Server, book: Path, tmp_path: Path) -> None:
    hostile = hostile_book(book, tmp_path / "hostile.xlsx")
    log = tmp_path / "sent.jsonl"
    done = run_cli(send_args(smtp_server, [hostile, book], log), env={PASSWORD_ENV: PASSWORD})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "sent 1, already sent earlier 0, failed 1" in done.stdout
    # The reader now refuses this file in one line before the parser could abort; were any
    # file to crash it, the crash would still be that file's alone (next test).
    assert re.search(r"FAILED \S*hostile\.xlsx: (not sent: the reader crashed \(SIGABRT\)|"
                     r"xl/sharedStrings.xml declares .* more than its \d+ bytes can hold)",
                     done.stdout), done.stdout
    assert len(smtp_server.sink.envelopes) == 1
    attachment = next(iter(received(smtp_server).iter_attachments()))
    assert attachment.get_content() == book.read_bytes()
    assert [line["state"] for line in log_lines(log)] == ["sending", "sent"]


def test_a_reader_that_dies_is_that_file_s_failure() -> None:
    import os

    from addin.mail.isolated import IsolatedCrashError, run_isolated

    assert run_isolated(len, "abc") == 3
    with pytest.raises(IsolatedCrashError, match=r"^the reader crashed \(SIGABRT\)$"):
        run_isolated(os.abort)


# --- deadlines ----------------------------------------------------------------------------------

@pytest.fixture
def trickle_port() -> Iterator[int]:
    """A 'server' that sends its greeting one byte every 50 ms and never finishes it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"2")
                except OSError:
                    return
                time.sleep(0.05)

    def serve() -> None:
        deadline = time.monotonic() + 30  # a safety net: a hung client fails, not hangs
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()
        stop.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def trickle_args(port: int, files: list[Path], log: Path, *extra: str) -> list[str]:
    return ["email", *map(str, files), "--to", "a@example.test", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(port), "--no-tls", "--send-log", str(log), "--timeout", "5",
            "--max-backoff", "0.05", *extra]


def test_a_trickling_server_is_cut_off_by_the_message_deadline(
        trickle_port: int, book: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = main(trickle_args(trickle_port, [book], tmp_path / "l.jsonl",
                             "--message-deadline", "0.8", "--attempts", "3"))
    elapsed = time.monotonic() - started
    assert code == 1
    assert elapsed < 8
    out = capsys.readouterr().out
    assert "gave up: the per-message deadline (0.8 s) passed" in out
    assert "stopped retrying" in out


def test_the_run_deadline_stops_the_batch(trickle_port: int, book: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    other = book_from_positions(tmp_path / "other.xlsx", [position(3)])
    started = time.monotonic()
    code = main(trickle_args(trickle_port, [book, other], tmp_path / "l.jsonl",
                             "--run-deadline", "10", "--message-deadline", "60"))
    assert code == 1
    assert time.monotonic() - started < 25
    out = capsys.readouterr().out
    assert "failed 2" in out
    # The first book is read, assessed and its charts drawn well inside 10 s (a few seconds on
    # a loaded machine), then trickles until the run deadline cuts it off.
    assert "gave up: the run deadline (10 s) passed" in out
    assert re.search(r"FAILED \S*other\.xlsx: not attempted: the run deadline \(10 s\) had "
                     r"passed", out)


# --- silent wrong numbers -----------------------------------------------------------------------

def test_the_body_describes_the_attached_bytes_even_if_the_file_changes(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is replaced right when it is being assessed: body and attachment still agree."""
    import addin.report.pipeline as pipeline
    from addin.reader import read_filled_workbook as original

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    target = tmp_path / "live.xlsx"
    target.write_bytes(book.read_bytes())
    replacement = book_from_positions(tmp_path / "replacement.xlsx", [{
        "exchange": "bybit", "symbol": "LINK/USDT:USDT", "side": "long", "contracts": 100,
        "contractSize": 1, "entryPrice": 15.0, "markPrice": 14.0, "positionMargin": 300.0,
        "collateral": 300.0, "marginMode": "isolated", "leverage": 5,
        "maintenanceMarginPercentage": 0.005}])

    def swapping_reader(path: Path, **kw: Any) -> Any:
        target.write_bytes(replacement.read_bytes())  # someone saves over the file now
        return original(path, **kw)

    monkeypatch.setattr(pipeline, "read_filled_workbook", swapping_reader)
    assert main(send_args(smtp_server, [target], tmp_path / "l.jsonl")) == 0
    msg = received(smtp_server)
    attachment = next(iter(msg.iter_attachments()))
    sent_copy = tmp_path / "sent-copy.xlsx"
    sent_copy.write_bytes(attachment.get_content())
    monkeypatch.setattr(pipeline, "read_filled_workbook", original)
    described = assess_file(sent_copy).assessment
    other = assess_file(replacement).assessment
    assert described is not None and other is not None
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    for position in described.positions:
        assert price(position.liquidation_price) in text
    assert "LINK/USDT" not in text and price(other.positions[0].liquidation_price) not in text


# --- injection ----------------------------------------------------------------------------------

def test_control_and_bidi_characters_do_not_reach_the_subject_or_attachment_name(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    spoof = tmp_path / "risk\u202exslx.exe"  # shows as "riskexe.xlsx" where bidi is honoured
    spoof.write_bytes(book.read_bytes())
    assert main(send_args(smtp_server, [spoof], tmp_path / "l.jsonl",
                          "--subject", "daily\x1b[31m\x07 \u202edesk")) == 0
    msg = received(smtp_server)
    subject = str(msg["Subject"])
    assert subject.startswith("daily[31m desk - ")
    assert not any(ch in subject for ch in "\x1b\x07\x00\u202e")
    attachment = next(iter(msg.iter_attachments()))
    assert attachment.get_filename() == "riskxslx.exe"
    assert attachment.get_content_type() == XLSX_TYPE  # from the bytes, not the name


def test_a_server_echoing_credentials_does_not_put_them_in_the_log_or_output(
        test_ca: CertAuthority, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    secret = "Echo-Me-9f2"

    def echoing(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        return AuthResult(success=False, handled=False, message=(
            f"535 5.7.8 bad credentials for {data.login.decode()} / {data.password.decode()}"))

    server = start_server(test_ca, auth=echoing)
    try:
        monkeypatch.setenv(PASSWORD_ENV, secret)
        log = tmp_path / "l.jsonl"
        assert main(send_args(server, [book], log)) == 1
    finally:
        server.controller.stop()
    captured = capsys.readouterr()
    shown = captured.out + captured.err + log.read_text()
    assert "535 5.7.8 bad credentials for *** / ***" in shown
    assert secret not in shown and f"for {USER}" not in shown


def test_a_reply_echoing_the_base64_auth_string_is_redacted(
        smtp_server: Server, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    smtp_server.sink.script[:] = [f"554 5.7.1 rejected session {plain} pass={PASSWORD}"]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    log = tmp_path / "l.jsonl"
    assert main(send_args(smtp_server, [book], log)) == 1
    shown = capsys.readouterr().out + log.read_text()
    assert "554 5.7.1 rejected session *** pass=***" in shown
    assert PASSWORD not in shown and plain not in shown


def macro_book(good: Path, target: Path) -> Path:
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(target, "w",
                                                          zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            data = source.read(name)
            if name == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml").replace(
                    b"</Types>", b'<Default Extension="bin" ContentType="application/'
                                 b'vnd.ms-office.vbaProject"/></Types>')
            out.writestr(name, data)
        out.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64))
    return target


def test_macro_workbooks_are_refused_unless_allowed(
        book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    macro = macro_book(book, tmp_path / "desk.xlsm")
    base = ["email", str(macro), "--to", "a@example.test",
            "--send-log", str(tmp_path / "l.jsonl")]
    assert main([*base, "--dry-run", str(tmp_path / "refused")]) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "desk.xlsm" in x]
    assert "VBA macro project (xl/vbaProject.bin)" in line and "--allow-macros" in line
    assert not list((tmp_path / "refused").glob("*.eml"))

    assert main([*base, "--dry-run", str(tmp_path / "allowed"), "--allow-macros"]) == 0
    (eml,) = (tmp_path / "allowed").glob("*.eml")
    attachment = next(iter(parse(eml.read_bytes()).iter_attachments()))
    assert attachment.get_content_type() == XLSM_TYPE.lower()  # MIME types are case-blind
    assert attachment.get_content() == macro.read_bytes()


# --- resources ----------------------------------------------------------------------------------

def test_devices_fifos_folders_and_huge_files_are_refused_before_reading(
        book: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.xlsx"
    with huge.open("wb") as handle:
        handle.truncate(2 * 2**30)  # sparse: 2 GiB long, no disk used
    folder = tmp_path / "folder.xlsx"
    folder.mkdir()
    outbox = tmp_path / "outbox"
    started = time.monotonic()
    done = run_cli(["email", "/dev/zero", str(fifo), str(huge), str(folder), str(book),
                    "--to", "a@example.test", "--dry-run", str(outbox),
                    "--send-log", str(tmp_path / "l.jsonl")], timeout=60)
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stderr[-2000:]
    failures = [line for line in done.stdout.splitlines() if "FAILED" in line]
    assert failures == [
        "  FAILED /dev/zero: /dev/zero: is a character device, not a workbook file; not sent",
        f"  FAILED {fifo}: {fifo}: is a FIFO (named pipe), not a workbook file; not sent",
        f"  FAILED {huge}: {huge}: is 2048.0 MiB, larger than the 50.0 MiB an email attachment "
        "may be; not sent",
        f"  FAILED {folder}: {folder}: is a folder, not a workbook file; not sent",
    ]
    assert [p.name for p in outbox.glob("*.eml")] == ["desk-book.eml"]
    peak_kib = int(re.findall(r"PEAK_KIB (\d+)", done.stderr)[-1])
    assert peak_kib < 1024 * 1024  # nothing near 2 GiB was ever read


def test_a_run_that_died_while_sending_leaves_at_most_one_more_copy(
        smtp_server: Server, tmp_path: Path) -> None:
    """A 'sending' line with no outcome after it: the message may have gone out."""
    from addin.mail.smtp import RecipientStatus

    item = outgoing(7)
    log = SendLog(tmp_path / "l.jsonl")
    log.record(item.key, "sending", label=item.label, message_id="<first@example.test>",
               recipients={"desk@example.test": RecipientStatus()},
               attempting=["desk@example.test"])
    smtp_server.sink.script[:] = ["drop", "drop"]
    first = send_batch([item], settings(smtp_server), SendLog(log.path), progress=False)
    assert "possibly delivered" in first.failed[0][1]
    again = send_batch([item], settings(smtp_server), SendLog(log.path), progress=False)
    assert again.skipped == ["b7.xlsx"] and "possibly delivered earlier" in again.summary()
    assert smtp_server.sink.data_calls == 1
    assert parse(smtp_server.sink.seen[0])["Message-ID"] == "<first@example.test>"


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_a_silent_tls_handshake_is_cut_off_by_the_deadline(
        test_ca: CertAuthority, security: str) -> None:
    """The server accepts (and, for STARTTLS, says 220 Ready) and then never answers."""
    from addin.mail.smtp import Deadline, SmtpConnection, TemporarySendError, send_with_retries

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        held.append(conn)
        if security == "starttls":
            conn.sendall(b"220 hello\r\n")
            conn.recv(1024)  # EHLO
            conn.sendall(b"250-hello\r\n250 STARTTLS\r\n")
            conn.recv(1024)  # STARTTLS
            conn.sendall(b"220 go ahead\r\n")  # ... and then silence during the handshake

    threading.Thread(target=serve, daemon=True).start()
    cfg = SmtpSettings(host="127.0.0.1", port=int(listener.getsockname()[1]),
                       security=security, timeout=30,  # type: ignore[arg-type]
                       context=test_ca.client_context())
    started = time.monotonic()
    try:
        with SmtpConnection(cfg) as conn, pytest.raises(TemporarySendError,
                                                        match="gave up: the test deadline"):
            send_with_retries(conn, outgoing(1).message, attempts=1,
                              deadline=Deadline.after(0.5, "the test deadline"))
    finally:
        for sock in held:
            sock.close()
        listener.close()
    assert time.monotonic() - started < 5

"""Sending through a real SMTP server on loopback: what arrives, and the failure modes."""

from __future__ import annotations

import email
import email.policy
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest

from addin.mail import (
    Attachment,
    InlineImage,
    Outgoing,
    PermanentSendError,
    SendLog,
    SmtpSettings,
    TemporarySendError,
    build_message,
    send_batch,
    send_with_retries,
)
from addin.mail.sendlog import message_key
from addin.mail.smtp import SmtpConnection, UnconfirmedSendError
from tests.addin.mail.smtp_fixtures import (
    PASSWORD,
    USER,
    CertAuthority,
    Server,
    Sink,
    free_port,
    start_server,
)

pytestmark = pytest.mark.smtp

WORKBOOK = b"PK\x03\x04" + bytes(range(256)) * 40 + b"\r\n.\r\n\x00end"  # awkward bytes
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def message(subject: str = "perprisk: 1 position near liquidation") -> EmailMessage:
    return build_message(
        sender="risk@example.test",
        to=["desk@example.test"],
        cc=["Head <head@example.test>"],
        subject=subject,
        text="BTC/USDT 4.1% from liquidation\nTom & <b>Jerry</b>\n",
        html="<p>BTC/USDT 4.1% from liquidation</p><img src=\"cid:chart\">",
        attachments=[Attachment("book.xlsx", WORKBOOK)],
        images=[InlineImage("chart", PNG)],
    )


def settings(server: Server, **kw: object) -> SmtpSettings:
    base: dict[str, object] = dict(
        host="127.0.0.1", port=server.port, security="starttls", user=USER, password=PASSWORD,
        timeout=5, context=server.ca.client_context(),
    )
    base.update(kw)
    return SmtpSettings(**base)  # type: ignore[arg-type]


def received(sink: Sink, i: int = 0) -> EmailMessage:
    got = email.message_from_bytes(sink.envelopes[i].original_content, policy=email.policy.default)
    assert isinstance(got, EmailMessage)
    return got


def no_sleep(seconds: float) -> None:
    pass


def test_starttls_auth_message_arrives_intact(smtp_server: Server) -> None:
    with SmtpConnection(settings(smtp_server)) as conn:
        assert send_with_retries(conn, message(), sleep=no_sleep) == 1
    env = smtp_server.sink.envelopes[0]
    assert env.mail_from == "risk@example.test"
    assert sorted(env.rcpt_tos) == ["desk@example.test", "head@example.test"]
    got = received(smtp_server.sink)
    assert got["Subject"] == "perprisk: 1 position near liquidation"
    text = got.get_body(preferencelist=("plain",))
    html = got.get_body(preferencelist=("html",))
    assert text is not None and "Tom & <b>Jerry</b>" in text.get_content()
    assert html is not None and "4.1% from liquidation" in html.get_content()
    attachments = list(got.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["book.xlsx"]
    assert hashlib.sha256(attachments[0].get_content()).hexdigest() == hashlib.sha256(
        WORKBOOK).hexdigest()
    images = [p for p in got.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<chart>"
    assert images[0].get_payload(decode=True) == PNG


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth(smtps_server: Server) -> None:
    with SmtpConnection(settings(smtps_server, security="ssl")) as conn:
        send_with_retries(conn, message(), sleep=no_sleep)
    assert len(smtps_server.sink.envelopes) == 1


def test_no_tls_plain_server_without_auth() -> None:
    from aiosmtpd.controller import Controller

    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        cfg = SmtpSettings(host="127.0.0.1", port=ctl.port, security="none", timeout=5)
        with SmtpConnection(cfg) as conn:
            send_with_retries(conn, message(), sleep=no_sleep)
    finally:
        ctl.stop()
    assert len(sink.envelopes) == 1


def test_wrong_password_is_permanent(smtp_server: Server) -> None:
    calls: list[float] = []
    with SmtpConnection(settings(smtp_server, password="nope")) as conn, pytest.raises(
            PermanentSendError) as err:
        send_with_retries(conn, message(), sleep=calls.append)
    assert err.value.attempts == 1 and calls == []
    assert "nope" not in str(err.value)
    assert smtp_server.sink.envelopes == []


def test_untrusted_certificate_is_refused(smtp_server: Server) -> None:
    cfg = settings(smtp_server, context=ssl.create_default_context())  # system CAs only
    with SmtpConnection(cfg) as conn, pytest.raises(PermanentSendError, match="certificate"):
        send_with_retries(conn, message(), sleep=no_sleep)
    assert smtp_server.sink.envelopes == []


def test_auth_is_not_offered_before_starttls(smtp_server: Server) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=5) as s:
        s.ehlo()
        assert s.has_extn("starttls") and not s.has_extn("auth")


def test_451_then_success_sends_once(smtp_server: Server) -> None:
    smtp_server.sink.script[:] = ["451"]
    waits: list[float] = []
    with SmtpConnection(settings(smtp_server)) as conn:
        assert send_with_retries(conn, message(), backoff=0.5, sleep=waits.append) == 2
    assert waits == [0.5]
    assert smtp_server.sink.data_calls == 2 and len(smtp_server.sink.envelopes) == 1


def test_550_is_not_retried(smtp_server: Server) -> None:
    smtp_server.sink.script[:] = ["550"]
    waits: list[float] = []
    with SmtpConnection(settings(smtp_server)) as conn, pytest.raises(
            PermanentSendError, match="550") as err:
        send_with_retries(conn, message(), sleep=waits.append)
    assert err.value.attempts == 1 and waits == []
    assert smtp_server.sink.data_calls == 1 and smtp_server.sink.envelopes == []


def test_connection_dropped_after_the_message_is_resent_once_only(smtp_server: Server) -> None:
    """No reply after the whole message went out: maybe delivered. One more copy, not three."""
    smtp_server.sink.script[:] = ["drop", "drop", "drop", "drop"]
    waits: list[float] = []
    with SmtpConnection(settings(smtp_server)) as conn, pytest.raises(
            UnconfirmedSendError, match="no reply after the whole message was sent") as err:
        send_with_retries(conn, message(), attempts=4, backoff=1, sleep=waits.append)
    assert err.value.attempts == 2 and waits == [1]
    assert smtp_server.sink.data_calls == 2
    ids = {email.message_from_bytes(raw)["Message-ID"] for raw in smtp_server.sink.seen}
    assert len(ids) == 1  # the same Message-ID both times


def test_connection_dropped_before_data_is_retried_with_capped_backoff(
        test_ca: CertAuthority) -> None:
    """Nothing reached the server (nobody listening): plain retries, waits capped."""
    cfg = SmtpSettings(host="127.0.0.1", port=free_port(), user=USER, password=PASSWORD,
                       timeout=5, context=test_ca.client_context())
    waits: list[float] = []
    with SmtpConnection(cfg) as conn, pytest.raises(TemporarySendError):
        send_with_retries(conn, message(), attempts=5, backoff=1, max_backoff=3,
                          sleep=waits.append)
    assert waits == [1, 2, 3, 3]


def outgoing(label: str, payload: bytes) -> Outgoing:
    msg = build_message(
        sender="risk@example.test", to=["desk@example.test"], subject=f"report {label}",
        text="t", html="<p>h</p>", attachments=[Attachment(label, payload)],
    )
    return Outgoing(label=label, key=message_key(payload, ["desk@example.test"]), message=msg)


def test_server_down_then_rerun_sends_each_exactly_once(
        test_ca: CertAuthority, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    log = SendLog(tmp_path / "sent.jsonl")
    items = [outgoing(f"book{i}.xlsx", bytes([i]) * 100) for i in range(3)]
    cfg = SmtpSettings(host="127.0.0.1", port=port, user=USER, password=PASSWORD, timeout=5,
                       context=test_ca.client_context())
    waits: list[float] = []
    first = send_batch(items, cfg, log, attempts=3, backoff=0.1, sleep=waits.append,
                       progress=False)
    assert not first.ok and len(first.failed) == 3 and first.sent == []
    assert waits == [0.1, 0.2] * 3
    assert all(e.state == "failed" for e in SendLog(log.path).entries())
    ids = {e.key: e.message_id for e in SendLog(log.path).entries()}

    server = start_server(test_ca, port=port)
    try:
        server.sink.script[:] = ["ok", "550"]  # the second message is refused for good
        again = send_batch(items, cfg, SendLog(log.path), sleep=no_sleep, progress=False)
        assert again.sent == ["book0.xlsx", "book2.xlsx"]
        assert [label for label, _ in again.failed] == ["book1.xlsx"]
        third = send_batch(items, cfg, SendLog(log.path), sleep=no_sleep, progress=False)
        assert third.skipped == ["book0.xlsx", "book2.xlsx"] and third.sent == ["book1.xlsx"]
        fourth = send_batch(items, cfg, SendLog(log.path), sleep=no_sleep, progress=False)
        assert fourth.sent == [] and len(fourth.skipped) == 3 and fourth.ok
    finally:
        server.controller.stop()
    subjects = sorted(received(server.sink, i)["Subject"] for i in range(3))
    assert subjects == ["report book0.xlsx", "report book1.xlsx", "report book2.xlsx"]
    # A retried message keeps the Message-ID it was first given.
    for i in range(3):
        got = received(server.sink, i)
        key = message_key(bytes([int(got["Subject"][11])]) * 100, ["desk@example.test"])
        assert got["Message-ID"] == ids[key]
    assert PASSWORD not in log.path.read_text()


def test_batch_drop_after_data_nothing_lost_at_most_one_extra_copy(smtp_server: Server,
                                                                   tmp_path: Path) -> None:
    # b0 ok; b1 dropped once then ok on its one resend; b2 dropped on both tries
    smtp_server.sink.script[:] = ["ok", "drop", "ok", "drop", "drop", "drop", "drop"]
    items = [outgoing(f"b{i}.xlsx", bytes([i + 1]) * 50) for i in range(3)]
    log = SendLog(tmp_path / "log.jsonl")
    first = send_batch(items, settings(smtp_server), log, attempts=3, sleep=no_sleep,
                       progress=False)
    assert first.sent == ["b0.xlsx", "b1.xlsx"] and [f for f, _ in first.failed] == ["b2.xlsx"]
    assert "possibly delivered" in first.failed[0][1]
    assert [label for label, _ in first.notes] == ["b1.xlsx"]
    assert "sent once more with the same Message-ID" in first.notes[0][1]
    assert smtp_server.sink.data_calls == 5
    # A rerun sends nothing more: b2 was possibly delivered twice already.
    second = send_batch(items, settings(smtp_server), SendLog(log.path), sleep=no_sleep,
                        progress=False)
    assert second.sent == [] and second.skipped == ["b0.xlsx", "b1.xlsx", "b2.xlsx"]
    assert second.ok and "possibly delivered earlier" in second.summary()
    assert smtp_server.sink.data_calls == 5
    subjects = [received(smtp_server.sink, i)["Subject"] for i in range(2)]
    assert subjects == ["report b0.xlsx", "report b1.xlsx"]
    by_subject: dict[str, set[str]] = {}
    for raw in smtp_server.sink.seen:
        got = email.message_from_bytes(raw)
        by_subject.setdefault(str(got["Subject"]), set()).add(str(got["Message-ID"]))
    assert all(len(ids) == 1 for ids in by_subject.values())  # copies share their id


def test_openssl_made_ca_works_too(tmp_path: Path) -> None:
    """The fallback used where the cryptography package is not installed."""
    import shutil

    from tests.addin.mail.smtp_fixtures import _make_ca_openssl

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    ca = _make_ca_openssl(tmp_path)
    server = start_server(ca)
    try:
        with SmtpConnection(settings(server)) as conn:
            send_with_retries(conn, message(), sleep=no_sleep)
    finally:
        server.controller.stop()
    assert len(server.sink.envelopes) == 1


def test_partial_delivery_is_reported_and_only_the_refused_recipient_retried(
        smtp_server: Server, tmp_path: Path) -> None:
    smtp_server.sink.refuse.add("head@example.test")
    log = SendLog(tmp_path / "log.jsonl")
    item = Outgoing("book.xlsx", "k", message())  # to desk@, cc head@
    first = send_batch([item], settings(smtp_server), log, sleep=no_sleep, progress=False)
    assert [label for label, _ in first.failed] == ["book.xlsx"]
    assert "delivered to desk@example.test" in first.failed[0][1]
    assert "head@example.test: 550" in first.failed[0][1]
    smtp_server.sink.rcpt_calls.clear()
    again = send_batch([item], settings(smtp_server), SendLog(log.path), sleep=no_sleep,
                       progress=False)
    assert [label for label, _ in again.failed] == ["book.xlsx"]
    assert smtp_server.sink.rcpt_calls == ["head@example.test"]  # desk@ is never asked again
    assert len(smtp_server.sink.envelopes) == 1
    assert smtp_server.sink.envelopes[0].rcpt_tos == ["desk@example.test"]

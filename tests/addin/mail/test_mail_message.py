"""Message building: header injection refused, structure, .eml output, password handling."""

from __future__ import annotations

import email
import email.policy
import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from addin.mail import Attachment, InlineImage, MailError, Outgoing, build_message, write_eml
from addin.mail.content import AttachmentError, macro_parts, read_attachment, workbook_type
from addin.mail.message import BINARY_TYPE, XLSM_TYPE, XLSX_TYPE
from addin.mail.sendlog import SendLog, message_key
from addin.mail.smtp import PASSWORD_ENV, SmtpSettings, settings_from_env


def build(**overrides: object) -> object:
    args: dict[str, object] = dict(sender="risk@example.test", to=["a@example.test"],
                                   subject="s", text="t", html="<p>h</p>")
    args.update(overrides)
    return build_message(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("field,value", [
    ("subject", "hi\r\nBcc: victim@example.test"),
    ("subject", "hi\nX-Evil: 1"),
    ("to", ["a@example.test\r\nBcc: b@example.test"]),
    ("cc", ["c@example.test\n"]),
    ("sender", "risk@example.test\rX: y"),
])
def test_line_breaks_in_headers_are_refused(field: str, value: object) -> None:
    with pytest.raises(MailError, match="line breaks"):
        build(**{field: value})


@given(st.text(), st.sampled_from(["\r", "\n", "\r\n", "\u2028"]), st.text())
def test_any_subject_with_a_line_break_is_refused(head: str, brk: str, tail: str) -> None:
    with pytest.raises(MailError):
        build(subject=head + brk + tail)


@pytest.mark.parametrize("bad", ["not-an-address", "a@", "a b@example.test", "@example.test",
                                 "a@b@c"])
def test_malformed_addresses_are_refused(bad: str) -> None:
    with pytest.raises(MailError, match="address"):
        build(to=[bad])


def test_structure_and_comma_separated_recipients() -> None:
    msg = build_message(
        sender="Risk Desk <risk@example.test>", to=["a@example.test, b@example.test"],
        subject="Ünïcode subject ✓", text="plain", html="<p>html</p>",
        attachments=[Attachment("b.xlsx", b"PK\x03\x04"), Attachment("b.pdf", b"%PDF",
                                                                      "application/pdf")],
        images=[InlineImage("chart", b"\x89PNG")],
    )
    assert msg.get_content_type() == "multipart/mixed"
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.test", "b@example.test"]
    kinds = [p.get_content_type() for p in msg.walk()]
    assert kinds == ["multipart/mixed", "multipart/alternative", "text/plain",
                     "multipart/related", "text/html", "image/png",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     "application/pdf"]


def test_dry_run_writes_parseable_eml(tmp_path: Path) -> None:
    data = bytes(range(256))
    msg = build_message(sender="r@example.test", to=["a@example.test"], subject="s",
                        text="t", html="<p>h</p>", attachments=[Attachment("x.xlsx", data)])
    items = [Outgoing("dir/x.xlsx", "k1", msg), Outgoing("other/x.xlsx", "k2", msg)]
    paths = write_eml(items, tmp_path / "out")
    assert [p.name for p in paths] == ["x.eml", "x-2.eml"]
    raw = paths[0].read_bytes()
    assert b"\r\n" in raw
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert next(back.iter_attachments()).get_content() == data  # type: ignore[attr-defined]


def test_password_only_from_environment_and_never_shown() -> None:
    cfg = settings_from_env("smtp.example.test", user="me", environ={PASSWORD_ENV: "hunter22"})
    assert cfg.password == "hunter22" and "hunter22" not in repr(cfg)
    with pytest.raises(MailError, match=PASSWORD_ENV):
        settings_from_env("smtp.example.test", user="me", environ={})
    assert settings_from_env("smtp.example.test", environ={PASSWORD_ENV: "x"}).password is None


def test_password_in_clear_is_refused_except_on_loopback() -> None:
    with pytest.raises(MailError, match="in clear"):
        SmtpSettings(host="smtp.example.test", security="none", user="u", password="p").check()
    SmtpSettings(host="127.0.0.1", security="none", user="u", password="p").check()


def test_message_key_depends_on_bytes_and_recipients_not_order() -> None:
    k = message_key(b"abc", ["A@example.test", "b@example.test"])
    assert k == message_key(b"abc", ["b@example.test", "a@example.test"])
    assert k != message_key(b"abd", ["a@example.test", "b@example.test"])
    assert k != message_key(b"abc", ["a@example.test"])


def test_send_log_survives_a_torn_last_line(tmp_path: Path) -> None:
    log = SendLog(tmp_path / "l.jsonl")
    log.record("k", "sent", label="x", message_id="<1@x>")
    with log.path.open("a") as handle:
        handle.write('{"key": "k2", "sta')  # crash mid-write
    again = SendLog(log.path)
    assert again.was_sent("k") and again.last("k2") is None
    with log.path.open("ab") as handle:
        handle.write(b'\n{"key": "k3", "label": "caf\xc3')  # torn inside a UTF-8 character
    assert SendLog(log.path).was_sent("k")


def test_a_display_name_with_a_comma_is_one_address() -> None:
    msg = build_message(sender='"Risk, Desk" <risk@example.test>',
                        to=['"Doe, Jane" <jane@example.com>, b@example.test'], subject="s",
                        text="t", html="<p>h</p>")
    assert isinstance(msg, EmailMessage)
    to = msg["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [
        ("Doe, Jane", "jane@example.com"), ("", "b@example.test")]
    assert msg["From"].addresses[0].display_name == "Risk, Desk"
    with pytest.raises(MailError, match="address"):
        build(to=["Doe, Jane <jane@example.com>"])  # unquoted: "Doe" is not an address


@pytest.mark.parametrize("bad", ["a@example.test\x00", "a\x1b@example.test",
                                 "\u202ea@example.test"])
def test_control_characters_in_an_address_are_named_as_such(bad: str) -> None:
    with pytest.raises(MailError, match="must not contain control characters") as err:
        build(to=[bad])
    assert "line breaks" not in str(err.value)


def test_control_and_bidi_characters_are_removed_from_subject_and_file_name() -> None:
    msg = build(subject="BTC\x1b[31m down\x07 10%\x00\u202e\ttoday",
                attachments=[Attachment("risk\u202exslx.exe", b"PK\x03\x04")])
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "BTC[31m down 10% today"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["riskxslx.exe"]


def _package(content_types: str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", content_types)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_attachment_type_comes_from_the_content() -> None:
    types = ('<Types><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
             'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
    assert workbook_type(_package(types)) == XLSX_TYPE
    macro_types = types.replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    assert workbook_type(_package(macro_types)) == XLSM_TYPE
    assert workbook_type(b"MZ\x90\x00 an executable") == BINARY_TYPE
    assert workbook_type(_package("<Types/>")) == BINARY_TYPE  # a zip, not a workbook
    assert macro_parts(_package(types)) == []
    assert macro_parts(_package(macro_types, {"xl/vbaProject.bin": b"x"})) == [
        "xl/vbaProject.bin"]
    renamed = macro_types.replace("</Types>", '<Override PartName="/xl/innocent.dat" '
                                  'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    assert macro_parts(_package(renamed, {"xl/innocent.dat": b"x"})) == ["xl/innocent.dat"]


def test_read_attachment_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match="is a character device"):
        read_attachment(Path("/dev/zero"))
    with pytest.raises(AttachmentError, match="is a folder"):
        read_attachment(tmp_path)
    small = tmp_path / "small.xlsx"
    small.write_bytes(b"x" * 11)
    with pytest.raises(AttachmentError, match="larger than the 10 bytes"):
        read_attachment(small, max_bytes=10)
    assert read_attachment(small, max_bytes=11) == b"x" * 11


def test_redaction_covers_plain_and_auth_encoded_credentials() -> None:
    import base64

    cfg = SmtpSettings(host="h", user="alerts", password="pa55-word")
    plain = base64.b64encode(b"\0alerts\0pa55-word").decode()
    text = f"535 no: alerts/PA55-WORD {plain} {base64.b64encode(b'pa55-word').decode()}"
    assert cfg.redact(text) == "535 no: ***/*** *** ***"

"""Build an assessment email: plain text + HTML (with inline images) + attachments.

Structure of the result::

    multipart/mixed
     ├── multipart/alternative
     │    ├── text/plain
     │    └── multipart/related
     │         ├── text/html          (refers to images as cid:...)
     │         └── image/png ...
     └── attachments (workbook, optional PDF), bytes untouched (base64)

Header values that carry CR, LF or NUL are refused outright rather than cleaned: a newline in a
subject or address is how header injection works (RFC 5322 section 2.2 forbids bare CR/LF in
header field bodies).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"

_FORBIDDEN = ("\r", "\n", "\x00")


class MailError(ValueError):
    """A message cannot be built or sent as asked: the text says what is wrong."""


@dataclass(frozen=True)
class Attachment:
    """A file attached as is: ``data`` is sent byte for byte."""

    filename: str
    data: bytes
    content_type: str = XLSX_TYPE


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML body shows through ``<img src="cid:{content_id}">``."""

    content_id: str
    data: bytes
    subtype: str = "png"


def check_header_text(field: str, value: str) -> str:
    """Return ``value`` unchanged, or raise MailError if it could inject headers."""
    if any(ch in value for ch in _FORBIDDEN):
        raise MailError(f"{field} must not contain line breaks (got {value!r})")
    return value


def parse_address(field: str, value: str) -> Address:
    """Validate one address (``name@example.com`` or ``Name <name@example.com>``)."""
    check_header_text(field, value)
    text = value.strip()
    display = ""
    if text.endswith(">") and "<" in text:
        display, _, spec = text[:-1].rpartition("<")
        display = display.strip().strip('"')
    else:
        spec = text
    spec = spec.strip()
    local, at, domain = spec.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in spec):
        raise MailError(f"{field} must be an email address like name@example.com (got {value!r})")
    try:
        return Address(display_name=display, addr_spec=spec)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise MailError(f"{field} is not a valid email address (got {value!r}): {exc}") from None


def parse_addresses(field: str, values: Iterable[str]) -> list[Address]:
    """Validate a list of addresses; each item may itself be comma-separated."""
    found: list[Address] = []
    for value in values:
        check_header_text(field, value)
        found.extend(parse_address(field, part) for part in value.split(",") if part.strip())
    return found


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str,
    cc: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    images: Sequence[InlineImage] = (),
    message_id: str | None = None,
) -> EmailMessage:
    """Assemble the message; every header value is checked for CR/LF first."""
    from_address = parse_address("from", sender)
    to_addresses = parse_addresses("to", to)
    if not to_addresses:
        raise MailError("to must name at least one recipient")
    cc_addresses = parse_addresses("cc", cc)
    check_header_text("subject", subject)
    for attachment in attachments:
        check_header_text("attachment filename", attachment.filename)
    for image in images:
        check_header_text("image content id", image.content_id)

    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = to_addresses
    if cc_addresses:
        msg["Cc"] = cc_addresses
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id or make_msgid(domain=from_address.domain)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if images:
        html_part = msg.get_body(preferencelist=("html",))
        assert html_part is not None  # just added above
        for image in images:
            html_part.add_related(
                image.data, maintype="image", subtype=image.subtype, cid=f"<{image.content_id}>"
            )
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg


def recipients(msg: EmailMessage) -> list[str]:
    """Envelope recipients (To + Cc) as bare addresses."""
    found: list[str] = []
    for field in ("To", "Cc"):
        header = msg[field]
        if header is None:
            continue
        found.extend(address.addr_spec for address in header.addresses)
    return found

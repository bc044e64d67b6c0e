"""Build an assessment email: plain text + HTML (with inline images) + attachments.

Structure of the result::

    multipart/mixed
     ├── multipart/alternative
     │    ├── text/plain
     │    └── multipart/related
     │         ├── text/html          (refers to images as cid:...)
     │         └── image/png ...
     └── attachments (workbook, optional PDF), bytes untouched (base64)

Header values that carry CR or LF are refused outright rather than cleaned: a newline in a
subject or address is how header injection works (RFC 5322 section 2.2 forbids bare CR/LF in
header field bodies). Other control characters (ESC, BEL, NUL, ...) and the Unicode bidi controls
(right-to-left override and friends, which make ``risk<RLO>xslx.exe`` display as
``riskexe.xlsx``) are removed from subjects and attachment names, and refused in addresses.
Addresses are parsed as RFC 5322 address lists (``"Doe, Jane" <jane@example.com>`` is one
address).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError, InvalidHeaderDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.12"
PDF_TYPE = "application/pdf"
BINARY_TYPE = "application/octet-stream"

_LINE_BREAKS = ("\r", "\n", "\u2028", "\u2029", "\x85")
#: Bidi embeddings, overrides and isolates, plus the implicit marks: they reorder what a reader
#: sees without changing what the text is.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


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


def is_unsafe_char(ch: str) -> bool:
    """A control character (C0, DEL, C1), a bidi control, or a lone surrogate."""
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS


def check_header_text(field: str, value: str) -> str:
    """Return ``value`` unchanged, or raise MailError if it has a line break or control."""
    if any(ch in value for ch in _LINE_BREAKS):
        raise MailError(f"{field} must not contain line breaks (got {value!r})")
    bad = sorted({f"U+{ord(ch):04X}" for ch in value if is_unsafe_char(ch)})
    if bad:
        raise MailError(f"{field} must not contain control characters ({', '.join(bad)}; "
                        f"got {value!r})")
    return value


def clean_text(field: str, value: str) -> str:
    """``value`` with control and bidi characters removed (tabs become spaces).

    Line breaks are still refused: in a header they are an injection attempt, not noise.
    """
    if any(ch in value for ch in _LINE_BREAKS):
        raise MailError(f"{field} must not contain line breaks (got {value!r})")
    return "".join(" " if ch == "\t" else ch for ch in value
                   if ch == "\t" or not is_unsafe_char(ch))


def _invalid(field: str, value: str) -> MailError:
    return MailError(f"{field} must be an email address like name@example.com (got {value!r})")


def parse_addresses(field: str, values: Iterable[str]) -> list[Address]:
    """Validate addresses; each item is an RFC 5322 address list (commas inside quotes are
    part of a display name: ``"Doe, Jane" <jane@example.com>`` is one address)."""
    found: list[Address] = []
    for value in values:
        check_header_text(field, value)
        if not value.strip():
            continue
        try:
            header = default_policy.header_factory(field, value)
            addresses = list(header.addresses)  # type: ignore[attr-defined]
        except (HeaderParseError, IndexError, ValueError):
            raise _invalid(field, value) from None
        if any(isinstance(defect, InvalidHeaderDefect) for defect in header.defects):
            raise _invalid(field, value)
        for address in addresses:
            domain = address.domain
            if (not address.username or not domain or any(c.isspace() for c in domain)
                    or "@" in domain):
                raise _invalid(field, value)
        found.extend(addresses)
    return found


def parse_address(field: str, value: str) -> Address:
    """Validate one address (``name@example.com`` or ``"Name, Team" <name@example.com>``)."""
    addresses = parse_addresses(field, [value])
    if len(addresses) != 1:
        raise _invalid(field, value) if not addresses else MailError(
            f"{field} must be a single address (got {value!r})")
    return addresses[0]


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
    """Assemble the message.

    Addresses and the image ids must be clean (MailError otherwise); the subject and attachment
    names lose their control and bidi characters; CR/LF anywhere in a header is refused.
    """
    from_address = parse_address("from", sender)
    to_addresses = parse_addresses("to", to)
    if not to_addresses:
        raise MailError("to must name at least one recipient")
    cc_addresses = parse_addresses("cc", cc)
    subject = clean_text("subject", subject)
    attachments = [Attachment(clean_filename(a.filename), a.data, a.content_type)
                   for a in attachments]
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


def clean_filename(name: str) -> str:
    """An attachment name without control or bidi characters (never empty)."""
    cleaned = clean_text("attachment filename", name).strip()
    return cleaned or "attachment"


def recipients(msg: EmailMessage) -> list[str]:
    """Envelope recipients (To + Cc) as bare addresses."""
    found: list[str] = []
    for field in ("To", "Cc"):
        header = msg[field]
        if header is None:
            continue
        found.extend(address.addr_spec for address in header.addresses)
    return found

"""The assessment email: one message per filled workbook."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from addin.mail import Attachment, InlineImage, build_message
from addin.mail.message import PDF_TYPE, XLSX_TYPE
from addin.report.assessment import Assessment
from addin.report.render import charts, render, render_subject

__all__ = ["EMAIL_POSITIONS", "email_for"]

#: Positions listed in an email body, most urgent first; the workbook attached has them all.
EMAIL_POSITIONS = 50


def email_for(
    assessment: Assessment,
    workbook_bytes: bytes,
    *,
    filename: str,
    sender: str,
    to: list[str],
    cc: list[str] | None = None,
    subject: str | None = None,
    pdf: bytes | None = None,
    message_id: str | None = None,
    content_type: str = XLSX_TYPE,
) -> EmailMessage:
    """The assessment email: text + HTML with the charts inline, the workbook attached as is
    (as ``content_type``, which the caller takes from the bytes, not from the name)."""
    auto = render_subject(assessment)
    images = charts(assessment)
    attachments = [Attachment(filename, workbook_bytes, content_type)]
    if pdf is not None:
        attachments.append(Attachment(Path(filename).stem + ".pdf", pdf, PDF_TYPE))
    return build_message(
        sender=sender, to=to, cc=cc or [],
        subject=f"{subject} - {auto}" if subject else auto,
        text=render(assessment, "text", max_positions=EMAIL_POSITIONS),
        html=render(assessment, "html", images=images, inline=False,
                    max_positions=EMAIL_POSITIONS),
        attachments=attachments,
        images=[InlineImage(image.content_id, image.png) for image in images.values()],
        message_id=message_id,
    )

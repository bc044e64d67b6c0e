"""Render the demo report and its email to PNG with headless Chromium, as a reader sees them.

``python -m addin.delivery.preview DIR`` writes the demo workbook and report into ``DIR``, the
email's HTML with its inline images resolved, and a screenshot of each at desktop width and at
a 390-pixel phone width (``*-desktop.png``, ``*-phone.png``), trimmed of the blank page below,
each chart alone (``chart-*.png``) and the workbook's first printed pages
(``demo-assessment-page-*.png``). Needs Chromium (``PERPRISK_CHROMIUM``, default
``/usr/bin/chromium``), LibreOffice and poppler-utils.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: (name, window width in CSS pixels) of each screenshot.
VIEWS = (("desktop", 1100), ("phone", 390))
PAGE_HEIGHT = 9000


def email_html(book: Path) -> str:
    """The HTML body of the demo email, each ``cid:`` image replaced by its data."""
    from addin.delivery.email import email_for
    from addin.report import assess_file

    assessment = assess_file(book).assessment
    if assessment is None:
        raise SystemExit(f"{book}: the demo workbook has problems")
    msg = email_for(assessment, book.read_bytes(), filename=book.name,
                    sender="perprisk@localhost", to=["desk@example.com"])
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_type() == "image/png":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            # Whole attribute values: "cid:chart" must not also match "cid:chart-loss".
            html = html.replace(f'"cid:{cid.strip("<>")}"', f'"{uri}"')
    return html


def screenshot(html: Path, png: Path, width: int) -> None:
    """One screenshot of ``html``, ``width`` CSS pixels wide, trimmed below the content."""
    chromium = os.environ.get("PERPRISK_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory(prefix="perprisk-chromium-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--screenshot={png}", f"--window-size={width},{PAGE_HEIGHT}",
             html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120)
    _trim(png)


def _trim(png: Path) -> None:
    from PIL import Image, ImageChops

    with Image.open(png) as image:
        rgb = image.convert("RGB")
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    if box is not None:
        rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + 24))).save(png)


def main(argv: list[str] | None = None) -> int:
    from addin.cli import main as perprisk

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "dist/render")
    status = perprisk(["demo", "--out", str(out), "--force"])
    if status:
        return status
    book = out / "demo-assessment.xlsx"
    email = out / "demo-email.html"
    email.write_text(email_html(book), encoding="utf-8")
    from addin.report import assess_file
    from addin.report.render import charts

    assessment = assess_file(book).assessment
    assert assessment is not None
    for key, image in charts(assessment).items():
        (out / f"chart-{key}.png").write_bytes(image.png)
    for page in (out / "demo-report.html", email):
        for view, width in VIEWS:
            target = out / f"{page.stem}-{view}.png"
            screenshot(page, target, width)
            print(f"wrote {target}")
    for target in workbook_pages(book, out):
        print(f"wrote {target}")
    return 0


def workbook_pages(book: Path, out: Path, pages: int = 3) -> list[Path]:
    """The first printed pages of ``book`` as PNG (LibreOffice, then poppler's pdftoppm)."""
    from addin.workbook.recalc import render_pdf

    pdf = render_pdf([book], out)[0]
    prefix = out / f"{book.stem}-page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", str(pages), str(pdf),
                    str(prefix)], check=True, capture_output=True, timeout=120)
    return sorted(out.glob(f"{prefix.name}-*.png"))


if __name__ == "__main__":
    raise SystemExit(main())

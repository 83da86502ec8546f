"""The whole book as one PDF (``iome-book.pdf`` in the built site).

Debian's Chromium (Playwright) prints each page of the built site in table-of-contents order,
with its charts drawn (legends sit under the plot, so print keeps them), and pypdf joins the
pages into one file. Run by the book build when IOME_PDF=1 (the publishing workflow sets it),
or by hand: ``python -m iome.bookpdf [_build/html]``.
"""

from __future__ import annotations

import functools
import http.server
import io
import re
import sys
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"  # Debian's
NAME = "iome-book.pdf"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def toc_order(site: Path) -> list[str]:
    """Pages in reading order: the start page, then the sidebar's links as the theme lists them."""
    start = site / "book" / "index.html"
    html = start.read_text(encoding="utf-8")
    nav = html[html.find('bd-docs-nav'):]
    nav = nav[:nav.find("</nav>")]
    pages = ["book/index.html"]
    for href in re.findall(r'<a class="reference internal" href="([^"#]+)"', nav):
        rel = (start.parent / href).resolve().relative_to(site.resolve()).as_posix()
        if rel not in pages:
            pages.append(rel)
    return pages


def build_pdf(site: Path, target: Path | None = None) -> Path:
    from playwright.sync_api import sync_playwright
    from pypdf import PdfWriter

    target = target or site / NAME
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    writer = PdfWriter()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 900, "height": 1200})
            pages = toc_order(site)
            for i, rel in enumerate(pages, 1):
                page.goto(f"{base}/{rel}", wait_until="networkidle")
                page.wait_for_function("[...document.querySelectorAll('div.iome-vega')]"
                                       ".every(c => c.querySelector('svg') || c.textContent)", timeout=30000)
                page.emulate_media(media="print")
                pdf = page.pdf(format="A4", print_background=True,
                               margin={"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"})
                page.emulate_media(media="screen")
                writer.append(io.BytesIO(pdf))
                print(f"    pdf {i}/{len(pages)} {rel}", flush=True)
            browser.close()
    finally:
        httpd.shutdown()
    with open(target, "wb") as out:
        writer.write(out)
    return target


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("_build/html")
    print(build_pdf(folder))

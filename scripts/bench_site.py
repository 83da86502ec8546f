"""Page weight of the built site: every page with everything a browser loads for it.

    python scripts/bench_site.py [site folder, default _build/html] [--all]

Serves the site on 127.0.0.1, opens each page in Debian's Chromium (Playwright), waits until the
network is idle and adds up the uncompressed bytes of every response (HTML, CSS, JavaScript,
fonts, images, data). Prints the worst ten pages (all pages with --all) and the total. Prints
figures only; the browser test asserts the 2.5 MB budget.
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
BUDGET = 2.5e6


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def page_weight(context, url: str) -> tuple[int, int]:
    """(bytes, requests) a fresh page load costs (no cache shared between pages)."""
    page = context.new_page()
    sizes: list[int] = []

    def on_response(response):
        try:
            sizes.append(len(response.body()))
        except Exception:  # redirects and aborted requests have no body
            pass

    page.on("response", on_response)
    page.goto(url, wait_until="networkidle")
    page.close()
    return sum(sizes), len(sizes)


def weigh(site: Path) -> list[tuple[int, int, str]]:
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if not p.relative_to(site).as_posix().startswith(("_static/", "_sources/", "genindex", "search")))
    httpd, base = serve(site)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            for rel in pages:
                context = browser.new_context()  # empty cache: what a first visit costs
                size, count = page_weight(context, f"{base}/{rel}")
                context.close()
                rows.append((size, count, rel))
            browser.close()
    finally:
        httpd.shutdown()
    return sorted(rows, reverse=True)


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    site = Path(args[0]) if args else ROOT / "_build" / "html"
    if not (site / "index.html").is_file():
        sys.exit(f"{site}: no built site (index.html missing); run `bash scripts/build.sh` first.")
    rows = weigh(site)
    shown = rows if "--all" in argv else rows[:10]
    print(f"{'MB':>7} {'requests':>8}  page ({'all' if '--all' in argv else 'worst ten'} of {len(rows)})")
    for size, count, rel in shown:
        print(f"{size / 1e6:7.2f} {count:8d}  {rel}{'   OVER 2.5 MB' if size > BUDGET else ''}")
    sizes = sorted(r[0] for r in rows)
    print(f"median {sizes[len(sizes) // 2] / 1e6:.2f} MB, largest {sizes[-1] / 1e6:.2f} MB, "
          f"{sum(s > BUDGET for s in sizes)} page(s) over the 2.5 MB budget")


if __name__ == "__main__":
    main(sys.argv[1:])

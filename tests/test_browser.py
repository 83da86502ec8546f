"""The published site in a real browser (Debian's Chromium via Playwright; never a downloaded
browser): charts and widgets render from the site's own JavaScript, with no request leaving
127.0.0.1 and no failed request."""

from __future__ import annotations

import functools
import http.server
import threading
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page()
    failed, outside, errors = [], [], []
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", None) and not r.url.startswith("data:") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    return page, failed, outside, errors


def test_chapter_charts_and_widgets_render_offline(browser, server, tmp_path):
    page, failed, outside, errors = open_page(browser, f"{server}/book/iome/health-economics.html")
    page.wait_for_selector("div.iome-vega svg", timeout=20000)
    charts = page.locator("div.iome-vega")
    drawn = page.locator("div.iome-vega svg")
    assert charts.count() >= 3 and drawn.count() == charts.count(), "every chart placeholder got an svg"
    assert drawn.first.locator("text").count() > 5, "the chart drew its axes and title"
    page.wait_for_selector(".widget-dropdown, .jupyter-widgets select", timeout=20000)
    page.screenshot(path=str(tmp_path / "chapter.png"), full_page=True)
    assert failed == [], f"failed requests: {failed}"
    assert outside == [], f"requests left the site: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"


def test_exercise_page_renders_its_context_chart(browser, server):
    page, failed, outside, errors = open_page(browser, f"{server}/book/exercises/health-economics.html")
    page.wait_for_selector("div.iome-vega svg", timeout=20000)
    assert failed == [] and outside == [] and errors == []

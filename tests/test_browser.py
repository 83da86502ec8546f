"""The published site in a real browser, as a student meets it: Debian's Chromium (never a
downloaded browser) driven by Playwright, the site served on 127.0.0.1.

Every page is opened once at 390 px (a phone) and once at 1366 px (a laptop), several pages at a
time in separate contexts of one browser. The tests below then check what those visits saw:
every chart drew, nothing is wider than the window, every explorer reacts to its first control,
no console error, no failed or off-site request, no serious/critical axe-core violation, every
internal link (downloads included) answers 200, and every page stays under 2.5 MB.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from conftest import ROOT

pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = ROOT / "_vendor" / "test" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 900)}
PARALLEL = 4
BUDGET = 2_500_000
SHOTS = Path(ROOT / "_build" / "screenshots")

# run in the page once it is loaded: what the checks need, in one round trip
PROBE = """async () => {
  const wait = (ms) => new Promise(r => setTimeout(r, ms));
  const charts = [...document.querySelectorAll('div.iome-vega')];
  for (let i = 0; i < 100 && charts.some(c => !c.querySelector('svg') && !c.textContent); i++) await wait(100);
  await wait(150);
  const W = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= W + 1) return false;
    for (let p = e.parentElement; p; p = p.parentElement) {  // inside its own scroll box is fine
      const s = getComputedStyle(p);
      if (/(auto|scroll|hidden)/.test(s.overflowX) && p.getBoundingClientRect().right <= W + 1) return false;
    }
    return getComputedStyle(e).visibility !== 'hidden';
  }).slice(0, 3).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.') + ' right=' +
                           Math.round(e.getBoundingClientRect().right));
  const small = [...document.querySelectorAll('div.iome-vega svg text')]
    .filter(t => t.textContent.trim() && parseFloat(getComputedStyle(t).fontSize) < 11)
    .slice(0, 3).map(t => t.textContent + ' ' + getComputedStyle(t).fontSize);
  const svgs = charts.map(c => c.querySelector('svg'));
  return {
    charts: charts.length,
    drawn: svgs.filter(s => s && s.getBoundingClientRect().width > 50).length,
    unlabelled: svgs.filter(s => s && !(s.getAttribute('role') === 'img' && s.getAttribute('aria-label'))).length,
    markLabels: charts.map(c => c.querySelectorAll('svg [aria-label]').length - 1).reduce((a, b) => Math.max(a, b), 0),
    overflow: document.documentElement.scrollWidth - W, wide, small,
    explorers: document.querySelectorAll('figure.iome-explorer').length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    // everything the page loaded (the weight is summed from the files: contexts running side by side
    // may share Chromium's memory cache, so network events would undercount)
    resources: [location.href, ...performance.getEntriesByType('resource').map(e => e.name)],
    widgetManager: !!document.querySelector('script[src*="embed-amd"]'),
  };
}"""

# change each explorer's first control to its second option; did the chart change?
EXPLORE = """async () => {
  const wait = (ms) => new Promise(r => setTimeout(r, ms));
  const out = [];
  for (const fig of document.querySelectorAll('figure.iome-explorer')) {
    const select = fig.querySelector('.vega-bindings select');
    const svg = () => fig.querySelector('div.iome-vega svg');
    if (!select || !svg() || select.options.length < 2) { out.push('no control'); continue; }
    const before = svg().innerHTML;
    select.selectedIndex = 1;
    select.dispatchEvent(new Event('input', {bubbles: true}));
    select.dispatchEvent(new Event('change', {bubbles: true}));
    let changed = false;
    for (let i = 0; i < 30 && !changed; i++) { await wait(100); changed = svg().innerHTML !== before; }
    select.focus();
    const ring = getComputedStyle(select);
    out.push(changed ? (ring.outlineStyle !== 'none' && parseFloat(ring.outlineWidth) >= 2 ? 'ok' : 'no focus ring')
                     : 'chart did not change');
  }
  return out;
}"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def pages_of(site: Path) -> list[str]:
    """Every page of every edition (es/... too), not the theme's own (_static, index, search)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if "_static" not in p.relative_to(site).parts and not p.name.startswith(("genindex", "search")))


def sizes_of(rel: str) -> tuple[str, ...]:
    """The other editions (es/...) are the same layout with other words: the narrow width, where
    longer words overflow first, is enough for them (and keeps CI short)."""
    return tuple(WIDTHS) if rel.startswith("book/") or "/" not in rel else ("phone",)


async def visit(browser, base: str, rel: str, size: str, axe: str, shots: bool) -> dict:
    width, height = WIDTHS[size]
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    seen = {"failed": [], "outside": [], "errors": []}

    page.on("response", lambda r: seen["failed"].append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} ({r.failure})"))
    page.on("request", lambda r: seen["outside"].append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", None) and not r.url.startswith("data:") else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    await page.goto(f"{base}/{rel}", wait_until="networkidle")
    seen.update(await page.evaluate(PROBE))
    await page.add_script_tag(content=axe)
    # preload off: axe's stylesheet preloading resolves the theme's @import against the page URL
    # and asks for a file that does not exist (a 404 that is axe's, not the site's)
    result = await page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations'], preload: false}))
        .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.impact + ' ' + v.id + ' x' + v.nodes.length + ': ' + v.nodes[0].target.join(' '))""")
    seen["axe"] = result
    seen["explore"] = await page.evaluate(EXPLORE) if seen["explorers"] else []
    if shots:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{rel.replace('/', '_')}-{size}.png"), full_page=True)
    await context.close()
    return seen


async def visit_all(site: Path, base: str, shots: bool) -> dict:
    from playwright.async_api import async_playwright
    axe = AXE.read_text(encoding="utf-8")
    gate = asyncio.Semaphore(PARALLEL)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        async def one(rel, size):
            async with gate:
                return (rel, size), await visit(browser, base, rel, size, axe, shots)

        jobs = [one(rel, size) for rel in pages_of(site) for size in sizes_of(rel)]
        done = dict(await asyncio.gather(*jobs))
        await browser.close()
    return done


@pytest.fixture(scope="module")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def visits(site, server, request):
    """{(page, 'phone'|'laptop'): what the browser saw}; IOME_SHOTS=1 also saves screenshots."""
    import os
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `python -m iome.vendor` (scripts/build.sh does)")
    import json
    import time
    start = time.perf_counter()
    seen = asyncio.run(visit_all(site, server, os.environ.get("IOME_SHOTS") == "1"))
    print(f"\nbrowser: {len(seen)} page visits in {time.perf_counter() - start:.0f} s")
    report = {f"{page} @{size}": {k: v for k, v in found.items() if k not in ("links", "resources")} for (page, size), found in seen.items()}
    (ROOT / "_build" / "browser-report.json").write_text(json.dumps(report, indent=1))  # for a failing run
    return seen


def problems(visits, key, bad=bool):
    return {f"{page} @{size}": v[key] for (page, size), v in visits.items() if bad(v[key])}


def test_every_chart_renders_as_one_labelled_image(visits):
    assert sum(v["charts"] for v in visits.values()) > 20, "the book has charts"
    assert problems(visits, "charts", bad=lambda n: False) == {}
    missing = {k: f"{v['drawn']}/{v['charts']}" for k, v in visits.items() if v["drawn"] != v["charts"]}
    assert missing == {}, f"charts not drawn: {missing}"
    assert problems(visits, "unlabelled") == {}, "every chart <svg> is role=img with an aria-label"
    assert problems(visits, "markLabels") == {}, "marks carry no ARIA labels of their own"
    assert problems(visits, "small") == {}, "chart text below 11 px"


def test_nothing_overflows_at_390_or_1366(visits):
    over = {f"{p} @{s}": (v["overflow"], v["wide"]) for (p, s), v in visits.items() if v["overflow"] > 0 or v["wide"]}
    assert over == {}, f"wider than the window: {over}"


def test_every_explorer_reacts_to_its_first_control(visits):
    explorers = sum(len(v["explore"]) for v in visits.values())
    assert explorers >= 4, "the explorers are on the site as browser-side charts"
    broken = problems(visits, "explore", bad=lambda r: any(x != "ok" for x in r))
    assert broken == {}, f"explorers: {broken}"
    assert problems(visits, "widgetManager") == {}, "no page needs the ipywidgets manager any more"


def test_no_console_error_failed_or_offsite_request(visits):
    assert problems(visits, "errors") == {}
    assert problems(visits, "failed") == {}
    assert problems(visits, "outside") == {}


def test_axe_finds_no_serious_or_critical_violation(visits):
    assert problems(visits, "axe") == {}


def page_weight(site: Path, server: str, resources: list[str]) -> int:
    files = {urlparse(urldefrag(u)[0]).path.lstrip("/") for u in resources if u.startswith(server)}
    return sum((site / f).stat().st_size for f in files if (site / f).is_file())


def test_every_page_stays_under_the_weight_budget(visits, site, server):
    weights = {p: page_weight(site, server, v["resources"]) for (p, s), v in visits.items() if s == "laptop"}
    assert min(weights.values()) > 100_000, "the weight counts the page's scripts and styles"
    heavy = {p: w for p, w in weights.items() if w > BUDGET}
    assert heavy == {}, f"pages over {BUDGET / 1e6} MB with everything they load: {heavy}"


def test_every_internal_link_answers_200(visits, server):
    targets = {urldefrag(link)[0] for v in visits.values() for link in v["links"] if link.startswith(server)}
    assert any(t.endswith(".ipynb") for t in targets) and any(t.endswith(".zip") for t in targets)
    bad = {}
    for url in sorted(targets):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
                if r.status != 200:
                    bad[url] = r.status
        except Exception as exc:  # HTTPError for 404 and friends
            bad[url] = str(exc)
    assert bad == {}, f"broken internal links: {bad}"

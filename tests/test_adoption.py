"""Adopting the course: course.yml always takes effect, the TOC decides the chapters, outcome tags
feed the coverage page, and the catalogues of a second language are checked for coverage.

The two fixture-book builds here are small Sphinx/Jupyter Book builds (a few seconds each)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from iome import chapters as ch
from iome import coverage as cov
from iome.i18n import catalogue_gaps, untranslated

BIN = Path(sys.executable).parent
PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---
# Settings page

```{code-cell} ipython3
from iome.settings import load_course
print("school is", load_course().school)
```
"""


def run(cmd, cwd, **env):
    full = {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ["PATH"], **env}
    full.pop("IOME_COURSE_FILE", None)
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, env=full)


def fixture_book(tmp: Path, school: str) -> Path:
    (tmp / "_vendor").symlink_to(ROOT / "_vendor")
    (tmp / "data").symlink_to(ROOT / "data")
    (tmp / "_config.yml").write_text("title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n"
                                     "sphinx:\n  extra_extensions: [iome.sphinxext]\n"
                                     "  config:\n    iome_editions: {en: '', es: 'es/'}\n")
    (tmp / "_toc.yml").write_text("format: jb-book\nroot: book/index\n")
    (tmp / "book").mkdir()
    (tmp / "book" / "index.md").write_text(PAGE)
    set_school(tmp, school)
    return tmp


def set_school(tmp: Path, school: str, home: str = "KEN"):
    (tmp / "course.yml").write_text(f"school: {school}\nhome: {home}\npeers: [GBR, ETH]\nlanguage: en\n")


def test_a_changed_course_yml_changes_the_next_build(tmp_path):
    book = fixture_book(tmp_path, "First School")
    html = book / "_build" / "html" / "book" / "index.html"
    first = run([BIN / "jupyter-book", "build", book], book)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "school is First School" in html.read_text()
    set_school(book, "Second School")
    second = run([BIN / "jupyter-book", "build", book], book)
    assert second.returncode == 0, second.stdout[-2000:]
    page = html.read_text()
    assert "school is Second School" in page and "First School" not in page
    assert "Edition of Second School." in page  # the school is named in the footer
    assert '<a href="../es/book/index.html" hreflang="es" lang="es">Español</a>' in page  # language switcher
    # a bad setting with a warm cache fails the build at once, in one line naming course.yml and the field
    set_school(book, "Third School", home="XXX")
    bad = run([BIN / "jupyter-book", "build", book], book)
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "course.yml: field 'home': XXX is not a country code" in out, out[-2000:]
    assert "Traceback" not in out


# ---- the TOC decides which chapters are in the book ---------------------------------------------

def test_dropping_a_chapter_from_the_toc_drops_it_everywhere(tmp_path):
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("exercises", "*.ipynb"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    dropped = None
    for part in toc["parts"]:
        for entry in list(part["chapters"]):
            if entry["file"].startswith("book/iome/") and dropped is None:
                dropped = entry["file"]
                part["chapters"].remove(entry)
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    names = {c.path.relative_to(tmp_path).with_suffix("").as_posix() for c in ch.load_chapters(tmp_path / "book")}
    assert dropped not in names and len(names) == len(ch.load_chapters(ROOT / "book")) - 1
    rows = cov.coverage(tmp_path, ROOT / "exercises")  # its exercise's tags do not break the coverage page
    assert dropped.split("/")[-1] not in {r.stem for r in rows}


# ---- outcome tags --------------------------------------------------------------------------------

def notebook(tmp: Path, tags, grade=True) -> Path:
    cell = {"cell_type": "code", "execution_count": None, "outputs": [], "source": "assert True",
            "metadata": {"nbgrader": {"grade": grade, "grade_id": "q1-tests", "locked": True, "points": 2,
                                      "schema_version": 3, "solution": False, "task": False},
                         "iome": {"outcomes": tags}}}
    path = tmp / "exercises" / "source" / "demo" / "demo.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return tmp / "exercises"


def test_outcome_tags_mark_outcomes_assessed(tmp_path):
    stem = ch.load_chapters(ROOT / "book")[3].path.stem
    rows = cov.coverage(ROOT, notebook(tmp_path, [f"{stem}#1"]))
    assessed = [r for r in rows if r.assessed_by]
    assert [(r.stem, r.number) for r in assessed] == [(stem, 1)]
    assert assessed[0].assessed_by[0].assignment == "demo" and assessed[0].assessed_by[0].points == 2
    declared, counted = zip(*cov.goal_totals(rows).values())
    assert sum(counted) == len(assessed[0].outcome.goals) and sum(declared) >= len(rows)
    assert len(cov.unassessed(rows)) == len(rows) - 1


@pytest.mark.parametrize("tags, grade, message", [
    (["no-such-chapter#1"], True, "no chapter file is named no-such-chapter.md"),
    (["what-is-iome#9"], True, "has fewer outcomes"),
    (["what-is-iome-1"], True, "must look like"),
    (["what-is-iome#1"], False, "does not grade"),
])
def test_a_tag_that_points_to_nothing_is_an_error(tmp_path, tags, grade, message):
    with pytest.raises(cov.CoverageError, match=message):
        cov.coverage(ROOT, notebook(tmp_path, tags, grade))


# ---- a second language: catalogues and their coverage check ------------------------------------

def test_catalogue_coverage_fails_on_an_untranslated_sentence(tmp_path):
    """Tiny Sphinx book: gettext builder -> .pot, sphinx-intl -> es .po; an English sentence left
    untranslated fails the coverage check; translated, the Spanish build passes with -W."""
    (tmp_path / "conf.py").write_text("language = 'en'\nlocale_dirs = ['locales']\ngettext_compact = False\n")
    (tmp_path / "index.rst").write_text("Title\n=====\n\nThe heart pumps blood.\n\nThe lungs exchange gases.\n")
    pot = tmp_path / "_build" / "gettext"
    assert run([BIN / "sphinx-build", "-q", "-b", "gettext", tmp_path, pot], tmp_path).returncode == 0
    made = run([BIN / "sphinx-intl", "update", "-p", pot, "-d", tmp_path / "locales", "-l", "es"], tmp_path)
    assert made.returncode == 0, made.stderr
    po = tmp_path / "locales" / "es" / "LC_MESSAGES" / "index.po"
    text = po.read_text().replace('msgid "Title"\nmsgstr ""', 'msgid "Title"\nmsgstr "Título"').replace(
        'msgid "The heart pumps blood."\nmsgstr ""', 'msgid "The heart pumps blood."\nmsgstr "El corazón bombea sangre."')
    po.write_text(text)
    assert untranslated(po) == ["The lungs exchange gases."]
    assert catalogue_gaps(tmp_path / "locales", "es") == {po: ["The lungs exchange gases."]}
    po.write_text(text.replace('msgid "The lungs exchange gases."\nmsgstr ""',
                               'msgid "The lungs exchange gases."\nmsgstr "Los pulmones intercambian gases."'))
    assert catalogue_gaps(tmp_path / "locales", "es") == {}
    built = run([BIN / "sphinx-build", "-q", "-W", "-b", "html", "-D", "language=es", tmp_path,
                 tmp_path / "_build" / "html"], tmp_path)
    assert built.returncode == 0, built.stderr
    assert "Los pulmones intercambian gases." in (tmp_path / "_build" / "html" / "index.html").read_text()


def test_the_package_catalogues_are_complete_and_spanish_names_come_from_the_data(tmp_path, monkeypatch):
    from iome import charts, data, i18n
    # every string the package writes today (a fresh template) is translated in the Spanish catalogue
    i18n.extract(tmp_path / "pot" / "iome.pot")
    assert i18n.catalogue_gaps(i18n.LOCALES, "es", templates=tmp_path / "pot") == {}
    path = tmp_path / "course.yml"
    path.write_text("school: Escuela\nhome: SSD\npeers: [KEN, ETH, TUV, ERI, GBR, USA]\nlanguage: es\n")
    monkeypatch.setenv("IOME_COURSE_FILE", str(path))
    names = i18n.country_names()
    assert names["SSD"] == "Sudán del Sur" and names["NRU"] == "Nauru"
    assert data.latest("physicians_per_1000").set_index("iso3").loc["DEU", "name"] == "Alemania"
    spec = charts.indicator_chart("physicians_per_1000").to_dict()
    assert spec["title"]["text"] == "Médicos (por cada 1,000 habitantes)"
    assert spec["title"]["subtitle"][0].startswith("Fuente:") and "Gráfico de barras" in spec["description"]
    assert any(r["label"] == "Sudán del Sur (país propio)" for r in next(iter(spec["datasets"].values())))


# ---- iome check: the instructor's solutions, graded by real nbgrader for the home country ---------

def _cell(kind, source, gid, **meta):
    import nbformat
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source)
    cell.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "locked": False, "solution": False,
                                 "grade": False, "task": False, **meta}
    return cell


def test_iome_check_reports_lost_points_and_missing_home_data(tmp_path, monkeypatch):
    """A question that needs the home country's physician count: full marks for Kenya; for Somalia
    (no value in the data) the solution fails, and the report says so and why."""
    import nbformat

    from conftest import course_file
    from iome import homecheck
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(ROOT / "exercises" / "nbgrader_config.py", course / "nbgrader_config.py")
    folder = course / "source" / "mini"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[
        _cell("code", "from iome import data\nfrom iome.settings import load_course\nhome = load_course().home",
              "setup", locked=True),
        _cell("code", "### BEGIN SOLUTION\nphys = data.latest(\"physicians_per_1000\")\n"
                      "value = float(phys.loc[phys[\"iso3\"] == home, \"value\"].iloc[0])\n### END SOLUTION",
              "q1-answer", solution=True),
        _cell("code", "assert value > 0", "q1-tests", grade=True, locked=True, points=2),
        _cell("markdown", "### BEGIN SOLUTION\nRubric.\n### END SOLUTION", "q2-answer", grade=True, solution=True,
              points=3),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "mini.ipynb")
    monkeypatch.setenv("IOME_COURSE_FILE", str(course_file(tmp_path, "SOM", ["KEN", "GBR"])))
    lost = homecheck.run_check(["mini"], course=course, use_cache=False, workers=1)
    assert [(q.cell, q.kind, q.points, q.score) for q in lost] == [("q1-tests", "auto", 2, 0), ("q2-answer", "manual", 3, None)]
    assert lost[0].home_data == {"physicians_per_1000": None} and lost[0].error.startswith("IndexError")
    text = "\n".join(homecheck.report_lines(lost))
    assert "LOST mini: solutions score 0/2 auto points for SOM (+3 written" in text
    assert "physicians_per_1000 NO DATA" in text
    monkeypatch.setenv("IOME_COURSE_FILE", str(course_file(tmp_path, "KEN", ["ETH", "GBR"])))
    ok = homecheck.run_check(["mini"], course=course, use_cache=False, workers=1)
    assert ok[0].score == 2 and ok[0].full_marks and ok[0].home_data["physicians_per_1000"] >= 2015
    assert homecheck.report_lines(ok, verbose=False)[0].startswith("ok   mini: solutions score 2/2")
    # cached per assignment (settings, data and the assignment's own notebooks): no second grading run
    monkeypatch.setattr(homecheck, "check_assignment", lambda *a: pytest.fail("cache not used"))
    assert homecheck.run_check(["mini"], course=course) == ok


def test_warnings_keep_the_chapter_file_line_numbers(tmp_path):
    """The banner is added after parsing, so a warning points at the line of the source file."""
    from test_chapters import GOOD
    (tmp_path / "_vendor").symlink_to(ROOT / "_vendor")
    (tmp_path / "_config.yml").write_text("title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
                                          "sphinx:\n  extra_extensions: [iome.sphinxext]\n"
                                          "  config:\n    iome_require_assessed_outcomes: true\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/iome/chapter\n")
    (tmp_path / "book" / "iome").mkdir(parents=True)
    (tmp_path / "book" / "index.md").write_text("# Index\n")
    text = GOOD + "\nMore text.\n\nSee {doc}`no-such-page`.\n"
    line = text.splitlines().index("See {doc}`no-such-page`.") + 1
    chapter = tmp_path / "book" / "iome" / "chapter.md"
    chapter.write_text(text)
    proc = run([BIN / "jupyter-book", "build", tmp_path], ROOT)
    out = proc.stdout + proc.stderr
    assert f"{chapter}:{line}" in out and "no-such-page" in out, out[-3000:]
    # iome_require_assessed_outcomes: an outcome no graded cell assesses is a warning (an error under -W)
    assert "outcome 2 of chapter ('Explain one limit of a national average." in out
    assert "is not assessed: tag a graded cell of an exercise with iome.outcomes [\"chapter#2\"]" in out
    page = (tmp_path / "_build" / "html" / "book" / "iome" / "chapter.html").read_text()
    assert "iome-area-iome" in page and "Compare out-of-pocket shares" in page


# ---- the Spanish student version: catalogue -> release -> autograde (real nbgrader) --------------

def test_a_spanish_release_reads_spanish_and_grades_in_spanish(tmp_path, monkeypatch):
    """An exercise's catalogue turns the student version Spanish (markdown and the tr() message of a
    visible test) while model answers and hidden tests stay out of it; autograde in the same edition
    gives the right answer full marks and shows a wrong one the Spanish message."""
    import nbformat
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    from iome import i18n
    from iome.grading import nbgrader, release
    repo = tmp_path / "repo"
    course = repo / "exercises"
    (course / "source" / "mini").mkdir(parents=True)
    (repo / "data").symlink_to(ROOT / "data")
    (repo / "course.yml").write_text("school: S\nhome: KEN\npeers: [GBR, ETH]\nlanguage: en\n")
    shutil.copy2(ROOT / "exercises" / "nbgrader_config.py", course / "nbgrader_config.py")
    nb = nbformat.v4.new_notebook(cells=[
        _cell("markdown", "# Mini exercise\n\nStore a **positive** number in `value`.", "intro", locked=True),
        _cell("code", "from iome.i18n import tr", "setup", locked=True),
        _cell("code", "### BEGIN SOLUTION\nvalue = 3\n### END SOLUTION", "q1-answer", solution=True),
        _cell("code", 'assert value > 0, tr("value must be positive")\n### BEGIN HIDDEN TESTS\n'
                      'assert value == 3, tr("secret check")\n### END HIDDEN TESTS',
              "q1-tests", grade=True, locked=True, points=2),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, course / "source" / "mini" / "mini.ipynb")
    # the template holds what students read: no model answer, no hidden test
    messages = i18n.notebook_messages(nb)
    assert messages == ["# Mini exercise", "Store a **positive** number in `value`.", "value must be positive"]
    catalog = Catalog(locale="es")
    for en, es in zip(messages, ["# Ejercicio breve", "Guarde un número **positivo** en `value`.",
                                 "value debe ser positivo"]):
        catalog.add(en, es)
    po = repo / "locales" / "es" / "LC_MESSAGES" / "exercises" / "mini.po"
    po.parent.mkdir(parents=True)
    with open(po, "wb") as fh:
        write_po(fh, catalog)
    monkeypatch.setenv("IOME_COURSE_FILE", str(repo / "course.yml"))
    monkeypatch.setenv("IOME_LANGUAGE", "es")
    student = nbformat.read(next((release("mini", course=course)).glob("*.ipynb")), as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "# Ejercicio breve" in text and "Guarde un número **positivo** en `value`." in text
    assert "tr('value debe ser positivo')" in text and "Mini exercise" not in text
    assert "value = 3" not in text and "secret check" not in text and "HIDDEN" not in text
    for who, answer in (("right", "value = 3"), ("wrong", "value = -1")):
        work = (course / "submitted" / who / "mini")
        work.mkdir(parents=True)
        mine = nbformat.from_dict(json.loads(nbformat.writes(student)))
        next(c for c in mine.cells if c.metadata["nbgrader"]["grade_id"] == "q1-answer").source = answer
        nbformat.write(mine, work / "mini.ipynb")
    nbgrader("db", "student", "add", "right", course=course)
    nbgrader("db", "student", "add", "wrong", course=course)
    nbgrader("autograde", "mini", "--force", course=course)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("mini", s).score for s in ("right", "wrong")}
    assert scores == {"right": 2, "wrong": 0}
    graded = nbformat.read(course / "autograded" / "wrong" / "mini" / "mini.ipynb", as_version=4)
    outputs = json.dumps([c.get("outputs", []) for c in graded.cells], ensure_ascii=False)
    assert "value debe ser positivo" in outputs and "value must be positive" not in outputs


def test_book_templates_hold_the_code_strings_of_each_page(tmp_path):
    """`iome i18n extract`: a chapter's tr() strings join its page template; the book's copies of the
    exercises are left out (they are the translated release); each exercise gets its own template."""
    from iome.i18n import _read_po, book_templates
    gettext = tmp_path / "_build" / "gettext"
    (gettext / "book" / "exercises").mkdir(parents=True)
    (gettext / "book" / "exercises" / "mini.pot").write_text('msgid "Copy"\nmsgstr ""\n')
    (gettext / "book" / "page.pot").write_text('msgid "Prose."\nmsgstr ""\n')
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.md").write_text(
        "# Page\n\nProse.\n\n```{code-cell} ipython3\ntitle = tr(\"Physicians per 1,000\")\n"
        "note = tr('{name} has {n} beds').format(name='A', n=1)\nkey = \"Low income\"\n```\n")
    (tmp_path / "exercises" / "source").mkdir(parents=True)
    pot = book_templates(tmp_path, gettext)
    assert [m.id for m in _read_po(pot / "book" / "page.pot") if m.id] == [
        "Prose.", "Physicians per 1,000", "{name} has {n} beds"]
    assert not (pot / "book" / "exercises").exists()

"""`iome autograde` gives the scores stock nbgrader gives, cell by cell.

* nbgrader's own documentation example course ``ps1`` (students hacker and bitdiddle), read from the
  pinned nbgrader package (see tests/fixtures/nbgrader-docs/README.md);
* a corpus of answer types (tests/corpus.py): functions, classes, generators, figures, numpy and
  pandas oddities, big objects, setup objects changed in place, partial credit, warnings; graded in
  the default mode and in the answers-as-data mode (where answers that cannot be carried over as
  data fall back to the default mode with the reason noted: never a silent zero).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import corpus
from parity import CONFIG, clone, make_course, scores
from iome import autograde, grading, sandbox

pytestmark = [pytest.mark.skipif(not sandbox.can_isolate(), reason="the hardened grader needs root for namespaces"),
              pytest.mark.xdist_group(name="parity")]


def _docs() -> Path:
    import nbgrader
    return Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide"


@pytest.fixture(scope="module")
def ps1(tmp_path_factory):
    docs = _docs()
    base = tmp_path_factory.mktemp("ps1")
    stock = make_course(base / "stock", "ps1", docs / "source" / "ps1",
                        {s: docs / "submitted" / s / "ps1" for s in ("hacker", "bitdiddle")})
    mine = clone(stock, base / "iome")
    grading.nbgrader("generate_assignment", "ps1", "--force", course=stock)
    grading.nbgrader("autograde", "ps1", "--force", course=stock)
    grading.nbgrader("generate_assignment", "ps1", "--force", course=mine)
    subs = autograde.autograde("ps1", course=mine, workers=2, slot_base=31_000)
    return {"stock": scores(stock, "ps1"), "iome": scores(mine, "ps1"), "subs": subs, "course": mine}


def test_ps1_scores_equal_stock_nbgrader_cell_by_cell(ps1):
    assert ps1["stock"], "stock nbgrader graded nothing"
    assert ps1["iome"] == ps1["stock"]


def test_ps1_totals_match_nbgraders_published_example(ps1):
    total = {}
    for (student, _, _), score in ps1["iome"].items():
        total[student] = total.get(student, 0) + (score or 0)
    assert total == {"hacker": 3.0, "bitdiddle": 1.5}
    assert {s.status for s in ps1["subs"]} == {"graded"}, [(s.student, s.problems) for s in ps1["subs"]]


def test_ps1_written_answers_and_tasks_await_a_grader(ps1):
    import sqlite3
    db = sqlite3.connect(ps1["course"] / "gradebook.db")
    pending = {r[0] for r in db.execute("select c.name from grade g join base_cell c on g.cell_id = c.id "
                                        "where g.needs_manual_grade")}
    db.close()
    assert {"sum_of_squares_equation", "part-a"} <= pending


@pytest.fixture(scope="module")
def types(tmp_path_factory):
    base = tmp_path_factory.mktemp("types")
    stock = base / "stock"
    (stock / "source" / "types").mkdir(parents=True)
    (stock / "nbgrader_config.py").write_text(CONFIG)
    nbformat.write(corpus.source(), stock / "source" / "types" / "types.ipynb")
    grading.nbgrader("generate_assignment", "types", "--force", course=stock)
    release = nbformat.read(stock / "release" / "types" / "types.ipynb", as_version=4)
    wrong = {gid for i, (gid, *_) in enumerate(corpus.ANSWERS) if i % 2}
    for student, nb in {"right": corpus.submission(release, written="Because."),
                        "wrong": corpus.submission(release, wrong)}.items():
        (stock / "submitted" / student / "types").mkdir(parents=True)
        nbformat.write(nb, stock / "submitted" / student / "types" / "types.ipynb")
    default = clone(stock, base / "default")
    data = clone(stock, base / "data")
    (data / "nbgrader_config.py").write_text(CONFIG + 'c.IomeGrader.answers_as_data = ["types"]\n')
    grading.nbgrader("autograde", "types", "--force", course=stock)
    out = {"stock": scores(stock, "types")}
    for course in (default, data):
        subs = autograde.autograde("types", course=course, workers=2, slot_base=31_000)
        out[course.name] = scores(course, "types")
        out[course.name + "-subs"] = {s.student: s for s in subs}
    return out


def test_corpus_right_answers_get_every_point_from_stock_nbgrader(types):
    right = {k[2]: v for k, v in types["stock"].items() if k[0] == "right" and k[2].endswith("-test")}
    assert right and all(v == (0.5 if k == "partial-test" else 1.0) for k, v in right.items()), right


def test_corpus_default_mode_equals_stock_cell_by_cell(types):
    assert types["default"] == types["stock"]


def test_corpus_answers_as_data_never_zeroes_what_it_cannot_carry(types):
    assert types["data"] == types["stock"]
    right = types["data-subs"]["right"]
    assert right.mode == "nbgrader" and any("graded with nbgrader semantics instead" in p for p in right.problems)
    assert any("acct" in p for p in right.problems), "the reason names the answer"


def _quirks_source(free_cell: bool) -> nbformat.NotebookNode:
    meta = corpus._meta
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("import math\nbase = 2", metadata=meta(grade_id="setup", locked=True)))
    if free_cell:
        nb.cells.append(nbformat.v4.new_code_cell("def helper(x):\n    return x * 3"))  # no nbgrader metadata
    nb.cells.append(nbformat.v4.new_code_cell("### BEGIN SOLUTION\ny = base * 5\n### END SOLUTION",
                                              metadata=meta(grade_id="a1", solution=True)))
    nb.cells.append(nbformat.v4.new_code_cell("assert y == 10", metadata=meta(grade_id="t1", grade=True, locked=True,
                                                                            points=1)))
    nb.cells.append(nbformat.v4.new_code_cell("assert (helper(y) if 'helper' in dir() else 30) == 30",
                                              metadata=meta(grade_id="t2", grade=True, locked=True, points=1)))
    return nb


@pytest.mark.parametrize("free_cell", [False, True], ids=["duplicated-answer", "cell-without-metadata"])
def test_quirks_equal_stock_in_both_modes(tmp_path, free_cell):
    """A duplicated answer cell (nbgrader keeps the last copy; earlier copies run as ordinary cells)
    and a code cell without nbgrader metadata (the student's copy runs; never re-run as setup)."""
    stock = tmp_path / "stock"
    (stock / "source" / "q").mkdir(parents=True)
    (stock / "nbgrader_config.py").write_text(CONFIG)
    nbformat.write(_quirks_source(free_cell), stock / "source" / "q" / "q.ipynb")
    grading.nbgrader("generate_assignment", "q", "--force", course=stock)
    nb = nbformat.read(stock / "release" / "q" / "q.ipynb", as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "a1")
    first = nbformat.from_dict(nb.cells[i])
    first.source = "y = 1"
    nb.cells[i].source = "y = base * 5"
    nb.cells.insert(i, first)  # the wrong copy first, the right one last
    (stock / "submitted" / "pat" / "q").mkdir(parents=True)
    nbformat.write(nb, stock / "submitted" / "pat" / "q" / "q.ipynb")
    default, data = clone(stock, tmp_path / "default"), clone(stock, tmp_path / "data")
    (data / "nbgrader_config.py").write_text(CONFIG + 'c.IomeGrader.answers_as_data = ["q"]\n')
    # stock nbgrader 0.9.6 rejects the whole notebook here (DeduplicateIds leaves the earlier copy
    # with empty metadata, which CheckCellMetadata reports as an old format); what DeduplicateIds
    # means is "the earlier copy is an ordinary cell": stock grades that notebook for comparison
    del nb.cells[i].metadata["nbgrader"]
    nbformat.write(nb, stock / "submitted" / "pat" / "q" / "q.ipynb")
    grading.nbgrader("autograde", "q", "--force", course=stock)
    want = scores(stock, "q")
    assert sum(v or 0 for v in want.values()) == 2.0, want
    for course in (default, data):
        (sub,) = autograde.autograde("q", course=course, workers=1, slot_base=31_010)
        assert scores(course, "q") == want, (course.name, sub.problems)
        assert sub.mode == ("nbgrader" if free_cell or course is default else "answers-as-data"), sub.problems

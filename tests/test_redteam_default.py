"""Red team, default mode: hostile submissions graded with nbgrader semantics (student code and
tests in one kernel, as stock nbgrader runs them) inside the hardened sandbox.

What the default mode promises: scores as stock nbgrader would give them, except that builtins,
IPython's input/AST transformers, event and display hooks are put back before every test cell; and
everything else a submission tries (hooks, trace functions, forks, sockets, denied paths, folder
listings, limits hit, processes left behind) is flagged for the instructor ("Submissions to look
at"). Nothing leaves the sandbox; nothing survives it; the gradebook stays consistent.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest

from conftest import copy_course
from iome import autograde, grading, sandbox
from redteam.cases import FULL, _cell, _extra_after, _solution, cases
from test_redteam import ASSIGNMENT, LIMITS, Listener

SLOT_BASE = 30_100
pytestmark = [pytest.mark.skipif(not sandbox.can_isolate(), reason="the hardened grader needs root for namespaces"),
              pytest.mark.xdist_group(name="redteam-default")]

# student -> (status, score or None, flag expected in the problems or "")
EXPECT = {
    "honest-a": ("graded", FULL, ""),
    "untouched": ("graded", 0.0, ""),
    "edit-test": ("graded", FULL - 2, ""),
    "delete-tests": ("graded", 0.0, ""),
    "patch-assert": ("graded-with-problems", 0.0, "put back before the tests"),
    "traceback-hook": ("graded-with-problems", 0.0, "put back before the tests"),
    "input-transformer": ("graded-with-problems", None, "put back before the tests"),
    "snoop": ("graded-with-problems", FULL, "listed folders outside"),
    "memory-snoop": ("graded", FULL, ""),
    "os-exit": ("graded-with-problems", 4.0, "kernel stopped"),
    "infinite-loop": ("graded-with-problems", None, "time limit"),
    "memory-bomb": ("graded-with-problems", FULL, "memory limit"),
    "fork-bomb": ("graded-with-problems", None, "forked a process"),
    "disk-fill": ("graded-with-problems", FULL, "disk limit"),
    "background": ("graded-with-problems", FULL, "started a process"),
    "network": ("graded-with-problems", FULL, "used the network"),
    "trace": ("graded-with-problems", FULL, "trace or profile"),
    "audit-hook": ("graded-with-problems", FULL, "audit hook"),
    "fs-search": ("graded-with-problems", FULL, "listed folders outside"),
    "honest-z": ("graded", FULL, ""),
}


def _more(source):
    out = []
    nb = _solution(source)
    _extra_after(nb, "setup", "import sys\nsys.settrace(lambda *a: None)\n")
    out.append(("trace", nb))
    nb = _solution(source)
    _extra_after(nb, "setup", "import sys\nsys.addaudithook(lambda *a: None)\n")
    out.append(("audit-hook", nb))
    nb = _solution(source)
    _extra_after(nb, "setup", "import os\nprint(os.listdir('/'), [d for d, _, _ in os.walk('/etc')][:3])\n")
    out.append(("fs-search", nb))
    return out


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("redteam-default") / "course")
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.IomeGrader.answers_as_data = []\n")  # the default mode
    grading.release(ASSIGNMENT, course=course)
    (src,) = sorted((course / "source" / ASSIGNMENT).glob("*.ipynb"))
    source = nbformat.read(src, as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / src.name, as_version=4)
    listener = Listener()
    batch = {c.student: c.files for c in cases(source, release, src.stem, listener.port) if c.student in EXPECT}
    batch.update({name: {src.name: nbformat.writes(nb).encode()} for name, nb in _more(source)})
    for student, files in batch.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    try:
        subs = autograde.autograde(ASSIGNMENT, course=course, workers=2, limits=LIMITS, slot_base=SLOT_BASE)
    finally:
        listener.close()
    return {"course": course, "subs": {s.student: s for s in subs}, "listener": listener, "source": src}


@pytest.mark.parametrize("student", sorted(EXPECT))
def test_outcome_and_flags(cohort, student):
    status, score, flag = EXPECT[student]
    sub = cohort["subs"][student]
    assert sub.mode == "nbgrader"
    assert sub.status == status, f"{student}: {sub.status}, {sub.problems}"
    if score is not None:
        assert sub.score == pytest.approx(score), f"{student}: {sub.score}; {sub.problems}"
    if flag:
        assert any(flag in p for p in sub.problems), f"{student}: {sub.problems}"


def test_listed_in_the_class_report(cohort):
    from iome.report import class_report
    path = class_report(cohort["course"], ASSIGNMENT, cohort["course"] / "report.html")
    html = path.read_text()
    section = html[html.index("Submissions to look at"):]
    for student, (status, _, _) in EXPECT.items():
        assert (f"<td>{student}</td>" in section) == (status != "graded"), student


def test_no_network_nothing_survives_gradebook_consistent(cohort):
    assert cohort["listener"].hits == []
    for slot in range(SLOT_BASE, SLOT_BASE + 2):
        assert sandbox.wait_gone(slot, 30.0) == [], f"processes of sandbox slot {slot} still running"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            assert b"sleep\x00600" not in cmd and b"time.sleep(600)" not in cmd, cmd
    db = sqlite3.connect(cohort["course"] / "gradebook.db")
    try:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute("select count(*) from grade where manual_score is not null").fetchone()[0] == 0
    finally:
        db.close()


def test_snoop_found_nothing(cohort):
    nb = nbformat.read(cohort["course"] / "autograded" / "snoop" / ASSIGNMENT / cohort["source"].name, 4)
    out = str([c.get("outputs") for c in nb.cells])
    assert "SNOOP 0" in out, out[:2000]
    _cell  # (imported for symmetry with the answers-as-data suite)

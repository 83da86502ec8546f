"""Red team: hostile and broken submissions graded in one batch with honest ones.

One cohort (tests/redteam/cases.py) goes through `iome.autograde` on a scratch copy of the course
with small limits. Expected: honest work graded right, cheating gains nothing, broken files are
ungradable with a reason, every other student is still graded, the gradebook stays consistent,
nothing the submissions started survives, and feedback never shows hidden tests.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from pathlib import Path

import nbformat
import pytest

from conftest import copy_course
from iome import autograde, grading, sandbox
from iome.feedback import hidden_lines
from redteam.cases import cases

ASSIGNMENT = "health-economics"
LIMITS = sandbox.Limits(wall_seconds=12, memory_mb=400, file_mb=16, disk_mb=48, processes=48)

SLOT_BASE = 30_000  # sandbox uids of this batch: sandbox.UID_BASE + SLOT_BASE + worker

pytestmark = [pytest.mark.skipif(not sandbox.can_isolate(),
                                 reason="the hardened grader needs root for namespaces (CI runs as root)"),
              pytest.mark.xdist_group(name="redteam")]  # one cohort, one pytest-xdist worker


class Listener:
    """A loopback TCP server: any connection from a submission is recorded."""

    UNIX = Path("/run/iome-redteam.sock")

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.unix = socket.socket(socket.AF_UNIX)  # a host service's socket, open to every user
        self.UNIX.unlink(missing_ok=True)
        self.unix.bind(str(self.UNIX))
        self.UNIX.chmod(0o777)
        self.unix.listen(8)
        self.unix.settimeout(0.2)
        self.hits = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            for sock in (self.sock, self.unix):
                try:
                    conn, addr = sock.accept()
                    self.hits.append(addr or "unix")
                    conn.close()
                except OSError:
                    continue

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        self.unix.close()
        self.UNIX.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("redteam") / "course")
    grading.release(ASSIGNMENT, course=course)
    (src,) = sorted((course / "source" / ASSIGNMENT).glob("*.ipynb"))
    release = nbformat.read(course / "release" / ASSIGNMENT / src.name, as_version=4)
    listener = Listener()
    batch = cases(nbformat.read(src, as_version=4), release, src.stem, listener.port)
    for case in batch:
        folder = course / "submitted" / case.student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, data in case.files.items():
            (folder / name).write_bytes(data)
    try:
        subs = autograde.autograde(ASSIGNMENT, course=course, workers=2, limits=LIMITS, slot_base=SLOT_BASE)
    finally:
        listener.close()
    yield {"course": course, "cases": {c.student: c for c in batch}, "subs": {s.student: s for s in subs},
           "listener": listener, "source": src}


CASE_NAMES = ["honest-a", "untouched", "edit-test", "delete-tests", "duplicate-test", "retype-test",
              "patch-assert", "traceback-hook", "input-transformer", "always-equal", "snoop", "memory-snoop", "sys-exit",
              "os-exit", "segfault", "infinite-loop", "memory-bomb", "fork-bomb", "disk-fill", "big-print",
              "background", "network", "bad-json", "empty-file", "wrong-nbformat", "wrong-name", "extra-files", "no-metadata",
              "honest-z"]


def test_case_list_is_complete(cohort):
    assert sorted(cohort["cases"]) == sorted(CASE_NAMES)


@pytest.mark.parametrize("student", CASE_NAMES)
def test_outcome(cohort, student):
    case, sub = cohort["cases"][student], cohort["subs"][student]
    assert sub.status == case.status, f"{student} ({case.why}): {sub.status}, problems {sub.problems}"
    if case.score is not None:
        assert sub.score == pytest.approx(case.score), f"{student} ({case.why}): {sub.score}; {sub.problems}"
    if case.problem:
        assert any(case.problem in p for p in sub.problems), f"{student}: {sub.problems}"
    if sub.status != "graded":
        assert sub.problems, f"{student}: status {sub.status} without a reason"


def test_gradebook_is_consistent(cohort):
    course = cohort["course"]
    db = sqlite3.connect(course / "gradebook.db")
    try:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute("select count(*) from grade where manual_score is not null").fetchone()[0] == 0, \
            "a submission wrote a manual score"
        over = db.execute("select count(*) from grade g join grade_cells c on g.cell_id = c.id "
                          "where g.auto_score > c.max_score").fetchone()[0]
        assert over == 0
        students = {r[0] for r in db.execute(
            "select s.id from submitted_assignment sa join student s on sa.student_id = s.id")}
        assert students == set(CASE_NAMES), "every student, broken or not, has exactly one submission"
        flagged = {r[0] for r in db.execute(
            "select st.id from submitted_notebook sn join submitted_assignment sa on sn.assignment_id = sa.id "
            "join student st on sa.student_id = st.id where sn.flagged")}
    finally:
        db.close()
    assert flagged == {s for s, sub in cohort["subs"].items() if sub.status != "graded"}


def test_nothing_survives_the_batch(cohort):
    # the fork servers reap each sandbox before reporting it; under load the last exits may still be
    # on their way when autograde returns, so wait (with a deadline), then assert
    for slot in range(SLOT_BASE, SLOT_BASE + 2):
        assert sandbox.wait_gone(slot, 30.0) == [], f"processes of sandbox slot {slot} still running"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            assert b"sleep 600" not in cmd and b"time.sleep(600)" not in cmd, cmd


def test_no_network(cohort):
    assert cohort["listener"].hits == [], "a submission reached a loopback service of the grading machine"
    out = _outputs(cohort, "network")
    assert "connected" not in out and "Network is unreachable" in out
    assert "/run/iome-redteam.sock: [Errno 2]" in out, "host Unix sockets are hidden too"


def _outputs(cohort, student) -> str:
    nb = cohort["course"] / "autograded" / student / ASSIGNMENT / cohort["source"].name
    return json.dumps([c.get("outputs", []) for c in nbformat.read(nb, as_version=4).cells])


def test_snooping_finds_nothing(cohort):
    out = _outputs(cohort, "snoop")
    assert "SNOOP 0" in out, out[:2000]
    secret = hidden_lines(cohort["source"].read_text())
    assert secret and not any(line in out for line in secret)


def test_memory_holds_no_secrets(cohort):
    out = _outputs(cohort, "memory-snoop")
    assert "MEMSNOOP 0" in out, out[:3000]


def test_big_print_is_capped(cohort):
    nb = cohort["course"] / "autograded" / "big-print" / ASSIGNMENT / cohort["source"].name
    assert nb.stat().st_size < 2_000_000


def _solution_lines(path: Path) -> list[str]:
    """Non-trivial lines inside the source notebook's solution regions (code and rubrics)."""
    lines = []
    for cell in nbformat.read(path, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) >= 12:
                lines.append(line.strip())
    return lines


def test_feedback_shows_failures_but_no_hidden_tests(cohort):
    course = cohort["course"]
    grading.nbgrader("generate_feedback", ASSIGNMENT, "--force", course=course)
    secret = hidden_lines(cohort["source"].read_text())
    pages = sorted((course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) == len(CASE_NAMES)
    for page in pages:
        html = page.read_text()
        leaked = [line for line in secret if line in html or line.replace('"', "&quot;") in html]
        assert not leaked, f"{page}: hidden test source in feedback: {leaked[:2]}"
        assert "BEGIN HIDDEN TESTS" not in html
    solution = _solution_lines(cohort["source"])
    for student in ["untouched", "delete-tests", "bad-json", "empty-file", "wrong-nbformat", "patch-assert"]:
        html = (course / "feedback" / student / ASSIGNMENT / pages[0].name).read_text()
        shown = [line for line in solution if line in html or line.replace('"', "&quot;") in html]
        assert not shown, f"{student}: feedback shows the instructor's solution: {shown[:2]}"
    wrong = (course / "feedback" / "edit-test" / ASSIGNMENT / pages[0].name).read_text()
    assert "A hidden test failed. AssertionError: the median for Low is not right" in wrong, \
        "a failing hidden test says which test failed and why (its message), through iome.feedback"
    untouched = (course / "feedback" / "untouched" / ASSIGNMENT / pages[0].name).read_text()
    assert "Visible test failed (line 1): assert isinstance(medians, pd.Series)" in untouched
    assert not list((course / "feedback").glob("*/*/*.json")), "grading reports stay with the instructor"

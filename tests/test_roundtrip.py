"""Every assignment through the real nbgrader pipeline, for two different home countries.

For each assignment: generate the release; autograde a cohort of (a) the solution notebook,
(b) the untouched release and (c) one targeted wrong answer per auto-graded question
(tests/wrong_answers/<assignment>.yml); then generate feedback and export the grades CSV.
Expected: full auto-graded marks, zero without a crash, exactly the targeted points lost.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from nbgrader.api import Gradebook

from conftest import ROOT, copy_course, course_file
from iome import checks, grading

ASSIGNMENTS = grading.assignments(ROOT / "exercises")
HOMES = {"USA": ["GBR", "DEU", "JPN", "BRA", "IND", "NGA", "KEN", "ETH"],
         "KEN": ["UGA", "TZA", "ETH", "NGA", "IND", "ZAF", "GBR", "USA"]}


def wrong_answers(assignment: str) -> list[dict]:
    path = ROOT / "tests" / "wrong_answers" / f"{assignment}.yml"
    return yaml.safe_load(path.read_text()) if path.exists() else []


def source_notebook(course: Path, assignment: str) -> Path:
    (nb,) = sorted((course / "source" / assignment).glob("*.ipynb"))
    return nb


def submit(course: Path, assignment: str, student: str, nb: nbformat.NotebookNode, name: str) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


@pytest.fixture(scope="module", params=[(a, h) for a in ASSIGNMENTS for h in HOMES],
                ids=[f"{a}-{h}" for a in ASSIGNMENTS for h in HOMES])
def graded(request, tmp_path_factory):
    """Run the whole pipeline once per (assignment, home country); tests then inspect the results."""
    assignment, home = request.param
    tmp = tmp_path_factory.mktemp(f"{assignment}-{home}")
    course = copy_course(tmp / "course")
    env = {"IOME_COURSE_FILE": str(course_file(tmp, home, HOMES[home]))}
    old = os.environ.get("IOME_COURSE_FILE")
    os.environ.update(env)
    try:
        grading.release(assignment, course=course)
        src = source_notebook(course, assignment)
        name = src.name
        submit(course, assignment, "solution", nbformat.read(src, as_version=4), name)
        submit(course, assignment, "untouched",
               nbformat.read(course / "release" / assignment / name, as_version=4), name)
        cases = wrong_answers(assignment)
        for i, case in enumerate(cases):
            nb = nbformat.read(src, as_version=4)
            cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == case["answer"]]
            assert cells, f"{assignment}: no cell with grade_id {case['answer']} (tests/wrong_answers)"
            cells[0].source = case["code"]
            submit(course, assignment, f"wrong-{i}", nb, name)
        try:
            grading.nbgrader("autograde", assignment, "--force", course=course, env=env)
        except grading.GradingError as exc:
            # two workers start kernels at once; jupyter_client's TCP port pick can race, and
            # nbgrader then drops that one student: grade the missing ones again, once
            if "Kernel died before replying" not in str(exc):
                raise
            grading.nbgrader("autograde", assignment, course=course, env=env)
        grading.nbgrader("generate_feedback", assignment, "--force", course=course, env=env)
        grading.nbgrader("export", "--to", str(course / "grades.csv"), course=course, env=env)
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            scores = {}
            for student in ["solution", "untouched", *[f"wrong-{i}" for i in range(len(cases))]]:
                sub = gb.find_submission_notebook(src.stem, assignment, student)
                scores[student] = {g.name: (g.auto_score, g.max_score, g.needs_manual_grade) for g in sub.grades}
        yield {"assignment": assignment, "home": home, "course": course, "scores": scores, "cases": cases,
               "name": name}
    finally:
        if old is None:
            os.environ.pop("IOME_COURSE_FILE", None)
        else:
            os.environ["IOME_COURSE_FILE"] = old


def auto_cells(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if not v[2]}


def test_solution_earns_full_auto_marks(graded):
    cells = auto_cells(graded["scores"]["solution"])
    assert cells, "the assignment has no auto-graded cells"
    lost = {k: v for k, v in cells.items() if v[0] != v[1]}
    assert not lost, f"{graded['assignment']} ({graded['home']}): solution lost points in {lost}"


def test_manual_answers_wait_for_a_grader(graded):
    manual = [k for k, v in graded["scores"]["solution"].items() if v[2]]
    assert manual, "each assignment has at least one manually graded written answer"


def test_untouched_release_scores_zero(graded):
    cells = auto_cells(graded["scores"]["untouched"])
    assert sum(v[0] or 0 for v in cells.values()) == 0


def test_each_wrong_answer_loses_exactly_its_points(graded):
    assert graded["cases"], f"tests/wrong_answers/{graded['assignment']}.yml lists no targeted wrong answers"
    full = auto_cells(graded["scores"]["solution"])
    for i, case in enumerate(graded["cases"]):
        got = auto_cells(graded["scores"][f"wrong-{i}"])
        lost = sorted(k for k in got if got[k][0] != full[k][1])
        assert lost == sorted(case["loses"]), f"wrong answer {case['answer']} ({case['why']}): lost {lost}"
        assert all((got[k][0] or 0) == 0 for k in case["loses"])


def test_feedback_and_grades_csv_are_written(graded):
    course, assignment = graded["course"], graded["assignment"]
    for student in graded["scores"]:
        html = course / "feedback" / student / assignment / graded["name"].replace(".ipynb", ".html")
        assert html.is_file(), f"no feedback for {student}"
    rows = list(csv.DictReader((course / "grades.csv").open()))
    by_student = {r["student_id"]: r for r in rows if r["assignment"] == assignment}
    solution_auto = sum(v[1] for v in auto_cells(graded["scores"]["solution"]).values())
    assert float(by_student["solution"]["score"]) == pytest.approx(solution_auto)
    assert float(by_student["untouched"]["score"]) == 0


def test_release_and_feedback_leak_no_answers(graded):
    """The release holds no solution or hidden-test line; the untouched release's feedback shows no
    solution; and no student's feedback shows a hidden-test line they did not write themselves
    (wrong answers fail hidden tests, so tracebacks would quote them)."""
    course, assignment = graded["course"], graded["assignment"]
    src = source_notebook(course, assignment)
    everything = checks.secrets(src)
    hidden = checks.secrets(src, kinds=("HIDDEN TESTS",))
    assert everything and hidden, "the scan needs the assignment's solution and hidden-test lines"
    release = [f for f in (course / "release" / assignment).rglob("*") if f.is_file()]
    feedback = sorted((course / "feedback").rglob("*.html"))
    untouched = [f for f in feedback if "/untouched/" in f.as_posix()]
    assert release and untouched and len(feedback) == len(graded["scores"])
    assert checks.find_leaks(release + untouched, everything) == []
    for page in feedback:
        student = page.relative_to(course / "feedback").parts[0]
        own = checks.visible_text(course / "submitted" / student / assignment / graded["name"])
        theirs = {h for h in hidden if checks.normalise(h) not in own}
        assert checks.find_leaks([page], theirs, markers=("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")) == []

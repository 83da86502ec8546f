"""Recording results (main process only: the gradebook's single writer): scores and manual-grading
state in ``gradebook.db``, the autograded notebook nbgrader's feedback reads, and the per-student
reports the instructor reads (kept outside ``autograded/``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from .plan import HIDDEN_BEGIN, HIDDEN_END, NO_ANSWER, Plan, _nbg, cell_kind

if TYPE_CHECKING:
    from ..autograde import Submission


def _defuse(source: str) -> str:
    """Student text must not carry nbgrader's hidden-test markers into the graded notebook
    (nbgrader's feedback step refuses a hidden-test region outside a test cell)."""
    return source.replace(HIDDEN_BEGIN, "BEGIN HIDDEN-TESTS (student text)").replace(
        HIDDEN_END, "END HIDDEN-TESTS (student text)")


def _autograded_notebook(p: Plan, student_nb, run_cells: list, answers_cells: dict, result: dict):
    """The autograded notebook nbgrader's feedback/formgrader read: source skeleton + the student's
    answers and outputs + test cells (from source) with the outputs of the test run."""
    nb = nbformat.v4.new_notebook(metadata=p.source.metadata)
    outputs_by_id = {}
    for i, cell in enumerate(run_cells):
        if cell["kind"] == "answer":
            outputs_by_id[cell["id"]] = result.get("cells", {}).get(str(i), {}).get("outputs", [])
    tests = result.get("tests", {})
    extras: dict = {}
    anchor = None
    for i, cell in enumerate(run_cells):
        if cell["kind"] == "extra":
            outs = result.get("cells", {}).get(str(i), {}).get("outputs", [])
            extras.setdefault(anchor, []).append((cell["source"], outs))
        else:
            anchor = cell["id"]

    def added(after):
        for source, outs in extras.get(after, []):
            new = nbformat.v4.new_code_cell(_defuse(source))
            new.outputs = [nbformat.from_dict(o) for o in outs]
            nb.cells.append(new)

    added(None)
    for src in p.source.cells:
        cell = nbformat.from_dict(json.loads(json.dumps(src)))
        gid, kind = _nbg(src).get("grade_id"), cell_kind(src)
        if kind == "free":
            continue  # the student's own copy (run as a cell they kept) is shown where it was
        if kind in ("answer", "manual", "task"):  # never the solution: the student's text or the stub
            if gid in answers_cells:
                cell.source = _defuse(answers_cells[gid].get("source", ""))
            else:
                cell.source = p.stubs.get(gid, NO_ANSWER.get(cell.cell_type, ""))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if kind == "answer":
                cell.outputs = [nbformat.from_dict(o) for o in outputs_by_id.get(gid, [])]
            elif kind == "test" and gid in tests:
                cell.outputs = [nbformat.from_dict(o) for o in tests[gid]["outputs"]]
        nb.cells.append(cell)
        if gid and kind in ("locked", "answer"):
            added(gid)
    return nb


def _record(gb, p: Plan, sub: Submission, result: dict | None, answers_cells: dict, timestamp):
    """Write one submission's scores in one transaction (single writer: the main process)."""
    from nbgrader.utils import compute_checksum
    gb.update_or_create_student(sub.student)
    gb.update_or_create_submission(p.assignment, sub.student, **({"timestamp": timestamp} if timestamp else {}))
    nb_sub = gb.find_submission_notebook(p.notebook, p.assignment, sub.student)
    tests = (result or {}).get("tests", {})
    grader_error = bool((result or {}).get("grader_error"))
    released = {c.name: c.checksum for c in gb.find_notebook(p.notebook, p.assignment).source_cells}
    total = 0.0
    for grade in nb_sub.grades:
        if grade.name in p.tests:
            if result is None or grade.name not in tests:
                auto = 0.0
            else:
                auto = float(tests[grade.name]["score"])
            grade.auto_score = auto
            grade.needs_manual_grade = grade.manual_score is not None or grader_error
        else:  # a written answer: zero if untouched, otherwise a grader decides
            cell = answers_cells.get(grade.name)
            blank = cell is None or released.get(grade.name) == _checksum(cell, p, grade.name, compute_checksum)
            grade.auto_score = 0.0 if blank else None
            grade.needs_manual_grade = not blank
        total += grade.auto_score or 0
    for comment in nb_sub.comments:
        cell = answers_cells.get(comment.name)
        blank = cell is None or released.get(comment.name) == _checksum(cell, p, comment.name, compute_checksum)
        comment.auto_comment = "No response." if blank else None
    nb_sub.flagged = sub.status != "graded"
    gb.db.commit()
    return total


def _checksum(student_cell, p: Plan, gid: str, compute_checksum):
    """nbgrader's checksum of the student's cell, using the source's metadata (not the student's)."""
    src = next(c for c in p.source.cells if _nbg(c).get("grade_id") == gid)
    cell = nbformat.from_dict(json.loads(json.dumps(src)))
    cell.source = student_cell.get("source", "")
    if cell.cell_type == "code":
        cell.outputs = []
    return compute_checksum(cell)


def _answer_sources(nb) -> dict:
    return {_nbg(c).get("grade_id"): c.get("source", "") for c in nb.cells
            if _nbg(c).get("solution") or _nbg(c).get("task")}


def _previous_answers(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return _answer_sources(nbformat.read(path, as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable old copy means: treat every answer as changed
        return None


def _review(gb, p: Plan, sub: Submission, assignment: str, new: dict, old: dict | None) -> float:
    """Manual grading after autograding (both modes): task cells always go to a grader; a manual
    grade given earlier is kept when its answer is unchanged, reopened when it changed.
    Returns the auto-graded total."""
    nb_sub = gb.find_submission_notebook(p.notebook, assignment, sub.student)
    total = 0.0
    for grade in nb_sub.grades:
        kind = _kind_of(p, grade.name)
        if kind == "task":
            grade.auto_score = None
            grade.needs_manual_grade = grade.manual_score is None
        elif kind != "test" and grade.manual_score is not None:
            if old is not None and old.get(grade.name) == new.get(grade.name):
                grade.needs_manual_grade = False
            else:
                grade.manual_score = None
                grade.needs_manual_grade = grade.auto_score is None
        total += grade.auto_score or 0
    nb_sub.flagged = sub.status != "graded"
    gb.db.commit()
    return total


def _kind_of(p: Plan, gid: str) -> str:
    for cell in p.source.cells:
        if _nbg(cell).get("grade_id") == gid:
            return cell_kind(cell)
    return ""


def _test_report(gb, p: Plan, sub: Submission, assignment: str) -> dict:
    try:
        nb_sub = gb.find_submission_notebook(p.notebook, assignment, sub.student)
    except Exception:  # noqa: BLE001
        return {}
    return {g.name: {"score": g.auto_score, "points": g.max_score} for g in nb_sub.grades if g.name in p.tests}


def results_dir(course: Path, assignment: str) -> Path:
    """Per-student grading reports (status, reasons, per-test scores): instructor-only, outside
    autograded/ (nbgrader copies every file there into the student's feedback)."""
    return course / "exports" / assignment / "results"


def _merge_result_file(path: Path, report: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    data[report["notebook"]] = report
    path.write_text(json.dumps(data, indent=1))


def results(course: Path, assignment: str) -> list[dict]:
    """The per-notebook grading reports written by :func:`autograde`."""
    out = []
    for f in sorted(results_dir(course, assignment).glob("*.json")):
        try:
            out.extend(json.loads(f.read_text()).values())
        except ValueError:
            continue
    return out

"""Hardened, parallel autograding of an nbgrader assignment: the batch (``iome autograde``).

Every submission is graded in sandboxes (:mod:`iome.sandbox`: namespaces, an allow-listed root,
an unprivileged uid, resource limits) forked from pre-warmed worker processes
(:mod:`iome.grader.pool`). Two modes share everything but the test run:

* **nbgrader semantics** (default, any assignment): nbgrader's own autograde preprocessors, with
  the student's cells and the tests in one kernel, in order (:mod:`iome.grader.nbrun`,
  :mod:`iome.grader.default`); scores equal stock nbgrader's. Builtins and IPython's hooks are put
  back before each test cell, and what the submission tried is flagged (:mod:`iome.grader.flags`).
* **answers-as-data** (opt-in per assignment, :mod:`iome.grader.modes`): answers leave the
  student's process as plain data and the source's tests run in a clean interpreter
  (:mod:`iome.grader.answers_run`); an answer that cannot be carried falls back to the default
  mode with the reason.

Workers never touch the gradebook: the main process writes each result (autograded notebook,
scores, manual-grading state, flags) into ``gradebook.db`` one submission at a time
(:mod:`iome.grader.record`), so the SQLite gradebook always has a single writer. A broken
submission is recorded with its reason; it never stops the batch.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from . import sandbox
from .grader.answers_run import partial_grade  # noqa: F401  (re-exported)
from .grader.plan import NO_ANSWER, Plan, _nbg, cell_kind, plan  # noqa: F401
from .grader.pool import grade_job, run_pool, worker_main  # noqa: F401
from .grader.record import (_answer_sources, _autograded_notebook, _merge_result_file, _previous_answers,  # noqa: F401
                            _record, _review, _test_report, results, results_dir)
from .grader.submission import Ungradable, merge, read_submission  # noqa: F401
from .grading import GradingError, course_dir, release
from .settings import repo_root


# ----------------------------------------------------------------------------------------------
# Main process: batch, gradebook, autograded notebooks
# ----------------------------------------------------------------------------------------------

@dataclass
class Submission:
    student: str
    notebook: str
    path: Path | None
    status: str = "pending"      # graded | graded-with-problems | ungradable | missing
    problems: list = field(default_factory=list)
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    mode: str = "nbgrader"


def submitted_students(course: Path, assignment: str) -> list[str]:
    root = course / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())


def _find_notebook(folder: Path, name: str, expected: set[str], notes: list) -> Path | None:
    path = folder / f"{name}.ipynb"
    if path.is_file():
        return path
    others = sorted(p for p in folder.glob("*.ipynb") if p.stem not in expected)
    if len(others) == 1 and len(expected) == 1:
        notes.append(f"expected {name}.ipynb, found {others[0].name}: graded it as {name}.ipynb")
        return others[0]
    if others:
        notes.append(f"expected {name}.ipynb; found {', '.join(p.name for p in others)} (not graded: "
                     "rename the right one)")
    return None


def _timestamp(folder: Path):
    ts = folder / "timestamp.txt"
    if ts.is_file():
        from nbgrader.utils import parse_utc
        try:
            return parse_utc(ts.read_text().strip())
        except Exception:  # noqa: BLE001 - a bad timestamp is ignored, as nbgrader does
            return None
    return None


def _hide_paths(course: Path) -> list[str]:
    paths = {str(course.resolve())}
    root = repo_root()
    # the sandbox sees the repository only for Python, src/ and data/: everything else is covered
    # (.git and exercises/ hold solutions; book/, _build/ and tests/ hold copies of notebooks)
    paths |= {str(root / name) for name in (".git", "exercises", "book", "_build", "tests", "scripts")}
    return sorted(paths)


def _keep_paths() -> list[str]:
    """The allow-list beyond system folders (see :func:`iome.sandbox.allowed_paths`): Python's
    standard library and executables, the venv, and of the course repository only the package
    (src/), data/ and course.yml. Never exercises/, .git, tests/, the build or anything else."""
    root = repo_root()
    base = Path(sys.base_prefix)
    paths = [str(base / "bin"), *(str(p) for p in sorted(base.glob("lib*")) if p.is_dir()), sys.prefix]
    import iome
    package = Path(iome.__file__).resolve().parent
    paths += [str(package), str(root / "data"), str(root / "course.yml")]
    return list(dict.fromkeys(os.path.realpath(p) for p in paths))


def autograde(assignment: str, course: Path | None = None, students: list[str] | None = None,
              workers: int = 2, limits: sandbox.Limits | None = None, progress=None,
              slot_base: int | None = None) -> list[Submission]:
    """Grade every submission of ASSIGNMENT (or the listed students) into the course's gradebook.

    The assignment's mode (:mod:`iome.grader.modes`) decides how: nbgrader semantics by default,
    answers-as-data where the course opts in (a submission whose answers cannot be carried over as
    data is then graded the default way, with the reason noted).

    ``progress(total)`` may return a callable advanced once per graded notebook. Worker i runs its
    sandboxes as uid ``sandbox.UID_BASE + slot_base + i``; by default slot_base is derived from
    this process id, so two batches running at once never share a uid (or its process limit).
    """
    if slot_base is None:
        slot_base = 64 * (os.getpid() % 400)
    from nbgrader.api import Gradebook, MissingEntry

    from .grader import default, modes, nbrun
    course = (course or course_dir()).resolve()
    limits = limits or sandbox.Limits()
    sources = sorted((course / "source" / assignment).glob("*.ipynb"))
    if not sources:
        raise GradingError(f"{course / 'source' / assignment}: no source notebook; check the assignment name "
                           f"(known: {', '.join(_names(course)) or 'none'})")
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(assignment)
            for src in sources:
                gb.find_notebook(src.stem, assignment)
        except MissingEntry:
            release(assignment, course=course)
    config = nbrun.course_config(course)
    mode = modes.mode(course, assignment, config)
    plans = [plan(src, assignment) for src in sources]
    mode_note = ""
    if mode == modes.ANSWERS and any(cell_kind(c) == "free" for p in plans for c in p.source.cells):
        mode = modes.DEFAULT  # student code in cells without nbgrader metadata cannot be carried as data
        mode_note = ("answers-as-data is set for this assignment, but its source has code cells without nbgrader "
                     "metadata: graded with nbgrader semantics")
    expected = {p.notebook for p in plans}
    course_file = _course_file()
    extra_files = {}
    for f in sorted((course / "source" / assignment).rglob("*")):
        if f.is_file() and f.suffix != ".ipynb" and f.stat().st_size < 5_000_000:
            extra_files[str(f.relative_to(course / "source" / assignment))] = f.read_bytes().hex()
    common = {"limits": limits.as_dict(), "course_file": str(course_file), "hide": _hide_paths(course),
              "keep": _keep_paths(), "files": extra_files, "allowed": _keep_paths()}

    subs, jobs, merged = [], [], {}
    for student in students if students is not None else submitted_students(course, assignment):
        folder = course / "submitted" / student / assignment
        notes = []
        paths = {p.notebook: _find_notebook(folder, p.notebook, expected, notes) if folder.is_dir() else None
                 for p in plans}
        if folder.is_dir():
            used = {path.name for path in paths.values() if path is not None}
            listed = ({f.name for f in folder.iterdir()} - used - {f"{n}.ipynb" for n in expected} - {"timestamp.txt"}
                      - {name.split("/")[0] for name in extra_files})  # the assignment's own files
            if listed:
                notes.append(f"extra files not graded: {', '.join(sorted(listed))}")
        for p in plans:
            path = paths[p.notebook]
            sub = Submission(student, p.notebook, path, problems=list(notes) + ([mode_note] if mode_note else []),
                             max_score=sum(p.tests.values()) + sum(p.manual.values()), mode=mode)
            subs.append(sub)
            merged[(student, p.notebook)] = {"plan": p, "nb": None, "run": [], "answers": {}}
            if path is None:
                sub.status = "missing"
                sub.problems.append(f"no {p.notebook}.ipynb submitted")
                continue
            try:
                nb = read_submission(path)
            except Ungradable as exc:
                sub.status = "ungradable"
                sub.problems.append(str(exc))
                continue
            m = merged[(student, p.notebook)]
            m["answers"] = {_nbg(c).get("grade_id"): c for c in nb.cells if _nbg(c).get("grade_id")}
            if mode == modes.DEFAULT:
                job = _default_job(default, nb, course, assignment, p, student, config, sub, m, common)
                if job:
                    jobs.append(job)
                continue
            run_cells, answer_cells, merge_notes = merge(p, nb)
            sub.problems.extend(merge_notes)
            m.update(nb=nb, run=run_cells, answers=answer_cells, raw=nb)
            test_cells = []
            for src in p.source.cells:
                kind, gid = cell_kind(src), _nbg(src).get("grade_id")
                if kind == "locked":
                    test_cells.append({"kind": "locked", "id": gid, "source": src.source})
                elif kind == "answer":
                    test_cells.append({"kind": "answer", "id": gid, "names": p.answer_names.get(gid, [])})
                elif kind == "test":
                    test_cells.append({"kind": "test", "id": gid, "source": src.source, "points": p.tests[gid]})
            jobs.append({"student": student, "notebook": p.notebook, "cells": run_cells, "names": p.all_names,
                         "test_cells": test_cells, **common})

    by_key = {(s.student, s.notebook): s for s in subs}
    advance = progress(len(subs)) if progress else (lambda: None)
    autograded = course / "autograded"

    gb = None

    def finish(sub: Submission, result: dict | None):
        m = merged[(sub.student, sub.notebook)]
        p = m["plan"]
        folder = autograded / sub.student / assignment
        sub_folder = course / "submitted" / sub.student / assignment
        timestamp = _timestamp(sub_folder)
        target = folder / f"{sub.notebook}.ipynb"
        old_answers = _previous_answers(target)
        if result is not None:
            sub.seconds += result.get("seconds", 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader's own add_submission emits SQLAlchemy SAWarnings
            try:
                if result is not None and result.get("mode") == "nbgrader" and m.get("trusted") is not None:
                    gb.update_or_create_student(sub.student)
                    gb.update_or_create_submission(assignment, sub.student,
                                                   **({"timestamp": timestamp} if timestamp else {}))
                    gb.db.commit()
                    sub.problems.extend(default.record(m["trusted"], m["resources"], config, result, limits))
                    gb.db.expire_all()
                    out = m["trusted"]
                    _not_run_to_grader(gb, out, assignment, sub)
                else:
                    if result is not None:
                        sub.problems.extend(result["problems"])
                    _record(gb, p, sub, result, m["answers"] if m["nb"] is not None else {}, timestamp)
                    if result is not None and m["nb"] is not None:
                        out = _autograded_notebook(p, m["nb"], m["run"], m["answers"], result)
                    else:  # nothing gradable: the release's cells, so feedback can still explain the zero
                        out = _autograded_notebook(p, None, [], {}, {})
                sub.status = _status(sub, result)
                sub.score = _review(gb, p, sub, assignment, _answer_sources(out), old_answers)
            except Exception:
                gb.db.rollback()  # this student's transaction only; earlier students stay committed
                raise
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(out, target)
        for name, data in extra_files.items():  # as nbgrader does: the source folder's other files
            dest = folder / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(bytes.fromhex(data))
        if (sub_folder / "timestamp.txt").is_file():
            shutil.copy2(sub_folder / "timestamp.txt", folder / "timestamp.txt")
        report = {"student": sub.student, "assignment": assignment, "notebook": sub.notebook,
                  "status": sub.status, "problems": sub.problems, "score": sub.score, "mode": sub.mode,
                  "max_score": sub.max_score, "seconds": round(sub.seconds, 3),
                  "isolation": (result or {}).get("isolation"),
                  "tests": _test_report(gb, p, sub, assignment),
                  "graded_at": datetime.now(timezone.utc).isoformat()}
        _merge_result_file(results_dir(course, assignment) / f"{sub.student}.json", report)
        advance()

    fallback = []
    with Gradebook(db_url) as gb:  # the only writer of the gradebook during the batch
        for sub in subs:
            if sub.status in ("missing", "ungradable"):
                finish(sub, None)
        for job, result, error in run_pool(jobs, workers, slot_base) if jobs else []:
            sub = by_key[(job["student"], job["notebook"])]
            m = merged[(sub.student, sub.notebook)]
            if error:
                sub.status = "grader-error"
                sub.problems.append(f"grader error: {error}"[:500])
            elif job.get("mode") != "nbgrader" and result is not None and _needs_fallback(result):
                # answers-as-data could not carry an answer: grade this submission the nbgrader way
                why = [x for x in result["problems"] if "could not be graded" in x or "grader error" in x]
                sub.problems.append("answers-as-data could not grade this submission ("
                                    + "; ".join(why)[:400] + "): graded with nbgrader semantics instead")
                sub.seconds += result.get("seconds", 0.0)
                fb = _default_job(default, m["raw"], course, assignment, m["plan"], sub.student, config, sub, m,
                                  common)
                if fb:
                    fallback.append(fb)
                    continue
            finish(sub, result)
        for job, result, error in run_pool(fallback, workers, slot_base) if fallback else []:
            sub = by_key[(job["student"], job["notebook"])]
            if error:
                sub.status = "grader-error"
                sub.problems.append(f"grader error: {error}"[:500])
            finish(sub, result)
    return subs


def _default_job(default, nb, course, assignment, p, student, config, sub, m, common):
    try:
        trusted, resources, part = default.prepare(nb, course, assignment, p.notebook, student, config)
    except Exception as exc:  # noqa: BLE001 - nbgrader refused the notebook's cells
        sub.status = "ungradable"
        sub.problems.append(f"nbgrader could not prepare the notebook: {type(exc).__name__}: {exc}"[:500])
        m["nb"] = None
        return None
    m.update(trusted=trusted, resources=resources, nb=trusted)
    sub.mode = "nbgrader"
    return {"student": student, "notebook": p.notebook, **part, **common}


def _not_run_to_grader(gb, nb, assignment: str, sub: Submission) -> None:
    """Tests that never ran (the kernel died, the time ran out) score 0 and go to a grader."""
    ids = {_nbg(c).get("grade_id") for c in nb.cells if c.cell_type == "code"
           and any(o.get("ename") == "NotRun" for o in c.get("outputs", []))}
    if not ids:
        return
    for grade in gb.find_submission_notebook(sub.notebook, assignment, sub.student).grades:
        if grade.name in ids:
            grade.needs_manual_grade = True
    gb.db.commit()


def _needs_fallback(result: dict) -> bool:
    return bool(result.get("grader_error")) or any("could not be graded" in x for x in result.get("problems", []))


# notes that do not put a submission on the "to look at" list (a fallback from answers-as-data does:
# the instructor chose the stricter mode for this assignment, and should see why it was not used)
BENIGN = ("cells you added", "appears more than once", "missing from the submission (the source copy",
          "extra files", "graded it as", "has code cells without nbgrader metadata",
          "did not start on the first try")


def _status(sub: Submission, result: dict | None) -> str:
    if sub.status in ("missing", "ungradable", "grader-error"):
        return sub.status
    if result is not None and result.get("grader_error"):
        return "grader-error"
    if any(not any(b in x for b in BENIGN) for x in sub.problems):
        return "graded-with-problems"
    return "graded"


def _names(course: Path) -> list[str]:
    src = course / "source"
    return sorted(p.name for p in src.iterdir() if p.is_dir()) if src.is_dir() else []


def _course_file() -> Path:
    from .settings import course_file
    return course_file()


if __name__ == "__main__":  # the former worker entry point
    worker_main(int(sys.argv[1]))
